"""Average pooling, forward and backward, 1-d to 3-d: the Python side of pyx/_avg.pyx.

Each public function is one plan look-up and one run (cypool._plan); `_avg_plan` validates the
arguments and prepares `_avg.AvgCall` (forward or backward) with the call's Window and divisor
rule.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import numpy as np

from . import _avg, _threads
from ._geometry import check_bool, check_divisor_override, int_tuple, pool_geometry
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, IntOrTuple, Padding, Shape, channel_block, check_grad,
                     check_input_shape, destination, flat_grad, flat_input, prepare,
                     prepare_grad, reads_as_given)


def _check_avg3d_input(spatial, rank, kernel_size):
    """PyTorch's avg_pool3d (only it) refuses inputs smaller than the kernel, padding or not."""
    if rank == 3:
        kernel = int_tuple(kernel_size, rank, "kernel_size")
        if any(L < k for L, k in zip(spatial, kernel)):
            raise ValueError(f"input spatial size {tuple(spatial)} is smaller than "
                             f"kernel_size={kernel_size!r} (avg_pool3d)")


def _avg_args(count_include_pad, divisor_override, geo):
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    divisor = check_divisor_override(divisor_override)
    # With "same"/"valid" padding, padded cells never enter an average (Keras/TensorFlow).
    return (count_include_pad and not geo.string_padding), divisor


def _key_args(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
              data_format) -> bool:
    """Whether the window arguments may be part of a plan's key (see cypool._plan)."""
    return (type(ceil_mode) is bool and type(count_include_pad) is bool
            and (divisor_override is None or type(divisor_override) is int)
            and type(data_format) is str and (type(kernel_size) is int or plain(kernel_size))
            and (type(stride) is int or plain(stride))
            and (type(padding) is int or plain(padding)))


def _avg_pool(x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, data_format, out=None):
    key = None
    if type(x) is np.ndarray and _key_args(kernel_size, stride, padding, ceil_mode,
                                           count_include_pad, divisor_override, data_format):
        key = ("avg_pool", x.shape, x.strides, x.dtype, rank, kernel_size, stride, padding,
               ceil_mode, count_include_pad, divisor_override, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _avg_plan(x, rank, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override, data_format))
    return plan.run(x, None, out)


def _avg_plan(x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, data_format) -> Plan:
    can = prepare(x, rank, data_format, "float")
    spatial = can.spatial[3 - rank:]
    geo = pool_geometry(spatial, rank, kernel_size, stride, padding, 1, ceil_mode)
    _check_avg3d_input(spatial, rank, kernel_size)
    cip, divisor = _avg_args(count_include_pad, divisor_override, geo)
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _avg.AvgCall(geo.window(), False, can.n if cl else can.n * can.c, can.c, 0, cl, cip,
                          divisor, can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=can.n * geo.out_size[0] * geo.out_size[1] * (1 if cl else can.c),
                source=None if reads_as_given(x, can) else partial(flat_input, rank,
                                                                   can.data_format, "float"),
                **destination(can, geo.out_size, x.dtype))


def _avg_backward(grad_output, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                  count_include_pad, divisor_override, data_format, out=None):
    key = None
    if (type(grad_output) is np.ndarray and plain_shape(input_shape)
            and _key_args(kernel_size, stride, padding, ceil_mode, count_include_pad,
                          divisor_override, data_format)):
        key = ("avg_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               input_shape, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
               divisor_override, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _avg_backward_plan(grad_output, input_shape, rank, kernel_size,
                                                 stride, padding, ceil_mode, count_include_pad,
                                                 divisor_override, data_format))
    return plan.run(grad_output, None, out)


def _avg_backward_plan(grad_output, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    spatial = check_input_shape(input_shape, grad, rank, data_format)
    geo = pool_geometry(spatial, rank, kernel_size, stride, padding, 1, ceil_mode)
    _check_avg3d_input(spatial, rank, kernel_size)
    cip, divisor = _avg_args(count_include_pad, divisor_override, geo)
    can = prepare_grad(grad, rank, data_format)
    if tuple(can.spatial) != geo.out_size:
        raise ValueError(f"grad_output.shape={grad.shape} does not match the pooled size "
                         f"{geo.out_size[3 - rank:]} of input_shape={tuple(input_shape)}")
    cl = can.order == "cl"
    size = can.n * can.c * geo.in_size[0] * geo.in_size[1] * geo.in_size[2]
    nbytes = size * can.view.dtype.itemsize + can.view.nbytes
    kernel = None
    if size:
        # c_block only splits the work into disjoint parts: any value gives the same result
        c_block = channel_block(can.n, can.c, _threads.threads_for(nbytes, can.n * can.c))
        kernel = _avg.AvgCall(geo.window(), True, can.n if cl else can.n * can.c, can.c, c_block,
                              cl, cip, divisor, can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, inputs=("grad_output",),
                source=None if reads_as_given(grad_output, can) else partial(
                    flat_grad, rank, data_format),
                **destination(can, geo.in_size, grad.dtype))


def avg_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               data_format: DataFormat = CF, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc avg_pool 1"""
    return _avg_pool(x, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     data_format, out)


def avg_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc avg_pool 2"""
    return _avg_pool(x, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, data_format, out)


def avg_pool3d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc avg_pool 3"""
    return _avg_pool(x, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, data_format, out)


def avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc avg_pool_backward 1"""
    return _avg_backward(grad_output, input_shape, 1, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, None, data_format, out)


def avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc avg_pool_backward 2"""
    return _avg_backward(grad_output, input_shape, 2, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)


def avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc avg_pool_backward 3"""
    return _avg_backward(grad_output, input_shape, 3, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)

"""Max pooling, forward and backward, 1-d to 3-d: the Python side of pyx/_max.pyx.

Each public function is one plan look-up and one run (cypool._plan): `_max_plan` validates the
arguments and prepares `_max.MaxForward` with the call's Window; `_max_backward_plan` prepares
`_max.MaxBackward`, the index scatter that adaptive, global, stochastic and blur-max pooling
share.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import numpy as np

from . import _max, _threads
from ._geometry import check_bool, lift, pool_geometry
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, IntOrTuple, Padding, PoolResult, Shape, channel_block,
                     check_grad, check_indices, check_input_shape, destination, flat_grad,
                     flat_indices, flat_input, indices_in_order, layout, prepare, prepare_grad,
                     reads_as_given)


def _max_pool(x, rank, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              data_format, out=None):
    key = None
    # `type(v) is int or plain(v)`: plain's own first test, inline (halves the key's cost)
    if (type(x) is np.ndarray and type(ceil_mode) is bool and type(return_indices) is bool
            and type(data_format) is str and (type(kernel_size) is int or plain(kernel_size))
            and (type(stride) is int or plain(stride)) and (type(padding) is int or plain(padding))
            and (type(dilation) is int or plain(dilation))):
        key = ("max_pool", x.shape, x.strides, x.dtype, rank, kernel_size, stride, padding,
               dilation, ceil_mode, return_indices, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _max_plan(x, rank, kernel_size, stride, padding, dilation, ceil_mode,
                                        return_indices, data_format))
    return plan.run(x, None, out)


def _max_plan(x, rank, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              data_format) -> Plan:
    can = prepare(x, rank, data_format, "max")
    geo = pool_geometry(can.spatial[3 - rank:], rank, kernel_size, stride, padding, dilation,
                        ceil_mode)
    return_indices = check_bool(return_indices, "return_indices")
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _max.MaxForward(geo.window(), can.n if cl else can.n * can.c, can.c, cl,
                             can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=can.n * geo.out_size[0] * geo.out_size[1] * (1 if cl else can.c),
                source=None if reads_as_given(x, can) else partial(flat_input, rank,
                                                                   can.data_format, "max"),
                new_indices=return_indices, return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype))


def _max_backward(grad_output, indices, input_shape, rank, data_format, name="indices",
                  out=None):
    """Route gradients by plane-flat indices (max, adaptive max, global max, stochastic and
    blur-max pooling)."""
    key = None
    if (type(grad_output) is np.ndarray and type(indices) is np.ndarray
            and plain_shape(input_shape) and type(data_format) is str):
        key = ("max_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               indices.shape, indices.strides, indices.dtype, input_shape, rank, data_format,
               name)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _max_backward_plan(grad_output, indices, input_shape, rank,
                                                 data_format, name))
    return plan.run(grad_output, indices, out)


def _max_backward_plan(grad_output, indices, input_shape, rank, data_format, name) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    ind = check_indices(indices, grad, rank, name)
    spatial = lift(check_input_shape(input_shape, grad, rank, data_format))
    can = prepare_grad(grad, rank, data_format)
    lay = layout(can)
    idx5 = indices_in_order(lay, ind)
    in_plane = spatial[0] * spatial[1] * spatial[2]
    out_plane = can.spatial[0] * can.spatial[1] * can.spatial[2]
    gx_size = can.n * can.c * in_plane
    nbytes = (gx_size * can.view.dtype.itemsize) + idx5.nbytes
    kernel = None
    if gx_size and can.view.size:
        cl = can.order == "cl"
        # c_block only splits the work into disjoint parts: any value gives the same result
        c_block = channel_block(can.n, can.c, _threads.threads_for(nbytes, can.n * can.c))
        kernel = _max.MaxBackward(can.n if cl else can.n * can.c, can.c, c_block, in_plane,
                                  out_plane, cl, can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, fill=gx_size > 0,
                source=None if reads_as_given(grad_output, can) else partial(
                    flat_grad, rank, data_format),
                index_source=None if reads_as_given(indices, can, idx5) else partial(
                    flat_indices, lay),
                bound=in_plane, index_name=name, inputs=("grad_output", name),
                **destination(can, spatial, grad.dtype))


def max_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """@doc max_pool 1"""
    return _max_pool(x, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """@doc max_pool 2"""
    return _max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool3d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """@doc max_pool 3"""
    return _max_pool(x, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc max_pool_backward 1"""
    return _max_backward(grad_output, indices, input_shape, 1, data_format, out=out)


def max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc max_pool_backward 2"""
    return _max_backward(grad_output, indices, input_shape, 2, data_format, out=out)


def max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """@doc max_pool_backward 3"""
    return _max_backward(grad_output, indices, input_shape, 3, data_format, out=out)

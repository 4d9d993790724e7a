"""Adaptive average and max pooling, forward and backward, 1-d to 3-d: the Python side of
pyx/_adaptive.pyx (global pooling, in global_pool.py, is its one-bin case).

Each public function is one plan look-up and one run (cypool._plan); `_adaptive_plan` validates
the arguments and prepares `_adaptive.AdaptiveCall` with the call's Window. Adaptive max pooling's
backward is the index scatter of max pooling (max._max_backward).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from . import _adaptive, _threads
from ._geometry import adaptive_geometry, check_bool
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, OutputSize, PoolResult, Shape, channel_block, check_grad,
                     check_input_shape, destination, flat_grad, flat_input, prepare,
                     prepare_grad, reads_as_given)
from .max import _max_backward


def _adaptive_pool(x, rank, output_size, return_indices, data_format, op, keepdims=None):
    """Adaptive pooling forward: op "adaptive_avg" or "adaptive_max". Global pooling passes its
    keepdims (False: the result drops its size-1 spatial axes); adaptive pooling passes None."""
    key = None
    if (type(x) is np.ndarray and type(data_format) is str and plain(output_size)
            and type(return_indices) is bool and (keepdims is None or type(keepdims) is bool)):
        key = (op, x.shape, x.strides, x.dtype, rank, output_size,
               return_indices, data_format, keepdims)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _adaptive_plan(x, rank, output_size, return_indices, data_format, op,
                                             keepdims))
    return plan.run(x)


def _adaptive_plan(x, rank, output_size, return_indices, data_format, op, keepdims) -> Plan:
    if keepdims is not None:  # global pooling checks its flags first
        check_data_format(data_format)
        return_indices = check_bool(return_indices, "return_indices")
    family = "max" if op == "adaptive_max" else "float"
    can = prepare(x, rank, data_format, family)
    geo = adaptive_geometry(can.spatial[3 - rank:], rank, output_size)
    return_indices = check_bool(return_indices, "return_indices")
    keepdims = True if keepdims is None else check_bool(keepdims, "keepdims")
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _adaptive.AdaptiveCall(op[len("adaptive_"):], geo.window(), can.n if cl else can.n * can.c, can.c, 0,
                                    cl, can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=can.n * geo.out_size[0] * geo.out_size[1] * (1 if cl else can.c),
                source=None if reads_as_given(x, can) else partial(
                    flat_input, rank, can.data_format, family),
                new_indices=family == "max", return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype, keepdims))


def _adaptive_avg_backward(grad_output, input_shape, rank, data_format):
    key = None
    if (type(grad_output) is np.ndarray and plain_shape(input_shape)
            and type(data_format) is str):
        key = ("adaptive_avg_backward", grad_output.shape, grad_output.strides,
               grad_output.dtype, input_shape, rank, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _adaptive_avg_backward_plan(grad_output, input_shape, rank,
                                                          data_format))
    return plan.run(grad_output)


def _adaptive_avg_backward_plan(grad_output, input_shape, rank, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    spatial = check_input_shape(input_shape, grad, rank, data_format)
    can = prepare_grad(grad, rank, data_format)
    if min(can.spatial[3 - rank:]) < 1:  # PyTorch refuses an empty gradient plane here
        raise ValueError(f"grad_output.shape={grad.shape} has an empty spatial axis")
    geo = adaptive_geometry(spatial, rank, tuple(can.spatial[3 - rank:]), minimum=1)
    cl = can.order == "cl"
    size = can.n * can.c * geo.in_size[0] * geo.in_size[1] * geo.in_size[2]
    nbytes = size * can.view.dtype.itemsize + can.view.nbytes
    kernel = None
    if size:
        # c_block only splits the work into disjoint parts: any value gives the same result
        c_block = channel_block(can.n, can.c, _threads.threads_for(nbytes, can.n * can.c))
        kernel = _adaptive.AdaptiveCall("avg_backward", geo.window(),
                                        can.n if cl else can.n * can.c, can.c, c_block, cl,
                                        can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, inputs=("grad_output",),
                source=None if reads_as_given(grad_output, can) else partial(
                    flat_grad, rank, data_format),
                **destination(can, geo.in_size, grad.dtype))


def adaptive_avg_pool1d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_avg_pool 1"""
    return _adaptive_pool(x, 1, output_size, False, data_format, "adaptive_avg")


def adaptive_avg_pool2d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_avg_pool 2"""
    return _adaptive_pool(x, 2, output_size, False, data_format, "adaptive_avg")


def adaptive_avg_pool3d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_avg_pool 3"""
    return _adaptive_pool(x, 3, output_size, False, data_format, "adaptive_avg")


def adaptive_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_avg_pool_backward 1"""
    return _adaptive_avg_backward(grad_output, input_shape, 1, data_format)


def adaptive_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_avg_pool_backward 2"""
    return _adaptive_avg_backward(grad_output, input_shape, 2, data_format)


def adaptive_avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_avg_pool_backward 3"""
    return _adaptive_avg_backward(grad_output, input_shape, 3, data_format)


def adaptive_max_pool1d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    """@doc adaptive_max_pool 1"""
    return _adaptive_pool(x, 1, output_size, return_indices, data_format, "adaptive_max")


def adaptive_max_pool2d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    """@doc adaptive_max_pool 2"""
    return _adaptive_pool(x, 2, output_size, return_indices, data_format, "adaptive_max")


def adaptive_max_pool3d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF) -> PoolResult:
    """@doc adaptive_max_pool 3"""
    return _adaptive_pool(x, 3, output_size, return_indices, data_format, "adaptive_max")


def adaptive_max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_max_pool_backward 1"""
    return _max_backward(grad_output, indices, input_shape, 1, data_format)


def adaptive_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_max_pool_backward 2"""
    return _max_backward(grad_output, indices, input_shape, 2, data_format)


def adaptive_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                                 data_format: DataFormat = CF) -> np.ndarray:
    """@doc adaptive_max_pool_backward 3"""
    return _max_backward(grad_output, indices, input_shape, 3, data_format)

"""Max unpooling, forward and backward, 1-d to 3-d: the Python side of pyx/_unpool.pyx.

Each public function is one plan look-up and one run (cypool._plan); the plan's kernel is an
`_Unpool`, which calls the typed functions of pyx/_unpool.pyx on the flat buffers.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import numpy as np

from . import _unpool
from ._geometry import lift, unpool_size
from ._layout import check_array, check_data_format, to_canonical
from ._plan import PLANS, Plan, plain
from ._steps import (CF, DataFormat, IntOrTuple, Shape, check_grad, check_indices, destination,
                     flat_grad, flat_indices, flat_input, indices_in_order, layout, prepare,
                     prepare_grad, reads_as_given)


class _Unpool:
    """A function of pyx/_unpool.pyx, f(values, indices, result, *sizes, n_threads), in the
    plans' call convention; returns the count of out-of-range indices."""
    __slots__ = ("fn", "sizes")

    def __init__(self, fn, *sizes):
        self.fn, self.sizes = fn, sizes

    def __call__(self, src, dst, indices, n_threads):
        # ravel("K"): the buffers are contiguous in the kernel's memory order, so these are views
        return self.fn(src.ravel("K"), indices.ravel("K"), dst.ravel("K"), *self.sizes,
                       n_threads)


def _sizes(can, in_plane, out_plane) -> tuple:
    return ((can.n, can.c) if can.order == "cl" else (can.n * can.c,)) + (in_plane, out_plane)


def _max_unpool(x, indices, rank, kernel_size, stride, padding, output_size, data_format):
    key = None
    if (type(x) is np.ndarray and type(indices) is np.ndarray and type(data_format) is str
            and (type(kernel_size) is int or plain(kernel_size))
            and (type(stride) is int or plain(stride)) and (type(padding) is int or plain(padding))
            and plain(output_size)):
        key = ("max_unpool", x.shape, x.strides, x.dtype, indices.shape, indices.strides,
               indices.dtype, rank, kernel_size, stride, padding, output_size, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _max_unpool_plan(x, indices, rank, kernel_size, stride, padding,
                                               output_size, data_format))
    return plan.run(x, indices)


def _max_unpool_plan(x, indices, rank, kernel_size, stride, padding, output_size,
                     data_format) -> Plan:
    can = prepare(x, rank, data_format, "max")
    ind = check_indices(indices, x, rank)
    out = lift(unpool_size(can.spatial[3 - rank:], rank, kernel_size, stride, padding,
                           output_size))
    lay = layout(can)
    idx5 = indices_in_order(lay, ind)
    in_plane = can.spatial[0] * can.spatial[1] * can.spatial[2]
    out_plane = out[0] * out[1] * out[2]
    size = can.n * can.c * out_plane
    fn = _unpool.unpool_forward_cl if can.order == "cl" else _unpool.unpool_forward_cf
    kernel = _Unpool(fn, *_sizes(can, in_plane, out_plane)) if size and can.view.size else None
    # An empty output plane (e.g. the default size of a 1-cell input with padding) is returned
    # empty without looking at the indices, as PyTorch does: nothing is written.
    return Plan(kernel, nbytes=size * can.view.dtype.itemsize + idx5.nbytes,
                items=can.n * (can.c if can.order == "cf" else 1), fill=size > 0,
                source=None if reads_as_given(x, can) else partial(flat_input, rank,
                                                                   can.data_format, "max"),
                index_source=None if reads_as_given(indices, can, idx5) else partial(
                    flat_indices, lay),
                bound=out_plane, inputs=("x", "indices"), **destination(can, out, x.dtype))


def _max_unpool_backward(grad_output, indices, rank, data_format):
    key = None
    if (type(grad_output) is np.ndarray and type(indices) is np.ndarray
            and type(data_format) is str):
        key = ("max_unpool_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               indices.shape, indices.strides, indices.dtype, rank, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _max_unpool_backward_plan(grad_output, indices, rank, data_format))
    return plan.run(grad_output, indices)


def _max_unpool_backward_plan(grad_output, indices, rank, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    ind = check_array(indices, "indices", rank)
    if ind.dtype != np.int64:
        raise TypeError(f"indices must have dtype int64, got {ind.dtype}")
    can = prepare_grad(grad, rank, data_format)
    ican = to_canonical(ind, rank, data_format)
    if (ican.n, ican.c) != (can.n, can.c) or ican.batched != can.batched:
        raise ValueError(f"indices.shape={ind.shape} is inconsistent with "
                         f"grad_output.shape={grad.shape}")
    lay = layout(can)
    idx5 = lay.conform(ican.view)
    in_plane = ican.spatial[0] * ican.spatial[1] * ican.spatial[2]
    out_plane = can.spatial[0] * can.spatial[1] * can.spatial[2]
    size = can.n * can.c * in_plane
    fn = _unpool.unpool_backward_cl if can.order == "cl" else _unpool.unpool_backward_cf
    return Plan(_Unpool(fn, *_sizes(can, in_plane, out_plane)) if size else None,
                nbytes=size * can.view.dtype.itemsize + idx5.nbytes, items=size,
                source=None if reads_as_given(grad_output, can) else partial(
                    flat_grad, rank, data_format),
                index_source=None if reads_as_given(indices, can, idx5) else partial(
                    flat_indices, lay),
                bound=out_plane, inputs=("grad_output", "indices"),
                **destination(can, ican.spatial, grad.dtype))


def max_unpool1d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF) -> np.ndarray:
    """@doc max_unpool 1"""
    return _max_unpool(x, indices, 1, kernel_size, stride, padding, output_size, data_format)


def max_unpool2d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF) -> np.ndarray:
    """@doc max_unpool 2"""
    return _max_unpool(x, indices, 2, kernel_size, stride, padding, output_size, data_format)


def max_unpool3d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF) -> np.ndarray:
    """@doc max_unpool 3"""
    return _max_unpool(x, indices, 3, kernel_size, stride, padding, output_size, data_format)


def max_unpool1d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF) -> np.ndarray:
    """@doc max_unpool_backward 1"""
    return _max_unpool_backward(grad_output, indices, 1, data_format)


def max_unpool2d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF) -> np.ndarray:
    """@doc max_unpool_backward 2"""
    return _max_unpool_backward(grad_output, indices, 2, data_format)


def max_unpool3d_backward(grad_output: np.ndarray, indices: np.ndarray,
                          data_format: DataFormat = CF) -> np.ndarray:
    """@doc max_unpool_backward 3"""
    return _max_unpool_backward(grad_output, indices, 3, data_format)

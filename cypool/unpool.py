"""Max unpooling forward, 1-d to 3-d: the Python side of pyx/_unpool.pyx (its gradient is in
unpool_backward.py).

Each public function is one plan look-up and one run (cypool._plan); the plan's kernel is an
`_Unpool`, which calls the typed functions of pyx/_unpool.pyx on the flat buffers.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _unpool
from ._geometry import lift, unpool_size
from ._plan import PLANS, Plan, plain
from ._steps import (CF, DataFormat, IntOrTuple, Shape, check_indices, destination, index_source,
                     indices_in_order, input_source, layout, prepare)


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


def _max_unpool(x, indices, rank, kernel_size, stride, padding, output_size, data_format,
                out=None):
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
    return plan.run(x, indices, out)


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
                source=input_source(x, can, "max"),
                b_source=index_source(indices, can, idx5),
                bound=out_plane, inputs=("x", "indices"), **destination(can, out, x.dtype))


def max_unpool1d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF, *,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """1-d max unpooling: the partial inverse of ``max_pool1d``.

    Writes each value of ``x`` at the plane position its index names, zeros elsewhere.

    Parameters
    ----------
    x : numpy.ndarray
        Pooled values, shape ``(N, C, L)`` or ``(N, L, C)`` (or unbatched); the dtypes of max
        pooling.
    indices : numpy.ndarray of int64
        Flat plane positions in the unpooled output, as ``max_pool1d(..., return_indices=True)``
        returns them; same shape as ``x``. Positions outside the output plane raise ValueError;
        a later duplicate overwrites an earlier one.
    kernel_size : int or tuple of 1 ints
        Window size along each spatial axis.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int or tuple of 1 ints, default 0
        The padding of the max pooling being inverted.
    output_size : tuple of ints or None, default None
        Output size (the spatial entries are used; a full shape is accepted). Default
        ``(L - 1) * stride - 2 * padding + kernel_size``; a given size must lie within one stride of
        it.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The unpooled array, in ``x``'s data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_unpool2d``.

    See Also
    --------
    cypool.max_unpool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(8, dtype=np.float32).reshape(1, 1, 8)
    >>> y, idx = cypool.max_pool1d(x, 2, return_indices=True)
    >>> u = cypool.max_unpool1d(y, idx, 2)
    >>> u.shape, float(u.sum()) == float(y.sum())
    ((1, 1, 8), True)
    """
    return _max_unpool(x, indices, 1, kernel_size, stride, padding, output_size, data_format, out)


def max_unpool2d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF, *,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """2-d max unpooling: the partial inverse of ``max_pool2d``.

    Writes each value of ``x`` at the plane position its index names, zeros elsewhere.

    Parameters
    ----------
    x : numpy.ndarray
        Pooled values, shape ``(N, C, H, W)`` or ``(N, H, W, C)`` (or unbatched); the dtypes of max
        pooling.
    indices : numpy.ndarray of int64
        Flat plane positions in the unpooled output, as ``max_pool2d(..., return_indices=True)``
        returns them; same shape as ``x``. Positions outside the output plane raise ValueError;
        a later duplicate overwrites an earlier one.
    kernel_size : int or tuple of 2 ints
        Window size along each spatial axis.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int or tuple of 2 ints, default 0
        The padding of the max pooling being inverted.
    output_size : tuple of ints or None, default None
        Output size (the spatial entries are used; a full shape is accepted). Default
        ``(L - 1) * stride - 2 * padding + kernel_size``; a given size must lie within one stride of
        it.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The unpooled array, in ``x``'s data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` or ``indices`` is not a numpy.ndarray, ``x`` has an unsupported dtype,
        ``indices`` is not int64, or a window argument has the wrong type.
    ValueError
        If the shapes disagree, an index lies outside the output plane, a window argument is out of
        range, ``output_size`` is not within one stride of the default, ``data_format`` is
        unknown, or ``out`` does not fit.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
    >>> y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    >>> u = cypool.max_unpool2d(y, idx, 2)
    >>> u.shape, float(u.sum()) == float(y.sum())
    ((1, 1, 8, 8), True)
    """
    return _max_unpool(x, indices, 2, kernel_size, stride, padding, output_size, data_format, out)


def max_unpool3d(x: np.ndarray, indices: np.ndarray, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Shape] = None, data_format: DataFormat = CF, *,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """3-d max unpooling: the partial inverse of ``max_pool3d``.

    Writes each value of ``x`` at the plane position its index names, zeros elsewhere.

    Parameters
    ----------
    x : numpy.ndarray
        Pooled values, shape ``(N, C, D, H, W)`` or ``(N, D, H, W, C)`` (or unbatched); the dtypes of max
        pooling.
    indices : numpy.ndarray of int64
        Flat plane positions in the unpooled output, as ``max_pool3d(..., return_indices=True)``
        returns them; same shape as ``x``. Positions outside the output plane raise ValueError;
        a later duplicate overwrites an earlier one.
    kernel_size : int or tuple of 3 ints
        Window size along each spatial axis.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int or tuple of 3 ints, default 0
        The padding of the max pooling being inverted.
    output_size : tuple of ints or None, default None
        Output size (the spatial entries are used; a full shape is accepted). Default
        ``(L - 1) * stride - 2 * padding + kernel_size``; a given size must lie within one stride of
        it.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The unpooled array, in ``x``'s data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_unpool2d``.

    See Also
    --------
    cypool.max_unpool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(512, dtype=np.float32).reshape(1, 1, 8, 8, 8)
    >>> y, idx = cypool.max_pool3d(x, 2, return_indices=True)
    >>> u = cypool.max_unpool3d(y, idx, 2)
    >>> u.shape, float(u.sum()) == float(y.sum())
    ((1, 1, 8, 8, 8), True)
    """
    return _max_unpool(x, indices, 3, kernel_size, stride, padding, output_size, data_format, out)

"""Anti-aliased (blur) pooling (Zhang 2019): blur_pool2d, max_blur_pool2d and their backward;
the Python side of pyx/_blur.pyx (binomial filter, reflect padding).
"""
from __future__ import annotations

import math

import numpy as np

from . import _blur
from ._geometry import _is_int, check_bool, int_tuple
from ._layout import check_array, check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, IntOrTuple, PoolResult, Shape, channel_block, check_grad,
                     check_input_shape, destination, grad_source, input_source, prepare,
                     prepare_grad)
from .max import _max_pool
from .max_backward import _max_backward


def binomial_filter(filt_size: int) -> np.ndarray:
    """The normalised 1-d binomial filter of blur pooling.

    Parameters
    ----------
    filt_size : int
        Length, 1 to 7.

    Returns
    -------
    numpy.ndarray of float64
        The binomial coefficients of ``filt_size - 1`` divided by their sum.

    Raises
    ------
    TypeError
        If ``filt_size`` is not an int.
    ValueError
        If ``filt_size`` is not between 1 and 7.

    Examples
    --------
    >>> import cypool
    >>> cypool.binomial_filter(3)
    array([0.25, 0.5 , 0.25])
    """
    if not _is_int(filt_size):
        raise TypeError(f"filt_size must be an int, got filt_size={filt_size!r}")
    if not 1 <= filt_size <= 7:
        raise ValueError(f"filt_size must be between 1 and 7, got filt_size={filt_size!r}")
    row = np.array([math.comb(filt_size - 1, i) for i in range(filt_size)], np.float64)
    return row / row.sum()


def _reflect(j: np.ndarray, size: int) -> np.ndarray:
    """PyTorch's 'reflect' padding (the edge cell is not repeated)."""
    if size == 1:
        return np.zeros_like(j)
    period = 2 * (size - 1)
    j = np.abs(j) % period
    return np.where(j >= size, period - j, j)


def _blur_tables(spatial, filt_size, stride):
    """Per axis: the (out, filt_size) table of input cells each tap reads, reflect padding
    ((f-1)//2 before, ceil((f-1)/2) after) and the stride applied."""
    lo, hi = (filt_size - 1) // 2, filt_size // 2
    tables = []
    for L, s, axis in zip(spatial, stride, ("height", "width")):
        if hi >= L and filt_size > 1:
            raise ValueError(f"x {axis} {L} is too small for filt_size={filt_size}: reflect "
                             f"padding of {hi} needs at least {hi + 1} cells")
        out = (L - 1) // s + 1
        starts = np.arange(out) * s - lo
        tables.append(np.ascontiguousarray(_reflect(starts[:, None] + np.arange(filt_size), L),
                                           dtype=np.int64))
    return tables


def _gather_tables(table: np.ndarray, size: int) -> np.ndarray:
    """The backward's view of an axis table (out, f): (size, 1 + 2 K) int64, per input cell the
    number of taps that read it, then those taps as pairs (o, i) (output o, tap i) in (o, i)
    order."""
    f = table.shape[1]
    cells = table.ravel()
    taps = np.argsort(cells, kind="stable")          # (o, i) order kept within a cell
    counts = np.bincount(cells, minlength=size)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = np.zeros((size, 1 + 2 * max(1, int(counts.max(initial=0)))), np.int64)
    out[:, 0] = counts
    sorted_cells = cells[taps]
    slot = 1 + 2 * (np.arange(taps.size) - starts[sorted_cells])
    out[sorted_cells, slot] = taps // f
    out[sorted_cells, slot + 1] = taps % f
    return out


def _phase_runs(cin: np.ndarray, s: int) -> np.ndarray:
    """(s, 3 + 2 K): per phase p of the columns w = s * l + p, the longest run [la, lb) of l
    whose columns read the outputs l + d with taps j for one list of (d, j), then its length and
    the pairs: the backward sums those columns in vector loops."""
    W, K = cin.shape[0], (cin.shape[1] - 1) // 2
    runs = np.zeros((s, 3 + 2 * K), np.int64)
    for p in range(s):
        pats = [tuple((int(cin[w, 1 + 2 * k]) - l, int(cin[w, 2 + 2 * k]))
                      for k in range(cin[w, 0]))
                for l, w in enumerate(range(p, W, s))]
        la = lb = a = 0
        for l in range(1, len(pats) + 1):
            if l == len(pats) or pats[l] != pats[a]:
                if pats[a] and l - a > lb - la:
                    la, lb = a, l
                a = l
        if lb > la:
            runs[p, :3] = la, lb, len(pats[la])
            runs[p, 3:3 + 2 * len(pats[la])] = np.ravel(pats[la])
    return runs


def _blur_args(filt_size, stride):
    taps = binomial_filter(filt_size)
    return taps, int_tuple(stride, 2, "stride")


class _Blur:
    """pyx/_blur.pyx's functions in the plans' call convention, (source, destination, None,
    n_threads): the per-axis tap tables and the filter fixed at construction; a backward also
    keeps the tables inverted (input cell -> the taps that read it) and the column runs."""
    __slots__ = ("backward", "rows", "cols", "taps", "n", "c", "h", "w", "cl", "rin", "cin",
                 "runs", "s")

    def __init__(self, backward, rows, cols, taps, n, c, h, w, cl, s=1):
        self.backward, self.rows, self.cols, self.taps = backward, rows, cols, taps
        self.n, self.c, self.h, self.w, self.cl, self.s = n, c, h, w, cl, s
        if backward:
            self.rin, self.cin = _gather_tables(rows, h), _gather_tables(cols, w)
            self.runs = _phase_runs(self.cin, s)

    def __call__(self, src, dst, _indices, n_threads):
        # ravel("K"): the buffers are contiguous in the kernel's memory order, so these are views
        a, b = src.ravel("K"), dst.ravel("K")
        tables = (self.rows, self.cols, self.taps)
        oh, ow = self.rows.shape[0], self.cols.shape[0]
        if self.backward and self.cl:
            # blocks of 4 samples share each cell's term list; enough blocks for the threads
            s_block = max(1, min(4, self.n // (2 * n_threads)))
            n_blocks = -(-self.n // s_block)
            _blur.blur_backward_cl(a, b, self.rin, self.cin, self.taps, self.n, self.h, self.w,
                                   oh, ow, self.c, s_block,
                                   channel_block(n_blocks, self.c, n_threads), n_threads)
        elif self.backward:
            scratch = np.empty((n_threads, self.s * -(-self.w // self.s)), b.dtype)
            _blur.blur_backward_cf(a, b, scratch, self.rin, self.cin, self.runs, self.taps,
                                   self.n * self.c, self.h, self.w, oh, ow, self.s, n_threads)
        elif self.cl:
            scratch = np.empty((n_threads, self.c), np.float64)
            _blur.blur_forward_cl(a, b, scratch, *tables, self.n, self.h, self.w, self.c,
                                  n_threads)
        else:
            _blur.blur_forward_cf(a, b, *tables, self.n * self.c, self.h, self.w, n_threads)


def _blur_key(filt_size, stride, data_format) -> bool:
    return type(filt_size) is int and plain(stride) and type(data_format) is str


def blur_pool2d(x: np.ndarray, filt_size: int = 3, stride: IntOrTuple = 2,
                data_format: DataFormat = CF) -> np.ndarray:
    """Anti-aliased downsampling (Zhang 2019, BlurPool).

    Reflect padding (``(f-1)//2`` before, ``ceil((f-1)/2)`` after, per axis), then a depthwise
    convolution with the normalised binomial filter ``outer(a, a)`` of size ``filt_size`` at
    ``stride``. Output size ``ceil(L / stride)``.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) channels first, ``(N, H, W, C)``
        channels last; float16 or bfloat16 (computed in float32), float32 or float64, any strides.
    filt_size : int, default 3
        Filter size, 1 to 7 (see ``binomial_filter``).
    stride : int or tuple of 2 ints, default 2
        Downsampling step.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, ceil(H / s), ceil(W / s))`` in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or an argument has the wrong type.
    ValueError
        If ``filt_size`` or ``stride`` is out of range, an axis is too short for the reflect
        padding, or ``data_format`` is unknown.

    Notes
    -----
    Results are bit-identical for any thread count; the GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> y = cypool.blur_pool2d(np.ones((1, 2, 7, 8)))
    >>> y.shape, float(y.min()), float(y.max())   # a constant stays constant
    ((1, 2, 4, 4), 1.0, 1.0)
    """
    key = None
    if type(x) is np.ndarray and _blur_key(filt_size, stride, data_format):
        key = ("blur_pool", x.shape, x.strides, x.dtype, filt_size, stride, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _blur_plan(x, filt_size, stride, data_format))
    return plan.run(x)


def _blur_plan(x, filt_size, stride, data_format) -> Plan:
    taps, stride = _blur_args(filt_size, stride)
    can = prepare(x, 2, data_format, "float")
    H, W = can.spatial[1:]
    rows, cols = _blur_tables((H, W), filt_size, stride)
    out = (1, rows.shape[0], cols.shape[0])
    cl = can.order == "cl"
    size = can.n * can.c * out[1] * out[2]
    return Plan(_Blur(False, rows, cols, taps, can.n, can.c, H, W, cl) if size else None,
                nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=can.n * out[1] * (1 if cl else can.c),
                source=input_source(x, can, "float"),
                **destination(can, out, x.dtype))


def blur_pool2d_backward(grad_output: np.ndarray, input_shape: Shape, filt_size: int = 3,
                         stride: IntOrTuple = 2, data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of blur_pool2d with respect to its input.

    The transposed filtering, reflections folded back.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output (its shape and data format).
    input_shape : tuple of ints
        Shape of the forward input.
    filt_size : int, default 3
        The forward filter size.
    stride : int or tuple of 2 ints, default 2
        The forward stride.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray or an argument has the wrong
        type.
    ValueError
        If ``grad_output`` does not have the blurred size of ``input_shape`` or an argument is
        out of range.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> g = cypool.blur_pool2d_backward(np.ones((1, 1, 4, 4)), (1, 1, 8, 8))
    >>> g.shape, float(g.sum())   # the filter sums to 1: the gradient's total is kept
    ((1, 1, 8, 8), 16.0)
    """
    key = None
    if (type(grad_output) is np.ndarray and plain_shape(input_shape)
            and _blur_key(filt_size, stride, data_format)):
        key = ("blur_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               input_shape, filt_size, stride, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _blur_backward_plan(grad_output, input_shape, filt_size, stride,
                                                  data_format))
    return plan.run(grad_output)


def _blur_backward_plan(grad_output, input_shape, filt_size, stride, data_format) -> Plan:
    data_format = check_data_format(data_format)
    taps, stride = _blur_args(filt_size, stride)
    grad = check_grad(grad_output, 2)
    spatial = check_input_shape(input_shape, grad, 2, data_format)
    rows, cols = _blur_tables(spatial, filt_size, stride)
    can = prepare_grad(grad, 2, data_format)
    if tuple(can.spatial) != (1, rows.shape[0], cols.shape[0]):
        raise ValueError(f"grad_output.shape={grad.shape} does not match the blurred size "
                         f"{(rows.shape[0], cols.shape[0])} of input_shape={tuple(input_shape)}")
    H, W = spatial
    size = can.n * can.c * H * W
    return Plan(_Blur(True, rows, cols, taps, can.n, can.c, H, W, can.order == "cl", stride[1])
                if size else None,
                nbytes=size * can.view.dtype.itemsize + can.view.nbytes, items=can.n * can.c,
                source=grad_source(grad_output, can),
                **destination(can, (1, H, W), grad.dtype))


def max_blur_pool2d(x: np.ndarray, kernel_size: IntOrTuple = 2, filt_size: int = 3,
                    stride: IntOrTuple = 2, return_indices: bool = False,
                    data_format: DataFormat = CF) -> PoolResult:
    """MaxBlurPool (Zhang 2019): max pooling with stride 1, then blur_pool2d.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)`` or ``(N, H, W, C)`` (or unbatched); the dtypes of blur pooling.
    kernel_size : int or tuple of 2 ints, default 2
        Window of the stride-1 max pooling.
    filt_size : int, default 3
        Blur filter size, 1 to 7.
    stride : int or tuple of 2 ints, default 2
        Downsampling step of the blur.
    return_indices : bool, default False
        Also return the indices of the stride-1 max, for ``max_blur_pool2d_backward``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        The blurred maxima in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``: the stride-1 max pooling's indices.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or an argument has the wrong type.
    ValueError
        If an argument is out of range or ``data_format`` is unknown.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
    >>> y, idx = cypool.max_blur_pool2d(x, return_indices=True)
    >>> y.shape, idx.shape
    ((1, 1, 4, 4), (1, 1, 7, 7))
    """
    return_indices = check_bool(return_indices, "return_indices")
    # the stride-1 max's indices (as many as the input's cells) only when the caller wants them
    if return_indices:
        dense, idx = _max_pool(x, 2, kernel_size, 1, 0, 1, False, True, data_format)
        return blur_pool2d(dense, filt_size, stride, data_format), idx
    dense = _max_pool(x, 2, kernel_size, 1, 0, 1, False, False, data_format)
    return blur_pool2d(dense, filt_size, stride, data_format)


def max_blur_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                             filt_size: int = 3, stride: IntOrTuple = 2,
                             data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of max_blur_pool2d with respect to its input.

    Blur backward to the stride-1 max's output, then the index scatter of max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output (its shape and data format).
    indices : numpy.ndarray of int64
        From ``max_blur_pool2d(..., return_indices=True)``.
    input_shape : tuple of ints
        Shape of the forward input.
    filt_size : int, default 3
        The forward filter size.
    stride : int or tuple of 2 ints, default 2
        The forward stride.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If an array has the wrong type or dtype.
    ValueError
        If the shapes disagree or an index lies outside its plane.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
    >>> y, idx = cypool.max_blur_pool2d(x, return_indices=True)
    >>> g = cypool.max_blur_pool2d_backward(np.ones_like(y), idx, x.shape)
    >>> g.shape, round(float(g.sum()), 4)
    ((1, 1, 8, 8), 16.0)
    """
    data_format = check_data_format(data_format)
    indices = check_array(indices, "indices", 2)
    g_dense = blur_pool2d_backward(grad_output, indices.shape, filt_size, stride, data_format)
    return _max_backward(g_dense, indices, input_shape, 2, data_format)

"""Max pooling forward, 1-d to 3-d: the Python side of pyx/_max.pyx (its gradient is in
max_backward.py).

Each public function is one plan look-up and one run (cypool._plan): `_max_plan` validates the
arguments and prepares `_max.MaxForward` with the call's Window.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _max
from ._geometry import check_bool, pool_geometry
from ._plan import PLANS, Plan, plain
from ._steps import (CF, DataFormat, IntOrTuple, Padding, PoolResult, destination, forward_items,
                     input_source, prepare)


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
    can = prepare(x, rank, data_format, "max", half=True)
    geo = pool_geometry(can.spatial[3 - rank:], rank, kernel_size, stride, padding, dilation,
                        ceil_mode)
    return_indices = check_bool(return_indices, "return_indices")
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _max.MaxForward(geo.window(), can.n if cl else can.n * can.c, can.c, cl,
                             can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=forward_items(can, geo.out_size),
                source=input_source(x, can, "max", half=True),
                new_indices=return_indices, return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype))


def max_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """1-d max pooling.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, L)`` or unbatched ``(C, L)`` (channels last: ``(N, L, C)``, ``(L, C)``), any
        strides; float16, bfloat16 (16-bit I/O), float32, float64, (u)int8 to (u)int32, int64 or
        bool.
    kernel_size : int or tuple of 1 ints
        Window size along each spatial axis.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 1 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    dilation : int or tuple of 1 ints, default 1
        Spacing between the cells of a window. With ``"same"`` padding the dilated window is used.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``l``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The maxima, ``(N, C, L_out)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``: see above. Feed them to ``max_pool1d_backward`` or
        ``max_unpool1d``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_pool2d``.

    See Also
    --------
    cypool.max_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    >>> cypool.max_pool1d(x, 2).shape
    (2, 3, 4)
    >>> y, idx = cypool.max_pool1d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.shape, idx.dtype
    ((2, 3, 4), dtype('int64'))
    >>> int(idx[0, 0].flat[0]), int(idx[0, 0].flat[-1])   # plane positions of the first/last maxima
    (1, 7)
    >>> cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))      # the same data, channels last
    >>> cypool.max_pool1d(cl, 3, stride=2, padding="same", data_format="channels_last").shape
    (2, 4, 3)
    """
    return _max_pool(x, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """2-d max pooling.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` or unbatched ``(C, H, W)`` (channels last: ``(N, H, W, C)``,
        ``(H, W, C)``), any strides; float16, bfloat16 (16-bit I/O), float32, float64, (u)int8 to
        (u)int32, int64 or bool.
    kernel_size : int or tuple of 2 ints
        Window size along each spatial axis.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 2 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    dilation : int or tuple of 2 ints, default 1
        Spacing between the cells of a window. With ``"same"`` padding the dilated window is used.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The maxima, ``(N, C, H_out, W_out)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``: see above. Feed them to ``max_pool2d_backward`` or
        ``max_unpool2d``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, or an argument has the wrong
        type (e.g. a float ``kernel_size``, a non-bool ``ceil_mode``).
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, a window argument is
        out of range (non-positive, padding over half the kernel, an output size below 1, ceil_mode
        with a string padding), ``data_format`` is unknown, or ``out`` does not fit.

    Notes
    -----
    Output size ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``, PyTorch 2.x's; the
    user guide gives the semantics in full.
    NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order; a window holding no input cell (possible with dilation) gives the
    lowest value and an index outside the plane, which backward and unpool refuse.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 64, dtype=np.float32).reshape(2, 3, 8, 8)
    >>> cypool.max_pool2d(x, 2).shape
    (2, 3, 4, 4)
    >>> y, idx = cypool.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.shape, idx.dtype
    ((2, 3, 4, 4), dtype('int64'))
    >>> int(idx[0, 0].flat[0]), int(idx[0, 0].flat[-1])   # plane positions of the first/last maxima
    (9, 63)
    >>> cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))      # the same data, channels last
    >>> cypool.max_pool2d(cl, 3, stride=2, padding="same", data_format="channels_last").shape
    (2, 4, 4, 3)
    """
    return _max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)


def max_pool3d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> PoolResult:
    """3-d max pooling.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` (channels last: ``(N, D, H, W, C)``,
        ``(D, H, W, C)``), any strides; float16, bfloat16 (16-bit I/O), float32, float64, (u)int8 to
        (u)int32, int64 or bool.
    kernel_size : int or tuple of 3 ints
        Window size along each spatial axis.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 3 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    dilation : int or tuple of 3 ints, default 1
        Spacing between the cells of a window. With ``"same"`` padding the dilated window is used.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``d * H * W + h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The maxima, ``(N, C, D_out, H_out, W_out)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``: see above. Feed them to ``max_pool3d_backward`` or
        ``max_unpool3d``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``max_pool2d``.

    See Also
    --------
    cypool.max_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 512, dtype=np.float32).reshape(2, 3, 8, 8, 8)
    >>> cypool.max_pool3d(x, 2).shape
    (2, 3, 4, 4, 4)
    >>> y, idx = cypool.max_pool3d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.shape, idx.dtype
    ((2, 3, 4, 4, 4), dtype('int64'))
    >>> int(idx[0, 0].flat[0]), int(idx[0, 0].flat[-1])   # plane positions of the first/last maxima
    (73, 511)
    >>> cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))      # the same data, channels last
    >>> cypool.max_pool3d(cl, 3, stride=2, padding="same", data_format="channels_last").shape
    (2, 4, 4, 4, 3)
    """
    return _max_pool(x, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     data_format, out)

"""Global average and max pooling forward (every output size 1), 1-d to 3-d: the one-bin case of
adaptive pooling (adaptive.py, pyx/_adaptive.pyx), whose kernels take the plain per-plane
reductions for it. The result drops the size-1 spatial axes unless keepdims. The gradients are in
global_pool_backward.py.
"""
from __future__ import annotations

import numpy as np

from ._steps import CF, DataFormat, PoolResult
from .adaptive import _adaptive_pool


def global_avg_pool1d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    """1-d global average pooling: the mean of each ``(n, c)`` plane.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, L)`` or unbatched ``(C, L)`` (channels last: ``(N, L, C)``, ``(L, C)``), any
        strides; float16, bfloat16 (16-bit I/O), float32 or float64.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1)``) instead of returning
        ``(N, C)``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_avg_pool2d``.

    See Also
    --------
    cypool.global_avg_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((2, 3, 6))
    >>> cypool.global_avg_pool1d(x).shape, cypool.global_avg_pool1d(x, keepdims=True).shape
    ((2, 3), (2, 3, 1))
    """
    return _adaptive_pool(x, 1, 1, False, data_format, "adaptive_avg", keepdims, True)


def global_avg_pool2d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    """2-d global average pooling: the mean of each ``(n, c)`` plane.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` or unbatched ``(C, H, W)`` (channels last: ``(N, H, W, C)``,
        ``(H, W, C)``), any strides; float16, bfloat16 (16-bit I/O), float32 or float64.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1)``) instead of returning
        ``(N, C)``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or ``keepdims`` is not a bool.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, or ``data_format`` is
        unknown.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((2, 3, 6, 6))
    >>> cypool.global_avg_pool2d(x).shape, cypool.global_avg_pool2d(x, keepdims=True).shape
    ((2, 3), (2, 3, 1, 1))
    """
    return _adaptive_pool(x, 2, 1, False, data_format, "adaptive_avg", keepdims, True)


def global_avg_pool3d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    """3-d global average pooling: the mean of each ``(n, c)`` plane.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` (channels last: ``(N, D, H, W, C)``,
        ``(D, H, W, C)``), any strides; float16, bfloat16 (16-bit I/O), float32 or float64.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1, 1)``) instead of returning
        ``(N, C)``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_avg_pool2d``.

    See Also
    --------
    cypool.global_avg_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((2, 3, 6, 6, 6))
    >>> cypool.global_avg_pool3d(x).shape, cypool.global_avg_pool3d(x, keepdims=True).shape
    ((2, 3), (2, 3, 1, 1, 1))
    """
    return _adaptive_pool(x, 3, 1, False, data_format, "adaptive_avg", keepdims, True)


def global_max_pool1d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    """1-d global max pooling: the maximum of each ``(n, c)`` plane.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, L)`` or unbatched ``(C, L)`` (channels last: ``(N, L, C)``, ``(L, C)``), any
        strides; float16, bfloat16 (in float32), float32, float64, (u)int8 to (u)int32, int64 or
        bool.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1)``) instead of returning
        ``(N, C)``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``l``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``; same shape as ``y``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_max_pool2d``.

    See Also
    --------
    cypool.global_max_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> cypool.global_max_pool1d(x, return_indices=True)
    (array([[5.]], dtype=float32), array([[5]]))
    """
    return _adaptive_pool(x, 1, 1, return_indices, data_format, "adaptive_max", keepdims, True)


def global_max_pool2d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    """2-d global max pooling: the maximum of each ``(n, c)`` plane.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` or unbatched ``(C, H, W)`` (channels last: ``(N, H, W, C)``,
        ``(H, W, C)``), any strides; float16, bfloat16 (in float32), float32, float64, (u)int8 to
        (u)int32, int64 or bool.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1)``) instead of returning
        ``(N, C)``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``; same shape as ``y``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, or ``keepdims`` or
        ``return_indices`` is not a bool.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, or ``data_format`` is
        unknown.

    Notes
    -----
    NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order (PyTorch 2.x's semantics; the user guide gives them in full).

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    >>> cypool.global_max_pool2d(x, return_indices=True)
    (array([[35.]], dtype=float32), array([[35]]))
    """
    return _adaptive_pool(x, 2, 1, return_indices, data_format, "adaptive_max", keepdims, True)


def global_max_pool3d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    """3-d global max pooling: the maximum of each ``(n, c)`` plane.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` (channels last: ``(N, D, H, W, C)``,
        ``(D, H, W, C)``), any strides; float16, bfloat16 (in float32), float32, float64, (u)int8 to
        (u)int32, int64 or bool.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1, 1)``) instead of returning
        ``(N, C)``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``d * H * W + h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C)`` (``(C,)`` unbatched), or with ``keepdims=True`` size-1 spatial axes.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``; same shape as ``y``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_max_pool2d``.

    See Also
    --------
    cypool.global_max_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(216, dtype=np.float32).reshape(1, 1, 6, 6, 6)
    >>> cypool.global_max_pool3d(x, return_indices=True)
    (array([[215.]], dtype=float32), array([[215]]))
    """
    return _adaptive_pool(x, 3, 1, return_indices, data_format, "adaptive_max", keepdims, True)

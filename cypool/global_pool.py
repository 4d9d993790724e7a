"""Global average and max pooling (every output size 1), forward and backward, 1-d to 3-d: the
one-bin case of adaptive pooling (adaptive.py, pyx/_adaptive.pyx), whose kernels take the plain
per-plane reductions for it. The result drops the size-1 spatial axes unless keepdims.
"""
from __future__ import annotations

import numpy as np

from ._layout import check_data_format
from ._steps import CF, DataFormat, PoolResult, Shape
from .adaptive import _adaptive_avg_backward, _adaptive_pool
from .max import _max_backward


def _keepdims_grad(grad_output, input_shape, rank, data_format, name="grad_output"):
    """Give a (N, C) or (C,) global-pooling gradient its size-1 spatial axes back."""
    if not isinstance(grad_output, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(grad_output).__name__}")
    n_in = len(input_shape) if isinstance(input_shape, (tuple, list)) else -1
    if grad_output.ndim == n_in - rank:
        ones = (1,) * rank
        if data_format == "channels_last":
            return grad_output.reshape(grad_output.shape[:-1] + ones + grad_output.shape[-1:])
        return grad_output.reshape(grad_output.shape + ones)
    return grad_output


def _global_avg_backward(grad_output, input_shape, rank, data_format):
    check_data_format(data_format)
    g = _keepdims_grad(grad_output, input_shape, rank, data_format)
    return _adaptive_avg_backward(g, input_shape, rank, data_format)


def _global_max_backward(grad_output, indices, input_shape, rank, data_format):
    check_data_format(data_format)
    g = _keepdims_grad(grad_output, input_shape, rank, data_format)
    i = _keepdims_grad(indices, input_shape, rank, data_format, "indices")
    return _max_backward(g, i, input_shape, rank, data_format)


def global_avg_pool1d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    """1-d global average pooling: the mean of each ``(n, c)`` plane.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, L)`` (or unbatched ``(C, L)``) when
        ``data_format="channels_first"``, ``(N, L, C)`` (or ``(L, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1)``) instead of returning
        ``(N, C)``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

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
        Input of shape ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) when
        ``data_format="channels_first"``, ``(N, H, W, C)`` (or ``(H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1)``) instead of returning
        ``(N, C)``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

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
        Input of shape ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) when
        ``data_format="channels_first"``, ``(N, D, H, W, C)`` (or ``(D, H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1, 1)``) instead of returning
        ``(N, C)``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

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
        Input of shape ``(N, C, L)`` (or unbatched ``(C, L)``) when
        ``data_format="channels_first"``, ``(N, L, C)`` (or ``(L, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1)``) instead of returning
        ``(N, C)``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``l``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Max: NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order; a window holding no input cell (possible with dilation) gives the
    lowest value and an index outside the plane, which backward and unpool refuse.

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
        Input of shape ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) when
        ``data_format="channels_first"``, ``(N, H, W, C)`` (or ``(H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1)``) instead of returning
        ``(N, C)``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Max: NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order; a window holding no input cell (possible with dilation) gives the
    lowest value and an index outside the plane, which backward and unpool refuse.

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
        Input of shape ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) when
        ``data_format="channels_first"``, ``(N, D, H, W, C)`` (or ``(D, H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64 (float16 and bfloat16 are computed in float32), int8, uint8,
        int16, uint16, int32, uint32, int64 and bool. The output has the input's dtype.
    keepdims : bool, default False
        Keep the pooled spatial axes with size 1 (``(N, C, 1, 1, 1)``) instead of returning
        ``(N, C)``.
    return_indices : bool, default False
        Also return the int64 indices of the maxima: flat positions within each ``(n, c)`` plane of
        the input (``d * H * W + h * W + w``) in both data formats, PyTorch's convention.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

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
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Max: NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order; a window holding no input cell (possible with dilation) gives the
    lowest value and an index outside the plane, which backward and unpool refuse.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(216, dtype=np.float32).reshape(1, 1, 6, 6, 6)
    >>> cypool.global_max_pool3d(x, return_indices=True)
    (array([[215.]], dtype=float32), array([[215]]))
    """
    return _adaptive_pool(x, 3, 1, return_indices, data_format, "adaptive_max", keepdims, True)


def global_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 1-d global average pooling.

    ``grad_output`` may be ``(N, C)`` or keep the size-1 spatial axes.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray or ``input_shape`` is not a tuple
        of ints.
    ValueError
        If the shapes disagree or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.global_avg_pool1d_backward(np.ones((2, 3)), (2, 3, 6))
    >>> gx.shape, round(float(gx[0, 0].sum()), 12)
    ((2, 3, 6), 1.0)
    """
    return _global_avg_backward(grad_output, input_shape, 1, data_format)


def global_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 2-d global average pooling.

    ``grad_output`` may be ``(N, C)`` or keep the size-1 spatial axes.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray or ``input_shape`` is not a tuple
        of ints.
    ValueError
        If the shapes disagree or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.global_avg_pool2d_backward(np.ones((2, 3)), (2, 3, 6, 6))
    >>> gx.shape, round(float(gx[0, 0].sum()), 12)
    ((2, 3, 6, 6), 1.0)
    """
    return _global_avg_backward(grad_output, input_shape, 2, data_format)


def global_avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 3-d global average pooling.

    ``grad_output`` may be ``(N, C)`` or keep the size-1 spatial axes.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray or ``input_shape`` is not a tuple
        of ints.
    ValueError
        If the shapes disagree or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.global_avg_pool3d_backward(np.ones((2, 3)), (2, 3, 6, 6, 6))
    >>> gx.shape, round(float(gx[0, 0].sum()), 12)
    ((2, 3, 6, 6, 6), 1.0)
    """
    return _global_avg_backward(grad_output, input_shape, 3, data_format)


def global_max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 1-d global max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If an array is not a numpy.ndarray, ``grad_output`` is not floating point, ``indices`` is
        not int64, or ``input_shape`` is not a tuple of ints.
    ValueError
        If the shapes disagree, an index lies outside its plane, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> y, idx = cypool.global_max_pool1d(x, return_indices=True)
    >>> gx = cypool.global_max_pool1d_backward(np.ones((1, 1)), idx, x.shape)
    >>> float(gx.sum()), float(gx.reshape(-1)[-1])
    (1.0, 1.0)
    """
    return _global_max_backward(grad_output, indices, input_shape, 1, data_format)


def global_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 2-d global max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If an array is not a numpy.ndarray, ``grad_output`` is not floating point, ``indices`` is
        not int64, or ``input_shape`` is not a tuple of ints.
    ValueError
        If the shapes disagree, an index lies outside its plane, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    >>> y, idx = cypool.global_max_pool2d(x, return_indices=True)
    >>> gx = cypool.global_max_pool2d_backward(np.ones((1, 1)), idx, x.shape)
    >>> float(gx.sum()), float(gx.reshape(-1)[-1])
    (1.0, 1.0)
    """
    return _global_max_backward(grad_output, indices, input_shape, 2, data_format)


def global_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 3-d global max pooling.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16, float32 or float64.
    indices : numpy.ndarray of int64
        The indices returned by the forward call with ``return_indices=True`` (same shape as
        ``grad_output``). Indices outside the plane raise ValueError.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If an array is not a numpy.ndarray, ``grad_output`` is not floating point, ``indices`` is
        not int64, or ``input_shape`` is not a tuple of ints.
    ValueError
        If the shapes disagree, an index lies outside its plane, or ``data_format`` is unknown.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(216, dtype=np.float32).reshape(1, 1, 6, 6, 6)
    >>> y, idx = cypool.global_max_pool3d(x, return_indices=True)
    >>> gx = cypool.global_max_pool3d_backward(np.ones((1, 1)), idx, x.shape)
    >>> float(gx.sum()), float(gx.reshape(-1)[-1])
    (1.0, 1.0)
    """
    return _global_max_backward(grad_output, indices, input_shape, 3, data_format)

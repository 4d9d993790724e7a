"""Global average and max pooling backward, 1-d to 3-d: the gradients of adaptive pooling's
one-bin case (adaptive_backward.py, max_backward.py), for a gradient with or without the size-1
spatial axes.
"""
from __future__ import annotations

import numpy as np

from ._layout import check_data_format
from ._steps import CF, DataFormat, Shape
from .adaptive_backward import _adaptive_avg_backward
from .max_backward import _max_backward


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


def global_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of 1-d global average pooling.

    ``grad_output`` may be ``(N, C)`` or keep the size-1 spatial axes.

    Parameters
    ----------
    grad_output : numpy.ndarray
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_avg_pool2d_backward``.

    See Also
    --------
    cypool.global_avg_pool2d_backward : The same operator in 2-d.

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
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

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
        The gradient of the forward output (its shape and data format), floating point.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_avg_pool2d_backward``.

    See Also
    --------
    cypool.global_avg_pool2d_backward : The same operator in 2-d.

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
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_max_pool2d_backward``.

    See Also
    --------
    cypool.global_max_pool2d_backward : The same operator in 2-d.

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
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

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
        The gradient of the forward output (its shape and data format), floating point.
    indices : numpy.ndarray of int64
        The forward's ``return_indices=True`` output; an index outside the plane raises.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``global_max_pool2d_backward``.

    See Also
    --------
    cypool.global_max_pool2d_backward : The same operator in 2-d.

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

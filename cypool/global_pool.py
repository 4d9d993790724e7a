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
    """@doc global_avg_pool 1"""
    return _adaptive_pool(x, 1, 1, False, data_format, "adaptive_avg", keepdims)


def global_avg_pool2d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_avg_pool 2"""
    return _adaptive_pool(x, 2, 1, False, data_format, "adaptive_avg", keepdims)


def global_avg_pool3d(x: np.ndarray, keepdims: bool = False,
                      data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_avg_pool 3"""
    return _adaptive_pool(x, 3, 1, False, data_format, "adaptive_avg", keepdims)


def global_max_pool1d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    """@doc global_max_pool 1"""
    return _adaptive_pool(x, 1, 1, return_indices, data_format, "adaptive_max", keepdims)


def global_max_pool2d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    """@doc global_max_pool 2"""
    return _adaptive_pool(x, 2, 1, return_indices, data_format, "adaptive_max", keepdims)


def global_max_pool3d(x: np.ndarray, keepdims: bool = False, return_indices: bool = False,
                      data_format: DataFormat = CF) -> PoolResult:
    """@doc global_max_pool 3"""
    return _adaptive_pool(x, 3, 1, return_indices, data_format, "adaptive_max", keepdims)


def global_avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_avg_pool_backward 1"""
    return _global_avg_backward(grad_output, input_shape, 1, data_format)


def global_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_avg_pool_backward 2"""
    return _global_avg_backward(grad_output, input_shape, 2, data_format)


def global_avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_avg_pool_backward 3"""
    return _global_avg_backward(grad_output, input_shape, 3, data_format)


def global_max_pool1d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_max_pool_backward 1"""
    return _global_max_backward(grad_output, indices, input_shape, 1, data_format)


def global_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_max_pool_backward 2"""
    return _global_max_backward(grad_output, indices, input_shape, 2, data_format)


def global_max_pool3d_backward(grad_output: np.ndarray, indices: np.ndarray, input_shape: Shape,
                               data_format: DataFormat = CF) -> np.ndarray:
    """@doc global_max_pool_backward 3"""
    return _global_max_backward(grad_output, indices, input_shape, 3, data_format)

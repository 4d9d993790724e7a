"""Fractional max pooling (Graham 2014) on NumPy arrays, 2-d and 3-d, with PyTorch's semantics.

Each (n, c) plane draws one sample u in [0, 1) per spatial axis; the windows of size k start at
``int((i + u) * alpha) - int(u * alpha)`` for i < O - 1, with alpha = (L - k) / (O - 1), and the
last one at L - k (torch's ``generate_intervals``, computed in the samples' dtype as torch computes
in the input's). Within a window the maximum wins, the first of equal ones, a NaN over anything
(the last NaN); indices are flat per plane, as max pooling's, so the backward is max pooling's
scatter-add (``max_pool2d_backward``).

This is a vectorised NumPy implementation (it gathers every window: memory N*C*O*k), not yet a
Cython kernel.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np


IntOrTuple = Union[int, Sequence[int]]

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_backward",
           "fractional_max_pool3d_backward", "fractional_intervals"]

_AXES = {2: ("height", "width"), 3: ("time", "height", "width")}


def fractional_intervals(sample, input_size: int, output_size: int, pool_size: int) -> np.ndarray:
    """Window starts along one axis for samples of any shape: (..., output_size) int64.

    Arithmetic in the samples' dtype (float16, float32, float64, or ml_dtypes.bfloat16), each
    operation rounded as torch's scalar type rounds it."""
    sample = np.asarray(sample)
    dt = sample.dtype.type
    out = np.empty(sample.shape + (output_size,), np.int64)
    if output_size > 1:
        alpha = dt(input_size - pool_size) / dt(output_size - 1)
        i = np.arange(output_size - 1).astype(sample.dtype)
        first = ((i + sample[..., None]) * alpha).astype(np.float64).astype(np.int64)
        offset = (sample * alpha).astype(np.float64).astype(np.int64)
        out[..., :-1] = first - offset[..., None]
    if output_size > 0:
        out[..., -1] = input_size - pool_size
    return out


def _ints(value, rank: int, name: str) -> tuple:
    vals = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    if len(vals) != rank or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                    for v in vals):
        raise TypeError(f"{name} must be an int or a tuple of {rank} ints, got {name}={value!r}")
    return tuple(int(v) for v in vals)


def _fractional(x, rank, kernel_size, output_size, output_ratio, random_samples, return_indices,
                seed):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"x has unsupported dtype {x.dtype}; fractional max pooling takes "
                        f"floating types")
    if x.ndim not in (rank + 1, rank + 2):
        raise ValueError(f"x must have {rank + 1} (unbatched) or {rank + 2} (batched) "
                         f"dimensions, got x.shape={x.shape}")
    batched = x.ndim == rank + 2
    xb = x if batched else x[None]
    n, c, spatial = xb.shape[0], xb.shape[1], xb.shape[2:]
    k = _ints(kernel_size, rank, "kernel_size")
    if min(k) < 1:
        raise ValueError(f"kernel_size must be positive, got kernel_size={kernel_size!r}")
    if output_size is None:
        if output_ratio is None:
            raise ValueError("fractional max pooling needs output_size or output_ratio")
        ratio = tuple(output_ratio) if isinstance(output_ratio, (list, tuple)) else \
            (output_ratio,) * rank
        if len(ratio) != rank or not all(0 < r < 1 for r in ratio):
            raise ValueError(f"output_ratio must be {rank} numbers in (0, 1), got "
                             f"output_ratio={output_ratio!r}")
        out = tuple(int(L * r) for L, r in zip(spatial, ratio))
    else:
        out = _ints(output_size, rank, "output_size")
        if min(out) < 0:
            raise ValueError(f"output_size must be non-negative, got output_size={output_size!r}")
    for axis, L, kk, o in zip(_AXES[rank], spatial, k, out):
        # torch's limits: o + k - 1 <= L in 2-d, < L in 3-d
        if o + kk - 1 > L - (rank == 3):
            raise ValueError(f"fractional_max_pool{rank}d: pool {axis} {kk} too large relative "
                             f"to input {axis} {L} for output {axis} {o}")
    if random_samples is None:
        random_samples = np.random.default_rng(seed).random((n, c, rank)).astype(x.dtype)
    u = np.asarray(random_samples)
    if u.shape != (n, c, rank):
        raise ValueError(f"random_samples must have shape {(n, c, rank)}, got {u.shape}")
    # torch's sample order: 2-d (W, H), 3-d (T, H, W)
    order = (1, 0) if rank == 2 else (0, 1, 2)
    flat = np.zeros((n, c) + out + k, np.int64)
    plane_strides = [math.prod(spatial[a + 1:]) for a in range(rank)]
    for a in range(rank):
        starts = fractional_intervals(u[:, :, order[a]], spatial[a], out[a], k[a])
        coord = starts[..., None] + np.arange(k[a])            # (n, c, O_a, k_a)
        shape = [n, c] + [1] * (2 * rank)
        shape[2 + a], shape[2 + rank + a] = out[a], k[a]
        flat += (coord * plane_strides[a]).reshape(shape)
    windows = flat.reshape(n, c, math.prod(out), math.prod(k))
    vals = np.take_along_axis(xb.reshape(n, c, -1), windows.reshape(n, c, -1), axis=2)
    vals = vals.reshape(windows.shape)
    nan = np.isnan(vals)
    pick = np.argmax(vals, axis=-1)
    last_nan = vals.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    pick = np.where(nan.any(axis=-1), last_nan, pick) if vals.shape[-1] else pick
    idx = np.take_along_axis(windows, pick[..., None], axis=-1)[..., 0].reshape((n, c) + out)
    y = np.take_along_axis(vals, pick[..., None], axis=-1)[..., 0].reshape((n, c) + out)
    if not batched:
        y, idx = y[0], idx[0]
    return (y, idx) if return_indices else y


def fractional_max_pool2d(x: np.ndarray, kernel_size: IntOrTuple,
                          output_size: Optional[IntOrTuple] = None, output_ratio=None,
                          random_samples: Optional[np.ndarray] = None,
                          return_indices: bool = False, seed=None):
    """Fractional max pooling of (N, C, H, W) or (C, H, W) arrays (torch's FractionalMaxPool2d).

    output_size, or output_ratio (each in (0, 1): output int(L * ratio)); random_samples of shape
    (N, C, 2) in [0, 1), index 0 for the width and 1 for the height (torch's order), or drawn
    from ``np.random.default_rng(seed)``. Returns the pooled array (and int64 indices, flat per
    plane)."""
    return _fractional(x, 2, kernel_size, output_size, output_ratio, random_samples,
                       return_indices, seed)


def fractional_max_pool3d(x: np.ndarray, kernel_size: IntOrTuple,
                          output_size: Optional[IntOrTuple] = None, output_ratio=None,
                          random_samples: Optional[np.ndarray] = None,
                          return_indices: bool = False, seed=None):
    """Fractional max pooling of (N, C, T, H, W) or (C, T, H, W) arrays (torch's
    FractionalMaxPool3d); random_samples of shape (N, C, 3) in [0, 1), order (T, H, W)."""
    return _fractional(x, 3, kernel_size, output_size, output_ratio, random_samples,
                       return_indices, seed)


def fractional_max_pool2d_backward(grad_output, indices, input_shape):
    """The input gradient: grad_output added at the indices (max pooling's backward)."""
    from . import max_pool2d_backward   # the public function (imported late: no cycle)
    return max_pool2d_backward(grad_output, indices, input_shape)


def fractional_max_pool3d_backward(grad_output, indices, input_shape):
    """The input gradient: grad_output added at the indices (max pooling's backward)."""
    from . import max_pool3d_backward
    return max_pool3d_backward(grad_output, indices, input_shape)

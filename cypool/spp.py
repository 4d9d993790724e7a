"""Spatial pyramid pooling (He et al. 2014) with PyTorch's adaptive bins, forward and backward:
adaptive max or average pooling per level (adaptive.py), flattened and concatenated.
"""
from __future__ import annotations

import numpy as np

from ._geometry import _is_int, check_bool
from ._layout import check_data_format, shape_to_canonical
from ._steps import CF
from .adaptive import _adaptive_avg_backward, _adaptive_pool
from .max import _max_backward


def _check_levels(levels) -> tuple:
    if _is_int(levels):
        levels = (levels,)
    if not isinstance(levels, (tuple, list)) or not levels or not all(_is_int(v) for v in levels):
        raise TypeError(f"levels must be a non-empty tuple of ints, got levels={levels!r}")
    if any(v < 1 for v in levels):
        raise ValueError(f"levels must be positive, got levels={levels!r}")
    return tuple(int(v) for v in levels)


def _check_mode(mode) -> str:
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got mode={mode!r}")
    return mode


def _level_to_flat(y, data_format):
    """(N, C, l, l) in the caller's data format -> (N, C*l*l), channel-major in both formats."""
    if data_format == "channels_last":
        y = np.moveaxis(y, -1, -3)
    return y.reshape(y.shape[:-3] + (-1,))


def spatial_pyramid_pool(x, levels=(4, 2, 1), mode="max", return_indices=False,
                         data_format=CF):
    """Spatial pyramid pooling (He et al. 2014) with adaptive bins: each level l pools the map
    into l x l bins [floor(i*L/l), ceil((i+1)*L/l)) (they always cover the input) with max or
    average; the levels are flattened channel-major, (C, l, l), and concatenated: (N, C *
    sum(l*l)) for both data formats. return_indices (max only) gives one index array per level
    for spatial_pyramid_pool_backward."""
    levels, mode = _check_levels(levels), _check_mode(mode)
    data_format = check_data_format(data_format)
    return_indices = check_bool(return_indices, "return_indices")
    if return_indices and mode != "max":
        raise ValueError("return_indices=True needs mode='max'")
    parts, indices = [], []
    for level in levels:
        if mode == "max":
            y, idx = _adaptive_pool(x, 2, level, True, data_format, "adaptive_max")
            indices.append(idx)
        else:
            y = _adaptive_pool(x, 2, level, False, data_format, "adaptive_avg")
        parts.append(_level_to_flat(y, data_format))
    out = np.concatenate(parts, axis=-1)
    return (out, indices) if return_indices else out


def spatial_pyramid_pool_backward(grad_output, input_shape, levels=(4, 2, 1), mode="max",
                                  indices=None, data_format=CF):
    """Gradient of spatial_pyramid_pool wrt x: each level's slice of grad_output goes back
    through its adaptive pool, and the levels are summed. mode='max' needs the `indices` list
    returned by spatial_pyramid_pool(..., return_indices=True)."""
    levels, mode = _check_levels(levels), _check_mode(mode)
    data_format = check_data_format(data_format)
    if not isinstance(grad_output, np.ndarray):
        raise TypeError(f"grad_output must be a numpy.ndarray, got {type(grad_output).__name__}")
    n, c, spatial, batched = shape_to_canonical(input_shape, 2, data_format)
    width = c * sum(v * v for v in levels)
    expected = (n, width) if batched else (width,)
    if grad_output.shape != expected:
        raise ValueError(f"grad_output.shape={grad_output.shape} must be {expected} for "
                         f"input_shape={tuple(input_shape)} and levels={levels}")
    if mode == "max" and (not isinstance(indices, (list, tuple)) or len(indices) != len(levels)):
        raise ValueError(f"mode='max' needs indices: a list of {len(levels)} arrays from "
                         f"spatial_pyramid_pool(..., return_indices=True), got {type(indices)}")
    total, start = None, 0
    for i, level in enumerate(levels):
        g = grad_output[..., start:start + c * level * level]
        start += c * level * level
        g = g.reshape(g.shape[:-1] + (c, level, level))
        if data_format == "channels_last":
            g = np.moveaxis(g, -3, -1)
        if mode == "max":
            gx = _max_backward(np.ascontiguousarray(g), indices[i], input_shape, 2, data_format)
        else:
            gx = _adaptive_avg_backward(np.ascontiguousarray(g), input_shape, 2, data_format)
        total = gx if total is None else total + gx
    return total

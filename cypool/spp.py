"""Spatial pyramid pooling (He et al. 2014) with PyTorch's adaptive bins, forward and backward:
adaptive max or average pooling per level (adaptive.py), flattened and concatenated.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple, Union

import numpy as np

from ._geometry import _is_int, check_bool
from ._layout import check_data_format, shape_to_canonical
from ._steps import CF, DataFormat, Shape

Levels = Union[int, Tuple[int, ...]]
SppResult = Union[np.ndarray, Tuple[np.ndarray, List[np.ndarray]]]
from . import _adaptive
from ._threads import threads_for
from .adaptive import _adaptive_pool
from .adaptive_backward import _adaptive_avg_backward
from .max_backward import _max_backward

# Max levels of at most this many bins a plane, after the first, are added to the gradient
# without a dense gradient of their own (_adaptive.add_level: K^2 work a plane).
SPARSE_LEVEL_BINS = 16


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


def spatial_pyramid_pool(x: np.ndarray, levels: Levels = (4, 2, 1), mode: str = "max",
                         return_indices: bool = False,
                         data_format: DataFormat = CF) -> SppResult:
    """Spatial pyramid pooling (He et al. 2014) with adaptive bins.

    Each level ``l`` pools the map into ``l x l`` bins ``[floor(i*L/l), ceil((i+1)*L/l))`` with
    max or average; the levels are flattened channel-major, ``(C, l, l)``, and concatenated.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` or ``(N, H, W, C)`` (or unbatched); the dtypes of adaptive ``mode``
        pooling.
    levels : int or tuple of ints, default (4, 2, 1)
        Bins per side of each level, positive.
    mode : {"max", "avg"}, default "max"
        The pooling of each bin.
    return_indices : bool, default False
        Also return one index array per level (max only), for the backward.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        ``(N, C * sum(l * l))`` (``(C * sum(l * l),)`` unbatched) in both data formats.
    indices : list of numpy.ndarray
        Only with ``return_indices=True``: each level's adaptive max indices.

    Raises
    ------
    TypeError
        If ``x`` or ``levels`` has the wrong type.
    ValueError
        If a level is not positive, ``mode`` is unknown, ``return_indices=True`` comes with
        ``mode="avg"``, or ``data_format`` is unknown.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((2, 3, 8, 8), np.float32)
    >>> cypool.spatial_pyramid_pool(x, (2, 1)).shape   # 3 * (4 + 1)
    (2, 15)
    """
    levels, mode = _check_levels(levels), _check_mode(mode)
    data_format = check_data_format(data_format)
    return_indices = check_bool(return_indices, "return_indices")
    if return_indices and mode != "max":
        raise ValueError("return_indices=True needs mode='max'")
    parts, indices = [], []
    for level in levels:
        if mode == "max" and return_indices:
            y, idx = _adaptive_pool(x, 2, level, True, data_format, "adaptive_max")
            indices.append(idx)
        elif mode == "max":
            y = _adaptive_pool(x, 2, level, False, data_format, "adaptive_max")
        else:
            y = _adaptive_pool(x, 2, level, False, data_format, "adaptive_avg")
        parts.append(_level_to_flat(y, data_format))
    out = np.concatenate(parts, axis=-1)
    return (out, indices) if return_indices else out


def _add_sparse(total, g, idx, n, c, spatial, level, data_format) -> bool:
    """Add one max level's gradient into total in place, cell by cell (_adaptive.add_level);
    False (nothing done) when the dense route must take it: the first level, a large level, or
    arrays the kernel does not read as given."""
    k = level * level
    if (total is None or k > SPARSE_LEVEL_BINS or total.dtype not in (np.float32, np.float64)
            or not total.flags.c_contiguous or g.dtype != total.dtype
            or type(idx) is not np.ndarray or idx.dtype != np.int64
            or not idx.flags.c_contiguous or idx.shape != g.shape):
        return False
    g = np.ascontiguousarray(g)
    in_plane = math.prod(spatial)
    bad = _adaptive.add_level(total, g, idx, n, c, in_plane, k,
                              data_format == "channels_last",
                              threads_for(total.nbytes, n * c))
    if bad:
        raise ValueError(f"indices has {bad} entries outside [0, {in_plane}), the flat positions "
                         f"of one plane")
    return True


def spatial_pyramid_pool_backward(grad_output: np.ndarray, input_shape: Shape,
                                  levels: Levels = (4, 2, 1), mode: str = "max",
                                  indices: Optional[List[np.ndarray]] = None,
                                  data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of spatial_pyramid_pool with respect to x.

    Each level's slice of ``grad_output`` goes back through its adaptive pooling; the levels are
    summed.

    Parameters
    ----------
    grad_output : numpy.ndarray
        ``(N, C * sum(l * l))``, the shape of the forward result.
    input_shape : tuple of ints
        Shape of the forward input.
    levels : int or tuple of ints, default (4, 2, 1)
        The forward levels.
    mode : {"max", "avg"}, default "max"
        The forward mode.
    indices : list of numpy.ndarray, optional
        The list ``spatial_pyramid_pool(..., return_indices=True)`` returned; needed for
        ``mode="max"``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a numpy.ndarray or ``levels`` has the wrong type.
    ValueError
        If ``grad_output`` has the wrong shape, ``mode="max"`` comes without its indices, or an
        argument is out of range.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((1, 2, 4, 4), np.float32)
    >>> y = cypool.spatial_pyramid_pool(x, (2, 1), "avg")
    >>> g = cypool.spatial_pyramid_pool_backward(np.ones_like(y), x.shape, (2, 1), "avg")
    >>> g.shape, float(g.sum())   # each level passes back one per bin: 2 * (4 + 1)
    ((1, 2, 4, 4), 10.0)
    """
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
        if mode == "max" and _add_sparse(total, g, indices[i], n, c, spatial, level,
                                         data_format):
            continue
        if mode == "max":
            gx = _max_backward(np.ascontiguousarray(g), indices[i], input_shape, 2, data_format)
        else:
            gx = _adaptive_avg_backward(np.ascontiguousarray(g), input_shape, 2, data_format)
        if total is None:
            total = gx
        else:  # in place: the same sums, without a new array per level
            np.add(total, gx, out=total)
    return total

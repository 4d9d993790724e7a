"""Adaptive average and max pooling forward, 1-d to 3-d: the Python side of pyx/_adaptive.pyx
(global pooling, in global_pool.py, is its one-bin case; the gradients are in
adaptive_backward.py).

Each public function is one plan look-up and one run (cypool._plan); `_adaptive_plan` validates
the arguments and prepares `_adaptive.AdaptiveCall` with the call's Window.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _adaptive
from ._geometry import adaptive_geometry, check_bool
from ._layout import check_data_format, is_half
from ._plan import PLANS, Plan, plain
from ._steps import (CF, DataFormat, OutputSize, PoolResult, destination, forward_items,
                     input_source, prepare)


def _adaptive_pool(x, rank, output_size, return_indices, data_format, op, keepdims=True,
                   is_global=False, out=None):
    """Adaptive pooling forward: op "adaptive_avg" or "adaptive_max". Global pooling passes its
    keepdims (False: the result drops its size-1 spatial axes) and is_global=True."""
    key = None
    if (type(x) is np.ndarray and type(data_format) is str and plain(output_size)
            and type(return_indices) is bool and type(keepdims) is bool):
        key = (op, x.shape, x.strides, x.dtype, rank, output_size,
               return_indices, data_format, keepdims, is_global)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _adaptive_plan(x, rank, output_size, return_indices, data_format, op,
                                             keepdims, is_global))
    return plan.run(x, None, out)


def _adaptive_plan(x, rank, output_size, return_indices, data_format, op, keepdims,
                   is_global) -> Plan:
    if is_global:  # global pooling checks its flags first
        check_data_format(data_format)
        return_indices = check_bool(return_indices, "return_indices")
    family = "max" if op == "adaptive_max" else "float"
    # the global average reads float16 and bfloat16 as they are; other bins take a float32 copy
    half = op == "adaptive_avg"
    can = prepare(x, rank, data_format, family, half=half)
    geo = adaptive_geometry(can.spatial[3 - rank:], rank, output_size)
    if half and tuple(geo.out_size) != (1, 1, 1):
        half = False
        if is_half(can.view.dtype):
            can = prepare(x, rank, data_format, family)
    return_indices = check_bool(return_indices, "return_indices")
    keepdims = check_bool(keepdims, "keepdims")
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _adaptive.AdaptiveCall(op[len("adaptive_"):], geo.window(), can.n if cl else can.n * can.c, can.c, 0,
                                    cl, can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=forward_items(can, geo.out_size),
                source=input_source(x, can, family, half=half),
                # the kernels skip the indices nobody asked for
                new_indices=family == "max" and return_indices, return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype, keepdims))


def adaptive_avg_pool1d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """1-d adaptive average pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, L)`` or unbatched ``(C, L)`` (channels last: ``(N, L, C)``, ``(L, C)``), any
        strides; float16, bfloat16 (in float32), float32 or float64.
    output_size : int or tuple of 1 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_avg_pool2d``.

    See Also
    --------
    cypool.adaptive_avg_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 6, dtype=np.float64).reshape(2, 3, 6)
    >>> cypool.adaptive_avg_pool1d(x, 3).shape
    (2, 3, 3)
    >>> float(cypool.adaptive_avg_pool1d(x, 1)[0, 0].flat[0])   # the mean of plane (0, 0)
    2.5
    """
    return _adaptive_pool(x, 1, output_size, False, data_format, "adaptive_avg", out=out)


def adaptive_avg_pool2d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """2-d adaptive average pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` or unbatched ``(C, H, W)`` (channels last: ``(N, H, W, C)``,
        ``(H, W, C)``), any strides; float16, bfloat16 (in float32), float32 or float64.
    output_size : int or tuple of 2 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or ``output_size`` is not an int or a tuple
        of ints or None.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, ``data_format`` is unknown, or ``out`` does not fit.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 36, dtype=np.float64).reshape(2, 3, 6, 6)
    >>> cypool.adaptive_avg_pool2d(x, 3).shape
    (2, 3, 3, 3)
    >>> float(cypool.adaptive_avg_pool2d(x, 1)[0, 0].flat[0])   # the mean of plane (0, 0)
    17.5
    """
    return _adaptive_pool(x, 2, output_size, False, data_format, "adaptive_avg", out=out)


def adaptive_avg_pool3d(x: np.ndarray, output_size: OutputSize,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """3-d adaptive average pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` (channels last: ``(N, D, H, W, C)``,
        ``(D, H, W, C)``), any strides; float16, bfloat16 (in float32), float32 or float64.
    output_size : int or tuple of 3 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        ``(N, C, *output_size)`` in the input's data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_avg_pool2d``.

    See Also
    --------
    cypool.adaptive_avg_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(2 * 3 * 216, dtype=np.float64).reshape(2, 3, 6, 6, 6)
    >>> cypool.adaptive_avg_pool3d(x, 3).shape
    (2, 3, 3, 3, 3)
    >>> float(cypool.adaptive_avg_pool3d(x, 1)[0, 0].flat[0])   # the mean of plane (0, 0)
    107.5
    """
    return _adaptive_pool(x, 3, output_size, False, data_format, "adaptive_avg", out=out)


def adaptive_max_pool1d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> PoolResult:
    """1-d adaptive max pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, L)`` or unbatched ``(C, L)`` (channels last: ``(N, L, C)``, ``(L, C)``), any
        strides; float16, bfloat16 (in float32), float32, float64, (u)int8 to (u)int32, int64 or
        bool.
    output_size : int or tuple of 1 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
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
        ``(N, C, *output_size)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_max_pool2d``.

    See Also
    --------
    cypool.adaptive_max_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> y, idx = cypool.adaptive_max_pool1d(x, 3, return_indices=True)
    >>> y.shape, int(idx.reshape(-1)[-1])
    ((1, 1, 3), 5)
    """
    return _adaptive_pool(x, 1, output_size, return_indices, data_format, "adaptive_max", out=out)


def adaptive_max_pool2d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> PoolResult:
    """2-d adaptive max pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` or unbatched ``(C, H, W)`` (channels last: ``(N, H, W, C)``,
        ``(H, W, C)``), any strides; float16, bfloat16 (in float32), float32, float64, (u)int8 to
        (u)int32, int64 or bool.
    output_size : int or tuple of 2 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
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
        ``(N, C, *output_size)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or has an unsupported dtype, ``output_size`` is not an int
        or a tuple of ints or None, or ``return_indices`` is not a bool.
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, ``output_size`` is
        negative, ``data_format`` is unknown, or ``out`` does not fit.

    Notes
    -----
    NaN propagates (its index is the last NaN in window order); ties go to the first maximum in
    row-major window order (PyTorch 2.x's semantics; the user guide gives them in full).

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool2d(x, 3, return_indices=True)
    >>> y.shape, int(idx.reshape(-1)[-1])
    ((1, 1, 3, 3), 35)
    """
    return _adaptive_pool(x, 2, output_size, return_indices, data_format, "adaptive_max", out=out)


def adaptive_max_pool3d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> PoolResult:
    """3-d adaptive max pooling to a fixed output size.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` (channels last: ``(N, D, H, W, C)``,
        ``(D, H, W, C)``), any strides; float16, bfloat16 (in float32), float32, float64, (u)int8 to
        (u)int32, int64 or bool.
    output_size : int or tuple of 3 (int or None)
        Output spatial size; a None entry keeps that axis's input size. Bin ``i`` of an axis covers
        input cells ``[floor(i * L / O), ceil((i + 1) * L / O))``.
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
        ``(N, C, *output_size)`` in the input's data format and dtype.
    indices : numpy.ndarray of int64
        Only with ``return_indices=True``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``adaptive_max_pool2d``.

    See Also
    --------
    cypool.adaptive_max_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.arange(216, dtype=np.float32).reshape(1, 1, 6, 6, 6)
    >>> y, idx = cypool.adaptive_max_pool3d(x, 3, return_indices=True)
    >>> y.shape, int(idx.reshape(-1)[-1])
    ((1, 1, 3, 3, 3), 215)
    """
    return _adaptive_pool(x, 3, output_size, return_indices, data_format, "adaptive_max", out=out)

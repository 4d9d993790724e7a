"""Lp (power-average) pooling forward, 1-d to 3-d, PyTorch's LPPool semantics: the Python side of
pyx/_lp.pyx (its gradient is in lp_backward.py).
"""
from __future__ import annotations

import math
import numbers
from typing import Optional

import numpy as np

from . import _lp
from ._geometry import pool_geometry
from ._plan import PLANS, Plan, plain
from ._steps import (CF, DataFormat, IntOrTuple, channel_block, destination, forward_items,
                     input_source, prepare)
from .avg import _check_avg3d_input


def _check_norm_type(norm_type) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"norm_type must be a real number, got norm_type={norm_type!r}")
    try:
        p = float(norm_type)
    except OverflowError:   # an int beyond the float range: not finite, like +-inf
        p = math.inf
    if not math.isfinite(p) or p <= 0:
        raise ValueError(f"norm_type must be finite and positive, got norm_type={norm_type!r}")
    return p


class _Lp:
    """pyx/_lp.pyx's functions in the plans' call convention: forward (x, y, None, n_threads),
    backward (x, grad_x, grad_output, n_threads)."""
    __slots__ = ("backward", "window", "n", "c", "cl", "p")

    def __init__(self, backward, window, n, c, cl, p):
        self.backward, self.window, self.n, self.c, self.cl, self.p = (backward, window, n, c,
                                                                       cl, p)

    def __call__(self, src, dst, grad_output, n_threads):
        # ravel("K"): the buffers are contiguous in the kernel's memory order, so these are views
        x, y = src.ravel("K"), dst.ravel("K")
        if self.backward:
            g = grad_output.ravel("K")
            if self.cl:
                _lp.lp_backward_cl(x, g, y, self.window, self.n, self.c,
                                   channel_block(self.n, self.c, n_threads), self.p, n_threads)
            else:
                _lp.lp_backward_cf(x, g, y, self.window, self.n * self.c, self.p, n_threads)
        elif self.cl:
            scratch = np.empty((n_threads, self.c), np.float64)
            _lp.lp_forward_cl(x, y, scratch, self.window, self.n, self.c, self.p, n_threads)
        else:
            _lp.lp_forward_cf(x, y, self.window, self.n * self.c, self.p, n_threads)


def _lp_key(norm_type, kernel_size, stride, ceil_mode, data_format) -> bool:
    """Whether the arguments may be part of a plan's key: norm_type an exact int or float (2 and
    2.0 are the same p), the window arguments plain (see cypool._plan)."""
    return (type(norm_type) in (int, float) and type(ceil_mode) is bool
            and type(data_format) is str and plain(kernel_size) and plain(stride))


def _lp_pool(x, rank, norm_type, kernel_size, stride, ceil_mode, data_format):
    key = None
    if type(x) is np.ndarray and _lp_key(norm_type, kernel_size, stride, ceil_mode, data_format):
        key = ("lp_pool", x.shape, x.strides, x.dtype, rank, norm_type, kernel_size, stride,
               ceil_mode, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _lp_plan(x, rank, norm_type, kernel_size, stride, ceil_mode,
                                       data_format))
    return plan.run(x)


def _lp_plan(x, rank, norm_type, kernel_size, stride, ceil_mode, data_format) -> Plan:
    p = _check_norm_type(norm_type)
    can = prepare(x, rank, data_format, "float")
    geo = pool_geometry(can.spatial[3 - rank:], rank, kernel_size, stride, 0, 1, ceil_mode)
    # PyTorch's lp_pool3d is an avg_pool3d underneath, which refuses inputs smaller than the window
    _check_avg3d_input(can.spatial, rank, kernel_size)
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    return Plan(_Lp(False, geo.window(), can.n, can.c, cl, p) if size else None,
                nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=forward_items(can, geo.out_size),
                source=input_source(x, can, "float"),
                **destination(can, geo.out_size, x.dtype))


def lp_pool1d(x: np.ndarray, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False,
              data_format: DataFormat = CF) -> np.ndarray:
    """1-d power-average (Lp) pooling, PyTorch's lp_pool1d.

    Each window gives ``(sum of x**p) ** (1/p)``, ``x**p`` without abs (as PyTorch); in ceil
    mode a partial edge window is scaled by ``kernel_size / real cells`` (PyTorch's rule). No
    padding.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, L)`` (or unbatched ``(C, L)``) channels first, ``(N, L, C)``
        channels last; float16, bfloat16 (in float32), float32 or float64, any strides.
    norm_type : float
        ``p``, finite and positive (``p = 1``: sum pooling).
    kernel_size : int or tuple of 1 ints
        Window size.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    ceil_mode : bool, default False
        Round the output size up instead of down.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        The pooled array in the input's data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``lp_pool2d``.

    See Also
    --------
    cypool.lp_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.full((1, 1, 4), 2.0)
    >>> y = cypool.lp_pool1d(x, 2, 2)
    >>> y.shape, float(y.reshape(-1)[0])   # sqrt(2 * 2**2)
    ((1, 1, 2), 2.8284271247461903)
    """
    return _lp_pool(x, 1, norm_type, kernel_size, stride, ceil_mode, data_format)


def lp_pool2d(x: np.ndarray, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False,
              data_format: DataFormat = CF) -> np.ndarray:
    """2-d power-average (Lp) pooling, PyTorch's lp_pool2d.

    Each window gives ``(sum of x**p) ** (1/p)``, ``x**p`` without abs (as PyTorch); in ceil
    mode a partial edge window is scaled by ``kernel_size / real cells`` (PyTorch's rule). No
    padding.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) channels first, ``(N, H, W, C)``
        channels last; float16, bfloat16 (in float32), float32 or float64, any strides.
    norm_type : float
        ``p``, finite and positive (``p = 1``: sum pooling).
    kernel_size : int or tuple of 2 ints
        Window size.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    ceil_mode : bool, default False
        Round the output size up instead of down.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        The pooled array in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy.ndarray or ``norm_type`` is not a real number.
    ValueError
        If ``norm_type`` is not finite and positive, a window argument is out of range, or
        ``data_format`` is unknown.

    Notes
    -----
    Results are bit-identical for any thread count; the GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.full((1, 1, 4, 4), 2.0)
    >>> y = cypool.lp_pool2d(x, 2, 2)
    >>> y.shape, float(y.reshape(-1)[0])   # sqrt(4 * 2**2)
    ((1, 1, 2, 2), 4.0)
    """
    return _lp_pool(x, 2, norm_type, kernel_size, stride, ceil_mode, data_format)


def lp_pool3d(x: np.ndarray, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False,
              data_format: DataFormat = CF) -> np.ndarray:
    """3-d power-average (Lp) pooling, PyTorch's lp_pool3d.

    Each window gives ``(sum of x**p) ** (1/p)``, ``x**p`` without abs (as PyTorch); in ceil
    mode a partial edge window is scaled by ``kernel_size / real cells`` (PyTorch's rule). No
    padding.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) channels first,
        ``(N, D, H, W, C)`` channels last; float16, bfloat16 (in float32), float32 or float64,
        any strides. Every spatial size must be at least the window's (PyTorch's rule).
    norm_type : float
        ``p``, finite and positive (``p = 1``: sum pooling).
    kernel_size : int or tuple of 3 ints
        Window size.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    ceil_mode : bool, default False
        Round the output size up instead of down.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        The pooled array in the input's data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``lp_pool2d``.

    See Also
    --------
    cypool.lp_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.full((1, 1, 2, 4, 4), 2.0)
    >>> y = cypool.lp_pool3d(x, 2, 2)
    >>> y.shape, float(y.reshape(-1)[0])   # sqrt(8 * 2**2)
    ((1, 1, 1, 2, 2), 5.656854249492381)
    """
    return _lp_pool(x, 3, norm_type, kernel_size, stride, ceil_mode, data_format)

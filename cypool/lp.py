"""Lp (power-average) pooling, forward and backward, 1-d and 2-d, PyTorch's LPPool semantics:
the Python side of pyx/_lp.pyx.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _lp
from ._geometry import pool_geometry
from ._layout import check_data_format, to_canonical
from ._steps import CF, channel_block, check_grad, finish, prepare
from ._threads import threads_for


def _grad_like(can, grad_output, rank, data_format, out_size, what):
    """grad_output checked against the expected output size and put in x's memory order."""
    grad_output = check_grad(grad_output, rank)
    gcan = to_canonical(grad_output.astype(can.view.dtype, copy=False), rank, data_format)
    if (gcan.n, gcan.c) != (can.n, can.c) or tuple(gcan.spatial) != tuple(out_size) \
            or gcan.batched != can.batched:
        expected = (can.n, can.c) + tuple(out_size)[3 - rank:]
        raise ValueError(f"grad_output.shape={grad_output.shape} does not match the {what} "
                         f"output (N, C, spatial) = {expected} ({data_format})")
    return can.conform(gcan.view)


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


def _lp_pool(x, rank, norm_type, kernel_size, stride, ceil_mode, data_format):
    dtype = getattr(x, "dtype", None)
    p = _check_norm_type(norm_type)
    can = prepare(x, rank, data_format, "float")
    geo = pool_geometry(can.spatial[3 - rank:], rank, kernel_size, stride, 0, 1, ceil_mode)
    y5 = can.empty(geo.out_size, can.view.dtype)
    if y5.size:
        rows = can.n * geo.out_size[0] * geo.out_size[1] * (can.c if can.order == "cf" else 1)
        nt = threads_for(can.view.nbytes + y5.nbytes, rows)
        if can.order == "cf":
            _lp.lp_forward_cf(can.flat(), can.flat(y5), geo.window(), can.n * can.c, p, nt)
        else:
            scratch = np.empty((nt, can.c), np.float64)
            _lp.lp_forward_cl(can.flat(), can.flat(y5), scratch, geo.window(), can.n, can.c, p,
                              nt)
    return finish(can, y5, dtype)


def _lp_backward(grad_output, x, rank, norm_type, kernel_size, stride, ceil_mode, data_format):
    p = _check_norm_type(norm_type)
    data_format = check_data_format(data_format)
    gdtype = getattr(grad_output, "dtype", None)
    can = prepare(x, rank, data_format, "float")
    geo = pool_geometry(can.spatial[3 - rank:], rank, kernel_size, stride, 0, 1, ceil_mode)
    g5 = _grad_like(can, grad_output, rank, data_format, geo.out_size, "lp_pool")
    gx5 = can.empty(geo.in_size, can.view.dtype)
    if gx5.size:
        nt = threads_for(2 * gx5.nbytes + g5.nbytes, can.n * can.c)
        if can.order == "cf":
            _lp.lp_backward_cf(can.flat(), can.flat(g5), can.flat(gx5), geo.window(),
                               can.n * can.c, p, nt)
        else:
            _lp.lp_backward_cl(can.flat(), can.flat(g5), can.flat(gx5), geo.window(), can.n,
                               can.c, channel_block(can.n, can.c, nt), p, nt)
    return finish(can, gx5, gdtype)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format=CF):
    """PyTorch's lp_pool1d: (sum over the window of x**p) ** (1/p), x**p without abs; in ceil
    mode a partial edge window is scaled by kernel_size / real_cells (PyTorch's quirk)."""
    return _lp_pool(x, 1, norm_type, kernel_size, stride, ceil_mode, data_format)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format=CF):
    """PyTorch's lp_pool2d; see lp_pool1d."""
    return _lp_pool(x, 2, norm_type, kernel_size, stride, ceil_mode, data_format)


def lp_pool1d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format=CF):
    """Gradient of lp_pool1d wrt x (PyTorch autograd's; zero through windows whose sum is 0)."""
    return _lp_backward(grad_output, x, 1, norm_type, kernel_size, stride, ceil_mode,
                        data_format)


def lp_pool2d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format=CF):
    """Gradient of lp_pool2d wrt x; see lp_pool1d_backward."""
    return _lp_backward(grad_output, x, 2, norm_type, kernel_size, stride, ceil_mode,
                        data_format)

"""Lp (power-average) pooling backward, 1-d to 3-d: pyx/_lp.pyx's backward through lp.py's `_Lp`,
which reads the forward input as well as the gradient.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import numpy as np

from ._geometry import pool_geometry
from ._layout import cast, check_data_format, to_canonical
from ._plan import PLANS, Plan
from ._steps import (CF, DataFormat, IntOrTuple, check_grad, destination, input_source, layout,
                     prepare, reads_as_given)
from .avg import _check_avg3d_input
from .lp import _check_norm_type, _Lp, _lp_key


def _lp_backward(grad_output, x, rank, norm_type, kernel_size, stride, ceil_mode, data_format):
    key = None
    if (type(x) is np.ndarray and type(grad_output) is np.ndarray
            and _lp_key(norm_type, kernel_size, stride, ceil_mode, data_format)):
        key = ("lp_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               x.shape, x.strides, x.dtype, rank, norm_type, kernel_size, stride, ceil_mode,
               data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _lp_backward_plan(grad_output, x, rank, norm_type, kernel_size,
                                                stride, ceil_mode, data_format))
    return plan.run(x, grad_output)


def _grad_in_order(lay, dtype, rank, out_size, grad_output, name="grad_output"):
    """grad_output checked against the forward output's size (N, C and the logical spatial
    size out_size) and put in the memory order and dtype of x's kernel."""
    grad = check_grad(grad_output, rank)
    gcan = to_canonical(grad if grad.dtype == dtype else cast(grad, dtype), rank, lay.data_format)
    if ((gcan.n, gcan.c) != out_size[:2] or tuple(gcan.spatial) != out_size[2:]
            or gcan.batched != lay.batched):
        expected = out_size[:2] + tuple(out_size[2:])[3 - rank:]
        raise ValueError(f"{name}.shape={grad.shape} does not match the lp_pool output "
                         f"(N, C, spatial) = {expected} ({lay.data_format})")
    return lay.conform(gcan.view)


def _flat_grad_in_order(lay, dtype, rank, out_size, grad_output):
    return lay.flat(_grad_in_order(lay, dtype, rank, out_size, grad_output))


def _lp_backward_plan(grad_output, x, rank, norm_type, kernel_size, stride, ceil_mode,
                      data_format) -> Plan:
    p = _check_norm_type(norm_type)
    data_format = check_data_format(data_format)
    gdtype = getattr(grad_output, "dtype", None)
    can = prepare(x, rank, data_format, "float")
    geo = pool_geometry(can.spatial[3 - rank:], rank, kernel_size, stride, 0, 1, ceil_mode)
    _check_avg3d_input(can.spatial, rank, kernel_size)
    lay, out_size = layout(can), (can.n, can.c) + geo.out_size
    g5 = _grad_in_order(lay, can.view.dtype, rank, out_size, grad_output)
    cl = can.order == "cl"
    size = can.n * can.c * geo.in_size[0] * geo.in_size[1] * geo.in_size[2]
    nbytes = 2 * size * can.view.dtype.itemsize + g5.nbytes
    return Plan(_Lp(True, geo.window(), can.n, can.c, cl, p) if size else None,
                nbytes=nbytes, items=can.n * can.c,
                source=input_source(x, can, "float"),
                b_source=None if reads_as_given(grad_output, can, g5) else partial(
                    _flat_grad_in_order, lay, can.view.dtype, rank, out_size),
                **destination(can, geo.in_size, gdtype))


def lp_pool1d_backward(grad_output: np.ndarray, x: np.ndarray, norm_type: float,
                       kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                       ceil_mode: bool = False, data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of lp_pool1d with respect to x (PyTorch autograd's).

    Zero through windows whose sum of ``x**p`` is 0.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output (its shape and data format).
    x : numpy.ndarray
        The forward input ``(N, C, L)`` (or unbatched ``(C, L)``) channels first, ``(N, L, C)``
        channels last; float16, bfloat16 (in float32), float32 or float64, any strides.
    norm_type : float
        The forward ``p``.
    kernel_size : int or tuple of 1 ints
        The forward window size.
    stride : int, tuple of 1 ints or None, default None
        The forward stride.
    ceil_mode : bool, default False
        The forward rounding.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape of ``x``, dtype of ``grad_output``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``lp_pool2d_backward``.

    See Also
    --------
    cypool.lp_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.full((1, 1, 4), 2.0)
    >>> g = cypool.lp_pool1d_backward(np.ones((1, 1, 2)), x, 1, 2)
    >>> g.shape, float(g.sum())   # p = 1: every cell gets its window's gradient
    ((1, 1, 4), 4.0)
    """
    return _lp_backward(grad_output, x, 1, norm_type, kernel_size, stride, ceil_mode,
                        data_format)


def lp_pool2d_backward(grad_output: np.ndarray, x: np.ndarray, norm_type: float,
                       kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                       ceil_mode: bool = False, data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of lp_pool2d with respect to x (PyTorch autograd's).

    Zero through windows whose sum of ``x**p`` is 0.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output (its shape and data format).
    x : numpy.ndarray
        The forward input ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) channels first,
        ``(N, H, W, C)`` channels last; float16, bfloat16 (in float32), float32 or float64.
    norm_type : float
        The forward ``p``.
    kernel_size : int or tuple of 2 ints
        The forward window size.
    stride : int, tuple of 2 ints or None, default None
        The forward stride.
    ceil_mode : bool, default False
        The forward rounding.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape of ``x``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If an array is not a floating-point numpy.ndarray or ``norm_type`` is not a real number.
    ValueError
        If ``grad_output`` does not have the pooled size of ``x``, or an argument is out of
        range.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.full((1, 1, 4, 4), 2.0)
    >>> g = cypool.lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 1, 2)
    >>> g.shape, float(g.sum())   # p = 1: every cell gets its window's gradient
    ((1, 1, 4, 4), 16.0)
    """
    return _lp_backward(grad_output, x, 2, norm_type, kernel_size, stride, ceil_mode,
                        data_format)


def lp_pool3d_backward(grad_output: np.ndarray, x: np.ndarray, norm_type: float,
                       kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                       ceil_mode: bool = False, data_format: DataFormat = CF) -> np.ndarray:
    """Gradient of lp_pool3d with respect to x (PyTorch autograd's).

    Zero through windows whose sum of ``x**p`` is 0.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output (its shape and data format).
    x : numpy.ndarray
        The forward input ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) channels first,
        ``(N, D, H, W, C)`` channels last; float16, bfloat16 (in float32), float32 or float64.
    norm_type : float
        The forward ``p``.
    kernel_size : int or tuple of 3 ints
        The forward window size.
    stride : int, tuple of 3 ints or None, default None
        The forward stride.
    ceil_mode : bool, default False
        The forward rounding.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape of ``x``, dtype of ``grad_output``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``lp_pool2d_backward``.

    See Also
    --------
    cypool.lp_pool2d_backward : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.full((1, 1, 2, 4, 4), 2.0)
    >>> g = cypool.lp_pool3d_backward(np.ones((1, 1, 1, 2, 2)), x, 1, 2)
    >>> g.shape, float(g.sum())   # p = 1: every cell gets its window's gradient
    ((1, 1, 2, 4, 4), 32.0)
    """
    return _lp_backward(grad_output, x, 3, norm_type, kernel_size, stride, ceil_mode,
                        data_format)

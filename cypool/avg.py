"""Average pooling forward, 1-d to 3-d: the Python side of pyx/_avg.pyx (its gradient is in
avg_backward.py).

Each public function is one plan look-up and one run (cypool._plan); `_avg_plan` validates the
arguments and prepares `_avg.AvgCall` with the call's Window and divisor rule.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _avg
from ._geometry import check_bool, check_divisor_override, int_tuple, pool_geometry
from ._plan import PLANS, Plan, plain
from ._steps import (CF, DataFormat, IntOrTuple, Padding, destination, forward_items, input_source,
                     prepare)


def _check_avg3d_input(spatial, rank, kernel_size):
    """PyTorch's avg_pool3d (only it) refuses inputs smaller than the kernel, padding or not."""
    if rank == 3:
        kernel = int_tuple(kernel_size, rank, "kernel_size")
        if any(L < k for L, k in zip(spatial, kernel)):
            raise ValueError(f"input spatial size {tuple(spatial)} is smaller than "
                             f"kernel_size={kernel_size!r} (avg_pool3d)")


def _avg_args(count_include_pad, divisor_override, geo):
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    divisor = check_divisor_override(divisor_override)
    # With "same"/"valid" padding, padded cells never enter an average (Keras/TensorFlow).
    return (count_include_pad and not geo.string_padding), divisor


def _avg_pool(x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, data_format, out=None):
    key = None
    # `type(v) is int or plain(v)`: plain's own first test, inline (halves the key's cost)
    if (type(x) is np.ndarray and type(ceil_mode) is bool and type(count_include_pad) is bool
            and (divisor_override is None or type(divisor_override) is int)
            and type(data_format) is str and (type(kernel_size) is int or plain(kernel_size))
            and (type(stride) is int or plain(stride))
            and (type(padding) is int or plain(padding))):
        key = ("avg_pool", x.shape, x.strides, x.dtype, rank, kernel_size, stride, padding,
               ceil_mode, count_include_pad, divisor_override, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _avg_plan(x, rank, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override, data_format))
    return plan.run(x, None, out)


def _avg_plan(x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, data_format) -> Plan:
    can = prepare(x, rank, data_format, "float", half=True)
    spatial = can.spatial[3 - rank:]
    geo = pool_geometry(spatial, rank, kernel_size, stride, padding, 1, ceil_mode)
    _check_avg3d_input(spatial, rank, kernel_size)
    cip, divisor = _avg_args(count_include_pad, divisor_override, geo)
    cl = can.order == "cl"
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    kernel = _avg.AvgCall(geo.window(), False, can.n if cl else can.n * can.c, can.c, 0, cl, cip,
                          divisor, can.view.dtype.name) if size else None
    return Plan(kernel, nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=forward_items(can, geo.out_size),
                source=input_source(x, can, "float", half=True),
                **destination(can, geo.out_size, x.dtype))


def avg_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               data_format: DataFormat = CF, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """1-d average pooling.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, L)`` or unbatched ``(C, L)`` (channels last: ``(N, L, C)``, ``(L, C)``), any
        strides; float16, bfloat16 (16-bit I/O), float32 or float64.
    kernel_size : int or tuple of 1 ints
        Window size along each spatial axis.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 1 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The averages, ``(N, C, L_out)`` in the input's data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``avg_pool2d``.

    See Also
    --------
    cypool.avg_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((2, 3, 8))
    >>> y = cypool.avg_pool1d(x, 3, stride=2, padding=1)
    >>> y.shape, float(y[0, 0].flat[0])      # the corner window counts its padded zeros
    ((2, 3, 4), 0.6666666666666666)
    >>> float(cypool.avg_pool1d(x, 3, 2, 1, count_include_pad=False)[0, 0].flat[0])
    1.0
    """
    return _avg_pool(x, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     data_format, out)


def avg_pool2d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    """2-d average pooling.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` or unbatched ``(C, H, W)`` (channels last: ``(N, H, W, C)``,
        ``(H, W, C)``), any strides; float16, bfloat16 (16-bit I/O), float32 or float64.
    kernel_size : int or tuple of 2 ints
        Window size along each spatial axis.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 2 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The averages, ``(N, C, H_out, W_out)`` in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or not floating point, or an argument has the wrong type
        (e.g. a float ``kernel_size``, a non-bool ``count_include_pad``).
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, a window argument is
        out of range (non-positive, padding over half the kernel, an output size below 1, a zero
        ``divisor_override``), ``data_format`` is unknown, or ``out`` does not fit.

    Notes
    -----
    Output size ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``, PyTorch 2.x's; the
    user guide gives the semantics in full.
    The padded window is clipped to ``[-p, L + p)``, so a ceil-mode overhang past the padding
    never counts; ``avg_pool3d`` (only it, as in PyTorch) refuses an input smaller than the kernel.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((2, 3, 8, 8))
    >>> y = cypool.avg_pool2d(x, 3, stride=2, padding=1)
    >>> y.shape, float(y[0, 0].flat[0])      # the corner window counts its padded zeros
    ((2, 3, 4, 4), 0.4444444444444444)
    >>> float(cypool.avg_pool2d(x, 3, 2, 1, count_include_pad=False)[0, 0].flat[0])
    1.0
    """
    return _avg_pool(x, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, data_format, out)


def avg_pool3d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, data_format: DataFormat = CF, *,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    """3-d average pooling.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` (channels last: ``(N, D, H, W, C)``,
        ``(D, H, W, C)``), any strides; float16, bfloat16 (16-bit I/O), float32 or float64.
    kernel_size : int or tuple of 3 ints
        Window size along each spatial axis.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 3 ints, "same" or "valid", default 0
        Padding on both sides, at most half the kernel; ``"same"`` (Keras: ``out = ceil(L / s)``)
        or ``"valid"`` (none). Padded cells never enter a maximum, nor a string padding's average.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule); not with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Where the channel axis is; the result has the same data format and memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned (the user guide: "Writing into out=").

    Returns
    -------
    y : numpy.ndarray
        The averages, ``(N, C, D_out, H_out, W_out)`` in the input's data format and dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as in ``avg_pool2d``.

    See Also
    --------
    cypool.avg_pool2d : The same operator in 2-d.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((2, 3, 8, 8, 8))
    >>> y = cypool.avg_pool3d(x, 3, stride=2, padding=1)
    >>> y.shape, float(y[0, 0].flat[0])      # the corner window counts its padded zeros
    ((2, 3, 4, 4, 4), 0.2962962962962963)
    >>> float(cypool.avg_pool3d(x, 3, 2, 1, count_include_pad=False)[0, 0].flat[0])
    1.0
    """
    return _avg_pool(x, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, data_format, out)

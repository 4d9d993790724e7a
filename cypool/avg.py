"""Average pooling, forward and backward, 1-d to 3-d: the Python side of pyx/_avg.pyx.

Each public function is one plan look-up and one run (cypool._plan); `_avg_plan` validates the
arguments and prepares `_avg.AvgCall` (forward or backward) with the call's Window and divisor
rule.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import numpy as np

from . import _avg, _threads
from ._geometry import check_bool, check_divisor_override, int_tuple, pool_geometry
from ._layout import check_data_format
from ._plan import PLANS, Plan, plain, plain_shape
from ._steps import (CF, DataFormat, IntOrTuple, Padding, Shape, channel_block, check_grad,
                     check_input_shape, destination, flat_grad, flat_input, prepare,
                     prepare_grad, reads_as_given)


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
                items=can.n * geo.out_size[0] * geo.out_size[1] * (1 if cl else can.c),
                source=None if reads_as_given(x, can) else partial(
                    flat_input, rank, can.data_format, "float", half=True),
                **destination(can, geo.out_size, x.dtype))


def _avg_backward(grad_output, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                  count_include_pad, divisor_override, data_format, out=None):
    key = None
    if (type(grad_output) is np.ndarray and plain_shape(input_shape)
            and type(ceil_mode) is bool and type(count_include_pad) is bool
            and (divisor_override is None or type(divisor_override) is int)
            and type(data_format) is str and (type(kernel_size) is int or plain(kernel_size))
            and (type(stride) is int or plain(stride))
            and (type(padding) is int or plain(padding))):
        key = ("avg_backward", grad_output.shape, grad_output.strides, grad_output.dtype,
               input_shape, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
               divisor_override, data_format)
    plan = PLANS.get(key)
    if plan is None:
        plan = PLANS.add(key, _avg_backward_plan(grad_output, input_shape, rank, kernel_size,
                                                 stride, padding, ceil_mode, count_include_pad,
                                                 divisor_override, data_format))
    return plan.run(grad_output, None, out)


def _avg_backward_plan(grad_output, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override, data_format) -> Plan:
    data_format = check_data_format(data_format)
    grad = check_grad(grad_output, rank)
    spatial = check_input_shape(input_shape, grad, rank, data_format)
    geo = pool_geometry(spatial, rank, kernel_size, stride, padding, 1, ceil_mode)
    _check_avg3d_input(spatial, rank, kernel_size)
    cip, divisor = _avg_args(count_include_pad, divisor_override, geo)
    can = prepare_grad(grad, rank, data_format, half=True)
    if tuple(can.spatial) != geo.out_size:
        raise ValueError(f"grad_output.shape={grad.shape} does not match the pooled size "
                         f"{geo.out_size[3 - rank:]} of input_shape={tuple(input_shape)}")
    cl = can.order == "cl"
    size = can.n * can.c * geo.in_size[0] * geo.in_size[1] * geo.in_size[2]
    nbytes = size * can.view.dtype.itemsize + can.view.nbytes
    kernel = None
    if size:
        # c_block only splits the work into disjoint parts: any value gives the same result
        c_block = channel_block(can.n, can.c, _threads.threads_for(nbytes, can.n * can.c))
        kernel = _avg.AvgCall(geo.window(), True, can.n if cl else can.n * can.c, can.c, c_block,
                              cl, cip, divisor, can.view.dtype.name)
    return Plan(kernel, nbytes=nbytes, items=can.n * can.c, inputs=("grad_output",),
                source=None if reads_as_given(grad_output, can) else partial(
                    flat_grad, rank, data_format, half=True),
                **destination(can, geo.in_size, grad.dtype))


def avg_pool1d(x: np.ndarray, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               data_format: DataFormat = CF, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """1-d average pooling.

    Parameters
    ----------
    x : numpy.ndarray
        Input of shape ``(N, C, L)`` (or unbatched ``(C, L)``) when
        ``data_format="channels_first"``, ``(N, L, C)`` (or ``(L, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64, float16 and bfloat16 (ml_dtypes; half precision in and out, the
        float32 sum divided by the divisor and rounded once, as PyTorch's);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    kernel_size : int or tuple of 1 ints
        Window size along each spatial axis.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 1 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned: an array of the result's shape and dtype,
        writeable, not overlapping ``x``. A C-contiguous ``out`` in the data format's layout is
        written by the kernel directly; a call then allocates no output and saves the first-touch
        page faults of a new array (for a 256 MB input, 2x2/s2 max: a fifth to a quarter of the
        call's time on the benchmark machine).

    Returns
    -------
    y : numpy.ndarray
        The averages, ``(N, C, L_out)`` in the input's data format and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy.ndarray or not floating point, or an argument has the wrong type
        (e.g. a float ``kernel_size``, a non-bool ``count_include_pad``).
    ValueError
        If ``x`` has the wrong number of dimensions or an empty spatial axis, a window argument is
        out of range (non-positive, padding over half the kernel, an output size below 1),
        ``data_format`` is unknown, or ``out`` does not fit.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Average: the padded window is clipped to ``[-p, L + p)``, so a ceil-mode overhang past the padding
    never counts; ``avg_pool3d`` (only it, as in PyTorch) refuses an input smaller than the kernel.

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
        Input of shape ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) when
        ``data_format="channels_first"``, ``(N, H, W, C)`` (or ``(H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64, float16 and bfloat16 (ml_dtypes; half precision in and out, the
        float32 sum divided by the divisor and rounded once, as PyTorch's);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    kernel_size : int or tuple of 2 ints
        Window size along each spatial axis.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 2 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned: an array of the result's shape and dtype,
        writeable, not overlapping ``x``. A C-contiguous ``out`` in the data format's layout is
        written by the kernel directly; a call then allocates no output and saves the first-touch
        page faults of a new array (for a 256 MB input, 2x2/s2 max: a fifth to a quarter of the
        call's time on the benchmark machine).

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
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Average: the padded window is clipped to ``[-p, L + p)``, so a ceil-mode overhang past the padding
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
        Input of shape ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) when
        ``data_format="channels_first"``, ``(N, D, H, W, C)`` (or ``(D, H, W, C)``) when
        ``"channels_last"``. Any strides (slices, negative strides, Fortran order) and read-only
        arrays are accepted; an array contiguous in either memory order is not copied.
        dtypes: float32, float64, float16 and bfloat16 (ml_dtypes; half precision in and out, the
        float32 sum divided by the divisor and rounded once, as PyTorch's);
        integer arrays raise TypeError. Sums accumulate in float64; the output has
        the input's dtype.
    kernel_size : int or tuple of 3 ints
        Window size along each spatial axis.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 3 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the result, which is returned: an array of the result's shape and dtype,
        writeable, not overlapping ``x``. A C-contiguous ``out`` in the data format's layout is
        written by the kernel directly; a call then allocates no output and saves the first-touch
        page faults of a new array (for a 256 MB input, 2x2/s2 max: a fifth to a quarter of the
        call's time on the benchmark machine).

    Returns
    -------
    y : numpy.ndarray
        The averages, ``(N, C, D_out, H_out, W_out)`` in the input's data format and dtype.

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
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Average: the padded window is clipped to ``[-p, L + p)``, so a ceil-mode overhang past the padding
    never counts; ``avg_pool3d`` (only it, as in PyTorch) refuses an input smaller than the kernel.

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


def avg_pool1d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 1-d average pooling with respect to its input.

    Takes the forward call's window arguments; each ``grad_output`` entry is spread over its window
    with the forward divisor.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16 or bfloat16 (ml_dtypes; half precision in and out, rounded as PyTorch's
        half-precision backward rounds), float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    kernel_size : int or tuple of 1 ints
        Window size along each spatial axis.
    stride : int, tuple of 1 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 1 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, L)``) or after (``(N, L, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned: an array of ``input_shape`` and
        ``grad_output``'s dtype, writeable, not overlapping the inputs. A C-contiguous ``out`` in the
        data format's layout is written by the kernel directly (a training loop can reuse one
        gradient buffer and skip the first-touch page faults of a new array); any other layout gets
        a copy.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray, ``input_shape`` is not a tuple of
        ints, or a window argument has the wrong type.
    ValueError
        If ``grad_output`` does not have the pooled size of ``input_shape``, a window argument is
        out of range, ``data_format`` is unknown, or ``out`` does not fit.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.avg_pool1d_backward(np.ones((1, 1, 4)), (1, 1, 8), 2)
    >>> gx.shape, float(gx.sum())
    ((1, 1, 8), 4.0)
    """
    return _avg_backward(grad_output, input_shape, 1, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, None, data_format, out)


def avg_pool2d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 2-d average pooling with respect to its input.

    Takes the forward call's window arguments; each ``grad_output`` entry is spread over its window
    with the forward divisor.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16 or bfloat16 (ml_dtypes; half precision in and out, rounded as PyTorch's
        half-precision backward rounds), float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    kernel_size : int or tuple of 2 ints
        Window size along each spatial axis.
    stride : int, tuple of 2 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 2 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, H, W)``) or after (``(N, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned: an array of ``input_shape`` and
        ``grad_output``'s dtype, writeable, not overlapping the inputs. A C-contiguous ``out`` in the
        data format's layout is written by the kernel directly (a training loop can reuse one
        gradient buffer and skip the first-touch page faults of a new array); any other layout gets
        a copy.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray, ``input_shape`` is not a tuple of
        ints, or a window argument has the wrong type.
    ValueError
        If ``grad_output`` does not have the pooled size of ``input_shape``, a window argument is
        out of range, ``data_format`` is unknown, or ``out`` does not fit.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.avg_pool2d_backward(np.ones((1, 1, 4, 4)), (1, 1, 8, 8), 2)
    >>> gx.shape, float(gx.sum())
    ((1, 1, 8, 8), 16.0)
    """
    return _avg_backward(grad_output, input_shape, 2, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)


def avg_pool3d_backward(grad_output: np.ndarray, input_shape: Shape, kernel_size: IntOrTuple,
                        stride: Optional[IntOrTuple] = None, padding: Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None,
                        data_format: DataFormat = CF, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of 3-d average pooling with respect to its input.

    Takes the forward call's window arguments; each ``grad_output`` entry is spread over its window
    with the forward divisor.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output: same shape and data format as that output;
        float16 or bfloat16 (ml_dtypes; half precision in and out, rounded as PyTorch's
        half-precision backward rounds), float32 or float64.
    input_shape : tuple of ints
        Shape of the forward input (``x.shape``), in the same data format.
    kernel_size : int or tuple of 3 ints
        Window size along each spatial axis.
    stride : int, tuple of 3 ints or None, default None
        Step between windows; None means ``stride = kernel_size``.
    padding : int, tuple of 3 ints, "same" or "valid", default 0
        Implicit padding on both sides, at most half the kernel (``2 * p <= k``). ``"same"``
        (Keras/TensorFlow) pads so that ``out = ceil(L / stride)``, the odd cell at the end;
        ``"valid"`` is no padding. Padded cells never enter a maximum, nor, with a string padding,
        an average.
    ceil_mode : bool, default False
        Round the output size up instead of down (PyTorch's rule: a last window that would start
        past the input and the left padding is dropped). Not allowed with a string padding.
    count_include_pad : bool, default True
        Count the zero padding in the divisor (the window's padded extent, clipped to
        ``[-p, L + p)``). Ignored with a string padding (padded cells never count).
    divisor_override : int or None, default None
        A non-zero divisor used for every window instead of the cell count.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before (``(N, C, D, H, W)``) or after (``(N, D, H, W, C)``) the spatial axes.
        The output has the same data format, and keeps the input's memory order.
    out : numpy.ndarray, optional, keyword-only
        Where to write the input gradient, which is returned: an array of ``input_shape`` and
        ``grad_output``'s dtype, writeable, not overlapping the inputs. A C-contiguous ``out`` in the
        data format's layout is written by the kernel directly (a training loop can reuse one
        gradient buffer and skip the first-touch page faults of a new array); any other layout gets
        a copy.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape ``input_shape``, dtype of ``grad_output``.

    Raises
    ------
    TypeError
        If ``grad_output`` is not a floating-point numpy.ndarray, ``input_shape`` is not a tuple of
        ints, or a window argument has the wrong type.
    ValueError
        If ``grad_output`` does not have the pooled size of ``input_shape``, a window argument is
        out of range, ``data_format`` is unknown, or ``out`` does not fit.

    Notes
    -----
    Semantics are PyTorch 2.x's on the CPU: output size
    ``floor((L + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1``; see the README's "Semantics"
    section. Bad arguments raise ValueError or TypeError naming the parameter and the value. Work is
    parallelised with OpenMP (see ``cypool.set_num_threads`` / ``cypool.threads``); results are
    bit-identical for any thread count. The GIL is released while the kernel runs.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> gx = cypool.avg_pool3d_backward(np.ones((1, 1, 4, 4, 4)), (1, 1, 8, 8, 8), 2)
    >>> gx.shape, float(gx.sum())
    ((1, 1, 8, 8, 8), 64.0)
    """
    return _avg_backward(grad_output, input_shape, 3, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out)

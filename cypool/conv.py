"""Strided 2-d convolution, forward and backward (im2col + one BLAS matrix product): the
learnable rival of pooling that `cypool compare` measures against it.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _im2col
from ._geometry import int_tuple
from ._layout import check_array, check_data_format, kernel_dtype
from ._steps import CF, DataFormat, IntOrTuple

ConvGrads = Tuple[np.ndarray, np.ndarray, np.ndarray]

# The column copies run on one thread: the BLAS product that follows has threads of its own, and
# OpenMP workers still spinning after a parallel copy took the cores from them (measured 3x slower
# with 2 + 2 threads on a 2-core machine), while a second copy thread saved under 5%.
_COPY_THREADS = 1


def _native(a: np.ndarray) -> np.ndarray:
    """A byte-swapped (big-endian here) array as native order; others unchanged."""
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))


def _conv_args(x, weight, bias, stride, padding, data_format):
    data_format = check_data_format(data_format)
    x = check_array(x, "x", 2)
    dtype = kernel_dtype(x, "x", "float")
    spatial = x.shape[-3:-1] if data_format == "channels_last" else x.shape[-2:]
    if min(spatial) < 1:   # torch refuses a zero-size spatial axis; so do the pooling operators
        raise ValueError(f"x has a zero-size spatial axis: x.shape={x.shape} ({data_format})")
    if not isinstance(weight, np.ndarray) or weight.ndim != 4:
        raise ValueError(f"weight must be a 4-d numpy.ndarray (out_channels, in_channels, kh, kw), "
                         f"got {getattr(weight, 'shape', type(weight).__name__)}")
    weight = _native(weight)
    kernel_dtype(weight, "weight", "float")
    c_in = x.shape[-1] if data_format == "channels_last" else x.shape[-3]
    if weight.shape[1] != c_in:
        raise ValueError(f"weight.shape={weight.shape} expects {weight.shape[1]} input channels "
                         f"but x has {c_in} (x.shape={x.shape}, {data_format})")
    if min(weight.shape[0], weight.shape[2], weight.shape[3]) < 1:
        raise ValueError(f"weight.shape={weight.shape} needs out_channels, kh and kw >= 1")
    if bias is not None:
        if not isinstance(bias, np.ndarray) or bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must be None or an array of shape ({weight.shape[0]},), got "
                             f"{getattr(bias, 'shape', type(bias).__name__)}")
        bias = _native(bias)
        kernel_dtype(bias, "bias", "float")
    stride = int_tuple(stride, 2, "stride")
    padding = int_tuple(padding, 2, "padding", minimum=0)
    return data_format, x, weight, bias, dtype, stride, padding


def _conv_out(size, k, s, p, name_axis):
    out = (size + 2 * p - k) // s + 1
    if out < 1:
        raise ValueError(f"output size is too small: input {name_axis} {size} with kernel {k}, "
                         f"padding {p} gives {out}")
    return out


def _columns_of(x, data_format, dtype, kh, kw, stride, padding, oh, ow):
    """im2col straight from x (either data format, any strides): (N*OH*OW, kh*kw*C) rows in
    (i, j, c) order (a row meets the weight as (O, kh, kw, C)), the padding taps zero."""
    a = x if x.ndim == 4 else x[None]
    a = a if data_format == "channels_last" else a.transpose(0, 2, 3, 1)
    a = a.astype(dtype, copy=False)
    N, C = a.shape[0], a.shape[3]
    cols = np.empty((N * oh * ow, kh * kw * C), dtype)
    _im2col.im2col(a, cols, kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow,
                   _COPY_THREADS)
    return cols


def _give_back_conv(y_nhwc, data_format, batched):
    y = y_nhwc if data_format == "channels_last" else np.ascontiguousarray(
        y_nhwc.transpose(0, 3, 1, 2))
    return y if batched else y[0]


def conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
           stride: IntOrTuple = 1, padding: IntOrTuple = 0,
           data_format: DataFormat = CF) -> np.ndarray:
    """2-d cross-correlation, as torch.nn.functional.conv2d.

    Zero padding, no dilation or groups. Computed as im2col (one copy) and one BLAS matrix
    product (numpy.matmul); BLAS threads follow the BLAS library's own setting
    (threadpoolctl), not cypool's.

    Parameters
    ----------
    x : numpy.ndarray
        Input ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) channels first, ``(N, H, W, C)``
        channels last; float16 or bfloat16 (computed in float32), float32 or float64, any strides.
    weight : numpy.ndarray
        ``(out_channels, in_channels, kh, kw)`` in both data formats.
    bias : numpy.ndarray or None, default None
        ``(out_channels,)``.
    stride : int or tuple of 2 ints, default 1
        Step between windows.
    padding : int or tuple of 2 ints, default 0
        Zero padding on both sides.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    y : numpy.ndarray
        ``(N, out_channels, OH, OW)`` (or channels last), the dtype of ``x``.

    Raises
    ------
    TypeError
        If an array is not floating point.
    ValueError
        If the shapes of ``x``, ``weight`` and ``bias`` disagree, an argument is out of range,
        or the output would be empty.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x = np.ones((1, 3, 5, 5))
    >>> y = cypool.conv2d(x, np.ones((4, 3, 3, 3)), np.zeros(4), stride=2, padding=1)
    >>> y.shape, float(y[0, 0, 1, 1])   # an inner window sums 3 * 3 * 3 ones
    ((1, 4, 3, 3), 27.0)
    """
    data_format, x, weight, bias, dtype, stride, padding = _conv_args(
        x, weight, bias, stride, padding, data_format)
    out_dtype = x.dtype
    O, _, kh, kw = weight.shape
    H, W = x.shape[-3:-1] if data_format == "channels_last" else x.shape[-2:]
    oh = _conv_out(H, kh, stride[0], padding[0], "height")
    ow = _conv_out(W, kw, stride[1], padding[1], "width")
    cols = _columns_of(x, data_format, dtype, kh, kw, stride, padding, oh, ow)
    wmat = weight.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(O, -1)
    y = cols @ wmat.T
    if bias is not None:
        y += bias.astype(dtype, copy=False)
    y = y.reshape(cols.shape[0] // (oh * ow), oh, ow, O)
    return _give_back_conv(y, data_format, x.ndim == 4).astype(out_dtype, copy=False)


def conv2d_backward(grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                    data_format: DataFormat = CF) -> ConvGrads:
    """Gradients of conv2d with respect to x, weight and bias.

    ``grad_weight = G^T cols``, ``grad_x = col2im(G W)`` (the column gradients added back tap by
    tap), ``grad_bias`` = the sum of ``G`` over batch and positions.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the forward output (its shape and data format).
    x : numpy.ndarray
        The forward input.
    weight : numpy.ndarray
        The forward weight, ``(out_channels, in_channels, kh, kw)``.
    stride : int or tuple of 2 ints, default 1
        The forward stride.
    padding : int or tuple of 2 ints, default 0
        The forward padding.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Whether channels come before or after the spatial axes; the result keeps it.

    Returns
    -------
    grad_x : numpy.ndarray
        Shape and dtype of ``x``.
    grad_weight : numpy.ndarray
        Shape and dtype of ``weight``.
    grad_bias : numpy.ndarray
        ``(out_channels,)``, dtype of ``weight``.

    Raises
    ------
    TypeError
        If an array is not floating point.
    ValueError
        If ``grad_output`` does not have the shape of the forward output, or the shapes of
        ``x`` and ``weight`` disagree.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> x, w = np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3))
    >>> gx, gw, gb = cypool.conv2d_backward(np.ones((1, 4, 3, 3)), x, w, 1)
    >>> gx.shape, gw.shape, gb.tolist()
    ((1, 3, 5, 5), (4, 3, 3, 3), [9.0, 9.0, 9.0, 9.0])
    """
    data_format, x, weight, _, dtype, stride, padding = _conv_args(
        x, weight, None, stride, padding, data_format)
    grad_output = check_array(grad_output, "grad_output", 2)
    if grad_output.ndim != x.ndim:
        raise ValueError(f"grad_output.shape={grad_output.shape} must be batched like x "
                         f"(x.shape={x.shape})")
    kernel_dtype(grad_output, "grad_output", "float")
    O, _, kh, kw = weight.shape
    H, W = x.shape[-3:-1] if data_format == "channels_last" else x.shape[-2:]
    C = weight.shape[1]
    N = x.shape[0] if x.ndim == 4 else 1
    oh = _conv_out(H, kh, stride[0], padding[0], "height")
    ow = _conv_out(W, kw, stride[1], padding[1], "width")
    g = grad_output if grad_output.ndim == 4 else grad_output[None]
    g = g if data_format == "channels_last" else g.transpose(0, 2, 3, 1)
    if g.shape != (N, oh, ow, O):
        raise ValueError(f"grad_output.shape={grad_output.shape} does not match the conv2d "
                         f"output (N, OH, OW, O) = {(N, oh, ow, O)} ({data_format})")
    gmat = np.ascontiguousarray(g, dtype=dtype).reshape(-1, O)
    cols = _columns_of(x, data_format, dtype, kh, kw, stride, padding, oh, ow)
    grad_weight = (gmat.T @ cols).reshape(O, kh, kw, C).transpose(0, 3, 1, 2)
    grad_bias = gmat.sum(axis=0, dtype=np.float64).astype(dtype)
    wmat = weight.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(O, -1)
    gcols = gmat @ wmat
    # col2im straight into the result's data format (no padded buffer, no transposed copy)
    gx = np.empty((N, H, W, C) if data_format == "channels_last" else (N, C, H, W), dtype)
    gx_nhwc = gx if data_format == "channels_last" else gx.transpose(0, 2, 3, 1)
    _im2col.col2im(gcols, gx_nhwc, kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow,
                   _COPY_THREADS)
    grad_x = (gx if x.ndim == 4 else gx[0]).astype(x.dtype, copy=False)
    wdt = weight.dtype
    return grad_x, np.ascontiguousarray(grad_weight).astype(wdt, copy=False), grad_bias.astype(
        wdt, copy=False)

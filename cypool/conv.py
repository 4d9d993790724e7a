"""Strided 2-d convolution, forward and backward (direct, multithreaded kernels reading either
layout in place, border windows through small zero-padded patches: pyx/_conv.pyx, loops in
pyx/_conv.h): the learnable rival of pooling that `cypool compare` measures against it.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _conv, _threads
from ._geometry import int_tuple
from ._layout import check_array, check_data_format, kernel_dtype
from ._steps import CF, DataFormat, IntOrTuple

ConvGrads = Tuple[np.ndarray, np.ndarray, np.ndarray]

# The weight gradient sums its rows in chunks (one buffer each, added in order at the end): enough
# chunks for the threads to share, a fixed number so that results do not depend on the thread
# count, and no more buffer memory than this.
_WGRAD_CHUNKS = 8
_WGRAD_BUFFER_BYTES = 32 << 20


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


def _nhwc(a: np.ndarray, data_format: str, dtype) -> np.ndarray:
    """A batched array as an (N, H, W, C) view (channels first: transposed, no copy) of dtype."""
    a = a if a.ndim == 4 else a[None]
    a = a if data_format == "channels_last" else a.transpose(0, 2, 3, 1)
    return a.astype(dtype, copy=False)


def _padded(a: np.ndarray, rows: int, cols: int, channels: int, top: int,
            left: int, planes: bool = False) -> np.ndarray:
    """(N, rows, cols, channels) zeros with pixel (y, x) of the (N, H, W, C) view `a` at
    (top + y, left + x), where inside; in a's dtype. planes: stored channels first (the view of
    an (N, channels, rows, cols) array), else channels last."""
    n = a.shape[0]
    out = (np.empty((n, channels, rows, cols), a.dtype).transpose(0, 2, 3, 1) if planes
           else np.empty((n, rows, cols, channels), a.dtype))
    _conv.pad_into(a, out, top, left, _threads.threads_for(out.nbytes, n * rows))
    return out


def _in_place(a: np.ndarray, planes_ok: bool = True) -> bool:
    """Whether the kernels read the (N, H, W, C) view `a` as it is (see _readable)."""
    planes = a.shape[3] > 1 and abs(a.strides[3]) > abs(a.strides[2])
    return (a.flags.aligned and all(st % a.itemsize == 0 for st in a.strides)
            and (planes_ok or not planes))


def _readable(a: np.ndarray, padding=(0, 0), planes_ok: bool = True):
    """The (N, H, W, C) view `a` as the kernels read it, and the padding they must still leave
    out: `a` itself (aligned, strides in whole elements; channel planes too, through the kernels'
    channel stride) and `padding`; else a channels-last copy with the padding in it, and (0, 0).
    planes_ok=False: channel planes (channels first) as that copy too."""
    if _in_place(a, planes_ok):
        return a, padding
    (pt, pl), (_, h, w, c) = padding, a.shape
    return _padded(a, h + 2 * pt, w + 2 * pl, c, pt, pl), (0, 0)




def _gradient_source(g, gp, O, data_format, stride, W, tap_cols):
    """What the input gradient's forward reads: channels first at stride 1, the output gradient's
    planes in place when the bands kernel takes them (no transposition either way); else the
    channels-last copy gp the weight gradient reads."""
    if (data_format == CF and stride == (1, 1) and g.strides[2] == g.itemsize
            and _in_place(g) and _conv.takes_bands(1, 1, W, int(tap_cols.max()) + 1)):
        return g
    return gp[..., :O]


def _taps(kh, kw):
    return np.repeat(np.arange(kh), kw), np.tile(np.arange(kw), kh)


def _packed(mats: np.ndarray, vl: int) -> np.ndarray:
    """(taps, cin, cout) weight matrices with cout zero-padded to a multiple of vl."""
    t, cin, cout = mats.shape
    out = np.zeros((t, cin, -(-cout // vl) * vl), mats.dtype)
    out[:, :, :cout] = mats
    return out


def _give_back(y: np.ndarray, x: np.ndarray, dtype) -> np.ndarray:
    return (y if x.ndim == 4 else y[0]).astype(dtype, copy=False)


def _phases(size, k, s, p, out):
    """The stride phases of one axis of the input gradient: [(first input index r, count of
    inputs r, r+s, ..., taps i with (r + p - i) % s == 0, their offsets (r + p - i) // s into the
    output gradient)] plus the output gradient's padding in front (so offsets are >= 0) and its
    padded length."""
    phases = []
    for r in range(min(s, size)):
        taps = [i for i in range(k) if (r + p - i) % s == 0]
        phases.append((r, -(-(size - r) // s), taps, [(r + p - i) // s for i in taps]))
    offsets = [d for ph in phases for d in ph[3]]
    front = max([0] + [-d for d in offsets])
    length = max([front + out] + [ph[1] + front + max(ph[3]) for ph in phases if ph[2]])
    return phases, front, length


def conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
           stride: IntOrTuple = 1, padding: IntOrTuple = 0,
           data_format: DataFormat = CF) -> np.ndarray:
    """2-d cross-correlation, as torch.nn.functional.conv2d.

    Zero padding, no dilation or groups. Computed directly (no column matrix) on ``x`` as it is
    (channels first at stride 1 with rows shorter than four times ``kw - 1``: a padded
    channels-last copy), with cypool's threads
    (``set_num_threads``). Each output is summed over the taps, then the input channels, in
    float32 for float32 (and half-precision) input; on CPUs with FMA (AVX2, AVX-512) the
    products are fused into the sums, so the last bits depend on the CPU as a BLAS product's do,
    never on the thread count.

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
    a = _nhwc(x, data_format, dtype)
    N, C = a.shape[0], a.shape[3]
    mats = weight.astype(dtype, copy=False).transpose(2, 3, 1, 0).reshape(kh * kw, C, O)
    w = _packed(mats, _conv.vector_length(dtype))
    # Channels first: 1-stride windows through the bands kernel (vectors of neighbouring output
    # pixels of each plane: neither the input nor the output transposed); strided windows
    # read the planes in place through the pixel tiles (each input read a quarter as often at
    # stride 2: 0.78 -> 0.53 ms). Otherwise (narrow rows) channels first at stride 1 takes a
    # padded channels-last copy: the pixel tiles read channel planes up to ~8 % slower than
    # pixels (12 pixels of each plane per tap beside the weights: 36 KB for 3x3 x 32 x 32
    # float32, more than the L1 data cache).
    in_place = stride != (1, 1) or (data_format == CF
                                    and _conv.takes_bands(*stride, ow, kw))
    xr, (pt, pl) = _readable(a, padding, planes_ok=in_place)
    b = None if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    y = np.empty((N, oh, ow, O) if data_format == "channels_last" else (N, O, oh, ow), dtype)
    y_nhwc = y if data_format == "channels_last" else y.transpose(0, 2, 3, 1)
    dy, dx = _taps(kh, kw)
    _conv.forward(xr, pt, pl, stride[0], stride[1], dy, dx, w, b, y_nhwc,
                  _threads.threads_for(xr.nbytes + y.nbytes, N * oh))
    return _give_back(y, x, out_dtype)


def conv2d_backward(grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                    data_format: DataFormat = CF) -> ConvGrads:
    """Gradients of conv2d with respect to x, weight and bias.

    ``grad_weight``: per tap, the products of the input's windows and the output gradient
    summed over batch and positions; ``grad_x``: the forward kernel run on the output
    gradient with the flipped, transposed weight, once per stride phase; ``grad_bias``: the sum
    of the output gradient over batch and positions (in float64). Threads and rounding as
    ``conv2d``.

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
    g = g.astype(dtype, copy=False)
    a = _nhwc(x, data_format, dtype)
    vl = _conv.vector_length(dtype)
    opad = -(-O // vl) * vl
    T = kh * kw

    # The output gradient as the weight gradient reads it: channels last, pixels opad apart (in
    # place where it is so already); the input gradient reads it too, its padding left out.
    rows, top, _ = _phases(H, kh, stride[0], padding[0], oh)
    cols, left, _ = _phases(W, kw, stride[1], padding[1], ow)
    gp = g if opad == O and g.flags.c_contiguous else _padded(g, oh, ow, opad, 0, 0)
    bias_sums = _conv.channel_sums(gp, _threads.threads_for(gp.nbytes, N * oh))[:O]
    grad_bias = bias_sums.astype(dtype)

    # weight: per tap, the products of the input's windows and the output gradient, summed over
    # all positions (rows in chunks, chunks added in order); the input read as it is, each tap
    # over the pixels inside: the products with the padding are zero while the output gradient
    # is finite (its float64 sums are finite exactly then); otherwise the padding is multiplied
    # too (0 * inf is NaN, as torch's), from a padded copy
    if np.isfinite(bias_sums).all():
        xa, (pt, pl) = _readable(a, padding)
    else:
        xa, (pt, pl) = _padded(a, H + 2 * padding[0], W + 2 * padding[1], C, *padding), (0, 0)
    chunk_bytes = T * C * opad * gp.itemsize
    chunks = max(1, min(_WGRAD_CHUNKS, N * oh, _WGRAD_BUFFER_BYTES // max(1, chunk_bytes)))
    sums = np.zeros((chunks, T, C, opad), dtype)
    dy, dx = _taps(kh, kw)
    _conv.weight_grad(xa, stride[0], stride[1], dy - pt, dx - pl, gp, sums,
                      _threads.threads_for(xa.nbytes + gp.nbytes, chunks * T))
    total = sums[0]
    for k in range(1, chunks):
        total += sums[k]
    grad_weight = total[:, :, :O].reshape(kh, kw, C, O).transpose(3, 2, 0, 1)

    # input: the forward kernel on the padded output gradient with the weight's taps transposed
    # (output channels in, input channels out), once per stride phase (the inputs r, r + s, ...
    # that the same taps reach)
    wts = weight.astype(dtype, copy=False)
    gx = np.empty((N, H, W, C) if data_format == "channels_last" else (N, C, H, W), dtype)
    gx_nhwc = gx if data_format == "channels_last" else gx.transpose(0, 2, 3, 1)
    n_threads = _threads.threads_for(gp.nbytes + gx.nbytes, N * H)
    for r, nr, ti, di in rows:
        for c, nc, tj, dj in cols:
            part = gx_nhwc[:, r::stride[0], c::stride[1], :]
            if not ti or not tj:      # no tap reaches these inputs
                part[...] = 0
                continue
            ii, jj = np.repeat(ti, len(tj)), np.tile(tj, len(ti))
            mats = wts[:, :, ii, jj].transpose(2, 0, 1)          # (taps, O, C)
            # the phase's output gradient windows start `top` rows and `left` columns before g
            tap_rows, tap_cols = np.repeat(di, len(tj)) + top, np.tile(dj, len(ti)) + left
            _conv.forward(_gradient_source(g, gp, O, data_format, stride, W, tap_cols), top,
                          left, 1, 1, tap_rows, tap_cols, _packed(mats, vl), None, part,
                          n_threads)
    grad_x = _give_back(gx, x, x.dtype)
    wdt = weight.dtype
    return grad_x, np.ascontiguousarray(grad_weight).astype(wdt, copy=False), grad_bias.astype(
        wdt, copy=False)

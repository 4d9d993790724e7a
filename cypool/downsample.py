"""Downsampling operators beyond max and average pooling, forward and backward, on NumPy arrays.

- stochastic_pool2d: Zeiler & Fergus 2013 (sampled in training, probability-weighted in evaluation);
- lp_pool1d / lp_pool2d: PyTorch's LPPool semantics exactly;
- blur_pool2d / max_blur_pool2d: Zhang 2019 anti-aliased pooling (binomial filter, reflect pad);
- spatial_pyramid_pool: He et al. 2014 with PyTorch's adaptive bins;
- conv2d / conv2d_backward: strided convolution, the learnable rival (im2col + BLAS matmul).

Same structure as pooling.py: Python validates and computes geometry (_geometry, _layout), the
Cython kernels of pyx/_stochastic.pyx, _lp.pyx and _blur.pyx trust their arguments, and every
kernel call gets its thread count from _threads.threads_for. All functions take both data
formats and float32/float64 (float16 is computed in float32), and return the input's dtype.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _blur, _lp, _stochastic
from ._geometry import _is_int, check_bool, int_tuple, pool_geometry
from ._layout import (check_array, check_data_format, kernel_dtype, shape_to_canonical,
                      to_canonical)
from ._threads import threads_for
from .pooling import (_adaptive_avg, _adaptive_avg_backward, _adaptive_max, _channel_block,
                      _check_grad, _check_input_shape, _finish, _max_backward, _max_pool,
                      _prepare, _spatial)

CF = "channels_first"
_DUMMY_F64 = np.zeros(1, np.float64)
_DUMMY_I64 = np.zeros(1, np.int64)


def _grad_like(can, grad_output, rank, data_format, out_size, what):
    """grad_output checked against the expected output size and put in x's memory order."""
    grad_output = _check_grad(grad_output, rank, data_format)
    gcan = to_canonical(grad_output.astype(can.view.dtype, copy=False), rank, data_format)
    if (gcan.n, gcan.c) != (can.n, can.c) or tuple(gcan.spatial) != tuple(out_size) \
            or gcan.batched != can.batched:
        expected = (can.n, can.c) + tuple(out_size)[3 - rank:]
        raise ValueError(f"grad_output.shape={grad_output.shape} does not match the {what} "
                         f"output (N, C, spatial) = {expected} ({data_format})")
    return can.conform(gcan.view)


# ----------------------------------------------------------------------------- stochastic

def _generator(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (_is_int(seed) and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, a non-negative int or a numpy.random.Generator, "
                    f"got seed={seed!r}")


def stochastic_pool2d(x, kernel_size, stride=None, training=True, seed=None,
                      return_indices=False, data_format=CF):
    """Stochastic pooling (Zeiler & Fergus 2013), no padding, floor mode.

    Weights are r = max(x, 0). training=True samples one cell per window with probability
    r_i / sum(r) and returns its value; evaluation returns sum(r^2) / sum(r). A window whose
    weights are all zero (all zeros or all negative) samples a cell uniformly and returns its
    value (evaluation: 0). A NaN in a window gives NaN (index: the first NaN).
    `seed`: None, an int or a numpy Generator; one uniform per window is drawn from it in
    (N, C, OH, OW) order, so the same seed gives the same result for any thread count and data
    format. return_indices (training only) gives the sampled cells, flat per plane, for
    stochastic_pool2d_backward.
    """
    dtype = getattr(x, "dtype", None)
    can = _prepare(x, 2, data_format, "float")
    geo = pool_geometry(_spatial(can, 2), 2, kernel_size, stride, 0)
    training = check_bool(training, "training")
    return_indices = check_bool(return_indices, "return_indices")
    if return_indices and not training:
        raise ValueError("return_indices=True needs training=True (evaluation samples nothing)")
    rng = _generator(seed)
    y5 = can.empty(geo.out_size, can.view.dtype)
    idx5 = can.empty(geo.out_size, np.int64) if training else None
    if training:
        u = rng.random((can.n, can.c) + geo.out_size)
        flat_u, flat_idx = can.flat(can.conform(u)), can.flat(idx5)
    else:
        flat_u, flat_idx = _DUMMY_F64, _DUMMY_I64
    if y5.size:
        cl = can.order == "cl"
        outer = can.n if cl else can.n * can.c
        nt = threads_for(can.view.nbytes + y5.nbytes, outer * geo.out_size[1])
        _stochastic.stochastic_forward(can.flat(), can.flat(y5), flat_idx, flat_u, geo.window(),
                                       outer, can.c, cl, training, nt)
    y = _finish(can, y5, dtype)
    return (y, can.give_back(idx5)) if return_indices else y


def stochastic_pool2d_backward(grad_output, indices, input_shape, data_format=CF):
    """Gradient of training-mode stochastic pooling: each output gradient goes to its sampled
    cell (the index scatter of max pooling)."""
    return _max_backward(grad_output, indices, input_shape, 2, data_format)


# ----------------------------------------------------------------------------- Lp pooling

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
    can = _prepare(x, rank, data_format, "float")
    geo = pool_geometry(_spatial(can, rank), rank, kernel_size, stride, 0, 1, ceil_mode)
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
    return _finish(can, y5, dtype)


def _lp_backward(grad_output, x, rank, norm_type, kernel_size, stride, ceil_mode, data_format):
    p = _check_norm_type(norm_type)
    data_format = check_data_format(data_format)
    gdtype = getattr(grad_output, "dtype", None)
    can = _prepare(x, rank, data_format, "float")
    geo = pool_geometry(_spatial(can, rank), rank, kernel_size, stride, 0, 1, ceil_mode)
    g5 = _grad_like(can, grad_output, rank, data_format, geo.out_size, "lp_pool")
    gx5 = can.empty(geo.in_size, can.view.dtype)
    if gx5.size:
        nt = threads_for(2 * gx5.nbytes + g5.nbytes, can.n * can.c)
        if can.order == "cf":
            _lp.lp_backward_cf(can.flat(), can.flat(g5), can.flat(gx5), geo.window(),
                               can.n * can.c, p, nt)
        else:
            _lp.lp_backward_cl(can.flat(), can.flat(g5), can.flat(gx5), geo.window(), can.n,
                               can.c, _channel_block(can.n, can.c, nt), p, nt)
    return _finish(can, gx5, gdtype)


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


# ----------------------------------------------------------------------------- blur pooling

def binomial_filter(filt_size: int) -> np.ndarray:
    """The normalised 1-d binomial row of length filt_size (1..7): [1, 2, 1] / 4 for 3."""
    if not _is_int(filt_size):
        raise TypeError(f"filt_size must be an int, got filt_size={filt_size!r}")
    if not 1 <= filt_size <= 7:
        raise ValueError(f"filt_size must be between 1 and 7, got filt_size={filt_size!r}")
    row = np.array([math.comb(filt_size - 1, i) for i in range(filt_size)], np.float64)
    return row / row.sum()


def _reflect(j: np.ndarray, size: int) -> np.ndarray:
    """PyTorch's 'reflect' padding (the edge cell is not repeated)."""
    if size == 1:
        return np.zeros_like(j)
    period = 2 * (size - 1)
    j = np.abs(j) % period
    return np.where(j >= size, period - j, j)


def _blur_tables(spatial, filt_size, stride):
    """Per axis: the (out, filt_size) table of input cells each tap reads, reflect padding
    ((f-1)//2 before, ceil((f-1)/2) after) and the stride applied."""
    lo, hi = (filt_size - 1) // 2, filt_size // 2
    tables = []
    for L, s, axis in zip(spatial, stride, ("height", "width")):
        if hi >= L and filt_size > 1:
            raise ValueError(f"x {axis} {L} is too small for filt_size={filt_size}: reflect "
                             f"padding of {hi} needs at least {hi + 1} cells")
        out = (L - 1) // s + 1
        starts = np.arange(out) * s - lo
        tables.append(np.ascontiguousarray(_reflect(starts[:, None] + np.arange(filt_size), L),
                                           dtype=np.int64))
    return tables


def _blur_args(filt_size, stride):
    taps = binomial_filter(filt_size)
    return taps, int_tuple(stride, 2, "stride")


def blur_pool2d(x, filt_size=3, stride=2, data_format=CF):
    """Anti-aliased downsampling (Zhang 2019, BlurPool): reflect padding ((f-1)//2,
    ceil((f-1)/2)) per axis, then a depthwise convolution with the normalised binomial filter
    outer(a, a) of size filt_size (1..7) at `stride`. Output size ceil(L / stride)."""
    dtype = getattr(x, "dtype", None)
    taps, stride = _blur_args(filt_size, stride)
    can = _prepare(x, 2, data_format, "float")
    H, W = _spatial(can, 2)
    rows, cols = _blur_tables((H, W), filt_size, stride)
    y5 = can.empty((1, rows.shape[0], cols.shape[0]), can.view.dtype)
    if y5.size:
        if can.order == "cf":
            nt = threads_for(can.view.nbytes + y5.nbytes, can.n * can.c * rows.shape[0])
            _blur.blur_forward_cf(can.flat(), can.flat(y5), rows, cols, taps, can.n * can.c, H,
                                  W, nt)
        else:
            nt = threads_for(can.view.nbytes + y5.nbytes, can.n * rows.shape[0])
            scratch = np.empty((nt, can.c), np.float64)
            _blur.blur_forward_cl(can.flat(), can.flat(y5), scratch, rows, cols, taps, can.n, H,
                                  W, can.c, nt)
    return _finish(can, y5, dtype)


def blur_pool2d_backward(grad_output, input_shape, filt_size=3, stride=2, data_format=CF):
    """Gradient of blur_pool2d wrt its input (the transposed filtering, reflections folded back)."""
    data_format = check_data_format(data_format)
    taps, stride = _blur_args(filt_size, stride)
    grad_output = _check_grad(grad_output, 2, data_format)
    spatial = _check_input_shape(input_shape, grad_output, 2, data_format)
    rows, cols = _blur_tables(spatial, filt_size, stride)
    dtype = grad_output.dtype
    can = to_canonical(grad_output.astype(kernel_dtype(grad_output, "grad_output", "float"),
                                          copy=False), 2, data_format)
    if tuple(can.spatial) != (1, rows.shape[0], cols.shape[0]):
        raise ValueError(f"grad_output.shape={grad_output.shape} does not match the blurred size "
                         f"{(rows.shape[0], cols.shape[0])} of input_shape={tuple(input_shape)}")
    H, W = spatial
    gx5 = can.empty((1, H, W), can.view.dtype)
    if gx5.size:
        nt = threads_for(gx5.nbytes + can.view.nbytes, can.n * can.c)
        if can.order == "cf":
            _blur.blur_backward_cf(can.flat(), can.flat(gx5), rows, cols, taps, can.n * can.c, H,
                                   W, nt)
        else:
            _blur.blur_backward_cl(can.flat(), can.flat(gx5), rows, cols, taps, can.n, H, W,
                                   can.c, _channel_block(can.n, can.c, nt), nt)
    return _finish(can, gx5, dtype)


def max_blur_pool2d(x, kernel_size=2, filt_size=3, stride=2, return_indices=False,
                    data_format=CF):
    """MaxBlurPool (Zhang 2019): max pooling with kernel_size and stride 1, then blur_pool2d.
    return_indices gives the indices of the stride-1 max, for max_blur_pool2d_backward."""
    return_indices = check_bool(return_indices, "return_indices")
    dense, idx = _max_pool(x, 2, kernel_size, 1, 0, 1, False, True, data_format)
    y = blur_pool2d(dense, filt_size, stride, data_format)
    return (y, idx) if return_indices else y


def max_blur_pool2d_backward(grad_output, indices, input_shape, filt_size=3, stride=2,
                             data_format=CF):
    """Gradient of max_blur_pool2d: blur backward to the stride-1 max's output, then the index
    scatter of max pooling. `indices` come from max_blur_pool2d(..., return_indices=True)."""
    data_format = check_data_format(data_format)
    indices = check_array(indices, "indices", 2)
    g_dense = blur_pool2d_backward(grad_output, indices.shape, filt_size, stride, data_format)
    return _max_backward(g_dense, indices, input_shape, 2, data_format)


# ----------------------------------------------------------------------------- spatial pyramid

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
            y, idx = _adaptive_max(x, 2, level, True, data_format)
            indices.append(idx)
        else:
            y = _adaptive_avg(x, 2, level, data_format)
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


# ----------------------------------------------------------------------------- convolution

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


def _nhwc(x, data_format, padding, dtype):
    """x as a padded (N, H, W, C) array of the compute dtype (the im2col layout)."""
    if x.ndim == 3:
        x = x[None]
    a = x if data_format == "channels_last" else x.transpose(0, 2, 3, 1)
    a = a.astype(dtype, copy=False)
    ph, pw = padding
    if ph or pw:
        a = np.pad(a, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    return a


def _conv_out(size, k, s, p, name_axis):
    out = (size + 2 * p - k) // s + 1
    if out < 1:
        raise ValueError(f"output size is too small: input {name_axis} {size} with kernel {k}, "
                         f"padding {p} gives {out}")
    return out


def _columns(xp, kh, kw, stride, oh, ow):
    """im2col: (N*OH*OW, kh*kw*C) rows in (i, j, c) order, one copy."""
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))
    win = win[:, :stride[0] * (oh - 1) + 1:stride[0], :stride[1] * (ow - 1) + 1:stride[1]]
    # win: (N, OH, OW, C, kh, kw) -> (N, OH, OW, kh, kw, C) so a row matches weight (O, kh, kw, C)
    # explicit row count: with zero input channels the rows are empty and -1 is ambiguous
    return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(
        xp.shape[0] * oh * ow, kh * kw * xp.shape[3])


def _give_back_conv(y_nhwc, data_format, batched):
    y = y_nhwc if data_format == "channels_last" else np.ascontiguousarray(
        y_nhwc.transpose(0, 3, 1, 2))
    return y if batched else y[0]


def conv2d(x, weight, bias=None, stride=1, padding=0, data_format=CF):
    """2-d cross-correlation as torch.nn.functional.conv2d: weight (out_channels, in_channels,
    kh, kw) in both data formats, zero padding, no dilation or groups. Computed as im2col (one
    copy) and one BLAS matrix product (numpy.matmul); BLAS threads follow the BLAS library's own
    setting (threadpoolctl), not cypool's."""
    data_format, x, weight, bias, dtype, stride, padding = _conv_args(
        x, weight, bias, stride, padding, data_format)
    out_dtype = x.dtype
    xp = _nhwc(x, data_format, padding, dtype)
    O, _, kh, kw = weight.shape
    H, W = xp.shape[1] - 2 * padding[0], xp.shape[2] - 2 * padding[1]
    oh = _conv_out(H, kh, stride[0], padding[0], "height")
    ow = _conv_out(W, kw, stride[1], padding[1], "width")
    cols = _columns(xp, kh, kw, stride, oh, ow)
    wmat = weight.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(O, -1)
    y = cols @ wmat.T
    if bias is not None:
        y += bias.astype(dtype, copy=False)
    y = y.reshape(xp.shape[0], oh, ow, O)
    return _give_back_conv(y, data_format, x.ndim == 4).astype(out_dtype, copy=False)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, data_format=CF):
    """Gradients of conv2d: returns (grad_x, grad_weight, grad_bias). grad_weight = G^T cols,
    grad_x = col2im(G W) (the column gradients added back tap by tap), grad_bias = sum of G."""
    data_format, x, weight, _, dtype, stride, padding = _conv_args(
        x, weight, None, stride, padding, data_format)
    grad_output = check_array(grad_output, "grad_output", 2)
    if grad_output.ndim != x.ndim:
        raise ValueError(f"grad_output.shape={grad_output.shape} must be batched like x "
                         f"(x.shape={x.shape})")
    kernel_dtype(grad_output, "grad_output", "float")
    xp = _nhwc(x, data_format, padding, dtype)
    N, Hp, Wp, C = xp.shape
    O, _, kh, kw = weight.shape
    oh = _conv_out(Hp - 2 * padding[0], kh, stride[0], padding[0], "height")
    ow = _conv_out(Wp - 2 * padding[1], kw, stride[1], padding[1], "width")
    g = grad_output if grad_output.ndim == 4 else grad_output[None]
    g = g if data_format == "channels_last" else g.transpose(0, 2, 3, 1)
    if g.shape != (N, oh, ow, O):
        raise ValueError(f"grad_output.shape={grad_output.shape} does not match the conv2d "
                         f"output (N, OH, OW, O) = {(N, oh, ow, O)} ({data_format})")
    gmat = np.ascontiguousarray(g, dtype=dtype).reshape(-1, O)
    cols = _columns(xp, kh, kw, stride, oh, ow)
    grad_weight = (gmat.T @ cols).reshape(O, kh, kw, C).transpose(0, 3, 1, 2)
    grad_bias = gmat.sum(axis=0, dtype=np.float64).astype(dtype)
    wmat = weight.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(O, -1)
    gcols = (gmat @ wmat).reshape(N, oh, ow, kh, kw, C)
    gxp = np.zeros_like(xp)
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            gxp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] += gcols[:, :, :, i, j]
    gx = gxp[:, padding[0]:Hp - padding[0], padding[1]:Wp - padding[1], :]
    grad_x = _give_back_conv(gx, data_format, x.ndim == 4).astype(x.dtype, copy=False)
    wdt = weight.dtype
    return grad_x, np.ascontiguousarray(grad_weight).astype(wdt, copy=False), grad_bias.astype(
        wdt, copy=False)

"""conv2d's direct kernels (pyx/_conv.h): every instruction-set level this CPU runs, both data
formats, float32 and float64, against a float64 reference, on shapes that reach every register
tile (pixel tiles of full width, 4 and 1 with the overlapping last tile; one and two vectors of
output channels; input-channel tails of the weight gradient) and every stride phase of the input
gradient; results independent of the thread count."""
import itertools

import numpy as np
import pytest

import cypool
from cypool import _conv

import reference as ref
import reference_backward as refb
from helpers import from_channels_last, to_channels_last

FORMATS = ("channels_first", "channels_last")
ISAS = list(range(_conv.best_isa() + 1))


def conv_ref(x, w, b, s, p):
    """float64 forward: one tap at a time over the zero-padded input."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    oh, ow = (H + 2 * p[0] - kh) // s[0] + 1, (W + 2 * p[1] - kw) // s[1] + 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    y = np.zeros((N, O, oh, ow))
    for i, j in itertools.product(range(kh), range(kw)):
        win = xp[:, :, i:i + s[0] * (oh - 1) + 1:s[0], j:j + s[1] * (ow - 1) + 1:s[1]]
        y += np.einsum("nchw,oc->nohw", win, w[:, :, i, j].astype(np.float64))
    return y if b is None else y + b.astype(np.float64)[None, :, None, None]


def conv_backward_ref(g, x, w, s, p):
    """float64 gradients (x, weight, bias), one tap at a time."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    oh, ow = g.shape[2:]
    g = g.astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    gxp = np.zeros_like(xp)
    gw = np.zeros(w.shape)
    for i, j in itertools.product(range(kh), range(kw)):
        sl = (slice(None), slice(None), slice(i, i + s[0] * (oh - 1) + 1, s[0]),
              slice(j, j + s[1] * (ow - 1) + 1, s[1]))
        gxp[sl] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j].astype(np.float64))
        gw[:, :, i, j] = np.einsum("nohw,nchw->oc", g, xp[sl])
    return gxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W], gw, g.sum(axis=(0, 2, 3))


def test_vectorised_reference_matches_the_loop_reference():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), \
        rng.standard_normal(4)
    s, p = (2, 1), (1, 1)
    y = conv_ref(x, w, b, s, p)
    np.testing.assert_allclose(y, ref.conv2d(x, w, b, s, p), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    for mine, theirs in zip(conv_backward_ref(g, x, w, s, p), refb.conv2d_backward(g, x, w, s, p)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.fixture(params=ISAS, ids=[f"isa{i}" for i in ISAS])
def isa(request):
    previous = _conv.set_isa(request.param)
    yield request.param
    _conv.set_isa(previous)


def close(ours, theirs, dtype):
    scale = max(1.0, float(np.abs(theirs).max()))
    eps = 3e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=eps * scale * 10)


# (N, C, H, W), O, kernel, stride, padding: pixel tiles 12 / 8 / 6 / 4 / 1 wide, output channels in
# one or two vectors with tails, input-channel tails, stride phases without taps (k < s),
# padding as large as the kernel, non-square everything.
CASES = [
    ((2, 3, 16, 15), 4, (3, 3), (1, 1), (1, 1)),
    ((2, 17, 9, 30), 33, (3, 3), (1, 1), (1, 1)),
    ((1, 13, 11, 7), 17, (3, 2), (2, 1), (1, 0)),
    ((2, 5, 9, 9), 1, (2, 2), (2, 2), (0, 0)),
    ((1, 4, 10, 12), 5, (1, 1), (3, 2), (0, 0)),
    ((2, 6, 8, 8), 16, (3, 3), (2, 2), (3, 3)),
    ((1, 2, 5, 3), 40, (5, 3), (1, 2), (2, 1)),
    ((3, 32, 14, 14), 32, (3, 3), (2, 2), (1, 1)),
    ((1, 20, 4, 20), 24, (3, 3), (1, 1), (1, 1)),     # 12 + 8 pixels, 12 + 8 input channels
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-o{c[1]}"
                         f"-k{c[2][0]}{c[2][1]}-s{c[3][0]}{c[3][1]}-p{c[4][0]}{c[4][1]}")
def test_forward_and_backward_every_isa(isa, case, dtype, fmt):
    shape, O, k, s, p = case
    rng = np.random.default_rng(sum(shape) + O)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((O, shape[1]) + k).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    xin = x if fmt == "channels_first" else np.ascontiguousarray(to_channels_last(x))
    back = (lambda a: a) if fmt == "channels_first" else from_channels_last
    y = cypool.conv2d(xin, w, b, s, p, data_format=fmt)
    assert y.dtype == dtype
    close(back(y), conv_ref(x, w, b, s, p), dtype)
    g = rng.standard_normal(back(y).shape).astype(dtype)
    gin = g if fmt == "channels_first" else np.ascontiguousarray(to_channels_last(g))
    gx, gw, gb = cypool.conv2d_backward(gin, xin, w, s, p, data_format=fmt)
    rx, rw, rb = conv_backward_ref(g, x, w, s, p)
    assert gx.dtype == gw.dtype == gb.dtype == dtype
    close(back(gx), rx, dtype)
    close(gw, rw, dtype)
    close(gb, rb, dtype)


@pytest.mark.parametrize("fmt", FORMATS)
def test_strided_views_and_results_independent_of_threads(fmt):
    rng = np.random.default_rng(5)
    base = rng.standard_normal((4, 20, 40, 36)).astype(np.float32)
    x = base[::2, 1::2, ::2, 3:33]                     # no axis contiguous
    x = x if fmt == "channels_first" else x.transpose(0, 2, 3, 1)
    w = rng.standard_normal((24, 10, 3, 3)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        with cypool.threads(n):
            y = cypool.conv2d(x, w, b, 2, 1, data_format=fmt)
            g = np.ones_like(y)
            results.append((y,) + cypool.conv2d_backward(g, x, w, 2, 1, data_format=fmt))
    for other in results[1:]:
        for a, c in zip(results[0], other):
            np.testing.assert_array_equal(a, c)
    xc = np.ascontiguousarray(x)
    np.testing.assert_array_equal(results[0][0], cypool.conv2d(xc, w, b, 2, 1, data_format=fmt))


@pytest.mark.parametrize("case", [((2, 24, 9, 30), 40, 1, 1),    # stride 1: bands of planes
                                  ((2, 6, 9, 30), 7, 1, 1),
                                  ((2, 24, 9, 30), 40, 2, 1),    # strided: planes padded
                                  ((2, 6, 9, 30), 17, 1, 0),     # no padding: planes in place
                                  ((2, 6, 9, 7), 5, 1, 1)],      # rows too short: a copy
                         ids=["bands", "bands-small", "planes-s2", "planes-in-place", "copy"])
def test_channel_planes_give_the_bits_of_channels_last(isa, case):
    # the kernels read channels-first input as channel planes (a channel stride; at stride 1 in
    # bands of rows) or from a channels-last copy; the sums run in the same order either way
    shape, O, s, p = case
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((O, shape[1], 3, 3)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    xl = np.ascontiguousarray(to_channels_last(x))
    y = cypool.conv2d(x, w, b, s, p)
    np.testing.assert_array_equal(y, from_channels_last(
        cypool.conv2d(xl, w, b, s, p, data_format="channels_last")))
    g = rng.standard_normal(y.shape).astype(np.float32)
    gl = np.ascontiguousarray(to_channels_last(g))
    ours = cypool.conv2d_backward(g, x, w, s, p)
    theirs = cypool.conv2d_backward(gl, xl, w, s, p, data_format="channels_last")
    np.testing.assert_array_equal(ours[0], from_channels_last(theirs[0]))
    for a, c in zip(ours[1:], theirs[1:]):
        np.testing.assert_array_equal(a, c)


# (N, C, H, W), O, kernel, padding at stride 1: several bands of uneven height (37 rows), one
# row a band (300 input channels fill the patch), wide and tall kernels, padding past the kernel,
# rows just long enough for the bands kernel (kw - 1 = a quarter of the row) and output channels
# in partial blocks.
BANDS = [
    ((2, 3, 37, 21), 9, (3, 3), (1, 1)),
    ((1, 300, 6, 50), 5, (3, 3), (2, 0)),
    ((2, 4, 5, 16), 3, (1, 5), (0, 2)),
    ((1, 5, 9, 12), 17, (5, 1), (3, 4)),
    ((3, 2, 4, 8), 1, (3, 3), (1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", BANDS, ids=lambda c: "x".join(map(str, c[0])) + f"-o{c[1]}"
                         f"-k{c[2][0]}{c[2][1]}-p{c[3][0]}{c[3][1]}")
def test_bands_of_channel_planes(isa, case, dtype):
    # channels first at stride 1: bands of output rows from a patch of planes, each plane's rows
    # one run of pixels; the sums and their order are the pixel tiles' (channels last); the input
    # gradient runs the same kernel
    shape, O, k, p = case
    rng = np.random.default_rng(sum(shape) + O)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((O, shape[1]) + k).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    xl = np.ascontiguousarray(to_channels_last(x))
    for bias in (b, None):
        expected = from_channels_last(cypool.conv2d(xl, w, bias, 1, p, data_format="channels_last"))
        close(expected, conv_ref(x, w, bias, (1, 1), p), dtype)
        for n in (1, 2, 3):
            with cypool.threads(n):
                np.testing.assert_array_equal(cypool.conv2d(x, w, bias, 1, p), expected)
    # the input gradient: the same kernel on the output gradient's planes
    g = rng.standard_normal(expected.shape).astype(dtype)
    gl = np.ascontiguousarray(to_channels_last(g))
    expected = from_channels_last(
        cypool.conv2d_backward(gl, xl, w, 1, p, data_format="channels_last")[0])
    close(expected, conv_backward_ref(g, x, w, (1, 1), p)[0], dtype)
    for n in (1, 2, 3):
        with cypool.threads(n):
            np.testing.assert_array_equal(cypool.conv2d_backward(g, x, w, 1, p)[0], expected)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("s", [1, 2])
def test_border_tiles_of_strided_views(isa, fmt, s):
    # windows reaching the padding read a zero-padded copy of their patch, taken from views whose
    # pixels (and, channels first, rows) are not contiguous: the bits of a contiguous input
    rng = np.random.default_rng(13)
    base = rng.standard_normal((2, 12, 9, 52)).astype(np.float32)
    x = base[:, ::-1, :, ::2]                                   # (N, C, H, W), pixels 2 apart
    xin = x if fmt == "channels_first" else to_channels_last(base)[:, :, ::2, ::-1]
    w = rng.standard_normal((20, 12, 3, 3)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    y = cypool.conv2d(xin, w, b, s, 2, data_format=fmt)
    y_copy = cypool.conv2d(np.ascontiguousarray(xin), w, b, s, 2, data_format=fmt)
    np.testing.assert_array_equal(y, y_copy)
    xc = x if fmt == "channels_first" else from_channels_last(xin)
    close(y if fmt == "channels_first" else from_channels_last(y),
          conv_ref(xc, w, b, (s, s), (2, 2)), np.float32)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("O", [4, 8, 16])
def test_one_pixel_outputs_whose_unit_axes_have_any_stride(isa, fmt, dtype, O):
    # a one-pixel output gradient moved to channels last keeps the strides of its size-1 axes
    # (e.g. (32, 8, 8, 8) for 2x1x1x4 float64): memory as dense as any, read in place when its
    # channels fill whole vectors
    rng = np.random.default_rng(O)
    x = rng.standard_normal((2, 3, 3, 3)).astype(dtype)
    w = rng.standard_normal((O, 3, 3, 3)).astype(dtype)
    g = rng.standard_normal((2, O, 1, 1)).astype(dtype)
    xin = x if fmt == "channels_first" else np.moveaxis(x, 1, -1)
    gin = g if fmt == "channels_first" else np.moveaxis(g, 1, -1)
    gx, gw, gb = cypool.conv2d_backward(gin, xin, w, 1, 0, data_format=fmt)
    rx, rw, rb = conv_backward_ref(g, x, w, (1, 1), (0, 0))
    close(gx if fmt == "channels_first" else from_channels_last(gx), rx, dtype)
    close(gw, rw, dtype)
    close(gb, rb, dtype)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_weight_gradient_multiplies_the_padding_by_a_non_finite_gradient(fmt, bad):
    # the weight gradient leaves out the products with the padding while they are zero; an inf
    # or NaN in the output gradient makes them NaN, as in the float64 reference (and torch)
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 4, 6, 7)).astype(np.float32)
    g[1, 2, 0, 6] = bad                                   # a window reaching the padding
    _, rw, rb = conv_backward_ref(g, x, w, (1, 1), (1, 1))
    xin = x if fmt == "channels_first" else np.ascontiguousarray(to_channels_last(x))
    gin = g if fmt == "channels_first" else np.ascontiguousarray(to_channels_last(g))
    _, gw, gb = cypool.conv2d_backward(gin, xin, w, 1, 1, data_format=fmt)
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(rw))
    assert np.isnan(gw).any()
    fin = np.isfinite(rw)
    close(gw[fin], rw[fin], np.float32)
    np.testing.assert_array_equal(np.isnan(gb), np.isnan(rb))


def test_pad_into_channel_planes():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 5, 11, 3))[:, ::-1, ::2]          # (N, H, W, C) view, W strided
    out = np.full((2, 4, 9, 7), np.nan).transpose(0, 2, 3, 1)     # planes, 4 channels of 3 used
    _conv.pad_into(x, out, 2, 1, 2)
    expect = np.zeros((2, 9, 7, 4))
    expect[:, 2:7, 1:7, :3] = x
    np.testing.assert_array_equal(out, expect)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pad_into_channels_last_from_planes(dtype):
    # the transposition runs in blocks of 8 channels x 8 pixels: sizes with tails of both
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 19, 5, 21)).astype(dtype).transpose(0, 2, 3, 1)  # planes
    out = np.full((2, 7, 23, 20), np.nan, dtype)
    _conv.pad_into(x, out, 1, 1, 2)
    expect = np.zeros((2, 7, 23, 20), dtype)
    expect[:, 1:6, 1:22, :19] = x
    np.testing.assert_array_equal(out, expect)


def test_channels_last_without_padding_reads_the_input_in_place():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 9, 9, 8)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    y = cypool.conv2d(x, w, None, 1, 0, data_format="channels_last")
    close(from_channels_last(y), conv_ref(from_channels_last(x), w, None, (1, 1), (0, 0)),
          np.float32)


def test_set_isa_refuses_levels_the_cpu_lacks():
    with pytest.raises(ValueError, match="isa level"):
        _conv.set_isa(_conv.best_isa() + 1)
    with pytest.raises(ValueError, match="isa level"):
        _conv.set_isa(-1)

"""The downsampling operators besides max and average: stochastic, Lp, blur, max-blur, spatial
pyramid pooling and conv2d.
Against the plain-loop reference, against PyTorch where it has the op, by finite differences,
across thread counts and data formats, and for bad input."""
import itertools
import math

import numpy as np
import pytest

import cypool
import reference as ref
import reference_backward
from helpers import from_channels_last, to_channels_last

FORMATS = ("channels_first", "channels_last")
DTYPES = (np.float32, np.float64)


def run(fn, x, fmt, *args, **kw):
    """Call fn on channels-first x in data format fmt; return a channels-first result."""
    xin = x if fmt == "channels_first" else np.ascontiguousarray(to_channels_last(x))
    out = fn(xin, *args, data_format=fmt, **kw)
    conv = (lambda a: a) if fmt == "channels_first" else from_channels_last
    return tuple(conv(o) for o in out) if isinstance(out, tuple) else conv(out)


def cl(a, fmt):
    return a if fmt == "channels_first" else np.ascontiguousarray(to_channels_last(a))


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- Lp pooling

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_lp_against_reference(fmt, dtype):
    rng = np.random.default_rng(1)
    for p, k, s, ceil in itertools.product((1, 2, 3, 1.5), ((2, 2), (3, 2)), ((2, 2), (1, 3)),
                                           (False, True)):
        x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
        if p == 1.5:
            x = np.abs(x)
        y = run(cypool.lp_pool2d, x, fmt, p, k, s, ceil_mode=ceil)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ref.lp_pool2d(x, p, k, s, ceil), equal_nan=True,
                                   **tol(dtype))


def test_lp_negative_inputs_follow_torch_rules():
    # x ** p without abs: odd p gives negative sums; p = 3 then takes a cube root of a negative
    # number, which is NaN in PyTorch.
    x = -np.ones((1, 1, 2, 2))
    assert cypool.lp_pool2d(x, 1, 2)[0, 0, 0, 0] == -4
    assert np.isnan(cypool.lp_pool2d(x, 3, 2)[0, 0, 0, 0])
    assert cypool.lp_pool2d(x, 2, 2)[0, 0, 0, 0] == 2


@pytest.mark.torch
def test_lp1d_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    for p, k, s, ceil, fmt in itertools.product((1, 2, 3), (2, 3), (1, 2), (False, True), FORMATS):
        x = rng.standard_normal((2, 3, 11))
        xt = torch.tensor(x, requires_grad=True)
        yt = F.lp_pool1d(xt, p, k, s, ceil_mode=ceil)
        g = rng.standard_normal(yt.shape)
        yt.backward(torch.tensor(g))
        xin = x if fmt == "channels_first" else np.ascontiguousarray(x.transpose(0, 2, 1))
        gin = g if fmt == "channels_first" else np.ascontiguousarray(g.transpose(0, 2, 1))
        y = cypool.lp_pool1d(xin, p, k, s, ceil, data_format=fmt)
        gx = cypool.lp_pool1d_backward(gin, xin, p, k, s, ceil, data_format=fmt)
        if fmt == "channels_last":
            y, gx = y.transpose(0, 2, 1), gx.transpose(0, 2, 1)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, equal_nan=True)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.torch
@pytest.mark.parametrize("fmt", FORMATS)
def test_lp2d_against_torch(fmt):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    for _ in range(60):
        p = float(rng.choice([1, 2, 3, 1.5, 4]))
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        ceil = bool(rng.integers(2))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(
            int(kk + rng.integers(0, 6)) for kk in k)
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        x = rng.standard_normal(shape).astype(dtype)
        if p not in (1, 2, 3, 4):
            x = np.abs(x) + 0.1
        xt = torch.tensor(x, requires_grad=True)
        yt = F.lp_pool2d(xt, p, k, s, ceil_mode=ceil)
        g = rng.standard_normal(yt.shape).astype(dtype)
        yt.backward(torch.tensor(g))
        y = run(cypool.lp_pool2d, x, fmt, p, k, s, ceil_mode=ceil)
        gx = from_channels_last(cypool.lp_pool2d_backward(
            cl(g, fmt), cl(x, fmt), p, k, s, ceil, data_format=fmt)) \
            if fmt == "channels_last" else cypool.lp_pool2d_backward(g, x, p, k, s, ceil)
        t = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(y, yt.detach().numpy(), equal_nan=True, **t)
        np.testing.assert_allclose(gx, xt.grad.numpy(), equal_nan=True, **t)


def test_lp_gradient_finite_differences():
    rng = np.random.default_rng(4)
    x = rng.random((1, 2, 5, 6)) + 0.2
    for p, ceil in ((2, False), (3, True), (1.5, True)):
        y = cypool.lp_pool2d(x, p, (2, 3), (2, 2), ceil_mode=ceil)
        g = rng.standard_normal(y.shape)
        num = ref.numeric_grad(lambda a: cypool.lp_pool2d(a, p, (2, 3), (2, 2), ceil_mode=ceil),
                               x.copy(), g)
        np.testing.assert_allclose(cypool.lp_pool2d_backward(g, x, p, (2, 3), (2, 2), ceil), num,
                                   rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- blur pooling

def torch_blur(torch, x, f, s):
    F = torch.nn.functional
    a = torch.tensor([math.comb(f - 1, i) for i in range(f)], dtype=x.dtype)
    filt = a[:, None] * a[None, :]
    filt = (filt / filt.sum())[None, None].repeat(x.shape[1], 1, 1, 1)
    lo, hi = (f - 1) // 2, math.ceil((f - 1) / 2)
    return F.conv2d(F.pad(x, [lo, hi, lo, hi], mode="reflect"), filt, stride=s,
                    groups=x.shape[1])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_against_reference(fmt, dtype):
    rng = np.random.default_rng(5)
    for f, s, (h, w) in itertools.product(range(1, 8), (1, 2, 3), ((7, 9), (4, 5))):
        if f // 2 >= min(h, w):
            continue
        x = rng.standard_normal((2, 3, h, w)).astype(dtype)
        y = run(cypool.blur_pool2d, x, fmt, f, s)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ref.blur_pool2d(x, f, (s, s)), **tol(dtype))


@pytest.mark.torch
@pytest.mark.parametrize("fmt", FORMATS)
def test_blur_and_max_blur_against_torch(fmt):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    for f, s, h, w in itertools.product((1, 2, 3, 4, 5), (1, 2), (6, 9), (7,)):
        x = rng.standard_normal((2, 3, h, w))
        xt = torch.tensor(x, requires_grad=True)
        yt = torch_blur(torch, xt, f, s)
        g = rng.standard_normal(yt.shape)
        yt.backward(torch.tensor(g))
        y = run(cypool.blur_pool2d, x, fmt, f, s)
        gx = run(lambda gg, **kw: cypool.blur_pool2d_backward(gg, cl(x, fmt).shape, f, s, **kw),
                 g, fmt)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-13)
        # MaxBlurPool = MaxPool2d(2, stride=1) then BlurPool
        xt.grad = None
        mt = torch_blur(torch, torch.nn.functional.max_pool2d(xt, 2, 1), f, s)
        gm = rng.standard_normal(mt.shape)
        mt.backward(torch.tensor(gm))
        ym, idx = run(cypool.max_blur_pool2d, x, fmt, 2, f, s, return_indices=True)
        gmx = cypool.max_blur_pool2d_backward(cl(gm, fmt), cl(idx, fmt), cl(x, fmt).shape, f, s,
                                              data_format=fmt)
        gmx = gmx if fmt == "channels_first" else from_channels_last(gmx)
        np.testing.assert_allclose(ym, mt.detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(gmx, xt.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_blur_gradient_finite_differences():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 2, 6, 5))
    for f, s in ((3, 2), (4, 2), (5, 1)):
        y = cypool.blur_pool2d(x, f, s)
        g = rng.standard_normal(y.shape)
        num = ref.numeric_grad(lambda a: cypool.blur_pool2d(a, f, s), x.copy(), g)
        np.testing.assert_allclose(cypool.blur_pool2d_backward(g, x.shape, f, s), num, rtol=1e-6,
                                   atol=1e-8)


def _blur_scatter(g, spatial, f, s, dtype):
    """The backward as the plain scatter in dtype: for (oh, ow, i, j), each term rounded to dtype
    and added to its cell in that order (the order the kernels keep, bit for bit)."""
    taps = cypool.binomial_filter(f)
    H, W = spatial
    lo = (f - 1) // 2
    gx = np.zeros(g.shape[:2] + (H, W), dtype)
    g64 = g.astype(np.float64)
    for oh, ow, i, j in itertools.product(range(g.shape[2]), range(g.shape[3]), range(f),
                                          range(f)):
        h = reference_backward._reflect(oh * s[0] - lo + i, H)
        w = reference_backward._reflect(ow * s[1] - lo + j, W)
        gx[:, :, h, w] += ((taps[i] * taps[j]) * g64[:, :, oh, ow]).astype(dtype)
    return gx


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_backward_bit_identical_to_the_scatter(fmt, dtype):
    # the gather sums each cell's terms in the scatter's order: equal bits, including the runs
    # of columns summed in vector lanes (width 40), the channel blocks of 32 (channels last) and
    # the reflected edges
    rng = np.random.default_rng(11)
    for f, s, spatial in itertools.product(range(1, 8), ((1, 1), (2, 2), (3, 3), (2, 1)),
                                           ((7, 10), (4, 40))):
        if f // 2 >= min(spatial):
            continue
        out = tuple((L - 1) // st + 1 for L, st in zip(spatial, s))
        g = (rng.standard_normal((1, 34) + out) * 1e3).astype(dtype)
        got = run(lambda gg, **kw: cypool.blur_pool2d_backward(gg, cl(np.empty((1, 34) + spatial),
                                                                      fmt).shape, f, s, **kw),
                  g, fmt)
        want = _blur_scatter(g, spatial, f, s, dtype)
        assert got.dtype == want.dtype
        assert np.array_equal(np.ascontiguousarray(got).view(np.uint8), want.view(np.uint8)), \
            (f, s, spatial)


def test_blur_binomial_filter():
    np.testing.assert_allclose(cypool.binomial_filter(3), [0.25, 0.5, 0.25])
    np.testing.assert_allclose(cypool.binomial_filter(4), np.array([1, 3, 3, 1]) / 8)
    x = np.full((1, 1, 6, 6), 3.0)  # a constant stays constant (normalised filter, reflection)
    np.testing.assert_allclose(cypool.blur_pool2d(x, 5, 2), 3.0)


# ----------------------------------------------------------------------------- stochastic

def _uniforms(seed, shape):
    return ref.stochastic_uniforms(seed, shape)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_stochastic_against_reference(fmt, dtype):
    rng = np.random.default_rng(8)
    for k, s in (((2, 2), (2, 2)), ((3, 2), (1, 2)), ((3, 3), (2, 3))):
        x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
        x[0, 0] = 0                               # all-zero windows
        x[0, 1] = -np.abs(x[0, 1]) - 1            # all-negative windows
        x[1, 2, :2, :2] = np.nan                  # NaN windows
        x[1, 1, 3, 3] = np.inf                    # +inf windows
        if dtype == np.float64:
            x[1, 0, 4:, 4:] = 1e308               # sums overflowing to +inf
        oh, ow = (7 - k[0]) // s[0] + 1, (8 - k[1]) // s[1] + 1
        y, idx = run(cypool.stochastic_pool2d, x, fmt, k, s, seed=11, return_indices=True)
        ry, ridx = ref.stochastic_pool2d(x, k, s, _uniforms(11, (2, 3, oh, ow)))
        np.testing.assert_array_equal(idx, ridx)
        np.testing.assert_array_equal(y, ry.astype(dtype))
        # without indices the kernel writes none: the same samples
        np.testing.assert_array_equal(run(cypool.stochastic_pool2d, x, fmt, k, s, seed=11),
                                      ry.astype(dtype))
        ye = run(cypool.stochastic_pool2d, x, fmt, k, s, training=False)
        np.testing.assert_allclose(ye, ref.stochastic_pool2d(x, k, s), equal_nan=True,
                                   **tol(dtype))


def test_stochastic_samples_with_activation_probabilities():
    # One 2x2 window with weights 1, 2, 3, 4 (the 0 and the negative cell are never chosen).
    x = np.ascontiguousarray(np.broadcast_to(np.array([[1.0, 2.0, 0.0], [3.0, 4.0, -1.0]]),
                                             (4000, 25, 2, 3)))
    _, idx = cypool.stochastic_pool2d(x, (2, 3), seed=0, return_indices=True)
    freq = np.bincount(idx.ravel(), minlength=6) / idx.size
    np.testing.assert_allclose(freq, [0.1, 0.2, 0, 0.3, 0.4, 0], atol=0.005)


def test_stochastic_seed_threads_and_formats():
    x = np.random.default_rng(9).random((4, 16, 64, 64), dtype=np.float32)
    with cypool.threads(1):
        a = cypool.stochastic_pool2d(x, 2, seed=5, return_indices=True)
    with cypool.threads(2):
        b = cypool.stochastic_pool2d(x, 2, seed=5, return_indices=True)
        c = cypool.stochastic_pool2d(np.ascontiguousarray(to_channels_last(x)), 2, seed=5,
                                     return_indices=True, data_format="channels_last")
        d = cypool.stochastic_pool2d(x, 2, seed=np.random.default_rng(5), return_indices=True)
        # without indices (none written): the same samples, in both formats
        e = cypool.stochastic_pool2d(x, 2, seed=5)
        f = cypool.stochastic_pool2d(np.ascontiguousarray(to_channels_last(x)), 2, seed=5,
                                     data_format="channels_last")
    np.testing.assert_array_equal(e, a[0])
    np.testing.assert_array_equal(from_channels_last(f), a[0])
    for other in (b, d, (from_channels_last(c[0]), from_channels_last(c[1]))):
        np.testing.assert_array_equal(a[0], other[0])
        np.testing.assert_array_equal(a[1], other[1])
    assert not np.array_equal(a[1], cypool.stochastic_pool2d(x, 2, seed=6, return_indices=True)[1])
    g = np.random.default_rng(1).random(a[0].shape, dtype=np.float32)
    gx = cypool.stochastic_pool2d_backward(g, a[1], x.shape)
    np.testing.assert_array_equal(gx, ref.scatter_by_index(g, a[1], x.shape[2:]).astype(np.float32))


# ----------------------------------------------------------------------------- spatial pyramid

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ("max", "avg"))
def test_spp_against_reference_and_torch(fmt, mode):
    rng = np.random.default_rng(10)
    for levels, (h, w) in (((4, 2, 1), (7, 9)), ((6, 3, 2, 1), (13, 6)), ((3,), (3, 5))):
        x = rng.standard_normal((2, 3, h, w))
        out = run(cypool.spatial_pyramid_pool, x, "channels_first", levels, mode) \
            if fmt == "channels_first" else cypool.spatial_pyramid_pool(
                cl(x, fmt), levels, mode, data_format=fmt)
        assert out.shape == (2, 3 * sum(v * v for v in levels))
        np.testing.assert_allclose(out, ref.spatial_pyramid_pool(x, levels, mode), rtol=1e-12)
        torch = pytest.importorskip("torch")
        F = torch.nn.functional
        xt = torch.tensor(x, requires_grad=True)
        pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
        yt = torch.cat([pool(xt, v).flatten(1) for v in levels], 1)
        g = rng.standard_normal(yt.shape)
        yt.backward(torch.tensor(g))
        if mode == "max":
            _, idx = cypool.spatial_pyramid_pool(cl(x, fmt), levels, mode, True, data_format=fmt)
        else:
            idx = None
        gx = cypool.spatial_pyramid_pool_backward(g, cl(x, fmt).shape, levels, mode, idx,
                                                  data_format=fmt)
        gx = gx if fmt == "channels_first" else from_channels_last(gx)
        np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_spp_avg_gradient_finite_differences():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 2, 5, 7))
    g = rng.standard_normal((1, 2 * 21))
    num = ref.numeric_grad(lambda a: cypool.spatial_pyramid_pool(a, (4, 2, 1), "avg"), x.copy(), g)
    np.testing.assert_allclose(cypool.spatial_pyramid_pool_backward(g, x.shape, (4, 2, 1), "avg"),
                               num, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- conv2d

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_against_reference(fmt, dtype):
    rng = np.random.default_rng(12)
    for k, s, p in (((3, 3), (2, 2), (1, 1)), ((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 3), (1, 0))):
        x = rng.standard_normal((2, 3, 8, 7)).astype(dtype)
        w = rng.standard_normal((4, 3) + k).astype(dtype)
        b = rng.standard_normal(4).astype(dtype)
        y = run(cypool.conv2d, x, fmt, w, b, s, p)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ref.conv2d(x, w, b, s, p), **(
            dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else tol(dtype)))


@pytest.mark.torch
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv2d_against_torch(fmt):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(13)
    for _ in range(25):
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        s = tuple(int(v) for v in rng.integers(1, 3, 2))
        p = tuple(int(v) for v in rng.integers(0, 2, 2))
        c, o = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        x = rng.standard_normal((2, c) + tuple(int(kk + rng.integers(0, 5)) for kk in k))
        w, b = rng.standard_normal((o, c) + k), rng.standard_normal(o)
        use_bias = bool(rng.integers(2))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        yt = F.conv2d(xt, wt, bt if use_bias else None, s, p)
        g = rng.standard_normal(yt.shape)
        yt.backward(torch.tensor(g))
        y = run(cypool.conv2d, x, fmt, w, b if use_bias else None, s, p)
        gx, gw, gb = cypool.conv2d_backward(cl(g, fmt), cl(x, fmt), w, s, p, data_format=fmt)
        gx = gx if fmt == "channels_first" else from_channels_last(gx)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, g.sum(axis=(0, 2, 3)), rtol=1e-10, atol=1e-12)


def test_conv2d_unbatched_and_finite_differences():
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((2, 5, 6)), rng.standard_normal((3, 2, 3, 3))
    y = cypool.conv2d(x, w, None, 2, 1)
    np.testing.assert_allclose(y, cypool.conv2d(x[None], w, None, 2, 1)[0])
    g = rng.standard_normal(y.shape)
    num = ref.numeric_grad(lambda a: cypool.conv2d(a, w, None, 2, 1), x.copy(), g)
    np.testing.assert_allclose(cypool.conv2d_backward(g, x, w, 2, 1)[0], num, rtol=1e-6,
                               atol=1e-8)
    numw = ref.numeric_grad(lambda a: cypool.conv2d(x, a, None, 2, 1), w.copy(), g)
    np.testing.assert_allclose(cypool.conv2d_backward(g, x, w, 2, 1)[1], numw, rtol=1e-6,
                               atol=1e-8)


# ----------------------------------------------------------------------------- threads, errors

def test_bit_identical_across_thread_counts():
    rng = np.random.default_rng(15)
    x = rng.random((4, 16, 48, 48)).astype(np.float32)
    xl = np.ascontiguousarray(to_channels_last(x))
    ops = [
        lambda a, f: cypool.lp_pool2d(a, 2, 3, 2, True, data_format=f),
        lambda a, f: cypool.lp_pool2d_backward(
            np.ones_like(cypool.lp_pool2d(a, 3, 3, 2, data_format=f)), a, 3, 3, 2, data_format=f),
        lambda a, f: cypool.blur_pool2d(a, 4, 2, data_format=f),
        lambda a, f: cypool.blur_pool2d_backward(
            cypool.blur_pool2d(a, 3, 2, data_format=f), a.shape, 3, 2, data_format=f),
        lambda a, f: cypool.stochastic_pool2d(a, 2, training=False, data_format=f),
        lambda a, f: cypool.spatial_pyramid_pool(a, data_format=f),
    ]
    for op, (a, f) in itertools.product(ops, ((x, "channels_first"), (xl, "channels_last"))):
        with cypool.threads(1):
            one = op(a, f)
        with cypool.threads(2):
            two = op(a, f)
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (np.int64(-5), ValueError),
                                         ("a", TypeError), (1.5, TypeError), (True, TypeError)])
def test_stochastic_seed_errors_say_what_is_wrong(seed, error, rng):
    """A negative int is a value out of range (ValueError); another type is a TypeError."""
    x = rng.random((1, 2, 4, 4))
    with pytest.raises(error, match="seed"):
        cypool.stochastic_pool2d(x, 2, seed=seed)


@pytest.mark.parametrize("call, match", [
    (lambda x: cypool.lp_pool2d(x, 0, 2), "norm_type"),
    (lambda x: cypool.lp_pool2d(x, "2", 2), "norm_type"),
    (lambda x: cypool.lp_pool2d(x, 10**400, 2), "norm_type"),   # float(10**400) overflows
    (lambda x: cypool.lp_pool2d(x, 2, 0), "kernel_size"),
    (lambda x: cypool.lp_pool2d(x, 2, 2, stride=(1, 0)), "stride"),
    (lambda x: cypool.blur_pool2d(x, 8), "filt_size"),
    (lambda x: cypool.blur_pool2d(x, 3, 0), "stride"),
    (lambda x: cypool.blur_pool2d(x[..., :1, :], 3), "height"),
    (lambda x: cypool.stochastic_pool2d(x, 2, seed=-1), "seed"),
    (lambda x: cypool.stochastic_pool2d(x, 2, seed="a"), "seed"),
    (lambda x: cypool.stochastic_pool2d(x, 2, training=False, return_indices=True),
     "return_indices"),
    (lambda x: cypool.stochastic_pool2d(x, 9), "output size"),
    (lambda x: cypool.spatial_pyramid_pool(x, (2, 0)), "levels"),
    (lambda x: cypool.spatial_pyramid_pool(x, "4"), "levels"),
    (lambda x: cypool.spatial_pyramid_pool(x, mode="min"), "mode"),
    (lambda x: cypool.spatial_pyramid_pool(x, data_format="nchw"), "data_format"),
    (lambda x: cypool.conv2d(x, np.ones((2, 5, 3, 3))), "weight"),
    (lambda x: cypool.conv2d(x, np.ones((2, 3, 3))), "weight"),
    (lambda x: cypool.conv2d(x, np.ones((2, 3, 3, 3)), np.ones(3)), "bias"),
    (lambda x: cypool.conv2d(x, np.ones((2, 3, 3, 3)), stride=0), "stride"),
    (lambda x: cypool.conv2d(x, np.ones((0, 3, 3, 3))), "weight"),
    (lambda x: cypool.conv2d(x[..., :0], np.ones((2, 3, 1, 1))), "zero-size spatial"),
    (lambda x: cypool.conv2d_backward(np.ones((2, 3, 3)), x[:1], np.ones((2, 3, 3, 3))),
     "batched"),
    (lambda x: cypool.conv2d(x, np.ones((2, 3, 3, 3)), padding=-1), "padding"),
    (lambda x: cypool.conv2d(x, np.ones((2, 3, 9, 3))), "output size"),
    (lambda x: cypool.lp_pool2d(x.astype(np.int32), 2, 2), "dtype"),
    (lambda x: cypool.lp_pool2d_backward(np.ones((1, 3, 2, 2)), x, 2, 2), "grad_output"),
    (lambda x: cypool.blur_pool2d_backward(np.ones((1, 3, 2, 2)), x.shape), "grad_output"),
    (lambda x: cypool.conv2d_backward(np.ones((1, 2, 2, 2)), x, np.ones((2, 3, 3, 3))),
     "grad_output"),
    (lambda x: cypool.spatial_pyramid_pool_backward(np.ones((1, 3)), x.shape), "grad_output"),
    (lambda x: cypool.spatial_pyramid_pool_backward(np.ones((1, 63)), x.shape), "indices"),
])
def test_bad_input_names_the_parameter(call, match):
    x = np.ones((1, 3, 6, 6))
    with pytest.raises((ValueError, TypeError), match=match):
        call(x)


def test_conv2d_zero_input_channels_and_byte_swapped_weights():
    # no input channels: every output is the bias (torch 2.13 returns a 0-channel tensor instead)
    y = cypool.conv2d(np.ones((1, 0, 4, 4)), np.ones((3, 0, 2, 2)), np.arange(3.0))
    assert y.shape == (1, 3, 3, 3)
    np.testing.assert_array_equal(y, np.broadcast_to(np.arange(3.0)[None, :, None, None], y.shape))
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
    w = np.random.default_rng(1).standard_normal((4, 3, 2, 2))
    b = np.arange(4.0)
    np.testing.assert_array_equal(cypool.conv2d(x, w.astype(">f8"), b.astype(">f8")),
                                  cypool.conv2d(x, w, b))


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_lp_pool3d_equals_torch(data_format, rng):
    """lp_pool3d is PyTorch's: (sum of x**p)**(1/p) per window, partial ceil-mode windows scaled
    by kernel / real cells, inputs smaller than the window refused (as avg_pool3d refuses them);
    its backward is torch autograd's."""
    torch = pytest.importorskip("torch", reason="torch is optional")
    F = torch.nn.functional
    compared = refused = 0
    for trial in range(60):
        sp = tuple(int(v) for v in rng.integers(2, 8, 3))
        k = tuple(int(rng.integers(1, 4)) for _ in sp)
        s = tuple(int(rng.integers(1, 4)) for _ in sp)
        p = [1, 2, 3, 1.5][trial % 4]
        ceil = bool(trial % 2)
        x = rng.random((2, 3) + sp) + 0.1
        tx = torch.from_numpy(x).requires_grad_(True)
        xin = x if data_format == "channels_first" else np.moveaxis(x, 1, -1)
        try:
            ty = F.lp_pool3d(tx, p, k, s, ceil_mode=ceil)
        except RuntimeError:
            with pytest.raises(ValueError):
                cypool.lp_pool3d(xin, p, k, s, ceil, data_format=data_format)
            refused += 1
            continue
        y = cypool.lp_pool3d(xin, p, k, s, ceil, data_format=data_format)
        g = rng.standard_normal(ty.shape)
        ty.backward(torch.from_numpy(g))
        gin = g if data_format == "channels_first" else np.moveaxis(g, 1, -1)
        gx = cypool.lp_pool3d_backward(gin, xin, p, k, s, ceil, data_format=data_format)
        if data_format == "channels_last":
            y, gx = np.moveaxis(y, -1, 1), np.moveaxis(gx, -1, 1)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
        compared += 1
    assert compared > 20 and refused > 0

"""float16 and bfloat16 as first-class inputs.

Max and average pooling (forward, backward) and the index scatter of every max-type backward read
and write 16-bit values and compute in float32: results must be PyTorch's bit for bit (CPU),
checked against torch where it is installed and, everywhere, against plain loops that compute
in float32 and round as PyTorch does (average: the float32 sum divided by the divisor, rounded
once; backward: each add rounded). The data keep every window's float32 sum exact: where it is
not, cypool's summation order (rows first) may round it differently from PyTorch's. Every other operator takes a float32 copy and rounds its
result once. bfloat16 is ml_dtypes' (optional: those cases skip without it).
"""
import itertools
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import cypool
import reference as R
from helpers import TILE_CASES, python_env_for_subprocess, saved_under_each, tile_indices

try:
    import ml_dtypes
    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:   # ml_dtypes is optional: the bfloat16 cases skip
    BF16 = None

F16 = np.dtype(np.float16)
HALVES = [pytest.param(F16, id="float16"),
          pytest.param(BF16, id="bfloat16", marks=pytest.mark.skipif(
              BF16 is None, reason="needs ml_dtypes (pip install ml_dtypes)"))]


def rounded(a, dtype):
    """float32 values rounded to dtype once (NumPy's and ml_dtypes' casts round to nearest
    even), back in float32."""
    return np.asarray(a, np.float32).astype(dtype).astype(np.float32)


def assert_same(got, want):
    """Same dtype, shape and bit patterns, NaN matching NaN (whatever its payload); the bits
    tell -0 from +0."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(want.astype(np.float32))
    np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan])


def specials(dtype, rng, shape):
    """Values on a coarse grid (float32 sums of a few of them are exact) with NaN, +-inf,
    +-0 and subnormals of dtype sprinkled in."""
    x = (rng.integers(-64, 65, shape) / 8).astype(np.float32)
    tiny = float(np.finfo(dtype).smallest_subnormal)
    pool = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, tiny, -tiny, 3 * tiny], np.float32)
    mask = rng.random(shape) < 0.08
    x[mask] = rng.choice(pool, int(mask.sum()))
    return x.astype(dtype)


# ----------------------------------------------------------------------------- conversions

@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_every_bit_pattern_loads_and_stores_exactly(dtype, data_format):
    # a 1-cell window is the identity: every one of the 65536 patterns goes through the load
    # and the store (rows, and the small-plane tiles of the 2-d case)
    x = np.arange(65536, dtype=np.uint16).view(dtype)
    assert_same(cypool.max_pool1d(x.reshape(1, 256, 256), 1, data_format=data_format),
                x.reshape(1, 256, 256))
    assert_same(cypool.max_pool2d(x.reshape(1, 4096, 4, 4), 1, data_format=data_format),
                x.reshape(1, 4096, 4, 4))
    y, idx = cypool.max_pool2d(x.reshape(64, 64, 4, 4), 1, return_indices=True)
    assert_same(y, x.reshape(64, 64, 4, 4))
    np.testing.assert_array_equal(idx, np.broadcast_to(np.arange(16).reshape(4, 4), idx.shape))


@pytest.mark.parametrize("dtype", HALVES)
def test_stores_round_to_nearest_even(dtype, rng):
    # a pair's sum (divisor 1) and mean: the float32 result rounded once, over random finite
    # patterns, ties, overflow to infinity and results in the subnormal range
    bits = rng.integers(0, 65536, 200000, dtype=np.uint16)
    v = bits.view(dtype)
    v = v[np.isfinite(v.astype(np.float32))][:2 * 60000]
    info = np.finfo(dtype)
    one, eps, tiny = np.float32(1), float(info.eps), float(info.smallest_subnormal)
    extra = np.array([one, one + eps, one, one + 3 * eps, float(info.max), float(info.max),
                      -float(info.max), -float(info.max), tiny, 2 * tiny, tiny, tiny, -tiny,
                      tiny], np.float32).astype(dtype)
    pairs = np.concatenate([extra, v]).reshape(1, 1, -1, 2)
    a, b = pairs[..., 0].astype(np.float32), pairs[..., 1].astype(np.float32)
    with np.errstate(over="ignore"):
        got_sum = cypool.avg_pool2d(pairs, (1, 2), divisor_override=1)[..., 0]
        got_mean = cypool.avg_pool2d(pairs, (1, 2))[..., 0]
        assert_same(got_sum, (np.float32(0) + (a + b)).astype(dtype))
        assert_same(got_mean, ((np.float32(0) + (a + b)) / np.float32(2)).astype(dtype))
    assert float(got_mean[0, 0, 0]) == 1.0                    # 1 + eps/2 ties to even: 1
    assert float(got_mean[0, 0, 1]) == float(one + 2 * eps)   # 1 + 1.5 eps ties up to even
    assert np.isinf(got_sum[0, 0, 2].astype(np.float32))


# ----------------------------------------------------------------------------- references

def avg_forward_ref(x, k, s, p, ceil_mode, cip, div):
    """Float32 mean of each window (PyTorch's division), rounded once to x's dtype; x holds
    values whose float32 window sums are exact, so the summation order does not matter."""
    y = R.avg_pool(x.astype(np.float32), k, s, p, p, ceil_mode, cip, div)
    return y.astype(x.dtype)


def _windows(spatial, k, s, p, ceil_mode):
    """(output position, real cells, PyTorch's divisor without an override) per output."""
    ones = [1] * len(spatial)
    for _, o, cells in R._windows(spatial, k, s, p, p, ones, ceil_mode):
        padded = [[i for i in axis if -lo <= i < L + lo] for axis, L, lo in zip(cells, spatial, p)]
        real = [[i for i in axis if 0 <= i < L] for axis, L in zip(cells, spatial)]
        yield o, list(itertools.product(*real)), padded, real


def avg_backward_ref(g, spatial, k, s, p, ceil_mode, cip, div):
    """PyTorch's half-precision backward: delta = g / divisor, both rounded to g's dtype, added
    to every cell of the window in output order, each add rounded."""
    dt = g.dtype
    N, C = g.shape[:2]
    gx = np.zeros((N, C, *spatial), np.float32)
    for o, cells, padded, real in _windows(spatial, k, s, p, ceil_mode):
        d = div or int(np.prod([len(a) for a in (padded if cip else real)]))
        delta = rounded(g[(slice(None), slice(None), *o)].astype(np.float32)
                        / rounded(np.float32(d), dt), dt)
        for pos in cells:
            idx = (slice(None), slice(None), *pos)
            gx[idx] = rounded(gx[idx] + delta, dt)
    return gx.astype(dt)


def max_backward_ref(g, idx, spatial):
    """Each gradient added to the cell its index names, in output order, each add rounded."""
    dt = g.dtype
    N, C = g.shape[:2]
    gx = np.zeros((N, C, int(np.prod(spatial))), np.float32)
    gf, ii = g.reshape(N, C, -1).astype(np.float32), idx.reshape(N, C, -1)
    for o in range(gf.shape[2]):
        for n, c in itertools.product(range(N), range(C)):
            gx[n, c, ii[n, c, o]] = rounded(gx[n, c, ii[n, c, o]] + gf[n, c, o], dt)
    return gx.reshape(N, C, *spatial).astype(dt)


def to_layout(a, data_format):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)) if data_format == "channels_last" else a


def from_layout(a, data_format):
    return np.moveaxis(a, -1, 1) if data_format == "channels_last" else a


# (rank, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = [(1, 3, 2, 1, False, True, None), (1, 2, 1, 0, True, False, None),
             (2, 2, 2, 0, False, True, None), (2, 3, 2, 1, True, False, None),
             (2, 3, 1, 1, False, True, None), (2, (3, 2), (1, 2), (1, 0), False, False, 7),
             (2, 3, 3, 1, True, True, 257), (3, 2, 2, 0, False, True, None),
             (3, 3, 2, 1, True, False, None)]
SHAPES = {1: (2, 5, 13), 2: (2, 5, 9, 11), 3: (2, 3, 5, 6, 7)}


def _avg_args(rank, k, s, p):
    t = lambda v: (v,) * rank if isinstance(v, int) else v
    return t(k), t(s), t(p)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_matches_the_float32_reference(dtype, data_format, case, rng):
    rank, k, s, p, ceil_mode, cip, div = case
    x = specials(dtype, rng, SHAPES[rank])
    kk, ss, pp = _avg_args(rank, k, s, p)
    fn = getattr(cypool, f"avg_pool{rank}d")
    kw = {} if rank == 1 else {"divisor_override": div}
    y = fn(to_layout(x, data_format), k, s, p, ceil_mode, cip, data_format=data_format, **kw)
    want = avg_forward_ref(x, kk, ss, pp, ceil_mode, cip, div)
    assert_same(from_layout(y, data_format), want)
    g = specials(dtype, rng, want.shape)
    gx = getattr(cypool, f"avg_pool{rank}d_backward")(
        to_layout(g, data_format), to_layout(x, data_format).shape, k, s, p, ceil_mode, cip,
        data_format=data_format, **kw)
    assert_same(from_layout(gx, data_format),
                avg_backward_ref(g, x.shape[2:], kk, ss, pp, ceil_mode, cip, div))


MAX_CASES = [(1, 3, 2, 1, 1, False), (2, 2, 2, 0, 1, False), (2, 3, 2, 1, 1, True),
             (2, 3, 1, 1, 2, False), (3, 2, 2, 0, 1, False), (3, 3, 2, 1, 1, True)]


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_matches_the_reference(dtype, data_format, case, rng):
    rank, k, s, p, d, ceil_mode = case
    x = specials(dtype, rng, SHAPES[rank])
    y, idx = getattr(cypool, f"max_pool{rank}d")(to_layout(x, data_format), k, s, p, d,
                                                 ceil_mode, return_indices=True,
                                                 data_format=data_format)
    t = (lambda v: (v,) * rank)
    want, want_idx = R.max_pool(x.astype(np.float32), t(k), t(s), t(p), t(p), t(d), ceil_mode)
    assert_same(from_layout(y, data_format), want.astype(dtype))
    np.testing.assert_array_equal(from_layout(idx, data_format), want_idx)
    g = specials(dtype, rng, want.shape)
    gx = getattr(cypool, f"max_pool{rank}d_backward")(to_layout(g, data_format), idx,
                                                      to_layout(x, data_format).shape,
                                                      data_format=data_format)
    assert_same(from_layout(gx, data_format), max_backward_ref(g, want_idx, x.shape[2:]))


@pytest.mark.parametrize("dtype", HALVES)
def test_native_kernels_make_no_float32_copy(dtype, rng):
    # what a call allocates (outputs, indices) stays below what a float32 copy of x would take
    x = rng.standard_normal((4, 16, 128, 128)).astype(dtype)
    for call in (lambda: cypool.max_pool2d(x, 2), lambda: cypool.avg_pool2d(x, 2),
                 lambda: cypool.max_pool2d(x, 3, 2, 1, return_indices=True)):
        call()
        tracemalloc.start()
        try:
            y = call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (y[0] if isinstance(y, tuple) else y).dtype == dtype
        assert peak < 2 * x.nbytes, (peak, x.nbytes)   # a float32 copy alone: 2 * x.nbytes


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_global_average_reads_half_precision_as_it_is(dtype, data_format, rng):
    # 16-bit kernels: the float32 kernel's sums over the widened values, rounded once; planes
    # short and long (one block, several, a last block of fewer than 16 values), channels-last
    # rows in several blocks, more channels than a block
    shapes = [(2, 9, 7, 7), (3, 5, 8, 8), (2, 3, 14, 14), (1, 2, 1, 2053), (1, 2, 3, 1371),
              (1, 1100, 9, 9), (2, 17, 1, 65)]
    for shape in shapes:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        g = rng.standard_normal(shape[:2]).astype(dtype)
        x_in = x.transpose(0, 2, 3, 1).copy() if data_format == "channels_last" else x
        for n in (1, 2):
            with cypool.threads(n):
                y = cypool.global_avg_pool2d(x_in, data_format=data_format)
                gx = cypool.global_avg_pool2d_backward(g, x_in.shape, data_format=data_format)
            assert_same(y, cypool.global_avg_pool2d(x_in.astype(np.float32),
                                                    data_format=data_format).astype(dtype))
            assert_same(gx, cypool.global_avg_pool2d_backward(
                g.astype(np.float32), x_in.shape, data_format=data_format).astype(dtype))
    big = rng.standard_normal((4, 16, 64, 64)).astype(dtype)   # a float32 copy: np.empty's
    cypool.global_avg_pool2d(big)
    tracemalloc.start()
    try:
        cypool.global_avg_pool2d(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < big.nbytes // 8, (peak, big.nbytes)   # no float32 copy


# Operators without half-precision kernels: (name, arguments after the array(s)). Each takes
# float16 / bfloat16 and equals its float32 result rounded once. (Max-type backwards are left out:
# they route gradients through max pooling's scatter, which rounds each add as torch does.)
ROUND_ONCE = [
    ("adaptive_avg_pool2d", (5,)), ("adaptive_max_pool2d", (5,)), ("global_avg_pool2d", ()),
    ("global_max_pool2d", ()), ("lp_pool2d", (2.0, 3)), ("blur_pool2d", ()),
    ("max_blur_pool2d", ()), ("spatial_pyramid_pool", ((2, 1), "avg")),
    ("stochastic_pool2d", (2, 2, False)), ("adaptive_avg_pool3d", (2,)),
    ("lp_pool1d", (3.0, 2)),
]


def _operand(name, x):
    return x[..., 0] if name.endswith("1d") else x[:, :, None] if name.endswith("3d") else x


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("name,args", ROUND_ONCE, ids=[r[0] for r in ROUND_ONCE])
def test_other_operators_compute_in_float32_and_round_once(dtype, name, args, rng):
    x = _operand(name, rng.standard_normal((2, 3, 12, 12)).astype(dtype))
    fn = getattr(cypool, name)
    y = fn(x, *args)
    y = y if isinstance(y, np.ndarray) else y[0]
    want = fn(x.astype(np.float32), *args)
    want = want if isinstance(want, np.ndarray) else want[0]
    assert y.dtype == dtype
    assert_same(y, want.astype(dtype))


@pytest.mark.parametrize("dtype", HALVES)
def test_other_backwards_and_unpooling_compute_in_float32(dtype, rng):
    x = rng.standard_normal((2, 3, 12, 12)).astype(dtype)
    g = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    calls = [
        lambda a: cypool.adaptive_avg_pool2d_backward(a, (2, 3, 12, 12)),
        lambda a: cypool.lp_pool2d_backward(a, x.astype(a.dtype), 2.0, 2),
        lambda a: cypool.max_unpool2d(a, idx, 2),
        lambda a: cypool.max_unpool2d_backward(cypool.max_unpool2d(a, idx, 2), idx),
        lambda a: cypool.blur_pool2d_backward(a, (2, 3, 12, 12)),
        lambda a: cypool.conv2d(x.astype(a.dtype), np.ones((4, 3, 3, 3), a.dtype) / 8),
    ]
    for call in calls:
        got = call(g)
        assert got.dtype == dtype
        assert_same(got, call(g.astype(np.float32)).astype(dtype))


# Casts of whole arrays (cypool._layout.cast): big ones run cypool._convert's parallel loops.
BIG_CAST = (1 << 17) + 77   # values: past _layout._CONVERT_FROM, a partial last block


def _same_float32(got, want):
    """assert_same for float32 arrays."""
    assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got.view(np.uint32)[~nan], want.view(np.uint32)[~nan])


def _narrowing_probes(rng):
    """float32 values around every rounding case of float16 and bfloat16: random values of every
    scale, both neighbours of each halfway point, subnormals, the overflow edges, +-0, +-inf,
    NaN."""
    scales = [1e-9, 1e-7, 6e-5, 1e-3, 1, 1e3, 6e4, 1e20, 3e38]   # the last overflows to inf
    with np.errstate(over="ignore"):
        x = np.concatenate([rng.standard_normal(8192).astype(np.float32) * np.float32(s)
                            for s in scales])
    bits = rng.integers(0, 1 << 32, 1 << 15, dtype=np.uint64).astype(np.uint32)
    ties = (bits & np.uint32(0xFFFFE000)) | np.uint32(0x1000)      # float16's halfway points
    bf_ties = (bits & np.uint32(0xFFFF0000)) | np.uint32(0x8000)   # bfloat16's
    edges = np.array([65504, 65519.996, 65520, 65536, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.5,
                      -0.0, 0.0, np.inf, -np.inf, np.nan, -np.nan], np.float32)
    x = np.concatenate([x, ties.view(np.float32), bf_ties.view(np.float32),
                        (ties + 1).view(np.float32), (ties - 1).view(np.float32), edges])
    return np.resize(x, BIG_CAST)


@pytest.mark.parametrize("dtype", HALVES)
def test_whole_array_casts_equal_numpys(dtype, rng):
    from cypool._layout import cast
    every = np.resize(np.arange(1 << 16, dtype=np.uint16), BIG_CAST).view(dtype)
    wide = cast(every, np.float32)
    assert wide.dtype == np.float32
    _same_float32(wide, every.astype(np.float32))
    x = _narrowing_probes(rng)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(dtype)
    assert_same(cast(x, dtype), want)
    with cypool.threads(1):   # one thread or two: the same values
        assert_same(cast(x, dtype), want)


@pytest.mark.parametrize("dtype", HALVES)
def test_whole_array_casts_keep_the_memory_order(dtype, rng):
    from cypool._layout import cast
    x = rng.standard_normal((4, 32, 40, 36)).astype(dtype)
    for a in (x, x.transpose(0, 2, 3, 1), x[:, :, ::-1], x[:, ::2]):   # last two: not dense
        got = cast(a, np.float32)
        _same_float32(got, a.astype(np.float32))
        if a.flags.c_contiguous or a.transpose(0, 3, 1, 2).flags.c_contiguous:
            assert np.argsort(got.strides).tolist() == np.argsort(a.strides).tolist()
        assert_same(cast(got, dtype), a.astype(dtype, order="K"))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_big_operands_of_the_float32_operators_round_once(dtype, data_format, rng):
    # past the size where the casts are cypool's own: inputs widened, results rounded once
    x = rng.standard_normal((3, 24, 48, 48)).astype(dtype)
    g = rng.standard_normal((3, 24, 24, 24)).astype(dtype)
    if data_format == "channels_last":
        x, g = x.transpose(0, 2, 3, 1), g.transpose(0, 2, 3, 1)
    shape = x.shape
    calls = [lambda a: cypool.adaptive_avg_pool2d(a, 24, data_format),
             lambda a: cypool.lp_pool2d(a, 2.0, 2, data_format=data_format),
             lambda a: cypool.adaptive_max_pool2d(a, 24, data_format=data_format)]
    for call in calls:
        assert_same(call(x), call(x.astype(np.float32)).astype(dtype))
    back = lambda a: cypool.adaptive_avg_pool2d_backward(a, shape, data_format)
    got = back(g)
    assert got.dtype == dtype and got.size >= BIG_CAST
    assert_same(got, back(g.astype(np.float32)).astype(dtype))


# ----------------------------------------------------------------------------- against torch

def _torch_half(dtype):
    torch = pytest.importorskip("torch")
    return torch, (torch.float16 if dtype == F16 else torch.bfloat16)


def _to_numpy(t, dtype):
    t = t.detach().contiguous()
    return t.view(__import__("torch").int16).numpy().view(dtype)


TORCH_AVG = [c for c in AVG_CASES if c[0] < 3]   # torch's CPU avg_pool3d has no half kernel


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("case", TORCH_AVG)
def test_avg_equals_torch(dtype, channels_last, case, rng):
    torch, tdt = _torch_half(dtype)
    rank, k, s, p, ceil_mode, cip, div = case
    shape = (2, 40, 9, 11) if rank == 2 else SHAPES[rank]
    x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(tdt)
    x.view(-1)[::17] = float("nan")
    x.view(-1)[5::23] = float("inf")
    if channels_last and rank == 2:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    fn = getattr(torch.nn.functional, f"avg_pool{rank}d")
    kw = {} if rank == 1 else {"divisor_override": div}
    y = fn(x, k, s, p, ceil_mode, cip, **kw)
    g = torch.randn(y.shape).to(tdt)
    gx, = torch.autograd.grad(y, x, g)
    df = "channels_first"
    xn = _to_numpy(x, dtype)
    ours = getattr(cypool, f"avg_pool{rank}d")(xn, k, s, p, ceil_mode, cip, **kw)
    assert_same(ours, _to_numpy(y, dtype))
    gn = getattr(cypool, f"avg_pool{rank}d_backward")(_to_numpy(g, dtype), xn.shape, k, s, p,
                                                      ceil_mode, cip, data_format=df, **kw)
    assert_same(gn, _to_numpy(gx, dtype))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_equals_torch(dtype, channels_last, case, rng):
    torch, tdt = _torch_half(dtype)
    rank, k, s, p, d, ceil_mode = case
    shape = (2, 40, 9, 11) if rank == 2 else SHAPES[rank]
    x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(tdt)
    x.view(-1)[::19] = float("nan")
    x.view(-1)[3::29] = float("-inf")
    if channels_last and rank > 1:
        x = x.contiguous(memory_format=torch.channels_last if rank == 2
                         else torch.channels_last_3d)
    x.requires_grad_(True)
    y, idx = getattr(torch.nn.functional, f"max_pool{rank}d")(x, k, s, p, d, ceil_mode, True)
    g = torch.randn(y.shape).to(tdt)
    gx, = torch.autograd.grad(y, x, g)
    xn = _to_numpy(x, dtype)
    ours, oi = getattr(cypool, f"max_pool{rank}d")(xn, k, s, p, d, ceil_mode,
                                                   return_indices=True)
    assert_same(ours, _to_numpy(y, dtype))
    np.testing.assert_array_equal(oi, idx.numpy())
    gn = getattr(cypool, f"max_pool{rank}d_backward")(_to_numpy(g, dtype), oi, xn.shape)
    assert_same(gn, _to_numpy(gx, dtype))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_bridge_equals_torch_without_a_float32_copy(dtype, channels_last, rng):
    torch, tdt = _torch_half(dtype)
    import cypool.torch as ct
    x = torch.from_numpy(rng.standard_normal((2, 8, 10, 12)).astype(np.float32)).to(tdt)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for ours, theirs in [(lambda t: ct.max_pool2d(t, 3, 2, 1), lambda t: torch.nn.functional
                          .max_pool2d(t, 3, 2, 1)),
                         (lambda t: ct.avg_pool2d(t, 3, 1, 1), lambda t: torch.nn.functional
                          .avg_pool2d(t, 3, 1, 1))]:
        a = x.detach().clone().requires_grad_(True)
        b = x.detach().clone().requires_grad_(True)
        ya, yb = ours(a), theirs(b)
        assert ya.dtype == tdt and ya.stride() == yb.stride()
        assert torch.equal(ya.isnan(), yb.isnan()) and torch.equal(ya, yb)
        g = torch.randn(ya.shape).to(tdt)
        ga, = torch.autograd.grad(ya, a, g)
        gb, = torch.autograd.grad(yb, b, g)
        assert ga.stride() == gb.stride() and torch.equal(ga, gb)
    from cypool.torch import _kernels
    view = _kernels.to_numpy(x, half=True)
    assert view.dtype.itemsize == 2 and np.shares_memory(view, x.numpy() if dtype == F16
                                                         else x.view(torch.int16).numpy())


@pytest.mark.parametrize("dtype", HALVES)
def test_a_mean_that_rounds_to_zero_keeps_torchs_sign(dtype):
    # PyTorch's channels-first kernel adds the rounded mean to a zeroed output (-0 becomes +0);
    # its channels-last kernel stores the rounded mean (-0 stays); cypool follows both
    tiny = float(np.finfo(dtype).smallest_subnormal)
    x = np.zeros((1, 8, 2, 2), np.float32)
    x[:, :, 0, 0] = -tiny
    x = x.astype(dtype)
    cf = cypool.avg_pool2d(x, 2)
    cl = cypool.avg_pool2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), 2,
                           data_format="channels_last")
    assert (cf.view(np.uint16) == 0).all() and (cl.view(np.uint16) == 0x8000).all()


# ----------------------------------------------------------------------------- conversion paths

@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("shape,k,s,p,d", [((2, 40, 48, 96), 2, 2, 0, 1),
                                           ((1, 37, 33, 200), 3, 2, 1, 1),
                                           ((1, 20, 15, 300), 3, 1, 1, 2),
                                           ((1, 6, 7, 1000), 3, 1, 1, 1)])
def test_big_channels_last_rows_equal_the_float32_kernel(dtype, shape, k, s, p, d, rng):
    # channels-last rows too wide for one float buffer go in groups of outputs (wide rows, many
    # channels, a dilated window whose first real cell moves back), a window too big for it
    # cell by cell: a maximum is exact, so the 16-bit result is the float32 kernel's, rounded,
    # and the indices are its indices
    x = specials(dtype, rng, shape)
    y, i = cypool.max_pool2d(x, k, s, p, d, return_indices=True, data_format="channels_last")
    y32, i32 = cypool.max_pool2d(x.astype(np.float32), k, s, p, d, return_indices=True,
                                 data_format="channels_last")
    assert_same(y, y32.astype(dtype))
    np.testing.assert_array_equal(i, i32)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("k,s,p,ceil", [(2, 2, 0, False), (3, 2, 1, True), (2, 1, 0, False),
                                        (3, 1, 1, False), (5, 1, 2, False), (4, 3, 1, True)])
def test_channels_first_rows_of_every_width_equal_the_float32_kernel(dtype, k, s, p, ceil, rng):
    # float16's channels-first interiors go 16 or 8 outputs a vector, up to four vectors at a
    # time, the last vector ending at the row's end (overlapping the one before), rows of fewer
    # than 8 outputs one by one: every row width from 1 to 70 outputs, with and without indices;
    # a maximum is exact, so the 16-bit result is the float32 kernel's, rounded
    for w in range(1, 141, 2):
        x = specials(dtype, rng, (1, 2, 5, w + k))
        y, i = cypool.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
        y32, i32 = cypool.max_pool2d(x.astype(np.float32), k, s, p, ceil_mode=ceil,
                                     return_indices=True)
        assert_same(y, y32.astype(dtype))
        np.testing.assert_array_equal(i, i32)
        assert_same(cypool.max_pool2d(x, k, s, p, ceil_mode=ceil), y)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("width", [32, 38, 4096, 4098, 4136], ids=str)
def test_channels_first_2x2_rows_past_a_block_equal_the_reference(dtype, width, rng):
    # the AVX-512 2x2/s2 pair kernels read a row's first input row in blocks of 2048 outputs
    # before its second: rows of 16, 19, 2048, 2049 and 2068 outputs (a last block of 1 or 20,
    # a last vector in part), two rows of windows a plane, 3 planes
    x = specials(dtype, rng, (1, 3, 4, width))
    y = cypool.max_pool2d(x, 2, 2)
    want, _ = R.max_pool(x.astype(np.float32), (2, 2), (2, 2), (0, 0), (0, 0), (1, 1), False)
    assert_same(y, want.astype(dtype))
    with cypool.threads(2):
        assert_same(cypool.max_pool2d(x, 2, 2), y)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("k,s,p,d", [(2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), (3, 1, 1, 1),
                                     (2, 1, 0, 1)])
def test_channels_last_rows_of_every_channel_count_equal_the_float32_kernel(dtype, k, s, p, d,
                                                                           rng):
    # float16's channels-last cells go 16 or 8 channels a vector, up to four vectors at a time,
    # the last vector ending at the last channel, fewer than 8 channels one by one;
    # 3x3/s1, 3x3/s2 and 2x2/s1 interiors four outputs at a time sharing their
    # columns' conversions (rows of 13 columns: runs of four and single outputs): every channel
    # count from 1 to 70
    for c in range(1, 71):
        x = specials(dtype, rng, (1, c, 5, 13))
        a = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        y, i = cypool.max_pool2d(a, k, s, p, d, return_indices=True, data_format="channels_last")
        y32, i32 = cypool.max_pool2d(a.astype(np.float32), k, s, p, d, return_indices=True,
                                     data_format="channels_last")
        assert_same(y, y32.astype(dtype))
        np.testing.assert_array_equal(i, i32)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("k,s,p,ceil,cip", [(2, 2, 0, False, True), (3, 1, 1, False, True),
                                            (3, 2, 1, True, False), (5, 1, 2, False, False),
                                            (2, 1, 0, False, True), (4, 3, 1, True, True)])
def test_average_rows_of_every_width_and_channel_count_match_the_reference(dtype, k, s, p, ceil,
                                                                          cip, rng):
    # float16's and bfloat16's averages go 16 outputs (channels-first rows) or 16 channels
    # (channels-last cells) a vector, four vectors at a time in the backward, the last vector
    # ending at the row's end, narrower rows through the row buffers: row widths from 1 to 70
    # outputs and channel counts from 1 to 70,
    # forward (rounded once) and backward (rounded after every add); subnormals made -0 (a
    # subnormal beside a grid value makes the float32 sum depend on its order)
    kk, ss, pp = (k, k), (s, s), (p, p)
    shapes = [(1, 2, 5, w + k) for w in range(1, 141, 5)]
    shapes += [(1, c, 5, 9) for c in [*range(1, 41, 3), 64, 67, 70]]
    normal = float(np.finfo(dtype).smallest_normal)

    def values(shape):
        v = specials(dtype, rng, shape)
        v[np.abs(v.astype(np.float32)) < normal] = -0.0
        return v

    for shape in shapes:
        x = values(shape)
        for fmt in ("channels_first", "channels_last"):
            a = to_layout(x, fmt)
            y = cypool.avg_pool2d(a, k, s, p, ceil, cip, data_format=fmt)
            assert_same(from_layout(y, fmt), avg_forward_ref(x, kk, ss, pp, ceil, cip, None))
            g = values(from_layout(y, fmt).shape)
            gx = cypool.avg_pool2d_backward(to_layout(g, fmt), a.shape, k, s, p, ceil, cip,
                                            data_format=fmt)
            assert_same(from_layout(gx, fmt),
                        avg_backward_ref(g, shape[2:], kk, ss, pp, ceil, cip, None))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("k,s,p", [(3, 2, 1), (3, 2, 0), (3, 1, 1), (2, 1, 0)])
def test_overlapping_average_backward_rounds_every_add_as_torch(dtype, k, s, p, rng):
    # The overlapping backward's chains of rounded adds in vectors, on values off any grid (most
    # adds round; ties and sums past the largest finite value too), NaN, +-inf and -0 among
    # them: rows of 16 to 140 cells (channels-first) and 16 to 70 channels (channels-last)
    big = float(np.finfo(dtype).max)

    def values(shape):
        v = rng.standard_normal(shape).astype(np.float32) * rng.choice([1e-3, 1.0, 300.0], shape)
        pool = np.array([np.nan, np.inf, -np.inf, -0.0, big, -big], np.float32)
        mask = rng.random(shape) < 0.03
        v[mask] = rng.choice(pool, int(mask.sum()))
        return v.astype(dtype)

    kk, ss, pp = (k, k), (s, s), (p, p)
    shapes = [(1, 2, 6, w) for w in (16, 17, 31, 64, 77, 140)]
    shapes += [(1, c, 6, 7) for c in (16, 33, 70)]
    for shape in shapes:
        x = values(shape)
        for fmt in ("channels_first", "channels_last"):
            a = to_layout(x, fmt)
            y = from_layout(cypool.avg_pool2d(a, k, s, p, data_format=fmt), fmt)
            g = values(y.shape)
            gx = cypool.avg_pool2d_backward(to_layout(g, fmt), a.shape, k, s, p, data_format=fmt)
            assert_same(from_layout(gx, fmt),
                        avg_backward_ref(g, shape[2:], kk, ss, pp, False, True, None))


def _under_flush_to_zero(call):
    """call() with flush-to-zero and denormals-are-zero set in this thread's MXCSR (torch's
    set_flush_denormal), 1 thread; skips where the CPU has no such mode."""
    torch = pytest.importorskip("torch")
    if not torch.set_flush_denormal(True):
        pytest.skip("the CPU has no flush-to-zero mode")
    try:
        with cypool.threads(1):
            return call()
    finally:
        torch.set_flush_denormal(False)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_float16_average_backward_keeps_subnormals_under_flush_to_zero(data_format):
    # where the CPU has AVX512-FP16, float16's overlapping average backward adds in float16
    # (vaddph) instead of float32 (F16C's conversions, which never flush subnormals): with
    # flush-to-zero and denormals-are-zero set, subnormal gradients give the same bits
    tiny = np.arange(1, 65, dtype=np.uint16).view(np.float16)
    g = np.resize(tiny, (1, 64, 8, 40))
    g = to_layout(g, data_format)
    shape = to_layout(np.empty((1, 64, 8, 40)), data_format).shape

    def call():
        return cypool.avg_pool2d_backward(g, shape, 3, 1, 1, divisor_override=1,
                                          data_format=data_format)

    with cypool.threads(1):
        want = call()
    assert np.count_nonzero(want.astype(np.float32)) == want.size
    assert_same(_under_flush_to_zero(call), want)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_float16_max_backward_keeps_subnormals_under_flush_to_zero(data_format):
    # where the CPU has AVX512-FP16, float16's max backward adds in float16 (vaddph) instead of
    # float32: with flush-to-zero and denormals-are-zero set, subnormal gradients added to the
    # cells overlapping windows share give the same bits
    x = to_layout(np.ones((1, 32, 8, 40), np.float16), data_format)
    _, i = cypool.max_pool2d(x, 3, 1, 1, return_indices=True, data_format=data_format)
    g = np.resize(np.arange(1, 65, dtype=np.uint16).view(np.float16), i.shape)

    def call():
        return cypool.max_pool2d_backward(g, i, x.shape, data_format=data_format)

    with cypool.threads(1):
        want = call()
    assert np.count_nonzero(want.astype(np.float32)) > want.size // 2
    assert_same(_under_flush_to_zero(call), want)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_max_backward_keeps_a_signalling_nan_added_to_zero(dtype, data_format):
    # channels-first planes of overlapping windows add in a float buffer where the CPU has AVX2;
    # a cell's first add (0 + g) is g itself, so a signalling NaN gradient on a cell hit once
    # keeps its bits, as in the 16-bit loop (a conversion to float would make it quiet): such
    # planes take that loop; the channels-last vector scatters select g for a cell at +0.
    # Equal inputs: each window's maximum is its first cell, so output (i, j) of the interior
    # names cell (i - 1, j - 1), and the border outputs share cells. 11 channels: a full vector
    # of channels and a part of one.
    x = np.ones((2, 11, 8, 8), dtype)
    y, i = cypool.max_pool2d(x, 3, 1, 1, return_indices=True)
    g = np.ones(y.shape, dtype)
    # signalling NaNs (the second negative, another payload)
    s1, s2 = (0x7c01, 0xfd55) if dtype == F16 else (0x7f81, 0xffa5)
    g.view(np.uint16)[0, 1, 4, 4] = s1
    g.view(np.uint16)[1, 9, 5, 6] = s2
    gi = from_layout(cypool.max_pool2d_backward(to_layout(g, data_format),
                                                to_layout(i, data_format),
                                                to_layout(x, data_format).shape,
                                                data_format=data_format), data_format)
    gi = gi.view(np.uint16)
    assert gi[0, 1, 3, 3] == s1 and gi[1, 9, 4, 5] == s2
    # the other planes: cell (0, 0) is named by outputs (0, 0), (0, 1), (1, 0), (1, 1): 4.0
    four, one = np.array([4, 1], np.float32).astype(dtype).view(np.uint16)
    assert gi[0, 0, 0, 0] == four and gi[0, 0, 3, 3] == one and gi[0, 0, 7, 7] == 0


def _indices_3x3_s2_p1(rng, dtype, shape):
    """Forward indices of 3x3/s2/p1 windows over random values, and the same as rows of planes."""
    x = rng.standard_normal(shape).astype(dtype)
    _, idx = cypool.max_pool2d(x, 3, 2, 1, return_indices=True)
    return idx, idx.reshape(shape[0] * shape[1], -1)


def _output_on_a_cell_named_once(plane_indices, start):
    """The first output from start on whose cell no other output of the plane names."""
    counts = np.bincount(plane_indices)
    return next(o for o in range(start, len(plane_indices)) if counts[plane_indices[o]] == 1)


@pytest.mark.parametrize("dtype", HALVES)
def test_max_backward_keeps_a_signalling_nan_after_the_first_outputs(dtype, rng):
    # the float buffer's plane kernel looks for signalling NaNs 256 outputs at a time, as it
    # goes: one further on drops the plane's buffered adds, and the plane takes the 16-bit loop
    # from its start. 3x3/s2/p1 windows of random values (about a fifth of the adds go to the
    # cell of the add before: the buffer's case), the NaN on a cell named once.
    shape = (1, 2, 48, 48)
    idx, flat = _indices_3x3_s2_p1(rng, dtype, shape)
    assert np.count_nonzero(flat[0, 1:256] == flat[0, :255]) * 32 >= 256
    o = _output_on_a_cell_named_once(flat[0], 400)
    g = specials(dtype, rng, idx.shape)
    snan = 0x7c01 if dtype == F16 else 0x7f81
    g.view(np.uint16).reshape(2, -1)[0, o] = snan
    want = max_backward_ref(g, idx, shape[2:])
    for nt in (1, 2):
        with cypool.threads(nt):
            got = cypool.max_pool2d_backward(g, idx, shape)
        assert got.view(np.uint16).reshape(2, -1)[0, flat[0, o]] == snan
        assert_same(got, want)


@pytest.mark.skipif(BF16 is None, reason="needs ml_dtypes (pip install ml_dtypes)")
@pytest.mark.parametrize("tiny_at", [None, 300])
def test_bfloat16_max_backward_sums_of_wide_range(tiny_at, rng):
    # bfloat16 sums in the plane kernel's float buffer: rounded by one AVX512-BF16 instruction
    # where the CPU has it while no gradient is below 2**-110 (no sum can then be subnormal; the
    # instruction would make one zero), by integer steps after one (tiny_at: an output past 256
    # of plane 0 on a cell named once, the subnormal 2**-130). Sums that tie (values of 8
    # significant bits and exponents a few apart), overflow to infinity, NaN, infinities and
    # signed zeros; each add rounded, in output order.
    shape = (1, 3, 48, 48)
    idx, flat = _indices_3x3_s2_p1(rng, BF16, shape)
    mant = rng.integers(128, 256, idx.shape) / 128
    g = (mant * np.exp2(rng.integers(-100, 120, idx.shape))
         * rng.choice([-1, 1], idx.shape)).astype(np.float32)
    big = rng.random(idx.shape) < 0.05
    g[big] = rng.choice([3.3e38, -3.3e38, 2.0e38], int(big.sum()))
    special = rng.random(idx.shape) < 0.03
    g[special] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0], int(special.sum()))
    g = g.astype(BF16)
    if tiny_at is not None:
        tiny_at = _output_on_a_cell_named_once(flat[0], tiny_at)
        g.reshape(3, -1)[0, tiny_at] = np.float32(2.0 ** -130)
    want = max_backward_ref(g, idx, shape[2:])
    for nt in (1, 2):
        with cypool.threads(nt):
            got = cypool.max_pool2d_backward(g, idx, shape)
        assert_same(got, want)
        if tiny_at is not None:
            assert got.reshape(3, -1)[0, flat[0, tiny_at]] == np.float32(2.0 ** -130)


@pytest.mark.parametrize("dtype", HALVES)
def test_max_backward_of_a_big_result(dtype, rng):
    # a channels-first result of 4 MiB or more is written with streamed stores where the plane
    # kernel can (16-byte aligned cells: planes of an odd cell count alternate), the others as
    # before; overlapping windows, some indices sent back to cells the buffer has left
    shape = (1, 33, 255, 251)
    idx, flat = _indices_3x3_s2_p1(rng, dtype, shape)
    back = rng.random(flat.shape) < 0.002
    flat[back] = rng.integers(0, 255 * 251, int(back.sum()))
    g = specials(dtype, rng, idx.shape)
    gx = np.zeros((33, 255 * 251), np.float32)
    gf, rows = g.reshape(33, -1).astype(np.float32), np.arange(33)
    for o in range(flat.shape[1]):
        gx[rows, flat[:, o]] = rounded(gx[rows, flat[:, o]] + gf[:, o], dtype)
    want = gx.reshape(shape).astype(dtype)
    assert want.nbytes >= 4 << 20
    for nt in (1, 2):
        with cypool.threads(nt):
            assert_same(cypool.max_pool2d_backward(g, idx, shape), want)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("div", [None, 3])
def test_channels_last_2x2_average_with_many_channels(dtype, div, rng):
    # the 2x2/s2 channels-last interior adds its four cells straight from the input, eight
    # channels at a time where the CPU has F16C, the rest one by one (21 channels: both), and
    # multiplies by 1/4 (an exact reciprocal) or divides by an override of 3
    x = specials(dtype, rng, (2, 21, 6, 9))
    y = cypool.avg_pool2d(to_layout(x, "channels_last"), 2, divisor_override=div,
                          data_format="channels_last")
    assert_same(from_layout(y, "channels_last"),
                avg_forward_ref(x, (2, 2), (2, 2), (0, 0), False, True, div))


PATH_SCRIPT = """
import sys
import numpy as np
import cypool
rng = np.random.default_rng(7)
out = {}
every = np.arange(65536, dtype=np.uint16).view(np.float16)
out["identity"] = cypool.max_pool2d(every.reshape(4, 16, 32, 32), 1)
x = (rng.integers(-64, 65, (2, 24, 30, 58)) / 8).astype(np.float32)
x[rng.random(x.shape) < 0.05] = np.nan
x[rng.random(x.shape) < 0.05] = 3e-8
x[rng.random(x.shape) < 0.02] = -np.inf
x = x.astype(np.float16)
for fmt in ("channels_first", "channels_last"):
    a = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if fmt == "channels_last" else x
    for k, s, p in ((2, 2, 0), (3, 1, 1), (3, 2, 1)):
        y, i = cypool.max_pool2d(a, k, s, p, return_indices=True, data_format=fmt)
        m = cypool.avg_pool2d(a, k, s, p, data_format=fmt)
        out[f"max{k}{s}{fmt}"] = y
        out[f"maxb{k}{s}{fmt}"] = cypool.max_pool2d_backward(y, i, a.shape, data_format=fmt)
        out[f"avg{k}{s}{fmt}"] = m
        out[f"avgb{k}{s}{fmt}"] = cypool.avg_pool2d_backward(m, a.shape, k, s, p,
                                                             data_format=fmt)
for c in (3, 8, 11, 16, 21, 40, 70):   # channels-last cells' vector groups of every count
    z = np.ascontiguousarray(np.tile(x, (1, 3, 1, 1))[:1, :c, :7, :13].transpose(0, 2, 3, 1))
    for s in (1, 2):
        y, i = cypool.max_pool2d(z, 3, s, 1, return_indices=True, data_format="channels_last")
        out[f"cl{c}max{s}"] = y
        out[f"cl{c}maxv{s}"] = cypool.max_pool2d(z, 3, s, 1, data_format="channels_last")
        out[f"cl{c}idx{s}"] = i.view(np.uint16)
        m = cypool.avg_pool2d(z, 3, s, 1, data_format="channels_last")
        out[f"cl{c}avg{s}"] = m
        out[f"cl{c}avgb{s}"] = cypool.avg_pool2d_backward(m, z.shape, 3, s, 1,
                                                          data_format="channels_last")
for w in (5, 8, 13, 16, 23, 33, 47, 64, 70, 130):   # the vector groups' shapes of every width
    z = x[:1, :3, :9, :w] if w <= 58 else np.tile(x[:1, :3, :9], (1, 1, 1, 3))[..., :w]
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
        y, i = cypool.max_pool2d(z, k, s, p, return_indices=True)
        out[f"row{w}max{k}{s}"] = y
        out[f"row{w}idx{k}{s}"] = i.view(np.uint16)
        m = cypool.avg_pool2d(z, k, s, p)
        out[f"row{w}avg{k}{s}"] = m
        out[f"row{w}avgb{k}{s}"] = cypool.avg_pool2d_backward(m, z.shape, k, s, p)
# values only, 64 channels with signalling NaNs: the run kernels (AVX512-FP16 where the CPU has
# it) for 1-d to 3-d interiors
z = np.ascontiguousarray(np.tile(x, (1, 3, 1, 1))[:, :64].transpose(0, 2, 3, 1))
z.view(np.uint16)[:, ::7, 1::9, ::5] = 0x7c01
z.view(np.uint16)[:, 3::8, ::11, 2::7] = 0xfd55
for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0)):
    out[f"clv{k}{s}"] = cypool.max_pool2d(z, k, s, p, data_format="channels_last")
out["clv3d"] = cypool.max_pool3d(z[:, :, :12].reshape(2, 5, 6, 12, 64), 2,
                                 data_format="channels_last")
out["clv1d"] = cypool.max_pool1d(z[0], 3, 2, 1, data_format="channels_last")
# values only, channels-first 2x2/s2 planes of rows of 12 to 65 outputs (one vector of 32 and
# a part of one; AVX512-FP16 where the CPU has it), signalling NaNs
for w in (24, 58, 64, 130):
    v = np.ascontiguousarray(np.tile(x, (1, 1, 1, 3))[:, :5, :12, :w])
    v.view(np.uint16)[:, :, 1::5, ::9] = 0x7c01
    v.view(np.uint16)[:, :, ::7, 3::11] = 0xfd55
    out[f"cfv{w}"] = cypool.max_pool2d(v, 2)
np.savez(sys.argv[1], **{k: v.view(np.uint16) for k, v in out.items()})
"""


def _every_conversion(tmp_path, name, text):
    """{setting: the arrays the script saved} under each CYPOOL_HALF_CONVERSIONS setting: the
    CPU's best, AVX2's F16C, the portable loops."""
    return saved_under_each(tmp_path, name, text, "CYPOOL_HALF_CONVERSIONS",
                            ("best", "avx512", "avx2", "portable"))


def test_f16c_and_portable_conversions_give_the_same_bits(tmp_path):
    # float16 rows convert with AVX-512's or AVX2's F16C instructions where the CPU has them
    # (and compare as float16 with AVX512-FP16 where it has that); CYPOOL_HALF_CONVERSIONS asks
    # for AVX2's, or for the portable loops (a CPU without F16C, another compiler): every
    # result, NaN payloads included, is the same bits every way
    results = _every_conversion(tmp_path, "paths.py", PATH_SCRIPT)
    assert len(results["best"].files) == 25 + 42 + 60 + 28 + 60 + 6 + 4
    for name in ("avx512", "avx2", "portable"):
        for key in results["best"].files:
            np.testing.assert_array_equal(results[name][key], results["best"][key],
                                          f"{key}, {name}")


def _repeating_indices(rng, shape, plane):
    """Indices naming cells of a plane of `plane` cells, along the last axis in runs of one cell
    (consecutive outputs on one maximum), with cells named again further on."""
    idx = rng.integers(0, plane, shape).astype(np.int64)
    flat = idx.reshape(-1, shape[-1])
    for row in flat:
        for o in range(1, row.size):
            r = rng.random()
            if r < 0.4:
                row[o] = row[o - 1]                       # a run
            elif r < 0.5:
                row[o] = row[rng.integers(0, o)]          # an earlier output's cell
    return idx


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("shape", [(2, 3, 9, 11), (1, 37, 6, 7), (1, 2, 130, 130), (2, 16, 5, 5)],
                         ids=["small", "37ch", "big-plane", "16ch"])
def test_max_backward_with_repeated_cells_equals_the_reference(dtype, data_format, shape, rng):
    # the vector scatters (channels-last: 16 channels of an output; channels-first: 16 outputs,
    # runs of one cell added in registers, other repeats in conflict-free rounds) add each cell's
    # gradients in output order, each add rounded; the big plane (16900 cells) takes the 16-bit
    # loop. Indices name cells anywhere in the plane, in runs and again further on.
    out_shape = (shape[0], shape[1], 5, 17)
    plane = shape[2] * shape[3]
    idx = _repeating_indices(rng, out_shape, min(plane, 40))
    g = specials(dtype, rng, out_shape)
    for nt in (1, 2):
        with cypool.threads(nt):
            gi = cypool.max_pool2d_backward(to_layout(g, data_format), to_layout(idx, data_format),
                                            to_layout(np.empty(shape, dtype), data_format).shape,
                                            data_format=data_format)
        assert_same(from_layout(gi, data_format), max_backward_ref(g, idx, shape[2:]))


@pytest.mark.parametrize("dtype", HALVES)
def test_max_backward_of_indices_back_and_forth_over_a_big_plane(dtype, rng):
    # channels-first planes of 10000 cells, more than the scatters' windows of cells hold (4096):
    # indices walk down the plane in runs (consecutive outputs on one cell: the plane kernels'
    # case), some jump far ahead (the window moves on) and some back to cells the window has left
    # (added in place), each add in output order, rounded
    shape, out_shape = (1, 2, 100, 100), (1, 2, 40, 75)
    plane, n_out = 100 * 100, 40 * 75
    idx = np.empty(out_shape, np.int64)
    flat = idx.reshape(2, n_out)
    for row in flat:
        for o in range(n_out):
            r = rng.random()
            if o and r < 0.4:
                row[o] = row[o - 1]
            elif o and r < 0.5:
                row[o] = rng.integers(0, max(1, row[o - 1] - 4096))   # left behind
            elif r < 0.55:
                row[o] = rng.integers(min(o * plane // n_out + 4096, plane - 1), plane)
            else:
                row[o] = min(o * plane // n_out + rng.integers(0, 8), plane - 1)
    g = specials(dtype, rng, out_shape)
    for nt in (1, 2):
        with cypool.threads(nt):
            gi = cypool.max_pool2d_backward(g, idx, shape)
        assert_same(gi, max_backward_ref(g, idx, shape[2:]))


NAN_SCRIPT = """
import sys
import numpy as np
import cypool
try:
    import ml_dtypes
    dtypes = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
except ImportError:
    dtypes = [np.dtype(np.float16)]
rng = np.random.default_rng(3)
out = {}
for dt in dtypes:
    nans = ([0x7e00, 0xfe01, 0x7c01, 0xfd55, 0x7e3f] if dt == np.float16
            else [0x7fc0, 0xffc1, 0x7f81, 0xffa5, 0x7fe5])
    for fmt in ("channels_first", "channels_last"):
        for c in (1, 5, 16, 21, 40):
            g = (rng.integers(-64, 65, (2, c, 6, 23)) / 8).astype(dt)
            u = g.view(np.uint16)
            m = rng.random(u.shape) < 0.3
            u[m] = rng.choice(np.array(nans, np.uint16), int(m.sum()))
            idx = rng.integers(0, 6, g.shape).astype(np.int64)
            idx[..., 1::3] = idx[..., 0::3][..., :idx[..., 1::3].shape[-1]]
            if fmt == "channels_last":
                g, idx = (np.ascontiguousarray(np.moveaxis(a, 1, -1)) for a in (g, idx))
                shape = (2, 7, 9, c)
            else:
                shape = (2, c, 7, 9)
            out[f"{dt.name}{fmt}{c}"] = cypool.max_pool2d_backward(g, idx, shape,
                                                                   data_format=fmt)
    # quiet NaNs only, channels-first: planes that keep to the in-place add where the CPU adds
    # float16 (a signalling NaN sends a plane to the other loops)
    for c in (1, 3):
        g = (rng.integers(-64, 65, (2, c, 6, 23)) / 8).astype(dt)
        u = g.view(np.uint16)
        m = rng.random(u.shape) < 0.3
        u[m] = rng.choice(np.array(nans[:2] + nans[4:], np.uint16), int(m.sum()))
        idx = rng.integers(0, 6, g.shape).astype(np.int64)
        idx[..., 1::3] = idx[..., 0::3][..., :idx[..., 1::3].shape[-1]]
        out[f"{dt.name}quiet{c}"] = cypool.max_pool2d_backward(g, idx, (2, c, 7, 9))
np.savez(sys.argv[1], **{k: v.view(np.uint16) for k, v in out.items()})
"""


def test_max_backward_nan_payloads_are_the_same_every_way(tmp_path):
    # an add of two NaNs returns the gradient's payload (made quiet) on every path: AVX-512's
    # vector scatters, AVX2's scalar F16C loop and the portable loops, which spell the rule out
    # rather than leave the operand order of the add to the compiler
    results = _every_conversion(tmp_path, "nans.py", NAN_SCRIPT)
    assert len(results["best"].files) in (12, 24)
    for name in ("avx512", "avx2", "portable"):
        for key in results["best"].files:
            np.testing.assert_array_equal(results[name][key], results["best"][key],
                                          f"{key}, {name}")


@pytest.mark.parametrize("dtype", HALVES)
def test_max_backward_of_two_nans_keeps_the_gradients_payload(dtype):
    a, b = (0x7e01, 0x7e02) if dtype == F16 else (0x7fc1, 0x7fc2)
    for data_format, shape in (("channels_first", (1, 1, 1, 4)), ("channels_last", (1, 1, 4, 1))):
        g = np.array([a, b], np.uint16).view(dtype).reshape(1, 1, 1, 2)
        idx = np.zeros((1, 1, 1, 2), np.int64)
        if data_format == "channels_last":
            g, idx = g.reshape(1, 1, 2, 1), idx.reshape(1, 1, 2, 1)
        gi = cypool.max_pool2d_backward(g, idx, shape, data_format=data_format)
        assert gi.view(np.uint16).ravel()[0] == b


def _window_indices(rng, x_shape, k, s, p, dtype, kind):
    """Forward indices of a channels-first max pooling (overlapping windows) over data of `kind`
    ("random", "ties": every window's maximum is its first cell, "coarse": many equal values),
    and their gradient."""
    if kind == "random":
        x = rng.standard_normal(x_shape)
    elif kind == "ties":
        x = np.ones(x_shape)
    else:
        x = rng.integers(0, 3, x_shape)
    y, idx = cypool.max_pool2d(x.astype(dtype), k, s, p, return_indices=True)
    return idx, specials(dtype, rng, y.shape)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("kind", ["random", "ties", "coarse"])
@pytest.mark.parametrize("shape, k, s, p", [((2, 3, 9, 11), 3, 2, 1), ((1, 2, 70, 70), 3, 2, 1),
                                           ((1, 2, 140, 131), 3, 2, 1), ((1, 2, 37, 45), 3, 1, 1),
                                           ((1, 2, 41, 33), 5, 2, 2)],
                         ids=["small", "4900-cells", "18340-cells", "3x3s1", "5x5s2"])
def test_channels_first_overlapping_windows_equal_a_plain_loop(dtype, kind, shape, k, s, p, rng):
    # channels-first planes of overlapping windows go through a window of 4096 cells moving down
    # the plane, 16 outputs at a time (runs of one cell added in registers, told by lane numbers
    # read back; other repeats undone and redone in rounds); indices the forward would not give
    # take the other ways: cells behind the window (added in the result itself), far ahead (the
    # window jumps), one cell for every output, repeats that are not runs (in every vector, and
    # seldom: after vectors that are runs only, which read their runs back rather than ask);
    # float16 on a CPU that adds float16: one add at a time, in place (the test below runs the
    # window's float16 instance there)
    idx, g = _window_indices(rng, shape, k, s, p, dtype, kind)
    plane = shape[2] * shape[3]
    flat = idx.reshape(shape[0] * shape[1], -1)
    n = flat.shape[1]
    behind = flat.copy()
    late = rng.random(behind.shape) < 0.03
    late[:, : n // 2] = False
    behind[late] = rng.integers(0, 50, int(late.sum()))          # cells the window has left
    ahead = flat.copy()
    ahead[:, n // 4] = plane - 1                                   # the window jumps to the end
    repeats = flat.copy()
    repeats[:, 3::16] = repeats[:, 0::16][:, : repeats[:, 3::16].shape[1]]   # a, ., ., a
    seldom = flat.copy()      # the same after runs of vectors that are runs only
    seldom[:, 3::160] = seldom[:, 0::160][:, : seldom[:, 3::160].shape[1]]
    anywhere = flat.copy()
    some = rng.random(anywhere.shape) < 0.02
    anywhere[some] = rng.integers(0, plane, int(some.sum()))     # in the plane, off the window
    variants = {"forward": flat, "behind": behind, "ahead": ahead, "repeats": repeats,
                "seldom": seldom, "anywhere": anywhere,
                "one-cell": np.full_like(flat, plane // 2)}
    for name, ii in variants.items():
        ii = ii.reshape(idx.shape)
        want = max_backward_ref(g, ii, shape[2:])
        for nt in (1, 2):
            with cypool.threads(nt):
                got = cypool.max_pool2d_backward(g, ii, shape)
            assert_same(got, want)


def test_channels_first_overlapping_windows_without_float16_adds(tmp_path):
    # where the CPU adds float16 (AVX512-FP16), float16 planes take one add at a time in place
    # (max_bwd_plane_fp16) and the moving window above runs bfloat16 only: its float16 instance
    # runs the test above in a child process under CYPOOL_HALF_CONVERSIONS=avx512 (AVX-512
    # without AVX512-FP16, a CPU such as Ice Lake or Zen 4)
    # (in a neutral directory, as the other child processes: the source tree as the working
    # directory would shadow an installed cypool)
    env = {**python_env_for_subprocess(), "CYPOOL_HALF_CONVERSIONS": "avx512"}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(Path(__file__).resolve()), "-k",
                        "overlapping_windows_equal_a_plain_loop and not bfloat16"],
                       cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert "15 passed" in p.stdout, p.stdout[-2000:]


FORMATS = ["channels_first", "channels_last"]


def _max_backward_nd(rank):
    return {1: cypool.max_pool1d_backward, 2: cypool.max_pool2d_backward,
            3: cypool.max_pool3d_backward}[rank]


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("spatial,out", TILE_CASES, ids=lambda v: "x".join(map(str, v)))
@pytest.mark.parametrize("C", [1, 8, 37])
def test_max_backward_of_indices_in_tiles(dtype, data_format, spatial, out, C, rng):
    # indices that keep to tiles of in // out cells (each cell named at most once) write each
    # cell once, in order (cypool_max_bwd_tiles_cl16 / _cf16): the scatter's first add to a
    # zeroed cell, g with -0 made +0 and a signalling NaN kept, bit for bit
    idx = tile_indices(rng, 2, C, spatial, out)
    g = specials(dtype, rng, idx.shape)
    snan = 0x7c01 if dtype == F16 else 0x7f81
    g.view(np.uint16).reshape(-1)[::11] = snan
    g.view(np.uint16).reshape(-1)[5::13] = 0x8000
    bits = g.view(np.uint16).reshape(2, C, -1)
    want = np.zeros((2, C, int(np.prod(spatial))), np.uint16)
    n, c = np.indices(bits.shape[:2])
    want[n[..., None], c[..., None], idx.reshape(2, C, -1)] = np.where(bits == 0x8000, 0, bits)
    want = want.reshape(2, C, *spatial)
    for nt in (1, 2):
        with cypool.threads(nt):
            got = _max_backward_nd(len(spatial))(
                to_layout(g, data_format), to_layout(idx, data_format),
                to_layout(np.empty((2, C, *spatial), dtype), data_format).shape,
                data_format=data_format)
        np.testing.assert_array_equal(from_layout(got, data_format).view(np.uint16), want)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("data_format", FORMATS)
def test_max_backward_of_indices_leaving_their_tiles_later(dtype, data_format, rng):
    # the first band of tiles keeps to them (the gather is tried) and a later one does not: a
    # cell named twice gets both adds, rounded in output order, and an index outside the plane
    # still raises
    spatial, out, C = (12, 40), (6, 20), 16
    idx = tile_indices(rng, 2, C, spatial, out)
    idx[1, 3, 4, 2] = idx[1, 3, 4, 3]            # sample 1, band 4: a cell of the next tile
    idx[0, 5, 2, 1] = idx[0, 5, 0, 0]            # sample 0, band 2: a cell of band 0
    g = specials(dtype, rng, idx.shape)
    want = max_backward_ref(g, idx, spatial)
    shape = to_layout(np.empty((2, C, *spatial), dtype), data_format).shape
    for nt in (1, 2):
        with cypool.threads(nt):
            got = cypool.max_pool2d_backward(to_layout(g, data_format),
                                             to_layout(idx, data_format), shape,
                                             data_format=data_format)
        assert_same(from_layout(got, data_format), want)
    idx[1, 2, 5, 5] = 12 * 40
    with pytest.raises(ValueError, match="indices"):
        cypool.max_pool2d_backward(to_layout(g, data_format), to_layout(idx, data_format), shape,
                                   data_format=data_format)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("k,s,p,ceil", [(2, 2, 0, False), (2, 2, 1, False), (3, 3, 0, True),
                                        (3, 2, 1, False), (2, 2, 0, True)])
def test_max_backward_of_forward_indices(dtype, k, s, p, ceil, rng):
    # forward indices of windows that do (2x2/s2) and do not (padding, ceil_mode, overlap) keep
    # to tiles of in // out cells: the reference's values, the same bits in both formats
    x = specials(dtype, rng, (2, 24, 11, 13))
    y, idx = cypool.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
    g = specials(dtype, rng, y.shape)
    first = cypool.max_pool2d_backward(g, idx, x.shape)
    assert_same(first, max_backward_ref(g, idx, x.shape[2:]))
    got = cypool.max_pool2d_backward(to_layout(g, "channels_last"), to_layout(idx, "channels_last"),
                                     to_layout(x, "channels_last").shape,
                                     data_format="channels_last")
    np.testing.assert_array_equal(from_layout(got, "channels_last").view(np.uint16),
                                  first.view(np.uint16))


def _ordered_mean(x, k, s, p, div, dtype, plus_zero=True):
    """PyTorch's float32 mean in cypool's order of adds (x channels-first): each column summed
    down the window's rows in (d, h) order, then the window's columns left to right; the
    quotient rounded once, -0 as +0 where plus_zero (channels-first: 0 + mean). Zero padding adds
    nothing (x + 0 is x but for -0's sign, which the kernels' 0 + sum drops)."""
    xp = np.pad(x.astype(np.float32), [(0, 0), (0, 0)] + [(q, q) for q in p])
    osz = [(n + 2 * q - kk) // ss + 1 for n, kk, ss, q in zip(x.shape[2:], k, s, p)]
    v = None
    for offs in itertools.product(*[range(kk) for kk in k[:-1]]):
        sl = tuple(slice(o, o + ss * (n - 1) + 1, ss) for o, ss, n in zip(offs, s, osz))
        v = xp[(Ellipsis, *sl, slice(None))] if v is None else v + xp[(Ellipsis, *sl,
                                                                         slice(None))]
    v = xp if v is None else v
    h = None
    for t in range(k[-1]):
        term = v[..., t:t + s[-1] * (osz[-1] - 1) + 1:s[-1]]
        h = term if h is None else h + term
    with np.errstate(all="ignore"):
        mean = ((np.float32(0) + h) / np.float32(div)).astype(dtype)
    return _plus_zero(mean) if plus_zero else mean


def _cancelling(rng, shape, dtype):
    """Small values beside big ones and their negatives (the next cell along the last axis, or
    down the one before it): a float32 sum keeps the small values' low bits only where the big
    ones cancel first, so that the order of the adds shows."""
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-9, -3, shape))
    big = rng.choice([-4096.0, 4096.0, -3072.0, 6144.0], shape)
    along = rng.random(shape) < 0.15
    along[..., -1] = False
    x[along] = big[along]
    x[..., 1:][along[..., :-1]] = -big[..., :-1][along[..., :-1]]
    if len(shape) > 3:
        down = (rng.random(shape) < 0.1) & ~along
        down[..., -1, :] = False
        x[down] = big[down]
        x[..., 1:, :][down[..., :-1, :]] = -big[..., :-1, :][down[..., :-1, :]]
    return x.astype(dtype)


def _plus_zero(a):
    """-0 as +0."""
    a = a.copy()
    a[a.view(np.uint16) == 0x8000] = 0
    return a


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("rank,k,s,p", [(2, 3, 2, 1), (2, 3, 2, 0), (2, 2, 2, 1), (2, 3, 1, 1),
                                        (2, 2, 1, 0), (2, 5, 1, 2), (2, (3, 16), 1, (1, 8)),
                                        (2, (2, 17), 1, (0, 8)), (1, 3, 2, 1), (1, 3, 1, 1),
                                        (3, 3, 2, 1), (3, 2, 1, 1)])
def test_channels_first_average_rows_add_in_the_row_buffers_order(dtype, rank, k, s, p, rng):
    # float16's and bfloat16's channels-first averages sum in registers what the row buffers
    # sum (each column down the window's rows, then the columns left to right): small values
    # beside big ones and their negatives, the next cell along the row or down the column, whose
    # float32 sums lose the small values' low bits unless the big ones cancel first, so that
    # another order shows; rows of 16 to 80 outputs and both borders, 1 to 3 rows a window (and
    # 9, 3-d)
    k, s, p = ((v,) * rank if isinstance(v, int) else v for v in (k, s, p))
    div = int(np.prod(k))

    for w in (16 * s[-1] + k[-1] - 1 - 2 * p[-1], 37, 80, 161):
        shape = (1, 3, *((5, 6)[:rank - 1]), w)
        x = _cancelling(rng, shape, dtype)
        got = getattr(cypool, f"avg_pool{rank}d")(x, k, s, p)   # padding counted: div
        assert_same(got, _ordered_mean(x, k, s, p, div, dtype))


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_channels_last_3x3_s1_rows_add_in_the_row_buffers_order(dtype, rank, rng):
    # float16's and bfloat16's channels-last 3-wide stride-1 averages (padding 1) keep each
    # column's sums down the rows in registers while its three windows go by: the row buffer's
    # adds, on values whose float32 sums show their order; 16 to 70 channels (vectors of 16 and
    # 64, the last ones overlapping), rows of 1 to 20 columns (3-d: 3 or more, as PyTorch
    # refuses 3-d inputs smaller than the kernel)
    k = (3,) * rank
    one, pad = (1,) * rank, (1,) * rank
    for c, w in itertools.product((16, 37, 64, 70), (1, 2, 7, 20) if rank < 3 else (3, 7, 20)):
        x = _cancelling(rng, (1, c, *((4, 5)[:rank - 1]), w), dtype)
        a = to_layout(x, "channels_last")
        got = getattr(cypool, f"avg_pool{rank}d")(a, 3, 1, 1, data_format="channels_last")
        want = _ordered_mean(x, k, one, pad, 3 ** rank, dtype, plus_zero=False)
        assert_same(from_layout(got, "channels_last"), want)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("k", [(2, 2), (1, 2, 2), (2, 1, 2)])
@pytest.mark.parametrize("div", [None, 3])
def test_channels_last_2x2_s2_average_adds_in_the_row_buffers_order(dtype, k, div, rng):
    # float16's and bfloat16's channels-last 2-wide stride-2 averages over two input rows (the
    # next row, or the next slice: 3-d) add straight from the input what the row buffer adds,
    # each column's two cells first, then the two columns: values whose float32 sums show that
    # order; 16 to 70 channels (vectors of 16, the last one overlapping), 1 to 10 outputs a row,
    # the reciprocal of 4 or a division by an override of 3
    rank = len(k)
    for c, w in itertools.product((16, 37, 64, 70), (2, 9, 20)):
        x = _cancelling(rng, (1, c, *((4, 6)[:rank - 1]), w), dtype)
        a = to_layout(x, "channels_last")
        got = getattr(cypool, f"avg_pool{rank}d")(a, k, k, 0, divisor_override=div,
                                                  data_format="channels_last")
        want = _ordered_mean(x, k, k, (0,) * rank, div or int(np.prod(k)), dtype,
                             plus_zero=False)
        assert_same(from_layout(got, "channels_last"), want)

"""Pins the fast paths of average and global average pooling (pyx/_avg_fast.h) against the plain
loop references, and against PyTorch where it is installed.

Which path runs is decided by geometry inside the kernel modules: every average pool whose row
buffers fit FAST_BUFFER_LIMIT takes the separable path, with dedicated horizontal loops for
windows 2/stride 2 and 3/stride 1 (and the broadcast backward for kernel == stride); float32
windows of more than 64 cells accumulate in double; global average pooling (adaptive output 1)
takes the plain reductions (float32 planes of more than 64 cells in float blocks added in
double). The cases below cover each loop, its borders (odd sizes, ceil mode,
padding, count_include_pad False, divisor_override), float64, both data formats, 1 and 2 threads,
and NaN/inf propagation.
"""
import itertools
import os

import numpy as np
import pytest

import cypool
import reference as R
import reference_backward as RB
from helpers import from_channels_last, to_channels_last

FORMATS = ["channels_first", "channels_last"]
AVG = {1: cypool.avg_pool1d, 2: cypool.avg_pool2d, 3: cypool.avg_pool3d}
AVG_BWD = {1: cypool.avg_pool1d_backward, 2: cypool.avg_pool2d_backward,
           3: cypool.avg_pool3d_backward}
GAP = {1: cypool.global_avg_pool1d, 2: cypool.global_avg_pool2d, 3: cypool.global_avg_pool3d}
GAP_BWD = {1: cypool.global_avg_pool1d_backward, 2: cypool.global_avg_pool2d_backward,
           3: cypool.global_avg_pool3d_backward}

# (kernel, stride, padding) per axis: each selects a horizontal loop of the separable path
# (2/2 and 3/1 dedicated; stride 1 generic; kernel == stride broadcast backward; 3/2 backward
# dedicated; generic).
WINDOWS = [(2, 2, 0), (2, 2, 1), (3, 1, 1), (3, 1, 0), (3, 2, 1), (3, 2, 0), (4, 4, 2), (5, 1, 2),
           (1, 1, 0), (2, 3, 1), (3, 3, 0), (5, 2, 2), (4, 3, 1)]


def tol(dtype):
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def call(fn, x, data_format, *args, **kw):
    """Run fn on channels-first x in the given format; the result comes back channels-first."""
    if data_format == "channels_last":
        out = fn(np.ascontiguousarray(to_channels_last(x)), *args, data_format=data_format, **kw)
        return from_channels_last(out)
    return fn(x, *args, data_format=data_format, **kw)


def shape_in(shape, data_format):
    return (shape[0], *shape[2:], shape[1]) if data_format == "channels_last" else shape


def check_avg(x, k, s, p, ceil_mode, cip, div, data_format, n_threads=1):
    rank = x.ndim - 2
    spatial = x.shape[2:]
    kw = {"divisor_override": div} if div else {}
    with cypool.threads(n_threads):
        y = call(AVG[rank], x, data_format, k, s, p, ceil_mode, cip, **kw)
        y_ref = R.avg_pool(x.astype(np.float64), k, s, p, p, ceil_mode, cip, div or 0)
        np.testing.assert_allclose(y, y_ref, equal_nan=True, **tol(x.dtype))
        assert y.dtype == x.dtype
        g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
        gx = call(lambda g_, **a: AVG_BWD[rank](g_, shape_in(x.shape, a["data_format"]), k, s, p,
                                                ceil_mode, cip, **kw, **a), g, data_format)
        gx_ref = RB.avg_pool_backward(g.astype(np.float64), spatial, k, s, p, p, ceil_mode, cip,
                                      div or 0)
        np.testing.assert_allclose(gx, gx_ref, **tol(x.dtype))
        assert gx.dtype == x.dtype


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", WINDOWS)
def test_avg2d_windows_and_borders(window, dtype, data_format):
    k, s, p = window
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    for H, W in [(7, 9), (8, 8), (11, 6), (k + 2 * p, k + 2 * p)]:
        if H < 1 or W < 1:
            continue
        x = rng.standard_normal((2, 3, H, W)).astype(dtype)
        for ceil_mode, cip, div in itertools.product([False, True], [True, False], [None, 3]):
            check_avg(x, (k, k), (s, s), (p, p), ceil_mode, cip, div, data_format)


@pytest.mark.parametrize("data_format", FORMATS)
def test_avg_mixed_axes_1d_3d(data_format):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 13)).astype(np.float32)
    for k, s, p in WINDOWS:
        for ceil_mode in (False, True):
            check_avg(x, (k,), (s,), (p,), ceil_mode, True, None, data_format)
            check_avg(x, (k,), (s,), (p,), ceil_mode, False, None, data_format)
    x = rng.standard_normal((2, 2, 6, 7, 8))
    for (k, s, p), ceil_mode, cip in itertools.product([(2, 2, 0), (3, 1, 1), (3, 2, 1)],
                                                       [False, True], [True, False]):
        check_avg(x, (k, 2, k), (s, 1, s), (p, 1, p), ceil_mode, cip, None, data_format)
    # two rows from the depth axis (the fused channels-last 2x2 loop reads rows d and d + 1)
    check_avg(x, (2, 1, 2), (2, 1, 2), (0, 0, 0), False, True, None, data_format)
    check_avg(x, (2, 1, 2), (2, 1, 2), (0, 0, 1), True, False, None, data_format)
    x2 = rng.standard_normal((1, 2, 9, 10)).astype(np.float32)
    check_avg(x2, (2, 3), (2, 1), (1, 1), True, False, None, data_format)
    check_avg(x2, (3, 2), (1, 2), (0, 1), False, True, 5, data_format)


@pytest.mark.parametrize("data_format", FORMATS)
def test_avg_wide_channels_and_long_windows(data_format):
    """Channel counts off the vector width, and float32 windows past 64 cells (double sums)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 37, 9, 10)).astype(np.float32)
    for k, s, p in [(2, 2, 0), (3, 1, 1), (4, 1, 2), (3, 2, 1)]:
        check_avg(x, (k, k), (s, s), (p, p), True, False, None, data_format)
    x = (rng.standard_normal((1, 2, 20, 21)) * 100).astype(np.float32)
    check_avg(x, (9, 9), (1, 1), (4, 4), False, True, None, data_format)
    check_avg(x, (10, 10), (10, 10), (0, 0), True, False, None, data_format)


@pytest.mark.parametrize("data_format", FORMATS)
def test_avg_nan_inf_propagate(data_format):
    for dtype in (np.float32, np.float64):
        x = np.ones((1, 2, 6, 6), dtype)
        x[0, 0, 1, 1] = np.nan
        x[0, 1, 4, 4] = np.inf
        x[0, 1, 0, 5] = -np.inf
        for k, s, p in [(2, 2, 0), (3, 1, 1), (3, 2, 1), (4, 1, 0)]:
            y = call(cypool.avg_pool2d, x, data_format, k, s, p)
            y_ref = R.avg_pool(x.astype(np.float64), (k, k), (s, s), (p, p), (p, p), False, True,
                               0)
            np.testing.assert_allclose(y, y_ref, equal_nan=True, rtol=1e-6)
            assert np.isnan(y).any() and np.isinf(y).any()


def test_float32_windows_sum_in_float_like_torch():
    """2x2 windows of float32 are exact for small integers whichever accumulator is used."""
    x = np.arange(4 * 6 * 8, dtype=np.float32).reshape(1, 4, 6, 8) % 17
    y = cypool.avg_pool2d(x, 2)
    np.testing.assert_array_equal(y, x.reshape(1, 4, 3, 2, 4, 2).mean(axis=(3, 5)))


# ----------------------------------------------------------------------------- thread counts

@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("window", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (5, 1, 2), (4, 4, 0)])
def test_avg_two_threads_bit_identical_to_one(window, data_format):
    """Arrays big enough to run on 2 threads (each takes one contiguous range of rows)."""
    k, s, p = window
    rng = np.random.default_rng(7)
    for dtype, shape in [(np.float32, (3, 16, 37, 41)), (np.float64, (2, 8, 33, 30))]:
        x = rng.standard_normal(shape).astype(dtype)
        xin = np.ascontiguousarray(to_channels_last(x)) if data_format == "channels_last" else x
        outs = []
        for n in (1, 2):
            with cypool.threads(n):
                y = cypool.avg_pool2d(xin, k, s, p, True, False, data_format=data_format)
                g = np.ones_like(y)
                gx = cypool.avg_pool2d_backward(g, xin.shape, k, s, p, True, False,
                                                data_format=data_format)
                outs.append((y.tobytes(), gx.tobytes()))
        assert outs[0] == outs[1]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("window", [(2, 2, 0), (3, 2, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_avg_big_calls_in_many_ranges_bit_identical_to_one_thread(window, dtype, data_format):
    """Calls of 2**21 cells or more (outputs forward, inputs backward) go in 8 ranges of rows a
    thread, taken in turn: the same bits as one thread's one range."""
    k, s, p = window
    x = np.random.default_rng(11).standard_normal((2, 4, 1030, 1026)).astype(dtype)
    xin = np.ascontiguousarray(to_channels_last(x)) if data_format == "channels_last" else x
    outs = []
    for n in (1, 2):
        with cypool.threads(n):
            y = cypool.avg_pool2d(xin, k, s, p, data_format=data_format)
            assert y.size >= 1 << 21
            g = np.random.default_rng(12).standard_normal(y.shape).astype(dtype)
            gx = cypool.avg_pool2d_backward(g, xin.shape, k, s, p, data_format=data_format)
            outs.append((y.tobytes(), gx.tobytes()))
    assert outs[0] == outs[1]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape,k,s,p", [
    ((4, 16, 600, 5), (3, 2), (2, 2), (1, 0)),    # 600 rows: past the backward's row tables
    ((4, 8, 9, 14, 12), 3, 2, 1),                 # 3-d: the slices' and rows' tables
    ((8, 16, 29, 30), 2, 2, 0),                   # odd rows: ranges start mid-plane
])
def test_avg_backward_row_walk(shape, k, s, p, dtype, data_format):
    """The backward steps from row to row (item, slice, row) with each row's covering outputs
    from tables, from the first row of each thread's range: against the reference, 1 and 2
    threads bit for bit."""
    rng = np.random.default_rng(5)
    rank = len(shape) - 2
    spatial = shape[2:]
    y = R.avg_pool(np.zeros(shape), *(_t(v, rank) for v in (k, s, p, p)), False, True, 0)
    g = rng.standard_normal(y.shape).astype(dtype)
    want = RB.avg_pool_backward(g.astype(np.float64), spatial, *(_t(v, rank) for v in (k, s, p, p)),
                                False, True, 0)
    outs = []
    for n_threads in (1, 2):
        with cypool.threads(n_threads):
            gx = call(lambda g_, **a: AVG_BWD[rank](g_, shape_in(shape, a["data_format"]), k, s, p,
                                                    **a), g, data_format)
        np.testing.assert_allclose(gx.astype(np.float64), want,
                                   **(tol(dtype) if dtype != np.float16 else {"rtol": 2e-3,
                                                                              "atol": 2e-3}))
        outs.append(gx.tobytes())
    assert outs[0] == outs[1]


def _t(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


@pytest.mark.torch
@pytest.mark.parametrize("data_format", FORMATS)
def test_avg_big_against_torch(data_format):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 24, 30, 29)).astype(np.float32)
    for (k, s, p), ceil_mode, cip, div in itertools.product(
            [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 2, 1)], [False, True], [True, False],
            [None, 7]):
        xt = torch.from_numpy(x).requires_grad_(True)
        yt = F.avg_pool2d(xt, k, s, p, ceil_mode, cip, div)
        g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
        yt.backward(torch.from_numpy(g))
        with cypool.threads(2):
            y = call(cypool.avg_pool2d, x, data_format, k, s, p, ceil_mode, cip, div)
            gx = call(lambda g_, **a: cypool.avg_pool2d_backward(
                g_, shape_in(x.shape, a["data_format"]), k, s, p, ceil_mode, cip, div, **a),
                g, data_format)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_avg_wide_rows_fall_back_to_general_kernel():
    """A channels-last row too wide for the fast path's buffers runs the general kernel."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 9000, 160)).astype(np.float32)     # (N, W, C): > 8 MiB buffers
    y = cypool.avg_pool1d(x, 2, data_format="channels_last")
    np.testing.assert_allclose(y, x.astype(np.float64).reshape(1, 4500, 2, 160).mean(axis=2),
                               rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(y.shape).astype(np.float32)
    gx = cypool.avg_pool1d_backward(g, x.shape, 2, data_format="channels_last")
    np.testing.assert_allclose(gx, np.repeat(g / 2, 2, axis=1), rtol=1e-6)


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer aborts on (or, with allocator_may_return_null=1, "
                           "reports) a request this large by design")
def test_avg_general_kernel_without_memory_raises():
    """The general channels-last kernel's accumulators (C doubles per thread) are checked: a
    request that cannot be had raises MemoryError, before any thread writes through it. The
    thread count stands in for a huge request (2**31 - 1 rows of 1024 doubles); the kernels are
    called directly, as the plans (cypool/_plan.py) call them."""
    from cypool import _avg
    from cypool._geometry import pool_geometry

    w = pool_geometry((1, 1100), 2, 3, 2, 1).window()   # 1100 x 1024 rows: over the fast path's buffers
    C = 1024
    x = np.zeros(w["in_w"] * C, np.float32)
    y = np.zeros(w["out_w"] * C, np.float32)
    huge = 2**31 - 1
    kernel = _avg.AvgCall(w, False, 1, C, 0, True, True, 0, "float32")
    with pytest.raises(MemoryError):
        kernel(x, y, None, huge)
    kernel(x, y, None, 1)   # and the same call with memory works
    assert not y.any()


# ----------------------------------------------------------------------------- global average

GAP_SHAPES = [(2, 3, (7, 7)), (1, 37, (5, 3)), (3, 2, (1, 1)), (2, 20, (4, 4)), (1, 5, (9,)),
              (2, 4, (3, 4, 5)), (1, 64, (2, 3))]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_global_avg_against_reference(n_threads, dtype, data_format):
    rng = np.random.default_rng(10)
    for n, c, spatial in GAP_SHAPES:
        rank = len(spatial)
        x = rng.standard_normal((n, c, *spatial)).astype(dtype)
        with cypool.threads(n_threads):
            y = call(GAP[rank], x, data_format, keepdims=True)
            np.testing.assert_allclose(y, R.adaptive_avg(x.astype(np.float64), (1,) * rank),
                                       **tol(dtype))
            g = rng.standard_normal(y.shape).astype(dtype)
            gx = call(lambda g_, **a: GAP_BWD[rank](g_, shape_in(x.shape, a["data_format"]), **a),
                      g, data_format)
            np.testing.assert_allclose(gx, RB.adaptive_avg_backward(g.astype(np.float64),
                                                                    spatial), **tol(dtype))


@pytest.mark.parametrize("data_format", FORMATS)
def test_global_avg_big_threads_and_specials(data_format):
    rng = np.random.default_rng(11)
    for shape in [(32, 70, 7, 7), (1, 300, 13, 11), (3, 5, 40, 41)]:
        x = rng.standard_normal(shape).astype(np.float32)
        x[0, 1, 2, 3] = np.nan
        x[-1, -1, 0, 0] = np.inf
        outs = []
        for n in (1, 2):
            with cypool.threads(n):
                y = call(cypool.global_avg_pool2d, x, data_format)
                gx = call(lambda g_, **a: cypool.global_avg_pool2d_backward(
                    g_, shape_in(x.shape, a["data_format"]), **a), np.ones_like(y), data_format)
                outs.append((y.tobytes(), gx.tobytes()))
        assert outs[0] == outs[1]
        want = x.astype(np.float64).mean(axis=(2, 3))
        np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-7, equal_nan=True)
        assert np.isnan(y[0, 1]) and np.isinf(y[-1, -1])
        np.testing.assert_allclose(gx, np.full(x.shape, 1 / (shape[2] * shape[3])), rtol=1e-7)


def _long_plane_mean_cf(r):
    """The channels-first float32 mean of a plane of more than 64 cells, in the kernel's order:
    vectors of 16 values (value i in lane i % 16; the last m % 16 values of the plane's m as a
    vector of their own, in lanes 16 - m % 16 and up), summed in float in blocks of 8 vectors,
    each block's lanes added into 16 double lanes, then the pairwise tree over the lanes."""
    vectors = [r[i:i + 16] for i in range(0, r.size // 16 * 16, 16)]
    if r.size % 16:
        v = np.zeros(16, np.float32)
        v[16 - r.size % 16:] = r[r.size // 16 * 16:]
        vectors.append(v)
    d = np.zeros(16)
    for b in range(0, len(vectors), 8):
        f = np.zeros(16, np.float32)
        for v in vectors[b:b + 8]:
            f = f + v
        d = d + f.astype(np.float64)
    t = d[:8] + d[8:]
    s = ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]))
    return np.float32(s * (1.0 / r.size))


def _long_plane_means_cl(x):
    """The channels-last float32 means of one sample's (L, C) cells, L > 64, in the kernel's
    order: float column sums of 8 rows at a time, each added into a double column sum."""
    d = np.zeros(x.shape[1])
    for i0 in range(0, x.shape[0], 8):
        a = x[i0].copy()
        for row in x[i0 + 1:i0 + 8]:
            a = a + row
        d = d + a.astype(np.float64)
    return (d * (1.0 / x.shape[0])).astype(np.float32)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("spatial", [(5, 13), (14, 14), (1, 128), (1, 135), (3, 683), (1, 2053),
                                     (1, 4115)])
@pytest.mark.parametrize("values", ["wide", "normal"])
def test_global_avg_long_planes_sum_in_float_blocks(spatial, n_threads, values):
    # a sum's bits show the order of its terms: values of wide range with cancelling +-1e20, and
    # plain normal values (where blocks of 8 vectors against 16 change the float roundings)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, *spatial)).astype(np.float32)
    if values == "wide":
        x = (x * 10.0 ** rng.integers(-3, 4, (2, 3, *spatial))).astype(np.float32)
        x[rng.random(x.shape) < 0.05] = 1e20
        x[rng.random(x.shape) < 0.05] = -1e20
    with cypool.threads(n_threads):
        y = cypool.global_avg_pool2d(x)
        y_cl = cypool.global_avg_pool2d(np.ascontiguousarray(to_channels_last(x)),
                                        data_format="channels_last")
    planes = x.reshape(6, -1)
    want = np.array([_long_plane_mean_cf(r) for r in planes], np.float32).reshape(2, 3)
    assert y.tobytes() == want.tobytes()
    want_cl = np.stack([_long_plane_means_cl(s.reshape(-1, 3).copy())
                        for s in to_channels_last(x)])
    assert y_cl.tobytes() == want_cl.tobytes()


@pytest.mark.parametrize("data_format", FORMATS)
def test_global_avg_long_planes_as_accurate_as_float_cascades(data_format):
    # float blocks keep the error of a mean near float32's rounding: means of 1 + noise
    rng = np.random.default_rng(13)
    x = (1 + 1e-3 * rng.standard_normal((2, 4, 224, 224))).astype(np.float32)
    y = call(cypool.global_avg_pool2d, x, data_format)
    np.testing.assert_allclose(y, x.astype(np.float64).mean(axis=(2, 3)), rtol=2.5e-7, atol=0)


@pytest.mark.parametrize("n_planes", [32, 33, 70])
@pytest.mark.parametrize("spatial, k, s, p", [
    ((7, 7), 2, 2, 0), ((14, 14), 3, 1, 1), ((14, 13), 3, 2, 1), ((9, 12), (2, 3), (3, 2), (1, 1)),
    ((20,), 3, 2, 1), ((4, 6, 7), 2, 2, 0), ((5, 6, 6), 3, 1, 1),
])
def test_channels_first_plane_tiles(n_planes, spatial, k, s, p):
    # >= 32 small planes: tiles of 32 planes through the channels-last path, forward and
    # backward (33 and 70 end in an overlapping tile); equal to the reference, bit-identical to
    # the channels-last call on the same data and across thread counts
    rank = len(spatial)
    k, s, p = ((v,) * rank if isinstance(v, int) else tuple(v) for v in (k, s, p))
    rng = np.random.default_rng(n_planes * 7 + rank)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((1, n_planes, *spatial)).astype(dtype)
        x[0, 3, 0] = np.nan
        x[0, 5, -1] = np.inf
        for ceil_mode, cip, div in [(False, True, None), (True, False, None), (True, True, 3)]:
            if rank == 1 and div:
                continue
            check_avg(x, k, s, p, ceil_mode, cip, div, "channels_first")
            kw = {"divisor_override": div} if div else {}
            y = AVG[rank](x, k, s, p, ceil_mode, cip, **kw)
            y_cl = call(AVG[rank], x, "channels_last", k, s, p, ceil_mode, cip, **kw)
            np.testing.assert_array_equal(y, y_cl)
            with cypool.threads(2):
                np.testing.assert_array_equal(AVG[rank](x, k, s, p, ceil_mode, cip, **kw), y)
            # the backward's tiles: the same checks (check_avg compared it with the reference)
            g = rng.standard_normal(y.shape).astype(dtype)
            gx = AVG_BWD[rank](g, x.shape, k, s, p, ceil_mode, cip, **kw)
            gx_cl = call(lambda g_, **a: AVG_BWD[rank](g_, shape_in(x.shape, a["data_format"]),
                                                      k, s, p, ceil_mode, cip, **kw, **a),
                         g, "channels_last")
            np.testing.assert_array_equal(gx, gx_cl)
            with cypool.threads(2):
                np.testing.assert_array_equal(AVG_BWD[rank](g, x.shape, k, s, p, ceil_mode, cip,
                                                            **kw), gx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_first_plane_tiles_threads(dtype):
    # big enough for two threads (above the serial threshold): 7 tiles, the last overlapping
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 100, 14, 14)).astype(dtype)
    for k, s, p in [(3, 1, 1), (2, 2, 0), (3, 2, 1)]:
        with cypool.threads(1):
            y1 = cypool.avg_pool2d(x, k, s, p)
            g = rng.standard_normal(y1.shape).astype(dtype)
            gx1 = cypool.avg_pool2d_backward(g, x.shape, k, s, p)
        with cypool.threads(2):
            np.testing.assert_array_equal(cypool.avg_pool2d(x, k, s, p), y1)
            np.testing.assert_array_equal(cypool.avg_pool2d_backward(g, x.shape, k, s, p), gx1)
        np.testing.assert_allclose(y1, R.avg_pool(x.astype(np.float64), (k, k), (s, s), (p, p),
                                                  (p, p), False, True, 0), **tol(dtype))


def _wide_range_specials(rng, shape, dtype):
    """Normal values scaled by 1e-4 .. 1e4 (sums whose order shows in the last bits), with NaN,
    inf, -inf and -0 sprinkled in."""
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 5, shape)).astype(dtype)
    r = rng.random(shape)
    x[r < 0.02] = np.nan
    x[(r > 0.02) & (r < 0.03)] = np.inf
    x[(r > 0.03) & (r < 0.04)] = -np.inf
    x[(r > 0.04) & (r < 0.1)] = -0.0
    return x


def _separable_3x3_s1_p1(x, cip, div):
    """Channels-last (N, H, W, C) 3x3/s1/p1 average in the separable order of the fast path, in
    x's dtype: column sums (r0 + r1) + r2 of the window's real rows, then (v[j-1] + v[j]) + v[j+1]
    with +0 for the padding columns, times the divisor's inverse rounded to x's dtype."""
    N, H, W, C = x.shape
    y = np.empty_like(x)
    np_err = np.seterr(invalid="ignore")   # inf + -inf in the data
    cols = np.array([min(j + 2, W) - max(j - 1, 0) for j in range(W)])
    for oh in range(H):
        rows = [h for h in (oh - 1, oh, oh + 1) if 0 <= h < H]
        v = x[:, rows[0]].copy()
        for h in rows[1:]:
            v = v + x[:, h]
        vp = np.concatenate([np.zeros_like(v[:, :1]), v, np.zeros_like(v[:, :1])], axis=1)
        s = (vp[:, :-2] + vp[:, 1:-1]) + vp[:, 2:]
        d = np.full(W, float(div)) if div else (np.full(W, 9.0) if cip else len(rows) * cols)
        inv = (1.0 / d).astype(x.dtype)
        y[:, oh] = s * inv[None, :, None]
    np.seterr(**np_err)
    return y


@pytest.mark.parametrize("c", [1, 5, 32, 45, 64, 512, 513])
@pytest.mark.parametrize("spatial", [(1, 1), (2, 3), (7, 9), (12, 1), (1, 17)], ids=str)
def test_avg_3x3_s1_p1_channels_last_rows_in_the_separable_order(c, spatial):
    # Channels-last 3x3/s1/p1 rows keep three columns' vertical sums, not a row of them
    # (avg_cl_run3): the same adds in the same order as the row buffer, so the values equal that
    # order's exactly (NaN positions included; where two NaNs meet, the bits kept follow the
    # compiler's operand order).
    rng = np.random.default_rng(c * 100 + spatial[0] * 10 + spatial[1])
    for dtype in (np.float32, np.float64):
        x = _wide_range_specials(rng, (2, *spatial, c), dtype)
        for cip, div in ((True, None), (False, None), (True, 5)):
            want = _separable_3x3_s1_p1(x, cip, div)
            for n_threads in (1, 2):
                with cypool.threads(n_threads):
                    y = cypool.avg_pool2d(x, 3, 1, 1, False, cip, div,
                                          data_format="channels_last")
                np.testing.assert_array_equal(y, want, err_msg=f"{dtype} {cip} {div}")
                assert np.array_equal(np.signbit(y[y == 0]), np.signbit(want[want == 0]))


def _separable_3x3_s1_p1_backward(g, cip, div):
    """Channels-last (N, H, W, C) 3x3/s1/p1 average backward in the order of the gather form, in
    g's dtype: u = g[oh0] * inv0 + g[oh1] * inv1 + g[oh2] * inv2 over the output rows covering the
    input row (in order; inv: the divisors' inverses rounded to g's dtype), then input cell i is
    (u[i+1] + u[i]) + u[i-1] with +0 past the ends."""
    N, H, W, C = g.shape
    gi = np.empty_like(g)
    np_err = np.seterr(invalid="ignore", over="ignore")
    cols = np.array([min(j + 2, W) - max(j - 1, 0) for j in range(W)])
    for h in range(H):
        u = None
        for oh in (oh for oh in (h - 1, h, h + 1) if 0 <= oh < H):
            rows = min(oh + 2, H) - max(oh - 1, 0)
            d = np.full(W, float(div)) if div else (np.full(W, 9.0) if cip else rows * cols)
            t = g[:, oh] * (1.0 / d).astype(g.dtype)[None, :, None]
            u = t if u is None else u + t
        up = np.concatenate([np.zeros_like(u[:, :1]), u, np.zeros_like(u[:, :1])], axis=1)
        gi[:, h] = (up[:, 2:] + up[:, 1:-1]) + up[:, :-2]
    np.seterr(**np_err)
    return gi


@pytest.mark.parametrize("c", [1, 5, 32, 64, 512, 513])
@pytest.mark.parametrize("spatial", [(1, 1), (2, 3), (7, 9), (12, 1), (1, 17)], ids=str)
def test_avg_3x3_s1_p1_channels_last_backward_rows_in_the_gather_order(c, spatial):
    # The channels-last 3x3/s1/p1 backward makes its row buffer's columns one at a time
    # (avg_bwd_cl_run3): the same products and adds in the same order as the buffer, so the
    # values equal that order's exactly.
    rng = np.random.default_rng(c * 100 + spatial[0] * 10 + spatial[1] + 7)
    for dtype in (np.float32, np.float64):
        g = _wide_range_specials(rng, (2, *spatial, c), dtype)
        for cip, div in ((True, None), (False, None), (True, 5)):
            want = _separable_3x3_s1_p1_backward(g, cip, div)
            for n_threads in (1, 2):
                with cypool.threads(n_threads):
                    gi = cypool.avg_pool2d_backward(g, g.shape, 3, 1, 1, False, cip, div,
                                                    data_format="channels_last")
                np.testing.assert_array_equal(gi, want, err_msg=f"{dtype} {cip} {div}")
                assert np.array_equal(np.signbit(gi[gi == 0]), np.signbit(want[want == 0]))


def _cf_3_s2_rows(x, p, cip):
    """Channels-first (N, C, H, W) 3x3/s2 (H == 1: 1-d 3/s2) average in the row kernel's order,
    in x's dtype: column sums (r0 + r1) + r2 of the window's real rows, then
    (v[2j] + v[2j+1]) + v[2j+2] of the row padded with +0, times the divisor's inverse rounded
    to x's dtype."""
    N, C, H, W = x.shape
    kh, ph = (1, 0) if H == 1 else (3, p)
    OH, OW = (H + 2 * ph - kh) // 2 + 1, (W + 2 * p - 3) // 2 + 1
    y = np.empty((N, C, OH, OW), x.dtype)
    np_err = np.seterr(invalid="ignore")   # inf + -inf in the data
    for oh in range(OH):
        rows = [h for h in range(oh * 2 - ph, oh * 2 - ph + kh) if 0 <= h < H]
        v = x[:, :, rows[0]].copy()
        for h in rows[1:]:
            v = v + x[:, :, h]
        z = np.zeros_like(v[..., :1])
        vp = np.concatenate([z] * p + [v] + [z] * (p + 1), axis=-1)
        s = (vp[..., 0:2 * OW:2] + vp[..., 1:2 * OW + 1:2]) + vp[..., 2:2 * OW + 2:2]
        cols = np.array([min(2 * j - p + 3, W) - max(2 * j - p, 0) for j in range(OW)])
        d = np.full(OW, 3.0 * kh) if cip else len(rows) * cols
        y[:, :, oh] = s * (1.0 / d).astype(x.dtype)
    np.seterr(**np_err)
    return y


@pytest.mark.parametrize("spatial", [(1, 9), (1, 40), (1, 101), (7, 33), (4, 16)], ids=str)
@pytest.mark.parametrize("p", [0, 1])
def test_avg_channels_first_3_s2_rows_in_the_row_order(spatial, p):
    # Channels-first 3-wide stride-2 windows (1-d 3/s2, 2-d 3x3/s2) sum each output's three
    # columns of the row buffer left to right, as the general loop: pinned to that order's bits
    rng = np.random.default_rng(spatial[1] * 10 + p)
    for dtype in (np.float32, np.float64):
        x = _wide_range_specials(rng, (2, 3, *spatial), dtype)
        for cip in (True, False):
            want = _cf_3_s2_rows(x, p, cip)
            for n_threads in (1, 2):
                with cypool.threads(n_threads):
                    if spatial[0] == 1:
                        y = cypool.avg_pool1d(x[:, :, 0], 3, 2, p, count_include_pad=cip)[:, :, None]
                    else:
                        y = cypool.avg_pool2d(x, 3, 2, p, count_include_pad=cip)
                np.testing.assert_array_equal(y, want, f"{dtype}, cip={cip}")


@pytest.mark.parametrize("spatial", [(2, 32), (6, 34), (9, 33), (16, 130), (3, 2)], ids=str)
def test_avg_channels_first_2x2_s2_rows_in_the_row_order(spatial):
    # Channels-first 2x2/s2 rows (the second input row added as the horizontal pass goes, the
    # first copied) keep the row buffer's order: column sums x[2i] + x[2i + 1], then
    # v[2j] + v[2j + 1], times the divisor's inverse rounded to x's dtype: pinned to its bits
    rng = np.random.default_rng(spatial[0] * 1000 + spatial[1])
    for dtype in (np.float32, np.float64):
        x = _wide_range_specials(rng, (2, 3, *spatial), dtype)
        OH, OW = spatial[0] // 2, spatial[1] // 2
        np_err = np.seterr(invalid="ignore")   # inf + -inf in the data
        v = x[:, :, 0:2 * OH:2] + x[:, :, 1:2 * OH:2]
        s = v[..., 0:2 * OW:2] + v[..., 1:2 * OW:2]
        np.seterr(**np_err)
        for div in (None, 3):
            want = s * dtype(1.0 / (div or 4))
            for n_threads in (1, 2):
                with cypool.threads(n_threads):
                    y = cypool.avg_pool2d(x, 2, 2, divisor_override=div)
                np.testing.assert_array_equal(y, want, f"{dtype}, div={div}")
                assert np.array_equal(np.signbit(y[y == 0]), np.signbit(want[want == 0]))

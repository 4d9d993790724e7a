"""Big and unusual data: 64-bit sizes, integer/bool/float16/big-endian dtypes, precision, empty
batches and channels, and memory that stays flat over many calls."""
import gc
import os
import tracemalloc

import numpy as np
import pytest

import cypool
import reference as R
from cypool._geometry import adaptive_geometry, pool_geometry, pooled_size, unpool_size
from test_concurrency import operator_calls

BIG = 3_000_000_001           # a spatial size past 2**31 (and odd, so nothing divides evenly)


# ----------------------------------------------------------------------------- 64-bit geometry

def floor_out(L, k, s, p, d=1):
    return (L + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("k, s, p, d", [(3, 2, 1, 1), (2, 2, 0, 1), (5, 1, 2, 3), (7, 3, 3, 2)])
def test_pool_geometry_past_2_31(k, s, p, d):
    for rank, spatial in [(1, (BIG,)), (2, (BIG, 5 * BIG)), (3, (23, BIG, 2**33 + 3))]:
        geo = pool_geometry(spatial, rank, k, s, p, d)
        want = tuple(floor_out(L, k, s, p, d) for L in spatial)
        assert geo.out_size[3 - rank:] == want
        w = geo.window()
        assert (w["in_w"], w["out_w"]) == (spatial[-1], want[-1])
        assert w["in_w"] > 2**31 and w["out_w"] * s > 2**31 - 2 * s
        assert all(isinstance(v, int) for v in w.values())
    # ceil mode: one more window at most, and it must start inside the input or the left padding
    ceil, floor = pooled_size(BIG, k, s, p, p, d, True), floor_out(BIG, k, s, p, d)
    assert ceil in (floor, floor + 1) and (ceil - 1) * s < BIG + p


def test_same_padding_and_adaptive_and_unpool_geometry_past_2_31():
    geo = pool_geometry((BIG,), 1, 4, 3, "same")
    assert geo.out_size[-1] == -(-BIG // 3)
    total = (geo.out_size[-1] - 1) * 3 + 4 - BIG
    assert (geo.pad_begin[-1], geo.pad_end[-1]) == (total // 2, total - total // 2)
    ada = adaptive_geometry((BIG, 2**40), 2, (7, 3))
    assert ada.out_size[1:] == (7, 3) and ada.in_size[1:] == (BIG, 2**40)
    # the kernels' bin edges o * L // O stay inside int64 for these sizes
    assert (7 * BIG) < 2**62 and 3 * 2**40 < 2**62
    assert unpool_size((BIG,), 1, 2, 2, 0, None) == ((BIG - 1) * 2 + 2,)
    assert unpool_size((BIG, 3), 2, 3, 2, 1, (2 * BIG, 6)) == (2 * BIG, 6)


def test_sizes_beyond_64_bit_indexing_are_refused():
    with pytest.raises(ValueError, match="output_size"):
        adaptive_geometry((2**40,), 1, 2**23)
    with pytest.raises(ValueError, match="input_shape"):
        cypool.max_pool1d_backward(np.zeros((1, 1, 1), np.float32), np.zeros((1, 1, 1), np.int64),
                                   (1, 1, 2**62))
    with pytest.raises(ValueError, match="stride"):
        cypool.max_pool1d(np.zeros((1, 1, 4)), 2, 2**31)


@pytest.mark.slow
def test_real_max_pooling_over_more_than_2_31_elements():
    """A uint8 plane of 46341 x 46341 = 2,147,488,281 > 2**31 cells (2.1 GB)."""
    side = 46341
    x = np.zeros((1, 1, side, side), np.uint8)
    assert x.size > 2**31
    x[0, 0, side - 1, side - 1] = 7        # the last cell: flat offset side**2 - 1 > 2**31
    x[0, 0, 1, 1] = 3
    y = cypool.max_pool2d(x, 2, ceil_mode=True)
    assert y.shape == (1, 1, 23171, 23171)
    assert y[0, 0, -1, -1] == 7 and y[0, 0, 0, 0] == 3
    assert int(y.sum(dtype=np.int64)) == 10
    del y
    v, i = cypool.global_max_pool2d(x, return_indices=True)
    assert v[0, 0] == 7 and i[0, 0] == side * side - 1 and i[0, 0] > 2**31
    # (a backward here would allocate an 8.6 GB float32 gradient: left out)


# ----------------------------------------------------------------------------- dtypes

INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64]


@pytest.mark.parametrize("dtype", INT_DTYPES + [np.bool_])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_integer_and_bool_max_pooling_edge_values(dtype, data_format, rng):
    info = np.iinfo(dtype) if dtype is not np.bool_ else None
    lo, hi = (info.min, info.max) if info else (False, True)
    cases = [np.full((2, 3, 7, 6), lo, dtype), np.full((2, 3, 7, 6), hi, dtype)]
    mixed = np.full((2, 3, 7, 6), lo, dtype)
    mixed[rng.random(mixed.shape) < 0.3] = hi
    if info:
        mixed[rng.random(mixed.shape) < 0.2] = lo + 1
    cases.append(mixed)
    for x in cases:
        xin = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if data_format == "channels_last" else x
        back = (lambda a: np.moveaxis(a, -1, 1)) if data_format == "channels_last" else \
            (lambda a: a)
        for k, s, p, d, ceil in [(3, 2, 1, 1, True), (2, 1, 1, 2, False), (3, 3, 0, 1, True)]:
            y, idx = cypool.max_pool2d(xin, k, s, p, d, ceil, return_indices=True,
                                       data_format=data_format)
            ry, ridx = R.max_pool(x, (k, k), (s, s), (p, p), (p, p), (d, d), ceil)
            assert y.dtype == x.dtype
            np.testing.assert_array_equal(back(y), ry)
            np.testing.assert_array_equal(back(idx), ridx)
        ya, ia = cypool.adaptive_max_pool2d(xin, (3, 4), return_indices=True,
                                            data_format=data_format)
        rya, ria = R.adaptive_max(x, (3, 4))
        np.testing.assert_array_equal(back(ya), rya)
        np.testing.assert_array_equal(back(ia), ria)
        # unpooling keeps the integers exactly
        un = cypool.max_unpool2d(ya, ia, 2, output_size=(7, 7), data_format=data_format)
        np.testing.assert_array_equal(back(un), R.unpool(rya, ria, (7, 7)))


def test_float16_is_computed_in_float32_and_returned_as_float16():
    ones = np.ones((1, 1, 64, 64), np.float16)
    assert cypool.global_avg_pool2d(ones)[0, 0] == 1.0          # a float16 sum would stall
    big = np.full((1, 1, 64, 64), 100, np.float16)                # sum 409600 > float16 max
    y = cypool.avg_pool2d(big, 64)
    assert y.dtype == np.float16 and y[0, 0, 0, 0] == 100
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 8)).astype(np.float16)
    y = cypool.avg_pool2d(x, 3, 2, 1)
    want = cypool.avg_pool2d(x.astype(np.float32), 3, 2, 1).astype(np.float16)
    assert y.dtype == np.float16 and np.array_equal(y, want)
    ym, im = cypool.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert ym.dtype == np.float16
    g = cypool.max_pool2d_backward(ym, im, x.shape)
    assert g.dtype == np.float16


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">i2", ">u4"])
def test_big_endian_input_is_converted(dtype, rng):
    native = np.dtype(dtype).newbyteorder("=")
    x = (rng.standard_normal((2, 3, 8, 7)) * 50).astype(native)
    xb = x.astype(dtype)
    assert not xb.dtype.isnative
    y, i = cypool.max_pool2d(xb, 3, 2, 1, return_indices=True)
    y0, i0 = cypool.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert y.dtype == native and np.array_equal(y, y0) and np.array_equal(i, i0)
    if native.kind == "f":
        assert np.array_equal(cypool.avg_pool2d(xb, 2), cypool.avg_pool2d(x, 2))
        g = cypool.max_pool2d_backward(y.astype(dtype), i.astype(">i8"), x.shape)
        assert g.dtype == native and np.array_equal(g, cypool.max_pool2d_backward(y0, i0, x.shape))


# ----------------------------------------------------------------------------- precision

def test_long_windows_accumulate_wide():
    x = np.full((1, 1, 2**22), 0.1, np.float32)   # a float32 running sum drifts by ~1e-2 here
    x[0, 0, ::3] = 0.7
    want = np.float32(x.astype(np.float64).mean())
    assert np.float32(np.cumsum(x[0, 0], dtype=np.float32)[-1] / x.size) != want  # the trap
    assert cypool.avg_pool1d(x, x.shape[-1])[0, 0, 0] == want
    assert cypool.adaptive_avg_pool1d(x, 1)[0, 0, 0] == want
    assert cypool.global_avg_pool1d(np.moveaxis(x, 1, -1), data_format="channels_last")[0, 0] \
        == want


def test_average_of_a_4096_plane_of_ones_is_exactly_one():
    x = np.ones((1, 1, 4096, 4096), np.float32)
    assert cypool.global_avg_pool2d(x)[0, 0] == np.float32(1.0)
    x_cl = np.ones((1, 4096, 4096, 1), np.float32)
    assert cypool.global_avg_pool2d(x_cl, data_format="channels_last")[0, 0] == np.float32(1.0)


# ----------------------------------------------------------------------------- empty arrays

@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_empty_batch_and_zero_channels_for_every_operator(rank, data_format, rng):
    """Each operator on N = 0 and C = 0 returns arrays shaped like the non-empty call's result
    with that axis emptied."""
    from test_concurrency import make_input
    full = make_input(rank, data_format, np.float32, rng)
    c_axis = -1 if data_format == "channels_last" else 1
    reference = [(name, call()) for name, call in operator_calls(full, data_format, rank)]
    for axis in (0, c_axis):
        empty = np.take(full, [], axis=axis)
        got = [(name, call()) for name, call in operator_calls(empty, data_format, rank)]
        for (name, want), (_, res) in zip(reference, got):
            want = want if isinstance(want, tuple) else (want,)
            res = res if isinstance(res, tuple) else (res,)
            for w, r in zip(want, res):
                shape = list(w.shape)
                shape[axis if axis == 0 else c_axis] = 0
                assert r.shape == tuple(shape) and r.dtype == w.dtype, (name, axis, r.shape)


# ----------------------------------------------------------------------------- stability

def _rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_repeated_calls_leave_memory_flat():
    """10,000 calls (forward, backward, errors) grow neither Python's heap nor the RSS."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 16, 16)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    bad = np.zeros((1,))

    def one_round():
        cypool.max_pool2d(x, 3, 2, 1, return_indices=True)
        cypool.max_pool2d_backward(y, idx, x.shape)
        cypool.avg_pool2d(x, 3, 1, 1, data_format="channels_last")
        cypool.adaptive_avg_pool2d_backward(y, x.shape)
        cypool.max_unpool2d(y, idx, 2)
        try:
            cypool.max_pool2d(bad, 2)
        except ValueError:
            pass

    for _ in range(300):
        one_round()
    gc.collect()
    tracemalloc.start()
    try:
        rss0 = _rss_bytes()
        heap0 = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000 // 6 + 1):   # six calls per round
            one_round()
        gc.collect()
        heap1 = tracemalloc.get_traced_memory()[0]
        rss1 = _rss_bytes()
    finally:
        tracemalloc.stop()
    assert heap1 - heap0 < 64 * 1024, f"Python heap grew by {heap1 - heap0} bytes"
    assert rss1 - rss0 < 8 * 2**20, f"RSS grew by {(rss1 - rss0) / 2**20:.1f} MiB"


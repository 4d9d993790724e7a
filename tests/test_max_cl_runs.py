"""Pins the channels-last max forward's run kernels (pyx/_max_fast_body.h, max_cl_runs_row):
without indices, interior windows of 2x2x2, 3x3x3 (3-d), 2x2, 3x3 (2-d) and 2, 3 (1-d) read as
runs of adjacent cells, one per window row, combined as a tree (AVX-512F or AVX2). Their output
must be the sequential scan's bit for bit: the value of the first maximum, of the last NaN (its
payload), -inf when every cell is -inf; calls with indices (the cell-list kernel) are pinned
beside them. Border cells,
dilation along w and other window shapes take the cell-list kernel; every geometry below mixes
them, with C below, at and above the vector and block widths (16 float32 lanes, 8 float64, blocks
of 32), so the last vector overlaps the one before.
"""
import itertools

import numpy as np
import pytest

import cypool
import reference as R

FLOATS = [np.float32, np.float64]

# (spatial, kernel, stride, padding, dilation, ceil_mode)
GEOMETRIES_3D = [
    ((6, 8, 10), 2, 2, 0, 1, False),          # all interior, runs of 2 cells, 4 runs
    ((7, 9, 11), 2, 2, 0, 1, True),           # ceil_mode: a last partial column, row and slice
    ((5, 7, 9), 2, 2, 1, 1, False),           # padding: first column, row and slice partial
    ((7, 8, 9), 3, 2, 1, 1, False),           # 3x3x3: 9 runs of 3 inside, 4 or 6 at borders
    ((6, 7, 10), 3, 1, 1, 1, True),
    ((7, 9, 12), 3, 2, 1, 2, False),          # dilation: the cell-list kernel throughout
    ((6, 7, 9), 3, 2, 0, (2, 2, 1), False),   # dilation along d and h only: runs, spread rows
    ((5, 6, 9), (2, 3, 2), (1, 2, 3), (1, 1, 1), (2, 1, 2), False),
    ((4, 6, 8), (1, 2, 2), 2, 0, 1, False),   # 2 runs of 2 (a 2x2 of each slice)
]
GEOMETRIES_2D = [
    ((8, 10), 2, 2, 0, 1, False),
    ((9, 11), 2, 2, 0, 1, True),
    ((11, 13), 3, 2, 1, 1, False),
    ((7, 10), 3, 1, 1, 1, True),
    ((12, 15), 3, 2, 1, 2, False),
]
GEOMETRIES_1D = [
    ((41,), 3, 2, 1, 1, False),               # the 1-d runs: one run of 3 cells
    ((40,), 3, 2, 1, 1, True),
    ((23,), 2, 2, 0, 1, True),                # one run of 2 cells, a ceil_mode last column
    ((19,), 3, 1, 1, 1, False),
    ((21,), 3, 2, 1, 2, False),               # dilation: the cell-list kernel
]
CASES = ([(3, g) for g in GEOMETRIES_3D] + [(2, g) for g in GEOMETRIES_2D]
         + [(1, g) for g in GEOMETRIES_1D])


def _tuple(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _data(rng, shape, dtype, kind):
    """Channels-first data of one kind: NaNs with distinct quiet payloads and both signs (the
    winner's bits name it), signed zeros among ties, -inf, +inf."""
    if kind == "ties":
        x = rng.integers(-2, 3, size=shape).astype(dtype)
        zero = x == 0
        x[zero] = np.where(rng.random(zero.sum()) < 0.5, 0.0, -0.0)
        return x
    x = rng.standard_normal(shape).astype(dtype)
    r = rng.random(shape)
    if kind == "nan":
        b = _bits(x)
        if dtype == np.float32:
            pay = np.uint32(0x7FC00000) | rng.integers(1, 1 << 22, size=shape).astype(np.uint32)
            sign = np.uint32(0x80000000)
        else:
            pay = np.uint64(0x7FF8000000000000) | rng.integers(1, 1 << 51, size=shape,
                                                               dtype=np.uint64)
            sign = np.uint64(0x8000000000000000)
        pay = np.where(rng.random(shape) < 0.5, pay | sign, pay)
        b[r < 0.12] = pay[r < 0.12]
        x[(r > 0.85) & (r < 0.92)] = -np.inf
        x[r > 0.97] = np.inf
    elif kind == "neginf":
        x[r < 0.75] = -np.inf
    return x


def _cl(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def _pool_cl(x, rank, geom, return_indices=True):
    """Channels-last pooling of channels-first x; results moved back to channels-first."""
    _, k, s, p, d, ceil_mode = geom
    fn = getattr(cypool, f"max_pool{rank}d")
    out = fn(_cl(x), k, s, p, d, ceil_mode, return_indices=return_indices,
             data_format="channels_last")
    if return_indices:
        return np.moveaxis(out[0], -1, 1), np.moveaxis(out[1], -1, 1)
    return np.moveaxis(out, -1, 1)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("rank,geom", CASES, ids=str)
def test_runs_match_the_scan_bit_for_bit(rank, geom, dtype):
    # against the plain-loop reference: values as bits (NaN payloads, signed zeros) and indices,
    # with and without indices
    spatial, k, s, p, d, ceil_mode = geom
    kk, ss, pp, dd = (_tuple(v, rank) for v in (k, s, p, d))
    rng = np.random.default_rng(abs(hash((rank, spatial))) % 2**32)
    # C = 5 and 9: one AVX2 vector of float64, float32 (on AVX-512F CPUs too)
    for kind, c in itertools.product(("nan", "ties", "neginf"), (3, 5, 9, 17, 35)):
        x = _data(rng, (1, c, *spatial), dtype, kind)
        y_ref, i_ref = R.max_pool(x, kk, ss, pp, pp, dd, ceil_mode)
        y, i = _pool_cl(x, rank, geom)
        y2 = _pool_cl(x, rank, geom, return_indices=False)
        msg = f"{kind} C={c} {dtype.__name__}"
        np.testing.assert_array_equal(_bits(y), _bits(y_ref), err_msg=msg)
        np.testing.assert_array_equal(i, i_ref, err_msg=msg)
        np.testing.assert_array_equal(_bits(y2), _bits(y_ref), err_msg=msg)


@pytest.mark.parametrize("c", [1, 5, 8, 15, 16, 17, 31, 32, 33, 48, 64, 67])
@pytest.mark.parametrize("rank,geom", CASES, ids=str)
def test_runs_match_the_general_integer_kernel(rank, geom, c):
    # Integer channels-last data take the general kernel (no run kernels); small integers make
    # ties everywhere, so the first-maximum choice is compared on every output.
    spatial = geom[0]
    rng = np.random.default_rng(c * 7919 + len(spatial))
    xi = rng.integers(-3, 4, size=(2, c, *spatial)).astype(np.int32)
    yi, ii = _pool_cl(xi, rank, geom)
    for dtype in FLOATS:
        y, i = _pool_cl(xi.astype(dtype), rank, geom)
        np.testing.assert_array_equal(y, yi.astype(dtype), err_msg=f"{dtype.__name__}")
        np.testing.assert_array_equal(i, ii, err_msg=f"{dtype.__name__}")
        np.testing.assert_array_equal(_pool_cl(xi.astype(dtype), rank, geom, False),
                                      yi.astype(dtype))


def test_random_3d_geometries_match_the_general_kernel():
    # random odd sizes, kernels 1-3 per axis, strides, padding, dilation, ceil_mode: the float
    # channels-last forward (run kernels where the window allows) against the integer one, and
    # its NaN handling against the channels-first forward of the same data
    rng = np.random.default_rng(2026)
    for _ in range(40):
        k = tuple(int(v) for v in rng.integers(1, 4, size=3))
        s = tuple(int(v) for v in rng.integers(1, 4, size=3))
        p = tuple(int(rng.integers(0, kv // 2 + 1)) for kv in k)
        d = tuple(int(v) for v in (rng.integers(1, 3, size=3) if rng.random() < 0.3 else (1,) * 3))
        spatial = tuple(int(rng.integers((kv - 1) * dv + 1, (kv - 1) * dv + 9))
                        for kv, dv in zip(k, d))
        ceil_mode = bool(rng.random() < 0.5)
        c = int(rng.choice([1, 3, 16, 17, 32, 35, 64]))
        geom = (spatial, k, s, p, d, ceil_mode)
        msg = f"{geom} C={c}"
        xi = rng.integers(-3, 4, size=(2, c, *spatial)).astype(np.int32)
        yi, ii = _pool_cl(xi, 3, geom)
        for dtype in FLOATS:
            y, i = _pool_cl(xi.astype(dtype), 3, geom)
            np.testing.assert_array_equal(y, yi.astype(dtype), err_msg=msg)
            np.testing.assert_array_equal(i, ii, err_msg=msg)
            x = _data(rng, (2, c, *spatial), dtype, "nan")
            y, i = _pool_cl(x, 3, geom)
            yc, ic = cypool.max_pool3d(x, k, s, p, d, ceil_mode, return_indices=True)
            np.testing.assert_array_equal(_bits(y), _bits(yc), err_msg=msg)
            np.testing.assert_array_equal(i, ic, err_msg=msg)
            y = _pool_cl(x, 3, geom, return_indices=False)
            np.testing.assert_array_equal(_bits(y), _bits(yc), err_msg=msg)


@pytest.mark.parametrize("rank,geom", CASES, ids=str)
def test_bfloat16_runs_match_the_float32_scan_bit_for_bit(rank, geom):
    # bfloat16 values only, 32 channels or more: the runs compare each 32-bit lane's two cells
    # as float32; the result must be the float32 scan's on the widened cells, narrowed (exact),
    # a NaN made quiet (its payload's top kept)
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="bfloat16 needs ml_dtypes")
    spatial, k, s, p, d, ceil_mode = geom
    kk, ss, pp, dd = (_tuple(v, rank) for v in (k, s, p, d))
    rng = np.random.default_rng(abs(hash(("bf16", rank, spatial))) % 2**32)
    for kind, c in itertools.product(("nan", "ties", "neginf"), (32, 33, 64, 70)):
        x32 = _data(rng, (1, c, *spatial), np.float32, kind)
        # keep the top half of every pattern (NaN payloads in it): exact bfloat16 values; half
        # of the NaNs made signalling (quiet bit clear, payload kept)
        b = _bits(x32) & np.uint32(0xFFFF0000)
        snan = (np.isnan(x32) & (rng.random(x32.shape) < 0.5)
                & ((b & np.uint32(0x003F0000)) != 0))
        b[snan] &= np.uint32(0xFFBFFFFF)
        x32 = b.view(np.float32)
        y_ref, _ = R.max_pool(x32, kk, ss, pp, pp, dd, ceil_mode)
        want = (_bits(y_ref) >> np.uint32(16)).astype(np.uint16)
        want[np.isnan(y_ref)] |= np.uint16(0x0040)
        xb = (_bits(x32) >> np.uint32(16)).astype(np.uint16).view(ml_dtypes.bfloat16)
        got = _pool_cl(xb, rank, geom, return_indices=False)
        np.testing.assert_array_equal(got.view(np.uint16), want, err_msg=f"{kind} C={c}")

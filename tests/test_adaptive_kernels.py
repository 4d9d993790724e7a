"""The adaptive and global pooling kernels against their loops written out in Python, bit for
bit: the average is the double sum of each bin, cells in (d, h, w) order, divided by the bin's
cell count; the max follows the running rule (a cell replaces the maximum when greater or NaN:
the first maximum, the last NaN, with its own bits). float32 and float64, both data formats,
bins equal and unequal (global average pooling, which sums its own way, aside), with ties, signed zeros, infinities, NaNs of distinct payloads and
values of wide exponents (sums that round). Spatial pyramid pooling's backward equals the sum of
its levels' gradients, level after level."""
import itertools

import numpy as np
import pytest

import cypool
from helpers import from_channels_last, to_channels_last
import reference as ref

CASES = [(1, (13,), 5), (1, (64,), 7), (2, (13, 13), 6), (2, (16, 16), 4), (2, (9, 17), (4, 5)),
         (2, (7, 7), 1), (2, (3, 40), (2, 6)), (3, (5, 6, 7), (2, 3, 4)), (3, (4, 4, 4), 1)]


def special_data(rng, shape, dtype, kind):
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "ties":
        x = rng.integers(-2, 3, shape).astype(dtype)
        x[rng.random(shape) < 0.2] = -0.0
        x[rng.random(shape) < 0.05] = -np.inf
        x[rng.random(shape) < 0.02] = np.inf
    elif kind == "nan":
        bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
        mask = rng.random(shape) < 0.05
        base = 0x7FC00000 if dtype == np.float32 else 0x7FF8000000000000
        bits[mask] = (base | rng.integers(1, 1000, mask.sum())).astype(bits.dtype)
    elif kind == "wide":
        x = (x * 10.0 ** rng.integers(-30, 30, shape)).astype(dtype)
    elif kind == "-inf":
        x[:] = -np.inf
    elif kind == "cancel":   # +-1e20 beside small values: a sum's bits show the order of its terms
        big = rng.random(shape) < 0.3
        x[big] = np.where(rng.random(big.sum()) < 0.5, 1e20, -1e20).astype(dtype)
    elif kind == "zeros":   # maxima of 0 held as +0 and -0
        x = rng.integers(-2, 1, shape).astype(dtype)
        x[rng.random(shape) < 0.3] = -0.0
    return x


def avg_loop(x, out):
    """The kernels' order: each bin's double sum from 0, cells in row-major order, / cells."""
    N, C, *spatial = x.shape
    y = np.empty((N, C, *out), x.dtype)
    for n, c in itertools.product(range(N), range(C)):
        for o in itertools.product(*[range(m) for m in out]):
            sl = tuple(slice(*ref.bins(L, m)[i]) for L, m, i in zip(spatial, out, o))
            cells = x[(n, c, *sl)].reshape(-1)
            s = 0.0
            for v in cells:
                s += float(v)
            y[(n, c, *o)] = s / cells.size
    return y


def same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def same_average_bits(got, x, out):
    """got's bits are avg_loop's, except which NaN a bin holding several NaNs returns. x86 returns
    an addition's first NaN operand and C lets the compiler order an addition's operands (clang
    does), so a sum may carry any of its NaNs (IEEE 754 asks that it carry one input NaN's
    payload): a differing output must be NaN with the bits of a NaN of its own bin."""
    want = avg_loop(x, out)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    u = np.uint32 if got.dtype == np.float32 else np.uint64
    N, C, *spatial = x.shape
    for pos in np.argwhere(got.view(u) != want.view(u)):
        n, c, *o = pos
        sl = tuple(slice(*ref.bins(L, m)[i]) for L, m, i in zip(spatial, out, o))
        cells = x[(n, c, *sl)].reshape(-1)
        nans = {int(b) for b in cells[np.isnan(cells)].view(u)}
        if int(got[tuple(pos)].view(u)) not in nans:
            return False
    return True


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "ties", "nan", "wide", "-inf"])
def test_adaptive_bit_for_bit(data_format, dtype, kind):
    rng = np.random.default_rng(7)
    for rank, spatial, out in CASES:
        out = (out,) * rank if isinstance(out, int) else out
        # 18 planes: float32 channels-first takes 16 through the tile kernel, 2 row by row
        x = special_data(rng, (2, 9, *spatial), dtype, kind)
        xin = to_channels_last(x) if data_format == "channels_last" else x
        back = from_channels_last if data_format == "channels_last" else (lambda a: a)
        mx = getattr(cypool, f"adaptive_max_pool{rank}d")
        y_ref, i_ref = ref.adaptive_max(x, out)
        y, i = mx(xin, out, return_indices=True, data_format=data_format)
        assert same_bits(np.ascontiguousarray(back(y)), y_ref), (rank, spatial, out)
        assert np.array_equal(back(i), i_ref), (rank, spatial, out)
        assert same_bits(mx(xin, out, data_format=data_format), y)   # without indices
        if all(o == 1 for o in out):
            continue   # global average: its own summation (test_fast_paths_avg.py)
        av = getattr(cypool, f"adaptive_avg_pool{rank}d")
        y_avg = av(xin, out, data_format=data_format)
        assert same_average_bits(np.ascontiguousarray(back(y_avg)), x, out), (rank, spatial)


@pytest.mark.parametrize("kind", ["normal", "ties", "nan", "wide", "-inf", "cancel"])
def test_adaptive_avg_wide_channels_last(kind):
    """Multiples of 8 float32 channels: on AVX-512 CPUs the window-by-window kernel (sums in
    registers, blocks of 128 channels then 64, 32, 16, 8), elsewhere the band kernel; the same
    bits. 12 channels: the band kernel everywhere. Samples over 512 KiB with windows of a page
    a row (40x40 -> 5x5 of 128 channels, 4x48x48 -> 2x3x3 of 64): the band kernel prefetches the
    row below. 512 channels: blocks of windows with all their channels; 2056: blocks of 2048
    channels and 8."""
    rng = np.random.default_rng(11)
    for C, spatial, out in [(128, (12, 13), (2, 2)), (128, (9, 16), (1, 3)), (256, (8, 8), (1, 2)),
                            (128, (4, 4, 5), (1, 1, 2)), (256, (13, 13), (2, 2)),
                            (256, (13, 13), (6, 6)), (64, (14, 14), (7, 7)), (96, (13, 13), (6, 6)),
                            (8, (5, 5), (5, 5)), (248, (7, 9), (3, 4)), (16, (3, 4, 5), (2, 3, 2)),
                            (12, (6, 7), (4, 3)), (128, (40, 40), (5, 5)),
                            (64, (4, 48, 48), (2, 3, 3)), (512, (14, 14), (7, 7)),
                            (2056, (5, 5), (2, 3))]:
        x = special_data(rng, (1, C, *spatial), np.float32, kind)
        av = getattr(cypool, f"adaptive_avg_pool{len(spatial)}d")
        xin = np.ascontiguousarray(to_channels_last(x))   # channels-last in memory
        y = from_channels_last(av(xin, out, data_format="channels_last"))
        assert same_average_bits(np.ascontiguousarray(y), x, out), (C, spatial, out)


def test_adaptive_avg_channels_last_input_from_memory():
    """An input of more than 16 MiB in samples under 512 KiB (48 x 14x14 of 512 channels): the
    band kernel prefetches the row below, all 512 channels of a window at a time; the bits of
    each 2x2 bin's double sum, cells in row-major order, / 4."""
    x = np.random.default_rng(5).standard_normal((48, 14, 14, 512)).astype(np.float32)
    # a bin whose sum shows the order of its terms: ((1e20 + 1) - 1e20) + 3 = 3, not 4 or 1
    x[1, 2:4, 4:6, 100:140] = np.array([[1e20, 1.0], [-1e20, 3.0]], np.float32)[..., None]
    y = cypool.adaptive_avg_pool2d(x, 7, data_format="channels_last")
    s = 0.0 + x[:, 0::2, 0::2].astype(np.float64)
    s = s + x[:, 0::2, 1::2]
    s = s + x[:, 1::2, 0::2]
    s = s + x[:, 1::2, 1::2]
    assert same_bits(y, (s / 4).astype(np.float32))


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "ties", "nan", "-inf", "zeros"])
@pytest.mark.parametrize("plane", [(7, 7), (1, 5), (4, 4), (1, 16), (2, 16), (3, 11), (13, 13),
                                   (1, 3)])
def test_global_max_bit_for_bit(data_format, dtype, kind, plane):
    # with and without indices: the values alone are the vector maximum where no cell is NaN and
    # the maximum is not zero (channels-first; float32 planes of 16 cells or more 16 planes at a
    # time on AVX-512 CPUs: 51 planes make groups and a rest), else the rule's loop: the first
    # maximum (the sign of the first zero), the last NaN
    rng = np.random.default_rng(11)
    x = special_data(rng, (3, 17, *plane), dtype, kind)
    xin = to_channels_last(x) if data_format == "channels_last" else x
    y_ref, i_ref = ref.adaptive_max(x, (1, 1))
    y, i = cypool.global_max_pool2d(xin, keepdims=True, return_indices=True,
                                    data_format=data_format)
    back = from_channels_last if data_format == "channels_last" else (lambda a: a)
    assert same_bits(np.ascontiguousarray(back(y)), y_ref)
    assert np.array_equal(back(i), i_ref)
    for n_threads in (1, 2):
        with cypool.threads(n_threads):
            v = cypool.global_max_pool2d(xin, keepdims=True, data_format=data_format)
        assert same_bits(np.ascontiguousarray(back(v)), y_ref)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("levels", [(4, 2, 1), (1, 2, 4), (3, 3), (6, 2)])
def test_spp_max_backward_adds_levels(data_format, dtype, levels):
    rng = np.random.default_rng(3)
    x = special_data(rng, (2, 13, 13, 5) if data_format == "channels_last" else (2, 5, 13, 13),
                     dtype, "ties")   # ties: some cells are the maximum of several bins
    y, idx = cypool.spatial_pyramid_pool(x, levels, return_indices=True, data_format=data_format)
    g = special_data(rng, y.shape, dtype, "wide")
    got = cypool.spatial_pyramid_pool_backward(g, x.shape, levels, indices=idx,
                                               data_format=data_format)
    total, start = None, 0
    c = x.shape[-1] if data_format == "channels_last" else x.shape[1]
    for level, i in zip(levels, idx):
        gl = g[:, start:start + c * level * level].reshape(-1, c, level, level)
        start += c * level * level
        if data_format == "channels_last":
            gl = np.ascontiguousarray(np.moveaxis(gl, 1, -1))
        gx = cypool.adaptive_max_pool2d_backward(gl, i, x.shape, data_format=data_format)
        total = gx if total is None else total + gx
    assert same_bits(got, total)


def test_spp_backward_rejects_bad_indices():
    x = np.random.default_rng(0).standard_normal((1, 2, 8, 8)).astype(np.float32)
    y, idx = cypool.spatial_pyramid_pool(x, (2, 1), return_indices=True)
    idx[1][0, 1, 0, 0] = 64
    with pytest.raises(ValueError, match="outside"):
        cypool.spatial_pyramid_pool_backward(np.ones_like(y), x.shape, (2, 1), indices=idx)

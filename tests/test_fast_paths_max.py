"""Pins the fast paths of max pooling (pyx/_max_fast.h) against the plain-loop reference and the
general kernel.

Fast paths taken for float32/float64 (integer dtypes run the general kernel):
- channels-first rows: border outputs cell by cell, interior outputs (windows wholly inside along
  w) in chunks of 256 with one sweep per window cell; whole-row sweeps for k_w in {2, 3},
  s_w in {1, 2} without dilation; the stride-1, stride-2 and any-stride sweeps otherwise; on
  AVX-512 CPUs, float32 rows of 16 or more interior outputs (stride 1, or 2 with k_w >= 2, no
  dilation along w) in vectors of 16 outputs, border outputs in masked vectors;
- channels-last rows: channel blocks of 32 elements (float or double) with register-resident
  maxima, the last block ending at C (overlapping the one before) when C >= 32, one shorter block
  when C < 32; indices as the winning cell's ordinal;
- 1-d channels-last rows (windows of up to 64 cells): the same channel blocks per output,
  a row's output columns split into runs among the threads (cypool_max_fwd_cl_1d);
- channels-first small planes (output rows shorter than 16, at least 32 planes, a 32-plane tile
  within 256 KiB): tiles of 32 planes transposed to channels-last and pooled by the channel-block
  kernel, the last tile overlapping the one before;
- channels-first 2x2/s2 without indices, even sides and rows of 12 or more outputs: with
  AVX-512, vectors of outputs from their rows' even and odd cells (cypool_max_fwd_cf_2x2_wide_*),
  else, for planes the tiles take, flat sweeps of horizontal pairs (cypool_max_fwd_cf_2x2).
Each geometry below selects one of them; borders come from odd sizes, padding, ceil_mode and
dilation. Integer data run through the general kernel give a bit-exact cross-check (same ties).
"""
import itertools
import zlib

import numpy as np
import pytest

import cypool
import reference as R
from helpers import TILE_CASES, from_channels_last, tile_indices, to_channels_last

FORMATS = ["channels_first", "channels_last"]
FLOATS = [np.float32, np.float64]

# (spatial, kernel, stride, padding, dilation, ceil_mode): one per fast-path branch and border
GEOMETRIES_2D = [
    ((8, 8), 2, 2, 0, 1, False),             # whole-row sweep k2 s2, no border
    ((9, 11), 2, 2, 0, 1, True),             # k2 s2, ceil_mode overhang at the right/bottom
    ((7, 9), 2, 2, 1, 1, False),             # k2 s2 with padding: left/right border cells
    ((11, 13), 3, 2, 1, 1, False),           # resnet stem: k3 s2 p1
    ((12, 12), 3, 2, 1, 1, True),            # k3 s2 p1 ceil
    ((6, 10), 2, 1, 0, 1, False),            # k2 s1
    ((7, 10), 3, 1, 1, 1, True),             # k3 s1 p1
    ((9, 14), (2, 4), (3, 4), (1, 2), 1, False),  # k4 s4: per-cell sweep, any stride
    ((10, 13), (3, 5), (1, 1), (1, 2), 1, False),  # k5 s1: per-cell sweep, stride 1
    ((10, 13), (3, 5), (2, 2), (0, 1), 1, True),   # k5 s2: per-cell sweep, stride 2
    ((12, 15), 3, 2, 1, 2, False),           # dilation 2: per-cell sweep with a dilated offset
    ((13, 17), (2, 3), (1, 3), (1, 1), (3, 2), True),  # dilation, ceil, padding
    ((5, 5), 5, 1, 2, 1, False),             # no interior at all: every output a border cell
    ((3, 4), 4, 3, 2, 1, True),              # window bigger than the input
    ((1, 600), (1, 2), (1, 2), 0, 1, False),  # > 256 outputs per row: several chunks
    ((2, 777), (1, 3), (1, 2), (0, 1), 1, True),  # several chunks plus a border
]


def _fmt_in(x, data_format):
    return np.ascontiguousarray(to_channels_last(x)) if data_format == "channels_last" else x


def _fmt_out(y, data_format):
    return from_channels_last(y) if data_format == "channels_last" else y


def _pool(x, rank, k, s, p, d, ceil_mode, data_format, return_indices=True):
    fn = getattr(cypool, f"max_pool{rank}d")
    out = fn(_fmt_in(x, data_format), k, s, p, d, ceil_mode, return_indices=return_indices,
             data_format=data_format)
    if return_indices:
        return _fmt_out(out[0], data_format), _fmt_out(out[1], data_format)
    return _fmt_out(out, data_format)


def _tuple(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


def _special_data(rng, shape, dtype, kind):
    if kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    r = rng.random(shape)
    if kind == "nan":
        x[r < 0.15] = np.nan
    elif kind == "neginf":
        x[r < 0.5] = -np.inf
    elif kind == "allneginf":
        x[...] = -np.inf
    elif kind == "mixed":
        x[r < 0.1] = np.nan
        x[r > 0.8] = -np.inf
        x[(r > 0.4) & (r < 0.6)] = 1.0
    return x


def _check_reference(x, rank, k, s, p, d, ceil_mode, data_format):
    kk, ss, pp, dd = (_tuple(v, rank) for v in (k, s, p, d))
    y_ref, i_ref = R.max_pool(x, kk, ss, pp, pp, dd, ceil_mode)
    y, i = _pool(x, rank, k, s, p, d, ceil_mode, data_format)
    y2 = _pool(x, rank, k, s, p, d, ceil_mode, data_format, return_indices=False)
    msg = f"shape={x.shape} k={k} s={s} p={p} d={d} ceil={ceil_mode} {data_format} {x.dtype}"
    np.testing.assert_array_equal(y, y_ref, err_msg=msg)
    np.testing.assert_array_equal(i, i_ref, err_msg=msg)
    np.testing.assert_array_equal(y2, y_ref, err_msg=msg)
    return y, i


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("geom", GEOMETRIES_2D, ids=str)
def test_2d_geometries_against_reference(geom, dtype, data_format):
    spatial, k, s, p, d, ceil_mode = geom
    rng = np.random.default_rng(abs(hash((spatial, str(k)))) % 2**32)
    for kind in ("normal", "ties", "nan", "mixed", "allneginf"):
        # C below, above and not a multiple of the channels-last block width (32)
        wide = kind in ("normal", "nan") and np.prod(spatial) < 400
        for c in (1, 3, 35) if wide else (2,):
            x = _special_data(rng, (2, c, *spatial), dtype, kind)
            _check_reference(x, 2, k, s, p, d, ceil_mode, data_format)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("c", [4, 8, 12, 16, 24, 29, 32, 64, 67])
def test_channel_blocks_against_reference(c, data_format):
    rng = np.random.default_rng(c)
    for dtype in FLOATS:
        for kind in ("normal", "nan", "ties"):
            x = _special_data(rng, (1, c, 5, 6), dtype, kind)
            _check_reference(x, 2, 2, 2, 0, 1, True, data_format)
            _check_reference(x, 2, 3, 2, 1, 1, False, data_format)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank,spatial,k,s,p,d,ceil_mode", [
    (1, (9,), 2, 2, 0, 1, True),
    (1, (300,), 3, 1, 1, 1, False),
    (1, (17,), 3, 2, 1, 2, True),
    (3, (4, 6, 7), 2, 2, 0, 1, True),
    (3, (5, 7, 8), 3, 2, 1, 1, False),
    (3, (5, 6, 9), (2, 3, 2), (1, 2, 3), (1, 1, 1), (2, 1, 2), False),
])
def test_1d_3d_against_reference(rank, spatial, k, s, p, d, ceil_mode, data_format):
    rng = np.random.default_rng(rank * 1000 + spatial[-1])
    for dtype in FLOATS:
        for kind in ("normal", "nan", "ties", "mixed"):
            x = _special_data(rng, (2, 3, *spatial), dtype, kind)
            _check_reference(x, rank, k, s, p, d, ceil_mode, data_format)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("geom", GEOMETRIES_2D, ids=str)
def test_float_fast_path_matches_general_integer_kernel(geom, data_format):
    # Integer inputs take the general kernel; the same values as floats take the fast paths.
    # Small integers make ties everywhere, so first-maximum index choice is compared exactly.
    spatial, k, s, p, d, ceil_mode = geom
    rng = np.random.default_rng(7)
    xi = rng.integers(-3, 4, size=(2, 34, *spatial)).astype(np.int32)
    yi, ii = _pool(xi, 2, k, s, p, d, ceil_mode, data_format)
    for dtype in FLOATS:
        y, i = _pool(xi.astype(dtype), 2, k, s, p, d, ceil_mode, data_format)
        np.testing.assert_array_equal(y, yi.astype(dtype))
        np.testing.assert_array_equal(i, ii)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_threads_give_identical_results(dtype, data_format):
    # big enough for two threads (above the serial threshold of cypool._threads)
    rng = np.random.default_rng(3)
    x = _special_data(rng, (3, 40, 45, 47), dtype, "mixed")
    for k, s, p, ceil_mode in ((2, 2, 0, False), (3, 2, 1, True), (4, 3, 2, True)):
        outs = []
        for n in (1, 2):
            with cypool.threads(n):
                outs.append(_pool(x, 2, k, s, p, 1, ceil_mode, data_format))
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
        np.testing.assert_array_equal(outs[0][1], outs[1][1])
        xi = np.nan_to_num(x, nan=7, neginf=-9).round().astype(np.int16)
        with cypool.threads(2):
            yi, ii = _pool(xi, 2, k, s, p, 1, ceil_mode, data_format)
            yf, if_ = _pool(xi.astype(dtype), 2, k, s, p, 1, ceil_mode, data_format)
        np.testing.assert_array_equal(yf, yi.astype(dtype))
        np.testing.assert_array_equal(if_, ii)


@pytest.mark.torch
@pytest.mark.parametrize("data_format", FORMATS)
def test_against_torch(data_format):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    for (spatial, k, s, p, d, ceil_mode), dtype in itertools.product(GEOMETRIES_2D, FLOATS):
        kk, pp = _tuple(k, 2), _tuple(p, 2)
        if any(2 * a > b for a, b in zip(pp, kk)):
            continue  # torch wants padding <= kernel / 2
        x = _special_data(rng, (2, 35, *spatial), dtype, "mixed")
        yt, it = F.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode, return_indices=True)
        y, i = _pool(x, 2, k, s, p, d, ceil_mode, data_format)
        np.testing.assert_array_equal(y, yt.numpy())
        np.testing.assert_array_equal(i, it.numpy())


def _gradient_with_specials(rng, shape, dtype):
    # values with -0, +-inf, quiet NaNs and signalling NaNs (payloads kept by a quieting add)
    g = rng.standard_normal(shape).astype(dtype)
    flat = g.reshape(-1)
    flat[3::17] = -0.0
    flat[5::23] = np.inf
    flat[7::29] = -np.inf
    bits = flat.view(np.uint32 if dtype == np.float32 else np.uint64)
    if dtype == np.float32:
        quiet, snan = 0x7FC00123, 0x7F800456
    else:
        quiet, snan = 0x7FF8000000000123, 0x7FF0000000000456
    bits[11::31] = quiet
    bits[13::37] = snan
    return g


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("spatial,out", TILE_CASES, ids=lambda v: "x".join(map(str, v)))
@pytest.mark.parametrize("C", [8, 37])
def test_channels_last_max_backward_of_indices_in_tiles(dtype, spatial, out, C):
    # Channels-last indices that keep to tiles of in // out cells take the gather
    # (cypool_max_bwd_tiles_cl32 / _cl64; tiles of up to 24 cells, the global one the
    # scatter): each cell written once, the scatter's first add to
    # a zeroed cell (0 + g: -0 made +0, a NaN made quiet), bit for bit the channels-first
    # scatter's result and the reference's
    rng = np.random.default_rng(C * 100 + len(spatial) * 10 + out[0])
    idx = tile_indices(rng, 2, C, spatial, out)
    g = _gradient_with_specials(rng, idx.shape, dtype)
    want = np.zeros((2, C, int(np.prod(spatial))), dtype)
    n, c = np.indices((2, C))
    with np.errstate(invalid="ignore"):   # the signalling NaNs made quiet
        plus = dtype(0) + g.reshape(2, C, -1)
    want[n[..., None], c[..., None], idx.reshape(2, C, -1)] = plus
    want = want.reshape(2, C, *spatial)
    backward = {1: cypool.max_pool1d_backward, 2: cypool.max_pool2d_backward,
                3: cypool.max_pool3d_backward}[len(spatial)]
    cf = backward(g, idx, (2, C, *spatial))
    assert cf.tobytes() == want.tobytes()
    for nt in (1, 2):
        with cypool.threads(nt):
            got = backward(np.ascontiguousarray(to_channels_last(g)),
                           np.ascontiguousarray(to_channels_last(idx)),
                           (2, *spatial, C), data_format="channels_last")
        assert np.ascontiguousarray(from_channels_last(got)).tobytes() == want.tobytes(), nt


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("spatial,out,C", [((12, 40), (6, 20), 16), ((12, 200), (6, 100), 40)],
                         ids=["rows", "one-pass"])
def test_channels_last_max_backward_of_indices_leaving_their_tiles_later(dtype, spatial, out, C):
    # the first band of tiles keeps to them (the gather is tried) and a later one does not:
    # that sample goes to the scatter, a cell named twice gets both adds in output order, and
    # an index outside the plane still raises (float32's one pass over a tile row's two input
    # rows too: 100 outputs of 40 channels)
    rng = np.random.default_rng(5)
    idx = tile_indices(rng, 2, C, spatial, out)
    idx[1, 3, 4, 2] = idx[1, 3, 4, 3]            # sample 1, band 4: a cell of the next tile
    idx[0, 5, 2, 1] = idx[0, 5, 0, 0]            # sample 0, band 2: a cell of band 0
    g = _gradient_with_specials(rng, idx.shape, dtype)
    want = np.zeros((2, C, int(np.prod(spatial))), dtype)
    with np.errstate(invalid="ignore"):
        for n, c in itertools.product(range(2), range(C)):
            np.add.at(want[n, c], idx[n, c].reshape(-1), g[n, c].reshape(-1))
    want = want.reshape(2, C, *spatial)
    idx_cl = np.ascontiguousarray(to_channels_last(idx))
    g_cl = np.ascontiguousarray(to_channels_last(g))
    for nt in (1, 2):
        with cypool.threads(nt):
            got = cypool.max_pool2d_backward(g_cl, idx_cl, (2, *spatial, C),
                                             data_format="channels_last")
        np.testing.assert_array_equal(from_channels_last(got), want)
        with cypool.threads(nt):   # channels-first: the scatter
            np.testing.assert_array_equal(cypool.max_pool2d_backward(g, idx, (2, C, *spatial)),
                                          want)
    idx_cl[1, 5, 7, 3] = np.prod(spatial)
    with pytest.raises(ValueError):
        cypool.max_pool2d_backward(g_cl, idx_cl, (2, *spatial, C), data_format="channels_last")


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_backward_routes_gradients(data_format, n_threads):
    # The scatter zeroes the gradient as it reaches it: just ahead of its adds, or (channels-last
    # blocks over 1 MiB: the last four shapes, whose kernel-1 windows leave cells no index names)
    # each cell at its first add and the rest at the end, or (the last two: more than 24 input
    # cells an output, a channel block of part of the channels in the kernel-1 one) the whole
    # block before the adds. Both formats run under a guided schedule (ownership keeps the
    # result deterministic).
    rng = np.random.default_rng(5)
    for shape, k, s, p in (((2, 64, 30, 31), 2, 2, 0), ((3, 5, 33, 20), 3, 2, 1),
                           ((1, 70, 16, 16), 3, 1, 1), ((2, 24, 130, 96), 3, 2, 1),
                           ((1, 16, 200, 120), 1, 3, 0), ((2, 32, 96, 100), 5, 5, 0),
                           ((1, 16, 200, 120), 1, 5, 0)):
        x = _special_data(rng, shape, np.float64, "ties")
        y, i = _pool(x, 2, k, s, p, 1, False, data_format)
        g = rng.standard_normal(y.shape)
        expected = np.zeros_like(x)
        n_, c_ = np.indices(y.shape[:2])
        for o in np.ndindex(*y.shape[2:]):
            flat = i[(slice(None), slice(None), *o)]
            np.add.at(expected.reshape(*x.shape[:2], -1), (n_, c_, flat),
                      g[(slice(None), slice(None), *o)])
        with cypool.threads(n_threads):
            gx = cypool.max_pool2d_backward(_fmt_in(g, data_format), _fmt_in(i, data_format),
                                            _fmt_in(x, data_format).shape,
                                            data_format=data_format)
        np.testing.assert_array_equal(_fmt_out(gx, data_format), expected)
        out = np.full_like(gx, np.nan)
        with cypool.threads(n_threads):
            cypool.max_pool2d_backward(_fmt_in(g, data_format), _fmt_in(i, data_format),
                                       _fmt_in(x, data_format).shape, data_format=data_format,
                                       out=out)
        np.testing.assert_array_equal(_fmt_out(out, data_format), expected)
        bad = i.copy()
        bad.flat[::7] = np.prod(x.shape[2:])
        with pytest.raises(ValueError, match=str(len(bad.flat[::7]))):
            cypool.max_pool2d_backward(_fmt_in(g, data_format), _fmt_in(bad, data_format),
                                       _fmt_in(x, data_format).shape, data_format=data_format)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("spatial", [(1, 1), (3, 5), (7, 7), (63, 65), (64, 64)])
def test_one_output_planes_scatter_in_groups(spatial, n_threads, dtype):
    # channels-first planes of one output (global max, adaptive max to 1) are zeroed and
    # scattered in groups of about 4096 cells (the last group shorter; 64x64 planes one a
    # group, 63x65 too); every cell of the gradient is written, into `out=` too, and indices
    # outside the plane are counted across groups
    rng = np.random.default_rng(11)
    n, c = 3, 331
    plane = spatial[0] * spatial[1]
    idx = rng.integers(0, plane, (n, c, 1, 1)).astype(np.int64)
    g = rng.standard_normal((n, c, 1, 1)).astype(dtype)
    expected = np.zeros((n, c, plane), dtype)
    np.put_along_axis(expected, idx.reshape(n, c, 1), g.reshape(n, c, 1), axis=2)
    expected = expected.reshape(n, c, *spatial)
    with cypool.threads(n_threads):
        gx = cypool.max_pool2d_backward(g, idx, (n, c, *spatial))
        out = np.full((n, c, *spatial), np.nan, dtype)
        cypool.max_pool2d_backward(g, idx, (n, c, *spatial), out=out)
    np.testing.assert_array_equal(gx, expected)
    np.testing.assert_array_equal(out, expected)
    bad = idx.copy()
    bad.flat[::5] = plane
    bad.flat[1::97] = -1
    n_bad = np.count_nonzero((bad < 0) | (bad >= plane))
    with pytest.raises(ValueError, match=f"has {n_bad} entries"):
        with cypool.threads(n_threads):
            cypool.max_pool2d_backward(g, bad, (n, c, *spatial))


@pytest.mark.parametrize("n_planes", [32, 33, 64, 95])
@pytest.mark.parametrize("rank,spatial,k,s,p,d,ceil_mode", [
    (2, (7, 7), 2, 2, 0, 1, True),
    (2, (14, 14), 3, 1, 1, 1, False),
    (2, (28, 28), 2, 2, 0, 1, False),
    (2, (9, 12), 3, 2, 1, 2, True),
    (1, (20,), 3, 2, 1, 1, True),
    (3, (4, 6, 7), 2, 2, 0, 1, True),
    (3, (5, 6, 9), (2, 3, 2), (1, 2, 3), (1, 1, 1), (2, 1, 2), False),
])
def test_channels_first_plane_tiles(n_planes, rank, spatial, k, s, p, d, ceil_mode):
    # N*C >= 32 planes with short rows take the tiles; 33 and 95 end in an overlapping tile.
    rng = np.random.default_rng(n_planes + 100 * rank)
    for dtype in FLOATS:
        for kind in ("normal", "ties", "mixed", "allneginf"):
            x = _special_data(rng, (1, n_planes, *spatial), dtype, kind)
            y, i = _check_reference(x, rank, k, s, p, d, ceil_mode, "channels_first")
            with cypool.threads(2):
                y2, i2 = _pool(x, rank, k, s, p, d, ceil_mode, "channels_first")
            np.testing.assert_array_equal(y2, y)
            np.testing.assert_array_equal(i2, i)
    xi = rng.integers(-3, 4, size=(1, n_planes, *spatial)).astype(np.int16)  # general kernel
    yi, ii = _pool(xi, rank, k, s, p, d, ceil_mode, "channels_first")
    for dtype in FLOATS:
        y, i = _pool(xi.astype(dtype), rank, k, s, p, d, ceil_mode, "channels_first")
        np.testing.assert_array_equal(y, yi.astype(dtype))
        np.testing.assert_array_equal(i, ii)


def _payload_data(rng, shape, dtype):
    """Signed zeros, infinities and NaNs of distinct payloads and both signs: which cell wins
    shows in the bits."""
    x = rng.standard_normal(shape).astype(dtype)
    r = rng.random(shape)
    x[r < 0.15] = 0.0
    x[(r > 0.15) & (r < 0.3)] = -0.0
    x[(r > 0.3) & (r < 0.35)] = np.inf
    x[(r > 0.35) & (r < 0.4)] = -np.inf
    bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
    quiet = np.array(np.nan, dtype).view(bits.dtype)
    sign = bits.dtype.type(1) << bits.dtype.type(8 * bits.itemsize - 1)
    nan = r > 0.9
    payload = rng.integers(1, 1 << 20, size=shape).astype(bits.dtype)
    bits[nan] = quiet | payload[nan] | np.where(r[nan] > 0.95, sign, bits.dtype.type(0))
    return x


@pytest.mark.parametrize("n_planes", [32, 33, 95])
@pytest.mark.parametrize("spatial", [(28, 28), (2, 24), (24, 24), (2, 30), (44, 30), (2, 64),
                                     (4, 70), (6, 130), (4, 112), (2, 4098), (2, 4136)], ids=str)
def test_channels_first_2x2_pair_sweeps_match_the_scan_bit_for_bit(n_planes, spatial):
    # Without indices these planes (rows of 12 to 65 outputs: one vector of 8 or 16 and parts
    # of one; rows of 2049 and 2068 outputs: the AVX-512 kernel's blocks of 2048 and a last
    # block of 1 or 20) take the AVX-512 pair kernel or the pair sweeps; with indices, the
    # tiles' or rows' cell-by-cell scan. The scan keeps the last NaN, else the first maximum (+0 before -0 when +0 comes
    # first): the sweeps must give the same bits, NaN payloads and zero signs included.
    rng = np.random.default_rng(n_planes * 1000 + spatial[0] * 31 + spatial[1])
    for dtype in FLOATS:
        x = _payload_data(rng, (1, n_planes, *spatial), dtype)
        scan, _ = cypool.max_pool2d(x, 2, 2, return_indices=True)
        for n_threads in (1, 2):
            with cypool.threads(n_threads):
                y = cypool.max_pool2d(x, 2, 2)
            assert y.tobytes() == scan.tobytes(), (dtype, n_threads)
        y_ref, _ = R.max_pool(x, (2, 2), (2, 2), (0, 0), (0, 0), (1, 1), False)
        np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("c", [1, 5, 32, 45, 64])
@pytest.mark.parametrize("length,k,s,p,d,ceil_mode", [
    (40, 3, 2, 1, 1, False),       # k3 s2 p1: a border output at each end
    (41, 2, 2, 0, 1, True),        # ceil_mode overhang: a last window of one cell
    (37, 3, 1, 1, 1, True),
    (60, 5, 3, 2, 2, True),        # dilation: border windows of fewer cells
    (9, 4, 3, 2, 1, True),         # windows bigger than half the input
    (90, 70, 1, 0, 1, False),      # over CYPOOL_CL_1D_CELLS cells: the row kernel instead
])
def test_channels_last_1d_rows_against_reference(c, length, k, s, p, d, ceil_mode):
    # 1-d channels-last float rows take cypool_max_fwd_cl_1d (runs of output columns)
    rng = np.random.default_rng(c * 1000 + length)
    for dtype in FLOATS:
        for kind in ("normal", "ties", "mixed", "allneginf"):
            x = _special_data(rng, (2, c, length), dtype, kind)
            y, i = _check_reference(x, 1, k, s, p, d, ceil_mode, "channels_last")
            with cypool.threads(2):
                y2, i2 = _pool(x, 1, k, s, p, d, ceil_mode, "channels_last")
            np.testing.assert_array_equal(y2, y)
            np.testing.assert_array_equal(i2, i)


@pytest.mark.parametrize("c", [3, 32, 64, 100])
@pytest.mark.parametrize("length,k,s,p,d,ceil_mode", [
    (4100, 3, 2, 1, 1, False),     # the bench's 1-d row: several runs of columns per sample
    (3001, 2, 2, 0, 1, True),
    (2500, 3, 1, 1, 1, True),
    (2600, 7, 3, 3, 2, True),
])
def test_channels_last_1d_column_runs_match_channels_first_bit_for_bit(c, length, k, s, p, d,
                                                                      ceil_mode):
    # Long channels-last rows are split into runs of output columns among the threads; the bits
    # (NaN payloads, signed zeros) and indices equal the channels-first rows' scan, itself pinned
    # to the reference above.
    rng = np.random.default_rng(c + length)
    for dtype in FLOATS:
        x = _payload_data(rng, (3, c, length), dtype)
        ycf, icf = cypool.max_pool1d(x, k, s, p, d, ceil_mode, return_indices=True)
        xl = np.ascontiguousarray(to_channels_last(x))
        for n_threads in (1, 2):
            with cypool.threads(n_threads):
                y, i = cypool.max_pool1d(xl, k, s, p, d, ceil_mode, return_indices=True,
                                         data_format="channels_last")
                y2 = cypool.max_pool1d(xl, k, s, p, d, ceil_mode, data_format="channels_last")
            want = np.ascontiguousarray(to_channels_last(ycf))
            assert y.tobytes() == want.tobytes(), (dtype, n_threads)
            assert y2.tobytes() == want.tobytes(), (dtype, n_threads)
            np.testing.assert_array_equal(i, to_channels_last(icf))


@pytest.mark.parametrize("n_planes", [32, 40, 45, 95])
@pytest.mark.parametrize("spatial", [(7, 7), (14, 14), (3, 5), (2, 9)], ids=str)
def test_channels_first_tiles_move_the_bits(n_planes, spatial):
    # The float32 tiles move planes in and out in 8x8 blocks (pyx/_tile.h), the last tile's
    # first owned plane anywhere in a block (45: plane 19 of the tile; 95: plane 1); the result's
    # bits (NaN payloads, signed zeros) and indices equal the channels-last kernel's on the same
    # data, which takes no tiles.
    rng = np.random.default_rng(n_planes * 7 + spatial[0] * 100 + spatial[1])
    for dtype in FLOATS:
        x = _payload_data(rng, (1, n_planes, *spatial), dtype)
        xl = np.ascontiguousarray(to_channels_last(x))
        for k, s, p in ((2, 2, 0), (3, 1, 1), ((1, 3), (1, 2), (0, 1))):
            yl, il = cypool.max_pool2d(xl, k, s, p, return_indices=True,
                                       data_format="channels_last")
            want_y = np.ascontiguousarray(from_channels_last(yl))
            for n_threads in (1, 2):
                with cypool.threads(n_threads):
                    y, i = cypool.max_pool2d(x, k, s, p, return_indices=True)
                assert y.tobytes() == want_y.tobytes(), (dtype, k, n_threads)
                np.testing.assert_array_equal(i, from_channels_last(il))


def _half_data(rng, shape, kind):
    """float16 data whose window maxima show in the bits: "normal"; "rare-nan" (a few NaNs of
    distinct payloads and both signs: most vectors of outputs hold none); "zero-max" (negative
    cells and signed zeros: zero maxima); "infs" (+inf and -inf among normal cells)."""
    x = rng.standard_normal(shape).astype(np.float16)
    r = rng.random(shape)
    if kind == "rare-nan":
        bits = x.view(np.uint16)
        nan = r < 0.002
        payload = rng.integers(1, 1 << 9, size=shape).astype(np.uint16)
        bits[nan] = np.uint16(0x7e00) | payload[nan] | np.where(r[nan] < 0.001, np.uint16(0x8000),
                                                               np.uint16(0))
    elif kind == "zero-max":
        x = -np.abs(x) - np.float16(1)
        x[r < 0.2] = 0.0
        x[(r > 0.2) & (r < 0.4)] = -0.0
    elif kind == "infs":
        x[r < 0.05] = np.inf
        x[(r > 0.05) & (r < 0.15)] = -np.inf
    return x


@pytest.mark.parametrize("rank,spatial,k,s,p,ceil_mode", [
    (2, (7, 81), 2, 2, 0, False),      # 40 outputs, no border: vectors at 0 and 8
    (2, (9, 113), 3, 2, 1, False),     # 57 outputs, both borders: the whole row in two vectors
    (2, (6, 64), 3, 2, 1, True),       # ceil_mode: 33 outputs, the last window past the edge
    (2, (5, 66), 3, 1, 1, False),      # stride 1, 66 outputs: three vectors
    (2, (4, 300), 3, 2, 1, False),     # 150 outputs: interior groups and border vectors
    (2, (4, 200), 3, 1, 0, False),     # 198 outputs, no border
    (3, (3, 5, 100), 3, 2, 1, False),  # 3-d: window rows along d too
    (1, (140,), 3, 2, 1, False),       # 1-d
    (2, (5, 90), (2, 4), 2, (1, 2), False),  # K = 4: the rule's loop only
    (2, (8, 70), 2, 1, 0, False),      # 2x2/s1: the rule's loop only
    (2, (9, 57), 3, 2, 1, False),      # 29 outputs: one vector, its last three lanes not stored
    (2, (5, 20), 3, 1, 1, False),      # 20 outputs, stride 1
    (2, (6, 29), 3, 2, 1, True),       # 15 outputs, ceil_mode
    (2, (4, 9), 3, 2, 0, False),       # 4 outputs
    (2, (6, 30), 2, 2, 0, False),      # 15 outputs of 2x2/s2
    (3, (3, 5, 30), 3, 2, 1, False),   # 3-d, 15 outputs
])
@pytest.mark.parametrize("kind", ["normal", "rare-nan", "zero-max", "infs"])
def test_float16_channels_first_rows_match_float64_bit_for_bit(rank, spatial, k, s, p,
                                                               ceil_mode, kind):
    # float16 channels-first rows of 32 or more outputs take vectors of 32 on CPUs with
    # AVX512-FP16; without indices 2x2/s2, 3x3/s2 and 3x3/s1 take the maxima down the window's
    # rows first and are redone by the rule's loop where a cell is NaN or a maximum is zero.
    # float64's C sweep is the oracle: float16 -> float64 -> float16 keeps every bit but a
    # NaN's quiet bit, which the float16 kernels set as their trip through float does.
    rng = np.random.default_rng(zlib.crc32(repr((rank, spatial, k, s, kind)).encode()))
    x = _half_data(rng, (2, 3, *spatial), kind)
    fn = getattr(cypool, f"max_pool{rank}d")
    y64, i64 = fn(x.astype(np.float64), k, s, p, 1, ceil_mode, return_indices=True)
    want = y64.astype(np.float16)
    for n_threads in (1, 2):
        with cypool.threads(n_threads):
            y, i = fn(x, k, s, p, 1, ceil_mode, return_indices=True)
            y2 = fn(x, k, s, p, 1, ceil_mode)
        assert y.tobytes() == want.tobytes(), n_threads
        assert y2.tobytes() == want.tobytes(), n_threads
        np.testing.assert_array_equal(i, i64)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("planes,spatial,k,s,p,d", [
    (64, (28, 28), 3, 2, 1, 1),        # rows of 14: walked in vectors, not tiled
    (64, (20, 20), 2, 2, 0, 1),        # rows of 10: walked with indices, tiled without
    (64, (14, 14), 3, 1, 1, 1),        # narrow planes: tiles
    (40, (9, 30), 3, 2, 1, 1),         # 40 planes: the walk steps across them
    (6, (2, 40), (2, 3), (1, 2), 1, (3, 1)),  # no window rows (rows -1 and 2 of 2): -inf
])
def test_channels_first_row_walk_matches_float64_bit_for_bit(dtype, planes, spatial, k, s, p,
                                                             d):
    # Where every row of a call goes all in vectors, the rows are walked inside the vector
    # function (cypool_max_cf_walks); narrow planes with many channels still go through tiles.
    rng = np.random.default_rng(zlib.crc32(repr((planes, spatial, k, s)).encode()))
    x = _payload_data(rng, (2, planes // 2, *spatial), np.float32).astype(dtype)
    y64, i64 = cypool.max_pool2d(x.astype(np.float64), k, s, p, d, return_indices=True)
    for n_threads in (1, 2):
        with cypool.threads(n_threads):
            y, i = cypool.max_pool2d(x, k, s, p, d, return_indices=True)
            y2 = cypool.max_pool2d(x, k, s, p, d)
        assert y.tobytes() == y64.astype(dtype).tobytes(), n_threads
        assert y2.tobytes() == y.tobytes(), n_threads
        np.testing.assert_array_equal(i, i64)


@pytest.mark.parametrize("planes,spatial,k,s,p", [
    (6, (9, 113), 3, 2, 1),            # 57 outputs: interior vectors and both border vectors
    (6, (8, 64), 2, 2, 0),             # 2x2/s2, no border
    (6, (6, 40), 3, 1, 1),             # stride 1
    (6, (5, 21), 3, 2, 1),             # 11 outputs: one vector, lanes past the row unstored
    (64, (28, 28), 3, 2, 1),           # planes the tiles took before
    (64, (28, 28), 2, 2, 0),           # 2x2/s2 without indices: the pair kernel, rows of 14
    (6, (4, 40), 2, 2, 0),             # 20 outputs: a vector and a masked one
])
def test_bfloat16_channels_first_walk_matches_float32_bit_for_bit(planes, spatial, k, s, p):
    # bfloat16 channels-first rows walked in float32's vectors (loaded and stored by shifts; the
    # 2x2/s2 pair kernel without indices likewise):
    # the result is float32's on the widened cells, narrowed, a NaN made quiet (as the
    # conversion makes it). Signalling NaNs of both signs and payloads, zeros of both signs,
    # infinities and ties.
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="bfloat16 needs ml_dtypes")
    rng = np.random.default_rng(zlib.crc32(repr((planes, spatial, k, s)).encode()))
    shape = (2, planes // 2, *spatial)
    bits = (rng.integers(-8, 9, shape).astype(np.float32) / 4).view(np.uint32) >> 16
    bits = bits.astype(np.uint16)
    r = rng.random(shape)
    payload = rng.integers(1, 1 << 6, shape).astype(np.uint16)
    bits[r < 0.01] = (np.uint16(0x7f80) | payload)[r < 0.01]              # signalling NaN
    bits[r > 0.995] = (np.uint16(0xff80) | payload)[r > 0.995]            # negative too
    bits[(r > 0.3) & (r < 0.35)] = 0x8000                                  # -0
    bits[(r > 0.4) & (r < 0.42)] = 0x7f80                                  # +inf
    x = bits.view(ml_dtypes.bfloat16)
    wide = (bits.astype(np.uint32) << 16).view(np.float32)
    y32, i32 = cypool.max_pool2d(wide, k, s, p, return_indices=True)
    want = (y32.view(np.uint32) >> 16).astype(np.uint16)
    want[np.isnan(y32)] |= np.uint16(0x40)
    for n_threads in (1, 2):
        with cypool.threads(n_threads):
            y, i = cypool.max_pool2d(x, k, s, p, return_indices=True)
            y2 = cypool.max_pool2d(x, k, s, p)
        np.testing.assert_array_equal(y.view(np.uint16), want)
        np.testing.assert_array_equal(y2.view(np.uint16), want)
        np.testing.assert_array_equal(i, i32)


@pytest.mark.parametrize("rank,spatial,k,s,p,ceil_mode", [
    (2, (9, 41), 2, 2, 0, False),      # 20 interior outputs: a vector and one ending at n
    (2, (11, 77), 3, 2, 1, False),     # the ResNet stem's window: border cells at both ends
    (2, (12, 64), 3, 2, 1, True),      # ceil_mode: a last window overhanging the right edge
    (2, (7, 35), 3, 1, 1, False),      # stride 1
    (2, (6, 40), 2, 1, 0, False),
    (2, (9, 70), (2, 4), 2, (1, 2), False),  # K = 4: the generic cell loop
    (2, (5, 150), (3, 5), 2, (0, 2), True),  # K = 5, several groups of four vectors
    (3, (4, 5, 48), 3, 2, 1, False),   # 3-d: window rows along d too
    (1, (130,), 3, 2, 1, False),       # 1-d
    (2, (3, 16), 1, 1, 0, False),      # K = 1: stride 1 only
    (2, (9, 21), 3, 2, 1, False),      # rows shorter than a vector: one, lanes past it unstored
    (2, (5, 14), 3, 1, 1, False),
    (2, (7, 12), 3, 2, 1, True),
    (3, (4, 5, 20), 3, 2, 1, False),
    (1, (25,), 3, 2, 1, False),
])
@pytest.mark.parametrize("kind", ["payload", "ties", "allneginf"])
def test_channels_first_vector_rows_match_the_scan_bit_for_bit(rank, spatial, k, s, p,
                                                              ceil_mode, kind):
    # float32 channels-first rows of 16 or more interior outputs (or fewer than 16 outputs) take
    # vectors of 16 outputs with the maxima in registers on AVX-512 CPUs
    # (cypool_max_cf_vec_f32). float64's rows keep
    # the C sweep, and float32 -> float64 -> float32 moves every bit (quiet NaN payloads and
    # zero signs included): float64's result is the oracle of the window rule (the first
    # maximum, the last NaN), its indices too.
    rng = np.random.default_rng(zlib.crc32(repr((rank, spatial, k, s, kind)).encode()))
    shape = (2, 3, *spatial)
    if kind == "payload":
        x = _payload_data(rng, shape, np.float32)
    else:
        x = _special_data(rng, shape, np.float32, kind)
    fn = getattr(cypool, f"max_pool{rank}d")
    y64, i64 = fn(x.astype(np.float64), k, s, p, 1, ceil_mode, return_indices=True)
    for n_threads in (1, 2):
        with cypool.threads(n_threads):
            y, i = fn(x, k, s, p, 1, ceil_mode, return_indices=True)
            y2 = fn(x, k, s, p, 1, ceil_mode)
        assert y.tobytes() == y64.astype(np.float32).tobytes(), n_threads
        assert y2.tobytes() == y.tobytes(), n_threads
        np.testing.assert_array_equal(i, i64)
    kk, ss, pp = (_tuple(v, rank) for v in (k, s, p))
    y_ref, i_ref = R.max_pool(x, kk, ss, pp, pp, (1,) * rank, ceil_mode)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(i, i_ref)

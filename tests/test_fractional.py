"""cypool.fractional: fractional max pooling on NumPy arrays. Properties without torch; equality
with torch's CPU kernel (same samples) when torch is installed."""
import numpy as np
import pytest

import cypool
from cypool import fractional as fr


@pytest.mark.parametrize("rank", [2, 3])
def test_indices_point_at_the_window_maxima(rank):
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((2, 3) + (9,) * rank)
    y, idx = getattr(fr, f"fractional_max_pool{rank}d")(x, 2, 4, return_indices=True, seed=0)
    assert y.shape == idx.shape == (2, 3) + (4,) * rank
    np.testing.assert_array_equal(
        np.take_along_axis(x.reshape(2, 3, -1), idx.reshape(2, 3, -1), 2).reshape(y.shape), y)
    # the same seed gives the same windows
    np.testing.assert_array_equal(getattr(fr, f"fractional_max_pool{rank}d")(x, 2, 4, seed=0), y)


def test_intervals_cover_the_input_ends():
    starts = fr._intervals(np.array([0.0, 0.5, 0.999]), 10, 4, 3)
    assert starts.shape == (3, 4)
    assert (starts[:, 0] == 0).all() and (starts[:, -1] == 10 - 3).all()
    assert (np.diff(starts, axis=1) >= 0).all()


def test_nan_wins_and_backward_scatters():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 0, 0] = 5
    y, idx = fr.fractional_max_pool2d(x, 2, 1, random_samples=np.zeros((1, 1, 2)),
                                      return_indices=True)
    # a single window starts at L - k = 2 on both axes: all zeros, the first cell wins
    assert idx.shape == (1, 1, 1, 1) and idx.item() == 2 * 4 + 2 and y.item() == 0
    g = fr.fractional_max_pool2d_backward(np.ones_like(y), idx, x.shape)
    assert g.sum() == 1 and g.reshape(-1)[idx.item()] == 1
    # two windows per axis start at 0 and 2: the first holds 5 and a NaN, the NaN wins
    y, idx = fr.fractional_max_pool2d(x, 2, 2, random_samples=np.zeros((1, 1, 2)),
                                      return_indices=True)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 5


@pytest.mark.parametrize("bad, error", [
    (dict(kernel_size=2), ValueError),                       # neither output_size nor ratio
    (dict(kernel_size=2, output_size=9), ValueError),        # too large for the input
    (dict(kernel_size=(2,), output_size=3), TypeError),
    (dict(kernel_size=2, output_ratio=1.5), ValueError),
    (dict(kernel_size=2, output_size=3, random_samples=np.zeros((2, 2, 2))), ValueError),
])
def test_bad_arguments(bad, error):
    with pytest.raises(error):
        fr.fractional_max_pool2d(np.zeros((1, 2, 8, 8)), **bad)
    with pytest.raises(TypeError):
        fr.fractional_max_pool2d(np.zeros((1, 2, 8, 8), np.int32), 2, 3)


@pytest.mark.parametrize("rank", [2, 3])
def test_equals_torch_for_the_same_samples(rank):
    torch = pytest.importorskip("torch")
    fn = getattr(torch._C._nn, f"fractional_max_pool{rank}d")
    g = torch.Generator().manual_seed(10 + rank)
    for trial in range(100):
        dtype = (torch.float32, torch.float64, torch.float16)[trial % 3]
        sp = tuple(int(v) for v in torch.randint(3, 12, (rank,), generator=g))
        k = tuple(int(v) for v in torch.randint(1, 4, (rank,), generator=g))
        out = tuple(int(torch.randint(0, L - kk + 2 - (rank == 3), (), generator=g))
                    for L, kk in zip(sp, k))
        x = torch.randn((2, 3) + sp, generator=g).to(dtype)
        if trial % 5 == 0:
            x[0, 0].view(-1)[::3] = float("nan")
        s = torch.rand(2, 3, rank, generator=g).to(dtype)
        y, i = fn(x, k, out, s)
        yy, ii = getattr(fr, f"fractional_max_pool{rank}d")(x.numpy(), k, out,
                                                           random_samples=s.numpy(),
                                                           return_indices=True)
        np.testing.assert_array_equal(yy, y.numpy())
        np.testing.assert_array_equal(ii, i.numpy())


# ----------------------------------------------------------------------------- the public API

F2, F3 = cypool.fractional_max_pool2d, cypool.fractional_max_pool3d


def reference(x, kernel, out, u):
    """Plain loops over planes and windows; u: (N, C, rank) in PyTorch's order."""
    rank = len(kernel)
    dt = x.dtype.type
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    order = [1, 0] if rank == 2 else [0, 1, 2]        # PyTorch: 2-d samples are (W, H)
    y = np.empty((n, c) + tuple(out), x.dtype)
    idx = np.empty((n, c) + tuple(out), np.int64)
    for a in range(n):
        for b in range(c):
            starts = []
            for axis, (L, O, k) in enumerate(zip(spatial, out, kernel)):
                s = dt(u[a, b, order[axis]])
                seq = []
                if O > 1:
                    alpha = dt(L - k) / dt(O - 1)
                    seq = [int(dt(dt(i) + s) * alpha) - int(s * alpha) for i in range(O - 1)]
                starts.append(seq + [L - k] if O > 0 else [])
            for pos in np.ndindex(*out):
                lo = [starts[j][pos[j]] for j in range(rank)]
                best, where = -np.inf, np.ravel_multi_index(lo, spatial)
                for cell in np.ndindex(*kernel):
                    q = tuple(lo[j] + cell[j] for j in range(rank))
                    v = x[(a, b) + q]
                    if v > best or np.isnan(v):
                        best, where = v, np.ravel_multi_index(q, spatial)
                y[(a, b) + pos] = best
                idx[(a, b) + pos] = where
    return y, idx


CASES = [((2, 3, 7, 9), 2, (5, 7)), ((1, 2, 10, 6), (3, 2), (4, 5)), ((2, 1, 5, 5), 1, (5, 5)),
         ((1, 2, 6, 8), 3, (1, 1)), ((2, 2, 6, 7, 8), 2, (4, 5, 6)), ((1, 3, 5, 6, 4), (2, 3, 1), (3, 2, 2))]


def pooled(x, kernel, out, u, data_format, **kw):
    """fractional max pooling of x (stored channels-first) in data_format; results channels-first."""
    f = F2 if x.ndim == 4 else F3
    xin = x if data_format == "channels_first" else np.moveaxis(x, 1, -1).copy()
    res = f(xin, kernel, output_size=out, random_samples=u, data_format=data_format, **kw)
    if data_format == "channels_first":
        return res
    back = lambda a: np.moveaxis(a, -1, 1)  # noqa: E731
    return tuple(map(back, res)) if isinstance(res, tuple) else back(res)


@pytest.mark.parametrize("shape, kernel, out", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_equals_the_plain_loop(shape, kernel, out, dtype, data_format, rng):
    rank = len(shape) - 2
    x = rng.standard_normal(shape).astype(dtype)
    x[x > 1.6] = np.nan
    x[:, :, :2] = np.round(x[:, :, :2])                 # ties
    u = rng.random(shape[:2] + (rank,)).astype(dtype)
    kernel_t = (kernel,) * rank if isinstance(kernel, int) else kernel
    want_y, want_i = reference(x, kernel_t, out, u)
    y, i = pooled(x, kernel, out, u, data_format, return_indices=True)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(i, want_i)


# Rows of more outputs and cells of more channels than the kernels' vector lanes hold (8 float32,
# 4 float64 windows side by side), plus a partial block; the 2x2 and 3x3 windows the kernels
# specialise and a general one.
WIDE_CASES = [((1, 19, 6, 37), 2, (4, 20)), ((2, 9, 9, 40), 3, (3, 17)),
              ((1, 17, 5, 33), (2, 4), (3, 13)), ((1, 18, 4, 5, 21), (2, 2, 3), (2, 3, 9))]


@pytest.mark.parametrize("shape, kernel, out", WIDE_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_vector_lanes_equal_the_plain_loop_bit_for_bit(shape, kernel, out, dtype, data_format,
                                                        rng):
    rank = len(shape) - 2
    x = rng.standard_normal(shape).astype(dtype)
    m = rng.random(shape)
    x[m < 0.06] = np.nan
    x[(m >= 0.06) & (m < 0.1)] = np.inf
    x[(m >= 0.1) & (m < 0.16)] = -np.inf
    x[(m >= 0.16) & (m < 0.25)] = 0.0
    x[(m >= 0.25) & (m < 0.34)] = -0.0                 # ties of signed zeros: the first one
    x[0, 0] = -np.inf                                   # windows of -inf only
    u = rng.random(shape[:2] + (rank,)).astype(dtype)
    kernel_t = (kernel,) * rank if isinstance(kernel, int) else kernel
    want_y, want_i = reference(x, kernel_t, out, u)
    y, i = pooled(x, kernel, out, u, data_format, return_indices=True)
    alone = pooled(x, kernel, out, u, data_format)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(i, want_i)
    np.testing.assert_array_equal(y.view(bits), want_y.view(bits))
    np.testing.assert_array_equal(alone.view(bits), want_y.view(bits))


@pytest.mark.parametrize("rank", [2, 3])
def test_equals_torch_given_the_same_samples(rank, rng):
    torch = pytest.importorskip("torch", reason="torch is optional")
    tf = (torch.nn.functional.fractional_max_pool2d if rank == 2
          else torch.nn.functional.fractional_max_pool3d)
    f = F2 if rank == 2 else F3
    compared = 0
    for _ in range(60):
        dtype = rng.choice([np.float32, np.float64])
        sp = tuple(int(v) for v in rng.integers(3, 12, size=rank))
        k = tuple(int(rng.integers(1, min(4, s) + 1)) for s in sp)
        out = tuple(int(rng.integers(0, s - kk + 3)) for s, kk in zip(sp, k))
        x = rng.standard_normal((2, 3) + sp).astype(dtype)
        x[x > 1.5] = np.nan
        u = rng.random((2, 3, rank)).astype(dtype)
        try:
            ty, ti = tf(torch.from_numpy(x), k, output_size=out,
                        _random_samples=torch.from_numpy(u), return_indices=True)
        except RuntimeError:
            with pytest.raises(ValueError, match="kernel_size"):
                f(x, k, output_size=out, random_samples=u)
            continue
        y, i = f(x, k, output_size=out, random_samples=u, return_indices=True)
        np.testing.assert_array_equal(y, ty.numpy())
        np.testing.assert_array_equal(i, ti.numpy())
        compared += 1
    assert compared > 10


def test_output_ratio_and_unbatched(rng):
    x = rng.standard_normal((3, 11, 9)).astype(np.float32)
    u = rng.random((3, 2)).astype(np.float32)
    y = F2(x, 2, output_ratio=0.5, random_samples=u)
    assert y.shape == (3, 5, 4)
    np.testing.assert_array_equal(y, F2(x[None], 2, output_size=(5, 4), random_samples=u[None])[0])
    np.testing.assert_array_equal(y, F2(x, 2, output_ratio=(0.5, 0.5), random_samples=u[None]))


def test_seed_draws_reproducible_samples(rng):
    x = rng.standard_normal((2, 4, 12, 12))
    a = F2(x, 2, output_size=6, seed=3)
    np.testing.assert_array_equal(a, F2(x, 2, output_size=6, seed=3))
    assert a.shape == (2, 4, 6, 6)


def test_float16_is_computed_in_float32(rng):
    x = rng.standard_normal((1, 2, 8, 8)).astype(np.float16)
    u = rng.random((1, 2, 2)).astype(np.float32)
    y = F2(x, 2, output_size=5, random_samples=u)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, F2(x.astype(np.float32), 2, output_size=5,
                                        random_samples=u).astype(np.float16))


@pytest.mark.parametrize("rank", [2, 3])
def test_backward_routes_by_index(rank, rng):
    shape = (2, 3) + (7,) * rank
    x = rng.standard_normal(shape)
    f, fb = (F2, cypool.fractional_max_pool2d_backward) if rank == 2 else (
        F3, cypool.fractional_max_pool3d_backward)
    y, i = f(x, 2, output_size=4, return_indices=True, seed=0)
    g = rng.standard_normal(y.shape)
    gx = fb(g, i, x.shape)
    want = np.zeros(x.size)
    planes = x.shape[0] * x.shape[1]
    plane = x.size // planes
    for p, (gp, ip) in enumerate(zip(g.reshape(planes, -1), i.reshape(planes, -1))):
        np.add.at(want, p * plane + ip, gp)
    np.testing.assert_allclose(gx.reshape(-1), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kwargs, error, words", [
    ({}, ValueError, "output_size or output_ratio"),
    ({"output_size": 3, "output_ratio": 0.5}, ValueError, "not both"),
    ({"output_ratio": 1.5}, ValueError, "between 0 and 1"),
    ({"output_ratio": 0.0}, ValueError, "between 0 and 1"),
    ({"output_ratio": "half"}, TypeError, "output_ratio"),
    ({"output_size": 7}, ValueError, "too large"),
    ({"output_size": -1}, ValueError, "output_size"),
    ({"output_size": 2.5}, TypeError, "output_size"),
    ({"output_size": 3, "random_samples": np.zeros((2, 3, 2), np.float32)}, ValueError, "shape"),
    ({"output_size": 3, "random_samples": np.zeros((1, 2, 2), np.int64)}, TypeError, "floating"),
    ({"output_size": 3, "random_samples": [[[0.5, 0.5]] * 2]}, TypeError, "ndarray"),
    ({"output_size": 3, "random_samples": np.full((1, 2, 2), np.nan)}, ValueError, "finite"),
    ({"output_size": 3, "random_samples": np.full((1, 2, 2), np.inf)}, ValueError, "finite"),
    ({"output_size": 3, "random_samples": np.full((1, 2, 2), 0.5), "seed": 1}, ValueError, "not both"),
    ({"output_size": 3, "seed": -1}, ValueError, "seed"),
    ({"output_size": 3, "seed": "one"}, TypeError, "seed"),
    ({"kernel_size": (2,), "output_size": 3}, TypeError, "kernel_size"),
])
def test_bad_arguments_are_refused(kwargs, error, words):
    x = np.zeros((1, 2, 6, 6), np.float32)
    kwargs = {"kernel_size": 2, **kwargs}
    with pytest.raises(error, match=words):
        F2(x, **kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError):
        F2(np.zeros((1, 1, 6, 6), np.int32), 2, output_size=3)
    with pytest.raises(ValueError, match="kernel_size"):
        F2(np.zeros((1, 1, 6, 6)), 0, output_size=3)
    with pytest.raises(ValueError, match="kernel_size"):   # PyTorch's strict 3-d limit
        F3(np.zeros((1, 1, 6, 6, 6)), 2, output_size=5)
    with pytest.raises(ValueError):
        F2(np.zeros((1, 1, 0, 6)), 2, output_size=1)

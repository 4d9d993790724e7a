"""cypool.fractional: fractional max pooling on NumPy arrays. Properties without torch; equality
with torch's CPU kernel (same samples) when torch is installed."""
import numpy as np
import pytest

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
    starts = fr.fractional_intervals(np.array([0.0, 0.5, 0.999]), 10, 4, 3)
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

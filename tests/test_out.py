"""out= of max, average and adaptive pooling and max unpooling, forward and backward: the result
is written into the caller's array, which is returned; a C-contiguous array in the data format's
layout is written by the kernel directly, any other valid one gets a copy; wrong arrays are
refused before any work."""
import re

import numpy as np
import pytest

import cypool

CL = "channels_last"


def _pools():
    for rank in (1, 2, 3):
        yield getattr(cypool, f"max_pool{rank}d"), rank, dict(kernel_size=2)
        yield getattr(cypool, f"max_pool{rank}d"), rank, dict(kernel_size=3, stride=2, padding=1,
                                                              ceil_mode=True)
        yield getattr(cypool, f"avg_pool{rank}d"), rank, dict(kernel_size=2)
        yield getattr(cypool, f"avg_pool{rank}d"), rank, dict(kernel_size=3, stride=1, padding=1,
                                                              count_include_pad=False)


POOLS = list(_pools())


@pytest.mark.parametrize("pool, rank, kw", POOLS,
                         ids=[f"{p.__name__}-{i}" for i, (p, _, _) in enumerate(POOLS)])
@pytest.mark.parametrize("data_format", ["channels_first", CL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int16])
@pytest.mark.parametrize("batched", [True, False])
def test_out_equals_the_returned_result(pool, rank, kw, data_format, dtype, batched, rng):
    if dtype == np.int16 and pool.__name__.startswith("avg"):
        pytest.skip("integer averages are refused")
    spatial = (9, 8, 7)[:rank]
    shape = ((2,) if batched else ()) + ((*spatial, 5) if data_format == CL else (5, *spatial))
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    ref = pool(x, **kw, data_format=data_format)
    for make in (lambda: np.full(ref.shape, 7, ref.dtype),                    # direct
                 lambda: np.full(ref.shape[::-1], 7, ref.dtype).T,            # Fortran: a copy
                 lambda: np.full(ref.shape + (2,), 7, ref.dtype)[..., 0]):    # strided: a copy
        out = make()
        got = pool(x, **kw, data_format=data_format, out=out)
        assert got is out
        np.testing.assert_array_equal(out, ref)
    # and for a repeated call (which a call plan serves when there is no out=)
    out = np.empty_like(ref)
    for _ in range(2):
        np.testing.assert_array_equal(pool(x, **kw, data_format=data_format, out=out), ref)
        np.testing.assert_array_equal(pool(x, **kw, data_format=data_format), ref)


def test_max_out_with_indices_returns_out_and_fresh_indices(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    out = np.empty_like(y)
    got, gidx = cypool.max_pool2d(x, 2, return_indices=True, out=out)
    assert got is out
    np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(gidx, idx)


def test_out_kernel_writes_directly_into_the_callers_memory(rng):
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    buf = np.zeros(2 * 3 * 3 * 3 + 4, np.float32)
    out = buf[2:-2].reshape(2, 3, 3, 3)
    cypool.max_pool2d(x, 2, data_format=CL, out=out)
    np.testing.assert_array_equal(buf[2:-2].reshape(2, 3, 3, 3),
                                  cypool.max_pool2d(x, 2, data_format=CL))
    assert not buf[:2].any() and not buf[-2:].any()   # nothing written outside out


def test_out_refused(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    y = cypool.max_pool2d(x, 2)
    with pytest.raises(TypeError, match="out must be a numpy.ndarray, got list"):
        cypool.max_pool2d(x, 2, out=y.tolist())
    with pytest.raises(ValueError, match=r"out has shape \(2, 3, 4, 5\)"):
        cypool.max_pool2d(x, 2, out=np.empty((2, 3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="dtype float64"):
        cypool.avg_pool2d(x, 2, out=np.empty(y.shape, np.float64))
    with pytest.raises(ValueError, match="dtype"):
        cypool.max_pool2d(x, 2, out=np.empty(y.shape, np.dtype(">f4")))
    ro = np.empty_like(y)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        cypool.max_pool2d(x, 2, out=ro)
    with pytest.raises(ValueError, match="share memory"):
        cypool.max_pool2d(x, 2, out=x[:, :, :4, :4])
    with pytest.raises(ValueError, match="share memory"):
        cypool.avg_pool2d(x, 1, out=x)
    # a refused out= leaves the array untouched and the arguments are still checked first
    out = np.full(y.shape, 7, np.float32)
    with pytest.raises(ValueError, match="kernel_size"):
        cypool.max_pool2d(x, 0, out=out)
    assert (out == 7).all()


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")   # np.matrix
def test_out_may_be_a_memmap_or_another_subclass(rng, tmp_path):
    # pooling a raster straight into a file; a subclass is written through a plain view
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    ref = cypool.avg_pool2d(x, 2)
    mm = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float32,
                                   shape=ref.shape)
    assert cypool.avg_pool2d(x, 2, out=mm) is mm
    mm.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), ref)
    x1 = rng.standard_normal((3, 20)).astype(np.float32)   # unbatched 1-d: a 2-d result
    m = np.asmatrix(np.zeros((3, 10), np.float32))
    assert cypool.max_pool1d(x1, 2, out=m) is m
    np.testing.assert_array_equal(np.asarray(m), cypool.max_pool1d(x1, 2))
    ma = np.ma.zeros(ref.shape, np.float32)
    cypool.max_pool2d(x, 2, out=ma)
    np.testing.assert_array_equal(ma.data, cypool.max_pool2d(x, 2))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", CL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_backward_out_equals_the_returned_gradient(rank, data_format, dtype, rng):
    spatial = (9, 8, 7)[:rank]
    shape = (2, *spatial, 5) if data_format == CL else (2, 5, *spatial)
    x = rng.standard_normal(shape).astype(dtype)
    mp = getattr(cypool, f"max_pool{rank}d")
    mb = getattr(cypool, f"max_pool{rank}d_backward")
    ab = getattr(cypool, f"avg_pool{rank}d_backward")
    kw = dict(data_format=data_format)
    y, idx = mp(x, 3, 2, 1, return_indices=True, **kw)
    g = rng.standard_normal(y.shape).astype(dtype)
    calls = [lambda o: mb(g, idx, x.shape, **kw, out=o),
             lambda o: ab(g, x.shape, 3, 2, 1, **kw, out=o)]
    for call in calls:
        ref = call(None)
        for make in (lambda: np.full(ref.shape, 7, ref.dtype),
                     lambda: np.full(ref.shape[::-1], 7, ref.dtype).T,
                     lambda: np.full(ref.shape + (2,), 7, ref.dtype)[..., 0]):
            out = make()
            assert call(out) is out
            np.testing.assert_array_equal(out, ref)


def test_backward_out_refused(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    g = np.ones_like(y)
    with pytest.raises(ValueError, match="share memory with the input grad_output"):
        cypool.avg_pool2d_backward(g, (2, 3, 4, 4), 1, out=g)
    # indices whose memory overlaps out's last 8 bytes
    buf = np.zeros(x.size + 2 * idx.size - 2, np.float32)
    shared = buf[buf.size - 2 * idx.size:].view(np.int64).reshape(idx.shape)
    shared[...] = idx
    with pytest.raises(ValueError, match="share memory with the input indices"):
        cypool.max_pool2d_backward(g, shared, x.shape, out=buf[:x.size].reshape(x.shape))
    with pytest.raises(ValueError, match="out has shape"):
        cypool.max_pool2d_backward(g, idx, x.shape, out=np.empty(y.shape, np.float32))
    with pytest.raises(ValueError, match="dtype"):
        cypool.avg_pool2d_backward(g, x.shape, 2, out=np.empty(x.shape, np.float64))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        cypool.max_pool2d_backward(g, idx, x.shape, out=x.tolist())
    # out-of-plane indices still raise, out= or not
    bad = idx.copy()
    bad[0, 0, 0, 0] = 64
    with pytest.raises(ValueError, match="outside"):
        cypool.max_pool2d_backward(g, bad, x.shape, out=np.empty_like(x))


def _more_ops():
    # the adaptive poolings and max unpooling take out= as max and average pooling do
    for rank in (1, 2, 3):
        yield (f"adaptive_avg_pool{rank}d",
               lambda x, df, out=None, r=rank: getattr(cypool, f"adaptive_avg_pool{r}d")(
                   x, 3, data_format=df, out=out))
        yield (f"adaptive_max_pool{rank}d",
               lambda x, df, out=None, r=rank: getattr(cypool, f"adaptive_max_pool{r}d")(
                   x, (2, None, 3)[:r], data_format=df, out=out))
        yield (f"max_unpool{rank}d", lambda x, df, out=None, r=rank: _unpool(x, r, df, out))
        # and so do their backwards
        yield (f"adaptive_avg_pool{rank}d_backward",
               lambda x, df, out=None, r=rank: getattr(cypool, f"adaptive_avg_pool{r}d_backward")(
                   _grad(getattr(cypool, f"adaptive_avg_pool{r}d")(x, 3, data_format=df)),
                   x.shape, data_format=df, out=out))
        yield (f"adaptive_max_pool{rank}d_backward",
               lambda x, df, out=None, r=rank: _adaptive_max_backward(x, r, df, out))
        yield (f"max_unpool{rank}d_backward",
               lambda x, df, out=None, r=rank: _unpool_backward(x, r, df, out))


def _grad(y):
    """A gradient of y's shape and dtype whose values tell the cells apart."""
    return (np.arange(y.size) % 23 - 11).astype(y.dtype).reshape(y.shape)


def _adaptive_max_backward(x, rank, df, out):
    y, idx = getattr(cypool, f"adaptive_max_pool{rank}d")(x, (2, None, 3)[:rank],
                                                          return_indices=True, data_format=df)
    return getattr(cypool, f"adaptive_max_pool{rank}d_backward")(_grad(y), idx, x.shape,
                                                                 data_format=df, out=out)


def _unpool_backward(x, rank, df, out):
    y, idx = getattr(cypool, f"max_pool{rank}d")(x, 2, return_indices=True, data_format=df)
    return getattr(cypool, f"max_unpool{rank}d_backward")(_grad(x), idx, data_format=df, out=out)


def _unpool(x, rank, df, out):
    y, idx = getattr(cypool, f"max_pool{rank}d")(x, 2, return_indices=True, data_format=df)
    size = x.shape[1:-1] if df == CL else x.shape[2:]   # odd sizes: the input's, not the default
    return getattr(cypool, f"max_unpool{rank}d")(y, idx, 2, output_size=size, data_format=df,
                                                 out=out)


MORE_OPS = list(_more_ops())


@pytest.mark.parametrize("name, op", MORE_OPS, ids=[n for n, _ in MORE_OPS])
@pytest.mark.parametrize("data_format", ["channels_first", CL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_adaptive_and_unpool_write_into_out(name, op, data_format, dtype, rng):
    rank = int(re.search(r"(\d)d", name).group(1))
    spatial = (9, 8, 7)[:rank]
    shape = (2, *spatial, 5) if data_format == CL else (2, 5, *spatial)
    x = rng.standard_normal(shape).astype(dtype)
    ref = op(x, data_format)
    for make in (lambda: np.full(ref.shape, 7, ref.dtype),                    # direct
                 lambda: np.full(ref.shape[::-1], 7, ref.dtype).T,            # Fortran: a copy
                 lambda: np.full(ref.shape + (2,), 7, ref.dtype)[..., 0]):    # strided: a copy
        out = make()
        got = op(x, data_format, out=out)
        assert got is out
        np.testing.assert_array_equal(out, ref)
    with pytest.raises(ValueError, match="out"):
        op(x, data_format, out=np.empty(ref.shape[:-1] + (ref.shape[-1] + 1,), ref.dtype))
    with pytest.raises(ValueError, match="out"):
        op(x, data_format, out=np.empty(ref.shape, np.int32 if dtype != np.int32 else np.int64))

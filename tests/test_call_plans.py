"""Call plans of max_pool (cypool.pooling._max_plans): a repeated call with the same array layout
and plain arguments skips validation, geometry and layout work. These tests pin that a plan never
changes a result, an error, or the thread count a kernel receives."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cypool
from cypool import _threads, pooling

needs_openmp = pytest.mark.skipif(not cypool.openmp_enabled(), reason="serial build")
CL = "channels_last"


@pytest.fixture(autouse=True)
def fresh_plans():
    pooling._clear_plans()
    yield
    pooling._clear_plans()


def _torch_max(x, rank, data_format, **kw):
    t = torch.from_numpy(np.ascontiguousarray(x))
    if data_format == CL:
        t = torch.movedim(t, -1, 1 if x.ndim == rank + 2 else 0)
    fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[rank]
    out = fn(t, **kw)
    if data_format == CL:
        move = lambda a: torch.movedim(a, 1 if x.ndim == rank + 2 else 0, -1).numpy()
        return (move(out[0]), move(out[1])) if isinstance(out, tuple) else move(out)
    return (out[0].numpy(), out[1].numpy()) if isinstance(out, tuple) else out.numpy()


def _assert_same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
        return
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", CL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32,
                                   np.int64])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("return_indices", [False, True])
def test_cached_call_equals_first_call_and_torch(rank, data_format, dtype, batched,
                                                 return_indices, rng):
    spatial = (7, 6, 5)[:rank]
    shape = ((2,) if batched else ()) + ((*spatial, 3) if data_format == CL else (3, *spatial))
    x = (rng.standard_normal(shape) * 50).astype(dtype)
    kw = dict(kernel_size=2, stride=(1,) * rank, padding=1, ceil_mode=True)
    fn = getattr(cypool, f"max_pool{rank}d")
    first = fn(x, **kw, return_indices=return_indices, data_format=data_format)
    assert len(pooling._max_plans) == 1
    for _ in range(3):
        again = fn(x, **kw, return_indices=return_indices, data_format=data_format)
        _assert_same(again, first)
        assert not np.shares_memory(again[0] if return_indices else again, x)
    assert len(pooling._max_plans) == 1
    if dtype in (np.float32, np.float64):
        _assert_same(first, _torch_max(x, rank, data_format, **kw, return_indices=return_indices))


def test_cached_results_are_fresh_owned_contiguous_arrays(rng):
    x = rng.standard_normal((1, 16, 8, 8)).astype(np.float32)
    a = cypool.max_pool2d(x, 2)
    b = cypool.max_pool2d(x, 2)
    assert a is not b and not np.shares_memory(a, b)
    assert b.flags.c_contiguous and b.flags.writeable
    b[...] = 0
    _assert_same(cypool.max_pool2d(x, 2), a)


@pytest.mark.parametrize("bad, exc", [(2.0, TypeError), (True, TypeError), ("2", TypeError),
                                      ((2, 2.0), TypeError), ((True, 2), TypeError),
                                      (0, ValueError), (-1, ValueError)])
def test_argument_types_never_alias_a_cached_plan(bad, exc, rng):
    x = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    good = cypool.max_pool2d(x, 2)
    cypool.max_pool2d(x, (2, 2))
    cypool.max_pool2d(x, 1)
    for _ in range(2):  # errors are never cached either
        with pytest.raises(exc, match="kernel_size"):
            cypool.max_pool2d(x, bad)
    # equal-hashing arguments of other types take the ordinary path and behave as they always did
    _assert_same(cypool.max_pool2d(x, np.int64(2)), good)
    _assert_same(cypool.max_pool2d(x, [2, 2]), good)
    _assert_same(cypool.max_pool2d(x, 2, return_indices=0), good)
    with pytest.raises(TypeError, match="return_indices"):
        cypool.max_pool2d(x, 2, return_indices=2)
    with pytest.raises(TypeError, match="ceil_mode"):
        cypool.max_pool2d(x, 2, ceil_mode=2)
    with pytest.raises(TypeError, match="data_format"):
        cypool.max_pool2d(x, 2, data_format=None)


def test_different_layouts_get_different_plans(rng):
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    calls = [
        (x, dict(kernel_size=2)),
        (x, dict(kernel_size=2, stride=1)),
        (x, dict(kernel_size=3, padding=1)),
        (x, dict(kernel_size=2, dilation=2)),
        (x, dict(kernel_size=3, ceil_mode=True)),
        (x, dict(kernel_size=2, return_indices=True)),
        (x.astype(np.float64), dict(kernel_size=2)),
        (x.astype(np.int16), dict(kernel_size=2)),
        (x[:1], dict(kernel_size=2)),
        (x[0], dict(kernel_size=2)),
        (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), dict(kernel_size=2, data_format=CL)),
        (x, dict(kernel_size=2, data_format=CL)),   # (N=2, H=4, W=8, C=8) channels-last
    ]
    for _ in range(2):
        results = [cypool.max_pool2d(a, **kw) for a, kw in calls]
    assert len(pooling._max_plans) == len(calls)
    for (a, kw), r in zip(calls, results):
        pooling._clear_plans()
        _assert_same(cypool.max_pool2d(a, **kw), r)


@pytest.mark.parametrize("make", [
    lambda x: x[:, :, ::2],                              # strided slice
    lambda x: x[:, :, :, ::-1],                          # negative strides
    lambda x: np.asfortranarray(x),                      # Fortran order
    lambda x: x.astype(x.dtype.newbyteorder(">")),       # byte-swapped
    lambda x: x.astype(np.float16),                      # widened dtype
    lambda x: x > 0,                                     # bool
    lambda x: x.view(np.matrix) if x.ndim == 2 else np.ma.asarray(x),   # subclass
])
def test_arrays_a_plan_does_not_cover_still_work(make, rng):
    x = make(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    ref = cypool.max_pool2d(np.ascontiguousarray(np.asarray(x)), 2)
    for _ in range(2):
        y = cypool.max_pool2d(x, 2)
        np.testing.assert_array_equal(np.asarray(y), ref)
        assert y.dtype == ref.dtype or y.dtype == np.asarray(x).dtype.newbyteorder("=")


def test_plan_cache_is_bounded(rng, monkeypatch):
    monkeypatch.setattr(pooling, "PLAN_CACHE_SIZE", 4)
    x = rng.standard_normal((1, 2, 16, 16)).astype(np.float32)
    for k in range(1, 9):
        cypool.max_pool2d(x, k)
    assert len(pooling._max_plans) == 4
    assert [key[4] for key in pooling._max_plans] == [5, 6, 7, 8]   # least recently used went


@pytest.fixture
def spy_threads(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    real = _threads.threads_for

    def recording(nbytes, n_items):
        n = real(nbytes, n_items)
        seen.append(n)
        return n
    monkeypatch.setattr(pooling, "threads_for", recording)
    monkeypatch.setattr(_threads, "SERIAL_BELOW_BYTES", 0)
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"):
        yield seen
    cypool.set_num_threads(None)


@needs_openmp
@pytest.mark.parametrize("data_format", ["channels_first", CL])
def test_thread_setting_is_honoured_between_cached_calls(spy_threads, data_format, rng):
    x = rng.standard_normal((2, 8, 8, 8)).astype(np.float32)
    ref = cypool.max_pool2d(x, 2, data_format=data_format)
    spy_threads.clear()
    cypool.set_num_threads(1)
    cypool.max_pool2d(x, 2, data_format=data_format)
    cypool.set_num_threads(2)
    cypool.max_pool2d(x, 2, data_format=data_format)
    with cypool.threads(3):
        y = cypool.max_pool2d(x, 2, data_format=data_format)
    with cypool.threads(1):
        cypool.max_pool2d(x, 2, data_format=data_format)
    assert spy_threads == [1, 2, 3, 1]
    assert len(pooling._max_plans) == 1
    _assert_same(y, ref)

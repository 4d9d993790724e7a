"""Call plans (cypool.pooling._max_plans, _max_backward_plans, _avg_plans, _avg_backward_plans):
a repeated call with the same array layout and plain arguments skips validation, geometry and
layout work. These tests pin that a plan never changes a result, an error, or the thread count a
kernel receives."""
import numpy as np
import pytest
try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the tests that compare with torch are marked torch and skipped (conftest.py)
    torch = F = None

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


@pytest.mark.torch
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


# ----------------------------------------------------------------------------- other operators

def _cl_shape(shape, rank):
    return shape[:1] + shape[2:] + shape[1:2] if len(shape) == rank + 2 else shape[1:] + shape[:1]


def _to_torch(a, rank, data_format):
    t = torch.from_numpy(np.ascontiguousarray(a))
    if data_format == CL:
        t = torch.movedim(t, -1, 1 if a.ndim == rank + 2 else 0)
    return t


def _from_torch(t, rank, data_format, batched):
    if data_format == CL:
        t = torch.movedim(t, 1 if batched else 0, -1)
    return t.detach().numpy()


AVG_ARGS = [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
            dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            dict(kernel_size=2, stride=1, divisor_override=3)]


@pytest.mark.torch
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", CL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("args", range(len(AVG_ARGS)))
def test_avg_plans_equal_first_call_and_torch(rank, data_format, dtype, batched, args, rng):
    kw = dict(AVG_ARGS[args])
    if rank == 1 and "divisor_override" in kw:
        kw.pop("divisor_override")  # avg_pool1d has none (as torch)
    spatial = (7, 6, 5)[:rank]
    shape = ((2,) if batched else ()) + ((*spatial, 3) if data_format == CL else (3, *spatial))
    x = rng.standard_normal(shape).astype(dtype)
    fwd = getattr(cypool, f"avg_pool{rank}d")
    bwd = getattr(cypool, f"avg_pool{rank}d_backward")
    first = fwd(x, **kw, data_format=data_format)
    g = rng.standard_normal(first.shape).astype(dtype)
    gfirst = bwd(g, x.shape, **kw, data_format=data_format)
    assert len(pooling._avg_plans) == 1 and len(pooling._avg_backward_plans) == 1
    for _ in range(3):
        _assert_same(fwd(x, **kw, data_format=data_format), first)
        _assert_same(bwd(g, x.shape, **kw, data_format=data_format), gfirst)
    assert len(pooling._avg_plans) == 1 and len(pooling._avg_backward_plans) == 1
    # and the planned calls agree with torch, forward and autograd's backward
    t = _to_torch(x, rank, data_format).requires_grad_(True)
    out = getattr(F, f"avg_pool{rank}d")(t, **kw)
    out.backward(_to_torch(g, rank, data_format))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fwd(x, **kw, data_format=data_format),
                               _from_torch(out, rank, data_format, batched), **tol)
    np.testing.assert_allclose(bwd(g, x.shape, **kw, data_format=data_format),
                               _from_torch(t.grad, rank, data_format, batched), **tol)


@pytest.mark.torch
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", CL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_backward_plans_equal_first_call_and_torch(rank, data_format, dtype, rng):
    spatial = (7, 6, 5)[:rank]
    shape = (2, *spatial, 3) if data_format == CL else (2, 3, *spatial)
    x = rng.standard_normal(shape).astype(dtype)
    kw = dict(kernel_size=3, stride=2, padding=1)
    y, idx = getattr(cypool, f"max_pool{rank}d")(x, **kw, return_indices=True,
                                                 data_format=data_format)
    bwd = getattr(cypool, f"max_pool{rank}d_backward")
    g = rng.standard_normal(y.shape).astype(dtype)
    first = bwd(g, idx, x.shape, data_format=data_format)
    assert len(pooling._max_backward_plans) == 1
    for _ in range(3):
        _assert_same(bwd(g, idx, x.shape, data_format=data_format), first)
    assert len(pooling._max_backward_plans) == 1
    t = _to_torch(x, rank, data_format).requires_grad_(True)
    out = getattr(F, f"max_pool{rank}d")(t, **kw)
    out.backward(_to_torch(g, rank, data_format))
    _assert_same(first, _from_torch(t.grad, rank, data_format, True))


def test_a_planned_max_backward_still_refuses_out_of_plane_indices(rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    cypool.max_pool2d_backward(y, idx, x.shape)
    assert len(pooling._max_backward_plans) == 1
    for bad in (36, -1, 2**40):
        broken = idx.copy()
        broken[0, 1, 2, 0] = bad
        for _ in range(2):
            with pytest.raises(ValueError, match=r"indices has 1 entries outside \[0, 36\)"):
                cypool.max_pool2d_backward(y, broken, x.shape)
    _assert_same(cypool.max_pool2d_backward(y, idx, x.shape),
                 cypool.max_pool2d_backward(y.astype(np.float64), idx, x.shape).astype(np.float32))


def test_backward_errors_are_never_cached(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    for _ in range(2):
        with pytest.raises(ValueError, match="input_shape"):
            cypool.max_pool2d_backward(y, idx, (2, 4, 6, 6))
        with pytest.raises(ValueError, match="grad_output"):
            cypool.avg_pool2d_backward(y, (2, 3, 9, 9), 2)
        with pytest.raises(ValueError, match="divisor_override"):
            cypool.avg_pool2d_backward(y, x.shape, 2, divisor_override=0)
        with pytest.raises(TypeError, match="indices"):
            cypool.max_pool2d_backward(y, idx.astype(np.int32), x.shape)
    assert len(pooling._max_backward_plans) == len(pooling._avg_backward_plans) == 0
    # plain lists and NumPy ints as input_shape take the ordinary path, same results
    ref = cypool.max_pool2d_backward(y, idx, x.shape)
    _assert_same(cypool.max_pool2d_backward(y, idx, list(x.shape)), ref)
    _assert_same(cypool.max_pool2d_backward(y, idx, tuple(np.int64(v) for v in x.shape)), ref)
    # byte-swapped gradients and indices are converted, call after call
    for _ in range(2):
        _assert_same(cypool.max_pool2d_backward(y.astype(">f4"), idx.astype(">i8"), x.shape)
                     .astype(np.float32), ref)
    aref = cypool.avg_pool2d_backward(y, x.shape, 2)
    _assert_same(cypool.avg_pool2d_backward(y, list(x.shape), 2), aref)
    _assert_same(cypool.avg_pool2d_backward(y, x.shape, 2, count_include_pad=1), aref)


@pytest.mark.parametrize("make", [
    lambda a: a[:, :, ::2],                              # strided slice
    lambda a: np.asfortranarray(a),                      # Fortran order
    lambda a: a.astype(a.dtype.newbyteorder(">")),       # byte-swapped
    lambda a: a.astype(np.float16),                      # widened dtype
])
def test_avg_and_backward_arrays_a_plan_does_not_cover_still_work(make, rng):
    xm = make(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    gm = make(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    big = np.asarray(gm).shape[:2] + tuple(2 * s for s in np.asarray(gm).shape[2:])
    ref = cypool.avg_pool2d(np.ascontiguousarray(xm, np.float32), 2)
    gref = cypool.avg_pool2d_backward(np.ascontiguousarray(gm, np.float32), big, 2)
    for _ in range(2):
        np.testing.assert_allclose(cypool.avg_pool2d(xm, 2), ref, rtol=1e-3)
        np.testing.assert_allclose(cypool.avg_pool2d_backward(gm, big, 2), gref, rtol=1e-3)


@needs_openmp
@pytest.mark.parametrize("data_format", ["channels_first", CL])
def test_thread_setting_is_honoured_between_cached_avg_and_backward_calls(spy_threads,
                                                                          data_format, rng):
    x = rng.standard_normal((2, 8, 8, 8)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True, data_format=data_format)
    calls = [lambda: cypool.avg_pool2d(x, 2, data_format=data_format),
             lambda: cypool.avg_pool2d_backward(y, x.shape, 2, data_format=data_format),
             lambda: cypool.max_pool2d_backward(y, idx, x.shape, data_format=data_format)]
    for call in calls:
        ref = call()
        spy_threads.clear()
        cypool.set_num_threads(1)
        call()
        cypool.set_num_threads(2)
        call()
        with cypool.threads(3):
            again = call()
        assert spy_threads == [1, 2, 3]
        _assert_same(again, ref)


@pytest.mark.torch
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", CL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("output_size", [3, 1, 4])
def test_adaptive_plans_equal_first_call_and_torch(rank, data_format, dtype, output_size, rng):
    spatial = (7, 6, 9)[:rank]
    shape = (2, *spatial, 3) if data_format == CL else (2, 3, *spatial)
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    amax = getattr(cypool, f"adaptive_max_pool{rank}d")
    first_max = amax(x, output_size, return_indices=True, data_format=data_format)
    first_gmax = getattr(cypool, f"global_max_pool{rank}d")(x, data_format=data_format)
    for _ in range(3):
        _assert_same(amax(x, output_size, return_indices=True, data_format=data_format),
                     first_max)
        _assert_same(amax(x, output_size, data_format=data_format), first_max[0])
        _assert_same(getattr(cypool, f"global_max_pool{rank}d")(x, data_format=data_format),
                     first_gmax)
    assert len(pooling._adaptive_max_plans) >= 2
    t = _to_torch(x.astype(np.float64), rank, data_format).requires_grad_(True)
    ty, ti = getattr(F, f"adaptive_max_pool{rank}d")(t, output_size, return_indices=True)
    np.testing.assert_array_equal(first_max[1], _from_torch(ti, rank, data_format, True))
    if dtype == np.int16:
        return
    aavg = getattr(cypool, f"adaptive_avg_pool{rank}d")
    aavg_bwd = getattr(cypool, f"adaptive_avg_pool{rank}d_backward")
    first = aavg(x, output_size, data_format=data_format)
    g = rng.standard_normal(first.shape).astype(dtype)
    gfirst = aavg_bwd(g, x.shape, data_format=data_format)
    for _ in range(3):
        _assert_same(aavg(x, output_size, data_format=data_format), first)
        _assert_same(aavg_bwd(g, x.shape, data_format=data_format), gfirst)
    t = _to_torch(x, rank, data_format).requires_grad_(True)
    out = getattr(F, f"adaptive_avg_pool{rank}d")(t, output_size)
    out.backward(_to_torch(g, rank, data_format))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(first, _from_torch(out, rank, data_format, True), **tol)
    np.testing.assert_allclose(gfirst, _from_torch(t.grad, rank, data_format, True), **tol)


def test_adaptive_arguments_a_plan_does_not_cover(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    ref = cypool.adaptive_avg_pool2d(x, (3, 3))
    for _ in range(2):
        _assert_same(cypool.adaptive_avg_pool2d(x, [3, 3]), ref)
        _assert_same(cypool.adaptive_avg_pool2d(x, (3, None)), cypool.adaptive_avg_pool2d(x, (3, 8)))
        with pytest.raises(TypeError, match="output_size"):
            cypool.adaptive_avg_pool2d(x, 3.0)
        with pytest.raises(TypeError, match="output_size"):
            cypool.adaptive_max_pool2d(x, (3, 2.0))
        with pytest.raises(ValueError, match="output_size"):
            cypool.adaptive_max_pool2d(x, -1)
        with pytest.raises(ValueError, match="input_shape"):
            cypool.adaptive_avg_pool2d_backward(ref, (2, 4, 8, 8))
    assert len(pooling._adaptive_avg_backward_plans) == 0

"""The plan cache (cypool._plan.PLANS): every call runs a Plan, found by its key or built from
the validated arguments. These tests pin the cache itself (hits, bounds, thread safety, errors
never cached, out= planned, nothing of the caller's kept alive) and that a planned call gives
the first call's result, error and thread count, and PyTorch's result."""
import gc
import threading
import weakref

import numpy as np
import pytest

import cypool
from cypool import _plan, max as max_
from cypool._plan import PLANS

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the tests that compare with torch are marked torch and skipped (conftest.py)
    torch = F = None

needs_openmp = pytest.mark.skipif(not cypool.openmp_enabled(), reason="serial build")
CL = "channels_last"


@pytest.fixture(autouse=True)
def fresh_plans():
    PLANS.clear()
    yield
    PLANS.clear()


def _plans(op: str) -> int:
    """How many plans of operator `op` ("max_pool", "avg_backward", ...) the cache holds."""
    return sum(1 for key in PLANS.keys() if key[0] == op)


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
@pytest.mark.torch
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
    assert _plans("max_pool") == 1
    for _ in range(3):
        again = fn(x, **kw, return_indices=return_indices, data_format=data_format)
        _assert_same(again, first)
        assert not np.shares_memory(again[0] if return_indices else again, x)
    assert _plans("max_pool") == 1
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
    # equal-hashing arguments of other types get no key (a plan built for the call, not kept)
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
    assert _plans("max_pool") == len(calls)
    for (a, kw), r in zip(calls, results):
        PLANS.clear()
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
    monkeypatch.setattr(PLANS, "size", 4)
    x = rng.standard_normal((1, 2, 16, 16)).astype(np.float32)
    for k in range(1, 9):
        cypool.max_pool2d(x, k)
    assert _plans("max_pool") == 4
    assert [key[5] for key in PLANS.keys()] == [5, 6, 7, 8]   # the oldest went


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
    assert _plans("max_pool") == 1
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
    assert _plans("avg_pool") == 1 and _plans("avg_backward") == 1
    for _ in range(3):
        _assert_same(fwd(x, **kw, data_format=data_format), first)
        _assert_same(bwd(g, x.shape, **kw, data_format=data_format), gfirst)
    assert _plans("avg_pool") == 1 and _plans("avg_backward") == 1
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
    assert _plans("max_backward") == 1
    for _ in range(3):
        _assert_same(bwd(g, idx, x.shape, data_format=data_format), first)
    assert _plans("max_backward") == 1
    t = _to_torch(x, rank, data_format).requires_grad_(True)
    out = getattr(F, f"max_pool{rank}d")(t, **kw)
    out.backward(_to_torch(g, rank, data_format))
    _assert_same(first, _from_torch(t.grad, rank, data_format, True))


def test_a_planned_max_backward_still_refuses_out_of_plane_indices(rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    cypool.max_pool2d_backward(y, idx, x.shape)
    assert _plans("max_backward") == 1
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
    assert _plans("max_backward") == _plans("avg_backward") == 0
    # plain lists and NumPy ints as input_shape get no key, same results
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
    assert _plans("adaptive_max") >= 2
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
    assert _plans("adaptive_avg_backward") == 0


# ----------------------------------------------------------------------------- the cache itself

def test_a_repeated_call_is_a_cache_hit_and_builds_nothing(monkeypatch, rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    builds = []
    real = max_._max_plan

    def counting(*args):
        builds.append(args[1:])
        return real(*args)
    monkeypatch.setattr(max_, "_max_plan", counting)
    first = cypool.max_pool2d(x, 2)
    plan = PLANS.get(list(PLANS)[0])
    for _ in range(3):
        _assert_same(cypool.max_pool2d(x, 2), first)
    assert len(builds) == 1 and _plans("max_pool") == 1
    assert PLANS.get(list(PLANS)[0]) is plan
    cypool.max_pool2d(x, 3)   # other arguments: a miss, a second plan
    assert len(builds) == 2 and _plans("max_pool") == 2


def test_unkeyed_calls_build_a_plan_every_time_and_keep_none(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    ref = cypool.max_pool2d(x, 2)
    PLANS.clear()
    for args in [(np.int64(2),), ([2, 2],), (2, None, [0, 0])]:
        _assert_same(cypool.max_pool2d(x, *args), ref)
    _assert_same(cypool.max_pool2d(np.ma.asarray(x), 2), ref)   # a subclass
    assert len(PLANS) == 0


@pytest.mark.parametrize("data_format", ["channels_first", CL])
def test_out_calls_are_planned_and_written_in_place(data_format, rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    ref, idx = cypool.max_pool2d(x, 2, return_indices=True, data_format=data_format)
    PLANS.clear()
    out = np.empty_like(ref)
    for _ in range(3):
        out[...] = np.nan
        assert cypool.max_pool2d(x, 2, data_format=data_format, out=out) is out
        _assert_same(out, ref)
    g = rng.standard_normal(ref.shape).astype(np.float32)
    gref = cypool.max_pool2d_backward(g, idx, x.shape, data_format=data_format)
    gout = np.empty_like(x)
    for _ in range(2):
        assert cypool.max_pool2d_backward(g, idx, x.shape, data_format=data_format,
                                          out=gout) is gout
        _assert_same(gout, gref)
    # out= and a new result share one plan per operator
    assert _plans("max_pool") == 1 and _plans("max_backward") == 1
    # a non-contiguous out gets the result copied in, through the same plan
    wide = np.empty(ref.shape[:-1] + (2 * ref.shape[-1],), np.float32)
    assert cypool.max_pool2d(x, 2, data_format=data_format, out=wide[..., ::2]) is not None
    _assert_same(np.ascontiguousarray(wide[..., ::2]), ref)
    assert _plans("max_pool") == 1
    # out= errors are per call, never cached, and leave the plan as it was
    for bad in (np.empty_like(ref, dtype=np.float64), np.empty(ref.shape[1:], np.float32), x):
        with pytest.raises((ValueError, TypeError), match="out"):
            cypool.max_pool2d(x, 2, data_format=data_format, out=bad)
    _assert_same(cypool.max_pool2d(x, 2, data_format=data_format), ref)


def test_errors_are_never_cached(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    for _ in range(3):
        with pytest.raises(ValueError, match="padding"):
            cypool.max_pool2d(x, 2, padding=2)
        with pytest.raises(ValueError, match="divisor_override"):
            cypool.avg_pool2d(x, 2, divisor_override=0)
        with pytest.raises(TypeError, match="x has unsupported dtype"):
            cypool.avg_pool2d(x.astype(np.int32), 2)
        with pytest.raises(ValueError, match="output_size"):
            cypool.adaptive_avg_pool2d(x, -1)
        with pytest.raises(TypeError, match="keepdims"):   # not a default that means "keep"
            cypool.global_avg_pool2d(x, keepdims=None)
    assert len(PLANS) == 0


def test_a_plan_keeps_no_array_of_the_caller_alive(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    for make in (lambda a: a, lambda a: a[:, :, ::-1], lambda a: a.astype(np.float16)):
        arr = make(x.copy())
        ref = weakref.ref(arr)
        y, idx = cypool.max_pool2d(arr, 2, return_indices=True)
        cypool.max_pool2d_backward(y.astype(np.float32), idx, arr.shape)
        cypool.adaptive_avg_pool2d(arr, 3)
        del arr, y, idx
        gc.collect()
        assert ref() is None
    assert len(PLANS) > 0


def test_the_cache_is_safe_under_python_threads(monkeypatch, rng):
    """8 Python threads call 24 different shapes through a cache of 8 plans: entries are evicted
    and rebuilt concurrently; every result equals the one computed alone."""
    monkeypatch.setattr(PLANS, "size", 8)
    inputs = [rng.standard_normal((1, 2, 6 + i, 7)).astype(np.float32) for i in range(24)]
    refs = [cypool.max_pool2d(a, 2, return_indices=True) for a in inputs]
    arefs = [cypool.avg_pool2d(a, 3, 1, 1) for a in inputs]
    errors = []

    def work(k):
        try:
            for i in range(200):
                j = (i * 7 + k) % len(inputs)
                _assert_same(cypool.max_pool2d(inputs[j], 2, return_indices=True), refs[j])
                _assert_same(cypool.avg_pool2d(inputs[j], 3, 1, 1), arefs[j])
        except Exception as exc:  # reported below, with the thread's own traceback lost
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(PLANS) <= 8


def test_one_cache_serves_every_operator(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    y, idx = cypool.max_pool2d(x, 2, return_indices=True)
    cypool.max_pool2d_backward(y, idx, x.shape)
    cypool.avg_pool2d(x, 2)
    cypool.avg_pool2d_backward(y, x.shape, 2)
    a = cypool.adaptive_avg_pool2d(x, 3)
    cypool.adaptive_avg_pool2d_backward(a, x.shape)
    cypool.adaptive_max_pool2d(x, 3)
    cypool.global_avg_pool2d(x)
    cypool.global_max_pool2d(x)
    cypool.max_unpool2d(y, idx, 2)
    cypool.max_unpool2d_backward(x, idx)
    ops = {key[0] for key in PLANS.keys()}
    assert ops == {"max_pool", "max_backward", "avg_pool", "avg_backward", "adaptive_avg",
                   "adaptive_avg_backward", "adaptive_max", "max_unpool", "max_unpool_backward"}
    assert isinstance(PLANS, _plan.PlanCache)

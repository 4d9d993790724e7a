"""cypool against the plain-loop NumPy reference over a grid of ranks, windows and data formats."""
import numpy as np
import pytest

import cypool
import reference as ref
from helpers import (explicit_padding, from_channels_last, random_data, random_pool_config,
                     to_channels_last)

FORMATS = ["channels_first", "channels_last"]
MAX = {1: cypool.max_pool1d, 2: cypool.max_pool2d, 3: cypool.max_pool3d}
AVG = {1: cypool.avg_pool1d, 2: cypool.avg_pool2d, 3: cypool.avg_pool3d}
AAVG = {1: cypool.adaptive_avg_pool1d, 2: cypool.adaptive_avg_pool2d, 3: cypool.adaptive_avg_pool3d}
AMAX = {1: cypool.adaptive_max_pool1d, 2: cypool.adaptive_max_pool2d, 3: cypool.adaptive_max_pool3d}


def call(fn, x, data_format, *args, **kw):
    """Run fn on channels-first x in the given data format; results back in channels-first."""
    if data_format == "channels_last":
        out = fn(to_channels_last(x), *args, data_format=data_format, **kw)
        return tuple(from_channels_last(o) for o in out) if isinstance(out, tuple) else \
            from_channels_last(out)
    return fn(x, *args, data_format=data_format, **kw)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_matches_reference(rank, data_format, dtype):
    rng = np.random.default_rng(rank * 100 + len(data_format))
    for _ in range(40 if rank < 3 else 15):
        spatial, k, s, padding, d, ceil_mode = random_pool_config(rng, rank, allow_string=True)
        x = random_data(rng, (2, 3, *spatial), dtype)
        lo, hi = explicit_padding(spatial, k, s, padding, d)
        y_ref, i_ref = ref.max_pool(x, k, s, lo, hi, d, ceil_mode)
        y, i = call(MAX[rank], x, data_format, k, s, padding, d, ceil_mode, return_indices=True)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(i, i_ref)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_avg_pool_matches_reference(rank, data_format):
    rng = np.random.default_rng(rank * 7 + len(data_format))
    for _ in range(40 if rank < 3 else 15):
        spatial, k, s, padding, d, ceil_mode = random_pool_config(rng, rank, dilation=False,
                                                                  allow_string=True)
        x = random_data(rng, (2, 3, *spatial), np.float64, special=False)
        cip = bool(rng.integers(2))
        div = int(rng.choice([0, 0, 3, -2])) if rank > 1 else 0
        kw = {"divisor_override": div or None} if rank > 1 else {}
        if rank == 3 and any(L < kk for L, kk in zip(spatial, k)):
            with pytest.raises(ValueError, match="smaller than kernel_size"):
                call(AVG[rank], x, data_format, k, s, padding, ceil_mode, cip, **kw)
            continue
        lo, hi = explicit_padding(spatial, k, s, padding, (1,) * rank)
        y_ref = ref.avg_pool(x, k, s, lo, hi, ceil_mode, cip and not isinstance(padding, str),
                             div)
        y = call(AVG[rank], x, data_format, k, s, padding, ceil_mode, cip, **kw)
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_adaptive_matches_reference(rank, data_format):
    rng = np.random.default_rng(rank + 31)
    cases = [(10, 3), (5, 3), (7, 4), (4, 7), (6, 6), (1, 1), (9, 1)]
    for _ in range(12):
        pairs = [cases[int(j)] for j in rng.integers(0, len(cases), rank)]
        spatial, out = [p[0] for p in pairs], [p[1] for p in pairs]
        x = random_data(rng, (2, 2, *spatial), np.float64)
        np.testing.assert_allclose(call(AAVG[rank], x, data_format, tuple(out)),
                                   ref.adaptive_avg(x, out), rtol=1e-12, atol=1e-12)
        y, i = call(AMAX[rank], x, data_format, tuple(out), return_indices=True)
        y_ref, i_ref = ref.adaptive_max(x, out)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(i, i_ref)


def test_adaptive_224_to_13():
    x = np.random.default_rng(0).standard_normal((1, 2, 224, 224))
    np.testing.assert_allclose(cypool.adaptive_avg_pool2d(x, 13), ref.adaptive_avg(x, (13, 13)),
                               rtol=1e-12)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_max_backward_and_unpool_match_reference(rank, data_format):
    rng = np.random.default_rng(rank + 77)
    bwd = {1: cypool.max_pool1d_backward, 2: cypool.max_pool2d_backward,
           3: cypool.max_pool3d_backward}[rank]
    unpool = {1: cypool.max_unpool1d, 2: cypool.max_unpool2d, 3: cypool.max_unpool3d}[rank]
    for _ in range(20):
        spatial, k, s, padding, d, ceil_mode = random_pool_config(rng, rank, dilation=False)
        x = random_data(rng, (2, 3, *spatial), np.float64, special=False)
        y, idx = cypool.max_pool2d(x, 1, return_indices=True) if False else \
            call(MAX[rank], x, data_format, k, s, padding, 1, ceil_mode, return_indices=True)
        g = rng.standard_normal(y.shape)
        gx = call(lambda g_, **kw: bwd(g_, to_channels_last(idx) if kw["data_format"] ==
                                       "channels_last" else idx,
                                       to_channels_last(x).shape if kw["data_format"] ==
                                       "channels_last" else x.shape, **kw), g, data_format)
        np.testing.assert_allclose(gx, ref.scatter_by_index(g, idx, spatial), rtol=1e-12,
                                   atol=1e-12)
        out = tuple(spatial)
        u = call(lambda v, **kw: unpool(v, to_channels_last(idx) if kw["data_format"] ==
                                        "channels_last" else idx, k, s, padding, out, **kw),
                 y, data_format)
        np.testing.assert_array_equal(u, ref.unpool(y, idx, out))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint16,
                                   np.uint32, np.bool_, np.float16])
@pytest.mark.parametrize("data_format", FORMATS)
def test_max_pool_other_dtypes(dtype, data_format, rng):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        x = rng.integers(info.min, info.max, size=(2, 3, 9, 8), dtype=dtype, endpoint=True)
    elif dtype == np.bool_:
        x = rng.random((2, 3, 9, 8)) < 0.3
    else:
        x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    y, i = call(cypool.max_pool2d, x, data_format, 3, 2, 1, return_indices=True)
    assert y.dtype == x.dtype
    y_ref, i_ref = ref.max_pool(x.astype(np.float64) if dtype == np.float16 else x,
                                (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(y, y_ref.astype(dtype))
    np.testing.assert_array_equal(i, i_ref)

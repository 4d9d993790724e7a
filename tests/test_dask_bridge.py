"""cypool.dask: results equal the in-memory cypool results exactly over a grid of chunkings x
window geometries, and pooling runs on a real dask.distributed cluster. Skipped without dask."""
import numpy as np
import pytest

import cypool
from helpers import random_data, random_pool_config

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
cd = pytest.importorskip("cypool.dask")

N_CONFIGS = 25


def random_chunks(rng, shape):
    """Per axis: one chunk, single cells, or random cuts."""
    chunks = []
    for n in shape:
        kind = rng.integers(3)
        if kind == 0 or n == 1:
            chunks.append((n,))
        elif kind == 1 and n <= 5:
            chunks.append((1,) * n)
        else:
            cuts = sorted(set(int(c) for c in rng.integers(1, n, int(rng.integers(1, 4)))))
            edges = [0, *cuts, n]
            chunks.append(tuple(b - a for a, b in zip(edges[:-1], edges[1:])))
    return tuple(chunks)


def layout(x, data_format):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if data_format == "channels_last" else x


def check_equal(x, chunks, fn_name, rank, kw, return_indices=False):
    X = da.from_array(x, chunks=chunks)
    expected = getattr(cypool, f"{fn_name}{rank}d")(x, **kw, **(
        {"return_indices": True} if return_indices else {}))
    got = getattr(cd, f"{fn_name}{rank}d")(X, **kw, **(
        {"return_indices": True} if return_indices else {}))
    if return_indices:
        y, i = dask.compute(*got, scheduler="synchronous")
        np.testing.assert_array_equal(y, expected[0], err_msg=f"{kw} chunks={chunks}")
        np.testing.assert_array_equal(i, expected[1], err_msg=f"{kw} chunks={chunks}")
        assert y.dtype == expected[0].dtype and got[0].chunks == got[1].chunks
        out = got[0]
    else:
        y = got.compute(scheduler="synchronous")
        np.testing.assert_array_equal(y, expected, err_msg=f"{kw} chunks={chunks}")
        assert y.dtype == expected.dtype
        out = got
    assert out.shape == y.shape and tuple(sum(c) for c in out.chunks) == y.shape
    assert all(c > 0 for ch in out.chunks for c in ch)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_max_pool_equals_in_memory_over_chunkings(data_format):
    rng = np.random.default_rng(7)
    for _ in range(N_CONFIGS):
        rank = int(rng.integers(1, 4))
        spatial, k, s, p, d, ceil_mode = random_pool_config(rng, rank, allow_string=True)
        spatial = tuple(L + int(rng.integers(0, 9)) for L in spatial)
        dtype = [np.float32, np.float64, np.int16][int(rng.integers(3))]
        x = layout(random_data(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial),
                               dtype), data_format)
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode,
                  data_format=data_format)
        check_equal(x, random_chunks(rng, x.shape), "max_pool", rank, kw, return_indices=True)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_avg_pool_equals_in_memory_over_chunkings(data_format):
    rng = np.random.default_rng(8)
    done = 0
    while done < N_CONFIGS:
        rank = int(rng.integers(1, 4))
        spatial, k, s, p, _, ceil_mode = random_pool_config(rng, rank, dilation=False,
                                                            allow_string=True)
        spatial = tuple(L + int(rng.integers(0, 9)) for L in spatial)
        if rank == 3 and any(L < kk for L, kk in zip(spatial, k)):
            continue
        x = layout(random_data(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial),
                               np.float64, special=False), data_format)
        kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode,
                  count_include_pad=bool(rng.integers(2)), data_format=data_format)
        if rank > 1 and rng.random() < 0.3:
            kw["divisor_override"] = int(rng.integers(1, 6))
        check_equal(x, random_chunks(rng, x.shape), "avg_pool", rank, kw)
        done += 1


GEOMETRIES = [
    dict(kernel_size=2),                                           # tiling windows
    dict(kernel_size=3, stride=1, padding=1),                      # overlapping, padded
    dict(kernel_size=5, stride=2, padding=2, ceil_mode=True),
    dict(kernel_size=4, stride=3, padding="same"),                 # asymmetric SAME padding
    dict(kernel_size=3, stride=2, padding="same", dilation=3),
    dict(kernel_size=2, stride=1, padding=1, dilation=4),          # windows with no real cell
    dict(kernel_size=(3, 1), stride=(1, 2), padding="valid"),
]
CHUNKINGS = [(2, 3, 17, 11), (1, 2, 4, 3), (2, 3, 5, 4), (1, 2, 16, 3), (2, 3, 9, 1)]


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_grid_of_chunkings_and_geometries(geometry, chunks):
    x = np.random.default_rng(3).standard_normal((2, 3, 17, 11))
    x[0, 0, 3:9, 2:7] = 1.0    # ties across chunk boundaries
    check_equal(x, chunks, "max_pool", 2, geometry, return_indices=True)
    cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    check_equal(cl, (chunks[0], *chunks[2:], chunks[1]), "max_pool", 2,
                dict(geometry, data_format="channels_last"), return_indices=True)
    if "dilation" not in geometry:
        check_equal(x, chunks, "avg_pool", 2, dict(geometry, count_include_pad=False))
        check_equal(x, chunks, "avg_pool", 2, geometry)


def test_unbatched_and_block_plan():
    x = np.arange(3 * 20, dtype=np.float32).reshape(3, 20)
    check_equal(x, (2, 6), "max_pool", 1, dict(kernel_size=4, stride=2, padding=2))
    plan = cd.block_plan(da.from_array(x, chunks=(3, 6)), 1, 4, 2, padding=2)
    # output o reads input [2o - 2, 2o + 2): blocks start on the stride, halo of k - s = 2 cells
    # output o reads input [2o - 2, 2o + 2): slices start on the stride, a halo of k - s = 2 cells;
    # the last slice is widened to a whole window
    assert plan == [[(0, 4, 0, 8), (4, 7, 6, 14), (7, 10, 12, 20), (10, 11, 16, 20)]]


def test_errors():
    X = da.zeros((1, 1, 8, 8), chunks=4)
    with pytest.raises(TypeError, match="dask"):
        cd.max_pool2d(np.zeros((1, 1, 8, 8)), 2)
    with pytest.raises(ValueError, match="padding"):
        cd.max_pool2d(X, 2, padding=2)
    with pytest.raises(TypeError, match="divisor_override"):
        cd.avg_pool2d(X, 2, divisor_override=1.5)
    with pytest.raises(TypeError):
        cd.avg_pool2d(X.astype(np.int32), 2)
    with pytest.raises(ValueError, match="dimensions"):
        cd.max_pool2d(da.zeros((8,), chunks=4), 2)
    with pytest.raises(ValueError, match="smaller than"):
        cd.avg_pool3d(da.zeros((1, 1, 2, 8, 8), chunks=4), 3, padding=1)


def test_distributed_local_cluster():
    distributed = pytest.importorskip("distributed")
    x = np.random.default_rng(5).standard_normal((2, 4, 64, 48)).astype(np.float32)
    X = da.from_array(x, chunks=(1, 2, 20, 13))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="1GiB") as cluster, \
            distributed.Client(cluster) as client:
        y, idx = cd.max_pool2d(X, 3, stride=2, padding=1, return_indices=True)
        avg = cd.avg_pool2d(X, 4, stride=3, padding="same")
        y, idx, avg = client.compute([y, idx, avg], sync=True)
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    expected, expected_idx = cypool.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(idx, expected_idx)
    np.testing.assert_array_equal(avg, cypool.avg_pool2d(x, 4, stride=3, padding="same"))

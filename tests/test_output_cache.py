"""Big results live in recycled blocks (cypool._memory): reuse must never alias a live array."""
import gc
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import cypool
from cypool import _buffers
from helpers import python_env_for_subprocess

BIG = (4, 16, 128, 128)        # 4 MiB of float32: the smallest size that uses the cache


@pytest.fixture
def cache():
    old = cypool.set_output_cache(64 << 20)
    cypool.set_output_cache(0)               # start empty
    cypool.set_output_cache(64 << 20)
    yield
    cypool.set_output_cache(old)


def _x(seed=0, shape=BIG):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_freed_result_is_reused_and_values_are_exact(cache):
    x = _x()
    expected = cypool.avg_pool2d(x, 3, 1, 1, out=np.empty_like(x))
    y = cypool.avg_pool2d(x, 3, 1, 1)
    np.testing.assert_array_equal(y, expected)
    address = y.__array_interface__["data"][0]
    before = cypool.output_cache_info()
    del y
    gc.collect()
    assert cypool.output_cache_info()["blocks"] == before["blocks"] + 1
    y = cypool.avg_pool2d(x, 3, 1, 1)
    after = cypool.output_cache_info()
    assert after["hits"] == before["hits"] + 1
    assert y.__array_interface__["data"][0] == address
    np.testing.assert_array_equal(y, expected)


def test_live_results_and_their_views_are_never_reused(cache):
    x1, x2 = _x(1), _x(2)
    y1 = cypool.avg_pool2d(x1, 3, 1, 1)
    keep = y1.copy()
    view = y1[1:3, ::2]
    del y1                                   # the view keeps the block alive
    y2 = cypool.avg_pool2d(x2, 3, 1, 1)
    assert not np.shares_memory(view, y2)
    np.testing.assert_array_equal(view, keep[1:3, ::2])
    y3 = cypool.avg_pool2d(x1, 3, 1, 1)
    assert not np.shares_memory(y3, y2) and not np.shares_memory(y3, view)


def test_consecutive_blocks_start_in_different_cache_sets(cache):
    # Blocks all on one 2 MiB boundary make a kernel that reads one result while writing another
    # evict its own lines; consecutive blocks start at different offsets, in the low 12 bits and
    # modulo 64 KiB, and a reused block keeps its own (it is freed from where it was mapped).
    blocks = [_buffers.empty(BIG, np.float32) for _ in range(16)]
    starts = [b.__array_interface__["data"][0] for b in blocks]
    assert len({s % 65536 for s in starts}) == 16
    assert len({s % 4096 for s in starts}) == 16
    assert all(s % 64 == 0 for s in starts)
    for b in blocks:
        b[...] = 1.0                         # the whole block is writable
    del blocks, b
    gc.collect()
    again = _buffers.empty(BIG, np.float32)
    assert again.__array_interface__["data"][0] in starts


def test_small_results_do_not_use_the_cache(cache):
    before = cypool.output_cache_info()
    cypool.max_pool2d(_x(shape=(2, 4, 16, 16)), 2)
    after = cypool.output_cache_info()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"])


def test_limit_bounds_what_is_held(cache):
    cypool.set_output_cache(5 << 20)         # room for one 4 MiB block
    ys = [cypool.avg_pool2d(_x(i), 3, 1, 1) for i in range(3)]
    del ys
    gc.collect()
    info = cypool.output_cache_info()
    assert info["blocks"] == 1 and info["held_bytes"] <= 5 << 20
    assert cypool.set_output_cache(0) == 5 << 20
    assert cypool.output_cache_info()["held_bytes"] == 0


def test_cache_off_gives_plain_arrays(cache):
    cypool.set_output_cache(0)
    y = cypool.avg_pool2d(_x(), 3, 1, 1)
    assert y.flags.owndata and cypool.output_cache_info()["blocks"] == 0


def test_results_behave_like_numpy_arrays(cache):
    y, idx = cypool.max_pool2d(_x(shape=(4, 16, 256, 256)), 2, return_indices=True)
    assert y.flags.c_contiguous and y.flags.writeable and idx.dtype == np.int64
    y[0, 0, 0, 0] = -1.0
    z = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(z, y)
    torch = pytest.importorskip("torch", reason="torch is optional")
    t = torch.from_numpy(y)
    del y
    gc.collect()
    assert float(t[0, 0, 0, 0]) == -1.0      # the tensor keeps the block alive


def test_threads_get_distinct_blocks(cache):
    x = _x()
    expected = cypool.avg_pool2d(x, 3, 1, 1, out=np.empty_like(x))
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                y = cypool.avg_pool2d(x, 3, 1, 1)
                results.append(y)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    addresses = {y.__array_interface__["data"][0] for y in results}
    assert len(addresses) == len(results)
    for y in results:
        np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1M"])
def test_bad_limits_are_refused(bad):
    with pytest.raises((TypeError, ValueError), match="max_bytes"):
        cypool.set_output_cache(bad)


@pytest.mark.parametrize("text, expected", [("0", 0), ("256M", 256 << 20), ("1g", 1 << 30),
                                            ("4096", 4096), ("64MiB", 64 << 20)])
def test_environment_sets_the_limit(text, expected, tmp_path):
    code = "import cypool; print(cypool.output_cache_info()['limit_bytes'])"
    env = dict(python_env_for_subprocess(), CYPOOL_OUTPUT_CACHE=text)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, check=True).stdout
    assert int(out) == expected


def test_bad_environment_names_the_variable(tmp_path):
    env = dict(python_env_for_subprocess(), CYPOOL_OUTPUT_CACHE="lots")
    run = subprocess.run([sys.executable, "-c", "import cypool"], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True)
    assert run.returncode != 0 and "CYPOOL_OUTPUT_CACHE" in run.stderr


def test_big_bytes_matches_numpy_huge_page_threshold():
    assert _buffers.BIG_BYTES == 4 << 20

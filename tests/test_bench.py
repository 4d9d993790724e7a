"""The framework comparison (`cypool bench`: cypool.commands.bench; benchmarks/compare_frameworks.py) on tiny shapes: it runs,
writes its markdown and PNG, and its numbers are positive. No timing is asserted."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cypool
from cypool import _stream
from cypool.commands import bench

from helpers import python_env_for_subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stream_model(src: np.ndarray, dst_nbytes: int) -> np.ndarray:
    """What _stream.stream writes into dst, computed with NumPy: the bytes as uint32 words (uint8
    when a size is not a multiple of 4), split into near-equal blocks of at most 16384 words of the
    larger buffer; a dst block is the wrapping column sum of its src block's rows (plus the
    leftover words, added to the first entries), or its src block repeated when dst is larger."""
    s = src.reshape(-1).view(np.uint8)
    ns, nd = s.size, dst_nbytes
    if ns % 4 == 0 and nd % 4 == 0:
        word, s, ns, nd = np.uint32, s.view(np.uint32), ns // 4, nd // 4
    else:
        word = np.uint8
    out = np.zeros(nd, word)
    nb = max(1, -(-max(ns, nd) // 16384))

    def bound(i, n):
        return i * (n // nb) + min(i, n % nb)
    for i in range(nb):
        blk, d0, d1 = s[bound(i, ns):bound(i + 1, ns)], bound(i, nd), bound(i + 1, nd)
        ls, ld = blk.size, d1 - d0
        if ld == 0 or ls == 0:
            continue
        if ls >= ld:
            rows = ls // ld
            acc = blk[:rows * ld].reshape(rows, ld).sum(axis=0, dtype=word)
            rest = blk[rows * ld:]
            acc[:rest.size] += rest
            out[d0:d1] = acc
        else:
            rows = ld // ls
            out[d0:d0 + rows * ls] = np.tile(blk, rows)
            out[d0 + rows * ls:d1] = blk[:ld - rows * ls]
    return out.view(np.uint8)


@pytest.mark.parametrize("src_n, dst_n", [(10, 3), (12, 12), (3, 7), (0, 5), (5, 0), (40000, 9999),
                                          (70001, 70001 * 3)])
def test_stream_reads_all_of_src_and_writes_all_of_dst(src_n, dst_n):
    for dtype in (np.uint8, np.uint32):
        src = np.arange(src_n, dtype=dtype)
        dst = np.full(dst_n, 77, dtype)
        moved = _stream.stream(src, dst, 2)
        assert moved == src.nbytes + dst.nbytes
        # every byte of dst is written, from every byte of src, as the model says
        np.testing.assert_array_equal(dst.view(np.uint8), _stream_model(src, dst.nbytes))
    with pytest.raises(ValueError, match="C-contiguous"):
        _stream.stream(np.ones((4, 4))[:, ::2], np.empty(4), 1)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        _stream.stream([1, 2], np.empty(4), 1)


def test_stream_model_is_not_trivial():
    """The model above tells a changed src byte apart (so the test above can fail)."""
    src = np.arange(40000, dtype=np.uint8)
    a = _stream_model(src, 9999)
    src[12345] += 1
    assert not np.array_equal(a, _stream_model(src, 9999))


def _check_result(result, tmp_path, with_torch, names=None):
    md = tmp_path / "compare_frameworks.md"
    text = md.read_text()
    assert "| case |" in text and "tiny-max2*" in text
    assert {r.case.name for r in result["rows"]} == set(names or (c.name for c in bench.CASES))
    for row in result["rows"]:
        assert row.nbytes > 0
        assert set(row.times) >= {"cypool", "roofline"}
        assert all(t > 0 and np.isfinite(t) for t in row.times.values())
        assert row.gbs > 0 and row.ratio("roofline") > 0
        assert ("torch" in row.times) == with_torch
        if with_torch:
            assert row.check == "ok"
    for b in result["big"]:
        assert b["cypool_gbs"] > 0 and b["stream_gbs"] > 0 and b["fraction"] > 0
        assert b["fresh_gbs"] > 0 and b["fresh_fraction"] > 0
        assert b["out_gbs"] > 0 and b["out_fraction"] > 0
    if with_torch:
        assert result["geomean"] > 0
        png = tmp_path / "compare_frameworks.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert result["geomean"] is None and "n/a (torch not installed)" in text


def test_bench_without_torch_in_process(tmp_path):
    threads_before = cypool.get_num_threads()
    names = ["tiny-max2", "head-gap", "avg2", "3d-max2"]
    result = bench.run(threads=2, repeat=1, smoke=True, out=str(tmp_path), use_torch=False,
                       only=names, verbose=False)
    _check_result(result, tmp_path, with_torch=False, names=names)
    assert cypool.get_num_threads() == threads_before  # the bench restores the thread count


@pytest.mark.torch
def test_bench_with_torch(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    result = bench.run(threads=2, repeat=1, smoke=True, out=str(tmp_path), verbose=False)
    _check_result(result, tmp_path, with_torch=True)


def test_script_and_module_entry_points(tmp_path):
    """`python benchmarks/compare_frameworks.py` and `python -m cypool bench` both run (children in a
    neutral folder importing the cypool under test)."""
    env = python_env_for_subprocess()
    for cmd, out in (([sys.executable, os.path.join(ROOT, "benchmarks", "compare_frameworks.py")],
                      tmp_path / "script"),
                     ([sys.executable, "-m", "cypool", "bench"], tmp_path / "module")):
        if not os.path.exists(cmd[-1]) and cmd[-1].endswith(".py"):
            pytest.skip("benchmarks/ is not shipped with an installed cypool")
        p = subprocess.run(cmd + ["--smoke", "--quick", "--no-torch", "--skip-big", "--case",
                                  "tiny-max2", "--out", str(out)], cwd=str(tmp_path), env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        assert "tiny-max2" in (out / "compare_frameworks.md").read_text()


# ----------------------------------------------------------------------------- per-call overhead caches

def test_geometry_cache_never_accepts_what_the_uncached_path_refuses():
    from cypool._geometry import pool_geometry
    x = np.ones((1, 2, 6, 6), np.float32)
    ok = cypool.max_pool2d(x, 2)  # caches kernel_size=2
    for bad in (2.0, True, (2, True), (2.0, 2)):
        for _ in range(2):  # errors are never cached: the second call raises too
            with pytest.raises(TypeError, match="kernel_size"):
                cypool.max_pool2d(x, bad)
    with pytest.raises(TypeError, match="ceil_mode"):
        cypool.max_pool2d(x, 2, ceil_mode=2)
    np.testing.assert_array_equal(cypool.max_pool2d(x, [2, 2]), ok)  # lists: uncached path
    np.testing.assert_array_equal(cypool.max_pool2d(x, np.int64(2)), ok)
    a, b = pool_geometry((6, 6), 2, 2, None, 0), pool_geometry((6, 6), 2, 2, None, 0)
    assert a is b  # memoised
    w = a.window()
    w["k_h"] = 99  # callers get a copy
    assert a.window()["k_h"] == 2 and a.window() is not a.window()


def test_thread_policy_rereads_its_inputs_on_set_num_threads_none(monkeypatch):
    from cypool import _threads
    if not cypool.openmp_enabled():
        pytest.skip("serial build")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        with monkeypatch.context() as m:
            m.setattr(_threads, "cpu_budget", lambda: 1)
            cypool.set_num_threads(None)
            assert _threads.default_num_threads() == 1
            assert _threads.threads_for(1 << 30, 1 << 20) == 1
            with cypool.threads(2):
                assert _threads.threads_for(1 << 30, 1 << 20) == min(
                    2, _threads._openmp_info.openmp_max_threads())
            assert _threads.threads_for(100, 1 << 20) == 1  # small calls stay serial
        # the real cpu_budget is back and OMP_NUM_THREADS still unset: the default re-reads both
        cypool.set_num_threads(None)
        assert _threads.default_num_threads() == min(_threads.cpu_budget(),
                                                     _threads._openmp_info.openmp_max_threads())
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        cypool.set_num_threads(None)
        assert _threads.default_num_threads() == max(
            1, _threads._openmp_info.openmp_max_threads())  # OMP_NUM_THREADS: OpenMP's own limit
    finally:
        monkeypatch.undo()
        cypool.set_num_threads(None)

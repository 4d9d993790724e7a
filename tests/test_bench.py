"""The framework comparison (`cypool bench`: cypool.commands.bench; benchmarks/compare_frameworks.py,
benchmarks/new_output_stability.py) on tiny shapes (`--smoke`): it runs, covers every operator
(`--all`), the 256 MB bandwidth case and the fresh-process mode (`--processes`), writes its
markdown and PNG, agrees with the peers, and its numbers are positive. No timing is asserted."""
import builtins
import importlib.util
import os
import subprocess
import sys
import time

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


NO_TORCH_RECIPE = {"stochastic"}   # operators torch has no counterpart of


def _check_result(result, tmp_path, with_torch, names=None):
    md = tmp_path / "compare_frameworks.md"
    text = md.read_text()
    assert "| case |" in text and "tiny-max2*" in text
    names = [n for n in names or (c.name for c in bench.CASES)
             if bench.case_dtype(bench.find_case(n).dtype) is not None]
    assert {r.case.name for r in result["rows"]} == set(names)
    for row in result["rows"]:
        assert row.nbytes > 0 and row.out_nbytes > 0
        assert set(row.times) >= {"cypool", "roofline"}
        assert all(t > 0 and np.isfinite(t) for t in row.times.values())
        assert row.gbs > 0 and row.ratio("roofline") > 0
        has_torch = with_torch and row.case.op not in NO_TORCH_RECIPE
        assert ("torch" in row.times) == has_torch, (row.case.name, row.direction, row.fmt)
        # every peer that ran agreed with cypool; a row without peers has no check
        assert row.check == ("ok" if has_torch else ""), (row.case.name, row.direction,
                                                          row.fmt, row.check)
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


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="threads' CPU times: Linux")
def test_settle_waits_for_a_busy_thread_to_stop():
    # a peer's threads working on after its call returns are waited for before the next sample
    import threading

    from cypool.commands import timing
    state = {"done": False}

    def busy():
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass
        state["done"] = True

    t = threading.Thread(target=busy)
    t.start()
    time.sleep(0.02)
    waited = timing.settle(most=5.0)
    done = state["done"]
    t.join()
    assert done, f"settle returned after {waited:.3f} s with the thread still busy"
    # quiet threads: one quiet window
    assert timing.settle(quiet=0.01, most=5.0) < 1.0


def test_interleaved_timing_settles_after_the_named_candidates(monkeypatch):
    from cypool.commands import timing
    calls = []
    monkeypatch.setattr(timing, "settle", lambda *a, **k: calls.append(1) or 0.0)
    timing.time_interleaved({"a": lambda: None, "jax": lambda: None}, repeat=3, warmup=1,
                            sample_seconds=1e-4, settle_after=("jax",))
    assert len(calls) == 4   # after the warm-up and after each of the 3 samples


def test_interleaved_timing_times_each_candidate_on_its_own_warm_caches():
    # a candidate whose first calls after another candidate's are slow (its data out of the
    # caches): its samples are timed after untimed calls of its own, so the slow calls are not
    # in them
    from cypool.commands import timing
    last = [None]

    def make(name):
        def call():
            if last[0] != name:
                time.sleep(0.01)
            last[0] = name
        return call

    t = timing.time_interleaved({"a": make("a"), "b": make("b")}, repeat=3, warmup=1,
                                sample_seconds=1e-4, max_calls=8)
    assert t["a"] < 0.0005 and t["b"] < 0.0005, t   # 1.25 ms a call if a slow one is timed


def test_bench_without_torch_in_process(tmp_path):
    threads_before = cypool.get_num_threads()
    names = ["tiny-max2", "head-gap", "avg2", "3d-max2"]
    result = bench.run(threads=2, repeat=1, smoke=True, out=str(tmp_path), use_torch=False,
                       only=names, verbose=False, peers=())
    _check_result(result, tmp_path, with_torch=False, names=names)
    assert cypool.get_num_threads() == threads_before  # the bench restores the thread count


@pytest.mark.torch
def test_bench_with_torch(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    result = bench.run(threads=2, repeat=1, smoke=True, out=str(tmp_path), verbose=False,
                       peers=())
    _check_result(result, tmp_path, with_torch=True)
    assert {(b["op"], b["direction"], b["fmt"]) for b in result["big"]} == {
        (op, d, f) for op in ("max", "avg") for d in ("fwd", "bwd") for f in bench.FORMATS}


@pytest.mark.parametrize("use_torch", [False, pytest.param(True, marks=pytest.mark.torch)])
def test_operator_table_covers_every_operator_both_directions_and_formats(tmp_path, use_torch):
    """--all: a row per operator family, forward and backward, both data formats; with torch,
    every operator torch has (or that torch users write from its functions) agrees with it."""
    if use_torch:
        pytest.importorskip("torch")
        pytest.importorskip("matplotlib")
    result = bench.run(threads=2, repeat=1, smoke=True, out=str(tmp_path), verbose=False,
                       all_ops=True, skip_big=True, use_torch=use_torch, peers=())
    names = [c.name for c in bench.ALL_CASES]
    _check_result(result, tmp_path, with_torch=use_torch, names=names)
    ops = {r.case.op for r in result["rows"]}
    assert ops >= {"max", "avg", "adaptive_avg", "adaptive_max", "global_avg", "global_max",
                   "unpool", "lp", "blur", "maxblur", "stochastic", "spp", "conv", "fractional"}
    seen = {(r.case.name, r.direction, r.fmt) for r in result["rows"]}
    for case in bench.OPERATOR_CASES:
        assert case.directions == ("fwd", "bwd")
        for d in case.directions:
            for f in bench.FORMATS:
                assert (case.name, d, f) in seen
    ranks = {r.case.rank for r in result["rows"] if r.case.op in ("max", "avg")}
    assert ranks == {1, 2, 3}
    sizes = {r.case.arg for r in result["rows"] if r.case.op.startswith("adaptive")}
    assert sizes == {7, 6, 1}
    assert result["rows"][0].case.name == bench.CASES[0].name  # the default cases come first
    # the default run stays the short table
    assert bench._selected(None, False) == [c for c in bench.CASES
                                            if bench.case_dtype(c.dtype) is not None]


def test_check_tells_a_differing_result_apart():
    torch = pytest.importorskip("torch")
    a = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    assert bench._check(a, torch.from_numpy(a.copy()), bench.CF) == "ok"
    assert bench._check(a, torch.from_numpy(a + 1e-3), bench.CF) == "DIFFERS"
    cl = np.ascontiguousarray(np.moveaxis(a, 1, -1))
    assert bench._check(cl, torch.from_numpy(a.copy()).contiguous(
        memory_format=torch.channels_last), bench.CL) == "ok"
    assert bench._check(cl, torch.from_numpy(a.copy()), bench.CL) == "ok"  # logical layout
    assert bench._check(a, np.zeros((1, 2, 3, 5), np.float32), bench.CF, stored=True) == "DIFFERS"


def test_check_tolerance_follows_the_largest_magnitude():
    """A float32 sum of many products rounds at the scale of its largest terms: an element near
    zero of an array reaching 50 may differ by 3e-4 (torch's own conv2d weight gradient did),
    a real error still differs, and infinities do not widen the tolerance."""
    b = np.array([[50.0, -20.0, 1e-3, 0.0]], np.float32)
    assert bench._check(b + np.float32(3e-4), b, bench.CF, tol=1e-4, stored=True) == "ok"
    assert bench._check(b + np.float32(0.1), b, bench.CF, tol=1e-4, stored=True) == "DIFFERS"
    small = np.array([[0.5, 1e-3]], np.float32)
    assert bench._check(small + np.float32(3e-4), small, bench.CF, tol=1e-4,
                        stored=True) == "DIFFERS"
    inf = np.array([[np.inf, 1e-3]], np.float32)
    assert bench._check(inf + np.float32([[0, 3e-4]]), inf, bench.CF, tol=1e-4,
                        stored=True) == "DIFFERS"


@pytest.mark.parametrize("fmt", ["CF", "CL"])
def test_global_max_rows_draw_planes_without_tied_maxima(fmt):
    """TensorFlow and JAX share a tied maximum's gradient; the global max rows' planes have none,
    so a peer's check compares the same rule. Each plane keeps its order; other planes untouched."""
    from cypool.commands.bench.operators import _without_tied_maxima
    fmt = bench.CF if fmt == "CF" else bench.CL
    x = bench._random(np.random.default_rng(0), (3, 5, 4, 6), fmt, "float32")
    x.reshape(-1)[:10] = 0.5 - 2.0 ** -24   # the largest value drawn: ties at the maximum
    before = x.copy()
    _without_tied_maxima(x, fmt, 2)
    planes = x if fmt == bench.CF else np.moveaxis(x, -1, 1)
    old = before if fmt == bench.CF else np.moveaxis(before, -1, 1)
    flat, old_flat = planes.reshape(15, 24), old.reshape(15, 24)
    for p, q in zip(flat, old_flat):
        assert len(np.unique(p)) == p.size
        assert np.all(np.diff(p[np.argsort(q, kind="stable")]) > 0)  # the plane's order kept
    assert x.min() >= -0.5 and x.max() < 0.5


def test_bfloat16_rows_run_with_ml_dtypes_and_are_left_out_without_it(monkeypatch):
    names = ["bf16-avg2", "tiny-max2"]
    if bench.case_dtype("bfloat16") is not None:
        result = bench.run(threads=1, repeat=1, smoke=True, use_torch=False, only=names,
                           skip_big=True, verbose=False, peers=())
        rows = [r for r in result["rows"] if r.case.name == "bf16-avg2"]
        assert len(rows) == 4 and all(r.times["cypool"] > 0 for r in rows)
    real_import = builtins.__import__

    def no_ml_dtypes(name, *args, **kwargs):
        if name == "ml_dtypes":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_ml_dtypes)
    assert bench.case_dtype("bfloat16") is None
    result = bench.run(threads=1, repeat=1, smoke=True, use_torch=False, only=names,
                       skip_big=True, verbose=False, peers=())
    assert {r.case.name for r in result["rows"]} == {"tiny-max2"}


def test_optional_peers_are_skipped_when_absent(monkeypatch):
    """TensorFlow and JAX are used only when importable: absent, the run has no such columns."""
    import builtins
    real_import = builtins.__import__

    def no_peers(name, *args, **kwargs):
        if name.split(".")[0] in ("tensorflow", "jax"):
            raise ImportError(f"no module named {name!r} (hidden by the test)")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_peers)
    result = bench.run(threads=1, repeat=1, smoke=True, use_torch=False, only=["avg2"],
                       skip_big=True, verbose=False)
    assert result["peers"] == {}
    for r in result["rows"]:
        assert set(r.times) == ({"cypool", "numpy", "roofline"} if r.direction == "fwd"
                                else {"cypool", "roofline"})
    assert "jax ms" not in bench.markdown(result)


def test_peers_agree_when_installed():
    """With JAX or TensorFlow installed, their rows run and agree with cypool."""
    if not any(importlib.util.find_spec(m) for m in ("jax", "tensorflow")):
        pytest.skip("neither JAX nor TensorFlow is installed")
    result = bench.run(threads=2, repeat=1, smoke=True, use_torch=False, skip_big=True,
                       only=["avg2", "vgg-max2", "conv3x3", "global-max"], verbose=False)
    peers = set(result["peers"])
    assert peers
    for row in result["rows"]:
        if "jax" in peers:  # JAX has every one of these operators, in both formats
            assert "jax" in row.times, (row.case.name, row.direction, row.fmt)
        if "tensorflow" in peers and row.fmt == bench.CL and (
                row.case.name != "global-max" or row.direction == "fwd"):
            # TensorFlow's pooling and conv2d take NHWC; its global max has no backward op here
            assert "tensorflow" in row.times, (row.case.name, row.direction, row.fmt)
        assert row.check in ("ok", ""), (row.case.name, row.direction, row.fmt, row.check)
    assert "cypool/best peer" in bench.markdown(result)


def test_bandwidth_case_runs_max_and_avg_forward_and_backward():
    result = bench.run(threads=2, repeat=1, smoke=True, use_torch=False, big_only=True,
                       verbose=False, peers=())
    assert result["rows"] == []
    combos = {(b["op"], b["direction"], b["fmt"]) for b in result["big"]}
    assert combos == {(op, d, f) for op in ("max", "avg") for d in ("fwd", "bwd")
                      for f in bench.FORMATS}
    for b in result["big"]:
        assert b["out_fraction"] > 0 and b["fresh_fraction"] > 0 and b["moved_mb"] > 0
    text = bench.markdown(result)
    assert "| avg | bwd | CL |" in text and "| max | fwd | CF |" in text


# ----------------------------------------------------------------------------- fresh processes

def test_big_rows_are_the_calls_returning_8_mb_or_more():
    rows = bench.big_rows([bench.find_case("vgg-max2"), bench.find_case("tiny-max2"),
                           bench.find_case("head-gap")], bench.BIG_MB, smoke=False)
    # vgg-max2: forward 12.8 MB, backward 51.4 MB, in both formats; the others return < 8 MB
    assert sorted((c.name, d, f, n) for c, d, f, n in rows) == sorted(
        ("vgg-max2", d, f, n) for d, n in (("fwd", 16 * 64 * 56 * 56 * 4),
                                           ("bwd", 16 * 64 * 112 * 112 * 4))
        for f in bench.FORMATS)
    assert bench.big_rows([bench.find_case("vgg-max2")], bench.BIG_MB, smoke=True) == []


def test_processes_mode_runs_each_row_in_fresh_processes_with_and_without_huge_pages(tmp_path):
    result = bench.run_processes(processes=2, threads=1, repeat=2, smoke=True, use_torch=False,
                                 only=["tiny-max2", "avg2"], min_mb=0, verbose=False)
    keys = {(r["case"].name, r["direction"], r["fmt"]) for r in result["rows"]}
    assert keys == {("tiny-max2", "fwd", f) for f in bench.FORMATS} | {
        ("avg2", d, f) for d in ("fwd", "bwd") for f in bench.FORMATS}
    pids = set()
    for r in result["rows"]:
        assert set(r["runs"]) == {"on", "off"}
        for setting, runs in r["runs"].items():
            assert len(runs) == 2
            for run in runs:
                assert run["times"]["cypool"] > 0 and "torch" not in run["times"]
                assert run["out_nbytes"] == r["out_nbytes"] > 0
                # the child saw the setting asked for (None: a NumPy without the switch)
                assert run["madvise_hugepage"] in ({"on": True, "off": False}[setting], None)
                pids.add(run["pid"])
    # every (row, setting, repetition) ran in a process of its own
    assert len(pids) == sum(len(runs) for r in result["rows"] for runs in r["runs"].values())
    # a row's four processes were timed one at a time: their timing spans do not overlap
    for r in result["rows"]:
        spans = sorted(tuple(x["span"]) for runs in r["runs"].values() for x in runs)
        assert len(spans) == 4 and all(a < b for a, b in spans)
        assert all(spans[k][1] <= spans[k + 1][0] for k in range(3))
    text = bench.markdown_processes(result)
    assert text.count("| tiny-max2 | fwd |") == 4 and "| avg2 | bwd | CL |" in text
    first = result["rows"][0]["runs"]["on"]
    medians = [x["times"]["cypool"] * 1e3 for x in first]
    assert f"**{max(medians) / min(medians):.2f}**" in text
    # each process timed the stream over the call's bytes beside cypool, and the table says how
    # the spread looks once the stream's own swing is divided out
    assert all(x["times"]["roofline"] > 0 for x in first)
    rel = [x["times"]["cypool"] / x["times"]["roofline"] for x in first]
    r0 = result["rows"][0]
    line = next(t for t in text.splitlines() if t.startswith(
        f"| {r0['case'].name} | {r0['direction']} | {'CF' if r0['fmt'] == bench.CF else 'CL'} |")
        and "| on |" in t)
    cells = [c.strip() for c in line.split("|")]
    assert cells[8] == " ".join(f"{x['times']['roofline'] * 1e3:.2f}" for x in first)
    assert cells[9] == f"{max(rel) / min(rel):.2f}"
    sm = bench.summary(result)
    assert sm["pairs"] == 12 and 0 <= sm["within_relative"] <= 12
    assert sm["within"] == sum(max(m) / min(m) <= 1.3 for m in (
        [x["times"]["cypool"] for x in r["runs"][s]] for r in result["rows"] for s in ("on", "off")))
    assert f"{sm['within']} of 12 (row, setting) pairs" in text


@pytest.mark.torch
def test_processes_mode_times_torch_beside_cypool(tmp_path):
    pytest.importorskip("torch")
    code = bench.main(["--processes", "1", "--smoke", "--case", "small-max2", "--min-mb", "0",
                       "--huge-pages", "off", "--quick", "--out", str(tmp_path)])
    assert code == 0
    text = (tmp_path / "new_output_stability.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| small-max2 |")]
    assert len(rows) == 4 and all("| off |" in line for line in rows)
    assert all(line.split("|")[-2].strip() for line in rows)  # worst cypool/torch is filled


def test_processes_mode_reports_a_failing_child():
    from cypool.commands.bench import processes
    with pytest.raises(RuntimeError, match="no-such-case/fwd/cf.*ended without a result"):
        processes._run_row("no-such-case/fwd/cf", {"on": processes.SETTINGS["on"]}, 2, 1, 1,
                           True, False, lambda *a: None)


def test_processes_mode_refuses_bad_arguments(capsys):
    for argv in (["--processes", "0"], ["--case", "no-such-case"]):
        with pytest.raises(SystemExit):
            bench.main(argv)
        assert "--" in capsys.readouterr().err


def test_script_and_module_entry_points(tmp_path):
    """`python benchmarks/compare_frameworks.py`, `python -m cypool bench` and
    `python -m cypool.bench` all run, and `python benchmarks/new_output_stability.py` runs the
    fresh-process mode (children in a neutral folder importing the cypool under test)."""
    env = python_env_for_subprocess()
    script = os.path.join(ROOT, "benchmarks", "compare_frameworks.py")
    for cmd, out in (([sys.executable, script], tmp_path / "script"),
                     ([sys.executable, "-m", "cypool", "bench"], tmp_path / "module"),
                     ([sys.executable, "-m", "cypool.bench"], tmp_path / "alias")):
        if not os.path.exists(cmd[-1]) and cmd[-1].endswith(".py"):
            continue  # benchmarks/ is not shipped with an installed cypool
        p = subprocess.run(cmd + ["--smoke", "--quick", "--no-torch", "--skip-big", "--case",
                                  "tiny-max2", "--out", str(out)], cwd=str(tmp_path), env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        assert "tiny-max2" in (out / "compare_frameworks.md").read_text()
    stability = os.path.join(ROOT, "benchmarks", "new_output_stability.py")
    if os.path.exists(stability):
        p = subprocess.run([sys.executable, stability, "--processes", "1", "--smoke", "--quick",
                            "--no-torch", "--case", "tiny-max2", "--min-mb", "0", "--out",
                            str(tmp_path / "stability")], cwd=str(tmp_path), env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        text = (tmp_path / "stability" / "new_output_stability.md").read_text()
        assert text.count("| tiny-max2 | fwd |") == 4


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

"""The asv suites stay runnable: every suite class is imported, set up on its smallest parameters
and its benchmark methods called once, as asv would. No timing is asserted; asv itself is not run.
A suite needing a missing optional library is skipped, as asv would skip it."""
from __future__ import annotations

import importlib
import inspect
import sys
import types
from pathlib import Path

import numpy as np
import pytest

# Appended, not prepended: an installed cypool (CI) must win over the source tree's cypool/.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

MODULES = ["benchmark_forward", "benchmark_backward", "benchmark_threads", "benchmark_memory",
           "benchmark_roofline", "benchmark_reference", "benchmark_strategies", "benchmark_gate",
           "benchmark_counts", "benchmark_operators", "benchmark_half"]
PREFIXES = ("time_", "peakmem_", "track_", "mem_")


def suites(module):
    for name, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ == module.__name__ and any(
                m.startswith(PREFIXES) for m in dir(cls)):
            yield cls


def smallest_params(cls):
    """The parameter combination with the smallest input: per axis, the layer of common.CASES with
    the fewest elements, else a value naming a small size, else the first value."""
    from benchmarks.common import CASES as LAYERS
    params = getattr(cls, "params", None)
    if not params:
        return ()
    if not isinstance(params[0], list):
        params = [params]

    def rank(value):
        if value in LAYERS:
            return int(np.prod(LAYERS[value][0]))
        v = str(value)
        return 0 if "tiny" in v else 1 if "small" in v else 2
    return tuple(sorted(axis, key=rank)[0] for axis in params)


def run_suite(cls, args):
    """setup_cache (its value goes first, as asv passes it), setup, each benchmark method once,
    teardown; returns {method: value}."""
    bench = cls()
    out = {}
    if hasattr(bench, "setup_cache"):
        args = (bench.setup_cache(), *args)
    if hasattr(bench, "setup"):
        bench.setup(*args)
    try:
        for name in sorted(dir(bench)):
            if name.startswith(PREFIXES):
                out[name] = getattr(bench, name)(*args)
    finally:
        if hasattr(bench, "teardown"):
            bench.teardown(*args)
    return out


def check_values(cls, values):
    for name, value in values.items():
        if name.startswith("track_"):
            assert isinstance(value, (int, float)) and np.isfinite(value) and value > 0, \
                (cls.__name__, name, value)
            assert getattr(getattr(cls, name), "unit", None), f"{cls.__name__}.{name} has no unit"


CASES = [(m, c.__name__) for m in MODULES
         for c in suites(importlib.import_module(f"benchmarks.{m}"))]


@pytest.mark.parametrize("module,suite", CASES, ids=[f"{m}.{s}" for m, s in CASES])
def test_suite_runs_on_smallest_params(module, suite, monkeypatch):
    # the count suite counts one small case only (one callgrind run of all would take a minute)
    monkeypatch.setenv("CYPOOL_COUNT_CASES", "avg-fwd-cf-tiles7-2x2s2")
    cls = getattr(importlib.import_module(f"benchmarks.{module}"), suite)
    if getattr(cls, "param_names", None):
        assert len(cls.param_names) == len(cls.params if isinstance(cls.params[0], list)
                                           else [cls.params])
    args = smallest_params(cls)
    if suite == "CountSuite":
        args = ("avg-fwd-cf-tiles7-2x2s2",)
    try:
        values = run_suite(cls, args)
    except NotImplementedError as skipped:
        pytest.skip(f"{suite}{args}: {skipped}")
    check_values(cls, values)


def test_reference_suite_skips_only_what_it_cannot_express():
    from benchmarks.benchmark_reference import ReferenceSuite
    with pytest.raises(NotImplementedError, match="non-overlapping"):
        ReferenceSuite().setup("numpy-reshape", "max", "inception-3x3s1p1")
    bench = ReferenceSuite()
    bench.setup("numpy-reshape", "avg", "small-2x2s2")
    import cypool
    np.testing.assert_allclose(bench.fn(bench.x), cypool.avg_pool2d(bench.x, 2), rtol=1e-5, atol=1e-6)


class _FakeStrategy:
    """A registry entry with the documented interface, to prove the suite needs no edit."""

    def __init__(self, name, has_backward):
        self.name, self.description, self.has_backward = name, "2x2 max", has_backward

    def forward(self, x):
        import cypool
        self.shape = x.shape
        return cypool.max_pool2d(x, 2)

    def backward(self, grad):
        if not self.has_backward:
            raise NotImplementedError
        return np.repeat(np.repeat(grad, 2, axis=2), 2, axis=3)

    def n_params(self, channels):
        return 0

    def cost(self, shape):
        n = int(np.prod(shape))
        return {"flops": n, "bytes": 4 * n + n}


def test_strategy_suite_follows_the_registry(monkeypatch):
    registry = {"plugin-a": _FakeStrategy("plugin-a", True),
                "plugin-b": _FakeStrategy("plugin-b", False)}
    fake = types.ModuleType("cypool.strategies")
    fake.available = lambda: dict(registry)
    monkeypatch.setitem(sys.modules, "cypool.strategies", fake)
    import cypool
    monkeypatch.setattr(cypool, "strategies", fake, raising=False)
    mod = importlib.reload(importlib.import_module("benchmarks.benchmark_strategies"))
    try:
        assert mod.StrategySuite.params[0] == ["plugin-a", "plugin-b"]
        shape = "small (64,32,28,28)"
        values = run_suite(mod.StrategySuite, ("plugin-b", shape))
        assert values["track_achieved_gbs"] > 0
        run_suite(mod.StrategyBackwardSuite, ("plugin-a", shape))
        with pytest.raises(NotImplementedError, match="no backward"):
            mod.StrategyBackwardSuite().setup("plugin-b", shape)
        with pytest.raises(NotImplementedError, match="not in this build"):
            mod.StrategySuite().setup("plugin-c", shape)
    finally:
        monkeypatch.undo()
        importlib.reload(mod)


def test_strategy_suite_skips_without_registry(monkeypatch):
    monkeypatch.setitem(sys.modules, "cypool.strategies", None)  # import raises ImportError
    mod = importlib.reload(importlib.import_module("benchmarks.benchmark_strategies"))
    try:
        assert mod.StrategySuite.params[0] == ["unavailable"]
        with pytest.raises(NotImplementedError):
            mod.StrategySuite().setup("unavailable", "small (64,32,28,28)")
    finally:
        monkeypatch.undo()
        importlib.reload(mod)


def _write_results(root, machine, commit, date, values):
    """A minimal asv results file (asv 0.6 layout) for one parameterised benchmark."""
    import json
    folder = root / machine
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
    data = {"commit_hash": commit, "env_name": "virtualenv-py3.11", "date": date,
            "params": {"machine": machine}, "python": "3.11", "requirements": {},
            "env_vars": {}, "result_columns": ["result", "params", "version", "stats_q_25",
                                               "stats_q_75"],
            "results": {"benchmark_x.Suite.time_f": [
                values, [["'max'", "'avg'"], ["1", "2"]], "v1",
                [v and v * 0.9 for v in values], [v and v * 1.1 for v in values]]},
            "durations": {}, "version": 2}
    (folder / f"{commit[:8]}-virtualenv-py3.11.json").write_text(json.dumps(data))


def test_history_plot_reads_asv_results(tmp_path):
    pytest.importorskip("matplotlib")
    import json
    from cypool.commands import plots
    results = tmp_path / "results"
    results.mkdir()
    (results / "benchmarks.json").write_text(json.dumps({
        "benchmark_x.Suite.time_f": {"unit": "seconds", "param_names": ["op", "n"],
                                     "params": [["'max'", "'avg'"], ["1", "2"]],
                                     "type": "time"}, "version": 2}))
    _write_results(results, "box", "a" * 40, 1000, [1e-3, 2e-3, 3e-3, 4e-3])
    _write_results(results, "box", "b" * 40, 2000, [1.5e-3, 2e-3, 3e-3, None])
    runs = plots.load_runs(str(results))
    assert [r.commit[0] for r in runs] == ["a", "b"]
    # asv's flat result list follows itertools.product order of the parameters.
    assert runs[0].results["benchmark_x.Suite.time_f"][("'avg'", "2")][0] == 4e-3
    series = plots.series_for(runs, "benchmark_x.Suite.time_f",
                              plots.load_benchmarks(str(results))["benchmark_x.Suite.time_f"],
                              {"op": {"max"}})
    assert sorted(series) == ["n=1", "n=2"]
    assert [(c[0], v) for c, v, _, _ in series["n=1"]] == [("a", 1e-3), ("b", 1.5e-3)]
    assert series["n=1"][1][2:] == pytest.approx((1.35e-3, 1.65e-3))
    assert [v for _, v, _, _ in series["n=2"]] == [2e-3, 2e-3]
    out = tmp_path / "h.png"
    assert plots.main(["history", "--results", str(results), "--bench", "time_f",
                       "--where", "op=max", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.main(["history", "--results", str(results), "--where", "nope=1",
                       "--out", str(out)]) == 2


# ----------------------------------------------------------------------------- counts and the gate

def _counting():
    from benchmarks import counting
    try:
        counting.shim_library()
    except counting.CountingUnavailable as exc:
        pytest.skip(str(exc))
    return counting


def test_counts_repeat_and_see_the_work():
    """Two callgrind runs count the same (within 0.5%, in practice 0.01%); a call doing more work
    counts more (the 3x3/s1 window against the 2x2/s2 on the same input); and only the measured
    call is counted, not the interpreter's start-up or the data's creation (a small call counts
    far fewer instructions than starting Python, tens of millions)."""
    counting = _counting()
    names = ["avg-fwd-cf-tiles7-2x2s2", "avg-bwd-cf-tiles7-3x3s1p1", "global-avg-fwd-cl-7"]
    first, second = counting.count(names), counting.count(names)
    for name in names:
        for metric in counting.METRICS:
            a, b = first[name][metric], second[name][metric]
            assert a > 0 and abs(a - b) <= 0.005 * a, (name, metric, a, b)
    assert first["avg-bwd-cf-tiles7-3x3s1p1"]["instructions"] > \
        first["avg-fwd-cf-tiles7-2x2s2"]["instructions"]
    assert 1e4 < first["avg-fwd-cf-tiles7-2x2s2"]["instructions"] < 5e6


def test_count_cases_use_the_public_api_and_report_what_a_build_lacks(monkeypatch):
    from benchmarks import counting
    import cypool
    for name in counting.CASES:
        assert counting.CASES[name][0] in dir(cypool)
    monkeypatch.delattr(cypool, "global_max_pool2d")
    with pytest.raises(AttributeError):
        counting.make_call("global-max-fwd-cf-7")


def test_gate_statistics_and_markers(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    # exact one-sided Mann-Whitney: 6 rounds all slower -> 1/924; identical samples -> 1
    assert gate.mann_whitney_p([2.0] * 3 + [2.1] * 3, [1.0] * 6) == pytest.approx(1 / 924)
    assert gate.mann_whitney_p([1.0] * 6, [1.0] * 6) == 1.0
    assert gate.mann_whitney_p([1, 3, 5, 7, 9, 11], [2, 4, 6, 8, 10, 12]) > 0.5
    base = {"a": {"instructions": 1000, "d1_misses": 100000, "ll_misses": 100, "est_cycles": 1},
            "b": {"instructions": 1000, "d1_misses": 100, "ll_misses": 100, "est_cycles": 1},
            "c": {"error": "AttributeError"}}
    head = {"a": {"instructions": 1019, "d1_misses": 110000, "ll_misses": 100, "est_cycles": 1},
            "b": {"instructions": 1021, "d1_misses": 1000, "ll_misses": 100, "est_cycles": 1},
            "c": {"instructions": 5, "d1_misses": 5, "ll_misses": 5, "est_cycles": 5}}
    flags = gate.count_flags(base, head, 0.02, 0.05, 2000)
    # a: +1.9% instructions passes, +10% D1 misses (10000 more) fails; b: +2.1% instructions
    # fails, +900 D1 misses is under the floor; c: BASE cannot run it, not compared
    assert set(flags) == {"a", "b"}
    assert flags["a"] == ["d1_misses x1.100"] and flags["b"] == ["instructions x1.021"]
    # one value per layout: a case with two miss counts by layout (BASE saw both, HEAD only the
    # larger) is not flagged; one whose every layout is 15% over BASE's largest is
    base = gate.count_layouts([
        {"t": {"instructions": 1000, "d1_misses": d1, "ll_misses": 100, "est_cycles": 1}}
        for d1 in (72000, 88000, 72000, 71900)])
    assert base["t"]["d1_misses"] == [72000, 88000, 72000, 71900]
    head = {"t": {"instructions": [1000] * 4, "d1_misses": [88700] * 4, "ll_misses": [100] * 4,
                  "est_cycles": [1] * 4}}
    assert gate.count_flags(base, head, 0.02, 0.10, 5000) == {}
    head["t"]["d1_misses"] = [101300, 101400, 101300, 101200]
    assert gate.count_flags(base, head, 0.02, 0.10, 5000) == {"t": ["d1_misses x1.150"]}
    assert gate.count_layouts([{"t": {"error": "x"}}, {"t": {"instructions": 1}}]) == \
        {"t": {"error": "x"}}

    # the confirmation: a case flagged in the run of all cases is counted alone in each layout;
    # BASE alone in layout 1 reaches HEAD's count (a layout, not a regression), case "r" stays
    def fake_count(names, src, layout=0):
        alone = len(names) == 1
        out = {}
        for n in names:
            d1 = {"base": 72000, "head": 88000}[src]
            if n == "t" and src == "base" and alone and layout == 1:
                d1 = 88100
            if n == "r":
                d1 = {"base": 50000, "head": 80000}[src]
            out[n] = {"instructions": 10, "d1_misses": d1, "ll_misses": 1, "est_cycles": 1}
        return out
    b, h = gate.count_both(["t", "r"], "base", "head", 3, count=fake_count)
    assert b["t"]["d1_misses"] == [72000] * 3 and h["r"]["d1_misses"] == [80000] * 3
    assert set(gate.count_flags(b, h, 0.02, 0.10, 5000)) == {"t", "r"}
    b2, h2 = gate.count_both(["t", "r"], "base", "head", 3, alone=True, count=fake_count)
    b, h = gate.merge_counts(b, b2), gate.merge_counts(h, h2)
    assert b["t"]["d1_misses"] == [72000] * 3 + [72000, 88100, 72000]
    assert set(gate.count_flags(b, h, 0.02, 0.10, 5000)) == {"r"}
    # Perf-accept markers in the commits of BASE..HEAD
    import shutil
    import subprocess
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the Perf-accept markers are read from git history")
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                              text=True).stdout.strip()
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "a")
    base_sha = git("rev-parse", "HEAD")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m",
        "slower on purpose\n\nPerf-accept: max-fwd-cl-*, avg-bwd-cf-small-2x2s2")
    assert gate.accepted_patterns(base_sha, "HEAD", str(repo)) == ["max-fwd-cl-*",
                                                                  "avg-bwd-cf-small-2x2s2"]
    assert gate.accepted_patterns(base_sha, base_sha, str(repo)) == []


def test_history_plot_draws_counts(tmp_path):
    """Counts (unit "instructions") are scaled like times (here to millions) and `--counts` adds
    the count suite's panels next to the chosen time benchmarks."""
    pytest.importorskip("matplotlib")
    import json
    from cypool.commands import plots
    assert plots._scale("instructions", [2.5e6, 3e6]) == (1e6, "M instructions")
    assert plots._scale("misses", [12000, 13000]) == (1e3, "k misses")
    results = tmp_path / "results"
    (results / "box").mkdir(parents=True)
    (results / "benchmarks.json").write_text(json.dumps({
        "benchmark_counts.CountSuite.track_instructions": {
            "unit": "instructions", "param_names": ["case"], "params": [["'a'", "'b'"]],
            "type": "track"},
        "benchmark_counts.CountSuite.track_ll_misses": {
            "unit": "misses", "param_names": ["case"], "params": [["'a'", "'b'"]],
            "type": "track"}, "version": 2}))
    (results / "box" / "machine.json").write_text(json.dumps({"machine": "box", "version": 1}))
    for commit, date, n in (("c" * 40, 1, 1.0), ("d" * 40, 2, 1.3)):
        (results / "box" / f"{commit[:8]}-env.json").write_text(json.dumps({
            "commit_hash": commit, "env_name": "env", "date": date, "params": {},
            "result_columns": ["result", "params"],
            "results": {
                "benchmark_counts.CountSuite.track_instructions": [[n * 2e6, 3e6],
                                                                   [["'a'", "'b'"]]],
                "benchmark_counts.CountSuite.track_ll_misses": [[n * 1e5, 2e5],
                                                                [["'a'", "'b'"]]]},
            "version": 2}))
    runs = plots.load_runs(str(results))
    meta = plots.load_benchmarks(str(results))
    series = plots.series_for(runs, "benchmark_counts.CountSuite.track_instructions",
                              meta["benchmark_counts.CountSuite.track_instructions"],
                              {"case": {"a"}})
    assert [v for _, v, _, _ in series["track_instructions"]] == [2e6, 2.6e6]
    out = tmp_path / "c.png"
    assert plots.main(["history", "--results", str(results), "--counts", "--where", "case=a",
                       "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_operator_suite_lists_the_bench_operator_table():
    from benchmarks.benchmark_operators import OPERATORS
    from cypool.commands import bench
    assert OPERATORS == [c.name for c in bench.OPERATOR_CASES]


def test_operator_suite_runs_every_operator_direction_and_format(monkeypatch):
    """Every parameter combination of the operator suite, on the bench's smoke shapes."""
    from benchmarks import benchmark_operators as suite
    from cypool.commands import bench
    monkeypatch.setattr(suite, "input_shape", bench._smoke_shape)
    ran = set()
    for operator in suite.OPERATORS:
        for direction in ("fwd", "bwd"):
            for fmt in ("channels_first", "channels_last"):
                assert run_suite(suite.OperatorSuite, (operator, direction, fmt)) == {
                    "time_operator": None}
                ran.add((operator, direction, fmt))
    assert len(ran) == 4 * len(bench.OPERATOR_CASES)

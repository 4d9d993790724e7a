"""The regression gate: counts and wall time of HEAD against its first parent.

    python benchmarks/gate.py [BASE [HEAD]]        (benchmarks/check_regressions.sh runs this)

BASE defaults to HEAD's first parent (HEAD^). Both commits are built once each (see `build`), then:

1. **Counts** (benchmarks/counting.py): instructions, simulated first-level and last-level data
   cache misses of every case of `counting.CASES` (the gate's single-thread layers and the other
   fast paths), under callgrind, for both builds. Counts of one build in one memory layout repeat
   exactly; what moves them without a change to the kernels is the layout (where the call's
   buffers sit: up to 1.2% of a small call's instructions, and for some calls two miss counts 23%
   apart, one or the other by what ran before and by the other modules' code). So each build is
   counted in CYPOOL_GATE_LAYOUTS layouts (default 3; counting.LAYOUT_STEP), and a case regresses
   only when HEAD's smallest count over its layouts exceeds BASE's largest: instructions by more
   than CYPOOL_GATE_INSTR (default 2%), a miss count by more than CYPOOL_GATE_MISSES (default 10%)
   and by at least CYPOOL_GATE_MISS_FLOOR misses (default 5000). A flagged case is counted
   again, alone in a run of its own in each layout (another heap history than the run of all
   cases), and stays flagged only when the rule still holds over all its counts. A change smaller
   than a case's own spread over layouts is left to the wall time.
2. **Wall time**, for what counts miss (threads, page faults, memory bandwidth): the gate's 16
   single-thread cases (max/avg, forward/backward, both data formats, the small and overlapping
   layers) are timed in CYPOOL_GATE_ROUNDS (default 6) alternating processes per commit (B H B H
   ...), each with cypool's timing loop (cypool/commands/timing.py). A case is flagged when the
   median of HEAD's rounds is slower than BASE's by more than CYPOOL_GATE_FACTOR (default 1.25)
   and a one-sided Mann-Whitney test of the rounds gives p < 0.05; flagged cases are timed again
   in as many rounds, and a case regresses when it is flagged again (the rule of the asv gate
   before it, docs/records/2026-11-29-asv-gate-experiment.md). CYPOOL_GATE_TIME=0 skips this part.

The gate fails (exit 1) on a regression that no `Perf-accept:` marker covers. A commit of
BASE..HEAD accepts an intended slowdown with a line in its message, one or more case-name
patterns (shell wildcards, `*` for all) separated by spaces or commas:

    Perf-accept: max-fwd-cf-* avg-bwd-cl-small-2x2s2

Accepted regressions are reported, and the gate passes. A case BASE cannot run (a function it
lacks) is reported and skipped; a missing BASE (first commit, shallow clone) or a BASE that does
not build is reported and the gate passes; a HEAD that does not build fails it.

Builds: each commit's tree is exported (`git archive`) into CYPOOL_GATE_CACHE (default
~/.cache/cypool-gate) and built in place (`setup.py build_ext --inplace`). Compiled extensions
are kept per build input (the tree of pyx/, setup.py, pyproject.toml, the Python, NumPy and Cython
versions), so two commits with the same kernels share one build, and a later run reuses it.

Other settings: CYPOOL_GATE_JSON=path writes every number to a JSON file.
"""
from __future__ import annotations

import argparse
import fnmatch
import glob
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import counting  # noqa: E402  (this checkout's cases and counting, for both commits)

TIME_CASES = counting.GATE_CASES


def _env_float(name, default):
    return float(os.environ.get(name, default))


def git(*args, cwd=None, check=True) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip() if p.returncode == 0 else ""


def log(msg=""):
    print(f"gate: {msg}" if msg else "", flush=True)


# ----------------------------------------------------------------------------- builds

def _cache_root() -> str:
    root = os.environ.get("CYPOOL_GATE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "cypool-gate")
    os.makedirs(root, exist_ok=True)
    return root


def _tool_versions() -> str:
    code = ("import sys, numpy, Cython; "
            "print(sys.version.split()[0], numpy.__version__, Cython.__version__)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("building needs numpy and Cython in this Python: "
                           "pip install cython setuptools wheel")
    return p.stdout.strip()


def build_key(commit: str, repo: str) -> str:
    parts = [git("rev-parse", f"{commit}:{path}", cwd=repo, check=False)
             for path in ("pyx", "setup.py", "pyproject.toml")]
    parts.append(_tool_versions())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def build(commit: str, repo: str) -> str:
    """A directory holding `commit`'s source with its extensions built in place."""
    root = _cache_root()
    src = os.path.join(root, "src", commit)
    key = build_key(commit, repo)
    saved = os.path.join(root, "builds", key)
    if not os.path.isdir(src):
        tmp = src + f".{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        archive = subprocess.run(["git", "archive", commit], cwd=repo, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        os.replace(tmp, src)
    built = glob.glob(os.path.join(src, "cypool", "*.so"))
    if built:
        return src
    if os.path.isdir(saved):
        for so in glob.glob(os.path.join(saved, "*.so")):
            shutil.copy2(so, os.path.join(src, "cypool"))
        log(f"{commit[:10]}: extensions of build {key} reused (same pyx/, setup.py and tools)")
        return src
    t0 = time.monotonic()
    log(f"{commit[:10]}: building (setup.py build_ext --inplace -j 2)")
    p = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-j", "2"],
                       cwd=src, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{commit[:10]} does not build:\n{p.stderr[-3000:]}")
    tmp = saved + f".{os.getpid()}.tmp"
    os.makedirs(tmp, exist_ok=True)
    for so in glob.glob(os.path.join(src, "cypool", "*.so")):
        shutil.copy2(so, tmp)
    shutil.rmtree(saved, ignore_errors=True)
    os.replace(tmp, saved)
    log(f"{commit[:10]}: built in {time.monotonic() - t0:.0f} s")
    return src


# ----------------------------------------------------------------------------- wall time

TIMING_CHILD = r"""
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])          # this checkout's benchmarks/ (the cases)
spec = importlib.util.spec_from_file_location("cypool_timing", sys.argv[2])
timing = importlib.util.module_from_spec(spec); spec.loader.exec_module(timing)
import counting, cypool
cypool.set_num_threads(1)
out = {}
for name in sys.argv[3:]:
    try:
        fn = counting.make_call(name)
    except (AttributeError, TypeError, ValueError, NotImplementedError) as exc:
        out[name] = None
        continue
    out[name] = timing.time_interleaved({name: fn}, repeat=5)[name]
    del fn
print(json.dumps(out))
"""


def time_round(src: str, names) -> dict:
    """One process timing every named case against the build in `src`."""
    timing_py = os.path.join(os.path.dirname(HERE), "cypool", "commands", "timing.py")
    env = dict(os.environ, PYTHONPATH=src, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([sys.executable, "-c", TIMING_CHILD, HERE, timing_py, *names],
                           cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"timing run failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def mann_whitney_p(slower, faster) -> float:
    """Exact one-sided p-value that `slower` is not stochastically larger than `faster`
    (every split of the pooled samples, ranks with ties averaged)."""
    pooled = sorted(slower + faster)
    ranks = {}
    for v in set(pooled):
        idx = [i for i, w in enumerate(pooled) if w == v]
        ranks[v] = sum(idx) / len(idx) + 1
    r = [ranks[v] for v in slower + faster]
    observed = sum(r[:len(slower)])
    n, hits, total = len(slower), 0, 0
    for combo in itertools.combinations(range(len(r)), n):
        total += 1
        hits += sum(r[i] for i in combo) >= observed - 1e-9
    return hits / total


def time_compare(base_src, head_src, names, rounds) -> dict:
    """{case: {"base": [...], "head": [...], "ratio", "p"}} from alternating processes."""
    samples = {n: {"base": [], "head": []} for n in names}
    for _ in range(rounds):
        for side, src in (("base", base_src), ("head", head_src)):
            for name, t in time_round(src, names).items():
                if t is not None:
                    samples[name][side].append(t)
    for name, s in samples.items():
        if s["base"] and s["head"]:
            s["ratio"] = statistics.median(s["head"]) / statistics.median(s["base"])
            s["p"] = mann_whitney_p(s["head"], s["base"])
    return samples


# ----------------------------------------------------------------------------- verdict

def _values(v) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def count_layouts(runs: list) -> dict:
    """{case: {metric: [one value per layout]}} (or {"error": ...}) from count() runs of one
    build in several layouts."""
    out = {}
    for name in runs[0]:
        per = [r[name] for r in runs]
        bad = next((m for m in per if "error" in m), None)
        out[name] = dict(bad) if bad else {k: [m[k] for m in per] for k in per[0]}
    return out


def merge_counts(a: dict, b: dict) -> dict:
    """The counts of a and b together, per case and metric (an error in either wins)."""
    out = {}
    for name, m in a.items():
        n = b.get(name)
        if n is None:
            out[name] = m
        elif "error" in m or "error" in n:
            out[name] = m if "error" in m else n
        else:
            out[name] = {k: _values(m[k]) + _values(n[k]) for k in m}
    return out


def count_both(names, base_src, head_src, layouts, alone=False, count=None):
    """(BASE's, HEAD's) counts, {case: {metric: [one value per run]}}, in `layouts` layouts; two
    callgrind runs at a time. alone: each case in a run of its own."""
    count = count or counting.count
    groups = [[n] for n in names] if alone else [list(names)]
    with ThreadPoolExecutor(2) as pool:
        jobs = [[pool.submit(count, g, src, layout=k) for k in range(layouts) for g in groups]
                for src in (base_src, head_src)]
        sides = []
        for side in jobs:
            runs = [f.result() for f in side]
            per_layout = [{} for _ in range(layouts)]
            for i, r in enumerate(runs):
                per_layout[i // len(groups)].update(r)
            sides.append(count_layouts(per_layout))
    return sides[0], sides[1]


def count_flags(base: dict, head: dict, instr_tol, miss_tol, miss_floor) -> dict:
    """{case: [reasons]} of the count regressions; cases BASE lacks are left out. A metric holds
    one value or one per layout: HEAD's smallest is compared with BASE's largest, so a case
    whose count moves with the layout alone is not flagged for it."""
    flags = {}
    for name, h in head.items():
        b = base.get(name, {})
        if not h or not b or "error" in h or "error" in b:
            continue
        reasons = []
        lo = {m: min(_values(h[m])) for m in ("instructions", "d1_misses", "ll_misses")}
        hi = {m: max(_values(b[m])) for m in ("instructions", "d1_misses", "ll_misses")}
        if lo["instructions"] > hi["instructions"] * (1 + instr_tol):
            reasons.append(f"instructions x{lo['instructions'] / hi['instructions']:.3f}")
        for m in ("d1_misses", "ll_misses"):
            if lo[m] > hi[m] * (1 + miss_tol) and lo[m] - hi[m] >= miss_floor:
                reasons.append(f"{m} x{lo[m] / max(hi[m], 1):.3f}")
        if reasons:
            flags[name] = reasons
    return flags


def accepted_patterns(base: str, head: str, repo: str) -> list[str]:
    text = git("log", "--format=%B", f"{base}..{head}", cwd=repo, check=False)
    pats = []
    for line in text.splitlines():
        m = re.match(r"\s*Perf-accept:\s*(.+)$", line, re.IGNORECASE)
        if m:
            pats += [p for p in re.split(r"[\s,]+", m.group(1).strip()) if p]
    return pats


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _ratio(h, b):
    return h / b if b else math.inf


def _spread(v) -> float:
    vs = _values(v)
    return max(vs) / min(vs) - 1 if min(vs) > 0 else 0.0


def report_table(names, counts_base, counts_head, times) -> list[str]:
    """Per case: HEAD's median count over the layouts (HEAD/BASE medians), the largest spread of
    a metric over the layouts (BASE / HEAD), and the wall-time ratio."""
    lines = ["| case | instructions | d1 misses | ll misses | est. cycles | layout spread "
             "(base / head) | time (head/base) |", "|---|---|---|---|---|---|---|"]
    for name in names:
        b, h = counts_base.get(name, {}), counts_head.get(name, {})
        if "error" in h:
            cells = [f"HEAD cannot run it: {h['error']}"] + [""] * 4
        elif not h:
            cells = ["not counted"] + [""] * 4
        elif "error" in b or not b:
            cells = ["not in BASE"] + [""] * 4
        else:
            med = {m: (statistics.median(_values(h[m])), statistics.median(_values(b[m])))
                   for m in counting.METRICS}
            cells = [f"{med[m][0]:,.0f} ({_ratio(*med[m]):.4f})" for m in counting.METRICS]
            cells.append(f"{max(_spread(b[m]) for m in counting.METRICS):.1%} / "
                         f"{max(_spread(h[m]) for m in counting.METRICS):.1%}")
        t = times.get(name, {})
        cells.append(f"{t['ratio']:.2f} (p={t['p']:.3f})" if "ratio" in t else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/gate.py", description=__doc__.split("\n")[0])
    ap.add_argument("base", nargs="?", help="commit to compare against (default HEAD^)")
    ap.add_argument("head", nargs="?", default="HEAD")
    a = ap.parse_args(argv)
    t_start = time.monotonic()
    repo = git("rev-parse", "--show-toplevel", cwd=HERE)
    head = git("rev-parse", "--verify", f"{a.head}^{{commit}}", cwd=repo)
    if a.base:
        base = git("rev-parse", "--verify", f"{a.base}^{{commit}}", cwd=repo)
    else:
        base = git("rev-parse", "--quiet", "--verify", f"{head}^1^{{commit}}", cwd=repo,
                   check=False)
        if not base:
            shallow = git("rev-parse", "--is-shallow-repository", cwd=repo, check=False)
            why = "the clone is shallow" if shallow == "true" else "it is the first commit"
            log(f"HEAD {head[:10]} has no parent here ({why}): nothing to compare; passing")
            return 0
    instr_tol = _env_float("CYPOOL_GATE_INSTR", 0.02)
    miss_tol = _env_float("CYPOOL_GATE_MISSES", 0.10)
    miss_floor = _env_float("CYPOOL_GATE_MISS_FLOOR", 5000)
    factor = _env_float("CYPOOL_GATE_FACTOR", 1.25)
    rounds = int(_env_float("CYPOOL_GATE_ROUNDS", 6))
    layouts = int(_env_float("CYPOOL_GATE_LAYOUTS", 3))
    if layouts < 1:
        log(f"FAILED: CYPOOL_GATE_LAYOUTS must be 1 or more, got {layouts}")
        return 1
    do_time = os.environ.get("CYPOOL_GATE_TIME", "1") != "0"
    log(f"load average {_load()}")
    log(f"base {git('log', '-1', '--format=%h %s', base, cwd=repo)}")
    log(f"head {git('log', '-1', '--format=%h %s', head, cwd=repo)}")
    log(f"counts in {layouts} layouts: HEAD's least over BASE's most, instructions "
        f"+{instr_tol:.0%}, misses +{miss_tol:.0%} (and >= {miss_floor:.0f}); "
        f"time: x{factor} and p < 0.05 in {rounds} rounds, confirmed by a second run"
        + ("" if do_time else " (skipped: CYPOOL_GATE_TIME=0)"))

    try:
        head_src = build(head, repo)
    except RuntimeError as exc:
        log(f"FAILED: HEAD does not build. {exc}")
        return 1
    try:
        base_src = build(base, repo)
    except RuntimeError as exc:
        log(f"BASE does not build, so there is nothing to compare; passing. {exc}")
        return 0
    names = list(counting.CASES)
    try:
        counting.shim_library()
        counts_base, counts_head = count_both(names, base_src, head_src, layouts)
    except counting.CountingUnavailable as exc:
        log(f"COUNTS UNAVAILABLE ({exc}): wall time only")
        counts_base = counts_head = {n: {} for n in names}
    t_counts = time.monotonic()
    for name in names:
        if "error" in counts_base[name] and "error" not in counts_head[name]:
            log(f"{name}: BASE cannot run it ({counts_base[name]['error']}); not compared")
    broken = [n for n in names if "error" in counts_head[n]]
    cflags = count_flags(counts_base, counts_head, instr_tol, miss_tol, miss_floor)
    if cflags:
        first = list(cflags)
        log(f"counts flagged {len(first)} case(s): {', '.join(first)}; counting each alone in "
            f"{layouts} layouts")
        again_base, again_head = count_both(first, base_src, head_src, layouts, alone=True)
        counts_base = merge_counts(counts_base, again_base)
        counts_head = merge_counts(counts_head, again_head)
        cflags = count_flags({n: counts_base[n] for n in first},
                             {n: counts_head[n] for n in first}, instr_tol, miss_tol, miss_floor)
        for n in first:
            if n not in cflags:
                log(f"{n}: within BASE's counts once counted alone too: memory layout, "
                    "not a regression")
        t_counts = time.monotonic()

    times, tflags = {}, {}
    if do_time:
        runnable = [n for n in TIME_CASES if "error" not in counts_base[n]
                    and "error" not in counts_head[n]]
        times = time_compare(base_src, head_src, runnable, rounds)
        first = [n for n, s in times.items()
                 if s.get("ratio", 0) > factor and s.get("p", 1) < 0.05]
        if first:
            log(f"time flagged {len(first)} case(s): {', '.join(first)}; timing them again")
            again = time_compare(base_src, head_src, first, rounds)
            for n in first:
                s = again[n]
                times[n]["confirmation"] = {"ratio": s.get("ratio"), "p": s.get("p")}
                if s.get("ratio", 0) > factor and s.get("p", 1) < 0.05:
                    tflags[n] = [f"time x{times[n]['ratio']:.2f}, again x{s['ratio']:.2f}"]
                else:
                    log(f"{n}: not slower in the second run (x{s.get('ratio', 0):.2f}): noise")

    log()
    for line in report_table(names, counts_base, counts_head, times):
        print(line)
    log()
    pats = accepted_patterns(base, head, repo)
    regressions = {}
    for n in names:
        by = []
        if n in cflags:
            by.append(("counts", cflags[n]))
        if n in tflags:
            by.append(("time", tflags[n]))
        if by:
            regressions[n] = by
    failed = False
    accepted = 0
    for n, by in regressions.items():
        what = "; ".join(f"{src}: {', '.join(r)}" for src, r in by)
        flagged_by = " and ".join(src for src, _ in by)
        if any(fnmatch.fnmatchcase(n, p) for p in pats):
            accepted += 1
            log(f"ACCEPTED {n} (flagged by {flagged_by}: {what}) by a Perf-accept marker")
        else:
            failed = True
            log(f"REGRESSION {n} (flagged by {flagged_by}: {what})")
    for n in broken:
        failed = True
        log(f"FAILED {n}: HEAD cannot run it: {counts_head[n]['error']}")
    if pats:
        log(f"Perf-accept markers in {base[:10]}..{head[:10]}: {' '.join(pats)}")
    if os.environ.get("CYPOOL_GATE_JSON"):
        with open(os.environ["CYPOOL_GATE_JSON"], "w", encoding="utf-8") as f:
            json.dump({"base": base, "head": head, "counts_base": counts_base,
                       "counts_head": counts_head, "times": times, "count_flags": cflags,
                       "time_flags": tflags, "accepted": pats, "failed": failed,
                       "seconds": time.monotonic() - t_start, "load_end": _load(),
                       "count_seconds": t_counts - t_start}, f, indent=1)
    log(f"load average {_load()}")
    log(f"{'FAILED' if failed else 'passed'}: {len(regressions)} regression(s), {accepted} "
        f"accepted "
        f"({sum(1 for n in regressions if n in cflags)} by counts, "
        f"{sum(1 for n in regressions if n in tflags)} by time), "
        f"{time.monotonic() - t_start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

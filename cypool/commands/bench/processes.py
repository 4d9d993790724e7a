"""``--processes``: every row whose call returns a big new array, timed in fresh processes per
setting of NumPy's huge-page advice, and the spread of their medians.

The question is whether the process matters (the state a fresh process starts in: how NumPy
advises its pages, how the kernel backs them), so the time of day must not: the memory bandwidth
of a shared machine moves by 1.3x and more from minute to minute. A row's processes (N per
setting) therefore start together and make their inputs, then take the machine one at a time,
back to back, each timing its candidates interleaved (``--child``: the child waits for its
turn on its standard input). A row's processes are timed within seconds of each
other, not minutes, and none runs while another times.

Measured the other ways, on the 2-core development VM: processes started one after another, a
row's processes minutes apart (rows interleaved), the medians followed the machine: the
streaming kernel itself was within 1.3x across a row's processes for 12-35 of 56 pairs. Processes
taking turns one round of samples at a time (so that every median spans the same minutes)
slowed cypool, whose samples came first in a round, by 1.1-2x, unevenly across processes
(vgg-max2 backward channels-first: 2.3 ms alone, 3.1-4.7 ms with 5 processes taking turns):
each round started on a machine the process before had just left, its OpenMP threads still
spinning, its data in the caches.
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import cypool

from ..timing import SAMPLE_SECONDS
from .cases import (BIG_MB, CF, FORMATS, SEED, SMOKE_SAMPLE_SECONDS, _nbytes, _random, _selected,
                    _smoke_shape, find_case)
from .operators import _operator
from .peers import _load_peers
from .report import _loadavg, _machine
from .run import _import_torch, _Threads, measure_row


# Settings of the fresh-process mode: environment of each child.
SETTINGS = {"on": {"NUMPY_MADVISE_HUGEPAGE": "1"}, "off": {"NUMPY_MADVISE_HUGEPAGE": "0"}}
CHILD_TAG = "cypool-bench-child:"
TURN_TAG = "cypool-bench-turn"  # a child waiting for its turn; the parent answers with a line
# Seconds between one child's turn and the next: OpenMP's worker threads spin for a while after a
# parallel region; a child's threads still spinning would take a core from the next child.
TURN_GAP = 0.2


def _madvise_hugepage():
    """NumPy's huge-page advice in this process (True/False), or None where NumPy lacks the
    switch. (NumPy's setter returns the old value: set it back at once.)"""
    mod = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(mod, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:
        return None
    old = setter(True)
    setter(old)
    return bool(old)


def wait_for_turn():
    """Say this process waits for its turn (standard output) and wait for the parent's answer
    (a line on standard input)."""
    print(TURN_TAG, flush=True)
    if not sys.stdin.readline():
        raise SystemExit("cypool bench --child: the parent process is gone")


def child(key: str, threads: int, repeat: int, smoke: bool, use_torch: bool) -> dict:
    """One row (key 'case/direction/format') timed in this process once the parent gives it its
    turn (wait_for_turn, after the inputs are made): per-candidate medians (seconds; cypool,
    torch and the streaming kernel over the call's bytes, which says how fast the machine's
    memory was in this process), the bytes cypool's call returns, NumPy's huge-page advice and
    the wall-clock span of the timing (which shows that no two children overlapped)."""
    name, direction, fmt = key.split("/")
    case = find_case(name)
    span = []

    def turn():
        wait_for_turn()
        span.append(time.time())
    torch = _import_torch(use_torch)
    _load_peers((), threads)
    with _Threads(threads, torch):
        row = measure_row(case, direction, fmt, torch, np.random.default_rng(SEED), repeat,
                          SMOKE_SAMPLE_SECONDS if smoke else SAMPLE_SECONDS, smoke,
                          keep=("cypool", "torch", "roofline"), turn=turn)
        span.append(time.time())
    return {"times": row.times, "out_nbytes": row.out_nbytes, "check": row.check,
            "madvise_hugepage": _madvise_hugepage(), "threads": row.threads, "pid": os.getpid(),
            "span": span}


def _cypool_home() -> str:
    """The folder this process imported cypool from."""
    return os.path.dirname(os.path.dirname(os.path.abspath(cypool.__file__)))


def _child_env(extra: dict) -> dict:
    """The environment of a child: this process's, with the folder cypool was imported from
    first on the path (the child imports this same build) and the setting's variables."""
    path = os.pathsep.join(p for p in (_cypool_home(), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


class _Child:
    """A child process timing one row when its turn comes (wait_for_turn on its side)."""

    def __init__(self, key, setting_env, threads, repeat, smoke, use_torch):
        self.key = key
        cmd = [sys.executable, "-m", "cypool.commands.bench", "--child", key,
               "--threads", str(threads), "--repeat", str(repeat)]
        cmd += ["--smoke"] if smoke else []
        cmd += [] if use_torch else ["--no-torch"]
        self.err = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: it never fills up
        # run in cypool's folder: `-m` puts the working folder first on the path
        self.p = subprocess.Popen(cmd, env=_child_env(setting_env), cwd=_cypool_home(),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True)
        self.result = None

    def _failed(self, why):
        self.p.kill()
        self.p.wait()
        self.err.seek(0)
        return RuntimeError(f"the child process for {self.key} {why}:\n"
                            f"{self.err.read()[-2000:]}")

    def wait(self):
        """Until the child waits for its turn (True) or has printed its result (False)."""
        for line in self.p.stdout:
            if line.startswith(TURN_TAG):
                return True
            if line.startswith(CHILD_TAG):
                self.result = json.loads(line[len(CHILD_TAG):])
                return False
        raise self._failed("ended without a result")

    def go(self):
        """Let the child take its turn (once the turn before is quiet); return when it waits
        again or is done."""
        time.sleep(TURN_GAP)
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        return self.wait()

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            if self.p.wait(timeout=60) != 0:
                raise self._failed("failed")
        self.err.close()


def _run_row(key, setting_envs: dict, processes, threads, repeat, smoke, use_torch, log) -> dict:
    """{setting: [child result]}: `processes` fresh children per setting (the settings
    alternating), started together, timing one at a time once all have made their inputs."""
    children = [(s, _Child(key, env, threads, repeat, smoke, use_torch))
                for _ in range(processes) for s, env in setting_envs.items()]
    try:
        for _, c in children:  # each has made its inputs
            if not c.wait():
                raise c._failed("printed a result before its turn")
        for _, c in children:
            if c.go():
                raise c._failed("asked for a second turn")
            c.close()
    except BaseException:
        for _, c in children:
            if c.p.poll() is None:
                c.p.kill()
                c.p.wait()
        raise
    runs = {s: [c.result for t, c in children if t == s] for s in setting_envs}
    for s, results in runs.items():
        for i, res in enumerate(results):
            log(f"process {i + 1}/{processes} {key} huge pages {s}: " + ", ".join(
                f"{k} {v * 1e3:.2f} ms" for k, v in res["times"].items()))
    return runs


def big_rows(cases, min_mb: float, smoke: bool) -> list:
    """(case, direction, format, bytes returned) of every row whose cypool call returns at least
    min_mb MB (1e6 bytes), found by running each call once (no peers, no timing)."""
    rows = []
    rng = np.random.default_rng(SEED)
    for case in cases:
        shape = _smoke_shape(case.shape) if smoke else case.shape
        for direction in case.directions:
            for fmt in FORMATS:
                x = _random(rng, shape, fmt, case.dtype)
                o = _operator(case, fmt, x, None, rng)
                if direction == "fwd":
                    n = _nbytes(o.fwd())
                else:
                    y, aux = o.fwd_aux()
                    y0 = y[0] if isinstance(y, tuple) else y
                    n = _nbytes(o.bwd(np.ones_like(y0), aux))
                del x, o
                if n >= min_mb * 1e6:
                    rows.append((case, direction, fmt, n))
    return rows


def run_processes(processes: int = 5, threads: int = 2, repeat: int = 7, smoke: bool = False,
                  use_torch: bool = True, only=None, all_ops: bool = False, min_mb: float = BIG_MB,
                  settings=("on", "off"), output_cache: bool = True,
                  verbose: bool = True) -> dict:
    """Every row returning >= min_mb MB, timed in `processes` fresh processes per setting of
    NumPy's huge-page advice (one row per process; a row's processes of both settings timed
    back to back, within seconds of each other). Returns {"rows": [{case, direction, fmt,
    out_nbytes, runs: {setting: [child result]}}], ...}."""
    log = print if verbose else (lambda *a, **k: None)
    extra = {} if output_cache else {"CYPOOL_OUTPUT_CACHE": "0"}
    rows = [{"case": c, "direction": d, "fmt": f, "out_nbytes": n,
             "runs": {s: [] for s in settings}}
            for c, d, f, n in big_rows(_selected(only, all_ops), min_mb, smoke)]
    log(f"{len(rows)} rows return >= {min_mb} MB; {processes} fresh processes each per setting")
    load_before = _loadavg()
    for r in rows:
        key = f"{r['case'].name}/{r['direction']}/{r['fmt']}"
        r["runs"] = _run_row(key, {s: {**SETTINGS[s], **extra} for s in settings}, processes,
                             threads, repeat, smoke, use_torch, log)
    return {"rows": rows, "processes": processes, "threads": threads, "repeat": repeat,
            "smoke": smoke, "settings": list(settings), "output_cache": output_cache,
            "min_mb": min_mb, "load": (load_before, _loadavg())}


def spread(values) -> float:
    """Slowest over fastest."""
    return max(values) / min(values)


def _pairs(result: dict):
    """(row, setting, per-process cypool medians in ms, the same processes' cypool/stream
    ratios) of every (row, setting) pair."""
    for r in result["rows"]:
        for s in result["settings"]:
            runs = r["runs"][s]
            ours = [x["times"]["cypool"] * 1e3 for x in runs]
            rel = [x["times"]["cypool"] / x["times"]["roofline"] for x in runs
                   if "roofline" in x["times"]]
            yield r, s, ours, rel


def summary(result: dict, limit: float = 1.3) -> dict:
    """How many (row, setting) pairs have process medians within `limit` of each other, as
    timed and relative to the stream timed beside them; the worst cypool/torch of a process."""
    pairs = list(_pairs(result))
    worst = [x["times"]["cypool"] / x["times"]["torch"] for r in result["rows"]
             for s in result["settings"] for x in r["runs"][s] if "torch" in x["times"]]
    return {"pairs": len(pairs), "limit": limit,
            "within": sum(spread(o) <= limit for _, _, o, _ in pairs),
            "within_relative": sum(bool(rel) and spread(rel) <= limit for *_, rel in pairs),
            "worst_vs_torch": max(worst, default=None)}


def markdown_processes(result: dict) -> str:
    lines = [
        "# cypool and torch in fresh processes: calls returning a big new array",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {_machine()}; "
        f"{result['threads']} threads; numpy {np.__version__}; {result['processes']} fresh "
        f"processes per row and setting, each the median of {result['repeat']} interleaved "
        f"samples (cypool, torch, stream), a row's processes timed back to back; rows "
        f"returning >= {result['min_mb']} MB"
        + ("" if result["output_cache"] else "; cypool's output cache off")
        + ("; SMOKE RUN (tiny shapes)" if result["smoke"] else "") + "."
        + (" 1-minute load average {} at the start, {} at the end.".format(*result["load"])
           if None not in result.get("load", (None,)) else ""),
        "",
        "`huge pages`: NumPy's huge-page advice (`NUMPY_MADVISE_HUGEPAGE`). Per-process medians "
        "in ms, in the order the processes were started; `spread` = slowest process median / "
        "fastest; `stream`: cypool's streaming kernel over the call's bytes, timed beside it in "
        "the same process (how fast the machine's memory was at that moment); `cypool/stream "
        "spread`: the spread of the processes' cypool/stream ratios (the spread left once the "
        "machine's own swing is "
        "divided out); `worst cypool/torch`: the largest ratio of the two medians of one process.",
        "",
        "| case | dir | format | MB returned | huge pages | cypool ms per process | cypool "
        "spread | stream ms per process | cypool/stream spread | torch ms per process | "
        "torch spread | worst cypool/torch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r, s, ours, rel in _pairs(result):
        runs = r["runs"][s]
        stream = [x["times"]["roofline"] * 1e3 for x in runs if "roofline" in x["times"]]
        theirs = [x["times"]["torch"] * 1e3 for x in runs if "torch" in x["times"]]
        worst = max((x["times"]["cypool"] / x["times"]["torch"] for x in runs
                     if "torch" in x["times"]), default=None)
        lines.append(
            f"| {r['case'].name} | {r['direction']} | {'CF' if r['fmt'] == CF else 'CL'} | "
            f"{r['out_nbytes'] / 1e6:.1f} | {s} | {' '.join(f'{v:.2f}' for v in ours)} | "
            f"**{spread(ours):.2f}** | {' '.join(f'{v:.2f}' for v in stream)} | "
            + (f"{spread(rel):.2f}" if rel else "") + " | "
            f"{' '.join(f'{v:.2f}' for v in theirs)} | "
            + (f"{spread(theirs):.2f}" if theirs else "") + " | "
            + (f"{worst:.2f}" if worst is not None else "") + " |")
    sm = summary(result)
    lines += ["", f"{sm['within']} of {sm['pairs']} (row, setting) pairs have process medians "
              f"within {sm['limit']}x of each other; {sm['within_relative']} of {sm['pairs']} "
              f"relative to the stream timed beside them"
              + (f"; worst cypool/torch of a process {sm['worst_vs_torch']:.2f}"
                 if sm["worst_vs_torch"] is not None else "") + "."]
    return "\n".join(lines) + "\n"

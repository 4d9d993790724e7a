"""The one timing loop of cypool's commands and benchmarks.

`cypool bench`, `cypool compare`, the asv suite (benchmarks/common.py), the regression
gate (benchmarks/gate.py) and `cypool demo` all time calls with `time_interleaved`:

- candidates are sampled in interleaved order (A B C A B C ...), so every candidate sees the same
  machine state (another process's burst of load slows one sample of each, not all of one);
- a sample of a fast call loops it enough times to last at least `sample_seconds`, so a scheduler
  time slice lost to another process is a small part of every sample; the time per call is kept;
- a sample of 4 or more calls follows a quarter as many untimed calls of the same candidate, so
  it is timed on the caches its own calls fill, not on the previous candidate's: on an AMD Zen 3
  VM, calls on a 12.9 MB input took 5-10 calls to come back to their warm time after another
  candidate's calls on 26 MB (1.4 -> 0.3 ms), and of two candidates on that input, the one timed
  first read 1.42-1.66x the other's time (0.95-1.31x with these calls; 0.84-1.10x alone);
- the result is the median of `repeat` samples per candidate; the garbage collector is off while
  sampling;
- after a sample of a candidate named in `settle_after` (the bench names TensorFlow and JAX), the
  loop waits until the process's other threads go quiet (`settle`): JAX's threads go on working
  after its call returns (about 130 ms of CPU after a 200 ms max backward), and a candidate
  timed meanwhile would share the cores with them.

This module imports only the standard library, so it can also be loaded by file path next to an
older build of cypool that lacks it (the gate times old commits with the current loop).
"""
from __future__ import annotations

import gc
import math
import os
import statistics
import threading
import time

# A sample lasts at least this long by default: long enough that a lost time slice (a few ms on a
# shared machine) is a small part of it, short enough for many samples.
SAMPLE_SECONDS = 0.02


# settle(): the other threads are quiet when they use no CPU time for this long (clock ticks of
# /proc are 10 ms), waited for at most SETTLE_MAX seconds
SETTLE_QUIET = 0.03
SETTLE_MAX = 1.0


def _other_threads_ticks():
    """CPU clock ticks used so far by the process's threads other than the caller's, or None
    where /proc/self/task is not there (not Linux)."""
    me = threading.get_native_id()
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    total = 0
    for tid in tids:
        if int(tid) == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:   # the thread ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])   # utime, stime
    return total


def settle(quiet: float = SETTLE_QUIET, most: float = SETTLE_MAX) -> float:
    """Wait until the process's other threads have used no CPU for `quiet` seconds (at most
    `most` seconds in all; where threads' CPU times cannot be read, `quiet` seconds); returns
    the seconds waited."""
    t0 = time.perf_counter()
    last = _other_threads_ticks()
    while True:
        time.sleep(quiet)
        if last is None:
            break
        now = _other_threads_ticks()
        if now == last or time.perf_counter() - t0 >= most:
            break
        last = now
    return time.perf_counter() - t0


def calls_per_sample(fn, seconds: float, max_calls: int | None = None) -> int:
    """Calls per sample so that a sample lasts at least `seconds` (from the faster of two calls;
    one call when it alone lasts that long)."""
    dt = math.inf
    for _ in range(2):
        t0 = time.perf_counter()
        fn()
        dt = min(dt, time.perf_counter() - t0)
        if dt >= seconds:
            return 1
    n = max(1, math.ceil(seconds / max(dt, 1e-9)))
    return min(n, max_calls) if max_calls else n


def time_interleaved(cands: dict, repeat: int = 7, *, warmup: int = 2,
                     sample_seconds: float = SAMPLE_SECONDS, max_calls: int | None = None,
                     prepare: dict | None = None, on_error=None, on_round=None,
                     samples: bool = False, settle_after: tuple = ()) -> dict:
    """Median seconds per call of each candidate ({key: zero-argument callable}).

    prepare: {key: callable} run, untimed, before every sample of that key (e.g. a forward pass
    whose saved state a timed backward consumes). on_error(key, exc): when given, a candidate that
    raises is dropped (and reported through it) while the others go on; otherwise the exception
    propagates. on_round(): called after each interleaved round (progress). samples=True returns
    {key: [seconds per call of each sample]} instead of the medians. settle_after: keys after
    whose samples (and warm-up) the loop waits for the process's other threads to go quiet
    (settle())."""
    jobs = dict(cands)
    prepare = prepare or {}
    inner = {}
    for key in list(jobs):
        try:
            for _ in range(warmup):
                if key in prepare:
                    prepare[key]()
                jobs[key]()
            if key in prepare:
                prepare[key]()
            inner[key] = calls_per_sample(jobs[key], sample_seconds, max_calls)
            if key in settle_after:
                settle()
        except Exception as exc:
            if on_error is None:
                raise
            on_error(key, exc)
            del jobs[key]
    taken = {key: [] for key in jobs}
    gc_was_enabled = gc.isenabled()
    try:
        for _ in range(repeat):
            for key in list(jobs):
                fn, m = jobs[key], inner[key]
                try:
                    if key in prepare:
                        prepare[key]()
                    for _ in range(m // 4):   # untimed: this candidate's data into the caches
                        fn()
                    gc.disable()
                    t0 = time.perf_counter()
                    for _ in range(m):
                        fn()
                    taken[key].append((time.perf_counter() - t0) / m)
                    if key in settle_after:
                        settle()
                except Exception as exc:
                    if on_error is None:
                        raise
                    on_error(key, exc)
                    del jobs[key], taken[key]
                finally:
                    if gc_was_enabled:
                        gc.enable()
            if on_round is not None:
                on_round()
    finally:
        if gc_was_enabled:
            gc.enable()
    if samples:
        return taken
    return {key: statistics.median(v) for key, v in taken.items()}

"""Counts of single calls under valgrind's callgrind: instructions, simulated data cache misses
(first and last level) and a cycle estimate (benchmarks/counting.py says how and what the model
is). Unlike times, they repeat on every run of a commit (docs/records/2026-12-04-count-gate-
experiment.md gives the spread), so a change of a few percent is a real change; the regression
gate compares them with a tight threshold (benchmarks/gate.py).

All cases are counted in one callgrind run, in `setup_cache`, and each `track_` benchmark reads its
number from that run. CYPOOL_COUNT_CASES (comma-separated case names) restricts the run; without
valgrind, callgrind.h or a C compiler every case is skipped."""
import os

from . import counting

CASES = list(counting.CASES)


class CountSuite:
    param_names = ["case"]
    params = [CASES]
    timeout = 900

    def setup_cache(self):
        only = [c for c in os.environ.get("CYPOOL_COUNT_CASES", "").split(",") if c]
        try:
            return counting.count(only or None)
        except counting.CountingUnavailable as exc:
            return {"unavailable": str(exc)}

    setup_cache.timeout = 900

    def setup(self, counts, case):
        if "unavailable" in counts:
            raise NotImplementedError(counts["unavailable"])
        if case not in counts:
            raise NotImplementedError(f"{case} was not counted (CYPOOL_COUNT_CASES)")
        if "error" in counts[case]:
            raise NotImplementedError(f"{case}: {counts[case]['error']}")

    def track_instructions(self, counts, case):
        return counts[case]["instructions"]

    def track_d1_misses(self, counts, case):
        return counts[case]["d1_misses"]

    def track_ll_misses(self, counts, case):
        return counts[case]["ll_misses"]

    def track_est_cycles(self, counts, case):
        return counts[case]["est_cycles"]

    track_instructions.unit = counting.UNITS["instructions"]
    track_d1_misses.unit = counting.UNITS["d1_misses"]
    track_ll_misses.unit = counting.UNITS["ll_misses"]
    track_est_cycles.unit = counting.UNITS["est_cycles"]

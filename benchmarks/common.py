"""Helpers shared by cypool's asv suites.

- Data is made in `setup` from a fixed seed, so every commit, environment and machine times the same
  numbers (max pooling's speed depends on where the maxima fall).
- Optional libraries (torch, scikit-image, cypool.strategies) are imported with `safe_import`; a
  benchmark that needs a missing one raises NotImplementedError in `setup`, which asv records as
  "skipped" rather than failed.
- CYPOOL_BENCH_SLOW=1 adds the largest cases; without it, `asv run --quick` stays well under two
  minutes on a 2-core machine.
- Thread counts are pinned per benchmark with `cypool.set_num_threads`, so results do not depend on
  whatever OMP_NUM_THREADS the runner happened to have; "all" means every CPU this process may use
  (affinity mask and cgroup quota), the same rule cypool's default follows.
- Ratios measured inside one benchmark (`interleaved_times`) use cypool's one timing loop,
  cypool/commands/timing.py; a build of an older commit that lacks it gets this checkout's copy.
"""
from __future__ import annotations

import importlib
import importlib.util
import os

import numpy as np

import cypool

SEED = 1234
SLOW = os.environ.get("CYPOOL_BENCH_SLOW", "0") == "1"
CF, CL = "channels_first", "channels_last"

# Realistic 2-d pooling layers, named after the networks they come from. Shapes are logical
# (N, C, H, W); `window` is (kernel, stride, padding), or "global" for a whole-plane pool.
CASES = {
    "vgg-2x2s2": ((16, 64, 112, 112), (2, 2, 0)),
    "resnet-stem-3x3s2p1": ((32, 64, 112, 112), (3, 2, 1)),
    "small-2x2s2": ((64, 32, 28, 28), (2, 2, 0)),
    "inception-3x3s1p1": ((8, 256, 56, 56), (3, 1, 1)),
    "head-global7": ((32, 512, 7, 7), "global"),
    "tiny-2x2s2": ((1, 16, 8, 8), (2, 2, 0)),
}
# Cases whose input is over 64 MB: only with CYPOOL_BENCH_SLOW=1.
SLOW_CASES = ("resnet-stem-3x3s2p1",)


def cases(*names: str) -> list[str]:
    """The named cases (all when none are named), less the slow ones unless CYPOOL_BENCH_SLOW=1."""
    names = names or tuple(CASES)
    return [n for n in names if SLOW or n not in SLOW_CASES]


def safe_import(name: str):
    """The module, or None when it (or something it needs) cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def skip(reason: str):
    """Make asv record this parameter combination as skipped (only valid inside `setup`)."""
    raise NotImplementedError(reason)


def make_input(shape, dtype="float32", data_format=CF, seed=SEED) -> np.ndarray:
    """A seeded uniform [-0.5, 0.5) array of logical shape (N, C, *spatial), generated directly in
    the memory order of `data_format` (channels_last: a C-contiguous (N, *spatial, C) array).
    Uniform values are as unpredictable to max pooling's branches as normal ones and about twice
    as fast to make, which keeps setup short in `asv run --quick`."""
    rng = np.random.default_rng(seed)
    stored = (shape[0], *shape[2:], shape[1]) if data_format == CL else tuple(shape)
    x = rng.random(stored, dtype=np.dtype(dtype))
    x -= 0.5
    return x


def n_cores() -> int:
    """CPUs this process may use (cypool's own rule: affinity mask capped by the cgroup quota)."""
    from cypool import _threads
    return _threads.cpu_budget()


def thread_count(spec) -> int:
    """'1' -> 1, 'all' -> every usable CPU; an int passes through."""
    if spec == "all":
        return n_cores()
    return int(spec)


class Pinned:
    """Base for suites: pins cypool's thread count in setup and restores the default in teardown.

    Subclasses set `threads` ("all" by default) or call `pin(...)` from their own setup."""

    threads = "all"

    def pin(self, spec=None):
        cypool.set_num_threads(thread_count(self.threads if spec is None else spec))

    def teardown(self, *params):
        cypool.set_num_threads(None)


def pool_call(op: str, window, data_format: str, return_indices: bool = False):
    """A function x -> pooled output for op 'max' or 'avg' and a CASES window."""
    if window == "global":
        if op == "max":
            return lambda x: cypool.global_max_pool2d(
                x, return_indices=return_indices, data_format=data_format)
        return lambda x: cypool.global_avg_pool2d(x, data_format=data_format)
    k, s, p = window
    if op == "max":
        return lambda x: cypool.max_pool2d(x, k, s, p, return_indices=return_indices,
                                           data_format=data_format)
    return lambda x: cypool.avg_pool2d(x, k, s, p, data_format=data_format)


def _timing():
    try:
        from cypool.commands import timing
    except ImportError:  # a build of an older commit: the loop of this checkout (stdlib only)
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "cypool", "commands", "timing.py")
        spec = importlib.util.spec_from_file_location("cypool_timing", path)
        timing = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(timing)
    return timing


def interleaved_times(fns, rounds=5):
    """Seconds per call of each function: the median of `rounds` samples, sampled in interleaved
    order (A B A B ...) so that all see the same machine state (cypool's timing loop)."""
    t = _timing().time_interleaved(dict(enumerate(fns)), repeat=rounds)
    return [t[i] for i in range(len(fns))]

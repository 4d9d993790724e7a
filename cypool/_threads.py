"""The one thread-count policy of cypool.

Every kernel call asks `threads_for(nbytes, n_items)` for its thread count and passes it to the
kernel's `prange(num_threads=...)`. The count comes, in order of precedence, from
- a `threads(n)` context active in the calling Python thread (so a worker of a thread pool can
  pin cypool to one thread without touching other workers),
- `set_num_threads(n)` (process-wide),
- the default: OMP_NUM_THREADS if set, otherwise the CPUs this process may use (affinity mask and
  cgroup CPU quota),
and is then capped by the OpenMP runtime's own limit (omp_get_max_threads), which is what
threadpoolctl's `threadpool_limits` lowers. Small calls run on one thread: thread start-up costs
more than they do. A child process forked after cypool ran parallel regions runs serially:
GNU libgomp's thread pool does not survive fork() and a parallel region in the child can hang.
"""
from __future__ import annotations

import contextlib
import math
import os
import threading
from typing import Iterator

from . import _openmp_info

# Below this many bytes touched (input + output), one thread is faster than waking a team.
# Measured for max_pool2d 2x2/s2 float32, 1 vs 2 threads interleaved in one process (best of 41
# samples; 2-core machine shared with other jobs; 2026-11-29), time(2 threads) / time(1 thread):
#   bytes      40 KB   51 KB   61 KB   64 KB   72 KB   82 KB   128 KB   328 KB
#   CF         ~1.0    0.85    0.60    0.59    0.63    0.60    0.59     0.53
#   CL         ~1.0    0.91    0.77    0.75    0.72    0.78    0.63     0.53
# Two threads start to win near 50 KB and win clearly in both formats from 60 KB on: 64 KiB.
# (A (1, 16, 8, 8) tensor, 5 KB, stays far below and always runs serially.)
SERIAL_BELOW_BYTES = 1 << 16

_global_n_threads: int | None = None
_local = threading.local()
_parallel_used = False
_in_forked_child = False


# The default count's inputs, read once: OMP_NUM_THREADS (the OpenMP runtime itself reads it only
# at start-up) and the CPU budget (affinity mask, cgroup files). Cleared in a forked child (its
# affinity may differ) and by set_num_threads(None), which re-reads them.
_default_cache: tuple | None = None


def _after_fork_in_child() -> None:
    global _in_forked_child, _default_cache
    _default_cache = None
    if _parallel_used:
        _in_forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _check_n(n, name="n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"{name} must be a positive int, got {n!r}")
    n = int(n.__index__()) if not isinstance(n, int) else n
    if n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def cpu_budget() -> int:
    """CPUs this process may use: the affinity mask, capped by a cgroup CPU quota when one is set."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        n = min(n, quota)
    return max(1, n)


def _cgroup_cpu_quota() -> int | None:
    try:  # cgroup v2
        with open("/sys/fs/cgroup/cpu.max") as f:
            q, p = f.read().split()[:2]
        if q != "max":
            return max(1, math.ceil(int(q) / int(p)))
        return None
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            q = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            p = int(f.read())
        if q > 0 and p > 0:
            return max(1, math.ceil(q / p))
    except (OSError, ValueError):
        pass
    return None


def _default_inputs() -> tuple:
    """(OpenMP built, OMP_NUM_THREADS set, cpu_budget()), memoised (see _default_cache)."""
    global _default_cache
    cached = _default_cache
    if cached is None:
        enabled = _openmp_info.openmp_enabled()
        env = bool(os.environ.get("OMP_NUM_THREADS"))
        cached = _default_cache = (enabled, env, cpu_budget() if enabled and not env else 1)
    return cached


def default_num_threads() -> int:
    enabled, env, budget = _default_inputs()
    if not enabled:
        return 1
    if env:
        return max(1, _openmp_info.openmp_max_threads())
    return max(1, min(budget, _openmp_info.openmp_max_threads()))


def set_num_threads(n: int | None) -> None:
    """Set cypool's thread count for the whole process.

    Parameters
    ----------
    n : int or None
        Threads for large kernel calls (calls touching under 64 KiB always run on one thread).
        None restores the default: OMP_NUM_THREADS if set, else the CPUs of the affinity mask
        capped by the cgroup quota. A ``threads(n)`` block takes precedence in its Python thread,
        and the OpenMP runtime's limit (threadpoolctl) caps the count.

    Examples
    --------
    >>> import cypool
    >>> cypool.set_num_threads(1)
    >>> cypool.get_num_threads()
    1
    >>> cypool.set_num_threads(None)
    """
    global _global_n_threads, _default_cache
    if n is None:
        _default_cache = None  # re-read OMP_NUM_THREADS and the CPU budget
    _global_n_threads = None if n is None else _check_n(n)


def get_num_threads() -> int:
    """The thread count cypool uses for large calls made from the calling Python thread.

    Returns
    -------
    int
        The ``threads(n)`` block's n if one is active, else ``set_num_threads``'s value, else the
        default (see ``set_num_threads``).

    Examples
    --------
    >>> import cypool
    >>> with cypool.threads(2):
    ...     cypool.get_num_threads()
    2
    """
    local = getattr(_local, "n_threads", None)
    if local is not None:
        return local
    if _global_n_threads is not None:
        return _global_n_threads
    return default_num_threads()


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Use n threads for cypool calls made by the current Python thread inside the block.

    Parameters
    ----------
    n : int
        Thread count; other Python threads (e.g. the workers of a thread pool) are unaffected.

    Examples
    --------
    >>> import numpy as np, cypool
    >>> with cypool.threads(1):
    ...     cypool.max_pool2d(np.ones((1, 1, 4, 4)), 2).shape
    (1, 1, 2, 2)
    """
    n = _check_n(n)
    previous = getattr(_local, "n_threads", None)
    _local.n_threads = n
    try:
        yield n
    finally:
        _local.n_threads = previous


def threads_for(nbytes: int, n_items: int) -> int:
    """Thread count for one kernel call touching `nbytes` with `n_items` independent work items."""
    global _parallel_used
    if nbytes < SERIAL_BELOW_BYTES or _in_forked_child or not _default_inputs()[0]:
        return 1
    n = min(get_num_threads(), _openmp_info.openmp_max_threads(), max(1, n_items))
    if n > 1:
        _parallel_used = True
    return max(1, n)


def openmp_enabled() -> bool:
    """Whether cypool's kernels were built with OpenMP (otherwise they run serially).

    Returns
    -------
    bool

    Examples
    --------
    >>> import cypool
    >>> isinstance(cypool.openmp_enabled(), bool)
    True
    """
    return _openmp_info.openmp_enabled()

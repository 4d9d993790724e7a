"""Threads, thread pools, threadpoolctl, fork and determinism.

- many Python threads calling cypool at once get the single-threaded results;
- the GIL is released inside the kernels (shown without timing: another Python thread runs while
  a kernel is in progress, under a switch interval too long for the interpreter to preempt);
- inside a thread pool, `cypool.threads(n)` / `set_num_threads` decide the `num_threads` every
  kernel receives, and threadpoolctl's limit caps it; `prange_team_size` shows the OpenMP runtime
  really runs that many threads;
- a process that ran parallel regions and then forks can call cypool in the child (libgomp would
  hang there): checked in a subprocess with a timeout;
- every forward and backward is bit-identical for 1, 2 and 3 threads.
"""
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cypool
from cypool import _openmp_info, _threads
from helpers import python_env_for_subprocess

needs_openmp = pytest.mark.skipif(not cypool.openmp_enabled(), reason="serial build")


# ----------------------------------------------------------------------------- every operator

def operator_calls(x, data_format, rank):
    """(name, thunk) for every public operator, forward and backward, on x of the given rank."""
    f = lambda name: getattr(cypool, name.format(r=rank))  # noqa: E731
    kw = dict(data_format=data_format)
    y, idx = f("max_pool{r}d")(x, 3, 2, 1, return_indices=True, **kw)
    ya = f("avg_pool{r}d")(x, 3, 1, 1, **kw)
    yaa = f("adaptive_avg_pool{r}d")(x, 5, **kw)
    yam, iam = f("adaptive_max_pool{r}d")(x, 5, return_indices=True, **kw)
    ygm, igm = f("global_max_pool{r}d")(x, return_indices=True, **kw)
    ygm = np.ascontiguousarray(ygm)
    cl = data_format == "channels_last"
    spatial = x.shape[1:-1] if cl else x.shape[2:]
    unpooled = f("max_unpool{r}d")(y, idx, 3, 2, 1, output_size=spatial, **kw)
    rng = np.random.default_rng(0)
    g = lambda a: rng.standard_normal(a.shape).astype(x.dtype)  # noqa: E731
    gy, gya, gyaa, gyam, gygm, gun = g(y), g(ya), g(yaa), g(yam), g(ygm), g(unpooled)
    return [
        ("max_pool", lambda: f("max_pool{r}d")(x, 3, 2, 1, return_indices=True, **kw)),
        ("max_pool dilated ceil", lambda: f("max_pool{r}d")(x, 2, 3, 1, 2, True, **kw)),
        ("max_pool_backward", lambda: f("max_pool{r}d_backward")(gy, idx, x.shape, **kw)),
        ("avg_pool", lambda: f("avg_pool{r}d")(x, 3, 1, 1, **kw)),
        ("avg_pool same", lambda: f("avg_pool{r}d")(x, 4, 3, "same", **kw)),
        ("avg_pool_backward", lambda: f("avg_pool{r}d_backward")(gya, x.shape, 3, 1, 1, **kw)),
        ("adaptive_avg_pool", lambda: f("adaptive_avg_pool{r}d")(x, 5, **kw)),
        ("adaptive_avg_pool_backward",
         lambda: f("adaptive_avg_pool{r}d_backward")(gyaa, x.shape, **kw)),
        ("adaptive_max_pool", lambda: f("adaptive_max_pool{r}d")(x, 5, return_indices=True, **kw)),
        ("adaptive_max_pool_backward",
         lambda: f("adaptive_max_pool{r}d_backward")(gyam, iam, x.shape, **kw)),
        ("global_avg_pool", lambda: f("global_avg_pool{r}d")(x, **kw)),
        ("global_avg_pool_backward",
         lambda: f("global_avg_pool{r}d_backward")(gygm, x.shape, **kw)),
        ("global_max_pool", lambda: f("global_max_pool{r}d")(x, return_indices=True, **kw)),
        ("global_max_pool_backward",
         lambda: f("global_max_pool{r}d_backward")(gygm, igm, x.shape, **kw)),
        ("max_unpool", lambda: f("max_unpool{r}d")(y, idx, 3, 2, 1, output_size=spatial, **kw)),
        ("max_unpool_backward", lambda: f("max_unpool{r}d_backward")(gun, idx, **kw)),
    ]


def as_bytes(result):
    parts = result if isinstance(result, tuple) else (result,)
    return [(p.dtype.str, p.shape, np.ascontiguousarray(p).tobytes()) for p in parts]


def make_input(rank, data_format, dtype, rng):
    spatial = {1: (41,), 2: (13, 11), 3: (7, 6, 9)}[rank]
    shape = (3, 5, *spatial) if data_format == "channels_first" else (3, *spatial, 5)
    x = rng.standard_normal(shape).astype(dtype)
    x[rng.random(shape) < 0.1] = 0.5   # ties
    return x


@needs_openmp
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_operator_bit_identical_for_1_2_3_threads(rank, data_format, dtype, spy_threads,
                                                        rng):
    x = make_input(rank, data_format, dtype, rng)
    results = {}
    for n in (1, 2, 3):
        with cypool.threads(n):
            spy_threads.clear()
            results[n] = [(name, as_bytes(call())) for name, call in
                          operator_calls(x, data_format, rank)]
            if n > 1:   # the kernels really were handed several threads
                assert max(spy_threads) > 1
    for n in (2, 3):
        for (name, a), (_, b) in zip(results[1], results[n]):
            assert a == b, f"{name} differs between 1 and {n} threads"


def test_many_python_threads_get_correct_results(rng):
    """16 Python threads x 3 operators x 2 data formats at once, each checked against the result of
    the same call made alone."""
    inputs = [make_input(2, fmt, np.float32, np.random.default_rng(i))
              for i, fmt in enumerate(["channels_first", "channels_last"] * 4)]
    big = [np.repeat(np.repeat(x, 4, axis=0), 3, axis=-2) for x in inputs]  # > 128 KiB: parallel

    def work(i):
        x = big[i % len(big)]
        fmt = "channels_last" if i % 2 else "channels_first"
        out = []
        for _ in range(3):
            out.append(as_bytes(cypool.max_pool2d(x, 3, 2, 1, return_indices=True,
                                                  data_format=fmt)))
            out.append(as_bytes(cypool.avg_pool2d(x, 3, 1, 1, data_format=fmt)))
            out.append(as_bytes(cypool.adaptive_avg_pool2d(x, 4, data_format=fmt)))
        return out

    alone = [work(i) for i in range(len(big))]
    with ThreadPoolExecutor(16) as pool:
        together = list(pool.map(work, range(64)))
    for i, got in enumerate(together):
        assert got == alone[i % len(big)]


def test_gil_is_released_inside_kernels():
    """With a 100 s switch interval the interpreter never preempts a thread that holds the GIL, so
    the main thread can only run while the worker is inside a kernel if the kernel released it.
    The worker flags 'done' right after the call, still holding the GIL; the main thread records
    whether it ran before that. Repeated a few times so a slow scheduler cannot fake a failure."""
    x = np.random.default_rng(0).standard_normal((4, 8, 512, 512)).astype(np.float32)
    old = sys.getswitchinterval()
    observed = []
    try:
        sys.setswitchinterval(100.0)
        for _ in range(5):
            state = {"done": False}
            started = threading.Event()

            def worker():
                with cypool.threads(1):
                    started.set()
                    cypool.max_pool2d(x, 7, 1, 3)
                    state["done"] = True

            t = threading.Thread(target=worker)
            t.start()
            started.wait()
            observed.append(not state["done"])   # ran while the kernel was still busy
            t.join()
            if observed[-1]:
                break
    finally:
        sys.setswitchinterval(old)
    assert any(observed), "the main thread never ran during a kernel: GIL held?"


@needs_openmp
def test_thread_pool_workers_follow_threads_and_set_num_threads(spy_threads):
    x = np.zeros((8, 64, 64, 64), np.float32)

    def in_worker(n):
        with cypool.threads(n):
            cypool.avg_pool2d(x, 2)
            return _threads.get_num_threads()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(in_worker, [1, 1, 1, 1])) == [1] * 4
    assert spy_threads and set(spy_threads) == {1}

    spy_threads.clear()
    cypool.set_num_threads(1)
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda _: cypool.max_pool2d(x, 2), range(6)))
    finally:
        cypool.set_num_threads(None)
    assert len(spy_threads) == 6 and set(spy_threads) == {1}


@needs_openmp
def test_prange_runs_on_the_requested_threads(openmp_allows_3):
    """The num_threads cypool chooses reaches the OpenMP runtime as such."""
    assert _openmp_info.prange_team_size(1) == 1
    if not os.environ.get("OMP_THREAD_LIMIT"):
        assert _openmp_info.prange_team_size(2) == 2
        assert _openmp_info.prange_team_size(3) == 3


@needs_openmp
def test_threadpoolctl_sees_and_limits_cypool(spy_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import cypool._max as kernels  # the extension that links the OpenMP runtime
    libs = threadpoolctl.threadpool_info()
    openmp = [lib for lib in libs if lib["user_api"] == "openmp"]
    assert openmp, libs
    # the runtime cypool's kernels are linked to is among them
    ldd = subprocess.run(["ldd", kernels.__file__], capture_output=True, text=True).stdout
    linked = {os.path.realpath(line.split("=>")[1].split("(")[0].strip())
              for line in ldd.splitlines() if "=>" in line and "/" in line}
    seen = {os.path.realpath(lib["filepath"]) for lib in openmp}
    assert linked & seen, (seen, ldd)

    x = np.zeros((8, 64, 64, 64), np.float32)
    with cypool.threads(2):
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert _openmp_info.openmp_max_threads() == 1
            spy_threads.clear()
            cypool.max_pool2d(x, 2)
            cypool.avg_pool2d_backward(np.ones((8, 64, 32, 32), np.float32), x.shape, 2)
            assert set(spy_threads) == {1}
        assert _openmp_info.openmp_max_threads() == 3    # the limit is restored on exit
        spy_threads.clear()
        cypool.max_pool2d(x, 2)
        assert spy_threads == [2]


FORK_SCRIPT = textwrap.dedent("""
    import multiprocessing as mp, sys
    import numpy as np
    import cypool
    from cypool import _threads

    x = np.random.default_rng(0).standard_normal((8, 32, 64, 64)).astype(np.float32)
    cypool.set_num_threads(2)
    expected = cypool.max_pool2d(x, 3, 2, 1)                     # parallel regions in the parent
    assert _threads._parallel_used, "the parent did not run a parallel region"

    def child(q):
        y = cypool.max_pool2d(x, 3, 2, 1)                       # would hang in a libgomp child
        g = cypool.avg_pool2d_backward(np.ones_like(cypool.avg_pool2d(x, 2)), x.shape, 2)
        q.put((bool(np.array_equal(y, expected)), float(g.sum()), _threads._in_forked_child))

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    ok, total, serial = q.get(timeout=60)
    p.join(60)
    assert ok and total == x.size / 4 and serial and p.exitcode == 0, \
        (ok, total, serial, p.exitcode)
    # the parent keeps its threads
    assert _threads.threads_for(1 << 30, 100) == 2
    print("fork ok")
""")


@needs_openmp
def test_fork_after_parallel_regions_does_not_hang(tmp_path):
    env = dict(python_env_for_subprocess(), OMP_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", FORK_SCRIPT], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "fork ok" in done.stdout, done.stderr[-3000:]

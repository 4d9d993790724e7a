"""Instruction and simulated cache-miss counts of single pooling calls, under valgrind's callgrind.

Wall time on a shared machine moves by tens of percent on identical code; the number of
instructions a call executes does not, and neither do the misses of a simulated cache fed with
those instructions' addresses. This module counts both for the calls of `CASES`, each made through
cypool's public functions only:

- one child process, ``valgrind --tool=callgrind --cache-sim=yes``, imports numpy and cypool with
  instrumentation off (interpreter start-up is neither counted nor slowed by the cache simulator),
  switches it on, and for every case builds the input, makes one warm-up call, then zeroes the
  counters, turns collection on, makes the measured call, turns collection off and dumps the
  counters under the case's name. The switches are callgrind client requests, made from Python
  through a tiny C library (`SHIM_SOURCE`, compiled once with the system C compiler against
  valgrind's callgrind.h) loaded with ctypes;
- the parent reads the dumps: per case the events Ir (instructions), Dr/Dw (data reads/writes),
  I1mr/D1mr/D1mw (first-level misses) and ILmr/DLmr/DLmw (last-level misses).

The simulated caches are fixed (`CACHE_ARGS`), not read from the host CPU, so every machine counts
the same misses: a 32 KiB 8-way L1 for data and one for instructions, and a 2 MiB 16-way last
level (about one core's share of a server's L3; smaller than the larger inputs, so last-level
misses stand for memory traffic). One thread (OMP_NUM_THREADS=1, cypool.set_num_threads(1)) and
PYTHONHASHSEED=0, so the Python-level part of a call is the same from run to run too.

Metrics (`METRICS`): instructions; d1_misses (D1mr + D1mw); ll_misses (DLmr + DLmw, data only);
est_cycles, the model of iai-callgrind and CodSpeed: L1 hits + 5 x last-level hits + 35 x memory
accesses, where L1 hits = Ir + Dr + Dw - (I1mr + D1mr + D1mw), last-level hits = (I1mr + D1mr +
D1mw) - (ILmr + DLmr + DLmw) and memory accesses = ILmr + DLmr + DLmw. It is a rough latency model
(no overlap of misses, no vector width), useful to rank changes, not to predict milliseconds.

Run it directly to print the counts: ``python benchmarks/counting.py [CASE ...]``.
"""
from __future__ import annotations

import ctypes
import gc
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

CF, CL = "channels_first", "channels_last"
SEED = 1234

CACHE_ARGS = ["--I1=32768,8,64", "--D1=32768,8,64", "--LL=2097152,16,64"]
METRICS = ("instructions", "d1_misses", "ll_misses", "est_cycles")
UNITS = {"instructions": "instructions", "d1_misses": "misses", "ll_misses": "misses",
         "est_cycles": "cycles"}

SHIM_SOURCE = r"""
#include <valgrind/callgrind.h>
int cypool_count_running(void) { return RUNNING_ON_VALGRIND; }
void cypool_count_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void cypool_count_zero(void) { CALLGRIND_ZERO_STATS; }
void cypool_count_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void cypool_count_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""

# The gate's single-thread layers (benchmark_gate.LAYERS) and layers that reach the other fast
# paths: channels-first small planes (run as channels-last tiles), adaptive, global, 1-d and 3-d.
GATE_LAYERS = {"small-2x2s2": ((64, 32, 28, 28), (2, 2, 0)),
               "overlap-3x3s1p1": ((2, 64, 56, 56), (3, 1, 1))}


def _gate_cases() -> dict:
    out = {}
    for op in ("max", "avg"):
        for direction in ("fwd", "bwd"):
            for fmt in (CF, CL):
                for layer, (shape, window) in GATE_LAYERS.items():
                    name = f"{op}-{direction}-{'cf' if fmt == CF else 'cl'}-{layer}"
                    out[name] = (f"{op}_pool2d", direction, fmt, shape, window)
    return out


GATE_CASES = list(_gate_cases())  # also timed by the gate (benchmarks/gate.py)

CASES = {
    **_gate_cases(),
    # channels-first small planes: the channels-last tiles
    "avg-fwd-cf-tiles7-2x2s2": ("avg_pool2d", "fwd", CF, (8, 256, 7, 7), (2, 2, 0)),
    "avg-bwd-cf-tiles7-3x3s1p1": ("avg_pool2d", "bwd", CF, (8, 256, 7, 7), (3, 1, 1)),
    "max-fwd-cf-tiles14-2x2s2": ("max_pool2d", "fwd", CF, (8, 256, 14, 14), (2, 2, 0)),
    "max-bwd-cf-tiles14-2x2s2": ("max_pool2d", "bwd", CF, (8, 256, 14, 14), (2, 2, 0)),
    # adaptive and global
    "adaptive-avg-fwd-cf-28to5": ("adaptive_avg_pool2d", "fwd", CF, (8, 64, 28, 28), 5),
    "adaptive-avg-fwd-cl-28to5": ("adaptive_avg_pool2d", "fwd", CL, (8, 64, 28, 28), 5),
    "adaptive-max-fwd-cf-28to3": ("adaptive_max_pool2d", "fwd", CF, (8, 64, 28, 28), 3),
    "adaptive-avg-bwd-cf-28to5": ("adaptive_avg_pool2d", "bwd", CF, (8, 64, 28, 28), 5),
    "global-avg-fwd-cf-7": ("global_avg_pool2d", "fwd", CF, (32, 512, 7, 7), None),
    "global-avg-fwd-cl-7": ("global_avg_pool2d", "fwd", CL, (32, 512, 7, 7), None),
    "global-max-fwd-cf-7": ("global_max_pool2d", "fwd", CF, (32, 512, 7, 7), None),
    # 1-d and 3-d
    "max-fwd-cf-1d-3s2p1": ("max_pool1d", "fwd", CF, (16, 64, 1024), (3, 2, 1)),
    "avg-fwd-cl-1d-3s2p1": ("avg_pool1d", "fwd", CL, (16, 64, 1024), (3, 2, 1)),
    "max-fwd-cf-3d-2s2": ("max_pool3d", "fwd", CF, (2, 32, 16, 28, 28), (2, 2, 0)),
    "avg-fwd-cl-3d-3s1p1": ("avg_pool3d", "fwd", CL, (2, 16, 8, 28, 28), (3, 1, 1)),
}


def make_input(shape, data_format, seed=SEED) -> np.ndarray:
    """Seeded uniform [-0.5, 0.5) float32 data of logical shape (N, C, *spatial), stored in the
    memory order of data_format."""
    stored = (shape[0], *shape[2:], shape[1]) if data_format == CL else tuple(shape)
    x = np.random.default_rng(seed).random(stored, dtype=np.float32)
    x -= 0.5
    return x


def make_call(name: str):
    """A zero-argument function making the case's call (public cypool functions only)."""
    import cypool
    func, direction, fmt, shape, window = CASES[name]
    fwd = getattr(cypool, func)
    x = make_input(shape, fmt)
    if func.startswith("global_"):
        args = ()
    elif func.startswith("adaptive_"):
        args = (window,)
    else:
        args = window
    max_like = func.startswith(("max_", "adaptive_max", "global_max"))
    if direction == "fwd":
        return lambda: fwd(x, *args, data_format=fmt)
    bwd = getattr(cypool, func + "_backward")
    if max_like:
        y, idx = fwd(x, *args, return_indices=True, data_format=fmt)
        g = np.random.default_rng(7).random(y.shape, dtype=np.float32) - np.float32(0.5)
        return lambda: bwd(g, idx, x.shape, data_format=fmt)
    y = fwd(x, *args, data_format=fmt)
    g = np.random.default_rng(7).random(y.shape, dtype=np.float32) - np.float32(0.5)
    if func.startswith(("global_", "adaptive_")):
        return lambda: bwd(g, x.shape, data_format=fmt)
    return lambda: bwd(g, x.shape, *args, data_format=fmt)


# ----------------------------------------------------------------------------- parent side

class CountingUnavailable(RuntimeError):
    """valgrind, callgrind.h or a C compiler is missing."""


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "cypool-counts")
    try:
        os.makedirs(path, exist_ok=True)
        return path
    except OSError:
        return tempfile.gettempdir()


def shim_library() -> str:
    """Path of the compiled client-request library (built once per source text)."""
    if not shutil.which("valgrind"):
        raise CountingUnavailable("valgrind is not installed")
    tag = hashlib.sha256(SHIM_SOURCE.encode()).hexdigest()[:12]
    lib = os.path.join(_cache_dir(), f"callgrind-shim-{tag}.so")
    if os.path.exists(lib):
        return lib
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise CountingUnavailable("no C compiler to build the callgrind client-request library")
    tmp = f"{lib}.{os.getpid()}.tmp"
    p = subprocess.run([cc, "-O1", "-shared", "-fPIC", "-x", "c", "-", "-o", tmp],
                       input=SHIM_SOURCE, text=True, capture_output=True)
    if p.returncode != 0:
        raise CountingUnavailable("cannot build the callgrind client-request library "
                                  f"(is valgrind's callgrind.h installed?): {p.stderr.strip()}")
    os.replace(tmp, lib)
    return lib


def _parse_dump(path: str) -> tuple[str, dict]:
    name, events, totals = None, None, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("desc: Trigger: Client Request: "):
                name = line.split("Client Request: ", 1)[1].strip()
            elif line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith(("summary:", "totals:")):
                totals = [int(v) for v in line.split()[1:]]
    if name is None or events is None or totals is None:
        raise RuntimeError(f"unreadable callgrind dump {path}")
    ev = dict(zip(events, totals + [0] * (len(events) - len(totals))))
    return name, ev


def metrics(ev: dict) -> dict:
    """The gate's metrics from callgrind's events (see the module docstring for the model)."""
    l1_miss = ev["I1mr"] + ev["D1mr"] + ev["D1mw"]
    ll_miss = ev["ILmr"] + ev["DLmr"] + ev["DLmw"]
    accesses = ev["Ir"] + ev["Dr"] + ev["Dw"]
    return {"instructions": ev["Ir"], "d1_misses": ev["D1mr"] + ev["D1mw"],
            "ll_misses": ev["DLmr"] + ev["DLmw"],
            "est_cycles": (accesses - l1_miss) + 5 * (l1_miss - ll_miss) + 35 * ll_miss}


# The child's environment has this many bytes (padded): its size moves the stack, and with it
# the alignment of buffers, which changes a vectorised loop's peeled iterations and the simulated
# cache's set conflicts (a 3-byte variable moved some miss counts by 1%).
ENV_BYTES = 16384
# Layout k pads the environment by k * LAYOUT_STEP more bytes: the stack and the heap (Python
# copies the environment into os.environ) start elsewhere, so the measured call's buffers sit at
# other offsets. Not a multiple of 64, so each layout moves the cache sets too. Some calls have
# two miss counts (max-fwd-cf-tiles14-2x2s2: about 72,000 or 88,000 L1 misses, by the layout,
# the cases counted before it and this file's own code), which one run cannot tell from a
# regression.
LAYOUT_STEP = 1040
# Variables the child keeps from the parent (interpreter and library lookup); all others go.
ENV_KEEP = ("PATH", "HOME", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX", "LANG")


def _child_env(lib: str, pythonpath: str | None, tmp: str, layout: int = 0) -> dict:
    """A fixed environment of a fixed size (ENV_BYTES + layout * LAYOUT_STEP). Bytecode goes to
    a new folder each run
    (PYTHONPYCACHEPREFIX), so every run compiles the same modules and its heap, hence the
    addresses of the measured buffers, is the same whether or not .pyc files existed."""
    env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
    env.update(PYTHONHASHSEED="0", OMP_NUM_THREADS="1", CYPOOL_COUNT_SHIM=lib,
               PYTHONPYCACHEPREFIX=os.path.join(tmp, "pycache"), PYTHONNOUSERSITE="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    size = sum(len(k) + len(v) + 2 for k, v in env.items()) + len("CYPOOL_COUNT_PAD") + 2
    if size > ENV_BYTES:
        raise ValueError(f"the counting environment is {size} bytes, over {ENV_BYTES}")
    env["CYPOOL_COUNT_PAD"] = "x" * (ENV_BYTES + layout * LAYOUT_STEP - size)
    return env


def count(names=None, pythonpath: str | None = None, python: str = sys.executable,
          timeout: float = 900, layout: int = 0) -> dict:
    """{case: {metric: value}} for the named cases (all by default), counted in one callgrind run.

    pythonpath: a directory put first on the child's sys.path (a build of cypool to count); by
    default the one holding the cypool this interpreter would import. layout: which memory layout
    (LAYOUT_STEP). A case the imported cypool cannot make (a function it lacks) maps to
    {"error": "..."}."""
    if isinstance(layout, bool) or not isinstance(layout, int) or layout < 0:
        raise ValueError(f"layout must be an integer >= 0, got {layout!r}")
    names = list(CASES) if names is None else list(names)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise ValueError(f"unknown count case(s) {unknown}; known: {list(CASES)}")
    lib = shim_library()
    if pythonpath is None:
        import importlib.util
        spec = importlib.util.find_spec("cypool")
        if spec is not None and spec.origin:
            pythonpath = os.path.dirname(os.path.dirname(spec.origin))
    with tempfile.TemporaryDirectory(prefix="cypool-counts-") as tmp:
        env = _child_env(lib, pythonpath, tmp, layout)
        out = os.path.join(tmp, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
               "--cache-sim=yes", *CACHE_ARGS, f"--callgrind-out-file={out}",
               "--dump-instr=no", "--compress-strings=no", "--compress-pos=no",
               python, os.path.abspath(__file__), "--child", *names]
        p = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True,
                           timeout=timeout)
        if os.environ.get("CYPOOL_COUNT_KEEP"):
            shutil.copytree(tmp, os.environ["CYPOOL_COUNT_KEEP"], dirs_exist_ok=True)
        if p.returncode != 0:
            raise RuntimeError(f"counting run failed ({p.returncode}):\n{p.stderr[-3000:]}")
        result = {}
        for path in glob.glob(out + ".*"):
            name, ev = _parse_dump(path)
            if name in CASES:
                result[name] = metrics(ev)
        errors = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    return {name: result.get(name) or {"error": errors.get(name, "no counts were dumped")}
            for name in names}


# ----------------------------------------------------------------------------- child side

def _child(names) -> int:
    import cypool
    cypool.set_num_threads(1)
    lib = ctypes.CDLL(os.environ["CYPOOL_COUNT_SHIM"])
    lib.cypool_count_dump.argtypes = [ctypes.c_char_p]
    zero, toggle, dump = lib.cypool_count_zero, lib.cypool_count_toggle, lib.cypool_count_dump
    errors = {}
    lib.cypool_count_start()
    for name in names:
        try:
            fn = make_call(name)
            fn()  # warm-up: plans, caches and first-touch of the output
        except (AttributeError, TypeError, ValueError, NotImplementedError) as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        gc.collect()
        gc.disable()
        zero()
        toggle()
        fn()
        toggle()
        dump(name.encode())
        gc.enable()
        del fn
    print(json.dumps(errors))
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    # From a source checkout, count the checkout's (in-place built) cypool.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    here = root if os.path.exists(os.path.join(root, "cypool", "__init__.py")) else None
    result = count(argv or None, pythonpath=here)
    width = max(map(len, result))
    print(f"{'case':<{width}}  " + "  ".join(f"{m:>14}" for m in METRICS))
    for name, m in result.items():
        if "error" in m:
            print(f"{name:<{width}}  {m['error']}")
        else:
            print(f"{name:<{width}}  " + "  ".join(f"{m[k]:>14,}" for k in METRICS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

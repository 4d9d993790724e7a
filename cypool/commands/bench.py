"""cypool against PyTorch, NumPy and a streaming roofline: ``cypool bench`` (``python -m cypool bench``).

Every case (a pooling layer, one direction, one data format) times its candidates interleaved in
this one process with cypool's timing loop (cypool/commands/timing.py: cypool, torch, numpy,
roofline, cypool, torch, ..., after a warm-up; the median of ``repeat`` samples of each, a sample
looping a fast call for at least 20 ms; the per-call time is reported). The candidates:

- **cypool**: the public function (``cypool.max_pool2d``, ``cypool.max_pool2d_backward``, ...) with
  ``cypool.set_num_threads(threads)``;
- **torch** (when importable): ``torch.set_num_threads(threads)``; the same NumPy memory seen as a
  tensor (channels_last data is a tensor in ``torch.channels_last`` memory format, no copy); forward
  ``F.max_pool2d`` / ``F.avg_pool2d`` / ``F.adaptive_avg_pool2d(x, 1)``, backward
  ``aten.max_pool2d_with_indices_backward`` / ``aten.avg_pool2d_backward`` (no autograd);
- **numpy**: the reshape recipe (``x.reshape(N, C, H/2, 2, W/2, 2).max((3, 5))``), for the
  non-overlapping 2x2/s2 forward cases only; single-threaded;
- **roofline**: ``cypool._stream.stream``, an OpenMP streaming kernel that reads and writes the same
  numbers of bytes as the pooling call (input and output; gradients and indices for a backward)
  with plain vectorised loops, on the thread count cypool's policy gives the call.

Columns: times in ms; ``cypool/torch`` (< 1: cypool faster); ``cypool/roofline`` (>= 1; 1 is the
machine's streaming bandwidth); ``GB/s`` = (bytes read + bytes written) / cypool's time. The
geometric mean of cypool/torch is taken over the headline cases (marked ``*``): the layers of
common networks.
A separate bandwidth case pools a 256 MB float32 input (2x2/s2 max) and gives cypool's GB/s as a
fraction of the streaming kernel's: with ``out=`` against a stream into a reused buffer, and
returning a new array against a stream into a new buffer per call. Without torch the torch columns are blank.
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
from dataclasses import dataclass, field

import numpy as np

import cypool
from cypool import _stream, _threads

from .timing import SAMPLE_SECONDS, time_interleaved

CF, CL = "channels_first", "channels_last"
FORMATS = (CF, CL)
SEED = 1234
SMOKE_SAMPLE_SECONDS = 1e-3


@dataclass(frozen=True)
class Case:
    name: str
    op: str                     # "max", "avg" or "gap" (global average: adaptive avg to 1)
    shape: tuple                # logical (N, C, *spatial)
    kernel: int = 0
    stride: int = 0
    padding: int = 0
    directions: tuple = ("fwd", "bwd")
    dtype: str = "float32"
    return_indices: bool = False
    headline: bool = True       # a layer of a common network (enters the geometric mean)

    @property
    def rank(self) -> int:
        return len(self.shape) - 2

    def window(self) -> str:
        if self.op == "gap":
            return "global"
        w = f"{self.kernel}x" * (self.rank - 1) + f"{self.kernel} s{self.stride}"
        return w + (f" p{self.padding}" if self.padding else "")


CASES = [
    Case("vgg-max2", "max", (16, 64, 112, 112), 2, 2),
    Case("resnet-stem-max3", "max", (32, 64, 112, 112), 3, 2, 1),
    Case("small-max2", "max", (64, 32, 28, 28), 2, 2),
    Case("avg2", "avg", (16, 64, 112, 112), 2, 2),
    Case("inception-avg3s1", "avg", (8, 256, 56, 56), 3, 1, 1),
    Case("head-gap", "gap", (32, 512, 7, 7), directions=("fwd",)),
    Case("tiny-max2", "max", (1, 16, 8, 8), 2, 2, directions=("fwd",)),
    # Extra rows for generality (not in the geometric mean).
    Case("max2-indices", "max", (16, 64, 56, 56), 2, 2, directions=("fwd",), return_indices=True,
         headline=False),
    Case("max2-float64", "max", (16, 64, 56, 56), 2, 2, dtype="float64", headline=False),
    Case("odd-max3s2", "max", (8, 48, 55, 55), 3, 2, headline=False),
    Case("odd-avg3s2p1", "avg", (8, 48, 57, 57), 3, 2, 1, headline=False),
    Case("1d-max3s2p1", "max", (32, 64, 4096), 3, 2, 1, directions=("fwd",), headline=False),
    Case("3d-max2", "max", (4, 32, 32, 56, 56), 2, 2, directions=("fwd",), headline=False),
    Case("3d-avg3s1p1", "avg", (2, 32, 16, 28, 28), 3, 1, 1, directions=("fwd",), headline=False),
    # late layers: small planes, many channels
    Case("late-max2", "max", (32, 256, 14, 14), 2, 2, headline=False),
    Case("late-avg3s1p1", "avg", (32, 512, 7, 7), 3, 1, 1, headline=False),
]
BIG_SHAPE = (16, 64, 256, 256)   # 256 MiB of float32


def _smoke_shape(shape: tuple) -> tuple:
    """A tiny shape of the same rank and spatial parity (for tests)."""
    n, c, *spatial = shape
    return (min(n, 2), min(c, 4), *(min(L, 12 + L % 2) for L in spatial))


# ----------------------------------------------------------------------------- data and callables

def _stored(shape: tuple, fmt: str) -> tuple:
    return (shape[0], *shape[2:], shape[1]) if fmt == CL else tuple(shape)


def _random(rng, shape, fmt, dtype) -> np.ndarray:
    """Seeded uniform [-0.5, 0.5) data, C-contiguous in the memory order of fmt."""
    x = rng.random(_stored(shape, fmt), dtype=np.dtype(dtype))
    x -= 0.5
    return x


def _torch_view(torch, a: np.ndarray, fmt: str):
    """The same memory as a logical (N, C, *spatial) tensor (channels_last memory format for CL)."""
    t = torch.from_numpy(a)
    if fmt == CL:
        t = t.movedim(-1, 1)
    return t


def _cypool_fn(name: str, rank: int):
    return getattr(cypool, f"{name}{rank}d")


@dataclass
class Row:
    case: Case
    direction: str
    fmt: str
    nbytes: int
    threads: int
    shape: tuple = ()
    times: dict = field(default_factory=dict)    # candidate -> seconds per call
    check: str = ""

    def ratio(self, other: str):
        if "cypool" in self.times and other in self.times:
            return self.times["cypool"] / self.times[other]
        return None

    @property
    def gbs(self):
        return self.nbytes / self.times["cypool"] / 1e9 if "cypool" in self.times else None


def _candidates(case: Case, direction: str, fmt: str, shape: tuple, torch, rng):
    """({candidate: zero-arg callable}, bytes moved, check string) for one row."""
    x = _random(rng, shape, fmt, case.dtype)
    rank, k, s, p = case.rank, case.kernel, case.stride, case.padding
    cands = {}
    tx = _torch_view(torch, x, fmt) if torch is not None else None
    F = torch.nn.functional if torch is not None else None
    check = ""
    if case.op == "gap":
        fwd = _cypool_fn("adaptive_avg_pool", rank)
        y = fwd(x, 1, data_format=fmt)
        if direction == "fwd":
            cands["cypool"] = lambda: fwd(x, 1, data_format=fmt)
            if torch is not None:
                tf = getattr(F, f"adaptive_avg_pool{rank}d")
                cands["torch"] = lambda: tf(tx, 1)
                check = _check(y, tf(tx, 1), fmt)
            moved = (x.nbytes, y.nbytes)
        else:  # not in the tables; kept for completeness
            raise ValueError("global average backward is not benchmarked")
    elif case.op == "max":
        fwd, bwd = _cypool_fn("max_pool", rank), getattr(cypool, f"max_pool{rank}d_backward")
        ri = case.return_indices
        y, idx = fwd(x, k, s, p, return_indices=True, data_format=fmt)
        if torch is not None:
            tf = getattr(F, f"max_pool{rank}d")
            ty, tidx = tf(tx, k, s, p, return_indices=True)
            check = _check(y, ty, fmt)
        if direction == "fwd":
            cands["cypool"] = lambda: fwd(x, k, s, p, return_indices=ri, data_format=fmt)
            if torch is not None:
                cands["torch"] = lambda: tf(tx, k, s, p, return_indices=ri)
            if _numpy_recipe_applies(case):
                cands["numpy"] = _numpy_recipe(x, fmt, "max")
            moved = (x.nbytes, y.nbytes + (idx.nbytes if ri else 0))
        else:
            g = _random(rng, y.shape, CF, case.dtype)  # y.shape is stored: g has y's layout
            cands["cypool"] = lambda: bwd(g, idx, x.shape, data_format=fmt)
            if torch is not None:
                tg = torch.from_numpy(g)
                tg = tg.movedim(-1, 1) if fmt == CL else tg
                tb = getattr(torch.ops.aten, f"max_pool{rank}d_with_indices_backward")
                one = (1,) * rank
                kk, ss, pp = (k,) * rank, (s,) * rank, (p,) * rank
                cands["torch"] = lambda: tb(tg, tx, kk, ss, pp, one, False, tidx)
                gx = bwd(g, idx, x.shape, data_format=fmt)
                check = _check(gx, tb(tg, tx, kk, ss, pp, one, False, tidx), fmt)
            moved = (g.nbytes + idx.nbytes, x.nbytes)
    else:  # avg
        fwd, bwd = _cypool_fn("avg_pool", rank), getattr(cypool, f"avg_pool{rank}d_backward")
        y = fwd(x, k, s, p, data_format=fmt)
        if torch is not None:
            tf = getattr(F, f"avg_pool{rank}d")
            check = _check(y, tf(tx, k, s, p), fmt)
        if direction == "fwd":
            cands["cypool"] = lambda: fwd(x, k, s, p, data_format=fmt)
            if torch is not None:
                cands["torch"] = lambda: tf(tx, k, s, p)
            if _numpy_recipe_applies(case):
                cands["numpy"] = _numpy_recipe(x, fmt, "avg")
            moved = (x.nbytes, y.nbytes)
        else:
            g = _random(rng, y.shape, CF, case.dtype)  # y.shape is stored: g has y's layout
            cands["cypool"] = lambda: bwd(g, x.shape, k, s, p, data_format=fmt)
            if torch is not None:
                tg = torch.from_numpy(g)
                tg = tg.movedim(-1, 1) if fmt == CL else tg
                tb = getattr(torch.ops.aten, f"avg_pool{rank}d_backward")
                kk, ss, pp = (k,) * rank, (s,) * rank, (p,) * rank
                cands["torch"] = lambda: tb(tg, tx, kk, ss, pp, False, True, None)
                gx = bwd(g, x.shape, k, s, p, data_format=fmt)
                check = _check(gx, tb(tg, tx, kk, ss, pp, False, True, None), fmt)
            moved = (g.nbytes, x.nbytes)
    cands["roofline"] = _roofline(*moved)
    return cands, sum(moved), check


def _check(ours: np.ndarray, theirs, fmt: str) -> str:
    """'ok' when cypool's result equals torch's (to float rounding), else 'DIFFERS'."""
    t = theirs.detach()
    if fmt == CL:
        t = t.movedim(1, -1)
    t = t.numpy()
    tol = 1e-5 if ours.dtype == np.float32 else 1e-12
    return "ok" if np.allclose(ours, t, rtol=tol, atol=tol) else "DIFFERS"


def _numpy_recipe_applies(case: Case) -> bool:
    return (case.rank == 2 and case.kernel == 2 and case.stride == 2 and case.padding == 0
            and not case.return_indices and all(L % 2 == 0 for L in case.shape[2:]))


def _numpy_recipe(x: np.ndarray, fmt: str, op: str):
    """The NumPy reshape recipe for a non-overlapping 2x2/s2 pool (even sizes)."""
    if fmt == CF:
        n, c, h, w = x.shape
        v, axes = x.reshape(n, c, h // 2, 2, w // 2, 2), (3, 5)
    else:
        n, h, w, c = x.shape
        v, axes = x.reshape(n, h // 2, 2, w // 2, 2, c), (2, 4)
    return (lambda: v.max(axis=axes)) if op == "max" else (lambda: v.mean(axis=axes))


def _roofline(read_bytes: int, written_bytes: int, fresh_output: bool = False):
    """cypool's streaming kernel over buffers of the call's read and written bytes, on the thread
    count cypool's policy gives a call of that size. fresh_output: a new output buffer per call,
    as a pooling call returns a new array (its first-touch page faults are then paid too)."""
    src = np.ones(read_bytes, np.uint8)
    dst = np.empty(written_bytes, np.uint8)
    nt = _threads.threads_for(read_bytes + written_bytes, 1 << 30)
    if fresh_output:
        return lambda: _stream.stream(src, np.empty(written_bytes, np.uint8), nt)
    return lambda: _stream.stream(src, dst, nt)


# ----------------------------------------------------------------------------- running

def _import_torch(use_torch: bool):
    if not use_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def run(threads: int = 2, repeat: int = 7, quick: bool = False, out: str | None = None,
        skip_big: bool = False, smoke: bool = False, use_torch: bool = True,
        only: list[str] | None = None, verbose: bool = True) -> dict:
    """Run the comparison; returns {"rows": [Row], "big": [...], "geomean": float | None, ...}
    and, with `out`, writes out/compare_frameworks.md and out/compare_frameworks.png."""
    if quick:
        repeat = min(repeat, 3)
    torch = _import_torch(use_torch)
    old_cy = _threads._global_n_threads
    old_torch = torch.get_num_threads() if torch is not None else None
    cypool.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(SEED)
    rows, big = [], []
    load_before = _loadavg()
    sample = SMOKE_SAMPLE_SECONDS if smoke else SAMPLE_SECONDS
    log = print if verbose else (lambda *a, **k: None)
    try:
        for case in CASES:
            if only and case.name not in only:
                continue
            shape = _smoke_shape(case.shape) if smoke else case.shape
            for direction in case.directions:
                for fmt in FORMATS:
                    cands, nbytes, check = _candidates(case, direction, fmt, shape, torch, rng)
                    nt = _threads.threads_for(nbytes, 1 << 30)
                    row = Row(case, direction, fmt, nbytes, nt, shape, check=check)
                    row.times = time_interleaved(cands, repeat, sample_seconds=sample)
                    del cands
                    rows.append(row)
                    log(_format_row(row))
        if not skip_big:
            shape = _smoke_shape(BIG_SHAPE) if smoke else BIG_SHAPE
            for fmt in FORMATS:
                big.append(_bandwidth_case(shape, fmt, repeat, rng, sample))
                b = big[-1]
                log(f"bandwidth 2x2/s2 max {shape} {fmt}: out= {b['out_gbs']:.1f} GB/s = "
                    f"{b['out_fraction']:.2f} of the stream ({b['stream_gbs']:.1f} GB/s); new "
                    f"array {b['cypool_gbs']:.1f} GB/s = {b['fresh_fraction']:.2f} of the "
                    f"fresh-buffer stream ({b['fresh_gbs']:.1f} GB/s), {b['fraction']:.2f} of "
                    f"the stream")
    finally:
        cypool.set_num_threads(old_cy)
        if torch is not None:
            torch.set_num_threads(old_torch)
    ratios = [r.ratio("torch") for r in rows if r.case.headline and r.ratio("torch")]
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None
    result = {"rows": rows, "big": big, "geomean": geomean, "threads": threads, "repeat": repeat,
              "torch": torch.__version__ if torch is not None else None, "smoke": smoke,
              "load": (load_before, _loadavg())}
    if out:
        os.makedirs(out, exist_ok=True)
        md = os.path.join(out, "compare_frameworks.md")
        with open(md, "w", encoding="utf-8") as f:
            f.write(markdown(result))
        result["markdown"] = md
        result["png"] = plot(result, os.path.join(out, "compare_frameworks.png"))
        log(f"wrote {md}" + (f" and {result['png']}" if result["png"] else ""))
    return result


def _bandwidth_case(shape, fmt, repeat, rng, sample) -> dict:
    """cypool's 2x2/s2 max of a big input against the streaming kernel moving the same bytes, in
    like-for-like pairs: a call returning a new array against a stream into a new buffer per
    call (both pay the output's first-touch page faults), and a call with out= against a stream
    into a reused buffer (neither does)."""
    x = _random(rng, shape, fmt, "float32")
    y = cypool.max_pool2d(x, 2, 2, data_format=fmt)
    y_out = np.empty_like(y)
    nbytes = x.nbytes + y.nbytes
    cands = {"cypool": lambda: cypool.max_pool2d(x, 2, 2, data_format=fmt),
             "cypool_out": lambda: cypool.max_pool2d(x, 2, 2, data_format=fmt, out=y_out),
             "roofline": _roofline(x.nbytes, y.nbytes),
             "roofline_fresh": _roofline(x.nbytes, y.nbytes, fresh_output=True)}
    t = time_interleaved(cands, repeat, sample_seconds=sample)
    gbs = {k: nbytes / v / 1e9 for k, v in t.items()}
    return {"shape": shape, "fmt": fmt, "mb": x.nbytes / 2**20,
            "cypool_ms": t["cypool"] * 1e3, "cypool_gbs": gbs["cypool"],
            "out_ms": t["cypool_out"] * 1e3, "out_gbs": gbs["cypool_out"],
            "stream_ms": t["roofline"] * 1e3, "stream_gbs": gbs["roofline"],
            "fresh_ms": t["roofline_fresh"] * 1e3, "fresh_gbs": gbs["roofline_fresh"],
            "out_fraction": gbs["cypool_out"] / gbs["roofline"],
            "fresh_fraction": gbs["cypool"] / gbs["roofline_fresh"],
            "fraction": gbs["cypool"] / gbs["roofline"]}


# ----------------------------------------------------------------------------- reporting

COLUMNS = ["case", "dir", "format", "shape", "window", "MB moved", "thr", "cypool ms", "torch ms",
           "numpy ms", "roofline ms", "cypool/torch", "cypool/roofline", "GB/s", "check"]


def _ms(t) -> str:
    if t is None:
        return ""
    ms = t * 1e3
    return f"{ms:.4f}" if ms < 0.1 else f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def _num(v, fmt="{:.2f}") -> str:
    return "" if v is None else fmt.format(v)


def _cells(row: Row) -> list[str]:
    c = row.case
    dt = "" if c.dtype == "float32" else f" {c.dtype}"
    return [c.name + ("*" if c.headline else "") + dt, row.direction,
            "CF" if row.fmt == CF else "CL", "x".join(map(str, _shape_of(row))), c.window()
            + (" +idx" if c.return_indices and row.direction == "fwd" else ""),
            f"{row.nbytes / 1e6:.2f}", str(row.threads),
            _ms(row.times.get("cypool")), _ms(row.times.get("torch")),
            _ms(row.times.get("numpy")), _ms(row.times.get("roofline")),
            _num(row.ratio("torch")), _num(row.ratio("roofline")), _num(row.gbs, "{:.1f}"),
            row.check]


def _shape_of(row: Row) -> tuple:
    return row.shape or row.case.shape


def _format_row(row: Row) -> str:
    return " | ".join(f"{h}={v}" for h, v in zip(COLUMNS, _cells(row)) if v)


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "# cypool vs PyTorch, NumPy and a streaming roofline",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {_machine()}; "
        f"{result['threads']} threads; median of {result['repeat']} interleaved samples; "
        f"numpy {np.__version__}; torch {result['torch'] or 'not installed'}"
        + ("; SMOKE RUN (tiny shapes)" if result["smoke"] else "") + "."
        + (" 1-minute load average {} at the start, {} at the end (other jobs share the CPUs: "
           "compare ratios, not absolute times).".format(*result["load"])
           if None not in result.get("load", (None,)) else ""),
        "",
        "Times per call in ms. `cypool/torch` < 1: cypool is faster. `cypool/roofline`: cypool's "
        "time over the streaming kernel's for the same bytes (1 = the machine's bandwidth). "
        "`GB/s`: (bytes read + written) / cypool's time. `thr`: threads cypool's policy uses for "
        "the call. `check`: cypool's result equals torch's. `*`: a headline case (a layer of a "
        "common network).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cells(row)) + " |")
    lines.append("")
    g = result["geomean"]
    n = sum(1 for r in rows if r.case.headline and r.ratio("torch"))
    lines.append(f"Geometric mean of cypool/torch over the {n} rows of the headline cases: "
                 + (f"**{g:.3f}**" if g is not None else "n/a (torch not installed)") + ".")
    if result["big"]:
        lines += ["", "Bandwidth: 2x2/s2 max forward of a float32 input against cypool's "
                  "streaming kernel moving the same bytes, interleaved in this process, in "
                  "like-for-like pairs: `out=` (cypool writing into a reused array) against the "
                  "stream into a reused buffer; a new array per call (the default) against the "
                  "stream into a new buffer per call (both pay the first-touch page faults of "
                  "the output). The last column sets the new-array call against the reused-"
                  "buffer stream.", "",
                  "| format | shape | input MB | out= ms | stream ms | out= / stream | new array ms "
                  "| fresh stream ms | new / fresh | new / stream |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for b in result["big"]:
            lines.append(f"| {'CF' if b['fmt'] == CF else 'CL'} | {'x'.join(map(str, b['shape']))}"
                         f" | {b['mb']:.0f} | {b['out_ms']:.1f} | {b['stream_ms']:.1f} | "
                         f"**{b['out_fraction']:.2f}** | {b['cypool_ms']:.1f} | "
                         f"{b['fresh_ms']:.1f} | **{b['fresh_fraction']:.2f}** | "
                         f"{b['fraction']:.2f} |")
    return "\n".join(lines) + "\n"


def _loadavg():
    try:
        return round(os.getloadavg()[0], 1)
    except (AttributeError, OSError):
        return None


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs"


def plot(result: dict, path: str) -> str | None:
    """Bar chart of cypool/torch per row (log scale, a line at 1); None without matplotlib or
    torch."""
    rows = [r for r in result["rows"] if r.ratio("torch")]
    if not rows:
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    labels = []
    for r in rows:
        label = f"{r.case.name}{'*' if r.case.headline else ''} {r.direction}"
        if label not in labels:
            labels.append(label)
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(labels) + 2), 5))
    width = 0.4
    for j, (fmt, color) in enumerate(((CF, "tab:blue"), (CL, "tab:orange"))):
        xs, hs = [], []
        for r in rows:
            if r.fmt == fmt:
                xs.append(labels.index(f"{r.case.name}{'*' if r.case.headline else ''} "
                                       f"{r.direction}") + (j - 0.5) * width)
                hs.append(r.ratio("torch"))
        ax.bar(xs, hs, width, color=color, label=fmt)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("cypool time / torch time (log; < 1: cypool faster)")
    g = result["geomean"]
    ax.set_title(f"cypool vs PyTorch {result['torch']}, {result['threads']} threads"
                 + (f"; geometric mean over the headline cases (*) {g:.2f}" if g else ""),
                 fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="cypool bench", description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="threads for cypool and torch (2)")
    ap.add_argument("--repeat", type=int, default=7, help="samples per candidate; median (7)")
    ap.add_argument("--quick", action="store_true", help="3 samples instead of --repeat")
    ap.add_argument("--out", metavar="DIR", help="write DIR/compare_frameworks.md and .png")
    ap.add_argument("--skip-big", action="store_true", help="skip the 256 MB bandwidth case")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes (a test of the script)")
    ap.add_argument("--no-torch", action="store_true", help="do not compare with torch")
    ap.add_argument("--case", action="append", metavar="NAME",
                    help="run only this case (repeatable): " + ", ".join(c.name for c in CASES))
    a = ap.parse_args(argv)
    if a.threads < 1 or a.repeat < 1:
        ap.error("--threads and --repeat must be positive")
    result = run(threads=a.threads, repeat=a.repeat, quick=a.quick, out=a.out,
                 skip_big=a.skip_big, smoke=a.smoke, use_torch=not a.no_torch, only=a.case)
    print()
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Running the comparison in this process: a row's candidates, timed interleaved (measure_row),
the table (run) and the 256 MB bandwidth case."""
from __future__ import annotations

import math
import os

import numpy as np

import cypool
from cypool import _threads

from ..timing import SAMPLE_SECONDS, time_interleaved
from .cases import (BIG_SHAPE, CF, FORMATS, SEED, SMOKE_SAMPLE_SECONDS, Case, Row, _nbytes,
                    _random, _selected, _smoke_shape, _torch_view, is_bfloat16)
from .operators import _numpy_recipe, _numpy_recipe_applies, _operator, _roofline
from .peers import _check, _load_peers, _peers_of_row, _torch_backward
from .report import _format_row, _loadavg, markdown, plot


_TOLERANCES = {np.dtype(np.float16): 4e-3, np.dtype(np.float32): 1e-5}


def _candidates(case: Case, direction: str, fmt: str, shape: tuple, torch, rng):
    """({candidate: zero-arg callable}, bytes moved, check string, bytes cypool's call returns)
    for one row."""
    x = _random(rng, shape, fmt, case.dtype)
    o = _operator(case, fmt, x, torch, rng)
    cands, checks = {}, []
    # float16 / bfloat16: peers that add in the 16-bit type (JAX, TensorFlow) round each partial
    # sum
    tol = o.tol or (3e-2 if is_bfloat16(x.dtype) else _TOLERANCES.get(x.dtype, 1e-12))
    if direction == "fwd":
        result = o.fwd()
        cands["cypool"] = o.fwd
        if torch is not None and o.torch_fwd is not None:
            tx, tf_ = _torch_view(torch, o.inp, fmt), o.torch_fwd
            with torch.no_grad():
                checks.append(("torch", _check(result, tf_(tx), fmt, tol)))

            def torch_call():
                with torch.no_grad():
                    return tf_(tx)
            cands["torch"] = torch_call
        moved = (o.inp.nbytes + o.fwd_read, _nbytes(result))
        _peers_of_row(direction, o, fmt, cands, checks, result, None, tol)
        if _numpy_recipe_applies(case):
            cands["numpy"] = _numpy_recipe(x, fmt, case.op)
    else:
        if o.bwd is None:
            raise ValueError(f"{case.name}: the backward is not benchmarked")
        y, aux = o.fwd_aux()
        y0 = y[0] if isinstance(y, tuple) else y
        g = _random(rng, y0.shape, CF, case.dtype)  # y0.shape is stored: g has y's layout
        result = o.bwd(g, aux)
        cands["cypool"] = lambda: o.bwd(g, aux)
        aux_bytes = _nbytes([a for a in (aux if isinstance(aux, list) else [aux])
                             if a is not None])
        moved = (g.nbytes + aux_bytes + (o.bwd_read or 0), _nbytes(result))
        if torch is not None and o.torch_fwd is not None:
            cands["torch"], theirs = _torch_backward(torch, o, fmt, g)
            checks.append(("torch", _check(result, theirs, fmt, tol)))
        _peers_of_row(direction, o, fmt, cands, checks, result, g, tol)
    cands["roofline"] = _roofline(*moved)
    bad = [name for name, c in checks if c != "ok"]
    check = ("DIFFERS: " + ", ".join(bad)) if bad else ("ok" if checks else "")
    return cands, sum(moved), check, _nbytes(result)


def _import_torch(use_torch: bool):
    if not use_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


class _Threads:
    """cypool's and torch's thread counts set for a run, restored after it."""

    def __init__(self, threads, torch):
        self.threads, self.torch = threads, torch

    def __enter__(self):
        self.old_cy = _threads._global_n_threads
        self.old_torch = self.torch.get_num_threads() if self.torch is not None else None
        cypool.set_num_threads(self.threads)
        if self.torch is not None:
            self.torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        cypool.set_num_threads(self.old_cy)
        if self.torch is not None:
            self.torch.set_num_threads(self.old_torch)


def measure_row(case: Case, direction: str, fmt: str, torch, rng, repeat: int, sample: float,
                smoke: bool, keep=None, turn=None) -> Row:
    """One row: its candidates (those named in keep, when given) timed interleaved in this
    process. turn(): when given, called once the inputs are made: the warm-up and the timing
    start when it returns."""
    shape = _smoke_shape(case.shape) if smoke else case.shape
    cands, nbytes, check, out_nbytes = _candidates(case, direction, fmt, shape, torch, rng)
    if keep is not None:
        cands = {k: v for k, v in cands.items() if k in keep}
    nt = _threads.threads_for(nbytes, 1 << 30)
    row = Row(case, direction, fmt, nbytes, nt, shape, check=check, out_nbytes=out_nbytes)
    if turn is not None:
        turn()
    # TensorFlow's and JAX's threads work on after their calls return: the next candidate waits
    row.times = time_interleaved(cands, repeat, sample_seconds=sample,
                                 settle_after=("tensorflow", "jax"))
    return row


def run(threads: int = 2, repeat: int = 7, quick: bool = False, out: str | None = None,
        skip_big: bool = False, smoke: bool = False, use_torch: bool = True,
        only: list[str] | None = None, verbose: bool = True, all_ops: bool = False,
        peers=("tensorflow", "jax"), big_only: bool = False) -> dict:
    """Run the comparison; returns {"rows": [Row], "big": [...], "geomean": float | None, ...}
    and, with `out`, writes out/compare_frameworks.md and out/compare_frameworks.png.
    all_ops: the operator table too; peers: the optional peers to use when installed."""
    if quick:
        repeat = min(repeat, 3)
    torch = _import_torch(use_torch)
    loaded = _load_peers(peers or (), threads)
    rng = np.random.default_rng(SEED)
    rows, big = [], []
    load_before = _loadavg()
    sample = SMOKE_SAMPLE_SECONDS if smoke else SAMPLE_SECONDS
    log = print if verbose else (lambda *a, **k: None)
    with _Threads(threads, torch):
        for case in ([] if big_only else _selected(only, all_ops)):
            for direction in case.directions:
                for fmt in FORMATS:
                    rows.append(measure_row(case, direction, fmt, torch, rng, repeat, sample,
                                            smoke))
                    log(_format_row(rows[-1]))
        if not skip_big:
            shape = _smoke_shape(BIG_SHAPE) if smoke else BIG_SHAPE
            for op in ("max", "avg"):
                for direction in ("fwd", "bwd"):
                    for fmt in FORMATS:
                        big.append(_bandwidth_case(shape, fmt, repeat, rng, sample, op,
                                                   direction))
                        log(_format_big(big[-1]))
    ratios = [r.ratio("torch") for r in rows if r.case.headline and r.ratio("torch")]
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None
    result = {"rows": rows, "big": big, "geomean": geomean, "threads": threads, "repeat": repeat,
              "torch": torch.__version__ if torch is not None else None, "smoke": smoke,
              "peers": {name: m.__version__ for name, m in loaded.items()},
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


def _bandwidth_case(shape, fmt, repeat, rng, sample, op="max", direction="fwd") -> dict:
    """cypool's 2x2/s2 max or average (forward or backward) of a big input against the streaming
    kernel moving the same bytes, in like-for-like pairs: a call returning a new array against a
    stream into a new buffer per call (both pay the output's first-touch page faults), and a call
    with out= against a stream into a reused buffer (neither does)."""
    x = _random(rng, shape, fmt, "float32")
    kw = {"data_format": fmt}
    if op == "max":
        y, idx = cypool.max_pool2d(x, 2, 2, return_indices=True, **kw)
    else:
        y, idx = cypool.avg_pool2d(x, 2, 2, **kw), None
    if direction == "fwd":
        f = cypool.max_pool2d if op == "max" else cypool.avg_pool2d
        call = lambda **o: f(x, 2, 2, **kw, **o)  # noqa: E731
        read, written = x.nbytes, y.nbytes
    else:
        g = _random(rng, y.shape, CF, "float32")  # y.shape is stored: g has y's layout
        if op == "max":
            call = lambda **o: cypool.max_pool2d_backward(g, idx, x.shape, **kw, **o)  # noqa
            read = g.nbytes + idx.nbytes
        else:
            call = lambda **o: cypool.avg_pool2d_backward(g, x.shape, 2, 2, **kw, **o)  # noqa
            read = g.nbytes
        written = x.nbytes
    out = np.empty_like(call())
    del y
    nbytes = read + written
    cands = {"cypool": call,
             "cypool_out": lambda: call(out=out),
             "roofline": _roofline(read, written),
             "roofline_fresh": _roofline(read, written, fresh_output=True)}
    t = time_interleaved(cands, repeat, sample_seconds=sample)
    gbs = {k: nbytes / v / 1e9 for k, v in t.items()}
    return {"shape": shape, "fmt": fmt, "op": op, "direction": direction,
            "mb": x.nbytes / 2**20, "moved_mb": nbytes / 2**20,
            "cypool_ms": t["cypool"] * 1e3, "cypool_gbs": gbs["cypool"],
            "out_ms": t["cypool_out"] * 1e3, "out_gbs": gbs["cypool_out"],
            "stream_ms": t["roofline"] * 1e3, "stream_gbs": gbs["roofline"],
            "fresh_ms": t["roofline_fresh"] * 1e3, "fresh_gbs": gbs["roofline_fresh"],
            "out_fraction": gbs["cypool_out"] / gbs["roofline"],
            "fresh_fraction": gbs["cypool"] / gbs["roofline_fresh"],
            "fraction": gbs["cypool"] / gbs["roofline"]}


def _format_big(b: dict) -> str:
    return (f"bandwidth 2x2/s2 {b['op']} {b['direction']} {b['shape']} {b['fmt']}: out= "
            f"{b['out_gbs']:.1f} GB/s = {b['out_fraction']:.2f} of the stream "
            f"({b['stream_gbs']:.1f} GB/s); new array {b['cypool_gbs']:.1f} GB/s = "
            f"{b['fresh_fraction']:.2f} of the fresh-buffer stream ({b['fresh_gbs']:.1f} GB/s), "
            f"{b['fraction']:.2f} of the stream")

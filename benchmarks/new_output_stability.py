"""Calls that return a big new array, timed in fresh processes: how much their time swings from
process to process, with cypool's output cache on and off, NumPy's huge-page advice on and off,
and torch beside them.

    PYTHONPATH=. python benchmarks/new_output_stability.py --processes 5

Each process times every case interleaved (cypool, then torch, in turn) and reports the median of
its samples; the table gives, per case and setting, the median over processes, the ratio of the
slowest process median to the fastest (the swing), and cypool / torch.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

CASES = {
    # name: (shape, op)
    "max2-bwd-51MB": ((16, 64, 112, 112), "max_bwd"),
    "avg2-bwd-51MB": ((16, 64, 112, 112), "avg_bwd"),
    "max2-fwd-idx-51MB": ((16, 64, 112, 112), "max_fwd_idx"),
    "avg3s1-fwd-51MB": ((16, 64, 112, 112), "avg3_fwd"),
}


def child(samples: int) -> dict:
    import time
    import cypool
    try:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(cypool.get_num_threads())
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    result = {}
    for name, (shape, op) in CASES.items():
        x = rng.random(shape, dtype=np.float32)
        y, idx = cypool.max_pool2d(x, 2, return_indices=True)
        g = np.ones_like(y)
        if op == "max_bwd":
            ours = lambda: cypool.max_pool2d_backward(g, idx, x.shape)
        elif op == "avg_bwd":
            ours = lambda: cypool.avg_pool2d_backward(g, x.shape, 2)
        elif op == "max_fwd_idx":
            ours = lambda: cypool.max_pool2d(x, 2, return_indices=True)
        else:
            ours = lambda: cypool.avg_pool2d(x, 3, 1, 1)
        theirs = None
        if torch is not None:
            tx = torch.from_numpy(x)
            ty, ti = F.max_pool2d(tx, 2, return_indices=True)
            tg = torch.from_numpy(g)
            theirs = {
                "max_bwd": lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                    tg, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, ti),
                "avg_bwd": lambda: torch.ops.aten.avg_pool2d_backward(
                    tg, tx, [2, 2], [2, 2], [0, 0], False, True, None),
                "max_fwd_idx": lambda: F.max_pool2d(tx, 2, return_indices=True),
                "avg3_fwd": lambda: F.avg_pool2d(tx, 3, 1, 1),
            }[op]
        times = {"cypool": [], "torch": []}
        for _ in range(samples):
            for who, f in (("cypool", ours), ("torch", theirs)):
                if f is None:
                    continue
                t0 = time.perf_counter()
                r = f()
                times[who].append(time.perf_counter() - t0)
                del r
        result[name] = {k: float(np.median(v)) for k, v in times.items() if v}
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=5)
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.samples)))
        return
    settings = {
        "cache on": {},
        "cache off": {"CYPOOL_OUTPUT_CACHE": "0"},
        "cache off, no THP advice": {"CYPOOL_OUTPUT_CACHE": "0", "NUMPY_MADVISE_HUGEPAGE": "0"},
    }
    runs = {s: [] for s in settings}
    for _ in range(args.processes):
        for s, env in settings.items():   # settings interleaved, a fresh process each
            out = subprocess.run([sys.executable, __file__, "--child", "--samples",
                                  str(args.samples)], env={**os.environ, **env},
                                 capture_output=True, text=True, check=True).stdout
            runs[s].append(json.loads(out))
    print(f"{args.processes} fresh processes per setting, median of {args.samples} calls each "
          f"(ms); swing = slowest process / fastest")
    print("| case | setting | cypool | swing | torch | swing | cypool/torch |")
    print("|---|---|---|---|---|---|---|")
    for name in CASES:
        for s in settings:
            ours = [r[name]["cypool"] * 1e3 for r in runs[s]]
            theirs = [r[name].get("torch", np.nan) * 1e3 for r in runs[s]]
            print(f"| {name} | {s} | {np.median(ours):.1f} | {max(ours) / min(ours):.2f} | "
                  f"{np.median(theirs):.1f} | {max(theirs) / min(theirs):.2f} | "
                  f"{np.median(ours) / np.median(theirs):.2f} |")


if __name__ == "__main__":
    main()

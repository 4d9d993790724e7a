"""Per-call time of small calls: cypool against PyTorch on a (1, 16, 8, 8) float32 input, and the
PyTorch bridge (cypool.torch) against torch's own pooling on tensors of (1, 1, 4, 4) and
(1, 16, 8, 8).

A small call's time is mostly Python work (checks, geometry, layout) rather than pooling; cypool's
call plans (cypool/_plan.py) serve repeated calls. Candidates run interleaved in this process
(cypool.commands.timing.time_interleaved: median of --repeat samples of >= 20 ms each), 2 threads for both.

    PYTHONPATH=. python benchmarks/call_overhead.py [--repeat 7] [--only numpy|bridge]
"""
import argparse

import numpy as np

import cypool


def main(argv=None):
    # imported here, not at the top: asv imports every module of benchmarks/, also against builds
    # of older commits that lack cypool.commands
    from cypool.commands import bench
    from cypool.commands.timing import time_interleaved
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", choices=("numpy", "bridge"), default=None)
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(2)
    cypool.set_num_threads(2)
    if a.only != "bridge":
        numpy_rows(torch, bench, time_interleaved, a.repeat)
    if a.only != "numpy":
        bridge_rows(torch, time_interleaved, a.repeat)


def numpy_rows(torch, bench, time_interleaved, repeat):
    """cypool's NumPy functions against torch's operators on the same memory."""
    F = torch.nn.functional
    aten = torch.ops.aten
    print("| call | format | cypool us | torch us | cypool/torch |")
    print("|---|---|---|---|---|")
    for fmt in ("channels_first", "channels_last"):
        x = bench._random(np.random.default_rng(0), (1, 16, 8, 8), fmt, "float32")
        tx = bench._torch_view(torch, x, fmt)
        y, idx = cypool.max_pool2d(x, 2, 2, return_indices=True, data_format=fmt)
        ty, ti = F.max_pool2d(tx, 2, 2, return_indices=True)
        tg = bench._torch_view(torch, np.ones_like(y), fmt)
        g = np.ones_like(y)
        ya = cypool.adaptive_max_pool2d(x, 3, return_indices=True, data_format=fmt)
        tya = F.adaptive_max_pool2d(tx, 3, return_indices=True)
        g3 = np.ones_like(ya[0])
        tg3 = bench._torch_view(torch, g3, fmt)
        pairs = {
            "max_pool2d 2x2": (lambda: cypool.max_pool2d(x, 2, 2, data_format=fmt),
                               lambda: F.max_pool2d(tx, 2, 2)),
            "max_pool2d 2x2 backward": (
                lambda: cypool.max_pool2d_backward(g, idx, x.shape, data_format=fmt),
                lambda: aten.max_pool2d_with_indices_backward(tg, tx, [2, 2], [2, 2], [0, 0],
                                                              [1, 1], False, ti)),
            "avg_pool2d 2x2": (lambda: cypool.avg_pool2d(x, 2, 2, data_format=fmt),
                               lambda: F.avg_pool2d(tx, 2, 2)),
            "avg_pool2d 2x2 backward": (
                lambda: cypool.avg_pool2d_backward(g, x.shape, 2, 2, data_format=fmt),
                lambda: aten.avg_pool2d_backward(tg, tx, [2, 2], [2, 2], [0, 0], False, True,
                                                 None)),
            "adaptive_avg_pool2d 3": (lambda: cypool.adaptive_avg_pool2d(x, 3, data_format=fmt),
                                      lambda: F.adaptive_avg_pool2d(tx, 3)),
            "adaptive_avg_pool2d 3 backward": (
                lambda: cypool.adaptive_avg_pool2d_backward(g3, x.shape, data_format=fmt),
                lambda: aten._adaptive_avg_pool2d_backward(tg3, tx)),
            "adaptive_max_pool2d 3": (lambda: cypool.adaptive_max_pool2d(x, 3, data_format=fmt),
                                      lambda: F.adaptive_max_pool2d(tx, 3)),
            "adaptive_max_pool2d 3 backward": (
                lambda: cypool.adaptive_max_pool2d_backward(g3, ya[1], x.shape, data_format=fmt),
                lambda: aten.adaptive_max_pool2d_backward(tg3, tx, tya[1])),
            "global avg (adaptive 1)": (lambda: cypool.adaptive_avg_pool2d(x, 1, data_format=fmt),
                                        lambda: F.adaptive_avg_pool2d(tx, 1)),
            "global max (adaptive 1)": (lambda: cypool.global_max_pool2d(x, data_format=fmt),
                                        lambda: F.adaptive_max_pool2d(tx, 1)),
        }
        for name, (c, t) in pairs.items():
            r = time_interleaved({"cypool": c, "torch": t}, repeat)
            print(f"| {name} | {'CF' if fmt == 'channels_first' else 'CL'} | "
                  f"{r['cypool'] * 1e6:.1f} | {r['torch'] * 1e6:.1f} | "
                  f"{r['cypool'] / r['torch']:.2f} |")


def bridge_rows(torch, time_interleaved, repeat):
    """cypool.torch's functions against torch.nn.functional's, called the same way: inference
    (no tensor needs a gradient) and forward + backward (``y.sum().backward()``). One thread for
    both: on tensors this small a second thread only adds its wake-up time, which on a loaded
    machine dwarfs the call."""
    import cypool.torch as ct
    F = torch.nn.functional
    threads = torch.get_num_threads(), cypool.get_num_threads()
    torch.set_num_threads(1)
    cypool.set_num_threads(1)
    calls = {
        "max_pool2d 2x2": lambda m, v: m.max_pool2d(v, 2),
        "avg_pool2d 2x2": lambda m, v: m.avg_pool2d(v, 2),
        "adaptive_avg_pool2d 1": lambda m, v: m.adaptive_avg_pool2d(v, 1),
        "adaptive_max_pool2d 3": lambda m, v: m.adaptive_max_pool2d(v, 3),
    }
    print()
    print("| bridge call | shape | format | cypool.torch us | torch us | cypool.torch/torch |")
    print("|---|---|---|---|---|---|")
    for shape in ((1, 1, 4, 4), (1, 16, 8, 8)):
        for fmt in ("channels_first", "channels_last"):
            x = torch.rand(shape)
            if fmt == "channels_last":
                x = x.contiguous(memory_format=torch.channels_last)
            xg = x.clone(memory_format=torch.preserve_format).requires_grad_(True)
            for name, f in calls.items():
                rows = {
                    name: ({"cypool.torch": lambda f=f: f(ct, x), "torch": lambda f=f: f(F, x)}),
                    f"{name} forward + backward": (
                        {"cypool.torch": lambda f=f: f(ct, xg).sum().backward(),
                         "torch": lambda f=f: f(F, xg).sum().backward()}),
                }
                for row, cands in rows.items():
                    r = time_interleaved(cands, repeat)
                    print(f"| {row} | {tuple(shape)} | "
                          f"{'CF' if fmt == 'channels_first' else 'CL'} | "
                          f"{r['cypool.torch'] * 1e6:.1f} | {r['torch'] * 1e6:.1f} | "
                          f"{r['cypool.torch'] / r['torch']:.2f} |")
    torch.set_num_threads(threads[0])
    cypool.set_num_threads(threads[1])


if __name__ == "__main__":
    main()

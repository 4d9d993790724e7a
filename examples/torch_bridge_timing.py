"""Time cypool.torch modules against torch's own, forward + backward, in one process, interleaved
(A B A B ...), median of 9 runs each, on a (32, 64, 56, 56) float32 tensor in both memory formats.

    PYTHONPATH=. python examples/torch_bridge_timing.py
"""
import time

import numpy as np
import torch

import cypool
import cypool.torch as ct


def step(module, x):
    x = x.detach().requires_grad_(True)
    y = module(x)
    y = y[0] if isinstance(y, tuple) else y
    y.backward(torch.ones_like(y))


def main(repeats=9):
    torch.manual_seed(0)
    print(f"torch {torch.__version__}: {torch.get_num_threads()} threads; "
          f"cypool: {cypool.get_num_threads()} threads, OpenMP {cypool.openmp_enabled()}")
    cases = [("MaxPool2d(3, 2, 1)", dict(kernel_size=3, stride=2, padding=1)),
             ("AvgPool2d(2)", dict(kernel_size=2)),
             ("AdaptiveAvgPool2d(7)", dict(output_size=7))]
    for fmt_name, fmt in [("contiguous", torch.contiguous_format),
                          ("channels_last", torch.channels_last)]:
        x = torch.randn(32, 64, 56, 56).contiguous(memory_format=fmt)
        for label, args in cases:
            name = label.split("(")[0]
            ours, theirs = ct.MODULES[name](**args), getattr(torch.nn, name)(**args)
            times = {"cypool": [], "torch": []}
            for _ in range(repeats):
                for key, m in (("cypool", ours), ("torch", theirs)):
                    t0 = time.perf_counter()
                    step(m, x)
                    times[key].append(time.perf_counter() - t0)
            a, b = np.median(times["cypool"]), np.median(times["torch"])
            print(f"{fmt_name:>13} {label:<22} cypool {a * 1e3:7.1f} ms  torch {b * 1e3:7.1f} ms"
                  f"  torch/cypool {b / a:4.2f}")


if __name__ == "__main__":
    main()

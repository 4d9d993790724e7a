"""cypool's command line: `python -m cypool [demo | bench ... | plots ... | compare ...]` (and the
`cypool` console script). The commands live in cypool.commands (bench, plots) and cypool.compare,
apart from the operator library."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .commands import timing

# Commands that parse their own arguments: name -> (module in cypool.commands, help).
OWN_ARGUMENTS = {
    "bench": ("bench", "time cypool against PyTorch, NumPy and a streaming roofline"),
    "plots": ("plots", "plot asv results (times and counts) across commits"),
}


def demo(args=None) -> int:
    """Print the build configuration, pool the seed examples, and time one realistic tensor
    against NumPy's reshape recipe (interleaved, in this process)."""
    import cypool

    cypool.show_config()
    print("\nSeed example: 2x2 max pooling, stride 2")
    x = np.array([[1, 3, 2, 4], [5, 6, 7, 8], [9, 1, 2, 3], [4, 5, 6, 7]], np.float32)
    print(x, "\n->\n", cypool.max_pool2d(x[None, None], 2)[0, 0])
    X = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    print("MaxPool2d(3, padding=1, stride=2) on arange(16):",
          cypool.max_pool2d(X, 3, 2, 1).ravel().tolist())
    print("AvgPool2d(2, stride=1) on [[0,1,2],[3,4,5],[6,7,8]]:",
          cypool.avg_pool2d(np.arange(9.0).reshape(1, 1, 3, 3), 2, 1).ravel().tolist())

    shape = (16, 64, 112, 112)
    a = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    n, c, h, w = shape

    def reshape_recipe():
        return a.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    def cy():
        return cypool.max_pool2d(a, 2)

    assert np.array_equal(cy(), reshape_recipe())
    t = timing.time_interleaved({"numpy": reshape_recipe, "cypool": cy}, repeat=5, warmup=1)
    t_np, t_cy = t["numpy"], t["cypool"]
    gbs = (a.nbytes + a.nbytes / 4) / t_cy / 1e9
    print(f"\nmax_pool2d 2x2/s2 on float32 {shape} ({a.nbytes / 1e6:.0f} MB), "
          f"{cypool.get_num_threads()} threads:")
    print(f"  cypool {t_cy * 1e3:8.2f} ms ({gbs:.1f} GB/s)   NumPy reshape recipe "
          f"{t_np * 1e3:8.2f} ms   -> cypool is {t_np / t_cy:.1f}x faster")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cypool", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="show the configuration, the seed examples and one timing")
    for name, (_, text) in OWN_ARGUMENTS.items():
        sub.add_parser(name, help=text + f" (cypool {name} --help)", add_help=False)
    from . import compare
    compare.add_arguments(sub.add_parser(
        "compare", help="compare downsampling strategies and write a report folder"))
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in OWN_ARGUMENTS:
        import importlib
        module = importlib.import_module(f".commands.{OWN_ARGUMENTS[argv[0]][0]}", __package__)
        return module.main(argv[1:])
    args = parser.parse_args(argv)
    if args.command in (None, "demo"):
        return demo(args)
    if args.command == "compare":
        args.argv = argv[1:]
        return compare.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

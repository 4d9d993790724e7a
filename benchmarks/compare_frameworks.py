"""cypool against PyTorch, NumPy's reshape recipe and a streaming roofline.

    python benchmarks/compare_frameworks.py --out benchmarks/results   # = cypool bench

The code is cypool.commands.bench, so this works with an installed cypool and from a source checkout with an
in-place build (`python setup.py build_ext --inplace`); the checkout is preferred when it is built.
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if glob.glob(os.path.join(ROOT, "cypool", "_max*.so")) + glob.glob(os.path.join(ROOT, "cypool",
                                                                                 "_max*.pyd")):
    sys.path.insert(0, ROOT)

if __name__ == "__main__":
    # imported here, not at the top: asv imports every module of benchmarks/, also against builds
    # of older commits that lack cypool.commands
    from cypool.commands.bench import main
    sys.exit(main())

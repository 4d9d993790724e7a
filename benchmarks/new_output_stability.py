"""Calls that return a big new array, timed in fresh processes: how much their time swings from
process to process, NumPy's huge-page advice on and off, torch beside them.

    python benchmarks/new_output_stability.py --processes 5    # = cypool bench --processes 5

The code is cypool.commands.bench (its --processes mode; see `cypool bench --help` for the other
options, e.g. --all for the operator table's rows too, --no-output-cache); this works with an
installed cypool and from a source checkout with an in-place build, the checkout preferred when it
is built.
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
    argv = sys.argv[1:]
    if not any(a == "--processes" or a.startswith("--processes=") for a in argv):
        argv = ["--processes", "5", *argv]
    sys.exit(main(argv))

"""cypool against PyTorch, TensorFlow, JAX, NumPy and a streaming roofline: ``cypool bench``
(``python -m cypool bench``, ``python -m cypool.bench``).

Every case (a pooling layer, one direction, one data format) times its candidates interleaved in
this one process with cypool's timing loop (cypool/commands/timing.py: cypool, torch, numpy,
roofline, cypool, torch, ..., after a warm-up; the median of ``repeat`` samples of each, a sample
looping a fast call for at least 20 ms; the per-call time is reported). The candidates:

- **cypool**: the public function (``cypool.max_pool2d``, ``cypool.max_pool2d_backward``, ...) with
  ``cypool.set_num_threads(threads)``;
- **torch** (when importable): ``torch.set_num_threads(threads)``; the same NumPy memory seen as a
  tensor (channels_last data is a tensor in ``torch.channels_last`` memory format, no copy); forward
  ``F.max_pool2d`` / ``F.avg_pool2d`` / ``F.adaptive_avg_pool2d(x, 1)`` / ..., backward
  ``aten.max_pool2d_with_indices_backward`` / ``aten.avg_pool2d_backward`` (no autograd) for max
  and average pooling, ``torch.autograd.grad`` of a recorded forward (``retain_graph``, so only
  the backward is timed) for the other operators. Operators torch lacks are written as torch
  users write them: blur pooling as reflect padding and a depthwise ``F.conv2d``, max-blur as
  ``F.max_pool2d`` (stride 1) then blur, spatial pyramid pooling as concatenated
  ``F.adaptive_max_pool2d``. Stochastic pooling has no torch counterpart (blank);
- **tensorflow**, **jax** (each when importable; optional, never a dependency of cypool): the
  operators they have with the same semantics. JAX: ``lax.reduce_window`` max and sum (max and
  average pooling, any padding), ``jnp.max``/``jnp.mean`` (global), ``lax.conv_general_dilated``,
  forward and backward (``jax.vjp``), jitted, on a copy of the input on the JAX device. TensorFlow:
  ``tf.nn.max_pool``/``avg_pool`` without padding, channels-last only (TensorFlow's CPU pooling
  takes NHWC), backward ``MaxPoolGrad``/``AvgPoolGrad``; ``tf.reduce_max``/``reduce_mean``
  (global, forward); ``tf.nn.conv2d`` channels-last with its two backprop ops;
- **numpy**: the reshape recipe (``x.reshape(N, C, H/2, 2, W/2, 2).max((3, 5))``), for the
  non-overlapping 2x2/s2 forward cases only; single-threaded;
- **roofline**: ``cypool._stream.stream``, an OpenMP streaming kernel that reads and writes the same
  numbers of bytes as the pooling call (input and output; gradients and indices for a backward)
  with plain vectorised loops, on the thread count cypool's policy gives the call.

Columns: times in ms; ``cypool/torch`` (< 1: cypool faster); ``cypool/roofline`` (>= 1; 1 is the
machine's streaming bandwidth); ``GB/s`` = (bytes read + bytes written) / cypool's time. The
geometric mean of cypool/torch is taken over the headline cases (marked ``*``): the layers of
common networks. ``--all`` adds the operator table (every operator family, forward and backward,
both data formats) to the default cases.

A separate bandwidth case pools a 256 MB float32 input (2x2/s2 max and average, forward and
backward) and gives cypool's GB/s as a fraction of the streaming kernel's: with ``out=`` against a
stream into a reused buffer, and returning a new array against a stream into a new buffer per
call. Without torch the torch columns are blank.

``--processes N`` times instead every row whose call returns 8 MB or more in N fresh processes
per setting (NumPy's huge-page advice on and off, set through ``NUMPY_MADVISE_HUGEPAGE``), one
row per process, and reports each process's median and the spread (slowest process median /
fastest), cypool's and torch's, with the streaming kernel over the call's bytes timed in the same
process. A row's processes start together and are timed one at a time, back to back, so that
they are seconds apart, not minutes (processes.py says why); the spread of cypool/stream is what
is left once the machine's own swing is divided out.

The package: cases.py (the cases and their inputs), operators.py (what each case calls),
peers.py (TensorFlow, JAX, torch's backward, the result check), run.py (timing rows in this
process, the bandwidth case), processes.py (``--processes``), report.py (the Markdown table and
the plot); ``main`` below parses the command line.
"""
from __future__ import annotations

import argparse
import json
import os

from .cases import (ALL_CASES, BIG_MB, BIG_SHAPE, CASES, CF, CL, FORMATS, OPERATOR_CASES, PEERS,
                    SEED, SMOKE_SAMPLE_SECONDS, Case, Row, case_dtype, case_nc, find_case)
from .operators import Operator
from .processes import (CHILD_TAG, SETTINGS, big_rows, child, markdown_processes, run_processes,
                        spread, summary)
from .report import BASE_COLUMNS, COLUMNS, PEER_COLUMNS, markdown, plot
from .run import measure_row, run

# Helpers tests/ and benchmarks/ reach through this package.
from .cases import _random, _selected, _smoke_shape, _torch_view  # noqa: F401  # isort: skip
from .operators import _operator  # noqa: F401  # isort: skip
from .peers import _check  # noqa: F401  # isort: skip

__all__ = ["ALL_CASES", "BASE_COLUMNS", "BIG_MB", "BIG_SHAPE", "CASES", "CF", "CHILD_TAG", "CL",
           "COLUMNS", "Case", "FORMATS", "OPERATOR_CASES", "Operator", "PEERS", "PEER_COLUMNS",
           "Row", "SEED", "SETTINGS", "SMOKE_SAMPLE_SECONDS", "big_rows", "case_nc", "child",
           "find_case", "main", "markdown", "markdown_processes", "measure_row", "plot", "run",
           "run_processes", "spread", "summary"]


def main(argv=None) -> int:
    """``cypool bench [options]``: run and print the table (or, with --processes, the spread)."""
    ap = argparse.ArgumentParser(prog="cypool bench", description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="threads for cypool and torch (2)")
    ap.add_argument("--repeat", type=int, default=7, help="samples per candidate; median (7)")
    ap.add_argument("--quick", action="store_true", help="3 samples instead of --repeat")
    ap.add_argument("--out", metavar="DIR", help="write DIR/compare_frameworks.md and .png "
                    "(with --processes: DIR/new_output_stability.md)")
    ap.add_argument("--skip-big", action="store_true", help="skip the 256 MB bandwidth case")
    ap.add_argument("--big-only", action="store_true", help="only the 256 MB bandwidth case")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes (a test of the script)")
    ap.add_argument("--no-torch", action="store_true", help="do not compare with torch")
    ap.add_argument("--no-peers", action="store_true",
                    help="do not compare with TensorFlow or JAX even when installed")
    ap.add_argument("--all", action="store_true", dest="all_ops",
                    help="add the operator table: every operator, forward and backward")
    ap.add_argument("--case", action="append", metavar="NAME",
                    help="run only this case (repeatable): "
                    + ", ".join(c.name for c in ALL_CASES))
    ap.add_argument("--processes", type=int, metavar="N",
                    help="time every row returning a big new array in N fresh processes per "
                    "setting of NumPy's huge-page advice, and report the spread")
    ap.add_argument("--min-mb", type=float, default=BIG_MB,
                    help=f"--processes: rows whose call returns at least this many MB ({BIG_MB})")
    ap.add_argument("--huge-pages", choices=("on", "off", "both"), default="both",
                    help="--processes: NumPy's huge-page advice in the children (both)")
    ap.add_argument("--no-output-cache", action="store_true",
                    help="--processes: children with cypool's output cache off")
    ap.add_argument("--child", metavar="CASE/DIR/FORMAT", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.threads < 1 or a.repeat < 1:
        ap.error("--threads and --repeat must be positive")
    if a.processes is not None and a.processes < 1:
        ap.error(f"--processes must be positive, got {a.processes}")
    unknown = [n for n in a.case or () if n not in {c.name for c in ALL_CASES}]
    if unknown:
        ap.error(f"unknown --case {', '.join(unknown)}")
    if a.child:
        res = child(a.child, a.threads, min(a.repeat, 3) if a.quick else a.repeat, a.smoke,
                    not a.no_torch)
        print(CHILD_TAG + json.dumps(res))
        return 0
    if a.processes:
        settings = ("on", "off") if a.huge_pages == "both" else (a.huge_pages,)
        result = run_processes(a.processes, a.threads, min(a.repeat, 3) if a.quick else a.repeat,
                               a.smoke, not a.no_torch, a.case, a.all_ops, a.min_mb, settings,
                               not a.no_output_cache)
        text = markdown_processes(result)
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            with open(os.path.join(a.out, "new_output_stability.md"), "w", encoding="utf-8") as f:
                f.write(text)
        print()
        print(text)
        return 0
    result = run(threads=a.threads, repeat=a.repeat, quick=a.quick, out=a.out,
                 skip_big=a.skip_big, smoke=a.smoke, use_torch=not a.no_torch, only=a.case,
                 all_ops=a.all_ops, peers=() if a.no_peers else ("tensorflow", "jax"),
                 big_only=a.big_only)
    print()
    print(markdown(result))
    return 0

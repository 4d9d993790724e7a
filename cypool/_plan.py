"""The one plan mechanism of cypool's operators: validated arguments -> a Plan -> plan.run(...).

A family module (max.py, avg.py, ...) turns a call's arguments into a Plan: the kernel prepared
with its window geometry (a typed kernel object of pyx/, or a small adapter class around a
kernel's functions), the output's shape and dtype, the inputs of the thread policy (bytes
touched, independent work items) and, for arrays the kernel cannot read as given, the
conversions of the input and of the result. Every kernel is called the same way,
`kernel(source, destination, b, n_threads)` (b: indices, a second input or None), and returns
the count of out-of-range indices (0 or None when it takes none). Every call,
first or repeated, with or without out=, runs its plan. A small call spends most of its time in
argument checks, geometry and layout, not in the kernel, so plans are kept in one bounded cache,
PLANS, keyed by what they were derived from: the operator, the arrays' shapes, strides and dtypes
and the plain arguments. Arguments whose hash does not identify their meaning (2.0 == 2 and
True == 1 hash alike; lists; NumPy scalars) give no key: such a call builds a plan and runs it
without caching it. A call that raises leaves no plan behind. The thread count is asked of
threads_for at every run: it depends on set_num_threads, threads() and fork.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

from . import _memory
from ._geometry import _plain as plain  # noqa: F401  (the key guard of every family module)
from ._layout import check_out
from ._threads import threads_for

PLAN_CACHE_SIZE = 512


class PlanCache(OrderedDict):
    """A bounded map key -> Plan (the bridge keeps torch's data-less reference results in one
    too), safe to share between Python threads. A hit is one dict look-up
    (`get`, no bookkeeping: the small calls plans exist for pay nothing more); insertion holds a
    lock and evicts the oldest plans beyond `size`. A plan evicted while still in use is simply
    rebuilt by its next call."""

    def __init__(self, size: int = PLAN_CACHE_SIZE):
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def add(self, key, plan: "Plan") -> "Plan":
        """Keep `plan` under `key` (not when key is None: the call's arguments cannot be trusted
        to identify it) and return it. A build that raised never gets here: errors are never
        cached."""
        if key is not None:
            with self._lock:
                self[key] = plan
                while len(self) > self.size:
                    self.popitem(last=False)
        return plan

    def __repr__(self) -> str:
        return f"<PlanCache: {len(self)} of {self.size} plans>"


PLANS = PlanCache()


def plain_shape(shape) -> bool:
    return type(shape) is tuple and all(type(v) is int for v in shape)


class Plan:
    """A call prepared once: run(a, b, out) allocates the result (or uses out), runs the
    kernel with the thread count of the moment and returns the result in the caller's layout.

    kernel: the prepared kernel, or None when there is nothing to compute (an empty output, or
        an empty input whose output is zero-filled: `fill`).
    shape, dtype: the kernel's destination buffer. When `give` is None this is the result
        itself (the caller's shape and dtype, C-contiguous); otherwise `give` turns the buffer
        (the kernels' memory order, dtype and 5-D shape) into the result.
    source, b_source: None when the kernel reads the caller's array (a, b) as given, else the
        conversion to a C-contiguous buffer in the kernel's memory order and dtype.
    new_indices: the kernel also writes int64 indices (max pooling), returned when
        return_indices (through give_indices when the layout differs).
    nbytes, items: the inputs of threads_for.
    bound, index_name: the range indices are checked against and the parameter named in the
        error.
    inputs: the names of the arrays run() receives, for out='s overlap check; result_shape and
        result_dtype: what out= must be.
    direct: no conversion on either side (derived).
    """
    __slots__ = ("direct", "kernel", "shape", "dtype", "nbytes", "items", "source", "b_source",
                 "new_indices", "return_indices", "give", "give_indices", "fill", "bound",
                 "index_name", "inputs", "result_shape", "result_dtype", "empty", "empty_indices")

    def __init__(self, kernel, shape, dtype, nbytes, items, *, source=None, b_source=None,
                 new_indices=False, return_indices=False, give=None, give_indices=None,
                 fill=False, bound=0, index_name="indices", inputs=("x",), result_shape=None,
                 result_dtype=None):
        self.kernel, self.shape, self.dtype = kernel, shape, np.dtype(dtype)
        self.nbytes, self.items = nbytes, items
        self.source, self.b_source = source, b_source
        self.new_indices, self.return_indices = new_indices, return_indices
        self.give, self.give_indices, self.fill = give, give_indices, fill
        self.bound, self.index_name, self.inputs = bound, index_name, inputs
        self.result_shape, self.result_dtype = result_shape, result_dtype
        # big buffers come from the cache of mapped blocks (cypool/_memory.py), chosen once here
        self.empty = _memory.allocator(math.prod(shape) * self.dtype.itemsize)
        self.empty_indices = _memory.allocator(math.prod(shape) * 8)
        # no conversion on either side: run()'s short branch serves the call
        self.direct = (kernel is not None and source is None and b_source is None
                       and give is None)

    def run(self, a, b=None, out=None):
        """The result for the array(s) this plan was made for: `a` (x or grad_output) and `b`,
        a second input (the indices of max backward and unpooling, the gradient of Lp pooling's
        backward); out=: a checked, caller-provided result array."""
        if out is None and self.direct:
            # the common call: the kernel reads the caller's arrays and writes a new result
            y = self.empty(self.shape, self.dtype)
            if self.new_indices:
                b = self.empty_indices(self.shape, np.int64)
            bad = self.kernel(a, y, b, threads_for(self.nbytes, self.items))
            if bad:
                raise self._bad_indices(bad)
            return (y, b) if self.return_indices else y
        src = a if self.source is None else self.source(a)
        idx = b if self.b_source is None else self.b_source(b)
        y = self.empty(self.shape, self.dtype) if out is None else self._destination(out, a, b)
        if self.new_indices:
            idx = self.empty_indices(self.shape, np.int64)
        if self.kernel is not None:
            bad = self.kernel(src, y, idx, threads_for(self.nbytes, self.items))
            if bad:
                raise self._bad_indices(bad)
        elif self.fill:
            y.fill(0)
        if self.give is not None:
            y = self.give(y)
        if out is not None and y is not out:
            np.copyto(out.view(np.ndarray), y)
            y = out
        if self.return_indices:
            return y, (idx if self.give_indices is None else self.give_indices(idx))
        return y

    def _bad_indices(self, bad: int) -> ValueError:
        # counted by the kernel, which writes none of them
        return ValueError(f"{self.index_name} has {bad} entries outside [0, {self.bound}), the "
                          f"flat positions of one plane")

    def _destination(self, out, a, b):
        """out itself when the kernel can write it (C-contiguous, the buffer's layout and dtype),
        else a new buffer whose result run() copies into out."""
        arrays = (a,) if b is None else (a, b)
        check_out(out, self.result_shape, self.result_dtype, dict(zip(self.inputs, arrays)))
        if self.give is None and out.flags.c_contiguous:
            return out
        return self.empty(self.shape, self.dtype)


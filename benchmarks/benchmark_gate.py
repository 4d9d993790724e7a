"""The wall-time half of the regression gate's cases, as an asv suite (for history and `asv
continuous`); benchmarks/gate.py times the same calls (counting.py's gate cases) in its own
alternating processes, and counts them under callgrind (benchmark_counts.py).

Chosen for stability on a shared machine rather than coverage: one thread (a neighbour's load then
slows a run by time-sharing one core, not by changing how work is split), inputs of 1.6 and 6.4 MB (calls of
a few milliseconds, so each process gathers many samples quickly), and the paths every model uses:
max and average forward in both data formats and the max backward. The gate's factor and rounds were
chosen from runs of this suite (docs/records/2026-11-29-asv-gate-experiment.md)."""
from .common import CASES, CF, CL, Pinned, make_input, pool_call

from .benchmark_backward import _backward_call

LAYERS = {"small-2x2s2": CASES["small-2x2s2"],
          "overlap-3x3s1p1": ((2, 64, 56, 56), (3, 1, 1))}


class GateSuite(Pinned):
    threads = "1"
    param_names = ["op", "data_format", "layer"]
    params = [["max", "avg"], [CF, CL], list(LAYERS)]
    timeout = 120
    repeat = (3, 10, 0.25)

    def setup(self, op, data_format, layer):
        self.pin()
        shape, window = LAYERS[layer]
        self.x = make_input(shape, "float32", data_format)
        self.forward = pool_call(op, window, data_format)
        self.backward, y = _backward_call(op, window, data_format, self.x)
        self.grad = make_input(y.shape, "float32", seed=7)

    def time_forward(self, op, data_format, layer):
        self.forward(self.x)

    def time_backward(self, op, data_format, layer):
        self.backward(self.grad)

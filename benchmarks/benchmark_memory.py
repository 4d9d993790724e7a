"""Peak memory (maximum resident set size of the benchmark process).

The input is made in setup, so every figure includes it; `peakmem_reference` runs nothing after the
same setup and is the baseline: a call's own footprint is its figure minus the reference's. Max
pooling with `return_indices=True` adds an int64 array the size of the output (twice a float32
output), which is what these benchmarks make visible."""
from .common import CASES, CF, CL, Pinned, cases, make_input, pool_call

from .benchmark_backward import _backward_call

LAYERS = cases("vgg-2x2s2", "small-2x2s2")


class MemorySuite(Pinned):
    param_names = ["data_format", "layer"]
    params = [[CF, CL], LAYERS]
    timeout = 120

    def setup(self, data_format, layer):
        self.pin()
        shape, self.window = CASES[layer]
        self.data_format = data_format
        self.x = make_input(shape, "float32", data_format)

    def peakmem_reference(self, data_format, layer):
        pass

    def peakmem_max(self, data_format, layer):
        pool_call("max", self.window, data_format)(self.x)

    def peakmem_max_with_indices(self, data_format, layer):
        pool_call("max", self.window, data_format, return_indices=True)(self.x)

    def peakmem_avg(self, data_format, layer):
        pool_call("avg", self.window, data_format)(self.x)


class BackwardMemorySuite(Pinned):
    """Backward: the gradient input (the size of the output) and the indices are made in setup."""

    param_names = ["op", "data_format"]
    params = [["max", "avg"], [CF, CL]]
    timeout = 120

    def setup(self, op, data_format):
        self.pin()
        shape, window = CASES["vgg-2x2s2"]
        x = make_input(shape, "float32", data_format)
        self.fn, y = _backward_call(op, window, data_format, x)
        self.grad = make_input(y.shape, "float32", seed=7)
        del x, y

    def peakmem_reference(self, op, data_format):
        pass

    def peakmem_backward(self, op, data_format):
        self.fn(self.grad)

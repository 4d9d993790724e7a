"""Thread scaling: the same calls on one thread and on every usable core.

"all" is resolved on the machine that runs the benchmark (its affinity mask and cgroup quota), so a
result's parameter reads the same on every machine while the count it stands for is the machine's.
`track_speedup` measures the two counts interleaved inside one process, which on a shared machine is
a steadier figure than the ratio of two separately timed benchmarks."""
from .common import (CASES, CF, CL, Pinned, cases, interleaved_times, make_input, n_cores,
                     pool_call)

import cypool

from .benchmark_backward import _backward_call

THREADS = ["1", "all"]
LAYERS = cases("vgg-2x2s2", "head-global7")


class ThreadSuite(Pinned):
    param_names = ["threads", "op", "data_format", "layer"]
    params = [THREADS, ["max", "avg"], [CF, CL], LAYERS]
    timeout = 240
    repeat = (3, 10, 2.0)

    def setup(self, threads, op, data_format, layer):
        self.pin(threads)
        shape, window = CASES[layer]
        self.x = make_input(shape, "float32", data_format)
        self.forward = pool_call(op, window, data_format)
        self.backward, y = _backward_call(op, window, data_format, self.x)
        self.grad = make_input(y.shape, "float32", seed=7)

    def time_forward(self, threads, op, data_format, layer):
        self.forward(self.x)

    def time_backward(self, threads, op, data_format, layer):
        self.backward(self.grad)


class SpeedupSuite:
    """Speed-up of all cores over one thread on a 13 MB 2x2 pool (about 1.0 on a one-core machine or
    a serial build)."""

    param_names = ["op", "data_format"]
    params = [["max", "avg"], [CF, CL]]
    timeout = 240

    def setup(self, op, data_format):
        shape, window = (16, 64, 56, 56), CASES["vgg-2x2s2"][1]
        self.x = make_input(shape, "float32", data_format)
        self.fn = pool_call(op, window, data_format)

    def teardown(self, op, data_format):
        cypool.set_num_threads(None)

    def track_speedup(self, op, data_format):
        def with_threads(n):
            def run():
                with cypool.threads(n):
                    self.fn(self.x)
            return run
        t_one, t_all = interleaved_times([with_threads(1), with_threads(n_cores())],
                                        rounds=7)
        return t_one / t_all

    track_speedup.unit = "x (1 thread time / all-core time)"

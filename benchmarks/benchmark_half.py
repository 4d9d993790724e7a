"""Half precision: max and average pooling, forward and backward, both data formats, in float16
and bfloat16 (ml_dtypes' type, when installed) beside float32 on the same data, so that the
history shows the 16-bit calls' time against float32's (16-bit input and output, float32
arithmetic: a memory-bound call should take about half float32's time); and the operators
computed in float32 (adaptive, global, Lp), whose 16-bit calls add the casts around the kernel.
`python -m benchmarks.half_speed` gives the same comparisons as ratios in one process.
"""
import numpy as np

import cypool

from .benchmark_backward import _backward_call
from .common import CF, CL, Pinned, make_input, pool_call, safe_import, skip

SHAPE = (8, 64, 112, 112)
WINDOWS = {"2x2s2": (2, 2, 0), "3x3s2p1": (3, 2, 1)}


def _dtype(name: str):
    if name == "bfloat16":
        ml = safe_import("ml_dtypes")
        if ml is None:
            skip("bfloat16 needs ml_dtypes")
        return np.dtype(ml.bfloat16)
    return np.dtype(name)


class HalfSuite(Pinned):
    """Time of one call on all cores, by dtype (float32 is the yardstick)."""

    param_names = ["op", "direction", "data_format", "dtype", "window"]
    params = [["max", "avg"], ["fwd", "bwd"], [CF, CL], ["float16", "bfloat16", "float32"],
              list(WINDOWS)]
    timeout = 120
    repeat = (3, 10, 1.0)

    def setup(self, op, direction, data_format, dtype, window):
        dt = _dtype(dtype)
        x = make_input(SHAPE, "float32", data_format).astype(dt)
        try:
            fwd = pool_call(op, WINDOWS[window], data_format)
            fwd(x[:1, :1] if data_format == CF else x[:1, ..., :1])
        except TypeError:
            skip(f"this build does not pool {dtype}")
        self.pin()
        if direction == "fwd":
            self.fn, self.args = fwd, (x,)
        else:
            fn, y = _backward_call(op, WINDOWS[window], data_format, x)
            self.fn, self.args = fn, (make_input(y.shape, "float32", seed=7).astype(dt),)

    def time_call(self, op, direction, data_format, dtype, window):
        self.fn(*self.args)


# The operators computed in float32 (16-bit input widened, result rounded): one forward each.
WIDENED = {
    "adaptive_avg7": lambda x, df: cypool.adaptive_avg_pool2d(x, 7, df),
    "adaptive_max7": lambda x, df: cypool.adaptive_max_pool2d(x, 7, data_format=df),
    "global_avg": lambda x, df: cypool.global_avg_pool2d(x, data_format=df),
    "lp2x2s2": lambda x, df: cypool.lp_pool2d(x, 2.0, 2, data_format=df),
}


class HalfWidenedSuite(Pinned):
    """Time of one forward on all cores, by dtype, of operators without 16-bit kernels: the
    16-bit calls pay for the casts around the float32 kernel."""

    param_names = ["op", "data_format", "dtype"]
    params = [list(WIDENED), [CF, CL], ["float16", "bfloat16", "float32"]]
    timeout = 120
    repeat = (3, 10, 1.0)

    def setup(self, op, data_format, dtype):
        self.x = make_input(SHAPE, "float32", data_format).astype(_dtype(dtype))
        self.pin()

    def time_call(self, op, data_format, dtype):
        WIDENED[op](self.x, data_format)

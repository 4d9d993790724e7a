"""Every operator family, forward and backward, both data formats: the rows of the operator
table of `cypool bench --all` (cypool.commands.bench.OPERATOR_CASES: 1-d and 3-d max and
average, adaptive average and max to 7x7, 6x6 and 1x1, global, unpooling, Lp, blur, max-blur,
stochastic, spatial pyramid, conv2d, fractional max), on a quarter of the bench's batch so the
suite stays short (every case stays a few MB or more).

The cases, their data and the calls are the bench's own (one definition); a build of an older
commit that lacks the table skips the suite.
"""
import numpy as np

from .common import CF, CL, SEED, Pinned, skip

# The names of bench.OPERATOR_CASES (asv reads the parameters before any setup runs, on every
# commit's build; tests/test_benchmarks.py checks that the two lists agree).
OPERATORS = [
    "op-max1d", "op-avg1d", "op-max3d", "op-avg3d",
    "adaptive-avg-56to7", "adaptive-avg-13to6", "adaptive-avg-7to1",
    "adaptive-max-56to7", "adaptive-max-13to6", "adaptive-max-7to1",
    "global-avg", "global-avg-28", "global-max", "unpool2", "lp2", "blur3", "maxblur",
    "stochastic2", "spp-4-2-1", "conv3x3", "fractional2",
]


def _bench():
    try:
        from cypool.commands import bench
    except ImportError:
        return None
    return bench if hasattr(bench, "OPERATOR_CASES") else None


def input_shape(shape: tuple) -> tuple:
    """The suite's input shape for a bench case's shape: a quarter of the batch."""
    return (max(1, shape[0] // 4), *shape[1:])


class OperatorSuite(Pinned):
    """Time of one call of each operator on all cores, float32."""

    param_names = ["operator", "direction", "data_format"]
    params = [OPERATORS, ["fwd", "bwd"], [CF, CL]]
    timeout = 120
    repeat = (2, 6, 1.0)

    def setup(self, operator, direction, data_format):
        bench = _bench()
        if bench is None:
            skip("this build has no operator table (cypool.commands.bench.OPERATOR_CASES)")
        case = bench.find_case(operator)
        if direction not in case.directions:
            skip(f"{operator} has no {direction}")
        self.pin()
        rng = np.random.default_rng(SEED)
        x = bench._random(rng, input_shape(case.shape), data_format, case.dtype)
        op = bench._operator(case, data_format, x, None, rng)
        if direction == "fwd":
            self.fn = op.fwd
        else:
            y, aux = op.fwd_aux()
            y0 = y[0] if isinstance(y, tuple) else y
            g = bench._random(rng, y0.shape, CF, case.dtype)  # y0.shape is stored: y's layout
            self.fn = lambda: op.bwd(g, aux)

    def time_operator(self, operator, direction, data_format):
        self.fn()

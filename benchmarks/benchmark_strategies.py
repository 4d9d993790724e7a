"""Downsampling strategies of the registry `cypool.strategies`, benchmarked by name.

The parameter list is read from `cypool.strategies.available()` when asv imports this module (asv
evaluates `params` at discovery), so a strategy added to the registry, by cypool or by an installed
plugin, is benchmarked on the next run with no edit here. Without the registry (an older cypool, or
a build without it) the suite has the single parameter "unavailable" and skips itself in setup.

A strategy's interface: `.forward(x)` on channels-first float32 (N, C, H, W), `.backward(grad)` after
a forward (may raise NotImplementedError), `.cost(shape)` -> {"flops": ..., "bytes": ...}."""
from .common import Pinned, interleaved_times, make_input, safe_import, skip

_registry_module = safe_import("cypool.strategies")


def registry() -> dict:
    """{name: Strategy}; empty when cypool has no strategy registry."""
    if _registry_module is None:
        return {}
    return dict(_registry_module.available())


NAMES = sorted(registry()) or ["unavailable"]
SHAPES = {"small (64,32,28,28)": (64, 32, 28, 28), "vgg (16,64,112,112)": (16, 64, 112, 112)}


def _strategy(name):
    strategies = registry()
    if name not in strategies:
        skip(f"strategy {name!r} is not in this build's registry (cypool.strategies "
             f"{'missing' if _registry_module is None else 'has ' + ', '.join(strategies)})")
    return strategies[name]


class StrategySuite(Pinned):
    param_names = ["strategy", "shape"]
    params = [NAMES, list(SHAPES)]
    timeout = 180
    repeat = (3, 10, 2.0)

    def setup(self, strategy, shape):
        self.pin()
        self.strategy = _strategy(strategy)
        self.x = make_input(SHAPES[shape], "float32")
        # One call before timing: a library's first call can take seconds (torch's lazy
        # initialisation), which `asv run --quick` (one sample, no warm-up) would record.
        self.strategy.forward(self.x)

    def time_forward(self, strategy, shape):
        self.strategy.forward(self.x)

    def track_achieved_gbs(self, strategy, shape):
        """Bytes of the strategy's own cost model over the measured forward time."""
        nbytes = self.strategy.cost(self.x.shape)["bytes"]
        (t,) = interleaved_times([lambda: self.strategy.forward(self.x)])
        return nbytes / t / 1e9

    track_achieved_gbs.unit = "GB/s"


class StrategyBackwardSuite(Pinned):
    param_names = ["strategy", "shape"]
    params = [NAMES, list(SHAPES)]
    timeout = 180
    repeat = (3, 10, 2.0)

    def setup(self, strategy, shape):
        self.pin()
        self.strategy = _strategy(strategy)
        y = self.strategy.forward(make_input(SHAPES[shape], "float32"))
        self.grad = make_input(y.shape, "float32", seed=7)
        try:
            self.strategy.backward(self.grad)
        except NotImplementedError:
            skip(f"strategy {strategy!r} has no backward")

    def time_backward(self, strategy, shape):
        self.strategy.backward(self.grad)

"""The Strategy interface shared by `cypool compare`, the asv suite and plugins."""
from __future__ import annotations

import math

import numpy as np

F32 = 4  # bytes per float32: strategies work on channels-first float32 (N, C, H, W)


class Strategy:
    """One way to downsample a channels-first float32 feature map (N, C, H, W).

    Subclasses set `name` and `description` and implement `forward(x)`. Differentiable ones
    implement `backward(grad)`, which returns the gradient wrt the input of the last forward call.
    Trainable ones (`trainable = True`) also expose `params()` and, after backward, `grads()`:
    lists of arrays in matching order, which a training loop updates in place.
    `training` switches strategies that behave differently in training and evaluation
    (stochastic pooling); `train(False)` sets evaluation mode.
    """

    name: str = "strategy"
    description: str = ""
    trainable: bool = False
    differentiable: bool = True

    def __init__(self):
        self.training = True

    # -- the interface ---------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"strategy {self.name!r} is not differentiable")

    def n_params(self, channels: int) -> int:
        """Learnable parameters for `channels` input channels."""
        return 0

    def cost(self, shape) -> dict:
        """Estimated work of one forward call on `shape` (N, C, H, W): {'flops': ..., 'bytes':
        ...} (bytes moved to and from memory, float32). NaN when unknown."""
        return {"flops": math.nan, "bytes": math.nan}

    # -- training support ------------------------------------------------------------------
    def torch_module(self, channels: int):
        """A new ``torch.nn.Module`` computing this strategy on (N, channels, H, W) float32
        tensors, to be trained inside a network (``cypool compare`` does; torch must be
        installed). Its output must be a (N, channels, H', W') map.

        The default wraps this strategy's own NumPy ``forward``/``backward`` (on a private copy)
        in a ``torch.autograd.Function``. It raises NotImplementedError, with the reason, for a
        strategy without a backward and for a trainable one, whose NumPy parameters the torch
        optimiser would not see: such strategies override this method (cypool's built-ins return
        ``cypool.torch`` modules)."""
        if not self.differentiable:
            raise NotImplementedError(f"strategy {self.name!r} has no backward")
        if self.trainable:
            raise NotImplementedError(
                f"strategy {self.name!r} has NumPy parameters the torch optimiser cannot see; "
                f"it needs its own torch_module")
        from ._torch import StrategyModule
        return StrategyModule(self)

    def params(self) -> list:
        return []

    def grads(self) -> list:
        return []

    def reset(self) -> None:
        """Forget learned state and saved tensors (a new training run starts from the seed)."""

    def train(self, mode: bool = True) -> "Strategy":
        self.training = bool(mode)
        return self

    def __repr__(self) -> str:
        return f"<Strategy {self.name}: {self.description}>"


class FunctionStrategy(Strategy):
    """A plain function f(x) -> y registered as a strategy (not differentiable, cost unknown)."""

    differentiable = False

    def __init__(self, name: str, fn, description: str | None = None):
        super().__init__()
        self.name = name
        self.fn = fn
        doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
        self.description = description or (doc[0] if doc else f"plugin function {name}")

    def forward(self, x):
        return np.asarray(self.fn(x))


def pooled_len(size: int, k: int = 2, s: int = 2) -> int:
    return (size - k) // s + 1


def elements(shape) -> int:
    return int(np.prod(shape))

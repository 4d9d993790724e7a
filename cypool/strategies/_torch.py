"""A strategy's NumPy forward/backward as a torch module (imported only when torch is wanted).

Strategies that cypool.torch has no module for (plugins, plain subsampling) train through this: the
forward runs `strategy.forward` on the tensor's NumPy view, the backward `strategy.backward` on
the state that forward left."""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch.autograd.function import once_differentiable


class StrategyFunction(torch.autograd.Function):
    """Autograd over one Strategy's forward and backward (NumPy, float32)."""

    @staticmethod
    def forward(ctx, x, strategy):
        y = strategy.forward(np.ascontiguousarray(x.detach().numpy(), dtype=np.float32))
        # forward rebinds the attributes backward reads (saved indices, shapes), so a shallow
        # copy is this call's own state even if the module runs again before the backward
        ctx.strategy = copy.copy(strategy)
        return torch.from_numpy(np.ascontiguousarray(y))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        g = ctx.strategy.backward(np.ascontiguousarray(grad_y.numpy(), dtype=np.float32))
        return torch.from_numpy(np.ascontiguousarray(g)), None


class StrategyModule(torch.nn.Module):
    """A torch module running a private copy of `strategy` (NumPy) forward and backward.

    train()/eval() reach the strategy's own training switch (stochastic strategies)."""

    def __init__(self, strategy):
        super().__init__()
        self.strategy = copy.deepcopy(strategy)
        self.strategy.reset()

    def forward(self, x):
        self.strategy.train(self.training)
        if torch.is_grad_enabled() and x.requires_grad:
            return StrategyFunction.apply(x, self.strategy)
        y = self.strategy.forward(np.ascontiguousarray(x.detach().numpy(), dtype=np.float32))
        return torch.from_numpy(np.ascontiguousarray(y))

    def extra_repr(self) -> str:
        return f"strategy={self.strategy.name!r} (NumPy forward/backward)"

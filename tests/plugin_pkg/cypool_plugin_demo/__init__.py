"""Example strategies for cypool's plugin registry.

min2x2 trains inside networks through its NumPy forward/backward (Strategy's default
torch_module); plugin-l2 gives its own torch module; median2x2, a plain function, has no
backward and is not trained."""
import numpy as np

import cypool
from cypool.strategies import Strategy


def median_pool(x):
    """median of each 2x2 window (plain function plugin)"""
    n, c, h, w = x.shape
    x = x[..., :h // 2 * 2, :w // 2 * 2]
    return np.median(x.reshape(n, c, h // 2, 2, w // 2, 2), axis=(3, 5)).astype(x.dtype)


class MinPool(Strategy):
    name = "min2x2"
    description = "min pooling 2x2 (plugin factory), -max(-x)"

    def forward(self, x):
        self._shape = x.shape
        y, self._idx = cypool.max_pool2d(-x, 2, return_indices=True)
        return -y

    def backward(self, grad):
        return cypool.max_pool2d_backward(grad, self._idx, self._shape)

    def cost(self, shape):
        n, c, h, w = shape
        return {"flops": 3 * n * c * (h // 2) * (w // 2), "bytes": 4 * n * c * h * w * 1.25}


def make_min_pool():
    return MinPool()


class L2Pool(Strategy):
    name = "plugin-l2"
    description = "L2 pooling 2x2 (plugin instance)"

    def forward(self, x):
        self._x = x
        return cypool.lp_pool2d(x, 2, 2)

    def backward(self, grad):
        return cypool.lp_pool2d_backward(grad, self._x, 2, 2)

    def torch_module(self, channels):
        """Trained networks run cypool's own torch module (torch imported only here)."""
        import cypool.torch
        return cypool.torch.LPPool2d(2, 2)


L2_INSTANCE = L2Pool()

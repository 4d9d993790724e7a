"""Built-in strategies: cypool's own operators, plain subsampling, and (when torch is importable)
PyTorch reference strategies. Every strategy works on channels-first float32 (N, C, H, W)."""
from __future__ import annotations

import importlib.util
import math

import numpy as np

from .. import downsample as ds
from .. import pooling as pl
from ._base import F32, Strategy, elements, pooled_len


def _out2(shape, k=2, s=2):
    n, c, h, w = shape
    return n * c * pooled_len(h, k, s) * pooled_len(w, k, s)


class MaxPool(Strategy):
    name = "max2x2"
    description = "max pooling 2x2, stride 2"

    def forward(self, x):
        self._shape = x.shape
        y, self._idx = pl.max_pool2d(x, 2, return_indices=True)
        return y

    def backward(self, grad):
        return pl.max_pool2d_backward(grad, self._idx, self._shape)

    def torch_module(self, channels):
        import cypool.torch
        return cypool.torch.MaxPool2d(2)

    def cost(self, shape):
        o = _out2(shape)
        return {"flops": 3 * o, "bytes": F32 * elements(shape) + (F32 + 8) * o}


class AvgPool(Strategy):
    name = "avg2x2"
    description = "average pooling 2x2, stride 2"

    def forward(self, x):
        self._shape = x.shape
        return pl.avg_pool2d(x, 2)

    def backward(self, grad):
        return pl.avg_pool2d_backward(grad, self._shape, 2)

    def torch_module(self, channels):
        import cypool.torch
        return cypool.torch.AvgPool2d(2)

    def cost(self, shape):
        o = _out2(shape)
        return {"flops": 4 * o, "bytes": F32 * (elements(shape) + o)}


class StochasticPool(Strategy):
    name = "stochastic"
    description = "stochastic pooling 2x2 (Zeiler & Fergus; sampled in training, weighted in eval)"

    def __init__(self, seed=0):
        super().__init__()
        self.seed = seed
        self.reset()

    def reset(self):
        self._rng = np.random.default_rng(self.seed)

    def forward(self, x):
        self._shape = x.shape
        if self.training:
            y, self._idx = ds.stochastic_pool2d(x, 2, seed=self._rng, return_indices=True)
            return y
        self._idx = None
        return ds.stochastic_pool2d(x, 2, training=False)

    def backward(self, grad):
        if self._idx is None:
            raise NotImplementedError("stochastic pooling has no gradient in evaluation mode")
        return ds.stochastic_pool2d_backward(grad, self._idx, self._shape)

    def torch_module(self, channels):
        import cypool.torch
        return cypool.torch.StochasticPool2d(2)  # samples from torch's seeded global RNG

    def cost(self, shape):
        o = _out2(shape)
        return {"flops": 8 * o, "bytes": F32 * elements(shape) + (F32 + 8 + 8) * o}


class LpPool(Strategy):
    name = "lp2"
    description = "L2 (power-average, p=2) pooling 2x2, stride 2 (PyTorch LPPool2d)"
    p = 2.0

    def forward(self, x):
        self._x = x
        return ds.lp_pool2d(x, self.p, 2)

    def backward(self, grad):
        return ds.lp_pool2d_backward(grad, self._x, self.p, 2)

    def torch_module(self, channels):
        import cypool.torch
        return cypool.torch.LPPool2d(self.p, 2)

    def cost(self, shape):
        o = _out2(shape)
        return {"flops": 2 * elements(shape) + 2 * o, "bytes": F32 * (elements(shape) + o)}


class BlurPool(Strategy):
    name = "blur"
    description = "anti-aliased blur pooling: binomial 3x3, reflect pad, stride 2 (Zhang 2019)"
    filt_size = 3

    def forward(self, x):
        self._shape = x.shape
        return ds.blur_pool2d(x, self.filt_size, 2)

    def backward(self, grad):
        return ds.blur_pool2d_backward(grad, self._shape, self.filt_size, 2)

    def torch_module(self, channels):
        import cypool.torch
        return cypool.torch.BlurPool2d(self.filt_size, 2)

    def cost(self, shape):
        n, c, h, w = shape
        o = n * c * -(-h // 2) * -(-w // 2)
        return {"flops": 2 * self.filt_size ** 2 * o, "bytes": F32 * (elements(shape) + o)}


class MaxBlurPool(Strategy):
    name = "max-blur"
    description = "MaxBlurPool: max 2x2 stride 1, then blur 3x3 stride 2 (Zhang 2019)"

    def forward(self, x):
        self._shape = x.shape
        y, self._idx = ds.max_blur_pool2d(x, 2, 3, return_indices=True)
        return y

    def backward(self, grad):
        return ds.max_blur_pool2d_backward(grad, self._idx, self._shape, 3)

    def torch_module(self, channels):
        import cypool.torch
        return cypool.torch.MaxBlurPool2d(2, 3, 2)

    def cost(self, shape):
        n, c, h, w = shape
        dense = n * c * (h - 1) * (w - 1)
        o = n * c * -(-(h - 1) // 2) * -(-(w - 1) // 2)
        return {"flops": 3 * dense + 18 * o,
                "bytes": F32 * elements(shape) + (2 * F32 + 8) * dense + F32 * o}


class SpatialPyramid(Strategy):
    name = "spp"
    description = "spatial pyramid max pooling, levels 4, 2, 1 -> (N, 21 C) vector (He et al.)"
    levels = (4, 2, 1)

    def forward(self, x):
        self._shape = x.shape
        y, self._idx = ds.spatial_pyramid_pool(x, self.levels, "max", return_indices=True)
        return y

    def backward(self, grad):
        return ds.spatial_pyramid_pool_backward(grad, self._shape, self.levels, "max", self._idx)

    def torch_module(self, channels):
        raise NotImplementedError("its output is a (N, 21 C) vector, not a map a next "
                                  "convolution stage can take")

    def cost(self, shape):
        n, c, h, w = shape
        bins = n * c * sum(v * v for v in self.levels)
        return {"flops": len(self.levels) * elements(shape),
                "bytes": F32 * len(self.levels) * elements(shape) + (F32 + 8) * bins}


def conv_init(channels: int, k: int, seed: int):
    """Seeded He-style weights for a C -> C convolution, and a zero bias."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((channels, channels, k, k)) * math.sqrt(2.0 / (channels * k * k))
    return w.astype(np.float32), np.zeros(channels, np.float32)


class StridedConv(Strategy):
    """Learned downsampling: a C -> C convolution with stride 2 (weights seeded, trainable)."""
    trainable = True

    def __init__(self, k: int, seed: int = 0):
        super().__init__()
        self.k, self.seed = k, seed
        self.pad = (k - 1) // 2 if k % 2 else 0
        self.name = f"conv{k}x{k}s2"
        self.description = (f"strided convolution {k}x{k}, stride 2, padding {self.pad}, "
                            f"C -> C channels, learnable (seeded random init)")
        self.weight = self.bias = None
        self._gw = self._gb = None

    def reset(self):
        self.weight = self.bias = None
        self._gw = self._gb = None

    def _ensure(self, channels):
        if self.weight is None or self.weight.shape[1] != channels:
            self.weight, self.bias = conv_init(channels, self.k, self.seed)

    def forward(self, x):
        self._ensure(x.shape[1])
        self._x = x
        return ds.conv2d(x, self.weight, self.bias, 2, self.pad)

    def backward(self, grad):
        gx, self._gw, self._gb = ds.conv2d_backward(grad, self._x, self.weight, 2, self.pad)
        return gx

    def params(self):
        return [self.weight, self.bias] if self.weight is not None else []

    def torch_module(self, channels):
        # torch's convolution, as for the network's other layers (cypool.torch has none)
        import torch
        return torch.nn.Conv2d(channels, channels, self.k, stride=2, padding=self.pad)


    def grads(self):
        return [self._gw, self._gb] if self._gw is not None else []

    def n_params(self, channels):
        return channels * channels * self.k * self.k + channels

    def cost(self, shape):
        n, c, h, w = shape
        oh = (h + 2 * self.pad - self.k) // 2 + 1
        ow = (w + 2 * self.pad - self.k) // 2 + 1
        o = n * c * oh * ow
        cols = n * oh * ow * c * self.k * self.k
        return {"flops": 2 * c * self.k * self.k * o,
                "bytes": F32 * (elements(shape) + 2 * cols + self.n_params(c) + o)}


class Subsample(Strategy):
    name = "subsample"
    description = "plain subsampling x[..., ::2, ::2] (no filtering)"

    def forward(self, x):
        self._shape = x.shape
        return np.ascontiguousarray(x[..., ::2, ::2])

    def backward(self, grad):
        gx = np.zeros(self._shape, grad.dtype)
        gx[..., ::2, ::2] = grad
        return gx

    def cost(self, shape):
        n, c, h, w = shape
        o = n * c * -(-h // 2) * -(-w // 2)
        return {"flops": 0, "bytes": 2 * F32 * o}


# ----------------------------------------------------------------------------- torch references

class _TorchStrategy(Strategy):
    """Runs a torch.nn.functional op on CPU; backward through autograd. torch is imported lazily."""
    memory_traced = False  # torch's allocator is invisible to tracemalloc
    twin = ""  # the cypool strategy this one is the reference for

    def torch_module(self, channels):
        raise NotImplementedError(
            f"a PyTorch reference: its network would be {self.twin}'s with torch's own layer "
            f"(tests/test_compare_trained.py checks that the two train alike)")

    def forward(self, x):
        import torch
        self._xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
        self._yt = self._op(torch, self._xt)
        return self._yt.detach().numpy()

    def backward(self, grad):
        import torch
        self._xt.grad = None
        # retain_graph: backward may be called again for the same forward (timing loops)
        self._yt.backward(torch.from_numpy(np.ascontiguousarray(grad)), retain_graph=True)
        return self._xt.grad.numpy()


class TorchMax(_TorchStrategy):
    twin = "max2x2"
    name = "torch-max2x2"
    description = "reference: torch.nn.functional.max_pool2d 2x2"
    cost = MaxPool.cost

    def _op(self, torch, x):
        return torch.nn.functional.max_pool2d(x, 2)


class TorchAvg(_TorchStrategy):
    twin = "avg2x2"
    name = "torch-avg2x2"
    description = "reference: torch.nn.functional.avg_pool2d 2x2"
    cost = AvgPool.cost

    def _op(self, torch, x):
        return torch.nn.functional.avg_pool2d(x, 2)


class TorchConv(_TorchStrategy):
    twin = "conv3x3s2"
    name = "torch-conv3x3s2"
    description = "reference: torch.nn.functional.conv2d 3x3 stride 2 (same seeded weights)"
    trainable = True

    def __init__(self, seed=0):
        super().__init__()
        self.seed = seed
        self.reset()

    def reset(self):
        self._w = self._b = None

    def _op(self, torch, x):
        c = x.shape[1]
        if self._w is None or self._w.shape[1] != c:
            w, b = conv_init(c, 3, self.seed)
            self._w = torch.from_numpy(w).requires_grad_(True)
            self._b = torch.from_numpy(b).requires_grad_(True)
        self._w.grad = self._b.grad = None
        return torch.nn.functional.conv2d(x, self._w, self._b, stride=2, padding=1)

    def params(self):
        return [self._w.detach().numpy(), self._b.detach().numpy()] if self._w is not None else []

    def grads(self):
        if self._w is None or self._w.grad is None:
            return []
        return [self._w.grad.numpy(), self._b.grad.numpy()]

    def n_params(self, channels):
        return channels * channels * 9 + channels

    def cost(self, shape):
        return StridedConv(3).cost(shape)


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def builtin_strategies() -> list:
    """Fresh instances of the built-in strategies (torch references only where torch exists)."""
    out = [MaxPool(), AvgPool(), StochasticPool(), LpPool(), BlurPool(), MaxBlurPool(),
           SpatialPyramid(), StridedConv(2), StridedConv(3), Subsample()]
    if torch_available():
        out += [TorchMax(), TorchAvg(), TorchConv()]
    return out

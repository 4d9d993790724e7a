"""Baselines: the same layers done by PyTorch, by NumPy's reshape recipe and by scikit-image's
block_reduce, next to cypool, on float32 channels-first data and every usable core.

The libraries are imported in setup, not at module level, so that torch's own OpenMP runtime is
never loaded into the processes that time cypool's other suites. A missing library, or a window the
recipe cannot express (reshape and block_reduce need non-overlapping windows without padding),
makes the combination skipped (NotImplementedError in setup)."""
import numpy as np

from .common import CASES, Pinned, cases, make_input, n_cores, pool_call, safe_import, skip

IMPLEMENTATIONS = ["cypool", "torch", "numpy-reshape", "skimage-block_reduce"]
LAYERS = cases("vgg-2x2s2", "resnet-stem-3x3s2p1", "small-2x2s2", "inception-3x3s1p1",
               "head-global7")


def _torch_call(op, window):
    torch = safe_import("torch")
    if torch is None:
        skip("torch is not installed")
    F = torch.nn.functional
    if window == "global":
        f = F.adaptive_max_pool2d if op == "max" else F.adaptive_avg_pool2d
        return torch, lambda x: f(torch.from_numpy(x), 1)
    k, s, p = window
    f = F.max_pool2d if op == "max" else F.avg_pool2d
    return torch, lambda x: f(torch.from_numpy(x), k, s, p)


def _reshape_call(op, window, shape):
    reduce = np.max if op == "max" else np.mean
    if window == "global":
        return lambda x: reduce(x, axis=(2, 3))
    k, s, p = window
    n, c, h, w = shape
    if k != s or p or h % k or w % k:
        skip("the reshape recipe needs non-overlapping windows that tile the input")
    return lambda x: reduce(x.reshape(n, c, h // k, k, w // k, k), axis=(3, 5))


def _block_reduce_call(op, window, shape):
    measure = safe_import("skimage.measure")
    if measure is None:
        skip("scikit-image is not installed")
    reduce = np.max if op == "max" else np.mean
    if window == "global":
        block = (1, 1) + tuple(shape[2:])
    else:
        k, s, p = window
        if k != s or p:
            skip("block_reduce needs non-overlapping windows without padding")
        block = (1, 1, k, k)
    return lambda x: measure.block_reduce(x, block, reduce)


class ReferenceSuite(Pinned):
    param_names = ["implementation", "op", "layer"]
    params = [IMPLEMENTATIONS, ["max", "avg"], LAYERS]
    timeout = 180
    repeat = (3, 10, 2.0)

    def setup(self, implementation, op, layer):
        shape, window = CASES[layer]
        self.torch = None
        if implementation == "cypool":
            self.pin()
            self.fn = pool_call(op, window, "channels_first")
        elif implementation == "torch":
            self.torch, self.fn = _torch_call(op, window)
            self.torch_threads = self.torch.get_num_threads()
            self.torch.set_num_threads(n_cores())
        elif implementation == "numpy-reshape":
            self.fn = _reshape_call(op, window, shape)
        else:
            self.fn = _block_reduce_call(op, window, shape)
        self.x = make_input(shape, "float32")
        self.fn(self.x)  # a first call outside the timing (torch initialises lazily; see strategies)

    def teardown(self, implementation, op, layer):
        super().teardown()
        if self.torch is not None:
            self.torch.set_num_threads(self.torch_threads)

    def time_pool(self, implementation, op, layer):
        self.fn(self.x)

"""PyTorch bridge: autograd functions and nn.Module classes running cypool's kernels.

Import it explicitly (``import cypool.torch``); ``import cypool`` never imports torch.

The modules subclass PyTorch's own (``cypool.torch.MaxPool2d`` is a ``torch.nn.MaxPool2d``), so they
take exactly PyTorch's constructor arguments, print the same way and can replace them in a model;
only ``forward`` differs: it runs cypool's Cython kernels. The functional forms
(``cypool.torch.max_pool2d`` ...) mirror ``torch.nn.functional``. cypool's extensions are available
too: ``padding="same"``/``"valid"`` (Keras/TensorFlow SAME/VALID). ``LPPool1d``/``LPPool2d`` run
cypool's Lp kernels (``norm_type`` = +-inf is torch's max pooling of ``|x|``, on cypool's max
kernel). The strategies cypool adds, which torch lacks, are plain ``nn.Module`` classes with the
arguments of their cypool functions: ``StochasticPool2d``, ``BlurPool2d``, ``MaxBlurPool2d``,
``SpatialPyramidPool2d`` (functional: ``stochastic_pool2d`` ...).

Zero copy: a CPU tensor is handed to cypool as ``tensor.detach().numpy()`` (a view of the tensor's
memory) and results come back through ``torch.from_numpy`` (a view of the NumPy result). A
``torch.channels_last`` tensor is a channels-first view of NHWC memory; cypool runs its
channels-last kernel on that memory directly, and its output is again a channels-last tensor, as
PyTorch's own pooling returns. Only a tensor contiguous in neither memory format is copied, once.

Limits: CPU tensors only; float16, float32 and float64 (float16 is computed in float32, as cypool
does for NumPy arrays); gradients are first-order only (double backward raises a RuntimeError:
the backward kernels are not themselves differentiable). TorchScript cannot script these modules.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import downsample as _D
from . import pooling as _P
from ._geometry import _is_int, check_bool, int_tuple

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "MODULES",
    "lp_pool1d", "lp_pool2d", "stochastic_pool2d", "blur_pool2d", "max_blur_pool2d",
    "spatial_pyramid_pool", "LPPool1d", "LPPool2d", "StochasticPool2d", "BlurPool2d",
    "MaxBlurPool2d", "SpatialPyramidPool2d",
]

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]
_DTYPES = (torch.float16, torch.float32, torch.float64)


# ----------------------------------------------------------------------------- tensor <-> NumPy

def _to_numpy(t: torch.Tensor, name: str, floating: bool = True) -> np.ndarray:
    """A NumPy view of a CPU tensor's memory (no copy), after checking device and dtype."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"cypool.torch runs on CPU tensors only; {name} is on device "
                         f"{t.device} (move it with .cpu() or use torch's own pooling there)")
    if floating and t.dtype not in _DTYPES:
        raise TypeError(f"{name} has unsupported dtype {t.dtype}; cypool.torch takes "
                        f"torch.float16, torch.float32 or torch.float64")
    return t.detach().resolve_conj().resolve_neg().numpy()


def _public(family: str, rank: int, suffix: str = ""):
    """cypool's public NumPy function, e.g. ("max_pool", 2, "_backward") -> max_pool2d_backward.
    Tensors are logically channels-first; cypool detects a channels_last memory order itself."""
    return getattr(_P, f"{family}{rank}d{suffix}")


def _to_torch(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing the memory of cypool's result (whatever its memory order)."""
    return torch.from_numpy(a)


# ----------------------------------------------------------------------------- autograd functions

class MaxPoolFunction(torch.autograd.Function):
    """Max pooling of any rank; outputs (values, indices); indices are not differentiable."""

    @staticmethod
    def forward(ctx, x, rank, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = _public("max_pool", rank)(_to_numpy(x, "input"), kernel_size, stride, padding,
                                          dilation, ceil_mode, return_indices=True)
        idx_t = _to_torch(idx)
        ctx.rank, ctx.input_shape = rank, tuple(x.shape)
        ctx.save_for_backward(idx_t)
        ctx.mark_non_differentiable(idx_t)
        return _to_torch(y), idx_t

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, _grad_idx):
        (idx,) = ctx.saved_tensors
        gx = _public("max_pool", ctx.rank, "_backward")(
            _to_numpy(grad_y, "grad_output"), _to_numpy(idx, "indices", False), ctx.input_shape)
        return _to_torch(gx), None, None, None, None, None, None


class AvgPoolFunction(torch.autograd.Function):
    """Average pooling of any rank."""

    @staticmethod
    def forward(ctx, x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        args = (kernel_size, stride, padding, ceil_mode, count_include_pad)
        kw = {} if divisor_override is None else {"divisor_override": divisor_override}
        y = _public("avg_pool", rank)(_to_numpy(x, "input"), *args, **kw)
        ctx.rank, ctx.input_shape, ctx.args, ctx.kw = rank, tuple(x.shape), args, kw
        return _to_torch(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        gx = _public("avg_pool", ctx.rank, "_backward")(
            _to_numpy(grad_y, "grad_output"), ctx.input_shape, *ctx.args, **ctx.kw)
        return _to_torch(gx), None, None, None, None, None, None, None


class AdaptiveAvgPoolFunction(torch.autograd.Function):
    """Adaptive average pooling of any rank."""

    @staticmethod
    def forward(ctx, x, rank, output_size):
        y = _public("adaptive_avg_pool", rank)(_to_numpy(x, "input"), output_size)
        ctx.rank, ctx.input_shape = rank, tuple(x.shape)
        return _to_torch(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        gx = _public("adaptive_avg_pool", ctx.rank, "_backward")(
            _to_numpy(grad_y, "grad_output"), ctx.input_shape)
        return _to_torch(gx), None, None


class AdaptiveMaxPoolFunction(torch.autograd.Function):
    """Adaptive max pooling of any rank; outputs (values, indices)."""

    @staticmethod
    def forward(ctx, x, rank, output_size):
        y, idx = _public("adaptive_max_pool", rank)(_to_numpy(x, "input"), output_size,
                                                    return_indices=True)
        idx_t = _to_torch(idx)
        ctx.rank, ctx.input_shape = rank, tuple(x.shape)
        ctx.save_for_backward(idx_t)
        ctx.mark_non_differentiable(idx_t)
        return _to_torch(y), idx_t

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, _grad_idx):
        (idx,) = ctx.saved_tensors
        gx = _public("adaptive_max_pool", ctx.rank, "_backward")(
            _to_numpy(grad_y, "grad_output"), _to_numpy(idx, "indices", False), ctx.input_shape)
        return _to_torch(gx), None, None


class MaxUnpoolFunction(torch.autograd.Function):
    """Max unpooling of any rank; differentiable with respect to the values, not the indices."""

    @staticmethod
    def forward(ctx, x, indices, rank, kernel_size, stride, padding, output_size):
        idx = _to_numpy(indices, "indices", False)
        y = _public("max_unpool", rank)(_to_numpy(x, "input"), idx, kernel_size, stride, padding,
                                        output_size)
        ctx.rank = rank
        ctx.save_for_backward(indices)
        return _to_torch(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        (indices,) = ctx.saved_tensors
        gx = _public("max_unpool", ctx.rank, "_backward")(
            _to_numpy(grad_y, "grad_output"), _to_numpy(indices, "indices", False))
        return _to_torch(gx), None, None, None, None, None, None


class LPPoolFunction(torch.autograd.Function):
    """Power-average (Lp) pooling, 1-d or 2-d."""

    @staticmethod
    def forward(ctx, x, rank, norm_type, kernel_size, stride, ceil_mode):
        args = (norm_type, kernel_size, stride, ceil_mode)
        y = getattr(_D, f"lp_pool{rank}d")(_to_numpy(x, "input"), *args)
        ctx.rank, ctx.args = rank, args
        ctx.save_for_backward(x)
        return _to_torch(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        gx = getattr(_D, f"lp_pool{ctx.rank}d_backward")(
            _to_numpy(grad_y, "grad_output"), _to_numpy(x, "input"), *ctx.args)
        return _to_torch(gx), None, None, None, None, None


class StochasticPoolFunction(torch.autograd.Function):
    """Stochastic pooling; outputs (values, sampled indices) in training, (values, None) in
    evaluation, which cypool gives no gradient."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, training, seed):
        xn = _to_numpy(x, "input")
        ctx.training, ctx.input_shape = training, tuple(x.shape)
        if not training:
            return _to_torch(_D.stochastic_pool2d(xn, kernel_size, stride, False)), None
        y, idx = _D.stochastic_pool2d(xn, kernel_size, stride, True, seed, return_indices=True)
        idx_t = _to_torch(idx)
        ctx.save_for_backward(idx_t)
        ctx.mark_non_differentiable(idx_t)
        return _to_torch(y), idx_t

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, _grad_idx):
        if not ctx.training:
            # Raised here rather than in forward: evaluating a model without torch.no_grad()
            # builds a graph that is never differentiated, and must keep working.
            raise RuntimeError(
                "cypool's stochastic pooling has no gradient in evaluation mode (training=False "
                "returns the probability-weighted sum(r**2) / sum(r)); differentiate it in "
                "training mode")
        (idx,) = ctx.saved_tensors
        gx = _D.stochastic_pool2d_backward(_to_numpy(grad_y, "grad_output"),
                                           _to_numpy(idx, "indices", False), ctx.input_shape)
        return _to_torch(gx), None, None, None, None


class BlurPoolFunction(torch.autograd.Function):
    """Anti-aliased blur pooling (binomial filter, reflect padding)."""

    @staticmethod
    def forward(ctx, x, filt_size, stride):
        y = _D.blur_pool2d(_to_numpy(x, "input"), filt_size, stride)
        ctx.input_shape, ctx.args = tuple(x.shape), (filt_size, stride)
        return _to_torch(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        gx = _D.blur_pool2d_backward(_to_numpy(grad_y, "grad_output"), ctx.input_shape,
                                     *ctx.args)
        return _to_torch(gx), None, None


class MaxBlurPoolFunction(torch.autograd.Function):
    """MaxBlurPool: stride-1 max pooling, then blur pooling."""

    @staticmethod
    def forward(ctx, x, kernel_size, filt_size, stride):
        y, idx = _D.max_blur_pool2d(_to_numpy(x, "input"), kernel_size, filt_size, stride,
                                    return_indices=True)
        # NumPy, not save_for_backward: these indices are internal (the dense max's), never
        # handed to the caller, so no one can modify them in place.
        ctx.indices, ctx.input_shape, ctx.args = idx, tuple(x.shape), (filt_size, stride)
        return _to_torch(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        gx = _D.max_blur_pool2d_backward(_to_numpy(grad_y, "grad_output"), ctx.indices,
                                         ctx.input_shape, *ctx.args)
        return _to_torch(gx), None, None, None


class SpatialPyramidPoolFunction(torch.autograd.Function):
    """Spatial pyramid pooling to a (N, C * sum(l*l)) vector."""

    @staticmethod
    def forward(ctx, x, levels, mode):
        xn = _to_numpy(x, "input")
        if mode == "max":
            y, ctx.indices = _D.spatial_pyramid_pool(xn, levels, mode, return_indices=True)
        else:
            y, ctx.indices = _D.spatial_pyramid_pool(xn, levels, mode), None
        ctx.input_shape, ctx.levels, ctx.mode = tuple(x.shape), levels, mode
        return _to_torch(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        gx = _D.spatial_pyramid_pool_backward(_to_numpy(grad_y, "grad_output"), ctx.input_shape,
                                              ctx.levels, ctx.mode, ctx.indices)
        return _to_torch(gx), None, None


# ----------------------------------------------------------------------------- functional forms

def _max_pool(x, rank, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    y, idx = MaxPoolFunction.apply(x, rank, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def max_pool1d(input: torch.Tensor, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """``torch.nn.functional.max_pool1d`` computed by ``cypool.max_pool1d``."""
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: torch.Tensor, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """``torch.nn.functional.max_pool2d`` computed by ``cypool.max_pool2d``."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input: torch.Tensor, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """``torch.nn.functional.max_pool3d`` computed by ``cypool.max_pool3d``."""
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(input: torch.Tensor, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> torch.Tensor:
    """``torch.nn.functional.avg_pool1d`` computed by ``cypool.avg_pool1d``."""
    return AvgPoolFunction.apply(input, 1, kernel_size, stride, padding, ceil_mode,
                                 count_include_pad, None)


def avg_pool2d(input: torch.Tensor, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> torch.Tensor:
    """``torch.nn.functional.avg_pool2d`` computed by ``cypool.avg_pool2d``."""
    return AvgPoolFunction.apply(input, 2, kernel_size, stride, padding, ceil_mode,
                                 count_include_pad, divisor_override)


def avg_pool3d(input: torch.Tensor, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> torch.Tensor:
    """``torch.nn.functional.avg_pool3d`` computed by ``cypool.avg_pool3d``."""
    return AvgPoolFunction.apply(input, 3, kernel_size, stride, padding, ceil_mode,
                                 count_include_pad, divisor_override)


def adaptive_avg_pool1d(input: torch.Tensor, output_size: Any) -> torch.Tensor:
    """``torch.nn.functional.adaptive_avg_pool1d`` computed by cypool."""
    return AdaptiveAvgPoolFunction.apply(input, 1, output_size)


def adaptive_avg_pool2d(input: torch.Tensor, output_size: Any) -> torch.Tensor:
    """``torch.nn.functional.adaptive_avg_pool2d`` computed by cypool."""
    return AdaptiveAvgPoolFunction.apply(input, 2, output_size)


def adaptive_avg_pool3d(input: torch.Tensor, output_size: Any) -> torch.Tensor:
    """``torch.nn.functional.adaptive_avg_pool3d`` computed by cypool."""
    return AdaptiveAvgPoolFunction.apply(input, 3, output_size)


def _adaptive_max(x, rank, output_size, return_indices):
    y, idx = AdaptiveMaxPoolFunction.apply(x, rank, output_size)
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input: torch.Tensor, output_size: Any,
                        return_indices: bool = False) -> Any:
    """``torch.nn.functional.adaptive_max_pool1d`` computed by cypool."""
    return _adaptive_max(input, 1, output_size, return_indices)


def adaptive_max_pool2d(input: torch.Tensor, output_size: Any,
                        return_indices: bool = False) -> Any:
    """``torch.nn.functional.adaptive_max_pool2d`` computed by cypool."""
    return _adaptive_max(input, 2, output_size, return_indices)


def adaptive_max_pool3d(input: torch.Tensor, output_size: Any,
                        return_indices: bool = False) -> Any:
    """``torch.nn.functional.adaptive_max_pool3d`` computed by cypool."""
    return _adaptive_max(input, 3, output_size, return_indices)


def _unpool_size(output_size):
    return None if output_size is None else tuple(int(v) for v in output_size)


def max_unpool1d(input: torch.Tensor, indices: torch.Tensor, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Sequence[int]] = None) -> torch.Tensor:
    """``torch.nn.functional.max_unpool1d`` computed by cypool."""
    return MaxUnpoolFunction.apply(input, indices, 1, kernel_size, stride, padding,
                                   _unpool_size(output_size))


def max_unpool2d(input: torch.Tensor, indices: torch.Tensor, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Sequence[int]] = None) -> torch.Tensor:
    """``torch.nn.functional.max_unpool2d`` computed by cypool."""
    return MaxUnpoolFunction.apply(input, indices, 2, kernel_size, stride, padding,
                                   _unpool_size(output_size))


def max_unpool3d(input: torch.Tensor, indices: torch.Tensor, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0,
                 output_size: Optional[Sequence[int]] = None) -> torch.Tensor:
    """``torch.nn.functional.max_unpool3d`` computed by cypool."""
    return MaxUnpoolFunction.apply(input, indices, 3, kernel_size, stride, padding,
                                   _unpool_size(output_size))


def _check_lp_norm(norm_type) -> None:
    """torch takes norm_type = +-inf (max pooling of |x|); cypool's kernels take finite p > 0."""
    if not _is_inf(norm_type):
        _D._check_norm_type(norm_type)


def _is_inf(norm_type) -> bool:
    return isinstance(norm_type, (int, float)) and not isinstance(norm_type, bool) \
        and math.isinf(norm_type)


def _lp_pool(x, rank, norm_type, kernel_size, stride, ceil_mode):
    if _is_inf(norm_type):
        # torch's own reduction for p = +-inf (cypool's Lp kernels take finite p only); the max
        # pooling is cypool's, abs and negation are torch's
        if norm_type > 0:
            return _max_pool(x.abs(), rank, kernel_size, stride, 0, 1, ceil_mode, False)
        return -_max_pool(-x.abs(), rank, kernel_size, stride, 0, 1, ceil_mode, False)
    return LPPoolFunction.apply(x, rank, norm_type, kernel_size, stride, ceil_mode)


def lp_pool1d(input: torch.Tensor, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False) -> torch.Tensor:
    """``torch.nn.functional.lp_pool1d`` computed by ``cypool.lp_pool1d``."""
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: torch.Tensor, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False) -> torch.Tensor:
    """``torch.nn.functional.lp_pool2d`` computed by ``cypool.lp_pool2d``."""
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def _check_seed(seed) -> None:
    if seed is None or isinstance(seed, (np.random.Generator, torch.Generator)):
        return
    if not _is_int(seed) or seed < 0:
        raise TypeError(f"seed must be None, a non-negative int, a numpy.random.Generator or a "
                        f"torch.Generator, got seed={seed!r}")


def _call_seed(seed):
    """cypool's seed for one call. None and torch Generators give a seed drawn from torch's RNG,
    so that torch.manual_seed (or the Generator's own seed) makes a model reproducible, as it does
    for dropout; ints and NumPy Generators go to cypool unchanged."""
    if seed is None or isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**63 - 1, (), generator=seed))
    return seed


def stochastic_pool2d(input: torch.Tensor, kernel_size: IntOrTuple,
                      stride: Optional[IntOrTuple] = None, training: bool = True,
                      seed: Any = None, return_indices: bool = False) -> Any:
    """``cypool.stochastic_pool2d`` on a tensor (Zeiler & Fergus 2013; no padding, floor mode).

    training=True samples one cell per window with probability max(x, 0) / sum(max(x, 0)) and is
    differentiable (the gradient goes to the sampled cell); training=False returns the
    probability-weighted sum(r**2) / sum(r), which has no gradient (backward raises). ``seed``:
    an int (the same draws on every call, as cypool's), a numpy or torch Generator (advanced by
    each call), or None (drawn from torch's global RNG, so ``torch.manual_seed`` governs it).
    return_indices (training only) also returns the sampled cells, flat per plane, as max
    pooling's indices.
    """
    training = check_bool(training, "training")
    return_indices = check_bool(return_indices, "return_indices")
    if return_indices and not training:
        raise ValueError("return_indices=True needs training=True (evaluation samples nothing)")
    _check_seed(seed)
    seed = _call_seed(seed) if training else None
    y, idx = StochasticPoolFunction.apply(input, kernel_size, stride, training, seed)
    return (y, idx) if return_indices else y


def blur_pool2d(input: torch.Tensor, filt_size: int = 3, stride: IntOrTuple = 2) -> torch.Tensor:
    """``cypool.blur_pool2d`` on a tensor: anti-aliased downsampling (Zhang 2019), reflect
    padding then the normalised binomial filter of size filt_size (1..7) at ``stride``."""
    return BlurPoolFunction.apply(input, filt_size, stride)


def max_blur_pool2d(input: torch.Tensor, kernel_size: IntOrTuple = 2, filt_size: int = 3,
                    stride: IntOrTuple = 2) -> torch.Tensor:
    """``cypool.max_blur_pool2d`` on a tensor: max pooling (kernel_size, stride 1), then
    blur_pool2d(filt_size, stride) (Zhang 2019)."""
    return MaxBlurPoolFunction.apply(input, kernel_size, filt_size, stride)


def spatial_pyramid_pool(input: torch.Tensor, levels: Sequence[int] = (4, 2, 1),
                         mode: str = "max") -> torch.Tensor:
    """``cypool.spatial_pyramid_pool`` on a tensor (He et al. 2014): adaptive ``mode`` pooling
    ('max' or 'avg') to l x l bins per level, flattened channel-major and concatenated:
    (N, C * sum(l*l))."""
    levels, mode = _D._check_levels(levels), _D._check_mode(mode)
    return SpatialPyramidPoolFunction.apply(input, levels, mode)


# ----------------------------------------------------------------------------- nn.Module classes
# Each class subclasses PyTorch's module of the same name: same constructor, attributes and repr;
# forward runs the functional form above.

def _max_forward(self, input):
    return _max_pool(input, self._rank, self.kernel_size, self.stride, self.padding,
                     self.dilation, self.ceil_mode, self.return_indices)


def _avg_forward(self, input):
    return AvgPoolFunction.apply(input, self._rank, self.kernel_size, self.stride, self.padding,
                                 self.ceil_mode, self.count_include_pad,
                                 getattr(self, "divisor_override", None))


def _adaptive_avg_forward(self, input):
    return AdaptiveAvgPoolFunction.apply(input, self._rank, self.output_size)


def _adaptive_max_forward(self, input):
    return _adaptive_max(input, self._rank, self.output_size, self.return_indices)


def _unpool_forward(self, input, indices, output_size=None):
    return MaxUnpoolFunction.apply(input, indices, self._rank, self.kernel_size, self.stride,
                                   self.padding, _unpool_size(output_size))


def _lp_forward(self, input):
    return _lp_pool(input, self._rank, self.norm_type, self.kernel_size, self.stride,
                    self.ceil_mode)


def _keep_string_padding(base: type):
    """torch's __init__ of some modules turns padding into a tuple (``_single("same")`` would give
    ``('s', 'a', 'm', 'e')``); keep cypool's string paddings as given."""
    signature = inspect.signature(base.__init__)

    def __init__(self, *args, **kwargs):
        base.__init__(self, *args, **kwargs)
        padding = signature.bind(self, *args, **kwargs).arguments.get("padding")
        if isinstance(padding, str):
            self.padding = padding

    return __init__


def _check_norm_type_early(base: type):
    """A bad norm_type fails at construction rather than at the first forward."""
    signature = inspect.signature(base.__init__)

    def __init__(self, *args, **kwargs):
        _check_lp_norm(signature.bind(self, *args, **kwargs).arguments.get("norm_type"))
        base.__init__(self, *args, **kwargs)

    return __init__


def _module(torch_name: str, rank: int, forward) -> type:
    base = getattr(torch.nn, torch_name)
    doc = (f"``torch.nn.{torch_name}`` whose forward runs cypool's kernels.\n\n"
           f"Same constructor arguments as ``torch.nn.{torch_name}`` (plus cypool's "
           f"``padding='same'``/``'valid'`` where it pools with a window); CPU tensors of dtype "
           f"float16/32/64 in either memory format; first-order gradients.")
    namespace = {"_rank": rank, "forward": forward, "__doc__": doc, "__module__": __name__}
    if "padding" in inspect.signature(base.__init__).parameters:
        namespace["__init__"] = _keep_string_padding(base)
    if "norm_type" in inspect.signature(base.__init__).parameters:
        namespace["__init__"] = _check_norm_type_early(base)
    cls = type(torch_name, (base,), namespace)
    cls.__qualname__ = torch_name
    return cls


class StochasticPool2d(torch.nn.Module):
    """Stochastic pooling (Zeiler & Fergus 2013) computed by ``cypool.stochastic_pool2d``.

    Samples in training mode (gradient to the sampled cell), returns the probability-weighted
    sum(r**2) / sum(r) in evaluation mode (``.eval()``; no gradient: backward raises). No padding,
    floor mode. ``seed``: None draws every forward's randomness from torch's global RNG (so
    ``torch.manual_seed`` makes it reproducible, as for dropout); a torch.Generator or a
    numpy.random.Generator is advanced by every forward; an int seeds a NumPy Generator owned by
    the module, so a model built with the same seed samples the same sequence. return_indices
    (training only) returns (values, sampled indices) as MaxPool2d does.
    """

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                 seed: Any = None, return_indices: bool = False) -> None:
        super().__init__()
        int_tuple(kernel_size, 2, "kernel_size")
        if stride is not None:
            int_tuple(stride, 2, "stride")
        _check_seed(seed)
        self.kernel_size, self.stride, self.seed = kernel_size, stride, seed
        self.return_indices = check_bool(return_indices, "return_indices")
        # An int would give the same draws on every forward; training wants a fresh sample per
        # batch, reproducible from the seed.
        self.generator = np.random.default_rng(seed) if _is_int(seed) else seed

    def forward(self, input: torch.Tensor) -> Any:
        if self.return_indices and not self.training:
            raise ValueError("StochasticPool2d(return_indices=True) in evaluation mode: "
                             "evaluation samples nothing; use train mode or return_indices=False")
        return stochastic_pool2d(input, self.kernel_size, self.stride, self.training,
                                 self.generator, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, seed={self.seed!r}, "
                f"return_indices={self.return_indices}")


class BlurPool2d(torch.nn.Module):
    """Anti-aliased downsampling (Zhang 2019) computed by ``cypool.blur_pool2d``: reflect padding
    ((f-1)//2 before, f//2 after), then a depthwise convolution with the normalised binomial
    filter of size filt_size (1..7) at ``stride``. Output size ceil(L / stride)."""

    def __init__(self, filt_size: int = 3, stride: IntOrTuple = 2) -> None:
        super().__init__()
        _D.binomial_filter(filt_size)
        int_tuple(stride, 2, "stride")
        self.filt_size, self.stride = filt_size, stride

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return BlurPoolFunction.apply(input, self.filt_size, self.stride)

    def extra_repr(self) -> str:
        return f"filt_size={self.filt_size}, stride={self.stride}"


class MaxBlurPool2d(torch.nn.Module):
    """MaxBlurPool (Zhang 2019) computed by ``cypool.max_blur_pool2d``: max pooling with
    kernel_size and stride 1, then BlurPool2d(filt_size, stride)."""

    def __init__(self, kernel_size: IntOrTuple = 2, filt_size: int = 3,
                 stride: IntOrTuple = 2) -> None:
        super().__init__()
        int_tuple(kernel_size, 2, "kernel_size")
        _D.binomial_filter(filt_size)
        int_tuple(stride, 2, "stride")
        self.kernel_size, self.filt_size, self.stride = kernel_size, filt_size, stride

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MaxBlurPoolFunction.apply(input, self.kernel_size, self.filt_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, filt_size={self.filt_size}, stride={self.stride}"


class SpatialPyramidPool2d(torch.nn.Module):
    """Spatial pyramid pooling (He et al. 2014) computed by ``cypool.spatial_pyramid_pool``:
    adaptive max or average pooling to l x l bins for each of ``levels``, flattened
    channel-major and concatenated: (N, C, H, W) -> (N, C * sum(l*l)), for any H and W."""

    def __init__(self, levels: Sequence[int] = (4, 2, 1), mode: str = "max") -> None:
        super().__init__()
        self.levels, self.mode = _D._check_levels(levels), _D._check_mode(mode)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return SpatialPyramidPoolFunction.apply(input, self.levels, self.mode)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, mode={self.mode!r}"


# The one table of modules: PyTorch name -> (rank, forward), built on torch's class of that name.
# Operators that cypool adds beyond PyTorch's have an autograd Function above that calls their
# cypool forward/backward functions and, as torch has no base class for them, a Module class
# written out above; they join MODULES through _OWN.
_TABLE = {
    **{f"MaxPool{r}d": (r, _max_forward) for r in (1, 2, 3)},
    **{f"AvgPool{r}d": (r, _avg_forward) for r in (1, 2, 3)},
    **{f"AdaptiveAvgPool{r}d": (r, _adaptive_avg_forward) for r in (1, 2, 3)},
    **{f"AdaptiveMaxPool{r}d": (r, _adaptive_max_forward) for r in (1, 2, 3)},
    **{f"MaxUnpool{r}d": (r, _unpool_forward) for r in (1, 2, 3)},
    **{f"LPPool{r}d": (r, _lp_forward) for r in (1, 2)},
}
_OWN = (StochasticPool2d, BlurPool2d, MaxBlurPool2d, SpatialPyramidPool2d)
MODULES = {name: _module(name, rank, fwd) for name, (rank, fwd) in _TABLE.items()}
MODULES.update({cls.__name__: cls for cls in _OWN})

MaxPool1d, MaxPool2d, MaxPool3d = (MODULES[f"MaxPool{r}d"] for r in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (MODULES[f"AvgPool{r}d"] for r in (1, 2, 3))
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (
    MODULES[f"AdaptiveAvgPool{r}d"] for r in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (
    MODULES[f"AdaptiveMaxPool{r}d"] for r in (1, 2, 3))
MaxUnpool1d, MaxUnpool2d, MaxUnpool3d = (MODULES[f"MaxUnpool{r}d"] for r in (1, 2, 3))
LPPool1d, LPPool2d = MODULES["LPPool1d"], MODULES["LPPool2d"]


def replace_pooling(model: torch.nn.Module) -> torch.nn.Module:
    """Swap every torch pooling module of ``model`` (in place) for its cypool.torch twin.

    Returns ``model``. Modules already from cypool.torch are left alone.
    """
    for name, child in model.named_children():
        cls = MODULES.get(type(child).__name__)
        if cls is not None and type(child) is getattr(torch.nn, type(child).__name__, None):
            twin = cls.__new__(cls)
            twin.__dict__.update(child.__dict__)
            setattr(model, name, twin)
        else:
            replace_pooling(child)
    return model


__all__.append("replace_pooling")

"""PyTorch bridge: autograd functions and nn.Module classes running cypool's kernels.

Import it explicitly (``import cypool.torch``); ``import cypool`` never imports torch.

The modules subclass PyTorch's own (``cypool.torch.MaxPool2d`` is a ``torch.nn.MaxPool2d``), so they
take exactly PyTorch's constructor arguments, print the same way and can replace them in a model;
only ``forward`` differs: it runs cypool's Cython kernels. The functional forms
(``cypool.torch.max_pool2d`` ...) mirror ``torch.nn.functional``. cypool's extensions are available
too: ``padding="same"``/``"valid"`` (Keras/TensorFlow SAME/VALID).

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
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import pooling as _P

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "MODULES",
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


def _module(torch_name: str, rank: int, forward) -> type:
    base = getattr(torch.nn, torch_name)
    doc = (f"``torch.nn.{torch_name}`` whose forward runs cypool's kernels.\n\n"
           f"Same constructor arguments as ``torch.nn.{torch_name}`` (plus cypool's "
           f"``padding='same'``/``'valid'`` where it pools with a window); CPU tensors of dtype "
           f"float16/32/64 in either memory format; first-order gradients.")
    namespace = {"_rank": rank, "forward": forward, "__doc__": doc, "__module__": __name__}
    if "padding" in inspect.signature(base.__init__).parameters:
        namespace["__init__"] = _keep_string_padding(base)
    cls = type(torch_name, (base,), namespace)
    cls.__qualname__ = torch_name
    return cls


# The one table of modules: PyTorch name -> (rank, forward). Operators that cypool adds beyond
# PyTorch's (StochasticPool2d, BlurPool2d, ...) register here as well, with an autograd Function
# above that calls their cypool forward/backward functions, and a Module class built by hand when
# torch has no base class of that name.
_TABLE = {
    **{f"MaxPool{r}d": (r, _max_forward) for r in (1, 2, 3)},
    **{f"AvgPool{r}d": (r, _avg_forward) for r in (1, 2, 3)},
    **{f"AdaptiveAvgPool{r}d": (r, _adaptive_avg_forward) for r in (1, 2, 3)},
    **{f"AdaptiveMaxPool{r}d": (r, _adaptive_max_forward) for r in (1, 2, 3)},
    **{f"MaxUnpool{r}d": (r, _unpool_forward) for r in (1, 2, 3)},
}
MODULES = {name: _module(name, rank, fwd) for name, (rank, fwd) in _TABLE.items()}

MaxPool1d, MaxPool2d, MaxPool3d = (MODULES[f"MaxPool{r}d"] for r in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (MODULES[f"AvgPool{r}d"] for r in (1, 2, 3))
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (
    MODULES[f"AdaptiveAvgPool{r}d"] for r in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (
    MODULES[f"AdaptiveMaxPool{r}d"] for r in (1, 2, 3))
MaxUnpool1d, MaxUnpool2d, MaxUnpool3d = (MODULES[f"MaxUnpool{r}d"] for r in (1, 2, 3))


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

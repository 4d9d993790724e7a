"""nn.Module classes: torch's pooling modules whose forward runs the bridge, and cypool's own.

Each class built from `TABLE` subclasses PyTorch's module of the same name (``MaxPool2d`` is a
``torch.nn.MaxPool2d``): same constructor, attributes and repr; only ``forward`` differs.
"""
from __future__ import annotations

import inspect
from typing import Any, Optional, Sequence

import numpy as np
import torch

import cypool

from . import functional as F
from ._errors import PoolingValueError, torch_errors

IntOrTuple = F.IntOrTuple


def _max_forward(self, input):
    return F._max_pool(input, self._rank, self.kernel_size, self.stride, self.padding,
                       self.dilation, self.ceil_mode, self.return_indices)


def _avg_forward(self, input):
    return F._avg_pool(input, self._rank, self.kernel_size, self.stride, self.padding,
                       self.ceil_mode, self.count_include_pad,
                       getattr(self, "divisor_override", None))


def _adaptive_avg_forward(self, input):
    return F._adaptive_avg(input, self._rank, self.output_size)


def _adaptive_max_forward(self, input):
    return F._adaptive_max(input, self._rank, self.output_size, self.return_indices)


def _unpool_forward(self, input, indices, output_size=None):
    return F._unpool(input, indices, self._rank, self.kernel_size, self.stride, self.padding,
                     output_size)


def _lp_forward(self, input):
    return F._lp_pool(input, self._rank, self.norm_type, self.kernel_size, self.stride,
                      self.ceil_mode)


def _fractional_forward(self, input):
    return F._fractional(input, self._rank, self.kernel_size, self.output_size,
                         self.output_ratio, self.return_indices, self._random_samples)


# torch module name -> (rank, forward); the classes are built on torch's class of that name
TABLE = {
    **{f"MaxPool{r}d": (r, _max_forward) for r in (1, 2, 3)},
    **{f"AvgPool{r}d": (r, _avg_forward) for r in (1, 2, 3)},
    **{f"AdaptiveAvgPool{r}d": (r, _adaptive_avg_forward) for r in (1, 2, 3)},
    **{f"AdaptiveMaxPool{r}d": (r, _adaptive_max_forward) for r in (1, 2, 3)},
    **{f"MaxUnpool{r}d": (r, _unpool_forward) for r in (1, 2, 3)},
    **{f"LPPool{r}d": (r, _lp_forward) for r in (1, 2, 3)},
    **{f"FractionalMaxPool{r}d": (r, _fractional_forward) for r in (2, 3)},
}


def _keep_string_padding(base: type, init):
    """torch's __init__ of some modules turns padding into a tuple (``_single("same")`` would give
    ``('s', 'a', 'm', 'e')``); keep cypool's string paddings as given."""
    signature = inspect.signature(base.__init__)

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        padding = signature.bind(self, *args, **kwargs).arguments.get("padding")
        if isinstance(padding, str):
            self.padding = padding

    return __init__


def _check_norm_type_early(base: type, init):
    """A bad norm_type fails at construction rather than at the first forward."""
    signature = inspect.signature(base.__init__)

    def __init__(self, *args, **kwargs):
        with torch_errors():
            F.check_norm_type(signature.bind(self, *args, **kwargs).arguments.get("norm_type"))
        init(self, *args, **kwargs)

    return __init__


def _module(torch_name: str, rank: int, forward) -> type:
    base = getattr(torch.nn, torch_name)
    doc = (f"``torch.nn.{torch_name}`` whose forward runs cypool's kernels.\n\n"
           f"Same constructor arguments as ``torch.nn.{torch_name}`` (plus cypool's "
           f"``padding='same'``/``'valid'`` where it pools with a window); CPU tensors; "
           f"gradients of any order, forward-mode AD, vmap, torch.compile.")
    namespace = {"_rank": rank, "forward": forward, "__doc__": doc, "__module__": __name__}
    params = inspect.signature(base.__init__).parameters
    init = base.__init__
    if "padding" in params:
        init = _keep_string_padding(base, init)
    if "norm_type" in params:
        init = _check_norm_type_early(base, init)
    if init is not base.__init__:
        namespace["__init__"] = init
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
        with torch_errors():
            F.positive_ints(kernel_size, 2, "kernel_size")
            if stride is not None:
                F.positive_ints(stride, 2, "stride")
            F.check_seed(seed)
            if not isinstance(return_indices, bool):
                raise F.PoolingTypeError(f"return_indices must be a bool, got "
                                         f"return_indices={return_indices!r}")
        self.kernel_size, self.stride, self.seed = kernel_size, stride, seed
        self.return_indices = return_indices
        # An int would give the same draws on every forward; training wants a fresh sample per
        # batch, reproducible from the seed.
        is_int = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
        self.generator = np.random.default_rng(seed) if is_int else seed

    def forward(self, input: torch.Tensor) -> Any:
        if self.return_indices and not self.training:
            raise PoolingValueError("StochasticPool2d(return_indices=True) in evaluation mode: "
                                    "evaluation samples nothing; use train mode or "
                                    "return_indices=False")
        return F.stochastic_pool2d(input, self.kernel_size, self.stride, self.training,
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
        with torch_errors():
            cypool.binomial_filter(filt_size)
            F.positive_ints(stride, 2, "stride")
        self.filt_size, self.stride = filt_size, stride

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.blur_pool2d(input, self.filt_size, self.stride)

    def extra_repr(self) -> str:
        return f"filt_size={self.filt_size}, stride={self.stride}"


class MaxBlurPool2d(torch.nn.Module):
    """MaxBlurPool (Zhang 2019) computed by cypool: max pooling with kernel_size and stride 1,
    then BlurPool2d(filt_size, stride)."""

    def __init__(self, kernel_size: IntOrTuple = 2, filt_size: int = 3,
                 stride: IntOrTuple = 2) -> None:
        super().__init__()
        with torch_errors():
            F.positive_ints(kernel_size, 2, "kernel_size")
            cypool.binomial_filter(filt_size)
            F.positive_ints(stride, 2, "stride")
        self.kernel_size, self.filt_size, self.stride = kernel_size, filt_size, stride

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.max_blur_pool2d(input, self.kernel_size, self.filt_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, filt_size={self.filt_size}, stride={self.stride}"


class SpatialPyramidPool2d(torch.nn.Module):
    """Spatial pyramid pooling (He et al. 2014) computed by cypool's adaptive pooling: adaptive
    max or average pooling to l x l bins for each of ``levels``, flattened channel-major and
    concatenated: (N, C, H, W) -> (N, C * sum(l*l)), for any H and W."""

    def __init__(self, levels: Sequence[int] = (4, 2, 1), mode: str = "max") -> None:
        super().__init__()
        with torch_errors():
            self.levels, self.mode = F.check_levels(levels), F.check_mode(mode)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.spatial_pyramid_pool(input, self.levels, self.mode)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, mode={self.mode!r}"


OWN = (StochasticPool2d, BlurPool2d, MaxBlurPool2d, SpatialPyramidPool2d)
MODULES = {name: _module(name, rank, fwd) for name, (rank, fwd) in TABLE.items()}
MODULES.update({cls.__name__: cls for cls in OWN})


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

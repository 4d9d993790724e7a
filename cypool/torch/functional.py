"""torch.nn.functional's pooling names, computed by cypool (plus cypool's own strategies).

Each function takes torch's arguments, normalises them and calls one operator of the table in
_ops.py. Errors are the bridge's (RuntimeError and ValueError/TypeError at once); the arguments
are normalised and checked in _arguments.py.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import torch

import cypool

from ._arguments import (_call_seed, _ints, _output_size, _padding, _stride, _tensor,
                         check_levels, check_mode, check_norm_type, check_seed, positive_ints)
from ._errors import PoolingTypeError, PoolingValueError, torch_errors
from ._function import call
from ._references import ref_max_unpool, reference

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]

__all__ = [f"{name}{r}d" for name in ("max_pool", "avg_pool", "adaptive_avg_pool",
                                       "adaptive_max_pool", "max_unpool", "lp_pool")
           for r in (1, 2, 3)]
__all__ += [f"max_pool{r}d_with_indices" for r in (1, 2, 3)]
__all__ += [f"adaptive_max_pool{r}d_with_indices" for r in (1, 2, 3)]
__all__ += ["fractional_max_pool2d", "fractional_max_pool3d",
            "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]
__all__ += ["stochastic_pool2d", "blur_pool2d", "max_blur_pool2d", "spatial_pyramid_pool"]


# ----------------------------------------------------------------------------- max, avg

def _max_pool(x, rank, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    with torch_errors():
        pad, mode = _padding(padding, rank)
        x = _tensor(x)
        # torch's layout rule of 1-d max pooling depends on whether it computes indices
        with_indices = bool(return_indices) or (x.requires_grad and torch.is_grad_enabled())
        y, idx = call("max_pool", (x,), (
            rank, _ints(kernel_size, rank), _stride(stride, kernel_size, rank), pad,
            _ints(dilation, rank), ceil_mode, mode, with_indices))
    return (y, idx) if return_indices else y


def max_pool1d(input, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    """``torch.nn.functional.max_pool1d`` computed by ``cypool.max_pool1d``."""
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    """``torch.nn.functional.max_pool2d`` computed by ``cypool.max_pool2d``."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    """``torch.nn.functional.max_pool3d`` computed by ``cypool.max_pool3d``."""
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``torch.nn.functional.max_pool1d_with_indices``: (values, indices)."""
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``torch.nn.functional.max_pool2d_with_indices``: (values, indices)."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``torch.nn.functional.max_pool3d_with_indices``: (values, indices)."""
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    with torch_errors():
        pad, mode = _padding(padding, rank)
        return call("avg_pool", (_tensor(x),), (
            rank, _ints(kernel_size, rank), _stride(stride, kernel_size, rank), pad, ceil_mode,
            count_include_pad, divisor_override, mode))


def avg_pool1d(input, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> torch.Tensor:
    """``torch.nn.functional.avg_pool1d`` computed by ``cypool.avg_pool1d``."""
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> torch.Tensor:
    """``torch.nn.functional.avg_pool2d`` computed by ``cypool.avg_pool2d``."""
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
               padding: Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> torch.Tensor:
    """``torch.nn.functional.avg_pool3d`` computed by ``cypool.avg_pool3d``."""
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ----------------------------------------------------------------------------- adaptive

def _adaptive_avg(x, rank, output_size):
    with torch_errors():
        x = _tensor(x)
        return call("adaptive_avg_pool", (x,), (rank, _output_size(x, output_size, rank)))


def adaptive_avg_pool1d(input, output_size) -> torch.Tensor:
    """``torch.nn.functional.adaptive_avg_pool1d`` computed by cypool."""
    return _adaptive_avg(input, 1, output_size)


def adaptive_avg_pool2d(input, output_size) -> torch.Tensor:
    """``torch.nn.functional.adaptive_avg_pool2d`` computed by cypool."""
    return _adaptive_avg(input, 2, output_size)


def adaptive_avg_pool3d(input, output_size) -> torch.Tensor:
    """``torch.nn.functional.adaptive_avg_pool3d`` computed by cypool."""
    return _adaptive_avg(input, 3, output_size)


def _adaptive_max(x, rank, output_size, return_indices):
    with torch_errors():
        x = _tensor(x)
        y, idx = call("adaptive_max_pool", (x,), (rank, _output_size(x, output_size, rank)))
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    """``torch.nn.functional.adaptive_max_pool1d`` computed by cypool."""
    return _adaptive_max(input, 1, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """``torch.nn.functional.adaptive_max_pool2d`` computed by cypool."""
    return _adaptive_max(input, 2, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices: bool = False):
    """``torch.nn.functional.adaptive_max_pool3d`` computed by cypool."""
    return _adaptive_max(input, 3, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices: bool = True):
    """``torch.nn.functional.adaptive_max_pool1d_with_indices``: (values, indices)."""
    return _adaptive_max(input, 1, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices: bool = True):
    """``torch.nn.functional.adaptive_max_pool2d_with_indices``: (values, indices)."""
    return _adaptive_max(input, 2, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices: bool = True):
    """``torch.nn.functional.adaptive_max_pool3d_with_indices``: (values, indices)."""
    return _adaptive_max(input, 3, output_size, True)


# ----------------------------------------------------------------------------- unpool

def _unpool(x, indices, rank, kernel_size, stride, padding, output_size):
    with torch_errors():
        x, indices = _tensor(x), _tensor(indices, "indices")
        ks, st, pad = _ints(kernel_size, rank), _stride(stride, kernel_size, rank), \
            _ints(padding, rank)
        # torch's own rule for the default and the checks of a given output_size
        size = reference(ref_max_unpool, (x, indices), rank, ks, st, pad,
                           None if output_size is None else list(output_size)).shape
        return call("max_unpool", (x, indices), (rank, ks, st, pad, list(size[-rank:])))


def max_unpool1d(input, indices, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                 padding: IntOrTuple = 0, output_size: Optional[Sequence[int]] = None):
    """``torch.nn.functional.max_unpool1d`` computed by cypool."""
    return _unpool(input, indices, 1, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                 padding: IntOrTuple = 0, output_size: Optional[Sequence[int]] = None):
    """``torch.nn.functional.max_unpool2d`` computed by cypool."""
    return _unpool(input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                 padding: IntOrTuple = 0, output_size: Optional[Sequence[int]] = None):
    """``torch.nn.functional.max_unpool3d`` computed by cypool."""
    return _unpool(input, indices, 3, kernel_size, stride, padding, output_size)


# ----------------------------------------------------------------------------- fractional

def _fractional(x, rank, kernel_size, output_size, output_ratio, return_indices, samples):
    with torch_errors():
        x = _tensor(x)
        name = f"fractional_max_pool{rank}d"
        if output_size is None and output_ratio is None:
            raise PoolingValueError(f"{name} requires specifying either an output_size or an "
                                    f"output_ratio")
        if output_size is None:
            ratio = _ints(output_ratio, rank)
            if len(ratio) > rank:
                raise PoolingValueError(f"{name} requires output_ratio to either be a single "
                                        f"Int or tuple of Ints.")
            output_size = [int(x.size(x.dim() - rank + i) * ratio[i]) for i in range(rank)]
        if samples is None:
            # torch's draw, from torch's RNG: torch.manual_seed gives torch's windows
            n = 1 if x.dim() == rank + 1 else x.size(0)
            samples = torch.rand(n, x.size(-rank - 1), rank, dtype=x.dtype, device=x.device)
        y, idx = call("fractional_max_pool", (x, _tensor(samples, "_random_samples")),
                      (rank, _ints(kernel_size, rank), _ints(output_size, rank)))
    return (y, idx) if return_indices else y


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """``torch.nn.functional.fractional_max_pool2d`` computed by
    ``cypool.fractional.fractional_max_pool2d`` (torch's windows for the same samples)."""
    return _fractional(input, 2, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """``torch.nn.functional.fractional_max_pool3d`` computed by
    ``cypool.fractional.fractional_max_pool3d``."""
    return _fractional(input, 3, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices: bool = True, _random_samples=None):
    """``torch.nn.functional.fractional_max_pool2d_with_indices``: (values, indices)."""
    return _fractional(input, 2, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices: bool = True, _random_samples=None):
    """``torch.nn.functional.fractional_max_pool3d_with_indices``: (values, indices)."""
    return _fractional(input, 3, kernel_size, output_size, output_ratio, True, _random_samples)


# ----------------------------------------------------------------------------- Lp

def _lp_pool(x, rank, norm_type, kernel_size, stride, ceil_mode):
    with torch_errors():
        x = _tensor(x)
        check_norm_type(norm_type)
        ks, st = _ints(kernel_size, rank), _stride(stride, kernel_size, rank)
        if math.isinf(norm_type):
            # torch's reduction for p = +-inf: max pooling of |x| (cypool's max kernel)
            if norm_type > 0:
                return _max_pool(x.abs(), rank, ks, st, 0, 1, ceil_mode, False)
            return -_max_pool(-x.abs(), rank, ks, st, 0, 1, ceil_mode, False)
        return call("lp_pool", (x,), (rank, float(norm_type), ks, st, ceil_mode))


def lp_pool1d(input, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False) -> torch.Tensor:
    """``torch.nn.functional.lp_pool1d`` computed by ``cypool.lp_pool1d``."""
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False) -> torch.Tensor:
    """``torch.nn.functional.lp_pool2d`` computed by ``cypool.lp_pool2d``."""
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type: float, kernel_size: IntOrTuple,
              stride: Optional[IntOrTuple] = None, ceil_mode: bool = False) -> torch.Tensor:
    """``torch.nn.functional.lp_pool3d`` computed by ``cypool.lp_pool3d``."""
    return _lp_pool(input, 3, norm_type, kernel_size, stride, ceil_mode)


# ----------------------------------------------------------------------------- cypool's own

def stochastic_pool2d(input, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None,
                      training: bool = True, seed: Any = None, return_indices: bool = False):
    """``cypool.stochastic_pool2d`` on a tensor (Zeiler & Fergus 2013; no padding, floor mode).

    training=True samples one cell per window with probability max(x, 0) / sum(max(x, 0)) and is
    differentiable (the gradient goes to the sampled cell); training=False returns the
    probability-weighted sum(r**2) / sum(r), which has no gradient (backward raises). ``seed``:
    an int (the same draws on every call, as cypool's), a numpy or torch Generator (advanced by
    each call), or None (drawn from torch's global RNG, so ``torch.manual_seed`` governs it).
    return_indices (training only) also returns the sampled cells, flat per plane, as max
    pooling's indices.
    """
    with torch_errors():
        if not isinstance(training, bool):
            raise PoolingTypeError(f"training must be a bool, got training={training!r}")
        if not isinstance(return_indices, bool):
            raise PoolingTypeError(f"return_indices must be a bool, got "
                                   f"return_indices={return_indices!r}")
        if return_indices and not training:
            raise PoolingValueError("return_indices=True needs training=True (evaluation "
                                    "samples nothing)")
        check_seed(seed)
        seed = _call_seed(seed) if training else None
        y, idx = call("stochastic_pool", (_tensor(input),), (kernel_size, stride, training, seed))
    return (y, idx) if return_indices else y


def blur_pool2d(input, filt_size: int = 3, stride: IntOrTuple = 2) -> torch.Tensor:
    """``cypool.blur_pool2d`` on a tensor: anti-aliased downsampling (Zhang 2019), reflect
    padding then the normalised binomial filter of size filt_size (1..7) at ``stride``."""
    with torch_errors():
        return call("blur_pool", (_tensor(input),), (filt_size, positive_ints(stride, 2,
                                                                               "stride")))


def max_blur_pool2d(input, kernel_size: IntOrTuple = 2, filt_size: int = 3,
                    stride: IntOrTuple = 2) -> torch.Tensor:
    """``cypool.max_blur_pool2d`` on a tensor: max pooling (kernel_size, stride 1), then
    blur_pool2d(filt_size, stride) (Zhang 2019); each step one of the bridge's operators."""
    with torch_errors():
        cypool.binomial_filter(filt_size)
        dense = _max_pool(_tensor(input), 2, kernel_size, 1, 0, 1, False, False)
        return blur_pool2d(dense, filt_size, stride)


def spatial_pyramid_pool(input, levels: Sequence[int] = (4, 2, 1),
                         mode: str = "max") -> torch.Tensor:
    """``cypool.spatial_pyramid_pool`` on a tensor (He et al. 2014): adaptive ``mode`` pooling
    ('max' or 'avg') to l x l bins per level, flattened channel-major and concatenated:
    (N, C * sum(l*l)); each level one of the bridge's adaptive operators."""
    with torch_errors():
        levels, mode = check_levels(levels), check_mode(mode)
        x = _tensor(input)
        pool = adaptive_max_pool2d if mode == "max" else adaptive_avg_pool2d
        parts = [pool(x, (lv, lv)).flatten(x.dim() - 3) for lv in levels]
        return torch.cat(parts, x.dim() - 3)

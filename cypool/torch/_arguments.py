"""The functional forms' arguments: torch's normalisation of ints and tuples, and the checks of
cypool's own arguments (norm_type, seed, levels, mode), as the bridge's errors."""
from __future__ import annotations

import math
from typing import Any, List

import numpy as np
import torch

from ._convert import check_cpu
from ._errors import PoolingTypeError, PoolingValueError


def _tensor(t, name: str = "input") -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise PoolingTypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    check_cpu(t, name)
    return t


def _ints(v, rank: int) -> List[Any]:
    """torch's _single/_pair/_triple: an int is repeated; a sequence is passed on as it is
    (torch's own checks then name a wrong length or type)."""
    if isinstance(v, (list, tuple, torch.Size)):
        return list(v)
    return [v] * rank


def _stride(stride, kernel_size, rank):
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        return []
    return _ints(stride, rank)


def _padding(padding, rank):
    """(explicit padding, padding_mode): cypool's "same"/"valid" are a mode, torch's are ints."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise PoolingValueError(f"padding must be an int, a tuple of ints, 'same' or "
                                    f"'valid', got padding={padding!r}")
        return [0] * rank, padding
    return _ints(padding, rank), ""


def _output_size(x: torch.Tensor, output_size, rank: int) -> List[int]:
    """torch's rule: an int is repeated, None keeps the input's size on that axis."""
    sizes = _ints(output_size, rank)
    if len(sizes) == rank:
        sizes = [x.shape[x.dim() - rank + i] if v is None else v for i, v in enumerate(sizes)]
    return sizes


def check_norm_type(norm_type) -> None:
    """A real norm_type: finite and positive (cypool's Lp kernels), or +-inf (max of |x|)."""
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float, np.integer,
                                                                   np.floating)):
        raise PoolingTypeError(f"norm_type must be a real number, got "
                               f"norm_type={norm_type!r}")
    if not math.isinf(norm_type) and not norm_type > 0:
        raise PoolingValueError(f"norm_type must be positive (or +-inf), got "
                                f"norm_type={norm_type!r}")


def positive_ints(value, rank: int, name: str) -> tuple:
    """value as `rank` positive ints (an int is repeated), or the bridge's error naming it."""
    vals = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    if len(vals) != rank or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                    for v in vals):
        raise PoolingTypeError(f"{name} must be an int or a tuple of {rank} ints, got "
                               f"{name}={value!r}")
    if any(v < 1 for v in vals):
        raise PoolingValueError(f"{name} must be positive, got {name}={value!r}")
    return tuple(int(v) for v in vals)


def check_seed(seed) -> None:
    if seed is None or isinstance(seed, (np.random.Generator, torch.Generator)):
        return
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise PoolingTypeError(f"seed must be None, a non-negative int, a numpy.random.Generator "
                               f"or a torch.Generator, got seed={seed!r}")


def _call_seed(seed):
    """cypool's seed for one call. None and torch Generators give a seed drawn from torch's RNG,
    so that torch.manual_seed (or the Generator's own seed) makes a model reproducible, as it does
    for dropout; ints and NumPy Generators go to cypool unchanged."""
    if seed is None or isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**63 - 1, (), generator=seed))
    return seed


def check_levels(levels) -> tuple:
    if not isinstance(levels, (list, tuple)) or not levels:
        raise PoolingTypeError(f"levels must be a non-empty tuple of ints, got levels={levels!r}")
    return positive_ints(tuple(levels), len(levels), "levels")


def check_mode(mode) -> str:
    if mode not in ("max", "avg"):
        raise PoolingValueError(f"mode must be 'max' or 'avg', got mode={mode!r}")
    return mode

"""Tensors to NumPy and back: the memory handed to cypool, cypool's result given back.

A tensor's memory goes to cypool as a NumPy view (``Tensor.numpy()``: no copy) in the memory
format torch would compute in (torch's ``suggest_memory_format`` rule for every stride pattern);
cypool's result comes back as a tensor with exactly the strides of torch's result (a view when
cypool's result already has them, which is the ordinary case; one copy otherwise).

float16 and bfloat16 tensors go to the operators with half-precision kernels (max and average
pooling, forward and backward, and the index scatter of every max-type backward) as zero-copy
views: float16 as NumPy's float16, bfloat16 as ml_dtypes' bfloat16 (an int16 view of the memory
reinterpreted; without ml_dtypes, bfloat16 takes the float32 copy below). Those kernels read and
write 16 bits per value and compute in float32 with torch's rounding. Every other operator
computes them through a float32 copy, its result rounded back to the input's dtype once.
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import numpy as np
import torch

from ._errors import PoolingValueError

_HALF = (torch.float16, torch.bfloat16)


def check_cpu(t: torch.Tensor, name: str) -> None:
    if not (t.is_cpu or t.is_meta):
        raise PoolingValueError(
            f"cypool.torch runs on CPU tensors only; {name} is on device {t.device} (move it "
            f"with .cpu() or use torch's own pooling there)")


def _t(v):
    """A list argument as a tuple: cypool's call plans take plain ints and tuples of ints."""
    return tuple(v) if type(v) is list else v


@functools.lru_cache(maxsize=4096)
def _suggests_channels_last(shape, stride) -> bool:
    t = torch.empty_strided(shape, stride, device="meta")
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    return torch._prims_common.suggest_memory_format(t) == fmt


def channels_last(t: torch.Tensor, rank: int) -> bool:
    """Whether torch computes on t in channels-last memory: torch's suggest_memory_format for 4-d
    and 5-d tensors; a batched 1-d input of (N, L, C) memory (t.transpose(1, 2) of a contiguous
    tensor) likewise. Unbatched inputs are channels-first, as in torch."""
    if t.dim() != rank + 2:
        return False
    if t.dim() in (4, 5):
        fmt = torch.channels_last if t.dim() == 4 else torch.channels_last_3d
        dense_cf, dense_cl = t.is_contiguous(), t.is_contiguous(memory_format=fmt)
        if dense_cf != dense_cl:    # the common cases first: torch's rule is Python code
            return dense_cl
        try:    # remembered per shape and strides (symbolic sizes under a tracer are not)
            return _suggests_channels_last(tuple(t.shape), t.stride())
        except TypeError:
            return torch._prims_common.suggest_memory_format(t) == fmt
    return t.size(1) > 1 and t.size(2) > 1 and t.stride(1) < t.stride(2)


def in_format(t: torch.Tensor, cl: bool) -> torch.Tensor:
    """t in channels-first or channels-last dense memory (no copy when it already is)."""
    if not cl:
        return t.contiguous()
    if t.dim() == 3:
        return t.transpose(1, 2).contiguous().transpose(1, 2)
    fmt = torch.channels_last if t.dim() == 4 else torch.channels_last_3d
    return t.contiguous(memory_format=fmt)


def empty(shape: Sequence[int], dtype, device, cl: bool) -> torch.Tensor:
    """An uninitialised tensor of shape in channels-first or channels-last dense memory."""
    shape = tuple(shape)
    order = list(range(len(shape)))
    if cl:
        order = [0] + order[2:] + [1]
    strides, step = [0] * len(shape), 1
    for d in reversed(order):
        strides[d] = step
        step *= max(shape[d], 1)
    return torch.empty_strided(shape, strides, dtype=dtype, device=device)


@functools.lru_cache(maxsize=1)
def _bfloat16() -> Optional[np.dtype]:
    """ml_dtypes' bfloat16 NumPy dtype, or None without ml_dtypes (an optional dependency)."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def to_numpy(t: torch.Tensor, half: bool = False) -> np.ndarray:
    """A NumPy view of the tensor's memory. float16 / bfloat16: a view too when `half` (the
    operator's NumPy kernel reads them natively; bfloat16 needs ml_dtypes), else a float32 copy."""
    t = t.detach().resolve_conj().resolve_neg()
    if t.dtype in _HALF:
        if half and t.dtype == torch.float16:
            return t.numpy()
        if half and _bfloat16() is not None:
            return t.view(torch.int16).numpy().view(_bfloat16())
        t = t.float()
    return t.numpy()


def give_back(a: np.ndarray, ref: torch.Tensor) -> torch.Tensor:
    """cypool's result as a tensor with exactly ref's shape, strides and dtype: a view of the NumPy
    result when its memory order is ref's (strides of size-1 axes do not address anything), a
    copy otherwise."""
    a = np.asarray(a)
    bf16 = _bfloat16()
    if bf16 is not None and a.dtype == bf16:
        t = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    else:
        t = torch.from_numpy(a)
    if t.dtype != ref.dtype:
        t = t.to(ref.dtype)
    if tuple(t.shape) != tuple(ref.shape):
        raise AssertionError(f"cypool returned shape {tuple(t.shape)}, torch's rule gives "
                             f"{tuple(ref.shape)}")
    if t.stride() == ref.stride():
        return t
    if all(a == b for a, b, n in zip(t.stride(), ref.stride(), t.shape) if n > 1):
        return t.as_strided(ref.shape, ref.stride())
    out = torch.empty_strided(ref.shape, ref.stride(), dtype=ref.dtype)
    return out.copy_(t)


def _real(ref: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(ref.shape, ref.stride(), dtype=ref.dtype)


def _input_for(x: torch.Tensor, ref: torch.Tensor, rank: int) -> torch.Tensor:
    """x in the memory format of torch's result (one copy when x is dense in neither format,
    e.g. a channels_last tensor sliced along channels), so that cypool's result has it too."""
    cl = channels_last(ref, rank)
    if x.dim() != rank + 2:
        return x
    if channels_last(x, rank) == cl and (x.is_contiguous() or _dense_cl(x)):
        return x
    return in_format(x, cl)


def _dense_cl(t: torch.Tensor) -> bool:
    if t.dim() == 3:
        return t.transpose(1, 2).is_contiguous()
    fmt = torch.channels_last if t.dim() == 4 else torch.channels_last_3d
    return t.is_contiguous(memory_format=fmt)

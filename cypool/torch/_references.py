"""torch's rules without data: one `reference` per operator.

A reference runs torch's own operator on tensors without data (``device="meta"`` in eager mode,
fake tensors under torch.compile): torch itself checks the arguments (so the bridge refuses
exactly what torch refuses, with torch's message) and gives the shape and strides torch's result
would have. The kernels (_kernels.py) give cypool's result back with exactly that layout; the
references are also the custom ops' fake implementations (_ops.py).
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as _torch_functional

from .._plan import PlanCache
from ._convert import _HALF, channels_last, empty
from ._errors import PoolingNotImplementedError, PoolingValueError

# torch's own pooling functions, bound at import: a program (or a test) may route
# torch.nn.functional's names to this bridge, and the references must still be torch's.
F = type("TorchPooling", (), {name: staticmethod(getattr(_torch_functional, name)) for name in (
    *(f"{f}{r}d" for f in ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool",
                           "max_unpool", "lp_pool") for r in (1, 2, 3)),)})

_FRACTIONAL = {2: torch._C._nn.fractional_max_pool2d, 3: torch._C._nn.fractional_max_pool3d}

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
# torch's CPU dtypes per family (ATen's AT_DISPATCH lists); int64 average pooling (torch truncates
# the integer mean) has no cypool kernel and is refused rather than computed differently.
_DTYPES = {"max": _FLOATS + _INTS, "float": _FLOATS, "unpool": _FLOATS}
_TYPE_NAMES = {torch.bool: "Bool", torch.uint8: "Byte", torch.int8: "Char", torch.int16: "Short",
               torch.int32: "Int", torch.int64: "Long", torch.complex64: "ComplexFloat",
               torch.complex128: "ComplexDouble", torch.uint16: "UInt16",
               torch.uint32: "UInt32", torch.uint64: "UInt64"}


# ----------------------------------------------------------------------------- checks, the cache

def check_dtype(t: torch.Tensor, family: str, op: str) -> None:
    """torch's refusal of a dtype its CPU kernel lacks, in torch's words."""
    if t.dtype not in _DTYPES[family]:
        name = _TYPE_NAMES.get(t.dtype, str(t.dtype).replace("torch.", ""))
        raise PoolingNotImplementedError(f'"{op}" not implemented for \'{name}\'')


def _hashable(params: tuple) -> tuple:
    """The params as a cache key (lists, the only unhashable params, become tuples)."""
    return tuple(tuple(p) if type(p) is list else p for p in params)


def _references(fn, tensors, params) -> tuple:
    metas = [torch.empty_strided(shape, stride, dtype=dtype, device="meta")
             for shape, stride, dtype in tensors]
    out = fn(*metas, *params)
    return out if isinstance(out, tuple) else (out,)


# (fn, shapes/strides/dtypes, params) -> fn's data-less results, shared by the calls of that key
# (nothing writes to them); the bounded, thread-safe cache of cypool's call plans
_REFERENCES = PlanCache(4096)


def reference(fn, tensors, *params):
    """fn (one of the ref_* below) on data-less copies of tensors: torch's checks and the layout
    of torch's results, remembered per shapes, strides, dtypes and params (a small call would
    otherwise spend most of its time in torch's meta kernels; errors are never remembered: a
    refused call is checked, and refused, again every time). Only plain meta tensors are
    remembered: under a tracer (fake tensors, symbolic sizes) every call asks fn."""
    shapes = tuple((tuple(t.shape), t.stride(), t.dtype) for t in tensors)
    try:
        key = (fn, shapes, _hashable(params))
        outs = _REFERENCES.get(key)
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise
        key = outs = None
    if outs is None:
        outs = _references(fn, shapes, params)
        if all(type(o) is torch.Tensor and o.is_meta for o in outs):
            _REFERENCES.add(key, outs)
    return outs if len(outs) > 1 else outs[0]

def _ntuple(v, rank: int) -> List[int]:
    return list(v) if isinstance(v, (list, tuple)) else [v] * rank


# ----------------------------------------------------------------------------- geometry for
# cypool's string paddings, which torch lacks (Keras/TensorFlow SAME and VALID)

def _string_padding_sizes(x, rank, kernel_size, stride, dilation, padding_mode):
    spatial = x.shape[-rank:]
    k, s, d = _ntuple(kernel_size, rank), _ntuple(stride or kernel_size, rank), \
        _ntuple(dilation, rank)
    if padding_mode == "same":
        return [-(-L // st) for L, st in zip(spatial, s)]
    return [(L - dd * (kk - 1) - 1) // st + 1 for L, kk, st, dd in zip(spatial, k, s, d)]


def _string_padding_ref(x, rank, sizes, cl_of=None):
    shape = tuple(x.shape[:-rank]) + tuple(sizes)
    if any(v <= 0 for v in sizes):
        raise PoolingValueError(f"Given input size {tuple(x.shape)}, the calculated output size "
                                f"{shape} is too small")
    return empty(shape, x.dtype, x.device, channels_last(x, rank))


# ----------------------------------------------------------------------------- references

def ref_max_pool(x, rank: int, kernel_size, stride, padding, dilation, ceil_mode: bool,
                 padding_mode: str, return_indices: bool):
    """torch's max_pool{rank}d on data-less x: its checks, and its (values, indices) layout.
    return_indices: whether torch would compute indices (asked for, or x needs a gradient)."""
    check_dtype(x, "max", f"max_pool{rank}d")
    if padding_mode:
        y = _string_padding_ref(x, rank, _string_padding_sizes(x, rank, kernel_size, stride,
                                                               dilation, padding_mode))
        return y, torch.empty_like(y, dtype=torch.int64)
    fn = getattr(F, f"max_pool{rank}d")
    if return_indices or rank > 1:
        return fn(x, kernel_size, stride or None, padding, dilation, ceil_mode, True)
    # torch's 1-d max pooling of an input that needs no gradient and no indices has a path of
    # its own (max_pool1d_impl): a channels-first result, and empty inputs taken
    if x.numel() == 0:
        y = fn(x, kernel_size, stride or None, padding, dilation, ceil_mode, False)
    else:
        y = fn(x, kernel_size, stride or None, padding, dilation, ceil_mode, True)[0]
    y = empty(y.shape, y.dtype, y.device, False)
    return y, torch.empty_like(y, dtype=torch.int64)


def _refuse_half_avg3d(x, rank: int) -> None:
    # torch's CPU avg_pool3d (lp_pool3d's too) has no half-precision kernel: refuse as it does
    if rank == 3 and x.dtype in _HALF:
        name = "Half" if x.dtype == torch.float16 else "BFloat16"
        raise PoolingNotImplementedError(f'"avg_pool3d_out_frame" not implemented for \'{name}\'')


def ref_avg_pool(x, rank: int, kernel_size, stride, padding, ceil_mode: bool,
                 count_include_pad: bool, divisor_override: Optional[int], padding_mode: str):
    check_dtype(x, "float", f"avg_pool{rank}d")
    _refuse_half_avg3d(x, rank)
    if padding_mode:
        return _string_padding_ref(x, rank, _string_padding_sizes(x, rank, kernel_size, stride, 1,
                                                                  padding_mode))
    fn = getattr(F, f"avg_pool{rank}d")
    if rank == 1:
        return fn(x, kernel_size, stride or None, padding, ceil_mode, count_include_pad)
    return fn(x, kernel_size, stride or None, padding, ceil_mode, count_include_pad,
              divisor_override)


def ref_adaptive_avg_pool(x, rank: int, output_size):
    check_dtype(x, "float", f"adaptive_avg_pool{rank}d")
    return getattr(F, f"adaptive_avg_pool{rank}d")(x, output_size)


def ref_adaptive_max_pool(x, rank: int, output_size):
    check_dtype(x, "float", f"adaptive_max_pool{rank}d")
    return getattr(F, f"adaptive_max_pool{rank}d")(x, output_size, True)


def ref_max_unpool(x, indices, rank: int, kernel_size, stride, padding, output_size):
    check_dtype(x, "unpool", f"max_unpool{rank}d")
    ref = getattr(F, f"max_unpool{rank}d")(x, indices, kernel_size, stride or None, padding,
                                           output_size)
    # torch's CPU kernel writes in the input's memory format (its meta kernel does not say so)
    return empty(ref.shape, ref.dtype, ref.device, channels_last(x, rank))


def ref_lp_pool(x, rank: int, norm_type: float, kernel_size, stride, ceil_mode: bool):
    check_dtype(x, "float", f"lp_pool{rank}d")
    _refuse_half_avg3d(x, rank)
    # torch's lp_pool1d multiplies by kernel_size itself: an int there
    ks = kernel_size[0] if rank == 1 and len(kernel_size) == 1 else tuple(kernel_size)
    return getattr(F, f"lp_pool{rank}d")(x, norm_type, ks, stride or None, ceil_mode)


def ref_fractional_max_pool(x, samples, rank: int, kernel_size, output_size):
    name = f"fractional_max_pool{rank}d"
    check_dtype(x, "float", name)
    # torch's CPU kernel's words (its meta kernel words these checks differently or skips them)
    tail = "tuple of Ints" if rank == 2 else "tuple of three Ints"
    for arg, value in (("kernel_size", kernel_size), ("output_size", output_size)):
        if len(value) != rank:
            raise PoolingValueError(f"{name}: {arg} must either be a single Int or {tail}")
    n = x.size(0) if x.dim() == rank + 2 else 1
    if samples.dim() == 3 and samples.size(0) < n and x.numel() > 0:
        raise PoolingValueError("Expect _random_samples.size(0) no less then input batch size.")
    return _FRACTIONAL[rank](x, kernel_size, output_size, samples)


def ref_grad_input(grad, input_shape, cl: bool, op: str, nonempty: bool = False):
    """The layout of an input gradient: the input's memory format, as torch's backward kernels."""
    check_dtype(grad, "float", op)
    if nonempty:
        # torch checks every dimension but the first (batched or not)
        if any(n == 0 for n in grad.shape[1:]):
            raise PoolingValueError(f"{op}(): Expected grad_output to have non-zero size for "
                                    f"non-batch dimensions, but grad_output has sizes "
                                    f"{list(grad.shape)} with dimension")
    return empty(input_shape, grad.dtype, grad.device, cl)


def ref_gather(source, indices, cl: bool):
    check_dtype(source, "float", "max_pool_double_backward")
    return empty(indices.shape, source.dtype, source.device, cl)

# ----------------------------------------------------------------------------- cypool's own
# strategies (torch has no reference: their checks are cypool's, raised as the bridge's errors)

def _own_ref(x, shape, cl):
    check_dtype(x, "float", "cypool")
    return empty(shape, x.dtype, x.device, cl)


def ref_blur_pool(x, filt_size, stride):
    """Reflect padding keeps the size; the stride gives ceil(L / stride) per axis."""
    shape = (*x.shape[:-2], *(-(-L // s) for L, s in zip(x.shape[-2:], stride)))
    return _own_ref(x, shape, channels_last(x, 2))

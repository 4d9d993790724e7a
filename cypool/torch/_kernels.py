"""The bridge's kernels: one function per operator that runs cypool's public NumPy function on a
CPU tensor's memory, and one `reference` per operator that states torch's rules for it.

A reference runs torch's own operator on tensors without data (``device="meta"`` in eager mode,
fake tensors under torch.compile): torch itself checks the arguments (so the bridge refuses
exactly what torch refuses, with torch's message) and gives the shape and strides torch's result
would have (torch's ``suggest_memory_format`` rule for every stride pattern). The kernel then
hands the tensor's memory to cypool (``Tensor.numpy()``: no copy) in that memory format and gives
back cypool's result as a tensor with exactly those strides (a view when cypool's result already
has them, which is the ordinary case; one copy otherwise).

float16 and bfloat16 tensors go to the operators with half-precision kernels (max and average
pooling, forward and backward, and the index scatter of every max-type backward) as zero-copy
views: float16 as NumPy's float16, bfloat16 as ml_dtypes' bfloat16 (an int16 view of the memory
reinterpreted; without ml_dtypes, bfloat16 takes the float32 copy below). Those kernels read and
write 16 bits per value and compute in float32 with torch's rounding. Every other operator
computes them through a float32 copy, its result rounded back to the input's dtype once.
"""
from __future__ import annotations

import functools
import math
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as _torch_functional

import cypool
import cypool.fractional

from ._errors import PoolingNotImplementedError, PoolingValueError

# torch's own pooling functions, bound at import: a program (or a test) may route
# torch.nn.functional's names to this bridge, and the references must still be torch's.
F = type("TorchPooling", (), {name: staticmethod(getattr(_torch_functional, name)) for name in (
    *(f"{f}{r}d" for f in ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool",
                           "max_unpool", "lp_pool") for r in (1, 2, 3)),)})

_FRACTIONAL = {2: torch._C._nn.fractional_max_pool2d, 3: torch._C._nn.fractional_max_pool3d}

_HALF = (torch.float16, torch.bfloat16)
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
# torch's CPU dtypes per family (ATen's AT_DISPATCH lists); int64 average pooling (torch truncates
# the integer mean) has no cypool kernel and is refused rather than computed differently.
_DTYPES = {"max": _FLOATS + _INTS, "float": _FLOATS, "unpool": _FLOATS}
_TYPE_NAMES = {torch.bool: "Bool", torch.uint8: "Byte", torch.int8: "Char", torch.int16: "Short",
               torch.int32: "Int", torch.int64: "Long", torch.complex64: "ComplexFloat",
               torch.complex128: "ComplexDouble", torch.uint16: "UInt16",
               torch.uint32: "UInt32", torch.uint64: "UInt64"}


# ----------------------------------------------------------------------------- checks, layout

def check_dtype(t: torch.Tensor, family: str, op: str) -> None:
    """torch's refusal of a dtype its CPU kernel lacks, in torch's words."""
    if t.dtype not in _DTYPES[family]:
        name = _TYPE_NAMES.get(t.dtype, str(t.dtype).replace("torch.", ""))
        raise PoolingNotImplementedError(f'"{op}" not implemented for \'{name}\'')


def check_cpu(t: torch.Tensor, name: str) -> None:
    if not (t.is_cpu or t.is_meta):
        raise PoolingValueError(
            f"cypool.torch runs on CPU tensors only; {name} is on device {t.device} (move it "
            f"with .cpu() or use torch's own pooling there)")


def _hashable(params: tuple) -> tuple:
    """The params as a cache key (lists, the only unhashable params, become tuples)."""
    return tuple(tuple(p) if type(p) is list else p for p in params)


def _t(v):
    """A list argument as a tuple: cypool's call plans take plain ints and tuples of ints."""
    return tuple(v) if type(v) is list else v


def _references(fn, tensors, params) -> tuple:
    metas = [torch.empty_strided(shape, stride, dtype=dtype, device="meta")
             for shape, stride, dtype in tensors]
    out = fn(*metas, *params)
    return out if isinstance(out, tuple) else (out,)


# (fn, shapes/strides/dtypes, params) -> fn's data-less results, shared by the calls of that key
# (nothing writes to them); bounded: cleared when full
_REFERENCES: dict = {}
_MAX_REFERENCES = 4096


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
        if key is not None and all(type(o) is torch.Tensor and o.is_meta for o in outs):
            if len(_REFERENCES) >= _MAX_REFERENCES:
                _REFERENCES.clear()
            _REFERENCES[key] = outs
    return outs if len(outs) > 1 else outs[0]


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


# ----------------------------------------------------------------------------- kernels

def _empty_out(ref):
    return ref.numel() == 0


def max_pool(x, rank, kernel_size, stride, padding, dilation, ceil_mode, padding_mode,
             return_indices):
    y_ref, i_ref = reference(ref_max_pool, (x,), rank, kernel_size, stride, padding, dilation,
                             ceil_mode, padding_mode, return_indices)
    if _empty_out(y_ref):
        return _real(y_ref), _real(i_ref)
    pad = padding_mode or padding
    y, idx = getattr(cypool, f"max_pool{rank}d")(
        to_numpy(_input_for(x, y_ref, rank), half=True), _t(kernel_size), _t(stride) or None,
        _t(pad), _t(dilation), ceil_mode, return_indices=True)
    return give_back(y, y_ref), give_back(idx, i_ref)


def avg_pool(x, rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
             divisor_override, padding_mode):
    ref = reference(ref_avg_pool, (x,), rank, kernel_size, stride, padding, ceil_mode,
                    count_include_pad, divisor_override, padding_mode)
    if _empty_out(ref):
        return _real(ref)
    kw = {} if divisor_override is None else {"divisor_override": divisor_override}
    y = getattr(cypool, f"avg_pool{rank}d")(
        to_numpy(_input_for(x, ref, rank), half=True), _t(kernel_size), _t(stride) or None,
        padding_mode or _t(padding), ceil_mode, count_include_pad, **kw)
    return give_back(y, ref)


def adaptive_avg_pool(x, rank, output_size):
    ref = reference(ref_adaptive_avg_pool, (x,), rank, output_size)
    if _empty_out(ref):
        return _real(ref)
    y = getattr(cypool, f"adaptive_avg_pool{rank}d")(to_numpy(_input_for(x, ref, rank)),
                                                      tuple(output_size))
    return give_back(y, ref)


def adaptive_max_pool(x, rank, output_size):
    y_ref, i_ref = reference(ref_adaptive_max_pool, (x,), rank, output_size)
    if _empty_out(y_ref):
        return _real(y_ref), _real(i_ref)
    y, idx = getattr(cypool, f"adaptive_max_pool{rank}d")(
        to_numpy(_input_for(x, y_ref, rank)), tuple(output_size), return_indices=True)
    return give_back(y, y_ref), give_back(idx, i_ref)


def max_unpool(x, indices, rank, kernel_size, stride, padding, output_size):
    ref = reference(ref_max_unpool, (x, indices,), rank, kernel_size, stride, padding, output_size)
    if _empty_out(ref):
        return _real(ref)
    if x.numel() == 0:
        return _real(ref).zero_()
    cl = ref.dim() == rank + 2 and channels_last(x, rank)
    xs, ids = in_format(x, cl), in_format(indices, cl)
    try:
        y = getattr(cypool, f"max_unpool{rank}d")(
            to_numpy(xs), ids.numpy(), kernel_size, stride or None, padding,
            tuple(ref.shape[-rank:]))
    except ValueError as exc:
        _raise_invalid_index(indices, ref.shape[-rank:], exc)
        raise
    return give_back(y, ref)


def _raise_invalid_index(indices, spatial, exc):
    """torch's wording for an index outside the output plane."""
    limit = math.prod(spatial)
    bad = indices[(indices < 0) | (indices >= limit)]
    if bad.numel():
        raise PoolingValueError(
            f"Found an invalid max index: {int(bad.flatten()[0])} (output volumes are of size "
            f"{'x'.join(str(int(v)) for v in spatial)}") from exc


def _samples_numpy(samples: torch.Tensor) -> np.ndarray:
    """The samples in the dtype torch computes the window starts in (its scalar type): float16
    as NumPy's float16, bfloat16 as ml_dtypes' bfloat16 (without ml_dtypes the starts could not
    be rounded as torch rounds them, so the call is refused rather than answered differently)."""
    if samples.dtype == torch.bfloat16:
        try:
            import ml_dtypes
        except ImportError:
            raise PoolingNotImplementedError(
                "fractional max pooling of bfloat16 tensors needs ml_dtypes (pip install "
                "ml_dtypes, or the torch extra: pip install \"cypool[torch]\")") from None
        return samples.float().numpy().astype(ml_dtypes.bfloat16)
    if samples.dtype == torch.float16:
        return samples.numpy()
    return samples.detach().numpy()


def fractional_max_pool(x, samples, rank, kernel_size, output_size):
    y_ref, i_ref = reference(ref_fractional_max_pool, (x, samples,), rank, kernel_size,
                             output_size)
    if _empty_out(y_ref):
        return _real(y_ref), _real(i_ref)
    n = x.size(0) if x.dim() == rank + 2 else 1
    y, idx = getattr(cypool.fractional, f"fractional_max_pool{rank}d")(
        to_numpy(x), tuple(kernel_size), tuple(output_size),
        random_samples=_samples_numpy(samples.detach()[:n]), return_indices=True)
    return give_back(y, y_ref), give_back(idx, i_ref)


def max_pool_backward(grad, indices, input_shape, rank, cl):
    """Scatter-add of grad at indices into an input-shaped zero tensor (max pooling's, adaptive
    max pooling's and stochastic pooling's backward)."""
    ref = reference(ref_grad_input, (grad,), input_shape, cl, f"max_pool{rank}d_backward")
    if _empty_out(ref):
        return _real(ref)
    if grad.numel() == 0:
        return _real(ref).zero_()
    gx = getattr(cypool, f"max_pool{rank}d_backward")(
        to_numpy(in_format(grad, cl), half=True), in_format(indices, cl).numpy(),
        tuple(input_shape))
    return give_back(gx, ref)


def gather(source, indices, rank, cl):
    """source's values at indices, flat per plane (max unpooling's backward; the adjoint of the
    scatter-add above, hence max pooling's double backward)."""
    ref = reference(ref_gather, (source, indices,), cl)
    if _empty_out(ref):
        return _real(ref)
    y = getattr(cypool, f"max_unpool{rank}d_backward")(to_numpy(in_format(source, cl)),
                                                        in_format(indices, cl).numpy())
    return give_back(y, ref)


def avg_pool_backward(grad, input_shape, rank, kernel_size, stride, padding, ceil_mode,
                      count_include_pad, divisor_override, padding_mode, cl):
    ref = reference(ref_grad_input, (grad,), input_shape, cl, f"avg_pool{rank}d_backward")
    if _empty_out(ref):
        return _real(ref)
    if grad.numel() == 0:
        return _real(ref).zero_()
    kw = {} if divisor_override is None else {"divisor_override": divisor_override}
    gx = getattr(cypool, f"avg_pool{rank}d_backward")(
        to_numpy(in_format(grad, cl), half=True), tuple(input_shape), _t(kernel_size),
        _t(stride) or None, padding_mode or _t(padding), ceil_mode, count_include_pad, **kw)
    return give_back(gx, ref)


def adaptive_avg_pool_backward(grad, input_shape, rank, cl):
    ref = reference(ref_grad_input, (grad,), input_shape, cl, f"adaptive_avg_pool{rank}d_backward",
                    True)
    if _empty_out(ref):
        return _real(ref)
    gx = getattr(cypool, f"adaptive_avg_pool{rank}d_backward")(to_numpy(in_format(grad, cl)),
                                                               tuple(input_shape))
    return give_back(gx, ref)


def adaptive_max_pool_backward(grad, indices, input_shape, rank, cl):
    ref = reference(ref_grad_input, (grad,), input_shape, cl, f"adaptive_max_pool{rank}d_backward",
                    True)
    if _empty_out(ref):
        return _real(ref)
    gx = getattr(cypool, f"adaptive_max_pool{rank}d_backward")(
        to_numpy(in_format(grad, cl), half=True), in_format(indices, cl).numpy(),
        tuple(input_shape))
    return give_back(gx, ref)


def lp_pool(x, rank, norm_type, kernel_size, stride, ceil_mode):
    ref = reference(ref_lp_pool, (x,), rank, norm_type, kernel_size, stride, ceil_mode)
    if _empty_out(ref):
        return _real(ref)
    y = getattr(cypool, f"lp_pool{rank}d")(to_numpy(_input_for(x, ref, rank)), norm_type,
                                            kernel_size, stride or None, ceil_mode)
    return give_back(y, ref)


def lp_pool_backward(grad, x, rank, norm_type, kernel_size, stride, ceil_mode, cl):
    ref = reference(ref_grad_input, (grad,), x.shape, cl, f"lp_pool{rank}d_backward")
    if _empty_out(ref):
        return _real(ref)
    gx = getattr(cypool, f"lp_pool{rank}d_backward")(
        to_numpy(in_format(grad, cl)), to_numpy(in_format(x, cl)), norm_type, kernel_size,
        stride or None, ceil_mode)
    return give_back(gx, ref)


# ----------------------------------------------------------------------------- cypool's own
# strategies (torch has no reference: their checks are cypool's, raised as the bridge's errors)

def _own_ref(x, shape, cl):
    check_dtype(x, "float", "cypool")
    return empty(shape, x.dtype, x.device, cl)


def ref_blur_pool(x, filt_size, stride):
    """Reflect padding keeps the size; the stride gives ceil(L / stride) per axis."""
    shape = (*x.shape[:-2], *(-(-L // s) for L, s in zip(x.shape[-2:], stride)))
    return _own_ref(x, shape, channels_last(x, 2))


def blur_pool(x, filt_size, stride):
    cl = channels_last(x, 2)
    y = cypool.blur_pool2d(to_numpy(in_format(x, cl) if x.dim() == 4 else x.contiguous()),
                           filt_size, tuple(stride))
    return give_back(y, _own_ref(x, y.shape, cl))


def blur_pool_backward(grad, input_shape, filt_size, stride, cl):
    gx = cypool.blur_pool2d_backward(to_numpy(in_format(grad, cl) if grad.dim() == 4 else grad),
                                     tuple(input_shape), filt_size, tuple(stride))
    return give_back(gx, _own_ref(grad, input_shape, cl))


def stochastic_pool(x, kernel_size, stride, training, seed):
    """(values, sampled indices) in training; (probability-weighted values, empty) otherwise."""
    cl = channels_last(x, 2)
    xn = to_numpy(in_format(x, cl) if x.dim() == 4 else x.contiguous())
    if not training:
        y = cypool.stochastic_pool2d(xn, kernel_size, stride, False)
        return give_back(y, _own_ref(x, y.shape, cl)), torch.empty(0, dtype=torch.int64)
    y, idx = cypool.stochastic_pool2d(xn, kernel_size, stride, True, seed, return_indices=True)
    ref = _own_ref(x, y.shape, cl)
    return give_back(y, ref), give_back(idx, torch.empty_like(ref, dtype=torch.int64))

"""The bridge's kernels: one function per operator that runs cypool's public NumPy function on a
CPU tensor's memory.

Each kernel asks its operator's reference (_references.py: torch's checks and the shape and
strides of torch's result), hands the input's memory to cypool in the memory format of that
result and gives cypool's result back with exactly the reference's strides (_convert.py).
"""
from __future__ import annotations

import math

import numpy as np
import torch

import cypool
import cypool.fractional

from ._convert import _input_for, _real, _t, channels_last, give_back, in_format, to_numpy
from ._errors import PoolingNotImplementedError, PoolingValueError
from ._references import (_own_ref, ref_adaptive_avg_pool, ref_adaptive_max_pool, ref_avg_pool,
                          ref_fractional_max_pool, ref_gather, ref_grad_input, ref_lp_pool,
                          ref_max_pool, ref_max_unpool, reference)


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
# strategies (their references, _own_ref, check cypool's rules)

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

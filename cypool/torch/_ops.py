"""The table of the bridge's operators and their registration as torch.library custom ops.

Each `Op` names its kernel (_kernels.py), its fake implementation (_references.py) and its
derivative rules. The rules are written with `call`, i.e. with other operators of this table, so
every derivative is itself differentiable: max pooling's backward is a scatter-add by the indices
(`max_pool_backward`), whose backward is the gather by the same indices (`gather`), whose backward
is the scatter-add again; average pooling's backward (`avg_pool_backward`) has average pooling as
its backward; and so on, to any order.

Every Op with a schema becomes ``torch.ops.cypool.<name>``: its CPU kernel the Op's kernel, its
fake implementation the Op's reference, its autograd kernel and its vmap rule PoolFunction's
(_function.py).
"""
from __future__ import annotations

import math

import torch
from torch._functorch.utils import enable_single_level_autograd_function

from . import _kernels as K
from . import _references as R
from ._errors import PoolingError, torch_errors
from ._function import OPS, Op, Saved, _apply_here, _differentiating, _vmap, call


def _register(op: Op) -> Op:
    OPS[op.name] = op
    return op


# ----------------------------------------------------------------------------- the table
# Params follow the kernel's signature after the tensors (see _kernels.py); each Op's fake
# implementation is its reference (_references.py).

# max pooling: (x; rank, kernel_size, stride, padding, dilation, ceil_mode, padding_mode,
# return_indices) -> (values, indices)
_register(Op(
    "max_pool", K.max_pool, R.ref_max_pool, indices_out=True, keep_out=(1,),
    vjp=lambda s, g: (call("max_pool_backward", (g[0], s.outputs[1]),
                           (list(s.shapes[0]), s.params[0], s.cl)),),
    jvp=lambda s, t: (call("gather", (t[0], s.outputs[1]), (s.params[0], s.cl)), None),
    schema="int rank, int[] kernel_size, int[] stride, int[] padding, int[] dilation, "
           "bool ceil_mode, str padding_mode, bool return_indices"))

# fractional max pooling (x, samples; rank, kernel_size, output_size) -> (values, indices):
# the derivatives of max pooling (scatter-add, gather by the indices)
_register(Op(
    "fractional_max_pool", K.fractional_max_pool, R.ref_fractional_max_pool, n_tensors=2,
    indices_out=True, keep_out=(1,),
    vjp=lambda s, g: (call("max_pool_backward", (g[0], s.outputs[1]),
                           (list(s.shapes[0]), s.params[0], s.cl)), None),
    jvp=lambda s, t: (call("gather", (t[0], s.outputs[1]), (s.params[0], s.cl)), None),
    schema="int rank, int[] kernel_size, int[] output_size"))

# scatter-add by indices (grad, indices; input_shape, rank, channels_last)
_register(Op(
    "max_pool_backward", K.max_pool_backward,
    lambda g, i, shape, rank, cl: R.ref_grad_input(g, shape, cl, f"max_pool{rank}d_backward"),
    n_tensors=2, keep_in=(1,), rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("gather", (g[0], s.inputs[1]), (s.params[1], s.params[2])), None),
    jvp=lambda s, t: (call("max_pool_backward", (t[0], s.inputs[1]), s.params),),
    schema="int[] input_shape, int rank, bool channels_last"))

# gather by indices (source, indices; rank, channels_last)
_register(Op(
    "gather", K.gather, lambda src, i, rank, cl: R.ref_gather(src, i, cl),
    n_tensors=2, keep_in=(1,),
    vjp=lambda s, g: (call("max_pool_backward", (g[0], s.inputs[1]),
                           (list(s.shapes[0]), s.params[0], s.params[1])), None),
    jvp=lambda s, t: (call("gather", (t[0], s.inputs[1]), s.params),),
    schema="int rank, bool channels_last"))

# average pooling: (x; rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
# divisor_override, padding_mode)
_register(Op(
    "avg_pool", K.avg_pool, R.ref_avg_pool,
    vjp=lambda s, g: (call("avg_pool_backward", (g[0],),
                           (list(s.shapes[0]), *s.params, s.cl)),),
    jvp=lambda s, t: (call("avg_pool", (t[0],), s.params),),
    schema="int rank, int[] kernel_size, int[] stride, int[] padding, bool ceil_mode, "
           "bool count_include_pad, int? divisor_override, str padding_mode"))

_register(Op(
    "avg_pool_backward", K.avg_pool_backward,
    lambda g, shape, rank, *rest: R.ref_grad_input(g, shape, rest[-1],
                                                   f"avg_pool{rank}d_backward"),
    rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("avg_pool", (g[0],), s.params[1:-1]),),
    jvp=lambda s, t: (call("avg_pool_backward", (t[0],), s.params),),
    schema="int[] input_shape, int rank, int[] kernel_size, int[] stride, int[] padding, "
           "bool ceil_mode, bool count_include_pad, int? divisor_override, str padding_mode, "
           "bool channels_last"))

# adaptive average pooling: (x; rank, output_size)
_register(Op(
    "adaptive_avg_pool", K.adaptive_avg_pool, R.ref_adaptive_avg_pool,
    vjp=lambda s, g: (call("adaptive_avg_pool_backward", (g[0],),
                           (list(s.shapes[0]), s.params[0], s.cl)),),
    jvp=lambda s, t: (call("adaptive_avg_pool", (t[0],), s.params),),
    schema="int rank, int[] output_size"))

_register(Op(
    "adaptive_avg_pool_backward", K.adaptive_avg_pool_backward,
    lambda g, shape, rank, cl: R.ref_grad_input(g, shape, cl,
                                                f"adaptive_avg_pool{rank}d_backward", True),
    rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("adaptive_avg_pool", (g[0],),
                           (s.params[1], list(s.shapes[0][-s.params[1]:]))),),
    jvp=lambda s, t: (call("adaptive_avg_pool_backward", (t[0],), s.params),),
    schema="int[] input_shape, int rank, bool channels_last"))

# adaptive max pooling: (x; rank, output_size) -> (values, indices)
_register(Op(
    "adaptive_max_pool", K.adaptive_max_pool, R.ref_adaptive_max_pool, indices_out=True,
    keep_out=(1,),
    vjp=lambda s, g: (call("adaptive_max_pool_backward", (g[0], s.outputs[1]),
                           (list(s.shapes[0]), s.params[0], s.cl)),),
    jvp=lambda s, t: (call("gather", (t[0], s.outputs[1]), (s.params[0], s.cl)), None),
    schema="int rank, int[] output_size"))

_register(Op(
    "adaptive_max_pool_backward", K.adaptive_max_pool_backward,
    lambda g, i, shape, rank, cl: R.ref_grad_input(g, shape, cl,
                                                   f"adaptive_max_pool{rank}d_backward", True),
    n_tensors=2, keep_in=(1,), rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("gather", (g[0], s.inputs[1]), (s.params[1], s.params[2])), None),
    jvp=lambda s, t: (call("adaptive_max_pool_backward", (t[0], s.inputs[1]), s.params),),
    schema="int[] input_shape, int rank, bool channels_last"))

# max unpooling: (x, indices; rank, kernel_size, stride, padding, output_size); its backward
# is the gather by the indices, as torch's
_register(Op(
    "max_unpool", K.max_unpool, R.ref_max_unpool, n_tensors=2, keep_in=(1,),
    vjp=lambda s, g: (call("gather", (g[0], s.inputs[1]), (s.params[0], s.cl)), None),
    jvp=lambda s, t: (call("max_unpool", (t[0], s.inputs[1]), s.params),),
    schema="int rank, int[] kernel_size, int[] stride, int[] padding, int[] output_size"))


# Lp pooling: y = (K * avg_pool(x ** p)) ** (1 / p), K the window's cell count (torch's
# definition). cypool's Lp kernels compute y and its first derivative; the higher derivatives
# below are that formula's, written with the average-pooling operators (A, its adjoint A^T):
#   backward  gx = x^(p-1) * K A^T(g * y^(1-p))
#   jvp       dy = y^(1-p) * K A(x^(p-1) * dx)
def _lp_parts(s: Saved, x: torch.Tensor):
    rank, p, ks, stride, ceil_mode = s.params[:5]
    window = math.prod(ks)
    avg = (rank, ks, stride, [0] * rank, ceil_mode, True, None, "")
    a = lambda v: call("avg_pool", (v,), avg) * window                      # noqa: E731
    at = lambda v: call("avg_pool_backward", (v,), (list(x.shape), *avg, s.cl)) * window  # noqa
    y = call("lp_pool", (x,), s.params[:5])
    return p, a, at, y


def _lp_jvp(s: Saved, t):
    x = s.inputs[0]
    p, a, _, y = _lp_parts(s, x)
    return (y.pow(1 - p) * a(x.pow(p - 1) * t[0]),)


def _lp_backward_vjp(s: Saved, g):
    """Second derivatives of Lp pooling: gx = G(grad, x) above, differentiated in both."""
    grad, x = s.inputs[0], s.inputs[1]
    gg = g[0]
    p, a, at, y = _lp_parts(s, x)
    w = a(x.pow(p - 1) * gg)
    d_grad = y.pow(1 - p) * w
    d_x = call("lp_pool_backward", ((1 - p) * grad * y.pow(-p) * w, x), s.params)
    if p != 1:
        d_x = d_x + (p - 1) * x.pow(p - 2) * at(grad * y.pow(1 - p)) * gg
    return d_grad, d_x


def _lp_backward_jvp(s: Saved, t):
    grad, x = s.inputs[0], s.inputs[1]
    tg, tx = t
    p, a, at, y = _lp_parts(s, x)
    out = call("lp_pool_backward", (tg, x), s.params) if tg is not None else 0
    if tx is not None:
        dy = y.pow(1 - p) * a(x.pow(p - 1) * tx)
        out = out + x.pow(p - 1) * at(grad * (1 - p) * y.pow(-p) * dy)
        if p != 1:
            out = out + (p - 1) * x.pow(p - 2) * tx * at(grad * y.pow(1 - p))
    return (out,)


# (x; rank, norm_type, kernel_size, stride, ceil_mode), finite norm_type > 0
_register(Op(
    "lp_pool", K.lp_pool, R.ref_lp_pool, keep_in=(0,),
    vjp=lambda s, g: (call("lp_pool_backward", (g[0], s.inputs[0]), (*s.params, s.cl)),),
    jvp=_lp_jvp,
    schema="int rank, float norm_type, int[] kernel_size, int[] stride, bool ceil_mode"))

# (grad, x; rank, norm_type, kernel_size, stride, ceil_mode, channels_last)
_register(Op(
    "lp_pool_backward", K.lp_pool_backward,
    lambda g, x, rank, *rest: R.ref_grad_input(g, x.shape, rest[-1], f"lp_pool{rank}d_backward"),
    n_tensors=2, keep_in=(0, 1), vjp=_lp_backward_vjp, jvp=_lp_backward_jvp,
    schema="int rank, float norm_type, int[] kernel_size, int[] stride, bool ceil_mode, "
           "bool channels_last"))

# blur pooling (x; filt_size, stride): linear, its adjoint is blur_pool_backward
_register(Op(
    "blur_pool", K.blur_pool, R.ref_blur_pool, rank_at=None,
    vjp=lambda s, g: (call("blur_pool_backward", (g[0],), (list(s.shapes[0]), *s.params, s.cl)),),
    jvp=lambda s, t: (call("blur_pool", (t[0],), s.params),),
    schema="int filt_size, int[] stride"))

_register(Op(
    "blur_pool_backward", K.blur_pool_backward,
    lambda g, shape, f, st, cl: R._own_ref(g, shape, cl), rank_at=None, shape_params=(0,),
    vjp=lambda s, g: (call("blur_pool", (g[0],), s.params[1:3]),),
    jvp=lambda s, t: (call("blur_pool_backward", (t[0],), s.params),),
    schema="int[] input_shape, int filt_size, int[] stride, bool channels_last"))


# stochastic pooling (x; kernel_size, stride, training, seed): in training the gradient goes to
# the sampled cell (max pooling's scatter-add and gather); evaluation has no gradient
def _stochastic_vjp(s: Saved, g):
    training = s.params[2]
    if not training:
        # raised in backward, not in forward: evaluating a model without torch.no_grad() builds
        # a graph that is never differentiated, and must keep working
        raise PoolingError(
            "cypool's stochastic pooling has no gradient in evaluation mode (training=False "
            "returns the probability-weighted sum(r**2) / sum(r)); differentiate it in "
            "training mode")
    return (call("max_pool_backward", (g[0], s.outputs[1]), (list(s.shapes[0]), 2, s.cl)),)


def _stochastic_jvp(s: Saved, t):
    if not s.params[2]:
        _stochastic_vjp(s, None)
    return (call("gather", (t[0], s.outputs[1]), (2, s.cl)), None)


_register(Op(
    "stochastic_pool", K.stochastic_pool, None, indices_out=True, keep_out=(1,), rank_at=None,
    vjp=_stochastic_vjp, jvp=_stochastic_jvp))


# ----------------------------------------------------------------------------- torch.library

_lib = torch.library.Library("cypool", "DEF")


def _returns(op: Op) -> str:
    return "(Tensor, Tensor)" if op.indices_out else "Tensor"


def _checked(name):
    """The CPU kernel: the operator's kernel, its errors the bridge's."""
    kernel = OPS[name].kernel

    def run(*args):
        with torch_errors():
            return kernel(*args)
    return run


def _autograd(name):
    """The autograd kernel of torch.ops.cypool.<name>: PoolFunction whenever a derivative may be
    taken (backward, forward-mode AD of dual tensors, torch.func.jvp/grad), so that a direct
    call of the op has the same backward, jvp and higher derivatives as the functional forms;
    the op below autograd otherwise."""
    n = OPS[name].n_tensors
    overload = getattr(torch.ops.cypool, name).default

    def run(*args):
        tensors = args[:n]
        level = torch._C._functorch.peek_interpreter_stack()
        if level is not None:
            if level.key() in _AUTOGRAD_TRANSFORMS:
                # under torch.func.grad/jvp: PoolFunction at this level (its forward makes the
                # call at the next level down), as functorch runs an autograd.Function
                with torch_errors(), enable_single_level_autograd_function():
                    return _apply_here(name, args[n:], *tensors)
        elif _differentiating(tensors):
            with torch_errors():
                return _apply_here(name, args[n:], *tensors)
        with torch._C._AutoDispatchBelowAutograd():
            return overload(*args)
    return run


_AUTOGRAD_TRANSFORMS = (torch._C._functorch.TransformType.Grad,
                        torch._C._functorch.TransformType.Jvp)


def _batched(name):
    """The vmap rule of torch.ops.cypool.<name>: PoolFunction's (the batch folded in)."""
    n = OPS[name].n_tensors

    def rule(info, in_dims, *args):
        return _vmap(info, in_dims[:n], name, args[n:], args[:n])
    return rule


for _op in list(OPS.values()):
    if not _op.schema:
        continue
    _tensor_args = ", ".join(f"Tensor t{i}" for i in range(_op.n_tensors))
    _lib.define(f"{_op.name}({_tensor_args}, {_op.schema}) -> {_returns(_op)}")
    _lib.impl(_op.name, _checked(_op.name), "CPU")
    _lib.impl(_op.name, _autograd(_op.name), "Autograd")
    torch.library.register_fake(f"cypool::{_op.name}", _op.fake, lib=_lib)
    torch.library.register_vmap(f"cypool::{_op.name}", _batched(_op.name), lib=_lib)

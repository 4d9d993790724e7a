"""The table of the bridge's operators and the one autograd Function that runs any of them.

Each operator is an `Op`: its kernel (cypool's NumPy function on the tensor's memory, in
_kernels.py), its fake implementation (torch's rules without data: shapes and strides), its
vector-Jacobian product (backward) and its Jacobian-vector product (forward-mode AD). The
derivative rules are written with `call`, i.e. with other operators of this table, so every
derivative is itself differentiable: max pooling's backward is a scatter-add by the indices
(`max_pool_backward`), whose backward is the gather by the same indices (`gather`), whose backward
is the scatter-add again; average pooling's backward (`avg_pool_backward`) has average pooling as
its backward; and so on, to any order.

`call` runs an operator through `PoolFunction` in eager mode (backward, double backward,
forward-mode AD) and through its torch.library custom op (``torch.ops.cypool.<name>``) when
torch.compile, torch.export or another tracer is at work, so that graphs capture the operator
without a break, and under torch.func transforms, whose levels dispatch the op. The custom op's
autograd kernel is PoolFunction and its vmap rule PoolFunction's, so a direct call of
``torch.ops.cypool.<name>`` has the same derivatives of every order and mode as the functional
forms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Tuple

import torch
from torch._C._functorch import unwrap_if_dead as _unwrap_if_dead
from torch._functorch.utils import enable_single_level_autograd_function
from torch.autograd.forward_ad import _set_fwd_grad_enabled

from . import _kernels as K
from ._errors import PoolingError, torch_errors


@dataclass(frozen=True)
class Op:
    """One operator: `kernel(*tensors, *params)` -> one tensor or (values, indices)."""
    name: str
    kernel: Callable
    fake: Callable
    vjp: Callable                # (saved, grads) -> one gradient (or None) per input tensor
    jvp: Callable                # (saved, tangents) -> one tangent (or None) per output
    n_tensors: int = 1
    indices_out: bool = False    # a second output: int64 indices, not differentiable
    keep_in: Tuple[int, ...] = ()    # input tensors the derivative rules read
    keep_out: Tuple[int, ...] = ()   # outputs the derivative rules read
    rank_at: Optional[int] = 0   # position of `rank` among the params (None: 2-d only)
    shape_params: Tuple[int, ...] = ()   # params that are input shapes (batch folded by vmap)
    schema: str = ""             # torch.library schema of the params ("" : eager only)


@dataclass
class Saved:
    """What the derivative rules of one call get: the params, the input shapes, whether the
    first input is in channels-last memory, and the tensors the Op keeps."""
    params: tuple
    shapes: list
    cl: bool
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)


OPS: dict = {}


def _rank(op: Op, params) -> int:
    return 2 if op.rank_at is None else params[op.rank_at]


def call(name: str, tensors: Sequence[torch.Tensor], params: Sequence[Any]):
    """Run operator `name`: eager through PoolFunction (or the kernel alone when nothing may
    differentiate the call), through torch.ops.cypool under a tracer or a torch.func transform."""
    op = OPS[name]
    params = tuple(params)
    if _via_op(op, tensors):
        return getattr(torch.ops.cypool, name)(*tensors, *params)
    if not _differentiating(tensors):
        # inference: the kernel itself (Function.apply costs more than a small pooling call)
        return op.kernel(*tensors, *params)
    return PoolFunction.apply(name, params, *tensors)


def _via_op(op: Op, tensors) -> bool:
    """Whether the call goes through the custom op torch.ops.cypool.<name>: under a tracer (the
    graph holds the op) and under torch.func transforms (functorch's levels dispatch the op to
    its autograd kernel and its vmap rule, both PoolFunction's)."""
    return bool(op.schema) and (torch._C._are_functorch_transforms_active()
                                or _tracing(tensors))


def _differentiating(tensors) -> bool:
    """Whether autograd, forward-mode AD or a torch.func transform may see this call."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return True
    return (torch._C._functorch.peek_interpreter_stack() is not None
            or torch.autograd.forward_ad._current_level >= 0)


_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _tracing(tensors) -> bool:
    if torch.compiler.is_compiling():    # first: dynamo cannot trace the checks below
        return True
    for t in tensors:
        if type(t) not in _PLAIN or t.is_meta:
            return True
    return torch._C._len_torch_dispatch_stack() > 0


def _save(ctx, name, params, tensors, outputs) -> None:
    op = OPS[name]
    rank = _rank(op, params)
    ctx.name, ctx.params = name, params
    ctx.shapes = [tuple(t.shape) for t in tensors]
    ctx.cl = K.channels_last(tensors[0], rank)
    kept = [tensors[i] for i in op.keep_in] + [outputs[i] for i in op.keep_out]
    ctx.save_for_backward(*kept)
    if torch.autograd.forward_ad._current_level >= 0 or \
            torch._C._are_functorch_transforms_active():
        # the jvp rules run only under forward-mode AD (dual tensors or torch.func.jvp)
        ctx.save_for_forward(*kept)


def _saved(ctx) -> Saved:
    op = OPS[ctx.name]
    kept = ctx.saved_tensors
    n = len(op.keep_in)
    return Saved(ctx.params, ctx.shapes, ctx.cl, dict(zip(op.keep_in, kept[:n])),
                 dict(zip(op.keep_out, kept[n:])))


class PoolFunction(torch.autograd.Function):
    """The one autograd Function of the bridge: forward runs `OPS[name].kernel`, backward and jvp
    run the Op's derivative rules (themselves calls of table operators), vmap folds the mapped
    dimension into the batch dimension. It runs the functional forms' differentiable calls and
    the autograd kernel of every ``torch.ops.cypool`` custom op."""

    @classmethod
    def apply(cls, name, params, *tensors):
        # torch's Function.apply binds the arguments to forward's signature (inspect.signature,
        # for default values) on every call, the largest part of a small call's cost; every
        # argument here is given, so outside torch.func transforms the binding is skipped
        if torch._C._are_functorch_transforms_active():
            return super().apply(name, params, *tensors)
        # tensors that escaped a finished torch.func transform are unwrapped, as torch does
        return _apply_here(name, params, *map(_unwrap_if_dead, tensors))

    @staticmethod
    def forward(name, params, *tensors):
        op = OPS[name]
        if op.schema and torch._C._are_functorch_transforms_active():
            # the custom op's autograd kernel at a torch.func level (grad, jvp)
            return _one_level_down(name, params, tensors)
        if op.schema and _tracing(tensors):
            # the custom op's autograd kernel under a tracer: the op below autograd, so that
            # the graph holds torch.ops.cypool.<name> (with its fake implementation)
            with torch._C._AutoDispatchBelowAutograd():
                return getattr(torch.ops.cypool, name)(*tensors, *params)
        return op.kernel(*tensors, *params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        name, params, *tensors = inputs
        outputs = output if isinstance(output, tuple) else (output,)
        if OPS[name].indices_out:
            ctx.mark_non_differentiable(outputs[1])
        _save(ctx, name, params, tensors, outputs)

    @staticmethod
    def backward(ctx, *grads):
        return (None, None, *OPS[ctx.name].vjp(_saved(ctx), grads))

    @staticmethod
    def jvp(ctx, _name_tangent, _params_tangent, *tangents):
        out = OPS[ctx.name].jvp(_saved(ctx), tangents)
        return out if len(out) > 1 else out[0]

    @staticmethod
    def vmap(info, in_dims, name, params, *tensors):
        return _vmap(info, in_dims[2:], name, params, tensors)


def _one_level_down(name, params, tensors):
    """PoolFunction's forward at a torch.func level (grad, jvp): the op below autograd, which
    functorch sends to the next level down with this level's wrappers removed. Gradients and
    forward gradients are enabled for that level, as functorch does for an autograd.Function
    (Function.apply turned both off for its own level; the level below restores its own mode)."""
    with torch.enable_grad(), _set_fwd_grad_enabled(True), \
            torch._C._AutoDispatchBelowAutograd():
        return getattr(torch.ops.cypool, name)(*tensors, *params)


# torch's Function.apply without the binding and without functorch's custom_function_call:
# PoolFunction on the tensors as they are (functorch's wrappers of the current level included)
_apply_here = super(torch.autograd.Function, PoolFunction).apply


def _vmap(info, in_dims, name, params, tensors):
    """The batched call: the mapped dimension folded into the batch dimension (one call of the
    operator, not a loop); in_dims: the mapped dimension of each tensor (None: not mapped)."""
    op = OPS[name]
    rank = _rank(op, params)
    b = info.batch_size
    moved = [t.movedim(d, 0) if d is not None else t.expand(b, *t.shape)
             for t, d in zip(tensors, in_dims)]
    batched = moved[0].dim() - 1 == rank + 2
    n = moved[0].shape[1] if batched else 1
    folded = [t.reshape(b * n, *t.shape[2:]) if batched else t for t in moved]
    params = list(params)
    for i in op.shape_params:
        shape = list(params[i])
        params[i] = [b * shape[0], *shape[1:]] if batched else [b, *shape]
    out = call(name, folded, params)
    outs = out if isinstance(out, tuple) else (out,)
    outs = tuple(o.reshape(b, n, *o.shape[1:]) if batched else o for o in outs)
    return (outs if isinstance(out, tuple) else outs[0]), (
        (0,) * len(outs) if isinstance(out, tuple) else 0)


def _register(op: Op) -> Op:
    OPS[op.name] = op
    return op


# ----------------------------------------------------------------------------- the table
# Params follow the kernel's signature after the tensors (see _kernels.py).

# max pooling: (x; rank, kernel_size, stride, padding, dilation, ceil_mode, padding_mode,
# return_indices) -> (values, indices)
_register(Op(
    "max_pool", K.max_pool, K.ref_max_pool, indices_out=True, keep_out=(1,),
    vjp=lambda s, g: (call("max_pool_backward", (g[0], s.outputs[1]),
                           (list(s.shapes[0]), s.params[0], s.cl)),),
    jvp=lambda s, t: (call("gather", (t[0], s.outputs[1]), (s.params[0], s.cl)), None),
    schema="int rank, int[] kernel_size, int[] stride, int[] padding, int[] dilation, "
           "bool ceil_mode, str padding_mode, bool return_indices"))

# fractional max pooling (x, samples; rank, kernel_size, output_size) -> (values, indices):
# the derivatives of max pooling (scatter-add, gather by the indices)
_register(Op(
    "fractional_max_pool", K.fractional_max_pool, K.ref_fractional_max_pool, n_tensors=2,
    indices_out=True, keep_out=(1,),
    vjp=lambda s, g: (call("max_pool_backward", (g[0], s.outputs[1]),
                           (list(s.shapes[0]), s.params[0], s.cl)), None),
    jvp=lambda s, t: (call("gather", (t[0], s.outputs[1]), (s.params[0], s.cl)), None),
    schema="int rank, int[] kernel_size, int[] output_size"))

# scatter-add by indices (grad, indices; input_shape, rank, channels_last)
_register(Op(
    "max_pool_backward", K.max_pool_backward,
    lambda g, i, shape, rank, cl: K.ref_grad_input(g, shape, cl, f"max_pool{rank}d_backward"),
    n_tensors=2, keep_in=(1,), rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("gather", (g[0], s.inputs[1]), (s.params[1], s.params[2])), None),
    jvp=lambda s, t: (call("max_pool_backward", (t[0], s.inputs[1]), s.params),),
    schema="int[] input_shape, int rank, bool channels_last"))

# gather by indices (source, indices; rank, channels_last)
_register(Op(
    "gather", K.gather, lambda src, i, rank, cl: K.ref_gather(src, i, cl),
    n_tensors=2, keep_in=(1,),
    vjp=lambda s, g: (call("max_pool_backward", (g[0], s.inputs[1]),
                           (list(s.shapes[0]), s.params[0], s.params[1])), None),
    jvp=lambda s, t: (call("gather", (t[0], s.inputs[1]), s.params),),
    schema="int rank, bool channels_last"))

# average pooling: (x; rank, kernel_size, stride, padding, ceil_mode, count_include_pad,
# divisor_override, padding_mode)
_register(Op(
    "avg_pool", K.avg_pool, K.ref_avg_pool,
    vjp=lambda s, g: (call("avg_pool_backward", (g[0],),
                           (list(s.shapes[0]), *s.params, s.cl)),),
    jvp=lambda s, t: (call("avg_pool", (t[0],), s.params),),
    schema="int rank, int[] kernel_size, int[] stride, int[] padding, bool ceil_mode, "
           "bool count_include_pad, int? divisor_override, str padding_mode"))

_register(Op(
    "avg_pool_backward", K.avg_pool_backward,
    lambda g, shape, rank, *rest: K.ref_grad_input(g, shape, rest[-1],
                                                   f"avg_pool{rank}d_backward"),
    rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("avg_pool", (g[0],), s.params[1:-1]),),
    jvp=lambda s, t: (call("avg_pool_backward", (t[0],), s.params),),
    schema="int[] input_shape, int rank, int[] kernel_size, int[] stride, int[] padding, "
           "bool ceil_mode, bool count_include_pad, int? divisor_override, str padding_mode, "
           "bool channels_last"))

# adaptive average pooling: (x; rank, output_size)
_register(Op(
    "adaptive_avg_pool", K.adaptive_avg_pool, K.ref_adaptive_avg_pool,
    vjp=lambda s, g: (call("adaptive_avg_pool_backward", (g[0],),
                           (list(s.shapes[0]), s.params[0], s.cl)),),
    jvp=lambda s, t: (call("adaptive_avg_pool", (t[0],), s.params),),
    schema="int rank, int[] output_size"))

_register(Op(
    "adaptive_avg_pool_backward", K.adaptive_avg_pool_backward,
    lambda g, shape, rank, cl: K.ref_grad_input(g, shape, cl,
                                                f"adaptive_avg_pool{rank}d_backward", True),
    rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("adaptive_avg_pool", (g[0],),
                           (s.params[1], list(s.shapes[0][-s.params[1]:]))),),
    jvp=lambda s, t: (call("adaptive_avg_pool_backward", (t[0],), s.params),),
    schema="int[] input_shape, int rank, bool channels_last"))

# adaptive max pooling: (x; rank, output_size) -> (values, indices)
_register(Op(
    "adaptive_max_pool", K.adaptive_max_pool, K.ref_adaptive_max_pool, indices_out=True,
    keep_out=(1,),
    vjp=lambda s, g: (call("adaptive_max_pool_backward", (g[0], s.outputs[1]),
                           (list(s.shapes[0]), s.params[0], s.cl)),),
    jvp=lambda s, t: (call("gather", (t[0], s.outputs[1]), (s.params[0], s.cl)), None),
    schema="int rank, int[] output_size"))

_register(Op(
    "adaptive_max_pool_backward", K.adaptive_max_pool_backward,
    lambda g, i, shape, rank, cl: K.ref_grad_input(g, shape, cl,
                                                   f"adaptive_max_pool{rank}d_backward", True),
    n_tensors=2, keep_in=(1,), rank_at=1, shape_params=(0,),
    vjp=lambda s, g: (call("gather", (g[0], s.inputs[1]), (s.params[1], s.params[2])), None),
    jvp=lambda s, t: (call("adaptive_max_pool_backward", (t[0], s.inputs[1]), s.params),),
    schema="int[] input_shape, int rank, bool channels_last"))

# max unpooling: (x, indices; rank, kernel_size, stride, padding, output_size); its backward
# is the gather by the indices, as torch's
_register(Op(
    "max_unpool", K.max_unpool, K.ref_max_unpool, n_tensors=2, keep_in=(1,),
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
    "lp_pool", K.lp_pool, K.ref_lp_pool, keep_in=(0,),
    vjp=lambda s, g: (call("lp_pool_backward", (g[0], s.inputs[0]), (*s.params, s.cl)),),
    jvp=_lp_jvp,
    schema="int rank, float norm_type, int[] kernel_size, int[] stride, bool ceil_mode"))

# (grad, x; rank, norm_type, kernel_size, stride, ceil_mode, channels_last)
_register(Op(
    "lp_pool_backward", K.lp_pool_backward,
    lambda g, x, rank, *rest: K.ref_grad_input(g, x.shape, rest[-1], f"lp_pool{rank}d_backward"),
    n_tensors=2, keep_in=(0, 1), vjp=_lp_backward_vjp, jvp=_lp_backward_jvp,
    schema="int rank, float norm_type, int[] kernel_size, int[] stride, bool ceil_mode, "
           "bool channels_last"))

# blur pooling (x; filt_size, stride): linear, its adjoint is blur_pool_backward
_register(Op(
    "blur_pool", K.blur_pool, K.ref_blur_pool, rank_at=None,
    vjp=lambda s, g: (call("blur_pool_backward", (g[0],), (list(s.shapes[0]), *s.params, s.cl)),),
    jvp=lambda s, t: (call("blur_pool", (t[0],), s.params),),
    schema="int filt_size, int[] stride"))

_register(Op(
    "blur_pool_backward", K.blur_pool_backward,
    lambda g, shape, f, st, cl: K._own_ref(g, shape, cl), rank_at=None, shape_params=(0,),
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

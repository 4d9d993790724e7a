"""The one autograd Function that runs any operator of the bridge, and `call`, which routes a call.

Each operator is an `Op` of the table `OPS` (filled by _ops.py): its kernel (cypool's NumPy
function on the tensor's memory, in _kernels.py), its fake implementation (torch's rules without
data: shapes and strides, _references.py), its vector-Jacobian product (backward) and its
Jacobian-vector product (forward-mode AD).

`call` runs an operator through `PoolFunction` in eager mode (backward, double backward,
forward-mode AD) and through its torch.library custom op (``torch.ops.cypool.<name>``) when
torch.compile, torch.export or another tracer is at work, so that graphs capture the operator
without a break, and under torch.func transforms, whose levels dispatch the op. The custom op's
autograd kernel is PoolFunction and its vmap rule PoolFunction's (_ops.py), so a direct call of
``torch.ops.cypool.<name>`` has the same derivatives of every order and mode as the functional
forms.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Tuple

import torch
from torch._C._functorch import unwrap_if_dead as _unwrap_if_dead
from torch.autograd.forward_ad import _set_fwd_grad_enabled

from ._convert import channels_last

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
    ctx.cl = channels_last(tensors[0], rank)
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

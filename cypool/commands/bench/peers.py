"""The peers cypool is timed against and checked with: TensorFlow and JAX (optional, loaded when
installed: their pooling and convolution recipes and candidates) and torch's backward; ``_check``
compares a peer's result with cypool's."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from .cases import CL, _torch_view, case_dtype, is_bfloat16

if TYPE_CHECKING:
    from .operators import Operator


_PEER_MODULES: dict = {}


def _peer(name: str):
    """The peer's module (tensorflow or jax) once loaded by _load_peers, else None."""
    return _PEER_MODULES.get(name)


def _load_peers(names, threads: int) -> dict:
    """Import the named optional peers that are installed ({name: module}); TensorFlow gets
    `threads` intra-op threads (before its first op)."""
    loaded = {}
    if "tensorflow" in names:
        try:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            import tensorflow as tf
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:  # already initialised in this process: its setting stays
                pass
            loaded["tensorflow"] = tf
        except ImportError:
            pass
    if "jax" in names:
        try:
            import jax
            import jax.numpy  # noqa: F401
            jax.config.update("jax_enable_x64", True)  # float64 rows stay float64
            loaded["jax"] = jax
        except ImportError:
            pass
    _PEER_MODULES.clear()
    _PEER_MODULES.update(loaded)
    return loaded


def _window_dims(rank, k, s, p, fmt):
    if fmt == CL:
        return (1, *(k,) * rank, 1), (1, *(s,) * rank, 1), [(0, 0), *[(p, p)] * rank, (0, 0)]
    return (1, 1, *(k,) * rank), (1, 1, *(s,) * rank), [(0, 0), (0, 0), *[(p, p)] * rank]


def _jax_window(kind, rank, k, s, p, fmt):
    """JAX's max or average pooling (count_include_pad, as torch's default), or None."""
    jax = _peer("jax")
    if jax is None:
        return None
    lax = jax.lax
    dims, strides, pads = _window_dims(rank, k, s, p, fmt)
    if kind == "max":
        # NumPy constants: JAX differentiates a reduce_window whose initial value it can read
        return lambda a: lax.reduce_window(a, np.array(-np.inf, a.dtype), lax.max, dims,
                                           strides, pads)
    return lambda a: lax.reduce_window(a, np.array(0, a.dtype), lax.add, dims, strides,
                                       pads) / (k ** rank)


def _jax_global(kind, rank, fmt):
    jax = _peer("jax")
    if jax is None:
        return None
    axes = tuple(range(1, 1 + rank)) if fmt == CL else tuple(range(2, 2 + rank))
    f = jax.numpy.max if kind == "max" else jax.numpy.mean
    return lambda a: f(a, axis=axes, keepdims=True)


def _jax_conv(s, p, fmt):
    """JAX's conv2d of (input, weight, bias), or None."""
    jax = _peer("jax")
    if jax is None:
        return None
    spec = ("NHWC", "OIHW", "NHWC") if fmt == CL else ("NCHW", "OIHW", "NCHW")
    shape_b = (1, 1, 1, -1) if fmt == CL else (1, -1, 1, 1)
    return lambda a, w, b: jax.lax.conv_general_dilated(
        a, w, (s, s), [(p, p), (p, p)], dimension_numbers=spec) + b.reshape(shape_b)


def _jax_params(*arrays) -> tuple:
    jax = _peer("jax")
    return tuple(jax.device_put(a) for a in arrays) if jax is not None else ()


def _tf_window(kind, rank, k, s):
    """TensorFlow's pooling without padding, channels-last (its CPU pooling's layout), or None."""
    tf = _peer("tensorflow")
    if tf is None:
        return None
    f = tf.nn.max_pool if kind == "max" else tf.nn.avg_pool
    return lambda t: f(t, k, s, "VALID")


def _tf_window_grad(kind, rank, k, s):
    """(tg, t, ty) -> TensorFlow's own gradient op of the pooling (2-d and 3-d), or None."""
    tf = _peer("tensorflow")
    if tf is None or rank == 1:
        return None
    ks, ss = [1, *(k,) * rank, 1], [1, *(s,) * rank, 1]
    raw = tf.raw_ops
    if kind == "max":
        op = raw.MaxPoolGrad if rank == 2 else raw.MaxPool3DGrad
        return lambda tg, t, ty: op(orig_input=t, orig_output=ty, grad=tg, ksize=ks, strides=ss,
                                    padding="VALID")
    if rank == 2:
        return lambda tg, t, ty: raw.AvgPoolGrad(orig_input_shape=tf.shape(t), grad=tg, ksize=ks,
                                                 strides=ss, padding="VALID")
    return lambda tg, t, ty: raw.AvgPool3DGrad(orig_input_shape=tf.shape(t), grad=tg, ksize=ks,
                                               strides=ss, padding="VALID")


def _tf_global(kind, rank, fmt):
    tf = _peer("tensorflow")
    if tf is None:
        return None
    axes = list(range(1, 1 + rank)) if fmt == CL else list(range(2, 2 + rank))
    f = tf.reduce_max if kind == "max" else tf.reduce_mean
    return lambda t: f(t, axis=axes, keepdims=True)


def _tf_conv(wgt, bias, s, p):
    """TensorFlow's conv2d (NHWC, explicit padding) and its two backprop ops, or (None, None)."""
    tf = _peer("tensorflow")
    if tf is None:
        return None, None
    tw = tf.constant(np.ascontiguousarray(wgt.transpose(2, 3, 1, 0)))  # HWIO
    tb = tf.constant(bias)
    pads = [[0, 0], [p, p], [p, p], [0, 0]]
    flat = [0, 0, p, p, p, p, 0, 0]
    raw = tf.raw_ops

    def fwd(t):
        return tf.nn.bias_add(tf.nn.conv2d(t, tw, s, pads), tb)

    def bwd(tg, t, ty):
        gx = raw.Conv2DBackpropInput(input_sizes=tf.shape(t), filter=tw, out_backprop=tg,
                                     strides=[1, s, s, 1], padding="EXPLICIT",
                                     explicit_paddings=flat)
        gw = raw.Conv2DBackpropFilter(input=t, filter_sizes=tf.shape(tw), out_backprop=tg,
                                      strides=[1, s, s, 1], padding="EXPLICIT",
                                      explicit_paddings=flat)
        return gx, tf.transpose(gw, (3, 2, 0, 1)), tf.reduce_sum(tg, axis=(0, 1, 2))
    return fwd, bwd


def _torch_backward(torch, o: Operator, fmt: str, g: np.ndarray):
    """(timed torch backward, its result once): torch's own backward op where the Operator names
    one, else torch.autograd.grad of a forward recorded once (retain_graph: only the backward is
    timed)."""
    tx = _torch_view(torch, o.inp, fmt)
    tg = _torch_view(torch, g, fmt) if g.ndim >= 3 else torch.from_numpy(g)
    if o.torch_bwd is not None:
        with torch.no_grad():
            aux = o.torch_bwd_setup(tx) if o.torch_bwd_setup is not None else None
        call = lambda: o.torch_bwd(tg, tx, aux)  # noqa: E731
        return call, call()
    params = o.torch_params
    leaves = [tx.detach().requires_grad_(), *[q.detach().requires_grad_() for q in params]]
    ty = o.torch_fwd(*leaves)
    ty = ty[0] if isinstance(ty, tuple) else ty
    inputs = leaves if params else leaves[0]

    def call():
        return torch.autograd.grad(ty, inputs, tg, retain_graph=True)
    r = call()
    return call, (tuple(r) if params else r[0])


def _peers_of_row(direction, o, fmt, cands, checks, result, g, tol):
    """Add the TensorFlow and JAX candidates of a row (those installed that have the operator);
    a peer that fails on the row (a dtype or layout it does not take) is left out of it, and its
    check says so."""
    for name, add in (("jax", _jax_candidate), ("tensorflow", _tf_candidate)):
        if _peer(name) is None:
            continue
        try:
            add(direction, o, fmt, cands, checks, result, g, tol)
        except Exception as exc:  # an optional peer never stops the bench
            cands.pop(name, None)
            checks.append((f"{name} failed ({type(exc).__name__})", "failed"))


def _jax_candidate(direction, o, fmt, cands, checks, result, g, tol):
    jax = _peer("jax")
    if o.jax_fwd is None:
        return
    ja, ps, fwd = jax.device_put(o.inp), o.jax_params, o.jax_fwd
    if direction == "fwd":
        f = jax.jit(fwd)
        cands["jax"] = lambda: f(ja, *ps).block_until_ready()
        checks.append(("jax", _check(result, np.asarray(f(ja, *ps)), fmt, tol, stored=True)))
        return
    jg = jax.device_put(g)
    if ps:  # gradients of the input and the parameters (conv: weight and bias)
        f = jax.jit(lambda a, gy, *q: jax.vjp(fwd, a, *q)[1](gy))
    else:
        f = jax.jit(lambda a, gy: jax.vjp(fwd, a)[1](gy)[0])
    cands["jax"] = lambda: jax.block_until_ready(f(ja, jg, *ps))
    theirs = f(ja, jg, *ps)
    theirs = tuple(map(np.asarray, theirs)) if ps else np.asarray(theirs)
    checks.append(("jax", _check(result, theirs, fmt, tol, stored=True)))


def _tf_candidate(direction, o, fmt, cands, checks, result, g, tol):
    tf = _peer("tensorflow")
    t = tf.constant(o.inp)
    if direction == "fwd":
        if o.tf_fwd is None:
            return
        f = o.tf_fwd
        cands["tensorflow"] = lambda: f(t)
        checks.append(("tensorflow", _check(result, f(t).numpy(), fmt, tol, stored=True)))
        return
    if o.tf_bwd is None:
        return
    tg, ty, b = tf.constant(g), o.tf_fwd(t), o.tf_bwd
    cands["tensorflow"] = lambda: b(tg, t, ty)
    theirs = b(tg, t, ty)
    theirs = tuple(r.numpy() for r in theirs) if isinstance(theirs, tuple) else theirs.numpy()
    checks.append(("tensorflow", _check(result, theirs, fmt, tol, stored=True)))


def _as_numpy(theirs, fmt, ours_shape, stored):
    """A peer's result as a NumPy array in cypool's stored layout: torch tensors are logical
    (N, C, *spatial) views (moved back for channels-last data); others are already stored."""
    if not stored:
        t = theirs.detach()
        if fmt == CL and t.ndim >= 3 and tuple(t.movedim(1, -1).shape) == tuple(ours_shape):
            t = t.movedim(1, -1)
        if str(t.dtype) == "torch.bfloat16":   # no NumPy bfloat16 in torch: the same bits
            import torch
            return t.contiguous().view(torch.int16).numpy().view(case_dtype("bfloat16"))
        theirs = t.numpy()
    return theirs


def _check(ours, theirs, fmt: str, tol: float = 1e-5, stored: bool = False) -> str:
    """'ok' when cypool's result equals the peer's (to float rounding; every array of a tuple
    result), else 'DIFFERS'.

    The absolute tolerance grows with the array's largest magnitude beyond 1: a float32 sum of
    many products (conv2d's weight and bias gradients sum 25088 per element in the bench) carries
    rounding of the order of its largest terms', whatever the element's own size; torch's own
    float32 weight gradient there is 1.5e-4 to 3.5e-4 from the float64 one on values up to 54."""
    if not isinstance(ours, (tuple, list)):
        ours = (ours,)
    if not isinstance(theirs, (tuple, list)):
        theirs = (theirs,)
    for a, b in zip(ours, theirs):   # a max pooling's indices are compared through the values
        b = _as_numpy(b, fmt, a.shape, stored)
        if is_bfloat16(a.dtype):   # compared in float32 (its kind is not "f")
            a, b = a.astype(np.float32), np.asarray(b).astype(np.float32)
        if a.dtype.kind != "f":
            continue
        if a.shape != b.shape:
            return "DIFFERS"
        finite = np.abs(b[np.isfinite(b)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        if not np.allclose(a, b, rtol=tol, atol=tol * scale):
            return "DIFFERS"
    return "ok"

"""What each case calls: Operator (cypool's forward and backward of a case and the peers' recipes
for the same operator), the NumPy reshape recipe and the streaming roofline of a row."""
from __future__ import annotations

import numpy as np

import cypool
from cypool import _stream, _threads

from .cases import CF, CL, SEED, Case, _cypool_fn, _random, _spatial, _torch_view, case_nc
from .peers import (_jax_conv, _jax_global, _jax_params, _jax_window, _tf_conv, _tf_global,
                    _tf_window, _tf_window_grad)


class Operator:
    """One case in one data format: cypool's calls and the peers' recipes.

    inp: the array the forward reads; fwd(): the timed cypool forward; fwd_aux() -> (y, aux):
    the forward that keeps what the backward needs; bwd(g, aux): cypool's backward;
    fwd_read / bwd_read: bytes the calls read besides inp and the gradient. torch_fwd(t): the
    torch forward of the tensor view of inp (and of torch_params, which get gradients too);
    torch_bwd(tg, t, aux): a direct torch backward (None: autograd), aux from torch_bwd_setup(t);
    jax_fwd(a, *jax_params) and tf_fwd(t) / tf_bwd(tg, t, ty): the other peers' (None: none)."""

    def __init__(self, inp, fwd, fwd_aux, bwd, fwd_read=0, bwd_read=0):
        self.inp, self.fwd, self.fwd_aux, self.bwd = inp, fwd, fwd_aux, bwd
        self.fwd_read, self.bwd_read = fwd_read, bwd_read
        self.torch_fwd = self.torch_bwd = self.torch_bwd_setup = None
        self.jax_fwd = self.tf_fwd = self.tf_bwd = self.tol = None
        self.torch_params, self.jax_params = (), ()   # parameters that get gradients too


def _without_tied_maxima(x: np.ndarray, fmt: str, rank: int) -> None:
    """Each plane's values replaced in place by their ranks, spread over [-0.5, 0.5): no two equal.

    TensorFlow's and JAX's gradients of a global maximum share it equally among tied maxima;
    torch's and cypool's send it to one of them. Uniform float32 data ties a plane's maximum about
    once in 20 runs of the bench's global max row, which then flagged the peer though both
    follow their own rule."""
    axes = tuple(range(1, 1 + rank)) if fmt == CL else tuple(range(2, 2 + rank))
    planes = np.moveaxis(x, axes, tuple(range(x.ndim - rank, x.ndim)))
    flat = planes.reshape(*planes.shape[:-rank], -1)
    ranks = flat.argsort(axis=-1, kind="stable").argsort(axis=-1, kind="stable")
    flat[...] = ranks / flat.shape[-1] - 0.5
    planes[...] = flat.reshape(planes.shape)


def _operator(case: Case, fmt: str, x: np.ndarray, torch, rng) -> Operator:
    """The Operator of case (x: its input, in fmt's memory order)."""
    op, rank, k, s, p, a = case.op, case.rank, case.kernel, case.stride, case.padding, case.arg
    kw = {"data_format": fmt}
    shape = x.shape
    F = torch.nn.functional if torch is not None else None
    o = None
    if op == "max":
        fwd, bwd = _cypool_fn("max_pool", rank), getattr(cypool, f"max_pool{rank}d_backward")
        ri = case.return_indices
        o = Operator(x, lambda: fwd(x, k, s, p, return_indices=ri, **kw),
                     lambda: fwd(x, k, s, p, return_indices=True, **kw),
                     lambda g, idx: bwd(g, idx, shape, **kw))
        if torch is not None:
            tf_ = getattr(F, f"max_pool{rank}d")
            o.torch_fwd = lambda t: tf_(t, k, s, p, return_indices=ri)
            if rank > 1:
                tb = getattr(torch.ops.aten, f"max_pool{rank}d_with_indices_backward")
                kk, ss, pp, one = (k,) * rank, (s,) * rank, (p,) * rank, (1,) * rank
                o.torch_bwd_setup = lambda t: tf_(t, k, s, p, return_indices=True)[1]
                o.torch_bwd = lambda tg, t, tidx: tb(tg, t, kk, ss, pp, one, False, tidx)
        o.jax_fwd = _jax_window("max", rank, k, s, p, fmt)
        if p == 0 and fmt == CL:
            o.tf_fwd, o.tf_bwd = _tf_window("max", rank, k, s), _tf_window_grad("max", rank, k, s)
    elif op == "avg":
        fwd, bwd = _cypool_fn("avg_pool", rank), getattr(cypool, f"avg_pool{rank}d_backward")
        o = Operator(x, lambda: fwd(x, k, s, p, **kw), lambda: (fwd(x, k, s, p, **kw), None),
                     lambda g, _: bwd(g, shape, k, s, p, **kw))
        if torch is not None:
            tf_ = getattr(F, f"avg_pool{rank}d")
            o.torch_fwd = lambda t: tf_(t, k, s, p)
            if rank > 1:
                tb = getattr(torch.ops.aten, f"avg_pool{rank}d_backward")
                kk, ss, pp = (k,) * rank, (s,) * rank, (p,) * rank
                o.torch_bwd = lambda tg, t, _: tb(tg, t, kk, ss, pp, False, True, None)
        o.jax_fwd = _jax_window("avg", rank, k, s, p, fmt)
        if p == 0 and fmt == CL:
            o.tf_fwd, o.tf_bwd = _tf_window("avg", rank, k, s), _tf_window_grad("avg", rank, k, s)
    elif op == "gap":  # global average as adaptive average to 1 (the default table's head row)
        fwd = _cypool_fn("adaptive_avg_pool", rank)
        o = Operator(x, lambda: fwd(x, 1, **kw), lambda: (fwd(x, 1, **kw), None), None)
        if torch is not None:
            tf_ = getattr(F, f"adaptive_avg_pool{rank}d")
            o.torch_fwd = lambda t: tf_(t, 1)
        o.jax_fwd = _jax_global("avg", rank, fmt)
        o.tf_fwd = _tf_global("avg", rank, fmt)
    elif op in ("adaptive_avg", "adaptive_max", "global_avg", "global_max"):
        kind = op.split("_")[1]
        glob = op.startswith("global")
        if glob:
            fwd = getattr(cypool, f"global_{kind}_pool{rank}d")
            bwd = getattr(cypool, f"global_{kind}_pool{rank}d_backward")
            call = lambda **extra: fwd(x, keepdims=True, **extra, **kw)  # noqa: E731
        else:
            fwd = getattr(cypool, f"adaptive_{kind}_pool{rank}d")
            bwd = getattr(cypool, f"adaptive_{kind}_pool{rank}d_backward")
            call = lambda **extra: fwd(x, a, **extra, **kw)  # noqa: E731
        if kind == "max":
            if glob:
                _without_tied_maxima(x, fmt, rank)
            o = Operator(x, lambda: call(), lambda: call(return_indices=True),
                         lambda g, idx: bwd(g, idx, shape, **kw))
        else:
            o = Operator(x, lambda: call(), lambda: (call(), None),
                         lambda g, _: bwd(g, shape, **kw))
        if torch is not None:
            tf_ = getattr(F, f"adaptive_{kind}_pool{rank}d")
            size = 1 if glob else a
            o.torch_fwd = lambda t: tf_(t, size)
        if glob:
            o.jax_fwd = _jax_global(kind, rank, fmt)
            o.tf_fwd = _tf_global(kind, rank, fmt)
    elif op == "unpool":  # the input: a 2x2/s2 max pooling's output and indices
        y, idx = cypool.max_pool2d(x, k, s, return_indices=True, **kw)
        o = Operator(y, lambda: cypool.max_unpool2d(y, idx, k, s, **kw),
                     lambda: (cypool.max_unpool2d(y, idx, k, s, **kw), None),
                     lambda g, _: cypool.max_unpool2d_backward(g, idx, **kw),
                     fwd_read=idx.nbytes, bwd_read=idx.nbytes)
        if torch is not None:
            tidx = _torch_view(torch, idx, fmt)
            spatial = _spatial(x, fmt)
            o.torch_fwd = lambda t: F.max_unpool2d(t, tidx, k, s, output_size=spatial)
    elif op == "lp":
        o = Operator(x, lambda: cypool.lp_pool2d(x, a, k, s, **kw),
                     lambda: (cypool.lp_pool2d(x, a, k, s, **kw), None),
                     lambda g, _: cypool.lp_pool2d_backward(g, x, a, k, s, **kw),
                     bwd_read=x.nbytes)
        if torch is not None:
            o.torch_fwd = lambda t: F.lp_pool2d(t, a, k, s)
        o.tol = 1e-4
    elif op in ("blur", "maxblur"):
        if op == "blur":
            o = Operator(x, lambda: cypool.blur_pool2d(x, a, s, **kw),
                         lambda: (cypool.blur_pool2d(x, a, s, **kw), None),
                         lambda g, _: cypool.blur_pool2d_backward(g, shape, a, s, **kw))
        else:
            o = Operator(x, lambda: cypool.max_blur_pool2d(x, k, a, s, **kw),
                         lambda: cypool.max_blur_pool2d(x, k, a, s, return_indices=True, **kw),
                         lambda g, idx: cypool.max_blur_pool2d_backward(g, idx, shape, a, s,
                                                                         **kw))
        if torch is not None:
            taps = cypool.binomial_filter(a)
            channels = case_nc(x, fmt)[1]
            w = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(
                np.outer(taps, taps).astype(x.dtype), (channels, 1, a, a))))
            lo, hi = (a - 1) // 2, a // 2

            def blur(t):
                return F.conv2d(F.pad(t, (lo, hi, lo, hi), mode="reflect"), w, stride=s,
                                groups=channels)
            o.torch_fwd = blur if op == "blur" else (lambda t: blur(F.max_pool2d(t, k, 1)))
        o.tol = 1e-4
    elif op == "stochastic":
        o = Operator(x, lambda: cypool.stochastic_pool2d(x, k, s, seed=0, **kw),
                     lambda: cypool.stochastic_pool2d(x, k, s, seed=0, return_indices=True, **kw),
                     lambda g, idx: cypool.stochastic_pool2d_backward(g, idx, shape, **kw))
    elif op == "spp":
        o = Operator(x, lambda: cypool.spatial_pyramid_pool(x, a, **kw),
                     lambda: cypool.spatial_pyramid_pool(x, a, return_indices=True, **kw),
                     lambda g, idx: cypool.spatial_pyramid_pool_backward(g, shape, a,
                                                                          indices=idx, **kw))
        if torch is not None:
            o.torch_fwd = lambda t: torch.cat([F.adaptive_max_pool2d(t, level).flatten(1)
                                               for level in a], 1)
    elif op == "conv":
        cin = x.shape[-1] if fmt == CL else x.shape[1]
        wgt = _random(rng, (a, cin, k, k), CF, x.dtype)
        bias = _random(rng, (a,), CF, x.dtype)
        o = Operator(x, lambda: cypool.conv2d(x, wgt, bias, s, p, **kw),
                     lambda: (cypool.conv2d(x, wgt, bias, s, p, **kw), None),
                     lambda g, _: cypool.conv2d_backward(g, x, wgt, s, p, **kw),
                     fwd_read=wgt.nbytes + bias.nbytes, bwd_read=x.nbytes + wgt.nbytes)
        if torch is not None:
            tw, tb = torch.from_numpy(wgt), torch.from_numpy(bias)
            if fmt == CL:
                tw = tw.contiguous(memory_format=torch.channels_last)
            o.torch_fwd = lambda t, w=tw, b=tb: F.conv2d(t, w, b, s, p)
            o.torch_params = (tw, tb)
        o.jax_fwd, o.jax_params = _jax_conv(s, p, fmt), _jax_params(wgt, bias)
        if fmt == CL:
            o.tf_fwd, o.tf_bwd = _tf_conv(wgt, bias, s, p)
        o.tol = 1e-4
    elif op == "fractional":
        n, c = case_nc(x, fmt)
        out = min(a, min(_spatial(x, fmt)) // 2)
        u = np.random.default_rng(SEED).random((n, c, 2)).astype(x.dtype)
        o = Operator(x, lambda: cypool.fractional_max_pool2d(x, k, out, random_samples=u, **kw),
                     lambda: cypool.fractional_max_pool2d(x, k, out, return_indices=True,
                                                          random_samples=u, **kw),
                     lambda g, idx: cypool.fractional_max_pool2d_backward(g, idx, shape, **kw))
        if torch is not None:
            tu = torch.from_numpy(u)
            o.torch_fwd = lambda t: F.fractional_max_pool2d(t, k, output_size=out,
                                                            _random_samples=tu)
    if o is None:
        raise ValueError(f"unknown operator {op!r}")
    return o


def _numpy_recipe_applies(case: Case) -> bool:
    return (case.op in ("max", "avg") and case.rank == 2 and case.kernel == 2
            and case.stride == 2 and case.padding == 0 and not case.return_indices
            and all(L % 2 == 0 for L in case.shape[2:]))


def _numpy_recipe(x: np.ndarray, fmt: str, op: str):
    """The NumPy reshape recipe for a non-overlapping 2x2/s2 pool (even sizes)."""
    if fmt == CF:
        n, c, h, w = x.shape
        v, axes = x.reshape(n, c, h // 2, 2, w // 2, 2), (3, 5)
    else:
        n, h, w, c = x.shape
        v, axes = x.reshape(n, h // 2, 2, w // 2, 2, c), (2, 4)
    return (lambda: v.max(axis=axes)) if op == "max" else (lambda: v.mean(axis=axes))


def _roofline(read_bytes: int, written_bytes: int, fresh_output: bool = False):
    """cypool's streaming kernel over buffers of the call's read and written bytes, on the thread
    count cypool's policy gives a call of that size. fresh_output: a new output buffer per call,
    as a pooling call returns a new array (its first-touch page faults are then paid too)."""
    src = np.ones(read_bytes, np.uint8)
    dst = np.empty(written_bytes, np.uint8)
    nt = _threads.threads_for(read_bytes + written_bytes, 1 << 30)
    if fresh_output:
        return lambda: _stream.stream(src, np.empty(written_bytes, np.uint8), nt)
    return lambda: _stream.stream(src, dst, nt)

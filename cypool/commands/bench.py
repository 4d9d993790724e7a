"""cypool against PyTorch, TensorFlow, JAX, NumPy and a streaming roofline: ``cypool bench``
(``python -m cypool bench``, ``python -m cypool.bench``).

Every case (a pooling layer, one direction, one data format) times its candidates interleaved in
this one process with cypool's timing loop (cypool/commands/timing.py: cypool, torch, numpy,
roofline, cypool, torch, ..., after a warm-up; the median of ``repeat`` samples of each, a sample
looping a fast call for at least 20 ms; the per-call time is reported). The candidates:

- **cypool**: the public function (``cypool.max_pool2d``, ``cypool.max_pool2d_backward``, ...) with
  ``cypool.set_num_threads(threads)``;
- **torch** (when importable): ``torch.set_num_threads(threads)``; the same NumPy memory seen as a
  tensor (channels_last data is a tensor in ``torch.channels_last`` memory format, no copy); forward
  ``F.max_pool2d`` / ``F.avg_pool2d`` / ``F.adaptive_avg_pool2d(x, 1)`` / ..., backward
  ``aten.max_pool2d_with_indices_backward`` / ``aten.avg_pool2d_backward`` (no autograd) for max
  and average pooling, ``torch.autograd.grad`` of a recorded forward (``retain_graph``, so only
  the backward is timed) for the other operators. Operators torch lacks are written as torch
  users write them: blur pooling as reflect padding and a depthwise ``F.conv2d``, max-blur as
  ``F.max_pool2d`` (stride 1) then blur, spatial pyramid pooling as concatenated
  ``F.adaptive_max_pool2d``. Stochastic pooling has no torch counterpart (blank);
- **tensorflow**, **jax** (each when importable; optional, never a dependency of cypool): the
  operators they have with the same semantics. JAX: ``lax.reduce_window`` max and sum (max and
  average pooling, any padding), ``jnp.max``/``jnp.mean`` (global), ``lax.conv_general_dilated``,
  forward and backward (``jax.vjp``), jitted, on a copy of the input on the JAX device. TensorFlow:
  ``tf.nn.max_pool``/``avg_pool`` without padding, channels-last only (TensorFlow's CPU pooling
  takes NHWC), backward ``MaxPoolGrad``/``AvgPoolGrad``; ``tf.reduce_max``/``reduce_mean``
  (global, forward); ``tf.nn.conv2d`` channels-last with its two backprop ops;
- **numpy**: the reshape recipe (``x.reshape(N, C, H/2, 2, W/2, 2).max((3, 5))``), for the
  non-overlapping 2x2/s2 forward cases only; single-threaded;
- **roofline**: ``cypool._stream.stream``, an OpenMP streaming kernel that reads and writes the same
  numbers of bytes as the pooling call (input and output; gradients and indices for a backward)
  with plain vectorised loops, on the thread count cypool's policy gives the call.

Columns: times in ms; ``cypool/torch`` (< 1: cypool faster); ``cypool/roofline`` (>= 1; 1 is the
machine's streaming bandwidth); ``GB/s`` = (bytes read + bytes written) / cypool's time. The
geometric mean of cypool/torch is taken over the headline cases (marked ``*``): the layers of
common networks. ``--all`` adds the operator table (every operator family, forward and backward,
both data formats) to the default cases.

A separate bandwidth case pools a 256 MB float32 input (2x2/s2 max and average, forward and
backward) and gives cypool's GB/s as a fraction of the streaming kernel's: with ``out=`` against a
stream into a reused buffer, and returning a new array against a stream into a new buffer per
call. Without torch the torch columns are blank.

``--processes N`` times instead every row whose call returns 8 MB or more in N fresh processes
per setting (NumPy's huge-page advice on and off, set through ``NUMPY_MADVISE_HUGEPAGE``), one
row per process, and reports each process's median and the spread (slowest process median /
fastest), cypool's and torch's.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np

import cypool
from cypool import _stream, _threads

from .timing import SAMPLE_SECONDS, time_interleaved

CF, CL = "channels_first", "channels_last"
FORMATS = (CF, CL)
SEED = 1234
SMOKE_SAMPLE_SECONDS = 1e-3
PEERS = ("torch", "tensorflow", "jax")


@dataclass(frozen=True)
class Case:
    name: str
    op: str                     # a key of OPERATORS ("max", "avg", "gap", "lp", "conv", ...)
    shape: tuple                # logical (N, C, *spatial) of the forward input (unpool: its output)
    kernel: int = 0
    stride: int = 0
    padding: int = 0
    directions: tuple = ("fwd", "bwd")
    dtype: str = "float32"
    return_indices: bool = False
    headline: bool = True       # a layer of a common network (enters the geometric mean)
    arg: object = None          # the operator's own parameter: adaptive output size, Lp norm,
    #                             SPP levels, blur filter size, conv output channels, fractional
    #                             output size

    @property
    def rank(self) -> int:
        return len(self.shape) - 2

    def window(self) -> str:
        op, k, s, a = self.op, self.kernel, self.stride, self.arg
        if op in ("gap", "global_avg", "global_max"):
            return "global"
        if op in ("adaptive_avg", "adaptive_max"):
            return f"-> {a}x{a}"
        if op == "spp":
            return "levels " + ",".join(map(str, a))
        if op == "blur":
            return f"filter {a} s{s}"
        if op == "maxblur":
            return f"{k}x{k} s1, filter {a} s{s}"
        if op == "fractional":
            return f"{k}x{k} -> {a}x{a}"
        w = f"{k}x" * (self.rank - 1) + f"{k} s{s}"
        w += f" p{self.padding}" if self.padding else ""
        if op == "lp":
            return f"L{a:g} {w}"
        if op == "conv":
            return f"{w}, {a} out ch"
        return w


CASES = [
    Case("vgg-max2", "max", (16, 64, 112, 112), 2, 2),
    Case("resnet-stem-max3", "max", (32, 64, 112, 112), 3, 2, 1),
    Case("small-max2", "max", (64, 32, 28, 28), 2, 2),
    Case("avg2", "avg", (16, 64, 112, 112), 2, 2),
    Case("inception-avg3s1", "avg", (8, 256, 56, 56), 3, 1, 1),
    Case("head-gap", "gap", (32, 512, 7, 7), directions=("fwd",)),
    Case("tiny-max2", "max", (1, 16, 8, 8), 2, 2, directions=("fwd",)),
    # Extra rows for generality (not in the geometric mean).
    Case("max2-indices", "max", (16, 64, 56, 56), 2, 2, directions=("fwd",), return_indices=True,
         headline=False),
    Case("max2-float64", "max", (16, 64, 56, 56), 2, 2, dtype="float64", headline=False),
    Case("odd-max3s2", "max", (8, 48, 55, 55), 3, 2, headline=False),
    Case("odd-avg3s2p1", "avg", (8, 48, 57, 57), 3, 2, 1, headline=False),
    Case("1d-max3s2p1", "max", (32, 64, 4096), 3, 2, 1, directions=("fwd",), headline=False),
    Case("3d-max2", "max", (4, 32, 32, 56, 56), 2, 2, directions=("fwd",), headline=False),
    Case("3d-avg3s1p1", "avg", (2, 32, 16, 28, 28), 3, 1, 1, directions=("fwd",), headline=False),
    # late layers: small planes, many channels
    Case("late-max2", "max", (32, 256, 14, 14), 2, 2, headline=False),
    Case("late-avg3s1p1", "avg", (32, 512, 7, 7), 3, 1, 1, headline=False),
]

# The operator table (--all): every operator family, forward and backward, not in the geometric
# mean. The 2-d max and average rows are the cases above.
OPERATOR_CASES = [
    Case("op-max1d", "max", (32, 64, 4096), 3, 2, 1, headline=False),
    Case("op-avg1d", "avg", (32, 64, 4096), 3, 2, 1, headline=False),
    Case("op-max3d", "max", (4, 32, 32, 56, 56), 2, 2, headline=False),
    Case("op-avg3d", "avg", (4, 32, 32, 56, 56), 2, 2, headline=False),
    Case("adaptive-avg-56to7", "adaptive_avg", (16, 128, 56, 56), arg=7, headline=False),
    Case("adaptive-avg-13to6", "adaptive_avg", (32, 256, 13, 13), arg=6, headline=False),
    Case("adaptive-avg-7to1", "adaptive_avg", (32, 512, 7, 7), arg=1, headline=False),
    Case("adaptive-max-56to7", "adaptive_max", (16, 128, 56, 56), arg=7, headline=False),
    Case("adaptive-max-13to6", "adaptive_max", (32, 256, 13, 13), arg=6, headline=False),
    Case("adaptive-max-7to1", "adaptive_max", (32, 512, 7, 7), arg=1, headline=False),
    Case("global-avg", "global_avg", (32, 512, 7, 7), headline=False),
    Case("global-max", "global_max", (32, 512, 7, 7), headline=False),
    Case("unpool2", "unpool", (16, 64, 112, 112), 2, 2, headline=False),
    Case("lp2", "lp", (16, 64, 112, 112), 2, 2, arg=2.0, headline=False),
    Case("blur3", "blur", (16, 64, 112, 112), stride=2, arg=3, headline=False),
    Case("maxblur", "maxblur", (8, 64, 112, 112), 2, 2, arg=3, headline=False),
    Case("stochastic2", "stochastic", (16, 64, 112, 112), 2, 2, headline=False),
    Case("spp-4-2-1", "spp", (16, 256, 13, 13), arg=(4, 2, 1), headline=False),
    Case("conv3x3", "conv", (8, 32, 56, 56), 3, 1, 1, arg=32, headline=False),
    Case("fractional2", "fractional", (8, 64, 112, 112), 2, arg=56, headline=False),
]
ALL_CASES = CASES + OPERATOR_CASES
BIG_SHAPE = (16, 64, 256, 256)   # 256 MiB of float32
BIG_MB = 8                       # --processes: rows whose call returns at least this many MB


def _smoke_shape(shape: tuple) -> tuple:
    """A tiny shape of the same rank and spatial parity (for tests)."""
    n, c, *spatial = shape
    return (min(n, 2), min(c, 4), *(min(L, 12 + L % 2) for L in spatial))


def find_case(name: str) -> Case:
    for case in ALL_CASES:
        if case.name == name:
            return case
    raise ValueError(f"unknown case {name!r}; known: {', '.join(c.name for c in ALL_CASES)}")


# ----------------------------------------------------------------------------- data and callables

def _stored(shape: tuple, fmt: str) -> tuple:
    return (shape[0], *shape[2:], shape[1]) if fmt == CL else tuple(shape)


def _random(rng, shape, fmt, dtype) -> np.ndarray:
    """Seeded uniform [-0.5, 0.5) data, C-contiguous in the memory order of fmt."""
    x = rng.random(_stored(shape, fmt), dtype=np.dtype(dtype))
    x -= 0.5
    return x


def _torch_view(torch, a: np.ndarray, fmt: str):
    """The same memory as a logical (N, C, *spatial) tensor (channels_last memory format for CL)."""
    t = torch.from_numpy(a)
    if fmt == CL:
        t = t.movedim(-1, 1)
    return t


def _cypool_fn(name: str, rank: int):
    return getattr(cypool, f"{name}{rank}d")


def _nbytes(result) -> int:
    if isinstance(result, (tuple, list)):
        return sum(_nbytes(r) for r in result)
    return result.nbytes


@dataclass
class Row:
    case: Case
    direction: str
    fmt: str
    nbytes: int
    threads: int
    shape: tuple = ()
    times: dict = field(default_factory=dict)    # candidate -> seconds per call
    check: str = ""
    out_nbytes: int = 0                          # bytes of the arrays cypool's call returns

    def ratio(self, other: str):
        if "cypool" in self.times and other in self.times:
            return self.times["cypool"] / self.times[other]
        return None

    def best_peer(self):
        """cypool's time over the fastest installed peer's (torch, tensorflow, jax)."""
        peers = [self.times[p] for p in PEERS if p in self.times]
        return self.times["cypool"] / min(peers) if peers and "cypool" in self.times else None

    @property
    def gbs(self):
        return self.nbytes / self.times["cypool"] / 1e9 if "cypool" in self.times else None


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


def case_nc(x: np.ndarray, fmt: str) -> tuple:
    return (x.shape[0], x.shape[-1]) if fmt == CL else x.shape[:2]


def _spatial(x: np.ndarray, fmt: str) -> tuple:
    return x.shape[1:-1] if fmt == CL else x.shape[2:]


# ----------------------------------------------------------------------------- TensorFlow and JAX

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


# ----------------------------------------------------------------------------- one row

def _candidates(case: Case, direction: str, fmt: str, shape: tuple, torch, rng):
    """({candidate: zero-arg callable}, bytes moved, check string, bytes cypool's call returns)
    for one row."""
    x = _random(rng, shape, fmt, case.dtype)
    o = _operator(case, fmt, x, torch, rng)
    cands, checks = {}, []
    tol = o.tol or (1e-5 if x.dtype == np.float32 else 1e-12)
    if direction == "fwd":
        result = o.fwd()
        cands["cypool"] = o.fwd
        if torch is not None and o.torch_fwd is not None:
            tx, tf_ = _torch_view(torch, o.inp, fmt), o.torch_fwd
            with torch.no_grad():
                checks.append(("torch", _check(result, tf_(tx), fmt, tol)))

            def torch_call():
                with torch.no_grad():
                    return tf_(tx)
            cands["torch"] = torch_call
        moved = (o.inp.nbytes + o.fwd_read, _nbytes(result))
        _peers_of_row(direction, o, fmt, cands, checks, result, None, tol)
        if _numpy_recipe_applies(case):
            cands["numpy"] = _numpy_recipe(x, fmt, case.op)
    else:
        if o.bwd is None:
            raise ValueError(f"{case.name}: the backward is not benchmarked")
        y, aux = o.fwd_aux()
        y0 = y[0] if isinstance(y, tuple) else y
        g = _random(rng, y0.shape, CF, case.dtype)  # y0.shape is stored: g has y's layout
        result = o.bwd(g, aux)
        cands["cypool"] = lambda: o.bwd(g, aux)
        aux_bytes = _nbytes([a for a in (aux if isinstance(aux, list) else [aux])
                             if a is not None])
        moved = (g.nbytes + aux_bytes + (o.bwd_read or 0), _nbytes(result))
        if torch is not None and o.torch_fwd is not None:
            cands["torch"], theirs = _torch_backward(torch, o, fmt, g)
            checks.append(("torch", _check(result, theirs, fmt, tol)))
        _peers_of_row(direction, o, fmt, cands, checks, result, g, tol)
    cands["roofline"] = _roofline(*moved)
    bad = [name for name, c in checks if c != "ok"]
    check = ("DIFFERS: " + ", ".join(bad)) if bad else ("ok" if checks else "")
    return cands, sum(moved), check, _nbytes(result)


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
        theirs = t.numpy()
    return theirs


def _check(ours, theirs, fmt: str, tol: float = 1e-5, stored: bool = False) -> str:
    """'ok' when cypool's result equals the peer's (to float rounding; every array of a tuple
    result), else 'DIFFERS'."""
    if not isinstance(ours, (tuple, list)):
        ours = (ours,)
    if not isinstance(theirs, (tuple, list)):
        theirs = (theirs,)
    for a, b in zip(ours, theirs):   # a max pooling's indices are compared through the values
        b = _as_numpy(b, fmt, a.shape, stored)
        if a.dtype.kind != "f":
            continue
        if a.shape != b.shape or not np.allclose(a, b, rtol=tol, atol=tol):
            return "DIFFERS"
    return "ok"


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


# ----------------------------------------------------------------------------- running

def _import_torch(use_torch: bool):
    if not use_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def _selected(only, all_ops: bool) -> list:
    cases = ALL_CASES if all_ops or only else CASES
    return [c for c in cases if not only or c.name in only]


class _Threads:
    """cypool's and torch's thread counts set for a run, restored after it."""

    def __init__(self, threads, torch):
        self.threads, self.torch = threads, torch

    def __enter__(self):
        self.old_cy = _threads._global_n_threads
        self.old_torch = self.torch.get_num_threads() if self.torch is not None else None
        cypool.set_num_threads(self.threads)
        if self.torch is not None:
            self.torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        cypool.set_num_threads(self.old_cy)
        if self.torch is not None:
            self.torch.set_num_threads(self.old_torch)


def measure_row(case: Case, direction: str, fmt: str, torch, rng, repeat: int, sample: float,
                smoke: bool, keep=None) -> Row:
    """One row: its candidates (those named in keep, when given) timed interleaved in this
    process."""
    shape = _smoke_shape(case.shape) if smoke else case.shape
    cands, nbytes, check, out_nbytes = _candidates(case, direction, fmt, shape, torch, rng)
    if keep is not None:
        cands = {k: v for k, v in cands.items() if k in keep}
    nt = _threads.threads_for(nbytes, 1 << 30)
    row = Row(case, direction, fmt, nbytes, nt, shape, check=check, out_nbytes=out_nbytes)
    row.times = time_interleaved(cands, repeat, sample_seconds=sample)
    return row


def run(threads: int = 2, repeat: int = 7, quick: bool = False, out: str | None = None,
        skip_big: bool = False, smoke: bool = False, use_torch: bool = True,
        only: list[str] | None = None, verbose: bool = True, all_ops: bool = False,
        peers=("tensorflow", "jax"), big_only: bool = False) -> dict:
    """Run the comparison; returns {"rows": [Row], "big": [...], "geomean": float | None, ...}
    and, with `out`, writes out/compare_frameworks.md and out/compare_frameworks.png.
    all_ops: the operator table too; peers: the optional peers to use when installed."""
    if quick:
        repeat = min(repeat, 3)
    torch = _import_torch(use_torch)
    loaded = _load_peers(peers or (), threads)
    rng = np.random.default_rng(SEED)
    rows, big = [], []
    load_before = _loadavg()
    sample = SMOKE_SAMPLE_SECONDS if smoke else SAMPLE_SECONDS
    log = print if verbose else (lambda *a, **k: None)
    with _Threads(threads, torch):
        for case in ([] if big_only else _selected(only, all_ops)):
            for direction in case.directions:
                for fmt in FORMATS:
                    rows.append(measure_row(case, direction, fmt, torch, rng, repeat, sample,
                                            smoke))
                    log(_format_row(rows[-1]))
        if not skip_big:
            shape = _smoke_shape(BIG_SHAPE) if smoke else BIG_SHAPE
            for op in ("max", "avg"):
                for direction in ("fwd", "bwd"):
                    for fmt in FORMATS:
                        big.append(_bandwidth_case(shape, fmt, repeat, rng, sample, op,
                                                   direction))
                        log(_format_big(big[-1]))
    ratios = [r.ratio("torch") for r in rows if r.case.headline and r.ratio("torch")]
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None
    result = {"rows": rows, "big": big, "geomean": geomean, "threads": threads, "repeat": repeat,
              "torch": torch.__version__ if torch is not None else None, "smoke": smoke,
              "peers": {name: m.__version__ for name, m in loaded.items()},
              "load": (load_before, _loadavg())}
    if out:
        os.makedirs(out, exist_ok=True)
        md = os.path.join(out, "compare_frameworks.md")
        with open(md, "w", encoding="utf-8") as f:
            f.write(markdown(result))
        result["markdown"] = md
        result["png"] = plot(result, os.path.join(out, "compare_frameworks.png"))
        log(f"wrote {md}" + (f" and {result['png']}" if result["png"] else ""))
    return result


def _bandwidth_case(shape, fmt, repeat, rng, sample, op="max", direction="fwd") -> dict:
    """cypool's 2x2/s2 max or average (forward or backward) of a big input against the streaming
    kernel moving the same bytes, in like-for-like pairs: a call returning a new array against a
    stream into a new buffer per call (both pay the output's first-touch page faults), and a call
    with out= against a stream into a reused buffer (neither does)."""
    x = _random(rng, shape, fmt, "float32")
    kw = {"data_format": fmt}
    if op == "max":
        y, idx = cypool.max_pool2d(x, 2, 2, return_indices=True, **kw)
    else:
        y, idx = cypool.avg_pool2d(x, 2, 2, **kw), None
    if direction == "fwd":
        f = cypool.max_pool2d if op == "max" else cypool.avg_pool2d
        call = lambda **o: f(x, 2, 2, **kw, **o)  # noqa: E731
        read, written = x.nbytes, y.nbytes
    else:
        g = _random(rng, y.shape, CF, "float32")  # y.shape is stored: g has y's layout
        if op == "max":
            call = lambda **o: cypool.max_pool2d_backward(g, idx, x.shape, **kw, **o)  # noqa
            read = g.nbytes + idx.nbytes
        else:
            call = lambda **o: cypool.avg_pool2d_backward(g, x.shape, 2, 2, **kw, **o)  # noqa
            read = g.nbytes
        written = x.nbytes
    out = np.empty_like(call())
    del y
    nbytes = read + written
    cands = {"cypool": call,
             "cypool_out": lambda: call(out=out),
             "roofline": _roofline(read, written),
             "roofline_fresh": _roofline(read, written, fresh_output=True)}
    t = time_interleaved(cands, repeat, sample_seconds=sample)
    gbs = {k: nbytes / v / 1e9 for k, v in t.items()}
    return {"shape": shape, "fmt": fmt, "op": op, "direction": direction,
            "mb": x.nbytes / 2**20, "moved_mb": nbytes / 2**20,
            "cypool_ms": t["cypool"] * 1e3, "cypool_gbs": gbs["cypool"],
            "out_ms": t["cypool_out"] * 1e3, "out_gbs": gbs["cypool_out"],
            "stream_ms": t["roofline"] * 1e3, "stream_gbs": gbs["roofline"],
            "fresh_ms": t["roofline_fresh"] * 1e3, "fresh_gbs": gbs["roofline_fresh"],
            "out_fraction": gbs["cypool_out"] / gbs["roofline"],
            "fresh_fraction": gbs["cypool"] / gbs["roofline_fresh"],
            "fraction": gbs["cypool"] / gbs["roofline"]}


def _format_big(b: dict) -> str:
    return (f"bandwidth 2x2/s2 {b['op']} {b['direction']} {b['shape']} {b['fmt']}: out= "
            f"{b['out_gbs']:.1f} GB/s = {b['out_fraction']:.2f} of the stream "
            f"({b['stream_gbs']:.1f} GB/s); new array {b['cypool_gbs']:.1f} GB/s = "
            f"{b['fresh_fraction']:.2f} of the fresh-buffer stream ({b['fresh_gbs']:.1f} GB/s), "
            f"{b['fraction']:.2f} of the stream")


# ----------------------------------------------------------------------------- fresh processes

# Settings of the fresh-process mode: environment of each child.
SETTINGS = {"on": {"NUMPY_MADVISE_HUGEPAGE": "1"}, "off": {"NUMPY_MADVISE_HUGEPAGE": "0"}}
CHILD_TAG = "cypool-bench-child:"


def _madvise_hugepage():
    """NumPy's huge-page advice in this process (True/False), or None where NumPy lacks the
    switch. (NumPy's setter returns the old value: set it back at once.)"""
    mod = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(mod, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:
        return None
    old = setter(True)
    setter(old)
    return bool(old)


def child(key: str, threads: int, repeat: int, smoke: bool, use_torch: bool) -> dict:
    """One row (key 'case/direction/format') timed in this process: per-candidate medians
    (seconds), the bytes cypool's call returns and NumPy's huge-page advice."""
    name, direction, fmt = key.split("/")
    case = find_case(name)
    torch = _import_torch(use_torch)
    _load_peers((), threads)
    with _Threads(threads, torch):
        row = measure_row(case, direction, fmt, torch, np.random.default_rng(SEED), repeat,
                          SMOKE_SAMPLE_SECONDS if smoke else SAMPLE_SECONDS, smoke,
                          keep=("cypool", "torch"))
    return {"times": row.times, "out_nbytes": row.out_nbytes, "check": row.check,
            "madvise_hugepage": _madvise_hugepage(), "threads": row.threads, "pid": os.getpid()}


def _cypool_home() -> str:
    """The folder this process imported cypool from."""
    return os.path.dirname(os.path.dirname(os.path.abspath(cypool.__file__)))


def _child_env(extra: dict) -> dict:
    """The environment of a child: this process's, with the folder cypool was imported from
    first on the path (the child imports this same build) and the setting's variables."""
    path = os.pathsep.join(p for p in (_cypool_home(), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def _run_child(key, setting_env, threads, repeat, smoke, use_torch) -> dict:
    cmd = [sys.executable, "-m", "cypool.commands.bench", "--child", key,
           "--threads", str(threads), "--repeat", str(repeat)]
    cmd += ["--smoke"] if smoke else []
    cmd += [] if use_torch else ["--no-torch"]
    # run in cypool's folder: `-m` puts the working folder first on the path
    p = subprocess.run(cmd, env=_child_env(setting_env), cwd=_cypool_home(),
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"the child process for {key} failed:\n{p.stderr[-2000:]}")
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(CHILD_TAG):
            return json.loads(line[len(CHILD_TAG):])
    raise RuntimeError(f"the child process for {key} printed no result:\n{p.stdout[-2000:]}")


def big_rows(cases, min_mb: float, smoke: bool) -> list:
    """(case, direction, format, bytes returned) of every row whose cypool call returns at least
    min_mb MB (1e6 bytes), found by running each call once (no peers, no timing)."""
    rows = []
    rng = np.random.default_rng(SEED)
    for case in cases:
        shape = _smoke_shape(case.shape) if smoke else case.shape
        for direction in case.directions:
            for fmt in FORMATS:
                x = _random(rng, shape, fmt, case.dtype)
                o = _operator(case, fmt, x, None, rng)
                if direction == "fwd":
                    n = _nbytes(o.fwd())
                else:
                    y, aux = o.fwd_aux()
                    y0 = y[0] if isinstance(y, tuple) else y
                    n = _nbytes(o.bwd(np.ones_like(y0), aux))
                del x, o
                if n >= min_mb * 1e6:
                    rows.append((case, direction, fmt, n))
    return rows


def run_processes(processes: int = 5, threads: int = 2, repeat: int = 7, smoke: bool = False,
                  use_torch: bool = True, only=None, all_ops: bool = False, min_mb: float = BIG_MB,
                  settings=("on", "off"), output_cache: bool = True,
                  verbose: bool = True) -> dict:
    """Every row returning >= min_mb MB, timed in `processes` fresh processes per setting of
    NumPy's huge-page advice (one row per process; rows and settings interleaved, so a burst of
    load on the machine hits all of them). Returns {"rows": [{case, direction, fmt, out_nbytes,
    runs: {setting: [child result]}}], ...}."""
    log = print if verbose else (lambda *a, **k: None)
    extra = {} if output_cache else {"CYPOOL_OUTPUT_CACHE": "0"}
    rows = [{"case": c, "direction": d, "fmt": f, "out_nbytes": n,
             "runs": {s: [] for s in settings}}
            for c, d, f, n in big_rows(_selected(only, all_ops), min_mb, smoke)]
    log(f"{len(rows)} rows return >= {min_mb} MB; {processes} fresh processes each per setting")
    load_before = _loadavg()
    for i in range(processes):
        for r in rows:
            key = f"{r['case'].name}/{r['direction']}/{r['fmt']}"
            for s in settings:
                res = _run_child(key, {**SETTINGS[s], **extra}, threads, repeat, smoke,
                                 use_torch)
                r["runs"][s].append(res)
                log(f"process {i + 1}/{processes} {key} huge pages {s}: " + ", ".join(
                    f"{k} {v * 1e3:.2f} ms" for k, v in res["times"].items()))
    return {"rows": rows, "processes": processes, "threads": threads, "repeat": repeat,
            "smoke": smoke, "settings": list(settings), "output_cache": output_cache,
            "min_mb": min_mb, "load": (load_before, _loadavg())}


def spread(values) -> float:
    """Slowest over fastest."""
    return max(values) / min(values)


def markdown_processes(result: dict) -> str:
    lines = [
        "# cypool and torch in fresh processes: calls returning a big new array",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {_machine()}; "
        f"{result['threads']} threads; numpy {np.__version__}; {result['processes']} fresh "
        f"processes per row and setting, each the median of {result['repeat']} interleaved "
        f"samples (cypool, torch); rows returning >= {result['min_mb']} MB"
        + ("" if result["output_cache"] else "; cypool's output cache off")
        + ("; SMOKE RUN (tiny shapes)" if result["smoke"] else "") + "."
        + (" 1-minute load average {} at the start, {} at the end.".format(*result["load"])
           if None not in result.get("load", (None,)) else ""),
        "",
        "`huge pages`: NumPy's huge-page advice (`NUMPY_MADVISE_HUGEPAGE`). Per-process medians "
        "in ms, in run order; `spread` = slowest process median / fastest; `worst cypool/torch`: "
        "the largest ratio of the two medians of one process.",
        "",
        "| case | dir | format | MB returned | huge pages | cypool ms per process | cypool "
        "spread | torch ms per process | torch spread | worst cypool/torch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        for s in result["settings"]:
            runs = r["runs"][s]
            ours = [x["times"]["cypool"] * 1e3 for x in runs]
            theirs = [x["times"]["torch"] * 1e3 for x in runs if "torch" in x["times"]]
            worst = max((x["times"]["cypool"] / x["times"]["torch"] for x in runs
                         if "torch" in x["times"]), default=None)
            lines.append(
                f"| {r['case'].name} | {r['direction']} | {'CF' if r['fmt'] == CF else 'CL'} | "
                f"{r['out_nbytes'] / 1e6:.1f} | {s} | {' '.join(f'{v:.2f}' for v in ours)} | "
                f"**{spread(ours):.2f}** | {' '.join(f'{v:.2f}' for v in theirs)} | "
                + (f"{spread(theirs):.2f}" if theirs else "") + " | "
                + (f"{worst:.2f}" if worst is not None else "") + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- reporting

BASE_COLUMNS = ["case", "dir", "format", "shape", "window", "MB moved", "thr", "cypool ms",
                "torch ms", "numpy ms", "roofline ms", "cypool/torch", "cypool/roofline", "GB/s",
                "check"]
COLUMNS = BASE_COLUMNS
PEER_COLUMNS = ["tensorflow ms", "jax ms", "cypool/best peer"]


def _columns(rows) -> list:
    """The base columns, plus TensorFlow's and JAX's when a row has them."""
    if any(p in r.times for r in rows for p in ("tensorflow", "jax")):
        i = BASE_COLUMNS.index("numpy ms")
        return BASE_COLUMNS[:i] + PEER_COLUMNS[:2] + BASE_COLUMNS[i:-1] + PEER_COLUMNS[2:] + [
            "check"]
    return BASE_COLUMNS


def _ms(t) -> str:
    if t is None:
        return ""
    ms = t * 1e3
    return f"{ms:.4f}" if ms < 0.1 else f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def _num(v, fmt="{:.2f}") -> str:
    return "" if v is None else fmt.format(v)


def _cell_map(row: Row) -> dict:
    c = row.case
    dt = "" if c.dtype == "float32" else f" {c.dtype}"
    return {
        "case": c.name + ("*" if c.headline else "") + dt, "dir": row.direction,
        "format": "CF" if row.fmt == CF else "CL", "shape": "x".join(map(str, _shape_of(row))),
        "window": c.window() + (" +idx" if c.return_indices and row.direction == "fwd" else ""),
        "MB moved": f"{row.nbytes / 1e6:.2f}", "thr": str(row.threads),
        "cypool ms": _ms(row.times.get("cypool")), "torch ms": _ms(row.times.get("torch")),
        "tensorflow ms": _ms(row.times.get("tensorflow")), "jax ms": _ms(row.times.get("jax")),
        "numpy ms": _ms(row.times.get("numpy")), "roofline ms": _ms(row.times.get("roofline")),
        "cypool/torch": _num(row.ratio("torch")), "cypool/roofline": _num(row.ratio("roofline")),
        "cypool/best peer": _num(row.best_peer()), "GB/s": _num(row.gbs, "{:.1f}"),
        "check": row.check}


def _cells(row: Row, columns=BASE_COLUMNS) -> list[str]:
    cells = _cell_map(row)
    return [cells[c] for c in columns]


def _shape_of(row: Row) -> tuple:
    return row.shape or row.case.shape


def _format_row(row: Row) -> str:
    return " | ".join(f"{h}={v}" for h, v in _cell_map(row).items() if v)


def markdown(result: dict) -> str:
    rows = result["rows"]
    columns = _columns(rows)
    peers = result.get("peers") or {}
    lines = [
        "# cypool vs PyTorch, NumPy and a streaming roofline",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {_machine()}; "
        f"{result['threads']} threads; median of {result['repeat']} interleaved samples; "
        f"numpy {np.__version__}; torch {result['torch'] or 'not installed'}"
        + "".join(f"; {name} {v}" for name, v in peers.items())
        + ("; SMOKE RUN (tiny shapes)" if result["smoke"] else "") + "."
        + (" 1-minute load average {} at the start, {} at the end (other jobs share the CPUs: "
           "compare ratios, not absolute times).".format(*result["load"])
           if None not in result.get("load", (None,)) else ""),
        "",
        "Times per call in ms. `cypool/torch` < 1: cypool is faster. `cypool/roofline`: cypool's "
        "time over the streaming kernel's for the same bytes (1 = the machine's bandwidth). "
        "`GB/s`: (bytes read + written) / cypool's time. `thr`: threads cypool's policy uses for "
        "the call. `check`: cypool's result equals the peers'. `*`: a headline case (a layer of a "
        "common network).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cells(row, columns)) + " |")
    lines.append("")
    g = result["geomean"]
    n = sum(1 for r in rows if r.case.headline and r.ratio("torch"))
    lines.append(f"Geometric mean of cypool/torch over the {n} rows of the headline cases: "
                 + (f"**{g:.3f}**" if g is not None else "n/a (torch not installed)") + ".")
    if result["big"]:
        lines += ["", "Bandwidth: 2x2/s2 max and average, forward and backward, of a float32 "
                  "input against cypool's streaming kernel moving the same bytes, interleaved in "
                  "this process, in like-for-like pairs: `out=` (cypool writing into a reused "
                  "array) against the stream into a reused buffer; a new array per call (the "
                  "default) against the stream into a new buffer per call (both pay the "
                  "first-touch page faults of the output). The last column sets the new-array "
                  "call against the reused-buffer stream.", "",
                  "| op | dir | format | shape | MB moved | out= ms | stream ms | out= / stream "
                  "| new array ms | fresh stream ms | new / fresh | new / stream |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for b in result["big"]:
            lines.append(f"| {b['op']} | {b['direction']} | {'CF' if b['fmt'] == CF else 'CL'} "
                         f"| {'x'.join(map(str, b['shape']))} | {b['moved_mb']:.0f} | "
                         f"{b['out_ms']:.1f} | {b['stream_ms']:.1f} | "
                         f"**{b['out_fraction']:.2f}** | {b['cypool_ms']:.1f} | "
                         f"{b['fresh_ms']:.1f} | **{b['fresh_fraction']:.2f}** | "
                         f"{b['fraction']:.2f} |")
    return "\n".join(lines) + "\n"


def _loadavg():
    try:
        return round(os.getloadavg()[0], 1)
    except (AttributeError, OSError):
        return None


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs"


def plot(result: dict, path: str) -> str | None:
    """Bar chart of cypool/torch per row (log scale, a line at 1); None without matplotlib or
    torch."""
    rows = [r for r in result["rows"] if r.ratio("torch")]
    if not rows:
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    labels = []
    for r in rows:
        label = f"{r.case.name}{'*' if r.case.headline else ''} {r.direction}"
        if label not in labels:
            labels.append(label)
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(labels) + 2), 5))
    width = 0.4
    for j, (fmt, color) in enumerate(((CF, "tab:blue"), (CL, "tab:orange"))):
        xs, hs = [], []
        for r in rows:
            if r.fmt == fmt:
                xs.append(labels.index(f"{r.case.name}{'*' if r.case.headline else ''} "
                                       f"{r.direction}") + (j - 0.5) * width)
                hs.append(r.ratio("torch"))
        ax.bar(xs, hs, width, color=color, label=fmt)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("cypool time / torch time (log; < 1: cypool faster)")
    g = result["geomean"]
    ax.set_title(f"cypool vs PyTorch {result['torch']}, {result['threads']} threads"
                 + (f"; geometric mean over the headline cases (*) {g:.2f}" if g else ""),
                 fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="cypool bench", description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="threads for cypool and torch (2)")
    ap.add_argument("--repeat", type=int, default=7, help="samples per candidate; median (7)")
    ap.add_argument("--quick", action="store_true", help="3 samples instead of --repeat")
    ap.add_argument("--out", metavar="DIR", help="write DIR/compare_frameworks.md and .png "
                    "(with --processes: DIR/new_output_stability.md)")
    ap.add_argument("--skip-big", action="store_true", help="skip the 256 MB bandwidth case")
    ap.add_argument("--big-only", action="store_true", help="only the 256 MB bandwidth case")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes (a test of the script)")
    ap.add_argument("--no-torch", action="store_true", help="do not compare with torch")
    ap.add_argument("--no-peers", action="store_true",
                    help="do not compare with TensorFlow or JAX even when installed")
    ap.add_argument("--all", action="store_true", dest="all_ops",
                    help="add the operator table: every operator, forward and backward")
    ap.add_argument("--case", action="append", metavar="NAME",
                    help="run only this case (repeatable): "
                    + ", ".join(c.name for c in ALL_CASES))
    ap.add_argument("--processes", type=int, metavar="N",
                    help="time every row returning a big new array in N fresh processes per "
                    "setting of NumPy's huge-page advice, and report the spread")
    ap.add_argument("--min-mb", type=float, default=BIG_MB,
                    help=f"--processes: rows whose call returns at least this many MB ({BIG_MB})")
    ap.add_argument("--huge-pages", choices=("on", "off", "both"), default="both",
                    help="--processes: NumPy's huge-page advice in the children (both)")
    ap.add_argument("--no-output-cache", action="store_true",
                    help="--processes: children with cypool's output cache off")
    ap.add_argument("--child", metavar="CASE/DIR/FORMAT", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.threads < 1 or a.repeat < 1:
        ap.error("--threads and --repeat must be positive")
    if a.processes is not None and a.processes < 1:
        ap.error(f"--processes must be positive, got {a.processes}")
    unknown = [n for n in a.case or () if n not in {c.name for c in ALL_CASES}]
    if unknown:
        ap.error(f"unknown --case {', '.join(unknown)}")
    if a.child:
        res = child(a.child, a.threads, min(a.repeat, 3) if a.quick else a.repeat, a.smoke,
                    not a.no_torch)
        print(CHILD_TAG + json.dumps(res))
        return 0
    if a.processes:
        settings = ("on", "off") if a.huge_pages == "both" else (a.huge_pages,)
        result = run_processes(a.processes, a.threads, min(a.repeat, 3) if a.quick else a.repeat,
                               a.smoke, not a.no_torch, a.case, a.all_ops, a.min_mb, settings,
                               not a.no_output_cache)
        text = markdown_processes(result)
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            with open(os.path.join(a.out, "new_output_stability.md"), "w", encoding="utf-8") as f:
                f.write(text)
        print()
        print(text)
        return 0
    result = run(threads=a.threads, repeat=a.repeat, quick=a.quick, out=a.out,
                 skip_big=a.skip_big, smoke=a.smoke, use_torch=not a.no_torch, only=a.case,
                 all_ops=a.all_ops, peers=() if a.no_peers else ("tensorflow", "jax"),
                 big_only=a.big_only)
    print()
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

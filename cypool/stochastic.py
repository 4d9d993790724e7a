"""Stochastic pooling (Zeiler & Fergus 2013), forward and backward: the Python side of
pyx/_stochastic.pyx. The backward is the index scatter of max pooling (max._max_backward).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from . import _stochastic
from ._geometry import _is_int, check_bool, pool_geometry
from ._plan import Plan
from ._steps import CF, destination, flat_input, prepare, reads_as_given
from .max import _max_backward

_DUMMY_F64 = np.zeros(1, np.float64)
_DUMMY_I64 = np.zeros(1, np.int64)


def _generator(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (_is_int(seed) and seed >= 0):
        return np.random.default_rng(seed)
    if _is_int(seed):  # the right type, a value out of range
        raise ValueError(f"seed must be non-negative, got seed={seed!r}")
    raise TypeError(f"seed must be None, a non-negative int or a numpy.random.Generator, "
                    f"got seed={seed!r}")


def stochastic_pool2d(x, kernel_size, stride=None, training=True, seed=None,
                      return_indices=False, data_format=CF):
    """Stochastic pooling (Zeiler & Fergus 2013), no padding, floor mode.

    Weights are r = max(x, 0). training=True samples one cell per window with probability
    r_i / sum(r) and returns its value; evaluation returns sum(r^2) / sum(r). A window whose
    weights are all zero (all zeros or all negative) samples a cell uniformly and returns its
    value (evaluation: 0). A NaN in a window gives NaN (index: the first NaN).
    `seed`: None, an int or a numpy Generator; one uniform per window is drawn from it in
    (N, C, OH, OW) order, so the same seed gives the same result for any thread count and data
    format. return_indices (training only) gives the sampled cells, flat per plane, for
    stochastic_pool2d_backward.
    """
    # Every call draws its own uniforms, so its plan is built for it and not kept.
    return _stochastic_plan(x, kernel_size, stride, training, seed, return_indices,
                            data_format).run(x)


class _Stochastic:
    """pyx/_stochastic.pyx's kernel in the plans' call convention, (x, y, indices or None,
    n_threads), with this call's uniforms (one per window, in the kernel's memory order)."""
    __slots__ = ("u", "window", "outer", "c", "cl", "training")

    def __init__(self, u, window, outer, c, cl, training):
        self.u, self.window, self.outer, self.c, self.cl = u, window, outer, c, cl
        self.training = training

    def __call__(self, src, dst, indices, n_threads):
        # ravel("K"): the buffers are contiguous in the kernel's memory order, so these are views
        idx = indices.ravel("K") if self.training else _DUMMY_I64
        _stochastic.stochastic_forward(src.ravel("K"), dst.ravel("K"), idx, self.u, self.window,
                                       self.outer, self.c, self.cl, self.training, n_threads)


def _stochastic_plan(x, kernel_size, stride, training, seed, return_indices,
                     data_format) -> Plan:
    can = prepare(x, 2, data_format, "float")
    geo = pool_geometry(can.spatial[1:], 2, kernel_size, stride, 0)
    training = check_bool(training, "training")
    return_indices = check_bool(return_indices, "return_indices")
    if return_indices and not training:
        raise ValueError("return_indices=True needs training=True (evaluation samples nothing)")
    rng = _generator(seed)
    u = (can.flat(can.conform(rng.random((can.n, can.c) + geo.out_size))) if training
         else _DUMMY_F64)
    cl = can.order == "cl"
    outer = can.n if cl else can.n * can.c
    size = can.n * can.c * geo.out_size[0] * geo.out_size[1] * geo.out_size[2]
    return Plan(_Stochastic(u, geo.window(), outer, can.c, cl, training) if size else None,
                nbytes=can.view.nbytes + size * can.view.dtype.itemsize,
                items=outer * geo.out_size[1],
                source=None if reads_as_given(x, can) else partial(flat_input, 2,
                                                                   can.data_format, "float"),
                new_indices=training, return_indices=return_indices,
                **destination(can, geo.out_size, x.dtype))


def stochastic_pool2d_backward(grad_output, indices, input_shape, data_format=CF):
    """Gradient of training-mode stochastic pooling: each output gradient goes to its sampled
    cell (the index scatter of max pooling)."""
    return _max_backward(grad_output, indices, input_shape, 2, data_format)

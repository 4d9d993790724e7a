"""Stochastic pooling (Zeiler & Fergus 2013), forward and backward: the Python side of
pyx/_stochastic.pyx. The backward is the index scatter of max pooling (max._max_backward).
"""
from __future__ import annotations

import numpy as np

from . import _stochastic
from ._geometry import _is_int, check_bool, pool_geometry
from ._steps import CF, finish, prepare
from ._threads import threads_for
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
    dtype = getattr(x, "dtype", None)
    can = prepare(x, 2, data_format, "float")
    geo = pool_geometry(can.spatial[1:], 2, kernel_size, stride, 0)
    training = check_bool(training, "training")
    return_indices = check_bool(return_indices, "return_indices")
    if return_indices and not training:
        raise ValueError("return_indices=True needs training=True (evaluation samples nothing)")
    rng = _generator(seed)
    y5 = can.empty(geo.out_size, can.view.dtype)
    idx5 = can.empty(geo.out_size, np.int64) if training else None
    if training:
        u = rng.random((can.n, can.c) + geo.out_size)
        flat_u, flat_idx = can.flat(can.conform(u)), can.flat(idx5)
    else:
        flat_u, flat_idx = _DUMMY_F64, _DUMMY_I64
    if y5.size:
        cl = can.order == "cl"
        outer = can.n if cl else can.n * can.c
        nt = threads_for(can.view.nbytes + y5.nbytes, outer * geo.out_size[1])
        _stochastic.stochastic_forward(can.flat(), can.flat(y5), flat_idx, flat_u, geo.window(),
                                       outer, can.c, cl, training, nt)
    y = finish(can, y5, dtype)
    return (y, can.give_back(idx5)) if return_indices else y


def stochastic_pool2d_backward(grad_output, indices, input_shape, data_format=CF):
    """Gradient of training-mode stochastic pooling: each output gradient goes to its sampled
    cell (the index scatter of max pooling)."""
    return _max_backward(grad_output, indices, input_shape, 2, data_format)

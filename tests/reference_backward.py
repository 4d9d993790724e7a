"""Plain-loop reference backward passes (channels-first) written from the definitions: the gradient
of a linear pooling is its adjoint, so every output gradient is spread over the input cells that
entered that output, divided as the forward divided. Companion of reference.py; small arrays only.
"""
import itertools

import numpy as np

import reference as R


def avg_pool_backward(g, spatial, k, s, plo, phi, ceil_mode, count_include_pad, divisor_override):
    N, C = g.shape[:2]
    gx = np.zeros((N, C, *spatial), np.float64)
    ones = [1] * len(spatial)
    for n, c in itertools.product(range(N), range(C)):
        for _, o, cells in R._windows(spatial, k, s, plo, phi, ones, ceil_mode):
            padded = [[i for i in axis if -lo <= i < L + hi]
                      for axis, L, lo, hi in zip(cells, spatial, plo, phi)]
            real = [[i for i in axis if 0 <= i < L] for axis, L in zip(cells, spatial)]
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = int(np.prod([len(p) for p in padded]))
            else:
                div = int(np.prod([len(r) for r in real]))
            for pos in itertools.product(*real):
                gx[(n, c, *pos)] += float(g[(n, c, *o)]) / div
    return gx


def adaptive_avg_backward(g, spatial):
    N, C, *out = g.shape
    gx = np.zeros((N, C, *spatial), np.float64)
    for n, c in itertools.product(range(N), range(C)):
        for o in itertools.product(*[range(m) for m in out]):
            sl = tuple(slice(*R.bins(L, m)[i]) for L, m, i in zip(spatial, out, o))
            size = int(np.prod([b - a for a, b in (R.bins(L, m)[i]
                                                   for L, m, i in zip(spatial, out, o))]))
            gx[(n, c, *sl)] += float(g[(n, c, *o)]) / size
    return gx


def unpool_backward(g, idx):
    """Max unpool backward: each input cell takes the output gradient its index names."""
    N, C = g.shape[:2]
    flat = g.reshape(N, C, int(np.prod(g.shape[2:])))
    out = np.empty(idx.shape, g.dtype)
    for n, c in itertools.product(range(N), range(C)):
        out[n, c] = flat[n, c][idx[n, c]]
    return out

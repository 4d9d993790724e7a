"""Plain-loop reference backward passes (channels-first) written from the definitions: the gradient
of a linear pooling is its adjoint, so every output gradient is spread over the input cells that
entered that output, divided as the forward divided. Companion of reference.py; small arrays only.
"""
import itertools
import math

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


# ----------------------------------------------------------------------------- downsampling operators

def lp_pool2d_backward(g, x, p, k, s, ceil_mode):
    """PyTorch autograd's gradient of lp_pool2d, one window at a time: y = v ** (1/p) with
    v = kh*kw * (sum of x**p over the window's real cells) / (number of real cells), so
    dy/dx_i = (1/p) * v**(1/p - 1) * kh*kw / cells * p * x_i**(p - 1); nothing flows through a
    window with v == 0. As autograd, the gradients reaching x_i**p are summed first and then
    multiplied by p * x_i**(p - 1), for every cell (0 * inf = NaN where x_i is not finite, also
    in cells no window covers)."""
    N, C, H, W = x.shape
    oh = R.out_size(H, k[0], s[0], 0, 0, 1, ceil_mode)
    ow = R.out_size(W, k[1], s[1], 0, 0, 1, ceil_mode)
    gx = np.zeros((N, C, H, W), np.float64)
    p = np.float64(p)
    with np.errstate(all="ignore"):
        for n, c, i, j in itertools.product(range(N), range(C), range(oh), range(ow)):
            cells = [(h, w) for h in range(i * s[0], min(i * s[0] + k[0], H))
                     for w in range(j * s[1], min(j * s[1] + k[1], W))]
            scale = np.float64(k[0] * k[1]) / len(cells)
            v = sum(np.float64(x[n, c, h, w]) ** p for h, w in cells) * scale
            if v == 0:
                continue
            dv = float(g[n, c, i, j]) * (1 / p) * v ** (1 / p - 1) * scale
            for h, w in cells:
                gx[n, c, h, w] += dv
        gx *= p * x.astype(np.float64) ** (p - 1)
    return gx


def lp_pool1d_backward(g, x, p, k, s, ceil_mode):
    return lp_pool2d_backward(g[:, :, None, :], x[:, :, None, :], p, (1, k[0]), (1, s[0]),
                              ceil_mode)[:, :, 0, :]


def _reflect(j, size):
    """PyTorch's 'reflect' padding of index j into [0, size) (the edge cell is not repeated)."""
    while j < 0 or j >= size:
        j = -j if j < 0 else 2 * (size - 1) - j
    return j


def blur_pool2d_backward(g, spatial, f, s):
    """Adjoint of reference.blur_pool2d: every output gradient times each tap of the normalised
    binomial filter goes to the input cell the tap read (reflect padding folded back)."""
    a = np.array([math.comb(f - 1, i) for i in range(f)], np.float64)
    filt = np.outer(a, a) / np.outer(a, a).sum()
    lo = (f - 1) // 2
    N, C, oh, ow = g.shape
    H, W = spatial
    gx = np.zeros((N, C, H, W), np.float64)
    for n, c, i, j in itertools.product(range(N), range(C), range(oh), range(ow)):
        for a_, b_ in itertools.product(range(f), range(f)):
            h = _reflect(i * s[0] - lo + a_, H)
            w = _reflect(j * s[1] - lo + b_, W)
            gx[n, c, h, w] += float(g[n, c, i, j]) * filt[a_, b_]
    return gx


def conv2d_backward(g, x, w, s, p):
    """Gradients of reference.conv2d (bias included): returns (grad_x, grad_weight, grad_bias),
    each output gradient times the weight tap / input cell that produced it."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    oh, ow = g.shape[2:]
    gx = np.zeros((N, C, H, W), np.float64)
    gw = np.zeros(w.shape, np.float64)
    gb = np.zeros(O, np.float64)
    for n, o, i, j in itertools.product(range(N), range(O), range(oh), range(ow)):
        gv = float(g[n, o, i, j])
        gb[o] += gv
        for c, a, b in itertools.product(range(C), range(kh), range(kw)):
            h, v = i * s[0] - p[0] + a, j * s[1] - p[1] + b
            if 0 <= h < H and 0 <= v < W:
                gx[n, c, h, v] += gv * float(w[o, c, a, b])
                gw[o, c, a, b] += gv * float(x[n, c, h, v])
    return gx, gw, gb


def lp_pool3d_backward(g, x, p, k, s, ceil_mode):
    """PyTorch autograd's gradient of lp_pool3d: lp_pool2d_backward's rule over 3-d windows."""
    N, C = x.shape[:2]
    spatial = x.shape[2:]
    out = [R.out_size(L, kk, ss, 0, 0, 1, ceil_mode) for L, kk, ss in zip(spatial, k, s)]
    gx = np.zeros(x.shape, np.float64)
    p = np.float64(p)
    with np.errstate(all="ignore"):
        for n, c, *o in itertools.product(range(N), range(C), *map(range, out)):
            ranges = [range(o[a] * s[a], min(o[a] * s[a] + k[a], spatial[a])) for a in range(3)]
            cells = list(itertools.product(*ranges))
            scale = np.float64(k[0] * k[1] * k[2]) / len(cells)
            v = sum(np.float64(x[(n, c) + q]) ** p for q in cells) * scale
            if v == 0:
                continue
            dv = float(g[(n, c) + tuple(o)]) * (1 / p) * v ** (1 / p - 1) * scale
            for q in cells:
                gx[(n, c) + q] += dv
        gx *= p * x.astype(np.float64) ** (p - 1)
    return gx

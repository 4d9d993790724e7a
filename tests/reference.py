"""Plain NumPy reference implementations with obvious loops, channels-first (N, C, *spatial).

Written from the rules, not from cypool's code: window starts o*s - pad_lo, dilation steps, cells
outside the input skipped; the running max replaced when `v > m or isnan(v)`; averages divided as
PyTorch does. Slow on purpose: used on small arrays only.
"""
import itertools
import math

import numpy as np


def out_size(L, k, s, pad_lo, pad_hi, d, ceil_mode):
    """Count window positions o = 0, 1, ...: floor mode needs the whole window inside the padded
    input; ceil mode lets it hang past the end by less than a stride, but it must start inside the
    input or the left padding."""
    eff = d * (k - 1) + 1
    o = 0
    while True:
        if ceil_mode:
            fits = o * s <= L + pad_lo + pad_hi - eff + s - 1 and o * s - pad_lo < L
        else:
            fits = o * s + eff <= L + pad_lo + pad_hi
        if not fits:
            return o
        o += 1


def same_padding(L, k, s, d=1):
    out = math.ceil(L / s)
    total = max(0, (out - 1) * s + d * (k - 1) + 1 - L)
    return total // 2, total - total // 2


def _windows(spatial, k, s, plo, phi, d, ceil_mode):
    outs = [out_size(L, k_, s_, lo, hi, d_, ceil_mode)
            for L, k_, s_, lo, hi, d_ in zip(spatial, k, s, plo, phi, d)]
    for o in itertools.product(*[range(n) for n in outs]):
        cells = [[o_ * s_ - lo + j * d_ for j in range(k_)]
                 for o_, s_, lo, k_, d_ in zip(o, s, plo, k, d)]
        yield outs, o, cells


def lowest(dtype):
    """The identity of max: -inf for floats, the minimum for integers, False for bool."""
    if dtype.kind == "f":
        return -np.inf
    return False if dtype.kind == "b" else np.iinfo(dtype).min


def max_pool(x, k, s, plo, phi, d, ceil_mode):
    """Returns (y, flat per-plane indices)."""
    N, C, *spatial = x.shape
    outs = [out_size(L, *a, ceil_mode) for L, *a in zip(spatial, k, s, plo, phi, d)]
    y = np.empty((N, C, *outs), x.dtype)
    idx = np.empty((N, C, *outs), np.int64)
    for n, c in itertools.product(range(N), range(C)):
        for _, o, cells in _windows(spatial, k, s, plo, phi, d, ceil_mode):
            real = [[i for i in axis if 0 <= i < L] for axis, L in zip(cells, spatial)]
            first = [r[0] if r else axis[0] + ((-axis[0] + d_ - 1) // d_) * d_
                     for r, axis, d_ in zip(real, cells, d)]
            best_val = lowest(x.dtype)
            best_pos = first
            for pos in itertools.product(*real):
                v = x[(n, c, *pos)]
                if v > best_val or np.isnan(v):
                    best_val, best_pos = v, list(pos)
            y[(n, c, *o)] = best_val
            # flat position in the plane; a window with no real cell (possible with dilation) names
            # its first dilated position past the padding, as PyTorch does
            idx[(n, c, *o)] = sum(p * int(np.prod(spatial[i + 1:])) for i, p in enumerate(best_pos))
    return y, idx


def avg_pool(x, k, s, plo, phi, ceil_mode, count_include_pad, divisor_override):
    N, C, *spatial = x.shape
    ones = [1] * len(spatial)
    outs = [out_size(L, k_, s_, lo, hi, 1, ceil_mode)
            for L, k_, s_, lo, hi in zip(spatial, k, s, plo, phi)]
    y = np.empty((N, C, *outs), x.dtype)
    for n, c in itertools.product(range(N), range(C)):
        for _, o, cells in _windows(spatial, k, s, plo, phi, ones, ceil_mode):
            # cells inside [−pad_lo, L + pad_hi) count as the padded window extent
            padded = [[i for i in axis if -lo <= i < L + hi]
                      for axis, L, lo, hi in zip(cells, spatial, plo, phi)]
            real = [[i for i in axis if 0 <= i < L] for axis, L in zip(cells, spatial)]
            total = sum(float(x[(n, c, *pos)]) for pos in itertools.product(*real))
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = int(np.prod([len(p) for p in padded]))
            else:
                div = int(np.prod([len(r) for r in real]))
            y[(n, c, *o)] = total / div
    return y


def bins(L, O):
    return [(math.floor(i * L / O), math.ceil((i + 1) * L / O)) for i in range(O)]


def adaptive_avg(x, out):
    N, C, *spatial = x.shape
    y = np.empty((N, C, *out), x.dtype)
    for n, c in itertools.product(range(N), range(C)):
        for o in itertools.product(*[range(m) for m in out]):
            sl = tuple(slice(*bins(L, m)[i]) for L, m, i in zip(spatial, out, o))
            y[(n, c, *o)] = np.mean(x[(n, c, *sl)].astype(np.float64))
    return y


def adaptive_max(x, out):
    N, C, *spatial = x.shape
    y = np.empty((N, C, *out), x.dtype)
    idx = np.empty((N, C, *out), np.int64)
    for n, c in itertools.product(range(N), range(C)):
        for o in itertools.product(*[range(m) for m in out]):
            ranges = [range(*bins(L, m)[i]) for L, m, i in zip(spatial, out, o)]
            best_val = lowest(x.dtype)
            best_pos = [r[0] for r in ranges]
            for pos in itertools.product(*ranges):
                v = x[(n, c, *pos)]
                if v > best_val or np.isnan(v):
                    best_val, best_pos = v, pos
            y[(n, c, *o)] = best_val
            idx[(n, c, *o)] = np.ravel_multi_index(best_pos, spatial)
    return y, idx


def scatter_by_index(grad, idx, spatial):
    """Max backward: each output gradient added to the cell its index names."""
    N, C = grad.shape[:2]
    gx = np.zeros((N, C, int(np.prod(spatial))), np.float64)
    for n, c in itertools.product(range(N), range(C)):
        for g, i in zip(grad[n, c].ravel(), idx[n, c].ravel()):
            gx[n, c, i] += g
    return gx.reshape(N, C, *spatial)


def unpool(x, idx, out_spatial):
    N, C = x.shape[:2]
    y = np.zeros((N, C, int(np.prod(out_spatial))), x.dtype)
    for n, c in itertools.product(range(N), range(C)):
        for v, i in zip(x[n, c].ravel(), idx[n, c].ravel()):
            y[n, c, i] = v
    return y.reshape(N, C, *out_spatial)


def numeric_grad(f, x, g, eps=1e-6):
    """d <g, f(x)> / dx by central differences (float64)."""
    gx = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = np.sum(f(x) * g)
        flat[i] = old - eps
        down = np.sum(f(x) * g)
        flat[i] = old
        gx.reshape(-1)[i] = (up - down) / (2 * eps)
    return gx


# ----------------------------------------------------------------------------- downsampling operators
# Written from the papers' and PyTorch's rules (see pooling-semantics), one window at a time.

def lp_pool2d(x, p, k, s, ceil_mode):
    """PyTorch LPPool2d: (mean over the window's real cells of x**p * kh*kw) ** (1/p)."""
    N, C, H, W = x.shape
    oh, ow = out_size(H, k[0], s[0], 0, 0, 1, ceil_mode), out_size(W, k[1], s[1], 0, 0, 1, ceil_mode)
    y = np.empty((N, C, oh, ow), np.float64)
    for n, c, i, j in itertools.product(range(N), range(C), range(oh), range(ow)):
        win = x[n, c, i * s[0]:min(i * s[0] + k[0], H), j * s[1]:min(j * s[1] + k[1], W)]
        win = win.astype(np.float64)
        with np.errstate(invalid="ignore"):
            y[n, c, i, j] = (np.mean(win ** p) * k[0] * k[1]) ** (1.0 / p)
    return y


def stochastic_uniforms(seed, shape):
    """The uniforms a training call of stochastic_pool2d with this seed (an int or a Generator)
    uses, one per window in (N, C, OH, OW) order: a 64-bit key drawn from the Generator, then
    outputs 1, 2, ... of SplitMix64 seeded with it, each as (z >> 11) * 2**-53."""
    gen = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    key = gen.integers(2**64, dtype=np.uint64)
    t = np.arange(1, math.prod(shape) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = key + t * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(shape)


def stochastic_pool2d(x, k, s, uniforms=None):
    """Training (uniforms given, one per window in (N, C, OH, OW) order) -> (y, idx), or
    evaluation (uniforms None) -> y. Weights r = max(x, 0); the first cell whose running sum of
    r exceeds u * sum(r); all-zero weights: cell floor(u * count); NaN: the first NaN."""
    N, C, H, W = x.shape
    oh, ow = (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1
    y = np.empty((N, C, oh, ow), np.float64)
    idx = np.empty((N, C, oh, ow), np.int64)
    for n, c, i, j in itertools.product(range(N), range(C), range(oh), range(ow)):
        cells = [(h, w) for h in range(i * s[0], i * s[0] + k[0])
                 for w in range(j * s[1], j * s[1] + k[1])]
        vals = [float(x[n, c, h, w]) for h, w in cells]
        r = [max(v, 0.0) for v in vals]
        if uniforms is None:
            if any(math.isnan(v) for v in vals):
                y[n, c, i, j] = math.nan
            elif sum(r) == 0:
                y[n, c, i, j] = 0.0
            elif math.isinf(sum(r)):
                y[n, c, i, j] = math.inf
            else:
                y[n, c, i, j] = sum(v * v for v in r) / sum(r)
            continue
        u = uniforms[n, c, i, j]
        nans = [t for t, v in enumerate(vals) if math.isnan(v)]
        if nans:
            t = nans[0]
        elif math.isinf(sum(r)):
            t = next((t for t, v in enumerate(vals) if v == math.inf),
                     next(t for t, v in enumerate(vals) if v > 0))  # overflowed finite sum
        elif sum(r) > 0:
            total, run, t = sum(r), 0.0, None
            for q, v in enumerate(r):
                if v > 0:
                    run += v
                    t = q
                    if run > u * total:
                        break
        else:
            t = min(int(u * len(cells)), len(cells) - 1)
        h, w = cells[t]
        y[n, c, i, j] = vals[t]
        idx[n, c, i, j] = h * W + w
    return y if uniforms is None else (y, idx)


def blur_pool2d(x, f, s):
    """Reflect-pad ((f-1)//2, ceil((f-1)/2)), then the normalised binomial f x f filter at stride s."""
    a = np.array([math.comb(f - 1, i) for i in range(f)], np.float64)
    filt = np.outer(a, a) / np.outer(a, a).sum()
    lo, hi = (f - 1) // 2, f // 2
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (lo, hi), (lo, hi)), mode="reflect")
    N, C, Hp, Wp = xp.shape
    oh, ow = (Hp - f) // s[0] + 1, (Wp - f) // s[1] + 1
    y = np.empty((N, C, oh, ow))
    for n, c, i, j in itertools.product(range(N), range(C), range(oh), range(ow)):
        y[n, c, i, j] = np.sum(xp[n, c, i * s[0]:i * s[0] + f, j * s[1]:j * s[1] + f] * filt)
    return y


def spatial_pyramid_pool(x, levels, mode):
    """Adaptive bins per level, each level flattened (C, l, l), concatenated."""
    parts = []
    for level in levels:
        y = adaptive_max(x, (level, level))[0] if mode == "max" else adaptive_avg(x, (level, level))
        parts.append(y.reshape(x.shape[0], -1))
    return np.concatenate(parts, axis=1)


def conv2d(x, w, b, s, p):
    """Cross-correlation with zero padding p and stride s, weight (O, C, kh, kw)."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh, ow = (H + 2 * p[0] - kh) // s[0] + 1, (W + 2 * p[1] - kw) // s[1] + 1
    y = np.zeros((N, O, oh, ow))
    for n, o, i, j in itertools.product(range(N), range(O), range(oh), range(ow)):
        y[n, o, i, j] = np.sum(xp[n, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw] * w[o])
        if b is not None:
            y[n, o, i, j] += b[o]
    return y


def lp_pool1d(x, p, k, s, ceil_mode):
    """PyTorch LPPool1d: lp_pool2d over a height-1 plane with a (1, k) window."""
    y = lp_pool2d(x[:, :, None, :], p, (1, k[0]), (1, s[0]), ceil_mode)
    return y[:, :, 0, :]


def lp_pool3d(x, p, k, s, ceil_mode):
    """PyTorch LPPool3d: (mean over the window's real cells of x**p * kd*kh*kw) ** (1/p)."""
    N, C = x.shape[:2]
    out = [out_size(L, kk, ss, 0, 0, 1, ceil_mode) for L, kk, ss in zip(x.shape[2:], k, s)]
    y = np.empty((N, C, *out), np.float64)
    for n, c, a, b, d in itertools.product(range(N), range(C), *map(range, out)):
        win = x[n, c, a * s[0]:a * s[0] + k[0], b * s[1]:b * s[1] + k[1],
                d * s[2]:d * s[2] + k[2]].astype(np.float64)
        with np.errstate(invalid="ignore"):
            y[n, c, a, b, d] = (np.mean(win ** p) * k[0] * k[1] * k[2]) ** (1.0 / p)
    return y

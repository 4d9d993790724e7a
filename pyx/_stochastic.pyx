# Stochastic pooling (Zeiler & Fergus 2013), forward (training and evaluation), both memory orders.
# Backward is the index scatter of _max (the gradient goes to the sampled cell).
#
# Weights are the clamped activations r_i = max(a_i, 0) (the paper assumes post-ReLU inputs).
# Training: with one uniform u in [0, 1) per window, the sampled cell is the first one whose
# running sum of r exceeds u * sum(r) (strictly, so a zero-weight cell is never chosen). The
# uniforms come from a counter-based generator: window t (its position in (N, C, OH, OW) order)
# takes output t + 1 of SplitMix64 seeded with a 64-bit key the caller draws from its Generator
# (one draw per call), as (z >> 11) * 2**-53. Each window computes its own u, so a key gives the
# same result whatever the thread count and memory order, at a few instructions per window.
# Special windows:
#   - sum(r) == 0 (all zeros or all negative): the cell floor(u * count) in row-major order,
#     i.e. a uniform choice; its real value (possibly negative) is the output;
#   - a NaN in the window: the output is NaN and the index is the first NaN;
#   - sum(r) == +inf: the first +inf cell (the first positive cell if a float64 sum of finite
#     values overflowed).
# Evaluation: sum(r^2) / sum(r), 0 when sum(r) == 0, +inf when sum(r) is +inf, NaN if a NaN is in
# the window. Sums are accumulated in double in a fixed order (deterministic).
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint64_t
from libc.math cimport INFINITY, NAN

from _types cimport floating_t
from _window cimport Window, Span, dilated_span
from _reduce_fast cimport *


cdef inline double _expected(const floating_t* xp, Py_ssize_t cs, Py_ssize_t in_w, Span sh,
                             Span sw) noexcept nogil:
    cdef Py_ssize_t h, c
    cdef double a, r, s1 = 0, s2 = 0
    cdef bint has_nan = False
    for h in range(sh.first, sh.first + sh.count):
        for c in range(sw.first, sw.first + sw.count):
            a = xp[(h * in_w + c) * cs]
            has_nan = has_nan | (a != a)
            r = a if a > 0 else 0.0  # a select, not a branch: about half the cells of ReLU data are 0
            s1 += r
            s2 += r * r
    if has_nan:
        return NAN
    if s1 == 0:
        return 0.0
    if s1 == INFINITY:
        return INFINITY
    return s2 / s1


cdef inline int64_t* _at(int64_t* idx, Py_ssize_t o) noexcept nogil:
    return idx + o if idx != NULL else NULL


cdef void _row(const floating_t* x, floating_t* y, int64_t* idx, uint64_t key, const Window* w,
               Py_ssize_t row, Py_ssize_t C, bint cl, bint training) noexcept nogil:
    # One output row: (plane, oh) for channels-first (C ignored), (n, oh) for channels-last, where
    # every (ow, channel) pair is one window. y and idx are in the output's memory order; the
    # window counter of the uniforms is in (N, C, OH, OW) order for both. Training samples a
    # row's windows side by side (channels-first) or a cell's channels side by side
    # (channels-last) in cypool_stochastic_row (_reduce_fast.h). idx NULL: no indices.
    cdef Py_ssize_t oh = row % w.out_h
    cdef Py_ssize_t outer = row // w.out_h
    cdef Py_ssize_t in_plane = w.in_h * w.in_w
    cdef Span sh = dilated_span(oh, w.k_h, w.s_h, 0, 1, w.in_h)
    cdef Span sw
    cdef Py_ssize_t ow, ch, o, n_ch = C if cl else 1
    cdef const floating_t* xp
    if training and not cl:
        xp = x + outer * in_plane + sh.first * w.in_w
        if floating_t is float:
            cypool_stochastic_row_f32(xp, y + row * w.out_w, _at(idx, row * w.out_w), w.out_w, w.s_w,
                                      1, sh.count, w.k_w, sh.first * w.in_w, w.s_w,
                                      w.in_w, key, row * w.out_w, 1)
        else:
            cypool_stochastic_row_f64(xp, y + row * w.out_w, _at(idx, row * w.out_w), w.out_w, w.s_w,
                                      1, sh.count, w.k_w, sh.first * w.in_w, w.s_w,
                                      w.in_w, key, row * w.out_w, 1)
        return
    for ow in range(w.out_w):
        sw = dilated_span(ow, w.k_w, w.s_w, 0, 1, w.in_w)
        if training:
            xp = x + (outer * in_plane + sh.first * w.in_w + sw.first) * C
            o = (row * w.out_w + ow) * C
            if floating_t is float:
                cypool_stochastic_row_f32(xp, y + o, _at(idx, o), C, 1, C, sh.count,
                                          sw.count, sh.first * w.in_w + sw.first, 0, w.in_w, key,
                                          (outer * C * w.out_h + oh) * w.out_w + ow,
                                          w.out_h * w.out_w)
            else:
                cypool_stochastic_row_f64(xp, y + o, _at(idx, o), C, 1, C, sh.count,
                                          sw.count, sh.first * w.in_w + sw.first, 0, w.in_w, key,
                                          (outer * C * w.out_h + oh) * w.out_w + ow,
                                          w.out_h * w.out_w)
            continue
        for ch in range(n_ch):
            o = (row * w.out_w + ow) * n_ch + ch
            if cl:
                xp = x + outer * in_plane * C + ch
            else:
                xp = x + outer * in_plane
            y[o] = <floating_t>_expected(xp, n_ch, w.in_w, sh, sw)


def stochastic_forward(const floating_t[::1] x, floating_t[::1] y, int64_t[::1] indices,
                       uint64_t key, Window w, Py_ssize_t n_outer, Py_ssize_t C,
                       bint channels_last, bint training, int n_threads):
    """2-d stochastic pooling (d axis of size 1, no padding). n_outer: N*C planes (channels-first)
    or N samples (channels-last). key: the uniforms' SplitMix64 seed; indices and key are used
    only when training; indices None: the samples' cells are not written."""
    cdef Py_ssize_t row
    cdef int64_t* idx = &indices[0] if indices is not None else NULL
    with nogil:
        for row in prange(n_outer * w.out_h, num_threads=n_threads, schedule="static"):
            _row(&x[0], &y[0], idx, key, &w, row, C, channels_last, training)

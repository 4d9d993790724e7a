# Stochastic pooling (Zeiler & Fergus 2013), forward (training and evaluation), both memory orders.
# Backward is the index scatter of _max (the gradient goes to the sampled cell).
#
# Weights are the clamped activations r_i = max(a_i, 0) (the paper assumes post-ReLU inputs).
# Training: with one uniform u in [0, 1) per window, drawn in Python from the caller's Generator,
# the sampled cell is the first one whose running sum of r exceeds u * sum(r) (strictly, so a
# zero-weight cell is never chosen). Drawing u outside the kernel makes a seed give the same
# result whatever the thread count. Special windows:
#   - sum(r) == 0 (all zeros or all negative): the cell floor(u * count) in row-major order,
#     i.e. a uniform choice; its real value (possibly negative) is the output;
#   - a NaN in the window: the output is NaN and the index is the first NaN;
#   - sum(r) == +inf: the first +inf cell (the first positive cell if a float64 sum of finite
#     values overflowed).
# Evaluation: sum(r^2) / sum(r), 0 when sum(r) == 0, +inf when sum(r) is +inf, NaN if a NaN is in
# the window. Sums are accumulated in double in a fixed order (deterministic).
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.math cimport INFINITY, NAN

from _types cimport floating_t
from _window cimport Window, Span, dilated_span


cdef struct Pick:
    double value
    Py_ssize_t pos     # plane-flat position h * W + w


cdef inline Pick _sample(const floating_t* xp, Py_ssize_t cs, Py_ssize_t in_w, Span sh, Span sw,
                         double u) noexcept nogil:
    # xp: the plane's first cell; cs: distance between neighbouring cells (1 or C).
    # Weights are clamped without branches (r = a > 0 ? a : 0, a select): on ReLU activations
    # about half the cells are 0 and a branch on the sign would be mispredicted half the time.
    # Adding r = 0 leaves every sum bit-identical to skipping the cell.
    cdef Py_ssize_t h, c, j, chosen = -1
    cdef double a, r, total = 0, running = 0, threshold
    cdef bint done = False, has_nan = False
    cdef Pick p
    for h in range(sh.first, sh.first + sh.count):
        for c in range(sw.first, sw.first + sw.count):
            a = xp[(h * in_w + c) * cs]
            has_nan = has_nan | (a != a)
            r = a if a > 0 else 0.0
            total += r
    if has_nan:
        for h in range(sh.first, sh.first + sh.count):
            for c in range(sw.first, sw.first + sw.count):
                a = xp[(h * in_w + c) * cs]
                if not done and a != a:
                    chosen = h * in_w + c
                    done = True
    elif total == INFINITY:
        for h in range(sh.first, sh.first + sh.count):
            for c in range(sw.first, sw.first + sw.count):
                if not done and xp[(h * in_w + c) * cs] == INFINITY:
                    chosen = h * in_w + c
                    done = True
    elif total > 0:
        threshold = u * total
        for h in range(sh.first, sh.first + sh.count):
            if done:
                break
            for c in range(sw.first, sw.first + sw.count):
                a = xp[(h * in_w + c) * cs]
                r = a if a > 0 else 0.0
                running += r
                # the last positive cell is the fallback if rounding keeps running <= threshold
                chosen = h * in_w + c if r > 0 else chosen
                if running > threshold:  # only a positive cell can cross it
                    done = True
                    break
    else:
        j = <Py_ssize_t>(u * (sh.count * sw.count))
        if j >= sh.count * sw.count:
            j = sh.count * sw.count - 1
        chosen = (sh.first + j // sw.count) * in_w + sw.first + j % sw.count
    if chosen < 0:  # a finite float64 sum that overflowed to +inf: the first positive cell
        for h in range(sh.first, sh.first + sh.count):
            for c in range(sw.first, sw.first + sw.count):
                if chosen < 0 and xp[(h * in_w + c) * cs] > 0:
                    chosen = h * in_w + c
    p.pos = chosen
    p.value = xp[chosen * cs]
    return p


cdef inline double _expected(const floating_t* xp, Py_ssize_t cs, Py_ssize_t in_w, Span sh,
                             Span sw) noexcept nogil:
    cdef Py_ssize_t h, c
    cdef double a, r, s1 = 0, s2 = 0
    cdef bint has_nan = False
    for h in range(sh.first, sh.first + sh.count):
        for c in range(sw.first, sw.first + sw.count):
            a = xp[(h * in_w + c) * cs]
            has_nan = has_nan | (a != a)
            r = a if a > 0 else 0.0  # branch-free clamp, as in _sample
            s1 += r
            s2 += r * r
    if has_nan:
        return NAN
    if s1 == 0:
        return 0.0
    if s1 == INFINITY:
        return INFINITY
    return s2 / s1


cdef void _row(const floating_t* x, floating_t* y, int64_t* idx, const double* u,
               const Window* w, Py_ssize_t row, Py_ssize_t C, bint cl, bint training) noexcept nogil:
    # One output row: (plane, oh) for channels-first (C ignored), (n, oh) for channels-last, where
    # every (ow, channel) pair is one window. y, idx and u share the output's memory order.
    cdef Py_ssize_t oh = row % w.out_h
    cdef Py_ssize_t outer = row // w.out_h
    cdef Py_ssize_t in_plane = w.in_h * w.in_w
    cdef Span sh = dilated_span(oh, w.k_h, w.s_h, 0, 1, w.in_h)
    cdef Span sw
    cdef Py_ssize_t ow, ch, o, n_ch = C if cl else 1
    cdef const floating_t* xp
    cdef Pick p
    for ow in range(w.out_w):
        sw = dilated_span(ow, w.k_w, w.s_w, 0, 1, w.in_w)
        for ch in range(n_ch):
            o = (row * w.out_w + ow) * n_ch + ch
            if cl:
                xp = x + outer * in_plane * C + ch
            else:
                xp = x + outer * in_plane
            if training:
                p = _sample(xp, n_ch, w.in_w, sh, sw, u[o])
                y[o] = <floating_t>p.value
                idx[o] = p.pos
            else:
                y[o] = <floating_t>_expected(xp, n_ch, w.in_w, sh, sw)


def stochastic_forward(const floating_t[::1] x, floating_t[::1] y, int64_t[::1] indices,
                       const double[::1] uniforms, Window w, Py_ssize_t n_outer, Py_ssize_t C,
                       bint channels_last, bint training, int n_threads):
    """2-d stochastic pooling (d axis of size 1, no padding). n_outer: N*C planes (channels-first)
    or N samples (channels-last). indices and uniforms are used only when training."""
    cdef Py_ssize_t row
    cdef int64_t* idx = &indices[0]
    cdef const double* u = &uniforms[0]
    with nogil:
        for row in prange(n_outer * w.out_h, num_threads=n_threads, schedule="static"):
            _row(&x[0], &y[0], idx, u, &w, row, C, channels_last, training)

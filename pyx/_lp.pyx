# Power-average (Lp) pooling with PyTorch's LPPool semantics, forward and backward, both memory
# orders. PyTorch computes
#     out  = avg_pool(x ** p, kernel, stride, padding=0, ceil_mode)
#     y    = (sign(out) * relu(|out|) * prod(kernel)) ** (1 / p)
# so x ** p is taken without abs (negative inputs with odd p give negative sums, and a fractional
# power of a negative sum is NaN), and in ceil mode a partial edge window, averaged over its real
# cells, comes out scaled by prod(kernel) / real_cells. Here base = out * prod(kernel) is formed
# the same way, accumulated in double, one output per thread in a fixed order (deterministic).
# Gradient (PyTorch's autograd of that expression): for each window
#     coef = g / p * base ** (1/p - 1) * prod(kernel) / real_cells   (0 when base == 0)
# scattered over the window's cells, then multiplied by p * x ** (p - 1).
from cython.parallel cimport prange, parallel
from libc.math cimport pow, sqrt

from _types cimport floating_t
from _window cimport Window, Span, RowIndex, output_row, padded_span
from _openmp cimport omp_get_thread_num
from _channel_block cimport ChannelBlock, n_channel_blocks, channel_block, zero_channels
from _reduce_fast cimport *


cdef inline double _power(double a, double p) noexcept nogil:
    # PyTorch's pow with a scalar exponent special-cases 2 (square) and 3 (cube); x * x equals the
    # correctly rounded pow(x, 2) and is much faster.
    if p == 2.0:
        return a * a
    if p == 1.0:
        return a
    if p == 3.0:
        return a * a * a
    return pow(a, p)


cdef inline double _root(double base, double p) noexcept nogil:
    # base ** (1 / p); PyTorch computes an exponent of 0.5 with sqrt.
    if p == 2.0:
        return sqrt(base)
    if p == 1.0:
        return base
    return pow(base, 1.0 / p)


cdef inline double _coef(double base, double g, double p, double kk, double cells) noexcept nogil:
    if base == 0:
        return 0.0
    if p == 2.0:  # base ** -0.5 (PyTorch: rsqrt)
        return g / p / sqrt(base) * kk / cells
    return g / p * pow(base, 1.0 / p - 1.0) * kk / cells


cdef inline int _int_power(double p) noexcept nogil:
    # The powers the vector loops of _reduce_fast.h take (x, x * x, x * x * x); 0: pow.
    if p == 1.0 or p == 2.0 or p == 3.0:
        return <int>p
    return 0


cdef void _lp_row_cf(const floating_t* x, floating_t* y, const Window* w, Py_ssize_t row,
                     double p) noexcept nogil:
    cdef RowIndex r = output_row(row, w)
    cdef const floating_t* xp = x + r.item * w.in_d * w.in_h * w.in_w
    cdef Span sd = padded_span(r.od, w.k_d, w.s_d, 0, 0, w.in_d)
    cdef Span sh = padded_span(r.oh, w.k_h, w.s_h, 0, 0, w.in_h)
    cdef Span sw
    cdef Py_ssize_t ow, d, h, c
    cdef double acc, kk = w.k_d * w.k_h * w.k_w
    cdef int power = _int_power(p)
    if power and sd.count * sh.count <= 64:  # a window's sum in vector lanes (_reduce_fast.h)
        if floating_t is float:
            cypool_lp_row_cf_f32(xp, y + row * w.out_w, w.in_h, w.in_w, sd.first, sd.count,
                                 sh.first, sh.count, w.k_w, w.s_w, w.out_w, power, kk, p)
        else:
            cypool_lp_row_cf_f64(xp, y + row * w.out_w, w.in_h, w.in_w, sd.first, sd.count,
                                 sh.first, sh.count, w.k_w, w.s_w, w.out_w, power, kk, p)
        return
    if power:  # the row's windows summed side by side, same order (_reduce_fast.h)
        if floating_t is float:
            cypool_strided_row_cf_f32(xp, y + row * w.out_w, w.in_h, w.in_w, sd.first, sd.count,
                                      sh.first, sh.count, w.k_w, w.s_w, w.out_w, power, kk, p)
        else:
            cypool_strided_row_cf_f64(xp, y + row * w.out_w, w.in_h, w.in_w, sd.first, sd.count,
                                      sh.first, sh.count, w.k_w, w.s_w, w.out_w, power, kk, p)
        return
    for ow in range(w.out_w):
        sw = padded_span(ow, w.k_w, w.s_w, 0, 0, w.in_w)
        acc = 0
        for d in range(sd.first, sd.first + sd.count):
            for h in range(sh.first, sh.first + sh.count):
                for c in range(sw.first, sw.first + sw.count):
                    acc += _power(xp[(d * w.in_h + h) * w.in_w + c], p)
        y[row * w.out_w + ow] = <floating_t>_root(acc / (sd.count * sh.count * sw.count) * kk, p)


cdef void _lp_row_cl(const floating_t* x, floating_t* y, double* acc, const Window* w,
                     Py_ssize_t row, Py_ssize_t C, double p) noexcept nogil:
    # Channel loop innermost and contiguous; acc: this thread's C doubles.
    cdef RowIndex r = output_row(row, w)
    cdef Py_ssize_t n = r.item
    cdef Span sd = padded_span(r.od, w.k_d, w.s_d, 0, 0, w.in_d)
    cdef Span sh = padded_span(r.oh, w.k_h, w.s_h, 0, 0, w.in_h)
    cdef Span sw
    cdef Py_ssize_t ow, d, h, c, ch
    cdef double cells, kk = w.k_d * w.k_h * w.k_w
    cdef const floating_t* xc
    cdef floating_t* yo
    cdef int power = _int_power(p)
    if power:  # channel blocks in vector lanes, same order (_reduce_fast.h)
        xc = x + ((n * w.in_d + sd.first) * w.in_h + sh.first) * w.in_w * C
        if floating_t is float:
            cypool_lp_row_cl_f32(xc, y + row * w.out_w * C, C, sd.count, sh.count,
                                 w.in_h * w.in_w * C, w.in_w * C, w.in_w, w.k_w, w.s_w, w.out_w,
                                 power, kk, p)
        else:
            cypool_lp_row_cl_f64(xc, y + row * w.out_w * C, C, sd.count, sh.count,
                                 w.in_h * w.in_w * C, w.in_w * C, w.in_w, w.k_w, w.s_w, w.out_w,
                                 power, kk, p)
        return
    for ow in range(w.out_w):
        sw = padded_span(ow, w.k_w, w.s_w, 0, 0, w.in_w)
        for ch in range(C):
            acc[ch] = 0
        for d in range(sd.first, sd.first + sd.count):
            for h in range(sh.first, sh.first + sh.count):
                for c in range(sw.first, sw.first + sw.count):
                    xc = x + (((n * w.in_d + d) * w.in_h + h) * w.in_w + c) * C
                    for ch in range(C):
                        acc[ch] += _power(xc[ch], p)
        cells = sd.count * sh.count * sw.count
        yo = y + (row * w.out_w + ow) * C
        for ch in range(C):
            yo[ch] = <floating_t>_root(acc[ch] / cells * kk, p)


def lp_forward_cf(const floating_t[::1] x, floating_t[::1] y, Window w, Py_ssize_t n_planes,
                  double p, int n_threads):
    cdef Py_ssize_t row
    with nogil:
        for row in prange(n_planes * w.out_d * w.out_h, num_threads=n_threads, schedule="static"):
            _lp_row_cf(&x[0], &y[0], &w, row, p)


def lp_forward_cl(const floating_t[::1] x, floating_t[::1] y, double[:, ::1] scratch, Window w,
                  Py_ssize_t n_samples, Py_ssize_t C, double p, int n_threads):
    """scratch: (n_threads, C) doubles, one row per thread."""
    cdef Py_ssize_t row
    with nogil, parallel(num_threads=n_threads):
        for row in prange(n_samples * w.out_d * w.out_h, schedule="static"):
            _lp_row_cl(&x[0], &y[0], &scratch[omp_get_thread_num(), 0], &w, row, C, p)


cdef void _lp_plane_backward(const floating_t* x, const floating_t* go, floating_t* gi,
                             const Window* w, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1,
                             double p) noexcept nogil:
    # One sample's channels [c0, c1) of a tensor with C interleaved channels (C = 1: a
    # channels-first plane); its cells of gi are zeroed first. Each window's sum is recomputed
    # from x.
    cdef Py_ssize_t od, oh, ow, d, h, c, ch, o, i
    cdef Span sd, sh, sw
    cdef double kk = w.k_d * w.k_h * w.k_w
    cdef double acc, cells, coef
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef int power = _int_power(p)
    if power and w.k_d * w.k_h <= 64:  # the same steps in vector loops (_reduce_fast.h)
        if floating_t is float:
            cypool_lp_backward_plane_f32(x, go, gi, w, C, c0, c1, power, p)
        else:
            cypool_lp_backward_plane_f64(x, go, gi, w, C, c0, c1, power, p)
        return
    zero_channels(gi, in_plane, C, c0, c1)
    for od in range(w.out_d):
        sd = padded_span(od, w.k_d, w.s_d, 0, 0, w.in_d)
        for oh in range(w.out_h):
            sh = padded_span(oh, w.k_h, w.s_h, 0, 0, w.in_h)
            for ow in range(w.out_w):
                sw = padded_span(ow, w.k_w, w.s_w, 0, 0, w.in_w)
                cells = sd.count * sh.count * sw.count
                o = ((od * w.out_h + oh) * w.out_w + ow) * C
                for ch in range(c0, c1):
                    acc = 0
                    for d in range(sd.first, sd.first + sd.count):
                        for h in range(sh.first, sh.first + sh.count):
                            for c in range(sw.first, sw.first + sw.count):
                                acc += _power(x[((d * w.in_h + h) * w.in_w + c) * C + ch], p)
                    coef = _coef(acc / cells * kk, go[o + ch], p, kk, cells)
                    for d in range(sd.first, sd.first + sd.count):
                        for h in range(sh.first, sh.first + sh.count):
                            for c in range(sw.first, sw.first + sw.count):
                                gi[((d * w.in_h + h) * w.in_w + c) * C + ch] += <floating_t>coef
    for i in range(in_plane):
        for ch in range(c0, c1):
            gi[i * C + ch] = <floating_t>(gi[i * C + ch] * p * _power(x[i * C + ch], p - 1.0))


def lp_backward_cf(const floating_t[::1] x, const floating_t[::1] grad_out,
                   floating_t[::1] grad_in, Window w, Py_ssize_t n_planes, double p,
                   int n_threads):
    """Each plane is owned by one thread: race-free, bit-identical for any thread count."""
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t q
    with nogil:
        for q in prange(n_planes, num_threads=n_threads, schedule="static"):
            _lp_plane_backward(&x[q * in_plane], &grad_out[q * out_plane], &grad_in[q * in_plane],
                               &w, 1, 0, 1, p)


def lp_backward_cl(const floating_t[::1] x, const floating_t[::1] grad_out,
                   floating_t[::1] grad_in, Window w, Py_ssize_t n_samples, Py_ssize_t C,
                   Py_ssize_t c_block, double p, int n_threads):
    """Work items are (sample, block of channels), which own disjoint cells."""
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t item
    cdef ChannelBlock b
    with nogil:
        for item in prange(n_samples * n_channel_blocks(C, c_block), num_threads=n_threads,
                           schedule="static"):
            b = channel_block(item, C, c_block)
            _lp_plane_backward(&x[b.n * in_plane * C], &grad_out[b.n * out_plane * C],
                               &grad_in[b.n * in_plane * C], &w, C, b.c0, b.c1, p)

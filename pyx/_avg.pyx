# Average pooling kernels, forward and backward, channels-first and channels-last.
# Divisor rule (PyTorch's): the padded extent of a window is clipped to [-pad, size + padend), so the
# ceil-mode overhang past the padding is never counted; count_include_pad divides by that extent,
# otherwise by the number of real cells; a nonzero divisor_override replaces both (0 means none).
# Sums accumulate in double: exact for long windows of float32, and the same result for any thread
# count because each output is summed by one thread in a fixed order.
from cython.parallel cimport prange, parallel
from libc.string cimport memset

from _types cimport floating_t
from _window cimport Window
from _openmp cimport omp_get_thread_num


cdef inline Py_ssize_t padded_span(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s, Py_ssize_t pad,
                                   Py_ssize_t padend, Py_ssize_t size,
                                   Py_ssize_t* first, Py_ssize_t* stop) noexcept nogil:
    # Real cells [first, stop) of output o's window; returns its extent counting padding cells.
    cdef Py_ssize_t start = o * s - pad
    cdef Py_ssize_t end = start + k
    if end > size + padend:
        end = size + padend
    first[0] = start if start > 0 else 0
    stop[0] = end if end < size else size
    return end - start


cdef inline double window_divisor(const Window* w, Py_ssize_t od, Py_ssize_t oh, Py_ssize_t ow,
                                  Py_ssize_t* d0, Py_ssize_t* d1, Py_ssize_t* h0, Py_ssize_t* h1,
                                  Py_ssize_t* w0, Py_ssize_t* w1, bint count_include_pad,
                                  Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t ed = padded_span(od, w.k_d, w.s_d, w.pad_d, w.padend_d, w.in_d, d0, d1)
    cdef Py_ssize_t eh = padded_span(oh, w.k_h, w.s_h, w.pad_h, w.padend_h, w.in_h, h0, h1)
    cdef Py_ssize_t ew = padded_span(ow, w.k_w, w.s_w, w.pad_w, w.padend_w, w.in_w, w0, w1)
    if divisor_override != 0:
        return <double>divisor_override
    if count_include_pad:
        return <double>(ed * eh * ew)
    return <double>((d1[0] - d0[0]) * (h1[0] - h0[0]) * (w1[0] - w0[0]))


def avg_pool_forward_cf(const floating_t[::1] x, floating_t[::1] y, Window w,
                        Py_ssize_t n_planes, bint count_include_pad, Py_ssize_t divisor_override,
                        int n_threads):
    """Average pooling of a channels-first tensor; one prange item per output row (plane, od, oh)."""
    cdef Py_ssize_t rows_per_plane = w.out_d * w.out_h
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t row, plane, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c
    cdef double acc, div
    cdef const floating_t* xp
    with nogil:
        for row in prange(n_planes * rows_per_plane, num_threads=n_threads, schedule="static"):
            plane = row // rows_per_plane
            od = (row % rows_per_plane) // w.out_h
            oh = row % w.out_h
            xp = &x[plane * in_plane]
            for ow in range(w.out_w):
                div = window_divisor(&w, od, oh, ow, &d0, &d1, &h0, &h1, &w0, &w1,
                                     count_include_pad, divisor_override)
                acc = 0
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        for c in range(w0, w1):
                            acc = acc + xp[(d * w.in_h + h) * w.in_w + c]
                y[row * w.out_w + ow] = <floating_t>(acc / div)


def avg_pool_forward_cl(const floating_t[::1] x, floating_t[::1] y, double[:, ::1] scratch,
                        Window w, Py_ssize_t n_samples, Py_ssize_t C, bint count_include_pad,
                        Py_ssize_t divisor_override, int n_threads):
    """Average pooling of a channels-last tensor. scratch: (n_threads, C) double accumulators, one
    row per thread so the channel loop vectorises without sharing."""
    cdef Py_ssize_t rows_per_sample = w.out_d * w.out_h
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t row, n, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c, ch
    cdef double div
    cdef double* acc
    cdef const floating_t* xc
    cdef floating_t* yo
    with nogil, parallel(num_threads=n_threads):
        acc = &scratch[omp_get_thread_num(), 0]
        for row in prange(n_samples * rows_per_sample, schedule="static"):
            n = row // rows_per_sample
            od = (row % rows_per_sample) // w.out_h
            oh = row % w.out_h
            for ow in range(w.out_w):
                div = window_divisor(&w, od, oh, ow, &d0, &d1, &h0, &h1, &w0, &w1,
                                     count_include_pad, divisor_override)
                for ch in range(C):
                    acc[ch] = 0
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        for c in range(w0, w1):
                            xc = &x[(((n * w.in_d + d) * w.in_h + h) * w.in_w + c) * C]
                            for ch in range(C):
                                acc[ch] += xc[ch]
                yo = &y[(row * w.out_w + ow) * C]
                for ch in range(C):
                    yo[ch] = <floating_t>(acc[ch] / div)


def avg_pool_backward_cf(const floating_t[::1] grad_out, floating_t[::1] grad_in, Window w,
                         Py_ssize_t n_planes, bint count_include_pad, Py_ssize_t divisor_override,
                         int n_threads):
    """Scatter each output gradient / divisor over its window. Each plane is owned by one thread:
    race-free, and bit-identical for any thread count."""
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t p, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c
    cdef floating_t g
    cdef floating_t* gi
    cdef const floating_t* go
    with nogil:
        for p in prange(n_planes, num_threads=n_threads, schedule="static"):
            gi = &grad_in[p * in_plane]
            go = &grad_out[p * out_plane]
            memset(gi, 0, in_plane * sizeof(floating_t))
            for od in range(w.out_d):
                for oh in range(w.out_h):
                    for ow in range(w.out_w):
                        g = go[(od * w.out_h + oh) * w.out_w + ow] / <floating_t>window_divisor(
                            &w, od, oh, ow, &d0, &d1, &h0, &h1, &w0, &w1,
                            count_include_pad, divisor_override)
                        for d in range(d0, d1):
                            for h in range(h0, h1):
                                for c in range(w0, w1):
                                    gi[(d * w.in_h + h) * w.in_w + c] += g


def avg_pool_backward_cl(const floating_t[::1] grad_out, floating_t[::1] grad_in, Window w,
                         Py_ssize_t n_samples, Py_ssize_t C, Py_ssize_t c_block,
                         bint count_include_pad, Py_ssize_t divisor_override, int n_threads):
    """Channels-last twin of avg_pool_backward_cf; work items are (sample, block of channels)."""
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t n_blocks = (C + c_block - 1) // c_block
    cdef Py_ssize_t item, n, c0, c1, ch, i, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c
    cdef floating_t inv
    cdef floating_t* gi
    cdef const floating_t* go
    with nogil:
        for item in prange(n_samples * n_blocks, num_threads=n_threads, schedule="static"):
            n = item // n_blocks
            c0 = (item % n_blocks) * c_block
            c1 = c0 + c_block if c0 + c_block < C else C
            gi = &grad_in[n * in_plane * C]
            go = &grad_out[n * out_plane * C]
            for i in range(in_plane):
                for ch in range(c0, c1):
                    gi[i * C + ch] = 0
            for od in range(w.out_d):
                for oh in range(w.out_h):
                    for ow in range(w.out_w):
                        inv = <floating_t>window_divisor(&w, od, oh, ow, &d0, &d1, &h0, &h1,
                                                         &w0, &w1, count_include_pad,
                                                         divisor_override)
                        i = (od * w.out_h + oh) * w.out_w + ow
                        for d in range(d0, d1):
                            for h in range(h0, h1):
                                for c in range(w0, w1):
                                    for ch in range(c0, c1):
                                        gi[((d * w.in_h + h) * w.in_w + c) * C + ch] += \
                                            go[i * C + ch] / inv

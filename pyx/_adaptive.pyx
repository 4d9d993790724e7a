# Adaptive pooling kernels (global pooling is the one-bin case). Bins follow PyTorch:
# [floor(o*L/O), ceil((o+1)*L/O)) along each axis, so bins may overlap and always cover the input.
# Adaptive max backward reuses the index scatter of _max.
from cython.parallel cimport prange, parallel
from libc.stdint cimport int64_t
from libc.string cimport memset

from _types cimport maxable_t, floating_t, lowest
from _window cimport Window, adaptive_span
from _openmp cimport omp_get_thread_num


def adaptive_avg_forward_cf(const floating_t[::1] x, floating_t[::1] y, Window w,
                            Py_ssize_t n_planes, int n_threads):
    cdef Py_ssize_t rows_per_plane = w.out_d * w.out_h
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t row, plane, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c
    cdef double acc
    cdef const floating_t* xp
    with nogil:
        for row in prange(n_planes * rows_per_plane, num_threads=n_threads, schedule="static"):
            plane = row // rows_per_plane
            od = (row % rows_per_plane) // w.out_h
            oh = row % w.out_h
            xp = &x[plane * in_plane]
            adaptive_span(od, w.out_d, w.in_d, &d0, &d1)
            adaptive_span(oh, w.out_h, w.in_h, &h0, &h1)
            for ow in range(w.out_w):
                adaptive_span(ow, w.out_w, w.in_w, &w0, &w1)
                acc = 0
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        for c in range(w0, w1):
                            acc = acc + xp[(d * w.in_h + h) * w.in_w + c]
                y[row * w.out_w + ow] = <floating_t>(acc / ((d1 - d0) * (h1 - h0) * (w1 - w0)))


def adaptive_avg_forward_cl(const floating_t[::1] x, floating_t[::1] y, double[:, ::1] scratch,
                            Window w, Py_ssize_t n_samples, Py_ssize_t C, int n_threads):
    """scratch: (n_threads, C) double accumulators, one row per thread."""
    cdef Py_ssize_t rows_per_sample = w.out_d * w.out_h
    cdef Py_ssize_t row, n, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c, ch
    cdef double count
    cdef double* acc
    cdef const floating_t* xc
    cdef floating_t* yo
    with nogil, parallel(num_threads=n_threads):
        acc = &scratch[omp_get_thread_num(), 0]
        for row in prange(n_samples * rows_per_sample, schedule="static"):
            n = row // rows_per_sample
            od = (row % rows_per_sample) // w.out_h
            oh = row % w.out_h
            adaptive_span(od, w.out_d, w.in_d, &d0, &d1)
            adaptive_span(oh, w.out_h, w.in_h, &h0, &h1)
            for ow in range(w.out_w):
                adaptive_span(ow, w.out_w, w.in_w, &w0, &w1)
                count = (d1 - d0) * (h1 - h0) * (w1 - w0)
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
                    yo[ch] = <floating_t>(acc[ch] / count)


def adaptive_max_forward_cf(const maxable_t[::1] x, maxable_t[::1] y, int64_t[::1] indices,
                            Window w, Py_ssize_t n_planes, bint want_indices, int n_threads):
    cdef Py_ssize_t rows_per_plane = w.out_d * w.out_h
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t row, plane, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c, pos, best
    cdef maxable_t m, v
    cdef const maxable_t* xp
    with nogil:
        for row in prange(n_planes * rows_per_plane, num_threads=n_threads, schedule="static"):
            plane = row // rows_per_plane
            od = (row % rows_per_plane) // w.out_h
            oh = row % w.out_h
            xp = &x[plane * in_plane]
            adaptive_span(od, w.out_d, w.in_d, &d0, &d1)
            adaptive_span(oh, w.out_h, w.in_h, &h0, &h1)
            for ow in range(w.out_w):
                adaptive_span(ow, w.out_w, w.in_w, &w0, &w1)
                m = lowest(&m)
                best = (d0 * w.in_h + h0) * w.in_w + w0
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        pos = (d * w.in_h + h) * w.in_w
                        for c in range(w0, w1):
                            v = xp[pos + c]
                            if v > m or v != v:
                                m = v
                                best = pos + c
                y[row * w.out_w + ow] = m
                if want_indices:
                    indices[row * w.out_w + ow] = best


def adaptive_max_forward_cl(const maxable_t[::1] x, maxable_t[::1] y, int64_t[::1] indices,
                            Window w, Py_ssize_t n_samples, Py_ssize_t C, bint want_indices,
                            int n_threads):
    cdef Py_ssize_t rows_per_sample = w.out_d * w.out_h
    cdef Py_ssize_t row, n, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c, ch, pos
    cdef maxable_t v, init
    cdef maxable_t* ym
    cdef int64_t* im
    cdef const maxable_t* xc
    init = lowest(&init)
    with nogil:
        for row in prange(n_samples * rows_per_sample, num_threads=n_threads, schedule="static"):
            n = row // rows_per_sample
            od = (row % rows_per_sample) // w.out_h
            oh = row % w.out_h
            adaptive_span(od, w.out_d, w.in_d, &d0, &d1)
            adaptive_span(oh, w.out_h, w.in_h, &h0, &h1)
            for ow in range(w.out_w):
                adaptive_span(ow, w.out_w, w.in_w, &w0, &w1)
                ym = &y[(row * w.out_w + ow) * C]
                im = &indices[(row * w.out_w + ow) * C]
                pos = (d0 * w.in_h + h0) * w.in_w + w0
                for ch in range(C):
                    ym[ch] = init
                    im[ch] = pos
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        for c in range(w0, w1):
                            pos = (d * w.in_h + h) * w.in_w + c
                            xc = &x[(n * w.in_d * w.in_h * w.in_w + pos) * C]
                            for ch in range(C):
                                v = xc[ch]
                                if v > ym[ch] or v != v:
                                    ym[ch] = v
                                    im[ch] = pos


def adaptive_avg_backward_cf(const floating_t[::1] grad_out, floating_t[::1] grad_in, Window w,
                             Py_ssize_t n_planes, int n_threads):
    """Scatter grad / bin size over each bin; one thread owns a plane (race-free, deterministic)."""
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t p, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c
    cdef floating_t g
    cdef floating_t* gi
    with nogil:
        for p in prange(n_planes, num_threads=n_threads, schedule="static"):
            gi = &grad_in[p * in_plane]
            memset(gi, 0, in_plane * sizeof(floating_t))
            for od in range(w.out_d):
                adaptive_span(od, w.out_d, w.in_d, &d0, &d1)
                for oh in range(w.out_h):
                    adaptive_span(oh, w.out_h, w.in_h, &h0, &h1)
                    for ow in range(w.out_w):
                        adaptive_span(ow, w.out_w, w.in_w, &w0, &w1)
                        g = grad_out[p * out_plane + (od * w.out_h + oh) * w.out_w + ow] / \
                            <floating_t>((d1 - d0) * (h1 - h0) * (w1 - w0))
                        for d in range(d0, d1):
                            for h in range(h0, h1):
                                for c in range(w0, w1):
                                    gi[(d * w.in_h + h) * w.in_w + c] += g


def adaptive_avg_backward_cl(const floating_t[::1] grad_out, floating_t[::1] grad_in, Window w,
                             Py_ssize_t n_samples, Py_ssize_t C, Py_ssize_t c_block,
                             int n_threads):
    """Channels-last twin; work items are (sample, block of channels) owning disjoint cells."""
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t n_blocks = (C + c_block - 1) // c_block
    cdef Py_ssize_t item, n, c0, c1, ch, i, o, od, oh, ow, d0, d1, h0, h1, w0, w1, d, h, c
    cdef floating_t count
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
                adaptive_span(od, w.out_d, w.in_d, &d0, &d1)
                for oh in range(w.out_h):
                    adaptive_span(oh, w.out_h, w.in_h, &h0, &h1)
                    for ow in range(w.out_w):
                        adaptive_span(ow, w.out_w, w.in_w, &w0, &w1)
                        count = <floating_t>((d1 - d0) * (h1 - h0) * (w1 - w0))
                        o = (od * w.out_h + oh) * w.out_w + ow
                        for d in range(d0, d1):
                            for h in range(h0, h1):
                                for c in range(w0, w1):
                                    for ch in range(c0, c1):
                                        gi[((d * w.in_h + h) * w.in_w + c) * C + ch] += \
                                            go[o * C + ch] / count

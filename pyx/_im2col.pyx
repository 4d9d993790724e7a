# im2col and col2im for conv2d: the column matrix built straight from the input, in either data
# format and any strides, with the zero padding written in place (no padded copy, no transposed
# copy).
#
# A column row is one output position (n, oy, ox); its kh*kw*C entries run in (i, j, c) order so
# that it meets the weight reshaped as (O, kh, kw, C). `x` arrives as an (N, H, W, C) view: a
# channels-first array is passed transposed (a view), so its channel step is H*W elements.
from cython.parallel cimport prange

from _openmp cimport omp_get_thread_num

from _types cimport floating_t

import numpy as np


cdef inline void _rows_last(const char* xn, Py_ssize_t s1, Py_ssize_t s2,
                            floating_t* d, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
                            Py_ssize_t y0, Py_ssize_t sw, Py_ssize_t pw, Py_ssize_t ow,
                            Py_ssize_t kh, Py_ssize_t kw) noexcept nogil:
    # Contiguous channels: the kw taps of one window row are adjacent pixels, so a tap row is
    # one run of up to kw*C elements (the in-bounds ones), the rest zeros.
    cdef Py_ssize_t ox, i, j, e, ih, x0, j0, j1, K = kh * kw * C
    cdef const floating_t* p
    cdef floating_t* dr
    for ox in range(ow):
        x0 = ox * sw - pw
        j0 = -x0 if x0 < 0 else 0
        j1 = W - x0 if x0 + kw > W else kw
        for i in range(kh):
            dr = d + ox * K + i * kw * C
            ih = y0 + i
            if ih < 0 or ih >= H or j1 <= j0:
                for e in range(kw * C):
                    dr[e] = 0
                continue
            for e in range(j0 * C):
                dr[e] = 0
            p = <const floating_t*>(xn + ih * s1 + (x0 + j0) * s2)
            dr += j0 * C
            for e in range((j1 - j0) * C):
                dr[e] = p[e]
            dr += (j1 - j0) * C
            for e in range((kw - j1) * C):
                dr[e] = 0


cdef inline void _rows_any(const char* xn, Py_ssize_t s1, Py_ssize_t s2, Py_ssize_t s3,
                           floating_t* d, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
                           Py_ssize_t y0, Py_ssize_t sw, Py_ssize_t pw, Py_ssize_t ow,
                           Py_ssize_t kh, Py_ssize_t kw) noexcept nogil:
    # Any strides: element by element.
    cdef Py_ssize_t ox, i, j, c, ih, iw
    cdef const char* p
    for ox in range(ow):
        for i in range(kh):
            ih = y0 + i
            for j in range(kw):
                iw = ox * sw - pw + j
                if ih < 0 or ih >= H or iw < 0 or iw >= W:
                    for c in range(C):
                        d[c] = 0
                else:
                    p = xn + ih * s1 + iw * s2
                    for c in range(C):
                        d[c] = (<const floating_t*>(p + c * s3))[0]
                d += C


cdef void _im2col(const char* x, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t s2, Py_ssize_t s3,
                  floating_t* cols, Py_ssize_t N, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
                  Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                  Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t oh, Py_ssize_t ow,
                  int n_threads) noexcept nogil:
    cdef Py_ssize_t r, n, oy, K = kh * kw * C
    cdef Py_ssize_t f = <Py_ssize_t>sizeof(floating_t)
    # channels contiguous (channels last): runs of kw*C elements; otherwise element by element
    # (channels first measured slower read along the pixel rows and scattered into the columns)
    cdef bint runs = s3 == f and s2 == C * f
    # one work item per (n, oy): ow rows of the column matrix, one block of ow * K elements
    for r in prange(N * oh, nogil=True, schedule="static", num_threads=n_threads):
        n = r // oh
        oy = r - n * oh
        if runs:
            _rows_last(x + n * s0, s1, s2, cols + r * ow * K, H, W, C, oy * sh - ph, sw, pw,
                       ow, kh, kw)
        else:
            _rows_any(x + n * s0, s1, s2, s3, cols + r * ow * K, H, W, C, oy * sh - ph, sw, pw,
                      ow, kh, kw)


def im2col(x, cols, int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow,
           int n_threads):
    """Fill `cols` (N*oh*ow, kh*kw*C), C-contiguous, with the windows of `x` (N, H, W, C view,
    any strides, the dtype of `cols`); taps in the padding are zero."""
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    if x.dtype != cols.dtype or not cols.flags.c_contiguous or cols.shape[0] != N * oh * ow \
            or cols.shape[1] != kh * kw * C:
        raise ValueError(f"im2col: cols {cols.shape} {cols.dtype} does not fit x {x.shape} "
                         f"{x.dtype}")
    if cols.size == 0:
        return
    cdef Py_ssize_t s0 = x.strides[0], s1 = x.strides[1], s2 = x.strides[2], s3 = x.strides[3]
    cdef size_t xaddr = x.__array_interface__["data"][0]
    cdef size_t caddr = cols.__array_interface__["data"][0]
    if cols.dtype.itemsize == 4:
        with nogil:
            _im2col[float](<const char*>xaddr, s0, s1, s2, s3, <float*>caddr, N, H, W, C,
                           kh, kw, sh, sw, ph, pw, oh, ow, n_threads)
    else:
        with nogil:
            _im2col[double](<const char*>xaddr, s0, s1, s2, s3, <double*>caddr, N, H, W, C,
                            kh, kw, sh, sw, ph, pw, oh, ow, n_threads)


cdef inline void _col2im_row(const floating_t* g, floating_t* d, Py_ssize_t n, Py_ssize_t ih,
                             Py_ssize_t W, Py_ssize_t C, Py_ssize_t kh, Py_ssize_t kw,
                             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                             Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    # One input row (W, C), contiguous: each pixel sums the column entries of the windows that
    # cover it, taps in (i, j) order from zero (the order of adding the taps one after the other).
    cdef Py_ssize_t iw, i, j, c, t, u, oy, ox, K = kh * kw * C
    cdef const floating_t* src
    for iw in range(W):
        for c in range(C):
            d[c] = 0
        for i in range(kh):
            t = ih + ph - i
            if t < 0 or t % sh != 0 or t // sh >= oh:
                continue
            oy = t // sh
            for j in range(kw):
                u = iw + pw - j
                if u < 0 or u % sw != 0 or u // sw >= ow:
                    continue
                ox = u // sw
                src = g + ((n * oh + oy) * ow + ox) * K + (i * kw + j) * C
                for c in range(C):
                    d[c] = d[c] + src[c]
        d += C


cdef void _col2im(const floating_t* g, char* x, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t s2,
                  Py_ssize_t s3, Py_ssize_t N, Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
                  Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                  Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t oh, Py_ssize_t ow,
                  floating_t* bufs, int n_threads) noexcept nogil:
    # One work item per (n, ih) row. Channels contiguous: summed in place; otherwise summed in a
    # contiguous row buffer (one per thread, W*C each, in `bufs`), then copied out along the
    # pixels (channels first).
    cdef Py_ssize_t r, n, ih, iw, c, f = <Py_ssize_t>sizeof(floating_t)
    cdef bint direct = s3 == f and s2 == C * f
    cdef floating_t* buf
    cdef char* row
    for r in prange(N * H, nogil=True, schedule="static", num_threads=n_threads):
        n = r // H
        ih = r - n * H
        row = x + n * s0 + ih * s1
        if direct:
            _col2im_row(g, <floating_t*>row, n, ih, W, C, kh, kw, sh, sw, ph, pw, oh, ow)
        else:
            buf = bufs + omp_get_thread_num() * W * C
            _col2im_row(g, buf, n, ih, W, C, kh, kw, sh, sw, ph, pw, oh, ow)
            for c in range(C):
                for iw in range(W):
                    (<floating_t*>(row + c * s3 + iw * s2))[0] = buf[iw * C + c]


def col2im(cols, x, int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow,
           int n_threads):
    """Fill `x` (N, H, W, C view of a writable array, any strides, the dtype of `cols`) with
    the sum, per pixel, of the entries of `cols` (N*oh*ow, kh*kw*C, C-contiguous) that im2col
    would have copied from it; the entries of padding taps are dropped."""
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    if x.dtype != cols.dtype or not cols.flags.c_contiguous or cols.shape[0] != N * oh * ow \
            or cols.shape[1] != kh * kw * C or not x.flags.writeable:
        raise ValueError(f"col2im: cols {cols.shape} {cols.dtype} does not fit x {x.shape} "
                         f"{x.dtype}")
    if x.size == 0:
        return
    cdef Py_ssize_t s0 = x.strides[0], s1 = x.strides[1], s2 = x.strides[2], s3 = x.strides[3]
    cdef size_t xaddr = x.__array_interface__["data"][0]
    cdef size_t caddr = cols.__array_interface__["data"][0]
    if n_threads < 1:
        n_threads = 1
    bufs = np.empty(n_threads * W * C, cols.dtype)
    cdef size_t baddr = bufs.__array_interface__["data"][0]
    if cols.dtype.itemsize == 4:
        with nogil:
            _col2im[float](<const float*>caddr, <char*>xaddr, s0, s1, s2, s3, N, H, W, C,
                           kh, kw, sh, sw, ph, pw, oh, ow, <float*>baddr, n_threads)
    else:
        with nogil:
            _col2im[double](<const double*>caddr, <char*>xaddr, s0, s1, s2, s3, N, H, W, C,
                            kh, kw, sh, sw, ph, pw, oh, ow, <double*>baddr, n_threads)

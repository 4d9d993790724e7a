# Separable filtered subsampling: the kernel of anti-aliased "blur" pooling (Zhang 2019).
#     y[oh, ow] = sum_i sum_j taps[i] * taps[j] * x[rows[oh, i], cols[ow, j]]
# Python (cypool/downsample.py) builds the tap tables: `rows` (OH, f) and `cols` (OW, f) hold the
# input row/column each tap reads, with reflect padding and the stride already applied, so the
# kernel needs no boundary logic and trusts every index. Sums are in double, one output per
# thread in a fixed order; backward scatters per plane (or per sample and channel block), so
# results are bit-identical for any thread count.
from cython.parallel cimport prange, parallel
from libc.stdint cimport int64_t
from libc.string cimport memset

from _types cimport floating_t
from _openmp cimport omp_get_thread_num
from _channel_block cimport ChannelBlock, n_channel_blocks, channel_block, zero_channels


cdef void _blur_row_cf(const floating_t* xp, floating_t* yr, const int64_t* rows,
                       const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t W,
                       Py_ssize_t OW) noexcept nogil:
    # One output row of one plane: rows points at this output row's f input rows.
    cdef Py_ssize_t ow, i, j
    cdef double acc, part
    cdef const floating_t* xr
    for ow in range(OW):
        acc = 0
        for i in range(f):
            xr = xp + rows[i] * W
            part = 0
            for j in range(f):
                part += taps[j] * xr[cols[ow * f + j]]
            acc += taps[i] * part
        yr[ow] = <floating_t>acc


cdef void _blur_row_cl(const floating_t* xn, floating_t* yr, double* acc, const int64_t* rows,
                       const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t W,
                       Py_ssize_t OW, Py_ssize_t C) noexcept nogil:
    # Channel loop innermost and contiguous so it vectorises; acc: this thread's C doubles.
    cdef Py_ssize_t ow, i, j, ch
    cdef double wt
    cdef const floating_t* xc
    for ow in range(OW):
        for ch in range(C):
            acc[ch] = 0
        for i in range(f):
            for j in range(f):
                wt = taps[i] * taps[j]
                xc = xn + (rows[i] * W + cols[ow * f + j]) * C
                for ch in range(C):
                    acc[ch] += wt * xc[ch]
        for ch in range(C):
            yr[ow * C + ch] = <floating_t>acc[ch]


def blur_forward_cf(const floating_t[::1] x, floating_t[::1] y, const int64_t[:, ::1] rows,
                    const int64_t[:, ::1] cols, const double[::1] taps, Py_ssize_t n_planes,
                    Py_ssize_t H, Py_ssize_t W, int n_threads):
    """x: (n_planes, H, W), y: (n_planes, OH, OW), flattened; one prange item per output row."""
    cdef Py_ssize_t OH = rows.shape[0], OW = cols.shape[0], f = taps.shape[0]
    cdef Py_ssize_t r
    with nogil:
        for r in prange(n_planes * OH, num_threads=n_threads, schedule="static"):
            _blur_row_cf(&x[(r // OH) * H * W], &y[r * OW], &rows[r % OH, 0], &cols[0, 0],
                         &taps[0], f, W, OW)


def blur_forward_cl(const floating_t[::1] x, floating_t[::1] y, double[:, ::1] scratch,
                    const int64_t[:, ::1] rows, const int64_t[:, ::1] cols,
                    const double[::1] taps, Py_ssize_t n_samples, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t C, int n_threads):
    """x: (N, H, W, C), y: (N, OH, OW, C), flattened; scratch: (n_threads, C) doubles."""
    cdef Py_ssize_t OH = rows.shape[0], OW = cols.shape[0], f = taps.shape[0]
    cdef Py_ssize_t r
    with nogil, parallel(num_threads=n_threads):
        for r in prange(n_samples * OH, schedule="static"):
            _blur_row_cl(&x[(r // OH) * H * W * C], &y[r * OW * C],
                         &scratch[omp_get_thread_num(), 0], &rows[r % OH, 0], &cols[0, 0],
                         &taps[0], f, W, OW, C)


cdef void _blur_plane_backward(const floating_t* go, floating_t* gi, const int64_t* rows,
                               const int64_t* cols, const double* taps, Py_ssize_t f,
                               Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t C,
                               Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    # Scatter of one sample's channels [c0, c1) (C = 1: one channels-first plane); gi zeroed.
    cdef Py_ssize_t oh, ow, i, j, ch, dst
    cdef double wt
    cdef const floating_t* g
    for oh in range(OH):
        for ow in range(OW):
            g = go + (oh * OW + ow) * C
            for i in range(f):
                for j in range(f):
                    wt = taps[i] * taps[j]
                    dst = (rows[oh * f + i] * W + cols[ow * f + j]) * C
                    for ch in range(c0, c1):
                        gi[dst + ch] += <floating_t>(wt * g[ch])


def blur_backward_cf(const floating_t[::1] grad_out, floating_t[::1] grad_in,
                     const int64_t[:, ::1] rows, const int64_t[:, ::1] cols,
                     const double[::1] taps, Py_ssize_t n_planes, Py_ssize_t H, Py_ssize_t W,
                     int n_threads):
    """Each plane is owned by one thread: race-free and bit-identical for any thread count."""
    cdef Py_ssize_t OH = rows.shape[0], OW = cols.shape[0], f = taps.shape[0]
    cdef Py_ssize_t q
    with nogil:
        for q in prange(n_planes, num_threads=n_threads, schedule="static"):
            memset(&grad_in[q * H * W], 0, H * W * sizeof(floating_t))
            _blur_plane_backward(&grad_out[q * OH * OW], &grad_in[q * H * W], &rows[0, 0],
                                 &cols[0, 0], &taps[0], f, W, OH, OW, 1, 0, 1)


def blur_backward_cl(const floating_t[::1] grad_out, floating_t[::1] grad_in,
                     const int64_t[:, ::1] rows, const int64_t[:, ::1] cols,
                     const double[::1] taps, Py_ssize_t n_samples, Py_ssize_t H, Py_ssize_t W,
                     Py_ssize_t C, Py_ssize_t c_block, int n_threads):
    """Work items are (sample, block of channels), which own disjoint cells."""
    cdef Py_ssize_t OH = rows.shape[0], OW = cols.shape[0], f = taps.shape[0]
    cdef Py_ssize_t item
    cdef ChannelBlock b
    with nogil:
        for item in prange(n_samples * n_channel_blocks(C, c_block), num_threads=n_threads,
                           schedule="static"):
            b = channel_block(item, C, c_block)
            zero_channels(&grad_in[b.n * H * W * C], H * W, C, b.c0, b.c1)
            _blur_plane_backward(&grad_out[b.n * OH * OW * C], &grad_in[b.n * H * W * C],
                                 &rows[0, 0], &cols[0, 0], &taps[0], f, W, OH, OW, C, b.c0, b.c1)

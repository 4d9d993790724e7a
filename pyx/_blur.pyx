# Separable filtered subsampling: the kernel of anti-aliased "blur" pooling (Zhang 2019).
#     y[oh, ow] = sum_i sum_j taps[i] * taps[j] * x[rows[oh, i], cols[ow, j]]
# Python (cypool/downsample.py) builds the tap tables: `rows` (OH, f) and `cols` (OW, f) hold the
# input row/column each tap reads, with reflect padding and the stride already applied, so the
# kernel needs no boundary logic and trusts every index. Sums are in double, one output per
# thread in a fixed order; backward gathers each input cell's terms (tables inverted in
# cypool/blur.py) in the order of the scatter it replaces, per plane (or per sample and channel
# block), so results are bit-identical for any thread count. The loops are in _reduce_fast.h.
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t

from _types cimport floating_t
from _channel_block cimport ChannelBlock, n_channel_blocks, channel_block
from _reduce_fast cimport *


cdef inline bint _adjacent(const int64_t* cols, Py_ssize_t ow, Py_ssize_t f) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(1, f):
        if cols[ow * f + j] != cols[ow * f] + j:
            return False
    return True


cdef void _interior(const int64_t* cols, Py_ssize_t OW, Py_ssize_t f, Py_ssize_t* a,
                    Py_ssize_t* b, Py_ssize_t* s) noexcept nogil:
    # The run of outputs [a, b) whose taps read f adjacent columns starting at cols[a, 0] +
    # (ow - a) * s (no reflection): cypool_blur_row_cf reads them straight from the row.
    cdef Py_ssize_t ow = 0
    while ow < OW and not _adjacent(cols, ow, f):
        ow += 1
    a[0] = b[0] = ow
    s[0] = 1
    if ow == OW:
        return
    b[0] = ow + 1
    if b[0] < OW and _adjacent(cols, b[0], f) and cols[b[0] * f] > cols[ow * f]:
        s[0] = cols[b[0] * f] - cols[ow * f]
        while (b[0] < OW and _adjacent(cols, b[0], f)
               and cols[b[0] * f] - cols[(b[0] - 1) * f] == s[0]):
            b[0] += 1


def blur_forward_cf(const floating_t[::1] x, floating_t[::1] y, const int64_t[:, ::1] rows,
                    const int64_t[:, ::1] cols, const double[::1] taps, Py_ssize_t n_planes,
                    Py_ssize_t H, Py_ssize_t W, int n_threads):
    """x: (n_planes, H, W), y: (n_planes, OH, OW), flattened; one prange item per output row."""
    cdef Py_ssize_t OH = rows.shape[0], OW = cols.shape[0], f = taps.shape[0]
    cdef Py_ssize_t r, a, b, s
    with nogil:
        _interior(&cols[0, 0], OW, f, &a, &b, &s)
        for r in prange(n_planes * OH, num_threads=n_threads, schedule="static"):
            if floating_t is float:
                cypool_blur_row_cf_f32(&x[(r // OH) * H * W], &y[r * OW], &rows[r % OH, 0],
                                       &cols[0, 0], &taps[0], f, W, OW, a, b, s)
            else:
                cypool_blur_row_cf_f64(&x[(r // OH) * H * W], &y[r * OW], &rows[r % OH, 0],
                                       &cols[0, 0], &taps[0], f, W, OW, a, b, s)


def blur_forward_cl(const floating_t[::1] x, floating_t[::1] y, double[:, ::1] scratch,
                    const int64_t[:, ::1] rows, const int64_t[:, ::1] cols,
                    const double[::1] taps, Py_ssize_t n_samples, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t C, int n_threads):
    """x: (N, H, W, C), y: (N, OH, OW, C), flattened. scratch: unused (channels stay in
    registers), kept for the callers' signature."""
    cdef Py_ssize_t OH = rows.shape[0], OW = cols.shape[0], f = taps.shape[0]
    cdef Py_ssize_t r
    with nogil:
        for r in prange(n_samples * OH, num_threads=n_threads, schedule="static"):
            if floating_t is float:
                cypool_blur_row_cl_f32(&x[(r // OH) * H * W * C], &y[r * OW * C],
                                       &rows[r % OH, 0], &cols[0, 0], &taps[0], f, W, OW, C)
            else:
                cypool_blur_row_cl_f64(&x[(r // OH) * H * W * C], &y[r * OW * C],
                                       &rows[r % OH, 0], &cols[0, 0], &taps[0], f, W, OW, C)


def blur_backward_cf(const floating_t[::1] grad_out, floating_t[::1] grad_in,
                     floating_t[:, ::1] scratch, const int64_t[:, ::1] rin,
                     const int64_t[:, ::1] cin, const int64_t[:, ::1] runs,
                     const double[::1] taps, Py_ssize_t n_planes, Py_ssize_t H, Py_ssize_t W,
                     Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t s, int n_threads):
    """Blocks of planes per prange item, gathered (rin, cin, runs: see blur.py's
    _gather_tables and _phase_runs): a row's sums are planned once per block. scratch:
    (n_threads, s * ceil(W / s)), one row buffer per thread. Each cell is summed by one thread
    in a fixed order: bit-identical for any thread count."""
    cdef Py_ssize_t f = taps.shape[0], kr = (rin.shape[1] - 1) // 2
    cdef Py_ssize_t kc = (cin.shape[1] - 1) // 2, kp = (runs.shape[1] - 3) // 2
    cdef Py_ssize_t q, q0, nq, block = 16
    with nogil:
        for q in prange((n_planes + block - 1) // block, num_threads=n_threads,
                        schedule="static"):
            q0 = q * block
            nq = min(block, n_planes - q0)
            if floating_t is float:
                cypool_blur_backward_gather_cf_f32(&grad_out[q0 * OH * OW], &grad_in[q0 * H * W],
                                                   &scratch[threadid(), 0], &rin[0, 0], kr,
                                                   &cin[0, 0], kc, &runs[0, 0], kp, &taps[0],
                                                   nq, H, W, OH, OW, s)
            else:
                cypool_blur_backward_gather_cf_f64(&grad_out[q0 * OH * OW], &grad_in[q0 * H * W],
                                                   &scratch[threadid(), 0], &rin[0, 0], kr,
                                                   &cin[0, 0], kc, &runs[0, 0], kp, &taps[0],
                                                   nq, H, W, OH, OW, s)


def blur_backward_cl(const floating_t[::1] grad_out, floating_t[::1] grad_in,
                     const int64_t[:, ::1] rin, const int64_t[:, ::1] cin,
                     const double[::1] taps, Py_ssize_t n_samples, Py_ssize_t H, Py_ssize_t W,
                     Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t C, Py_ssize_t s_block,
                     Py_ssize_t c_block, int n_threads):
    """Work items are (block of s_block samples, block of channels), which own disjoint cells;
    a cell's terms are listed once per item."""
    cdef Py_ssize_t f = taps.shape[0], kr = (rin.shape[1] - 1) // 2
    cdef Py_ssize_t kc = (cin.shape[1] - 1) // 2
    cdef Py_ssize_t item, n0, nn, n_sblocks = (n_samples + s_block - 1) // s_block
    cdef ChannelBlock b
    with nogil:
        for item in prange(n_sblocks * n_channel_blocks(C, c_block), num_threads=n_threads,
                           schedule="static"):
            b = channel_block(item, C, c_block)   # b.n: the block of samples
            n0 = b.n * s_block
            nn = min(s_block, n_samples - n0)
            if floating_t is float:
                cypool_blur_backward_gather_cl_f32(&grad_out[n0 * OH * OW * C],
                                                   &grad_in[n0 * H * W * C], &rin[0, 0], kr,
                                                   &cin[0, 0], kc, &taps[0], f, nn, H, W, OH,
                                                   OW, C, b.c0, b.c1)
            else:
                cypool_blur_backward_gather_cl_f64(&grad_out[n0 * OH * OW * C],
                                                   &grad_in[n0 * H * W * C], &rin[0, 0], kr,
                                                   &cin[0, 0], kc, &taps[0], f, nn, H, W, OH,
                                                   OW, C, b.c0, b.c1)

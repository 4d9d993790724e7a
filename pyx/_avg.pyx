# Average pooling kernels, forward and backward, channels-first and channels-last.
# Divisor rule (PyTorch's): the padded extent of a window is clipped to [-pad, size + padend), so the
# ceil-mode overhang past the padding is never counted; count_include_pad divides by that extent,
# otherwise by the number of real cells; a nonzero divisor_override replaces both (0 means none).
# Sums have a fixed order per output and each output is computed by one thread, so results are
# the same for any thread count. The fast paths (_avg_fast.h) accumulate float32 windows of up to
# FLOAT_ACC_MAX_CELLS cells in float, as PyTorch does; longer windows and the general kernels
# accumulate in double. float16 and bfloat16 (16-bit patterns) run the fast paths' half-precision
# instances: float32 sums, PyTorch's division and rounding (_avg_fast.h).
from cython.parallel cimport prange
from libc.string cimport memset
from libc.stdlib cimport malloc, free
from libc.stdint cimport uint16_t
cimport numpy as cnp
import numpy as np

cnp.import_array()

from _types cimport floating_t, float_kind
from _window cimport Window, Span, RowIndex, output_row, padded_span
from _window_sum cimport window_sum
from _tile cimport (TILE_PLANES, tiles_fit, tile_start, tile_in, tile_out, cypool_tile_in_f32,
                   cypool_tile_out_f32)
from _avg_fast cimport *
from _channel_block cimport ChannelBlock, n_channel_blocks, channel_block, zero_channels
from _openmp cimport omp_get_thread_num

# The separable fast paths of _avg_fast.h serve every geometry whose per-chunk row buffers stay
# small; the general kernels below remain for the rest (very wide channels-last rows).
cdef enum:
    FAST_BUFFER_LIMIT = 8 << 20
# float32 windows up to this many cells accumulate in float (as PyTorch does; vectorises twice as
# wide); longer windows accumulate in double.
cdef enum:
    FLOAT_ACC_MAX_CELLS = 64
# calls this big (output cells forward, input cells backward) take CHUNKS_PER_THREAD ranges of
# rows a thread (_chunks)
cdef enum:
    BIG_CALL_CELLS = 1 << 21
    CHUNKS_PER_THREAD = 8


cdef inline bint _fast_fits(const Window* w, Py_ssize_t C) noexcept nogil:
    # The separable fast paths serve w when one chunk's row buffers stay within FAST_BUFFER_LIMIT.
    return cypool_avg_buffer_bytes(w, C) <= FAST_BUFFER_LIMIT


cdef inline int _chunks(Py_ssize_t rows, Py_ssize_t row_cells, int n_threads) noexcept nogil:
    # Contiguous ranges of rows (row_cells cells each), taken by the threads in turn (dynamic):
    # one a thread for a small call (row buffers are allocated once per range); CHUNKS_PER_THREAD
    # for a call of BIG_CALL_CELLS or more, so that a thread whose rows go slower does less: the
    # 256 MB 2x2/s2 forward, one range a thread, had the worker waiting for the main thread a
    # quarter of its time (perf; why that half went slower is not known: the array was all
    # huge pages).
    # Results do not depend on the split (each output is computed whole by one thread).
    cdef Py_ssize_t n = n_threads
    if rows * row_cells >= BIG_CALL_CELLS:
        n = n_threads * CHUNKS_PER_THREAD
    return <int>(rows if rows < n else n)


cdef int _fast_rows(const floating_t* src, floating_t* dst, const Window* w, bint cip,
                    Py_ssize_t div, Py_ssize_t C, bint cl, bint backward, bint small,
                    Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    # Rows [r0, r1) through the _avg_fast.h function of this dtype (float32 windows of up to
    # FLOAT_ACC_MAX_CELLS cells, `small`, sum in float), layout and direction; C: channels-last
    # only. Nonzero: no scratch, nothing written.
    if floating_t is double:
        if cl:
            return (cypool_avg_bwd_cl_f64(src, dst, w, cip, div, C, r0, r1) if backward
                    else cypool_avg_fwd_cl_f64(src, dst, w, cip, div, C, r0, r1))
        return (cypool_avg_bwd_cf_f64(src, dst, w, cip, div, r0, r1) if backward
                else cypool_avg_fwd_cf_f64(src, dst, w, cip, div, r0, r1))
    elif small:
        if cl:
            return (cypool_avg_bwd_cl_f32(src, dst, w, cip, div, C, r0, r1) if backward
                    else cypool_avg_fwd_cl_f32(src, dst, w, cip, div, C, r0, r1))
        return (cypool_avg_bwd_cf_f32(src, dst, w, cip, div, r0, r1) if backward
                else cypool_avg_fwd_cf_f32(src, dst, w, cip, div, r0, r1))
    else:
        if cl:
            return (cypool_avg_bwd_cl_f32_acc64(src, dst, w, cip, div, C, r0, r1) if backward
                    else cypool_avg_fwd_cl_f32_acc64(src, dst, w, cip, div, C, r0, r1))
        return (cypool_avg_bwd_cf_f32_acc64(src, dst, w, cip, div, r0, r1) if backward
                else cypool_avg_fwd_cf_f32_acc64(src, dst, w, cip, div, r0, r1))


cdef int _fast(const floating_t* src, floating_t* dst, const Window* w, bint cip,
               Py_ssize_t div, Py_ssize_t C, bint cl, bint backward, Py_ssize_t rows,
               int n_threads) noexcept nogil:
    # All rows (output rows forward, input rows backward), in ranges (_chunks). Nonzero: some
    # range found no scratch (the caller then runs the general kernel).
    cdef bint small = w.k_d * w.k_h * w.k_w <= FLOAT_ACC_MAX_CELLS
    cdef int n_chunks = _chunks(rows, (w.in_w if backward else w.out_w) * C, n_threads)
    cdef int chunk, failed = 0
    if n_threads == 1:
        # no OpenMP region: for a small call it costs about as much as the work
        return _fast_rows(src, dst, w, cip, div, C, cl, backward, small, 0, rows)
    for chunk in prange(n_chunks, num_threads=n_threads, schedule="dynamic"):
        failed += _fast_rows(src, dst, w, cip, div, C, cl, backward, small,
                             chunk * rows // n_chunks, (chunk + 1) * rows // n_chunks)
    return failed


cdef inline double divisor(Span sd, Span sh, Span sw, bint count_include_pad,
                           Py_ssize_t divisor_override) noexcept nogil:
    if divisor_override != 0:
        return <double>divisor_override
    if count_include_pad:
        return <double>(sd.extent * sh.extent * sw.extent)
    return <double>(sd.count * sh.count * sw.count)


cdef void _avg_row_cf(const floating_t* x, floating_t* y, const Window* w, Py_ssize_t row,
                      bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    # One output row (plane, od, oh) of a channels-first tensor.
    cdef RowIndex r = output_row(row, w)
    cdef Span sd = padded_span(r.od, w.k_d, w.s_d, w.pad_d, w.padend_d, w.in_d)
    cdef Span sh = padded_span(r.oh, w.k_h, w.s_h, w.pad_h, w.padend_h, w.in_h)
    cdef Span sw
    cdef const floating_t* xp = x + r.item * w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t ow
    for ow in range(w.out_w):
        sw = padded_span(ow, w.k_w, w.s_w, w.pad_w, w.padend_w, w.in_w)
        y[row * w.out_w + ow] = <floating_t>(window_sum(xp, w, sd, sh, sw)
                                             / divisor(sd, sh, sw, count_include_pad,
                                                       divisor_override))


cdef void _avg_row_cl(const floating_t* x, floating_t* y, double* acc, const Window* w,
                      Py_ssize_t row, Py_ssize_t C, bint count_include_pad,
                      Py_ssize_t divisor_override) noexcept nogil:
    # One output row (n, od, oh) of a channels-last tensor; the channel loop is innermost and
    # contiguous so it vectorises; acc is this thread's row of double accumulators. (Written out
    # here, not through a _window_sum.pxd helper: the helper measured 6% more instructions.)
    cdef RowIndex r = output_row(row, w)
    cdef Span sd = padded_span(r.od, w.k_d, w.s_d, w.pad_d, w.padend_d, w.in_d)
    cdef Span sh = padded_span(r.oh, w.k_h, w.s_h, w.pad_h, w.padend_h, w.in_h)
    cdef Span sw
    cdef Py_ssize_t ow, d, h, c, ch
    cdef double div
    cdef const floating_t* xc
    cdef floating_t* yo
    for ow in range(w.out_w):
        sw = padded_span(ow, w.k_w, w.s_w, w.pad_w, w.padend_w, w.in_w)
        for ch in range(C):
            acc[ch] = 0
        for d in range(sd.first, sd.first + sd.count):
            for h in range(sh.first, sh.first + sh.count):
                for c in range(sw.first, sw.first + sw.count):
                    xc = x + (((r.item * w.in_d + d) * w.in_h + h) * w.in_w + c) * C
                    for ch in range(C):
                        acc[ch] += xc[ch]
        div = divisor(sd, sh, sw, count_include_pad, divisor_override)
        yo = y + (row * w.out_w + ow) * C
        for ch in range(C):
            yo[ch] = <floating_t>(acc[ch] / div)


# Channels-first small planes go through channels-last tiles (_tile.pxd; the channels-last
# separable path vectorises across a tile's planes) when a tile's input stays within
# TILE_MAX_BYTES: a smaller bound than max pooling's. Measured at 2 threads against the row path:
# 7x7 planes 2x2/s2 0.21 -> 0.09 ms, 14x14 3x3/s1 0.61 -> 0.34 ms, 14x14 3x3/s2 0.41 -> 0.20 ms,
# but 28x28 2x2/s2 (a 100 KB tile) 0.58 -> 0.94 ms: the transposes then cost more than the rows.
cdef enum:
    TILE_MAX_BYTES = 64 << 10


cdef int _tiles(const floating_t* src, floating_t* dst, const Window* w, bint cip,
                Py_ssize_t div, bint small, bint backward, Py_ssize_t n_planes, Py_ssize_t t0,
                Py_ssize_t t1) noexcept nogil:
    # Tiles [t0, t1). Forward: src planes are inputs, dst outputs; backward: src gradients, dst
    # input gradients. Returns 1 when scratch cannot be had (nothing written), else 0.
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t src_plane = out_plane if backward else in_plane
    cdef Py_ssize_t dst_plane = in_plane if backward else out_plane
    cdef Py_ssize_t rows = w.in_d * w.in_h if backward else w.out_d * w.out_h
    cdef floating_t* ts = <floating_t*>malloc(src_plane * TILE_PLANES * sizeof(floating_t))
    cdef floating_t* td = <floating_t*>malloc(dst_plane * TILE_PLANES * sizeof(floating_t))
    cdef Py_ssize_t t, p0
    cdef int failed = ts == NULL or td == NULL
    t = t0
    while not failed and t < t1:
        p0 = tile_start(t, n_planes)
        tile_in(src, ts, src_plane, p0)
        failed = _fast_rows(ts, td, w, cip, div, TILE_PLANES, True, backward, small, 0, rows)
        if not failed:
            tile_out(td, dst, dst_plane, p0, t)
        t += 1
    free(ts)
    free(td)
    return failed


cdef bint _tiled_cf(const floating_t* src, floating_t* dst, const Window* w, Py_ssize_t n_planes,
                    bint count_include_pad, Py_ssize_t divisor_override, bint backward,
                    int n_threads) noexcept nogil:
    # The channels-first call done in channels-last tiles when its planes are small enough;
    # False: not done (not small planes, or no scratch), nothing relied on.
    cdef Py_ssize_t n_tiles = (n_planes + TILE_PLANES - 1) // TILE_PLANES, t
    cdef bint small = w.k_d * w.k_h * w.k_w <= FLOAT_ACC_MAX_CELLS
    cdef int failed = 0
    if not (tiles_fit(w, n_planes, sizeof(floating_t), TILE_MAX_BYTES)
            and _fast_fits(w, TILE_PLANES)):
        return False
    if n_threads == 1:
        failed = _tiles(src, dst, w, count_include_pad, divisor_override, small, backward,
                        n_planes, 0, n_tiles)
    else:
        for t in prange(n_tiles, num_threads=n_threads, schedule="guided"):
            failed += _tiles(src, dst, w, count_include_pad, divisor_override, small, backward,
                             n_planes, t, t + 1)
    return failed == 0


cdef void _forward_cf(const floating_t* x, floating_t* y, const Window* w, Py_ssize_t n_planes,
                      bint count_include_pad, Py_ssize_t divisor_override,
                      int n_threads) noexcept nogil:
    # Small planes: channels-last tiles; else the separable fast path of _avg_fast.h; else the
    # general kernel (one item per output row).
    cdef Py_ssize_t row, rows = n_planes * w.out_d * w.out_h
    if _tiled_cf(x, y, w, n_planes, count_include_pad, divisor_override, False, n_threads):
        return
    if _fast_fits(w, 1) and _fast(x, y, w, count_include_pad, divisor_override, 1, False, False,
                                  rows, n_threads) == 0:
        return
    for row in prange(rows, num_threads=n_threads, schedule="static"):
        _avg_row_cf(x, y, w, row, count_include_pad, divisor_override)


cdef int _forward_cl(const floating_t* x, floating_t* y, const Window* w, Py_ssize_t n_samples,
                     Py_ssize_t C, bint count_include_pad, Py_ssize_t divisor_override,
                     int n_threads) except -1 nogil:
    # The separable fast path of _avg_fast.h; else (very wide rows) the general kernel, whose
    # accumulators must be had or the call raises MemoryError.
    cdef Py_ssize_t row, rows = n_samples * w.out_d * w.out_h
    cdef double* acc
    if _fast_fits(w, C) and _fast(x, y, w, count_include_pad, divisor_override, C, True, False,
                                  rows, n_threads) == 0:
        return 0
    # one row of C double accumulators per thread
    acc = <double*>malloc(n_threads * C * sizeof(double))
    if acc == NULL:
        with gil:
            raise MemoryError()
    for row in prange(rows, num_threads=n_threads, schedule="static"):
        _avg_row_cl(x, y, acc + omp_get_thread_num() * C, w, row, C, count_include_pad,
                    divisor_override)
    free(acc)
    return 0


cdef void _avg_plane_backward(const floating_t* go, floating_t* gi, const Window* w,
                              Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1,
                              bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    # Scatter every output gradient / divisor of one sample over its window, for channels
    # [c0, c1) of a tensor with C interleaved channels (C = 1: a channels-first plane).
    cdef Py_ssize_t od, oh, ow, d, h, c, ch, o
    cdef Span sd, sh, sw
    cdef floating_t div
    for od in range(w.out_d):
        sd = padded_span(od, w.k_d, w.s_d, w.pad_d, w.padend_d, w.in_d)
        for oh in range(w.out_h):
            sh = padded_span(oh, w.k_h, w.s_h, w.pad_h, w.padend_h, w.in_h)
            for ow in range(w.out_w):
                sw = padded_span(ow, w.k_w, w.s_w, w.pad_w, w.padend_w, w.in_w)
                div = <floating_t>divisor(sd, sh, sw, count_include_pad, divisor_override)
                o = ((od * w.out_h + oh) * w.out_w + ow) * C
                for d in range(sd.first, sd.first + sd.count):
                    for h in range(sh.first, sh.first + sh.count):
                        for c in range(sw.first, sw.first + sw.count):
                            for ch in range(c0, c1):
                                gi[((d * w.in_h + h) * w.in_w + c) * C + ch] += go[o + ch] / div


cdef void _backward_cf(const floating_t* go, floating_t* gi, const Window* w, Py_ssize_t n_planes,
                       bint count_include_pad, Py_ssize_t divisor_override,
                       int n_threads) noexcept nogil:
    # The gather form of _avg_fast.h (each input row owned by one thread), else the general
    # scatter (each plane owned by one thread). Race-free, bit-identical for any thread count.
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t p
    if _tiled_cf(go, gi, w, n_planes, count_include_pad, divisor_override, True, n_threads):
        return
    if _fast_fits(w, 1) and _fast(go, gi, w, count_include_pad, divisor_override, 1, False, True,
                                  n_planes * w.in_d * w.in_h, n_threads) == 0:
        return
    for p in prange(n_planes, num_threads=n_threads, schedule="static"):
        memset(&gi[p * in_plane], 0, in_plane * sizeof(floating_t))
        _avg_plane_backward(&go[p * out_plane], &gi[p * in_plane], w, 1, 0, 1,
                            count_include_pad, divisor_override)


cdef void _backward_cl(const floating_t* go, floating_t* gi, const Window* w,
                       Py_ssize_t n_samples, Py_ssize_t C, Py_ssize_t c_block,
                       bint count_include_pad, Py_ssize_t divisor_override,
                       int n_threads) noexcept nogil:
    # Channels-last twin of _backward_cf; the general scatter's work items are (sample, block of
    # channels), which own disjoint cells (_channel_block.pxd).
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t item
    cdef ChannelBlock b
    if _fast_fits(w, C) and _fast(go, gi, w, count_include_pad, divisor_override, C, True, True,
                                  n_samples * w.in_d * w.in_h, n_threads) == 0:
        return
    for item in prange(n_samples * n_channel_blocks(C, c_block), num_threads=n_threads,
                       schedule="static"):
        b = channel_block(item, C, c_block)
        zero_channels(&gi[b.n * in_plane * C], in_plane, C, b.c0, b.c1)
        _avg_plane_backward(&go[b.n * out_plane * C], &gi[b.n * in_plane * C], w, C, b.c0, b.c1,
                            count_include_pad, divisor_override)


cdef class AvgCall:
    """An average-pooling forward or backward prepared once for one call shape: the kernel of a
    cypool._plan.Plan, called (source, destination, None, n_threads); see _max.MaxForward for
    why. The Window, divisor rule, memory order and dtype are fixed at construction, so a call
    pays no fused-type dispatch, no memoryview acquisition and no dict -> Window conversion.
    Trusts its caller: src and dst are C-contiguous ndarrays of this plan's dtype and sizes."""
    cdef Window w
    cdef Py_ssize_t n_items, C, c_block, divisor_override
    cdef bint channels_last, backward, count_include_pad, is_double
    cdef int half       # 0, or 1 (float16) / 2 (bfloat16): the 16-bit instances
    cdef bint native    # 16-bit types: the fast path serves this geometry (else through float32)

    def __init__(self, Window w, bint backward, Py_ssize_t n_items, Py_ssize_t C,
                 Py_ssize_t c_block, bint channels_last, bint count_include_pad,
                 Py_ssize_t divisor_override, str dtype_name):
        """n_items: planes (N*C) channels-first, samples (N) channels-last; c_block: the
        channels-last backward's channel block."""
        self.w = w
        self.backward, self.channels_last = backward, channels_last
        self.n_items, self.C, self.c_block = n_items, C, c_block
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        self.half = 1 if dtype_name == "float16" else 2 if dtype_name == "bfloat16" else 0
        self.is_double = False if self.half else float_kind(dtype_name, "AvgCall")
        self.native = _fast_fits(&self.w, C if channels_last else 1)

    def __call__(self, cnp.ndarray src not None, cnp.ndarray dst not None, cnp.ndarray indices,
                 int n_threads):
        # indices: unused (average pooling has none); there for the plans' one call convention
        cdef void* a = cnp.PyArray_DATA(src)
        cdef void* b = cnp.PyArray_DATA(dst)
        cdef int failed = 0
        if self.half and not self.native:
            # rows too wide for the fast path's buffers: the float32 kernels, rounded once
            wide = np.empty((<object>dst).shape, np.float32)
            self._float32((<object>src).astype(np.float32), wide, n_threads)
            (<object>dst)[...] = wide.astype((<object>dst).dtype)
            return
        with nogil:
            if self.half:
                failed = _half_run(<const uint16_t*>a, <uint16_t*>b, &self.w, self.half == 2,
                                   self.backward, self.channels_last, self.n_items, self.C,
                                   self.count_include_pad, self.divisor_override, n_threads)
            elif self.is_double:
                _run(<const double*>a, <double*>b, &self.w, self.backward, self.channels_last,
                     self.n_items, self.C, self.c_block, self.count_include_pad,
                     self.divisor_override, n_threads)
            else:
                _run(<const float*>a, <float*>b, &self.w, self.backward, self.channels_last,
                     self.n_items, self.C, self.c_block, self.count_include_pad,
                     self.divisor_override, n_threads)
        if failed:
            raise MemoryError()

    cdef _float32(self, cnp.ndarray src, cnp.ndarray dst, int n_threads):
        # The float32 kernels on float32 copies (a 16-bit call whose rows the fast path cannot
        # buffer).
        cdef const float* a = <const float*>cnp.PyArray_DATA(src)
        cdef float* b = <float*>cnp.PyArray_DATA(dst)
        with nogil:
            _run(a, b, &self.w, self.backward, self.channels_last, self.n_items, self.C,
                 self.c_block, self.count_include_pad, self.divisor_override, n_threads)


cdef int _run(const floating_t* a, floating_t* b, const Window* w, bint backward, bint cl,
              Py_ssize_t n_items, Py_ssize_t C, Py_ssize_t c_block, bint cip, Py_ssize_t div,
              int nt) except -1 nogil:
    if backward:
        if cl:
            _backward_cl(a, b, w, n_items, C, c_block, cip, div, nt)
        else:
            _backward_cf(a, b, w, n_items, cip, div, nt)
    elif cl:
        return _forward_cl(a, b, w, n_items, C, cip, div, nt)
    else:
        _forward_cf(a, b, w, n_items, cip, div, nt)
    return 0


# ----------------------------------------------------------------------------- float16, bfloat16

cdef extern from "_half.h" nogil:
    void cypool_load_f16(const uint16_t* s, float* d, Py_ssize_t n)
    void cypool_load_bf16(const uint16_t* s, float* d, Py_ssize_t n)
    void cypool_store_f16(const float* s, uint16_t* d, Py_ssize_t n)
    void cypool_store_bf16(const float* s, uint16_t* d, Py_ssize_t n)
    void cypool_plus_zero_row(uint16_t* d, Py_ssize_t n)
    float cypool_f16_to_f32(uint16_t h)
    uint16_t cypool_f32_to_f16(float x)
    float cypool_bf16_to_f32(uint16_t h)
    uint16_t cypool_f32_to_bf16(float x)


# A larger bound than float32's: the 16-bit rows cost more than float32's on short rows. 1 thread,
# CPU time, float16 / float32 of (4, 64, 28, 28) channels-first (a 100 KB tile): 2x2/s2 2.93 ->
# 1.27, 3x3/s2/p1 2.00 -> 0.58 with tiles up to this size.
cdef enum:
    HALF_TILE_MAX_BYTES = 256 << 10


cdef bint _half_tiles_fit(const Window* w, Py_ssize_t n_planes, bint backward) noexcept nogil:
    # Channels-first 16-bit calls on small planes go through float32 tiles, as float32's do (a
    # 16-bit row of a few outputs is mostly set-up: up to 10x float32's time on 14x14 planes):
    # windows summed in float (as the 16-bit rows sum them) and, backward, windows that do not
    # overlap (overlapping ones round after every add, which the float32 tiles do not).
    if w.k_d * w.k_h * w.k_w > FLOAT_ACC_MAX_CELLS:
        return False
    if backward and (w.k_d > w.s_d or w.k_h > w.s_h or w.k_w > w.s_w):
        return False
    return tiles_fit(w, n_planes, sizeof(float), HALF_TILE_MAX_BYTES) and _fast_fits(w, TILE_PLANES)


cdef void _half_divisors(const Window* w, bint cip, Py_ssize_t div, bint backward, bint bf,
                         float* d) noexcept nogil:
    # The divisor of each output (forward) or of the one window holding each input cell
    # (backward, windows that do not overlap; 1 for cells in none), as the 16-bit rows use it:
    # the backward's rounded to the 16-bit type first, as PyTorch's (bfloat16: 257 -> 256).
    cdef Py_ssize_t od, oh, ow, a, b, c, n = w.in_d * w.in_h * w.in_w
    cdef Span sd, sh, sw
    cdef float v
    if backward:
        for a in range(n):
            d[a] = 1
    for od in range(w.out_d):
        sd = padded_span(od, w.k_d, w.s_d, w.pad_d, w.padend_d, w.in_d)
        for oh in range(w.out_h):
            sh = padded_span(oh, w.k_h, w.s_h, w.pad_h, w.padend_h, w.in_h)
            for ow in range(w.out_w):
                sw = padded_span(ow, w.k_w, w.s_w, w.pad_w, w.padend_w, w.in_w)
                v = <float>divisor(sd, sh, sw, cip, div)
                if backward:
                    v = cypool_bf16_to_f32(cypool_f32_to_bf16(v)) if bf else \
                        cypool_f16_to_f32(cypool_f32_to_f16(v))
                else:
                    d[(od * w.out_h + oh) * w.out_w + ow] = v
                    continue
                for a in range(sd.first, sd.first + sd.count):
                    for b in range(sh.first, sh.first + sh.count):
                        for c in range(sw.first, sw.first + sw.count):
                            d[(a * w.in_h + b) * w.in_w + c] = v


cdef int _half_tiles(const uint16_t* src, uint16_t* dst, const Window* w, bint bf, bint cip,
                     const float* dv, bint backward, Py_ssize_t n_planes, Py_ssize_t t0,
                     Py_ssize_t t1) noexcept nogil:
    # Tiles [t0, t1) of a 16-bit channels-first call: a tile's planes (contiguous) converted to
    # float, moved into the tile, summed (forward) or spread (backward) by the float32
    # channels-last rows with divisor 1, moved back, then divided in float as the 16-bit rows
    # divide ((0 + sum) / dv, _half_divisors: PyTorch's division, -0 as +0) and rounded once.
    # Nonzero: no scratch, nothing written.
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t src_plane = out_plane if backward else in_plane
    cdef Py_ssize_t dst_plane = in_plane if backward else out_plane
    cdef Py_ssize_t rows = w.in_d * w.in_h if backward else w.out_d * w.out_h
    cdef Py_ssize_t flat_n = (src_plane if src_plane > dst_plane else dst_plane) * TILE_PLANES
    cdef float* ts = <float*>malloc(src_plane * TILE_PLANES * sizeof(float))
    cdef float* td = <float*>malloc(dst_plane * TILE_PLANES * sizeof(float))
    cdef float* flat = <float*>malloc(flat_n * sizeof(float))
    cdef Py_ssize_t t, p0, j0, n, j, i
    cdef float* f
    cdef float zero = 0      # float arithmetic below: (0 + sum) / divisor rounded to float
    cdef int failed = ts == NULL or td == NULL or flat == NULL
    t = t0
    while not failed and t < t1:
        p0 = tile_start(t, n_planes)
        if bf:
            cypool_load_bf16(src + p0 * src_plane, flat, src_plane * TILE_PLANES)
        else:
            cypool_load_f16(src + p0 * src_plane, flat, src_plane * TILE_PLANES)
        cypool_tile_in_f32(flat, ts, src_plane, 0, TILE_PLANES)
        failed = _fast_rows(ts, td, w, cip, 1, TILE_PLANES, True, backward, True, 0, rows)
        if not failed:
            j0 = t * TILE_PLANES - p0          # the planes this tile owns
            cypool_tile_out_f32(td, flat, dst_plane, 0, j0, TILE_PLANES)
            for j in range(j0, TILE_PLANES):
                f = flat + j * dst_plane
                for i in range(dst_plane):
                    f[i] = (zero + f[i]) / dv[i]
            n = (TILE_PLANES - j0) * dst_plane
            if bf:
                cypool_store_bf16(flat + j0 * dst_plane, dst + (p0 + j0) * dst_plane, n)
            else:
                cypool_store_f16(flat + j0 * dst_plane, dst + (p0 + j0) * dst_plane, n)
            cypool_plus_zero_row(dst + (p0 + j0) * dst_plane, n)
        t += 1
    free(ts)
    free(td)
    free(flat)
    return failed


cdef int _half_rows(const uint16_t* src, uint16_t* dst, const Window* w, bint bf, bint backward,
                    bint cl, Py_ssize_t C, bint cip, Py_ssize_t div, Py_ssize_t r0,
                    Py_ssize_t r1) noexcept nogil:
    # Rows [r0, r1) through the 16-bit instance of _avg_fast.h for this dtype (bf: bfloat16),
    # layout and direction. Nonzero: no scratch, nothing written.
    if bf:
        if cl:
            return (cypool_avg_bwd_cl_bf16(src, dst, w, cip, div, C, r0, r1) if backward
                    else cypool_avg_fwd_cl_bf16(src, dst, w, cip, div, C, r0, r1))
        return (cypool_avg_bwd_cf_bf16(src, dst, w, cip, div, r0, r1) if backward
                else cypool_avg_fwd_cf_bf16(src, dst, w, cip, div, r0, r1))
    if cl:
        return (cypool_avg_bwd_cl_f16(src, dst, w, cip, div, C, r0, r1) if backward
                else cypool_avg_fwd_cl_f16(src, dst, w, cip, div, C, r0, r1))
    return (cypool_avg_bwd_cf_f16(src, dst, w, cip, div, r0, r1) if backward
            else cypool_avg_fwd_cf_f16(src, dst, w, cip, div, r0, r1))


cdef int _half_run(const uint16_t* src, uint16_t* dst, const Window* w, bint bf, bint backward,
                   bint cl, Py_ssize_t n_items, Py_ssize_t C, bint cip, Py_ssize_t div,
                   int n_threads) noexcept nogil:
    # All rows (output rows forward, input rows backward) of a float16 / bfloat16 call, in
    # ranges (_chunks), as _fast. Nonzero: some range found no scratch.
    cdef Py_ssize_t rows = n_items * (w.in_d * w.in_h if backward else w.out_d * w.out_h)
    cdef int n_chunks = _chunks(rows, (w.in_w if backward else w.out_w) * (C if cl else 1),
                                n_threads)
    cdef int chunk, failed = 0
    cdef Py_ssize_t n_tiles = (n_items + TILE_PLANES - 1) // TILE_PLANES, t
    cdef float* dv
    if not cl and _half_tiles_fit(w, n_items, backward):
        # one divisor per cell of a plane, shared by every tile
        dv = <float*>malloc((w.in_d * w.in_h * w.in_w if backward
                             else w.out_d * w.out_h * w.out_w) * sizeof(float))
        failed = dv == NULL
        if not failed:
            _half_divisors(w, cip, div, backward, bf, dv)
            if n_threads == 1:
                failed = _half_tiles(src, dst, w, bf, cip, dv, backward, n_items, 0, n_tiles)
            else:
                for t in prange(n_tiles, num_threads=n_threads, schedule="guided"):
                    failed += _half_tiles(src, dst, w, bf, cip, dv, backward, n_items, t, t + 1)
        free(dv)
        if failed == 0:
            return 0
        failed = 0
    if n_threads == 1:
        return _half_rows(src, dst, w, bf, backward, cl, C, cip, div, 0, rows)
    for chunk in prange(n_chunks, num_threads=n_threads, schedule="dynamic"):
        failed += _half_rows(src, dst, w, bf, backward, cl, C, cip, div,
                             chunk * rows // n_chunks, (chunk + 1) * rows // n_chunks)
    return failed

# Adaptive pooling kernels (global pooling is the one-bin case). Bins follow PyTorch:
# [floor(o*L/O), ceil((o+1)*L/O)) along each axis, so bins may overlap and always cover the input.
# Adaptive max backward is the index scatter of _max. Global average pooling (every output size 1)
# takes the plain reductions and broadcasts of _avg_fast.h.
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int8_t, uint8_t, int16_t, uint16_t, int32_t, int64_t
from libc.string cimport memset
from cpython.mem cimport PyMem_Malloc, PyMem_Free

from _avg_fast cimport *
from _reduce_fast cimport *
from _channel_block cimport ChannelBlock, n_channel_blocks, channel_block, zero_channels
from _types cimport maxable_t, floating_t, lowest, dtype_kind
from _window cimport Window, Span, RowIndex, output_row, adaptive_span

cnp.import_array()


cdef inline bint _is_global(const Window* w) noexcept nogil:
    return w.out_d == 1 and w.out_h == 1 and w.out_w == 1


cdef inline Py_ssize_t _cut8(Py_ssize_t i, Py_ssize_t n_chunks, Py_ssize_t n) noexcept nogil:
    if i >= n_chunks:
        return n
    return i * n // n_chunks // 8 * 8


cdef inline Py_ssize_t _global_cl_block(Py_ssize_t n, Py_ssize_t C, int n_threads) noexcept nogil:
    # Channels per work item of channels-last global pooling: whole samples when there are enough
    # of them for every thread, else blocks of a multiple of 16 channels (one register block).
    cdef Py_ssize_t wanted = (2 * n_threads + n - 1) // n
    cdef Py_ssize_t b
    if wanted <= 1:
        return C
    b = (C + wanted - 1) // wanted
    b = (b + 15) // 16 * 16
    return b if b < C else C


ctypedef fused gap_t:
    # global average pooling's data: float32, float64, and float16 or bfloat16 (16-bit patterns)
    float
    double
    uint16_t


cdef void _gap_cf(const gap_t* src, gap_t* dst, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t L,
                  bint backward, bint bf16) noexcept nogil:
    # Channels-first planes [p0, p1) of L values: their means, or (backward) their gradients / L
    # broadcast over them. bf16: 16-bit data are bfloat16, else float16.
    if gap_t is float:
        if backward:
            cypool_global_avg_bwd_cf_f32(src, dst, p0, p1, L)
        else:
            cypool_global_avg_fwd_cf_f32(src, dst, p0, p1, L)
    elif gap_t is double:
        if backward:
            cypool_global_avg_bwd_cf_f64(src, dst, p0, p1, L)
        else:
            cypool_global_avg_fwd_cf_f64(src, dst, p0, p1, L)
    elif bf16:
        if backward:
            cypool_global_avg_bwd_cf_bf16(src, dst, p0, p1, L)
        else:
            cypool_global_avg_fwd_cf_bf16(src, dst, p0, p1, L)
    elif backward:
        cypool_global_avg_bwd_cf_f16(src, dst, p0, p1, L)
    else:
        cypool_global_avg_fwd_cf_f16(src, dst, p0, p1, L)


cdef void _gap_cl(const gap_t* src, gap_t* dst, Py_ssize_t n, Py_ssize_t L, Py_ssize_t C,
                  Py_ssize_t c0, Py_ssize_t c1, bint backward, bint bf16) noexcept nogil:
    # Channels-last twin of _gap_cf: sample n's channels [c0, c1) over its L cells.
    if gap_t is float:
        if backward:
            cypool_global_avg_bwd_cl_f32(src, dst, n, L, C, c0, c1)
        else:
            cypool_global_avg_fwd_cl_f32(src, dst, n, L, C, c0, c1)
    elif gap_t is double:
        if backward:
            cypool_global_avg_bwd_cl_f64(src, dst, n, L, C, c0, c1)
        else:
            cypool_global_avg_fwd_cl_f64(src, dst, n, L, C, c0, c1)
    elif bf16:
        if backward:
            cypool_global_avg_bwd_cl_bf16(src, dst, n, L, C, c0, c1)
        else:
            cypool_global_avg_fwd_cl_bf16(src, dst, n, L, C, c0, c1)
    elif backward:
        cypool_global_avg_bwd_cl_f16(src, dst, n, L, C, c0, c1)
    else:
        cypool_global_avg_fwd_cl_f16(src, dst, n, L, C, c0, c1)


cdef struct Bins:
    # The bins of one call along each axis, computed once (adaptive_span): first cell and cell
    # count of window o along d, h and w. The kernels index them instead of dividing.
    const Py_ssize_t* df
    const Py_ssize_t* dc
    const Py_ssize_t* hf
    const Py_ssize_t* hc
    const Py_ssize_t* wf
    const Py_ssize_t* wc


cdef void _avg_bins_cf(const floating_t* x, floating_t* y, const Window* w, const Bins* b,
                       Py_ssize_t row) noexcept nogil:
    # One output row, its windows interleaved input row by input row (_reduce_fast.h).
    cdef RowIndex r = output_row(row, w)
    cdef const floating_t* xp = x + r.item * w.in_d * w.in_h * w.in_w
    if floating_t is float:
        cypool_adaptive_avg_bins_cf_f32(xp, y + row * w.out_w, w.in_h, w.in_w, b.df[r.od],
                                        b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf, b.wc, w.out_w)
    else:
        cypool_adaptive_avg_bins_cf_f64(xp, y + row * w.out_w, w.in_h, w.in_w, b.df[r.od],
                                        b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf, b.wc, w.out_w)


cdef void _avg_tile_cf(const float* x, float* y, const Window* w, const Bins* b,
                       Py_ssize_t item) noexcept nogil:
    # Item (group of 16 planes, output row oh) of a 2-d float32 input (_reduce_fast.h).
    cdef Py_ssize_t g = item // w.out_h, oh = item % w.out_h
    cdef Py_ssize_t L = w.in_h * w.in_w, out_plane = w.out_h * w.out_w
    cypool_adaptive_avg_tile16_cf_f32(x + g * 16 * L, y + g * 16 * out_plane + oh * w.out_w, L,
                                      out_plane, w.in_w, b.hf[oh], b.hc[oh], b.wf, b.wc,
                                      w.out_w)


cdef void _max_tile_cf(const float* x, float* y, int64_t* idx, const Window* w, const Bins* b,
                       Py_ssize_t item) noexcept nogil:
    cdef Py_ssize_t g = item // w.out_h, oh = item % w.out_h
    cdef Py_ssize_t L = w.in_h * w.in_w, out_plane = w.out_h * w.out_w
    cdef Py_ssize_t o = g * 16 * out_plane + oh * w.out_w
    cypool_adaptive_max_tile16_cf_f32(x + g * 16 * L, y + o, NULL if idx == NULL else idx + o, L,
                                      out_plane, w.in_w, b.hf[oh], b.hc[oh], b.wf, b.wc,
                                      w.out_w)


cdef Py_ssize_t _tile_groups(const Window* w, const Bins* b, Py_ssize_t n_planes) noexcept nogil:
    # Groups of 16 float32 planes the tile kernel takes: 2-d inputs whose bands fit a tile.
    cdef Py_ssize_t o, hmax = 0
    if not CYPOOL_HAVE_TILE16 or w.in_d != 1 or w.out_d != 1:
        return 0
    for o in range(w.out_h):
        if b.hc[o] > hmax:
            hmax = b.hc[o]
    return n_planes // 16 if hmax * w.in_w <= CYPOOL_TILE_CELLS else 0


cdef void _avg_bins_cl(const floating_t* x, floating_t* y, const Window* w, const Bins* b,
                       Py_ssize_t row, Py_ssize_t C, Py_ssize_t input_bytes) noexcept nogil:
    # One output row, its band of input rows streamed in memory order (_reduce_fast.h; the
    # whole input's size tells it whether the input comes from memory).
    cdef RowIndex r = output_row(row, w)
    cdef const floating_t* xs = x + r.item * w.in_d * w.in_h * w.in_w * C
    if floating_t is float:
        cypool_adaptive_avg_band_cl_f32(xs, y + row * w.out_w * C, C, w.in_h, w.in_w,
                                        b.df[r.od], b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf,
                                        b.wc, w.out_w, input_bytes)
    else:
        cypool_adaptive_avg_band_cl_f64(xs, y + row * w.out_w * C, C, w.in_h, w.in_w,
                                        b.df[r.od], b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf,
                                        b.wc, w.out_w, input_bytes)


cdef void _max_bins_cf(const floating_t* x, floating_t* y, int64_t* idx, const Window* w,
                       const Bins* b, Py_ssize_t row) noexcept nogil:
    cdef RowIndex r = output_row(row, w)
    cdef const floating_t* xp = x + r.item * w.in_d * w.in_h * w.in_w
    cdef int64_t* ir = NULL if idx == NULL else idx + row * w.out_w
    if floating_t is float:
        cypool_adaptive_max_bins_cf_f32(xp, y + row * w.out_w, ir, w.in_h, w.in_w, b.df[r.od],
                                        b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf, b.wc, w.out_w)
    else:
        cypool_adaptive_max_bins_cf_f64(xp, y + row * w.out_w, ir, w.in_h, w.in_w, b.df[r.od],
                                        b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf, b.wc, w.out_w)


cdef void _max_bins_cl(const floating_t* x, floating_t* y, int64_t* idx, const Window* w,
                       const Bins* b, Py_ssize_t row, Py_ssize_t C) noexcept nogil:
    # float32 positions in int32: the caller makes sure the plane has fewer than 2^31 cells.
    cdef RowIndex r = output_row(row, w)
    cdef const floating_t* xs = x + r.item * w.in_d * w.in_h * w.in_w * C
    cdef int64_t* ir = NULL if idx == NULL else idx + row * w.out_w * C
    if floating_t is float:
        cypool_adaptive_max_band_cl_f32(xs, y + row * w.out_w * C, ir, C, w.in_h, w.in_w,
                                        b.df[r.od], b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf,
                                        b.wc, w.out_w)
    else:
        cypool_adaptive_max_band_cl_f64(xs, y + row * w.out_w * C, ir, C, w.in_h, w.in_w,
                                        b.df[r.od], b.dc[r.od], b.hf[r.oh], b.hc[r.oh], b.wf,
                                        b.wc, w.out_w)


cdef inline void _global_max_range(const floating_t* x, floating_t* y, int64_t* idx,
                                   Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t L) noexcept nogil:
    # Planes [p0, p1): the lane kernel, or without indices the vector maximum.
    if floating_t is float:
        if idx == NULL:
            cypool_global_max_values_cf_f32(x, y, p0, p1, L)
        else:
            cypool_global_max_cf_f32(x, y, idx, p0, p1, L)
    elif idx == NULL:
        cypool_global_max_values_cf_f64(x, y, p0, p1, L)
    else:
        cypool_global_max_cf_f64(x, y, idx, p0, p1, L)


cdef void _global_max_cf(const floating_t* x, floating_t* y, int64_t* idx, Py_ssize_t n_planes,
                         Py_ssize_t L, int n_threads) noexcept nogil:
    # Channels-first global max (L < 2^31 cells a plane): with indices, float32 planes of up to
    # a tile's cells in groups of 16 through the tile kernel (one window, the plane as one row);
    # the others in contiguous ranges (_global_max_range).
    cdef Py_ssize_t n_chunks, chunk, p0, p1, g, groups = 0
    cdef Py_ssize_t first_cell = 0
    if floating_t is float and idx != NULL:
        if CYPOOL_HAVE_TILE16 and L <= CYPOOL_TILE_CELLS:
            groups = n_planes // 16
        if n_threads == 1:
            for g in range(groups):
                cypool_adaptive_max_tile16_cf_f32(x + g * 16 * L, y + g * 16, idx + g * 16, L, 1,
                                                  L, 0, 1, &first_cell, &L, 1)
        elif groups:
            for g in prange(groups, num_threads=n_threads, schedule="static"):
                cypool_adaptive_max_tile16_cf_f32(x + g * 16 * L, y + g * 16, idx + g * 16, L, 1,
                                                  L, 0, 1, &first_cell, &L, 1)
        if groups:
            x, y, idx = x + groups * 16 * L, y + groups * 16, idx + groups * 16
            n_planes -= groups * 16
    n_chunks = n_planes if n_planes < n_threads else n_threads
    if n_planes == 0:
        return
    if n_threads == 1:
        # no OpenMP region: for a small call it costs about as much as the work
        _global_max_range(x, y, idx, 0, n_planes, L)
        return
    for chunk in prange(n_chunks, num_threads=n_threads, schedule="static"):
        p0 = chunk * n_planes // n_chunks
        p1 = (chunk + 1) * n_planes // n_chunks
        _global_max_range(x, y, idx, p0, p1, L)


cdef void _max_row_cf(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                      Py_ssize_t row) noexcept nogil:
    # Integers (floats: _max_bins_cf and the tile and global kernels).
    cdef RowIndex r = output_row(row, w)
    cdef const maxable_t* xp = x + r.item * w.in_d * w.in_h * w.in_w
    cdef Span sd = adaptive_span(r.od, w.out_d, w.in_d)
    cdef Span sh = adaptive_span(r.oh, w.out_h, w.in_h)
    cdef Span sw
    cdef Py_ssize_t ow, d, h, c, pos, best
    cdef maxable_t m, v
    for ow in range(w.out_w):
        sw = adaptive_span(ow, w.out_w, w.in_w)
        m = lowest(&m)
        best = (sd.first * w.in_h + sh.first) * w.in_w + sw.first
        for d in range(sd.first, sd.first + sd.count):
            for h in range(sh.first, sh.first + sh.count):
                pos = (d * w.in_h + h) * w.in_w
                for c in range(sw.first, sw.first + sw.count):
                    v = xp[pos + c]
                    if v > m or v != v:
                        m = v
                        best = pos + c
        y[row * w.out_w + ow] = m
        if idx != NULL:
            idx[row * w.out_w + ow] = best


cdef void _max_row_cl(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                      Py_ssize_t row, Py_ssize_t C) noexcept nogil:
    # Integers, and float32 planes of 2^31 cells or more (floats otherwise: _max_bins_cl).
    cdef RowIndex r = output_row(row, w)
    cdef Py_ssize_t n = r.item
    cdef Span sd = adaptive_span(r.od, w.out_d, w.in_d)
    cdef Span sh = adaptive_span(r.oh, w.out_h, w.in_h)
    cdef Span sw
    cdef Py_ssize_t ow, d, h, c, ch, pos
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef maxable_t v, init
    cdef maxable_t* ym
    cdef int64_t* im
    cdef const maxable_t* xc
    init = lowest(&init)
    for ow in range(w.out_w):
        sw = adaptive_span(ow, w.out_w, w.in_w)
        ym = y + (row * w.out_w + ow) * C
        im = idx + (row * w.out_w + ow) * C if idx != NULL else NULL
        pos = (sd.first * w.in_h + sh.first) * w.in_w + sw.first
        for ch in range(C):
            ym[ch] = init
            if im != NULL:
                im[ch] = pos
        for d in range(sd.first, sd.first + sd.count):
            for h in range(sh.first, sh.first + sh.count):
                for c in range(sw.first, sw.first + sw.count):
                    pos = (d * w.in_h + h) * w.in_w + c
                    xc = x + (n * in_plane + pos) * C
                    for ch in range(C):
                        v = xc[ch]
                        if v > ym[ch] or v != v:
                            ym[ch] = v
                            if im != NULL:
                                im[ch] = pos


# Channels of a channels-last bin whose deltas _avg_plane_backward keeps at a time (on the stack)
cdef enum:
    BIN_CHANNELS = 256


cdef void _avg_plane_backward(const floating_t* go, floating_t* gi, const Window* w,
                              Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    # Scatter each bin's grad over the bin of one sample, channels [c0, c1) of C interleaved:
    # PyTorch's delta, grad / kd / kh / kw (three roundings: the same bits as torch, where one
    # division by the bin's size differed in the last bit for a third of the cells of 13 -> 6),
    # added to the bin's cells in output order. The deltas are worked out once per bin, for up
    # to BIN_CHANNELS channels at a time, not per cell: three divisions per cell and channel took
    # the channels-last 13 -> 6 backward from 0.81 to 1.90 of torch's time. Channels-last bins go
    # to a cloned C function (_reduce_fast_body.h), whose adds get AVX-512's lanes.
    cdef Py_ssize_t od, oh, ow, d, h, c, o, at, b0, b1, nb
    cdef Span sd, sh, sw
    cdef floating_t kd, kh, kw, dl
    b0 = c0
    while b0 < c1:
        b1 = b0 + BIN_CHANNELS if b0 + BIN_CHANNELS < c1 else c1
        nb = b1 - b0
        for od in range(w.out_d):
            sd = adaptive_span(od, w.out_d, w.in_d)
            kd = <floating_t>sd.count
            for oh in range(w.out_h):
                sh = adaptive_span(oh, w.out_h, w.in_h)
                kh = <floating_t>sh.count
                for ow in range(w.out_w):
                    sw = adaptive_span(ow, w.out_w, w.in_w)
                    kw = <floating_t>sw.count
                    o = ((od * w.out_h + oh) * w.out_w + ow) * C + b0
                    if C == 1:   # a plane: a scalar loop (through the channel loop: 4-7% slower)
                        dl = go[o] / kd / kh / kw
                        for d in range(sd.first, sd.first + sd.count):
                            for h in range(sh.first, sh.first + sh.count):
                                at = (d * w.in_h + h) * w.in_w
                                for c in range(sw.first, sw.first + sw.count):
                                    gi[at + c] += dl
                        continue
                    if floating_t is float:
                        cypool_adaptive_avg_bin_backward_cl_f32(
                            go + o, gi + b0, C, nb, w.in_h, w.in_w, sd.first, sd.count,
                            sh.first, sh.count, sw.first, sw.count)
                    else:
                        cypool_adaptive_avg_bin_backward_cl_f64(
                            go + o, gi + b0, C, nb, w.in_h, w.in_w, sd.first, sd.count,
                            sh.first, sh.count, sw.first, sw.count)
        b0 = b1


cdef void _global_cf(const gap_t* x, gap_t* y, Py_ssize_t n_planes, Py_ssize_t L, int n_threads,
                     bint backward, bint bf16) noexcept nogil:
    # Global average pooling, channels-first, forward or backward: one contiguous range of planes
    # per thread, cut at multiples of 8 planes (the group the float kernels reduce at once;
    # results do not depend on the cut).
    cdef Py_ssize_t n_chunks = n_planes if n_planes < n_threads else n_threads
    cdef Py_ssize_t chunk
    if n_threads == 1:
        # no OpenMP region: for a small call it costs about as much as the work
        _gap_cf(x, y, 0, n_planes, L, backward, bf16)
        return
    for chunk in prange(n_chunks, num_threads=n_threads, schedule="static"):
        _gap_cf(x, y, _cut8(chunk, n_chunks, n_planes), _cut8(chunk + 1, n_chunks, n_planes), L,
                backward, bf16)


cdef void _global_cl(const gap_t* x, gap_t* y, Py_ssize_t n_samples, Py_ssize_t C,
                     Py_ssize_t L, int n_threads, bint backward, bint bf16) noexcept nogil:
    # Channels-last: work items of (sample, block of channels), _global_cl_block.
    cdef Py_ssize_t cb = _global_cl_block(n_samples, C, n_threads)
    cdef Py_ssize_t nb = (C + cb - 1) // cb
    cdef Py_ssize_t item, c0
    if n_threads == 1:
        for item in range(n_samples):
            _gap_cl(x, y, item, L, C, 0, C, backward, bf16)
        return
    for item in prange(n_samples * nb, num_threads=n_threads, schedule="static"):
        c0 = (item % nb) * cb
        _gap_cl(x, y, item // nb, L, C, c0, c0 + cb if c0 + cb < C else C, backward, bf16)


cdef void _avg_forward_cf(const floating_t* x, floating_t* y, const Window* w, const Bins* b,
                          Py_ssize_t n_planes, int n_threads) noexcept nogil:
    # float32: groups of 16 planes through the tile kernel, the other planes row by row
    cdef Py_ssize_t row, n_rows = n_planes * w.out_d * w.out_h
    cdef Py_ssize_t item, n_tiled = 0, first = 0
    if _is_global(w):
        _global_cf(x, y, n_planes, w.in_d * w.in_h * w.in_w, n_threads, False, False)
        return
    if floating_t is float:
        n_tiled = _tile_groups(w, b, n_planes) * w.out_h
        first = n_tiled * 16
        if n_threads == 1:
            for item in range(n_tiled):
                _avg_tile_cf(x, y, w, b, item)
        elif n_tiled:
            for item in prange(n_tiled, num_threads=n_threads, schedule="static"):
                _avg_tile_cf(x, y, w, b, item)
    if n_threads == 1:
        for row in range(first, n_rows):
            _avg_bins_cf(x, y, w, b, row)
    elif first < n_rows:
        for row in prange(first, n_rows, num_threads=n_threads, schedule="static"):
            _avg_bins_cf(x, y, w, b, row)


cdef void _avg_forward_cl(const floating_t* x, floating_t* y, const Window* w, const Bins* b,
                          Py_ssize_t n_samples, Py_ssize_t C, int n_threads) noexcept nogil:
    cdef Py_ssize_t row, n_rows = n_samples * w.out_d * w.out_h
    cdef Py_ssize_t nbytes = n_samples * w.in_d * w.in_h * w.in_w * C * sizeof(floating_t)
    if _is_global(w):
        _global_cl(x, y, n_samples, C, w.in_d * w.in_h * w.in_w, n_threads, False, False)
    elif n_threads == 1:
        for row in range(n_rows):
            _avg_bins_cl(x, y, w, b, row, C, nbytes)
    else:
        for row in prange(n_rows, num_threads=n_threads, schedule="static"):
            _avg_bins_cl(x, y, w, b, row, C, nbytes)


cdef void _max_forward_cf(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                          const Bins* b, Py_ssize_t n_planes, int n_threads) noexcept nogil:
    # Floats: the vector global max or the bin-table rows; integers: the plain loop.
    # float32 groups of 16 planes: the tile kernel (positions in int32), like the average's
    cdef Py_ssize_t row, n_rows = n_planes * w.out_d * w.out_h
    cdef Py_ssize_t L = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t item, n_tiled = 0, first = 0
    if maxable_t is float or maxable_t is double:
        if _is_global(w) and L <= 2147483647:
            _global_max_cf(x, y, idx, n_planes, L, n_threads)
            return
        if maxable_t is float:
            if L <= 2147483647:
                n_tiled = _tile_groups(w, b, n_planes) * w.out_h
            first = n_tiled * 16
            if n_threads == 1:
                for item in range(n_tiled):
                    _max_tile_cf(x, y, idx, w, b, item)
            elif n_tiled:
                for item in prange(n_tiled, num_threads=n_threads, schedule="static"):
                    _max_tile_cf(x, y, idx, w, b, item)
        if n_threads == 1:
            for row in range(first, n_rows):
                _max_bins_cf(x, y, idx, w, b, row)
        elif first < n_rows:
            for row in prange(first, n_rows, num_threads=n_threads, schedule="static"):
                _max_bins_cf(x, y, idx, w, b, row)
    elif n_threads == 1:
        for row in range(n_rows):
            _max_row_cf(x, y, idx, w, row)
    else:
        for row in prange(n_rows, num_threads=n_threads, schedule="static"):
            _max_row_cf(x, y, idx, w, row)


cdef void _max_forward_cl(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                          const Bins* b, Py_ssize_t n_samples, Py_ssize_t C,
                          int n_threads) noexcept nogil:
    cdef Py_ssize_t row, n_rows = n_samples * w.out_d * w.out_h
    if maxable_t is float or maxable_t is double:
        # floats: the band kernel (float32 positions in int32)
        if maxable_t is double or w.in_d * w.in_h * w.in_w <= 2147483647:
            if n_threads == 1:
                for row in range(n_rows):
                    _max_bins_cl(x, y, idx, w, b, row, C)
            else:
                for row in prange(n_rows, num_threads=n_threads, schedule="static"):
                    _max_bins_cl(x, y, idx, w, b, row, C)
            return
    if n_threads == 1:
        for row in range(n_rows):
            _max_row_cl(x, y, idx, w, row, C)
    else:
        for row in prange(n_rows, num_threads=n_threads, schedule="static"):
            _max_row_cl(x, y, idx, w, row, C)


cdef void _avg_backward_cf(const floating_t* go, floating_t* gi, const Window* w,
                           Py_ssize_t n_planes, int n_threads) noexcept nogil:
    # One thread owns a plane: race-free and deterministic.
    cdef Py_ssize_t L = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t p
    if _is_global(w):
        _global_cf(go, gi, n_planes, L, n_threads, True, False)
        return
    if n_threads == 1:
        for p in range(n_planes):
            memset(&gi[p * L], 0, L * sizeof(floating_t))
            _avg_plane_backward(&go[p * out_plane], &gi[p * L], w, 1, 0, 1)
        return
    for p in prange(n_planes, num_threads=n_threads, schedule="static"):
        memset(&gi[p * L], 0, L * sizeof(floating_t))
        _avg_plane_backward(&go[p * out_plane], &gi[p * L], w, 1, 0, 1)


cdef void _avg_backward_cl(const floating_t* go, floating_t* gi, const Window* w,
                           Py_ssize_t n_samples, Py_ssize_t C, Py_ssize_t c_block,
                           int n_threads) noexcept nogil:
    # Work items are (sample, block of channels), which own disjoint cells.
    cdef Py_ssize_t L = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t item, n
    cdef ChannelBlock b
    if _is_global(w):
        _global_cl(go, gi, n_samples, C, L, n_threads, True, False)
        return
    if n_threads == 1:
        for n in range(n_samples):
            memset(&gi[n * L * C], 0, L * C * sizeof(floating_t))
            _avg_plane_backward(&go[n * out_plane * C], &gi[n * L * C], w, C, 0, C)
        return
    for item in prange(n_samples * n_channel_blocks(C, c_block), num_threads=n_threads,
                       schedule="static"):
        b = channel_block(item, C, c_block)
        zero_channels(&gi[b.n * L * C], L, C, b.c0, b.c1)
        _avg_plane_backward(&go[b.n * out_plane * C], &gi[b.n * L * C], w, C, b.c0, b.c1)


cdef enum:
    AVG_FORWARD = 0
    AVG_BACKWARD = 1
    MAX_FORWARD = 2


cdef class AdaptiveCall:
    """An adaptive pooling call prepared once for one call shape (the kernel of a
    cypool._plan.Plan, called (source, destination, indices or None, n_threads); see
    _max.MaxForward): op "avg", "avg_backward" or "max"; the Window, memory order and dtype
    are fixed at construction. Trusts its caller: a (input or gradient), b (output) and, for
    max, indices (int64) are C-contiguous ndarrays of this plan's dtype and sizes. float16 and
    bfloat16 (as their 16-bit patterns): global average pooling, forward and backward, only."""
    cdef Window w
    cdef int op, kind
    cdef int half   # 0, or the 16-bit type of a global average: 1 float16, 2 bfloat16
    cdef Py_ssize_t n_items, C, c_block
    cdef bint cl
    cdef Py_ssize_t* table   # the bins: first cells and counts along d, h, w
    cdef Bins bins

    def __dealloc__(self):
        PyMem_Free(self.table)

    def __init__(self, str op, Window w, Py_ssize_t n_items, Py_ssize_t C, Py_ssize_t c_block,
                 bint channels_last, str dtype_name):
        """n_items: planes (N*C) channels-first, samples (N) channels-last."""
        self.op = {"avg": AVG_FORWARD, "avg_backward": AVG_BACKWARD, "max": MAX_FORWARD}[op]
        self.half = ("float16", "bfloat16").index(dtype_name) + 1 if dtype_name in (
            "float16", "bfloat16") else 0
        if self.half:
            if self.op == MAX_FORWARD or not _is_global(&w):
                raise ValueError(f"AdaptiveCall: {op} of {dtype_name} is global average only")
        else:
            self.kind = dtype_kind(dtype_name)
            if self.op != MAX_FORWARD and self.kind > 1:
                raise ValueError(f"AdaptiveCall: {op} takes float32 or float64, got {dtype_name}")
        self.w = w
        self.n_items = n_items
        self.C = C
        self.c_block = c_block
        self.cl = channels_last
        self._tabulate()

    cdef void _tabulate(self) except *:
        cdef Py_ssize_t od = self.w.out_d, oh = self.w.out_h, ow = self.w.out_w, o
        cdef Span sp
        PyMem_Free(self.table)
        self.table = <Py_ssize_t*>PyMem_Malloc(2 * (od + oh + ow + 1) * sizeof(Py_ssize_t))
        if self.table == NULL:
            raise MemoryError()
        self.bins.df, self.bins.dc = self.table, self.table + od
        self.bins.hf, self.bins.hc = self.table + 2 * od, self.table + 2 * od + oh
        self.bins.wf = self.table + 2 * (od + oh)
        self.bins.wc = self.table + 2 * (od + oh) + ow
        for o in range(od):
            sp = adaptive_span(o, od, self.w.in_d)
            self.table[o], self.table[od + o] = sp.first, sp.count
        for o in range(oh):
            sp = adaptive_span(o, oh, self.w.in_h)
            self.table[2 * od + o], self.table[2 * od + oh + o] = sp.first, sp.count
        for o in range(ow):
            sp = adaptive_span(o, ow, self.w.in_w)
            self.table[2 * (od + oh) + o] = sp.first
            self.table[2 * (od + oh) + ow + o] = sp.count

    def __call__(self, cnp.ndarray a not None, cnp.ndarray b not None, cnp.ndarray indices,
                 int n_threads):
        cdef void* ap = cnp.PyArray_DATA(a)
        cdef void* bp = cnp.PyArray_DATA(b)
        cdef int64_t* ip = NULL if indices is None else <int64_t*>cnp.PyArray_DATA(indices)
        cdef Py_ssize_t L = self.w.in_d * self.w.in_h * self.w.in_w
        with nogil:
            if self.half and self.cl:
                _global_cl(<const uint16_t*>ap, <uint16_t*>bp, self.n_items, self.C, L, n_threads,
                           self.op == AVG_BACKWARD, self.half == 2)
            elif self.half:
                _global_cf(<const uint16_t*>ap, <uint16_t*>bp, self.n_items, L, n_threads,
                           self.op == AVG_BACKWARD, self.half == 2)
            elif self.kind == 0:
                self._run(<const float*>ap, <float*>bp, ip, n_threads)
            elif self.kind == 1:
                self._run(<const double*>ap, <double*>bp, ip, n_threads)
            elif self.kind == 2:
                self._max(<const int8_t*>ap, <int8_t*>bp, ip, n_threads)
            elif self.kind == 3:
                self._max(<const uint8_t*>ap, <uint8_t*>bp, ip, n_threads)
            elif self.kind == 4:
                self._max(<const int16_t*>ap, <int16_t*>bp, ip, n_threads)
            elif self.kind == 5:
                self._max(<const int32_t*>ap, <int32_t*>bp, ip, n_threads)
            else:
                self._max(<const int64_t*>ap, <int64_t*>bp, ip, n_threads)

    cdef void _run(self, const floating_t* a, floating_t* b, int64_t* ip, int nt) noexcept nogil:
        if self.op == AVG_FORWARD:
            if self.cl:
                _avg_forward_cl(a, b, &self.w, &self.bins, self.n_items, self.C, nt)
            else:
                _avg_forward_cf(a, b, &self.w, &self.bins, self.n_items, nt)
        elif self.op == AVG_BACKWARD:
            if self.cl:
                _avg_backward_cl(a, b, &self.w, self.n_items, self.C, self.c_block, nt)
            else:
                _avg_backward_cf(a, b, &self.w, self.n_items, nt)
        else:
            self._max(a, b, ip, nt)

    cdef void _max(self, const maxable_t* a, maxable_t* b, int64_t* ip, int nt) noexcept nogil:
        if self.cl:
            _max_forward_cl(a, b, ip, &self.w, &self.bins, self.n_items, self.C, nt)
        else:
            _max_forward_cf(a, b, ip, &self.w, &self.bins, self.n_items, nt)


cdef Py_ssize_t _add_level_plane(floating_t* total, const floating_t* go, const int64_t* idx,
                                 Py_ssize_t K, Py_ssize_t in_plane, Py_ssize_t step) noexcept nogil:
    # One plane of add_level: K outputs (step apart in go, idx; the plane's cells step apart in
    # total). Returns the count of indices outside [0, in_plane), adding nothing for them.
    cdef Py_ssize_t k, k2, bad = 0
    cdef int64_t cell
    cdef floating_t s
    for k in range(K):
        cell = idx[k * step]
        if cell < 0 or cell >= in_plane:
            bad += 1
            continue
        for k2 in range(k):
            if idx[k2 * step] == cell:
                break
        else:
            s = 0
            s = s + go[k * step]
            for k2 in range(k + 1, K):
                if idx[k2 * step] == cell:
                    s = s + go[k2 * step]
            total[cell * step] += s
    return bad


def add_level(cnp.ndarray total not None, cnp.ndarray go not None, cnp.ndarray idx not None,
              Py_ssize_t n, Py_ssize_t C, Py_ssize_t in_plane, Py_ssize_t K, bint channels_last,
              int n_threads):
    """total += the max backward of one pooled level (go: its gradient, idx: its argmax
    indices, K outputs a plane), without the dense gradient: each touched cell gets the sum of
    its outputs' gradients, formed from 0 in output order as the dense scatter forms it, added
    once. Same result as total + max_backward(go, idx) (whose untouched cells add +0.0); the
    caller keeps K small (the inner search is K^2 a plane). All three arrays C-contiguous, total
    and go of one float dtype, idx int64; returns the count of out-of-range indices."""
    cdef Py_ssize_t p, bad = 0, planes = n * C
    cdef bint dbl = cnp.PyArray_TYPE(total) == cnp.NPY_DOUBLE
    cdef float* tf = <float*>cnp.PyArray_DATA(total)
    cdef const float* gf = <const float*>cnp.PyArray_DATA(go)
    cdef double* td = <double*>cnp.PyArray_DATA(total)
    cdef const double* gd = <const double*>cnp.PyArray_DATA(go)
    cdef const int64_t* ip = <const int64_t*>cnp.PyArray_DATA(idx)
    # plane p = (sample, channel): its first cell, output and index, and their step
    cdef Py_ssize_t step = C if channels_last else 1
    with nogil:
        for p in prange(planes, num_threads=n_threads, schedule="static"):
            if channels_last:
                if dbl:
                    bad += _add_level_plane(td + (p // C) * in_plane * C + p % C,
                                            gd + (p // C) * K * C + p % C,
                                            ip + (p // C) * K * C + p % C, K, in_plane, step)
                else:
                    bad += _add_level_plane(tf + (p // C) * in_plane * C + p % C,
                                            gf + (p // C) * K * C + p % C,
                                            ip + (p // C) * K * C + p % C, K, in_plane, step)
            elif dbl:
                bad += _add_level_plane(td + p * in_plane, gd + p * K, ip + p * K, K, in_plane,
                                        1)
            else:
                bad += _add_level_plane(tf + p * in_plane, gf + p * K, ip + p * K, K, in_plane,
                                        1)
    return bad

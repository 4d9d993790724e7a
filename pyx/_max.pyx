# Max pooling kernels, forward and backward, channels-first and channels-last.
# Inputs arrive as C-contiguous flat buffers of the canonical 5-D views (N, C, D, H, W) or
# (N, D, H, W, C); Python has validated the geometry in `Window`.
#
# Value rule (PyTorch's): a cell replaces the running maximum when `v > m or v != v`, so NaN
# propagates and the index points at the last NaN in window order; ties keep the first maximum.
# For integer types `v != v` is constant false and the compiler drops it.
# float16 and bfloat16 arrays arrive as their 16-bit patterns (uint16) and run the C fast paths'
# half-precision instances (_max_fast.h, _half.h): compared in float, stored exactly.
cimport numpy as cnp
from cython.parallel cimport prange, parallel
from libc.stdint cimport int8_t, uint8_t, int16_t, uint16_t, int32_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset

from _channel_block cimport ChannelBlock, n_channel_blocks, channel_block, zero_channels
from _max_fast cimport *
from _tile cimport TILE_PLANES, tiles_fit, tile_start, tile_in, tile_out
from _types cimport maxable_t, floating_t, lowest, dtype_kind, float_kind
from _window cimport Window, Span, RowIndex, output_row, dilated_span

cnp.import_array()

# Kernel kinds of the 16-bit float types (MaxForward's kinds; 0 in MaxBackward: neither).
cdef enum:
    KIND_F16 = 7
    KIND_BF16 = 8
    # 16-bit channels-last max backwards of fewer channels take the scatter: the gather's loops
    # run over channels
    TILES_MIN_CHANNELS = 8


cdef void _max_row_cf(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                      Py_ssize_t row) noexcept nogil:
    # One output row (plane, od, oh) of a channels-first tensor.
    cdef RowIndex r = output_row(row, w)
    cdef const maxable_t* xp = x + r.item * w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t a, b, c, ow, pos, best_pos
    cdef Span sd = dilated_span(r.od, w.k_d, w.s_d, w.pad_d, w.dil_d, w.in_d)
    cdef Span sh = dilated_span(r.oh, w.k_h, w.s_h, w.pad_h, w.dil_h, w.in_h)
    cdef Span sw
    cdef maxable_t m, v
    for ow in range(w.out_w):
        sw = dilated_span(ow, w.k_w, w.s_w, w.pad_w, w.dil_w, w.in_w)
        m = lowest(&m)
        best_pos = (sd.first * w.in_h + sh.first) * w.in_w + sw.first
        for a in range(sd.count):
            for b in range(sh.count):
                pos = ((sd.first + a * w.dil_d) * w.in_h + sh.first + b * w.dil_h) * w.in_w + sw.first
                for c in range(sw.count):
                    v = xp[pos + c * w.dil_w]
                    if v > m or v != v:
                        m = v
                        best_pos = pos + c * w.dil_w
        y[row * w.out_w + ow] = m
        if idx != NULL:
            idx[row * w.out_w + ow] = best_pos


cdef void _max_row_cl(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                      Py_ssize_t row, Py_ssize_t C) noexcept nogil:
    # One output row (n, od, oh) of a channels-last tensor. The innermost loop runs over the
    # contiguous channel axis so it vectorises; the running maxima live in the output row itself.
    cdef RowIndex r = output_row(row, w)
    cdef const maxable_t* xn = x + r.item * w.in_d * w.in_h * w.in_w * C
    cdef Py_ssize_t a, b, c, ch, ow, pos
    cdef Span sd = dilated_span(r.od, w.k_d, w.s_d, w.pad_d, w.dil_d, w.in_d)
    cdef Span sh = dilated_span(r.oh, w.k_h, w.s_h, w.pad_h, w.dil_h, w.in_h)
    cdef Span sw
    cdef maxable_t* ym
    cdef int64_t* im
    cdef const maxable_t* xc
    cdef maxable_t v, init
    init = lowest(&init)
    for ow in range(w.out_w):
        sw = dilated_span(ow, w.k_w, w.s_w, w.pad_w, w.dil_w, w.in_w)
        ym = y + (row * w.out_w + ow) * C
        for ch in range(C):
            ym[ch] = init
        if idx != NULL:
            im = idx + (row * w.out_w + ow) * C
            pos = (sd.first * w.in_h + sh.first) * w.in_w + sw.first
            for ch in range(C):
                im[ch] = pos
        for a in range(sd.count):
            for b in range(sh.count):
                for c in range(sw.count):
                    pos = (((sd.first + a * w.dil_d) * w.in_h + sh.first + b * w.dil_h) * w.in_w
                           + sw.first + c * w.dil_w)
                    xc = xn + pos * C
                    if idx == NULL:
                        for ch in range(C):
                            v = xc[ch]
                            if v > ym[ch] or v != v:
                                ym[ch] = v
                    else:
                        for ch in range(C):
                            v = xc[ch]
                            if v > ym[ch] or v != v:
                                ym[ch] = v
                                im[ch] = pos


cdef inline void _cf_rows(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                          bint fast, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    # Output rows [r0, r1). float and double take the vectorised rows of _max_fast.h (same
    # results, same order); integer types the general loop.
    cdef Py_ssize_t row
    if maxable_t is double:
        cypool_max_fwd_cf_f64(x, y, idx, w, r0, r1)
    elif maxable_t is float and fast:
        cypool_max_fwd_cf_f32(<const float*>x, <float*>y, idx, w, r0, r1)
    else:
        for row in range(r0, r1):
            _max_row_cf(x, y, idx, w, row)


# Output rows per parallel work item of a channels-first call: enough to amortise a work item's
# set-up over short rows, few enough that the guided schedule still balances the threads.
cdef enum:
    CF_ROWS_PER_ITEM = 16


# Channels-first small planes go through channels-last tiles (_tile.pxd) when a tile's input
# stays within TILE_MAX_BYTES (L2). Measured (2 threads, vs the row kernel): 7x7 planes 2x2/s2
# 0.65 -> 0.10 ms, 14x14 3x3/s1 1.9 -> 0.7 ms, 28x28 2x2/s2 1.2 -> 1.0 ms; 56x56 rows (out_w 28)
# were 2x slower as tiles, hence the row bound.
cdef enum:
    TILE_MAX_BYTES = 256 << 10

# Where the rows are walked in vectors (cypool_max_cf_walks), planes this wide or wider beat the
# tiles (2 threads, against the tiles: 28x28 planes 3x3/s2/p1 float32 2.1 against 2.3-2.5 of the
# stream, with indices 1.6 against 2.5, float16 3.1-3.4 against 3.7-4.4; 24x24 3x3/s2/p1 float32
# 2.3 against 2.1, float16 3.5-3.9 against 3.8-4.2; with indices 20x20 and 24x24 planes at
# 0.7-0.8 of the tiles' time; 14x14 3x3/s1 and 2x2/s1 1.2-1.8 of it, 16x16 and 20x20 3x3/s2
# 1.1-1.5). A tile holds whole planes, a row only one: the tiles keep the narrow planes.
cdef enum:
    WALK_MIN_IN_W = 26
    WALK_MIN_IN_W_IDX = 20


cdef inline bint _walk_first(const Window* w, bint idx, int kind) noexcept nogil:
    # the rows' vector walk (kind: 0 float32, 1 float16, 2 bfloat16), not the tiles, for a call
    # the tiles would take
    return (w.in_w >= (WALK_MIN_IN_W_IDX if idx else WALK_MIN_IN_W)
            and cypool_max_cf_walks(w, kind))


cdef void _tiles(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                 Py_ssize_t n_planes, Py_ssize_t t0, Py_ssize_t t1, int half=0) noexcept nogil:
    # Tiles [t0, t1) (float or double; or float16 / bfloat16 patterns as int16_t, half their
    # kind), each pooled by the channels-last rows of _max_fast.h; their positions are
    # plane-flat, as channels-first indices are. Without scratch (malloc failed) the same planes
    # go through the channels-first rows.
    cdef Py_ssize_t in_plane = w.in_d * w.in_h * w.in_w
    cdef Py_ssize_t out_plane = w.out_d * w.out_h * w.out_w
    cdef Py_ssize_t rpp = w.out_d * w.out_h
    cdef maxable_t* tin = <maxable_t*>malloc(in_plane * TILE_PLANES * sizeof(maxable_t))
    cdef maxable_t* tout = <maxable_t*>malloc(out_plane * TILE_PLANES * sizeof(maxable_t))
    cdef int64_t* tidx = NULL
    cdef Py_ssize_t* cells = <Py_ssize_t*>malloc(w.k_d * w.k_h * w.k_w * sizeof(Py_ssize_t))
    cdef Py_ssize_t t, p0, row
    cdef bint ok = tin != NULL and tout != NULL and cells != NULL
    if idx != NULL:
        tidx = <int64_t*>malloc(out_plane * TILE_PLANES * sizeof(int64_t))
        ok = ok and tidx != NULL
    if not ok:
        p0 = t1 * TILE_PLANES if t1 * TILE_PLANES < n_planes else n_planes
        if maxable_t is int16_t:
            _half_cf_rows(<const uint16_t*>x, <uint16_t*>y, idx, w, half == KIND_BF16,
                          t0 * TILE_PLANES * rpp, p0 * rpp)
        else:
            _cf_rows(x, y, idx, w, True, t0 * TILE_PLANES * rpp, p0 * rpp)
    else:
        for t in range(t0, t1):
            p0 = tile_start(t, n_planes)
            tile_in(x, tin, in_plane, p0)
            for row in range(rpp):
                if maxable_t is float:
                    cypool_max_fwd_cl_f32(tin, tout, tidx, w, row, TILE_PLANES, cells)
                elif maxable_t is double:
                    cypool_max_fwd_cl_f64(tin, tout, tidx, w, row, TILE_PLANES, cells)
                elif maxable_t is int16_t:
                    _half_cl_row(<const uint16_t*>tin, <uint16_t*>tout, tidx, w,
                                 half == KIND_BF16, row, TILE_PLANES, cells)
            tile_out(tout, y, out_plane, p0, t)
            if idx != NULL:
                tile_out(tidx, idx, out_plane, p0, t)
    free(tin)
    free(tout)
    free(tidx)
    free(cells)


# The pair sweeps' output rows are a plane's width: from 12 outputs on they beat the tiles
# (2 threads, float32, 2x2/s2: 64x32x28x28 0.58 ms against 1.29 through the tiles;
# 32x256x14x14, rows of 7, 1.08 ms against 0.59; widths 8-11 not measured).
cdef enum:
    PAIRS_MIN_OUT_W = 12
    PAIR_PLANES = 4   # planes per work item of the AVX-512 pair kernels


cdef inline bint _pairs_fit(const Window* w, bint scratch) noexcept nogil:
    # 2-d 2x2/s2 windows tiling planes of even sides exactly (no padding, dilation or ceil
    # cell); scratch: a plane's horizontal pairs fit the float kernels' scratch
    return (w.in_d == 1 and w.k_d == 1 and w.k_h == 2 and w.k_w == 2 and w.s_h == 2
            and w.s_w == 2 and w.pad_h == 0 and w.pad_w == 0 and w.dil_h == 1 and w.dil_w == 1
            and w.in_h % 2 == 0 and w.in_w % 2 == 0 and w.out_h * 2 == w.in_h
            and w.out_w * 2 == w.in_w and w.out_w >= PAIRS_MIN_OUT_W
            and (not scratch or w.in_h * w.in_w // 2 <= CYPOOL_PAIRS))


cdef inline void _pairs(const maxable_t* x, maxable_t* y, const Window* w, Py_ssize_t p0,
                        Py_ssize_t p1) noexcept nogil:
    if maxable_t is float:
        cypool_max_fwd_cf_2x2_f32(x, y, p0, p1, w.in_h, w.in_w)
    elif maxable_t is double:
        cypool_max_fwd_cf_2x2_f64(x, y, p0, p1, w.in_h, w.in_w)


cdef inline int _pairs_wide(const maxable_t* x, maxable_t* y, const Window* w, Py_ssize_t p0,
                            Py_ssize_t p1) noexcept nogil:
    # 0 where the CPU lacks AVX-512 (float32: AVX2) (p0 == p1: only that answer)
    if maxable_t is float:
        return cypool_max_fwd_cf_2x2_wide_f32(x, y, p0, p1, w.in_h, w.in_w)
    elif maxable_t is double:
        return cypool_max_fwd_cf_2x2_wide_f64(x, y, p0, p1, w.in_h, w.in_w)
    else:
        return 0


cdef void _forward_cf(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                      Py_ssize_t n_planes, int n_threads) noexcept nogil:
    # Max pooling of a channels-first tensor: x (N*C*D*H*W,) IN; y, idx (NULL: none) OUT.
    cdef Py_ssize_t item, r0, r1, n_rows = n_planes * w.out_d * w.out_h
    cdef Py_ssize_t n_items = (n_rows + CF_ROWS_PER_ITEM - 1) // CF_ROWS_PER_ITEM
    cdef Py_ssize_t n_tiles = (n_planes + TILE_PLANES - 1) // TILE_PLANES
    cdef Py_ssize_t n_work = (n_planes + PAIR_PLANES - 1) // PAIR_PLANES
    if ((maxable_t is float or maxable_t is double) and idx == NULL and _pairs_fit(w, False)
            and _pairs_wide(x, y, w, 0, 0)):
        # 2x2/s2 with even sides and rows of 12 or more, with AVX-512 (float32: AVX2):
        # PAIR_PLANES planes a work item (cypool_max_fwd_cf_2x2_wide_*)
        if n_threads == 1:
            _pairs_wide(x, y, w, 0, n_planes)
        else:
            for item in prange(n_work, num_threads=n_threads, schedule="guided"):
                r0 = item * PAIR_PLANES
                _pairs_wide(x, y, w, r0, r0 + PAIR_PLANES if r0 + PAIR_PLANES < n_planes
                            else n_planes)
        return
    if ((maxable_t is float or maxable_t is double) and idx == NULL and _pairs_fit(w, True)
            and tiles_fit(w, n_planes, sizeof(maxable_t), TILE_MAX_BYTES)):
        # planes the tiles would take, 2x2/s2 with even sides and rows of 12 or more: flat
        # pair sweeps (PAIRS_MIN_OUT_W)
        if n_threads == 1:
            _pairs(x, y, w, 0, n_planes)
        else:
            for item in prange(n_tiles, num_threads=n_threads, schedule="guided"):
                r0 = item * TILE_PLANES
                _pairs(x, y, w, r0, r0 + TILE_PLANES if r0 + TILE_PLANES < n_planes else n_planes)
        return
    if ((maxable_t is float or maxable_t is double)
            and tiles_fit(w, n_planes, sizeof(maxable_t), TILE_MAX_BYTES)
            and not (maxable_t is float and _walk_first(w, idx != NULL, 0))):
        if n_threads == 1:
            _tiles(x, y, idx, w, n_planes, 0, n_tiles)
        else:
            # one tile per item; a tile writes only its own planes
            for item in prange(n_tiles, num_threads=n_threads, schedule="guided"):
                _tiles(x, y, idx, w, n_planes, item, item + 1)
        return
    # float indices are tracked in int32 inside the fast rows (one blend per vector of floats)
    cdef bint fast = (maxable_t is double or
                      w.in_d * w.in_h * w.in_w < 2147483647 or idx == NULL)
    if n_threads == 1:
        # no OpenMP region: entering one and scheduling its loop costs about as much as the whole
        # of a small call's work
        _cf_rows(x, y, idx, w, fast, 0, n_rows)
    elif (maxable_t is float or maxable_t is double) and fast:
        # Rows are independent, so a guided schedule changes no result; it keeps one descheduled
        # thread (shared machines) from stalling the whole call.
        for item in prange(n_items, num_threads=n_threads, schedule="guided"):
            r0 = item * CF_ROWS_PER_ITEM
            r1 = r0 + CF_ROWS_PER_ITEM if r0 + CF_ROWS_PER_ITEM < n_rows else n_rows
            _cf_rows(x, y, idx, w, fast, r0, r1)
    else:
        for item in prange(n_items, num_threads=n_threads, schedule="static"):
            r0 = item * CF_ROWS_PER_ITEM
            r1 = r0 + CF_ROWS_PER_ITEM if r0 + CF_ROWS_PER_ITEM < n_rows else n_rows
            _cf_rows(x, y, idx, w, fast, r0, r1)


cdef inline void _cl_rows(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                          Py_ssize_t C, Py_ssize_t* cells, Py_ssize_t lo,
                          Py_ssize_t hi) noexcept nogil:
    # Serial rows [lo, hi) of a channels-last tensor; cells: the fast rows' scratch or NULL.
    cdef Py_ssize_t row
    for row in range(lo, hi):
        if maxable_t is float:
            if cells != NULL:
                cypool_max_fwd_cl_f32(x, y, idx, w, row, C, cells)
            else:
                _max_row_cl(x, y, idx, w, row, C)
        elif maxable_t is double:
            if cells != NULL:
                cypool_max_fwd_cl_f64(x, y, idx, w, row, C, cells)
            else:
                _max_row_cl(x, y, idx, w, row, C)
        else:
            _max_row_cl(x, y, idx, w, row, C)


# Outputs per work item of a 1-d channels-last call, in elements of the output (64 KiB of
# float32): a 1-d call has one row per sample, too few to balance over the threads.
cdef enum:
    CL_1D_ITEM_ELEMS = 16384


cdef inline bint _cl_1d_fits(const Window* w) noexcept nogil:
    # 1-d windows (one row of cells along w) small enough for cypool_max_fwd_cl_1d's stack
    return (w.in_d == 1 and w.in_h == 1 and w.k_d == 1 and w.k_h == 1 and w.pad_d == 0
            and w.pad_h == 0 and w.out_d == 1 and w.out_h == 1 and w.k_w <= CYPOOL_CL_1D_CELLS)


cdef inline void _cl_1d(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                        Py_ssize_t n, Py_ssize_t o0, Py_ssize_t o1, Py_ssize_t C) noexcept nogil:
    if maxable_t is float:
        cypool_max_fwd_cl_1d_f32(x, y, idx, w, n, o0, o1, C)
    elif maxable_t is double:
        cypool_max_fwd_cl_1d_f64(x, y, idx, w, n, o0, o1, C)


cdef void _forward_cl_1d(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                         Py_ssize_t n_samples, Py_ssize_t C, int n_threads) noexcept nogil:
    # 1-d channels-last (float, double): work items of a sample's run of output columns, so
    # few long rows still balance over the threads
    cdef Py_ssize_t per = CL_1D_ITEM_ELEMS // C if C < CL_1D_ITEM_ELEMS else 1
    cdef Py_ssize_t chunks = (w.out_w + per - 1) // per
    cdef Py_ssize_t item, n, o0, o1
    if n_threads == 1:
        for n in range(n_samples):
            _cl_1d(x, y, idx, w, n, 0, w.out_w, C)
        return
    for item in prange(n_samples * chunks, num_threads=n_threads, schedule="guided"):
        n = item // chunks
        o0 = (item % chunks) * per
        o1 = o0 + per if o0 + per < w.out_w else w.out_w
        _cl_1d(x, y, idx, w, n, o0, o1, C)


cdef void _forward_cl(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                      Py_ssize_t n_samples, Py_ssize_t C, int n_threads) noexcept nogil:
    # Max pooling of a channels-last tensor (N, D, H, W, C), flattened.
    cdef Py_ssize_t row, n_rows = n_samples * w.out_d * w.out_h
    cdef Py_ssize_t* cells = NULL
    cdef Py_ssize_t n_cells = w.k_d * w.k_h * w.k_w
    # float positions are tracked in int32 inside the fast rows (one blend per vector of floats)
    cdef bint fast = ((maxable_t is float or maxable_t is double) and n_cells < 2147483647
                      and (maxable_t is double or idx == NULL
                           or w.in_d * w.in_h * w.in_w < 2147483647))
    if (maxable_t is float or maxable_t is double) and fast and _cl_1d_fits(w):
        _forward_cl_1d(x, y, idx, w, n_samples, C, n_threads)
        return
    if n_threads == 1:
        # no OpenMP region (see _forward_cf); the fast rows' scratch: the window's cell positions
        if fast:
            cells = <Py_ssize_t*>malloc(n_cells * sizeof(Py_ssize_t))
        _cl_rows(x, y, idx, w, C, cells, 0, n_rows)
        free(cells)
    elif fast:
        with parallel(num_threads=n_threads):
            # per-thread scratch: the window's cell positions
            cells = <Py_ssize_t*>malloc(n_cells * sizeof(Py_ssize_t))
            for row in prange(n_rows, schedule="guided"):
                _cl_rows(x, y, idx, w, C, cells, row, row + 1)
            free(cells)
    else:
        for row in prange(n_rows, num_threads=n_threads, schedule="static"):
            _max_row_cl(x, y, idx, w, row, C)


cdef class MaxForward:
    """A max-pooling forward prepared once for one call shape: the kernel of a cypool._plan.Plan,
    called as every plan kernel is, (source, destination, indices or None, n_threads).

    The Window struct, the memory order and the kernel specialisation are fixed at construction,
    so a call pays no fused-type dispatch, memoryview acquisition or dict -> Window conversion
    (together ~4 us of a ~5 us small call when the kernels were def functions of memoryviews).
    Like every kernel it trusts its caller: x, y (and indices unless None) are C-contiguous
    ndarrays of this plan's dtype (indices: int64) and sizes, y not overlapping x.
    """
    cdef Window w
    cdef Py_ssize_t n_items, C
    cdef bint channels_last
    cdef int kind

    def __init__(self, Window w, Py_ssize_t n_items, Py_ssize_t C, bint channels_last,
                 str dtype_name):
        """n_items: planes (N*C) channels-first, samples (N) channels-last."""
        self.w = w
        self.n_items, self.C, self.channels_last = n_items, C, channels_last
        self.kind = (KIND_F16 if dtype_name == "float16" else KIND_BF16
                     if dtype_name == "bfloat16" else dtype_kind(dtype_name))

    def __call__(self, cnp.ndarray x not None, cnp.ndarray y not None, cnp.ndarray indices,
                 int n_threads):
        cdef void* xp = cnp.PyArray_DATA(x)
        cdef void* yp = cnp.PyArray_DATA(y)
        cdef int64_t* i = NULL if indices is None else <int64_t*>cnp.PyArray_DATA(indices)
        cdef const Window* w = &self.w
        cdef Py_ssize_t n = self.n_items, C = self.C
        cdef bint cl = self.channels_last
        cdef int nt = n_threads
        if self.kind >= KIND_F16:
            _half_forward(<const uint16_t*>xp, <uint16_t*>yp, i, w, self.kind, cl, n, C, nt)
            return
        with nogil:   # the specialisation of this dtype (kind: _types.dtype_kind)
            if self.kind == 0: _forward(<const float*>xp, <float*>yp, i, w, cl, n, C, nt)
            elif self.kind == 1: _forward(<const double*>xp, <double*>yp, i, w, cl, n, C, nt)
            elif self.kind == 2: _forward(<const int8_t*>xp, <int8_t*>yp, i, w, cl, n, C, nt)
            elif self.kind == 3: _forward(<const uint8_t*>xp, <uint8_t*>yp, i, w, cl, n, C, nt)
            elif self.kind == 4: _forward(<const int16_t*>xp, <int16_t*>yp, i, w, cl, n, C, nt)
            elif self.kind == 5: _forward(<const int32_t*>xp, <int32_t*>yp, i, w, cl, n, C, nt)
            else: _forward(<const int64_t*>xp, <int64_t*>yp, i, w, cl, n, C, nt)


cdef inline void _forward(const maxable_t* x, maxable_t* y, int64_t* idx, const Window* w,
                          bint cl, Py_ssize_t n_items, Py_ssize_t C, int nt) noexcept nogil:
    if cl:
        _forward_cl(x, y, idx, w, n_items, C, nt)
    else:
        _forward_cf(x, y, idx, w, n_items, nt)


# Cells per work item of the channels-first scatter's groups of one-output planes (16 KiB of
# float32)
cdef enum:
    GROUP_CELLS = 4096


cdef Py_ssize_t _backward_cf(const floating_t* grad_out, const int64_t* indices,
                             floating_t* grad_in, Py_ssize_t n_planes, Py_ssize_t in_plane,
                             Py_ssize_t out_plane, int n_threads) noexcept nogil:
    # Each plane is owned by one thread, so the scatter is race-free and its summation order
    # fixed: bit-identical for any thread count. Out-of-plane indices are counted, never written.
    cdef Py_ssize_t p, bad = 0
    # planes of one output (global max, adaptive max to 1) go in groups of about GROUP_CELLS
    # cells, each group's gradient zeroed at once: a work item and a memset a plane cost more
    # than the plane's one add (7x7 planes, 2 threads: 0.80-1.21 -> 0.53-0.77 of torch's time).
    # Planes of more outputs measured slower that way (14x14 -> 7x7: 0.47 -> 0.54), and keep one
    # work item a plane.
    cdef Py_ssize_t per = 1
    if out_plane == 1 and 0 < in_plane < GROUP_CELLS:
        per = GROUP_CELLS // in_plane
    cdef Py_ssize_t n_items = (n_planes + per - 1) // per
    if n_threads == 1:
        # no OpenMP region: for a small call it costs about as much as the work
        for p in range(n_items):
            bad += _scatter_group(grad_out, indices, grad_in, p * per, n_planes, per, in_plane,
                                  out_plane)
        return bad
    # guided: ownership (not the schedule) makes the result deterministic, and a guided schedule
    # lets the other thread take over when one is descheduled on a shared machine
    for p in prange(n_items, num_threads=n_threads, schedule="guided"):
        bad += _scatter_group(grad_out, indices, grad_in, p * per, n_planes, per, in_plane,
                              out_plane)
    return bad


cdef inline Py_ssize_t _scatter_group(const floating_t* grad_out, const int64_t* indices,
                                      floating_t* grad_in, Py_ssize_t p0, Py_ssize_t n_planes,
                                      Py_ssize_t per, Py_ssize_t in_plane,
                                      Py_ssize_t out_plane) noexcept nogil:
    # Planes [p0, p0 + per) (fewer at the end): one plane through _scatter_plane, several
    # zeroed together (at most GROUP_CELLS cells, in L1) and scattered one after another.
    cdef Py_ssize_t p, o, i, bad = 0
    cdef Py_ssize_t p1 = p0 + per if p0 + per < n_planes else n_planes
    cdef const floating_t* go
    cdef const int64_t* idx
    cdef floating_t* gi
    if per == 1:
        return _scatter_plane(grad_out + p0 * out_plane, indices + p0 * out_plane,
                              grad_in + p0 * in_plane, in_plane, out_plane)
    memset(grad_in + p0 * in_plane, 0, (p1 - p0) * in_plane * sizeof(floating_t))
    for p in range(p0, p1):
        go, idx, gi = grad_out + p * out_plane, indices + p * out_plane, grad_in + p * in_plane
        for o in range(out_plane):
            i = idx[o]
            if <size_t>i < <size_t>in_plane:
                gi[i] += go[o]
            else:
                bad += 1
    return bad


# The scatters zero the input gradient just ahead of their adds, never more than this many bytes
# past the highest cell written so far: the zeroed cells are still in L1/L2 when their adds come,
# so the gradient goes to memory once (a zeroing pass over a plane or sample larger than L2 first
# cost a second trip: the 256 MB 2x2/s2 case, channels-last, ran at 0.62 of the stream).
cdef enum:
    ZERO_AHEAD_BYTES = 4096
    CELL_ZEROING_BYTES = 1 << 20
    # A 16-bit input gradient of at least this many bytes is written with streamed stores where
    # the plane kernel can (cypool_max_bwd_scatter_f16): 3-50 MiB results took 0.78-0.91 of the
    # time so (Zen 4, 2 threads, 3x3/s2/p1 channels-first); a smaller one stays in cache for
    # whatever reads it next.
    STREAMED_BYTES = 4 << 20
    # Channels-last blocks with more than this many input cells an output (8x8 adaptive bins):
    # most lines of the gradient get no add (with 16 float32 channels a line, 1 - (1 - 1/24)^16
    # = 0.49 of them get one), so one zeroing pass over the block, which writes lines without
    # reading them, and adds to the few lines named cost less than zeroing each cell at its first
    # add, which reads every line first.
    SPARSE_CELLS_PER_OUTPUT = 24


cdef inline Py_ssize_t _scatter_plane(const floating_t* go, const int64_t* idx, floating_t* gi,
                                      Py_ssize_t in_plane, Py_ssize_t out_plane) noexcept nogil:
    # Cells [0, z) are zeroed; an add to cell i >= z first zeroes [z, i + ahead). Each cell is
    # thus zeroed once, before its first add, whatever order the indices come in.
    cdef Py_ssize_t o, i, end, z = 0, bad = 0
    cdef Py_ssize_t ahead = ZERO_AHEAD_BYTES // sizeof(floating_t)
    for o in range(out_plane):
        i = idx[o]
        if <size_t>i < <size_t>in_plane:
            if i >= z:
                end = i + ahead if i + ahead < in_plane else in_plane
                memset(gi + z, 0, (end - z) * sizeof(floating_t))
                z = end
            gi[i] += go[o]
        else:
            bad += 1
    memset(gi + z, 0, (in_plane - z) * sizeof(floating_t))
    return bad


cdef Py_ssize_t _backward_cl(const floating_t* grad_out, const int64_t* indices,
                             floating_t* grad_in, Py_ssize_t n_samples, Py_ssize_t C,
                             Py_ssize_t c_block, Py_ssize_t in_plane, Py_ssize_t out_plane,
                             const Py_ssize_t* tiles, int n_threads) noexcept nogil:
    # Work items are (sample, block of channels) (_channel_block.pxd): each owns disjoint input
    # cells, so no two threads touch the same address. tiles: see _block_cl.
    cdef Py_ssize_t n_items = n_samples * n_channel_blocks(C, c_block)
    cdef Py_ssize_t item, bad = 0
    if n_threads == 1:
        for item in range(n_items):
            bad += _block_cl(grad_out, indices, grad_in, item, C, c_block, in_plane, out_plane,
                             tiles)
        return bad
    for item in prange(n_items, num_threads=n_threads, schedule="guided"):
        bad += _block_cl(grad_out, indices, grad_in, item, C, c_block, in_plane, out_plane,
                         tiles)
    return bad


cdef inline Py_ssize_t _block_cl(const floating_t* grad_out, const int64_t* indices,
                                 floating_t* grad_in, Py_ssize_t item, Py_ssize_t C,
                                 Py_ssize_t c_block, Py_ssize_t in_plane, Py_ssize_t out_plane,
                                 const Py_ssize_t* tiles) noexcept nogil:
    # One work item: the gather over tiles (tiles: in and out spatial sizes, or NULL: not
    # tried) when its indices keep to them, else the scatter. Kept on the scatter (Zen 4):
    # tiles of more than SPARSE_CELLS_PER_OUTPUT cells, which the scatter zeroes whole and adds
    # to once (8x8 tiles: 0.93-0.98 of the stream's time scattered, 1.94-2.11 gathered, every
    # cell compared; 2x2 to 4x4 tiles: the gather faster), and float64 blocks of more than
    # CELL_ZEROING_BYTES, which its cell zeroing ran at the stream's speed (the gather at 1.3).
    cdef ChannelBlock b = channel_block(item, C, c_block)
    cdef Py_ssize_t o = b.n * out_plane * C, i = b.n * in_plane * C
    cdef int done = 0
    if (tiles != NULL and in_plane <= SPARSE_CELLS_PER_OUTPUT * out_plane
            and (floating_t is float
                 or in_plane * (b.c1 - b.c0) * sizeof(floating_t) <= CELL_ZEROING_BYTES)):
        if floating_t is float:
            done = cypool_max_bwd_tiles_cl32(grad_out + o, indices + o, grad_in + i, tiles,
                                             tiles + 3, C, b.c0, b.c1)
        else:
            done = cypool_max_bwd_tiles_cl64(grad_out + o, indices + o, grad_in + i, tiles,
                                             tiles + 3, C, b.c0, b.c1)
    if done:
        return 0
    return _scatter_block_cl(grad_out, indices, grad_in, item, C, c_block, in_plane, out_plane)


cdef inline Py_ssize_t _scatter_block_cl(const floating_t* grad_out, const int64_t* indices,
                                         floating_t* grad_in, Py_ssize_t item, Py_ssize_t C,
                                         Py_ssize_t c_block, Py_ssize_t in_plane,
                                         Py_ssize_t out_plane) noexcept nogil:
    # A block of more than CELL_ZEROING_BYTES: each cell's channels are zeroed at the cell's
    # first add (a bit per cell marks it), so its lines are written in L1 just before the adds;
    # cells no index names are zeroed at the end. (The watermark of _scatter_plane zeroes a whole
    # input row ahead when a window's second row is reached, wider than L1 in channels-last:
    # 16x64x112x112 2x2/s2, 1 thread, 11.2 -> 7.2 ms.) Smaller blocks stay in L2 and take the
    # watermark, whose adds test no bit (14x14 and 28x28 planes: 0.69 and 0.80 ms with the bits,
    # 0.50 and 0.56 without); so do stride-1 pools, whose outputs are as many as the cells (a bit
    # test per add: 8x112x112x64 2x2/s1, 2 threads, 4.2 ms without the bits, 8.4 with), and a
    # block whose bits cannot be had.
    cdef ChannelBlock b = channel_block(item, C, c_block)
    cdef Py_ssize_t ch, o, i, end, z = 0, bad = 0
    cdef Py_ssize_t ahead = ZERO_AHEAD_BYTES // ((b.c1 - b.c0) * sizeof(floating_t)) + 1
    cdef floating_t* gi = grad_in + b.n * in_plane * C
    cdef const floating_t* go = grad_out + b.n * out_plane * C
    cdef const int64_t* io = indices + b.n * out_plane * C
    cdef uint8_t* seen = NULL
    if (in_plane * (b.c1 - b.c0) * sizeof(floating_t) > CELL_ZEROING_BYTES
            and in_plane > SPARSE_CELLS_PER_OUTPUT * out_plane):
        zero_channels(gi, in_plane, C, b.c0, b.c1)
        for o in range(out_plane):
            for ch in range(b.c0, b.c1):
                i = io[o * C + ch]
                if <size_t>i < <size_t>in_plane:
                    gi[i * C + ch] += go[o * C + ch]
                else:
                    bad += 1
        return bad
    if (in_plane * (b.c1 - b.c0) * sizeof(floating_t) > CELL_ZEROING_BYTES
            and 2 * out_plane <= in_plane):
        seen = <uint8_t*>calloc((in_plane + 7) // 8, 1)
    if seen != NULL:
        for o in range(out_plane):
            for ch in range(b.c0, b.c1):
                i = io[o * C + ch]
                if <size_t>i < <size_t>in_plane:
                    if not (seen[i >> 3] >> (i & 7)) & 1:
                        seen[i >> 3] |= <uint8_t>(1 << (i & 7))
                        zero_channels(gi + i * C, 1, C, b.c0, b.c1)
                    gi[i * C + ch] += go[o * C + ch]
                else:
                    bad += 1
        for i in range(in_plane):
            if not (seen[i >> 3] >> (i & 7)) & 1:
                zero_channels(gi + i * C, 1, C, b.c0, b.c1)
        free(seen)
        return bad
    for o in range(out_plane):
        for ch in range(b.c0, b.c1):
            i = io[o * C + ch]
            if <size_t>i < <size_t>in_plane:
                if i >= z:
                    end = i + ahead if i + ahead < in_plane else in_plane
                    zero_channels(gi + z * C, end - z, C, b.c0, b.c1)
                    z = end
                gi[i * C + ch] += go[o * C + ch]
            else:
                bad += 1
    zero_channels(gi + z * C, in_plane - z, C, b.c0, b.c1)
    return bad


cdef class MaxBackward:
    """A max-pooling backward (_backward_cf / _backward_cl) prepared once for one call shape, as
    MaxForward; the kernel of cypool._plan.Plan, same call convention: (source, destination,
    indices, n_threads). Trusts its caller: grad_out, grad_in and indices (int64) are C-contiguous
    ndarrays of this plan's dtype and sizes. Returns the count of out-of-plane indices."""
    cdef Py_ssize_t n_items, C, c_block, out_plane
    cdef readonly Py_ssize_t in_plane   # the bound indices are checked against
    cdef bint channels_last, is_double
    cdef int half   # 0, or the kind (KIND_F16, KIND_BF16) of a 16-bit float dtype
    cdef int stream   # a 16-bit result of STREAMED_BYTES or more
    # spatial sizes (d, h, w) in then out, for the gather of indices that keep to their tiles
    cdef Py_ssize_t tiles[6]

    def __init__(self, Py_ssize_t n_items, Py_ssize_t C, Py_ssize_t c_block, Py_ssize_t in_plane,
                 Py_ssize_t out_plane, bint channels_last, str dtype_name, tuple in_spatial,
                 tuple out_spatial):
        """n_items: planes (N*C) channels-first, samples (N) channels-last; in_spatial,
        out_spatial: (d, h, w) sizes of the input and the output."""
        self.n_items, self.C, self.c_block = n_items, C, c_block
        for a in range(3):
            self.tiles[a], self.tiles[3 + a] = in_spatial[a], out_spatial[a]
        self.in_plane, self.out_plane, self.channels_last = in_plane, out_plane, channels_last
        self.half = (KIND_F16 if dtype_name == "float16" else KIND_BF16
                     if dtype_name == "bfloat16" else 0)
        self.is_double = False if self.half else float_kind(dtype_name, "MaxBackward")
        self.stream = (self.half != 0
                       and n_items * in_plane * (C if channels_last else 1) * 2 >= STREAMED_BYTES)

    def __call__(self, cnp.ndarray grad_out not None, cnp.ndarray grad_in not None,
                 cnp.ndarray indices not None, int n_threads):
        cdef void* go = cnp.PyArray_DATA(grad_out)
        cdef const int64_t* idx = <const int64_t*>cnp.PyArray_DATA(indices)
        cdef void* gi = cnp.PyArray_DATA(grad_in)
        cdef Py_ssize_t bad
        cdef const Py_ssize_t* tiles = NULL
        with nogil:
            # the gather when the first band of indices keeps to its tiles (_max_fast.h:
            # cypool_max_bwd_tiles_*): the 16-bit types in both formats, float32 and float64
            # channels-last; channels-last with a vector of channels or more
            if ((self.half or self.channels_last)
                    and (not self.channels_last or self.C >= TILES_MIN_CHANNELS)
                    and cypool_max_tiles_probe(idx, self.tiles, self.tiles + 3,
                                               self.C if self.channels_last else 1)):
                tiles = self.tiles
            if self.half:
                bad = _half_scatter(<const uint16_t*>go, idx, <uint16_t*>gi,
                                    self.half == KIND_BF16, self.channels_last, self.n_items,
                                    self.C, self.c_block, self.in_plane, self.out_plane, tiles,
                                    self.stream, n_threads)
            elif self.is_double:
                bad = _scatter(<const double*>go, idx, <double*>gi, self.channels_last,
                               self.n_items, self.C, self.c_block, self.in_plane,
                               self.out_plane, tiles, n_threads)
            else:
                bad = _scatter(<const float*>go, idx, <float*>gi, self.channels_last,
                               self.n_items, self.C, self.c_block, self.in_plane,
                               self.out_plane, tiles, n_threads)
        return bad


cdef Py_ssize_t _scatter(const floating_t* go, const int64_t* idx, floating_t* gi, bint cl,
                         Py_ssize_t n_items, Py_ssize_t C, Py_ssize_t c_block,
                         Py_ssize_t in_plane, Py_ssize_t out_plane, const Py_ssize_t* tiles,
                         int nt) noexcept nogil:
    # tiles (channels-last only): see _block_cl
    if cl:
        return _backward_cl(go, idx, gi, n_items, C, c_block, in_plane, out_plane, tiles, nt)
    return _backward_cf(go, idx, gi, n_items, in_plane, out_plane, nt)


# ----------------------------------------------------------------------------- float16, bfloat16
# The same paths as float32 (tiles, channels-first rows, channels-last rows) through the 16-bit
# instances of _max_fast.h (the tiles move the patterns as int16_t: _tiles). They have no general
# kernel behind them: their scratch must be had (MemoryError otherwise), and the in-loop int32
# positions bound a plane to 2**31 cells when indices are asked for.

cdef inline void _half_cf_rows(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                               bint bf, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    if bf:
        cypool_max_fwd_cf_bf16(x, y, idx, w, r0, r1)
    else:
        cypool_max_fwd_cf_f16(x, y, idx, w, r0, r1)


cdef inline int _half_pairs(const uint16_t* x, uint16_t* y, const Window* w, bint bf,
                            Py_ssize_t p0, Py_ssize_t p1) noexcept nogil:
    # cypool_max_fwd_cf_2x2_wide_bf16 / _f16: 0 where the CPU lacks them (p0 == p1: only that)
    if bf:
        return cypool_max_fwd_cf_2x2_wide_bf16(x, y, p0, p1, w.in_h, w.in_w)
    return cypool_max_fwd_cf_2x2_wide_f16(x, y, p0, p1, w.in_h, w.in_w)


cdef inline void _half_cl_row(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                              bint bf, Py_ssize_t row, Py_ssize_t C,
                              Py_ssize_t* cells) noexcept nogil:
    if bf:
        cypool_max_fwd_cl_bf16(x, y, idx, w, row, C, cells)
    else:
        cypool_max_fwd_cl_f16(x, y, idx, w, row, C, cells)


cdef int _half_forward(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w, int kind,
                       bint cl, Py_ssize_t n_items, Py_ssize_t C, int n_threads) except -1:
    """Max pooling of float16 (kind KIND_F16) or bfloat16 (KIND_BF16) data, channels-first
    (n_items planes) or channels-last (n_items samples of C channels)."""
    cdef bint bf = kind == KIND_BF16
    cdef Py_ssize_t item, r0, r1, row, n_rows = n_items * w.out_d * w.out_h
    cdef Py_ssize_t n_cells = w.k_d * w.k_h * w.k_w
    cdef Py_ssize_t n_tiles = (n_items + TILE_PLANES - 1) // TILE_PLANES
    cdef Py_ssize_t n_work = (n_rows + CF_ROWS_PER_ITEM - 1) // CF_ROWS_PER_ITEM
    cdef Py_ssize_t* cells = NULL
    cdef int failed = 0
    if idx != NULL and (w.in_d * w.in_h * w.in_w >= 2147483647 or n_cells >= 2147483647):
        raise ValueError("max pooling of float16 / bfloat16 with return_indices supports planes "
                         "and windows of fewer than 2**31 cells")
    with nogil:
        if (not cl and idx == NULL and _pairs_fit(w, False)
                and _half_pairs(x, y, w, bf, 0, 0)):
            # float16 compared as float16 (AVX512-FP16), bfloat16 widened in registers;
            # PAIR_PLANES planes a work item
            n_work = (n_items + PAIR_PLANES - 1) // PAIR_PLANES
            for item in prange(n_work, num_threads=n_threads, schedule="guided"):
                r0 = item * PAIR_PLANES
                r1 = r0 + PAIR_PLANES if r0 + PAIR_PLANES < n_items else n_items
                _half_pairs(x, y, w, bf, r0, r1)
        elif (not cl and tiles_fit(w, n_items, sizeof(uint16_t), TILE_MAX_BYTES)
                and not _walk_first(w, idx != NULL, 1 if kind == KIND_F16 else 2)):
            if n_threads == 1:
                _tiles(<const int16_t*>x, <int16_t*>y, idx, w, n_items, 0, n_tiles, kind)
            else:
                for item in prange(n_tiles, num_threads=n_threads, schedule="guided"):
                    _tiles(<const int16_t*>x, <int16_t*>y, idx, w, n_items, item, item + 1,
                           kind)
        elif not cl:
            if n_threads == 1:
                _half_cf_rows(x, y, idx, w, bf, 0, n_rows)
            else:
                for item in prange(n_work, num_threads=n_threads, schedule="guided"):
                    r0 = item * CF_ROWS_PER_ITEM
                    r1 = r0 + CF_ROWS_PER_ITEM if r0 + CF_ROWS_PER_ITEM < n_rows else n_rows
                    _half_cf_rows(x, y, idx, w, bf, r0, r1)
        elif n_threads == 1:
            cells = <Py_ssize_t*>malloc(n_cells * sizeof(Py_ssize_t))
            if cells == NULL:
                failed = 1
            else:
                for row in range(n_rows):
                    _half_cl_row(x, y, idx, w, bf, row, C, cells)
            free(cells)
        else:
            with parallel(num_threads=n_threads):
                # per-thread scratch: the window's cell positions
                cells = <Py_ssize_t*>malloc(n_cells * sizeof(Py_ssize_t))
                for row in prange(n_rows, schedule="guided"):
                    if cells == NULL:
                        failed += 1
                    else:
                        _half_cl_row(x, y, idx, w, bf, row, C, cells)
                free(cells)
    if failed:
        raise MemoryError()
    return 0


cdef Py_ssize_t _half_scatter(const uint16_t* go, const int64_t* idx, uint16_t* gi, bint bf,
                              bint cl, Py_ssize_t n_items, Py_ssize_t C, Py_ssize_t c_block,
                              Py_ssize_t in_plane, Py_ssize_t out_plane, const Py_ssize_t* tiles,
                              int stream, int nt) noexcept nogil:
    # The work items of _backward_cf / _backward_cl (planes; (sample, channel block) pairs),
    # each scattered by cypool_max_bwd_scatter_f16/_bf16.
    cdef Py_ssize_t item, bad = 0
    cdef Py_ssize_t n_work = n_items * n_channel_blocks(C, c_block) if cl else n_items
    cdef ChannelBlock b
    for item in prange(n_work, num_threads=nt, schedule="guided"):
        b = channel_block(item, C, c_block) if cl else channel_block(item, 1, 1)
        bad += _half_scatter_item(go, idx, gi, bf, b, C if cl else 1, in_plane, out_plane, tiles,
                                  stream)
    return bad


cdef inline Py_ssize_t _half_scatter_item(const uint16_t* go, const int64_t* idx, uint16_t* gi,
                                          bint bf, ChannelBlock b, Py_ssize_t C,
                                          Py_ssize_t in_plane, Py_ssize_t out_plane,
                                          const Py_ssize_t* tiles, int stream) noexcept nogil:
    cdef Py_ssize_t o = b.n * out_plane * C, i = b.n * in_plane * C
    if tiles != NULL:
        if C > 1 and cypool_max_bwd_tiles_cl16(go + o, idx + o, gi + i, tiles, tiles + 3, C,
                                               b.c0, b.c1):
            return 0
        if C == 1 and cypool_max_bwd_tiles_cf16(go + o, idx + o, gi + i, tiles, tiles + 3):
            return 0
    if bf:
        return cypool_max_bwd_scatter_bf16(go + o, idx + o, gi + i, in_plane, out_plane, C,
                                           b.c0, b.c1, stream)
    return cypool_max_bwd_scatter_f16(go + o, idx + o, gi + i, in_plane, out_plane, C, b.c0,
                                      b.c1, stream)

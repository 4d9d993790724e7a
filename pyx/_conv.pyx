# Direct 2-d convolution (cypool/conv.py): the padded channels-last copy of an input, the forward
# (also the input gradient's kernel) and the weight gradient. The loops are C (_conv.h); here the
# arguments are checked, packed and spread over threads.
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

from _types cimport floating_t

import numpy as np

cdef extern from "_conv.h" nogil:
    ctypedef struct ConvFwd:
        const void* inp "in"
        Py_ssize_t in_n, in_h, in_w, cs, h, cols, top, left, sy, sx, ry, rx
        const Py_ssize_t* toff
        const Py_ssize_t* ptoff
        Py_ssize_t p_row, p_px, p_c, p_size
        void* scratch
        Py_ssize_t taps, cin
        const void* w
        Py_ssize_t opad, cout
        const void* bias
        void* out
        Py_ssize_t out_n, out_h, out_w, out_c
        Py_ssize_t oh, ow
        Py_ssize_t band
    ctypedef struct ConvW:
        const void* x
        Py_ssize_t x_n, x_h, x_w, cs, h, sy, sx
        const Py_ssize_t* tap
        Py_ssize_t taps, cin
        const void* g
        Py_ssize_t g_n, g_oy, opad
        void* gw
        Py_ssize_t oh, ow, rows, chunks
    ctypedef void (*conv_fwd_fn)(const ConvFwd* a, Py_ssize_t r, int thread) noexcept nogil
    ctypedef void (*conv_w_fn)(const ConvW* a, Py_ssize_t item) noexcept nogil
    int conv_best_isa() noexcept
    Py_ssize_t conv_vector_length(int itemsize, int isa) noexcept
    Py_ssize_t CONV_PX_MAX
    conv_fwd_fn conv_fwd_kernel(int itemsize, int isa) noexcept
    conv_fwd_fn conv_fwd_bands_kernel(int itemsize, int isa) noexcept
    Py_ssize_t conv_bands_channels(int isa) noexcept
    conv_w_fn conv_w_kernel(int itemsize, int isa) noexcept

cdef int _best = conv_best_isa()
cdef int _isa = _best


def best_isa():
    """The widest instruction-set level of the kernels this CPU runs (2 AVX-512, 1 AVX2 + FMA,
    0 the compiler's target)."""
    return _best


def set_isa(int level):
    """Use the kernels of `level` (at most best_isa()); returns the previous level. For tests
    of the narrower kernels on a wide CPU."""
    global _isa
    if level < 0 or level > _best:
        raise ValueError(f"isa level must be in [0, {_best}], got {level}")
    previous, _isa = _isa, level
    return previous


def vector_length(dtype):
    """Output channels are padded to a multiple of this many elements."""
    return conv_vector_length(np.dtype(dtype).itemsize, _isa)


cdef inline size_t _addr(a):
    return a.__array_interface__["data"][0]


cdef Py_ssize_t _elements(Py_ssize_t nbytes, Py_ssize_t itemsize) except? -1:
    if nbytes % itemsize:
        raise ValueError("conv: array strides must be whole elements")
    return nbytes // itemsize


cdef inline void _planes_to_pixels(const floating_t* s, Py_ssize_t s2, Py_ssize_t s3,
                                   floating_t* d, Py_ssize_t Cb, Py_ssize_t C,
                                   Py_ssize_t n) noexcept nogil:
    # C planes of n pixels (s3 elements apart, pixels s2 apart) -> n pixels of Cb channels, in
    # blocks of 8 x 8 through a small buffer: runs along the planes in, along the pixels out
    # (8x32x56x56 float32 into a padded copy: 0.42 -> 0.32 ms)
    cdef floating_t b[8][8]
    cdef Py_ssize_t c, i, c0 = 0, i0
    while c0 + 8 <= C:
        i0 = 0
        while i0 + 8 <= n:
            for c in range(8):
                for i in range(8):
                    b[c][i] = s[(c0 + c) * s3 + (i0 + i) * s2]
            for i in range(8):
                for c in range(8):
                    d[(i0 + i) * Cb + c0 + c] = b[c][i]
            i0 += 8
        for c in range(c0, c0 + 8):
            for i in range(i0, n):
                d[i * Cb + c] = s[c * s3 + i * s2]
        c0 += 8
    for c in range(c0, C):
        for i in range(n):
            d[i * Cb + c] = s[c * s3 + i * s2]


cdef inline void _strided_run(const floating_t* s, Py_ssize_t s2, floating_t* d,
                              Py_ssize_t n) noexcept nogil:
    # n values s2 elements apart -> n contiguous values
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = s[i * s2]


def pad_into(x, out, Py_ssize_t top, Py_ssize_t left, int n_threads):
    """Write `x` (N, H, W, C view, any strides, the dtype of `out`) into `out` (N, Hb, Wb, Cb),
    Cb >= C, either C-contiguous (channels last) or the (0, 2, 3, 1) transpose of a C-contiguous
    (N, Cb, Hb, Wb) array (channels first): pixel (y, x) at (top + y, left + x) where inside
    `out`; every other element of `out` zero."""
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t Hb = out.shape[1], Wb = out.shape[2], Cb = out.shape[3]
    cdef bint planes = not out.flags.c_contiguous
    if x.dtype != out.dtype or out.shape[0] != N or Cb < C or x.dtype.itemsize not in (4, 8) \
            or (planes and not out.transpose(0, 3, 1, 2).flags.c_contiguous):
        raise ValueError(f"pad_into: out {out.shape} {out.dtype} does not fit x {x.shape} "
                         f"{x.dtype}")
    if out.size == 0:
        return
    cdef Py_ssize_t f = x.dtype.itemsize
    if not x.flags.aligned or any(st % f for st in x.strides):
        x = np.ascontiguousarray(x)   # the loops step in whole elements
    cdef Py_ssize_t s0 = x.strides[0], s1 = x.strides[1], s2 = x.strides[2], s3 = x.strides[3]
    cdef char* src = <char*>_addr(x)
    cdef char* dst = <char*>_addr(out)
    cdef Py_ssize_t r, n, yb, y, ix, ix0, ix1, c, row_bytes = Wb * Cb * f
    cdef Py_ssize_t run_bytes = Wb * f
    cdef char* d
    cdef char* s
    ix0 = -left if left < 0 else 0                  # the pixels that land inside a row
    ix1 = Wb - left if Wb - left < W else W
    if planes:                                      # one plane row per (n, c, yb)
        for r in prange(N * Cb * Hb, nogil=True, schedule="static", num_threads=n_threads):
            n = r // (Cb * Hb)
            c = (r - n * Cb * Hb) // Hb
            yb = r - (n * Cb + c) * Hb
            d = dst + r * run_bytes
            y = yb - top
            if c >= C or y < 0 or y >= H or ix1 <= ix0:
                memset(d, 0, run_bytes)
                continue
            memset(d, 0, (left + ix0) * f)
            memset(d + (left + ix1) * f, 0, (Wb - left - ix1) * f)
            s = src + n * s0 + y * s1 + ix0 * s2 + c * s3
            d = d + (left + ix0) * f
            if s2 == f:
                memcpy(d, s, (ix1 - ix0) * f)
            elif f == 4:
                _strided_run(<const float*>s, s2 // f, <float*>d, ix1 - ix0)
            else:
                _strided_run(<const double*>s, s2 // f, <double*>d, ix1 - ix0)
        return
    for r in prange(N * Hb, nogil=True, schedule="static", num_threads=n_threads):
        n = r // Hb
        yb = r - n * Hb
        d = dst + r * row_bytes
        y = yb - top
        if y < 0 or y >= H or ix1 <= ix0:
            memset(d, 0, row_bytes)
            continue
        # zeros left and right of the pixels; every channel beyond C
        memset(d, 0, (left + ix0) * Cb * f)
        memset(d + (left + ix1) * Cb * f, 0, (Wb - left - ix1) * Cb * f)
        if Cb > C:
            for ix in range(ix0, ix1):
                memset(d + ((left + ix) * Cb + C) * f, 0, (Cb - C) * f)
        s = src + n * s0 + y * s1 + ix0 * s2
        d = d + (left + ix0) * Cb * f
        if Cb == C and s3 == f and s2 == C * f:     # a contiguous run of pixels
            memcpy(d, s, (ix1 - ix0) * C * f)
            continue
        if s3 == f or C == 1:  # channels contiguous: one run per pixel
            for ix in range(ix1 - ix0):
                memcpy(d + ix * Cb * f, s + ix * s2, C * f)
        elif f == 4:           # channel planes (channels first): along each plane's row
            _planes_to_pixels(<const float*>s, s2 // f, s3 // f, <float*>d, Cb, C, ix1 - ix0)
        else:
            _planes_to_pixels(<const double*>s, s2 // f, s3 // f, <double*>d, Cb, C, ix1 - ix0)


def takes_bands(Py_ssize_t row_step, Py_ssize_t pixel_step, Py_ssize_t ow, Py_ssize_t kw):
    """Whether a forward writing channel planes from an input whose pixels are neighbours runs
    the bands kernel (conv_fwd_band_planes): stride 1, and rows long enough beside the kw - 1
    positions past each row's end it computes and drops (at most a quarter more)."""
    return row_step == 1 and pixel_step == 1 and 4 * (kw - 1) <= ow


# The bands kernel's patch: about this many bytes of input rows (in L2 beside the weights), at
# most this many output rows a band (bands enough for the threads to share).
_BAND_BYTES = 256 << 10
_BAND_ROWS = 16


def forward(x, Py_ssize_t top, Py_ssize_t left, Py_ssize_t row_step, Py_ssize_t pixel_step,
            dy, dx, w, bias, out, int n_threads):
    """out[n, oy, ox, o] = bias[o] + sum over taps t and input channels c of
    x[n, oy*row_step - top + dy[t], ox*pixel_step - left + dx[t], c] * w[t, c, o], the terms
    outside x zero (padding).

    x: (N, H, W, C), any strides in whole elements; dy, dx >= 0; w: (taps, C, opad) C-contiguous,
    opad a multiple of vector_length, zero beyond the output channels; bias: None or (O,)
    contiguous; out: (N, OH, OW, O) view of a writable array, any strides."""
    cdef Py_ssize_t f = out.dtype.itemsize
    cdef Py_ssize_t N = out.shape[0], OH = out.shape[1], OW = out.shape[2], O = out.shape[3]
    cdef Py_ssize_t T = w.shape[0], C = w.shape[1], opad = w.shape[2]
    if x.dtype != out.dtype or w.dtype != out.dtype or f not in (4, 8) \
            or not w.flags.c_contiguous or x.shape[0] != N or x.shape[3] != C \
            or opad < O or opad % vector_length(out.dtype) or len(dy) != T or len(dx) != T \
            or not out.flags.writeable or row_step < 1 or pixel_step < 1:
        raise ValueError(f"conv forward: x {x.shape}, w {w.shape}, out {out.shape} disagree")
    if bias is not None and (bias.dtype != out.dtype or bias.shape != (O,)
                             or not bias.flags.c_contiguous):
        raise ValueError(f"conv forward: bias {bias.shape} does not fit out {out.shape}")
    if out.size == 0:
        return
    if T == 0 or C == 0:
        out[...] = 0 if bias is None else bias
        return
    if min(min(dy), min(dx)) < 0:
        raise ValueError("conv forward: tap offsets must be >= 0")
    cdef Py_ssize_t xs1 = _elements(x.strides[1], f), xs2 = _elements(x.strides[2], f)
    cdef Py_ssize_t ry = int(max(dy)) + 1, rx = int(max(dx)) + 1
    # a border tile's patch: ry rows of the windows of CONV_PX_MAX pixels, in x's layout; the
    # bands kernel's: the input rows of a band of output rows, channel planes padded to OW + rx - 1
    cdef bint planes = C > 1 and abs(x.strides[3]) > abs(x.strides[2])
    cdef bint bands_kernel = (
        xs2 == 1 and out.strides[2] == f and (O == 1 or out.strides[3] > f)
        and opad % conv_bands_channels(_isa) == 0 and takes_bands(row_step, pixel_step, OW, rx))
    cdef Py_ssize_t vl = vector_length(out.dtype), band = 0, bands = 0, p_size
    cdef Py_ssize_t pcols = (OW + rx - 1 if bands_kernel
                             else (CONV_PX_MAX - 1) * pixel_step + rx)
    planes = planes or bands_kernel
    cdef Py_ssize_t p_px = 1 if planes else C, p_row = pcols if planes else pcols * C
    cdef Py_ssize_t p_c = ry * pcols if planes else 1
    if bands_kernel:
        band = max(1, min(_BAND_ROWS, OH, _BAND_BYTES // (C * pcols * f) - (ry - 1)))
        bands = (OH + band - 1) // band
        band = (OH + bands - 1) // bands         # bands of even height
        # a plane of the patch: the band's input rows and what the last vector reads past them
        p_c = (band + ry - 1) * pcols + vl + rx
        p_size = C * p_c + conv_bands_channels(_isa) * ((band * pcols + vl - 1) // vl * vl)
    else:
        p_size = ry * pcols * C
    toff = np.asarray([int(i) * xs1 + int(j) * xs2 for i, j in zip(dy, dx)], np.intp)
    ptoff = np.asarray([int(i) * p_row + int(j) * p_px for i, j in zip(dy, dx)], np.intp)
    scratch = np.empty(n_threads * p_size, out.dtype)
    cdef Py_ssize_t[::1] toff_v = toff
    cdef Py_ssize_t[::1] ptoff_v = ptoff
    cdef ConvFwd a
    a.inp = <const void*>_addr(x)
    a.in_n = _elements(x.strides[0], f)
    a.in_h = xs1
    a.in_w = xs2
    a.cs = _elements(x.strides[3], f) if C > 1 else 0
    a.h = x.shape[1]
    a.cols = x.shape[2]
    a.top = top
    a.left = left
    a.sy = row_step
    a.sx = pixel_step
    a.ry = ry
    a.rx = rx
    a.toff = &toff_v[0]
    a.ptoff = &ptoff_v[0]
    a.p_row = p_row
    a.p_px = p_px
    a.p_c = p_c
    a.p_size = p_size
    a.band = band
    a.scratch = <void*>_addr(scratch)
    a.taps = T
    a.cin = C
    a.w = <const void*>_addr(w)
    a.opad = opad
    a.cout = O
    a.bias = <const void*>_addr(bias) if bias is not None else NULL
    a.out = <void*>_addr(out)
    a.out_n = _elements(out.strides[0], f)
    a.out_h = _elements(out.strides[1], f)
    a.out_w = _elements(out.strides[2], f)
    a.out_c = _elements(out.strides[3], f) if O > 1 else 1
    a.oh = OH
    a.ow = OW
    cdef conv_fwd_fn fn = (conv_fwd_bands_kernel if bands_kernel
                           else conv_fwd_kernel)(<int>f, _isa)
    cdef Py_ssize_t r
    # dynamic: rows are long (thousands of multiply-adds each), and a thread whose core another
    # process shares takes fewer of them; which thread computes a row never changes its values
    cdef Py_ssize_t items = N * bands if bands_kernel else N * OH
    for r in prange(items, nogil=True, schedule="dynamic", num_threads=n_threads):
        fn(&a, r, threadid())


def weight_grad(x, Py_ssize_t row_step, Py_ssize_t pixel_step, dy, dx, g, gw, int n_threads):
    """gw[k, t, c, o] = sum over the rows r = (n, oy) of chunk k (rows split evenly into
    gw.shape[0] runs) and the pixels ox of x[n, oy*row_step + dy[t], ox*pixel_step + dx[t], c]
    * g[n, oy, ox, o] for the (iy, ix) = (oy*row_step + dy[t], ox*pixel_step + dx[t]) inside x
    (outside: zero padding, left out), added to gw's values.

    x: (N, H, W, C) without padding, any strides in whole elements (dy, dx: the taps' offsets
    minus the padding, negative at the padding); g: (N, OH, OW, opad) with contiguous rows (pixels
    opad elements apart), opad a multiple of vector_length; gw: (chunks, taps, C, opad)
    C-contiguous."""
    cdef Py_ssize_t f = g.dtype.itemsize
    cdef Py_ssize_t N = g.shape[0], OH = g.shape[1], OW = g.shape[2], opad = g.shape[3]
    cdef Py_ssize_t K = gw.shape[0], T = gw.shape[1], C = gw.shape[2]
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2]
    if x.dtype != g.dtype or gw.dtype != g.dtype or f not in (4, 8) \
            or not gw.flags.c_contiguous or x.shape[0] != N \
            or x.shape[3] != C or gw.shape[3] != opad or opad % vector_length(g.dtype) \
            or len(dy) != T or len(dx) != T or K < 1 or row_step < 1 or pixel_step < 1:
        raise ValueError(f"conv weight_grad: x {x.shape}, g {g.shape}, gw {gw.shape} disagree")
    if g.size == 0 or gw.size == 0:
        return
    if g.strides[3] != f or (OW > 1 and g.strides[2] != opad * f):   # one pixel: any stride
        raise ValueError(f"conv weight_grad: g's rows must be contiguous, strides {g.strides}")
    # per tap: row offset, column offset, the output pixels whose column is inside x
    tap = np.empty((T, 4), np.intp)
    for t in range(T):
        j = int(dx[t])
        tap[t] = (int(dy[t]), j, min(OW, max(0, -(j // pixel_step))),
                  min(OW, max(0, (W - 1 - j) // pixel_step + 1)))
    cdef Py_ssize_t[:, ::1] tap_v = tap
    cdef ConvW a
    a.x = <const void*>_addr(x)
    a.x_n = _elements(x.strides[0], f)
    a.x_h = _elements(x.strides[1], f)
    a.x_w = _elements(x.strides[2], f)
    a.cs = _elements(x.strides[3], f) if C > 1 else 0
    a.h = H
    a.sy = row_step
    a.sx = pixel_step
    a.tap = &tap_v[0, 0]
    a.taps = T
    a.cin = C
    a.g = <const void*>_addr(g)
    a.g_n = _elements(g.strides[0], f)
    a.g_oy = _elements(g.strides[1], f)
    a.opad = opad
    a.gw = <void*>_addr(gw)
    a.oh = OH
    a.ow = OW
    a.rows = N * OH
    a.chunks = K
    cdef conv_w_fn fn = conv_w_kernel(<int>f, _isa)
    cdef Py_ssize_t item
    for item in prange(K * T, nogil=True, schedule="dynamic", num_threads=n_threads):
        fn(&a, item)   # dynamic, as forward's rows


def channel_sums(g, int n_threads):
    """The sums over (N, H, W) of g (N, H, W, C), its rows contiguous, in float64: the pixels in
    8 fixed runs (whatever the thread count), each summed in order, the runs added in order."""
    cdef Py_ssize_t N = g.shape[0], H = g.shape[1], W = g.shape[2], C = g.shape[3]
    cdef Py_ssize_t f = g.dtype.itemsize
    cdef Py_ssize_t K = 8
    sums = np.zeros((K, C), np.float64)
    if g.size == 0:
        return sums[0]
    if f not in (4, 8) or (C > 1 and g.strides[3] != f) or (W > 1 and g.strides[2] != C * f):
        raise ValueError(f"conv channel_sums: g {g.shape} {g.dtype} {g.strides}")
    cdef double[:, ::1] acc = sums
    cdef Py_ssize_t gn = g.strides[0], gh = g.strides[1], rows = N * H
    cdef char* base = <char*>_addr(g)
    cdef Py_ssize_t k, r, n, y, i, c
    cdef char* row
    for k in prange(K, nogil=True, schedule="static", num_threads=n_threads):
        for r in range(k * rows // K, (k + 1) * rows // K):
            n = r // H
            y = r - n * H
            row = base + n * gn + y * gh
            for i in range(W):
                if f == 4:
                    for c in range(C):
                        acc[k, c] += (<float*>row)[i * C + c]
                else:
                    for c in range(C):
                        acc[k, c] += (<double*>row)[i * C + c]
    total = sums[0].copy()
    for k in range(1, K):
        total += sums[k]
    return total

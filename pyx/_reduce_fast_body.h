/* Body of _reduce_fast.h, included once per (CYPOOL_T, CYPOOL_SUF, CYPOOL_IS_FLOAT), which it
 * undefines at its end. Entry points: CYPOOL_FN(cypool_strided_row_cf),
 * ..._adaptive_avg_bins_cf, ..._adaptive_max_bins_cf,
 * ..._global_max_cf, ..._fractional_row_cf, ..._fractional_cell_cl, ..._adaptive_avg_band_cl, ..._adaptive_max_band_cl, ..._blur_row_cf,
 * ..._blur_row_cl. Summation
 * orders: see _reduce_fast.h. */

#if CYPOOL_REDUCE_VECTORS
/* Four values as doubles. */
CYPOOL_INLINE cypool_r4d CYPOOL_FN(reduce_load4)(const CYPOOL_T* p) {
#if CYPOOL_IS_FLOAT
    cypool_r4f f;
    memcpy(&f, p, sizeof f);
    return __builtin_convertvector(f, cypool_r4d);
#else
    cypool_r4d v;
    memcpy(&v, p, sizeof v);
    return v;
#endif
}

/* The double sums of 4 * NV channels over one channels-last window. */
#define CYPOOL_REDUCE_SUMS(NAME, NV)                                                              \
CYPOOL_INLINE void CYPOOL_FN(NAME)(const CYPOOL_T* x, ptrdiff_t C, ptrdiff_t nd, ptrdiff_t nh,   \
                                   ptrdiff_t nw, ptrdiff_t step_d, ptrdiff_t step_h,             \
                                   double* out) {                                                \
    const cypool_r4d zero = {0, 0, 0, 0};                                                        \
    cypool_r4d a[NV];                                                                            \
    for (int q = 0; q < NV; q++) a[q] = zero;                                                    \
    for (ptrdiff_t d = 0; d < nd; d++)                                                           \
        for (ptrdiff_t h = 0; h < nh; h++) {                                                     \
            const CYPOOL_T* r = x + d * step_d + h * step_h;                                     \
            for (ptrdiff_t w = 0; w < nw; w++)                                                   \
                for (int q = 0; q < NV; q++) {                                                   \
                    a[q] += CYPOOL_FN(reduce_load4)(r + w * C + 4 * q);                          \
                }                                                                                \
        }                                                                                        \
    memcpy(out, a, sizeof a);                                                                    \
}
CYPOOL_REDUCE_SUMS(reduce_sums16, 4)
CYPOOL_REDUCE_SUMS(reduce_sums4, 1)
#undef CYPOOL_REDUCE_SUMS
#endif

/* One channel's double sum over one channels-last window. */
CYPOOL_INLINE double CYPOOL_FN(reduce_sum1)(const CYPOOL_T* x, ptrdiff_t C, ptrdiff_t nd,
                                            ptrdiff_t nh, ptrdiff_t nw, ptrdiff_t step_d,
                                            ptrdiff_t step_h) {
    double s = 0;
    for (ptrdiff_t d = 0; d < nd; d++)
        for (ptrdiff_t h = 0; h < nh; h++)
            for (ptrdiff_t w = 0; w < nw; w++)
                s += (double)x[d * step_d + h * step_h + w * C];
    return s;
}

/* Windows [0, n) of a channels-first row, all k cells long, window i starting at cell i * s:
 * acc[i] += x^power over them, cell by cell in order. Inlined with constant s and power. */
CYPOOL_INLINE void CYPOOL_FN(strided_pass)(const CYPOOL_T* restrict r, double* restrict acc,
                                           ptrdiff_t n, ptrdiff_t k, ptrdiff_t s, int power) {
    for (ptrdiff_t j = 0; j < k; j++)
        for (ptrdiff_t i = 0; i < n; i++) {
            double v = (double)r[i * s + j];
            if (power == 2) v = v * v;
            else if (power == 3) v = v * v * v;
            acc[i] += v;
        }
}

CYPOOL_INLINE void CYPOOL_FN(strided_pass_p)(const CYPOOL_T* restrict r, double* restrict acc,
                                             ptrdiff_t n, ptrdiff_t k, ptrdiff_t s, int power) {
    if (s == 2 && k == 2) CYPOOL_FN(strided_pass)(r, acc, n, 2, 2, power);
    else if (s == 2) CYPOOL_FN(strided_pass)(r, acc, n, k, 2, power);
    else if (s == 1) CYPOOL_FN(strided_pass)(r, acc, n, k, 1, power);
    else CYPOOL_FN(strided_pass)(r, acc, n, k, s, power);
}

/* Channels-first: one output row of a plane xp whose windows along w start at ow * s_w and hold
 * min(k_w, in_w - ow * s_w) cells, and cover input rows h0 .. h0 + nh - 1 of slices d0 ..
 * d0 + nd - 1. y[ow] = finish(sum of x^power over the window, cells, mul, p), power 1, 2 or 3. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_strided_row_cf)(const CYPOOL_T* xp, CYPOOL_T* y, ptrdiff_t in_h,
                                             ptrdiff_t in_w, ptrdiff_t d0, ptrdiff_t nd,
                                             ptrdiff_t h0, ptrdiff_t nh, ptrdiff_t k_w,
                                             ptrdiff_t s_w, ptrdiff_t out_w, int power,
                                             double mul, double p) {
    double acc[CYPOOL_REDUCE_ROW];
    ptrdiff_t n_full = in_w >= k_w ? (in_w - k_w) / s_w + 1 : 0;
    if (n_full > out_w) n_full = out_w;
    for (ptrdiff_t o0 = 0; o0 < out_w; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = out_w - o0 < CYPOOL_REDUCE_ROW ? out_w - o0 : CYPOOL_REDUCE_ROW;
        ptrdiff_t nf = n_full - o0;
        nf = nf < 0 ? 0 : (nf > n ? n : nf);
        for (ptrdiff_t i = 0; i < n; i++) acc[i] = 0;
        for (ptrdiff_t d = d0; d < d0 + nd; d++)
            for (ptrdiff_t h = h0; h < h0 + nh; h++) {
                const CYPOOL_T* r = xp + (d * in_h + h) * in_w;
                if (power == 2) CYPOOL_FN(strided_pass_p)(r + o0 * s_w, acc, nf, k_w, s_w, 2);
                else if (power == 3) CYPOOL_FN(strided_pass_p)(r + o0 * s_w, acc, nf, k_w, s_w, 3);
                else CYPOOL_FN(strided_pass_p)(r + o0 * s_w, acc, nf, k_w, s_w, 1);
                for (ptrdiff_t i = nf; i < n; i++) {   /* windows cut by the row's end */
                    const ptrdiff_t c = (o0 + i) * s_w;
                    const ptrdiff_t e = c + k_w < in_w ? c + k_w : in_w;
                    for (ptrdiff_t j = c; j < e; j++) {
                        double v = (double)r[j];
                        if (power == 2) v = v * v;
                        else if (power == 3) v = v * v * v;
                        acc[i] += v;
                    }
                }
            }
        for (ptrdiff_t i = 0; i < n; i++) {
            const ptrdiff_t c = (o0 + i) * s_w;
            const ptrdiff_t cw = c + k_w < in_w ? k_w : in_w - c;
            y[o0 + i] = (CYPOOL_T)cypool_reduce_finish(acc[i], (double)(nd * nh * cw), mul, p);
        }
    }
}

/* Adaptive pooling with the bins of every axis read from tables (first cell, cell count), built
 * once per call: no division per window. The channels-first kernels take one output row and
 * interleave its windows (input row by input row, each window's cells still in (d, h, w) order);
 * the channels-last kernels stream the row's band of input rows in memory order into per-output
 * accumulator rows that stay in L1. Each window's cells in (d, h, w) order, as ever: same
 * results. */

/* Channels-first adaptive average of one output row: windows [0, out_w) with columns
 * [wf[i], wf[i] + wc[i]), over input rows h0 .. h0 + nh - 1 of slices d0 .. d0 + nd - 1. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_adaptive_avg_bins_cf)(const CYPOOL_T* xp, CYPOOL_T* y,
                                                   ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t d0,
                                                   ptrdiff_t nd, ptrdiff_t h0, ptrdiff_t nh,
                                                   const ptrdiff_t* wf, const ptrdiff_t* wc,
                                                   ptrdiff_t out_w) {
    double acc[CYPOOL_REDUCE_ROW];
    for (ptrdiff_t o0 = 0; o0 < out_w; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = out_w - o0 < CYPOOL_REDUCE_ROW ? out_w - o0 : CYPOOL_REDUCE_ROW;
        for (ptrdiff_t i = 0; i < n; i++) acc[i] = 0;
        for (ptrdiff_t d = d0; d < d0 + nd; d++)
            for (ptrdiff_t h = h0; h < h0 + nh; h++) {
                const CYPOOL_T* r = xp + (d * in_h + h) * in_w;
                for (ptrdiff_t i = 0; i < n; i++) {
                    const CYPOOL_T* c = r + wf[o0 + i];
                    const ptrdiff_t k = wc[o0 + i];
                    double s = acc[i];
                    for (ptrdiff_t j = 0; j < k; j++) s += (double)c[j];
                    acc[i] = s;
                }
            }
        for (ptrdiff_t i = 0; i < n; i++)
            y[o0 + i] = (CYPOOL_T)(acc[i] / (double)(nd * nh * wc[o0 + i]));
    }
}

#if CYPOOL_IS_FLOAT && CYPOOL_REDUCE_VECTORS && defined(__GNUC__) && !defined(__clang__)
/* float32, channels first, 16 planes at once: a band of input rows of 16 planes is transposed
 * into a tile laid out as channels last (16 planes a cell), whose windows the register blocks of
 * the channels-last kernels then reduce. Each plane's window still sums from 0 in (h, w) order. */

/* Rows h0 .. h0 + nh - 1 (in_w cells) of planes xp .. xp + 15 * L into tile, cell-major. */
CYPOOL_INLINE void cypool_tile16_fill(const float* xp, ptrdiff_t L, ptrdiff_t in_w, ptrdiff_t h0,
                                      ptrdiff_t nh, float* tile) {
    for (ptrdiff_t h = 0; h < nh; h++) {
        const float* r = xp + (h0 + h) * in_w;
        float* t = tile + h * in_w * 16;
        ptrdiff_t w = 0;
        for (; w + 8 <= in_w; w += 8) {
            cypool_transpose8x8(r + w, L, t + w * 16, 16);
            cypool_transpose8x8(r + 8 * L + w, L, t + w * 16 + 8, 16);
        }
        for (; w < in_w; w++)
            for (int q = 0; q < 16; q++) t[w * 16 + q] = r[q * L + w];
    }
}

/* Channels-first adaptive average of output row oh of planes xp .. xp + 15 * L (2-d: rows
 * h0 .. h0 + nh - 1 of in_w cells, nh * in_w <= CYPOOL_TILE_CELLS); y: that row of the first
 * plane, the other planes out_plane apart. */
CYPOOL_CLONES
static void cypool_adaptive_avg_tile16_cf_f32(const float* xp, float* y, ptrdiff_t L,
                                              ptrdiff_t out_plane, ptrdiff_t in_w, ptrdiff_t h0,
                                              ptrdiff_t nh, const ptrdiff_t* wf,
                                              const ptrdiff_t* wc, ptrdiff_t out_w) {
    float tile[CYPOOL_TILE_CELLS * 16];
    double s[16];
    cypool_tile16_fill(xp, L, in_w, h0, nh, tile);
    for (ptrdiff_t ow = 0; ow < out_w; ow++) {
        CYPOOL_FN(reduce_sums16)(tile + wf[ow] * 16, 16, 1, nh, wc[ow], 0, in_w * 16, s);
        const double cells = (double)(nh * wc[ow]);
        for (int q = 0; q < 16; q++) y[q * out_plane + ow] = (float)(s[q] / cells);
    }
}

/* The max of the same windows (the rule of CYPOOL_MAX_STEP in each of the 16 lanes; positions
 * h * in_w + w); idx may be NULL. */
CYPOOL_CLONES
static void cypool_adaptive_max_tile16_cf_f32(const float* xp, float* y, int64_t* idx,
                                              ptrdiff_t L, ptrdiff_t out_plane, ptrdiff_t in_w,
                                              ptrdiff_t h0, ptrdiff_t nh, const ptrdiff_t* wf,
                                              const ptrdiff_t* wc, ptrdiff_t out_w) {
    float tile[CYPOOL_TILE_CELLS * 16];
    cypool_tile16_fill(xp, L, in_w, h0, nh, tile);
    const cypool_r8f vzero = {0};
    const cypool_r8i izero = {0};
    for (ptrdiff_t ow = 0; ow < out_w; ow++) {
        cypool_r8f m0 = vzero - INFINITY, m1 = m0;
        cypool_r8i i0 = izero + (int32_t)(h0 * in_w + wf[ow]), i1 = i0;
        for (ptrdiff_t h = h0; h < h0 + nh; h++)
            for (ptrdiff_t w = wf[ow]; w < wf[ow] + wc[ow]; w++) {
                const float* t = tile + ((h - h0) * in_w + w) * 16;
                const cypool_r8i pv = izero + (int32_t)(h * in_w + w);
                cypool_r8f v0, v1;
                memcpy(&v0, t, sizeof v0);
                memcpy(&v1, t + 8, sizeof v1);
                const cypool_r8i k0 = (cypool_r8i)(v0 > m0) | (cypool_r8i)(v0 != v0);
                const cypool_r8i k1 = (cypool_r8i)(v1 > m1) | (cypool_r8i)(v1 != v1);
                m0 = (cypool_r8f)(((cypool_r8i)v0 & k0) | ((cypool_r8i)m0 & ~k0));
                m1 = (cypool_r8f)(((cypool_r8i)v1 & k1) | ((cypool_r8i)m1 & ~k1));
                i0 = (pv & k0) | (i0 & ~k0);
                i1 = (pv & k1) | (i1 & ~k1);
            }
        float mv[16];
        int32_t iv[16];
        memcpy(mv, &m0, sizeof m0);
        memcpy(mv + 8, &m1, sizeof m1);
        memcpy(iv, &i0, sizeof i0);
        memcpy(iv + 8, &i1, sizeof i1);
        for (int q = 0; q < 16; q++) y[q * out_plane + ow] = mv[q];
        if (idx)
            for (int q = 0; q < 16; q++) idx[q * out_plane + ow] = iv[q];
    }
}
#define CYPOOL_HAVE_TILE16 1
#endif

/* The running maximum of one window and its plane-flat position, updated by one cell under
 * PyTorch's rule (a cell replaces it when greater or NaN: the first maximum, the last NaN),
 * without a branch on the data: compare, then select. */
#define CYPOOL_MAX_STEP(m, at, v, pos)                                                            \
    do {                                                                                         \
        const int take_ = ((v) > (m)) | ((v) != (v));                                            \
        (m) = take_ ? (v) : (m);                                                                 \
        (at) = take_ ? (pos) : (at);                                                             \
    } while (0)

/* Channels-first adaptive max of one output row, bins as cypool_adaptive_avg_bins_cf; idx may be
 * NULL (no indices wanted). */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_adaptive_max_bins_cf)(const CYPOOL_T* xp, CYPOOL_T* y,
                                                   int64_t* idx, ptrdiff_t in_h, ptrdiff_t in_w,
                                                   ptrdiff_t d0, ptrdiff_t nd, ptrdiff_t h0,
                                                   ptrdiff_t nh, const ptrdiff_t* wf,
                                                   const ptrdiff_t* wc, ptrdiff_t out_w) {
    CYPOOL_T m[CYPOOL_REDUCE_ROW];
    ptrdiff_t at[CYPOOL_REDUCE_ROW];
    for (ptrdiff_t o0 = 0; o0 < out_w; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = out_w - o0 < CYPOOL_REDUCE_ROW ? out_w - o0 : CYPOOL_REDUCE_ROW;
        for (ptrdiff_t i = 0; i < n; i++) {
            m[i] = -INFINITY;
            at[i] = (d0 * in_h + h0) * in_w + wf[o0 + i];
        }
        for (ptrdiff_t d = d0; d < d0 + nd; d++)
            for (ptrdiff_t h = h0; h < h0 + nh; h++) {
                const ptrdiff_t base = (d * in_h + h) * in_w;
                const CYPOOL_T* r = xp + base;
                for (ptrdiff_t i = 0; i < n; i++) {
                    const ptrdiff_t f = wf[o0 + i], e = f + wc[o0 + i];
                    CYPOOL_T mm = m[i];
                    ptrdiff_t a = at[i];
                    for (ptrdiff_t j = f; j < e; j++) CYPOOL_MAX_STEP(mm, a, r[j], base + j);
                    m[i] = mm;
                    at[i] = a;
                }
            }
        for (ptrdiff_t i = 0; i < n; i++) y[o0 + i] = m[i];
        if (idx)
            for (ptrdiff_t i = 0; i < n; i++) idx[o0 + i] = at[i];
    }
}

#if CYPOOL_REDUCE_VECTORS
#if CYPOOL_IS_FLOAT
#define CYPOOL_GV cypool_r8f
#define CYPOOL_GI cypool_r8i
#define CYPOOL_GL 8
typedef int32_t CYPOOL_FN(cypool_gpos_t);
#else
#define CYPOOL_GV cypool_r4d
#define CYPOOL_GI cypool_r4l
#define CYPOOL_GL 4
typedef int64_t CYPOOL_FN(cypool_gpos_t);
#endif
#endif

/* Channels-first global max: planes [p0, p1) of L contiguous cells (L < 2^31). Vector lanes
 * each follow the rule over every CYPOOL_GL-th cell; the lanes are then merged (a NaN lane: the
 * last NaN; else the first position holding the maximum), and the tail continues the rule. The
 * value written is the chosen cell itself, so even the sign of a zero maximum is the loop's. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_max_cf)(const CYPOOL_T* x, CYPOOL_T* y, int64_t* idx,
                                            ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t L) {
    for (ptrdiff_t p = p0; p < p1; p++) {
        const CYPOOL_T* r = x + p * L;
        CYPOOL_T m = -INFINITY;
        ptrdiff_t at = 0, i = 0;
#if CYPOOL_REDUCE_VECTORS
        if (L >= 2 * CYPOOL_GL) {
            typedef CYPOOL_FN(cypool_gpos_t) pos_t;
            CYPOOL_GV mv, v;
            CYPOOL_GI iv, lane;
            for (int k = 0; k < CYPOOL_GL; k++) lane[k] = (pos_t)k;
            memcpy(&mv, r, sizeof mv);
            iv = lane;
            for (i = CYPOOL_GL; i + CYPOOL_GL <= L; i += CYPOOL_GL) {
                memcpy(&v, r + i, sizeof v);
                const CYPOOL_GI take = (CYPOOL_GI)(v > mv) | (CYPOOL_GI)(v != v);
                mv = (CYPOOL_GV)(((CYPOOL_GI)v & take) | ((CYPOOL_GI)mv & ~take));
                iv = ((lane + (pos_t)i) & take) | (iv & ~take);
            }
            CYPOOL_T ml[CYPOOL_GL];
            pos_t il[CYPOOL_GL];
            memcpy(ml, &mv, sizeof ml);
            memcpy(il, &iv, sizeof il);
            int any_nan = 0;
            for (int k = 0; k < CYPOOL_GL; k++) any_nan |= ml[k] != ml[k];
            at = -1;
            if (any_nan) {
                for (int k = 0; k < CYPOOL_GL; k++)
                    if (ml[k] != ml[k] && il[k] > at) at = il[k];
            } else {
                CYPOOL_T best = ml[0];
                for (int k = 1; k < CYPOOL_GL; k++) best = ml[k] > best ? ml[k] : best;
                for (int k = 0; k < CYPOOL_GL; k++)
                    if (ml[k] == best && (at < 0 || il[k] < at)) at = il[k];
            }
            m = r[at];
        }
#endif
        for (; i < L; i++) CYPOOL_MAX_STEP(m, at, r[i], i);
        y[p] = m;
        if (idx) idx[p] = at;
    }
}

#if CYPOOL_REDUCE_CELLS512 && CYPOOL_IS_FLOAT
/* The values-only global max of 16 planes at a time (AVX-512 CPUs, float32, L >= 16 cells): each
 * plane's lane maxima in one register (the last vector overlapping the one before), a NaN test
 * beside them; then a transpose-reduce (four levels of lane shuffles and maxima) leaves the 16
 * plane maxima in one register, so the horizontal maxima cost about two operations a plane
 * instead of a scalar loop each. A plane whose result is NaN or zero (the rule's NaN payload,
 * the first zero's sign) is redone by the rule's loop. */
typedef float cypool_r16f __attribute__((vector_size(64), aligned(4)));
typedef int32_t cypool_r16i __attribute__((vector_size(64)));
#if defined(__clang__)
#define CYPOOL_SHUF16(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define CYPOOL_SHUF16(a, b, ...) __builtin_shuffle(a, b, (cypool_r16i){__VA_ARGS__})
#endif
/* Lanes of b where take is set, of a elsewhere. */
#define CYPOOL_PICK16(take, b, a)                                                                \
    ((cypool_r16f)(((take) & (cypool_r16i)(b)) | (~(take) & (cypool_r16i)(a))))
/* The greater of two lanes, NaN if either is NaN. */
#define CYPOOL_MAX16_NAN(a, b)                                                                   \
    CYPOOL_PICK16((cypool_r16i)((b) > (a)) | (cypool_r16i)((b) != (b)), b, a)
/* One level of the transpose-reduce: lanes of a and b picked in two ways, their maxima. */
#define CYPOOL_FOLD16(a, b, ...) CYPOOL_FOLD16_(a, b, __VA_ARGS__)
#define CYPOOL_FOLD16_(a, b, l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11, l12, l13, l14,   \
                       l15, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15) \
    CYPOOL_MAX16_NAN(CYPOOL_SHUF16(a, b, l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11, l12, \
                                   l13, l14, l15),                                               \
                     CYPOOL_SHUF16(a, b, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, \
                                   h13, h14, h15))
#define CYPOOL_PAIRS1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30, \
                      1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define CYPOOL_PAIRS2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29, \
                      2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define CYPOOL_PAIRS4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27, \
                      4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define CYPOOL_PAIRS8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, \
                      8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2"), noinline, unused))
static void CYPOOL_FN(global_max_values16_cf)(const CYPOOL_T* x, CYPOOL_T* y, ptrdiff_t groups,
                                              ptrdiff_t L) {
    const cypool_r16f qnan = (cypool_r16f){0} + NAN;
    for (ptrdiff_t g = 0; g < groups; g++) {
        const CYPOOL_T* xg = x + g * 16 * L;
        cypool_r16f m[16];
        for (int q = 0; q < 16; q++) {
            const CYPOOL_T* r = xg + q * L;
            cypool_r16f mv, v;
            memcpy(&mv, r, sizeof mv);
            cypool_r16i nan = (cypool_r16i)(mv != mv);
            ptrdiff_t i = 16;
            for (; i + 16 <= L; i += 16) {
                memcpy(&v, r + i, sizeof v);
                nan |= (cypool_r16i)(v != v);
                mv = CYPOOL_PICK16((cypool_r16i)(v > mv), v, mv);
            }
            if (i < L) {
                memcpy(&v, r + L - 16, sizeof v);
                nan |= (cypool_r16i)(v != v);
                mv = CYPOOL_PICK16((cypool_r16i)(v > mv), v, mv);
            }
            m[q] = CYPOOL_PICK16(nan, qnan, mv);
        }
        cypool_r16f t[8], u[4], w[2], s;
        for (int q = 0; q < 8; q++) t[q] = CYPOOL_FOLD16(m[2 * q], m[2 * q + 1], CYPOOL_PAIRS1);
        for (int q = 0; q < 4; q++) u[q] = CYPOOL_FOLD16(t[2 * q], t[2 * q + 1], CYPOOL_PAIRS2);
        for (int q = 0; q < 2; q++) w[q] = CYPOOL_FOLD16(u[2 * q], u[2 * q + 1], CYPOOL_PAIRS4);
        s = CYPOOL_FOLD16(w[0], w[1], CYPOOL_PAIRS8);
        memcpy(y + g * 16, &s, sizeof s);
        CYPOOL_T sl[16];
        memcpy(sl, &s, sizeof sl);
        for (int q = 0; q < 16; q++) {
            if (sl[q] == sl[q] && sl[q] != 0) continue;
            const CYPOOL_T* r = xg + q * L;
            CYPOOL_T mm = -INFINITY;
            ptrdiff_t at = 0;
            for (ptrdiff_t i = 0; i < L; i++) CYPOOL_MAX_STEP(mm, at, r[i], i);
            y[g * 16 + q] = mm;
        }
    }
}
#undef CYPOOL_PAIRS1
#undef CYPOOL_PAIRS2
#undef CYPOOL_PAIRS4
#undef CYPOOL_PAIRS8
#endif

/* Channels-first global max, values only: planes [p0, p1) of L contiguous cells. Where no
 * cell is NaN and the maximum is not zero, every cell holding the maximum holds the same bits,
 * so the rule's value (the first maximum) is the maximum of the lanes in any order: vector
 * maxima (the last vector overlapping the one before when L is not a multiple of the lanes), a
 * NaN test beside them. A plane with a NaN or a zero maximum (the sign of the first zero, the
 * last NaN's payload) takes the rule's loop. Small planes of few cells: 7x7, 16384 planes,
 * 1 thread, 0.29 ms through the indexed kernels, which track positions. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_max_values_cf)(const CYPOOL_T* x, CYPOOL_T* y, ptrdiff_t p0,
                                                   ptrdiff_t p1, ptrdiff_t L) {
#if CYPOOL_REDUCE_CELLS512 && CYPOOL_IS_FLOAT
    if (L >= 16 && p1 - p0 >= 16 && cypool_reduce_avx512()) {
        const ptrdiff_t groups = (p1 - p0) / 16;
        CYPOOL_FN(global_max_values16_cf)(x + p0 * L, y + p0, groups, L);
        p0 += groups * 16;
    }
#endif
    for (ptrdiff_t p = p0; p < p1; p++) {
        const CYPOOL_T* r = x + p * L;
#if CYPOOL_REDUCE_VECTORS
        if (L >= CYPOOL_GL) {
            CYPOOL_GV mv, v;
            CYPOOL_GI nan;
            memcpy(&mv, r, sizeof mv);
            nan = (CYPOOL_GI)(mv != mv);
            ptrdiff_t i = CYPOOL_GL;
            for (; i + CYPOOL_GL <= L; i += CYPOOL_GL) {
                memcpy(&v, r + i, sizeof v);
                nan |= (CYPOOL_GI)(v != v);
                const CYPOOL_GI take = (CYPOOL_GI)(v > mv);
                mv = (CYPOOL_GV)(((CYPOOL_GI)v & take) | ((CYPOOL_GI)mv & ~take));
            }
            if (i < L) {
                memcpy(&v, r + L - CYPOOL_GL, sizeof v);
                nan |= (CYPOOL_GI)(v != v);
                const CYPOOL_GI take = (CYPOOL_GI)(v > mv);
                mv = (CYPOOL_GV)(((CYPOOL_GI)v & take) | ((CYPOOL_GI)mv & ~take));
            }
            CYPOOL_T ml[CYPOOL_GL];
            CYPOOL_FN(cypool_gpos_t) nl[CYPOOL_GL];
            memcpy(ml, &mv, sizeof ml);
            memcpy(nl, &nan, sizeof nl);
            CYPOOL_T best = ml[0];
            int any_nan = nl[0] != 0;
            for (int k = 1; k < CYPOOL_GL; k++) {
                best = ml[k] > best ? ml[k] : best;
                any_nan |= nl[k] != 0;
            }
            if (!any_nan && best != 0) {
                y[p] = best;
                continue;
            }
        }
#endif
        CYPOOL_T m = -INFINITY;
        ptrdiff_t at = 0;
        for (ptrdiff_t i = 0; i < L; i++) CYPOOL_MAX_STEP(m, at, r[i], i);
        y[p] = m;
    }
}

#ifndef CYPOOL_FRACTIONAL_TABLE
/* The offset of window cell number q ((dt * k_h + dh) * k_w + dw) from the window's first cell,
 * in positions of a plane of in_h x in_w cells: a table for windows of up to 256 cells (a
 * division per index costs more than the window's maximum), else computed. */
#define CYPOOL_FRACTIONAL_TABLE 256
CYPOOL_INLINE ptrdiff_t cypool_fractional_offsets(int64_t* offs, ptrdiff_t k_t, ptrdiff_t k_h,
                                                  ptrdiff_t k_w, ptrdiff_t in_h, ptrdiff_t in_w) {
    if (k_t * k_h * k_w > CYPOOL_FRACTIONAL_TABLE) return 0;
    ptrdiff_t n = 0;
    for (ptrdiff_t dt = 0; dt < k_t; dt++)
        for (ptrdiff_t dh = 0; dh < k_h; dh++)
            for (ptrdiff_t dw = 0; dw < k_w; dw++) offs[n++] = (dt * in_h + dh) * in_w + dw;
    return n;
}

CYPOOL_INLINE int64_t cypool_fractional_offset(const int64_t* offs, ptrdiff_t tabled, int64_t q,
                                               ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t in_h,
                                               ptrdiff_t in_w) {
    if (tabled) return offs[q];
    return ((q / (k_h * k_w)) * in_h + q / k_w % k_h) * in_w + q % k_w;
}

#endif

/* Fractional max pooling (_fractional.pyx): windows of k_t x k_h x k_w cells whose starts vary
 * window by window. Window l's first cell is x[base[l]]; its cells x[base[l] + dt * s_t + dh * s_h
 * + dw * s_w] are read in (dt, dh, dw) order under the rule of CYPOOL_MAX_STEP, with compares and
 * selects, never a branch on the data (the maxima of real data are unpredictable: a branch
 * mispredicts about every other cell). The result of window l: its maximum and the number
 * (dt * k_h + dh) * k_w + dw of the chosen cell. CYPOOL_GL windows side by side in vector
 * lanes (gathered loads); fractional_one is the scalar form. */
CYPOOL_INLINE void CYPOOL_FN(fractional_one)(const CYPOOL_T* x, int64_t base, ptrdiff_t k_t,
                                             ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t s_t,
                                             ptrdiff_t s_h, ptrdiff_t s_w, CYPOOL_T* m_out,
                                             int64_t* q_out) {
    CYPOOL_T m = -INFINITY;
    int64_t q = 0, n = 0;
    for (ptrdiff_t dt = 0; dt < k_t; dt++)
        for (ptrdiff_t dh = 0; dh < k_h; dh++)
            for (ptrdiff_t dw = 0; dw < k_w; dw++, n++)
                CYPOOL_MAX_STEP(m, q, x[base + dt * s_t + dh * s_h + dw * s_w], n);
    *m_out = m;
    *q_out = q;
}

#if CYPOOL_REDUCE_VECTORS
CYPOOL_INLINE void CYPOOL_FN(fractional_lanes)(const CYPOOL_T* x, const int64_t* base,
                                               ptrdiff_t k_t, ptrdiff_t k_h, ptrdiff_t k_w,
                                               ptrdiff_t s_t, ptrdiff_t s_h, ptrdiff_t s_w,
                                               CYPOOL_T* m_out, int64_t* q_out) {
    typedef CYPOOL_FN(cypool_gpos_t) pos_t;
    const CYPOOL_GI izero = {0};
    CYPOOL_GV m = {0};   /* set by the first cell; the initialiser quiets gcc's maybe-uninitialized */
    CYPOOL_GI q = izero;
    pos_t n = 0;
    for (ptrdiff_t dt = 0; dt < k_t; dt++)
        for (ptrdiff_t dh = 0; dh < k_h; dh++)
            for (ptrdiff_t dw = 0; dw < k_w; dw++, n++) {
                const ptrdiff_t off = dt * s_t + dh * s_h + dw * s_w;
                CYPOOL_GV v;
                for (int l = 0; l < CYPOOL_GL; l++) v[l] = x[base[l] + off];
                if (n == 0) {   /* -inf < v or v NaN takes the first cell; v = -inf is m's value */
                    m = v;
                    continue;
                }
                const CYPOOL_GI take = (CYPOOL_GI)(v > m) | (CYPOOL_GI)(v != v);
                m = (CYPOOL_GV)(((CYPOOL_GI)v & take) | ((CYPOOL_GI)m & ~take));
                q = ((izero + n) & take) | (q & ~take);
            }
    for (int l = 0; l < CYPOOL_GL; l++) {
        m_out[l] = m[l];
        q_out[l] = q[l];
    }
}
#endif

/* Channels-first, one output row: window ow's first cell (d0, h0, wf[ow]) of a plane xp of
 * in_h x in_w rows; y[ow] its maximum, idx[ow] (idx may be NULL) the cell's plane-flat position. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_fractional_row_cf)(const CYPOOL_T* xp, CYPOOL_T* y, int64_t* idx,
                                                ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t d0,
                                                ptrdiff_t k_t, ptrdiff_t h0, ptrdiff_t k_h,
                                                const int64_t* wf, ptrdiff_t k_w,
                                                ptrdiff_t out_w) {
    const int64_t first = (d0 * in_h + h0) * in_w;
    const ptrdiff_t s_t = in_h * in_w;
    ptrdiff_t ow = 0, tabled = 0;
    int64_t base[16], q[16], offs[CYPOOL_FRACTIONAL_TABLE];
    CYPOOL_T m[16];
    if (idx) tabled = cypool_fractional_offsets(offs, k_t, k_h, k_w, in_h, in_w);
#if CYPOOL_REDUCE_VECTORS
    for (; ow + CYPOOL_GL <= out_w; ow += CYPOOL_GL) {
        for (int l = 0; l < CYPOOL_GL; l++) base[l] = first + wf[ow + l];
        if (k_t == 1 && k_h == 2 && k_w == 2)
            CYPOOL_FN(fractional_lanes)(xp, base, 1, 2, 2, s_t, in_w, 1, m, q);
        else if (k_t == 1 && k_h == 3 && k_w == 3)
            CYPOOL_FN(fractional_lanes)(xp, base, 1, 3, 3, s_t, in_w, 1, m, q);
        else
            CYPOOL_FN(fractional_lanes)(xp, base, k_t, k_h, k_w, s_t, in_w, 1, m, q);
        for (int l = 0; l < CYPOOL_GL; l++) y[ow + l] = m[l];
        if (idx)
            for (int l = 0; l < CYPOOL_GL; l++)
                idx[ow + l] = base[l] + cypool_fractional_offset(offs, tabled, q[l], k_h, k_w,
                                                                 in_h, in_w);
    }
#endif
    for (; ow < out_w; ow++) {
        const int64_t b = first + wf[ow];
        CYPOOL_FN(fractional_one)(xp, b, k_t, k_h, k_w, s_t, in_w, 1, m, q);
        y[ow] = m[0];
        if (idx) idx[ow] = b + cypool_fractional_offset(offs, tabled, q[0], k_h, k_w, in_h, in_w);
    }
}

/* Channels-last, the C channels of one output cell of a sample xs ((T, H, W, C)): channel c's
 * window starts at (st[c * sst], sh[c * ssh], sw[c * ssw]) (a column of the per-plane start
 * tables); y[c] its maximum, idx[c] (idx may be NULL) the cell's position (t * in_h + h) * in_w
 * + w. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_fractional_cell_cl)(const CYPOOL_T* xs, CYPOOL_T* y, int64_t* idx,
                                                 ptrdiff_t C, ptrdiff_t in_h, ptrdiff_t in_w,
                                                 const int64_t* st, ptrdiff_t sst,
                                                 const int64_t* sh, ptrdiff_t ssh,
                                                 const int64_t* sw, ptrdiff_t ssw, ptrdiff_t k_t,
                                                 ptrdiff_t k_h, ptrdiff_t k_w) {
    const ptrdiff_t s_t = in_h * in_w * C, s_h = in_w * C;
    ptrdiff_t c = 0, tabled = 0;
    int64_t cell[16], base[16], q[16], offs[CYPOOL_FRACTIONAL_TABLE];
    CYPOOL_T m[16];
    if (idx) tabled = cypool_fractional_offsets(offs, k_t, k_h, k_w, in_h, in_w);
#if CYPOOL_REDUCE_VECTORS
    for (; c + CYPOOL_GL <= C; c += CYPOOL_GL) {
        for (int l = 0; l < CYPOOL_GL; l++) {
            const ptrdiff_t k = c + l;
            cell[l] = (st[k * sst] * in_h + sh[k * ssh]) * in_w + sw[k * ssw];
            base[l] = cell[l] * C + k;
        }
        if (k_t == 1 && k_h == 2 && k_w == 2)
            CYPOOL_FN(fractional_lanes)(xs, base, 1, 2, 2, s_t, s_h, C, m, q);
        else if (k_t == 1 && k_h == 3 && k_w == 3)
            CYPOOL_FN(fractional_lanes)(xs, base, 1, 3, 3, s_t, s_h, C, m, q);
        else
            CYPOOL_FN(fractional_lanes)(xs, base, k_t, k_h, k_w, s_t, s_h, C, m, q);
        for (int l = 0; l < CYPOOL_GL; l++) y[c + l] = m[l];
        if (idx)
            for (int l = 0; l < CYPOOL_GL; l++)
                idx[c + l] = cell[l] + cypool_fractional_offset(offs, tabled, q[l], k_h, k_w,
                                                                in_h, in_w);
    }
#endif
    for (; c < C; c++) {
        const int64_t at = (st[c * sst] * in_h + sh[c * ssh]) * in_w + sw[c * ssw];
        CYPOOL_FN(fractional_one)(xs, at * C + c, k_t, k_h, k_w, s_t, s_h, C, m, q);
        y[c] = m[0];
        if (idx) idx[c] = at + cypool_fractional_offset(offs, tabled, q[0], k_h, k_w, in_h, in_w);
    }
}

#if CYPOOL_REDUCE_VECTORS
#undef CYPOOL_GV
#undef CYPOOL_GI
#undef CYPOOL_GL
#endif

#define CYPOOL_BAND_ACC 2048   /* accumulators of a channels-last row chunk */
/* y[c] = (T)(s[c] / cells), c < n. For float32 data (sums of floats: finite ones lie far from
 * double overflow and underflow) the double quotient comes without a division: q0 = s * r
 * (r = RN(1 / cells)), one correction q1 = q0 + RN(s - q0 * cells) * r that makes it faithful,
 * then Markstein's step q = q1 + (s - q1 * cells) * r, the residual exact by fused
 * multiply-adds: RN(s / cells) itself (Markstein 1990). Its sign is the sum's (zeros too);
 * infinities and NaN pass through as the division passes them. Double data divides. */
CYPOOL_INLINE void CYPOOL_FN(divide_row)(const double* restrict s, CYPOOL_T* restrict y,
                                         ptrdiff_t n, double cells) {
#if CYPOOL_IS_FLOAT
    const double r = 1.0 / cells;
    for (ptrdiff_t c = 0; c < n; c++) {
        const double a = s[c];
        const double q0 = a * r;
        const double q1 = fma(fma(-q0, cells, a), r, q0);
        const double q = copysign(fma(fma(-q1, cells, a), r, q1), a);
        y[c] = (float)(fabs(a) <= DBL_MAX ? q : a);
    }
#else
    for (ptrdiff_t c = 0; c < n; c++) y[c] = (CYPOOL_T)(s[c] / cells);
#endif
}

/* a[c] = (((a[c] + p[c]) + p[C + c]) + ...) over k <= 4 cells C apart, c < cn, in double;
 * fresh: the sums start from 0 (a's contents unread). Inlined with a constant k. */
CYPOOL_INLINE void CYPOOL_FN(band_add)(double* restrict a, const CYPOOL_T* restrict p,
                                       ptrdiff_t C, ptrdiff_t cn, int k, int fresh) {
    const CYPOOL_T* restrict p0 = p;
    const CYPOOL_T* restrict p1 = p + C;
    const CYPOOL_T* restrict p2 = p + 2 * C;
    const CYPOOL_T* restrict p3 = p + 3 * C;
#define CYPOOL_BAND_SUM(init)                                                                    \
    for (ptrdiff_t c = 0; c < cn; c++) {                                                         \
        double t = (init) + (double)p0[c];                                                       \
        if (k > 1) t += (double)p1[c];                                                           \
        if (k > 2) t += (double)p2[c];                                                           \
        if (k > 3) t += (double)p3[c];                                                           \
        a[c] = t;                                                                                \
    }
    if (fresh) {
        CYPOOL_BAND_SUM(0.0)
    } else {
        CYPOOL_BAND_SUM(a[c])
    }
#undef CYPOOL_BAND_SUM
}

#if CYPOOL_REDUCE_CELLS512 && CYPOOL_IS_FLOAT
/* Eight values as doubles in one conversion: gcc 12 splits __builtin_convertvector from eight
 * floats to eight doubles into two halves and a merge (five instructions instead of one). */
static inline __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2"), always_inline))
cypool_r8d CYPOOL_FN(cells_load8)(const CYPOOL_T* p) {
    return (cypool_r8d)_mm512_cvtps_pd(_mm256_loadu_ps(p));
}

/* The average of one window over channels [c, c + 8 nv) (nv <= 16 a constant once inlined): nv
 * 8-lane double sums in registers while the window's cells stream through, each cell's row
 * below prefetched on the way (a window's rows lie a row of the input apart, in other pages,
 * where the hardware's stream prefetch does not follow). */
static inline __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2"), always_inline))
void CYPOOL_FN(cells_window)(const CYPOOL_T* x, CYPOOL_T* yo, ptrdiff_t C, ptrdiff_t step_d,
                             ptrdiff_t step_h, ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw,
                             double cells, int nv) {
    const cypool_r8d zero = {0, 0, 0, 0, 0, 0, 0, 0};
    cypool_r8d a[16];
    double s[128];
    for (int q = 0; q < nv; q++) a[q] = zero;
    for (ptrdiff_t d = 0; d < nd; d++)
        for (ptrdiff_t h = 0; h < nh; h++) {
            const CYPOOL_T* r = x + d * step_d + h * step_h;
            for (ptrdiff_t w = 0; w < nw; w++) {
                for (int q = 0; q < nv; q++) a[q] += CYPOOL_FN(cells_load8)(r + w * C + 8 * q);
                for (int q = 0; q < nv; q += 2) __builtin_prefetch(r + step_h + w * C + 8 * q);
            }
        }
    memcpy(s, a, (size_t)nv * sizeof a[0]);
    CYPOOL_FN(divide_row)(s, yo, 8 * nv, cells);
}

/* Channels-last adaptive average of one output row, window by window (AVX-512 CPUs, a multiple
 * of 8 channels): blocks of 128 channels (sixteen 8-lane double sums), the rest in blocks of 64,
 * 32, 16 and 8. The terms of each sum come in the order of the band kernel below (slices, rows,
 * columns, from 0.0), so the results are the same. On Zen 4 it beats the band kernel on windows
 * of one cell to 8x8, whose read-add-write of the accumulators per row of cells costs more than
 * the sums in registers. */
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2"), noinline, unused))
static void CYPOOL_FN(adaptive_avg_cells_cl)(const CYPOOL_T* xs, CYPOOL_T* y, ptrdiff_t C,
                                             ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t d0,
                                             ptrdiff_t nd, ptrdiff_t h0, ptrdiff_t nh,
                                             const ptrdiff_t* wf, const ptrdiff_t* wc,
                                             ptrdiff_t out_w) {
    const ptrdiff_t step_h = in_w * C, step_d = in_h * step_h;
    for (ptrdiff_t i = 0; i < out_w; i++) {
        const CYPOOL_T* x = xs + d0 * step_d + h0 * step_h + wf[i] * C;
        const ptrdiff_t nw = wc[i];
        const double cells = (double)(nd * nh * nw);
        CYPOOL_T* yo = y + i * C;
        ptrdiff_t c = 0;
        for (; c + 128 <= C; c += 128)
            CYPOOL_FN(cells_window)(x + c, yo + c, C, step_d, step_h, nd, nh, nw, cells, 16);
#define CYPOOL_CELLS_REST(nv)                                                                    \
        if (C - c >= 8 * (nv)) {                                                                 \
            CYPOOL_FN(cells_window)(x + c, yo + c, C, step_d, step_h, nd, nh, nw, cells, nv);    \
            c += 8 * (nv);                                                                       \
        }
        CYPOOL_CELLS_REST(8)
        CYPOOL_CELLS_REST(4)
        CYPOOL_CELLS_REST(2)
        CYPOOL_CELLS_REST(1)
#undef CYPOOL_CELLS_REST
    }
}
#endif

/* Channels-last adaptive average of one output row of sample xs: the band of input rows
 * (slices d0.., rows h0..) streams through in memory order; the double accumulators, acc, hold
 * a block of the row's windows, all their channels where they fit (up to CYPOOL_BAND_ACC), so a
 * window's cells are read whole, in address order. Bins along w as in the _cf kernels.
 * When the input streams from memory (a sample of more than CYPOOL_BAND_PREFETCH_SAMPLE bytes,
 * or a whole input, input_bytes, of more than CYPOOL_BAND_PREFETCH_INPUT), a window whose row of
 * cells spans a page or more has its cells of the input row below prefetched while it adds this
 * row's: the loads of 56->7 windows (8x8 cells of 128 channels, 4 KiB a row) waited on memory.
 * Zen 3, 2 threads, over torch's time: (16,56,56,128) -> 7 1.25-1.29 -> 0.54-0.63,
 * (8,112,112,64) -> 7 0.71-0.74 -> 0.45-0.57; narrower windows lost (56->5 of 64 channels,
 * 3 KiB: 0.63-0.67 -> 0.78-0.85) and inputs in cache gained nothing (13->6 of 256 channels) or
 * lost ((32,7,7,1024) -> 3, 6.4 MB: 1.09-1.19 of the time without). Whole channels and the
 * prefetch of a 25.7 MB input of small samples, against blocks of 288 channels without it,
 * over the old kernel's time in one process (Zen 3, 1 and 2 threads): (64,14,14,512) -> 7
 * 0.61-0.62, -> 6 0.71-0.80. */
#define CYPOOL_BAND_PREFETCH_SAMPLE (512 * 1024)
#define CYPOOL_BAND_PREFETCH_INPUT (16 * 1024 * 1024)
CYPOOL_CLONES
static void CYPOOL_FN(cypool_adaptive_avg_band_cl)(const CYPOOL_T* xs, CYPOOL_T* y, ptrdiff_t C,
                                                   ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t d0,
                                                   ptrdiff_t nd, ptrdiff_t h0, ptrdiff_t nh,
                                                   const ptrdiff_t* wf, const ptrdiff_t* wc,
                                                   ptrdiff_t out_w, ptrdiff_t input_bytes) {
#if CYPOOL_REDUCE_CELLS512 && CYPOOL_IS_FLOAT
    if (C % 8 == 0 && cypool_reduce_avx512()) {
        CYPOOL_FN(adaptive_avg_cells_cl)(xs, y, C, in_h, in_w, d0, nd, h0, nh, wf, wc, out_w);
        return;
    }
#endif
    const int far = in_h * in_w * C * (ptrdiff_t)sizeof(CYPOOL_T) > CYPOOL_BAND_PREFETCH_SAMPLE ||
                    input_bytes > CYPOOL_BAND_PREFETCH_INPUT;
    double acc[CYPOOL_BAND_ACC];
    const ptrdiff_t nc = C < CYPOOL_BAND_ACC ? C : CYPOOL_BAND_ACC;
    const ptrdiff_t no_max = CYPOOL_BAND_ACC / nc;
    for (ptrdiff_t c0 = 0; c0 < C; c0 += nc) {
        const ptrdiff_t cn = C - c0 < nc ? C - c0 : nc;
        for (ptrdiff_t o0 = 0; o0 < out_w; o0 += no_max) {
            const ptrdiff_t no = out_w - o0 < no_max ? out_w - o0 : no_max;
            for (ptrdiff_t d = d0; d < d0 + nd; d++)
                for (ptrdiff_t h = h0; h < h0 + nh; h++) {
                    const CYPOOL_T* row = xs + (d * in_h + h) * in_w * C + c0;
                    const int first_row = d == d0 && h == h0;
                    const ptrdiff_t below = h + 1 < in_h && far ? in_w * C : 0;
                    for (ptrdiff_t i = 0; i < no; i++) {
                        double* restrict a = acc + i * cn;
                        const ptrdiff_t f = wf[o0 + i], e = f + wc[o0 + i];
                        if (below && (e - f) * C * (ptrdiff_t)sizeof(CYPOOL_T) >= 4096)
                            for (ptrdiff_t w = f; w < e; w++)
                                for (ptrdiff_t c = 0; c < cn; c += 64 / sizeof(CYPOOL_T))
                                    __builtin_prefetch(row + below + w * C + c);
                        ptrdiff_t w = f;
                        /* up to four cells a pass over a; the window's first pass starts its
                         * sums from 0 instead of reading them */
                        for (; w + 4 <= e; w += 4)
                            CYPOOL_FN(band_add)(a, row + w * C, C, cn, 4, first_row && w == f);
                        if (e - w == 3)
                            CYPOOL_FN(band_add)(a, row + w * C, C, cn, 3, first_row && w == f);
                        else if (e - w == 2)
                            CYPOOL_FN(band_add)(a, row + w * C, C, cn, 2, first_row && w == f);
                        else if (e - w == 1)
                            CYPOOL_FN(band_add)(a, row + w * C, C, cn, 1, first_row && w == f);
                    }
                }
            for (ptrdiff_t i = 0; i < no; i++)
                CYPOOL_FN(divide_row)(acc + i * cn, y + (o0 + i) * C + c0, cn,
                                      (double)(nd * nh * wc[o0 + i]));
        }
    }
}

/* Channels-last adaptive average backward of one bin, channels [0, nb) (nb <= 256, _adaptive.pyx's
 * BIN_CHANNELS; go and gi point at the block's first channel of the bin's gradient and of the
 * sample's input gradient): PyTorch's delta g / kd / kh / kw (three roundings), added to the
 * bin's cells. A cloned function, so the adds get AVX-512's lanes where the CPU has them (the
 * Cython loop it replaces was built for SSE2's 4). */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_adaptive_avg_bin_backward_cl)(const CYPOOL_T* restrict go,
                                                           CYPOOL_T* restrict gi, ptrdiff_t C,
                                                           ptrdiff_t nb, ptrdiff_t in_h,
                                                           ptrdiff_t in_w, ptrdiff_t d0,
                                                           ptrdiff_t nd, ptrdiff_t h0,
                                                           ptrdiff_t nh, ptrdiff_t w0,
                                                           ptrdiff_t nw) {
    CYPOOL_T dl[256];
    const CYPOOL_T kd = (CYPOOL_T)nd, kh = (CYPOOL_T)nh, kw = (CYPOOL_T)nw;
    for (ptrdiff_t c = 0; c < nb; c++) dl[c] = go[c] / kd / kh / kw;
    for (ptrdiff_t d = d0; d < d0 + nd; d++)
        for (ptrdiff_t h = h0; h < h0 + nh; h++)
            for (ptrdiff_t w = w0; w < w0 + nw; w++) {
                CYPOOL_T* restrict p = gi + ((d * in_h + h) * in_w + w) * C;
                for (ptrdiff_t c = 0; c < nb; c++) p[c] += dl[c];
            }
}

/* Channels-last adaptive max of one output row, the band streamed as in the average; positions
 * in int32 for float32 (the caller makes sure the plane has fewer than 2^31 cells). idx may be
 * NULL. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_adaptive_max_band_cl)(const CYPOOL_T* xs, CYPOOL_T* y, int64_t* idx,
                                                   ptrdiff_t C, ptrdiff_t in_h, ptrdiff_t in_w,
                                                   ptrdiff_t d0, ptrdiff_t nd, ptrdiff_t h0,
                                                   ptrdiff_t nh, const ptrdiff_t* wf,
                                                   const ptrdiff_t* wc, ptrdiff_t out_w) {
#if CYPOOL_IS_FLOAT
    typedef int32_t pos_t;
#else
    typedef int64_t pos_t;
#endif
    CYPOOL_T m[CYPOOL_BAND_ACC];
    pos_t at[CYPOOL_BAND_ACC];
    ptrdiff_t nc = CYPOOL_BAND_ACC / out_w / 16 * 16;
    if (nc < 16) nc = 16;
    if (nc > C) nc = C;
    const ptrdiff_t no_max = CYPOOL_BAND_ACC / nc;
    for (ptrdiff_t c0 = 0; c0 < C; c0 += nc) {
        const ptrdiff_t cn = C - c0 < nc ? C - c0 : nc;
        for (ptrdiff_t o0 = 0; o0 < out_w; o0 += no_max) {
            const ptrdiff_t no = out_w - o0 < no_max ? out_w - o0 : no_max;
            for (ptrdiff_t i = 0; i < no; i++)
                for (ptrdiff_t c = 0; c < cn; c++) {
                    m[i * cn + c] = -INFINITY;
                    at[i * cn + c] = (pos_t)((d0 * in_h + h0) * in_w + wf[o0 + i]);
                }
            for (ptrdiff_t d = d0; d < d0 + nd; d++)
                for (ptrdiff_t h = h0; h < h0 + nh; h++) {
                    const CYPOOL_T* row = xs + (d * in_h + h) * in_w * C + c0;
                    for (ptrdiff_t i = 0; i < no; i++) {
                        CYPOOL_T* restrict mo = m + i * cn;
                        pos_t* restrict ao = at + i * cn;
                        const ptrdiff_t f = wf[o0 + i], e = f + wc[o0 + i];
                        for (ptrdiff_t w = f; w < e; w++) {
                            const CYPOOL_T* restrict px = row + w * C;
                            const pos_t pos = (pos_t)((d * in_h + h) * in_w + w);
                            if (idx)
                                for (ptrdiff_t c = 0; c < cn; c++) {
                                    const CYPOOL_T v = px[c];
                                    const int take = (v > mo[c]) | (v != v);
                                    mo[c] = take ? v : mo[c];
                                    ao[c] = take ? pos : ao[c];
                                }
                            else
                                for (ptrdiff_t c = 0; c < cn; c++) {
                                    const CYPOOL_T v = px[c];
                                    const int take = (v > mo[c]) | (v != v);
                                    mo[c] = take ? v : mo[c];
                                }
                        }
                    }
                }
            for (ptrdiff_t i = 0; i < no; i++) {
                memcpy(y + (o0 + i) * C + c0, m + i * cn, (size_t)cn * sizeof(CYPOOL_T));
                if (idx)
                    for (ptrdiff_t c = 0; c < cn; c++)
                        idx[(o0 + i) * C + c0 + c] = (int64_t)at[i * cn + c];
            }
        }
    }
}

#if CYPOOL_REDUCE_VECTORS
/* p[0], p[step], p[2 * step], p[3 * step] as doubles, reading only those cells' span: step 1
 * one load, step 2 two overlapping loads (p[0..3], p[3..6]) and a shuffle, others lane by lane.
 * Inlined with a constant step. Blocks of 8 outputs go as two of these: generic vectors of 256
 * bits stay in registers in every clone (_clones.h), where 512-bit ones were held in memory by
 * the AVX2 and baseline clones (blur, Lp: 4-8x the AVX-512 clone's time on an AVX2 CPU). */
CYPOOL_INLINE cypool_r4d CYPOOL_FN(load4s)(const CYPOOL_T* p, ptrdiff_t step) {
#if CYPOOL_IS_FLOAT
    cypool_r4f v;
    if (step == 1) {
        memcpy(&v, p, sizeof v);
    } else if (step == 2) {
        cypool_r4f lo, hi;
        memcpy(&lo, p, sizeof lo);
        memcpy(&hi, p + 3, sizeof hi);
        v = CYPOOL_SHUFFLE4(lo, hi, cypool_r4i, 0, 2, 5, 7);
    } else {
        for (int l = 0; l < 4; l++) v[l] = p[l * step];
    }
    return __builtin_convertvector(v, cypool_r4d);
#else
    cypool_r4d v;
    if (step == 1) {
        memcpy(&v, p, sizeof v);
    } else if (step == 2) {
        cypool_r4d lo, hi;
        memcpy(&lo, p, sizeof lo);
        memcpy(&hi, p + 3, sizeof hi);
        v = CYPOOL_SHUFFLE4(lo, hi, cypool_r4l, 0, 2, 5, 7);
    } else {
        for (int l = 0; l < 4; l++) v[l] = p[l * step];
    }
    return v;
#endif
}

CYPOOL_INLINE cypool_r4d CYPOOL_FN(sel4d)(cypool_r4l m, cypool_r4d a, cypool_r4d b) {
    return (cypool_r4d)(((cypool_r4l)a & m) | ((cypool_r4l)b & ~m));
}

/* Four doubles stored as CYPOOL_T. */
CYPOOL_INLINE void CYPOOL_FN(store4)(CYPOOL_T* p, cypool_r4d v) {
#if CYPOOL_IS_FLOAT
    const cypool_r4f f = __builtin_convertvector(v, cypool_r4f);
    memcpy(p, &f, sizeof f);
#else
    memcpy(p, &v, sizeof v);
#endif
}
#endif

/* Lp pooling (_lp.pyx): y[k] = finish(s[k], cells, mul, p) for k < n, the root's kind tested
 * once (vector loops: the division and the square root are the cost of a window). */
CYPOOL_INLINE void CYPOOL_FN(lp_finish)(const double* restrict s, CYPOOL_T* restrict y,
                                        ptrdiff_t n, double cells, double mul, double p) {
    if (cypool_pow2(cells)) {   /* s / cells == s * (1 / cells) exactly */
        const double inv = 1.0 / cells;
        if (p == 2.0)
            for (ptrdiff_t k = 0; k < n; k++) y[k] = (CYPOOL_T)sqrt(s[k] * inv * mul);
        else if (p == 1.0)
            for (ptrdiff_t k = 0; k < n; k++) y[k] = (CYPOOL_T)(s[k] * inv * mul);
        else
            for (ptrdiff_t k = 0; k < n; k++) y[k] = (CYPOOL_T)pow(s[k] * inv * mul, 1.0 / p);
        return;
    }
    if (p == 2.0)
        for (ptrdiff_t k = 0; k < n; k++) y[k] = (CYPOOL_T)sqrt(s[k] / cells * mul);
    else if (p == 1.0)
        for (ptrdiff_t k = 0; k < n; k++) y[k] = (CYPOOL_T)(s[k] / cells * mul);
    else
        for (ptrdiff_t k = 0; k < n; k++) y[k] = (CYPOOL_T)pow(s[k] / cells * mul, 1.0 / p);
}

CYPOOL_INLINE double CYPOOL_FN(lp_pow)(double v, int power) {
    return power == 3 ? v * v * v : power == 2 ? v * v : v;
}

/* Lp pooling, channels-first: windows [0, n) of a row as lp_row_cf below, all full (k_w cells),
 * their sums into acc. Inlined with constant s_w, k_w and power. */
CYPOOL_INLINE void CYPOOL_FN(lp_sums_cf)(const CYPOOL_T* const* rows, ptrdiff_t n_rows,
                                         double* acc, ptrdiff_t n, ptrdiff_t k_w, ptrdiff_t s_w,
                                         int power) {
    ptrdiff_t i = 0;
#if CYPOOL_REDUCE_VECTORS
    const cypool_r4d zero = {0};
    for (; i + 8 <= n; i += 8) {
        cypool_r4d a0 = zero, a1 = zero;   /* windows i .. i + 3, i + 4 .. i + 7 */
        for (ptrdiff_t q = 0; q < n_rows; q++) {
            const CYPOOL_T* r = rows[q] + i * s_w;
            for (ptrdiff_t j = 0; j < k_w; j++) {
                const cypool_r4d v0 = CYPOOL_FN(load4s)(r + j, s_w);
                const cypool_r4d v1 = CYPOOL_FN(load4s)(r + 4 * s_w + j, s_w);
                a0 += power == 3 ? v0 * v0 * v0 : power == 2 ? v0 * v0 : v0;
                a1 += power == 3 ? v1 * v1 * v1 : power == 2 ? v1 * v1 : v1;
            }
        }
        memcpy(acc + i, &a0, sizeof a0), memcpy(acc + i + 4, &a1, sizeof a1);
    }
#endif
    for (; i < n; i++) {
        double a = 0;
        for (ptrdiff_t q = 0; q < n_rows; q++)
            for (ptrdiff_t j = 0; j < k_w; j++)
                a += CYPOOL_FN(lp_pow)((double)rows[q][i * s_w + j], power);
        acc[i] = a;
    }
}

/* Lp pooling, channels-first: the output row of cypool_strided_row_cf (same arguments, same
 * sums in the same order: a window's cells in (d, h, w) order from 0, power 1, 2 or 3), a
 * window's sum in the lanes of vector registers instead of an accumulator row. Up to 64 window
 * rows (nd * nh); more: cypool_strided_row_cf. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_lp_row_cf)(const CYPOOL_T* xp, CYPOOL_T* y, ptrdiff_t in_h,
                                        ptrdiff_t in_w, ptrdiff_t d0, ptrdiff_t nd,
                                        ptrdiff_t h0, ptrdiff_t nh, ptrdiff_t k_w,
                                        ptrdiff_t s_w, ptrdiff_t out_w, int power,
                                        double mul, double p) {
    const CYPOOL_T* rows[64];
    double acc[CYPOOL_REDUCE_ROW];
    const ptrdiff_t n_rows = nd * nh;
    for (ptrdiff_t d = 0; d < nd; d++)
        for (ptrdiff_t h = 0; h < nh; h++) rows[d * nh + h] = xp + ((d0 + d) * in_h + h0 + h) * in_w;
    ptrdiff_t n_full = in_w >= k_w ? (in_w - k_w) / s_w + 1 : 0;
    if (n_full > out_w) n_full = out_w;
    for (ptrdiff_t o0 = 0; o0 < n_full; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = n_full - o0 < CYPOOL_REDUCE_ROW ? n_full - o0 : CYPOOL_REDUCE_ROW;
        const CYPOOL_T* r[64];
        for (ptrdiff_t q = 0; q < n_rows; q++) r[q] = rows[q] + o0 * s_w;
#define CYPOOL_LP_SUMS(K, S, P) CYPOOL_FN(lp_sums_cf)(r, n_rows, acc, n, K, S, P)
        if (k_w == 2 && s_w == 2) {
            if (power == 2) CYPOOL_LP_SUMS(2, 2, 2);
            else if (power == 3) CYPOOL_LP_SUMS(2, 2, 3);
            else CYPOOL_LP_SUMS(2, 2, 1);
        } else if (s_w == 2) {
            if (power == 2) CYPOOL_LP_SUMS(k_w, 2, 2);
            else if (power == 3) CYPOOL_LP_SUMS(k_w, 2, 3);
            else CYPOOL_LP_SUMS(k_w, 2, 1);
        } else if (s_w == 1) {
            if (power == 2) CYPOOL_LP_SUMS(k_w, 1, 2);
            else if (power == 3) CYPOOL_LP_SUMS(k_w, 1, 3);
            else CYPOOL_LP_SUMS(k_w, 1, 1);
        } else {
            if (power == 2) CYPOOL_LP_SUMS(k_w, s_w, 2);
            else if (power == 3) CYPOOL_LP_SUMS(k_w, s_w, 3);
            else CYPOOL_LP_SUMS(k_w, s_w, 1);
        }
#undef CYPOOL_LP_SUMS
        CYPOOL_FN(lp_finish)(acc, y + o0, n, (double)(n_rows * k_w), mul, p);
    }
    for (ptrdiff_t i = n_full; i < out_w; i++) {   /* windows cut by the row's end */
        const ptrdiff_t c = i * s_w;
        const ptrdiff_t e = c + k_w < in_w ? c + k_w : in_w;
        double a = 0;
        for (ptrdiff_t q = 0; q < n_rows; q++)
            for (ptrdiff_t j = c; j < e; j++) a += CYPOOL_FN(lp_pow)((double)rows[q][j], power);
        CYPOOL_FN(lp_finish)(&a, y + i, 1, (double)(n_rows * (e - c)), mul, p);
    }
}

/* Lp pooling, channels-last: one output row. x: the row's first window's first cell (channel 0)
 * of input slice d0, row h0; window ow starts at column ow * s_w and holds min(k_w, in_w -
 * ow * s_w) columns; its cells are at + d * step_d + h * step_h + w * C (d < nd, h < nh).
 * y[ow * C + c] = finish(sum of x^power over the window in (d, h, w) order from 0, cells, mul,
 * p), power 1, 2 or 3: 16 or 8 channels in the lanes of vector registers, the sums of a batch
 * of windows with the same cell count finished in one loop. */
CYPOOL_INLINE void CYPOOL_FN(lp_row_cl_p)(const CYPOOL_T* x, CYPOOL_T* y, ptrdiff_t C,
                                          ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t step_d,
                                          ptrdiff_t step_h, ptrdiff_t in_w, ptrdiff_t k_w,
                                          ptrdiff_t s_w, ptrdiff_t out_w, int power, double mul,
                                          double p) {
    /* sums of up to 2048 (window, channel) pairs of equal cell count, then one finishing loop */
    double s[2048];
    ptrdiff_t n_full = in_w >= k_w ? (in_w - k_w) / s_w + 1 : 0;
    if (n_full > out_w) n_full = out_w;
    const ptrdiff_t per = C <= 2048 ? 2048 / C : 1;   /* windows per batch */
    for (ptrdiff_t o0 = 0; o0 < out_w; ) {
        /* a batch: full windows [o0, o1) or one cut window */
        const ptrdiff_t o1 = o0 < n_full ? (n_full - o0 < per ? n_full : o0 + per) : o0 + 1;
        const ptrdiff_t c = o0 * s_w;
        const ptrdiff_t nw = c + k_w < in_w ? k_w : in_w - c;
        const double cells = (double)(nd * nh * nw);
        for (ptrdiff_t cb = 0; cb < C; cb += 2048) {   /* C > 2048: channel batches */
            const ptrdiff_t nc = C - cb < 2048 ? C - cb : 2048;
            for (ptrdiff_t ow = o0; ow < o1; ow++) {
                const CYPOOL_T* xw = x + ow * s_w * C + cb;
                double* so = s + (ow - o0) * nc;
                ptrdiff_t c0 = 0;
#if CYPOOL_REDUCE_VECTORS
                const cypool_r4d zero = {0};
#define CYPOOL_LP_ADD(a, v) ((a) += power == 3 ? (v) * (v) * (v) : power == 2 ? (v) * (v) : (v))
                for (; c0 + 16 <= nc; c0 += 16) {   /* four vectors of 4 channels (registers) */
                    cypool_r4d a0 = zero, a1 = zero, a2 = zero, a3 = zero;
                    for (ptrdiff_t d = 0; d < nd; d++)
                        for (ptrdiff_t h = 0; h < nh; h++)
                            for (ptrdiff_t w = 0; w < nw; w++) {
                                const CYPOOL_T* q = xw + d * step_d + h * step_h + w * C + c0;
                                const cypool_r4d v0 = CYPOOL_FN(load4s)(q, 1);
                                const cypool_r4d v1 = CYPOOL_FN(load4s)(q + 4, 1);
                                const cypool_r4d v2 = CYPOOL_FN(load4s)(q + 8, 1);
                                const cypool_r4d v3 = CYPOOL_FN(load4s)(q + 12, 1);
                                CYPOOL_LP_ADD(a0, v0), CYPOOL_LP_ADD(a1, v1);
                                CYPOOL_LP_ADD(a2, v2), CYPOOL_LP_ADD(a3, v3);
                            }
                    memcpy(so + c0, &a0, sizeof a0), memcpy(so + c0 + 4, &a1, sizeof a1);
                    memcpy(so + c0 + 8, &a2, sizeof a2), memcpy(so + c0 + 12, &a3, sizeof a3);
                }
#undef CYPOOL_LP_ADD
                for (; c0 + 4 <= nc; c0 += 4) {
                    cypool_r4d a0 = zero;
                    for (ptrdiff_t d = 0; d < nd; d++)
                        for (ptrdiff_t h = 0; h < nh; h++)
                            for (ptrdiff_t w = 0; w < nw; w++) {
                                const cypool_r4d v0 = CYPOOL_FN(load4s)(
                                    xw + d * step_d + h * step_h + w * C + c0, 1);
                                a0 += power == 3 ? v0 * v0 * v0 : power == 2 ? v0 * v0 : v0;
                            }
                    memcpy(so + c0, &a0, sizeof a0);
                }
#endif
                for (; c0 < nc; c0++) {
                    double a = 0;
                    for (ptrdiff_t d = 0; d < nd; d++)
                        for (ptrdiff_t h = 0; h < nh; h++)
                            for (ptrdiff_t w = 0; w < nw; w++)
                                a += CYPOOL_FN(lp_pow)(
                                    (double)xw[d * step_d + h * step_h + w * C + c0], power);
                    so[c0] = a;
                }
            }
            if (nc == C)
                CYPOOL_FN(lp_finish)(s, y + o0 * C, (o1 - o0) * C, cells, mul, p);
            else
                CYPOOL_FN(lp_finish)(s, y + o0 * C + cb, nc, cells, mul, p);
        }
        o0 = o1;
    }
}

CYPOOL_CLONES
static void CYPOOL_FN(cypool_lp_row_cl)(const CYPOOL_T* x, CYPOOL_T* y, ptrdiff_t C,
                                        ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t step_d,
                                        ptrdiff_t step_h, ptrdiff_t in_w, ptrdiff_t k_w,
                                        ptrdiff_t s_w, ptrdiff_t out_w, int power, double mul,
                                        double p) {
    /* one instance per power, so the power test leaves the inner loop */
    if (power == 2)
        CYPOOL_FN(lp_row_cl_p)(x, y, C, nd, nh, step_d, step_h, in_w, k_w, s_w, out_w, 2, mul, p);
    else if (power == 3)
        CYPOOL_FN(lp_row_cl_p)(x, y, C, nd, nh, step_d, step_h, in_w, k_w, s_w, out_w, 3, mul, p);
    else
        CYPOOL_FN(lp_row_cl_p)(x, y, C, nd, nh, step_d, step_h, in_w, k_w, s_w, out_w, 1, mul, p);
}

/* Lp pooling backward (_lp.pyx's _coef): the coefficient of a window of sum s, gradient g. */
CYPOOL_INLINE double CYPOOL_FN(lp_coef)(double s, double g, double cells, double kk, double p) {
    const double base = s / cells * kk;
    if (base == 0) return 0.0;
    if (p == 2.0) return g / p / sqrt(base) * kk / cells;
    if (p == 1.0) return g / p * 1.0 * kk / cells;   /* pow(base, 0) */
    return g / p * pow(base, 1.0 / p - 1.0) * kk / cells;
}

/* cf[k] = lp_coef(s[k], g[k], cells, kk, p) for k < n, the kind of p tested once. */
CYPOOL_INLINE void CYPOOL_FN(lp_coefs)(const double* restrict s, const CYPOOL_T* restrict g,
                                       double* restrict cf, ptrdiff_t n, double cells,
                                       double kk, double p) {
    if (p == 2.0 && cypool_pow2(cells)) {   /* divisions by 2 and cells as products, exact */
        const double inv = 1.0 / cells;
        for (ptrdiff_t k = 0; k < n; k++) {
            const double base = s[k] * inv * kk;
            const double c = (double)g[k] * 0.5 / sqrt(base) * kk * inv;
            cf[k] = base == 0 ? 0.0 : c;
        }
    } else if (p == 2.0) {
        for (ptrdiff_t k = 0; k < n; k++) {
            const double base = s[k] / cells * kk;
            const double c = (double)g[k] / p / sqrt(base) * kk / cells;
            cf[k] = base == 0 ? 0.0 : c;
        }
    } else {
        for (ptrdiff_t k = 0; k < n; k++)
            cf[k] = CYPOOL_FN(lp_coef)(s[k], (double)g[k], cells, kk, p);
    }
}

/* The last step of the Lp gradient over n cells (cells i * C of gi and x): gi = gi * p *
 * x^(p - 1), in double; power p (1, 2 or 3), x^0 = 1. */
CYPOOL_INLINE void CYPOOL_FN(lp_times_power)(CYPOOL_T* restrict gi, const CYPOOL_T* restrict x,
                                             ptrdiff_t n, int power, double p) {
    if (power == 2)
        for (ptrdiff_t i = 0; i < n; i++) gi[i] = (CYPOOL_T)((double)gi[i] * p * (double)x[i]);
    else if (power == 3)
        for (ptrdiff_t i = 0; i < n; i++)
            gi[i] = (CYPOOL_T)((double)gi[i] * p * ((double)x[i] * (double)x[i]));
    else
        for (ptrdiff_t i = 0; i < n; i++) gi[i] = (CYPOOL_T)((double)gi[i] * p * 1.0);
}

/* Lp backward, channels-first: windows of output row (od, oh) scattered into gi (plane), in
 * (ow, cell) order per cell. */
CYPOOL_INLINE void CYPOOL_FN(lp_backward_row_cf)(const CYPOOL_T* x, const CYPOOL_T* go,
                                                 CYPOOL_T* gi, const Window* w, Span sd, Span sh,
                                                 int power, double p) {
    const ptrdiff_t in_w = w->in_w, k_w = w->k_w, s_w = w->s_w, out_w = w->out_w;
    const double kk = (double)(w->k_d * w->k_h * w->k_w);
    const CYPOOL_T* xr[64];
    CYPOOL_T* gr[64];
    double acc[CYPOOL_REDUCE_ROW], cf[CYPOOL_REDUCE_ROW];
    const ptrdiff_t n_rows = sd.count * sh.count;
    for (ptrdiff_t d = 0; d < sd.count; d++)
        for (ptrdiff_t h = 0; h < sh.count; h++) {
            const ptrdiff_t o = ((sd.first + d) * w->in_h + sh.first + h) * in_w;
            xr[d * sh.count + h] = x + o;
            gr[d * sh.count + h] = gi + o;
        }
    ptrdiff_t n_full = in_w >= k_w ? (in_w - k_w) / s_w + 1 : 0;
    if (n_full > out_w) n_full = out_w;
    for (ptrdiff_t o0 = 0; o0 < n_full; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = n_full - o0 < CYPOOL_REDUCE_ROW ? n_full - o0 : CYPOOL_REDUCE_ROW;
        const CYPOOL_T* r[64];
        for (ptrdiff_t q = 0; q < n_rows; q++) r[q] = xr[q] + o0 * s_w;
#define CYPOOL_LP_SUMS(K, S, P) CYPOOL_FN(lp_sums_cf)(r, n_rows, acc, n, K, S, P)
        if (k_w == 2 && s_w == 2) {
            if (power == 2) CYPOOL_LP_SUMS(2, 2, 2);
            else if (power == 3) CYPOOL_LP_SUMS(2, 2, 3);
            else CYPOOL_LP_SUMS(2, 2, 1);
        } else {
            if (power == 2) CYPOOL_LP_SUMS(k_w, s_w, 2);
            else if (power == 3) CYPOOL_LP_SUMS(k_w, s_w, 3);
            else CYPOOL_LP_SUMS(k_w, s_w, 1);
        }
#undef CYPOOL_LP_SUMS
        CYPOOL_FN(lp_coefs)(acc, go + o0, cf, n, (double)(n_rows * k_w), kk, p);
        for (ptrdiff_t q = 0; q < n_rows; q++) {
            CYPOOL_T* restrict g = gr[q] + o0 * s_w;
            if (k_w == 2 && s_w == 2) {
                for (ptrdiff_t i = 0; i < n; i++) {
                    const CYPOOL_T c = (CYPOOL_T)cf[i];
                    g[2 * i] += c;
                    g[2 * i + 1] += c;
                }
            } else {   /* windows may overlap: each cell's windows in order */
                for (ptrdiff_t i = 0; i < n; i++)
                    for (ptrdiff_t j = 0; j < k_w; j++) g[i * s_w + j] += (CYPOOL_T)cf[i];
            }
        }
    }
    for (ptrdiff_t i = n_full; i < out_w; i++) {   /* windows cut by the row's end */
        const ptrdiff_t c = i * s_w;
        const ptrdiff_t e = c + k_w < in_w ? c + k_w : in_w;
        double a = 0;
        for (ptrdiff_t q = 0; q < n_rows; q++)
            for (ptrdiff_t j = c; j < e; j++) a += CYPOOL_FN(lp_pow)((double)xr[q][j], power);
        const CYPOOL_T cv = (CYPOOL_T)CYPOOL_FN(lp_coef)(a, (double)go[i],
                                                         (double)(n_rows * (e - c)), kk, p);
        for (ptrdiff_t q = 0; q < n_rows; q++)
            for (ptrdiff_t j = c; j < e; j++) gr[q][j] += cv;
    }
}

/* Lp backward, channels-last: windows of output row (od, oh) scattered into gi, channels
 * [c0, c1) of C, window by window (each cell's windows in order), channels in vector lanes:
 * a chunk of up to 128 channels summed, its coefficients computed, then scattered. */
CYPOOL_INLINE void CYPOOL_FN(lp_backward_row_cl)(const CYPOOL_T* x, const CYPOOL_T* go,
                                                 CYPOOL_T* gi, const Window* w, Span sd, Span sh,
                                                 ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                                                 int power, double p) {
    const double kk = (double)(w->k_d * w->k_h * w->k_w);
    double sm[CYPOOL_REDUCE_ROW], cf[CYPOOL_REDUCE_ROW];
    CYPOOL_T cv[CYPOOL_REDUCE_ROW];
    for (ptrdiff_t ow = 0; ow < w->out_w; ow++) {
        const Span sw = padded_span(ow, w->k_w, w->s_w, 0, 0, w->in_w);
        const double cells = (double)(sd.count * sh.count * sw.count);
        for (ptrdiff_t b0 = c0; b0 < c1; b0 += CYPOOL_REDUCE_ROW) {
            const ptrdiff_t nb = c1 - b0 < CYPOOL_REDUCE_ROW ? c1 - b0 : CYPOOL_REDUCE_ROW;
            ptrdiff_t k = 0;
#if CYPOOL_REDUCE_VECTORS
            for (; k + 8 <= nb; k += 8) {
                const cypool_r4d zero = {0};
                cypool_r4d a0 = zero, a1 = zero;
                for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
                    for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++)
                        for (ptrdiff_t c = sw.first; c < sw.first + sw.count; c++) {
                            const CYPOOL_T* q =
                                x + ((d * w->in_h + h) * w->in_w + c) * C + b0 + k;
                            const cypool_r4d v0 = CYPOOL_FN(load4s)(q, 1);
                            const cypool_r4d v1 = CYPOOL_FN(load4s)(q + 4, 1);
                            a0 += power == 3 ? v0 * v0 * v0 : power == 2 ? v0 * v0 : v0;
                            a1 += power == 3 ? v1 * v1 * v1 : power == 2 ? v1 * v1 : v1;
                        }
                memcpy(sm + k, &a0, sizeof a0), memcpy(sm + k + 4, &a1, sizeof a1);
            }
#endif
            for (; k < nb; k++) {
                double a = 0;
                for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
                    for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++)
                        for (ptrdiff_t c = sw.first; c < sw.first + sw.count; c++)
                            a += CYPOOL_FN(lp_pow)(
                                (double)x[((d * w->in_h + h) * w->in_w + c) * C + b0 + k], power);
                sm[k] = a;
            }
            CYPOOL_FN(lp_coefs)(sm, go + ow * C + b0, cf, nb, cells, kk, p);
            for (k = 0; k < nb; k++) cv[k] = (CYPOOL_T)cf[k];
            for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
                for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++)
                    for (ptrdiff_t c = sw.first; c < sw.first + sw.count; c++) {
                        CYPOOL_T* restrict q = gi + ((d * w->in_h + h) * w->in_w + c) * C + b0;
                        for (k = 0; k < nb; k++) q[k] += cv[k];
                    }
        }
    }
}

/* Rows [from, to) of a plane's gradient (rows of in_w cells of C channels; channels [c0, c1)):
 * set to 0 (zero) or finished by lp_times_power. */
CYPOOL_INLINE void CYPOOL_FN(lp_rows)(CYPOOL_T* gi, const CYPOOL_T* x, ptrdiff_t from,
                                      ptrdiff_t to, ptrdiff_t in_w, ptrdiff_t C, ptrdiff_t c0,
                                      ptrdiff_t c1, int zero, int power, double p) {
    if (to <= from) return;
    if (c1 - c0 == C) {
        const ptrdiff_t o = from * in_w * C, n = (to - from) * in_w * C;
        if (zero) memset(gi + o, 0, (size_t)n * sizeof(CYPOOL_T));
        else CYPOOL_FN(lp_times_power)(gi + o, x + o, n, power, p);
        return;
    }
    for (ptrdiff_t i = from * in_w; i < to * in_w; i++) {
        if (zero) memset(gi + i * C + c0, 0, (size_t)(c1 - c0) * sizeof(CYPOOL_T));
        else CYPOOL_FN(lp_times_power)(gi + i * C + c0, x + i * C + c0, c1 - c0, power, p);
    }
}

/* Lp pooling backward (_lp.pyx), power p = 1, 2 or 3: one plane (C = 1) or one sample's channels
 * [c0, c1) of C. Same arithmetic in the same order as _lp.pyx's general loop: gi = 0, then for
 * every window in (od, oh, ow) order gi += (T)coef over its cells, then gi = gi * p * x^(p-1).
 * With one input slice (1-d and 2-d) the plane's rows are set to 0 just before their first
 * window and finished right after their last one, while they are in cache. At most 64 window
 * rows. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_lp_backward_plane)(const CYPOOL_T* x, const CYPOOL_T* go,
                                                CYPOOL_T* gi, const Window* w, ptrdiff_t C,
                                                ptrdiff_t c0, ptrdiff_t c1, int power, double p) {
    const ptrdiff_t rows = w->in_d * w->in_h;
    const int stream = w->in_d == 1;
    ptrdiff_t zeroed = 0, done = 0;
    if (!stream) {
        CYPOOL_FN(lp_rows)(gi, x, 0, rows, w->in_w, C, c0, c1, 1, power, p);
        zeroed = rows;
    }
    for (ptrdiff_t od = 0; od < w->out_d; od++) {
        const Span sd = padded_span(od, w->k_d, w->s_d, 0, 0, w->in_d);
        for (ptrdiff_t oh = 0; oh < w->out_h; oh++) {
            const Span sh = padded_span(oh, w->k_h, w->s_h, 0, 0, w->in_h);
            if (stream && sh.first + sh.count > zeroed) {
                CYPOOL_FN(lp_rows)(gi, x, zeroed, sh.first + sh.count, w->in_w, C, c0, c1, 1,
                                   power, p);
                zeroed = sh.first + sh.count;
            }
            const CYPOOL_T* g = go + (od * w->out_h + oh) * w->out_w * C;
            if (C == 1) {
                if (power == 2) CYPOOL_FN(lp_backward_row_cf)(x, g, gi, w, sd, sh, 2, p);
                else if (power == 3) CYPOOL_FN(lp_backward_row_cf)(x, g, gi, w, sd, sh, 3, p);
                else CYPOOL_FN(lp_backward_row_cf)(x, g, gi, w, sd, sh, 1, p);
            } else {
                if (power == 2)
                    CYPOOL_FN(lp_backward_row_cl)(x, g, gi, w, sd, sh, C, c0, c1, 2, p);
                else if (power == 3)
                    CYPOOL_FN(lp_backward_row_cl)(x, g, gi, w, sd, sh, C, c0, c1, 3, p);
                else
                    CYPOOL_FN(lp_backward_row_cl)(x, g, gi, w, sd, sh, C, c0, c1, 1, p);
            }
            if (stream) {   /* rows before the next window's first are final */
                ptrdiff_t next = oh + 1 < w->out_h ? (oh + 1) * w->s_h : rows;
                if (next > rows) next = rows;
                if (next > zeroed) {
                    CYPOOL_FN(lp_rows)(gi, x, zeroed, next, w->in_w, C, c0, c1, 1, power, p);
                    zeroed = next;
                }
                CYPOOL_FN(lp_rows)(gi, x, done, next, w->in_w, C, c0, c1, 0, power, p);
                if (next > done) done = next;
            }
        }
    }
    if (zeroed < rows) CYPOOL_FN(lp_rows)(gi, x, zeroed, rows, w->in_w, C, c0, c1, 1, power, p);
    CYPOOL_FN(lp_rows)(gi, x, done, rows, w->in_w, C, c0, c1, 0, power, p);
}

/* Blur pooling, channels-first, one output the general way: through the column table. */
CYPOOL_INLINE double CYPOOL_FN(blur_one_cf)(const CYPOOL_T* xp, const int64_t* rows,
                                            const int64_t* c, const double* taps, ptrdiff_t f,
                                            ptrdiff_t W) {
    double acc = 0;
    for (ptrdiff_t i = 0; i < f; i++) {
        const CYPOOL_T* xr = xp + rows[i] * W;
        double v = 0;
        for (ptrdiff_t j = 0; j < f; j++) v += taps[j] * (double)xr[c[j]];
        acc += taps[i] * v;
    }
    return acc;
}

#if CYPOOL_REDUCE_VECTORS
/* Outputs [ow, ow + 8) of the run [a, b) (see below), in the lanes of vector registers; inlined
 * with a constant s. r0: column cols[a * f] of row 0 of the plane. */
CYPOOL_INLINE void CYPOOL_FN(blur_block8_cf)(const CYPOOL_T* r0, CYPOOL_T* y,
                                             const int64_t* rows, const double* taps,
                                             ptrdiff_t f, ptrdiff_t W, ptrdiff_t s) {
    const cypool_r4d zero = {0};
    cypool_r4d acc0 = zero, acc1 = zero;   /* outputs 0-3, 4-7 */
    for (ptrdiff_t i = 0; i < f; i++) {
        const CYPOOL_T* r = r0 + rows[i] * W;
        cypool_r4d v0 = zero, v1 = zero;
        for (ptrdiff_t j = 0; j < f; j++) {
            v0 += taps[j] * CYPOOL_FN(load4s)(r + j, s);
            v1 += taps[j] * CYPOOL_FN(load4s)(r + 4 * s + j, s);
        }
        acc0 += taps[i] * v0, acc1 += taps[i] * v1;
    }
    CYPOOL_FN(store4)(y, acc0), CYPOOL_FN(store4)(y + 4, acc1);
}
#endif

/* Blur pooling (_blur.pyx), channels-first: output row yr of plane xp. rows: this output row's f
 * input rows; cols (OW, f): the input column of each tap; windows [a, b) read f adjacent columns
 * starting at column cols[a * f] + (ow - a) * s (no reflection), the others go through cols.
 * y = sum over i of taps[i] * (sum over j of taps[j] * x[rows[i], cols[ow, j]]), each sum from 0
 * in tap order: blocks of 8 outputs of [a, b) in the lanes of vector registers (the last one
 * ending at b, recomputing outputs of the one before), the others one
 * by one. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_blur_row_cf)(const CYPOOL_T* xp, CYPOOL_T* yr, const int64_t* rows,
                                          const int64_t* cols, const double* taps, ptrdiff_t f,
                                          ptrdiff_t W, ptrdiff_t OW, ptrdiff_t a, ptrdiff_t b,
                                          ptrdiff_t s) {
    ptrdiff_t ow = 0;
    for (; ow < a; ow++)
        yr[ow] = (CYPOOL_T)CYPOOL_FN(blur_one_cf)(xp, rows, cols + ow * f, taps, f, W);
#if CYPOOL_REDUCE_VECTORS
    if (b > a) {
        const CYPOOL_T* r0 = xp + cols[a * f];
#define CYPOOL_BLUR_BLOCKS(S)                                                                  \
        for (; ow + 8 <= b; ow += 8)                                                           \
            CYPOOL_FN(blur_block8_cf)(r0 + (ow - a) * s, yr + ow, rows, taps, f, W, S);        \
        if (ow < b && b - a >= 8) {   /* the last outputs: a block ending at b, recomputing */ \
            CYPOOL_FN(blur_block8_cf)(r0 + (b - 8 - a) * s, yr + b - 8, rows, taps, f, W, S);  \
            ow = b;                                                                            \
        }
        if (s == 2) {
            CYPOOL_BLUR_BLOCKS(2);
        } else if (s == 1) {
            CYPOOL_BLUR_BLOCKS(1);
        } else {
            CYPOOL_BLUR_BLOCKS(s);
        }
#undef CYPOOL_BLUR_BLOCKS
    }
#endif
    for (; ow < OW; ow++)
        yr[ow] = (CYPOOL_T)CYPOOL_FN(blur_one_cf)(xp, rows, cols + ow * f, taps, f, W);
}

/* Blur pooling backward: gi += (T)(wt * g) over n cells, as the scatter rounds each term. A
 * float32 weight that is exact in float (every product of binomial taps) gives the same float
 * product: the double one is exact (24 + 24 bits), so both round the same real once. */
CYPOOL_INLINE void CYPOOL_FN(blur_pass)(CYPOOL_T* restrict P, const CYPOOL_T* restrict g,
                                        ptrdiff_t n, double wt) {
#if CYPOOL_IS_FLOAT
    const float wf = (float)wt;
    if ((double)wf == wt) {
        for (ptrdiff_t l = 0; l < n; l++) P[l] += wf * g[l];
        return;
    }
#endif
    for (ptrdiff_t l = 0; l < n; l++) P[l] += (CYPOOL_T)(wt * (double)g[l]);
}

/* Blur pooling backward (_blur.pyx): the transposed filtering as a gather, each input cell
 * summed once and written once. rin (H, 1 + 2 * kr) / cin (W, 1 + 2 * kc): per input row / column,
 * the count, then the pairs (o, i) (output o, tap i) that read it, in (o, i) order. A cell's
 * terms (T)((taps[i] * taps[j]) * go[oh, ow]) are added from 0 in (oh, ow, i, j) order, the order
 * of the scatter for (oh, ow, i, j): gi[rows[oh, i], cols[ow, j]] += ..., so results are those of
 * the scatter, bit for bit. */

/* One cell's terms from output row g (the row group e0..e1 of R: entries of one output row). */
CYPOOL_INLINE CYPOOL_T CYPOOL_FN(blur_gather_cell)(CYPOOL_T acc, const CYPOOL_T* g,
                                                   const int64_t* R, ptrdiff_t e0, ptrdiff_t e1,
                                                   const int64_t* Cw, const double* taps) {
    const ptrdiff_t nc = Cw[0];
    for (ptrdiff_t k0 = 0; k0 < nc;) {
        const int64_t ow = Cw[1 + 2 * k0];
        ptrdiff_t k1 = k0 + 1;
        while (k1 < nc && Cw[1 + 2 * k1] == ow) k1++;
        for (ptrdiff_t e = e0; e < e1; e++)
            for (ptrdiff_t k = k0; k < k1; k++)
                acc += (CYPOOL_T)((taps[R[2 + 2 * e]] * taps[Cw[2 + 2 * k]]) * (double)g[ow]);
        k0 = k1;
    }
    return acc;
}

/* One input row h (entries R) of one plane, the general way: summed in phase order into acc (s *
 * ceil(W / s) cells: column w = s * l + p at acc[p * ceil(W / s) + l]; out itself for s = 1) and
 * interleaved into out once. runs (s, 3 + 2 * kp): per phase p, [la, lb) (columns s * l + p,
 * la <= l < lb, read the same outputs l + d with the same taps j), their count n, then n pairs
 * (d, j) in (d, j) order: those columns are summed in vector loops over l, one term of every
 * cell per pass; the others cell by cell. */
CYPOOL_INLINE void CYPOOL_FN(blur_row_general_cf)(const CYPOOL_T* go, CYPOOL_T* out,
                                                  CYPOOL_T* acc, const int64_t* R,
                                                  const int64_t* cin, ptrdiff_t kc,
                                                  const int64_t* runs, ptrdiff_t kp,
                                                  const double* taps, ptrdiff_t W, ptrdiff_t OW,
                                                  ptrdiff_t s) {
    const ptrdiff_t Lp = (W + s - 1) / s;
    const ptrdiff_t nr = R[0];
    CYPOOL_T* A = s == 1 ? out : acc;
    memset(A, 0, (size_t)(s * Lp) * sizeof(CYPOOL_T));
    for (ptrdiff_t e0 = 0; e0 < nr;) {
        const int64_t o = R[1 + 2 * e0];
        ptrdiff_t e1 = e0 + 1;
        while (e1 < nr && R[1 + 2 * e1] == o) e1++;
        const CYPOOL_T* g = go + o * OW;
        for (ptrdiff_t p = 0; p < s; p++) {
            const int64_t* run = runs + p * (3 + 2 * kp);
            const ptrdiff_t la = run[0], lb = run[1], n = run[2];
            const ptrdiff_t np = (W - p + s - 1) / s;
            CYPOOL_T* P = A + p * Lp;
            for (ptrdiff_t k0 = 0; k0 < n && lb > la;) {
                const int64_t d = run[3 + 2 * k0];
                ptrdiff_t k1 = k0 + 1;
                while (k1 < n && run[3 + 2 * k1] == d) k1++;
                for (ptrdiff_t e = e0; e < e1; e++)
                    for (ptrdiff_t k = k0; k < k1; k++)
                        CYPOOL_FN(blur_pass)(P + la, g + la + d, lb - la,
                                             taps[R[2 + 2 * e]] * taps[run[4 + 2 * k]]);
                k0 = k1;
            }
            for (ptrdiff_t l = 0; l < np; l++) {
                if (l == la && lb > la) l = lb;
                if (l >= np) break;
                P[l] = CYPOOL_FN(blur_gather_cell)(P[l], g, R, e0, e1,
                                                   cin + (s * l + p) * (1 + 2 * kc), taps);
            }
        }
        e0 = e1;
    }
    if (s == 2) {
        const CYPOOL_T* A1 = A + Lp;
        for (ptrdiff_t l = 0; l < W / 2; l++) {
            out[2 * l] = A[l];
            out[2 * l + 1] = A1[l];
        }
        if (W & 1) out[W - 1] = A[W / 2];
    } else if (s > 2) {
        for (ptrdiff_t w = 0; w < W; w++) out[w] = A[(w % s) * Lp + w / s];
    }
}

#if CYPOOL_REDUCE_VECTORS
#if CYPOOL_IS_FLOAT
#define CYPOOL_BV cypool_r8f
#define CYPOOL_BM cypool_r8i
#define CYPOOL_BN 8
#else
#define CYPOOL_BV cypool_r4d
#define CYPOOL_BM cypool_r4l
#define CYPOOL_BN 4
#endif
/* Stride 2: one input row's sums as a program shared by every plane: the terms (offset in the
 * output gradient plane, weight) of the even and of the odd columns of [2 lo, 2 hi), the same
 * for every l but for the offset l, and the terms of each column outside, in the cells' order.
 * Weights must be exact in T (then T's product rounds as the scatter's double one). */
#ifndef CYPOOL_BLUR_TERMS
#define CYPOOL_BLUR_TERMS 16
#define CYPOOL_BLUR_EDGES 8
#endif
typedef struct {
    ptrdiff_t lo, hi, nt[2], ne;
    ptrdiff_t off[2][CYPOOL_BLUR_TERMS];
    CYPOOL_T wt[2][CYPOOL_BLUR_TERMS];
    ptrdiff_t ew[CYPOOL_BLUR_EDGES], en[CYPOOL_BLUR_EDGES];
    ptrdiff_t eoff[CYPOOL_BLUR_EDGES][CYPOOL_BLUR_TERMS];
    CYPOOL_T ewt[CYPOOL_BLUR_EDGES][CYPOOL_BLUR_TERMS];
} CYPOOL_FN(blur_row2_t);

/* The terms of column list Cw (one group d of a run, or a cell's own list: pairs (ow, j) with
 * ow = base + d) from R's entries, appended in (oh, ow, i, j) order; 0 if they do not fit or a
 * weight is not exact in T. */
CYPOOL_INLINE int CYPOOL_FN(blur_terms)(ptrdiff_t* off, CYPOOL_T* wt, ptrdiff_t* nt,
                                        const int64_t* R, const int64_t* pairs, ptrdiff_t n,
                                        ptrdiff_t base, const double* taps, ptrdiff_t OW) {
    const ptrdiff_t nr = R[0];
    for (ptrdiff_t e0 = 0; e0 < nr;) {
        const int64_t o = R[1 + 2 * e0];
        ptrdiff_t e1 = e0 + 1;
        while (e1 < nr && R[1 + 2 * e1] == o) e1++;
        for (ptrdiff_t k0 = 0; k0 < n;) {
            const int64_t d = pairs[2 * k0];
            ptrdiff_t k1 = k0 + 1;
            while (k1 < n && pairs[2 * k1] == d) k1++;
            for (ptrdiff_t e = e0; e < e1; e++)
                for (ptrdiff_t k = k0; k < k1; k++) {
                    const double w = taps[R[2 + 2 * e]] * taps[pairs[2 * k + 1]];
                    if ((double)(CYPOOL_T)w != w || *nt == CYPOOL_BLUR_TERMS) return 0;
                    off[*nt] = o * OW + base + d;
                    wt[(*nt)++] = (CYPOOL_T)w;
                }
            k0 = k1;
        }
        e0 = e1;
    }
    return 1;
}

CYPOOL_INLINE int CYPOOL_FN(blur_row2_build)(CYPOOL_FN(blur_row2_t)* pr, const int64_t* R,
                                             const int64_t* cin, ptrdiff_t kc,
                                             const int64_t* runs, ptrdiff_t kp,
                                             const double* taps, ptrdiff_t W, ptrdiff_t OW) {
    const int64_t* run0 = runs;
    const int64_t* run1 = runs + 3 + 2 * kp;
    pr->lo = run0[0] > run1[0] ? run0[0] : run1[0];
    pr->hi = run0[1] < run1[1] ? run0[1] : run1[1];
    if (pr->hi - pr->lo < CYPOOL_BN) return 0;
    for (ptrdiff_t p = 0; p < 2; p++) {
        const int64_t* run = p ? run1 : run0;
        pr->nt[p] = 0;
        if (!CYPOOL_FN(blur_terms)(pr->off[p], pr->wt[p], &pr->nt[p], R, run + 3, run[2], 0,
                                   taps, OW))
            return 0;
    }
    pr->ne = 0;
    for (ptrdiff_t w = 0; w < W; w++) {
        if (w == 2 * pr->lo) w = 2 * pr->hi;
        if (w >= W) break;
        if (pr->ne == CYPOOL_BLUR_EDGES) return 0;
        const int64_t* Cw = cin + w * (1 + 2 * kc);
        const ptrdiff_t e = pr->ne++;
        pr->ew[e] = w;
        pr->en[e] = 0;
        if (!CYPOOL_FN(blur_terms)(pr->eoff[e], pr->ewt[e], &pr->en[e], R, Cw + 1, Cw[0], 0,
                                   taps, OW))
            return 0;
    }
    return 1;
}

/* Applies a row program to one plane's output gradient g: out (the row) written once. Each
 * cell's sum starts at 0 and adds its terms in order, as the scatter. */
CYPOOL_INLINE void CYPOOL_FN(blur_row2_apply)(const CYPOOL_FN(blur_row2_t)* pr,
                                              const CYPOOL_T* g, CYPOOL_T* out) {
    for (ptrdiff_t e = 0; e < pr->ne; e++) {
        CYPOOL_T a = 0;
        for (ptrdiff_t t = 0; t < pr->en[e]; t++) a += pr->ewt[e][t] * g[pr->eoff[e][t]];
        out[pr->ew[e]] = a;
    }
    const ptrdiff_t lo = pr->lo, hi = pr->hi;
    /* blocks of CYPOOL_BN even and odd cells, the last one ending at hi (cells recomputed with
     * the same terms: the same values) */
    for (ptrdiff_t l = lo;; l += CYPOOL_BN) {
        if (l + CYPOOL_BN > hi) {
            if (l == hi) break;
            l = hi - CYPOOL_BN;
        }
        const CYPOOL_BV zero = {0};
        CYPOOL_BV v0 = zero, v1 = zero;
        for (ptrdiff_t t = 0; t < pr->nt[0]; t++) {
            CYPOOL_BV x;
            memcpy(&x, g + pr->off[0][t] + l, sizeof x);
            v0 += pr->wt[0][t] * x;
        }
        for (ptrdiff_t t = 0; t < pr->nt[1]; t++) {
            CYPOOL_BV x;
            memcpy(&x, g + pr->off[1][t] + l, sizeof x);
            v1 += pr->wt[1][t] * x;
        }
#if CYPOOL_IS_FLOAT
        const CYPOOL_BV a = CYPOOL_SHUFFLE8(v0, v1, CYPOOL_BM, 0, 8, 1, 9, 2, 10, 3, 11);
        const CYPOOL_BV b = CYPOOL_SHUFFLE8(v0, v1, CYPOOL_BM, 4, 12, 5, 13, 6, 14, 7, 15);
#else
        const CYPOOL_BV a = CYPOOL_SHUFFLE4(v0, v1, CYPOOL_BM, 0, 4, 1, 5);
        const CYPOOL_BV b = CYPOOL_SHUFFLE4(v0, v1, CYPOOL_BM, 2, 6, 3, 7);
#endif
        memcpy(out + 2 * l, &a, sizeof a);
        memcpy(out + 2 * l + CYPOOL_BN, &b, sizeof b);
        if (l + CYPOOL_BN == hi) break;
    }
}
#undef CYPOOL_BV
#undef CYPOOL_BM
#undef CYPOOL_BN
#endif

/* Channels-first, planes [0, nq) (each OH x OW of go, H x W of gi), row by row: each input row's
 * program is built once for the nq planes (stride 2, cypool_blur_row2_*), else the general
 * loop per plane (blur_row_general_cf; acc: its row buffer). */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_blur_backward_gather_cf)(const CYPOOL_T* go, CYPOOL_T* gi,
                                                      CYPOOL_T* acc, const int64_t* rin,
                                                      ptrdiff_t kr, const int64_t* cin,
                                                      ptrdiff_t kc, const int64_t* runs,
                                                      ptrdiff_t kp, const double* taps,
                                                      ptrdiff_t nq, ptrdiff_t H, ptrdiff_t W,
                                                      ptrdiff_t OH, ptrdiff_t OW, ptrdiff_t s) {
    for (ptrdiff_t h = 0; h < H; h++) {
        const int64_t* R = rin + h * (1 + 2 * kr);
#if CYPOOL_REDUCE_VECTORS
        CYPOOL_FN(blur_row2_t) pr;
        if (s == 2 && CYPOOL_FN(blur_row2_build)(&pr, R, cin, kc, runs, kp, taps, W, OW)) {
            for (ptrdiff_t q = 0; q < nq; q++)
                CYPOOL_FN(blur_row2_apply)(&pr, go + q * OH * OW, gi + q * H * W + h * W);
            continue;
        }
#endif
        for (ptrdiff_t q = 0; q < nq; q++)
            CYPOOL_FN(blur_row_general_cf)(go + q * OH * OW, gi + q * H * W + h * W, acc, R, cin,
                                           kc, runs, kp, taps, W, OW, s);
    }
}

/* Channels-last, channels [c0, c1) of C of samples [0, nn): cell by cell, a cell's terms listed
 * once for the nn samples, 32 channels at a time in registers, each cell written once. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_blur_backward_gather_cl)(const CYPOOL_T* go, CYPOOL_T* gi,
                                                      const int64_t* rin, ptrdiff_t kr,
                                                      const int64_t* cin, ptrdiff_t kc,
                                                      const double* taps, ptrdiff_t f,
                                                      ptrdiff_t nn, ptrdiff_t H, ptrdiff_t W,
                                                      ptrdiff_t OH, ptrdiff_t OW, ptrdiff_t C,
                                                      ptrdiff_t c0, ptrdiff_t c1) {
    enum { CB = 32 };
    int exact = 1;
#if CYPOOL_IS_FLOAT
    for (ptrdiff_t i = 0; i < f; i++)
        for (ptrdiff_t j = 0; j < f; j++)
            exact &= (double)(float)(taps[i] * taps[j]) == taps[i] * taps[j];
#endif
    for (ptrdiff_t h = 0; h < H; h++) {
        const int64_t* R = rin + h * (1 + 2 * kr);
        const ptrdiff_t nr = R[0];
        for (ptrdiff_t w = 0; w < W; w++) {
            const int64_t* Cw = cin + w * (1 + 2 * kc);
            const ptrdiff_t nc = Cw[0];
#if CYPOOL_REDUCE_VECTORS
            /* the cell's terms listed once for all its channel blocks */
            ptrdiff_t off[CYPOOL_BLUR_TERMS], nt = 0;
            CYPOOL_T wl[CYPOOL_BLUR_TERMS];
            if (CYPOOL_FN(blur_terms)(off, wl, &nt, R, Cw + 1, nc, 0, taps, OW)) {
              for (ptrdiff_t n = 0; n < nn; n++) {
                const CYPOOL_T* gn = go + n * OH * OW * C;
                CYPOOL_T* q = gi + n * H * W * C + (h * W + w) * C;
                ptrdiff_t c = c0;
#if CYPOOL_IS_FLOAT
                typedef cypool_r8f V;
#else
                typedef cypool_r4d V;
#endif
                enum { NL = (int)(sizeof(V) / sizeof(CYPOOL_T)) };
                for (; c + 4 * NL <= c1; c += 4 * NL) {   /* four vectors in registers */
                    const V zero = {0};
                    V a0 = zero, a1 = zero, a2 = zero, a3 = zero;
                    for (ptrdiff_t t = 0; t < nt; t++) {
                        const CYPOOL_T* g = gn + off[t] * C + c;
                        V x0, x1, x2, x3;
                        memcpy(&x0, g, sizeof x0);
                        memcpy(&x1, g + NL, sizeof x1);
                        memcpy(&x2, g + 2 * NL, sizeof x2);
                        memcpy(&x3, g + 3 * NL, sizeof x3);
                        a0 += wl[t] * x0;
                        a1 += wl[t] * x1;
                        a2 += wl[t] * x2;
                        a3 += wl[t] * x3;
                    }
                    memcpy(q + c, &a0, sizeof a0);
                    memcpy(q + c + NL, &a1, sizeof a1);
                    memcpy(q + c + 2 * NL, &a2, sizeof a2);
                    memcpy(q + c + 3 * NL, &a3, sizeof a3);
                }
                for (; c < c1; c++) {
                    CYPOOL_T a = 0;
                    for (ptrdiff_t t = 0; t < nt; t++) a += wl[t] * gn[off[t] * C + c];
                    q[c] = a;
                }
              }
              continue;
            }
#endif
            for (ptrdiff_t n = 0; n < nn; n++) {
            const CYPOOL_T* gn = go + n * OH * OW * C;
            CYPOOL_T* q = gi + n * H * W * C + (h * W + w) * C;
            for (ptrdiff_t c = c0; c < c1; c += CB) {
                const ptrdiff_t m = c1 - c < CB ? c1 - c : CB;
                CYPOOL_T a[CB];
                for (ptrdiff_t t = 0; t < CB; t++) a[t] = 0;
                for (ptrdiff_t e0 = 0; e0 < nr;) {
                    const int64_t o = R[1 + 2 * e0];
                    ptrdiff_t e1 = e0 + 1;
                    while (e1 < nr && R[1 + 2 * e1] == o) e1++;
                    for (ptrdiff_t k0 = 0; k0 < nc;) {
                        const int64_t ow = Cw[1 + 2 * k0];
                        ptrdiff_t k1 = k0 + 1;
                        while (k1 < nc && Cw[1 + 2 * k1] == ow) k1++;
                        const CYPOOL_T* g = gn + (o * OW + ow) * C + c;
                        for (ptrdiff_t e = e0; e < e1; e++)
                            for (ptrdiff_t k = k0; k < k1; k++) {
                                const double wt = taps[R[2 + 2 * e]] * taps[Cw[2 + 2 * k]];
                                if (m == CB && exact) {
                                    const CYPOOL_T wf = (CYPOOL_T)wt;
                                    for (ptrdiff_t t = 0; t < CB; t++) a[t] += wf * g[t];
                                } else if (m == CB) {
                                    for (ptrdiff_t t = 0; t < CB; t++)
                                        a[t] += (CYPOOL_T)(wt * (double)g[t]);
                                } else {
                                    for (ptrdiff_t t = 0; t < m; t++)
                                        a[t] += (CYPOOL_T)(wt * (double)g[t]);
                                }
                            }
                        k0 = k1;
                    }
                    e0 = e1;
                }
                memcpy(q + c, a, (size_t)m * sizeof(CYPOOL_T));
            }
            }
        }
    }
}

/* Blur pooling, channels-last: output row yr (OW outputs of C channels) of sample xn, rows and
 * cols as above: acc += (taps[i] * taps[j]) * x over i, then j, one double accumulator per
 * channel, channels in register blocks. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_blur_row_cl)(const CYPOOL_T* xn, CYPOOL_T* yr, const int64_t* rows,
                                          const int64_t* cols, const double* taps, ptrdiff_t f,
                                          ptrdiff_t W, ptrdiff_t OW, ptrdiff_t C) {
    for (ptrdiff_t ow = 0; ow < OW; ow++) {
        const int64_t* cw = cols + ow * f;
        CYPOOL_T* y = yr + ow * C;
        ptrdiff_t c0 = 0;
#if CYPOOL_REDUCE_VECTORS
        for (; c0 + CYPOOL_REDUCE_CB <= C; c0 += CYPOOL_REDUCE_CB) {
            const cypool_r4d zero = {0};   /* four vectors of 4 channels (registers) */
            cypool_r4d a0 = zero, a1 = zero, a2 = zero, a3 = zero;
            for (ptrdiff_t i = 0; i < f; i++)
                for (ptrdiff_t j = 0; j < f; j++) {
                    const double wt = taps[i] * taps[j];
                    const CYPOOL_T* p = xn + (rows[i] * W + cw[j]) * C + c0;
                    a0 += wt * CYPOOL_FN(load4s)(p, 1), a1 += wt * CYPOOL_FN(load4s)(p + 4, 1);
                    a2 += wt * CYPOOL_FN(load4s)(p + 8, 1), a3 += wt * CYPOOL_FN(load4s)(p + 12, 1);
                }
            CYPOOL_FN(store4)(y + c0, a0), CYPOOL_FN(store4)(y + c0 + 4, a1);
            CYPOOL_FN(store4)(y + c0 + 8, a2), CYPOOL_FN(store4)(y + c0 + 12, a3);
        }
        for (; c0 + 4 <= C; c0 += 4) {
            const cypool_r4d zero = {0};
            cypool_r4d a0 = zero;
            for (ptrdiff_t i = 0; i < f; i++)
                for (ptrdiff_t j = 0; j < f; j++) {
                    const double wt = taps[i] * taps[j];
                    a0 += wt * CYPOOL_FN(load4s)(xn + (rows[i] * W + cw[j]) * C + c0, 1);
                }
            CYPOOL_FN(store4)(y + c0, a0);
        }
#endif
        for (; c0 < C; c0++) {
            double v = 0;
            for (ptrdiff_t i = 0; i < f; i++)
                for (ptrdiff_t j = 0; j < f; j++)
                    v += (taps[i] * taps[j]) * (double)xn[(rows[i] * W + cw[j]) * C + c0];
            y[c0] = (CYPOOL_T)v;
        }
    }
}


/* Stochastic pooling (_stochastic.pyx), training, one window: the cell sampled with uniform u
 * (see _stochastic.pyx for the rules), as its number q in (h, w) window order. x: the window's
 * first cell; cells at x + hh * row + ww * cs. The general loop, for the special windows (NaN,
 * +inf sums, all weights zero) and the rounding fallback. */
CYPOOL_INLINE ptrdiff_t CYPOOL_FN(stochastic_one)(const CYPOOL_T* x, ptrdiff_t row, ptrdiff_t cs,
                                                  ptrdiff_t k_h, ptrdiff_t k_w, double u) {
    const ptrdiff_t cells = k_h * k_w;
    double total = 0, running = 0;
    int has_nan = 0;
    for (ptrdiff_t q = 0; q < cells; q++) {
        const double a = (double)x[(q / k_w) * row + (q % k_w) * cs];
        has_nan |= a != a;
        total += a > 0 ? a : 0.0;
    }
    if (has_nan) {
        for (ptrdiff_t q = 0; q < cells; q++) {
            const double a = (double)x[(q / k_w) * row + (q % k_w) * cs];
            if (a != a) return q;
        }
    }
    ptrdiff_t chosen = -1;
    if (total == INFINITY) {
        for (ptrdiff_t q = 0; q < cells && chosen < 0; q++)
            if ((double)x[(q / k_w) * row + (q % k_w) * cs] == INFINITY) chosen = q;
    } else if (total > 0) {
        const double threshold = u * total;
        for (ptrdiff_t q = 0; q < cells; q++) {
            const double a = (double)x[(q / k_w) * row + (q % k_w) * cs];
            const double r = a > 0 ? a : 0.0;
            running += r;
            if (r > 0) chosen = q;
            if (running > threshold) break;
        }
    } else {
        ptrdiff_t j = (ptrdiff_t)(u * (double)cells);
        return j >= cells ? cells - 1 : j;
    }
    if (chosen < 0)   /* a finite float64 sum that overflowed to +inf: the first positive cell */
        for (ptrdiff_t q = 0; q < cells && chosen < 0; q++)
            if ((double)x[(q / k_w) * row + (q % k_w) * cs] > 0) chosen = q;
    return chosen;
}

#if CYPOOL_REDUCE_VECTORS
/* Stochastic pooling, training: windows l < 4 of a block in the lanes of vector registers (see
 * cypool_stochastic_row for the arguments; xb: window 0's first cell, t: window 0's counter).
 * Lanes with a NaN, an infinite sum or no crossing are redone by stochastic_one. Four lanes of
 * 64 bits: GCC 12 fails on eight-lane compares in its AVX2 clone. Inlined with constant step. */
CYPOOL_INLINE void CYPOOL_FN(stochastic_block4)(const CYPOOL_T* xb, CYPOOL_T* y, int64_t* idx,
                                                ptrdiff_t step, ptrdiff_t cs, ptrdiff_t k_h,
                                                ptrdiff_t k_w, ptrdiff_t pos, ptrdiff_t pstep,
                                                ptrdiff_t in_w, const double* uni) {
    const cypool_r4l lane = {0, 1, 2, 3};
    const cypool_r4d zero = {0};
    const cypool_r4l izero = {0};
    cypool_r4d total = zero;
    cypool_r4l nan = izero;
    /* windows of up to 16 cells: the cells read once, kept (in registers, k_h and k_w constant);
     * 2 x 2 windows side by side (step 2, channels first): a row's eight cells, one load */
    const int keep = k_h * k_w <= 16;
    cypool_r4d av[16];
    if (keep && step == 2 && k_w == 2 && cs == 1) {
        for (ptrdiff_t hh = 0; hh < k_h; hh++) {
            const CYPOOL_T* p = xb + hh * in_w;
#if CYPOOL_IS_FLOAT
            cypool_r4f f0, f1;
            memcpy(&f0, p, sizeof f0);
            memcpy(&f1, p + 4, sizeof f1);
            const cypool_r4d d0 = __builtin_convertvector(f0, cypool_r4d);
            const cypool_r4d d1 = __builtin_convertvector(f1, cypool_r4d);
#else
            cypool_r4d d0, d1;
            memcpy(&d0, p, sizeof d0);
            memcpy(&d1, p + 4, sizeof d1);
#endif
            av[2 * hh] = CYPOOL_SHUFFLE4(d0, d1, cypool_r4l, 0, 2, 4, 6);
            av[2 * hh + 1] = CYPOOL_SHUFFLE4(d0, d1, cypool_r4l, 1, 3, 5, 7);
        }
    } else if (keep) {
        for (ptrdiff_t hh = 0; hh < k_h; hh++)
            for (ptrdiff_t ww = 0; ww < k_w; ww++)
                av[hh * k_w + ww] = CYPOOL_FN(load4s)(xb + (hh * in_w + ww) * cs, step);
    }
    for (ptrdiff_t hh = 0; hh < k_h; hh++)
        for (ptrdiff_t ww = 0; ww < k_w; ww++) {
            const cypool_r4d a = keep ? av[hh * k_w + ww]
                                      : CYPOOL_FN(load4s)(xb + (hh * in_w + ww) * cs, step);
            nan |= a != a;
            total += (cypool_r4d)((cypool_r4l)a & (a > zero));   /* a > 0 ? a : 0.0 */
        }
    cypool_r4d u;
    memcpy(&u, uni, sizeof u);
    const cypool_r4d thr = u * total;
    /* an all-zero window's cell: floor(u * cells), at most cells - 1 */
    const ptrdiff_t cells = k_h * k_w;
    cypool_r4l qz = __builtin_convertvector(u * (double)cells, cypool_r4l);
    qz = (qz & (qz < (izero + cells))) | ((izero + (cells - 1)) & ~(qz < (izero + cells)));
    cypool_r4d run = zero, pv = zero, zv = zero;
    cypool_r4l done = izero, pick = izero - 1, zat = izero;
    for (ptrdiff_t hh = 0; hh < k_h; hh++)
        for (ptrdiff_t ww = 0; ww < k_w; ww++) {
            const int64_t at = hh * in_w + ww;
            const cypool_r4d a = keep ? av[hh * k_w + ww] : CYPOOL_FN(load4s)(xb + at * cs, step);
            const cypool_r4d r = (cypool_r4d)((cypool_r4l)a & (a > zero));
            run += r;
            const cypool_r4l take = (r > zero) & ~done;
            pick = ((izero + at) & take) | (pick & ~take);
            pv = CYPOOL_FN(sel4d)(take, a, pv);
            done |= run > thr;
            const cypool_r4l hit = qz == (izero + (hh * k_w + ww));
            zat = ((izero + at) & hit) | (zat & ~hit);
            zv = CYPOOL_FN(sel4d)(hit, a, zv);
        }
    const cypool_r4l empty = ~(total > zero) & ~nan;   /* every weight zero */
    pick = (zat & empty) | (pick & ~empty);
    pv = CYPOOL_FN(sel4d)(empty, zv, pv);
    const cypool_r4l odd = nan | (total == (zero + INFINITY)) | (pick < izero);
#if CYPOOL_IS_FLOAT
    const cypool_r4f yv = __builtin_convertvector(pv, cypool_r4f);
#else
    const cypool_r4d yv = pv;
#endif
    memcpy(y, &yv, sizeof yv);
    if (idx) {
        const cypool_r4l o = (izero + pos) + lane * pstep + pick;
        memcpy(idx, &o, sizeof o);
    }
    if (!(odd[0] | odd[1] | odd[2] | odd[3])) return;
    for (int l = 0; l < 4; l++) {
        if (!odd[l]) continue;
        const CYPOOL_T* xl = xb + l * step;
        const ptrdiff_t q = CYPOOL_FN(stochastic_one)(
            xl, in_w * cs, cs, k_h, k_w, uni[l]);
        const ptrdiff_t a = (q / k_w) * in_w + q % k_w;
        y[l] = xl[a * cs];
        if (idx) idx[l] = pos + l * pstep + a;
    }
}
#endif

/* Stochastic pooling, training: n windows side by side. Window i: first cell x + i * step, cells
 * at + (hh * in_w + ww) * cs (k_h x k_w), uniform cypool_splitmix_uniform(key, t0 + i * tstep),
 * output y[i] and idx[i] = pos0 + i * pstep + hh * in_w + ww (idx NULL: no indices). Blocks of 4 windows are sampled in
 * vector registers (the sums and the crossing test cell by cell, no branch on the data; all-zero
 * windows pick floor(u * cells) there too); the windows of the last partial block, and those
 * with a NaN, an infinite sum or no crossing, take stochastic_one. Same sums, same order: same
 * cells. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_stochastic_row)(const CYPOOL_T* x, CYPOOL_T* y, int64_t* idx,
                                             ptrdiff_t n, ptrdiff_t step, ptrdiff_t cs,
                                             ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t pos0,
                                             ptrdiff_t pstep, ptrdiff_t in_w, uint64_t key,
                                             uint64_t t0, uint64_t tstep) {
    ptrdiff_t i = 0;
#if CYPOOL_REDUCE_VECTORS
    double uni[CYPOOL_REDUCE_ROW];   /* the uniforms of a chunk, computed side by side first */
    for (ptrdiff_t i0 = 0; i0 + 4 <= n; i0 += CYPOOL_REDUCE_ROW) {
        ptrdiff_t m = n - i0 < CYPOOL_REDUCE_ROW ? n - i0 : CYPOOL_REDUCE_ROW;
        m -= m % 4;
        for (ptrdiff_t k = 0; k < m; k++)
            uni[k] = cypool_splitmix_uniform(key, t0 + (uint64_t)(i0 + k) * tstep);
#define CYPOOL_ST_BLOCKS(STEP, KH, KW)                                                         \
        for (i = i0; i < i0 + m; i += 4)                                                       \
            CYPOOL_FN(stochastic_block4)(x + i * step, y + i, idx ? idx + i : idx, STEP, cs,   \
                                         KH, KW,                                               \
                                         pos0 + i * pstep, pstep, in_w, uni + (i - i0))
        if (k_h == 2 && k_w == 2) {
            if (step == 1) CYPOOL_ST_BLOCKS(1, 2, 2);
            else if (step == 2) CYPOOL_ST_BLOCKS(2, 2, 2);
            else CYPOOL_ST_BLOCKS(step, 2, 2);
        } else if (k_h == 3 && k_w == 3) {
            if (step == 1) CYPOOL_ST_BLOCKS(1, 3, 3);
            else if (step == 2) CYPOOL_ST_BLOCKS(2, 3, 3);
            else CYPOOL_ST_BLOCKS(step, 3, 3);
        } else {
            if (step == 1) CYPOOL_ST_BLOCKS(1, k_h, k_w);
            else if (step == 2) CYPOOL_ST_BLOCKS(2, k_h, k_w);
            else CYPOOL_ST_BLOCKS(step, k_h, k_w);
        }
#undef CYPOOL_ST_BLOCKS
    }
#endif
    for (; i < n; i++) {
        const CYPOOL_T* xi = x + i * step;
        const ptrdiff_t q = CYPOOL_FN(stochastic_one)(
            xi, in_w * cs, cs, k_h, k_w, cypool_splitmix_uniform(key, t0 + (uint64_t)i * tstep));
        const ptrdiff_t at = (q / k_w) * in_w + q % k_w;
        y[i] = xi[at * cs];
        if (idx) idx[i] = pos0 + i * pstep + at;
    }
}

#undef CYPOOL_T
#undef CYPOOL_SUF
#undef CYPOOL_IS_FLOAT

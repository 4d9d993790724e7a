/* Body of _reduce_fast.h, included once per (CYPOOL_T, CYPOOL_SUF, CYPOOL_IS_FLOAT), which it
 * undefines at its end. Entry points: CYPOOL_FN(cypool_strided_row_cf),
 * ..._adaptive_avg_bins_cf, ..._adaptive_max_bins_cf,
 * ..._global_max_cf, ..._adaptive_avg_band_cl, ..._adaptive_max_band_cl, ..._blur_row_cf,
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
#ifndef CYPOOL_TRANSPOSE8
#define CYPOOL_TRANSPOSE8 1
typedef float cypool_t8f __attribute__((vector_size(32), aligned(4)));
typedef int cypool_t8i __attribute__((vector_size(32)));

/* 8 rows of 8 floats (row p at src + p * ss) to 8 rows of 8 (row j, at dst + j * ds: column j
 * of the source rows): three rounds of two-vector shuffles. */
CYPOOL_INLINE void cypool_transpose8x8(const float* src, ptrdiff_t ss, float* dst, ptrdiff_t ds) {
    const cypool_t8i ulo = {0, 8, 1, 9, 4, 12, 5, 13}, uhi = {2, 10, 3, 11, 6, 14, 7, 15};
    const cypool_t8i lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const cypool_t8i lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    cypool_t8f v[8], t[8], u[8];
    for (int p = 0; p < 8; p++) memcpy(&v[p], src + p * ss, sizeof v[p]);
    for (int p = 0; p < 8; p += 2) {
        t[p] = __builtin_shuffle(v[p], v[p + 1], ulo);
        t[p + 1] = __builtin_shuffle(v[p], v[p + 1], uhi);
    }
    for (int p = 0; p < 8; p += 4) {
        u[p] = __builtin_shuffle(t[p], t[p + 2], lo2);
        u[p + 1] = __builtin_shuffle(t[p], t[p + 2], hi2);
        u[p + 2] = __builtin_shuffle(t[p + 1], t[p + 3], lo2);
        u[p + 3] = __builtin_shuffle(t[p + 1], t[p + 3], hi2);
    }
    for (int j = 0; j < 4; j++) {
        const cypool_t8f a = __builtin_shuffle(u[j], u[j + 4], lo4);
        const cypool_t8f b = __builtin_shuffle(u[j], u[j + 4], hi4);
        memcpy(dst + j * ds, &a, sizeof a);
        memcpy(dst + (j + 4) * ds, &b, sizeof b);
    }
}
#endif

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

/* Channels-last adaptive average of one output row of sample xs: the band of input rows
 * (slices d0.., rows h0..) streams through in memory order; out_w x (a block of channels)
 * double accumulators, acc, hold the row's windows. Bins along w as in the _cf kernels. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_adaptive_avg_band_cl)(const CYPOOL_T* xs, CYPOOL_T* y, ptrdiff_t C,
                                                   ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t d0,
                                                   ptrdiff_t nd, ptrdiff_t h0, ptrdiff_t nh,
                                                   const ptrdiff_t* wf, const ptrdiff_t* wc,
                                                   ptrdiff_t out_w) {
    double acc[CYPOOL_BAND_ACC];
    ptrdiff_t nc = CYPOOL_BAND_ACC / out_w / 16 * 16;
    if (nc < 16) nc = 16;
    if (nc > C) nc = C;
    const ptrdiff_t no_max = CYPOOL_BAND_ACC / nc;
    for (ptrdiff_t c0 = 0; c0 < C; c0 += nc) {
        const ptrdiff_t cn = C - c0 < nc ? C - c0 : nc;
        for (ptrdiff_t o0 = 0; o0 < out_w; o0 += no_max) {
            const ptrdiff_t no = out_w - o0 < no_max ? out_w - o0 : no_max;
            for (ptrdiff_t k = 0; k < no * cn; k++) acc[k] = 0;
            for (ptrdiff_t d = d0; d < d0 + nd; d++)
                for (ptrdiff_t h = h0; h < h0 + nh; h++) {
                    const CYPOOL_T* row = xs + (d * in_h + h) * in_w * C + c0;
                    for (ptrdiff_t i = 0; i < no; i++) {
                        double* restrict a = acc + i * cn;
                        const ptrdiff_t f = wf[o0 + i], e = f + wc[o0 + i];
                        ptrdiff_t w = f;
                        for (; w + 4 <= e; w += 4) {   /* four cells a pass over a */
                            const CYPOOL_T* restrict p0 = row + w * C;
                            const CYPOOL_T* restrict p1 = p0 + C;
                            const CYPOOL_T* restrict p2 = p1 + C;
                            const CYPOOL_T* restrict p3 = p2 + C;
                            for (ptrdiff_t c = 0; c < cn; c++)
                                a[c] = (((a[c] + (double)p0[c]) + (double)p1[c]) + (double)p2[c])
                                       + (double)p3[c];
                        }
                        for (; w < e; w++) {
                            const CYPOOL_T* restrict px = row + w * C;
                            for (ptrdiff_t c = 0; c < cn; c++) a[c] += (double)px[c];
                        }
                    }
                }
            for (ptrdiff_t i = 0; i < no; i++)
                CYPOOL_FN(divide_row)(acc + i * cn, y + (o0 + i) * C + c0, cn,
                                      (double)(nd * nh * wc[o0 + i]));
        }
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

/* Blur pooling (_blur.pyx), channels-first: output row yr of plane xp. rows: this output row's f
 * input rows; cols (OW, f): the input column of each tap; windows [a, b) read f adjacent columns
 * starting at column cols[a * f] + (ow - a) * s (no reflection), the others go through cols.
 * y = sum over i of taps[i] * (sum over j of taps[j] * x[rows[i], cols[ow, j]]), each sum from 0
 * in tap order: the windows of the row are computed side by side, one input row at a time. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_blur_row_cf)(const CYPOOL_T* xp, CYPOOL_T* yr, const int64_t* rows,
                                          const int64_t* cols, const double* taps, ptrdiff_t f,
                                          ptrdiff_t W, ptrdiff_t OW, ptrdiff_t a, ptrdiff_t b,
                                          ptrdiff_t s) {
    double acc[CYPOOL_REDUCE_ROW], part[CYPOOL_REDUCE_ROW];
    for (ptrdiff_t o0 = 0; o0 < OW; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = OW - o0 < CYPOOL_REDUCE_ROW ? OW - o0 : CYPOOL_REDUCE_ROW;
        /* the chunk's windows read straight from the row: [ia, ib) */
        ptrdiff_t ia = a - o0, ib = b - o0;
        ia = ia < 0 ? 0 : (ia > n ? n : ia);
        ib = ib < ia ? ia : (ib > n ? n : ib);
        for (ptrdiff_t k = 0; k < n; k++) acc[k] = 0;
        for (ptrdiff_t i = 0; i < f; i++) {
            const CYPOOL_T* restrict xr = xp + rows[i] * W;
            double* restrict pt = part;
            for (ptrdiff_t k = 0; k < n; k++) pt[k] = 0;
            if (ib > ia) {
                const CYPOOL_T* restrict r = xr + cols[(o0 + ia) * f];
                const ptrdiff_t m = ib - ia;
                double* restrict q = pt + ia;
                for (ptrdiff_t j = 0; j < f; j++) {
                    const double t = taps[j];
                    if (s == 2)
                        for (ptrdiff_t k = 0; k < m; k++) q[k] += t * (double)r[2 * k + j];
                    else
                        for (ptrdiff_t k = 0; k < m; k++) q[k] += t * (double)r[s * k + j];
                }
            }
            for (ptrdiff_t k = 0; k < n; k++) {
                if (k == ia) k = ib;
                if (k >= n) break;
                const int64_t* c = cols + (o0 + k) * f;
                double v = 0;
                for (ptrdiff_t j = 0; j < f; j++) v += taps[j] * (double)xr[c[j]];
                pt[k] = v;
            }
            const double t = taps[i];
            for (ptrdiff_t k = 0; k < n; k++) acc[k] += t * pt[k];
        }
        for (ptrdiff_t k = 0; k < n; k++) yr[o0 + k] = (CYPOOL_T)acc[k];
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
            const cypool_r4d zero = {0, 0, 0, 0};
            cypool_r4d a0 = zero, a1 = zero, a2 = zero, a3 = zero;
            for (ptrdiff_t i = 0; i < f; i++)
                for (ptrdiff_t j = 0; j < f; j++) {
                    const double wt = taps[i] * taps[j];
                    const CYPOOL_T* p = xn + (rows[i] * W + cw[j]) * C + c0;
                    a0 += wt * CYPOOL_FN(reduce_load4)(p);
                    a1 += wt * CYPOOL_FN(reduce_load4)(p + 4);
                    a2 += wt * CYPOOL_FN(reduce_load4)(p + 8);
                    a3 += wt * CYPOOL_FN(reduce_load4)(p + 12);
                }
            double s[CYPOOL_REDUCE_CB];
            memcpy(s, &a0, sizeof a0);
            memcpy(s + 4, &a1, sizeof a1);
            memcpy(s + 8, &a2, sizeof a2);
            memcpy(s + 12, &a3, sizeof a3);
            for (int k = 0; k < CYPOOL_REDUCE_CB; k++) y[c0 + k] = (CYPOOL_T)s[k];
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

/* Stochastic pooling, training: n windows side by side. Window i: first cell x + i * step, cells
 * at + (hh * in_w + ww) * cs (k_h x k_w), uniform cypool_splitmix_uniform(key, t0 + i * tstep),
 * output y[i] and idx[i] = pos0 + i * pstep + hh * in_w + ww. The sums and the crossing test run
 * cell by cell over all windows at once (vector loops, no branch on the data); windows with a
 * NaN, an infinite or a zero sum take stochastic_one. Same sums, same order: same cells. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_stochastic_row)(const CYPOOL_T* x, CYPOOL_T* y, int64_t* idx,
                                             ptrdiff_t n, ptrdiff_t step, ptrdiff_t cs,
                                             ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t pos0,
                                             ptrdiff_t pstep, ptrdiff_t in_w, uint64_t key,
                                             uint64_t t0, uint64_t tstep) {
    double total[CYPOOL_REDUCE_ROW], thr[CYPOOL_REDUCE_ROW], run[CYPOOL_REDUCE_ROW];
    int64_t nan[CYPOOL_REDUCE_ROW], done[CYPOOL_REDUCE_ROW], pick[CYPOOL_REDUCE_ROW];
    for (ptrdiff_t i0 = 0; i0 < n; i0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t m = n - i0 < CYPOOL_REDUCE_ROW ? n - i0 : CYPOOL_REDUCE_ROW;
        const CYPOOL_T* xb = x + i0 * step;
        for (ptrdiff_t i = 0; i < m; i++) {
            total[i] = 0;
            run[i] = 0;
            nan[i] = 0;
            done[i] = 0;
            pick[i] = -1;
        }
        for (ptrdiff_t hh = 0; hh < k_h; hh++)
            for (ptrdiff_t ww = 0; ww < k_w; ww++) {
                const CYPOOL_T* restrict c = xb + (hh * in_w + ww) * cs;
                for (ptrdiff_t i = 0; i < m; i++) {
                    const double a = (double)c[i * step];
                    nan[i] |= a != a;
                    total[i] += a > 0 ? a : 0.0;
                }
            }
        for (ptrdiff_t i = 0; i < m; i++)
            thr[i] = cypool_splitmix_uniform(key, t0 + (uint64_t)(i0 + i) * tstep) * total[i];
        for (ptrdiff_t hh = 0; hh < k_h; hh++)
            for (ptrdiff_t ww = 0; ww < k_w; ww++) {
                const int64_t at = hh * in_w + ww;   /* the cell's plane-flat offset */
                const CYPOOL_T* restrict c = xb + at * cs;
                for (ptrdiff_t i = 0; i < m; i++) {
                    const double a = (double)c[i * step];
                    const double r = a > 0 ? a : 0.0;
                    run[i] += r;
                    pick[i] = (r > 0) & !done[i] ? at : pick[i];
                    done[i] |= run[i] > thr[i];
                }
            }
        for (ptrdiff_t i = 0; i < m; i++) {
            ptrdiff_t at = pick[i];
            if (nan[i] || !(total[i] > 0) || total[i] == INFINITY || at < 0) {
                const ptrdiff_t q = CYPOOL_FN(stochastic_one)(
                    xb + i * step, in_w * cs, cs, k_h, k_w,
                    cypool_splitmix_uniform(key, t0 + (uint64_t)(i0 + i) * tstep));
                at = (q / k_w) * in_w + q % k_w;
            }
            y[i0 + i] = xb[i * step + at * cs];
            idx[i0 + i] = pos0 + (i0 + i) * pstep + at;
        }
    }
}

#undef CYPOOL_T
#undef CYPOOL_SUF
#undef CYPOOL_IS_FLOAT

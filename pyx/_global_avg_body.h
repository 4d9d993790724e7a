/* Body of the global average pooling in _avg_fast.h, included once per (CYPOOL_T, CYPOOL_SUF,
 * CYPOOL_IS_FLOAT). Entry points: CYPOOL_FN(cypool_global_avg_fwd_cf), ..._fwd_cl, ..._bwd_cf,
 * ..._bwd_cl. Every sum has a fixed lane order, so the result is the same for any thread count
 * and any instruction set. */

/* The two sums of this file, written once for both accumulators (float, double); each of their
 * users folds or scales the result its own way.
 * CYPOOL_LANE_SUMS: eight lane sums a[8] in ACC over the whole chunks of 8 of r[0, L); i, where
 * the tail starts. CYPOOL_COLUMN_SUMS: a[k] = the sum over L rows (C apart) of column k of x,
 * k < nb, row after row. */
#ifndef CYPOOL_LANE_SUMS
#define CYPOOL_LANE_SUMS(ACC, a, i, r, L)                                                         \
    ACC a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                         \
    ptrdiff_t i = 0;                                                                             \
    for (; i + 8 <= (L); i += 8)                                                                 \
        for (int k_ = 0; k_ < 8; k_++) a[k_] += (ACC)(r)[i + k_]
#define CYPOOL_COLUMN_SUMS(ACC, a, x, nb, L, C)                                                  \
    ACC a[CYPOOL_GLOBAL_CL_BLOCK];                                                               \
    do {                                                                                         \
        const CYPOOL_T* restrict r0_ = (x);                                                      \
        for (ptrdiff_t k_ = 0; k_ < (nb); k_++) a[k_] = (ACC)r0_[k_];                            \
        for (ptrdiff_t i_ = 1; i_ < (L); i_++) {                                                 \
            const CYPOOL_T* restrict r_ = r0_ + i_ * (C);                                        \
            for (ptrdiff_t k_ = 0; k_ < (nb); k_++) a[k_] += (ACC)r_[k_];                        \
        }                                                                                        \
    } while (0)
#endif

/* Sum of one short float plane in float: eight lanes over whole chunks of 8, a fixed pairwise
 * tree over the lanes, then the tail in order. global_sum8 below computes exactly this for eight
 * planes at once, so which planes go through which function never changes a result. */
static inline float CYPOOL_FN(global_short_sum)(const CYPOOL_T* r, ptrdiff_t L) {
    CYPOOL_LANE_SUMS(float, a, i, r, L);
    float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; i < L; i++) s += (float)r[i];
    return s;
}

#if CYPOOL_IS_FLOAT && defined(__GNUC__) && !defined(__clang__)
typedef float cypool_v8f __attribute__((vector_size(32), aligned(4)));
/* Eight consecutive short planes: one 8-lane accumulator per plane, then a transpose-reduce
 * (three levels of lane shuffles and adds) that leaves the eight plane sums in one vector, so
 * the horizontal sums cost about one vector add per plane instead of a scalar chain each. */
static inline void CYPOOL_FN(global_sum8)(const CYPOOL_T* x, float* out, ptrdiff_t L) {
    const cypool_v8f zero = {0, 0, 0, 0, 0, 0, 0, 0};
    cypool_v8f a[8];
    const ptrdiff_t full = L / 8 * 8;
    for (int p = 0; p < 8; p++) {
        const CYPOOL_T* r = x + p * L;
        cypool_v8f acc = zero;
        for (ptrdiff_t i = 0; i < full; i += 8) {
            cypool_v8f v;
            memcpy(&v, r + i, sizeof v);
            acc += v;
        }
        a[p] = acc;
    }
    typedef int cypool_m8i __attribute__((vector_size(32)));
    const cypool_m8i ev = {0, 8, 2, 10, 4, 12, 6, 14}, od = {1, 9, 3, 11, 5, 13, 7, 15};
    const cypool_m8i lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const cypool_m8i lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    cypool_v8f t0 = __builtin_shuffle(a[0], a[1], ev) + __builtin_shuffle(a[0], a[1], od);
    cypool_v8f t1 = __builtin_shuffle(a[2], a[3], ev) + __builtin_shuffle(a[2], a[3], od);
    cypool_v8f t2 = __builtin_shuffle(a[4], a[5], ev) + __builtin_shuffle(a[4], a[5], od);
    cypool_v8f t3 = __builtin_shuffle(a[6], a[7], ev) + __builtin_shuffle(a[6], a[7], od);
    cypool_v8f u0 = __builtin_shuffle(t0, t1, lo2) + __builtin_shuffle(t0, t1, hi2);
    cypool_v8f u1 = __builtin_shuffle(t2, t3, lo2) + __builtin_shuffle(t2, t3, hi2);
    cypool_v8f s = __builtin_shuffle(u0, u1, lo4) + __builtin_shuffle(u0, u1, hi4);
    memcpy(out, &s, sizeof s);
    for (int p = 0; p < 8; p++)
        for (ptrdiff_t i = full; i < L; i++) out[p] += (float)x[p * L + i];
}
#define CYPOOL_HAVE_SUM8 1
#else
#define CYPOOL_HAVE_SUM8 0
#endif

/* Channels-first: planes [p0, p1) of L contiguous values. Short float planes (<= 64 cells, the
 * 7x7 of a CNN head) sum in float as PyTorch does; longer planes and double data sum in double,
 * over eight lanes in a fixed order (two 4-wide vector adds with AVX2). */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_fwd_cf)(const CYPOOL_T* x, CYPOOL_T* y, ptrdiff_t p0,
                                                ptrdiff_t p1, ptrdiff_t L) {
    const double inv = 1.0 / (double)L;
    if (CYPOOL_IS_FLOAT && L <= 64) {
        const float finv = (float)inv;
        ptrdiff_t p = p0;
#if CYPOOL_HAVE_SUM8
        float s8[8];
        for (; p + 8 <= p1; p += 8) {
            CYPOOL_FN(global_sum8)(x + p * L, s8, L);
            for (int k = 0; k < 8; k++) y[p + k] = (CYPOOL_T)(s8[k] * finv);
        }
#endif
        for (; p < p1; p++) y[p] = (CYPOOL_T)(CYPOOL_FN(global_short_sum)(x + p * L, L) * finv);
        return;
    }
    for (ptrdiff_t p = p0; p < p1; p++) {
        const CYPOOL_T* restrict r = x + p * L;
        CYPOOL_LANE_SUMS(double, a, i, r, L);
        double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
        for (; i < L; i++) s += (double)r[i];
        y[p] = (CYPOOL_T)(s * inv);
    }
}

/* Channels-last: sample n, channels [c0, c1). Rows of up to CYPOOL_GLOBAL_CL_BLOCK channels are
 * added, row after row, into an accumulator row that stays in L1: the input streams through
 * memory in order (prefetch-friendly), and the adds run over contiguous channels (vectorised).
 * Short float planes sum in float as in the channels-first case; otherwise in double. */
#ifndef CYPOOL_GLOBAL_CL_BLOCK
#define CYPOOL_GLOBAL_CL_BLOCK 1024
#endif
CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_fwd_cl)(const CYPOOL_T* x, CYPOOL_T* y, ptrdiff_t n,
                                                ptrdiff_t L, ptrdiff_t C, ptrdiff_t c0,
                                                ptrdiff_t c1) {
    const CYPOOL_T* xs = x + n * L * C;
    CYPOOL_T* ys = y + n * C;
    const double inv = 1.0 / (double)L;
    for (ptrdiff_t b0 = c0; b0 < c1; b0 += CYPOOL_GLOBAL_CL_BLOCK) {
        const ptrdiff_t nb = c1 - b0 < CYPOOL_GLOBAL_CL_BLOCK ? c1 - b0 : CYPOOL_GLOBAL_CL_BLOCK;
        if (CYPOOL_IS_FLOAT && L <= 64) {
            CYPOOL_COLUMN_SUMS(float, a, xs + b0, nb, L, C);
            const float finv = (float)inv;
            for (ptrdiff_t k = 0; k < nb; k++) ys[b0 + k] = (CYPOOL_T)(a[k] * finv);
        } else {
            CYPOOL_COLUMN_SUMS(double, a, xs + b0, nb, L, C);
            for (ptrdiff_t k = 0; k < nb; k++) ys[b0 + k] = (CYPOOL_T)(a[k] * inv);
        }
    }
}

/* Backward: every input cell gets its plane's gradient / L; a broadcast write, no zeroing. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_bwd_cf)(const CYPOOL_T* go, CYPOOL_T* gi, ptrdiff_t p0,
                                                ptrdiff_t p1, ptrdiff_t L) {
    for (ptrdiff_t p = p0; p < p1; p++) {
        const CYPOOL_T v = go[p] / (CYPOOL_T)L;
        CYPOOL_T* restrict r = gi + p * L;
        for (ptrdiff_t i = 0; i < L; i++) r[i] = v;
    }
}

CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_bwd_cl)(const CYPOOL_T* go, CYPOOL_T* gi, ptrdiff_t n,
                                                ptrdiff_t L, ptrdiff_t C, ptrdiff_t c0,
                                                ptrdiff_t c1) {
    const CYPOOL_T* restrict gs = go + n * C;
    CYPOOL_T* first = gi + n * L * C;
    const CYPOOL_T div = (CYPOOL_T)L;
    for (ptrdiff_t c = c0; c < c1; c++) first[c] = gs[c] / div;
    for (ptrdiff_t i = 1; i < L; i++)
        memcpy(first + i * C + c0, first + c0, (size_t)(c1 - c0) * sizeof(CYPOOL_T));
}

#undef CYPOOL_HAVE_SUM8

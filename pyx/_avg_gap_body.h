/* Global average pooling, included once per (AVGF_T, AVGF_SUF, AVGF_IS_FLOAT). Every sum has a
 * fixed lane order, so the result is the same for any thread count and any instruction set. */
#define AVGF_CAT2(a, b) a##b
#define AVGF_CAT(a, b) AVGF_CAT2(a, b)
#define AVGF_FN(name) AVGF_CAT(name, AVGF_SUF)

/* Sum of one short float plane in float: eight lanes over whole chunks of 8, a fixed pairwise
 * tree over the lanes, then the tail in order. avgf_gap8 below computes exactly this for eight
 * planes at once, so which planes go through which function never changes a result. */
static inline float AVGF_FN(avgf_short_sum)(const AVGF_T* r, ptrdiff_t L) {
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= L; i += 8)
        for (int k = 0; k < 8; k++) a[k] += (float)r[i + k];
    float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; i < L; i++) s += (float)r[i];
    return s;
}

#if AVGF_IS_FLOAT && defined(__GNUC__) && !defined(__clang__)
typedef float avgf_v8 __attribute__((vector_size(32), aligned(4)));
/* Eight consecutive short planes: one 8-lane accumulator per plane, then a transpose-reduce
 * (three levels of lane shuffles and adds) that leaves the eight plane sums in one vector, so
 * the horizontal sums cost about one vector add per plane instead of a scalar chain each. */
static inline void AVGF_FN(avgf_gap8)(const AVGF_T* x, float* out, ptrdiff_t L) {
    const avgf_v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
    avgf_v8 a[8];
    const ptrdiff_t full = L / 8 * 8;
    for (int p = 0; p < 8; p++) {
        const AVGF_T* r = x + p * L;
        avgf_v8 acc = zero;
        for (ptrdiff_t i = 0; i < full; i += 8) {
            avgf_v8 v;
            memcpy(&v, r + i, sizeof v);
            acc += v;
        }
        a[p] = acc;
    }
    typedef int avgf_m8 __attribute__((vector_size(32)));
    const avgf_m8 ev = {0, 8, 2, 10, 4, 12, 6, 14}, od = {1, 9, 3, 11, 5, 13, 7, 15};
    const avgf_m8 lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const avgf_m8 lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    avgf_v8 t0 = __builtin_shuffle(a[0], a[1], ev) + __builtin_shuffle(a[0], a[1], od);
    avgf_v8 t1 = __builtin_shuffle(a[2], a[3], ev) + __builtin_shuffle(a[2], a[3], od);
    avgf_v8 t2 = __builtin_shuffle(a[4], a[5], ev) + __builtin_shuffle(a[4], a[5], od);
    avgf_v8 t3 = __builtin_shuffle(a[6], a[7], ev) + __builtin_shuffle(a[6], a[7], od);
    avgf_v8 u0 = __builtin_shuffle(t0, t1, lo2) + __builtin_shuffle(t0, t1, hi2);
    avgf_v8 u1 = __builtin_shuffle(t2, t3, lo2) + __builtin_shuffle(t2, t3, hi2);
    avgf_v8 s = __builtin_shuffle(u0, u1, lo4) + __builtin_shuffle(u0, u1, hi4);
    memcpy(out, &s, sizeof s);
    for (int p = 0; p < 8; p++)
        for (ptrdiff_t i = full; i < L; i++) out[p] += (float)x[p * L + i];
}
#define AVGF_HAVE_GAP8 1
#else
#define AVGF_HAVE_GAP8 0
#endif

/* Channels-first: planes [p0, p1) of L contiguous values. Short float planes (<= 64 cells, the
 * 7x7 of a CNN head) sum in float as PyTorch does; longer planes and double data sum in double,
 * over eight lanes in a fixed order (two 4-wide vector adds with AVX2). */
CYPOOL_CLONES
static void AVGF_FN(avgf_gap_cf)(const AVGF_T* x, AVGF_T* y, ptrdiff_t p0, ptrdiff_t p1,
                                 ptrdiff_t L) {
    const double inv = 1.0 / (double)L;
    if (AVGF_IS_FLOAT && L <= 64) {
        const float finv = (float)inv;
        ptrdiff_t p = p0;
#if AVGF_HAVE_GAP8
        float s8[8];
        for (; p + 8 <= p1; p += 8) {
            AVGF_FN(avgf_gap8)(x + p * L, s8, L);
            for (int k = 0; k < 8; k++) y[p + k] = (AVGF_T)(s8[k] * finv);
        }
#endif
        for (; p < p1; p++) y[p] = (AVGF_T)(AVGF_FN(avgf_short_sum)(x + p * L, L) * finv);
        return;
    }
    for (ptrdiff_t p = p0; p < p1; p++) {
        const AVGF_T* restrict r = x + p * L;
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ptrdiff_t i = 0;
        for (; i + 8 <= L; i += 8)
            for (int k = 0; k < 8; k++) a[k] += (double)r[i + k];
        double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
        for (; i < L; i++) s += (double)r[i];
        y[p] = (AVGF_T)(s * inv);
    }
}

/* Channels-last: sample n, channels [c0, c1). Rows of up to AVGF_GAP_CL_BLOCK channels are added,
 * row after row, into an accumulator row that stays in L1: the input streams through memory in
 * order (prefetch-friendly), and the adds run over contiguous channels (vectorised). Short float
 * planes sum in float as in the channels-first case; otherwise in double. */
#ifndef AVGF_GAP_CL_BLOCK
#define AVGF_GAP_CL_BLOCK 1024
#endif
CYPOOL_CLONES
static void AVGF_FN(avgf_gap_cl)(const AVGF_T* x, AVGF_T* y, ptrdiff_t n, ptrdiff_t L,
                                 ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1) {
    const AVGF_T* xs = x + n * L * C;
    AVGF_T* ys = y + n * C;
    const double inv = 1.0 / (double)L;
    for (ptrdiff_t b0 = c0; b0 < c1; b0 += AVGF_GAP_CL_BLOCK) {
        const ptrdiff_t nb = c1 - b0 < AVGF_GAP_CL_BLOCK ? c1 - b0 : AVGF_GAP_CL_BLOCK;
        if (AVGF_IS_FLOAT && L <= 64) {
            float a[AVGF_GAP_CL_BLOCK];
            const AVGF_T* restrict r0 = xs + b0;
            for (ptrdiff_t k = 0; k < nb; k++) a[k] = (float)r0[k];
            for (ptrdiff_t i = 1; i < L; i++) {
                const AVGF_T* restrict r = xs + i * C + b0;
                for (ptrdiff_t k = 0; k < nb; k++) a[k] += (float)r[k];
            }
            const float finv = (float)inv;
            for (ptrdiff_t k = 0; k < nb; k++) ys[b0 + k] = (AVGF_T)(a[k] * finv);
        } else {
            double a[AVGF_GAP_CL_BLOCK];
            const AVGF_T* restrict r0 = xs + b0;
            for (ptrdiff_t k = 0; k < nb; k++) a[k] = (double)r0[k];
            for (ptrdiff_t i = 1; i < L; i++) {
                const AVGF_T* restrict r = xs + i * C + b0;
                for (ptrdiff_t k = 0; k < nb; k++) a[k] += (double)r[k];
            }
            for (ptrdiff_t k = 0; k < nb; k++) ys[b0 + k] = (AVGF_T)(a[k] * inv);
        }
    }
}

/* Backward: every input cell gets its plane's gradient / L; a broadcast write, no zeroing. */
CYPOOL_CLONES
static void AVGF_FN(avgf_gap_bwd_cf)(const AVGF_T* go, AVGF_T* gi, ptrdiff_t p0, ptrdiff_t p1,
                                     ptrdiff_t L) {
    for (ptrdiff_t p = p0; p < p1; p++) {
        const AVGF_T v = go[p] / (AVGF_T)L;
        AVGF_T* restrict r = gi + p * L;
        for (ptrdiff_t i = 0; i < L; i++) r[i] = v;
    }
}

CYPOOL_CLONES
static void AVGF_FN(avgf_gap_bwd_cl)(const AVGF_T* go, AVGF_T* gi, ptrdiff_t n, ptrdiff_t L,
                                     ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1) {
    const AVGF_T* restrict gs = go + n * C;
    AVGF_T* first = gi + n * L * C;
    const AVGF_T div = (AVGF_T)L;
    for (ptrdiff_t c = c0; c < c1; c++) first[c] = gs[c] / div;
    for (ptrdiff_t i = 1; i < L; i++)
        memcpy(first + i * C + c0, first + c0, (size_t)(c1 - c0) * sizeof(AVGF_T));
}

#undef AVGF_HAVE_GAP8
#undef AVGF_FN
#undef AVGF_CAT
#undef AVGF_CAT2

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

/* Planes of more than 64 float cells. Channels-first: 16 float lanes, in blocks of 8 vectors of
 * 16 values (8 adds a lane, from zero), each block's lanes then added into 16 double lanes, and
 * at the end a fixed pairwise tree over the lanes. Channels-last: float column sums of
 * CYPOOL_GLOBAL_CL_ROWS rows at a time, each added into a double column sum. A float sum thus has
 * at most 8 terms: the error stays near double accumulation's (the correctly rounded mean of the
 * long planes tested), while only one value in 8 is converted to double (converting each one
 * made the old double-lane loop 2x slower than torch on 14x14 to 56x56 planes in cache); blocks
 * start new chains of adds, and the fixed lanes keep the result independent of threads and
 * instruction set. */
#define CYPOOL_GLOBAL_CL_ROWS 8
/* The 16 double lanes, cypool_block_sums adding into them and cypool_fold16 the pairwise tree
 * over them (lane k + w into lane k, w = 8, 4, 2, 1). cypool_block_sums: the values r[0, m) as
 * vectors of 16 (value i in lane i % 16), the last m % 16 values as a vector of its own (the 16
 * values ending at m, those before the whole vectors masked to +0: value i in lane
 * i - (m - 16)); blocks of 8 vectors. In vector types where the compiler has them, of 256 bits:
 * every clone (_clones.h) keeps them in registers, where the x86-64-v3 clone spilled 512-bit
 * ones through the stack at 7x torch's time on (16, 256, 28, 28). */
#if defined(__GNUC__)
typedef float cypool_f32x8 __attribute__((vector_size(32), aligned(4)));
typedef float cypool_f32x4 __attribute__((vector_size(16)));
typedef int cypool_i32x8 __attribute__((vector_size(32), aligned(4)));
typedef double cypool_f64x4 __attribute__((vector_size(32)));
typedef long long cypool_i64x4 __attribute__((vector_size(32)));
typedef struct { cypool_f64x4 q[4]; } cypool_lanes16;   /* q[j]: lanes 4j .. 4j + 3 */
#define CYPOOL_LANES16_ZERO {{{0}, {0}, {0}, {0}}}
/* d[0, 8) += the 8 float lanes of v, widened */
CYPOOL_INLINE void cypool_widen_add8(cypool_f64x4* d, cypool_f32x8 v) {
    cypool_f32x4 lo, hi;
    memcpy(&lo, &v, sizeof lo), memcpy(&hi, (const char*)&v + sizeof lo, sizeof hi);
    d[0] += __builtin_convertvector(lo, cypool_f64x4);
    d[1] += __builtin_convertvector(hi, cypool_f64x4);
}
CYPOOL_INLINE void cypool_block_sums(cypool_lanes16* d, const float* restrict r, ptrdiff_t m) {
    const ptrdiff_t whole = m / 16;
    int partial = m % 16 != 0;
    ptrdiff_t j = 0;
    for (; j + 16 <= whole; j += 16) {   /* two blocks at once: four chains of adds, not two */
        cypool_f32x8 s0 = {0}, s1 = {0}, t0 = {0}, t1 = {0}, v0, v1, w0, w1;
        for (int k = 0; k < 8; k++) {
            memcpy(&v0, r + 16 * (j + k), sizeof v0), memcpy(&v1, r + 16 * (j + k) + 8, sizeof v1);
            memcpy(&w0, r + 16 * (j + 8 + k), sizeof w0);
            memcpy(&w1, r + 16 * (j + 8 + k) + 8, sizeof w1);
            s0 += v0, s1 += v1, t0 += w0, t1 += w1;
        }
        cypool_widen_add8(d->q, s0), cypool_widen_add8(d->q + 2, s1);
        cypool_widen_add8(d->q, t0), cypool_widen_add8(d->q + 2, t1);
    }
    if (j == whole && !partial) return;
    do {
        const ptrdiff_t start = j, e = whole - j < 8 ? whole : j + 8;
        cypool_f32x8 s0 = {0}, s1 = {0}, v0, v1;   /* lanes 0-7, 8-15 */
        for (; j < e; j++) {
            memcpy(&v0, r + 16 * j, sizeof v0), memcpy(&v1, r + 16 * j + 8, sizeof v1);
            s0 += v0, s1 += v1;
        }
        if (partial && e - start < 8) {
            const cypool_i32x8 lane = {0, 1, 2, 3, 4, 5, 6, 7}, cut = lane - (int)(16 - m % 16);
            cypool_i32x8 b0, b1;
            memcpy(&b0, r + m - 16, sizeof b0), memcpy(&b1, r + m - 8, sizeof b1);
            b0 &= cut >= 0, b1 &= cut >= -8;
            memcpy(&v0, &b0, sizeof v0), memcpy(&v1, &b1, sizeof v1);
            s0 += v0, s1 += v1;
            partial = 0;
        }
        cypool_widen_add8(d->q, s0);
        cypool_widen_add8(d->q + 2, s1);
    } while (j < whole || partial);
}
/* lane k + (k + 8) + (k + 4) + (k + 12), k < 4: the tree's first two levels */
CYPOOL_INLINE cypool_f64x4 cypool_fold16_half(const cypool_lanes16* d) {
    return (d->q[0] + d->q[2]) + (d->q[1] + d->q[3]);
}
CYPOOL_INLINE double cypool_fold16(const cypool_lanes16* d) {
    const cypool_f64x4 u = cypool_fold16_half(d);
    return (u[0] + u[2]) + (u[1] + u[3]);
}
#if !defined(__clang__)
#define CYPOOL_HAVE_FOLD4 1
/* The last two levels of cypool_fold16 for four planes at once, u[q] = cypool_fold16_half of
 * plane q, as shuffles and adds across planes (3 vector adds instead of 3 scalar adds a plane);
 * the same sums, so the same bits. Result: the four plane sums. */
CYPOOL_INLINE cypool_f64x4 cypool_fold16x4(const cypool_f64x4 u[4]) {
    const cypool_i64x4 lo2 = {0, 1, 4, 5}, hi2 = {2, 3, 6, 7}, ev = {0, 2, 4, 6}, od = {1, 3, 5, 7};
    const cypool_f64x4 v = __builtin_shuffle(u[0], u[1], lo2) + __builtin_shuffle(u[0], u[1], hi2);
    const cypool_f64x4 w = __builtin_shuffle(u[2], u[3], lo2) + __builtin_shuffle(u[2], u[3], hi2);
    return __builtin_shuffle(v, w, ev) + __builtin_shuffle(v, w, od);
}
#endif
#else
typedef struct { double d[16]; } cypool_lanes16;
#define CYPOOL_LANES16_ZERO {{0}}
CYPOOL_INLINE void cypool_block_sums(cypool_lanes16* d, const float* r, ptrdiff_t m) {
    const ptrdiff_t nv = (m + 15) / 16;   /* vectors, the last one maybe partial */
    for (ptrdiff_t b = 0; b < nv; b += 8) {
        float f[16] = {0};
        for (ptrdiff_t j = b; j < b + 8 && j < nv; j++)
            for (int k = 0; k < 16; k++) {
                const ptrdiff_t i = 16 * j + 16 <= m ? 16 * j + k : m - 16 + k;
                if (i >= 16 * j) f[k] += r[i];
            }
        for (int k = 0; k < 16; k++) d->d[k] += (double)f[k];
    }
}
CYPOOL_INLINE double cypool_fold16(const cypool_lanes16* d) {
    double t[8];
    for (int k = 0; k < 8; k++) t[k] = d->d[k] + d->d[k + 8];
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}
#endif
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
 * 7x7 of a CNN head) sum in float as PyTorch does; longer float planes in float blocks added in
 * double (cypool_block_sums); double data in double, over eight lanes in a fixed order. */
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
    ptrdiff_t p = p0;
#if CYPOOL_IS_FLOAT && defined(CYPOOL_HAVE_FOLD4)
    for (; p + 4 <= p1; p += 4) {   /* four planes' trees at once */
        cypool_f64x4 u[4];
        for (int q = 0; q < 4; q++) {
            cypool_lanes16 d = CYPOOL_LANES16_ZERO;
            cypool_block_sums(&d, x + (p + q) * L, L);
            u[q] = cypool_fold16_half(&d);
        }
        const cypool_f64x4 s4 = cypool_fold16x4(u);
        for (int q = 0; q < 4; q++) y[p + q] = (CYPOOL_T)(s4[q] * inv);
    }
#endif
    for (; p < p1; p++) {
        const CYPOOL_T* restrict r = x + p * L;
#if CYPOOL_IS_FLOAT
        cypool_lanes16 d = CYPOOL_LANES16_ZERO;
        cypool_block_sums(&d, r, L);
        const double s = cypool_fold16(&d);
#else
        CYPOOL_LANE_SUMS(double, a, i, r, L);
        double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
        for (; i < L; i++) s += (double)r[i];
#endif
        y[p] = (CYPOOL_T)(s * inv);
    }
}

#if CYPOOL_IS_FLOAT && defined(__GNUC__)
/* One block of rows (rows <= CYPOOL_GLOBAL_CL_ROWS, C apart) of the long channels-last loop
 * below, for its first n64 columns (a multiple of 64): d[k] += the float sum of column k, 64
 * columns at a time in registers (the loop's arrays measured 1.1-1.6x torch's time on
 * (16, 56, 56, 64)); the same sums. */
CYPOOL_INLINE void CYPOOL_FN(global_cl_rows64)(const float* x, double* d, ptrdiff_t rows,
                                               ptrdiff_t C, ptrdiff_t n64) {
    for (ptrdiff_t k = 0; k < n64; k += 64) {
        cypool_f32x8 a[8], v;
        memcpy(a, x + k, sizeof a);
        for (ptrdiff_t i = 1; i < rows; i++)
            for (int j = 0; j < 8; j++) {
                memcpy(&v, x + i * C + k + 8 * j, sizeof v);
                a[j] += v;
            }
        for (int j = 0; j < 8; j++) {   /* single vectors, not arrays: kept in registers */
            cypool_f32x4 lo, hi;
            cypool_f64x4 dl, dh;
            memcpy(&lo, &a[j], sizeof lo), memcpy(&hi, (const char*)&a[j] + sizeof lo, sizeof hi);
            memcpy(&dl, d + k + 8 * j, sizeof dl), memcpy(&dh, d + k + 8 * j + 4, sizeof dh);
            dl += __builtin_convertvector(lo, cypool_f64x4);
            dh += __builtin_convertvector(hi, cypool_f64x4);
            memcpy(d + k + 8 * j, &dl, sizeof dl), memcpy(d + k + 8 * j + 4, &dh, sizeof dh);
        }
    }
}
#endif

/* Channels-last: sample n, channels [c0, c1). Rows of up to CYPOOL_GLOBAL_CL_BLOCK channels are
 * added, row after row, into an accumulator row that stays in L1: the input streams through
 * memory in order (prefetch-friendly), and the adds run over contiguous channels (vectorised).
 * Short float planes sum in float as in the channels-first case, longer ones in float blocks of
 * rows added in double; double data in double. */
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
#if CYPOOL_IS_FLOAT
            ptrdiff_t n64 = 0;
#if defined(__GNUC__)
            n64 = nb / 64 * 64;
#endif
            double d[CYPOOL_GLOBAL_CL_BLOCK];
            for (ptrdiff_t k = 0; k < nb; k++) d[k] = 0.0;
            for (ptrdiff_t i0 = 0; i0 < L; i0 += CYPOOL_GLOBAL_CL_ROWS) {
                const ptrdiff_t rows = L - i0 < CYPOOL_GLOBAL_CL_ROWS ? L - i0
                                                                      : CYPOOL_GLOBAL_CL_ROWS;
#if defined(__GNUC__)
                CYPOOL_FN(global_cl_rows64)(xs + i0 * C + b0, d, rows, C, n64);
#endif
                if (n64 < nb) {
                    CYPOOL_COLUMN_SUMS(float, a, xs + i0 * C + b0 + n64, nb - n64, rows, C);
                    for (ptrdiff_t k = n64; k < nb; k++) d[k] += (double)a[k - n64];
                }
            }
#else
            CYPOOL_COLUMN_SUMS(double, d, xs + b0, nb, L, C);
#endif
            for (ptrdiff_t k = 0; k < nb; k++) ys[b0 + k] = (CYPOOL_T)(d[k] * inv);
        }
    }
}

#define CYPOOL_S CYPOOL_T
#define CYPOOL_A CYPOOL_T
#define CYPOOL_LD(v) (v)
#define CYPOOL_ST(v) (v)
#include "_global_avg_bwd_body.h"
#undef CYPOOL_S
#undef CYPOOL_A
#undef CYPOOL_LD
#undef CYPOOL_ST

#undef CYPOOL_HAVE_SUM8

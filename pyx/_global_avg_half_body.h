/* Body of global average pooling in float16 and bfloat16 (_avg_fast.h), included once per
 * type with CYPOOL_SUF and the conversions of _half.h: CYPOOL_LD / CYPOOL_ST (one value),
 * CYPOOL_LDN / CYPOOL_ADDN / CYPOOL_STN (rows). Entry points: CYPOOL_FN(cypool_global_avg_fwd_cf),
 * ..._fwd_cl, ..._bwd_cf, ..._bwd_cl, with the float32 functions' arguments on 16-bit patterns.
 *
 * The values are float32's rounded once: each sum runs in the float32 kernel's order over the
 * values widened a block at a time (short channels-first planes through the float32 function
 * itself), and the mean, computed as float32's is, is rounded to the 16-bit type. So a 16-bit
 * call equals the float32 call on the widened input, rounded, reading and writing half the
 * bytes. */

/* values widened at a time from a long plane: whole blocks of 8 vectors of 16 */
#define CYPOOL_GLOBAL_HALF_CHUNK 2048

/* The lanes of a long plane r[0, L): cypool_block_sums over it, widened a chunk at a time into
 * buf (chunks of whole blocks, so the blocks are the float32 kernel's) */
CYPOOL_INLINE cypool_lanes16 CYPOOL_FN(global_half_lanes)(const uint16_t* r, ptrdiff_t L,
                                                          float* buf) {
    cypool_lanes16 d = CYPOOL_LANES16_ZERO;
    for (ptrdiff_t i0 = 0; i0 < L; i0 += CYPOOL_GLOBAL_HALF_CHUNK) {
        const ptrdiff_t m = L - i0 < CYPOOL_GLOBAL_HALF_CHUNK ? L - i0 : CYPOOL_GLOBAL_HALF_CHUNK;
        CYPOOL_LDN(r + i0, buf, m);
        cypool_block_sums(&d, buf, m);
    }
    return d;
}

CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_fwd_cf)(const uint16_t* x, uint16_t* y, ptrdiff_t p0,
                                                ptrdiff_t p1, ptrdiff_t L) {
    /* a block, or 8 planes of <= 64 cells, after 16 zeros: the last vector of a short last
     * block (cypool_block_sums) starts before the block, in lanes it masks */
    float area[16 + CYPOOL_GLOBAL_HALF_CHUNK];
    float* buf = area + 16;
    memset(area, 0, 16 * sizeof(float));
    if (L <= 64) {   /* groups of 8 planes, as the float32 kernel takes them */
        float m[8];
        for (ptrdiff_t p = p0; p < p1; p += 8) {
            const ptrdiff_t np = p1 - p < 8 ? p1 - p : 8;
            CYPOOL_LDN(x + p * L, buf, np * L);
            cypool_global_avg_fwd_cf_f32(buf, m, 0, np, L);
            CYPOOL_STN(m, y + p, np);
        }
        return;
    }
    /* longer planes: the float32 kernel's blocks and trees */
    const double inv = 1.0 / (double)L;
    ptrdiff_t p = p0;
#if defined(CYPOOL_HAVE_FOLD4)
    for (; p + 4 <= p1; p += 4) {   /* four planes' trees at once, as float32's */
        cypool_f64x4 u[4];
        for (int q = 0; q < 4; q++) {
            const cypool_lanes16 d = CYPOOL_FN(global_half_lanes)(x + (p + q) * L, L, buf);
            u[q] = cypool_fold16_half(&d);
        }
        const cypool_f64x4 s4 = cypool_fold16x4(u);
        for (int q = 0; q < 4; q++) y[p + q] = CYPOOL_ST((float)(s4[q] * inv));
    }
#endif
    for (; p < p1; p++) {
        const cypool_lanes16 d = CYPOOL_FN(global_half_lanes)(x + p * L, L, buf);
        y[p] = CYPOOL_ST((float)(cypool_fold16(&d) * inv));
    }
}

/* Channels-last: sample n, channels [c0, c1), in blocks of CYPOOL_GLOBAL_CL_BLOCK channels:
 * rows added in order into a float accumulator row (short planes), or in blocks of rows added
 * into a double row, as the float32 kernel does. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_fwd_cl)(const uint16_t* x, uint16_t* y, ptrdiff_t n,
                                                ptrdiff_t L, ptrdiff_t C, ptrdiff_t c0,
                                                ptrdiff_t c1) {
    const uint16_t* xs = x + n * L * C;
    uint16_t* ys = y + n * C;
    const double inv = 1.0 / (double)L;
    float a[CYPOOL_GLOBAL_CL_BLOCK];
    double d[CYPOOL_GLOBAL_CL_BLOCK];
    for (ptrdiff_t b0 = c0; b0 < c1; b0 += CYPOOL_GLOBAL_CL_BLOCK) {
        const ptrdiff_t nb = c1 - b0 < CYPOOL_GLOBAL_CL_BLOCK ? c1 - b0 : CYPOOL_GLOBAL_CL_BLOCK;
        if (L <= 64) {
            CYPOOL_LDN(xs + b0, a, nb);
            for (ptrdiff_t i = 1; i < L; i++) CYPOOL_ADDN(xs + i * C + b0, a, nb);
            const float finv = (float)inv;
            for (ptrdiff_t k = 0; k < nb; k++) a[k] *= finv;
        } else {   /* the float32 kernel's blocks of rows */
            for (ptrdiff_t k = 0; k < nb; k++) d[k] = 0.0;
            for (ptrdiff_t i0 = 0; i0 < L; i0 += CYPOOL_GLOBAL_CL_ROWS) {
                const ptrdiff_t i1 = L - i0 < CYPOOL_GLOBAL_CL_ROWS ? L
                                                                    : i0 + CYPOOL_GLOBAL_CL_ROWS;
                CYPOOL_LDN(xs + i0 * C + b0, a, nb);
                for (ptrdiff_t i = i0 + 1; i < i1; i++) CYPOOL_ADDN(xs + i * C + b0, a, nb);
                for (ptrdiff_t k = 0; k < nb; k++) d[k] += (double)a[k];
            }
            for (ptrdiff_t k = 0; k < nb; k++) a[k] = (float)(d[k] * inv);
        }
        CYPOOL_STN(a, ys + b0, nb);
    }
}

/* Backward: the gradient / L in float, rounded once */
#define CYPOOL_S uint16_t
#define CYPOOL_A float
#include "_global_avg_bwd_body.h"
#undef CYPOOL_S
#undef CYPOOL_A

#undef CYPOOL_GLOBAL_HALF_CHUNK

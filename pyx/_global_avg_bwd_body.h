/* Global average pooling's backward, included by _global_avg_body.h (float32, float64) and
 * _global_avg_half_body.h (float16, bfloat16) with CYPOOL_FN's suffix, CYPOOL_S (storage),
 * CYPOOL_A (arithmetic) and CYPOOL_LD / CYPOOL_ST (storage <-> arithmetic) defined. Every input
 * cell gets its plane's gradient / L, computed in CYPOOL_A and stored once: a broadcast write, no
 * zeroing. Entry points: CYPOOL_FN(cypool_global_avg_bwd_cf), CYPOOL_FN(cypool_global_avg_bwd_cl),
 * with the forward's arguments. */

CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_bwd_cf)(const CYPOOL_S* go, CYPOOL_S* gi, ptrdiff_t p0,
                                                ptrdiff_t p1, ptrdiff_t L) {
    for (ptrdiff_t p = p0; p < p1; p++) {
        const CYPOOL_S v = CYPOOL_ST(CYPOOL_LD(go[p]) / (CYPOOL_A)L);
        CYPOOL_S* restrict r = gi + p * L;
        for (ptrdiff_t i = 0; i < L; i++) r[i] = v;
    }
}

CYPOOL_CLONES
static void CYPOOL_FN(cypool_global_avg_bwd_cl)(const CYPOOL_S* go, CYPOOL_S* gi, ptrdiff_t n,
                                                ptrdiff_t L, ptrdiff_t C, ptrdiff_t c0,
                                                ptrdiff_t c1) {
    const CYPOOL_S* restrict gs = go + n * C;
    CYPOOL_S* first = gi + n * L * C;
    for (ptrdiff_t c = c0; c < c1; c++) first[c] = CYPOOL_ST(CYPOOL_LD(gs[c]) / (CYPOOL_A)L);
    for (ptrdiff_t i = 1; i < L; i++)
        memcpy(first + i * C + c0, first + c0, (size_t)(c1 - c0) * sizeof(CYPOOL_S));
}

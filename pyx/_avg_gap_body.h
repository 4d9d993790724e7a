/* Global average pooling, included once per (AVGF_T, AVGF_SUF). Sums accumulate in double in a
 * fixed lane order, so the result is the same for any thread count and any instruction set. */
#define AVGF_CAT2(a, b) a##b
#define AVGF_CAT(a, b) AVGF_CAT2(a, b)
#define AVGF_FN(name) AVGF_CAT(name, AVGF_SUF)

/* Channels-first: planes [p0, p1) of L contiguous values. Eight double lanes per plane are
 * vectorised as two 4-wide adds (AVX2) and keep enough adds in flight for short planes (7x7). */
AVGF_CLONES
static void AVGF_FN(avgf_gap_cf)(const AVGF_T* x, AVGF_T* y, ptrdiff_t p0, ptrdiff_t p1,
                                 ptrdiff_t L) {
    for (ptrdiff_t p = p0; p < p1; p++) {
        const AVGF_T* restrict r = x + p * L;
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ptrdiff_t i = 0;
        for (; i + 8 <= L; i += 8)
            for (int k = 0; k < 8; k++) a[k] += (double)r[i + k];
        double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
        for (; i < L; i++) s += (double)r[i];
        y[p] = (AVGF_T)(s / (double)L);
    }
}

/* Channels-last: sample n, channels [c0, c1): rows of C values added into a block of 16 double
 * accumulators that stays in registers across the L rows. */
AVGF_CLONES
static void AVGF_FN(avgf_gap_cl)(const AVGF_T* x, AVGF_T* y, ptrdiff_t n, ptrdiff_t L,
                                 ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1) {
    const AVGF_T* xs = x + n * L * C;
    AVGF_T* ys = y + n * C;
    ptrdiff_t c = c0;
    for (; c + 16 <= c1; c += 16) {
        double a[16];
        for (int k = 0; k < 16; k++) a[k] = 0;
        for (ptrdiff_t i = 0; i < L; i++) {
            const AVGF_T* restrict r = xs + i * C + c;
            for (int k = 0; k < 16; k++) a[k] += (double)r[k];
        }
        for (int k = 0; k < 16; k++) ys[c + k] = (AVGF_T)(a[k] / (double)L);
    }
    for (; c < c1; c++) {
        double s = 0;
        for (ptrdiff_t i = 0; i < L; i++) s += (double)xs[i * C + c];
        ys[c] = (AVGF_T)(s / (double)L);
    }
}

/* Backward: every input cell gets its plane's gradient / L; a broadcast write, no zeroing. */
AVGF_CLONES
static void AVGF_FN(avgf_gap_bwd_cf)(const AVGF_T* go, AVGF_T* gi, ptrdiff_t p0, ptrdiff_t p1,
                                     ptrdiff_t L) {
    for (ptrdiff_t p = p0; p < p1; p++) {
        const AVGF_T v = go[p] / (AVGF_T)L;
        AVGF_T* restrict r = gi + p * L;
        for (ptrdiff_t i = 0; i < L; i++) r[i] = v;
    }
}

AVGF_CLONES
static void AVGF_FN(avgf_gap_bwd_cl)(const AVGF_T* go, AVGF_T* gi, ptrdiff_t n, ptrdiff_t L,
                                     ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1) {
    const AVGF_T* restrict gs = go + n * C;
    AVGF_T* first = gi + n * L * C;
    const AVGF_T div = (AVGF_T)L;
    for (ptrdiff_t c = c0; c < c1; c++) first[c] = gs[c] / div;
    for (ptrdiff_t i = 1; i < L; i++)
        memcpy(first + i * C + c0, first + c0, (size_t)(c1 - c0) * sizeof(AVGF_T));
}

#undef AVGF_FN
#undef AVGF_CAT
#undef AVGF_CAT2

/* Body of _max_fast.h, included once per data type with CYPOOL_T (the compute type: float or
 * double), CYPOOL_S (the storage type: CYPOOL_T, or uint16_t for float16 and bfloat16),
 * CYPOOL_LD(v) / CYPOOL_ST(v) (storage -> compute -> storage; identities when the two types are
 * one), CYPOOL_HALF (1 for the 16-bit storage types), CYPOOL_IDX (the in-loop index type: an
 * integer as wide as CYPOOL_T, so a blend moves one vector of each) and CYPOOL_SUF (_f32, _f64,
 * _f16, _bf16) defined; the 16-bit types also CYPOOL_LDN(src, dst, n) / CYPOOL_STN(src, dst, n)
 * (a row converted to float and back: _half.h), and call the float32 instance's sweeps on rows
 * so converted. CYPOOL_FN(name) is name followed by the suffix (_clones.h).
 * Entry points: CYPOOL_FN(cypool_max_fwd_cf), CYPOOL_FN(cypool_max_fwd_cl), for float and double
 * CYPOOL_FN(cypool_max_fwd_cf_2x2), and for the 16-bit
 * types CYPOOL_FN(cypool_max_bwd_scatter). */

/* One window row of a chunk of CF outputs, stride S (constant when specialised): strided loads
 * and a blend, vectorised across outputs. */
CYPOOL_INLINE void CYPOOL_FN(max_cf_pass)(const CYPOOL_S* restrict src, CYPOOL_T* restrict m,
                                          ptrdiff_t n, ptrdiff_t S)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        CYPOOL_T v = CYPOOL_LD(src[j * S]);
        int mk = (v > m[j]) | (v != v);
        m[j] = CYPOOL_SEL(mk, v, m[j]);
    }
}
CYPOOL_INLINE void CYPOOL_FN(max_cf_pass_idx)(const CYPOOL_S* restrict src, CYPOOL_T* restrict m,
                                            CYPOOL_IDX* restrict p, CYPOOL_IDX off, ptrdiff_t n,
                                            ptrdiff_t S)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        CYPOOL_T v = CYPOOL_LD(src[j * S]);
        int mk = (v > m[j]) | (v != v);
        m[j] = CYPOOL_SEL(mk, v, m[j]);
        p[j] = CYPOOL_SEL(mk, off + (CYPOOL_IDX)(j * S), p[j]);
    }
}
/* All K cells of one window row (no dilation) in one sweep: one load and store of the running
 * maximum per K cells. Called with constant K and S so the cell loop unrolls. */
CYPOOL_INLINE void CYPOOL_FN(max_cf_rowk)(const CYPOOL_S* restrict src, CYPOOL_T* restrict m,
                                        CYPOOL_IDX* restrict p, CYPOOL_IDX off, ptrdiff_t n,
                                        ptrdiff_t K, ptrdiff_t S)
{
    if (p) {
        for (ptrdiff_t j = 0; j < n; j++) {
            CYPOOL_T mm = m[j];
            CYPOOL_IDX pp = p[j];
            for (ptrdiff_t c = 0; c < K; c++) {
                CYPOOL_T v = CYPOOL_LD(src[j * S + c]);
                int mk = (v > mm) | (v != v);
                mm = CYPOOL_SEL(mk, v, mm);
                pp = CYPOOL_SEL(mk, off + (CYPOOL_IDX)(j * S + c), pp);
            }
            m[j] = mm;
            p[j] = pp;
        }
    } else {
        for (ptrdiff_t j = 0; j < n; j++) {
            CYPOOL_T mm = m[j];
            for (ptrdiff_t c = 0; c < K; c++) {
                CYPOOL_T v = CYPOOL_LD(src[j * S + c]);
                int mk = (v > mm) | (v != v);
                mm = CYPOOL_SEL(mk, v, mm);
            }
            m[j] = mm;
        }
    }
}

/* The general kernel's loop for one output cell (borders). */
CYPOOL_INLINE void CYPOOL_FN(max_cf_cell)(const CYPOOL_S* xp, CYPOOL_S* y, int64_t* idx,
                                          const Window* w, ptrdiff_t df, ptrdiff_t dc, ptrdiff_t hf,
                                          ptrdiff_t hc, ptrdiff_t ow)
{
    const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
    const ptrdiff_t wf = sw.first, wc = sw.count;
    CYPOOL_T m = -INFINITY;
    int64_t best = (df * w->in_h + hf) * w->in_w + wf;
    for (ptrdiff_t a = 0; a < dc; a++)
        for (ptrdiff_t b = 0; b < hc; b++) {
            ptrdiff_t pos = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w + wf;
            for (ptrdiff_t c = 0; c < wc; c++) {
                CYPOOL_T v = CYPOOL_LD(xp[pos + c * w->dil_w]);
                if (v > m || v != v) { m = v; best = pos + c * w->dil_w; }
            }
        }
    *y = CYPOOL_ST(m);
    if (idx) *idx = best;
}

#if CYPOOL_HALF && defined(CYPOOL_F16C)
/* The vector conversions of the F16C kernels below (8 or 16 values): float16's are F16C's;
 * bfloat16's a shift up, and for a maximum (always a converted bfloat16: no rounding) its upper
 * half, a NaN made quiet, as cypool_f32_to_bf16 stores it. */
#define CYPOOL_AVX2_INLINE static inline __attribute__((target("avx2,f16c"), always_inline))
#define CYPOOL_AVX512_INLINE \
    static inline __attribute__((target("avx512f,avx2,f16c"), always_inline))
#if CYPOOL_F16
#define CYPOOL_CVT8(h) _mm256_cvtph_ps(h)
#define CYPOOL_CVT16(h) _mm512_cvtph_ps(h)
#define CYPOOL_PACK8(m) _mm256_cvtps_ph(m, CYPOOL_F16C_RNE)
#define CYPOOL_PACK16(m) _mm512_cvtps_ph(m, CYPOOL_F16C_RNE)
#define CYPOOL_HLD(h) _cvtsh_ss(h)
#define CYPOOL_HST(f) _cvtss_sh(f, CYPOOL_F16C_RNE)
#else
#define CYPOOL_CVT8(h) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
#define CYPOOL_CVT16(h) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
#define CYPOOL_PACK8(m) CYPOOL_FN(max_pack8)(m)
#define CYPOOL_PACK16(m) CYPOOL_FN(max_pack16)(m)
#define CYPOOL_HLD(h) CYPOOL_LD(h)
#define CYPOOL_HST(f) CYPOOL_ST(f)
CYPOOL_AVX2_INLINE __m128i CYPOOL_FN(max_pack8)(__m256 m)
{
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(m, m, _CMP_UNORD_Q));
    __m256i b = _mm256_srli_epi32(_mm256_castps_si256(m), 16);
    b = _mm256_or_si256(b, _mm256_and_si256(nan, _mm256_set1_epi32(0x40)));
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(b, b), 0x08));
}
CYPOOL_AVX512_INLINE __m256i CYPOOL_FN(max_pack16)(__m512 m)
{
    const __m512i b = _mm512_srli_epi32(_mm512_castps_si512(m), 16);
    return _mm512_cvtepi32_epi16(_mm512_mask_or_epi32(b, _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q),
                                                      b, _mm512_set1_epi32(0x40)));
}
#endif
/* float16 / bfloat16 channels-first interiors with F16C (bfloat16's need AVX2 only; they go
 * with float16's switch), the conversions inside the window loop: n outputs
 * of one row from its window rows at xp + r0 + a * dstep + b * hstep (a < dc, b < hc), K cells
 * each (no dilation), stride S (1; or 2 with K >= 2). Vectors of 8 / 16 outputs keep their maxima
 * (and positions) in registers across the window's cells, visited in max_cf_row's order with its
 * rule (`v > m || v != v`), then stored in 16 bits (exact: every maximum is a converted input)
 * and as int64 positions. U vectors go together: the compare-and-blend chain of one vector is
 * latency-bound. A vector that would pass n ends at n instead (its overlap recomputes the same
 * outputs). Loads stay in the window rows' span: with S = 2, cell c >= 1 of a vector is the odd
 * half of the 16 / 32 values from c - 1. */
#define CYPOOL_CF_F16C_ARGS const uint16_t* restrict xp, ptrdiff_t r0, ptrdiff_t dstep, \
    ptrdiff_t dc, ptrdiff_t hstep, ptrdiff_t hc, ptrdiff_t K, ptrdiff_t S, ptrdiff_t n, \
    uint16_t* restrict y, int64_t* restrict idx

/* U vectors of 8 outputs, starting at at[u] */
CYPOOL_AVX2_INLINE void CYPOOL_FN(max_cf_f16c_vecs)(CYPOOL_CF_F16C_ARGS, const ptrdiff_t* at,
                                                     const int U)
{
    const __m256i step = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm256_set1_epi32((int32_t)S));
    const __m256i low = _mm256_set1_epi32(0xffff);
    __m256 m[4];
    __m256i p[4];
    (void)n;
    for (int u = 0; u < U; u++) {
        m[u] = _mm256_set1_ps(-INFINITY);
        p[u] = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(r0 + at[u] * S)), step);
    }
    for (ptrdiff_t a = 0; a < dc; a++)
        for (ptrdiff_t b = 0; b < hc; b++) {
            const ptrdiff_t r = r0 + a * dstep + b * hstep;
            for (ptrdiff_t c = 0; c < K; c++)
                for (int u = 0; u < U; u++) {
                    const uint16_t* s = xp + r + at[u] * S;
                    __m256 v;
                    if (S == 1) {
                        v = CYPOOL_CVT8(_mm_loadu_si128((const __m128i*)(s + c)));
                    } else {
                        __m256i h = _mm256_loadu_si256((const __m256i*)(s + (c ? c - 1 : 0)));
                        h = c ? _mm256_srli_epi32(h, 16) : _mm256_and_si256(h, low);
                        h = _mm256_permute4x64_epi64(_mm256_packus_epi32(h, h), 0x08);
                        v = CYPOOL_CVT8(_mm256_castsi256_si128(h));
                    }
                    const __m256 mk = _mm256_or_ps(_mm256_cmp_ps(v, m[u], _CMP_GT_OQ),
                                                   _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    m[u] = _mm256_blendv_ps(m[u], v, mk);
                    if (idx) {
                        const __m256i o = _mm256_add_epi32(
                            _mm256_set1_epi32((int32_t)(r + at[u] * S + c)), step);
                        p[u] = _mm256_castps_si256(_mm256_blendv_ps(
                            _mm256_castsi256_ps(p[u]), _mm256_castsi256_ps(o), mk));
                    }
                }
        }
    for (int u = 0; u < U; u++) {
        _mm_storeu_si128((__m128i*)(y + at[u]), CYPOOL_PACK8(m[u]));
        if (idx) {
            _mm256_storeu_si256((__m256i*)(idx + at[u]),
                                _mm256_cvtepi32_epi64(_mm256_castsi256_si128(p[u])));
            _mm256_storeu_si256((__m256i*)(idx + at[u] + 4),
                                _mm256_cvtepi32_epi64(_mm256_extracti128_si256(p[u], 1)));
        }
    }
}
/* U vectors of 16 outputs, starting at at[u] */
CYPOOL_AVX512_INLINE void CYPOOL_FN(max_cf_f16c_vecs16)(CYPOOL_CF_F16C_ARGS,
                                                         const ptrdiff_t* at, const int U)
{
    const __m512i step = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int32_t)S));
    __m512 m[4];
    __m512i p[4];
    (void)n;
    for (int u = 0; u < U; u++) {
        m[u] = _mm512_set1_ps(-INFINITY);
        p[u] = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(r0 + at[u] * S)), step);
    }
    for (ptrdiff_t a = 0; a < dc; a++)
        for (ptrdiff_t b = 0; b < hc; b++) {
            const ptrdiff_t r = r0 + a * dstep + b * hstep;
            for (ptrdiff_t c = 0; c < K; c++)
                for (int u = 0; u < U; u++) {
                    const uint16_t* s = xp + r + at[u] * S;
                    __m512 v;
                    if (S == 1) {
                        v = CYPOOL_CVT16(_mm256_loadu_si256((const __m256i*)(s + c)));
                    } else {
                        __m512i h = _mm512_loadu_si512((const void*)(s + (c ? c - 1 : 0)));
                        if (c) h = _mm512_srli_epi32(h, 16);
                        v = CYPOOL_CVT16(_mm512_cvtepi32_epi16(h));
                    }
                    const __mmask16 mk = _mm512_cmp_ps_mask(v, m[u], _CMP_GT_OQ)
                                         | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                    m[u] = _mm512_mask_blend_ps(mk, m[u], v);
                    if (idx)
                        p[u] = _mm512_mask_blend_epi32(
                            mk, p[u],
                            _mm512_add_epi32(_mm512_set1_epi32((int32_t)(r + at[u] * S + c)),
                                             step));
                }
        }
    for (int u = 0; u < U; u++) {
        _mm256_storeu_si256((__m256i*)(y + at[u]), CYPOOL_PACK16(m[u]));
        if (idx) {
            _mm512_storeu_si512((void*)(idx + at[u]),
                                _mm512_cvtepi32_epi64(_mm512_castsi512_si256(p[u])));
            _mm512_storeu_si512((void*)(idx + at[u] + 8),
                                _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p[u], 1)));
        }
    }
}

/* The vectors of L outputs starting at 0, L, 2L, ... (the last ending at n), by groups of up
 * to 4; KK, SS and the index output II given as constants where they can be (common windows:
 * the cell loop unrolls, the index branch goes) */
#define CYPOOL_CF_F16C_GROUPS(L, VECS, KK, SS, II) do { \
    const ptrdiff_t nv = (n + L - 1) / L; \
    for (ptrdiff_t g = 0; g < nv; g += 4) { \
        ptrdiff_t at[4]; \
        const int U = nv - g < 4 ? (int)(nv - g) : 4; \
        for (int u = 0; u < U; u++) at[u] = (g + u) * L < n - L ? (g + u) * L : n - L; \
        switch (U) { \
        case 4: VECS(xp, r0, dstep, dc, hstep, hc, KK, SS, n, y, II, at, 4); break; \
        case 3: VECS(xp, r0, dstep, dc, hstep, hc, KK, SS, n, y, II, at, 3); break; \
        case 2: VECS(xp, r0, dstep, dc, hstep, hc, KK, SS, n, y, II, at, 2); break; \
        default: VECS(xp, r0, dstep, dc, hstep, hc, KK, SS, n, y, II, at, 1); break; \
        } \
    } \
} while (0)
#define CYPOOL_CF_F16C_KINDS(L, VECS, II) do { \
    if (K == 2 && S == 2) CYPOOL_CF_F16C_GROUPS(L, VECS, 2, 2, II); \
    else if (K == 3 && S == 2) CYPOOL_CF_F16C_GROUPS(L, VECS, 3, 2, II); \
    else if (K == 3 && S == 1) CYPOOL_CF_F16C_GROUPS(L, VECS, 3, 1, II); \
    else CYPOOL_CF_F16C_GROUPS(L, VECS, K, S, II); \
} while (0)
#define CYPOOL_CF_F16C_ALL(L, VECS) do { \
    if (idx) CYPOOL_CF_F16C_KINDS(L, VECS, idx); \
    else CYPOOL_CF_F16C_KINDS(L, VECS, NULL); \
} while (0)

static __attribute__((target("avx2,f16c"), noinline, unused)) void
CYPOOL_FN(max_cf_f16c)(CYPOOL_CF_F16C_ARGS)
{
    if (n >= 8) {
        CYPOOL_CF_F16C_ALL(8, CYPOOL_FN(max_cf_f16c_vecs));
        return;
    }
    for (ptrdiff_t j = 0; j < n; j++) {   /* rows of fewer than 8 outputs */
        float m = -INFINITY;
        int64_t p = r0 + j * S;
        for (ptrdiff_t a = 0; a < dc; a++)
            for (ptrdiff_t b = 0; b < hc; b++) {
                const ptrdiff_t r = r0 + a * dstep + b * hstep + j * S;
                for (ptrdiff_t c = 0; c < K; c++) {
                    const float v = CYPOOL_HLD(xp[r + c]);
                    if (v > m || v != v) { m = v; p = r + c; }
                }
            }
        y[j] = CYPOOL_HST(m);
        if (idx) idx[j] = p;
    }
}
static __attribute__((target("avx512f,avx2,f16c"), noinline, unused)) void
CYPOOL_FN(max_cf_f16c_avx512)(CYPOOL_CF_F16C_ARGS)
{
    if (n < 16) {
        CYPOOL_FN(max_cf_f16c)(xp, r0, dstep, dc, hstep, hc, K, S, n, y, idx);
        return;
    }
    CYPOOL_CF_F16C_ALL(16, CYPOOL_FN(max_cf_f16c_vecs16));
}
#undef CYPOOL_CF_F16C_GROUPS
#undef CYPOOL_CF_F16C_KINDS
#undef CYPOOL_CF_F16C_ALL
#undef CYPOOL_CF_F16C_ARGS
#endif

/* One output row (plane, od, oh) of a channels-first tensor: borders cell by cell, the interior
 * (windows wholly inside along w) in chunks, one pass per window cell over the chunk. The pass
 * order is the window order, so each output sees its cells in the general kernel's order. */
CYPOOL_INLINE void CYPOOL_FN(max_cf_row)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                         const Window* w, ptrdiff_t row, ptrdiff_t plane,
                                         ptrdiff_t od, ptrdiff_t oh, ptrdiff_t w_lo,
                                         ptrdiff_t w_hi)
{
    const CYPOOL_S* xp = x + plane * w->in_d * w->in_h * w->in_w;
    CYPOOL_S* yr = y + row * w->out_w;
    int64_t* ir = idx ? idx + row * w->out_w : NULL;
    const Span sd = dilated_span(od, w->k_d, w->s_d, w->pad_d, w->dil_d, w->in_d);
    const Span sh = dilated_span(oh, w->k_h, w->s_h, w->pad_h, w->dil_h, w->in_h);
    const ptrdiff_t df = sd.first, dc = sd.count, hf = sh.first, hc = sh.count;
    ptrdiff_t lo = w_lo, hi = w_hi, ow;
    if (dc == 0 || hc == 0) { lo = hi = w->out_w; }
    for (ow = 0; ow < lo; ow++)
        CYPOOL_FN(max_cf_cell)(xp, yr + ow, ir ? ir + ow : NULL, w, df, dc, hf, hc, ow);
    for (ow = hi; ow < w->out_w; ow++)
        CYPOOL_FN(max_cf_cell)(xp, yr + ow, ir ? ir + ow : NULL, w, df, dc, hf, hc, ow);
    const ptrdiff_t S = w->s_w;
#if CYPOOL_HALF && defined(CYPOOL_F16C)
    /* 16-bit types with F16C: the interior at once, converted in registers (max_cf_f16c) */
    if (hi > lo && w->dil_w == 1 && (S == 1 || (S == 2 && w->k_w >= 2))) {
        const int f16c = cypool_f16c();
        const ptrdiff_t r0 = (df * w->in_h + hf) * w->in_w + lo * S - w->pad_w;
        const ptrdiff_t dstep = w->dil_d * w->in_h * w->in_w, hstep = w->dil_h * w->in_w;
        if (f16c == 2) {
            CYPOOL_FN(max_cf_f16c_avx512)(xp, r0, dstep, dc, hstep, hc, w->k_w, S, hi - lo,
                                          yr + lo, ir ? ir + lo : NULL);
            return;
        }
        if (f16c == 1) {
            CYPOOL_FN(max_cf_f16c)(xp, r0, dstep, dc, hstep, hc, w->k_w, S, hi - lo, yr + lo,
                                   ir ? ir + lo : NULL);
            return;
        }
    }
#endif
    /* Common small windows get a whole-row sweep with constant K and S. */
    int kind = 0;
    if (w->dil_w == 1 && (w->k_w == 2 || w->k_w == 3) && (S == 1 || S == 2))
        kind = (w->k_w == 2 ? 1 : 2) + (S == 1 ? 2 : 0);
    for (ptrdiff_t o0 = lo; o0 < hi; o0 += CYPOOL_CF_CHUNK) {
        ptrdiff_t n = hi - o0 < CYPOOL_CF_CHUNK ? hi - o0 : CYPOOL_CF_CHUNK;
        /* maxima are swept in place in the output row (L1-resident per chunk), or in a float
         * buffer stored in half precision on the way out; positions in a narrow buffer widened
         * on the way out */
#if CYPOOL_HALF
        CYPOOL_T m[CYPOOL_CF_CHUNK];
        float xb[CYPOOL_HALF_ROW];   /* a window row's input, in float */
#else
        CYPOOL_T* m = yr + o0;
#endif
        CYPOOL_IDX p[CYPOOL_CF_CHUNK];
        ptrdiff_t w0 = o0 * S - w->pad_w;
        for (ptrdiff_t j = 0; j < n; j++) m[j] = -INFINITY;
        if (ir) {
            CYPOOL_IDX first = (CYPOOL_IDX)((df * w->in_h + hf) * w->in_w + w0);
            for (ptrdiff_t j = 0; j < n; j++) p[j] = first + (CYPOOL_IDX)(j * S);
        }
        for (ptrdiff_t a = 0; a < dc; a++)
            for (ptrdiff_t b = 0; b < hc; b++) {
                ptrdiff_t rp = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w + w0;
                if (kind) {
                    CYPOOL_IDX* pp = ir ? p : NULL;
                    CYPOOL_IDX r = (CYPOOL_IDX)rp;
#if CYPOOL_HALF
                    /* the window row's cells in float once (_half.h), then float32's sweep */
                    CYPOOL_LDN(xp + rp, xb, (n - 1) * S + w->k_w);
                    switch (kind) {
                    case 1: max_cf_rowk_f32(xb, m, pp, r, n, 2, 2); break;
                    case 2: max_cf_rowk_f32(xb, m, pp, r, n, 3, 2); break;
                    case 3: max_cf_rowk_f32(xb, m, pp, r, n, 2, 1); break;
                    default: max_cf_rowk_f32(xb, m, pp, r, n, 3, 1); break;
                    }
                    continue;
#endif
                    switch (kind) {
                    case 1: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 2, 2); break;
                    case 2: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 3, 2); break;
                    case 3: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 2, 1); break;
                    default: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 3, 1); break;
                    }
                    continue;
                }
#if CYPOOL_HALF
                /* other windows: the same, when the row's span fits the buffer */
                const ptrdiff_t span = (n - 1) * S + (w->k_w - 1) * w->dil_w + 1;
                if (span <= CYPOOL_HALF_ROW) {
                    CYPOOL_LDN(xp + rp, xb, span);
                    for (ptrdiff_t c = 0; c < w->k_w; c++) {
                        const ptrdiff_t off = c * w->dil_w;
                        const CYPOOL_IDX o = (CYPOOL_IDX)(rp + off);
                        if (ir) {
                            if (S == 1) max_cf_pass_idx_f32(xb + off, m, p, o, n, 1);
                            else if (S == 2) max_cf_pass_idx_f32(xb + off, m, p, o, n, 2);
                            else max_cf_pass_idx_f32(xb + off, m, p, o, n, S);
                        } else {
                            if (S == 1) max_cf_pass_f32(xb + off, m, n, 1);
                            else if (S == 2) max_cf_pass_f32(xb + off, m, n, 2);
                            else max_cf_pass_f32(xb + off, m, n, S);
                        }
                    }
                    continue;
                }
#endif
                for (ptrdiff_t c = 0; c < w->k_w; c++) {
                    ptrdiff_t off = rp + c * w->dil_w;
                    if (ir) {
                        CYPOOL_IDX o = (CYPOOL_IDX)off;
                        if (S == 1) CYPOOL_FN(max_cf_pass_idx)(xp + off, m, p, o, n, 1);
                        else if (S == 2) CYPOOL_FN(max_cf_pass_idx)(xp + off, m, p, o, n, 2);
                        else CYPOOL_FN(max_cf_pass_idx)(xp + off, m, p, o, n, S);
                    } else {
                        if (S == 1) CYPOOL_FN(max_cf_pass)(xp + off, m, n, 1);
                        else if (S == 2) CYPOOL_FN(max_cf_pass)(xp + off, m, n, 2);
                        else CYPOOL_FN(max_cf_pass)(xp + off, m, n, S);
                    }
                }
            }
#if CYPOOL_HALF
        CYPOOL_STN(m, yr + o0, n);
#endif
        if (ir) for (ptrdiff_t j = 0; j < n; j++) ir[o0 + j] = (int64_t)p[j];
    }
}

#if !CYPOOL_HALF || CYPOOL_F16
/* One output row through the vector kernels of float32 (AVX-512F) or float16 (AVX512-FP16):
 * the row in vectors, maxima in registers, the border outputs too where they can
 * (cypool_max_cf_vec_f32 / _f16), the others cell by cell. Returns 0, doing nothing, where
 * they do not apply (then max_cf_row takes the row). Out of line, so that max_cf_row, which
 * takes the rows where these do not run (every row, on other CPUs), stays as it was. */
static __attribute__((noinline)) int CYPOOL_FN(max_cf_row_vec)(
    const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx, const Window* w, ptrdiff_t row,
    ptrdiff_t plane, ptrdiff_t od, ptrdiff_t oh, ptrdiff_t lo, ptrdiff_t hi)
{
    const CYPOOL_S* xp = x + plane * w->in_d * w->in_h * w->in_w;
    CYPOOL_S* yr = y + row * w->out_w;
    int64_t* ir = idx ? idx + row * w->out_w : NULL;
    const Span sd = dilated_span(od, w->k_d, w->s_d, w->pad_d, w->dil_d, w->in_d);
    const Span sh = dilated_span(oh, w->k_h, w->s_h, w->pad_h, w->dil_h, w->in_h);
    const ptrdiff_t df = sd.first, dc = sd.count, hf = sh.first, hc = sh.count;
    if (dc == 0 || hc == 0) return 0;
    const int done = __builtin_choose_expr(
        CYPOOL_F16,
        cypool_max_cf_vec_f16(
            (const uint16_t*)xp, (df * w->in_h + hf) * w->in_w, -w->pad_w,
            w->dil_d * w->in_h * w->in_w, dc, w->dil_h * w->in_w, hc, w->k_w, w->s_w, w->in_w,
            (uint16_t*)yr, ir, lo, hi, w->out_w),
        cypool_max_cf_vec_f32(
            (const float*)xp, (df * w->in_h + hf) * w->in_w, -w->pad_w,
            w->dil_d * w->in_h * w->in_w, dc, w->dil_h * w->in_w, hc, w->k_w, w->s_w, w->in_w,
            (float*)yr, ir, lo, hi, w->out_w));
    if (!done) return 0;
    if (!(done & 2))
        for (ptrdiff_t ow = 0; ow < lo; ow++)
            CYPOOL_FN(max_cf_cell)(xp, yr + ow, ir ? ir + ow : NULL, w, df, dc, hf, hc, ow);
    if (!(done & 4))
        for (ptrdiff_t ow = hi; ow < w->out_w; ow++)
            CYPOOL_FN(max_cf_cell)(xp, yr + ow, ir ? ir + ow : NULL, w, df, dc, hf, hc, ow);
    return 1;
}
#endif

/* The rows' walk: ROW(row, plane, od, oh) for rows [r0, r1). The row's coordinates are stepped,
 * not divided out per row: three divisions cost as much as a short row's pooling. */
#define CYPOOL_CF_ROWS(ROW) do { \
    ptrdiff_t rpp = w->out_d * w->out_h; \
    ptrdiff_t plane = r0 / rpp, od = (r0 % rpp) / w->out_h, oh = r0 % w->out_h; \
    for (ptrdiff_t row = r0; row < r1; row++) { \
        ROW; \
        if (++oh == w->out_h) { \
            oh = 0; \
            if (++od == w->out_d) { od = 0; plane++; } \
        } \
    } \
} while (0)

/* Output rows [r0, r1) of a channels-first tensor, rows numbered (plane, od, oh), cell by cell
 * at the borders and in C sweeps (max_cf_row). */
static void CYPOOL_CLONES CYPOOL_FN(max_cf_rows)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                                 const Window* w, ptrdiff_t r0, ptrdiff_t r1)
{
    /* a local copy: its fields stay in registers across the rows (through the pointer they are
     * reloaded at every border cell: +8% instructions on 1-d rows) */
    const Window wl = *w;
    w = &wl;
    ptrdiff_t w_lo, w_hi;   /* interior outputs along w: every row shares them */
    interior_outputs(w->out_w, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w, &w_lo, &w_hi);
    CYPOOL_CF_ROWS(CYPOOL_FN(max_cf_row)(x, y, idx, w, row, plane, od, oh, w_lo, w_hi));
}

#if !CYPOOL_HALF || CYPOOL_F16
/* The same rows through the vector kernels (max_cf_row_vec), a row they decline through
 * max_cf_row. A function of its own, so that max_cf_rows, which every row takes on other CPUs,
 * is compiled as it was. */
static __attribute__((noinline)) void CYPOOL_FN(max_cf_rows_vec)(
    const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx, const Window* w, ptrdiff_t r0, ptrdiff_t r1,
    ptrdiff_t w_lo, ptrdiff_t w_hi)
{
    const Window wl = *w;
    w = &wl;
    CYPOOL_CF_ROWS(
        if (!CYPOOL_FN(max_cf_row_vec)(x, y, idx, w, row, plane, od, oh, w_lo, w_hi))
            CYPOOL_FN(max_cf_row)(x, y, idx, w, row, plane, od, oh, w_lo, w_hi));
}
#endif
#undef CYPOOL_CF_ROWS

/* Output rows [r0, r1) of a channels-first tensor: walked in the vector function where every row
 * goes all in vectors (cypool_max_cf_walk_mode), else (float32, float16) row by row through the
 * vector kernels where the windows, the rows (a vector's worth of interior outputs) and the CPU
 * allow, their borders cell by cell where border vectors cannot take them, else max_cf_rows. */
static void CYPOOL_FN(cypool_max_fwd_cf)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                         const Window* w, ptrdiff_t r0, ptrdiff_t r1)
{
    if (r0 >= r1) return;
    ptrdiff_t w_lo, w_hi;   /* interior outputs along w: every row shares them */
    interior_outputs(w->out_w, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w, &w_lo, &w_hi);
    const int kind = CYPOOL_F16 ? 1 : CYPOOL_HALF ? 2 : 0;
    const int mode = (CYPOOL_HALF || sizeof(CYPOOL_S) == 4)
                         ? cypool_max_cf_walk_mode(w, kind, w_lo, w_hi) : 0;
    /* every row in vectors: walked in the vector function; a row it hands back (no window rows)
     * cell by cell */
    while (mode && r0 < r1) {
        r0 = cypool_max_cf_walk(kind, x, y, idx, w, r0, r1, w_lo, w_hi, mode);
        if (r0 < r1) {
            CYPOOL_FN(max_cf_rows)(x, y, idx, w, r0, r0 + 1);
            r0++;
        }
    }
    if (mode) return;
#if !CYPOOL_HALF || CYPOOL_F16
    if (w->dil_w == 1 && (w->s_w == 1 || (w->s_w == 2 && w->k_w >= 2))
        && w_hi - w_lo >= (CYPOOL_F16 ? 32 : 16)
        && (CYPOOL_F16 ? cypool_max_cf_vec_f16_ok()
                       : sizeof(CYPOOL_S) == 4 && cypool_max_cf_vec_f32_ok())) {
        CYPOOL_FN(max_cf_rows_vec)(x, y, idx, w, r0, r1, w_lo, w_hi);
        return;
    }
#endif
    CYPOOL_FN(max_cf_rows)(x, y, idx, w, r0, r1);
}

#if !CYPOOL_HALF
/* 2x2/s2 windows over planes [p0, p1) of channels-first planes with even sides, no padding or
 * dilation, no indices. Planes are contiguous and a pair never straddles a row, so a run of
 * planes' horizontal pairs is one flat sweep, and an output row the maximum of two rows of pairs.
 * The cell-by-cell scan keeps the last NaN, else the first maximum; that choice is associative,
 * so pairing cells (0,0),(0,1) then (1,0),(1,1) gives the scan's bits. Short rows (28x28 planes:
 * 14 outputs) are what the row kernels cannot vectorise. Needs H * W / 2 <= CYPOOL_PAIRS. */
static void CYPOOL_CLONES CYPOOL_FN(cypool_max_fwd_cf_2x2)(const CYPOOL_T* restrict x,
                                                           CYPOOL_T* restrict y, ptrdiff_t p0,
                                                           ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W)
{
    CYPOOL_T h[CYPOOL_PAIRS];
    const ptrdiff_t pairs = H * W / 2, ow = W / 2, oh = H / 2;
    const ptrdiff_t per = CYPOOL_PAIRS / pairs;
    for (ptrdiff_t p = p0; p < p1; p += per) {
        const ptrdiff_t np = p1 - p < per ? p1 - p : per;
        const CYPOOL_T* restrict xs = x + p * H * W;
        CYPOOL_T* restrict ys = y + p * oh * ow;
        const ptrdiff_t n = np * pairs, rows = np * oh;
        for (ptrdiff_t i = 0; i < n; i++) {
            CYPOOL_T a = xs[2 * i], b = xs[2 * i + 1];
            h[i] = CYPOOL_SEL((b > a) | (b != b), b, a);
        }
        for (ptrdiff_t r = 0; r < rows; r++) {
            const CYPOOL_T* restrict h0 = h + 2 * r * ow;
            CYPOOL_T* restrict yr = ys + r * ow;
            for (ptrdiff_t j = 0; j < ow; j++) {
                CYPOOL_T a = h0[j], b = h0[ow + j];
                yr[j] = CYPOOL_SEL((b > a) | (b != b), b, a);
            }
        }
    }
}
#endif

/* A block of B channels of one channels-last output cell: the running maxima (and indices) of
 * the block stay in registers while the window cells stream by; written once. */
CYPOOL_INLINE void CYPOOL_FN(max_cl_block)(const CYPOOL_S* restrict xn, CYPOOL_S* restrict y,
                                         int64_t* restrict idx, const ptrdiff_t* restrict cells,
                                         ptrdiff_t ncells, int64_t first, ptrdiff_t C,
                                         ptrdiff_t B)
{
    CYPOOL_T m[CYPOOL_CL_BLOCK];
    for (ptrdiff_t j = 0; j < B; j++) m[j] = -INFINITY;
    if (idx) {
        /* The winning cell's position, in an integer as wide as the data (one blend per data
         * vector; the caller bounds the plane to fit it), widened on the way out: a vector
         * conversion, where the cell's ordinal needed a gather from `cells`. */
        CYPOOL_IDX q[CYPOOL_CL_BLOCK];
        for (ptrdiff_t j = 0; j < B; j++) q[j] = (CYPOOL_IDX)first;
        for (ptrdiff_t k = 0; k < ncells; k++) {
            const CYPOOL_S* xc = xn + cells[k] * C;
            const CYPOOL_IDX pk = (CYPOOL_IDX)cells[k];
            for (ptrdiff_t j = 0; j < B; j++) {
                CYPOOL_T v = CYPOOL_LD(xc[j]);
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
                q[j] = CYPOOL_SEL(mk, pk, q[j]);
            }
        }
        for (ptrdiff_t j = 0; j < B; j++) idx[j] = (int64_t)q[j];
    } else {
        for (ptrdiff_t q = 0; q < ncells; q++) {
            const CYPOOL_S* xc = xn + cells[q] * C;
            for (ptrdiff_t j = 0; j < B; j++) {
                CYPOOL_T v = CYPOOL_LD(xc[j]);
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
            }
        }
    }
    for (ptrdiff_t j = 0; j < B; j++) y[j] = CYPOOL_ST(m[j]);
}

#if !CYPOOL_HALF
/* A 1-d channels-last output cell (its window is one run of nc cells along w; positions are
 * columns): max_cl_block over the channel blocks, as cypool_max_fwd_cl takes them. Called with
 * a constant nc for the common windows, so the cell loop unrolls. */
CYPOOL_INLINE void CYPOOL_FN(max_cl_cell_1d)(const CYPOOL_T* xn, CYPOOL_T* ym, int64_t* im,
                                             const ptrdiff_t* cells, ptrdiff_t nc,
                                             int64_t first, ptrdiff_t C)
{
    enum { BL = CYPOOL_CL_BLOCK };
    ptrdiff_t c0 = 0;
    for (; c0 + BL <= C; c0 += BL)
        CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
    if (c0 < C && C >= BL) {   /* a last full block ending at C, as cypool_max_fwd_cl */
        c0 = C - BL;
        CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
        c0 = C;
    }
    if (c0 < C)
        CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C,
                                C - c0);
}

/* the run kernels' rows, defined with cypool_max_fwd_cl below */
CYPOOL_INLINE int CYPOOL_FN(max_cl_runs_row)(const CYPOOL_T* const* base, ptrdiff_t nr,
                                             ptrdiff_t K, ptrdiff_t S, ptrdiff_t pad,
                                             ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t C,
                                             CYPOOL_T* y);

/* Output columns [o0, o1) of sample n of a 1-d channels-last tensor (in_d = in_h = 1). The
 * same cells in the same order as cypool_max_fwd_cl (so the same bits), without its per-row
 * set-up: the window's fields are locals (through the pointer they are reloaded after every
 * store to `cells`, which may alias them), a window's cells are a run of columns, and the
 * columns of a row can be split among threads (a 1-d call has one row per sample: 32 rows of
 * 2048 outputs balance badly over 2 threads). Windows of up to CYPOOL_CL_1D_CELLS cells. */
static void CYPOOL_CLONES CYPOOL_FN(cypool_max_fwd_cl_1d)(const CYPOOL_T* x, CYPOOL_T* y,
                                                          int64_t* idx, const Window* w,
                                                          ptrdiff_t n, ptrdiff_t o0,
                                                          ptrdiff_t o1, ptrdiff_t C)
{
    ptrdiff_t cells[CYPOOL_CL_1D_CELLS];
    const ptrdiff_t k = w->k_w, s = w->s_w, pad = w->pad_w, dil = w->dil_w;
    const ptrdiff_t in_w = w->in_w, out_w = w->out_w;
    const CYPOOL_T* xn = x + n * in_w * C;
    /* values only, interior columns [lo, hi) (whole windows, no dilation): one run each, by
     * max_cl_runs_row */
    ptrdiff_t lo = (pad + s - 1) / s, hi = in_w + pad >= k ? (in_w + pad - k) / s + 1 : 0;
    const CYPOOL_T* base[1] = {xn};
    if (lo < o0) lo = o0;
    if (hi > o1) hi = o1;
    if (idx || dil != 1 || hi <= lo
            || !CYPOOL_FN(max_cl_runs_row)(base, 1, k, s, pad, lo, hi, C, y + n * out_w * C))
        lo = hi = o0;
    for (ptrdiff_t ow = o0; ow < o1; ow++) {
        if (ow == lo && lo < hi) {   /* the interior, done above */
            ow = hi - 1;
            continue;
        }
        const Span sw = dilated_span(ow, k, s, pad, dil, in_w);
        const ptrdiff_t wf = sw.first, nc = sw.count;
        for (ptrdiff_t c = 0; c < nc; c++) cells[c] = wf + c * dil;
        CYPOOL_T* ym = y + (n * out_w + ow) * C;
        int64_t* im = idx ? idx + (n * out_w + ow) * C : NULL;
        if (nc == 3)
            CYPOOL_FN(max_cl_cell_1d)(xn, ym, im, cells, 3, wf, C);
        else if (nc == 2)
            CYPOOL_FN(max_cl_cell_1d)(xn, ym, im, cells, 2, wf, C);
        else
            CYPOOL_FN(max_cl_cell_1d)(xn, ym, im, cells, nc, wf, C);
    }
}
#endif

#if CYPOOL_F16
/* max_cl_block on float rows (float16; bfloat16's conversions vectorise inline, and its rows
 * measured faster without the buffer): the cells' values at xb + at[k] * C, their
 * positions (for the indices) in cells[k]; the block's maxima to y, in float. */
CYPOOL_INLINE void CYPOOL_FN(max_cl_block_f)(const float* restrict xb, float* restrict y,
                                             int64_t* restrict idx, const ptrdiff_t* restrict at,
                                             const ptrdiff_t* restrict cells, ptrdiff_t ncells,
                                             int64_t first, ptrdiff_t C, ptrdiff_t B)
{
    float m[CYPOOL_CL_BLOCK];
    for (ptrdiff_t j = 0; j < B; j++) m[j] = -INFINITY;
    if (idx) {
        CYPOOL_IDX q[CYPOOL_CL_BLOCK];
        for (ptrdiff_t j = 0; j < B; j++) q[j] = -1;
        for (CYPOOL_IDX k = 0; k < (CYPOOL_IDX)ncells; k++) {
            const float* xc = xb + at[k] * C;
            for (ptrdiff_t j = 0; j < B; j++) {
                float v = xc[j];
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
                q[j] = CYPOOL_SEL(mk, k, q[j]);
            }
        }
        for (ptrdiff_t j = 0; j < B; j++) idx[j] = q[j] < 0 ? first : cells[q[j]];
    } else {
        for (ptrdiff_t k = 0; k < ncells; k++) {
            const float* xc = xb + at[k] * C;
            for (ptrdiff_t j = 0; j < B; j++) {
                float v = xc[j];
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
            }
        }
    }
    for (ptrdiff_t j = 0; j < B; j++) y[j] = m[j];
}

/* One channels-last output row of float16, in float: the output columns go in groups
 * whose windows' input (the covered rows, the group's span of columns, all channels) fits a
 * stack buffer with the group's outputs; the input is converted there once (_half.h's row
 * conversions: F16C where the CPU has it), the maxima taken by max_cl_block_f in
 * max_cl_block's order, the outputs stored once. Returns 0, having done nothing, when one
 * window's input does not fit (or the window has over CYPOOL_HALF_CL_CELLS cells): the caller
 * then converts cell by cell. */
CYPOOL_INLINE int CYPOOL_FN(max_cl_row_f)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                          const Window* w, ptrdiff_t row, ptrdiff_t C,
                                          ptrdiff_t* cells)
{
    enum { BL = CYPOOL_CL_BLOCK };
    float xb[CYPOOL_HALF_CL_TILE];
    ptrdiff_t at[CYPOOL_HALF_CL_CELLS];
    const ClRow cr = cl_row_spans(w, row);
    const CYPOOL_S* xn = x + cr.n * w->in_d * w->in_h * w->in_w * C;
    const ptrdiff_t df = cr.d.first, dc = cr.d.count, hf = cr.h.first, hc = cr.h.count;
    const ptrdiff_t nr = dc * hc, OW = w->out_w;
    if (w->k_d * w->k_h * w->k_w > CYPOOL_HALF_CL_CELLS) return 0;
    /* every window must fit alone: its columns, the rows, all channels, and its output */
    for (ptrdiff_t ow = 0; ow < OW; ow++) {
        const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
        const ptrdiff_t cols = sw.count ? (sw.count - 1) * w->dil_w + 1 : 0;
        if ((nr * cols + 1) * C > CYPOOL_HALF_CL_TILE) return 0;
    }
    ptrdiff_t ow0 = 0;
    while (ow0 < OW) {
        /* the group [ow0, ow1): input columns [lo, hi) (with dilation and padding a window's
         * first real column can precede the previous window's) */
        const Span s0 = dilated_span(ow0, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
        ptrdiff_t lo = s0.first, hi = s0.count ? lo + (s0.count - 1) * w->dil_w + 1 : lo;
        ptrdiff_t ow1 = ow0 + 1;
        while (ow1 < OW) {
            const Span s1 = dilated_span(ow1, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
            ptrdiff_t l1 = lo, h1 = hi;
            if (s1.count) {
                if (s1.first < l1) l1 = s1.first;
                if (s1.first + (s1.count - 1) * w->dil_w + 1 > h1)
                    h1 = s1.first + (s1.count - 1) * w->dil_w + 1;
            }
            if ((nr * (h1 - l1) + (ow1 + 1 - ow0)) * C > CYPOOL_HALF_CL_TILE) break;
            lo = l1;
            hi = h1;
            ow1++;
        }
        const ptrdiff_t span = hi - lo;
        float* yf = xb + nr * span * C;
        for (ptrdiff_t a = 0; a < dc; a++)
            for (ptrdiff_t b = 0; b < hc; b++)
                CYPOOL_LDN(xn + (((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w
                                 + lo) * C,
                           xb + (a * hc + b) * span * C, span * C);
        for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
            const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
            const ptrdiff_t wf = sw.first, wc = sw.count;
            ptrdiff_t nc = 0;
            for (ptrdiff_t a = 0; a < dc; a++)
                for (ptrdiff_t b = 0; b < hc; b++)
                    for (ptrdiff_t c = 0; c < wc; c++) {
                        at[nc] = (a * hc + b) * span + wf - lo + c * w->dil_w;
                        cells[nc++] = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h)
                                      * w->in_w + wf + c * w->dil_w;
                    }
            int64_t first = (df * w->in_h + hf) * w->in_w + wf;
            float* ym = yf + (ow - ow0) * C;
            int64_t* im = idx ? idx + (row * OW + ow) * C : NULL;
            ptrdiff_t c0 = 0;
            for (; c0 + BL <= C; c0 += BL)
                CYPOOL_FN(max_cl_block_f)(xb + c0, ym + c0, im ? im + c0 : NULL, at, cells, nc,
                                          first, C, BL);
            if (c0 < C && C >= BL) {   /* as cypool_max_fwd_cl: a last full block ending at C */
                c0 = C - BL;
                CYPOOL_FN(max_cl_block_f)(xb + c0, ym + c0, im ? im + c0 : NULL, at, cells, nc,
                                          first, C, BL);
                c0 = C;
            }
            if (c0 < C)
                CYPOOL_FN(max_cl_block_f)(xb + c0, ym + c0, im ? im + c0 : NULL, at, cells, nc,
                                          first, C, C - c0);
        }
        CYPOOL_STN(yf, y + (row * OW + ow0) * C, (ow1 - ow0) * C);
        ow0 = ow1;
    }
    return 1;
}
#endif

#if CYPOOL_HALF && defined(CYPOOL_F16C)
/* float16 / bfloat16 channels-last rows with F16C, the conversions inside the window loop: for each output
 * cell, vectors of 8 / 16 channels keep their maxima (and positions) in registers while the
 * window's cells (`cells`, window order) stream by, max_cl_block's rule and order, up to four
 * vectors at a time; 16-bit results stored straight from them. A vector that would pass C ends at C
 * (its overlap recomputes the same channels); fewer than 8 channels go one by one. */
#define CYPOOL_CL_F16C_ARGS const uint16_t* restrict xn, uint16_t* restrict y, \
    int64_t* restrict idx, const ptrdiff_t* restrict cells, ptrdiff_t nc, int64_t first, \
    ptrdiff_t C, const ptrdiff_t* at
CYPOOL_AVX2_INLINE void CYPOOL_FN(max_cl_f16c_vecs)(CYPOOL_CL_F16C_ARGS, const int U)
{
    __m256 m[4];
    __m256i p[4];
    for (int u = 0; u < U; u++) {
        m[u] = _mm256_set1_ps(-INFINITY);
        p[u] = _mm256_set1_epi32((int32_t)first);
    }
    for (ptrdiff_t k = 0; k < nc; k++) {
        const uint16_t* xc = xn + cells[k] * C;
        const __m256i pk = _mm256_set1_epi32((int32_t)cells[k]);
        for (int u = 0; u < U; u++) {
            const __m256 v = CYPOOL_CVT8(_mm_loadu_si128((const __m128i*)(xc + at[u])));
            const __m256 mk = _mm256_or_ps(_mm256_cmp_ps(v, m[u], _CMP_GT_OQ),
                                           _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            m[u] = _mm256_blendv_ps(m[u], v, mk);
            if (idx)
                p[u] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(p[u]),
                                                            _mm256_castsi256_ps(pk), mk));
        }
    }
    for (int u = 0; u < U; u++) {
        _mm_storeu_si128((__m128i*)(y + at[u]), CYPOOL_PACK8(m[u]));
        if (idx) {
            _mm256_storeu_si256((__m256i*)(idx + at[u]),
                                _mm256_cvtepi32_epi64(_mm256_castsi256_si128(p[u])));
            _mm256_storeu_si256((__m256i*)(idx + at[u] + 4),
                                _mm256_cvtepi32_epi64(_mm256_extracti128_si256(p[u], 1)));
        }
    }
}
CYPOOL_AVX512_INLINE void CYPOOL_FN(max_cl_f16c_vecs16)(CYPOOL_CL_F16C_ARGS, const int U)
{
    __m512 m[4];
    __m512i p[4];
    for (int u = 0; u < U; u++) {
        m[u] = _mm512_set1_ps(-INFINITY);
        p[u] = _mm512_set1_epi32((int32_t)first);
    }
    for (ptrdiff_t k = 0; k < nc; k++) {
        const uint16_t* xc = xn + cells[k] * C;
        const __m512i pk = _mm512_set1_epi32((int32_t)cells[k]);
        for (int u = 0; u < U; u++) {
            const __m512 v = CYPOOL_CVT16(_mm256_loadu_si256((const __m256i*)(xc + at[u])));
            const __mmask16 mk = _mm512_cmp_ps_mask(v, m[u], _CMP_GT_OQ)
                                 | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            m[u] = _mm512_mask_blend_ps(mk, m[u], v);
            if (idx) p[u] = _mm512_mask_blend_epi32(mk, p[u], pk);
        }
    }
    for (int u = 0; u < U; u++) {
        _mm256_storeu_si256((__m256i*)(y + at[u]), CYPOOL_PACK16(m[u]));
        if (idx) {
            _mm512_storeu_si512((void*)(idx + at[u]),
                                _mm512_cvtepi32_epi64(_mm512_castsi512_si256(p[u])));
            _mm512_storeu_si512((void*)(idx + at[u] + 8),
                                _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p[u], 1)));
        }
    }
}
/* Four neighbouring interior output cells of a channels-last row (whole windows of K columns,
 * stride S, no dilation) at once, 16 channels a vector: the window rows start at rowpos[r] + wf0
 * (r < nr, window order), output g's columns are g * S ... g * S + K - 1 of them; each column's
 * cells are loaded and converted once for the outputs holding them (with S = 1, half the
 * conversions), and each output still sees its cells in window order. y / idx: the first
 * output's channel 0, the others C further each. */
CYPOOL_AVX512_INLINE void CYPOOL_FN(max_cl_f16c_run4)(const uint16_t* restrict xn,
                                                       uint16_t* restrict y,
                                                       int64_t* restrict idx,
                                                       const ptrdiff_t* restrict rowpos,
                                                       ptrdiff_t nr, ptrdiff_t wf0, int64_t first0,
                                                       ptrdiff_t C, const int K, const int S)
{
    enum { G = 4 };
    const int ncol = (G - 1) * S + K;
    for (ptrdiff_t c0 = 0;; c0 += 16) {
        const ptrdiff_t ch = c0 + 16 <= C ? c0 : C - 16;
        __m512 m[G];
        __m512i p[G];
        for (int g = 0; g < G; g++) {
            m[g] = _mm512_set1_ps(-INFINITY);
            p[g] = _mm512_set1_epi32((int32_t)(first0 + g * S));
        }
        for (ptrdiff_t r = 0; r < nr; r++) {
            const ptrdiff_t pos = rowpos[r] + wf0;
            const uint16_t* base = xn + pos * C + ch;
            for (int col = 0; col < ncol; col++) {
                const __m512 v = CYPOOL_CVT16(_mm256_loadu_si256((const __m256i*)(base + col * C)));
                const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                const __m512i pk = _mm512_set1_epi32((int32_t)(pos + col));
                for (int g = 0; g < G; g++) {
                    if (col < g * S || col >= g * S + K) continue;
                    const __mmask16 mk = _mm512_cmp_ps_mask(v, m[g], _CMP_GT_OQ) | nan;
                    m[g] = _mm512_mask_blend_ps(mk, m[g], v);
                    if (idx) p[g] = _mm512_mask_blend_epi32(mk, p[g], pk);
                }
            }
        }
        for (int g = 0; g < G; g++) {
            _mm256_storeu_si256((__m256i*)(y + g * C + ch), CYPOOL_PACK16(m[g]));
            if (idx) {
                _mm512_storeu_si512((void*)(idx + g * C + ch),
                                    _mm512_cvtepi32_epi64(_mm512_castsi512_si256(p[g])));
                _mm512_storeu_si512((void*)(idx + g * C + ch + 8),
                                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p[g], 1)));
            }
        }
        if (ch + 16 >= C) return;
    }
}
/* The same, 8 channels a vector (AVX2) */
CYPOOL_AVX2_INLINE void CYPOOL_FN(max_cl_f16c_run4_8)(const uint16_t* restrict xn,
                                                       uint16_t* restrict y,
                                                       int64_t* restrict idx,
                                                       const ptrdiff_t* restrict rowpos,
                                                       ptrdiff_t nr, ptrdiff_t wf0, int64_t first0,
                                                       ptrdiff_t C, const int K, const int S)
{
    enum { G = 4 };
    const int ncol = (G - 1) * S + K;
    for (ptrdiff_t c0 = 0;; c0 += 8) {
        const ptrdiff_t ch = c0 + 8 <= C ? c0 : C - 8;
        __m256 m[G];
        __m256i p[G];
        for (int g = 0; g < G; g++) {
            m[g] = _mm256_set1_ps(-INFINITY);
            p[g] = _mm256_set1_epi32((int32_t)(first0 + g * S));
        }
        for (ptrdiff_t r = 0; r < nr; r++) {
            const ptrdiff_t pos = rowpos[r] + wf0;
            const uint16_t* base = xn + pos * C + ch;
            for (int col = 0; col < ncol; col++) {
                const __m256 v = CYPOOL_CVT8(_mm_loadu_si128((const __m128i*)(base + col * C)));
                const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
                const __m256 pk = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)(pos + col)));
                for (int g = 0; g < G; g++) {
                    if (col < g * S || col >= g * S + K) continue;
                    const __m256 mk = _mm256_or_ps(_mm256_cmp_ps(v, m[g], _CMP_GT_OQ), nan);
                    m[g] = _mm256_blendv_ps(m[g], v, mk);
                    if (idx)
                        p[g] = _mm256_castps_si256(
                            _mm256_blendv_ps(_mm256_castsi256_ps(p[g]), pk, mk));
                }
            }
        }
        for (int g = 0; g < G; g++) {
            _mm_storeu_si128((__m128i*)(y + g * C + ch), CYPOOL_PACK8(m[g]));
            if (idx) {
                _mm256_storeu_si256((__m256i*)(idx + g * C + ch),
                                    _mm256_cvtepi32_epi64(_mm256_castsi256_si128(p[g])));
                _mm256_storeu_si256((__m256i*)(idx + g * C + ch + 4),
                                    _mm256_cvtepi32_epi64(_mm256_extracti128_si256(p[g], 1)));
            }
        }
        if (ch + 8 >= C) return;
    }
}
/* RUN4 (max_cl_f16c_run4 or _run4_8) on outputs [ow, ow + 4) with constant K and S, as the
 * row's window asks */
#define CYPOOL_CL_F16C_RUN(RUN4) do { \
    ptrdiff_t nr = 0; \
    for (ptrdiff_t a = 0; a < dc; a++) \
        for (ptrdiff_t b = 0; b < hc; b++) \
            cells[nr++] = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w; \
    const ptrdiff_t wf0 = ow * w->s_w - w->pad_w; \
    const int64_t first0 = (df * w->in_h + hf) * w->in_w + wf0; \
    uint16_t* ym = y + (row * w->out_w + ow) * C; \
    int64_t* im = idx ? idx + (row * w->out_w + ow) * C : NULL; \
    if (w->k_w == 3 && w->s_w == 1) { \
        if (im) RUN4(xn, ym, im, cells, nr, wf0, first0, C, 3, 1); \
        else RUN4(xn, ym, NULL, cells, nr, wf0, first0, C, 3, 1); \
    } else if (w->k_w == 3) { \
        if (im) RUN4(xn, ym, im, cells, nr, wf0, first0, C, 3, 2); \
        else RUN4(xn, ym, NULL, cells, nr, wf0, first0, C, 3, 2); \
    } else { \
        if (im) RUN4(xn, ym, im, cells, nr, wf0, first0, C, 2, 1); \
        else RUN4(xn, ym, NULL, cells, nr, wf0, first0, C, 2, 1); \
    } \
} while (0)
#define CYPOOL_CL_F16C_RUN16 CYPOOL_CL_F16C_RUN(CYPOOL_FN(max_cl_f16c_run4))
#define CYPOOL_CL_F16C_RUN8 CYPOOL_CL_F16C_RUN(CYPOOL_FN(max_cl_f16c_run4_8))

/* One output cell's C channels: vectors of L channels by groups of up to 4 */
#define CYPOOL_CL_F16C_CELL(L, VECS) do { \
    const ptrdiff_t nv = (C + L - 1) / L; \
    for (ptrdiff_t g = 0; g < nv; g += 4) { \
        ptrdiff_t at[4]; \
        const int U = nv - g < 4 ? (int)(nv - g) : 4; \
        for (int u = 0; u < U; u++) at[u] = (g + u) * L < C - L ? (g + u) * L : C - L; \
        switch (U) { \
        case 4: VECS(xn, ym, im, cells, nc, first, C, at, 4); break; \
        case 3: VECS(xn, ym, im, cells, nc, first, C, at, 3); break; \
        case 2: VECS(xn, ym, im, cells, nc, first, C, at, 2); break; \
        default: VECS(xn, ym, im, cells, nc, first, C, at, 1); break; \
        } \
    } \
} while (0)
/* The row: cypool_max_fwd_cl's walk over the output cells, lanes L (8 or 16) */
#define CYPOOL_CL_F16C_ROW(L, VECS, RUN) do { \
    const ClRow cr = cl_row_spans(w, row); \
    const uint16_t* xn = x + cr.n * w->in_d * w->in_h * w->in_w * C; \
    const ptrdiff_t df = cr.d.first, dc = cr.d.count, hf = cr.h.first, hc = cr.h.count; \
    ptrdiff_t lo = 0, hi = 0;   /* outputs whose windows are whole along w */ \
    const int run = C >= L && dc * hc > 0 && w->dil_w == 1 \
                    && ((w->k_w == 3 && (w->s_w == 1 || w->s_w == 2)) \
                        || (w->k_w == 2 && w->s_w == 1)); \
    if (run) interior_outputs(w->out_w, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w, &lo, &hi); \
    for (ptrdiff_t ow = 0; ow < w->out_w; ow++) { \
        if (ow == skip_lo && skip_lo < skip_hi) {   /* done by the caller */ \
            ow = skip_hi - 1; \
            continue; \
        } \
        if (run && ow >= lo && ow + 4 <= hi) { \
            RUN; \
            ow += 3; \
            continue; \
        } \
        const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w); \
        const ptrdiff_t wf = sw.first, wc = sw.count; \
        ptrdiff_t nc = 0; \
        for (ptrdiff_t a = 0; a < dc; a++) \
            for (ptrdiff_t b = 0; b < hc; b++) \
                for (ptrdiff_t c = 0; c < wc; c++) \
                    cells[nc++] = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w \
                                  + wf + c * w->dil_w; \
        const int64_t first = (df * w->in_h + hf) * w->in_w + wf; \
        uint16_t* ym = y + (row * w->out_w + ow) * C; \
        int64_t* im = idx ? idx + (row * w->out_w + ow) * C : NULL; \
        if (C >= L) { \
            CYPOOL_CL_F16C_CELL(L, VECS); \
        } else if (C >= 8) { \
            CYPOOL_CL_F16C_CELL(8, CYPOOL_FN(max_cl_f16c_vecs)); \
        } else { \
            for (ptrdiff_t ch = 0; ch < C; ch++) { \
                float m = -INFINITY; \
                int64_t p = first; \
                for (ptrdiff_t k = 0; k < nc; k++) { \
                    const float v = CYPOOL_HLD(xn[cells[k] * C + ch]); \
                    if (v > m || v != v) { m = v; p = cells[k]; } \
                } \
                ym[ch] = CYPOOL_HST(m); \
                if (im) im[ch] = p; \
            } \
        } \
    } \
} while (0)
/* The row's output columns but [skip_lo, skip_hi) */
static __attribute__((target("avx2,f16c"), noinline, unused)) void
CYPOOL_FN(max_cl_f16c)(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                       ptrdiff_t row, ptrdiff_t C, ptrdiff_t* cells, ptrdiff_t skip_lo,
                       ptrdiff_t skip_hi)
{
    CYPOOL_CL_F16C_ROW(8, CYPOOL_FN(max_cl_f16c_vecs), CYPOOL_CL_F16C_RUN8);
}
static __attribute__((target("avx512f,avx2,f16c"), noinline, unused)) void
CYPOOL_FN(max_cl_f16c_avx512)(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                              ptrdiff_t row, ptrdiff_t C, ptrdiff_t* cells, ptrdiff_t skip_lo,
                              ptrdiff_t skip_hi)
{
    CYPOOL_CL_F16C_ROW(16, CYPOOL_FN(max_cl_f16c_vecs16), CYPOOL_CL_F16C_RUN16);
}
/* The 16-bit types' values-only run kernels (max_cl_runs_row's tree on vectors of 32 lanes of
 * 16-bit patterns, C >= 32), where the CPU can: float16 compared as float16 (AVX512-FP16:
 * CYPOOL_LATER_PH, CYPOOL_QUIET_PH), no conversions; bfloat16 compared as float32 pairs
 * (AVX-512BW: CYPOOL_LATER_BF, CYPOOL_QUIET_BF), no row of conversions ((16,112,112,64)
 * 2x2/s2: 0.70 of float32's time through the converting cells, 0.56-0.60 this way). */
#if CYPOOL_F16 && defined(CYPOOL_FP16)
#define CYPOOL_RUNS16 1
#define CYPOOL_RUNS16_CPU() cypool_avx512fp16()
#define CYPOOL_RUNS16_TARGET "avx512fp16,avx512bw,avx512f"
#define CYPOOL_RUNS16_LATER CYPOOL_LATER_PH
#define CYPOOL_RUNS16_QUIET CYPOOL_QUIET_PH
#elif !CYPOOL_F16
#define CYPOOL_RUNS16 1
#define CYPOOL_RUNS16_CPU() __builtin_cpu_supports("avx512bw")
#define CYPOOL_RUNS16_TARGET "avx512bw,avx512f"
#define CYPOOL_RUNS16_LATER CYPOOL_LATER_BF
#define CYPOOL_RUNS16_QUIET CYPOOL_QUIET_BF
#else
#define CYPOOL_RUNS16 0
#endif
#if CYPOOL_RUNS16
static __attribute__((target(CYPOOL_RUNS16_TARGET), noinline, unused)) int
CYPOOL_FN(max_cl_runs_row16)(const uint16_t* const* base, ptrdiff_t nr, ptrdiff_t K,
                             ptrdiff_t S, ptrdiff_t pad, ptrdiff_t lo, ptrdiff_t hi,
                             ptrdiff_t C, uint16_t* y)
{
    CYPOOL_CL_VCASES(uint16_t, __m512i, 32, CYPOOL_RUNS16_LATER, CYPOOL_RUNS16_QUIET);
}
#endif
#undef CYPOOL_CL_F16C_ROW
#undef CYPOOL_CL_F16C_RUN16
#undef CYPOOL_CL_F16C_RUN8
#undef CYPOOL_CL_F16C_RUN
#undef CYPOOL_CL_F16C_CELL
#undef CYPOOL_CL_F16C_ARGS
#undef CYPOOL_CVT8
#undef CYPOOL_CVT16
#undef CYPOOL_PACK8
#undef CYPOOL_PACK16
#undef CYPOOL_HLD
#undef CYPOOL_HST
#undef CYPOOL_AVX2_INLINE
#undef CYPOOL_AVX512_INLINE
#endif

#if !CYPOOL_HALF
/* Channels-last windows whose cells along w are adjacent (no dilation along w): a window's input
 * is one run of K cells (K * C contiguous values) per window row (d, h). max_cl_block folds the
 * cells into its running maxima one after another, one dependent compare-and-blend per cell;
 * that chain's latency, not the loads, bounded the 3-d 2x2x2 rows (~100 cycles per output cell
 * of 32 channels, the input in L2). The window rule, a later state b replacing an earlier a when
 * b > a or b is NaN, is associative, so the run kernels fold each run's cells in order and
 * combine the runs as a tree, neighbours in order: the scan's value (first maximum, last NaN with
 * its payload) with independent chains. Values only: with indices the rows keep max_cl_block.
 * Run counts of CYPOOL_CL_RUNS at most. */

#if defined(__x86_64__) && defined(__GNUC__)
/* Values only, with AVX-512F or AVX2 where the CPU has them: GCC's vector types in functions
 * built for that ISA, each combination one max, one unordered compare and one blend. (Written
 * as scalar loops for gcc to vectorise, the tree's levels came out as merged selects of three
 * times the instructions; target_clones cannot help: vector types are lowered for the baseline
 * ISA before the clones are made.) C of at least one vector; the last vector ends at C,
 * overlapping the one before (channels computed twice give the same bits). */
typedef CYPOOL_T CYPOOL_FN(cl_v64) __attribute__((vector_size(64)));
typedef CYPOOL_T CYPOOL_FN(cl_v32) __attribute__((vector_size(32)));
/* macros, not functions: a helper without the caller's target would be lowered without it.
 * b after a is max_cl_block's rule on a vector: max(b, a) (b unless a is greater: ties keep a),
 * then the lanes where b is NaN taken from b. */
#define CYPOOL_CL_LATER64(a, b) ({ \
    const CYPOOL_FN(cl_v64) a_ = (a), b_ = (b); \
    __builtin_choose_expr(sizeof(CYPOOL_T) == 4, \
        (CYPOOL_FN(cl_v64))_mm512_mask_mov_ps(_mm512_max_ps((__m512)b_, (__m512)a_), \
            _mm512_cmp_ps_mask((__m512)b_, (__m512)b_, _CMP_UNORD_Q), (__m512)b_), \
        (CYPOOL_FN(cl_v64))_mm512_mask_mov_pd(_mm512_max_pd((__m512d)b_, (__m512d)a_), \
            _mm512_cmp_pd_mask((__m512d)b_, (__m512d)b_, _CMP_UNORD_Q), (__m512d)b_)); })
#define CYPOOL_CL_LATER32(a, b) ({ \
    const CYPOOL_FN(cl_v32) a_ = (a), b_ = (b); \
    __builtin_choose_expr(sizeof(CYPOOL_T) == 4, \
        (CYPOOL_FN(cl_v32))_mm256_blendv_ps(_mm256_max_ps((__m256)b_, (__m256)a_), (__m256)b_, \
            _mm256_cmp_ps((__m256)b_, (__m256)b_, _CMP_UNORD_Q)), \
        (CYPOOL_FN(cl_v32))_mm256_blendv_pd(_mm256_max_pd((__m256d)b_, (__m256d)a_), \
            (__m256d)b_, _mm256_cmp_pd((__m256d)b_, (__m256d)b_, _CMP_UNORD_Q))); })
#define CYPOOL_CL_VARGS const CYPOOL_T* const* base, ptrdiff_t nr, ptrdiff_t K, ptrdiff_t S, \
    ptrdiff_t pad, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t C, CYPOOL_T* y
static __attribute__((target("avx512f"), noinline, unused)) int
CYPOOL_FN(max_cl_runs_row_avx512)(CYPOOL_CL_VARGS)
{
    CYPOOL_CL_VCASES(CYPOOL_T, CYPOOL_FN(cl_v64), (ptrdiff_t)(64 / sizeof(CYPOOL_T)),
                     CYPOOL_CL_LATER64, CYPOOL_CL_AS_IS);
}
static __attribute__((target("avx2"), noinline, unused)) int
CYPOOL_FN(max_cl_runs_row_avx2)(CYPOOL_CL_VARGS)
{
    CYPOOL_CL_VCASES(CYPOOL_T, CYPOOL_FN(cl_v32), (ptrdiff_t)(32 / sizeof(CYPOOL_T)),
                     CYPOOL_CL_LATER32, CYPOOL_CL_AS_IS);
}
#undef CYPOOL_CL_VARGS
#undef CYPOOL_CL_LATER32
#undef CYPOOL_CL_LATER64
#define CYPOOL_CL_VEC 1
#endif

/* Output columns [lo, hi) of one row, values only, each window K whole adjacent cells from column
 * ow * S - pad, in nr runs (base[r]: run r's row start). Returns 0, doing nothing, where no run
 * kernel applies (run shapes other than 3-d 2x2x2 and 3x3x3, 2-d 2x2 and 3x3, 1-d 2 and 3
 * interiors; C below one vector; no AVX2); the caller then takes those columns cell by cell. */
CYPOOL_INLINE int CYPOOL_FN(max_cl_runs_row)(const CYPOOL_T* const* base, ptrdiff_t nr,
                                             ptrdiff_t K, ptrdiff_t S, ptrdiff_t pad,
                                             ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t C,
                                             CYPOOL_T* y)
{
#ifdef CYPOOL_CL_VEC
    const int isa = cypool_cl_isa();
    if (isa == 2 && C * (ptrdiff_t)sizeof(CYPOOL_T) >= 64
            && CYPOOL_FN(max_cl_runs_row_avx512)(base, nr, K, S, pad, lo, hi, C, y))
        return 1;
    if (isa >= 1 && C * (ptrdiff_t)sizeof(CYPOOL_T) >= 32
            && CYPOOL_FN(max_cl_runs_row_avx2)(base, nr, K, S, pad, lo, hi, C, y))
        return 1;
#else
    (void)base; (void)nr; (void)K; (void)S; (void)pad; (void)lo; (void)hi; (void)C; (void)y;
#endif
    return 0;
}
#endif

/* The run kernels' view of a channels-last row (cr: its sample and window rows): base[r], the
 * start of window row r (d, h) in sample xn, and the interior output columns [lo, hi) (whole
 * windows along w). 0 where no run kernel can take the row (dilation along w, more than
 * CYPOOL_CL_RUNS window rows, no interior). */
CYPOOL_INLINE int CYPOOL_FN(cl_runs)(const Window* w, const CYPOOL_S* xn, ClRow cr, ptrdiff_t C,
                                     const CYPOOL_S** base, ptrdiff_t* lo, ptrdiff_t* hi)
{
    const ptrdiff_t dc = cr.d.count, hc = cr.h.count;
    if (w->dil_w != 1 || dc * hc < 1 || dc * hc > CYPOOL_CL_RUNS) return 0;
    for (ptrdiff_t a = 0; a < dc; a++)
        for (ptrdiff_t b = 0; b < hc; b++)
            base[a * hc + b] = xn + ((cr.d.first + a * w->dil_d) * w->in_h + cr.h.first
                                     + b * w->dil_h) * w->in_w * C;
    *lo = (w->pad_w + w->s_w - 1) / w->s_w;
    *hi = w->in_w + w->pad_w >= w->k_w ? (w->in_w + w->pad_w - w->k_w) / w->s_w + 1 : 0;
    if (*hi > w->out_w) *hi = w->out_w;
    if (*hi < *lo) *hi = *lo;
    return *lo < *hi;
}

/* One output row (n, od, oh) of a channels-last tensor. `cells` is caller-provided scratch of
 * k_d*k_h*k_w entries: the flat positions of the current window's real cells in window order.
 * Channels go in fixed blocks of CYPOOL_CL_BLOCK (compile-time trip count, so the block's
 * maxima are register-resident), the remainder in one variable block. With idx, the plane's
 * positions must fit CYPOOL_IDX (int32 for float data: planes of fewer than 2**31 cells). */
static void CYPOOL_CLONES CYPOOL_FN(cypool_max_fwd_cl)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                                      const Window* w, ptrdiff_t row,
                                                      ptrdiff_t C, ptrdiff_t* cells)
{
#if CYPOOL_HALF && defined(CYPOOL_F16C)
    /* 16-bit types with F16C: converted in registers (max_cl_f16c) */
    switch (cypool_f16c()) {
    case 2: {
        ptrdiff_t lo = 0, hi = 0;
#if CYPOOL_RUNS16
        /* values only: the interior columns through the 16-bit runs */
        const ClRow cr = cl_row_spans(w, row);
        const uint16_t* base[CYPOOL_CL_RUNS];
        /* the CPU asked first: cl_runs sets the interior that the call below then skips */
        if (!idx && C >= 32 && CYPOOL_RUNS16_CPU()
                && CYPOOL_FN(cl_runs)(w, x + cr.n * w->in_d * w->in_h * w->in_w * C, cr, C, base,
                                      &lo, &hi)
                && !CYPOOL_FN(max_cl_runs_row16)(base, cr.d.count * cr.h.count, w->k_w,
                                                 w->s_w, w->pad_w, lo, hi, C,
                                                 y + row * w->out_w * C))
            lo = hi = 0;
#undef CYPOOL_RUNS16_CPU
#undef CYPOOL_RUNS16_TARGET
#undef CYPOOL_RUNS16_LATER
#undef CYPOOL_RUNS16_QUIET
#endif
#undef CYPOOL_RUNS16
        CYPOOL_FN(max_cl_f16c_avx512)(x, y, idx, w, row, C, cells, lo, hi);
        return;
    }
    case 1: CYPOOL_FN(max_cl_f16c)(x, y, idx, w, row, C, cells, 0, 0); return;
    default: break;
    }
#endif
#if CYPOOL_F16
    if (CYPOOL_FN(max_cl_row_f)(x, y, idx, w, row, C, cells)) return;
#endif
    enum { BL = CYPOOL_CL_BLOCK };
    const ClRow cr = cl_row_spans(w, row);
    const CYPOOL_S* xn = x + cr.n * w->in_d * w->in_h * w->in_w * C;
    const ptrdiff_t df = cr.d.first, dc = cr.d.count, hf = cr.h.first, hc = cr.h.count;
#if !CYPOOL_HALF
    /* values only: the row's runs (window rows d x h) and its interior output columns
     * [lo, hi) (whole windows), taken by max_cl_runs_row */
    const CYPOOL_T* base[CYPOOL_CL_RUNS];
    ptrdiff_t lo = 0, hi = 0;
    if (!idx && CYPOOL_FN(cl_runs)(w, xn, cr, C, base, &lo, &hi)
            && !CYPOOL_FN(max_cl_runs_row)(base, dc * hc, w->k_w, w->s_w, w->pad_w, lo, hi, C,
                                           y + row * w->out_w * C))
        lo = hi = 0;
#endif
    for (ptrdiff_t ow = 0; ow < w->out_w; ow++) {
#if !CYPOOL_HALF
        if (ow == lo && lo < hi) {   /* the interior, done above */
            ow = hi - 1;
            continue;
        }
#endif
        const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
        const ptrdiff_t wf = sw.first, wc = sw.count;
        ptrdiff_t nc = 0;
        for (ptrdiff_t a = 0; a < dc; a++)
            for (ptrdiff_t b = 0; b < hc; b++)
                for (ptrdiff_t c = 0; c < wc; c++)
                    cells[nc++] = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w
                                  + wf + c * w->dil_w;
        int64_t first = (df * w->in_h + hf) * w->in_w + wf;
        CYPOOL_S* ym = y + (row * w->out_w + ow) * C;
        int64_t* im = idx ? idx + (row * w->out_w + ow) * C : NULL;
        ptrdiff_t c0 = 0;
        for (; c0 + BL <= C; c0 += BL)
            CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
        /* the last channels: one more full block ending at C (its overlap with the previous
         * block recomputes the same maxima and indices), so every block is a constant BL
         * wide; gcc vectorises constant-width blocks and not narrow or variable ones
         * (measured: a 16-wide block ran 10x slower than a 32-wide one) */
        if (c0 < C && C >= BL) {
            c0 = C - BL;
            CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
            c0 = C;
        }
        if (c0 < C)
            CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C,
                                  C - c0);
    }
}

#if CYPOOL_HALF
#ifndef CYPOOL_ADD_G_FIRST
#define CYPOOL_ADD_G_FIRST
/* g + t with x86's NaN rule for a first operand g written out: of two NaNs g's, made quiet. A
 * compiler may swap the operands of a float add (it commutes but for NaN payloads), so without
 * this the payload of a NaN + NaN add changed with the code around the loop. */
CYPOOL_INLINE float cypool_add_g_first(float g, float t)
{
    const float s = g + t;
    const float r = t != t ? cypool_bits_f32(cypool_f32_bits(t) | 0x400000u) : s;
    return g != g ? cypool_bits_f32(cypool_f32_bits(g) | 0x400000u) : r;
}
#endif

/* Whether n 16-bit gradient values hold a signalling NaN (exponent all ones, payload not zero,
 * quiet bit clear). The plane kernels whose first add to a cell is a real add (which makes such
 * a NaN quiet) leave a plane holding one to the loops with the shortcut, which keep it. */
CYPOOL_INLINE int CYPOOL_FN(max_bwd_has_snan)(const uint16_t* g, ptrdiff_t n)
{
#if CYPOOL_F16
    const unsigned e = 0x7c00u, f = 0x3ffu, q = 0x200u;
#else
    const unsigned e = 0x7f80u, f = 0x7fu, q = 0x40u;
#endif
    int snan = 0;
    for (ptrdiff_t o = 0; o < n; o++) snan |= (g[o] & e) == e && (g[o] & f) != 0 && !(g[o] & q);
    return snan;
}

/* One add of the max backward's scatter, PyTorch's: the cell's value plus g in float, rounded. A
 * cell at +0 (its first add; the cells never hold -0) becomes 0 + g exactly: g itself, -0 made
 * +0, without the conversions. Both are computed and one is selected: with overlapping windows
 * which add comes first is unpredictable, and a branch mispredicts. */
#define CYPOOL_SCATTER_ADD(t, g, LD, ST) \
    ((t) == 0 ? cypool_plus_zero(g) : (uint16_t)(ST(cypool_add_g_first(LD(g), LD(t)))))

/* The scatter's loops with the conversions LD and ST: channels [c0, c1) of one sample of C
 * interleaved channels (channels-first: one plane, C = 1, c0 = 0, c1 = 1). Returns the count of
 * indices outside [0, in_plane): skipped, never written. */
#define CYPOOL_SCATTER_LOOPS(LD, ST) do { \
    if (C == 1) { \
        for (ptrdiff_t o = 0; o < out_plane; o++) { \
            const int64_t i = idx[o]; \
            if ((uint64_t)i < (uint64_t)in_plane) gi[i] = CYPOOL_SCATTER_ADD(gi[i], go[o], LD, ST); \
            else bad++; \
        } \
        break; \
    } \
    for (ptrdiff_t o = 0; o < out_plane; o++) { \
        const int64_t* restrict io = idx + o * C + c0; \
        const CYPOOL_S* restrict g = go + o * C + c0; \
        for (ptrdiff_t ch = 0; ch < c1 - c0; ch++) { \
            const int64_t i = io[ch]; \
            if ((uint64_t)i < (uint64_t)in_plane) { \
                CYPOOL_S* t = gi + i * C + c0 + ch; \
                *t = CYPOOL_SCATTER_ADD(*t, g[ch], LD, ST); \
            } else { \
                bad++; \
            } \
        } \
    } \
} while (0)

#if CYPOOL_F16 && defined(CYPOOL_F16C)
/* float16's loops with F16C's one-instruction scalar conversions (the portable ones are about
 * 15 operations each way), for CPUs with F16C: the same bits (_half.h) */
#define CYPOOL_F16C_LD(h) _cvtsh_ss(h)
#define CYPOOL_F16C_ST(f) _cvtss_sh(f, CYPOOL_F16C_RNE)
static __attribute__((target("avx2,f16c"), noinline, unused)) ptrdiff_t
CYPOOL_FN(max_bwd_scatter_f16c)(const CYPOOL_S* restrict go, const int64_t* restrict idx,
                                CYPOOL_S* restrict gi, ptrdiff_t in_plane, ptrdiff_t out_plane,
                                ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1)
{
    ptrdiff_t bad = 0;
    CYPOOL_SCATTER_LOOPS(CYPOOL_F16C_LD, CYPOOL_F16C_ST);
    return bad;
}

#endif

#if CYPOOL_F16 && defined(CYPOOL_FP16)
/* float16's channels-first plane (C = 1) where the CPU adds float16 (cypool_fp16_adds): the
 * 16-bit loop with AVX512-FP16's scalar add, vaddsh, which is the float add rounded to float16
 * in one instruction (the same bits: cypool_fp16_adds), on the cells in place. No conversions,
 * no buffer: an add to the cell of the add before waits for its store only, as float32's
 * scatter does. The gradient is the add's first source (x86's NaN rule, cypool_add_g_first),
 * written in assembly so the compiler keeps the order. A cell at +0 needs no shortcut here:
 * 0 + g is g with -0 made +0, as the shortcut gives, except for a signalling NaN, which the
 * shortcut keeps and the add makes quiet: a gradient holding one returns -1 (nothing done) and
 * goes to the other loops. Otherwise returns the count of indices outside the plane. */
static __attribute__((target("avx512fp16,avx512bw,avx512f"), noinline, unused)) ptrdiff_t
CYPOOL_FN(max_bwd_plane_fp16)(const uint16_t* restrict go, const int64_t* restrict idx,
                              uint16_t* restrict gi, ptrdiff_t in_plane, ptrdiff_t out_plane)
{
    if (CYPOOL_FN(max_bwd_has_snan)(go, out_plane)) return -1;
    memset(gi, 0, (size_t)in_plane * sizeof(uint16_t));
    ptrdiff_t bad = 0;
    for (ptrdiff_t o = 0; o < out_plane; o++) {
        const int64_t i = idx[o];
        if ((uint64_t)i < (uint64_t)in_plane) {
            __m128h s;
            __asm__("vaddsh %2, %1, %0" : "=v"(s) : "v"(_mm_load_sh(go + o)),
                                                     "v"(_mm_load_sh(gi + i)));
            _mm_store_sh(gi + i, s);
        } else {
            bad++;
        }
    }
    return bad;
}
#endif

#if defined(CYPOOL_F16C)
/* A channels-first plane (C = 1) with F16C (AVX2 only), through a float buffer: each add done
 * in float and rounded to the 16-bit type there (float16: vcvtps2ph then vcvtph2ps, the value
 * PyTorch's rounded cell holds; bfloat16: cypool_f32_to_bf16's integer steps, nearest even, a
 * NaN keeping its sign and payload top, made quiet), narrowed to 16 bits once. The add chain of
 * a cell hit by neighbouring windows stays in registers, without the 16-bit loop's moves between
 * integer and vector registers on both sides of each add. The gradient is converted to floats
 * 256 outputs at a time, so an add is 13 instructions (19 converting each value on its own), 7
 * where 16 outputs in a row name cells of the window (one vector test for the 16, the adds
 * unrolled). A big result (stream, set by the caller) is written with streamed stores: its lines
 * are not read from memory before they are written (Zen 4, 2 threads, 3-50 MiB results: 0.78-
 * 0.91 of the time).
 * The buffer is a window of CYPOOL_FLOAT_RING cells of the plane, cell c in lane
 * c % CYPOOL_FLOAT_RING, 16 KiB, in L1 (a buffer of the whole plane, 49 KiB for 112x112, was
 * zeroed and narrowed from L2: a third of the kernel's samples on Zen 4), as the ring of
 * max_bwd_plane_avx512: cells below it are final in gi, an index past it moves it on, an index
 * below it adds to gi with the 16-bit loop's add (the same bits). A cell's first add, 0 + g, is
 * g with -0 made +0, as the 16-bit loop's shortcut, except for a signalling NaN, which the
 * shortcut keeps as it is and a conversion makes quiet: a gradient holding one returns -1 (the
 * caller's 16-bit loop then writes every cell again), as does a plane whose adds seldom (under 1
 * in 32 of the first 256 outputs) go to the cell of the add before (non-overlapping windows: the 16-bit
 * loop's adds are independent, and it moves half the bytes; 2x2/s2, 2x64x112x112: 0.84 ms
 * through a buffer, 0.44 without). Otherwise returns the count of indices outside the plane. */
#define CYPOOL_FLOAT_RING 4096
/* 8 cells of the window narrowed */
static inline __attribute__((target("avx2,f16c"), always_inline)) __m128i
CYPOOL_FN(max_bwd_float_narrow8)(const float* b)
{
#if CYPOOL_F16
    return _mm256_cvtps_ph(_mm256_loadu_ps(b), CYPOOL_F16C_RNE);
#else
    const __m256i v = _mm256_srli_epi32(_mm256_castps_si256(_mm256_loadu_ps(b)), 16);
    return _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
#endif
}

/* the window's cells [lo, end) narrowed into gi and their lanes zeroed (lo a multiple of 8);
 * with stream, 16-byte aligned cells are written with streamed stores */
static inline __attribute__((target("avx2,f16c"), always_inline)) void
CYPOOL_FN(max_bwd_float_flush)(float* restrict buf, CYPOOL_S* restrict gi, ptrdiff_t lo,
                               ptrdiff_t end, int stream)
{
    ptrdiff_t c = lo;
    if (stream && ((uintptr_t)(gi + c) & 15) == 0) {
        for (; c + 8 <= end; c += 8) {
            float* b = buf + (c & (CYPOOL_FLOAT_RING - 1));
            _mm_stream_si128((__m128i*)(gi + c), CYPOOL_FN(max_bwd_float_narrow8)(b));
            _mm256_storeu_ps(b, _mm256_setzero_ps());
        }
    }
    for (; c + 8 <= end; c += 8) {
        float* b = buf + (c & (CYPOOL_FLOAT_RING - 1));
        _mm_storeu_si128((__m128i*)(gi + c), CYPOOL_FN(max_bwd_float_narrow8)(b));
        _mm256_storeu_ps(b, _mm256_setzero_ps());
    }
    for (; c < end; c++) {
        float* b = buf + (c & (CYPOOL_FLOAT_RING - 1));
#if CYPOOL_F16
        gi[c] = (CYPOOL_S)_cvtss_sh(*b, CYPOOL_F16C_RNE);
#else
        uint32_t u;
        memcpy(&u, b, 4);
        gi[c] = (CYPOOL_S)(u >> 16);
#endif
        *b = 0.0f;
    }
}

/* t's cell plus g, rounded to the 16-bit type, kept as a float. bfloat16 with ni: rounded by
 * vcvtneps2bf16 (cypool_bf16_rounds), for sums that cannot be subnormal. */
static inline __attribute__((target("avx2,f16c"), always_inline)) void
CYPOOL_FN(max_bwd_float_add)(float* t, const float* g, const int ni)
{
    /* g first: of two NaNs the add returns its first operand's, g's, as the 16-bit loop's
     * compiled add does */
    const __m128 s = _mm_add_ss(_mm_load_ss(g), _mm_load_ss(t));
#if CYPOOL_F16
    (void)ni;
    _mm_store_ss(t, _mm_cvtph_ps(_mm_cvtps_ph(s, CYPOOL_F16C_RNE)));
#else
    if (ni) {
        __m128 r;
        __asm__("vcvtneps2bf16 %1, %0" : "=x"(r) : "x"(s));
        _mm_store_ss(t, _mm_castsi128_ps(_mm_slli_epi32(_mm_castps_si128(r), 16)));
        return;
    }
    /* rounded in integer registers (the vector form's constants were reloaded every add), a
     * NaN made quiet */
    const uint32_t b = (uint32_t)_mm_cvtsi128_si32(_mm_castps_si128(s));
    const uint32_t r = (b & 0x7fffffffu) > 0x7f800000u
                           ? (b | 0x400000u) & 0xffff0000u
                           : (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
    memcpy(t, &r, 4);
#endif
}

/* whether a bfloat16 gradient holds a value other than 0 below 2**-110 in magnitude. While none
 * has, every value a cell takes is 0 or a multiple of 2**-117 (so are the gradients, and a sum
 * of such values rounded to bfloat16 stays one: under 2**-110 it is exact), never subnormal in
 * float32: vcvtneps2bf16 rounds those sums as the integer steps do. */
static inline int CYPOOL_FN(max_bwd_has_tiny)(const uint16_t* g, ptrdiff_t n)
{
    int tiny = 0;
    for (ptrdiff_t o = 0; o < n; o++) {
        const unsigned m = g[o] & 0x7fffu;
        tiny |= m != 0 && m < (17u << 7);
    }
    return tiny;
}

/* whether the 16 indices at p all name cells of the window [lo, lo + lim) */
static inline __attribute__((target("avx2,f16c"), always_inline)) int
CYPOOL_FN(max_bwd_in_window)(const int64_t* p, ptrdiff_t lo, ptrdiff_t lim)
{
    const __m256i below = _mm256_set1_epi64x(lo), top = _mm256_set1_epi64x(lo + lim - 1);
    __m256i out = _mm256_setzero_si256();
    for (int q = 0; q < 16; q += 4) {
        const __m256i v = _mm256_loadu_si256((const __m256i*)(p + q));
        out = _mm256_or_si256(out, _mm256_or_si256(_mm256_cmpgt_epi64(below, v),
                                                   _mm256_cmpgt_epi64(v, top)));
    }
    return _mm256_testz_si256(out, out);
}

static __attribute__((target("avx2,f16c"), noinline, unused)) ptrdiff_t
CYPOOL_FN(max_bwd_plane_f16c)(const CYPOOL_S* restrict go, const int64_t* restrict idx,
                              CYPOOL_S* restrict gi, ptrdiff_t in_plane, ptrdiff_t out_plane,
                              int stream)
{
    _Alignas(32) float buf[CYPOOL_FLOAT_RING];
    /* adds to the cell of the add before (overlapping windows) among the first outputs: 256
     * (1024, and the gradient's signalling NaNs looked for before the adds, read the plane's
     * first indices and its gradient from memory with nothing to overlap: 1 thread, float16,
     * 16x64x112x112 3x3/s2/p1, 1.11 -> 1.01 of torch's time) */
    const ptrdiff_t probe = out_plane < 256 ? out_plane : 256;
    ptrdiff_t chained = 0;
    for (ptrdiff_t o = 1; o < probe; o++) chained += idx[o] == idx[o - 1];
    if (chained * 32 < probe) return -1;
    /* the window's first cell (a multiple of 8) and its cells in the plane */
    ptrdiff_t bad = 0, lo = 0;
    ptrdiff_t lim = in_plane < CYPOOL_FLOAT_RING ? in_plane : CYPOOL_FLOAT_RING;
    _Alignas(32) float gf[256];   /* the gradient of 256 outputs as floats */
    memset(buf, 0, (size_t)lim * sizeof(float));
    /* bfloat16: vcvtneps2bf16 rounds (1 instruction in place of 7) until a gradient could make
     * a sum subnormal; from then on, the integer steps */
    int ni = !CYPOOL_F16 && cypool_bf16_rounds();
    for (ptrdiff_t o0 = 0; o0 < out_plane; o0 += 256) {
        const ptrdiff_t n = out_plane - o0 < 256 ? out_plane - o0 : 256;
        if (CYPOOL_FN(max_bwd_has_snan)(go + o0, n)) {
            if (stream) _mm_sfence();   /* the streamed cells before the 16-bit loop's */
            return -1;
        }
        if (ni && CYPOOL_FN(max_bwd_has_tiny)(go + o0, n)) ni = 0;
        ptrdiff_t k = 0;
        for (; k + 8 <= n; k += 8) {
            const __m128i h = _mm_loadu_si128((const __m128i*)(go + o0 + k));
#if CYPOOL_F16
            _mm256_store_ps(gf + k, _mm256_cvtph_ps(h));
#else
            _mm256_store_ps(gf + k, _mm256_castsi256_ps(
                                        _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
#endif
        }
        for (; k < n; k++) gf[k] = CYPOOL_LD(go[o0 + k]);
        for (k = 0; k < n; k++) {
            if (k + 16 <= n && CYPOOL_FN(max_bwd_in_window)(idx + o0 + k, lo, lim)) {
                if (ni) {
#pragma GCC unroll 16
                    for (int j = 0; j < 16; j++)
                        CYPOOL_FN(max_bwd_float_add)(
                            buf + (idx[o0 + k + j] & (CYPOOL_FLOAT_RING - 1)), gf + k + j, 1);
                } else {
#pragma GCC unroll 16
                    for (int j = 0; j < 16; j++)
                        CYPOOL_FN(max_bwd_float_add)(
                            buf + (idx[o0 + k + j] & (CYPOOL_FLOAT_RING - 1)), gf + k + j, 0);
                }
                k += 15;
                continue;
            }
            const int64_t i = idx[o0 + k];
            /* one test for the common case: a cell of the window, in the plane */
            if ((uint64_t)(i - lo) >= (uint64_t)lim) {
                if ((uint64_t)i >= (uint64_t)in_plane) {
                    bad++;
                    continue;
                }
                if (i < lo) {   /* a cell the window has left */
#if CYPOOL_F16
                    gi[i] = CYPOOL_SCATTER_ADD(gi[i], go[o0 + k], CYPOOL_F16C_LD,
                                               CYPOOL_F16C_ST);
#else
                    gi[i] = CYPOOL_SCATTER_ADD(gi[i], go[o0 + k], CYPOOL_LD, CYPOOL_ST);
#endif
                    continue;
                }
                /* past the window: it moves on to end half a window after the cell */
                const ptrdiff_t nlo = (i - CYPOOL_FLOAT_RING / 2) & ~(ptrdiff_t)7;
                const ptrdiff_t keep = lo + CYPOOL_FLOAT_RING < nlo ? lo + CYPOOL_FLOAT_RING
                                                                  : nlo;
                CYPOOL_FN(max_bwd_float_flush)(buf, gi, lo, keep, stream);
                if (nlo > keep) memset(gi + keep, 0, (size_t)(nlo - keep) * sizeof(CYPOOL_S));
                lo = nlo;
                lim = in_plane - lo < CYPOOL_FLOAT_RING ? in_plane - lo : CYPOOL_FLOAT_RING;
            }
            CYPOOL_FN(max_bwd_float_add)(buf + (i & (CYPOOL_FLOAT_RING - 1)), gf + k, ni);
        }
    }
    /* the window's cells, then the cells past it, untouched */
    const ptrdiff_t end = lo + CYPOOL_FLOAT_RING < in_plane ? lo + CYPOOL_FLOAT_RING : in_plane;
    CYPOOL_FN(max_bwd_float_flush)(buf, gi, lo, end, stream);
    if (in_plane > end) memset(gi + end, 0, (size_t)(in_plane - end) * sizeof(CYPOOL_S));
    if (stream) _mm_sfence();   /* the streamed cells visible to every thread on return */
    return bad;
}
#undef CYPOOL_FLOAT_RING
#endif
/* (float16's F16C conversions end with the float buffer, their last user) */
#undef CYPOOL_F16C_LD
#undef CYPOOL_F16C_ST

#if defined(CYPOOL_F16C)
/* The max backward's add of 16 lanes with AVX-512F: g + t (16-bit patterns in the low halves of
 * 32-bit lanes) in float32 registers, of a NaN operand g's payload else t's, made quiet (as
 * cypool_add_g_first, by the add itself), rounded to the 16-bit type (float16: vcvtps2ph; bfloat16:
 * cypool_f32_to_bf16's steps); the rounded patterns, in the low halves. fp16 (float16 only, from
 * cypool_fp16_adds): one AVX512-FP16 add instead, the same bits (see there), a chain of 5 cycles
 * in place of about 25 in the runs' lane-after-lane adds. */
static inline __attribute__((target("avx512f,avx2,f16c"), always_inline)) __m512i
CYPOOL_FN(max_bwd_add16)(__m512i g, __m512i t, const int fp16)
{
#if CYPOOL_F16 && defined(CYPOOL_FP16)
    if (fp16) {
        /* g as the first source (x86's NaN rule, as below); the high halves (t's may hold the
         * plane kernel's lane tags) cleared. Assembly: the function's target has no AVX512-FP16
         * (its callers run on CPUs without it, fp16 = 0 there). */
        __m512i s;
        __asm__("vaddph %2, %1, %0" : "=v"(s) : "v"(g), "v"(t));
        return _mm512_and_si512(s, _mm512_set1_epi32(0xffff));
    }
#else
    (void)fp16;
#endif
#if CYPOOL_F16
    const __m512 gf = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
    const __m512 tf = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(t));
#else
    const __m512 gf = _mm512_castsi512_ps(_mm512_slli_epi32(g, 16));
    const __m512 tf = _mm512_castsi512_ps(_mm512_slli_epi32(t, 16));
#endif
    /* gf as the add's first source, written in assembly so the compiler keeps the operand order
     * (it may swap a commutative add): x86's rule for two NaNs is the first source's, quiet, and
     * for one NaN that one, quiet, which is cypool_add_g_first's rule, without selects */
    __m512 s;
    __asm__("vaddps %2, %1, %0" : "=v"(s) : "v"(gf), "v"(tf));
#if CYPOOL_F16
    return _mm512_cvtepu16_epi32(_mm512_cvtps_ph(s, CYPOOL_F16C_RNE));
#else
    const __m512i b = _mm512_castps_si512(s);
    const __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                             _mm512_and_si512(_mm512_srli_epi32(b, 16),
                                                              _mm512_set1_epi32(1)))),
        16);
    return _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(s, s, _CMP_UNORD_Q),
                                _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
#endif
}

/* The channels-last scatters' stores: lane l's result rv[l] to cell e[l], for the lanes of mask
 * kin of a vector of n (there is no 16-bit scatter) */
CYPOOL_INLINE void CYPOOL_FN(max_bwd_store_lanes)(CYPOOL_S* restrict gi, const int32_t* e,
                                                  const uint16_t* rv, unsigned kin, int n)
{
    if (kin == (1u << n) - 1) {
        for (int l = 0; l < n; l++) gi[e[l]] = rv[l];
        return;
    }
    for (unsigned k = kin; k; k &= k - 1) {
        const int l = __builtin_ctz(k);
        gi[e[l]] = rv[l];
    }
}

/* The channels-last scatter of one sample's channels [c0, c1) with AVX-512F, for float16 and
 * bfloat16: 16 channels of one output at a time. The 16 cells of a vector are distinct (one per
 * channel), and the outputs go in order, so each cell sees its adds in the 16-bit loop's order.
 * A vector reads its cells with one 32-bit gather (the cell in the low half; the cell after it,
 * in the high half, is dropped: it may be another thread's channel, which a read leaves as it
 * is), adds and rounds with max_bwd_add16, takes g itself
 * where the cell holds +0 (the 16-bit loop's
 * shortcut: -0 made +0, a signalling NaN kept), and stores the 16 cells one by one (there is no
 * 16-bit scatter). The cell at the sample's last element is read alone (the gather would read
 * past it). No branch depends on the data: the loop's `cell == 0` branch mispredicted on most
 * adds (a profile of 3x3/s2: most samples on the conversions after it). Returns the count of
 * indices outside the plane, or -1 (nothing done) when the sample's element offsets pass int32. */
static __attribute__((target("avx512f,avx2,f16c"), noinline, unused)) ptrdiff_t
CYPOOL_FN(max_bwd_cl_avx512)(const CYPOOL_S* restrict go, const int64_t* restrict idx,
                             CYPOOL_S* restrict gi, ptrdiff_t in_plane, ptrdiff_t out_plane,
                             ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1)
{
    if (in_plane * C >= 2147483647) return -1;
    const int fp16 = CYPOOL_F16 && cypool_fp16_adds();
    const int32_t last = (int32_t)(in_plane * C - 1);
    const __m512i inpl = _mm512_set1_epi64(in_plane), cc = _mm512_set1_epi32((int32_t)C);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i low = _mm512_set1_epi32(0xffff), mzero = _mm512_set1_epi32(0x8000);
    ptrdiff_t bad = 0;
    for (ptrdiff_t o = 0; o < out_plane; o++) {
        const int64_t* io = idx + o * C;
        const CYPOOL_S* g = go + o * C;
        for (ptrdiff_t ch = c0; ch < c1; ch += 16) {
            const int lanes = c1 - ch < 16 ? (int)(c1 - ch) : 16;
            const __mmask16 km = (__mmask16)(lanes == 16 ? 0xffff : (1u << lanes) - 1);
            const __m512i i0 = _mm512_maskz_loadu_epi64((__mmask8)km, io + ch);
            const __m512i i1 = _mm512_maskz_loadu_epi64((__mmask8)(km >> 8), io + ch + 8);
            const __mmask16 kin = km & (__mmask16)(_mm512_cmplt_epu64_mask(i0, inpl)
                                                   | (_mm512_cmplt_epu64_mask(i1, inpl) << 8));
            bad += __builtin_popcount((unsigned)(km & ~kin));
            const __m512i cell = _mm512_inserti64x4(_mm512_castsi256_si512(
                                                        _mm512_cvtepi64_epi32(i0)),
                                                    _mm512_cvtepi64_epi32(i1), 1);
            const __m512i e = _mm512_add_epi32(_mm512_mullo_epi32(cell, cc),
                                               _mm512_add_epi32(_mm512_set1_epi32((int32_t)ch),
                                                                iota));
            const __mmask16 kg = kin & _mm512_cmpneq_epi32_mask(e, _mm512_set1_epi32(last));
            __m512i t = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), kg, e, gi, 2);
            if (kin & ~kg)   /* the sample's last element: read alone */
                t = _mm512_mask_mov_epi32(t, kin & ~kg, _mm512_set1_epi32(gi[last]));
            t = _mm512_and_si512(t, low);
            __m256i g16;
            if (lanes == 16) {
                g16 = _mm256_loadu_si256((const __m256i*)(g + ch));
            } else {
                uint16_t gt[16] = {0};
                memcpy(gt, g + ch, (size_t)lanes * sizeof(uint16_t));
                g16 = _mm256_loadu_si256((const __m256i*)gt);
            }
            const __m512i g32 = _mm512_cvtepu16_epi32(g16);
            const __m512i r = CYPOOL_FN(max_bwd_add16)(g32, t, fp16);
            /* a cell at +0: g, -0 made +0 */
            const __m512i pz = _mm512_maskz_mov_epi32(_mm512_cmpneq_epi32_mask(g32, mzero), g32);
            const __m512i res = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(t, _mm512_setzero_si512()),
                                                        r, pz);
            uint16_t rv[16];
            int32_t ev[16];
            _mm256_storeu_si256((__m256i*)rv, _mm512_cvtepi32_epi16(res));
            _mm512_storeu_si512((void*)ev, e);
            CYPOOL_FN(max_bwd_store_lanes)(gi, ev, rv, kin, 16);
        }
    }
    return bad;
}

/* max_bwd_cl_avx512's scatter with AVX2 and F16C (CPUs without AVX-512): 8 channels of one
 * output at a time, the same bits. The scalar loops branched on each cell's first add (`cell ==
 * 0`), which mispredicted on most adds of overlapping windows: (16,64,112,112) 3x3/s2/p1 float16
 * on Zen 3 took 2.0 of torch's time, most samples on that branch and on the moves of single
 * values between integer and vector registers. A vector's cells are read one by one into its
 * lanes (a 32-bit gather, as AVX-512's, waits for the stores of the outputs before: 0.97-1.0 of
 * torch's time, 0.82-0.90 with single loads), added (g the add's first source: x86's NaN rule),
 * rounded, g itself where the cell holds +0 (-0 made +0), and stored lane by lane. Returns the
 * count of indices outside the plane, or -1 (nothing done) when the sample's element offsets
 * pass int32. */
static __attribute__((target("avx2,f16c"), noinline, unused)) ptrdiff_t
CYPOOL_FN(max_bwd_cl_avx2)(const CYPOOL_S* restrict go, const int64_t* restrict idx,
                           CYPOOL_S* restrict gi, ptrdiff_t in_plane, ptrdiff_t out_plane,
                           ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1)
{
    if (in_plane * C >= 2147483647) return -1;
    const __m256i inpl = _mm256_set1_epi64x(in_plane), none = _mm256_set1_epi64x(-1);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    /* the low 32 bits of four 64-bit lanes into the low 128 bits */
    const __m256i lows = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i cc = _mm256_set1_epi32((int32_t)C);
    const __m128i mzero = _mm_set1_epi16((short)0x8000);
    ptrdiff_t bad = 0;
    for (ptrdiff_t o = 0; o < out_plane; o++) {
        const int64_t* io = idx + o * C;
        const CYPOOL_S* g = go + o * C;
        for (ptrdiff_t ch = c0; ch < c1; ch += 8) {
            const int lanes = c1 - ch < 8 ? (int)(c1 - ch) : 8;
            __m256i i0, i1;
            __m128i g16;
            if (lanes == 8) {
                i0 = _mm256_loadu_si256((const __m256i*)(io + ch));
                i1 = _mm256_loadu_si256((const __m256i*)(io + ch + 4));
                g16 = _mm_loadu_si128((const __m128i*)(g + ch));
            } else {
                /* lanes past the block hold -1: outside the plane, not counted */
                int64_t it[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
                uint16_t gt[8] = {0};
                memcpy(it, io + ch, (size_t)lanes * sizeof(int64_t));
                memcpy(gt, g + ch, (size_t)lanes * sizeof(uint16_t));
                i0 = _mm256_loadu_si256((const __m256i*)it);
                i1 = _mm256_loadu_si256((const __m256i*)(it + 4));
                g16 = _mm_loadu_si128((const __m128i*)gt);
            }
            /* 0 <= i < in_plane, as all-ones 64-bit lanes */
            const __m256i m0 = _mm256_and_si256(_mm256_cmpgt_epi64(i0, none),
                                                _mm256_cmpgt_epi64(inpl, i0));
            const __m256i m1 = _mm256_and_si256(_mm256_cmpgt_epi64(i1, none),
                                                _mm256_cmpgt_epi64(inpl, i1));
            const unsigned kin = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(m0))
                                 | (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(m1)) << 4;
            bad += __builtin_popcount(((1u << lanes) - 1) & ~kin);
            const __m256i cell = _mm256_inserti128_si256(
                _mm256_permutevar8x32_epi32(i0, lows),
                _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(i1, lows)), 1);
            int32_t e[8];
            _mm256_storeu_si256((__m256i*)e, _mm256_add_epi32(
                                                 _mm256_mullo_epi32(cell, cc),
                                                 _mm256_add_epi32(
                                                     _mm256_set1_epi32((int32_t)ch), iota)));
            __m128i t16;
            if (kin == 0xff) {
                t16 = _mm_cvtsi32_si128(gi[e[0]]);
                t16 = _mm_insert_epi16(t16, gi[e[1]], 1);
                t16 = _mm_insert_epi16(t16, gi[e[2]], 2);
                t16 = _mm_insert_epi16(t16, gi[e[3]], 3);
                t16 = _mm_insert_epi16(t16, gi[e[4]], 4);
                t16 = _mm_insert_epi16(t16, gi[e[5]], 5);
                t16 = _mm_insert_epi16(t16, gi[e[6]], 6);
                t16 = _mm_insert_epi16(t16, gi[e[7]], 7);
            } else {
                uint16_t tv[8] = {0};
                for (unsigned k = kin; k; k &= k - 1) {
                    const int l = __builtin_ctz(k);
                    tv[l] = gi[e[l]];
                }
                t16 = _mm_loadu_si128((const __m128i*)tv);
            }
#if CYPOOL_F16
            const __m256 gf = cypool_widen8_f16(g16), tf = cypool_widen8_f16(t16);
#else
            const __m256 gf = cypool_widen8_bf16(g16), tf = cypool_widen8_bf16(t16);
#endif
            /* gf as the add's first source, in assembly so the compiler keeps the order */
            __m256 s;
            __asm__("vaddps %2, %1, %0" : "=x"(s) : "x"(gf), "x"(tf));
#if CYPOOL_F16
            const __m128i r16 = cypool_narrow8_f16(s);
#else
            const __m128i r16 = cypool_narrow8_bf16(s);
#endif
            /* a cell at +0: g, -0 made +0 */
            const __m128i pz = _mm_andnot_si128(_mm_cmpeq_epi16(g16, mzero), g16);
            const __m128i res = _mm_blendv_epi8(r16, pz,
                                                _mm_cmpeq_epi16(t16, _mm_setzero_si128()));
            uint16_t rv[8];
            _mm_storeu_si128((__m128i*)rv, res);
            CYPOOL_FN(max_bwd_store_lanes)(gi, e, rv, kin, 8);
        }
    }
    return bad;
}

/* A channels-first plane (C = 1) with AVX-512F and CD, for bfloat16, and float16 where the CPU
 * does not add float16 (else max_bwd_plane_fp16, one add at a time, is faster): 16 outputs at a
 * time, their cells' 16-bit patterns in a window of CYPOOL_RING cells held as 32-bit lanes
 * (gathered and scattered whole; the high halves hold a lane number, below), added and rounded
 * with max_bwd_add16, g itself where the cell holds +0 (the 16-bit loop's shortcut). Outputs of a
 * vector may name one cell (neighbouring overlapping windows): runs of consecutive outputs on one
 * cell are added in registers, and a vector whose repeats are not such runs (the lane numbers
 * read back tell) is undone and taken again in rounds of lanes vpconflictd finds free of earlier
 * lanes on their cells, so every cell sees its adds in output order.
 *
 * The window covers cells [lo, lo + CYPOOL_RING) of the plane, cell c in lane c % CYPOOL_RING
 * (16 KiB: it stays in L1, where a buffer of the whole plane, 49 KiB for 112x112, did not: its
 * zeroing and final narrowing ran from L2 and took a third of the time). Cells below lo are final
 * in gi (narrowed to 16 bits when the window left them), cells from lo + CYPOOL_RING on are
 * untouched (0). An output naming a cell past the window moves it forward (the forward's indices
 * go down the plane with the outputs); one naming a cell below it (indices given by the caller)
 * adds to gi with the 16-bit loop's add, which is the same add: a vector holding such a lane goes
 * lane by lane in output order. Same bits as the 16-bit loop, signalling NaNs included. Returns
 * the count of indices outside the plane, or -1 (nothing done) for a plane whose adds seldom go
 * to the cell of the add before, as max_bwd_plane_f16c, or of 2**31 cells or more. */
#define CYPOOL_RING 4096
/* Planes of at most this many cells (14x14, 28x28: output rows shorter than a vector, so that
 * most vectors' lanes meet on cells and take vpconflictd's rounds) go to the float buffer
 * instead (max_bwd_plane_f16c): 1 thread, 3x3/s2/p1, bfloat16 / float32 14x14 3.2-3.4 -> 1.8-2.2,
 * 28x28 2.2-2.5 -> 1.8; float16 without AVX512-FP16's adds 3.5-3.7 -> 1.8-1.9 and 2.7 -> 1.6.
 * From 40x40 (bfloat16) and 112x112 (float16) on, the window was faster. */
#define CYPOOL_SMALL_PLANE 1024
/* the window's cells [lo, end) written to gi (multiples of 16 but for the plane's end) and their
 * lanes zeroed for the cells that take them next */
static inline __attribute__((target("avx512f,avx2,f16c"), always_inline)) void
CYPOOL_FN(max_bwd_ring_flush)(uint32_t* restrict buf, CYPOOL_S* restrict gi, ptrdiff_t lo,
                              ptrdiff_t end)
{
    ptrdiff_t c = lo;
    for (; c + 16 <= end; c += 16) {
        uint32_t* b = buf + (c & (CYPOOL_RING - 1));
        _mm256_storeu_si256((__m256i*)(gi + c),
                            _mm512_cvtepi32_epi16(_mm512_load_si512((const void*)b)));
        _mm512_store_si512((void*)b, _mm512_setzero_si512());
    }
    for (; c < end; c++) {
        gi[c] = (CYPOOL_S)buf[c & (CYPOOL_RING - 1)];
        buf[c & (CYPOOL_RING - 1)] = 0;
    }
}

static __attribute__((target("avx512f,avx512cd,avx2,f16c"), noinline, unused)) ptrdiff_t
CYPOOL_FN(max_bwd_plane_avx512)(const CYPOOL_S* restrict go, const int64_t* restrict idx,
                                CYPOOL_S* restrict gi, ptrdiff_t in_plane, ptrdiff_t out_plane)
{
    _Alignas(64) uint32_t buf[CYPOOL_RING];
    const int fp16 = CYPOOL_F16 && cypool_fp16_adds();
    const __m512i inpl = _mm512_set1_epi64(in_plane), mzero = _mm512_set1_epi32(0x8000);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i lanes_m = _mm512_set1_epi32(CYPOOL_RING - 1), low = _mm512_set1_epi32(0xffff);
    const __m512i tag = _mm512_slli_epi32(iota, 16);
    if (in_plane >= 2147483647) return -1;
    /* the first outputs tell (a pass over all of them took 15% of the time, 3x3/s2) */
    const ptrdiff_t probe = out_plane < 1024 ? out_plane : 1024;
    ptrdiff_t bad = 0, chained = 0;
    for (ptrdiff_t o = 1; o < probe; o++) chained += idx[o] == idx[o - 1];
    if (chained * 32 < probe) return -1;
    ptrdiff_t lo = 0;   /* the window's first cell, a multiple of 16 */
    int streak = 0;     /* vectors in a row that were runs only */
    /* the lanes of the plane's first cells (a small plane's only: 16 KiB per plane of 14x14
     * cost more than its adds) */
    memset(buf, 0, (size_t)(in_plane < CYPOOL_RING ? in_plane : CYPOOL_RING) * sizeof(uint32_t));
    for (ptrdiff_t o = 0; o < out_plane; o += 16) {
        const int lanes = out_plane - o < 16 ? (int)(out_plane - o) : 16;
        const __mmask16 km = (__mmask16)(lanes == 16 ? 0xffff : (1u << lanes) - 1);
        const __m512i i0 = _mm512_maskz_loadu_epi64((__mmask8)km, idx + o);
        const __m512i i1 = _mm512_maskz_loadu_epi64((__mmask8)(km >> 8), idx + o + 8);
        const __mmask16 kin = km & (__mmask16)(_mm512_cmplt_epu64_mask(i0, inpl)
                                               | (_mm512_cmplt_epu64_mask(i1, inpl) << 8));
        bad += __builtin_popcount((unsigned)(km & ~kin));
        const __m512i cell = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm512_cvtepi64_epi32(i0)), _mm512_cvtepi64_epi32(i1), 1);
        if (!kin) continue;
        __m256i g16;
        if (lanes == 16) {
            g16 = _mm256_loadu_si256((const __m256i*)(go + o));
        } else {
            uint16_t gt[16] = {0};
            memcpy(gt, go + o, (size_t)lanes * sizeof(uint16_t));
            g16 = _mm256_loadu_si256((const __m256i*)gt);
        }
        const __mmask16 kout = _mm512_mask_cmpge_epu32_mask(
            kin, _mm512_sub_epi32(cell, _mm512_set1_epi32((int32_t)lo)),
            _mm512_set1_epi32(CYPOOL_RING));
        if (kout) {
            /* the window follows the cells down the plane: past it, it moves on to end half a
             * window after the vector's last cell */
            const ptrdiff_t top = _mm512_mask_reduce_max_epi32(kin, cell);
            if (top >= lo + CYPOOL_RING) {
                ptrdiff_t nlo = (top - CYPOOL_RING / 2) & ~(ptrdiff_t)15;
                const ptrdiff_t keep = lo + CYPOOL_RING < nlo ? lo + CYPOOL_RING : nlo;
                CYPOOL_FN(max_bwd_ring_flush)(buf, gi, lo, keep);
                if (nlo > keep) memset(gi + keep, 0, (size_t)(nlo - keep) * sizeof(CYPOOL_S));
                lo = nlo;
            }
            if (_mm512_mask_cmplt_epi32_mask(kin, cell, _mm512_set1_epi32((int32_t)lo))) {
                /* a cell the window has left: lane by lane, in output order */
                uint16_t gv[16];
                int32_t cv[16];
                _mm256_storeu_si256((__m256i*)gv, g16);
                _mm512_storeu_si512((void*)cv, cell);
                for (unsigned k = kin; k; k &= k - 1) {
                    const int l = __builtin_ctz(k);
                    if (cv[l] < lo) {
                        gi[cv[l]] = CYPOOL_SCATTER_ADD(gi[cv[l]], gv[l], CYPOOL_LD, CYPOOL_ST);
                    } else {
                        uint32_t* t = buf + (cv[l] & (CYPOOL_RING - 1));
                        *t = CYPOOL_SCATTER_ADD((CYPOOL_S)*t, gv[l], CYPOOL_LD, CYPOOL_ST);
                    }
                }
                continue;
            }
        }
        const __m512i pos = _mm512_and_si512(cell, lanes_m);
        const __m512i g32 = _mm512_cvtepu16_epi32(g16);
        const __m512i pz = _mm512_maskz_mov_epi32(_mm512_cmpneq_epi32_mask(g32, mzero), g32);
        /* the common case: each cell's lanes are one run of consecutive outputs (one maximum):
         * one gather for the first lane of each run, the run's adds in registers, lane after
         * lane, and one scatter (a scatter writes lanes naming one address in lane order: the
         * run's last value stays). Each lane's value goes with its lane number in the high half;
         * reading the cells back, the last lane of every run finds its own number unless a later
         * lane named its cell too, and then the cells get their first values back and the vector
         * takes the rounds below. (vpconflictd, which tells it beforehand, took 15% of the time.)
         * A plane's first vectors ask vpconflictd first, and so do the vectors after one that
         * is not runs only, until 4 in a row are (output rows shorter than a vector, whose
         * neighbouring rows meet on cells, seldom are: 14x14 and 28x28 planes; a failed
         * read-back costs more than the instruction). */
        const __m512i prevcell = _mm512_alignr_epi32(cell, _mm512_set1_epi32(-1), 15);
        const __mmask16 same = kin & (__mmask16)(kin << 1) & _mm512_cmpeq_epi32_mask(cell, prevcell);
        const __mmask16 starts = kin & (__mmask16)~same;
        __m512i conf = _mm512_setzero_si512();   /* earlier lanes naming the same cell, in-plane */
        const int told = streak < 4;
        int runs_only = 1;
        if (told) {
            conf = _mm512_and_si512(_mm512_conflict_epi32(cell), _mm512_set1_epi32((int32_t)kin));
            const __m512i runconf = _mm512_maskz_or_epi32(
                same, _mm512_alignr_epi32(conf, _mm512_setzero_si512(), 15),
                _mm512_sllv_epi32(_mm512_set1_epi32(1),
                                  _mm512_sub_epi32(iota, _mm512_set1_epi32(1))));
            runs_only = (_mm512_cmpeq_epi32_mask(conf, runconf) & kin) == kin;
            streak = runs_only ? streak + 1 : 0;
        }
        if (runs_only) {
            const __m512i t0 = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), starts, pos,
                                                           buf, 4);
            __m512i acc = _mm512_mask_blend_epi32(_mm512_testn_epi32_mask(t0, low),
                                                  CYPOOL_FN(max_bwd_add16)(g32, t0, fp16), pz);
            for (__mmask16 done = starts; kin & (__mmask16)~done;) {
                const __mmask16 next = kin & (__mmask16)~done & (__mmask16)(done << 1);
                const __m512i prev = _mm512_alignr_epi32(acc, _mm512_setzero_si512(), 15);
                acc = _mm512_mask_mov_epi32(
                    acc, next, _mm512_mask_blend_epi32(
                                   _mm512_cmpeq_epi32_mask(prev, _mm512_setzero_si512()),
                                   CYPOOL_FN(max_bwd_add16)(g32, prev, fp16), pz));
                done |= next;
            }
            _mm512_mask_i32scatter_epi32(buf, kin, pos, _mm512_or_si512(acc, tag), 4);
            if (told) continue;
            const __mmask16 ends = kin & (__mmask16)~(same >> 1);
            const __m512i back = _mm512_mask_i32gather_epi32(tag, ends, pos, buf, 4);
            if (!_mm512_mask_cmpneq_epi32_mask(ends, _mm512_andnot_si512(low, back), tag))
                continue;
            _mm512_mask_i32scatter_epi32(buf, starts, pos, t0, 4);
            conf = _mm512_and_si512(_mm512_conflict_epi32(cell), _mm512_set1_epi32((int32_t)kin));
            streak = 0;
        }
        for (__mmask16 todo = kin; todo;) {
            const __mmask16 ready = todo & _mm512_testn_epi32_mask(
                                               conf, _mm512_set1_epi32((int32_t)todo));
            const __m512i t = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), ready, pos,
                                                          buf, 4);
            const __m512i res = _mm512_mask_blend_epi32(
                _mm512_testn_epi32_mask(t, low), CYPOOL_FN(max_bwd_add16)(g32, t, fp16), pz);
            _mm512_mask_i32scatter_epi32(buf, ready, pos, res, 4);
            todo &= (__mmask16)~ready;
        }
    }
    /* the window's cells in the plane, then the untouched cells after it */
    const ptrdiff_t end = lo + CYPOOL_RING < in_plane ? lo + CYPOOL_RING : in_plane;
    CYPOOL_FN(max_bwd_ring_flush)(buf, gi, lo, end);
    if (in_plane > end) memset(gi + end, 0, (size_t)(in_plane - end) * sizeof(CYPOOL_S));
    return bad;
}
#undef CYPOOL_RING
#endif

/* The index scatter of max backward for the 16-bit types (float32 and float64 scatter in
 * _max.pyx): each add is done in float and rounded back, in output order, as PyTorch accumulates
 * a float16 / bfloat16 gradient. gi is zeroed here. stream: the whole result is big enough
 * to be written with streamed stores where a kernel can (max_bwd_plane_f16c). */
static ptrdiff_t CYPOOL_CLONES CYPOOL_FN(cypool_max_bwd_scatter)(
    const CYPOOL_S* restrict go, const int64_t* restrict idx, CYPOOL_S* restrict gi,
    ptrdiff_t in_plane, ptrdiff_t out_plane, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1, int stream)
{
    (void)stream;
    ptrdiff_t bad = 0;
    const ptrdiff_t nc = c1 - c0;
#if defined(CYPOOL_F16C)
    /* the plane buffers write every cell: no zeroing before them */
#if CYPOOL_F16 && defined(CYPOOL_FP16)
    if (C == 1 && cypool_fp16_adds()) {
        const ptrdiff_t r = CYPOOL_FN(max_bwd_plane_fp16)(go, idx, gi, in_plane, out_plane);
        if (r >= 0) return r;
    }
#endif
    /* planes of up to CYPOOL_SMALL_PLANE cells take the float buffer on AVX-512 CPUs too, and
     * all planes do on CPUs with slow scatters */
    if (C == 1 && cypool_f16c() == 2 && in_plane > CYPOOL_SMALL_PLANE
            && __builtin_cpu_supports("avx512cd") && !cypool_slow_scatters()) {
        const ptrdiff_t r = CYPOOL_FN(max_bwd_plane_avx512)(go, idx, gi, in_plane, out_plane);
        if (r >= 0) return r;
    } else if (C == 1 && cypool_f16c()) {
        const ptrdiff_t r = CYPOOL_FN(max_bwd_plane_f16c)(go, idx, gi, in_plane, out_plane,
                                                          stream);
        if (r >= 0) return r;
    }
#endif
    if (nc == C) {
        memset(gi, 0, (size_t)(in_plane * C) * sizeof(CYPOOL_S));
    } else {
        for (ptrdiff_t i = 0; i < in_plane; i++)
            memset(gi + i * C + c0, 0, (size_t)nc * sizeof(CYPOOL_S));
    }
#if defined(CYPOOL_F16C)
    if (cypool_f16c()) {
        if (C > 1 && cypool_f16c() == 2) {
            const ptrdiff_t r = CYPOOL_FN(max_bwd_cl_avx512)(go, idx, gi, in_plane, out_plane, C,
                                                             c0, c1);
            if (r >= 0) return r;
        } else if (C > 1) {
            const ptrdiff_t r = CYPOOL_FN(max_bwd_cl_avx2)(go, idx, gi, in_plane, out_plane, C,
                                                           c0, c1);
            if (r >= 0) return r;
        }
#if CYPOOL_F16
        return CYPOOL_FN(max_bwd_scatter_f16c)(go, idx, gi, in_plane, out_plane, C, c0, c1);
#endif
    }
#endif
    CYPOOL_SCATTER_LOOPS(CYPOOL_LD, CYPOOL_ST);
    return bad;
}
#undef CYPOOL_SCATTER_ADD
#undef CYPOOL_SCATTER_LOOPS
#undef CYPOOL_SMALL_PLANE
#endif


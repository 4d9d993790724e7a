/* Body of _avg_fast.h, included once per (CYPOOL_S storage, CYPOOL_ACC accumulator, CYPOOL_SUF
 * suffix), with CYPOOL_LD(v) (storage -> accumulator), CYPOOL_ST(v) (-> storage, rounded;
 * CYPOOL_ST_CF(v) for a channels-first forward's output, which PyTorch stores as 0 + mean),
 * CYPOOL_INV(d) (what a divisor d is kept as: its inverse, or d itself for the 16-bit types,
 * which divide as PyTorch does), CYPOOL_SCALE(sum, s) (the mean from a sum and that) and
 * CYPOOL_HALF (1 for float16 / bfloat16: PyTorch's backward rounding, below) defined, with
 * CYPOOL_FROW, CYPOOL_Y and CYPOOL_STY(v) (FROW 1: a forward computes its output rows in float,
 * Y, and stores them rounded by CYPOOL_STN; 0: in the storage type, Y, through STY) and, for
 * the 16-bit types, the row conversions CYPOOL_LDN, ADDN, STN, RTN;
 * CYPOOL_FN(name) is name followed by the suffix (_clones.h). Entry points:
 * CYPOOL_FN(cypool_avg_fwd_cf), CYPOOL_FN(cypool_avg_fwd_cl), CYPOOL_FN(cypool_avg_bwd_cf),
 * CYPOOL_FN(cypool_avg_bwd_cl).
 * Every function handles a range of rows and allocates its own row buffers, so the caller can
 * hand each OpenMP thread one contiguous range; it returns nonzero only when malloc failed (the
 * caller then runs the general kernel). */

/* inv[ow] = 1 / divisor of window (fdh, ow): refilled only when the (d, h) factor changes, which
 * happens at the top and bottom borders only. */
static inline void CYPOOL_FN(avg_fill_inv)(CYPOOL_ACC* inv, const double* fw, double fdh,
                                           ptrdiff_t OW, ptrdiff_t divisor_override) {
    for (ptrdiff_t j = 0; j < OW; j++)
        inv[j] = CYPOOL_INV(divisor_override ? (double)divisor_override : fdh * fw[j]);
}

/* The divisors of the backward's output row (od, oh): refilled into inv only when the row's
 * (d, h) factor differs from *cached, the factor of the last fill. */
CYPOOL_INLINE void CYPOOL_FN(avg_row_inv)(CYPOOL_ACC* inv, const double* fw, double* cached,
                                          const Window* w, ptrdiff_t od, ptrdiff_t oh,
                                          int count_include_pad, ptrdiff_t divisor_override) {
    const double fdh =
        avg_factor(padded_span(od, w->k_d, w->s_d, w->pad_d, w->padend_d, w->in_d),
                   count_include_pad) *
        avg_factor(padded_span(oh, w->k_h, w->s_h, w->pad_h, w->padend_h, w->in_h),
                   count_include_pad);
    if (fdh != *cached) {
        CYPOOL_FN(avg_fill_inv)(inv, fw, fdh, w->out_w, divisor_override);
        *cached = fdh;
    }
}

/* The forward's vertical pass: v[0, n) = the sum of the input rows of the window's (d, h) cells
 * (rows of n values from xp: W channels-first, W * C channels-last), in ascending order, each a
 * contiguous vectorised add; zeros when the window has no real row. */
CYPOOL_INLINE void CYPOOL_FN(avg_vertical)(CYPOOL_ACC* restrict v, const CYPOOL_S* xp,
                                           const Window* w, Span sd, Span sh, ptrdiff_t n) {
    int first = 1;
    for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
        for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++) {
            const CYPOOL_S* restrict src = xp + (d * w->in_h + h) * n;
#if CYPOOL_HALF
            /* whole rows converted by _half.h (F16C where the CPU has it), same adds */
            if (first) CYPOOL_LDN(src, v, n);
            else CYPOOL_ADDN(src, v, n);
            first = 0;
            continue;
#endif
            if (first) {
                for (ptrdiff_t i = 0; i < n; i++) v[i] = (CYPOOL_ACC)CYPOOL_LD(src[i]);
                first = 0;
            } else {
                for (ptrdiff_t i = 0; i < n; i++) v[i] += (CYPOOL_ACC)CYPOOL_LD(src[i]);
            }
        }
    if (first)
        for (ptrdiff_t i = 0; i < n; i++) v[i] = 0;
}

/* The window's real input rows (rows of n values from xp), in avg_vertical's order ((d, h)
 * ascending), into rp; returns their count */
CYPOOL_INLINE ptrdiff_t CYPOOL_FN(avg_window_rows)(const CYPOOL_S** rp, const CYPOOL_S* xp,
                                                   const Window* w, Span sd, Span sh,
                                                   ptrdiff_t n) {
    ptrdiff_t nr = 0;
    for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
        for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++)
            rp[nr++] = xp + (d * w->in_h + h) * n;
    return nr;
}

#if CYPOOL_HALF && defined(CYPOOL_F16C)
/* In-register kernels of the 16-bit types (AVX-512F with F16C: the cypool_f16c() state 2):
 * 16 values a vector loaded and converted to float (float16: vcvtph2ps; bfloat16: a shift),
 * added, scaled and rounded in float registers and stored in 16 bits, in the float row-buffer
 * loops' order (the same adds, the same bits); the row buffer is kept only where a sum is read
 * by several outputs (the vertical pass). Rounding: float16 vcvtps2ph (nearest even);
 * bfloat16 cypool_f32_to_bf16's integer steps (nearest even, a NaN made quiet). */
#define CYPOOL_AVG512 static inline __attribute__((target("avx512f,avx2,f16c"), always_inline, unused))
#define CYPOOL_AVG512_FN static __attribute__((target("avx512f,avx2,f16c"), noinline, unused))
CYPOOL_AVG512 __m512 CYPOOL_FN(avg_ld16)(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256((const __m256i*)p);
#if CYPOOL_F16
    return _mm512_cvtph_ps(h);
#else
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
#endif
}
/* the float bits f rounded to nearest even at the upper half (the low half still to clear);
 * a NaN's may carry into its sign */
CYPOOL_AVG512 __m512i CYPOOL_FN(avg_bf16_round)(__m512i f) {
    return _mm512_add_epi32(f, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
        _mm512_and_si512(_mm512_srli_epi32(f, 16), _mm512_set1_epi32(1))));
}
/* The roundings below take floats computed from values the storage type holds (a sum, a sum
 * over a divisor or times its reciprocal, a rounded add of a chain), whose NaN can only be one
 * of those values made quiet or the default NaN: quiet, with its low half 0, which bfloat16's
 * rounding leaves as it is (no carry). So they skip the NaN step of cypool_f32_to_bf16 (which
 * makes a NaN's top quiet) and give its bits. */
/* 16 floats -> 16 storage values, rounded */
CYPOOL_AVG512 __m256i CYPOOL_FN(avg_pack16)(__m512 m) {
#if CYPOOL_F16
    return _mm512_cvtps_ph(m, CYPOOL_F16C_RNE);
#else
    return _mm512_cvtepi32_epi16(
        _mm512_srli_epi32(CYPOOL_FN(avg_bf16_round)(_mm512_castps_si512(m)), 16));
#endif
}
/* rounded to the storage type, kept in float (CYPOOL_RT's vector form) */
CYPOOL_AVG512 __m512 CYPOOL_FN(avg_rt16_sum)(__m512 m) {
#if CYPOOL_F16
    return _mm512_cvtph_ps(_mm512_cvtps_ph(m, CYPOOL_F16C_RNE));
#else
    return _mm512_castsi512_ps(_mm512_and_si512(
        CYPOOL_FN(avg_bf16_round)(_mm512_castps_si512(m)), _mm512_set1_epi32((int)0xffff0000u)));
#endif
}
/* avg_pack16 of values the storage type holds (rounded already): bfloat16's high halves */
CYPOOL_AVG512 __m256i CYPOOL_FN(avg_pack16_held)(__m512 m) {
#if CYPOOL_F16
    return _mm512_cvtps_ph(m, CYPOOL_F16C_RNE);
#else
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(m), 16));
#endif
}
/* -0 as +0 over 16 storage values (cypool_plus_zero) */
CYPOOL_AVG512 __m256i CYPOOL_FN(avg_plus_zero16)(__m256i h) {
    return _mm256_andnot_si256(_mm256_cmpeq_epi16(h, _mm256_set1_epi16((short)0x8000)), h);
}
/* (0 + sum) * s or / s: CYPOOL_SCALE */
CYPOOL_AVG512 __m512 CYPOOL_FN(avg_scale16)(__m512 sum, __m512 s, int recip) {
    const __m512 z = _mm512_add_ps(_mm512_setzero_ps(), sum);
    return recip ? _mm512_mul_ps(z, s) : _mm512_div_ps(z, s);
}
/* 16 channels-first means stored from their window sums: (0 + sum) over the divisors s
 * (recip: times the reciprocals), rounded, -0 as +0 */
CYPOOL_AVG512 void CYPOOL_FN(avg_store_cf16)(uint16_t* y, __m512 sum, const float* s, int recip) {
    const __m512 m = CYPOOL_FN(avg_scale16)(sum, _mm512_loadu_ps(s), recip);
    _mm256_storeu_si256((__m256i*)y, CYPOOL_FN(avg_plus_zero16)(CYPOOL_FN(avg_pack16)(m)));
}
/* b[2q + t], q < 16: the even lanes of 32 floats from b + t (the last one not loaded) */
CYPOOL_AVG512 __m512 CYPOOL_FN(avg_even16)(const float* b) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                          2, 0);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(b), even, _mm512_maskz_loadu_ps(0x7fff, b + 16));
}

/* The horizontal pass and store of a channels-first forward row: outputs [0, OW) from the row
 * buffer b (the vertical sums, zeros in the padding), windows of kw cells at stride sw (1 or
 * 2), s the divisors (recip: reciprocals), -0 stored as +0. OW >= 16: 16 outputs a vector, the
 * last vector ending at OW (its overlap recomputes the same outputs). */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_cf_hrow512)(const float* restrict b, const float* restrict s,
                                                int recip, uint16_t* restrict y, ptrdiff_t OW,
                                                ptrdiff_t kw, ptrdiff_t sw) {
    for (ptrdiff_t j0 = 0; j0 < OW; j0 += 16) {
        if (j0 + 16 > OW) j0 = OW - 16;
        __m512 sum;
        if (sw == 1) {
            sum = _mm512_loadu_ps(b + j0);
            for (ptrdiff_t t = 1; t < kw; t++) sum = _mm512_add_ps(sum, _mm512_loadu_ps(b + j0 + t));
        } else {
            sum = CYPOOL_FN(avg_even16)(b + 2 * j0);
            for (ptrdiff_t t = 1; t < kw; t++)
                sum = _mm512_add_ps(sum, CYPOOL_FN(avg_even16)(b + 2 * j0 + t));
        }
        CYPOOL_FN(avg_store_cf16)(y + j0, sum, s + j0, recip);
    }
}

/* Columns [c, c + 16) of a channels-first input row of W >= 16 cells, as floats, zeros
 * outside [0, W) (the padding): a load from the nearest start inside the row, its lanes moved
 * into place */
CYPOOL_AVG512 __m512 CYPOOL_FN(avg_cols16)(const uint16_t* row, ptrdiff_t c, ptrdiff_t W) {
    if (c >= 0 && c + 16 <= W) return CYPOOL_FN(avg_ld16)(row + c);
    const ptrdiff_t b = c < 0 ? 0 : W - 16;
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i col = _mm512_add_epi32(iota, _mm512_set1_epi32((int)c));
    const __mmask16 in = _mm512_cmpge_epi32_mask(col, _mm512_setzero_si512()) &
                         _mm512_cmplt_epi32_mask(col, _mm512_set1_epi32((int)W));
    return _mm512_maskz_permutexvar_ps(in, _mm512_add_epi32(iota, _mm512_set1_epi32((int)(c - b))),
                                       CYPOOL_FN(avg_ld16)(row + b));
}
/* the vertical sums of columns [c, c + 16) over the nr rows, in order */
CYPOOL_AVG512 __m512 CYPOOL_FN(avg_vsum16)(const uint16_t* const* rows, ptrdiff_t nr,
                                           ptrdiff_t c, ptrdiff_t W) {
    __m512 v = CYPOOL_FN(avg_cols16)(rows[0], c, W);
    for (ptrdiff_t r = 1; r < nr; r++) v = _mm512_add_ps(v, CYPOOL_FN(avg_cols16)(rows[r], c, W));
    return v;
}
/* A channels-first forward row in registers: outputs [0, OW) from the window's nr real input
 * rows (in (d, h) order, W >= 16 cells each), windows of kw cells from column -pw at stride sw:
 * 1 with kw <= 17, or 2 with kw <= 3. s the divisors (recip: reciprocals), -0 stored as +0. 16
 * outputs a vector, the last vector ending at OW (its overlap recomputes the same outputs):
 * the sums down the rows of its 16 sw columns and of the 16 after them (which the next vector
 * takes over as its first), then the window's columns left to right: the adds of the row
 * buffer's two passes (avg_vertical, then avg_cf_hrow512), the same bits, in fewer operations
 * (float16 / bfloat16 over float32's time, 2 threads: 3x3/s2/p1 0.88-1.00 -> 0.64-0.73,
 * 3x3/s1/p1 0.99-1.10 -> 0.72-1.00: the rows are bound by their operations, not by memory).
 * Windows of 2 and 3 rows (nr) are compiled as constants: with the row loop left to run, the
 * 3x3/s2 row took 0.77-0.86 of float32's time. */
CYPOOL_AVG512 void CYPOOL_FN(avg_cf_rows_nr)(const uint16_t* const* rows, ptrdiff_t nr,
                                             const float* restrict s, int recip,
                                             uint16_t* restrict y, ptrdiff_t OW, ptrdiff_t W,
                                             ptrdiff_t kw, ptrdiff_t sw, ptrdiff_t pw) {
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i even = _mm512_add_epi32(iota, iota);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i next = _mm512_add_epi32(iota, _mm512_set1_epi32(1));
    ptrdiff_t c0 = -pw;
    __m512 v0 = CYPOOL_FN(avg_vsum16)(rows, nr, c0, W);
    for (ptrdiff_t j0 = 0; j0 < OW; j0 += 16) {
        if (j0 + 16 > OW) {
            j0 = OW - 16;
            c0 = j0 * sw - pw;
            v0 = CYPOOL_FN(avg_vsum16)(rows, nr, c0, W);
        }
        const __m512 v1 = CYPOOL_FN(avg_vsum16)(rows, nr, c0 + 16, W);
        __m512 sum;
        if (sw == 1) {
            /* column t: lanes t .. t + 15 of (v0, v1) */
            sum = v0;
            for (ptrdiff_t t = 1; t < kw; t++)
                sum = _mm512_add_ps(sum, t == 16 ? v1 : _mm512_permutex2var_ps(
                    v0, _mm512_add_epi32(iota, _mm512_set1_epi32((int)t)), v1));
            v0 = v1;
            c0 += 16;
        } else {
            /* columns 0 and 1: the even and odd lanes of (v0, v1); column 2: the even lanes
             * moved down one, the next vector's first column last */
            const __m512 v2 = CYPOOL_FN(avg_vsum16)(rows, nr, c0 + 32, W);
            const __m512 e = _mm512_permutex2var_ps(v0, even, v1);
            sum = e;
            if (kw > 1) sum = _mm512_add_ps(sum, _mm512_permutex2var_ps(v0, odd, v1));
            if (kw > 2) sum = _mm512_add_ps(sum, _mm512_permutex2var_ps(e, next, v2));
            v0 = v2;
            c0 += 32;
        }
        CYPOOL_FN(avg_store_cf16)(y + j0, sum, s + j0, recip);
    }
}

CYPOOL_AVG512_FN void CYPOOL_FN(avg_cf_rows512)(const uint16_t* const* rows, ptrdiff_t nr,
                                                const float* restrict s, int recip,
                                                uint16_t* restrict y, ptrdiff_t OW, ptrdiff_t W,
                                                ptrdiff_t kw, ptrdiff_t sw, ptrdiff_t pw) {
    if (nr == 3)
        CYPOOL_FN(avg_cf_rows_nr)(rows, 3, s, recip, y, OW, W, kw, sw, pw);
    else if (nr == 2)
        CYPOOL_FN(avg_cf_rows_nr)(rows, 2, s, recip, y, OW, W, kw, sw, pw);
    else
        CYPOOL_FN(avg_cf_rows_nr)(rows, nr, s, recip, y, OW, W, kw, sw, pw);
}

/* A channels-first 2x2/s2 forward row with no padding along w (2 * OW <= W, OW >= 16) from
 * its two input rows r0, r1 straight, without the row buffer: the vertical sums r0 + r1 of 32
 * columns, then evens + odds, as avg_vertical and avg_cf_hrow512 add them (the same bits). The
 * buffer's passes cost a third more than the stream of the input (their calls and the float row
 * through L1, per row of 112 values). */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_cf_pairs512)(const uint16_t* restrict r0,
                                                 const uint16_t* restrict r1,
                                                 const float* restrict s, int recip,
                                                 uint16_t* restrict y, ptrdiff_t OW) {
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i even = _mm512_add_epi32(iota, iota);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (ptrdiff_t j0 = 0; j0 < OW; j0 += 16) {
        if (j0 + 16 > OW) j0 = OW - 16;
        const __m512 lo = _mm512_add_ps(CYPOOL_FN(avg_ld16)(r0 + 2 * j0),
                                        CYPOOL_FN(avg_ld16)(r1 + 2 * j0));
        const __m512 hi = _mm512_add_ps(CYPOOL_FN(avg_ld16)(r0 + 2 * j0 + 16),
                                        CYPOOL_FN(avg_ld16)(r1 + 2 * j0 + 16));
        const __m512 sum = _mm512_add_ps(_mm512_permutex2var_ps(lo, even, hi),
                                         _mm512_permutex2var_ps(lo, odd, hi));
        CYPOOL_FN(avg_store_cf16)(y + j0, sum, s + j0, recip);
    }
}

/* the sums down the nr rows of their values [o, o + 16), in order */
CYPOOL_AVG512 __m512 CYPOOL_FN(avg_rows_sum16)(const uint16_t* const* rows, ptrdiff_t nr,
                                               ptrdiff_t o) {
    __m512 v = CYPOOL_FN(avg_ld16)(rows[0] + o);
    for (ptrdiff_t r = 1; r < nr; r++) v = _mm512_add_ps(v, CYPOOL_FN(avg_ld16)(rows[r] + o));
    return v;
}
/* Channels [c, c + 16 U) of a channels-last 3x3/s1/p1 forward row (W columns of C channels,
 * OW = W) from its nr input rows (the window's real rows in (d, h) order), s the divisors
 * (recip: reciprocals): column j's sums down the rows made once, in registers, and kept while
 * the three windows that take them go by, added left to right from the zero left of column 0
 * to the zero right of column W - 1: avg_vertical's and avg_cl_hrow512's adds (the same bits),
 * float32's avg_cl_row3 in registers ((16,112,112,64) float16 / float32 1.07 -> 0.50 against
 * the row buffer's passes). */
CYPOOL_AVG512 void CYPOOL_FN(avg_cl_row3_vecs)(const uint16_t* const* rows, ptrdiff_t nr,
                                               const float* restrict s, int recip,
                                               uint16_t* restrict y, ptrdiff_t W, ptrdiff_t C,
                                               ptrdiff_t c, const int U) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 vp[4], vc[4];
    for (int u = 0; u < U; u++) {
        vp[u] = zero;
        vc[u] = CYPOOL_FN(avg_rows_sum16)(rows, nr, c + 16 * u);
    }
    for (ptrdiff_t j = 0; j < W; j++) {
        const __m512 sv = _mm512_set1_ps(s[j]);
        for (int u = 0; u < U; u++) {
            const __m512 vn = j + 1 < W
                ? CYPOOL_FN(avg_rows_sum16)(rows, nr, (j + 1) * C + c + 16 * u) : zero;
            const __m512 sum = _mm512_add_ps(_mm512_add_ps(vp[u], vc[u]), vn);
            _mm256_storeu_si256((__m256i*)(y + j * C + c + 16 * u),
                                CYPOOL_FN(avg_pack16)(CYPOOL_FN(avg_scale16)(sum, sv, recip)));
            vp[u] = vc[u];
            vc[u] = vn;
        }
    }
}
/* The whole row, C >= 16: four vectors of 16 channels at a time (one, under 64 channels), the
 * last ones ending at C; windows of 3 rows (the 2-d interior) compiled as a constant. */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_cl_row3_512)(const uint16_t* const* rows, ptrdiff_t nr,
                                                 const float* restrict s, int recip,
                                                 uint16_t* restrict y, ptrdiff_t W,
                                                 ptrdiff_t C) {
    const int U = C >= 64 ? 4 : 1;
    for (ptrdiff_t c = 0; c < C; c += 16 * U) {
        if (c + 16 * U > C) c = C - 16 * U;
        if (U == 4 && nr == 3)
            CYPOOL_FN(avg_cl_row3_vecs)(rows, 3, s, recip, y, W, C, c, 4);
        else if (U == 4)
            CYPOOL_FN(avg_cl_row3_vecs)(rows, nr, s, recip, y, W, C, c, 4);
        else if (nr == 3)
            CYPOOL_FN(avg_cl_row3_vecs)(rows, 3, s, recip, y, W, C, c, 1);
        else
            CYPOOL_FN(avg_cl_row3_vecs)(rows, nr, s, recip, y, W, C, c, 1);
    }
}

/* A channels-last row of 2x2/s2/p0 windows straight from the input rows r0 and r1 (C >= 16):
 * ((a + b) + (a' + b')) in float, the row-buffer path's adds (avg_vertical's column sums, then
 * avg_cl_hrow512's two columns), scaled and stored as avg_cl_hrow512 does, without the buffer
 * between them. 16 channels a vector, the last vector ending at C. */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_cl_pairs512)(const uint16_t* restrict r0,
                                                 const uint16_t* restrict r1,
                                                 const float* restrict s, int recip,
                                                 uint16_t* restrict y, ptrdiff_t OW,
                                                 ptrdiff_t C) {
    for (ptrdiff_t j = 0; j < OW; j++) {
        const uint16_t* a = r0 + 2 * j * C;
        const uint16_t* b = r1 + 2 * j * C;
        uint16_t* yo = y + j * C;
        const __m512 sv = _mm512_set1_ps(s[j]);
        for (ptrdiff_t c = 0; c < C; c += 16) {
            if (c + 16 > C) c = C - 16;
            const __m512 left = _mm512_add_ps(CYPOOL_FN(avg_ld16)(a + c),
                                              CYPOOL_FN(avg_ld16)(b + c));
            const __m512 right = _mm512_add_ps(CYPOOL_FN(avg_ld16)(a + C + c),
                                               CYPOOL_FN(avg_ld16)(b + C + c));
            _mm256_storeu_si256((__m256i*)(yo + c),
                                CYPOOL_FN(avg_pack16)(CYPOOL_FN(avg_scale16)(
                                    _mm512_add_ps(left, right), sv, recip)));
        }
    }
}

/* The horizontal pass and store of a channels-last forward row: output j's C channels sum
 * the row buffer's kw columns from column j * sw, left to right. C >= 16: 16 channels a
 * vector, the last vector ending at C. */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_cl_hrow512)(const float* restrict vp,
                                                const float* restrict s, int recip,
                                                uint16_t* restrict y, ptrdiff_t OW, ptrdiff_t C,
                                                ptrdiff_t kw, ptrdiff_t sw) {
    for (ptrdiff_t j = 0; j < OW; j++) {
        const float* a0 = vp + j * sw * C;
        uint16_t* yo = y + j * C;
        const __m512 sv = _mm512_set1_ps(s[j]);
        for (ptrdiff_t c = 0; c < C; c += 16) {
            if (c + 16 > C) c = C - 16;
            __m512 sum = _mm512_loadu_ps(a0 + c);
            for (ptrdiff_t t = 1; t < kw; t++)
                sum = _mm512_add_ps(sum, _mm512_loadu_ps(a0 + t * C + c));
            _mm256_storeu_si256((__m256i*)(yo + c),
                                CYPOOL_FN(avg_pack16)(CYPOOL_FN(avg_scale16)(sum, sv, recip)));
        }
    }
}
#endif

/* Forward, channels-first. Rows are (plane, od, oh). */
CYPOOL_CLONES
static int CYPOOL_FN(cypool_avg_fwd_cf)(const CYPOOL_S* x, CYPOOL_S* y, const Window* w,
                                      int count_include_pad, ptrdiff_t divisor_override,
                                      ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = w->in_w, OW = w->out_w, pw = w->pad_w, kw = w->k_w, sw = w->s_w;
    const ptrdiff_t rpp = w->out_d * w->out_h, in_plane = w->in_d * w->in_h * W;
    ptrdiff_t lp = (OW - 1) * sw + kw;
    if (lp < pw + W) lp = pw + W;
    CYPOOL_ACC* vp = (CYPOOL_ACC*)malloc((size_t)lp * sizeof(CYPOOL_ACC));
    CYPOOL_ACC* inv = (CYPOOL_ACC*)malloc((size_t)OW * sizeof(CYPOOL_ACC));
    CYPOOL_ACC* acc = (CYPOOL_ACC*)malloc((size_t)OW * sizeof(CYPOOL_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    CYPOOL_Y* yh = CYPOOL_FROW ? (CYPOOL_Y*)malloc((size_t)OW * sizeof(CYPOOL_Y)) : NULL;
    if (!vp || !inv || !acc || !fw || (CYPOOL_FROW && !yh)) {
        free(vp); free(inv); free(acc); free(fw); free(yh);
        return 1;
    }
    /* The padding cells of the row buffer stay zero: border windows sum them like any cell. */
    for (ptrdiff_t i = 0; i < lp; i++) vp[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avg_factor(padded_span(j, kw, sw, pw, w->padend_w, W), count_include_pad);
    double cached = -1.0;
#if CYPOOL_HALF
    int hp2 = 0;   /* inv holds reciprocals (CYPOOL_SCALE: _avg_fast.h) */
#endif
#if CYPOOL_HALF && defined(CYPOOL_F16C)
    const int f16c = cypool_f16c();
    /* rows of two input rows take avg_cf_pairs512 */
    const int pairs_row = f16c == 2 && kw == 2 && sw == 2 && pw == 0 && OW >= 16 && 2 * OW <= W;
    const uint16_t** rowp = (const uint16_t**)malloc((size_t)(w->k_d * w->k_h) * sizeof(*rowp));
    /* other rows of 16 outputs or more, with windows it takes, avg_cf_rows512 */
    const int rows_row = rowp && f16c == 2 && OW >= 16 && W >= 16 && W < ((ptrdiff_t)1 << 30) &&
                         (sw == 1 ? kw <= 17 : sw == 2 && kw <= 3);
#endif
#if !CYPOOL_HALF
    /* float and double 2x2/s2 rows without padding along w (one add chain per output) */
    const int pairs_rows = kw == 2 && sw == 2 && pw == 0 && 2 * OW <= W;
#endif
    CYPOOL_ACC* restrict v = vp + pw;
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t plane = row / rpp, r = row % rpp, od = r / w->out_h, oh = r % w->out_h;
        Span sd = padded_span(od, w->k_d, w->s_d, w->pad_d, w->padend_d, w->in_d);
        Span sh = padded_span(oh, w->k_h, w->s_h, w->pad_h, w->padend_h, w->in_h);
#if CYPOOL_HALF && defined(CYPOOL_F16C)
        const int pairs = pairs_row && sd.count * sh.count == 2;
        const int fused = rows_row && sd.count * sh.count > 0;
        if (!pairs && !fused)
#endif
#if !CYPOOL_HALF
        /* 2x2/s2 rows of two input rows: the first copied, the second added as the horizontal
         * pass goes (below) */
        if (pairs_rows && sd.count * sh.count == 2) {
            const CYPOOL_S* restrict r0 =
                x + plane * in_plane + (sd.first * w->in_h + sh.first) * W;
            for (ptrdiff_t i = 0; i < 2 * OW; i++) v[i] = (CYPOOL_ACC)CYPOOL_LD(r0[i]);
        } else
#endif
        CYPOOL_FN(avg_vertical)(v, x + plane * in_plane, w, sd, sh, W);
        double fdh = avg_factor(sd, count_include_pad) * avg_factor(sh, count_include_pad);
        if (fdh != cached) {
            CYPOOL_FN(avg_fill_inv)(inv, fw, fdh, OW, divisor_override);
#if CYPOOL_HALF
            hp2 = cypool_pow2_reciprocals(inv, OW);
#endif
            cached = fdh;
        }
#if CYPOOL_HALF && defined(CYPOOL_F16C)
        if (pairs) {
            const CYPOOL_S* r0 = x + plane * in_plane + (sd.first * w->in_h + sh.first) * W;
            const CYPOOL_S* r1 = sh.count == 2 ? r0 + W : r0 + w->in_h * W;
            CYPOOL_FN(avg_cf_pairs512)(r0, r1, inv, hp2, y + row * OW, OW);
            continue;
        }
        if (fused) {
            const ptrdiff_t nr =
                CYPOOL_FN(avg_window_rows)(rowp, x + plane * in_plane, w, sd, sh, W);
            CYPOOL_FN(avg_cf_rows512)(rowp, nr, inv, hp2, y + row * OW, OW, W, kw, sw, pw);
            continue;
        }
        if (f16c == 2 && OW >= 16 && (sw == 1 || sw == 2)) {
            /* the horizontal pass in registers, stored in 16 bits (wider windows) */
            CYPOOL_FN(avg_cf_hrow512)(vp, inv, hp2, y + row * OW, OW, kw, sw);
            continue;
        }
#endif
        /* (CYPOOL_FROW: a float row, stored rounded after the pass) */
        CYPOOL_Y* restrict yr = CYPOOL_FROW ? yh : (CYPOOL_Y*)(y + row * OW);
        const CYPOOL_ACC* restrict b = vp;
        const CYPOOL_ACC* restrict s = inv;
        /* Horizontal pass. */
#if !CYPOOL_HALF
        if (pairs_rows && sd.count * sh.count == 2) {
            /* the second row's adds and the horizontal pass in one: the same adds, in the same
             * order, as avg_vertical and the loop below, with a trip through the row buffer
             * fewer (256 MB 2x2/s2 channels-first: the input is read in address order either
             * way, the first row copied whole before the second is read) */
            const CYPOOL_S* restrict r1 = sh.count == 2
                ? x + plane * in_plane + (sd.first * w->in_h + sh.first + 1) * W
                : x + plane * in_plane + ((sd.first + 1) * w->in_h + sh.first) * W;
            for (ptrdiff_t j = 0; j < OW; j++)
                yr[j] = CYPOOL_ST_CF(CYPOOL_SCALE(
                    (b[2 * j] + (CYPOOL_ACC)CYPOOL_LD(r1[2 * j]))
                        + (b[2 * j + 1] + (CYPOOL_ACC)CYPOOL_LD(r1[2 * j + 1])), s[j]));
            continue;
        }
#endif
        if (kw == 2 && sw == 2) {
            for (ptrdiff_t j = 0; j < OW; j++)
                yr[j] = CYPOOL_ST_CF(CYPOOL_SCALE(b[2 * j] + b[2 * j + 1], s[j]));
        } else if (kw == 3 && sw == 1) {
            for (ptrdiff_t j = 0; j < OW; j++)
                yr[j] = CYPOOL_ST_CF(CYPOOL_SCALE(b[j] + b[j + 1] + b[j + 2], s[j]));
        } else if (kw == 3 && sw == 2) {
            /* the general loop's adds, unrolled: gcc vectorises it (1-d 3/s2/p1 rows of 2048
             * outputs: 4x the streaming kernel's time as the general loop) */
            for (ptrdiff_t j = 0; j < OW; j++)
                yr[j] = CYPOOL_ST_CF(CYPOOL_SCALE(b[2 * j] + b[2 * j + 1] + b[2 * j + 2], s[j]));
        } else if (sw == 1) {
            CYPOOL_ACC* restrict a = acc;
            for (ptrdiff_t j = 0; j < OW; j++) a[j] = b[j];
            for (ptrdiff_t t = 1; t < kw; t++)
                for (ptrdiff_t j = 0; j < OW; j++) a[j] += b[j + t];
            for (ptrdiff_t j = 0; j < OW; j++) yr[j] = CYPOOL_ST_CF(CYPOOL_SCALE(a[j], s[j]));
        } else {
            for (ptrdiff_t j = 0; j < OW; j++) {
                const CYPOOL_ACC* c = b + j * sw;
                CYPOOL_ACC sum = c[0];
                for (ptrdiff_t t = 1; t < kw; t++) sum += c[t];
                yr[j] = CYPOOL_ST_CF(CYPOOL_SCALE(sum, s[j]));
            }
        }
#if CYPOOL_FROW
        CYPOOL_STN(yh, y + row * OW, OW);
        cypool_plus_zero_row(y + row * OW, OW);
#endif
    }
    free(vp); free(inv); free(acc); free(fw); free(yh);
#if CYPOOL_HALF && defined(CYPOOL_F16C)
    free(rowp);
#endif
    return 0;
}

#if !CYPOOL_HALF
/* Channels [0, nb) of one channels-last output row of a 3-wide, stride-1 window with one column
 * of padding each side (OW = W), the window's nr input rows at rr[0, nr) (channel 0 of column 0;
 * columns C apart): the cypool_avg_fwd_cl row buffer's sums, in its order, without the buffer.
 * Column i's vertical sum is (rr[0] + rr[1]) + rr[2], as avg_vertical adds; output j is
 * (v[j - 1] + v[j]) + v[j + 1] times inv[j], the padding columns the buffer's +0. Called with
 * constant nr and nb, so the loops unroll. */
CYPOOL_INLINE void CYPOOL_FN(avg_cl_run3)(const CYPOOL_S* const* rr, ptrdiff_t nr,
                                          CYPOOL_S* restrict yr, const CYPOOL_ACC* restrict inv,
                                          ptrdiff_t W, ptrdiff_t C, ptrdiff_t nb)
{
    enum { B = CYPOOL_AVG_RUN };
    const CYPOOL_S* restrict r0 = rr[0];
    const CYPOOL_S* restrict r1 = nr > 1 ? rr[1] : rr[0];
    const CYPOOL_S* restrict r2 = nr > 2 ? rr[2] : rr[0];
    /* the three columns' sums in a ring (in L1): the window's adds read them from memory, as
     * the row buffer's did, which keeps the left operand's bits where a NaN meets a NaN more
     * often (the operand order of an add is the compiler's) */
    CYPOOL_ACC ring[3][B];
#define CYPOOL_VSUM(i, c) \
    (nr == 1 ? (CYPOOL_ACC)CYPOOL_LD(r0[(i) * C + (c)]) \
     : nr == 2 ? (CYPOOL_ACC)CYPOOL_LD(r0[(i) * C + (c)]) + (CYPOOL_ACC)CYPOOL_LD(r1[(i) * C + (c)]) \
     : ((CYPOOL_ACC)CYPOOL_LD(r0[(i) * C + (c)]) + (CYPOOL_ACC)CYPOOL_LD(r1[(i) * C + (c)])) \
       + (CYPOOL_ACC)CYPOOL_LD(r2[(i) * C + (c)]))
    ptrdiff_t a = 0, b = 1, n = 2;   /* ring rows of columns j - 1, j, j + 1 */
    for (ptrdiff_t c = 0; c < nb; c++) {
        ring[a][c] = 0;
        ring[b][c] = CYPOOL_VSUM(0, c);
    }
    for (ptrdiff_t j = 0; j < W; j++) {
        CYPOOL_ACC* restrict vr = ring[n];
        if (j + 1 < W)
            for (ptrdiff_t c = 0; c < nb; c++) vr[c] = CYPOOL_VSUM(j + 1, c);
        else
            for (ptrdiff_t c = 0; c < nb; c++) vr[c] = 0;
        const CYPOOL_ACC s = inv[j];
        const CYPOOL_ACC* restrict va = ring[a];
        const CYPOOL_ACC* restrict vb = ring[b];
        CYPOOL_S* restrict yo = yr + j * C;
        for (ptrdiff_t c = 0; c < nb; c++)
            yo[c] = CYPOOL_STY(CYPOOL_SCALE(va[c] + vb[c] + vr[c], s));
        const ptrdiff_t t = a;
        a = b;
        b = n;
        n = t;
    }
#undef CYPOOL_VSUM
}

/* avg_cl_run3 over all C channels: blocks of CYPOOL_AVG_RUN, the last one ending at C (its
 * overlap with the block before recomputes the same values), a narrower one when C is. */
CYPOOL_INLINE void CYPOOL_FN(avg_cl_row3)(const CYPOOL_S* const* rr, ptrdiff_t nr,
                                          CYPOOL_S* yr, const CYPOOL_ACC* inv, ptrdiff_t W,
                                          ptrdiff_t C)
{
    enum { B = CYPOOL_AVG_RUN };
    if (C < B) {
        const CYPOOL_S* r[3] = {rr[0], rr[1], rr[2]};
        CYPOOL_FN(avg_cl_run3)(r, nr, yr, inv, W, C, C);
        return;
    }
    for (ptrdiff_t c0 = 0; c0 < C; c0 += B) {
        if (c0 + B > C) c0 = C - B;
        const CYPOOL_S* r[3] = {rr[0] + c0, rr[1] + c0, rr[2] + c0};
        if (nr == 3) CYPOOL_FN(avg_cl_run3)(r, 3, yr + c0, inv, W, C, B);
        else if (nr == 2) CYPOOL_FN(avg_cl_run3)(r, 2, yr + c0, inv, W, C, B);
        else CYPOOL_FN(avg_cl_run3)(r, 1, yr + c0, inv, W, C, B);
    }
}
#endif

/* Forward, channels-last. Rows are (n, od, oh); the row buffer holds (W + padding) x C values
 * and every loop runs over channels innermost, contiguous in memory. */
CYPOOL_CLONES
static int CYPOOL_FN(cypool_avg_fwd_cl)(const CYPOOL_S* x, CYPOOL_S* y, const Window* w,
                                      int count_include_pad, ptrdiff_t divisor_override,
                                      ptrdiff_t C, ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = w->in_w, OW = w->out_w, pw = w->pad_w, kw = w->k_w, sw = w->s_w;
    const ptrdiff_t rps = w->out_d * w->out_h, in_sample = w->in_d * w->in_h * W * C;
    const ptrdiff_t WC = W * C;
    ptrdiff_t lp = (OW - 1) * sw + kw;
    if (lp < pw + W) lp = pw + W;
    CYPOOL_ACC* vp = (CYPOOL_ACC*)malloc((size_t)(lp * C) * sizeof(CYPOOL_ACC));
    CYPOOL_ACC* inv = (CYPOOL_ACC*)malloc((size_t)OW * sizeof(CYPOOL_ACC));
    CYPOOL_ACC* acc = (CYPOOL_ACC*)malloc((size_t)C * sizeof(CYPOOL_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    CYPOOL_Y* yh = CYPOOL_FROW ? (CYPOOL_Y*)malloc((size_t)(OW * C) * sizeof(CYPOOL_Y)) : NULL;
    if (!vp || !inv || !acc || !fw || (CYPOOL_FROW && !yh)) {
        free(vp); free(inv); free(acc); free(fw); free(yh);
        return 1;
    }
    for (ptrdiff_t i = 0; i < lp * C; i++) vp[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avg_factor(padded_span(j, kw, sw, pw, w->padend_w, W), count_include_pad);
    double cached = -1.0;
#if CYPOOL_HALF
    int hp2 = 0;   /* inv holds reciprocals (CYPOOL_SCALE: _avg_fast.h) */
#endif
#if CYPOOL_HALF && defined(CYPOOL_F16C)
    const int f16c = cypool_f16c();
    /* 3x3/s1/p1 rows of 16 channels or more take avg_cl_row3_512 */
    const uint16_t** rowp = (const uint16_t**)malloc((size_t)(w->k_d * w->k_h) * sizeof(*rowp));
    const int row3 = rowp && f16c == 2 && C >= 16 && kw == 3 && sw == 1 && pw == 1 && OW == W;
#endif
    CYPOOL_ACC* restrict v = vp + pw * C;
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t n = row / rps, r = row % rps, od = r / w->out_h, oh = r % w->out_h;
        Span sd = padded_span(od, w->k_d, w->s_d, w->pad_d, w->padend_d, w->in_d);
        Span sh = padded_span(oh, w->k_h, w->s_h, w->pad_h, w->padend_h, w->in_h);
        const CYPOOL_S* xs = x + n * in_sample;
        double fdh = avg_factor(sd, count_include_pad) * avg_factor(sh, count_include_pad);
        if (fdh != cached) {
            CYPOOL_FN(avg_fill_inv)(inv, fw, fdh, OW, divisor_override);
#if CYPOOL_HALF
            hp2 = cypool_pow2_reciprocals(inv, OW);
#endif
            cached = fdh;
        }
        /* (CYPOOL_FROW: a float row, stored rounded after the pass) */
        CYPOOL_Y* yr = CYPOOL_FROW ? yh : (CYPOOL_Y*)(y + row * OW * C);
#if CYPOOL_HALF && defined(CYPOOL_F16C)
        /* the 2x2/s2 interior's straight adds below, in intrinsics: AVX-512, 16 channels a
         * vector (both types); else float16 with F16C, 8 (_half.h) */
        if (kw == 2 && sw == 2 && pw == 0 && 2 * OW <= W && sd.count * sh.count == 2 &&
            ((f16c == 2 && C >= 16) || (CYPOOL_F16 && f16c))) {
            const CYPOOL_S* r0 = xs + (sd.first * w->in_h + sh.first) * WC;
            const CYPOOL_S* r1 = sh.count == 2 ? r0 + WC : r0 + w->in_h * WC;
            if (f16c == 2 && C >= 16)
                CYPOOL_FN(avg_cl_pairs512)(r0, r1, inv, hp2, y + row * OW * C, OW, C);
            else
                cypool_avg22_cl_f16_f16c(r0, r1, y + row * OW * C, OW, C, inv, hp2);
            continue;
        }
#endif
        /* (not for the 16-bit types: gcc leaves this loop scalar with their conversions; the
         * row buffer's two vectorised passes add in the same order) */
        if (!CYPOOL_HALF && kw == 2 && sw == 2 && pw == 0 && 2 * OW <= W &&
            sd.count * sh.count == 2) {
            /* Two input rows, 2-wide windows (the interior of a 2x2/2 pool): the four cells are
             * added straight from the input, in the separable order, skipping the row buffer. */
            const CYPOOL_S* restrict r0 = xs + (sd.first * w->in_h + sh.first) * WC;
            const CYPOOL_S* restrict r1 = sh.count == 2 ? r0 + WC : r0 + w->in_h * WC;
            for (ptrdiff_t j = 0; j < OW; j++) {
                const CYPOOL_S* restrict a = r0 + 2 * j * C;
                const CYPOOL_S* restrict b = r1 + 2 * j * C;
                CYPOOL_Y* restrict yo = yr + j * C;
                const CYPOOL_ACC sc = inv[j];
                for (ptrdiff_t c = 0; c < C; c++)
                    yo[c] = CYPOOL_STY(CYPOOL_SCALE(
                        ((CYPOOL_ACC)CYPOOL_LD(a[c]) + (CYPOOL_ACC)CYPOOL_LD(b[c])) +
                        ((CYPOOL_ACC)CYPOOL_LD(a[C + c]) + (CYPOOL_ACC)CYPOOL_LD(b[C + c])), sc));
            }
            continue;
        }
        if (!CYPOOL_HALF && sd.count * sh.count == 1) {
            /* One input row (1-d pools; windows one row high): the row buffer would be a plain
             * copy of it, so each window is summed straight from the input, its cells left to
             * right as the buffer's passes add them; a cell in the padding adds the buffer's
             * zero. */
            const CYPOOL_S* restrict r0 = xs + (sd.first * w->in_h + sh.first) * WC;
            for (ptrdiff_t j = 0; j < OW; j++) {
                const ptrdiff_t i0 = j * sw - pw;
                CYPOOL_Y* restrict yo = yr + j * C;
                const CYPOOL_ACC s = inv[j];
                const int inside = i0 >= 0 && i0 + kw <= W;
                const CYPOOL_S* restrict a0 = r0 + (inside ? i0 : 0) * C;
                if (inside && kw == 2) {
                    for (ptrdiff_t c = 0; c < C; c++)
                        yo[c] = CYPOOL_STY(CYPOOL_SCALE((CYPOOL_ACC)CYPOOL_LD(a0[c]) +
                                                       (CYPOOL_ACC)CYPOOL_LD(a0[C + c]), s));
                } else if (inside && kw == 3) {
                    for (ptrdiff_t c = 0; c < C; c++)
                        yo[c] = CYPOOL_STY(CYPOOL_SCALE((CYPOOL_ACC)CYPOOL_LD(a0[c]) +
                                                       (CYPOOL_ACC)CYPOOL_LD(a0[C + c]) +
                                                       (CYPOOL_ACC)CYPOOL_LD(a0[2 * C + c]), s));
                } else {
                    CYPOOL_ACC* restrict a = acc;
                    for (ptrdiff_t t = 0; t < kw; t++) {
                        const ptrdiff_t i = i0 + t;
                        const CYPOOL_S* restrict at = r0 + (i < 0 ? 0 : i) * C;
                        if (t == 0 && (i < 0 || i >= W)) {
                            for (ptrdiff_t c = 0; c < C; c++) a[c] = 0;
                        } else if (t == 0) {
                            for (ptrdiff_t c = 0; c < C; c++) a[c] = (CYPOOL_ACC)CYPOOL_LD(at[c]);
                        } else if (i < 0 || i >= W) {
                            for (ptrdiff_t c = 0; c < C; c++) a[c] += (CYPOOL_ACC)0;
                        } else {
                            for (ptrdiff_t c = 0; c < C; c++) a[c] += (CYPOOL_ACC)CYPOOL_LD(at[c]);
                        }
                    }
                    for (ptrdiff_t c = 0; c < C; c++) yo[c] = CYPOOL_STY(CYPOOL_SCALE(a[c], s));
                }
            }
            continue;
        }
#if !CYPOOL_HALF
        if (kw == 3 && sw == 1 && pw == 1 && OW == W &&
            sd.count * sh.count >= 1 && sd.count * sh.count <= 3) {
            /* 3-wide, stride 1, padding 1 (inception's 3x3/s1/p1): the row buffer's sums
             * without the buffer, each column's vertical sum kept (in L1) while the three
             * windows that use it go by (same adds, same order) */
            const CYPOOL_S* rr[3] = {xs, xs, xs};
            const ptrdiff_t nr = CYPOOL_FN(avg_window_rows)(rr, xs, w, sd, sh, WC);
            CYPOOL_FN(avg_cl_row3)(rr, nr, yr, inv, W, C);
            continue;
        }
#endif
#if CYPOOL_HALF && defined(CYPOOL_F16C)
        if (row3 && sd.count * sh.count > 0) {
            const ptrdiff_t nr = CYPOOL_FN(avg_window_rows)(rowp, xs, w, sd, sh, WC);
            CYPOOL_FN(avg_cl_row3_512)(rowp, nr, inv, hp2, y + row * OW * C, W, C);
            continue;
        }
#endif
        CYPOOL_FN(avg_vertical)(v, xs, w, sd, sh, WC);
#if CYPOOL_HALF && defined(CYPOOL_F16C)
        if (f16c == 2 && C >= 16) {
            /* the horizontal pass in registers, stored in 16 bits */
            CYPOOL_FN(avg_cl_hrow512)(vp, inv, hp2, y + row * OW * C, OW, C, kw, sw);
            continue;
        }
#endif
        for (ptrdiff_t j = 0; j < OW; j++) {
            const CYPOOL_ACC* restrict a0 = vp + j * sw * C;
            CYPOOL_Y* restrict yo = yr + j * C;
            const CYPOOL_ACC s = inv[j];
            if (kw == 2) {
                const CYPOOL_ACC* restrict a1 = a0 + C;
                for (ptrdiff_t c = 0; c < C; c++) yo[c] = CYPOOL_STY(CYPOOL_SCALE(a0[c] + a1[c], s));
            } else if (kw == 3) {
                const CYPOOL_ACC* restrict a1 = a0 + C;
                const CYPOOL_ACC* restrict a2 = a1 + C;
                for (ptrdiff_t c = 0; c < C; c++)
                    yo[c] = CYPOOL_STY(CYPOOL_SCALE(a0[c] + a1[c] + a2[c], s));
            } else {
                CYPOOL_ACC* restrict a = acc;
                for (ptrdiff_t c = 0; c < C; c++) a[c] = a0[c];
                for (ptrdiff_t t = 1; t < kw; t++) {
                    const CYPOOL_ACC* restrict at = a0 + t * C;
                    for (ptrdiff_t c = 0; c < C; c++) a[c] += at[c];
                }
                for (ptrdiff_t c = 0; c < C; c++) yo[c] = CYPOOL_STY(CYPOOL_SCALE(a[c], s));
            }
        }
#if CYPOOL_FROW
        CYPOOL_STN(yh, y + row * OW * C, OW * C);
#endif
    }
    free(vp); free(inv); free(acc); free(fw); free(yh);
#if CYPOOL_HALF && defined(CYPOOL_F16C)
    free(rowp);
#endif
    return 0;
}

#if !CYPOOL_HALF
/* Backward (gather form), channels-first. Rows are input rows (plane, d, h); u holds the sum of
 * the scaled gradient rows covering this input row, with kw - 1 zeros before it so every input
 * cell sums a fixed number of buffer cells. */
CYPOOL_CLONES
static int CYPOOL_FN(cypool_avg_bwd_cf)(const CYPOOL_S* go, CYPOOL_S* gi, const Window* w,
                                      int count_include_pad, ptrdiff_t divisor_override,
                                      ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = w->in_w, OW = w->out_w, pw = w->pad_w, kw = w->k_w, sw = w->s_w;
    const ptrdiff_t out_plane = w->out_d * w->out_h * OW;
    const ptrdiff_t lu = kw + OW + W + pw;
    CYPOOL_ACC* ub = (CYPOOL_ACC*)malloc((size_t)lu * sizeof(CYPOOL_ACC));
    CYPOOL_ACC* inv = (CYPOOL_ACC*)malloc((size_t)OW * sizeof(CYPOOL_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    if (!ub || !inv || !fw) {
        free(ub); free(inv); free(fw);
        return 1;
    }
    /* Strided overlapping windows (neither kw == sw nor sw == 1): each input column's covering
     * outputs [lo, hi), computed once here rather than with two divisions per cell per row. */
    ptrdiff_t* cov = NULL;
    if (kw != sw && sw != 1 && !(kw == 3 && sw == 2)) {
        cov = (ptrdiff_t*)malloc((size_t)(2 * W) * sizeof(ptrdiff_t));
        if (!cov) {
            free(ub); free(inv); free(fw);
            return 1;
        }
        for (ptrdiff_t i = 0; i < W; i++)
            covering_outputs(i, kw, sw, pw, OW, &cov[2 * i], &cov[2 * i + 1]);
    }
    for (ptrdiff_t i = 0; i < lu; i++) ub[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avg_factor(padded_span(j, kw, sw, pw, w->padend_w, W), count_include_pad);
    double cached = -1.0;
    CYPOOL_ACC* restrict u = ub + kw - 1;
    AvgRows walk;
    avg_rows_start(&walk, w, row0);
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t d0, d1, h0, h1;
        const ptrdiff_t plane = avg_rows_next(&walk, w, &d0, &d1, &h0, &h1);
        const CYPOOL_T* gp = go + plane * out_plane;
        int first = 1;
        for (ptrdiff_t od = d0; od < d1; od++) {
            for (ptrdiff_t oh = h0; oh < h1; oh++) {
                CYPOOL_FN(avg_row_inv)(inv, fw, &cached, w, od, oh, count_include_pad,
                                       divisor_override);
                const CYPOOL_T* restrict src = gp + (od * w->out_h + oh) * OW;
                const CYPOOL_ACC* restrict s = inv;
                if (first) {
                    for (ptrdiff_t j = 0; j < OW; j++) u[j] = (CYPOOL_ACC)src[j] * s[j];
                    first = 0;
                } else {
                    for (ptrdiff_t j = 0; j < OW; j++) u[j] += (CYPOOL_ACC)src[j] * s[j];
                }
            }
        }
        if (first)
            for (ptrdiff_t j = 0; j < OW; j++) u[j] = 0;
        CYPOOL_T* restrict gr = gi + row * W;
        if (kw == sw) {
            /* Each cell lies in at most one window: a broadcast write. */
            if (kw == 2 && pw == 0) {
                /* Ceil mode may end in a window with one real cell. */
                const ptrdiff_t pairs = OW < W / 2 ? OW : W / 2;
                for (ptrdiff_t j = 0; j < pairs; j++) {
                    CYPOOL_T val = (CYPOOL_T)u[j];
                    gr[2 * j] = val;
                    gr[2 * j + 1] = val;
                }
                for (ptrdiff_t i = 2 * pairs; i < W; i++)
                    gr[i] = i / 2 < OW ? (CYPOOL_T)u[i / 2] : (CYPOOL_T)0;
            } else {
                for (ptrdiff_t i = 0; i < W; i++) {
                    ptrdiff_t j = (i + pw) / sw;
                    gr[i] = j < OW ? (CYPOOL_T)u[j] : (CYPOOL_T)0;
                }
            }
        } else if (sw == 1) {
            const CYPOOL_ACC* restrict b = ub + pw;
            if (kw == 3) {
                for (ptrdiff_t i = 0; i < W; i++) gr[i] = (CYPOOL_T)(b[i + 2] + b[i + 1] + b[i]);
            } else {
                for (ptrdiff_t i = 0; i < W; i++) {
                    CYPOOL_ACC sum = b[i + kw - 1];
                    for (ptrdiff_t t = kw - 2; t >= 0; t--) sum += b[i + t];
                    gr[i] = (CYPOOL_T)sum;
                }
            }
        } else if (kw == 3 && sw == 2) {
            /* The common overlapping stride-2 window, branch-free: cell i (t = i + pw) lies in
             * windows t/2 - 1 and t/2 when t is even, in t/2 alone when t is odd. u[-1] and
             * u[j >= OW] are zeros, and the sum starts at 0 like the general loop's, so every
             * value (signed zeros too) is the general loop's. Cells go in pairs (t even, t + 1)
             * sharing u[m], a loop the compiler vectorises (cell by cell, the shift and parity
             * test kept it scalar: 4.5x float16's time on (16,64,112,112)). */
            ptrdiff_t i = 0;
            if (pw & 1) {
                gr[0] = (CYPOOL_T)(((CYPOOL_ACC)0 + (CYPOOL_ACC)0) + u[pw >> 1]);
                i = 1;
            }
            const ptrdiff_t np = (W - i) / 2;
            const CYPOOL_ACC* restrict um = u + ((i + pw) >> 1);
            CYPOOL_T* restrict gp2 = gr + i;
            for (ptrdiff_t q = 0; q < np; q++) {
                const CYPOOL_ACC a = um[q - 1], b = um[q];
                gp2[2 * q] = (CYPOOL_T)(((CYPOOL_ACC)0 + a) + b);
                gp2[2 * q + 1] = (CYPOOL_T)(((CYPOOL_ACC)0 + (CYPOOL_ACC)0) + b);
            }
            for (i += 2 * np; i < W; i++) {
                const ptrdiff_t t = i + pw, m = t >> 1;
                const CYPOOL_ACC prev = (t & 1) ? (CYPOOL_ACC)0 : u[m - 1];
                gr[i] = (CYPOOL_T)(((CYPOOL_ACC)0 + prev) + u[m]);
            }
        } else {
            for (ptrdiff_t i = 0; i < W; i++) {
                CYPOOL_ACC sum = 0;
                for (ptrdiff_t j = cov[2 * i]; j < cov[2 * i + 1]; j++) sum += u[j];
                gr[i] = (CYPOOL_T)sum;
            }
        }
    }
    free(ub); free(inv); free(fw); free(cov);
    return 0;
}

/* Channels [0, nb) of one channels-last input row of a 3-wide, stride-1 backward with one
 * column of padding each side (OW = W): the nr gradient rows covering it at g[0, nr) (channel 0
 * of column 0; columns C apart) with their divisors' inverses inv[0, nr). Column j of the row
 * buffer u of cypool_avg_bwd_cl, (g[0][j] * inv[0][j] + g[1][j] * inv[1][j]) + ..., is made as
 * its columns are needed, into a ring of three (in L1), and input cell i is (u[i + 1] + u[i]) +
 * u[i - 1] as the buffer's pass adds it (u[-1] and u[W] zeros): the same products and adds in the
 * same order, without a buffer row wider than L1 read three times over. Called with constant nr
 * so the loops unroll. */
CYPOOL_INLINE void CYPOOL_FN(avg_bwd_cl_run3)(const CYPOOL_T* const* g,
                                              const CYPOOL_ACC* const* inv, ptrdiff_t nr,
                                              CYPOOL_T* restrict gr, ptrdiff_t W, ptrdiff_t C,
                                              ptrdiff_t nb)
{
    enum { B = CYPOOL_AVG_RUN };
    CYPOOL_ACC ring[3][B];
#define CYPOOL_UCOL(dst, j) do { \
        CYPOOL_ACC* restrict ud = (dst); \
        const CYPOOL_T* restrict g0 = g[0] + (j) * C; \
        const CYPOOL_ACC s0 = inv[0][j]; \
        for (ptrdiff_t c = 0; c < nb; c++) ud[c] = (CYPOOL_ACC)g0[c] * s0; \
        for (ptrdiff_t r = 1; r < nr; r++) { \
            const CYPOOL_T* restrict gq = g[r] + (j) * C; \
            const CYPOOL_ACC sq = inv[r][j]; \
            for (ptrdiff_t c = 0; c < nb; c++) ud[c] += (CYPOOL_ACC)gq[c] * sq; \
        } \
    } while (0)
    ptrdiff_t a = 0, b = 1, n = 2;   /* ring rows of u's columns i - 1, i, i + 1 */
    for (ptrdiff_t c = 0; c < nb; c++) ring[a][c] = 0;
    CYPOOL_UCOL(ring[b], 0);
    for (ptrdiff_t i = 0; i < W; i++) {
        CYPOOL_ACC* restrict vr = ring[n];
        if (i + 1 < W)
            CYPOOL_UCOL(vr, i + 1);
        else
            for (ptrdiff_t c = 0; c < nb; c++) vr[c] = 0;
        const CYPOOL_ACC* restrict va = ring[a];
        const CYPOOL_ACC* restrict vb = ring[b];
        CYPOOL_T* restrict go_ = gr + i * C;
        for (ptrdiff_t c = 0; c < nb; c++) go_[c] = (CYPOOL_T)(vr[c] + vb[c] + va[c]);
        const ptrdiff_t t = a;
        a = b;
        b = n;
        n = t;
    }
#undef CYPOOL_UCOL
}

/* avg_bwd_cl_run3 over all C channels, in blocks as avg_cl_row3 takes them. */
CYPOOL_INLINE void CYPOOL_FN(avg_bwd_cl_row3)(const CYPOOL_T* const* g,
                                              const CYPOOL_ACC* const* inv, ptrdiff_t nr,
                                              CYPOOL_T* gr, ptrdiff_t W, ptrdiff_t C)
{
    enum { B = CYPOOL_AVG_RUN };
    const ptrdiff_t nb = C < B ? C : B;
    for (ptrdiff_t c0 = 0; c0 < C; c0 += nb) {
        if (c0 + nb > C) c0 = C - nb;
        const CYPOOL_T* r[3] = {g[0] + c0, g[1] + c0, g[2] + c0};
        if (nr == 3) CYPOOL_FN(avg_bwd_cl_run3)(r, inv, 3, gr + c0, W, C, nb);
        else if (nr == 2) CYPOOL_FN(avg_bwd_cl_run3)(r, inv, 2, gr + c0, W, C, nb);
        else CYPOOL_FN(avg_bwd_cl_run3)(r, inv, 1, gr + c0, W, C, nb);
    }
}

/* Backward (gather form), channels-last; rows are (n, d, h). */
CYPOOL_CLONES
static int CYPOOL_FN(cypool_avg_bwd_cl)(const CYPOOL_S* go, CYPOOL_S* gi, const Window* w,
                                      int count_include_pad, ptrdiff_t divisor_override,
                                      ptrdiff_t C, ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = w->in_w, OW = w->out_w, pw = w->pad_w, kw = w->k_w, sw = w->s_w;
    const ptrdiff_t out_sample = w->out_d * w->out_h * OW * C;
    const ptrdiff_t lu = kw + OW + W + pw;
    CYPOOL_ACC* ub = (CYPOOL_ACC*)malloc((size_t)(lu * C) * sizeof(CYPOOL_ACC));
    CYPOOL_ACC* inv = (CYPOOL_ACC*)malloc((size_t)OW * sizeof(CYPOOL_ACC));
    CYPOOL_ACC* acc = (CYPOOL_ACC*)malloc((size_t)C * sizeof(CYPOOL_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    /* the 3-wide stride-1 rows' three divisor rows (avg_bwd_cl_row3), each with its factor */
    const int run3 = kw == 3 && sw == 1 && pw == 1 && OW == W;
    CYPOOL_ACC* inv3 = run3 ? (CYPOOL_ACC*)malloc((size_t)(3 * OW) * sizeof(CYPOOL_ACC)) : NULL;
    double cached3[3] = {-1.0, -1.0, -1.0};
    if (!ub || !inv || !acc || !fw || (run3 && !inv3)) {
        free(ub); free(inv); free(acc); free(fw); free(inv3);
        return 1;
    }
    for (ptrdiff_t i = 0; i < lu * C; i++) ub[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avg_factor(padded_span(j, kw, sw, pw, w->padend_w, W), count_include_pad);
    double cached = -1.0;
    CYPOOL_ACC* restrict u = ub + (kw - 1) * C;
    AvgRows walk;
    avg_rows_start(&walk, w, row0);
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t d0, d1, h0, h1;
        const ptrdiff_t n = avg_rows_next(&walk, w, &d0, &d1, &h0, &h1);
        const CYPOOL_T* gs = go + n * out_sample;
        if (kw == sw && (d1 - d0) * (h1 - h0) == 1) {
            /* One covering output row and windows that do not overlap along w: each cell is its
             * window's scaled gradient, written straight from the gradient row (the values the
             * buffer below would hold; no round trip through it). */
            CYPOOL_FN(avg_row_inv)(inv, fw, &cached, w, d0, h0, count_include_pad,
                                   divisor_override);
            const CYPOOL_T* src = gs + (d0 * w->out_h + h0) * OW * C;
            CYPOOL_T* gr = gi + row * W * C;
            for (ptrdiff_t i = 0; i < W; i++) {
                const ptrdiff_t j = (i + pw) / sw;
                CYPOOL_T* restrict go_ = gr + i * C;
                if (j < OW) {
                    const CYPOOL_T* restrict sj = src + j * C;
                    const CYPOOL_ACC s = inv[j];
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (CYPOOL_T)((CYPOOL_ACC)sj[c] * s);
                } else {
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = 0;
                }
            }
            continue;
        }
        if (run3 && (d1 - d0) * (h1 - h0) >= 1 && (d1 - d0) * (h1 - h0) <= 3) {
            /* Inception's 3x3/s1/p1: column by column (avg_bwd_cl_row3; same adds, same order) */
            const CYPOOL_T* g3[3];
            const CYPOOL_ACC* i3[3];
            ptrdiff_t nr = 0;
            for (ptrdiff_t od = d0; od < d1; od++)
                for (ptrdiff_t oh = h0; oh < h1; oh++, nr++) {
                    CYPOOL_FN(avg_row_inv)(inv3 + nr * OW, fw, &cached3[nr], w, od, oh,
                                           count_include_pad, divisor_override);
                    g3[nr] = gs + (od * w->out_h + oh) * OW * C;
                    i3[nr] = inv3 + nr * OW;
                }
            for (ptrdiff_t q = nr; q < 3; q++) {
                g3[q] = g3[0];
                i3[q] = i3[0];
            }
            CYPOOL_FN(avg_bwd_cl_row3)(g3, i3, nr, gi + row * W * C, W, C);
            continue;
        }
        int first = 1;
        for (ptrdiff_t od = d0; od < d1; od++) {
            for (ptrdiff_t oh = h0; oh < h1; oh++) {
                CYPOOL_FN(avg_row_inv)(inv, fw, &cached, w, od, oh, count_include_pad,
                                       divisor_override);
                const CYPOOL_T* src = gs + (od * w->out_h + oh) * OW * C;
                for (ptrdiff_t j = 0; j < OW; j++) {
                    const CYPOOL_T* restrict sj = src + j * C;
                    CYPOOL_ACC* restrict uj = u + j * C;
                    const CYPOOL_ACC s = inv[j];
                    if (first) {
                        for (ptrdiff_t c = 0; c < C; c++) uj[c] = (CYPOOL_ACC)sj[c] * s;
                    } else {
                        for (ptrdiff_t c = 0; c < C; c++) uj[c] += (CYPOOL_ACC)sj[c] * s;
                    }
                }
                first = 0;
            }
        }
        if (first)
            for (ptrdiff_t i = 0; i < OW * C; i++) u[i] = 0;
        CYPOOL_T* gr = gi + row * W * C;
        for (ptrdiff_t i = 0; i < W; i++) {
            CYPOOL_T* restrict go_ = gr + i * C;
            if (kw == sw) {
                ptrdiff_t j = (i + pw) / sw;
                if (j < OW) {
                    const CYPOOL_ACC* restrict uj = u + j * C;
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (CYPOOL_T)uj[c];
                } else {
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = 0;
                }
            } else if (sw == 1) {
                const CYPOOL_ACC* restrict b0 = ub + (i + pw) * C;
                if (kw == 3) {
                    const CYPOOL_ACC* restrict b1 = b0 + C;
                    const CYPOOL_ACC* restrict b2 = b1 + C;
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (CYPOOL_T)(b2[c] + b1[c] + b0[c]);
                } else {
                    CYPOOL_ACC* restrict a = acc;
                    const CYPOOL_ACC* restrict bl = b0 + (kw - 1) * C;
                    for (ptrdiff_t c = 0; c < C; c++) a[c] = bl[c];
                    for (ptrdiff_t t = kw - 2; t >= 0; t--) {
                        const CYPOOL_ACC* restrict bt = b0 + t * C;
                        for (ptrdiff_t c = 0; c < C; c++) a[c] += bt[c];
                    }
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (CYPOOL_T)a[c];
                }
            } else if (kw == 3 && sw == 2) {
                /* as in the channels-first backward: cell i (t = i + pw) lies in windows t/2 - 1
                 * and t/2 when t is even, in t/2 alone when odd; u has zeros before window 0
                 * and past OW - 1, and the sums start at 0 like the general loop's */
                const ptrdiff_t t = i + pw;
                const CYPOOL_ACC* restrict um = u + (t >> 1) * C;
                if (t & 1) {
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (CYPOOL_T)((CYPOOL_ACC)0 + um[c]);
                } else {
                    const CYPOOL_ACC* restrict up = um - C;
                    for (ptrdiff_t c = 0; c < C; c++)
                        go_[c] = (CYPOOL_T)(((CYPOOL_ACC)0 + up[c]) + um[c]);
                }
            } else {
                ptrdiff_t a0, e0;
                covering_outputs(i, kw, sw, pw, OW, &a0, &e0);
                CYPOOL_ACC* restrict a = acc;
                for (ptrdiff_t c = 0; c < C; c++) a[c] = 0;
                for (ptrdiff_t j = a0; j < e0; j++) {
                    const CYPOOL_ACC* restrict uj = u + j * C;
                    for (ptrdiff_t c = 0; c < C; c++) a[c] += uj[c];
                }
                for (ptrdiff_t c = 0; c < C; c++) go_[c] = (CYPOOL_T)a[c];
            }
        }
    }
    free(ub); free(inv); free(acc); free(fw); free(inv3);
    return 0;
}
#endif

#if CYPOOL_HALF
/* Backward of the 16-bit types, PyTorch's rounding: PyTorch scatters delta = g / divisor,
 * rounded to the storage type, over each window in output order, rounding the cell after every
 * add. This gather form makes the same adds in the same order for each input cell (its covering
 * outputs in (od, oh, ow) order) on a float row holding rounded values, so every cell is
 * PyTorch's. Rows are input rows (n, d, h) of C interleaved channels (channels-first: C = 1). */
#define CYPOOL_RT(v) CYPOOL_LD(CYPOOL_ST(v))

#if defined(CYPOOL_F16C)
/* Backward in registers (AVX-512F; the cypool_f16c() state 2), the same adds in the same order
 * as avg_bwd_rounded's loops below. A gradient row's deltas: d = g / divisor (or g times its
 * reciprocal), rounded: as floats holding the rounded values (dl, n values), or (ds, when dl
 * is NULL) stored in 16 bits with -0 as +0. C == 1: divisor j of value j; else of values
 * [j * C, (j + 1) * C). n >= 16 (C == 1) or C >= 16: 16 values a vector, the last one ending
 * at the row's end. */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_delta512)(const uint16_t* restrict src,
                                              const float* restrict rdiv, int recip,
                                              float* restrict dl, uint16_t* restrict ds,
                                              ptrdiff_t OW, ptrdiff_t C) {
    const ptrdiff_t n = OW * C;
    for (ptrdiff_t j = 0; j < (C == 1 ? 1 : OW); j++) {
        const ptrdiff_t b = C == 1 ? 0 : j * C, e = C == 1 ? n : b + C;
        const __m512 sj = _mm512_set1_ps(rdiv[j]);
        for (ptrdiff_t i = b; i < e; i += 16) {
            if (i + 16 > e) i = e - 16;
            const __m512 s = C == 1 ? _mm512_loadu_ps(rdiv + i) : sj;
            const __m512 g = CYPOOL_FN(avg_ld16)(src + i);
            const __m512 d = recip ? _mm512_mul_ps(g, s) : _mm512_div_ps(g, s);
            if (dl)
                _mm512_storeu_ps(dl + i, CYPOOL_FN(avg_rt16_sum)(d));
            else
                _mm256_storeu_si256((__m256i*)(ds + i),
                                    CYPOOL_FN(avg_plus_zero16)(CYPOOL_FN(avg_pack16)(d)));
        }
    }
}

/* U vectors of 16 cells from i0 (the U chains of dependent rounded adds go together: one
 * chain is latency-bound); the rule of avg_bwd_cf512 below. */
CYPOOL_AVG512 void CYPOOL_FN(avg_bwd_cf_vecs)(float* const* dr, ptrdiff_t nr,
                                              uint16_t* restrict gr, ptrdiff_t i0, ptrdiff_t kw,
                                              ptrdiff_t sw, ptrdiff_t pw, const int U) {
    /* 3x3/s2, lane q of a vector whose first cell has t parity p: window t/2 - 1 is lane
     * (p + q) / 2 of the 16 deltas from t0/2 - 1 (a zero, lane 16, when t is odd), window t/2
     * the lane after it */
    const __m512i pre0 = _mm512_set_epi32(16, 7, 16, 6, 16, 5, 16, 4, 16, 3, 16, 2, 16, 1, 16, 0);
    const __m512i pre1 = _mm512_set_epi32(8, 16, 7, 16, 6, 16, 5, 16, 4, 16, 3, 16, 2, 16, 1, 16);
    const __m512i cur0 = _mm512_set_epi32(8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1);
    const __m512i cur1 = _mm512_set_epi32(9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1);
    const __m512 zero = _mm512_setzero_ps();
    /* the first add, 0 + a rounded delta, is exact: not rounded */
    __m512 a[4];
    for (int u = 0; u < U; u++) a[u] = zero;
    if (sw == 1) {
        for (ptrdiff_t r = 0; r < nr; r++)
            for (ptrdiff_t t = kw - 1; t >= 0; t--) {
                const float* d = dr[r] + i0 + pw - t;
                const int first = r == 0 && t == kw - 1;
                for (int u = 0; u < U; u++) {
                    const __m512 s = _mm512_add_ps(a[u], _mm512_loadu_ps(d + 16 * u));
                    a[u] = first ? s : CYPOOL_FN(avg_rt16_sum)(s);
                }
            }
    } else {
        /* the vectors' first cells (i0 + 16 u) all have t parity p */
        const ptrdiff_t t0 = i0 + pw, p = t0 & 1;
        const __m512i pre = p ? pre1 : pre0, cur = p ? cur1 : cur0;
        for (ptrdiff_t r = 0; r < nr; r++) {
            __m512 d[4];
            for (int u = 0; u < U; u++) d[u] = _mm512_loadu_ps(dr[r] + (t0 >> 1) - 1 + 8 * u);
            for (int u = 0; u < U; u++) {
                const __m512 s = _mm512_add_ps(a[u], _mm512_permutex2var_ps(d[u], pre, zero));
                a[u] = r == 0 ? s : CYPOOL_FN(avg_rt16_sum)(s);
            }
            for (int u = 0; u < U; u++)
                a[u] = CYPOOL_FN(avg_rt16_sum)(
                    _mm512_add_ps(a[u], _mm512_permutexvar_ps(cur, d[u])));
        }
    }
    for (int u = 0; u < U; u++)
        _mm256_storeu_si256((__m256i*)(gr + i0 + 16 * u), CYPOOL_FN(avg_pack16_held)(a[u]));
}

/* One channels-first input row (W >= 16 cells) of overlapping windows from its nr covering
 * gradient rows' rounded deltas dr[r] (zeros at indices < 0 and >= OW), in the rows' order:
 * cell i adds window j's delta for j ascending, rounding after each add. Stride 1: windows
 * i + pw - t, t = kw - 1 .. 0; a window past the row's ends adds a zero delta, which leaves a
 * rounded sum as it is (the sum starts at +0 and is never -0: a rounded sum of rounded values
 * is 0 only as +0). 3x3/s2: cell i (t = i + pw) takes window t/2 - 1 (a zero when t is odd)
 * then window t/2. Four vectors of 16 cells at a time, the last four (or the last vector, in
 * rows under 64 cells) ending at W: their overlap recomputes the same cells. */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_bwd_cf512)(float* const* dr, ptrdiff_t nr,
                                               uint16_t* restrict gr, ptrdiff_t W, ptrdiff_t kw,
                                               ptrdiff_t sw, ptrdiff_t pw) {
    if (W >= 64) {
        for (ptrdiff_t i0 = 0; i0 < W; i0 += 64) {
            if (i0 + 64 > W) i0 = W - 64;
            CYPOOL_FN(avg_bwd_cf_vecs)(dr, nr, gr, i0, kw, sw, pw, 4);
        }
        return;
    }
    for (ptrdiff_t i0 = 0; i0 < W; i0 += 16) {
        if (i0 + 16 > W) i0 = W - 16;
        CYPOOL_FN(avg_bwd_cf_vecs)(dr, nr, gr, i0, kw, sw, pw, 1);
    }
}

/* Channels [c, c + 16 U) of channels-last cell i from the nr covering gradient rows' rounded
 * deltas: windows j0 .. j1 - 1 of each row, in order, rounding after each add. */
CYPOOL_AVG512 void CYPOOL_FN(avg_bwd_cl_vecs)(float* const* dr, ptrdiff_t nr,
                                              uint16_t* restrict g, ptrdiff_t c, ptrdiff_t C,
                                              ptrdiff_t j0, ptrdiff_t j1, const int U) {
    __m512 a[4];
    for (int u = 0; u < U; u++) a[u] = _mm512_setzero_ps();
    for (ptrdiff_t r = 0; r < nr; r++)
        for (ptrdiff_t j = j0; j < j1; j++) {
            const float* d = dr[r] + j * C + c;
            const int first = r == 0 && j == j0;   /* 0 + a rounded delta: exact */
            for (int u = 0; u < U; u++) {
                const __m512 s = _mm512_add_ps(a[u], _mm512_loadu_ps(d + 16 * u));
                a[u] = first ? s : CYPOOL_FN(avg_rt16_sum)(s);
            }
        }
    for (int u = 0; u < U; u++)
        _mm256_storeu_si256((__m256i*)(g + c + 16 * u), CYPOOL_FN(avg_pack16_held)(a[u]));
}

/* One channels-last input row (C >= 16 channels) from its nr covering gradient rows' rounded
 * deltas dr[r] (OW * C each): cell i adds windows cov[2i] .. cov[2i + 1] - 1 of each row, in
 * order, rounding after each add. Four vectors of 16 channels at a time (one, under 64
 * channels), the last ones ending at C. */
CYPOOL_AVG512_FN void CYPOOL_FN(avg_bwd_cl512)(float* const* dr, ptrdiff_t nr,
                                               uint16_t* restrict gr, ptrdiff_t W, ptrdiff_t C,
                                               const ptrdiff_t* restrict cov) {
    for (ptrdiff_t i = 0; i < W; i++) {
        const ptrdiff_t j0 = cov[2 * i], j1 = cov[2 * i + 1];
        if (C >= 64) {
            for (ptrdiff_t c = 0; c < C; c += 64) {
                if (c + 64 > C) c = C - 64;
                CYPOOL_FN(avg_bwd_cl_vecs)(dr, nr, gr + i * C, c, C, j0, j1, 4);
            }
        } else {
            for (ptrdiff_t c = 0; c < C; c += 16) {
                if (c + 16 > C) c = C - 16;
                CYPOOL_FN(avg_bwd_cl_vecs)(dr, nr, gr + i * C, c, C, j0, j1, 1);
            }
        }
    }
}
/* The same backward with AVX2 and F16C (the cypool_f16c() state 1: no AVX-512), 8 values a
 * vector: the deltas, and the overlapping rows' rounded adds (channels-first stride-1 windows,
 * channels-last any), four vectors at a time. */
#define CYPOOL_AVG256 static inline __attribute__((target("avx2,f16c"), always_inline, unused))
#define CYPOOL_AVG256_FN static __attribute__((target("avx2,f16c"), noinline, unused))
CYPOOL_AVG256 __m256 CYPOOL_FN(avg_ld8)(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128((const __m128i*)p);
#if CYPOOL_F16
    return cypool_widen8_f16(h);
#else
    return cypool_widen8_bf16(h);
#endif
}
CYPOOL_AVG256 __m128i CYPOOL_FN(avg_pack8)(__m256 m) {
#if CYPOOL_F16
    return cypool_narrow8_f16(m);
#else
    return cypool_narrow8_bf16(m);
#endif
}
CYPOOL_AVG256 __m256 CYPOOL_FN(avg_rt8)(__m256 m) {
#if CYPOOL_F16
    return _mm256_cvtph_ps(_mm256_cvtps_ph(m, CYPOOL_F16C_RNE));
#else
    return _mm256_castsi256_ps(cypool_bf16_bits8(m));
#endif
}

/* avg_delta512's rounded deltas as floats, 8 a vector: n >= 8 (C == 1) or C >= 8 */
CYPOOL_AVG256_FN void CYPOOL_FN(avg_delta256)(const uint16_t* restrict src,
                                              const float* restrict rdiv, int recip,
                                              float* restrict dl, ptrdiff_t OW, ptrdiff_t C) {
    const ptrdiff_t n = OW * C;
    for (ptrdiff_t j = 0; j < (C == 1 ? 1 : OW); j++) {
        const ptrdiff_t b = C == 1 ? 0 : j * C, e = C == 1 ? n : b + C;
        const __m256 sj = _mm256_set1_ps(rdiv[j]);
        for (ptrdiff_t i = b; i < e; i += 8) {
            if (i + 8 > e) i = e - 8;
            const __m256 s = C == 1 ? _mm256_loadu_ps(rdiv + i) : sj;
            const __m256 g = CYPOOL_FN(avg_ld8)(src + i);
            _mm256_storeu_ps(dl + i, CYPOOL_FN(avg_rt8)(recip ? _mm256_mul_ps(g, s)
                                                              : _mm256_div_ps(g, s)));
        }
    }
}

/* avg_bwd_cf_vecs, stride 1, 8 cells a vector */
CYPOOL_AVG256 void CYPOOL_FN(avg_bwd_cf_vecs8)(float* const* dr, ptrdiff_t nr,
                                               uint16_t* restrict gr, ptrdiff_t i0, ptrdiff_t kw,
                                               ptrdiff_t pw, const int U) {
    __m256 a[4];
    for (int u = 0; u < U; u++) a[u] = _mm256_setzero_ps();
    for (ptrdiff_t r = 0; r < nr; r++)
        for (ptrdiff_t t = kw - 1; t >= 0; t--) {
            const float* d = dr[r] + i0 + pw - t;
            for (int u = 0; u < U; u++)
                a[u] = CYPOOL_FN(avg_rt8)(_mm256_add_ps(a[u], _mm256_loadu_ps(d + 8 * u)));
        }
    for (int u = 0; u < U; u++)
        _mm_storeu_si128((__m128i*)(gr + i0 + 8 * u), CYPOOL_FN(avg_pack8)(a[u]));
}
/* avg_bwd_cf512 for stride-1 windows, 8 cells a vector (W >= 8) */
CYPOOL_AVG256_FN void CYPOOL_FN(avg_bwd_cf256)(float* const* dr, ptrdiff_t nr,
                                               uint16_t* restrict gr, ptrdiff_t W, ptrdiff_t kw,
                                               ptrdiff_t pw) {
    if (W >= 32) {
        for (ptrdiff_t i0 = 0; i0 < W; i0 += 32) {
            if (i0 + 32 > W) i0 = W - 32;
            CYPOOL_FN(avg_bwd_cf_vecs8)(dr, nr, gr, i0, kw, pw, 4);
        }
        return;
    }
    for (ptrdiff_t i0 = 0; i0 < W; i0 += 8) {
        if (i0 + 8 > W) i0 = W - 8;
        CYPOOL_FN(avg_bwd_cf_vecs8)(dr, nr, gr, i0, kw, pw, 1);
    }
}
/* avg_bwd_cl_vecs, 8 channels a vector */
CYPOOL_AVG256 void CYPOOL_FN(avg_bwd_cl_vecs8)(float* const* dr, ptrdiff_t nr,
                                               uint16_t* restrict g, ptrdiff_t c, ptrdiff_t C,
                                               ptrdiff_t j0, ptrdiff_t j1, const int U) {
    __m256 a[4];
    for (int u = 0; u < U; u++) a[u] = _mm256_setzero_ps();
    for (ptrdiff_t r = 0; r < nr; r++)
        for (ptrdiff_t j = j0; j < j1; j++) {
            const float* d = dr[r] + j * C + c;
            for (int u = 0; u < U; u++)
                a[u] = CYPOOL_FN(avg_rt8)(_mm256_add_ps(a[u], _mm256_loadu_ps(d + 8 * u)));
        }
    for (int u = 0; u < U; u++)
        _mm_storeu_si128((__m128i*)(g + c + 8 * u), CYPOOL_FN(avg_pack8)(a[u]));
}
/* avg_bwd_cl512, 8 channels a vector (C >= 8) */
CYPOOL_AVG256_FN void CYPOOL_FN(avg_bwd_cl256)(float* const* dr, ptrdiff_t nr,
                                               uint16_t* restrict gr, ptrdiff_t W, ptrdiff_t C,
                                               const ptrdiff_t* restrict cov) {
    for (ptrdiff_t i = 0; i < W; i++) {
        const ptrdiff_t j0 = cov[2 * i], j1 = cov[2 * i + 1];
        if (C >= 32) {
            for (ptrdiff_t c = 0; c < C; c += 32) {
                if (c + 32 > C) c = C - 32;
                CYPOOL_FN(avg_bwd_cl_vecs8)(dr, nr, gr + i * C, c, C, j0, j1, 4);
            }
        } else {
            for (ptrdiff_t c = 0; c < C; c += 8) {
                if (c + 8 > C) c = C - 8;
                CYPOOL_FN(avg_bwd_cl_vecs8)(dr, nr, gr + i * C, c, C, j0, j1, 1);
            }
        }
    }
}
#undef CYPOOL_AVG256
#undef CYPOOL_AVG256_FN
#endif

#if CYPOOL_F16 && defined(CYPOOL_F16C) && defined(CYPOOL_FP16)
/* float16's rounded adds as AVX512-FP16 half-precision adds where cypool_fp16_adds says so
 * (_half.h: the same bits) */
#define CYPOOL_AVG_FP16 1
#define CYPOOL_AVG_FP16_FN \
    static __attribute__((target("avx512fp16,avx512bw,avx512f,avx2,f16c"), noinline, unused))

/* The channels-first row of avg_bwd_cf512 with float16 deltas dh[r] (the rounded deltas'
 * bits; zeros around the row) and float16 adds: 32 cells a vector, the last one ending at W
 * (W >= 32). */
CYPOOL_AVG_FP16_FN void avg_bwd_cf_fp16(uint16_t* const* dh, ptrdiff_t nr, uint16_t* restrict gr,
                                        ptrdiff_t W, ptrdiff_t kw, ptrdiff_t sw, ptrdiff_t pw) {
    short pre[2][32], cur[2][32];
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 32; q++) {
            /* 3x3/s2 (as avg_bwd_cf_vecs, 32 lanes): window t/2 - 1 (lane 32 of the pair:
             * the zero) and window t/2 */
            pre[p][q] = (short)(((p + q) & 1) ? 32 : (p + q) / 2);
            cur[p][q] = (short)(1 + (p + q) / 2);
        }
    const __m512i zero = _mm512_setzero_si512();
    for (ptrdiff_t i0 = 0; i0 < W; i0 += 32) {
        if (i0 + 32 > W) i0 = W - 32;
        __m512h a = _mm512_setzero_ph();
        if (sw == 1) {
            for (ptrdiff_t r = 0; r < nr; r++)
                for (ptrdiff_t t = kw - 1; t >= 0; t--)
                    a = _mm512_add_ph(a, _mm512_castsi512_ph(_mm512_loadu_si512(
                                             (const void*)(dh[r] + i0 + pw - t))));
        } else {
            const ptrdiff_t t0 = i0 + pw, p = t0 & 1;
            const __m512i pv = _mm512_loadu_si512((const void*)pre[p]);
            const __m512i cv = _mm512_loadu_si512((const void*)cur[p]);
            for (ptrdiff_t r = 0; r < nr; r++) {
                const __m512i d = _mm512_loadu_si512((const void*)(dh[r] + (t0 >> 1) - 1));
                a = _mm512_add_ph(a, _mm512_castsi512_ph(_mm512_permutex2var_epi16(d, pv, zero)));
                a = _mm512_add_ph(a, _mm512_castsi512_ph(_mm512_permutexvar_epi16(cv, d)));
            }
        }
        _mm512_storeu_si512((void*)(gr + i0), _mm512_castph_si512(a));
    }
}

/* The channels-last row of avg_bwd_cl512 with float16 deltas and adds: 32 channels a vector,
 * the last one ending at C (C >= 32). */
CYPOOL_AVG_FP16_FN void avg_bwd_cl_fp16(uint16_t* const* dh, ptrdiff_t nr, uint16_t* restrict gr,
                                        ptrdiff_t W, ptrdiff_t C, const ptrdiff_t* restrict cov) {
    for (ptrdiff_t i = 0; i < W; i++) {
        const ptrdiff_t j0 = cov[2 * i], j1 = cov[2 * i + 1];
        for (ptrdiff_t c = 0; c < C; c += 32) {
            if (c + 32 > C) c = C - 32;
            __m512h a = _mm512_setzero_ph();
            for (ptrdiff_t r = 0; r < nr; r++)
                for (ptrdiff_t j = j0; j < j1; j++)
                    a = _mm512_add_ph(a, _mm512_castsi512_ph(_mm512_loadu_si512(
                                             (const void*)(dh[r] + j * C + c))));
            _mm512_storeu_si512((void*)(gr + i * C + c), _mm512_castph_si512(a));
        }
    }
}
#else
#define CYPOOL_AVG_FP16 0
#endif
CYPOOL_INLINE int CYPOOL_FN(avg_bwd_rounded)(const CYPOOL_S* go, CYPOOL_S* gi, const Window* w,
                                            int count_include_pad, ptrdiff_t divisor_override,
                                            ptrdiff_t C, ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = w->in_w, OW = w->out_w, pw = w->pad_w, kw = w->k_w, sw = w->s_w;
    const ptrdiff_t out_sample = w->out_d * w->out_h * OW * C;
    float* acc = (float*)malloc((size_t)(W * C) * sizeof(float));
    float* dl = (float*)malloc((size_t)(OW * C) * sizeof(float));
    float* inv = (float*)malloc((size_t)OW * sizeof(float));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    CYPOOL_S* ds = (CYPOOL_S*)malloc((size_t)(OW * C) * sizeof(CYPOOL_S));
    float* rdiv = (float*)malloc((size_t)OW * sizeof(float));
    if (!acc || !dl || !inv || !fw || !ds || !rdiv) {
        free(acc); free(dl); free(inv); free(fw); free(ds); free(rdiv);
        return 1;
    }
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avg_factor(padded_span(j, kw, sw, pw, w->padend_w, W), count_include_pad);
    double cached = -1.0;
    int rp2 = 0;   /* rdiv holds reciprocals (every divisor a power of two: _half.h) */
    const CYPOOL_S* last = NULL;   /* the gradient row the previous row was made of */
#if defined(CYPOOL_F16C)
    /* In registers (AVX-512): channels-first rows of 16 cells or more with stride-1 or 3x3/s2
     * windows, channels-last rows of 16 channels or more; (AVX2) channels-first rows of 8 cells
     * or more with stride-1 windows, channels-last rows of 8 channels or more. The rounded deltas of the covering
     * gradient rows are kept in R slots (the most rows an input row has), tagged with their
     * gradient row, so the next input rows reuse them; channels-first slots have zeros around
     * the row's OW deltas (off before, the rest after). */
    const int f16c = cypool_f16c();
    /* (AVX2: 8 cells or channels a vector; channels-first stride-1 windows only) */
    const int reg = f16c == 2 ? (C == 1 ? W >= 16 && (sw == 1 || (kw == 3 && sw == 2)) : C >= 16)
                  : f16c == 1 && (C == 1 ? W >= 8 && sw == 1 : C >= 8);
    const ptrdiff_t lanes = f16c == 2 ? 16 : 8;
    const ptrdiff_t R = ((w->k_d + w->s_d - 1) / w->s_d) * ((w->k_h + w->s_h - 1) / w->s_h);
    const ptrdiff_t off = C == 1 ? kw + 16 : 0;
    const ptrdiff_t Lr = C == 1 ? OW + W + pw + 2 * kw + 48 : OW * C;
    float* ring = NULL;
    const CYPOOL_S** tag = NULL;
    ptrdiff_t *used = NULL, *cov = NULL;
    float** dr = NULL;
    uint16_t** dh = NULL;
    ptrdiff_t next = 0;
    /* float16 with AVX512-FP16: float16 deltas in the slots, float16 adds (avg_bwd_cf_fp16) */
#if CYPOOL_AVG_FP16
    const int fp16 = reg && (C == 1 ? W >= 32 : C >= 32) && cypool_fp16_adds();
#else
    const int fp16 = 0;
#endif
    if (reg) {
        ring = (float*)calloc((size_t)(R * Lr), sizeof(float));
        tag = (const CYPOOL_S**)calloc((size_t)R, sizeof(CYPOOL_S*));
        used = (ptrdiff_t*)malloc((size_t)R * sizeof(ptrdiff_t));
        dr = (float**)malloc((size_t)R * sizeof(float*));
        cov = (ptrdiff_t*)malloc((size_t)(2 * W) * sizeof(ptrdiff_t));
        if (!ring || !tag || !used || !dr || !cov) {
            free(acc); free(dl); free(inv); free(fw); free(ds); free(rdiv);
            free(ring); free(tag); free(used); free(dr); free(cov);
            return 1;
        }
        dh = (uint16_t**)malloc((size_t)R * sizeof(uint16_t*));
        if (!dh) {
            free(acc); free(dl); free(inv); free(fw); free(ds); free(rdiv);
            free(ring); free(tag); free(used); free(dr); free(cov);
            return 1;
        }
        for (ptrdiff_t k = 0; k < R; k++) used[k] = -1;
        for (ptrdiff_t i = 0; i < W; i++)
            covering_outputs(i, kw, sw, pw, OW, &cov[2 * i], &cov[2 * i + 1]);
    }
#endif
    AvgRows walk;
    avg_rows_start(&walk, w, row0);
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t d0, d1, h0, h1;
        const ptrdiff_t n = avg_rows_next(&walk, w, &d0, &d1, &h0, &h1);
        const CYPOOL_S* gs = go + n * out_sample;
        CYPOOL_S* restrict gr = gi + row * W * C;
        if (kw == sw && (d1 - d0) * (h1 - h0) == 1) {
            /* Each cell of the row lies in one window at most: it is 0 + that window's delta,
             * stored once per window (ds) and broadcast, as the float path's broadcast write. */
            const double before = cached;
            CYPOOL_FN(avg_row_inv)(inv, fw, &cached, w, d0, h0, count_include_pad,
                                   divisor_override);
            if (cached != before) {   /* the divisors, rounded to the storage type */
                for (ptrdiff_t j = 0; j < OW; j++) rdiv[j] = CYPOOL_RT(inv[j]);
                rp2 = cypool_pow2_reciprocals(rdiv, OW);
            }
            const CYPOOL_S* restrict src = gs + (d0 * w->out_h + h0) * OW * C;
            if (src == last) {
                /* the previous row lies in the same windows: the same values */
                memcpy(gr, gr - W * C, (size_t)(W * C) * sizeof(CYPOOL_S));
                continue;
            }
            last = src;
            /* 0 + delta, rounded: the rounded delta with -0 made +0 (row conversions:
             * _half.h; in registers: avg_delta512) */
#if defined(CYPOOL_F16C)
            if (f16c == 2 && (C == 1 ? OW >= 16 : C >= 16)) {
                CYPOOL_FN(avg_delta512)(src, rdiv, rp2, NULL, ds, OW, C);
            } else
#endif
            {
                CYPOOL_LDN(src, dl, OW * C);
                for (ptrdiff_t j = 0; j < OW; j++) {
                    const float s = rdiv[j];
                    float* restrict dj = dl + j * C;
                    if (rp2) for (ptrdiff_t c = 0; c < C; c++) dj[c] = dj[c] * s;
                    else for (ptrdiff_t c = 0; c < C; c++) dj[c] = dj[c] / s;
                }
                CYPOOL_STN(dl, ds, OW * C);
                cypool_plus_zero_row(ds, OW * C);
            }
            if (C == 1 && kw == 2 && pw == 0) {
                const ptrdiff_t pairs = OW < W / 2 ? OW : W / 2;
                for (ptrdiff_t j = 0; j < pairs; j++) {
                    gr[2 * j] = ds[j];
                    gr[2 * j + 1] = ds[j];
                }
                for (ptrdiff_t i = 2 * pairs; i < W; i++) gr[i] = i / 2 < OW ? ds[i / 2] : 0;
            } else {
                for (ptrdiff_t i = 0; i < W; i++) {
                    const ptrdiff_t j = (i + pw) / sw;
                    if (j < OW)
                        memcpy(gr + i * C, ds + j * C, (size_t)C * sizeof(CYPOOL_S));
                    else
                        memset(gr + i * C, 0, (size_t)C * sizeof(CYPOOL_S));
                }
            }
            continue;
        }
        last = NULL;
#if defined(CYPOOL_F16C)
        if (reg && (d1 - d0) * (h1 - h0) <= R) {
            ptrdiff_t nr = 0;
            for (ptrdiff_t od = d0; od < d1; od++) {
                for (ptrdiff_t oh = h0; oh < h1; oh++) {
                    const CYPOOL_S* src = gs + (od * w->out_h + oh) * OW * C;
                    ptrdiff_t k = 0;
                    while (k < R && tag[k] != src) k++;
                    if (k == R) {
                        /* a slot no gradient row of this input row holds */
                        do { k = next; next = (next + 1) % R; } while (used[k] == row);
                        const double before = cached;
                        CYPOOL_FN(avg_row_inv)(inv, fw, &cached, w, od, oh, count_include_pad,
                                               divisor_override);
                        if (cached != before) {
                            for (ptrdiff_t j = 0; j < OW; j++) rdiv[j] = CYPOOL_RT(inv[j]);
                            rp2 = cypool_pow2_reciprocals(rdiv, OW);
                        }
                        float* d = ring + k * Lr + off;
                        uint16_t* h = (uint16_t*)(ring + k * Lr) + off;
                        if (fp16 && C == 1 && OW < 16)
                            for (ptrdiff_t j = 0; j < OW; j++)
                                h[j] = cypool_plus_zero(CYPOOL_ST(rp2 ? CYPOOL_LD(src[j]) * rdiv[j]
                                                                      : CYPOOL_LD(src[j]) / rdiv[j]));
                        else if (fp16)
                            CYPOOL_FN(avg_delta512)(src, rdiv, rp2, NULL, h, OW, C);
                        else if (C == 1 && OW < lanes)
                            for (ptrdiff_t j = 0; j < OW; j++)
                                d[j] = CYPOOL_RT(rp2 ? CYPOOL_LD(src[j]) * rdiv[j]
                                                     : CYPOOL_LD(src[j]) / rdiv[j]);
                        else if (f16c == 2)
                            CYPOOL_FN(avg_delta512)(src, rdiv, rp2, d, NULL, OW, C);
                        else
                            CYPOOL_FN(avg_delta256)(src, rdiv, rp2, d, OW, C);
                        tag[k] = src;
                    }
                    used[k] = row;
                    dh[nr] = (uint16_t*)(ring + k * Lr) + off;
                    dr[nr++] = ring + k * Lr + off;
                }
            }
#if CYPOOL_AVG_FP16
            if (fp16) {
                if (C == 1) avg_bwd_cf_fp16(dh, nr, gr, W, kw, sw, pw);
                else avg_bwd_cl_fp16(dh, nr, gr, W, C, cov);
                continue;
            }
#endif
            if (f16c == 1) {
                if (C == 1) CYPOOL_FN(avg_bwd_cf256)(dr, nr, gr, W, kw, pw);
                else CYPOOL_FN(avg_bwd_cl256)(dr, nr, gr, W, C, cov);
                continue;
            }
            if (C == 1) CYPOOL_FN(avg_bwd_cf512)(dr, nr, gr, W, kw, sw, pw);
            else CYPOOL_FN(avg_bwd_cl512)(dr, nr, gr, W, C, cov);
            continue;
        }
#endif
        for (ptrdiff_t i = 0; i < W * C; i++) acc[i] = 0;
        for (ptrdiff_t od = d0; od < d1; od++) {
            for (ptrdiff_t oh = h0; oh < h1; oh++) {
                const double before = cached;
                CYPOOL_FN(avg_row_inv)(inv, fw, &cached, w, od, oh, count_include_pad,
                                       divisor_override);
                if (cached != before) {
                    for (ptrdiff_t j = 0; j < OW; j++) rdiv[j] = CYPOOL_RT(inv[j]);
                    rp2 = cypool_pow2_reciprocals(rdiv, OW);
                }
                const CYPOOL_S* restrict src = gs + (od * w->out_h + oh) * OW * C;
                CYPOOL_LDN(src, dl, OW * C);
                for (ptrdiff_t j = 0; j < OW; j++) {
                    const float s = rdiv[j];
                    float* restrict dj = dl + j * C;
                    if (rp2) for (ptrdiff_t c = 0; c < C; c++) dj[c] = dj[c] * s;
                    else for (ptrdiff_t c = 0; c < C; c++) dj[c] = dj[c] / s;
                }
                CYPOOL_RTN(dl, OW * C);
                /* Window cell t of every window j: cell i = j * sw - pw + t. Taking t from the
                 * last to the first gives each cell its windows in ascending order, and within
                 * one t no cell is touched twice, so the loop over j vectorises. */
                for (ptrdiff_t t = kw - 1; t >= 0; t--) {
                    const ptrdiff_t j0 = pw - t > 0 ? (pw - t + sw - 1) / sw : 0;
                    const ptrdiff_t last = W - 1 + pw - t;
                    const ptrdiff_t j1 = last < 0 ? 0 : (last / sw + 1 < OW ? last / sw + 1 : OW);
                    if (j1 <= j0) continue;
#if CYPOOL_F16
                    /* each cell gets one add per t: the adds, then the cells from the first
                     * to the last touched rounded in a flat pass (a rounded value rounds to
                     * itself): float16's rounding is a row function (F16C) */
                    if (C == 1) {
                        float* restrict a = acc + (j0 * sw - pw + t);
                        const float* restrict d = dl + j0;
                        for (ptrdiff_t k = 0; k < j1 - j0; k++) a[k * sw] += d[k];
                    } else {
                        for (ptrdiff_t j = j0; j < j1; j++) {
                            float* restrict ai = acc + (j * sw - pw + t) * C;
                            const float* restrict dj = dl + j * C;
                            for (ptrdiff_t c = 0; c < C; c++) ai[c] += dj[c];
                        }
                    }
                    CYPOOL_RTN(acc + (j0 * sw - pw + t) * C, ((j1 - 1 - j0) * sw + 1) * C);
#else
                    /* bfloat16's rounding vectorises inline: each add rounded in place */
                    if (C == 1) {
                        float* restrict a = acc + (j0 * sw - pw + t);
                        const float* restrict d = dl + j0;
                        for (ptrdiff_t k = 0; k < j1 - j0; k++)
                            a[k * sw] = CYPOOL_RT(a[k * sw] + d[k]);
                    } else {
                        for (ptrdiff_t j = j0; j < j1; j++) {
                            float* restrict ai = acc + (j * sw - pw + t) * C;
                            const float* restrict dj = dl + j * C;
                            for (ptrdiff_t c = 0; c < C; c++) ai[c] = CYPOOL_RT(ai[c] + dj[c]);
                        }
                    }
#endif
                }
            }
        }
        CYPOOL_STN(acc, gr, W * C);
    }
    free(acc); free(dl); free(inv); free(fw); free(ds); free(rdiv);
#if defined(CYPOOL_F16C)
    free(ring); free(tag); free(used); free(dr); free(cov); free(dh);
#endif
    return 0;
}

CYPOOL_CLONES
static int CYPOOL_FN(cypool_avg_bwd_cf)(const CYPOOL_S* go, CYPOOL_S* gi, const Window* w,
                                      int count_include_pad, ptrdiff_t divisor_override,
                                      ptrdiff_t row0, ptrdiff_t row1) {
    return CYPOOL_FN(avg_bwd_rounded)(go, gi, w, count_include_pad, divisor_override, 1, row0,
                                      row1);
}

CYPOOL_CLONES
static int CYPOOL_FN(cypool_avg_bwd_cl)(const CYPOOL_S* go, CYPOOL_S* gi, const Window* w,
                                      int count_include_pad, ptrdiff_t divisor_override,
                                      ptrdiff_t C, ptrdiff_t row0, ptrdiff_t row1) {
    return CYPOOL_FN(avg_bwd_rounded)(go, gi, w, count_include_pad, divisor_override, C, row0,
                                      row1);
}
#undef CYPOOL_RT
#endif
#if CYPOOL_HALF && defined(CYPOOL_F16C)
#undef CYPOOL_AVG512
#undef CYPOOL_AVG512_FN
#endif
#undef CYPOOL_AVG_FP16
#ifdef CYPOOL_AVG_FP16_FN
#undef CYPOOL_AVG_FP16_FN
#endif

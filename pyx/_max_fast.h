/* Fast paths of max pooling (float, double, and float16 / bfloat16 stored as 16-bit patterns and
 * compared in float: _half.h), called per output row from pyx/_max.pyx.
 * The loops are in _max_fast_body.h, included below once per data type (_clones.h: template style).
 *
 * Same value rule as the general kernel: a cell replaces the running maximum when
 * `v > m || v != v` (NaN propagates, the index names the last NaN in window order, ties keep the
 * first maximum). Every loop visits the window cells in the general kernel's order (d, h, w), or
 * (the channels-last runs, max_cl_runs_row) combines runs of them as a tree whose neighbours stay
 * in that order, which the rule's associativity makes the same: results are bit-identical to it.
 *
 * The update is written as a select on a mask, `m = mask ? v : m`, with `|` instead of `||`:
 * no branch and no conditional store, which lets gcc vectorise it (compare + blend). The running
 * maxima live in small local arrays of fixed length so they stay in L1 or registers.
 *
 * CYPOOL_CLONES builds each hot function for the baseline ISA and for AVX2 / AVX-512; the
 * loader picks one at run time (GNU ifunc), so a portable build still uses wide vectors. Other
 * compilers and architectures get the plain (still branch-free) code.
 */
#ifndef CYPOOL_MAX_FAST_H
#define CYPOOL_MAX_FAST_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include "_clones.h"
#include "_half.h"
#include "_window.h"

/* Python extensions build with -fwrapv, which keeps gcc from proving the channel-block address
 * arithmetic non-overflowing and costs the channels-last rows over 2x; these kernels never
 * overflow (sizes come validated), so they opt out. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-wrapv", "no-loop-unroll-and-jam", "no-loop-interchange")
#define CYPOOL_MAX_POP_OPTIONS 1
#endif

/* Outputs per chunk of a channels-first row: the chunk's maxima and indices stay in L1. */
#define CYPOOL_CF_CHUNK 256
/* channels-last block width, in elements of either type: the block's maxima (and indices) are
 * kept in vector registers across the window */
#define CYPOOL_CL_BLOCK 32

#define CYPOOL_SEL(mask, a, b) ((mask) ? (a) : (b))

/* 1-d channels-last windows of up to this many cells take cypool_max_fwd_cl_1d (its cell
 * positions live on the stack) */
#define CYPOOL_CL_1D_CELLS 64

/* cypool_max_fwd_cf_2x2's scratch of horizontal pairs (16 KiB of float32: L1) */
#define CYPOOL_PAIRS 4096

/* The 16-bit types convert their input to float on the stack and pool there: channels-first, a
 * window row of a chunk (CYPOOL_HALF_ROW values, at least 2 * CYPOOL_CF_CHUNK + 1);
 * channels-last, the input of a group of outputs with those outputs (CYPOOL_HALF_CL_TILE
 * values), for windows of up to CYPOOL_HALF_CL_CELLS cells. */
#define CYPOOL_HALF_ROW 1024
#define CYPOOL_HALF_CL_TILE 8192
#define CYPOOL_HALF_CL_CELLS 256

/* The output row `row` (n, od, oh) of a channels-last tensor: its sample n and the real cells of
 * its windows along d and h. */
typedef struct ClRow {
    ptrdiff_t n;
    Span d, h;
} ClRow;
CYPOOL_INLINE ClRow cl_row_spans(const Window* w, ptrdiff_t row)
{
    const ptrdiff_t rps = w->out_d * w->out_h;
    const ptrdiff_t od = (row % rps) / w->out_h, oh = row % w->out_h;
    ClRow r;
    r.n = row / rps;
    r.d = dilated_span(od, w->k_d, w->s_d, w->pad_d, w->dil_d, w->in_d);
    r.h = dilated_span(oh, w->k_h, w->s_h, w->pad_h, w->dil_h, w->in_h);
    return r;
}

/* The channels-last run kernels' loops (max_cl_runs_row in _max_fast_body.h), written once for
 * every vector type: output columns [lo, hi) of a row, nr runs of K adjacent cells (constants
 * NR, KW: the cases of CYPOOL_CL_VCASES), base[r] run r's row start, values of type ET in
 * vectors VT of L lanes, LATER(a, b) the window rule on a vector, FIN(v) the vector stored. The
 * caller's locals: base, nr, K, S, pad, lo, hi, C, y. */
/* one level of the runs' tree: runs r and r + T, neighbours, combined in order */
#define CYPOOL_CL_VLEVEL(NR, T, LATER) \
    for (ptrdiff_t r = 0; r + T < NR; r += 2 * T) a[r] = LATER(a[r], a[r + T]);
#define CYPOOL_CL_VROW(NR, KW, ET, VT, L, LATER, FIN) do { \
    for (ptrdiff_t ow = lo; ow < hi; ow++) { \
        const ptrdiff_t off = (ow * S - pad) * C; \
        for (ptrdiff_t c0 = 0;; c0 += L) { \
            if (c0 + L > C) c0 = C - L; \
            VT a[NR]; \
            for (ptrdiff_t r = 0; r < NR; r++) { \
                const ET* xr = base[r] + off + c0; \
                VT m, v; \
                __builtin_memcpy(&m, xr, sizeof m); \
                for (ptrdiff_t c = 1; c < KW; c++) { \
                    __builtin_memcpy(&v, xr + c * C, sizeof v); \
                    m = LATER(m, v); \
                } \
                a[r] = m; \
            } \
            CYPOOL_CL_VLEVEL(NR, 1, LATER) CYPOOL_CL_VLEVEL(NR, 2, LATER) \
            CYPOOL_CL_VLEVEL(NR, 4, LATER) CYPOOL_CL_VLEVEL(NR, 8, LATER) \
            a[0] = FIN(a[0]); \
            __builtin_memcpy(y + ow * C + c0, &a[0], sizeof a[0]); \
            if (c0 + L >= C) break; \
        } \
    } \
} while (0)
#define CYPOOL_CL_VCASES(ET, VT, L, LATER, FIN) do { \
    if (nr == 4 && K == 2) CYPOOL_CL_VROW(4, 2, ET, VT, L, LATER, FIN); \
    else if (nr == 2 && K == 2) CYPOOL_CL_VROW(2, 2, ET, VT, L, LATER, FIN); \
    else if (nr == 9 && K == 3) CYPOOL_CL_VROW(9, 3, ET, VT, L, LATER, FIN); \
    else if (nr == 3 && K == 3) CYPOOL_CL_VROW(3, 3, ET, VT, L, LATER, FIN); \
    else if (nr == 1 && K == 3) CYPOOL_CL_VROW(1, 3, ET, VT, L, LATER, FIN); \
    else if (nr == 1 && K == 2) CYPOOL_CL_VROW(1, 2, ET, VT, L, LATER, FIN); \
    else return 0; \
    return 1; \
} while (0)
#define CYPOOL_CL_AS_IS(v) (v)
#if defined(CYPOOL_FP16)
/* The window rule and the store of float16 compared as float16 (AVX512-FP16), on 32 lanes of
 * 16-bit patterns: b after a is max(b, a), then b where b is NaN; a NaN result made quiet as its
 * trip through float makes it in the F16C rows (the same bits). Used in functions built for
 * "avx512fp16,avx512bw,avx512f". */
#define CYPOOL_LATER_PH(a, b) ({ const __m512i a_ = (a), b_ = (b); \
    _mm512_mask_blend_epi16( \
        _mm512_cmp_ph_mask(_mm512_castsi512_ph(b_), _mm512_castsi512_ph(b_), _CMP_UNORD_Q), \
        _mm512_castph_si512(_mm512_max_ph(_mm512_castsi512_ph(b_), _mm512_castsi512_ph(a_))), \
        b_); })
#define CYPOOL_QUIET_PH(v) ({ const __m512i v_ = (v); \
    _mm512_mask_blend_epi16( \
        _mm512_cmp_ph_mask(_mm512_castsi512_ph(v_), _mm512_castsi512_ph(v_), _CMP_UNORD_Q), \
        v_, _mm512_or_si512(v_, _mm512_set1_epi16(0x0200))); })
#endif
#if defined(__x86_64__) && defined(__GNUC__)
/* The window rule and the store of bfloat16 on 32 lanes of 16-bit patterns, compared as float32
 * (the pair of a 32-bit lane widened exactly: the even cell by a shift, the odd one by a mask):
 * float32's rule on each half (max(b, a), then b where b is NaN), narrowed back by a shift and
 * a mask (the results are bfloat16 values: nothing to round); a NaN result made quiet as the
 * store of the converting rows makes it (the same bits). Used in functions built for
 * "avx512bw,avx512f". */
#define CYPOOL_LATER_BF(a, b) ({ const __m512i a_ = (a), b_ = (b); \
    const __m512i hi_ = _mm512_set1_epi32((int)0xffff0000u); \
    const __m512 ae_ = _mm512_castsi512_ps(_mm512_slli_epi32(a_, 16)); \
    const __m512 be_ = _mm512_castsi512_ps(_mm512_slli_epi32(b_, 16)); \
    const __m512 ao_ = _mm512_castsi512_ps(_mm512_and_si512(a_, hi_)); \
    const __m512 bo_ = _mm512_castsi512_ps(_mm512_and_si512(b_, hi_)); \
    const __m512 re_ = _mm512_mask_mov_ps(_mm512_max_ps(be_, ae_), \
                                          _mm512_cmp_ps_mask(be_, be_, _CMP_UNORD_Q), be_); \
    const __m512 ro_ = _mm512_mask_mov_ps(_mm512_max_ps(bo_, ao_), \
                                          _mm512_cmp_ps_mask(bo_, bo_, _CMP_UNORD_Q), bo_); \
    _mm512_or_si512(_mm512_srli_epi32(_mm512_castps_si512(re_), 16), \
                    _mm512_and_si512(_mm512_castps_si512(ro_), hi_)); })
#define CYPOOL_QUIET_BF(v) ({ const __m512i v_ = (v); \
    _mm512_mask_mov_epi16(v_, _mm512_cmpgt_epi16_mask( \
        _mm512_and_si512(v_, _mm512_set1_epi16(0x7fff)), _mm512_set1_epi16(0x7f80)), \
        _mm512_or_si512(v_, _mm512_set1_epi16(0x0040))); })
#endif
/* Run counts of the run kernels: CYPOOL_CL_RUNS at most */
#define CYPOOL_CL_RUNS 9

/* Whether the gather of cypool_max_bwd_tiles_cl16 / _cf16 applies to a max backward and is worth
 * trying: tiles exist (out >= 1 and in >= out along each axis) and the indices of the first
 * band of tiles of sample 0 (channels-last; its first OW outputs, C channels each) or plane 0
 * (channels-first, C = 1) name cells of their own tiles. A call's
 * indices come from one kind of window, so its first band tells; a later band that does not
 * keep to its tiles still sends its item to the scatter. */
static inline int cypool_max_tiles_probe(const int64_t* idx, const ptrdiff_t* in3,
                                         const ptrdiff_t* out3, ptrdiff_t C)
{
    for (int a = 0; a < 3; a++)
        if (out3[a] < 1 || in3[a] < out3[a]) return 0;
    const ptrdiff_t IH = in3[1], IW = in3[2], OW = out3[2];
    const ptrdiff_t sd = in3[0] / out3[0], sh = IH / out3[1], sw = IW / OW;
    const int64_t plane = (int64_t)in3[0] * IH * IW;
    for (ptrdiff_t o = 0; o < OW; o++)
        for (ptrdiff_t c = 0; c < C; c++) {
            const int64_t i = idx[o * C + c];
            if ((uint64_t)i >= (uint64_t)plane || i / (IH * IW) >= sd || (i / IW) % IH >= sh
                || (i % IW) / sw != o)
                return 0;
        }
    return 1;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* -1 until the first call, then 2 (AVX-512F), 1 (AVX2) or 0, as the CPU, the OS and
 * cypool_isa_cap allow */
static int cypool_cl_isa_state = -1;
static int __attribute__((unused)) cypool_cl_isa(void)
{
    int s = __atomic_load_n(&cypool_cl_isa_state, __ATOMIC_RELAXED);
    if (s < 0) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
        if (s > cypool_isa_cap()) s = cypool_isa_cap();
        __atomic_store_n(&cypool_cl_isa_state, s, __ATOMIC_RELAXED);
    }
    return s;
}

/* float32 channels-first rows with AVX-512F, as the 16-bit types' interiors (max_cf_f16c_vecs16):
 * the out_w >= 16 outputs of one row from its window rows, rs + a * dstep + b * hstep (a < dc,
 * b < hc; plane offsets of the rows' first cells), output j's window from column col0 + j * S (col0
 * = -pad), K cells (no dilation), stride S (1; or 2 with K >= 2), in rows of in_w cells. Vectors of
 * 16 outputs keep their maxima (and positions) in registers across the window's cells, visited in
 * window order with the general kernel's rule (`v > m || v != v`: the first maximum, the last
 * NaN), and are stored once. With S = 2 cell c of a vector is the even (c = 0) or odd (c >= 1, from
 * c - 1) half of 32 values, split by vpermt2ps. Interior vectors (windows inside the row) load
 * plainly and stay in the window rows' span; a vector holding border outputs (windows reaching
 * into the padding or past the row's end) loads with a mask of the row's columns, the others
 * reading as -inf, which the rule never takes, its positions starting at the first real column:
 * the border cell's scan. U vectors go together (the compare-and-blend chain of one is
 * latency-bound); the last vector of a range ends at its end (its overlap recomputes the same
 * outputs). The C sweep this replaces (max_cf_rowk, the borders cell by cell) kept the maxima in
 * memory and loaded strided cells: the ResNet stem's 3x3/s2/p1 forward took about 4x the
 * streaming kernel's time, its left border cell alone half the time of its vectors. */
#define CYPOOL_CF_VEC_ARGS const float* restrict xp, ptrdiff_t rs, ptrdiff_t col0, \
    ptrdiff_t dstep, ptrdiff_t dc, ptrdiff_t hstep, ptrdiff_t hc, ptrdiff_t K, ptrdiff_t S, \
    ptrdiff_t in_w, float* restrict y, int64_t* restrict idx
/* lanes j (of up to 32 values loaded from column q) that lie in [0, in_w) */
static inline __attribute__((target("avx512f"), always_inline)) uint32_t
cypool_cf_cols(ptrdiff_t q, ptrdiff_t in_w)
{
    const ptrdiff_t lo = q < 0 ? -q : 0, hi = in_w - q;
    const uint32_t from = lo >= 32 ? 0 : ~0u << lo;
    const uint32_t below = hi >= 32 ? ~0u : hi <= 0 ? 0 : (1u << hi) - 1;
    return from & below;
}
/* The vectors' function for data of type T whose cells load as 16 floats: LD1(s, B, k) loads
 * the 16 cells from s (S = 1), LD2(s, B, k, c) the even (c = 0) or odd cells of the 32 from s
 * (S = 2), masked by k (the row's columns) where B, the rest -inf; ST(p, keep, m) stores m's lanes
 * in keep. float32 loads and stores as is; bfloat16 (cypool_max_cf_vecs16_bf16) as the high half
 * of a float (a shift each way: the same values, and the same bits, as its conversions). */
#define CYPOOL_CF_VECS16(NAME, TARGET, T, LD1, LD2, ST) \
static inline __attribute__((target(TARGET), always_inline)) void \
NAME(const T* restrict xp, ptrdiff_t rs, ptrdiff_t col0, ptrdiff_t dstep, ptrdiff_t dc, \
     ptrdiff_t hstep, ptrdiff_t hc, ptrdiff_t K, ptrdiff_t S, ptrdiff_t in_w, T* restrict y, \
     int64_t* restrict idx, const ptrdiff_t* at, const int U, const int border, \
     const uint32_t keep) \
{ \
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); \
    const __m512i even = _mm512_slli_epi32(iota, 1); \
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1)); \
    const __m512i step = S == 1 ? iota : even; \
    const __m512 ninf = _mm512_set1_ps(-INFINITY); \
    (void)odd; \
    __m512 m[4]; \
    __m512i p[4]; \
    for (int u = 0; u < U; u++) { \
        m[u] = ninf; \
        /* the window's first column (its first real one at the left border) */ \
        const __m512i col = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(col0 + at[u] * S)), \
                                             step); \
        p[u] = _mm512_add_epi32(_mm512_set1_epi32((int32_t)rs), \
                                border ? _mm512_max_epi32(col, _mm512_setzero_si512()) : col); \
    } \
    for (ptrdiff_t a = 0; a < dc; a++) \
        for (ptrdiff_t b = 0; b < hc; b++) { \
            const ptrdiff_t r = rs + a * dstep + b * hstep; \
            for (ptrdiff_t c = 0; c < K; c++) \
                for (int u = 0; u < U; u++) { \
                    const ptrdiff_t q = col0 + at[u] * S + (S == 2 && c ? c - 1 : c); \
                    const T* s = xp + r + q; \
                    const __m512 v = S == 1 ? LD1(s, border, cypool_cf_cols(q, in_w)) \
                                            : LD2(s, border, cypool_cf_cols(q, in_w), c); \
                    if (idx) { \
                        const __mmask16 mk = _mm512_cmp_ps_mask(v, m[u], _CMP_GT_OQ) \
                                             | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); \
                        m[u] = _mm512_mask_blend_ps(mk, m[u], v); \
                        p[u] = _mm512_mask_blend_epi32( \
                            mk, p[u], _mm512_add_epi32(_mm512_set1_epi32((int32_t)( \
                                                           r + col0 + at[u] * S + c)), step)); \
                    } else { \
                        /* the rule as max(v, m) (ties and a NaN m keep m), then v where v is \
                         * NaN: one dependent instruction less */ \
                        m[u] = _mm512_mask_mov_ps(_mm512_max_ps(v, m[u]), \
                                                  _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v); \
                    } \
                } \
        } \
    for (int u = 0; u < U; u++) { \
        ST(y + at[u], keep, m[u]); \
        if (idx) { \
            _mm512_mask_storeu_epi64(idx + at[u], (__mmask8)keep, \
                                     _mm512_cvtepi32_epi64(_mm512_castsi512_si256(p[u]))); \
            _mm512_mask_storeu_epi64(idx + at[u] + 8, (__mmask8)(keep >> 8), \
                                     _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p[u], 1))); \
        } \
    } \
}
#define CYPOOL_F32_LD1(s, B, k) \
    ((B) ? _mm512_mask_loadu_ps(ninf, (__mmask16)(k), s) : _mm512_loadu_ps(s))
#define CYPOOL_F32_LD2(s, B, k, c) ({ \
    __m512 v0_, v1_; \
    if (B) { \
        const uint32_t k_ = (k); \
        v0_ = _mm512_mask_loadu_ps(ninf, (__mmask16)k_, s); \
        v1_ = _mm512_mask_loadu_ps(ninf, (__mmask16)(k_ >> 16), (s) + 16); \
    } else { \
        v0_ = _mm512_loadu_ps(s); \
        v1_ = _mm512_loadu_ps((s) + 16); \
    } \
    _mm512_permutex2var_ps(v0_, (c) ? odd : even, v1_); })
#define CYPOOL_F32_ST(p, keep, m) _mm512_mask_storeu_ps(p, (__mmask16)(keep), m)
CYPOOL_CF_VECS16(cypool_max_cf_vecs16_f32, "avx512f", float, CYPOOL_F32_LD1, CYPOOL_F32_LD2,
                 CYPOOL_F32_ST)
/* bfloat16: 16 cells widened and shifted; 32 cells in one load, whose 32-bit lanes hold an
 * even cell in the low half (shifted up) and an odd one in the high half (the low half
 * cleared): no permute. A NaN maximum stored quiet, as the conversion makes it. */
#define CYPOOL_BF16_LD1(s, B, k) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32( \
    (B) ? _mm256_mask_loadu_epi16(_mm256_set1_epi16((short)0xff80), (__mmask16)(k), s) \
        : _mm256_loadu_si256((const __m256i*)(s))), 16))
#define CYPOOL_BF16_LD2(s, B, k, c) ({ \
    const __m512i w_ = (B) ? _mm512_mask_loadu_epi16(_mm512_set1_epi16((short)0xff80), \
                                                     (__mmask32)(k), s) \
                           : _mm512_loadu_si512((const void*)(s)); \
    _mm512_castsi512_ps((c) ? _mm512_and_si512(w_, _mm512_set1_epi32((int)0xffff0000u)) \
                            : _mm512_slli_epi32(w_, 16)); })
#define CYPOOL_BF16_ST(p, keep, m) do { \
    const __m512 m_ = (m); \
    const __m512i t_ = _mm512_srli_epi32(_mm512_castps_si512(m_), 16); \
    _mm512_mask_cvtepi32_storeu_epi16( \
        p, (__mmask16)(keep), \
        _mm512_mask_or_epi32(t_, _mm512_cmp_ps_mask(m_, m_, _CMP_UNORD_Q), t_, \
                             _mm512_set1_epi32(0x40))); \
} while (0)
CYPOOL_CF_VECS16(cypool_max_cf_vecs16_bf16, "avx512f,avx512bw,avx512vl", uint16_t,
                 CYPOOL_BF16_LD1, CYPOOL_BF16_LD2, CYPOOL_BF16_ST)
/* float16 where the CPU has no AVX512-FP16 (whose walk compares float16 as float16): 16 cells
 * converted (vcvtph2ps), 32 cells in one load split into even (low halves) and odd cells, the
 * maxima converted back (vcvtps2ph: the cells' values; a NaN stored quiet, as max_cf_f16c's) */
#define CYPOOL_F16C_LD1(s, B, k) _mm512_cvtph_ps( \
    (B) ? _mm256_mask_loadu_epi16(_mm256_set1_epi16((short)0xfc00), (__mmask16)(k), s) \
        : _mm256_loadu_si256((const __m256i*)(s)))
#define CYPOOL_F16C_LD2(s, B, k, c) ({ \
    const __m512i w_ = (B) ? _mm512_mask_loadu_epi16(_mm512_set1_epi16((short)0xfc00), \
                                                     (__mmask32)(k), s) \
                           : _mm512_loadu_si512((const void*)(s)); \
    _mm512_cvtph_ps(_mm512_cvtepi32_epi16((c) ? _mm512_srli_epi32(w_, 16) : w_)); })
#define CYPOOL_F16C_ST(p, keep, m) \
    _mm256_mask_storeu_epi16(p, (__mmask16)(keep), \
                             _mm512_cvtps_ph(m, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
CYPOOL_CF_VECS16(cypool_max_cf_vecs16_f16c, "avx512f,avx512bw,avx512vl", uint16_t,
                 CYPOOL_F16C_LD1, CYPOOL_F16C_LD2, CYPOOL_F16C_ST)
#undef CYPOOL_F16C_LD1
#undef CYPOOL_F16C_LD2
#undef CYPOOL_F16C_ST
#undef CYPOOL_F32_LD1
#undef CYPOOL_F32_LD2
#undef CYPOOL_F32_ST
#undef CYPOOL_BF16_LD1
#undef CYPOOL_BF16_LD2
#undef CYPOOL_BF16_ST
#undef CYPOOL_CF_VECS16
/* A row's vectors of L outputs through VECS (cypool_max_cf_vecs16_f32, cypool_max_cf_vecs32_fp16):
 * outputs [lo, hi) (hi - lo >= L) at lo, lo + L, ... (the last ending at hi) by groups of up to
 * 4; the border vectors (left: outputs [0, L), right: [out_w - L, out_w)) when asked. K, S and
 * idx as constants for the common windows. */
#define CYPOOL_CF_VEC_CALL(VECS, KK, SS, II, AT, U, B) \
    VECS(xp, rs, col0, dstep, dc, hstep, hc, KK, SS, in_w, y, II, AT, U, B, ~0u)
/* up to four vectors at at[0, U) through VECS, border form B (constants for the compiler) */
#define CYPOOL_CF_VEC_UPTO4(VECS, KK, SS, II, B) do { \
    switch (U) { \
    case 4: CYPOOL_CF_VEC_CALL(VECS, KK, SS, II, at, 4, B); break; \
    case 3: CYPOOL_CF_VEC_CALL(VECS, KK, SS, II, at, 3, B); break; \
    case 2: CYPOOL_CF_VEC_CALL(VECS, KK, SS, II, at, 2, B); break; \
    default: CYPOOL_CF_VEC_CALL(VECS, KK, SS, II, at, 1, B); break; \
    } \
} while (0)
#define CYPOOL_CF_VEC_GROUPS(L, VECS, KK, SS, II) do { \
    if (all && out_w < L) { \
        const ptrdiff_t a0 = 0; \
        VECS(xp, rs, col0, dstep, dc, hstep, hc, KK, SS, in_w, y, II, &a0, 1, 1, \
             ((uint32_t)1 << out_w) - 1); \
        break; \
    } \
    const ptrdiff_t from_ = all ? 0 : lo, to_ = all ? out_w : hi; \
    const ptrdiff_t nv = (to_ - from_ + L - 1) / L; \
    for (ptrdiff_t g = 0; g < nv; g += 4) { \
        ptrdiff_t at[4]; \
        const int U = nv - g < 4 ? (int)(nv - g) : 4; \
        for (int u = 0; u < U; u++) \
            at[u] = from_ + ((g + u) * L < to_ - from_ - L ? (g + u) * L : to_ - from_ - L); \
        if (all) CYPOOL_CF_VEC_UPTO4(VECS, KK, SS, II, 1); \
        else CYPOOL_CF_VEC_UPTO4(VECS, KK, SS, II, 0); \
    } \
    if (left && !all) { \
        const ptrdiff_t a0 = 0; \
        CYPOOL_CF_VEC_CALL(VECS, KK, SS, II, &a0, 1, 1); \
    } \
    if (right && !all) { \
        const ptrdiff_t a1 = out_w - L; \
        CYPOOL_CF_VEC_CALL(VECS, KK, SS, II, &a1, 1, 1); \
    } \
} while (0)
#define CYPOOL_CF_VEC_KINDS(L, VECS, II) do { \
    if (K == 2 && S == 2) CYPOOL_CF_VEC_GROUPS(L, VECS, 2, 2, II); \
    else if (K == 3 && S == 2) CYPOOL_CF_VEC_GROUPS(L, VECS, 3, 2, II); \
    else if (K == 3 && S == 1) CYPOOL_CF_VEC_GROUPS(L, VECS, 3, 1, II); \
    else CYPOOL_CF_VEC_GROUPS(L, VECS, K, S, II); \
} while (0)
/* The borders a row's border vectors of L outputs take: 2 (left), 4 (right), where every border
 * window has a real column and the border is within a vector of the row's end. */
static inline int cypool_cf_vec_borders(ptrdiff_t L, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t out_w,
                                        ptrdiff_t col0, ptrdiff_t K, ptrdiff_t S, ptrdiff_t in_w)
{
    return (lo > 0 && lo <= L && col0 + K - 1 >= 0 ? 2 : 0)
           | (hi < out_w && out_w - hi <= L && col0 + (out_w - 1) * S < in_w ? 4 : 0);
}
/* Whether the whole row goes in border vectors (all of its outputs, none cell by cell): every
 * window has a real column, and the row is shorter than a vector (one vector, its lanes past the
 * row not stored: rows the interior vectors cannot take) or, where whole is asked, up to four
 * vectors long (a 56-output row in two float16 vectors, not two interior ones and two border
 * ones). */
static inline int cypool_cf_vec_all(ptrdiff_t L, ptrdiff_t out_w, ptrdiff_t col0, ptrdiff_t K,
                                    ptrdiff_t S, ptrdiff_t in_w, int whole)
{
    return (out_w < L || (whole && out_w <= 4 * L)) && col0 + K - 1 >= 0
           && col0 + (out_w - 1) * S < in_w;
}
static __attribute__((target("avx512f"), noinline)) void
cypool_max_cf_vec_avx512_f32(CYPOOL_CF_VEC_ARGS, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t out_w,
                             int left, int right)
{
    const int all = 0;   /* rows all in border vectors go through the walk */
    if (idx) CYPOOL_CF_VEC_KINDS(16, cypool_max_cf_vecs16_f32, idx);
    else CYPOOL_CF_VEC_KINDS(16, cypool_max_cf_vecs16_f32, NULL);
}
/* Whether every row of a call goes all in vectors of L outputs (no border cell by cell): 0 if
 * not, else 1 | the borders' vectors (2, 4: cypool_cf_vec_borders) | 8 when each row is in
 * border vectors alone (cypool_cf_vec_all). The same for every row: the columns do not depend
 * on the row. */
static inline int cypool_cf_vec_whole(ptrdiff_t L, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t out_w,
                                      ptrdiff_t col0, ptrdiff_t K, ptrdiff_t S, ptrdiff_t in_w,
                                      int whole)
{
    if (cypool_cf_vec_all(L, out_w, col0, K, S, in_w, whole)) return 1 | 6 | 8;
    if (hi - lo < L) return 0;
    const int b = cypool_cf_vec_borders(L, lo, hi, out_w, col0, K, S, in_w);
    return (lo == 0 || (b & 2)) && (hi == out_w || (b & 4)) ? 1 | b : 0;
}
/* Rows [r0, r1) of a call whose rows go all in vectors (mode: cypool_cf_vec_whole), numbered
 * (plane, od, oh) as the body's row walk, inside the vector function: the call and the
 * dispatch on K, S and idx once a call, not once a row (a 14 x 14 plane's row of 7 outputs is
 * one vector; the chain of calls per row cost about three times its work). BODY takes the row
 * with xp (its plane), rs, dc, hc, y and ir (its outputs). Returns the first row with no window
 * row (there is none under PyTorch's output sizes; the caller takes it), else r1. */
#define CYPOOL_CF_VEC_WALK(T, BODY) do { \
    const ptrdiff_t out_h = w->out_h, rpp = w->out_d * out_h, in_h = w->in_h; \
    const ptrdiff_t in_plane = w->in_d * in_h * in_w; \
    ptrdiff_t plane = r0 / rpp, od = (r0 % rpp) / out_h, oh = r0 % out_h; \
    for (ptrdiff_t row = r0; row < r1; row++) { \
        const Span sd = dilated_span(od, w->k_d, w->s_d, w->pad_d, w->dil_d, w->in_d); \
        const Span sh = dilated_span(oh, w->k_h, w->s_h, w->pad_h, w->dil_h, in_h); \
        const ptrdiff_t dc = sd.count, hc = sh.count; \
        if (dc == 0 || hc == 0) return row; \
        const T* restrict xp = x + plane * in_plane; \
        const ptrdiff_t rs = (sd.first * in_h + sh.first) * in_w; \
        T* restrict y = yb + row * out_w; \
        int64_t* restrict ir = idx ? idx + row * out_w : NULL; \
        (void)ir; \
        BODY; \
        if (++oh == out_h) { \
            oh = 0; \
            if (++od == w->out_d) { od = 0; plane++; } \
        } \
    } \
} while (0)
#define CYPOOL_CF_WALK_KINDS(T, L, VECS, II) do { \
    if (K == 2 && S == 2) CYPOOL_CF_VEC_WALK(T, CYPOOL_CF_VEC_GROUPS(L, VECS, 2, 2, II)); \
    else if (K == 3 && S == 2) CYPOOL_CF_VEC_WALK(T, CYPOOL_CF_VEC_GROUPS(L, VECS, 3, 2, II)); \
    else if (K == 3 && S == 1) CYPOOL_CF_VEC_WALK(T, CYPOOL_CF_VEC_GROUPS(L, VECS, 3, 1, II)); \
    else CYPOOL_CF_VEC_WALK(T, CYPOOL_CF_VEC_GROUPS(L, VECS, K, S, II)); \
} while (0)
/* A walk function NAME for data T in vectors of L outputs: VECS with indices, VALS without; the
 * call-wide values the walk and the groups read come from the window once. */
#define CYPOOL_CF_WALK_FN(NAME, TARGET, T, L, VECS, VALS) \
static __attribute__((target(TARGET), noinline)) ptrdiff_t \
NAME(const T* x, T* yb, int64_t* idx, const Window* win, ptrdiff_t r0, ptrdiff_t r1, \
     ptrdiff_t lo, ptrdiff_t hi, int mode) \
{ \
    const Window wl = *win; \
    const Window* w = &wl; \
    const ptrdiff_t col0 = -w->pad_w, K = w->k_w, S = w->s_w, in_w = w->in_w; \
    const ptrdiff_t out_w = w->out_w, dstep = w->dil_d * w->in_h * in_w; \
    const ptrdiff_t hstep = w->dil_h * in_w; \
    const int left = mode & 2, right = mode & 4, all = mode & 8; \
    if (idx) CYPOOL_CF_WALK_KINDS(T, L, VECS, ir); \
    else CYPOOL_CF_WALK_KINDS(T, L, VALS, NULL); \
    return r1; \
}
CYPOOL_CF_WALK_FN(cypool_max_cf_walk_avx512_f32, "avx512f", float, 16, cypool_max_cf_vecs16_f32,
                  cypool_max_cf_vecs16_f32)
/* The row's outputs [lo, hi) (the interior) and its border outputs [0, lo) and [hi, out_w) where
 * every border window has a real column (then within 16 outputs of the row's ends: padding
 * below K), on CPUs where cypool_max_cf_vec_f32_ok() (asked once per call, not per row). Returns
 * 0, doing nothing, where hi - lo < 16; else 1, plus 2 when the left border is done, plus 4 for
 * the right. */
static int __attribute__((unused)) cypool_max_cf_vec_f32_ok(void) { return cypool_cl_isa() == 2; }
static int __attribute__((unused)) cypool_max_cf_vec_f32(CYPOOL_CF_VEC_ARGS, ptrdiff_t lo,
                                                         ptrdiff_t hi, ptrdiff_t out_w)
{
    if (hi - lo < 16) return 0;
    const int borders = cypool_cf_vec_borders(16, lo, hi, out_w, col0, K, S, in_w);
    cypool_max_cf_vec_avx512_f32(xp, rs, col0, dstep, dc, hstep, hc, K, S, in_w, y, idx, lo, hi,
                                 out_w, borders & 2, borders & 4);
    return 1 | borders;
}
CYPOOL_CF_WALK_FN(cypool_max_cf_walk_avx512_bf16, "avx512f,avx512bw,avx512vl", uint16_t, 16,
                  cypool_max_cf_vecs16_bf16, cypool_max_cf_vecs16_bf16)
CYPOOL_CF_WALK_FN(cypool_max_cf_walk_avx512_f16c, "avx512f,avx512bw,avx512vl", uint16_t, 16,
                  cypool_max_cf_vecs16_f16c, cypool_max_cf_vecs16_f16c)
/* bfloat16's walk, and float16's in vectors of 16 (CPUs without AVX512-FP16): AVX-512F with BW
 * and VL, and the conversions asked for the AVX-512 ones (CYPOOL_HALF_CONVERSIONS). float16's
 * rows went one by one through max_cf_f16c_avx512 before: (16,64,112,112) 3x3/s2/p1 on Zen 4,
 * float16's time over bfloat16's (one process, 1 and 2 threads) 2.13-2.18 -> 1.37-1.46; the 32
 * cells of a stride-2 load converted as two halves and split by a permute instead: 1.64-1.67. */
static int __attribute__((unused)) cypool_max_cf_vec_bf16_ok(void)
{
    return cypool_f16c() == 2 && __builtin_cpu_supports("avx512bw")
           && __builtin_cpu_supports("avx512vl");
}
#undef CYPOOL_CF_VEC_ARGS
#else
static int __attribute__((unused)) cypool_max_cf_vec_bf16_ok(void) { return 0; }
static int __attribute__((unused)) cypool_max_cf_vec_f32_ok(void) { return 0; }
static int __attribute__((unused)) cypool_max_cf_vec_f32(
    const float* xp, ptrdiff_t rs, ptrdiff_t col0, ptrdiff_t dstep, ptrdiff_t dc, ptrdiff_t hstep,
    ptrdiff_t hc, ptrdiff_t K, ptrdiff_t S, ptrdiff_t in_w, float* y, int64_t* idx, ptrdiff_t lo,
    ptrdiff_t hi, ptrdiff_t out_w)
{
    (void)xp; (void)rs; (void)col0; (void)dstep; (void)dc; (void)hstep; (void)hc; (void)K;
    (void)S; (void)in_w; (void)y; (void)idx; (void)lo; (void)hi; (void)out_w;
    return 0;
}
#endif

#if defined(CYPOOL_FP16)
/* float16 channels-first rows where the CPU has AVX512-FP16: cypool_max_cf_vecs16_f32's loop on
 * 32 float16 outputs a vector, compared as float16 (exact, as the F16C rows' compares of their
 * float conversions), with no conversions; S = 2 splits 64 values with vpermt2w, and a border
 * vector loads with a mask of 16-bit lanes. A NaN maximum is made quiet on the way out, as the
 * F16C rows' trip through float makes it: the same bits. With these, float16 takes about half
 * float32's time, where the F16C rows (their conversions on every cell) took more than it. */
/* the lanes vpermt2w takes for the even and (from 32 on) the odd 16-bit values of 64 */
static const short cypool_even16[64] __attribute__((aligned(64), unused)) = {
    0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46,
    48, 50, 52, 54, 56, 58, 60, 62, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
    33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
#define CYPOOL_CF_PH_ARGS const uint16_t* restrict xp, ptrdiff_t rs, ptrdiff_t col0, \
    ptrdiff_t dstep, ptrdiff_t dc, ptrdiff_t hstep, ptrdiff_t hc, ptrdiff_t K, ptrdiff_t S, \
    ptrdiff_t in_w, uint16_t* restrict y, int64_t* restrict idx
#define CYPOOL_FP16_INLINE \
    static inline __attribute__((target("avx512fp16,avx512bw,avx512f"), always_inline))
CYPOOL_FP16_INLINE void
cypool_max_cf_vecs32_fp16(CYPOOL_CF_PH_ARGS, const ptrdiff_t* at, const int U, const int border,
                          const uint32_t keep)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = S == 1 ? iota : _mm512_slli_epi32(iota, 1);
    const __m512i hstep16 = _mm512_set1_epi32(S == 1 ? 16 : 32);
    const __m512i even = _mm512_loadu_si512((const void*)cypool_even16);
    const __m512i odd = _mm512_loadu_si512((const void*)(cypool_even16 + 32));
    const __m512i ninf = _mm512_set1_epi16((short)0xfc00);
    __m512i m[4], p0[4], p1[4];
    for (int u = 0; u < U; u++) {
        m[u] = ninf;
        const __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(col0 + at[u] * S)), step);
        const __m512i c1 = _mm512_add_epi32(c0, hstep16);
        const __m512i zero = _mm512_setzero_si512();
        p0[u] = _mm512_add_epi32(_mm512_set1_epi32((int32_t)rs),
                                 border ? _mm512_max_epi32(c0, zero) : c0);
        p1[u] = _mm512_add_epi32(_mm512_set1_epi32((int32_t)rs),
                                 border ? _mm512_max_epi32(c1, zero) : c1);
    }
    /* The column masks of a border vector's loads (columns q .. q + 63) depend on the column
     * alone: for K <= 3 worked out once, not on every row of the window (scalar work beside each
     * load, measurable on the short rows that go all in border vectors). */
#define CYPOOL_CF_COLS64(q) \
    (cypool_cf_cols(q, in_w) | (uint64_t)cypool_cf_cols((q) + 32, in_w) << 32)
    uint64_t cols[4][3];
    if (border && K <= 3)
        for (int u = 0; u < U; u++)
            for (ptrdiff_t c = 0; c < K; c++)
                cols[u][c] = CYPOOL_CF_COLS64(col0 + at[u] * S + (S == 2 && c ? c - 1 : c));
    for (ptrdiff_t a = 0; a < dc; a++)
        for (ptrdiff_t b = 0; b < hc; b++) {
            const ptrdiff_t r = rs + a * dstep + b * hstep;
            for (ptrdiff_t c = 0; c < K; c++)
                for (int u = 0; u < U; u++) {
                    const ptrdiff_t q = col0 + at[u] * S + (S == 2 && c ? c - 1 : c);
                    const uint16_t* s = xp + r + q;
                    __m512i v;
                    if (S == 1) {
                        v = border ? _mm512_mask_loadu_epi16(
                                         ninf, (__mmask32)(K <= 3 ? cols[u][c]
                                                                  : CYPOOL_CF_COLS64(q)), s)
                                   : _mm512_loadu_si512((const void*)s);
                    } else {
                        __m512i v0, v1;
                        if (border) {
                            const uint64_t k = K <= 3 ? cols[u][c] : CYPOOL_CF_COLS64(q);
                            v0 = _mm512_mask_loadu_epi16(ninf, (__mmask32)k, s);
                            v1 = _mm512_mask_loadu_epi16(ninf, (__mmask32)(k >> 32), s + 32);
                        } else {
                            v0 = _mm512_loadu_si512((const void*)s);
                            v1 = _mm512_loadu_si512((const void*)(s + 32));
                        }
                        v = _mm512_permutex2var_epi16(v0, c ? odd : even, v1);
                    }
                    const __m512h vh = _mm512_castsi512_ph(v);
                    if (idx) {
                        const __mmask32 mk = _mm512_cmp_ph_mask(vh, _mm512_castsi512_ph(m[u]),
                                                                _CMP_GT_OQ)
                                             | _mm512_cmp_ph_mask(vh, vh, _CMP_UNORD_Q);
                        m[u] = _mm512_mask_blend_epi16(mk, m[u], v);
                        const __m512i o = _mm512_add_epi32(
                            _mm512_set1_epi32((int32_t)(r + col0 + at[u] * S + c)), step);
                        p0[u] = _mm512_mask_blend_epi32((__mmask16)mk, p0[u], o);
                        p1[u] = _mm512_mask_blend_epi32((__mmask16)(mk >> 16), p1[u],
                                                        _mm512_add_epi32(o, hstep16));
                    } else {
                        m[u] = CYPOOL_LATER_PH(m[u], v);
                    }
                }
        }
    for (int u = 0; u < U; u++) {
        _mm512_mask_storeu_epi16((void*)(y + at[u]), (__mmask32)keep, CYPOOL_QUIET_PH(m[u]));
        if (idx) {
            int64_t* ip = idx + at[u];
            _mm512_mask_storeu_epi64(ip, (__mmask8)keep,
                                     _mm512_cvtepi32_epi64(_mm512_castsi512_si256(p0[u])));
            _mm512_mask_storeu_epi64(ip + 8, (__mmask8)(keep >> 8),
                                     _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p0[u], 1)));
            _mm512_mask_storeu_epi64(ip + 16, (__mmask8)(keep >> 16),
                                     _mm512_cvtepi32_epi64(_mm512_castsi512_si256(p1[u])));
            _mm512_mask_storeu_epi64(ip + 24, (__mmask8)(keep >> 24),
                                     _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p1[u], 1)));
        }
    }
}
/* float16 values without indices, window rows first: for each of the window's column offsets
 * (S = 2: 0, and 1 for K = 3; S = 1: 0 .. K - 1) the maximum down the window's rows of the
 * vectors loaded there, then the columns (S = 2: split by vpermt2w once, not once a row): 3x3/s2
 * takes 3 splits instead of 9, 3x3/s1 its 9 loads with 8 maxima instead of 9 compare-and-blend
 * steps. The order of the maxima differs from the rule's, so the result is the rule's only where
 * it has one value's bits: no NaN among the cells (a sum of every loaded vector beside the
 * maxima, NaN when any cell is, or for +inf meeting -inf: then also redone) and no zero maximum
 * (the first zero's sign). Returns the vectors u (bit u) to redo by the rule's loop; the others
 * are stored. K, S: (2, 2), (3, 2), (3, 1). */
CYPOOL_FP16_INLINE unsigned
cypool_max_cf_sep32_fp16(CYPOOL_CF_PH_ARGS, const ptrdiff_t* at, const int U, const int border,
                         const uint32_t keep)
{
    const int NO = S == 2 ? (K == 3 ? 2 : 1) : (int)K;   /* column offsets loaded */
    const int NV = S == 2 ? 2 : 1;                       /* vectors at each */
    const __m512i even = _mm512_loadu_si512((const void*)cypool_even16);
    const __m512i odd = _mm512_loadu_si512((const void*)(cypool_even16 + 32));
    const __m512i ninf = _mm512_set1_epi16((short)0xfc00);
    const __m512h zero = _mm512_setzero_ph();
    __m512h acc[4][3][2], sum[4][3][2];   /* a sum beside each maximum: short chains */
    for (int u = 0; u < U; u++)
        for (int o = 0; o < NO; o++)
            for (int w = 0; w < NV; w++) {
                acc[u][o][w] = _mm512_castsi512_ph(ninf);
                sum[u][o][w] = zero;
            }
    __mmask32 cols[4][3][2];   /* the columns each load keeps: the same on every row */
    for (int u = 0; u < U; u++)
        for (int o = 0; o < NO; o++)
            for (int w = 0; w < NV; w++)
                cols[u][o][w] = border ? (__mmask32)cypool_cf_cols(col0 + at[u] * S + o + 32 * w,
                                                                   in_w)
                                       : ~(__mmask32)0;
    for (ptrdiff_t a = 0; a < dc; a++)
        for (ptrdiff_t b = 0; b < hc; b++) {
            const ptrdiff_t r = rs + a * dstep + b * hstep;
            for (int o = 0; o < NO; o++)
                for (int u = 0; u < U; u++)
                    for (int w = 0; w < NV; w++) {
                        const ptrdiff_t q = col0 + at[u] * S + o + 32 * w;
                        const uint16_t* s = xp + r + q;
                        const __m512h v = _mm512_castsi512_ph(
                            border ? _mm512_mask_loadu_epi16(ninf, cols[u][o][w], s)
                                   : _mm512_loadu_si512((const void*)s));
                        acc[u][o][w] = _mm512_max_ph(v, acc[u][o][w]);
                        sum[u][o][w] = _mm512_add_ph(sum[u][o][w], v);
                    }
        }
    unsigned redo = 0;
    for (int u = 0; u < U; u++) {
        __m512h m, t = sum[u][0][0];
        for (int o = 0; o < NO; o++)
            for (int w = o ? 0 : 1; w < NV; w++) t = _mm512_add_ph(t, sum[u][o][w]);
        if (S == 2) {
            const __m512i a0 = _mm512_castph_si512(acc[u][0][0]);
            const __m512i a1 = _mm512_castph_si512(acc[u][0][1]);
            m = _mm512_max_ph(_mm512_castsi512_ph(_mm512_permutex2var_epi16(a0, even, a1)),
                              _mm512_castsi512_ph(_mm512_permutex2var_epi16(a0, odd, a1)));
            if (K == 3)
                m = _mm512_max_ph(m, _mm512_castsi512_ph(_mm512_permutex2var_epi16(
                                         _mm512_castph_si512(acc[u][1][0]), odd,
                                         _mm512_castph_si512(acc[u][1][1]))));
        } else {
            m = acc[u][0][0];
            for (int o = 1; o < NO; o++) m = _mm512_max_ph(m, acc[u][o][0]);
        }
        /* (t's lanes are columns, not outputs: any NaN lane redoes the vector) */
        if (_mm512_cmp_ph_mask(t, t, _CMP_UNORD_Q)
            || (_mm512_cmp_ph_mask(m, zero, _CMP_EQ_OQ) & keep))
            redo |= 1u << u;
        else
            _mm512_mask_storeu_epi16((void*)(y + at[u]), (__mmask32)keep, _mm512_castph_si512(m));
    }
    return redo;
}
/* Values without indices: the separable rows where they apply, the rule's loop for the others
 * and for the vectors they hand back. */
CYPOOL_FP16_INLINE void
cypool_max_cf_vals32_fp16(CYPOOL_CF_PH_ARGS, const ptrdiff_t* at, const int U, const int border,
                          const uint32_t keep)
{
    if ((K == 2 && S == 2) || (K == 3 && (S == 1 || S == 2))) {
        const unsigned redo = cypool_max_cf_sep32_fp16(xp, rs, col0, dstep, dc, hstep, hc, K, S,
                                                       in_w, y, idx, at, U, border, keep);
        for (int u = 0; u < U; u++)
            if (redo >> u & 1)
                cypool_max_cf_vecs32_fp16(xp, rs, col0, dstep, dc, hstep, hc, K, S, in_w, y, idx,
                                          at + u, 1, border, keep);
    } else {
        cypool_max_cf_vecs32_fp16(xp, rs, col0, dstep, dc, hstep, hc, K, S, in_w, y, idx, at, U,
                                  border, keep);
    }
}
static __attribute__((target("avx512fp16,avx512bw,avx512f"), noinline)) void
cypool_max_cf_ph_avx512fp16(CYPOOL_CF_PH_ARGS, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t out_w,
                            int left, int right)
{
    const int all = 0;   /* rows all in border vectors go through the walk */
    if (idx) CYPOOL_CF_VEC_KINDS(32, cypool_max_cf_vecs32_fp16, idx);
    else CYPOOL_CF_VEC_KINDS(32, cypool_max_cf_vals32_fp16, NULL);
}
CYPOOL_CF_WALK_FN(cypool_max_cf_walk_avx512fp16, "avx512fp16,avx512bw,avx512f", uint16_t, 32,
                  cypool_max_cf_vecs32_fp16, cypool_max_cf_vals32_fp16)
#undef CYPOOL_FP16_INLINE
#endif
#undef CYPOOL_CF_WALK_FN
#undef CYPOOL_CF_WALK_KINDS
#undef CYPOOL_CF_VEC_WALK
#undef CYPOOL_CF_VEC_KINDS
#undef CYPOOL_CF_VEC_UPTO4
#undef CYPOOL_CF_COLS64
#undef CYPOOL_CF_VEC_GROUPS
#undef CYPOOL_CF_VEC_CALL
/* The float16 row as cypool_max_cf_vec_f32's, 32 outputs a vector, where the CPU has
 * AVX512-FP16 (cypool_max_cf_vec_f16_ok) and hi - lo >= 32; else 0, doing nothing. */
static int __attribute__((unused)) cypool_max_cf_vec_f16_ok(void)
{
#if defined(CYPOOL_FP16)
    return cypool_avx512fp16();
#else
    return 0;
#endif
}
static int __attribute__((unused)) cypool_max_cf_vec_f16(
    const uint16_t* xp, ptrdiff_t rs, ptrdiff_t col0, ptrdiff_t dstep, ptrdiff_t dc,
    ptrdiff_t hstep, ptrdiff_t hc, ptrdiff_t K, ptrdiff_t S, ptrdiff_t in_w, uint16_t* y,
    int64_t* idx, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t out_w)
{
#if defined(CYPOOL_FP16)
    if (hi - lo < 32) return 0;
    const int borders = cypool_cf_vec_borders(32, lo, hi, out_w, col0, K, S, in_w);
    cypool_max_cf_ph_avx512fp16(xp, rs, col0, dstep, dc, hstep, hc, K, S, in_w, y, idx, lo, hi,
                                out_w, borders & 2, borders & 4);
    return 1 | borders;
#else
    (void)xp; (void)rs; (void)col0; (void)dstep; (void)dc; (void)hstep; (void)hc; (void)K;
    (void)S; (void)in_w; (void)y; (void)idx; (void)lo; (void)hi; (void)out_w;
    return 0;
#endif
}
#undef CYPOOL_CF_PH_ARGS

/* Whether a call's channels-first rows go through the vector walk (cypool_max_cf_walk) of
 * float32 (kind 0), float16 (1) or bfloat16 (2), its interior outputs along w [lo, hi)
 * (interior_outputs): the window (no dilation along w; stride 1, or 2 with K >= 2), the CPU, and
 * every row all in vectors (cypool_cf_vec_whole: vectors of 16 outputs, float16's of 32 with
 * rows of up to four in border vectors). 0 if not, else the walk's mode. */
static int __attribute__((unused)) cypool_max_cf_walk_mode(const Window* w, int kind,
                                                           ptrdiff_t lo, ptrdiff_t hi)
{
    if (w->dil_w != 1 || !(w->s_w == 1 || (w->s_w == 2 && w->k_w >= 2))) return 0;
    /* float16 compared as float16 (vectors of 32), else converted as bfloat16 is (16) */
    const int fp16 = kind == 1 && cypool_max_cf_vec_f16_ok();
    if (!(fp16 || (kind == 0 ? cypool_max_cf_vec_f32_ok() : cypool_max_cf_vec_bf16_ok())))
        return 0;
#if defined(__x86_64__) && defined(__GNUC__)
    return cypool_cf_vec_whole(fp16 ? 32 : 16, lo, hi, w->out_w, -w->pad_w, w->k_w, w->s_w,
                               w->in_w, fp16);
#else
    (void)lo; (void)hi;
    return 0;
#endif
}
/* the same from the window alone (for the tiles' choice) */
static int __attribute__((unused)) cypool_max_cf_walks(const Window* w, int kind)
{
    ptrdiff_t lo, hi;
    interior_outputs(w->out_w, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w, &lo, &hi);
    return cypool_max_cf_walk_mode(w, kind, lo, hi);
}
/* Rows [r0, r1) of kind's data through its walk, in mode (cypool_max_cf_walk_mode said so);
 * returns the first row not done (a row with no window rows), else r1. */
static ptrdiff_t __attribute__((unused)) cypool_max_cf_walk(int kind, const void* x, void* y,
                                                            int64_t* idx, const Window* w,
                                                            ptrdiff_t r0, ptrdiff_t r1,
                                                            ptrdiff_t lo, ptrdiff_t hi, int mode)
{
#if defined(CYPOOL_FP16)
    if (kind == 1 && cypool_max_cf_vec_f16_ok())
        return cypool_max_cf_walk_avx512fp16((const uint16_t*)x, (uint16_t*)y, idx, w, r0, r1,
                                             lo, hi, mode);
#endif
#if defined(__x86_64__) && defined(__GNUC__)
    if (kind == 1)
        return cypool_max_cf_walk_avx512_f16c((const uint16_t*)x, (uint16_t*)y, idx, w, r0, r1,
                                              lo, hi, mode);
    if (kind == 2)
        return cypool_max_cf_walk_avx512_bf16((const uint16_t*)x, (uint16_t*)y, idx, w, r0, r1,
                                              lo, hi, mode);
    if (kind == 0)
        return cypool_max_cf_walk_avx512_f32((const float*)x, (float*)y, idx, w, r0, r1, lo, hi,
                                             mode);
#endif
    (void)x; (void)y; (void)idx; (void)lo; (void)hi; (void)mode;
    return r0;
}

/* float32: defines cypool_max_fwd_cf_f32, cypool_max_fwd_cl_f32, cypool_max_fwd_cf_2x2_f32,
 * cypool_max_fwd_cl_1d_f32 */
#define CYPOOL_T float
#define CYPOOL_S float
#define CYPOOL_LD(v) (v)
#define CYPOOL_ST(v) (v)
#define CYPOOL_HALF 0
#define CYPOOL_F16 0
#define CYPOOL_IDX int32_t
#define CYPOOL_SUF _f32
#include "_max_fast_body.h"
#undef CYPOOL_T
#undef CYPOOL_S
#undef CYPOOL_IDX
#undef CYPOOL_SUF

/* float64: defines cypool_max_fwd_cf_f64, cypool_max_fwd_cl_f64, cypool_max_fwd_cf_2x2_f64,
 * cypool_max_fwd_cl_1d_f64 */
#define CYPOOL_T double
#define CYPOOL_S double
#define CYPOOL_IDX int64_t
#define CYPOOL_SUF _f64
#include "_max_fast_body.h"
#undef CYPOOL_T
#undef CYPOOL_S
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_HALF
#undef CYPOOL_F16
#undef CYPOOL_IDX
#undef CYPOOL_SUF

/* float16, compared in float: defines cypool_max_fwd_cf_f16, cypool_max_fwd_cl_f16,
 * cypool_max_bwd_scatter_f16 */
#define CYPOOL_T float
#define CYPOOL_S uint16_t
#define CYPOOL_LD(v) cypool_f16_to_f32(v)
#define CYPOOL_ST(v) cypool_f32_to_f16(v)
#define CYPOOL_LDN(s, d, n) cypool_load_f16(s, d, n)
#define CYPOOL_STN(s, d, n) cypool_store_f16(s, d, n)
#define CYPOOL_HALF 1
#define CYPOOL_F16 1
#define CYPOOL_IDX int32_t
#define CYPOOL_SUF _f16
#include "_max_fast_body.h"
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_LDN
#undef CYPOOL_STN
#undef CYPOOL_F16
#undef CYPOOL_SUF

/* bfloat16, compared in float: defines cypool_max_fwd_cf_bf16, cypool_max_fwd_cl_bf16,
 * cypool_max_bwd_scatter_bf16 */
#define CYPOOL_LD(v) cypool_bf16_to_f32(v)
#define CYPOOL_ST(v) cypool_f32_to_bf16(v)
#define CYPOOL_LDN(s, d, n) cypool_load_bf16(s, d, n)
#define CYPOOL_STN(s, d, n) cypool_store_bf16(s, d, n)
#define CYPOOL_F16 0
#define CYPOOL_SUF _bf16
#include "_max_fast_body.h"
#undef CYPOOL_T
#undef CYPOOL_S
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_LDN
#undef CYPOOL_STN
#undef CYPOOL_HALF
#undef CYPOOL_F16
#undef CYPOOL_IDX
#undef CYPOOL_SUF

/* Max backward as a gather, for indices that keep to tiles. The input splits into tiles of
 * s = in / out cells along each axis (output o's tile: cells [o * s, o * s + s)); when every
 * index names a cell of its own output's tile (non-overlapping windows whose maxima keep to
 * their tiles: 2x2/s2, adaptive 56 -> 7, global), no cell takes two adds, so each input cell is
 * written once, in order: g where its tile's output names it (the scatter's first add to a
 * zeroed cell, 0 + g: -0 made +0; a NaN made quiet in float32 and float64, a signalling NaN
 * kept in the 16-bit types, as their scatters do), else 0. No zeroing pass, no rounding per
 * add: a stream, bit for bit the scatter's result, whatever windows made the indices. The
 * indices are checked a band (a row of tiles) at a time: each (output, channel) lane must
 * match a cell of its tile; at the first band where one does not (an index in another tile or
 * outside the plane) these return 0 and the caller scatters the item, which rewrites every
 * cell; 1 when done. in3 / out3: spatial sizes (d, h, w), out >= 1 and in >= out along each axis
 * (cypool_max_tiles_probe). The 16-bit types take it in both data formats
 * (cypool_max_bwd_tiles_cl16, cypool_max_bwd_tiles_cf16 below); float32 and float64 in
 * channels-last with tiles of up to 24 cells (_block_cl in _max.pyx says when), where their
 * scatter zeroes each cell at its first add and reads it back: on Zen 4 the float32 gather
 * took 0.6-0.9 of the scatter's time (2x2/s2, 32-64 channels, 28x28 to 256x256 planes),
 * float64 too on blocks of up to 1 MiB (docs/records/2026-12-07-cl-max-backward-tiles.md).
 * Channels-first float32 and float64 keep their scatter, at the stream's speed. The bodies:
 * _max_tiles_body.h, one per element type. */
#define CYPOOL_TILE_T uint16_t
#define CYPOOL_TILE_FN(name) name##16
#define CYPOOL_TILE_PLUS_ZERO(v) cypool_plus_zero(v)
#include "_max_tiles_body.h"
#undef CYPOOL_TILE_T
#undef CYPOOL_TILE_FN
#undef CYPOOL_TILE_PLUS_ZERO
#define CYPOOL_TILE_T float
#define CYPOOL_TILE_FN(name) name##32
#define CYPOOL_TILE_PLUS_ZERO(v) (0.0f + (v))
#include "_max_tiles_body.h"
#undef CYPOOL_TILE_T
#undef CYPOOL_TILE_FN
#undef CYPOOL_TILE_PLUS_ZERO
#define CYPOOL_TILE_T double
#define CYPOOL_TILE_FN(name) name##64
#define CYPOOL_TILE_PLUS_ZERO(v) (0.0 + (v))
#include "_max_tiles_body.h"
#undef CYPOOL_TILE_T
#undef CYPOOL_TILE_FN
#undef CYPOOL_TILE_PLUS_ZERO

#if defined(CYPOOL_F16C)
/* Channels-first tiles 2 wide, with AVX-512BW, VL and BMI2: 16 outputs of a tile row against
 * their 32 cells of an input row (even and odd cells: two 64-bit compares per 8 outputs), each
 * gradient doubled into the lanes of its two cells, the lanes that match kept (their bits
 * interleaved by pdep). */
static __attribute__((target("avx512f,avx512bw,avx512vl,bmi2"), noinline, unused)) int
cypool_max_bwd_tiles_cf16_avx512(const uint16_t* restrict go, const int64_t* restrict idx,
                                 uint16_t* restrict gi, const ptrdiff_t* in3,
                                 const ptrdiff_t* out3)
{
    const ptrdiff_t IH = in3[1], IW = in3[2], OD = out3[0], OH = out3[1], OW = out3[2];
    const ptrdiff_t sd = in3[0] / OD, sh = IH / OH;
    const __m512i dup = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9,
                                         8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i one = _mm512_set1_epi64(1), sixteen = _mm512_set1_epi64(16);
    const __m512i negzero = _mm512_set1_epi16((short)0x8000);
    for (ptrdiff_t od = 0; od < OD; od++) {
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            const int64_t* io = idx + (od * OH + oh) * OW;
            const uint16_t* g = go + (od * OH + oh) * OW;
            ptrdiff_t hits = 0;
            for (ptrdiff_t a = 0; a < sd; a++) {
                for (ptrdiff_t b = 0; b < sh; b++) {
                    const ptrdiff_t row = ((od * sd + a) * IH + oh * sh + b) * IW;
                    uint16_t* gr = gi + row;
                    for (ptrdiff_t ow = 0; ow < OW; ow += 16) {
                        const ptrdiff_t n = OW - ow < 16 ? OW - ow : 16;
                        const __mmask16 km = (__mmask16)(n == 16 ? 0xffff : (1u << n) - 1);
                        const __m512i i0 = _mm512_maskz_loadu_epi64((__mmask8)km, io + ow);
                        const __m512i i1 = _mm512_maskz_loadu_epi64((__mmask8)(km >> 8),
                                                                    io + ow + 8);
                        const __m512i c0 = _mm512_add_epi64(_mm512_set1_epi64(row + 2 * ow),
                                                            even);
                        const __m512i c1 = _mm512_add_epi64(c0, sixteen);
                        const unsigned ke = km & (_mm512_cmpeq_epi64_mask(i0, c0)
                                                  | (unsigned)_mm512_cmpeq_epi64_mask(i1, c1) << 8);
                        const unsigned ko = km & (
                            _mm512_cmpeq_epi64_mask(i0, _mm512_add_epi64(c0, one))
                            | (unsigned)_mm512_cmpeq_epi64_mask(i1, _mm512_add_epi64(c1, one))
                                  << 8);
                        __m512i gv = _mm512_castsi256_si512(_mm256_maskz_loadu_epi16(km, g + ow));
                        gv = _mm512_permutexvar_epi16(dup, gv);
                        gv = _mm512_mask_mov_epi16(gv, _mm512_cmpeq_epi16_mask(gv, negzero),
                                                   _mm512_setzero_si512());
                        const __mmask32 keep = _pdep_u32(ke, 0x55555555u)
                                               | _pdep_u32(ko, 0xaaaaaaaau);
                        const __mmask32 lanes = n == 16 ? 0xffffffffu : (1u << (2 * n)) - 1;
                        _mm512_mask_storeu_epi16(gr + 2 * ow, lanes,
                                                 _mm512_maskz_mov_epi16(keep, gv));
                        hits += __builtin_popcount(ke) + __builtin_popcount(ko);
                    }
                    /* the columns past the last tile */
                    memset(gr + 2 * OW, 0, (size_t)(IW - 2 * OW) * sizeof(uint16_t));
                }
            }
            if (hits != OW) return 0;
        }
        cypool_tile_rest16(gi, in3, out3, od, sd, sh, 1, 1);
    }
    cypool_tile_rest16(gi, in3, out3, OD, sd, sh, 1, 1);
    return 1;
}
#endif

/* Channels-first: one plane (go, idx, gi at its start); tiles 2 wide on CPUs with AVX-512BW,
 * VL and BMI2 (elsewhere 0: the scatter) */
static int __attribute__((unused)) cypool_max_bwd_tiles_cf16(const uint16_t* go,
                                                             const int64_t* idx, uint16_t* gi,
                                                             const ptrdiff_t* in3,
                                                             const ptrdiff_t* out3)
{
#if defined(CYPOOL_F16C)
    if (in3[2] / out3[2] == 2 && cypool_f16c() == 2 && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("bmi2"))
        return cypool_max_bwd_tiles_cf16_avx512(go, idx, gi, in3, out3);
#else
    (void)go; (void)idx; (void)gi; (void)in3; (void)out3;
#endif
    return 0;
}

/* 2x2/s2 max pooling of channels-first planes [p0, p1) of H x W cells (2x2 windows from the top
 * left, no padding or dilation; out = H / 2 x W / 2), values only, with AVX-512: L outputs of a
 * row (a vector) from 2L cells of each of their two input rows. Each row's even and odd cells
 * are split (vpermt2*), its pairs combined, then the two rows: the window rule in window order
 * (a later value b replaces the maximum a when greater or NaN: max(b, a), then b where b is NaN;
 * associative), as the general kernel. float32 and float64 keep every bit as the general
 * kernel does; float16 compares as float16 (AVX512-FP16: exact, no conversions) and a NaN
 * result is made quiet, as its trip through float makes it in the 16-bit rows: the same bits.
 * Rows of any width (the last vector masked). (The C pair sweep, cypool_max_fwd_cf_2x2, ran
 * 28 x 28 planes, rows of 14 outputs, at 4x the streaming kernel's time: its row loops were
 * scalar.) Rows of more than one vector of outputs read their two input rows one after the
 * other, the first row's pairs held in a buffer of up to CYPOOL_CF_2X2_BLOCK outputs: the input
 * is then read in address order. Zen 4 read the rows in alternation (two streams a row apart)
 * at half that speed: 256 MB of rows of 1 KiB in 26-30 ms with 1 thread against 12-13 ms
 * (docs/records/2026-12-07-cf-pairs-in-address-order.md).
 * cypool_max_fwd_cf_2x2_wide_* return 0, doing nothing, where the CPU or the compiler lacks the
 * instructions (p0 == p1: only that answer). */
#define CYPOOL_LANES(k) ((k) >= 32 ? 0xffffffffu : (1u << (k)) - 1u)
#define CYPOOL_CF_2X2_BLOCK 2048
/* the window rule over a row's L horizontal pairs: 2L cells at p, loaded under masks kl, kh */
#define CYPOOL_CF_PAIRS(V, L, LOAD, PERM, LATER, kl, kh, p) ({ \
    const V c0_ = LOAD(kl, p), c1_ = LOAD(kh, (p) + L); \
    LATER(PERM(c0_, even, c1_), PERM(c0_, odd, c1_)); })
#define CYPOOL_CF_2X2_WIDE(NAME, TARGET, T, IT, V, L, MT, LOAD, STORE, PERM, LATER, FIN) \
static __attribute__((target(TARGET), noinline, unused)) void \
NAME(const T* restrict x, T* restrict y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W) \
{ \
    const ptrdiff_t oh = H / 2, ow = W / 2; \
    IT e_[L], o_[L]; \
    for (int i = 0; i < L; i++) { e_[i] = (IT)(2 * i); o_[i] = (IT)(2 * i + 1); } \
    const __m512i even = _mm512_loadu_si512((const void*)e_); \
    const __m512i odd = _mm512_loadu_si512((const void*)o_); \
    const MT all = (MT)CYPOOL_LANES(L); \
    V first[CYPOOL_CF_2X2_BLOCK / L];   /* the first row's pairs */ \
    for (ptrdiff_t p = p0; p < p1; p++) { \
        for (ptrdiff_t r = 0; r < oh; r++) { \
            for (ptrdiff_t j0 = 0; j0 < ow; j0 += CYPOOL_CF_2X2_BLOCK) { \
                const ptrdiff_t nb = ow - j0 < CYPOOL_CF_2X2_BLOCK ? ow - j0 \
                                                              : CYPOOL_CF_2X2_BLOCK; \
                const T* x0 = x + (p * H + 2 * r) * W + 2 * j0; \
                const T* x1 = x0 + W; \
                T* yr = y + (p * oh + r) * ow + j0; \
                if (nb <= L) {   /* one vector (rows of 2 lines or fewer): no buffer */ \
                    const MT klo = (MT)CYPOOL_LANES(2 * nb < L ? 2 * nb : L); \
                    const MT khi = (MT)CYPOOL_LANES(2 * nb > L ? 2 * nb - L : 0); \
                    const V ha = CYPOOL_CF_PAIRS(V, L, LOAD, PERM, LATER, klo, khi, x0); \
                    const V hb = CYPOOL_CF_PAIRS(V, L, LOAD, PERM, LATER, klo, khi, x1); \
                    STORE(yr, (MT)CYPOOL_LANES(nb), FIN(LATER(ha, hb))); \
                    continue; \
                } \
                const ptrdiff_t nf = nb - nb % L, n = nb - nf;   /* full vectors; last outputs */ \
                const MT klo = (MT)CYPOOL_LANES(2 * n < L ? 2 * n : L); \
                const MT khi = (MT)CYPOOL_LANES(2 * n > L ? 2 * n - L : 0); \
                for (ptrdiff_t j = 0; j < nf; j += L) \
                    first[j / L] = CYPOOL_CF_PAIRS(V, L, LOAD, PERM, LATER, all, all, x0 + 2 * j); \
                if (n) \
                    first[nf / L] = CYPOOL_CF_PAIRS(V, L, LOAD, PERM, LATER, klo, khi, \
                                                    x0 + 2 * nf); \
                for (ptrdiff_t j = 0; j < nf; j += L) { \
                    const V hb = CYPOOL_CF_PAIRS(V, L, LOAD, PERM, LATER, all, all, x1 + 2 * j); \
                    STORE(yr + j, all, FIN(LATER(first[j / L], hb))); \
                } \
                if (n) { \
                    const V hb = CYPOOL_CF_PAIRS(V, L, LOAD, PERM, LATER, klo, khi, x1 + 2 * nf); \
                    STORE(yr + nf, (MT)CYPOOL_LANES(n), FIN(LATER(first[nf / L], hb))); \
                } \
            } \
        } \
    } \
}
#if defined(__x86_64__) && defined(__GNUC__)
#define CYPOOL_LATER_PS(a, b) ({ const __m512 a_ = (a), b_ = (b); \
    _mm512_mask_mov_ps(_mm512_max_ps(b_, a_), _mm512_cmp_ps_mask(b_, b_, _CMP_UNORD_Q), b_); })
#define CYPOOL_LATER_PD(a, b) ({ const __m512d a_ = (a), b_ = (b); \
    _mm512_mask_mov_pd(_mm512_max_pd(b_, a_), _mm512_cmp_pd_mask(b_, b_, _CMP_UNORD_Q), b_); })
CYPOOL_CF_2X2_WIDE(cypool_max_cf_2x2_avx512_f32, "avx512f", float, int, __m512, 16, __mmask16,
                   _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps, _mm512_permutex2var_ps,
                   CYPOOL_LATER_PS, CYPOOL_CL_AS_IS)
CYPOOL_CF_2X2_WIDE(cypool_max_cf_2x2_avx512_f64, "avx512f", double, long long, __m512d, 8,
                   __mmask8, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd,
                   _mm512_permutex2var_pd, CYPOOL_LATER_PD, CYPOOL_CL_AS_IS)
/* float32 with AVX2 (no masks): 8 outputs a vector from 16 cells of each row, split into even
 * and odd cells by shuffles within 128-bit lanes (outputs 0 1 4 5 | 2 3 6 7), the rule applied to
 * those, and one permute of 64-bit pairs restoring the order before the store. Rows of out_w >= 8
 * (PAIRS_MIN_OUT_W); the last vector of a row ends at its end (recomputing outputs of the one
 * before: the same bits). As the AVX-512 kernel, a row's first input row is read whole before the
 * second (its pairs buffered). On Zen 3, (16, 64, 56, 56) took 5x the stream's time through the
 * row kernels. */
#define CYPOOL_LATER_PS8(a, b) ({ const __m256 a_ = (a), b_ = (b); \
    _mm256_blendv_ps(_mm256_max_ps(b_, a_), b_, _mm256_cmp_ps(b_, b_, _CMP_UNORD_Q)); })
#define CYPOOL_PAIRS8(p) ({ const __m256 c0_ = _mm256_loadu_ps(p), c1_ = _mm256_loadu_ps((p) + 8); \
    CYPOOL_LATER_PS8(_mm256_shuffle_ps(c0_, c1_, 0x88), _mm256_shuffle_ps(c0_, c1_, 0xdd)); })
static __attribute__((target("avx2"), noinline, unused)) void
cypool_max_cf_2x2_avx2_f32(const float* restrict x, float* restrict y, ptrdiff_t p0, ptrdiff_t p1,
                           ptrdiff_t H, ptrdiff_t W)
{
    const ptrdiff_t oh = H / 2, ow = W / 2;
    __m256 first[CYPOOL_CF_2X2_BLOCK / 8];   /* the first row's pairs, vector by vector */
    for (ptrdiff_t p = p0; p < p1; p++)
        for (ptrdiff_t r = 0; r < oh; r++)
            for (ptrdiff_t j0 = 0; j0 < ow; j0 += CYPOOL_CF_2X2_BLOCK) {
                const ptrdiff_t nb = ow - j0 < CYPOOL_CF_2X2_BLOCK ? ow - j0
                                                                  : CYPOOL_CF_2X2_BLOCK;
                const float* x0 = x + (p * H + 2 * r) * W + 2 * j0;
                const float* x1 = x0 + W;
                float* yr = y + (p * oh + r) * ow + j0;
                const ptrdiff_t nv = (nb + 7) / 8;   /* vector v covers outputs at(v) .. + 7 */
#define CYPOOL_AT(v) ((v) * 8 + 8 <= nb ? (v) * 8 : nb - 8)
                for (ptrdiff_t v = 0; v < nv; v++) first[v] = CYPOOL_PAIRS8(x0 + 2 * CYPOOL_AT(v));
                for (ptrdiff_t v = 0; v < nv; v++) {
                    const __m256 m = CYPOOL_LATER_PS8(first[v],
                                                      CYPOOL_PAIRS8(x1 + 2 * CYPOOL_AT(v)));
                    _mm256_storeu_ps(yr + CYPOOL_AT(v), _mm256_castpd_ps(_mm256_permute4x64_pd(
                        _mm256_castps_pd(m), 0xd8)));
                }
#undef CYPOOL_AT
            }
}
#undef CYPOOL_PAIRS8
#undef CYPOOL_LATER_PS8
#define CYPOOL_WIDE_CF(T, SUF, AVX2) \
static int __attribute__((unused)) cypool_max_fwd_cf_2x2_wide##SUF( \
    const T* x, T* y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W) \
{ \
    const int isa = cypool_cl_isa(); \
    if (isa == 2) \
        cypool_max_cf_2x2_avx512##SUF(x, y, p0, p1, H, W); \
    else if (isa == 1 && AVX2 && W / 2 >= 8) \
        cypool_max_cf_2x2_avx2_f32((const float*)x, (float*)y, p0, p1, H, W); \
    else \
        return 0; \
    return 1; \
}
CYPOOL_WIDE_CF(float, _f32, 1)
CYPOOL_WIDE_CF(double, _f64, 0)
#undef CYPOOL_WIDE_CF
/* bfloat16: the float32 kernel's steps on the cells widened in registers. One load of 32 cells
 * holds a row's 16 windows, each window's pair in one 32-bit lane: its first cell shifted up out
 * of the low half, its second the high half with the low half cleared (no permute). Stored by a
 * shift, a NaN made quiet as the conversion makes it. */
static __attribute__((target("avx512f,avx512bw"), noinline, unused)) void
cypool_max_cf_2x2_avx512_bf16(const uint16_t* restrict x, uint16_t* restrict y, ptrdiff_t p0,
                              ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W)
{
    const ptrdiff_t oh = H / 2, ow = W / 2;
    const __m512i high = _mm512_set1_epi32((int)0xffff0000u);
    __m512 first[CYPOOL_CF_2X2_BLOCK / 16];   /* the first row's pairs (read before the second) */
#define CYPOOL_BF16_PAIRS(row, j, k) ({ \
    const __m512i c_ = _mm512_maskz_loadu_epi16((k), (row) + 2 * (j)); \
    CYPOOL_LATER_PS(_mm512_castsi512_ps(_mm512_slli_epi32(c_, 16)), \
                    _mm512_castsi512_ps(_mm512_and_si512(c_, high))); })
/* the n outputs of m to yr, narrowed by a shift, a NaN made quiet as the conversion makes it */
#define CYPOOL_BF16_STORE(yr, n, m) do { \
    const __m512 m_ = (m); \
    const __m512i t_ = _mm512_srli_epi32(_mm512_castps_si512(m_), 16); \
    _mm512_mask_cvtepi32_storeu_epi16((yr), (__mmask16)CYPOOL_LANES(n), \
                                      _mm512_mask_or_epi32(t_, _mm512_cmp_ps_mask(m_, m_, \
                                                           _CMP_UNORD_Q), t_, \
                                                           _mm512_set1_epi32(0x40))); \
} while (0)
    for (ptrdiff_t p = p0; p < p1; p++)
        for (ptrdiff_t r = 0; r < oh; r++)
            for (ptrdiff_t j0 = 0; j0 < ow; j0 += CYPOOL_CF_2X2_BLOCK) {
                const ptrdiff_t nb = ow - j0 < CYPOOL_CF_2X2_BLOCK ? ow - j0
                                                                  : CYPOOL_CF_2X2_BLOCK;
                const uint16_t* x0 = x + (p * H + 2 * r) * W + 2 * j0;
                const uint16_t* x1 = x0 + W;
                uint16_t* yr = y + (p * oh + r) * ow + j0;
                if (nb <= 16) {   /* one vector (rows of 1 line or less): no buffer */
                    const __mmask32 k = (__mmask32)CYPOOL_LANES(2 * nb);
                    CYPOOL_BF16_STORE(yr, nb, CYPOOL_LATER_PS(CYPOOL_BF16_PAIRS(x0, 0, k),
                                                              CYPOOL_BF16_PAIRS(x1, 0, k)));
                    continue;
                }
                for (ptrdiff_t j = 0; j < nb; j += 16) {
                    const ptrdiff_t n = nb - j < 16 ? nb - j : 16;   /* outputs: 2n cells a row */
                    first[j / 16] = CYPOOL_BF16_PAIRS(x0, j, (__mmask32)CYPOOL_LANES(2 * n));
                }
                for (ptrdiff_t j = 0; j < nb; j += 16) {
                    const ptrdiff_t n = nb - j < 16 ? nb - j : 16;
                    CYPOOL_BF16_STORE(yr + j, n, CYPOOL_LATER_PS(
                        first[j / 16], CYPOOL_BF16_PAIRS(x1, j, (__mmask32)CYPOOL_LANES(2 * n))));
                }
            }
#undef CYPOOL_BF16_PAIRS
#undef CYPOOL_BF16_STORE
}
static int __attribute__((unused)) cypool_max_fwd_cf_2x2_wide_bf16(
    const uint16_t* x, uint16_t* y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W)
{
    if (!cypool_max_cf_vec_bf16_ok()) return 0;
    cypool_max_cf_2x2_avx512_bf16(x, y, p0, p1, H, W);
    return 1;
}
#undef CYPOOL_LATER_PS
#undef CYPOOL_LATER_PD
#else
static int __attribute__((unused)) cypool_max_fwd_cf_2x2_wide_f32(
    const float* x, float* y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W)
{
    (void)x; (void)y; (void)p0; (void)p1; (void)H; (void)W;
    return 0;
}
static int __attribute__((unused)) cypool_max_fwd_cf_2x2_wide_f64(
    const double* x, double* y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W)
{
    (void)x; (void)y; (void)p0; (void)p1; (void)H; (void)W;
    return 0;
}
static int __attribute__((unused)) cypool_max_fwd_cf_2x2_wide_bf16(
    const uint16_t* x, uint16_t* y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W)
{
    (void)x; (void)y; (void)p0; (void)p1; (void)H; (void)W;
    return 0;
}
#endif
#if defined(CYPOOL_FP16)
CYPOOL_CF_2X2_WIDE(cypool_max_cf_2x2_fp16, "avx512fp16,avx512bw,avx512f", uint16_t, short,
                   __m512i, 32, __mmask32, _mm512_maskz_loadu_epi16, _mm512_mask_storeu_epi16,
                   _mm512_permutex2var_epi16, CYPOOL_LATER_PH, CYPOOL_QUIET_PH)
#endif
#undef CYPOOL_CF_2X2_WIDE
#undef CYPOOL_CF_PAIRS
#undef CYPOOL_CF_2X2_BLOCK
#undef CYPOOL_LANES
static int __attribute__((unused)) cypool_max_fwd_cf_2x2_wide_f16(const uint16_t* x, uint16_t* y,
                                                                  ptrdiff_t p0, ptrdiff_t p1,
                                                                  ptrdiff_t H, ptrdiff_t W)
{
#if defined(CYPOOL_FP16)
    if (!cypool_avx512fp16()) return 0;
    cypool_max_cf_2x2_fp16(x, y, p0, p1, H, W);
    return 1;
#else
    (void)x; (void)y; (void)p0; (void)p1; (void)H; (void)W;
    return 0;
#endif
}

#ifdef CYPOOL_MAX_POP_OPTIONS
#pragma GCC pop_options
#endif

#endif

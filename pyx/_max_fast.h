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

/* Max backward of float16 / bfloat16 as a gather, for indices that keep to tiles. The input
 * splits into tiles of s = in / out cells along each axis (output o's tile: cells
 * [o * s, o * s + s)); when every index names a cell of its own output's tile (non-overlapping
 * windows whose maxima keep to their tiles: 2x2/s2, adaptive 56 -> 7, global), no cell takes two
 * adds, so each input cell is written once, in order: g where its tile's output names it (the
 * scatter's first add to a zeroed cell, 0 + g: -0 made +0, a signalling NaN kept), else 0. No
 * zeroing pass, no rounding per add: a stream, bit for bit the scatter's result, whatever
 * windows made the indices. The indices are checked a band (a row of tiles) at a time: each
 * (output, channel) lane must match a cell of its tile; at the first band where one does not (an
 * index in another tile or outside the plane) these return 0 and the caller scatters the item,
 * which rewrites every cell; 1 when done. in3 / out3: spatial sizes (d, h, w), out >= 1 and
 * in >= out along each axis (cypool_max_tiles_probe). float32 and float64 keep their scatter,
 * which has no rounding to do: this form measured slower for them. */
static inline void cypool_tile_zero16(uint16_t* gi, ptrdiff_t cells, ptrdiff_t C, ptrdiff_t nc)
{
    if (nc == C) {
        memset(gi, 0, (size_t)(cells * C) * sizeof(uint16_t));
        return;
    }
    for (ptrdiff_t i = 0; i < cells; i++) memset(gi + i * C, 0, (size_t)nc * sizeof(uint16_t));
}

/* The cells past the last tile along h and d of a band's planes (od), and the planes past the
 * last tile, of one sample (channels-last: nc of C channels; channels-first: C = nc = 1) */
static inline void cypool_tile_rest16(uint16_t* gi, const ptrdiff_t* in3, const ptrdiff_t* out3,
                                      ptrdiff_t od, ptrdiff_t sd, ptrdiff_t sh, ptrdiff_t C,
                                      ptrdiff_t nc)
{
    const ptrdiff_t IH = in3[1], IW = in3[2], h0 = out3[1] * sh;
    if (od < out3[0]) {
        for (ptrdiff_t a = 0; a < sd; a++)
            cypool_tile_zero16(gi + ((od * sd + a) * IH + h0) * IW * C, (IH - h0) * IW, C, nc);
    } else {
        cypool_tile_zero16(gi + od * sd * IH * IW * C, (in3[0] - od * sd) * IH * IW, C, nc);
    }
}

/* Channels-last: one cell's channels t[0, nc) from the tile's output (indices io, gradient g) */
CYPOOL_INLINE ptrdiff_t cypool_tile_cell16(const int64_t* restrict io, const uint16_t* restrict g,
                                           uint16_t* restrict t, int64_t cell, ptrdiff_t nc)
{
    ptrdiff_t hits = 0;
    for (ptrdiff_t c = 0; c < nc; c++) {
        const int hit = io[c] == cell;
        t[c] = hit ? cypool_plus_zero(g[c]) : 0;
        hits += hit;
    }
    return hits;
}
/* The same for the two cells of a tile 2 wide (t, t + C), each index read once (2x2/s2,
 * (16,112,112,64) float16, 1 thread: 1.9 -> 1.7 of the streaming kernel's time) */
CYPOOL_INLINE ptrdiff_t cypool_tile_cell16x2(const int64_t* restrict io,
                                             const uint16_t* restrict g, uint16_t* restrict t,
                                             int64_t cell, ptrdiff_t nc, ptrdiff_t C)
{
    ptrdiff_t hits = 0;
    uint16_t* restrict t1 = t + C;
    for (ptrdiff_t c = 0; c < nc; c++) {
        const int64_t d = io[c] - cell;
        const uint16_t v = cypool_plus_zero(g[c]);
        t[c] = d == 0 ? v : 0;
        t1[c] = d == 1 ? v : 0;
        hits += (uint64_t)d < 2;
    }
    return hits;
}

/* Channels-last: channels [c0, c1) of one sample of C (go, idx, gi at the sample's start) */
static int CYPOOL_CLONES cypool_max_bwd_tiles_cl16(const uint16_t* restrict go,
                                                   const int64_t* restrict idx,
                                                   uint16_t* restrict gi, const ptrdiff_t* in3,
                                                   const ptrdiff_t* out3, ptrdiff_t C,
                                                   ptrdiff_t c0, ptrdiff_t c1)
{
    const ptrdiff_t IH = in3[1], IW = in3[2], OD = out3[0], OH = out3[1], OW = out3[2];
    const ptrdiff_t sd = in3[0] / OD, sh = IH / OH, sw = IW / OW, nc = c1 - c0;
    gi += c0;
    idx += c0;
    go += c0;
    for (ptrdiff_t od = 0; od < OD; od++) {
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            const ptrdiff_t orow = (od * OH + oh) * OW;
            ptrdiff_t hits = 0;
            for (ptrdiff_t a = 0; a < sd; a++) {
                for (ptrdiff_t b = 0; b < sh; b++) {
                    const ptrdiff_t row = ((od * sd + a) * IH + oh * sh + b) * IW;
                    for (ptrdiff_t ow = 0; ow < OW; ow++) {
                        const int64_t* io = idx + (orow + ow) * C;
                        const uint16_t* g = go + (orow + ow) * C;
                        if (sw == 2) {
                            hits += cypool_tile_cell16x2(io, g, gi + (row + ow * 2) * C,
                                                         row + ow * 2, nc, C);
                            continue;
                        }
                        for (ptrdiff_t e = 0; e < sw; e++)
                            hits += cypool_tile_cell16(io, g, gi + (row + ow * sw + e) * C,
                                                       row + ow * sw + e, nc);
                    }
                    /* the columns past the last tile */
                    cypool_tile_zero16(gi + (row + OW * sw) * C, IW - OW * sw, C, nc);
                }
            }
            if (hits != OW * nc) return 0;
        }
        cypool_tile_rest16(gi, in3, out3, od, sd, sh, C, nc);
    }
    cypool_tile_rest16(gi, in3, out3, OD, sd, sh, C, nc);
    return 1;
}

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
 * Rows of any width (the last vector masked), no scratch. (The C pair sweep,
 * cypool_max_fwd_cf_2x2, ran 28 x 28 planes, rows of 14 outputs, at 4x the streaming kernel's
 * time: its row loops were scalar.) cypool_max_fwd_cf_2x2_wide_* return 0, doing nothing,
 * where the CPU or the compiler lacks the instructions (p0 == p1: only that answer). */
#define CYPOOL_LANES(k) ((k) >= 32 ? 0xffffffffu : (1u << (k)) - 1u)
#define CYPOOL_CF_2X2_WIDE(NAME, TARGET, T, IT, V, L, MT, LOAD, STORE, PERM, LATER, FIN) \
static __attribute__((target(TARGET), noinline, unused)) void \
NAME(const T* restrict x, T* restrict y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W) \
{ \
    const ptrdiff_t oh = H / 2, ow = W / 2; \
    IT e_[L], o_[L]; \
    for (int i = 0; i < L; i++) { e_[i] = (IT)(2 * i); o_[i] = (IT)(2 * i + 1); } \
    const __m512i even = _mm512_loadu_si512((const void*)e_); \
    const __m512i odd = _mm512_loadu_si512((const void*)o_); \
    for (ptrdiff_t p = p0; p < p1; p++) { \
        for (ptrdiff_t r = 0; r < oh; r++) { \
            const T* x0 = x + (p * H + 2 * r) * W; \
            const T* x1 = x0 + W; \
            T* yr = y + (p * oh + r) * ow; \
            for (ptrdiff_t j = 0; j < ow; j += L) { \
                const ptrdiff_t n = ow - j < L ? ow - j : L;   /* outputs: 2n cells a row */ \
                const MT klo = (MT)CYPOOL_LANES(2 * n < L ? 2 * n : L); \
                const MT khi = (MT)CYPOOL_LANES(2 * n > L ? 2 * n - L : 0); \
                const V a0 = LOAD(klo, x0 + 2 * j), a1 = LOAD(khi, x0 + 2 * j + L); \
                const V b0 = LOAD(klo, x1 + 2 * j), b1 = LOAD(khi, x1 + 2 * j + L); \
                const V ha = LATER(PERM(a0, even, a1), PERM(a0, odd, a1)); \
                const V hb = LATER(PERM(b0, even, b1), PERM(b0, odd, b1)); \
                STORE(yr + j, (MT)CYPOOL_LANES(n), FIN(LATER(ha, hb))); \
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
#define CYPOOL_WIDE_CF(T, SUF) \
static int __attribute__((unused)) cypool_max_fwd_cf_2x2_wide##SUF( \
    const T* x, T* y, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W) \
{ \
    if (cypool_cl_isa() != 2) return 0; \
    cypool_max_cf_2x2_avx512##SUF(x, y, p0, p1, H, W); \
    return 1; \
}
CYPOOL_WIDE_CF(float, _f32)
CYPOOL_WIDE_CF(double, _f64)
#undef CYPOOL_WIDE_CF
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
#endif
#if defined(CYPOOL_FP16)
CYPOOL_CF_2X2_WIDE(cypool_max_cf_2x2_fp16, "avx512fp16,avx512bw,avx512f", uint16_t, short,
                   __m512i, 32, __mmask32, _mm512_maskz_loadu_epi16, _mm512_mask_storeu_epi16,
                   _mm512_permutex2var_epi16, CYPOOL_LATER_PH, CYPOOL_QUIET_PH)
#endif
#undef CYPOOL_CF_2X2_WIDE
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

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
/* Run counts of the run kernels: CYPOOL_CL_RUNS at most */
#define CYPOOL_CL_RUNS 9

/* Whether cypool_max_bwd_tiles_cl applies to a channels-last max backward and is worth trying:
 * tiles exist (out >= 1 and in >= out along each axis) and the indices of sample 0's first band
 * of tiles (its first OW outputs, C channels each) name cells of their own tiles. A call's
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

#ifdef CYPOOL_MAX_POP_OPTIONS
#pragma GCC pop_options
#endif

#endif

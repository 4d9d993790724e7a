/* Fast paths of average pooling (cypool._avg) and global average pooling (cypool._adaptive).
 *
 * Average pooling is separable: a window's sum is a sum over its rows of per-column sums. Each
 * output row therefore first adds the input rows its window covers into one row buffer (a
 * vertical pass along contiguous memory, which vectorises for any window), then sums k_w
 * adjacent buffer cells per output (a horizontal pass; the common windows 2/2 and 3/1 get loops
 * the compiler vectorises). The row buffer carries zeros for the padding, so border windows use
 * the same loop and only their divisor differs. Channels-last rows of a 2x2/2 window interior
 * add their four cells straight from the input, in the same order (no buffer round trip).
 * Backward is the same in gather form: each input row adds the (pre-scaled) output gradient rows
 * whose windows cover it, then each input cell sums the buffer cells of the windows covering it.
 * Every output (and every input gradient cell) is written exactly once, by one thread, in a
 * fixed summation order: results do not depend on the thread count and no zeroing pass is needed.
 *
 * Global average pooling (_global_avg_body.h; float16 and bfloat16: _global_avg_half_body.h;
 * the backward of all four: _global_avg_bwd_body.h) is a plain reduction per plane or per
 * sample.
 *
 * The body (_avg_fast_body.h) is included below for (data, accumulator) = (float, float),
 * (float, double), (double, double), (float16, float) and (bfloat16, float), each include listing
 * the functions it defines (template style: _clones.h). Functions are multiversioned
 * (CYPOOL_CLONES, _clones.h) so a portable build still runs AVX2 / AVX-512 loops where the CPU
 * has them.
 */
#ifndef CYPOOL_AVG_FAST_H
#define CYPOOL_AVG_FAST_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "_clones.h"
#include "_half.h"
#include "_window.h"

/* The factor one axis contributes to the divisor. */
static inline double avg_factor(Span sp, int count_include_pad) {
    return (double)(count_include_pad ? sp.extent : sp.count);
}

/* Input row `row` = (item, d, h) of a backward: returns the item, and the outputs [d0, d1) x
 * [h0, h1) whose windows cover the row. */
static inline ptrdiff_t avg_covering(const Window* w, ptrdiff_t row, ptrdiff_t* d0,
                                     ptrdiff_t* d1, ptrdiff_t* h0, ptrdiff_t* h1) {
    const ptrdiff_t rows = w->in_d * w->in_h, r = row % rows;
    covering_outputs(r / w->in_h, w->k_d, w->s_d, w->pad_d, w->out_d, d0, d1);
    covering_outputs(r % w->in_h, w->k_h, w->s_h, w->pad_h, w->out_h, h0, h1);
    return row / rows;
}

/* Consecutive backward rows from row0 on, as avg_covering gives them: the item and (d, h)
 * stepped instead of divided out, and each d's and h's covering outputs looked up in tables
 * made once (planes of up to CYPOOL_AVG_WALK slices + rows; beyond, avg_covering per row). Six
 * divisions a row took a quarter of the float16 2x2/s2 channels-first backward's time. */
#define CYPOOL_AVG_WALK 512
typedef struct {
    ptrdiff_t row, n, d, h;
    int tabled;
    ptrdiff_t cover[4 * CYPOOL_AVG_WALK];   /* (d0, d1) per slice, then (h0, h1) per row */
} AvgRows;
static inline void avg_rows_start(AvgRows* a, const Window* w, ptrdiff_t row0) {
    const ptrdiff_t rows = w->in_d * w->in_h, r = row0 % rows;
    a->row = row0;
    a->n = row0 / rows;
    a->d = r / w->in_h;
    a->h = r % w->in_h;
    a->tabled = w->in_d + w->in_h <= CYPOOL_AVG_WALK;
    if (!a->tabled) return;
    ptrdiff_t* hc = a->cover + 2 * w->in_d;
    for (ptrdiff_t d = 0; d < w->in_d; d++)
        covering_outputs(d, w->k_d, w->s_d, w->pad_d, w->out_d, &a->cover[2 * d],
                         &a->cover[2 * d + 1]);
    for (ptrdiff_t h = 0; h < w->in_h; h++)
        covering_outputs(h, w->k_h, w->s_h, w->pad_h, w->out_h, &hc[2 * h], &hc[2 * h + 1]);
}
/* The next row's item and covering outputs (call once per row, in order). */
static inline ptrdiff_t avg_rows_next(AvgRows* a, const Window* w, ptrdiff_t* d0, ptrdiff_t* d1,
                                      ptrdiff_t* h0, ptrdiff_t* h1) {
    if (!a->tabled) return avg_covering(w, a->row++, d0, d1, h0, h1);
    const ptrdiff_t* hc = a->cover + 2 * w->in_d;
    const ptrdiff_t n = a->n;
    *d0 = a->cover[2 * a->d];
    *d1 = a->cover[2 * a->d + 1];
    *h0 = hc[2 * a->h];
    *h1 = hc[2 * a->h + 1];
    if (++a->h == w->in_h) {
        a->h = 0;
        if (++a->d == w->in_d) {
            a->d = 0;
            a->n++;
        }
    }
    return n;
}

/* Channels per block of the 3-wide stride-1 channels-last forward (avg_cl_run3): the three
 * columns' sums of a block stay in L1 (6 KiB of float sums), and a block as wide as C (up to
 * this) reads the input rows in order. Blocks of 32 channels read them 128 bytes at a time, C
 * apart, once per block: (8, 56, 56, 256) 3x3/s1/p1, 1 thread, 0.48-0.49 of torch's CPU time
 * with 32, 0.29-0.36 with 256 or 512. */
#define CYPOOL_AVG_RUN 512

/* Bytes of row buffers one chunk of the separable paths needs (C = 1 for channels-first). */
static inline size_t cypool_avg_buffer_bytes(const Window* w, ptrdiff_t C) {
    ptrdiff_t lp = (w->out_w - 1) * w->s_w + w->k_w;
    if (lp < w->pad_w + w->in_w) lp = w->pad_w + w->in_w;
    ptrdiff_t lb = w->in_w + w->pad_w + w->k_w + w->out_w;
    return (size_t)((lp > lb ? lp : lb) + 2 * w->out_w + C) * (size_t)C * sizeof(double);
}

/* The storage <-> accumulator conversions and the divisor rule of float32 and float64 data:
 * plain casts, and a multiplication by the divisor's inverse. */
#define CYPOOL_LD(v) (v)
#define CYPOOL_ST(v) ((CYPOOL_T)(v))
#define CYPOOL_ST_CF(v) ((CYPOOL_T)(v))
#define CYPOOL_INV(d) ((CYPOOL_ACC)(1.0 / (d)))
#define CYPOOL_SCALE(sum, s) ((sum) * (s))
#define CYPOOL_HALF 0
/* a forward computes its output rows in the storage type */
#define CYPOOL_FROW 0
#define CYPOOL_Y CYPOOL_S
#define CYPOOL_STY(v) CYPOOL_ST(v)

/* float32 data, float32 sums (windows of up to FLOAT_ACC_MAX_CELLS cells, _avg.pyx): defines
 * cypool_avg_fwd_cf_f32, cypool_avg_fwd_cl_f32, cypool_avg_bwd_cf_f32, cypool_avg_bwd_cl_f32 */
#define CYPOOL_T float
#define CYPOOL_S float
#define CYPOOL_ACC float
#define CYPOOL_SUF _f32
#include "_avg_fast_body.h"
#undef CYPOOL_T
#undef CYPOOL_S
#undef CYPOOL_ACC
#undef CYPOOL_SUF

/* float32 data, float64 sums (longer windows): defines cypool_avg_fwd_cf_f32_acc64,
 * cypool_avg_fwd_cl_f32_acc64, cypool_avg_bwd_cf_f32_acc64, cypool_avg_bwd_cl_f32_acc64 */
#define CYPOOL_T float
#define CYPOOL_S float
#define CYPOOL_ACC double
#define CYPOOL_SUF _f32_acc64
#include "_avg_fast_body.h"
#undef CYPOOL_T
#undef CYPOOL_S
#undef CYPOOL_ACC
#undef CYPOOL_SUF

/* float64: defines cypool_avg_fwd_cf_f64, cypool_avg_fwd_cl_f64, cypool_avg_bwd_cf_f64,
 * cypool_avg_bwd_cl_f64 */
#define CYPOOL_T double
#define CYPOOL_S double
#define CYPOOL_ACC double
#define CYPOOL_SUF _f64
#include "_avg_fast_body.h"
#undef CYPOOL_T
#undef CYPOOL_S
#undef CYPOOL_ACC
#undef CYPOOL_SUF
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_ST_CF
#undef CYPOOL_INV
#undef CYPOOL_SCALE
#undef CYPOOL_HALF
#undef CYPOOL_FROW
#undef CYPOOL_Y
#undef CYPOOL_STY

/* float16 and bfloat16 (16-bit patterns, _half.h), float32 sums, PyTorch's arithmetic: the sum
 * divided by the divisor in float (`0 +` first: PyTorch's sums start at +0, so a window of -0
 * averages to +0), rounded once on store (channels-first: a -0 mean stored as +0, as PyTorch's
 * zeroed-output add gives); the backward rounds as PyTorch's does (see the body).
 * Rows go through float buffers: converted by _half.h's row functions (CYPOOL_LDN load, ADDN
 * add, STN store, RTN round in place: F16C for float16 where the CPU has it); float16's forward
 * computes its output rows in float (CYPOOL_FROW) and stores them rounded once (channels-first:
 * -0 as +0), bfloat16's stores each value as it goes (its rounding vectorises inline, and the
 * extra pass measured slower).
 * float16 defines cypool_avg_fwd_cf_f16, cypool_avg_fwd_cl_f16, cypool_avg_bwd_cf_f16,
 * cypool_avg_bwd_cl_f16; bfloat16 the same names ending in _bf16. */
#define CYPOOL_S uint16_t
#define CYPOOL_ACC float
#define CYPOOL_INV(d) ((float)(d))
/* a division, or a multiplication by the reciprocal when every divisor of the row is a power of
 * two (hp2: exact, the same bits, and much faster) */
#define CYPOOL_SCALE(sum, s) (hp2 ? (0.0f + (sum)) * (s) : (0.0f + (sum)) / (s))
#define CYPOOL_HALF 1
#define CYPOOL_F16 1
#define CYPOOL_FROW 1
#define CYPOOL_Y float
#define CYPOOL_STY(v) (v)
#define CYPOOL_ST_CF(v) (v)
#define CYPOOL_LD(v) cypool_f16_to_f32(v)
#define CYPOOL_ST(v) cypool_f32_to_f16(v)
#define CYPOOL_LDN(s, d, n) cypool_load_f16(s, d, n)
#define CYPOOL_ADDN(s, d, n) cypool_add_f16(s, d, n)
#define CYPOOL_STN(s, d, n) cypool_store_f16(s, d, n)
#define CYPOOL_RTN(d, n) cypool_round_f16(d, n)
#define CYPOOL_SUF _f16
#include "_avg_fast_body.h"
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_LDN
#undef CYPOOL_ADDN
#undef CYPOOL_STN
#undef CYPOOL_RTN
#undef CYPOOL_SUF
#undef CYPOOL_F16
#undef CYPOOL_FROW
#undef CYPOOL_Y
#undef CYPOOL_STY
#undef CYPOOL_ST_CF
#define CYPOOL_F16 0
#define CYPOOL_FROW 0
#define CYPOOL_Y CYPOOL_S
#define CYPOOL_STY(v) CYPOOL_ST(v)
#define CYPOOL_ST_CF(v) cypool_plus_zero(CYPOOL_ST(v))
#define CYPOOL_LD(v) cypool_bf16_to_f32(v)
#define CYPOOL_ST(v) cypool_f32_to_bf16(v)
#define CYPOOL_LDN(s, d, n) cypool_load_bf16(s, d, n)
#define CYPOOL_ADDN(s, d, n) cypool_add_bf16(s, d, n)
#define CYPOOL_STN(s, d, n) cypool_store_bf16(s, d, n)
#define CYPOOL_RTN(d, n) cypool_round_bf16(d, n)
#define CYPOOL_SUF _bf16
#include "_avg_fast_body.h"
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_LDN
#undef CYPOOL_ADDN
#undef CYPOOL_STN
#undef CYPOOL_RTN
#undef CYPOOL_SUF
#undef CYPOOL_F16
#undef CYPOOL_FROW
#undef CYPOOL_Y
#undef CYPOOL_STY
#undef CYPOOL_S
#undef CYPOOL_ACC
#undef CYPOOL_INV
#undef CYPOOL_SCALE
#undef CYPOOL_HALF
#undef CYPOOL_ST_CF

/* Global average pooling, float32: defines cypool_global_avg_fwd_cf_f32,
 * cypool_global_avg_fwd_cl_f32, cypool_global_avg_bwd_cf_f32, cypool_global_avg_bwd_cl_f32 */
#define CYPOOL_T float
#define CYPOOL_SUF _f32
#define CYPOOL_IS_FLOAT 1
#include "_global_avg_body.h"
#undef CYPOOL_T
#undef CYPOOL_SUF
#undef CYPOOL_IS_FLOAT

/* Global average pooling, float64: defines cypool_global_avg_fwd_cf_f64,
 * cypool_global_avg_fwd_cl_f64, cypool_global_avg_bwd_cf_f64, cypool_global_avg_bwd_cl_f64 */
#define CYPOOL_T double
#define CYPOOL_SUF _f64
#define CYPOOL_IS_FLOAT 0
#include "_global_avg_body.h"
#undef CYPOOL_T
#undef CYPOOL_SUF
#undef CYPOOL_IS_FLOAT

/* Global average pooling, float16 and bfloat16 (16-bit patterns, float32's arithmetic, rounded
 * once): defines cypool_global_avg_fwd_cf_f16, cypool_global_avg_fwd_cl_f16,
 * cypool_global_avg_bwd_cf_f16, cypool_global_avg_bwd_cl_f16 and the same names ending in _bf16 */
#define CYPOOL_LD(v) cypool_f16_to_f32(v)
#define CYPOOL_ST(v) cypool_f32_to_f16(v)
#define CYPOOL_LDN(s, d, n) cypool_load_f16(s, d, n)
#define CYPOOL_ADDN(s, d, n) cypool_add_f16(s, d, n)
#define CYPOOL_STN(s, d, n) cypool_store_f16(s, d, n)
#define CYPOOL_SUF _f16
#include "_global_avg_half_body.h"
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_LDN
#undef CYPOOL_ADDN
#undef CYPOOL_STN
#undef CYPOOL_SUF
#define CYPOOL_LD(v) cypool_bf16_to_f32(v)
#define CYPOOL_ST(v) cypool_f32_to_bf16(v)
#define CYPOOL_LDN(s, d, n) cypool_load_bf16(s, d, n)
#define CYPOOL_ADDN(s, d, n) cypool_add_bf16(s, d, n)
#define CYPOOL_STN(s, d, n) cypool_store_bf16(s, d, n)
#define CYPOOL_SUF _bf16
#include "_global_avg_half_body.h"
#undef CYPOOL_LD
#undef CYPOOL_ST
#undef CYPOOL_LDN
#undef CYPOOL_ADDN
#undef CYPOOL_STN
#undef CYPOOL_SUF

#endif

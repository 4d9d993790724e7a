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
 * Global average pooling (_avg_gap_body.h) is a plain reduction per plane or per sample.
 *
 * The body (_avg_fast_body.h) is instantiated for (data, accumulator) = (float, float),
 * (float, double) and (double, double). Functions are multiversioned (CYPOOL_CLONES, _clones.h) so a
 * portable build still runs AVX2 / AVX-512 loops where the CPU has them.
 */
#ifndef CYPOOL_AVG_FAST_H
#define CYPOOL_AVG_FAST_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "_clones.h"

typedef struct {
    ptrdiff_t in_d, in_h, in_w;
    ptrdiff_t out_d, out_h, out_w;
    ptrdiff_t k_d, k_h, k_w;
    ptrdiff_t s_d, s_h, s_w;
    ptrdiff_t pad_d, pad_h, pad_w;
    ptrdiff_t padend_d, padend_h, padend_w;
    int count_include_pad;
    ptrdiff_t divisor_override;   /* 0: none */
} avgf_geom;

typedef struct {
    ptrdiff_t first, count, extent;
} avgf_span;

/* PyTorch's window along one axis (same rule as _window.pxd's padded_span). */
static inline avgf_span avgf_padded_span(ptrdiff_t o, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                                         ptrdiff_t padend, ptrdiff_t size) {
    avgf_span sp;
    ptrdiff_t start = o * s - pad, end = start + k;
    if (end > size + padend) end = size + padend;
    sp.extent = end - start;
    if (start < 0) start = 0;
    if (end > size) end = size;
    sp.first = start;
    sp.count = end > start ? end - start : 0;
    return sp;
}

/* The factor one axis contributes to the divisor. */
static inline double avgf_factor(avgf_span sp, int cip) {
    return (double)(cip ? sp.extent : sp.count);
}

/* Outputs whose window covers input cell i: [*lo, *hi). */
static inline void avgf_cover(ptrdiff_t i, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                              ptrdiff_t out, ptrdiff_t* lo, ptrdiff_t* hi) {
    ptrdiff_t a = i + pad - k + 1, b = i + pad;
    ptrdiff_t l = a <= 0 ? 0 : (a + s - 1) / s;
    ptrdiff_t h = b < 0 ? 0 : b / s + 1;
    if (h > out) h = out;
    *lo = l;
    *hi = h > l ? h : l;
}

/* Bytes of row buffers one chunk of the separable paths needs (C = 1 for channels-first). */
static inline size_t avgf_buffer_bytes(const avgf_geom* g, ptrdiff_t C) {
    ptrdiff_t lp = (g->out_w - 1) * g->s_w + g->k_w;
    if (lp < g->pad_w + g->in_w) lp = g->pad_w + g->in_w;
    ptrdiff_t lb = g->in_w + g->pad_w + g->k_w + g->out_w;
    return (size_t)((lp > lb ? lp : lb) + 2 * g->out_w + C) * (size_t)C * sizeof(double);
}

#define AVGF_T float
#define AVGF_ACC float
#define AVGF_SUF _ff
#include "_avg_fast_body.h"
#undef AVGF_T
#undef AVGF_ACC
#undef AVGF_SUF

#define AVGF_T float
#define AVGF_ACC double
#define AVGF_SUF _fd
#include "_avg_fast_body.h"
#undef AVGF_T
#undef AVGF_ACC
#undef AVGF_SUF

#define AVGF_T double
#define AVGF_ACC double
#define AVGF_SUF _dd
#include "_avg_fast_body.h"
#undef AVGF_T
#undef AVGF_ACC
#undef AVGF_SUF

#define AVGF_T float
#define AVGF_SUF _f
#define AVGF_IS_FLOAT 1
#include "_avg_gap_body.h"
#undef AVGF_T
#undef AVGF_SUF
#undef AVGF_IS_FLOAT

#define AVGF_T double
#define AVGF_SUF _d
#define AVGF_IS_FLOAT 0
#include "_avg_gap_body.h"
#undef AVGF_T
#undef AVGF_SUF
#undef AVGF_IS_FLOAT

#endif

/* Fast paths of max pooling (float and double), called per output row from pyx/_max.pyx.
 *
 * Same value rule as the general kernel: a cell replaces the running maximum when
 * `v > m || v != v` (NaN propagates, the index names the last NaN in window order, ties keep the
 * first maximum). Every loop visits the window cells in the general kernel's order (d, h, w), so
 * results are bit-identical to it.
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

/* Python extensions build with -fwrapv, which keeps gcc from proving the channel-block address
 * arithmetic non-overflowing and costs the channels-last rows over 2x; these kernels never
 * overflow (sizes come validated), so they opt out. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-wrapv", "no-loop-unroll-and-jam", "no-loop-interchange")
#define CYPOOL_MAX_POP_OPTIONS 1
#endif

typedef struct {
    ptrdiff_t in_d, in_h, in_w;
    ptrdiff_t out_d, out_h, out_w;
    ptrdiff_t k_d, k_h, k_w;
    ptrdiff_t s_d, s_h, s_w;
    ptrdiff_t pad_d, pad_h, pad_w;
    ptrdiff_t dil_d, dil_h, dil_w;
    ptrdiff_t w_lo, w_hi;   /* interior outputs along w (cypool_interior), set once per call */
} cypool_mgeo;

/* Outputs per chunk of a channels-first row: the chunk's maxima and indices stay in L1. */
#define CYPOOL_CF_CHUNK 256
/* channels-last block width, in elements of either type: the block's maxima (and indices) are
 * kept in vector registers across the window */
#define CYPOOL_CL_BLOCK 32

/* dilated_span of _window.pxd: padding cells are skipped by whole dilation steps. */
static inline void cypool_mspan(ptrdiff_t o, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                                ptrdiff_t dil, ptrdiff_t size, ptrdiff_t* first, ptrdiff_t* count)
{
    ptrdiff_t start = o * s - pad;
    ptrdiff_t stop = start + dil * (k - 1) + 1;
    if (stop > size) stop = size;
    if (dil == 1) {  /* no division on the common path: rows are short, divisions are not */
        if (start < 0) start = 0;
        *first = start;
        *count = stop > start ? stop - start : 0;
        return;
    }
    if (start < 0) start += ((-start + dil - 1) / dil) * dil;
    *first = start;
    *count = stop > start ? (stop - start + dil - 1) / dil : 0;
}

/* Outputs [lo, hi) whose windows lie wholly inside [0, size) along one axis. */
static inline void cypool_interior(ptrdiff_t out, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                                   ptrdiff_t dil, ptrdiff_t size, ptrdiff_t* lo, ptrdiff_t* hi)
{
    ptrdiff_t l = (pad + s - 1) / s;
    ptrdiff_t t = size - 1 - dil * (k - 1) + pad;
    ptrdiff_t h = t < 0 ? 0 : t / s + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

#define CYPOOL_SEL(mask, a, b) ((mask) ? (a) : (b))

/* Helpers must be inlined into the cloned entry points, or they would run the baseline ISA. */
#if defined(__GNUC__)
#define CYPOOL_INLINE static inline __attribute__((always_inline))
#else
#define CYPOOL_INLINE static inline
#endif

#define CYPOOL_MAX_DEFINE(T, ITYPE, SUF, LOW)                                                            \
                                                                                                  \
/* One window row of a chunk of CF outputs, stride S (constant when specialised): strided loads  \
 * and a blend, vectorised across outputs. */                                                     \
CYPOOL_INLINE void cypool_cf_pass_##SUF(const T* restrict src, T* restrict m, ptrdiff_t n,       \
                                        ptrdiff_t S)                                              \
{                                                                                                 \
    for (ptrdiff_t j = 0; j < n; j++) {                                                           \
        T v = src[j * S];                                                                         \
        int mk = (v > m[j]) | (v != v);                                                           \
        m[j] = CYPOOL_SEL(mk, v, m[j]);                                                           \
    }                                                                                             \
}                                                                                                 \
CYPOOL_INLINE void cypool_cf_pass_idx_##SUF(const T* restrict src, T* restrict m,                \
                                            ITYPE* restrict p, ITYPE off, ptrdiff_t n,            \
                                            ptrdiff_t S)                                          \
{                                                                                                 \
    for (ptrdiff_t j = 0; j < n; j++) {                                                           \
        T v = src[j * S];                                                                         \
        int mk = (v > m[j]) | (v != v);                                                           \
        m[j] = CYPOOL_SEL(mk, v, m[j]);                                                           \
        p[j] = CYPOOL_SEL(mk, off + (ITYPE)(j * S), p[j]);                                        \
    }                                                                                             \
}                                                                                                 \
/* All K cells of one window row (no dilation) in one sweep: one load and store of the running  \
 * maximum per K cells. Called with constant K and S so the cell loop unrolls. */                  \
CYPOOL_INLINE void cypool_cf_rowk_##SUF(const T* restrict src, T* restrict m,                    \
                                        ITYPE* restrict p, ITYPE off, ptrdiff_t n,                \
                                        ptrdiff_t K, ptrdiff_t S)                                 \
{                                                                                                 \
    if (p) {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++) {                                                       \
            T mm = m[j];                                                                          \
            ITYPE pp = p[j];                                                                      \
            for (ptrdiff_t c = 0; c < K; c++) {                                                   \
                T v = src[j * S + c];                                                             \
                int mk = (v > mm) | (v != v);                                                     \
                mm = CYPOOL_SEL(mk, v, mm);                                                       \
                pp = CYPOOL_SEL(mk, off + (ITYPE)(j * S + c), pp);                                \
            }                                                                                     \
            m[j] = mm;                                                                            \
            p[j] = pp;                                                                            \
        }                                                                                         \
    } else {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++) {                                                       \
            T mm = m[j];                                                                          \
            for (ptrdiff_t c = 0; c < K; c++) {                                                   \
                T v = src[j * S + c];                                                             \
                int mk = (v > mm) | (v != v);                                                     \
                mm = CYPOOL_SEL(mk, v, mm);                                                       \
            }                                                                                     \
            m[j] = mm;                                                                            \
        }                                                                                         \
    }                                                                                             \
}                                                                                                 \
                                                                                                  \
/* The general kernel's loop for one output cell (borders). */                                    \
CYPOOL_INLINE void cypool_cf_cell_##SUF(const T* xp, T* y, int64_t* idx, const cypool_mgeo* g,   \
                                        ptrdiff_t df, ptrdiff_t dc, ptrdiff_t hf, ptrdiff_t hc,   \
                                        ptrdiff_t ow)                                             \
{                                                                                                 \
    ptrdiff_t wf, wc;                                                                             \
    cypool_mspan(ow, g->k_w, g->s_w, g->pad_w, g->dil_w, g->in_w, &wf, &wc);                      \
    T m = LOW;                                                                                    \
    int64_t best = (df * g->in_h + hf) * g->in_w + wf;                                            \
    for (ptrdiff_t a = 0; a < dc; a++)                                                            \
        for (ptrdiff_t b = 0; b < hc; b++) {                                                      \
            ptrdiff_t pos = ((df + a * g->dil_d) * g->in_h + hf + b * g->dil_h) * g->in_w + wf;   \
            for (ptrdiff_t c = 0; c < wc; c++) {                                                  \
                T v = xp[pos + c * g->dil_w];                                                     \
                if (v > m || v != v) { m = v; best = pos + c * g->dil_w; }                        \
            }                                                                                     \
        }                                                                                         \
    *y = m;                                                                                       \
    if (idx) *idx = best;                                                                         \
}                                                                                                 \
                                                                                                  \
/* One output row (plane, od, oh) of a channels-first tensor: borders cell by cell, the interior  \
 * (windows wholly inside along w) in chunks, one pass per window cell over the chunk. The pass   \
 * order is the window order, so each output sees its cells in the general kernel's order. */    \
CYPOOL_INLINE void cypool_cf_row_##SUF(const T* x, T* y, int64_t* idx, const cypool_mgeo* g,    \
                                       ptrdiff_t row, ptrdiff_t plane, ptrdiff_t od,              \
                                       ptrdiff_t oh)                                              \
{                                                                                                 \
    const T* xp = x + plane * g->in_d * g->in_h * g->in_w;                                        \
    T* yr = y + row * g->out_w;                                                                   \
    int64_t* ir = idx ? idx + row * g->out_w : NULL;                                              \
    ptrdiff_t df, dc, hf, hc, lo, hi, ow;                                                         \
    cypool_mspan(od, g->k_d, g->s_d, g->pad_d, g->dil_d, g->in_d, &df, &dc);                      \
    cypool_mspan(oh, g->k_h, g->s_h, g->pad_h, g->dil_h, g->in_h, &hf, &hc);                      \
    lo = g->w_lo;                                                                                 \
    hi = g->w_hi;                                                                                 \
    if (dc == 0 || hc == 0) { lo = hi = g->out_w; }                                               \
    for (ow = 0; ow < lo; ow++)                                                                   \
        cypool_cf_cell_##SUF(xp, yr + ow, ir ? ir + ow : NULL, g, df, dc, hf, hc, ow);            \
    for (ow = hi; ow < g->out_w; ow++)                                                            \
        cypool_cf_cell_##SUF(xp, yr + ow, ir ? ir + ow : NULL, g, df, dc, hf, hc, ow);            \
    const ptrdiff_t S = g->s_w;                                                                   \
    /* Common small windows get a whole-row sweep with constant K and S. */                        \
    int kind = 0;                                                                                 \
    if (g->dil_w == 1 && (g->k_w == 2 || g->k_w == 3) && (S == 1 || S == 2))                      \
        kind = (g->k_w == 2 ? 1 : 2) + (S == 1 ? 2 : 0);                                          \
    for (ptrdiff_t o0 = lo; o0 < hi; o0 += CYPOOL_CF_CHUNK) {                                     \
        ptrdiff_t n = hi - o0 < CYPOOL_CF_CHUNK ? hi - o0 : CYPOOL_CF_CHUNK;                      \
        /* maxima are swept in place in the output row (L1-resident per chunk); positions in a \
         * narrow buffer widened on the way out */                                             \
        T* m = yr + o0;                                                                           \
        ITYPE p[CYPOOL_CF_CHUNK];                                                                 \
        ptrdiff_t w0 = o0 * S - g->pad_w;                                                         \
        for (ptrdiff_t j = 0; j < n; j++) m[j] = LOW;                                             \
        if (ir) {                                                                                 \
            ITYPE first = (ITYPE)((df * g->in_h + hf) * g->in_w + w0);                            \
            for (ptrdiff_t j = 0; j < n; j++) p[j] = first + (ITYPE)(j * S);                      \
        }                                                                                         \
        for (ptrdiff_t a = 0; a < dc; a++)                                                        \
            for (ptrdiff_t b = 0; b < hc; b++) {                                                  \
                ptrdiff_t rp = ((df + a * g->dil_d) * g->in_h + hf + b * g->dil_h) * g->in_w + w0;\
                if (kind) {                                                                       \
                    ITYPE* pp = ir ? p : NULL;                                                    \
                    ITYPE r = (ITYPE)rp;                                                          \
                    switch (kind) {                                                               \
                    case 1: cypool_cf_rowk_##SUF(xp + rp, m, pp, r, n, 2, 2); break;              \
                    case 2: cypool_cf_rowk_##SUF(xp + rp, m, pp, r, n, 3, 2); break;              \
                    case 3: cypool_cf_rowk_##SUF(xp + rp, m, pp, r, n, 2, 1); break;              \
                    default: cypool_cf_rowk_##SUF(xp + rp, m, pp, r, n, 3, 1); break;             \
                    }                                                                             \
                    continue;                                                                     \
                }                                                                                 \
                for (ptrdiff_t c = 0; c < g->k_w; c++) {                                          \
                    ptrdiff_t off = rp + c * g->dil_w;                                            \
                    if (ir) {                                                                     \
                        ITYPE o = (ITYPE)off;                                                     \
                        if (S == 1) cypool_cf_pass_idx_##SUF(xp + off, m, p, o, n, 1);            \
                        else if (S == 2) cypool_cf_pass_idx_##SUF(xp + off, m, p, o, n, 2);       \
                        else cypool_cf_pass_idx_##SUF(xp + off, m, p, o, n, S);                   \
                    } else {                                                                      \
                        if (S == 1) cypool_cf_pass_##SUF(xp + off, m, n, 1);                      \
                        else if (S == 2) cypool_cf_pass_##SUF(xp + off, m, n, 2);                 \
                        else cypool_cf_pass_##SUF(xp + off, m, n, S);                             \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        if (ir) for (ptrdiff_t j = 0; j < n; j++) ir[o0 + j] = (int64_t)p[j];                     \
    }                                                                                             \
}                                                                                                 \
                                                                                                  \
/* Output rows [r0, r1) of a channels-first tensor, rows numbered (plane, od, oh). The row's      \
 * coordinates are stepped, not divided out per row: three divisions cost as much as a short     \
 * row's pooling. */                                                                              \
static void CYPOOL_CLONES cypool_max_cf_rows_##SUF(const T* x, T* y, int64_t* idx,           \
                                                       const cypool_mgeo* g, ptrdiff_t r0,        \
                                                       ptrdiff_t r1)                              \
{                                                                                                 \
    if (r0 >= r1) return;                                                                         \
    ptrdiff_t rpp = g->out_d * g->out_h;                                                          \
    ptrdiff_t plane = r0 / rpp, od = (r0 % rpp) / g->out_h, oh = r0 % g->out_h;                   \
    for (ptrdiff_t row = r0; row < r1; row++) {                                                   \
        cypool_cf_row_##SUF(x, y, idx, g, row, plane, od, oh);                                    \
        if (++oh == g->out_h) {                                                                   \
            oh = 0;                                                                               \
            if (++od == g->out_d) { od = 0; plane++; }                                            \
        }                                                                                         \
    }                                                                                             \
}                                                                                                 \
                                                                                                  \
/* A block of B channels of one channels-last output cell: the running maxima (and indices) of   \
 * the block stay in registers while the window cells stream by; written once. */                 \
CYPOOL_INLINE void cypool_cl_block_##SUF(const T* restrict xn, T* restrict y,                   \
                                         int64_t* restrict idx, const ptrdiff_t* restrict cells, \
                                         ptrdiff_t ncells, int64_t first, ptrdiff_t C,            \
                                         ptrdiff_t B)                                             \
{                                                                                                 \
    T m[CYPOOL_CL_BLOCK];                                                                         \
    for (ptrdiff_t j = 0; j < B; j++) m[j] = LOW;                                                 \
    if (idx) {                                                                                    \
        /* The winning cell's ordinal, in an integer as wide as T: one blend per vector of T. */  \
        ITYPE q[CYPOOL_CL_BLOCK];                                                                 \
        for (ptrdiff_t j = 0; j < B; j++) q[j] = -1;                                              \
        for (ITYPE k = 0; k < (ITYPE)ncells; k++) {                                               \
            const T* xc = xn + cells[k] * C;                                                      \
            for (ptrdiff_t j = 0; j < B; j++) {                                                   \
                T v = xc[j];                                                                      \
                int mk = (v > m[j]) | (v != v);                                                   \
                m[j] = CYPOOL_SEL(mk, v, m[j]);                                                   \
                q[j] = CYPOOL_SEL(mk, k, q[j]);                                                   \
            }                                                                                     \
        }                                                                                         \
        for (ptrdiff_t j = 0; j < B; j++) idx[j] = q[j] < 0 ? first : cells[q[j]];                \
    } else {                                                                                      \
        for (ptrdiff_t q = 0; q < ncells; q++) {                                                  \
            const T* xc = xn + cells[q] * C;                                                      \
            for (ptrdiff_t j = 0; j < B; j++) {                                                   \
                T v = xc[j];                                                                      \
                int mk = (v > m[j]) | (v != v);                                                   \
                m[j] = CYPOOL_SEL(mk, v, m[j]);                                                   \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    for (ptrdiff_t j = 0; j < B; j++) y[j] = m[j];                                                \
}                                                                                                 \
                                                                                                  \
/* One output row (n, od, oh) of a channels-last tensor. `cells` is caller-provided scratch of    \
 * k_d*k_h*k_w entries: the flat positions of the current window's real cells in window order.   \
 * Channels go in fixed blocks of CYPOOL_CL_BLOCK (compile-time trip count, so the block's        \
 * maxima are register-resident), the remainder in one variable block. */                         \
static void CYPOOL_CLONES cypool_max_cl_row_##SUF(const T* x, T* y, int64_t* idx,            \
                                                      const cypool_mgeo* g, ptrdiff_t row,        \
                                                      ptrdiff_t C, ptrdiff_t* cells)              \
{                                                                                                 \
    enum { BL = CYPOOL_CL_BLOCK };                                                                \
    ptrdiff_t rps = g->out_d * g->out_h;                                                          \
    ptrdiff_t nn = row / rps, od = (row % rps) / g->out_h, oh = row % g->out_h;                   \
    const T* xn = x + nn * g->in_d * g->in_h * g->in_w * C;                                       \
    ptrdiff_t df, dc, hf, hc, wf, wc;                                                             \
    cypool_mspan(od, g->k_d, g->s_d, g->pad_d, g->dil_d, g->in_d, &df, &dc);                      \
    cypool_mspan(oh, g->k_h, g->s_h, g->pad_h, g->dil_h, g->in_h, &hf, &hc);                      \
    for (ptrdiff_t ow = 0; ow < g->out_w; ow++) {                                                 \
        cypool_mspan(ow, g->k_w, g->s_w, g->pad_w, g->dil_w, g->in_w, &wf, &wc);                  \
        ptrdiff_t nc = 0;                                                                         \
        for (ptrdiff_t a = 0; a < dc; a++)                                                        \
            for (ptrdiff_t b = 0; b < hc; b++)                                                    \
                for (ptrdiff_t c = 0; c < wc; c++)                                                \
                    cells[nc++] = ((df + a * g->dil_d) * g->in_h + hf + b * g->dil_h) * g->in_w   \
                                  + wf + c * g->dil_w;                                            \
        int64_t first = (df * g->in_h + hf) * g->in_w + wf;                                       \
        T* ym = y + (row * g->out_w + ow) * C;                                                    \
        int64_t* im = idx ? idx + (row * g->out_w + ow) * C : NULL;                               \
        ptrdiff_t c0 = 0;                                                                         \
        for (; c0 + BL <= C; c0 += BL)                                                            \
            cypool_cl_block_##SUF(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);\
        /* the last channels: one more full block ending at C (its overlap with the previous    \
         * block recomputes the same maxima and indices), so every block is a constant BL    \
         * wide; gcc vectorises constant-width blocks and not narrow or variable ones        \
         * (measured: a 16-wide block ran 10x slower than a 32-wide one) */                  \
        if (c0 < C && C >= BL) {                                                            \
            c0 = C - BL;                                                                    \
            cypool_cl_block_##SUF(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);\
            c0 = C;                                                                         \
        }                                                                                   \
        if (c0 < C)                                                                               \
            cypool_cl_block_##SUF(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C,     \
                                  C - c0);                                                        \
    }                                                                                             \
}

CYPOOL_MAX_DEFINE(float, int32_t, f32, -INFINITY)
CYPOOL_MAX_DEFINE(double, int64_t, f64, -INFINITY)

#ifdef CYPOOL_MAX_POP_OPTIONS
#pragma GCC pop_options
#endif

#endif

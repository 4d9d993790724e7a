/* The window geometry: the one definition of the struct the Python side fills (cypool/_geometry.py
 * builds it as a dict; Cython converts the dict at the kernel entry points) and of the per-axis
 * span rules. The Cython modules see it through _window.pxd, the C fast paths (_max_fast.h,
 * _avg_fast.h) include it: both read the same struct through a `const Window*`.
 *
 * Every operator views its input as three spatial axes (d, h, w); 1-d and 2-d pooling use size-1
 * leading axes. Python validates all of it; kernels trust it.
 *
 * Span functions return their result by value: inside a Cython prange body that makes every span
 * variable an assigned (hence thread-private) variable, where results written through pointers to
 * loop locals would be shared between OpenMP threads.
 */
#ifndef CYPOOL_WINDOW_H
#define CYPOOL_WINDOW_H

#include <stddef.h>

#include "_clones.h"   /* CYPOOL_INLINE: the fast paths inline the span rules into their clones */

/* Python extensions build with -fwrapv; the span arithmetic never overflows (sizes come
 * validated), so, like the fast paths (_max_fast.h), it opts out and gcc may simplify it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-wrapv")
#define CYPOOL_WINDOW_POP_OPTIONS 1
#endif

typedef struct Window {
    ptrdiff_t in_d, in_h, in_w;
    ptrdiff_t out_d, out_h, out_w;
    ptrdiff_t k_d, k_h, k_w;
    ptrdiff_t s_d, s_h, s_w;
    ptrdiff_t pad_d, pad_h, pad_w;            /* padding before the first cell */
    ptrdiff_t padend_d, padend_h, padend_w;   /* padding after the last cell ("same": asymmetric) */
    ptrdiff_t dil_d, dil_h, dil_w;
} Window;

typedef struct Span {
    ptrdiff_t first;    /* first real cell of the window along one axis */
    ptrdiff_t count;    /* real cells, stepping by the dilation */
    ptrdiff_t extent;   /* cells inside [-pad, size + padend): the count_include_pad divisor */
} Span;

/* Output row `row` of the general kernels, numbered (item, od, oh): item is a plane
 * (channels-first) or a sample (channels-last). */
typedef struct RowIndex {
    ptrdiff_t item, od, oh;
} RowIndex;

CYPOOL_INLINE RowIndex output_row(ptrdiff_t row, const Window* w)
{
    RowIndex r;
    const ptrdiff_t rows_per_item = w->out_d * w->out_h;
    r.item = row / rows_per_item;
    r.od = (row % rows_per_item) / w->out_h;
    r.oh = row % w->out_h;
    return r;
}

/* Max-type windows (with dilation): cells inside the padding are skipped by whole dilation steps,
 * as PyTorch does, so padding is never read. A window may hold no real cell (dilation); `first` is
 * then past the input and `count` 0. */
CYPOOL_INLINE Span dilated_span(ptrdiff_t o, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                                ptrdiff_t dil, ptrdiff_t size)
{
    Span sp;
    ptrdiff_t start = o * s - pad;
    ptrdiff_t stop = start + dil * (k - 1) + 1;
    if (stop > size) stop = size;
    if (dil == 1) {  /* no division on the common path: rows are short, divisions are not */
        if (start < 0) start = 0;
        sp.first = start;
        sp.count = sp.extent = stop > start ? stop - start : 0;
        return sp;
    }
    if (start < 0) start += ((-start + dil - 1) / dil) * dil;
    sp.first = start;
    sp.count = sp.extent = stop > start ? (stop - start + dil - 1) / dil : 0;
    return sp;
}

/* Average-type windows (no dilation): the padded extent is clipped to [-pad, size + padend) so
 * the ceil-mode overhang past the padding never counts, as in PyTorch. */
CYPOOL_INLINE Span padded_span(ptrdiff_t o, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                               ptrdiff_t padend, ptrdiff_t size)
{
    Span sp;
    ptrdiff_t start = o * s - pad, end = start + k;
    if (end > size + padend) end = size + padend;
    sp.extent = end - start;
    if (start < 0) start = 0;
    if (end > size) end = size;
    sp.first = start;
    sp.count = end > start ? end - start : 0;
    return sp;
}

/* Adaptive bin o: [floor(o*L/O), ceil((o+1)*L/O)), PyTorch's rule, always covering the input. */
CYPOOL_INLINE Span adaptive_span(ptrdiff_t o, ptrdiff_t out_size, ptrdiff_t in_size)
{
    Span sp;
    sp.first = (o * in_size) / out_size;
    sp.count = ((o + 1) * in_size + out_size - 1) / out_size - sp.first;
    sp.extent = sp.count;
    return sp;
}

/* Outputs [*lo, *hi) whose dilated windows lie wholly inside [0, size) along one axis. */
CYPOOL_INLINE void interior_outputs(ptrdiff_t out, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
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

/* Outputs [*lo, *hi) whose (undilated) windows cover input cell i: the inverse of padded_span,
 * for the gather form of average backward. */
CYPOOL_INLINE void covering_outputs(ptrdiff_t i, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                                    ptrdiff_t out, ptrdiff_t* lo, ptrdiff_t* hi)
{
    ptrdiff_t a = i + pad - k + 1, b = i + pad;
    ptrdiff_t l = a <= 0 ? 0 : (a + s - 1) / s;
    ptrdiff_t h = b < 0 ? 0 : b / s + 1;
    if (h > out) h = out;
    *lo = l;
    *hi = h > l ? h : l;
}

#ifdef CYPOOL_WINDOW_POP_OPTIONS
#pragma GCC pop_options
#endif

#endif

/* Window reductions of the general kernels (_adaptive.pyx, _lp.pyx, _blur.pyx, _stochastic.pyx,
 * _fractional.pyx): the inner loops of adaptive average and max pooling, fractional max pooling,
 * Lp pooling and blur pooling's forward, written once in _reduce_fast_body.h (template style:
 * _clones.h) and multiversioned (CYPOOL_CLONES) so a portable build runs AVX2 / AVX-512 loops.
 *
 * Every function keeps the summation order of the loops it replaces: a window's cells in (d, h, w)
 * order, each output (each channel) its own double accumulator. Speed comes from working on many
 * accumulators at once, never from reordering a sum, so results are bit-identical:
 *   - channels-last: a block of 16 channels is reduced in vector registers over the window's
 *     cells (no accumulator row in memory); adaptive rows stream their band of input rows in
 *     memory order into accumulator rows in L1;
 *   - channels-first: equally spaced windows of one length (Lp) are summed side by side, row by
 *     row of the input, one accumulator per window: vector loops across the windows; adaptive
 *     rows interleave their bins (tabulated once per call), and float32 takes 16 planes at once
 *     through a tile transposed to the channels-last layout.
 * Powers (Lp): 1, 2 (x * x) and 3 (x * x * x), as PyTorch computes them; the root of the result
 * is sqrt for p = 2, pow(., 1 / p) otherwise. Blur pooling's forward rows (_blur.pyx) are weighted
 * window sums of the same two kinds.
 * Lp, blur and stochastic pooling put eight windows (channels-first: neighbours along the row,
 * read at the stride) or eight channels (channels-last) in the lanes of 8-double vectors; their
 * backward kernels keep each cell's terms in the order of the scalar scatter they replace.
 */
#ifndef CYPOOL_REDUCE_FAST_H
#define CYPOOL_REDUCE_FAST_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_clones.h"
#include "_transpose8.h"
#include "_window.h"

#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 9)
#define CYPOOL_REDUCE_VECTORS 1
typedef double cypool_r4d __attribute__((vector_size(32)));
typedef float cypool_r4f __attribute__((vector_size(16)));
typedef float cypool_r8f __attribute__((vector_size(32)));
typedef int32_t cypool_r8i __attribute__((vector_size(32)));
typedef int64_t cypool_r4l __attribute__((vector_size(32)));
/* Eight doubles: only in functions built for AVX-512 (elsewhere a 512-bit generic vector is
 * held in memory, not registers: see load4s). */
typedef double cypool_r8d __attribute__((vector_size(64)));
typedef uint64_t cypool_r4u __attribute__((vector_size(32)));
typedef int32_t cypool_r4i __attribute__((vector_size(16)));
/* Two vectors' lanes picked by index (GCC: __builtin_shuffle, clang: __builtin_shufflevector). */
#if defined(__clang__)
#define CYPOOL_SHUFFLE8(a, b, M, i0, i1, i2, i3, i4, i5, i6, i7) \
    __builtin_shufflevector(a, b, i0, i1, i2, i3, i4, i5, i6, i7)
#define CYPOOL_SHUFFLE4(a, b, M, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define CYPOOL_SHUFFLE4(a, b, M, i0, i1, i2, i3) __builtin_shuffle(a, b, (M){i0, i1, i2, i3})
#define CYPOOL_SHUFFLE8(a, b, M, i0, i1, i2, i3, i4, i5, i6, i7) \
    __builtin_shuffle(a, b, (M){i0, i1, i2, i3, i4, i5, i6, i7})
#endif
#else
#define CYPOOL_REDUCE_VECTORS 0
#endif

/* The window-by-window channels-last adaptive average (cypool_adaptive_avg_band_cl_f32 on
 * AVX-512 CPUs, x86-64 GCC/clang builds, a multiple of 8 channels). With AVX2 the band kernel
 * kept up: a 4-lane version on Zen 3 took 0.86-1.30x its time on 56->7, 13->6, 112->7 (before
 * the band kernel prefetched the row below). */
#if CYPOOL_REDUCE_VECTORS && defined(__x86_64__)
#define CYPOOL_REDUCE_CELLS512 1
#include <immintrin.h>
CYPOOL_INLINE int cypool_reduce_avx512(void) {
    __builtin_cpu_init();
    return cypool_isa_cap() >= 2 && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw");
}
#else
#define CYPOOL_REDUCE_CELLS512 0
#endif

/* Channels per register block of the channels-last reductions (four vectors of 4 doubles). */
#define CYPOOL_REDUCE_CB 16
/* Windows per accumulator chunk of the channels-first rows (stack arrays). */
#define CYPOOL_REDUCE_ROW 128
/* Cells (of 16 float32 planes: 32 KB, in L1) of the tile of cypool_adaptive_avg_tile16_cf_f32. */
#define CYPOOL_TILE_CELLS 512

/* The finishing step of one window: the sum divided by its cells, times mul (1 for an average,
 * prod(kernel) for Lp), then the root of power p (none for p = 1). */
CYPOOL_INLINE double cypool_reduce_finish(double s, double cells, double mul, double p) {
    double r = s / cells * mul;
    if (p == 1.0) return r;
    if (p == 2.0) return sqrt(r);
    return pow(r, 1.0 / p);
}

/* Whether c (a count of cells) is a power of two: then x / c and x * (1 / c) are the same
 * correctly rounded number, for every x. */
CYPOOL_INLINE int cypool_pow2(double c) {
    const int64_t n = (int64_t)c;
    return c >= 1.0 && c <= 4503599627370496.0 && (double)n == c && (n & (n - 1)) == 0;
}

/* Output t + 1 of SplitMix64 (Steele, Lea & Flood 2014) seeded with key, as a double in [0, 1):
 * the 53 high bits times 2**-53. The uniforms of stochastic pooling, one per window. */
CYPOOL_INLINE double cypool_splitmix_uniform(uint64_t key, uint64_t t) {
    uint64_t z = key + (t + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z = z ^ (z >> 31);
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* The body undefines its three parameters at its end. */

/* float32: defines cypool_strided_row_cf_f32, cypool_adaptive_avg_bins_cf_f32,
 * cypool_adaptive_max_bins_cf_f32, cypool_global_max_cf_f32, cypool_global_max_values_cf_f32,
 * cypool_fractional_row_cf_f32,
 * cypool_fractional_cell_cl_f32, cypool_adaptive_avg_band_cl_f32,
 * cypool_adaptive_max_band_cl_f32, cypool_adaptive_avg_tile16_cf_f32,
 * cypool_adaptive_max_tile16_cf_f32 (GCC: else the fallbacks below), cypool_lp_row_cf_f32,
 * cypool_lp_row_cl_f32, cypool_lp_backward_plane_f32, cypool_blur_row_cf_f32,
 * cypool_blur_row_cl_f32, cypool_blur_backward_gather_cf_f32,
 * cypool_blur_backward_gather_cl_f32, cypool_stochastic_row_f32 */
#define CYPOOL_T float
#define CYPOOL_SUF _f32
#define CYPOOL_IS_FLOAT 1
#include "_reduce_fast_body.h"

/* float64: defines cypool_strided_row_cf_f64, cypool_adaptive_avg_bins_cf_f64,
 * cypool_adaptive_max_bins_cf_f64, cypool_global_max_cf_f64, cypool_global_max_values_cf_f64,
 * cypool_fractional_row_cf_f64,
 * cypool_fractional_cell_cl_f64, cypool_adaptive_avg_band_cl_f64,
 * cypool_adaptive_max_band_cl_f64, cypool_lp_row_cf_f64, cypool_lp_row_cl_f64,
 * cypool_lp_backward_plane_f64, cypool_blur_row_cf_f64, cypool_blur_row_cl_f64,
 * cypool_blur_backward_gather_cf_f64, cypool_blur_backward_gather_cl_f64,
 * cypool_stochastic_row_f64 */
#define CYPOOL_T double
#define CYPOOL_SUF _f64
#define CYPOOL_IS_FLOAT 0
#include "_reduce_fast_body.h"

/* Without GCC's vector shuffles: the 16 planes one after the other (same sums, same results). */
#ifndef CYPOOL_HAVE_TILE16
#define CYPOOL_HAVE_TILE16 0
static void cypool_adaptive_avg_tile16_cf_f32(const float* xp, float* y, ptrdiff_t L,
                                              ptrdiff_t out_plane, ptrdiff_t in_w, ptrdiff_t h0,
                                              ptrdiff_t nh, const ptrdiff_t* wf,
                                              const ptrdiff_t* wc, ptrdiff_t out_w) {
    for (int q = 0; q < 16; q++)
        cypool_adaptive_avg_bins_cf_f32(xp + q * L, y + q * out_plane, 0, in_w, 0, 1, h0, nh, wf,
                                        wc, out_w);
}
static void cypool_adaptive_max_tile16_cf_f32(const float* xp, float* y, int64_t* idx,
                                              ptrdiff_t L, ptrdiff_t out_plane, ptrdiff_t in_w,
                                              ptrdiff_t h0, ptrdiff_t nh, const ptrdiff_t* wf,
                                              const ptrdiff_t* wc, ptrdiff_t out_w) {
    for (int q = 0; q < 16; q++)
        cypool_adaptive_max_bins_cf_f32(xp + q * L, y + q * out_plane,
                                        idx ? idx + q * out_plane : NULL, 0, in_w, 0, 1, h0, nh,
                                        wf, wc, out_w);
}
#endif

#endif

/* Direct 2-d convolution kernels (cypool._conv): forward, input gradient (the same kernel on the
 * output gradient with the flipped, transposed weight, one stride phase at a time) and weight
 * gradient.
 *
 * The input is read in place, in either layout (a channel stride), without padding: a forward tile
 * whose windows stay inside reads it with one fixed offset per tap and no bounds tests; a tile at
 * the border reads a small zero-padded copy of its patch; the weight gradient runs each tap over
 * the pixels inside. A register
 * tile holds PX output pixels x one or two vectors of output channels; for each tap and input
 * channel it loads the weight vectors once and multiplies them by PX broadcast input values (an
 * outer product, as BLAS micro-kernels do). Channel planes in and out at stride 1 take the
 * transposed tile instead (conv_fwd_band_planes): vectors of neighbouring output pixels x a few
 * output channels, broadcast weights, from a zero-padded patch of a band of rows, so that neither
 * side is transposed.
 * The weight gradient swaps the roles: input channels x output channels of one tap, summed over
 * the pixels of a row. Every output element is a sum in one fixed order (taps, then input
 * channels; weight gradient: rows of a chunk, then pixels, chunks added in order), whatever the
 * thread count.
 *
 * The body (_conv_body.h) is included per (data type, ISA): AVX-512 and AVX2 + FMA functions
 * (GCC/Clang target attributes, picked at run time from the CPU) and the compiler's own target.
 * The module is built with -ffp-contract=fast (setup.py): the AVX2/AVX-512 functions fuse
 * multiply-adds, as a BLAS does, so the last bits of a sum depend on the CPU's ISA.
 */
#ifndef CYPOOL_CONV_H
#define CYPOOL_CONV_H

#include <stddef.h>
#include <string.h>

#include "_clones.h"

/* A forward (or input-gradient) pass. Strides in elements. Output pixel (oy, ox) of image n has
 * its window at input row oy*sy - top, column ox*sx - left (the padding: not in the input) of
 * in + n*in_n (rows in_h, columns in_w, channels cs apart: cs 1 channels last, a plane channels
 * first; h rows, cols columns); tap t reads toff[t] further, inside the window's ry rows and rx
 * columns. Tiles whose windows reach outside the input read a patch instead: the rows and columns
 * they need copied into `scratch` (p_size elements per thread), zero outside the input, pixels
 * p_px, rows p_row and channels p_c apart, tap t at ptoff[t]. The weight is [taps][cin][opad]
 * (opad: a multiple of the vector length, zero beyond cout). */
typedef struct {
    const void* in;
    ptrdiff_t in_n, in_h, in_w, cs, h, cols, top, left, sy, sx, ry, rx;
    const ptrdiff_t* toff;
    const ptrdiff_t* ptoff;
    ptrdiff_t p_row, p_px, p_c, p_size;
    void* scratch;
    ptrdiff_t taps, cin;
    const void* w;
    ptrdiff_t opad, cout;
    const void* bias;            /* cout values or NULL */
    void* out;
    ptrdiff_t out_n, out_h, out_w, out_c;
    ptrdiff_t oh, ow;
    ptrdiff_t band;              /* output rows per work item of the bands kernel */
} ConvFwd;

/* A weight gradient, on the input without padding: x (h rows) with strides x_n, x_h, x_w, cs
 * (image, row, pixel, channel; elements); output row oy and pixel ox read input row
 * oy*sy + tap[4t] and column ox*sx + tap[4t+1] at tap t, whose output pixels [tap[4t+2],
 * tap[4t+3]) read inside the rows (a row outside is skipped: the padding adds nothing). g the
 * output gradient, row (n, oy) at g + n*g_n + oy*g_oy, pixels opad apart (channels zero beyond the
 * output channels), gw the sums [chunks][taps][cin][opad] (zeroed by the caller), rows split into
 * `chunks` equal runs. */
typedef struct {
    const void* x;
    ptrdiff_t x_n, x_h, x_w, cs, h, sy, sx;
    const ptrdiff_t* tap;
    ptrdiff_t taps, cin;
    const void* g;
    ptrdiff_t g_n, g_oy, opad;
    void* gw;
    ptrdiff_t oh, ow, rows, chunks;
} ConvW;

typedef void (*conv_fwd_fn)(const ConvFwd* a, ptrdiff_t r, int thread);
typedef void (*conv_w_fn)(const ConvW* a, ptrdiff_t item);

#if defined(__GNUC__)
#define CONV_UNROLL _Pragma("GCC unroll 32")
#else
#define CONV_UNROLL
#define CONV_SCALAR
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define CONV_X86 1
#else
#define CONV_X86 0
#endif

/* The widest tile of any ISA level (a patch holds the windows of this many pixels). */
#define CONV_PX_MAX 12
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define CONV_FITS(px) _Static_assert((px) <= CONV_PX_MAX, "a tile wider than a patch");
#else
#define CONV_FITS(px)
#endif

/* ISA levels: 0 the compiler's target, 1 AVX2 + FMA, 2 AVX-512. CONV_PK_ISAn: the output channels
 * of a bands tile (conv_fwd_band_planes) at level n (x 3 vectors of accumulators: 24 of
 * AVX-512's 32 registers, 12 of AVX2's 16). */
#define CONV_PK_ISA2 8
#define CONV_PK_ISA1 4
#define CONV_PK_ISA0 4
#if CONV_X86
#define CONV_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma"), unused))
#define CONV_PX 12
#define CONV_PK CONV_PK_ISA2
#define CYPOOL_T float
#define CONV_VL 16
#define CYPOOL_SUF _f32_isa2        /* conv_fwd_row_f32_isa2, conv_w_item_f32_isa2 */
#include "_conv_body.h"
#undef CYPOOL_T
#undef CONV_VL
#undef CYPOOL_SUF
#define CYPOOL_T double
#define CONV_VL 8
#define CYPOOL_SUF _f64_isa2        /* conv_fwd_row_f64_isa2, conv_w_item_f64_isa2 */
#include "_conv_body.h"
#undef CYPOOL_T
#undef CONV_VL
#undef CYPOOL_SUF
#undef CONV_TARGET
#undef CONV_PX
#undef CONV_PK

#define CONV_TARGET __attribute__((target("avx2,fma"), unused))
#define CONV_PX 6
#define CONV_PK CONV_PK_ISA1
#define CYPOOL_T float
#define CONV_VL 8
#define CYPOOL_SUF _f32_isa1        /* conv_fwd_row_f32_isa1, conv_w_item_f32_isa1 */
#include "_conv_body.h"
#undef CYPOOL_T
#undef CONV_VL
#undef CYPOOL_SUF
#define CYPOOL_T double
#define CONV_VL 4
#define CYPOOL_SUF _f64_isa1        /* conv_fwd_row_f64_isa1, conv_w_item_f64_isa1 */
#include "_conv_body.h"
#undef CYPOOL_T
#undef CONV_VL
#undef CYPOOL_SUF
#undef CONV_TARGET
#undef CONV_PX
#undef CONV_PK
#endif

#if defined(__GNUC__)
#define CONV_TARGET __attribute__((unused))
#else
#define CONV_TARGET
#endif
#define CONV_PX 6
#define CONV_PK CONV_PK_ISA0
#define CYPOOL_T float
#ifdef CONV_SCALAR
#define CONV_VL 1
#else
#define CONV_VL 4
#endif
#define CYPOOL_SUF _f32_isa0        /* conv_fwd_row_f32_isa0, conv_w_item_f32_isa0 */
#include "_conv_body.h"
#undef CYPOOL_T
#undef CONV_VL
#undef CYPOOL_SUF
#define CYPOOL_T double
#ifdef CONV_SCALAR
#define CONV_VL 1
#else
#define CONV_VL 2
#endif
#define CYPOOL_SUF _f64_isa0        /* conv_fwd_row_f64_isa0, conv_w_item_f64_isa0 */
#include "_conv_body.h"
#undef CYPOOL_T
#undef CONV_VL
#undef CYPOOL_SUF
#undef CONV_TARGET
#undef CONV_PX
#undef CONV_PK

/* The widest ISA level this CPU runs. */
static int conv_best_isa(void) {
#if CONV_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

/* Elements per vector (the multiple output channels are padded to) at an ISA level. */
static ptrdiff_t conv_vector_length(int itemsize, int isa) {
#ifdef CONV_SCALAR
    (void)itemsize; (void)isa;
    return 1;
#else
    const ptrdiff_t bytes = isa == 2 ? 64 : isa == 1 ? 32 : 16;
    return bytes / itemsize;
#endif
}

static conv_fwd_fn conv_fwd_kernel(int itemsize, int isa) {
#if CONV_X86
    if (isa == 2) return itemsize == 4 ? conv_fwd_row_f32_isa2 : conv_fwd_row_f64_isa2;
    if (isa == 1) return itemsize == 4 ? conv_fwd_row_f32_isa1 : conv_fwd_row_f64_isa1;
#endif
    (void)isa;
    return itemsize == 4 ? conv_fwd_row_f32_isa0 : conv_fwd_row_f64_isa0;
}

/* The channels-first bands kernel (conv_fwd_band_planes) at an ISA level, and the output channels
 * of its tiles: the packed weight's opad must be a multiple of them. */
static conv_fwd_fn conv_fwd_bands_kernel(int itemsize, int isa) {
#if CONV_X86
    if (isa == 2)
        return itemsize == 4 ? conv_fwd_band_planes_f32_isa2 : conv_fwd_band_planes_f64_isa2;
    if (isa == 1)
        return itemsize == 4 ? conv_fwd_band_planes_f32_isa1 : conv_fwd_band_planes_f64_isa1;
#endif
    (void)isa;
    return itemsize == 4 ? conv_fwd_band_planes_f32_isa0 : conv_fwd_band_planes_f64_isa0;
}

static ptrdiff_t conv_bands_channels(int isa) {
    return isa == 2 ? CONV_PK_ISA2 : isa == 1 ? CONV_PK_ISA1 : CONV_PK_ISA0;
}

static conv_w_fn conv_w_kernel(int itemsize, int isa) {
#if CONV_X86
    if (isa == 2) return itemsize == 4 ? conv_w_item_f32_isa2 : conv_w_item_f64_isa2;
    if (isa == 1) return itemsize == 4 ? conv_w_item_f32_isa1 : conv_w_item_f64_isa1;
#endif
    (void)isa;
    return itemsize == 4 ? conv_w_item_f32_isa0 : conv_w_item_f64_isa0;
}

#endif

/* The float32 and 16-bit transposes of the channels-first small-plane tiles (_tile.pxd): planes to a
 * cell-major tile and back, in 8x8 blocks moved through vector registers (_transpose8.h) where
 * the scalar loops moved one element per load and store; the leftover cells and planes element
 * by element. Data movement only: the same bits. */
#ifndef CYPOOL_TILE_H
#define CYPOOL_TILE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_clones.h"
#include "_transpose8.h"

/* Planes [p0, p0 + np) of src (each `plane` cells) into tile: cell i of plane j at
 * tile[i * np + j]. Planes [j0, np) of the tile (whose plane 0 is plane p0 of dst) back to dst.
 * For T values through the 8x8 transpose TR. */
#define CYPOOL_TILE_FNS(SUF, T, TR) \
static void CYPOOL_CLONES cypool_tile_in##SUF(const T* src, T* tile, ptrdiff_t plane, \
                                             ptrdiff_t p0, ptrdiff_t np) \
{ \
    const T* s = src + p0 * plane; \
    ptrdiff_t i = 0; \
    if (CYPOOL_TRANSPOSE8 && np % 8 == 0) \
        for (; i + 8 <= plane; i += 8) \
            for (ptrdiff_t j = 0; j < np; j += 8) \
                TR(s + j * plane + i, plane, tile + i * np + j, np); \
    for (; i < plane; i++) \
        for (ptrdiff_t j = 0; j < np; j++) tile[i * np + j] = s[j * plane + i]; \
} \
static void CYPOOL_CLONES cypool_tile_out##SUF(const T* tile, T* dst, ptrdiff_t plane, \
                                              ptrdiff_t p0, ptrdiff_t j0, ptrdiff_t np) \
{ \
    ptrdiff_t jb = j0, i = 0; \
    if (CYPOOL_TRANSPOSE8 && np % 8 == 0) { \
        /* planes before the first whole block of 8 (a last tile owns a tail of its planes) */ \
        jb = (j0 + 7) / 8 * 8; \
        for (ptrdiff_t j = j0; j < jb; j++) \
            for (ptrdiff_t c = 0; c < plane; c++) dst[(p0 + j) * plane + c] = tile[c * np + j]; \
        for (; i + 8 <= plane; i += 8) \
            for (ptrdiff_t j = jb; j < np; j += 8) \
                TR(tile + i * np + j, np, dst + (p0 + j) * plane + i, plane); \
    } \
    for (; i < plane; i++) \
        for (ptrdiff_t j = jb; j < np; j++) dst[(p0 + j) * plane + i] = tile[i * np + j]; \
}
#if CYPOOL_TRANSPOSE8
CYPOOL_TILE_FNS(_f32, float, cypool_transpose8x8)
/* float16 / bfloat16 patterns (element loops: 83% of a 28x28 3x3/s2 float16 call) */
CYPOOL_TILE_FNS(_i16, int16_t, cypool_transpose8x8_16)
#else
CYPOOL_TILE_FNS(_f32, float, (void))
CYPOOL_TILE_FNS(_i16, int16_t, (void))
#endif
#undef CYPOOL_TILE_FNS

#endif

/* The float32 transposes of the channels-first small-plane tiles (_tile.pxd): planes to a
 * cell-major tile and back, in 8x8 blocks moved through vector registers (three rounds of
 * two-vector shuffles) where the scalar loops moved one element per load and store; the
 * leftover cells and planes element by element. Data movement only: the same bits. */
#ifndef CYPOOL_TILE_H
#define CYPOOL_TILE_H

#include <stddef.h>
#include <string.h>

#include "_clones.h"

#if defined(__GNUC__) && !defined(__clang__)
#ifndef CYPOOL_TRANSPOSE8
#define CYPOOL_TRANSPOSE8 1
typedef float cypool_t8f __attribute__((vector_size(32), aligned(4)));
typedef int cypool_t8i __attribute__((vector_size(32)));

/* 8 rows of 8 floats (row p at src + p * ss) to 8 rows of 8 (row j, at dst + j * ds: column j
 * of the source rows). The same function as _reduce_fast_body.h's (one definition per module:
 * the guard). */
CYPOOL_INLINE void cypool_transpose8x8(const float* src, ptrdiff_t ss, float* dst, ptrdiff_t ds) {
    const cypool_t8i ulo = {0, 8, 1, 9, 4, 12, 5, 13}, uhi = {2, 10, 3, 11, 6, 14, 7, 15};
    const cypool_t8i lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const cypool_t8i lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    cypool_t8f v[8], t[8], u[8];
    for (int p = 0; p < 8; p++) memcpy(&v[p], src + p * ss, sizeof v[p]);
    for (int p = 0; p < 8; p += 2) {
        t[p] = __builtin_shuffle(v[p], v[p + 1], ulo);
        t[p + 1] = __builtin_shuffle(v[p], v[p + 1], uhi);
    }
    for (int p = 0; p < 8; p += 4) {
        u[p] = __builtin_shuffle(t[p], t[p + 2], lo2);
        u[p + 1] = __builtin_shuffle(t[p], t[p + 2], hi2);
        u[p + 2] = __builtin_shuffle(t[p + 1], t[p + 3], lo2);
        u[p + 3] = __builtin_shuffle(t[p + 1], t[p + 3], hi2);
    }
    for (int j = 0; j < 4; j++) {
        const cypool_t8f a = __builtin_shuffle(u[j], u[j + 4], lo4);
        const cypool_t8f b = __builtin_shuffle(u[j], u[j + 4], hi4);
        memcpy(dst + j * ds, &a, sizeof a);
        memcpy(dst + (j + 4) * ds, &b, sizeof b);
    }
}
#endif
#define CYPOOL_TILE_BLOCKS 1
#else
#define CYPOOL_TILE_BLOCKS 0
#endif

/* Planes [p0, p0 + np) of src (each `plane` cells) into tile: cell i of plane j at
 * tile[i * np + j]. */
static void CYPOOL_CLONES cypool_tile_in_f32(const float* src, float* tile, ptrdiff_t plane,
                                             ptrdiff_t p0, ptrdiff_t np)
{
    const float* s = src + p0 * plane;
    ptrdiff_t i = 0;
#if CYPOOL_TILE_BLOCKS
    if (np % 8 == 0)
        for (; i + 8 <= plane; i += 8)
            for (ptrdiff_t j = 0; j < np; j += 8)
                cypool_transpose8x8(s + j * plane + i, plane, tile + i * np + j, np);
#endif
    for (; i < plane; i++)
        for (ptrdiff_t j = 0; j < np; j++) tile[i * np + j] = s[j * plane + i];
}

/* Planes [j0, np) of the tile (whose plane 0 is plane p0 of dst) back to dst. */
static void CYPOOL_CLONES cypool_tile_out_f32(const float* tile, float* dst, ptrdiff_t plane,
                                              ptrdiff_t p0, ptrdiff_t j0, ptrdiff_t np)
{
    ptrdiff_t jb = j0, i = 0;
#if CYPOOL_TILE_BLOCKS
    if (np % 8 == 0) {
        /* planes before the first whole block of 8 (a last tile owns a tail of its planes) */
        jb = (j0 + 7) / 8 * 8;
        for (ptrdiff_t j = j0; j < jb; j++)
            for (ptrdiff_t c = 0; c < plane; c++) dst[(p0 + j) * plane + c] = tile[c * np + j];
        for (; i + 8 <= plane; i += 8)
            for (ptrdiff_t j = jb; j < np; j += 8)
                cypool_transpose8x8(tile + i * np + j, np, dst + (p0 + j) * plane + i, plane);
    }
#endif
    for (; i < plane; i++)
        for (ptrdiff_t j = jb; j < np; j++) dst[(p0 + j) * plane + i] = tile[i * np + j];
}

#endif

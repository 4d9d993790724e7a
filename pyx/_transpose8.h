/* One 8x8 transpose (float32, or 16-bit patterns) through vector registers (three rounds of
 * two-vector shuffles), for
 * the channels-first tiles of max and average pooling (_tile.h) and of adaptive pooling
 * (_reduce_fast_body.h). CYPOOL_TRANSPOSE8 is 1 where the compiler has vector extensions with
 * shuffles (GCC, clang), else 0 and callers keep their element loops. Data movement only. */
#ifndef CYPOOL_TRANSPOSE8_H
#define CYPOOL_TRANSPOSE8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_clones.h"

#if defined(__GNUC__)
#define CYPOOL_TRANSPOSE8 1
typedef float cypool_t8f __attribute__((vector_size(32), aligned(4)));
typedef int cypool_t8i __attribute__((vector_size(32)));
typedef int16_t cypool_t8h __attribute__((vector_size(16), aligned(2)));
typedef int16_t cypool_t8s __attribute__((vector_size(16)));
#if defined(__clang__)
#define CYPOOL_T8_SHUFFLE(M, a, b, i0, i1, i2, i3, i4, i5, i6, i7) \
    __builtin_shufflevector(a, b, i0, i1, i2, i3, i4, i5, i6, i7)
#else
#define CYPOOL_T8_SHUFFLE(M, a, b, i0, i1, i2, i3, i4, i5, i6, i7) \
    __builtin_shuffle(a, b, (M){i0, i1, i2, i3, i4, i5, i6, i7})
#endif

/* 8 rows of 8 values (row p at src + p * ss) to 8 rows of 8 (row j, at dst + j * ds: column j
 * of the source rows): T values in 8-lane vectors VT, shuffled by masks of type M. */
#define CYPOOL_TRANSPOSE8_FN(NAME, T, VT, M) \
CYPOOL_INLINE void NAME(const T* src, ptrdiff_t ss, T* dst, ptrdiff_t ds) { \
    VT v[8], t[8], u[8]; \
    for (int p = 0; p < 8; p++) memcpy(&v[p], src + p * ss, sizeof v[p]); \
    for (int p = 0; p < 8; p += 2) { \
        t[p] = CYPOOL_T8_SHUFFLE(M, v[p], v[p + 1], 0, 8, 1, 9, 4, 12, 5, 13); \
        t[p + 1] = CYPOOL_T8_SHUFFLE(M, v[p], v[p + 1], 2, 10, 3, 11, 6, 14, 7, 15); \
    } \
    for (int p = 0; p < 8; p += 4) { \
        u[p] = CYPOOL_T8_SHUFFLE(M, t[p], t[p + 2], 0, 1, 8, 9, 4, 5, 12, 13); \
        u[p + 1] = CYPOOL_T8_SHUFFLE(M, t[p], t[p + 2], 2, 3, 10, 11, 6, 7, 14, 15); \
        u[p + 2] = CYPOOL_T8_SHUFFLE(M, t[p + 1], t[p + 3], 0, 1, 8, 9, 4, 5, 12, 13); \
        u[p + 3] = CYPOOL_T8_SHUFFLE(M, t[p + 1], t[p + 3], 2, 3, 10, 11, 6, 7, 14, 15); \
    } \
    for (int j = 0; j < 4; j++) { \
        const VT a = CYPOOL_T8_SHUFFLE(M, u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11); \
        const VT b = CYPOOL_T8_SHUFFLE(M, u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15); \
        memcpy(dst + j * ds, &a, sizeof a); \
        memcpy(dst + (j + 4) * ds, &b, sizeof b); \
    } \
}
/* float32 (one 256-bit vector a row), and 16-bit patterns (float16 / bfloat16: 128-bit) */
CYPOOL_TRANSPOSE8_FN(cypool_transpose8x8, float, cypool_t8f, cypool_t8i)
CYPOOL_TRANSPOSE8_FN(cypool_transpose8x8_16, int16_t, cypool_t8h, cypool_t8s)
#undef CYPOOL_TRANSPOSE8_FN
#else
#define CYPOOL_TRANSPOSE8 0
#endif

#endif

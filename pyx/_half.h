/* Half-precision storage for the C fast paths: IEEE binary16 (float16) and bfloat16, both carried
 * as 16-bit patterns (uint16_t) and converted to float32 on load and back on store, so the kernels
 * read and write half precision and compute in float32 (as PyTorch's CPU kernels do: "opmath").
 *
 * Stores round to nearest, ties to even, as PyTorch's conversions do; infinities, NaN and
 * subnormals are exact. A NaN keeps its sign and the top bits of its payload and is made quiet.
 *
 * The conversions are branch-free integer and float operations with selects, no library call and
 * no table: gcc vectorises them inside the kernels' loops for any instruction set, baseline SSE2
 * included (F16C's vcvtph2ps would only serve float16 and only in the AVX2 clones).
 */
#ifndef CYPOOL_HALF_H
#define CYPOOL_HALF_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define CYPOOL_HALF_INLINE static inline __attribute__((always_inline, unused))
#else
#define CYPOOL_HALF_INLINE static inline
/* -0 as +0: PyTorch's channels-first average adds its rounded mean to a zeroed output, so a
 * mean that rounds to -0 is stored as +0 there. */
CYPOOL_HALF_INLINE uint16_t cypool_plus_zero(uint16_t h) { return h == 0x8000u ? 0 : h; }

#endif

CYPOOL_HALF_INLINE uint32_t cypool_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
CYPOOL_HALF_INLINE float cypool_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* float16 -> float32, exact. Normal numbers rebias the exponent (+112); infinities and NaN get
 * the all-ones exponent; subnormals and zeros are scaled by a float subtraction: the pattern
 * with exponent 2^-14 added, minus 2^-14, is mantissa * 2^-24 exactly. */
CYPOOL_HALF_INLINE float cypool_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t em = (uint32_t)(h & 0x7fffu) << 13;
    const uint32_t e = em & 0x0f800000u;
    const uint32_t normal = em + 0x38000000u;
    const uint32_t special = em + 0x70000000u;
    const uint32_t small = cypool_f32_bits(cypool_bits_f32(em + 0x38800000u)
                                           - cypool_bits_f32(0x38800000u));
    uint32_t r = e == 0x0f800000u ? special : normal;
    r = e == 0 ? small : r;
    return cypool_bits_f32(r | sign);
}

/* float32 -> float16, round to nearest even. |x| >= 65520 overflows to infinity through the
 * carry of the normal path; below 2^-14 the result is subnormal: adding 0.5 (exponent 126)
 * lets the float adder round the mantissa into place (the current rounding mode: nearest even). */
CYPOOL_HALF_INLINE uint16_t cypool_f32_to_f16(float x) {
    const uint32_t f = cypool_f32_bits(x);
    const uint32_t sign = (f >> 16) & 0x8000u;
    const uint32_t a = f & 0x7fffffffu;
    const uint32_t nan = 0x7e00u | ((a >> 13) & 0x3ffu);
    const uint32_t big = a > 0x7f800000u ? nan : 0x7c00u;
    const uint32_t sub = cypool_f32_bits(cypool_bits_f32(a) + 0.5f) - 0x3f000000u;
    const uint32_t norm = (a + 0xc8000fffu + ((a >> 13) & 1u)) >> 13;
    uint32_t r = a >= 0x47800000u ? big : norm;
    r = a < 0x38800000u ? sub : r;
    return (uint16_t)(r | sign);
}

/* bfloat16 -> float32: the upper half of the float's bits. */
CYPOOL_HALF_INLINE float cypool_bf16_to_f32(uint16_t h) {
    return cypool_bits_f32((uint32_t)h << 16);
}

/* float32 -> bfloat16, round to nearest even (a carry into the exponent rounds up to the next
 * binade or to infinity, as it should); NaN keeps its sign and payload top, made quiet. */
CYPOOL_HALF_INLINE uint16_t cypool_f32_to_bf16(float x) {
    const uint32_t f = cypool_f32_bits(x);
    const uint32_t rounded = (f + 0x7fffu + ((f >> 16) & 1u)) >> 16;
    const uint32_t nan = (f >> 16) | 0x40u;
    return (uint16_t)((f & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

/* -0 as +0: PyTorch's channels-first average adds its rounded mean to a zeroed output, so a
 * mean that rounds to -0 is stored as +0 there. */
CYPOOL_HALF_INLINE uint16_t cypool_plus_zero(uint16_t h) { return h == 0x8000u ? 0 : h; }

#endif

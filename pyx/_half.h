/* Half-precision storage for the C fast paths: IEEE binary16 (float16) and bfloat16, both carried
 * as 16-bit patterns (uint16_t) and converted to float32 on load and back on store, so the kernels
 * read and write half precision and compute in float32 (as PyTorch's CPU kernels do: "opmath").
 *
 * Stores round to nearest, ties to even, as PyTorch's conversions do; infinities, NaN and
 * subnormals are exact. A NaN keeps its sign and the top bits of its payload and is made quiet.
 *
 * The scalar conversions are branch-free integer and float operations with selects, no library
 * call and no table: gcc vectorises them for any instruction set, baseline SSE2 included. The
 * kernels convert whole rows with the row functions at the end of this file, which use F16C's
 * instructions for float16 where the CPU has them (the same bits).
 */
#ifndef CYPOOL_HALF_H
#define CYPOOL_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define CYPOOL_HALF_INLINE static inline __attribute__((always_inline, unused))
#else
#define CYPOOL_HALF_INLINE static inline
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

/* Whole rows: load (16-bit -> float), add (float += 16-bit), store (float -> 16-bit, rounded)
 * and round (float -> 16-bit -> float, in place). The kernels convert a row or a tile with these
 * and run float32 loops on the result, so the loops vectorise as float32's do.
 *
 * bfloat16's conversions are shifts and an add: the plain loops vectorise in every clone.
 * float16's take about 15 vector operations each way; on x86-64 with gcc or clang, when the CPU
 * has AVX2 and F16C, they go to vcvtph2ps / vcvtps2ph instead (8 values an instruction; stores
 * round to nearest even, as the code above: the same bits, a signalling NaN loaded quiet). gcc 12 does not
 * vectorise conversions of its _Float16 type, and a cloned kernel cannot hold F16C intrinsics in
 * its baseline clone, hence out-of-line functions chosen at run time: AVX-512's 16-wide forms
 * where the CPU has AVX-512F, else AVX2's 8-wide ones. CYPOOL_HALF_CONVERSIONS in the environment
 * (read at a module's first half-precision call) can ask for "avx512" (without AVX512-FP16's
 * arithmetic), "avx2" or "portable" (the path of a CPU without F16C) instead of the best the CPU
 * has, for tests. Other compilers (MSVC) and architectures build the portable loops only. */
#if defined(__x86_64__) && defined(__GNUC__)
#define CYPOOL_F16C 1
#include <immintrin.h>

/* -1 until the first half-precision call of this module, then 0 (portable loops), 1 (AVX2 and
 * F16C), 2 (AVX-512F) or 3 (AVX-512F, AVX512-FP16 not used) */
static int cypool_f16c_state = -1;

static int __attribute__((unused)) cypool_f16c_asked(void) {
    int s = __atomic_load_n(&cypool_f16c_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char* ask = getenv("CYPOOL_HALF_CONVERSIONS");
        __builtin_cpu_init();
        s = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
        if (s && __builtin_cpu_supports("avx512f")) s = 2;
        if (ask && strcmp(ask, "portable") == 0) s = 0;
        if (ask && strcmp(ask, "avx2") == 0 && s) s = 1;
        /* AVX-512's conversions without AVX512-FP16's arithmetic (3): the kernels of a CPU
         * such as Ice Lake or Zen 4, for tests on one that has it */
        if (ask && strcmp(ask, "avx512") == 0 && s == 2) s = 3;
        __atomic_store_n(&cypool_f16c_state, s, __ATOMIC_RELAXED);
    }
    return s;
}

/* 0 (portable loops), 1 (AVX2 and F16C) or 2 (AVX-512F) */
static int __attribute__((unused)) cypool_f16c(void) {
    const int s = cypool_f16c_asked();
    return s == 3 ? 2 : s;
}

/* Whether the CPU is AMD's, whose 16-lane gathers and scatters cost more than Intel's: there the
 * channels-first 16-bit max backward takes the float buffer (max_bwd_plane_f16c) rather than the
 * ring kernel built on them (max_bwd_plane_avx512). Zen 4, (16,64,112,112) 3x3/s2/p1, 2 threads,
 * over torch's time: float16 1.65-1.68 with the ring, 1.18-1.27 with the buffer; bfloat16 1.21
 * and 1.04. */
static int __attribute__((unused)) cypool_slow_scatters(void) {
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
}

#if defined(__clang__) ? __clang_major__ >= 14 : __GNUC__ >= 12
/* Compilers with AVX512-FP16 intrinsics: kernels may compare and add float16 as float16 (32
 * lanes a vector) where cypool_avx512fp16() says the CPU can. */
#define CYPOOL_FP16 1
#include <cpuid.h>
/* -1 until asked, then whether the CPU has AVX512-FP16 and AVX512BW (CPUID leaf 7: EDX bit 23,
 * EBX bit 30) */
static int cypool_fp16_cpu = -1;
/* 1 where AVX512-FP16 kernels may run: the CPU has it and the conversions are the AVX-512 ones
 * (CYPOOL_HALF_CONVERSIONS=avx512, avx2 or portable turns them off) */
static int __attribute__((unused)) cypool_avx512fp16(void) {
    int s = __atomic_load_n(&cypool_fp16_cpu, __ATOMIC_RELAXED);
    if (s < 0) {
        unsigned a, b, c, d;
        s = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 23)) && (b & (1u << 30));
        __atomic_store_n(&cypool_fp16_cpu, s, __ATOMIC_RELAXED);
    }
    return s && cypool_f16c_asked() == 2;
}
/* 1 where float16 adds rounded to float16 may be AVX512-FP16's vaddph (32 lanes, one
 * instruction, correctly rounded in the MXCSR's rounding mode) in place of a float32 add
 * rounded to float16: the CPU has it and the MXCSR rounds to nearest even. The same value (a
 * float32 add of two float16 values, 24 >= 2 * 11 + 2 bits, rounded again to float16: double
 * rounding is harmless), and a NaN keeps its top payload bits, made quiet; vaddph does not
 * flush subnormals under flush-to-zero / denormals-are-zero (tested), nor does the float32 path
 * meet any (float16 values and their sums are normal in float32). */
static int __attribute__((unused)) cypool_fp16_adds(void) {
    return cypool_avx512fp16() && (_mm_getcsr() & 0x6000u) == 0;
}
/* -1 until asked, then whether the CPU has AVX512-BF16 and AVX512VL (CPUID leaf 7, subleaf 1:
 * EAX bit 5; leaf 7: EBX bit 31) */
static int cypool_bf16_cpu = -1;
/* 1 where a float may be rounded to bfloat16 by AVX512-BF16's vcvtneps2bf16 (in assembly: the
 * kernels' targets do not name it): nearest even, a NaN made quiet with its sign and top payload
 * bits, as cypool_f32_to_bf16's integer steps, but a subnormal float made zero, so only for
 * values that cannot be subnormal (max_bwd_plane_f16c). Off under CYPOOL_HALF_CONVERSIONS=avx2
 * or portable. */
static int __attribute__((unused)) cypool_bf16_rounds(void) {
    int s = __atomic_load_n(&cypool_bf16_cpu, __ATOMIC_RELAXED);
    if (s < 0) {
        unsigned a, b, c, d, a1, b1, c1, d1;
        s = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 31))
            && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && (a1 & (1u << 5));
        __atomic_store_n(&cypool_bf16_cpu, s, __ATOMIC_RELAXED);
    }
    return s && cypool_f16c() == 2;
}
#else
static int __attribute__((unused)) cypool_fp16_adds(void) { return 0; }
static int __attribute__((unused)) cypool_bf16_rounds(void) { return 0; }
#endif

#define CYPOOL_F16C_FN static __attribute__((target("avx2,f16c"), noinline, unused)) void
#define CYPOOL_F16C_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* The last n % 8 values go through an 8-wide temporary: every value takes the same instruction. */
CYPOOL_F16C_FN cypool_load_f16_f16c(const uint16_t* restrict s, float* restrict d, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(s + i))));
    if (i < n) {
        uint16_t t[8] = {0};
        float f[8];
        memcpy(t, s + i, (size_t)(n - i) * sizeof(uint16_t));
        _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)t)));
        memcpy(d + i, f, (size_t)(n - i) * sizeof(float));
    }
}
CYPOOL_F16C_FN cypool_add_f16_f16c(const uint16_t* restrict s, float* restrict d, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_cvtph_ps(
                                    _mm_loadu_si128((const __m128i*)(s + i)))));
    if (i < n) {
        float f[8];
        cypool_load_f16_f16c(s + i, f, n - i);
        for (ptrdiff_t k = 0; k < n - i; k++) d[i + k] += f[k];
    }
}
CYPOOL_F16C_FN cypool_store_f16_f16c(const float* restrict s, uint16_t* restrict d, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i*)(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(s + i), CYPOOL_F16C_RNE));
    if (i < n) {
        float f[8] = {0};
        uint16_t t[8];
        memcpy(f, s + i, (size_t)(n - i) * sizeof(float));
        _mm_storeu_si128((__m128i*)t, _mm256_cvtps_ph(_mm256_loadu_ps(f), CYPOOL_F16C_RNE));
        memcpy(d + i, t, (size_t)(n - i) * sizeof(uint16_t));
    }
}
CYPOOL_F16C_FN cypool_round_f16_f16c(float* d, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_cvtph_ps(
                                    _mm256_cvtps_ph(_mm256_loadu_ps(d + i), CYPOOL_F16C_RNE)));
    if (i < n) {
        uint16_t t[8];
        cypool_store_f16_f16c(d + i, t, n - i);
        cypool_load_f16_f16c(t, d + i, n - i);
    }
}

/* The same, 16 values an instruction; the last n % 16 through the functions above. */
#define CYPOOL_AVX512_FN static __attribute__((target("avx512f,avx2,f16c"), noinline, unused)) void
CYPOOL_AVX512_FN cypool_load_f16_avx512(const uint16_t* restrict s, float* restrict d,
                                        ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(s + i))));
    if (i < n) cypool_load_f16_f16c(s + i, d + i, n - i);
}
CYPOOL_AVX512_FN cypool_add_f16_avx512(const uint16_t* restrict s, float* restrict d,
                                       ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, _mm512_add_ps(_mm512_loadu_ps(d + i), _mm512_cvtph_ps(
                                    _mm256_loadu_si256((const __m256i*)(s + i)))));
    if (i < n) cypool_add_f16_f16c(s + i, d + i, n - i);
}
CYPOOL_AVX512_FN cypool_store_f16_avx512(const float* restrict s, uint16_t* restrict d,
                                         ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i*)(d + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(s + i), CYPOOL_F16C_RNE));
    if (i < n) cypool_store_f16_f16c(s + i, d + i, n - i);
}
CYPOOL_AVX512_FN cypool_round_f16_avx512(float* d, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, _mm512_cvtph_ps(
                                    _mm512_cvtps_ph(_mm512_loadu_ps(d + i), CYPOOL_F16C_RNE)));
    if (i < n) cypool_round_f16_f16c(d + i, n - i);
}
/* The interior of a channels-last 2x2/s2 average, float16, one output row: output cell j of C
 * channels from input rows r0 and r1, ((a + b) + (a' + b')) in float (the separable order of the
 * row-buffer path), plus 0, times s[j] (recip: s holds reciprocals) or divided by it, rounded:
 * no float row buffer between the input and the output. */
CYPOOL_F16C_FN cypool_avg22_cl_f16_f16c(const uint16_t* restrict r0, const uint16_t* restrict r1,
                                        uint16_t* restrict y, ptrdiff_t OW, ptrdiff_t C,
                                        const float* restrict s, int recip) {
    for (ptrdiff_t j = 0; j < OW; j++) {
        const uint16_t* a = r0 + 2 * j * C;
        const uint16_t* b = r1 + 2 * j * C;
        uint16_t* yo = y + j * C;
        const __m256 sv = _mm256_set1_ps(s[j]), zero = _mm256_setzero_ps();
        ptrdiff_t c = 0;
        for (; c + 8 <= C; c += 8) {
#define CYPOOL_LD8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(p)))
            const __m256 sum = _mm256_add_ps(
                zero, _mm256_add_ps(_mm256_add_ps(CYPOOL_LD8(a + c), CYPOOL_LD8(b + c)),
                                    _mm256_add_ps(CYPOOL_LD8(a + C + c), CYPOOL_LD8(b + C + c))));
#undef CYPOOL_LD8
            const __m256 m = recip ? _mm256_mul_ps(sum, sv) : _mm256_div_ps(sum, sv);
            _mm_storeu_si128((__m128i*)(yo + c), _mm256_cvtps_ph(m, CYPOOL_F16C_RNE));
        }
        for (; c < C; c++) {
            const float sum = 0.0f + ((cypool_f16_to_f32(a[c]) + cypool_f16_to_f32(b[c])) +
                                      (cypool_f16_to_f32(a[C + c]) + cypool_f16_to_f32(b[C + c])));
            yo[c] = cypool_f32_to_f16(recip ? sum * s[j] : sum / s[j]);
        }
    }
}

/* Eight values in registers, for kernels built for AVX2 and F16C (the average's rows, the max
 * backward's channels-last scatter): eight 16-bit patterns as floats, and eight floats rounded to
 * the 16-bit type as cypool_f32_to_f16 / cypool_f32_to_bf16 round (nearest even; a bfloat16 NaN
 * made quiet, its sign and top payload kept), in the low 128 bits */
#define CYPOOL_HALF256 static inline __attribute__((target("avx2,f16c"), always_inline, unused))
CYPOOL_HALF256 __m256 cypool_widen8_f16(__m128i h) { return _mm256_cvtph_ps(h); }
CYPOOL_HALF256 __m256 cypool_widen8_bf16(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
/* bfloat16's rounding of eight floats, as floats' bits (the low 16 bits zero) */
CYPOOL_HALF256 __m256i cypool_bf16_bits8(__m256 m) {
    const __m256i f = _mm256_castps_si256(m), top = _mm256_set1_epi32((int)0xffff0000u);
    const __m256i r = _mm256_add_epi32(f, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
        _mm256_and_si256(_mm256_srli_epi32(f, 16), _mm256_set1_epi32(1))));
    const __m256i n = _mm256_or_si256(f, _mm256_set1_epi32(0x400000));
    return _mm256_and_si256(
        _mm256_blendv_epi8(r, n, _mm256_castps_si256(_mm256_cmp_ps(m, m, _CMP_UNORD_Q))), top);
}
CYPOOL_HALF256 __m128i cypool_narrow8_f16(__m256 m) {
    return _mm256_cvtps_ph(m, CYPOOL_F16C_RNE);
}
CYPOOL_HALF256 __m128i cypool_narrow8_bf16(__m256 m) {
    const __m256i b = _mm256_srli_epi32(cypool_bf16_bits8(m), 16);
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(b, b), 0x08));
}

#define CYPOOL_F16C_OR(wide, narrow) \
    switch (cypool_f16c()) { case 2: wide; return; case 1: narrow; return; default: break; }
#else
#define CYPOOL_F16C_OR(wide, narrow)
#endif

CYPOOL_HALF_INLINE void cypool_load_f16(const uint16_t* restrict s, float* restrict d, ptrdiff_t n) {
    CYPOOL_F16C_OR(cypool_load_f16_avx512(s, d, n), cypool_load_f16_f16c(s, d, n))
    for (ptrdiff_t i = 0; i < n; i++) d[i] = cypool_f16_to_f32(s[i]);
}
CYPOOL_HALF_INLINE void cypool_add_f16(const uint16_t* restrict s, float* restrict d, ptrdiff_t n) {
    CYPOOL_F16C_OR(cypool_add_f16_avx512(s, d, n), cypool_add_f16_f16c(s, d, n))
    for (ptrdiff_t i = 0; i < n; i++) d[i] += cypool_f16_to_f32(s[i]);
}
CYPOOL_HALF_INLINE void cypool_store_f16(const float* restrict s, uint16_t* restrict d, ptrdiff_t n) {
    CYPOOL_F16C_OR(cypool_store_f16_avx512(s, d, n), cypool_store_f16_f16c(s, d, n))
    for (ptrdiff_t i = 0; i < n; i++) d[i] = cypool_f32_to_f16(s[i]);
}
CYPOOL_HALF_INLINE void cypool_round_f16(float* d, ptrdiff_t n) {
    CYPOOL_F16C_OR(cypool_round_f16_avx512(d, n), cypool_round_f16_f16c(d, n))
    for (ptrdiff_t i = 0; i < n; i++) d[i] = cypool_f16_to_f32(cypool_f32_to_f16(d[i]));
}

CYPOOL_HALF_INLINE void cypool_load_bf16(const uint16_t* restrict s, float* restrict d, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) d[i] = cypool_bf16_to_f32(s[i]);
}
CYPOOL_HALF_INLINE void cypool_add_bf16(const uint16_t* restrict s, float* restrict d, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) d[i] += cypool_bf16_to_f32(s[i]);
}
CYPOOL_HALF_INLINE void cypool_store_bf16(const float* restrict s, uint16_t* restrict d, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) d[i] = cypool_f32_to_bf16(s[i]);
}
CYPOOL_HALF_INLINE void cypool_round_bf16(float* d, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) d[i] = cypool_bf16_to_f32(cypool_f32_to_bf16(d[i]));
}

/* Divisors that are all powers of two become their reciprocals, and 1 is returned: x * 2^-k is
 * x / 2^k exactly (one real number, rounded once, subnormals included), and a multiplication is
 * many times cheaper than a division. Otherwise the divisors stay, and 0 is returned. */
CYPOOL_HALF_INLINE int cypool_pow2_reciprocals(float* d, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const uint32_t u = cypool_f32_bits(d[i]);
        /* positive, normal, mantissa zero, and the reciprocal normal too */
        if ((u & 0x807fffffu) != 0 || u < 0x00800000u || u >= 0x7f000000u) return 0;
    }
    for (ptrdiff_t i = 0; i < n; i++) d[i] = 1.0f / d[i];
    return 1;
}

/* -0 as +0 over a row (the row form of cypool_plus_zero) */
CYPOOL_HALF_INLINE void cypool_plus_zero_row(uint16_t* d, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) d[i] = d[i] == 0x8000u ? 0 : d[i];
}

#endif

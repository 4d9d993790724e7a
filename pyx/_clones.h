/* The conventions shared by the C fast-path headers (_max_fast.h, _avg_fast.h).
 *
 * One template style: a family's loops are written once in a body file (_max_fast_body.h,
 * _avg_fast_body.h, _avg_global_body.h) that its header includes once per dtype, with CYPOOL_T
 * (data type), CYPOOL_SUF (name suffix) and family parameters defined. CYPOOL_FN(name) appends
 * the suffix: the body's `CYPOOL_FN(cypool_max_fwd_cf)` is `cypool_max_fwd_cf_f32` for float32.
 * Suffixes name the data type (_f32, _f64; _f16, _bf16 for float16 and bfloat16, stored as 16-bit
 * patterns and computed in float: _half.h) and, where a float32 kernel accumulates wider, the
 * accumulator (_f32_acc64). Each header lists, next to each #include of a body, the functions
 * that instance defines, so every name called from Cython can be found with grep.
 *
 * CYPOOL_CLONES builds a hot function for the baseline ISA, x86-64-v3 (AVX2) and x86-64-v4
 * (AVX-512), and the dynamic loader picks one for the running CPU (an ifunc), so a portable build
 * still runs the widest vector loops the CPU has. setup.py defines CYPOOL_TARGET_CLONES when a
 * program with such a function builds and runs (GCC >= 11 or LLVM clang, on a C library with
 * ifuncs: glibc, not musl); otherwise the functions are built once, for the target the compiler
 * was given. `unused` (GCC only: clang refuses it beside target_clones): a module includes every
 * function of a header but calls only some of them.
 * Helpers called from a cloned function must be inlined into it (CYPOOL_INLINE), or they run the
 * baseline ISA. Results do not depend on the clone: setup.py builds with -ffp-contract=off.
 */
#ifndef CYPOOL_CLONES_H
#define CYPOOL_CLONES_H

#if defined(CYPOOL_TARGET_CLONES) && defined(__x86_64__) && defined(__clang__)
#define CYPOOL_CLONES \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#elif defined(CYPOOL_TARGET_CLONES) && defined(__x86_64__) && defined(__GNUC__)
#define CYPOOL_CLONES \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4"), unused))
#elif defined(__GNUC__)
#define CYPOOL_CLONES __attribute__((unused))
#else
#define CYPOOL_CLONES
#endif

#if defined(__GNUC__)
#define CYPOOL_INLINE static inline __attribute__((always_inline))
#else
#define CYPOOL_INLINE static inline
#endif

#define CYPOOL_CAT2(a, b) a##b
#define CYPOOL_CAT(a, b) CYPOOL_CAT2(a, b)
#define CYPOOL_FN(name) CYPOOL_CAT(name, CYPOOL_SUF)

#endif

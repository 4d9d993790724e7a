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
 * GCC's generic vector types (vector_size) in a cloned function: 32 bytes at most. A 64-byte
 * vector has no register in the baseline and AVX2 clones and lives on the stack there, each
 * operation loads and stores its halves: the global average, blur and Lp pooling ran at 1.7-9x
 * their time on an AVX2 CPU (Zen 3) that way. 512-bit vectors belong in functions built for
 * AVX-512 (target attribute) only.
 *
 * Kernels picked at run time by hand (functions with a target attribute, not clones) ask
 * cypool_isa_cap() how wide they may go: 2 (AVX-512), 1 (AVX2) or 0. The environment variable
 * CYPOOL_ISA=avx2 or =baseline lowers it for the process, so the tests run the AVX2 kernels on
 * an AVX-512 CPU (results never depend on it).
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

#if defined(__GNUC__)
#include <stdlib.h>
#include <string.h>
static int cypool_isa_cap_state = -1;   /* per module; every thread computes the same value */
static int __attribute__((unused)) cypool_isa_cap(void) {
    int c = __atomic_load_n(&cypool_isa_cap_state, __ATOMIC_RELAXED);
    if (c < 0) {
        const char* ask = getenv("CYPOOL_ISA");
        c = ask && strcmp(ask, "avx2") == 0 ? 1 : ask && strcmp(ask, "baseline") == 0 ? 0 : 2;
        __atomic_store_n(&cypool_isa_cap_state, c, __ATOMIC_RELAXED);
    }
    return c;
}
#endif

#define CYPOOL_CAT2(a, b) a##b
#define CYPOOL_CAT(a, b) CYPOOL_CAT2(a, b)
#define CYPOOL_FN(name) CYPOOL_CAT(name, CYPOOL_SUF)

#endif

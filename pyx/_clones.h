/* The one function-multiversioning switch of the fast-path headers (_max_fast.h, _avg_fast.h).
 *
 * CYPOOL_CLONES builds a hot function for the baseline ISA, x86-64-v3 (AVX2) and x86-64-v4
 * (AVX-512), and the dynamic loader picks one for the running CPU (an ifunc), so a portable build
 * still runs the widest vector loops the CPU has. Needs GCC >= 11 (the "arch=x86-64-vN" names)
 * on x86-64 Linux; elsewhere the functions are built once, for the target the compiler was given.
 * `unused`: a module includes every function of a header but calls only some of them.
 * Helpers called from a cloned function must be inlined into it (always_inline), or they run the
 * baseline ISA. Results do not depend on the clone: setup.py builds with -ffp-contract=off.
 */
#ifndef CYPOOL_CLONES_H
#define CYPOOL_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) \
    && (__GNUC__ >= 11)
#define CYPOOL_CLONES \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4"), unused))
#elif defined(__GNUC__)
#define CYPOOL_CLONES __attribute__((unused))
#else
#define CYPOOL_CLONES
#endif

#endif

# cython: language_level=3
"""float16 / bfloat16 <-> float32 over whole arrays, for the operators whose kernels compute in
float32 (every one but max and average pooling, which read half precision natively): their input
is widened before the kernel and their result rounded after it.

NumPy's float16 casts run one thread and no F16C (about 0.8 ns a value here, five times a
float32 copy), so in those operators the casts took most of the time: a float16 global average
of (16, 64, 112, 112) took 21 times float32's. These loops are _half.h's row conversions (F16C /
AVX-512 for float16 where the CPU has them, plain vectorised integer steps for bfloat16) run in
parallel blocks. Values are NumPy's: widening is exact, narrowing rounds to nearest even with
overflow to infinity and exact subnormals; a NaN stays a NaN of the same sign (made quiet, the top
bits of its payload kept: _half.h).
"""
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport uint16_t

import numpy as np

cnp.import_array()

cdef extern from *:
    """
    #include "_clones.h"
    #include "_half.h"
    /* The bfloat16 loops and float16's portable fallback vectorise in each clone. */
    CYPOOL_CLONES static void cypool_widen_f16(const uint16_t* s, float* d, ptrdiff_t n) {
        cypool_load_f16(s, d, n);
    }
    CYPOOL_CLONES static void cypool_narrow_f16(const float* s, uint16_t* d, ptrdiff_t n) {
        cypool_store_f16(s, d, n);
    }
    CYPOOL_CLONES static void cypool_widen_bf16(const uint16_t* s, float* d, ptrdiff_t n) {
        cypool_load_bf16(s, d, n);
    }
    CYPOOL_CLONES static void cypool_narrow_bf16(const float* s, uint16_t* d, ptrdiff_t n) {
        cypool_store_bf16(s, d, n);
    }
    """
    void cypool_widen_f16(const uint16_t* s, float* d, Py_ssize_t n) noexcept nogil
    void cypool_narrow_f16(const float* s, uint16_t* d, Py_ssize_t n) noexcept nogil
    void cypool_widen_bf16(const uint16_t* s, float* d, Py_ssize_t n) noexcept nogil
    void cypool_narrow_bf16(const float* s, uint16_t* d, Py_ssize_t n) noexcept nogil

# Values per work item: 128 KiB of float32, a few per thread on a big array, in L2 while converted
cdef Py_ssize_t BLOCK = 32768


cdef void _rows(const void* s, void* d, Py_ssize_t i0, Py_ssize_t m, bint widen,
                bint bf16) noexcept nogil:
    if widen and bf16:
        cypool_widen_bf16(<const uint16_t*>s + i0, <float*>d + i0, m)
    elif widen:
        cypool_widen_f16(<const uint16_t*>s + i0, <float*>d + i0, m)
    elif bf16:
        cypool_narrow_bf16(<const float*>s + i0, <uint16_t*>d + i0, m)
    else:
        cypool_narrow_f16(<const float*>s + i0, <uint16_t*>d + i0, m)


def convert(src, dst, bint widen, bint bf16, int n_threads):
    """dst[i] = src[i] for C-contiguous 1-d ndarrays of one length: float16 (bf16 False) or
    bfloat16 bit patterns widened to float32 (widen), or float32 rounded to them."""
    if not (isinstance(src, np.ndarray) and isinstance(dst, np.ndarray) and src.ndim == 1
            and dst.ndim == 1 and src.shape == dst.shape and src.flags.c_contiguous
            and dst.flags.c_contiguous and src.itemsize == (2 if widen else 4)
            and dst.itemsize == (4 if widen else 2)):
        raise ValueError(f"convert: src and dst must be 1-d, C-contiguous ndarrays of one length "
                         f"and of the conversion's item sizes, got {src!r:.60} and {dst!r:.60}")
    cdef Py_ssize_t n = src.shape[0], nb = (n + BLOCK - 1) // BLOCK, b, i0
    cdef const void* s = cnp.PyArray_DATA(<cnp.ndarray>src)
    cdef void* d = cnp.PyArray_DATA(<cnp.ndarray>dst)
    for b in prange(nb, nogil=True, schedule="static", num_threads=max(1, n_threads)):
        i0 = b * BLOCK
        _rows(s, d, i0, n - i0 if n - i0 < BLOCK else BLOCK, widen, bf16)

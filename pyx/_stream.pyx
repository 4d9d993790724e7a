# A streaming-bandwidth probe: the roofline that pooling kernels are measured against.
#
# `stream(src, dst, n_threads)` reads every byte of `src` once and writes every byte of `dst` once,
# in one OpenMP parallel region, with loops the compiler vectorises: the best a memory-bound
# kernel that reads an input of src.nbytes and writes an output of dst.nbytes can do on this
# machine. The work is a plain vertical reduce (dst smaller than src: each dst block is the
# wrapping sum of the equally sized rows of its src block) or a broadcast copy (dst larger: each dst
# block repeats its src block). It is not a pooling: no window, no comparison, no strided access.
# Bytes are summed as uint32 words (uint8 when a size is not a multiple of 4): integer adds have no
# NaN, denormal or rounding cost, whatever dtype the buffers hold.
from cython.parallel cimport prange
from libc.stdint cimport uint8_t, uint32_t

import numpy as np

ctypedef fused word_t:
    uint8_t
    uint32_t

# Elements of the larger buffer per work item: 64 KiB of uint32 words keeps a dst block in L1/L2
# while its src rows stream from memory.
cdef Py_ssize_t BLOCK = 16384


cdef inline Py_ssize_t _bound(Py_ssize_t i, Py_ssize_t n, Py_ssize_t nb) noexcept nogil:
    # Start of block i when n elements are split into nb near-equal blocks (no i * n overflow).
    cdef Py_ssize_t q = n // nb, r = n % nb
    return i * q + (i if i < r else r)


cdef void _block(const word_t* s, Py_ssize_t ls, word_t* d, Py_ssize_t ld) noexcept nogil:
    cdef Py_ssize_t j, t, rows, rest
    if ld == 0:
        return
    if ls == 0:
        for j in range(ld):
            d[j] = 0
        return
    if ls >= ld:
        rows = ls // ld
        for j in range(ld):
            d[j] = s[j]
        for t in range(1, rows):
            s += ld
            for j in range(ld):
                d[j] = d[j] + s[j]
        s += ld
        rest = ls - rows * ld
        for j in range(rest):
            d[j] = d[j] + s[j]
    else:
        rows = ld // ls
        for t in range(rows):
            for j in range(ls):
                d[j] = s[j]
            d += ls
        rest = ld - rows * ls
        for j in range(rest):
            d[j] = s[j]


cdef void _stream(const word_t* s, Py_ssize_t ns, word_t* d, Py_ssize_t nd,
                  int n_threads) noexcept nogil:
    cdef Py_ssize_t big = ns if ns > nd else nd
    cdef Py_ssize_t nb = (big + BLOCK - 1) // BLOCK
    cdef Py_ssize_t i, s0, d0
    if nb < 1:
        nb = 1
    for i in prange(nb, nogil=True, schedule="static", num_threads=n_threads):
        s0 = _bound(i, ns, nb)
        d0 = _bound(i, nd, nb)
        _block(s + s0, _bound(i + 1, ns, nb) - s0, d + d0, _bound(i + 1, nd, nb) - d0)


def _bytes(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    return a.reshape(-1).view(np.uint8)


def stream(src, dst, int n_threads=1):
    """Read all of `src` and write all of `dst` (C-contiguous arrays of any dtype and sizes) with
    n_threads OpenMP threads; `dst` receives a checksum-like function of `src`'s bytes.

    Returns the bytes moved, src.nbytes + dst.nbytes."""
    cdef uint8_t[::1] s8 = _bytes(src, "src")
    cdef uint8_t[::1] d8 = _bytes(dst, "dst")
    cdef uint32_t[::1] s32
    cdef uint32_t[::1] d32
    cdef Py_ssize_t ns = s8.shape[0], nd = d8.shape[0]
    if n_threads < 1:
        raise ValueError(f"n_threads must be a positive int, got {n_threads}")
    if nd == 0:
        return ns
    if ns % 4 == 0 and nd % 4 == 0:
        s32 = np.asarray(s8).view(np.uint32) if ns else np.zeros(1, np.uint32)
        d32 = np.asarray(d8).view(np.uint32)
        with nogil:
            _stream(&s32[0], ns // 4, &d32[0], nd // 4, n_threads)
    else:
        if ns == 0:
            s8 = np.zeros(1, np.uint8)
        with nogil:
            _stream(&s8[0], ns, &d8[0], nd, n_threads)
    return ns + nd


def stream_copy(src, dst, n_threads=None):
    """A streaming copy-sized probe for the asv roofline suite: stream(src, dst) with cypool's
    thread count for the calling thread when n_threads is None."""
    if n_threads is None:
        from cypool._threads import get_num_threads
        n_threads = get_num_threads()
    return stream(src, dst, n_threads)

# cython: language_level=3
"""Recycled memory for big results.

A call that returns a big new array pays for the kernel and for the first touch of the result's
pages. A multi-megabyte allocation is fresh anonymous memory on Linux (glibc maps it, NumPy advises
it for transparent huge pages), so the kernel's first write faults in every page, and with huge
pages may wait for the OS to compact memory: the faults cost more than the pooling itself, and a
different amount in every process. Results of BIG_BYTES or more therefore live in blocks whose
pages stay mapped: when the last array using a block is freed, the block goes back to a small cache,
and the next result of the same size reuses it (pages already faulted in, nothing to zero). The
cache holds at most `limit` bytes; a block that does not fit is freed at once, and the oldest
blocks make room for a newer one. All bookkeeping runs under the GIL (allocation is called from
Python, a block's __dealloc__ holds the GIL), so no lock is needed.

Each new block's data starts a few pages plus a cache line past its 2 MiB boundary, a different
offset (colour) for each of 16 consecutive blocks. Blocks that all start on the boundary put
element i of every result in the same cache sets: a kernel that reads one cypool result while
writing another in step (the channels-last max backward reading the indices of a forward) then
evicts its own lines (measured: 256 MiB channels-last 2x2 max backward 39 ms into a block in
step with its indices' block, 22 ms 512 bytes to 8 KiB off it, as into a NumPy array).
"""
from cpython.buffer cimport PyBUF_FORMAT
from libc.stdlib cimport free

cdef extern from *:
    """
    #include <stdlib.h>
    #if defined(__linux__)
    #include <sys/mman.h>
    /* Blocks start on a 2 MiB boundary and are advised for transparent huge pages, as NumPy
     * advises its big arrays: a reused block keeps its huge pages (fewer TLB misses in the
     * kernels' scattered writes than 4 KiB pages: measured 1.8x slower without). */
    static void* cypool_block_alloc(size_t n) {
        void* p = NULL;
        if (posix_memalign(&p, (size_t)1 << 21, n) != 0) return NULL;
    #ifdef MADV_HUGEPAGE
        madvise(p, n, MADV_HUGEPAGE);
    #endif
        return p;
    }
    #else
    static void* cypool_block_alloc(size_t n) { return malloc(n); }
    #endif
    """
    void* cypool_block_alloc(size_t n) nogil

import numpy as np

# NumPy advises huge pages from 4 MiB on; smaller blocks come from the C heap, whose freed memory
# is reused without new faults.
BIG_BYTES = 1 << 22

cdef enum:
    SLOTS = 32
    COLOURS = 16
    COLOUR_STEP = 4160  # 4 KiB and a cache line: colours differ mod 4 KiB and mod 64 KiB

cdef void* _ptr[SLOTS]
cdef size_t _size[SLOTS]
cdef size_t _colour[SLOTS]
cdef unsigned long long _age[SLOTS]
cdef unsigned long long _clock = 0
cdef size_t _held = 0
cdef size_t _limit = 0
cdef unsigned long long _hits = 0
cdef unsigned long long _misses = 0
cdef unsigned long long _mapped = 0
cdef char _format_B[2]
_format_B[0] = b"B"
_format_B[1] = 0


cdef inline size_t _round_up(size_t n) noexcept:
    return (n + 4095) & ~(<size_t>4095)


cdef void* _take(size_t nbytes, size_t* colour) noexcept:
    """A cached block of exactly nbytes, else a new one at the next colour (NULL when out of
    memory); colour receives the block's offset from its allocation."""
    global _held, _hits, _misses, _mapped
    cdef int i
    cdef void* p
    for i in range(SLOTS):
        if _ptr[i] != NULL and _size[i] == nbytes:
            p = _ptr[i]
            colour[0] = _colour[i]
            _ptr[i] = NULL
            _held -= nbytes
            _hits += 1
            return p
    _misses += 1
    colour[0] = (_mapped % COLOURS) * COLOUR_STEP
    _mapped += 1
    p = cypool_block_alloc(nbytes + colour[0])
    return NULL if p == NULL else <char*>p + colour[0]


cdef void _evict_oldest() noexcept:
    global _held
    cdef int i, oldest = -1
    for i in range(SLOTS):
        if _ptr[i] != NULL and (oldest < 0 or _age[i] < _age[oldest]):
            oldest = i
    if oldest >= 0:
        free(<char*>_ptr[oldest] - _colour[oldest])
        _ptr[oldest] = NULL
        _held -= _size[oldest]


cdef int _free_slot() noexcept:
    cdef int i
    for i in range(SLOTS):
        if _ptr[i] == NULL:
            return i
    return -1


cdef void _give(void* p, size_t nbytes, size_t colour) noexcept:
    """Keep a block for reuse when it fits in the cache, else free it."""
    global _held, _clock
    if nbytes > _limit:
        free(<char*>p - colour)
        return
    while _held + nbytes > _limit or _free_slot() < 0:
        _evict_oldest()
    cdef int i = _free_slot()
    _clock += 1
    _ptr[i] = p
    _size[i] = nbytes
    _colour[i] = colour
    _age[i] = _clock
    _held += nbytes


cdef class _Block:
    """Owner of one block of memory, exported as a writable byte buffer to NumPy arrays."""
    cdef void* ptr
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t stride
    cdef size_t colour

    def __getbuffer__(self, Py_buffer* view, int flags):
        view.buf = self.ptr
        view.obj = self
        view.len = self.nbytes
        view.readonly = 0
        view.itemsize = 1
        view.format = _format_B if flags & PyBUF_FORMAT else NULL
        view.ndim = 1
        view.shape = &self.nbytes
        view.strides = &self.stride
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass

    def __dealloc__(self):
        if self.ptr != NULL:
            _give(self.ptr, <size_t>self.nbytes, self.colour)


def empty(shape, dtype):
    """A new C-contiguous array, like ``np.empty(shape, dtype)``; BIG_BYTES or more come from the
    cache of mapped blocks."""
    dtype = np.dtype(dtype)
    cdef Py_ssize_t count = 1
    for s in shape:
        count *= s
    cdef size_t nbytes = <size_t>count * dtype.itemsize
    if nbytes < BIG_BYTES or _limit == 0:
        return np.empty(shape, dtype)
    nbytes = _round_up(nbytes)
    cdef size_t colour = 0
    cdef void* p = _take(nbytes, &colour)
    if p == NULL:
        raise MemoryError(f"cannot allocate {nbytes} bytes for a result of shape {tuple(shape)}")
    cdef _Block block = _Block.__new__(_Block)
    block.ptr = p
    block.nbytes = <Py_ssize_t>nbytes
    block.stride = 1
    block.colour = colour
    return np.frombuffer(block, dtype, count).reshape(shape)


def set_limit(Py_ssize_t nbytes):
    """Hold at most nbytes of freed blocks (0: none, and free what is held); returns the old limit."""
    global _limit
    if nbytes < 0:
        raise ValueError(f"max_bytes must be >= 0, got {nbytes}")
    old = _limit
    _limit = <size_t>nbytes
    while _held > _limit:
        _evict_oldest()
    return old


def info():
    """The cache's state: bytes held and allowed, blocks held, reuse hits and fresh allocations."""
    cdef int i, blocks = 0
    for i in range(SLOTS):
        if _ptr[i] != NULL:
            blocks += 1
    return {"held_bytes": _held, "limit_bytes": _limit, "blocks": blocks, "hits": _hits,
            "misses": _misses}

# Channels-first planes pooled in channels-last tiles: the small-plane path of max and average
# pooling (_max.pyx, _avg.pyx). A channels-first row of a few outputs is mostly set-up; a tile
# interleaves TILE_PLANES planes cell by cell, so the channels-last kernels vectorise across the
# planes. Tile t holds planes [tile_start(t), tile_start(t) + TILE_PLANES): the last tile ends at
# n_planes and overlaps the one before, and each tile writes back only the planes it owns
# ([t * TILE_PLANES, ...)), so no two tiles write the same address.
from libc.stdint cimport int16_t
from _types cimport maxable_t
from _window cimport Window

cdef extern from "_tile.h" nogil:
    # float32: the same moves in 8x8 blocks through vector registers
    void cypool_tile_in_f32(const float* src, float* tile, Py_ssize_t plane, Py_ssize_t p0,
                            Py_ssize_t np)
    void cypool_tile_out_f32(const float* tile, float* dst, Py_ssize_t plane, Py_ssize_t p0,
                             Py_ssize_t j0, Py_ssize_t np)
    # float16 / bfloat16 patterns
    void cypool_tile_in_i16(const int16_t* src, int16_t* tile, Py_ssize_t plane, Py_ssize_t p0,
                            Py_ssize_t np)
    void cypool_tile_out_i16(const int16_t* tile, int16_t* dst, Py_ssize_t plane, Py_ssize_t p0,
                             Py_ssize_t j0, Py_ssize_t np)

cdef enum:
    TILE_PLANES = 32        # one channel block of the channels-last kernels (CYPOOL_CL_BLOCK)
    TILE_MAX_OUT_W = 16     # longer channels-first rows vectorise well enough on their own


cdef inline bint tiles_fit(const Window* w, Py_ssize_t n_planes, size_t itemsize,
                           size_t max_bytes) noexcept nogil:
    """Whether a call goes through tiles: short rows, a tile's input within max_bytes."""
    return (n_planes >= TILE_PLANES and w.out_w < TILE_MAX_OUT_W
            and <size_t>(w.in_d * w.in_h * w.in_w) * TILE_PLANES * itemsize <= max_bytes)


cdef inline Py_ssize_t tile_start(Py_ssize_t t, Py_ssize_t n_planes) noexcept nogil:
    cdef Py_ssize_t own = t * TILE_PLANES
    return own if own < n_planes - TILE_PLANES else n_planes - TILE_PLANES


cdef inline void tile_in(const maxable_t* src, maxable_t* tile, Py_ssize_t plane,
                         Py_ssize_t p0) noexcept nogil:
    """Planes [p0, p0 + TILE_PLANES) of src (each `plane` long) into the tile."""
    cdef Py_ssize_t i, j
    cdef const maxable_t* sp
    if maxable_t is float:
        cypool_tile_in_f32(src, tile, plane, p0, TILE_PLANES)
    elif maxable_t is int16_t:
        cypool_tile_in_i16(src, tile, plane, p0, TILE_PLANES)
    else:
        for j in range(TILE_PLANES):
            sp = src + (p0 + j) * plane
            for i in range(plane):
                tile[i * TILE_PLANES + j] = sp[i]


cdef inline void tile_out(const maxable_t* tile, maxable_t* dst, Py_ssize_t plane, Py_ssize_t p0,
                          Py_ssize_t t) noexcept nogil:
    """The planes tile t (starting at plane p0) owns, from the tile back to dst."""
    cdef Py_ssize_t i, j
    cdef maxable_t* dp
    if maxable_t is float:
        cypool_tile_out_f32(tile, dst, plane, p0, t * TILE_PLANES - p0, TILE_PLANES)
    elif maxable_t is int16_t:
        cypool_tile_out_i16(tile, dst, plane, p0, t * TILE_PLANES - p0, TILE_PLANES)
    else:
        for j in range(t * TILE_PLANES - p0, TILE_PLANES):
            dp = dst + (p0 + j) * plane
            for i in range(plane):
                dp[i] = tile[i * TILE_PLANES + j]

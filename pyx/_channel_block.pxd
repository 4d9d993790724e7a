# The work items of every channels-last backward scatter (_avg, _adaptive, _max, _lp, _blur):
# (sample, block of channels) pairs, item = sample * n_blocks + block. An item owns the input
# gradient cells of its sample and channels, so items run in parallel without races and each
# cell's sum has a fixed order (bit-identical for any thread count). The item zeroes its cells
# before the family's scatter adds into them (max pooling's as its scatter reaches each cell).
from libc.string cimport memset
from _types cimport floating_t


cdef struct ChannelBlock:
    Py_ssize_t n    # the sample
    Py_ssize_t c0   # its channels [c0, c1)
    Py_ssize_t c1


cdef inline Py_ssize_t n_channel_blocks(Py_ssize_t C, Py_ssize_t c_block) noexcept nogil:
    return (C + c_block - 1) // c_block


cdef inline ChannelBlock channel_block(Py_ssize_t item, Py_ssize_t C,
                                       Py_ssize_t c_block) noexcept nogil:
    """Work item `item`'s sample and channels. Returned by value: inside a prange body the block
    is then thread-private."""
    cdef Py_ssize_t n_blocks = n_channel_blocks(C, c_block)
    cdef ChannelBlock b
    b.n = item // n_blocks
    b.c0 = (item % n_blocks) * c_block
    b.c1 = b.c0 + c_block if b.c0 + c_block < C else C
    return b


cdef inline void zero_channels(floating_t* gi, Py_ssize_t in_plane, Py_ssize_t C, Py_ssize_t c0,
                               Py_ssize_t c1) noexcept nogil:
    """Channels [c0, c1) of one sample's input gradient gi ((in_plane, C), flattened) set to 0."""
    cdef Py_ssize_t i, ch
    if c1 - c0 == C:
        memset(gi, 0, in_plane * C * sizeof(floating_t))
    else:
        for i in range(in_plane):
            for ch in range(c0, c1):
                gi[i * C + ch] = 0

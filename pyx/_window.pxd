# Window geometry handed from Python (cypool/_geometry.py) to the kernels. Every operator views its
# input as three spatial axes (d, h, w); 1-d and 2-d pooling use size-1 leading axes.
# Python validates all of it; kernels trust it.
#
# Span helpers return their result by value: inside a prange body that makes every span variable
# an assigned (hence thread-private) variable. Results written through pointers to loop locals
# would be shared between OpenMP threads.

cdef struct Window:
    Py_ssize_t in_d, in_h, in_w
    Py_ssize_t out_d, out_h, out_w
    Py_ssize_t k_d, k_h, k_w
    Py_ssize_t s_d, s_h, s_w
    Py_ssize_t pad_d, pad_h, pad_w            # padding before the first cell
    Py_ssize_t padend_d, padend_h, padend_w   # padding after the last cell (asymmetric for "same")
    Py_ssize_t dil_d, dil_h, dil_w


cdef struct Span:
    Py_ssize_t first    # first real cell of the window along one axis
    Py_ssize_t count    # real cells, stepping by the dilation
    Py_ssize_t extent   # cells inside [-pad, size + padend): the count_include_pad divisor


cdef inline Span dilated_span(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s, Py_ssize_t pad,
                              Py_ssize_t dil, Py_ssize_t size) noexcept nogil:
    # Cells inside the padding are skipped by whole dilation steps, as PyTorch does, so padding is
    # never read. A window may hold no real cell (dilation); `first` is then past the input.
    cdef Span sp
    cdef Py_ssize_t start = o * s - pad
    cdef Py_ssize_t stop = start + dil * (k - 1) + 1
    if stop > size:
        stop = size
    if start < 0:
        start += ((-start + dil - 1) // dil) * dil
    sp.first = start
    sp.count = (stop - start + dil - 1) // dil if stop > start else 0
    sp.extent = sp.count
    return sp


cdef inline Span padded_span(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s, Py_ssize_t pad,
                             Py_ssize_t padend, Py_ssize_t size) noexcept nogil:
    # Average pooling (no dilation): the padded extent is clipped to [-pad, size + padend) so the
    # ceil-mode overhang past the padding never counts, as in PyTorch.
    cdef Span sp
    cdef Py_ssize_t start = o * s - pad
    cdef Py_ssize_t end = start + k
    if end > size + padend:
        end = size + padend
    sp.extent = end - start
    if start < 0:
        start = 0
    if end > size:
        end = size
    sp.first = start
    sp.count = end - start
    return sp


cdef inline Span adaptive_span(Py_ssize_t o, Py_ssize_t out_size, Py_ssize_t in_size) noexcept nogil:
    # Adaptive bin o: [floor(o*L/O), ceil((o+1)*L/O)), PyTorch's rule, always covering the input.
    cdef Span sp
    sp.first = (o * in_size) // out_size
    sp.count = ((o + 1) * in_size + out_size - 1) // out_size - sp.first
    sp.extent = sp.count
    return sp

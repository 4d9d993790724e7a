# Window geometry handed from Python (cypool/_geometry.py) to the kernels. Every operator views its
# input as three spatial axes (d, h, w); 1-d and 2-d pooling use size-1 leading axes.
# Python validates all of it; kernels trust it.

cdef struct Window:
    Py_ssize_t in_d, in_h, in_w
    Py_ssize_t out_d, out_h, out_w
    Py_ssize_t k_d, k_h, k_w
    Py_ssize_t s_d, s_h, s_w
    Py_ssize_t pad_d, pad_h, pad_w            # padding before the first cell
    Py_ssize_t padend_d, padend_h, padend_w   # padding after the last cell (asymmetric for "same")
    Py_ssize_t dil_d, dil_h, dil_w


cdef inline void dilated_span(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s, Py_ssize_t pad,
                              Py_ssize_t dil, Py_ssize_t size,
                              Py_ssize_t* first, Py_ssize_t* count) noexcept nogil:
    # First real cell and number of real cells of output o's window along one axis. Cells inside the
    # padding are skipped by whole dilation steps, as PyTorch does, so padding is never read.
    cdef Py_ssize_t start = o * s - pad
    cdef Py_ssize_t stop = start + dil * (k - 1) + 1
    if stop > size:
        stop = size
    if start < 0:
        start += ((-start + dil - 1) // dil) * dil
    first[0] = start
    count[0] = (stop - start + dil - 1) // dil if stop > start else 0


cdef inline void adaptive_span(Py_ssize_t o, Py_ssize_t out_size, Py_ssize_t in_size,
                               Py_ssize_t* first, Py_ssize_t* stop) noexcept nogil:
    # Adaptive bin o: [floor(o*L/O), ceil((o+1)*L/O)), PyTorch's rule, always covering the input.
    first[0] = (o * in_size) // out_size
    stop[0] = ((o + 1) * in_size + out_size - 1) // out_size

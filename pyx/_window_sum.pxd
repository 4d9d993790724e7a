# The window sum of the general channels-first average kernels (_avg.pyx, _adaptive.pyx): cells
# in window order (d, h, w), summed in double, so both families average alike. (The channels-last
# rows and the backward scatters keep their loops written out: shared helpers measured 0.5-6%
# more instructions there.)
from _types cimport floating_t
from _window cimport Window, Span


cdef inline double window_sum(const floating_t* xp, const Window* w, Span sd, Span sh,
                              Span sw) noexcept nogil:
    """Sum of one channels-first window; xp: its plane."""
    cdef Py_ssize_t d, h, c
    cdef double acc = 0
    for d in range(sd.first, sd.first + sd.count):
        for h in range(sh.first, sh.first + sh.count):
            for c in range(sw.first, sw.first + sw.count):
                acc += xp[(d * w.in_h + h) * w.in_w + c]
    return acc

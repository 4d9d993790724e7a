# The window loops of the general average kernels (_avg.pyx, _adaptive.pyx): cells in window order
# (d, h, w), sums in double, so both families average alike. Spans come from _window.pxd.
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


cdef inline void window_mean_cl(const floating_t* xn, floating_t* yo, double* acc, const Window* w,
                                Span sd, Span sh, Span sw, Py_ssize_t C,
                                double div) noexcept nogil:
    """yo[ch] = (sum of channel ch over one channels-last window) / div; xn: the sample, acc: C
    double accumulators. The channel loops are innermost and contiguous, so they vectorise."""
    cdef Py_ssize_t d, h, c, ch
    cdef const floating_t* xc
    for ch in range(C):
        acc[ch] = 0
    for d in range(sd.first, sd.first + sd.count):
        for h in range(sh.first, sh.first + sh.count):
            for c in range(sw.first, sw.first + sw.count):
                xc = xn + ((d * w.in_h + h) * w.in_w + c) * C
                for ch in range(C):
                    acc[ch] += xc[ch]
    for ch in range(C):
        yo[ch] = <floating_t>(acc[ch] / div)


cdef inline void window_scatter(const floating_t* go, floating_t* gi, const Window* w, Span sd,
                                Span sh, Span sw, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1,
                                floating_t div) noexcept nogil:
    """Adds go[ch] / div to every cell of one window, channels [c0, c1) of C interleaved ones
    (C = 1: a channels-first plane); go: the window's output gradients, gi: the sample's."""
    cdef Py_ssize_t d, h, c, ch
    for d in range(sd.first, sd.first + sd.count):
        for h in range(sh.first, sh.first + sh.count):
            for c in range(sw.first, sw.first + sw.count):
                for ch in range(c0, c1):
                    gi[((d * w.in_h + h) * w.in_w + c) * C + ch] += go[ch] / div

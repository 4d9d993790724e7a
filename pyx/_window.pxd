# The window geometry of the kernels: Window, Span and the span rules, defined once in C
# (_window.h) and shared by the Cython modules and the C fast paths. Python (cypool/_geometry.py)
# hands a Window over as a dict; the `def` entry points convert it.

cdef extern from "_window.h" nogil:
    ctypedef struct Window:
        Py_ssize_t in_d, in_h, in_w
        Py_ssize_t out_d, out_h, out_w
        Py_ssize_t k_d, k_h, k_w
        Py_ssize_t s_d, s_h, s_w
        Py_ssize_t pad_d, pad_h, pad_w            # padding before the first cell
        Py_ssize_t padend_d, padend_h, padend_w   # padding after the last cell
        Py_ssize_t dil_d, dil_h, dil_w

    ctypedef struct Span:
        Py_ssize_t first    # first real cell of the window along one axis
        Py_ssize_t count    # real cells, stepping by the dilation
        Py_ssize_t extent   # cells inside [-pad, size + padend): the count_include_pad divisor

    ctypedef struct RowIndex:
        Py_ssize_t item, od, oh   # item: a plane (channels-first) or a sample (channels-last)

    RowIndex output_row(Py_ssize_t row, const Window* w)
    Span dilated_span(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s, Py_ssize_t pad, Py_ssize_t dil,
                      Py_ssize_t size)
    Span padded_span(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s, Py_ssize_t pad,
                     Py_ssize_t padend, Py_ssize_t size)
    Span adaptive_span(Py_ssize_t o, Py_ssize_t out_size, Py_ssize_t in_size)

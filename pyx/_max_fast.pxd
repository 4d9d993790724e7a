# Declarations of the C fast paths of max pooling (_max_fast.h; loops in _max_fast_body.h).
from libc.stdint cimport int64_t
from _window cimport Window

cdef extern from "_max_fast.h" nogil:
    # Output rows [r0, r1) of a channels-first tensor.
    void cypool_max_fwd_cf_f32(const float* x, float* y, int64_t* idx, const Window* w,
                               Py_ssize_t r0, Py_ssize_t r1)
    void cypool_max_fwd_cf_f64(const double* x, double* y, int64_t* idx, const Window* w,
                               Py_ssize_t r0, Py_ssize_t r1)
    # One output row of a channels-last tensor; cells: scratch of k_d * k_h * k_w positions.
    void cypool_max_fwd_cl_f32(const float* x, float* y, int64_t* idx, const Window* w,
                               Py_ssize_t row, Py_ssize_t C, Py_ssize_t* cells)
    void cypool_max_fwd_cl_f64(const double* x, double* y, int64_t* idx, const Window* w,
                               Py_ssize_t row, Py_ssize_t C, Py_ssize_t* cells)

# Declarations of the C fast paths of average and global average pooling (_avg_fast.h; loops in
# _avg_fast_body.h and _global_avg_body.h). Suffixes name the data type, plus _acc64 where
# float32 data is summed in double. One function type per (data type, memory order); the
# functions of a type differ in direction (fwd, bwd) and accumulator only. float16 and bfloat16
# travel as their 16-bit patterns (uint16_t; conversions in _half.h).
from libc.stdint cimport uint16_t
from _window cimport Window

# Rows [r0, r1) (output rows forward, input rows backward) from src to dst; cip:
# count_include_pad, div: divisor_override, C: channels (channels-last). Nonzero: no scratch,
# nothing done.
ctypedef int avg_cf_f32(const float* src, float* dst, const Window* w, bint cip, Py_ssize_t div,
                        Py_ssize_t r0, Py_ssize_t r1) noexcept nogil
ctypedef int avg_cl_f32(const float* src, float* dst, const Window* w, bint cip, Py_ssize_t div,
                        Py_ssize_t C, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil
ctypedef int avg_cf_f64(const double* src, double* dst, const Window* w, bint cip,
                        Py_ssize_t div, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil
ctypedef int avg_cl_f64(const double* src, double* dst, const Window* w, bint cip,
                        Py_ssize_t div, Py_ssize_t C, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil
ctypedef int avg_cf_u16(const uint16_t* src, uint16_t* dst, const Window* w, bint cip,
                        Py_ssize_t div, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil
ctypedef int avg_cl_u16(const uint16_t* src, uint16_t* dst, const Window* w, bint cip,
                        Py_ssize_t div, Py_ssize_t C, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil

# Global average pooling: planes [p0, p1) of L values (channels-first); sample n, channels
# [c0, c1) (channels-last).
ctypedef void global_cf_f32(const float* src, float* dst, Py_ssize_t p0, Py_ssize_t p1,
                            Py_ssize_t L) noexcept nogil
ctypedef void global_cl_f32(const float* src, float* dst, Py_ssize_t n, Py_ssize_t L,
                            Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
ctypedef void global_cf_f64(const double* src, double* dst, Py_ssize_t p0, Py_ssize_t p1,
                            Py_ssize_t L) noexcept nogil
ctypedef void global_cl_f64(const double* src, double* dst, Py_ssize_t n, Py_ssize_t L,
                            Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil

ctypedef void global_cf_u16(const uint16_t* src, uint16_t* dst, Py_ssize_t p0, Py_ssize_t p1,
                            Py_ssize_t L) noexcept nogil
ctypedef void global_cl_u16(const uint16_t* src, uint16_t* dst, Py_ssize_t n, Py_ssize_t L,
                            Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil

cdef extern from "_avg_fast.h" nogil:
    size_t cypool_avg_buffer_bytes(const Window* w, Py_ssize_t C)

    avg_cf_f32 cypool_avg_fwd_cf_f32, cypool_avg_bwd_cf_f32
    avg_cf_f32 cypool_avg_fwd_cf_f32_acc64, cypool_avg_bwd_cf_f32_acc64
    avg_cl_f32 cypool_avg_fwd_cl_f32, cypool_avg_bwd_cl_f32
    avg_cl_f32 cypool_avg_fwd_cl_f32_acc64, cypool_avg_bwd_cl_f32_acc64
    avg_cf_f64 cypool_avg_fwd_cf_f64, cypool_avg_bwd_cf_f64
    avg_cl_f64 cypool_avg_fwd_cl_f64, cypool_avg_bwd_cl_f64
    avg_cf_u16 cypool_avg_fwd_cf_f16, cypool_avg_bwd_cf_f16
    avg_cl_u16 cypool_avg_fwd_cl_f16, cypool_avg_bwd_cl_f16
    avg_cf_u16 cypool_avg_fwd_cf_bf16, cypool_avg_bwd_cf_bf16
    avg_cl_u16 cypool_avg_fwd_cl_bf16, cypool_avg_bwd_cl_bf16

    global_cf_f32 cypool_global_avg_fwd_cf_f32, cypool_global_avg_bwd_cf_f32
    global_cl_f32 cypool_global_avg_fwd_cl_f32, cypool_global_avg_bwd_cl_f32
    global_cf_f64 cypool_global_avg_fwd_cf_f64, cypool_global_avg_bwd_cf_f64
    global_cl_f64 cypool_global_avg_fwd_cl_f64, cypool_global_avg_bwd_cl_f64
    global_cf_u16 cypool_global_avg_fwd_cf_f16, cypool_global_avg_bwd_cf_f16
    global_cl_u16 cypool_global_avg_fwd_cl_f16, cypool_global_avg_bwd_cl_f16
    global_cf_u16 cypool_global_avg_fwd_cf_bf16, cypool_global_avg_bwd_cf_bf16
    global_cl_u16 cypool_global_avg_fwd_cl_bf16, cypool_global_avg_bwd_cl_bf16

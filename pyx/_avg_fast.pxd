# Declarations of the C fast paths of average and global average pooling (_avg_fast.h; loops in
# _avg_fast_body.h and _global_avg_body.h). Suffixes name the data type, plus _acc64 where
# float32 data is summed in double. float16 and bfloat16 travel as their 16-bit patterns.
from libc.stdint cimport uint16_t
from _window cimport Window

cdef extern from "_avg_fast.h" nogil:
    size_t cypool_avg_buffer_bytes(const Window* w, Py_ssize_t C)

    # Rows [r0, r1) (output rows forward, input rows backward); nonzero: no scratch, nothing done.
    int cypool_avg_fwd_cf_f32(const float* x, float* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_fwd_cl_f32(const float* x, float* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_bwd_cf_f32(const float* go, float* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_bwd_cl_f32(const float* go, float* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_fwd_cf_f32_acc64(const float* x, float* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_fwd_cl_f32_acc64(const float* x, float* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_bwd_cf_f32_acc64(const float* go, float* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_bwd_cl_f32_acc64(const float* go, float* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_fwd_cf_f64(const double* x, double* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_fwd_cl_f64(const double* x, double* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_bwd_cf_f64(const double* go, double* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_bwd_cl_f64(const double* go, double* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_fwd_cf_f16(const uint16_t* x, uint16_t* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_fwd_cl_f16(const uint16_t* x, uint16_t* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_bwd_cf_f16(const uint16_t* go, uint16_t* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_bwd_cl_f16(const uint16_t* go, uint16_t* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_fwd_cf_bf16(const uint16_t* x, uint16_t* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_fwd_cl_bf16(const uint16_t* x, uint16_t* y, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)
    int cypool_avg_bwd_cf_bf16(const uint16_t* go, uint16_t* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1)
    int cypool_avg_bwd_cl_bf16(const uint16_t* go, uint16_t* gi, const Window* w,
            bint count_include_pad, Py_ssize_t divisor_override, Py_ssize_t C, Py_ssize_t r0,
            Py_ssize_t r1)

    # Global average pooling: planes [p0, p1) of L values (cf); sample n, channels [c0, c1) (cl).
    void cypool_global_avg_fwd_cf_f32(const float* x, float* y, Py_ssize_t p0,
            Py_ssize_t p1, Py_ssize_t L)
    void cypool_global_avg_fwd_cl_f32(const float* x, float* y, Py_ssize_t n,
            Py_ssize_t L, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1)
    void cypool_global_avg_bwd_cf_f32(const float* go, float* gi, Py_ssize_t p0,
            Py_ssize_t p1, Py_ssize_t L)
    void cypool_global_avg_bwd_cl_f32(const float* go, float* gi, Py_ssize_t n,
            Py_ssize_t L, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1)
    void cypool_global_avg_fwd_cf_f64(const double* x, double* y, Py_ssize_t p0,
            Py_ssize_t p1, Py_ssize_t L)
    void cypool_global_avg_fwd_cl_f64(const double* x, double* y, Py_ssize_t n,
            Py_ssize_t L, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1)
    void cypool_global_avg_bwd_cf_f64(const double* go, double* gi, Py_ssize_t p0,
            Py_ssize_t p1, Py_ssize_t L)
    void cypool_global_avg_bwd_cl_f64(const double* go, double* gi, Py_ssize_t n,
            Py_ssize_t L, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1)

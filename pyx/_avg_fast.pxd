# Declarations of the C fast paths of average and global average pooling (_avg_fast.h).
cdef extern from "_avg_fast.h" nogil:
    ctypedef struct avgf_geom:
        Py_ssize_t in_d, in_h, in_w
        Py_ssize_t out_d, out_h, out_w
        Py_ssize_t k_d, k_h, k_w
        Py_ssize_t s_d, s_h, s_w
        Py_ssize_t pad_d, pad_h, pad_w
        Py_ssize_t padend_d, padend_h, padend_w
        int count_include_pad
        Py_ssize_t divisor_override

    size_t avgf_buffer_bytes(const avgf_geom* g, Py_ssize_t C)

    int avgf_fwd_cf_ff(const float* x, float* y, const avgf_geom* g, Py_ssize_t r0, Py_ssize_t r1)
    int avgf_fwd_cf_fd(const float* x, float* y, const avgf_geom* g, Py_ssize_t r0, Py_ssize_t r1)
    int avgf_fwd_cf_dd(const double* x, double* y, const avgf_geom* g, Py_ssize_t r0,
                       Py_ssize_t r1)
    int avgf_fwd_cl_ff(const float* x, float* y, const avgf_geom* g, Py_ssize_t C,
                       Py_ssize_t r0, Py_ssize_t r1)
    int avgf_fwd_cl_fd(const float* x, float* y, const avgf_geom* g, Py_ssize_t C,
                       Py_ssize_t r0, Py_ssize_t r1)
    int avgf_fwd_cl_dd(const double* x, double* y, const avgf_geom* g, Py_ssize_t C,
                       Py_ssize_t r0, Py_ssize_t r1)
    int avgf_bwd_cf_ff(const float* go, float* gi, const avgf_geom* g, Py_ssize_t r0,
                       Py_ssize_t r1)
    int avgf_bwd_cf_fd(const float* go, float* gi, const avgf_geom* g, Py_ssize_t r0,
                       Py_ssize_t r1)
    int avgf_bwd_cf_dd(const double* go, double* gi, const avgf_geom* g, Py_ssize_t r0,
                       Py_ssize_t r1)
    int avgf_bwd_cl_ff(const float* go, float* gi, const avgf_geom* g, Py_ssize_t C,
                       Py_ssize_t r0, Py_ssize_t r1)
    int avgf_bwd_cl_fd(const float* go, float* gi, const avgf_geom* g, Py_ssize_t C,
                       Py_ssize_t r0, Py_ssize_t r1)
    int avgf_bwd_cl_dd(const double* go, double* gi, const avgf_geom* g, Py_ssize_t C,
                       Py_ssize_t r0, Py_ssize_t r1)

    void avgf_gap_cf_f(const float* x, float* y, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t L)
    void avgf_gap_cf_d(const double* x, double* y, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t L)
    void avgf_gap_cl_f(const float* x, float* y, Py_ssize_t n, Py_ssize_t L, Py_ssize_t C,
                       Py_ssize_t c0, Py_ssize_t c1)
    void avgf_gap_cl_d(const double* x, double* y, Py_ssize_t n, Py_ssize_t L, Py_ssize_t C,
                       Py_ssize_t c0, Py_ssize_t c1)
    void avgf_gap_bwd_cf_f(const float* go, float* gi, Py_ssize_t p0, Py_ssize_t p1,
                           Py_ssize_t L)
    void avgf_gap_bwd_cf_d(const double* go, double* gi, Py_ssize_t p0, Py_ssize_t p1,
                           Py_ssize_t L)
    void avgf_gap_bwd_cl_f(const float* go, float* gi, Py_ssize_t n, Py_ssize_t L, Py_ssize_t C,
                           Py_ssize_t c0, Py_ssize_t c1)
    void avgf_gap_bwd_cl_d(const double* go, double* gi, Py_ssize_t n, Py_ssize_t L,
                           Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1)

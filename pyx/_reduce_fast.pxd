# Declarations of the window reductions of _reduce_fast.h (loops in _reduce_fast_body.h), used by
# _adaptive.pyx and _lp.pyx. Suffixes name the data type.
from libc.stdint cimport int64_t, uint64_t
from _window cimport Window

cdef extern from "_reduce_fast.h" nogil:
    # One channels-last output, all C channels: the window's sum (in double) / cells.
    void cypool_window_sums_cl_f32(const float* x, float* y, Py_ssize_t C, Py_ssize_t nd,
            Py_ssize_t nh, Py_ssize_t nw, Py_ssize_t step_d, Py_ssize_t step_h, double cells)
    void cypool_window_sums_cl_f64(const double* x, double* y, Py_ssize_t C, Py_ssize_t nd,
            Py_ssize_t nh, Py_ssize_t nw, Py_ssize_t step_d, Py_ssize_t step_h, double cells)
    # One channels-last output's max and argmax, all C channels (float32: plane < 2^31 cells).
    void cypool_window_max_cl_f32(const float* xs, float* y, int64_t* idx, Py_ssize_t C,
            Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t w0,
            Py_ssize_t nw, Py_ssize_t in_h, Py_ssize_t in_w)
    void cypool_window_max_cl_f64(const double* xs, double* y, int64_t* idx, Py_ssize_t C,
            Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t w0,
            Py_ssize_t nw, Py_ssize_t in_h, Py_ssize_t in_w)
    # One channels-first output row of equally spaced windows (start ow * s_w, k_w cells).
    void cypool_strided_row_cf_f32(const float* xp, float* y, Py_ssize_t in_h, Py_ssize_t in_w,
            Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t k_w,
            Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    void cypool_strided_row_cf_f64(const double* xp, double* y, Py_ssize_t in_h,
            Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh,
            Py_ssize_t k_w, Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    # Lp pooling: one channels-first output row (the arguments of cypool_strided_row_cf, at
    # most 64 window rows nd * nh), one channels-last output row.
    void cypool_lp_row_cf_f32(const float* xp, float* y, Py_ssize_t in_h, Py_ssize_t in_w,
            Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t k_w,
            Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    void cypool_lp_row_cf_f64(const double* xp, double* y, Py_ssize_t in_h, Py_ssize_t in_w,
            Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t k_w,
            Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    void cypool_lp_row_cl_f32(const float* x, float* y, Py_ssize_t C, Py_ssize_t nd,
            Py_ssize_t nh, Py_ssize_t step_d, Py_ssize_t step_h, Py_ssize_t in_w, Py_ssize_t k_w,
            Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    void cypool_lp_row_cl_f64(const double* x, double* y, Py_ssize_t C, Py_ssize_t nd,
            Py_ssize_t nh, Py_ssize_t step_d, Py_ssize_t step_h, Py_ssize_t in_w, Py_ssize_t k_w,
            Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    # Lp pooling backward, power 1, 2 or 3: one plane (C = 1) or one sample's channels
    # [c0, c1) of C; at most 64 window rows k_d * k_h.
    void cypool_lp_backward_plane_f32(const float* x, const float* go, float* gi,
            const Window* w, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1, int power, double p)
    void cypool_lp_backward_plane_f64(const double* x, const double* go, double* gi,
            const Window* w, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1, int power, double p)
    # One channels-first output row of adaptive average pooling, any bins.
    void cypool_adaptive_avg_row_cf_f32(const float* xp, float* y, const Window* w,
            Py_ssize_t od, Py_ssize_t oh)
    void cypool_adaptive_avg_row_cf_f64(const double* xp, double* y, const Window* w,
            Py_ssize_t od, Py_ssize_t oh)
    # Blur pooling (_blur.pyx): one output row, channels first (outputs [a, b) read adjacent
    # columns at step s) or channels last.
    void cypool_blur_row_cf_f32(const float* xp, float* yr, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t W, Py_ssize_t OW,
            Py_ssize_t a, Py_ssize_t b, Py_ssize_t s)
    void cypool_blur_row_cf_f64(const double* xp, double* yr, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t W, Py_ssize_t OW,
            Py_ssize_t a, Py_ssize_t b, Py_ssize_t s)
    void cypool_blur_row_cl_f32(const float* xn, float* yr, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t W, Py_ssize_t OW,
            Py_ssize_t C)
    void cypool_blur_row_cl_f64(const double* xn, double* yr, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t W, Py_ssize_t OW,
            Py_ssize_t C)
    # Blur pooling backward, channels first: one plane (a, b, s: as cypool_blur_row_cf).
    void cypool_blur_backward_plane_cf_f32(const float* go, float* gi, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t H, Py_ssize_t W,
            Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t a, Py_ssize_t b, Py_ssize_t s)
    void cypool_blur_backward_plane_cf_f64(const double* go, double* gi, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t H, Py_ssize_t W,
            Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t a, Py_ssize_t b, Py_ssize_t s)
    # Blur pooling backward, channels last: one sample's channels [c0, c1) of C.
    void cypool_blur_backward_cl_f32(const float* go, float* gi, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t H, Py_ssize_t W,
            Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1)
    void cypool_blur_backward_cl_f64(const double* go, double* gi, const int64_t* rows,
            const int64_t* cols, const double* taps, Py_ssize_t f, Py_ssize_t H, Py_ssize_t W,
            Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1)
    # Stochastic pooling (_stochastic.pyx): the uniform of window t, and training samples of n
    # windows side by side.
    double cypool_splitmix_uniform(uint64_t key, uint64_t t)
    void cypool_stochastic_row_f32(const float* x, float* y, int64_t* idx, Py_ssize_t n,
            Py_ssize_t step, Py_ssize_t cs, Py_ssize_t k_h, Py_ssize_t k_w,
            Py_ssize_t pos0, Py_ssize_t pstep, Py_ssize_t in_w, uint64_t key, uint64_t t0,
            uint64_t tstep)
    void cypool_stochastic_row_f64(const double* x, double* y, int64_t* idx, Py_ssize_t n,
            Py_ssize_t step, Py_ssize_t cs, Py_ssize_t k_h, Py_ssize_t k_w,
            Py_ssize_t pos0, Py_ssize_t pstep, Py_ssize_t in_w, uint64_t key, uint64_t t0,
            uint64_t tstep)

# Declarations of the window reductions of _reduce_fast.h (loops in _reduce_fast_body.h), used by
# _adaptive.pyx, _lp.pyx, _blur.pyx, _stochastic.pyx and _fractional.pyx. Suffixes name the data
# type.
from libc.stdint cimport int64_t, uint64_t
from _window cimport Window

cdef extern from "_reduce_fast.h" nogil:
    # One channels-first output row of equally spaced windows (start ow * s_w, k_w cells).
    void cypool_strided_row_cf_f32(const float* xp, float* y, Py_ssize_t in_h, Py_ssize_t in_w,
            Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t k_w,
            Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    void cypool_strided_row_cf_f64(const double* xp, double* y, Py_ssize_t in_h,
            Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh,
            Py_ssize_t k_w, Py_ssize_t s_w, Py_ssize_t out_w, int power, double mul, double p)
    # Adaptive pooling with bin tables (first cell wf[i], cell count wc[i] of each window along
    # w): one channels-first output row (windows interleaved) or one channels-last output row
    # (the band of input rows streamed in memory order). idx may be NULL.
    void cypool_adaptive_avg_bins_cf_f32(const float* xp, float* y, Py_ssize_t in_h,
            Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh,
            const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    void cypool_adaptive_max_bins_cf_f32(const float* xp, float* y, int64_t* idx,
            Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0,
            Py_ssize_t nh, const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    void cypool_adaptive_avg_bin_backward_cl_f32(const float* go, float* gi, Py_ssize_t C,
            Py_ssize_t nb, Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd,
            Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t w0, Py_ssize_t nw)
    void cypool_adaptive_avg_band_cl_f32(const float* xs, float* y, Py_ssize_t C,
            Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0,
            Py_ssize_t nh, const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w,
            Py_ssize_t input_bytes)
    void cypool_adaptive_max_band_cl_f32(const float* xs, float* y, int64_t* idx, Py_ssize_t C,
            Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0,
            Py_ssize_t nh, const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    void cypool_adaptive_avg_bins_cf_f64(const double* xp, double* y, Py_ssize_t in_h,
            Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0, Py_ssize_t nh,
            const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    void cypool_adaptive_max_bins_cf_f64(const double* xp, double* y, int64_t* idx,
            Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0,
            Py_ssize_t nh, const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    void cypool_adaptive_avg_bin_backward_cl_f64(const double* go, double* gi, Py_ssize_t C,
            Py_ssize_t nb, Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd,
            Py_ssize_t h0, Py_ssize_t nh, Py_ssize_t w0, Py_ssize_t nw)
    void cypool_adaptive_avg_band_cl_f64(const double* xs, double* y, Py_ssize_t C,
            Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0,
            Py_ssize_t nh, const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w,
            Py_ssize_t input_bytes)
    void cypool_adaptive_max_band_cl_f64(const double* xs, double* y, int64_t* idx, Py_ssize_t C,
            Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t nd, Py_ssize_t h0,
            Py_ssize_t nh, const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    # Channels-first adaptive average and max of one output row of 16 float32 planes at once (2-d,
    # nh * in_w <= TILE_CELLS); vector shuffles where CYPOOL_HAVE_TILE16.
    enum: CYPOOL_HAVE_TILE16
    enum: CYPOOL_TILE_CELLS
    void cypool_adaptive_avg_tile16_cf_f32(const float* xp, float* y, Py_ssize_t L,
            Py_ssize_t out_plane, Py_ssize_t in_w, Py_ssize_t h0, Py_ssize_t nh,
            const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    void cypool_adaptive_max_tile16_cf_f32(const float* xp, float* y, int64_t* idx,
            Py_ssize_t L, Py_ssize_t out_plane, Py_ssize_t in_w, Py_ssize_t h0, Py_ssize_t nh,
            const Py_ssize_t* wf, const Py_ssize_t* wc, Py_ssize_t out_w)
    # Fractional max pooling: one channels-first output row (windows of k_t x k_h x k_w cells
    # from (d0, h0, wf[ow])) and the C channels of one channels-last output cell (each channel's
    # starts read at st[c * sst], sh[c * ssh], sw[c * ssw]). idx may be NULL.
    void cypool_fractional_row_cf_f32(const float* xp, float* y, int64_t* idx, Py_ssize_t in_h,
            Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t k_t, Py_ssize_t h0, Py_ssize_t k_h,
            const int64_t* wf, Py_ssize_t k_w, Py_ssize_t out_w)
    void cypool_fractional_row_cf_f64(const double* xp, double* y, int64_t* idx,
            Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t d0, Py_ssize_t k_t, Py_ssize_t h0,
            Py_ssize_t k_h, const int64_t* wf, Py_ssize_t k_w, Py_ssize_t out_w)
    void cypool_fractional_cell_cl_f32(const float* xs, float* y, int64_t* idx, Py_ssize_t C,
            Py_ssize_t in_h, Py_ssize_t in_w, const int64_t* st, Py_ssize_t sst,
            const int64_t* sh, Py_ssize_t ssh, const int64_t* sw, Py_ssize_t ssw,
            Py_ssize_t k_t, Py_ssize_t k_h, Py_ssize_t k_w)
    void cypool_fractional_cell_cl_f64(const double* xs, double* y, int64_t* idx, Py_ssize_t C,
            Py_ssize_t in_h, Py_ssize_t in_w, const int64_t* st, Py_ssize_t sst,
            const int64_t* sh, Py_ssize_t ssh, const int64_t* sw, Py_ssize_t ssw,
            Py_ssize_t k_t, Py_ssize_t k_h, Py_ssize_t k_w)
    # Channels-first global max of planes [p0, p1) of L cells (L < 2^31); idx may be NULL.
    void cypool_global_max_cf_f32(const float* x, float* y, int64_t* idx, Py_ssize_t p0,
            Py_ssize_t p1, Py_ssize_t L)
    void cypool_global_max_cf_f64(const double* x, double* y, int64_t* idx, Py_ssize_t p0,
            Py_ssize_t p1, Py_ssize_t L)
    # The same without indices (any L)
    void cypool_global_max_values_cf_f32(const float* x, float* y, Py_ssize_t p0, Py_ssize_t p1,
            Py_ssize_t L)
    void cypool_global_max_values_cf_f64(const double* x, double* y, Py_ssize_t p0,
            Py_ssize_t p1, Py_ssize_t L)
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
    # Blur pooling backward, gathered: channels first nq planes (acc: a row buffer of
    # s * ceil(W / s)), channels last channels [c0, c1) of C of nn samples.
    void cypool_blur_backward_gather_cf_f32(const float* go, float* gi, float* acc,
            const int64_t* rin, Py_ssize_t kr, const int64_t* cin, Py_ssize_t kc,
            const int64_t* runs, Py_ssize_t kp, const double* taps, Py_ssize_t nq, Py_ssize_t H,
            Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t s)
    void cypool_blur_backward_gather_cf_f64(const double* go, double* gi, double* acc,
            const int64_t* rin, Py_ssize_t kr, const int64_t* cin, Py_ssize_t kc,
            const int64_t* runs, Py_ssize_t kp, const double* taps, Py_ssize_t nq, Py_ssize_t H,
            Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t s)
    void cypool_blur_backward_gather_cl_f32(const float* go, float* gi, const int64_t* rin,
            Py_ssize_t kr, const int64_t* cin, Py_ssize_t kc, const double* taps, Py_ssize_t f,
            Py_ssize_t nn, Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t C,
            Py_ssize_t c0, Py_ssize_t c1)
    void cypool_blur_backward_gather_cl_f64(const double* go, double* gi, const int64_t* rin,
            Py_ssize_t kr, const int64_t* cin, Py_ssize_t kc, const double* taps, Py_ssize_t f,
            Py_ssize_t nn, Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t C,
            Py_ssize_t c0, Py_ssize_t c1)
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

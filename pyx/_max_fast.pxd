# Declarations of the C fast paths of max pooling (_max_fast.h; loops in _max_fast_body.h).
# float16 and bfloat16 travel as their 16-bit patterns (uint16_t; conversions in _half.h).
from libc.stdint cimport int64_t, uint16_t
from _window cimport Window

cdef extern from "_max_fast.h" nogil:
    # Output rows [r0, r1) of a channels-first tensor.
    void cypool_max_fwd_cf_f32(const float* x, float* y, int64_t* idx, const Window* w,
                               Py_ssize_t r0, Py_ssize_t r1)
    void cypool_max_fwd_cf_f64(const double* x, double* y, int64_t* idx, const Window* w,
                               Py_ssize_t r0, Py_ssize_t r1)
    void cypool_max_fwd_cf_f16(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                               Py_ssize_t r0, Py_ssize_t r1)
    void cypool_max_fwd_cf_bf16(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                                Py_ssize_t r0, Py_ssize_t r1)
    # Whether cypool_max_fwd_cf_f32 (kind 0), _f16 (1) or _bf16 (2) walks the call's rows in
    # vectors (the window, the CPU, every row all in vectors).
    int cypool_max_cf_walks(const Window* w, int kind)
    # 2x2/s2 of channels-first planes [p0, p1) with even sides (H * W / 2 <= CYPOOL_PAIRS), no
    # padding, dilation or indices.
    enum: CYPOOL_PAIRS
    void cypool_max_fwd_cf_2x2_f32(const float* x, float* y, Py_ssize_t p0, Py_ssize_t p1,
                                   Py_ssize_t H, Py_ssize_t W)
    void cypool_max_fwd_cf_2x2_f64(const double* x, double* y, Py_ssize_t p0, Py_ssize_t p1,
                                   Py_ssize_t H, Py_ssize_t W)
    # One output row of a channels-last tensor; cells: scratch of k_d * k_h * k_w positions.
    # With idx, the float and 16-bit rows need planes of fewer than 2**31 cells.
    void cypool_max_fwd_cl_f32(const float* x, float* y, int64_t* idx, const Window* w,
                               Py_ssize_t row, Py_ssize_t C, Py_ssize_t* cells)
    void cypool_max_fwd_cl_f64(const double* x, double* y, int64_t* idx, const Window* w,
                               Py_ssize_t row, Py_ssize_t C, Py_ssize_t* cells)
    void cypool_max_fwd_cl_f16(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                               Py_ssize_t row, Py_ssize_t C, Py_ssize_t* cells)
    void cypool_max_fwd_cl_bf16(const uint16_t* x, uint16_t* y, int64_t* idx, const Window* w,
                                Py_ssize_t row, Py_ssize_t C, Py_ssize_t* cells)
    # Output columns [o0, o1) of sample n of a 1-d channels-last tensor (in_d = in_h = 1), for
    # windows of up to CYPOOL_CL_1D_CELLS cells; with idx, rows of fewer than 2**31 cells.
    enum: CYPOOL_CL_1D_CELLS
    void cypool_max_fwd_cl_1d_f32(const float* x, float* y, int64_t* idx, const Window* w,
                                  Py_ssize_t n, Py_ssize_t o0, Py_ssize_t o1, Py_ssize_t C)
    void cypool_max_fwd_cl_1d_f64(const double* x, double* y, int64_t* idx, const Window* w,
                                  Py_ssize_t n, Py_ssize_t o0, Py_ssize_t o1, Py_ssize_t C)
    # Backward of the 16-bit types: channels [c0, c1) of one sample with C interleaved channels
    # (a channels-first plane: C = 1, c0 = 0, c1 = 1); returns the count of skipped indices.
    # stream: the whole result is big enough for streamed stores (_max.pyx: STREAMED_BYTES).
    Py_ssize_t cypool_max_bwd_scatter_f16(const uint16_t* go, const int64_t* idx, uint16_t* gi,
                                          Py_ssize_t in_plane, Py_ssize_t out_plane, Py_ssize_t C,
                                          Py_ssize_t c0, Py_ssize_t c1, int stream)
    Py_ssize_t cypool_max_bwd_scatter_bf16(const uint16_t* go, const int64_t* idx, uint16_t* gi,
                                           Py_ssize_t in_plane, Py_ssize_t out_plane,
                                           Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1,
                                           int stream)
    # Max backward as a gather (16-bit types; float32 / float64 channels-last), indices in
    # tiles of in / out cells per axis (in3, out3: spatial sizes d, h, w): channels [c0, c1) of
    # one sample of C
    # (channels-last) or one plane (channels-first); 0 when an index leaves its tile (nothing to
    # rely on written: scatter the item), 1 when done. The probe: sample 0's or plane 0's first
    # band of tiles keeps to them.
    int cypool_max_tiles_probe(const int64_t* idx, const Py_ssize_t* in3, const Py_ssize_t* out3,
                               Py_ssize_t C)
    int cypool_max_bwd_tiles_cl16(const uint16_t* go, const int64_t* idx, uint16_t* gi,
                                  const Py_ssize_t* in3, const Py_ssize_t* out3, Py_ssize_t C,
                                  Py_ssize_t c0, Py_ssize_t c1)
    int cypool_max_bwd_tiles_cl32(const float* go, const int64_t* idx, float* gi,
                                  const Py_ssize_t* in3, const Py_ssize_t* out3, Py_ssize_t C,
                                  Py_ssize_t c0, Py_ssize_t c1)
    int cypool_max_bwd_tiles_cl64(const double* go, const int64_t* idx, double* gi,
                                  const Py_ssize_t* in3, const Py_ssize_t* out3, Py_ssize_t C,
                                  Py_ssize_t c0, Py_ssize_t c1)
    int cypool_max_bwd_tiles_cf16(const uint16_t* go, const int64_t* idx, uint16_t* gi,
                                  const Py_ssize_t* in3, const Py_ssize_t* out3)
    # 2x2/s2 of channels-first planes [p0, p1) of H x W cells (no padding, dilation or
    # indices), with AVX-512 (float16: AVX512-FP16; bfloat16: with BW); 0 (nothing done) without
    # it (p0 == p1 asks only that).
    int cypool_max_fwd_cf_2x2_wide_f32(const float* x, float* y, Py_ssize_t p0, Py_ssize_t p1,
                                       Py_ssize_t H, Py_ssize_t W)
    int cypool_max_fwd_cf_2x2_wide_f64(const double* x, double* y, Py_ssize_t p0, Py_ssize_t p1,
                                       Py_ssize_t H, Py_ssize_t W)
    int cypool_max_fwd_cf_2x2_wide_f16(const uint16_t* x, uint16_t* y, Py_ssize_t p0,
                                       Py_ssize_t p1, Py_ssize_t H, Py_ssize_t W)
    int cypool_max_fwd_cf_2x2_wide_bf16(const uint16_t* x, uint16_t* y, Py_ssize_t p0,
                                        Py_ssize_t p1, Py_ssize_t H, Py_ssize_t W)

/* Body of _reduce_fast.h, included once per (CYPOOL_T, CYPOOL_SUF, CYPOOL_IS_FLOAT), which it
 * undefines at its end. Entry points: CYPOOL_FN(cypool_window_sums_cl), ..._window_max_cl,
 * ..._strided_row_cf, ..._adaptive_avg_row_cf, ..._blur_row_cf, ..._blur_row_cl. Summation
 * orders: see _reduce_fast.h. */

#if CYPOOL_REDUCE_VECTORS
/* Four values as doubles. */
CYPOOL_INLINE cypool_r4d CYPOOL_FN(reduce_load4)(const CYPOOL_T* p) {
#if CYPOOL_IS_FLOAT
    cypool_r4f f;
    memcpy(&f, p, sizeof f);
    return __builtin_convertvector(f, cypool_r4d);
#else
    cypool_r4d v;
    memcpy(&v, p, sizeof v);
    return v;
#endif
}

/* The double sums of 4 * NV channels over one channels-last window. */
#define CYPOOL_REDUCE_SUMS(NAME, NV)                                                              \
CYPOOL_INLINE void CYPOOL_FN(NAME)(const CYPOOL_T* x, ptrdiff_t C, ptrdiff_t nd, ptrdiff_t nh,   \
                                   ptrdiff_t nw, ptrdiff_t step_d, ptrdiff_t step_h,             \
                                   double* out) {                                                \
    const cypool_r4d zero = {0, 0, 0, 0};                                                        \
    cypool_r4d a[NV];                                                                            \
    for (int q = 0; q < NV; q++) a[q] = zero;                                                    \
    for (ptrdiff_t d = 0; d < nd; d++)                                                           \
        for (ptrdiff_t h = 0; h < nh; h++) {                                                     \
            const CYPOOL_T* r = x + d * step_d + h * step_h;                                     \
            for (ptrdiff_t w = 0; w < nw; w++)                                                   \
                for (int q = 0; q < NV; q++) {                                                   \
                    a[q] += CYPOOL_FN(reduce_load4)(r + w * C + 4 * q);                          \
                }                                                                                \
        }                                                                                        \
    memcpy(out, a, sizeof a);                                                                    \
}
CYPOOL_REDUCE_SUMS(reduce_sums16, 4)
CYPOOL_REDUCE_SUMS(reduce_sums4, 1)
#undef CYPOOL_REDUCE_SUMS
#endif

/* One channel's double sum over one channels-last window. */
CYPOOL_INLINE double CYPOOL_FN(reduce_sum1)(const CYPOOL_T* x, ptrdiff_t C, ptrdiff_t nd,
                                            ptrdiff_t nh, ptrdiff_t nw, ptrdiff_t step_d,
                                            ptrdiff_t step_h) {
    double s = 0;
    for (ptrdiff_t d = 0; d < nd; d++)
        for (ptrdiff_t h = 0; h < nh; h++)
            for (ptrdiff_t w = 0; w < nw; w++)
                s += (double)x[d * step_d + h * step_h + w * C];
    return s;
}

/* Channels-last: one output's C channels. x: the window's first cell (channel 0); its cells are
 * x + d * step_d + h * step_h + w * C for d < nd, h < nh, w < nw. y[c] = (sum over the window
 * of channel c, in double) / cells: the adaptive average. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_window_sums_cl)(const CYPOOL_T* x, CYPOOL_T* y, ptrdiff_t C,
                                             ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw,
                                             ptrdiff_t step_d, ptrdiff_t step_h, double cells) {
    ptrdiff_t c0 = 0;
#if CYPOOL_REDUCE_VECTORS
    double s[CYPOOL_REDUCE_CB];
    for (; c0 + CYPOOL_REDUCE_CB <= C; c0 += CYPOOL_REDUCE_CB) {
        CYPOOL_FN(reduce_sums16)(x + c0, C, nd, nh, nw, step_d, step_h, s);
        for (int k = 0; k < CYPOOL_REDUCE_CB; k++)
            y[c0 + k] = (CYPOOL_T)(s[k] / cells);
    }
    for (; c0 + 4 <= C; c0 += 4) {
        CYPOOL_FN(reduce_sums4)(x + c0, C, nd, nh, nw, step_d, step_h, s);
        for (int k = 0; k < 4; k++)
            y[c0 + k] = (CYPOOL_T)(s[k] / cells);
    }
#endif
    for (; c0 < C; c0++)
        y[c0] = (CYPOOL_T)(CYPOOL_FN(reduce_sum1)(x + c0, C, nd, nh, nw, step_d, step_h) / cells);
}

/* Channels-last max over one window with its argmax, for every channel: the cells in (d, h, w)
 * order, a cell replacing the running maximum when it is greater or NaN (PyTorch's rule: the
 * last NaN wins); the index is the plane-flat position (d * in_h + h) * in_w + w. xs: the
 * sample's first cell. float32 tracks positions in int32 lanes: the caller makes sure the plane
 * has fewer than 2^31 cells. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_window_max_cl)(const CYPOOL_T* xs, CYPOOL_T* y, int64_t* idx,
                                            ptrdiff_t C, ptrdiff_t d0, ptrdiff_t nd,
                                            ptrdiff_t h0, ptrdiff_t nh, ptrdiff_t w0,
                                            ptrdiff_t nw, ptrdiff_t in_h, ptrdiff_t in_w) {
    const ptrdiff_t first = (d0 * in_h + h0) * in_w + w0;
    ptrdiff_t c0 = 0;
#if CYPOOL_REDUCE_VECTORS
#if CYPOOL_IS_FLOAT
#define CYPOOL_MV cypool_r8f
#define CYPOOL_MI cypool_r8i
#define CYPOOL_ML 8
    typedef int32_t cypool_pos_t;
#else
#define CYPOOL_MV cypool_r4d
#define CYPOOL_MI cypool_r4l
#define CYPOOL_ML 4
    typedef int64_t cypool_pos_t;
#endif
#define CYPOOL_NV (CYPOOL_REDUCE_CB / CYPOOL_ML)
    for (; c0 + CYPOOL_REDUCE_CB <= C; c0 += CYPOOL_REDUCE_CB) {
        const CYPOOL_MV vzero = {0};
        const CYPOOL_MI izero = {0};
        CYPOOL_MV m[CYPOOL_NV];
        CYPOOL_MI ix[CYPOOL_NV];
        for (int q = 0; q < CYPOOL_NV; q++) {
            m[q] = vzero - INFINITY;
            ix[q] = izero + (cypool_pos_t)first;
        }
        for (ptrdiff_t d = d0; d < d0 + nd; d++)
            for (ptrdiff_t h = h0; h < h0 + nh; h++)
                for (ptrdiff_t w = w0; w < w0 + nw; w++) {
                    const ptrdiff_t pos = (d * in_h + h) * in_w + w;
                    const CYPOOL_T* p = xs + pos * C + c0;
                    const CYPOOL_MI pv = izero + (cypool_pos_t)pos;
                    for (int q = 0; q < CYPOOL_NV; q++) {
                        CYPOOL_MV v;
                        memcpy(&v, p + q * CYPOOL_ML, sizeof v);
                        const CYPOOL_MI take = (CYPOOL_MI)(v > m[q]) | (CYPOOL_MI)(v != v);
                        m[q] = (CYPOOL_MV)(((CYPOOL_MI)v & take) | ((CYPOOL_MI)m[q] & ~take));
                        ix[q] = (pv & take) | (ix[q] & ~take);
                    }
                }
        cypool_pos_t pos_out[CYPOOL_REDUCE_CB];
        memcpy(y + c0, m, sizeof m);
        memcpy(pos_out, ix, sizeof ix);
        for (int k = 0; k < CYPOOL_REDUCE_CB; k++) idx[c0 + k] = (int64_t)pos_out[k];
    }
#undef CYPOOL_MV
#undef CYPOOL_MI
#undef CYPOOL_ML
#undef CYPOOL_NV
#endif
    for (; c0 < C; c0++) {
        CYPOOL_T best = -INFINITY;
        ptrdiff_t at = first;
        for (ptrdiff_t d = d0; d < d0 + nd; d++)
            for (ptrdiff_t h = h0; h < h0 + nh; h++)
                for (ptrdiff_t w = w0; w < w0 + nw; w++) {
                    const ptrdiff_t pos = (d * in_h + h) * in_w + w;
                    const CYPOOL_T v = xs[pos * C + c0];
                    if (v > best || v != v) {
                        best = v;
                        at = pos;
                    }
                }
        y[c0] = best;
        idx[c0] = at;
    }
}

/* Windows [0, n) of a channels-first row, all k cells long, window i starting at cell i * s:
 * acc[i] += x^power over them, cell by cell in order. Inlined with constant s and power. */
CYPOOL_INLINE void CYPOOL_FN(strided_pass)(const CYPOOL_T* restrict r, double* restrict acc,
                                           ptrdiff_t n, ptrdiff_t k, ptrdiff_t s, int power) {
    for (ptrdiff_t j = 0; j < k; j++)
        for (ptrdiff_t i = 0; i < n; i++) {
            double v = (double)r[i * s + j];
            if (power == 2) v = v * v;
            else if (power == 3) v = v * v * v;
            acc[i] += v;
        }
}

CYPOOL_INLINE void CYPOOL_FN(strided_pass_p)(const CYPOOL_T* restrict r, double* restrict acc,
                                             ptrdiff_t n, ptrdiff_t k, ptrdiff_t s, int power) {
    if (s == 2 && k == 2) CYPOOL_FN(strided_pass)(r, acc, n, 2, 2, power);
    else if (s == 2) CYPOOL_FN(strided_pass)(r, acc, n, k, 2, power);
    else if (s == 1) CYPOOL_FN(strided_pass)(r, acc, n, k, 1, power);
    else CYPOOL_FN(strided_pass)(r, acc, n, k, s, power);
}

/* Channels-first: one output row of a plane xp whose windows along w start at ow * s_w and hold
 * min(k_w, in_w - ow * s_w) cells, and cover input rows h0 .. h0 + nh - 1 of slices d0 ..
 * d0 + nd - 1. y[ow] = finish(sum of x^power over the window, cells, mul, p), power 1, 2 or 3. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_strided_row_cf)(const CYPOOL_T* xp, CYPOOL_T* y, ptrdiff_t in_h,
                                             ptrdiff_t in_w, ptrdiff_t d0, ptrdiff_t nd,
                                             ptrdiff_t h0, ptrdiff_t nh, ptrdiff_t k_w,
                                             ptrdiff_t s_w, ptrdiff_t out_w, int power,
                                             double mul, double p) {
    double acc[CYPOOL_REDUCE_ROW];
    ptrdiff_t n_full = in_w >= k_w ? (in_w - k_w) / s_w + 1 : 0;
    if (n_full > out_w) n_full = out_w;
    for (ptrdiff_t o0 = 0; o0 < out_w; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = out_w - o0 < CYPOOL_REDUCE_ROW ? out_w - o0 : CYPOOL_REDUCE_ROW;
        ptrdiff_t nf = n_full - o0;
        nf = nf < 0 ? 0 : (nf > n ? n : nf);
        for (ptrdiff_t i = 0; i < n; i++) acc[i] = 0;
        for (ptrdiff_t d = d0; d < d0 + nd; d++)
            for (ptrdiff_t h = h0; h < h0 + nh; h++) {
                const CYPOOL_T* r = xp + (d * in_h + h) * in_w;
                if (power == 2) CYPOOL_FN(strided_pass_p)(r + o0 * s_w, acc, nf, k_w, s_w, 2);
                else if (power == 3) CYPOOL_FN(strided_pass_p)(r + o0 * s_w, acc, nf, k_w, s_w, 3);
                else CYPOOL_FN(strided_pass_p)(r + o0 * s_w, acc, nf, k_w, s_w, 1);
                for (ptrdiff_t i = nf; i < n; i++) {   /* windows cut by the row's end */
                    const ptrdiff_t c = (o0 + i) * s_w;
                    const ptrdiff_t e = c + k_w < in_w ? c + k_w : in_w;
                    for (ptrdiff_t j = c; j < e; j++) {
                        double v = (double)r[j];
                        if (power == 2) v = v * v;
                        else if (power == 3) v = v * v * v;
                        acc[i] += v;
                    }
                }
            }
        for (ptrdiff_t i = 0; i < n; i++) {
            const ptrdiff_t c = (o0 + i) * s_w;
            const ptrdiff_t cw = c + k_w < in_w ? k_w : in_w - c;
            y[o0 + i] = (CYPOOL_T)cypool_reduce_finish(acc[i], (double)(nd * nh * cw), mul, p);
        }
    }
}

/* Channels-first adaptive average of output row (od, oh) of plane xp, any bins, one bin after
 * the other (short unequal bins: interleaving them measured slower). */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_adaptive_avg_row_cf)(const CYPOOL_T* xp, CYPOOL_T* y,
                                                  const Window* w, ptrdiff_t od, ptrdiff_t oh) {
    const Span sd = adaptive_span(od, w->out_d, w->in_d);
    const Span sh = adaptive_span(oh, w->out_h, w->in_h);
    for (ptrdiff_t ow = 0; ow < w->out_w; ow++) {
        const Span sw = adaptive_span(ow, w->out_w, w->in_w);
        double s = 0;
        for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
            for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++) {
                const CYPOOL_T* r = xp + (d * w->in_h + h) * w->in_w;
                for (ptrdiff_t j = sw.first; j < sw.first + sw.count; j++) s += (double)r[j];
            }
        y[ow] = (CYPOOL_T)(s / (double)(sd.count * sh.count * sw.count));
    }
}

/* Blur pooling (_blur.pyx), channels-first: output row yr of plane xp. rows: this output row's f
 * input rows; cols (OW, f): the input column of each tap; windows [a, b) read f adjacent columns
 * starting at column cols[a * f] + (ow - a) * s (no reflection), the others go through cols.
 * y = sum over i of taps[i] * (sum over j of taps[j] * x[rows[i], cols[ow, j]]), each sum from 0
 * in tap order: the windows of the row are computed side by side, one input row at a time. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_blur_row_cf)(const CYPOOL_T* xp, CYPOOL_T* yr, const int64_t* rows,
                                          const int64_t* cols, const double* taps, ptrdiff_t f,
                                          ptrdiff_t W, ptrdiff_t OW, ptrdiff_t a, ptrdiff_t b,
                                          ptrdiff_t s) {
    double acc[CYPOOL_REDUCE_ROW], part[CYPOOL_REDUCE_ROW];
    for (ptrdiff_t o0 = 0; o0 < OW; o0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t n = OW - o0 < CYPOOL_REDUCE_ROW ? OW - o0 : CYPOOL_REDUCE_ROW;
        /* the chunk's windows read straight from the row: [ia, ib) */
        ptrdiff_t ia = a - o0, ib = b - o0;
        ia = ia < 0 ? 0 : (ia > n ? n : ia);
        ib = ib < ia ? ia : (ib > n ? n : ib);
        for (ptrdiff_t k = 0; k < n; k++) acc[k] = 0;
        for (ptrdiff_t i = 0; i < f; i++) {
            const CYPOOL_T* restrict xr = xp + rows[i] * W;
            double* restrict pt = part;
            for (ptrdiff_t k = 0; k < n; k++) pt[k] = 0;
            if (ib > ia) {
                const CYPOOL_T* restrict r = xr + cols[(o0 + ia) * f];
                const ptrdiff_t m = ib - ia;
                double* restrict q = pt + ia;
                for (ptrdiff_t j = 0; j < f; j++) {
                    const double t = taps[j];
                    if (s == 2)
                        for (ptrdiff_t k = 0; k < m; k++) q[k] += t * (double)r[2 * k + j];
                    else
                        for (ptrdiff_t k = 0; k < m; k++) q[k] += t * (double)r[s * k + j];
                }
            }
            for (ptrdiff_t k = 0; k < n; k++) {
                if (k == ia) k = ib;
                if (k >= n) break;
                const int64_t* c = cols + (o0 + k) * f;
                double v = 0;
                for (ptrdiff_t j = 0; j < f; j++) v += taps[j] * (double)xr[c[j]];
                pt[k] = v;
            }
            const double t = taps[i];
            for (ptrdiff_t k = 0; k < n; k++) acc[k] += t * pt[k];
        }
        for (ptrdiff_t k = 0; k < n; k++) yr[o0 + k] = (CYPOOL_T)acc[k];
    }
}

/* Blur pooling, channels-last: output row yr (OW outputs of C channels) of sample xn, rows and
 * cols as above: acc += (taps[i] * taps[j]) * x over i, then j, one double accumulator per
 * channel, channels in register blocks. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_blur_row_cl)(const CYPOOL_T* xn, CYPOOL_T* yr, const int64_t* rows,
                                          const int64_t* cols, const double* taps, ptrdiff_t f,
                                          ptrdiff_t W, ptrdiff_t OW, ptrdiff_t C) {
    for (ptrdiff_t ow = 0; ow < OW; ow++) {
        const int64_t* cw = cols + ow * f;
        CYPOOL_T* y = yr + ow * C;
        ptrdiff_t c0 = 0;
#if CYPOOL_REDUCE_VECTORS
        for (; c0 + CYPOOL_REDUCE_CB <= C; c0 += CYPOOL_REDUCE_CB) {
            const cypool_r4d zero = {0, 0, 0, 0};
            cypool_r4d a0 = zero, a1 = zero, a2 = zero, a3 = zero;
            for (ptrdiff_t i = 0; i < f; i++)
                for (ptrdiff_t j = 0; j < f; j++) {
                    const double wt = taps[i] * taps[j];
                    const CYPOOL_T* p = xn + (rows[i] * W + cw[j]) * C + c0;
                    a0 += wt * CYPOOL_FN(reduce_load4)(p);
                    a1 += wt * CYPOOL_FN(reduce_load4)(p + 4);
                    a2 += wt * CYPOOL_FN(reduce_load4)(p + 8);
                    a3 += wt * CYPOOL_FN(reduce_load4)(p + 12);
                }
            double s[CYPOOL_REDUCE_CB];
            memcpy(s, &a0, sizeof a0);
            memcpy(s + 4, &a1, sizeof a1);
            memcpy(s + 8, &a2, sizeof a2);
            memcpy(s + 12, &a3, sizeof a3);
            for (int k = 0; k < CYPOOL_REDUCE_CB; k++) y[c0 + k] = (CYPOOL_T)s[k];
        }
#endif
        for (; c0 < C; c0++) {
            double v = 0;
            for (ptrdiff_t i = 0; i < f; i++)
                for (ptrdiff_t j = 0; j < f; j++)
                    v += (taps[i] * taps[j]) * (double)xn[(rows[i] * W + cw[j]) * C + c0];
            y[c0] = (CYPOOL_T)v;
        }
    }
}


/* Stochastic pooling (_stochastic.pyx), training, one window: the cell sampled with uniform u
 * (see _stochastic.pyx for the rules), as its number q in (h, w) window order. x: the window's
 * first cell; cells at x + hh * row + ww * cs. The general loop, for the special windows (NaN,
 * +inf sums, all weights zero) and the rounding fallback. */
CYPOOL_INLINE ptrdiff_t CYPOOL_FN(stochastic_one)(const CYPOOL_T* x, ptrdiff_t row, ptrdiff_t cs,
                                                  ptrdiff_t k_h, ptrdiff_t k_w, double u) {
    const ptrdiff_t cells = k_h * k_w;
    double total = 0, running = 0;
    int has_nan = 0;
    for (ptrdiff_t q = 0; q < cells; q++) {
        const double a = (double)x[(q / k_w) * row + (q % k_w) * cs];
        has_nan |= a != a;
        total += a > 0 ? a : 0.0;
    }
    if (has_nan) {
        for (ptrdiff_t q = 0; q < cells; q++) {
            const double a = (double)x[(q / k_w) * row + (q % k_w) * cs];
            if (a != a) return q;
        }
    }
    ptrdiff_t chosen = -1;
    if (total == INFINITY) {
        for (ptrdiff_t q = 0; q < cells && chosen < 0; q++)
            if ((double)x[(q / k_w) * row + (q % k_w) * cs] == INFINITY) chosen = q;
    } else if (total > 0) {
        const double threshold = u * total;
        for (ptrdiff_t q = 0; q < cells; q++) {
            const double a = (double)x[(q / k_w) * row + (q % k_w) * cs];
            const double r = a > 0 ? a : 0.0;
            running += r;
            if (r > 0) chosen = q;
            if (running > threshold) break;
        }
    } else {
        ptrdiff_t j = (ptrdiff_t)(u * (double)cells);
        return j >= cells ? cells - 1 : j;
    }
    if (chosen < 0)   /* a finite float64 sum that overflowed to +inf: the first positive cell */
        for (ptrdiff_t q = 0; q < cells && chosen < 0; q++)
            if ((double)x[(q / k_w) * row + (q % k_w) * cs] > 0) chosen = q;
    return chosen;
}

/* Stochastic pooling, training: n windows side by side. Window i: first cell x + i * step, cells
 * at + (hh * in_w + ww) * cs (k_h x k_w), uniform cypool_splitmix_uniform(key, t0 + i * tstep),
 * output y[i] and idx[i] = pos0 + i * pstep + hh * in_w + ww. The sums and the crossing test run
 * cell by cell over all windows at once (vector loops, no branch on the data); windows with a
 * NaN, an infinite or a zero sum take stochastic_one. Same sums, same order: same cells. */
CYPOOL_CLONES
static void CYPOOL_FN(cypool_stochastic_row)(const CYPOOL_T* x, CYPOOL_T* y, int64_t* idx,
                                             ptrdiff_t n, ptrdiff_t step, ptrdiff_t cs,
                                             ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t pos0,
                                             ptrdiff_t pstep, ptrdiff_t in_w, uint64_t key,
                                             uint64_t t0, uint64_t tstep) {
    double total[CYPOOL_REDUCE_ROW], thr[CYPOOL_REDUCE_ROW], run[CYPOOL_REDUCE_ROW];
    int64_t nan[CYPOOL_REDUCE_ROW], done[CYPOOL_REDUCE_ROW], pick[CYPOOL_REDUCE_ROW];
    for (ptrdiff_t i0 = 0; i0 < n; i0 += CYPOOL_REDUCE_ROW) {
        const ptrdiff_t m = n - i0 < CYPOOL_REDUCE_ROW ? n - i0 : CYPOOL_REDUCE_ROW;
        const CYPOOL_T* xb = x + i0 * step;
        for (ptrdiff_t i = 0; i < m; i++) {
            total[i] = 0;
            run[i] = 0;
            nan[i] = 0;
            done[i] = 0;
            pick[i] = -1;
        }
        for (ptrdiff_t hh = 0; hh < k_h; hh++)
            for (ptrdiff_t ww = 0; ww < k_w; ww++) {
                const CYPOOL_T* restrict c = xb + (hh * in_w + ww) * cs;
                for (ptrdiff_t i = 0; i < m; i++) {
                    const double a = (double)c[i * step];
                    nan[i] |= a != a;
                    total[i] += a > 0 ? a : 0.0;
                }
            }
        for (ptrdiff_t i = 0; i < m; i++)
            thr[i] = cypool_splitmix_uniform(key, t0 + (uint64_t)(i0 + i) * tstep) * total[i];
        for (ptrdiff_t hh = 0; hh < k_h; hh++)
            for (ptrdiff_t ww = 0; ww < k_w; ww++) {
                const int64_t at = hh * in_w + ww;   /* the cell's plane-flat offset */
                const CYPOOL_T* restrict c = xb + at * cs;
                for (ptrdiff_t i = 0; i < m; i++) {
                    const double a = (double)c[i * step];
                    const double r = a > 0 ? a : 0.0;
                    run[i] += r;
                    pick[i] = (r > 0) & !done[i] ? at : pick[i];
                    done[i] |= run[i] > thr[i];
                }
            }
        for (ptrdiff_t i = 0; i < m; i++) {
            ptrdiff_t at = pick[i];
            if (nan[i] || !(total[i] > 0) || total[i] == INFINITY || at < 0) {
                const ptrdiff_t q = CYPOOL_FN(stochastic_one)(
                    xb + i * step, in_w * cs, cs, k_h, k_w,
                    cypool_splitmix_uniform(key, t0 + (uint64_t)(i0 + i) * tstep));
                at = (q / k_w) * in_w + q % k_w;
            }
            y[i0 + i] = xb[i * step + at * cs];
            idx[i0 + i] = pos0 + (i0 + i) * pstep + at;
        }
    }
}

#undef CYPOOL_T
#undef CYPOOL_SUF
#undef CYPOOL_IS_FLOAT

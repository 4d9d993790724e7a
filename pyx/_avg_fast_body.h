/* Body of _avg_fast.h, included once per (AVGF_T data, AVGF_ACC accumulator, AVGF_SUF suffix).
 * Every function handles a range of rows and allocates its own row buffers, so the caller can
 * hand each OpenMP thread one contiguous range; it returns nonzero only when malloc failed (the
 * caller then runs the general kernel). */
#define AVGF_CAT2(a, b) a##b
#define AVGF_CAT(a, b) AVGF_CAT2(a, b)
#define AVGF_FN(name) AVGF_CAT(name, AVGF_SUF)

/* inv[ow] = 1 / divisor of window (fdh, ow): refilled only when the (d, h) factor changes, which
 * happens at the top and bottom borders only. */
static inline void AVGF_FN(avgf_fill_inv)(AVGF_ACC* inv, const double* fw, double fdh,
                                          ptrdiff_t OW, ptrdiff_t divisor_override) {
    for (ptrdiff_t j = 0; j < OW; j++)
        inv[j] = (AVGF_ACC)(1.0 / (divisor_override ? (double)divisor_override : fdh * fw[j]));
}

/* Forward, channels-first. Rows are (plane, od, oh). */
CYPOOL_CLONES
static int AVGF_FN(avgf_fwd_cf)(const AVGF_T* x, AVGF_T* y, const avgf_geom* g,
                                ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = g->in_w, OW = g->out_w, pw = g->pad_w, kw = g->k_w, sw = g->s_w;
    const ptrdiff_t rpp = g->out_d * g->out_h, in_plane = g->in_d * g->in_h * W;
    ptrdiff_t lp = (OW - 1) * sw + kw;
    if (lp < pw + W) lp = pw + W;
    AVGF_ACC* vp = (AVGF_ACC*)malloc((size_t)lp * sizeof(AVGF_ACC));
    AVGF_ACC* inv = (AVGF_ACC*)malloc((size_t)OW * sizeof(AVGF_ACC));
    AVGF_ACC* acc = (AVGF_ACC*)malloc((size_t)OW * sizeof(AVGF_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    if (!vp || !inv || !acc || !fw) {
        free(vp); free(inv); free(acc); free(fw);
        return 1;
    }
    /* The padding cells of the row buffer stay zero: border windows sum them like any cell. */
    for (ptrdiff_t i = 0; i < lp; i++) vp[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avgf_factor(avgf_padded_span(j, kw, sw, pw, g->padend_w, W), g->count_include_pad);
    double cached = -1.0;
    AVGF_ACC* restrict v = vp + pw;
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t plane = row / rpp, r = row % rpp, od = r / g->out_h, oh = r % g->out_h;
        avgf_span sd = avgf_padded_span(od, g->k_d, g->s_d, g->pad_d, g->padend_d, g->in_d);
        avgf_span sh = avgf_padded_span(oh, g->k_h, g->s_h, g->pad_h, g->padend_h, g->in_h);
        const AVGF_T* xp = x + plane * in_plane;
        int first = 1;
        /* Vertical pass: rows in ascending order, each a contiguous vectorised add. */
        for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
            for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++) {
                const AVGF_T* restrict src = xp + (d * g->in_h + h) * W;
                if (first) {
                    for (ptrdiff_t i = 0; i < W; i++) v[i] = (AVGF_ACC)src[i];
                    first = 0;
                } else {
                    for (ptrdiff_t i = 0; i < W; i++) v[i] += (AVGF_ACC)src[i];
                }
            }
        if (first)
            for (ptrdiff_t i = 0; i < W; i++) v[i] = 0;
        double fdh = avgf_factor(sd, g->count_include_pad) * avgf_factor(sh, g->count_include_pad);
        if (fdh != cached) {
            AVGF_FN(avgf_fill_inv)(inv, fw, fdh, OW, g->divisor_override);
            cached = fdh;
        }
        AVGF_T* restrict yr = y + row * OW;
        const AVGF_ACC* restrict b = vp;
        const AVGF_ACC* restrict s = inv;
        /* Horizontal pass. */
        if (kw == 2 && sw == 2) {
            for (ptrdiff_t j = 0; j < OW; j++) yr[j] = (AVGF_T)((b[2 * j] + b[2 * j + 1]) * s[j]);
        } else if (kw == 3 && sw == 1) {
            for (ptrdiff_t j = 0; j < OW; j++) yr[j] = (AVGF_T)((b[j] + b[j + 1] + b[j + 2]) * s[j]);
        } else if (sw == 1) {
            AVGF_ACC* restrict a = acc;
            for (ptrdiff_t j = 0; j < OW; j++) a[j] = b[j];
            for (ptrdiff_t t = 1; t < kw; t++)
                for (ptrdiff_t j = 0; j < OW; j++) a[j] += b[j + t];
            for (ptrdiff_t j = 0; j < OW; j++) yr[j] = (AVGF_T)(a[j] * s[j]);
        } else {
            for (ptrdiff_t j = 0; j < OW; j++) {
                const AVGF_ACC* c = b + j * sw;
                AVGF_ACC sum = c[0];
                for (ptrdiff_t t = 1; t < kw; t++) sum += c[t];
                yr[j] = (AVGF_T)(sum * s[j]);
            }
        }
    }
    free(vp); free(inv); free(acc); free(fw);
    return 0;
}

/* Forward, channels-last. Rows are (n, od, oh); the row buffer holds (W + padding) x C values
 * and every loop runs over channels innermost, contiguous in memory. */
CYPOOL_CLONES
static int AVGF_FN(avgf_fwd_cl)(const AVGF_T* x, AVGF_T* y, const avgf_geom* g, ptrdiff_t C,
                                ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = g->in_w, OW = g->out_w, pw = g->pad_w, kw = g->k_w, sw = g->s_w;
    const ptrdiff_t rps = g->out_d * g->out_h, in_sample = g->in_d * g->in_h * W * C;
    const ptrdiff_t WC = W * C;
    ptrdiff_t lp = (OW - 1) * sw + kw;
    if (lp < pw + W) lp = pw + W;
    AVGF_ACC* vp = (AVGF_ACC*)malloc((size_t)(lp * C) * sizeof(AVGF_ACC));
    AVGF_ACC* inv = (AVGF_ACC*)malloc((size_t)OW * sizeof(AVGF_ACC));
    AVGF_ACC* acc = (AVGF_ACC*)malloc((size_t)C * sizeof(AVGF_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    if (!vp || !inv || !acc || !fw) {
        free(vp); free(inv); free(acc); free(fw);
        return 1;
    }
    for (ptrdiff_t i = 0; i < lp * C; i++) vp[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avgf_factor(avgf_padded_span(j, kw, sw, pw, g->padend_w, W), g->count_include_pad);
    double cached = -1.0;
    AVGF_ACC* restrict v = vp + pw * C;
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t n = row / rps, r = row % rps, od = r / g->out_h, oh = r % g->out_h;
        avgf_span sd = avgf_padded_span(od, g->k_d, g->s_d, g->pad_d, g->padend_d, g->in_d);
        avgf_span sh = avgf_padded_span(oh, g->k_h, g->s_h, g->pad_h, g->padend_h, g->in_h);
        const AVGF_T* xs = x + n * in_sample;
        double fdh = avgf_factor(sd, g->count_include_pad) * avgf_factor(sh, g->count_include_pad);
        if (fdh != cached) {
            AVGF_FN(avgf_fill_inv)(inv, fw, fdh, OW, g->divisor_override);
            cached = fdh;
        }
        AVGF_T* yr = y + row * OW * C;
        if (kw == 2 && sw == 2 && pw == 0 && 2 * OW <= W && sd.count * sh.count == 2) {
            /* Two input rows, 2-wide windows (the interior of a 2x2/2 pool): the four cells are
             * added straight from the input, in the separable order, skipping the row buffer. */
            const AVGF_T* restrict r0 = xs + (sd.first * g->in_h + sh.first) * WC;
            const AVGF_T* restrict r1 = sh.count == 2 ? r0 + WC : r0 + g->in_h * WC;
            for (ptrdiff_t j = 0; j < OW; j++) {
                const AVGF_T* restrict a = r0 + 2 * j * C;
                const AVGF_T* restrict b = r1 + 2 * j * C;
                AVGF_T* restrict yo = yr + j * C;
                const AVGF_ACC sc = inv[j];
                for (ptrdiff_t c = 0; c < C; c++)
                    yo[c] = (AVGF_T)((((AVGF_ACC)a[c] + (AVGF_ACC)b[c]) +
                                      ((AVGF_ACC)a[C + c] + (AVGF_ACC)b[C + c])) * sc);
            }
            continue;
        }
        int first = 1;
        for (ptrdiff_t d = sd.first; d < sd.first + sd.count; d++)
            for (ptrdiff_t h = sh.first; h < sh.first + sh.count; h++) {
                const AVGF_T* restrict src = xs + (d * g->in_h + h) * WC;
                if (first) {
                    for (ptrdiff_t i = 0; i < WC; i++) v[i] = (AVGF_ACC)src[i];
                    first = 0;
                } else {
                    for (ptrdiff_t i = 0; i < WC; i++) v[i] += (AVGF_ACC)src[i];
                }
            }
        if (first)
            for (ptrdiff_t i = 0; i < WC; i++) v[i] = 0;
        for (ptrdiff_t j = 0; j < OW; j++) {
            const AVGF_ACC* restrict a0 = vp + j * sw * C;
            AVGF_T* restrict yo = yr + j * C;
            const AVGF_ACC s = inv[j];
            if (kw == 2) {
                const AVGF_ACC* restrict a1 = a0 + C;
                for (ptrdiff_t c = 0; c < C; c++) yo[c] = (AVGF_T)((a0[c] + a1[c]) * s);
            } else if (kw == 3) {
                const AVGF_ACC* restrict a1 = a0 + C;
                const AVGF_ACC* restrict a2 = a1 + C;
                for (ptrdiff_t c = 0; c < C; c++) yo[c] = (AVGF_T)((a0[c] + a1[c] + a2[c]) * s);
            } else {
                AVGF_ACC* restrict a = acc;
                for (ptrdiff_t c = 0; c < C; c++) a[c] = a0[c];
                for (ptrdiff_t t = 1; t < kw; t++) {
                    const AVGF_ACC* restrict at = a0 + t * C;
                    for (ptrdiff_t c = 0; c < C; c++) a[c] += at[c];
                }
                for (ptrdiff_t c = 0; c < C; c++) yo[c] = (AVGF_T)(a[c] * s);
            }
        }
    }
    free(vp); free(inv); free(acc); free(fw);
    return 0;
}

/* Backward (gather form), channels-first. Rows are input rows (plane, d, h); u holds the sum of
 * the scaled gradient rows covering this input row, with kw - 1 zeros before it so every input
 * cell sums a fixed number of buffer cells. */
CYPOOL_CLONES
static int AVGF_FN(avgf_bwd_cf)(const AVGF_T* go, AVGF_T* gi, const avgf_geom* g,
                                ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = g->in_w, OW = g->out_w, pw = g->pad_w, kw = g->k_w, sw = g->s_w;
    const ptrdiff_t rpp = g->in_d * g->in_h, out_plane = g->out_d * g->out_h * OW;
    const ptrdiff_t lu = kw + OW + W + pw;
    AVGF_ACC* ub = (AVGF_ACC*)malloc((size_t)lu * sizeof(AVGF_ACC));
    AVGF_ACC* inv = (AVGF_ACC*)malloc((size_t)OW * sizeof(AVGF_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    if (!ub || !inv || !fw) {
        free(ub); free(inv); free(fw);
        return 1;
    }
    /* Strided overlapping windows (neither kw == sw nor sw == 1): each input column's covering
     * outputs [lo, hi), computed once here rather than with two divisions per cell per row. */
    ptrdiff_t* cov = NULL;
    if (kw != sw && sw != 1 && !(kw == 3 && sw == 2)) {
        cov = (ptrdiff_t*)malloc((size_t)(2 * W) * sizeof(ptrdiff_t));
        if (!cov) {
            free(ub); free(inv); free(fw);
            return 1;
        }
        for (ptrdiff_t i = 0; i < W; i++) avgf_cover(i, kw, sw, pw, OW, &cov[2 * i], &cov[2 * i + 1]);
    }
    for (ptrdiff_t i = 0; i < lu; i++) ub[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avgf_factor(avgf_padded_span(j, kw, sw, pw, g->padend_w, W), g->count_include_pad);
    double cached = -1.0;
    AVGF_ACC* restrict u = ub + kw - 1;
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t plane = row / rpp, r = row % rpp, d = r / g->in_h, h = r % g->in_h;
        ptrdiff_t d0, d1, h0, h1;
        avgf_cover(d, g->k_d, g->s_d, g->pad_d, g->out_d, &d0, &d1);
        avgf_cover(h, g->k_h, g->s_h, g->pad_h, g->out_h, &h0, &h1);
        const AVGF_T* gp = go + plane * out_plane;
        int first = 1;
        for (ptrdiff_t od = d0; od < d1; od++) {
            avgf_span sd = avgf_padded_span(od, g->k_d, g->s_d, g->pad_d, g->padend_d, g->in_d);
            for (ptrdiff_t oh = h0; oh < h1; oh++) {
                avgf_span sh = avgf_padded_span(oh, g->k_h, g->s_h, g->pad_h, g->padend_h, g->in_h);
                double fdh = avgf_factor(sd, g->count_include_pad) *
                             avgf_factor(sh, g->count_include_pad);
                if (fdh != cached) {
                    AVGF_FN(avgf_fill_inv)(inv, fw, fdh, OW, g->divisor_override);
                    cached = fdh;
                }
                const AVGF_T* restrict src = gp + (od * g->out_h + oh) * OW;
                const AVGF_ACC* restrict s = inv;
                if (first) {
                    for (ptrdiff_t j = 0; j < OW; j++) u[j] = (AVGF_ACC)src[j] * s[j];
                    first = 0;
                } else {
                    for (ptrdiff_t j = 0; j < OW; j++) u[j] += (AVGF_ACC)src[j] * s[j];
                }
            }
        }
        if (first)
            for (ptrdiff_t j = 0; j < OW; j++) u[j] = 0;
        AVGF_T* restrict gr = gi + row * W;
        if (kw == sw) {
            /* Each cell lies in at most one window: a broadcast write. */
            if (kw == 2 && pw == 0) {
                /* Ceil mode may end in a window with one real cell. */
                const ptrdiff_t pairs = OW < W / 2 ? OW : W / 2;
                for (ptrdiff_t j = 0; j < pairs; j++) {
                    AVGF_T val = (AVGF_T)u[j];
                    gr[2 * j] = val;
                    gr[2 * j + 1] = val;
                }
                for (ptrdiff_t i = 2 * pairs; i < W; i++)
                    gr[i] = i / 2 < OW ? (AVGF_T)u[i / 2] : (AVGF_T)0;
            } else {
                for (ptrdiff_t i = 0; i < W; i++) {
                    ptrdiff_t j = (i + pw) / sw;
                    gr[i] = j < OW ? (AVGF_T)u[j] : (AVGF_T)0;
                }
            }
        } else if (sw == 1) {
            const AVGF_ACC* restrict b = ub + pw;
            if (kw == 3) {
                for (ptrdiff_t i = 0; i < W; i++) gr[i] = (AVGF_T)(b[i + 2] + b[i + 1] + b[i]);
            } else {
                for (ptrdiff_t i = 0; i < W; i++) {
                    AVGF_ACC sum = b[i + kw - 1];
                    for (ptrdiff_t t = kw - 2; t >= 0; t--) sum += b[i + t];
                    gr[i] = (AVGF_T)sum;
                }
            }
        } else if (kw == 3 && sw == 2) {
            /* The common overlapping stride-2 window, branch-free: cell i (t = i + pw) lies in
             * windows t/2 - 1 and t/2 when t is even, in t/2 alone when t is odd. u[-1] and
             * u[j >= OW] are zeros, and the sum starts at 0 like the general loop's, so every
             * value (signed zeros too) is the general loop's. */
            for (ptrdiff_t i = 0; i < W; i++) {
                const ptrdiff_t t = i + pw, m = t >> 1;
                const AVGF_ACC prev = (t & 1) ? (AVGF_ACC)0 : u[m - 1];
                gr[i] = (AVGF_T)(((AVGF_ACC)0 + prev) + u[m]);
            }
        } else {
            for (ptrdiff_t i = 0; i < W; i++) {
                AVGF_ACC sum = 0;
                for (ptrdiff_t j = cov[2 * i]; j < cov[2 * i + 1]; j++) sum += u[j];
                gr[i] = (AVGF_T)sum;
            }
        }
    }
    free(ub); free(inv); free(fw); free(cov);
    return 0;
}

/* Backward (gather form), channels-last; rows are (n, d, h). */
CYPOOL_CLONES
static int AVGF_FN(avgf_bwd_cl)(const AVGF_T* go, AVGF_T* gi, const avgf_geom* g, ptrdiff_t C,
                                ptrdiff_t row0, ptrdiff_t row1) {
    const ptrdiff_t W = g->in_w, OW = g->out_w, pw = g->pad_w, kw = g->k_w, sw = g->s_w;
    const ptrdiff_t rps = g->in_d * g->in_h, out_sample = g->out_d * g->out_h * OW * C;
    const ptrdiff_t lu = kw + OW + W + pw;
    AVGF_ACC* ub = (AVGF_ACC*)malloc((size_t)(lu * C) * sizeof(AVGF_ACC));
    AVGF_ACC* inv = (AVGF_ACC*)malloc((size_t)OW * sizeof(AVGF_ACC));
    AVGF_ACC* acc = (AVGF_ACC*)malloc((size_t)C * sizeof(AVGF_ACC));
    double* fw = (double*)malloc((size_t)OW * sizeof(double));
    if (!ub || !inv || !acc || !fw) {
        free(ub); free(inv); free(acc); free(fw);
        return 1;
    }
    for (ptrdiff_t i = 0; i < lu * C; i++) ub[i] = 0;
    for (ptrdiff_t j = 0; j < OW; j++)
        fw[j] = avgf_factor(avgf_padded_span(j, kw, sw, pw, g->padend_w, W), g->count_include_pad);
    double cached = -1.0;
    AVGF_ACC* restrict u = ub + (kw - 1) * C;
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t n = row / rps, r = row % rps, d = r / g->in_h, h = r % g->in_h;
        ptrdiff_t d0, d1, h0, h1;
        avgf_cover(d, g->k_d, g->s_d, g->pad_d, g->out_d, &d0, &d1);
        avgf_cover(h, g->k_h, g->s_h, g->pad_h, g->out_h, &h0, &h1);
        const AVGF_T* gs = go + n * out_sample;
        int first = 1;
        for (ptrdiff_t od = d0; od < d1; od++) {
            avgf_span sd = avgf_padded_span(od, g->k_d, g->s_d, g->pad_d, g->padend_d, g->in_d);
            for (ptrdiff_t oh = h0; oh < h1; oh++) {
                avgf_span sh = avgf_padded_span(oh, g->k_h, g->s_h, g->pad_h, g->padend_h, g->in_h);
                double fdh = avgf_factor(sd, g->count_include_pad) *
                             avgf_factor(sh, g->count_include_pad);
                if (fdh != cached) {
                    AVGF_FN(avgf_fill_inv)(inv, fw, fdh, OW, g->divisor_override);
                    cached = fdh;
                }
                const AVGF_T* src = gs + (od * g->out_h + oh) * OW * C;
                for (ptrdiff_t j = 0; j < OW; j++) {
                    const AVGF_T* restrict sj = src + j * C;
                    AVGF_ACC* restrict uj = u + j * C;
                    const AVGF_ACC s = inv[j];
                    if (first) {
                        for (ptrdiff_t c = 0; c < C; c++) uj[c] = (AVGF_ACC)sj[c] * s;
                    } else {
                        for (ptrdiff_t c = 0; c < C; c++) uj[c] += (AVGF_ACC)sj[c] * s;
                    }
                }
                first = 0;
            }
        }
        if (first)
            for (ptrdiff_t i = 0; i < OW * C; i++) u[i] = 0;
        AVGF_T* gr = gi + row * W * C;
        for (ptrdiff_t i = 0; i < W; i++) {
            AVGF_T* restrict go_ = gr + i * C;
            if (kw == sw) {
                ptrdiff_t j = (i + pw) / sw;
                if (j < OW) {
                    const AVGF_ACC* restrict uj = u + j * C;
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (AVGF_T)uj[c];
                } else {
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = 0;
                }
            } else if (sw == 1) {
                const AVGF_ACC* restrict b0 = ub + (i + pw) * C;
                if (kw == 3) {
                    const AVGF_ACC* restrict b1 = b0 + C;
                    const AVGF_ACC* restrict b2 = b1 + C;
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (AVGF_T)(b2[c] + b1[c] + b0[c]);
                } else {
                    AVGF_ACC* restrict a = acc;
                    const AVGF_ACC* restrict bl = b0 + (kw - 1) * C;
                    for (ptrdiff_t c = 0; c < C; c++) a[c] = bl[c];
                    for (ptrdiff_t t = kw - 2; t >= 0; t--) {
                        const AVGF_ACC* restrict bt = b0 + t * C;
                        for (ptrdiff_t c = 0; c < C; c++) a[c] += bt[c];
                    }
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (AVGF_T)a[c];
                }
            } else if (kw == 3 && sw == 2) {
                /* as in the channels-first backward: cell i (t = i + pw) lies in windows t/2 - 1
                 * and t/2 when t is even, in t/2 alone when odd; u has zeros before window 0
                 * and past OW - 1, and the sums start at 0 like the general loop's */
                const ptrdiff_t t = i + pw;
                const AVGF_ACC* restrict um = u + (t >> 1) * C;
                if (t & 1) {
                    for (ptrdiff_t c = 0; c < C; c++) go_[c] = (AVGF_T)((AVGF_ACC)0 + um[c]);
                } else {
                    const AVGF_ACC* restrict up = um - C;
                    for (ptrdiff_t c = 0; c < C; c++)
                        go_[c] = (AVGF_T)(((AVGF_ACC)0 + up[c]) + um[c]);
                }
            } else {
                ptrdiff_t a0, e0;
                avgf_cover(i, kw, sw, pw, OW, &a0, &e0);
                AVGF_ACC* restrict a = acc;
                for (ptrdiff_t c = 0; c < C; c++) a[c] = 0;
                for (ptrdiff_t j = a0; j < e0; j++) {
                    const AVGF_ACC* restrict uj = u + j * C;
                    for (ptrdiff_t c = 0; c < C; c++) a[c] += uj[c];
                }
                for (ptrdiff_t c = 0; c < C; c++) go_[c] = (AVGF_T)a[c];
            }
        }
    }
    free(ub); free(inv); free(acc); free(fw);
    return 0;
}

#undef AVGF_FN
#undef AVGF_CAT
#undef AVGF_CAT2

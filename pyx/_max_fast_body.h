/* Body of _max_fast.h, included once per data type with CYPOOL_T (the compute type: float or
 * double), CYPOOL_S (the storage type: CYPOOL_T, or uint16_t for float16 and bfloat16),
 * CYPOOL_LD(v) / CYPOOL_ST(v) (storage -> compute -> storage; identities when the two types are
 * one), CYPOOL_HALF (1 for the 16-bit storage types), CYPOOL_IDX (the in-loop index type: an
 * integer as wide as CYPOOL_T, so a blend moves one vector of each) and CYPOOL_SUF (_f32, _f64,
 * _f16, _bf16) defined; the 16-bit types also CYPOOL_LDN(src, dst, n) / CYPOOL_STN(src, dst, n)
 * (a row converted to float and back: _half.h), and call the float32 instance's sweeps on rows
 * so converted. CYPOOL_FN(name) is name followed by the suffix (_clones.h).
 * Entry points: CYPOOL_FN(cypool_max_fwd_cf), CYPOOL_FN(cypool_max_fwd_cl), for float and double
 * CYPOOL_FN(cypool_max_fwd_cf_2x2), and for the 16-bit
 * types CYPOOL_FN(cypool_max_bwd_scatter). */

/* One window row of a chunk of CF outputs, stride S (constant when specialised): strided loads
 * and a blend, vectorised across outputs. */
CYPOOL_INLINE void CYPOOL_FN(max_cf_pass)(const CYPOOL_S* restrict src, CYPOOL_T* restrict m,
                                          ptrdiff_t n, ptrdiff_t S)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        CYPOOL_T v = CYPOOL_LD(src[j * S]);
        int mk = (v > m[j]) | (v != v);
        m[j] = CYPOOL_SEL(mk, v, m[j]);
    }
}
CYPOOL_INLINE void CYPOOL_FN(max_cf_pass_idx)(const CYPOOL_S* restrict src, CYPOOL_T* restrict m,
                                            CYPOOL_IDX* restrict p, CYPOOL_IDX off, ptrdiff_t n,
                                            ptrdiff_t S)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        CYPOOL_T v = CYPOOL_LD(src[j * S]);
        int mk = (v > m[j]) | (v != v);
        m[j] = CYPOOL_SEL(mk, v, m[j]);
        p[j] = CYPOOL_SEL(mk, off + (CYPOOL_IDX)(j * S), p[j]);
    }
}
/* All K cells of one window row (no dilation) in one sweep: one load and store of the running
 * maximum per K cells. Called with constant K and S so the cell loop unrolls. */
CYPOOL_INLINE void CYPOOL_FN(max_cf_rowk)(const CYPOOL_S* restrict src, CYPOOL_T* restrict m,
                                        CYPOOL_IDX* restrict p, CYPOOL_IDX off, ptrdiff_t n,
                                        ptrdiff_t K, ptrdiff_t S)
{
    if (p) {
        for (ptrdiff_t j = 0; j < n; j++) {
            CYPOOL_T mm = m[j];
            CYPOOL_IDX pp = p[j];
            for (ptrdiff_t c = 0; c < K; c++) {
                CYPOOL_T v = CYPOOL_LD(src[j * S + c]);
                int mk = (v > mm) | (v != v);
                mm = CYPOOL_SEL(mk, v, mm);
                pp = CYPOOL_SEL(mk, off + (CYPOOL_IDX)(j * S + c), pp);
            }
            m[j] = mm;
            p[j] = pp;
        }
    } else {
        for (ptrdiff_t j = 0; j < n; j++) {
            CYPOOL_T mm = m[j];
            for (ptrdiff_t c = 0; c < K; c++) {
                CYPOOL_T v = CYPOOL_LD(src[j * S + c]);
                int mk = (v > mm) | (v != v);
                mm = CYPOOL_SEL(mk, v, mm);
            }
            m[j] = mm;
        }
    }
}

/* The general kernel's loop for one output cell (borders). */
CYPOOL_INLINE void CYPOOL_FN(max_cf_cell)(const CYPOOL_S* xp, CYPOOL_S* y, int64_t* idx,
                                          const Window* w, ptrdiff_t df, ptrdiff_t dc, ptrdiff_t hf,
                                          ptrdiff_t hc, ptrdiff_t ow)
{
    const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
    const ptrdiff_t wf = sw.first, wc = sw.count;
    CYPOOL_T m = -INFINITY;
    int64_t best = (df * w->in_h + hf) * w->in_w + wf;
    for (ptrdiff_t a = 0; a < dc; a++)
        for (ptrdiff_t b = 0; b < hc; b++) {
            ptrdiff_t pos = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w + wf;
            for (ptrdiff_t c = 0; c < wc; c++) {
                CYPOOL_T v = CYPOOL_LD(xp[pos + c * w->dil_w]);
                if (v > m || v != v) { m = v; best = pos + c * w->dil_w; }
            }
        }
    *y = CYPOOL_ST(m);
    if (idx) *idx = best;
}

/* One output row (plane, od, oh) of a channels-first tensor: borders cell by cell, the interior
 * (windows wholly inside along w) in chunks, one pass per window cell over the chunk. The pass
 * order is the window order, so each output sees its cells in the general kernel's order. */
CYPOOL_INLINE void CYPOOL_FN(max_cf_row)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                         const Window* w, ptrdiff_t row, ptrdiff_t plane,
                                         ptrdiff_t od, ptrdiff_t oh, ptrdiff_t w_lo,
                                         ptrdiff_t w_hi)
{
    const CYPOOL_S* xp = x + plane * w->in_d * w->in_h * w->in_w;
    CYPOOL_S* yr = y + row * w->out_w;
    int64_t* ir = idx ? idx + row * w->out_w : NULL;
    const Span sd = dilated_span(od, w->k_d, w->s_d, w->pad_d, w->dil_d, w->in_d);
    const Span sh = dilated_span(oh, w->k_h, w->s_h, w->pad_h, w->dil_h, w->in_h);
    const ptrdiff_t df = sd.first, dc = sd.count, hf = sh.first, hc = sh.count;
    ptrdiff_t lo = w_lo, hi = w_hi, ow;
    if (dc == 0 || hc == 0) { lo = hi = w->out_w; }
    for (ow = 0; ow < lo; ow++)
        CYPOOL_FN(max_cf_cell)(xp, yr + ow, ir ? ir + ow : NULL, w, df, dc, hf, hc, ow);
    for (ow = hi; ow < w->out_w; ow++)
        CYPOOL_FN(max_cf_cell)(xp, yr + ow, ir ? ir + ow : NULL, w, df, dc, hf, hc, ow);
    const ptrdiff_t S = w->s_w;
    /* Common small windows get a whole-row sweep with constant K and S. */
    int kind = 0;
    if (w->dil_w == 1 && (w->k_w == 2 || w->k_w == 3) && (S == 1 || S == 2))
        kind = (w->k_w == 2 ? 1 : 2) + (S == 1 ? 2 : 0);
    for (ptrdiff_t o0 = lo; o0 < hi; o0 += CYPOOL_CF_CHUNK) {
        ptrdiff_t n = hi - o0 < CYPOOL_CF_CHUNK ? hi - o0 : CYPOOL_CF_CHUNK;
        /* maxima are swept in place in the output row (L1-resident per chunk), or in a float
         * buffer stored in half precision on the way out; positions in a narrow buffer widened
         * on the way out */
#if CYPOOL_HALF
        CYPOOL_T m[CYPOOL_CF_CHUNK];
        float xb[CYPOOL_HALF_ROW];   /* a window row's input, in float */
#else
        CYPOOL_T* m = yr + o0;
#endif
        CYPOOL_IDX p[CYPOOL_CF_CHUNK];
        ptrdiff_t w0 = o0 * S - w->pad_w;
        for (ptrdiff_t j = 0; j < n; j++) m[j] = -INFINITY;
        if (ir) {
            CYPOOL_IDX first = (CYPOOL_IDX)((df * w->in_h + hf) * w->in_w + w0);
            for (ptrdiff_t j = 0; j < n; j++) p[j] = first + (CYPOOL_IDX)(j * S);
        }
        for (ptrdiff_t a = 0; a < dc; a++)
            for (ptrdiff_t b = 0; b < hc; b++) {
                ptrdiff_t rp = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w + w0;
                if (kind) {
                    CYPOOL_IDX* pp = ir ? p : NULL;
                    CYPOOL_IDX r = (CYPOOL_IDX)rp;
#if CYPOOL_HALF
                    /* the window row's cells in float once (_half.h), then float32's sweep */
                    CYPOOL_LDN(xp + rp, xb, (n - 1) * S + w->k_w);
                    switch (kind) {
                    case 1: max_cf_rowk_f32(xb, m, pp, r, n, 2, 2); break;
                    case 2: max_cf_rowk_f32(xb, m, pp, r, n, 3, 2); break;
                    case 3: max_cf_rowk_f32(xb, m, pp, r, n, 2, 1); break;
                    default: max_cf_rowk_f32(xb, m, pp, r, n, 3, 1); break;
                    }
                    continue;
#endif
                    switch (kind) {
                    case 1: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 2, 2); break;
                    case 2: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 3, 2); break;
                    case 3: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 2, 1); break;
                    default: CYPOOL_FN(max_cf_rowk)(xp + rp, m, pp, r, n, 3, 1); break;
                    }
                    continue;
                }
#if CYPOOL_HALF
                /* other windows: the same, when the row's span fits the buffer */
                const ptrdiff_t span = (n - 1) * S + (w->k_w - 1) * w->dil_w + 1;
                if (span <= CYPOOL_HALF_ROW) {
                    CYPOOL_LDN(xp + rp, xb, span);
                    for (ptrdiff_t c = 0; c < w->k_w; c++) {
                        const ptrdiff_t off = c * w->dil_w;
                        const CYPOOL_IDX o = (CYPOOL_IDX)(rp + off);
                        if (ir) {
                            if (S == 1) max_cf_pass_idx_f32(xb + off, m, p, o, n, 1);
                            else if (S == 2) max_cf_pass_idx_f32(xb + off, m, p, o, n, 2);
                            else max_cf_pass_idx_f32(xb + off, m, p, o, n, S);
                        } else {
                            if (S == 1) max_cf_pass_f32(xb + off, m, n, 1);
                            else if (S == 2) max_cf_pass_f32(xb + off, m, n, 2);
                            else max_cf_pass_f32(xb + off, m, n, S);
                        }
                    }
                    continue;
                }
#endif
                for (ptrdiff_t c = 0; c < w->k_w; c++) {
                    ptrdiff_t off = rp + c * w->dil_w;
                    if (ir) {
                        CYPOOL_IDX o = (CYPOOL_IDX)off;
                        if (S == 1) CYPOOL_FN(max_cf_pass_idx)(xp + off, m, p, o, n, 1);
                        else if (S == 2) CYPOOL_FN(max_cf_pass_idx)(xp + off, m, p, o, n, 2);
                        else CYPOOL_FN(max_cf_pass_idx)(xp + off, m, p, o, n, S);
                    } else {
                        if (S == 1) CYPOOL_FN(max_cf_pass)(xp + off, m, n, 1);
                        else if (S == 2) CYPOOL_FN(max_cf_pass)(xp + off, m, n, 2);
                        else CYPOOL_FN(max_cf_pass)(xp + off, m, n, S);
                    }
                }
            }
#if CYPOOL_HALF
        CYPOOL_STN(m, yr + o0, n);
#endif
        if (ir) for (ptrdiff_t j = 0; j < n; j++) ir[o0 + j] = (int64_t)p[j];
    }
}

/* Output rows [r0, r1) of a channels-first tensor, rows numbered (plane, od, oh). The row's
 * coordinates are stepped, not divided out per row: three divisions cost as much as a short
 * row's pooling. */
static void CYPOOL_CLONES CYPOOL_FN(cypool_max_fwd_cf)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                                       const Window* w, ptrdiff_t r0,
                                                       ptrdiff_t r1)
{
    if (r0 >= r1) return;
    /* a local copy: its fields stay in registers across the rows (through the pointer they are
     * reloaded at every border cell: +8% instructions on 1-d rows) */
    const Window wl = *w;
    w = &wl;
    ptrdiff_t w_lo, w_hi;   /* interior outputs along w: every row shares them */
    interior_outputs(w->out_w, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w, &w_lo, &w_hi);
    ptrdiff_t rpp = w->out_d * w->out_h;
    ptrdiff_t plane = r0 / rpp, od = (r0 % rpp) / w->out_h, oh = r0 % w->out_h;
    for (ptrdiff_t row = r0; row < r1; row++) {
        CYPOOL_FN(max_cf_row)(x, y, idx, w, row, plane, od, oh, w_lo, w_hi);
        if (++oh == w->out_h) {
            oh = 0;
            if (++od == w->out_d) { od = 0; plane++; }
        }
    }
}

#if !CYPOOL_HALF
/* 2x2/s2 windows over planes [p0, p1) of channels-first planes with even sides, no padding or
 * dilation, no indices. Planes are contiguous and a pair never straddles a row, so a run of
 * planes' horizontal pairs is one flat sweep, and an output row the maximum of two rows of pairs.
 * The cell-by-cell scan keeps the last NaN, else the first maximum; that choice is associative,
 * so pairing cells (0,0),(0,1) then (1,0),(1,1) gives the scan's bits. Short rows (28x28 planes:
 * 14 outputs) are what the row kernels cannot vectorise. Needs H * W / 2 <= CYPOOL_PAIRS. */
static void CYPOOL_CLONES CYPOOL_FN(cypool_max_fwd_cf_2x2)(const CYPOOL_T* restrict x,
                                                           CYPOOL_T* restrict y, ptrdiff_t p0,
                                                           ptrdiff_t p1, ptrdiff_t H, ptrdiff_t W)
{
    CYPOOL_T h[CYPOOL_PAIRS];
    const ptrdiff_t pairs = H * W / 2, ow = W / 2, oh = H / 2;
    const ptrdiff_t per = CYPOOL_PAIRS / pairs;
    for (ptrdiff_t p = p0; p < p1; p += per) {
        const ptrdiff_t np = p1 - p < per ? p1 - p : per;
        const CYPOOL_T* restrict xs = x + p * H * W;
        CYPOOL_T* restrict ys = y + p * oh * ow;
        const ptrdiff_t n = np * pairs, rows = np * oh;
        for (ptrdiff_t i = 0; i < n; i++) {
            CYPOOL_T a = xs[2 * i], b = xs[2 * i + 1];
            h[i] = CYPOOL_SEL((b > a) | (b != b), b, a);
        }
        for (ptrdiff_t r = 0; r < rows; r++) {
            const CYPOOL_T* restrict h0 = h + 2 * r * ow;
            CYPOOL_T* restrict yr = ys + r * ow;
            for (ptrdiff_t j = 0; j < ow; j++) {
                CYPOOL_T a = h0[j], b = h0[ow + j];
                yr[j] = CYPOOL_SEL((b > a) | (b != b), b, a);
            }
        }
    }
}
#endif

/* A block of B channels of one channels-last output cell: the running maxima (and indices) of
 * the block stay in registers while the window cells stream by; written once. */
CYPOOL_INLINE void CYPOOL_FN(max_cl_block)(const CYPOOL_S* restrict xn, CYPOOL_S* restrict y,
                                         int64_t* restrict idx, const ptrdiff_t* restrict cells,
                                         ptrdiff_t ncells, int64_t first, ptrdiff_t C,
                                         ptrdiff_t B)
{
    CYPOOL_T m[CYPOOL_CL_BLOCK];
    for (ptrdiff_t j = 0; j < B; j++) m[j] = -INFINITY;
    if (idx) {
        /* The winning cell's position, in an integer as wide as the data (one blend per data
         * vector; the caller bounds the plane to fit it), widened on the way out: a vector
         * conversion, where the cell's ordinal needed a gather from `cells`. */
        CYPOOL_IDX q[CYPOOL_CL_BLOCK];
        for (ptrdiff_t j = 0; j < B; j++) q[j] = (CYPOOL_IDX)first;
        for (ptrdiff_t k = 0; k < ncells; k++) {
            const CYPOOL_S* xc = xn + cells[k] * C;
            const CYPOOL_IDX pk = (CYPOOL_IDX)cells[k];
            for (ptrdiff_t j = 0; j < B; j++) {
                CYPOOL_T v = CYPOOL_LD(xc[j]);
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
                q[j] = CYPOOL_SEL(mk, pk, q[j]);
            }
        }
        for (ptrdiff_t j = 0; j < B; j++) idx[j] = (int64_t)q[j];
    } else {
        for (ptrdiff_t q = 0; q < ncells; q++) {
            const CYPOOL_S* xc = xn + cells[q] * C;
            for (ptrdiff_t j = 0; j < B; j++) {
                CYPOOL_T v = CYPOOL_LD(xc[j]);
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
            }
        }
    }
    for (ptrdiff_t j = 0; j < B; j++) y[j] = CYPOOL_ST(m[j]);
}

#if !CYPOOL_HALF
/* A 1-d channels-last output cell (its window is one run of nc cells along w; positions are
 * columns): max_cl_block over the channel blocks, as cypool_max_fwd_cl takes them. Called with
 * a constant nc for the common windows, so the cell loop unrolls. */
CYPOOL_INLINE void CYPOOL_FN(max_cl_cell_1d)(const CYPOOL_T* xn, CYPOOL_T* ym, int64_t* im,
                                             const ptrdiff_t* cells, ptrdiff_t nc,
                                             int64_t first, ptrdiff_t C)
{
    enum { BL = CYPOOL_CL_BLOCK };
    ptrdiff_t c0 = 0;
    for (; c0 + BL <= C; c0 += BL)
        CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
    if (c0 < C && C >= BL) {   /* a last full block ending at C, as cypool_max_fwd_cl */
        c0 = C - BL;
        CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
        c0 = C;
    }
    if (c0 < C)
        CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C,
                                C - c0);
}

/* Output columns [o0, o1) of sample n of a 1-d channels-last tensor (in_d = in_h = 1). The
 * same cells in the same order as cypool_max_fwd_cl (so the same bits), without its per-row
 * set-up: the window's fields are locals (through the pointer they are reloaded after every
 * store to `cells`, which may alias them), a window's cells are a run of columns, and the
 * columns of a row can be split among threads (a 1-d call has one row per sample: 32 rows of
 * 2048 outputs balance badly over 2 threads). Windows of up to CYPOOL_CL_1D_CELLS cells. */
static void CYPOOL_CLONES CYPOOL_FN(cypool_max_fwd_cl_1d)(const CYPOOL_T* x, CYPOOL_T* y,
                                                          int64_t* idx, const Window* w,
                                                          ptrdiff_t n, ptrdiff_t o0,
                                                          ptrdiff_t o1, ptrdiff_t C)
{
    ptrdiff_t cells[CYPOOL_CL_1D_CELLS];
    const ptrdiff_t k = w->k_w, s = w->s_w, pad = w->pad_w, dil = w->dil_w;
    const ptrdiff_t in_w = w->in_w, out_w = w->out_w;
    const CYPOOL_T* xn = x + n * in_w * C;
    for (ptrdiff_t ow = o0; ow < o1; ow++) {
        const Span sw = dilated_span(ow, k, s, pad, dil, in_w);
        const ptrdiff_t wf = sw.first, nc = sw.count;
        for (ptrdiff_t c = 0; c < nc; c++) cells[c] = wf + c * dil;
        CYPOOL_T* ym = y + (n * out_w + ow) * C;
        int64_t* im = idx ? idx + (n * out_w + ow) * C : NULL;
        if (nc == 3)
            CYPOOL_FN(max_cl_cell_1d)(xn, ym, im, cells, 3, wf, C);
        else if (nc == 2)
            CYPOOL_FN(max_cl_cell_1d)(xn, ym, im, cells, 2, wf, C);
        else
            CYPOOL_FN(max_cl_cell_1d)(xn, ym, im, cells, nc, wf, C);
    }
}
#endif

#if CYPOOL_F16
/* max_cl_block on float rows (float16; bfloat16's conversions vectorise inline, and its rows
 * measured faster without the buffer): the cells' values at xb + at[k] * C, their
 * positions (for the indices) in cells[k]; the block's maxima to y, in float. */
CYPOOL_INLINE void CYPOOL_FN(max_cl_block_f)(const float* restrict xb, float* restrict y,
                                             int64_t* restrict idx, const ptrdiff_t* restrict at,
                                             const ptrdiff_t* restrict cells, ptrdiff_t ncells,
                                             int64_t first, ptrdiff_t C, ptrdiff_t B)
{
    float m[CYPOOL_CL_BLOCK];
    for (ptrdiff_t j = 0; j < B; j++) m[j] = -INFINITY;
    if (idx) {
        CYPOOL_IDX q[CYPOOL_CL_BLOCK];
        for (ptrdiff_t j = 0; j < B; j++) q[j] = -1;
        for (CYPOOL_IDX k = 0; k < (CYPOOL_IDX)ncells; k++) {
            const float* xc = xb + at[k] * C;
            for (ptrdiff_t j = 0; j < B; j++) {
                float v = xc[j];
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
                q[j] = CYPOOL_SEL(mk, k, q[j]);
            }
        }
        for (ptrdiff_t j = 0; j < B; j++) idx[j] = q[j] < 0 ? first : cells[q[j]];
    } else {
        for (ptrdiff_t k = 0; k < ncells; k++) {
            const float* xc = xb + at[k] * C;
            for (ptrdiff_t j = 0; j < B; j++) {
                float v = xc[j];
                int mk = (v > m[j]) | (v != v);
                m[j] = CYPOOL_SEL(mk, v, m[j]);
            }
        }
    }
    for (ptrdiff_t j = 0; j < B; j++) y[j] = m[j];
}

/* One channels-last output row of float16, in float: the output columns go in groups
 * whose windows' input (the covered rows, the group's span of columns, all channels) fits a
 * stack buffer with the group's outputs; the input is converted there once (_half.h's row
 * conversions: F16C where the CPU has it), the maxima taken by max_cl_block_f in
 * max_cl_block's order, the outputs stored once. Returns 0, having done nothing, when one
 * window's input does not fit (or the window has over CYPOOL_HALF_CL_CELLS cells): the caller
 * then converts cell by cell. */
CYPOOL_INLINE int CYPOOL_FN(max_cl_row_f)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                          const Window* w, ptrdiff_t row, ptrdiff_t C,
                                          ptrdiff_t* cells)
{
    enum { BL = CYPOOL_CL_BLOCK };
    float xb[CYPOOL_HALF_CL_TILE];
    ptrdiff_t at[CYPOOL_HALF_CL_CELLS];
    ptrdiff_t rps = w->out_d * w->out_h;
    ptrdiff_t nn = row / rps, od = (row % rps) / w->out_h, oh = row % w->out_h;
    const CYPOOL_S* xn = x + nn * w->in_d * w->in_h * w->in_w * C;
    const Span sd = dilated_span(od, w->k_d, w->s_d, w->pad_d, w->dil_d, w->in_d);
    const Span sh = dilated_span(oh, w->k_h, w->s_h, w->pad_h, w->dil_h, w->in_h);
    const ptrdiff_t df = sd.first, dc = sd.count, hf = sh.first, hc = sh.count;
    const ptrdiff_t nr = dc * hc, OW = w->out_w;
    if (w->k_d * w->k_h * w->k_w > CYPOOL_HALF_CL_CELLS) return 0;
    /* every window must fit alone: its columns, the rows, all channels, and its output */
    for (ptrdiff_t ow = 0; ow < OW; ow++) {
        const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
        const ptrdiff_t cols = sw.count ? (sw.count - 1) * w->dil_w + 1 : 0;
        if ((nr * cols + 1) * C > CYPOOL_HALF_CL_TILE) return 0;
    }
    ptrdiff_t ow0 = 0;
    while (ow0 < OW) {
        /* the group [ow0, ow1): input columns [lo, hi) (with dilation and padding a window's
         * first real column can precede the previous window's) */
        const Span s0 = dilated_span(ow0, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
        ptrdiff_t lo = s0.first, hi = s0.count ? lo + (s0.count - 1) * w->dil_w + 1 : lo;
        ptrdiff_t ow1 = ow0 + 1;
        while (ow1 < OW) {
            const Span s1 = dilated_span(ow1, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
            ptrdiff_t l1 = lo, h1 = hi;
            if (s1.count) {
                if (s1.first < l1) l1 = s1.first;
                if (s1.first + (s1.count - 1) * w->dil_w + 1 > h1)
                    h1 = s1.first + (s1.count - 1) * w->dil_w + 1;
            }
            if ((nr * (h1 - l1) + (ow1 + 1 - ow0)) * C > CYPOOL_HALF_CL_TILE) break;
            lo = l1;
            hi = h1;
            ow1++;
        }
        const ptrdiff_t span = hi - lo;
        float* yf = xb + nr * span * C;
        for (ptrdiff_t a = 0; a < dc; a++)
            for (ptrdiff_t b = 0; b < hc; b++)
                CYPOOL_LDN(xn + (((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w
                                 + lo) * C,
                           xb + (a * hc + b) * span * C, span * C);
        for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
            const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
            const ptrdiff_t wf = sw.first, wc = sw.count;
            ptrdiff_t nc = 0;
            for (ptrdiff_t a = 0; a < dc; a++)
                for (ptrdiff_t b = 0; b < hc; b++)
                    for (ptrdiff_t c = 0; c < wc; c++) {
                        at[nc] = (a * hc + b) * span + wf - lo + c * w->dil_w;
                        cells[nc++] = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h)
                                      * w->in_w + wf + c * w->dil_w;
                    }
            int64_t first = (df * w->in_h + hf) * w->in_w + wf;
            float* ym = yf + (ow - ow0) * C;
            int64_t* im = idx ? idx + (row * OW + ow) * C : NULL;
            ptrdiff_t c0 = 0;
            for (; c0 + BL <= C; c0 += BL)
                CYPOOL_FN(max_cl_block_f)(xb + c0, ym + c0, im ? im + c0 : NULL, at, cells, nc,
                                          first, C, BL);
            if (c0 < C && C >= BL) {   /* as cypool_max_fwd_cl: a last full block ending at C */
                c0 = C - BL;
                CYPOOL_FN(max_cl_block_f)(xb + c0, ym + c0, im ? im + c0 : NULL, at, cells, nc,
                                          first, C, BL);
                c0 = C;
            }
            if (c0 < C)
                CYPOOL_FN(max_cl_block_f)(xb + c0, ym + c0, im ? im + c0 : NULL, at, cells, nc,
                                          first, C, C - c0);
        }
        CYPOOL_STN(yf, y + (row * OW + ow0) * C, (ow1 - ow0) * C);
        ow0 = ow1;
    }
    return 1;
}
#endif

/* One output row (n, od, oh) of a channels-last tensor. `cells` is caller-provided scratch of
 * k_d*k_h*k_w entries: the flat positions of the current window's real cells in window order.
 * Channels go in fixed blocks of CYPOOL_CL_BLOCK (compile-time trip count, so the block's
 * maxima are register-resident), the remainder in one variable block. With idx, the plane's
 * positions must fit CYPOOL_IDX (int32 for float data: planes of fewer than 2**31 cells). */
static void CYPOOL_CLONES CYPOOL_FN(cypool_max_fwd_cl)(const CYPOOL_S* x, CYPOOL_S* y, int64_t* idx,
                                                      const Window* w, ptrdiff_t row,
                                                      ptrdiff_t C, ptrdiff_t* cells)
{
#if CYPOOL_F16
    if (CYPOOL_FN(max_cl_row_f)(x, y, idx, w, row, C, cells)) return;
#endif
    enum { BL = CYPOOL_CL_BLOCK };
    ptrdiff_t rps = w->out_d * w->out_h;
    ptrdiff_t nn = row / rps, od = (row % rps) / w->out_h, oh = row % w->out_h;
    const CYPOOL_S* xn = x + nn * w->in_d * w->in_h * w->in_w * C;
    const Span sd = dilated_span(od, w->k_d, w->s_d, w->pad_d, w->dil_d, w->in_d);
    const Span sh = dilated_span(oh, w->k_h, w->s_h, w->pad_h, w->dil_h, w->in_h);
    const ptrdiff_t df = sd.first, dc = sd.count, hf = sh.first, hc = sh.count;
    for (ptrdiff_t ow = 0; ow < w->out_w; ow++) {
        const Span sw = dilated_span(ow, w->k_w, w->s_w, w->pad_w, w->dil_w, w->in_w);
        const ptrdiff_t wf = sw.first, wc = sw.count;
        ptrdiff_t nc = 0;
        for (ptrdiff_t a = 0; a < dc; a++)
            for (ptrdiff_t b = 0; b < hc; b++)
                for (ptrdiff_t c = 0; c < wc; c++)
                    cells[nc++] = ((df + a * w->dil_d) * w->in_h + hf + b * w->dil_h) * w->in_w
                                  + wf + c * w->dil_w;
        int64_t first = (df * w->in_h + hf) * w->in_w + wf;
        CYPOOL_S* ym = y + (row * w->out_w + ow) * C;
        int64_t* im = idx ? idx + (row * w->out_w + ow) * C : NULL;
        ptrdiff_t c0 = 0;
        for (; c0 + BL <= C; c0 += BL)
            CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
        /* the last channels: one more full block ending at C (its overlap with the previous
         * block recomputes the same maxima and indices), so every block is a constant BL
         * wide; gcc vectorises constant-width blocks and not narrow or variable ones
         * (measured: a 16-wide block ran 10x slower than a 32-wide one) */
        if (c0 < C && C >= BL) {
            c0 = C - BL;
            CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C, BL);
            c0 = C;
        }
        if (c0 < C)
            CYPOOL_FN(max_cl_block)(xn + c0, ym + c0, im ? im + c0 : NULL, cells, nc, first, C,
                                  C - c0);
    }
}

#if CYPOOL_HALF
/* One add of the max backward's scatter, PyTorch's: the cell's value plus g in float, rounded. A
 * cell at +0 (its first add; the cells never hold -0) becomes 0 + g exactly: g itself, -0 made
 * +0, without the conversions. Both are computed and one is selected: with overlapping windows
 * which add comes first is unpredictable, and a branch mispredicts. */
#define CYPOOL_SCATTER_ADD(t, g, LD, ST) \
    ((t) == 0 ? cypool_plus_zero(g) : (uint16_t)(ST(LD(t) + LD(g))))

/* The scatter's loops with the conversions LD and ST: channels [c0, c1) of one sample of C
 * interleaved channels (channels-first: one plane, C = 1, c0 = 0, c1 = 1). Returns the count of
 * indices outside [0, in_plane): skipped, never written. */
#define CYPOOL_SCATTER_LOOPS(LD, ST) do { \
    if (C == 1) { \
        for (ptrdiff_t o = 0; o < out_plane; o++) { \
            const int64_t i = idx[o]; \
            if ((uint64_t)i < (uint64_t)in_plane) gi[i] = CYPOOL_SCATTER_ADD(gi[i], go[o], LD, ST); \
            else bad++; \
        } \
        break; \
    } \
    for (ptrdiff_t o = 0; o < out_plane; o++) { \
        const int64_t* restrict io = idx + o * C + c0; \
        const CYPOOL_S* restrict g = go + o * C + c0; \
        for (ptrdiff_t ch = 0; ch < c1 - c0; ch++) { \
            const int64_t i = io[ch]; \
            if ((uint64_t)i < (uint64_t)in_plane) { \
                CYPOOL_S* t = gi + i * C + c0 + ch; \
                *t = CYPOOL_SCATTER_ADD(*t, g[ch], LD, ST); \
            } else { \
                bad++; \
            } \
        } \
    } \
} while (0)

#if CYPOOL_F16 && defined(CYPOOL_F16C)
/* float16's loops with F16C's one-instruction scalar conversions (the portable ones are about
 * 15 operations each way), for CPUs with F16C: the same bits (_half.h) */
#define CYPOOL_F16C_LD(h) _cvtsh_ss(h)
#define CYPOOL_F16C_ST(f) _cvtss_sh(f, CYPOOL_F16C_RNE)
static __attribute__((target("avx2,f16c"), noinline, unused)) ptrdiff_t
CYPOOL_FN(max_bwd_scatter_f16c)(const CYPOOL_S* restrict go, const int64_t* restrict idx,
                                CYPOOL_S* restrict gi, ptrdiff_t in_plane, ptrdiff_t out_plane,
                                ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1)
{
    ptrdiff_t bad = 0;
    CYPOOL_SCATTER_LOOPS(CYPOOL_F16C_LD, CYPOOL_F16C_ST);
    return bad;
}
#undef CYPOOL_F16C_LD
#undef CYPOOL_F16C_ST
#endif

/* The index scatter of max backward for the 16-bit types (float32 and float64 scatter in
 * _max.pyx): each add is done in float and rounded back, in output order, as PyTorch accumulates
 * a float16 / bfloat16 gradient. gi is zeroed here. */
static ptrdiff_t CYPOOL_CLONES CYPOOL_FN(cypool_max_bwd_scatter)(
    const CYPOOL_S* restrict go, const int64_t* restrict idx, CYPOOL_S* restrict gi,
    ptrdiff_t in_plane, ptrdiff_t out_plane, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1)
{
    ptrdiff_t bad = 0;
    const ptrdiff_t nc = c1 - c0;
    if (nc == C) {
        memset(gi, 0, (size_t)(in_plane * C) * sizeof(CYPOOL_S));
    } else {
        for (ptrdiff_t i = 0; i < in_plane; i++)
            memset(gi + i * C + c0, 0, (size_t)nc * sizeof(CYPOOL_S));
    }
#if CYPOOL_F16 && defined(CYPOOL_F16C)
    if (cypool_f16c())
        return CYPOOL_FN(max_bwd_scatter_f16c)(go, idx, gi, in_plane, out_plane, C, c0, c1);
#endif
    CYPOOL_SCATTER_LOOPS(CYPOOL_LD, CYPOOL_ST);
    return bad;
}
#undef CYPOOL_SCATTER_ADD
#undef CYPOOL_SCATTER_LOOPS
#endif

/* Body of the convolution kernels (see _conv.h), included once per (data type, ISA) with
 *   CYPOOL_T     the data type, CYPOOL_SUF the name suffix (_clones.h's template style),
 *   CONV_VL      elements per vector register,
 *   CONV_PX      pixels (forward) or input channels (weight gradient) of the widest register tile,
 *   CONV_TARGET  the function attribute choosing the ISA (or nothing: the compiler's target),
 *   CONV_SCALAR  defined where the compiler has no vector extensions (one element per "vector").
 * A register tile is PX x NV vectors of accumulators, NV = 1 or 2 vectors of output channels. */

#ifdef CONV_SCALAR
typedef CYPOOL_T CYPOOL_FN(conv_vec);
#else
typedef CYPOOL_T CYPOOL_FN(conv_vec) __attribute__((vector_size(CONV_VL * sizeof(CYPOOL_T))));
#endif
#define CONV_V CYPOOL_FN(conv_vec)

/* Forward tile: PX output pixels (`step` input elements apart) x NV*VL output channels, summed
 * over the taps (input offsets `toff`, one weight matrix [cin][opad] each) and input channels
 * (`cs` elements apart) in that order, into `tile` ([PX][NV*VL]). */
#define CONV_FWD_TILE(PX, NV)                                                                   \
CONV_TARGET static void CYPOOL_FN(conv_fwd_tile_##PX##_##NV)(                                  \
        const CYPOOL_T* in, ptrdiff_t step, ptrdiff_t cs, const ptrdiff_t* toff,               \
        ptrdiff_t taps, ptrdiff_t cin, const CYPOOL_T* w, ptrdiff_t opad, CYPOOL_T* tile) {    \
    CONV_V acc[PX][NV], wv[NV], zero;                                                          \
    memset(&zero, 0, sizeof zero);                                                             \
    CONV_UNROLL for (int p = 0; p < PX; p++)                                                   \
        CONV_UNROLL for (int v = 0; v < NV; v++) acc[p][v] = zero;                             \
    for (ptrdiff_t t = 0; t < taps; t++) {                                                     \
        const CYPOOL_T* x = in + toff[t];                                                      \
        const CYPOOL_T* wt = w + t * cin * opad;                                               \
        for (ptrdiff_t c = 0; c < cin; c++, x += cs) {                                         \
            CONV_UNROLL for (int v = 0; v < NV; v++)                                           \
                memcpy(&wv[v], wt + c * opad + v * CONV_VL, sizeof(CONV_V));                   \
            CONV_UNROLL for (int p = 0; p < PX; p++) {                                         \
                const CYPOOL_T s = x[p * step];                                                \
                CONV_UNROLL for (int v = 0; v < NV; v++) acc[p][v] += wv[v] * s;               \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    CONV_UNROLL for (int p = 0; p < PX; p++)                                                   \
        CONV_UNROLL for (int v = 0; v < NV; v++)                                               \
            memcpy(tile + (p * NV + v) * CONV_VL, &acc[p][v], sizeof(CONV_V));                 \
}

/* Weight-gradient tile: CB input channels (`cs` elements apart) x NV*VL output channels of one
 * tap, the products of `ow` pixels (input `step` elements apart, output gradients `opad` apart)
 * added in pixel order to the sums in `gw` ([CB][opad]). */
#define CONV_W_TILE(CB, NV)                                                                     \
CONV_TARGET static void CYPOOL_FN(conv_w_tile_##CB##_##NV)(                                    \
        const CYPOOL_T* x, ptrdiff_t step, ptrdiff_t cs, const CYPOOL_T* g, ptrdiff_t opad,    \
        ptrdiff_t ow, CYPOOL_T* gw) {                                                          \
    CONV_V acc[CB][NV], gv[NV];                                                                \
    CONV_UNROLL for (int b = 0; b < CB; b++)                                                   \
        CONV_UNROLL for (int v = 0; v < NV; v++)                                               \
            memcpy(&acc[b][v], gw + b * opad + v * CONV_VL, sizeof(CONV_V));                   \
    for (ptrdiff_t ox = 0; ox < ow; ox++) {                                                    \
        CONV_UNROLL for (int v = 0; v < NV; v++)                                               \
            memcpy(&gv[v], g + ox * opad + v * CONV_VL, sizeof(CONV_V));                       \
        CONV_UNROLL for (int b = 0; b < CB; b++) {                                             \
            const CYPOOL_T s = x[ox * step + b * cs];                                          \
            CONV_UNROLL for (int v = 0; v < NV; v++) acc[b][v] += gv[v] * s;                   \
        }                                                                                      \
    }                                                                                          \
    CONV_UNROLL for (int b = 0; b < CB; b++)                                                   \
        CONV_UNROLL for (int v = 0; v < NV; v++)                                               \
            memcpy(gw + b * opad + v * CONV_VL, &acc[b][v], sizeof(CONV_V));                   \
}

CONV_FITS(CONV_PX)
CONV_FWD_TILE(CONV_PX, 2)
CONV_FWD_TILE(CONV_PX, 1)
CONV_FWD_TILE(4, 2)
CONV_FWD_TILE(4, 1)
CONV_FWD_TILE(1, 2)
CONV_FWD_TILE(1, 1)
CONV_W_TILE(CONV_PX, 2)
CONV_W_TILE(CONV_PX, 1)
CONV_W_TILE(4, 2)
CONV_W_TILE(4, 1)
CONV_W_TILE(1, 2)
CONV_W_TILE(1, 1)
#if CONV_PX > 8
/* 8 wide between the widest and 4 where 32 registers hold 8 x 2 vectors: rows of 56 pixels in 5
 * tiles (12, 12, 12, 12, 8) instead of 6, 32 channels in 3 (12, 12, 8) instead of 4 */
#define CONV_MID 8
CONV_FWD_TILE(8, 2)
CONV_FWD_TILE(8, 1)
CONV_W_TILE(8, 2)
CONV_W_TILE(8, 1)
#else
#define CONV_MID 4
#define conv_fwd_tile_8_2 conv_fwd_tile_4_2
#define conv_fwd_tile_8_1 conv_fwd_tile_4_1
#define conv_w_tile_8_2 conv_w_tile_4_2
#define conv_w_tile_8_1 conv_w_tile_4_1
#endif

/* Tiles are named by their literal width: CONV_PX (the widest), 8 (CONV_MID), 4 or 1. */
#define CONV_PICK(kind, px, nv)                                                                 \
    ((px) == CONV_PX ? ((nv) == 2 ? CYPOOL_FN(kind##_CONV_PX_2) : CYPOOL_FN(kind##_CONV_PX_1)) \
     : (px) == 8 ? ((nv) == 2 ? CYPOOL_FN(kind##_8_2) : CYPOOL_FN(kind##_8_1))                  \
     : (px) == 4 ? ((nv) == 2 ? CYPOOL_FN(kind##_4_2) : CYPOOL_FN(kind##_4_1))                  \
     : ((nv) == 2 ? CYPOOL_FN(kind##_1_2) : CYPOOL_FN(kind##_1_1)))

/* The patch of a border tile: input rows iy0 .. iy0 + ry - 1, columns ix0 .. ix0 + cols - 1 of
 * image `img`, zero outside the input, into `patch` (strides p_row, p_px, p_c). */
CONV_TARGET static void CYPOOL_FN(conv_patch)(const ConvFwd* a, const CYPOOL_T* img,
                                              ptrdiff_t iy0, ptrdiff_t ix0, ptrdiff_t cols,
                                              CYPOOL_T* patch) {
    const ptrdiff_t C = a->cin;
    /* the columns inside: [i0, i1) */
    ptrdiff_t i0 = ix0 < 0 ? -ix0 : 0, i1 = a->cols - ix0 < cols ? a->cols - ix0 : cols;
    if (i1 < i0)
        i1 = i0;
    for (ptrdiff_t j = 0; j < a->ry; j++) {
        const ptrdiff_t iy = iy0 + j;
        const int inside = iy >= 0 && iy < a->h && i1 > i0;
        const CYPOOL_T* src = inside ? img + iy * a->in_h : NULL;   /* the input row */
        if (a->p_c == 1) {       /* channels last: a run of cols * C */
            CYPOOL_T* d = patch + j * a->p_row;
            if (!inside) {
                memset(d, 0, (size_t)(cols * C) * sizeof(CYPOOL_T));
                continue;
            }
            memset(d, 0, (size_t)(i0 * C) * sizeof(CYPOOL_T));
            memset(d + i1 * C, 0, (size_t)((cols - i1) * C) * sizeof(CYPOOL_T));
            if (a->cs == 1 && a->in_w == C)
                memcpy(d + i0 * C, src + (ix0 + i0) * C,
                       (size_t)((i1 - i0) * C) * sizeof(CYPOOL_T));
            else
                for (ptrdiff_t i = i0; i < i1; i++)
                    for (ptrdiff_t c = 0; c < C; c++)
                        d[i * C + c] = src[(ix0 + i) * a->in_w + c * a->cs];
        } else {                 /* channel planes: a run of cols per channel */
            for (ptrdiff_t c = 0; c < C; c++) {
                CYPOOL_T* d = patch + c * a->p_c + j * a->p_row;
                if (!inside) {
                    memset(d, 0, (size_t)cols * sizeof(CYPOOL_T));
                    continue;
                }
                const CYPOOL_T* s = src + c * a->cs;
                for (ptrdiff_t i = 0; i < i0; i++) d[i] = 0;
                if (a->in_w == 1)
                    memcpy(d + i0, s + ix0 + i0, (size_t)(i1 - i0) * sizeof(CYPOOL_T));
                else
                    for (ptrdiff_t i = i0; i < i1; i++) d[i] = s[(ix0 + i) * a->in_w];
                for (ptrdiff_t i = i1; i < cols; i++) d[i] = 0;
            }
        }
    }
}

/* One output row r = (n, oy) of a forward: every pixel and output channel, written once. */
CONV_TARGET static void CYPOOL_FN(conv_fwd_row)(const ConvFwd* a, ptrdiff_t r, int thread) {
    CYPOOL_T tile[CONV_PX * 2 * CONV_VL];
    const ptrdiff_t n = r / a->oh, oy = r - n * a->oh, ow = a->ow;
    const CYPOOL_T* img = (const CYPOOL_T*)a->in + n * a->in_n;
    const ptrdiff_t iy0 = oy * a->sy - a->top;       /* the windows' first input row */
    const int rows_inside = iy0 >= 0 && iy0 + a->ry <= a->h;
    CYPOOL_T* patch = (CYPOOL_T*)a->scratch + thread * a->p_size;
    CYPOOL_T* out = (CYPOOL_T*)a->out + n * a->out_n + oy * a->out_h;
    const CYPOOL_T* bias = (const CYPOOL_T*)a->bias;
    for (ptrdiff_t o0 = 0; o0 < a->cout; ) {
        const int nv = a->opad - o0 >= 2 * CONV_VL ? 2 : 1;
        const ptrdiff_t nb = nv * CONV_VL, oc = a->cout - o0 < nb ? a->cout - o0 : nb;
        const CYPOOL_T* w = (const CYPOOL_T*)a->w + o0;
        /* widest tiles first, then 8 wide for more than 4 left, then 4 wide; a tile wider than
         * what is left overlaps the one before (same values written twice); single pixels in
         * rows under 4 wide */
        for (ptrdiff_t ox0 = 0, px; ox0 < ow; ox0 += px) {
            const ptrdiff_t left = ow - ox0;
            px = left >= CONV_PX ? CONV_PX : left > 4 && ow >= CONV_MID ? CONV_MID
                 : ow >= 4 ? 4 : 1;
            if (ox0 + px > ow)
                ox0 = ow - px;
            void (*tile_fn)(const CYPOOL_T*, ptrdiff_t, ptrdiff_t, const ptrdiff_t*, ptrdiff_t,
                            ptrdiff_t, const CYPOOL_T*, ptrdiff_t, CYPOOL_T*) =
                CONV_PICK(conv_fwd_tile, px, nv);
            const ptrdiff_t ix0 = ox0 * a->sx - a->left, span = (px - 1) * a->sx + a->rx;
            if (rows_inside && ix0 >= 0 && ix0 + span <= a->cols) {
                tile_fn(img + iy0 * a->in_h + ix0 * a->in_w, a->sx * a->in_w, a->cs, a->toff,
                        a->taps, a->cin, w, a->opad, tile);
            } else {                 /* at the border: a zero-padded copy of the windows */
                CYPOOL_FN(conv_patch)(a, img, iy0, ix0, span, patch);
                tile_fn(patch, a->sx * a->p_px, a->p_c, a->ptoff, a->taps, a->cin, w, a->opad,
                        tile);
            }
            CYPOOL_T* dst = out + ox0 * a->out_w + o0 * a->out_c;
            if (a->out_c == 1) {     /* channels contiguous: pixel by pixel */
                for (ptrdiff_t p = 0; p < px; p++)
                    for (ptrdiff_t o = 0; o < oc; o++)
                        dst[p * a->out_w + o] = bias ? tile[p * nb + o] + bias[o0 + o]
                                                     : tile[p * nb + o];
            } else {                 /* channel planes: along the pixels of each */
                for (ptrdiff_t o = 0; o < oc; o++)
                    for (ptrdiff_t p = 0; p < px; p++)
                        dst[o * a->out_c + p * a->out_w] =
                            bias ? tile[p * nb + o] + bias[o0 + o] : tile[p * nb + o];
            }
        }
        o0 += nb;
    }
}

/* Channels-first bands at stride 1: vectors of VL neighbouring output pixels of a plane x CONV_PK
 * output channels of accumulators, NP vectors wide, from a patch of channel planes (`p_c`
 * elements apart, tap t at toff[t]): one vector load of inputs and CONV_PK broadcast weights per
 * tap and input channel. The same sums, in the same order, as the tiles above. */
#define CONV_PLANES_TILE(NP)                                                                    \
CONV_TARGET static void CYPOOL_FN(conv_planes_tile_##NP)(                                      \
        const CYPOOL_T* in, ptrdiff_t p_c, const ptrdiff_t* toff, ptrdiff_t taps,              \
        ptrdiff_t cin, const CYPOOL_T* w, ptrdiff_t opad, CONV_V* sums) {                      \
    CONV_V acc[CONV_PK][NP], xv[NP], zero;                                                     \
    memset(&zero, 0, sizeof zero);                                                             \
    CONV_UNROLL for (int k = 0; k < CONV_PK; k++)                                              \
        CONV_UNROLL for (int v = 0; v < NP; v++) acc[k][v] = zero;                             \
    for (ptrdiff_t t = 0; t < taps; t++) {                                                     \
        const CYPOOL_T* x = in + toff[t];                                                      \
        const CYPOOL_T* wt = w + t * cin * opad;                                               \
        for (ptrdiff_t c = 0; c < cin; c++, x += p_c, wt += opad) {                            \
            CONV_UNROLL for (int v = 0; v < NP; v++)                                           \
                memcpy(&xv[v], x + v * CONV_VL, sizeof(CONV_V));                               \
            CONV_UNROLL for (int k = 0; k < CONV_PK; k++) {                                    \
                const CYPOOL_T s = wt[k];                                                      \
                CONV_UNROLL for (int v = 0; v < NP; v++) acc[k][v] += xv[v] * s;               \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    CONV_UNROLL for (int k = 0; k < CONV_PK; k++)                                              \
        CONV_UNROLL for (int v = 0; v < NP; v++) sums[k * NP + v] = acc[k][v];                 \
}
CONV_PLANES_TILE(3)
CONV_PLANES_TILE(2)
CONV_PLANES_TILE(1)

/* One band of a forward with channel planes in and out at stride 1 (work item r: image
 * r / bands, output rows from (r % bands) * band): the band's input rows, zero-padded to
 * p_row = ow + rx - 1 columns, copied into a patch of planes (p_c apart; every vector load lands
 * inside it), whose pixels run on from row to row. Output pixel (y, x) of the band is then
 * position q = y * p_row + x of that run and reads q + toff[t] at tap t: the tiles sweep the
 * run in whole vectors (the rx - 1 positions past each row's end computed and dropped) into
 * `sums`, each plane's rows copied out from there. No transposition on either side. */
CONV_TARGET static void CYPOOL_FN(conv_fwd_band_planes)(const ConvFwd* a, ptrdiff_t r,
                                                        int thread) {
    const ptrdiff_t bands = (a->oh + a->band - 1) / a->band;
    const ptrdiff_t n = r / bands, oy0 = (r - n * bands) * a->band;
    const ptrdiff_t rows = a->oh - oy0 < a->band ? a->oh - oy0 : a->band;
    const ptrdiff_t wp = a->p_row, ow = a->ow, in_rows = rows + a->ry - 1;
    const ptrdiff_t run = rows * wp, nvec = (run + CONV_VL - 1) / CONV_VL;
    CYPOOL_T* patch = (CYPOOL_T*)a->scratch + thread * a->p_size;
    CYPOOL_T* sums = patch + a->cin * a->p_c;          /* CONV_PK runs of nvec vectors */
    const CYPOOL_T* img = (const CYPOOL_T*)a->in + n * a->in_n;
    /* the columns inside the input: [i0, i1) of the patch's p_row */
    const ptrdiff_t i0 = a->left < wp ? a->left : wp;
    const ptrdiff_t i1 = a->cols + a->left < wp ? a->cols + a->left : wp;
    for (ptrdiff_t c = 0; c < a->cin; c++) {
        CYPOOL_T* d = patch + c * a->p_c;
        for (ptrdiff_t j = 0; j < in_rows; j++, d += wp) {
            const ptrdiff_t iy = oy0 - a->top + j;
            if (iy < 0 || iy >= a->h || i1 <= i0) {
                memset(d, 0, (size_t)wp * sizeof(CYPOOL_T));
                continue;
            }
            memset(d, 0, (size_t)i0 * sizeof(CYPOOL_T));
            memcpy(d + i0, img + iy * a->in_h + c * a->cs + (i0 - a->left),
                   (size_t)(i1 - i0) * sizeof(CYPOOL_T));
            memset(d + i1, 0, (size_t)(wp - i1) * sizeof(CYPOOL_T));
        }
        /* the vectors past the last row read this far */
        memset(d, 0, (size_t)(a->p_c - in_rows * wp) * sizeof(CYPOOL_T));
    }
    CYPOOL_T* out = (CYPOOL_T*)a->out + n * a->out_n + oy0 * a->out_h;
    const CYPOOL_T* bias = (const CYPOOL_T*)a->bias;
    for (ptrdiff_t o0 = 0; o0 < a->cout; o0 += CONV_PK) {
        const CYPOOL_T* w = (const CYPOOL_T*)a->w + o0;
        const ptrdiff_t kc = a->cout - o0 < CONV_PK ? a->cout - o0 : CONV_PK;
        for (ptrdiff_t v0 = 0, np; v0 < nvec; v0 += np) {
            CONV_V tile[CONV_PK * 3];
            np = nvec - v0 >= 3 ? 3 : nvec - v0;
            (np == 3 ? CYPOOL_FN(conv_planes_tile_3) : np == 2 ? CYPOOL_FN(conv_planes_tile_2)
                     : CYPOOL_FN(conv_planes_tile_1))(patch + v0 * CONV_VL, a->p_c, a->ptoff,
                                                      a->taps, a->cin, w, a->opad, tile);
            for (ptrdiff_t k = 0; k < kc; k++)
                memcpy(sums + (k * nvec + v0) * CONV_VL, tile + k * np,
                       (size_t)np * sizeof(CONV_V));
        }
        for (ptrdiff_t k = 0; k < kc; k++) {
            const CYPOOL_T* src = sums + k * nvec * CONV_VL;
            CYPOOL_T* dst = out + (o0 + k) * a->out_c;
            for (ptrdiff_t y = 0; y < rows; y++, src += wp, dst += a->out_h) {
                if (bias)
                    for (ptrdiff_t x = 0; x < ow; x++) dst[x] = src[x] + bias[o0 + k];
                else
                    memcpy(dst, src, (size_t)ow * sizeof(CYPOOL_T));
            }
        }
    }
}

/* One work item of a weight gradient: tap `item % taps` summed over the rows of chunk
 * `item / taps` (in row order, then pixel order; the products with padding left out) into that
 * chunk's own sums. */
CONV_TARGET static void CYPOOL_FN(conv_w_item)(const ConvW* a, ptrdiff_t item) {
    const ptrdiff_t chunk = item / a->taps, t = item - chunk * a->taps;
    const ptrdiff_t r0 = chunk * a->rows / a->chunks, r1 = (chunk + 1) * a->rows / a->chunks;
    const ptrdiff_t dy = a->tap[4 * t], dx = a->tap[4 * t + 1];
    const ptrdiff_t ox0 = a->tap[4 * t + 2], ox1 = a->tap[4 * t + 3];
    const ptrdiff_t step = a->sx * a->x_w;
    CYPOOL_T* gw = (CYPOOL_T*)a->gw + (chunk * a->taps + t) * a->cin * a->opad;
    if (ox1 <= ox0)
        return;
    for (ptrdiff_t r = r0; r < r1; r++) {
        const ptrdiff_t n = r / a->oh, oy = r - n * a->oh, iy = oy * a->sy + dy;
        if (iy < 0 || iy >= a->h)
            continue;
        const CYPOOL_T* x = (const CYPOOL_T*)a->x + n * a->x_n + iy * a->x_h
                            + (ox0 * a->sx + dx) * a->x_w;
        const CYPOOL_T* g = (const CYPOOL_T*)a->g + n * a->g_n + oy * a->g_oy + ox0 * a->opad;
        for (ptrdiff_t c0 = 0; c0 < a->cin; ) {
            const ptrdiff_t left = a->cin - c0;
            const ptrdiff_t cb = left >= CONV_PX ? CONV_PX : left >= CONV_MID ? CONV_MID
                                 : left >= 4 ? 4 : 1;
            for (ptrdiff_t o0 = 0; o0 < a->opad; ) {
                const int nv = a->opad - o0 >= 2 * CONV_VL ? 2 : 1;
                void (*tile_fn)(const CYPOOL_T*, ptrdiff_t, ptrdiff_t, const CYPOOL_T*, ptrdiff_t,
                                ptrdiff_t, CYPOOL_T*) = CONV_PICK(conv_w_tile, cb, nv);
                tile_fn(x + c0 * a->cs, step, a->cs, g + o0, a->opad, ox1 - ox0,
                        gw + c0 * a->opad + o0);
                o0 += nv * CONV_VL;
            }
            c0 += cb;
        }
    }
}

#undef CONV_PICK
#undef CONV_MID
#undef conv_fwd_tile_8_2
#undef conv_fwd_tile_8_1
#undef conv_w_tile_8_2
#undef conv_w_tile_8_1
#undef CONV_FWD_TILE
#undef CONV_PLANES_TILE
#undef CONV_W_TILE
#undef CONV_V

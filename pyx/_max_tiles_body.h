/* Body of _max_fast.h's max backward gather over tiles (the comment there), included once per
 * element type: CYPOOL_TILE_T (the stored type), CYPOOL_TILE_FN(name) (name with the type's
 * suffix: 16, 32, 64), CYPOOL_TILE_PLUS_ZERO(v) (the scatter's first add to a zeroed cell,
 * 0 + v, in the stored type). Defines cypool_tile_zero, cypool_tile_rest, cypool_tile_cell,
 * cypool_tile_pair and cypool_max_bwd_tiles_cl with that suffix. */
#define T_ CYPOOL_TILE_T
#define FN_ CYPOOL_TILE_FN

/* cells of nc of C channels, zeroed */
static inline void FN_(cypool_tile_zero)(T_* gi, ptrdiff_t cells, ptrdiff_t C, ptrdiff_t nc)
{
    if (nc == C) {
        memset(gi, 0, (size_t)(cells * C) * sizeof(T_));
        return;
    }
    for (ptrdiff_t i = 0; i < cells; i++) memset(gi + i * C, 0, (size_t)nc * sizeof(T_));
}

/* The cells past the last tile along h and d of a band's planes (od), and the planes past the
 * last tile, of one sample (channels-last: nc of C channels; channels-first: C = nc = 1) */
static inline void FN_(cypool_tile_rest)(T_* gi, const ptrdiff_t* in3, const ptrdiff_t* out3,
                                         ptrdiff_t od, ptrdiff_t sd, ptrdiff_t sh, ptrdiff_t C,
                                         ptrdiff_t nc)
{
    const ptrdiff_t IH = in3[1], IW = in3[2], h0 = out3[1] * sh;
    if (od < out3[0]) {
        for (ptrdiff_t a = 0; a < sd; a++)
            FN_(cypool_tile_zero)(gi + ((od * sd + a) * IH + h0) * IW * C, (IH - h0) * IW, C,
                                  nc);
    } else {
        FN_(cypool_tile_zero)(gi + od * sd * IH * IW * C, (in3[0] - od * sd) * IH * IW, C, nc);
    }
}

/* Channels-last: one cell's channels t[0, nc) from the tile's output (indices io, gradient g) */
CYPOOL_INLINE ptrdiff_t FN_(cypool_tile_cell)(const int64_t* restrict io, const T_* restrict g,
                                              T_* restrict t, int64_t cell, ptrdiff_t nc)
{
    ptrdiff_t hits = 0;
    for (ptrdiff_t c = 0; c < nc; c++) {
        const int hit = io[c] == cell;
        t[c] = hit ? CYPOOL_TILE_PLUS_ZERO(g[c]) : 0;
        hits += hit;
    }
    return hits;
}
/* The same for the two cells of a tile 2 wide (t, t + C), each index read once (2x2/s2,
 * (16,112,112,64) float16, 1 thread: 1.9 -> 1.7 of the streaming kernel's time) */
CYPOOL_INLINE ptrdiff_t FN_(cypool_tile_pair)(const int64_t* restrict io, const T_* restrict g,
                                              T_* restrict t, int64_t cell, ptrdiff_t nc,
                                              ptrdiff_t C)
{
    ptrdiff_t hits = 0;
    T_* restrict t1 = t + C;
    for (ptrdiff_t c = 0; c < nc; c++) {
        const int64_t d = io[c] - cell;
        const T_ v = CYPOOL_TILE_PLUS_ZERO(g[c]);
        t[c] = d == 0 ? v : 0;
        t1[c] = d == 1 ? v : 0;
        hits += (uint64_t)d < 2;
    }
    return hits;
}

#ifndef CYPOOL_TILE_ONE_PASS
#define CYPOOL_TILE_ONE_PASS
/* Channels-last float32 and 16-bit tiles 2 wide and 2 high (2x2/s2) whose output row's indices
 * and gradient (8 + 4 or 8 + 2 bytes a channel) pass L1 (32 KiB) take both input rows in one
 * pass over the output row, each output's indices read once (from memory) rather than once a
 * row (the second time from L2). Zen 4, 2 threads, over the streaming kernel's time, old and
 * new alternating: float32 (16,112,112,64) 0.55-0.57 -> 0.47-0.50, the 256 MB bench row
 * (16,256,256,64) 0.87-0.88 -> 0.99-1.05 of the stream's speed; float16 / bfloat16
 * (16,112,112,64) 0.57-0.62 / 0.60-0.65 -> 0.50-0.52 / 0.52-0.55, float16 (8,56,56,128)
 * 0.59-0.63 -> 0.58-0.59 (the best three of five runs each). Not taken: float32 256 channels a
 * block ((8,56,56,256): 0.68-0.70 -> 0.76-0.88, the two rows then written in alternating 2 KiB
 * pieces), rows within L1 ((64,28,28,32): the same time), and float64 (not measured). */
#define CYPOOL_TILE_ONE_PASS_ROW_BYTES 32768
#define CYPOOL_TILE_ONE_PASS_CELL_BYTES 256
#endif

/* Channels-last: channels [c0, c1) of one sample of C (go, idx, gi at the sample's start) */
static int CYPOOL_CLONES FN_(cypool_max_bwd_tiles_cl)(const T_* restrict go,
                                                      const int64_t* restrict idx,
                                                      T_* restrict gi, const ptrdiff_t* in3,
                                                      const ptrdiff_t* out3, ptrdiff_t C,
                                                      ptrdiff_t c0, ptrdiff_t c1)
{
    const ptrdiff_t IH = in3[1], IW = in3[2], OD = out3[0], OH = out3[1], OW = out3[2];
    const ptrdiff_t sd = in3[0] / OD, sh = IH / OH, sw = IW / OW, nc = c1 - c0;
    gi += c0;
    idx += c0;
    go += c0;
    const int one_pass = sizeof(T_) <= 4 && sd == 1 && sh == 2 && sw == 2
                         && nc * (ptrdiff_t)sizeof(T_) <= CYPOOL_TILE_ONE_PASS_CELL_BYTES
                         && OW * nc * (ptrdiff_t)(8 + sizeof(T_)) > CYPOOL_TILE_ONE_PASS_ROW_BYTES;
    for (ptrdiff_t od = 0; od < OD; od++) {
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            const ptrdiff_t orow = (od * OH + oh) * OW;
            ptrdiff_t hits = 0;
            if (one_pass) {
                const ptrdiff_t row0 = (od * IH + oh * 2) * IW;   /* sd == 1 */
                for (ptrdiff_t ow = 0; ow < OW; ow++) {
                    const int64_t* io = idx + (orow + ow) * C;
                    const T_* g = go + (orow + ow) * C;
                    for (ptrdiff_t row = row0; row < row0 + 2 * IW; row += IW)
                        hits += FN_(cypool_tile_pair)(io, g, gi + (row + ow * 2) * C,
                                                      row + ow * 2, nc, C);
                }
                for (ptrdiff_t row = row0; row < row0 + 2 * IW; row += IW)
                    FN_(cypool_tile_zero)(gi + (row + OW * 2) * C, IW - OW * 2, C, nc);
                if (hits != OW * nc) return 0;
                continue;
            }
            for (ptrdiff_t a = 0; a < sd; a++) {
                for (ptrdiff_t b = 0; b < sh; b++) {
                    const ptrdiff_t row = ((od * sd + a) * IH + oh * sh + b) * IW;
                    for (ptrdiff_t ow = 0; ow < OW; ow++) {
                        const int64_t* io = idx + (orow + ow) * C;
                        const T_* g = go + (orow + ow) * C;
                        if (sw == 2) {
                            hits += FN_(cypool_tile_pair)(io, g, gi + (row + ow * 2) * C,
                                                          row + ow * 2, nc, C);
                            continue;
                        }
                        for (ptrdiff_t e = 0; e < sw; e++)
                            hits += FN_(cypool_tile_cell)(io, g, gi + (row + ow * sw + e) * C,
                                                          row + ow * sw + e, nc);
                    }
                    /* the columns past the last tile */
                    FN_(cypool_tile_zero)(gi + (row + OW * sw) * C, IW - OW * sw, C, nc);
                }
            }
            if (hits != OW * nc) return 0;
        }
        FN_(cypool_tile_rest)(gi, in3, out3, od, sd, sh, C, nc);
    }
    FN_(cypool_tile_rest)(gi, in3, out3, OD, sd, sh, C, nc);
    return 1;
}
#undef T_
#undef FN_

/* mla_rows.h: helpers shared by the MLA decode kernels of mla_attn_avx2.c and mla_attn_avx512.c. */
#ifndef FR_MLA_ROWS_H
#define FR_MLA_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

/* A register block's scores into the score matrix: scores[(h + k) * stride + p + j] =
 * s[k * np + j] * scale for k < nh heads, j < np rows (every ISA's scores end here). */
static inline void fr_mla_store_scores(float *scores, int64_t stride, int64_t h, int64_t p, int nh, int np,
                                       const float *s, float scale) {
    for (int k = 0; k < nh; k++)
        for (int j = 0; j < np; j++)
            scores[(h + k) * stride + p + j] = s[k * np + j] * scale;
}

enum { FR_MLA_ACC_POS = 64, FR_MLA_ACC_DIMS = 64 }; /* accumulation tile: positions x dims */

/* An ISA's kernel for one accumulation tile: out[h][d] += sum_{i < np} a[h][i] x_i[d] for
 * nh heads (a and out strides stride and r) and nd dims of rows x_i = x + i * x_bytes of type
 * F16 or F32. */
typedef void (*fr_mla_tile_fn)(int type, const char *x, size_t x_bytes, int64_t np, int64_t nd, const float *a,
                               int64_t stride, int64_t nh, float *out, int64_t r);

/* fr_mla_accum's tiling (kernels.h), shared by the ISAs: out[h][d] = sum_p a[h][p] row_p[d]
 * for h in [h0, h1), d in [d0, d1), tile by tile, so that a tile is read from memory once for
 * all the heads. F16 tiles are converted in the FMA loop, once per register block of heads:
 * converting a tile to a float buffer first, once for all the heads, was 15-30% slower in
 * mlabench (its stores and reloads cost more than the conversions they save). While a tile is
 * multiplied, the next one's cache lines are prefetched (5-15% in mlabench with the rows in
 * memory: these are the rows the scores touched a moment earlier, now mostly in L2/L3).
 * Each output element is one chain of FMAs over p = 0, 1, ..., n_pos - 1 whatever the tiling
 * and the ISA, which is what makes the ISAs' results identical. */
static inline void fr_mla_accum_tiles(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a,
                                      int64_t stride, int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out,
                                      int64_t r, bool zero, fr_mla_tile_fn tile) {
    size_t es = type == FR_TYPE_F16 ? 2 : 4;
    if (zero) /* else the chains continue from out (fr_mla_accum_*_add) */
        for (int64_t h = h0; h < h1; h++)
            for (int64_t d = d0; d < d1; d++)
                out[h * r + d] = 0.0f;
    for (int64_t d = d0; d < d1; d += FR_MLA_ACC_DIMS) {
        int64_t nd = d1 - d < FR_MLA_ACC_DIMS ? d1 - d : FR_MLA_ACC_DIMS;
        size_t span = (size_t)nd * es;
        for (int64_t p = 0; p < n_pos; p += FR_MLA_ACC_POS) {
            int64_t np = n_pos - p < FR_MLA_ACC_POS ? n_pos - p : FR_MLA_ACC_POS;
            const char *x = (const char *)rows + (size_t)p * row_bytes + (size_t)d * es;
            int64_t pn = p + np, npn = n_pos - pn < FR_MLA_ACC_POS ? n_pos - pn : FR_MLA_ACC_POS;
            for (int64_t i = 0; i < npn; i++) {
                const char *xn = x + (size_t)(np + i) * row_bytes;
                for (size_t k = 0; k < span; k += 64)
                    __builtin_prefetch(xn + k);
                __builtin_prefetch(xn + span - 1);
            }
            tile(type, x, row_bytes, np, nd, a + h0 * stride + p, stride, h1 - h0, out + h0 * r + d, r);
        }
    }
}

/* fn(type, ...) with the row type (F16, else F32) a compile-time constant in each branch: the
 * entry points of the always-inlined typed kernels */
#define FR_MLA_TYPED(fn, type, ...)                     \
    do {                                                \
        if ((type) == FR_TYPE_F16)                      \
            fn(FR_TYPE_F16, __VA_ARGS__);               \
        else                                            \
            fn(FR_TYPE_F32, __VA_ARGS__);               \
    } while (0)

/* An ISA file's fr_mla_accum_<isa> and fr_mla_accum_<isa>_add (kernels.h) from its
 *   accum_tile_typed(type, x, x_bytes, np, nd, a, stride, nh, out, r)
 * (always inlined): a tile function with the row type a compile-time constant in each of
 * its two copies, driven by fr_mla_accum_tiles. */
#define FR_MLA_ACCUM_ENTRY(NAME)                                                                                      \
    static void accum_tile(int type, const char *x, size_t x_bytes, int64_t np, int64_t nd, const float *a,          \
                           int64_t stride, int64_t nh, float *out, int64_t r) {                                       \
        FR_MLA_TYPED(accum_tile_typed, type, x, x_bytes, np, nd, a, stride, nh, out, r);                              \
    }                                                                                                                 \
    void NAME(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride, int64_t h0, \
              int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r) {                                            \
        fr_mla_accum_tiles(type, rows, row_bytes, n_pos, a, stride, h0, h1, d0, d1, out, r, true, accum_tile);        \
    }                                                                                                                 \
    void NAME##_add(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,      \
                    int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r) {                          \
        fr_mla_accum_tiles(type, rows, row_bytes, n_pos, a, stride, h0, h1, d0, d1, out, r, false, accum_tile);       \
    }

/* Scores of short rows (mla_attn_avx2.c's scores_conv_typed, mla_attn_avx512.c's): for heads
 * of w <= FR_MLA_CONV_W values, w % 8 == 0, the rows are converted to floats a group at a time
 * into a buffer of FR_MLA_CONV_W floats per row, shared by every query. Every ISA takes the
 * same widths. */
enum { FR_MLA_CONV_W = 128 };
static inline bool fr_mla_scores_conv(int64_t w) { return w % 8 == 0 && w <= FR_MLA_CONV_W; }

/* Loads one byte of every cache line of rows [p, p1) (bytes [off, off + n) of each), so that
 * they are in the caches before the FMA loops need them. The rows come from memory once per
 * layer; inside the FMA loops few of their misses overlap, and _mm_prefetch did not help
 * (mlabench), while these independent loads stream at close to the memory's bandwidth. */
static inline void fr_touch_rows(const void *rows, size_t row_bytes, int64_t p, int64_t p1, size_t off, size_t n) {
    unsigned sink = 0;
    for (; p < p1; p++) {
        const char *b = (const char *)rows + (size_t)p * row_bytes + off;
        for (size_t i = 0; i < n; i += 64)
            sink += *(const volatile unsigned char *)(b + i);
        sink += *(const volatile unsigned char *)(b + n - 1);
    }
    (void)sink;
}

/* Score blocks: a scores call's range [p0, p1) is taken FR_MLA_SCORE_ROWS rows at a time.
 * The first block is touched (fr_touch_rows); while a block is multiplied, the next one is
 * prefetched a few cache lines per register block, spread over the whole block's work, so
 * that it arrives from memory during the FMA loops instead of stalling them. (In mlabench
 * with the rows in memory, scores of 4,096 positions: about 11% faster than touching each
 * block when it starts, and as fast as with the rows in cache. One burst of prefetches per
 * block, or a distance in rows, did not help: the misses must be spread.) Callers should
 * pass ranges of several blocks (mla.c). */
enum { FR_MLA_SCORE_ROWS = 64 };

typedef struct {
    const char *rows;
    size_t row_bytes, wb, off; /* bytes [0, wb) of each row; off: the next line's offset */
    int64_t p, p1;             /* the rows still to prefetch: [p, p1) */
    int lines;                 /* lines per step */
} fr_mla_prefetch;

/* The prefetch of block [b1, b2) (wb bytes per row) in `steps` equal steps. */
static inline fr_mla_prefetch fr_mla_prefetch_block(const void *rows, size_t row_bytes, size_t wb, int64_t b1,
                                                     int64_t b2, int64_t steps) {
    int64_t per_row = (int64_t)((wb + 63) / 64), total = (b2 - b1) * per_row;
    fr_mla_prefetch pf = {rows, row_bytes, wb, 0, b1, b2, (int)((total + steps - 1) / (steps > 0 ? steps : 1))};
    return pf;
}

static inline void fr_mla_prefetch_step(fr_mla_prefetch *pf) {
    for (int i = 0; i < pf->lines && pf->p < pf->p1; i++) {
        __builtin_prefetch(pf->rows + (size_t)pf->p * pf->row_bytes + pf->off, 0, 2); /* to L2 */
        pf->off += 64;
        if (pf->off >= pf->wb) pf->off = 0, pf->p++;
    }
}

/* Block [b0, *b1) of a scores call over rows [p0, p1), FR_MLA_SCORE_ROWS rows, and the
 * prefetch of the next block in equal steps, one per `rows_per_step` rows of each of `groups`
 * head groups. The call's first block (b0 == p0) is touched first. Rows of `type` (F16 or
 * F32), the first w values of each. */
static inline fr_mla_prefetch fr_mla_score_block(int type, const void *rows, size_t row_bytes, int64_t w, int64_t p0,
                                                 int64_t b0, int64_t p1, int64_t groups, int64_t rows_per_step,
                                                 int64_t *b1) {
    size_t wb = (size_t)w * (type == FR_TYPE_F16 ? 2 : 4);
    *b1 = b0 + FR_MLA_SCORE_ROWS < p1 ? b0 + FR_MLA_SCORE_ROWS : p1;
    if (b0 == p0) fr_touch_rows(rows, row_bytes, b0, *b1, 0, wb);
    int64_t b2 = *b1 + FR_MLA_SCORE_ROWS < p1 ? *b1 + FR_MLA_SCORE_ROWS : p1;
    return fr_mla_prefetch_block(rows, row_bytes, wb, *b1, b2, groups * ((*b1 - b0) / rows_per_step));
}

#endif

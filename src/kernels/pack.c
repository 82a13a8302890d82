/* pack.c: fr_pack_unit, the load-time packing of 16 file rows into one unit (layouts in
 * gemm.h), written block by block in the order the unit is stored.
 *
 * fr_pack_unit_ref (gemm.c) is the reference: it takes one row at a time through every block
 * of the unit, decodes Q6_K value by value and clears the unit first. This file makes the same
 * bytes (tests/unit/test_tiles.c compares the two at every type, four widths and 16, 15 and
 * 1 rows) from whole 4-byte words: every vector of a unit block holds 4 bytes of each of
 * the 16 rows, row r at 4r, and for every type those 4 bytes are a contiguous run of the
 * file block (vector v: bytes 4v.. of the run). Q6_K's low nibbles are regrouped a row at a
 * time; its top bits need nothing (a unit byte of H equals the file's qh byte).
 *
 * Why: loading is mostly this packing and the first touch of the new pages. With the file in
 * the page cache, `bench/packtime` (2 CPUs, AMD EPYC VM, old and new builds alternated, user
 * CPU seconds): tinyllama Q6_K 3.10 and 3.38 -> 1.00 and 0.99 (load 2.3-2.5 -> 0.8 s), Q4_K_M
 * 1.14 and 1.10 -> 0.66 and 0.80, Q4_0 0.80 and 0.86 -> 0.64 and 0.59; Q8_0 unchanged (1.1-1.3).
 * One unit in cache (2048 values): Q6_K 0.3 -> 5.8 GB/s, Q5_0 and Q5_1 1.2 -> 3.7, Q4_0 5.6 ->
 * 10; the K-quants other than Q6_K about the same. The reference packer is kept for units of
 * fewer than 16 rows (a matrix's last unit when its rows are not a multiple of 16). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"
#include "gemm.h"

enum { ROWS = FR_GEMM_ROWS };

/* (each type's loop is compiled apart, with its offsets and counts as constants) */
#define PACK_INLINE static inline __attribute__((always_inline))

/* nv vectors at dst: vector v holds bytes 4v .. 4v + 3 of src[r] + off for each row r. */
PACK_INLINE void put_vectors(uint8_t *dst, const uint8_t *const *src, size_t off, int nv) {
    for (int v = 0; v < nv; v++)
        for (int r = 0; r < ROWS; r++)
            memcpy(dst + 64 * v + 4 * r, src[r] + off + 4 * v, 4);
}

/* The 16 rows' 2-byte field at off (fp16 d, dmin or m) side by side at dst. */
PACK_INLINE void put_halves(uint8_t *dst, const uint8_t *const *src, size_t off) {
    for (int r = 0; r < ROWS; r++)
        memcpy(dst + 2 * r, src[r] + off, 2);
}

/* Q5_0 / Q5_1's fifth bits of one row (qh, bit j = value j) as the unit's vector H wants
 * them: byte e has value 4m + e's bit at 2m and value 16 + 4m + e's at 2m + 1 (m < 4). */
PACK_INLINE void put_fifth_bits(uint8_t *dst, const uint8_t *qh4) {
    const uint32_t qh = (uint32_t)qh4[0] | (uint32_t)qh4[1] << 8 | (uint32_t)qh4[2] << 16 | (uint32_t)qh4[3] << 24;
    for (int e = 0; e < 4; e++) {
        const uint32_t x = qh >> e;
        const uint32_t y = (x & 0x1111u) | ((x >> 16) & 0x1111u) << 1; /* value 4m + e at 4m, 16 + 4m + e at 4m + 1 */
        const uint32_t z = (y | y >> 2) & 0x0f0fu; /* pairs m = 0, 1 at bits 0-3, m = 2, 3 at 8-11 */
        dst[e] = (uint8_t)(z | z >> 4);
    }
}

/* One row's Q6_K low nibbles in the order of the unit's vectors L: byte 32l + p (p < 32)
 * holds value 64l + p's low 4 bits (low nibble) and value 64l + 32 + p's (high nibble);
 * both sit in ql[64 (l / 2) ..], in the low nibbles for even l and the high for odd l. */
PACK_INLINE void q6_low_nibbles(const uint8_t *ql, uint8_t *out) {
    for (int l = 0; l < 4; l++) {
        const uint8_t *a = ql + 64 * (l / 2);
        const int sh = 4 * (l % 2);
        for (int p = 0; p < 32; p++)
            out[32 * l + p] = (uint8_t)(((a[p] >> sh) & 15) | ((a[32 + p] >> sh) & 15) << 4);
    }
}

/* The 32-value nibble types: where a file block keeps its nibbles qs, scale d, min m and fifth
 * bits qh (-1: none), and where a unit block keeps the 16 rows' d, m and fifth bits. */
typedef struct {
    size_t qs, d;
    int m, qh;
    size_t ud, um, uqh;
} nib_fields;

PACK_INLINE nib_fields nib_fields_of(int type) {
    switch (type) {
    case FR_TYPE_Q4_1:
        return (nib_fields){offsetof(block_q4_1, qs),
                            offsetof(block_q4_1, d),
                            offsetof(block_q4_1, m),
                            -1,
                            FR_Q4_1X16_D,
                            FR_Q4_1X16_M,
                            0};
    case FR_TYPE_Q5_0:
        return (nib_fields){offsetof(block_q5_0, qs),
                            offsetof(block_q5_0, d),
                            -1,
                            offsetof(block_q5_0, qh),
                            FR_Q5_0X16_D,
                            0,
                            FR_Q5_0X16_QH};
    case FR_TYPE_Q5_1:
        return (nib_fields){offsetof(block_q5_1, qs),
                            offsetof(block_q5_1, d),
                            offsetof(block_q5_1, m),
                            offsetof(block_q5_1, qh),
                            FR_Q5_1X16_D,
                            FR_Q5_1X16_M,
                            FR_Q5_1X16_QH};
    default: /* Q4_0, IQ4_NL */
        return (nib_fields){offsetof(block_q4_0, qs), offsetof(block_q4_0, d), -1, -1, FR_Q4_0X16_D, 0, 0};
    }
}

/* One block of each of the 16 rows (row[r]: row r's) into unit block u. */
PACK_INLINE void pack_block(int type, const uint8_t *const *row, uint8_t *u) {
    switch (type) {
    case FR_TYPE_Q4_0:
    case FR_TYPE_IQ4_NL:
    case FR_TYPE_Q4_1:
    case FR_TYPE_Q5_0:
    case FR_TYPE_Q5_1: {
        const nib_fields f = nib_fields_of(type);
        put_vectors(u, row, f.qs, 4);
        if (f.qh >= 0)
            for (int r = 0; r < ROWS; r++)
                put_fifth_bits(u + f.uqh + 4 * r, row[r] + f.qh);
        if (f.m >= 0) put_halves(u + f.um, row, (size_t)f.m);
        put_halves(u + f.ud, row, f.d);
        break;
    }
    case FR_TYPE_Q8_0:
        put_vectors(u, row, offsetof(block_q8_0, qs), 8);
        put_halves(u + FR_Q8_0X16_D, row, offsetof(block_q8_0, d));
        break;
    case FR_TYPE_Q4_K:
    case FR_TYPE_Q5_K: {
        const bool q5 = type == FR_TYPE_Q5_K;
        put_vectors(u, row, q5 ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs), 32);
        for (int r = 0; r < ROWS; r++) {
            const uint8_t *scales = row[r] + offsetof(block_q4_K, scales); /* (the same offset in Q5_K) */
            for (int j = 0; j < 8; j++)
                fr_q4_K_scale_min(j, scales, &u[FR_Q4_KX16_SC + 16 * j + r],
                                  &u[FR_Q4_KX16_MN + 32 * (j / 2) + 2 * r + (j & 1)]);
        }
        put_halves(u + FR_Q4_KX16_D, row, offsetof(block_q4_K, d));
        put_halves(u + FR_Q4_KX16_DMIN, row, offsetof(block_q4_K, dmin));
        if (q5) put_vectors(u + FR_Q5_KX16_QH, row, offsetof(block_q5_K, qh), 8);
        break;
    }
    case FR_TYPE_Q2_K:
        put_vectors(u, row, offsetof(block_q2_K, qs), 16);
        for (int j = 0; j < 16; j++)
            for (int r = 0; r < ROWS; r++)
                u[FR_Q2_KX16_SC + 16 * j + r] = row[r][offsetof(block_q2_K, scales) + j];
        put_halves(u + FR_Q2_KX16_D, row, offsetof(block_q2_K, d));
        put_halves(u + FR_Q2_KX16_DMIN, row, offsetof(block_q2_K, dmin));
        break;
    case FR_TYPE_Q3_K:
        put_vectors(u, row, offsetof(block_q3_K, qs), 16);
        put_vectors(u + FR_Q3_KX16_HM, row, offsetof(block_q3_K, hmask), 8);
        for (int r = 0; r < ROWS; r++) {
            int8_t sc[16];
            fr_q3_K_scales(row[r] + offsetof(block_q3_K, scales), sc);
            for (int j = 0; j < 16; j++)
                u[FR_Q3_KX16_SC + 16 * j + r] = (uint8_t)sc[j];
        }
        put_halves(u + FR_Q3_KX16_D, row, offsetof(block_q3_K, d));
        break;
    default: { /* FR_TYPE_Q6_K */
        uint8_t low[ROWS][QK_K / 2];
        const uint8_t *lp[ROWS];
        for (int r = 0; r < ROWS; r++) {
            q6_low_nibbles(row[r] + offsetof(block_q6_K, ql), low[r]);
            lp[r] = low[r];
        }
        put_vectors(u, lp, 0, 32);
        put_vectors(u + FR_Q6_KX16_QH, row, offsetof(block_q6_K, qh), 16);
        for (int j = 0; j < 16; j++)
            for (int r = 0; r < ROWS; r++)
                u[FR_Q6_KX16_SC + 16 * j + r] = row[r][offsetof(block_q6_K, scales) + j];
        put_halves(u + FR_Q6_KX16_D, row, offsetof(block_q6_K, d));
        break;
    }
    }
}

PACK_INLINE void pack_blocks(const int type, int64_t nb, size_t fb, size_t bb, const void *rows, size_t row_bytes,
                             void *unit) {
    const uint8_t *row[ROWS];
    for (int64_t b = 0; b < nb; b++) {
        for (int r = 0; r < ROWS; r++)
            row[r] = (const uint8_t *)rows + (size_t)r * row_bytes + (size_t)b * fb;
        pack_block(type, row, (uint8_t *)unit + (size_t)b * bb);
    }
}

void fr_pack_unit(int type, int64_t n_in, const void *rows, size_t row_bytes, int nrows, void *unit) {
    if (nrows != ROWS) {
        fr_pack_unit_ref(type, n_in, rows, row_bytes, nrows, unit);
        return;
    }
    const int64_t nb = n_in / fr_pack_block_values(type);
    const size_t bb = fr_pack_block_bytes(type); /* a unit block's bytes */
    size_t fb;                                   /* a file block's */
    fr_row_size(type, fr_pack_block_values(type), &fb);
    switch (type) {
    case FR_TYPE_Q4_0: pack_blocks(FR_TYPE_Q4_0, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_IQ4_NL: pack_blocks(FR_TYPE_IQ4_NL, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q4_1: pack_blocks(FR_TYPE_Q4_1, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q5_0: pack_blocks(FR_TYPE_Q5_0, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q5_1: pack_blocks(FR_TYPE_Q5_1, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q8_0: pack_blocks(FR_TYPE_Q8_0, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q4_K: pack_blocks(FR_TYPE_Q4_K, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q5_K: pack_blocks(FR_TYPE_Q5_K, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q2_K: pack_blocks(FR_TYPE_Q2_K, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q3_K: pack_blocks(FR_TYPE_Q3_K, nb, fb, bb, rows, row_bytes, unit); break;
    case FR_TYPE_Q6_K: pack_blocks(FR_TYPE_Q6_K, nb, fb, bb, rows, row_bytes, unit); break;
    default: fr_pack_unit_ref(type, n_in, rows, row_bytes, nrows, unit); return; /* (no other type packs) */
    }
    const size_t used = (size_t)nb * bb; /* the unit's stride is rounded up to 64 bytes */
    memset((uint8_t *)unit + used, 0, fr_pack_unit_bytes(type, n_in) - used);
}

/* attn_q8.h: the scores of a Q8_0 KV cache with the keys in the lanes (attn_q8_avx2.c,
 * attn_q8_avx512vnni.c), shared by both files. Included only by x86 SIMD sources.
 *
 * fr_attn_scores_quant (mla_attn.c) must give each (query, key) the bits of the type's
 * vec_dot: per block b, the exact integer sum_i x_i y_i, then
 *     s = fmaf((float)isum_b, f32(x.d_b) * f32(y.d_b), s)     over b = 0, 1, ... from s = 0,
 * then s * scale. Row-at-a-time kernels need a horizontal sum per (query, key, block). Here a
 * chunk of up to ATTN_Q8_CHUNK keys is transposed once into a buffer, for all the queries: a
 * register's lane j holds key j's dword e of block b (4 consecutive values), so that a query's
 * dword e broadcast to every lane gives, with maddubs/madd or vpdpbusd, the block sums of 8 or
 * 16 keys at once, and the float steps run lane by lane in the scalar order. The integer sums
 * are exact however they are formed, so the results are vec_dot's bit for bit. */
#ifndef FR_ATTN_Q8_H
#define FR_ATTN_Q8_H

#include <immintrin.h>
#include <stdint.h>

#include "dtype.h"

enum {
    ATTN_Q8_CHUNK = 64, /* keys transposed at a time */
    ATTN_Q8_MAXB = 4,   /* blocks per head (w <= 128); wider heads take the row-at-a-time path */
};

#define FR_Q8_INLINE static inline __attribute__((always_inline))
#define FR_Q8_UNROLL _Pragma("GCC unroll 8")

/* rows r[0..7] (8 dwords each) transposed: t[e] lane j = dword e of r[j] */
FR_Q8_INLINE void attn_q8_transpose8(const __m256i *r, __m256i *t) {
    __m256i a[8], u[8];
    for (int i = 0; i < 4; i++) {
        a[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);     /* dwords 0 1 | 4 5 of rows 2i, 2i+1 */
        a[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]); /* dwords 2 3 | 6 7 */
    }
    for (int h = 0; h < 2; h++) { /* rows 4h .. 4h + 3 */
        const __m256i *b = a + 4 * h;
        u[4 * h + 0] = _mm256_unpacklo_epi64(b[0], b[2]); /* dword 0 | 4 of the four rows */
        u[4 * h + 1] = _mm256_unpackhi_epi64(b[0], b[2]); /* 1 | 5 */
        u[4 * h + 2] = _mm256_unpacklo_epi64(b[1], b[3]); /* 2 | 6 */
        u[4 * h + 3] = _mm256_unpackhi_epi64(b[1], b[3]); /* 3 | 7 */
    }
    for (int e = 0; e < 4; e++) {
        t[e] = _mm256_permute2x128_si256(u[e], u[4 + e], 0x20);
        t[e + 4] = _mm256_permute2x128_si256(u[e], u[4 + e], 0x31);
    }
}

/* 8 rows' block b (row j at x[j]): the 32 values transposed (attn_q8_transpose8) and the 8
 * scales as floats */
FR_Q8_INLINE __m256 attn_q8_load8(const char *const *x, int64_t b, __m256i *t) {
    __m256i r[8];
    uint16_t d[8];
    for (int j = 0; j < 8; j++) {
        const block_q8_0 *blk = (const block_q8_0 *)x[j] + b;
        r[j] = _mm256_loadu_si256((const __m256i *)blk->qs);
        d[j] = blk->d;
    }
    attn_q8_transpose8(r, t);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
}

#endif

/* attn_q8_avx2.c: fr_attn_scores_q8_0_avx2 (kernels.h), the keys of a Q8_0 cache 8 to a
 * register (attn_q8.h). Per dword e of a block: vpsignb puts the query's signs on the keys'
 * values, vpmaddubsw multiplies them by the query's magnitudes (|y| <= 127 and |x| <= 127 for
 * rows made by fr_from_float_q8_0, so no pair of products saturates), vpmaddwd adds the pairs:
 * the exact sums of 4 products, added into the block's int32 lanes. */
#include <immintrin.h>
#include <string.h>

#include "attn_q8.h"
#include "kernels.h"

/* rows r[0..7] (8 dwords each) transposed: t[e] lane j = dword e of r[j] */
FR_Q8_INLINE void transpose8(const __m256i *r, __m256i *t) {
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

/* 8 rows' block b (row j at x[j]): the 32 values transposed (transpose8) and the 8
 * scales as floats */
FR_Q8_INLINE __m256 load8(const char *const *x, int64_t b, __m256i *t) {
    __m256i r[8];
    uint16_t d[8];
    for (int j = 0; j < 8; j++) {
        const block_q8_0 *blk = (const block_q8_0 *)x[j] + b;
        r[j] = _mm256_loadu_si256((const __m256i *)blk->qs);
        d[j] = blk->d;
    }
    transpose8(r, t);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
}

int64_t fr_attn_scores_q8_0_avx2(const void *rows, size_t row_bytes, int64_t n_pos, const void *qq, size_t q_bytes,
                                 int64_t n_q, int64_t w, float scale, float *scores, int64_t stride) {
    const int64_t nb = w / QK8_0;
    if (w % QK8_0 != 0 || nb < 1 || nb > ATTN_Q8_MAXB) return 0;
    enum { G = ATTN_Q8_CHUNK / 8 };
    __m256i xt[G][ATTN_Q8_MAXB][8]; /* [8-key group][block][dword] */
    __m256 dx[G][ATTN_Q8_MAXB];
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t p0 = 0;
    for (; p0 + 8 <= n_pos;) {
        const int ng = (int)((n_pos - p0 < ATTN_Q8_CHUNK ? n_pos - p0 : ATTN_Q8_CHUNK) / 8);
        for (int g = 0; g < ng; g++) {
            const char *x[8];
            for (int j = 0; j < 8; j++)
                x[j] = (const char *)rows + (size_t)(p0 + 8 * g + j) * row_bytes;
            for (int64_t b = 0; b < nb; b++)
                dx[g][b] = load8(x, b, xt[g][b]);
        }
        for (int64_t k = 0; k < n_q; k++) {
            const block_q8_0 *y = (const block_q8_0 *)((const char *)qq + (size_t)k * q_bytes);
            __m256i ys[ATTN_Q8_MAXB][8], ya[ATTN_Q8_MAXB][8]; /* each dword of the query: as is, magnitudes */
            __m256 dy[ATTN_Q8_MAXB];
            for (int64_t b = 0; b < nb; b++) {
                FR_Q8_UNROLL for (int e = 0; e < 8; e++) {
                    int32_t v;
                    memcpy(&v, y[b].qs + 4 * e, 4);
                    ys[b][e] = _mm256_set1_epi32(v);
                    ya[b][e] = _mm256_abs_epi8(ys[b][e]);
                }
                dy[b] = _mm256_set1_ps(fr_f16_to_f32(y[b].d));
            }
            float *out = scores + k * stride + p0;
            for (int g = 0; g < ng; g++) {
                __m256 s = _mm256_setzero_ps();
                for (int64_t b = 0; b < nb; b++) {
                    __m256i acc = _mm256_setzero_si256();
                    FR_Q8_UNROLL for (int e = 0; e < 8; e++) {
                        const __m256i pr = _mm256_maddubs_epi16(ya[b][e], _mm256_sign_epi8(xt[g][b][e], ys[b][e]));
                        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pr, ones));
                    }
                    s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(dx[g][b], dy[b]), s);
                }
                _mm256_storeu_ps(out + 8 * g, _mm256_mul_ps(s, vs));
            }
        }
        p0 += 8 * ng;
    }
    return p0;
}

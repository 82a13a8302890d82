/* attn_q8_avx512vnni.c: fr_attn_scores_q8_0_avx512vnni (kernels.h), the keys of a Q8_0 cache
 * 16 to a register (attn_q8.h), each register gathered a dword at a time (vpgatherdd: 8 per
 * block of 16 keys, where two of attn_q8_avx2.c's transposes took 112 shuffles; tinyllama's decode
 * shape, 8 queries, 4,096 Q8_0 rows in cache, one thread: 0.92 -> 0.71 ns per (query, key)).
 * The keys' values are stored as u = x ^ 0x80 = x + 128, and vpdpbusd adds the four u * y
 * products of a dword to lanes that start at -128 * (the sum of the query block's values):
 * the exact block sums, as in gemm_avx512vnni.c's Q8_0 kernel. */
#include <immintrin.h>
#include <string.h>

#include "attn_q8.h"
#include "kernels.h"

/* sum of the 32 signed values of a block */
FR_Q8_INLINE int32_t sum_i8x32(const int8_t *q) {
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)q), _mm256_set1_epi8((char)0x80));
    const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256()); /* 4 sums of (v + 128) */
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
}

/* One query against ng (NG) groups of 16 keys: per block, two accumulators per group (the
 * dwords of even and odd e: 2 NG independent vpdpbusd chains, whose integer sum is the same
 * whichever adds come first), then the block's float step lane by lane. */
FR_Q8_INLINE void query_groups(const int NG, __m512i (*xt)[ATTN_Q8_MAXB][8], __m512 (*dx)[ATTN_Q8_MAXB], int64_t nb,
                               const block_q8_0 *y, __m512 vs, float *out) {
    __m512 s[4];
    FR_PRAGMA_UNROLL(4) for (int g = 0; g < NG; g++) s[g] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i ys[8], a0[4], a1[4];
        FR_PRAGMA_UNROLL(8) for (int e = 0; e < 8; e++) {
            int32_t v;
            memcpy(&v, y[b].qs + 4 * e, 4);
            ys[e] = _mm512_set1_epi32(v);
        }
        const __m512i corr = _mm512_set1_epi32(-128 * sum_i8x32(y[b].qs));
        FR_PRAGMA_UNROLL(4) for (int g = 0; g < NG; g++) a0[g] = corr, a1[g] = _mm512_setzero_si512();
        FR_PRAGMA_UNROLL(8) for (int e = 0; e < 8; e += 2) FR_PRAGMA_UNROLL(4) for (int g = 0; g < NG; g++) {
            a0[g] = _mm512_dpbusd_epi32(a0[g], xt[g][b][e], ys[e]);
            a1[g] = _mm512_dpbusd_epi32(a1[g], xt[g][b][e + 1], ys[e + 1]);
        }
        const __m512 dy = _mm512_set1_ps(fr_f16_to_f32(y[b].d));
        FR_PRAGMA_UNROLL(4)
        for (int g = 0; g < NG; g++) s[g] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a0[g], a1[g])), _mm512_mul_ps(dx[g][b], dy), s[g]);
    }
    FR_PRAGMA_UNROLL(4) for (int g = 0; g < NG; g++) _mm512_storeu_ps(out + 16 * g, _mm512_mul_ps(s[g], vs));
}

int64_t fr_attn_scores_q8_0_avx512vnni(const void *rows, size_t row_bytes, int64_t n_pos, const void *qq,
                                       size_t q_bytes, int64_t n_q, int64_t w, float scale, float *scores,
                                       int64_t stride) {
    const int64_t nb = w / QK8_0;
    if (w % QK8_0 != 0 || nb < 1 || nb > ATTN_Q8_MAXB || row_bytes > INT32_MAX / 16) return 0; /* (gather offsets) */
    enum { G = ATTN_Q8_CHUNK / 16 };
    __m512i xt[G][ATTN_Q8_MAXB][8]; /* [16-key group][block][dword], values + 128 */
    __m512 dx[G][ATTN_Q8_MAXB];
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512 vs = _mm512_set1_ps(scale);
    const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)row_bytes));
    int64_t p0 = 0;
    for (; p0 + 16 <= n_pos;) {
        const int ng = (int)((n_pos - p0 < ATTN_Q8_CHUNK ? n_pos - p0 : ATTN_Q8_CHUNK) / 16);
        for (int g = 0; g < ng; g++) { /* lane j: key p0 + 16 g + j, gathered a dword at a time */
            const char *x0 = (const char *)rows + (size_t)(p0 + 16 * g) * row_bytes;
            for (int64_t b = 0; b < nb; b++) {
                const char *xb = x0 + (size_t)b * sizeof(block_q8_0);
                FR_Q8_UNROLL for (int e = 0; e < 8; e++) xt[g][b][e] =
                    _mm512_xor_si512(_mm512_i32gather_epi32(vidx, xb + 2 + 4 * e, 1), flip);
                const __m512i d32 = _mm512_i32gather_epi32(vidx, xb, 1); /* the scale in the low half */
                dx[g][b] = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d32));
            }
        }
        for (int64_t k = 0; k < n_q; k++) {
            const block_q8_0 *y = (const block_q8_0 *)((const char *)qq + (size_t)k * q_bytes);
            float *out = scores + k * stride + p0;
            switch (ng) { /* (the group count a constant in each copy) */
            case 4: query_groups(4, xt, dx, nb, y, vs, out); break;
            case 3: query_groups(3, xt, dx, nb, y, vs, out); break;
            case 2: query_groups(2, xt, dx, nb, y, vs, out); break;
            default: query_groups(1, xt, dx, nb, y, vs, out); break;
            }
        }
        p0 += 16 * ng;
    }
    return p0;
}

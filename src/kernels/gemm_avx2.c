/* gemm_avx2.c: AVX2 micro-kernels over packed 8-row groups (layouts in gemm.h).
 *
 * One vector lane per weight row: a 32-bit broadcast of 4 activation bytes times a vector
 * holding the same 4 positions of the 8 rows gives, after maddubs, per-row partial sums,
 * and no horizontal reduction is ever needed. Per block and activation row: Q4_0 adds the
 * eight maddubs results in int16 (exact: see below) and widens once; Q8_0 widens each.
 * Then one int->float conversion, one scale product and one FMA serve 8 outputs.
 *
 * Q4_0 exactness: the unsigned nibble q (0..15) times y (-128..127): a maddubs pair is at
 * most 3840 in magnitude, never saturating. Each int16 lane starts at -8 * (sum of the y it
 * will meet), so after all eight steps it holds sum((q - 8) * y) over its 16 positions,
 * |.| <= 16384: the wrapping int16 adds are exact. */
#include <immintrin.h>
#include <string.h>

#include "gemm.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 8")

FR_INLINE __m256i bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

FR_INLINE void q4_0x8(int64_t nb, const void *group, const void *const *acts, const int T, float *out) {
    const uint8_t *wq = group;
    const uint16_t *wd = (const uint16_t *)(wq + nb * 128);
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 32);
        yc[t] = (const int32_t *)(yq[t] + nb * 36);
    }
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) s[t] = _mm256_set1_epi32(yc[t][b]);
        const uint8_t *q = wq + b * 128;
        FR_UNROLL for (int m = 0; m < 4; m++) {
            const __m256i p = _mm256_loadu_si256((const __m256i *)(q + 32 * m));
            const __m256i lo = _mm256_and_si256(p, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * m;
                s[t] = _mm256_add_epi16(s[t], _mm256_maddubs_epi16(lo, bcast32(y)));
                s[t] = _mm256_add_epi16(s[t], _mm256_maddubs_epi16(hi, bcast32(y + 16)));
            }
        }
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + b * 8)));
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m256 sc = _mm256_mul_ps(dx, _mm256_broadcast_ss(yd[t] + b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s[t], ones)), sc, acc[t]);
        }
    }
    FR_UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);
}

void fr_gemm_q4_0x8_avx2(int64_t nb, const void *group, const void *const *acts, int T, float *out) {
    switch (T) {
    case 1: q4_0x8(nb, group, acts, 1, out); break;
    case 2: q4_0x8(nb, group, acts, 2, out); break;
    case 3: q4_0x8(nb, group, acts, 3, out); break;
    case 4: q4_0x8(nb, group, acts, 4, out); break;
    default: break;
    }
}

FR_INLINE void q8_0x8(int64_t nb, const void *group, const void *const *acts, const int T, float *out) {
    const int8_t *wq = group;
    const uint16_t *wd = (const uint16_t *)(wq + nb * 256);
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 32);
    }
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) s[t] = _mm256_setzero_si256();
        const int8_t *q = wq + b * 256;
        FR_UNROLL for (int k = 0; k < 8; k++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(q + 32 * k));
            const __m256i aw = _mm256_sign_epi8(w, w);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast32(yq[t] + b * 32 + 4 * k), w));
                s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(p, ones));
            }
        }
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + b * 8)));
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m256 sc = _mm256_mul_ps(dx, _mm256_broadcast_ss(yd[t] + b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), sc, acc[t]);
        }
    }
    FR_UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);
}

void fr_gemm_q8_0x8_avx2(int64_t nb, const void *group, const void *const *acts, int T, float *out) {
    switch (T) {
    case 1: q8_0x8(nb, group, acts, 1, out); break;
    case 2: q8_0x8(nb, group, acts, 2, out); break;
    case 3: q8_0x8(nb, group, acts, 3, out); break;
    case 4: q8_0x8(nb, group, acts, 4, out); break;
    default: break;
    }
}

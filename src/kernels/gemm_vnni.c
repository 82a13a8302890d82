/* gemm_vnni.c: the Q4_0x8 and Q8_0x8 micro-kernels of gemm_avx2.c on AVX-VNNI (the VEX
 * form of vpdpbusd on 256-bit registers: Intel since Alder Lake, AMD since Zen 5). Built with
 * -mavxvnni; run only where fr_cpu_has(FR_ISA_AVXVNNI).
 *
 * vpdpbusd adds the four products of unsigned bytes with signed bytes of each 32-bit lane to
 * that lane in int32 without any intermediate saturation, so one instruction replaces
 * maddubs + add (Q4_0) or maddubs + madd + add (Q8_0), and the integer block sums are the
 * same exact integers as in gemm_avx2.c: the float steps after them are identical, so every
 * result is bit-identical to fr_vec_dot_q4_0/q8_0 (gemm.h, "Result order").
 *
 * Each activation row keeps two int32 accumulators per block (even and odd weight vectors)
 * so that the dependent vpdpbusd chains are half as long. */
#include <immintrin.h>
#include <string.h>

#include "gemm.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 8")
#ifndef FR_PF_DIST
#define FR_PF_DIST 6144 /* bytes ahead in the weight stream, as gemm_avx2.c */
#endif

FR_INLINE __m256i bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* Q4_0: nibbles q (0..15) times y; each lane starts at -8 * (sum of the block's 32 y), the
 * sum of the two int16 halves of the activation's offset word, so it ends at
 * sum((q - 8) * y) for its row. */
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
        __m256i s[FR_GEMM_MAX_T], u[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) {
            s[t] = _mm256_madd_epi16(_mm256_set1_epi32(yc[t][b]), ones);
            u[t] = _mm256_setzero_si256();
        }
        const uint8_t *q = wq + b * 128;
        if (FR_PF_DIST) {
            _mm_prefetch((const char *)q + FR_PF_DIST, _MM_HINT_T0);
            _mm_prefetch((const char *)q + FR_PF_DIST + 64, _MM_HINT_T0);
        }
        FR_UNROLL for (int m = 0; m < 4; m++) {
            const __m256i p = _mm256_loadu_si256((const __m256i *)(q + 32 * m));
            const __m256i lo = _mm256_and_si256(p, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * m;
                s[t] = _mm256_dpbusd_avx_epi32(s[t], lo, bcast32(y));
                u[t] = _mm256_dpbusd_avx_epi32(u[t], hi, bcast32(y + 16));
            }
        }
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + b * 8)));
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m256 sc = _mm256_mul_ps(dx, _mm256_broadcast_ss(yd[t] + b));
            const __m256i isum = _mm256_add_epi32(s[t], u[t]);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), sc, acc[t]);
        }
    }
    FR_UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);
}

void fr_gemm_q4_0x8_vnni(int64_t nb, const void *group, const void *const *acts, int T, float *out) {
    switch (T) {
    case 1: q4_0x8(nb, group, acts, 1, out); break;
    case 2: q4_0x8(nb, group, acts, 2, out); break;
    case 3: q4_0x8(nb, group, acts, 3, out); break;
    case 4: q4_0x8(nb, group, acts, 4, out); break;
    default: break;
    }
}

/* Q8_0: |w| (0..128 as an unsigned byte) times y with w's sign moved onto y. */
FR_INLINE void q8_0x8(int64_t nb, const void *group, const void *const *acts, const int T, float *out) {
    const int8_t *wq = group;
    const uint16_t *wd = (const uint16_t *)(wq + nb * 256);
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 32);
    }
    __m256 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s[FR_GEMM_MAX_T], u[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) s[t] = u[t] = _mm256_setzero_si256();
        const int8_t *q = wq + b * 256;
        if (FR_PF_DIST)
            FR_UNROLL for (int l = 0; l < 4; l++) _mm_prefetch((const char *)q + FR_PF_DIST + 64 * l, _MM_HINT_T0);
        FR_UNROLL for (int k = 0; k < 8; k += 2) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(q + 32 * k));
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(q + 32 * k + 32));
            const __m256i a0 = _mm256_sign_epi8(w0, w0), a1 = _mm256_sign_epi8(w1, w1);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * k;
                s[t] = _mm256_dpbusd_avx_epi32(s[t], a0, _mm256_sign_epi8(bcast32(y), w0));
                u[t] = _mm256_dpbusd_avx_epi32(u[t], a1, _mm256_sign_epi8(bcast32(y + 4), w1));
            }
        }
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + b * 8)));
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m256 sc = _mm256_mul_ps(dx, _mm256_broadcast_ss(yd[t] + b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s[t], u[t])), sc, acc[t]);
        }
    }
    FR_UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);
}

void fr_gemm_q8_0x8_vnni(int64_t nb, const void *group, const void *const *acts, int T, float *out) {
    switch (T) {
    case 1: q8_0x8(nb, group, acts, 1, out); break;
    case 2: q8_0x8(nb, group, acts, 2, out); break;
    case 3: q8_0x8(nb, group, acts, 3, out); break;
    case 4: q8_0x8(nb, group, acts, 4, out); break;
    default: break;
    }
}

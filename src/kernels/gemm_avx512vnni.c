/* gemm_avx512vnni.c: the Q4_0x8, Q8_0x8 and Q4_Kx8 packed kernels on 512-bit registers with
 * AVX512-VNNI (compiled with -mavx512f -mavx512bw -mavx512vnni; called only where
 * fr_cpu_has(FR_ISA_AVX512VNNI)). Layouts and the result order are those of gemm.h.
 *
 * One call multiplies TWO consecutive 8-row groups: the low 256 bits of every register
 * belong to the first group, the high 256 bits to the second, so each lane is one weight row
 * exactly as in the 256-bit kernels and the same activation broadcast serves both groups.
 * vpdpbusd adds the four u8 x s8 products of each lane to it in int32 without saturation, so
 * every block sum is the same exact integer as in gemm_avx2.c / gemm_vnni.c, and the float
 * steps after it are the same: results are bit-identical.
 *   Q4_0: nibbles 0..15 times y; lanes start at -8 * (sum of the block's y), the sum of the
 *         two int16 halves of the Q4_0 offset word (gemm.h).
 *   Q8_0: u = w ^ 0x80 = w + 128 times y; lanes start at the Q8_0 offset word -128 * sum(y). */
#include "gemm_simd.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* 4 activation bytes in every dword of a 512-bit register. */
FR_INLINE __m512i bcast32x16(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Software prefetch of both groups' streams (decode is DRAM-latency-bound without it): the
 * bytes each stream reads FR_PF_DIST later. g1 = g0 + gb, and the caller's next pair is
 * (g0 + 2 gb, g1 + 2 gb) (gemm.c, matmul_multi.c take consecutive groups), so a target past
 * the end of a group lies in the next pair's group of the same stream. */
FR_INLINE void prefetch_pair(const uint8_t *g0, size_t gb, size_t off, int lines) {
    size_t t = off + FR_PF_DIST;
    if (t >= gb) t += gb;
    for (int l = 0; l < lines; l++) {
        _mm_prefetch((const char *)g0 + t + 64 * l, _MM_HINT_T0);
        _mm_prefetch((const char *)g0 + gb + t + 64 * l, _MM_HINT_T0);
    }
}

/* 32 bytes at a (low half) and at b (high half). */
FR_INLINE __m512i load_pair(const uint8_t *a, const uint8_t *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* 16 bytes at a (low half) and 16 at b (high half). */
FR_INLINE __m256i load_pair256(const uint8_t *a, const uint8_t *b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                   _mm_loadu_si128((const __m128i *)b), 1);
}

/* The 16 fp16 scales of block b of both groups, as floats. */
FR_INLINE __m512 scales_pair(const uint16_t *d0, const uint16_t *d1, int64_t b) {
    const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(d0 + b * 8))),
                                              _mm_loadu_si128((const __m128i *)(d1 + b * 8)), 1);
    return _mm512_cvtph_ps(h);
}

/* The end of a block for both groups: acc[t] = fma((float)(s[t] + u[t]), dx * dy_t, acc[t]). */
FR_INLINE void block_end_pair(const uint16_t *d0, const uint16_t *d1, int64_t b, const float *const *yd,
                              const __m512i *s, const __m512i *u, const int T, __m512 *acc) {
    const __m512 dx = scales_pair(d0, d1, b);
    FR_UNROLL for (int t = 0; t < T; t++) {
        const __m512 sc = _mm512_mul_ps(dx, _mm512_set1_ps(yd[t][b]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[t], u[t])), sc, acc[t]);
    }
}

FR_INLINE void store_pair(const __m512 *acc, const int T, float *out0, float *out1) {
    FR_UNROLL for (int t = 0; t < T; t++) {
        _mm256_storeu_ps(out0 + 8 * t, _mm512_castps512_ps256(acc[t]));
        _mm256_storeu_ps(out1 + 8 * t, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t]), 1)));
    }
}

FR_INLINE void q4_0x16(int64_t nb, const uint8_t *g0, const uint8_t *g1, const void *const *acts, const int T,
                       float *out0, float *out1) {
    const uint16_t *d0 = (const uint16_t *)(g0 + nb * 128), *d1 = (const uint16_t *)(g1 + nb * 128);
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const __m512i m4 = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi16(1);
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i s[FR_GEMM_MAX_T], u[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) {
            s[t] = _mm512_madd_epi16(_mm512_set1_epi32(yc[t][b]), ones);
            u[t] = _mm512_setzero_si512();
        }
        if (FR_PF_DIST) prefetch_pair(g0, (size_t)(g1 - g0), (size_t)b * 128, 2);
        FR_UNROLL for (int m = 0; m < 4; m++) {
            const __m512i p = load_pair(g0 + b * 128 + 32 * m, g1 + b * 128 + 32 * m);
            const __m512i lo = _mm512_and_si512(p, m4);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(p, 4), m4);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * m;
                s[t] = _mm512_dpbusd_epi32(s[t], lo, bcast32x16(y));
                u[t] = _mm512_dpbusd_epi32(u[t], hi, bcast32x16(y + 16));
                FR_KEEP(s[t]);
                FR_KEEP(u[t]);
            }
        }
        block_end_pair(d0, d1, b, yd, s, u, T, acc);
    }
    store_pair(acc, T, out0, out1);
}

FR_INLINE void q8_0x16(int64_t nb, const uint8_t *g0, const uint8_t *g1, const void *const *acts, const int T,
                       float *out0, float *out1) {
    const uint16_t *d0 = (const uint16_t *)(g0 + nb * 256), *d1 = (const uint16_t *)(g1 + nb * 256);
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i s[FR_GEMM_MAX_T], u[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) {
            s[t] = _mm512_set1_epi32(yc[t][b]);
            u[t] = _mm512_setzero_si512();
        }
        if (FR_PF_DIST) prefetch_pair(g0, (size_t)(g1 - g0), (size_t)b * 256, 4);
        FR_UNROLL for (int k = 0; k < 8; k += 2) {
            const __m512i w0 = _mm512_xor_si512(load_pair(g0 + b * 256 + 32 * k, g1 + b * 256 + 32 * k), bias);
            const __m512i w1 = _mm512_xor_si512(load_pair(g0 + b * 256 + 32 * k + 32, g1 + b * 256 + 32 * k + 32), bias);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * k;
                s[t] = _mm512_dpbusd_epi32(s[t], w0, bcast32x16(y));
                u[t] = _mm512_dpbusd_epi32(u[t], w1, bcast32x16(y + 4));
                FR_KEEP(s[t]);
                FR_KEEP(u[t]);
            }
        }
        block_end_pair(d0, d1, b, yd, s, u, T, acc);
    }
    store_pair(acc, T, out0, out1);
}

/* Q4_K (layout Q4_Kx8, gemm.h): per sub-block j the eight steps of unsigned nibbles times y
 * go straight to int32 with vpdpbusd (the AVX2 kernel sums maddubs pairs in int16 first), then
 * one multiply by the sub-block's 6-bit scale: the same exact integer sc_j * dot_j per row. The
 * mins, the float steps and their order are those of gemm_avx2.c's q4_Kx8, lane by lane. */
FR_INLINE void q4_Kx16(int64_t nb, const uint8_t *g0, const uint8_t *g1, const void *const *acts, const int T,
                       float *out0, float *out1) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int8_t *ys[FR_GEMM_MAX_T];
    split_acts_k(acts, T, nb, yq, yd, ys);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *qs0 = g0 + b * 1024, *qs1 = g1 + b * 1024;
        const uint8_t *sc0 = g0 + nb * 1024 + b * 64, *sc1 = g1 + nb * 1024 + b * 64;
        const uint8_t *mn0 = g0 + nb * 1088 + b * 64, *mn1 = g1 + nb * 1088 + b * 64;
        const uint16_t *dd0 = (const uint16_t *)(g0 + nb * 1152 + b * 32), *dd1 = (const uint16_t *)(g1 + nb * 1152 + b * 32);
        __m512i isum[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            const size_t qo = (size_t)(256 * (j >> 1));
            const int hi = j & 1;
            if (FR_PF_DIST && !hi) prefetch_pair(g0, (size_t)(g1 - g0), (size_t)(qs0 - g0) + qo, 4);
            __m512i s[FR_GEMM_MAX_T];
            FR_UNROLL for (int t = 0; t < T; t++) s[t] = _mm512_setzero_si512();
            FR_UNROLL for (int k = 0; k < 8; k++) {
                __m512i v = load_pair(qs0 + qo + 32 * k, qs1 + qo + 32 * k);
                v = _mm512_and_si512(hi ? _mm512_srli_epi16(v, 4) : v, m4);
                FR_UNROLL for (int t = 0; t < T; t++) {
                    s[t] = _mm512_dpbusd_epi32(s[t], v, bcast32x16(yq[t] + b * 256 + 32 * j + 4 * k));
                    FR_KEEP(s[t]);
                }
            }
            const __m512i scv = _mm512_cvtepu8_epi32(
                _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(sc0 + 8 * j)), _mm_loadl_epi64((const __m128i *)(sc1 + 8 * j))));
            FR_UNROLL for (int t = 0; t < T; t++) {
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], scv));
                FR_KEEP(isum[t]);
            }
        }
        __m512i msum[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) msum[t] = _mm512_setzero_si512();
        FR_UNROLL for (int i = 0; i < 4; i++) {
            const __m512i mv = _mm512_cvtepu8_epi16(load_pair256(mn0 + 16 * i, mn1 + 16 * i));
            FR_UNROLL for (int t = 0; t < T; t++)
                msum[t] = _mm512_add_epi32(msum[t], _mm512_madd_epi16(mv, bcast32x16(ys[t] + b * 16 + 4 * i)));
        }
        const __m512 dx = scales_pair(dd0, dd1, 0), dmx = scales_pair(dd0 + 8, dd1 + 8, 0);
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m512 ydv = _mm512_set1_ps(yd[t][b]);
            const __m512 a = _mm512_mul_ps(_mm512_mul_ps(ydv, dx), _mm512_cvtepi32_ps(isum[t]));
            const __m512 bb = _mm512_mul_ps(_mm512_mul_ps(ydv, dmx), _mm512_cvtepi32_ps(msum[t]));
            acc[t] = _mm512_sub_ps(_mm512_add_ps(acc[t], a), bb);
        }
    }
    store_pair(acc, T, out0, out1);
}

#define BY_T(KERNEL)                                                          \
    switch (T) {                                                              \
    case 1: KERNEL(nb, group0, group1, acts, 1, out0, out1); break;           \
    case 2: KERNEL(nb, group0, group1, acts, 2, out0, out1); break;           \
    case 3: KERNEL(nb, group0, group1, acts, 3, out0, out1); break;           \
    case 4: KERNEL(nb, group0, group1, acts, 4, out0, out1); break;           \
    default: break;                                                           \
    }

void fr_gemm_q4_0x16_avx512vnni(int64_t nb, const void *group0, const void *group1, const void *const *acts, int T,
                                float *out0, float *out1) {
    BY_T(q4_0x16)
}

void fr_gemm_q8_0x16_avx512vnni(int64_t nb, const void *group0, const void *group1, const void *const *acts, int T,
                                float *out0, float *out1) {
    BY_T(q8_0x16)
}

void fr_gemm_q4_Kx16_avx512vnni(int64_t nb, const void *group0, const void *group1, const void *const *acts, int T,
                                float *out0, float *out1) {
    BY_T(q4_Kx16)
}

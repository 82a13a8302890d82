/* gemm_avx512vnni.c: the Q4_0x16, Q8_0x16 and Q4_Kx16 packed kernels on 512-bit registers with
 * AVX512-VNNI (compiled with -mavx512f -mavx512bw -mavx512vnni; called only where
 * fr_cpu_has(FR_ISA_AVX512VNNI)). Layouts and the result order are those of gemm.h.
 *
 * One 64-byte vector of a unit fills a register: lane r is unit row r, exactly as each lane
 * of the 256-bit kernels is one row of a half, and one activation broadcast serves 16 rows.
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

/* Software prefetch of the unit's stream, FR_PF_DIST bytes ahead of block offset `off`. */
FR_INLINE void prefetch_unit(const uint8_t *u, size_t off, int lines) {
    FR_UNROLL for (int l = 0; l < lines; l++) _mm_prefetch((const char *)u + off + FR_PF_DIST + 64 * l, _MM_HINT_T0);
}

/* Vector v of a block: 64 bytes, rows 0-7 in the low half, 8-15 in the high half. */
FR_INLINE __m512i load_vec(const uint8_t *blk, int v) { return _mm512_loadu_si512(blk + 64 * v); }

/* The 16 fp16 values at p, as floats. */
FR_INLINE __m512 f16x16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* The end of a block: acc[t] = fma((float)(s[t] + u[t]), dx * dy_t, acc[t]). */
FR_INLINE void block_end16(const uint8_t *d, int64_t b, const float *const *yd, const __m512i *s, const __m512i *u,
                           const int T, __m512 *acc) {
    const __m512 dx = f16x16(d);
    FR_UNROLL for (int t = 0; t < T; t++) {
        const __m512 sc = _mm512_mul_ps(dx, _mm512_set1_ps(yd[t][b]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[t], u[t])), sc, acc[t]);
    }
}

FR_INLINE void store16(const __m512 *acc, const int T, float *out) {
    FR_UNROLL for (int t = 0; t < T; t++) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

FR_INLINE void q4_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const __m512i m4 = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi16(1);
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q4_0X16_BLOCK;
        __m512i s[FR_GEMM_MAX_T], u[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) {
            s[t] = _mm512_madd_epi16(_mm512_set1_epi32(yc[t][b]), ones);
            u[t] = _mm512_setzero_si512();
        }
        if (FR_PF_DIST) prefetch_unit(blk, 0, 5);
        FR_UNROLL for (int m = 0; m < 4; m++) {
            const __m512i p = load_vec(blk, m);
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
        block_end16(blk + FR_Q4_0X16_D, b, yd, s, u, T, acc);
    }
    store16(acc, T, out);
}

FR_INLINE void q8_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q8_0X16_BLOCK;
        __m512i s[FR_GEMM_MAX_T], u[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) {
            s[t] = _mm512_set1_epi32(yc[t][b]);
            u[t] = _mm512_setzero_si512();
        }
        if (FR_PF_DIST) prefetch_unit(blk, 0, 9);
        FR_UNROLL for (int k = 0; k < 8; k += 2) {
            const __m512i w0 = _mm512_xor_si512(load_vec(blk, k), bias);
            const __m512i w1 = _mm512_xor_si512(load_vec(blk, k + 1), bias);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * k;
                s[t] = _mm512_dpbusd_epi32(s[t], w0, bcast32x16(y));
                u[t] = _mm512_dpbusd_epi32(u[t], w1, bcast32x16(y + 4));
                FR_KEEP(s[t]);
                FR_KEEP(u[t]);
            }
        }
        block_end16(blk + FR_Q8_0X16_D, b, yd, s, u, T, acc);
    }
    store16(acc, T, out);
}

/* Q4_K (layout Q4_Kx16, gemm.h): per sub-block j the eight steps of unsigned nibbles times y
 * go straight to int32 with vpdpbusd (the AVX2 kernel sums maddubs pairs in int16 first), then
 * one multiply by the sub-block's 6-bit scale: the same exact integer sc_j * dot_j per row. The
 * mins, the float steps and their order are those of gemm_avx2.c's q4_Kx16, lane by lane. */
FR_INLINE void q4_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int8_t *ys[FR_GEMM_MAX_T];
    split_acts_k(acts, T, nb, yq, yd, ys);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q4_KX16_BLOCK;
        __m512i isum[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            const int hi = j & 1;
            if (FR_PF_DIST && !hi) prefetch_unit(blk, (size_t)(512 * (j >> 1)), 8);
            __m512i s[FR_GEMM_MAX_T];
            FR_UNROLL for (int t = 0; t < T; t++) s[t] = _mm512_setzero_si512();
            FR_UNROLL for (int k = 0; k < 8; k++) {
                __m512i v = load_vec(blk, 8 * (j >> 1) + k);
                v = _mm512_and_si512(hi ? _mm512_srli_epi16(v, 4) : v, m4);
                FR_UNROLL for (int t = 0; t < T; t++) {
                    s[t] = _mm512_dpbusd_epi32(s[t], v, bcast32x16(yq[t] + b * 256 + 32 * j + 4 * k));
                    FR_KEEP(s[t]);
                }
            }
            const __m512i scv = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(blk + FR_Q4_KX16_SC + 16 * j)));
            FR_UNROLL for (int t = 0; t < T; t++) {
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], scv));
                FR_KEEP(isum[t]);
            }
        }
        if (FR_PF_DIST) prefetch_unit(blk, 2048, 5);
        __m512i msum[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) msum[t] = _mm512_setzero_si512();
        FR_UNROLL for (int i = 0; i < 4; i++) {
            const __m512i mv = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(blk + FR_Q4_KX16_MN + 32 * i)));
            FR_UNROLL for (int t = 0; t < T; t++)
                msum[t] = _mm512_add_epi32(msum[t], _mm512_madd_epi16(mv, bcast32x16(ys[t] + b * 16 + 4 * i)));
        }
        const __m512 dx = f16x16(blk + FR_Q4_KX16_D), dmx = f16x16(blk + FR_Q4_KX16_DMIN);
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m512 ydv = _mm512_set1_ps(yd[t][b]);
            const __m512 a = _mm512_mul_ps(_mm512_mul_ps(ydv, dx), _mm512_cvtepi32_ps(isum[t]));
            const __m512 bb = _mm512_mul_ps(_mm512_mul_ps(ydv, dmx), _mm512_cvtepi32_ps(msum[t]));
            acc[t] = _mm512_sub_ps(_mm512_add_ps(acc[t], a), bb);
        }
    }
    store16(acc, T, out);
}

void fr_gemm_q4_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q8_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q8_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q4_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_Kx16, nb, unit, acts, T, out);
}

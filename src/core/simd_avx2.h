/* simd_avx2.h: small AVX2 helpers shared by the *_avx2.c and *_avx512*.c files (include only
 * from those: they are compiled with -mavx2 -mfma -mf16c). */
#ifndef FRUGAL_CORE_SIMD_AVX2_H
#define FRUGAL_CORE_SIMD_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"

/* Q4_K/Q5_K: the 12 packed bytes of a block's 6-bit scales and mins as 8 scales (bytes 0..7)
 * and 8 mins (8..15). */
static inline __m128i fr_k4_scales_mins_avx2(const uint8_t *q) {
    uint32_t u[3];
    memcpy(u, q, 12);
    /* built in registers: four 32-bit stores read back as one 128-bit load would stall
     * store forwarding */
    return _mm_setr_epi32((int)(u[0] & 0x3f3f3f3fu),                                                /* sc 0..3 */
                          (int)((u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4)),         /* sc 4..7 */
                          (int)(u[1] & 0x3f3f3f3fu),                                                /* m 0..3 */
                          (int)(((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4))); /* m 4..7 */
}

/* Q3_K's 16 six-bit scales (12 bytes) as signed bytes sc - 32, in order (fr_q3_K_scales) */
static inline __m128i fr_q3_K_scales_avx2(const uint8_t *q) {
    uint32_t u[3];
    memcpy(u, q, 12);
    const uint32_t lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
    const __m128i v = _mm_setr_epi32((int)((u[0] & lo4) | (((u[2] >> 0) & lo2) << 4)),
                                     (int)((u[1] & lo4) | (((u[2] >> 2) & lo2) << 4)),
                                     (int)(((u[0] >> 4) & lo4) | (((u[2] >> 4) & lo2) << 4)),
                                     (int)(((u[1] >> 4) & lo4) | (((u[2] >> 6) & lo2) << 4)));
    return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

/* 8 -> 1 in the order the references use: (v_i + v_{i+4}), then (s0 + s2), (s1 + s3), then
 * their sum. Every kernel that must match another's bits reduces with this one. */
static inline __attribute__((always_inline)) float fr_hsum8_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* fr_hsum8_avx2 of v[0..7] at once, bit for bit: each vector goes through hsum8's adds, pair
 * for pair (t = lo + hi, then (t0 + t2, t1 + t3), then their sum; an add does not care which
 * operand comes first), 7 shuffles for all eight where hsum8 takes 3 each. Lane 4L + c of the
 * result holds the sum of v[2c + L] (a caller can order its inputs so that the sums come out
 * in the order it needs, as mla_attn_avx2.c's scores do). */
static inline __attribute__((always_inline)) __m256 fr_hsum8x8_raw_avx2(const __m256 *v) {
    __m256 u[4], w[2];
#pragma GCC unroll 4 /* (rolled, the compiler kept u and w on the stack) */
    for (int i = 0; i < 4; i++) /* [t(v 2i) | t(v 2i+1)] */
        u[i] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x20),
                             _mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x31));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) /* per lane: (t0 + t2, t1 + t3) of u[2i], then of u[2i + 1] */
        w[i] = _mm256_add_ps(_mm256_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* element 4L + c: the sum of lane L of u[c], that is of v[2c + L] */
    return _mm256_add_ps(_mm256_shuffle_ps(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* out[j] = fr_hsum8_avx2(v[j]) for j < 8, bit for bit (fr_hsum8x8_raw_avx2, put in order) */
static inline __attribute__((always_inline)) void fr_hsum8x8_avx2(const __m256 *v, float *out) {
    _mm256_storeu_ps(out, _mm256_permutevar8x32_ps(fr_hsum8x8_raw_avx2(v), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

/* The row types of the float tile kernels (gemm_avx2.c, gemm_avx512.c), and a tensor type's. */
enum { FR_W_F16 = 0, FR_W_BF16 = 1, FR_W_F32 = 2 };
static inline int fr_w_kind(int type) {
    return type == FR_TYPE_F16 ? FR_W_F16 : type == FR_TYPE_BF16 ? FR_W_BF16 : FR_W_F32;
}

/* Element k of an F16, BF16 or F32 row as a float (those kernels' tails). */
static inline __attribute__((always_inline)) float fr_wide1_avx2(const void *row, int64_t k, const int kind) {
    if (kind == FR_W_F32) return ((const float *)row)[k];
    const uint16_t h = ((const uint16_t *)row)[k];
    return kind == FR_W_BF16 ? fr_bf16_to_f32(h) : _cvtsh_ss(h);
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles in bytes 0..15, high in 16..31 (the
 * value order of a Q4_0 / IQ4_NL block). */
static inline __attribute__((always_inline)) __m256i fr_unpack_nibbles_avx2(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m256i t = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(t, _mm256_set1_epi8(0x0f));
}

/* ---- Q8_0 / Q8_1 activation blocks (quants_avx2.c's from_float, the GEMM's activation rows) ---- */

static inline __attribute__((always_inline)) float fr_hmax8_avx2(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline __attribute__((always_inline)) int fr_hsum_epi32_avx2(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* roundf() (ties away from zero) to int32 for |v| < 2^23: truncate v + copysign(0.5 - 2^-25, v).
 * Exact: for a fraction >= 0.5 the sum rounds up to the next integer (a tie only at
 * 1 - 2^-25, which goes to the even 1.0); below 0.5 it stays under it. NaN gives INT_MIN. */
static inline __attribute__((always_inline)) __m256i fr_round_away_avx2(__m256 v) {
    const __m256 c = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(0.49999997f));
    return _mm256_cvttps_epi32(_mm256_add_ps(v, c));
}

/* Quantizes one block of 32 floats to int8 with the reference's scale; returns sum(q). */
static inline __attribute__((always_inline)) int fr_quantize_q8_block_avx2(const float *x, fr_f16 *dh, int8_t *qs,
                                                                         float *dout) {
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absm), _mm256_and_ps(v1, absm)),
                                   _mm256_max_ps(_mm256_and_ps(v2, absm), _mm256_and_ps(v3, absm)));
    const float amax = fr_hmax8_avx2(m);
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    *dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    *dout = d;
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i q0 = fr_round_away_avx2(_mm256_mul_ps(v0, vid));
    const __m256i q1 = fr_round_away_avx2(_mm256_mul_ps(v1, vid));
    const __m256i q2 = fr_round_away_avx2(_mm256_mul_ps(v2, vid));
    const __m256i q3 = fr_round_away_avx2(_mm256_mul_ps(v3, vid));
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
    /* packs work within 128-bit lanes; the permute restores element order. */
    const __m256i p01 = _mm256_packs_epi32(q0, q1);
    const __m256i p23 = _mm256_packs_epi32(q2, q3);
    __m256i b = _mm256_packs_epi16(p01, p23);
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, b);
    return fr_hsum_epi32_avx2(sum);
}

#endif

/* simd_avx2.h: small AVX2 helpers shared by the *_avx2.c and *_avx512*.c files (include only
 * from those: they are compiled with -mavx2 -mfma -mf16c). */
#ifndef FRUGAL_CORE_SIMD_AVX2_H
#define FRUGAL_CORE_SIMD_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "dtype.h"

/* 8 -> 1 in the order the references use: (v_i + v_{i+4}), then (s0 + s2), (s1 + s3), then
 * their sum. Every kernel that must match another's bits reduces with this one. */
static inline __attribute__((always_inline)) float fr_hsum8_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The row types of the float tile kernels (gemm_avx2.c, gemm_avx512.c). */
enum { FR_W_F16 = 0, FR_W_BF16 = 1, FR_W_F32 = 2 };

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

#endif

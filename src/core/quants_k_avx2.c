/* quants_k_avx2.c: AVX2 kernels for the K-quants (Q2_K..Q6_K) and Q8_K.
 *
 * Compiled with -mavx2 -mfma -mf16c; only called after fr_cpu_has(FR_ISA_AVX2). The
 * layouts and the meaning of every field are described in quants_k_ref.c.
 *
 * to_float is bit-identical to the reference (the same float operations in the same
 * order, one value at a time). from_float_q8_K is byte-identical to the reference.
 *
 * vec_dot: each super-block is reduced exactly in 32-bit integers with
 * _mm256_maddubs_epi16 (unsigned quants x signed q8 -> int16 pairs, never saturating
 * here: at most 2*63*128) and _mm256_madd_epi16 (x sub-block scales -> int32). Types
 * whose quants are offset (Q3_K: q in [0,7] stands for q-4; Q6_K: q in [0,63] for
 * q-32) subtract offset*scale*bsum per sub-block; Q2/Q4/Q5_K's min terms are
 * dmin*m*bsum. The eight int32 lanes of each block are converted to float and
 * accumulated with FMA into eight float lanes, reduced once at the end. The order is
 * fixed given n; it differs from the reference's (one float per block) only by float
 * rounding. */
#include <immintrin.h>

#include "base.h"
#include "simd_avx2.h"
#include <string.h>

#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---------------------------------------------------------------- helpers */


static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline int hsum_epi32_128(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}
static inline int hsum_epi32_256(__m256i v) {
    return hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}
/* fp16 -> float in one instruction (exact, as fr_f16_to_f32): no call per super-block. */
static inline float h2f(fr_f16 h) { return _cvtsh_ss(h); }

/* Byte shuffle controls for _mm256_shuffle_epi8 on a vector holding eight int16 in each
 * 128-bit lane:
 *   k_pair[s]:  low lane = int16 #2s everywhere, high lane = int16 #2s+1 (16-value
 *               sub-blocks: bytes 0..15 and 16..31 of a 32-byte group use consecutive
 *               scales);
 *   k_bcast[j]: both lanes = int16 #j (32-value sub-blocks). */
static const uint8_t k_pair[4][32] = {
    {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
    {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
    {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
    {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
     14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
};
static const uint8_t k_bcast[8][32] = {
    {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
    {2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
    {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5},
    {6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
    {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9},
    {10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
     10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
    {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
     12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13},
    {14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
     14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
};

/* int16 scales 0..7 (half = 0) or 8..15 (half = 1) of a 16-lane vector, in both lanes. */
static inline __m256i dup_half(__m256i v16, int half) {
    return half ? _mm256_permute2x128_si256(v16, v16, 0x11) : _mm256_permute2x128_si256(v16, v16, 0x00);
}

/* One 32-value group of a type with 16-value sub-blocks (Q2_K, Q3_K, Q6_K): unsigned
 * quants q times the q8 values, times the group's two scales (k_pair[t] of scv):
 * eight int32 partial sums. */
static inline __m256i group16(__m256i q, const int8_t *q8, __m256i scv, int t) {
    const __m256i p = _mm256_maddubs_epi16(q, load256(q8));
    return _mm256_madd_epi16(_mm256_shuffle_epi8(scv, load256(k_pair[t])), p);
}

/* High bits (Q3_K hmask, Q5_K qh): value 32*g + l has its bit in bit g of byte l. The
 * kernels walk g = 0..7 in order, keeping `h` = the bit array shifted right by g in
 * 16-bit lanes: bit 0 of each byte is then bit g of the original byte (the bits that a
 * 16-bit shift moves across bytes only reach bits 1..7, g <= 7), and a left shift by 2
 * (Q3_K, -> 4) or 4 (Q5_K, -> 16) moves bit 0 to place without reaching the next byte's
 * bit 2 / bit 4. All shift counts are constants. */
static inline __m256i hbit_at(__m256i h, int to) {
    return to == 2 ? _mm256_and_si256(_mm256_slli_epi16(h, 2), _mm256_set1_epi8(4))
                   : _mm256_and_si256(_mm256_slli_epi16(h, 4), _mm256_set1_epi8(16));
}

/* Q3_K: the 16 signed scales (sc - 32) as int8. */
/* dst[0..7] = d * (float)b[0..7] (- m), b = the low 8 signed bytes of v; the same float
 * operations as the reference. */
static inline void put8(float *dst, __m128i v, __m256 vd) {
    _mm256_storeu_ps(dst, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v))));
}
static inline void put8m(float *dst, __m128i v, __m256 vd, __m256 vm) {
    _mm256_storeu_ps(dst, _mm256_sub_ps(_mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v))), vm));
}
static inline void put16(float *dst, __m128i v, float d) {
    const __m256 vd = _mm256_set1_ps(d);
    put8(dst, v, vd);
    put8(dst + 8, _mm_srli_si128(v, 8), vd);
}
static inline void put16m(float *dst, __m128i v, float d, float m) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    put8m(dst, v, vd, vm);
    put8m(dst + 8, _mm_srli_si128(v, 8), vd, vm);
}
static inline void put32m(float *dst, __m256i v, float d, float m) {
    put16m(dst, _mm256_castsi256_si128(v), d, m);
    put16m(dst + 16, _mm256_extracti128_si256(v, 1), d, m);
}

/* ---------------------------------------------------------------- to_float */

void fr_to_float_q2_K_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q2_K *x = src;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
        float *y = dst + i * QK_K;
        for (int h = 0; h < 2; h++) {
            const __m256i bits = load256(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
                for (int half = 0; half < 2; half++) {
                    const uint8_t sc = x[i].scales[8 * h + 2 * s + half];
                    const __m128i v = half ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q);
                    put16m(y + 128 * h + 32 * s + 16 * half, v, d * (float)(sc & 0xF), dmin * (float)(sc >> 4));
                }
            }
        }
    }
}

void fr_to_float_q3_K_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q3_K *x = src;
    const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d);
        int8_t sc[16];
        _mm_storeu_si128((__m128i *)sc, fr_q3_K_scales_avx2(x[i].scales));
        __m256i hb = load256(x[i].hmask);
        float *y = dst + i * QK_K;
        for (int h = 0; h < 2; h++) {
            const __m256i bits = load256(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
                /* value - 4 + 4*hbit, as int8 in [-4, 3] */
                const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo, hbit_at(hb, 2)), four);
                hb = _mm256_srli_epi16(hb, 1);
                for (int half = 0; half < 2; half++) {
                    const __m128i v = half ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q);
                    put16(y + 128 * h + 32 * s + 16 * half, v, d * (float)sc[8 * h + 2 * s + half]);
                }
            }
        }
    }
}

void fr_to_float_q4_K_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_K *x = src;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
        uint8_t sm[16];
        _mm_storeu_si128((__m128i *)sm, fr_k4_scales_mins_avx2(x[i].scales));
        float *y = dst + i * QK_K;
        for (int k = 0; k < 4; k++) {
            const __m256i bits = load256(x[i].qs + 32 * k);
            const __m256i lo = _mm256_and_si256(bits, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            put32m(y + 64 * k, lo, d * (float)sm[2 * k], dmin * (float)sm[8 + 2 * k]);
            put32m(y + 64 * k + 32, hi, d * (float)sm[2 * k + 1], dmin * (float)sm[8 + 2 * k + 1]);
        }
    }
}

void fr_to_float_q5_K_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_K *x = src;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
        uint8_t sm[16];
        _mm_storeu_si128((__m128i *)sm, fr_k4_scales_mins_avx2(x[i].scales));
        __m256i hb = load256(x[i].qh);
        float *y = dst + i * QK_K;
        for (int k = 0; k < 4; k++) {
            const __m256i bits = load256(x[i].qs + 32 * k);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), hbit_at(hb, 4));
            hb = _mm256_srli_epi16(hb, 1);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), hbit_at(hb, 4));
            hb = _mm256_srli_epi16(hb, 1);
            put32m(y + 64 * k, lo, d * (float)sm[2 * k], dmin * (float)sm[8 + 2 * k]);
            put32m(y + 64 * k + 32, hi, d * (float)sm[2 * k + 1], dmin * (float)sm[8 + 2 * k + 1]);
        }
    }
}

/* Q6_K: the four 32-value groups of half h as unsigned 6-bit quants (0..63). */
static inline void q6k_half(const block_q6_K *b, int h, __m256i q[4]) {
    const __m256i m15 = _mm256_set1_epi8(0xF);
    const __m256i l0 = load256(b->ql + 64 * h), l1 = load256(b->ql + 64 * h + 32);
    const __m256i hb = load256(b->qh + 32 * h);
    q[0] =
        _mm256_or_si256(_mm256_and_si256(l0, m15), _mm256_slli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8(0x03)), 4));
    q[1] =
        _mm256_or_si256(_mm256_and_si256(l1, m15), _mm256_slli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8(0x0C)), 2));
    q[2] =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m15), _mm256_and_si256(hb, _mm256_set1_epi8(0x30)));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m15),
                           _mm256_srli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8((char)0xC0)), 2));
}

void fr_to_float_q6_K_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q6_K *x = src;
    const __m256i m32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d);
        float *y = dst + i * QK_K;
        for (int h = 0; h < 2; h++) {
            __m256i q[4];
            q6k_half(&x[i], h, q);
            for (int s = 0; s < 4; s++) {
                const __m256i v = _mm256_sub_epi8(q[s], m32);
                for (int half = 0; half < 2; half++) {
                    const __m128i w = half ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v);
                    put16(y + 128 * h + 32 * s + 16 * half, w, d * (float)x[i].scales[8 * h + 2 * s + half]);
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- vec_dot */

/* Q2_K, Q4_K and Q5_K: a super-block's float steps in the reference's order, from its exact
 * integers isum = sum_j sc_j * dot_j and msum = sum_j m_j * ysum_j. */
static inline float dmin_block_end(float sumf, float yd, fr_f16 d16, fr_f16 dmin16, int32_t isum, int32_t msum) {
    const float d = yd * h2f(d16);
    const float dmin = yd * h2f(dmin16);
    const float a = d * (float)isum;
    const float b = dmin * (float)msum;
    sumf += a;
    sumf -= b;
    return sumf;
}

void fr_vec_dot_q2_K_avx2(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0xF);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, m4));
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
        const int32_t msum = hsum_epi32_256(_mm256_madd_epi16(mn16, load256(y[i].bsums)));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i scv = dup_half(sc16, h);
            const __m256i bits = load256(x[i].qs + 32 * h);
            const int8_t *q8 = y[i].qs + 128 * h;
            const __m256i p0 = group16(_mm256_and_si256(bits, m3), q8, scv, 0);
            const __m256i p1 = group16(_mm256_and_si256(_mm256_srli_epi16(bits, 2), m3), q8 + 32, scv, 1);
            const __m256i p2 = group16(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m3), q8 + 64, scv, 2);
            const __m256i p3 = group16(_mm256_and_si256(_mm256_srli_epi16(bits, 6), m3), q8 + 96, scv, 3);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
        }
        const int32_t isum = hsum_epi32_256(sumi); /* the reference's order, as the packed GEMM */
        sumf = dmin_block_end(sumf, y[i].d, x[i].d, x[i].dmin, isum, msum);
    }
    *s = sumf;
}

void fr_vec_dot_q3_K_avx2(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m3 = _mm256_set1_epi8(3);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * h2f(x[i].d);
        const __m256i sc16 = _mm256_cvtepi8_epi16(fr_q3_K_scales_avx2(x[i].scales));
        __m256i hb = load256(x[i].hmask);
        /* quants are stored as q+4 in [0, 7]; remove 4*sum(sc_j*bsum_j) at the end */
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y[i].bsums)), 2);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i scv = dup_half(sc16, h);
            const __m256i bits = load256(x[i].qs + 32 * h);
            const int8_t *q8 = y[i].qs + 128 * h;
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(bits, m3), hbit_at(hb, 2));
            const __m256i q1 =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 2), m3), hbit_at(_mm256_srli_epi16(hb, 1), 2));
            const __m256i q2 =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m3), hbit_at(_mm256_srli_epi16(hb, 2), 2));
            const __m256i q3 =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 6), m3), hbit_at(_mm256_srli_epi16(hb, 3), 2));
            hb = _mm256_srli_epi16(hb, 4);
            const __m256i p0 = group16(q0, q8, scv, 0);
            const __m256i p1 = group16(q1, q8 + 32, scv, 1);
            const __m256i p2 = group16(q2, q8 + 64, scv, 2);
            const __m256i p3 = group16(q3, q8 + 96, scv, 3);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
        }
        /* the reference's order (exact isum, then d * isum added block by block), as Q6_K and
         * the packed GEMM */
        const int32_t isum = hsum_epi32_256(_mm256_sub_epi32(sumi, corr));
        const float a = d * (float)isum;
        sumf += a;
    }
    *s = sumf;
}

/* Q4_K and Q5_K: the reference's order (exact per-block isum and msum, then d * isum added
 * and dmin * msum subtracted in float, block by block), so ref, AVX2 and the packed GEMM
 * agree bit for bit. qh: Q5_K's fifth bits, or NULL for Q4_K. */
static inline __m256i k4_isum(const uint8_t *qs, const uint8_t *qh, __m256i scv, const int8_t *q8) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256i hb = qh ? load256(qh) : _mm256_setzero_si256();
    __m256i sumi = _mm256_setzero_si256();
    for (int k = 0; k < 4; k++) {
        const __m256i bits = load256(qs + 32 * k);
        __m256i lo = _mm256_and_si256(bits, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        if (qh) {
            lo = _mm256_or_si256(lo, hbit_at(hb, 4));
            hi = _mm256_or_si256(hi, hbit_at(_mm256_srli_epi16(hb, 1), 4));
            hb = _mm256_srli_epi16(hb, 2);
        }
        __m256i pl = _mm256_maddubs_epi16(lo, load256(q8 + 64 * k));
        __m256i ph = _mm256_maddubs_epi16(hi, load256(q8 + 64 * k + 32));
        pl = _mm256_madd_epi16(_mm256_shuffle_epi8(scv, load256(k_bcast[2 * k])), pl);
        ph = _mm256_madd_epi16(_mm256_shuffle_epi8(scv, load256(k_bcast[2 * k + 1])), ph);
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    return sumi;
}


static inline int q4k_msum(__m128i mins, const block_q8_K *y) {
    const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y->bsums),
                                      _mm_loadu_si128((const __m128i *)y->bsums + 1)); /* 8 sums of 32 */
    return hsum_epi32_128(_mm_madd_epi16(mins, bs));
}

void fr_vec_dot_q4_K_avx2(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i sm16 = _mm256_cvtepu8_epi16(fr_k4_scales_mins_avx2(x[i].scales)); /* sc 0..7, m 0..7 */
        const int32_t isum = hsum_epi32_256(k4_isum(x[i].qs, NULL, dup_half(sm16, 0), y[i].qs));
        const int32_t msum = q4k_msum(_mm256_extracti128_si256(sm16, 1), &y[i]);
        sumf = dmin_block_end(sumf, y[i].d, x[i].d, x[i].dmin, isum, msum);
    }
    *s = sumf;
}

void fr_vec_dot_q5_K_avx2(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i sm16 = _mm256_cvtepu8_epi16(fr_k4_scales_mins_avx2(x[i].scales)); /* sc 0..7, m 0..7 */
        const int32_t isum = hsum_epi32_256(k4_isum(x[i].qs, x[i].qh, dup_half(sm16, 0), y[i].qs));
        const int32_t msum = q4k_msum(_mm256_extracti128_si256(sm16, 1), &y[i]);
        sumf = dmin_block_end(sumf, y[i].d, x[i].d, x[i].dmin, isum, msum);
    }
    *s = sumf;
}

/* The exact integer sum_j sc_j * sum_{p in j} (q_p - 32) y_p of one block: the reference's
 * isum, so the float steps after it (and the result) are the reference's bit for bit, the
 * order the packed Q6_Kx16 kernels (gemm.h) share. */
static inline int32_t q6k_isum(const block_q6_K *x, __m256i sc16, const block_q8_K *y) {
    /* quants are stored as q+32 in [0, 63]; remove 32*sum(sc_j*bsum_j) at the end */
    const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y->bsums)), 5);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i scv = dup_half(sc16, h);
        __m256i q[4];
        q6k_half(x, h, q);
        const int8_t *q8 = y->qs + 128 * h;
        const __m256i p0 = group16(q[0], q8, scv, 0);
        const __m256i p1 = group16(q[1], q8 + 32, scv, 1);
        const __m256i p2 = group16(q[2], q8 + 64, scv, 2);
        const __m256i p3 = group16(q[3], q8 + 96, scv, 3);
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
    }
    return hsum_epi32_256(_mm256_sub_epi32(sumi, corr));
}

void fr_vec_dot_q6_K_avx2(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const int32_t isum = q6k_isum(&x[i], sc16, &y[i]);
        const float d = y[i].d * h2f(x[i].d);
        const float a = d * (float)isum;
        sumf += a;
    }
    *s = sumf;
}

/* ------------------------------------------------- one row x up to 4 activation rows */

/* out[t] = vec_dot(x, y[t]) for t < T (1..4): each token goes through exactly the
 * operations of fr_vec_dot_q4_K_avx2 / fr_vec_dot_q6_K_avx2 (so the same bits); the weight
 * row is unpacked once for all of them. */
#define KT_UNROLL FR_PRAGMA_UNROLL(4)
#define KT_KEEP(v) __asm__("" : "+x"(v))
static inline __attribute__((always_inline)) void q4_K_1xT(int64_t n, const block_q4_K *x,
                                                           const block_q8_K *const *y, const int T, float *out) {
    float sumf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i sm16 = _mm256_cvtepu8_epi16(fr_k4_scales_mins_avx2(x[i].scales));
        const __m256i scv = dup_half(sm16, 0);
        const __m128i mins = _mm256_extracti128_si256(sm16, 1);
        const float xd = h2f(x[i].d), xdmin = h2f(x[i].dmin);
        _mm_prefetch((const char *)(x + i) + 1024, _MM_HINT_T0);
        KT_UNROLL for (int t = 0; t < T; t++) {
            const int32_t isum = hsum_epi32_256(k4_isum(x[i].qs, NULL, scv, y[t][i].qs));
            const int32_t msum = q4k_msum(mins, &y[t][i]);
            const float d = y[t][i].d * xd;
            const float dmin = y[t][i].d * xdmin;
            const float a = d * (float)isum;
            const float b = dmin * (float)msum;
            sumf[t] += a;
            sumf[t] -= b;
        }
    }
    KT_UNROLL for (int t = 0; t < T; t++) out[t] = sumf[t];
}

static inline __attribute__((always_inline)) void q6_K_1xT(int64_t n, const block_q6_K *x,
                                                           const block_q8_K *const *y, const int T, float *out) {
    float sumf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const float xd = h2f(x[i].d);
        _mm_prefetch((const char *)(x + i) + 1024, _MM_HINT_T0);
        KT_UNROLL for (int t = 0; t < T; t++) {
            const int32_t isum = q6k_isum(&x[i], sc16, &y[t][i]);
            const float d = y[t][i].d * xd;
            const float a = d * (float)isum;
            sumf[t] += a;
        }
    }
    KT_UNROLL for (int t = 0; t < T; t++) out[t] = sumf[t];
}

void fr_dot_1xT_q4_K_avx2(int64_t n, const void *x, const void *const *y, int T, float *out) {
    const block_q8_K *const *yy = (const block_q8_K *const *)y;
    switch (T) {
    case 1: q4_K_1xT(n, x, yy, 1, out); break;
    case 2: q4_K_1xT(n, x, yy, 2, out); break;
    case 3: q4_K_1xT(n, x, yy, 3, out); break;
    case 4: q4_K_1xT(n, x, yy, 4, out); break;
    default: break;
    }
}

void fr_dot_1xT_q6_K_avx2(int64_t n, const void *x, const void *const *y, int T, float *out) {
    const block_q8_K *const *yy = (const block_q8_K *const *)y;
    switch (T) {
    case 1: q6_K_1xT(n, x, yy, 1, out); break;
    case 2: q6_K_1xT(n, x, yy, 2, out); break;
    case 3: q6_K_1xT(n, x, yy, 3, out); break;
    case 4: q6_K_1xT(n, x, yy, 4, out); break;
    default: break;
    }
}

/* ---------------------------------------------------------------- Q8_K */

/* Byte-identical to fr_from_float_q8_K_ref for every input: same max search (NaNs
 * skipped, first value of largest magnitude wins), same scalar iscale, same multiply,
 * the same round-to-nearest-even via the 1.5*2^23 trick, same clamp and low-byte store. */
void fr_from_float_q8_K_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_K *y = dst;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *x = src + i * QK_K;
        __m256 vmax = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) {
            /* max_ps returns its second operand when either is NaN: NaNs are skipped */
            vmax = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), absmask), vmax);
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0.0f;
        const __m256 vam = _mm256_set1_ps(amax);
        for (int j = 0; j < QK_K; j += 8) {
            const int hit =
                _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), absmask), vam, _CMP_EQ_OQ));
            if (hit) {
                max = x[j + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256 magic = _mm256_set1_ps(12582912.f);
        const __m256i mant = _mm256_set1_epi32(0x007fffff), bias = _mm256_set1_epi32(0x00400000);
        const __m256i hi = _mm256_set1_epi32(127), lowbyte = _mm256_set1_epi32(0xFF), sign = _mm256_set1_epi32(0x80);
        const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        __m256i q32[32];
        for (int j = 0; j < 32; j++) {
            const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * j), vis), magic);
            __m256i r = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(v), mant), bias);
            /* min(r, 127), then its low byte sign-extended, as the reference stores it */
            r = _mm256_and_si256(_mm256_min_epi32(r, hi), lowbyte);
            q32[j] = _mm256_sub_epi32(_mm256_xor_si256(r, sign), sign);
        }
        for (int j = 0; j < 32; j += 4) {
            const __m256i p01 = _mm256_packs_epi32(q32[j], q32[j + 1]);
            const __m256i p23 = _mm256_packs_epi32(q32[j + 2], q32[j + 3]);
            const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), perm);
            _mm256_storeu_si256((__m256i *)(y[i].qs + 8 * j), b);
        }
        /* bsums: 16 sums of two int32 vectors each, via a hadd tree */
        for (int g = 0; g < 16; g += 8) {
            __m128i quad[2];
            for (int k = 0; k < 2; k++) {
                const int b0 = 2 * (g + 4 * k);
                const __m256i s0 = _mm256_add_epi32(q32[b0 + 0], q32[b0 + 1]);
                const __m256i s1 = _mm256_add_epi32(q32[b0 + 2], q32[b0 + 3]);
                const __m256i s2 = _mm256_add_epi32(q32[b0 + 4], q32[b0 + 5]);
                const __m256i s3 = _mm256_add_epi32(q32[b0 + 6], q32[b0 + 7]);
                const __m256i u = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
                quad[k] = _mm_add_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
            }
            _mm_storeu_si128((__m128i *)(y[i].bsums + g), _mm_packs_epi32(quad[0], quad[1]));
        }
        y[i].d = 1 / iscale;
    }
}

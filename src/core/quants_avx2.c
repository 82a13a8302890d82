/* quants_avx2.c: AVX2/FMA/F16C kernels for the "legacy" GGUF types (compiled with
 * -mavx2 -mfma -mf16c; only called when fr_cpu_has(FR_ISA_AVX2)).
 *
 * Agreement with quants_ref.c:
 *   - to_float: bit-identical for every input (non-NaN for F16: the hardware quiets
 *     signalling NaNs, the portable conversion keeps the payload as is).
 *   - from_float: bit-identical for finite input. Q8_0/Q8_1 are vectorised with the same
 *     scalar scale computation and an exact roundf (ties away from zero) emulation; F16
 *     uses vcvtps2ph (round to nearest even) with NaNs mapped to the reference's 0x7e00;
 *     BF16 uses the same integer rounding; Q4_x/Q5_x/IQ4_NL (offline weight quantizers)
 *     call the reference.
 *   - vec_dot F32/F16/BF16: the reference's exact accumulation order (4 x 8 partial sums,
 *     fixed reduction tree, sequential tail) and no fused rounding where it would matter,
 *     so the result is bit-identical to the reference.
 *   - vec_dot quantized types: exact integer block sums (maddubs/madd), block scales
 *     accumulated with FMA in 8 lanes (two accumulators for even/odd blocks), reduced at
 *     the end: equal to the reference within float rounding. The order depends only on n. */
#include <immintrin.h>
#include <string.h>

#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------------------------------ */
/* helpers                                                                               */
/* ------------------------------------------------------------------------------------ */

static inline float h2f(fr_f16 h) { return _cvtsh_ss(h); }

/* 8 -> 1 in the reference's order: (v_i + v_{i+4}), then (s0+s2), (s1+s3), then sum. */
static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles in bytes 0..15, high in 16..31. */
static inline __m256i unpack_nibbles(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m256i t = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(t, _mm256_set1_epi8(0x0f));
}

/* 32 bits (little-endian) -> 32 bytes: byte j = 0xff if bit j is set, else 0. */
static inline __m256i bits_to_bytes(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, sizeof bits);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

/* Sum of products of adjacent pairs of 4-byte groups of signed int8 x and y as 8 int32
 * lanes, converted to float. |x| may be 128 only if y never is (maddubs needs x >= 0). */
static inline __m256 dot_i8(__m256i x, __m256i y) {
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

/* Same with unsigned x (0..31): no sign trick needed. */
static inline __m256 dot_u8_i8(__m256i x, __m256i y) {
    const __m256i p16 = _mm256_maddubs_epi16(x, y);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

/* 32 int8 -> 32 floats * d (one rounding, like int * float in the reference). */
static inline void store_i8_scaled(float *o, __m256i q, __m256 d) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(o + 0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
    _mm256_storeu_ps(o + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
    _mm256_storeu_ps(o + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
    _mm256_storeu_ps(o + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
}

/* 32 uint8 -> 32 floats q*d + m (multiply and add rounded separately, like the reference). */
static inline void store_u8_affine(float *o, __m256i q, __m256 d, __m256 m) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
        _mm256_storeu_ps(o + 8 * k, _mm256_add_ps(_mm256_mul_ps(f, d), m));
    }
}

/* ------------------------------------------------------------------------------------ */
/* F32 / F16 / BF16                                                                      */
/* ------------------------------------------------------------------------------------ */

void fr_to_float_f32_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

void fr_from_float_f32_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

/* Products are rounded before the add (mul + add, not FMA) to match the reference. */
void fr_vec_dot_f32_avx2(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24)));
    }
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

void fr_to_float_f16_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const fr_f16 *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) dst[i] = fr_f16_to_f32(x[i]);
}

void fr_from_float_f16_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    fr_f16 *y = dst;
    const __m128i qnan = _mm_set1_epi16(0x7e00), sign = _mm_set1_epi16((short)0x8000);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(src + i);
        __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
        /* NaN -> sign | 0x7e00 like fr_f32_to_f16 (the hardware keeps payload bits). */
        const __m256i nan32 = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        const __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(nan32),
                                              _mm256_extracti128_si256(nan32, 1));
        h = _mm_blendv_epi8(h, _mm_or_si128(_mm_and_si128(h, sign), qnan), nan16);
        _mm_storeu_si128((__m128i *)(y + i), h);
    }
    for (; i < n; i++) y[i] = fr_f32_to_f16(src[i]);
}

/* Half products are exact in float, so FMA rounds exactly like mul + add. */
void fr_vec_dot_f16_avx2(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const fr_f16 *x = vx, *y = vy;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; k++) {
            const __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8 * k)));
            const __m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 8 * k)));
            acc[k] = _mm256_fmadd_ps(a, b, acc[k]);
        }
    }
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++) sum += fr_f16_to_f32(x[i]) * fr_f16_to_f32(y[i]);
    *s = sum;
}

static inline __m256 load_bf16x8(const fr_bf16 *p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

void fr_to_float_bf16_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const fr_bf16 *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(x + i));
    for (; i < n; i++) dst[i] = fr_bf16_to_f32(x[i]);
}

void fr_from_float_bf16_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    fr_bf16 *y = dst;
    const __m256i absm = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
    const __m256i quiet = _mm256_set1_epi32(64);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_loadu_si256((const __m256i *)(src + i));
        const __m256i hi = _mm256_srli_epi32(u, 16);
        /* round to nearest even: (u + 0x7fff + ((u >> 16) & 1)) >> 16 */
        const __m256i r = _mm256_srli_epi32(
            _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(hi, one))), 16);
        const __m256i isnan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absm), inf);
        const __m256i v = _mm256_blendv_epi8(r, _mm256_or_si256(hi, quiet), isnan);
        /* 8 x u32 (each <= 0xffff) -> 8 x u16 in order */
        const __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storeu_si128((__m128i *)(y + i), p);
    }
    for (; i < n; i++) y[i] = fr_f32_to_bf16(src[i]);
}

/* bf16 products can underflow in float, so keep mul + add (not FMA) for exact agreement. */
void fr_vec_dot_bf16_avx2(int64_t n, float *restrict s, const void *restrict vx,
                          const void *restrict vy) {
    const fr_bf16 *x = vx, *y = vy;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; k++) {
            const __m256 p = _mm256_mul_ps(load_bf16x8(x + i + 8 * k), load_bf16x8(y + i + 8 * k));
            acc[k] = _mm256_add_ps(acc[k], p);
        }
    }
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++) sum += fr_bf16_to_f32(x[i]) * fr_bf16_to_f32(y[i]);
    *s = sum;
}

/* ------------------------------------------------------------------------------------ */
/* Q8_0 / Q8_1 quantization (activations, hot path)                                      */
/* ------------------------------------------------------------------------------------ */

/* roundf() for |v| < 2^23: truncate, then step away from zero if the fraction is >= 0.5.
 * The fraction v - trunc(v) is exact, so this equals roundf bit for bit. */
static inline __m256 round_away(__m256 v) {
    const __m256 signm = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_andnot_ps(signm, _mm256_sub_ps(v, t));
    const __m256 ge = _mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, signm), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(ge, step));
}

/* Quantizes one block of 32 floats to int8 with the reference's scale; returns sum(q). */
static inline int quantize_block_q8(const float *x, fr_f16 *dh, int8_t *qs, float *dout) {
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], absm), _mm256_and_ps(v[1], absm)),
                                   _mm256_max_ps(_mm256_and_ps(v[2], absm), _mm256_and_ps(v[3], absm)));
    const float amax = hmax_ps(m);
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    *dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    *dout = d;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v[k], vid)));
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    /* packs work within 128-bit lanes; the permute restores element order. */
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i b = _mm256_packs_epi16(p01, p23);
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, b);
    return hsum_epi32(sum);
}

void fr_from_float_q8_0_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_0 *y = dst;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        float d;
        (void)quantize_block_q8(src + i * QK8_0, &y[i].d, y[i].qs, &d);
    }
}

void fr_from_float_q8_1_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_1 *y = dst;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        float d;
        const int sum = quantize_block_q8(src + i * QK8_1, &y[i].d, y[i].qs, &d);
        y[i].s = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
    }
}

/* Weight quantizers run offline; the reference is the definition. */
void fr_from_float_q4_0_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    fr_from_float_q4_0_ref(src, dst, n);
}
void fr_from_float_q4_1_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    fr_from_float_q4_1_ref(src, dst, n);
}
void fr_from_float_q5_0_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    fr_from_float_q5_0_ref(src, dst, n);
}
void fr_from_float_q5_1_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    fr_from_float_q5_1_ref(src, dst, n);
}
void fr_from_float_iq4_nl_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    fr_from_float_iq4_nl_ref(src, dst, n);
}

/* ------------------------------------------------------------------------------------ */
/* dequantization                                                                        */
/* ------------------------------------------------------------------------------------ */

void fr_to_float_q8_0_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_0 *x = src;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++)
        store_i8_scaled(dst + i * QK8_0, _mm256_loadu_si256((const __m256i *)x[i].qs),
                        _mm256_set1_ps(h2f(x[i].d)));
}

void fr_to_float_q4_0_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_0 *x = src;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = _mm256_sub_epi8(unpack_nibbles(x[i].qs), _mm256_set1_epi8(8));
        store_i8_scaled(dst + i * QK4_0, q, _mm256_set1_ps(h2f(x[i].d)));
    }
}

void fr_to_float_q4_1_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_1 *x = src;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++)
        store_u8_affine(dst + i * QK4_1, unpack_nibbles(x[i].qs), _mm256_set1_ps(h2f(x[i].d)),
                        _mm256_set1_ps(h2f(x[i].m)));
}

/* Q5_0 value as int8: nibble | 0xf0 when the 5th bit is clear (= nibble - 16), else
 * nibble (= (nibble + 16) - 16). */
static inline __m256i q5_0_values(const block_q5_0 *b) {
    const __m256i hi = _mm256_andnot_si256(bits_to_bytes(b->qh), _mm256_set1_epi8((char)0xf0));
    return _mm256_or_si256(unpack_nibbles(b->qs), hi);
}

static inline __m256i q5_1_values(const block_q5_1 *b) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(b->qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(unpack_nibbles(b->qs), hi);
}

void fr_to_float_q5_0_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_0 *x = src;
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; i++)
        store_i8_scaled(dst + i * QK5_0, q5_0_values(&x[i]), _mm256_set1_ps(h2f(x[i].d)));
}

void fr_to_float_q5_1_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_1 *x = src;
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; i++)
        store_u8_affine(dst + i * QK5_1, q5_1_values(&x[i]), _mm256_set1_ps(h2f(x[i].d)),
                        _mm256_set1_ps(h2f(x[i].m)));
}

static inline __m256i iq4nl_table(void) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)fr_iq4nl_values));
}

void fr_to_float_iq4_nl_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq4_nl *x = src;
    const int64_t nb = n / QK4_NL;
    const __m256i table = iq4nl_table();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = _mm256_shuffle_epi8(table, unpack_nibbles(x[i].qs));
        store_i8_scaled(dst + i * QK4_NL, q, _mm256_set1_ps(h2f(x[i].d)));
    }
}

/* ------------------------------------------------------------------------------------ */
/* dot products with Q8_0 / Q8_1 activations                                             */
/* ------------------------------------------------------------------------------------ */

/* Even blocks accumulate in acc0, odd blocks in acc1; sum = hsum(acc0 + acc1). */
#define FR_DOT_Q8_0_LOOP(XT, XVALS)                                                          \
    const XT *x = vx;                                                                        \
    const block_q8_0 *y = vy;                                                                \
    const int64_t nb = n / QK8_0;                                                            \
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};                              \
    for (int64_t i = 0; i < nb; i++) {                                                       \
        const __m256i qx = XVALS;                                                            \
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                     \
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));                          \
        acc[i & 1] = _mm256_fmadd_ps(d, dot_i8(qx, qy), acc[i & 1]);                         \
    }                                                                                        \
    *s = hsum_ps(_mm256_add_ps(acc[0], acc[1]));

void fr_vec_dot_q8_0_avx2(int64_t n, float *restrict s, const void *restrict vx,
                          const void *restrict vy) {
    FR_DOT_Q8_0_LOOP(block_q8_0, _mm256_loadu_si256((const __m256i *)x[i].qs))
}

void fr_vec_dot_q4_0_avx2(int64_t n, float *restrict s, const void *restrict vx,
                          const void *restrict vy) {
    FR_DOT_Q8_0_LOOP(block_q4_0, _mm256_sub_epi8(unpack_nibbles(x[i].qs), _mm256_set1_epi8(8)))
}

void fr_vec_dot_q5_0_avx2(int64_t n, float *restrict s, const void *restrict vx,
                          const void *restrict vy) {
    FR_DOT_Q8_0_LOOP(block_q5_0, q5_0_values(&x[i]))
}

void fr_vec_dot_iq4_nl_avx2(int64_t n, float *restrict s, const void *restrict vx,
                            const void *restrict vy) {
    const __m256i table = iq4nl_table();
    FR_DOT_Q8_0_LOOP(block_iq4_nl, _mm256_shuffle_epi8(table, unpack_nibbles(x[i].qs)))
}

#undef FR_DOT_Q8_0_LOOP

/* Q4_1/Q5_1: sum_j (d*q_j + m) * dy*qy_j = (d*dy) * sum(q*qy) + m * s_y. The m*s terms are
 * summed in a scalar, in block order. */
#define FR_DOT_Q8_1_LOOP(XT, XVALS)                                                          \
    const XT *x = vx;                                                                        \
    const block_q8_1 *y = vy;                                                                \
    const int64_t nb = n / QK8_1;                                                            \
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};                              \
    float summs = 0.0f;                                                                      \
    for (int64_t i = 0; i < nb; i++) {                                                       \
        const __m256i qx = XVALS;                                                            \
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                     \
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));                          \
        acc[i & 1] = _mm256_fmadd_ps(d, dot_u8_i8(qx, qy), acc[i & 1]);                      \
        summs += h2f(x[i].m) * h2f(y[i].s);                                                  \
    }                                                                                        \
    *s = hsum_ps(_mm256_add_ps(acc[0], acc[1])) + summs;

void fr_vec_dot_q4_1_avx2(int64_t n, float *restrict s, const void *restrict vx,
                          const void *restrict vy) {
    FR_DOT_Q8_1_LOOP(block_q4_1, unpack_nibbles(x[i].qs))
}

void fr_vec_dot_q5_1_avx2(int64_t n, float *restrict s, const void *restrict vx,
                          const void *restrict vy) {
    FR_DOT_Q8_1_LOOP(block_q5_1, q5_1_values(&x[i]))
}

#undef FR_DOT_Q8_1_LOOP

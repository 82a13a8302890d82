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
 *     the end: equal to the reference within float rounding. The order depends only on n.
 *     Q4_0 and Q8_0 instead add each block's exact integer dot with one scalar FMA in block
 *     order, exactly like the reference (bit-identical; see quants_ref.c). */
#include <immintrin.h>

#include "base.h"
#include "simd_avx2.h"
#include <string.h>

#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------------------------------ */
/* helpers                                                                               */
/* ------------------------------------------------------------------------------------ */

#define FR_INLINE static inline __attribute__((always_inline))

static inline float h2f(fr_f16 h) { return _cvtsh_ss(h); }

/* Scales of a block pair with one conversion: returns fp16(a) * fp16(b) (one rounding,
 * like the reference's float product). */
FR_INLINE float h2f_mul(fr_f16 a, fr_f16 b) {
    const __m128 v = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)a | (uint32_t)b << 16)));
    return _mm_cvtss_f32(_mm_mul_ss(v, _mm_movehdup_ps(v)));
}

/* 32 bits (little-endian) -> 32 bytes: byte j = 0xff if bit j is set, else 0. */
FR_INLINE __m256i bits_to_bytes(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, sizeof bits);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

/* 32 int8 -> 32 floats * d (one rounding, like int * float in the reference). */
FR_INLINE void store_i8_scaled(float *o, __m256i q, __m256 d) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(o + 0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
    _mm256_storeu_ps(o + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
    _mm256_storeu_ps(o + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
    _mm256_storeu_ps(o + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
}

/* 32 uint8 -> 32 floats q*d + m (multiply and add rounded separately, like the reference). */
FR_INLINE __m256 u8x8_affine(__m128i q, __m256 d, __m256 m) {
    return _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q)), d), m);
}

FR_INLINE void store_u8_affine(float *o, __m256i q, __m256 d, __m256 m) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(o + 0, u8x8_affine(lo, d, m));
    _mm256_storeu_ps(o + 8, u8x8_affine(_mm_srli_si128(lo, 8), d, m));
    _mm256_storeu_ps(o + 16, u8x8_affine(hi, d, m));
    _mm256_storeu_ps(o + 24, u8x8_affine(_mm_srli_si128(hi, 8), d, m));
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

/* One FMA per element into 32 lanes, as the reference (fmaf); the tail as separate products
 * and adds. */
void fr_vec_dot_f32_avx2(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    float sum = fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
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

FR_INLINE __m256 load_f16x8(const fr_f16 *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* Half products are exact in float, so FMA rounds exactly like mul + add. */
void fr_vec_dot_f16_avx2(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const fr_f16 *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), a0);
        a1 = _mm256_fmadd_ps(load_f16x8(x + i + 8), load_f16x8(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_f16x8(x + i + 16), load_f16x8(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_f16x8(x + i + 24), load_f16x8(y + i + 24), a3);
    }
    float sum = fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += fr_f16_to_f32(x[i]) * fr_f16_to_f32(y[i]);
    *s = sum;
}

FR_INLINE __m256 load_bf16x8(const fr_bf16 *p) {
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
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(load_bf16x8(x + i), load_bf16x8(y + i)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(load_bf16x8(x + i + 8), load_bf16x8(y + i + 8)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(load_bf16x8(x + i + 16), load_bf16x8(y + i + 16)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(load_bf16x8(x + i + 24), load_bf16x8(y + i + 24)));
    }
    float sum = fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += fr_bf16_to_f32(x[i]) * fr_bf16_to_f32(y[i]);
    *s = sum;
}

/* ------------------------------------------------------------------------------------ */
/* Q8_0 / Q8_1 quantization (activations, hot path)                                      */
/* ------------------------------------------------------------------------------------ */

void fr_from_float_q8_0_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_0 *y = dst;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        float d;
        (void)fr_quantize_q8_block_avx2(src + i * QK8_0, &y[i].d, y[i].qs, &d);
    }
}

void fr_from_float_q8_1_avx2(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_1 *y = dst;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        float d;
        const int sum = fr_quantize_q8_block_avx2(src + i * QK8_1, &y[i].d, y[i].qs, &d);
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
        const __m256i q = _mm256_sub_epi8(fr_unpack_nibbles_avx2(x[i].qs), _mm256_set1_epi8(8));
        store_i8_scaled(dst + i * QK4_0, q, _mm256_set1_ps(h2f(x[i].d)));
    }
}

void fr_to_float_q4_1_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_1 *x = src;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++)
        store_u8_affine(dst + i * QK4_1, fr_unpack_nibbles_avx2(x[i].qs), _mm256_set1_ps(h2f(x[i].d)),
                        _mm256_set1_ps(h2f(x[i].m)));
}

/* Q5_0 value as int8: nibble | 0xf0 when the 5th bit is clear (= nibble - 16), else
 * nibble (= (nibble + 16) - 16). */
FR_INLINE __m256i q5_0_values(const block_q5_0 *b) {
    const __m256i hi = _mm256_andnot_si256(bits_to_bytes(b->qh), _mm256_set1_epi8((char)0xf0));
    return _mm256_or_si256(fr_unpack_nibbles_avx2(b->qs), hi);
}

FR_INLINE __m256i q5_1_values(const block_q5_1 *b) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(b->qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(fr_unpack_nibbles_avx2(b->qs), hi);
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

FR_INLINE __m256i iq4nl_table(void) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)fr_iq4nl_values));
}

void fr_to_float_iq4_nl_avx2(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq4_nl *x = src;
    const int64_t nb = n / QK4_NL;
    const __m256i table = iq4nl_table();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = _mm256_shuffle_epi8(table, fr_unpack_nibbles_avx2(x[i].qs));
        store_i8_scaled(dst + i * QK4_NL, q, _mm256_set1_ps(h2f(x[i].d)));
    }
}

/* ------------------------------------------------------------------------------------ */
/* dot products with Q8_0 / Q8_1 activations                                             */
/* ------------------------------------------------------------------------------------ */

#define FR_UNROLL FR_PRAGMA_UNROLL(8)

/* Tiles: out[r * nt + t] = dot(x[r], y[t]) for up to 4 weight rows and 2 activation rows
 * (fr_dot_tile_*_avx2), loading each weight block once for all its tokens and each
 * activation block once for all its rows; vec_dot is the 1 x 1 tile. XVALS(p, b) gives
 * block b of row pointer p as 32 signed int8. Q4_0, Q5_0, Q8_0 and IQ4_NL: the order of the
 * packed GEMM (src/kernels/gemm*.c, one output per vector lane) and of the scalar reference:
 * per output, each block's exact integer dot isum_b, then acc = fma((float)isum_b, dx_b *
 * dy_b, acc) in block order from acc = 0, whatever the tile shape (batch invariance). Here
 * the tile's (row, token) outputs share one vector: lane r * T + t. */
FR_INLINE __m256i hsum8_epi32(const __m256i p[8]) {
    const __m256i g0 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    const __m256i g1 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}
#define FR_TILE_FMA_BLOCK(R, T, I)                                                           \
    do {                                                                                     \
        __m256i yq[T], p[8];                                                                 \
        uint16_t sx[8] = {0}, sy[8] = {0};                                                   \
        FR_UNROLL for (int t = 0; t < T; t++) yq[t] = _mm256_loadu_si256((const __m256i *)y[t][I].qs); \
        FR_UNROLL for (int k = R * T; k < 8; k++) p[k] = _mm256_setzero_si256();            \
        FR_UNROLL for (int r = 0; r < R; r++) {                                              \
            const __m256i xq = XVALS(x[r], I);                                               \
            const __m256i ax = _mm256_sign_epi8(xq, xq);                                     \
            FR_UNROLL for (int t = 0; t < T; t++) {                                          \
                p[r * T + t] = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(yq[t], xq)), ones); \
                sx[r * T + t] = x[r][I].d;                                                   \
                sy[r * T + t] = y[t][I].d;                                                   \
            }                                                                                \
        }                                                                                    \
        const __m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_setr_epi16((short)sx[0], (short)sx[1], (short)sx[2], \
            (short)sx[3], (short)sx[4], (short)sx[5], (short)sx[6], (short)sx[7])),                  \
            _mm256_cvtph_ps(_mm_setr_epi16((short)sy[0], (short)sy[1], (short)sy[2], (short)sy[3],     \
            (short)sy[4], (short)sy[5], (short)sy[6], (short)sy[7])));                                \
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hsum8_epi32(p)), sc, acc);                  \
    } while (0)
#define FR_TILE_FMA_FN(NAME, XT, R, T, SETUP)                                                \
    FR_INLINE void NAME##_##R##x##T(int64_t nb, const void *const *vx, const void *const *vy, \
                                    float *out) {                                            \
        SETUP;                                                                               \
        const __m256i ones = _mm256_set1_epi16(1);                                           \
        const XT *x[R];                                                                      \
        const block_q8_0 *y[T];                                                              \
        FR_UNROLL for (int r = 0; r < R; r++) x[r] = vx[r];                                  \
        FR_UNROLL for (int t = 0; t < T; t++) y[t] = vy[t];                                  \
        __m256 acc = _mm256_setzero_ps();                                                    \
        for (int64_t i = 0; i < nb; i++) FR_TILE_FMA_BLOCK(R, T, i);                         \
        float o[8];                                                                          \
        _mm256_storeu_ps(o, acc);                                                            \
        FR_UNROLL for (int k = 0; k < R * T; k++) out[k] = o[k];                             \
    }
/* The 1 x 1 tile (vec_dot): one scalar chain. */
#define FR_DOT_FMA_FN(NAME, XT, SETUP)                                                       \
    FR_INLINE void NAME##_1x1(int64_t nb, const void *const *vx, const void *const *vy, float *out) { \
        SETUP;                                                                               \
        const __m256i ones = _mm256_set1_epi16(1);                                           \
        const XT *x[1] = {vx[0]};                                                            \
        const block_q8_0 *y = vy[0];                                                         \
        __m128 acc = _mm_setzero_ps();                                                       \
        for (int64_t i = 0; i < nb; i++) {                                                   \
            const __m256i xq = XVALS(x[0], i);                                               \
            const __m256i p = _mm256_madd_epi16(                                             \
                _mm256_maddubs_epi16(_mm256_sign_epi8(xq, xq),                               \
                                     _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[i].qs), xq)), \
                ones);                                                                       \
            const __m128 isum = _mm_cvtsi32_ss(_mm_setzero_ps(), fr_hsum_epi32_avx2(p));             \
            acc = _mm_fmadd_ss(isum, _mm_set_ss(h2f_mul(x[0][i].d, y[i].d)), acc);          \
        }                                                                                    \
        out[0] = _mm_cvtss_f32(acc);                                                         \
    }
#define FR_TILE_FMA_FAMILY(NAME, XT, SETUP)                                                  \
    FR_DOT_FMA_FN(NAME, XT, SETUP)                                                           \
    FR_TILE_FMA_FN(NAME, XT, 2, 1, SETUP)                                                    \
    FR_TILE_FMA_FN(NAME, XT, 3, 1, SETUP)                                                    \
    FR_TILE_FMA_FN(NAME, XT, 4, 1, SETUP)                                                    \
    FR_TILE_FMA_FN(NAME, XT, 1, 2, SETUP)                                                    \
    FR_TILE_FMA_FN(NAME, XT, 2, 2, SETUP)                                                    \
    FR_TILE_FMA_FN(NAME, XT, 3, 2, SETUP)                                                    \
    FR_TILE_FMA_FN(NAME, XT, 4, 2, SETUP)                                                    \
    void NAME(int64_t n, const void *const *x, int nr, const void *const *y, int nt, float *out) { \
        const int64_t nb = n / QK8_0;                                                        \
        switch (nt * 8 + nr) {                                                               \
        case 9: NAME##_1x1(nb, x, y, out); break;                                            \
        case 10: NAME##_2x1(nb, x, y, out); break;                                           \
        case 11: NAME##_3x1(nb, x, y, out); break;                                           \
        case 12: NAME##_4x1(nb, x, y, out); break;                                           \
        case 17: NAME##_1x2(nb, x, y, out); break;                                           \
        case 18: NAME##_2x2(nb, x, y, out); break;                                           \
        case 19: NAME##_3x2(nb, x, y, out); break;                                           \
        case 20: NAME##_4x2(nb, x, y, out); break;                                           \
        default: break;                                                                      \
        }                                                                                    \
    }

#define XVALS(P, B) _mm256_loadu_si256((const __m256i *)(P)[B].qs)
FR_TILE_FMA_FAMILY(fr_dot_tile_q8_0_avx2, block_q8_0, (void)0)
#undef XVALS
#define XVALS(P, B) _mm256_sub_epi8(fr_unpack_nibbles_avx2((P)[B].qs), eight)
FR_TILE_FMA_FAMILY(fr_dot_tile_q4_0_avx2, block_q4_0, const __m256i eight = _mm256_set1_epi8(8))
#undef XVALS
#define XVALS(P, B) q5_0_values(&(P)[B])
FR_TILE_FMA_FAMILY(fr_dot_tile_q5_0_avx2, block_q5_0, (void)0)
#undef XVALS
#define XVALS(P, B) _mm256_shuffle_epi8(table, fr_unpack_nibbles_avx2((P)[B].qs))
FR_TILE_FMA_FAMILY(fr_dot_tile_iq4_nl_avx2, block_iq4_nl, const __m256i table = iq4nl_table())
#undef XVALS

#define FR_VEC_DOT_VIA_TILE(T)                                                               \
    void fr_vec_dot_##T##_avx2(int64_t n, float *restrict s, const void *restrict vx,         \
                               const void *restrict vy) {                                    \
        const void *x1 = vx, *y1 = vy;                                                       \
        fr_dot_tile_##T##_avx2(n, &x1, 1, &y1, 1, s);                                        \
    }
FR_VEC_DOT_VIA_TILE(q8_0)
FR_VEC_DOT_VIA_TILE(q4_0)
FR_VEC_DOT_VIA_TILE(q5_0)
FR_VEC_DOT_VIA_TILE(iq4_nl)

#undef FR_DOT_Q8_0_LOOP
#undef FR_DOT_Q8_0_BLOCK

/* Q4_1/Q5_1: sum_j (d*q_j + m) * dy*qy_j = (d*dy) * sum(q*qy) + m * s_y, in the order of the
 * reference and of the packed GEMM (gemm.h): per block the exact integer dot of the unsigned
 * values (0..31: maddubs pairs of at most 2 * 31 * 127 never saturate), then
 * acc = fma((float)isum, dx * dy, acc) and acc = fma(mx, sy, acc), one scalar chain. */
#define FR_DOT_Q8_1_FN(NAME, XT)                                                             \
    void NAME(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) { \
        const XT *x = vx;                                                                    \
        const block_q8_1 *y = vy;                                                            \
        __m128 acc = _mm_setzero_ps();                                                       \
        for (int64_t i = 0; i < n / QK8_1; i++) {                                            \
            const __m256i p = _mm256_madd_epi16(                                             \
                _mm256_maddubs_epi16(XVALS(i), _mm256_loadu_si256((const __m256i *)y[i].qs)), \
                _mm256_set1_epi16(1));                                                       \
            const __m128 isum = _mm_cvtsi32_ss(_mm_setzero_ps(), fr_hsum_epi32_avx2(p));             \
            acc = _mm_fmadd_ss(isum, _mm_set_ss(h2f_mul(x[i].d, y[i].d)), acc);              \
            acc = _mm_fmadd_ss(_mm_set_ss(h2f(x[i].m)), _mm_set_ss(h2f(y[i].s)), acc);       \
        }                                                                                    \
        *s = _mm_cvtss_f32(acc);                                                             \
    }

#define XVALS(B) fr_unpack_nibbles_avx2(x[B].qs)
FR_DOT_Q8_1_FN(fr_vec_dot_q4_1_avx2, block_q4_1)
#undef XVALS
#define XVALS(B) q5_1_values(&x[B])
FR_DOT_Q8_1_FN(fr_vec_dot_q5_1_avx2, block_q5_1)
#undef XVALS
#undef FR_DOT_Q8_1_FN

/* quants_ref.c: scalar reference kernels for the "legacy" GGUF types (F32, F16, BF16,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL).
 *
 * Block layouts and rounding follow ggml (ggml-quants.c / ggml-cpu/quants.c):
 *   - 4/5-bit types pack element j (0..15) in the low nibble of qs[j] and element j+16 in
 *     the high nibble; the 5th bit of element j is bit j of qh (little-endian uint32).
 *   - Q8_0/Q8_1: d = amax/127, q = roundf(x * (1/d)) (ties away from zero);
 *     Q8_1 also stores s = d * sum(q).
 *   - Q4_0/Q5_0: scale from the signed value of largest magnitude (d = max/-8, max/-16),
 *     q = min(15|31, (int8)(x/d + 8.5|16.5)).  Q4_1/Q5_1: d = (max-min)/15|31, m = min.
 *   - IQ4_NL: q indexes fr_iq4nl_values; quantization is a weighted (w = x^2) best-scale
 *     search like ggml's quantize_row_iq4_nl_impl with 7 tries either side.
 * Dot products accumulate block sums in the same order and with the same float
 * expressions as ggml's generic kernels, except Q4_0, Q5_0, Q8_0 and IQ4_NL: there each
 * block's exact integer dot is added with one fused multiply-add, sumf = fmaf(sumi, dx * dy,
 * sumf), in block order. That is the order the AVX2 kernels use (vec_dot, tiles and the
 * packed GEMM of src/kernels/gemm*.c, which keeps one output per vector lane), so for these
 * four types ref and AVX2 agree bit for bit.
 *
 * F32/F16/BF16 dot products use 32 float partial sums (x[i] goes to partial i % 32 for the
 * largest multiple of 32) each updated with one fused multiply-add per element, a fixed
 * reduction tree and then a sequential tail of separate products and adds. This is the
 * exact order the AVX2 kernels use, so for these types ref and AVX2 agree bit for bit. (F16
 * and BF16 products are exact in float, so for them the FMA changes nothing; for F32 it
 * halves the SIMD kernels' floating-point operations, as in ggml's F32 dot product.)
 *
 * Plain portable C: no intrinsics. Floating-point contraction is off (ISO C mode for gcc,
 * pragma for clang) so a*b+c is always two roundings; fmaf is the only fused operation. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

const int8_t fr_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};

/* ------------------------------------------------------------------------------------ */
/* F32 / F16 / BF16                                                                      */
/* ------------------------------------------------------------------------------------ */

/* Reduce the 32 partial sums exactly like the AVX2 kernels: four 8-lane accumulators
 * a0..a3 (partial k lives in a[k/8] lane k%8), (a0+a1)+(a2+a3), then the 8 -> 1 tree
 * lo128+hi128, then (l0+l2),(l1+l3), then their sum. */
static float reduce32(const float acc[32]) {
    float v[8];
    for (int l = 0; l < 8; l++) v[l] = (acc[l] + acc[8 + l]) + (acc[16 + l] + acc[24 + l]);
    float s[4];
    for (int l = 0; l < 4; l++) s[l] = v[l] + v[l + 4];
    float t0 = s[0] + s[2];
    float t1 = s[1] + s[3];
    return t0 + t1;
}

void fr_to_float_f32_ref(const void *restrict src, float *restrict dst, int64_t n) {
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

void fr_from_float_f32_ref(const float *restrict src, void *restrict dst, int64_t n) {
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

void fr_vec_dot_f32_ref(int64_t n, float *restrict s, const void *restrict vx,
                        const void *restrict vy) {
    const float *x = vx, *y = vy;
    float acc[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 32; k++) acc[k] = fmaf(x[i + k], y[i + k], acc[k]);
    }
    float sum = reduce32(acc);
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

void fr_to_float_f16_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const fr_f16 *x = src;
    for (int64_t i = 0; i < n; i++) dst[i] = fr_f16_to_f32(x[i]);
}

void fr_from_float_f16_ref(const float *restrict src, void *restrict dst, int64_t n) {
    fr_f16 *y = dst;
    for (int64_t i = 0; i < n; i++) y[i] = fr_f32_to_f16(src[i]);
}

/* Products of two halves are exact in float, so only the summation rounds. */
void fr_vec_dot_f16_ref(int64_t n, float *restrict s, const void *restrict vx,
                        const void *restrict vy) {
    const fr_f16 *x = vx, *y = vy;
    float acc[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 32; k++) acc[k] += fr_f16_to_f32(x[i + k]) * fr_f16_to_f32(y[i + k]);
    }
    float sum = reduce32(acc);
    for (; i < n; i++) sum += fr_f16_to_f32(x[i]) * fr_f16_to_f32(y[i]);
    *s = sum;
}

void fr_to_float_bf16_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const fr_bf16 *x = src;
    for (int64_t i = 0; i < n; i++) dst[i] = fr_bf16_to_f32(x[i]);
}

void fr_from_float_bf16_ref(const float *restrict src, void *restrict dst, int64_t n) {
    fr_bf16 *y = dst;
    for (int64_t i = 0; i < n; i++) y[i] = fr_f32_to_bf16(src[i]);
}

void fr_vec_dot_bf16_ref(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const fr_bf16 *x = vx, *y = vy;
    float acc[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 32; k++) acc[k] += fr_bf16_to_f32(x[i + k]) * fr_bf16_to_f32(y[i + k]);
    }
    float sum = reduce32(acc);
    for (; i < n; i++) sum += fr_bf16_to_f32(x[i]) * fr_bf16_to_f32(y[i]);
    *s = sum;
}

/* ------------------------------------------------------------------------------------ */
/* Q8_0 / Q8_1 (activations)                                                             */
/* ------------------------------------------------------------------------------------ */

/* roundf to int8. Finite inputs are within [-127, 127] here; a NaN (from non-finite input)
 * maps to -128 like the AVX2 conversion (cvtps_epi32 -> INT_MIN -> saturating pack), which
 * also keeps the conversion defined behaviour. */
static inline int8_t round_i8(float v) {
    float r = roundf(v);
    if (r >= 127.0f) return 127;
    if (r >= -128.0f) return (int8_t)(int)r;
    return -128; /* r < -128 or NaN */
}

static inline float absmax32(const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

void fr_from_float_q8_0_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_0 *y = dst;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK8_0;
        const float d = absmax32(x) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fr_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = round_i8(x[j] * id);
    }
}

void fr_to_float_q8_0_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_0 *x = src;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}

void fr_vec_dot_q8_0_ref(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const block_q8_0 *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sumf = fmaf((float)sumi, fr_f16_to_f32(x[i].d) * fr_f16_to_f32(y[i].d), sumf);
    }
    *s = sumf;
}

void fr_from_float_q8_1_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_1 *y = dst;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK8_1;
        const float d = absmax32(x) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fr_f32_to_f16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[i].qs[j] = round_i8(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].s = fr_f32_to_f16((float)sum * d);
    }
}

void fr_to_float_q8_1_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_1 *x = src;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_1; j++) dst[i * QK8_1 + j] = x[i].qs[j] * d;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Q4_0 / Q4_1                                                                           */
/* ------------------------------------------------------------------------------------ */

/* The signed value of largest magnitude (first one wins on ties), 0 for an all-zero block. */
static inline float signed_absmax32(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static inline void minmax32(const float *x, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

void fr_from_float_q4_0_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q4_0 *y = dst;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK4_0;
        const float d = signed_absmax32(x) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fr_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int q0 = (int8_t)(x[j] * id + 8.5f);
            int q1 = (int8_t)(x[j + QK4_0 / 2] * id + 8.5f);
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void fr_to_float_q4_0_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_0 *x = src;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        float *o = dst + i * QK4_0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            o[j] = ((x[i].qs[j] & 0x0f) - 8) * d;
            o[j + QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void fr_vec_dot_q4_0_ref(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK4_0;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            s0 += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
            s1 += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
        }
        const int sumi = s0 + s1;
        sumf = fmaf((float)sumi, fr_f16_to_f32(x[i].d) * fr_f16_to_f32(y[i].d), sumf);
    }
    *s = sumf;
}

void fr_from_float_q4_1_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q4_1 *y = dst;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK4_1;
        float mn, mx;
        minmax32(x, &mn, &mx);
        const float d = (mx - mn) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fr_f32_to_f16(d);
        y[i].m = fr_f32_to_f16(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int q0 = (int8_t)((x[j] - mn) * id + 0.5f);
            int q1 = (int8_t)((x[j + QK4_1 / 2] - mn) * id + 0.5f);
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void fr_to_float_q4_1_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_1 *x = src;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        const float m = fr_f16_to_f32(x[i].m);
        float *o = dst + i * QK4_1;
        for (int j = 0; j < QK4_1 / 2; j++) {
            o[j] = (x[i].qs[j] & 0x0f) * d + m;
            o[j + QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

void fr_vec_dot_q4_1_ref(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK4_1;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            s0 += (x[i].qs[j] & 0x0f) * y[i].qs[j];
            s1 += (x[i].qs[j] >> 4) * y[i].qs[j + QK4_1 / 2];
        }
        const int sumi = s0 + s1;
        sumf = fmaf((float)sumi, fr_f16_to_f32(x[i].d) * fr_f16_to_f32(y[i].d), sumf);
        sumf = fmaf(fr_f16_to_f32(x[i].m), fr_f16_to_f32(y[i].s), sumf);
    }
    *s = sumf;
}

/* ------------------------------------------------------------------------------------ */
/* Q5_0 / Q5_1                                                                           */
/* ------------------------------------------------------------------------------------ */

static inline uint32_t load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Five-bit value of element j (0..31) of a Q5 block: nibble plus bit j of qh as bit 4. */
static inline int q5_value(const uint8_t *qs, uint32_t qh, int j) {
    const int nib = j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
    return nib | (int)(((qh >> j) & 1u) << 4);
}

void fr_from_float_q5_0_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q5_0 *y = dst;
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK5_0;
        const float d = signed_absmax32(x) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fr_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int q0 = (int8_t)(x[j] * id + 16.5f);
            int q1 = (int8_t)(x[j + QK5_0 / 2] * id + 16.5f);
            if (q0 > 31) q0 = 31;
            if (q1 > 31) q1 = 31;
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + QK5_0 / 2);
        }
        store_u32le(y[i].qh, qh);
    }
}

void fr_to_float_q5_0_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_0 *x = src;
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        const uint32_t qh = load_u32le(x[i].qh);
        for (int j = 0; j < QK5_0; j++) dst[i * QK5_0 + j] = (q5_value(x[i].qs, qh, j) - 16) * d;
    }
}

void fr_vec_dot_q5_0_ref(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK5_0;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint32_t qh = load_u32le(x[i].qh);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            s0 += (q5_value(x[i].qs, qh, j) - 16) * y[i].qs[j];
            s1 += (q5_value(x[i].qs, qh, j + 16) - 16) * y[i].qs[j + 16];
        }
        const int sumi = s0 + s1; /* Q4_0's order (fma), the packed GEMM's too */
        sumf = fmaf((float)sumi, fr_f16_to_f32(x[i].d) * fr_f16_to_f32(y[i].d), sumf);
    }
    *s = sumf;
}

void fr_from_float_q5_1_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q5_1 *y = dst;
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK5_1;
        float mn, mx;
        minmax32(x, &mn, &mx);
        const float d = (mx - mn) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fr_f32_to_f16(d);
        y[i].m = fr_f32_to_f16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            /* (x - min) * id is in [0, 31 + a few ulp], so the +0.5 truncation is 0..31. */
            const unsigned q0 = (uint8_t)((x[j] - mn) * id + 0.5f);
            const unsigned q1 = (uint8_t)((x[j + QK5_1 / 2] - mn) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= ((q0 & 0x10u) >> 4) << j;
            qh |= ((q1 & 0x10u) >> 4) << (j + QK5_1 / 2);
        }
        store_u32le(y[i].qh, qh);
    }
}

void fr_to_float_q5_1_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_1 *x = src;
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        const float m = fr_f16_to_f32(x[i].m);
        const uint32_t qh = load_u32le(x[i].qh);
        for (int j = 0; j < QK5_1; j++) dst[i * QK5_1 + j] = q5_value(x[i].qs, qh, j) * d + m;
    }
}

void fr_vec_dot_q5_1_ref(int64_t n, float *restrict s, const void *restrict vx,
                         const void *restrict vy) {
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK5_1;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint32_t qh = load_u32le(x[i].qh);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            s0 += q5_value(x[i].qs, qh, j) * y[i].qs[j];
            s1 += q5_value(x[i].qs, qh, j + 16) * y[i].qs[j + 16];
        }
        const int sumi = s0 + s1;
        sumf = fmaf((float)sumi, fr_f16_to_f32(x[i].d) * fr_f16_to_f32(y[i].d), sumf);
        sumf = fmaf(fr_f16_to_f32(x[i].m), fr_f16_to_f32(y[i].s), sumf);
    }
    *s = sumf;
}

/* ------------------------------------------------------------------------------------ */
/* IQ4_NL                                                                                */
/* ------------------------------------------------------------------------------------ */

/* Index of the code-book value nearest to v; a tie goes to the larger value. */
static int iq4nl_index(float v) {
    const int8_t *val = fr_iq4nl_values;
    if (v <= val[0]) return 0;
    if (v >= val[15]) return 15;
    int lo = 0, hi = 15; /* invariant: val[lo] <= v < val[hi] */
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < val[mid]) hi = mid;
        else lo = mid;
    }
    return v - val[lo] < val[hi] - v ? lo : hi;
}

/* Weighted least-squares fit of the block for inverse scale `id`: returns sum(w*q*x) and
 * sum(w*q*q) where q is the code-book value nearest to id*x. */
static void iq4nl_fit(const float *x, const float *w, float id, float *sqx, float *sq2) {
    float a = 0.0f, b = 0.0f;
    for (int j = 0; j < QK4_NL; j++) {
        const float q = fr_iq4nl_values[iq4nl_index(id * x[j])];
        a += w[j] * q * x[j];
        b += w[j] * q * q;
    }
    *sqx = a;
    *sq2 = b;
}

static void quantize_block_iq4_nl(const float *x, block_iq4_nl *y) {
    enum { NTRY = 7 };
    float w[QK4_NL];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK4_NL; j++) {
        w[j] = x[j] * x[j];
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = 0.0f;
    if (amax >= 1e-15f) {
        /* Start with the largest value on the code book's largest-magnitude entry, then
         * try inverse scales (v0 + t)/max for t in -7..7 and keep the best weighted fit. */
        float sqx, sq2;
        iq4nl_fit(x, w, 1.0f / (-max / fr_iq4nl_values[0]), &sqx, &sq2);
        d = sqx / sq2;
        float best = d * sqx;
        for (int t = -NTRY; t <= NTRY; t++) {
            iq4nl_fit(x, w, (float)(t + fr_iq4nl_values[0]) / max, &sqx, &sq2);
            if (sq2 > 0 && sqx * sqx > best * sq2) {
                d = sqx / sq2;
                best = d * sqx;
            }
        }
    }
    y->d = fr_f32_to_f16(d);
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK4_NL / 2; j++) {
        const int l0 = iq4nl_index(id * x[j]);
        const int l1 = iq4nl_index(id * x[j + QK4_NL / 2]);
        y->qs[j] = (uint8_t)(l0 | (l1 << 4));
    }
}

void fr_from_float_iq4_nl_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_iq4_nl *y = dst;
    const int64_t nb = n / QK4_NL;
    for (int64_t i = 0; i < nb; i++) quantize_block_iq4_nl(src + i * QK4_NL, &y[i]);
}

void fr_to_float_iq4_nl_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq4_nl *x = src;
    const int64_t nb = n / QK4_NL;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        float *o = dst + i * QK4_NL;
        for (int j = 0; j < QK4_NL / 2; j++) {
            o[j] = d * fr_iq4nl_values[x[i].qs[j] & 0x0f];
            o[j + QK4_NL / 2] = d * fr_iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

void fr_vec_dot_iq4_nl_ref(int64_t n, float *restrict s, const void *restrict vx,
                           const void *restrict vy) {
    const block_iq4_nl *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK4_NL;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fr_f16_to_f32(y[i].d) * fr_f16_to_f32(x[i].d);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK4_NL / 2; j++) {
            s0 += y[i].qs[j] * fr_iq4nl_values[x[i].qs[j] & 0x0f];
            s1 += y[i].qs[j + QK4_NL / 2] * fr_iq4nl_values[x[i].qs[j] >> 4];
        }
        sumf = fmaf((float)(s0 + s1), d, sumf); /* Q4_0's order (fma), the packed GEMM's too */
    }
    *s = sumf;
}

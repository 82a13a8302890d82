/* quants_neon.c: AArch64 versions of the row kernels of quants_ref.c / quants_k_ref.c that
 * the forward pass spends its time in outside the packed matrix products: F32 and F16 dot
 * products (attention over an F16 cache, F16 and F32 weights), the Q8_0 activation
 * quantizer, and the Q4_0, Q8_0 and Q6_K dot products of unpacked rows (Q6_K: the output
 * and part of the FFN of Q4_K_M files). Compiled with -march=armv8.2-a+dotprod and used only
 * where fr_cpu_has(FR_ISA_NEON_DOT).
 *
 * Each gives the reference's bits: the F32/F16 dots keep the reference's 32 partial sums
 * (eight 4-lane registers, lane k of register a = partial sum 4a + k) and its reduction
 * order, with separate multiplies and adds; the quantized dots compute each block's exact
 * integer sum with sdot and then the reference's float steps in block order; the quantizer
 * rounds half away from zero as roundf does (vcvtaq) and hands blocks holding a NaN to
 * the reference, whose order-dependent NaN handling it does not copy. */
#include <arm_neon.h>
#include <math.h>

#include "quants.h"
#include "simd_neon.h"

#define FR_INLINE static inline __attribute__((always_inline))

/* reduce32 of quants_ref.c over acc[8] (partial sum 4a + k in lane k of acc[a]) */
FR_INLINE float reduce32_neon(const float32x4_t *acc) {
    const float32x4_t lo = vaddq_f32(vaddq_f32(acc[0], acc[2]), vaddq_f32(acc[4], acc[6])); /* v[0..3] */
    const float32x4_t hi = vaddq_f32(vaddq_f32(acc[1], acc[3]), vaddq_f32(acc[5], acc[7])); /* v[4..7] */
    const float32x4_t s = vaddq_f32(lo, hi);
    const float t0 = vgetq_lane_f32(s, 0) + vgetq_lane_f32(s, 2);
    const float t1 = vgetq_lane_f32(s, 1) + vgetq_lane_f32(s, 3);
    return t0 + t1;
}

/* 4 values of an F32 (f16 = 0) or F16 row as floats, and one value */
FR_INLINE float32x4_t load4(int f16, const void *p, int64_t i) {
    return f16 ? fr_f16x4_neon((const fr_f16 *)p + i) : vld1q_f32((const float *)p + i);
}
FR_INLINE float val(int f16, const void *p, int64_t i) {
    return f16 ? fr_f16_to_f32(((const fr_f16 *)p)[i]) : ((const float *)p)[i];
}

/* fr_vec_dot_f32_ref / fr_vec_dot_f16_ref: 32 partial sums, one fused multiply-add per
 * element (F16 products are exact in float, so for F16 it is the same as a product and an
 * add), reduce32, then the tail in order as separate products and adds */
FR_INLINE float dot_float(int f16, int64_t n, const void *x, const void *y) {
    float32x4_t acc[8];
    for (int a = 0; a < 8; a++) acc[a] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int a = 0; a < 8; a++)
            acc[a] = vfmaq_f32(acc[a], load4(f16, x, i + 4 * a), load4(f16, y, i + 4 * a));
    float sum = reduce32_neon(acc);
    for (; i < n; i++) sum += val(f16, x, i) * val(f16, y, i);
    return sum;
}

void fr_vec_dot_f32_neon(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    *s = dot_float(0, n, vx, vy);
}

void fr_vec_dot_f16_neon(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    *s = dot_float(1, n, vx, vy);
}

void fr_to_float_f16_neon(const void *restrict src, float *restrict dst, int64_t n) {
    const fr_f16 *x = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, fr_f16x4_neon(x + i));
    for (; i < n; i++) dst[i] = fr_f16_to_f32(x[i]);
}

/* ---- Q8_0 activations ---- */

void fr_from_float_q8_0_neon(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const float *x = src + b * QK8_0;
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0.0f);
        uint32x4_t ok = vdupq_n_u32(~0u);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + 4 * k);
            amax = vmaxq_f32(amax, vabsq_f32(v[k]));
            ok = vandq_u32(ok, vceqq_f32(v[k], v[k])); /* false in a NaN's lane */
        }
        if (vminvq_u32(ok) == 0) { /* a NaN: the reference's order-dependent maximum */
            fr_from_float_q8_0_ref(x, &y[b], QK8_0);
            continue;
        }
        const float d = vmaxvq_f32(amax) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = fr_f32_to_f16(d);
        int8_t q[32];
        for (int k = 0; k < 8; k++) {
            const float32x4_t p = vmulq_n_f32(v[k], id);
            /* roundf then round_i8's clamp to [-128, 127]; x * id is NaN only for 0 * inf
             * (id = inf when d is a subnormal 2^-149 .. ): round_i8 maps NaN to -128 */
            int32x4_t r = vcvtaq_s32_f32(p);
            r = vminq_s32(vmaxq_s32(r, vdupq_n_s32(-128)), vdupq_n_s32(127));
            r = vbslq_s32(vceqq_f32(p, p), r, vdupq_n_s32(-128));
            int32_t t[4];
            vst1q_s32(t, r);
            for (int l = 0; l < 4; l++) q[4 * k + l] = (int8_t)t[l];
        }
        for (int j = 0; j < 32; j++) y[b].qs[j] = q[j];
    }
}

/* ---- quantized rows times Q8 activations ---- */

FR_INLINE int32_t dot32(int8x16_t a0, int8x16_t a1, const int8_t *y) {
    int32x4_t s = vdotq_s32(vdupq_n_s32(0), a0, vld1q_s8(y));
    s = vdotq_s32(s, a1, vld1q_s8(y + 16));
    return vaddvq_s32(s);
}

void fr_vec_dot_q8_0_neon(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q8_0 *x = vx, *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const int32_t sumi = dot32(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16), y[i].qs);
        sumf = fmaf((float)sumi, fr_f16_to_f32(x[i].d) * fr_f16_to_f32(y[i].d), sumf);
    }
    *s = sumf;
}

void fr_vec_dot_q4_0_neon(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    const int8x16_t eight = vdupq_n_s8(8);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        const uint8x16_t p = vld1q_u8(x[i].qs);
        const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(p, m4)), eight);
        const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(p, 4)), eight);
        const int32_t sumi = dot32(lo, hi, y[i].qs);
        sumf = fmaf((float)sumi, fr_f16_to_f32(x[i].d) * fr_f16_to_f32(y[i].d), sumf);
    }
    *s = sumf;
}

/* Q6_K: the 16-value sub-block j of a block is 16 consecutive values; half h (128 values)
 * takes low nibbles from ql[64h ..] and 2-bit pairs from qh[32h ..] (fr_q6_K_at of dtype.h):
 * values 128h + 32g + l (l < 32) = nibble of ql[64h + 32(g & 1) + l] (high when g >= 2) |
 * bits 2g, 2g+1 of qh[32h + l], minus 32. */
void fr_vec_dot_q6_K_neon(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m2 = vdupq_n_u8(0x30);
    const int8x16_t off = vdupq_n_s8(32);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t isum = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            for (int c = 0; c < 2; c++) { /* l in [16c, 16c + 16) */
                const uint8x16_t l0 = vld1q_u8(ql + 16 * c), l1 = vld1q_u8(ql + 32 + 16 * c);
                const uint8x16_t hb = vld1q_u8(qh + 16 * c);
                uint8x16_t q[4];
                q[0] = vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(hb, 4), m2));
                q[1] = vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(hb, 2), m2));
                q[2] = vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hb, m2));
                q[3] = vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(hb, 2), m2));
                for (int g = 0; g < 4; g++) {
                    const int p = 128 * h + 32 * g + 16 * c;
                    const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(q[g]), off);
                    const int32_t sj = vaddvq_s32(vdotq_s32(vdupq_n_s32(0), v, vld1q_s8(y[i].qs + p)));
                    isum += x[i].scales[p / 16] * sj;
                }
            }
        }
        const float d = y[i].d * fr_f16_to_f32(x[i].d);
        const float a = d * (float)isum;
        sumf += a;
    }
    *s = sumf;
}

/* wrow_neon.c: AArch64 kernels of wrow.c for Q4_0, Q8_0 and F16 rows (as wrow_avx2.c): a
 * quantized block's 32 values become eight vectors of exact floats q, and its scale d
 * multiplies the block's partial sum (dot) or the scalar a (axpy), not each value. Called
 * only where fr_cpu_has(FR_ISA_NEON_DOT) (the AArch64 tier of this build). */
#include <arm_neon.h>

#include "kernels.h"
#include "simd_neon.h"

bool fr_wrow_has_neon(int type) { return type == FR_TYPE_Q4_0 || type == FR_TYPE_Q8_0 || type == FR_TYPE_F16; }

/* the 32 values of block b as int8, in order (Q4_0: low nibbles are values 0-15) */
static inline void block_i8(int type, const void *row, int64_t b, int8x16_t *lo, int8x16_t *hi) {
    if (type == FR_TYPE_Q4_0) {
        const uint8x16_t q = vld1q_u8(((const block_q4_0 *)row + b)->qs);
        *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), vdupq_n_s8(8));
        *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
        return;
    }
    const int8_t *qs = ((const block_q8_0 *)row + b)->qs;
    *lo = vld1q_s8(qs);
    *hi = vld1q_s8(qs + 16);
}

static inline float block_scale(int type, const void *row, int64_t b) {
    return fr_f16_to_f32(type == FR_TYPE_Q4_0 ? ((const block_q4_0 *)row + b)->d : ((const block_q8_0 *)row + b)->d);
}

/* 16 int8 values as four float vectors (exact) */
static inline void i8_to_f32(int8x16_t q, float32x4_t f[4]) {
    const int16x8_t l = vmovl_s8(vget_low_s8(q)), h = vmovl_s8(vget_high_s8(q));
    f[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(l)));
    f[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(l)));
    f[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(h)));
    f[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(h)));
}

/* the 32 values of block b as eight float vectors (exact) */
static inline void block_f32(int type, const void *row, int64_t b, float32x4_t f[8]) {
    int8x16_t lo, hi;
    block_i8(type, row, b, &lo, &hi);
    i8_to_f32(lo, f);
    i8_to_f32(hi, f + 4);
}

static float dot_f16(const fr_f16 *w, const float *x, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, fr_f16x4_neon(w + i), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, fr_f16x4_neon(w + i + 4), vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++)
        s += fr_f16_to_f32(w[i]) * x[i];
    return s;
}

/* n: a multiple of 32 for the block types (a row's length always is) */
float fr_wrow_dot_neon(int type, const void *row, const float *x, int64_t n) {
    if (type == FR_TYPE_F16) return dot_f16(row, x, n);
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int64_t b = 0; b < n / 32; b++) {
        float32x4_t f[8];
        block_f32(type, row, b, f);
        const float *xb = x + b * 32;
        float32x4_t s = vmulq_f32(f[0], vld1q_f32(xb));
        for (int k = 1; k < 8; k++)
            s = vfmaq_f32(s, f[k], vld1q_f32(xb + 4 * k));
        acc[b & 1] = vfmaq_f32(acc[b & 1], vdupq_n_f32(block_scale(type, row, b)), s);
    }
    return vaddvq_f32(vaddq_f32(acc[0], acc[1]));
}

void fr_wrow_axpy_neon(int type, const void *row, float a, float *y, int64_t n) {
    if (type == FR_TYPE_F16) {
        const fr_f16 *w = row;
        const float32x4_t va = vdupq_n_f32(a);
        int64_t i = 0;
        for (; i + 4 <= n; i += 4)
            vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), va, fr_f16x4_neon(w + i)));
        for (; i < n; i++)
            y[i] += a * fr_f16_to_f32(w[i]);
        return;
    }
    for (int64_t b = 0; b < n / 32; b++) {
        float32x4_t f[8];
        block_f32(type, row, b, f);
        const float32x4_t s = vdupq_n_f32(a * block_scale(type, row, b));
        float *yb = y + b * 32;
        for (int k = 0; k < 8; k++)
            vst1q_f32(yb + 4 * k, vfmaq_f32(vld1q_f32(yb + 4 * k), s, f[k]));
    }
}

/* ops_neon.c: AArch64 versions of element-wise kernels of ops.c (as ops_avx2.c). */
#include <arm_neon.h>
#include <math.h>

#include "kernels.h"
#include "vmath_neon.h"

/* silu(g) * u on four lanes: g * sigmoid(g) with e = exp(-|g|), 1 / (1 + e) for g >= 0 and
 * e / (1 + e) below (never overflows) */
static inline float32x4_t swiglu4(float32x4_t g, float32x4_t u) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t e = fr_exp_neg_neon(vnegq_f32(vabsq_f32(g)));
    const float32x4_t num = vbslq_f32(vcgeq_f32(g, vdupq_n_f32(0.0f)), one, e);
    return vmulq_f32(vmulq_f32(g, vdivq_f32(num, vaddq_f32(one, e))), u);
}

/* fr_swiglu_avx2's arithmetic and blocks: 8 values at a time, the last n % 8 by the scalar
 * formula of ops.c */
void fr_swiglu_neon(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(gate + i, swiglu4(vld1q_f32(gate + i), vld1q_f32(up + i)));
        vst1q_f32(gate + i + 4, swiglu4(vld1q_f32(gate + i + 4), vld1q_f32(up + i + 4)));
    }
    for (; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

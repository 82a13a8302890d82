/* gemm_neon.c: the Q4_0x16, Q8_0x16 and Q4_Kx16 packed kernels (layouts and result order in gemm.h) for
 * AArch64 with the dot-product instructions (compiled with -march=armv8.2-a+dotprod; called
 * only where fr_cpu_has(FR_ISA_NEON_DOT)).
 *
 * A 128-bit register holds 4 bytes of each of 4 weight rows, so one half of a unit (8 rows) is two
 * registers and each int32 lane belongs to one row, as in the 256-bit x86 kernels. sdot by
 * lane (vdotq_laneq_s32) multiplies every row's 4 bytes by the same 4 activation bytes and
 * adds the 4 products to the row's int32 lane: signed x signed, exact, so Q4_0 uses the
 * nibble minus 8 directly (no offset word) and Q8_0 its bytes as they are (-128 included).
 * Each block's integer sum is therefore the same exact integer as in the scalar reference,
 * and the float steps after it are the reference's: (float)isum, dx * dy, one fused
 * multiply-add per block in block order. The results are the same bits. */
#include <arm_neon.h>
#include <string.h>

#include "gemm.h"
#include "simd_neon.h"

#define FR_INLINE static inline __attribute__((always_inline))

/* The 8 fp16 scales at wd (a half's rows 0-3, rows 4-7) as floats. */
FR_INLINE void scales8(const uint16_t *wd, float32x4_t *d0, float32x4_t *d1) {
    *d0 = fr_f16x4_neon(wd);
    *d1 = fr_f16x4_neon(wd + 4);
}

/* acc = fma((float)s, dx * dy, acc) for the two row halves of one activation row. */
FR_INLINE void block_end(float32x4_t d0, float32x4_t d1, float dy, const int32x4_t *s, float32x4_t *acc) {
    acc[0] = vfmaq_f32(acc[0], vcvtq_f32_s32(s[0]), vmulq_f32(d0, vdupq_n_f32(dy)));
    acc[1] = vfmaq_f32(acc[1], vcvtq_f32_s32(s[1]), vmulq_f32(d1, vdupq_n_f32(dy)));
}

/* The activation row of gemm.h: nb x 32 int8 values, then nb float scales. */
FR_INLINE void split(const void *const *acts, int T, int64_t nb, const int8_t **yq, const float **yd) {
    for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 32);
    }
}

/* One half's accumulators into out[t * 16 + 8 * half + r]. */
FR_INLINE void store(const float32x4_t (*acc)[2], int T, int half, float *out) {
    for (int t = 0; t < T; t++) {
        vst1q_f32(out + 16 * t + 8 * half, acc[t][0]);
        vst1q_f32(out + 16 * t + 8 * half + 4, acc[t][1]);
    }
}

/* Q4_0 step m: P_m's low nibbles are values 4m..4m+3 (lane m of y[0..15]), its high nibbles
 * values 16+4m..16+4m+3 (lane m of y[16..31]). */
#define Q4_STEP(m)                                                                            \
    do {                                                                                      \
        for (int h = 0; h < 2; h++) {                                                         \
            const uint8x16_t p = vld1q_u8(q + 64 * (m) + 16 * h);                             \
            const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(p, m4)), eight);       \
            const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(p, 4)), eight);      \
            for (int t = 0; t < T; t++) {                                                     \
                s[t][h] = vdotq_laneq_s32(s[t][h], lo, ylo[t], (m));                          \
                s[t][h] = vdotq_laneq_s32(s[t][h], hi, yhi[t], (m));                          \
            }                                                                                 \
        }                                                                                     \
    } while (0)

/* Q8_0 step k: W_k holds values 4k..4k+3 of the 8 rows: lane k % 4 of y[0..15] or y[16..31]. */
#define Q8_STEP(k)                                                                            \
    do {                                                                                      \
        for (int h = 0; h < 2; h++) {                                                         \
            const int8x16_t w = vld1q_s8((const int8_t *)q + 64 * (k) + 16 * h);              \
            for (int t = 0; t < T; t++)                                                       \
                s[t][h] = vdotq_laneq_s32(s[t][h], w, (k) < 4 ? ylo[t] : yhi[t], (k) % 4);    \
        }                                                                                     \
    } while (0)

/* Q4_0 (q8 = 0) or Q8_0 (q8 = 1), one half of a unit: per block the exact integer sums, then
 * gemm.h's fma order. */
FR_INLINE void x_0x16(int64_t nb, const void *unit, const int half, const void *const *acts, const int T, float *out,
                      const int q8) {
    const size_t block_bytes = q8 ? FR_Q8_0X16_BLOCK : FR_Q4_0X16_BLOCK;
    const size_t d_off = q8 ? FR_Q8_0X16_D : FR_Q4_0X16_D;
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    split(acts, T, nb, yq, yd);
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    const int8x16_t eight = vdupq_n_s8(8);
    float32x4_t acc[FR_GEMM_MAX_T][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = (const uint8_t *)unit + b * block_bytes + 32 * half;
        int32x4_t s[FR_GEMM_MAX_T][2];
        int8x16_t ylo[FR_GEMM_MAX_T], yhi[FR_GEMM_MAX_T];
        for (int t = 0; t < T; t++) {
            s[t][0] = s[t][1] = vdupq_n_s32(0);
            ylo[t] = vld1q_s8(yq[t] + b * 32);
            yhi[t] = vld1q_s8(yq[t] + b * 32 + 16);
        }
        if (q8) {
            Q8_STEP(0);
            Q8_STEP(1);
            Q8_STEP(2);
            Q8_STEP(3);
            Q8_STEP(4);
            Q8_STEP(5);
            Q8_STEP(6);
            Q8_STEP(7);
        } else {
            Q4_STEP(0);
            Q4_STEP(1);
            Q4_STEP(2);
            Q4_STEP(3);
        }
        float32x4_t d0, d1;
        scales8((const uint16_t *)((const uint8_t *)unit + b * block_bytes + d_off + 16 * half), &d0, &d1);
        for (int t = 0; t < T; t++) block_end(d0, d1, yd[t][b], s[t], acc[t]);
    }
    store((const float32x4_t(*)[2])acc, T, half, out);
}

/* The two halves one after the other (both 8-row halves at once would need twice the
 * registers; not measured on AArch64 hardware). */
FR_INLINE void q4_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x_0x16(nb, unit, 0, acts, T, out, 0);
    x_0x16(nb, unit, 1, acts, T, out, 0);
}

FR_INLINE void q8_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x_0x16(nb, unit, 0, acts, T, out, 1);
    x_0x16(nb, unit, 1, acts, T, out, 1);
}

/* u8 values v[0..7] as two int32x4 (rows 0-3, rows 4-7). */
FR_INLINE void widen8(uint8x8_t v, int32x4_t *lo, int32x4_t *hi) {
    const uint16x8_t w = vmovl_u8(v);
    *lo = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
    *hi = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(w)));
}

/* Q4_K step k of sub-block j: V_{j/2,k} holds values 32j + 4k .. + 3 of the 8 rows (low
 * nibbles for even j, high for odd j): lane k % 4 of y[32j .. 32j + 15] or y[32j + 16 ..]. */
#define Q4K_STEP(k)                                                                           \
    do {                                                                                      \
        for (int h = 0; h < 2; h++) {                                                         \
            const uint8x16_t v = vld1q_u8(q + 64 * (k) + 16 * h);                             \
            const int8x16_t nib = vreinterpretq_s8_u8(hi ? vshrq_n_u8(v, 4) : vandq_u8(v, m4)); \
            for (int t = 0; t < T; t++)                                                       \
                sj[t][h] = vdotq_laneq_s32(sj[t][h], nib, (k) < 4 ? ylo[t] : yhi[t], (k) % 4); \
        }                                                                                     \
    } while (0)

/* Per super-block the exact integers isum = sum_j sc_j * dot_j and msum = sum_j m_j * ysum_j
 * (int32 lanes, one per row), then the reference's float steps: sumf += (yd * d) * isum;
 * sumf -= (yd * dmin) * msum. */
FR_INLINE void q4_Kx16h(int64_t nb, const void *unit, const int half, const void *const *acts, const int T,
                        float *out) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int16_t *ys[FR_GEMM_MAX_T];
    for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 256);
        ys[t] = (const int16_t *)(yq[t] + nb * 260);
    }
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    float32x4_t acc[FR_GEMM_MAX_T][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q4_KX16_BLOCK;
        const uint8_t *qs = blk + 32 * half, *sc = blk + FR_Q4_KX16_SC + 8 * half, *mn = blk + FR_Q4_KX16_MN + 16 * half;
        const uint16_t *dd = (const uint16_t *)(blk + FR_Q4_KX16_D + 16 * half);
        const uint16_t *dm = (const uint16_t *)(blk + FR_Q4_KX16_DMIN + 16 * half);
        int32x4_t isum[FR_GEMM_MAX_T][2], msum[FR_GEMM_MAX_T][2];
        for (int t = 0; t < T; t++) isum[t][0] = isum[t][1] = msum[t][0] = msum[t][1] = vdupq_n_s32(0);
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = qs + 512 * (j >> 1);
            const int hi = j & 1;
            int32x4_t sj[FR_GEMM_MAX_T][2];
            int8x16_t ylo[FR_GEMM_MAX_T], yhi[FR_GEMM_MAX_T];
            for (int t = 0; t < T; t++) {
                sj[t][0] = sj[t][1] = vdupq_n_s32(0);
                ylo[t] = vld1q_s8(yq[t] + b * 256 + 32 * j);
                yhi[t] = vld1q_s8(yq[t] + b * 256 + 32 * j + 16);
            }
            Q4K_STEP(0);
            Q4K_STEP(1);
            Q4K_STEP(2);
            Q4K_STEP(3);
            Q4K_STEP(4);
            Q4K_STEP(5);
            Q4K_STEP(6);
            Q4K_STEP(7);
            int32x4_t s0, s1, m0, m1; /* sc[j][r]; m[j][r] from the (m[2i][r], m[2i+1][r]) pairs */
            widen8(vld1_u8(sc + 16 * j), &s0, &s1);
            const uint8x16_t mp = vld1q_u8(mn + 32 * (j >> 1));
            widen8(vget_low_u8(hi ? vuzp2q_u8(mp, mp) : vuzp1q_u8(mp, mp)), &m0, &m1);
            for (int t = 0; t < T; t++) {
                isum[t][0] = vmlaq_s32(isum[t][0], s0, sj[t][0]);
                isum[t][1] = vmlaq_s32(isum[t][1], s1, sj[t][1]);
                msum[t][0] = vmlaq_n_s32(msum[t][0], m0, ys[t][b * 8 + j]);
                msum[t][1] = vmlaq_n_s32(msum[t][1], m1, ys[t][b * 8 + j]);
            }
        }
        const float32x4_t d0 = fr_f16x4_neon(dd);
        const float32x4_t d1 = fr_f16x4_neon(dd + 4);
        const float32x4_t n0 = fr_f16x4_neon(dm);
        const float32x4_t n1 = fr_f16x4_neon(dm + 4);
        for (int t = 0; t < T; t++) {
            const float32x4_t y = vdupq_n_f32(yd[t][b]);
            const float32x4_t a0 = vmulq_f32(vmulq_f32(y, d0), vcvtq_f32_s32(isum[t][0]));
            const float32x4_t a1 = vmulq_f32(vmulq_f32(y, d1), vcvtq_f32_s32(isum[t][1]));
            const float32x4_t b0 = vmulq_f32(vmulq_f32(y, n0), vcvtq_f32_s32(msum[t][0]));
            const float32x4_t b1 = vmulq_f32(vmulq_f32(y, n1), vcvtq_f32_s32(msum[t][1]));
            acc[t][0] = vsubq_f32(vaddq_f32(acc[t][0], a0), b0);
            acc[t][1] = vsubq_f32(vaddq_f32(acc[t][1], a1), b1);
        }
    }
    store((const float32x4_t(*)[2])acc, T, half, out);
}

FR_INLINE void q4_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    q4_Kx16h(nb, unit, 0, acts, T, out);
    q4_Kx16h(nb, unit, 1, acts, T, out);
}

void fr_gemm_q4_0x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q8_0x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q8_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q4_Kx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_Kx16, nb, unit, acts, T, out);
}

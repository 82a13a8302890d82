/* gemm_neon.c: the packed kernels of every layout in gemm.h (Q4_0, IQ4_NL, Q5_0, Q4_1, Q5_1,
 * Q8_0 and Q2_K..Q6_K; layouts and result order there) for AArch64 with the dot-product
 * instructions (compiled with -march=armv8.2-a+dotprod; called only where
 * fr_cpu_has(FR_ISA_NEON_DOT)).
 *
 * A 128-bit register holds 4 bytes of each of 4 weight rows, so one half of a unit (8 rows) is two
 * registers and each int32 lane belongs to one row, as in the 256-bit x86 kernels. sdot by
 * lane (vdotq_laneq_s32) multiplies every row's 4 bytes by the same 4 activation bytes and
 * adds the 4 products to the row's int32 lane: signed x signed, exact, so every type's values
 * go in as they are (Q4_0's nibble minus 8, Q6_K's q - 32, Q8_0's bytes with -128 included)
 * and no offset word is needed (Q4_1/Q5_1 read theirs as s_y, Q2_K as its sub-block sums).
 * Each block's integer sum is therefore the same exact integer as in the scalar reference,
 * and the float steps after it are the reference's, in its order. The results are the same
 * bits (test_tiles under qemu-user; never measured on AArch64 hardware). */
#include <arm_neon.h>
#include <string.h>

#include "gemm.h"
#include "quants.h"
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

/* The 32-value types (gemm.h's layouts): Q4_0, IQ4_NL (Q4_0's layout, the nibbles index
 * fr_iq4nl_values), Q5_0, Q4_1, Q5_1 (unsigned values, then the min term) and Q8_0. */
enum { X_Q4_0, X_IQ4_NL, X_Q5_0, X_Q4_1, X_Q5_1, X_Q8_0 };

FR_INLINE size_t x_block_bytes(int kind) {
    return kind == X_Q8_0   ? FR_Q8_0X16_BLOCK
           : kind == X_Q5_0 ? FR_Q5_0X16_BLOCK
           : kind == X_Q4_1 ? FR_Q4_1X16_BLOCK
           : kind == X_Q5_1 ? FR_Q5_1X16_BLOCK
                            : FR_Q4_0X16_BLOCK;
}

/* The 16 values (rows 4h..4h+3 of the half at q, 4 each) that nibble vector P_m holds: its low
 * nibbles (values 4m..4m+3) or high ones (16+4m..), with Q5_0/Q5_1's fifth bits from vector H
 * (bit 2m, or 2m + 1 for the high nibbles), as the signed int8 values sdot multiplies. */
FR_INLINE int8x16_t x4_values(const uint8_t *q, int m, int h, int high, int kind, int8x16_t table) {
    const uint8x16_t p = vld1q_u8(q + 64 * m + 16 * h);
    uint8x16_t v = high ? vshrq_n_u8(p, 4) : vandq_u8(p, vdupq_n_u8(0x0f));
    if (kind == X_Q5_0 || kind == X_Q5_1) {
        const uint8x16_t hv = vld1q_u8(q + FR_Q5_0X16_QH + 16 * h); /* Q5_1's H is at the same place */
        v = vorrq_u8(v, vandq_u8(vshlq_u8(hv, vdupq_n_s8((int8_t)(4 - 2 * m - high))), vdupq_n_u8(0x10)));
    }
    if (kind == X_IQ4_NL) return vqtbl1q_s8(table, v);
    if (kind == X_Q4_0) return vsubq_s8(vreinterpretq_s8_u8(v), vdupq_n_s8(8));
    if (kind == X_Q5_0) return vsubq_s8(vreinterpretq_s8_u8(v), vdupq_n_s8(16));
    return vreinterpretq_s8_u8(v); /* Q4_1, Q5_1: 0..31 */
}

/* Step m of the 4-bit types: P_m's low nibbles are values 4m..4m+3 (lane m of y[0..15]), its
 * high nibbles values 16+4m..16+4m+3 (lane m of y[16..31]). */
#define X4_STEP(m)                                                                            \
    do {                                                                                      \
        for (int h = 0; h < 2; h++) {                                                         \
            const int8x16_t lo = x4_values(q, (m), h, 0, kind, table);                        \
            const int8x16_t hi = x4_values(q, (m), h, 1, kind, table);                        \
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

/* A 32-value type, one half of a unit: per block the exact integer sums, then gemm.h's fma
 * order (Q4_1, Q5_1: then acc = fma(m, s_y, acc), s_y the offset word's float). */
FR_INLINE void x_0x16(int64_t nb, const void *unit, const int half, const void *const *acts, const int T, float *out,
                      const int kind) {
    const size_t bbytes = x_block_bytes(kind);
    const int mins = kind == X_Q4_1 || kind == X_Q5_1;
    const size_t d_off = bbytes - 32, m_off = bbytes - 64; /* the scales are last, the mins before them */
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    split(acts, T, nb, yq, yd);
    const int8x16_t table = vld1q_s8(fr_iq4nl_values);
    float32x4_t acc[FR_GEMM_MAX_T][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = (const uint8_t *)unit + b * bbytes + 32 * half;
        int32x4_t s[FR_GEMM_MAX_T][2];
        int8x16_t ylo[FR_GEMM_MAX_T], yhi[FR_GEMM_MAX_T];
        for (int t = 0; t < T; t++) {
            s[t][0] = s[t][1] = vdupq_n_s32(0);
            ylo[t] = vld1q_s8(yq[t] + b * 32);
            yhi[t] = vld1q_s8(yq[t] + b * 32 + 16);
        }
        if (kind == X_Q8_0) {
            Q8_STEP(0);
            Q8_STEP(1);
            Q8_STEP(2);
            Q8_STEP(3);
            Q8_STEP(4);
            Q8_STEP(5);
            Q8_STEP(6);
            Q8_STEP(7);
        } else {
            X4_STEP(0);
            X4_STEP(1);
            X4_STEP(2);
            X4_STEP(3);
        }
        const uint8_t *blk = (const uint8_t *)unit + b * bbytes;
        float32x4_t d0, d1;
        scales8((const uint16_t *)(blk + d_off + 16 * half), &d0, &d1);
        for (int t = 0; t < T; t++) block_end(d0, d1, yd[t][b], s[t], acc[t]);
        if (mins) {
            float32x4_t m0, m1;
            scales8((const uint16_t *)(blk + m_off + 16 * half), &m0, &m1);
            for (int t = 0; t < T; t++) {
                float sy; /* the offset word (gemm.h): s_y as a float */
                memcpy(&sy, yq[t] + nb * 36 + 4 * b, 4);
                acc[t][0] = vfmaq_f32(acc[t][0], m0, vdupq_n_f32(sy));
                acc[t][1] = vfmaq_f32(acc[t][1], m1, vdupq_n_f32(sy));
            }
        }
    }
    store((const float32x4_t(*)[2])acc, T, half, out);
}

/* A unit's kernel NAME from a one-half kernel HALF_FN(nb, unit, half, acts, T, out, ARG): the two
 * halves one after the other (both 8-row halves at once would need twice the registers; not
 * measured on AArch64 hardware). */
#define BOTH_HALVES(NAME, HALF_FN, ARG)                                                                   \
    FR_INLINE void NAME(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) { \
        HALF_FN(nb, unit, 0, acts, T, out, ARG);                                                          \
        HALF_FN(nb, unit, 1, acts, T, out, ARG);                                                          \
    }
BOTH_HALVES(q4_0x16, x_0x16, X_Q4_0)
BOTH_HALVES(iq4_nlx16, x_0x16, X_IQ4_NL)
BOTH_HALVES(q5_0x16, x_0x16, X_Q5_0)
BOTH_HALVES(q4_1x16, x_0x16, X_Q4_1)
BOTH_HALVES(q5_1x16, x_0x16, X_Q5_1)
BOTH_HALVES(q8_0x16, x_0x16, X_Q8_0)

/* u8 values v[0..7] as two int32x4 (rows 0-3, rows 4-7). */
FR_INLINE void widen8(uint8x8_t v, int32x4_t *lo, int32x4_t *hi) {
    const uint16x8_t w = vmovl_u8(v);
    *lo = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
    *hi = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(w)));
}

/* Q4_K step k of sub-block j: V_{j/2,k} holds values 32j + 4k .. + 3 of the 8 rows (low
 * nibbles for even j, high for odd j): lane k % 4 of y[32j .. 32j + 15] or y[32j + 16 ..].
 * Q5_K: bit j of vector H_k's bytes is the fifth bit (16) of the same values. */
#define Q4K_STEP(k)                                                                           \
    do {                                                                                      \
        for (int h = 0; h < 2; h++) {                                                         \
            const uint8x16_t v = vld1q_u8(q + 64 * (k) + 16 * h);                             \
            uint8x16_t nib = hi ? vshrq_n_u8(v, 4) : vandq_u8(v, m4);                         \
            if (q5) {                                                                         \
                const uint8x16_t hv = vld1q_u8(qh + 64 * (k) + 16 * h);                       \
                nib = vorrq_u8(nib, vandq_u8(vshlq_u8(hv, vdupq_n_s8((int8_t)(4 - j))), b4)); \
            }                                                                                 \
            for (int t = 0; t < T; t++)                                                       \
                sj[t][h] = vdotq_laneq_s32(sj[t][h], vreinterpretq_s8_u8(nib), (k) < 4 ? ylo[t] : yhi[t], (k) % 4); \
        }                                                                                     \
    } while (0)

/* Q4_K, or (q5) Q5_K: per super-block the exact integers isum = sum_j sc_j * dot_j and
 * msum = sum_j m_j * ysum_j (int32 lanes, one per row), then the reference's float steps:
 * sumf += (yd * d) * isum; sumf -= (yd * dmin) * msum. */
FR_INLINE void q4_Kx16h(int64_t nb, const void *unit, const int half, const void *const *acts, const int T,
                        float *out, const int q5) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int16_t *ys[FR_GEMM_MAX_T];
    for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 256);
        ys[t] = (const int16_t *)(yq[t] + nb * 260);
    }
    const uint8x16_t m4 = vdupq_n_u8(0x0f), b4 = vdupq_n_u8(0x10);
    float32x4_t acc[FR_GEMM_MAX_T][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * (q5 ? FR_Q5_KX16_BLOCK : FR_Q4_KX16_BLOCK);
        const uint8_t *qh = blk + FR_Q5_KX16_QH + 32 * half; /* Q5_K only */
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

BOTH_HALVES(q4_Kx16, q4_Kx16h, 0)
BOTH_HALVES(q5_Kx16, q4_Kx16h, 1)

/* Q2_K, Q3_K and Q6_K: sub-blocks of 16 values, so 32-value group g (values 32g..32g+31) is
 * sub-block 2g in steps k < 4 and 2g + 1 in steps k >= 4. The 16 values of register h (rows
 * 4h..4h+3 of the half at offset `off` of each vector) in group g, step k, as signed int8
 * (layouts in gemm.h): Q6_K's low 4 bits from L_{g/2,k} and top 2 from H_{g/4,k}, minus 32;
 * Q3_K's low 2 bits from Q_{g/4,k} and third from H_k, minus 4; Q2_K's 2 bits. */
FR_INLINE int8x16_t k16_values(int type, const uint8_t *blk, size_t off, int g, int k) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    if (type == FR_TYPE_Q6_K) {
        const uint8x16_t l = vld1q_u8(blk + 64 * (8 * (g / 2) + k) + off);
        const uint8x16_t hv = vld1q_u8(blk + FR_Q6_KX16_QH + 64 * (8 * (g / 4) + k) + off);
        const uint8x16_t lo = (g & 1) ? vshrq_n_u8(l, 4) : vandq_u8(l, vdupq_n_u8(0x0f));
        const uint8x16_t hi = vandq_u8(vshlq_u8(hv, vdupq_n_s8((int8_t)(-2 * (g % 4)))), m3);
        return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, vshlq_n_u8(hi, 4))), vdupq_n_s8(32));
    }
    const uint8x16_t qv = vld1q_u8(blk + 64 * (8 * (g / 4) + k) + off);
    const uint8x16_t q2 = vandq_u8(vshlq_u8(qv, vdupq_n_s8((int8_t)(-2 * (g % 4)))), m3);
    if (type == FR_TYPE_Q2_K) return vreinterpretq_s8_u8(q2);
    const uint8x16_t hm = vld1q_u8(blk + FR_Q3_KX16_HM + 64 * k + off);
    const uint8x16_t hb = vandq_u8(vshlq_u8(hm, vdupq_n_s8((int8_t)(2 - g))), vdupq_n_u8(4)); /* bit g -> bit 2 */
    return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(q2, hb)), vdupq_n_s8(4));
}

/* Step i (< 4) of the current sub-block: lane i of its 16 activation values. */
#define K16_STEP(i)                                                                           \
    do {                                                                                      \
        for (int h = 0; h < 2; h++) {                                                         \
            const int8x16_t v = k16_values(type, blk, 32 * (size_t)half + 16 * (size_t)h, g, 4 * sub + (i)); \
            for (int t = 0; t < T; t++) sj[t][h] = vdotq_laneq_s32(sj[t][h], v, yv[t], (i));  \
        }                                                                                     \
    } while (0)

/* u8 or int8 values v[0..7] as two int32x4 (rows 0-3, rows 4-7). */
FR_INLINE void widen8s(int8x8_t v, int32x4_t *lo, int32x4_t *hi) {
    const int16x8_t w = vmovl_s8(v);
    *lo = vmovl_s16(vget_low_s16(w));
    *hi = vmovl_s16(vget_high_s16(w));
}

/* One half of a Q2_K, Q3_K or Q6_K unit: per super-block the exact integers isum = sum_j sc_j *
 * dot_j and (Q2_K) msum = sum_j m_j * ysum_j, then the reference's float steps (k16_ref in
 * gemm.c): sumf += (yd * d) * isum and (Q2_K) sumf -= (yd * dmin) * msum. The activations are
 * gemm.h's split Q8_K rows for these types; Q2_K takes ysum_j from their offset words. */
FR_INLINE void k16x16h(int64_t nb, const void *unit, const int half, const void *const *acts, const int T,
                       float *out, const int type) {
    const size_t bbytes = type == FR_TYPE_Q2_K ? FR_Q2_KX16_BLOCK : type == FR_TYPE_Q3_K ? FR_Q3_KX16_BLOCK
                                                                                       : FR_Q6_KX16_BLOCK;
    const size_t sc_at = type == FR_TYPE_Q2_K ? FR_Q2_KX16_SC : type == FR_TYPE_Q3_K ? FR_Q3_KX16_SC : FR_Q6_KX16_SC;
    const size_t d_at = type == FR_TYPE_Q2_K ? FR_Q2_KX16_D : type == FR_TYPE_Q3_K ? FR_Q3_KX16_D : FR_Q6_KX16_D;
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 256);
        yc[t] = (const int32_t *)(yq[t] + nb * 260);
    }
    float32x4_t acc[FR_GEMM_MAX_T][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * bbytes;
        int32x4_t isum[FR_GEMM_MAX_T][2], msum[FR_GEMM_MAX_T][2];
        for (int t = 0; t < T; t++) isum[t][0] = isum[t][1] = msum[t][0] = msum[t][1] = vdupq_n_s32(0);
        for (int g = 0; g < 8; g++) {
            for (int sub = 0; sub < 2; sub++) {
                const int j = 2 * g + sub;
                int32x4_t sj[FR_GEMM_MAX_T][2];
                int8x16_t yv[FR_GEMM_MAX_T];
                for (int t = 0; t < T; t++) {
                    sj[t][0] = sj[t][1] = vdupq_n_s32(0);
                    yv[t] = vld1q_s8(yq[t] + b * 256 + 16 * j);
                }
                K16_STEP(0);
                K16_STEP(1);
                K16_STEP(2);
                K16_STEP(3);
                const uint8_t *sc = blk + sc_at + 16 * j + 8 * half;
                int32x4_t s0, s1, m0, m1;
                if (type == FR_TYPE_Q2_K) { /* scale | min << 4 */
                    const uint8x8_t v = vld1_u8(sc);
                    widen8(vand_u8(v, vdup_n_u8(15)), &s0, &s1);
                    widen8(vshr_n_u8(v, 4), &m0, &m1);
                } else {
                    widen8s(vld1_s8((const int8_t *)sc), &s0, &s1);
                    m0 = m1 = vdupq_n_s32(0);
                }
                for (int t = 0; t < T; t++) {
                    isum[t][0] = vmlaq_s32(isum[t][0], s0, sj[t][0]);
                    isum[t][1] = vmlaq_s32(isum[t][1], s1, sj[t][1]);
                    if (type == FR_TYPE_Q2_K) { /* the offset word's halves are -16 * ysum_j */
                        const int32_t ysum = -(int32_t)(int16_t)(uint16_t)yc[t][b * 16 + j] / 16;
                        msum[t][0] = vmlaq_n_s32(msum[t][0], m0, ysum);
                        msum[t][1] = vmlaq_n_s32(msum[t][1], m1, ysum);
                    }
                }
            }
        }
        const uint16_t *dd = (const uint16_t *)(blk + d_at + 16 * half);
        const float32x4_t d0 = fr_f16x4_neon(dd), d1 = fr_f16x4_neon(dd + 4);
        for (int t = 0; t < T; t++) {
            const float32x4_t y = vdupq_n_f32(yd[t][b]);
            acc[t][0] = vaddq_f32(acc[t][0], vmulq_f32(vmulq_f32(y, d0), vcvtq_f32_s32(isum[t][0])));
            acc[t][1] = vaddq_f32(acc[t][1], vmulq_f32(vmulq_f32(y, d1), vcvtq_f32_s32(isum[t][1])));
        }
        if (type == FR_TYPE_Q2_K) {
            const uint16_t *dm = (const uint16_t *)(blk + FR_Q2_KX16_DMIN + 16 * half);
            const float32x4_t n0 = fr_f16x4_neon(dm), n1 = fr_f16x4_neon(dm + 4);
            for (int t = 0; t < T; t++) {
                const float32x4_t y = vdupq_n_f32(yd[t][b]);
                acc[t][0] = vsubq_f32(acc[t][0], vmulq_f32(vmulq_f32(y, n0), vcvtq_f32_s32(msum[t][0])));
                acc[t][1] = vsubq_f32(acc[t][1], vmulq_f32(vmulq_f32(y, n1), vcvtq_f32_s32(msum[t][1])));
            }
        }
    }
    store((const float32x4_t(*)[2])acc, T, half, out);
}
#undef K16_STEP

BOTH_HALVES(q2_Kx16, k16x16h, FR_TYPE_Q2_K)
BOTH_HALVES(q3_Kx16, k16x16h, FR_TYPE_Q3_K)
BOTH_HALVES(q6_Kx16, k16x16h, FR_TYPE_Q6_K)
#undef BOTH_HALVES

void fr_gemm_q4_0x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q8_0x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q8_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q4_Kx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_Kx16, nb, unit, acts, T, out);
}

#define FR_NEON_EXPORT(NAME)                                                                    \
    void fr_gemm_##NAME##_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out) { \
        FR_GEMM_BY_T(NAME, nb, unit, acts, T, out);                                             \
    }
FR_NEON_EXPORT(iq4_nlx16)
FR_NEON_EXPORT(q5_0x16)
FR_NEON_EXPORT(q4_1x16)
FR_NEON_EXPORT(q5_1x16)
FR_NEON_EXPORT(q5_Kx16)
FR_NEON_EXPORT(q2_Kx16)
FR_NEON_EXPORT(q3_Kx16)
FR_NEON_EXPORT(q6_Kx16)
#undef FR_NEON_EXPORT

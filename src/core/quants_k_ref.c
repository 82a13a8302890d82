/* quants_k_ref.c: scalar reference kernels for the K-quants (Q2_K..Q6_K) and Q8_K.
 *
 * Block layouts and dequantization are ggml's (GGUF on disk). A super-block holds
 * QK_K = 256 values; the sub-block scales (and mins) are small integers multiplied by
 * the block's fp16 d (and dmin):
 *   Q2_K: 16 sub-blocks of 16, 4-bit scale + 4-bit min per sub-block, 2-bit quants:
 *         x = d*sc*q - dmin*m,         q in [0, 3]
 *   Q3_K: 16 sub-blocks of 16, 6-bit scales (stored +32), 2 low bits in qs + 1 high bit
 *         in hmask: x = d*(sc-32)*(q-4), q in [0, 7] (q-4 = low - (hbit ? 0 : 4))
 *   Q4_K: 8 sub-blocks of 32, 6-bit scale + 6-bit min (12 packed bytes), 4-bit quants:
 *         x = d*sc*q - dmin*m,         q in [0, 15]
 *   Q5_K: like Q4_K with a fifth bit per value in qh: q in [0, 31]
 *   Q6_K: 16 sub-blocks of 16, int8 scales, 4 low bits in ql + 2 high bits in qh:
 *         x = d*sc*(q-32),             q in [0, 63]
 *   Q8_K: float d, 256 int8 quants, bsums[j] = sum of qs[16j..16j+15].
 *
 * Within a 128-value half of a block, the 2-bit fields of byte l of a 32-byte group
 * hold values l, l+32, l+64, l+96 (bits 0-1, 2-3, 4-5, 6-7). The high bit of value
 * 32*g + l (g = 0..7) of Q3_K/Q5_K is bit g of hmask/qh[l].
 *
 * Dot products (x in a K type, y in Q8_K) accumulate each super-block exactly in
 * integers (per sub-block sum of q*q8 times the sub-block scale; the min terms use
 * y's bsums), then add d_x*d_y*isum (and subtract dmin_x*d_y*msum) into one float in
 * block order. The result is therefore a fixed function of the inputs and n. */
#include <math.h>
#include <string.h>

#include "quants.h"

/* Round to nearest, ties to even, for |f| <= 2^22 (ggml's nearest_int). Defined for any
 * float: the result is garbage but not undefined for out-of-range inputs. */
static inline int nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline void pack_scale_min_k4(int j, uint8_t *q, uint8_t sc, uint8_t m) {
    if (j < 4) {
        q[j] = (uint8_t)((q[j] & 0xC0) | sc);
        q[j + 4] = (uint8_t)((q[j + 4] & 0xC0) | m);
    } else {
        q[j + 4] = (uint8_t)((sc & 0xF) | ((m & 0xF) << 4));
        q[j - 4] = (uint8_t)((q[j - 4] & 0x3F) | ((sc >> 4) << 6));
        q[j] = (uint8_t)((q[j] & 0x3F) | ((m >> 4) << 6));
    }
}

/* Unpack the 2-bit field of value p (0..255) of a Q2_K/Q3_K qs array. */
static inline int q2_at(const uint8_t *qs, int p) {
    return (qs[32 * (p / 128) + p % 32] >> (2 * ((p % 128) / 32))) & 3;
}

/* Q5_K value p as unsigned 5 bits (0..31); Q4_K is the low 4 bits (no qh). */
static inline int q4_at(const uint8_t *qs, int p) {
    return (qs[32 * (p / 64) + p % 32] >> (4 * ((p % 64) / 32))) & 0xF;
}

/* ================================ to_float ================================ */

void fr_to_float_q2_K_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q2_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        const float dmin = fr_f16_to_f32(x[i].dmin);
        float *y = dst + i * QK_K;
        for (int p = 0; p < QK_K; p++) {
            const uint8_t sc = x[i].scales[p / 16];
            const float dl = d * (float)(sc & 0xF);
            const float ml = dmin * (float)(sc >> 4);
            const float t = dl * (float)q2_at(x[i].qs, p);
            y[p] = t - ml;
        }
    }
}

void fr_to_float_q3_K_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q3_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        int8_t sc[16];
        fr_q3_K_scales(x[i].scales, sc);
        float *y = dst + i * QK_K;
        for (int p = 0; p < QK_K; p++) {
            const float dl = d * (float)sc[p / 16];
            const int hbit = (x[i].hmask[p % 32] >> (p / 32)) & 1;
            const int q = q2_at(x[i].qs, p) - (hbit ? 0 : 4);
            y[p] = dl * (float)q;
        }
    }
}

void fr_to_float_q4_K_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        const float dmin = fr_f16_to_f32(x[i].dmin);
        float *y = dst + i * QK_K;
        for (int j = 0; j < QK_K / 32; j++) {
            uint8_t sc, m;
            fr_q4_K_scale_min(j, x[i].scales, &sc, &m);
            const float dl = d * (float)sc;
            const float ml = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                const int p = 32 * j + l;
                const float t = dl * (float)q4_at(x[i].qs, p);
                y[p] = t - ml;
            }
        }
    }
}

void fr_to_float_q5_K_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        const float dmin = fr_f16_to_f32(x[i].dmin);
        float *y = dst + i * QK_K;
        for (int j = 0; j < QK_K / 32; j++) {
            uint8_t sc, m;
            fr_q4_K_scale_min(j, x[i].scales, &sc, &m);
            const float dl = d * (float)sc;
            const float ml = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                const int p = 32 * j + l;
                const int q = q4_at(x[i].qs, p) | (((x[i].qh[l] >> j) & 1) << 4);
                const float t = dl * (float)q;
                y[p] = t - ml;
            }
        }
    }
}

void fr_to_float_q6_K_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q6_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = fr_f16_to_f32(x[i].d);
        float *y = dst + i * QK_K;
        for (int p = 0; p < QK_K; p++) {
            const float dl = d * (float)x[i].scales[p / 16];
            y[p] = dl * (float)(fr_q6_K_at(&x[i], p) - 32);
        }
    }
}

void fr_to_float_q8_K_ref(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        for (int p = 0; p < QK_K; p++)
            dst[i * QK_K + p] = x[i].d * (float)x[i].qs[p];
    }
}

/* ================================ vec_dot ================================= */

/* Sum of bsums over the 32-value sub-block j (for the 8-sub-block types). */
static inline int bsum32(const block_q8_K *y, int j) { return y->bsums[2 * j] + y->bsums[2 * j + 1]; }

void fr_vec_dot_q2_K_ref(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            int32_t sj = 0;
            for (int l = 0; l < 16; l++)
                sj += q2_at(x[i].qs, 16 * j + l) * y[i].qs[16 * j + l];
            isum += (x[i].scales[j] & 0xF) * sj;
            msum += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        const float d = y[i].d * fr_f16_to_f32(x[i].d);
        const float dmin = y[i].d * fr_f16_to_f32(x[i].dmin);
        const float a = d * (float)isum;
        const float b = dmin * (float)msum;
        sumf += a;
        sumf -= b;
    }
    *s = sumf;
}

void fr_vec_dot_q3_K_ref(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        fr_q3_K_scales(x[i].scales, sc);
        int32_t isum = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            int32_t sj = 0;
            for (int l = 0; l < 16; l++) {
                const int p = 16 * j + l;
                const int hbit = (x[i].hmask[p % 32] >> (p / 32)) & 1;
                sj += (q2_at(x[i].qs, p) - (hbit ? 0 : 4)) * y[i].qs[p];
            }
            isum += sc[j] * sj;
        }
        const float d = y[i].d * fr_f16_to_f32(x[i].d);
        const float a = d * (float)isum;
        sumf += a;
    }
    *s = sumf;
}

void fr_vec_dot_q4_K_ref(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < QK_K / 32; j++) {
            uint8_t sc, m;
            fr_q4_K_scale_min(j, x[i].scales, &sc, &m);
            int32_t sj = 0;
            for (int l = 0; l < 32; l++)
                sj += q4_at(x[i].qs, 32 * j + l) * y[i].qs[32 * j + l];
            isum += sc * sj;
            msum += m * bsum32(&y[i], j);
        }
        const float d = y[i].d * fr_f16_to_f32(x[i].d);
        const float dmin = y[i].d * fr_f16_to_f32(x[i].dmin);
        const float a = d * (float)isum;
        const float b = dmin * (float)msum;
        sumf += a;
        sumf -= b;
    }
    *s = sumf;
}

void fr_vec_dot_q5_K_ref(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < QK_K / 32; j++) {
            uint8_t sc, m;
            fr_q4_K_scale_min(j, x[i].scales, &sc, &m);
            int32_t sj = 0;
            for (int l = 0; l < 32; l++) {
                const int q = q4_at(x[i].qs, 32 * j + l) | (((x[i].qh[l] >> j) & 1) << 4);
                sj += q * y[i].qs[32 * j + l];
            }
            isum += sc * sj;
            msum += m * bsum32(&y[i], j);
        }
        const float d = y[i].d * fr_f16_to_f32(x[i].d);
        const float dmin = y[i].d * fr_f16_to_f32(x[i].dmin);
        const float a = d * (float)isum;
        const float b = dmin * (float)msum;
        sumf += a;
        sumf -= b;
    }
    *s = sumf;
}

void fr_vec_dot_q6_K_ref(int64_t n, float *restrict s, const void *restrict vx, const void *restrict vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t isum = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            int32_t sj = 0;
            for (int l = 0; l < 16; l++) {
                const int p = 16 * j + l;
                sj += (fr_q6_K_at(&x[i], p) - 32) * y[i].qs[p];
            }
            isum += x[i].scales[j] * sj;
        }
        const float d = y[i].d * fr_f16_to_f32(x[i].d);
        const float a = d * (float)isum;
        sumf += a;
    }
    *s = sumf;
}

/* ================================ from_float ============================== */

/* Q8_K exactly as ggml's quantize_row_q8_K_ref: the value of largest magnitude (first
 * one on ties) maps to -127, iscale = -127/max, q = nearest(iscale*x) clamped above at
 * 127 and stored as its low byte (ggml's int8_t conversion; for finite input
 * q >= -127 anyway, it only matters when iscale overflows to inf, |max| < ~3.7e-37,
 * where d = 1/iscale = 0 and the quants are meaningless), d = 1/iscale. An all-zero
 * block gets d = 0, q = 0 and bsums = 0 (ggml leaves bsums unwritten there). */
void fr_from_float_q8_K_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *x = src + i * QK_K;
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = nearest_int(iscale * x[j]);
            const int lo8 = (v < 127 ? v : 127) & 0xFF; /* two's complement low byte */
            y[i].qs[j] = (int8_t)(lo8 >= 128 ? lo8 - 256 : lo8);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++)
                sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

/* The K quantizers below are simple round-to-nearest: each sub-block's scale (and min)
 * comes from its min/max, the sub-block scales are quantized against the largest one,
 * and every value is then rounded with the scale it will actually be dequantized with.
 * They are not ggml's error-minimizing search, only used for test/benchmark files. */

/* Asymmetric sub-block: x ~ scale*q - min, q in [0, nmax], min >= 0. */
static void minmax_scale(const float *x, int len, int nmax, float *scale, float *min) {
    float lo = 0.0f, hi = 0.0f; /* include 0 so the min is never negative */
    for (int l = 0; l < len; l++) {
        if (x[l] < lo) lo = x[l];
        if (x[l] > hi) hi = x[l];
    }
    *scale = (hi - lo) / (float)nmax;
    *min = -lo;
}

/* Signed value of largest magnitude (first on ties). */
static float signed_absmax(const float *x, int len) {
    float amax = 0.0f, max = 0.0f;
    for (int l = 0; l < len; l++) {
        if (fabsf(x[l]) > amax) {
            amax = fabsf(x[l]);
            max = x[l];
        }
    }
    return max;
}

/* Quantize `len` values with scale d_eff and offset m_eff into [0, nmax]. */
static void round_asym(const float *x, int len, float d_eff, float m_eff, int nmax, uint8_t *L) {
    for (int l = 0; l < len; l++)
        L[l] = d_eff > 0.0f ? (uint8_t)clampi(nearest_int((x[l] + m_eff) / d_eff), 0, nmax) : 0;
}

/* Pack 256 2-bit values the Q2_K/Q3_K way. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < 2; h++) {
        for (int l = 0; l < 32; l++) {
            const uint8_t *p = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)((p[0] & 3) | ((p[32] & 3) << 2) | ((p[64] & 3) << 4) | ((p[96] & 3) << 6));
        }
    }
}

void fr_from_float_q2_K_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q2_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *x = src + i * QK_K;
        float scales[16], mins[16], max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 16; j++) {
            minmax_scale(x + 16 * j, 16, 3, &scales[j], &mins[j]);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        y[i].d = fr_f32_to_f16(max_scale / 15.f);
        y[i].dmin = fr_f32_to_f16(max_min / 15.f);
        const float d = fr_f16_to_f32(y[i].d), dmin = fr_f16_to_f32(y[i].dmin);
        uint8_t L[QK_K];
        for (int j = 0; j < 16; j++) {
            const int ls = d > 0.0f ? clampi(nearest_int(scales[j] / d), 0, 15) : 0;
            const int lm = dmin > 0.0f ? clampi(nearest_int(mins[j] / dmin), 0, 15) : 0;
            y[i].scales[j] = (uint8_t)(ls | (lm << 4));
            round_asym(x + 16 * j, 16, d * (float)ls, dmin * (float)lm, 3, L + 16 * j);
        }
        pack_2bit(L, y[i].qs);
    }
}

void fr_from_float_q3_K_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q3_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *x = src + i * QK_K;
        /* Sub-block j: the value of largest magnitude maps to -4 (the wider side). */
        float scales[16], max_scale = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = signed_absmax(x + 16 * j, 16) / -4.f;
            if (fabsf(scales[j]) > fabsf(max_scale)) max_scale = scales[j];
        }
        memset(&y[i], 0, sizeof y[i]);
        uint8_t L[QK_K];
        memset(L, 4, sizeof L); /* value 0 */
        if (max_scale != 0.0f) {
            const float iscale = -32.f / max_scale;
            y[i].d = fr_f32_to_f16(1 / iscale);
            const float d = fr_f16_to_f32(y[i].d);
            for (int j = 0; j < 16; j++) {
                const int l = clampi(nearest_int(iscale * scales[j]), -32, 31) + 32;
                y[i].scales[j % 8] |= (uint8_t)((l & 0xF) << (4 * (j / 8)));
                y[i].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
                const float dl = d * (float)(l - 32);
                if (dl == 0.0f) continue;
                for (int k = 0; k < 16; k++)
                    L[16 * j + k] = (uint8_t)(clampi(nearest_int(x[16 * j + k] / dl), -4, 3) + 4);
            }
        }
        for (int p = 0; p < QK_K; p++) {
            if (L[p] > 3) y[i].hmask[p % 32] |= (uint8_t)(1 << (p / 32));
        }
        pack_2bit(L, y[i].qs);
    }
}

/* Shared by Q4_K and Q5_K (nmax = 15 or 31): returns the 256 levels in L. */
static void quantize_k4_block(const float *x, int nmax, fr_f16 *dd, fr_f16 *dm, uint8_t *packed, uint8_t *L) {
    float scales[8], mins[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        minmax_scale(x + 32 * j, 32, nmax, &scales[j], &mins[j]);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    *dd = fr_f32_to_f16(max_scale / 63.f);
    *dm = fr_f32_to_f16(max_min / 63.f);
    const float d = fr_f16_to_f32(*dd), dmin = fr_f16_to_f32(*dm);
    memset(packed, 0, K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        const int ls = d > 0.0f ? clampi(nearest_int(scales[j] / d), 0, 63) : 0;
        const int lm = dmin > 0.0f ? clampi(nearest_int(mins[j] / dmin), 0, 63) : 0;
        pack_scale_min_k4(j, packed, (uint8_t)ls, (uint8_t)lm);
        round_asym(x + 32 * j, 32, d * (float)ls, dmin * (float)lm, nmax, L + 32 * j);
    }
}

void fr_from_float_q4_K_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t L[QK_K];
        quantize_k4_block(src + i * QK_K, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int h = 0; h < 4; h++) {
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * h + l] = (uint8_t)(L[64 * h + l] | (L[64 * h + 32 + l] << 4));
        }
    }
}

void fr_from_float_q5_K_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t L[QK_K];
        quantize_k4_block(src + i * QK_K, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int p = 0; p < QK_K; p++) {
            if (L[p] > 15) y[i].qh[p % 32] |= (uint8_t)(1 << (p / 32));
        }
        for (int h = 0; h < 4; h++) {
            for (int l = 0; l < 32; l++) {
                y[i].qs[32 * h + l] = (uint8_t)((L[64 * h + l] & 0xF) | ((L[64 * h + 32 + l] & 0xF) << 4));
            }
        }
    }
}

void fr_from_float_q6_K_ref(const float *restrict src, void *restrict dst, int64_t n) {
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *x = src + i * QK_K;
        /* Sub-block j: the value of largest magnitude maps to -32 (the wider side). */
        float scales[16], max_scale = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = signed_absmax(x + 16 * j, 16) / -32.f;
            if (fabsf(scales[j]) > fabsf(max_scale)) max_scale = scales[j];
        }
        memset(&y[i], 0, sizeof y[i]);
        uint8_t L[QK_K];
        memset(L, 32, sizeof L); /* value 0 */
        if (max_scale != 0.0f) {
            const float iscale = -128.f / max_scale;
            y[i].d = fr_f32_to_f16(1 / iscale);
            const float d = fr_f16_to_f32(y[i].d);
            for (int j = 0; j < 16; j++) {
                y[i].scales[j] = (int8_t)clampi(nearest_int(iscale * scales[j]), -128, 127);
                const float dl = d * (float)y[i].scales[j];
                if (dl == 0.0f) continue;
                for (int k = 0; k < 16; k++)
                    L[16 * j + k] = (uint8_t)(clampi(nearest_int(x[16 * j + k] / dl), -32, 31) + 32);
            }
        }
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l++) {
                const uint8_t *p = L + 128 * h + l;
                y[i].ql[64 * h + l] = (uint8_t)((p[0] & 0xF) | ((p[64] & 0xF) << 4));
                y[i].ql[64 * h + 32 + l] = (uint8_t)((p[32] & 0xF) | ((p[96] & 0xF) << 4));
                y[i].qh[32 * h + l] =
                    (uint8_t)((p[0] >> 4) | ((p[32] >> 4) << 2) | ((p[64] >> 4) << 4) | ((p[96] >> 4) << 6));
            }
        }
    }
}

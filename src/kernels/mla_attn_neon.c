/* mla_attn_neon.c: the MLA decode kernels of mla_attn_avx2.c for AArch64 (F16 and F32 cache
 * rows), with the same arithmetic and therefore the same bits. An AVX2 8-lane register is a
 * pair of 4-lane registers here (f32x8): lane k of the pair sees the same fused multiply-adds
 * in the same order as lane k of the AVX2 register, and hsum8 adds the lanes in
 * fr_hsum8_avx2's order, (v0 + v4) + (v2 + v6) + ((v1 + v5) + (v3 + v7)) as it pairs them.
 *
 * scores: per (head, row), 8-lane FMA accumulation over w / 8 steps, hsum8, the w % 8 tail one
 *   by one (mul, then add, as the AVX2 file's C), then * scale (fr_mla_store_scores);
 * accumulation: every output element is one chain of FMAs over positions 0 .. n_pos - 1.
 * The tiling, prefetches and touches are mla_rows.h's, shared with x86. Called only where
 * fr_cpu_has(FR_ISA_NEON_DOT) (the AArch64 tier of this build). */
#include <arm_neon.h>
#include <math.h>

#include "kernels.h"
#include "mla_rows.h"
#include "simd_neon.h"
#include "vmath_neon.h"
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* tails: a product, then a sum, as gcc's -std=c17 compiles them */
#endif

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL FR_PRAGMA_UNROLL(16)

typedef struct {
    float32x4_t lo, hi; /* lanes 0-3, 4-7 */
} f32x8;

FR_INLINE f32x8 load8(int type, const void *row, int64_t i) {
    f32x8 v;
    if (type == FR_TYPE_F16) {
        v.lo = fr_f16x4_neon((const uint16_t *)row + i);
        v.hi = fr_f16x4_neon((const uint16_t *)row + i + 4);
    } else {
        v.lo = vld1q_f32((const float *)row + i);
        v.hi = vld1q_f32((const float *)row + i + 4);
    }
    return v;
}

FR_INLINE f32x8 fma8(f32x8 acc, f32x8 a, f32x8 b) {
    acc.lo = vfmaq_f32(acc.lo, a.lo, b.lo);
    acc.hi = vfmaq_f32(acc.hi, a.hi, b.hi);
    return acc;
}

FR_INLINE f32x8 zero8(void) {
    f32x8 v = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    return v;
}

/* fr_hsum8_avx2: s = lo + hi; (s0 + s2) + (s1 + s3) */
FR_INLINE float hsum8(f32x8 v) {
    float32x4_t s = vaddq_f32(v.lo, v.hi);
    float a = vgetq_lane_f32(s, 0) + vgetq_lane_f32(s, 2);
    float b = vgetq_lane_f32(s, 1) + vgetq_lane_f32(s, 3);
    return a + b;
}

FR_INLINE float tail_val(int type, const void *row, int64_t i) {
    return type == FR_TYPE_F16 ? fr_f16_to_f32(((const fr_f16 *)row)[i]) : ((const float *)row)[i];
}

/* s[k * NP + j] = dot(q_k, x_j) for k < NH heads (q_k = q + k * w) and j < NP rows */
FR_INLINE void dot_block(int type, int NH, int NP, const void *const *x, const float *q, int64_t w, float *s) {
    f32x8 acc[8];
    FR_UNROLL for (int k = 0; k < NH * NP; k++) acc[k] = zero8();
    int64_t w8 = w & ~(int64_t)7;
    for (int64_t i = 0; i < w8; i += 8) {
        f32x8 xv[2];
        FR_UNROLL for (int j = 0; j < NP; j++) xv[j] = load8(type, x[j], i);
        FR_UNROLL for (int k = 0; k < NH; k++) {
            f32x8 v = load8(FR_TYPE_F32, q + k * w, i);
            FR_UNROLL for (int j = 0; j < NP; j++) acc[k * NP + j] = fma8(acc[k * NP + j], v, xv[j]);
        }
    }
    FR_UNROLL for (int k = 0; k < NH * NP; k++) s[k] = hsum8(acc[k]);
    for (int64_t i = w8; i < w; i++)
        FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int j = 0; j < NP; j++)
            s[k * NP + j] += q[k * w + i] * tail_val(type, x[j], i);
}

/* heads h .. h + NH - 1 over rows [p0, p1): two rows at a time, then the odd one */
FR_INLINE void scores_heads(int type, int NH, const void *rows, size_t row_bytes, int64_t p0, int64_t p1,
                            const float *q, int64_t h, int64_t w, float scale, float *scores, int64_t stride,
                            fr_mla_prefetch *pf) {
    const void *x[2];
    float s[8];
    int64_t p = p0;
    for (; p + 2 <= p1; p += 2) {
        x[0] = (const char *)rows + (size_t)p * row_bytes;
        x[1] = (const char *)x[0] + row_bytes;
        fr_mla_prefetch_step(pf);
        dot_block(type, NH, 2, x, q + h * w, w, s);
        fr_mla_store_scores(scores, stride, h, p, NH, 2, s, scale);
    }
    if (p < p1) {
        x[0] = (const char *)rows + (size_t)p * row_bytes;
        dot_block(type, NH, 1, x, q + h * w, w, s);
        fr_mla_store_scores(scores, stride, h, p, NH, 1, s, scale);
    }
}

/* blocks of FR_MLA_SCORE_ROWS rows, the next one prefetched meanwhile; in a block the heads
 * go in groups of four over all its rows (as the AVX2 kernel) */
FR_INLINE void scores_typed(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                            int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    for (int64_t b0 = p0, b1; b0 < p1; b0 = b1) {
        fr_mla_prefetch pf = fr_mla_score_block(type, rows, row_bytes, w, p0, b0, p1, n_head / 4 + n_head % 4, 2, &b1);
        int64_t h = 0;
        for (; h + 4 <= n_head; h += 4)
            scores_heads(type, 4, rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, &pf);
        for (; h < n_head; h++)
            scores_heads(type, 1, rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, &pf);
    }
}

void fr_mla_scores_neon(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    FR_MLA_TYPED(scores_typed, type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
}

/* ---- scores in the order of the row dot product (fr_attn_scores_dot) ----
 *
 * The reference F16/F32 dot product (fr_vec_dot_f16/f32, and the NEON ones, which give its
 * bits) keeps 32 partial sums, element 32 m + l going to sum l with one fused multiply-add,
 * then reduce32 and the w % 32 tail one by one. Sums 4a .. 4a + 3 are one register here; each
 * register index a is a pass of its own over NQ x NP (query, row) pairs, kept in memory until
 * reduce32's order combines the eight. Each row is read once per pass for NQ queries. */
FR_INLINE void dot_rows_pass(int type, int NQ, int NP, const void *const *x, const float *q, int64_t w, int64_t w32,
                             int a, float32x4_t *part) {
    float32x4_t acc[16];
    FR_UNROLL for (int k = 0; k < NQ * NP; k++) acc[k] = vdupq_n_f32(0.0f);
    for (int64_t i = 4 * a; i < w32; i += 32) {
        float32x4_t xv[4];
        FR_UNROLL for (int j = 0; j < NP; j++)
            xv[j] = type == FR_TYPE_F16 ? fr_f16x4_neon((const uint16_t *)x[j] + i)
                                        : vld1q_f32((const float *)x[j] + i);
        FR_UNROLL for (int k = 0; k < NQ; k++) {
            const float32x4_t qv = vld1q_f32(q + k * w + i);
            FR_UNROLL for (int j = 0; j < NP; j++) acc[k * NP + j] = vfmaq_f32(acc[k * NP + j], xv[j], qv);
        }
    }
    FR_UNROLL for (int k = 0; k < NQ * NP; k++) part[k] = acc[k];
}

/* s[k * NP + j] = the reference dot product of row x_j and query k */
FR_INLINE void dot_rows_block(int type, int NQ, int NP, const void *const *x, const float *q, int64_t w, float *s) {
    float32x4_t part[8][16];
    const int64_t w32 = w & ~(int64_t)31;
    for (int a = 0; a < 8; a++) dot_rows_pass(type, NQ, NP, x, q, w, w32, a, part[a]);
    for (int k = 0; k < NQ; k++)
        for (int j = 0; j < NP; j++) {
            const int c = k * NP + j;
            const float32x4_t lo = vaddq_f32(vaddq_f32(part[0][c], part[2][c]), vaddq_f32(part[4][c], part[6][c]));
            const float32x4_t hi = vaddq_f32(vaddq_f32(part[1][c], part[3][c]), vaddq_f32(part[5][c], part[7][c]));
            const float32x4_t v = vaddq_f32(lo, hi);
            float sum = (vgetq_lane_f32(v, 0) + vgetq_lane_f32(v, 2)) + (vgetq_lane_f32(v, 1) + vgetq_lane_f32(v, 3));
            for (int64_t i = w32; i < w; i++) sum += tail_val(type, x[j], i) * q[k * w + i];
            s[c] = sum;
        }
}

FR_INLINE void scores_dot_typed(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                                int64_t n_q, int64_t w, float scale, float *scores, int64_t stride) {
    for (int64_t p = p0; p < p1;) {
        const int np = p1 - p >= 4 ? 4 : 1;
        const void *x[4];
        for (int j = 0; j < np; j++) x[j] = (const char *)rows + (size_t)(p + j) * row_bytes;
        float s[16];
        int64_t k = 0;
        for (; k + 4 <= n_q; k += 4) {
            if (np == 4) dot_rows_block(type, 4, 4, x, q + k * w, w, s);
            else dot_rows_block(type, 4, 1, x, q + k * w, w, s);
            for (int u = 0; u < 4; u++)
                for (int j = 0; j < np; j++) scores[(k + u) * stride + p + j] = s[u * np + j] * scale;
        }
        for (; k < n_q; k++) {
            if (np == 4) dot_rows_block(type, 1, 4, x, q + k * w, w, s);
            else dot_rows_block(type, 1, 1, x, q + k * w, w, s);
            for (int j = 0; j < np; j++) scores[k * stride + p + j] = s[j] * scale;
        }
        p += np;
    }
}

void fr_attn_scores_dot_neon(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                             int64_t n_q, int64_t w, float scale, float *scores, int64_t stride) {
    FR_MLA_TYPED(scores_dot_typed, type, rows, row_bytes, p0, p1, q, n_q, w, scale, scores, stride);
}

/* out[k * r + 8 v ..] += sum_{p < np} a[k * stride + p] * x_p[8 v ..] for k < NH heads and
 * v < NV vectors of 8 dims: NH x NV accumulators, starting from out */
FR_INLINE void accum_block(int type, int NH, int NV, const char *x, size_t x_bytes, int64_t np, const float *a,
                           int64_t stride, float *out, int64_t r) {
    f32x8 acc[8];
    FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int v = 0; v < NV; v++)
        acc[k * NV + v] = load8(FR_TYPE_F32, out + k * r, 8 * v);
    for (int64_t p = 0; p < np; p++) {
        const void *row = x + (size_t)p * x_bytes;
        f32x8 xv[2];
        FR_UNROLL for (int v = 0; v < NV; v++) xv[v] = load8(type, row, 8 * v);
        FR_UNROLL for (int k = 0; k < NH; k++) {
            const float32x4_t b = vdupq_n_f32(a[k * stride + p]);
            const f32x8 bb = {b, b};
            FR_UNROLL for (int v = 0; v < NV; v++) acc[k * NV + v] = fma8(acc[k * NV + v], bb, xv[v]);
        }
    }
    FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int v = 0; v < NV; v++) {
        vst1q_f32(out + k * r + 8 * v, acc[k * NV + v].lo);
        vst1q_f32(out + k * r + 8 * v + 4, acc[k * NV + v].hi);
    }
}

/* accum_block over nh heads and nd dims (a multiple of 8): 16 dims x 4 heads at a time */
FR_INLINE void accum_tile_typed(int type, const char *x, size_t x_bytes, int64_t np, int64_t nd, const float *a,
                                int64_t stride, int64_t nh, float *out, int64_t r) {
    size_t es = type == FR_TYPE_F16 ? 2 : 4;
    for (int64_t d = 0; d < nd; d += 16) {
        const char *xd = x + (size_t)d * es;
        int64_t h = 0;
        if (d + 16 <= nd) {
            for (; h + 4 <= nh; h += 4)
                accum_block(type, 4, 2, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
            for (; h < nh; h++)
                accum_block(type, 1, 2, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
        } else {
            for (; h + 4 <= nh; h += 4)
                accum_block(type, 4, 1, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
            for (; h < nh; h++)
                accum_block(type, 1, 1, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
        }
    }
}

/* fr_mla_accum_avx2's results (kernels.h) on 4-lane register pairs, by the tiles of mla_rows.h */
FR_MLA_ACCUM_ENTRY(fr_mla_accum_neon)

/* fr_axpy_avx2's bits: fused in blocks of 8, the last n % 8 a product and a sum */
void fr_axpy_neon(float *y, const float *x, float a, int64_t n) {
    const float32x4_t va = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), va, vld1q_f32(x + i)));
        vst1q_f32(y + i + 4, vfmaq_f32(vld1q_f32(y + i + 4), va, vld1q_f32(x + i + 4)));
    }
    for (; i < n; i++) y[i] += a * x[i];
}

/* fr_softmax_fast_avx2's steps: 8-lane sums (as two 4-lane halves) flushed to double every
 * 256 values in hsum8's order, the tail one by one, then * (float)(1 / sum) */
void fr_softmax_fast_neon(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx; /* the maximum is exact in any order */
    if (mx == -INFINITY) {
        for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    const float32x4_t vmx = vdupq_n_f32(mx);
    f32x8 sum = zero8();
    double s = 0;
    int64_t n8 = n & ~(int64_t)7;
    for (int64_t i = 0; i < n8; i += 8) {
        f32x8 e = {fr_exp_neg_neon(vsubq_f32(vld1q_f32(x + i), vmx)),
                   fr_exp_neg_neon(vsubq_f32(vld1q_f32(x + i + 4), vmx))};
        vst1q_f32(x + i, e.lo);
        vst1q_f32(x + i + 4, e.hi);
        sum.lo = vaddq_f32(sum.lo, e.lo);
        sum.hi = vaddq_f32(sum.hi, e.hi);
        if ((i & 255) == 248) {
            s += hsum8(sum);
            sum = zero8();
        }
    }
    s += hsum8(sum);
    for (int64_t i = n8; i < n; i++) {
        x[i] = vgetq_lane_f32(fr_exp_neg_neon(vdupq_n_f32(x[i] - mx)), 0);
        s += x[i];
    }
    const float inv = (float)(1.0 / s);
    const float32x4_t vinv = vdupq_n_f32(inv);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vinv));
    for (; i < n; i++) x[i] *= inv;
}

void fr_round_f16_neon(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++) x[i] = fr_f16_to_f32(fr_f32_to_f16(x[i]));
}

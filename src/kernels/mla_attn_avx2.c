/* mla_attn_avx2.c: AVX2/FMA/F16C kernels of mla_attn.c for F16 and F32 cache rows. */
#include <immintrin.h>

#include "simd_avx2.h"
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "mla_rows.h"
#include "vmath_avx2.h"
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* tails: a product, then a sum, as gcc's -std=c17 compiles them */
#endif

static inline __m256 load8(int type, const void *row, int64_t i) {
    if (type == FR_TYPE_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const fr_f16 *)row + i)));
    return _mm256_loadu_ps((const float *)row + i);
}


static inline float tail_val(int type, const void *row, int64_t i) {
    return type == FR_TYPE_F16 ? fr_f16_to_f32(((const fr_f16 *)row)[i]) : ((const float *)row)[i];
}

/* the rows' element type as a compile-time constant in each caller (no branch per load) */
#define FR_INLINE static inline __attribute__((always_inline))
/* full unrolling of the register-block loops (their trip counts are constants) */
#define FR_UNROLL FR_PRAGMA_UNROLL(12)

/* s[k] = dot(q_k, x_j) for k < NH heads (q_k = q + k * w) and j < NP rows, k-major
 * (s[k * NP + j]): NH x NP accumulators, each q load serving NP rows and each row load NH
 * heads; a tail of w % 8 values in scalar. */
FR_INLINE void dot_block(int type, int NH, int NP, const void *const *x, const float *q, int64_t w, float *s) {
    __m256 acc[12];
    FR_UNROLL for (int k = 0; k < NH * NP; k++) acc[k] = _mm256_setzero_ps();
    int64_t w8 = w & ~(int64_t)7;
    for (int64_t i = 0; i < w8; i += 8) {
        __m256 xv[3];
        FR_UNROLL for (int j = 0; j < NP; j++) xv[j] = load8(type, x[j], i);
        FR_UNROLL for (int k = 0; k < NH; k++) {
            __m256 v = _mm256_loadu_ps(q + k * w + i);
            FR_UNROLL for (int j = 0; j < NP; j++) acc[k * NP + j] = _mm256_fmadd_ps(v, xv[j], acc[k * NP + j]);
        }
    }
    int k0 = 0;
    if (NH * NP >= 8) {
        fr_hsum8x8_avx2(acc, s);
        k0 = 8;
    }
    FR_UNROLL for (int k = k0; k < NH * NP; k++) s[k] = fr_hsum8_avx2(acc[k]);
    for (int64_t i = w8; i < w; i++)
        FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int j = 0; j < NP; j++)
            s[k * NP + j] += q[k * w + i] * tail_val(type, x[j], i);
}

/* ---- scores in the order of the row dot product (fr_attn_scores_dot) ----
 *
 * fr_vec_dot_f16/f32 keep four 8-lane accumulators: a_j sums elements 32 m + 8 j .. + 7 over
 * m, then (a0 + a1) + (a2 + a3), hsum8, then the w % 32 tail one by one. Four accumulators per
 * (query, row) pair would leave room for three pairs only, so each a_j is computed in a pass of
 * its own, NQ x NP pairs at a time, and kept in memory until the four are combined. Both fuse
 * each element's product and add (an FMA; F16 products of F16-rounded q are exact anyway). */
FR_INLINE void dot_pass(int type, int NQ, int NP, const void *const *x, const float *q, int64_t w, int64_t w32,
                        int64_t j, __m256 *part) {
    __m256 acc[12];
    FR_UNROLL for (int k = 0; k < NQ * NP; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t i = 8 * j; i < w32; i += 32) {
        __m256 xv[3];
        FR_UNROLL for (int m = 0; m < NP; m++) xv[m] = load8(type, x[m], i);
        FR_UNROLL for (int k = 0; k < NQ; k++) {
            __m256 v = _mm256_loadu_ps(q + k * w + i);
            FR_UNROLL for (int m = 0; m < NP; m++) acc[k * NP + m] = _mm256_fmadd_ps(v, xv[m], acc[k * NP + m]);
        }
    }
    FR_UNROLL for (int k = 0; k < NQ * NP; k++) part[k] = acc[k];
}

FR_INLINE void dot_rows_block(int type, int NQ, int NP, const void *const *x, const float *q, int64_t w, float *s) {
    __m256 part[4][12];
    int64_t w32 = w & ~(int64_t)31;
    for (int64_t j = 0; j < 4; j++)
        dot_pass(type, NQ, NP, x, q, w, w32, j, part[j]);
    FR_UNROLL for (int k = 0; k < NQ; k++) FR_UNROLL for (int m = 0; m < NP; m++) {
        int e = k * NP + m;
        float sum = fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(part[0][e], part[1][e]), _mm256_add_ps(part[2][e], part[3][e])));
        for (int64_t i = w32; i < w; i++) {
            float prod = tail_val(type, x[m], i) * q[k * w + i]; /* two statements: no contraction to an FMA */
            sum += prod;
        }
        s[e] = sum;
    }
}

enum { ORDER_LANES8 = 0, ORDER_ROW_DOT = 1 };

/* one register block's dot products, in the decode kernels' order (dot_block) or the row dot
 * product's (dot_rows_block) */
FR_INLINE void block_dots(int type, int ORDER, int NH, int NP, const void *const *x, const float *q, int64_t w,
                          float *s) {
    if (ORDER == ORDER_ROW_DOT)
        dot_rows_block(type, NH, NP, x, q, w, s);
    else
        dot_block(type, NH, NP, x, q, w, s);
}

/* scores of rows [p0, p1) for heads h .. h + NH - 1: rows three at a time, then one by one;
 * a prefetch step per three rows */
FR_INLINE void scores_heads(int type, int ORDER, int NH, const void *rows, size_t row_bytes, int64_t p0, int64_t p1,
                            const float *q, int64_t h, int64_t w, float scale, float *scores, int64_t stride,
                            fr_mla_prefetch *pf) {
    const void *x[3];
    float s[12];
    int64_t p = p0;
    for (; p + 3 <= p1; p += 3) {
        for (int j = 0; j < 3; j++)
            x[j] = (const char *)rows + (size_t)(p + j) * row_bytes;
        fr_mla_prefetch_step(pf);
        block_dots(type, ORDER, NH, 3, x, q + h * w, w, s);
        fr_mla_store_scores(scores, stride, h, p, NH, 3, s, scale);
    }
    for (; p < p1; p++) {
        x[0] = (const char *)rows + (size_t)p * row_bytes;
        block_dots(type, ORDER, NH, 1, x, q + h * w, w, s);
        fr_mla_store_scores(scores, stride, h, p, NH, 1, s, scale);
    }
}

/* Blocks of FR_MLA_SCORE_ROWS rows, the next one prefetched meanwhile (mla_rows.h). In a
 * block the heads go in groups of four over all its rows, so that a group's q (4 x w floats,
 * 9 KiB for DeepSeek) stays in L1 while the rows stream from L2 (all heads' q, 36 KiB, would
 * not stay in a 32 KiB L1; head groups outside the row loop measured 2-3% faster in mlabench
 * even with a 48 KiB L1). */
FR_INLINE void scores_typed(int type, int ORDER, const void *rows, size_t row_bytes, int64_t p0, int64_t p1,
                            const float *q, int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    for (int64_t b0 = p0, b1; b0 < p1; b0 = b1) {
        fr_mla_prefetch pf = fr_mla_score_block(type, rows, row_bytes, w, p0, b0, p1, n_head / 4 + n_head % 4, 3, &b1);
        int64_t h = 0;
        for (; h + 4 <= n_head; h += 4)
            scores_heads(type, ORDER, 4, rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, &pf);
        for (; h < n_head; h++)
            scores_heads(type, ORDER, 1, rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, &pf);
    }
}

/* ---- short rows: 8 rows converted once, then scored for every head ----
 *
 * For fr_mla_scores_conv's widths (mla_rows.h: attention heads of 64 or 128 values), the
 * rows go 8 at a time into a float buffer (F16 converted, F32 copied), so that the FMAs take their row
 * operand straight from L1 with no conversion, and each head then takes the 8 rows at once: 8
 * accumulators, one q load per 8 FMAs, and the 8 sums reduced together into one vector of 8
 * consecutive scores, scaled and stored whole. Each (head, row) is still its own 8-lane
 * accumulator over i = 0, 8, ..., reduced by hsum8's adds and then scaled: the same bits as
 * dot_block and fr_mla_store_scores (test_mla_kernels). Before, a 4 x 3 block's reductions
 * and scalar stores took as long as its FMAs: tinyllama's shape (w 64, 16 queries, F16 rows,
 * 2048 positions, one thread) 1.90 -> 1.50 ns per score. */
/* scores[k * stride + p + j] for k < n_head and rows j < nr <= 8 of the 8 at x + j *
 * FR_MLA_CONV_W (a constant stride: the rows are one base and constant offsets; rows past nr
 * are zeros, their sums dropped). acc[j] takes row 4 (j % 2) + j / 2, the order in which
 * fr_hsum8x8_raw_avx2 returns the rows' sums in row order. */
FR_INLINE void scores_conv8(const float *x, const int nr, int64_t p, const float *q, int64_t n_head, const int64_t w,
                            __m256 vs, float *scores, int64_t stride, fr_mla_prefetch *pf) {
    for (int64_t k = 0; k < n_head; k++) {
        const float *qk = q + k * w;
        fr_mla_prefetch_step(pf);
        __m256 acc[8];
        FR_UNROLL for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
        FR_PRAGMA_UNROLL_BY(16) for (int64_t i = 0; i < w; i += 8) {
            const __m256 v = _mm256_loadu_ps(qk + i);
            FR_UNROLL for (int j = 0; j < 8; j++)
                acc[j] = _mm256_fmadd_ps(v, _mm256_load_ps(x + (4 * (j % 2) + j / 2) * FR_MLA_CONV_W + i), acc[j]);
        }
        const __m256 sc = _mm256_mul_ps(fr_hsum8x8_raw_avx2(acc), vs);
        if (nr == 8) {
            _mm256_storeu_ps(scores + k * stride + p, sc);
        } else {
            float t[8];
            _mm256_storeu_ps(t, sc);
            memcpy(scores + k * stride + p, t, (size_t)nr * sizeof(float));
        }
    }
}

/* type's rows [p0, p1) (F16 or F32), 8 at a time converted into buf (the last ones padded
 * with zero rows), then scored for every head */
FR_INLINE void scores_conv_typed(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                                 int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    float buf[8 * FR_MLA_CONV_W] __attribute__((aligned(32)));
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t b0 = p0, b1; b0 < p1; b0 = b1) {
        fr_mla_prefetch pf = fr_mla_score_block(type, rows, row_bytes, w, p0, b0, p1, n_head, 8, &b1);
        for (int64_t p = b0; p < b1; p += 8) {
            const int nr = b1 - p < 8 ? (int)(b1 - p) : 8;
            const char *x0 = (const char *)rows + (size_t)p * row_bytes;
            for (int j = 0; j < nr; j++)
                for (int64_t i = 0; i < w; i += 8)
                    _mm256_store_ps(buf + j * FR_MLA_CONV_W + i, load8(type, x0 + (size_t)j * row_bytes, i));
            for (int j = nr; j < 8; j++)
                for (int64_t i = 0; i < w; i += 8) _mm256_store_ps(buf + j * FR_MLA_CONV_W + i, _mm256_setzero_ps());
            if (nr < 8) /* (the last rows of a call) */
                scores_conv8(buf, nr, p, q, n_head, w, vs, scores, stride, &pf);
            else if (w == 64) /* (the common head size: its FMAs unrolled whole) */
                scores_conv8(buf, 8, p, q, n_head, 64, vs, scores, stride, &pf);
            else
                scores_conv8(buf, 8, p, q, n_head, w, vs, scores, stride, &pf);
        }
    }
}

/* scores[h][p] = dot(q[h], row_p) * scale for p in [p0, p1): three rows x four heads of
 * accumulators per pass (each q load serves three rows, each row load four heads) */
/* scores_typed with the row type as a compile-time constant (ORDER is one at each call) */
FR_INLINE void scores_any(int type, int ORDER, const void *rows, size_t row_bytes, int64_t p0, int64_t p1,
                          const float *q, int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    FR_MLA_TYPED(scores_typed, type, ORDER, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
}

void fr_mla_scores_avx2(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    if (fr_mla_scores_conv(w)) {
        FR_MLA_TYPED(scores_conv_typed, type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
        return;
    }
    scores_any(type, ORDER_LANES8, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
}

/* fr_mla_scores_avx2's loops with the row dot product's order (queries in place of heads) */
void fr_attn_scores_dot_avx2(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                             int64_t n_q, int64_t w, float scale, float *scores, int64_t stride) {
    scores_any(type, ORDER_ROW_DOT, rows, row_bytes, p0, p1, q, n_q, w, scale, scores, stride);
}

enum { ACC_POS = FR_MLA_ACC_POS, ACC_DIMS = FR_MLA_ACC_DIMS, ACC_NH = 6 }; /* tile (mla_rows.h); heads per register block */

/* out[k * r + 8 v ..] += sum_{p < np} a[k * stride + p] * x_p[8 v ..] for k < NH heads and
 * v < NV vectors of 8 dims, x_p at x + p * x_bytes: NH x NV accumulators in registers. They
 * start from out, so a sum split into consecutive position blocks is the same chain of FMAs
 * as one pass over all of them. */
FR_INLINE void accum_block(int type, int NH, int NV, const char *x, size_t x_bytes, int64_t np, const float *a,
                           int64_t stride, float *out, int64_t r) {
    __m256 acc[12];
    FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int v = 0; v < NV; v++)
        acc[k * NV + v] = _mm256_loadu_ps(out + k * r + 8 * v);
    for (int64_t p = 0; p < np; p++) {
        const void *row = x + (size_t)p * x_bytes;
        __m256 xv[3];
        FR_UNROLL for (int v = 0; v < NV; v++) xv[v] = load8(type, row, 8 * v);
        FR_UNROLL for (int k = 0; k < NH; k++) {
            __m256 b = _mm256_broadcast_ss(a + k * stride + p);
            FR_UNROLL for (int v = 0; v < NV; v++) acc[k * NV + v] = _mm256_fmadd_ps(b, xv[v], acc[k * NV + v]);
        }
    }
    FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int v = 0; v < NV; v++)
        _mm256_storeu_ps(out + k * r + 8 * v, acc[k * NV + v]);
}

/* accum_block over nh heads and nd dims (a multiple of 8): 24 dims at a time with heads in
 * groups of 4 (4 x 3 accumulators: 7 loads and 3 conversions per 12 FMAs; about 6% faster
 * than 6 heads x 16 dims in mlabench), then the last 16 or 8 dims with heads in groups of
 * ACC_NH, then of 4, then one by one; 8 heads left go as 4 + 4, not 6 + 1 + 1 (tinyllama's
 * decode: 64 dims, 8 queries per kv head, F16 rows in cache, one thread: 1.56-1.61 -> 1.44-1.50
 * ns per (query, position); 8 heads x 8 dims or 4 x 16 throughout were no faster) */
FR_INLINE void accum_tile_typed(int type, const char *x, size_t x_bytes, int64_t np, int64_t nd, const float *a,
                                int64_t stride, int64_t nh, float *out, int64_t r) {
    size_t es = type == FR_TYPE_F16 ? 2 : 4;
    int64_t d = 0;
    for (; d + 24 <= nd; d += 24) {
        const char *xd = x + (size_t)d * es;
        int64_t h = 0;
        for (; h + 4 <= nh; h += 4)
            accum_block(type, 4, 3, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
        for (; h < nh; h++)
            accum_block(type, 1, 3, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
    }
    for (; d < nd; d += 16) {
        const char *xd = x + (size_t)d * es;
        int64_t h = 0;
        if (d + 16 <= nd) {
            for (; h + ACC_NH <= nh && nh - h != 8; h += ACC_NH)
                accum_block(type, ACC_NH, 2, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
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

/* out[h][d] = sum_p a[h][p] * row_p[d] (kernels.h), by the tiles of mla_rows.h */
FR_MLA_ACCUM_ENTRY(fr_mla_accum_avx2)

void fr_axpy_avx2(float *y, const float *x, float a, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

void fr_softmax_fast_avx2(float *x, int64_t n) {
    __m256 vm = _mm256_set1_ps(-INFINITY);
    int64_t n8 = n & ~(int64_t)7;
    for (int64_t i = 0; i < n8; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float mx = _mm_cvtss_f32(m4);
    for (int64_t i = n8; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) {
        for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    __m256 vmx = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
    double s = 0;
    for (int64_t i = 0; i < n8; i += 8) {
        __m256 e = fr_exp_neg_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        _mm256_storeu_ps(x + i, e);
        sum = _mm256_add_ps(sum, e);
        if ((i & 255) == 248) { /* flush the lanes to double every 256 values */
            s += fr_hsum8_avx2(sum);
            sum = _mm256_setzero_ps();
        }
    }
    s += fr_hsum8_avx2(sum);
    for (int64_t i = n8; i < n; i++) {
        __m256 e = fr_exp_neg_avx2(_mm256_set1_ps(x[i] - mx));
        x[i] = _mm256_cvtss_f32(e);
        s += x[i];
    }
    __m256 inv = _mm256_set1_ps((float)(1.0 / s));
    for (int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (int64_t i = n8; i < n; i++) x[i] *= (float)(1.0 / s);
}

void fr_round_f16_avx2(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) x[i] = fr_f16_to_f32(fr_f32_to_f16(x[i]));
}

/* mla_attn_avx512.c: the MLA decode kernels of mla_attn_avx2.c on 512-bit registers
 * (AVX-512F), for F16 and F32 cache rows. Built with -mavx512f; mla_attn.c runs them only
 * where fr_cpu_has(FR_ISA_AVX512). Bit for bit the AVX2 results:
 *
 * scores: the AVX2 kernel reduces each (head, position) in one 8-lane accumulator (lane k
 * takes the elements i = k mod 8), then hsum, then a scalar tail over w % 8 values, then
 * * scale. A 16-lane register over 16 consecutive elements would change those partial sums,
 * so here a zmm holds two positions instead: rows p and p + 1 for the same 8 elements in its
 * two 256-bit halves, times q[h][i .. i + 7] broadcast to both halves. Each half is then
 * exactly the AVX2 accumulator of its (head, position), reduced by the same hsum, tail and
 * scale.
 *
 * accumulation: every output element is its own chain of FMAs over positions 0, 1, ...,
 * n_pos - 1 (starting from 0), so 16 lanes over 16 consecutive dims give the same sums as
 * 8-lane registers: each element sees the same products in the same order. */
#include <immintrin.h>
#include <math.h>

#include "simd_avx2.h"
#include "kernels.h"
#include "mla_rows.h"
#include "vmath_avx2.h"
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* tails: a product, then a sum, as gcc's -std=c17 compiles them */
#endif

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL FR_PRAGMA_UNROLL(16)

FR_INLINE __m256 lo256(__m512 v) { return _mm512_castps512_ps256(v); }
FR_INLINE __m256 hi256(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

FR_INLINE __m256 load8(int type, const void *row, int64_t i) {
    if (type == FR_TYPE_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const fr_f16 *)row + i)));
    return _mm256_loadu_ps((const float *)row + i);
}

/* elements i .. i + 7 of row a in the low half, of row b in the high half */
FR_INLINE __m512 load8x2(int type, const void *a, const void *b, int64_t i) {
    if (type == FR_TYPE_F16) {
        __m128i lo = _mm_loadu_si128((const __m128i *)((const fr_f16 *)a + i));
        __m128i hi = _mm_loadu_si128((const __m128i *)((const fr_f16 *)b + i));
        return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
    }
    __m512d lo = _mm512_castpd256_pd512(_mm256_loadu_pd((const double *)((const float *)a + i)));
    return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_loadu_pd((const double *)((const float *)b + i)), 1));
}

/* q[i .. i + 7] in both halves */
FR_INLINE __m512 bcast8(const float *q) {
    return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd((const double *)q)));
}

FR_INLINE float tail_val(int type, const void *row, int64_t i) {
    return type == FR_TYPE_F16 ? fr_f16_to_f32(((const fr_f16 *)row)[i]) : ((const float *)row)[i];
}

/* the tail of mla_attn_avx2.c's dot_block for one (head, row): the same expression, so the
 * same rounding (and the same contraction, if the compiler contracts it) */
FR_INLINE float dot_tail(int type, float s, const float *q, const void *x, int64_t w8, int64_t w) {
    for (int64_t i = w8; i < w; i++)
        s += q[i] * tail_val(type, x, i);
    return s;
}

/* The 16 fr_hsum8_avx2 of the 256-bit halves of z[0..7] at once: out[2i] of z[i]'s low half,
 * out[2i + 1] of its high half. Each half h goes through hsum8's adds, pair for pair: t = h[0..3]
 * + h[4..7], then (t0 + t2, t1 + t3), then their sum (an add does not care which operand comes
 * first), with 14 shuffles in all where one hsum8 at a time takes 3 or 4 each. */
FR_INLINE __m512 hsum8x16_vec(const __m512 *z) {
    __m512 w[4], x[2];
    FR_UNROLL for (int i = 0; i < 4; i++) /* quarters: t(z2i.lo), t(z2i.hi), t(z2i+1.lo), t(z2i+1.hi) */
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(z[2 * i], z[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(z[2 * i], z[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    FR_UNROLL for (int i = 0; i < 2; i++) /* per quarter: (t0 + t2, t1 + t3) of w[2i]'s, then of w[2i+1]'s */
        x[i] = _mm512_add_ps(_mm512_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* lane 4q + c: the sum of w[c]'s quarter q, the half q & 1 of z[2c + (q >> 1)], which goes to
     * out[4c + q]: a 4 x 4 transpose */
    const __m512 r = _mm512_add_ps(_mm512_shuffle_ps(x[0], x[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(x[0], x[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(idx, r);
}

FR_INLINE void hsum8x16(const __m512 *z, float *out) { _mm512_storeu_ps(out, hsum8x16_vec(z)); }

/* s[k * 2 NP2 + j] = dot(q_k, x_j) for k < NH heads (q_k = q + k * w) and j < 2 NP2 rows:
 * NH x NP2 accumulators, the low half of acc[k][m] for row 2m, its high half for row 2m + 1 */
FR_INLINE void dot_acc2(int type, int NH, int NP2, const void *const *x, const float *q, int64_t w, int64_t w8,
                         __m512 *acc) {
    FR_UNROLL for (int k = 0; k < NH * NP2; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t i = 0; i < w8; i += 8) {
        __m512 xv[4];
        FR_UNROLL for (int m = 0; m < NP2; m++) xv[m] = load8x2(type, x[2 * m], x[2 * m + 1], i);
        FR_UNROLL for (int k = 0; k < NH; k++) {
            __m512 v = bcast8(q + k * w + i);
            FR_UNROLL for (int m = 0; m < NP2; m++) acc[k * NP2 + m] = _mm512_fmadd_ps(v, xv[m], acc[k * NP2 + m]);
        }
    }
}

/* dot_block2 for NP2 = 4 (8 consecutive rows) and w % 8 == 0 (no tail), straight into the
 * score matrix: hsum8x16 of accumulators 4k .. 4k + 7 holds heads k and k + 1 over the 8 rows,
 * in row order, so each head's 8 scores take one vector product by the scale and one store
 * (the same products as fr_mla_store_scores makes one at a time). */
FR_INLINE void dot_block8_store(int type, int NH, const void *const *x, const float *q, int64_t w, float scale,
                                float *scores, int64_t stride) {
    __m512 acc[24];
    dot_acc2(type, NH, 4, x, q, w, w, acc);
    const __m512 sc = _mm512_set1_ps(scale);
    FR_UNROLL for (int k = 0; k < NH; k += 2) {
        const __m512 v = _mm512_mul_ps(hsum8x16_vec(acc + 4 * k), sc);
        _mm256_storeu_ps(scores + k * stride, lo256(v));
        _mm256_storeu_ps(scores + (k + 1) * stride, hi256(v));
    }
}

FR_INLINE void dot_block2(int type, int NH, int NP2, const void *const *x, const float *q, int64_t w, float *s) {
    __m512 acc[24];
    int64_t w8 = w & ~(int64_t)7;
    dot_acc2(type, NH, NP2, x, q, w, w8, acc);
    const int NP = 2 * NP2;
    if ((NH * NP2) % 8 == 0) { /* the sums 16 at a time: hsum[2a + h] of acc[a]'s half h, a = k NP2 + m */
        float hs[48];
        FR_UNROLL for (int g = 0; g < NH * NP2; g += 8) hsum8x16(acc + g, hs + 2 * g);
        FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int m = 0; m < NP2; m++) {
            s[k * NP + 2 * m] = dot_tail(type, hs[2 * (k * NP2 + m)], q + k * w, x[2 * m], w8, w);
            s[k * NP + 2 * m + 1] = dot_tail(type, hs[2 * (k * NP2 + m) + 1], q + k * w, x[2 * m + 1], w8, w);
        }
        return;
    }
    FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int m = 0; m < NP2; m++) {
        s[k * NP + 2 * m] = dot_tail(type, fr_hsum8_avx2(lo256(acc[k * NP2 + m])), q + k * w, x[2 * m], w8, w);
        s[k * NP + 2 * m + 1] = dot_tail(type, fr_hsum8_avx2(hi256(acc[k * NP2 + m])), q + k * w, x[2 * m + 1], w8, w);
    }
}

/* one row, NH <= 8 heads: the AVX2 kernel's own 8-lane accumulators */
FR_INLINE void dot_block1(int type, int NH, const void *x, const float *q, int64_t w, float *s) {
    __m256 acc[8];
    FR_UNROLL for (int k = 0; k < NH; k++) acc[k] = _mm256_setzero_ps();
    int64_t w8 = w & ~(int64_t)7;
    for (int64_t i = 0; i < w8; i += 8) {
        __m256 xv = load8(type, x, i);
        FR_UNROLL for (int k = 0; k < NH; k++) acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(q + k * w + i), xv, acc[k]);
    }
    FR_UNROLL for (int k = 0; k < NH; k++) s[k] = dot_tail(type, fr_hsum8_avx2(acc[k]), q + k * w, x, w8, w);
}

/* scores register block: heads x row pairs (24 accumulators; 6 x 4 measured a little faster
 * than 8 x 2 and 4 x 4 in mlabench at 4K positions) */
enum { SC_NH = 6, SC_NP2 = 4 };
_Static_assert(SC_NP2 == 4, "dot_block8_store takes the row octets of SC_NP2 = 4");

/* scores of rows [b0, b1) for heads h .. h + NH - 1: row octets, then pairs, then the odd
 * row; a prefetch step per octet */
FR_INLINE void heads_rows(int type, int NH, const void *rows, size_t row_bytes, int64_t b0, int64_t b1, const float *q,
                          int64_t h, int64_t w, float scale, float *scores, int64_t stride, fr_mla_prefetch *pf) {
    const void *x[8];
    float s[SC_NH * 8];
    int64_t p = b0;
    for (; p + 2 * SC_NP2 <= b1; p += 2 * SC_NP2) {
        for (int j = 0; j < 2 * SC_NP2; j++) x[j] = (const char *)rows + (size_t)(p + j) * row_bytes;
        fr_mla_prefetch_step(pf);
        if (NH % 2 == 0 && w % 8 == 0) {
            dot_block8_store(type, NH, x, q + h * w, w, scale, scores + h * stride + p, stride);
            continue;
        }
        dot_block2(type, NH, SC_NP2, x, q + h * w, w, s);
        fr_mla_store_scores(scores, stride, h, p, NH, 2 * SC_NP2, s, scale);
    }
    for (; p + 2 <= b1; p += 2) {
        x[0] = (const char *)rows + (size_t)p * row_bytes;
        x[1] = (const char *)x[0] + row_bytes;
        dot_block2(type, NH, 1, x, q + h * w, w, s);
        fr_mla_store_scores(scores, stride, h, p, NH, 2, s, scale);
    }
    if (p < b1) {
        const void *x1 = (const char *)rows + (size_t)p * row_bytes;
        dot_block1(type, NH, x1, q + h * w, w, s);
        fr_mla_store_scores(scores, stride, h, p, NH, 1, s, scale);
    }
}

/* heads_rows with its type and head count as constants, each a function of its own: inlined
 * into one loop nest with the head loop, the compiler's register allocation of the FMA loop
 * got about 2x slower */
#define HEADS_FN(NAME, T, NH) \
    static void NAME(const void *rows, size_t row_bytes, int64_t b0, int64_t b1, const float *q, int64_t h, int64_t w, \
                     float scale, float *scores, int64_t stride, fr_mla_prefetch *pf) { \
        heads_rows(T, NH, rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, pf); \
    }
HEADS_FN(heads_f16_6, FR_TYPE_F16, SC_NH)
HEADS_FN(heads_f16_4, FR_TYPE_F16, 4)
HEADS_FN(heads_f16_1, FR_TYPE_F16, 1)
HEADS_FN(heads_f32_6, FR_TYPE_F32, SC_NH)
HEADS_FN(heads_f32_4, FR_TYPE_F32, 4)
HEADS_FN(heads_f32_1, FR_TYPE_F32, 1)

/* Blocks of FR_MLA_SCORE_ROWS rows, the next one prefetched meanwhile (mla_rows.h). In a
 * block the heads go in groups of SC_NH over all its rows, as in the AVX2 kernel, so that a
 * group's q (6 x w floats, 13.5 KiB for DeepSeek) stays in L1 while the rows come from L2:
 * with all the heads per row octet (36 KiB of q beside the rows), scores took 6-10% longer in
 * mlabench, with the rows in cache and in memory. */
static void scores_typed(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                         int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    const int f16 = type == FR_TYPE_F16;
    const int64_t groups = n_head / SC_NH + (n_head % SC_NH) / 4 + (n_head % SC_NH) % 4;
    for (int64_t b0 = p0, b1; b0 < p1; b0 = b1) {
        fr_mla_prefetch pf = fr_mla_score_block(type, rows, row_bytes, w, p0, b0, p1, groups, 2 * SC_NP2, &b1);
        int64_t h = 0;
        for (; h + SC_NH <= n_head; h += SC_NH)
            (f16 ? heads_f16_6 : heads_f32_6)(rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, &pf);
        for (; h + 4 <= n_head; h += 4)
            (f16 ? heads_f16_4 : heads_f32_4)(rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, &pf);
        for (; h < n_head; h++)
            (f16 ? heads_f16_1 : heads_f32_1)(rows, row_bytes, b0, b1, q, h, w, scale, scores, stride, &pf);
    }
}

/* ---- short rows (mla_attn_avx2.c's scores_conv_typed, 16 rows at a time) ----
 *
 * For fr_mla_scores_conv's widths (mla_rows.h), the rows go 16 at a time into a float buffer,
 * row pair m (rows 2m, 2m + 1) as 16-float vectors [row 2m's values i .. i + 7 | row 2m + 1's], so that
 * each head takes the 16 rows at once: 8 accumulators, each half the AVX2 kernel's 8-lane
 * accumulator of its (head, row), one q broadcast per 8 FMAs, and hsum8x16_vec's sums (rows in
 * order) scaled and stored as one vector of 16 scores. tinyllama's shape (w 64, 16 queries, F16
 * rows, 2048 positions, one thread): 1.24 -> 1.01 ns per score. (Two heads at a time, 16
 * accumulators sharing each row load: 1.07. Rows placed in the buffer so that the sums need no
 * final permutation: no faster. Without the FMAs unrolled whole for w = 64: 1.07.) */

/* scores[k * stride + p + j] for k < n_head and rows j < nr <= 16 of buf (rows past nr are
 * zeros, their sums dropped) */
FR_INLINE void scores_conv16(const float *buf, const int nr, int64_t p, const float *q, int64_t n_head, const int64_t w,
                             __m512 vs, float *scores, int64_t stride, fr_mla_prefetch *pf) {
    for (int64_t k = 0; k < n_head; k++) {
        const float *qk = q + k * w;
        fr_mla_prefetch_step(pf);
        __m512 acc[8];
        FR_UNROLL for (int m = 0; m < 8; m++) acc[m] = _mm512_setzero_ps();
        FR_PRAGMA_UNROLL_BY(16) for (int64_t i = 0; i < w; i += 8) {
            const __m512 v = bcast8(qk + i);
            FR_UNROLL for (int m = 0; m < 8; m++)
                acc[m] = _mm512_fmadd_ps(v, _mm512_load_ps(buf + m * 2 * FR_MLA_CONV_W + 2 * i), acc[m]);
        }
        const __m512 sc = _mm512_mul_ps(hsum8x16_vec(acc), vs);
        if (nr == 16)
            _mm512_storeu_ps(scores + k * stride + p, sc);
        else
            _mm512_mask_storeu_ps(scores + k * stride + p, (__mmask16)((1u << nr) - 1), sc);
    }
}

/* type's rows [p0, p1) (F16 or F32), 16 at a time converted into buf (the last ones padded
 * with zero rows), then scored for every head */
FR_INLINE void scores_conv_typed(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                                 int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    float buf[16 * FR_MLA_CONV_W] __attribute__((aligned(64)));
    const __m512 vs = _mm512_set1_ps(scale);
    for (int64_t b0 = p0, b1; b0 < p1; b0 = b1) {
        fr_mla_prefetch pf = fr_mla_score_block(type, rows, row_bytes, w, p0, b0, p1, n_head, 16, &b1);
        for (int64_t p = b0; p < b1; p += 16) {
            const int nr = b1 - p < 16 ? (int)(b1 - p) : 16;
            const char *x0 = (const char *)rows + (size_t)p * row_bytes;
            for (int m = 0; m < 8; m++) { /* whole 64-byte stores, which the FMAs' loads can forward from */
                const char *a = x0 + (size_t)(2 * m) * row_bytes, *b = a + row_bytes;
                for (int64_t i = 0; i < w; i += 8)
                    _mm512_store_ps(buf + m * 2 * FR_MLA_CONV_W + 2 * i,
                                    2 * m + 1 < nr ? load8x2(type, a, b, i)
                                    : 2 * m < nr   ? _mm512_castpd_ps(_mm512_insertf64x4(
                                                       _mm512_setzero_pd(), _mm256_castps_pd(load8(type, a, i)), 0))
                                                   : _mm512_setzero_ps());
            }
            if (nr < 16) /* (the last rows of a call) */
                scores_conv16(buf, nr, p, q, n_head, w, vs, scores, stride, &pf);
            else if (w == 64) /* (the common head size: its FMAs unrolled whole) */
                scores_conv16(buf, 16, p, q, n_head, 64, vs, scores, stride, &pf);
            else
                scores_conv16(buf, 16, p, q, n_head, w, vs, scores, stride, &pf);
        }
    }
}

/* fr_mla_scores_avx2's results (kernels.h) with two rows per register */
void fr_mla_scores_avx512(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                          int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    if (fr_mla_scores_conv(w)) {
        FR_MLA_TYPED(scores_conv_typed, type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
        return;
    }
    scores_typed(type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride); /* typed per head group */
}

enum { ACC_POS = FR_MLA_ACC_POS, ACC_DIMS = FR_MLA_ACC_DIMS, ACC_NH = 6 }; /* tile (mla_rows.h); heads per register block */

FR_INLINE __m512 load16(int type, const void *row, int64_t i) {
    if (type == FR_TYPE_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const fr_f16 *)row + i)));
    return _mm512_loadu_ps((const float *)row + i);
}

/* out[k * r + 16 v ..] += sum_{p < np} a[k * stride + p] * x_p[16 v ..] for k < NH heads and
 * v < NV vectors of 16 dims, x_p at x + p * x_bytes, accumulators starting from out (so
 * consecutive position blocks continue one chain of FMAs) */
FR_INLINE void accum_block16(int type, int NH, int NV, const char *x, size_t x_bytes, int64_t np, const float *a,
                             int64_t stride, float *out, int64_t r) {
    __m512 acc[24];
    FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int v = 0; v < NV; v++)
        acc[k * NV + v] = _mm512_loadu_ps(out + k * r + 16 * v);
    for (int64_t p = 0; p < np; p++) {
        const void *row = x + (size_t)p * x_bytes;
        __m512 xv[4];
        FR_UNROLL for (int v = 0; v < NV; v++) xv[v] = load16(type, row, 16 * v);
        FR_UNROLL for (int k = 0; k < NH; k++) {
            __m512 b = _mm512_set1_ps(a[k * stride + p]);
            FR_UNROLL for (int v = 0; v < NV; v++) acc[k * NV + v] = _mm512_fmadd_ps(b, xv[v], acc[k * NV + v]);
        }
    }
    FR_UNROLL for (int k = 0; k < NH; k++) FR_UNROLL for (int v = 0; v < NV; v++)
        _mm512_storeu_ps(out + k * r + 16 * v, acc[k * NV + v]);
}

/* the same for the last 8 dims of a range (nd % 16 == 8) */
FR_INLINE void accum_block8(int type, int NH, const char *x, size_t x_bytes, int64_t np, const float *a, int64_t stride,
                            float *out, int64_t r) {
    __m256 acc[4];
    FR_UNROLL for (int k = 0; k < NH; k++) acc[k] = _mm256_loadu_ps(out + k * r);
    for (int64_t p = 0; p < np; p++) {
        __m256 xv = load8(type, x + (size_t)p * x_bytes, 0);
        FR_UNROLL for (int k = 0; k < NH; k++) {
            __m256 b = _mm256_broadcast_ss(a + k * stride + p);
            acc[k] = _mm256_fmadd_ps(b, xv, acc[k]);
        }
    }
    FR_UNROLL for (int k = 0; k < NH; k++) _mm256_storeu_ps(out + k * r, acc[k]);
}

/* heads in groups of ACC_NH, 4, then 1, for NV vectors of 16 dims */
FR_INLINE void accum_heads16(int type, int NV, const char *x, size_t x_bytes, int64_t np, const float *a,
                             int64_t stride, int64_t nh, float *out, int64_t r) {
    int64_t h = 0;
    for (; h + ACC_NH <= nh; h += ACC_NH)
        accum_block16(type, ACC_NH, NV, x, x_bytes, np, a + h * stride, stride, out + h * r, r);
    for (; h + 4 <= nh; h += 4)
        accum_block16(type, 4, NV, x, x_bytes, np, a + h * stride, stride, out + h * r, r);
    for (; h < nh; h++)
        accum_block16(type, 1, NV, x, x_bytes, np, a + h * stride, stride, out + h * r, r);
}

/* a whole tile of 64 dims as two halves of 32, each in register blocks of 8 heads x 2 vectors
 * (then 4): one conversion of a row's 32 values serves 8 heads. For 4, 8 and 16
 * heads (accum_tile_typed). tinyllama's shape (64 dims, F16 rows, 1,024 positions in cache,
 * one thread), ns per (query, position), against blocks of 6, 4, 1 heads x 4 vectors: 8
 * queries (its decode) 1.14-1.19 -> 0.89-0.92, 4 1.14-1.20 -> 1.10-1.13, 16 0.86-0.89 ->
 * 0.84-0.87; but 6, 7, 12 and 64 queries were 2-17% slower than with the 4-vector blocks,
 * which they keep (so does MLA decode, 16 heads x 512 dims: the same speed either way in
 * mlabench). 8 heads as 4 + 4 on 4 vectors: 1.01-1.05. */
FR_INLINE void accum_heads32(int type, const char *x, size_t x_bytes, int64_t np, const float *a, int64_t stride,
                             int64_t nh, float *out, int64_t r) {
    const size_t es = type == FR_TYPE_F16 ? 2 : 4;
    for (int64_t d = 0; d < 64; d += 32) {
        const char *xd = x + (size_t)d * es;
        int64_t h = 0;
        for (; h + 8 <= nh; h += 8)
            accum_block16(type, 8, 2, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
        for (; h < nh; h += 4) /* (nh a multiple of 4) */
            accum_block16(type, 4, 2, xd, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
    }
}

/* a tile of np positions x nd dims (nd a multiple of 8, at most ACC_DIMS) for nh heads:
 * a full tile by halves (accum_heads32) for 4, 8 or 16 heads, else in one pass of 4 x 16
 * dims; a narrower one 16 dims at a time and the last 8 alone */
FR_INLINE void accum_tile_typed(int type, const char *x, size_t x_bytes, int64_t np, int64_t nd, const float *a,
                                int64_t stride, int64_t nh, float *out, int64_t r) {
    size_t es = type == FR_TYPE_F16 ? 2 : 4;
    if (nd == 64) {
        if (nh == 4 || nh == 8 || nh == 16)
            accum_heads32(type, x, x_bytes, np, a, stride, nh, out, r);
        else
            accum_heads16(type, 4, x, x_bytes, np, a, stride, nh, out, r);
        return;
    }
    int64_t d = 0;
    for (; d + 16 <= nd; d += 16)
        accum_heads16(type, 1, x + (size_t)d * es, x_bytes, np, a, stride, nh, out + d, r);
    if (d < nd) {
        int64_t h = 0;
        for (; h + 4 <= nh; h += 4)
            accum_block8(type, 4, x + (size_t)d * es, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
        for (; h < nh; h++)
            accum_block8(type, 1, x + (size_t)d * es, x_bytes, np, a + h * stride, stride, out + h * r + d, r);
    }
}

/* fr_mla_accum_avx2's results (kernels.h) with 16 dims per register, by the tiles of mla_rows.h */
FR_MLA_ACCUM_ENTRY(fr_mla_accum_avx512)

/* ---- softmax and F16 rounding (mla_attn.c's helpers) on 16 lanes, bit for bit the AVX2 ones ---- */

/* fr_softmax_fast_avx2's results: the exponentials 16 at a time, but summed into the same 8
 * lanes in the same order (the low half, then the high half, of each 16), flushed to double
 * at the same points */
void fr_softmax_fast_avx512(float *x, int64_t n) {
    const int64_t n16 = n & ~(int64_t)15, n8 = n & ~(int64_t)7;
    __m512 vm = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n16; i += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + i));
    float mx = _mm512_reduce_max_ps(vm); /* the maximum is exact in any order */
    for (int64_t i = n16; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) {
        for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    const __m512 vmx = _mm512_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    double s = 0;
    for (int64_t i = 0; i < n8; i += 16) {
        const __mmask16 m = i + 16 <= n8 ? 0xffff : 0x00ff;
        const __m512 e = fr_exp_neg_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmx));
        _mm512_mask_storeu_ps(x + i, m, e);
        for (int h = 0; h < 2 && i + 8 * h < n8; h++) {
            sum = _mm256_add_ps(sum, h ? hi256(e) : lo256(e));
            if (((i + 8 * h) & 255) == 248) { /* flush the lanes to double every 256 values */
                s += fr_hsum8_avx2(sum);
                sum = _mm256_setzero_ps();
            }
        }
    }
    s += fr_hsum8_avx2(sum);
    for (int64_t i = n8; i < n; i++) {
        x[i] = _mm512_cvtss_f32(fr_exp_neg_avx512(_mm512_set1_ps(x[i] - mx)));
        s += x[i];
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / s));
    for (int64_t i = 0; i < n16; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    for (int64_t i = n16; i < n; i++) x[i] *= (float)(1.0 / s);
}

/* fr_round_f16_avx2's results: the hardware conversion 16 at a time, then the AVX2 function
 * itself for the last n % 16 (its 8-value step and its portable tail) */
void fr_round_f16_avx512(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    fr_round_f16_avx2(x + i, n - i);
}

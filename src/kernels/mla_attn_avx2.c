/* mla_attn_avx2.c: AVX2/FMA/F16C kernels of mla_attn.c for F16 and F32 cache rows. */
#include <immintrin.h>
#include <math.h>

#include "kernels.h"

static inline __m256 load8(int type, const void *row, int64_t i) {
    if (type == FR_TYPE_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const fr_f16 *)row + i)));
    return _mm256_loadu_ps((const float *)row + i);
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float tail_val(int type, const void *row, int64_t i) {
    return type == FR_TYPE_F16 ? fr_f16_to_f32(((const fr_f16 *)row)[i]) : ((const float *)row)[i];
}

/* scores[h][p] = dot(q[h], row_p) * scale for p in [p0, p1): two positions x four heads of
 * accumulators per pass (each q load serves two rows, each row load four heads); a tail of
 * w % 8 values in scalar */
void fr_mla_scores_avx2(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_head, int64_t w, float scale, float *scores, int64_t stride) {
    int64_t w8 = w & ~(int64_t)7;
    int64_t p = p0;
    for (; p + 2 <= p1; p += 2) {
        const void *r0 = (const char *)rows + (size_t)p * row_bytes, *r1 = (const char *)r0 + row_bytes;
        int64_t h = 0;
        for (; h + 4 <= n_head; h += 4) {
            const float *q0 = q + h * w, *q1 = q0 + w, *q2 = q1 + w, *q3 = q2 + w;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                   a31 = a00;
            for (int64_t i = 0; i < w8; i += 8) {
                __m256 x0 = load8(type, r0, i), x1 = load8(type, r1, i), v;
                v = _mm256_loadu_ps(q0 + i), a00 = _mm256_fmadd_ps(v, x0, a00), a01 = _mm256_fmadd_ps(v, x1, a01);
                v = _mm256_loadu_ps(q1 + i), a10 = _mm256_fmadd_ps(v, x0, a10), a11 = _mm256_fmadd_ps(v, x1, a11);
                v = _mm256_loadu_ps(q2 + i), a20 = _mm256_fmadd_ps(v, x0, a20), a21 = _mm256_fmadd_ps(v, x1, a21);
                v = _mm256_loadu_ps(q3 + i), a30 = _mm256_fmadd_ps(v, x0, a30), a31 = _mm256_fmadd_ps(v, x1, a31);
            }
            float s[8] = {hsum(a00), hsum(a01), hsum(a10), hsum(a11), hsum(a20), hsum(a21), hsum(a30), hsum(a31)};
            for (int64_t i = w8; i < w; i++) {
                float x0 = tail_val(type, r0, i), x1 = tail_val(type, r1, i);
                s[0] += q0[i] * x0, s[1] += q0[i] * x1, s[2] += q1[i] * x0, s[3] += q1[i] * x1;
                s[4] += q2[i] * x0, s[5] += q2[i] * x1, s[6] += q3[i] * x0, s[7] += q3[i] * x1;
            }
            for (int k = 0; k < 4; k++) {
                scores[(h + k) * stride + p] = s[2 * k] * scale;
                scores[(h + k) * stride + p + 1] = s[2 * k + 1] * scale;
            }
        }
        for (; h < n_head; h++) {
            const float *qh = q + h * w;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int64_t i = 0; i < w8; i += 8) {
                __m256 v = _mm256_loadu_ps(qh + i);
                a0 = _mm256_fmadd_ps(v, load8(type, r0, i), a0);
                a1 = _mm256_fmadd_ps(v, load8(type, r1, i), a1);
            }
            float s0 = hsum(a0), s1 = hsum(a1);
            for (int64_t i = w8; i < w; i++) s0 += qh[i] * tail_val(type, r0, i), s1 += qh[i] * tail_val(type, r1, i);
            scores[h * stride + p] = s0 * scale;
            scores[h * stride + p + 1] = s1 * scale;
        }
    }
    for (; p < p1; p++) {
        const void *row = (const char *)rows + (size_t)p * row_bytes;
        for (int64_t h = 0; h < n_head; h++) {
            const float *qh = q + h * w;
            __m256 a0 = _mm256_setzero_ps();
            for (int64_t i = 0; i < w8; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qh + i), load8(type, row, i), a0);
            float s0 = hsum(a0);
            for (int64_t i = w8; i < w; i++) s0 += qh[i] * tail_val(type, row, i);
            scores[h * stride + p] = s0 * scale;
        }
    }
}

/* out[h][d] = sum_p a[h][p] * row_p[d] for h in [h0, h1), d in [d0, d1) (multiples of 8):
 * 8 dims x 4 heads of accumulators in registers, one pass over the positions */
void fr_mla_accum_avx2(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                       int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r) {
    for (int64_t d = d0; d < d1; d += 16) {
        int two = d + 16 <= d1;
        int64_t h = h0;
        for (; h + 4 <= h1; h += 4) {
            const float *a0 = a + h * stride, *a1 = a0 + stride, *a2 = a1 + stride, *a3 = a2 + stride;
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
                   c31 = c00;
            for (int64_t p = 0; p < n_pos; p++) {
                const void *row = (const char *)rows + (size_t)p * row_bytes;
                __m256 x0 = load8(type, row, d);
                __m256 x1 = two ? load8(type, row, d + 8) : _mm256_setzero_ps();
                __m256 b0 = _mm256_broadcast_ss(a0 + p), b1 = _mm256_broadcast_ss(a1 + p);
                __m256 b2 = _mm256_broadcast_ss(a2 + p), b3 = _mm256_broadcast_ss(a3 + p);
                c00 = _mm256_fmadd_ps(b0, x0, c00), c01 = _mm256_fmadd_ps(b0, x1, c01);
                c10 = _mm256_fmadd_ps(b1, x0, c10), c11 = _mm256_fmadd_ps(b1, x1, c11);
                c20 = _mm256_fmadd_ps(b2, x0, c20), c21 = _mm256_fmadd_ps(b2, x1, c21);
                c30 = _mm256_fmadd_ps(b3, x0, c30), c31 = _mm256_fmadd_ps(b3, x1, c31);
            }
            _mm256_storeu_ps(out + h * r + d, c00);
            _mm256_storeu_ps(out + (h + 1) * r + d, c10);
            _mm256_storeu_ps(out + (h + 2) * r + d, c20);
            _mm256_storeu_ps(out + (h + 3) * r + d, c30);
            if (two) {
                _mm256_storeu_ps(out + h * r + d + 8, c01);
                _mm256_storeu_ps(out + (h + 1) * r + d + 8, c11);
                _mm256_storeu_ps(out + (h + 2) * r + d + 8, c21);
                _mm256_storeu_ps(out + (h + 3) * r + d + 8, c31);
            }
        }
        for (; h < h1; h++) {
            const float *ah = a + h * stride;
            __m256 c0 = _mm256_setzero_ps(), c1 = c0;
            for (int64_t p = 0; p < n_pos; p++) {
                const void *row = (const char *)rows + (size_t)p * row_bytes;
                __m256 b = _mm256_broadcast_ss(ah + p);
                c0 = _mm256_fmadd_ps(b, load8(type, row, d), c0);
                if (two) c1 = _mm256_fmadd_ps(b, load8(type, row, d + 8), c1);
            }
            _mm256_storeu_ps(out + h * r + d, c0);
            if (two) _mm256_storeu_ps(out + h * r + d + 8, c1);
        }
    }
}

void fr_axpy_avx2(float *y, const float *x, float a, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* exp(x) for x <= 0 (inputs above 0 are not expected: softmax subtracts the maximum):
 * x = n ln2 + r with |r| <= ln2 / 2, exp(r) by its degree-6 Taylor polynomial (relative
 * error below 2e-7), 2^n through the exponent bits; x < -87 gives 0. */
static inline __m256 exp_neg(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x); /* ln2 split high/low */
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
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
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        _mm256_storeu_ps(x + i, e);
        sum = _mm256_add_ps(sum, e);
        if ((i & 255) == 248) { /* flush the lanes to double every 256 values */
            s += hsum(sum);
            sum = _mm256_setzero_ps();
        }
    }
    s += hsum(sum);
    for (int64_t i = n8; i < n; i++) {
        __m256 e = exp_neg(_mm256_set1_ps(x[i] - mx));
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

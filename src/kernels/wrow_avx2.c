/* wrow_avx2.c: AVX2/FMA/F16C kernels of wrow.c for Q4_0, Q8_0 and F16 rows. A quantized
 * block's 32 values become four vectors of exact floats q; its scale d multiplies the
 * block's partial sum (dot) or the scalar a (axpy), not each value. */
#include <immintrin.h>

#include "simd_avx2.h"
#include "kernels.h"

bool fr_wrow_has_avx2(int type) { return type == FR_TYPE_Q4_0 || type == FR_TYPE_Q8_0 || type == FR_TYPE_F16; }

/* the 32 int8 values of one block, in order */
static inline __m256i block_i8(int type, const void *row, int64_t b) {
    if (type == FR_TYPE_Q4_0) {
        const block_q4_0 *x = (const block_q4_0 *)row + b;
        return _mm256_sub_epi8(fr_unpack_nibbles_avx2(x->qs), _mm256_set1_epi8(8));
    }
    return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)row + b)->qs);
}

static inline float block_scale(int type, const void *row, int64_t b) {
    fr_f16 d = type == FR_TYPE_Q4_0 ? ((const block_q4_0 *)row + b)->d : ((const block_q8_0 *)row + b)->d;
    return _cvtsh_ss(d);
}

static inline void i8_to_ps(__m256i q, __m256 f[4]) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    f[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    f[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
    f[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    f[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

/* W_UK / W_UV rows are weights read once per token, one after the other: ask for the
 * memory a few rows ahead, as the matrix kernels do */
#define WROW_PF_DIST 4096
static inline void prefetch_ahead(const void *row, size_t bytes) {
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch((const char *)row + WROW_PF_DIST + off, _MM_HINT_T0);
}

static inline size_t row_bytes(int type, int64_t n) {
    if (type == FR_TYPE_F16) return (size_t)n * 2;
    return (size_t)(n / 32) * (type == FR_TYPE_Q4_0 ? sizeof(block_q4_0) : sizeof(block_q8_0));
}


static float dot_f16(const fr_f16 *w, const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8),
                             a1);
    }
    float s = fr_hsum8_avx2(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += fr_f16_to_f32(w[i]) * x[i];
    return s;
}

/* n: a multiple of 32 for the block types (a row's length always is) */
float fr_wrow_dot_avx2(int type, const void *row, const float *x, int64_t n) {
    prefetch_ahead(row, row_bytes(type, n));
    if (type == FR_TYPE_F16) return dot_f16(row, x, n);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / 32; b++) {
        __m256 f[4];
        i8_to_ps(block_i8(type, row, b), f);
        const float *xb = x + b * 32;
        __m256 s = _mm256_mul_ps(f[0], _mm256_loadu_ps(xb));
        s = _mm256_fmadd_ps(f[1], _mm256_loadu_ps(xb + 8), s);
        s = _mm256_fmadd_ps(f[2], _mm256_loadu_ps(xb + 16), s);
        s = _mm256_fmadd_ps(f[3], _mm256_loadu_ps(xb + 24), s);
        acc[b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(block_scale(type, row, b)), s, acc[b & 1]);
    }
    return fr_hsum8_avx2(_mm256_add_ps(acc[0], acc[1]));
}

void fr_wrow_axpy_avx2(int type, const void *row, float a, float *y, int64_t n) {
    prefetch_ahead(row, row_bytes(type, n));
    if (type == FR_TYPE_F16) {
        const fr_f16 *w = row;
        const __m256 va = _mm256_set1_ps(a);
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))),
                                                    _mm256_loadu_ps(y + i)));
        for (; i < n; i++) y[i] += a * fr_f16_to_f32(w[i]);
        return;
    }
    for (int64_t b = 0; b < n / 32; b++) {
        __m256 f[4];
        i8_to_ps(block_i8(type, row, b), f);
        const __m256 s = _mm256_set1_ps(a * block_scale(type, row, b));
        float *yb = y + b * 32;
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(yb + 8 * k, _mm256_fmadd_ps(s, f[k], _mm256_loadu_ps(yb + 8 * k)));
    }
}

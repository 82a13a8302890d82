/* wrow_avx512.c: the multi-row kernels of wrow_avx2.c (fr_wrow_dot_rows, fr_wrow_axpy_rows)
 * for Q4_0 and Q8_0 rows on 512-bit registers (AVX-512F). Built with -mavx512f; wrow.c runs
 * them only where fr_cpu_has(FR_ISA_AVX512). Bit for bit the AVX2 results:
 *
 * axpy: every value of y is its own chain of FMAs, y = fma(a_i * d, q, y), over the rows in
 * order, so 16 lanes over 16 consecutive values do what two 8-lane registers did.
 *
 * dot: the AVX2 kernel sums a block into an 8-lane vector s = q0 x0 + q1 x1 + q2 x2 + q3 x3
 * (one product, three FMAs; q_k and x_k are values 8k .. 8k + 7 of the block), then adds
 * d * s into one of two accumulators, even blocks into the first, odd into the second, and
 * finally reduces first + second with fr_hsum8_avx2. Here a zmm holds two blocks: its low
 * half is an even block b, its high half block b + 1, for the same 8 positions, so its
 * halves are exactly those two accumulators. An odd block count ends with one even block on
 * 256-bit registers, into the low half. */
#include "wrow_simd.h"

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 16")

bool fr_wrow_has_avx512(int type) { return type == FR_TYPE_Q4_0 || type == FR_TYPE_Q8_0; }

/* a block's values 0..15 and 16..31 as exact floats */
FR_INLINE void block_ps(int type, const void *row, int64_t b, __m512 f[2]) {
    if (type == FR_TYPE_Q4_0) {
        const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)((const block_q4_0 *)row + b)->qs));
        const __m512i m4 = _mm512_set1_epi32(15), eight = _mm512_set1_epi32(8);
        f[0] = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(v, m4), eight));
        f[1] = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(v, 4), eight));
        return;
    }
    const __m256i q = fr_wrow_block_i8(type, row, b);
    f[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    f[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
}

FR_INLINE __m512 join(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

/* ---- axpy ---- */

/* Blocks [b, b + NB) of y += sum_i a[i] row_i over all the rows, 32 NB floats in registers */
FR_INLINE void axpy_rows_q(int type, int NB, const char *rows, size_t rb, int64_t n_rows, const float *a, float *y,
                           int64_t b) {
    __m512 acc[8];
    FR_UNROLL for (int k = 0; k < 2 * NB; k++) acc[k] = _mm512_loadu_ps(y + 32 * b + 16 * k);
    for (int64_t i = 0; i < n_rows; i++) {
        const char *row = rows + (size_t)i * rb;
        FR_UNROLL for (int j = 0; j < NB; j++) {
            __m512 f[2];
            block_ps(type, row, b + j, f);
            const __m512 sc = _mm512_set1_ps(a[i] * fr_wrow_block_scale(type, row, b + j));
            acc[2 * j] = _mm512_fmadd_ps(sc, f[0], acc[2 * j]);
            acc[2 * j + 1] = _mm512_fmadd_ps(sc, f[1], acc[2 * j + 1]);
        }
    }
    FR_UNROLL for (int k = 0; k < 2 * NB; k++) _mm512_storeu_ps(y + 32 * b + 16 * k, acc[k]);
}

FR_INLINE void axpy_rows_type(int type, const char *r, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                              int64_t n, fr_next_prefetch *pf) {
    int64_t nb = n / 32, b = 0;
    for (; b + 4 <= nb; b += 4)
        fr_next_prefetch_step(pf), axpy_rows_q(type, 4, r, row_bytes, n_rows, a, y, b);
    for (; b < nb; b++)
        fr_next_prefetch_step(pf), axpy_rows_q(type, 1, r, row_bytes, n_rows, a, y, b);
}

/* n: a multiple of 32 (a block row's length always is) */
void fr_wrow_axpy_rows_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                              int64_t n, const void *next) {
    const char *r = rows;
    const size_t bytes = (size_t)n_rows * row_bytes;
    for (size_t off = 0; off < bytes; off += 64)
        _mm_prefetch(r + off, _MM_HINT_T0);
    fr_next_prefetch pf = fr_next_prefetch_init(next, bytes, n / 128 + n / 32 % 4);
    if (type == FR_TYPE_Q4_0)
        axpy_rows_type(FR_TYPE_Q4_0, r, row_bytes, n_rows, a, y, n, &pf);
    else
        axpy_rows_type(FR_TYPE_Q8_0, r, row_bytes, n_rows, a, y, n, &pf);
}

/* ---- dot ---- */

/* Blocks b (low halves) and b + 1 (high halves): f[k] holds values 8k .. 8k + 7 of each */
FR_INLINE void pair_ps(int type, const void *row, int64_t b, __m512 f[4]) {
    const __m256i q0 = fr_wrow_block_i8(type, row, b), q1 = fr_wrow_block_i8(type, row, b + 1);
    const __m256i lo = _mm256_unpacklo_epi64(q0, q1), hi = _mm256_unpackhi_epi64(q0, q1);
    f[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(lo)));
    f[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(hi)));
    f[2] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(lo, 1)));
    f[3] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(hi, 1)));
}

/* Two rows' dot products with x, sharing the loads of x (wrow_avx2.c's dot2_q) */
FR_INLINE void dot2_q(int type, const char *r0, const char *r1, const float *x, int64_t nb, float *out) {
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    const char *row[2] = {r0, r1};
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const float *xb = x + b * 32;
        __m512 xv[4];
        FR_UNROLL for (int k = 0; k < 4; k++) xv[k] =
            join(_mm256_loadu_ps(xb + 8 * k), _mm256_loadu_ps(xb + 32 + 8 * k));
        FR_UNROLL for (int r = 0; r < 2; r++) {
            __m512 f[4];
            pair_ps(type, row[r], b, f);
            __m512 s = _mm512_mul_ps(f[0], xv[0]);
            s = _mm512_fmadd_ps(f[1], xv[1], s);
            s = _mm512_fmadd_ps(f[2], xv[2], s);
            s = _mm512_fmadd_ps(f[3], xv[3], s);
            const __m512 d = join(_mm256_set1_ps(fr_wrow_block_scale(type, row[r], b)),
                                  _mm256_set1_ps(fr_wrow_block_scale(type, row[r], b + 1)));
            acc[r] = _mm512_fmadd_ps(d, s, acc[r]);
        }
    }
    FR_UNROLL for (int r = 0; r < 2; r++) {
        __m256 even = _mm512_castps512_ps256(acc[r]);
        const __m256 odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r]), 1));
        if (b < nb) { /* the last, even block, on 8 lanes as in wrow_avx2.c */
            __m256 f[4];
            fr_wrow_i8_to_ps(fr_wrow_block_i8(type, row[r], b), f);
            even = _mm256_fmadd_ps(_mm256_set1_ps(fr_wrow_block_scale(type, row[r], b)),
                                   fr_wrow_block_dot8(f, x + b * 32), even);
        }
        out[r] = fr_hsum8_avx2(_mm256_add_ps(even, odd));
    }
}

static void dot2_q4_0(const char *r0, const char *r1, const float *x, int64_t nb, float *out) {
    dot2_q(FR_TYPE_Q4_0, r0, r1, x, nb, out);
}

static void dot2_q8_0(const char *r0, const char *r1, const float *x, int64_t nb, float *out) {
    dot2_q(FR_TYPE_Q8_0, r0, r1, x, nb, out);
}

void fr_wrow_dot_rows_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                             float *out, const void *next) {
    fr_wrow_dot_rows_by_pairs(type, rows, row_bytes, n_rows, x, n, out, next,
                              type == FR_TYPE_Q4_0   ? dot2_q4_0
                              : type == FR_TYPE_Q8_0 ? dot2_q8_0
                                                     : NULL);
}

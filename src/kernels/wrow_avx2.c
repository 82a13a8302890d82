/* wrow_avx2.c: AVX2/FMA/F16C kernels of wrow.c for Q4_0, Q5_0, IQ4_NL, Q8_0, Q4_1, Q5_1, F16,
 * Q4_K, Q5_K and Q6_K rows.
 * A Q4_0 or Q8_0 block's 32 values become four vectors of exact floats q; its scale d
 * multiplies the block's partial sum (dot) or the scalar a (axpy), not each value. The
 * K-quants' weights are formed per value (below). */
#include "wrow_simd.h"

/* full unrolling of the register-block loops (constant trip counts) */
#define FR_UNROLL _Pragma("GCC unroll 8")
#define FR_INLINE static inline __attribute__((always_inline))

bool fr_wrow_has_avx2(int type) {
    return fr_wrow_i8_type(type) || type == FR_TYPE_F16 || fr_wrow_kquant(type) || fr_wrow_min_type(type);
}

static inline size_t row_bytes(int type, int64_t n) {
    if (type == FR_TYPE_F16) return (size_t)n * 2;
    if (fr_wrow_kquant(type)) return (size_t)(n / QK_K) * fr_wrow_kblock_bytes(type);
    return (size_t)(n / 32) * (type == FR_TYPE_Q4_0     ? sizeof(block_q4_0)
                               : type == FR_TYPE_Q5_0   ? sizeof(block_q5_0)
                               : type == FR_TYPE_IQ4_NL ? sizeof(block_iq4_nl)
                               : type == FR_TYPE_Q4_1   ? sizeof(block_q4_1)
                               : type == FR_TYPE_Q5_1   ? sizeof(block_q5_1)
                                                        : sizeof(block_q8_0));
}

/* f(T, ...) with T the block type as a constant (the kernels below specialise on it) */
#define FR_I8_DISPATCH(type, f, ...)                                                                                   \
    do {                                                                                                               \
        switch (type) {                                                                                                \
        case FR_TYPE_Q4_0: f(FR_TYPE_Q4_0, __VA_ARGS__); break;                                                        \
        case FR_TYPE_Q5_0: f(FR_TYPE_Q5_0, __VA_ARGS__); break;                                                        \
        case FR_TYPE_IQ4_NL: f(FR_TYPE_IQ4_NL, __VA_ARGS__); break;                                                    \
        default: f(FR_TYPE_Q8_0, __VA_ARGS__); break;                                                                  \
        }                                                                                                              \
    } while (0)

/* ---- K-quants (wrow_simd.h): each weight formed as fma(s, q, -m) (Q6_K: s q) ---- */

/* group j's 32 weights of a block as floats, values 8k .. 8k + 7 in w[k] */
FR_INLINE void kgroup_weights(int type, const char *blk, const fr_kscales *ks, int j, __m256 w[4]) {
    __m256 f[4];
    fr_wrow_i8_to_ps(fr_wrow_kgroup_q(type, blk, j), f);
    FR_UNROLL for (int k = 0; k < 4; k++) {
        const __m256 sk = _mm256_broadcast_ss(&ks->s[2 * j + k / 2]);
        w[k] =
            type == FR_TYPE_Q6_K ? _mm256_mul_ps(sk, f[k]) : _mm256_fmsub_ps(sk, f[k], _mm256_broadcast_ss(&ks->m[j]));
    }
}

/* a row's dot product with x: four accumulators, value 8k + l of every group into acc[k] */
FR_INLINE float kdot(int type, const char *row, const float *x, int64_t n) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / QK_K; b++) {
        const char *blk = row + (size_t)b * fr_wrow_kblock_bytes(type);
        fr_kscales ks;
        fr_wrow_kblock_scales(type, blk, &ks);
        FR_UNROLL for (int j = 0; j < 8; j++) {
            __m256 w[4];
            kgroup_weights(type, blk, &ks, j, w);
            const float *xg = x + b * QK_K + 32 * j;
            FR_UNROLL for (int k = 0; k < 4; k++) acc[k] = _mm256_fmadd_ps(w[k], _mm256_loadu_ps(xg + 8 * k), acc[k]);
        }
    }
    return fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

/* Groups [j0, j0 + NG) of block b: y += sum_r a[r] row_r over rows r0 .. r1 - 1, y in
 * registers, each row's scales from ks[r - r0]: one FMA per value and row, in row order */
FR_INLINE void kaxpy_rows(int type, int NG, const char *rows, size_t rb, int64_t r0, int64_t r1, const fr_kscales *ks,
                          const float *a, float *y, int64_t b, int j0) {
    __m256 v[8];
    float *yb = y + b * QK_K + 32 * j0;
    FR_UNROLL for (int i = 0; i < 4 * NG; i++) v[i] = _mm256_loadu_ps(yb + 8 * i);
    for (int64_t r = r0; r < r1; r++) {
        const char *blk = rows + (size_t)r * rb + (size_t)b * fr_wrow_kblock_bytes(type);
        const __m256 va = _mm256_set1_ps(a[r]);
        FR_UNROLL for (int j = 0; j < NG; j++) {
            __m256 w[4];
            kgroup_weights(type, blk, &ks[r - r0], j0 + j, w);
            FR_UNROLL for (int k = 0; k < 4; k++) v[4 * j + k] = _mm256_fmadd_ps(va, w[k], v[4 * j + k]);
        }
    }
    FR_UNROLL for (int i = 0; i < 4 * NG; i++) _mm256_storeu_ps(yb + 8 * i, v[i]);
}

/* y += sum_r a[r] row_r: block by block, rows in chunks whose scales are taken once, each
 * chunk's rows over the block's groups two at a time (the order of a value's FMAs is the rows'
 * order either way) */
#define KAXPY_ROWS 32
FR_INLINE void kaxpy_all(int type, const char *rows, size_t rb, int64_t n_rows, const float *a, float *y, int64_t n,
                         fr_next_prefetch *pf) {
    fr_kscales ks[KAXPY_ROWS];
    for (int64_t b = 0; b < n / QK_K; b++)
        for (int64_t r0 = 0; r0 < n_rows; r0 += KAXPY_ROWS) {
            const int64_t r1 = r0 + KAXPY_ROWS < n_rows ? r0 + KAXPY_ROWS : n_rows;
            for (int64_t r = r0; r < r1; r++)
                fr_wrow_kblock_scales(type, rows + (size_t)r * rb + (size_t)b * fr_wrow_kblock_bytes(type),
                                      &ks[r - r0]);
            for (int j0 = 0; j0 < 8; j0 += 2) {
                if (pf && r0 == 0) fr_next_prefetch_step(pf);
                kaxpy_rows(type, 2, rows, rb, r0, r1, ks, a, y, b, j0);
            }
        }
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

/* ---- Q4_1 and Q5_1 (wrow_simd.h): each weight formed as fma(d, q, m) ---- */
FR_INLINE void min_weights(int type, const char *row, int64_t b, __m256 w[4]) {
    float d, m;
    __m256 f[4];
    fr_wrow_i8_to_ps(fr_wrow_min_q(type, row, b, &d, &m), f); /* (0..31: the signed widening is exact) */
    FR_UNROLL for (int k = 0; k < 4; k++) w[k] = _mm256_fmadd_ps(_mm256_set1_ps(d), f[k], _mm256_set1_ps(m));
}

FR_INLINE float min_dot(int type, const char *row, const float *x, int64_t n) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / 32; b++) {
        __m256 w[4];
        min_weights(type, row, b, w);
        FR_UNROLL for (int k = 0; k < 4; k++) acc[k] =
            _mm256_fmadd_ps(w[k], _mm256_loadu_ps(x + 32 * b + 8 * k), acc[k]);
    }
    return fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

/* blocks [b, b + NB) of y += sum_r a[r] row_r, y in registers: one FMA per value and row, in
 * row order (so one row is min_axpy_rows over that row) */
FR_INLINE void min_axpy_block(int type, int NB, const char *rows, size_t rb, int64_t n_rows, const float *a, float *y,
                              int64_t b) {
    __m256 v[8];
    FR_UNROLL for (int i = 0; i < 4 * NB; i++) v[i] = _mm256_loadu_ps(y + 32 * b + 8 * i);
    for (int64_t r = 0; r < n_rows; r++) {
        const __m256 va = _mm256_set1_ps(a[r]);
        FR_UNROLL for (int j = 0; j < NB; j++) {
            __m256 w[4];
            min_weights(type, rows + (size_t)r * rb, b + j, w);
            FR_UNROLL for (int k = 0; k < 4; k++) v[4 * j + k] = _mm256_fmadd_ps(va, w[k], v[4 * j + k]);
        }
    }
    FR_UNROLL for (int i = 0; i < 4 * NB; i++) _mm256_storeu_ps(y + 32 * b + 8 * i, v[i]);
}

FR_INLINE void min_axpy_rows(int type, const char *rows, size_t rb, int64_t n_rows, const float *a, float *y, int64_t n,
                             fr_next_prefetch *pf) {
    const int64_t nb = n / 32;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        if (pf) fr_next_prefetch_step(pf);
        min_axpy_block(type, 2, rows, rb, n_rows, a, y, b);
    }
    for (; b < nb; b++) {
        if (pf) fr_next_prefetch_step(pf);
        min_axpy_block(type, 1, rows, rb, n_rows, a, y, b);
    }
}

/* a row of an i8 type (fr_wrow_i8_type) dotted with x: two accumulators alternating by block */
FR_INLINE void dot_i8(int type, const void *row, const float *x, int64_t n, float *out) {
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / 32; b++) {
        __m256 f[4];
        fr_wrow_i8_to_ps(fr_wrow_block_i8(type, row, b), f);
        const __m256 s = fr_wrow_block_dot8(f, x + b * 32);
        acc[b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(fr_wrow_block_scale(type, row, b)), s, acc[b & 1]);
    }
    *out = fr_hsum8_avx2(_mm256_add_ps(acc[0], acc[1]));
}

/* y += a row of an i8 type: per block, a times its scale, then an FMA per value */
FR_INLINE void axpy_i8(int type, const void *row, float a, float *y, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++) {
        __m256 f[4];
        fr_wrow_i8_to_ps(fr_wrow_block_i8(type, row, b), f);
        const __m256 s = _mm256_set1_ps(a * fr_wrow_block_scale(type, row, b));
        float *yb = y + b * 32;
        for (int k = 0; k < 4; k++)
            _mm256_storeu_ps(yb + 8 * k, _mm256_fmadd_ps(s, f[k], _mm256_loadu_ps(yb + 8 * k)));
    }
}

/* n: a multiple of 32 for the block types (a row's length always is) */
float fr_wrow_dot_avx2(int type, const void *row, const float *x, int64_t n) {
    fr_wrow_prefetch_ahead(row, row_bytes(type, n));
    if (type == FR_TYPE_F16) return dot_f16(row, x, n);
    if (type == FR_TYPE_Q4_K) return kdot(FR_TYPE_Q4_K, row, x, n);
    if (type == FR_TYPE_Q5_K) return kdot(FR_TYPE_Q5_K, row, x, n);
    if (type == FR_TYPE_Q6_K) return kdot(FR_TYPE_Q6_K, row, x, n);
    if (type == FR_TYPE_Q4_1) return min_dot(FR_TYPE_Q4_1, row, x, n);
    if (type == FR_TYPE_Q5_1) return min_dot(FR_TYPE_Q5_1, row, x, n);
    float s;
    FR_I8_DISPATCH(type, dot_i8, row, x, n, &s);
    return s;
}

void fr_wrow_axpy_avx2(int type, const void *row, float a, float *y, int64_t n) {
    fr_wrow_prefetch_ahead(row, row_bytes(type, n));
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
    if (fr_wrow_kquant(type) ||
        fr_wrow_min_type(type)) { /* (their axpy keeps y in registers: one row is the rows case) */
        fr_wrow_axpy_rows_avx2(type, row, row_bytes(type, n), 1, &a, y, n, NULL);
        return;
    }
    FR_I8_DISPATCH(type, axpy_i8, row, a, y, n);
}

/* ---- several rows at once (fr_wrow_dot_rows / fr_wrow_axpy_rows, kernels.h) ---- */

/* Blocks [b, b + NB) of y += sum_i a[i] row_i for all n_rows rows, the 8 NB floats in
 * registers across the rows: each value gets the same FMAs, in the same row order, as from
 * n_rows fr_wrow_axpy_avx2 calls, without a load and store of y per row. */
static inline __attribute__((always_inline)) void axpy_rows_q(int type, int NB, const char *rows, size_t rb,
                                                              int64_t n_rows, const float *a, float *y, int64_t b) {
    __m256 acc[8];
    FR_UNROLL for (int k = 0; k < 4 * NB; k++) acc[k] = _mm256_loadu_ps(y + 32 * b + 8 * k);
    for (int64_t i = 0; i < n_rows; i++) {
        const char *row = rows + (size_t)i * rb;
        FR_UNROLL for (int j = 0; j < NB; j++) {
            __m256 f[4];
            fr_wrow_i8_to_ps(fr_wrow_block_i8(type, row, b + j), f);
            const __m256 sc = _mm256_set1_ps(a[i] * fr_wrow_block_scale(type, row, b + j));
            FR_UNROLL for (int k = 0; k < 4; k++) acc[4 * j + k] = _mm256_fmadd_ps(sc, f[k], acc[4 * j + k]);
        }
    }
    FR_UNROLL for (int k = 0; k < 4 * NB; k++) _mm256_storeu_ps(y + 32 * b + 8 * k, acc[k]);
}

/* every block of y over all the rows, two blocks per pass */
FR_INLINE void axpy_rows_i8(int type, const char *r, size_t rb, int64_t n_rows, const float *a, float *y, int64_t nb,
                            fr_next_prefetch *pf) {
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2)
        fr_next_prefetch_step(pf), axpy_rows_q(type, 2, r, rb, n_rows, a, y, b);
    for (; b < nb; b++)
        fr_next_prefetch_step(pf), axpy_rows_q(type, 1, r, rb, n_rows, a, y, b);
}

/* F16: 8 NV values [i0, i0 + 8 NV) of y over all the rows, as fr_wrow_axpy_avx2's F16 loop */
static inline __attribute__((always_inline)) void axpy_rows_f16(int NV, const char *rows, size_t rb, int64_t n_rows,
                                                                const float *a, float *y, int64_t i0) {
    __m256 acc[8];
    FR_UNROLL for (int k = 0; k < NV; k++) acc[k] = _mm256_loadu_ps(y + i0 + 8 * k);
    for (int64_t i = 0; i < n_rows; i++) {
        const fr_f16 *w = (const fr_f16 *)(rows + (size_t)i * rb) + i0;
        const __m256 va = _mm256_set1_ps(a[i]);
        FR_UNROLL for (int k = 0; k < NV; k++)
            acc[k] = _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 8 * k))), acc[k]);
    }
    FR_UNROLL for (int k = 0; k < NV; k++) _mm256_storeu_ps(y + i0 + 8 * k, acc[k]);
}

/* The rows are read column slice by column slice, a strided walk: their lines are asked for
 * up front (a head's W_UK rows are 36 KiB in Q4_0, which stays in L1/L2 meanwhile). */
void fr_wrow_axpy_rows_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                            int64_t n, const void *next) {
    const char *r = rows;
    const size_t bytes = (size_t)n_rows * row_bytes;
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(r + off, _MM_HINT_T0);
    const int64_t passes = type == FR_TYPE_F16 ? n / 64 + n % 64 / 8 : (n / 32 + 1) / 2;
    fr_next_prefetch pf = fr_next_prefetch_init(next, bytes, passes);
    if (type == FR_TYPE_F16) {
        int64_t i = 0;
        for (; i + 64 <= n; i += 64) fr_next_prefetch_step(&pf), axpy_rows_f16(8, r, row_bytes, n_rows, a, y, i);
        for (; i + 8 <= n; i += 8) fr_next_prefetch_step(&pf), axpy_rows_f16(1, r, row_bytes, n_rows, a, y, i);
        for (int64_t k = 0; k < n_rows; k++) { /* the tail, row after row as fr_wrow_axpy_avx2 */
            const fr_f16 *w = (const fr_f16 *)(r + (size_t)k * row_bytes);
            for (int64_t j = i; j < n; j++) y[j] += a[k] * fr_f16_to_f32(w[j]);
        }
        return;
    }
    const int64_t nb = n / 32;
    if (fr_wrow_kquant(type)) { /* (passes: pairs of groups, as for Q4_0 and Q8_0) */
        if (type == FR_TYPE_Q4_K)
            kaxpy_all(FR_TYPE_Q4_K, r, row_bytes, n_rows, a, y, n, &pf);
        else if (type == FR_TYPE_Q5_K)
            kaxpy_all(FR_TYPE_Q5_K, r, row_bytes, n_rows, a, y, n, &pf);
        else
            kaxpy_all(FR_TYPE_Q6_K, r, row_bytes, n_rows, a, y, n, &pf);
        return;
    }
    if (type == FR_TYPE_Q4_1)
        min_axpy_rows(FR_TYPE_Q4_1, r, row_bytes, n_rows, a, y, n, &pf);
    else if (type == FR_TYPE_Q5_1)
        min_axpy_rows(FR_TYPE_Q5_1, r, row_bytes, n_rows, a, y, n, &pf);
    else
        FR_I8_DISPATCH(type, axpy_rows_i8, r, row_bytes, n_rows, a, y, nb, &pf);
}

/* Two rows' dot products with x, sharing the loads of x; each row's sums are those of
 * fr_wrow_dot_avx2 (two accumulators alternating by block, then hsum8). */
static inline __attribute__((always_inline)) void dot2_q(int type, const char *r0, const char *r1, const float *x,
                                                         int64_t nb, float *out) {
    __m256 acc[2][2] = {{_mm256_setzero_ps(), _mm256_setzero_ps()}, {_mm256_setzero_ps(), _mm256_setzero_ps()}};
    const char *row[2] = {r0, r1};
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * 32;
        const __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8), x2 = _mm256_loadu_ps(xb + 16),
                     x3 = _mm256_loadu_ps(xb + 24);
        FR_UNROLL for (int k = 0; k < 2; k++) {
            __m256 f[4];
            fr_wrow_i8_to_ps(fr_wrow_block_i8(type, row[k], b), f);
            __m256 s = _mm256_mul_ps(f[0], x0);
            s = _mm256_fmadd_ps(f[1], x1, s);
            s = _mm256_fmadd_ps(f[2], x2, s);
            s = _mm256_fmadd_ps(f[3], x3, s);
            acc[k][b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(fr_wrow_block_scale(type, row[k], b)), s, acc[k][b & 1]);
        }
    }
    out[0] = fr_hsum8_avx2(_mm256_add_ps(acc[0][0], acc[0][1]));
    out[1] = fr_hsum8_avx2(_mm256_add_ps(acc[1][0], acc[1][1]));
}

static void dot2_q4_0(const char *r0, const char *r1, const float *x, int64_t nb, float *out) {
    dot2_q(FR_TYPE_Q4_0, r0, r1, x, nb, out);
}

static void dot2_q5_0(const char *r0, const char *r1, const float *x, int64_t nb, float *out) {
    dot2_q(FR_TYPE_Q5_0, r0, r1, x, nb, out);
}

static void dot2_iq4_nl(const char *r0, const char *r1, const float *x, int64_t nb, float *out) {
    dot2_q(FR_TYPE_IQ4_NL, r0, r1, x, nb, out);
}

static void dot2_q8_0(const char *r0, const char *r1, const float *x, int64_t nb, float *out) {
    dot2_q(FR_TYPE_Q8_0, r0, r1, x, nb, out);
}

void fr_wrow_dot_rows_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                           float *out, const void *next) {
    fr_wrow_dot2_fn dot2 = type == FR_TYPE_Q4_0     ? dot2_q4_0
                           : type == FR_TYPE_Q5_0   ? dot2_q5_0
                           : type == FR_TYPE_IQ4_NL ? dot2_iq4_nl
                           : type == FR_TYPE_Q8_0   ? dot2_q8_0
                                                    : NULL;
    fr_wrow_dot_rows_by_pairs(type, rows, row_bytes, n_rows, x, n, out, next, dot2);
}

/* wrow_avx2.c: AVX2/FMA/F16C kernels of wrow.c for Q4_0, Q5_0, IQ4_NL, Q8_0, Q4_1, Q5_1, F16
 * and Q2_K to Q6_K rows.
 * A Q4_0 or Q8_0 block's 32 values become four vectors of exact floats q; its scale d
 * multiplies the block's partial sum (dot) or the scalar a (axpy), not each value. The
 * K-quants' weights are formed per value (below). */
#include "wrow_simd.h"

/* full unrolling of the register-block loops (constant trip counts) */
#define FR_UNROLL FR_PRAGMA_UNROLL(8)
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

/* ---- weights formed per value (wrow_simd.h): the K-quants and Q4_1 / Q5_1 ----
 *
 * A unit is 32 values: group j of a K-quant block (8 units a block, whose scales are taken
 * once per row and block), or one Q4_1 / Q5_1 block. Its weights are formed as fma(s, q, -m)
 * (Q3_K, Q6_K: s q; Q4_1, Q5_1: fma(d, q, m)) before their product with x or a. */
/* unit j of block b of a row (K-quants: ks holds the block's scales), values 8k .. 8k + 7
 * in w[k] */
FR_INLINE void unit_weights(int type, const char *row, int64_t b, int j, const fr_kscales *ks, __m256 w[4]) {
    __m256 f[4];
    if (fr_wrow_min_type(type)) {
        float d, m;
        fr_wrow_i8_to_ps(fr_wrow_min_q(type, row, b, &d, &m), f); /* (0..31: the signed widening is exact) */
        FR_UNROLL for (int k = 0; k < 4; k++) w[k] = _mm256_fmadd_ps(_mm256_set1_ps(d), f[k], _mm256_set1_ps(m));
        return;
    }
    fr_wrow_i8_to_ps(fr_wrow_kgroup_q(type, row + (size_t)b * fr_wrow_kblock_bytes(type), j), f);
    FR_UNROLL for (int k = 0; k < 4; k++) {
        const __m256 sk = _mm256_broadcast_ss(&ks->s[2 * j + k / 2]);
        w[k] = fr_wrow_kscale_only(type) ? _mm256_mul_ps(sk, f[k])
                                         : _mm256_fmsub_ps(sk, f[k], _mm256_broadcast_ss(&ks->m[2 * j + k / 2]));
    }
}

/* a row's dot product with x: four accumulators, value 8k + l of every unit into acc[k] */
FR_INLINE float wdot(int type, const char *row, const float *x, int64_t n) {
    const int G = fr_wrow_units_per_block(type);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    fr_kscales ks;
    for (int64_t b = 0; b < n / (32 * G); b++) {
        if (G > 1) fr_wrow_kblock_scales(type, row + (size_t)b * fr_wrow_kblock_bytes(type), &ks);
        FR_UNROLL for (int j = 0; j < G; j++) {
            __m256 w[4];
            unit_weights(type, row, b, j, &ks, w);
            const float *xu = x + (b * G + j) * 32;
            FR_UNROLL for (int k = 0; k < 4; k++) acc[k] = _mm256_fmadd_ps(w[k], _mm256_loadu_ps(xu + 8 * k), acc[k]);
        }
    }
    return fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

/* Units [j0, j0 + NU) of block b: y += sum_r a[r] row_r over rows [r0, r1), y in registers,
 * one FMA per value and row, in row order (K-quants: ks[r - r0] holds row r's scales; Q4_1 / Q5_1:
 * the units are blocks b .. b + NU - 1, j0 = 0) */
FR_INLINE void waxpy_units(int type, int NU, const char *rows, size_t rb, int64_t r0, int64_t r1, const fr_kscales *ks,
                           const float *a, float *y, int64_t b, int j0) {
    const bool k = fr_wrow_units_per_block(type) > 1;
    __m256 v[8];
    float *yu = y + (k ? b * 8 + j0 : b) * 32;
    FR_UNROLL for (int i = 0; i < 4 * NU; i++) v[i] = _mm256_loadu_ps(yu + 8 * i);
    for (int64_t r = r0; r < r1; r++) {
        const __m256 va = _mm256_set1_ps(a[r]);
        FR_UNROLL for (int u = 0; u < NU; u++) {
            __m256 w[4];
            unit_weights(type, rows + (size_t)r * rb, k ? b : b + u, k ? j0 + u : 0, k ? &ks[r - r0] : NULL, w);
            FR_UNROLL for (int q = 0; q < 4; q++) v[4 * u + q] = _mm256_fmadd_ps(va, w[q], v[4 * u + q]);
        }
    }
    FR_UNROLL for (int i = 0; i < 4 * NU; i++) _mm256_storeu_ps(yu + 8 * i, v[i]);
}

FR_WROW_WAXPY_ROWS(2)

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

/* Block b of dot_q: its product with each input, scaled, into acc[r T + t] */
FR_INLINE void dot_q_block(int type, int R, const char *const *row, int T, const float *const *xs, int64_t b,
                           __m256 *acc) {
    FR_UNROLL for (int r = 0; r < R; r++) {
        __m256 f[4];
        fr_wrow_block_ps(type, row[r], b, f);
        const __m256 d = _mm256_set1_ps(fr_wrow_block_scale(type, row[r], b));
        FR_UNROLL for (int t = 0; t < T; t++) acc[r * T + t] =
            _mm256_fmadd_ps(d, fr_wrow_block_dot8(f, xs[t] + b * 32), acc[r * T + t]);
    }
}

/* Dot products of R rows with T inputs (R T <= 4), out[r T + t]: each block's floats made
 * once for the T inputs, each input's loads shared by the R rows. Each row's sums are those of
 * fr_wrow_dot_avx2 (two accumulators alternating by block, then hsum8). */
static inline __attribute__((always_inline)) void dot_q(int type, int R, const char *const *row, int T,
                                                        const float *const *xs, int64_t nb, float *out) {
    __m256 even[4], odd[4]; /* (blocks b & 1 == 0, 1: two named arrays, not acc[v][b & 1], whose
                             * runtime index put the sums on the stack: kbench wrow Q4_0 128
                             * 512 1 7.9 -> 8.3 GMAC/s from this alone; 4 inputs within noise) */
    FR_UNROLL for (int v = 0; v < R * T; v++) even[v] = odd[v] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        dot_q_block(type, R, row, T, xs, b, even);
        dot_q_block(type, R, row, T, xs, b + 1, odd);
    }
    if (b < nb) dot_q_block(type, R, row, T, xs, b, even);
    FR_UNROLL for (int v = 0; v < R * T; v++) out[v] = fr_hsum8_avx2(_mm256_add_ps(even[v], odd[v]));
}

/* a row of an i8 type (fr_wrow_i8_type) dotted with x: two accumulators alternating by block */
FR_INLINE void dot_i8(int type, const void *row, const float *x, int64_t n, float *out) {
    const char *const r[1] = {row};
    dot_q(type, 1, r, 1, &x, n / 32, out);
}

/* y += a row of an i8 type: per block, a times its scale, then an FMA per value */
FR_INLINE void axpy_i8(int type, const void *row, float a, float *y, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++) {
        __m256 f[4];
        fr_wrow_block_ps(type, row, b, f);
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
    float s;
    if (fr_wrow_kquant(type) || fr_wrow_min_type(type)) {
#define WDOT(T, ...) s = wdot(T, __VA_ARGS__)
        FR_WROW_FORMED_DISPATCH(type, WDOT, row, x, n);
#undef WDOT
        return s;
    }
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

/* Blocks [b, b + NB) of ys[t] += sum_i as[t][i] row_i for T inputs (NB T <= 2) and all n_rows
 * rows, the 8 NB T floats in registers across the rows: each value gets the same FMAs, in the
 * same row order, as from n_rows fr_wrow_axpy_avx2 calls, without a load and store of y per
 * row; each block's floats are made once for the T inputs. */
static inline __attribute__((always_inline)) void axpy_rows_q(int type, int NB, int T, const char *rows, size_t rb,
                                                              int64_t n_rows, const float *const *as, float *const *ys,
                                                              int64_t b) {
    __m256 acc[8]; /* [(t NB + j) 4 + k] */
    FR_UNROLL for (int t = 0; t < T; t++) FR_UNROLL for (int j = 0; j < NB; j++) FR_UNROLL for (int k = 0; k < 4; k++)
        acc[(t * NB + j) * 4 + k] = _mm256_loadu_ps(ys[t] + 32 * (b + j) + 8 * k);
    for (int64_t i = 0; i < n_rows; i++) {
        const char *row = rows + (size_t)i * rb;
        FR_UNROLL for (int j = 0; j < NB; j++) {
            __m256 f[4];
            fr_wrow_block_ps(type, row, b + j, f);
            const float d = fr_wrow_block_scale(type, row, b + j);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m256 sc = _mm256_set1_ps(as[t][i] * d);
                FR_UNROLL for (int k = 0; k < 4; k++) acc[(t * NB + j) * 4 + k] =
                    _mm256_fmadd_ps(sc, f[k], acc[(t * NB + j) * 4 + k]);
            }
        }
    }
    FR_UNROLL for (int t = 0; t < T; t++) FR_UNROLL for (int j = 0; j < NB; j++) FR_UNROLL for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(ys[t] + 32 * (b + j) + 8 * k, acc[(t * NB + j) * 4 + k]);
}

/* every block of y over all the rows, two blocks per pass */
FR_INLINE void axpy_rows_i8(int type, const char *r, size_t rb, int64_t n_rows, const float *a, float *y, int64_t nb,
                            fr_next_prefetch *pf) {
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2)
        fr_next_prefetch_step(pf), axpy_rows_q(type, 2, 1, r, rb, n_rows, &a, &y, b);
    for (; b < nb; b++)
        fr_next_prefetch_step(pf), axpy_rows_q(type, 1, 1, r, rb, n_rows, &a, &y, b);
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
    if (fr_wrow_kquant(type) || fr_wrow_min_type(type)) /* (passes: pairs of units, as below) */
        FR_WROW_FORMED_DISPATCH(type, waxpy_rows, r, row_bytes, n_rows, a, y, n, &pf);
    else
        FR_I8_DISPATCH(type, axpy_rows_i8, r, row_bytes, n_rows, a, y, nb, &pf);
}

/* two rows, one input (fr_wrow_dot_rows_by_pairs) */
static inline __attribute__((always_inline)) void dot2_q(int type, const char *r0, const char *r1, const float *x,
                                                         int64_t nb, float *out) {
    const char *const row[2] = {r0, r1};
    dot_q(type, 2, row, 1, &x, nb, out);
}

FR_WROW_DOT2_FN(dot2_q4_0, dot2_q, FR_TYPE_Q4_0)
FR_WROW_DOT2_FN(dot2_q5_0, dot2_q, FR_TYPE_Q5_0)
FR_WROW_DOT2_FN(dot2_iq4_nl, dot2_q, FR_TYPE_IQ4_NL)
FR_WROW_DOT2_FN(dot2_q8_0, dot2_q, FR_TYPE_Q8_0)

void fr_wrow_dot_rows_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                           float *out, const void *next) {
    fr_wrow_dot2_fn dot2 = type == FR_TYPE_Q4_0     ? dot2_q4_0
                           : type == FR_TYPE_Q5_0   ? dot2_q5_0
                           : type == FR_TYPE_IQ4_NL ? dot2_iq4_nl
                           : type == FR_TYPE_Q8_0   ? dot2_q8_0
                                                    : NULL;
    fr_wrow_dot_rows_by_pairs(type, rows, row_bytes, n_rows, x, n, out, next, dot2);
}

/* ---- several inputs over the same rows (fr_wrow_*_rows_multi, kernels.h) ----
 *
 * Each block's floats are made once for up to FR_WROW_MAX_T inputs (the dequantization is most
 * of the work); each input's results are bit for bit those of its own fr_wrow_dot_rows /
 * fr_wrow_axpy_rows call: the same sums and FMAs in the same order. (Batched MLA decode with
 * AVX2, where a head's W_UK and W_UV otherwise went through once per token.) */

FR_INLINE void dot_rows_multi_i8(int type, int T, const char *rows, size_t rb, int64_t n_rows, const float *const *xs,
                                 int64_t n, float *const *outs, const void *next) {
    fr_next_prefetch pf = fr_next_prefetch_init(next, (size_t)n_rows * rb, n_rows);
    for (int64_t i = 0; i < n_rows; i++) {
        const char *r = rows + (size_t)i * rb;
        fr_wrow_prefetch_ahead(r, rb);
        fr_next_prefetch_step(&pf);
        float o[FR_WROW_MAX_T];
        dot_q(type, 1, &r, T, xs, n / 32, o);
        for (int t = 0; t < T; t++)
            outs[t][i] = o[t];
    }
}

/* Half h of block b (values 16 h .. 16 h + 15) of ys[t] += sum_i as[t][i] row_i for T inputs
 * and rows [0, n_rows): 2 T floats in registers. sc[i][t] holds as[t][i] d_i, broadcast from
 * memory; the value vectors of the other half go unused (the compiler drops them). */
FR_INLINE void axpy_rows_half(int type, int T, const char *rows, size_t rb, int64_t n_rows, const float (*sc)[4],
                              float *const *ys, int64_t b, int h) {
    __m256 acc[2 * FR_WROW_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) FR_UNROLL for (int k = 0; k < 2; k++) acc[2 * t + k] =
        _mm256_loadu_ps(ys[t] + 32 * b + 16 * h + 8 * k);
    for (int64_t i = 0; i < n_rows; i++) {
        __m256 f[4];
        fr_wrow_block_ps(type, rows + (size_t)i * rb, b, f);
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m256 s = _mm256_broadcast_ss(&sc[i][t]);
            acc[2 * t] = _mm256_fmadd_ps(s, f[2 * h], acc[2 * t]);
            acc[2 * t + 1] = _mm256_fmadd_ps(s, f[2 * h + 1], acc[2 * t + 1]);
        }
    }
    FR_UNROLL for (int t = 0; t < T; t++) FR_UNROLL for (int k = 0; k < 2; k++)
        _mm256_storeu_ps(ys[t] + 32 * b + 16 * h + 8 * k, acc[2 * t + k]);
}

/* Two inputs: axpy_rows_q's one pass a block (their y slices fill the registers). Three or
 * four: each block in two half passes that hold all the inputs' slices, each row's products
 * a d for all of them one 128-bit multiply beforehand (sc), so a block's values are made once
 * a half rather than once per pair of inputs, and the FMAs broadcast from memory rather than
 * from a register each: kbench wrow Q4_0 128 512 T, FRUGAL_ISA=avx2 (one thread, Intel Xeon of
 * the 61st session; a head's rows in L2), 4 inputs 233 -> 174 us, 3 inputs 207 -> 153; Q8_0
 * 4 inputs 272 -> 218. The same FMAs in the same order: the same bits. */
FR_INLINE void axpy_rows_multi_i8(int type, int T, const char *rows, size_t rb, int64_t n_rows, const float *const *as,
                                  float *const *ys, int64_t n, const void *next) {
    const size_t bytes = (size_t)n_rows * rb;
    for (size_t off = 0; off < bytes; off += 64)
        _mm_prefetch(rows + off, _MM_HINT_T0);
    const int64_t nb = n / 32;
    fr_next_prefetch pf = fr_next_prefetch_init(next, bytes, nb);
    if (T <= 2) {
        for (int64_t b = 0; b < nb; b++) {
            fr_next_prefetch_step(&pf);
            axpy_rows_q(type, 1, T, rows, rb, n_rows, as, ys, b);
        }
        return;
    }
    float at[FR_WROW_COEF_ROWS][4] __attribute__((aligned(16)));
    float sc[FR_WROW_COEF_ROWS][4] __attribute__((aligned(16)));
    for (int64_t i0 = 0; i0 < n_rows; i0 += FR_WROW_COEF_ROWS) {
        const int64_t m = FR_MIN(n_rows - i0, FR_WROW_COEF_ROWS);
        const char *r = rows + (size_t)i0 * rb;
        fr_wrow_coef_lanes(as, T, i0, m, at);
        for (int64_t b = 0; b < nb; b++) {
            if (i0 == 0) fr_next_prefetch_step(&pf);
            fr_wrow_scale_products(type, 1, r, rb, m, b, at, sc);
            axpy_rows_half(type, T, r, rb, m, sc, ys, b, 0);
            axpy_rows_half(type, T, r, rb, m, sc, ys, b, 1);
        }
    }
}

bool fr_wrow_dot_rows_multi_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *xs,
                                 int T, int64_t n, float *const *outs, const void *next) {
    if (!fr_wrow_i8_type(type) || T < 2 || T > FR_WROW_MAX_T) return false; /* (one input: dot2_q's pairs) */
    FR_WROW_I8_BY_T(type, T, dot_rows_multi_i8, rows, row_bytes, n_rows, xs, n, outs, next);
    return true;
}

bool fr_wrow_axpy_rows_multi_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *as,
                                  float *const *ys, int T, int64_t n, const void *next) {
    if (!fr_wrow_i8_type(type) || T < 2 || T > FR_WROW_MAX_T) return false; /* (one input: two blocks a pass) */
    FR_WROW_I8_BY_T(type, T, axpy_rows_multi_i8, rows, row_bytes, n_rows, as, ys, n, next);
    return true;
}

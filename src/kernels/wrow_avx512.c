/* wrow_avx512.c: the multi-row kernels of wrow_avx2.c (fr_wrow_dot_rows, fr_wrow_axpy_rows)
 * on 512-bit registers (AVX-512F), for every type wrow_avx2.c takes but F16. Built with
 * -mavx512f; wrow.c runs them only where fr_cpu_has(FR_ISA_AVX512). Bit for bit the AVX2
 * results:
 *
 * axpy: every value of y is its own chain of FMAs over the rows in order (y = fma(a_i d, q, y)
 * for the int8-block types, y = fma(a_i, w, y) with w formed per value for the others), so 16
 * lanes over 16 consecutive values do what two 8-lane registers did.
 *
 * dot, int8-block types (Q4_0, Q5_0, IQ4_NL, Q8_0): the AVX2 kernel sums a block into an
 * 8-lane vector s = q0 x0 + q1 x1 + q2 x2 + q3 x3 (one product, three FMAs; q_k and x_k are
 * values 8k .. 8k + 7 of the block), then adds d * s into one of two accumulators, even blocks
 * into the first, odd into the second, and finally reduces first + second with fr_hsum8_avx2.
 * Here a zmm holds two blocks: its low half is an even block b, its high half block b + 1,
 * for the same 8 positions, so its halves are exactly those two accumulators. An odd block
 * count ends with one even block on 256-bit registers, into the low half.
 *
 * dot, weights formed per value (K-quants, Q4_1, Q5_1): see wdot2. (One thread, rows in
 * cache, 128 x 512 Q4_K rows: dot_rows 4.60 -> 3.25 us, axpy_rows 4.23 -> 2.53 against the
 * AVX2 kernels; Q5_K, Q6_K, Q4_1, Q5_1, Q5_0 and IQ4_NL 1.34-1.67x.) */
#include "wrow_simd.h"

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL FR_PRAGMA_UNROLL(16)

bool fr_wrow_has_avx512(int type) { return fr_wrow_i8_type(type) || fr_wrow_kquant(type) || fr_wrow_min_type(type); }

/* 32 int8 values as exact floats, values 0..15 in f[0] and 16..31 in f[1] */
FR_INLINE void i8_to_ps2(__m256i q, __m512 f[2]) {
    f[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    f[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
}

/* The 4-bit types (Q4_0, IQ4_NL): the 16 values a nibble stands for, as floats (the same floats
 * the int8 path makes: q - 8, or IQ4_NL's table). vpermps reads only an index's low 4 bits, so
 * a byte zero-extended to a dword indexes by its low nibble as it is, and by its high one after
 * a shift: 2 ops for 16 values where the int8 path takes 4 to 6. */
FR_INLINE bool nibble_type(int type) { return type == FR_TYPE_Q4_0 || type == FR_TYPE_IQ4_NL; }

FR_INLINE __m512 nibble_values(int type) {
    if (type == FR_TYPE_Q4_0)
        return _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)fr_iq4nl_values)));
}

/* the nibbles of a block's 16 bytes qs (Q4_0 and IQ4_NL share the layout) */
FR_INLINE const uint8_t *nibble_bytes(int type, const void *row, int64_t b) {
    return type == FR_TYPE_Q4_0 ? ((const block_q4_0 *)row + b)->qs : ((const block_iq4_nl *)row + b)->qs;
}

/* a block's values 0..15 and 16..31 as exact floats */
FR_INLINE void block_ps(int type, const void *row, int64_t b, __m512 f[2]) {
    if (nibble_type(type)) {
        const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)nibble_bytes(type, row, b)));
        const __m512 tab = nibble_values(type);
        f[0] = _mm512_permutexvar_ps(v, tab);
        f[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), tab);
        return;
    }
    i8_to_ps2(fr_wrow_block_i8(type, row, b), f);
}

FR_INLINE __m512 join(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

/* ---- weights formed per value: the K-quants and Q4_1 / Q5_1 (wrow_simd.h) ----
 *
 * A unit is 32 values: group j of a K-quant block (G = 8 units a block, whose scales are taken
 * once per row and block), or one Q4_1 / Q5_1 block (G = 1). Its weights go into two zmm,
 * values 0..15 and 16..31, formed as wrow_avx2.c forms them (fma(s, q, -m), s q, fma(d, q,
 * m)), so each weight has the same bits. */
/* unit j of block b of a row (K-quants: ks holds the block's scales) */
FR_INLINE void unit_weights(int type, const char *row, int64_t b, int j, const fr_kscales *ks, __m512 w[2]) {
    __m512 f[2];
    if (fr_wrow_min_type(type)) {
        float d, m;
        i8_to_ps2(fr_wrow_min_q(type, row, b, &d, &m), f);
        FR_UNROLL for (int k = 0; k < 2; k++) w[k] = _mm512_fmadd_ps(_mm512_set1_ps(d), f[k], _mm512_set1_ps(m));
        return;
    }
    i8_to_ps2(fr_wrow_kgroup_q(type, row + (size_t)b * fr_wrow_kblock_bytes(type), j), f);
    FR_UNROLL for (int k = 0; k < 2; k++) {
        const __m512 s = _mm512_set1_ps(ks->s[2 * j + k]);
        w[k] = fr_wrow_kscale_only(type) ? _mm512_mul_ps(s, f[k])
                                         : _mm512_fmsub_ps(s, f[k], _mm512_set1_ps(ks->m[2 * j + k]));
    }
}

/* Two rows' dot products with x (nb32 units), sharing the loads of x. wrow_avx2.c sums value
 * 8k + l of every unit into its acc[k] and ends with hsum8((acc0 + acc1) + (acc2 + acc3));
 * here acc[0] holds acc0 | acc1 and acc[1] acc2 | acc3. */
FR_INLINE void wdot2(int type, const char *r0, const char *r1, const float *x, int64_t nb32, float *out) {
    const int G = fr_wrow_units_per_block(type);
    const char *row[2] = {r0, r1};
    __m512 acc[2][2] = {{_mm512_setzero_ps(), _mm512_setzero_ps()}, {_mm512_setzero_ps(), _mm512_setzero_ps()}};
    fr_kscales ks[2];
    for (int64_t b = 0; b < nb32 / G; b++) {
        if (G > 1)
            FR_UNROLL for (int r = 0; r < 2; r++)
                fr_wrow_kblock_scales(type, row[r] + (size_t)b * fr_wrow_kblock_bytes(type), &ks[r]);
        FR_UNROLL for (int j = 0; j < G; j++) {
            const float *xu = x + (b * G + j) * 32;
            const __m512 x0 = _mm512_loadu_ps(xu), x1 = _mm512_loadu_ps(xu + 16);
            FR_UNROLL for (int r = 0; r < 2; r++) {
                __m512 w[2];
                unit_weights(type, row[r], b, j, &ks[r], w);
                acc[r][0] = _mm512_fmadd_ps(w[0], x0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(w[1], x1, acc[r][1]);
            }
        }
    }
    FR_UNROLL for (int r = 0; r < 2; r++) {
        const __m256 a01 = _mm256_add_ps(_mm512_castps512_ps256(acc[r][0]),
                                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][0]), 1)));
        const __m256 a23 = _mm256_add_ps(_mm512_castps512_ps256(acc[r][1]),
                                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][1]), 1)));
        out[r] = fr_hsum8_avx2(_mm256_add_ps(a01, a23));
    }
}

/* Units [j0, j0 + NU) of block b: y += sum_r a[r] row_r over rows [r0, r1), y in registers,
 * one FMA per value and row, in row order (K-quants: ks[r - r0] holds row r's scales; Q4_1 / Q5_1:
 * the units are blocks b .. b + NU - 1) */
FR_INLINE void waxpy_units(int type, int NU, const char *rows, size_t rb, int64_t r0, int64_t r1, const fr_kscales *ks,
                           const float *a, float *y, int64_t b, int j0) {
    const bool k = fr_wrow_units_per_block(type) > 1; /* else the units are blocks b, b + 1, ... (j0 = 0) */
    __m512 v[8];
    float *yu = y + (k ? b * 8 + j0 : b) * 32;
    FR_UNROLL for (int i = 0; i < 2 * NU; i++) v[i] = _mm512_loadu_ps(yu + 16 * i);
    for (int64_t r = r0; r < r1; r++) {
        const __m512 va = _mm512_set1_ps(a[r]);
        FR_UNROLL for (int u = 0; u < NU; u++) {
            __m512 w[2];
            unit_weights(type, rows + (size_t)r * rb, k ? b : b + u, k ? j0 + u : 0, k ? &ks[r - r0] : NULL, w);
            v[2 * u] = _mm512_fmadd_ps(va, w[0], v[2 * u]);
            v[2 * u + 1] = _mm512_fmadd_ps(va, w[1], v[2 * u + 1]);
        }
    }
    FR_UNROLL for (int i = 0; i < 2 * NU; i++) _mm512_storeu_ps(yu + 16 * i, v[i]);
}

FR_WROW_WAXPY_ROWS(4)

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
    if (fr_wrow_kquant(type) || fr_wrow_min_type(type)) {
        const int64_t passes = fr_wrow_kquant(type) ? n / QK_K * 2 : n / 128 + n % 128 / 32;
        fr_next_prefetch pf = fr_next_prefetch_init(next, bytes, passes);
        FR_WROW_FORMED_DISPATCH(type, waxpy_rows, r, row_bytes, n_rows, a, y, n, &pf);
        return;
    }
    fr_next_prefetch pf = fr_next_prefetch_init(next, bytes, n / 128 + n / 32 % 4);
    FR_I8_DISPATCH(type, axpy_rows_type, r, row_bytes, n_rows, a, y, n, &pf);
}

/* ---- dot ---- */

/* Blocks b (low halves) and b + 1 (high halves): f[k] holds values 8k .. 8k + 7 of each */
FR_INLINE void pair_ps(int type, const void *row, int64_t b, __m512 f[4]) {
    if (nibble_type(type)) { /* bytes 0..7 (values 0..7 low, 16..23 high), then bytes 8..15 */
        const __m128i q0 = _mm_loadu_si128((const __m128i *)nibble_bytes(type, row, b));
        const __m128i q1 = _mm_loadu_si128((const __m128i *)nibble_bytes(type, row, b + 1));
        const __m512i lo = _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(q0, q1));
        const __m512i hi = _mm512_cvtepu8_epi32(_mm_unpackhi_epi64(q0, q1));
        const __m512 tab = nibble_values(type);
        f[0] = _mm512_permutexvar_ps(lo, tab);
        f[1] = _mm512_permutexvar_ps(hi, tab);
        f[2] = _mm512_permutexvar_ps(_mm512_srli_epi32(lo, 4), tab);
        f[3] = _mm512_permutexvar_ps(_mm512_srli_epi32(hi, 4), tab);
        return;
    }
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
            fr_wrow_block_ps(type, row[r], b, f);
            even = _mm256_fmadd_ps(_mm256_set1_ps(fr_wrow_block_scale(type, row[r], b)),
                                   fr_wrow_block_dot8(f, x + b * 32), even);
        }
        out[r] = fr_hsum8_avx2(_mm256_add_ps(even, odd));
    }
}

FR_WROW_DOT2_FN(dot2_q4_0, dot2_q, FR_TYPE_Q4_0)
FR_WROW_DOT2_FN(dot2_q5_0, dot2_q, FR_TYPE_Q5_0)
FR_WROW_DOT2_FN(dot2_iq4_nl, dot2_q, FR_TYPE_IQ4_NL)
FR_WROW_DOT2_FN(dot2_q8_0, dot2_q, FR_TYPE_Q8_0)
FR_WROW_DOT2_FN(wdot2_q2_K, wdot2, FR_TYPE_Q2_K)
FR_WROW_DOT2_FN(wdot2_q3_K, wdot2, FR_TYPE_Q3_K)
FR_WROW_DOT2_FN(wdot2_q4_K, wdot2, FR_TYPE_Q4_K)
FR_WROW_DOT2_FN(wdot2_q5_K, wdot2, FR_TYPE_Q5_K)
FR_WROW_DOT2_FN(wdot2_q6_K, wdot2, FR_TYPE_Q6_K)
FR_WROW_DOT2_FN(wdot2_q4_1, wdot2, FR_TYPE_Q4_1)
FR_WROW_DOT2_FN(wdot2_q5_1, wdot2, FR_TYPE_Q5_1)

void fr_wrow_dot_rows_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                             float *out, const void *next) {
    fr_wrow_dot2_fn dot2 = NULL;
    switch (type) {
    case FR_TYPE_Q4_0: dot2 = dot2_q4_0; break;
    case FR_TYPE_Q5_0: dot2 = dot2_q5_0; break;
    case FR_TYPE_IQ4_NL: dot2 = dot2_iq4_nl; break;
    case FR_TYPE_Q8_0: dot2 = dot2_q8_0; break;
    case FR_TYPE_Q2_K: dot2 = wdot2_q2_K; break;
    case FR_TYPE_Q3_K: dot2 = wdot2_q3_K; break;
    case FR_TYPE_Q4_K: dot2 = wdot2_q4_K; break;
    case FR_TYPE_Q5_K: dot2 = wdot2_q5_K; break;
    case FR_TYPE_Q6_K: dot2 = wdot2_q6_K; break;
    case FR_TYPE_Q4_1: dot2 = wdot2_q4_1; break;
    case FR_TYPE_Q5_1: dot2 = wdot2_q5_1; break;
    }
    fr_wrow_dot_rows_by_pairs(type, rows, row_bytes, n_rows, x, n, out, next, dot2);
}

/* ---- several inputs over the same rows (fr_wrow_dot_rows_multi, fr_wrow_axpy_rows_multi) ----
 * The int8-block types: each block's values are made floats once for all T inputs, and each
 * input's sums take the steps of dot2_q / axpy_rows_q above in the same order, so every
 * result has the one-input call's bits. */

/* Input x's values as pair_ps holds a row's: for each pair of blocks (b, b + 1), four zmm,
 * the k-th holding values 8k .. 8k + 7 of block b, then those of block b + 1 (nb / 2 pairs,
 * 64 floats each) */
FR_INLINE void join_pairs(const float *x, int64_t nb, float *xj) {
    for (int64_t b = 0; b + 2 <= nb; b += 2)
        FR_UNROLL for (int k = 0; k < 4; k++) _mm512_storeu_ps(
            xj + b * 32 + 16 * k, join(_mm256_loadu_ps(x + b * 32 + 8 * k), _mm256_loadu_ps(x + b * 32 + 32 + 8 * k)));
}

/* dot2_q for T inputs: rows r0 and r1 with xs[0..T) (xjs: their join_pairs), results into
 * outs[t][0..1] */
FR_INLINE void dot2_q_multi(int type, const char *r0, const char *r1, const float *const *xs, const float *const *xjs,
                            int T, int64_t nb, float (*outs)[2]) {
    __m512 acc[FR_WROW_MAX_T][2];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    const char *row[2] = {r0, r1};
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512 f[2][4], d[2];
        FR_UNROLL for (int r = 0; r < 2; r++) {
            pair_ps(type, row[r], b, f[r]);
            d[r] = join(_mm256_set1_ps(fr_wrow_block_scale(type, row[r], b)),
                        _mm256_set1_ps(fr_wrow_block_scale(type, row[r], b + 1)));
        }
        FR_UNROLL for (int t = 0; t < T; t++) {
            const float *xb = xjs[t] + b * 32;
            FR_UNROLL for (int r = 0; r < 2; r++) {
                __m512 sum = _mm512_mul_ps(f[r][0], _mm512_loadu_ps(xb));
                sum = _mm512_fmadd_ps(f[r][1], _mm512_loadu_ps(xb + 16), sum);
                sum = _mm512_fmadd_ps(f[r][2], _mm512_loadu_ps(xb + 32), sum);
                sum = _mm512_fmadd_ps(f[r][3], _mm512_loadu_ps(xb + 48), sum);
                acc[t][r] = _mm512_fmadd_ps(d[r], sum, acc[t][r]);
            }
        }
    }
    FR_UNROLL for (int r = 0; r < 2; r++) {
        __m256 f[4];
        float d = 0.0f;
        if (b < nb) {
            fr_wrow_block_ps(type, row[r], b, f);
            d = fr_wrow_block_scale(type, row[r], b);
        }
        FR_UNROLL for (int t = 0; t < T; t++) {
            __m256 even = _mm512_castps512_ps256(acc[t][r]);
            const __m256 odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t][r]), 1));
            if (b < nb) /* the last, even block, on 8 lanes */
                even = _mm256_fmadd_ps(_mm256_set1_ps(d), fr_wrow_block_dot8(f, xs[t] + b * 32), even);
            outs[t][r] = fr_hsum8_avx2(_mm256_add_ps(even, odd));
        }
    }
}

/* the longest rows whose inputs dot_rows_multi_q joins on the stack (T x 4 KiB; MLA's are
 * 128 or 512 long); longer rows take the inputs one at a time */
enum { JOIN_MAX_N = 1024 };

FR_INLINE void dot_rows_multi_q(int type, const char *rows, size_t rb, int64_t n_rows, const float *const *xs, int T,
                                int64_t n, float *const *outs, const void *next) {
    /* each input joined once per call, not once per pair of rows: 4 lane-crossing inserts per
     * pair of blocks and input taken off the shuffle port the dequantization keeps busy
     * (kbench wrow Q4_0 128 512 T, one thread, us: 2 inputs 105-108 -> 95-98, 4 155 -> 143;
     * one input unchanged) */
    float xj[FR_WROW_MAX_T][JOIN_MAX_N] __attribute__((aligned(64)));
    const float *xjs[FR_WROW_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) {
        join_pairs(xs[t], n / 32, xj[t]);
        xjs[t] = xj[t];
    }
    fr_next_prefetch pf = fr_next_prefetch_init(next, (size_t)n_rows * rb, (n_rows + 1) / 2);
    int64_t i = 0;
    for (; i + 2 <= n_rows; i += 2) {
        const char *r0 = rows + (size_t)i * rb;
        fr_wrow_prefetch_ahead(r0, 2 * rb);
        fr_next_prefetch_step(&pf);
        float o[FR_WROW_MAX_T][2];
        dot2_q_multi(type, r0, r0 + rb, xs, xjs, T, n / 32, o);
        for (int t = 0; t < T; t++)
            outs[t][i] = o[t][0], outs[t][i + 1] = o[t][1];
    }
    for (; i < n_rows; i++) {
        fr_next_prefetch_step(&pf);
        for (int t = 0; t < T; t++)
            outs[t][i] = fr_wrow_dot_avx2(type, rows + (size_t)i * rb, xs[t], n);
    }
}

#define DOT_ROWS_MULTI_T(type, T_, rows, rb, n_rows, xs, n, outs, next)                                                \
    dot_rows_multi_q(type, rows, rb, n_rows, xs, T_, n, outs, next)

bool fr_wrow_dot_rows_multi_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *xs,
                                   int T, int64_t n, float *const *outs, const void *next) {
    if (!fr_wrow_i8_type(type) || T < 1 || T > FR_WROW_MAX_T || n > JOIN_MAX_N) return false;
    FR_WROW_I8_BY_T(type, T, DOT_ROWS_MULTI_T, rows, row_bytes, n_rows, xs, n, outs, next);
    return true;
}

/* axpy_rows_q for T inputs: blocks [b, b + NB) of ys[t] += sum_i as[t][i] row_i over rows
 * [0, n_rows) (at most FR_WROW_COEF_ROWS; at: fr_wrow_coef_lanes). A row's scale products
 * for all the inputs come from fr_wrow_scale_products and are broadcast from memory: each
 * input had taken a scalar multiply and a broadcast from a register (the shuffle port the
 * dequantization keeps busy) per block and row. The same products, so the same bits. kbench wrow Q4_0 128 512 T, one thread (Intel Xeon of the
 * 61st session), us: 1 input 72 -> 68, 2 94 -> 81, 3 118-122 -> 94, 4 141 -> 107; IQ4_NL 4
 * inputs 141 -> 107; Q8_0 4 inputs 151 -> 120, but 1 input 80.9 -> 84.2 (kept: one rule for
 * every count, and W_UK is 1-2% of a one-token DeepSeek step). */
FR_INLINE void axpy_rows_q_multi(int type, int NB, const char *rows, size_t rb, int64_t n_rows, const float (*at)[4],
                                 float *const *ys, int T, int64_t b) {
    __m512 acc[FR_WROW_MAX_T][4];
    FR_UNROLL for (int t = 0; t < T; t++) FR_UNROLL for (int k = 0; k < 2 * NB; k++) acc[t][k] =
        _mm512_loadu_ps(ys[t] + 32 * b + 16 * k);
    float sc[FR_WROW_COEF_ROWS * 2][4] __attribute__((aligned(16))); /* row i, block b + j: sc[i NB + j] */
    fr_wrow_scale_products(type, NB, rows, rb, n_rows, b, at, sc);
    for (int64_t i = 0; i < n_rows; i++) {
        const char *row = rows + (size_t)i * rb;
        FR_UNROLL for (int j = 0; j < NB; j++) {
            __m512 f[2];
            block_ps(type, row, b + j, f);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m512 scv = _mm512_set1_ps(sc[i * NB + j][t]);
                acc[t][2 * j] = _mm512_fmadd_ps(scv, f[0], acc[t][2 * j]);
                acc[t][2 * j + 1] = _mm512_fmadd_ps(scv, f[1], acc[t][2 * j + 1]);
            }
        }
    }
    FR_UNROLL for (int t = 0; t < T; t++) FR_UNROLL for (int k = 0; k < 2 * NB; k++)
        _mm512_storeu_ps(ys[t] + 32 * b + 16 * k, acc[t][k]);
}

FR_INLINE void axpy_rows_multi_q(int type, const char *rows, size_t rb, int64_t n_rows, const float *const *as,
                                 float *const *ys, int T, int64_t n, const void *next) {
    const size_t bytes = (size_t)n_rows * rb;
    for (size_t off = 0; off < bytes; off += 64)
        _mm_prefetch(rows + off, _MM_HINT_T0);
    int64_t nb = n / 32;
    fr_next_prefetch pf = fr_next_prefetch_init(next, bytes, nb / 2 + nb % 2);
    float at[FR_WROW_COEF_ROWS][4] __attribute__((aligned(16)));
    for (int64_t i0 = 0; i0 < n_rows; i0 += FR_WROW_COEF_ROWS) { /* (runs of rows, each over all the blocks) */
        const int64_t m = FR_MIN(n_rows - i0, FR_WROW_COEF_ROWS);
        fr_wrow_coef_lanes(as, T, i0, m, at);
        const char *r = rows + (size_t)i0 * rb;
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            if (i0 == 0) fr_next_prefetch_step(&pf);
            axpy_rows_q_multi(type, 2, r, rb, m, at, ys, T, b);
        }
        for (; b < nb; b++) {
            if (i0 == 0) fr_next_prefetch_step(&pf);
            axpy_rows_q_multi(type, 1, r, rb, m, at, ys, T, b);
        }
    }
}

#define AXPY_ROWS_MULTI_T(type, T_, rows, rb, n_rows, as, ys, n, next)                                                 \
    axpy_rows_multi_q(type, rows, rb, n_rows, as, ys, T_, n, next)

bool fr_wrow_axpy_rows_multi_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows,
                                    const float *const *as, float *const *ys, int T, int64_t n, const void *next) {
    if (!fr_wrow_i8_type(type) || T < 1 || T > FR_WROW_MAX_T) return false;
    FR_WROW_I8_BY_T(type, T, AXPY_ROWS_MULTI_T, rows, row_bytes, n_rows, as, ys, n, next);
    return true;
}

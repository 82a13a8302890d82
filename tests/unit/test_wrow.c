/* test_wrow: the single-row float products of MLA decode (src/kernels/wrow.c). For every
 * weight type, at block counts 1, 3 and 17 (and F16/F32 lengths that leave SIMD tails),
 * fr_wrow_dot and fr_wrow_axpy (the SIMD kernel where this CPU has one) agree with a float64
 * product of the row's dequantized values, and with the _ref versions, to float rounding:
 * |delta| <= 2e-6 * sum |w_i x_i| (+ |y| for axpy). Hostile Q8_0 values (-128) included.
 * The multi-row versions (fr_wrow_dot_rows, fr_wrow_axpy_rows) equal the row-by-row calls
 * bit for bit, at 1, 2, 5, 128 and 300 rows and odd lengths (Q4_0, Q5_0, IQ4_NL, Q8_0, Q4_1 and
 * Q5_1 at 1, 3 and 5 blocks; the K-quants, Q2_K to Q6_K, at 1 to 3 blocks; 128 rows cross the
 * axpy's chunks of 32 rows, 300 the several-input axpy's runs of 256; Q4_0 rows of 65 blocks
 * are longer than the several-input AVX-512 dot joins on its stack, 1024 values). Where the CPU has AVX-512, the multi-row
 * calls run wrow_avx512.c's kernels and the one-row calls wrow_avx2.c's, so this also checks
 * that the two ISAs agree bit for bit. tests/run.sh runs it again with FRUGAL_ISA=avx2, where
 * the several-input calls take wrow_avx2.c's multi-input kernels. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"
#include "kernels/kernels.h"

static void run_type(int type, int64_t n, test_rng *rng) {
    const fr_type_traits *tt = fr_type_traits_get(type);
    size_t rb;
    if (!tt || !tt->to_float || !fr_row_size(type, n, &rb)) return;
    char *row = malloc(rb);
    float *f = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)n);
    float *tmp = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    float *y_ref = malloc(sizeof(float) * (size_t)n);
    for (int rep = 0; rep < 3; rep++) {
        for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(rng) * (float)(1 + rep * 7);
        tt->from_float(f, row, n);
        if (type == FR_TYPE_Q8_0 && rep == 2) ((block_q8_0 *)row)[0].qs[5] = -128;
        tt->to_float(row, f, n); /* the row's exact values */
        for (int64_t i = 0; i < n; i++) x[i] = test_rng_float(rng) * 2.0f;
        double want = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) want += (double)f[i] * x[i], mag += fabs((double)f[i] * x[i]);
        float got = fr_wrow_dot(type, row, x, n, tmp), ref = fr_wrow_dot_ref(type, row, x, n, tmp);
        CHECK_NEAR(got, want, 2e-6 * mag + 1e-30, "%s n=%lld dot", tt->name, (long long)n);
        CHECK_NEAR(ref, want, 2e-6 * mag + 1e-30, "%s n=%lld dot_ref", tt->name, (long long)n);
        float a = test_rng_float(rng) * 1.5f;
        for (int64_t i = 0; i < n; i++) y[i] = y_ref[i] = test_rng_float(rng);
        fr_wrow_axpy(type, row, a, y, n, tmp);
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            double w = (double)y_ref[i] + (double)a * f[i], tol = 2e-6 * (fabs(y_ref[i]) + fabs((double)a * f[i]));
            if (!(fabs(y[i] - w) <= tol + 1e-30)) bad++;
        }
        CHECK(bad == 0, "%s n=%lld axpy: %d of %lld values off", tt->name, (long long)n, bad, (long long)n);
        float *y0 = x;                                      /* x is done with: keep y before */
        memcpy(y0, y_ref, sizeof(float) * (size_t)n);
        fr_wrow_axpy_ref(type, row, a, y_ref, n, tmp);
        bad = 0;
        for (int64_t i = 0; i < n; i++)
            if (!(fabs((double)y[i] - y_ref[i]) <= 4e-6 * (fabs(y0[i]) + fabs((double)a * f[i])) + 1e-30)) bad++;
        CHECK(bad == 0, "%s n=%lld axpy vs axpy_ref: %d values off", tt->name, (long long)n, bad);
    }
    free(row);
    free(f);
    free(x);
    free(tmp);
    free(y);
    free(y_ref);
}

/* fr_wrow_dot_rows / fr_wrow_axpy_rows over n_rows rows equal the row-by-row calls bit for
 * bit (the multi-row kernels only share loads and keep y in registers) */
static void run_rows(int type, int64_t n, int64_t n_rows, test_rng *rng) {
    const fr_type_traits *tt = fr_type_traits_get(type);
    size_t rb;
    if (!tt || !tt->from_float || !fr_row_size(type, n, &rb)) return;
    char *rows = malloc(rb * (size_t)n_rows);
    float *f = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)n);
    float *tmp = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    float *y1 = malloc(sizeof(float) * (size_t)n), *a = malloc(sizeof(float) * (size_t)n_rows);
    float *out = malloc(sizeof(float) * (size_t)n_rows), *out1 = malloc(sizeof(float) * (size_t)n_rows);
    for (int64_t i = 0; i < n_rows; i++) {
        for (int64_t k = 0; k < n; k++) f[k] = test_rng_float(rng) * (float)(1 + i % 5);
        tt->from_float(f, rows + (size_t)i * rb, n);
        a[i] = test_rng_float(rng) * 3.0f;
    }
    if (type == FR_TYPE_Q8_0) ((block_q8_0 *)rows)[0].qs[3] = -128;
    for (int64_t k = 0; k < n; k++) x[k] = test_rng_float(rng) * 2.0f, y[k] = y1[k] = test_rng_float(rng);
    fr_wrow_dot_rows(type, rows, rb, n_rows, x, n, out, n_rows > 1 ? rows + rb : NULL, tmp);
    for (int64_t i = 0; i < n_rows; i++) out1[i] = fr_wrow_dot(type, rows + (size_t)i * rb, x, n, tmp);
    CHECK(memcmp(out, out1, sizeof(float) * (size_t)n_rows) == 0, "%s n=%lld, %lld rows: dot_rows differs from dot",
          tt->name, (long long)n, (long long)n_rows);
    fr_wrow_axpy_rows(type, rows, rb, n_rows, a, y, n, NULL, tmp);
    for (int64_t i = 0; i < n_rows; i++) fr_wrow_axpy(type, rows + (size_t)i * rb, a[i], y1, n, tmp);
    CHECK(memcmp(y, y1, sizeof(float) * (size_t)n) == 0, "%s n=%lld, %lld rows: axpy_rows differs from axpy",
          tt->name, (long long)n, (long long)n_rows);
    /* several inputs at once (fr_wrow_*_rows_multi), T = 1 .. 6 (chunks of FR_WROW_MAX_T),
     * each input's results those of its own call */
    enum { MT = 6 };
    float *xm[MT], *am[MT], *om[MT], *ym[MT];
    for (int t = 0; t < MT; t++) {
        xm[t] = malloc(sizeof(float) * (size_t)n);
        ym[t] = malloc(sizeof(float) * (size_t)n);
        am[t] = malloc(sizeof(float) * (size_t)n_rows);
        om[t] = malloc(sizeof(float) * (size_t)n_rows);
        for (int64_t k = 0; k < n; k++)
            xm[t][k] = test_rng_float(rng) * 2.0f;
        for (int64_t i = 0; i < n_rows; i++)
            am[t][i] = test_rng_float(rng) * 3.0f;
    }
    for (int T = 1; T <= MT; T++) {
        for (int t = 0; t < T; t++)
            for (int64_t k = 0; k < n; k++)
                ym[t][k] = (float)k * 0.25f - (float)t;
        fr_wrow_dot_rows_multi(type, rows, rb, n_rows, (const float *const *)xm, T, n, om, NULL, tmp);
        fr_wrow_axpy_rows_multi(type, rows, rb, n_rows, (const float *const *)am, ym, T, n, NULL, tmp);
        int bad_dot = 0, bad_axpy = 0;
        for (int t = 0; t < T; t++) {
            fr_wrow_dot_rows(type, rows, rb, n_rows, xm[t], n, out1, NULL, tmp);
            bad_dot += memcmp(om[t], out1, sizeof(float) * (size_t)n_rows) != 0;
            for (int64_t k = 0; k < n; k++)
                y1[k] = (float)k * 0.25f - (float)t;
            fr_wrow_axpy_rows(type, rows, rb, n_rows, am[t], y1, n, NULL, tmp);
            bad_axpy += memcmp(ym[t], y1, sizeof(float) * (size_t)n) != 0;
        }
        CHECK(bad_dot == 0, "%s n=%lld, %lld rows, %d inputs: dot_rows_multi differs in %d", tt->name, (long long)n,
              (long long)n_rows, T, bad_dot);
        CHECK(bad_axpy == 0, "%s n=%lld, %lld rows, %d inputs: axpy_rows_multi differs in %d", tt->name, (long long)n,
              (long long)n_rows, T, bad_axpy);
    }
    for (int t = 0; t < MT; t++) {
        free(xm[t]);
        free(ym[t]);
        free(am[t]);
        free(om[t]);
    }
    free(rows);
    free(f);
    free(x);
    free(tmp);
    free(y);
    free(y1);
    free(a);
    free(out);
    free(out1);
}

int main(void) {
    test_rng rng = {777};
    const int64_t row_counts[] = {1, 2, 5, 128, 300};
    for (size_t k = 0; k < sizeof row_counts / sizeof row_counts[0]; k++) {
        for (int64_t blocks = 1; blocks <= 5; blocks += 2) {
            run_rows(FR_TYPE_Q4_0, 32 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q8_0, 32 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q4_1, 32 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q5_0, 32 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_IQ4_NL, 32 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q5_1, 32 * blocks, row_counts[k], &rng);
        }
        run_rows(FR_TYPE_Q4_0, 512, row_counts[k], &rng);
        run_rows(FR_TYPE_Q4_0, 32 * 65, row_counts[k] < 128 ? row_counts[k] : 7, &rng);
        for (int64_t blocks = 1; blocks <= 3; blocks++) { /* the K-quants' kernels: 8 groups a block */
            run_rows(FR_TYPE_Q2_K, 256 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q3_K, 256 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q4_K, 256 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q5_K, 256 * blocks, row_counts[k], &rng);
            run_rows(FR_TYPE_Q6_K, 256 * blocks, row_counts[k], &rng);
        }
        const int64_t f16_lens[] = {7, 8, 64, 75, 128, 512 + 13};
        for (size_t l = 0; l < sizeof f16_lens / sizeof f16_lens[0]; l++) {
            run_rows(FR_TYPE_F16, f16_lens[l], row_counts[k], &rng);
            run_rows(FR_TYPE_F32, f16_lens[l], row_counts[k], &rng);
        }
    }
    const int block_types[] = {FR_TYPE_Q4_0, FR_TYPE_Q8_0, FR_TYPE_Q4_1, FR_TYPE_Q5_0, FR_TYPE_IQ4_NL, FR_TYPE_Q5_1};
    const int64_t blocks[] = {1, 3, 17};
    for (size_t t = 0; t < sizeof block_types / sizeof block_types[0]; t++)
        for (size_t b = 0; b < 3; b++) run_type(block_types[t], 32 * blocks[b], &rng);
    const int64_t lens[] = {1, 7, 8, 15, 16, 17, 33, 128, 512 + 5};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        run_type(FR_TYPE_F16, lens[k], &rng);
        run_type(FR_TYPE_F32, lens[k], &rng);
    }
    const int k_types[] = {FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K, FR_TYPE_Q2_K, FR_TYPE_Q3_K};
    for (size_t t = 0; t < sizeof k_types / sizeof k_types[0]; t++)
        for (int64_t nk = 1; nk <= 3; nk++)
            run_type(k_types[t], 256 * nk, &rng);
    return CHECK_DONE("test_wrow");
}

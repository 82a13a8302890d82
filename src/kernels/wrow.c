/* wrow.c: float products with single weight rows, on their dequantized values.
 *
 * MLA decode (src/model/mla.c) multiplies W_UK and W_UV, whose rows are quantized like any
 * weight, by float vectors it must not round (q_nope and the latent output). These do it
 * without writing each dequantized row out first: the SIMD kernels expand a block of 32
 * quantized values into registers and use it at once (wrow_avx2.c, wrow_neon.c; the
 * multi-row products of every AVX2 type but F16 also in wrow_avx512.c, with the AVX2
 * results; AVX2 also takes Q2_K to Q6_K a block of 256 at a time). Types without a
 * direct kernel, and CPUs without those, take the reference path: to_float into `tmp`, then
 * the F32 dot or axpy. */
#include "kernels.h"

#if FR_X86
bool fr_wrow_has_avx2(int type); /* wrow_avx2.c */
float fr_wrow_dot_avx2(int type, const void *row, const float *x, int64_t n);
void fr_wrow_axpy_avx2(int type, const void *row, float a, float *y, int64_t n);
void fr_wrow_dot_rows_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                           float *out, const void *next);
void fr_wrow_axpy_rows_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                            int64_t n, const void *next);
bool fr_wrow_dot_rows_multi_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *xs,
                                 int T, int64_t n, float *const *outs, const void *next);
bool fr_wrow_axpy_rows_multi_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *as,
                                  float *const *ys, int T, int64_t n, const void *next);

bool fr_wrow_has_avx512(int type); /* wrow_avx512.c: multi-row kernels, the AVX2 results */
bool fr_wrow_dot_rows_multi_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *xs,
                                   int T, int64_t n, float *const *outs, const void *next);
bool fr_wrow_axpy_rows_multi_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows,
                                    const float *const *as, float *const *ys, int T, int64_t n, const void *next);
void fr_wrow_dot_rows_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                             float *out, const void *next);
void fr_wrow_axpy_rows_avx512(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                              int64_t n, const void *next);

static bool use_avx2(int type) { return fr_cpu_has(FR_ISA_AVX2) && fr_wrow_has_avx2(type); }
static bool use_avx512(int type) { return fr_cpu_has(FR_ISA_AVX512) && fr_wrow_has_avx512(type); }
#endif
#if FR_ARM64
bool fr_wrow_has_neon(int type); /* wrow_neon.c */
float fr_wrow_dot_neon(int type, const void *row, const float *x, int64_t n);
void fr_wrow_axpy_neon(int type, const void *row, float a, float *y, int64_t n);

static bool use_neon(int type) { return fr_cpu_has(FR_ISA_NEON_DOT) && fr_wrow_has_neon(type); }
#endif

float fr_wrow_dot_ref(int type, const void *row, const float *x, int64_t n, float *tmp) {
    fr_type_traits_get(type)->to_float(row, tmp, n);
    float s = 0.0f;
    fr_type_traits_get(FR_TYPE_F32)->vec_dot(n, &s, tmp, x);
    return s;
}

void fr_wrow_axpy_ref(int type, const void *row, float a, float *y, int64_t n, float *tmp) {
    fr_type_traits_get(type)->to_float(row, tmp, n);
    fr_axpy(y, tmp, a, n);
}

float fr_wrow_dot(int type, const void *row, const float *x, int64_t n, float *tmp) {
#if FR_X86
    if (use_avx2(type)) return fr_wrow_dot_avx2(type, row, x, n);
#endif
#if FR_ARM64
    if (use_neon(type)) return fr_wrow_dot_neon(type, row, x, n);
#endif
    return fr_wrow_dot_ref(type, row, x, n, tmp);
}

void fr_wrow_axpy(int type, const void *row, float a, float *y, int64_t n, float *tmp) {
#if FR_X86
    if (use_avx2(type)) {
        fr_wrow_axpy_avx2(type, row, a, y, n);
        return;
    }
#endif
#if FR_ARM64
    if (use_neon(type)) {
        fr_wrow_axpy_neon(type, row, a, y, n);
        return;
    }
#endif
    fr_wrow_axpy_ref(type, row, a, y, n, tmp);
}

void fr_wrow_dot_rows(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                      float *out, const void *next, float *tmp) {
#if FR_X86
    if (use_avx512(type)) {
        fr_wrow_dot_rows_avx512(type, rows, row_bytes, n_rows, x, n, out, next);
        return;
    }
    if (use_avx2(type)) {
        fr_wrow_dot_rows_avx2(type, rows, row_bytes, n_rows, x, n, out, next);
        return;
    }
#endif
    for (int64_t i = 0; i < n_rows; i++) out[i] = fr_wrow_dot(type, (const char *)rows + (size_t)i * row_bytes, x, n, tmp);
}

void fr_wrow_axpy_rows(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                       int64_t n, const void *next, float *tmp) {
#if FR_X86
    if (use_avx512(type)) {
        fr_wrow_axpy_rows_avx512(type, rows, row_bytes, n_rows, a, y, n, next);
        return;
    }
    if (use_avx2(type)) {
        fr_wrow_axpy_rows_avx2(type, rows, row_bytes, n_rows, a, y, n, next);
        return;
    }
#endif
    for (int64_t i = 0; i < n_rows; i++) fr_wrow_axpy(type, (const char *)rows + (size_t)i * row_bytes, a[i], y, n, tmp);
}

void fr_wrow_dot_rows_multi(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *xs, int T,
                            int64_t n, float *const *outs, const void *next, float *tmp) {
    for (int t0 = 0; t0 < T; t0 += FR_WROW_MAX_T) {
        const int nt = T - t0 < FR_WROW_MAX_T ? T - t0 : FR_WROW_MAX_T;
        const void *nx = t0 + nt == T ? next : NULL;
#if FR_X86
        if (use_avx512(type) &&
            fr_wrow_dot_rows_multi_avx512(type, rows, row_bytes, n_rows, xs + t0, nt, n, outs + t0, nx))
            continue;
        if (use_avx2(type) &&
            fr_wrow_dot_rows_multi_avx2(type, rows, row_bytes, n_rows, xs + t0, nt, n, outs + t0, nx))
            continue;
#endif
        for (int t = t0; t < t0 + nt; t++)
            fr_wrow_dot_rows(type, rows, row_bytes, n_rows, xs[t], n, outs[t], t + 1 == T ? next : NULL, tmp);
    }
}

void fr_wrow_axpy_rows_multi(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *as,
                             float *const *ys, int T, int64_t n, const void *next, float *tmp) {
    for (int t0 = 0; t0 < T; t0 += FR_WROW_MAX_T) {
        const int nt = T - t0 < FR_WROW_MAX_T ? T - t0 : FR_WROW_MAX_T;
        const void *nx = t0 + nt == T ? next : NULL;
#if FR_X86
        if (use_avx512(type) &&
            fr_wrow_axpy_rows_multi_avx512(type, rows, row_bytes, n_rows, as + t0, ys + t0, nt, n, nx))
            continue;
        if (use_avx2(type) &&
            fr_wrow_axpy_rows_multi_avx2(type, rows, row_bytes, n_rows, as + t0, ys + t0, nt, n, nx))
            continue;
#endif
        for (int t = t0; t < t0 + nt; t++)
            fr_wrow_axpy_rows(type, rows, row_bytes, n_rows, as[t], ys[t], n, t + 1 == T ? next : NULL, tmp);
    }
}

/* gemm_avx512.c: the F16 (BF16, F32) x F32 prompt kernel of gemm_avx2.c on 512-bit registers
 * (AVX-512F: Intel since Skylake-SP, AMD since Zen 4). Built with -mavx512f; run only where
 * fr_cpu_has(FR_ISA_AVX512).
 *
 * Same order as fr_vec_dot_f16 (bf16, f32; see gemm_avx2.c): an FMA per element, and its four
 * 8-lane accumulators a_j take the elements 32i + 8j .. + 7. Here one 16-lane register holds
 * a_0 | a_1 and another a_2 | a_3, so every lane sees the same products in the same order, and
 * the end is the same hsum((a0 + a1) + (a2 + a3)) followed by the sequential tail: bit for bit
 * the AVX2 result. */
#include <immintrin.h>

#include "simd_avx2.h"
#include "gemm.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL FR_PRAGMA_UNROLL(8)

FR_INLINE __m256 lo256(__m512 v) { return _mm512_castps512_ps256(v); }
FR_INLINE __m256 hi256(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

/* R <= 3 weight rows x T <= 4 activation rows, all 2 x R x T accumulators in registers, over
 * values [i0, i1) of the rows (multiples of 32). The accumulators start from zero (first) or
 * from st, where they are left after the range unless `last`; with `last` the row is
 * finished (the adds and hsum above, then the tail from n & ~31 to n) into out. A row cut into
 * consecutive ranges so gets the same chain of operations in every lane as in one call. */
/* weights i .. i + 15 of a row as floats: F16 (cvtph), BF16 (the upper half of a float), F32 */
FR_INLINE __m512 wide16(const void *row, int64_t i, const int KIND) {
    if (KIND == FR_W_F32) return _mm512_loadu_ps((const float *)row + i);
    const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i));
    if (KIND == FR_W_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

FR_INLINE void f16_RxT(int64_t i0, int64_t i1, int64_t n, const void *const *x, const float *const *y, const int R,
                       const int T, float *st, int first, int last, float *out, const int KIND) {
    __m512 a[2][3][4];
    FR_UNROLL for (int h = 0; h < 2; h++) FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        a[h][r][t] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(st + ((h * 3 + r) * 4 + t) * 16);
    for (int64_t i = i0; i < i1; i += 32) {
        /* a half at a time (a_0 | a_1, then a_2 | a_3): R converted weight vectors and one
         * activation vector beside the 2 x R x T accumulators. The empty asm keeps the
         * activation in a register: gcc otherwise folds its load into each of the R FMAs, and
         * the loop, loading once per product, ran 20% slower (kbench F16 2048 x 5632, 512
         * tokens: 88 -> 106 GMAC/s on one thread) */
        FR_UNROLL for (int h = 0; h < 2; h++) {
            __m512 xv[3];
            FR_UNROLL for (int r = 0; r < R; r++) xv[r] = wide16(x[r], i + 16 * h, KIND);
            FR_UNROLL for (int t = 0; t < T; t++) {
                __m512 yv = _mm512_loadu_ps(y[t] + i + 16 * h);
                __asm__("" : "+v"(yv));
                FR_UNROLL for (int r = 0; r < R; r++) a[h][r][t] = _mm512_fmadd_ps(xv[r], yv, a[h][r][t]);
            }
        }
    }
    if (!last) {
        FR_UNROLL for (int h = 0; h < 2; h++) FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
            _mm512_storeu_ps(st + ((h * 3 + r) * 4 + t) * 16, a[h][r][t]);
        return;
    }
    const int64_t n32 = n & ~(int64_t)31;
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++) {
        const __m256 s01 = _mm256_add_ps(lo256(a[0][r][t]), hi256(a[0][r][t]));
        const __m256 s23 = _mm256_add_ps(lo256(a[1][r][t]), hi256(a[1][r][t]));
        float sum = fr_hsum8_avx2(_mm256_add_ps(s01, s23));
        for (int64_t k = n32; k < n; k++) sum += fr_wide1_avx2(x[r], k, KIND) * y[t][k];
        out[r * T + t] = sum;
    }
}


#define F16_CASE(R, T, KIND) \
    case R * 8 + T: f16_RxT(i0, i1, n, x, y, R, T, st, first, last, out, KIND); break;
#define F16_CASES(KIND) \
    switch (R * 8 + T) { \
        F16_CASE(1, 1, KIND) F16_CASE(1, 2, KIND) F16_CASE(1, 3, KIND) F16_CASE(1, 4, KIND) \
        F16_CASE(2, 1, KIND) F16_CASE(2, 2, KIND) F16_CASE(2, 3, KIND) F16_CASE(2, 4, KIND) \
        F16_CASE(3, 1, KIND) F16_CASE(3, 2, KIND) F16_CASE(3, 3, KIND) F16_CASE(3, 4, KIND) \
    default: break; \
    }
void fr_gemm_f16_avx512_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                             int T, float *st, int first, int last, float *out) {
    F16_CASES(FR_W_F16)
}

void fr_gemm_bf16_avx512_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                              int T, float *st, int first, int last, float *out) {
    F16_CASES(FR_W_BF16)
}

void fr_gemm_f32_avx512_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                             int T, float *st, int first, int last, float *out) {
    F16_CASES(FR_W_F32)
}
#undef F16_CASES
#undef F16_CASE

void fr_gemm_f16_avx512(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out) {
    fr_gemm_f16_avx512_part(0, n & ~(int64_t)31, n, x, R, y, T, NULL, 1, 1, out);
}

void fr_gemm_bf16_avx512(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out) {
    fr_gemm_bf16_avx512_part(0, n & ~(int64_t)31, n, x, R, y, T, NULL, 1, 1, out);
}

void fr_gemm_f32_avx512(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out) {
    fr_gemm_f32_avx512_part(0, n & ~(int64_t)31, n, x, R, y, T, NULL, 1, 1, out);
}

/* ---- prompts over converted panels (fr_gemm_f16's prompt path; layouts in gemm.h) ---- */

/* One half pass (its part of panel and activations): R x T accumulators (one 16-lane vector
 * each: a_2h | a_2h+1 of f16_RxT) over chunks [c0, c1), from st (or zero: first) back into st. */
FR_INLINE void panel_RxT(int64_t c0, int64_t c1, const float *panel, const int R, const void *const *yp, const int T,
                         float *st, int first) {
    __m512 a[3][8];
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        a[r][t] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(st + (r * T + t) * 16);
    const size_t at = (size_t)c0 * 16;
    const float *wp = panel + at * (size_t)R;
    const float *yb[8];
    FR_UNROLL for (int t = 0; t < T; t++) yb[t] = (const float *)yp[t] + at;
    for (int64_t c = 0; c < c1 - c0; c++) {
        __m512 xv[3];
        FR_UNROLL for (int r = 0; r < R; r++) xv[r] = _mm512_loadu_ps(wp + (c * R + r) * 16);
        FR_UNROLL for (int t = 0; t < T; t++) {
            __m512 yv = _mm512_loadu_ps(yb[t] + c * 16);
            __asm__("" : "+v"(yv));
            FR_UNROLL for (int r = 0; r < R; r++) a[r][t] = _mm512_fmadd_ps(xv[r], yv, a[r][t]);
        }
    }
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        _mm512_storeu_ps(st + (r * T + t) * 16, a[r][t]);
}

#define PANEL_CASE(R, T) \
    case R * 16 + T: panel_RxT(c0, c1, panel, R, yp, T, st, first); break;
void fr_gemm_panel_avx512(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yp, int T, float *st,
                          int first) {
    switch (R * 16 + T) {
        PANEL_CASE(1, 1) PANEL_CASE(1, 2) PANEL_CASE(1, 3) PANEL_CASE(1, 4)
        PANEL_CASE(1, 5) PANEL_CASE(1, 6) PANEL_CASE(1, 7) PANEL_CASE(1, 8)
        PANEL_CASE(2, 1) PANEL_CASE(2, 2) PANEL_CASE(2, 3) PANEL_CASE(2, 4)
        PANEL_CASE(2, 5) PANEL_CASE(2, 6) PANEL_CASE(2, 7) PANEL_CASE(2, 8)
        PANEL_CASE(3, 1) PANEL_CASE(3, 2) PANEL_CASE(3, 3) PANEL_CASE(3, 4)
        PANEL_CASE(3, 5) PANEL_CASE(3, 6) PANEL_CASE(3, 7) PANEL_CASE(3, 8)
    default: break;
    }
}
#undef PANEL_CASE

void fr_gemm_panel_finish_avx512(const float *const *st, int R, int T, const void *const *x, int type, int64_t n32,
                                 int64_t n, const void *const *yp, float *out, size_t out_stride) {
    const int kind = fr_w_kind(type);
    for (int r = 0; r < R; r++) {
        __m256 v[8];
        float sums[8];
        for (int t = 0; t < 8; t++) {
            const int q = r * T + (t < T ? t : 0);
            const __m512 a0 = _mm512_loadu_ps(st[0] + q * 16), a1 = _mm512_loadu_ps(st[1] + q * 16);
            const __m256 s01 = _mm256_add_ps(lo256(a0), hi256(a0));
            const __m256 s23 = _mm256_add_ps(lo256(a1), hi256(a1));
            v[t] = _mm256_add_ps(s01, s23);
        }
        fr_hsum8x8_avx2(v, sums); /* hsum8's bits, eight at once */
        for (int t = 0; t < T; t++) {
            float sum = sums[t];
            for (int64_t k = n32; k < n; k++) sum += fr_wide1_avx2(x[r], k, kind) * ((const float *)yp[t])[k];
            out[(size_t)t * out_stride + (size_t)r] = sum;
        }
    }
}

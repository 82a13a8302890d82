/* mla_attn.c: the absorbed multi-head latent attention of one decode token (mla.c), in
 * position blocks with every head at once: each cached row [latent | rope key] is read once
 * per block for all heads instead of once per head. Plain C here; mla_attn_avx2.c has the
 * F16/F32-row kernels the dispatcher prefers, mla_attn_avx512.c the same results on
 * 512-bit registers where the CPU has AVX-512F, mla_attn_neon.c the same on AArch64.
 * Deterministic: every score and every output element is computed by one task in a fixed
 * order of positions. */
#include <math.h>
#include <string.h>

#include "kernels.h"

#if FR_X86
void fr_axpy_avx2(float *y, const float *x, float a, int64_t n);
void fr_softmax_fast_avx2(float *x, int64_t n);
void fr_round_f16_avx2(float *x, int64_t n);

/* fr_cpu_has asks the CPU once per process and caches the answer */
static bool have_avx2(void) { return fr_cpu_has(FR_ISA_AVX2); }
static bool use_avx2(int type) {
    return (type == FR_TYPE_F16 || type == FR_TYPE_F32) && have_avx2();
}
#endif
#if FR_ARM64
void fr_axpy_neon(float *y, const float *x, float a, int64_t n);
void fr_softmax_fast_neon(float *x, int64_t n);
void fr_round_f16_neon(float *x, int64_t n);

static bool have_neon(void) { return fr_cpu_has(FR_ISA_NEON_DOT); }
static bool use_neon(int type) {
    return (type == FR_TYPE_F16 || type == FR_TYPE_F32) && have_neon();
}
#endif

void fr_axpy(float *y, const float *x, float a, int64_t n) {
#if FR_X86
    if (have_avx2()) {
        fr_axpy_avx2(y, x, a, n);
        return;
    }
#endif
#if FR_ARM64
    if (have_neon()) {
        fr_axpy_neon(y, x, a, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void fr_round_f16(float *x, int64_t n) {
#if FR_X86
    if (have_avx2()) {
        fr_round_f16_avx2(x, n);
        return;
    }
#endif
#if FR_ARM64
    if (have_neon()) {
        fr_round_f16_neon(x, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) x[i] = fr_f16_to_f32(fr_f32_to_f16(x[i]));
}

void fr_softmax_fast(float *x, int64_t n) {
#if FR_X86
    if (have_avx2()) {
        fr_softmax_fast_avx2(x, n);
        return;
    }
#endif
#if FR_ARM64
    if (have_neon()) {
        fr_softmax_fast_neon(x, n);
        return;
    }
#endif
    fr_softmax(x, n);
}

void fr_mla_scores(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q, int64_t n_head,
                   int64_t w, float scale, float *scores, int64_t stride, float *tmp) {
#if FR_X86
    if (use_avx2(type) && fr_cpu_has(FR_ISA_AVX512)) { /* the same bits as the AVX2 kernel, two rows per register */
        fr_mla_scores_avx512(type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
        return;
    }
    if (use_avx2(type)) {
        fr_mla_scores_avx2(type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
        return;
    }
#endif
#if FR_ARM64
    if (use_neon(type)) {
        fr_mla_scores_neon(type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
        return;
    }
#endif
    const fr_type_traits *tt = fr_type_traits_get(type);
    for (int64_t p = p0; p < p1; p++) {
        tt->to_float((const char *)rows + (size_t)p * row_bytes, tmp, w);
        for (int64_t h = 0; h < n_head; h++) {
            const float *qh = q + h * w;
            float s = 0.0f;
            for (int64_t i = 0; i < w; i++) s += qh[i] * tmp[i];
            scores[h * stride + p] = s * scale;
        }
    }
}

void fr_attn_scores_dot_ref(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                            int64_t n_q, int64_t w, float scale, float *scores, int64_t stride, float *tmp) {
    const fr_type_traits *tt = fr_type_traits_isa(type, FR_ISA_SCALAR);
    const fr_type_traits *qt = fr_type_traits_isa(tt->vec_dot_type, FR_ISA_SCALAR);
    for (int64_t k = 0; k < n_q; k++) {
        qt->from_float(q + k * w, tmp, w); /* w values of F16 or F32 fit in w floats */
        for (int64_t p = p0; p < p1; p++) {
            float s;
            tt->vec_dot(w, &s, (const char *)rows + (size_t)p * row_bytes, tmp);
            scores[k * stride + p] = s * scale;
        }
    }
}

void fr_attn_scores_dot(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_q, int64_t w, float scale, float *scores, int64_t stride, float *tmp) {
#if FR_X86
    if (use_avx2(type)) {
        fr_attn_scores_dot_avx2(type, rows, row_bytes, p0, p1, q, n_q, w, scale, scores, stride);
        return;
    }
#endif
#if FR_ARM64
    if (use_neon(type)) {
        fr_attn_scores_dot_neon(type, rows, row_bytes, p0, p1, q, n_q, w, scale, scores, stride);
        return;
    }
#endif
    fr_attn_scores_dot_ref(type, rows, row_bytes, p0, p1, q, n_q, w, scale, scores, stride, tmp);
}

void fr_mla_accum(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                  int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r, float *tmp) {
#if FR_X86
    if (use_avx2(type) && fr_cpu_has(FR_ISA_AVX512) && (d0 % 8) == 0 && (d1 % 8) == 0) { /* the same bits, 16 dims per register */
        fr_mla_accum_avx512(type, rows, row_bytes, n_pos, a, stride, h0, h1, d0, d1, out, r);
        return;
    }
    if (use_avx2(type) && (d0 % 8) == 0 && (d1 % 8) == 0) {
        fr_mla_accum_avx2(type, rows, row_bytes, n_pos, a, stride, h0, h1, d0, d1, out, r);
        return;
    }
#endif
#if FR_ARM64
    if (use_neon(type) && (d0 % 8) == 0 && (d1 % 8) == 0) {
        fr_mla_accum_neon(type, rows, row_bytes, n_pos, a, stride, h0, h1, d0, d1, out, r);
        return;
    }
#endif
    const fr_type_traits *tt = fr_type_traits_get(type);
    for (int64_t h = h0; h < h1; h++)
        for (int64_t d = d0; d < d1; d++) out[h * r + d] = 0.0f;
    for (int64_t p = 0; p < n_pos; p++) {
        tt->to_float((const char *)rows + (size_t)p * row_bytes, tmp, d1); /* block-aligned prefix */
        for (int64_t h = h0; h < h1; h++) {
            float ap = a[h * stride + p];
            float *o = out + h * r;
            for (int64_t d = d0; d < d1; d++) o[d] += ap * tmp[d];
        }
    }
}

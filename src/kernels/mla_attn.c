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
#endif
#if FR_ARM64
void fr_axpy_neon(float *y, const float *x, float a, int64_t n);
void fr_softmax_fast_neon(float *x, int64_t n);
void fr_round_f16_neon(float *x, int64_t n);
#endif

typedef void (*scores_fn)(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                          int64_t n, int64_t w, float scale, float *scores, int64_t stride);
typedef void (*accum_fn)(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                         int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);

/* One instruction set's kernels of this file: all give the same bits as each other (kernels.h).
 * The row kernels take F16 and F32 rows only; accum also needs d0, d1 multiples of 8. */
typedef struct {
    scores_fn scores, scores_dot;
    accum_fn accum, accum_add;
    void (*axpy)(float *y, const float *x, float a, int64_t n);
    void (*softmax_fast)(float *x, int64_t n);
    void (*round_f16)(float *x, int64_t n);
} attn_kernels;

/* The best set this CPU runs (fr_cpu_has asks it once per process), or NULL for the plain C
 * below. AVX-512 brings its own scores, accumulation, softmax and F16 rounding, and uses
 * AVX2's axpy. */
static const attn_kernels *simd(void) {
#if FR_X86
    static const attn_kernels avx512 = {fr_mla_scores_avx512,    fr_attn_scores_dot_avx2, fr_mla_accum_avx512,
                                        fr_mla_accum_avx512_add, fr_axpy_avx2,            fr_softmax_fast_avx512,
                                        fr_round_f16_avx512};
    static const attn_kernels avx2 = {fr_mla_scores_avx2,    fr_attn_scores_dot_avx2, fr_mla_accum_avx2,
                                      fr_mla_accum_avx2_add, fr_axpy_avx2,            fr_softmax_fast_avx2,
                                      fr_round_f16_avx2};
    if (fr_cpu_has(FR_ISA_AVX512)) return &avx512; /* implies AVX2 */
    if (fr_cpu_has(FR_ISA_AVX2)) return &avx2;
#endif
#if FR_ARM64
    static const attn_kernels neon = {fr_mla_scores_neon,    fr_attn_scores_dot_neon, fr_mla_accum_neon,
                                      fr_mla_accum_neon_add, fr_axpy_neon,            fr_softmax_fast_neon,
                                      fr_round_f16_neon};
    if (fr_cpu_has(FR_ISA_NEON_DOT)) return &neon;
#endif
    return NULL;
}

/* the set for rows of `type`, or NULL */
static const attn_kernels *simd_rows(int type) {
    return type == FR_TYPE_F16 || type == FR_TYPE_F32 ? simd() : NULL;
}

void fr_axpy(float *y, const float *x, float a, int64_t n) {
    const attn_kernels *k = simd();
    if (k) {
        k->axpy(y, x, a, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void fr_round_f16(float *x, int64_t n) {
    const attn_kernels *k = simd();
    if (k) {
        k->round_f16(x, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) x[i] = fr_f16_to_f32(fr_f32_to_f16(x[i]));
}

void fr_softmax_fast(float *x, int64_t n) {
    const attn_kernels *k = simd();
    if (k) {
        k->softmax_fast(x, n);
        return;
    }
    fr_softmax(x, n);
}

void fr_mla_scores(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q, int64_t n_head,
                   int64_t w, float scale, float *scores, int64_t stride, float *tmp) {
    const attn_kernels *k = simd_rows(type);
    if (k) {
        k->scores(type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride);
        return;
    }
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
    const attn_kernels *k = simd_rows(type);
    if (k) {
        k->scores_dot(type, rows, row_bytes, p0, p1, q, n_q, w, scale, scores, stride);
        return;
    }
    fr_attn_scores_dot_ref(type, rows, row_bytes, p0, p1, q, n_q, w, scale, scores, stride, tmp);
}

void fr_mla_accum(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                  int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r, float *tmp) {
    const attn_kernels *k = simd_rows(type);
    if (k && (d0 % 8) == 0 && (d1 % 8) == 0) {
        k->accum(type, rows, row_bytes, n_pos, a, stride, h0, h1, d0, d1, out, r);
        return;
    }
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

void fr_attn_scores_quant(int type, const void *rows, size_t row_bytes, int64_t n_pos, const void *qq, size_t q_bytes,
                          int64_t n_q, int64_t w, float scale, float *scores, int64_t stride) {
    const fr_type_traits *tt = fr_type_traits_get(type);
    int64_t p = 0;
#if FR_X86
    if (type == FR_TYPE_Q8_0 && tt->vec_dot_type == FR_TYPE_Q8_0) { /* keys in the lanes, the rest below */
        if (fr_cpu_has(FR_ISA_AVX512VNNI))
            p = fr_attn_scores_q8_0_avx512vnni(rows, row_bytes, n_pos, qq, q_bytes, n_q, w, scale, scores, stride);
        else if (fr_cpu_has(FR_ISA_AVX2))
            p = fr_attn_scores_q8_0_avx2(rows, row_bytes, n_pos, qq, q_bytes, n_q, w, scale, scores, stride);
    }
#endif
    if (tt->dot_tile) /* 4 rows x 2 queries per call, each result vec_dot's bits (dtype.h) */
        for (; p + 4 <= n_pos; p += 4) {
            const void *x[4];
            for (int j = 0; j < 4; j++) x[j] = (const char *)rows + (size_t)(p + j) * row_bytes;
            for (int64_t k = 0; k < n_q; k += 2) {
                const int nt = n_q - k < 2 ? 1 : 2;
                const void *y[2] = {(const char *)qq + (size_t)k * q_bytes, NULL};
                y[1] = nt == 2 ? (const char *)y[0] + q_bytes : y[0];
                float s[8];
                tt->dot_tile(w, x, 4, y, nt, s);
                for (int j = 0; j < 4; j++)
                    for (int t = 0; t < nt; t++) scores[(k + t) * stride + p + j] = s[j * nt + t] * scale;
            }
        }
    for (; p < n_pos; p++)
        for (int64_t k = 0; k < n_q; k++) {
            float s;
            tt->vec_dot(w, &s, (const char *)rows + (size_t)p * row_bytes, (const char *)qq + (size_t)k * q_bytes);
            scores[k * stride + p] = s * scale;
        }
}

void fr_attn_accum_deq(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                       int64_t n_q, int64_t d0, int64_t d1, float *out, int64_t r, float *tmp) {
    const fr_type_traits *tt = fr_type_traits_get(type);
    const int64_t nd = d1 - d0;
    const attn_kernels *k = (nd % 8) == 0 ? simd() : NULL;
    const size_t off = (size_t)(d0 / tt->block_size) * tt->type_size; /* d0: a multiple of the block size */
    for (int64_t h = 0; h < n_q; h++)
        for (int64_t d = d0; d < d1; d++) out[h * r + d] = 0.0f;
    for (int64_t p = 0; p < n_pos; p += FR_ATT_VTILE) {
        int64_t np = n_pos - p < FR_ATT_VTILE ? n_pos - p : FR_ATT_VTILE;
        for (int64_t i = 0; i < np; i++)
            tt->to_float((const char *)rows + (size_t)(p + i) * row_bytes + off, tmp + i * nd, nd);
        if (k) {
            k->accum_add(FR_TYPE_F32, tmp, (size_t)nd * sizeof(float), np, a + p, stride, 0, n_q, 0, nd, out + d0, r);
            continue;
        }
        for (int64_t i = 0; i < np; i++)
            for (int64_t h = 0; h < n_q; h++) {
                float ap = a[h * stride + p + i], *o = out + h * r + d0;
                for (int64_t d = 0; d < nd; d++) o[d] = fmaf(ap, tmp[i * nd + d], o[d]);
            }
    }
}

void fr_attn_scores_deq(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_head, int64_t w, float scale, float *scores, int64_t stride, float *tmp) {
    const attn_kernels *k = simd();
    if (!k) { /* the plain C path, one row at a time */
        fr_mla_scores(type, rows, row_bytes, p0, p1, q, n_head, w, scale, scores, stride, tmp);
        return;
    }
    const fr_type_traits *tt = fr_type_traits_get(type);
    for (int64_t p = p0; p < p1; p += FR_ATT_VTILE) {
        int64_t np = p1 - p < FR_ATT_VTILE ? p1 - p : FR_ATT_VTILE;
        for (int64_t i = 0; i < np; i++) tt->to_float((const char *)rows + (size_t)(p + i) * row_bytes, tmp + i * w, w);
        k->scores(FR_TYPE_F32, tmp, (size_t)w * sizeof(float), 0, np, q, n_head, w, scale, scores + p, stride);
    }
}

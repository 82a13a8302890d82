/* test_mla_kernels: the SIMD kernels of absorbed-MLA decode (src/kernels/mla_attn_*.c) against
 * their arithmetic written out in plain C, bit for bit, for F16 and F32 cache rows.
 *
 * The order they share (kernels.h): a score is eight lane sums, lane k taking the products of
 * elements i = k mod 8 by fused multiply-add, then (l0 + l4) + (l2 + l6) + ((l1 + l5) + (l3 +
 * l7)), then the w % 8 tail one product and one add at a time, then * scale; an accumulated
 * output element is one chain of fused multiply-adds over the positions in order. Checked:
 * the AVX2, AVX-512 and NEON kernels wherever this CPU runs them, with widths below 8 and with
 * tails, head counts that leave partial register blocks, position ranges split into calls at
 * odd places, and dimension ranges that start and end inside a tile. Also the decode step's
 * helpers (fr_softmax_fast with its polynomial exp, fr_round_f16, fr_axpy, fr_swiglu and fr_rmsnorm) against the same
 * steps in C, and the prompt's grouped scores (fr_attn_scores_dot) against the reference that
 * calls the scalar row dot product per pair. Runs on x86 and, under qemu, on AArch64 (make test-arm64). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"
#include "kernels/kernels.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* the tails are a product, then a sum (gcc: -std=c17 does not contract) */
#endif

static float val(int type, const void *row, int64_t i) {
    return type == FR_TYPE_F16 ? fr_f16_to_f32(((const fr_f16 *)row)[i]) : ((const float *)row)[i];
}

static float model_dot(int type, const float *q, const void *row, int64_t w) {
    float lane[8] = {0};
    int64_t w8 = w & ~(int64_t)7;
    for (int64_t i = 0; i < w8; i += 8)
        for (int k = 0; k < 8; k++)
            lane[k] = fmaf(q[i + k], val(type, row, i + k), lane[k]);
    float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5], s2 = lane[2] + lane[6], s3 = lane[3] + lane[7];
    float s = (s0 + s2) + (s1 + s3);
    for (int64_t i = w8; i < w; i++) {
        float prod = q[i] * val(type, row, i);
        s = s + prod;
    }
    return s;
}

typedef void (*scores_fn)(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                          int64_t n_head, int64_t w, float scale, float *scores, int64_t stride);
typedef void (*accum_fn)(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                         int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);

typedef struct {
    const char *name;
    scores_fn scores;
    accum_fn accum, accum_add;
} kernel_set;

static bool bits_equal(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

enum { HMAX = 17, WMAX = 576, P = 133, R = 200 };

static void test_set(const kernel_set *ks, test_rng *rng) {
    static const int types[] = {FR_TYPE_F16, FR_TYPE_F32};
    static const int widths[] = {5, 8, 64, 67, 99, 128, 576};
    static const int heads[] = {1, 3, 4, 5, 7, 11, 16, 17};
    static const int64_t cuts[] = {0, 1, 8, 77, 78, 133}; /* [0, 1), [1, 8), ... as separate calls */
    /* heads h0..h1, dims d0..d1: among them 4, 8, 14 and 16 heads over whole 64-dim tiles (the
     * AVX-512 kernel's halves, the AVX2 kernel's 4 + 4) */
    static const int64_t ranges[][4] = {{0, 17, 0, 200},  {0, 3, 8, 72},     {2, 9, 16, 40},  {5, 6, 0, 64},
                                        {0, 16, 56, 200}, {1, 13, 192, 200}, {0, 2, 0, 200},  {3, 14, 64, 136},
                                        {1, 9, 0, 200},   {4, 8, 8, 136},    {3, 17, 0, 72}};
    static const int64_t n_pos[] = {1, 2, 63, 64, 65, 133};
    float *q = malloc(sizeof(float) * HMAX * WMAX), *rowsf = malloc(sizeof(float) * P * WMAX);
    float *s_k = malloc(sizeof(float) * HMAX * P), *s_m = malloc(sizeof(float) * HMAX * P);
    float *a = malloc(sizeof(float) * HMAX * P);
    float *o_k = malloc(sizeof(float) * HMAX * R), *o_m = malloc(sizeof(float) * HMAX * R);
    for (int i = 0; i < HMAX * WMAX; i++)
        q[i] = test_rng_float(rng);
    for (int i = 0; i < P * WMAX; i++)
        rowsf[i] = test_rng_float(rng) * 4.0f;
    for (int i = 0; i < HMAX * P; i++)
        a[i] = test_rng_float(rng) * 0.5f + 0.5f;
    int bad_s = 0, bad_a = 0, n_s = 0, n_a = 0;
    for (size_t k = 0; k < 2; k++) {
        const fr_type_traits *tt = fr_type_traits_get(types[k]);
        for (size_t iw = 0; iw < sizeof widths / sizeof widths[0]; iw++) {
            const int w = widths[iw], wr = w < R ? R : w; /* rows at least R wide for the accumulation */
            size_t rb;
            fr_row_size(types[k], wr, &rb);
            char *rows = malloc(rb * P);
            for (int p = 0; p < P; p++)
                tt->from_float(rowsf + p * WMAX, rows + p * rb, wr);
            for (size_t ih = 0; ih < sizeof heads / sizeof heads[0]; ih++) {
                const int h = heads[ih];
                memset(s_k, 0, sizeof(float) * HMAX * P), memset(s_m, 0, sizeof(float) * HMAX * P);
                for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++)
                    ks->scores(types[k], rows, rb, cuts[c], cuts[c + 1], q, h, w, 0.3f, s_k, P);
                for (int hh = 0; hh < h; hh++)
                    for (int p = 0; p < P; p++)
                        s_m[hh * P + p] = model_dot(types[k], q + hh * w, rows + p * rb, w) * 0.3f;
                int bad = !bits_equal(s_k, s_m, (size_t)HMAX * P);
                if (bad && bad_s == 0)
                    for (int i = 0; i < HMAX * P; i++)
                        if (memcmp(&s_k[i], &s_m[i], 4)) {
                            fprintf(stderr,
                                    "  %s scores %s w=%d heads=%d: first difference at head %d row %d: %.9g vs %.9g\n",
                                    ks->name, tt->name, w, h, i / P, i % P, s_k[i], s_m[i]);
                            break;
                        }
                bad_s += bad, n_s++;
            }
            for (size_t ir = 0; ir < sizeof ranges / sizeof ranges[0]; ir++)
                for (size_t ip = 0; ip < sizeof n_pos / sizeof n_pos[0]; ip++) {
                    const int64_t *g = ranges[ir];
                    for (int i = 0; i < HMAX * R; i++)
                        o_k[i] = o_m[i] = -1.0f; /* untouched outside the range */
                    ks->accum(types[k], rows, rb, n_pos[ip], a, P, g[0], g[1], g[2], g[3], o_k, R);
                    for (int64_t hh = g[0]; hh < g[1]; hh++)
                        for (int64_t d = g[2]; d < g[3]; d++) {
                            float o = 0.0f;
                            for (int64_t p = 0; p < n_pos[ip]; p++)
                                o = fmaf(a[hh * P + p], val(types[k], rows + p * rb, d), o);
                            o_m[hh * R + d] = o;
                        }
                    bad_a += !bits_equal(o_k, o_m, (size_t)HMAX * R), n_a++;
                    /* the same sum in two calls: positions [0, n1), then _add over [n1, n_pos) */
                    const int64_t n1 = n_pos[ip] / 3;
                    for (int i = 0; i < HMAX * R; i++) o_k[i] = -1.0f;
                    ks->accum(types[k], rows, rb, n1, a, P, g[0], g[1], g[2], g[3], o_k, R);
                    ks->accum_add(types[k], rows + (size_t)n1 * rb, rb, n_pos[ip] - n1, a + n1, P, g[0], g[1], g[2],
                                  g[3], o_k, R);
                    bad_a += !bits_equal(o_k, o_m, (size_t)HMAX * R), n_a++;
                }
            free(rows);
        }
    }
    CHECK(bad_s == 0 && bad_a == 0, "%s MLA kernels against the plain-C order: scores %d/%d, accum %d/%d differ",
          ks->name, bad_s, n_s, bad_a, n_a);
    printf("  %s: %d score and %d accumulation cases compared bit for bit\n", ks->name, n_s, n_a);
    free(q), free(rowsf), free(s_k), free(s_m), free(a), free(o_k), free(o_m);
}

/* ---- the softmax, F16 rounding and axpy helpers of the decode step (mla_attn.c) ---- */

/* fr_exp_neg_avx2 (vmath_avx2.h) in C: the kernels compute exactly this per lane */
static float exp_neg_model(float x) {
    const int under = x < -87.0f;
    if (!(x >= -87.0f)) x = -87.0f;
    const float n = rintf(x * 1.44269504088896341f);
    float r = fmaf(-n, 0.693145751953125f, x);
    r = fmaf(-n, 1.428606765330187e-06f, r);
    float p = 1.0f / 720;
    p = fmaf(p, r, 1.0f / 120);
    p = fmaf(p, r, 1.0f / 24);
    p = fmaf(p, r, 1.0f / 6);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    const int32_t e = ((int32_t)n + 127) * (1 << 23);
    float two;
    memcpy(&two, &e, 4);
    return under ? 0.0f : p * two;
}

static float hsum8_model(const float *l) {
    float s0 = l[0] + l[4], s1 = l[1] + l[5], s2 = l[2] + l[6], s3 = l[3] + l[7];
    return (s0 + s2) + (s1 + s3);
}

/* fr_softmax_fast's steps: 8 lane sums flushed to double every 256 values, the tail one by one */
static void softmax_model(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) {
        for (int64_t i = 0; i < n; i++)
            x[i] = 0.0f;
        return;
    }
    float lane[8] = {0};
    double s = 0;
    int64_t n8 = n & ~(int64_t)7;
    for (int64_t i = 0; i < n8; i++) {
        x[i] = exp_neg_model(x[i] - mx);
        lane[i & 7] += x[i];
        if ((i & 255) == 255) {
            s += hsum8_model(lane);
            memset(lane, 0, sizeof lane);
        }
    }
    s += hsum8_model(lane);
    for (int64_t i = n8; i < n; i++) {
        x[i] = exp_neg_model(x[i] - mx);
        s += x[i];
    }
    const float inv = (float)(1.0 / s);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

/* fr_swiglu's SIMD steps (ops_avx2.c, ops_neon.c): in blocks of 8, e = exp(-|g|) by the
 * polynomial, sigmoid = (g >= 0 ? 1 : e) / (1 + e), (g * sigmoid) * u; the last n % 8 by the
 * scalar formula with libm's expf */
static void swiglu_model(float *g, const float *u, int64_t n) {
    int64_t n8 = n & ~(int64_t)7;
    for (int64_t i = 0; i < n; i++) {
        if (i < n8) {
            const float e = exp_neg_model(-fabsf(g[i]));
            const float sig = (g[i] >= 0.0f ? 1.0f : e) / (1.0f + e);
            g[i] = (g[i] * sig) * u[i];
        } else {
            g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
        }
    }
}

/* fr_rmsnorm's C order (ops.c), which its AVX2 form keeps: eight double sums of squares
 * (element i in sum i % 8), combined as ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)),
 * then (x * scale) * w in float */
static void rmsnorm_model(float *out, const float *x, const float *w, int64_t n, float eps) {
    double s[8] = {0};
    for (int64_t i = 0; i < n; i++) {
        double sq = (double)x[i] * x[i];
        s[i < (n & ~(int64_t)7) ? i % 8 : i - (n & ~(int64_t)7)] += sq;
    }
    const double ss = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    const float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) {
        float y = x[i] * scale;
        out[i] = w ? y * w[i] : y;
    }
}

static void test_helpers(test_rng *rng) {
    static const int64_t lens[] = {1, 7, 8, 9, 255, 256, 257, 600, 4099};
    enum { NMAX = 4099 };
    float *x = malloc(sizeof(float) * NMAX), *k = malloc(sizeof(float) * NMAX), *m = malloc(sizeof(float) * NMAX);
    float *y = malloc(sizeof(float) * NMAX);
    int bad_sm = 0, bad_exact = 0, bad_r = 0, bad_ax = 0, bad_sw = 0, bad_rms = 0;
    for (size_t il = 0; il < sizeof lens / sizeof lens[0]; il++) {
        const int64_t n = lens[il];
        for (int rep = 0; rep < 3; rep++) {
            for (int64_t i = 0; i < n; i++)
                x[i] = test_rng_float(rng) * (rep == 0 ? 3.0f : 40.0f);
            if (n > 5) x[3] = -INFINITY, x[n - 2] = -200.0f; /* a masked position and one below exp's range */
            memcpy(k, x, sizeof(float) * (size_t)n), memcpy(m, x, sizeof(float) * (size_t)n);
            fr_softmax_fast(k, n);
            softmax_model(m, n);
            bad_sm += !bits_equal(k, m, (size_t)n);
            memcpy(m, x, sizeof(float) * (size_t)n);
            fr_softmax(m, n); /* the libm softmax: the fast one is within 1e-6 relative of it */
            for (int64_t i = 0; i < n; i++)
                bad_exact += !(fabsf(k[i] - m[i]) <= 1e-6f * m[i] + 1e-30f);
            for (int64_t i = 0; i < n; i++)
                k[i] = m[i] = x[i] * 1000.0f;
            fr_round_f16(k, n);
            for (int64_t i = 0; i < n; i++)
                m[i] = fr_f16_to_f32(fr_f32_to_f16(m[i]));
            bad_r += !bits_equal(k, m, (size_t)n);
            const float a = test_rng_float(rng);
            for (int64_t i = 0; i < n; i++)
                y[i] = test_rng_float(rng), k[i] = m[i] = y[i];
            fr_axpy(k, x + 0, a, n);
            for (int64_t i = 0; i < n; i++) {
                if (i < (n & ~(int64_t)7)) {
                    m[i] = fmaf(a, x[i], m[i]);
                } else {
                    float prod = a * x[i];
                    m[i] = m[i] + prod;
                }
            }
            bad_ax += !bits_equal(k, m, (size_t)n);
            for (int64_t i = 0; i < n; i++) k[i] = m[i] = x[i] == -INFINITY ? -5.0f : x[i] * 0.5f;
            fr_swiglu(k, y, n);
            swiglu_model(m, y, n);
            bad_sw += !bits_equal(k, m, (size_t)n);
            /* RMSNorm with and without weights, and in place (MLA's kv norm) */
            for (int64_t i = 0; i < n; i++) x[i] = x[i] == -INFINITY ? 1e-3f : x[i];
            for (int wt = 0; wt < 3; wt++) {
                const float *wv = wt == 0 ? NULL : y;
                rmsnorm_model(m, x, wv, n, 1e-6f);
                if (wt == 2) {
                    memcpy(k, x, sizeof(float) * (size_t)n);
                    fr_rmsnorm(k, k, wv, n, 1e-6f);
                } else {
                    fr_rmsnorm(k, x, wv, n, 1e-6f);
                }
                bad_rms += !bits_equal(k, m, (size_t)n);
            }
        }
    }
    CHECK(bad_sm == 0 && bad_exact == 0 && bad_r == 0 && bad_ax == 0 && bad_sw == 0 && bad_rms == 0,
          "softmax_fast vs its C order %d, vs libm softmax %d values, round_f16 %d, axpy %d, swiglu %d, rmsnorm %d differ",
          bad_sm, bad_exact, bad_r, bad_ax, bad_sw, bad_rms);
    free(x), free(k), free(m), free(y);
}

#if FR_X86
/* Each x86 softmax and F16 rounding against the C model, called directly (the dispatcher above
 * tests only the widest this CPU has): lengths around the 8- and 16-lane steps and the flushes */
static void test_softmax_isas(test_rng *rng) {
    static const int64_t lens[] = {1, 8, 15, 16, 17, 24, 248, 255, 256, 264, 520, 1000, 4099};
    enum { NMAX = 4099 };
    float *x = malloc(sizeof(float) * NMAX), *k = malloc(sizeof(float) * NMAX), *m = malloc(sizeof(float) * NMAX);
    int bad = 0, n_cases = 0;
    for (int isa = 0; isa < 2; isa++) {
        if (!fr_cpu_has(isa ? FR_ISA_AVX512 : FR_ISA_AVX2)) continue;
        void (*softmax)(float *, int64_t) = isa ? fr_softmax_fast_avx512 : fr_softmax_fast_avx2;
        void (*round)(float *, int64_t) = isa ? fr_round_f16_avx512 : fr_round_f16_avx2;
        for (size_t il = 0; il < sizeof lens / sizeof lens[0]; il++) {
            const int64_t n = lens[il];
            for (int64_t i = 0; i < n; i++) x[i] = test_rng_float(rng) * 20.0f;
            if (n > 5) x[2] = -INFINITY;
            memcpy(k, x, sizeof(float) * (size_t)n), memcpy(m, x, sizeof(float) * (size_t)n);
            softmax(k, n);
            softmax_model(m, n);
            bad += !bits_equal(k, m, (size_t)n);
            for (int64_t i = 0; i < n; i++) k[i] = m[i] = x[i] * 3000.0f;
            round(k, n);
            for (int64_t i = 0; i < n; i++) m[i] = fr_f16_to_f32(fr_f32_to_f16(m[i]));
            bad += !bits_equal(k, m, (size_t)n);
            n_cases += 2;
        }
    }
    CHECK(bad == 0, "x86 softmax_fast / round_f16 against the C order: %d of %d cases differ", bad, n_cases);
    printf("  x86 softmax_fast and round_f16: %d cases bit for bit\n", n_cases);
    free(x), free(k), free(m);
}
#endif

/* fr_attn_scores_dot (the prompt's grouped scores, AVX2 or NEON) against the reference, which
 * calls the type's scalar vec_dot per (query, row) pair: bit for bit */
static void test_scores_dot(test_rng *rng) {
    static const int types[] = {FR_TYPE_F16, FR_TYPE_F32};
    static const int widths[] = {5, 31, 32, 33, 100, 192, 576};
    static const int64_t cuts[] = {0, 1, 6, 7, 40, 45};
    enum { NQ = 9, W = 576, NP = 45 };
    float *q = malloc(sizeof(float) * NQ * W), *rowsf = malloc(sizeof(float) * NP * W),
          *tmp = malloc(sizeof(float) * W);
    float *s_k = malloc(sizeof(float) * NQ * NP), *s_r = malloc(sizeof(float) * NQ * NP);
    int bad = 0, n = 0;
    for (size_t k = 0; k < 2; k++) {
        const fr_type_traits *tt = fr_type_traits_get(types[k]);
        for (size_t iw = 0; iw < sizeof widths / sizeof widths[0]; iw++) {
            const int w = widths[iw];
            size_t rb;
            fr_row_size(types[k], w, &rb);
            char *rows = malloc(rb * NP);
            for (int i = 0; i < NQ * w; i++)
                q[i] = test_rng_float(rng) * 2.0f;
            if (types[k] == FR_TYPE_F16) fr_round_f16(q, (int64_t)NQ * w); /* the kernels' contract */
            for (int p = 0; p < NP; p++) {
                for (int i = 0; i < w; i++)
                    rowsf[i] = test_rng_float(rng) * 3.0f;
                tt->from_float(rowsf, rows + p * rb, w);
            }
            for (int nq = 1; nq <= NQ; nq += 2) {
                memset(s_k, 0, sizeof(float) * NQ * NP), memset(s_r, 0, sizeof(float) * NQ * NP);
                for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++) {
                    fr_attn_scores_dot(types[k], rows, rb, cuts[c], cuts[c + 1], q, nq, w, 0.7f, s_k, NP, tmp);
                    fr_attn_scores_dot_ref(types[k], rows, rb, cuts[c], cuts[c + 1], q, nq, w, 0.7f, s_r, NP, tmp);
                }
                bad += !bits_equal(s_k, s_r, (size_t)NQ * NP), n++;
            }
            free(rows);
        }
    }
    CHECK(bad == 0, "fr_attn_scores_dot against the per-pair reference: %d of %d cases differ", bad, n);
    printf("  grouped prompt scores: %d cases against the per-pair reference, bit for bit\n", n);
    free(q), free(rowsf), free(tmp), free(s_k), free(s_r);
}

/* The quantized-cache attention (Q8_0 rows): fr_attn_scores_quant against the type's vec_dot per
 * pair, fr_attn_scores_deq against fr_mla_scores on F32 rows of the dequantized values, and
 * fr_attn_accum_deq against a chain of fmaf over the dequantized values, bit for bit. */
static void test_quant_cache(test_rng *rng) {
    static const int widths[] = {32, 64, 96, 128, 576};
    static const int nqs[] = {1, 2, 3, 5, 8, 16};
    /* with the keys-in-lanes kernels (attn_q8.h, chunks of 64): partial chunks of 1-3 groups of
     * 16 (AVX-512 VNNI) and 1-7 groups of 8 (AVX2), with and without a row-at-a-time tail */
    static const int64_t n_pos[] = {1, 3, 4, 13, 16, 40, 63, 64, 65, 111, 130};
    enum { NQ = 16, W = 576, NP = 130 };
    const int type = FR_TYPE_Q8_0;
    const fr_type_traits *tt = fr_type_traits_get(type), *qt = fr_type_traits_get(tt->vec_dot_type);
    float *q = malloc(sizeof(float) * NQ * W), *deq = malloc(sizeof(float) * NP * W), *f = malloc(sizeof(float) * W);
    float *s_k = malloc(sizeof(float) * NQ * NP), *s_r = malloc(sizeof(float) * NQ * NP);
    float *a = malloc(sizeof(float) * NQ * NP), *tmp = malloc(sizeof(float) * FR_ATT_VTILE * W);
    float *o_k = malloc(sizeof(float) * NQ * W), *o_r = malloc(sizeof(float) * NQ * W);
    int bad_s = 0, bad_d = 0, bad_a = 0, n = 0;
    for (size_t iw = 0; iw < sizeof widths / sizeof widths[0]; iw++) {
        const int w = widths[iw];
        size_t rb, qb;
        fr_row_size(type, w, &rb);
        fr_row_size(tt->vec_dot_type, w, &qb);
        char *rows = malloc(rb * NP), *qq = malloc(qb * NQ);
        for (int p = 0; p < NP; p++) {
            for (int i = 0; i < w; i++) f[i] = test_rng_float(rng) * 3.0f;
            tt->from_float(f, rows + p * rb, w);
            tt->to_float(rows + p * rb, deq + (size_t)p * w, w);
        }
        for (int i = 0; i < NQ * w; i++) q[i] = test_rng_float(rng) * 2.0f;
        for (int k = 0; k < NQ; k++) qt->from_float(q + k * w, qq + k * qb, w);
        for (int i = 0; i < NQ * NP; i++) a[i] = test_rng_float(rng) * 0.5f + 0.5f;
        for (size_t iq = 0; iq < sizeof nqs / sizeof nqs[0]; iq++)
            for (size_t ip = 0; ip < sizeof n_pos / sizeof n_pos[0]; ip++) {
                const int nq = nqs[iq];
                const int64_t np = n_pos[ip];
                memset(s_k, 0, sizeof(float) * NQ * NP), memset(s_r, 0, sizeof(float) * NQ * NP);
                fr_attn_scores_quant(type, rows, rb, np, qq, qb, nq, w, 0.3f, s_k, NP);
                for (int k = 0; k < nq; k++)
                    for (int64_t p = 0; p < np; p++) {
                        float s;
                        tt->vec_dot(w, &s, rows + p * rb, qq + k * qb);
                        s_r[k * NP + p] = s * 0.3f;
                    }
                bad_s += !bits_equal(s_k, s_r, (size_t)NQ * NP);
                memset(s_k, 0, sizeof(float) * NQ * NP), memset(s_r, 0, sizeof(float) * NQ * NP);
                fr_attn_scores_deq(type, rows, rb, 1, np, q, nq, w, 0.3f, s_k, NP, tmp); /* from row 1 */
                fr_mla_scores(FR_TYPE_F32, deq, (size_t)w * 4, 1, np, q, nq, w, 0.3f, s_r, NP, f);
                bad_d += !bits_equal(s_k, s_r, (size_t)NQ * NP);
                const int64_t d0 = w > 64 ? 32 : 0, d1 = w > 64 ? w - 32 : w; /* a slice inside the row too */
                for (int i = 0; i < NQ * W; i++) o_k[i] = o_r[i] = -1.0f;
                fr_attn_accum_deq(type, rows, rb, np, a, NP, nq, d0, d1, o_k, W, tmp);
                for (int k = 0; k < nq; k++)
                    for (int64_t d = d0; d < d1; d++) {
                        float o = 0.0f;
                        for (int64_t p = 0; p < np; p++) o = fmaf(a[k * NP + p], deq[p * w + d], o);
                        o_r[k * W + d] = o;
                    }
                bad_a += !bits_equal(o_k, o_r, (size_t)NQ * W);
                n++;
            }
        free(rows), free(qq);
    }
    CHECK(bad_s == 0 && bad_d == 0 && bad_a == 0,
          "Q8_0 cache attention: scores_quant %d, scores_deq %d, accum_deq %d of %d cases differ", bad_s, bad_d, bad_a,
          n);
    printf("  Q8_0 cache attention: %d cases of scores (vec_dot per pair; float on dequantized rows) and sums\n", n);
    free(q), free(deq), free(f), free(s_k), free(s_r), free(a), free(tmp), free(o_k), free(o_r);
}

int main(void) {
    test_rng rng = {4242};
    int n_sets = 0;
#if FR_X86
    if (fr_cpu_has(FR_ISA_AVX2)) {
        kernel_set ks = {"AVX2", fr_mla_scores_avx2, fr_mla_accum_avx2, fr_mla_accum_avx2_add};
        test_set(&ks, &rng), n_sets++;
    }
    if (fr_cpu_has(FR_ISA_AVX512)) {
        kernel_set ks = {"AVX-512", fr_mla_scores_avx512, fr_mla_accum_avx512, fr_mla_accum_avx512_add};
        test_set(&ks, &rng), n_sets++;
    }
#endif
#if FR_ARM64
    if (fr_cpu_has(FR_ISA_NEON_DOT)) {
        printf("  testing the NEON MLA kernels\n");
        kernel_set ks = {"NEON", fr_mla_scores_neon, fr_mla_accum_neon, fr_mla_accum_neon_add};
        test_set(&ks, &rng), n_sets++;
    }
#endif
    test_scores_dot(&rng);
    test_quant_cache(&rng);
#if FR_X86
    test_softmax_isas(&rng);
#endif
    if (n_sets) {
        test_helpers(&rng);
        printf("  softmax_fast, round_f16, axpy, swiglu and rmsnorm compared bit for bit with their C order\n");
    } else {
        printf("  (no SIMD MLA kernels on this CPU: nothing to compare)\n");
    }
    return CHECK_DONE("test_mla_kernels");
}

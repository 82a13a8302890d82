/* test_quants_k.c: K-quant (Q2_K..Q6_K) and Q8_K kernels.
 *
 *  - the dispatch table rows of the K types point at these kernels;
 *  - quantize -> dequantize error is bounded (per block, relative to the block's
 *    largest magnitude, and in RMS);
 *  - to_float: AVX2 == reference bit for bit, on quantized and on random raw blocks
 *    (random bytes everywhere except sane finite fp16 d/dmin), so every bit pattern of
 *    scales/hmask/qh is exercised;
 *  - vec_dot: reference == double-precision dot of dequantized x and dequantized y,
 *    and AVX2 == reference, within 1e-5 of the magnitude of the terms involved;
 *  - vec_dot results do not depend on buffer alignment or on being called again;
 *  - Q8_K from_float: AVX2 bytes == reference bytes, bsums correct, ggml semantics
 *    (largest magnitude -> -127, round half to even, zero block).
 * All with fixed seeds; n = 256*k for k in {1,2,3,5,7,11}. */
#include "check.h"
#include "dtype.h"
#include "quants.h"

#define NMAX (QK_K * 11)
static const int k_counts[] = {1, 2, 3, 5, 7, 11};
#define N_COUNTS ((int)(sizeof k_counts / sizeof k_counts[0]))

/* The AVX2 kernels where the build has them (x86), else NULL: used only when g_avx2. */
#if FR_X86
#define X86_FN(f) f
#else
#define X86_FN(f) NULL
#endif

typedef struct ktype {
    int type;
    const char *name;
    size_t bsize;
    fr_to_float_fn to_ref, to_avx2;
    fr_vec_dot_fn dot_ref, dot_avx2;
    fr_from_float_fn from_ref;
    double max_err; /* per block, times the block's largest |x| */
    double rms_err; /* RMS error / RMS x on uniform data */
} ktype;

#define KT(T, NAME, MAXE, RMSE)                                                                                        \
    {                                                                                                                  \
        FR_TYPE_##NAME, #NAME, sizeof(block_##T), fr_to_float_##T##_ref, X86_FN(fr_to_float_##T##_avx2),       \
            fr_vec_dot_##T##_ref, X86_FN(fr_vec_dot_##T##_avx2), fr_from_float_##T##_ref, MAXE, RMSE                                              \
    }

static const ktype k_types[] = {
    /* round-to-nearest quantizers; on uniform data RMS error ~ step/sqrt(12)/rms(x) */
    KT(q2_K, Q2_K, 0.50, 0.32),  KT(q3_K, Q3_K, 0.32, 0.16),  KT(q4_K, Q4_K, 0.10, 0.075),
    KT(q5_K, Q5_K, 0.06, 0.036), KT(q6_K, Q6_K, 0.05, 0.018),
};
#define N_TYPES ((int)(sizeof k_types / sizeof k_types[0]))

static bool g_avx2;
static fr_from_float_fn const g_q8_K_avx2 = X86_FN(fr_from_float_q8_K_avx2);

/* ------------------------------------------------------------------ data */

static float rng_range(test_rng *r, float lo, float hi) { return lo + (hi - lo) * (test_rng_float(r) * 0.5f + 0.5f); }

/* Several shapes of data: uniform, sub-blocks of very different magnitude, outliers,
 * all positive, mostly zero. */
static void gen_floats(test_rng *r, float *x, int64_t n, int mode) {
    for (int64_t i = 0; i < n; i++) {
        float v = test_rng_float(r);
        switch (mode % 5) {
        case 0: break;
        case 1: v *= powf(2.0f, (float)((i / 16) % 9) - 4.0f); break;
        case 2:
            if (test_rng_next(r) % 61 == 0) v *= 40.0f;
            break;
        case 3: v = fabsf(v) + 0.25f; break;
        case 4:
            if (test_rng_next(r) % 7) v = 0.0f;
            break;
        }
        x[i] = v;
    }
}

/* A sane finite fp16 scale of either sign, magnitude in [2^-12, 2]. */
static fr_f16 rand_scale(test_rng *r) {
    float v = powf(2.0f, rng_range(r, -12.0f, 1.0f));
    if (test_rng_next(r) & 1) v = -v;
    return fr_f32_to_f16(v);
}

/* Random raw bytes, then sane d (and dmin). */
static void gen_raw_blocks(test_rng *r, const ktype *t, void *dst, int64_t nb) {
    uint8_t *b = dst;
    for (size_t i = 0; i < (size_t)nb * t->bsize; i++)
        b[i] = (uint8_t)(test_rng_next(r) >> 32);
    for (int64_t i = 0; i < nb; i++) {
        switch (t->type) {
        case FR_TYPE_Q2_K:
            ((block_q2_K *)dst)[i].d = rand_scale(r);
            ((block_q2_K *)dst)[i].dmin = rand_scale(r);
            break;
        case FR_TYPE_Q3_K: ((block_q3_K *)dst)[i].d = rand_scale(r); break;
        case FR_TYPE_Q4_K:
            ((block_q4_K *)dst)[i].d = rand_scale(r);
            ((block_q4_K *)dst)[i].dmin = rand_scale(r);
            break;
        case FR_TYPE_Q5_K:
            ((block_q5_K *)dst)[i].d = rand_scale(r);
            ((block_q5_K *)dst)[i].dmin = rand_scale(r);
            break;
        case FR_TYPE_Q6_K: ((block_q6_K *)dst)[i].d = rand_scale(r); break;
        }
    }
}

/* Q8_K activations: quantized random floats (mode < 5), or raw random quants
 * (including -128) with a random d and recomputed bsums (mode 5). */
static void gen_q8K(test_rng *r, block_q8_K *y, int64_t n, int mode) {
    if (mode < 5) {
        static float f[NMAX];
        gen_floats(r, f, n, mode);
        for (int64_t i = 0; i < n; i++)
            f[i] *= 3.0f;
        fr_from_float_q8_K_ref(f, y, n);
        return;
    }
    for (int64_t i = 0; i < n / QK_K; i++) {
        y[i].d = rng_range(r, -2.0f, 2.0f);
        for (int j = 0; j < QK_K; j++)
            y[i].qs[j] = (int8_t)(test_rng_next(r) >> 40);
        for (int j = 0; j < QK_K / 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)s;
        }
    }
}

/* ------------------------------------------------------------------ magnitudes */

/* |x| per value, summed over the parts the kernels accumulate separately: for types with
 * a min, the d*sc*q part and the dmin*m part; for offset types (Q3_K, Q6_K), the value
 * and the offset part (what an all-zero quant field dequantizes to). Tolerances are
 * relative to sum_i |y_i| * parts_i. */
static void abs_parts(const ktype *t, const void *x, int64_t n, float *out) {
    static uint8_t tmp[NMAX / QK_K * sizeof(block_q8_K)];
    static float a[NMAX], b[NMAX];
    const int64_t nb = n / QK_K;
    memcpy(tmp, x, (size_t)nb * t->bsize);
    for (int64_t i = 0; i < nb; i++) {
        switch (t->type) {
        case FR_TYPE_Q2_K: ((block_q2_K *)tmp)[i].dmin = 0; break;
        case FR_TYPE_Q4_K: ((block_q4_K *)tmp)[i].dmin = 0; break;
        case FR_TYPE_Q5_K: ((block_q5_K *)tmp)[i].dmin = 0; break;
        case FR_TYPE_Q3_K:
            memset(((block_q3_K *)tmp)[i].qs, 0, QK_K / 4);
            memset(((block_q3_K *)tmp)[i].hmask, 0, QK_K / 8);
            break;
        case FR_TYPE_Q6_K:
            memset(((block_q6_K *)tmp)[i].ql, 0, QK_K / 2);
            memset(((block_q6_K *)tmp)[i].qh, 0, QK_K / 4);
            break;
        }
    }
    t->to_ref(tmp, a, n);
    memcpy(tmp, x, (size_t)nb * t->bsize);
    for (int64_t i = 0; i < nb; i++) {
        switch (t->type) {
        case FR_TYPE_Q2_K: ((block_q2_K *)tmp)[i].d = 0; break;
        case FR_TYPE_Q4_K: ((block_q4_K *)tmp)[i].d = 0; break;
        case FR_TYPE_Q5_K: ((block_q5_K *)tmp)[i].d = 0; break;
        default: break; /* Q3_K/Q6_K: b = the value itself */
        }
    }
    t->to_ref(tmp, b, n);
    for (int64_t i = 0; i < n; i++)
        out[i] = fabsf(a[i]) + fabsf(b[i]);
}

/* ------------------------------------------------------------------ tests */

static void test_traits(void) {
    for (int k = 0; k < N_TYPES; k++) {
        const ktype *t = &k_types[k];
        const fr_type_traits *r = fr_type_traits_isa(t->type, FR_ISA_SCALAR);
        CHECK(r != NULL, "%s: no scalar traits", t->name);
        if (!r) continue;
        CHECK(r->block_size == QK_K && r->type_size == t->bsize && r->is_quantized, "%s: size", t->name);
        CHECK(r->vec_dot_type == FR_TYPE_Q8_K, "%s: vec_dot_type %d", t->name, (int)r->vec_dot_type);
        CHECK(r->to_float == t->to_ref && r->vec_dot == t->dot_ref && r->from_float == t->from_ref,
              "%s: scalar kernels", t->name);
        if (g_avx2) {
            const fr_type_traits *a = fr_type_traits_isa(t->type, FR_ISA_AVX2);
            CHECK(a && a->to_float == t->to_avx2 && a->vec_dot == t->dot_avx2, "%s: avx2 kernels", t->name);
        }
    }
    const fr_type_traits *q8 = fr_type_traits_isa(FR_TYPE_Q8_K, FR_ISA_SCALAR);
    CHECK(q8 && q8->block_size == QK_K && q8->type_size == sizeof(block_q8_K) && q8->vec_dot == NULL &&
              q8->from_float == fr_from_float_q8_K_ref && q8->to_float == fr_to_float_q8_K_ref,
          "Q8_K scalar traits");
    if (g_avx2) {
        const fr_type_traits *a = fr_type_traits_isa(FR_TYPE_Q8_K, FR_ISA_AVX2);
        CHECK(a && a->from_float == g_q8_K_avx2, "Q8_K avx2 traits");
    }
}

static int count_bit_diffs(const float *a, const float *b, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return bad;
}

/* Hand-built blocks pin the layouts (ggml's) independently of the kernels: one quant
 * with a known value at a known position, its sub-block's scale (and min) set through
 * the packed fields, everything else zero. Checked through to_float and through vec_dot
 * with y = 1 everywhere (the dot is then the sum of the values). */
static void check_known(const ktype *t, const void *blk, const float *expect) {
    static float z[QK_K];
    t->to_ref(blk, z, QK_K);
    int bad = 0, first = -1;
    double sum = 0;
    for (int i = 0; i < QK_K; i++) {
        sum += expect[i];
        if (z[i] != expect[i] && bad++ == 0) first = i;
    }
    CHECK(bad == 0, "%s known block: %d wrong values, first at %d: %g != %g", t->name, bad, first,
          first >= 0 ? (double)z[first] : 0.0, first >= 0 ? (double)expect[first] : 0.0);
    if (g_avx2) {
        static float za[QK_K];
        t->to_avx2(blk, za, QK_K);
        CHECK(count_bit_diffs(z, za, QK_K) == 0, "%s known block: avx2 to_float", t->name);
    }
    block_q8_K ones;
    ones.d = 1.0f;
    memset(ones.qs, 1, QK_K);
    for (int j = 0; j < 16; j++)
        ones.bsums[j] = 16;
    float s = NAN;
    t->dot_ref(QK_K, &s, blk, &ones);
    CHECK(s == (float)sum, "%s known block: ref dot %g != %g", t->name, (double)s, sum);
    if (g_avx2) {
        t->dot_avx2(QK_K, &s, blk, &ones);
        CHECK(s == (float)sum, "%s known block: avx2 dot %g != %g", t->name, (double)s, sum);
    }
}

static void test_known_layouts(void) {
    float e[QK_K];
    { /* Q2_K: value 212 = 128*1 + 32*2 + 20 -> qs[32+20] bits 4-5; sub-block 13 */
        block_q2_K b;
        memset(&b, 0, sizeof b);
        b.d = fr_f32_to_f16(0.5f);
        b.dmin = fr_f32_to_f16(0.25f);
        b.scales[13] = 5 | (1 << 4);
        b.qs[52] = 3 << 4;
        for (int i = 0; i < QK_K; i++)
            e[i] = i / 16 == 13 ? -0.25f : 0.0f;
        e[212] = 0.5f * 5 * 3 - 0.25f;
        check_known(&k_types[0], &b, e);
    }
    { /* Q3_K: value 201 = 128 + 32*2 + 9 -> qs[41] bits 4-5, hmask[9] bit 6 (= 201/32);
       * sub-block 12: low nibble = high nibble of scales[4], top bits = scales[8] bits 6-7 */
        block_q3_K b;
        memset(&b, 0, sizeof b);
        b.d = fr_f32_to_f16(0.5f);
        b.scales[4] = 0x50;   /* low 4 bits of scale 12: 5 */
        b.scales[8] = 2 << 6; /* high 2 bits of scale 12: 2 -> 37 - 32 = 5 */
        b.qs[41] = 2 << 4;
        b.hmask[9] = 1 << 6;
        for (int i = 0; i < QK_K; i++)
            e[i] = i / 16 == 12 ? 0.5f * 5 * -4 : 0.5f * -32 * -4;
        e[201] = 0.5f * 5 * 2;
        check_known(&k_types[1], &b, e);
    }
    { /* Q4_K: value 167 = 64*2 + 32 + 7 -> high nibble of qs[64+7]; sub-block 5 (packed) */
        block_q4_K b;
        memset(&b, 0, sizeof b);
        b.d = fr_f32_to_f16(1.0f);
        b.dmin = fr_f32_to_f16(0.5f);
        b.scales[9] = 0x03 | (0x2 << 4); /* sc5 = 3 | (top bits << 4), m5 = 2 | ... */
        b.scales[1] = 1 << 6;            /* sc5 += 16 -> 19 */
        b.scales[5] = 2 << 6;            /* m5 += 32 -> 34 */
        b.qs[71] = 9 << 4;
        for (int i = 0; i < QK_K; i++)
            e[i] = i / 32 == 5 ? -0.5f * 34 : 0.0f;
        e[167] = 19.0f * 9 - 0.5f * 34;
        check_known(&k_types[2], &b, e);
    }
    { /* Q5_K: value 126 = 64 + 32 + 30 -> high nibble of qs[32+30], qh[30] bit 3 */
        block_q5_K b;
        memset(&b, 0, sizeof b);
        b.d = fr_f32_to_f16(1.0f);
        b.dmin = fr_f32_to_f16(0.5f);
        b.scales[3] = 2;
        b.scales[7] = 1;
        b.qs[62] = 0xA << 4;
        b.qh[30] = 1 << 3;
        for (int i = 0; i < QK_K; i++)
            e[i] = i / 32 == 3 ? -0.5f : 0.0f;
        e[126] = 2.0f * 26 - 0.5f;
        check_known(&k_types[3], &b, e);
    }
    { /* Q6_K: value 241 = 128 + 96 + 17 -> high nibble of ql[64+32+17], qh[32+17] bits 6-7 */
        block_q6_K b;
        memset(&b, 0, sizeof b);
        b.d = fr_f32_to_f16(0.5f);
        b.scales[15] = -3;
        b.ql[113] = 7 << 4;
        b.qh[49] = 2 << 6;
        for (int i = 0; i < QK_K; i++)
            e[i] = i / 16 == 15 ? 0.5f * -3 * -32 : 0.0f;
        e[241] = 0.5f * -3 * 7;
        check_known(&k_types[4], &b, e);
    }
}

/* quantize -> dequantize */
static void test_roundtrip(void) {
    static float x[NMAX], z[NMAX];
    static uint8_t q[NMAX / QK_K * sizeof(block_q8_K)];
    test_rng r = {0x51ED2701u};
    for (int k = 0; k < N_TYPES; k++) {
        const ktype *t = &k_types[k];
        for (int mode = 0; mode < 5; mode++) {
            const int64_t n = NMAX;
            gen_floats(&r, x, n, mode);
            t->from_ref(x, q, n);
            t->to_ref(q, z, n);
            double worst = 0, se = 0, sx = 0;
            for (int64_t b = 0; b < n / QK_K; b++) {
                float amax = 0;
                for (int i = 0; i < QK_K; i++)
                    amax = fmaxf(amax, fabsf(x[b * QK_K + i]));
                for (int i = 0; i < QK_K; i++) {
                    const double e = fabs((double)x[b * QK_K + i] - z[b * QK_K + i]);
                    se += e * e;
                    sx += (double)x[b * QK_K + i] * x[b * QK_K + i];
                    if (amax > 0 && e / amax > worst) worst = e / amax;
                }
            }
            CHECK(worst <= t->max_err, "%s mode %d: max error %.4f x amax > %.4f", t->name, mode, worst, t->max_err);
            if (mode == 0) {
                const double rel = sqrt(se / sx);
                CHECK(rel <= t->rms_err, "%s: rms error %.5f > %.5f", t->name, rel, t->rms_err);
                printf("  %s: max err %.4f x amax, rms err %.5f\n", t->name, worst, rel);
            }
        }
        /* zeros and a constant: exact-ish */
        memset(x, 0, sizeof(float) * QK_K);
        t->from_ref(x, q, QK_K);
        t->to_ref(q, z, QK_K);
        int bad = 0;
        for (int i = 0; i < QK_K; i++)
            bad += z[i] != 0.0f;
        CHECK(bad == 0, "%s: zero block dequantizes to %d non-zeros", t->name, bad);
        for (int i = 0; i < QK_K; i++)
            x[i] = -0.75f;
        t->from_ref(x, q, QK_K);
        t->to_ref(q, z, QK_K);
        double worst = 0;
        for (int i = 0; i < QK_K; i++)
            worst = fmax(worst, fabs((double)z[i] + 0.75));
        CHECK(worst <= 0.75 * t->max_err, "%s: constant block error %g", t->name, worst);
    }
}

/* to_float AVX2 == reference, vec_dot reference == dequantized double dot, AVX2 ==
 * reference. `raw`: random raw blocks instead of quantized data. */
static void test_kernels(bool raw) {
    static float xf[NMAX], xd[NMAX], xa[NMAX], yd[NMAX], parts[NMAX];
    static uint8_t xq[NMAX / QK_K * sizeof(block_q8_K) + 64];
    static block_q8_K yq[NMAX / QK_K + 1];
    static uint8_t xq2[NMAX / QK_K * sizeof(block_q8_K) + 64];
    static block_q8_K yq2[NMAX / QK_K + 2];
    test_rng r = {raw ? 0xC0FFEE11u : 0xBADC0DE5u};
    for (int k = 0; k < N_TYPES; k++) {
        const ktype *t = &k_types[k];
        double worst_ref = 0, worst_avx = 0;
        for (int rep = 0; rep < 6; rep++) {
            for (int c = 0; c < N_COUNTS; c++) {
                const int64_t n = (int64_t)QK_K * k_counts[c], nb = n / QK_K;
                if (raw) {
                    gen_raw_blocks(&r, t, xq, nb);
                } else {
                    gen_floats(&r, xf, n, rep + c);
                    t->from_ref(xf, xq, n);
                }
                gen_q8K(&r, yq, n, raw ? (rep % 2 ? 5 : rep) : rep);

                t->to_ref(xq, xd, n);
                fr_to_float_q8_K_ref(yq, yd, n);
                abs_parts(t, xq, n, parts);
                double exact = 0, mag = 0;
                int nonfinite = 0;
                for (int64_t i = 0; i < n; i++) {
                    exact += (double)xd[i] * yd[i];
                    mag += fabs((double)yd[i]) * parts[i];
                    nonfinite += !isfinite(xd[i]);
                }
                CHECK(nonfinite == 0, "%s n=%lld: %d non-finite dequantized values", t->name, (long long)n, nonfinite);
                const double tol = 1e-5 * mag + 1e-30;

                float s_ref = NAN;
                t->dot_ref(n, &s_ref, xq, yq);
                CHECK_NEAR(s_ref, exact, tol, "%s n=%lld rep %d: ref dot vs dequantized dot", t->name, (long long)n,
                           rep);
                if (mag > 0) worst_ref = fmax(worst_ref, fabs(s_ref - exact) / mag);

                /* same result from misaligned copies and on a second call */
                memcpy(xq2 + 2, xq, (size_t)nb * t->bsize);
                memcpy((uint8_t *)yq2 + 4, yq, (size_t)nb * sizeof(block_q8_K));
                float s2 = NAN;
                t->dot_ref(n, &s2, xq2 + 2, (uint8_t *)yq2 + 4);
                CHECK(memcmp(&s2, &s_ref, sizeof s2) == 0, "%s n=%lld: ref dot not reproducible", t->name,
                      (long long)n);

                if (!g_avx2) continue;
                t->to_avx2(xq, xa, n);
                const int bad = count_bit_diffs(xd, xa, n);
                CHECK(bad == 0, "%s n=%lld rep %d: to_float avx2 differs from ref in %d values", t->name, (long long)n,
                      rep, bad);
                /* misaligned destination and source */
                t->to_avx2(xq2 + 2, xa + 1, n - QK_K);
                CHECK(count_bit_diffs(xd, xa + 1, n - QK_K) == 0, "%s n=%lld: to_float avx2 misaligned", t->name,
                      (long long)n);

                float s_avx = NAN;
                t->dot_avx2(n, &s_avx, xq, yq);
                CHECK_NEAR(s_avx, s_ref, tol, "%s n=%lld rep %d: avx2 dot vs ref dot", t->name, (long long)n, rep);
                if (t->type >= FR_TYPE_Q2_K && t->type <= FR_TYPE_Q6_K) /* the reference's order (packed GEMM too) */
                    CHECK(memcmp(&s_avx, &s_ref, sizeof s_avx) == 0, "%s n=%lld rep %d: avx2 dot %.9g != ref %.9g",
                          t->name, (long long)n, rep, s_avx, s_ref);
                if (mag > 0) worst_avx = fmax(worst_avx, fabs((double)s_avx - s_ref) / mag);
                float s3 = NAN;
                t->dot_avx2(n, &s3, xq2 + 2, (uint8_t *)yq2 + 4);
                CHECK(memcmp(&s3, &s_avx, sizeof s3) == 0, "%s n=%lld: avx2 dot not reproducible", t->name,
                      (long long)n);
            }
        }
        printf("  %s (%s blocks): |ref - exact| <= %.2e, |avx2 - ref| <= %.2e (x magnitude)\n", t->name,
               raw ? "raw" : "quantized", worst_ref, worst_avx);
    }
}

/* Extreme blocks: every quant at its maximum / minimum, all scales at their extremes,
 * and y at +-127/-128, to check that nothing saturates or overflows. */
static void test_extremes(void) {
    static uint8_t xq[sizeof(block_q8_K) * 2];
    static block_q8_K yq[2];
    static float xd[2 * QK_K], yd[2 * QK_K], parts[2 * QK_K];
    for (int k = 0; k < N_TYPES; k++) {
        const ktype *t = &k_types[k];
        for (int pat = 0; pat < 4; pat++) {
            memset(xq, pat & 1 ? 0xFF : 0x00, 2 * t->bsize);
            if (pat >= 2) { /* scales at one extreme, quants at the other */
                for (int b = 0; b < 2; b++) {
                    uint8_t *blk = xq + b * t->bsize;
                    switch (t->type) {
                    case FR_TYPE_Q2_K: memset(((block_q2_K *)blk)->scales, pat & 1 ? 0x0F : 0xF0, 16); break;
                    case FR_TYPE_Q3_K: memset(((block_q3_K *)blk)->scales, pat & 1 ? 0x00 : 0xFF, 12); break;
                    case FR_TYPE_Q4_K: memset(((block_q4_K *)blk)->scales, 0x3F, 12); break;
                    case FR_TYPE_Q5_K: memset(((block_q5_K *)blk)->scales, 0xC0, 12); break;
                    case FR_TYPE_Q6_K: memset(((block_q6_K *)blk)->scales, 0x80, 16); break;
                    }
                }
            }
            for (int b = 0; b < 2; b++) {
                uint8_t *blk = xq + b * t->bsize;
                const fr_f16 one = fr_f32_to_f16(b ? -1.0f : 1.0f), half = fr_f32_to_f16(0.5f);
                switch (t->type) {
                case FR_TYPE_Q2_K:
                    ((block_q2_K *)blk)->d = one;
                    ((block_q2_K *)blk)->dmin = half;
                    break;
                case FR_TYPE_Q3_K: ((block_q3_K *)blk)->d = one; break;
                case FR_TYPE_Q4_K:
                    ((block_q4_K *)blk)->d = one;
                    ((block_q4_K *)blk)->dmin = half;
                    break;
                case FR_TYPE_Q5_K:
                    ((block_q5_K *)blk)->d = one;
                    ((block_q5_K *)blk)->dmin = half;
                    break;
                case FR_TYPE_Q6_K: ((block_q6_K *)blk)->d = one; break;
                }
            }
            for (int ypat = 0; ypat < 3; ypat++) {
                for (int b = 0; b < 2; b++) {
                    yq[b].d = 0.25f;
                    for (int j = 0; j < QK_K; j++)
                        yq[b].qs[j] = (int8_t)(ypat == 0 ? 127 : ypat == 1 ? -128 : (j & 1 ? -128 : 127));
                    for (int j = 0; j < 16; j++) {
                        int s = 0;
                        for (int l = 0; l < 16; l++)
                            s += yq[b].qs[16 * j + l];
                        yq[b].bsums[j] = (int16_t)s;
                    }
                }
                t->to_ref(xq, xd, 2 * QK_K);
                fr_to_float_q8_K_ref(yq, yd, 2 * QK_K);
                abs_parts(t, xq, 2 * QK_K, parts);
                double exact = 0, mag = 0;
                for (int i = 0; i < 2 * QK_K; i++) {
                    exact += (double)xd[i] * yd[i];
                    mag += fabs((double)yd[i]) * parts[i];
                }
                float s_ref = NAN;
                t->dot_ref(2 * QK_K, &s_ref, xq, yq);
                CHECK_NEAR(s_ref, exact, 1e-5 * mag, "%s extreme pattern %d/%d: ref", t->name, pat, ypat);
                if (g_avx2) {
                    float s_avx = NAN;
                    t->dot_avx2(2 * QK_K, &s_avx, xq, yq);
                    CHECK_NEAR(s_avx, exact, 1e-5 * mag, "%s extreme pattern %d/%d: avx2", t->name, pat, ypat);
                    static float xa[2 * QK_K];
                    t->to_avx2(xq, xa, 2 * QK_K);
                    CHECK(count_bit_diffs(xd, xa, 2 * QK_K) == 0, "%s extreme pattern %d: to_float", t->name, pat);
                }
            }
        }
    }
}

/* A scalar re-derivation of Q8_K's layout contract, independent of the kernels. */
static void check_q8K_block(const float *x, const block_q8_K *y, const char *what) {
    float amax = 0, max = 0;
    int imax = 0;
    for (int j = 0; j < QK_K; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
            imax = j;
        }
    }
    int bad_bsums = 0, bad_err = 0;
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++)
            s += y->qs[16 * j + l];
        bad_bsums += s != y->bsums[j];
    }
    CHECK(bad_bsums == 0, "%s: %d wrong bsums", what, bad_bsums);
    if (amax != 0 && !isfinite(-127.f / max)) { /* |max| < ~3.7e-37: ggml flushes to d = 0 */
        CHECK(y->d == 0.0f, "%s: tiny block d=%g", what, (double)y->d);
        return;
    }
    if (amax == 0) {
        int nz = 0;
        for (int j = 0; j < QK_K; j++)
            nz += y->qs[j] != 0;
        CHECK(y->d == 0.0f && nz == 0, "%s: zero block d=%g, %d non-zero quants", what, (double)y->d, nz);
        return;
    }
    CHECK(y->qs[imax] == -127, "%s: largest magnitude quantizes to %d, not -127", what, y->qs[imax]);
    CHECK(y->d == 1.0f / (-127.f / max), "%s: d=%g", what, (double)y->d);
    for (int j = 0; j < QK_K; j++) {
        bad_err += fabs((double)x[j] - (double)y->d * y->qs[j]) > fabs((double)y->d) * 0.5001;
    }
    CHECK(bad_err == 0, "%s: %d values off by more than d/2", what, bad_err);
}

static void test_q8K(void) {
    static float x[NMAX];
    static block_q8_K a[NMAX / QK_K], b[NMAX / QK_K];
    test_rng r = {0x0123456789ABCDEFull};
    for (int rep = 0; rep < 8; rep++) {
        for (int c = 0; c < N_COUNTS; c++) {
            const int64_t n = (int64_t)QK_K * k_counts[c], nb = n / QK_K;
            gen_floats(&r, x, n, rep + c);
            for (int64_t i = 0; i < nb; i++) {
                float *blk = x + i * QK_K;
                const float scale = powf(2.0f, rng_range(&r, -60.0f, 60.0f));
                for (int j = 0; j < QK_K; j++)
                    blk[j] *= scale;
                switch ((rep + i) % 6) {
                case 1: /* ties of magnitude with opposite signs: the first one wins */
                    blk[7] = -8.0f * scale;
                    blk[200] = 8.0f * scale;
                    break;
                case 2: /* iscale = 1 exactly, half-integer values: round half to even */
                    for (int j = 0; j < QK_K; j++)
                        blk[j] = (float)((int)(test_rng_next(&r) % 253) - 126) + 0.5f;
                    blk[31] = -127.0f;
                    break;
                case 3: /* tiny: iscale overflows (ggml: d = 0) */
                    memset(blk, 0, QK_K * sizeof(float));
                    blk[100] = -1e-40f;
                    blk[101] = (i & 1) ? 3e-41f : 1e-38f;
                    break;
                case 4: memset(blk, 0, QK_K * sizeof(float)); break;
                case 5:
                    for (int j = 0; j < QK_K; j++)
                        blk[j] = j % 3 == 0 ? -0.0f : blk[j];
                    break;
                }
            }
            memset(a, 0xAA, sizeof a);
            memset(b, 0x55, sizeof b);
            fr_from_float_q8_K_ref(x, a, n);
            for (int64_t i = 0; i < nb; i++)
                check_q8K_block(x + i * QK_K, &a[i], "Q8_K ref");
            if (g_avx2) {
                g_q8_K_avx2(x, b, n);
                CHECK(memcmp(a, b, (size_t)nb * sizeof(block_q8_K)) == 0,
                      "Q8_K n=%lld rep %d: avx2 bytes differ from ref", (long long)n, rep);
            }
        }
    }
    /* round half to even, explicitly: iscale = 1 */
    for (int j = 0; j < QK_K; j++)
        x[j] = 0.0f;
    x[0] = -127.0f;
    x[1] = 0.5f;
    x[2] = 1.5f;
    x[3] = -2.5f;
    x[4] = 126.5f;
    fr_from_float_q8_K_ref(x, a, QK_K);
    CHECK(a[0].d == 1.0f && a[0].qs[0] == -127 && a[0].qs[1] == 0 && a[0].qs[2] == 2 && a[0].qs[3] == -2 &&
              a[0].qs[4] == 126,
          "Q8_K rounding: d=%g q=%d %d %d %d %d", (double)a[0].d, a[0].qs[0], a[0].qs[1], a[0].qs[2], a[0].qs[3],
          a[0].qs[4]);
    /* positive max: maps to -127 and d is negative (ggml's sign convention) */
    x[0] = 127.0f;
    fr_from_float_q8_K_ref(x, a, QK_K);
    CHECK(a[0].d == -1.0f && a[0].qs[0] == -127 && a[0].qs[1] == 0 && a[0].qs[2] == -2, "Q8_K sign: d=%g q=%d %d %d",
          (double)a[0].d, a[0].qs[0], a[0].qs[1], a[0].qs[2]);
    /* non-finite input: unspecified values, but the two implementations agree */
    if (g_avx2) {
        for (int j = 0; j < QK_K; j++)
            x[j] = test_rng_float(&r);
        x[QK_K + 0] = INFINITY;
        for (int j = 1; j < QK_K; j++)
            x[QK_K + j] = test_rng_float(&r);
        for (int j = 0; j < QK_K; j++)
            x[2 * QK_K + j] = j == 9 ? NAN : test_rng_float(&r);
        x[5] = NAN;
        fr_from_float_q8_K_ref(x, a, 3 * QK_K);
        g_q8_K_avx2(x, b, 3 * QK_K);
        CHECK(memcmp(a, b, 3 * sizeof(block_q8_K)) == 0, "Q8_K non-finite input: avx2 differs from ref");
    }
}

/* End to end: quantized dot approximates the float dot. */
static void test_end_to_end(void) {
    static float x[NMAX], y[NMAX];
    static uint8_t xq[NMAX / QK_K * sizeof(block_q8_K)];
    static block_q8_K yq[NMAX / QK_K];
    test_rng r = {0xFEEDFACEu};
    gen_floats(&r, x, NMAX, 0);
    gen_floats(&r, y, NMAX, 0);
    double exact = 0, sx = 0, sy = 0;
    for (int i = 0; i < NMAX; i++) {
        exact += (double)x[i] * y[i];
        sx += (double)x[i] * x[i];
        sy += (double)y[i] * y[i];
    }
    fr_from_float_q8_K_ref(y, yq, NMAX);
    for (int k = 0; k < N_TYPES; k++) {
        const ktype *t = &k_types[k];
        t->from_ref(x, xq, NMAX);
        float s = NAN;
        t->dot_ref(NMAX, &s, xq, yq);
        /* x's error is ~rms_err*|x| in norm and uncorrelated with y: its dot with y is
         * about rms_err*|x|*|y|/sqrt(N) (one sigma); allow 6 sigma plus y's own error */
        const double tol = (6.0 * t->rms_err + 0.05) * sqrt(sx) * sqrt(sy) / sqrt((double)NMAX);
        CHECK_NEAR(s, exact, tol, "%s: quantized dot vs float dot", t->name);
    }
}

/* The NEON table (AArch64 with sdot; NULL elsewhere): each K-quant's vec_dot gives the
 * reference's bits, at 1-5 blocks, on random rows and from misaligned copies. */
static void test_neon_table(void) {
    test_rng rng = {99};
    for (int k = 0; k < N_TYPES; k++) {
        const ktype *t = &k_types[k];
        const fr_type_traits *nt = fr_type_traits_isa(t->type, FR_ISA_NEON_DOT);
        if (!nt) return;
        const fr_type_traits *q8 = fr_type_traits_isa(FR_TYPE_Q8_K, FR_ISA_SCALAR);
        for (int nb = 1; nb <= 5; nb += 2) {
            const int64_t n = nb * QK_K;
            float *f = malloc(sizeof(float) * (size_t)n);
            uint8_t *xq = malloc((size_t)nb * t->bsize + 3);
            uint8_t *yq = malloc((size_t)nb * sizeof(block_q8_K) + 5);
            for (int rep = 0; rep < 4; rep++) {
                for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(&rng) * (float)(1 + rep);
                t->from_ref(f, xq, n);
                for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(&rng) * 3.0f;
                q8->from_float(f, yq, n);
                float sr, sn, sm;
                t->dot_ref(n, &sr, xq, yq);
                nt->vec_dot(n, &sn, xq, yq);
                memmove(xq + 3, xq, (size_t)nb * t->bsize);
                memmove(yq + 5, yq, (size_t)nb * sizeof(block_q8_K));
                nt->vec_dot(n, &sm, xq + 3, yq + 5);
                CHECK(memcmp(&sr, &sn, sizeof sr) == 0 && memcmp(&sr, &sm, sizeof sr) == 0,
                      "%s n=%lld: neon dot %.9g (misaligned %.9g) vs ref %.9g", t->name, (long long)n, (double)sn,
                      (double)sm, (double)sr);
            }
            free(f);
            free(xq);
            free(yq);
        }
    }
}

int main(void) {
    g_avx2 = fr_cpu_has(FR_ISA_AVX2);
    test_neon_table();
    if (!g_avx2) printf("test_quants_k: CPU lacks AVX2/FMA/F16C: checking the reference kernels only\n");
    test_traits();
    test_known_layouts();
    test_roundtrip();
    test_kernels(false);
    test_kernels(true);
    test_extremes();
    test_q8K();
    test_end_to_end();
    return CHECK_DONE("test_quants_k");
}

/* test_quants.c: legacy GGUF types (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
 * IQ4_NL): half/bfloat conversion, block layouts on hand-made blocks, quantization
 * semantics and round-trip error, and agreement of the AVX2 kernels with the reference. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"
#include "quants.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#define FR_ARRAY_LEN_(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* The vector table this CPU runs (AVX2 on x86, NEON with sdot on AArch64), compared
 * with the reference below; has_simd() false: the reference alone is checked. */
static fr_isa simd_isa(void) { return fr_cpu_has(FR_ISA_AVX2) ? FR_ISA_AVX2 : FR_ISA_NEON_DOT; }
static bool has_simd(void) { return fr_cpu_has(simd_isa()); }

/* ---------------------------------------------------------------------------------- */
/* half precision                                                                      */
/* ---------------------------------------------------------------------------------- */

#if HAVE_X86
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) {
    return (uint16_t)_mm_cvtsi128_si32(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

static int g_f16_mismatch_reports = 0;

/* fr_f32_to_f16 must equal vcvtps2ph (round to nearest even) except for NaN payloads:
 * the portable one returns sign|0x7e00 for every NaN, the hardware keeps payload bits. */
static void check_f32_to_f16_hw(float f) {
    const uint16_t a = fr_f32_to_f16(f), b = hw_f32_to_f16(f);
    bool ok;
    if (isnan(f)) ok = (a & 0x7fff) == 0x7e00 && (a & 0x8000) == (b & 0x8000) && (b & 0x7c00) == 0x7c00 && (b & 0x3ff);
    else ok = a == b;
    if (!ok && g_f16_mismatch_reports++ > 20) { g_check_failed++; return; }
    CHECK(ok, "f32 0x%08x (%.9g): fr_f32_to_f16=0x%04x f16c=0x%04x", f2u(f), (double)f, a, b);
}

static void test_f16_hw(void) {
    /* every half -> float */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float a = fr_f16_to_f32((fr_f16)h), b = hw_f16_to_f32((uint16_t)h);
        bool ok;
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) /* NaN: hardware sets the quiet bit */
            ok = isnan(a) && isnan(b) && (f2u(a) | 0x400000u) == f2u(b);
        else
            ok = f2u(a) == f2u(b);
        if (!ok && bad++ < 10) fprintf(stderr, "f16 0x%04x: fr=0x%08x f16c=0x%08x\n", h, f2u(a), f2u(b));
    }
    CHECK(bad == 0, "%d halves convert differently from F16C", bad);

    /* edge values */
    const uint32_t edges[] = {
        0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x33000000,
        0x33000001, 0x32ffffff, 0x33800000, 0x337fffff, 0x33c00000, 0x38800000, 0x387fffff,
        0x38800001, 0x387fe000, 0x387ff000, 0x387fefff, 0x387ff001, 0x3f800000, 0x3f801000,
        0x3f803000, 0x3f801001, 0x3f802fff, 0x477fe000, 0x477fefff, 0x477ff000, 0x477fffff,
        0x47800000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001,
        0x7fffffff, 0xffffffff, 0x7fa00000, 0x7f802000, 0xc77ff000, 0xb3000000, 0xb3000001};
    for (size_t i = 0; i < FR_ARRAY_LEN_(edges); i++) check_f32_to_f16_hw(u2f(edges[i]));

    /* all midpoints between adjacent halves (exact ties) and their neighbours */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        const double lo = fr_f16_to_f32((fr_f16)h);
        const double hi = h == 0x7bff ? 65536.0 : fr_f16_to_f32((fr_f16)(h + 1));
        const float mid = (float)((lo + hi) / 2); /* 12 significant bits: exact */
        const float cand[3] = {mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY)};
        for (int k = 0; k < 3; k++) {
            check_f32_to_f16_hw(cand[k]);
            check_f32_to_f16_hw(-cand[k]);
        }
    }
    /* a sweep over all float bit patterns, and random ones */
    for (uint64_t u = 0; u < (1ull << 32); u += 65521) check_f32_to_f16_hw(u2f((uint32_t)u));
    test_rng r = {12345};
    for (int i = 0; i < 1000000; i++) {
        const uint32_t u = (uint32_t)test_rng_next(&r);
        check_f32_to_f16_hw(u2f(u));
        /* concentrate on the half range: exponents 100..145 */
        const uint32_t e = 100 + (uint32_t)(test_rng_next(&r) % 46);
        check_f32_to_f16_hw(u2f((u & 0x807fffffu) | (e << 23)));
    }
}
#endif

/* Properties that need no hardware: round trip of every half, ties to even. */
static void test_f16_portable(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN */
        if (fr_f32_to_f16(fr_f16_to_f32((fr_f16)h)) != h) bad++;
    }
    CHECK(bad == 0, "%d halves do not round-trip", bad);
    bad = 0;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        const double lo = fr_f16_to_f32((fr_f16)h), hi = fr_f16_to_f32((fr_f16)(h + 1));
        const float mid = (float)((lo + hi) / 2);
        const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (fr_f32_to_f16(mid) != even || fr_f32_to_f16(nextafterf(mid, 0.0f)) != h ||
            fr_f32_to_f16(nextafterf(mid, INFINITY)) != h + 1)
            bad++;
    }
    CHECK(bad == 0, "%d midpoints round wrongly", bad);
    CHECK(fr_f32_to_f16(65504.0f) == 0x7bff, "max half");
    CHECK(fr_f32_to_f16(65519.99f) == 0x7bff, "below overflow threshold");
    CHECK(fr_f32_to_f16(65520.0f) == 0x7c00, "overflow threshold rounds to inf");
    CHECK(fr_f32_to_f16(-INFINITY) == 0xfc00, "-inf");
    CHECK(fr_f32_to_f16(5.9604645e-08f) == 0x0001, "smallest subnormal");
    CHECK(fr_f32_to_f16(2.9802322e-08f) == 0x0000, "half of smallest subnormal ties to 0");
    CHECK(fr_f32_to_f16(NAN) == 0x7e00, "nan");
    CHECK(fr_f16_to_f32(0x3c00) == 1.0f && fr_f16_to_f32(0xc000) == -2.0f, "simple halves");
    /* bfloat16 */
    CHECK(fr_f32_to_bf16(1.0f) == 0x3f80, "bf16 1");
    CHECK(fr_f32_to_bf16(u2f(0x3f808000)) == 0x3f80, "bf16 tie to even (down)");
    CHECK(fr_f32_to_bf16(u2f(0x3f818000)) == 0x3f82, "bf16 tie to even (up)");
    CHECK(fr_f32_to_bf16(u2f(0x3f808001)) == 0x3f81, "bf16 above tie");
    CHECK(fr_f32_to_bf16(u2f(0x7f800001)) == 0x7fc0, "bf16 nan stays nan");
}

/* ---------------------------------------------------------------------------------- */
/* hand-made blocks                                                                    */
/* ---------------------------------------------------------------------------------- */

static void dots(int type, int64_t n, const void *x, const void *y, float *ref, float *avx) {
    fr_type_traits_isa(type, FR_ISA_SCALAR)->vec_dot(n, ref, x, y);
    const fr_type_traits *a = fr_type_traits_isa(type, simd_isa());
    if (a) a->vec_dot(n, avx, x, y);
    else *avx = *ref;
}

static void deq_both(int type, const void *x, int64_t n, float *out) {
    fr_type_traits_isa(type, FR_ISA_SCALAR)->to_float(x, out, n);
    const fr_type_traits *a = fr_type_traits_isa(type, simd_isa());
    if (a) {
        float tmp[64];
        a->to_float(x, tmp, n);
        CHECK(memcmp(tmp, out, (size_t)n * sizeof(float)) == 0, "%s: simd to_float differs", fr_type_name(type));
    }
}

static void test_hand_blocks(void) {
    float r, a, out[32];
    /* Q8_0 x Q8_0: x = +1 (j<16), -1 (j>=16), dx = 0.5; y = j, dy = 0.125.
     * sum_i = (0+..+15) - (16+..+31) = 120 - 376 = -256; -256 * 0.5 * 0.125 = -16. */
    block_q8_0 x8, y8;
    x8.d = 0x3800; /* 0.5 */
    y8.d = 0x3000; /* 0.125 */
    for (int j = 0; j < 32; j++) { x8.qs[j] = j < 16 ? 1 : -1; y8.qs[j] = (int8_t)j; }
    dots(FR_TYPE_Q8_0, 32, &x8, &y8, &r, &a);
    CHECK(r == -16.0f && a == -16.0f, "q8_0 hand dot: ref %g simd %g, want -16", (double)r, (double)a);
    deq_both(FR_TYPE_Q8_0, &y8, 32, out);
    CHECK(out[0] == 0.0f && out[1] == 0.125f && out[31] == 3.875f, "q8_0 dequant");

    /* Q4_0 x Q8_0: qs = 0x9a: low nibble 10 -> +2 (elements 0..15), high 9 -> +1 (16..31),
     * dx = 2. y = j - 16, dy = 0.5. sum_i = 2*(-16..-1) + 1*(0..15) = -272 + 120 = -152;
     * -152 * 2 * 0.5 = -152. */
    block_q4_0 x4;
    x4.d = 0x4000; /* 2.0 */
    memset(x4.qs, 0x9a, sizeof x4.qs);
    y8.d = 0x3800;
    for (int j = 0; j < 32; j++) y8.qs[j] = (int8_t)(j - 16);
    dots(FR_TYPE_Q4_0, 32, &x4, &y8, &r, &a);
    CHECK(r == -152.0f && a == -152.0f, "q4_0 hand dot: ref %g simd %g, want -152", (double)r, (double)a);
    deq_both(FR_TYPE_Q4_0, &x4, 32, out);
    CHECK(out[0] == 4.0f && out[15] == 4.0f && out[16] == 2.0f && out[31] == 2.0f, "q4_0 nibble order");

    /* Q5_0: qs = 0x21 (low 1, high 2), qh bits 0 and 31 set (bytes 01 00 00 80), d = 1:
     * element 0 = (1|16)-16 = 1, 1..15 = 1-16 = -15, 16..30 = 2-16 = -14, 31 = (2|16)-16 = 2. */
    block_q5_0 x5;
    x5.d = 0x3c00;
    memset(x5.qs, 0x21, sizeof x5.qs);
    x5.qh[0] = 0x01; x5.qh[1] = 0; x5.qh[2] = 0; x5.qh[3] = 0x80;
    deq_both(FR_TYPE_Q5_0, &x5, 32, out);
    CHECK(out[0] == 1.0f && out[1] == -15.0f && out[15] == -15.0f && out[16] == -14.0f &&
          out[30] == -14.0f && out[31] == 2.0f, "q5_0 layout: %g %g %g %g", (double)out[0],
          (double)out[1], (double)out[16], (double)out[31]);
    for (int j = 0; j < 32; j++) y8.qs[j] = 1;
    y8.d = 0x3c00;
    dots(FR_TYPE_Q5_0, 32, &x5, &y8, &r, &a); /* 1 - 15*15 - 14*15 + 2 = -432 */
    CHECK(r == -432.0f && a == -432.0f, "q5_0 hand dot: ref %g simd %g", (double)r, (double)a);

    /* Q5_1: same bits, d = 1, m = -1: element 0 = 17-1 = 16, 1..15 = 0, 16..30 = 1, 31 = 17.
     * With y = 1 (dy = 1, s = 32): sum = 16 + 15 + 17 = 48 via (d*dy)*sumi + m*s = 80 - 32. */
    block_q5_1 x51;
    x51.d = 0x3c00; x51.m = 0xbc00;
    memset(x51.qs, 0x21, sizeof x51.qs);
    memcpy(x51.qh, x5.qh, 4);
    deq_both(FR_TYPE_Q5_1, &x51, 32, out);
    CHECK(out[0] == 16.0f && out[1] == 0.0f && out[16] == 1.0f && out[31] == 17.0f, "q5_1 layout");
    block_q8_1 y81;
    y81.d = 0x3c00; y81.s = fr_f32_to_f16(32.0f);
    for (int j = 0; j < 32; j++) y81.qs[j] = 1;
    dots(FR_TYPE_Q5_1, 32, &x51, &y81, &r, &a);
    CHECK(r == 48.0f && a == 48.0f, "q5_1 hand dot: ref %g simd %g", (double)r, (double)a);

    /* Q4_1: qs = 0x3f (low 15, high 3), d = 0.5, m = 1: 8.5 (0..15), 2.5 (16..31). */
    block_q4_1 x41;
    x41.d = 0x3800; x41.m = 0x3c00;
    memset(x41.qs, 0x3f, sizeof x41.qs);
    deq_both(FR_TYPE_Q4_1, &x41, 32, out);
    CHECK(out[0] == 8.5f && out[16] == 2.5f, "q4_1 layout");
    dots(FR_TYPE_Q4_1, 32, &x41, &y81, &r, &a); /* 16*8.5 + 16*2.5 = 176 */
    CHECK(r == 176.0f && a == 176.0f, "q4_1 hand dot: ref %g simd %g", (double)r, (double)a);

    /* IQ4_NL: qs = 0xf0: elements 0..15 -> values[0] = -127, 16..31 -> values[15] = 113. */
    static const int8_t kv[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    CHECK(memcmp(kv, fr_iq4nl_values, 16) == 0, "iq4_nl code book");
    block_iq4_nl xi;
    xi.d = 0x3800;
    memset(xi.qs, 0xf0, sizeof xi.qs);
    deq_both(FR_TYPE_IQ4_NL, &xi, 32, out);
    CHECK(out[0] == -63.5f && out[31] == 56.5f, "iq4_nl layout");
    dots(FR_TYPE_IQ4_NL, 32, &xi, &y8, &r, &a); /* 0.5 * 16 * (113 - 127) = -112 */
    CHECK(r == -112.0f && a == -112.0f, "iq4_nl hand dot: ref %g simd %g", (double)r, (double)a);
}

/* ---------------------------------------------------------------------------------- */
/* quantization semantics on crafted blocks                                            */
/* ---------------------------------------------------------------------------------- */

/* Quantizes with both implementations (avx = ref when AVX2 is unavailable). */
static void quant_both(int type, const float *x, int64_t n, void *ref, void *avx, size_t bytes) {
    fr_type_traits_isa(type, FR_ISA_SCALAR)->from_float(x, ref, n);
    const fr_type_traits *a = fr_type_traits_isa(type, simd_isa());
    if (a) {
        a->from_float(x, avx, n);
        CHECK(memcmp(ref, avx, bytes) == 0, "%s: simd from_float bytes differ", fr_type_name(type));
    } else {
        memcpy(avx, ref, bytes);
    }
}

static void test_quant_semantics(void) {
    float x[32];
    /* Q8_0 with amax 127: d = 1 exactly, q = roundf(x): ties away from zero, and the
     * floats just below the ties. */
    const float v[32] = {127, -2.5f, 2.5f, 0.5f, -0.5f, 1.5f, -1.5f, 0.49999997f,
                         -0.49999997f, 3.4999998f, 126.5f, -126.5f, 0.0f, -0.0f, 1e-3f, -100.7f,
                         nextafterf(64.5f, 0), -nextafterf(64.5f, 0), 64.5f, -64.5f,
                         nextafterf(1.5f, 0), nextafterf(2.5f, 0), nextafterf(126.5f, 0), -nextafterf(126.5f, 0),
                         nextafterf(0.5f, 1), 1e-30f, -1e-30f, 7.0f, -7.0f, 99.5f, -99.5f, nextafterf(99.5f, 200)};
    const int want[32] = {127, -3, 3, 1, -1, 2, -2, 0, 0, 3, 127, -127, 0, 0, 0, -101,
                          64, -64, 65, -65, 1, 2, 126, -126, 1, 0, 0, 7, -7, 100, -100, 100};
    for (int j = 0; j < 32; j++) x[j] = v[j];
    block_q8_0 q, qa;
    quant_both(FR_TYPE_Q8_0, x, 32, &q, &qa, sizeof q);
    CHECK(q.d == 0x3c00, "q8_0 d = 1");
    int bad = 0;
    for (int j = 0; j < 32; j++) {
        if (q.qs[j] != want[j] || qa.qs[j] != want[j])
            fprintf(stderr, "q8_0 x=%.9g: ref %d simd %d want %d\n", (double)x[j], q.qs[j], qa.qs[j], want[j]);
        bad += q.qs[j] != want[j] || qa.qs[j] != want[j];
    }
    CHECK(bad == 0, "q8_0 rounding (%d wrong)", bad);
    block_q8_1 q1, q1a;
    quant_both(FR_TYPE_Q8_1, x, 32, &q1, &q1a, sizeof q1);
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += want[j];
    CHECK(memcmp(q1.qs, q.qs, 32) == 0 && q1.d == q.d, "q8_1 qs/d equal q8_0");
    CHECK(q1.s == fr_f32_to_f16((float)sum), "q8_1 s = d*sum(q): 0x%04x vs %d", q1.s, sum);

    /* All-zero block: d = 0, q = 0. */
    memset(x, 0, sizeof x);
    quant_both(FR_TYPE_Q8_0, x, 32, &q, &qa, sizeof q);
    bad = q.d != 0;
    for (int j = 0; j < 32; j++) bad += q.qs[j] != 0;
    CHECK(bad == 0, "q8_0 zero block");

    /* Q4_0: largest magnitude is -8 -> d = 1, q = min(15, (int)(x + 8.5)). */
    const float v4[8] = {-8, 7.4f, 7.6f, 0.5f, -0.5f, 0.49f, -7.6f, 3};
    const int want4[8] = {0, 15, 15, 9, 8, 8, 0, 11};
    for (int j = 0; j < 32; j++) x[j] = v4[j % 8];
    block_q4_0 b4, b4a;
    quant_both(FR_TYPE_Q4_0, x, 32, &b4, &b4a, sizeof b4);
    CHECK(b4.d == 0x3c00, "q4_0 d = max/-8 = 1: 0x%04x", b4.d);
    bad = 0;
    for (int j = 0; j < 32; j++) {
        const int qv = j < 16 ? (b4.qs[j] & 15) : (b4.qs[j - 16] >> 4);
        bad += qv != want4[j % 8];
    }
    CHECK(bad == 0, "q4_0 quantized values (%d wrong)", bad);
    /* positive largest value: d = max/-8 is negative */
    for (int j = 0; j < 32; j++) x[j] = j == 5 ? 4.0f : 0.0f;
    quant_both(FR_TYPE_Q4_0, x, 32, &b4, &b4a, sizeof b4);
    CHECK(b4.d == 0xb800 && (b4.qs[5] & 15) == 0 && (b4.qs[0] & 15) == 8, "q4_0 sign of d");

    /* Q5_0: -16 largest -> d = 1; x = 15.6 -> 31 (clamped from 32), 0 -> 16 (bit 4 in qh). */
    for (int j = 0; j < 32; j++) x[j] = j == 0 ? -16.0f : j == 31 ? 15.6f : j == 17 ? -1.0f : 0.0f;
    block_q5_0 b5, b5a;
    quant_both(FR_TYPE_Q5_0, x, 32, &b5, &b5a, sizeof b5);
    uint32_t qh;
    memcpy(&qh, b5.qh, 4);
    CHECK(b5.d == 0x3c00 && (b5.qs[0] & 15) == 0 && !(qh & 1) && (b5.qs[15] >> 4) == 15 && (qh >> 31) &&
          (b5.qs[1] >> 4) == 15 && !((qh >> 17) & 1) && (qh & 2),
          "q5_0 values d=0x%04x qh=0x%08x", b5.d, qh);

    /* Q4_1 / Q5_1: min 0 max 15 (31) -> d = 1, m = 0, q = (int)(x + 0.5). */
    for (int j = 0; j < 32; j++) x[j] = (float)(j % 16) + (j >= 16 ? 0.49f : 0.0f);
    x[31] = 15.0f;
    block_q4_1 b41, b41a;
    quant_both(FR_TYPE_Q4_1, x, 32, &b41, &b41a, sizeof b41);
    bad = b41.d != 0x3c00 || b41.m != 0;
    for (int j = 0; j < 16; j++) bad += (b41.qs[j] & 15) != j || (b41.qs[j] >> 4) != j;
    CHECK(bad == 0, "q4_1 values");
    for (int j = 0; j < 32; j++) x[j] = (float)j - 0.5f * (j & 1) + 1.0f; /* min 1, max 32 */
    x[31] = 32.0f;
    block_q5_1 b51, b51a;
    quant_both(FR_TYPE_Q5_1, x, 32, &b51, &b51a, sizeof b51);
    memcpy(&qh, b51.qh, 4);
    bad = b51.d != 0x3c00 || b51.m != 0x3c00;
    for (int j = 0; j < 32; j++) {
        const int qv = (j < 16 ? (b51.qs[j] & 15) : (b51.qs[j - 16] >> 4)) | (int)(((qh >> j) & 1) << 4);
        bad += qv != j; /* (x - 1) + 0.5 is j + 0.5 (even j) or j (odd j): truncates to j */
    }
    CHECK(bad == 0, "q5_1 values");

    /* IQ4_NL: a block that is exactly on the code book with scale 0.5 round-trips exactly. */
    for (int j = 0; j < 32; j++) x[j] = 0.5f * fr_iq4nl_values[(j * 7) % 16];
    block_iq4_nl bi, bia;
    quant_both(FR_TYPE_IQ4_NL, x, 32, &bi, &bia, sizeof bi);
    float out[32];
    fr_to_float_iq4_nl_ref(&bi, out, 32);
    bad = 0;
    for (int j = 0; j < 32; j++) bad += out[j] != x[j];
    CHECK(bad == 0 && bi.d == 0x3800, "iq4_nl exact code-book block (d=0x%04x)", bi.d);
    memset(x, 0, sizeof x);
    quant_both(FR_TYPE_IQ4_NL, x, 32, &bi, &bia, sizeof bi);
    fr_to_float_iq4_nl_ref(&bi, out, 32);
    bad = 0;
    for (int j = 0; j < 32; j++) bad += out[j] != 0.0f;
    CHECK(bad == 0, "iq4_nl zero block");
}

/* ---------------------------------------------------------------------------------- */
/* random data                                                                         */
/* ---------------------------------------------------------------------------------- */

/* Mixture: mostly roughly Gaussian values at a per-block scale, some outliers, some
 * all-zero and constant blocks, some single-sign blocks. */
static void fill(test_rng *r, float *x, int64_t n, int mode) {
    for (int64_t b = 0; b < n; b += 32) {
        const int kind = (int)(test_rng_next(r) % 16);
        const float scale = powf(10.0f, 3.0f * test_rng_float(r)); /* 1e-3 .. 1e3 */
        for (int64_t i = b; i < b + 32 && i < n; i++) {
            float g = (test_rng_float(r) + test_rng_float(r) + test_rng_float(r) + test_rng_float(r)) * 0.5f;
            if (mode == 1 || kind > 12) {
                if (kind == 13) g = 0.0f;
                else if (kind == 14) g = 0.25f;
                else if (kind == 15) g = fabsf(g) + 0.1f;
            }
            if (test_rng_next(r) % 64 == 0) g *= 8.0f;
            x[i] = g * scale;
        }
    }
}

static const int k_types[] = {FR_TYPE_F32,  FR_TYPE_F16,  FR_TYPE_BF16, FR_TYPE_Q4_0,  FR_TYPE_Q4_1,
                              FR_TYPE_Q5_0, FR_TYPE_Q5_1, FR_TYPE_Q8_0, FR_TYPE_IQ4_NL};

/* Error of storing v as fp16: relative 2^-11, but absolute 2^-25 in the subnormal range. */
static double fe(double v) { return fmax(fabs(v) / 2048, 1.0 / 33554432); }

/* Per-element round-trip bound for a block (x[0..31]) of `type`: half a step (a full step
 * where the symmetric types clamp the value opposite the largest one), plus the error of
 * the fp16 scale times the largest |q|, plus the fp16 error of the minimum. */
static double elem_bound(int type, const float *x, int len) {
    double amax = 0, mn = INFINITY, mx = -INFINITY;
    for (int j = 0; j < len; j++) {
        amax = fmax(amax, fabs(x[j]));
        mn = fmin(mn, x[j]);
        mx = fmax(mx, x[j]);
    }
    double b;
    switch (type) {
    case FR_TYPE_Q8_0: b = 0.5 * amax / 127 + 127 * fe(amax / 127); break;
    case FR_TYPE_Q4_0: b = amax / 8 + 8 * fe(amax / 8); break;
    case FR_TYPE_Q5_0: b = amax / 16 + 16 * fe(amax / 16); break;
    case FR_TYPE_Q4_1: b = 0.5 * (mx - mn) / 15 + 15 * fe((mx - mn) / 15) + fe(mn); break;
    case FR_TYPE_Q5_1: b = 0.5 * (mx - mn) / 31 + 31 * fe((mx - mn) / 31) + fe(mn); break;
    case FR_TYPE_IQ4_NL: b = 0.15 * amax + 127 * fe(amax / 127); break;
    default: b = 0;
    }
    return b * 1.001 + 1e-30;
}

/* Quantize -> dequantize error. */
static void test_round_trip(void) {
    test_rng r = {42};
    const int64_t n = 32 * 512;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    void *q = malloc(n * 4);
    double rms_q4_0 = 0, rms_iq4 = 0;
    for (size_t t = 0; t < FR_ARRAY_LEN_(k_types); t++) {
        const int type = k_types[t];
        const fr_type_traits *tr = fr_type_traits_isa(type, FR_ISA_SCALAR);
        fill(&r, x, n, 0);
        tr->from_float(x, q, n);
        tr->to_float(q, y, n);
        int bad = 0;
        double se = 0, sx = 0;
        for (int64_t i = 0; i < n; i++) {
            const double e = fabs((double)y[i] - x[i]);
            double bound;
            if (type == FR_TYPE_F32) bound = 0;
            else if (type == FR_TYPE_F16) bound = fabs(x[i]) / 2048 + 3e-8; /* 2^-25: half subnormal */
            else if (type == FR_TYPE_BF16) bound = fabs(x[i]) / 256;
            else bound = elem_bound(type, x + (i / 32) * 32, 32);
            if (!(e <= bound) && bad++ < 5)
                fprintf(stderr, "%s[%lld]: x=%g y=%g err=%g bound=%g\n", tr->name, (long long)i,
                        (double)x[i], (double)y[i], e, bound);
            se += e * e;
            sx += (double)x[i] * x[i];
        }
        CHECK(bad == 0, "%s: %d elements over the round-trip bound", tr->name, bad);
        const double rel = sqrt(se / sx);
        /* relative RMS error limits (uniform quantization noise plus margin) */
        double lim;
        switch (type) {
        case FR_TYPE_F32: lim = 0; break;
        case FR_TYPE_F16: lim = 3e-4; break;
        case FR_TYPE_BF16: lim = 2.5e-3; break;
        case FR_TYPE_Q8_0: lim = 0.012; break;
        case FR_TYPE_Q5_0: lim = 0.09; break;
        case FR_TYPE_Q5_1: lim = 0.06; break;
        case FR_TYPE_Q4_1: lim = 0.13; break;
        default: lim = 0.15; break; /* Q4_0, IQ4_NL */
        }
        CHECK(rel <= lim, "%s: relative rms error %g > %g", tr->name, rel, lim);
        printf("  %-6s round-trip relative rms error %.3g\n", tr->name, rel);
    }
    /* IQ4_NL should beat Q4_0 on Gaussian-like data. */
    fill(&r, x, n, 1);
    for (int pass = 0; pass < 2; pass++) {
        const int type = pass ? FR_TYPE_IQ4_NL : FR_TYPE_Q4_0;
        const fr_type_traits *tr = fr_type_traits_isa(type, FR_ISA_SCALAR);
        tr->from_float(x, q, n);
        tr->to_float(q, y, n);
        double se = 0, sx = 0;
        for (int64_t i = 0; i < n; i++) {
            se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            sx += (double)x[i] * x[i];
        }
        *(pass ? &rms_iq4 : &rms_q4_0) = sqrt(se / sx);
    }
    CHECK(rms_iq4 < rms_q4_0, "iq4_nl rms %g should be below q4_0 %g", rms_iq4, rms_q4_0);
    printf("  iq4_nl vs q4_0 relative rms: %.4f vs %.4f\n", rms_iq4, rms_q4_0);
    free(x);
    free(y);
    free(q);
}

/* Activation quantizers: Q8_0/Q8_1 AVX2 bytes must equal the reference on lots of data,
 * including exact .5 ties (amax = 127 gives d = 1). */
static void test_q8_activations(void) {
    if (!has_simd()) return;
    test_rng r = {7};
    const int64_t n = 32 * 4096;
    float *x = malloc(n * sizeof(float));
    fill(&r, x, n, 0);
    for (int64_t b = 0; b < n; b += 32 * 16) { /* every 16th block: ties */
        for (int j = 0; j < 32; j++) x[b + j] = (float)((int)(test_rng_next(&r) % 253) - 126) + 0.5f;
        x[b + 7] = 127.0f;
    }
    for (int p = 0; p < 2; p++) {
        const int type = p ? FR_TYPE_Q8_1 : FR_TYPE_Q8_0;
        size_t bytes = 0;
        CHECK(fr_row_size(type, n, &bytes), "row size");
        void *a = malloc(bytes), *b = malloc(bytes);
        fr_type_traits_isa(type, FR_ISA_SCALAR)->from_float(x, a, n);
        fr_type_traits_isa(type, simd_isa())->from_float(x, b, n);
        CHECK(memcmp(a, b, bytes) == 0, "%s: simd quantization bytes differ", fr_type_name(type));
        free(a);
        free(b);
    }
    free(x);
}

/* ---------------------------------------------------------------------------------- */
/* ref vs AVX2 at odd and tail sizes                                                   */
/* ---------------------------------------------------------------------------------- */

static void test_agreement(int type, int64_t n, test_rng *r) {
    const fr_type_traits *tr = fr_type_traits_isa(type, FR_ISA_SCALAR);
    const fr_type_traits *ta = fr_type_traits_isa(type, simd_isa());
    const int vdt = (int)tr->vec_dot_type;
    const fr_type_traits *vr = fr_type_traits_isa(vdt, FR_ISA_SCALAR);
    const fr_type_traits *va = fr_type_traits_isa(vdt, simd_isa());
    size_t xb = 0, yb = 0;
    const bool sized = fr_row_size(type, n, &xb) && fr_row_size(vdt, n, &yb);
    CHECK(sized && xb == (size_t)(n / tr->block_size) * tr->type_size, "%s n=%lld: row size",
          tr->name, (long long)n);
    if (!sized) return;
    const size_t xblk = tr->type_size, yblk = vr->type_size;
    float *xf = malloc((size_t)n * sizeof(float)), *yf = malloc((size_t)n * sizeof(float));
    float *o1 = malloc((size_t)n * sizeof(float)), *o2 = malloc((size_t)n * sizeof(float));
    float *yd = malloc((size_t)n * sizeof(float));
    /* one extra block so rows can also be read from an offset (unaligned) position */
    uint8_t *xq = malloc(xb + xblk), *yq = malloc(yb + yblk);
    uint8_t *xq2 = malloc(xb + xblk), *yq2 = malloc(yb + yblk);
    fill(r, xf, n, 0);
    fill(r, yf, n, 0);
    tr->from_float(xf, xq, n);
    vr->from_float(yf, yq, n);
    if (ta) {
        ta->from_float(xf, xq2, n);
        CHECK(memcmp(xq, xq2, xb) == 0, "%s n=%lld: simd from_float differs", tr->name, (long long)n);
        va->from_float(yf, yq2, n);
        CHECK(memcmp(yq, yq2, yb) == 0, "%s n=%lld: simd from_float differs", vr->name, (long long)n);
    }
    tr->to_float(xq, o1, n);
    vr->to_float(yq, yd, n);
    if (ta) {
        ta->to_float(xq, o2, n);
        CHECK(memcmp(o1, o2, (size_t)n * sizeof(float)) == 0, "%s n=%lld: simd to_float differs",
              tr->name, (long long)n);
    }
    /* exact dot of the dequantized vectors */
    double exact = 0, sabs = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)o1[i] * yd[i];
        sabs += fabs((double)o1[i] * yd[i]);
    }
    /* Q4_1/Q5_1 use m * s with s = fp16(dy * sum(qy)): allow that rounding. */
    double extra = 0;
    if (type == FR_TYPE_Q4_1 || type == FR_TYPE_Q5_1) {
        for (int64_t b = 0; b < n / 32; b++) {
            const fr_f16 *xm = (const fr_f16 *)(xq + b * xblk) + 1; /* d, m, ... */
            const fr_f16 *ys = (const fr_f16 *)(yq + b * yblk) + 1; /* d, s, ... */
            extra += fabs((double)fr_f16_to_f32(*xm) * fr_f16_to_f32(*ys)) / 1024;
        }
    }
    float dr, da = 0, dr2, da2 = 0;
    tr->vec_dot(n, &dr, xq, yq);
    const double terms = (double)(n / 32) + 48;
    const double tol_exact = terms * 1.2e-7 * sabs + extra + 1e-30;
    CHECK(fabs(dr - exact) <= tol_exact, "%s n=%lld: ref dot %.9g vs exact %.9g (tol %g)", tr->name,
          (long long)n, (double)dr, exact, tol_exact);
    if (ta) {
        ta->vec_dot(n, &da, xq, yq);
        const double tol = 1e-5 * sabs + 1e-30;
        CHECK(fabs((double)dr - da) <= tol, "%s n=%lld: ref dot %.9g vs simd %.9g (tol %g)", tr->name,
              (long long)n, (double)dr, (double)da, tol);
        /* same order, no fused rounding that matters: identical (NEON: every type; AVX2: the
         * float types and the fma-order ones, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL) */
        if (!tr->is_quantized || simd_isa() == FR_ISA_NEON_DOT || type == FR_TYPE_Q4_0 || type == FR_TYPE_Q5_0 ||
            type == FR_TYPE_Q8_0 || type == FR_TYPE_IQ4_NL || type == FR_TYPE_Q4_1 || type == FR_TYPE_Q5_1)
            CHECK(f2u(dr) == f2u(da), "%s n=%lld: float dot not bit-identical: %.9g vs %.9g",
                  tr->name, (long long)n, (double)dr, (double)da);
    }
    /* determinism and independence of position: same rows read one block further on */
    memcpy(xq2 + xblk, xq, xb);
    memcpy(yq2 + yblk, yq, yb);
    tr->vec_dot(n, &dr2, xq2 + xblk, yq2 + yblk);
    CHECK(f2u(dr) == f2u(dr2), "%s n=%lld: ref dot depends on position", tr->name, (long long)n);
    if (ta) {
        ta->vec_dot(n, &da2, xq2 + xblk, yq2 + yblk);
        CHECK(f2u(da) == f2u(da2), "%s n=%lld: simd dot depends on position", tr->name, (long long)n);
    }
    free(xf); free(yf); free(o1); free(o2); free(yd);
    free(xq); free(yq); free(xq2); free(yq2);
}

/* F16 to_float over every half pattern (NaN-aware: F16C quiets signalling NaNs). */
static void test_f16_all_to_float(void) {
    const fr_type_traits *ta = fr_type_traits_isa(FR_TYPE_F16, FR_ISA_AVX2);
    if (!ta) return;
    fr_f16 *h = malloc(65536 * sizeof(fr_f16));
    float *a = malloc(65536 * sizeof(float)), *b = malloc(65536 * sizeof(float));
    for (uint32_t i = 0; i < 65536; i++) h[i] = (fr_f16)i;
    fr_to_float_f16_ref(h, a, 65536);
    ta->to_float(h, b, 65536);
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        if (isnan(a[i])) bad += !isnan(b[i]) || ((f2u(a[i]) | 0x400000u) != f2u(b[i]));
        else bad += f2u(a[i]) != f2u(b[i]);
    }
    CHECK(bad == 0, "f16 simd to_float differs on %d halves", bad);
    /* from_float on edge values incl. NaN: bit-identical (NaN fixed up to 0x7e00) */
    /* 32 edge values (8-wide kernels see them in full vectors) incl. f16 and bf16 ties */
    float e[32] = {0.0f, -0.0f, 65504.0f, 65520.0f, -65520.0f, INFINITY, -INFINITY, NAN,
                   -NAN, u2f(0x7f800001), u2f(0xffffffff), 5.9604645e-08f, 2.9802322e-08f,
                   u2f(0x33000001), 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 1e-20f, -1e20f,
                   u2f(0x387fe000), u2f(0x387ff000), 0.1f, -0.3f, 3.14159f, 1e-6f,
                   u2f(0x3f808000), u2f(0x3f818000), u2f(0xbf818000), u2f(0x3f807fff),
                   u2f(0x7f7f8000), u2f(0x7f7fffff), u2f(0x00008000), u2f(0x00018000)};
    fr_f16 r1[32], r2[32];
    fr_from_float_f16_ref(e, r1, 32);
    ta->from_float(e, r2, 32);
    CHECK(memcmp(r1, r2, sizeof r1) == 0, "f16 simd from_float edge values differ");
    fr_bf16 s1[32], s2[32];
    fr_from_float_bf16_ref(e, s1, 32);
    fr_type_traits_isa(FR_TYPE_BF16, FR_ISA_AVX2)->from_float(e, s2, 32);
    CHECK(memcmp(s1, s2, sizeof s1) == 0, "bf16 simd from_float edge values differ");
    CHECK(s1[24] == 0x3f80 && s1[25] == 0x3f82 && s1[26] == 0xbf82 && s1[27] == 0x3f80 &&
          s1[28] == 0x7f80 && s1[31] == 0x0002, "bf16 ties to even / overflow to inf");
    free(h);
    free(a);
    free(b);
}

static void test_q8_1_to_float(void) {
    float x[64], y[64];
    test_rng r = {99};
    fill(&r, x, 64, 0);
    block_q8_1 q[2];
    fr_from_float_q8_1_ref(x, q, 64);
    fr_to_float_q8_1_ref(q, y, 64);
    int bad = 0;
    for (int i = 0; i < 64; i++) bad += !(fabs((double)y[i] - x[i]) <= elem_bound(FR_TYPE_Q8_0, x + (i / 32) * 32, 32));
    CHECK(bad == 0, "q8_1 round trip (%d bad)", bad);
    for (int b = 0; b < 2; b++) {
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += q[b].qs[j];
        const double s = fr_f16_to_f32(q[b].s), want = sum * (double)fr_f16_to_f32(q[b].d);
        CHECK(fabs(s - want) <= fabs(want) / 1024 + 1e-30, "q8_1 s %g vs d*sum %g", s, want);
    }
}

int main(void) {
    test_f16_portable();
#if HAVE_X86
    if (fr_cpu_has(FR_ISA_AVX2)) test_f16_hw();
#endif
    if (!has_simd()) printf("test_quants: no AVX2 or NEON sdot on this CPU; checking the reference only\n");
    test_hand_blocks();
    test_quant_semantics();
    test_round_trip();
    test_q8_activations();
    test_q8_1_to_float();
    test_f16_all_to_float();

    test_rng r = {2024};
    static const int ks[] = {1, 2, 3, 5, 7, 33};
    static const int64_t tails[] = {1, 3, 7, 15, 17, 31, 33, 63, 65, 1000, 4097};
    for (size_t t = 0; t < FR_ARRAY_LEN_(k_types); t++) {
        const int type = k_types[t];
        const int64_t bs = fr_type_traits_isa(type, FR_ISA_SCALAR)->block_size;
        for (size_t k = 0; k < FR_ARRAY_LEN_(ks); k++) test_agreement(type, (bs == 1 ? 32 : bs) * ks[k], &r);
        if (bs == 1)
            for (size_t k = 0; k < FR_ARRAY_LEN_(tails); k++) test_agreement(type, tails[k], &r);
    }
    return CHECK_DONE("test_quants");
}

/* test_tiles: every dot-product tile shape gives, per element, exactly the bits of vec_dot
 * (the property batch invariance rests on), at odd block counts. The packed 16-row GEMM
 * kernels (src/kernels/gemm*.c) too: every SIMD kernel this CPU runs (AVX2, AVX-VNNI for Q8_0,
 * AVX512-VNNI; NEON sdot on AArch64) == its scalar reference == vec_dot (AVX2 and scalar) for
 * every number of activation rows (each way of taking a unit's halves), rows not a multiple
 * of 8 or 16, odd block counts and (Q8_0) weights of any int8 value,
 * -128 included; and fr_matmul over a packed matrix gives vec_dot's bits whatever the token
 * count, the thread count, a bias or a row-offset view. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "dtype.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "quants.h"

static void fill_rows(int type, int64_t n, int rows, char *dst, size_t rb, test_rng *rng, float scale) {
    const fr_type_traits *tt = fr_type_traits_isa(type, FR_ISA_SCALAR);
    float *f = malloc(sizeof(float) * (size_t)n);
    for (int r = 0; r < rows; r++) {
        for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(rng) * scale * (1.0f + (float)(r % 5));
        tt->from_float(f, dst + (size_t)r * rb, n);
        if (type == FR_TYPE_Q8_0 && r == 2) { /* a hostile file may hold -128, which no quantizer writes */
            block_q8_0 *blk = (block_q8_0 *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / 32; b++) blk[b].qs[b % 32] = -128, blk[b].qs[(b + 7) % 32] = 127;
        }
        if (type == FR_TYPE_Q2_K && r == 2) { /* every value 3, every scale and min 15 */
            block_q2_K *blk = (block_q2_K *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / QK_K; b++) {
                memset(blk[b].qs, 0xff, sizeof blk[b].qs);
                memset(blk[b].scales, 0xff, sizeof blk[b].scales);
            }
        }
        if (type == FR_TYPE_Q3_K && (r == 2 || r == 3)) { /* every value 3 (or -4), scales -32 */
            block_q3_K *blk = (block_q3_K *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / QK_K; b++) {
                memset(blk[b].qs, r == 2 ? 0xff : 0, sizeof blk[b].qs);
                memset(blk[b].hmask, r == 2 ? 0xff : 0, sizeof blk[b].hmask);
                memset(blk[b].scales, 0, sizeof blk[b].scales);
            }
        }
        if (type == FR_TYPE_IQ4_NL && r == 2) { /* every value -127 (index 0): the largest products */
            block_iq4_nl *blk = (block_iq4_nl *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / 32; b++) memset(blk[b].qs, 0, sizeof blk[b].qs);
        }
        if (type == FR_TYPE_Q5_0 && (r == 2 || r == 3)) { /* every value 31, or 0 (15 and -16 after the offset) */
            block_q5_0 *blk = (block_q5_0 *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / 32; b++) {
                memset(blk[b].qs, r == 2 ? 0xff : 0, sizeof blk[b].qs);
                memset(blk[b].qh, r == 2 ? 0xff : 0, sizeof blk[b].qh);
            }
        }
        if (type == FR_TYPE_Q4_1 && r == 2) { /* every value 15: Q4_1's largest int16 lane sums */
            block_q4_1 *blk = (block_q4_1 *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / 32; b++) memset(blk[b].qs, 0xff, sizeof blk[b].qs);
        }
        if (type == FR_TYPE_Q5_1 && (r == 2 || r == 3)) { /* every value 31 (past int16 without widening), or 0 */
            block_q5_1 *blk = (block_q5_1 *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / 32; b++) {
                memset(blk[b].qs, r == 2 ? 0xff : 0, sizeof blk[b].qs);
                memset(blk[b].qh, r == 2 ? 0xff : 0, sizeof blk[b].qh);
            }
        }
        if (type == FR_TYPE_Q5_K && r == 2) { /* every value 31: the largest int16 partial sums */
            block_q5_K *blk = (block_q5_K *)(dst + (size_t)r * rb);
            for (int64_t b = 0; b < n / QK_K; b++) {
                memset(blk[b].qs, 0xff, sizeof blk[b].qs);
                memset(blk[b].qh, 0xff, sizeof blk[b].qh);
            }
        }
    }
    free(f);
}

/* Q4_0/Q8_0/Q4_K/Q4_1/Q5_1 vec_dot: AVX2 == scalar reference bit for bit (the order the packed
 * GEMM also uses). */
static void test_vec_dot_exact(test_rng *rng) {
    const int types[] = {FR_TYPE_Q4_0, FR_TYPE_Q8_0, FR_TYPE_Q4_K, FR_TYPE_Q4_1, FR_TYPE_Q5_1};
    const int64_t sizes[] = {256, 512, 768, 1280, 2816, 4096 + 256, 11008 + 256 - 11008 % 256};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const fr_type_traits *ta = fr_type_traits_isa(types[ti], FR_ISA_AVX2);
        const fr_type_traits *tr = fr_type_traits_isa(types[ti], FR_ISA_SCALAR);
        if (!ta) return;
        const int at = ta->vec_dot_type;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            int64_t n = sizes[si] - (types[ti] == FR_TYPE_Q4_K ? 0 : 32 * (int64_t)(si & 1)); /* odd block counts */
            size_t rb, ab;
            fr_row_size(types[ti], n, &rb);
            fr_row_size(at, n, &ab);
            char *w = malloc(rb), *a = malloc(ab);
            for (int rep = 0; rep < 4; rep++) {
                fill_rows(types[ti], n, 1, w, rb, rng, 1.0f + (float)rep);
                fill_rows(at, n, 1, a, ab, rng, 3.0f);
                float s1, s2;
                ta->vec_dot(n, &s1, w, a);
                tr->vec_dot(n, &s2, w, a);
                CHECK(memcmp(&s1, &s2, sizeof s1) == 0, "%s n=%lld: avx2 vec_dot %.9g vs ref %.9g", ta->name,
                      (long long)n, s1, s2);
            }
            free(w);
            free(a);
        }
    }
}

/* Q8_0 rows whose quants are arbitrary bytes (a hostile file may hold -128, which no
 * quantizer writes): every other block all -128 / all 127 / random. */
static void hostile_q8_0_rows(int64_t n, int rows, char *w, size_t rb, test_rng *rng) {
    for (int r = 0; r < rows; r++) {
        block_q8_0 *x = (block_q8_0 *)(w + (size_t)r * rb);
        for (int64_t b = 0; b < n / 32; b++) {
            const int kind = (int)((b + r) % 4);
            for (int j = 0; j < 32; j++)
                x[b].qs[j] = kind == 0 ? -128 : kind == 1 ? 127 : (int8_t)(uint8_t)test_rng_next(rng);
        }
    }
}

#if FR_X86
/* Q8_0 units: `clean` = the units with every -128 made -127, `sm` = clean in sign-magnitude
 * form (FR_UNITS_Q8_SM: |w| | (w < 0) << 7 in each value byte). */
static void q8_sm_units(const char *units, int n_units, size_t gb, int64_t nb, char *clean, char *sm) {
    memcpy(clean, units, gb * (size_t)n_units);
    memcpy(sm, units, gb * (size_t)n_units);
    for (int g = 0; g < n_units; g++)
        for (int64_t b = 0; b < nb; b++)
            for (int i = 0; i < FR_Q8_0X16_D; i++) {
                const size_t at = (size_t)g * gb + (size_t)b * FR_Q8_0X16_BLOCK + (size_t)i;
                int v = (int8_t)clean[at];
                if (v == -128) clean[at] = (char)(v = -127);
                sm[at] = (char)(v < 0 ? 0x80 | -v : v);
            }
}

/* The inverse of fr_q6_K_unit_to_3v (gemm.h), byte by byte from the form's description: the
 * units back in the packed layout. */
static void q6_K_unit_from_3v(char *unit, int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = (uint8_t *)unit + (size_t)b * FR_Q6_KX16_BLOCK;
        for (int Q = 0; Q < 2; Q++)
            for (int o = 0; o < 512; o++) {
                uint8_t *a = blk + 1024 * Q + o, *bb = a + 512, *c = blk + FR_Q6_KX16_QH + 512 * Q + o;
                const unsigned s[4] = {*a & 63u, *bb & 63u, *c & 63u, (*a >> 6) | (*bb >> 6) << 2 | (*c >> 6) << 4};
                *a = (uint8_t)((s[0] & 15) | (s[1] & 15) << 4);
                *bb = (uint8_t)((s[2] & 15) | (s[3] & 15) << 4);
                *c = (uint8_t)(s[0] >> 4 | (s[1] >> 4) << 2 | (s[2] >> 4) << 4 | (s[3] >> 4) << 6);
            }
    }
}
#endif

/* Decode's multi-stream kernel on units gi, ng - 1 - gi, gi + 1 and gi + 2 (mod ng; repeats
 * when there are fewer) of `run`, against the reference on the same units of `want` (the same
 * values in the reference's layout), bit for bit: the units that differ, with and without its
 * prefetch (pf 0 and 1, both instantiations). */
/* fr_gemm_pair_units' results, [unit][token][16], and which units it stored */
typedef struct {
    float *o;
    int *seen;
} units_out;

static void store_units_out(const void *ctx, int64_t g, int u, const float *out) {
    const units_out *uo = ctx;
    memcpy(uo->o + ((size_t)g * 4 + (size_t)u) * 16, out, sizeof(float) * 16);
    uo->seen[g * 4 + u]++;
}

/* Decode's several-stream order (fr_gemm_pair_units with two_streams, the four-stream kernel
 * quad or none, pair for the rest) over n units, unit i a copy of unit i % ng of g, for T
 * tokens: the units done must be all of them but the last of an odd rest, each stored once per
 * token and each the reference's bits. Returns the mismatches. */
static int pair_units_mismatches(fr_gemm_pair_fn pair, fr_gemm_quad_fn quad, fr_gemm_kernel_fn ref, int64_t nb,
                                 const char *g, size_t gb, int ng, int n, const void *const *acts, int T) {
    char *units = aligned_alloc(64, gb * (size_t)n);
    float *o = malloc(sizeof(float) * 16 * 4 * (size_t)n);
    int *seen = calloc((size_t)n * 4, sizeof(int));
    for (int i = 0; i < n; i++) memcpy(units + (size_t)i * gb, g + (size_t)(i % ng) * gb, gb);
    const units_out uo = {o, seen};
    const int64_t done = fr_gemm_pair_units(pair, quad, nb, units, gb, 0, n, acts, T, true, store_units_out, &uo);
    const int q = quad && n >= 8 ? n / 4 : 0, want = 4 * q + (n - 4 * q) / 2 * 2;
    int bad = done != want;
    for (int i = 0; i < n; i++) {
        float o1[4 * 16];
        ref(nb, units + (size_t)i * gb, acts, T, o1);
        for (int u = 0; u < T; u++)
            bad += i < done ? seen[i * 4 + u] != 1 || memcmp(o + ((size_t)i * 4 + (size_t)u) * 16, o1 + 16 * u,
                                                               sizeof(float) * 16) != 0
                            : seen[i * 4 + u] != 0;
    }
    free(units);
    free(o);
    free(seen);
    return bad;
}

static int streams_mismatches(fr_gemm_streams_fn streams, fr_gemm_kernel_fn ref, int64_t nb, const char *run,
                              const char *want, size_t gb, int ng, int gi, const void *act) {
    const int pick[4] = {gi, ng - 1 - gi, (gi + 1) % ng, (gi + 2) % ng};
    const void *units[FR_GEMM_STREAMS];
    for (int k = 0; k < FR_GEMM_STREAMS; k++) units[k] = run + (size_t)pick[k % 4] * gb;
    float o[FR_GEMM_STREAMS * 16], o1[16];
    int bad = 0;
    for (int pf = 0; pf < 2; pf++) {
        streams(nb, units, act, o, pf);
        for (int k = 0; k < FR_GEMM_STREAMS; k++) {
            ref(nb, want + (size_t)pick[k % 4] * gb, &act, 1, o1);
            bad += memcmp(o + 16 * k, o1, sizeof o1) != 0;
        }
    }
    return bad;
}

/* The SIMD kernels of a packed type this CPU runs (the dispatched one first). */
static int packed_kernels(int type, fr_gemm_kernel_fn *out) {
    int n = 0;
    out[n++] = fr_gemm_kernel(type);
    const fr_isa isas[] = {FR_ISA_AVX512VNNI, FR_ISA_AVX2, FR_ISA_AVXVNNI, FR_ISA_NEON_DOT};
    for (int i = 0; i < 4; i++) {
        fr_gemm_kernel_fn k = fr_gemm_kernel_isa(type, isas[i]);
        if (k && k != out[0]) out[n++] = k;
    }
#if FR_X86
    /* Q6_K's AVX-512 VNNI kernel with the short few-token prefetch, whatever the setting */
    if (type == FR_TYPE_Q6_K && fr_gemm_kernel_isa(type, FR_ISA_AVX512VNNI)) out[n++] = fr_gemm_q6_Kx16_pf_avx512vnni;
#endif
    return n;
}

/* The offset word gemm.h specifies for a Q4_0/Q5_0/Q8_0/IQ4_NL activation block. */
static int32_t expected_offset(int type, const int8_t *qs) {
    int s0 = 0, s1 = 0;
    for (int j = 0; j < 32; j++) *((j & 3) < 2 ? &s0 : &s1) += qs[j];
    if (type == FR_TYPE_Q8_0 || type == FR_TYPE_IQ4_NL) return -128 * (s0 + s1);
    const int k = type == FR_TYPE_Q5_0 ? -16 : -8;
    return (int32_t)(((uint32_t)(uint16_t)(k * s1) << 16) | (uint16_t)(k * s0));
}

/* Packed units: layout round trip, activation bytes, kernels vs references vs vec_dot. */
static void test_packed_kernels(test_rng *rng) {
    const int types[] = {FR_TYPE_Q4_0, FR_TYPE_Q8_0, FR_TYPE_Q5_0, FR_TYPE_IQ4_NL, FR_TYPE_Q4_1, FR_TYPE_Q5_1,
                         FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K, FR_TYPE_Q3_K, FR_TYPE_Q2_K};
    const int64_t sizes[] = {32, 96, 160, 1056, 4096 + 32};
    const int64_t ksizes[] = {256, 768, 2816};
    const int row_counts[] = {1, 5, 8, 13, 16, 21, 40, 100};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int type = types[ti];
        if (!fr_pack_supported(type)) {
            printf("  %s: no packed kernel on this CPU\n", fr_type_name(type));
            continue;
        }
        const fr_type_traits *ta = fr_type_traits_get(type); /* the dispatched vec_dot (AVX2 on x86) */
        const fr_type_traits *tr = fr_type_traits_isa(type, FR_ISA_SCALAR);
        const fr_type_traits *aq = fr_type_traits_get(ta->vec_dot_type);
        const bool kq = type >= FR_TYPE_Q2_K && type <= FR_TYPE_Q6_K;
        fr_gemm_kernel_fn kerns[6];
        const int n_kerns = packed_kernels(type, kerns);
        fr_gemm_kernel_fn ref = type == FR_TYPE_Q4_0 ? fr_gemm_q4_0x16_ref
                                : type == FR_TYPE_Q8_0 ? fr_gemm_q8_0x16_ref
                                : type == FR_TYPE_Q5_0 ? fr_gemm_q5_0x16_ref
                                : type == FR_TYPE_IQ4_NL ? fr_gemm_iq4_nlx16_ref
                                : type == FR_TYPE_Q4_1 ? fr_gemm_q4_1x16_ref
                                : type == FR_TYPE_Q5_1 ? fr_gemm_q5_1x16_ref
                                : type == FR_TYPE_Q4_K ? fr_gemm_q4_Kx16_ref
                                : type == FR_TYPE_Q5_K ? fr_gemm_q5_Kx16_ref
                                : type == FR_TYPE_Q3_K ? fr_gemm_q3_Kx16_ref
                                : type == FR_TYPE_Q2_K ? fr_gemm_q2_Kx16_ref
                                                       : fr_gemm_q6_Kx16_ref;
        CHECK(kerns[0] != NULL, "%s: no packed kernel", ta->name);
        if (fr_gemm_kernel_isa(type, FR_ISA_AVX512VNNI)) printf("  %s: testing the AVX512-VNNI kernel too\n", ta->name);
        if (fr_gemm_kernel_isa(type, FR_ISA_NEON_DOT)) printf("  %s: testing the NEON sdot kernel\n", ta->name);
        if (fr_gemm_amx_kernel(type)) printf("  %s: testing the AMX prompt kernel\n", ta->name);
        if (!kerns[0]) continue;
        const int n_sizes = kq ? 3 : 5;
        for (int si = 0; si < n_sizes; si++) {
            const int64_t n = kq ? ksizes[si] : sizes[si], nb = n / fr_pack_block_values(type);
            size_t rb, ab, gb = fr_pack_unit_bytes(type, n), pab = fr_gemm_act_bytes(type, n);
            fr_row_size(type, n, &rb);
            fr_row_size(ta->vec_dot_type, n, &ab);
            char *a = malloc(ab * 4), *pa = aligned_alloc(64, pab * 4), *row = malloc(rb);
            float *f = malloc(sizeof(float) * (size_t)n * 4);
            for (int t = 0; t < 4; t++) {
                for (int64_t i = 0; i < n; i++) f[t * n + i] = test_rng_float(rng) * (t == 3 ? 100.0f : 3.0f);
                if (t == 2) /* a block of zeros and one of a single spike */
                    for (int64_t i = 0; i < FR_MIN(n, 64); i++) f[t * n + i] = i == 40 ? -7.5f : 0.0f;
                if (t == 1) /* a constant run: every int8 value at its extreme (Q8_0: 127, Q8_K: -127) */
                    for (int64_t i = 0; i < FR_MIN(n, 256); i++) f[t * n + i] = 2.5f;
                aq->from_float(f + t * n, a + (size_t)t * ab, n);
                fr_gemm_quantize(type, f + t * n, pa + (size_t)t * pab, n);
                const int8_t *pq = (const int8_t *)(pa + (size_t)t * pab);
                int bad = 0;
                if (type == FR_TYPE_Q6_K || type == FR_TYPE_Q3_K || type == FR_TYPE_Q2_K) {
                    const block_q8_K *blk = (const block_q8_K *)(a + (size_t)t * ab);
                    const float *pd = (const float *)(pq + nb * 256);
                    const int32_t *pc = (const int32_t *)(pq + nb * 260);
                    for (int64_t b = 0; b < nb; b++) {
                        bad += memcmp(blk[b].qs, pq + b * 256, 256) != 0 || blk[b].d != pd[b];
                        for (int j = 0; j < 16; j++) {
                            const int16_t lo = (int16_t)(uint16_t)pc[b * 16 + j], hi = (int16_t)((uint32_t)pc[b * 16 + j] >> 16);
                            bad += lo != -16 * blk[b].bsums[j] || hi != lo;
                        }
                    }
                } else if (kq) {
                    const block_q8_K *blk = (const block_q8_K *)(a + (size_t)t * ab);
                    const float *pd = (const float *)(pq + nb * 256);
                    const int16_t *ps = (const int16_t *)(pq + nb * 260);
                    for (int64_t b = 0; b < nb; b++) {
                        bad += memcmp(blk[b].qs, pq + b * 256, 256) != 0 || blk[b].d != pd[b];
                        for (int j = 0; j < 8; j++) bad += ps[b * 8 + j] != blk[b].bsums[2 * j] + blk[b].bsums[2 * j + 1];
                    }
                } else if (ta->vec_dot_type == FR_TYPE_Q8_1) { /* Q4_1, Q5_1: the offset word is s as a float */
                    const block_q8_1 *blk = (const block_q8_1 *)(a + (size_t)t * ab);
                    const float *pd = (const float *)(pq + nb * 32), *ps = (const float *)(pq + nb * 36);
                    for (int64_t b = 0; b < nb; b++)
                        bad += memcmp(blk[b].qs, pq + b * 32, 32) != 0 || fr_f16_to_f32(blk[b].d) != pd[b] ||
                               fr_f16_to_f32(blk[b].s) != ps[b];
                } else {
                    const block_q8_0 *blk = (const block_q8_0 *)(a + (size_t)t * ab);
                    const float *pd = (const float *)(pq + nb * 32);
                    const int32_t *pc = (const int32_t *)(pq + nb * 36);
                    for (int64_t b = 0; b < nb; b++)
                        bad += memcmp(blk[b].qs, pq + b * 32, 32) != 0 || fr_f16_to_f32(blk[b].d) != pd[b] ||
                               pc[b] != expected_offset(type, blk[b].qs);
                }
                CHECK(bad == 0, "%s n=%lld act %d: split quantization differs from %s in %d places", ta->name,
                      (long long)n, t, aq->name, bad);
            }
            for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
                int rows = row_counts[ri], ng = (rows + 15) / 16;
                char *w = malloc(rb * (size_t)rows), *g = aligned_alloc(64, gb * (size_t)ng);
                fill_rows(type, n, rows, w, rb, rng, 1.0f);
                if (type == FR_TYPE_Q8_0 && (ri & 1)) hostile_q8_0_rows(n, rows, w, rb, rng);
                memset(g, 0, gb * (size_t)ng);
                char *g2 = aligned_alloc(64, gb);
                for (int gi = 0; gi < ng; gi++) {
                    const int nr = FR_MIN(16, rows - gi * 16);
                    fr_pack_unit(type, n, w + (size_t)gi * 16 * rb, rb, nr, g + (size_t)gi * gb);
                    memset(g2, gi & 1 ? 0xAA : 0x55, gb); /* packing must not depend on what was there */
                    fr_pack_unit(type, n, w + (size_t)gi * 16 * rb, rb, nr, g2);
                    CHECK(memcmp(g2, g + (size_t)gi * gb, gb) == 0, "%s n=%lld unit %d (%d rows): packed bytes "
                          "depend on the buffer's old contents", ta->name, (long long)n, gi, nr);
                }
                free(g2);
                for (int r = 0; r < rows; r++) {
                    fr_unpack_unit_row(type, n, g + (size_t)(r / 16) * gb, r % 16, row);
                    CHECK(memcmp(row, w + (size_t)r * rb, rb) == 0, "%s n=%lld row %d: unpack differs", ta->name,
                          (long long)n, r);
                }
                /* decode's multi-stream kernels: units gi, ng - 1 - gi, gi + 1 and gi + 2 (mod ng;
                 * repeats when there are fewer) against the reference, bit for bit */
                const fr_isa streams_isas[] = {FR_ISA_AVX512VNNI, FR_ISA_AVX2, FR_ISA_AVXVNNI, FR_ISA_NEON_DOT};
                for (int si2 = 0; si2 < 4; si2++) {
                    fr_gemm_streams_fn streams = fr_gemm_streams_kernel_isa(type, streams_isas[si2]);
                    if (!streams) continue;
                    for (int t = 0; t < 4; t++) {
                        const void *act = pa + (size_t)t * pab;
                        int bad = 0;
                        for (int gi = 0; gi < ng; gi++) bad += streams_mismatches(streams, ref, nb, g, g, gb, ng, gi, act);
                        CHECK(bad == 0, "%s n=%lld rows=%d act %d: streams kernel (isa %d) differs from the "
                              "reference in %d units", ta->name, (long long)n, rows, t, (int)streams_isas[si2], bad);
                    }
                }
                /* the pair kernels: units gi and gi + d in one call, d = 1 (a prompt's adjacent
                 * pairs) and d = ng - 1 - gi (decode's two streams, fr_gemm_pair_units), T = 1..4
                 * tokens, each unit's results against the reference, bit for bit */
                for (int pi = 0; pi < 4; pi++) { /* (the streams kernels' instruction sets) */
                    fr_gemm_pair_fn pair = fr_gemm_pair_kernel_isa(type, streams_isas[pi]);
                    if (!pair) continue;
                    int bad = 0;
                    for (int gi = 0; gi + 1 < ng; gi++)
                        for (int far = 0; far < (gi + 2 < ng ? 2 : 1); far++)
                            for (int T = 1; T <= 4; T++) {
                                const int d = far ? ng - 1 - gi : 1;
                                const void *acts[4];
                                for (int t = 0; t < T; t++)
                                    acts[t] = pa + (size_t)((t + gi) % 4) * pab;
                                float o[2][4 * 16], o1[4 * 16];
                                float *const outs[2] = {o[0], o[1]};
                                memset(o, 0xCC, sizeof o);
                                pair(nb, g + (size_t)gi * gb, (size_t)d * gb, acts, T, outs);
                                for (int k = 0; k < 2; k++) {
                                    ref(nb, g + (size_t)(gi + k * d) * gb, acts, T, o1);
                                    bad += memcmp(o[k], o1, sizeof(float) * 16 * (size_t)T) != 0;
                                }
                            }
                    CHECK(bad == 0,
                          "%s n=%lld rows=%d: the pair kernel (isa %d) differs from the reference in %d "
                          "(units, T) cases",
                          ta->name, (long long)n, rows, (int)streams_isas[pi], bad);
                }
                /* the four-stream kernels: units gi + k * d, k < 4, d = 1 and the widest d that
                 * fits (decode's four streams, fr_gemm_pair_units), T = 2..4 tokens, each unit's
                 * results against the reference, bit for bit */
                for (int qi = 0; qi < 4; qi++) {
                    fr_gemm_quad_fn quad = fr_gemm_quad_kernel_isa(type, streams_isas[qi]);
                    if (!quad) continue;
                    int bad = 0, cases = 0;
                    for (int gi = 0; gi + 3 < ng; gi++)
                        for (int far = 0; far < 2; far++)
                            for (int T = 2; T <= 4; T++) {
                                const int d = far ? (ng - 1 - gi) / 3 : 1;
                                const void *acts[4];
                                for (int t = 0; t < T; t++)
                                    acts[t] = pa + (size_t)((t + gi + far) % 4) * pab;
                                float o[4][4 * 16], o1[4 * 16];
                                float *const outs[4] = {o[0], o[1], o[2], o[3]};
                                memset(o, 0xCC, sizeof o);
                                quad(nb, g + (size_t)gi * gb, (size_t)d * gb, acts, T, outs);
                                for (int k = 0; k < 4; k++) {
                                    ref(nb, g + (size_t)(gi + k * d) * gb, acts, T, o1);
                                    bad += memcmp(o[k], o1, sizeof(float) * 16 * (size_t)T) != 0;
                                }
                                cases++;
                            }
                    CHECK(bad == 0 && (ng < 4 || cases > 0),
                          "%s n=%lld rows=%d: the four-stream kernel (isa %d) differs from the reference in %d "
                          "(units, T) cases of %d",
                          ta->name, (long long)n, rows, (int)streams_isas[qi], bad, cases);
                    /* and through decode's order (fr_gemm_pair_units), whatever the CPU's
                     * streams-prefetch setting: 8 to 11 units (four streams, then pairs and an
                     * odd unit) and, without the four-stream kernel, 7 in pairs; on the
                     * largest matrix only (7 distinct units) */
                    bad = 0;
                    for (int nu = 7; ng >= 7 && nu <= 11; nu++)
                        for (int T = 2; T <= 4; T++) {
                            const void *acts[4];
                            for (int t = 0; t < T; t++) acts[t] = pa + (size_t)((t + nu) % 4) * pab;
                            bad += pair_units_mismatches(fr_gemm_pair_kernel_isa(type, streams_isas[qi]),
                                                         nu == 7 ? NULL : quad, ref, nb, g, gb, ng, nu, acts, T);
                        }
                    CHECK(bad == 0,
                          "%s n=%lld rows=%d: decode's four-stream order (isa %d) differs from the reference in %d "
                          "places",
                          ta->name, (long long)n, rows, (int)streams_isas[qi], bad);
                }
                /* the AMX prompt kernel: 16 activation rows (the four above in a mixed order) */
#if FR_X86
                fr_gemm_amx_fn amx = fr_gemm_amx_kernel(type);
                if (amx) {
                    char *pa16 = aligned_alloc(64, pab * FR_GEMM_AMX_T);
                    void *bt = aligned_alloc(64, fr_gemm_amx_unpacked_bytes(type, nb));
                    for (int t = 0; t < FR_GEMM_AMX_T; t++)
                        memcpy(pa16 + (size_t)t * pab, pa + (size_t)((t * 5 + 1) % 4) * pab, pab);
                    int bad = 0;
                    fr_gemm_amx_begin();
                    for (int gi = 0; gi < ng; gi++) {
                        float o[FR_GEMM_AMX_T * 16], o1[16];
                        /* the values unpacked in each block (NULL), and before (bt; the K-quants
                         * only so) */
                        for (int pre = kq ? 1 : 0; pre < (type == FR_TYPE_Q8_0 ? 1 : 2); pre++) {
                            if (pre) fr_gemm_amx_unpack(type, nb, g + (size_t)gi * gb, bt);
                            amx(nb, g + (size_t)gi * gb, pre ? bt : NULL, pa16, pab, o);
                            for (int t = 0; t < FR_GEMM_AMX_T; t++) {
                                const void *act = pa16 + (size_t)t * pab;
                                ref(nb, g + (size_t)gi * gb, &act, 1, o1);
                                bad += memcmp(o + 16 * t, o1, sizeof o1) != 0;
                            }
                        }
                    }
                    fr_gemm_amx_end();
                    CHECK(bad == 0, "%s n=%lld rows=%d: the AMX kernel differs from the reference in %d (unit, row) "
                          "pairs", ta->name, (long long)n, rows, bad);
                    free(pa16);
                    free(bt);
                }
#endif
#if FR_X86
                /* Q8_0's sign-magnitude AVX2 kernels (the units with -128 made -127) against the
                 * reference on the same values: T = 1..4, and the streams kernel */
                if (type == FR_TYPE_Q8_0 && fr_cpu_has(FR_ISA_AVX2)) {
                    char *clean = aligned_alloc(64, gb * (size_t)ng), *sm = aligned_alloc(64, gb * (size_t)ng);
                    q8_sm_units(g, ng, gb, nb, clean, sm);
                    int bad = 0;
                    for (int gi = 0; gi < ng; gi++) {
                        for (int T = 1; T <= 4; T++) {
                            const void *acts[4];
                            for (int t = 0; t < T; t++) acts[t] = pa + (size_t)((t + T - 1) % 4) * pab;
                            float o1[64], o2[64];
                            fr_gemm_q8_0x16_avx2_sm(nb, sm + (size_t)gi * gb, acts, T, o1);
                            fr_gemm_q8_0x16_ref(nb, clean + (size_t)gi * gb, acts, T, o2);
                            bad += memcmp(o1, o2, sizeof(float) * 16 * (size_t)T) != 0;
                        }
                        for (int t = 0; t < 4; t++)
                            bad += streams_mismatches(fr_gemm_q8_0x16_streams_avx2_sm, fr_gemm_q8_0x16_ref, nb, sm,
                                                      clean, gb, ng, gi, pa + (size_t)t * pab);
                    }
                    CHECK(bad == 0, "%s n=%lld rows=%d: the sign-magnitude AVX2 kernels differ from the reference "
                          "in %d calls", ta->name, (long long)n, rows, bad);
                    free(clean);
                    free(sm);
                }
                /* Q6_K's three-vector AVX2 kernel (FR_UNITS_Q6_3V) on the units in that form
                 * against the reference on them as packed: T = 1..4; and the form read back */
                if (type == FR_TYPE_Q6_K && fr_cpu_has(FR_ISA_AVX2)) {
                    char *v3 = aligned_alloc(64, gb * (size_t)ng);
                    memcpy(v3, g, gb * (size_t)ng);
                    int bad = 0, moved = 0;
                    for (int gi = 0; gi < ng; gi++) fr_q6_K_unit_to_3v(v3 + (size_t)gi * gb, nb);
                    for (int gi = 0; gi < ng; gi++) {
                        moved += memcmp(v3 + (size_t)gi * gb, g + (size_t)gi * gb, gb) != 0;
                        for (int T = 1; T <= 4; T++) {
                            const void *acts[4];
                            for (int t = 0; t < T; t++) acts[t] = pa + (size_t)((t + T - 1 + gi) % 4) * pab;
                            float o1[64], o2[64];
                            fr_gemm_q6_Kx16_avx2_3v(nb, v3 + (size_t)gi * gb, acts, T, o1);
                            ref(nb, g + (size_t)gi * gb, acts, T, o2);
                            bad += memcmp(o1, o2, sizeof(float) * 16 * (size_t)T) != 0;
                        }
                    }
                    CHECK(moved == ng, "%s n=%lld rows=%d: the three-vector form left %d of %d units as they were",
                          ta->name, (long long)n, rows, ng - moved, ng);
                    CHECK(bad == 0, "%s n=%lld rows=%d: the three-vector AVX2 kernel differs from the reference "
                          "in %d calls", ta->name, (long long)n, rows, bad);
                    for (int gi = 0; gi < ng; gi++) q6_K_unit_from_3v(v3 + (size_t)gi * gb, nb);
                    CHECK(memcmp(v3, g, gb * (size_t)ng) == 0, "%s n=%lld rows=%d: the three-vector form, read as "
                          "gemm.h describes it, is not the packed units", ta->name, (long long)n, rows);
                    free(v3);
                }
#endif
                for (int T = 1; T <= 4; T++) {
                    const void *acts[4];
                    for (int t = 0; t < T; t++) acts[t] = pa + (size_t)((t + T - 1) % 4) * pab;
                    for (int ki = 0; ki < n_kerns; ki++)
                        for (int gi = 0; gi < ng; gi++) {
                            float o1[64], o2[64];
                            kerns[ki](nb, g + (size_t)gi * gb, acts, T, o1);
                            ref(nb, g + (size_t)gi * gb, acts, T, o2);
                            for (int t = 0; t < T; t++) {
                                const char *at = a + (size_t)((t + T - 1) % 4) * ab;
                                for (int r = 0; r < 16 && gi * 16 + r < rows; r++) {
                                    float sa, sr;
                                    const char *wr = w + (size_t)(gi * 16 + r) * rb;
                                    ta->vec_dot(n, &sa, wr, at);
                                    tr->vec_dot(n, &sr, wr, at);
                                    float k = o1[t * 16 + r], kr = o2[t * 16 + r];
                                    CHECK(memcmp(&k, &sa, 4) == 0 && memcmp(&kr, &sa, 4) == 0 &&
                                              memcmp(&sr, &sa, 4) == 0,
                                          "%s n=%lld rows=%d T=%d kernel %d (row %d, act %d): kernel %.9g ref %.9g "
                                          "vec_dot avx2 %.9g scalar %.9g",
                                          ta->name, (long long)n, rows, T, ki, gi * 16 + r, t, k, kr, sa, sr);
                                }
                            }
                        }
                }
                free(w);
                free(g);
            }
            free(a);
            free(pa);
            free(row);
            free(f);
        }
    }
}

/* Elements of a group's outputs (fr_matmul_group over nt tokens of x) that differ from vec_dot
 * on vec_dot's conversion of x (a: scratch for one converted row), plus any value written
 * past a product's rows (y zeroed before). */
static int group_mismatches(const fr_mm_out *out, int n, const float *x, int64_t xs, int64_t nt, void *a) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const fr_matrix *w = out[i].w;
        const fr_type_traits *tt = fr_type_traits_get(w->type);
        for (int64_t t = 0; t < nt; t++) {
            fr_type_traits_get(tt->vec_dot_type)->from_float(x + t * xs, a, w->n_in);
            for (int64_t r = 0; r < w->n_out; r++) {
                float s;
                tt->vec_dot(w->n_in, &s, (const char *)w->data + (size_t)r * w->row_bytes, a);
                if (out[i].bias) s = s + out[i].bias[r];
                bad += memcmp(&s, &out[i].y[t * out[i].y_stride + r], 4) != 0;
            }
            bad += out[i].y[t * out[i].y_stride + w->n_out] != 0.0f;
        }
    }
    return bad;
}

/* fr_matmul_multi's decode step (one token per job) reads a chunk's units as streams where the
 * type has a streams kernel: 507 rows (32 units, the last of 11 rows) with one thread make
 * chunks of 128, 128, 128 and 123 rows, two units per stream, and the last stream call ends in
 * the partial unit. Every element is vec_dot's and nothing is written past the rows. (Q4_K
 * has no streams kernel: its one-unit path gets the same check.) */
static void test_multi_decode_streams(test_rng *rng) {
    const int types[] = {FR_TYPE_Q4_0, FR_TYPE_Q8_0, FR_TYPE_Q4_K};
    const int64_t n = 256, n_out = 507;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int type = types[ti];
        if (!fr_pack_supported(type)) continue;
        const fr_type_traits *tt = fr_type_traits_get(type), *aq = fr_type_traits_get(tt->vec_dot_type);
        size_t rb, ab;
        fr_row_size(type, n, &rb);
        fr_row_size(tt->vec_dot_type, n, &ab);
        char *w = aligned_alloc(64, (rb * (size_t)n_out + 63) & ~(size_t)63), *a = malloc(ab);
        fill_rows(type, n, (int)n_out, w, rb, rng, 1.0f);
        float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)(n_out + 16));
        for (int64_t i = 0; i < n; i++) x[i] = test_rng_float(rng) * 2.0f;
        fr_matrix m = {type, n, n_out, rb, w, NULL, 0};
        fr_packed *pk = fr_pack_new(&m);
        CHECK(pk != NULL, "%s: fr_pack_new", tt->name);
        m.packed = pk;
        fr_mm_job job = {{&m, NULL}, 1, x, n, NULL, 1, {y, NULL}, n_out};
        void *scr = aligned_alloc(64, (fr_matmul_multi_scratch_size(&job, 1) + 63) & ~(size_t)63);
        aq->from_float(x, a, n);
        for (int threads = 1; threads <= 2; threads++) {
            fr_pool *pool;
            fr_error err;
            if (fr_pool_new(threads, &pool, &err) != FR_OK) continue;
            for (int64_t r = 0; r < n_out + 16; r++) y[r] = -7.0f; /* a unit's padding rows give 0 */
            fr_matmul_multi(pool, &job, 1, scr);
            int bad = 0;
            for (int64_t r = 0; r < n_out; r++) {
                float s;
                tt->vec_dot(n, &s, w + (size_t)r * rb, a);
                bad += memcmp(&s, &y[r], 4) != 0;
            }
            for (int r = 0; r < 16; r++) bad += y[n_out + r] != -7.0f;
            CHECK(bad == 0, "%s matmul_multi decode, %d threads: %d elements differ from vec_dot or were written "
                  "past the rows", tt->name, threads, bad);
            fr_pool_free(pool);
        }
        fr_pack_free(pk);
        free(scr);
        free(w);
        free(a);
        free(x);
        free(y);
    }
}

/* fr_matmul over a registered packed matrix: every element is vec_dot's, for token counts
 * around the tile size, 1..3 threads, with a bias and strides; views at a unit boundary
 * use the packed rows, others fall back (same bits either way). */
static void test_packed_matmul(test_rng *rng) {
    /* Q8_0 twice: with fill_rows's -128s, then without (the sign-magnitude units where the
     * Q8_0 kernels are AVX2's) */
    const int types[] = {FR_TYPE_Q4_0, FR_TYPE_Q8_0, FR_TYPE_Q5_0, FR_TYPE_IQ4_NL, FR_TYPE_Q4_1, FR_TYPE_Q5_1,
                         FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K, FR_TYPE_Q3_K, FR_TYPE_Q2_K, FR_TYPE_Q8_0};
    const int64_t n_toks[] = {1, 2, 3, 4, 5, 7, 9, 17};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int type = types[ti];
        if (!fr_pack_supported(type)) continue;
        const fr_type_traits *tt = fr_type_traits_get(type);
        const fr_type_traits *aq = fr_type_traits_get(tt->vec_dot_type);
        const int64_t n = ti >= 4 ? 768 : 96 + 32 * (int64_t)ti * 5, n_out = 203, xs = n + 3, ys = n_out + 5,
                      ys_m = n_out;
        size_t rb, ab;
        fr_row_size(type, n, &rb);
        fr_row_size(tt->vec_dot_type, n, &ab);
        char *w = aligned_alloc(64, (rb * (size_t)n_out + 63) & ~(size_t)63), *a = malloc(ab);
        fill_rows(type, n, (int)n_out, w, rb, rng, 1.0f);
        const bool no_min = type == FR_TYPE_Q8_0 && ti > 1;
        for (int64_t r = 0; r < n_out && no_min; r++)
            for (int64_t b = 0; b < n / 32; b++) {
                block_q8_0 *blk = (block_q8_0 *)(w + (size_t)r * rb) + b;
                for (int j = 0; j < 32; j++) blk->qs[j] = blk->qs[j] == -128 ? -127 : blk->qs[j];
            }
        float *x = malloc(sizeof(float) * (size_t)(xs * 17)), *bias = malloc(sizeof(float) * (size_t)n_out);
        float *y = malloc(sizeof(float) * (size_t)(ys * 17));
        for (int64_t i = 0; i < xs * 17; i++) x[i] = test_rng_float(rng) * 2.0f;
        for (int64_t i = 0; i < n_out; i++) bias[i] = test_rng_float(rng);
        fr_matrix m = {type, n, n_out, rb, w, NULL, 0};
        fr_packed *pk = fr_pack_new(&m);
        CHECK(pk != NULL, "%s: fr_pack_new", tt->name);
#if FR_X86
        const bool sm = no_min && fr_gemm_kernel(type) == fr_gemm_q8_0x16_avx2;
#else
        const bool sm = false;
#endif
        CHECK(pk && (pk->units == FR_UNITS_Q8_SM) == sm, "%s (%s -128): units %d, sign-magnitude expected %d",
              tt->name, no_min ? "no" : "with", pk ? (int)pk->units : -1, (int)sm);
#if FR_X86
        const bool three = type == FR_TYPE_Q6_K && fr_gemm_kernel(type) == fr_gemm_q6_Kx16_avx2;
#else
        const bool three = false;
#endif
        CHECK(pk && (pk->units == FR_UNITS_Q6_3V) == three, "%s: units %d, three-vector expected %d", tt->name,
              pk ? (int)pk->units : -1, (int)three);
        if (three) printf("  %s: fr_matmul on three-vector units\n", tt->name);
        if (sm) printf("  %s: fr_matmul on sign-magnitude units\n", tt->name);
        m.packed = pk;
        if (sm) { /* a group of it and a copy with one -128 (so not sign-magnitude): the kernels of each */
            char *w2 = aligned_alloc(64, (rb * (size_t)n_out + 63) & ~(size_t)63);
            memcpy(w2, w, rb * (size_t)n_out);
            ((block_q8_0 *)(w2 + 40 * rb))->qs[5] = -128;
            fr_matrix m2 = {type, n, n_out, rb, w2, NULL, 0};
            fr_packed *pk2 = fr_pack_new(&m2);
            CHECK(pk2 && pk2->units == FR_UNITS_PACKED, "%s: a -128 weight gave sign-magnitude units", tt->name);
            m2.packed = pk2;
            float *yg[2] = {calloc((size_t)(ys * 17), sizeof(float)), calloc((size_t)(ys * 17), sizeof(float))};
            const fr_mm_out grp[2] = {{&m, yg[0], ys, NULL}, {&m2, yg[1], ys, bias}};
            void *scr = aligned_alloc(64, fr_matmul_scratch_size(&m, 17) + 64);
            for (size_t ni = 0; ni < sizeof n_toks / sizeof n_toks[0]; ni++) {
                fr_matmul_group(NULL, grp, 2, x, xs, n_toks[ni], scr);
                CHECK(group_mismatches(grp, 2, x, xs, n_toks[ni], a) == 0,
                      "%s: a group of sign-magnitude and plain units, %lld tokens, differs from vec_dot", tt->name,
                      (long long)n_toks[ni]);
            }
            free(scr);
            free(yg[0]);
            free(yg[1]);
            fr_pack_free(pk2);
            free(w2);
        }
        int64_t g0 = -1;
        CHECK(fr_pack_find(&m, &g0) && g0 == 0, "%s: find", tt->name);
        fr_matrix v8 = fr_matrix_rows(&m, 16, 100), v3 = fr_matrix_rows(&m, 3, 100);
        fr_matrix v32 = fr_matrix_rows(&m, 32, 100), vh = fr_matrix_rows(&m, 8, 100);
        fr_matrix v48 = fr_matrix_rows(&v32, 16, 80); /* a view of a view: rows 48 .. 127 */
        CHECK(fr_pack_find(&v8, &g0) && g0 == 1 && v8.data == w + 16 * rb, "%s: view at row 16 is unit 1", tt->name);
        CHECK(fr_pack_find(&v32, &g0) && g0 == 2, "%s: view at row 32 is unit 2", tt->name);
        CHECK(fr_pack_find(&v48, &g0) && g0 == 3 && v48.data == w + 48 * rb, "%s: view at row 48 is unit 3", tt->name);
        CHECK(!fr_pack_find(&v3, &g0) && v3.data == w + 3 * rb, "%s: view at row 3 is not packed", tt->name);
        CHECK(!fr_pack_find(&vh, &g0), "%s: view at row 8 (a half) is not packed", tt->name);
        fr_matrix big = v32;
        big.n_out = n_out; /* rows past the packed copy's end: not served from it */
        CHECK(!fr_pack_find(&big, &g0), "%s: a view past the end is not packed", tt->name);
        void *scratch = aligned_alloc(64, fr_matmul_scratch_size(&m, 17) + 64);
        for (int threads = 1; threads <= 3; threads++) {
            fr_pool *pool;
            fr_error err;
            if (fr_pool_new(threads, &pool, &err) != FR_OK) continue;
            for (size_t ni = 0; ni < sizeof n_toks / sizeof n_toks[0]; ni++) {
                int64_t nt = n_toks[ni];
                for (int vi = 0; vi < 3; vi++) {
                    const fr_matrix *mm = vi == 0 ? &m : vi == 1 ? &v8 : &v3;
                    const float *bb = vi == 0 ? bias : NULL;
                    memset(y, 0, sizeof(float) * (size_t)(ys * 17));
                    /* decode's read-ahead of the next product's weights is only a hint */
                    fr_matmul_prefetch(pool, vi == 2 ? &m : mm);
                    fr_matmul(pool, mm, x, xs, nt, y, ys, bb, scratch);
                    int bad = 0;
                    for (int64_t t = 0; t < nt; t++) {
                        aq->from_float(x + t * xs, a, n);
                        for (int64_t r = 0; r < mm->n_out; r++) {
                            float s;
                            tt->vec_dot(n, &s, (const char *)mm->data + (size_t)r * rb, a);
                            if (bb) s = s + bb[r];
                            bad += memcmp(&s, &y[t * ys + r], 4) != 0;
                        }
                        bad += y[t * ys + mm->n_out] != 0.0f; /* nothing past the rows */
                    }
                    CHECK(bad == 0, "%s matmul view %d, %lld tokens, %d threads: %d elements differ from vec_dot",
                          tt->name, vi, (long long)nt, threads, bad);
                }
            }
            /* fr_matmul_group: q, k and v-like products of one input (packed: one pool run over
             * 13 + 7 + 7 units for up to 4 tokens), and with an unpacked view last or first (one
             * fr_matmul each) */
            for (int shape = 0; shape < 3; shape++) {
                float *yg[3];
                for (int q = 0; q < 3; q++) yg[q] = calloc((size_t)(ys * 17), sizeof(float));
                const fr_matrix *first = shape == 2 ? &v3 : &m, *last = shape == 0 ? &v32 : shape == 1 ? &v3 : &m;
                const fr_mm_out grp[3] = {{first, yg[0], ys, bias}, {&v8, yg[1], ys, NULL},
                                          {last, yg[2], ys, shape ? bias : NULL}};
                for (size_t ni = 0; ni < sizeof n_toks / sizeof n_toks[0]; ni++) {
                    for (int q = 0; q < 3; q++) memset(yg[q], 0, sizeof(float) * (size_t)(ys * 17));
                    fr_matmul_prefetch_group(pool, grp, 3);
                    fr_matmul_group(pool, grp, 3, x, xs, n_toks[ni], scratch);
                    int bad = group_mismatches(grp, 3, x, xs, n_toks[ni], a);
                    CHECK(bad == 0, "%s matmul_group %s, %lld tokens, %d threads: %d elements differ from vec_dot",
                          tt->name, shape ? "with an unpacked view" : "packed", (long long)n_toks[ni], threads, bad);
                }
                for (int q = 0; q < 3; q++) free(yg[q]);
            }
            /* fr_matmul_multi: two packed views as one job's two weights, the whole packed
             * matrix, and an unpacked view; rows picked through x_rows */
            const int32_t pick[5] = {4, 0, 16, 2, 9};
            float *ym[4];
            for (int q = 0; q < 4; q++) ym[q] = calloc((size_t)(ys_m * 17), sizeof(float));
            fr_mm_job jobs[3] = {
                {{&v8, &v32}, 2, x, xs, pick, 5, {ym[0], ym[1]}, ys_m},
                {{&m, NULL}, 1, x, xs, NULL, 17, {ym[2], NULL}, ys_m}, /* (the most rows: scratch) */
                {{&v3, NULL}, 1, x, xs, pick + 1, 4, {ym[3], NULL}, ys_m},
            };
            size_t ms = fr_matmul_multi_scratch_size(jobs, 3);
            void *mscr = aligned_alloc(64, (ms + 63) & ~(size_t)63);
            int bad = 0;
            for (int shape = 0; shape < 6; shape++) {
                /* 12 rows in all (converted in the pool), then 1 + 2 + 1 (a decode step: converted
                 * by the caller), then a job of 17 rows (a prompt's expert: AMX takes 16 where
                 * the CPU has it), then the two packed jobs of one row each (a decode step's
                 * experts: slabs across the jobs' weights), of 5 and 16 rows (batched decode: slabs,
                 * each unit for every group of tokens in turn), of 2 and 17 rows (chunks again) */
                const int n_run = shape >= 3 ? 2 : 3;
                jobs[0].m = shape == 1 || shape == 3 ? 1 : shape == 5 ? 2 : 5;
                jobs[1].m = shape == 1 ? 2 : shape == 2 ? 17 : shape == 3 ? 1 : shape == 4 ? 16 : shape == 5 ? 17 : 3;
                jobs[2].m = shape == 1 ? 1 : 4;
                for (int q = 0; q < 4; q++) memset(ym[q], 0, sizeof(float) * (size_t)(ys_m * 17));
                fr_matmul_multi(pool, jobs, n_run, mscr);
                for (int jb = 0; jb < n_run; jb++)
                    for (int k = 0; k < jobs[jb].n_w; k++)
                        for (int64_t i = 0; i < jobs[jb].m; i++) {
                            int64_t row = jobs[jb].x_rows ? jobs[jb].x_rows[i] : i;
                            aq->from_float(x + row * xs, a, n);
                            for (int64_t r = 0; r < jobs[jb].w[k]->n_out; r++) {
                                float sd;
                                tt->vec_dot(n, &sd, (const char *)jobs[jb].w[k]->data + (size_t)r * rb, a);
                                bad += memcmp(&sd, &jobs[jb].y[k][i * ys_m + r], 4) != 0;
                            }
                        }
            }
            CHECK(bad == 0, "%s matmul_multi, %d threads: %d elements differ from vec_dot", tt->name, threads, bad);
            for (int q = 0; q < 4; q++) free(ym[q]);
            free(mscr);
            fr_matmul_prefetch(pool, NULL);
            fr_pool_free(pool);
        }
        fr_pack_free(pk);
        free(w);
        free(a);
        free(x);
        free(y);
        free(bias);
        free(scratch);
    }
}

#if FR_X86
/* F16, BF16 and F32: the R x T kernel and fr_matmul equal vec_dot_f16 (bf16, f32) on the
 * F16- (BF16-) converted activations, the dispatched vec_dot and the scalar one, with tails (n
 * not a multiple of 32) and chunk edges (n > 256, F16_KC; on AVX-512 rows over 2048 values are
 * cut into ranges: gemm.c f16_task). */
static void test_f16(test_rng *rng, int type) {
    const fr_type_traits *ft = fr_type_traits_get(type), *fr = fr_type_traits_isa(type, FR_ISA_SCALAR);
    if (!fr_cpu_has(FR_ISA_AVX2)) return;
    const bool bf = type == FR_TYPE_BF16, f32 = type == FR_TYPE_F32;
    const size_t es = f32 ? 4 : 2; /* bytes per weight */
    void (*whole_avx2)(int64_t, const void *const *, int, const float *const *, int, float *) =
        f32 ? fr_gemm_f32_avx2 : bf ? fr_gemm_bf16_avx2 : fr_gemm_f16_avx2;
    void (*whole_avx512)(int64_t, const void *const *, int, const float *const *, int, float *) =
        f32 ? fr_gemm_f32_avx512 : bf ? fr_gemm_bf16_avx512 : fr_gemm_f16_avx512;
    /* 2048 + 32 and up: AVX-512 splits (ranges of 2048 values; panels: 1024); the last two:
     * AVX2's F16 panels in ranges (8192 values, F16_H16_SPAN), the last with rows whose float
     * panels would not fit a 512 KiB L2's budget where the F16 ones do (gemm_f16.c f16_plan) */
    const int64_t sizes[] = {8, 40, 96, 520, 1056 + 7, 2048 + 32, 2 * 2048 + 64 + 5, 8192 + 96 + 3, 16384 + 64 + 1};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        /* 11 rows, and for the panel path (>= 16 tokens) 101 rows: several panels per task, the
         * last one short */
        const int64_t n = sizes[si], n_out = 101, n_small = 11, xs = n + 1, ys = n_out + 2, NT = 33;
        char *w = malloc(es * (size_t)(n * n_out)), *a = malloc(es * (size_t)n);
        float *x = malloc(sizeof(float) * (size_t)(xs * NT)), *y = malloc(sizeof(float) * (size_t)(ys * NT));
        float *f = malloc(sizeof(float) * (size_t)n), *bias = malloc(sizeof(float) * (size_t)n_out);
        for (int64_t r = 0; r < n_out; r++) {
            for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(rng) * (1.0f + (float)r);
            ft->from_float(f, w + (size_t)(r * n) * es, n);
            bias[r] = test_rng_float(rng);
        }
        for (int64_t i = 0; i < xs * NT; i++) x[i] = test_rng_float(rng) * 5.0f;
        const fr_matrix big = {type, n, n_out, (size_t)n * es, w, NULL, 0}, m = fr_matrix_rows(&big, 0, n_small);
        const void *xr[3] = {w, w + (size_t)(5 * n) * es, w + (size_t)(10 * n) * es}; /* rows 0, 5, 10 */
        if (whole_avx512 && fr_cpu_has(FR_ISA_AVX512)) { /* the 512-bit kernel == the AVX2 one, every R x T */
            int bad = 0;
            for (int R = 1; R <= 3; R++)
                for (int T = 1; T <= 4; T++) {
                    const float *yr[4] = {x, x + xs, x + 2 * xs, x + 3 * xs};
                    float o1[12], o2[12];
                    whole_avx2(n, xr, R, yr, T, o1);
                    whole_avx512(n, xr, R, yr, T, o2);
                    bad += memcmp(o1, o2, sizeof(float) * (size_t)(R * T)) != 0;
                }
            CHECK(bad == 0, "%s n=%lld: AVX-512 kernel differs from AVX2 in %d of 12 shapes", ft->name, (long long)n,
                  bad);
        }
        { /* the range kernels (gemm.h): a row cut into ranges of 64 values == the whole row */
            void (*parts[2])(int64_t, int64_t, int64_t, const void *const *, int, const float *const *, int, float *,
                             int, int, float *) = {
                f32 ? fr_gemm_f32_avx2_part : bf ? fr_gemm_bf16_avx2_part : fr_gemm_f16_avx2_part, NULL};
            if (fr_cpu_has(FR_ISA_AVX512))
                parts[1] = f32 ? fr_gemm_f32_avx512_part : bf ? fr_gemm_bf16_avx512_part : fr_gemm_f16_avx512_part;
            const int64_t n32 = n & ~(int64_t)31;
            int bad = 0;
            for (int k = 0; k < 2; k++)
                for (int R = 1; parts[k] && R <= 3; R++)
                    for (int T = 1; T <= 4; T++) {
                        const float *yr[4] = {x, x + xs, x + 2 * xs, x + 3 * xs};
                        float whole[12], cut[12], st[FR_GEMM_F16_STATE];
                        whole_avx2(n, xr, R, yr, T, whole);
                        for (int64_t i0 = 0, i1 = 0, last = 0; !last; i0 = i1) {
                            i1 = FR_MIN(i0 + 64, n32);
                            last = i1 == n32;
                            parts[k](i0, i1, n, xr, R, yr, T, st, i0 == 0, (int)last, cut);
                        }
                        bad += memcmp(whole, cut, sizeof(float) * (size_t)(R * T)) != 0;
                    }
            CHECK(bad == 0, "%s n=%lld: %d shapes differ when the row is taken in ranges of 64", ft->name, (long long)n,
                  bad);
        }
        /* panels (gemm.h), AVX-512's 16-lane passes, AVX2's 8-lane ones and (F16 rows) their
         * F16 form: every R x T tile, over ranges of 64 values, == the R x T kernel; each pass
         * given its part of panel and activations, AVX-512's then finished, AVX2's last pass
         * finishing itself (as fr_gemm_f16's driver runs them) */
        for (int set = 0; set < 3; set++) {
            const int L = set == 0 ? 16 : 8, P = 32 / L, maxT = set == 0 ? 8 : 4;
            const bool h16 = set == 2; /* (the activations then F16 values, as the driver rounds them) */
            const size_t es_p = h16 ? 2 : 4; /* bytes a panel or activation value */
            const int64_t n32 = n & ~(int64_t)31, nc = n32 / 32;
            if (set == 0 && !fr_cpu_has(FR_ISA_AVX512)) continue;
            if (h16 && type != FR_TYPE_F16) continue;
            if (set != 0 && nc == 0) continue; /* (AVX2's driver takes no panels then) */
            void (*pass)(int64_t, int64_t, const void *, int, const void *const *, int, float *, int) =
                set == 0 ? fr_gemm_panel_avx512 : h16 ? fr_gemm_panel_h16_avx2 : fr_gemm_panel_avx2;
            void (*last)(int64_t, int64_t, const void *, int, const void *const *, int, const float *const *, int,
                         const void *const *, int, int64_t, int64_t, const void *const *, float *, size_t) =
                set == 0 ? NULL : h16 ? fr_gemm_panel_last_h16_avx2 : fr_gemm_panel_last_avx2;
            float *panel = aligned_alloc(64, sizeof(float) * (size_t)(3 * n32 + 16));
            float *yp[8], *xq = malloc(sizeof(float) * (size_t)(8 * n)); /* xq: the activations the kernels see */
            for (int t = 0; t < 8; t++) { /* the activations in pass order */
                yp[t] = malloc(sizeof(float) * (size_t)n);
                for (int64_t k = 0; k < n; k++) {
                    const int64_t at = k < n32 ? ((k & 31) / L * nc + (k >> 5)) * L + k % L : k;
                    const fr_f16 hv = fr_f32_to_f16(x[t * xs + k]);
                    xq[t * n + k] = h16 ? fr_f16_to_f32(hv) : x[t * xs + k];
                    if (h16) ((uint16_t *)yp[t])[at] = hv;
                    else yp[t][at] = x[t * xs + k];
                }
            }
            const void *xr4[3] = {xr[0], w + (size_t)(7 * n) * es, xr[2]};
            int bad = 0, shapes = 0;
            for (int R = 1; R <= 3; R++) {
                const size_t qs = (size_t)(nc * R * L); /* (one panel alone) */
                if (h16) fr_gemm_panel_pack16(xr4, R, n32, L, qs, (uint16_t *)panel);
                else fr_gemm_panel_pack(xr4, R, n32, type, L, qs, panel);
                for (int T = 1; T <= maxT; T++, shapes++) {
                    float want[32], got[32], st[4][24 * 16];
                    for (int r = 0; r < R; r++)
                        for (int t = 0; t < T; t++) {
                            const float *yr[1] = {xq + t * n};
                            whole_avx2(n, &xr4[r], 1, yr, 1, &want[t * R + r]);
                        }
                    memset(st, 0, sizeof st); /* (AVX-512 with nc == 0: the finish's tails alone) */
                    memset(got, 0, sizeof got);
                    const float *sts[4] = {st[0], st[1], st[2], st[3]};
                    for (int64_t c0 = 0, c1; c0 < nc; c0 = c1) {
                        c1 = FR_MIN(c0 + 2, nc);
                        for (int q = 0; q < P; q++) {
                            const char *pq = (const char *)panel + (size_t)q * qs * es_p;
                            const void *yq[8];
                            for (int t = 0; t < T; t++) yq[t] = (const char *)yp[t] + (size_t)(q * nc * L) * es_p;
                            if (last && q == P - 1 && c1 == nc)
                                last(c0, c1, pq, R, yq, T, sts, c0 == 0, xr4, type, n32, n, (const void *const *)yp,
                                     got, (size_t)R);
                            else
                                pass(c0, c1, pq, R, yq, T, st[q], c0 == 0);
                        }
                    }
                    if (!last) fr_gemm_panel_finish_avx512(sts, R, T, xr4, type, n32, n, (const void *const *)yp, got,
                                                           (size_t)R);
                    bad += memcmp(want, got, sizeof(float) * (size_t)(R * T)) != 0;
                }
            }
            CHECK(bad == 0, "%s n=%lld: %d of %d %d-lane%s panel shapes differ from the R x T kernel", ft->name,
                  (long long)n, bad, shapes, L, h16 ? " F16" : "");
            for (int t = 0; t < 8; t++) free(yp[t]);
            free(xq);
            free(panel);
        }
        void *scratch = aligned_alloc(64, fr_matmul_scratch_size(&big, NT) + 64);
        /* each token's vec_dot per row, once (and == the scalar one), for every fr_matmul below */
        float *want = malloc(sizeof(float) * (size_t)(NT * n_out));
        int bad_ref = 0;
        for (int64_t t = 0; t < NT; t++) {
            ft->from_float(x + t * xs, a, n);
            for (int64_t r = 0; r < n_out; r++) {
                float sr;
                ft->vec_dot(n, &want[t * n_out + r], w + (size_t)(r * n) * es, a);
                fr->vec_dot(n, &sr, w + (size_t)(r * n) * es, a);
                bad_ref += memcmp(&want[t * n_out + r], &sr, 4) != 0;
            }
        }
        CHECK(bad_ref == 0, "%s n=%lld: vec_dot differs from the scalar one in %d elements", ft->name, (long long)n,
              bad_ref);
        for (int threads = 1; threads <= 2; threads++) {
            fr_pool *pool;
            fr_error err;
            if (fr_pool_new(threads, &pool, &err) != FR_OK) continue;
            for (int64_t nt = 1; nt <= NT; nt += nt < 9 ? 2 : 8) { /* 1 .. 9, then 17, 25, 33: panels */
                const fr_matrix *mm = nt >= 16 ? &big : &m;
                for (int bi = 0; bi < 2; bi++) {
                    fr_matmul(pool, mm, x, xs, nt, y, ys, bi ? bias : NULL, scratch);
                    int bad = 0;
                    for (int64_t t = 0; t < nt; t++)
                        for (int64_t r = 0; r < mm->n_out; r++) {
                            float s = want[t * n_out + r];
                            if (bi) s = s + bias[r];
                            bad += memcmp(&s, &y[t * ys + r], 4) != 0;
                        }
                    CHECK(bad == 0, "%s matmul n=%lld, %lld tokens, %d threads: %d elements differ from vec_dot",
                          ft->name, (long long)n, (long long)nt, threads, bad);
                }
                if (nt > 9) continue;
                /* fr_matmul_group: rows 0..10, 3..9 and 6..10 of W as one product (a decode step),
                 * and for more tokens one fr_matmul each */
                float *yg[3];
                for (int q = 0; q < 3; q++) yg[q] = calloc((size_t)(ys * 9), sizeof(float));
                const fr_matrix v3 = fr_matrix_rows(&m, 3, 7), v6 = fr_matrix_rows(&m, 6, 5);
                const fr_mm_out grp[3] = {{&m, yg[0], ys, NULL}, {&v3, yg[1], ys, bias}, {&v6, yg[2], ys, NULL}};
                fr_matmul_prefetch_group(pool, grp, 3);
                fr_matmul_group(pool, grp, 3, x, xs, nt, scratch);
                int bad = group_mismatches(grp, 3, x, xs, nt, a);
                CHECK(bad == 0, "%s matmul_group n=%lld, %lld tokens, %d threads: %d elements differ from vec_dot",
                      ft->name, (long long)n, (long long)nt, threads, bad);
                for (int q = 0; q < 3; q++) free(yg[q]);
            }
            fr_pool_prefetch(pool, NULL, 0);
            fr_pool_free(pool);
        }
        free(w);
        free(a);
        free(x);
        free(y);
        free(f);
        free(bias);
        free(scratch);
        free(want);
    }
}

/* Q4_K/Q6_K: one row x 1..4 tokens == vec_dot per token; fr_matmul likewise at token
 * counts around 4 and row counts not a multiple of anything. */
static void test_kquant_rows(test_rng *rng) {
    if (!fr_cpu_has(FR_ISA_AVX2)) return;
    const int types[] = {FR_TYPE_Q4_K, FR_TYPE_Q6_K};
    /* 14336: Llama-3-8B's down projection, whose units AMX unpacks into the pool scratch;
     * 33024: wider than that holds (the other kernel takes it) */
    const int64_t sizes[] = {256, 768, 2816, 14336, 33024};
    for (size_t ti = 0; ti < 2; ti++) {
        const fr_type_traits *tt = fr_type_traits_get(types[ti]);
        const fr_type_traits *at = fr_type_traits_get(FR_TYPE_Q8_K);
        void (*tile)(int64_t, const void *, const void *const *, int, float *) =
            ti == 0 ? fr_dot_1xT_q4_K_avx2 : fr_dot_1xT_q6_K_avx2;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const int64_t n = sizes[si], n_out = 13, xs = n + 5, ys = n_out + 3;
            size_t rb, ab;
            fr_row_size(types[ti], n, &rb);
            fr_row_size(FR_TYPE_Q8_K, n, &ab);
            char *w = malloc(rb * (size_t)n_out), *a = malloc(ab * 4);
            float *f = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)(xs * 17));
            float *y = malloc(sizeof(float) * (size_t)(ys * 17));
            for (int64_t r = 0; r < n_out; r++) {
                for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(rng) * (1.0f + (float)(r % 3));
                tt->from_float(f, w + (size_t)r * rb, n);
            }
            for (int64_t i = 0; i < xs * 17; i++) x[i] = test_rng_float(rng) * 4.0f;
            for (int t = 0; t < 4; t++) at->from_float(x + t * xs, a + (size_t)t * ab, n);
            for (int T = 1; T <= 4; T++) {
                const void *ysp[4];
                for (int t = 0; t < T; t++) ysp[t] = a + (size_t)(3 - t) * ab;
                int bad = 0;
                for (int64_t r = 0; r < n_out; r++) {
                    float out[4];
                    tile(n, w + (size_t)r * rb, ysp, T, out);
                    for (int t = 0; t < T; t++) {
                        float sd;
                        tt->vec_dot(n, &sd, w + (size_t)r * rb, ysp[t]);
                        bad += memcmp(&sd, &out[t], 4) != 0;
                    }
                }
                CHECK(bad == 0, "%s n=%lld 1x%d tile: %d elements differ from vec_dot", tt->name, (long long)n, T, bad);
            }
            fr_matrix m = {types[ti], n, n_out, rb, w, NULL, 0};
            void *scratch = aligned_alloc(64, fr_matmul_scratch_size(&m, 17) + 64);
            fr_pool *pool;
            fr_error err;
            /* as they are, and packed (17 tokens: the AMX prompt kernel where there is one) */
            fr_packed *pk = NULL;
            for (int packed = 0; packed < 2 && fr_pool_new(2, &pool, &err) == FR_OK; packed++) {
                if (packed && !(m.packed = pk = fr_pack_new(&m))) {
                    fr_pool_free(pool);
                    break;
                }
                for (int64_t nt = 1; nt <= 17; nt += nt < 9 ? 4 : 8) {
                    fr_matmul(pool, &m, x, xs, nt, y, ys, NULL, scratch);
                    int bad = 0;
                    for (int64_t t = 0; t < nt; t++) {
                        at->from_float(x + t * xs, a, n);
                        for (int64_t r = 0; r < n_out; r++) {
                            float sd;
                            tt->vec_dot(n, &sd, w + (size_t)r * rb, a);
                            bad += memcmp(&sd, &y[t * ys + r], 4) != 0;
                        }
                    }
                    CHECK(bad == 0, "%s matmul n=%lld, %lld tokens%s: %d elements differ from vec_dot", tt->name,
                          (long long)n, (long long)nt, packed ? ", packed" : "", bad);
                }
                fr_pool_free(pool);
            }
            fr_pack_free(pk);
            free(w);
            free(a);
            free(f);
            free(x);
            free(y);
            free(scratch);
        }
    }
}
#endif /* FR_X86 */

/* fr_pack_unit (pack.c, block by block) against fr_pack_unit_ref (gemm.c, row by row): the
 * same bytes for every packed type from arbitrary bytes (any scale, Q8_0's -128, every
 * nibble and fifth bit), into a dirty buffer, with 16 rows and with fewer. */
static void test_pack_fast(test_rng *rng) {
    const int types[] = {FR_TYPE_Q4_0, FR_TYPE_Q8_0, FR_TYPE_Q5_0, FR_TYPE_IQ4_NL, FR_TYPE_Q4_1, FR_TYPE_Q5_1,
                         FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K, FR_TYPE_Q3_K,   FR_TYPE_Q2_K};
    const int64_t blocks[] = {1, 3, 7, 22};
    const int row_counts[] = {16, 15, 1};
    int compared = 0;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
            for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
                const int type = types[ti], nrows = row_counts[ri];
                const int64_t n = blocks[bi] * fr_pack_block_values(type);
                size_t rb, ub = fr_pack_unit_bytes(type, n);
                fr_row_size(type, n, &rb);
                uint8_t *w = malloc(rb * 16), *u = malloc(ub), *v = malloc(ub);
                for (size_t i = 0; i < rb * 16; i++)
                    w[i] = (uint8_t)(test_rng_next(rng) >> 56);
                memset(u, 0xA5, ub);
                memset(v, 0x5A, ub);
                fr_pack_unit(type, n, w, rb, nrows, u);
                fr_pack_unit_ref(type, n, w, rb, nrows, v);
                size_t at = 0;
                while (at < ub && u[at] == v[at])
                    at++;
                CHECK(at == ub, "%s n=%lld, %d rows: the packer differs from the reference at byte %zu of %zu",
                      fr_type_name(type), (long long)n, nrows, at, ub);
                compared++;
                free(w);
                free(u);
                free(v);
            }
    CHECK(compared == 11 * 4 * 3, "pack: %d units compared", compared);
}

/* fr_pack_copy: matrices no kernel repacks (F16) get a copy of their rows, byte for
 * byte; packable ones (Q5_0, Q4_0) none; a copy is never a packed matrix to fr_pack_find; and
 * FRUGAL_REPACK=0 turns it off */
static void test_pack_copy(test_rng *rng) {
    const int types[] = {FR_TYPE_F16, FR_TYPE_Q5_0, FR_TYPE_Q4_0};
    for (size_t ti = 0; ti < 3; ti++) {
        int type = types[ti];
        const fr_type_traits *tt = fr_type_traits_get(type);
        const int64_t n = 512, n_out = 37;
        size_t rb;
        fr_row_size(type, n, &rb);
        char *w = malloc(rb * (size_t)n_out);
        fill_rows(type, n, (int)n_out, w, rb, rng, 1.0f);
        fr_matrix m = {type, n, n_out, rb, w, NULL, 0};
        size_t bytes = 0;
        bool packable = fr_pack_would_pack(&m, NULL), huge = fr_huge_pages_available();
        CHECK(fr_pack_would_copy(&m, &bytes) == (!packable && huge), "%s: would_copy is !would_pack (THP: %d)",
              tt->name, (int)huge);
        fr_packed *pk = fr_pack_copy(&m);
        if (!huge && ti == 0) printf("  THP off here: fr_pack_copy copies nothing (not tested: the copy)\n");
        if (packable || !huge) {
            CHECK(pk == NULL, "%s: a packable matrix (or any, without THP) is not copied", tt->name);
        } else {
            CHECK(pk && pk->rows && pk->data_bytes == rb * (size_t)n_out && bytes == pk->data_bytes,
                  "%s: a copy of the rows, %zu bytes", tt->name, bytes);
            if (pk) {
                CHECK(memcmp(pk->data, w, rb * (size_t)n_out) == 0, "%s: the copy's bytes", tt->name);
                CHECK(((uintptr_t)pk->data & ((2u << 20) - 1)) == 0, "%s: the copy is 2 MiB-aligned", tt->name);
                fr_matrix mc = m;
                mc.packed = pk; /* never done by the loader; fr_pack_find must not take it for units */
                int64_t g0;
                CHECK(fr_pack_find(&mc, &g0) == NULL, "%s: a copy is not a packed matrix", tt->name);
            }
            setenv("FRUGAL_REPACK", "0", 1);
            CHECK(!fr_pack_would_copy(&m, NULL) && fr_pack_copy(&m) == NULL, "%s: FRUGAL_REPACK=0 copies nothing",
                  tt->name);
            unsetenv("FRUGAL_REPACK");
        }
        fr_pack_free(pk);
        free(w);
    }
}

/* SwiGLU's vectorised exp against the scalar formula, at every tail length and over a wide
 * range of gates (large negative ones underflow to -0, large positive ones pass through). */
static void test_swiglu(test_rng *rng) {
    float g[77], u[77], ref[77];
    int bad = 0;
    for (int n = 1; n <= 77; n += 4) {
        for (int i = 0; i < n; i++) {
            g[i] = test_rng_float(rng) * (i % 3 == 0 ? 100.0f : 6.0f);
            u[i] = test_rng_float(rng) * 2.0f;
            ref[i] = (float)((double)g[i] / (1.0 + exp(-(double)g[i])) * (double)u[i]);
        }
        fr_swiglu(g, u, n);
        for (int i = 0; i < n; i++)
            if (!(fabsf(g[i] - ref[i]) <= 2e-6f * fabsf(ref[i]) + 1e-30f)) bad++;
    }
    CHECK(bad == 0, "swiglu: %d values off the float64 reference by more than 2e-6 relative", bad);
}

/* rmsnorm against a long double reference at odd widths (the eight running sums, the tail),
 * with and without a weight, and in place */
static void test_rmsnorm(test_rng *rng) {
    float x[203], w[203], out[203];
    int bad = 0;
    for (int n = 1; n <= 203; n += 6) {
        for (int i = 0; i < n; i++) {
            x[i] = test_rng_float(rng) * (i % 5 == 0 ? 50.0f : 2.0f);
            w[i] = 0.5f + test_rng_float(rng);
        }
        long double ss = 0;
        for (int i = 0; i < n; i++) ss += (long double)x[i] * x[i];
        const long double scale = 1.0L / sqrtl(ss / n + 1e-5L);
        for (int pass = 0; pass < 3; pass++) {
            float *o = pass == 2 ? x : out;
            float xs[203];
            memcpy(xs, x, sizeof(float) * (size_t)n);
            fr_rmsnorm(o, x, pass == 0 ? NULL : w, n, 1e-5f);
            for (int i = 0; i < n; i++) {
                const long double want = xs[i] * scale * (pass == 0 ? 1.0L : (long double)w[i]);
                if (!(fabsl(o[i] - want) <= 3e-7L * fabsl(want) + 1e-30L)) bad++;
            }
            if (pass == 2) memcpy(x, xs, sizeof(float) * (size_t)n);
        }
    }
    CHECK(bad == 0, "rmsnorm: %d values off the long double reference by more than 3e-7 relative", bad);
}

int main(void) {
    test_rmsnorm(&(test_rng){99});
    test_swiglu(&(test_rng){4242});
    unsetenv("FRUGAL_REPACK"); /* the packed tests need packing on */
    test_pack_fast(&(test_rng){31337});
    test_pack_copy(&(test_rng){777});
    if (!fr_cpu_has(FR_ISA_AMX))
        printf("  SKIPPED: the AMX prompt kernels (this CPU, or FRUGAL_ISA, has no AMX-INT8)\n");
    const int types[] = {FR_TYPE_Q4_0, FR_TYPE_Q5_0, FR_TYPE_Q8_0, FR_TYPE_IQ4_NL};
    const int64_t sizes[] = {32, 64, 96, 160, 224, 1056, 4096 + 32};
    test_rng rng = {12345};
    int tested = 0;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const fr_type_traits *tt = fr_type_traits_get(types[ti]);
        const fr_type_traits *at = fr_type_traits_get(tt->vec_dot_type);
        if (!tt->dot_tile) continue; /* scalar build or CPU without AVX2 */
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            int64_t n = sizes[si];
            size_t rb, ab;
            fr_row_size(types[ti], n, &rb);
            fr_row_size(tt->vec_dot_type, n, &ab);
            char *w = malloc(rb * 4), *a = malloc(ab * 2);
            float *f = malloc(sizeof(float) * (size_t)n);
            for (int r = 0; r < 4; r++) {
                for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(&rng) * (1.0f + (float)r);
                tt->from_float(f, w + (size_t)r * rb, n);
            }
            for (int t = 0; t < 2; t++) {
                for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(&rng) * 3.0f;
                at->from_float(f, a + (size_t)t * ab, n);
            }
            for (int nr = 1; nr <= 4; nr++) {
                for (int nt = 1; nt <= 2; nt++) {
                    const void *xs[4], *ys[2];
                    for (int r = 0; r < nr; r++) xs[r] = w + (size_t)r * rb;
                    for (int t = 0; t < nt; t++) ys[t] = a + (size_t)t * ab;
                    float out[8];
                    tt->dot_tile(n, xs, nr, ys, nt, out);
                    for (int r = 0; r < nr; r++) {
                        for (int t = 0; t < nt; t++) {
                            float s;
                            tt->vec_dot(n, &s, xs[r], ys[t]);
                            CHECK(memcmp(&s, &out[r * nt + t], sizeof s) == 0,
                                  "%s n=%lld tile %dx%d element (%d,%d): %.9g vs vec_dot %.9g", tt->name,
                                  (long long)n, nr, nt, r, t, out[r * nt + t], s);
                        }
                    }
                    tested++;
                }
            }
            free(w);
            free(a);
            free(f);
        }
    }
    if (!tested) printf("test_tiles: no tile kernels on this CPU (scalar build): nothing to compare\n");
    test_vec_dot_exact(&rng);
    test_packed_kernels(&rng);
    test_packed_matmul(&rng);
    test_multi_decode_streams(&rng);
#if FR_X86
    test_f16(&rng, FR_TYPE_F16);
    test_f16(&rng, FR_TYPE_BF16);
    test_f16(&rng, FR_TYPE_F32);
    test_kquant_rows(&rng);
#endif
    return CHECK_DONE("test_tiles");
}

/* test_gemm_f16: the products with F16, BF16 and F32 rows beyond test_tiles' (which checks the
 * R x T kernels and fr_matmul against vec_dot): BF16 pair panels (AVX512_BF16) against the FMA
 * kernels, and fr_matmul_multi's float experts against fr_matmul of each token alone. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "quants.h"

#if FR_X86
/* BF16 pair panels (gemm.h; AVX512_BF16 only): the pair-safe rule on chosen values and the
 * layout, the pair kernel == the R x T FMA kernel for every R x T shape (odd chunk counts,
 * tails, ranges of 1 and 3 pairs), and fr_matmul's prompt path keeping vec_dot's bits where a
 * weight or an activation is not pair-safe (vdpbf16ps would flush the subnormal products those
 * make; the FMA kernels keep them). */
static void test_bf16_pairs(test_rng *rng) {
    if (!fr_cpu_has(FR_ISA_AVX512BF16)) {
        printf("  SKIPPED: BF16 pair panels (no AVX512_BF16 in this CPU or FRUGAL_ISA)\n");
        return;
    }
    const fr_type_traits *ft = fr_type_traits_get(FR_TYPE_BF16);
    { /* the rule, at an odd (first) and an even (second) element of a pair, and the layout */
        static const struct {
            uint16_t v;
            bool safe;
        } vals[] = {{0x0000, true},  {0x8000, true},  {71 << 7, true}, {0x8000 | (71 << 7) | 0x7f, true},
                    {0x5f7f, true},  {0xdf7f, true},  {0x3f80, true},  {(70 << 7) | 0x7f, false},
                    {0x0001, false}, {0x807f, false}, {0x7f80, false}, {0xff80, false},
                    {0x7fc0, false}, {0x0080, false}, {0x5f80, false}, {0x7f7f, false}};
        int bad = 0;
        for (size_t vi = 0; vi < sizeof vals / sizeof vals[0]; vi++)
            for (int at = 5; at < 64; at += 35) { /* 5: odd element of dword 5; 40: even of dword 8 + 16 */
                uint16_t row[64];
                uint32_t out[32];
                for (int k = 0; k < 64; k++)
                    row[k] = (uint16_t)(0x3f80 + k);
                row[at] = vals[vi].v;
                bad += fr_gemm_bf16_pair_order(row, 0, 64, 64, 1, 0, out) != vals[vi].safe;
                for (int h = 0; h < 2; h++)
                    for (int l = 0; l < 16; l++)
                        bad += out[16 * h + l] != ((uint32_t)row[16 * h + l] << 16 | row[32 + 16 * h + l]);
            }
        CHECK(bad == 0, "BF16 pair order: %d wrong verdicts or dwords", bad);
    }
    const int64_t sizes[] = {32, 40, 96, 520, 1056 + 7, 2048 + 32 + 5};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int64_t n = sizes[si], n32 = n & ~(int64_t)31, np = (n32 / 32 + 1) / 2;
        uint16_t *w = malloc(sizeof(uint16_t) * (size_t)(3 * n)), *ab = malloc(sizeof(uint16_t) * (size_t)(8 * n));
        float *f = malloc(sizeof(float) * (size_t)n), *af = malloc(sizeof(float) * (size_t)(8 * n));
        uint32_t *panel = aligned_alloc(64, sizeof(uint32_t) * (size_t)(3 * np * 32));
        float *yrow[8]; /* the driver's activation rows: pair dwords first, the tail floats from n32 */
        for (int r = 0; r < 3; r++) {
            for (int64_t i = 0; i < n; i++)
                f[i] = test_rng_float(rng) * (1.0f + (float)r);
            ft->from_float(f, w + r * n, n);
        }
        for (int t = 0; t < 8; t++) {
            for (int64_t i = 0; i < n; i++)
                f[i] = test_rng_float(rng) * 5.0f;
            ft->from_float(f, ab + t * n, n);
            ft->to_float(ab + t * n, af + t * n, n);
            yrow[t] = aligned_alloc(64, (sizeof(float) * (size_t)(n + 16) + 63) & ~(size_t)63);
            CHECK(fr_gemm_bf16_pair_order(ab + t * n, 0, n32, n32, 1, 0, (uint32_t *)yrow[t]), "n=%lld: safe values",
                  (long long)n);
            memcpy(yrow[t] + n32, af + t * n + n32, sizeof(float) * (size_t)(n - n32));
        }
        const void *xr[3] = {w, w + n, w + 2 * n};
        int bad = 0, shapes = 0;
        for (int R = 1; R <= 3; R++) {
            CHECK(fr_gemm_bf16_pair_pack(xr, R, n32, panel), "n=%lld: safe weights", (long long)n);
            for (int T = 1; T <= 8; T++)
                for (int span = 1; span <= 3; span += 2, shapes++) {
                    float want[24], got[24], st[4][24 * 16];
                    for (int r = 0; r < R; r++)
                        for (int t = 0; t < T; t++) {
                            const float *yr[1] = {af + t * n};
                            fr_gemm_bf16_avx2(n, &xr[r], 1, yr, 1, &want[t * R + r]);
                        }
                    for (int64_t p0 = 0, p1; p0 < np; p0 = p1) {
                        p1 = FR_MIN(p0 + span, np);
                        for (int h = 0; h < 2; h++)
                            fr_gemm_bf16_pairs_avx512(h, p0, p1, np, panel, R, (const uint32_t *const *)yrow, T, st[h],
                                                      p0 == 0);
                    }
                    const float *sts[4] = {st[0], st[1], st[2], st[3]};
                    fr_gemm_panel_finish_avx512(sts, R, T, xr, FR_TYPE_BF16, n32, n, (const void *const *)yrow, got,
                                                (size_t)R);
                    bad += memcmp(want, got, sizeof(float) * (size_t)(R * T)) != 0;
                }
        }
        CHECK(bad == 0, "BF16 n=%lld: %d of %d pair panel shapes differ from the R x T kernel", (long long)n, bad,
              shapes);
        for (int t = 0; t < 8; t++)
            free(yrow[t]);
        free(w);
        free(ab);
        free(f);
        free(af);
        free(panel);
    }
    /* fr_matmul over 17 tokens (the panel path), 1 and 2 threads, == each token alone (decode's
     * FMA kernels): (a) one row of subnormal weights, (b) weights of 2^-50 to 2^-49 (pair-safe) and one
     * token's activations near 2^-80 (not): both make subnormal products. (vec_dot is no
     * reference here: like the peer's AVX2 dot product it rounds each product before adding it,
     * which only a subnormal or overflowing product of two BF16 values makes differ.) */
    const int64_t n = 96 + 13, n_out = 9, NT = 17;
    uint16_t *w = malloc(sizeof(uint16_t) * (size_t)(n * n_out));
    float *x = malloc(sizeof(float) * (size_t)(n * NT)), *y = malloc(sizeof(float) * (size_t)(n_out * NT));
    float *f = malloc(sizeof(float) * (size_t)n), y1[9];
    const fr_matrix m = {FR_TYPE_BF16, n, n_out, (size_t)n * 2, w, NULL, 0};
    void *scratch = aligned_alloc(64, fr_matmul_scratch_size(&m, NT) + 64);
    for (int c = 0; c < 2; c++) {
        for (int64_t r = 0; r < n_out; r++) {
            for (int64_t i = 0; i < n; i++) { /* (b): magnitudes in [2^-50, 2^-49), all pair-safe */
                const float u = test_rng_float(rng);
                f[i] = c ? copysignf(1.0f + fabsf(u), u) * 0x1p-50f : u;
            }
            ft->from_float(f, w + r * n, n);
            if (c == 0 && r == 4)
                for (int64_t i = 0; i < n; i++)
                    w[r * n + i] = (uint16_t)((test_rng_next(rng) & 0x807f) | 1);
        }
        for (int64_t i = 0; i < n * NT; i++)
            x[i] = test_rng_float(rng) * (c && i / n == 3 ? 0x1p-80f : 1.0f);
        for (int threads = 1; threads <= 2; threads++) {
            fr_pool *pool;
            fr_error err;
            if (fr_pool_new(threads, &pool, &err) != FR_OK) continue;
            fr_matmul(pool, &m, x, n, NT, y, n_out, NULL, scratch);
            int bad = 0, tiny = 0;
            for (int64_t t = 0; t < NT; t++) {
                fr_matmul(pool, &m, x + t * n, n, 1, y1, n_out, NULL, scratch);
                for (int64_t r = 0; r < n_out; r++) {
                    bad += memcmp(&y1[r], &y[t * n_out + r], 4) != 0;
                    tiny += y1[r] != 0 && fabsf(y1[r]) < 0x1p-126f;
                }
            }
            CHECK(tiny > 0 && bad == 0,
                  "BF16 matmul, %s, %d threads: %d of %lld elements differ from one token's (%d subnormal)",
                  c ? "tiny activations" : "subnormal weights", threads, bad, (long long)(NT * n_out), tiny);
            fr_pool_free(pool);
        }
    }
    free(w);
    free(x);
    free(y);
    free(f);
    free(scratch);
}
#endif /* FR_X86 */

/* fr_matmul_multi with F16, BF16 and F32 weights (MoE experts) runs fr_gemm_f16's kernels: every
 * row of every job equals fr_matmul of its token alone (a decode step), bit for bit, whether the
 * job has 1 row (decode's streams), 5 (tiles) or 17 to 20 (panels; BF16 pair panels where the
 * CPU has AVX512_BF16), with 1 and 2 threads. Token 11's values are about 1e-39, subnormal,
 * which vdpbf16ps would take as zero, so a job holding it must leave the pair panels; token 7's
 * are about 1e-30 (not pair-safe, yet harmless). Nothing is written past a row's n_out outputs.
 * (Where a product is subnormal, BF16's vec_dot, which rounds each product, may differ from
 * these FMAs in the last bit only on a tie; random values here do not find one.) */
static void test_multi_float(test_rng *rng, int type) {
    if (!fr_gemm_f16_takes(type)) return;
    const fr_type_traits *ft = fr_type_traits_get(type);
    const size_t es = type == FR_TYPE_F32 ? 4 : 2;
    const int64_t sizes[] = {40, 200, 1056 + 7};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int64_t n = sizes[si], n_out = 101, xs = n + 3, ys = n_out + 3, NT = 24;
        char *w[2];
        float *f = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)(xs * NT));
        for (int k = 0; k < 2; k++) {
            w[k] = malloc(es * (size_t)(n * n_out));
            for (int64_t r = 0; r < n_out; r++) {
                for (int64_t i = 0; i < n; i++)
                    f[i] = test_rng_float(rng) * (1.0f + (float)(r % 7));
                ft->from_float(f, w[k] + (size_t)(r * n) * es, n);
            }
        }
        for (int64_t t = 0; t < NT; t++)
            for (int64_t i = 0; i < n; i++)
                x[t * xs + i] = test_rng_float(rng) * (t == 11 ? 1e-39f : t == 7 ? 1e-30f : 5.0f);
        const fr_matrix m0 = {type, n, n_out, (size_t)n * es, w[0], NULL, 0};
        const fr_matrix m1 = {type, n, n_out, (size_t)n * es, w[1], NULL, 0};
        /* rows: 20 pair-safe tokens (two weights), 17 with tokens 7 and 11, one token, five */
        int32_t safe[20], all[17];
        for (int i = 0, t = 0; i < 20; t++)
            if (t != 7 && t != 11) safe[i++] = t;
        for (int i = 0; i < 17; i++)
            all[i] = (int32_t)((i * 5 + 3) % NT);
        const int32_t one[1] = {11}, five[5] = {23, 7, 0, 11, 2};
        float *y[5];
        for (int q = 0; q < 5; q++)
            y[q] = malloc(sizeof(float) * (size_t)(ys * 20));
        fr_mm_job jobs[4] = {
            {{&m0, &m1}, 2, x, xs, safe, 20, {y[0], y[1]}, ys},
            {{&m1, NULL}, 1, x, xs, all, 17, {y[2], NULL}, ys},
            {{&m0, NULL}, 1, x, xs, one, 1, {y[3], NULL}, ys},
            {{&m1, NULL}, 1, x, xs, five, 5, {y[4], NULL}, ys},
        };
        void *mscr = aligned_alloc(64, (fr_matmul_multi_scratch_size(jobs, 4) + 63) & ~(size_t)63);
        void *scr = aligned_alloc(64, fr_matmul_scratch_size(&m0, 1) + 64);
        float *yr = malloc(sizeof(float) * (size_t)n_out);
        for (int threads = 1; threads <= 2; threads++) {
            fr_pool *pool;
            fr_error err;
            if (fr_pool_new(threads, &pool, &err) != FR_OK) continue;
            for (int q = 0; q < 5; q++)
                for (int64_t i = 0; i < ys * 20; i++)
                    y[q][i] = -7.0f;
            fr_matmul_multi(pool, jobs, 4, mscr);
            int bad = 0, past = 0;
            for (int jb = 0; jb < 4; jb++)
                for (int k = 0; k < jobs[jb].n_w; k++)
                    for (int64_t i = 0; i < jobs[jb].m; i++) {
                        fr_matmul(pool, jobs[jb].w[k], x + jobs[jb].x_rows[i] * xs, xs, 1, yr, n_out, NULL, scr);
                        bad += memcmp(yr, &jobs[jb].y[k][i * ys], sizeof(float) * (size_t)n_out) != 0;
                        for (int64_t r = n_out; r < ys; r++)
                            past += jobs[jb].y[k][i * ys + r] != -7.0f;
                    }
            CHECK(bad == 0 && past == 0,
                  "%s n=%lld matmul_multi, %d threads: %d of 68 rows differ from fr_matmul of the token alone, %d "
                  "values written past the rows",
                  ft->name, (long long)n, threads, bad, past);
            fr_pool_free(pool);
        }
        free(yr);
        free(scr);
        free(mscr);
        for (int q = 0; q < 5; q++)
            free(y[q]);
        free(w[0]);
        free(w[1]);
        free(x);
        free(f);
    }
}

int main(void) {
    test_rng rng = {4711};
#if FR_X86
    test_bf16_pairs(&rng);
#else
    printf("  SKIPPED: BF16 pair panels (x86 only)\n");
#endif
    if (!fr_gemm_f16_takes(FR_TYPE_F16))
        printf("  SKIPPED: fr_matmul_multi over F16/BF16/F32 rows (fr_gemm_f16's kernels need AVX2)\n");
    test_multi_float(&rng, FR_TYPE_F16);
    test_multi_float(&rng, FR_TYPE_BF16);
    test_multi_float(&rng, FR_TYPE_F32);
    return CHECK_DONE("test_gemm_f16");
}

/* kbench: matmul kernel micro-benchmark (a dev tool, not run by tests).
 *
 *   make && cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc -Isrc/core -pthread bench/kbench.c \
 *      build/libfrugal.a -lm -o build/kbench
 *   build/kbench TYPE N_IN N_OUT N_TOK THREADS [REPS]     e.g. build/kbench Q4_0 2048 5632 512 2
 *
 * Times fr_matmul on random weights, packed (fr_pack_new) and unpacked, best of REPS, and
 * prints GMAC/s. Also checks that both give the same bits.
 *
 *   build/kbench wrow TYPE N_ROWS N T [HEADS] [REPS]       e.g. build/kbench wrow Q4_0 128 512 4
 *
 * Times MLA decode's float row products on HEADS (default 16) heads of N_ROWS x N weights,
 * one thread, best of REPS (default 200): fr_wrow_dot_rows_multi (each row dotted with T
 * inputs, W_UV's form) and fr_wrow_axpy_rows_multi (T outputs of N values += the rows scaled,
 * W_UK's form); checks both against T single-input calls (fr_wrow_dot_rows / _axpy_rows).
 *
 *   build/kbench moe TYPE N_IN N_OUT M1 M2 M4 [POOL] [REPS] [THREADS]
 *                                                      e.g. build/kbench moe Q4_0 2048 1408 18 3 1
 *
 * Times fr_matmul_multi as a MoE decode step calls it: M1 experts of one token, M2 of two
 * and M4 of four, each a job of two N_OUT x N_IN weights (gate and up), taken in turn from
 * a pool of POOL experts (default 256: larger than the caches, so each step reads its
 * weights from memory), best of REPS (default 5) passes over the pool, THREADS (default 2);
 * prints the weights' GB/s. (DeepSeek-V2-Lite with 4 sequences: about 18 + 3 + 1 a layer.)
 *
 *   build/kbench ports                                    (x86 with AVX2)
 *
 * Times mixes of the AVX2 instructions of Q8_0's int8 product (sign, maddubs, madd, add) and
 * the alternatives to the sign, four independent instructions of each per step, one thread,
 * best of 5 runs: which of them share execution ports. The full mix's time gives the kernel's
 * bound by operation count (32 products per sign, maddubs, madd and add). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtype.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float rnd(unsigned *s, float scale) {
    *s = *s * 1103515245u + 12345u;
    return (float)((int)(*s >> 9) % 2001 - 1000) / scale;
}

/* rows random rows of n values of type tt at w (rb bytes a row), from the generator s */
static void random_rows(const fr_type_traits *tt, char *w, size_t rb, int64_t rows, int64_t n, float *f, unsigned *s) {
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < n; i++) f[i] = rnd(s, 1000.0f);
        tt->from_float(f, w + (size_t)r * rb, n);
    }
}

#if defined(__x86_64__)
/* four independent instructions of a kind, destinations apart, sources ymm14 and ymm15 */
#define P4(op, d0, d1, d2, d3)                                                                                 \
    op " %%ymm14, %%ymm15, %%ymm" #d0 "\n" op " %%ymm14, %%ymm15, %%ymm" #d1 "\n" op " %%ymm14, %%ymm15, %%ymm" #d2 \
       "\n" op " %%ymm14, %%ymm15, %%ymm" #d3 "\n"
#define MADDUBS P4("vpmaddubsw", 0, 1, 2, 3)
#define MADD P4("vpmaddwd", 8, 9, 10, 11)
#define SIGN P4("vpsignb", 4, 5, 6, 7)
#define XORSUB P4("vpxor", 4, 5, 6, 7) P4("vpsubb", 8, 9, 10, 11)
#define ADDD P4("vpaddd", 12, 13, 12, 13)
#define BLEND                                                                                                  \
    "vpblendvb %%ymm13, %%ymm14, %%ymm15, %%ymm4\n vpblendvb %%ymm13, %%ymm14, %%ymm15, %%ymm5\n"                 \
    "vpblendvb %%ymm13, %%ymm14, %%ymm15, %%ymm6\n vpblendvb %%ymm13, %%ymm14, %%ymm15, %%ymm7\n"
#define PORTS_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
                       "xmm11", "xmm12", "xmm13"
#define PORTS_STEPS 20000000L
#define PORTS_TEST(name, body)                                                                                 \
    do {                                                                                                       \
        double best = 1e30;                                                                                    \
        for (int r = 0; r < 5; r++) {                                                                          \
            const double t0 = now_s();                                                                         \
            for (long i = 0; i < PORTS_STEPS; i++) __asm__ volatile(body ::: PORTS_CLOBBERS);                  \
            const double dt = now_s() - t0;                                                                    \
            if (dt < best) best = dt;                                                                          \
        }                                                                                                      \
        last = best / PORTS_STEPS * 1e9;                                                                       \
        printf("%-34s %.3f ns a step\n", name, last);                                                          \
    } while (0)

static int ports_main(void) {
    if (!fr_cpu_has(FR_ISA_AVX2)) {
        fprintf(stderr, "kbench ports: this CPU has no AVX2\n");
        return 2;
    }
    double last = 0;
    PORTS_TEST("maddubs x4", MADDUBS);
    PORTS_TEST("sign x4", SIGN);
    PORTS_TEST("xor x4 + sub x4", XORSUB);
    PORTS_TEST("maddubs x4 + sign x4", MADDUBS SIGN);
    PORTS_TEST("maddubs x4 + madd x4", MADDUBS MADD);
    PORTS_TEST("maddubs, madd, sign x4", MADDUBS MADD SIGN);
    PORTS_TEST("maddubs, madd, xor, sub x4", MADDUBS MADD XORSUB);
    PORTS_TEST("maddubs, madd, blendv x4", MADDUBS MADD BLEND);
    PORTS_TEST("maddubs, madd, add x4", MADDUBS MADD ADDD);
    PORTS_TEST("maddubs, madd, sign, add x4 (Q8_0)", MADDUBS MADD SIGN ADDD);
    printf("Q8_0's bound by operation count: %.1f GMAC/s a core (4 x 32 products a step)\n", 128.0 / last);
    return 0;
}
#else
static int ports_main(void) {
    fprintf(stderr, "kbench ports: x86 only\n");
    return 2;
}
#endif

static int wrow_main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: kbench wrow TYPE N_ROWS N T [HEADS] [REPS]\n");
        return 2;
    }
    const int type = fr_type_from_name(argv[2]);
    const int64_t n_rows = atoll(argv[3]), n = atoll(argv[4]);
    const int T = atoi(argv[5]), heads = argc > 6 ? atoi(argv[6]) : 16, reps = argc > 7 ? atoi(argv[7]) : 200;
    const fr_type_traits *tt = fr_type_traits_get(type);
    size_t rb;
    if (!tt || T < 1 || T > 8 || n_rows < 1 || heads < 1 || !fr_row_size(type, n, &rb)) return 2;
    const int64_t rows = n_rows * heads;
    char *w = malloc(rb * (size_t)rows);
    float *f = malloc(sizeof(float) * (size_t)n), *tmp = malloc(sizeof(float) * (size_t)n);
    unsigned s = 1;
    random_rows(tt, w, rb, rows, n, f, &s);
    float *xs[8], *as[8], *outs[8], *ys[8], *want = malloc(sizeof(float) * (size_t)(n > n_rows ? n : n_rows));
    for (int t = 0; t < T; t++) {
        xs[t] = malloc(sizeof(float) * (size_t)n), ys[t] = malloc(sizeof(float) * (size_t)n);
        as[t] = malloc(sizeof(float) * (size_t)n_rows), outs[t] = malloc(sizeof(float) * (size_t)n_rows);
        for (int64_t i = 0; i < n; i++) xs[t][i] = rnd(&s, 300.0f);
        for (int64_t i = 0; i < n_rows; i++) as[t][i] = rnd(&s, 300.0f);
    }
    int same = 1;
    for (int axpy = 0; axpy < 2; axpy++) {
        double best = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            for (int t = 0; t < T; t++) memset(ys[t], 0, sizeof(float) * (size_t)n);
            const double t0 = now_s();
            for (int h = 0; h < heads; h++) {
                const char *hr = w + (size_t)(h * n_rows) * rb;
                if (axpy) fr_wrow_axpy_rows_multi(type, hr, rb, n_rows, (const float *const *)as, ys, T, n, NULL, tmp);
                else fr_wrow_dot_rows_multi(type, hr, rb, n_rows, (const float *const *)xs, T, n, outs, NULL, tmp);
            }
            const double dt = now_s() - t0;
            if (dt < best) best = dt;
        }
        /* the last head's results against its single-input calls (outs holds them; ys the sum
         * over the heads, so axpy runs the last head again from zero) */
        const char *hr = w + (size_t)((heads - 1) * n_rows) * rb;
        if (axpy) {
            for (int t = 0; t < T; t++) memset(ys[t], 0, sizeof(float) * (size_t)n);
            fr_wrow_axpy_rows_multi(type, hr, rb, n_rows, (const float *const *)as, ys, T, n, NULL, tmp);
        }
        for (int t = 0; t < T; t++) {
            if (axpy) {
                memset(want, 0, sizeof(float) * (size_t)n);
                fr_wrow_axpy_rows(type, hr, rb, n_rows, as[t], want, n, NULL, tmp);
                same &= !memcmp(ys[t], want, sizeof(float) * (size_t)n);
            } else {
                fr_wrow_dot_rows(type, hr, rb, n_rows, xs[t], n, want, NULL, tmp);
                same &= !memcmp(outs[t], want, sizeof(float) * (size_t)n_rows);
            }
        }
        printf("wrow %s %s n_rows=%lld n=%lld T=%d heads=%d: %.1f us, %.1f GMAC/s\n", tt->name, axpy ? "axpy" : "dot ",
               (long long)n_rows, (long long)n, T, heads, best * 1e6,
               (double)rows * (double)n * T / best * 1e-9);
    }
    printf("multi == single-input calls: %s\n", same ? "yes" : "NO");
    return same ? 0 : 1;
}

static int moe_main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: kbench moe TYPE N_IN N_OUT M1 M2 M4 [POOL] [REPS] [THREADS]\n");
        return 2;
    }
    const int type = fr_type_from_name(argv[2]);
    const int64_t n_in = atoll(argv[3]), n_out = atoll(argv[4]);
    const int per[3] = {atoi(argv[5]), atoi(argv[6]), atoi(argv[7])}, ms[3] = {1, 2, 4};
    const int n_pool = argc > 8 ? atoi(argv[8]) : 256, reps = argc > 9 ? atoi(argv[9]) : 5;
    const int threads = argc > 10 ? atoi(argv[10]) : 2;
    const int n_jobs = per[0] + per[1] + per[2];
    const fr_type_traits *tt = fr_type_traits_get(type);
    if (!tt || per[0] < 0 || per[1] < 0 || per[2] < 0 || n_jobs < 1 || n_jobs > n_pool || n_jobs > FR_MM_MAX_JOBS ||
        threads < 1)
        return 2;
    size_t rb;
    if (n_out < 1 || !fr_row_size(type, n_in, &rb)) return 2;
    const size_t wbytes = rb * (size_t)n_out;
    char *w = aligned_alloc(64, (wbytes + 63) & ~(size_t)63);
    float *f = malloc(sizeof(float) * (size_t)n_in);
    unsigned s = 1;
    random_rows(tt, w, rb, n_out, n_in, f, &s);
    fr_matrix *mat = calloc((size_t)n_pool * 2, sizeof(fr_matrix));
    for (int e = 0; e < 2 * n_pool; e++) {
        mat[e] = (fr_matrix){type, n_in, n_out, rb, w, NULL, 0};
        if (!(mat[e].packed = fr_pack_new(&mat[e]))) {
            printf("(no packed layout for %s)\n", tt->name);
            return 1;
        }
    }
    float *x = malloc(sizeof(float) * (size_t)(n_in * 4));
    for (int64_t i = 0; i < n_in * 4; i++) x[i] = rnd(&s, 300.0f);
    float *y = calloc((size_t)(n_jobs * 2 * 4 * n_out), sizeof(float));
    static const int32_t rows[4] = {0, 1, 2, 3};
    fr_mm_job jobs[FR_MM_MAX_JOBS];
    fr_pool *pool;
    fr_error err;
    if (fr_pool_new(threads, &pool, &err) != FR_OK) return 1;
    void *scratch = NULL;
    const int steps = n_pool / n_jobs;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int st = 0; st < steps; st++) {
            int j = 0;
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < per[k]; i++, j++) {
                    const fr_matrix *g = &mat[2 * (st * n_jobs + j)];
                    jobs[j] = (fr_mm_job){{g, g + 1}, 2, x, n_in, rows, ms[k],
                                          {y + (size_t)j * 8 * n_out, y + ((size_t)j * 8 + 4) * n_out}, n_out};
                }
            if (!scratch) scratch = aligned_alloc(64, (fr_matmul_multi_scratch_size(jobs, n_jobs) + 127) & ~(size_t)63);
            fr_matmul_multi(pool, jobs, n_jobs, scratch);
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    const double bytes = (double)steps * n_jobs * 2 * (double)wbytes;
    printf("moe %s %lldx%lld, %d+%d+%d experts of 1/2/4 tokens, %d steps: %.3f ms a step, %.1f GB/s\n", tt->name,
           (long long)n_out, (long long)n_in, per[0], per[1], per[2], steps, best / steps * 1e3, bytes / best * 1e-9);
    fr_pool_free(pool);
    for (int e = 0; e < 2 * n_pool; e++) fr_pack_free((fr_packed *)mat[e].packed);
    free(mat), free(w), free(f), free(x), free(y), free(scratch);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "wrow")) return wrow_main(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "ports")) return ports_main();
    if (argc > 1 && !strcmp(argv[1], "moe")) return moe_main(argc, argv);
    if (argc < 6) {
        fprintf(stderr, "usage: kbench TYPE N_IN N_OUT N_TOK THREADS [REPS]\n");
        return 2;
    }
    int type = fr_type_from_name(argv[1]);
    int64_t n_in = atoll(argv[2]), n_out = atoll(argv[3]), n_tok = atoll(argv[4]);
    int threads = atoi(argv[5]), reps = argc > 6 ? atoi(argv[6]) : 5;
    const fr_type_traits *tt = fr_type_traits_get(type);
    if (!tt) return 2;
    size_t rb;
    fr_row_size(type, n_in, &rb);
    char *w = aligned_alloc(64, (rb * (size_t)n_out + 63) & ~(size_t)63);
    float *f = malloc(sizeof(float) * (size_t)n_in);
    unsigned s = 1;
    random_rows(tt, w, rb, n_out, n_in, f, &s);
    float *x = malloc(sizeof(float) * (size_t)(n_in * n_tok));
    for (int64_t i = 0; i < n_in * n_tok; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((int)(s >> 9) % 2001 - 1000) / 300.0f;
    }
    float *y0 = calloc((size_t)(n_out * n_tok), sizeof(float)), *y1 = calloc((size_t)(n_out * n_tok), sizeof(float));
    fr_matrix m = {type, n_in, n_out, rb, w, NULL, 0};
    size_t ss = fr_matmul_scratch_size(&m, n_tok) + 64;
    void *scratch = aligned_alloc(64, (ss + 63) & ~(size_t)63);
    fr_pool *pool;
    fr_error err;
    if (fr_pool_new(threads, &pool, &err) != FR_OK) return 1;
    double macs = (double)n_in * (double)n_out * (double)n_tok;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !(m.packed = fr_pack_new(&m))) {
            printf("(no packed layout for %s)\n", tt->name);
            break;
        }
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            fr_matmul(pool, &m, x, n_in, n_tok, pass ? y1 : y0, n_out, NULL, scratch);
            double dt = now_s() - t0;
            if (dt < best) best = dt;
        }
        printf("%s %s n_in=%lld n_out=%lld n_tok=%lld threads=%d: %.3f ms, %.1f GMAC/s\n", tt->name,
               pass ? "packed  " : "unpacked", (long long)n_in, (long long)n_out, (long long)n_tok, threads, best * 1e3,
               macs / best * 1e-9);
    }
    if (fr_pack_find(&m, &(int64_t){0}))
        printf("packed == unpacked: %s\n", memcmp(y0, y1, sizeof(float) * (size_t)(n_out * n_tok)) ? "NO" : "yes");
    fr_pack_free((fr_packed *)m.packed);
    fr_pool_free(pool);
    return 0;
}

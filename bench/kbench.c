/* kbench: matmul kernel micro-benchmark (a dev tool, not run by tests).
 *
 *   make && cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc -Isrc/core -pthread bench/kbench.c \
 *      build/libfrugal.a -lm -o build/kbench
 *   build/kbench TYPE N_IN N_OUT N_TOK THREADS [REPS]     e.g. build/kbench Q4_0 2048 5632 512 2
 *
 * Times fr_matmul on random weights, packed (fr_pack_new) and unpacked, best of REPS, and
 * prints GMAC/s. Also checks that both give the same bits. */
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

int main(int argc, char **argv) {
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
    for (int64_t r = 0; r < n_out; r++) {
        for (int64_t i = 0; i < n_in; i++) {
            s = s * 1103515245u + 12345u;
            f[i] = (float)((int)(s >> 9) % 2001 - 1000) / 1000.0f;
        }
        tt->from_float(f, w + (size_t)r * rb, n_in);
    }
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

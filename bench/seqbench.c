/* seqbench: decode-shaped streaming (a dev tool, not run by tests). One token (or N_TOK)
 * through a sequence of M packed matrices, as generation does, against one matrix holding
 * the same rows; prints the weight bytes read per second of both, alternated, best of REPS.
 * The gap between the two is what the per-product costs (task split, thread hand-off, the
 * stream's start) take from decode.
 *
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc -Isrc/core -pthread bench/seqbench.c \
 *      build/libfrugal.a -lm -o build/seqbench
 *   build/seqbench TYPE N_IN N_OUT M THREADS [REPS] [N_TOK]   e.g. build/seqbench Q8_0 2048 5632 40 2 */
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

/* A packed n_out x n_in matrix of random weights (the packing releases w's pages, so w is
 * a buffer of its own that is freed after). As the model does, each product but the last
 * has the idle threads read the next one ahead (fr_matmul_prefetch). */
static int make_packed(int type, int64_t n_in, int64_t n_out, const char *proto, size_t proto_bytes, fr_matrix *m) {
    size_t rb;
    fr_row_size(type, n_in, &rb);
    size_t bytes = rb * (size_t)n_out;
    char *w = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
    if (!w) return -1;
    for (size_t o = 0; o < bytes; o += proto_bytes)
        memcpy(w + o, proto, bytes - o < proto_bytes ? bytes - o : proto_bytes);
    *m = (fr_matrix){type, n_in, n_out, rb, w, NULL, 0};
    fr_packed *pk = fr_pack_new(m);
    free(w);
    if (!pk) return -1;
    m->packed = pk;
    m->data = pk->data; /* never read as rows: the products and fr_matmul_prefetch use the packed copy */
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: seqbench TYPE N_IN N_OUT M THREADS [REPS] [N_TOK]\n");
        return 2;
    }
    int type = fr_type_from_name(argv[1]);
    int64_t n_in = atoll(argv[2]), n_out = atoll(argv[3]);
    int M = atoi(argv[4]), threads = atoi(argv[5]), reps = argc > 6 ? atoi(argv[6]) : 5;
    int64_t n_tok = argc > 7 ? atoll(argv[7]) : 1;
    const fr_type_traits *tt = fr_type_traits_get(type);
    if (!tt || M < 1 || n_in % 256) return 2;
    /* 64 random rows, repeated */
    size_t rb;
    fr_row_size(type, n_in, &rb);
    char *proto = malloc(rb * 64);
    float *f = malloc(sizeof(float) * (size_t)n_in);
    unsigned s = 1;
    for (int r = 0; r < 64; r++) {
        for (int64_t i = 0; i < n_in; i++) {
            s = s * 1103515245u + 12345u;
            f[i] = (float)((int)(s >> 9) % 2001 - 1000) / 1000.0f;
        }
        tt->from_float(f, proto + (size_t)r * rb, n_in);
    }
    fr_matrix *ms = calloc((size_t)M, sizeof *ms), big;
    for (int i = 0; i < M; i++)
        if (make_packed(type, n_in, n_out, proto, rb * 64, &ms[i])) return 1;
    if (make_packed(type, n_in, n_out * M, proto, rb * 64, &big)) return 1;
    float *x = malloc(sizeof(float) * (size_t)(n_in * n_tok));
    float *y = malloc(sizeof(float) * (size_t)(n_out * M * n_tok));
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = (float)(i % 17) / 7.0f - 1.0f;
    void *scratch = aligned_alloc(64, (fr_matmul_scratch_size(&big, n_tok) + 127) & ~(size_t)63);
    fr_pool *pool;
    fr_error err;
    if (fr_pool_new(threads, &pool, &err) != FR_OK) return 1;
    const double bytes = (double)big.packed->data_bytes;
    double best_seq = 1e30, best_big = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int i = 0; i < M; i++) {
            if (i + 1 < M) fr_matmul_prefetch(pool, &ms[i + 1]);
            fr_matmul(pool, &ms[i], x, n_in, n_tok, y + (size_t)i * (size_t)n_out, n_out * M, NULL, scratch);
        }
        double t1 = now_s();
        fr_matmul(pool, &big, x, n_in, n_tok, y, n_out * M, NULL, scratch);
        double t2 = now_s();
        if (t1 - t0 < best_seq) best_seq = t1 - t0;
        if (t2 - t1 < best_big) best_big = t2 - t1;
    }
    printf("%s %lld x %lld, %d matrices (%.0f MiB), %lld token(s), %d threads: sequence %.1f GB/s (%.1f us per "
           "product), one matrix %.1f GB/s\n",
           tt->name, (long long)n_out, (long long)n_in, M, bytes / (1 << 20), (long long)n_tok, threads,
           bytes / best_seq * 1e-9, best_seq / M * 1e6, bytes / best_big * 1e-9);
    for (int i = 0; i < M; i++) fr_pack_free((fr_packed *)ms[i].packed);
    fr_pack_free((fr_packed *)big.packed);
    fr_pool_free(pool);
    return 0;
}

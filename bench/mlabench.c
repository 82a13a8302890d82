/* mlabench: micro-benchmark of the absorbed-MLA decode attention kernels (a dev tool, not
 * run by tests).
 *
 *   make && cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc -Isrc/core -pthread bench/mlabench.c \
 *      build/libfrugal.a -lm -o build/mlabench
 *   build/mlabench N_POS THREADS [REPS] [TYPE] [ACC_HEADS]     e.g. build/mlabench 4096 2 5 F16 16
 *
 * Synthetic data of DeepSeek-V2-Lite's shape (16 heads, latent 512 + rope 64, 27 layers of
 * cache rows, so that a token's rows do not all fit in the caches), the decode steps of
 * mla.c: scores over blocks of positions, softmax (+ F16 rounding), accumulation in dim
 * slices of ACC_HEADS heads (default all 16). Prints ms per token (27 layers) of each step, best of REPS, and a
 * checksum of the output. MLA_LAYERS=1 in the environment: one layer, repeated 27 times
 * (cache-resident rows, the kernels' own speed). MLA_POLLUTE=MB: read that many MiB of another
 * buffer before each layer (untimed), as the weight products of a real decode step do, so that
 * the layer's rows start in memory and the caches hold other data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "dtype.h"
#include "kernels/kernels.h"
#include "pool.h"

enum { H = 16, R = 512, ROT = 64, W = R + ROT, ACC_DIMS = 64 };
static int64_t SCORE_BLOCK = 64;
static int LAYERS = 27;

typedef struct {
    int type;
    const char *rows;
    size_t rb;
    int64_t n_pos, stride, acc_heads;
    const float *q;
    float *scores, *out, *tmp;
} job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void scores_task(void *ctx, int64_t blk, int thread) {
    job *j = ctx;
    int64_t p0 = blk * SCORE_BLOCK, p1 = p0 + SCORE_BLOCK < j->n_pos ? p0 + SCORE_BLOCK : j->n_pos;
    fr_mla_scores(j->type, j->rows, j->rb, p0, p1, j->q, H, W, 0.1f, j->scores, j->stride, j->tmp + thread * 2 * W);
}

static void softmax_task(void *ctx, int64_t h, int thread) {
    job *j = ctx;
    fr_softmax_fast(j->scores + h * j->stride, j->n_pos);
    if (j->type == FR_TYPE_F16) fr_round_f16(j->scores + h * j->stride, j->n_pos);
}

static void accum_task(void *ctx, int64_t task, int thread) {
    job *j = ctx;
    int64_t h0 = task / (R / ACC_DIMS) * j->acc_heads, d0 = task % (R / ACC_DIMS) * ACC_DIMS;
    fr_mla_accum(j->type, j->rows, j->rb, j->n_pos, j->scores, j->stride, h0, h0 + j->acc_heads, d0, d0 + ACC_DIMS,
                 j->out, R, j->tmp + thread * 2 * W);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: mlabench N_POS THREADS [REPS] [TYPE]\n");
        return 2;
    }
    int64_t n_pos = atoll(argv[1]);
    int threads = atoi(argv[2]), reps = argc > 3 ? atoi(argv[3]) : 5;
    int type = argc > 4 ? fr_type_from_name(argv[4]) : FR_TYPE_F16;
    int64_t acc_heads = argc > 5 ? atoll(argv[5]) : H;
    /* positions per scores task: mla.c's choice, about 8 tasks per thread (MLA_SCORE_BLOCK=N overrides) */
    int64_t blocks = (n_pos + 63) / 64;
    SCORE_BLOCK = 64 * (blocks / (8 * threads) > 1 ? blocks / (8 * threads) : 1);
    if (getenv("MLA_SCORE_BLOCK")) SCORE_BLOCK = atoll(getenv("MLA_SCORE_BLOCK"));
    if (getenv("MLA_LAYERS")) LAYERS = atoi(getenv("MLA_LAYERS")); /* 1: cache-resident rows */
    size_t pollute = getenv("MLA_POLLUTE") ? (size_t)atoll(getenv("MLA_POLLUTE")) << 20 : 0;
    volatile uint64_t *junk = pollute ? calloc(pollute / 8, 8) : NULL;
    if (pollute && !junk) return 1;
    for (size_t i = 0; i < pollute / 8; i++) junk[i] = i; /* real pages, not the shared zero page */
    const fr_type_traits *tt = fr_type_traits_get(type);
    size_t rb;
    if (!tt || n_pos < 1 || threads < 1 || acc_heads < 1 || H % acc_heads || !fr_row_size(type, W, &rb)) return 2;
    size_t layer_bytes = rb * (size_t)n_pos;
    size_t cache_bytes = (layer_bytes * LAYERS + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    char *cache = aligned_alloc(2u << 20, cache_bytes);
    if (getenv("MLA_HUGE")) madvise(cache, cache_bytes, MADV_HUGEPAGE);
    float *f = malloc(sizeof(float) * W), *q = malloc(sizeof(float) * H * W);
    float *scores = malloc(sizeof(float) * H * (size_t)n_pos), *out = malloc(sizeof(float) * H * R);
    float *tmp = malloc(sizeof(float) * 2 * W * (size_t)threads);
    unsigned s = 1;
    for (int64_t p = 0; p < n_pos * LAYERS; p++) {
        for (int i = 0; i < W; i++) {
            s = s * 1103515245u + 12345u;
            f[i] = (float)((int)(s >> 9) % 2001 - 1000) / 1000.0f;
        }
        tt->from_float(f, cache + (size_t)p * rb, W);
    }
    for (int i = 0; i < H * W; i++) {
        s = s * 1103515245u + 12345u;
        q[i] = (float)((int)(s >> 9) % 2001 - 1000) / 100.0f;
    }
    fr_pool *pool;
    fr_error err;
    if (fr_pool_new(threads, &pool, &err) != FR_OK) return 1;
    job j = {type, cache, rb, n_pos, n_pos, acc_heads, q, scores, out, tmp};
    double best[3] = {1e30, 1e30, 1e30}, sum = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t[3] = {0, 0, 0};
        for (int l = 0; l < 27; l++) {
            j.rows = cache + (size_t)(l % LAYERS) * layer_bytes;
            uint64_t acc = 0;
            for (size_t i = 0; i < pollute / 8; i += 8) acc += junk[i];
            if (acc == 1) printf(" ");
            double t0 = now_s();
            fr_pool_run(pool, (n_pos + SCORE_BLOCK - 1) / SCORE_BLOCK, scores_task, &j);
            double t1 = now_s();
            fr_pool_run(pool, H, softmax_task, &j);
            double t2 = now_s();
            fr_pool_run(pool, H / acc_heads * (R / ACC_DIMS), accum_task, &j);
            double t3 = now_s();
            t[0] += t1 - t0, t[1] += t2 - t1, t[2] += t3 - t2;
        }
        for (int k = 0; k < 3; k++)
            best[k] = t[k] < best[k] ? t[k] : best[k];
    }
    for (int i = 0; i < H * R; i++)
        sum += out[i];
    printf("%s n_pos %lld threads %d: ms/token (27 x %d layers) scores %.2f softmax %.2f accum %.2f total %.2f  "
           "(%.1f GFLOP/s) checksum %.9g\n",
           fr_type_name(type), (long long)n_pos, threads, LAYERS, best[0] * 1e3, best[1] * 1e3, best[2] * 1e3,
           (best[0] + best[1] + best[2]) * 1e3,
           2.0 * H * (double)(W + R) * (double)n_pos * 27 / (best[0] + best[1] + best[2]) * 1e-9, sum);
    fr_pool_free(pool);
    free((void *)junk), free(cache), free(f), free(q), free(scores), free(out), free(tmp);
    return 0;
}

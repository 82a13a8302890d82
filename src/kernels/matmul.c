/* matmul.c: weight x activations, parallel over output rows. */
#include <string.h>

#include "kernels.h"

/* Output rows per task: a few large contiguous slabs per thread, so each thread streams
 * long runs of W (hardware prefetchers stop at page boundaries and restart on jumps),
 * while the atomic hand-out still balances uneven threads. A multiple of 16. */
static int64_t row_chunk(int64_t n_out, int n_threads) {
    int64_t c = n_out / ((int64_t)n_threads * 4);
    c = (c + 15) & ~(int64_t)15;
    return c < 16 ? 16 : c;
}

static size_t act_row_bytes(const fr_matrix *w) {
    const fr_type_traits *tt = fr_type_traits_get(w->type);
    size_t rb = 0;
    fr_row_size(tt->vec_dot_type, w->n_in, &rb);
    return (rb + 63) & ~(size_t)63;
}

size_t fr_matmul_scratch_size(const fr_matrix *w, int64_t n_tok) {
    return act_row_bytes(w) * (size_t)n_tok;
}

typedef struct {
    const fr_matrix *w;
    const float *x;
    int64_t x_stride;
    int64_t n_tok;
    float *y;
    int64_t y_stride;
    const float *bias;
    char *act; /* converted activations */
    size_t act_stride;
    fr_from_float_fn convert;
    fr_vec_dot_fn dot;
    int64_t chunk;
} matmul_job;

static void convert_task(void *ctx, int64_t t, int thread) {
    matmul_job *j = ctx;
    j->convert(j->x + t * j->x_stride, j->act + (size_t)t * j->act_stride, j->w->n_in);
}

static void dot_task(void *ctx, int64_t task, int thread) {
    matmul_job *j = ctx;
    const fr_matrix *w = j->w;
    int64_t r0 = task * j->chunk;
    int64_t r1 = FR_MIN(r0 + j->chunk, w->n_out);
    for (int64_t t = 0; t < j->n_tok; t++) {
        const char *a = j->act + (size_t)t * j->act_stride;
        float *yt = j->y + t * j->y_stride;
        for (int64_t r = r0; r < r1; r++) {
            float s;
            j->dot(w->n_in, &s, (const char *)w->data + (size_t)r * w->row_bytes, a);
            yt[r] = j->bias ? s + j->bias[r] : s;
        }
    }
}

void fr_matmul(fr_pool *pool, const fr_matrix *w, const float *x, int64_t x_stride, int64_t n_tok,
               float *y, int64_t y_stride, const float *bias, void *scratch) {
    const fr_type_traits *tt = fr_type_traits_get(w->type);
    const fr_type_traits *at = fr_type_traits_get(tt->vec_dot_type);
    matmul_job j = {w, x, x_stride, n_tok, y, y_stride, bias, scratch, act_row_bytes(w),
                    at->from_float, tt->vec_dot, row_chunk(w->n_out, fr_pool_size(pool))};
    if (n_tok > 1)
        fr_pool_run(pool, n_tok, convert_task, &j);
    else
        convert_task(&j, 0, 0);
    fr_pool_run(pool, (w->n_out + j.chunk - 1) / j.chunk, dot_task, &j);
}

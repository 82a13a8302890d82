/* matmul.c: weight x activations, parallel over output rows. */
#include <assert.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "quants.h"

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

/* (fr_gemm_f16_takes: F32 too since the 15th session: tinyllama F32 pp512 30.7 -> 51.4 t/s with
 * AVX2, 2 threads, where it took per-row vec_dot) */

size_t fr_matmul_scratch_size(const fr_matrix *w, int64_t n_tok) {
    size_t s = act_row_bytes(w) * (size_t)n_tok;
    if (fr_pack_supported(w->type)) s = FR_MAX(s, fr_gemm_scratch_size(w->type, w->n_in, n_tok));
    if (fr_gemm_f16_takes(w->type)) s = FR_MAX(s, fr_gemm_f16_scratch_size(w->type, w->n_in, n_tok));
    return s;
}

/* fr_matmul_scratch_size's largest need per token over the types a matrix of n_in values per
 * row can have (every need above grows with the tokens in proportion) */
size_t fr_matmul_scratch_row_bound(int64_t n_in) {
    size_t most = 0;
    for (int type = 0; type < FR_TYPE_COUNT; type++) {
        const fr_type_traits *tt = fr_type_traits_get(type);
        if (!tt || !tt->vec_dot || n_in % tt->block_size != 0) continue;
        const fr_matrix m = {type, n_in, 1, 0, NULL, NULL, 0};
        most = FR_MAX(most, fr_matmul_scratch_size(&m, 1));
    }
    return most;
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
    const int64_t *slabs; /* decode: row bounds of each task (fr_decode_split), else NULL */
    void (*row_tile)(int64_t n, const void *x, const void *const *y, int T, float *out); /* 1 row x <= 4 tokens */
} matmul_job;

static void convert_task(void *ctx, int64_t t, int thread) {
    matmul_job *j = ctx;
    j->convert(j->x + t * j->x_stride, j->act + (size_t)t * j->act_stride, j->w->n_in);
}

/* Tiles of up to 4 rows x 2 tokens where the type has a tile kernel; every element is
 * bit-identical to a vec_dot call, so the tiling never changes a result. */
static void dot_rows_tiled(const matmul_job *j, fr_dot_tile_fn tile, int64_t r0, int64_t r1) {
    const fr_matrix *w = j->w;
    for (int64_t t = 0; t < j->n_tok; t += 2) {
        int nt = j->n_tok - t >= 2 ? 2 : 1;
        const void *ys[2] = {j->act + (size_t)t * j->act_stride, j->act + (size_t)(t + nt - 1) * j->act_stride};
        /* single tokens (decode) stream rows one at a time: wider row tiles only add
         * register pressure there (measured: 4x1 is slower than 1x1) */
        int64_t max_r = nt == 2 ? 2 : 1;
        for (int64_t r = r0; r < r1; r += max_r) {
            int nr = (int)FR_MIN(max_r, r1 - r);
            const void *xs[4];
            for (int k = 0; k < nr; k++) xs[k] = (const char *)w->data + (size_t)(r + k) * w->row_bytes;
            float out[8];
            tile(w->n_in, xs, nr, ys, nt, out);
            fr_store_tile(j->y, j->y_stride, j->bias, out, r, nr, t, nt);
        }
    }
}

/* K-quants: one weight row at a time for up to 4 tokens (the row is unpacked once). */
static void dot_rows_1xT(const matmul_job *j, int64_t r0, int64_t r1) {
    const fr_matrix *w = j->w;
    for (int64_t t = 0; t < j->n_tok; t += 4) {
        const int T = (int)FR_MIN(4, j->n_tok - t);
        const void *ys[4];
        for (int u = 0; u < T; u++) ys[u] = j->act + (size_t)(t + u) * j->act_stride;
        for (int64_t r = r0; r < r1; r++) {
            float out[4];
            j->row_tile(w->n_in, (const char *)w->data + (size_t)r * w->row_bytes, ys, T, out);
            fr_store_tile(j->y, j->y_stride, j->bias, out, r, 1, t, T);
        }
    }
}

static void dot_task(void *ctx, int64_t task, int thread) {
    matmul_job *j = ctx;
    const fr_matrix *w = j->w;
    int64_t r0 = task * j->chunk;
    int64_t r1 = FR_MIN(r0 + j->chunk, w->n_out);
    if (j->slabs) r0 = j->slabs[task], r1 = j->slabs[task + 1];
    if (j->row_tile) {
        dot_rows_1xT(j, r0, r1);
        return;
    }
    const fr_type_traits *tt = fr_type_traits_get(w->type);
    if (tt->dot_tile) {
        dot_rows_tiled(j, tt->dot_tile, r0, r1);
        return;
    }
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
    int64_t unit0;
    const fr_packed *pk = fr_pack_find(w, &unit0);
    if (pk) {
        fr_gemm_packed(pool, pk, unit0, w, x, x_stride, n_tok, y, y_stride, bias, scratch);
        return;
    }
    if (fr_gemm_f16_takes(w->type)) {
        fr_gemm_f16(pool, w, x, x_stride, n_tok, y, y_stride, bias, scratch);
        return;
    }
    const fr_type_traits *tt = fr_type_traits_get(w->type);
    const fr_type_traits *at = fr_type_traits_get(tt->vec_dot_type);
    matmul_job j = {w, x, x_stride, n_tok, y, y_stride, bias, scratch, act_row_bytes(w),
                    at->from_float, tt->vec_dot, row_chunk(w->n_out, fr_pool_size(pool)), NULL, NULL};
#if FR_X86
    if (fr_cpu_has(FR_ISA_AVX2) && (w->type == FR_TYPE_Q4_K || w->type == FR_TYPE_Q6_K)) {
        j.row_tile = w->type == FR_TYPE_Q4_K ? fr_dot_1xT_q4_K_avx2 : fr_dot_1xT_q6_K_avx2;
        /* prompts: row chunks that stay in L2 while every token passes over them */
        if (n_tok > 4) j.chunk = FR_MIN(j.chunk, FR_MAX(8, (int64_t)((160 << 10) / w->row_bytes)));
    }
#endif
    if (n_tok > 1)
        fr_pool_run(pool, n_tok, convert_task, &j);
    else
        convert_task(&j, 0, 0);
    if (n_tok <= 4) { /* decode: decreasing slabs of rows, as fr_gemm_packed */
        int64_t slabs[FR_DECODE_MAX_TASKS + 1];
        j.slabs = slabs;
        fr_pool_run(pool, fr_decode_split(w->n_out, false, fr_pool_size(pool), slabs), dot_task, &j);
        return;
    }
    fr_pool_run(pool, (w->n_out + j.chunk - 1) / j.chunk, dot_task, &j);
}

/* How fr_matmul_group runs n matrices (pk, unit0: each one's packed copy, or NULL). */
enum { GROUP_APART, GROUP_PACKED, GROUP_ROWS };
static int group_kind(const fr_mm_out *out, int n, int64_t n_tok, const fr_packed **pk, int64_t *unit0) {
    bool same = true;
    int n_packed = 0;
    for (int i = 0; i < n; i++) {
        same = same && out[i].w->type == out[0].w->type && out[i].w->n_in == out[0].w->n_in;
        pk[i] = fr_pack_find(out[i].w, &unit0[i]);
        if (pk[i]) n_packed += pk[0] && fr_gemm_same_layout(pk[i], pk[0]) ? 1 : n + 1;
    }
    if (n < 2 || !same || n_tok > FR_GEMM_MAX_T) return GROUP_APART;
    if (n_packed == n) return GROUP_PACKED;
    if (n_tok == 1 && n_packed == 0 && fr_gemm_f16_takes(out[0].w->type)) return GROUP_ROWS;
    return GROUP_APART;
}

void fr_matmul_group(fr_pool *pool, const fr_mm_out *out, int n, const float *x, int64_t x_stride, int64_t n_tok,
                     void *scratch) {
    assert(n >= 1 && n <= FR_MM_GROUP_MAX);
    const fr_packed *pk[FR_MM_GROUP_MAX];
    int64_t unit0[FR_MM_GROUP_MAX];
    switch (group_kind(out, n, n_tok, pk, unit0)) {
    case GROUP_PACKED: fr_gemm_packed_group(pool, pk, unit0, out, n, x, x_stride, n_tok, scratch); return;
    case GROUP_ROWS: fr_gemm_f16_group(pool, out, n, x, scratch); return;
    default:
        for (int i = 0; i < n; i++)
            fr_matmul(pool, out[i].w, x, x_stride, n_tok, out[i].y, out[i].y_stride, out[i].bias, scratch);
    }
}

fr_matrix fr_matrix_rows(const fr_matrix *m, int64_t row0, int64_t n) {
    fr_matrix v = *m;
    v.n_out = n;
    v.data = (const char *)m->data + (size_t)row0 * m->row_bytes;
    if (m->packed && row0 % FR_GEMM_ROWS == 0) {
        v.unit0 = m->unit0 + row0 / FR_GEMM_ROWS;
    } else {
        v.packed = NULL;
        v.unit0 = 0;
    }
    return v;
}

void fr_matmul_prefetch(fr_pool *pool, const fr_matrix *w) {
    const fr_mm_out one = {w, NULL, 0, NULL};
    fr_matmul_prefetch_group(pool, w ? &one : NULL, w ? 1 : 0);
}

void fr_matmul_prefetch_group(fr_pool *pool, const fr_mm_out *out, int n) {
    int nt = fr_pool_size(pool);
    if (nt < 2) return;
    if (n < 1 || n > FR_MM_GROUP_MAX || !out[0].w->data) {
        fr_pool_prefetch(pool, NULL, 0);
        return;
    }
    /* the bytes a decode step of one token reads (its units or rows, numbered across the
     * group as fr_matmul_group numbers them), and its split of them (fr_decode_split) */
    const fr_packed *pk[FR_MM_GROUP_MAX];
    int64_t unit0[FR_MM_GROUP_MAX], start[FR_MM_GROUP_MAX + 1], bounds[FR_DECODE_MAX_TASKS + 1];
    if (group_kind(out, n, 1, pk, unit0) == GROUP_APART) n = 1; /* the first product runs alone */
    const char *base[FR_MM_GROUP_MAX];
    size_t stride[FR_MM_GROUP_MAX];
    fr_mm_group_starts(out, n, pk[0] != NULL, start); /* (a group runs all packed or none) */
    for (int i = 0; i < n; i++) {
        base[i] = pk[i] ? pk[i]->data + (size_t)unit0[i] * pk[i]->unit_bytes : out[i].w->data;
        stride[i] = pk[i] ? pk[i]->unit_bytes : out[i].w->row_bytes;
    }
    int64_t n_slabs = fr_decode_split(start[n], pk[0] != NULL, nt, bounds);
    if (n_slabs < 1) { /* no rows */
        fr_pool_prefetch(pool, NULL, 0);
        return;
    }
    /* the caller takes the first slab as soon as the job is out, a worker the next ones:
     * read ahead from there to the end of its matrix, into the caches of the core that will
     * probably use it */
    int64_t from = n_slabs > 1 ? bounds[1] : 0;
    int i = 0;
    while (i + 1 < n && from >= start[i + 1]) i++;
    fr_pool_prefetch(pool, base[i] + (size_t)(from - start[i]) * stride[i], (size_t)(start[i + 1] - from) * stride[i]);
}

/* kernels.h: the operations of the forward pass.
 *
 * Matrices are row-major with ggml's convention: a weight W of shape [n_in, n_out]
 * (ne[0] = n_in, the row length) holds n_out rows of n_in values. y = W x means
 * y[r] = dot(W row r, x).
 *
 * Batch invariance: every output element is produced by one call of the type's vec_dot
 * on that token's own (converted) activations, so it never depends on the batch size,
 * the other tokens or the thread count. */
#ifndef FRUGAL_KERNELS_KERNELS_H
#define FRUGAL_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "pool.h"

struct fr_packed;

/* A 2-D weight view (into the mmap or a repacked buffer). */
typedef struct fr_matrix {
    int type;
    int64_t n_in;  /* ne[0]: row length */
    int64_t n_out; /* rows */
    size_t row_bytes;
    const void *data;
    /* The 16-row repacked copy of the rows (gemm.h), owned by the model, or NULL: this view's
     * rows are units unit0 .. of it. Views of some rows keep it through fr_matrix_rows. */
    const struct fr_packed *packed;
    int64_t unit0;
} fr_matrix;

/* Rows [row0, row0 + n) of m (0 <= row0, row0 + n <= m->n_out): the packed copy stays
 * attached when row0 starts a 16-row unit, else the view reads the original rows. */
fr_matrix fr_matrix_rows(const fr_matrix *m, int64_t row0, int64_t n);

/* Rows of a weight selected per head: row (h, i), h < n_head, i < n_rows, is row
 * h * head_stride + row_off + i of w. Lets one GGUF tensor serve as several per-head
 * matrices (MLA's attn_kv_b holds W_UK and W_UV interleaved per head). */
typedef struct fr_head_rows {
    fr_matrix w;
    int64_t n_head, n_rows, head_stride, row_off;
} fr_head_rows;

static inline const void *fr_head_row(const fr_head_rows *r, int64_t h, int64_t i) {
    return (const char *)r->w.data + (size_t)(h * r->head_stride + r->row_off + i) * r->w.row_bytes;
}

/* Bytes of scratch fr_matmul needs for n_tok rows of n_in activations of W's type. */
size_t fr_matmul_scratch_size(const fr_matrix *w, int64_t n_tok);
/* The largest fr_matmul_scratch_size(w, n_tok) / n_tok over every type of W with n_in values per
 * row: one scratch for all of a model's matrices (those with fewer inputs need no more). */
size_t fr_matmul_scratch_row_bound(int64_t n_in);

/* y[t][r] = dot(W[r], x[t]) (+ bias[r] if bias != NULL) for t < n_tok, r < n_out.
 * x: [n_tok][x_stride] floats, y: [n_tok][y_stride]. scratch: fr_matmul_scratch_size bytes,
 * 64-byte aligned. */
void fr_matmul(fr_pool *pool, const fr_matrix *w, const float *x, int64_t x_stride, int64_t n_tok,
               float *y, int64_t y_stride, const float *bias, void *scratch);

/* One product of a group that shares its input (fr_matmul_group): y = W x (+ bias). */
typedef struct fr_mm_out {
    const fr_matrix *w;
    float *y;
    int64_t y_stride;
    const float *bias; /* NULL: none */
} fr_mm_out;
#define FR_MM_GROUP_MAX 3
/* fr_matmul of n (1..FR_MM_GROUP_MAX) matrices with the same n_in over the same x: out[i].y
 * gets exactly what fr_matmul(out[i].w, ..) would write. A decode step (n_tok <= 4) over
 * matrices of one packed type, or of one of F16, BF16 or F32, converts x once and splits the
 * rows of all of them in one pool run (a layer's q, k and v, or its gate and up); other
 * groups run one fr_matmul each. scratch: the largest fr_matmul_scratch_size of the group.
 * (fr_matmul_multi below also runs several products at once, but for jobs with their own
 * input rows, MoE's experts; the group keeps fr_matmul's decode paths: the decode split and
 * the multi-stream kernels.) */
void fr_matmul_group(fr_pool *pool, const fr_mm_out *out, int n, const float *x, int64_t x_stride, int64_t n_tok,
                     void *scratch);

/* Decode read-ahead: while the caller runs the serial work before W's next single-token
 * product, the pool's idle workers prefetch the part of W they will probably multiply
 * (fr_pool_prefetch). W NULL clears the hint. A hint only: results do not change. */
void fr_matmul_prefetch(fr_pool *pool, const fr_matrix *w);
/* The same for the first pool run of fr_matmul_group(out, n) with one token (out NULL or n 0
 * clears the hint). */
void fr_matmul_prefetch_group(fr_pool *pool, const fr_mm_out *out, int n);

/* Several products at once (matmul_multi.c), e.g. every chosen expert of a MoE layer. A job
 * multiplies n_w (1 or 2) weights of the same activation type by the same m input rows:
 * y[k][i * y_stride + r] = dot(w[k] row r, x[x_rows ? x_rows[i] : i]) for i < m. Same
 * per-element guarantee as fr_matmul. scratch: fr_matmul_multi_scratch_size() bytes. More
 * than FR_MM_MAX_JOBS jobs run in several rounds. */
#define FR_MM_MAX_JOBS 1024
typedef struct fr_mm_job {
    const fr_matrix *w[2];
    int n_w;
    const float *x;
    int64_t x_stride;
    const int32_t *x_rows; /* NULL: rows 0..m-1 */
    int64_t m;
    float *y[2];
    int64_t y_stride;
} fr_mm_job;
size_t fr_matmul_multi_scratch_size(const fr_mm_job *jobs, int n_jobs);
void fr_matmul_multi(fr_pool *pool, fr_mm_job *jobs, int n_jobs, void *scratch);

/* Absorbed MLA attention of one decode token (mla_attn.c), over cached rows of `type`
 * (row p at rows + p * row_bytes):
 * scores: scores[h * stride + p] = dot(q[h * w ..], row_p[0, w)) * scale, p in [p0, p1)
 * accum:  out[h * r + d] = sum_{p < n_pos} a[h * stride + p] * row_p[d], h in [h0, h1),
 *         d in [d0, d1) (d0, d1 multiples of the type's block size)
 * tmp: w floats of per-thread scratch for types without a direct kernel. */
void fr_mla_scores(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q, int64_t n_head,
                   int64_t w, float scale, float *scores, int64_t stride, float *tmp);
/* Scores of n_q queries in the order of the row type's own dot product (prompt attention over
 * decompressed F16/F32 keys): scores[k * stride + p] = vec_dot(w, row_p, Q(q[k * w ..])) *
 * scale for p in [p0, p1), where vec_dot is the type's (fr_type_traits) and Q its conversion
 * of q to the vec_dot_type: bit for bit the result of calling the type's vec_dot per pair (the
 * peer's arithmetic), with each row read once for a block of queries. Types F16 and F32; q's
 * values must be exact in the vec_dot_type (F16 rows: round q with fr_round_f16 first).
 * tmp: w floats of scratch for the reference path (the scalar vec_dot per pair). */
void fr_attn_scores_dot(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_q, int64_t w, float scale, float *scores, int64_t stride, float *tmp);
void fr_attn_scores_dot_ref(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                            int64_t n_q, int64_t w, float scale, float *scores, int64_t stride, float *tmp);
/* x = F16(x), round to nearest even (NaN payloads aside, as fr_f32_to_f16). */
void fr_round_f16(float *x, int64_t n);
/* y += a * x over n floats. */
void fr_axpy(float *y, const float *x, float a, int64_t n);
void fr_mla_accum(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                  int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r, float *tmp);

/* Attention over a quantized KV cache (rows of a type with vec_dot and to_float: Q8_0).
 * fr_attn_scores_quant: scores[k * stride + p] = vec_dot(w, row_p, qq_k) * scale for n_q
 *   queries and p in [0, n_pos), with qq_k = qq + k * q_bytes the k-th query already converted
 *   to the type's vec_dot_type: bit for bit the type's vec_dot per pair (through its multi-row
 *   tile where it has one), each row read once for all the queries (dense attention).
 * fr_attn_scores_deq: fr_mla_scores's float scores over the rows dequantized, FR_ATT_VTILE rows
 *   at a time into tmp (FR_ATT_VTILE * w floats): the F32-row kernel's results on those values
 *   (absorbed MLA decode).
 * fr_attn_accum_deq: out[k * r + d] = sum_{p < n_pos} a[k * stride + p] * row_p[d] for k < n_q,
 *   d in [d0, d1) (multiples of the block size), each element one chain of FMAs over p = 0, 1,
 *   ... from 0 (as fr_mla_accum's F32 rows) on the dequantized values, FR_ATT_VTILE rows at a
 *   time into tmp (FR_ATT_VTILE * (d1 - d0) floats). */
enum { FR_ATT_VTILE = 64 };
void fr_attn_scores_quant(int type, const void *rows, size_t row_bytes, int64_t n_pos, const void *qq, size_t q_bytes,
                          int64_t n_q, int64_t w, float scale, float *scores, int64_t stride);
void fr_attn_scores_deq(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_head, int64_t w, float scale, float *scores, int64_t stride, float *tmp);
void fr_attn_accum_deq(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                       int64_t n_q, int64_t d0, int64_t d1, float *out, int64_t r, float *tmp);

/* Float products with one weight row of `type` (n values, a multiple of its block size) on
 * its dequantized values, the input never rounded (wrow.c; MLA's W_UK and W_UV in decode):
 * fr_wrow_dot returns sum_i w[i] x[i]; fr_wrow_axpy does y[i] += a w[i]. tmp: n floats of
 * scratch for the types without a direct kernel. The _ref versions are the plain reference
 * (to_float, then the F32 dot or axpy) the tests compare against. */
float fr_wrow_dot(int type, const void *row, const float *x, int64_t n, float *tmp);
void fr_wrow_axpy(int type, const void *row, float a, float *y, int64_t n, float *tmp);
float fr_wrow_dot_ref(int type, const void *row, const float *x, int64_t n, float *tmp);
/* The same over n_rows rows at row_bytes apart, with every result bit for bit that of the
 * row-by-row calls: out[i] = fr_wrow_dot(row_i, x); y += a[i] row_i for i = 0, 1, ... in
 * that order. The AVX2 kernels share the loads of x between two rows (dot) and keep a slice
 * of y in registers across all the rows (axpy). next: the rows of the caller's next call
 * (n_rows x row_bytes bytes), prefetched meanwhile, or NULL. */
void fr_wrow_dot_rows(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *x, int64_t n,
                      float *out, const void *next, float *tmp);
void fr_wrow_axpy_rows(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                       int64_t n, const void *next, float *tmp);
void fr_wrow_axpy_ref(int type, const void *row, float a, float *y, int64_t n, float *tmp);
/* The same for T inputs over the same rows, each result bit for bit that of its own call:
 * outs[t][i] = fr_wrow_dot(row_i, xs[t]); ys[t] += sum_i as[t][i] row_i (batched MLA decode:
 * the tokens of a group through one head's W_UK or W_UV). The AVX2 and AVX-512 kernels of the
 * int8-block types (Q4_0, Q5_0, IQ4_NL, Q8_0) make each block's floats once for up to
 * FR_WROW_MAX_T inputs; other types and ISAs take the calls one input at a time. next: as
 * above, asked for during the last inputs. */
#define FR_WROW_MAX_T 4
void fr_wrow_dot_rows_multi(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *xs, int T,
                            int64_t n, float *const *outs, const void *next, float *tmp);
void fr_wrow_axpy_rows_multi(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *const *as,
                             float *const *ys, int T, int64_t n, const void *next, float *tmp);

/* The F16/F32-row kernels behind fr_mla_scores / fr_mla_accum (types F16 and F32 only;
 * accum: d0, d1 multiples of 8). The AVX-512 and NEON ones give the AVX2 ones' results bit
 * for bit (8-lane FMA sums, hsum8, tail; tests/unit/test_mla_kernels.c has that order in C);
 * call each only where fr_cpu_has says its ISA is there (tests compare them). */
void fr_mla_scores_avx2(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_head, int64_t w, float scale, float *scores, int64_t stride);
void fr_mla_accum_avx2(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                       int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);
/* the same, adding to out (the chains continue from its values) */
void fr_mla_accum_avx2_add(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                           int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);
void fr_attn_scores_dot_avx2(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                             int64_t n_q, int64_t w, float scale, float *scores, int64_t stride);
void fr_mla_scores_avx512(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                          int64_t n_head, int64_t w, float scale, float *scores, int64_t stride);
void fr_mla_accum_avx512(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                         int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);
/* the same, adding to out (the chains continue from its values) */
void fr_mla_accum_avx512_add(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a,
                             int64_t stride, int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);
/* fr_attn_scores_quant's scores for Q8_0 rows and Q8_0 queries, keys in the lanes (attn_q8.h):
 * positions [0, n) for the returned n, a multiple of 8 (AVX2) or 16 (AVX-512 VNNI) at most
 * n_pos (0 where w is not a multiple of 32 or wider than 128), each the type's vec_dot bits. */
int64_t fr_attn_scores_q8_0_avx2(const void *rows, size_t row_bytes, int64_t n_pos, const void *qq, size_t q_bytes,
                                 int64_t n_q, int64_t w, float scale, float *scores, int64_t stride);
int64_t fr_attn_scores_q8_0_avx512vnni(const void *rows, size_t row_bytes, int64_t n_pos, const void *qq,
                                       size_t q_bytes, int64_t n_q, int64_t w, float scale, float *scores,
                                       int64_t stride);
/* fr_softmax_fast and fr_round_f16 on AVX2 (mla_attn_avx2.c) and AVX-512 (mla_attn_avx512.c,
 * the AVX2 results bit for bit) */
void fr_softmax_fast_avx2(float *x, int64_t n);
void fr_round_f16_avx2(float *x, int64_t n);
void fr_softmax_fast_avx512(float *x, int64_t n);
void fr_round_f16_avx512(float *x, int64_t n);
/* AArch64 (mla_attn_neon.c): the AVX2 kernels' results bit for bit, on 4-lane registers;
 * fr_attn_scores_dot_neon: fr_attn_scores_dot's (the reference row dot product's bits). */
void fr_attn_scores_dot_neon(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                             int64_t n_q, int64_t w, float scale, float *scores, int64_t stride);
void fr_mla_scores_neon(int type, const void *rows, size_t row_bytes, int64_t p0, int64_t p1, const float *q,
                        int64_t n_head, int64_t w, float scale, float *scores, int64_t stride);
void fr_mla_accum_neon(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                       int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);
/* the same, adding to out (the chains continue from its values) */
void fr_mla_accum_neon_add(int type, const void *rows, size_t row_bytes, int64_t n_pos, const float *a, int64_t stride,
                           int64_t h0, int64_t h1, int64_t d0, int64_t d1, float *out, int64_t r);

/* out = x / rms(x) * w (w may be NULL for no weight). */
void fr_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* Rotary embedding on n_head heads of head_dim values, rotating the first n_rot dims
 * of each head. `cos_sin` holds n_rot/2 (cos, sin) pairs for this position.
 * neox = false: pairs (2i, 2i+1); neox = true: pairs (i, i + n_rot/2). */
void fr_rope_apply(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, const float *cos_sin,
                   int neox);

/* In place: x = silu(gate) * up over n values, result written to gate. */
void fr_swiglu(float *gate, const float *up, int64_t n);

/* Numerically stable softmax in place over n values. */
void fr_softmax(float *x, int64_t n);
/* The same with a vectorised exp (exp's own relative error below 3e-7; mla_attn.c). */
void fr_softmax_fast(float *x, int64_t n);

/* Scatter a tile of matmul results: out[k * nt + u] is output row r + k of token t + u; y is
 * [token][y_stride], bias (may be NULL) is added per output row. */
static inline void fr_store_tile(float *y, int64_t y_stride, const float *bias, const float *out, int64_t r, int nr,
                                 int64_t t, int nt) {
    for (int k = 0; k < nr; k++)
        for (int u = 0; u < nt; u++) {
            float v = out[k * nt + u];
            y[(t + u) * y_stride + r + k] = bias ? v + bias[r + k] : v;
        }
}

#endif

/* context_impl.h: the run state shared by the forward passes (context.c: dense llama/qwen2;
 * deepseek2.c, mla.c, moe.c: DeepSeek-V2/V3). Internal to src/model. */
#ifndef FRUGAL_MODEL_CONTEXT_IMPL_H
#define FRUGAL_MODEL_CONTEXT_IMPL_H

#include "context.h"
#include "hugemem.h"
#include "kernels/kernels.h"

struct fr_context {
    const fr_model *m;
    fr_pool *pool;
    bool read_ahead; /* decode: waiting workers prefetch the next weights (FRUGAL_READAHEAD=0: off) */
    fr_context_params p;
    /* positions cached per sequence, [p.n_seq] */
    int64_t *seq_past;
    fr_phase *seq_phase; /* [p.n_seq] the phase each sequence's rows are computed in */

    /* KV cache.
     * dense: K and V per layer [n_head_kv][n_ctx][head_dim] of kv_type: each kv head's
     *        positions in one contiguous block, since attention reads a kv head at a time.
     * MLA:   K only, per layer [n_ctx][n_lora_kv + n_rot] of kv_type: the normalised latent
     *        and the roped shared key, all a token leaves behind (v_mem is NULL).
     * k_mem holds p.n_seq blocks of k_seq_bytes, each laid out as above (so k_mem + s *
     * k_seq_bytes is one sequence's complete cache); v_mem likewise. */
    char *k_mem, *v_mem;               /* the allocations (huge pages: hugemem.h) */
    fr_huge_mem k_map, v_map;
    size_t k_seq_bytes, v_seq_bytes;   /* one sequence, all layers */
    size_t k_row_bytes, v_row_bytes;   /* from one position to the next (dense: of one kv head) */
    size_t k_head_bytes, v_head_bytes; /* one position, one kv head */
    size_t k_head_stride, v_head_stride; /* dense: from one kv head's block to the next */
    size_t k_layer_bytes, v_layer_bytes;

    /* rows of the current forward pass, [n_batch] */
    int32_t *row_seq; /* sequence of each row */
    int64_t *row_pos; /* position of each row in its sequence */
    int32_t *row_tok; /* deepseek2: the tokens, grouped (context.c forward_rows_mla) */
    int64_t n_prompt_rows; /* deepseek2: rows [0, n_prompt_rows) are prompt-phase sequences',
                            * grouped by sequence, each at consecutive positions; the rest
                            * are decode-phase rows */
    int32_t *row_out; /* logit row of each row, -1: none */
    int32_t *out_src; /* rows whose logits are wanted, in order */
    float *xout;      /* deepseek2: [n_batch][n_embd] final hidden states of the wanted rows */
    int64_t *seq_cnt; /* [p.n_seq] rows per sequence (checks), then where runs start (forward_rows_mla) */

    /* activations, [n_batch][...] */
    float *x;      /* [n_batch][n_embd] residual stream */
    float *xn;     /* [n_batch][max(n_embd, ...)] normalised input */
    float *tmp;    /* [n_batch][n_embd] */
    float *q;      /* [n_batch][n_head * head_dim_k] */
    float *k;      /* [n_batch][n_head_kv * head_dim_k] (MLA: [n_batch][n_lora_kv + n_rot]) */
    float *v;      /* [n_batch][n_head_kv * head_dim_v] (MLA: [n_batch][n_lora_q]) */
    float *attn;   /* [n_batch][n_head * head_dim_v] */
    float *gate;   /* [n_batch][max ffn width] */
    float *up;     /* [n_batch][max ffn width] */
    float *rope;   /* [n_batch][n_rot] cos/sin pairs */
    void *scratch; /* matmul activation conversion */
    size_t scratch_bytes;

    /* per-thread attention scratch */
    float *att_scores; /* [n_threads][group][n_ctx], group: the queries attended together
                        * (fr_att_queries) */
    float *att_out;    /* [n_threads][group][head_dim_v] their outputs (dense models) */
    int32_t *att_runs; /* [n_batch + 1] first rows of the current batch's runs (dense models) */
    int64_t n_att_runs;
    char *att_q;       /* [n_threads][att_q_bytes]: att_qf_bytes of float queries, then with a quantized cache
                        * (dense models) the queries in its vec_dot_type, att_qq_row bytes each */
    size_t att_qf_bytes, att_qq_row;
    float *att_vtile;  /* [n_threads][att_vtile_floats]: FR_ATT_VTILE dequantized cache rows (quantized cache;
                        * dense: V rows, head_dim_v each; MLA: latent + rope rows) */
    size_t att_vtile_floats;
    float *att_v;      /* [n_threads][2 * max(head_dim_v, n_lora_kv + n_rot)] */
    size_t att_q_bytes;

    /* ---- deepseek2 ---- */
    double *rope_inv_freq; /* [n_rot / 2] radians per position, YaRN applied */
    /* prompt phase: the current layer's keys and values decompressed from the latent cache,
     * kv_type, K [n_head][n_ctx][head_dim_k], V [n_head][n_ctx][head_dim_v] */
    char *dk, *dv;
    int dec_type;            /* their type */
    size_t dk_row, dv_row;   /* bytes of one (head, position) row */
    float *lat;              /* [n_batch][n_lora_kv + n_rot] cache rows read back */
    float *dec_k, *dec_v;    /* legacy: dec_k [n_batch][n_head * (qk_nope + head_dim_v)] holds both;
                              * split: [n_batch][n_head * qk_nope] and [n_batch][n_head * head_dim_v] */
    /* decode phase (absorbed): per head [q_lat | q_pe] and the latent-space output */
    float *qabs;             /* [FR_MLA_DECODE_GROUP][n_head][n_lora_kv + n_rot] */
    float *olat;             /* [FR_MLA_DECODE_GROUP][n_head][n_lora_kv] */
    float *dscores;          /* [n_head][dscores_cap] decode attention weights (mla.c lays out several tokens) */
    int64_t dscores_cap;     /* floats per head: min(n_seq, FR_MLA_DECODE_GROUP) x n_ctx rounded up to 16 */
    /* MoE */
    float *router;           /* [n_batch][n_expert] */
    int32_t *sel;            /* [n_batch][n_expert_used] */
    float *selw;             /* [n_batch][n_expert_used] */
    float *moe;              /* [n_batch][n_embd] routed experts' sum */
    float *eg, *eu;          /* [n_batch * n_expert_used][n_ff_exp] routed gate/up rows, by expert */
    float *ey;               /* [n_batch * n_expert_used][n_embd] routed outputs, by expert */
    int32_t *ex_tok;         /* [n_batch * n_expert_used] token of each routed row */
    int32_t *slot;           /* [n_batch][n_expert_used] routed row of each choice */
    int32_t *ex_cnt, *ex_fill; /* [n_expert + 1] */
    void *moe_scratch;       /* activation conversions of the fused expert products */
    fr_matrix *mm_views;     /* [3 * (n_expert + 1)] per-expert weight views */
    fr_mm_job *mm_jobs;      /* [2 * (n_expert + 1)] fused products */
    fr_mm_job *mm_jobs_up;   /* [2 * (n_expert + 1)] up projections split off (mixed types) */
    float *route_tmp;        /* [n_threads][4 * n_expert] */
};

/* Queries that attend together to one head's keys and values, so that each K and V row is
 * read once for all of them: in the deepseek2 prompt phase fr_att_query_base(c) tokens of one
 * head (mla.c); in dense models the G query heads of a kv head for a run of max(1,
 * fr_att_query_base(c) / G) rows (context.c). The base is FR_ATT_QUERIES_MAX where a thread's
 * scores buffer (queries x n_ctx floats) stays within FR_ATT_SCORES_BYTES, down to
 * FR_ATT_QUERIES_MIN for long contexts. fr_att_queries: the most at once, which sizes the
 * per-thread buffers. (tinyllama Q4_0 pp512, 2 threads, perf samples of the attention kernels,
 * 16 -> 64: about 8,100-9,200 -> 7,400-7,500 against about 82,000 in the matrix products;
 * runs of 2 rows converted each K row to floats for 16 queries only, 8 rows for 64. Wall
 * time: tinyllama Q8_0 pp512 in 5 alternated pairs +7.4, 0, +0.6, -0.6, +0.4%, within the
 * machine's noise.) */
enum { FR_ATT_QUERIES_MIN = 16, FR_ATT_QUERIES_MAX = 64 };
#define FR_ATT_SCORES_BYTES ((int64_t)4 << 20)
/* MLA decode: the tokens of a batch whose W_UK and W_UV products share one read of the rows */
enum { FR_MLA_DECODE_GROUP = 8 };

static inline int64_t fr_att_query_base(const fr_context *c) {
    const int64_t fit = FR_ATT_SCORES_BYTES / (int64_t)sizeof(float) / c->p.n_ctx;
    return FR_MAX((int64_t)FR_ATT_QUERIES_MIN, FR_MIN((int64_t)FR_ATT_QUERIES_MAX, fit));
}

static inline int64_t fr_att_queries(const fr_context *c) {
    const fr_hparams *hp = &c->m->hp;
    const int64_t G = hp->n_head / (hp->n_head_kv > 0 ? hp->n_head_kv : 1);
    return FR_MAX(G, fr_att_query_base(c));
}

/* A KV cache type other than F16 and F32 (Q8_0): attention converts the queries to its
 * vec_dot_type (dense) and dequantizes its rows in tiles (att_vtile). */
static inline bool fr_kv_quantized(int kv_type) { return kv_type != FR_TYPE_F16 && kv_type != FR_TYPE_F32; }

/* Floats per thread of att_v: two rows of the widest attention vector. */
static inline int64_t fr_att_v_width(const fr_hparams *hp) {
    int64_t w = hp->head_dim_v;
    if (hp->arch == FR_ARCH_DEEPSEEK2) w = FR_MAX(w, FR_MAX(hp->head_dim_k, hp->n_lora_kv + hp->n_rot));
    return 2 * w;
}

/* Shared helpers (context.c). */
void fr_ctx_embed(fr_context *c, const int32_t *tokens, int64_t n);
/* out[t] = rmsnorm(in[t]) * w over `width` values, rows t < n with the given strides. */
void fr_ctx_rmsnorm(fr_context *c, const float *in, int64_t in_stride, const float *w, float *out,
                    int64_t out_stride, int64_t width, int64_t n);
/* Final norm and output head: logits row i from x row rows[i] (rows NULL: row i), i < n. */
void fr_ctx_output(fr_context *c, const float *x, const int32_t *rows, int64_t n, float *logits);
/* The residual step of n rows of width E, in parallel over rows: x[t] += d[t]; then, when w
 * is not NULL, xn[t] = rmsnorm(x[t]) * w (the next sublayer's input norm, while x[t] is in
 * cache). */
void fr_ctx_add_norm(fr_context *c, float *x, const float *d, const float *w, float *xn, int64_t E, int64_t n);
/* Attention weights of nq queries from their scores (row k at scores + k * stride): query k
 * sees positions [0, len0 + k / per_row) (per_row queries per cache row, whose positions are
 * consecutive); a softmax over those, rounded to F16 if round_f16 (the peer converts the
 * weights to an F16 cache's type for its P.V product; products of F16 values are exact, so
 * rounding here reproduces that step), and zeros up to n_pos, so that one weighted sum over
 * [0, n_pos) serves every query and adds only + 0 * v terms past each query's own positions. */
void fr_ctx_attn_weights(float *scores, int64_t stride, int64_t nq, int64_t per_row, int64_t len0, int64_t n_pos,
                         bool round_f16);

/* deepseek2: the cache rows of one layer of row t's sequence (row t at c->row_pos[t]) */
static inline char *fr_ds_row_cache(const fr_context *c, int64_t t, int64_t layer) {
    return c->k_mem + (size_t)c->row_seq[t] * c->k_seq_bytes + (size_t)layer * c->k_layer_bytes;
}

/* deepseek2.c: one forward pass of n <= n_batch rows, row t at position c->row_pos[t] of
 * sequence c->row_seq[t], laid out as c->n_prompt_rows says; leaves the final hidden states
 * in c->x (the output head is the caller's). The caller advances the sequences. */
void fr_deepseek2_forward(fr_context *c, const int32_t *tokens, int64_t n);
size_t fr_deepseek2_kv_bytes_per_token(const fr_hparams *hp, int kv_type);
fr_status fr_deepseek2_alloc(fr_context *c, fr_error *err);
void fr_deepseek2_free(fr_context *c);

/* mla.c: write one token's [latent | k_pe] (n_lora_kv + n_rot floats; the latent is
 * rewritten in place to the values cached) to its cache row. */
void fr_mla_store(fr_context *c, const fr_layer *L, float *kv, void *row, int thread);
/* mla.c: whether the F16 values h of one block (at->block_size of them) quantize to `want`
 * (the block of type `at` they came from), after replacing the values of the largest
 * magnitude by the nearest F16 neighbour (up to 4 steps either way) that makes them do so,
 * where the values alone do not; h is left as it was where no neighbour does. */
bool fr_mla_fit_f16_block(const fr_type_traits *at, const void *want, fr_f16 *h);
/* mla.c: attention of one layer for the rows [row0, row0 + n) of the pass whose q (c->q,
 * rope applied) and cache rows are in place; writes their c->attn rows. Prompt phase: n
 * consecutive tokens of one sequence (row row0's), the first at position row_pos[row0].
 * Decode phase: each row at its own c->row_pos and fr_ds_row_cache. */
void fr_mla_attn_prompt(fr_context *c, int64_t layer, int64_t row0, int64_t n);
void fr_mla_attn_decode(fr_context *c, int64_t layer, int64_t row0, int64_t n);

/* moe.c: out[t] = routed experts + shared experts of c->xn rows, for n tokens. */
void fr_moe_forward(fr_context *c, const fr_layer *L, int64_t n, float *out);

#endif

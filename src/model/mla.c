/* mla.c: DeepSeek's multi-head latent attention (MLA).
 *
 * Per token the model computes a latent c = rmsnorm(W_DKV x) * kv_a_norm (n_lora_kv values)
 * and one rope key k_pe shared by all heads (n_rot values). The KV cache holds only these:
 * n_lora_kv + n_rot values per token and layer (576 for V2/V3). Head h's key and value are
 *   k_h = [W_UK,h c | k_pe],  v_h = W_UV,h c
 * (W_UK,h: qk_nope x n_lora_kv, W_UV,h: head_dim_v x n_lora_kv), and its query is
 * q_h = [q_nope,h | rope(q_pe,h)]. Two ways to evaluate softmax(q.k * scale) v:
 *
 * prompt phase (decompressed): rebuild K and V of every cached position from the latent
 *   cache, round them to the cache type and attend as ordinary multi-head attention. This
 *   is the arithmetic of the peer engine, which caches decompressed K/V in F16.
 *   Costs one layer's K/V scratch (n_head x n_ctx x (head_dim_k + head_dim_v), F16) and
 *   rebuilding every cached position once per prompt chunk.
 * decode phase (absorbed, DeepSeek's attn_impl = "absorb"):
 *   q_lat,h = W_UK,h^T q_nope,h;  score_h(p) = (q_lat,h . c_p + q_pe,h . k_pe,p) * scale
 *   o_h = W_UV,h (sum_p softmax(score_h)(p) c_p)
 *   which reads only the latent cache: about 9x fewer bytes per position than full K/V.
 *   W_UK and W_UV products run in float32 on the file's own rows (dequantized, never
 *   rounded activations); with an F16 cache, q and the attention weights are rounded to F16
 *   as the peer rounds them. What absorption cannot reproduce is the peer's F16 rounding of
 *   each decompressed key and value: decode rows differ from it by that (about 4e-4 RMS in
 *   the attention output), where the prompt phase matches it bit for bit.
 *
 * Both read every position, the current chunk's included, back from the cache, so a token's
 * result never depends on how the prompt was split into chunks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context_impl.h"

/* ---- binding: the kdec / kabs / vdec views ---- */

static fr_head_rows rows_of(const fr_matrix *w, int64_t n_head, int64_t n_rows, int64_t head_stride, int64_t off) {
    fr_head_rows r = {*w, n_head, n_rows, head_stride, off};
    return r;
}

/* W_UK of a split file, transposed to kdec rows for the prompt phase: dst(h, j)[i] =
 * src(h, i)[j]. Float types keep theirs; quantized ones become F16 (a transpose needs the
 * dequantized values, which F16 keeps to within the quantization error). */
static fr_status transpose_rows(const fr_head_rows *src, fr_head_rows *dst, void **owned, int64_t layer, fr_error *err) {
    int64_t H = src->n_head, R = src->n_rows, C = src->w.n_in; /* per head: R rows of C */
    int t = src->w.type == FR_TYPE_F32 || src->w.type == FR_TYPE_BF16 ? src->w.type : FR_TYPE_F16;
    const fr_type_traits *st = fr_type_traits_get(src->w.type), *dt = fr_type_traits_get(t);
    size_t rb;
    if (!st || !st->to_float || !fr_row_size(t, R, &rb))
        return fr_fail(err, FR_ERR_UNSUPPORTED, "layer %lld: attn_k_b: cannot transpose type %s", (long long)layer,
                       fr_type_name(src->w.type));
    size_t total = rb * (size_t)C * (size_t)H;
    char *buf = malloc(total ? total : 1);
    float *tmp = malloc(sizeof(float) * (size_t)(R * C + R));
    if (!buf || !tmp) {
        free(buf);
        free(tmp);
        return fr_fail(err, FR_ERR_NOMEM, "layer %lld: attn_k_b: out of memory", (long long)layer);
    }
    float *col = tmp + R * C;
    for (int64_t h = 0; h < H; h++) {
        for (int64_t i = 0; i < R; i++) st->to_float(fr_head_row(src, h, i), tmp + i * C, C);
        for (int64_t j = 0; j < C; j++) {
            for (int64_t i = 0; i < R; i++) col[i] = tmp[i * C + j];
            dt->from_float(col, buf + ((size_t)h * (size_t)C + (size_t)j) * rb, R);
        }
    }
    free(tmp);
    fr_matrix m = {t, R, C * H, rb, buf, NULL, 0};
    *dst = rows_of(&m, H, C, C, 0);
    *owned = buf;
    return FR_OK;
}

fr_status fr_mla_bind(const fr_hparams *hp, fr_layer *L, int64_t layer, fr_error *err) {
    int64_t H = hp->n_head, nope = hp->qk_nope, dv = hp->head_dim_v, r = hp->n_lora_kv;
    bool legacy = L->wkv_b.src != NULL, split = L->wk_b.src && L->wv_b.src;
    if (!legacy && !split)
        return fr_fail(err, FR_ERR_FORMAT,
                       "layer %lld: MLA needs 'blk.%lld.attn_kv_b.weight' (legacy layout) or both "
                       "'blk.%lld.attn_k_b.weight' and 'blk.%lld.attn_v_b.weight' (split layout)",
                       (long long)layer, (long long)layer, (long long)layer, (long long)layer);
    if (legacy) {
        L->kdec = rows_of(&L->wkv_b.m, H, nope, nope + dv, 0);
        L->vdec = rows_of(&L->wkv_b.m, H, dv, nope + dv, nope);
    }
    if (split) {
        L->kabs = rows_of(&L->wk_b.m, H, r, r, 0);
        L->vdec = rows_of(&L->wv_b.m, H, dv, dv, 0);
    }
    if (!legacy) return transpose_rows(&L->kabs, &L->kdec, &L->mla_owned, layer, err);
    return FR_OK;
}

/* ---- the latent cache ----
 *
 * The peer engine never keeps the latent: it multiplies W_UK and W_UV by it at once, and a
 * matrix product first rounds its input to the weights' activation type (Q8_0 blocks for
 * Q8_0/Q4_0/Q5_0 weights, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants, F16 for F16). So with
 * quantized W_UK/W_UV the latent every key and value is built from is Q8(c), not c.
 * We cache exactly that: the latent is rounded to the activation type first, and the cache
 * (F16 by default) holds those values. Both phases then read the same latent, the one the
 * peer's keys and values come from, and the prompt phase re-quantizes it to the very same
 * blocks, making its decompression bit-identical to the peer's. Q8 values q * d (d an F16
 * scale) fit an F16 to within 2^-11, which re-quantizes to the same q; the block maximum
 * (|q| = 127) must also give back the same scale, and where F16(127 d) does not, a
 * neighbouring F16 value that does is stored (the rare block where none exists keeps the
 * nearest, a 2^-10 relative change of one block's scale). Q8_K's F32 scale cannot be held
 * exactly: those blocks keep their q and a scale within 2^-11. */

static bool same_block(const fr_type_traits *at, const float *v, const void *want, size_t bytes, char *tmp) {
    at->from_float(v, tmp, at->block_size);
    return memcmp(tmp, want, bytes) == 0;
}

bool fr_mla_fit_f16_block(const fr_type_traits *at, const void *want, fr_f16 *h) {
    const fr_type_traits *f16 = fr_type_traits_get(FR_TYPE_F16);
    const int64_t bs = at->block_size;
    float v[256];
    char tmp[512];
    int32_t top[256]; /* the block's values of the largest magnitude, by index */
    if (at->type_size > sizeof tmp || bs > 256) return false;
    f16->to_float(h, v, bs);
    if (same_block(at, v, want, at->type_size, tmp)) return true;
    /* (with Q8_K's F32 scale, every block comes here and none is fixed: the search must be
     * cheap, so the block is converted and its largest values found once) */
    float amax = 0;
    for (int64_t i = 0; i < bs; i++)
        amax = fabsf(v[i]) > amax ? fabsf(v[i]) : amax;
    int n_top = 0;
    for (int64_t i = 0; i < bs; i++)
        if (fabsf(v[i]) == amax) top[n_top++] = (int32_t)i;
    const fr_f16 hm = fr_f32_to_f16(amax);
    for (int k = 1; k <= 4; k++) {
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            const float cand = fr_f16_to_f32((fr_f16)(hm + sgn * k));
            for (int i = 0; i < n_top; i++)
                v[top[i]] = v[top[i]] < 0 ? -cand : cand;
            if (!same_block(at, v, want, at->type_size, tmp)) continue;
            for (int i = 0; i < n_top; i++)
                h[top[i]] = fr_f32_to_f16(v[top[i]]);
            return true;
        }
    }
    return false;
}

void fr_mla_store(fr_context *c, const fr_layer *L, float *kv, void *row, int thread) {
    const fr_hparams *hp = &c->m->hp;
    int64_t r = hp->n_lora_kv, w = r + hp->n_rot;
    const fr_type_traits *kvt = fr_type_traits_get(c->p.kv_type);
    const fr_type_traits *at = fr_type_traits_get(fr_type_traits_get(L->vdec.w.type)->vec_dot_type);
    if (!at->is_quantized) {
        kvt->from_float(kv, row, w);
        return;
    }
    char *blocks = c->att_q + (size_t)thread * c->att_q_bytes; /* r values of `at`: <= 4 r bytes */
    at->from_float(kv, blocks, r);
    at->to_float(blocks, kv, r); /* exact F32 values q * d */
    kvt->from_float(kv, row, w);
    if (c->p.kv_type != FR_TYPE_F16) return; /* F32 holds them exactly; Q8_0 re-derives them */
    /* F16: make every block re-quantize to itself */
    for (int64_t b0 = 0; b0 < r; b0 += at->block_size)
        fr_mla_fit_f16_block(at, blocks + (size_t)(b0 / at->block_size) * at->type_size, (fr_f16 *)row + b0);
}

/* ---- prompt phase: decompress, then ordinary attention ---- */

typedef struct {
    fr_context *c;
    int64_t layer, row0, n, pos0, p0; /* rows [row0, row0 + n) of the pass at positions pos0..;
                                       * p0: first position of the decompressed block */
    const char *cache;                /* their sequence's cache rows of the layer */
} mla_job;

static void read_latent_task(void *ctx, int64_t i, int thread) {
    mla_job *j = ctx;
    const fr_hparams *hp = &j->c->m->hp;
    int64_t w = hp->n_lora_kv + hp->n_rot;
    fr_type_traits_get(j->c->p.kv_type)->to_float(j->cache + (size_t)(j->p0 + i) * j->c->k_row_bytes, j->c->lat + i * w,
                                                  w);
}

/* decompressed block rows -> dec_type rows of dk (K [h][pos]) and dv (V [h][pos]) */
static void store_kv_task(void *ctx, int64_t i, int thread) {
    mla_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    const fr_type_traits *kvt = fr_type_traits_get(c->dec_type);
    int64_t H = hp->n_head, nope = hp->qk_nope, dk = hp->head_dim_k, dv = hp->head_dim_v;
    int64_t pos = j->p0 + i;
    float *krow = c->att_v + (size_t)thread * (size_t)fr_att_v_width(hp);
    const float *pe = c->lat + i * (hp->n_lora_kv + hp->n_rot) + hp->n_lora_kv;
    bool legacy = c->m->w.layers[j->layer].wkv_b.src != NULL;
    for (int64_t h = 0; h < H; h++) {
        /* legacy rows of attn_kv_b: per head [K_nope | V]; split: K_nope and V apart */
        const float *kn = legacy ? c->dec_k + i * H * (nope + dv) + h * (nope + dv) : c->dec_k + i * H * nope + h * nope;
        const float *vv = legacy ? kn + nope : c->dec_v + i * H * dv + h * dv;
        memcpy(krow, kn, sizeof(float) * (size_t)nope);
        memcpy(krow + nope, pe, sizeof(float) * (size_t)hp->n_rot);
        kvt->from_float(krow, c->dk + ((size_t)h * (size_t)c->p.n_ctx + (size_t)pos) * c->dk_row, dk);
        kvt->from_float(vv, c->dv + ((size_t)h * (size_t)c->p.n_ctx + (size_t)pos) * c->dv_row, dv);
    }
}

/* One head and a group of up to fr_att_query_base(c) consecutive query tokens of the chunk:
 * scores against the head's decompressed keys [0, pos of the group's last token], weights
 * (fr_ctx_attn_weights: a softmax per token over its own positions), then the weighted sum
 * of V, with the kernels of the absorbed decode (mla_attn.c), tokens in place of heads. Each K and
 * V row is read once for the whole group instead of once per token. A token's result does not
 * depend on its group: each (query, key) dot product is its own chain of FMAs in every
 * kernel, and its V sum is the same chain followed by + 0 * v terms, which leave it
 * unchanged (for finite V). With an F16 cache, q and the weights are rounded to F16 as the
 * peer rounds them for its F16 products, and the scores are summed in the order of its F16 dot product (fr_attn_scores_dot): bit for bit its
 * K.q. (Its P.V sums over positions in another order; ours is one FMA chain per element.) */
static void prompt_attn_task(void *ctx, int64_t task, int thread) {
    mla_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    int64_t H = hp->n_head, dk = hp->head_dim_k, dv = hp->head_dim_v, stride = c->p.n_ctx;
    int64_t nq = fr_att_query_base(c), n_groups = (j->n + nq - 1) / nq;
    int64_t h = task / n_groups, t0 = task % n_groups * nq;
    int64_t nt = FR_MIN(nq, j->n - t0);
    int64_t n_pos = j->pos0 + t0 + nt; /* the last token's position + 1 */
    float *qg = (float *)(c->att_q + (size_t)thread * c->att_q_bytes);
    float *scores = c->att_scores + (size_t)thread * (size_t)fr_att_queries(c) * (size_t)stride;
    float *tmp = c->att_v + (size_t)thread * (size_t)fr_att_v_width(hp);
    bool f16 = c->dec_type == FR_TYPE_F16;
    for (int64_t k = 0; k < nt; k++)
        memcpy(qg + k * dk, c->q + (j->row0 + t0 + k) * H * dk + h * dk, sizeof(float) * (size_t)dk);
    if (f16) fr_round_f16(qg, nt * dk);
    const char *kb = c->dk + (size_t)h * (size_t)stride * c->dk_row;
    const char *vb = c->dv + (size_t)h * (size_t)stride * c->dv_row;
    fr_attn_scores_dot(c->dec_type, kb, c->dk_row, 0, n_pos, qg, nt, dk, hp->attn_scale, scores, stride, tmp);
    fr_ctx_attn_weights(scores, stride, nt, 1, j->pos0 + t0 + 1, n_pos, f16);
    fr_mla_accum(c->dec_type, vb, c->dv_row, n_pos, scores, stride, 0, nt, 0, dv,
                 c->attn + (j->row0 + t0) * H * dv + h * dv, H * dv, tmp);
}

void fr_mla_attn_prompt(fr_context *c, int64_t layer, int64_t row0, int64_t n) {
    const fr_hparams *hp = &c->m->hp;
    const fr_layer *L = &c->m->w.layers[layer];
    int64_t H = hp->n_head, w = hp->n_lora_kv + hp->n_rot;
    int64_t pos0 = c->row_pos[row0], end = pos0 + n; /* positions [0, end) are cached */
    mla_job j = {c, layer, row0, n, pos0, 0, fr_ds_row_cache(c, row0, layer)};
    /* Decompress in blocks of n_batch positions. Every position is rebuilt from the cache
     * for every chunk: K_nope and V of a position are the same whatever the chunking. */
    for (int64_t p0 = 0; p0 < end; p0 += c->p.n_batch) {
        int64_t m = FR_MIN(c->p.n_batch, end - p0);
        j.p0 = p0;
        fr_pool_run(c->pool, m, read_latent_task, &j);
        if (L->wkv_b.src) { /* legacy: one product with attn_kv_b gives K_nope and V, head-major */
            fr_matmul(c->pool, &L->wkv_b.m, c->lat, w, m, c->dec_k, H * (hp->qk_nope + hp->head_dim_v), NULL, c->scratch);
        } else { /* split: the transposed W_UK copy and attn_v_b are plain row-major matrices */
            fr_matmul(c->pool, &L->kdec.w, c->lat, w, m, c->dec_k, H * hp->qk_nope, NULL, c->scratch);
            fr_matmul(c->pool, &L->vdec.w, c->lat, w, m, c->dec_v, H * hp->head_dim_v, NULL, c->scratch);
        }
        fr_pool_run(c->pool, m, store_kv_task, &j);
    }
    const int64_t nq = fr_att_query_base(c);
    fr_pool_run(c->pool, (n + nq - 1) / nq * H, prompt_attn_task, &j);
}

/* ---- decode phase: absorbed ---- */

/* one token's attention over its sequence's cache (scores, softmax, accumulation) */
typedef struct {
    int64_t n_pos;        /* positions [0, n_pos) */
    const char *rows;     /* its sequence's cache rows of this layer */
    int64_t score_rows;   /* positions per scores task */
    const float *qabs;    /* its absorbed queries, [n_head][n_lora_kv + n_rot] */
    float *olat;          /* its latent outputs, [n_head][n_lora_kv] */
    float *scores;        /* its attention weights, [n_head][stride] */
    int64_t score_task0;  /* its first scores task */
} abs_tok;

/* the attention of a few tokens of a decode group, each as abs_tok, in one pool run per step
 * (scores, softmax, accumulation) rather than one per token and step: tasks are (token, range)
 * pairs, and each token's values come from the same calls, with the same ranges, as alone */
typedef struct {
    fr_context *c;
    int n_tok;
    int64_t stride; /* floats between a token's heads' score rows (>= each token's n_pos) */
    abs_tok tok[FR_MLA_DECODE_GROUP];
    int64_t n_score_tasks;
} abs_job;

/* W_UK and W_UV for a group of tokens: a task takes head_block heads and, head by head, every
 * token of the group, so that a head's rows are read from memory once for all of them */
typedef struct {
    fr_context *c;
    int64_t layer;
    int64_t tok0, n_tok; /* the group: batch rows [tok0, tok0 + n_tok) */
    int64_t head_block;  /* heads per task */
} abs_group_job;

enum { SCORE_BLOCK = 64, ACC_DIMS = 64 };

/* Positions per scores task: whole blocks of SCORE_BLOCK, about 8 tasks per thread. The
 * kernels prefetch a task's next block while they multiply one (mla_rows.h), so a task of
 * several blocks streams its rows; the tasks stay many enough to balance the threads. Every
 * score is computed alike whatever the split (thread counts change the split, not results). */
static int64_t score_rows_per_task(int64_t n_pos, int n_threads) {
    int64_t blocks = (n_pos + SCORE_BLOCK - 1) / SCORE_BLOCK, target = 8 * (int64_t)FR_MAX(n_threads, 1);
    return SCORE_BLOCK * FR_MAX(1, blocks / target);
}

/* scores of every head of one token for one range of its positions */
static void abs_scores_task(void *ctx, int64_t task, int thread) {
    abs_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    int k = j->n_tok - 1;
    while (j->tok[k].score_task0 > task)
        k--;
    const abs_tok *tk = &j->tok[k];
    int64_t p0 = (task - tk->score_task0) * tk->score_rows, p1 = FR_MIN(p0 + tk->score_rows, tk->n_pos);
    if (fr_kv_quantized(c->p.kv_type))
        fr_attn_scores_deq(c->p.kv_type, tk->rows, c->k_row_bytes, p0, p1, tk->qabs, hp->n_head,
                           hp->n_lora_kv + hp->n_rot, hp->attn_scale, tk->scores, j->stride,
                           c->att_vtile + (size_t)thread * c->att_vtile_floats);
    else
        fr_mla_scores(c->p.kv_type, tk->rows, c->k_row_bytes, p0, p1, tk->qabs, hp->n_head, hp->n_lora_kv + hp->n_rot,
                      hp->attn_scale, tk->scores, j->stride, c->att_v + (size_t)thread * (size_t)fr_att_v_width(hp));
}

/* one head of one token (task = token * n_head + head) */
static void abs_softmax_task(void *ctx, int64_t task, int thread) {
    abs_job *j = ctx;
    const int64_t H = j->c->m->hp.n_head;
    const abs_tok *tk = &j->tok[task / H];
    /* o_lat is linear in the weights, so the peer's F16 rounding of them is reproduced here */
    fr_ctx_attn_weights(tk->scores + (task % H) * j->stride, j->stride, 1, 1, tk->n_pos, tk->n_pos,
                        j->c->dec_type == FR_TYPE_F16);
}

/* o_lat[h][d] = sum_p a[h][p] c_p[d] for every head of one token and one slice of the latent
 * (task = token * acc_tasks + slice): each task reads its slice of every cached row of the
 * token's sequence once, for all the heads */
static void abs_accum_task(void *ctx, int64_t task, int thread) {
    abs_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    int64_t r = hp->n_lora_kv, acc_tasks = (r + ACC_DIMS - 1) / ACC_DIMS, d0 = (task % acc_tasks) * ACC_DIMS;
    const abs_tok *tk = &j->tok[task / acc_tasks];
    if (fr_kv_quantized(c->p.kv_type))
        fr_attn_accum_deq(c->p.kv_type, tk->rows, c->k_row_bytes, tk->n_pos, tk->scores, j->stride, hp->n_head, d0,
                          FR_MIN(d0 + ACC_DIMS, r), tk->olat, r, c->att_vtile + (size_t)thread * c->att_vtile_floats);
    else
        fr_mla_accum(c->p.kv_type, tk->rows, c->k_row_bytes, tk->n_pos, tk->scores, j->stride, 0, hp->n_head, d0,
                     FR_MIN(d0 + ACC_DIMS, r), tk->olat, r, c->att_v + (size_t)thread * (size_t)fr_att_v_width(hp));
}

/* one token's whole attention (task = token): its scores tasks, softmax and accumulation in
 * turn, the same calls as the three runs above make for it */
static void abs_token_task(void *ctx, int64_t k, int thread) {
    abs_job *j = ctx;
    const fr_hparams *hp = &j->c->m->hp;
    const abs_tok *tk = &j->tok[k];
    const int64_t acc_tasks = (hp->n_lora_kv + ACC_DIMS - 1) / ACC_DIMS;
    const int64_t n_scores = (tk->n_pos + tk->score_rows - 1) / tk->score_rows;
    for (int64_t t = 0; t < n_scores; t++)
        abs_scores_task(ctx, tk->score_task0 + t, thread);
    for (int64_t h = 0; h < hp->n_head; h++)
        abs_softmax_task(ctx, k * hp->n_head + h, thread);
    for (int64_t d = 0; d < acc_tasks; d++)
        abs_accum_task(ctx, k * acc_tasks + d, thread);
}

/* q_lat,h = W_UK,h^T q_nope,h in float32 on the file's own rows (no rounding of q): as a
 * sum of W_UK rows (legacy) or dot products with W_UK^T rows (split). A task takes
 * j->head_block heads, each for every token of the group at once (fr_wrow_*_rows_multi: each
 * block of the head's rows made floats once for up to FR_WROW_MAX_T tokens), and prefetches
 * the next head's rows meanwhile. */
static void qlat_task(void *ctx, int64_t task, int thread) {
    abs_group_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    const fr_layer *L = &c->m->w.layers[j->layer];
    int64_t r = hp->n_lora_kv, w = r + hp->n_rot, nope = hp->qk_nope;
    int64_t h0 = task * j->head_block, h1 = FR_MIN(h0 + j->head_block, hp->n_head);
    float *row = c->att_v + (size_t)thread * (size_t)fr_att_v_width(hp);
    const fr_head_rows *W = L->kabs.w.data ? &L->kabs : &L->kdec;
    for (int64_t h = h0; h < h1; h++) {
        const float *qns[FR_MLA_DECODE_GROUP];
        float *qls[FR_MLA_DECODE_GROUP];
        for (int64_t g = 0; g < j->n_tok; g++) {
            float *qn = c->q + (j->tok0 + g) * hp->n_head * hp->head_dim_k + h * hp->head_dim_k;
            /* with F16 keys the peer rounds q to F16 for q.k; both parts of the absorbed score
             * are linear in q, so this reproduces it exactly */
            if (c->dec_type == FR_TYPE_F16) fr_round_f16(qn, hp->head_dim_k);
            qns[g] = qn;
            qls[g] = c->qabs + (g * hp->n_head + h) * w;
            memcpy(qls[g] + r, qn + nope, sizeof(float) * (size_t)hp->n_rot); /* q_pe, rope applied */
        }
        const void *next = h + 1 < h1 ? fr_head_row(W, h + 1, 0) : NULL;
        if (W == &L->kabs) {
            fr_wrow_dot_rows_multi(W->w.type, fr_head_row(W, h, 0), W->w.row_bytes, r, qns, (int)j->n_tok, nope, qls,
                                   next, row);
        } else {
            for (int64_t g = 0; g < j->n_tok; g++)
                for (int64_t i = 0; i < r; i++)
                    qls[g][i] = 0.0f;
            fr_wrow_axpy_rows_multi(W->w.type, fr_head_row(W, h, 0), W->w.row_bytes, nope, qns, qls, (int)j->n_tok, r,
                                    next, row);
        }
    }
}

/* o_h = W_UV,h o_lat,h in float32 on the file's own rows, j->head_block heads per task, each
 * for every token of the group at once (as qlat_task) */
static void vout_task(void *ctx, int64_t task, int thread) {
    abs_group_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    const fr_layer *L = &c->m->w.layers[j->layer];
    int64_t r = hp->n_lora_kv, dv = hp->head_dim_v;
    int64_t h0 = task * j->head_block, h1 = FR_MIN(h0 + j->head_block, hp->n_head);
    float *row = c->att_v + (size_t)thread * (size_t)fr_att_v_width(hp);
    for (int64_t h = h0; h < h1; h++) {
        const float *ols[FR_MLA_DECODE_GROUP];
        float *os[FR_MLA_DECODE_GROUP];
        for (int64_t g = 0; g < j->n_tok; g++) {
            ols[g] = c->olat + (g * hp->n_head + h) * r;
            os[g] = c->attn + (j->tok0 + g) * hp->n_head * dv + h * dv;
        }
        const void *next = h + 1 < h1 ? fr_head_row(&L->vdec, h + 1, 0) : NULL;
        fr_wrow_dot_rows_multi(L->vdec.w.type, fr_head_row(&L->vdec, h, 0), L->vdec.w.row_bytes, dv, ols, (int)j->n_tok,
                               r, os, next, row);
    }
}

/* Decode: the rows [row0, row0 + n) in groups of up to FR_MLA_DECODE_GROUP, W_UK for the whole
 * group, then each token's attention over its own sequence, then W_UV for the group. Each
 * token's values are computed by the same calls whatever the group (batch invariance). */
void fr_mla_attn_decode(fr_context *c, int64_t layer, int64_t row0, int64_t n) {
    const fr_hparams *hp = &c->m->hp;
    int64_t H = hp->n_head, r = hp->n_lora_kv, w = r + hp->n_rot;
    /* two tasks per thread: a thread's heads come in runs, each head prefetching the next */
    int64_t head_block = FR_MAX(1, H / (2 * (int64_t)c->p.n_threads));
    int64_t head_tasks = (H + head_block - 1) / head_block;
    for (int64_t t0 = row0; t0 < row0 + n; t0 += FR_MLA_DECODE_GROUP) {
        abs_group_job gj = {c, layer, t0, FR_MIN(FR_MLA_DECODE_GROUP, row0 + n - t0), head_block};
        fr_pool_run(c->pool, head_tasks, qlat_task, &gj);
        for (int64_t g = 0; g < gj.n_tok;) {
            /* the next tokens whose score rows fit c->dscores side by side, each head's row
             * rounded up to whole cache lines: up to min(n_seq, FR_MLA_DECODE_GROUP) of them
             * (c->dscores_cap). A decode step of 4 sequences then takes one hand-off per layer
             * here, not 12 (one token's score rows fitted before): DeepSeek-V2-Lite Q4_0
             * --seqs 4, 2 threads, on the Intel Xeon of the 60th session, this part (timed
             * by a temporary clock around it) 6.0 -> 4.6 ms of a 124 ms step */
            abs_job j = {.c = c};
            for (; g < gj.n_tok; g++) {
                const int64_t n_pos = c->row_pos[t0 + g] + 1;
                const int64_t stride = FR_MAX(j.stride, (n_pos + 15) / 16 * 16);
                if (j.n_tok > 0 && (j.n_tok + 1) * stride > c->dscores_cap) break;
                j.stride = stride;
                j.tok[j.n_tok++] = (abs_tok){n_pos,
                                             fr_ds_row_cache(c, t0 + g, layer),
                                             score_rows_per_task(n_pos, c->p.n_threads),
                                             c->qabs + g * H * w,
                                             c->olat + g * H * r,
                                             NULL,
                                             0};
            }
            for (int k = 0; k < j.n_tok; k++) {
                abs_tok *tk = &j.tok[k];
                tk->scores = c->dscores + k * H * j.stride;
                tk->score_task0 = j.n_score_tasks;
                j.n_score_tasks += (tk->n_pos + tk->score_rows - 1) / tk->score_rows;
            }
            /* a task per token where the tokens share the threads evenly: one hand-off
             * instead of three (deepseek-v3-mini Q4_K_M --seqs 4 -n 64, 2 threads, alternated:
             * 131.6/144.3/159.9 -> 137.6/159.6/170.2 t/s) */
            const int nt = c->p.n_threads;
            if (j.n_tok % nt == 0 || j.n_tok >= 4 * nt) {
                fr_pool_run(c->pool, j.n_tok, abs_token_task, &j);
                continue;
            }
            fr_pool_run(c->pool, j.n_score_tasks, abs_scores_task, &j);
            fr_pool_run(c->pool, j.n_tok * H, abs_softmax_task, &j);
            fr_pool_run(c->pool, j.n_tok * ((r + ACC_DIMS - 1) / ACC_DIMS), abs_accum_task, &j);
        }
        fr_pool_run(c->pool, head_tasks, vout_task, &gj);
    }
}

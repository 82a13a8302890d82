/* deepseek2.c: the forward pass of DeepSeek-V2, V2-Lite, V2.5, V3 and R1 (GGUF architecture
 * "deepseek2"), after DeepSeek's reference inference/model.py.
 *
 * Per layer, for n tokens at positions p0 .. p0+n-1:
 *   xn = rmsnorm(x) * attn_norm
 *   q  = W_q xn, or with q LoRA W_qb (rmsnorm(W_qa xn) * q_a_norm)    [n_head][qk_nope | qk_rope]
 *   [c | k_pe] = W_kv_a xn;  c = rmsnorm(c) * kv_a_norm                 latent, shared rope key
 *   rope(q_pe), rope(k_pe) with DeepSeek's pairing (2i, 2i+1), YaRN frequencies if declared
 *   cache row = [c | k_pe]; attention (mla.c) by phase; x += W_o attn
 *   xn = rmsnorm(x) * ffn_norm
 *   x += dense SwiGLU FFN (layers below leading_dense_block_count) or MoE (moe.c)
 * then the output norm and head. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context_impl.h"

size_t fr_deepseek2_kv_bytes_per_token(const fr_hparams *hp, int kv_type) {
    size_t rb = 0;
    fr_row_size(kv_type, hp->n_lora_kv + hp->n_rot, &rb);
    return rb * (size_t)hp->n_layer;
}

static void *falloc(size_t n, bool *ok) {
    void *p = NULL;
    if (!*ok) return NULL;
    size_t bytes;
    if (!ck_mul_size(n ? n : 1, sizeof(float), &bytes)) {
        *ok = false;
        return NULL;
    }
    p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) *ok = false;
    return p;
}

fr_status fr_deepseek2_alloc(fr_context *c, fr_error *err) {
    const fr_hparams *hp = &c->m->hp;
    size_t nb = (size_t)c->p.n_batch, H = (size_t)hp->n_head, ctx = (size_t)c->p.n_ctx;
    size_t w = (size_t)(hp->n_lora_kv + hp->n_rot);
    bool ok = true;
    c->rope_inv_freq = calloc((size_t)(hp->n_rot / 2 + 1), sizeof(double));
    if (!c->rope_inv_freq) ok = false;
    else fr_rope_inv_freq(hp, c->rope_inv_freq);
    /* prompt-phase scratch: one layer's decompressed K and V for the whole context */
    /* keys and values in F16 as the peer caches them (F32 with an F32 cache) */
    c->dec_type = c->p.kv_type == FR_TYPE_F32 ? FR_TYPE_F32 : FR_TYPE_F16;
    fr_row_size(c->dec_type, hp->head_dim_k, &c->dk_row);
    fr_row_size(c->dec_type, hp->head_dim_v, &c->dv_row);
    size_t kb = 0, vb = 0;
    ok = ok && ck_mul_size(c->dk_row, H * ctx, &kb) && ck_mul_size(c->dv_row, H * ctx, &vb);
    if (ok) {
        c->dk = malloc(kb ? kb : 1);
        c->dv = malloc(vb ? vb : 1);
        ok = c->dk && c->dv;
    }
    c->lat = falloc(nb * w, &ok);
    c->dec_k = falloc(nb * H * (size_t)(hp->qk_nope + hp->head_dim_v), &ok); /* legacy: K_nope and V */
    c->dec_v = falloc(nb * H * (size_t)hp->head_dim_v, &ok);
    c->qabs = falloc(FR_MLA_DECODE_GROUP * H * w, &ok);
    c->olat = falloc(FR_MLA_DECODE_GROUP * H * (size_t)hp->n_lora_kv, &ok);
    /* score rows of a decode group's tokens side by side (mla.c), each head's row rounded up
     * to whole cache lines: as many tokens as there are sequences, up to a group */
    const int64_t score_tokens = FR_MAX(1, FR_MIN((int64_t)FR_MLA_DECODE_GROUP, (int64_t)c->p.n_seq));
    c->dscores_cap = score_tokens * ((((int64_t)ctx + 15) / 16) * 16);
    c->dscores = falloc(H * (size_t)c->dscores_cap, &ok);
    if (hp->n_expert > 0) {
        size_t E = (size_t)hp->n_expert, K = (size_t)hp->n_expert_used, D = (size_t)hp->n_embd;
        c->router = falloc(nb * E, &ok);
        c->sel = (int32_t *)falloc(nb * K, &ok);
        c->selw = falloc(nb * K, &ok);
        size_t F = (size_t)hp->n_ff_exp, FS = F * (size_t)hp->n_expert_shared;
        c->moe = falloc(nb * D, &ok);
        c->eg = falloc(nb * K * F, &ok);
        c->eu = falloc(nb * K * F, &ok);
        c->ey = falloc(nb * K * D, &ok);
        c->ex_tok = (int32_t *)falloc(nb * K, &ok);
        c->slot = (int32_t *)falloc(nb * K, &ok);
        c->ex_cnt = (int32_t *)falloc(E + 1, &ok);
        c->ex_fill = (int32_t *)falloc(E + 1, &ok);
        c->route_tmp = falloc((size_t)c->p.n_threads * 4 * E, &ok);
        /* conversions: every routed and shared row, as fr_matmul's largest need per token for
         * any type of the row lengths met (fr_matmul_multi's jobs ask no more), plus padding */
        size_t row = fr_matmul_scratch_row_bound((int64_t)D);
        row = FR_MAX(row, fr_matmul_scratch_row_bound((int64_t)F));
        if (FS > 0) row = FR_MAX(row, fr_matmul_scratch_row_bound((int64_t)FS));
        size_t ms = 2 * (nb * K + nb) * (row + 64); /* gate and up may need one each */
        c->moe_scratch = ok ? aligned_alloc(64, (ms + 63) & ~(size_t)63) : NULL;
        if (!c->moe_scratch) ok = false;
        c->mm_views = ok ? calloc(3 * (E + 1), sizeof *c->mm_views) : NULL;
        c->mm_jobs = ok ? calloc(2 * (E + 1), sizeof *c->mm_jobs) : NULL;
        c->mm_jobs_up = ok ? calloc(2 * (E + 1), sizeof *c->mm_jobs_up) : NULL;
        if (!c->mm_views || !c->mm_jobs || !c->mm_jobs_up) ok = false;
    }
    if (!ok)
        return fr_fail(err, FR_ERR_NOMEM, "context: cannot allocate the MLA/MoE buffers for %lld positions",
                       (long long)c->p.n_ctx);
    return FR_OK;
}

void fr_deepseek2_free(fr_context *c) {
    free(c->rope_inv_freq);
    free(c->dk);
    free(c->dv);
    free(c->lat);
    free(c->dec_k);
    free(c->dec_v);
    free(c->qabs);
    free(c->olat);
    free(c->dscores);
    free(c->router);
    free(c->sel);
    free(c->selw);
    free(c->moe);
    free(c->eg);
    free(c->eu);
    free(c->ey);
    free(c->ex_tok);
    free(c->slot);
    free(c->ex_cnt);
    free(c->ex_fill);
    free(c->moe_scratch);
    free(c->mm_views);
    free(c->mm_jobs);
    free(c->mm_jobs_up);
    free(c->route_tmp);
}

typedef struct {
    fr_context *c;
    int64_t layer;
} ds_job;

static void rope_table_task(void *ctx, int64_t t, int thread) {
    ds_job *j = ctx;
    const fr_hparams *hp = &j->c->m->hp;
    float *cs = j->c->rope + t * hp->n_rot;
    double pos = (double)j->c->row_pos[t];
    for (int64_t i = 0; i < hp->n_rot / 2; i++) {
        double theta = pos * j->c->rope_inv_freq[i];
        cs[2 * i] = (float)cos(theta);
        cs[2 * i + 1] = (float)sin(theta);
    }
}

/* per token: normalise the latent, rope q_pe and k_pe, write [c | k_pe] to the cache */
static void latent_store_task(void *ctx, int64_t t, int thread) {
    ds_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    const fr_layer *L = &c->m->w.layers[j->layer];
    int64_t r = hp->n_lora_kv, w = r + hp->n_rot, dk = hp->head_dim_k;
    const float *cs = c->rope + t * hp->n_rot;
    float *kv = c->k + t * w;
    fr_rmsnorm(kv, kv, L->kv_a_norm_f, r, hp->rms_eps);
    fr_rope_apply(kv + r, 1, hp->n_rot, hp->n_rot, cs, hp->rope_neox);
    fr_rope_apply(c->q + t * hp->n_head * dk + hp->qk_nope, hp->n_head, dk, hp->n_rot, cs, hp->rope_neox);
    int64_t pos = c->row_pos[t];
    fr_mla_store(c, L, kv, fr_ds_row_cache(c, t, j->layer) + (size_t)pos * c->k_row_bytes, thread);
}

typedef struct {
    fr_context *c;
    int64_t ff;
} swiglu_job;

static void swiglu_task(void *ctx, int64_t t, int thread) {
    swiglu_job *j = ctx;
    fr_swiglu(j->c->gate + t * j->ff, j->c->up + t * j->ff, j->ff);
}

/* Prompt-phase attention over the rows [0, n), grouped by sequence: each run of one
 * sequence's rows attends over its own cache, as that sequence alone would (the same
 * decompression, the same groups of queries from the run's first row). */
static void attn_prompt_runs(fr_context *c, int64_t layer, int64_t n) {
    for (int64_t r0 = 0, r1; r0 < n; r0 = r1) {
        for (r1 = r0 + 1; r1 < n && c->row_seq[r1] == c->row_seq[r0]; r1++) {}
        fr_mla_attn_prompt(c, layer, r0, r1 - r0);
    }
}

/* Rows of several sequences at once: row t at c->row_pos[t] of sequence c->row_seq[t];
 * rows [0, c->n_prompt_rows) in the prompt phase, grouped by sequence, the rest in the
 * decode phase (context.c forward_rows_mla lays them out so). Every matrix product runs
 * once over all rows. */
void fr_deepseek2_forward(fr_context *c, const int32_t *tokens, int64_t n) {
    const fr_model *m = c->m;
    const fr_hparams *hp = &m->hp;
    fr_pool *pool = c->pool;
    int64_t E = hp->n_embd, H = hp->n_head, qd = H * hp->head_dim_k, od = H * hp->head_dim_v;
    int64_t kvw = hp->n_lora_kv + hp->n_rot;
    ds_job j = {c, 0};

    fr_ctx_embed(c, tokens, n);
    fr_pool_run(pool, n, rope_table_task, &j);
    for (int64_t l = 0; l < hp->n_layer; l++) {
        const fr_layer *L = &m->w.layers[l];
        j.layer = l;
        if (l == 0) /* later layers': the previous layer's last step */
            fr_ctx_rmsnorm(c, c->x, E, L->attn_norm_f, c->xn, E, E, n);
        /* the query's first product and the latent's share xn: one group (fr_matmul_group) */
        const fr_mm_out qkv_a[2] = {hp->n_lora_q > 0 ? (fr_mm_out){&L->wq_a.m, c->v, hp->n_lora_q, NULL}
                                                     : (fr_mm_out){&L->wq.m, c->q, qd, NULL},
                                    {&L->wkv_a.m, c->k, kvw, NULL}};
        fr_matmul_group(pool, qkv_a, 2, c->xn, E, n, c->scratch);
        if (hp->n_lora_q > 0) {
            int64_t R = hp->n_lora_q;
            fr_ctx_rmsnorm(c, c->v, R, L->q_a_norm_f, c->v, R, R, n);
            fr_matmul(pool, &L->wq_b.m, c->v, R, n, c->q, qd, NULL, c->scratch);
        }
        fr_pool_run(pool, n, latent_store_task, &j);
        attn_prompt_runs(c, l, c->n_prompt_rows);
        fr_mla_attn_decode(c, l, c->n_prompt_rows, n - c->n_prompt_rows);
        fr_matmul(pool, &L->wo.m, c->attn, od, n, c->tmp, E, NULL, c->scratch);
        fr_ctx_add_norm(c, c->x, c->tmp, L->ffn_norm_f, c->xn, E, n);
        if (L->ffn_gate_inp.src) {
            fr_moe_forward(c, L, n, c->tmp);
        } else {
            swiglu_job sj = {c, hp->n_ff};
            const fr_mm_out gate_up[2] = {{&L->w_gate.m, c->gate, hp->n_ff, NULL}, {&L->w_up.m, c->up, hp->n_ff, NULL}};
            fr_matmul_group(pool, gate_up, 2, c->xn, E, n, c->scratch);
            fr_pool_run(pool, n, swiglu_task, &sj);
            fr_matmul(pool, &L->w_down.m, c->gate, hp->n_ff, n, c->tmp, E, NULL, c->scratch);
        }
        const float *next_norm = l + 1 < hp->n_layer ? m->w.layers[l + 1].attn_norm_f : NULL;
        fr_ctx_add_norm(c, c->x, c->tmp, next_norm, c->xn, E, n);
    }
}

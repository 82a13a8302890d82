/* context.c: run state, phase and the dense forward pass (llama, qwen2); deepseek2's
 * forward pass is in deepseek2.c (MLA in mla.c, MoE in moe.c).
 *
 * Per layer, for a batch of n tokens at positions p0..p0+n-1:
 *   xn = rmsnorm(x) * attn_norm
 *   q, k, v = Wq xn (+bq), Wk xn (+bk), Wv xn (+bv); rope(q), rope(k)
 *   K/V rows are written to the cache, then each token attends over cache rows [0, pos]
 *   x += Wo attn
 *   xn = rmsnorm(x) * ffn_norm; x += Wdown (silu(Wgate xn) * Wup xn)
 * Prompt and decode run the same code: attention always reads K/V back from the cache,
 * so both see the cache's rounding, as the peer engine does.
 *
 * Multiple sequences: the cache holds n_seq independent blocks. One forward pass takes rows
 * of any sequences together: the matrix products run on all rows at once (the weights are
 * read once per step), while the rope table, the cache store and attention go by each row's
 * own (sequence, position). Every step is computed per row by the same code whatever the
 * other rows are (the matmul tiles are bit-identical to per-row dot products), so a token's
 * logits are the same alone or in any batch, in any slot, on any number of threads. */
#include "context_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"



fr_context_params fr_context_default_params(void) {
    fr_context_params p = {0, 0, FR_TYPE_F16, 0, 0};
    return p;
}

size_t fr_kv_bytes_per_token(const fr_hparams *hp, int kv_type) {
    if (hp->arch == FR_ARCH_DEEPSEEK2) return fr_deepseek2_kv_bytes_per_token(hp, kv_type);
    size_t kb = 0, vb = 0;
    fr_row_size(kv_type, hp->n_head_kv * hp->head_dim_k, &kb);
    fr_row_size(kv_type, hp->n_head_kv * hp->head_dim_v, &vb);
    return (kb + vb) * (size_t)hp->n_layer;
}

static void *alloc_floats(size_t n_rows, int64_t width, bool *ok) {
    size_t n;
    if (!ck_mul_size(n_rows, (size_t)width, &n) || !ck_mul_size(n, sizeof(float), &n)) {
        *ok = false;
        return NULL;
    }
    size_t bytes = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (!p)
        *ok = false;
    else
        memset(p, 0, bytes); /* touched now: memory use does not creep up as batches grow */
    return p;
}

void fr_context_free(fr_context *c) {
    if (!c) return;
    fr_deepseek2_free(c);
    fr_pool_free(c->pool);
    fr_huge_free(&c->k_map);
    fr_huge_free(&c->v_map);
    free(c->seq_past);
    free(c->seq_cnt);
    free(c->seq_phase);
    free(c->row_seq);
    free(c->row_pos);
    free(c->row_tok);
    free(c->row_out);
    free(c->out_src);
    free(c->xout);
    free(c->x);
    free(c->xn);
    free(c->tmp);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->attn);
    free(c->gate);
    free(c->up);
    free(c->rope);
    free(c->scratch);
    free(c->att_scores);
    free(c->att_q);
    free(c->att_v);
    free(c->att_out);
    free(c->att_vtile);
    free(c->att_runs);
    free(c);
}

fr_status fr_context_new(const fr_model *m, const fr_context_params *pp, fr_context **out, fr_error *err) {
    *out = NULL;
    const fr_hparams *hp = &m->hp;
    bool mla = hp->arch == FR_ARCH_DEEPSEEK2;
    fr_context_params p = pp ? *pp : fr_context_default_params();
    if (p.n_ctx == 0) p.n_ctx = FR_MIN(hp->n_ctx_train, 4096);
    if (p.n_batch == 0) p.n_batch = 512;
    if (p.n_threads == 0) p.n_threads = fr_cpu_count();
    if (p.n_seq == 0) p.n_seq = 1;
    if (p.n_seq < 1 || p.n_seq > FR_MAX_SEQ)
        return fr_fail(err, FR_ERR_ARG, "sequences (n_seq): %d (expected 1..%d)", p.n_seq, FR_MAX_SEQ);
    if (p.n_ctx < 1 || p.n_ctx > ((int64_t)1 << 24))
        return fr_fail(err, FR_ERR_ARG, "context size: %lld (expected 1..16777216)", (long long)p.n_ctx);
    if (p.n_batch < 1 || p.n_batch > 65536)
        return fr_fail(err, FR_ERR_ARG, "batch size: %lld (expected 1..65536)", (long long)p.n_batch);
    if (p.kv_type != FR_TYPE_F16 && p.kv_type != FR_TYPE_F32 && p.kv_type != FR_TYPE_Q8_0)
        return fr_fail(err, FR_ERR_ARG, "KV cache type: %s (expected f32, f16 or q8_0)", fr_type_name(p.kv_type));
    const fr_type_traits *kvt = fr_type_traits_get(p.kv_type);
    if (hp->head_dim_k % kvt->block_size || hp->head_dim_v % kvt->block_size)
        return fr_fail(err, FR_ERR_ARG, "KV cache type %s needs head dimensions that are multiples of %lld (model has %lld, %lld)",
                       kvt->name, (long long)kvt->block_size, (long long)hp->head_dim_k, (long long)hp->head_dim_v);
    if (mla && (hp->n_lora_kv % kvt->block_size || hp->n_rot % kvt->block_size))
        return fr_fail(err, FR_ERR_ARG,
                       "KV cache type %s needs a latent (kv_lora_rank %lld) and rope dims (%lld) that are "
                       "multiples of %lld",
                       kvt->name, (long long)hp->n_lora_kv, (long long)hp->n_rot, (long long)kvt->block_size);
    /* a batch never needs more rows than all sequences' positions (<= 2^32: no overflow) */
    if (p.n_batch > p.n_ctx * p.n_seq) p.n_batch = p.n_ctx * p.n_seq;

    fr_context *c = calloc(1, sizeof *c);
    if (!c) return fr_fail(err, FR_ERR_NOMEM, "context: out of memory");
    c->m = m;
    c->p = p;
    fr_status st = fr_pool_new(p.n_threads, &c->pool, err);
    if (st != FR_OK) {
        free(c);
        return st;
    }
    c->read_ahead = !fr_env_off("FRUGAL_READAHEAD");
    bool ok = true;
    /* per sequence: kl/vl one layer, kt/vt all layers; ka/va all sequences */
    size_t kl = 0, vl = 0, kt = 0, vt = 0, ka = 0, va = 0, ns = (size_t)p.n_seq;
    if (mla) {
        fr_row_size(p.kv_type, hp->n_lora_kv + hp->n_rot, &c->k_row_bytes);
        c->k_head_bytes = c->k_row_bytes;
        ok = ck_mul_size(c->k_row_bytes, (size_t)p.n_ctx, &kl) && ck_mul_size(kl, (size_t)hp->n_layer, &kt) &&
             ck_mul_size(kt, ns, &ka);
    } else {
        fr_row_size(p.kv_type, hp->head_dim_k, &c->k_head_bytes);
        fr_row_size(p.kv_type, hp->head_dim_v, &c->v_head_bytes);
        c->k_row_bytes = c->k_head_bytes;
        c->v_row_bytes = c->v_head_bytes;
        size_t nkv = (size_t)hp->n_head_kv;
        ok = ck_mul_size(c->k_head_bytes, (size_t)p.n_ctx, &c->k_head_stride) &&
             ck_mul_size(c->v_head_bytes, (size_t)p.n_ctx, &c->v_head_stride) &&
             ck_mul_size(c->k_head_stride, nkv, &kl) && ck_mul_size(c->v_head_stride, nkv, &vl) &&
             ck_mul_size(kl, (size_t)hp->n_layer, &kt) && ck_mul_size(vl, (size_t)hp->n_layer, &vt) &&
             ck_mul_size(kt, ns, &ka) && ck_mul_size(vt, ns, &va);
    }
    if (!ok) {
        fr_context_free(c);
        return fr_fail(err, FR_ERR_ARG, "KV cache size overflows: %lld positions x %d sequences x %lld layers",
                       (long long)p.n_ctx, p.n_seq, (long long)hp->n_layer);
    }
    c->k_layer_bytes = kl;
    c->v_layer_bytes = vl;
    c->k_seq_bytes = kt;
    c->v_seq_bytes = vt;
    /* the KV cache is touched at creation (as the peer does): what a context needs is
     * resident from the start, not acquired position by position */
    c->k_mem = fr_huge_alloc(ka ? ka : 1, &c->k_map);
    if (!mla) c->v_mem = fr_huge_alloc(va ? va : 1, &c->v_map);
    ok = c->k_mem && (mla || c->v_mem);
    if (ok) {
        memset(c->k_mem, 0, ka);
        if (!mla) memset(c->v_mem, 0, va);
    }
    size_t nb = (size_t)p.n_batch;
    c->seq_past = ok ? calloc(ns, sizeof *c->seq_past) : NULL;
    c->seq_cnt = ok ? calloc(ns, sizeof *c->seq_cnt) : NULL;
    c->seq_phase = ok ? calloc(ns, sizeof *c->seq_phase) : NULL; /* zero: FR_PHASE_PROMPT */
    c->row_seq = ok ? calloc(nb, sizeof *c->row_seq) : NULL;
    c->row_pos = ok ? calloc(nb, sizeof *c->row_pos) : NULL;
    c->row_tok = ok ? calloc(nb, sizeof *c->row_tok) : NULL;
    c->row_out = ok ? calloc(nb, sizeof *c->row_out) : NULL;
    c->out_src = ok ? calloc(nb, sizeof *c->out_src) : NULL;
    if (!c->seq_past || !c->seq_cnt || !c->seq_phase || !c->row_seq || !c->row_pos || !c->row_tok || !c->row_out ||
        !c->out_src)
        ok = false;
    if (mla) c->xout = alloc_floats(nb, hp->n_embd, &ok);
    int64_t ffw = FR_MAX(hp->n_ff, FR_MAX(hp->n_ff_exp, hp->n_ff_exp * hp->n_expert_shared));
    int64_t w_xn = FR_MAX(hp->n_embd, hp->n_head * hp->head_dim_v);
    c->x = alloc_floats(nb, hp->n_embd, &ok);
    c->xn = alloc_floats(nb, w_xn, &ok);
    c->tmp = alloc_floats(nb, hp->n_embd, &ok);
    c->q = alloc_floats(nb, hp->n_head * hp->head_dim_k, &ok);
    c->k = alloc_floats(nb, mla ? hp->n_lora_kv + hp->n_rot : hp->n_head_kv * hp->head_dim_k, &ok);
    c->v = alloc_floats(nb, mla ? FR_MAX(hp->n_lora_q, 1) : hp->n_head_kv * hp->head_dim_v, &ok);
    c->attn = alloc_floats(nb, hp->n_head * hp->head_dim_v, &ok);
    c->gate = alloc_floats(nb, ffw, &ok);
    c->up = alloc_floats(nb, ffw, &ok);
    c->rope = alloc_floats(nb, hp->n_rot, &ok);
    /* matmul scratch: the converted activations of the widest input */
    int64_t max_in = FR_MAX(FR_MAX(hp->n_embd, ffw), hp->n_head * hp->head_dim_v);
    max_in = FR_MAX(max_in, FR_MAX(hp->n_lora_q, hp->n_lora_kv + hp->n_rot));
    c->scratch_bytes = nb * fr_matmul_scratch_row_bound(max_in);
    if (mla) /* per-head conversions of one token (absorbed decode) */
        c->scratch_bytes = FR_MAX(c->scratch_bytes, (size_t)hp->n_head * ((size_t)FR_MAX(hp->n_lora_kv, hp->qk_nope) * 4 + 64));
    c->scratch = ok ? aligned_alloc(64, (c->scratch_bytes + 63) & ~(size_t)63) : NULL;
    if (c->scratch) memset(c->scratch, 0, (c->scratch_bytes + 63) & ~(size_t)63);
    if (!c->scratch) ok = false;
    int nt = p.n_threads;
    /* queries attended together (dense: query heads of a kv head x rows; MLA prompt: tokens) */
    int64_t group = fr_att_queries(c);
    c->att_scores = alloc_floats((size_t)nt * (size_t)group, p.n_ctx, &ok);
    int64_t qw = mla ? FR_MAX(group * hp->head_dim_k, hp->n_lora_kv + hp->n_rot) : group * hp->head_dim_k;
    c->att_qf_bytes = ((size_t)qw * 4 + 63) & ~(size_t)63;
    c->att_qq_row = 0;
    if (!mla && fr_kv_quantized(p.kv_type)) /* + the queries in the vec_dot_type */
        fr_row_size(fr_type_traits_get(p.kv_type)->vec_dot_type, hp->head_dim_k, &c->att_qq_row);
    c->att_q_bytes = c->att_qf_bytes + (((size_t)group * c->att_qq_row + 63) & ~(size_t)63);
    c->att_q = ok ? aligned_alloc(64, c->att_q_bytes * (size_t)nt) : NULL;
    if (!c->att_q) ok = false;
    c->att_v = alloc_floats((size_t)nt, fr_att_v_width(hp), &ok);
    if (fr_kv_quantized(p.kv_type)) { /* dequantized tiles of cache rows */
        c->att_vtile_floats = (size_t)FR_ATT_VTILE * (size_t)(mla ? hp->n_lora_kv + hp->n_rot : hp->head_dim_v);
        c->att_vtile = alloc_floats((size_t)nt, (int64_t)c->att_vtile_floats, &ok);
    }
    if (!mla) {
        c->att_out = alloc_floats((size_t)nt * (size_t)group, hp->head_dim_v, &ok);
        c->att_runs = ok ? calloc(nb + 1, sizeof *c->att_runs) : NULL;
        if (!c->att_runs) ok = false;
    }
    if (!ok) {
        fr_context_free(c);
        return fr_fail(err, FR_ERR_NOMEM, "context: cannot allocate KV cache and buffers for %lld positions x %d sequences",
                       (long long)p.n_ctx, p.n_seq);
    }
    if (mla && (st = fr_deepseek2_alloc(c, err)) != FR_OK) {
        fr_context_free(c);
        return st;
    }
    *out = c;
    return FR_OK;
}

int64_t fr_context_n_past(const fr_context *c) { return c->seq_past[0]; }
int64_t fr_context_n_ctx(const fr_context *c) { return c->p.n_ctx; }
int fr_context_threads(const fr_context *c) { return c->p.n_threads; }
void fr_context_truncate(fr_context *c, int64_t n_past) { fr_context_seq_truncate(c, 0, n_past); }
int32_t fr_context_n_seq(const fr_context *c) { return c->p.n_seq; }
int64_t fr_context_seq_n_past(const fr_context *c, int32_t seq) {
    return seq >= 0 && seq < c->p.n_seq ? c->seq_past[seq] : -1;
}
void fr_context_seq_truncate(fr_context *c, int32_t seq, int64_t n_past) {
    if (seq >= 0 && seq < c->p.n_seq && n_past >= 0 && n_past < c->seq_past[seq]) c->seq_past[seq] = n_past;
}
bool fr_context_phase_matters(const fr_context *c) { return c->m->hp.arch == FR_ARCH_DEEPSEEK2; }

fr_status fr_context_seq_copy(fr_context *c, int32_t src, int32_t dst, int64_t n, fr_error *err) {
    int32_t ns = c->p.n_seq;
    if (src < 0 || src >= ns)
        return fr_fail(err, FR_ERR_RANGE, "sequence copy: source sequence %d is out of range (expected 0..%d)", src, ns - 1);
    if (dst < 0 || dst >= ns)
        return fr_fail(err, FR_ERR_RANGE, "sequence copy: destination sequence %d is out of range (expected 0..%d)", dst,
                       ns - 1);
    if (n < 0 || n > c->seq_past[src])
        return fr_fail(err, FR_ERR_RANGE, "sequence copy: %lld positions requested, sequence %d holds %lld (expected 0..%lld)",
                       (long long)n, src, (long long)c->seq_past[src], (long long)c->seq_past[src]);
    if (src != dst) { /* per layer the first n positions: of the latent rows (MLA), else of each kv head */
        int64_t n_blocks = c->v_mem ? c->m->hp.n_head_kv : 1;
        for (int64_t l = 0; l < c->m->hp.n_layer; l++)
            for (int64_t g = 0; g < n_blocks; g++) {
                size_t lo = (size_t)l * c->k_layer_bytes + (size_t)g * c->k_head_stride;
                memcpy(c->k_mem + (size_t)dst * c->k_seq_bytes + lo, c->k_mem + (size_t)src * c->k_seq_bytes + lo,
                       (size_t)n * c->k_row_bytes);
                if (c->v_mem) {
                    lo = (size_t)l * c->v_layer_bytes + (size_t)g * c->v_head_stride;
                    memcpy(c->v_mem + (size_t)dst * c->v_seq_bytes + lo, c->v_mem + (size_t)src * c->v_seq_bytes + lo,
                           (size_t)n * c->v_row_bytes);
                }
            }
    }
    c->seq_past[dst] = n;
    return FR_OK;
}
void fr_context_set_phase(fr_context *c, fr_phase phase) {
    for (int32_t s = 0; s < c->p.n_seq; s++) c->seq_phase[s] = phase;
}
fr_status fr_context_seq_set_phase(fr_context *c, int32_t seq, fr_phase phase, fr_error *err) {
    if (seq < 0 || seq >= c->p.n_seq)
        return fr_fail(err, FR_ERR_RANGE, "phase: sequence %d is out of range (expected 0..%d)", seq, c->p.n_seq - 1);
    c->seq_phase[seq] = phase;
    return FR_OK;
}
fr_phase fr_context_phase(const fr_context *c) { return c->seq_phase[0]; }

/* ---- per-row tasks ----
 * Row t of a forward pass belongs to sequence c->row_seq[t] at position c->row_pos[t]. */

typedef struct {
    fr_context *c;
    const int32_t *tokens;
    int64_t n;
    const fr_layer *L;
    int64_t layer;
    const float *norm_w;
    float *norm_out;
    const float *norm_in;
} batch_job;

static void embed_task(void *ctx, int64_t t, int thread) {
    batch_job *j = ctx;
    const fr_tensor *te = &j->c->m->w.tok_embd;
    const fr_type_traits *tt = fr_type_traits_get(te->m.type);
    tt->to_float((const char *)te->m.data + (size_t)j->tokens[t] * te->m.row_bytes,
                 j->c->x + t * j->c->m->hp.n_embd, te->m.n_in);
}

static void norm_task(void *ctx, int64_t t, int thread) {
    batch_job *j = ctx;
    int64_t n = j->c->m->hp.n_embd;
    fr_rmsnorm(j->norm_out + t * n, j->norm_in + t * n, j->norm_w, n, j->c->m->hp.rms_eps);
}

static void rope_table_task(void *ctx, int64_t t, int thread) {
    batch_job *j = ctx;
    const fr_hparams *hp = &j->c->m->hp;
    const float *ff = j->c->m->w.rope_freqs_f;
    float *cs = j->c->rope + t * hp->n_rot;
    double pos = (double)j->c->row_pos[t];
    for (int64_t i = 0; i < hp->n_rot / 2; i++) {
        /* theta_i = pos * scale * base^(-2i/n_rot) / freq_factor_i */
        double inv_freq = pow((double)hp->rope_freq_base, -2.0 * (double)i / (double)hp->n_rot);
        double theta = pos * (double)hp->rope_freq_scale * inv_freq;
        if (ff) theta /= (double)ff[i];
        cs[2 * i] = (float)cos(theta);
        cs[2 * i + 1] = (float)sin(theta);
    }
}

/* the cache rows of layer `layer` of row t's sequence */
static char *k_layer(const fr_context *c, int64_t t, int64_t layer) {
    return c->k_mem + (size_t)c->row_seq[t] * c->k_seq_bytes + (size_t)layer * c->k_layer_bytes;
}
static char *v_layer(const fr_context *c, int64_t t, int64_t layer) {
    return c->v_mem + (size_t)c->row_seq[t] * c->v_seq_bytes + (size_t)layer * c->v_layer_bytes;
}

/* rope on q and k, then write k and v rows into the row's sequence at its position */
static void rope_store_task(void *ctx, int64_t t, int thread) {
    batch_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    const float *cs = c->rope + t * hp->n_rot;
    int64_t qd = hp->n_head * hp->head_dim_k, kd = hp->n_head_kv * hp->head_dim_k, vd = hp->n_head_kv * hp->head_dim_v;
    float *q = c->q + t * qd, *k = c->k + t * kd, *v = c->v + t * vd;
    fr_rope_apply(q, hp->n_head, hp->head_dim_k, hp->n_rot, cs, hp->rope_neox);
    fr_rope_apply(k, hp->n_head_kv, hp->head_dim_k, hp->n_rot, cs, hp->rope_neox);
    const fr_type_traits *kvt = fr_type_traits_get(c->p.kv_type);
    size_t pos = (size_t)c->row_pos[t];
    char *kl = k_layer(c, t, j->layer) + pos * c->k_row_bytes, *vl = v_layer(c, t, j->layer) + pos * c->v_row_bytes;
    for (int64_t g = 0; g < hp->n_head_kv; g++) { /* each kv head's row into its own block */
        kvt->from_float(k + g * hp->head_dim_k, kl + (size_t)g * c->k_head_stride, hp->head_dim_k);
        kvt->from_float(v + g * hp->head_dim_v, vl + (size_t)g * c->v_head_stride, hp->head_dim_v);
    }
}

/* One run of rows (consecutive positions of one sequence: att_runs) and one kv head g: the G
 * query heads that share g for every row of the run attend together
 * (grouped-query attention, and in a prompt several tokens too), so that each K and V row is
 * read once for all of them: scores over the sequence's cache rows [0, last row's pos],
 * weights (fr_ctx_attn_weights), weighted sum of V. A query's result does not depend on its
 * run: each (query, key) dot product is its own chain of FMAs, and its V sum is the same chain
 * followed by + 0 * v terms (unchanged for finite V). With an F16 cache the peer engine
 * computes K.q in F16: q is rounded to F16 here, which reproduces it (the products of F16
 * values are exact in F32). */
static void attention_group_task(void *ctx, int64_t task, int thread) {
    batch_job *j = ctx;
    fr_context *c = j->c;
    const fr_hparams *hp = &c->m->hp;
    int64_t G = hp->n_head / hp->n_head_kv, hd = hp->head_dim_k, hdv = hp->head_dim_v;
    int64_t run = task / hp->n_head_kv, g = task % hp->n_head_kv;
    int64_t t0 = c->att_runs[run], nt = c->att_runs[run + 1] - t0, nq = nt * G;
    int64_t n_pos = c->row_pos[t0 + nt - 1] + 1, stride = c->p.n_ctx, group = fr_att_queries(c);
    bool f16 = c->p.kv_type == FR_TYPE_F16;
    float *qg = (float *)(c->att_q + (size_t)thread * c->att_q_bytes);
    float *scores = c->att_scores + (size_t)thread * (size_t)group * (size_t)stride;
    float *out = c->att_out + (size_t)thread * (size_t)group * (size_t)hdv;
    float *tmp = c->att_v + (size_t)thread * (size_t)fr_att_v_width(hp);
    for (int64_t t = 0; t < nt; t++) /* query k = t * G + head: row t0 + t's heads g G .. g G + G - 1 */
        memcpy(qg + t * G * hd, c->q + (t0 + t) * hp->n_head * hd + g * G * hd, sizeof(float) * (size_t)(G * hd));
    if (f16) fr_round_f16(qg, nq * hd);
    const char *kbase = k_layer(c, t0, j->layer) + (size_t)g * c->k_head_stride;
    const char *vbase = v_layer(c, t0, j->layer) + (size_t)g * c->v_head_stride;
    const float scale = 1.0f / sqrtf((float)hd);
    if (!fr_kv_quantized(c->p.kv_type)) {
        fr_mla_scores(c->p.kv_type, kbase, c->k_row_bytes, 0, n_pos, qg, nq, hd, scale, scores, stride, tmp);
        fr_ctx_attn_weights(scores, stride, nq, G, c->row_pos[t0] + 1, n_pos, f16);
        fr_mla_accum(c->p.kv_type, vbase, c->v_row_bytes, n_pos, scores, stride, 0, nq, 0, hdv, out, hdv, tmp);
    } else { /* quantized cache: the queries in the type's vec_dot_type, as the peer converts them */
        const fr_type_traits *kvt = fr_type_traits_get(c->p.kv_type);
        const fr_type_traits *qt = fr_type_traits_get(kvt->vec_dot_type);
        char *qq = (char *)qg + c->att_qf_bytes;
        for (int64_t k = 0; k < nq; k++) qt->from_float(qg + k * hd, qq + (size_t)k * c->att_qq_row, hd);
        fr_attn_scores_quant(c->p.kv_type, kbase, c->k_row_bytes, n_pos, qq, c->att_qq_row, nq, hd, scale, scores,
                             stride);
        fr_ctx_attn_weights(scores, stride, nq, G, c->row_pos[t0] + 1, n_pos, false);
        fr_attn_accum_deq(c->p.kv_type, vbase, c->v_row_bytes, n_pos, scores, stride, nq, 0, hdv, out, hdv,
                          c->att_vtile + (size_t)thread * (size_t)c->att_vtile_floats);
    }
    for (int64_t t = 0; t < nt; t++)
        memcpy(c->attn + (t0 + t) * hp->n_head * hdv + g * G * hdv, out + t * G * hdv, sizeof(float) * (size_t)(G * hdv));
}

/* c->att_runs: the batch's rows cut into runs of consecutive positions of one sequence, each
 * of at most max(1, fr_att_query_base(c) / G) rows (G query heads per kv head), so that a run's
 * queries fit the per-thread buffers (fr_att_queries). */
static void find_runs(fr_context *c, int64_t n) {
    const fr_hparams *hp = &c->m->hp;
    int64_t G = hp->n_head / hp->n_head_kv, max_rows = FR_MAX(1, fr_att_query_base(c) / G), r = 0;
    for (int64_t t = 0; t < n; t++) {
        bool extend = t > 0 && t - c->att_runs[r - 1] < max_rows && c->row_seq[t] == c->row_seq[t - 1] &&
                      c->row_pos[t] == c->row_pos[t - 1] + 1;
        if (!extend) c->att_runs[r++] = (int32_t)t;
    }
    c->n_att_runs = r;
    c->att_runs[r] = (int32_t)n;
}

static void swiglu_task(void *ctx, int64_t t, int thread) {
    batch_job *j = ctx;
    int64_t n = j->c->m->hp.n_ff;
    fr_swiglu(j->c->gate + t * n, j->c->up + t * n, n);
}


/* ---- helpers shared with deepseek2.c ---- */

typedef struct {
    float *x, *xn;
    const float *d, *w;
    int64_t E;
    float eps;
} add_norm_job;

static void add_norm_task(void *ctx, int64_t t, int thread) {
    const add_norm_job *j = ctx;
    float *x = j->x + t * j->E;
    const float *d = j->d + t * j->E;
    for (int64_t i = 0; i < j->E; i++) x[i] += d[i];
    if (j->w) fr_rmsnorm(j->xn + t * j->E, x, j->w, j->E, j->eps);
}

void fr_ctx_add_norm(fr_context *c, float *x, const float *d, const float *w, float *xn, int64_t E, int64_t n) {
    add_norm_job j = {x, xn, d, w, E, c->m->hp.rms_eps};
    fr_pool_run(c->pool, n, add_norm_task, &j);
}

void fr_ctx_attn_weights(float *scores, int64_t stride, int64_t nq, int64_t per_row, int64_t len0, int64_t n_pos,
                         bool round_f16) {
    for (int64_t k = 0; k < nq; k++) {
        float *sk = scores + k * stride;
        int64_t len = len0 + k / per_row;
        fr_softmax_fast(sk, len);
        if (round_f16) fr_round_f16(sk, len);
        for (int64_t p = len; p < n_pos; p++) sk[p] = 0.0f;
    }
}

void fr_ctx_embed(fr_context *c, const int32_t *tokens, int64_t n) {
    batch_job j = {c, tokens, n, NULL, 0, NULL, NULL, NULL};
    fr_pool_run(c->pool, n, embed_task, &j);
}

typedef struct {
    const float *in, *w;
    float *out;
    int64_t in_stride, out_stride, width;
    float eps;
    const int32_t *rows; /* NULL: row t */
} rms_job;

static void rms_task(void *ctx, int64_t t, int thread) {
    rms_job *j = ctx;
    int64_t r = j->rows ? j->rows[t] : t;
    fr_rmsnorm(j->out + t * j->out_stride, j->in + r * j->in_stride, j->w, j->width, j->eps);
}

void fr_ctx_rmsnorm(fr_context *c, const float *in, int64_t in_stride, const float *w, float *out,
                    int64_t out_stride, int64_t width, int64_t n) {
    rms_job j = {in, w, out, in_stride, out_stride, width, c->m->hp.rms_eps, NULL};
    fr_pool_run(c->pool, n, rms_task, &j);
}

static const fr_matrix *output_matrix(const fr_model *m) {
    return m->w.output.src ? &m->w.output.m : &m->w.tok_embd.m;
}

void fr_ctx_output(fr_context *c, const float *x, const int32_t *rows, int64_t n, float *logits) {
    const fr_model *m = c->m;
    int64_t E = m->hp.n_embd;
    if (!logits || n <= 0) return;
    rms_job j = {x, m->w.output_norm_f, c->xn, E, E, E, m->hp.rms_eps, rows};
    fr_pool_run(c->pool, n, rms_task, &j);
    fr_matmul(c->pool, output_matrix(m), c->xn, E, n, logits, m->hp.n_vocab, NULL, c->scratch);
}

/* Decode steps (a few rows, bandwidth-bound): while the caller finishes the coming product
 * and runs the serial work after it, the waiting workers read W, the product after that one,
 * into their caches (fr_matmul_prefetch). A small gain: tinyllama decode, 2 threads, on and
 * off alternated in one process (rounds of 32 tokens), the median of the per-round ratios:
 * Q4_0 +0.5 to +2.4% in 6 runs of 30 rounds (the totals -3.0 to +2.0%), F16 +0.2 and +1.4%
 * in 2 runs of 12. FRUGAL_READAHEAD=0 turns it off. */
static void read_ahead(fr_context *c, int64_t n, const fr_matrix *w) {
    if (n <= 4 && c->read_ahead) fr_matmul_prefetch(c->pool, w);
}

/* Layer L's q, k and v products of c->xn, as one group (fr_matmul_group). */
static void qkv_group(const fr_context *c, const fr_layer *L, fr_mm_out out[3]) {
    const fr_hparams *hp = &c->m->hp;
    out[0] = (fr_mm_out){&L->wq.m, c->q, hp->n_head * hp->head_dim_k, L->bq_f};
    out[1] = (fr_mm_out){&L->wk.m, c->k, hp->n_head_kv * hp->head_dim_k, L->bk_f};
    out[2] = (fr_mm_out){&L->wv.m, c->v, hp->n_head_kv * hp->head_dim_v, L->bv_f};
}

/* The same for a group of products (fr_matmul_group). */
static void read_ahead_group(fr_context *c, int64_t n, const fr_mm_out *out, int n_out) {
    if (n <= 4 && c->read_ahead) fr_matmul_prefetch_group(c->pool, out, n_out);
}

/* One dense forward pass over n <= n_batch rows (c->row_seq, c->row_pos set): the final
 * hidden states are left in c->x. */
static void forward_rows(fr_context *c, const int32_t *tokens, int64_t n) {
    const fr_model *m = c->m;
    const fr_hparams *hp = &m->hp;
    fr_pool *pool = c->pool;
    batch_job j = {c, tokens, n, NULL, 0, NULL, NULL, NULL};
    int64_t E = hp->n_embd;
    int64_t od = hp->n_head * hp->head_dim_v;

    fr_pool_run(pool, n, embed_task, &j);
    fr_pool_run(pool, n, rope_table_task, &j);
    find_runs(c, n);
    for (int64_t l = 0; l < hp->n_layer; l++) {
        const fr_layer *L = &m->w.layers[l];
        /* decode converts xn once for q, k and v (and for gate and up) and runs each group
         * as one product */
        fr_mm_out qkv[3];
        qkv_group(c, L, qkv);
        const fr_mm_out gate_up[2] = {{&L->w_gate.m, c->gate, hp->n_ff, NULL}, {&L->w_up.m, c->up, hp->n_ff, NULL}};
        j.L = L;
        j.layer = l;
        j.norm_w = L->attn_norm_f;
        j.norm_in = c->x;
        j.norm_out = c->xn;
        if (l == 0) fr_pool_run(pool, n, norm_task, &j); /* later layers': the previous layer's last step */
        read_ahead(c, n, &L->wo.m);
        fr_matmul_group(pool, qkv, 3, c->xn, E, n, c->scratch);
        /* all rows are stored before any attends: a row sees the earlier rows of its
         * sequence in this pass */
        fr_pool_run(pool, n, rope_store_task, &j);
        fr_pool_run(pool, c->n_att_runs * hp->n_head_kv, attention_group_task, &j);
        read_ahead_group(c, n, gate_up, 2);
        fr_matmul(pool, &L->wo.m, c->attn, od, n, c->tmp, E, NULL, c->scratch);
        fr_ctx_add_norm(c, c->x, c->tmp, L->ffn_norm_f, c->xn, E, n);
        read_ahead(c, n, &L->w_down.m);
        fr_matmul_group(pool, gate_up, 2, c->xn, E, n, c->scratch);
        fr_pool_run(pool, n, swiglu_task, &j);
        if (l + 1 < hp->n_layer) {
            fr_mm_out next[3];
            qkv_group(c, &m->w.layers[l + 1], next);
            read_ahead_group(c, n, next, 3);
        } else {
            read_ahead(c, n, output_matrix(m));
        }
        fr_matmul(pool, &L->w_down.m, c->gate, hp->n_ff, n, c->tmp, E, NULL, c->scratch);
        const float *next_norm = l + 1 < hp->n_layer ? m->w.layers[l + 1].attn_norm_f : NULL;
        fr_ctx_add_norm(c, c->x, c->tmp, next_norm, c->xn, E, n);
    }
}

/* The order of the runs: i in [0, n_seq) the prompt-phase sequences by number, then i in
 * [n_seq, 2 n_seq) the decode-phase ones; -1 where i's sequence is in the other phase. */
static int32_t run_seq(const fr_context *c, int64_t i) {
    int32_t s = (int32_t)(i % c->p.n_seq);
    return (c->seq_phase[s] == FR_PHASE_DECODE) == (i >= c->p.n_seq) ? s : -1;
}

/* deepseek2 over rows of several sequences: one pass over all rows, so every matrix product
 * (the experts' grouped over every row) reads its weights once for the whole batch, whatever
 * mix of phases its sequences are in. The rows are first grouped (a stable counting sort: a
 * sequence's rows keep their order and consecutive positions): the prompt-phase sequences'
 * rows first, sequence by sequence, each run attending over its own cache decompressed for it
 * (deepseek2.c attn_prompt_runs); then the decode-phase rows, each reading its own
 * sequence's latent cache (absorbed). A row's result is the same bits as in a pass of its
 * sequence alone: the products are batch-invariant, the attention is the sequence's own.
 * The final hidden states of the wanted rows are gathered in c->xout (logit order). */
static void forward_rows_mla(fr_context *c, const int32_t *tokens, int64_t n) {
    int64_t E = c->m->hp.n_embd;
    int32_t ns = c->p.n_seq;
    int64_t *start = c->seq_cnt; /* per sequence: its rows, then its run's start (the checks are done) */
    int32_t *map = c->out_src;   /* grouped row -> logit row (out_src is unused on this path) */
    memset(start, 0, sizeof *start * (size_t)ns);
    for (int64_t t = 0; t < n; t++) start[c->row_seq[t]]++;
    int64_t at = 0;
    c->n_prompt_rows = 0;
    for (int64_t i = 0; i < 2 * (int64_t)ns; i++) {
        int32_t s = run_seq(c, i);
        if (s < 0) continue;
        int64_t m = start[s];
        start[s] = at;
        at += m;
        if (i < ns) c->n_prompt_rows = at;
    }
    for (int64_t t = 0; t < n; t++) {
        int64_t g = start[c->row_seq[t]]++; /* start[s] ends at the end of s's run */
        c->row_tok[g] = tokens[t];
        map[g] = c->row_out[t];
    }
    /* The rows' sequences and positions in the grouped order. eval_rows has already advanced
     * seq_past past this batch, so a run of m rows ends at position seq_past[s] - 1. */
    int64_t r = 0;
    for (int64_t i = 0; i < 2 * (int64_t)ns; i++) {
        int32_t s = run_seq(c, i);
        if (s < 0) continue;
        for (int64_t m = start[s] - r, k = 0; k < m; k++, r++) {
            c->row_seq[r] = s;
            c->row_pos[r] = c->seq_past[s] - m + k;
        }
    }
    fr_deepseek2_forward(c, c->row_tok, n);
    for (int64_t t = 0; t < n; t++)
        if (map[t] >= 0) memcpy(c->xout + (size_t)map[t] * (size_t)E, c->x + t * E, sizeof(float) * (size_t)E);
}

/* The checks and the batch loop of both eval entry points. A row is wanted if want[i]
 * (want != NULL), else if i >= first_row. */
static fr_status eval_rows(fr_context *c, const int32_t *tokens, const int32_t *seq, int64_t n, const uint8_t *want,
                           int64_t first_row, float *logits, fr_error *err) {
    const fr_hparams *hp = &c->m->hp;
    int32_t ns = c->p.n_seq;
    if (n < 0) return fr_fail(err, FR_ERR_ARG, "token count: %lld (expected >= 0)", (long long)n);
    if (n > 0 && !tokens) return fr_fail(err, FR_ERR_ARG, "tokens: NULL with a token count of %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return fr_fail(err, FR_ERR_RANGE, "token %lld: id %d is out of range (vocabulary size %lld)",
                           (long long)i, tokens[i], (long long)hp->n_vocab);
        if (seq && (seq[i] < 0 || seq[i] >= ns))
            return fr_fail(err, FR_ERR_RANGE, "token %lld: sequence %d is out of range (expected 0..%d)", (long long)i,
                           seq[i], ns - 1);
    }
    memset(c->seq_cnt, 0, sizeof *c->seq_cnt * (size_t)ns);
    for (int64_t i = 0; i < n; i++) c->seq_cnt[seq ? seq[i] : 0]++;
    for (int32_t s = 0; s < ns; s++) {
        if (c->seq_cnt[s] <= c->p.n_ctx - c->seq_past[s]) continue;
        if (!seq)
            return fr_fail(err, FR_ERR_RANGE,
                           "context full: %lld positions used, %lld more requested, context size %lld",
                           (long long)c->seq_past[s], (long long)c->seq_cnt[s], (long long)c->p.n_ctx);
        return fr_fail(err, FR_ERR_RANGE,
                       "sequence %d: context full: %lld positions used, %lld more requested, context size %lld", s,
                       (long long)c->seq_past[s], (long long)c->seq_cnt[s], (long long)c->p.n_ctx);
    }
    bool mla = hp->arch == FR_ARCH_DEEPSEEK2;
    int64_t out_base = 0;
    for (int64_t b = 0; b < n; b += c->p.n_batch) {
        int64_t nb = FR_MIN(c->p.n_batch, n - b), n_out = 0;
        for (int64_t t = 0; t < nb; t++) {
            int64_t i = b + t;
            int32_t s = seq ? seq[i] : 0;
            c->row_seq[t] = s;
            c->row_pos[t] = c->seq_past[s]++;
            bool wanted = logits && (want ? want[i] != 0 : i >= first_row);
            c->row_out[t] = wanted ? (int32_t)n_out : -1;
            if (wanted) c->out_src[n_out++] = (int32_t)t;
        }
        float *lg = logits ? logits + out_base * hp->n_vocab : NULL;
        if (mla) {
            forward_rows_mla(c, tokens + b, nb);
            fr_ctx_output(c, c->xout, NULL, n_out, lg);
        } else {
            forward_rows(c, tokens + b, nb);
            fr_ctx_output(c, c->x, c->out_src, n_out, lg);
        }
        out_base += n_out;
    }
    return FR_OK;
}

fr_status fr_context_eval(fr_context *c, const int32_t *tokens, int64_t n, float *logits,
                          int64_t first_logit_row, fr_error *err) {
    return eval_rows(c, tokens, NULL, n, NULL, first_logit_row < 0 ? 0 : first_logit_row, logits, err);
}

fr_status fr_context_eval_seqs(fr_context *c, const int32_t *tokens, const int32_t *seq, int64_t n,
                               const uint8_t *want, float *logits, fr_error *err) {
    return eval_rows(c, tokens, seq, n, want, 0, logits, err);
}

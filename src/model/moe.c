/* moe.c: DeepSeekMoE: routing (softmax or sigmoid scores, score-correction bias for the
 * choice only, group-limited top-k, weight normalisation and scaling), the routed experts
 * and the shared experts. Semantics of DeepSeek's reference (inference/model.py, Gate and
 * MoE); where the pinned llama.cpp differs (it ignores expert groups), the reference wins. */
#include "moe.h"

#include <math.h>
#include <string.h>

#include "context_impl.h"

fr_moe_route_cfg fr_moe_route_cfg_of(const fr_hparams *hp) {
    fr_moe_route_cfg r = {hp->n_expert,          hp->n_expert_used,        hp->n_expert_groups, hp->n_group_used,
                          hp->expert_gating,     hp->expert_weights_norm,  hp->expert_weights_scale};
    return r;
}

/* index of the largest finite v[i] (ties: lowest i); -1 if none */
static int64_t argmax_finite(const float *v, int64_t n) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
        if (v[i] != -INFINITY && (best < 0 || v[i] > v[best])) best = i;
    return best;
}

void fr_moe_route(const fr_moe_route_cfg *cfg, const float *logits, const float *bias, int32_t *sel,
                  float *weight, float *scratch) {
    int64_t E = cfg->n_expert;
    float *score = scratch, *choice = scratch + E, *gscore = scratch + 2 * E, *gkeep = scratch + 3 * E;
    if (cfg->gating == FR_GATING_SIGMOID) {
        for (int64_t e = 0; e < E; e++) score[e] = 1.0f / (1.0f + expf(-logits[e]));
    } else {
        memcpy(score, logits, sizeof(float) * (size_t)E);
        fr_softmax(score, E);
    }
    /* the bias only steers the choice (auxiliary-loss-free load balancing) */
    for (int64_t e = 0; e < E; e++) choice[e] = bias ? score[e] + bias[e] : score[e];

    if (cfg->n_groups > 1) {
        /* Group-limited routing (reference Gate.forward): a group's score is the sum of its two
         * best biased scores when the model has a score-correction bias (V3), its best score
         * otherwise (V2); experts outside the n_group_used best groups get -inf. The pinned
         * llama.cpp ignores expert groups entirely; the reference wins. */
        int64_t G = cfg->n_groups, per = E / G;
        for (int64_t g = 0; g < G; g++) {
            const float *v = choice + g * per;
            int64_t a = 0;
            for (int64_t i = 1; i < per; i++)
                if (v[i] > v[a]) a = i;
            float s = v[a];
            if (bias && per > 1) {
                int64_t b = a == 0 ? 1 : 0;
                for (int64_t i = 0; i < per; i++)
                    if (i != a && v[i] > v[b]) b = i;
                s += v[b];
            }
            gscore[g] = s;
            gkeep[g] = 0.0f;
        }
        for (int64_t k = 0; k < cfg->n_group_used; k++) {
            int64_t g = argmax_finite(gscore, G);
            if (g < 0) break;
            gkeep[g] = 1.0f;
            gscore[g] = -INFINITY;
        }
        for (int64_t g = 0; g < G; g++)
            if (gkeep[g] == 0.0f)
                for (int64_t i = 0; i < per; i++) choice[g * per + i] = -INFINITY;
    }
    for (int64_t k = 0; k < cfg->n_used; k++) {
        int64_t e = argmax_finite(choice, E);
        if (e < 0) e = 0; /* fewer eligible experts than n_used: hparams rules this out */
        choice[e] = -INFINITY;
        sel[k] = (int32_t)e;
        weight[k] = score[e]; /* the unbiased score */
    }
    if (cfg->norm) {
        double sum = 0;
        for (int64_t k = 0; k < cfg->n_used; k++) sum += weight[k];
        if (sum > 0)
            for (int64_t k = 0; k < cfg->n_used; k++) weight[k] = (float)(weight[k] / sum);
    }
    for (int64_t k = 0; k < cfg->n_used; k++) weight[k] *= cfg->scale;
}

/* ---- the MoE layer ----
 *
 * All tokens of the batch are routed first; then each chosen expert multiplies only the rows
 * of the tokens routed to it (only the chosen experts' weights are read), all experts and the
 * shared experts in one fused product per projection (fr_matmul_multi). Token t's k-th
 * choice lands in row slot[t][k] of the expert outputs; the routed sum runs over k in the
 * router's order, then the shared experts are added, as in the reference's y + z. */

typedef struct {
    fr_context *c;
    const fr_layer *L;
    fr_moe_route_cfg cfg;
    int64_t n_rows, ff, ffs; /* routed rows (n * K), routed and shared FFN widths */
    int64_t n;
} moe_job;

static void route_task(void *ctx, int64_t t, int thread) {
    moe_job *j = ctx;
    fr_context *c = j->c;
    int64_t E = j->cfg.n_expert, K = j->cfg.n_used;
    fr_moe_route(&j->cfg, c->router + t * E, j->L->exp_probs_b_f, c->sel + t * K, c->selw + t * K,
                 c->route_tmp + (size_t)thread * 4 * (size_t)E);
}

/* rows [0, n_rows): routed hidden rows; [n_rows, n_rows + n): shared */
static void swiglu_task(void *ctx, int64_t i, int thread) {
    moe_job *j = ctx;
    if (i < j->n_rows)
        fr_swiglu(j->c->eg + i * j->ff, j->c->eu + i * j->ff, j->ff);
    else
        fr_swiglu(j->c->gate + (i - j->n_rows) * j->ffs, j->c->up + (i - j->n_rows) * j->ffs, j->ffs);
}

static void combine_task(void *ctx, int64_t t, int thread) {
    moe_job *j = ctx;
    fr_context *c = j->c;
    int64_t D = c->m->hp.n_embd, K = j->cfg.n_used;
    float *o = c->moe + t * D;
    for (int64_t d = 0; d < D; d++) o[d] = 0.0f;
    for (int64_t k = 0; k < K; k++) {
        const float *y = c->ey + (int64_t)c->slot[t * K + k] * D;
        float w = c->selw[t * K + k];
        for (int64_t d = 0; d < D; d++) o[d] += w * y[d];
    }
}

/* rows [e * n, (e + 1) * n) of a [n_in, n, n_expert] tensor */
static fr_matrix expert_view(const fr_tensor *t, int64_t e) {
    int64_t n = t->src->ne[1];
    return fr_matrix_rows(&t->m, e * n, n);
}

/* small element-wise steps of one or two tokens (decode) run inline: a hand-off to the
 * pool costs more than the work */
static void run(fr_pool *pool, int64_t n_tokens, int64_t n, fr_task_fn fn, void *ctx) {
    if (n_tokens <= 2)
        for (int64_t i = 0; i < n; i++) fn(ctx, i, 0);
    else
        fr_pool_run(pool, n, fn, ctx);
}

void fr_moe_forward(fr_context *c, const fr_layer *L, int64_t n, float *out) {
    const fr_hparams *hp = &c->m->hp;
    fr_pool *pool = c->pool;
    int64_t D = hp->n_embd, NE = hp->n_expert, K = hp->n_expert_used, F = hp->n_ff_exp;
    int64_t FS = F * hp->n_expert_shared;
    moe_job j = {c, L, fr_moe_route_cfg_of(hp), n * K, F, FS, n};
    fr_matmul(pool, &L->ffn_gate_inp.m, c->xn, D, n, c->router, NE, NULL, c->scratch);
    run(pool, n, n, route_task, &j);

    /* group the (token, choice) slots by expert, in token order within an expert */
    int32_t *cnt = c->ex_cnt; /* [NE + 1] */
    memset(cnt, 0, sizeof(int32_t) * (size_t)(NE + 1));
    for (int64_t i = 0; i < n * K; i++) cnt[c->sel[i] + 1]++;
    for (int64_t e = 0; e < NE; e++) cnt[e + 1] += cnt[e]; /* cnt[e]: first row of expert e */
    int32_t *fill = c->ex_fill;
    memcpy(fill, cnt, sizeof(int32_t) * (size_t)NE);
    for (int64_t t = 0; t < n; t++)
        for (int64_t k = 0; k < K; k++) {
            int32_t e = c->sel[t * K + k], row = fill[e]++;
            c->ex_tok[row] = (int32_t)t;
            c->slot[t * K + k] = row;
        }

    /* gate and up of every chosen expert, and of the shared experts */
    fr_matrix *views = c->mm_views; /* [3 * (n_expert + 1)] */
    fr_mm_job *jobs = c->mm_jobs;    /* [n_expert + 1] */
    int nj = 0;
    for (int64_t e = 0; e < NE; e++) {
        int64_t m = cnt[e + 1] - cnt[e];
        if (m == 0) continue;
        views[3 * nj] = expert_view(&L->ffn_gate_exps, e);
        views[3 * nj + 1] = expert_view(&L->ffn_up_exps, e);
        views[3 * nj + 2] = expert_view(&L->ffn_down_exps, e);
        jobs[nj] = (fr_mm_job){{&views[3 * nj], &views[3 * nj + 1]}, 2, c->xn, D, c->ex_tok + cnt[e], m,
                               {c->eg + cnt[e] * F, c->eu + cnt[e] * F}, F};
        nj++;
    }
    int n_routed = nj;
    if (L->ffn_gate_shexp.src)
        jobs[nj++] = (fr_mm_job){{&L->ffn_gate_shexp.m, &L->ffn_up_shexp.m}, 2, c->xn, D, NULL, n, {c->gate, c->up}, FS};
    /* a job converts its input once for both weights: split gate and up where their
     * activation types differ (mixed-type files) */
    int total = nj;
    for (int i = 0; i < nj; i++) {
        const fr_type_traits *g = fr_type_traits_get(jobs[i].w[0]->type), *u = fr_type_traits_get(jobs[i].w[1]->type);
        if (g->vec_dot_type == u->vec_dot_type) continue;
        c->mm_jobs_up[total] = jobs[i];
        c->mm_jobs_up[total].w[0] = jobs[i].w[1];
        c->mm_jobs_up[total].y[0] = jobs[i].y[1];
        c->mm_jobs_up[total].n_w = 1;
        jobs[i].n_w = 1;
        total++;
    }
    for (int i = nj; i < total; i++) jobs[i] = c->mm_jobs_up[i];
    fr_matmul_multi(pool, jobs, total, c->moe_scratch);
    run(pool, n, n * K + (L->ffn_gate_shexp.src ? n : 0), swiglu_task, &j);

    /* down */
    for (int i = 0; i < n_routed; i++) {
        int64_t row0 = jobs[i].x_rows - c->ex_tok;
        jobs[i] = (fr_mm_job){{&views[3 * i + 2], NULL}, 1, c->eg + row0 * F, F, NULL, jobs[i].m, {c->ey + row0 * D, NULL}, D};
    }
    if (L->ffn_gate_shexp.src)
        jobs[n_routed] = (fr_mm_job){{&L->ffn_down_shexp.m, NULL}, 1, c->gate, FS, NULL, n, {out, NULL}, D};
    fr_matmul_multi(pool, jobs, nj, c->moe_scratch);

    run(pool, n, n, combine_task, &j);
    if (L->ffn_gate_shexp.src)
        for (int64_t i = 0; i < n * D; i++) out[i] = c->moe[i] + out[i];
    else
        memcpy(out, c->moe, sizeof(float) * (size_t)(n * D));
}

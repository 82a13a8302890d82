/* test_deepseek2: DeepSeek-V2/V3 (architecture deepseek2) against independent references.
 *
 * - routing: hand-checked group-limited cases (softmax/max and sigmoid+bias/top-2-sum group
 *   scores) and random cases against a float64 re-implementation of the reference Gate;
 * - YaRN: rope frequencies and the attention scale against the reference's formulas;
 * - a float64 re-implementation of whole tiny models (MLA with YaRN, q LoRA or attn_q, dense
 *   and MoE layers, groups, bias, shared experts), prompt and decode phases;
 * - absorbed-MLA decode vs decompressed attention on the same inputs, float32 throughout;
 * - the split-MLA layout (attn_k_b/attn_v_b) written from legacy files: same logits;
 * - MTP (nextn) blocks load and are ignored; KV bytes per token of the latent cache;
 * - a prompt fed in chunks (1-token chunks included) is bit-identical to one batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "golden_util.h"
#include "model/context_impl.h"
#include "model/model.h"
#include "model/moe.h"
#include "model/synth.h"

static char g_dir[256];

/* ------------------------------------------------------------------------------------ */
/* float64 reference of the routing (DeepSeek-V3 inference/model.py, Gate.forward)        */
/* ------------------------------------------------------------------------------------ */

typedef struct {
    int n_expert, n_used, n_groups, n_group_used;
    int sigmoid, norm;
    double scale;
} route_ref_cfg;

static void route_ref(const route_ref_cfg *c, const float *logits, const float *bias, int *sel, double *w) {
    int E = c->n_expert;
    double score[256], choice[256];
    if (c->sigmoid) {
        for (int e = 0; e < E; e++) score[e] = 1.0 / (1.0 + exp(-(double)logits[e]));
    } else {
        double mx = -INFINITY, s = 0;
        for (int e = 0; e < E; e++) mx = logits[e] > mx ? logits[e] : mx;
        for (int e = 0; e < E; e++) s += score[e] = exp((double)logits[e] - mx);
        for (int e = 0; e < E; e++) score[e] /= s;
    }
    for (int e = 0; e < E; e++) choice[e] = score[e] + (bias ? bias[e] : 0.0);
    if (c->n_groups > 1) {
        int per = E / c->n_groups;
        double gs[64];
        int keep[64] = {0};
        for (int g = 0; g < c->n_groups; g++) {
            /* sort the group's scores descending (insertion sort of a copy) */
            double v[256] = {0};
            for (int i = 0; i < per; i++) {
                double x = choice[g * per + i];
                int k = i;
                while (k > 0 && v[k - 1] < x) v[k] = v[k - 1], k--;
                v[k] = x;
            }
            gs[g] = bias ? v[0] + (per > 1 ? v[1] : 0.0) : v[0];
        }
        for (int k = 0; k < c->n_group_used; k++) {
            int best = -1;
            for (int g = 0; g < c->n_groups; g++)
                if (!keep[g] && (best < 0 || gs[g] > gs[best])) best = g;
            keep[best] = 1;
        }
        for (int e = 0; e < E; e++)
            if (!keep[e / per]) choice[e] = -INFINITY;
    }
    for (int k = 0; k < c->n_used; k++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (choice[e] != -INFINITY && (best < 0 || choice[e] > choice[best])) best = e;
        sel[k] = best;
        w[k] = score[best];
        choice[best] = -INFINITY;
    }
    double sum = 0;
    for (int k = 0; k < c->n_used; k++) sum += w[k];
    for (int k = 0; k < c->n_used; k++) w[k] = (c->norm ? w[k] / sum : w[k]) * c->scale;
}

static fr_moe_route_cfg to_cfg(const route_ref_cfg *r) {
    fr_moe_route_cfg c = {r->n_expert, r->n_used, r->n_groups, r->n_group_used,
                          r->sigmoid ? FR_GATING_SIGMOID : FR_GATING_SOFTMAX, r->norm != 0, (float)r->scale};
    return c;
}

static void test_routing(void) {
    float scratch[4 * 256];
    int32_t sel[16];
    float w[16];
    /* 1. softmax, no bias, 4 groups of 2, 2 groups used, top 3. A group scores its best
     * expert: g0 3.0, g1 2.9, g2 2.85 -> groups 0 and 1. The global top 3 would be
     * {0, 2, 4}; group-limited routing picks {0, 2, 3}. No renormalisation. */
    {
        float lg[8] = {3.0f, -5.0f, 2.9f, 2.8f, 2.85f, 2.84f, -5.0f, -5.0f};
        route_ref_cfg rc = {8, 3, 4, 2, 0, 0, 1.0};
        fr_moe_route_cfg cfg = to_cfg(&rc);
        fr_moe_route(&cfg, lg, NULL, sel, w, scratch);
        CHECK(sel[0] == 0 && sel[1] == 2 && sel[2] == 3, "softmax groups: chose %d %d %d (expected 0 2 3)", sel[0],
              sel[1], sel[2]);
        double z = 0;
        for (int e = 0; e < 8; e++) z += exp((double)lg[e] - 3.0);
        CHECK_NEAR(w[0], 1.0 / z, 1e-6, "weight of expert 0 = its softmax probability");
        CHECK_NEAR(w[2], exp(2.8 - 3.0) / z, 1e-6, "weight of expert 3");
        cfg.n_groups = 1; /* without groups: the global top 3 */
        fr_moe_route(&cfg, lg, NULL, sel, w, scratch);
        CHECK(sel[0] == 0 && sel[1] == 2 && sel[2] == 4, "softmax no groups: chose %d %d %d (expected 0 2 4)", sel[0],
              sel[1], sel[2]);
    }
    /* 2. sigmoid + bias, 2 groups of 4, 1 group used, top 2, normalised, scale 2.5. Biased
     * scores g0 {0.9, 0.1, 0.1, 0.1}, g1 {0.8, 0.7, 0.1, 0.1}: by best score group 0 would
     * win, by the sum of the two best (the rule with a bias) group 1 does -> experts 4, 5.
     * The weights come from the unbiased scores. */
    {
        float bias[8] = {0.3f, -0.2f, 0.0f, 0.0f, 0.1f, 0.2f, 0.0f, 0.0f};
        float want[8] = {0.9f, 0.1f, 0.1f, 0.1f, 0.8f, 0.7f, 0.1f, 0.1f}, lg[8];
        for (int e = 0; e < 8; e++) {
            double s = want[e] - bias[e];
            lg[e] = (float)log(s / (1.0 - s));
        }
        route_ref_cfg rc = {8, 2, 2, 1, 1, 1, 2.5};
        fr_moe_route_cfg cfg = to_cfg(&rc);
        fr_moe_route(&cfg, lg, bias, sel, w, scratch);
        CHECK(sel[0] == 4 && sel[1] == 5, "sigmoid+bias groups: chose %d %d (expected 4 5)", sel[0], sel[1]);
        double s4 = 0.8 - 0.1, s5 = 0.7 - 0.2; /* unbiased scores */
        CHECK_NEAR(w[0], 2.5 * s4 / (s4 + s5), 1e-5, "normalised, scaled weight of expert 4");
        CHECK_NEAR(w[1], 2.5 * s5 / (s4 + s5), 1e-5, "normalised, scaled weight of expert 5");
        /* the bias steers the choice only: without groups, biased top 2 are 0 (0.9) and 4 (0.8) */
        cfg.n_groups = 1;
        fr_moe_route(&cfg, lg, bias, sel, w, scratch);
        CHECK(sel[0] == 0 && sel[1] == 4, "sigmoid+bias: chose %d %d (expected 0 4)", sel[0], sel[1]);
        double s0 = 0.9 - 0.3;
        CHECK_NEAR(w[0], 2.5 * s0 / (s0 + s4), 1e-5, "weight from the unbiased score");
    }
    /* 3. random cases against the float64 reference */
    test_rng rng = {12345};
    int mismatches = 0;
    double max_dw = 0;
    for (int it = 0; it < 2000; it++) {
        static const int groups[] = {1, 2, 4, 8};
        route_ref_cfg rc;
        rc.n_groups = groups[test_rng_next(&rng) % 4];
        int per = 1 + (int)(test_rng_next(&rng) % 8);
        rc.n_expert = rc.n_groups * per;
        rc.n_group_used = 1 + (int)(test_rng_next(&rng) % (uint64_t)rc.n_groups);
        int avail = rc.n_group_used * per;
        rc.n_used = 1 + (int)(test_rng_next(&rng) % (uint64_t)(avail < 8 ? avail : 8));
        rc.sigmoid = (int)(test_rng_next(&rng) % 2);
        rc.norm = (int)(test_rng_next(&rng) % 2);
        rc.scale = 0.5 + 2.0 * (test_rng_float(&rng) + 1.0);
        int use_bias = (int)(test_rng_next(&rng) % 2);
        float lg[64], bias[64];
        for (int e = 0; e < rc.n_expert; e++) {
            lg[e] = 3.0f * test_rng_float(&rng);
            bias[e] = 0.2f * test_rng_float(&rng);
        }
        int rsel[16];
        double rw[16];
        route_ref(&rc, lg, use_bias ? bias : NULL, rsel, rw);
        fr_moe_route_cfg cfg = to_cfg(&rc);
        fr_moe_route(&cfg, lg, use_bias ? bias : NULL, sel, w, scratch);
        for (int k = 0; k < rc.n_used; k++) {
            if (sel[k] != rsel[k]) mismatches++;
            double d = fabs(w[k] - rw[k]) / (fabs(rw[k]) + 1e-3);
            if (d > max_dw) max_dw = d;
        }
    }
    CHECK(mismatches == 0, "random routing: %d choices differ from the float64 reference", mismatches);
    CHECK(max_dw < 1e-5, "random routing: max relative weight error %g", max_dw);
}

/* ------------------------------------------------------------------------------------ */
/* YaRN                                                                                   */
/* ------------------------------------------------------------------------------------ */

/* DeepSeek's precompute_freqs_cis, in float64 */
static double yarn_ref_freq(int i, int dim, double base, double factor, int orig, double beta_fast, double beta_slow) {
    double f = 1.0 / pow(base, 2.0 * i / dim);
    if (factor <= 0) return f;
    double cd_fast = dim * log(orig / (beta_fast * 2 * M_PI)) / (2 * log(base));
    double cd_slow = dim * log(orig / (beta_slow * 2 * M_PI)) / (2 * log(base));
    double low = floor(cd_fast), high = ceil(cd_slow);
    if (low < 0) low = 0;
    if (high > dim - 1) high = dim - 1;
    if (low == high) high += 0.001;
    double ramp = (i - low) / (high - low);
    ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
    double smooth = 1 - ramp;
    return f / factor * (1 - smooth) + f * smooth;
}

static void test_yarn_freqs(void) {
    fr_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.arch = FR_ARCH_DEEPSEEK2;
    hp.n_rot = 64;
    hp.rope_freq_base = 10000.0f;
    hp.rope_freq_scale = 1.0f;
    double f[64];
    fr_rope_inv_freq(&hp, f);
    double md = 0;
    for (int i = 0; i < 32; i++) md = fmax(md, fabs(f[i] - yarn_ref_freq(i, 64, 10000, 0, 0, 0, 0)) / f[i]);
    CHECK(md < 1e-12, "plain rope frequencies: max relative error %g", md);
    /* V3's settings: factor 40 from 4096, beta 32/1 */
    hp.yarn = true;
    hp.yarn_factor = 40.0f;
    hp.yarn_orig_ctx = 4096;
    hp.yarn_beta_fast = 32.0f;
    hp.yarn_beta_slow = 1.0f;
    fr_rope_inv_freq(&hp, f);
    md = 0;
    int interp = 0, extrap = 0;
    for (int i = 0; i < 32; i++) {
        double r = yarn_ref_freq(i, 64, 10000, 40, 4096, 32, 1);
        md = fmax(md, fabs(f[i] - r) / r);
        double plain = 1.0 / pow(10000.0, 2.0 * i / 64);
        if (fabs(f[i] - plain / 40) < 1e-15) interp++;
        if (fabs(f[i] - plain) < 1e-15) extrap++;
    }
    CHECK(md < 1e-12, "YaRN frequencies: max relative error %g", md);
    CHECK(interp > 0 && extrap > 0, "YaRN ramp: %d pairs interpolated, %d kept (expected some of each)", interp, extrap);
}

/* ------------------------------------------------------------------------------------ */
/* float64 reference forward pass of a deepseek2 model                                    */
/* ------------------------------------------------------------------------------------ */

static double *tens(const fr_tensor *t) {
    int64_t n = t->m.n_in * t->m.n_out;
    double *d = malloc(sizeof(double) * (size_t)n);
    float *row = malloc(sizeof(float) * (size_t)t->m.n_in);
    const fr_type_traits *tt = fr_type_traits_get(t->m.type);
    for (int64_t r = 0; r < t->m.n_out; r++) {
        tt->to_float((const char *)t->m.data + (size_t)r * t->m.row_bytes, row, t->m.n_in);
        for (int64_t i = 0; i < t->m.n_in; i++) d[r * t->m.n_in + i] = row[i];
    }
    free(row);
    return d;
}

/* y[r] = sum_i W[r][i] x[i], W: rows x n */
static void mv(const double *W, const double *x, int64_t rows, int64_t n, double *y) {
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += W[r * n + i] * x[i];
        y[r] = s;
    }
}

static void rms(const double *x, const double *w, int64_t n, double eps, double *y) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    double sc = 1.0 / sqrt(ss / n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * sc * (w ? w[i] : 1.0);
}

static void swiglu_ffn(const double *Wg, const double *Wu, const double *Wd, int64_t E, int64_t F, const double *x,
                       double *y) {
    double *g = malloc(sizeof(double) * (size_t)F), *u = malloc(sizeof(double) * (size_t)F);
    mv(Wg, x, F, E, g);
    mv(Wu, x, F, E, u);
    for (int64_t i = 0; i < F; i++) g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
    mv(Wd, g, E, F, y);
    free(g);
    free(u);
}

typedef struct {
    const fr_synth_ds *d;
    double mscale_all; /* yarn_log_mul / 0.1 */
} ref_spec;

/* logits [T][V] for tokens at positions 0..T-1 */
static void ref_forward(const fr_model *m, const ref_spec *rs, const int32_t *toks, int T, double *logits) {
    const fr_hparams *hp = &m->hp;
    const fr_synth_ds *d = rs->d;
    int64_t E = hp->n_embd, H = hp->n_head, nope = d->qk_nope, rope = d->qk_rope, dk = nope + rope, dv = d->v_head;
    int64_t R = d->kv_lora, V = hp->n_vocab;
    double eps = hp->rms_eps;
    double *h = calloc((size_t)(T * E), sizeof(double));
    double *emb = tens(&m->w.tok_embd);
    for (int t = 0; t < T; t++) memcpy(h + t * E, emb + toks[t] * E, sizeof(double) * (size_t)E);
    free(emb);
    /* YaRN frequencies and the attention scale, from the reference's formulas */
    double freq[256];
    for (int i = 0; i < rope / 2; i++)
        freq[i] = yarn_ref_freq(i, (int)rope, d->rope_base, d->yarn_factor, (int)d->yarn_orig_ctx, 32, 1);
    double scale = 1.0 / sqrt((double)dk);
    if (d->yarn_factor > 0) {
        double ms = 0.1 * rs->mscale_all * log(d->yarn_factor) + 1.0;
        scale *= ms * ms;
    }
    double *x = malloc(sizeof(double) * (size_t)E), *y = malloc(sizeof(double) * (size_t)E);
    double *q = malloc(sizeof(double) * (size_t)(H * dk)), *tmp = malloc(sizeof(double) * (size_t)(R + rope + 4096));
    double *C = malloc(sizeof(double) * (size_t)(T * R)), *KPE = malloc(sizeof(double) * (size_t)(T * rope));
    double *Q = malloc(sizeof(double) * (size_t)(T * H * dk)), *O = malloc(sizeof(double) * (size_t)(H * dv));
    double *sc = malloc(sizeof(double) * (size_t)T);
    for (int64_t l = 0; l < hp->n_layer; l++) {
        const fr_layer *L = &m->w.layers[l];
        double *an = tens(&L->attn_norm), *wkva = tens(&L->wkv_a), *kvn = tens(&L->kv_a_norm), *wkvb = tens(&L->wkv_b);
        double *wo = tens(&L->wo), *fn = tens(&L->ffn_norm);
        double *wqa = NULL, *qan = NULL, *wqb = NULL, *wq = NULL;
        if (d->q_lora) wqa = tens(&L->wq_a), qan = tens(&L->q_a_norm), wqb = tens(&L->wq_b);
        else wq = tens(&L->wq);
        for (int t = 0; t < T; t++) {
            rms(h + t * E, an, E, eps, x);
            if (d->q_lora) {
                mv(wqa, x, d->q_lora, E, tmp);
                rms(tmp, qan, d->q_lora, eps, tmp);
                mv(wqb, tmp, H * dk, d->q_lora, Q + t * H * dk);
            } else {
                mv(wq, x, H * dk, E, Q + t * H * dk);
            }
            mv(wkva, x, R + rope, E, tmp);
            rms(tmp, kvn, R, eps, C + t * R);
            for (int64_t i = 0; i < rope; i++) KPE[t * rope + i] = tmp[R + i];
            /* rope on pairs (2i, 2i+1) */
            for (int64_t i = 0; i < rope / 2; i++) {
                double th = t * freq[i], cs = cos(th), sn = sin(th);
                double *k = KPE + t * rope;
                double a = k[2 * i], b = k[2 * i + 1];
                k[2 * i] = a * cs - b * sn;
                k[2 * i + 1] = a * sn + b * cs;
                for (int64_t hh = 0; hh < H; hh++) {
                    double *qp = Q + t * H * dk + hh * dk + nope;
                    a = qp[2 * i], b = qp[2 * i + 1];
                    qp[2 * i] = a * cs - b * sn;
                    qp[2 * i + 1] = a * sn + b * cs;
                }
            }
        }
        /* naive attention over decompressed keys and values (reference attn_impl "naive") */
        for (int t = 0; t < T; t++) {
            for (int64_t hh = 0; hh < H; hh++) {
                const double *qh = Q + t * H * dk + hh * dk;
                double mx = -INFINITY;
                for (int s = 0; s <= t; s++) {
                    double dot = 0;
                    for (int64_t i = 0; i < nope; i++) {
                        const double *wr = wkvb + (hh * (nope + dv) + i) * R;
                        double kn = 0;
                        for (int64_t c = 0; c < R; c++) kn += wr[c] * C[s * R + c];
                        dot += qh[i] * kn;
                    }
                    for (int64_t i = 0; i < rope; i++) dot += qh[nope + i] * KPE[s * rope + i];
                    sc[s] = dot * scale;
                    mx = sc[s] > mx ? sc[s] : mx;
                }
                double z = 0;
                for (int s = 0; s <= t; s++) z += sc[s] = exp(sc[s] - mx);
                for (int64_t i = 0; i < dv; i++) {
                    const double *wr = wkvb + (hh * (nope + dv) + nope + i) * R;
                    double o = 0;
                    for (int s = 0; s <= t; s++) {
                        double v = 0;
                        for (int64_t c = 0; c < R; c++) v += wr[c] * C[s * R + c];
                        o += sc[s] / z * v;
                    }
                    O[hh * dv + i] = o;
                }
            }
            mv(wo, O, E, H * dv, y);
            for (int64_t i = 0; i < E; i++) h[t * E + i] += y[i];
        }
        /* FFN */
        bool moe = L->ffn_gate_inp.src != NULL;
        double *wg = NULL, *wu = NULL, *wd = NULL, *gi = NULL, *eg = NULL, *eu = NULL, *ed = NULL, *sg = NULL,
               *su = NULL, *sd = NULL;
        float *bias = NULL;
        if (!moe) {
            wg = tens(&L->w_gate), wu = tens(&L->w_up), wd = tens(&L->w_down);
        } else {
            gi = tens(&L->ffn_gate_inp), eg = tens(&L->ffn_gate_exps), eu = tens(&L->ffn_up_exps),
            ed = tens(&L->ffn_down_exps);
            if (L->ffn_gate_shexp.src) sg = tens(&L->ffn_gate_shexp), su = tens(&L->ffn_up_shexp), sd = tens(&L->ffn_down_shexp);
            bias = L->exp_probs_b_f;
        }
        int64_t F = d->n_ff_exp, NE = d->n_expert;
        for (int t = 0; t < T; t++) {
            rms(h + t * E, fn, E, eps, x);
            if (!moe) {
                swiglu_ffn(wg, wu, wd, E, d->n_ff, x, y);
            } else {
                double lgd[256];
                float lg[256];
                mv(gi, x, NE, E, lgd);
                for (int e = 0; e < NE; e++) lg[e] = (float)lgd[e];
                route_ref_cfg rc = {(int)NE, (int)d->n_expert_used, (int)d->n_groups, (int)d->n_group_used,
                                    d->gating == FR_GATING_SIGMOID, d->weights_norm, d->weights_scale};
                int sel[16];
                double w[16];
                route_ref(&rc, lg, bias, sel, w);
                for (int64_t i = 0; i < E; i++) y[i] = 0;
                double *ye = malloc(sizeof(double) * (size_t)E);
                for (int k = 0; k < rc.n_used; k++) {
                    int e = sel[k];
                    swiglu_ffn(eg + e * F * E, eu + e * F * E, ed + e * E * F, E, F, x, ye);
                    for (int64_t i = 0; i < E; i++) y[i] += w[k] * ye[i];
                }
                if (sg) {
                    swiglu_ffn(sg, su, sd, E, F * d->n_expert_shared, x, ye);
                    for (int64_t i = 0; i < E; i++) y[i] += ye[i];
                }
                free(ye);
            }
            for (int64_t i = 0; i < E; i++) h[t * E + i] += y[i];
        }
        free(an), free(wkva), free(kvn), free(wkvb), free(wo), free(fn), free(wqa), free(qan), free(wqb), free(wq);
        free(wg), free(wu), free(wd), free(gi), free(eg), free(eu), free(ed), free(sg), free(su), free(sd);
    }
    double *on = tens(&m->w.output_norm), *out = tens(&m->w.output);
    for (int t = 0; t < T; t++) {
        rms(h + t * E, on, E, eps, x);
        mv(out, x, V, E, logits + (size_t)t * V);
    }
    free(on), free(out), free(h), free(x), free(y), free(q), free(tmp), free(C), free(KPE), free(Q), free(O), free(sc);
}

static fr_model *load(const char *path) {
    fr_model *m = NULL;
    fr_error err;
    if (fr_model_load(path, &m, &err) != FR_OK) {
        CHECK(0, "load %s: %s", path, err.msg);
        return NULL;
    }
    return m;
}

static fr_context *ctx_new(const fr_model *m, int kv_type, int threads, int64_t n_batch) {
    fr_context_params p = fr_context_default_params();
    p.n_ctx = 256;
    p.kv_type = kv_type;
    p.n_threads = threads;
    p.n_batch = n_batch;
    fr_context *c = NULL;
    fr_error err;
    if (fr_context_new(m, &p, &c, &err) != FR_OK) CHECK(0, "context: %s", err.msg);
    return c;
}

/* eval tokens [0, T) in chunks of `chunk` in the given phase; logits of every row */
static int eval_rows(fr_context *c, const int32_t *toks, int T, int chunk, fr_phase ph, float *logits, int64_t V) {
    fr_error err;
    fr_context_set_phase(c, ph);
    for (int b = 0; b < T; b += chunk) {
        int n = T - b < chunk ? T - b : chunk;
        if (fr_context_eval(c, toks + b, n, logits + (size_t)b * V, 0, &err) != FR_OK) {
            CHECK(0, "eval: %s", err.msg);
            return -1;
        }
    }
    return 0;
}

static void write_ds(const fr_synth_ds *d, const char *type, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", g_dir, name);
    fr_error err;
    fr_status st = fr_synth_deepseek2(d, type, 42, NULL, path, &err);
    CHECK(st == FR_OK, "synth %s: %s", name, st == FR_OK ? "" : err.msg);
}

/* V3-style tiny: q LoRA, YaRN (active from position 0: the ramp changes frequencies),
 * 8 experts in 4 groups (2 used), sigmoid + bias, norm, scale 2.5, 1 shared, 1 dense layer */
static const fr_synth_ds k_tiny_v3 = {
    .name = "tiny-v3", .n_vocab = 300, .n_ctx = 4096, .n_embd = 64, .n_layer = 3, .n_head = 4, .n_ff = 96,
    .q_lora = 48, .kv_lora = 32, .qk_nope = 16, .qk_rope = 16, .v_head = 24, .n_expert = 8, .n_expert_used = 2,
    .n_expert_shared = 1, .n_ff_exp = 32, .n_dense_lead = 1, .n_groups = 4, .n_group_used = 2,
    .gating = FR_GATING_SIGMOID, .exp_bias = true, .weights_norm = true, .weights_scale = 2.5, .rope_base = 10000.0,
    .rms_eps = 1e-6, .yarn_factor = 4.0, .yarn_orig_ctx = 32, .yarn_log_mul = 0.1, .w_scale = 0.25f};
/* V2-style tiny: attn_q, softmax, group max (no bias), 2 shared, no renormalisation */
static const fr_synth_ds k_tiny_v2 = {
    .name = "tiny-v2", .n_vocab = 300, .n_ctx = 4096, .n_embd = 64, .n_layer = 3, .n_head = 4, .n_ff = 96,
    .q_lora = 0, .kv_lora = 32, .qk_nope = 16, .qk_rope = 8, .v_head = 16, .n_expert = 8, .n_expert_used = 3,
    .n_expert_shared = 2, .n_ff_exp = 32, .n_dense_lead = 1, .n_groups = 4, .n_group_used = 2,
    .gating = FR_GATING_SOFTMAX, .exp_bias = false, .weights_norm = false, .weights_scale = 1.0, .rope_base = 10000.0,
    .rms_eps = 1e-6, .yarn_factor = 40.0, .yarn_orig_ctx = 16, .yarn_log_mul = 0.0707, .w_scale = 0.25f};

static void test_reference_model(const fr_synth_ds *d) {
    char path[512];
    write_ds(d, "F32", d->name, path, sizeof path);
    fr_model *m = load(path);
    if (!m) return;
    CHECK(m->hp.yarn && fabs(m->hp.yarn_factor - d->yarn_factor) < 1e-6, "%s: YaRN declared", d->name);
    enum { T = 40 };
    int32_t toks[T];
    test_rng rng = {99};
    for (int i = 0; i < T; i++) toks[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)m->hp.n_vocab);
    int64_t V = m->hp.n_vocab;
    double *ref = malloc(sizeof(double) * (size_t)(T * V));
    ref_forward(m, &(ref_spec){d, d->yarn_log_mul / 0.1}, toks, T, ref);
    float *got = malloc(sizeof(float) * (size_t)(T * V));
    for (int ph = 0; ph < 2; ph++) {
        /* prompt: one batch; decode: 8 prompt tokens then one token per step */
        fr_context *c = ctx_new(m, FR_TYPE_F32, 2, 64);
        if (!c) break;
        if (ph == 0) eval_rows(c, toks, T, T, FR_PHASE_PROMPT, got, V);
        else {
            eval_rows(c, toks, 8, 8, FR_PHASE_PROMPT, got, V);
            eval_rows(c, toks + 8, T - 8, 1, FR_PHASE_DECODE, got + 8 * V, V);
        }
        double mx = 0, md = 0;
        int top1 = 0;
        for (int t = 0; t < T; t++) {
            int a = 0, b = 0;
            for (int64_t v = 0; v < V; v++) {
                md = fmax(md, fabs(got[t * V + v] - ref[t * V + v]));
                mx = fmax(mx, fabs(ref[t * V + v]));
                if (ref[t * V + v] > ref[t * V + a]) a = (int)v;
                if (got[t * V + v] > got[t * V + b]) b = (int)v;
            }
            top1 += a == b;
        }
        printf("  %s vs float64 reference (%s phase): max |d| %.2e of max |logit| %.2f, top-1 %d/%d\n", d->name,
               ph ? "decode" : "prompt", md, mx, top1, T);
        CHECK(md <= 1e-4 * mx, "%s (%s): max |dlogit| %g > 1e-4 * %g", d->name, ph ? "decode" : "prompt", md, mx);
        CHECK(top1 == T, "%s: top-1 differs on %d rows", d->name, T - top1);
        fr_context_free(c);
    }
    free(ref);
    free(got);
    fr_model_free(m);
}

/* absorbed decode vs decompressed attention, float32, on one layer's attention output */
static void test_absorbed_vs_decompressed(void) {
    fr_synth_ds d = k_tiny_v3;
    d.name = "one-layer";
    d.n_layer = 1;
    d.n_dense_lead = 1;
    char path[512];
    write_ds(&d, "F32", "one-layer.gguf", path, sizeof path);
    fr_model *m = load(path);
    if (!m) return;
    enum { T = 48 };
    int32_t toks[T];
    test_rng rng = {7};
    for (int i = 0; i < T; i++) toks[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)m->hp.n_vocab);
    int64_t od = m->hp.n_head * m->hp.head_dim_v;
    fr_context *a = ctx_new(m, FR_TYPE_F32, 2, 64), *b = ctx_new(m, FR_TYPE_F32, 1, 64);
    if (!a || !b) return;
    fr_error err;
    double worst = 0, mx = 0;
    /* both contexts hold the same latent cache; the next token goes through either path */
    fr_context_eval(a, toks, 4, NULL, 4, &err);
    fr_context_eval(b, toks, 4, NULL, 4, &err);
    fr_context_set_phase(a, FR_PHASE_PROMPT);
    fr_context_set_phase(b, FR_PHASE_DECODE);
    for (int t = 4; t < T; t++) {
        fr_context_eval(a, toks + t, 1, NULL, 1, &err);
        fr_context_eval(b, toks + t, 1, NULL, 1, &err);
        for (int64_t i = 0; i < od; i++) {
            worst = fmax(worst, fabs(a->attn[i] - b->attn[i]));
            mx = fmax(mx, fabs(a->attn[i]));
        }
    }
    printf("  absorbed vs decompressed attention (float32): max |d| %.2e, max |out| %.3f\n", worst, mx);
    CHECK(mx > 0 && worst <= 1e-4 * mx, "absorbed MLA: max |d| %g > 1e-4 * max |out| %g", worst, mx);
    fr_context_free(a);
    fr_context_free(b);
    fr_model_free(m);
}

/* ------------------------------------------------------------------------------------ */
/* split-MLA layout                                                                       */
/* ------------------------------------------------------------------------------------ */

/* Copy a legacy file to the split layout: attn_kv_b -> attn_k_b (W_UK transposed per head)
 * + attn_v_b, and the metadata the newer converters write. F16/F32 tensors only. */
static int write_split_copy(const char *src_path, const char *dst_path) {
    gguf_file *f;
    fr_error err;
    if (gguf_open(src_path, &f, &err) != FR_OK) {
        CHECK(0, "%s", err.msg);
        return -1;
    }
    int64_t H, nope, dv, r, rope, kl, vl;
    gguf_get_int(f, "deepseek2.attention.head_count", &H, &err);
    gguf_get_int(f, "deepseek2.attention.kv_lora_rank", &r, &err);
    gguf_get_int(f, "deepseek2.rope.dimension_count", &rope, &err);
    gguf_get_int(f, "deepseek2.attention.key_length", &kl, &err);
    gguf_get_int(f, "deepseek2.attention.value_length", &vl, &err);
    nope = kl - rope;
    dv = vl;
    gguf_writer *w = gguf_writer_new();
    const char *skip[] = {"deepseek2.attention.head_count_kv", "deepseek2.attention.key_length",
                          "deepseek2.attention.value_length", NULL};
    gguf_writer_copy_kv(w, f, NULL, skip);
    gguf_writer_set_u32(w, "deepseek2.attention.head_count_kv", 1);
    gguf_writer_set_u32(w, "deepseek2.attention.key_length", (uint32_t)(r + rope));
    gguf_writer_set_u32(w, "deepseek2.attention.value_length", (uint32_t)r);
    gguf_writer_set_u32(w, "deepseek2.attention.key_length_mla", (uint32_t)kl);
    gguf_writer_set_u32(w, "deepseek2.attention.value_length_mla", (uint32_t)vl);
    void *bufs[256];
    int nb = 0, rc = 0;
    for (int64_t ti = 0; ti < gguf_n_tensors(f) && rc == 0; ti++) {
        const gguf_tensor *t = gguf_tensor_at(f, ti);
        const char *kvb = strstr(t->name, "attn_kv_b.weight");
        if (!kvb) {
            if (gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, NULL, NULL, &err) != FR_OK) rc = -1;
            continue;
        }
        if (t->type != FR_TYPE_F16 && t->type != FR_TYPE_F32) {
            CHECK(0, "split copy: %s is %s (F16/F32 only)", t->name, fr_type_name(t->type));
            rc = -1;
            break;
        }
        size_t es = t->type == FR_TYPE_F16 ? 2 : 4;
        char *kb = malloc(es * (size_t)(nope * r * H)), *vb = malloc(es * (size_t)(r * dv * H));
        const char *src = t->data;
        /* kv_b rows: (h, j < nope + dv) of r values. k_b[h][c][i] = kv_b(h, i)[c]; v_b[h][i][c] = kv_b(h, nope + i)[c] */
        for (int64_t h = 0; h < H; h++) {
            for (int64_t i = 0; i < nope; i++)
                for (int64_t c = 0; c < r; c++)
                    memcpy(kb + es * (size_t)((h * r + c) * nope + i), src + es * (size_t)((h * (nope + dv) + i) * r + c), es);
            memcpy(vb + es * (size_t)(h * dv * r), src + es * (size_t)((h * (nope + dv) + nope) * r), es * (size_t)(dv * r));
        }
        bufs[nb++] = kb;
        bufs[nb++] = vb;
        char name[300];
        int blk = atoi(t->name + 4);
        int64_t nek[3] = {nope, r, H}, nev[3] = {r, dv, H};
        snprintf(name, sizeof name, "blk.%d.attn_k_b.weight", blk);
        if (gguf_writer_add_tensor(w, name, t->type, 3, nek, kb, NULL, NULL, &err) != FR_OK) rc = -1;
        snprintf(name, sizeof name, "blk.%d.attn_v_b.weight", blk);
        if (gguf_writer_add_tensor(w, name, t->type, 3, nev, vb, NULL, NULL, &err) != FR_OK) rc = -1;
    }
    if (rc == 0 && gguf_writer_write(w, dst_path, 32, &err) != FR_OK) rc = -1;
    CHECK(rc == 0, "split copy of %s: %s", src_path, rc ? err.msg : "");
    for (int i = 0; i < nb; i++) free(bufs[i]);
    gguf_writer_free(w);
    gguf_close(f);
    return rc;
}

static void compare_split(const char *legacy, const char *label) {
    char split[600];
    snprintf(split, sizeof split, "%s/split-%s", g_dir, label);
    if (write_split_copy(legacy, split) != 0) return;
    fr_model *a = load(legacy), *b = load(split);
    if (!a || !b) {
        fr_model_free(a);
        fr_model_free(b);
        return;
    }
    CHECK(b->hp.mla_split_meta && b->w.layers[0].wk_b.src && !b->w.layers[0].wkv_b.src, "%s: split layout bound", label);
    CHECK(fr_kv_bytes_per_token(&a->hp, FR_TYPE_F16) == fr_kv_bytes_per_token(&b->hp, FR_TYPE_F16),
          "%s: same latent cache size", label);
    enum { T = 48, G = 8 };
    int64_t V = a->hp.n_vocab;
    int32_t toks[T + G];
    test_rng rng = {5};
    for (int i = 0; i < T + G; i++) toks[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)V);
    float *la = malloc(sizeof(float) * (size_t)((T + G) * V)), *lb = malloc(sizeof(float) * (size_t)((T + G) * V));
    fr_model *ms[2] = {a, b};
    float *ls[2] = {la, lb};
    for (int k = 0; k < 2; k++) {
        fr_context *c = ctx_new(ms[k], FR_TYPE_F16, 2, 512);
        if (!c) break;
        eval_rows(c, toks, T, T, FR_PHASE_PROMPT, ls[k], V);
        eval_rows(c, toks + T, G, 1, FR_PHASE_DECODE, ls[k] + (size_t)T * V, V);
        fr_context_free(c);
    }
    golden_stats st = {0};
    for (int t = 0; t < T + G; t++) golden_row(&st, la + (size_t)t * V, lb + (size_t)t * V, (int)V, 0.0);
    double kl = st.mean_kl / st.rows;
    printf("  split vs legacy %-22s rows=%d meanKL=%.2e max=%.2e top1 %d/%d\n", label, st.rows, kl, st.max_abs,
           st.top1_checked - st.top1_mismatch, st.top1_checked);
    CHECK(kl <= 1e-6 && st.nonfinite == 0, "%s: split layout mean KL %g > 1e-6", label, kl);
    CHECK(st.top1_mismatch == 0 && st.top1_checked == T + G, "%s: split layout top-1 differs on %d rows", label,
          st.top1_mismatch);
    free(la);
    free(lb);
    fr_model_free(a);
    fr_model_free(b);
}

static void test_split_layout(void) {
    /* synthetic legacy F16 files (always), the shared F16 fixtures (when present) */
    char path[512];
    fr_synth_ds d = k_tiny_v3;
    write_ds(&d, "F16", "legacy-v3.gguf", path, sizeof path);
    compare_split(path, "tiny-v3-F16");
    d = k_tiny_v2;
    write_ds(&d, "F16", "legacy-v2.gguf", path, sizeof path);
    compare_split(path, "tiny-v2-F16");
    const char *shared = test_shared_dir();
    if (!shared) {
        printf("  SKIPPED: split copies of ds3-tiny-F16 / ds2lite-tiny-F16 (../shared not found)\n");
        return;
    }
    snprintf(path, sizeof path, "%s/models/ds3-tiny-F16.gguf", shared);
    compare_split(path, "ds3-tiny-F16.gguf");
    snprintf(path, sizeof path, "%s/models/ds2lite-tiny-F16.gguf", shared);
    compare_split(path, "ds2lite-tiny-F16.gguf");
    /* the split writer of synth loads too */
    d = k_tiny_v2;
    d.split = true;
    write_ds(&d, "Q8_0", "synth-split.gguf", path, sizeof path);
    fr_model *m = load(path);
    CHECK(m && m->w.layers[1].wv_b.src && m->w.layers[1].kdec.w.data, "synth split layout loads");
    fr_model_free(m);
}

/* ------------------------------------------------------------------------------------ */
/* MTP, KV size, chunking                                                                 */
/* ------------------------------------------------------------------------------------ */

static void test_mtp_and_kv(void) {
    char p1[512], p2[512];
    fr_synth_ds d = k_tiny_v3;
    write_ds(&d, "F16", "nomtp.gguf", p1, sizeof p1);
    d.n_nextn = 1;
    write_ds(&d, "F16", "mtp.gguf", p2, sizeof p2);
    fr_model *a = load(p1), *b = load(p2);
    if (a && b) {
        CHECK(b->hp.n_layer == d.n_layer && b->hp.n_nextn == 1, "MTP block: trunk %lld layers, %lld nextn",
              (long long)b->hp.n_layer, (long long)b->hp.n_nextn);
        CHECK(b->n_params > a->n_params && b->n_params_active == a->n_params_active,
              "MTP tensors count in the total, not in the active parameters");
        int64_t V = a->hp.n_vocab;
        int32_t toks[6] = {1, 2, 3, 4, 5, 6};
        float *la = malloc(sizeof(float) * (size_t)(6 * V)), *lb = malloc(sizeof(float) * (size_t)(6 * V));
        fr_context *ca = ctx_new(a, FR_TYPE_F16, 2, 64), *cb = ctx_new(b, FR_TYPE_F16, 2, 64);
        eval_rows(ca, toks, 6, 6, FR_PHASE_PROMPT, la, V);
        eval_rows(cb, toks, 6, 6, FR_PHASE_PROMPT, lb, V);
        CHECK(memcmp(la, lb, sizeof(float) * (size_t)(6 * V)) == 0, "a model with an MTP block computes the same logits");
        fr_context_free(ca);
        fr_context_free(cb);
        free(la);
        free(lb);
        /* active parameters: routed experts count n_used / n_expert */
        int64_t exp_all = 0;
        for (int64_t l = 0; l < a->hp.n_layer; l++) {
            const fr_layer *L = &a->w.layers[l];
            if (L->ffn_gate_exps.src)
                exp_all += L->ffn_gate_exps.src->n_elements + L->ffn_up_exps.src->n_elements +
                           L->ffn_down_exps.src->n_elements;
        }
        CHECK(a->n_params - a->n_params_active == exp_all / d.n_expert * (d.n_expert - d.n_expert_used),
              "active parameters exclude the unused routed experts");
    }
    fr_model_free(a);
    fr_model_free(b);

    /* the latent cache: (kv_lora + rope) values per token and layer */
    fr_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.arch = FR_ARCH_DEEPSEEK2;
    hp.n_lora_kv = 512;
    hp.n_rot = 64;
    hp.n_layer = 27; /* DeepSeek-V2-Lite */
    CHECK(fr_kv_bytes_per_token(&hp, FR_TYPE_F16) == 576 * 2 * 27, "V2-Lite KV bytes/token %zu (expected %d)",
          fr_kv_bytes_per_token(&hp, FR_TYPE_F16), 576 * 2 * 27);
    hp.n_layer = 61; /* DeepSeek-V3/R1 */
    CHECK(fr_kv_bytes_per_token(&hp, FR_TYPE_F16) == 576 * 2 * 61, "V3 KV bytes/token %zu (expected %d)",
          fr_kv_bytes_per_token(&hp, FR_TYPE_F16), 576 * 2 * 61);
    CHECK(fr_kv_bytes_per_token(&hp, FR_TYPE_Q8_0) == 18 * 34 * 61, "V3 Q8_0 cache bytes/token %zu",
          fr_kv_bytes_per_token(&hp, FR_TYPE_Q8_0));
    /* and through the public API, on a file */
    frugal_model *fm = NULL;
    fr_error err;
    if (frugal_model_load(p1, &fm, &err) == FR_OK) {
        frugal_model_info in;
        frugal_model_get_info(fm, &in);
        CHECK(in.kv_bytes_per_token_f16 == (uint64_t)((d.kv_lora + d.qk_rope) * 2 * d.n_layer),
              "info kv_bytes_per_token_f16 %llu", (unsigned long long)in.kv_bytes_per_token_f16);
        CHECK(in.n_expert == d.n_expert && in.n_expert_used == d.n_expert_used && in.kv_lora_rank == d.kv_lora,
              "info MoE/MLA fields");
        CHECK(in.n_params_active < in.n_params, "info n_params_active < n_params for MoE");
        frugal_model_free(fm);
    } else {
        CHECK(0, "frugal_model_load: %s", err.msg);
    }
}

/* prompt chunks of any size, 1-token chunks included, and any thread count: bit-identical */
static void test_chunking(const char *path, const char *label) {
    fr_model *m = load(path);
    if (!m) return;
    enum { T = 37 };
    int64_t V = m->hp.n_vocab;
    int32_t toks[T];
    test_rng rng = {11};
    for (int i = 0; i < T; i++) toks[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)V);
    float *a = malloc(sizeof(float) * (size_t)(T * V)), *b = malloc(sizeof(float) * (size_t)(T * V));
    fr_context *c = ctx_new(m, FR_TYPE_F16, 2, 512);
    eval_rows(c, toks, T, T, FR_PHASE_PROMPT, a, V);
    fr_context_free(c);
    static const int chunks[] = {1, 2, 5, 7, 16};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        c = ctx_new(m, FR_TYPE_F16, 1 + (int)(k % 2), chunks[k] == 16 ? 16 : 512);
        /* mixed chunk sizes: a 1-token chunk between larger ones */
        fr_error err;
        int b0 = 0;
        fr_context_set_phase(c, FR_PHASE_PROMPT);
        while (b0 < T) {
            int n = (b0 / chunks[k]) % 3 == 1 ? 1 : chunks[k];
            if (n > T - b0) n = T - b0;
            fr_context_eval(c, toks + b0, n, b + (size_t)b0 * V, 0, &err);
            b0 += n;
        }
        CHECK(memcmp(a, b, sizeof(float) * (size_t)(T * V)) == 0, "%s: chunks of %d (with 1-token chunks) differ",
              label, chunks[k]);
        fr_context_free(c);
    }
    free(a);
    free(b);
    fr_model_free(m);
}

/* Decode steps of several tokens (the absorbed path takes W_UK and W_UV for up to
 * FR_MLA_DECODE_GROUP tokens at a time, mla.c): the same bits as one token per step, for
 * steps of one group, of a group and a part, and of several groups, with 1 and 2 threads. */
static void test_decode_chunks(const char *path, const char *label) {
    fr_model *m = load(path);
    if (!m) return;
    enum { T = 44, P = 5 }; /* P prompt tokens, then T - P in the decode phase */
    int64_t V = m->hp.n_vocab;
    int32_t toks[T];
    test_rng rng = {23};
    for (int i = 0; i < T; i++)
        toks[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)V);
    float *a = malloc(sizeof(float) * (size_t)(T * V)), *b = malloc(sizeof(float) * (size_t)(T * V));
    fr_context *c = ctx_new(m, FR_TYPE_F16, 2, 64);
    bool have_ref = c != NULL; /* ctx_new reported a failure */
    if (c) {
        eval_rows(c, toks, P, P, FR_PHASE_PROMPT, a, V);
        eval_rows(c, toks + P, T - P, 1, FR_PHASE_DECODE, a + (size_t)P * V, V);
        fr_context_free(c);
    }
    static const int chunks[] = {3, FR_MLA_DECODE_GROUP, FR_MLA_DECODE_GROUP + 3, 2 * FR_MLA_DECODE_GROUP + 3};
    for (size_t k = 0; have_ref && k < sizeof chunks / sizeof chunks[0]; k++) {
        fr_context *d = ctx_new(m, FR_TYPE_F16, 1 + (int)(k % 2), 64);
        if (!d) break;
        eval_rows(d, toks, P, P, FR_PHASE_PROMPT, b, V);
        eval_rows(d, toks + P, T - P, chunks[k], FR_PHASE_DECODE, b + (size_t)P * V, V);
        CHECK(memcmp(a, b, sizeof(float) * (size_t)(T * V)) == 0,
              "%s: decode steps of %d tokens (%d threads) differ from one token per step", label, chunks[k],
              1 + (int)(k % 2));
        fr_context_free(d);
    }
    free(a);
    free(b);
    fr_model_free(m);
}

/* A Q8_0 cache: the absorbed decode (the latent rows dequantized in tiles, mla.c) gives the same
 * logits with 1 and 2 threads, and logits near an F16 cache's (the cache's rounding apart). */
static void test_q8_cache(const char *path, const char *label) {
    fr_model *m = load(path);
    if (!m) return;
    enum { T = 24, P = 6 }; /* P prompt tokens, then T - P decode steps */
    int64_t V = m->hp.n_vocab;
    int32_t toks[T];
    test_rng rng = {17};
    for (int i = 0; i < T; i++) toks[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)V);
    float *l[3];
    static const int kv[3] = {FR_TYPE_Q8_0, FR_TYPE_Q8_0, FR_TYPE_F16};
    for (int k = 0; k < 3; k++) {
        l[k] = malloc(sizeof(float) * (size_t)(T * V));
        fr_context *c = ctx_new(m, kv[k], k == 1 ? 1 : 2, 512);
        if (!c) { /* ctx_new failed the check */
            for (int j = 0; j <= k; j++) free(l[j]);
            fr_model_free(m);
            return;
        }
        eval_rows(c, toks, P, P, FR_PHASE_PROMPT, l[k], V);
        eval_rows(c, toks + P, T - P, 1, FR_PHASE_DECODE, l[k] + (size_t)P * V, V);
        fr_context_free(c);
    }
    CHECK(memcmp(l[0], l[1], sizeof(float) * (size_t)(T * V)) == 0, "%s Q8_0 cache: 1 and 2 threads differ", label);
    double num = 0, den = 0;
    for (int64_t i = (int64_t)P * V; i < (int64_t)T * V; i++) {
        double d = (double)l[0][i] - l[2][i];
        num += d * d, den += (double)l[2][i] * l[2][i];
    }
    /* 0.023 in this random model (0.079 with a 64-wide latent, the same as before the tiled
     * kernels, whose plain-C path gave it too): a bound that the cache's rounding passes and a
     * wrong tile row or latent slice (0.63-1.17) does not */
    CHECK(den > 0 && sqrt(num / den) < 0.15, "%s Q8_0 cache: decode logits off the F16 cache's by %g (relative L2)",
          label, den > 0 ? sqrt(num / den) : -1.0);
    for (int k = 0; k < 3; k++) free(l[k]);
    fr_model_free(m);
}

/* a file whose ffn_up_exps has another activation type than ffn_gate_exps (Q8_0 vs F16):
 * the fused expert products must convert the input once per type */
static void test_mixed_expert_types(void) {
    char path[512], mixed[600];
    write_ds(&k_tiny_v3, "F16", "mix-src.gguf", path, sizeof path);
    gguf_file *f;
    fr_error err;
    if (gguf_open(path, &f, &err) != FR_OK) return;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f, NULL, NULL);
    void *bufs[64];
    int nb = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (strstr(t->name, "ffn_up_exps") && nb < 64) {
            const fr_type_traits *q = fr_type_traits_get(FR_TYPE_Q8_0);
            size_t rb;
            fr_row_size(FR_TYPE_Q8_0, t->ne[0], &rb);
            int64_t rows = t->n_elements / t->ne[0];
            char *dst = malloc(rb * (size_t)rows);
            float *row = malloc(sizeof(float) * (size_t)t->ne[0]);
            for (int64_t r = 0; r < rows; r++) {
                fr_type_traits_get(t->type)->to_float((const char *)t->data + (size_t)r * (size_t)t->ne[0] * 2, row, t->ne[0]);
                q->from_float(row, dst + (size_t)r * rb, t->ne[0]);
            }
            free(row);
            bufs[nb++] = dst;
            gguf_writer_add_tensor(w, t->name, FR_TYPE_Q8_0, t->n_dims, t->ne, dst, NULL, NULL, &err);
        } else {
            gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, NULL, NULL, &err);
        }
    }
    snprintf(mixed, sizeof mixed, "%s/mixed.gguf", g_dir);
    fr_status st = gguf_writer_write(w, mixed, 32, &err);
    CHECK(st == FR_OK, "write mixed-type file: %s", st == FR_OK ? "" : err.msg);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    gguf_writer_free(w);
    gguf_close(f);
    fr_model *a = load(path), *b = load(mixed);
    if (a && b) {
        enum { T = 24 };
        int64_t V = a->hp.n_vocab;
        int32_t toks[T];
        for (int i = 0; i < T; i++) toks[i] = (int32_t)((i * 37 + 5) % V);
        float *la = malloc(sizeof(float) * (size_t)(T * V)), *lb = malloc(sizeof(float) * (size_t)(T * V));
        fr_context *ca = ctx_new(a, FR_TYPE_F16, 2, 64), *cb = ctx_new(b, FR_TYPE_F16, 2, 64);
        eval_rows(ca, toks, T, T, FR_PHASE_PROMPT, la, V);
        eval_rows(cb, toks, T, T, FR_PHASE_PROMPT, lb, V);
        golden_stats gs = {0};
        for (int t = 0; t < T; t++) golden_row(&gs, la + (size_t)t * V, lb + (size_t)t * V, (int)V, 0.0);
        CHECK(gs.mean_kl / gs.rows < 1e-3 && gs.nonfinite == 0, "gate F16 + up Q8_0 experts: mean KL %g vs all F16",
              gs.mean_kl / gs.rows);
        fr_context_free(ca);
        fr_context_free(cb);
        free(la);
        free(lb);
    }
    fr_model_free(a);
    fr_model_free(b);
}

/* The latent store's F16 fit (fr_mla_fit_f16_block): blocks of random latents of every scale,
 * quantized to the activation types of quantized W_UV rows, cached as F16. Where the F16
 * values quantize back to the block, nothing changes; where they do not, a block the fit
 * accepts re-quantizes to it exactly, and only its values of the largest magnitude moved, by
 * at most 4 F16 steps; a block it rejects is left as it was, and no such step fits it. Q8_1 (Q4_1 / Q5_1 rows) has
 * blocks of each kind, Q8_0 and Q8_K (F32 scales) none the fit accepts; counted, fixed seed. */
static void test_latent_f16_fit(void) {
    const int types[] = {FR_TYPE_Q8_0, FR_TYPE_Q8_1, FR_TYPE_Q8_K};
    const fr_type_traits *f16 = fr_type_traits_get(FR_TYPE_F16);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const fr_type_traits *at = fr_type_traits_get(types[ti]);
        const int bs = (int)at->block_size;
        test_rng rng = {12345};
        int kept = 0, fitted = 0, rejected = 0, bad = 0;
        for (int it = 0; it < 4000; it++) {
            float x[256], v[256], u[256];
            char want[512], got[512];
            fr_f16 h[256], h0[256];
            const float sc = ldexpf(1.0f + test_rng_float(&rng) * 0.5f + 0.5f, it % 24 - 12);
            for (int i = 0; i < bs; i++)
                x[i] = sc * test_rng_float(&rng);
            at->from_float(x, want, bs);
            at->to_float(want, v, bs);
            f16->from_float(v, h, bs);
            memcpy(h0, h, sizeof h);
            f16->to_float(h, u, bs);
            at->from_float(u, got, bs);
            const bool same0 = memcmp(got, want, at->type_size) == 0;
            const bool ok = fr_mla_fit_f16_block(at, want, h);
            f16->to_float(h, u, bs);
            at->from_float(u, got, bs);
            const bool same1 = memcmp(got, want, at->type_size) == 0;
            float amax = 0;
            for (int i = 0; i < bs; i++)
                amax = fmaxf(amax, fabsf(fr_f16_to_f32(h0[i])));
            int moved = 0, far = 0;
            for (int i = 0; i < bs; i++) {
                if (h[i] == h0[i]) continue;
                moved++;
                const int step = (int)(h[i] & 0x7fff) - (int)(h0[i] & 0x7fff);
                far += fabsf(fr_f16_to_f32(h0[i])) != amax || (h[i] ^ h0[i]) >> 15 || step < -4 || step > 4;
            }
            /* the steps that would have fitted a rejected block, tried here one by one */
            int fits = 0;
            for (int k = -4; k <= 4 && !ok; k++) {
                const fr_f16 hm = fr_f32_to_f16(amax);
                for (int i = 0; i < bs; i++) {
                    const float a = fr_f16_to_f32(h0[i]);
                    u[i] = fabsf(a) == amax ? copysignf(fr_f16_to_f32((fr_f16)(hm + k)), a) : a;
                }
                at->from_float(u, got, bs);
                fits += k != 0 && memcmp(got, want, at->type_size) == 0;
            }
            if (same0)
                kept++, bad += !ok || moved;
            else if (ok)
                fitted++, bad += !same1 || !moved || far;
            else
                rejected++, bad += moved != 0 || fits != 0;
        }
        printf("  latent F16 fit, %s: %d blocks kept, %d fitted, %d rejected\n", at->name, kept, fitted, rejected);
        CHECK(bad == 0, "%s: %d blocks broke the F16 fit's contract", at->name, bad);
        CHECK(kept > 0 && (types[ti] != FR_TYPE_Q8_1 || (fitted > 0 && rejected > 0)) &&
                  (types[ti] == FR_TYPE_Q8_1 || fitted == 0),
              "%s: %d kept, %d fitted, %d rejected: not the kinds expected", at->name, kept, fitted, rejected);
    }
}

static void test_bad_files(void) {
    /* split metadata that contradicts the latent size */
    char path[512], bad[600];
    fr_synth_ds d = k_tiny_v2;
    d.split = true;
    write_ds(&d, "F16", "split-ok.gguf", path, sizeof path);
    gguf_file *f;
    fr_error err;
    if (gguf_open(path, &f, &err) != FR_OK) return;
    gguf_writer *w = gguf_writer_new();
    const char *skip[] = {"deepseek2.attention.key_length", NULL};
    gguf_writer_copy_kv(w, f, NULL, skip);
    gguf_writer_set_u32(w, "deepseek2.attention.key_length", 24);
    gguf_writer_set_u32(w, "deepseek2.attention.key_length_mla", 24);
    /* key_length_mla present without value_length_mla: rejected; a layer without W_UK: rejected */
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (strcmp(t->name, "blk.1.attn_k_b.weight") == 0) continue;
        gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, NULL, NULL, &err);
    }
    snprintf(bad, sizeof bad, "%s/bad.gguf", g_dir);
    gguf_writer_write(w, bad, 32, &err);
    gguf_writer_free(w);
    gguf_close(f);
    fr_model *m = NULL;
    fr_status st = fr_model_load(bad, &m, &err);
    CHECK(st == FR_ERR_FORMAT && strstr(err.msg, "key_length"), "bad split metadata rejected: %s", err.msg);
    fr_model_free(m);
}

/* the F16/F32 decode kernels at odd shapes: a row width with a scalar tail (w % 8), head
 * counts off the register blocks (6, 4 and single heads), dim ranges ending in 8 rather than
 * 16, and more positions than one accumulation tile (64) */
/* The largest errors of MLA decode scores (sc, times `scale` of the float64 dot) and
 * accumulations (out) against float64 over the dequantized rows deq (P x W, latent R). */
static void mla_kernel_errors(const float *q, const float *deq, const float *sc, const float *out, int H, int P, int W,
                              int R, double scale, double *es, double *ea) {
    *es = *ea = 0;
    for (int h = 0; h < H; h++)
        for (int p = 0; p < P; p++) {
            double s = 0;
            for (int i = 0; i < W; i++) s += (double)q[h * W + i] * deq[p * W + i];
            *es = fmax(*es, fabs(sc[h * P + p] - scale * s));
        }
    for (int h = 0; h < H; h++)
        for (int d = 0; d < R; d++) {
            double a = 0;
            for (int p = 0; p < P; p++) a += (double)sc[h * P + p] * deq[p * W + d];
            *ea = fmax(*ea, fabs(out[h * R + d] - a));
        }
}

static void test_kernels_odd(test_rng *rng) {
    enum { H = 11, W = 99, R = 40, P = 133 };
    static const int types[] = {FR_TYPE_F16, FR_TYPE_F32};
    float *q = malloc(sizeof(float) * H * W), *rowsf = malloc(sizeof(float) * P * W), *deq = malloc(sizeof(float) * P * W);
    float *sc = malloc(sizeof(float) * H * P), *out = malloc(sizeof(float) * H * R), tmp[W];
    for (int i = 0; i < H * W; i++) q[i] = test_rng_float(rng);
    for (int i = 0; i < P * W; i++) rowsf[i] = test_rng_float(rng);
    for (size_t k = 0; k < 2; k++) {
        const fr_type_traits *tt = fr_type_traits_get(types[k]);
        size_t rb;
        fr_row_size(types[k], W, &rb);
        char *rows = malloc(rb * P);
        for (int p = 0; p < P; p++) {
            tt->from_float(rowsf + p * W, rows + p * rb, W);
            tt->to_float(rows + p * rb, deq + p * W, W);
        }
        fr_mla_scores(types[k], rows, rb, 0, 64, q, H, W, 0.25f, sc, P, tmp);
        fr_mla_scores(types[k], rows, rb, 64, 101, q, H, W, 0.25f, sc, P, tmp);
        fr_mla_scores(types[k], rows, rb, 101, P, q, H, W, 0.25f, sc, P, tmp);
        fr_mla_accum(types[k], rows, rb, P, sc, P, 0, 7, 0, R, out, R, tmp);  /* 6 + 1 heads, 16 + 16 + 8 dims */
        fr_mla_accum(types[k], rows, rb, P, sc, P, 7, H, 0, 24, out, R, tmp); /* 4 heads, 16 + 8 dims */
        fr_mla_accum(types[k], rows, rb, P, sc, P, 7, H, 24, R, out, R, tmp);
        double es, ea;
        mla_kernel_errors(q, deq, sc, out, H, P, W, R, 0.25, &es, &ea);
        CHECK(es < 1e-4 && ea < 1e-3, "MLA decode kernels at odd shapes (%s rows): max |d| scores %g, accum %g",
              fr_type_name(types[k]), es, ea);
        free(rows);
    }
    free(q), free(rowsf), free(deq), free(sc), free(out);
}

/* the prompt phase's grouped scores (fr_attn_scores_dot) against the row type's own dot
 * product per (query, row) pair, bit for bit: the best vec_dot of this CPU and the scalar
 * reference, at widths below, at and off multiples of 8 and 32, query counts off the
 * register block of four, and position ranges with a last one or two rows */
static void test_attn_scores_dot(test_rng *rng) {
    enum { QMAX = 9, WMAX = 200, P = 41 };
    static const int types[] = {FR_TYPE_F16, FR_TYPE_F32};
    static const int widths[] = {1, 7, 8, 31, 32, 33, 99, 192, 200};
    static const int nqs[] = {1, 3, 4, 5, 9};
    static const int64_t ranges[][2] = {{0, P}, {3, 5}, {7, 8}, {0, 1}, {10, 39}};
    float *q = malloc(sizeof(float) * QMAX * WMAX), *rowsf = malloc(sizeof(float) * P * WMAX);
    float *got = malloc(sizeof(float) * QMAX * P), *ref = malloc(sizeof(float) * QMAX * P), tmp[WMAX];
    char qconv[WMAX * 4];
    int bad = 0, bad_ref = 0, n = 0;
    for (size_t k = 0; k < 2; k++) {
        const fr_type_traits *tt = fr_type_traits_get(types[k]);
        const fr_type_traits *qt = fr_type_traits_get(tt->vec_dot_type);
        for (size_t iw = 0; iw < sizeof widths / sizeof widths[0]; iw++) {
            int w = widths[iw];
            for (int i = 0; i < QMAX * w; i++) q[i] = test_rng_float(rng) * 3.0f;
            if (types[k] == FR_TYPE_F16) fr_round_f16(q, QMAX * w);
            for (int i = 0; i < P * w; i++) rowsf[i] = test_rng_float(rng);
            size_t rb;
            fr_row_size(types[k], w, &rb);
            char *rows = malloc(rb * P);
            for (int p = 0; p < P; p++) tt->from_float(rowsf + p * w, rows + p * rb, w);
            for (size_t iq = 0; iq < sizeof nqs / sizeof nqs[0]; iq++)
                for (size_t ir = 0; ir < sizeof ranges / sizeof ranges[0]; ir++) {
                    int nq = nqs[iq];
                    int64_t p0 = ranges[ir][0], p1 = ranges[ir][1];
                    fr_attn_scores_dot(types[k], rows, rb, p0, p1, q, nq, w, 0.375f, got, P, tmp);
                    fr_attn_scores_dot_ref(types[k], rows, rb, p0, p1, q, nq, w, 0.375f, ref, P, tmp);
                    for (int j = 0; j < nq; j++) {
                        qt->from_float(q + j * w, qconv, w);
                        for (int64_t p = p0; p < p1; p++) {
                            float s;
                            tt->vec_dot(w, &s, rows + (size_t)p * rb, qconv);
                            s *= 0.375f;
                            n++;
                            if (memcmp(&s, &got[j * P + p], sizeof s) != 0) bad++;
                            if (memcmp(&s, &ref[j * P + p], sizeof s) != 0) bad_ref++;
                        }
                    }
                }
            free(rows);
        }
    }
    CHECK(bad == 0 && bad_ref == 0 && n > 0,
          "grouped prompt scores = the row type's vec_dot per pair, bit for bit: %d (kernel) and %d (reference) "
          "of %d differ",
          bad, bad_ref, n);
    free(q), free(rowsf), free(got), free(ref);
}

/* the AVX-512 decode kernels against the AVX2 ones, bit for bit (where the CPU has
 * AVX-512F): widths with and without a scalar tail (w % 8) and below 8, head counts off
 * every register block, odd position ranges (pairs and a last single row), dim ranges with
 * a last 8 dims, full 64-dim tiles and partial ones */
#if !FR_X86
static void test_kernels_avx512_bits(test_rng *rng) {
    (void)rng;
    printf("  (not an x86 build: AVX-512 kernels not compared)\n");
}
#else
static bool bits_equal(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

static void test_kernels_avx512_bits(test_rng *rng) {
    if (!fr_cpu_has(FR_ISA_AVX512)) {
        printf("  (no AVX-512F: AVX-512 kernels not compared)\n");
        return;
    }
    enum { HMAX = 17, WMAX = 576, P = 133, R = 200 };
    static const int types[] = {FR_TYPE_F16, FR_TYPE_F32};
    static const int widths[] = {99, 576, 5, 128, 64, 8};
    static const int heads[] = {1, 3, 4, 7, 11, 16, 17};
    static const int64_t cuts[] = {0, 1, 8, 77, 78, 133}; /* [0, 1), [1, 8), ... as separate calls */
    static const int64_t ranges[][4] = {{0, 17, 0, 200}, {0, 3, 8, 72}, {2, 9, 16, 40}, {5, 6, 0, 64},
                                        {0, 16, 56, 200}, {1, 13, 192, 200}, {0, 2, 0, 200}};
    static const int64_t n_pos[] = {1, 63, 64, 133};
    float *q = malloc(sizeof(float) * HMAX * WMAX), *rowsf = malloc(sizeof(float) * P * WMAX);
    float *s2 = malloc(sizeof(float) * HMAX * P), *s5 = malloc(sizeof(float) * HMAX * P);
    float *o2 = malloc(sizeof(float) * HMAX * R), *o5 = malloc(sizeof(float) * HMAX * R);
    for (int i = 0; i < HMAX * WMAX; i++) q[i] = test_rng_float(rng);
    for (int i = 0; i < P * WMAX; i++) rowsf[i] = test_rng_float(rng);
    int bad_s = 0, bad_a = 0, n_s = 0, n_a = 0;
    for (size_t k = 0; k < 2; k++) {
        const fr_type_traits *tt = fr_type_traits_get(types[k]);
        for (size_t iw = 0; iw < sizeof widths / sizeof widths[0]; iw++) {
            int w = widths[iw];
            size_t rb;
            fr_row_size(types[k], w < R ? R : w, &rb); /* rows at least R wide for the accumulation */
            char *rows = malloc(rb * P);
            for (int p = 0; p < P; p++) tt->from_float(rowsf + p * WMAX, rows + p * rb, w < R ? R : w);
            for (size_t ih = 0; ih < sizeof heads / sizeof heads[0]; ih++) {
                int h = heads[ih];
                memset(s2, 0, sizeof(float) * HMAX * P), memset(s5, 0, sizeof(float) * HMAX * P);
                for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++) {
                    fr_mla_scores_avx2(types[k], rows, rb, cuts[c], cuts[c + 1], q, h, w, 0.3f, s2, P);
                    fr_mla_scores_avx512(types[k], rows, rb, cuts[c], cuts[c + 1], q, h, w, 0.3f, s5, P);
                }
                bad_s += !bits_equal(s2, s5, (size_t)HMAX * P), n_s++;
            }
            if (iw == 0) /* the accumulation does not depend on w */
                for (size_t ir = 0; ir < sizeof ranges / sizeof ranges[0]; ir++)
                    for (size_t ip = 0; ip < sizeof n_pos / sizeof n_pos[0]; ip++) {
                        const int64_t *g = ranges[ir];
                        memset(o2, 0, sizeof(float) * HMAX * R), memset(o5, 0, sizeof(float) * HMAX * R);
                        fr_mla_accum_avx2(types[k], rows, rb, n_pos[ip], s2, P, g[0], g[1], g[2], g[3], o2, R);
                        fr_mla_accum_avx512(types[k], rows, rb, n_pos[ip], s2, P, g[0], g[1], g[2], g[3], o5, R);
                        bad_a += !bits_equal(o2, o5, (size_t)HMAX * R), n_a++;
                    }
            free(rows);
        }
    }
    CHECK(bad_s == 0 && bad_a == 0, "AVX-512 MLA kernels bit-identical to AVX2: scores %d/%d, accum %d/%d differ",
          bad_s, n_s, bad_a, n_a);
    free(q), free(rowsf), free(s2), free(s5), free(o2), free(o5);
}
#endif

/* the decode kernels against naive float64 sums: softmax, scores, accumulation */
static void test_kernels(void) {
    test_rng rng = {2024};
    double worst = 0;
    static const int lens[] = {1, 7, 8, 33, 100, 4096};
    float *x = malloc(sizeof(float) * 4096);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        int n = lens[k];
        for (int i = 0; i < n; i++) x[i] = 30.0f * test_rng_float(&rng) - 10.0f;
        double mx = -INFINITY, z = 0, ref[4096];
        for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < n; i++) z += ref[i] = exp((double)x[i] - mx);
        fr_softmax_fast(x, n);
        for (int i = 0; i < n; i++) worst = fmax(worst, fabs(x[i] - ref[i] / z) / (ref[i] / z + 1e-30));
    }
    free(x);
    /* x - max rounds in float like fr_softmax's: up to 2^-24 * 40 absolute here */
    CHECK(worst < 5e-6, "fr_softmax_fast: max relative error %g", worst);

    static const int types[] = {FR_TYPE_F16, FR_TYPE_F32, FR_TYPE_Q8_0};
    enum { H = 6, W = 96, R = 64, P = 37 };
    float q[H * W], rowsf[P * W], sc[H * P], out[H * R], tmp[W];
    for (int i = 0; i < H * W; i++) q[i] = test_rng_float(&rng);
    for (int i = 0; i < P * W; i++) rowsf[i] = test_rng_float(&rng);
    for (size_t k = 0; k < 3; k++) {
        const fr_type_traits *tt = fr_type_traits_get(types[k]);
        size_t rb;
        fr_row_size(types[k], W, &rb);
        char *rows = malloc(rb * P);
        float deq[P * W];
        for (int p = 0; p < P; p++) {
            tt->from_float(rowsf + p * W, rows + p * rb, W);
            tt->to_float(rows + p * rb, deq + p * W, W);
        }
        fr_mla_scores(types[k], rows, rb, 0, 20, q, H, W, 0.5f, sc, P, tmp);
        fr_mla_scores(types[k], rows, rb, 20, P, q, H, W, 0.5f, sc, P, tmp);
        fr_mla_accum(types[k], rows, rb, P, sc, P, 0, 4, 0, R, out, R, tmp);
        fr_mla_accum(types[k], rows, rb, P, sc, P, 4, H, 0, 32, out, R, tmp);
        fr_mla_accum(types[k], rows, rb, P, sc, P, 4, H, 32, R, out, R, tmp);
        double es, ea;
        mla_kernel_errors(q, deq, sc, out, H, P, W, R, 0.5, &es, &ea);
        CHECK(es < 1e-4 && ea < 1e-4, "MLA decode kernels (%s rows): max |d| scores %g, accum %g",
              fr_type_name(types[k]), es, ea);
        free(rows);
    }
    test_kernels_odd(&rng);
    test_kernels_avx512_bits(&rng);
    test_attn_scores_dot(&rng);
}

int main(void) {
    frugal_set_log(NULL, NULL, 0);
    snprintf(g_dir, sizeof g_dir, "/tmp/frugal_ds2_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    printf("routing\n");
    test_routing();
    printf("YaRN\n");
    test_yarn_freqs();
    printf("decode kernels\n");
    test_kernels();
    printf("float64 reference models\n");
    test_reference_model(&k_tiny_v3);
    test_reference_model(&k_tiny_v2);
    printf("absorbed MLA\n");
    test_absorbed_vs_decompressed();
    printf("split layout\n");
    test_split_layout();
    printf("MTP, KV cache size\n");
    test_mtp_and_kv();
    printf("chunking\n");
    char path[512];
    write_ds(&k_tiny_v3, "Q8_0", "chunk-q8.gguf", path, sizeof path);
    test_chunking(path, "tiny-v3 Q8_0");
    test_decode_chunks(path, "tiny-v3 Q8_0");
    {
        fr_synth_ds d = k_tiny_v2;
        d.split = true;
        write_ds(&d, "Q8_0", "decode-split.gguf", path, sizeof path);
        test_decode_chunks(path, "tiny-v2 Q8_0 (split W_UK / W_UV)");
    }
    { /* tiny-v3 with dims a Q8_0 cache takes (multiples of 32), and a latent of two 64-dim slices */
        fr_synth_ds d = k_tiny_v3;
        d.name = "tiny-v3-q8kv", d.kv_lora = 128, d.qk_nope = 32, d.qk_rope = 32, d.v_head = 32;
        write_ds(&d, "Q8_0", "q8kv.gguf", path, sizeof path);
        test_q8_cache(path, "tiny-v3 (Q8_0 cache dims)");
    }
    const char *shared = test_shared_dir();
    if (shared) {
        snprintf(path, sizeof path, "%s/models/ds2lite-tiny-Q8_0.gguf", shared);
        test_chunking(path, "ds2lite-tiny-Q8_0");
    }
    test_mixed_expert_types();
    printf("latent F16 fit\n");
    test_latent_f16_fit();
    test_bad_files();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
    return CHECK_DONE("test_deepseek2");
}

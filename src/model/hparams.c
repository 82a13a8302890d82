/* hparams.c: GGUF metadata -> validated hyperparameters (CHECKLIST item 13). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "model.h"

typedef struct {
    const gguf_file *f;
    const char *arch;
    fr_error *err;
} meta;

/* Reads "<arch>.<suffix>" as an integer in [lo, hi]. Returns 1 found, 0 absent, -1 error. */
static int get_int(meta *m, const char *suffix, int64_t lo, int64_t hi, int64_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    int64_t v;
    int r = gguf_get_int(m->f, key, &v, m->err);
    if (r <= 0) return r;
    if (v < lo || v > hi) {
        fr_fail(m->err, FR_ERR_FORMAT, "%s: %lld (expected %lld..%lld)", key, (long long)v,
                (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 1;
}

static int get_float(meta *m, const char *suffix, double lo, double hi, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    double v;
    int r = gguf_get_float(m->f, key, &v, m->err);
    if (r <= 0) return r;
    if (!isfinite(v) || v < lo || v > hi) {
        fr_fail(m->err, FR_ERR_FORMAT, "%s: %g (expected a finite value in %g..%g)", key, v, lo, hi);
        return -1;
    }
    *out = (float)v;
    return 1;
}

#define NEED(expr, suffix)                                                                   \
    do {                                                                                     \
        int r_ = (expr);                                                                     \
        if (r_ < 0) return err->code;                                                        \
        if (r_ == 0)                                                                         \
            return fr_fail(err, FR_ERR_FORMAT, "%s.%s: missing (required metadata key)",     \
                           m.arch, suffix);                                                  \
    } while (0)
#define OPT(expr)                                                                            \
    do {                                                                                     \
        if ((expr) < 0) return err->code;                                                    \
    } while (0)

static bool has_tensor(const gguf_file *f, const char *fmt, int64_t layer) {
    char name[GGUF_MAX_NAME + 1];
    snprintf(name, sizeof name, fmt, (int)layer);
    return gguf_find_tensor(f, name) != NULL;
}

/* deepseek2 metadata (llama.cpp's GGUF keys, as convert_hf_to_gguf.py writes them). */
static fr_status deepseek2_hparams(meta *mt, fr_hparams *hp) {
    fr_error *err = mt->err;
    meta m = *mt;
    const int64_t BIG = (int64_t)1 << 24;
    /* MTP (nextn) blocks are counted in block_count and come last; they are loaded, not run */
    OPT(get_int(&m, "nextn_predict_layers", 0, hp->n_layer - 1, &hp->n_nextn));
    if (hp->n_nextn == 0) {
        /* files without the key: trailing blocks that hold nextn.* tensors */
        while (hp->n_nextn < hp->n_layer - 1 && has_tensor(m.f, "blk.%d.nextn.eh_proj.weight", hp->n_layer - 1 - hp->n_nextn))
            hp->n_nextn++;
    }
    hp->n_layer -= hp->n_nextn;
    OPT(get_int(&m, "attention.q_lora_rank", 0, BIG, &hp->n_lora_q));
    NEED(get_int(&m, "attention.kv_lora_rank", 1, BIG, &hp->n_lora_kv), "attention.kv_lora_rank");
    NEED(get_int(&m, "rope.dimension_count", 2, 65536, &hp->n_rot), "rope.dimension_count");
    int64_t kl = 0, vl = 0, klm = 0, vlm = 0;
    NEED(get_int(&m, "attention.key_length", 1, 65536, &kl), "attention.key_length");
    NEED(get_int(&m, "attention.value_length", 1, 65536, &vl), "attention.value_length");
    int rk = get_int(&m, "attention.key_length_mla", 1, 65536, &klm);
    int rv = get_int(&m, "attention.value_length_mla", 1, 65536, &vlm);
    if (rk < 0 || rv < 0) return err->code;
    if (rk != rv)
        return fr_fail(err, FR_ERR_FORMAT, "deepseek2.attention.%s_length_mla: missing while %s_length_mla is present",
                       rk ? "value" : "key", rk ? "key" : "value");
    if (rk == 1) {
        /* split-MLA metadata: the cache is described as one "MQA" head of the latent plus
         * the rope key; the model's own head dims are the *_mla keys */
        hp->mla_split_meta = true;
        if (kl != hp->n_lora_kv + hp->n_rot || vl != hp->n_lora_kv)
            return fr_fail(err, FR_ERR_FORMAT,
                           "deepseek2.attention.key_length/value_length: %lld/%lld (with key_length_mla, expected "
                           "kv_lora_rank + rope.dimension_count = %lld and kv_lora_rank = %lld)",
                           (long long)kl, (long long)vl, (long long)(hp->n_lora_kv + hp->n_rot), (long long)hp->n_lora_kv);
        hp->head_dim_k = klm;
        hp->head_dim_v = vlm;
    } else {
        hp->head_dim_k = kl;
        hp->head_dim_v = vl;
    }
    if (hp->n_rot % 2 != 0 || hp->n_rot >= hp->head_dim_k)
        return fr_fail(err, FR_ERR_FORMAT, "deepseek2.rope.dimension_count: %lld (expected an even number below the key length %lld)",
                       (long long)hp->n_rot, (long long)hp->head_dim_k);
    hp->qk_nope = hp->head_dim_k - hp->n_rot;
    /* attention.head_count_kv is 1 in split files (the latent is shared); every head has its
     * own keys and values after decompression either way. */
    hp->n_head_kv = hp->n_head;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);

    /* MoE */
    OPT(get_int(&m, "expert_count", 0, 4096, &hp->n_expert));
    OPT(get_int(&m, "leading_dense_block_count", 0, hp->n_layer, &hp->n_layer_dense_lead));
    if (hp->n_expert > 0 && hp->n_layer_dense_lead < hp->n_layer) {
        NEED(get_int(&m, "expert_used_count", 1, hp->n_expert, &hp->n_expert_used), "expert_used_count");
        NEED(get_int(&m, "expert_feed_forward_length", 1, BIG, &hp->n_ff_exp), "expert_feed_forward_length");
        OPT(get_int(&m, "expert_shared_count", 0, 4096, &hp->n_expert_shared));
        hp->expert_weights_scale = 1.0f;
        OPT(get_float(&m, "expert_weights_scale", 0.0, 1e6, &hp->expert_weights_scale));
        int64_t g = 0;
        /* absent: softmax, as llama.cpp assumes for V2/V2.5 files written before the key */
        hp->expert_gating = FR_GATING_SOFTMAX;
        OPT(get_int(&m, "expert_gating_func", 0, 2, &g));
        if (g == 2) hp->expert_gating = FR_GATING_SIGMOID;
        /* expert_weights_norm is HF's norm_topk_prob. The reference normalises exactly when
         * scoring is sigmoid; every released config agrees with its flag, so the flag is used
         * when present and the reference's rule when it is absent. */
        char key[128];
        snprintf(key, sizeof key, "%s.expert_weights_norm", m.arch);
        bool b = hp->expert_gating == FR_GATING_SIGMOID;
        if (gguf_get_bool(m.f, key, &b, err) < 0) return err->code;
        hp->expert_weights_norm = b;
        hp->n_expert_groups = 1;
        hp->n_group_used = 1;
        OPT(get_int(&m, "expert_group_count", 1, hp->n_expert, &hp->n_expert_groups));
        OPT(get_int(&m, "expert_group_used_count", 1, hp->n_expert_groups, &hp->n_group_used));
        if (hp->n_expert % hp->n_expert_groups != 0)
            return fr_fail(err, FR_ERR_FORMAT, "deepseek2.expert_group_count: %lld does not divide expert_count %lld",
                           (long long)hp->n_expert_groups, (long long)hp->n_expert);
        int64_t per_group = hp->n_expert / hp->n_expert_groups;
        if (hp->n_expert_groups > 1 && hp->n_group_used * per_group < hp->n_expert_used)
            return fr_fail(err, FR_ERR_FORMAT,
                           "deepseek2.expert_group_used_count: %lld groups of %lld experts cannot supply expert_used_count %lld",
                           (long long)hp->n_group_used, (long long)per_group, (long long)hp->n_expert_used);
    } else {
        hp->n_expert = 0;
        hp->n_layer_dense_lead = hp->n_layer;
    }

    /* YaRN: the attention scale gains mscale^2 with mscale = 1 + yarn_log_multiplier * ln(factor)
     * (reference: softmax_scale *= (0.1 * mscale * ln(rope_factor) + 1)^2; the converter writes
     * yarn_log_multiplier = 0.1 * mscale_all_dim). The cos/sin magnitude stays 1: HF scales it
     * by yarn_mscale(mscale) / yarn_mscale(mscale_all_dim), which is 1 for every released
     * config, and llama.cpp's attn_factor cancels its own magnitude term. The reference applies
     * YaRN only when max_seq_len > original_seq_len, which its default settings always meet;
     * we apply it whenever the file declares it, as HF and the converters do. */
    if (hp->yarn) {
        hp->yarn_orig_ctx = hp->n_ctx_train;
        OPT(get_int(&m, "rope.scaling.original_context_length", 1, (int64_t)1 << 26, &hp->yarn_orig_ctx));
        hp->yarn_log_mul = 0.0f; /* absent: mscale_all_dim = 0, as HF defaults */
        OPT(get_float(&m, "rope.scaling.yarn_log_multiplier", 0.0, 100.0, &hp->yarn_log_mul));
        hp->yarn_beta_fast = 32.0f;
        hp->yarn_beta_slow = 1.0f;
        OPT(get_float(&m, "rope.scaling.yarn_beta_fast", 1e-3, 1e6, &hp->yarn_beta_fast));
        OPT(get_float(&m, "rope.scaling.yarn_beta_slow", 1e-3, 1e6, &hp->yarn_beta_slow));
        if (!(hp->yarn_factor >= 1.0f))
            return fr_fail(err, FR_ERR_FORMAT, "deepseek2.rope.scaling.factor: %g (expected >= 1 with yarn)",
                           (double)hp->yarn_factor);
        double ms = 1.0 + (double)hp->yarn_log_mul * log((double)hp->yarn_factor);
        hp->attn_scale = (float)(ms * ms / sqrt((double)hp->head_dim_k));
    }
    return FR_OK;
}

fr_status fr_hparams_load(const gguf_file *f, fr_hparams *hp, fr_error *err) {
    memset(hp, 0, sizeof *hp);
    gguf_str arch_s;
    int r = gguf_get_str(f, "general.architecture", &arch_s, err);
    if (r < 0) return err->code;
    if (r == 0) return fr_fail(err, FR_ERR_FORMAT, "general.architecture: missing (required metadata key)");
    const fr_arch_info *ai = fr_arch_find(arch_s.ptr, (size_t)arch_s.len);
    if (!ai) {
        int n = arch_s.len > 64 ? 64 : (int)arch_s.len;
        return fr_fail(err, FR_ERR_UNSUPPORTED,
                       "general.architecture: '%.*s' is not supported (supported: %s)", n, arch_s.ptr,
                       fr_arch_supported_list());
    }
    hp->arch = ai->arch;
    hp->rope_neox = ai->rope_neox;
    meta m = {f, ai->name, err};

    const int64_t BIG = (int64_t)1 << 24;
    NEED(get_int(&m, "embedding_length", 1, (int64_t)1 << 20, &hp->n_embd), "embedding_length");
    NEED(get_int(&m, "block_count", 1, 4096, &hp->n_layer), "block_count");
    NEED(get_int(&m, "attention.head_count", 1, 4096, &hp->n_head), "attention.head_count");
    NEED(get_int(&m, "feed_forward_length", 1, BIG, &hp->n_ff), "feed_forward_length");
    hp->n_ctx_train = 4096;
    OPT(get_int(&m, "context_length", 1, (int64_t)1 << 26, &hp->n_ctx_train));
    hp->n_head_kv = hp->n_head;
    OPT(get_int(&m, "attention.head_count_kv", 1, 4096, &hp->n_head_kv));
    if (hp->n_head % hp->n_head_kv != 0)
        return fr_fail(err, FR_ERR_FORMAT,
                       "%s.attention.head_count_kv: %lld does not divide head_count %lld", ai->name,
                       (long long)hp->n_head_kv, (long long)hp->n_head);
    if (hp->n_embd % hp->n_head != 0)
        hp->head_dim_k = 0;
    else
        hp->head_dim_k = hp->n_embd / hp->n_head;
    OPT(get_int(&m, "attention.key_length", 1, 65536, &hp->head_dim_k));
    if (hp->head_dim_k == 0)
        return fr_fail(err, FR_ERR_FORMAT,
                       "%s.embedding_length: %lld is not a multiple of head_count %lld and "
                       "attention.key_length is absent",
                       ai->name, (long long)hp->n_embd, (long long)hp->n_head);
    hp->head_dim_v = hp->head_dim_k;
    OPT(get_int(&m, "attention.value_length", 1, 65536, &hp->head_dim_v));
    hp->n_rot = hp->head_dim_k;
    OPT(get_int(&m, "rope.dimension_count", 2, hp->head_dim_k, &hp->n_rot));
    if (hp->n_rot % 2 != 0)
        return fr_fail(err, FR_ERR_FORMAT, "%s.rope.dimension_count: %lld (expected an even number)",
                       ai->name, (long long)hp->n_rot);
    hp->rms_eps = 1e-5f;
    OPT(get_float(&m, "attention.layer_norm_rms_epsilon", 1e-12, 1.0, &hp->rms_eps));
    hp->rope_freq_base = 10000.0f;
    OPT(get_float(&m, "rope.freq_base", 1e-3, 1e12, &hp->rope_freq_base));
    hp->rope_freq_scale = 1.0f;

    /* rope scaling: "none", "linear" (positions divided by factor); Llama 3's scaling is
     * carried by rope_freqs.weight. Others are refused rather than silently ignored. */
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", ai->name);
    gguf_str st;
    r = gguf_get_str(f, key, &st, err);
    if (r < 0) return err->code;
    float factor = 1.0f;
    OPT(get_float(&m, "rope.scaling.factor", 1e-6, 1e6, &factor));
    if (r == 1 && !gguf_str_eq(st, "none")) {
        if (gguf_str_eq(st, "linear")) {
            hp->rope_freq_scale = 1.0f / factor;
        } else if (gguf_str_eq(st, "yarn") && ai->arch == FR_ARCH_DEEPSEEK2) {
            hp->yarn = true;
            hp->yarn_factor = factor;
        } else {
            int n = st.len > 32 ? 32 : (int)st.len;
            return fr_fail(err, FR_ERR_UNSUPPORTED, "%s: '%.*s' is not supported for %s (supported: none, linear%s)",
                           key, n, st.ptr, ai->name, ai->arch == FR_ARCH_DEEPSEEK2 ? ", yarn" : "");
        }
    } else if (r == 0) {
        /* older files give only the scale */
        float scale = 1.0f;
        OPT(get_float(&m, "rope.scale_linear", 1e-6, 1e6, &scale));
        hp->rope_freq_scale = 1.0f / scale;
    }

    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    if (ai->arch == FR_ARCH_DEEPSEEK2 && deepseek2_hparams(&m, hp) != FR_OK) return err->code;

    /* vocab size: the embedding rows are authoritative; checked in weights.c */
    const gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    if (!te) return fr_fail(err, FR_ERR_FORMAT, "token_embd.weight: missing (required tensor)");
    if (te->n_dims != 2) return fr_fail(err, FR_ERR_FORMAT, "token_embd.weight: %d dimensions (expected 2)", te->n_dims);
    hp->n_vocab = te->ne[1];
    int64_t vs = 0;
    r = get_int(&m, "vocab_size", 1, (int64_t)1 << 26, &vs);
    if (r < 0) return err->code;
    if (r == 1 && vs != hp->n_vocab)
        return fr_fail(err, FR_ERR_FORMAT, "%s.vocab_size: %lld differs from token_embd.weight rows %lld",
                       ai->name, (long long)vs, (long long)hp->n_vocab);
    const gguf_kv *toks = gguf_find_kv(f, "tokenizer.ggml.tokens");
    if (toks && toks->type == GGUF_ARRAY && (int64_t)toks->arr_n != hp->n_vocab)
        return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.tokens: %llu tokens, but token_embd.weight has %lld rows",
                       (unsigned long long)toks->arr_n, (long long)hp->n_vocab);
    return FR_OK;
}

/* theta_i = base^(-2i / n_rot). With YaRN (DeepSeek's precompute_freqs_cis, llama.cpp's
 * rope_yarn with ext_factor 1), pair i is blended between extrapolation (theta_i) and
 * interpolation (theta_i / factor):
 *   corr(r) = n_rot * ln(orig_ctx / (2 pi r)) / (2 ln base)
 *   low = max(floor(corr(beta_fast)), 0), high = min(ceil(corr(beta_slow)), n_rot - 1)
 *   ramp_i = clamp((i - low) / (high - low), 0, 1)   (high == low: divide by 0.001)
 *   theta'_i = theta_i * ((1 - ramp_i) + ramp_i / factor)
 * so fast-rotating pairs (i < low) keep their frequency and slow ones (i > high) are
 * interpolated by the full factor. */
void fr_rope_inv_freq(const fr_hparams *hp, double *inv_freq) {
    int64_t half = hp->n_rot / 2;
    double base = hp->rope_freq_base, n = (double)hp->n_rot;
    double low = 0, high = 0;
    if (hp->yarn) {
        double lb = 2.0 * log(base);
        double cf = n * log((double)hp->yarn_orig_ctx / ((double)hp->yarn_beta_fast * 2.0 * M_PI)) / lb;
        double cs = n * log((double)hp->yarn_orig_ctx / ((double)hp->yarn_beta_slow * 2.0 * M_PI)) / lb;
        low = floor(cf);
        high = ceil(cs);
        if (low < 0) low = 0;
        if (high > n - 1) high = n - 1;
    }
    for (int64_t i = 0; i < half; i++) {
        double th = pow(base, -2.0 * (double)i / n) * (double)hp->rope_freq_scale;
        if (hp->yarn) {
            double den = high - low;
            if (den < 0.001) den = 0.001;
            double ramp = ((double)i - low) / den;
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            th *= (1.0 - ramp) + ramp / (double)hp->yarn_factor;
        }
        inv_freq[i] = th;
    }
}

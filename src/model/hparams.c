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
        } else {
            int n = st.len > 32 ? 32 : (int)st.len;
            return fr_fail(err, FR_ERR_UNSUPPORTED, "%s: '%.*s' is not supported for %s (supported: none, linear)",
                           key, n, st.ptr, ai->name);
        }
    } else if (r == 0) {
        /* older files give only the scale */
        float scale = 1.0f;
        OPT(get_float(&m, "rope.scale_linear", 1e-6, 1e6, &scale));
        hp->rope_freq_scale = 1.0f / scale;
    }

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

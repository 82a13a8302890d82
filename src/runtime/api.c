/* api.c: the public API (frugal.h) over the internal modules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frugal.h"
#include "kernels/gemm.h"
#include "model/context.h"
#include "model/model.h"
#include "tokenizer/tok.h"
#include "tokenizer/vocab.h"

struct frugal_model {
    fr_model *m;
    fr_vocab vocab;
    frugal_tokenizer *tok; /* NULL: no vocabulary, or an unsupported tokenizer (tok_err says which) */
    fr_error tok_err;
};

const char *frugal_version(void) { return FRUGAL_VERSION; }
int frugal_type_from_name(const char *name) { return fr_type_from_name(name); }
const char *frugal_type_name(int type) { return fr_type_name(type); }
int frugal_cpu_count(void) { return fr_cpu_count(); }
const char *frugal_isa(void) {
    return fr_cpu_has(FR_ISA_AMX)          ? "amx-int8"
           : fr_cpu_has(FR_ISA_AVX512VNNI) ? "avx512-vnni"
           : fr_cpu_has(FR_ISA_AVX512)   ? "avx512"
           : fr_cpu_has(FR_ISA_AVXVNNI)  ? "avx-vnni"
           : fr_cpu_has(FR_ISA_AVX2)     ? "avx2"
           : fr_cpu_has(FR_ISA_NEON_DOT) ? "neon-dot"
                                         : "scalar";
}

const char *frugal_decode_prefetch(void) { return fr_cpu_decode_prefetch_l2() ? "l2" : "l1"; }
bool frugal_decode_kquant_streams(void) { return fr_cpu_decode_kquant_streams(); }
bool frugal_decode_streams_prefetch(void) { return fr_cpu_decode_streams_prefetch(); }
size_t frugal_decode_f16_prefetch(void) { return fr_cpu_decode_f16_prefetch(); }
int frugal_decode_f16_streams(void) { return fr_cpu_decode_f16_streams(); }

fr_status frugal_model_load(const char *path, frugal_model **out, fr_error *err) {
    return frugal_model_open(path, true, out, err);
}

fr_status frugal_model_open(const char *path, bool repack, frugal_model **out, fr_error *err) {
    *out = NULL;
    frugal_model *fm = calloc(1, sizeof *fm);
    if (!fm) return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory", path);
    fr_status st = fr_model_open(path, repack, &fm->m, err);
    if (st == FR_OK) {
        st = fr_vocab_load(fm->m->file, &fm->vocab, err);
        if (st != FR_OK) fr_error_prefix(err, "%s: ", path);
        if (st == FR_OK && fm->vocab.kind != FR_VOCAB_NONE && fm->vocab.n_tokens != fm->m->hp.n_vocab)
            st = fr_fail(err, FR_ERR_FORMAT, "%s: tokenizer.ggml.tokens: %lld tokens, but the model has %lld rows",
                         path, (long long)fm->vocab.n_tokens, (long long)fm->m->hp.n_vocab);
    }
    if (st == FR_OK) { /* the tokenizer: a broken vocabulary fails the load, an unsupported one only text input */
        fr_tokenizer *t = NULL;
        fr_status ts = fm->vocab.kind == FR_VOCAB_NONE
                           ? fr_fail(&fm->tok_err, FR_ERR_UNSUPPORTED, "the file has no tokenizer (tokenizer.ggml.model)")
                           : fr_tok_from_gguf(fm->m->file, &t, &fm->tok_err);
        if (ts == FR_OK && !(fm->tok = fr_tokenizer_wrap(t))) ts = fr_fail(&fm->tok_err, FR_ERR_NOMEM, "out of memory");
        if (ts != FR_OK) fr_error_prefix(&fm->tok_err, "%s: ", path);
        if (ts == FR_ERR_UNSUPPORTED && fm->vocab.kind != FR_VOCAB_NONE)
            fr_log(FR_LOG_WARN, "%s (token ids still work)", fm->tok_err.msg);
        else if (ts != FR_OK && ts != FR_ERR_UNSUPPORTED) {
            if (err) *err = fm->tok_err;
            st = ts;
        }
    }
    if (st != FR_OK) {
        frugal_model_free(fm);
        return st;
    }
    *out = fm;
    return FR_OK;
}

void frugal_model_free(frugal_model *m) {
    if (!m) return;
    frugal_tokenizer_free(m->tok);
    fr_model_free(m->m);
    free(m);
}

static void copy_str_kv(const gguf_file *f, const char *key, char *dst, size_t cap) {
    gguf_str s;
    fr_error e;
    dst[0] = 0;
    if (gguf_get_str(f, key, &s, &e) == 1) {
        size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
        memcpy(dst, s.ptr, n);
        dst[n] = 0;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)dst[i] < 0x20) dst[i] = ' ';
    }
}

void frugal_model_get_info(const frugal_model *fm, frugal_model_info *info) {
    const fr_model *m = fm->m;
    const fr_hparams *hp = &m->hp;
    memset(info, 0, sizeof *info);
    info->arch = fr_arch_name(hp->arch);
    info->path = m->path;
    copy_str_kv(m->file, "general.name", info->name, sizeof info->name);
    copy_str_kv(m->file, "general.license", info->license, sizeof info->license);
    info->n_vocab = hp->n_vocab;
    info->n_ctx_train = hp->n_ctx_train;
    info->n_embd = hp->n_embd;
    info->n_layer = hp->n_layer;
    info->n_head = hp->n_head;
    info->n_head_kv = hp->n_head_kv;
    info->head_dim = hp->head_dim_k;
    info->n_ff = hp->n_ff;
    info->n_params = m->n_params;
    info->n_params_active = m->n_params_active; /* MoE: only the routed experts a token uses */
    info->n_params_layer_matrices = m->n_params_layer_matrices;
    info->active_bytes = m->active_bytes;
    info->n_expert = hp->n_expert;
    info->n_expert_used = hp->n_expert_used;
    info->n_expert_shared = hp->n_expert_shared;
    info->n_layer_dense_lead = hp->n_expert ? hp->n_layer_dense_lead : 0;
    info->kv_lora_rank = hp->n_lora_kv;
    info->file_bytes = gguf_file_size(m->file);
    info->n_splits = gguf_n_splits(m->file);
    info->gguf_version = gguf_version(m->file);
    for (int64_t i = 0; i < gguf_n_tensors(m->file); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->file, i);
        info->weight_bytes += t->nbytes;
        if (t->type >= 0 && t->type < FRUGAL_MAX_TYPES) {
            info->type_count[t->type]++;
            info->type_bytes[t->type] += t->nbytes;
        }
    }
    info->kv_bytes_per_token_f16 = fr_kv_bytes_per_token(hp, FR_TYPE_F16);
    info->n_repacked = m->w.n_packed;
    info->repack_seconds = m->w.repack_seconds;
    info->repacked_bytes = m->w.packed_bytes;
    if (!info->n_repacked && m->w.plan_repack_n) { /* opened without repacking */
        info->n_repacked = m->w.plan_repack_n;
        info->repacked_bytes = m->w.plan_repack_bytes;
        info->repack_planned = true;
    }
    info->bos = m->special.bos;
    info->eos = m->special.eos;
    info->add_bos = m->special.add_bos;
    info->n_eog = m->special.n_eog;
    for (int i = 0; i < m->special.n_eog && i < 16; i++) info->eog[i] = m->special.eog[i];
}

int64_t frugal_model_check_weights(const frugal_model *fm, fr_error *err) {
    const gguf_file *f = fm->m->file;
    int64_t bad = 0;
    float *buf = NULL;
    size_t cap = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        const fr_type_traits *tt = fr_type_traits_get(t->type);
        if (!tt || !tt->to_float) continue;
        int64_t row = t->ne[0], rows = t->n_elements / (row ? row : 1);
        size_t rb = 0;
        fr_row_size(t->type, row, &rb);
        if ((size_t)row > cap) {
            free(buf);
            cap = (size_t)row;
            buf = malloc(cap * sizeof(float));
            if (!buf) return fr_fail(err, FR_ERR_NOMEM, "check: out of memory"), -1;
        }
        int64_t nonfinite = 0, first = -1;
        for (int64_t r = 0; r < rows; r++) {
            tt->to_float((const char *)t->data + (size_t)r * rb, buf, row);
            for (int64_t k = 0; k < row; k++) {
                if (!isfinite(buf[k])) {
                    if (first < 0) first = r * row + k;
                    nonfinite++;
                }
            }
        }
        if (nonfinite) {
            if (bad == 0)
                fr_fail(err, FR_ERR_FORMAT, "tensor '%s': %lld NaN/Inf values (first at element %lld)", t->name,
                        (long long)nonfinite, (long long)first);
            fr_log(FR_LOG_WARN, "tensor '%s': %lld NaN/Inf values (first at element %lld)", t->name,
                   (long long)nonfinite, (long long)first);
            bad++;
        }
    }
    free(buf);
    return bad;
}

bool frugal_model_is_eog(const frugal_model *m, int32_t token) { return fr_special_is_eog(&m->m->special, token); }
int64_t frugal_model_n_vocab(const frugal_model *m) { return m->m->hp.n_vocab; }

const frugal_tokenizer *frugal_model_tokenizer(const frugal_model *m, fr_error *err) {
    if (!m->tok && err) *err = m->tok_err;
    return m->tok;
}

int frugal_token_to_piece(const frugal_model *m, int32_t token, bool special, char *buf, size_t cap) {
    return fr_vocab_piece(&m->vocab, token, special, buf, cap);
}

frugal_context_params frugal_context_default_params(void) {
    frugal_context_params p = {0, 0, -1, 0, 0};
    return p;
}

fr_status frugal_context_new(const frugal_model *m, const frugal_context_params *p, frugal_context **out,
                             fr_error *err) {
    fr_context_params cp = fr_context_default_params();
    if (p) {
        cp.n_ctx = p->n_ctx;
        cp.n_batch = p->n_batch;
        if (p->kv_type >= 0) cp.kv_type = p->kv_type;
        cp.n_threads = p->n_threads;
        cp.n_seq = p->n_seq;
    }
    return fr_context_new(m->m, &cp, out, err);
}

void frugal_context_free(frugal_context *c) { fr_context_free(c); }
fr_status frugal_eval(frugal_context *c, const int32_t *tokens, int64_t n, float *logits, int64_t first_logit_row,
                      fr_error *err) {
    return fr_context_eval(c, tokens, n, logits, first_logit_row, err);
}
int64_t frugal_context_n_past(const frugal_context *c) { return fr_context_n_past(c); }
int64_t frugal_context_n_ctx(const frugal_context *c) { return fr_context_n_ctx(c); }
void frugal_context_truncate(frugal_context *c, int64_t n_past) { fr_context_truncate(c, n_past); }
fr_status frugal_eval_seqs(frugal_context *c, const int32_t *tokens, const int32_t *seq, int64_t n,
                           const uint8_t *want, float *logits, fr_error *err) {
    return fr_context_eval_seqs(c, tokens, seq, n, want, logits, err);
}
int64_t frugal_seq_n_past(const frugal_context *c, int32_t seq) { return fr_context_seq_n_past(c, seq); }
void frugal_seq_truncate(frugal_context *c, int32_t seq, int64_t n_past) { fr_context_seq_truncate(c, seq, n_past); }
fr_status frugal_seq_copy(frugal_context *c, int32_t src, int32_t dst, int64_t n, fr_error *err) {
    return fr_context_seq_copy(c, src, dst, n, err);
}
bool frugal_context_phase_matters(const frugal_context *c) { return fr_context_phase_matters(c); }
int32_t frugal_context_n_seq(const frugal_context *c) { return fr_context_n_seq(c); }
void frugal_context_set_phase(frugal_context *c, frugal_phase phase) {
    fr_context_set_phase(c, phase == FRUGAL_PHASE_DECODE ? FR_PHASE_DECODE : FR_PHASE_PROMPT);
}
fr_status frugal_seq_set_phase(frugal_context *c, int32_t seq, frugal_phase phase, fr_error *err) {
    return fr_context_seq_set_phase(c, seq, phase == FRUGAL_PHASE_DECODE ? FR_PHASE_DECODE : FR_PHASE_PROMPT, err);
}

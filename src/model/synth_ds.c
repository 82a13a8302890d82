/* synth_ds.c: random-weight deepseek2 models (DeepSeek-V2/V3 shapes), in the legacy MLA
 * layout that llama.cpp loads (attn_kv_b) or the split one (attn_k_b/attn_v_b).
 *
 * deepseek-v2-lite is DeepSeek-V2-Lite's real configuration (15.7B total, 2.4B active).
 * deepseek-v3-mini keeps every DeepSeek-V3 feature at about 2B parameters:
 *   vocab 129280 (V3's), hidden 1024, 18 layers (the first 3 dense, FFN 2816), 16 heads,
 *   q LoRA 512, kv LoRA 512, qk_nope 128, qk_rope 64, v_head 128 (V3's MLA head shapes, so
 *   the latent cache is V3's 576 values per token and layer), 64 routed experts of FFN 512
 *   in 8 groups (4 used), 8 experts per token plus 1 shared, sigmoid scoring with a
 *   score-correction bias, weight normalisation, routed scale 2.5, YaRN factor 40 from
 *   4096 tokens with mscale_all_dim 1 (yarn_log_multiplier 0.1), context 163840.
 *   That is 1.96B parameters, about 0.64B active per token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal.h"
#include "synth.h"

static const fr_synth_ds k_ds_shapes[] = {
    {.name = "deepseek-v2-lite", .n_vocab = 102400, .n_ctx = 163840, .n_embd = 2048, .n_layer = 27, .n_head = 16,
     .n_ff = 10944, .q_lora = 0, .kv_lora = 512, .qk_nope = 128, .qk_rope = 64, .v_head = 128, .n_expert = 64,
     .n_expert_used = 6, .n_expert_shared = 2, .n_ff_exp = 1408, .n_dense_lead = 1, .n_groups = 1, .n_group_used = 1,
     .gating = FR_GATING_SOFTMAX, .exp_bias = false, .weights_norm = false, .weights_scale = 1.0, .rope_base = 10000.0,
     .rms_eps = 1e-6, .yarn_factor = 40.0, .yarn_orig_ctx = 4096, .yarn_log_mul = 0.0707},
    {.name = "deepseek-v3-mini", .n_vocab = 129280, .n_ctx = 163840, .n_embd = 1024, .n_layer = 18, .n_head = 16,
     .n_ff = 2816, .q_lora = 512, .kv_lora = 512, .qk_nope = 128, .qk_rope = 64, .v_head = 128, .n_expert = 64,
     .n_expert_used = 8, .n_expert_shared = 1, .n_ff_exp = 512, .n_dense_lead = 3, .n_groups = 8, .n_group_used = 4,
     .gating = FR_GATING_SIGMOID, .exp_bias = true, .weights_norm = true, .weights_scale = 2.5, .rope_base = 10000.0,
     .rms_eps = 1e-6, .yarn_factor = 40.0, .yarn_orig_ctx = 4096, .yarn_log_mul = 0.1},
};

const fr_synth_ds *fr_synth_ds_find(const char *name) {
    for (size_t i = 0; i < sizeof k_ds_shapes / sizeof k_ds_shapes[0]; i++)
        if (!strcmp(k_ds_shapes[i].name, name)) return &k_ds_shapes[i];
    return NULL;
}

/* one block's tensors (a trunk layer, or an MTP block with its extra nextn.* tensors) */
static fr_status add_block(synth_ctx *sc, const fr_synth_ds *d, const type_mix *mx, int64_t l, bool moe, bool mb,
                           bool mtp, fr_error *err) {
    fr_status st = FR_OK;
    char name[128];
    int64_t E = d->n_embd, H = d->n_head, dk = d->qk_nope + d->qk_rope;
    float ws = d->w_scale > 0 ? d->w_scale : 0.05f;
    int down = mb ? mx->more_bits : mx->base;
#define T3(suffix, type, n0, n1, n2, scl)                                                 \
    if (st == FR_OK) {                                                                    \
        snprintf(name, sizeof name, "blk.%lld." suffix, (long long)l);                    \
        st = fr_synth_add3(sc, name, type, n0, n1, n2, scl, err);                         \
    }
#define T(suffix, type, n0, n1, scl) T3(suffix, type, n0, n1, 1, scl)
    T("attn_norm.weight", FR_TYPE_F32, E, 1, 0.0f);
    if (d->q_lora > 0) {
        T("attn_q_a.weight", mx->base, E, d->q_lora, ws);
        T("attn_q_a_norm.weight", FR_TYPE_F32, d->q_lora, 1, 0.0f);
        T("attn_q_b.weight", mx->base, d->q_lora, H * dk, ws);
    } else {
        T("attn_q.weight", mx->base, E, H * dk, ws);
    }
    T("attn_kv_a_mqa.weight", mx->base, E, d->kv_lora + d->qk_rope, ws);
    T("attn_kv_a_norm.weight", FR_TYPE_F32, d->kv_lora, 1, 0.0f);
    if (d->split) {
        T3("attn_k_b.weight", down, d->qk_nope, d->kv_lora, H, ws);
        T3("attn_v_b.weight", down, d->kv_lora, d->v_head, H, ws);
    } else {
        T("attn_kv_b.weight", down, d->kv_lora, H * (d->qk_nope + d->v_head), ws);
    }
    T("attn_output.weight", mx->base, H * d->v_head, E, ws);
    T("ffn_norm.weight", FR_TYPE_F32, E, 1, 0.0f);
    if (!moe) {
        T("ffn_gate.weight", mx->base, E, d->n_ff, ws);
        T("ffn_up.weight", mx->base, E, d->n_ff, ws);
        T("ffn_down.weight", down, d->n_ff, E, ws);
    } else {
        /* the router stays F32, as llama.cpp's quantizer leaves it */
        T("ffn_gate_inp.weight", FR_TYPE_F32, E, d->n_expert, ws);
        if (d->exp_bias) T("exp_probs_b.bias", FR_TYPE_F32, d->n_expert, 1, ws);
        T3("ffn_gate_exps.weight", mx->base, E, d->n_ff_exp, d->n_expert, ws);
        T3("ffn_up_exps.weight", mx->base, E, d->n_ff_exp, d->n_expert, ws);
        T3("ffn_down_exps.weight", down, d->n_ff_exp, E, d->n_expert, ws);
        if (d->n_expert_shared > 0) {
            int64_t fs = d->n_ff_exp * d->n_expert_shared;
            T("ffn_gate_shexp.weight", mx->base, E, fs, ws);
            T("ffn_up_shexp.weight", mx->base, E, fs, ws);
            T("ffn_down_shexp.weight", down, fs, E, ws);
        }
    }
    if (mtp) { /* DeepSeek-V3's multi-token prediction block */
        T("nextn.eh_proj.weight", mx->base, 2 * E, E, ws);
        T("nextn.enorm.weight", FR_TYPE_F32, E, 1, 0.0f);
        T("nextn.hnorm.weight", FR_TYPE_F32, E, 1, 0.0f);
        T("nextn.shared_head_norm.weight", FR_TYPE_F32, E, 1, 0.0f);
    }
#undef T
#undef T3
    return st;
}

fr_status fr_synth_deepseek2(const fr_synth_ds *d, const char *type_name, uint64_t seed, const char *vocab_path,
                             const char *out_path, fr_error *err) {
    type_mix mx;
    if (!fr_synth_parse_mix(type_name ? type_name : "F16", &mx))
        return fr_fail(err, FR_ERR_ARG, "synth: --type '%s' (expected F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
                                        "IQ4_NL, Q2_K..Q6_K, Q3_K_M, Q4_K_M or Q5_K_M)", type_name);
    gguf_writer *w = gguf_writer_new();
    if (!w) return fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
    int64_t n_blocks = d->n_layer + d->n_nextn;
    synth_ctx sc = {w, NULL, 0, 16 + (int)n_blocks * 32, seed};
    sc.specs = calloc((size_t)sc.cap, sizeof *sc.specs);
    gguf_file *vocab = NULL;
    fr_status st = sc.specs ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
    int64_t n_vocab = d->n_vocab;
    if (st == FR_OK && vocab_path) {
        st = gguf_open(vocab_path, &vocab, err);
        const gguf_kv *toks = NULL;
        if (st == FR_OK && gguf_get_arr(vocab, "tokenizer.ggml.tokens", GGUF_STRING, &toks, err) != 1)
            st = fr_fail(err, FR_ERR_FORMAT, "%s: no tokenizer.ggml.tokens (expected a GGUF with a vocabulary)", vocab_path);
        if (st == FR_OK) n_vocab = (int64_t)toks->arr_n;
    }
    char key[128];
#define SETU(k, v) do { if (st == FR_OK) { snprintf(key, sizeof key, "deepseek2." k); st = gguf_writer_set_u32(w, key, (uint32_t)(v)); } } while (0)
#define SETF(k, v) do { if (st == FR_OK) { snprintf(key, sizeof key, "deepseek2." k); st = gguf_writer_set_f32(w, key, (float)(v)); } } while (0)
    if (st == FR_OK) st = gguf_writer_set_str(w, "general.architecture", "deepseek2");
    if (st == FR_OK) {
        char nm[128];
        snprintf(nm, sizeof nm, "synth-%s-%s", d->name ? d->name : "deepseek2", type_name ? type_name : "F16");
        st = gguf_writer_set_str(w, "general.name", nm);
    }
    if (st == FR_OK) st = gguf_writer_set_u32(w, "general.quantization_version", 2);
    int64_t H = d->n_head;
    SETU("context_length", d->n_ctx);
    SETU("embedding_length", d->n_embd);
    SETU("block_count", n_blocks);
    SETU("feed_forward_length", d->n_ff);
    SETU("attention.head_count", H);
    SETF("attention.layer_norm_rms_epsilon", d->rms_eps);
    SETF("rope.freq_base", d->rope_base);
    SETU("vocab_size", n_vocab);
    if (d->q_lora > 0) SETU("attention.q_lora_rank", d->q_lora);
    SETU("attention.kv_lora_rank", d->kv_lora);
    if (d->split) { /* the cache described as one MQA head: latent + rope key */
        SETU("attention.head_count_kv", 1);
        SETU("attention.key_length", d->kv_lora + d->qk_rope);
        SETU("attention.value_length", d->kv_lora);
        SETU("attention.key_length_mla", d->qk_nope + d->qk_rope);
        SETU("attention.value_length_mla", d->v_head);
    } else {
        SETU("attention.head_count_kv", H);
        SETU("attention.key_length", d->qk_nope + d->qk_rope);
        SETU("attention.value_length", d->v_head);
    }
    SETU("rope.dimension_count", d->qk_rope);
    SETU("leading_dense_block_count", d->n_expert > 0 ? d->n_dense_lead : d->n_layer);
    SETU("expert_count", d->n_expert);
    SETU("expert_used_count", d->n_expert_used);
    SETU("expert_shared_count", d->n_expert_shared);
    SETU("expert_feed_forward_length", d->n_ff_exp);
    SETF("expert_weights_scale", d->weights_scale);
    if (st == FR_OK) st = gguf_writer_set_bool(w, "deepseek2.expert_weights_norm", d->weights_norm);
    SETU("expert_gating_func", d->gating == FR_GATING_SIGMOID ? 2 : 1);
    if (d->n_groups > 1) {
        SETU("expert_group_count", d->n_groups);
        SETU("expert_group_used_count", d->n_group_used);
    }
    if (d->yarn_factor > 0) {
        if (st == FR_OK) st = gguf_writer_set_str(w, "deepseek2.rope.scaling.type", "yarn");
        SETF("rope.scaling.factor", d->yarn_factor);
        SETU("rope.scaling.original_context_length", d->yarn_orig_ctx);
    }
    /* the pinned llama.cpp requires this key for deepseek2 even without YaRN */
    SETF("rope.scaling.yarn_log_multiplier", d->yarn_log_mul);
    if (d->n_nextn > 0) SETU("nextn_predict_layers", d->n_nextn);
#undef SETU
#undef SETF
    if (st == FR_OK) {
        if (vocab) {
            st = gguf_writer_copy_kv(w, vocab, "tokenizer.", NULL);
            if (st != FR_OK && err->code == FR_OK) fr_fail(err, st, "synth: cannot copy the vocabulary");
        } else {
            st = fr_synth_placeholder_vocab(w, n_vocab, err);
        }
    }
    int64_t E = d->n_embd;
    float ws = d->w_scale > 0 ? d->w_scale : 0.05f;
    if (st == FR_OK) st = fr_synth_add3(&sc, "token_embd.weight", mx.embd, E, n_vocab, 1, ws, err);
    if (st == FR_OK) st = fr_synth_add3(&sc, "output_norm.weight", FR_TYPE_F32, E, 1, 1, 0.0f, err);
    if (st == FR_OK) st = fr_synth_add3(&sc, "output.weight", mx.output, E, n_vocab, 1, ws, err);
    for (int64_t l = 0; l < n_blocks && st == FR_OK; l++) {
        bool moe = d->n_expert > 0 && l >= d->n_dense_lead;
        st = add_block(&sc, d, &mx, l, moe, fr_synth_more_bits(l, d->n_layer), l >= d->n_layer, err);
    }
    if (st == FR_OK) st = gguf_writer_write(w, out_path, 32, err);
    gguf_close(vocab);
    gguf_writer_free(w);
    free(sc.specs);
    return st;
}

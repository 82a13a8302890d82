/* synth.h: random-weight model writers (synth.c: llama/qwen2 and the shared helpers;
 * synth_ds.c: deepseek2). Internal; tests and the fuzzers' seeds use fr_synth_deepseek2 and
 * fr_synth_llama_write for custom tiny shapes. */
#ifndef FRUGAL_MODEL_SYNTH_H
#define FRUGAL_MODEL_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "io/gguf.h"
#include "model.h"

/* K-quant mixes as the "_M" files use them; other types apply to every matrix. */
typedef struct {
    int base;      /* most matrices */
    int more_bits; /* attn_v / ffn_down (deepseek2: attn_kv_b, ffn_down*) on the layers that get more bits */
    int output;    /* output.weight */
    int embd;      /* token_embd.weight */
} type_mix;

typedef struct {
    int type;
    int64_t row, rows;
    uint64_t seed;
    float scale; /* uniform in [-scale, scale]; 0: constant 1 */
} fill_spec;

typedef struct {
    gguf_writer *w;
    fill_spec *specs;
    int n_specs, cap;
    uint64_t seed;
} synth_ctx;

bool fr_synth_parse_mix(const char *name, type_mix *mx);
bool fr_synth_more_bits(int64_t i, int64_t n);
/* A random tensor of ne0 x ne1 x ne2 (ne2 == 1: 2-D, ne1 == 1 too: 1-D); norms (scale 0) are F32 ones. */
fr_status fr_synth_add3(synth_ctx *sc, const char *name, int type, int64_t ne0, int64_t ne1, int64_t ne2, float scale,
                        fr_error *err);
fr_status fr_synth_placeholder_vocab(gguf_writer *w, int64_t n, fr_error *err);

/* A deepseek2 shape. */
typedef struct fr_synth_ds {
    const char *name;
    int64_t n_vocab, n_ctx, n_embd, n_layer, n_head, n_ff; /* n_ff: the dense layers' FFN */
    int64_t q_lora, kv_lora, qk_nope, qk_rope, v_head;      /* q_lora 0: attn_q */
    int64_t n_expert, n_expert_used, n_expert_shared, n_ff_exp, n_dense_lead;
    int64_t n_groups, n_group_used;                         /* 1, 1: no group-limited routing */
    fr_gating gating;
    bool exp_bias;       /* exp_probs_b (e_score_correction_bias) */
    bool weights_norm;
    double weights_scale;
    double rope_base, rms_eps;
    double yarn_factor;  /* 0: no rope scaling */
    int64_t yarn_orig_ctx;
    double yarn_log_mul; /* 0.1 * mscale_all_dim */
    bool split;          /* attn_k_b + attn_v_b (and the split metadata) instead of attn_kv_b */
    int64_t n_nextn;     /* MTP blocks appended after the trunk */
    float w_scale;       /* matrices uniform in [-w_scale, w_scale]; 0: 0.05 */
} fr_synth_ds;

/* A llama or qwen2 shape. */
typedef struct fr_synth_llama {
    const char *name;
    const char *arch; /* "llama" or "qwen2" */
    int64_t n_vocab, n_ctx, n_embd, n_layer, n_head, n_head_kv, n_ff;
    double rope_base, rms_eps;
    bool tied;        /* no output.weight */
    bool biases;      /* q/k/v biases (qwen2) */
    bool llama3_rope; /* rope_freqs.weight from Llama 3.x scaling (factor 32, 8192) */
} fr_synth_llama;

fr_status fr_synth_llama_write(const fr_synth_llama *sh, const char *type_name, uint64_t seed, const char *vocab_path,
                               const char *out_path, fr_error *err);

const fr_synth_ds *fr_synth_ds_find(const char *name);
fr_status fr_synth_deepseek2(const fr_synth_ds *ds, const char *type_name, uint64_t seed, const char *vocab_path,
                             const char *out_path, fr_error *err);

#endif

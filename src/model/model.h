/* model.h: the model as three parts (after llama2.c): hyperparameters, weights (views
 * into the mmap, shapes beside each field) and, in context.h, the run state.
 *
 * Shapes use ggml order: [ne0, ne1] is ne1 rows of ne0 values. */
#ifndef FRUGAL_MODEL_MODEL_H
#define FRUGAL_MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base.h"
#include "io/gguf.h"
#include "kernels/kernels.h"

typedef enum fr_arch { FR_ARCH_LLAMA = 0, FR_ARCH_QWEN2 = 1, FR_ARCH_DEEPSEEK2 = 2, FR_ARCH_COUNT } fr_arch;

/* MoE router scoring (GGUF expert_gating_func values). */
typedef enum { FR_GATING_SOFTMAX = 1, FR_GATING_SIGMOID = 2 } fr_gating;

typedef struct fr_hparams {
    fr_arch arch;
    int64_t n_vocab;
    int64_t n_ctx_train;
    int64_t n_embd;
    int64_t n_layer;
    int64_t n_head;
    int64_t n_head_kv;
    int64_t head_dim_k; /* attention.key_length (default n_embd / n_head) */
    int64_t head_dim_v; /* attention.value_length */
    int64_t n_ff;
    int64_t n_rot;      /* rope.dimension_count (default head_dim_k) */
    float rms_eps;
    float rope_freq_base;
    float rope_freq_scale; /* 1 / rope.scaling.factor for linear scaling, else 1 */
    bool rope_neox;        /* pairing (i, i + n_rot/2) instead of (2i, 2i+1) */

    /* ---- deepseek2: multi-head latent attention (MLA) and DeepSeekMoE; 0 elsewhere ----
     * head_dim_k is qk_nope + qk_rope (the per-head query/key width of the model, from
     * attention.key_length in the legacy layout, attention.key_length_mla in the split
     * one), head_dim_v the per-head value width, n_rot = qk_rope. */
    int64_t n_lora_q;  /* attention.q_lora_rank; 0: no q LoRA (attn_q, V2-Lite) */
    int64_t n_lora_kv; /* attention.kv_lora_rank: the latent cached per token */
    int64_t qk_nope;   /* head_dim_k - n_rot */
    bool mla_split_meta; /* attention.key_length_mla present (split-MLA metadata) */
    int64_t n_nextn;   /* trailing MTP (nextn) blocks in the file: loaded, not run */
    /* MoE (n_expert == 0: dense FFN in every layer) */
    int64_t n_expert, n_expert_used, n_expert_shared, n_ff_exp;
    int64_t n_layer_dense_lead; /* leading_dense_block_count: layers [0, n) use ffn_gate/up/down */
    int64_t n_expert_groups, n_group_used; /* group-limited routing (1, 1: off) */
    float expert_weights_scale;           /* routed_scaling_factor */
    bool expert_weights_norm;             /* renormalise the selected weights to sum 1 */
    fr_gating expert_gating;
    /* YaRN (rope.scaling.type = yarn): per-frequency interpolation of the rope part and the
     * attention-scale correction; see fr_rope_inv_freq() and attn_scale. */
    bool yarn;
    float yarn_factor;     /* rope.scaling.factor */
    int64_t yarn_orig_ctx; /* rope.scaling.original_context_length */
    float yarn_log_mul;    /* rope.scaling.yarn_log_multiplier = 0.1 * mscale_all_dim */
    float yarn_beta_fast, yarn_beta_slow;
    float attn_scale;      /* softmax scale of q.k (deepseek2: mscale^2 / sqrt(head_dim_k)) */
} fr_hparams;

/* A weight tensor: a view into the mapped file. */
typedef struct fr_tensor {
    const gguf_tensor *src; /* NULL if an optional tensor is absent */
    fr_matrix m;            /* 2-D view: m.n_in = ne[0], m.n_out = product of the rest */
} fr_tensor;

typedef struct fr_layer {
    fr_tensor attn_norm; /* [n_embd] */
    /* deepseek2 attention (MLA). wq is attn_q [n_embd, n_head * head_dim_k] without q LoRA. */
    fr_tensor wq_a;      /* [n_embd, n_lora_q] */
    fr_tensor q_a_norm;  /* [n_lora_q] */
    fr_tensor wq_b;      /* [n_lora_q, n_head * head_dim_k] */
    fr_tensor wkv_a;     /* attn_kv_a_mqa [n_embd, n_lora_kv + n_rot]: latent | shared rope key */
    fr_tensor kv_a_norm; /* [n_lora_kv] */
    fr_tensor wkv_b;     /* legacy [n_lora_kv, n_head * (qk_nope + head_dim_v)], head-major rows */
    fr_tensor wk_b;      /* split [qk_nope, n_lora_kv, n_head]: W_UK transposed per head */
    fr_tensor wv_b;      /* split [n_lora_kv, head_dim_v, n_head] */
    /* deepseek2 MoE layers */
    fr_tensor ffn_gate_inp;   /* [n_embd, n_expert] router */
    fr_tensor exp_probs_b;    /* [n_expert], optional: e_score_correction_bias (selection only) */
    fr_tensor ffn_gate_exps;  /* [n_embd, n_ff_exp, n_expert] */
    fr_tensor ffn_up_exps;    /* [n_embd, n_ff_exp, n_expert] */
    fr_tensor ffn_down_exps;  /* [n_ff_exp, n_embd, n_expert] */
    fr_tensor ffn_gate_shexp; /* [n_embd, n_ff_exp * n_expert_shared] */
    fr_tensor ffn_up_shexp;   /* [n_embd, n_ff_exp * n_expert_shared] */
    fr_tensor ffn_down_shexp; /* [n_ff_exp * n_expert_shared, n_embd] */
    fr_tensor wq;        /* [n_embd, n_head * head_dim_k] */
    fr_tensor wk;        /* [n_embd, n_head_kv * head_dim_k] */
    fr_tensor wv;        /* [n_embd, n_head_kv * head_dim_v] */
    fr_tensor wo;        /* [n_head * head_dim_v, n_embd] */
    fr_tensor bq;        /* [n_head * head_dim_k], optional (qwen2: required) */
    fr_tensor bk;        /* [n_head_kv * head_dim_k], optional */
    fr_tensor bv;        /* [n_head_kv * head_dim_v], optional */
    fr_tensor ffn_norm;  /* [n_embd] */
    fr_tensor w_gate;    /* [n_embd, n_ff] */
    fr_tensor w_up;      /* [n_embd, n_ff] */
    fr_tensor w_down;    /* [n_ff, n_embd] */
    /* float copies of the small vectors (norm weights, biases): [n] each, or NULL */
    float *attn_norm_f, *ffn_norm_f, *bq_f, *bk_f, *bv_f;
    float *q_a_norm_f, *kv_a_norm_f, *exp_probs_b_f;
    /* MLA matrices as the forward pass reads them (mla.c): views of the file's tensors
     *   kdec: rows (h, i<qk_nope) of n_lora_kv: K_nope = W_UK c (prompt decompression)
     *   vdec: rows (h, i<head_dim_v) of n_lora_kv: V = W_UV c, and W_UV o_lat (decode)
     *   kabs: rows (h, c<n_lora_kv) of qk_nope: W_UK^T (split files only; NULL data else)
     * A split file has no kdec: it is an owned transposed copy of attn_k_b. */
    fr_head_rows kdec, kabs, vdec;
    void *mla_owned; /* that copy, or NULL */
} fr_layer;

typedef struct fr_weights {
    fr_tensor tok_embd;    /* [n_embd, n_vocab] */
    fr_tensor output_norm; /* [n_embd] */
    fr_tensor output;      /* [n_embd, n_vocab]; absent when tied to tok_embd */
    fr_tensor rope_freqs;  /* [n_rot / 2], optional: per-frequency divisors (Llama 3.x) */
    fr_layer *layers;      /* [n_layer] */
    float *output_norm_f;  /* [n_embd] */
    float *rope_freqs_f;   /* [n_rot / 2] or NULL */
    /* loaded without repacking (inspection): what a full load would repack */
    int64_t plan_repack_n;
    size_t plan_repack_bytes;
    double repack_seconds; /* wall time of the repacking at load */
    struct fr_packed **packed; /* [n_packed] the packed copies the matrices point to (owned) */
    int64_t n_packed;
    size_t packed_bytes;
} fr_weights;

/* Token ids the model declares as ending generation, and other special ids. */
#define FR_MAX_EOG 16
typedef struct fr_special {
    int32_t bos, eos, eot, eom, unk, pad; /* -1 if absent */
    int32_t eog[FR_MAX_EOG];
    int n_eog;
    bool add_bos;
} fr_special;

typedef struct fr_model {
    gguf_file *file;
    char *path;
    fr_hparams hp;
    fr_weights w;
    fr_special special;
    int64_t n_params;
    int64_t n_params_active; /* per token: routed experts count n_expert_used of n_expert; MTP excluded */
    int64_t n_params_layer_matrices; /* of those, the blocks' weight matrices (no embedding, output, norms) */
    uint64_t active_bytes;   /* weight bytes read per generated token, counted the same way; one
                              * row of the token embedding unless it is also the output matrix */
} fr_model;

fr_status fr_model_load(const char *path, fr_model **out, fr_error *err);
/* The same; with repack false the weights stay as the file has them (fast, for
 * inspection) and w.plan_repack_* say what fr_model_load would repack. */
fr_status fr_model_open(const char *path, bool repack, fr_model **out, fr_error *err);
void fr_model_free(fr_model *m);
const char *fr_arch_name(fr_arch a);
/* Comma-separated list of supported architectures. */
const char *fr_arch_supported_list(void);

/* hparams.c */
fr_status fr_hparams_load(const gguf_file *f, fr_hparams *hp, fr_error *err);
/* Rope frequencies (radians per position) of the n_rot/2 pairs, YaRN included (deepseek2). */
void fr_rope_inv_freq(const fr_hparams *hp, double *inv_freq);
/* mla.c: the kdec/kabs/vdec forms of one layer's MLA matrices (owned transposes as needed). */
fr_status fr_mla_bind(const fr_hparams *hp, fr_layer *L, int64_t layer, fr_error *err);
/* weights.c */
fr_status fr_weights_bind(const gguf_file *f, const fr_hparams *hp, fr_weights *w, bool repack, fr_error *err);
void fr_weights_free(fr_weights *w, int64_t n_layer);
/* special.c */
void fr_special_load(const gguf_file *f, int64_t n_vocab, fr_special *sp);
bool fr_special_is_eog(const fr_special *sp, int32_t tok);

#endif

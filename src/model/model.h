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

typedef enum fr_arch { FR_ARCH_LLAMA = 0, FR_ARCH_QWEN2 = 1, FR_ARCH_COUNT } fr_arch;

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
} fr_hparams;

/* A weight tensor: a view into the mapped file. */
typedef struct fr_tensor {
    const gguf_tensor *src; /* NULL if an optional tensor is absent */
    fr_matrix m;            /* 2-D view: m.n_in = ne[0], m.n_out = product of the rest */
} fr_tensor;

typedef struct fr_layer {
    fr_tensor attn_norm; /* [n_embd] */
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
} fr_layer;

typedef struct fr_weights {
    fr_tensor tok_embd;    /* [n_embd, n_vocab] */
    fr_tensor output_norm; /* [n_embd] */
    fr_tensor output;      /* [n_embd, n_vocab]; absent when tied to tok_embd */
    fr_tensor rope_freqs;  /* [n_rot / 2], optional: per-frequency divisors (Llama 3.x) */
    fr_layer *layers;      /* [n_layer] */
    float *output_norm_f;  /* [n_embd] */
    float *rope_freqs_f;   /* [n_rot / 2] or NULL */
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
} fr_model;

fr_status fr_model_load(const char *path, fr_model **out, fr_error *err);
void fr_model_free(fr_model *m);
const char *fr_arch_name(fr_arch a);
/* Comma-separated list of supported architectures. */
const char *fr_arch_supported_list(void);

/* hparams.c */
fr_status fr_hparams_load(const gguf_file *f, fr_hparams *hp, fr_error *err);
/* weights.c */
fr_status fr_weights_bind(const gguf_file *f, const fr_hparams *hp, fr_weights *w, fr_error *err);
void fr_weights_free(fr_weights *w, int64_t n_layer);
/* special.c */
void fr_special_load(const gguf_file *f, int64_t n_vocab, fr_special *sp);
bool fr_special_is_eog(const fr_special *sp, int32_t tok);

#endif

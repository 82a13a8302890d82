/* arch.h: declarative tables of architectures and their tensors.
 *
 * Each architecture lists its tensors by name template with a shape written in terms of
 * hyperparameters, and whether the tensor is required. weights.c binds and checks them. */
#ifndef FRUGAL_MODEL_ARCH_H
#define FRUGAL_MODEL_ARCH_H

#include <stddef.h>

#include "model.h"

/* Symbolic dimensions resolved from fr_hparams. */
typedef enum fr_dim {
    D_NONE = 0, /* unused trailing dimension */
    D_EMBD,     /* n_embd */
    D_VOCAB,    /* n_vocab */
    D_FF,       /* n_ff */
    D_Q,        /* n_head * head_dim_k */
    D_K,        /* n_head_kv * head_dim_k */
    D_V,        /* n_head_kv * head_dim_v */
    D_O,        /* n_head * head_dim_v */
    D_ROT_HALF, /* n_rot / 2 */
    /* deepseek2 */
    D_LORA_Q,   /* n_lora_q */
    D_LORA_KV,  /* n_lora_kv */
    D_KV_A,     /* n_lora_kv + n_rot */
    D_KV_B,     /* n_head * (qk_nope + head_dim_v) */
    D_NOPE,     /* qk_nope */
    D_VHEAD,    /* head_dim_v */
    D_HEAD,     /* n_head */
    D_EXPERT,   /* n_expert */
    D_FF_EXP,   /* n_ff_exp */
    D_FF_SHEXP, /* n_ff_exp * n_expert_shared */
} fr_dim;

typedef enum { T_REQUIRED = 0, T_OPTIONAL = 1 } fr_need;

/* When a tensor is expected at all (features come from metadata, never layer counts). */
typedef enum fr_cond {
    C_ALWAYS = 0,
    C_QLORA,     /* n_lora_q > 0 */
    C_NO_QLORA,  /* n_lora_q == 0 */
    C_DENSE_FFN, /* layer < n_layer_dense_lead, or no experts */
    C_MOE,       /* a MoE layer */
    C_SHEXP,     /* a MoE layer with shared experts */
} fr_cond;

/* Where a bound tensor goes: an offset into fr_weights (global) or fr_layer (per layer). */
typedef struct fr_tensor_spec {
    const char *name; /* "token_embd.weight" or "blk.%d.attn_q.weight" */
    fr_dim shape[3];  /* shape[2] == D_NONE: 2-D (trailing dimensions are flattened) */
    fr_need need;     /* when its condition holds */
    fr_cond cond;
    int per_layer;
    size_t offset; /* offsetof(fr_weights or fr_layer, field) */
} fr_tensor_spec;

typedef struct fr_arch_info {
    const char *name; /* general.architecture */
    fr_arch arch;
    int rope_neox;
    const fr_tensor_spec *tensors;
    size_t n_tensors;
} fr_arch_info;

/* NULL if the name is not a supported architecture. */
const fr_arch_info *fr_arch_find(const char *name, size_t len);
const fr_arch_info *fr_arch_get(fr_arch a);

#endif

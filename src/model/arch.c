/* arch.c: the architecture and tensor tables. */
#include "arch.h"

#include <stddef.h>
#include <string.h>

#define G(field) 0, offsetof(fr_weights, field)
#define L(field) 1, offsetof(fr_layer, field)

/* llama: Llama 2/3.x, Mistral, DeepSeek-LLM, TinyLlama. Llama 3 adds rope_freqs; tied
 * embeddings drop output.weight. */
static const fr_tensor_spec k_llama[] = {
    {"token_embd.weight", {D_EMBD, D_VOCAB}, T_REQUIRED, G(tok_embd)},
    {"output_norm.weight", {D_EMBD, D_NONE}, T_REQUIRED, G(output_norm)},
    {"output.weight", {D_EMBD, D_VOCAB}, T_OPTIONAL, G(output)},
    {"rope_freqs.weight", {D_ROT_HALF, D_NONE}, T_OPTIONAL, G(rope_freqs)},
    {"blk.%d.attn_norm.weight", {D_EMBD, D_NONE}, T_REQUIRED, L(attn_norm)},
    {"blk.%d.attn_q.weight", {D_EMBD, D_Q}, T_REQUIRED, L(wq)},
    {"blk.%d.attn_k.weight", {D_EMBD, D_K}, T_REQUIRED, L(wk)},
    {"blk.%d.attn_v.weight", {D_EMBD, D_V}, T_REQUIRED, L(wv)},
    {"blk.%d.attn_output.weight", {D_O, D_EMBD}, T_REQUIRED, L(wo)},
    {"blk.%d.attn_q.bias", {D_Q, D_NONE}, T_OPTIONAL, L(bq)},
    {"blk.%d.attn_k.bias", {D_K, D_NONE}, T_OPTIONAL, L(bk)},
    {"blk.%d.attn_v.bias", {D_V, D_NONE}, T_OPTIONAL, L(bv)},
    {"blk.%d.ffn_norm.weight", {D_EMBD, D_NONE}, T_REQUIRED, L(ffn_norm)},
    {"blk.%d.ffn_gate.weight", {D_EMBD, D_FF}, T_REQUIRED, L(w_gate)},
    {"blk.%d.ffn_up.weight", {D_EMBD, D_FF}, T_REQUIRED, L(w_up)},
    {"blk.%d.ffn_down.weight", {D_FF, D_EMBD}, T_REQUIRED, L(w_down)},
};

/* qwen2: as llama, with required q/k/v biases and NeoX rope pairing. */
static const fr_tensor_spec k_qwen2[] = {
    {"token_embd.weight", {D_EMBD, D_VOCAB}, T_REQUIRED, G(tok_embd)},
    {"output_norm.weight", {D_EMBD, D_NONE}, T_REQUIRED, G(output_norm)},
    {"output.weight", {D_EMBD, D_VOCAB}, T_OPTIONAL, G(output)},
    {"blk.%d.attn_norm.weight", {D_EMBD, D_NONE}, T_REQUIRED, L(attn_norm)},
    {"blk.%d.attn_q.weight", {D_EMBD, D_Q}, T_REQUIRED, L(wq)},
    {"blk.%d.attn_k.weight", {D_EMBD, D_K}, T_REQUIRED, L(wk)},
    {"blk.%d.attn_v.weight", {D_EMBD, D_V}, T_REQUIRED, L(wv)},
    {"blk.%d.attn_output.weight", {D_O, D_EMBD}, T_REQUIRED, L(wo)},
    {"blk.%d.attn_q.bias", {D_Q, D_NONE}, T_REQUIRED, L(bq)},
    {"blk.%d.attn_k.bias", {D_K, D_NONE}, T_REQUIRED, L(bk)},
    {"blk.%d.attn_v.bias", {D_V, D_NONE}, T_REQUIRED, L(bv)},
    {"blk.%d.ffn_norm.weight", {D_EMBD, D_NONE}, T_REQUIRED, L(ffn_norm)},
    {"blk.%d.ffn_gate.weight", {D_EMBD, D_FF}, T_REQUIRED, L(w_gate)},
    {"blk.%d.ffn_up.weight", {D_EMBD, D_FF}, T_REQUIRED, L(w_up)},
    {"blk.%d.ffn_down.weight", {D_FF, D_EMBD}, T_REQUIRED, L(w_down)},
};

static const fr_arch_info k_archs[] = {
    {"llama", FR_ARCH_LLAMA, 0, k_llama, sizeof k_llama / sizeof k_llama[0]},
    {"qwen2", FR_ARCH_QWEN2, 1, k_qwen2, sizeof k_qwen2 / sizeof k_qwen2[0]},
};

const fr_arch_info *fr_arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++) {
        if (strlen(k_archs[i].name) == len && memcmp(k_archs[i].name, name, len) == 0) return &k_archs[i];
    }
    return NULL;
}

const fr_arch_info *fr_arch_get(fr_arch a) {
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (k_archs[i].arch == a) return &k_archs[i];
    return NULL;
}

const char *fr_arch_name(fr_arch a) {
    const fr_arch_info *ai = fr_arch_get(a);
    return ai ? ai->name : "?";
}

const char *fr_arch_supported_list(void) { return "llama, qwen2"; }

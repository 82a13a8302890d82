/* arch.c: the architecture and tensor tables. */
#include "arch.h"

#include <stddef.h>
#include <string.h>

#define G(field) 0, offsetof(fr_weights, field)
#define L(field) 1, offsetof(fr_layer, field)

/* llama: Llama 2/3.x, Mistral, DeepSeek-LLM, TinyLlama. Llama 3 adds rope_freqs; tied
 * embeddings drop output.weight. */
static const fr_tensor_spec k_llama[] = {
    {"token_embd.weight", {D_EMBD, D_VOCAB, D_NONE}, T_REQUIRED, C_ALWAYS, G(tok_embd)},
    {"output_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, G(output_norm)},
    {"output.weight", {D_EMBD, D_VOCAB, D_NONE}, T_OPTIONAL, C_ALWAYS, G(output)},
    {"rope_freqs.weight", {D_ROT_HALF, D_NONE, D_NONE}, T_OPTIONAL, C_ALWAYS, G(rope_freqs)},
    {"blk.%d.attn_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(attn_norm)},
    {"blk.%d.attn_q.weight", {D_EMBD, D_Q, D_NONE}, T_REQUIRED, C_ALWAYS, L(wq)},
    {"blk.%d.attn_k.weight", {D_EMBD, D_K, D_NONE}, T_REQUIRED, C_ALWAYS, L(wk)},
    {"blk.%d.attn_v.weight", {D_EMBD, D_V, D_NONE}, T_REQUIRED, C_ALWAYS, L(wv)},
    {"blk.%d.attn_output.weight", {D_O, D_EMBD, D_NONE}, T_REQUIRED, C_ALWAYS, L(wo)},
    {"blk.%d.attn_q.bias", {D_Q, D_NONE, D_NONE}, T_OPTIONAL, C_ALWAYS, L(bq)},
    {"blk.%d.attn_k.bias", {D_K, D_NONE, D_NONE}, T_OPTIONAL, C_ALWAYS, L(bk)},
    {"blk.%d.attn_v.bias", {D_V, D_NONE, D_NONE}, T_OPTIONAL, C_ALWAYS, L(bv)},
    {"blk.%d.ffn_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(ffn_norm)},
    {"blk.%d.ffn_gate.weight", {D_EMBD, D_FF, D_NONE}, T_REQUIRED, C_ALWAYS, L(w_gate)},
    {"blk.%d.ffn_up.weight", {D_EMBD, D_FF, D_NONE}, T_REQUIRED, C_ALWAYS, L(w_up)},
    {"blk.%d.ffn_down.weight", {D_FF, D_EMBD, D_NONE}, T_REQUIRED, C_ALWAYS, L(w_down)},
};

/* qwen2: as llama, with required q/k/v biases and NeoX rope pairing. */
static const fr_tensor_spec k_qwen2[] = {
    {"token_embd.weight", {D_EMBD, D_VOCAB, D_NONE}, T_REQUIRED, C_ALWAYS, G(tok_embd)},
    {"output_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, G(output_norm)},
    {"output.weight", {D_EMBD, D_VOCAB, D_NONE}, T_OPTIONAL, C_ALWAYS, G(output)},
    {"blk.%d.attn_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(attn_norm)},
    {"blk.%d.attn_q.weight", {D_EMBD, D_Q, D_NONE}, T_REQUIRED, C_ALWAYS, L(wq)},
    {"blk.%d.attn_k.weight", {D_EMBD, D_K, D_NONE}, T_REQUIRED, C_ALWAYS, L(wk)},
    {"blk.%d.attn_v.weight", {D_EMBD, D_V, D_NONE}, T_REQUIRED, C_ALWAYS, L(wv)},
    {"blk.%d.attn_output.weight", {D_O, D_EMBD, D_NONE}, T_REQUIRED, C_ALWAYS, L(wo)},
    {"blk.%d.attn_q.bias", {D_Q, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(bq)},
    {"blk.%d.attn_k.bias", {D_K, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(bk)},
    {"blk.%d.attn_v.bias", {D_V, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(bv)},
    {"blk.%d.ffn_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(ffn_norm)},
    {"blk.%d.ffn_gate.weight", {D_EMBD, D_FF, D_NONE}, T_REQUIRED, C_ALWAYS, L(w_gate)},
    {"blk.%d.ffn_up.weight", {D_EMBD, D_FF, D_NONE}, T_REQUIRED, C_ALWAYS, L(w_up)},
    {"blk.%d.ffn_down.weight", {D_FF, D_EMBD, D_NONE}, T_REQUIRED, C_ALWAYS, L(w_down)},
};

/* deepseek2: DeepSeek-V2, V2-Lite, V2.5, V3, R1. MLA in the legacy layout (attn_kv_b) or the
 * split one (attn_k_b + attn_v_b) or both; weights.c checks that each layer has one. The q
 * path is q LoRA (V2, V3) or attn_q (V2-Lite), chosen by attention.q_lora_rank. Layers below
 * leading_dense_block_count have a dense FFN, the rest DeepSeekMoE. */
static const fr_tensor_spec k_deepseek2[] = {
    {"token_embd.weight", {D_EMBD, D_VOCAB, D_NONE}, T_REQUIRED, C_ALWAYS, G(tok_embd)},
    {"output_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, G(output_norm)},
    {"output.weight", {D_EMBD, D_VOCAB, D_NONE}, T_OPTIONAL, C_ALWAYS, G(output)},
    {"blk.%d.attn_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(attn_norm)},
    {"blk.%d.attn_q_a.weight", {D_EMBD, D_LORA_Q, D_NONE}, T_REQUIRED, C_QLORA, L(wq_a)},
    {"blk.%d.attn_q_a_norm.weight", {D_LORA_Q, D_NONE, D_NONE}, T_REQUIRED, C_QLORA, L(q_a_norm)},
    {"blk.%d.attn_q_b.weight", {D_LORA_Q, D_Q, D_NONE}, T_REQUIRED, C_QLORA, L(wq_b)},
    {"blk.%d.attn_q.weight", {D_EMBD, D_Q, D_NONE}, T_REQUIRED, C_NO_QLORA, L(wq)},
    {"blk.%d.attn_kv_a_mqa.weight", {D_EMBD, D_KV_A, D_NONE}, T_REQUIRED, C_ALWAYS, L(wkv_a)},
    {"blk.%d.attn_kv_a_norm.weight", {D_LORA_KV, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(kv_a_norm)},
    {"blk.%d.attn_kv_b.weight", {D_LORA_KV, D_KV_B, D_NONE}, T_OPTIONAL, C_ALWAYS, L(wkv_b)},
    {"blk.%d.attn_k_b.weight", {D_NOPE, D_LORA_KV, D_HEAD}, T_OPTIONAL, C_ALWAYS, L(wk_b)},
    {"blk.%d.attn_v_b.weight", {D_LORA_KV, D_VHEAD, D_HEAD}, T_OPTIONAL, C_ALWAYS, L(wv_b)},
    {"blk.%d.attn_output.weight", {D_O, D_EMBD, D_NONE}, T_REQUIRED, C_ALWAYS, L(wo)},
    {"blk.%d.ffn_norm.weight", {D_EMBD, D_NONE, D_NONE}, T_REQUIRED, C_ALWAYS, L(ffn_norm)},
    {"blk.%d.ffn_gate.weight", {D_EMBD, D_FF, D_NONE}, T_REQUIRED, C_DENSE_FFN, L(w_gate)},
    {"blk.%d.ffn_up.weight", {D_EMBD, D_FF, D_NONE}, T_REQUIRED, C_DENSE_FFN, L(w_up)},
    {"blk.%d.ffn_down.weight", {D_FF, D_EMBD, D_NONE}, T_REQUIRED, C_DENSE_FFN, L(w_down)},
    {"blk.%d.ffn_gate_inp.weight", {D_EMBD, D_EXPERT, D_NONE}, T_REQUIRED, C_MOE, L(ffn_gate_inp)},
    {"blk.%d.exp_probs_b.bias", {D_EXPERT, D_NONE, D_NONE}, T_OPTIONAL, C_MOE, L(exp_probs_b)},
    {"blk.%d.ffn_gate_exps.weight", {D_EMBD, D_FF_EXP, D_EXPERT}, T_REQUIRED, C_MOE, L(ffn_gate_exps)},
    {"blk.%d.ffn_up_exps.weight", {D_EMBD, D_FF_EXP, D_EXPERT}, T_REQUIRED, C_MOE, L(ffn_up_exps)},
    {"blk.%d.ffn_down_exps.weight", {D_FF_EXP, D_EMBD, D_EXPERT}, T_REQUIRED, C_MOE, L(ffn_down_exps)},
    {"blk.%d.ffn_gate_shexp.weight", {D_EMBD, D_FF_SHEXP, D_NONE}, T_REQUIRED, C_SHEXP, L(ffn_gate_shexp)},
    {"blk.%d.ffn_up_shexp.weight", {D_EMBD, D_FF_SHEXP, D_NONE}, T_REQUIRED, C_SHEXP, L(ffn_up_shexp)},
    {"blk.%d.ffn_down_shexp.weight", {D_FF_SHEXP, D_EMBD, D_NONE}, T_REQUIRED, C_SHEXP, L(ffn_down_shexp)},
};

static const fr_arch_info k_archs[] = {
    {"llama", FR_ARCH_LLAMA, 0, k_llama, sizeof k_llama / sizeof k_llama[0]},
    {"qwen2", FR_ARCH_QWEN2, 1, k_qwen2, sizeof k_qwen2 / sizeof k_qwen2[0]},
    /* DeepSeek's rope pairs (2i, 2i+1): the reference (inference/model.py) views q_pe/k_pe
     * as complex pairs of adjacent values, and the GGUF converter does not permute them
     * (llama.cpp uses its "normal" rope for deepseek2). NeoX pairing is wrong here. */
    {"deepseek2", FR_ARCH_DEEPSEEK2, 0, k_deepseek2, sizeof k_deepseek2 / sizeof k_deepseek2[0]},
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

const char *fr_arch_supported_list(void) { return "llama, qwen2, deepseek2"; }

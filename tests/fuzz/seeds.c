/* seeds.c: writes the model fuzzer's seed files into the directory given: tiny Llama (with
 * Llama 3 rope factors), Qwen2 (biases, tied output), DeepSeek-V3 and DeepSeek-V2 style
 * models (MLA, MoE, YaRN; the V2 one with split attn_k_b/attn_v_b) in four tensor types, a
 * few tens of KiB each, so that mutations reach every part of the loader. */
#include <stdio.h>

#include "model/synth.h"

/* clang-format off */
static const fr_synth_ds k_v3 = {
    .name = "fuzz-v3", .n_vocab = 40, .n_ctx = 64, .n_embd = 32, .n_layer = 2, .n_head = 2, .n_ff = 32,
    .q_lora = 32, .kv_lora = 32, .qk_nope = 16, .qk_rope = 16, .v_head = 16, .n_expert = 4, .n_expert_used = 2,
    .n_expert_shared = 1, .n_ff_exp = 32, .n_dense_lead = 1, .n_groups = 2, .n_group_used = 1,
    .gating = FR_GATING_SIGMOID, .exp_bias = true, .weights_norm = true, .weights_scale = 2.5, .rope_base = 10000.0,
    .rms_eps = 1e-6, .yarn_factor = 4.0, .yarn_orig_ctx = 32, .yarn_log_mul = 0.1, .w_scale = 0.25f};
static const fr_synth_ds k_v2 = {
    .name = "fuzz-v2", .n_vocab = 40, .n_ctx = 64, .n_embd = 32, .n_layer = 2, .n_head = 2, .n_ff = 32,
    .q_lora = 0, .kv_lora = 32, .qk_nope = 16, .qk_rope = 8, .v_head = 16, .n_expert = 4, .n_expert_used = 2,
    .n_expert_shared = 2, .n_ff_exp = 32, .n_dense_lead = 1, .n_groups = 1, .n_group_used = 1,
    .gating = FR_GATING_SOFTMAX, .split = true, .weights_scale = 1.0, .rope_base = 10000.0, .rms_eps = 1e-6};
static const fr_synth_llama k_llama = {
    .name = "fuzz-llama", .arch = "llama", .n_vocab = 300, .n_ctx = 64, .n_embd = 32, .n_layer = 2, .n_head = 2,
    .n_head_kv = 1, .n_ff = 32, .rope_base = 10000.0, .rms_eps = 1e-5, .llama3_rope = true};
static const fr_synth_llama k_qwen2 = {
    .name = "fuzz-qwen2", .arch = "qwen2", .n_vocab = 300, .n_ctx = 64, .n_embd = 32, .n_layer = 2, .n_head = 2,
    .n_head_kv = 2, .n_ff = 32, .rope_base = 1000000.0, .rms_eps = 1e-6, .tied = true, .biases = true};
/* clang-format on */

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR\n");
        return 2;
    }
    static const char *const types[] = {"Q4_0", "Q8_0", "F16", "Q4_K_M"};
    int bad = 0;
    for (int t = 0; t < 4; t++)
        for (int v = 0; v < 2; v++) {
            char path[512];
            fr_error err;
            snprintf(path, sizeof path, "%s/%s-%s.gguf", argv[1], v ? "v2" : "v3", types[t]);
            if (fr_synth_deepseek2(v ? &k_v2 : &k_v3, types[t], 1, NULL, path, &err) != FR_OK) {
                fprintf(stderr, "%s: %s\n", path, err.msg);
                bad = 1;
            }
            snprintf(path, sizeof path, "%s/%s-%s.gguf", argv[1], v ? "qwen2" : "llama", types[t]);
            if (fr_synth_llama_write(v ? &k_qwen2 : &k_llama, types[t], 1, NULL, path, &err) != FR_OK) {
                fprintf(stderr, "%s: %s\n", path, err.msg);
                bad = 1;
            }
        }
    return bad;
}

/* special.c: special token ids and the end-of-generation set.
 *
 * Ids >= n_vocab (including defaults that were never set) are dropped with a warning, as
 * peers do (CHECKLIST item 6), so such an id is never used. */
#include <string.h>

#include "model.h"

static int32_t read_id(const gguf_file *f, const char *key, int64_t n_vocab) {
    int64_t v;
    fr_error e;
    int r = gguf_get_int(f, key, &v, &e);
    if (r < 0) {
        fr_log(FR_LOG_WARN, "%s: %s; ignored", gguf_path(f), e.msg);
        return -1;
    }
    if (r == 0) return -1;
    if (v < 0 || v >= n_vocab) {
        fr_log(FR_LOG_WARN, "%s: %s: %lld is outside the vocabulary (size %lld); ignored", gguf_path(f), key,
               (long long)v, (long long)n_vocab);
        return -1;
    }
    return (int32_t)v;
}

static void add_eog(fr_special *sp, int32_t id) {
    if (id < 0) return;
    for (int i = 0; i < sp->n_eog; i++)
        if (sp->eog[i] == id) return;
    if (sp->n_eog < FR_MAX_EOG) sp->eog[sp->n_eog++] = id;
}

/* End markers used by chat templates of the families we run. */
static const char *const k_end_markers[] = {
    "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "<|end|>",
    "<end_of_turn>", "<|end▁of▁sentence|>", "<｜end▁of▁sentence｜>", "</s>", "<|EOT|>",
};

void fr_special_load(const gguf_file *f, int64_t n_vocab, fr_special *sp) {
    memset(sp, 0, sizeof *sp);
    sp->bos = read_id(f, "tokenizer.ggml.bos_token_id", n_vocab);
    sp->eos = read_id(f, "tokenizer.ggml.eos_token_id", n_vocab);
    sp->eot = read_id(f, "tokenizer.ggml.eot_token_id", n_vocab);
    sp->eom = read_id(f, "tokenizer.ggml.eom_token_id", n_vocab);
    sp->unk = read_id(f, "tokenizer.ggml.unknown_token_id", n_vocab);
    sp->pad = read_id(f, "tokenizer.ggml.padding_token_id", n_vocab);
    bool b = true;
    fr_error e;
    if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b, &e) < 0) b = true;
    sp->add_bos = b && sp->bos >= 0;
    add_eog(sp, sp->eos);
    add_eog(sp, sp->eot);
    add_eog(sp, sp->eom);
    const gguf_kv *toks = gguf_find_kv(f, "tokenizer.ggml.tokens");
    if (toks && toks->type == GGUF_ARRAY && toks->arr_type == GGUF_STRING && toks->arr_strs) {
        /* only control/user-defined tokens are candidates; scanning all is cheap enough */
        const gguf_kv *types = gguf_find_kv(f, "tokenizer.ggml.token_type");
        bool types_ok = types && types->type == GGUF_ARRAY && types->arr_n == toks->arr_n &&
                        (types->arr_type == GGUF_INT32 || types->arr_type == GGUF_UINT32);
        for (uint64_t i = 0; i < toks->arr_n && (int64_t)i < n_vocab; i++) {
            if (types_ok) {
                int64_t ty = gguf_arr_int(types, i);
                if (ty != 3 && ty != 4) continue; /* CONTROL, USER_DEFINED */
            }
            for (size_t k = 0; k < sizeof k_end_markers / sizeof k_end_markers[0]; k++) {
                if (gguf_str_eq(toks->arr_strs[i], k_end_markers[k])) {
                    /* "</s>" only counts when it is the declared eos (it is in SPM vocabs) */
                    if (k == 9 && (int32_t)i != sp->eos) continue;
                    add_eog(sp, (int32_t)i);
                }
            }
        }
    }
}

bool fr_special_is_eog(const fr_special *sp, int32_t tok) {
    for (int i = 0; i < sp->n_eog; i++)
        if (sp->eog[i] == tok) return true;
    return false;
}

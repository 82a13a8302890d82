/* tok_to_gguf.c: a Hugging Face tokenizer.json as GGUF tokenizer keys (tokenizer.ggml.*),
 * for `frugal synth --vocab tokenizer.json`.
 *
 * GGUF names a byte-level BPE pre-tokenizer by family (tokenizer.ggml.pre) instead of
 * storing its regexes. The family is found by trying each known one: the candidate GGUF
 * tokenizer must give exactly the JSON tokenizer's ids on a probe text covering letters,
 * digits, punctuation, whitespace runs, newlines, contractions, CJK and emoji. No match is
 * an error, never a guess. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tok.h"
#include "tok_to_gguf.h"

static const char *const k_probes[] = {
    "Hello world! It's 2024, isn't it? I'll pay $1234567.89 (USD).",
    "  leading spaces\tand\ttabs\n\nnew lines\r\n  trailing   ",
    "naïve café Ünïcödé — «quotes» “curly” 'single'",
    "中文测试，日本語のテキスト、한국어 텍스트。",
    "emoji 👍🏽 👨‍👩‍👧 ✨ and symbols <=> ^~| @#%&*",
    "x=12;y=3456789 if(a>=b){return a;} // code\n\tdef f(): pass",
    "ALLCAPS MixedCase snake_case kebab-case 1st 2nd 3rd 100% 3.14159",
    "   \n\n\n   \t\t\n x",
};

static const char *const k_families[] = {"llama-bpe", "qwen2", "deepseek-v3", "deepseek-llm", "deepseek-coder",
                                         "gpt-2", "starcoder", "tekken", "gpt-4o", "default"};

typedef struct {
    int32_t rank, a, b;
} merge_ref;
static int cmp_rank(const void *x, const void *y) {
    const merge_ref *p = x, *q = y;
    return (p->rank > q->rank) - (p->rank < q->rank);
}

/* The vocabulary keys of j with tokenizer.ggml.pre = pre. */
static fr_status set_keys(gguf_writer *w, const fr_tokenizer *j, const char *pre, fr_error *err) {
    int32_t n = j->n_vocab;
    const char **strs = calloc((size_t)n, sizeof *strs);
    uint64_t *lens = calloc((size_t)n, sizeof *lens);
    int32_t *types = calloc((size_t)n, sizeof *types);
    merge_ref *m = malloc((j->merges.n + 1) * sizeof *m);
    char **ms = NULL;
    size_t nm = 0;
    fr_status st = strs && lens && types && m ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; st == FR_OK && i < n; i++) {
        strs[i] = fr_tok_str(j, i);
        lens[i] = j->tok_len[i];
        types[i] = j->tok_type[i] ? j->tok_type[i] : FR_TOKEN_UNUSED;
    }
    for (size_t i = 0; st == FR_OK && i < j->merges.cap; i++) {
        const fr_pmap_slot *s = &j->merges.slots[i];
        if (s->key == UINT64_MAX) continue;
        m[nm++] = (merge_ref){s->rank, (int32_t)(s->key >> 32), (int32_t)(uint32_t)s->key};
    }
    if (st == FR_OK) {
        qsort(m, nm, sizeof *m, cmp_rank);
        ms = calloc(nm + 1, sizeof *ms);
        if (!ms) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == FR_OK && i < nm; i++) {
        size_t la = j->tok_len[m[i].a], lb = j->tok_len[m[i].b];
        if (!(ms[i] = malloc(la + lb + 2))) {
            st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(ms[i], fr_tok_str(j, m[i].a), la);
        ms[i][la] = ' ';
        memcpy(ms[i] + la + 1, fr_tok_str(j, m[i].b), lb);
        ms[i][la + lb + 1] = 0;
    }
    if (st == FR_OK) st = gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (st == FR_OK) st = gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    if (st == FR_OK) st = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, lens, (uint64_t)n);
    if (st == FR_OK) st = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, (uint64_t)n);
    if (st == FR_OK) st = gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)ms, NULL, nm);
    if (st == FR_OK && j->bos >= 0) st = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)j->bos);
    if (st == FR_OK && j->eos >= 0) st = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)j->eos);
    if (st == FR_OK) st = gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", j->add_bos);
    if (st == FR_OK) st = gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", j->add_eos);
    if (st == FR_OK && j->chat_template) st = gguf_writer_set_str(w, "tokenizer.chat_template", j->chat_template);
    if (st != FR_OK && err && err->code == FR_OK) fr_fail(err, st, "cannot write the tokenizer keys");
    for (size_t i = 0; ms && i < nm; i++) free(ms[i]);
    free(ms);
    free(m);
    free(strs);
    free(lens);
    free(types);
    return st;
}

/* Does a GGUF tokenizer with this pre give the JSON tokenizer's ids on every probe? */
static bool family_matches(const fr_tokenizer *j, const char *pre, const char *tmp_path) {
    fr_error err;
    gguf_writer *w = gguf_writer_new();
    bool same = false;
    if (w && set_keys(w, j, pre, &err) == FR_OK && gguf_writer_write(w, tmp_path, 32, &err) == FR_OK) {
        gguf_file *f = NULL;
        fr_tokenizer *g = NULL;
        if (gguf_open(tmp_path, &f, &err) == FR_OK && fr_tok_from_gguf(f, &g, &err) == FR_OK) {
            same = true;
            for (size_t i = 0; same && i < sizeof k_probes / sizeof k_probes[0]; i++) {
                fr_ids a = {0}, b = {0};
                size_t len = strlen(k_probes[i]);
                same = fr_tok_encode(j, k_probes[i], len, false, false, &a, &err) == FR_OK &&
                       fr_tok_encode(g, k_probes[i], len, false, false, &b, &err) == FR_OK && a.n == b.n &&
                       (a.n == 0 || memcmp(a.v, b.v, a.n * sizeof *a.v) == 0);
                fr_ids_free(&a);
                fr_ids_free(&b);
            }
        }
        fr_tok_free(g);
        gguf_close(f);
    }
    gguf_writer_free(w);
    unlink(tmp_path);
    return same;
}

fr_status fr_tok_json_to_gguf(const char *json_path, gguf_writer *w, int64_t *n_vocab, fr_error *err) {
    fr_tokenizer *j = NULL;
    fr_status st = fr_tok_from_json(json_path, &j, err);
    if (st != FR_OK) return st;
    if (j->model != FR_TOKM_BPE || j->byte_fallback || j->n_norm > 0) {
        fr_tok_free(j);
        return fr_fail(err, FR_ERR_UNSUPPORTED,
                       "%s: only byte-level BPE tokenizers without normalizers can be written as GGUF keys here "
                       "(use a GGUF vocabulary file for SentencePiece tokenizers)", json_path);
    }
    char tmp[] = "/tmp/frugal_vocab_XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fr_tok_free(j);
        return fr_fail(err, FR_ERR_IO, "cannot create a temporary file");
    }
    close(fd);
    const char *pre = NULL;
    for (size_t i = 0; !pre && i < sizeof k_families / sizeof k_families[0]; i++)
        if (family_matches(j, k_families[i], tmp)) pre = k_families[i];
    unlink(tmp);
    if (!pre) {
        fr_tok_free(j);
        return fr_fail(err, FR_ERR_UNSUPPORTED,
                       "%s: its pre-tokenizer matches none of the GGUF families (%s); it cannot be stored as "
                       "tokenizer.ggml.pre", json_path, fr_pre_family_list());
    }
    st = set_keys(w, j, pre, err);
    *n_vocab = j->n_vocab;
    fr_tok_free(j);
    return st;
}

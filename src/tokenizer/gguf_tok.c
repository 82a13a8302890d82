/* gguf_tok.c: a tokenizer from GGUF metadata (tokenizer.ggml.*).
 *
 * "llama" (SentencePiece): normalizer Replace(' ' -> U+2581) + Prepend(U+2581) (the latter
 * when tokenizer.ggml.add_space_prefix, default true), score merges, <0xHH> byte fallback;
 * decoder Replace(U+2581 -> ' '), ByteFallback, Strip one leading space.
 * "gpt2" (byte-level BPE): the Split regexes of the tokenizer.ggml.pre family, ByteLevel,
 * merges from tokenizer.ggml.merges ("a b"; every part and the merged token must be tokens).
 * CONTROL and UNKNOWN tokens are special added tokens, USER_DEFINED ones added tokens that
 * always match. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

static const char k_spm_space[] = "\xe2\x96\x81"; /* U+2581 */

static char *dupn(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static int32_t key_id(const gguf_file *f, const char *key, int32_t n_vocab) {
    int64_t v;
    fr_error e;
    if (gguf_get_int(f, key, &v, &e) != 1 || v < 0 || v >= n_vocab) return -1;
    return (int32_t)v;
}

static bool key_bool(const gguf_file *f, const char *key, bool def) {
    bool b;
    fr_error e;
    return gguf_get_bool(f, key, &b, &e) == 1 ? b : def;
}

static bool contains_ci(gguf_str s, const char *needle) {
    size_t nl = strlen(needle);
    for (uint64_t i = 0; i + nl <= s.len; i++) {
        size_t k = 0;
        while (k < nl && tolower((unsigned char)s.ptr[i + k]) == needle[k]) k++;
        if (k == nl) return true;
    }
    return false;
}

static fr_status setup_spm(fr_tokenizer *t, const gguf_file *f, fr_error *err) {
    t->model = FR_TOKM_SPM;
    bool prefix = key_bool(f, "tokenizer.ggml.add_space_prefix", true);
    fr_norm_step *r = &t->norm[t->n_norm++];
    r->kind = FR_NORM_REPLACE;
    r->a = dupn(" ", 1), r->alen = 1;
    r->b = dupn(k_spm_space, 3), r->blen = 3;
    if (prefix) {
        fr_norm_step *p = &t->norm[t->n_norm++];
        p->kind = FR_NORM_PREPEND;
        p->a = dupn(k_spm_space, 3), p->alen = 3;
    }
    t->dec.n_replace = 1;
    t->dec.rep_from[0] = dupn(k_spm_space, 3), t->dec.rep_from_len[0] = 3;
    t->dec.rep_to[0] = dupn(" ", 1), t->dec.rep_to_len[0] = 1;
    t->dec.byte_fallback = true;
    t->dec.strip_char = ' ';
    t->dec.strip_start = prefix ? 1 : 0;
    if (!r->a || !r->b || (prefix && !t->norm[1].a) || !t->dec.rep_from[0] || !t->dec.rep_to[0])
        return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    snprintf(t->pre_name, sizeof t->pre_name, "sentencepiece");
    t->add_bos = true;
    return FR_OK;
}

static fr_status setup_bpe(fr_tokenizer *t, const gguf_file *f, const char *path, fr_error *err) {
    t->model = FR_TOKM_BPE;
    gguf_str pre = {"default", 7};
    int r = gguf_get_str(f, "tokenizer.ggml.pre", &pre, err);
    if (r < 0) return err->code;
    if (r == 0) {
        pre = (gguf_str){"default", 7};
        fr_log(FR_LOG_WARN, "%s: tokenizer.ggml.pre is missing; using the 'default' pre-tokenizer, which may not "
                            "match the model's own tokenizer", path);
    }
    int nl = pre.len > 48 ? 48 : (int)pre.len;
    snprintf(t->pre_name, sizeof t->pre_name, "%.*s", nl, pre.ptr);
    const fr_pre_family *fam = fr_pre_family_find(pre.ptr, (size_t)pre.len);
    if (!fam)
        return fr_fail(err, FR_ERR_UNSUPPORTED, "tokenizer.ggml.pre: '%.*s' is not a supported pre-tokenizer (supported: %s)",
                       nl, pre.ptr, fr_pre_family_list());
    if (fam->nfc) t->norm[t->n_norm++].kind = FR_NORM_NFC;
    for (int i = 0; i < 6 && fam->regex[i]; i++) {
        fr_pre_step *ps = &t->pre[t->n_pre++];
        ps->kind = FR_PRE_SPLIT;
        ps->behavior = FR_SPLIT_ISOLATED;
        fr_status st = fr_regex_new(fam->regex[i], strlen(fam->regex[i]), &ps->re, err);
        if (st != FR_OK) return st;
    }
    t->pre[t->n_pre++].kind = FR_PRE_BYTELEVEL;
    t->ignore_merges = fam->ignore_merges;
    t->add_bos = fam->add_bos;
    t->dec.byte_level = true;
    const gguf_kv *merges;
    r = gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_STRING, &merges, err);
    if (r < 0) return err->code;
    if (r == 0) return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.merges: missing (a gpt2 vocabulary needs its merges)");
    if (merges->arr_n > (uint64_t)INT32_MAX) return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.merges: too many entries");
    for (uint64_t i = 0; i < merges->arr_n; i++) {
        gguf_str m = merges->arr_strs[i];
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', (size_t)m.len - 1) : NULL;
        if (!sp) {
            int n = m.len > 40 ? 40 : (int)m.len;
            return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.merges[%llu]: '%.*s' is not two tokens separated by a space",
                           (unsigned long long)i, n, m.ptr);
        }
        size_t a = (size_t)(sp - m.ptr);
        fr_status st = fr_tok_add_merge(t, m.ptr, a, sp + 1, (size_t)m.len - a - 1, (int32_t)i, "tokenizer.ggml.merges", err);
        if (st != FR_OK) return st;
    }
    return FR_OK;
}

fr_status fr_tok_from_gguf(const gguf_file *f, fr_tokenizer **out, fr_error *err) {
    *out = NULL;
    fr_vocab v;
    fr_status st = fr_vocab_load(f, &v, err);
    if (st != FR_OK) return st;
    if (v.kind == FR_VOCAB_NONE) return fr_fail(err, FR_ERR_UNSUPPORTED, "the file has no tokenizer (tokenizer.ggml.model)");
    fr_tokenizer *t = fr_tok_alloc();
    if (!t) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    snprintf(t->source, sizeof t->source, "gguf");
    const gguf_kv *scores = NULL;
    if (gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VTYPE_COUNT, &scores, err) < 0) st = err->code;
    if (st == FR_OK && scores && (scores->arr_type == GGUF_STRING || scores->arr_type == GGUF_BOOL))
        st = fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.scores: element type %d (expected numbers)", (int)scores->arr_type);
    if (st == FR_OK) st = fr_tok_init_vocab(t, v.n_tokens, v.kind == FR_VOCAB_SPM, err);
    for (int64_t i = 0; i < v.n_tokens && st == FR_OK; i++) {
        int type = fr_vocab_type(&v, i);
        if (type < FR_TOKEN_NORMAL || type > FR_TOKEN_BYTE) type = FR_TOKEN_NORMAL;
        st = fr_tok_set_token(t, (int32_t)i, v.tokens[i].ptr, (size_t)v.tokens[i].len, type, true, err);
        if (st != FR_OK) fr_error_prefix(err, "tokenizer.ggml.tokens: ");
        if (st == FR_OK && t->scores && scores) {
            double sc = gguf_arr_float(scores, (uint64_t)i);
            t->scores[i] = sc == sc ? (float)sc : -1e30f; /* NaN sorts last */
        }
    }
    if (st == FR_OK) st = v.kind == FR_VOCAB_SPM ? setup_spm(t, f, err) : setup_bpe(t, f, gguf_path(f), err);
    if (st == FR_OK) {
        t->bos = key_id(f, "tokenizer.ggml.bos_token_id", t->n_vocab);
        t->eos = key_id(f, "tokenizer.ggml.eos_token_id", t->n_vocab);
        t->unk = key_id(f, "tokenizer.ggml.unknown_token_id", t->n_vocab);
        if (t->unk < 0 && v.kind == FR_VOCAB_SPM && t->tok_type[0] == FR_TOKEN_UNKNOWN) t->unk = 0;
        t->add_bos = key_bool(f, "tokenizer.ggml.add_bos_token", t->add_bos);
        t->add_eos = key_bool(f, "tokenizer.ggml.add_eos_token", false);
        if (t->add_bos && t->bos >= 0) t->prefix[t->n_prefix++] = t->bos;
        if (t->add_eos && t->eos >= 0) t->suffix[t->n_suffix++] = t->eos;
        gguf_str tmpl;
        fr_error e;
        if (gguf_get_str(f, "tokenizer.chat_template", &tmpl, &e) == 1) {
            t->chat_template = dupn(tmpl.ptr, (size_t)tmpl.len);
            if (!t->chat_template) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
        }
    }
    /* added tokens: CONTROL/UNKNOWN (special) and USER_DEFINED */
    gguf_str name = {"", 0};
    fr_error e;
    gguf_get_str(f, "general.name", &name, &e);
    bool phi3 = contains_ci(name, "phi-3") || contains_ci(name, "phi3");
    for (int32_t i = 0; i < t->n_vocab && st == FR_OK; i++) {
        int type = t->tok_type[i];
        if (type != FR_TOKEN_CONTROL && type != FR_TOKEN_UNKNOWN && type != FR_TOKEN_USER_DEFINED) continue;
        fr_added a = {i, t->tok_off[i], t->tok_len[i], type != FR_TOKEN_USER_DEFINED, false, false, false, false};
        if (phi3) { /* Phi-3's tokenizer.json strips whitespace right of its special tokens */
            const char *s = fr_tok_str(t, i);
            a.rstrip = strcmp(s, "<unk>") != 0 && strcmp(s, "<s>") != 0 && strcmp(s, "<|endoftext|>") != 0;
        }
        st = fr_tok_add_added(t, &a, err);
    }
    if (st == FR_OK) st = fr_tok_finish(t, err);
    if (st != FR_OK) {
        fr_tok_free(t);
        return st;
    }
    *out = t;
    return FR_OK;
}

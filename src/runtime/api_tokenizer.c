/* api_tokenizer.c: the tokenizer part of the public API (frugal.h) over src/tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frugal.h"
#include "io/gguf.h"
#include "tokenizer/tok.h"

struct frugal_tokenizer {
    fr_tokenizer *t;
};

struct frugal_detokenizer {
    fr_detok d;
    size_t given; /* bytes of d.out already returned */
};

frugal_tokenizer *fr_tokenizer_wrap(fr_tokenizer *t) {
    frugal_tokenizer *w = calloc(1, sizeof *w);
    if (!w) {
        fr_tok_free(t);
        return NULL;
    }
    w->t = t;
    return w;
}

static bool is_gguf(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

fr_status frugal_tokenizer_load(const char *path, frugal_tokenizer **out, fr_error *err) {
    *out = NULL;
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return fr_fail(err, FR_ERR_IO, "%s: cannot open", path ? path : "(null)");
    fr_tokenizer *t = NULL;
    fr_status st;
    if (S_ISREG(sb.st_mode) && is_gguf(path)) {
        gguf_file *f;
        st = gguf_open(path, &f, err);
        if (st != FR_OK) return st;
        st = fr_tok_from_gguf(f, &t, err);
        gguf_close(f); /* the tokenizer keeps copies of everything it needs */
        if (st != FR_OK) fr_error_prefix(err, "%s: ", path);
    } else {
        st = fr_tok_from_json(path, &t, err);
    }
    if (st != FR_OK) return st;
    if (!(*out = fr_tokenizer_wrap(t))) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    return FR_OK;
}

void frugal_tokenizer_free(frugal_tokenizer *t) {
    if (!t) return;
    fr_tok_free(t->t);
    free(t);
}

int64_t frugal_tokenizer_encode(const frugal_tokenizer *t, const char *text, size_t len, bool add_special,
                                bool parse_special, int32_t *ids, int64_t cap, fr_error *err) {
    if (!t || (!text && len) || cap < 0 || (!ids && cap > 0)) return fr_fail(err, FR_ERR_ARG, "tokenize: bad arguments"), -1;
    fr_ids v = {0};
    fr_status st = fr_tok_encode(t->t, text ? text : "", len, add_special, parse_special, &v, err);
    if (st != FR_OK) {
        fr_ids_free(&v);
        return -1;
    }
    int64_t n = (int64_t)v.n;
    if (n > 0 && cap > 0) memcpy(ids, v.v, (size_t)(n < cap ? n : cap) * sizeof *ids);
    fr_ids_free(&v);
    return n;
}

int64_t frugal_tokenize(const frugal_model *m, const char *text, size_t len, bool add_special, bool parse_special,
                        int32_t *ids, int64_t cap, fr_error *err) {
    const frugal_tokenizer *t = frugal_model_tokenizer(m, err);
    if (!t) return -1;
    return frugal_tokenizer_encode(t, text, len, add_special, parse_special, ids, cap, err);
}

int64_t frugal_tokenizer_decode(const frugal_tokenizer *t, const int32_t *ids, int64_t n, bool special, char *out,
                                size_t cap, fr_error *err) {
    if (!t || n < 0 || (!ids && n > 0) || (!out && cap > 0)) return fr_fail(err, FR_ERR_ARG, "detokenize: bad arguments"), -1;
    fr_detok d;
    fr_detok_init(&d, t->t, special, false);
    for (int64_t i = 0; i < n; i++) {
        if (fr_detok_push(&d, ids[i], err) != FR_OK) {
            fr_error_prefix(err, "id %lld: ", (long long)i);
            fr_detok_free(&d);
            return -1;
        }
    }
    fr_detok_finish(&d);
    int64_t len = (int64_t)d.out.n;
    if (cap > 0) {
        size_t k = d.out.n < cap ? d.out.n : cap;
        if (k) memcpy(out, d.out.p, k);
        if (k < cap) out[k] = 0;
    }
    fr_detok_free(&d);
    return len;
}

int64_t frugal_detokenize(const frugal_model *m, const int32_t *ids, int64_t n, bool special, char *out, size_t cap,
                          fr_error *err) {
    const frugal_tokenizer *t = frugal_model_tokenizer(m, err);
    if (!t) return -1;
    return frugal_tokenizer_decode(t, ids, n, special, out, cap, err);
}

fr_status frugal_detokenizer_new(const frugal_tokenizer *t, bool special, bool continuation, frugal_detokenizer **out,
                                 fr_error *err) {
    *out = NULL;
    if (!t) return fr_fail(err, FR_ERR_ARG, "detokenizer: no tokenizer");
    frugal_detokenizer *d = calloc(1, sizeof *d);
    if (!d) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    fr_detok_init(&d->d, t->t, special, continuation);
    *out = d;
    return FR_OK;
}

static int64_t take(frugal_detokenizer *d, const char **text) {
    /* drop what was returned last time, hand out the rest */
    if (d->d.out.n > d->given) memmove(d->d.out.p, d->d.out.p + d->given, d->d.out.n - d->given);
    d->d.out.n -= d->given;
    d->given = d->d.out.n;
    *text = d->d.out.p ? d->d.out.p : "";
    return (int64_t)d->given;
}

int64_t frugal_detokenizer_push(frugal_detokenizer *d, int32_t id, const char **text, fr_error *err) {
    *text = "";
    if (fr_detok_push(&d->d, id, err) != FR_OK) return -1;
    return take(d, text);
}

int64_t frugal_detokenizer_flush(frugal_detokenizer *d, const char **text) {
    fr_detok_finish(&d->d);
    return take(d, text);
}

void frugal_detokenizer_free(frugal_detokenizer *d) {
    if (!d) return;
    fr_detok_free(&d->d);
    free(d);
}

void frugal_tokenizer_get_info(const frugal_tokenizer *t, frugal_tokenizer_info *info) {
    const fr_tokenizer *k = t->t;
    memset(info, 0, sizeof *info);
    info->model = k->model == FR_TOKM_SPM ? "spm" : "bpe";
    info->source = k->source;
    info->pre = k->pre_name;
    info->n_vocab = k->n_vocab;
    info->bos = k->bos;
    info->eos = k->eos;
    info->add_bos = k->n_prefix > 0;
    info->add_eos = k->n_suffix > 0;
    info->chat_template = k->chat_template;
}

int32_t frugal_tokenizer_token_id(const frugal_tokenizer *t, const char *s, size_t len) {
    const fr_tokenizer *k = t->t;
    for (int i = 0; i < k->n_added; i++)
        if (k->added[i].len == len && memcmp(k->text.p + k->added[i].off, s, len) == 0) return k->added[i].id;
    return fr_smap_get(&k->vocab, k->text.p, s, len);
}

const char *frugal_tokenizer_token_text(const frugal_tokenizer *t, int32_t id, size_t *len) {
    const fr_tokenizer *k = t->t;
    if (id < 0 || id >= k->n_vocab || k->tok_type[id] == 0) return NULL;
    if (len) *len = k->tok_len[id];
    return fr_tok_str(k, id);
}

bool frugal_tokenizer_is_special(const frugal_tokenizer *t, int32_t id) {
    const fr_tokenizer *k = t->t;
    if (id < 0 || id >= k->n_vocab) return false;
    int ty = k->tok_type[id];
    return ty == FR_TOKEN_CONTROL || ty == FR_TOKEN_UNKNOWN || ty == FR_TOKEN_UNUSED;
}

int frugal_json_depth(const char *text, size_t len) { return fr_json_depth(text, len); }

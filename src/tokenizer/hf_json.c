/* hf_json.c: a tokenizer from Hugging Face's tokenizer.json (+ tokenizer_config.json).
 *
 * Supported: model BPE (vocab, merges as "a b" strings or ["a", "b"] pairs, unk_token,
 * byte_fallback, fuse_unk, ignore_merges); normalizers NFC, NFD, NFKC, NFKD, Prepend, Replace,
 * Strip, Lowercase, Sequence; pre-tokenizers Split, ByteLevel, Digits, Metaspace, Whitespace,
 * WhitespaceSplit, Punctuation, Sequence; decoders ByteLevel, Replace, ByteFallback, Fuse,
 * Strip, Metaspace, Sequence; post-processors TemplateProcessing, BertProcessing,
 * RobertaProcessing, ByteLevel, Sequence (for add_special). Anything else is an error naming
 * it. The file is checked for size and nesting depth before parsing (CHECKLIST item 17), and
 * every field for its type. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tok.h"

#define RX_GPT2_BYTELEVEL "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct jctx {
    const char *file; /* for messages */
    fr_error *err;
} jctx;

static fr_status jfail(jctx *c, const char *where, const char *what) {
    return fr_fail(c->err, FR_ERR_FORMAT, "%s: %s: %s", c->file, where, what);
}

static char *dupn(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* Read a whole file (bounded). */
static fr_status read_file(const char *path, size_t max, char **out, size_t *n, fr_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fr_fail(err, FR_ERR_IO, "%s: cannot open", path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return fr_fail(err, FR_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max) {
        fclose(f);
        return fr_fail(err, FR_ERR_FORMAT, "%s: %lld bytes (the limit is %zu)", path, (long long)sb.st_size, max);
    }
    size_t sz = (size_t)sb.st_size;
    char *buf = malloc(sz + 1);
    if (!buf) {
        fclose(f);
        return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, sz, f);
    fclose(f);
    if (got != sz) {
        free(buf);
        return fr_fail(err, FR_ERR_IO, "%s: short read", path);
    }
    buf[sz] = 0;
    *out = buf;
    *n = sz;
    return FR_OK;
}

/* Nesting depth of JSON text (brackets outside strings); tok.h. */
int fr_json_depth(const char *s, size_t n) {
    int d = 0, maxd = 0;
    bool str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (str) {
            if (c == '\\') i++;
            else if (c == '"') str = false;
        } else if (c == '"') {
            str = true;
        } else if (c == '[' || c == '{') {
            if (++d > maxd) maxd = d;
        } else if (c == ']' || c == '}') {
            d--;
        }
    }
    return maxd;
}

/* int_as_real: for tokenizer_config.json, whose model_max_length can exceed int64 */
static fr_status load_json(const char *path, bool int_as_real, json_t **out, fr_error *err) {
    char *buf;
    size_t n;
    *out = NULL;
    fr_status st = read_file(path, FR_TOK_JSON_MAX_BYTES, &buf, &n, err);
    if (st != FR_OK) return st;
    int depth = fr_json_depth(buf, n);
    if (depth > FR_TOK_JSON_MAX_DEPTH) {
        free(buf);
        return fr_fail(err, FR_ERR_FORMAT, "%s: JSON nested %d deep (the limit is %d)", path, depth, FR_TOK_JSON_MAX_DEPTH);
    }
    json_error_t je;
    json_t *root = json_loadb(buf, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES | (int_as_real ? JSON_DECODE_INT_AS_REAL : 0), &je);
    free(buf);
    if (!root) return fr_fail(err, FR_ERR_FORMAT, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return fr_fail(err, FR_ERR_FORMAT, "%s: expected a JSON object", path);
    }
    *out = root;
    return FR_OK;
}

/* Optional typed fields: 1 present and of the type, 0 absent or null, -1 wrong type. */
static int get_bool(jctx *c, json_t *o, const char *key, const char *where, bool *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        char w[128];
        snprintf(w, sizeof w, "%s.%s", where, key);
        jfail(c, w, "expected true or false");
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

static int get_str(jctx *c, json_t *o, const char *key, const char *where, const char **s, size_t *n) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        char w[128];
        snprintf(w, sizeof w, "%s.%s", where, key);
        jfail(c, w, "expected a string");
        return -1;
    }
    *s = json_string_value(v);
    *n = json_string_length(v);
    return 1;
}

static int get_int(jctx *c, json_t *o, const char *key, const char *where, int64_t lo, int64_t hi, int64_t *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char w[128], what[96];
        snprintf(w, sizeof w, "%s.%s", where, key);
        snprintf(what, sizeof what, "expected an integer in %lld..%lld", (long long)lo, (long long)hi);
        jfail(c, w, what);
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

static const char *type_of(jctx *c, json_t *o, const char *where) {
    if (!json_is_object(o)) {
        jfail(c, where, "expected an object");
        return NULL;
    }
    const char *s;
    size_t n;
    int r = get_str(c, o, "type", where, &s, &n);
    if (r <= 0) {
        if (r == 0) jfail(c, where, "no \"type\"");
        return NULL;
    }
    return s;
}

/* A pattern object {"String": s} or {"Regex": r}. */
static fr_status get_pattern(jctx *c, json_t *o, const char *where, fr_regex **re, char **lit, size_t *lit_len) {
    json_t *p = json_object_get(o, "pattern");
    char w[128];
    snprintf(w, sizeof w, "%s.pattern", where);
    if (!json_is_object(p)) return jfail(c, w, "expected {\"String\": ...} or {\"Regex\": ...}");
    const char *s;
    size_t n;
    int r = get_str(c, p, "Regex", w, &s, &n);
    if (r < 0) return c->err->code;
    if (r == 1) {
        fr_status st = fr_regex_new(s, n, re, c->err);
        if (st != FR_OK) fr_error_prefix(c->err, "%s: %s: ", c->file, w);
        return st;
    }
    r = get_str(c, p, "String", w, &s, &n);
    if (r < 0) return c->err->code;
    if (r == 0) return jfail(c, w, "expected {\"String\": ...} or {\"Regex\": ...}");
    *lit = dupn(s, n);
    *lit_len = n;
    return *lit ? FR_OK : fr_fail(c->err, FR_ERR_NOMEM, "out of memory");
}

/* ---- normalizer ---- */
static fr_status parse_normalizer(jctx *c, fr_tokenizer *t, json_t *o, const char *where, int depth) {
    if (!o || json_is_null(o)) return FR_OK;
    const char *ty = type_of(c, o, where);
    if (!ty) return c->err->code;
    if (!strcmp(ty, "Sequence")) {
        json_t *arr = json_object_get(o, "normalizers");
        if (!json_is_array(arr) || depth > 4) return jfail(c, where, "Sequence: expected a \"normalizers\" array");
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            char w[128];
            snprintf(w, sizeof w, "%s.normalizers[%zu]", where, i);
            fr_status st = parse_normalizer(c, t, e, w, depth + 1);
            if (st != FR_OK) return st;
        }
        return FR_OK;
    }
    if (t->n_norm >= FR_TOK_MAX_STEPS) return jfail(c, where, "too many normalizers");
    fr_norm_step *s = &t->norm[t->n_norm];
    memset(s, 0, sizeof *s);
    const char *str;
    size_t n;
    if (!strcmp(ty, "NFC")) s->kind = FR_NORM_NFC;
    else if (!strcmp(ty, "NFD")) s->kind = FR_NORM_NFD;
    else if (!strcmp(ty, "NFKC")) s->kind = FR_NORM_NFKC;
    else if (!strcmp(ty, "NFKD")) s->kind = FR_NORM_NFKD;
    else if (!strcmp(ty, "Lowercase")) s->kind = FR_NORM_LOWERCASE;
    else if (!strcmp(ty, "Prepend")) {
        s->kind = FR_NORM_PREPEND;
        if (get_str(c, o, "prepend", where, &str, &n) != 1) return jfail(c, where, "Prepend: expected \"prepend\"");
        if (!(s->a = dupn(str, n))) return fr_fail(c->err, FR_ERR_NOMEM, "out of memory");
        s->alen = n;
    } else if (!strcmp(ty, "Replace")) {
        s->kind = FR_NORM_REPLACE;
        fr_status st = get_pattern(c, o, where, &s->re, &s->a, &s->alen);
        if (st != FR_OK) return st;
        if (get_str(c, o, "content", where, &str, &n) != 1) {
            t->n_norm++; /* freed with the tokenizer */
            return jfail(c, where, "Replace: expected \"content\"");
        }
        if (!(s->b = dupn(str, n))) return fr_fail(c->err, FR_ERR_NOMEM, "out of memory");
        s->blen = n;
    } else if (!strcmp(ty, "Strip")) {
        s->kind = FR_NORM_STRIP;
        s->left = s->right = true;
        if (get_bool(c, o, "strip_left", where, &s->left) < 0 || get_bool(c, o, "strip_right", where, &s->right) < 0)
            return c->err->code;
    } else {
        char what[96];
        snprintf(what, sizeof what, "normalizer '%.40s' is not supported", ty);
        return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: %s: %s", c->file, where, what);
    }
    t->n_norm++;
    return FR_OK;
}

/* ---- pre-tokenizer ---- */
static int behavior_of(const char *s) {
    if (!strcmp(s, "Removed")) return FR_SPLIT_REMOVED;
    if (!strcmp(s, "Isolated")) return FR_SPLIT_ISOLATED;
    if (!strcmp(s, "MergedWithPrevious")) return FR_SPLIT_MERGED_PREV;
    if (!strcmp(s, "MergedWithNext")) return FR_SPLIT_MERGED_NEXT;
    if (!strcmp(s, "Contiguous")) return FR_SPLIT_CONTIGUOUS;
    return -1;
}

static fr_status parse_metaspace_common(jctx *c, json_t *o, const char *where, char *repl, size_t *rlen,
                                        fr_prepend_scheme *scheme) {
    const char *s;
    size_t n;
    int r = get_str(c, o, "replacement", where, &s, &n);
    if (r < 0) return c->err->code;
    if (r == 0) s = "\xe2\x96\x81", n = 3;
    uint32_t cp;
    if (n == 0 || n > 4 || fr_utf8_seq((const unsigned char *)s, n, &cp) != (int)n)
        return jfail(c, where, "Metaspace: \"replacement\" must be one character");
    memcpy(repl, s, n);
    *rlen = n;
    *scheme = FR_PREPEND_ALWAYS;
    r = get_str(c, o, "prepend_scheme", where, &s, &n);
    if (r < 0) return c->err->code;
    if (r == 1) {
        if (!strcmp(s, "always")) *scheme = FR_PREPEND_ALWAYS;
        else if (!strcmp(s, "first")) *scheme = FR_PREPEND_FIRST;
        else if (!strcmp(s, "never")) *scheme = FR_PREPEND_NEVER;
        else return jfail(c, where, "Metaspace: \"prepend_scheme\" must be always, first or never");
    } else {
        bool aps = true;
        if (get_bool(c, o, "add_prefix_space", where, &aps) < 0) return c->err->code;
        *scheme = aps ? FR_PREPEND_ALWAYS : FR_PREPEND_NEVER;
    }
    return FR_OK;
}

static fr_status parse_pre(jctx *c, fr_tokenizer *t, json_t *o, const char *where, int depth) {
    if (!o || json_is_null(o)) return FR_OK;
    const char *ty = type_of(c, o, where);
    if (!ty) return c->err->code;
    if (!strcmp(ty, "Sequence")) {
        json_t *arr = json_object_get(o, "pretokenizers");
        if (!json_is_array(arr) || depth > 4) return jfail(c, where, "Sequence: expected a \"pretokenizers\" array");
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            char w[128];
            snprintf(w, sizeof w, "%s.pretokenizers[%zu]", where, i);
            fr_status st = parse_pre(c, t, e, w, depth + 1);
            if (st != FR_OK) return st;
        }
        return FR_OK;
    }
    if (t->n_pre >= FR_TOK_MAX_STEPS) return jfail(c, where, "too many pre-tokenizers");
    fr_pre_step *s = &t->pre[t->n_pre];
    memset(s, 0, sizeof *s);
    const char *str;
    size_t n;
    fr_status st = FR_OK;
    if (!strcmp(ty, "Split")) {
        s->kind = FR_PRE_SPLIT;
        s->behavior = FR_SPLIT_ISOLATED;
        int r = get_str(c, o, "behavior", where, &str, &n);
        if (r < 0) return c->err->code;
        if (r == 1) {
            int b = behavior_of(str);
            if (b < 0) return jfail(c, where, "Split: unknown \"behavior\"");
            s->behavior = (fr_split_behavior)b;
        }
        if (get_bool(c, o, "invert", where, &s->invert) < 0) return c->err->code;
        st = get_pattern(c, o, where, &s->re, &s->lit, &s->lit_len);
    } else if (!strcmp(ty, "ByteLevel")) {
        s->kind = FR_PRE_BYTELEVEL;
        bool use_regex = true;
        if (get_bool(c, o, "add_prefix_space", where, &s->add_prefix_space) < 0 ||
            get_bool(c, o, "use_regex", where, &use_regex) < 0)
            return c->err->code;
        if (use_regex) st = fr_regex_new(RX_GPT2_BYTELEVEL, strlen(RX_GPT2_BYTELEVEL), &s->re, c->err);
    } else if (!strcmp(ty, "Digits")) {
        s->kind = FR_PRE_DIGITS;
        if (get_bool(c, o, "individual_digits", where, &s->individual) < 0) return c->err->code;
    } else if (!strcmp(ty, "Metaspace")) {
        s->kind = FR_PRE_METASPACE;
        s->split = true;
        st = parse_metaspace_common(c, o, where, s->repl, &s->repl_len, &s->scheme);
        if (st == FR_OK && get_bool(c, o, "split", where, &s->split) < 0) st = c->err->code;
    } else if (!strcmp(ty, "Whitespace")) {
        s->kind = FR_PRE_WHITESPACE;
        s->behavior = FR_SPLIT_REMOVED;
        s->invert = true;
        st = fr_regex_new("\\w+|[^\\w\\s]+", 14, &s->re, c->err);
    } else if (!strcmp(ty, "WhitespaceSplit")) {
        s->kind = FR_PRE_WHITESPACE_SPLIT;
    } else if (!strcmp(ty, "Punctuation")) {
        s->kind = FR_PRE_PUNCTUATION;
        s->behavior = FR_SPLIT_ISOLATED;
        int r = get_str(c, o, "behavior", where, &str, &n);
        if (r < 0) return c->err->code;
        if (r == 1) {
            int b = behavior_of(str);
            if (b < 0) return jfail(c, where, "Punctuation: unknown \"behavior\"");
            s->behavior = (fr_split_behavior)b;
        }
    } else {
        char what[96];
        snprintf(what, sizeof what, "pre-tokenizer '%.40s' is not supported", ty);
        return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: %s: %s", c->file, where, what);
    }
    t->n_pre++; /* counted even on error: its regex/literal is freed with the tokenizer */
    return st;
}

/* ---- decoder ---- */
static fr_status parse_decoder(jctx *c, fr_tokenizer *t, json_t *o, const char *where, int depth, bool *fused) {
    if (!o || json_is_null(o)) return FR_OK;
    const char *ty = type_of(c, o, where);
    if (!ty) return c->err->code;
    fr_decoder *d = &t->dec;
    const char *s;
    size_t n;
    if (!strcmp(ty, "Sequence")) {
        json_t *arr = json_object_get(o, "decoders");
        if (!json_is_array(arr) || depth > 4) return jfail(c, where, "Sequence: expected a \"decoders\" array");
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            char w[128];
            snprintf(w, sizeof w, "%s.decoders[%zu]", where, i);
            fr_status st = parse_decoder(c, t, e, w, depth + 1, fused);
            if (st != FR_OK) return st;
        }
        return FR_OK;
    }
    if (!strcmp(ty, "ByteLevel")) {
        d->byte_level = true;
    } else if (!strcmp(ty, "ByteFallback")) {
        d->byte_fallback = true;
    } else if (!strcmp(ty, "Fuse")) {
        *fused = true;
    } else if (!strcmp(ty, "Replace")) {
        json_t *p = json_object_get(o, "pattern");
        if (d->n_replace >= 4) return jfail(c, where, "too many Replace decoders");
        if (!json_is_object(p) || get_str(c, p, "String", where, &s, &n) != 1)
            return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: %s: Replace decoder: only {\"String\": ...} patterns are supported",
                           c->file, where);
        const char *to;
        size_t tl;
        if (get_str(c, o, "content", where, &to, &tl) != 1) return jfail(c, where, "Replace: expected \"content\"");
        int k = d->n_replace++;
        d->rep_from[k] = dupn(s, n), d->rep_from_len[k] = n;
        d->rep_to[k] = dupn(to, tl), d->rep_to_len[k] = tl;
        if (!d->rep_from[k] || !d->rep_to[k]) return fr_fail(c->err, FR_ERR_NOMEM, "out of memory");
    } else if (!strcmp(ty, "Strip")) {
        int64_t start = 0, stop = 0;
        if (get_str(c, o, "content", where, &s, &n) != 1 || n != 1)
            return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: %s: Strip decoder: only one-byte \"content\" is supported", c->file,
                           where);
        if (get_int(c, o, "start", where, 0, 1024, &start) < 0 || get_int(c, o, "stop", where, 0, 1024, &stop) < 0)
            return c->err->code;
        if (*fused) {
            d->strip_char = s[0];
            d->strip_start = (int)start;
            d->strip_stop = (int)stop;
        } else {
            d->tok_strip_char = s[0];
            d->tok_strip_start = (int)start;
            d->tok_strip_stop = (int)stop;
        }
    } else if (!strcmp(ty, "Metaspace")) {
        fr_prepend_scheme sch;
        fr_status st = parse_metaspace_common(c, o, where, d->ms_repl, &d->ms_repl_len, &sch);
        if (st != FR_OK) return st;
        d->metaspace = true;
        d->ms_strip_first = sch != FR_PREPEND_NEVER;
    } else {
        char what[96];
        snprintf(what, sizeof what, "decoder '%.40s' is not supported", ty);
        return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: %s: %s", c->file, where, what);
    }
    return FR_OK;
}

/* ---- post-processor: the ids add_special puts around the text ---- */
static int32_t special_id(jctx *c, fr_tokenizer *t, json_t *sp, const char *name) {
    /* TemplateProcessing's special_tokens map: {"<s>": {"ids": [1], ...}} */
    json_t *e = json_object_get(sp, name);
    json_t *ids = e ? json_object_get(e, "ids") : NULL;
    if (json_is_array(ids) && json_array_size(ids) == 1 && json_is_integer(json_array_get(ids, 0))) {
        json_int_t v = json_integer_value(json_array_get(ids, 0));
        if (v >= 0 && v < t->n_vocab) return (int32_t)v;
    }
    (void)c;
    return -1;
}

static fr_status parse_post(jctx *c, fr_tokenizer *t, json_t *o, const char *where, int depth) {
    if (!o || json_is_null(o)) return FR_OK;
    const char *ty = type_of(c, o, where);
    if (!ty) return c->err->code;
    if (!strcmp(ty, "Sequence")) {
        json_t *arr = json_object_get(o, "processors");
        if (!json_is_array(arr) || depth > 4) return jfail(c, where, "Sequence: expected a \"processors\" array");
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            char w[128];
            snprintf(w, sizeof w, "%s.processors[%zu]", where, i);
            fr_status st = parse_post(c, t, e, w, depth + 1);
            if (st != FR_OK) return st;
        }
        return FR_OK;
    }
    if (!strcmp(ty, "TemplateProcessing")) {
        json_t *single = json_object_get(o, "single"), *sp = json_object_get(o, "special_tokens");
        if (!json_is_array(single)) return jfail(c, where, "TemplateProcessing: expected a \"single\" array");
        bool after = false;
        size_t i;
        json_t *e;
        t->n_prefix = t->n_suffix = 0;
        json_array_foreach(single, i, e) {
            json_t *st = json_object_get(e, "SpecialToken");
            if (json_object_get(e, "Sequence")) {
                after = true;
                continue;
            }
            json_t *idv = st ? json_object_get(st, "id") : NULL;
            if (!json_is_string(idv)) return jfail(c, where, "TemplateProcessing: bad \"single\" item");
            int32_t id = special_id(c, t, sp, json_string_value(idv));
            if (id < 0) return jfail(c, where, "TemplateProcessing: special token without a valid id");
            if (after ? t->n_suffix >= 4 : t->n_prefix >= 4) return jfail(c, where, "TemplateProcessing: too many tokens");
            if (after) t->suffix[t->n_suffix++] = id;
            else t->prefix[t->n_prefix++] = id;
        }
    } else if (!strcmp(ty, "BertProcessing") || !strcmp(ty, "RobertaProcessing")) {
        json_t *cls = json_object_get(o, "cls"), *sep = json_object_get(o, "sep");
        if (!json_is_array(cls) || !json_is_array(sep) || !json_is_integer(json_array_get(cls, 1)) ||
            !json_is_integer(json_array_get(sep, 1)))
            return jfail(c, where, "expected \"cls\" and \"sep\" as [token, id]");
        json_int_t a = json_integer_value(json_array_get(cls, 1)), b = json_integer_value(json_array_get(sep, 1));
        if (a < 0 || a >= t->n_vocab || b < 0 || b >= t->n_vocab) return jfail(c, where, "cls/sep id out of range");
        t->n_prefix = t->n_suffix = 1;
        t->prefix[0] = (int32_t)a;
        t->suffix[0] = (int32_t)b;
    } else if (strcmp(ty, "ByteLevel") != 0) {
        char what[96];
        snprintf(what, sizeof what, "post-processor '%.40s' is not supported", ty);
        return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: %s: %s", c->file, where, what);
    }
    return FR_OK;
}

/* ---- model ---- */
static fr_status parse_model(jctx *c, fr_tokenizer *t, json_t *root) {
    json_t *m = json_object_get(root, "model");
    if (!json_is_object(m)) return jfail(c, "model", "expected an object");
    const char *s;
    size_t n;
    int r = get_str(c, m, "type", "model", &s, &n);
    if (r < 0) return c->err->code;
    if (r == 1 && strcmp(s, "BPE") != 0)
        return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: model.type: '%.40s' is not supported (supported: BPE)", c->file, s);
    t->model = FR_TOKM_BPE;
    json_t *vocab = json_object_get(m, "vocab"), *merges = json_object_get(m, "merges");
    if (!json_is_object(vocab)) return jfail(c, "model.vocab", "expected an object of token: id");
    if (!json_is_array(merges)) return jfail(c, "model.merges", "expected an array");
    if (get_bool(c, m, "byte_fallback", "model", &t->byte_fallback) < 0 ||
        get_bool(c, m, "ignore_merges", "model", &t->ignore_merges) < 0 ||
        get_bool(c, m, "fuse_unk", "model", &t->fuse_unk) < 0)
        return c->err->code;
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "end_of_word_suffix" : "continuing_subword_prefix";
        r = get_str(c, m, key, "model", &s, &n);
        if (r < 0) return c->err->code;
        if (r == 1 && n > 0)
            return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: model.%s: '%.20s' is not supported", c->file, key, s);
    }
    json_t *dropout = json_object_get(m, "dropout");
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return fr_fail(c->err, FR_ERR_UNSUPPORTED, "%s: model.dropout: BPE dropout is not supported", c->file);
    /* the id space covers the vocabulary and the added tokens */
    int64_t max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= FR_TOK_MAX_VOCAB) {
            char w[96];
            snprintf(w, sizeof w, "model.vocab['%.40s']", key);
            return jfail(c, w, "expected a token id (a non-negative integer)");
        }
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_null(added) && !json_is_array(added)) return jfail(c, "added_tokens", "expected an array");
    size_t i;
    json_array_foreach(added, i, v) {
        int64_t id;
        char w[64];
        snprintf(w, sizeof w, "added_tokens[%zu]", i);
        if (!json_is_object(v) || get_int(c, v, "id", w, 0, FR_TOK_MAX_VOCAB - 1, &id) != 1)
            return jfail(c, w, "expected an object with an integer \"id\"");
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) return jfail(c, "model.vocab", "empty vocabulary");
    fr_status st = fr_tok_init_vocab(t, max_id + 1, false, c->err);
    if (st != FR_OK) return st;
    json_object_foreach(vocab, key, v) {
        size_t kl = strlen(key); /* jansson keys cannot hold NUL */
        int32_t id = (int32_t)json_integer_value(v);
        int type = t->byte_fallback && fr_byte_token_value(key, kl) >= 0 ? FR_TOKEN_BYTE : FR_TOKEN_NORMAL;
        if (t->tok_type[id] != 0) {
            char w[96];
            snprintf(w, sizeof w, "model.vocab['%.40s']", key);
            return jfail(c, w, "two tokens have the same id");
        }
        st = fr_tok_set_token(t, id, key, kl, type, true, c->err);
        if (st != FR_OK) {
            fr_error_prefix(c->err, "%s: model.vocab: ", c->file);
            return st;
        }
    }
    /* merges: "a b" or ["a", "b"] */
    if (json_array_size(merges) > (size_t)INT32_MAX) return jfail(c, "model.merges", "too many merges");
    json_array_foreach(merges, i, v) {
        const char *a, *b;
        size_t al, bl;
        if (json_is_string(v)) {
            const char *ms = json_string_value(v);
            size_t ml = json_string_length(v);
            const char *sp = ml > 1 ? memchr(ms + 1, ' ', ml - 1) : NULL;
            if (!sp) {
                char w[64];
                snprintf(w, sizeof w, "model.merges[%zu]", i);
                return jfail(c, w, "expected two tokens separated by a space");
            }
            a = ms, al = (size_t)(sp - ms), b = sp + 1, bl = ml - al - 1;
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) {
            a = json_string_value(json_array_get(v, 0)), al = json_string_length(json_array_get(v, 0));
            b = json_string_value(json_array_get(v, 1)), bl = json_string_length(json_array_get(v, 1));
        } else {
            char w[64];
            snprintf(w, sizeof w, "model.merges[%zu]", i);
            return jfail(c, w, "expected \"a b\" or [\"a\", \"b\"]");
        }
        char what[64];
        snprintf(what, sizeof what, "%s: model.merges", c->file);
        st = fr_tok_add_merge(t, a, al, b, bl, (int32_t)i, what, c->err);
        if (st != FR_OK) return st;
    }
    /* added tokens */
    json_array_foreach(added, i, v) {
        char w[64];
        snprintf(w, sizeof w, "added_tokens[%zu]", i);
        int64_t id = 0;
        get_int(c, v, "id", w, 0, FR_TOK_MAX_VOCAB - 1, &id);
        const char *content;
        size_t cl;
        fr_added a = {0};
        a.id = (int32_t)id;
        if (get_str(c, v, "content", w, &content, &cl) != 1) return jfail(c, w, "expected a string \"content\"");
        if (get_bool(c, v, "special", w, &a.special) < 0 || get_bool(c, v, "lstrip", w, &a.lstrip) < 0 ||
            get_bool(c, v, "rstrip", w, &a.rstrip) < 0 || get_bool(c, v, "normalized", w, &a.normalized) < 0 ||
            get_bool(c, v, "single_word", w, &a.single_word) < 0)
            return c->err->code;
        int type = a.special ? FR_TOKEN_CONTROL : FR_TOKEN_USER_DEFINED;
        if (t->tok_type[id] != 0 && t->tok_len[id] == cl && memcmp(fr_tok_str(t, (int32_t)id), content, cl) == 0) {
            t->tok_type[id] = (uint8_t)type; /* the vocabulary's own token, marked added */
        } else {
            st = fr_tok_set_token(t, (int32_t)id, content, cl, type, false, c->err);
            if (st != FR_OK) return st;
        }
        a.off = t->tok_off[id];
        a.len = t->tok_len[id];
        st = fr_tok_add_added(t, &a, c->err);
        if (st != FR_OK) return st;
    }
    r = get_str(c, m, "unk_token", "model", &s, &n);
    if (r < 0) return c->err->code;
    if (r == 1) {
        t->unk = fr_smap_get(&t->vocab, t->text.p, s, n);
        if (t->unk < 0) return jfail(c, "model.unk_token", "not a token of the vocabulary");
    }
    return FR_OK;
}

static int32_t token_id_by_text(const fr_tokenizer *t, const char *s, size_t n) {
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->text.p + t->added[i].off, s, n) == 0) return t->added[i].id;
    return fr_smap_get(&t->vocab, t->text.p, s, n);
}

/* bos_token / eos_token: "text" or {"content": "text", ...} */
static int config_token(jctx *c, const fr_tokenizer *t, json_t *cfg, const char *key, int32_t *id) {
    json_t *v = json_object_get(cfg, key);
    *id = -1;
    if (!v || json_is_null(v)) return 0;
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v)) {
        jfail(c, key, "expected a string or an object with \"content\"");
        return -1;
    }
    *id = token_id_by_text(t, json_string_value(v), json_string_length(v));
    return 1;
}

static fr_status parse_config(jctx *c, fr_tokenizer *t, json_t *cfg) {
    if (config_token(c, t, cfg, "bos_token", &t->bos) < 0 || config_token(c, t, cfg, "eos_token", &t->eos) < 0)
        return c->err->code;
    bool ab = false, ae = false;
    int rb = get_bool(c, cfg, "add_bos_token", "tokenizer_config", &ab);
    int re = get_bool(c, cfg, "add_eos_token", "tokenizer_config", &ae);
    if (rb < 0 || re < 0) return c->err->code;
    if (rb == 1 || re == 1) { /* as Llama-style tokenizer classes do: the config decides */
        t->n_prefix = t->n_suffix = 0;
        if (ab && t->bos >= 0) t->prefix[t->n_prefix++] = t->bos;
        if (ae && t->eos >= 0) t->suffix[t->n_suffix++] = t->eos;
    }
    json_t *ct = json_object_get(cfg, "chat_template");
    const char *tmpl = NULL;
    if (json_is_string(ct)) {
        tmpl = json_string_value(ct);
    } else if (json_is_array(ct)) { /* [{"name": "default", "template": "..."}, ...] */
        size_t i;
        json_t *e;
        json_array_foreach(ct, i, e) {
            json_t *nm = json_object_get(e, "name"), *tp = json_object_get(e, "template");
            if (json_is_string(tp) && (!tmpl || (json_is_string(nm) && !strcmp(json_string_value(nm), "default"))))
                tmpl = json_string_value(tp);
        }
    } else if (ct && !json_is_null(ct)) {
        return jfail(c, "chat_template", "expected a string or a list of {name, template}");
    }
    if (tmpl && !(t->chat_template = strdup(tmpl))) return fr_fail(c->err, FR_ERR_NOMEM, "out of memory");
    return FR_OK;
}

fr_status fr_tok_from_json(const char *path, fr_tokenizer **out, fr_error *err) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return fr_fail(err, FR_ERR_IO, "%s: cannot open", path);
    size_t pl = strlen(path);
    char *dir = malloc(pl + 32), *tj = malloc(pl + 32), *tc = malloc(pl + 32);
    if (!dir || !tj || !tc) {
        free(dir), free(tj), free(tc);
        return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(dir, pl + 32, "%s", path);
        snprintf(tj, pl + 32, "%s/tokenizer.json", path);
    } else {
        snprintf(tj, pl + 32, "%s", path);
        const char *slash = strrchr(path, '/');
        if (slash) snprintf(dir, pl + 32, "%.*s", (int)(slash - path), path);
        else snprintf(dir, pl + 32, ".");
    }
    snprintf(tc, pl + 32, "%s/tokenizer_config.json", dir);
    json_t *root = NULL, *cfg = NULL;
    fr_tokenizer *t = NULL;
    jctx c = {tj, err};
    fr_status st = load_json(tj, false, &root, err);
    if (st == FR_OK && stat(tc, &sb) == 0) st = load_json(tc, true, &cfg, err);
    if (st == FR_OK && !(t = fr_tok_alloc())) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    if (st == FR_OK) {
        snprintf(t->source, sizeof t->source, "tokenizer.json");
        snprintf(t->pre_name, sizeof t->pre_name, "tokenizer.json");
        st = parse_normalizer(&c, t, json_object_get(root, "normalizer"), "normalizer", 0);
    }
    if (st == FR_OK) st = parse_pre(&c, t, json_object_get(root, "pre_tokenizer"), "pre_tokenizer", 0);
    if (st == FR_OK) st = parse_model(&c, t, root);
    if (st == FR_OK) {
        json_t *dec = json_object_get(root, "decoder");
        bool fused = false;
        if (!dec || json_is_null(dec)) t->dec.join_space = true;
        else st = parse_decoder(&c, t, dec, "decoder", 0, &fused);
    }
    if (st == FR_OK) st = parse_post(&c, t, json_object_get(root, "post_processor"), "post_processor", 0);
    if (st == FR_OK && cfg) {
        c.file = tc;
        st = parse_config(&c, t, cfg);
    }
    if (st == FR_OK && !t->chat_template) { /* newer checkpoints keep it in its own file */
        char *cj = malloc(pl + 48);
        if (cj) {
            snprintf(cj, pl + 48, "%s/chat_template.jinja", dir);
            char *buf;
            size_t n;
            fr_error e2;
            if (stat(cj, &sb) == 0 && read_file(cj, 16u << 20, &buf, &n, &e2) == FR_OK) t->chat_template = buf;
            free(cj);
        }
    }
    if (st == FR_OK) {
        if (t->bos < 0 && t->n_prefix == 1) t->bos = t->prefix[0];
        if (t->eos < 0 && t->n_suffix == 1) t->eos = t->suffix[0];
        t->add_bos = t->n_prefix > 0;
        t->add_eos = t->n_suffix > 0;
        st = fr_tok_finish(t, err);
    }
    json_decref(root);
    json_decref(cfg);
    free(dir), free(tj), free(tc);
    if (st != FR_OK) {
        fr_tok_free(t);
        return st;
    }
    *out = t;
    return FR_OK;
}

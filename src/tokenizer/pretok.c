/* pretok.c: pre-tokenizers (tokenizer.json "pre_tokenizer"; GGUF tokenizer.ggml.pre) and the
 * table of the GGUF pre-tokenizer families.
 *
 * Splitting follows Hugging Face's NormalizedString::split: a pattern yields (range, is_match)
 * parts covering the piece, and the behaviour (Removed, Isolated, MergedWithPrevious,
 * MergedWithNext, Contiguous) decides which parts become pieces. Regexes run on valid UTF-8
 * only: an invalid byte is always a piece of its own. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok.h"

/* ---- GGUF tokenizer.ggml.pre -> the family's Hugging Face pre-tokenizer ----
 * Each regex is a Split(Isolated) step, in order, followed by ByteLevel (no regex). The
 * patterns are those of the families' tokenizer.json files. */
#define RX_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RX_LLAMA3                                                                                                      \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
    "\\s+(?!\\S)|\\s+"
#define RX_QWEN2                                                                                                       \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"     \
    "\\s+(?!\\S)|\\s+"
/* DeepSeek LLM: letters of the cased scripts (Latin, Greek, Cyrillic, Armenian, Georgian,
 * Cherokee, Glagolitic, Coptic, Deseret, Osage, Old Hungarian, Warang Citi, Adlam, ...). */
#define RX_DSLLM_LETTERS                                                                                                \
    "\\s?[A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}\\x{1c4}-\\x{293}\\x{295}-"         \
    "\\x{2af}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37b}-\\x{37d}\\x{37f}\\x{386}\\x{388}-\\x{38a}\\x{38c}\\x{38e}-"         \
    "\\x{3a1}\\x{3a3}-\\x{3f5}\\x{3f7}-\\x{481}\\x{48a}-\\x{52f}\\x{531}-\\x{556}\\x{10a0}-\\x{10c5}\\x{13a0}-"            \
    "\\x{13f5}\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}\\x{1cbd}-\\x{1cbf}\\x{1d00}-\\x{1d2b}\\x{1d6b}-\\x{1d77}"             \
    "\\x{1d79}-\\x{1d9a}\\x{1e00}-\\x{1f15}\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}\\x{1f48}-\\x{1f4d}\\x{1f50}-"            \
    "\\x{1f57}\\x{1f59}\\x{1f5b}\\x{1f5d}\\x{1f5f}-\\x{1f7d}\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}\\x{1fbe}"               \
    "\\x{1fc2}-\\x{1fc4}\\x{1fc6}-\\x{1fcc}\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}\\x{1fe0}-\\x{1fec}\\x{1ff2}-"            \
    "\\x{1ff4}\\x{1ff6}-\\x{1ffc}\\x{2102}\\x{2107}\\x{210a}-\\x{2113}\\x{2115}\\x{2119}-\\x{211d}\\x{2124}"               \
    "\\x{2126}\\x{2128}\\x{212a}-\\x{212d}\\x{212f}-\\x{2134}\\x{2139}\\x{213c}-\\x{213f}\\x{2145}-\\x{2149}"              \
    "\\x{214e}\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}\\x{2ceb}-\\x{2cee}\\x{2cf2}\\x{2cf3}"               \
    "\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-\\x{a76f}\\x{a771}-\\x{a787}\\x{a78b}-\\x{a78e}\\x{ab70}-"            \
    "\\x{abbf}\\x{fb00}-\\x{fb06}\\x{fb13}-\\x{fb17}\\x{ff21}-\\x{ff3a}\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}"           \
    "\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}\\x{118a0}-\\x{118df}"            \
    "\\x{1e900}-\\x{1e943}]+"
#define RX_CJK_HANGUL "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+"
#define RX_DSV3_MAIN                                                                                                   \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+"  \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_TEKKEN                                                                                                      \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?"      \
    "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"          \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_GPT4O                                                                                                       \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|"  \
    "'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|" \
    "'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static const fr_pre_family k_families[] = {
    /* llama.cpp's fallback for files without tokenizer.ggml.pre */
    {"default",
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
      "\\p{N}+", "[0-9][0-9][0-9]"},
     false, false, false},
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2", {RX_LLAMA3}, false, true, true},
    {"dbrx|smaug-bpe|chatglm-bpe|glm4", {RX_LLAMA3}, false, false, false},
    {"qwen2|deepseek-r1-qwen|stablelm2|megrez|hunyuan", {RX_QWEN2}, true, false, false},
    {"deepseek-llm",
     {"[\\r\\n]", RX_DSLLM_LETTERS, "\\s?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3000}-\\x{3002}]+",
      "\\s+$", RX_CJK_HANGUL, "\\p{N}+"},
     false, false, false},
    {"deepseek-coder", {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RX_CJK_HANGUL, "\\p{N}"}, false, false, false},
    {"deepseek-v3", {"\\p{N}{1,3}", "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+", RX_DSV3_MAIN}, false,
     false, false},
    {"gpt-2|phi-2|mpt|olmo|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|exaone4", {RX_GPT2}, false, false, false},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", {"\\p{N}", RX_GPT2}, false, false, false},
    {"tekken", {RX_TEKKEN}, false, true, true},
    {"gpt-4o|llama4", {RX_GPT4O}, false, false, false},
};

const fr_pre_family *fr_pre_family_find(const char *name, size_t len) {
    for (size_t i = 0; i < FR_ARRAY_LEN(k_families); i++) {
        const char *p = k_families[i].names;
        while (*p) {
            const char *bar = strchr(p, '|');
            size_t l = bar ? (size_t)(bar - p) : strlen(p);
            if (l == len && memcmp(p, name, len) == 0) return &k_families[i];
            p += l + (bar ? 1 : 0);
        }
    }
    return NULL;
}

const char *fr_pre_family_list(void) {
    static char buf[1024];
    if (buf[0]) return buf;
    size_t o = 0;
    for (size_t i = 0; i < FR_ARRAY_LEN(k_families) && o < sizeof buf - 1; i++) {
        for (const char *p = k_families[i].names; *p && o < sizeof buf - 3; p++) {
            if (*p == '|') {
                buf[o++] = ',';
                buf[o++] = ' ';
            } else {
                buf[o++] = *p;
            }
        }
        if (i + 1 < FR_ARRAY_LEN(k_families) && o < sizeof buf - 3) {
            buf[o++] = ',';
            buf[o++] = ' ';
        }
    }
    buf[o] = 0;
    return buf;
}

/* ---- splitting ---- */
typedef struct part {
    size_t b, e;
    bool match;
} part;
typedef struct parts {
    part *v;
    size_t n, cap;
} parts;

static bool parts_add(parts *p, size_t b, size_t e, bool m) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 32;
        part *v = realloc(p->v, nc * sizeof *v);
        if (!v) return false;
        p->v = v;
        p->cap = nc;
    }
    p->v[p->n++] = (part){b, e, m};
    return true;
}

/* Apply a behaviour to the parts of s and add the resulting pieces. */
static bool emit_parts(const char *s, parts *p, fr_split_behavior bh, bool invert, fr_pieces *out) {
    if (invert)
        for (size_t i = 0; i < p->n; i++) p->v[i].match = !p->v[i].match;
    size_t n = p->n, k = 0;
    part *v = p->v;
    switch (bh) {
    case FR_SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!v[i].match && !fr_pieces_add(out, s + v[i].b, v[i].e - v[i].b)) return false;
        return true;
    case FR_SPLIT_ISOLATED:
        for (size_t i = 0; i < n; i++)
            if (!fr_pieces_add(out, s + v[i].b, v[i].e - v[i].b)) return false;
        return true;
    case FR_SPLIT_MERGED_PREV: {
        bool prev = false;
        for (size_t i = 0; i < n; i++) {
            bool m = v[i].match;
            if (m && !prev && k > 0) v[k - 1].e = v[i].e;
            else v[k++] = v[i];
            prev = m;
        }
        break;
    }
    case FR_SPLIT_MERGED_NEXT: {
        bool prev = false; /* walking backwards: "previous" is the part to the right */
        size_t w = n;      /* results fill v[w..n) from the right */
        for (size_t i = n; i-- > 0;) {
            bool m = v[i].match;
            if (m && !prev && w < n) v[w].b = v[i].b;
            else v[--w] = v[i];
            prev = m;
        }
        if (n > w) memmove(v, v + w, (n - w) * sizeof *v);
        k = n - w;
        break;
    }
    case FR_SPLIT_CONTIGUOUS: {
        bool prev = false;
        for (size_t i = 0; i < n; i++) {
            bool m = v[i].match;
            if (m == prev && k > 0) v[k - 1].e = v[i].e;
            else v[k++] = v[i];
            prev = m;
        }
        break;
    }
    }
    for (size_t i = 0; i < k; i++)
        if (!fr_pieces_add(out, s + v[i].b, v[i].e - v[i].b)) return false;
    return true;
}

/* Parts of a valid UTF-8 run from a regex. */
static fr_status regex_parts(const fr_regex *re, const char *s, size_t n, parts *p, fr_error *err) {
    size_t prev = 0, pos = 0;
    while (pos <= n) {
        size_t b, e;
        int r = fr_regex_next(re, s, n, pos, &b, &e, err);
        if (r < 0) return err->code;
        if (r == 0) break;
        if (b > prev && !parts_add(p, prev, b, false)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
        if (!parts_add(p, b, e, true)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
        prev = e;
        if (e > b) pos = e;
        else if (b < n) pos = b + fr_utf8_unit(s + b, n - b);
        else break;
    }
    if (prev < n && !parts_add(p, prev, n, false)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    return FR_OK;
}

/* Split by a regex: valid runs through the regex, invalid bytes as pieces of their own. */
static fr_status split_regex(const fr_regex *re, const char *s, size_t n, fr_split_behavior bh, bool invert,
                             fr_pieces *out, fr_error *err) {
    parts p = {0};
    fr_status st = FR_OK;
    size_t i = 0;
    while (i < n && st == FR_OK) {
        size_t j = i;
        uint32_t cp;
        int l;
        while (j < n && (l = fr_utf8_seq((const unsigned char *)s + j, n - j, &cp)) > 0) j += (size_t)l;
        if (j > i) {
            p.n = 0;
            st = regex_parts(re, s + i, j - i, &p, err);
            if (st == FR_OK && !emit_parts(s + i, &p, bh, invert, out)) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
        }
        if (st == FR_OK && j < n) {
            if (!fr_pieces_add(out, s + j, 1)) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
            j++;
        }
        i = j;
    }
    free(p.v);
    return st;
}

typedef enum { CH_DIGIT, CH_PUNCT, CH_SPACE } char_class;

static bool is_punct(uint32_t cp) {
    if (cp < 0x80) return (cp >= 0x21 && cp <= 0x2f) || (cp >= 0x3a && cp <= 0x40) || (cp >= 0x5b && cp <= 0x60) ||
                          (cp >= 0x7b && cp <= 0x7e);
    int c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

/* Split where single characters of a class match (each character is one match). */
static bool split_chars(const char *s, size_t n, char_class cls, fr_split_behavior bh, fr_pieces *out) {
    parts p = {0};
    size_t last = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
        uint32_t cp;
        int l = fr_utf8_seq((const unsigned char *)s + i, n - i, &cp);
        size_t u = l > 0 ? (size_t)l : 1;
        bool m = l > 0 && (cls == CH_DIGIT ? (cp >= '0' && cp <= '9') : cls == CH_PUNCT ? is_punct(cp) : fr_is_whitespace(cp));
        if (m) {
            if (last < i) ok = parts_add(&p, last, i, false);
            ok = ok && parts_add(&p, i, i + u, true);
            last = i + u;
        }
        i += u;
    }
    if (ok && last < n) ok = parts_add(&p, last, n, false);
    ok = ok && emit_parts(s, &p, bh, false, out);
    free(p.v);
    return ok;
}

static bool split_literal(const char *s, size_t n, const char *lit, size_t ll, fr_split_behavior bh, bool invert,
                          fr_pieces *out) {
    parts p = {0};
    bool ok = true;
    size_t prev = 0;
    if (ll > 0) {
        for (size_t i = 0; i + ll <= n && ok;) {
            const char *hit = memmem(s + i, n - i, lit, ll);
            if (!hit) break;
            size_t b = (size_t)(hit - s);
            if (b > prev) ok = parts_add(&p, prev, b, false);
            ok = ok && parts_add(&p, b, b + ll, true);
            prev = i = b + ll;
        }
    }
    if (ok && prev < n) ok = parts_add(&p, prev, n, false);
    ok = ok && emit_parts(s, &p, bh, invert, out);
    free(p.v);
    return ok;
}

static bool add_bytelevel(fr_pieces *out, const char *s, size_t n) {
    if (n == 0) return true;
    fr_buf b = {0};
    bool ok = fr_buf_reserve(&b, n * 2);
    for (size_t i = 0; i < n && ok; i++) {
        char u[4];
        int k = fr_utf8_encode(fr_byte_to_cp((uint8_t)s[i]), u);
        ok = fr_buf_put(&b, u, (size_t)k);
    }
    ok = ok && fr_pieces_add(out, b.p, b.n);
    fr_buf_free(&b);
    return ok;
}

static fr_status step(const fr_pre_step *ps, const char *s, size_t n, bool at_start, fr_pieces *out, fr_error *err) {
    switch (ps->kind) {
    case FR_PRE_SPLIT:
    case FR_PRE_WHITESPACE:
        if (ps->re) return split_regex(ps->re, s, n, ps->behavior, ps->invert, out, err);
        return split_literal(s, n, ps->lit, ps->lit_len, ps->behavior, ps->invert, out)
                   ? FR_OK
                   : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    case FR_PRE_BYTELEVEL: {
        fr_buf tmp = {0};
        if (ps->add_prefix_space && n > 0 && s[0] != ' ') {
            if (!fr_buf_putc(&tmp, ' ') || !fr_buf_put(&tmp, s, n)) {
                fr_buf_free(&tmp);
                return fr_fail(err, FR_ERR_NOMEM, "out of memory");
            }
            s = tmp.p;
            n = tmp.n;
        }
        fr_status st = FR_OK;
        if (ps->re) {
            fr_pieces sub = {0};
            st = split_regex(ps->re, s, n, FR_SPLIT_ISOLATED, false, &sub, err);
            for (size_t i = 0; i < sub.n && st == FR_OK; i++)
                if (!add_bytelevel(out, sub.text.p + sub.v[i].off, sub.v[i].len))
                    st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
            fr_pieces_free(&sub);
        } else if (!add_bytelevel(out, s, n)) {
            st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
        }
        fr_buf_free(&tmp);
        return st;
    }
    case FR_PRE_DIGITS:
        return split_chars(s, n, CH_DIGIT, ps->individual ? FR_SPLIT_ISOLATED : FR_SPLIT_CONTIGUOUS, out)
                   ? FR_OK
                   : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    case FR_PRE_PUNCTUATION:
        return split_chars(s, n, CH_PUNCT, ps->behavior, out) ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    case FR_PRE_WHITESPACE_SPLIT:
        return split_chars(s, n, CH_SPACE, FR_SPLIT_REMOVED, out) ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    case FR_PRE_METASPACE: {
        fr_buf b = {0};
        bool ok = true;
        bool pre = ps->scheme == FR_PREPEND_ALWAYS || (ps->scheme == FR_PREPEND_FIRST && at_start);
        /* replace ' ' first, then prepend unless it already starts with the replacement */
        for (size_t i = 0; i < n && ok; i++) ok = s[i] == ' ' ? fr_buf_put(&b, ps->repl, ps->repl_len) : fr_buf_putc(&b, s[i]);
        if (ok && pre && !(b.n >= ps->repl_len && memcmp(b.p, ps->repl, ps->repl_len) == 0)) {
            fr_buf c = {0};
            ok = fr_buf_put(&c, ps->repl, ps->repl_len) && fr_buf_put(&c, b.p, b.n);
            fr_buf_free(&b);
            b = c;
        }
        if (ok) {
            if (ps->split) ok = split_literal(b.p, b.n, ps->repl, ps->repl_len, FR_SPLIT_MERGED_NEXT, false, out);
            else ok = fr_pieces_add(out, b.p, b.n);
        }
        fr_buf_free(&b);
        return ok ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    }
    }
    return FR_OK;
}

fr_status fr_pretokenize(const fr_tokenizer *t, const char *s, size_t n, bool at_start, fr_pieces *out,
                         fr_error *err) {
    out->n = 0;
    out->text.n = 0;
    if (t->n_pre == 0) return fr_pieces_add(out, s, n) ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    fr_pieces a = {0}, b = {0};
    if (!fr_pieces_add(&a, s, n)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    fr_status st = FR_OK;
    for (int k = 0; k < t->n_pre && st == FR_OK; k++) {
        b.n = 0;
        b.text.n = 0;
        for (size_t i = 0; i < a.n && st == FR_OK; i++)
            st = step(&t->pre[k], a.text.p + a.v[i].off, a.v[i].len, at_start && i == 0, &b, err);
        fr_pieces tmp = a;
        a = b;
        b = tmp;
    }
    if (st == FR_OK) {
        fr_pieces_free(out);
        *out = a;
        a = (fr_pieces){0};
    }
    fr_pieces_free(&a);
    fr_pieces_free(&b);
    return st;
}

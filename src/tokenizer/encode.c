/* encode.c: text -> ids. Added tokens are split off first (leftmost-longest, with
 * single_word, lstrip and rstrip as Hugging Face applies them); each remaining section is
 * normalized, split again by the added tokens that match normalized text, pre-tokenized,
 * and its pieces go through the model. With add_special, the configured prefix (BOS) and
 * suffix (EOS) ids are added. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok.h"

typedef struct seg {
    size_t b, e;
    int32_t id; /* >= 0: an added token; -1: text [b, e) */
} seg;
typedef struct segs {
    seg *v;
    size_t n, cap;
} segs;

static bool segs_add(segs *s, size_t b, size_t e, int32_t id) {
    if (id < 0 && e <= b) return true;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        seg *v = realloc(s->v, nc * sizeof *v);
        if (!v) return false;
        s->v = v;
        s->cap = nc;
    }
    s->v[s->n++] = (seg){b, e, id};
    return true;
}

static bool cp_before(const char *s, size_t at, uint32_t *cp) {
    if (at == 0) return false;
    size_t k = at - 1;
    while (k > 0 && at - k < 4 && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
    int l = fr_utf8_seq((const unsigned char *)s + k, at - k, cp);
    return l > 0 && (size_t)l == at - k;
}

static bool is_word_cp(uint32_t cp) {
    int c = utf8proc_category((utf8proc_int32_t)cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO) ||
           cp == '_';
}

/* Split s by the added tokens of a trie. */
static bool split_added(const fr_tokenizer *t, const fr_trie *tr, const char *s, size_t n, bool parse_special, segs *out) {
    size_t text_start = 0, i = 0;
    out->n = 0;
    if (tr->n == 0) return segs_add(out, 0, n, -1);
    while (i < n) {
        uint8_t c0 = (uint8_t)s[i];
        if (!(tr->first[c0 >> 3] & (1u << (c0 & 7)))) {
            i++;
            continue;
        }
        int32_t cur = 0, best = -1;
        size_t best_len = 0;
        for (size_t j = i; j < n; j++) {
            int32_t ch = tr->nodes[cur].child;
            while (ch >= 0 && tr->nodes[ch].byte != (uint8_t)s[j]) ch = tr->nodes[ch].sibling;
            if (ch < 0) break;
            cur = ch;
            int32_t a = tr->nodes[cur].added;
            if (a >= 0 && (parse_special || !t->added[a].special)) {
                best = a;
                best_len = j + 1 - i;
            }
        }
        if (best < 0) {
            i++;
            continue;
        }
        const fr_added *ad = &t->added[best];
        size_t b = i, e = i + best_len;
        if (ad->single_word) {
            uint32_t cp;
            bool word_before = cp_before(s, b, &cp) && is_word_cp(cp);
            int l = e < n ? fr_utf8_seq((const unsigned char *)s + e, n - e, &cp) : 0;
            bool word_after = l > 0 && is_word_cp(cp);
            if (word_before || word_after) {
                i++;
                continue;
            }
        }
        if (ad->lstrip) {
            uint32_t cp;
            while (b > text_start && cp_before(s, b, &cp) && fr_is_whitespace(cp)) {
                char u[4];
                b -= (size_t)fr_utf8_encode(cp, u);
            }
        }
        if (ad->rstrip) {
            uint32_t cp;
            int l;
            while (e < n && (l = fr_utf8_seq((const unsigned char *)s + e, n - e, &cp)) > 0 && fr_is_whitespace(cp))
                e += (size_t)l;
        }
        if (!segs_add(out, text_start, b, -1) || !segs_add(out, b, e, ad->id)) return false;
        text_start = i = e;
    }
    return segs_add(out, text_start, n, -1);
}

typedef struct ctx {
    const fr_tokenizer *t;
    fr_ids *out;
    fr_buf norm;
    fr_pieces pieces;
    segs s2;
    fr_bpe_cache *cache;
    bool parse_special;
} ctx;

static fr_status model_word(ctx *c, const char *s, size_t n, fr_error *err) {
    if (c->t->model == FR_TOKM_SPM) return fr_spm_word(c->t, s, n, c->out, err);
    return fr_bpe_word(c->t, s, n, c->cache, c->out, err);
}

static bool is_ws_mark(const char *s, size_t n, size_t i) { return i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0; }

/* Cut SentencePiece-style text before each word (see tok_build.c, words_are_independent). */
static fr_status model_piece(ctx *c, const char *s, size_t n, fr_error *err) {
    if (!c->t->ws_split || n < 64) return model_word(c, s, n, err);
    size_t start = 0;
    for (size_t i = 1; i < n; i++) {
        if (is_ws_mark(s, n, i) && !(i >= 3 && is_ws_mark(s, n, i - 3))) {
            fr_status st = model_word(c, s + start, i - start, err);
            if (st != FR_OK) return st;
            start = i;
        }
    }
    return model_word(c, s + start, n - start, err);
}

static fr_status text_section(ctx *c, const char *s, size_t n, bool at_start, fr_error *err) {
    const fr_tokenizer *t = c->t;
    fr_status st = fr_normalize(t, s, n, &c->norm, err);
    if (st != FR_OK || c->norm.n == 0) return st;
    if (t->any_normalized_added) {
        if (!split_added(t, &t->trie_norm, c->norm.p, c->norm.n, c->parse_special, &c->s2))
            return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    } else {
        c->s2.n = 0;
        if (!segs_add(&c->s2, 0, c->norm.n, -1)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < c->s2.n && st == FR_OK; k++) {
        seg g = c->s2.v[k];
        if (g.id >= 0) {
            if (!fr_ids_push(c->out, g.id)) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
            continue;
        }
        st = fr_pretokenize(t, c->norm.p + g.b, g.e - g.b, at_start && g.b == 0, &c->pieces, err);
        for (size_t i = 0; i < c->pieces.n && st == FR_OK; i++)
            st = model_piece(c, c->pieces.text.p + c->pieces.v[i].off, c->pieces.v[i].len, err);
    }
    return st;
}

fr_status fr_tok_encode(const fr_tokenizer *t, const char *s, size_t n, bool add_special, bool parse_special,
                        fr_ids *out, fr_error *err) {
    fr_status st = FR_OK;
    if (add_special)
        for (int i = 0; i < t->n_prefix && st == FR_OK; i++)
            if (!fr_ids_push(out, t->prefix[i])) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    segs s1 = {0};
    ctx c = {.t = t, .out = out, .parse_special = parse_special, .cache = t->model == FR_TOKM_BPE ? fr_bpe_cache_new() : NULL};
    if (st == FR_OK && !split_added(t, &t->trie_raw, s, n, parse_special, &s1)) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < s1.n && st == FR_OK; k++) {
        seg g = s1.v[k];
        if (g.id >= 0) {
            if (!fr_ids_push(out, g.id)) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
        } else {
            st = text_section(&c, s + g.b, g.e - g.b, g.b == 0, err);
        }
    }
    if (add_special)
        for (int i = 0; i < t->n_suffix && st == FR_OK; i++)
            if (!fr_ids_push(out, t->suffix[i])) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    free(s1.v);
    free(c.s2.v);
    fr_buf_free(&c.norm);
    fr_pieces_free(&c.pieces);
    fr_bpe_cache_free(c.cache);
    return st;
}

/* tok_build.c: building a tokenizer (token table, vocabulary map, merges, added tokens,
 * tries) and freeing it. Every problem is an error naming the token, merge or field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

fr_tokenizer *fr_tok_alloc(void) {
    fr_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->unk = t->bos = t->eos = -1;
    for (int i = 0; i < 256; i++) t->byte_tok[i] = -1;
    return t;
}

static void norm_free(fr_norm_step *s) {
    free(s->a);
    free(s->b);
    fr_regex_free(s->re);
}

void fr_tok_free(fr_tokenizer *t) {
    if (!t) return;
    fr_buf_free(&t->text);
    free(t->tok_off);
    free(t->tok_len);
    free(t->tok_type);
    free(t->scores);
    fr_smap_free(&t->vocab);
    fr_pmap_free(&t->merges);
    free(t->added);
    free(t->trie_raw.nodes);
    free(t->trie_norm.nodes);
    for (int i = 0; i < t->n_norm; i++) norm_free(&t->norm[i]);
    for (int i = 0; i < t->n_pre; i++) {
        fr_regex_free(t->pre[i].re);
        free(t->pre[i].lit);
    }
    for (int i = 0; i < t->dec.n_replace; i++) {
        free(t->dec.rep_from[i]);
        free(t->dec.rep_to[i]);
    }
    free(t->chat_template);
    free(t);
}

fr_status fr_tok_init_vocab(fr_tokenizer *t, int64_t n, bool with_scores, fr_error *err) {
    if (n <= 0 || n > FR_TOK_MAX_VOCAB)
        return fr_fail(err, FR_ERR_FORMAT, "vocabulary size %lld (expected 1..%d)", (long long)n, FR_TOK_MAX_VOCAB);
    t->n_vocab = (int32_t)n;
    t->tok_off = calloc((size_t)n, sizeof *t->tok_off);
    t->tok_len = calloc((size_t)n, sizeof *t->tok_len);
    t->tok_type = calloc((size_t)n, 1);
    if (with_scores) t->scores = calloc((size_t)n, sizeof *t->scores);
    if (!t->tok_off || !t->tok_len || !t->tok_type || (with_scores && !t->scores))
        return fr_fail(err, FR_ERR_NOMEM, "vocabulary: out of memory");
    return FR_OK;
}

static void show(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    if (n > 0 && o + 5 >= cap && o + 4 <= cap) memcpy(out + o, "...", 3), o += 3;
    out[o] = 0;
}

fr_status fr_tok_set_token(fr_tokenizer *t, int32_t id, const char *s, size_t n, int type, bool in_vocab, fr_error *err) {
    if (id < 0 || id >= t->n_vocab) return fr_fail(err, FR_ERR_FORMAT, "token id %d out of range (size %d)", id, t->n_vocab);
    if (n > FR_VOCAB_MAX_PIECE)
        return fr_fail(err, FR_ERR_FORMAT, "token %d: %zu bytes (the limit is %d)", id, n, FR_VOCAB_MAX_PIECE);
    if (t->text.n + n >= UINT32_MAX) return fr_fail(err, FR_ERR_FORMAT, "vocabulary text exceeds 4 GiB");
    uint32_t off = (uint32_t)t->text.n;
    if (!fr_buf_put(&t->text, s, n) || !fr_buf_putc(&t->text, 0)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    t->tok_off[id] = off;
    t->tok_len[id] = (uint32_t)n;
    t->tok_type[id] = (uint8_t)type;
    if (in_vocab && n > 0) {
        int32_t old = -1;
        int r = fr_smap_put(&t->vocab, t->text.p, off, (uint32_t)n, id, &old);
        if (r < 0) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
        if (r == 0) {
            char buf[80];
            show(s, n, buf, sizeof buf);
            return fr_fail(err, FR_ERR_FORMAT, "duplicate token '%s' (ids %d and %d)", buf, old, id);
        }
    }
    return FR_OK;
}

fr_status fr_tok_add_merge(fr_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen, int32_t rank,
                           const char *what, fr_error *err) {
    int32_t ia = fr_smap_get(&t->vocab, t->text.p, a, alen);
    int32_t ib = fr_smap_get(&t->vocab, t->text.p, b, blen);
    char sa[64], sb[64];
    if (ia < 0 || ib < 0) {
        show(a, alen, sa, sizeof sa);
        show(b, blen, sb, sizeof sb);
        return fr_fail(err, FR_ERR_FORMAT, "%s[%d] '%s %s': '%s' is not a token", what, rank, sa, sb, ia < 0 ? sa : sb);
    }
    char stackbuf[256];
    char *cat = alen + blen <= sizeof stackbuf ? stackbuf : malloc(alen + blen);
    if (!cat) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    memcpy(cat, a, alen);
    memcpy(cat + alen, b, blen);
    int32_t im = fr_smap_get(&t->vocab, t->text.p, cat, alen + blen);
    if (cat != stackbuf) free(cat);
    if (im < 0) {
        show(a, alen, sa, sizeof sa);
        show(b, blen, sb, sizeof sb);
        return fr_fail(err, FR_ERR_FORMAT, "%s[%d] '%s %s': the merged token '%s%s' is not in the vocabulary", what, rank,
                       sa, sb, sa, sb);
    }
    if (fr_pmap_put(&t->merges, ia, ib, rank, im) < 0) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    return FR_OK; /* a repeated merge keeps its first (best) rank */
}

fr_status fr_tok_add_added(fr_tokenizer *t, const fr_added *a, fr_error *err) {
    if (t->n_added >= FR_TOK_MAX_ADDED) return fr_fail(err, FR_ERR_FORMAT, "more than %d added tokens", FR_TOK_MAX_ADDED);
    if (a->id < 0 || a->id >= t->n_vocab) return fr_fail(err, FR_ERR_FORMAT, "added token id %d out of range", a->id);
    if (a->len == 0) return FR_OK; /* an empty added token never matches */
    fr_added *v = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *v);
    if (!v) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
    t->added = v;
    t->added[t->n_added++] = *a;
    if (a->normalized && t->n_norm > 0) t->any_normalized_added = true;
    return FR_OK;
}

/* ---- tries of added tokens ---- */
static int32_t trie_node(fr_trie *tr, uint8_t byte) {
    if (tr->n == tr->cap) {
        size_t nc = tr->cap ? tr->cap * 2 : 256;
        fr_trie_node *v = realloc(tr->nodes, nc * sizeof *v);
        if (!v) return -1;
        tr->nodes = v;
        tr->cap = nc;
    }
    tr->nodes[tr->n] = (fr_trie_node){-1, -1, -1, byte};
    return (int32_t)tr->n++;
}

static bool trie_insert(fr_trie *tr, const char *s, size_t n, int32_t idx) {
    if (tr->n == 0 && trie_node(tr, 0) < 0) return false; /* root */
    tr->first[(uint8_t)s[0] >> 3] |= (uint8_t)(1u << ((uint8_t)s[0] & 7));
    int32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        int32_t ch = tr->nodes[cur].child;
        while (ch >= 0 && tr->nodes[ch].byte != c) ch = tr->nodes[ch].sibling;
        if (ch < 0) {
            ch = trie_node(tr, c);
            if (ch < 0) return false;
            tr->nodes[ch].sibling = tr->nodes[cur].child;
            tr->nodes[cur].child = ch;
        }
        cur = ch;
    }
    if (tr->nodes[cur].added < 0) tr->nodes[cur].added = idx; /* the first definition wins */
    return true;
}

/* True if no vocabulary token has U+2581 right after a character other than U+2581. Then no
 * merge can join a word with the U+2581 that starts the next one, and SentencePiece-style text
 * (no pre-tokenizer) can be cut before each word: same result, much smaller merge queues. */
static bool words_are_independent(const fr_tokenizer *t) {
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = fr_tok_str(t, id);
        uint32_t n = t->tok_len[id];
        for (uint32_t i = 1; i + 3 <= n; i++) {
            if (memcmp(s + i, "\xe2\x96\x81", 3) != 0) continue;
            if (i < 3 || memcmp(s + i - 3, "\xe2\x96\x81", 3) != 0) return false;
        }
    }
    return true;
}

fr_status fr_tok_finish(fr_tokenizer *t, fr_error *err) {
    t->ws_split = words_are_independent(t);
    /* byte tokens <0xHH> (SentencePiece byte fallback) */
    for (int b = 0; b < 256; b++) {
        char s[7];
        snprintf(s, sizeof s, "<0x%02X>", b);
        t->byte_tok[b] = fr_smap_get(&t->vocab, t->text.p, s, 6);
    }
    for (int i = 0; i < t->n_added; i++) {
        const fr_added *a = &t->added[i];
        const char *s = t->text.p + a->off;
        if (!a->normalized || !t->any_normalized_added) {
            if (!trie_insert(&t->trie_raw, s, a->len, i)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
            continue;
        }
        /* normalized tokens are matched in normalized text: normalize their content too */
        fr_buf nb = {0};
        fr_status st = fr_normalize(t, s, a->len, &nb, err);
        if (st == FR_OK && nb.n > 0 && !trie_insert(&t->trie_norm, nb.p, nb.n, i))
            st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
        fr_buf_free(&nb);
        if (st != FR_OK) return st;
    }
    return FR_OK;
}

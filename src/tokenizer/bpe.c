/* bpe.c: the BPE model, as Hugging Face's tokenizers runs it.
 *
 * A word starts as one symbol per character (for byte-level vocabularies, per mapped byte);
 * a character missing from the vocabulary becomes its <0xHH> byte tokens (byte_fallback) or
 * the unknown token (consecutive ones fused with fuse_unk). Then the pair with the lowest
 * merge rank is merged, leftmost first, until no ranked pair is left: a binary heap of
 * candidate pairs over a linked list of symbols, O(n log n) per word. With ignore_merges a
 * word that is itself a token is taken whole. Results of short words are cached per call. */
#include <stdlib.h>
#include <string.h>

#include "tok.h"

struct fr_bpe_cache {
    fr_smap map;   /* word -> entry index */
    fr_buf keys;
    uint32_t *off, *cnt;
    size_t n, cap;
    fr_ids ids;
};

fr_bpe_cache *fr_bpe_cache_new(void) { return calloc(1, sizeof(fr_bpe_cache)); }

void fr_bpe_cache_free(fr_bpe_cache *c) {
    if (!c) return;
    fr_smap_free(&c->map);
    fr_buf_free(&c->keys);
    free(c->off);
    free(c->cnt);
    fr_ids_free(&c->ids);
    free(c);
}

static void cache_put(fr_bpe_cache *c, const char *s, size_t n, const int32_t *ids, size_t k) {
    if (c->n >= (1u << 20)) return; /* bounded: stop caching rather than grow without end */
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 256;
        uint32_t *o = realloc(c->off, nc * sizeof *o);
        if (!o) return;
        c->off = o;
        uint32_t *q = realloc(c->cnt, nc * sizeof *q);
        if (!q) return;
        c->cnt = q;
        c->cap = nc;
    }
    if (c->keys.n + n >= UINT32_MAX || c->ids.n + k >= UINT32_MAX) return;
    uint32_t koff = (uint32_t)c->keys.n;
    size_t idoff = c->ids.n;
    if (!fr_buf_put(&c->keys, s, n)) return;
    for (size_t i = 0; i < k; i++)
        if (!fr_ids_push(&c->ids, ids[i])) {
            c->ids.n = idoff;
            c->keys.n = koff;
            return;
        }
    int r = fr_smap_put(&c->map, c->keys.p, koff, (uint32_t)n, (int32_t)c->n, NULL);
    if (r != 1) {
        c->ids.n = idoff;
        c->keys.n = koff;
        return;
    }
    c->off[c->n] = (uint32_t)idoff;
    c->cnt[c->n] = (uint32_t)k;
    c->n++;
}

typedef struct sym {
    int32_t id, prev, next;
    uint32_t len; /* bytes; 0 once merged away */
} sym;

typedef struct cand {
    int32_t rank, pos, id;
} cand;

static bool cand_less(cand a, cand b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

FR_DEFINE_HEAP(heap, cand, cand_less)

static bool add_pair(const fr_tokenizer *t, heap *h, const sym *s, int32_t pos) {
    if (pos < 0 || s[pos].next < 0) return true;
    int32_t rank, id;
    if (!fr_pmap_get(&t->merges, s[pos].id, s[s[pos].next].id, &rank, &id)) return true;
    return heap_push(h, (cand){rank, pos, id});
}

fr_status fr_bpe_word(const fr_tokenizer *t, const char *s, size_t n, fr_bpe_cache *cache, fr_ids *out,
                      fr_error *err) {
    if (n == 0) return FR_OK;
    if (t->ignore_merges) {
        int32_t id = fr_smap_get(&t->vocab, t->text.p, s, n);
        if (id >= 0) return fr_ids_push(out, id) ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    }
    if (cache && n <= FR_TOK_CACHE_WORD) {
        int32_t e = fr_smap_get(&cache->map, cache->keys.p, s, n);
        if (e >= 0) {
            for (uint32_t i = 0; i < cache->cnt[e]; i++)
                if (!fr_ids_push(out, cache->ids.v[cache->off[e] + i])) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
            return FR_OK;
        }
    }
    if (n >= INT32_MAX / 4) return fr_fail(err, FR_ERR_RANGE, "bpe: a %zu-byte word is too long", n);
    sym *sy = malloc(n * sizeof *sy); /* at most one symbol per byte */
    if (!sy) return fr_fail(err, FR_ERR_NOMEM, "bpe: out of memory");
    int32_t ns = 0;
    int32_t unk_len = 0; /* pending (fused) unknown */
#define ADD_SYM(ID, LEN)                                                                                               \
    do {                                                                                                               \
        sy[ns] = (sym){(ID), ns - 1, -1, (uint32_t)(LEN)};                                                             \
        if (ns > 0) sy[ns - 1].next = ns;                                                                              \
        ns++;                                                                                                          \
    } while (0)
    for (size_t i = 0; i < n;) {
        size_t u = fr_utf8_unit(s + i, n - i);
        int32_t id = fr_smap_get(&t->vocab, t->text.p, s + i, u);
        if (id >= 0) {
            if (unk_len) {
                ADD_SYM(t->unk, unk_len);
                unk_len = 0;
            }
            ADD_SYM(id, u);
        } else {
            bool done = false;
            if (t->byte_fallback) {
                bool all = true;
                for (size_t k = 0; k < u; k++) all = all && t->byte_tok[(uint8_t)s[i + k]] >= 0;
                if (all) {
                    if (unk_len) {
                        ADD_SYM(t->unk, unk_len);
                        unk_len = 0;
                    }
                    for (size_t k = 0; k < u; k++) ADD_SYM(t->byte_tok[(uint8_t)s[i + k]], 1);
                    done = true;
                }
            }
            if (!done && t->unk >= 0) {
                if (unk_len && !t->fuse_unk) {
                    ADD_SYM(t->unk, unk_len);
                    unk_len = 0;
                }
                unk_len += (int32_t)u;
            }
            /* no unknown token: the character is dropped, as Hugging Face does */
        }
        i += u;
    }
    if (unk_len) ADD_SYM(t->unk, unk_len);
#undef ADD_SYM
    heap h = {0};
    bool ok = true;
    for (int32_t i = 0; i + 1 < ns && ok; i++) ok = add_pair(t, &h, sy, i);
    while (ok && h.n > 0) {
        cand c = heap_pop(&h);
        sym *l = &sy[c.pos];
        if (l->len == 0 || l->next < 0) continue;
        sym *r = &sy[l->next];
        int32_t rank, id;
        if (!fr_pmap_get(&t->merges, l->id, r->id, &rank, &id) || id != c.id) continue; /* stale */
        l->id = c.id;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sy[r->next].prev = c.pos;
        ok = add_pair(t, &h, sy, l->prev) && add_pair(t, &h, sy, c.pos);
    }
    free(h.v);
    size_t first = out->n;
    for (int32_t i = ns > 0 ? 0 : -1; i >= 0 && ok; i = sy[i].next) ok = fr_ids_push(out, sy[i].id);
    free(sy);
    if (!ok) return fr_fail(err, FR_ERR_NOMEM, "bpe: out of memory");
    /* a word whose characters are all dropped (no unknown token) yields no ids: out->v may be NULL */
    if (cache && n <= FR_TOK_CACHE_WORD) cache_put(cache, s, n, out->n > first ? out->v + first : NULL, out->n - first);
    return FR_OK;
}

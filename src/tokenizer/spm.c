/* spm.c: SentencePiece BPE on scores (GGUF "llama" vocabularies: Llama 2, Mistral, Phi-3).
 *
 * Start from one symbol per character; repeatedly merge the adjacent pair whose
 * concatenation is a token with the highest score (leftmost on ties), until no pair forms a
 * token. A final symbol that is not a token (a character outside the vocabulary, or an
 * invalid byte) becomes its <0xHH> byte tokens, or the unknown token when there are none.
 * Heap of candidate pairs over a linked list: O(n log n). */
#include <stdlib.h>
#include <string.h>

#include "tok.h"

typedef struct ssym {
    int32_t prev, next;
    uint32_t off, len; /* len 0: merged away */
} ssym;

typedef struct scand {
    float score;
    int32_t left, right;
    uint32_t size;
} scand;

/* higher score first, then leftmost */
static bool sbefore(scand a, scand b) { return a.score > b.score || (a.score == b.score && a.left < b.left); }

FR_DEFINE_HEAP(sheap, scand, sbefore)

static bool try_pair(const fr_tokenizer *t, const char *s, const ssym *sy, int32_t l, int32_t r, sheap *h) {
    if (l < 0 || r < 0) return true;
    uint32_t size = sy[l].len + sy[r].len;
    int32_t id = fr_smap_get(&t->vocab, t->text.p, s + sy[l].off, size);
    if (id < 0) return true;
    float score = t->scores ? t->scores[id] : 0.0f;
    return sheap_push(h, (scand){score, l, r, size});
}

fr_status fr_spm_word(const fr_tokenizer *t, const char *s, size_t n, fr_ids *out, fr_error *err) {
    if (n == 0) return FR_OK;
    if (n >= INT32_MAX / 4) return fr_fail(err, FR_ERR_RANGE, "spm: a %zu-byte text is too long", n);
    ssym *sy = malloc(n * sizeof *sy);
    if (!sy) return fr_fail(err, FR_ERR_NOMEM, "spm: out of memory");
    int32_t ns = 0;
    for (size_t i = 0; i < n;) {
        size_t u = fr_utf8_unit(s + i, n - i);
        sy[ns] = (ssym){ns - 1, -1, (uint32_t)i, (uint32_t)u};
        if (ns > 0) sy[ns - 1].next = ns;
        ns++;
        i += u;
    }
    sheap h = {0};
    bool ok = true;
    for (int32_t i = 1; i < ns && ok; i++) ok = try_pair(t, s, sy, i - 1, i, &h);
    while (ok && h.n > 0) {
        scand c = sheap_pop(&h);
        ssym *l = &sy[c.left], *r = &sy[c.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != c.size || l->next != c.right) continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sy[r->next].prev = c.left;
        ok = try_pair(t, s, sy, l->prev, c.left, &h) && try_pair(t, s, sy, c.left, l->next, &h);
    }
    free(h.v);
    for (int32_t i = 0; i >= 0 && ok; i = sy[i].next) {
        const char *p = s + sy[i].off;
        int32_t id = fr_smap_get(&t->vocab, t->text.p, p, sy[i].len);
        if (id >= 0) {
            ok = fr_ids_push(out, id);
            continue;
        }
        bool all = true;
        for (uint32_t k = 0; k < sy[i].len; k++) all = all && t->byte_tok[(uint8_t)p[k]] >= 0;
        if (all) {
            for (uint32_t k = 0; k < sy[i].len && ok; k++) ok = fr_ids_push(out, t->byte_tok[(uint8_t)p[k]]);
        } else if (t->unk >= 0) {
            ok = fr_ids_push(out, t->unk);
        }
    }
    free(sy);
    return ok ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "spm: out of memory");
}

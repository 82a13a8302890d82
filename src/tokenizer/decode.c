/* decode.c: ids -> text, one token at a time, so that one code path serves whole-sequence
 * decoding and streaming.
 *
 * The decoder chains of the supported families are token-local except at the start: the
 * ByteLevel decoder maps each token's characters back to bytes (added tokens stay as
 * written), Replace and ByteFallback rewrite one token, Metaspace treats the first token
 * specially, and a Strip after Fuse removes leading spaces of the whole text. Those start
 * rules run on a fresh stream; a continuation stream (generated text after a prompt) skips
 * them. Output is the exact bytes (no U+FFFD substitution); a stream holds back a trailing
 * incomplete UTF-8 sequence until it completes or the stream ends. */
#include <stdlib.h>
#include <string.h>

#include "tok.h"

void fr_detok_init(fr_detok *d, const fr_tokenizer *t, bool special, bool continuation) {
    memset(d, 0, sizeof *d);
    d->t = t;
    d->special = special;
    d->strip_left = continuation ? 0 : t->dec.strip_start;
    d->started = continuation;
}

void fr_detok_free(fr_detok *d) {
    fr_buf_free(&d->pending);
    fr_buf_free(&d->out);
}

/* Bytes at the end of b that may still become a valid UTF-8 sequence. */
static size_t incomplete_tail(const fr_buf *b) {
    size_t n = b->n;
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)b->p[n - back];
        if ((c & 0xc0) == 0x80) continue; /* continuation: keep looking for the lead byte */
        size_t need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        return need > back ? back : 0;
    }
    return 0;
}

static size_t trailing_strip(const fr_detok *d) {
    const fr_decoder *dc = &d->t->dec;
    size_t k = 0;
    while (k < (size_t)dc->strip_stop && k < d->pending.n && d->pending.p[d->pending.n - 1 - k] == dc->strip_char) k++;
    return k;
}

static bool release(fr_detok *d, bool final) {
    size_t hold = 0;
    if (!final) {
        hold = incomplete_tail(&d->pending);
        size_t ts = trailing_strip(d);
        if (ts > hold) hold = ts;
    } else {
        d->pending.n -= trailing_strip(d);
    }
    size_t give = d->pending.n - hold;
    if (!fr_buf_put(&d->out, d->pending.p, give)) return false;
    if (hold) memmove(d->pending.p, d->pending.p + give, hold);
    d->pending.n = hold;
    return true;
}

static bool emit(fr_detok *d, const char *s, size_t n) {
    const fr_decoder *dc = &d->t->dec;
    size_t i = 0;
    while (d->strip_left > 0 && i < n) {
        if (s[i] == dc->strip_char) {
            d->strip_left--;
            i++;
        } else {
            d->strip_left = 0;
        }
    }
    if (i < n) d->strip_left = 0;
    if (!fr_buf_put(&d->pending, s + i, n - i)) return false;
    return release(d, false);
}

static bool replace_all(fr_buf *dst, const char *s, size_t n, const char *from, size_t fl, const char *to, size_t tl) {
    if (fl == 0) return fr_buf_put(dst, s, n);
    size_t i = 0;
    while (i < n) {
        const char *hit = i + fl <= n ? memmem(s + i, n - i, from, fl) : NULL;
        size_t stop = hit ? (size_t)(hit - s) : n;
        if (!fr_buf_put(dst, s + i, stop - i)) return false;
        if (!hit) break;
        if (!fr_buf_put(dst, to, tl)) return false;
        i = stop + fl;
    }
    return true;
}

fr_status fr_detok_push(fr_detok *d, int32_t id, fr_error *err) {
    const fr_tokenizer *t = d->t;
    const fr_decoder *dc = &t->dec;
    if (id < 0 || id >= t->n_vocab || t->tok_type[id] == 0)
        return fr_fail(err, FR_ERR_RANGE, "token id %d is out of range (vocabulary size %d)", id, t->n_vocab);
    int type = t->tok_type[id];
    bool control = type == FR_TOKEN_CONTROL || type == FR_TOKEN_UNKNOWN || type == FR_TOKEN_UNUSED;
    if (control && !d->special) return FR_OK;
    bool added = control || type == FR_TOKEN_USER_DEFINED;
    const char *s = fr_tok_str(t, id);
    size_t n = t->tok_len[id];
    fr_buf a = {0}, b = {0};
    bool ok = true;
    bool first = d->n_tokens == 0 && !d->started;
    d->n_tokens++;
    if (dc->byte_level) {
        /* added tokens are matched as literal text, so they decode to it (as transformers.js
         * and llama.cpp do: DeepSeek LLM's user-defined "\xc3\x80" gives back U+00C0, not the
         * byte 0xC0 that Hugging Face's Rust decoder would make of it) */
        if (added || !fr_bytelevel_decode(s, n, &a)) ok = fr_buf_put(&a, s, n);
    } else {
        ok = fr_buf_put(&a, s, n);
        for (int k = 0; k < dc->n_replace && ok; k++) {
            b.n = 0;
            ok = replace_all(&b, a.p, a.n, dc->rep_from[k], dc->rep_from_len[k], dc->rep_to[k], dc->rep_to_len[k]);
            fr_buf tmp = a;
            a = b;
            b = tmp;
        }
        int byte = dc->byte_fallback && !added ? fr_byte_token_value(a.p, a.n) : -1;
        if (ok && byte >= 0) {
            a.n = 0;
            ok = fr_buf_putc(&a, (char)byte);
        }
        if (ok && dc->metaspace) {
            b.n = 0;
            ok = first && dc->ms_strip_first ? replace_all(&b, a.p, a.n, dc->ms_repl, dc->ms_repl_len, "", 0)
                       : replace_all(&b, a.p, a.n, dc->ms_repl, dc->ms_repl_len, " ", 1);
            fr_buf tmp = a;
            a = b;
            b = tmp;
        }
        if (ok && (dc->tok_strip_start || dc->tok_strip_stop)) {
            size_t lo = 0, hi = a.n;
            for (int k = 0; k < dc->tok_strip_start && lo < hi && a.p[lo] == dc->tok_strip_char; k++) lo++;
            for (int k = 0; k < dc->tok_strip_stop && hi > lo && a.p[hi - 1] == dc->tok_strip_char; k++) hi--;
            if (hi > lo) memmove(a.p, a.p + lo, hi - lo);
            a.n = hi - lo;
        }
    }
    if (ok && dc->join_space && !first) ok = emit(d, " ", 1);
    if (ok && a.n > 0) ok = emit(d, a.p, a.n);
    if (ok && a.n > 0) d->started = true;
    fr_buf_free(&a);
    fr_buf_free(&b);
    return ok ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "decode: out of memory");
}

void fr_detok_finish(fr_detok *d) { release(d, true); }

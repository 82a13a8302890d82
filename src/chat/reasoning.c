/* reasoning.c: streams generated text apart into reasoning (<think>...</think>) and content.
 * Works byte by byte (the tags are ASCII, and '<' never occurs inside a multi-byte UTF-8
 * character), holding back a possible tag prefix and, when trimming, trailing whitespace. */
#include <string.h>

#include "chat/reasoning.h"

static const char k_open[] = "<think>", k_close[] = "</think>";

typedef struct out {
    frugal_text_fn fn;
    void *user;
    frugal_text_kind kind;
    char buf[256];
    size_t n;
} out;

static void out_flush(out *o) {
    if (o->n && o->fn) o->fn(o->kind, o->buf, o->n, o->user);
    o->n = 0;
}

static void out_put(out *o, frugal_text_kind kind, const char *s, size_t n) {
    if (kind != o->kind) {
        out_flush(o);
        o->kind = kind;
    }
    while (n) {
        size_t k = sizeof o->buf - o->n < n ? sizeof o->buf - o->n : n;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
        if (o->n == sizeof o->buf) out_flush(o);
    }
}

static bool is_ws(char ch) { return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r'; }

static frugal_text_kind cur_kind(const frugal_reasoning *r) {
    return r->in_reasoning ? FRUGAL_TEXT_REASONING : FRUGAL_TEXT_CONTENT;
}

static void put_ws(frugal_reasoning *r, out *o) {
    if (r->n_ws) out_put(o, cur_kind(r), r->ws, r->n_ws);
    r->n_ws = 0;
}

/* one byte of text (not part of a tag) */
static void text_byte(frugal_reasoning *r, out *o, char ch) {
    if (!r->trim) {
        out_put(o, cur_kind(r), &ch, 1);
        return;
    }
    if (is_ws(ch)) {
        if (r->at_start) return;
        if (r->n_ws == sizeof r->ws) put_ws(r, o);
        r->ws[r->n_ws++] = ch;
        return;
    }
    put_ws(r, o);
    r->at_start = false;
    out_put(o, cur_kind(r), &ch, 1);
}

static void tag_seen(frugal_reasoning *r, bool open) {
    r->n_ws = 0; /* whitespace before a tag is dropped when trimming (only held when trimming) */
    if (open) r->in_reasoning = true;
    else if (r->in_reasoning) r->in_reasoning = false;
    r->at_start = true;
}

static bool is_prefix(const char *hold, size_t n, const char *tag) { return n <= strlen(tag) && !memcmp(hold, tag, n); }

static void feed_byte(frugal_reasoning *r, out *o, char ch);

/* the held bytes are not a tag: pass the first on as text and rescan the rest */
static void release(frugal_reasoning *r, out *o) {
    char tmp[sizeof r->hold];
    size_t n = r->n_hold;
    memcpy(tmp, r->hold, n);
    r->n_hold = 0;
    text_byte(r, o, tmp[0]);
    for (size_t i = 1; i < n; i++) feed_byte(r, o, tmp[i]);
}

static void feed_byte(frugal_reasoning *r, out *o, char ch) {
    if (r->n_hold == 0 && ch != '<') {
        text_byte(r, o, ch);
        return;
    }
    r->hold[r->n_hold++] = ch;
    bool can_open = !r->in_reasoning && is_prefix(r->hold, r->n_hold, k_open);
    bool can_close = is_prefix(r->hold, r->n_hold, k_close);
    if (can_open && r->n_hold == sizeof k_open - 1) {
        r->n_hold = 0;
        tag_seen(r, true);
    } else if (can_close && r->n_hold == sizeof k_close - 1) {
        r->n_hold = 0;
        tag_seen(r, false);
    } else if (!can_open && !can_close) release(r, o);
}

void fr_reasoning_init(frugal_reasoning *r, bool starts_in_reasoning, bool trim) {
    memset(r, 0, sizeof *r);
    r->in_reasoning = starts_in_reasoning;
    r->trim = trim;
    r->at_start = true;
}

void fr_reasoning_feed(frugal_reasoning *r, const char *text, size_t len, frugal_text_fn fn, void *user) {
    out o = {.fn = fn, .user = user, .kind = cur_kind(r)};
    for (size_t i = 0; i < len; i++) feed_byte(r, &o, text[i]);
    out_flush(&o);
}

void fr_reasoning_flush(frugal_reasoning *r, frugal_text_fn fn, void *user) {
    out o = {.fn = fn, .user = user, .kind = cur_kind(r)};
    while (r->n_hold) release(r, &o);
    r->n_ws = 0; /* trailing whitespace (only held when trimming) */
    out_flush(&o);
}

bool fr_prompt_opens_reasoning(const char *p, size_t n) {
    const char *last = NULL;
    for (size_t i = 0; i + sizeof k_open - 1 <= n; i++)
        if (p[i] == '<' && !memcmp(p + i, k_open, sizeof k_open - 1)) last = p + i;
    if (!last) return false;
    size_t from = (size_t)(last - p);
    for (size_t i = from; i + sizeof k_close - 1 <= n; i++)
        if (p[i] == '<' && !memcmp(p + i, k_close, sizeof k_close - 1)) return false;
    return true;
}

/* engine.c: continuous batching.
 *
 * One thread owns the model context. The context holds one KV-cache sequence per slot. Each
 * step, every running choice contributes rows to ONE batched forward pass (frugal_eval_seqs):
 * a decoding choice its last sampled token, a choice still reading its prompt a chunk of it
 * (decode rows first, prompt chunks fill the rest of the n_batch budget). Requests join when
 * slots are free and leave when they finish or their client goes away, at any step.
 *
 * Exactness: the kernels are batch-invariant (a row's result does not depend on the other
 * rows, the chunking or the thread count), so at temperature 0 a request's tokens are the same
 * alone or among others, in any slot, with or without a cached prefix.
 *
 * Prefix cache: a slot keeps the tokens of its cached rows after its request leaves. A new
 * choice takes the free slot with the longest common prefix with its prompt (least recently
 * used among equals), or copies the longest prefix any slot holds (frugal_seq_copy). For
 * models whose prompt and decode phases compute differently (MLA), only rows computed in the
 * prompt phase are reused, so a reused row is bit-identical to a recomputed one. At least
 * the prompt's last token is always evaluated (its logits start the generation). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

static fr_status fail(fr_error *err, fr_status code, const char *msg) {
    err->code = code;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return code;
}

typedef struct srv_task {
    srv_request *req;
    int choice;
    int slot;
    bool decoding;  /* prompt done; `last` waits to be evaluated */
    int32_t last;
    int64_t n_gen, max_gen;
    double t_start;
    frugal_sampler *smp;
    frugal_detokenizer *dt;
    frugal_reasoning rs;
    char *pend; /* text held back: it may still become a stop string */
    size_t n_pend, cap_pend;
    json_t *lp; /* logprob entries not yet attached to an event */
    json_guard jg; /* response_format json_object / json_schema */
} srv_task;

typedef struct srv_slot {
    srv_task *task; /* NULL: free */
    int32_t *hist;  /* the tokens of the cached rows: [n_hist] */
    int64_t n_hist;
    int64_t n_reuse; /* leading rows another request may reuse */
    uint64_t last_used;
} srv_slot;

struct srv_engine {
    const frugal_model *m;
    const frugal_tokenizer *tok;
    frugal_context *ctx;
    srv_engine_params p;
    bool phase_matters;
    int64_t n_vocab, n_batch;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, draining;
    srv_request **queue; /* ring [queue_max] */
    int q_head, q_len;
    srv_slot *slots;
    uint64_t clock;
    int rr; /* round-robin start for prompt chunks */
    /* batch buffers: [n_batch] rows, [n_slots] logits rows */
    int32_t *b_tok, *b_seq;
    uint8_t *b_want;
    srv_task **b_task;
    float *logits;
    int n_eog;
    int32_t eog[16]; /* end-of-generation tokens (ignore_eos masks them) */
    /* response_format: every token's text (built on first use) and a copy of a logits row */
    char *pieces;
    int64_t *piece_off; /* [n_vocab + 1] */
    int32_t *by_first;  /* [n_vocab] token ids by the first byte of their text (set last: the table is ready) */
    int64_t *plain;     /* [n_vocab] characters of the text as plain string content, or -1 (json_plain_chars) */
    int64_t first_off[258]; /* by_first[first_off[b] .. first_off[b + 1]): first byte b; [256]: empty
                             * texts and end-of-generation tokens, which no text trial decides */
    float *raw;         /* [n_vocab] */
    srv_stats st;  /* guarded by mu */
    int n_active;  /* running choices; guarded by mu */
};

double srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- requests ---- */

srv_request *srv_request_new(srv_kind kind) {
    srv_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->refs = 1;
    r->kind = kind;
    r->p.n = 1;
    r->p.max_tokens = -1;
    r->state = SRV_QUEUED;
    return r;
}

void srv_event_free_list(srv_event *e) {
    while (e) {
        srv_event *n = e->next;
        json_decref(e->logprobs);
        free(e);
        e = n;
    }
}

void srv_request_release(srv_request *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left > 0) return;
    srv_event_free_list(r->head);
    for (int i = 0; i < r->p.n_stop; i++) free(r->p.stop[i]);
    js_schema_free(r->p.schema);
    free(r->prompt);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

srv_event *srv_request_take_events(srv_request *r) {
    srv_event *e = r->head;
    r->head = r->tail = NULL;
    return e;
}

static void push_event(srv_task *t, srv_event_kind kind, const char *raw, size_t raw_len, const char *finish) {
    srv_request *r = t->req;
    /* JSON needs valid UTF-8: a random or broken model can emit byte tokens that never form a
     * character (the detokenizer passes them on once they cannot complete) */
    size_t len = 0;
    char *text = srv_utf8_valid_copy(raw, raw_len, &len);
    srv_event *ev = text ? malloc(sizeof *ev + len + 1) : NULL;
    if (!ev) {
        free(text);
        return;
    }
    ev->next = NULL;
    ev->choice = t->choice;
    ev->kind = kind;
    ev->finish = finish;
    ev->logprobs = NULL;
    if (t->lp && json_array_size(t->lp)) {
        ev->logprobs = t->lp;
        t->lp = NULL;
    }
    ev->len = len;
    if (len) memcpy(ev->text, text, len);
    ev->text[len] = 0;
    free(text);
    pthread_mutex_lock(&r->mu);
    if (r->tail)
        r->tail->next = ev;
    else
        r->head = ev;
    r->tail = ev;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- text out: stop strings, then the reasoning splitter (chat) ---- */

static void on_text(frugal_text_kind kind, const char *text, size_t len, void *user) {
    if (len) push_event(user, kind == FRUGAL_TEXT_REASONING ? SRV_EV_REASONING : SRV_EV_CONTENT, text, len, NULL);
}

static void emit_text(srv_task *t, const char *s, size_t n) {
    if (!n) return;
    if (t->req->kind == SRV_CHAT)
        frugal_reasoning_feed(&t->rs, s, n, on_text, t);
    else
        push_event(t, SRV_EV_CONTENT, s, n, NULL);
}

/* Feeds generated text through the stop strings. Returns true when a stop string matched
 * (the text before it has been emitted). final: release everything held. */
static bool stop_feed(srv_task *t, const char *s, size_t n, bool final) {
    const srv_gen_params *p = &t->req->p;
    if (p->n_stop == 0) {
        emit_text(t, s, n);
        return false;
    }
    if (t->n_pend + n + 1 > t->cap_pend) {
        size_t cap = (t->n_pend + n + 1) * 2;
        char *q = realloc(t->pend, cap);
        if (!q) return false;
        t->pend = q;
        t->cap_pend = cap;
    }
    memcpy(t->pend + t->n_pend, s, n);
    t->n_pend += n;
    size_t best = SIZE_MAX;
    for (int i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        if (sl == 0 || sl > t->n_pend) continue;
        for (size_t at = 0; at + sl <= t->n_pend && at < best; at++)
            if (!memcmp(t->pend + at, p->stop[i], sl)) {
                best = at;
                break;
            }
    }
    if (best != SIZE_MAX) {
        emit_text(t, t->pend, best);
        t->n_pend = 0;
        return true;
    }
    size_t hold = 0;
    if (!final) {
        /* the longest tail of pend that is a proper prefix of some stop string */
        for (int i = 0; i < p->n_stop; i++) {
            size_t sl = strlen(p->stop[i]);
            for (size_t k = MIN(sl - 1, t->n_pend); k > hold; k--)
                if (!memcmp(t->pend + t->n_pend - k, p->stop[i], k)) {
                    hold = k;
                    break;
                }
        }
    }
    emit_text(t, t->pend, t->n_pend - hold);
    memmove(t->pend, t->pend + t->n_pend - hold, hold);
    t->n_pend = hold;
    return false;
}

/* ---- tasks ---- */

static void task_free(srv_task *t) {
    if (!t) return;
    frugal_sampler_free(t->smp);
    frugal_detokenizer_free(t->dt);
    free(t->pend);
    json_decref(t->lp);
    free(t);
}

/* Ends a choice: flush held text (unless it ended at a stop string), tell the client (a
 * finish_reason, or with `error` an error event), free the slot (its rows stay cached for
 * later prefixes). */
static void end_task(srv_engine *e, srv_task *t, const char *reason, bool at_stop_string, const char *error) {
    srv_request *r = t->req;
    if (!at_stop_string) {
        const char *tail = NULL;
        int64_t k = frugal_detokenizer_flush(t->dt, &tail);
        bool stopped = stop_feed(t, tail ? tail : "", k > 0 ? (size_t)k : 0, true);
        if (stopped) reason = "stop";
    }
    if (r->kind == SRV_CHAT) frugal_reasoning_flush(&t->rs, on_text, t);
    if (error)
        push_event(t, SRV_EV_ERROR, error, strlen(error), NULL);
    else
        push_event(t, SRV_EV_FINISH, "", 0, reason);
    pthread_mutex_lock(&r->mu);
    if (++r->n_finished == r->p.n) {
        r->state = SRV_DONE;
        r->t_done = srv_now();
    }
    bool cancelled = r->cancelled;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    srv_slot *s = &e->slots[t->slot];
    s->task = NULL;
    s->last_used = ++e->clock;
    pthread_mutex_lock(&e->mu);
    e->n_active--;
    if (cancelled && r->n_finished == r->p.n) e->st.requests_cancelled++;
    pthread_mutex_unlock(&e->mu);
    task_free(t);
    srv_request_release(r);
}

static void finish_task(srv_engine *e, srv_task *t, const char *reason, bool at_stop_string) {
    end_task(e, t, reason, at_stop_string, NULL);
}
static void fail_task(srv_engine *e, srv_task *t, const char *error) { end_task(e, t, NULL, false, error); }

static int64_t common_prefix(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    int64_t n = MIN(na, nb), i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* Chooses and prepares a free slot for a new choice (the prefix cache). */
static int take_slot(srv_engine *e, const int32_t *prompt, int64_t n_prompt, int64_t *reused) {
    int best_free = -1, best_src = -1;
    int64_t free_lcp = -1, src_lcp = 0;
    for (int s = 0; s < e->p.n_slots; s++) {
        srv_slot *sl = &e->slots[s];
        int64_t lcp = common_prefix(sl->hist, sl->n_reuse, prompt, n_prompt);
        if (!sl->task && (lcp > free_lcp || (lcp == free_lcp && sl->last_used < e->slots[best_free].last_used))) {
            best_free = s;
            free_lcp = lcp;
        }
        if (lcp > src_lcp) {
            best_src = s;
            src_lcp = lcp;
        }
    }
    if (best_free < 0) return -1;
    int64_t cap = n_prompt - 1; /* the last prompt token is always evaluated */
    int64_t keep = MIN(free_lcp, cap);
    srv_slot *dst = &e->slots[best_free];
    int64_t from_src = MIN(src_lcp, cap);
    if (best_src >= 0 && best_src != best_free && from_src > keep) {
        fr_error err;
        if (frugal_seq_copy(e->ctx, best_src, best_free, from_src, &err) == FR_OK) {
            memcpy(dst->hist, e->slots[best_src].hist, sizeof(int32_t) * (size_t)from_src);
            keep = from_src;
        } else {
            fprintf(stderr, "frugal serve: prefix copy failed: %s\n", err.msg);
        }
    }
    frugal_seq_truncate(e->ctx, best_free, keep);
    dst->n_hist = keep;
    dst->n_reuse = keep; /* rows kept in place or copied were reusable where they came from */
    *reused = keep;
    return best_free;
}

static bool start_task(srv_engine *e, srv_request *r, int choice) {
    int64_t reused = 0;
    srv_task *t = calloc(1, sizeof *t);
    if (!t) return false;
    t->req = r;
    t->choice = choice;
    frugal_sampler_params sp = r->p.sp;
    sp.seed += (uint64_t)choice; /* n choices from one seed differ */
    fr_error err;
    if (frugal_sampler_new(&sp, e->n_vocab, &t->smp, &err) != FR_OK ||
        frugal_detokenizer_new(e->tok, false, true, &t->dt, &err) != FR_OK) {
        fprintf(stderr, "frugal serve: %s\n", err.msg);
        task_free(t);
        return false;
    }
    int s = take_slot(e, r->prompt, r->n_prompt, &reused);
    if (s < 0) {
        task_free(t);
        return false;
    }
    for (int64_t i = 0; i < r->n_prompt; i++) frugal_sampler_accept(t->smp, r->prompt[i]);
    frugal_reasoning_init(&t->rs, r->opens_reasoning, true);
    if (r->p.schema) json_guard_init(&t->jg, r->p.schema);
    t->slot = s;
    t->max_gen = r->p.max_tokens;
    t->t_start = srv_now();
    e->slots[s].task = t;
    pthread_mutex_lock(&r->mu);
    r->refs++;
    if (choice == 0) {
        r->n_cached = reused;
        r->t_started = t->t_start;
    }
    r->state = SRV_RUNNING;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_lock(&e->mu);
    e->n_active++;
    if (choice == 0) {
        e->st.prompt_tokens += r->n_prompt;
        e->st.cached_tokens += reused;
    }
    pthread_mutex_unlock(&e->mu);
    return true;
}

/* Under e->mu: move queued requests into free slots, oldest first (a request needs a slot
 * per choice). */
static void admit(srv_engine *e) {
    while (e->q_len > 0) {
        srv_request *r = e->queue[e->q_head];
        int n_free = 0;
        for (int s = 0; s < e->p.n_slots; s++) n_free += e->slots[s].task == NULL;
        pthread_mutex_lock(&r->mu);
        bool cancelled = r->cancelled;
        pthread_mutex_unlock(&r->mu);
        if (!cancelled && n_free < r->p.n) return;
        e->q_head = (e->q_head + 1) % e->p.queue_max;
        e->q_len--;
        if (cancelled) {
            e->st.requests_cancelled++;
            srv_request_release(r);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        for (int c = 0; c < r->p.n; c++) {
            if (!start_task(e, r, c)) { /* out of memory: end the choice at once, with an error */
                static const char msg[] = "out of memory: cannot start the request";
                srv_event *ev = malloc(sizeof *ev + sizeof msg);
                pthread_mutex_lock(&r->mu);
                if (ev) {
                    *ev = (srv_event){NULL, c, SRV_EV_ERROR, NULL, NULL, sizeof msg - 1};
                    memcpy(ev->text, msg, sizeof msg);
                    if (r->tail) r->tail->next = ev;
                    else r->head = ev;
                    r->tail = ev;
                }
                if (++r->n_finished == r->p.n) {
                    r->state = SRV_DONE;
                    r->t_done = srv_now();
                }
                pthread_cond_broadcast(&r->cv);
                pthread_mutex_unlock(&r->mu);
            }
        }
        srv_request_release(r); /* the queue's reference; each task holds its own */
        pthread_mutex_lock(&e->mu);
    }
}

/* ---- logprobs (of the model's distribution before any sampling transform) ---- */

static json_t *token_json(srv_engine *e, int32_t tok, double lp) {
    char piece[256];
    int k = frugal_token_to_piece(e->m, tok, true, piece, sizeof piece);
    if (k < 0) k = 0;
    size_t vl = 0;
    char *valid = srv_utf8_valid_copy(piece, (size_t)k, &vl);
    json_t *bytes = json_array();
    for (int i = 0; i < k; i++) json_array_append_new(bytes, json_integer((unsigned char)piece[i]));
    json_t *o = json_object();
    json_object_set_new(o, "token", json_stringn(valid ? valid : "", valid ? vl : 0));
    json_object_set_new(o, "logprob", json_real(isfinite(lp) ? lp : -9999.0));
    json_object_set_new(o, "bytes", bytes);
    free(valid);
    return o;
}

static void add_logprobs(srv_engine *e, srv_task *t, const float *logits, int32_t tok) {
    int64_t V = e->n_vocab;
    double mx = -INFINITY;
    for (int64_t i = 0; i < V; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int64_t i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    json_t *entry = token_json(e, tok, (double)logits[tok] - lse);
    json_t *top = json_array();
    int k = t->req->p.top_logprobs;
    int32_t ids[SRV_MAX_TOP_LOGPROBS];
    int nk = 0;
    for (int64_t i = 0; i < V && k > 0; i++) { /* insertion into a sorted top-k */
        float v = logits[i];
        if (nk == k && v <= logits[ids[nk - 1]]) continue;
        int at = nk < k ? nk++ : k - 1;
        while (at > 0 && logits[ids[at - 1]] < v) {
            ids[at] = ids[at - 1];
            at--;
        }
        ids[at] = (int32_t)i;
    }
    for (int i = 0; i < nk; i++) json_array_append_new(top, token_json(e, ids[i], (double)logits[ids[i]] - lse));
    json_object_set_new(entry, "top_logprobs", top);
    if (!t->lp) t->lp = json_array();
    json_array_append_new(t->lp, entry);
}

/* the first byte of a token's text, or 256: no text, or an end-of-generation token */
static int piece_bucket(const srv_engine *e, const int64_t *off, const char *pieces, int64_t id) {
    if (off[id + 1] == off[id] || frugal_model_is_eog(e->m, (int32_t)id)) return 256;
    return (unsigned char)pieces[off[id]];
}

/* Every token's text, and the token ids by first byte, built on first use. On failure
 * nothing is kept, and the next use tries again. */
static bool build_pieces(srv_engine *e) {
    if (e->by_first) return true;
    int64_t V = e->n_vocab, cap = V * 8 + 256, at = 0;
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(V + 1));
    char *pieces = malloc((size_t)cap);
    float *raw = malloc(sizeof(float) * (size_t)V);
    int32_t *by_first = malloc(sizeof(int32_t) * (size_t)(V ? V : 1));
    int64_t *plain = malloc(sizeof(int64_t) * (size_t)(V ? V : 1));
    bool ok = off && pieces && raw && by_first && plain;
    for (int64_t id = 0; ok && id < V; id++) {
        char buf[256];
        int k = frugal_token_to_piece(e->m, (int32_t)id, false, buf, sizeof buf);
        if (k < 0) k = 0;
        if (at + k > cap) {
            cap = (at + k) * 2;
            char *q = realloc(pieces, (size_t)cap);
            if (!q) {
                ok = false;
                break;
            }
            pieces = q;
        }
        off[id] = at;
        memcpy(pieces + at, buf, (size_t)k);
        plain[id] = k > 0 ? json_plain_chars(buf, (size_t)k) : -1;
        at += k;
    }
    if (!ok) {
        free(off);
        free(pieces);
        free(raw);
        free(by_first);
        free(plain);
        return false;
    }
    off[V] = at;
    /* a counting sort by first byte (bucket 256: empty texts and end-of-generation tokens) */
    int64_t *fo = e->first_off;
    memset(fo, 0, sizeof e->first_off);
    for (int64_t id = 0; id < V; id++) fo[piece_bucket(e, off, pieces, id) + 1]++;
    for (int b = 0; b < 257; b++) fo[b + 1] += fo[b];
    int64_t fill[257];
    memcpy(fill, fo, sizeof fill);
    for (int64_t id = 0; id < V; id++) by_first[fill[piece_bucket(e, off, pieces, id)]++] = (int32_t)id;
    e->piece_off = off;
    e->pieces = pieces;
    e->raw = raw;
    e->plain = plain;
    e->by_first = by_first;
    return true;
}

/* json_object / json_schema: mask every token whose text cannot continue an allowed JSON text;
 * end-of-generation tokens are allowed once the text is a whole value (json_guard_can_end).
 * Returns the tokens left. */
static int64_t json_mask(srv_engine *e, srv_task *t, float *logits) {
    int64_t left = 0;
    bool can_end = json_guard_can_end(&t->jg);
    json_guard try_g, *g = &try_g; /* tokens are tried on a copy of the task's guard */
    /* inside a string value, plain text tokens that fit need no trial */
    const int64_t room = json_guard_plain_room(&t->jg);
    /* the tokens of one first byte at a time: when that byte is refused, so are they all */
    for (int b = 0; b < 256; b++) {
        int64_t i0 = e->first_off[b], i1 = e->first_off[b + 1];
        if (i0 == i1) continue;
        json_guard_copy(g, &t->jg);
        bool first_ok = json_guard_feed(g, (unsigned char)b);
        for (int64_t i = i0; i < i1; i++) {
            int32_t id = e->by_first[i];
            bool ok = false;
            if (first_ok && e->plain[id] >= 0 && e->plain[id] <= room) {
                ok = true;
            } else if (first_ok) {
                int64_t a = e->piece_off[id], z = e->piece_off[id + 1];
                json_guard_copy(g, &t->jg);
                ok = json_guard_feed_bytes(g, e->pieces + a, (size_t)(z - a));
            }
            if (!ok) logits[id] = -INFINITY;
            left += ok;
        }
    }
    for (int64_t i = e->first_off[256]; i < e->first_off[257]; i++) { /* end-of-generation, or nothing */
        int32_t id = e->by_first[i];
        bool ok = frugal_model_is_eog(e->m, id) && can_end;
        if (!ok) logits[id] = -INFINITY;
        left += ok;
    }
    return left;
}

/* A choice's logits row: sample, then stream the text. */
static void on_logits(srv_engine *e, srv_task *t, float *logits) {
    srv_request *r = t->req;
    fr_error err;
    float saved[16];
    const float *model_logits = logits; /* the distribution logprobs report */
    if (r->p.schema) {
        if (!build_pieces(e)) {
            fail_task(e, t, "out of memory (response_format token table)");
            return;
        }
        if (json_guard_done(&t->jg)) { /* the value is complete: only the end may follow (even with ignore_eos) */
            finish_task(e, t, "stop", false);
            return;
        }
        memcpy(e->raw, logits, sizeof(float) * (size_t)e->n_vocab);
        model_logits = e->raw;
        if (json_mask(e, t, logits) == 0) {
            fail_task(e, t,
                      "response_format: no token can continue a text the schema allows (a schema that needs "
                      "objects or arrays nested deeper than 64)");
            return;
        }
    }
    if (r->p.ignore_eos)
        for (int i = 0; i < e->n_eog; i++) saved[i] = logits[e->eog[i]], logits[e->eog[i]] = -INFINITY;
    int32_t tok = frugal_sampler_sample(t->smp, logits, &err);
    if (r->p.ignore_eos) /* logprobs describe the model's own distribution */
        for (int i = e->n_eog - 1; i >= 0; i--) logits[e->eog[i]] = saved[i];
    if (tok < 0) {
        fprintf(stderr, "frugal serve: sampling: %s\n", err.msg);
        fail_task(e, t, err.msg);
        return;
    }
    frugal_sampler_accept(t->smp, tok);
    t->decoding = true;
    t->last = tok;
    t->n_gen++;
    pthread_mutex_lock(&r->mu);
    r->n_generated++;
    if (r->t_first_token == 0) r->t_first_token = srv_now();
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_lock(&e->mu);
    e->st.generated_tokens++;
    pthread_mutex_unlock(&e->mu);
    if (!r->p.ignore_eos && frugal_model_is_eog(e->m, tok)) {
        finish_task(e, t, "stop", false);
        return;
    }
    if (r->p.logprobs) add_logprobs(e, t, model_logits, tok);
    if (r->p.schema) {
        int64_t a = e->piece_off[tok], b = e->piece_off[tok + 1];
        json_guard_feed_bytes(&t->jg, e->pieces + a, (size_t)(b - a)); /* allowed by json_mask */
    }
    const char *text = NULL;
    int64_t k = frugal_detokenizer_push(t->dt, tok, &text, &err);
    if (k > 0 && stop_feed(t, text, (size_t)k, false)) {
        finish_task(e, t, "stop", true);
        return;
    }
    if (t->max_gen >= 0 && t->n_gen >= t->max_gen) {
        finish_task(e, t, "length", false);
        return;
    }
    if (e->p.request_timeout > 0 && srv_now() - t->t_start > e->p.request_timeout) finish_task(e, t, "length", false);
}

/* ---- one step ---- */

static bool cancelled(srv_task *t) {
    pthread_mutex_lock(&t->req->mu);
    bool c = t->req->cancelled;
    pthread_mutex_unlock(&t->req->mu);
    return c;
}

static void add_row(srv_engine *e, int64_t *n, int32_t tok, int slot, bool want) {
    e->b_tok[*n] = tok;
    e->b_seq[*n] = slot;
    e->b_want[*n] = want;
    e->b_task[*n] = e->slots[slot].task;
    (*n)++;
}

/* Evaluates the n rows of the batch in one forward pass, each slot's rows in its task's phase
 * (decoding: the decode phase; reading its prompt: the prompt phase), and hands out their
 * logits. */
static bool eval_rows(srv_engine *e, int64_t n) {
    fr_error err;
    fr_status st = FR_OK;
    for (int s = 0; s < e->p.n_slots && st == FR_OK; s++) {
        const srv_task *t = e->slots[s].task;
        if (t) st = frugal_seq_set_phase(e->ctx, s, t->decoding ? FRUGAL_PHASE_DECODE : FRUGAL_PHASE_PROMPT, &err);
    }
    if (st == FR_OK) st = frugal_eval_seqs(e->ctx, e->b_tok, e->b_seq, n, e->b_want, e->logits, &err);
    if (st != FR_OK) {
        fprintf(stderr, "frugal serve: forward pass failed: %s\n", err.msg);
        return false;
    }
    for (int64_t i = 0; i < n; i++) { /* the cache now holds these rows */
        srv_slot *s = &e->slots[e->b_seq[i]];
        s->hist[s->n_hist++] = e->b_tok[i];
        if (!e->phase_matters || !e->b_task[i]->decoding) s->n_reuse = s->n_hist;
    }
    int64_t row = 0;
    for (int64_t i = 0; i < n; i++)
        if (e->b_want[i]) on_logits(e, e->b_task[i], e->logits + row++ * e->n_vocab);
    return true;
}

static void step(srv_engine *e) {
    int64_t n = 0;
    int64_t n_ctx = e->p.n_ctx;
    for (int s = 0; s < e->p.n_slots; s++) {
        srv_task *t = e->slots[s].task;
        if (!t) continue;
        if (cancelled(t)) {
            finish_task(e, t, "stop", true);
            continue;
        }
        if (t->decoding) {
            if (e->slots[s].n_hist >= n_ctx) {
                finish_task(e, t, "length", false);
                continue;
            }
            add_row(e, &n, t->last, s, true);
        }
    }
    int64_t n_decode = n;
    /* While others are generating, prompts advance in smaller chunks so that their tokens keep
     * flowing (the chunking does not change any result: the kernels are batch-invariant). */
    int64_t budget = n_decode > 0 ? MIN(e->n_batch, n_decode + 128) : e->n_batch;
    for (int k = 0; k < e->p.n_slots && n < budget; k++) {
        int s = (e->rr + k) % e->p.n_slots;
        srv_task *t = e->slots[s].task;
        if (!t || t->decoding) continue;
        srv_request *r = t->req;
        int64_t done = e->slots[s].n_hist, left = r->n_prompt - done;
        int64_t take = MIN(left, budget - n);
        for (int64_t i = 0; i < take; i++) add_row(e, &n, r->prompt[done + i], s, done + i == r->n_prompt - 1);
    }
    e->rr = (e->rr + 1) % e->p.n_slots;
    if (n == 0) return;
    double t0 = srv_now();
    bool ok = eval_rows(e, n);
    if (!ok) { /* should not happen (rows are checked before); end the affected choices */
        for (int64_t i = 0; i < n; i++) {
            srv_slot *s = &e->slots[e->b_seq[i]]; /* b_task[i] may have ended already */
            if (s->task && s->task == e->b_task[i]) fail_task(e, s->task, "the forward pass failed");
        }
    }
    double dt = srv_now() - t0;
    int64_t kv = 0;
    for (int s = 0; s < e->p.n_slots; s++) kv += e->slots[s].n_hist;
    pthread_mutex_lock(&e->mu);
    e->st.kv_used = kv;
    e->st.steps++;
    e->st.busy_seconds += dt;
    if (dt > 0) {
        double a = 0.2;
        if (n_decode) e->st.gen_tps = e->st.gen_tps ? (1 - a) * e->st.gen_tps + a * (double)n_decode / dt : (double)n_decode / dt;
        if (n > n_decode)
            e->st.prompt_tps = e->st.prompt_tps ? (1 - a) * e->st.prompt_tps + a * (double)(n - n_decode) / dt
                                                : (double)(n - n_decode) / dt;
    }
    pthread_mutex_unlock(&e->mu);
}

/* under e->mu */
static bool any_task(srv_engine *e) { return e->n_active > 0; }

static void *engine_main(void *arg) {
    srv_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        admit(e);
        if (!any_task(e)) {
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        step(e);
        if (e->p.step_delay_ms > 0) {
            struct timespec ts = {e->p.step_delay_ms / 1000, (long)(e->p.step_delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    for (int s = 0; s < e->p.n_slots; s++)
        if (e->slots[s].task) fail_task(e, e->slots[s].task, "the server is shutting down; the answer was cut short");
    return NULL;
}

/* ---- public ---- */

fr_status srv_engine_new(const frugal_model *m, const srv_engine_params *p, srv_engine **out, fr_error *err) {
    *out = NULL;
    srv_engine *e = calloc(1, sizeof *e);
    if (!e) return fail(err, FR_ERR_NOMEM, "serve: out of memory");
    e->m = m;
    e->p = *p;
    e->n_vocab = frugal_model_n_vocab(m);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    fr_status st;
    if (!(e->tok = frugal_model_tokenizer(m, err))) {
        st = err->code;
        goto out_fail;
    }
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = p->n_ctx;
    cp.n_seq = p->n_slots;
    cp.n_threads = p->n_threads;
    cp.kv_type = p->kv_type;
    if ((st = frugal_context_new(m, &cp, &e->ctx, err)) != FR_OK) goto out_fail;
    e->phase_matters = frugal_context_phase_matters(e->ctx);
    frugal_model_info mi;
    frugal_model_get_info(m, &mi);
    for (int i = 0; i < mi.n_eog && i < 16; i++)
        if (mi.eog[i] >= 0 && mi.eog[i] < e->n_vocab) e->eog[e->n_eog++] = mi.eog[i];
    e->n_batch = MIN(512, p->n_ctx);
    size_t nb = (size_t)e->n_batch;
    e->queue = calloc((size_t)p->queue_max, sizeof *e->queue);
    e->slots = calloc((size_t)p->n_slots, sizeof *e->slots);
    e->b_tok = calloc(nb, sizeof(int32_t));
    e->b_seq = calloc(nb, sizeof(int32_t));
    e->b_want = calloc(nb, 1);
    e->b_task = calloc(nb, sizeof(srv_task *));
    size_t lg = 0;
    if (__builtin_mul_overflow((size_t)p->n_slots, (size_t)e->n_vocab, &lg) || lg > SIZE_MAX / sizeof(float)) lg = 0;
    e->logits = malloc(lg * sizeof(float));
    bool ok = lg && e->queue && e->slots && e->b_tok && e->b_seq && e->b_want && e->b_task && e->logits;
    for (int s = 0; ok && s < p->n_slots; s++) ok = (e->slots[s].hist = malloc(sizeof(int32_t) * (size_t)p->n_ctx)) != NULL;
    if (!ok) {
        st = fail(err, FR_ERR_NOMEM, "serve: cannot allocate the scheduler's buffers");
        goto out_fail;
    }
    e->st.slots_total = p->n_slots;
    e->st.kv_capacity = p->n_ctx * p->n_slots;
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        st = fail(err, FR_ERR_NOMEM, "serve: cannot start the engine thread");
        goto out_fail;
    }
    e->thread_started = true;
    *out = e;
    return FR_OK;
out_fail:
    srv_engine_free(e);
    return st;
}

void srv_engine_stop(srv_engine *e) {
    if (!e || !e->thread_started) return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL); /* running choices end with finish_reason "stop" */
    e->thread_started = false;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->q_len; i++) { /* queued requests are told the server is going away */
        srv_request *r = e->queue[(e->q_head + i) % e->p.queue_max];
        pthread_mutex_lock(&r->mu);
        r->state = SRV_TIMED_OUT;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        srv_request_release(r);
    }
    e->q_len = 0;
    pthread_mutex_unlock(&e->mu);
}

void srv_engine_free(srv_engine *e) {
    if (!e) return;
    srv_engine_stop(e);
    for (int s = 0; e->slots && s < e->p.n_slots; s++) free(e->slots[s].hist);
    free(e->slots);
    free(e->queue);
    free(e->b_tok);
    free(e->b_seq);
    free(e->b_want);
    free(e->b_task);
    free(e->logits);
    free(e->pieces);
    free(e->piece_off);
    free(e->raw);
    free(e->by_first);
    free(e->plain);
    frugal_context_free(e->ctx);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

bool srv_engine_submit(srv_engine *e, srv_request *r) {
    pthread_mutex_lock(&e->mu);
    bool ok = !e->draining && !e->stop && e->q_len < e->p.queue_max;
    if (ok) {
        pthread_mutex_lock(&r->mu);
        r->refs++;
        r->state = SRV_QUEUED;
        r->t_enqueued = srv_now();
        pthread_mutex_unlock(&r->mu);
        e->queue[(e->q_head + e->q_len) % e->p.queue_max] = r;
        e->q_len++;
        pthread_cond_broadcast(&e->cv);
    } else {
        e->st.requests_rejected++;
    }
    pthread_mutex_unlock(&e->mu);
    return ok;
}

bool srv_engine_withdraw(srv_engine *e, srv_request *r, bool client_gone) {
    bool found = false;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->q_len; i++) {
        int at = (e->q_head + i) % e->p.queue_max;
        if (e->queue[at] != r) continue;
        for (int j = i; j + 1 < e->q_len; j++)
            e->queue[(e->q_head + j) % e->p.queue_max] = e->queue[(e->q_head + j + 1) % e->p.queue_max];
        e->q_len--;
        found = true;
        if (client_gone)
            e->st.requests_cancelled++;
        else
            e->st.requests_rejected++;
        break;
    }
    pthread_mutex_unlock(&e->mu);
    if (found) srv_request_release(r);
    return found;
}

void srv_engine_drain(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    e->draining = true;
    pthread_mutex_unlock(&e->mu);
}

bool srv_engine_idle(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    bool idle = e->q_len == 0 && !any_task(e);
    pthread_mutex_unlock(&e->mu);
    return idle;
}

int64_t srv_engine_n_ctx(const srv_engine *e) { return e->p.n_ctx; }
int srv_engine_n_slots(const srv_engine *e) { return e->p.n_slots; }

void srv_engine_stats(srv_engine *e, srv_stats *s) {
    pthread_mutex_lock(&e->mu);
    *s = e->st;
    s->queue_depth = e->q_len;
    s->slots_busy = e->n_active;
    pthread_mutex_unlock(&e->mu);
}

void srv_engine_count_request(srv_engine *e, int http_status) {
    pthread_mutex_lock(&e->mu);
    if (http_status < 400)
        e->st.requests_ok++;
    else
        e->st.requests_failed++;
    pthread_mutex_unlock(&e->mu);
}

/* http.c: the HTTP side of `frugal serve` on GNU libmicrohttpd (one thread per connection).
 *
 * A connection thread reads and checks the request (size limits, API key, JSON depth,
 * fields), queues it and then waits for it. It notices a client that went away by peeking at
 * the socket while it waits, and marks the request cancelled: the engine frees its slot at
 * the next step. Streaming answers are server-sent events from a callback response. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve.h"

extern const unsigned char frugal_webui_html[];
extern const size_t frugal_webui_html_len;

struct srv_http {
    struct MHD_Daemon *d;
    srv_http_params p;
    char *api_key;
    char *cors;
    pthread_mutex_t mu;
    srv_model_ctx *mc; /* NULL until the model is loaded */
    srv_engine *e;
    bool draining;
    int inflight; /* requests begun and not yet completed (their answer fully sent or dropped) */
};

typedef struct conn_state {
    char *body;
    size_t len, cap;
    bool too_large;
    bool started;
} conn_state;

/* ---- responses ---- */

static enum MHD_Result respond(srv_http *h, struct MHD_Connection *c, unsigned status, const char *type, char *body,
                               size_t len, bool must_free) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (must_free) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (h->cors) MHD_add_response_header(r, "Access-Control-Allow-Origin", h->cors);
    if (status == 503 || status == 429) MHD_add_response_header(r, "Retry-After", "1");
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    pthread_mutex_lock(&h->mu);
    srv_engine *e = h->e;
    pthread_mutex_unlock(&h->mu);
    if (e) srv_engine_count_request(e, (int)status);
    return ret;
}

static enum MHD_Result respond_json(srv_http *h, struct MHD_Connection *c, unsigned status, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return MHD_NO;
    return respond(h, c, status, "application/json", s, strlen(s), true);
}

static enum MHD_Result respond_error(srv_http *h, struct MHD_Connection *c, int status, const char *type,
                                     const char *param, const char *fmt, ...) {
    srv_error e = {status, type, param, {0}};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    char *s = oai_error_json(&e);
    if (!s) return MHD_NO;
    return respond(h, c, (unsigned)status, "application/json", s, strlen(s), true);
}

static enum MHD_Result respond_srv_error(srv_http *h, struct MHD_Connection *c, const srv_error *e) {
    char *s = oai_error_json(e);
    if (!s) return MHD_NO;
    return respond(h, c, (unsigned)e->status, "application/json", s, strlen(s), true);
}

/* ---- checks ---- */

static bool authorized(srv_http *h, struct MHD_Connection *c) {
    if (!h->api_key) return true;
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncmp(a, "Bearer ", 7) != 0) return false;
    a += 7;
    size_t n = strlen(a), k = strlen(h->api_key);
    unsigned char diff = n != k;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(a[i] ^ h->api_key[i % (k ? k : 1)]);
    return diff == 0;
}

/* Parses the body as a JSON object, or answers 400 and returns NULL. */
static json_t *parse_body(srv_http *h, struct MHD_Connection *c, conn_state *cs, enum MHD_Result *ret) {
    if (frugal_json_depth(cs->body ? cs->body : "", cs->len) > h->p.lim.json_depth) {
        *ret = respond_error(h, c, 400, "invalid_request_error", NULL, "the JSON body nests deeper than %d levels",
                             h->p.lim.json_depth);
        return NULL;
    }
    json_error_t je;
    json_t *o = json_loadb(cs->body ? cs->body : "", cs->len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        *ret = respond_error(h, c, 400, "invalid_request_error", NULL, "the body is not valid JSON: %s (line %d, column %d)",
                             je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        *ret = respond_error(h, c, 400, "invalid_request_error", NULL, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

/* True when the peer has closed its end of the connection. */
static bool client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    char b;
    ssize_t k = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (k == 0) return true;
    return k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

static void deadline_in(struct timespec *ts, double seconds) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    long ns = ts->tv_nsec + (long)(seconds * 1e9);
    ts->tv_sec += ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
}

static void cancel(srv_request *r) {
    pthread_mutex_lock(&r->mu);
    r->cancelled = true;
    pthread_mutex_unlock(&r->mu);
}

/* ---- streaming ---- */

typedef struct stream_state {
    srv_http *h;
    srv_model_ctx *mc;
    srv_request *r;
    struct MHD_Connection *c;
    char *out; /* bytes not yet handed to libmicrohttpd */
    size_t len, off, cap;
    bool roles_sent, finished, failed;
} stream_state;

static void ss_add(stream_state *s, char *chunk, size_t n) {
    if (!chunk) return;
    if (s->len + n > s->cap) {
        size_t cap = (s->len + n) * 2 + 256;
        char *q = realloc(s->out, cap);
        if (!q) {
            free(chunk);
            return;
        }
        s->out = q;
        s->cap = cap;
    }
    memcpy(s->out + s->len, chunk, n);
    s->len += n;
    free(chunk);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    stream_state *s = cls;
    srv_request *r = s->r;
    while (s->off == s->len) {
        s->off = s->len = 0;
        if (s->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        size_t n;
        if (!s->roles_sent) {
            s->roles_sent = true;
            if (r->kind == SRV_CHAT)
                for (int c = 0; c < r->p.n; c++) {
                    char *chunk = oai_stream_role(s->mc, r, c, &n);
                    ss_add(s, chunk, n);
                }
            continue;
        }
        pthread_mutex_lock(&r->mu);
        srv_event *ev = srv_request_take_events(r);
        bool done = r->state == SRV_DONE;
        if (!ev && !done) {
            struct timespec ts;
            deadline_in(&ts, 0.05);
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
            ev = srv_request_take_events(r);
            done = r->state == SRV_DONE;
        }
        pthread_mutex_unlock(&r->mu);
        for (srv_event *e = ev; e; e = e->next) {
            if (s->failed) continue; /* one error ends the stream */
            char *chunk = e->kind == SRV_EV_ERROR ? oai_stream_error(e, &n) : oai_stream_chunk(s->mc, r, e, &n);
            ss_add(s, chunk, n);
            s->failed |= e->kind == SRV_EV_ERROR;
        }
        srv_event_free_list(ev);
        if (s->failed && done) { /* the error event, then the end of the stream */
            s->finished = true;
        } else if (done && !ev) {
            if (r->p.include_usage) {
                char *chunk = oai_stream_usage(s->mc, r, &n);
                ss_add(s, chunk, n);
            }
            ss_add(s, strdup("data: [DONE]\n\n"), 14);
            s->finished = true;
        }
        if (s->off == s->len && client_gone(s->c)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t k = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->out + s->off, k);
    s->off += k;
    (void)pos;
    return (ssize_t)k;
}

static void stream_free(void *cls) {
    stream_state *s = cls;
    if (!s->finished) cancel(s->r); /* the client went away mid-answer: free the slot */
    srv_request_release(s->r);
    free(s->out);
    free(s);
}

/* ---- endpoints ---- */

static enum MHD_Result generation(srv_http *h, struct MHD_Connection *c, conn_state *cs, srv_kind kind) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = parse_body(h, c, cs, &ret);
    if (!body) return ret;
    srv_error err = {400, "invalid_request_error", NULL, {0}};
    srv_request *r = oai_parse_generation(h->mc, kind, body, &err);
    json_decref(body);
    if (!r) return respond_srv_error(h, c, &err);
    if (!srv_engine_submit(h->e, r)) {
        srv_request_release(r);
        return respond_error(h, c, 503, "server_error", NULL, "the server is busy (%d requests queued) or shutting down; retry later",
                             h->p.lim.queue);
    }
    /* wait for a slot */
    double t_limit = srv_now() + h->p.lim.queue_timeout;
    pthread_mutex_lock(&r->mu);
    while (r->state == SRV_QUEUED) {
        struct timespec ts;
        deadline_in(&ts, 0.05);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->state != SRV_QUEUED) break;
        pthread_mutex_unlock(&r->mu);
        bool gone = client_gone(c), late = srv_now() > t_limit;
        if ((gone || late) && srv_engine_withdraw(h->e, r, gone)) {
            srv_request_release(r);
            if (gone) return MHD_NO;
            return respond_error(h, c, 503, "server_error", NULL, "no slot became free within %d s; retry later",
                                 h->p.lim.queue_timeout);
        }
        pthread_mutex_lock(&r->mu);
    }
    bool timed_out = r->state == SRV_TIMED_OUT;
    pthread_mutex_unlock(&r->mu);
    if (timed_out) {
        srv_request_release(r);
        return respond_error(h, c, 503, "server_error", NULL, "the server is shutting down");
    }
    if (r->p.stream) {
        stream_state *s = calloc(1, sizeof *s);
        if (!s) {
            cancel(r);
            srv_request_release(r);
            return MHD_NO;
        }
        s->h = h;
        s->mc = h->mc;
        s->r = r;
        s->c = c;
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, s, stream_free);
        if (!resp) {
            stream_free(s);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        if (h->cors) MHD_add_response_header(resp, "Access-Control-Allow-Origin", h->cors);
        ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        srv_engine_count_request(h->e, 200);
        return ret;
    }
    /* not streaming: wait for every choice, watching for the client leaving */
    pthread_mutex_lock(&r->mu);
    while (r->state != SRV_DONE) {
        struct timespec ts;
        deadline_in(&ts, 0.05);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->state == SRV_DONE) break;
        pthread_mutex_unlock(&r->mu);
        bool gone = client_gone(c);
        pthread_mutex_lock(&r->mu);
        if (gone) {
            r->cancelled = true;
            pthread_mutex_unlock(&r->mu);
            srv_request_release(r);
            return MHD_NO;
        }
    }
    srv_event *ev = srv_request_take_events(r);
    pthread_mutex_unlock(&r->mu);
    for (srv_event *x = ev; x; x = x->next) {
        if (x->kind != SRV_EV_ERROR) continue;
        bool shutting_down = strstr(x->text, "shutting down") != NULL;
        enum MHD_Result res = respond_error(h, c, shutting_down ? 503 : 500, "server_error", NULL, "%s", x->text);
        srv_event_free_list(ev);
        srv_request_release(r);
        return res;
    }
    char *s = oai_final_json(h->mc, r, ev);
    srv_event_free_list(ev);
    srv_request_release(r);
    if (!s) return MHD_NO;
    return respond(h, c, 200, "application/json", s, strlen(s), true);
}

static enum MHD_Result tokenize(srv_http *h, struct MHD_Connection *c, conn_state *cs) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = parse_body(h, c, cs, &ret);
    if (!body) return ret;
    json_t *content = json_object_get(body, "content"), *as = json_object_get(body, "add_special"),
           *ps = json_object_get(body, "parse_special");
    if (!json_is_string(content)) {
        json_decref(body);
        return respond_error(h, c, 400, "invalid_request_error", "content", "content: expected a string");
    }
    if ((as && !json_is_boolean(as)) || (ps && !json_is_boolean(ps))) {
        json_decref(body);
        return respond_error(h, c, 400, "invalid_request_error", as && !json_is_boolean(as) ? "add_special" : "parse_special",
                             "add_special and parse_special: expected true or false");
    }
    fr_error err;
    const char *text = json_string_value(content);
    size_t len = json_string_length(content);
    bool add = json_is_true(as), parse = ps ? json_is_true(ps) : true;
    int64_t n = frugal_tokenizer_encode(h->mc->tok, text, len, add, parse, NULL, 0, &err);
    int32_t *ids = n >= 0 ? malloc(sizeof(int32_t) * (size_t)(n + 1)) : NULL;
    if (ids) n = frugal_tokenizer_encode(h->mc->tok, text, len, add, parse, ids, n + 1, &err);
    json_decref(body);
    if (!ids || n < 0) {
        free(ids);
        return respond_error(h, c, 400, "invalid_request_error", "content", "tokenizing failed: %s", n < 0 ? err.msg : "out of memory");
    }
    json_t *arr = json_array();
    for (int64_t i = 0; i < n; i++) json_array_append_new(arr, json_integer(ids[i]));
    free(ids);
    return respond_json(h, c, 200, json_pack("{s:o}", "tokens", arr));
}

static enum MHD_Result detokenize(srv_http *h, struct MHD_Connection *c, conn_state *cs) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = parse_body(h, c, cs, &ret);
    if (!body) return ret;
    json_t *toks = json_object_get(body, "tokens");
    if (!json_is_array(toks)) {
        json_decref(body);
        return respond_error(h, c, 400, "invalid_request_error", "tokens", "tokens: expected an array of token ids");
    }
    size_t n = json_array_size(toks), i;
    int64_t V = frugal_model_n_vocab(h->mc->m);
    int32_t *ids = malloc(sizeof(int32_t) * (n + 1));
    json_t *v;
    json_array_foreach(toks, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= V) {
            free(ids);
            json_decref(body);
            return respond_error(h, c, 400, "invalid_request_error", "tokens", "tokens[%zu]: expected a token id in 0..%lld", i,
                                 (long long)V - 1);
        }
        ids[i] = (int32_t)json_integer_value(v);
    }
    json_decref(body);
    fr_error err;
    int64_t k = frugal_tokenizer_decode(h->mc->tok, ids, (int64_t)n, false, NULL, 0, &err);
    char *out = k >= 0 ? malloc((size_t)k + 1) : NULL;
    if (out) k = frugal_tokenizer_decode(h->mc->tok, ids, (int64_t)n, false, out, (size_t)k + 1, &err);
    free(ids);
    if (!out || k < 0) {
        free(out);
        return respond_error(h, c, 400, "invalid_request_error", "tokens", "decoding failed: %s", k < 0 ? err.msg : "out of memory");
    }
    size_t vl = 0;
    char *valid = srv_utf8_valid_copy(out, (size_t)k, &vl);
    free(out);
    json_t *o = json_pack("{s:s%}", "content", valid ? valid : "", valid ? vl : (size_t)0);
    free(valid);
    return respond_json(h, c, 200, o);
}

static enum MHD_Result models(srv_http *h, struct MHD_Connection *c) {
    frugal_model_info mi;
    frugal_model_get_info(h->mc->m, &mi);
    json_t *meta = json_pack("{s:s, s:I, s:I, s:I, s:I, s:i}", "arch", mi.arch, "n_params", (json_int_t)mi.n_params,
                             "n_ctx_train", (json_int_t)mi.n_ctx_train, "n_vocab", (json_int_t)mi.n_vocab, "n_ctx",
                             (json_int_t)h->mc->n_ctx, "n_slots", h->mc->n_slots);
    json_t *m = json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", h->mc->model_id, "object", "model", "created", (json_int_t)0,
                          "owned_by", "frugal", "meta", meta);
    return respond_json(h, c, 200, json_pack("{s:s, s:[o]}", "object", "list", "data", m));
}

static enum MHD_Result route(srv_http *h, struct MHD_Connection *c, const char *url, const char *method, conn_state *cs) {
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(method, "OPTIONS") && h->cors) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Access-Control-Allow-Origin", h->cors);
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
        enum MHD_Result ret = MHD_queue_response(c, 204, r);
        MHD_destroy_response(r);
        return ret;
    }
    pthread_mutex_lock(&h->mu);
    bool ready = h->mc != NULL, draining = h->draining;
    pthread_mutex_unlock(&h->mu);
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        if (!get) return respond_error(h, c, 405, "invalid_request_error", NULL, "%s: use GET", url);
        return respond(h, c, 200, "text/html; charset=utf-8", (char *)frugal_webui_html, frugal_webui_html_len, false);
    }
    if (!strcmp(url, "/health")) {
        if (!ready) return respond_json(h, c, 503, json_pack("{s:s}", "status", "loading model"));
        if (draining) return respond_json(h, c, 503, json_pack("{s:s}", "status", "shutting down"));
        return respond_json(h, c, 200, json_pack("{s:s}", "status", "ok"));
    }
    static const char *const known[] = {"/v1/models", "/models", "/v1/chat/completions", "/chat/completions",
                                        "/v1/completions", "/completions", "/tokenize", "/detokenize", "/metrics"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) is_known |= !strcmp(url, known[i]);
    if (!is_known) return respond_error(h, c, 404, "invalid_request_error", NULL, "%s: no such endpoint", url);
    if (!authorized(h, c))
        return respond_error(h, c, 401, "authentication_error", NULL, "missing or wrong API key (Authorization: Bearer KEY)");
    if (!ready) return respond_error(h, c, 503, "server_error", NULL, "the model is still loading");
    if (cs->too_large)
        return respond_error(h, c, 413, "invalid_request_error", NULL, "the request body is larger than %lld bytes",
                             (long long)h->p.lim.max_body);
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models")) {
        if (!get) return respond_error(h, c, 405, "invalid_request_error", NULL, "%s: use GET", url);
        return models(h, c);
    }
    if (!strcmp(url, "/metrics")) {
        if (!get) return respond_error(h, c, 405, "invalid_request_error", NULL, "%s: use GET", url);
        char *t = srv_metrics_text(h->e, h->mc);
        return t ? respond(h, c, 200, "text/plain; version=0.0.4", t, strlen(t), true) : MHD_NO;
    }
    if (!post) return respond_error(h, c, 405, "invalid_request_error", NULL, "%s: use POST", url);
    if (!strcmp(url, "/tokenize")) return tokenize(h, c, cs);
    if (!strcmp(url, "/detokenize")) return detokenize(h, c, cs);
    if (draining) return respond_error(h, c, 503, "server_error", NULL, "the server is shutting down");
    return generation(h, c, cs, strstr(url, "chat/") ? SRV_CHAT : SRV_COMPLETION);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    srv_http *h = cls;
    conn_state *cs = *con_cls;
    (void)version;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs) return MHD_NO;
        *con_cls = cs;
        pthread_mutex_lock(&h->mu);
        h->inflight++;
        pthread_mutex_unlock(&h->mu);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || *end || v > (unsigned long long)h->p.lim.max_body) cs->too_large = true;
        }
        if (cs->too_large) /* answer before reading the body */
            return respond_error(h, c, 413, "invalid_request_error", NULL, "the request body is larger than %lld bytes",
                                 (long long)h->p.lim.max_body);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (cs->too_large || cs->len + n > (size_t)h->p.lim.max_body) {
            cs->too_large = true;
            return MHD_YES;
        }
        if (cs->len + n + 1 > cs->cap) {
            size_t cap = (cs->len + n + 1) * 2;
            if (cap > (size_t)h->p.lim.max_body + 1) cap = (size_t)h->p.lim.max_body + 1;
            char *q = realloc(cs->body, cap);
            if (!q) return MHD_NO;
            cs->body = q;
            cs->cap = cap;
        }
        memcpy(cs->body + cs->len, upload, n);
        cs->len += n;
        return MHD_YES;
    }
    if (cs->started) return MHD_YES;
    cs->started = true;
    return route(h, c, url, method, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    conn_state *cs = *con_cls;
    srv_http *h = cls;
    (void)c;
    (void)toe;
    if (!cs) return;
    pthread_mutex_lock(&h->mu);
    h->inflight--;
    pthread_mutex_unlock(&h->mu);
    free(cs->body);
    free(cs);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    if (getenv("FRUGAL_SERVE_DEBUG")) vfprintf(stderr, fmt, ap);
}

fr_status srv_http_start(const srv_http_params *p, srv_http **out, int *bound_port, fr_error *err) {
    *out = NULL;
    srv_http *h = calloc(1, sizeof *h);
    if (!h) goto nomem;
    h->p = *p;
    pthread_mutex_init(&h->mu, NULL);
    if (p->api_key && !(h->api_key = strdup(p->api_key))) goto nomem;
    if (p->cors && !(h->cors = strdup(p->cors))) goto nomem;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    int gai = getaddrinfo(p->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        err->code = FR_ERR_ARG;
        snprintf(err->msg, sizeof err->msg, "--host %s: %s", p->host, gai_strerror(gai));
        srv_http_stop(h);
        return FR_ERR_ARG;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, (uint16_t)p->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)p->lim.max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)p->lim.read_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)p->lim.max_header,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        err->code = FR_ERR_IO;
        snprintf(err->msg, sizeof err->msg, "cannot listen on %s:%d (address in use, or not allowed)", p->host, p->port);
        srv_http_stop(h);
        return FR_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = di ? di->port : p->port;
    *out = h;
    return FR_OK;
nomem:
    if (h) srv_http_stop(h);
    err->code = FR_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "serve: out of memory");
    return FR_ERR_NOMEM;
}

void srv_http_set_ready(srv_http *h, srv_model_ctx *mc, srv_engine *e) {
    pthread_mutex_lock(&h->mu);
    h->mc = mc;
    h->e = e;
    pthread_mutex_unlock(&h->mu);
}

void srv_http_set_draining(srv_http *h) {
    pthread_mutex_lock(&h->mu);
    h->draining = true;
    pthread_mutex_unlock(&h->mu);
}

void srv_http_wait_idle(srv_http *h, double seconds) {
    double until = srv_now() + seconds;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        int n = h->inflight;
        pthread_mutex_unlock(&h->mu);
        if (n <= 0 || srv_now() > until) return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void srv_http_stop(srv_http *h) {
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->mu);
    free(h->api_key);
    free(h->cors);
    free(h);
}

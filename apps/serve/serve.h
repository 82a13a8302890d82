/* serve.h: `frugal serve`, an OpenAI-compatible HTTP server with continuous batching.
 *
 *   serve_main.c  flags, start-up (HTTP first, so /health says 503 while the model loads),
 *                 signals (SIGTERM/SIGINT drain in-flight requests up to a deadline)
 *   http.c        GNU libmicrohttpd: routing, limits (body, headers, JSON depth, timeouts),
 *                 API key, CORS, streaming (server-sent events), client disconnects
 *   oai.c         OpenAI request parsing/validation (jansson) and response JSON
 *   engine.c      the scheduler: a bounded queue, one KV-cache slot per running choice, one
 *                 batched forward pass per step for every running choice, a prefix cache
 *   metrics.c     Prometheus text
 *
 * Threads: libmicrohttpd runs one thread per connection; those threads only parse, validate,
 * enqueue and then wait on their request. One engine thread owns the model context and does
 * all the computing. They meet in srv_request (mutex + condition variable + an event list). */
#ifndef FRUGAL_SERVE_H
#define FRUGAL_SERVE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "frugal.h"

#define SRV_MAX_STOPS 4
#define SRV_MAX_STOP_LEN 256
#define SRV_MAX_N 8
#define SRV_MAX_TOP_LOGPROBS 20

typedef struct srv_limits {
    int64_t max_body;        /* bytes of a request body (413 above) */
    int64_t max_header;      /* bytes of the request line + headers (libmicrohttpd's buffer) */
    int json_depth;          /* nesting of a request's JSON */
    int queue;               /* waiting requests (503 + Retry-After above) */
    int max_conn;            /* open connections */
    int read_timeout;        /* seconds a connection may idle while sending its request */
    int queue_timeout;       /* seconds a request may wait for a slot (then 503) */
    int request_timeout;     /* seconds of generation per request (then finish_reason "length") */
    int drain_timeout;       /* seconds SIGTERM waits for in-flight requests */
} srv_limits;

/* ---- one generation request (chat or completion, n choices) ---- */
typedef enum srv_kind { SRV_CHAT = 0, SRV_COMPLETION = 1 } srv_kind;

typedef struct srv_gen_params {
    frugal_sampler_params sp;
    int64_t max_tokens; /* -1: until the context is full */
    int n;              /* choices */
    int n_stop;
    char *stop[SRV_MAX_STOPS];
    bool stream, include_usage;
    bool logprobs;
    int top_logprobs;
    bool ignore_eos;  /* llama.cpp extension: end-of-generation tokens are never sampled */
    /* response_format json_object or json_schema: the output is one JSON value that this
     * compiled schema allows (json_guard.c); NULL: any text. Owned (freed with the request). */
    struct js_schema *schema;
} srv_gen_params;

/* A choice ends with exactly one FINISH (finish_reason) or one ERROR (text: the message;
 * the answer was cut short: the forward pass failed or the server is shutting down). */
typedef enum srv_event_kind { SRV_EV_CONTENT, SRV_EV_REASONING, SRV_EV_FINISH, SRV_EV_ERROR } srv_event_kind;

typedef struct srv_event {
    struct srv_event *next;
    int choice;
    srv_event_kind kind;
    const char *finish; /* SRV_EV_FINISH: "stop" or "length" */
    json_t *logprobs;   /* or NULL: entries of the tokens behind this text (chat format) */
    size_t len;
    char text[];        /* len bytes + NUL */
} srv_event;

typedef enum srv_state { SRV_QUEUED, SRV_RUNNING, SRV_DONE, SRV_TIMED_OUT } srv_state;

typedef struct srv_request {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* the HTTP thread and the engine */
    srv_kind kind;
    srv_gen_params p;
    int32_t *prompt;
    int64_t n_prompt;
    bool opens_reasoning; /* the prompt ends inside <think> */
    char id[48];
    int64_t created;
    /* guarded by mu */
    srv_state state;
    bool cancelled; /* the client went away */
    srv_event *head, *tail;
    int n_finished;
    int64_t n_generated, n_cached;
    double t_enqueued, t_started, t_first_token, t_done;
} srv_request;

srv_request *srv_request_new(srv_kind kind);
void srv_request_release(srv_request *r); /* drops one reference; frees at zero */
/* Pops the whole event list (caller frees each with free(), json_decref(logprobs)). */
srv_event *srv_request_take_events(srv_request *r);
void srv_event_free_list(srv_event *e);

/* ---- the engine ---- */
typedef struct srv_engine srv_engine;

typedef struct srv_engine_params {
    int n_slots;
    int64_t n_ctx; /* per slot */
    int n_threads;
    int kv_type;
    int queue_max;
    int request_timeout;
    int step_delay_ms; /* testing: sleep after each step, so queueing is observable */
} srv_engine_params;

fr_status srv_engine_new(const frugal_model *m, const srv_engine_params *p, srv_engine **out, fr_error *err);
/* Stops the engine thread: running choices end, queued requests are told the server is going
 * away. Submitting fails afterwards; the other calls stay valid until srv_engine_free. */
void srv_engine_stop(srv_engine *e);
void srv_engine_free(srv_engine *e); /* stops it first if needed */
/* Queues a request (the engine takes its own reference). false: the queue is full or the
 * engine is draining. */
bool srv_engine_submit(srv_engine *e, srv_request *r);
/* Takes a still-queued request out of the queue (its client went away, or the queue timeout
 * passed: counted as cancelled or rejected). true if it was queued. */
bool srv_engine_withdraw(srv_engine *e, srv_request *r, bool client_gone);
/* Stop admitting; true once nothing is queued or running (call repeatedly while draining). */
void srv_engine_drain(srv_engine *e);
bool srv_engine_idle(srv_engine *e);
int64_t srv_engine_n_ctx(const srv_engine *e);
int srv_engine_n_slots(const srv_engine *e);

typedef struct srv_stats {
    int64_t requests_ok, requests_failed, requests_rejected, requests_cancelled;
    int64_t prompt_tokens, cached_tokens, generated_tokens;
    int queue_depth, slots_busy, slots_total;
    int64_t kv_used, kv_capacity; /* positions */
    double gen_tps, prompt_tps;   /* over the last completed steps (decaying average) */
    double busy_seconds;
    int64_t steps;
} srv_stats;
void srv_engine_stats(srv_engine *e, srv_stats *s);
void srv_engine_count_request(srv_engine *e, int http_status);

/* ---- OpenAI JSON ---- */
typedef struct srv_model_ctx {
    const frugal_model *m;
    const frugal_tokenizer *tok;
    char *tmpl;      /* chat template source, or NULL: the built-in format */
    char *tmpl_vars; /* its special-token variables */
    const char *model_id;
    int64_t n_ctx;
    int n_slots;
} srv_model_ctx;

/* An OpenAI-style error: status, message, param (may be NULL). */
typedef struct srv_error {
    int status;
    const char *type; /* invalid_request_error, authentication_error, server_error, ... */
    const char *param;
    char msg[320];
} srv_error;

/* Parses and validates a /v1/chat/completions or /v1/completions body into a new request
 * (prompt rendered and tokenized). NULL with *e set on bad input. */
srv_request *oai_parse_generation(const srv_model_ctx *mc, srv_kind kind, json_t *body, srv_error *e);
/* JSON text of an error object; malloc'd. */
char *oai_error_json(const srv_error *e);
/* The final response of a non-streaming request from its events. malloc'd. */
char *oai_final_json(const srv_model_ctx *mc, srv_request *r, srv_event *events);
/* One SSE chunk ("data: {...}\n\n") for an event; malloc'd, *len set. */
char *oai_stream_chunk(const srv_model_ctx *mc, srv_request *r, const srv_event *ev, size_t *len);
/* The first chunk of a chat stream for a choice: the assistant role. malloc'd. */
char *oai_stream_role(const srv_model_ctx *mc, srv_request *r, int choice, size_t *len);
/* An error event of a stream: data: {"error": {...}}. malloc'd. */
char *oai_stream_error(const srv_event *ev, size_t *len);
/* The usage chunk of a stream (include_usage); malloc'd. */
char *oai_stream_usage(const srv_model_ctx *mc, srv_request *r, size_t *len);
json_t *oai_usage(srv_request *r);
/* llama.cpp-style "timings" (prompt_n, prompt_ms, predicted_n, predicted_ms, ..._per_second) */
json_t *oai_timings(srv_request *r);

/* ---- structured output: response_format json_object and json_schema ----
 * json_guard.c: a compiled schema (js_schema) and a byte-level recogniser of the prefixes of
 * JSON texts that it allows (json_guard), whose state is copied per candidate token.
 * json_schema.c: JSON Schema (a subset) -> js_schema. */

/* Structural types of a node; booleans and null are literals (js_node.lit). */
enum { JS_OBJECT = 1, JS_ARRAY = 2, JS_STRING = 4, JS_NUMBER = 8, JS_INTEGER = 16 };
enum { JS_MAX_CHOICES = 64 };   /* properties of one object, literals of one node */
enum { JS_MAX_NESTING = 64 };   /* objects and arrays inside each other */
typedef struct js_prop {
    const char *name; /* plain bytes: no '"', '\\' or control characters */
    size_t len;
    int32_t node;
} js_prop;
typedef struct js_node {
    uint8_t types;              /* JS_* values of any form allowed */
    int32_t obj, arr, str;      /* the nodes whose constraints an object, array or string value
                                 * follows: this one, or (anyOf) the alternative that allows it */
    int32_t n_lit;              /* literal values: compact JSON texts (enum, const, true, false, null);
                                 * true/false/null point at shared static texts */
    const char *const *lit;
    const size_t *lit_len;
    int32_t n_props;            /* object: declared properties */
    const js_prop *props;
    uint64_t required;          /* bit i: props[i] must be given */
    int32_t additional;         /* node of the values of other keys; -1: none allowed */
    int32_t items;              /* array: node of the items */
    int64_t min_items, max_items;
    int64_t min_len, max_len;   /* string: characters (a \\ escape counts as one) */
} js_node;
typedef struct js_schema {
    js_node *nodes;
    int32_t n_nodes, cap_nodes;
    int32_t root;
    void *arena; /* every other allocation, freed with the schema */
} js_schema;
/* An empty schema: node 0 is "any JSON value". NULL if out of memory. */
js_schema *js_schema_new(void);
void js_schema_free(js_schema *s);
/* A new node allowing `types` and the literals true/false (bools) and null (null); -1 if out of memory. */
int32_t js_node_new(js_schema *s, uint8_t types, bool bools, bool null);
void *js_alloc(js_schema *s, size_t n); /* zeroed, owned by s; NULL if out of memory */
/* response_format json_object: one JSON object, any keys and values. NULL if out of memory. */
js_schema *js_schema_json_object(void);
/* json_schema.c: compile a JSON Schema; NULL with a message naming the keyword and its place
 * ("unsupported keyword 'pattern' at /properties/name") on anything it cannot enforce. */
js_schema *js_schema_compile(const json_t *schema, char *msg, size_t msg_len);

typedef struct jg_frame {
    uint64_t seen; /* object: the properties given */
    uint64_t cand; /* literal, key: the choices still matching */
    int32_t node;
    int32_t prop;  /* object: the property whose value comes next (-1: another key) */
    uint32_t count; /* array: items begun; string: characters */
    uint16_t idx;   /* literal, key: bytes matched */
    uint8_t kind, state, sub;
    uint8_t utf8;   /* string: the UTF-8 continuation bytes still due (json_guard.c utf8_byte) */
} jg_frame;
typedef struct json_guard {
    const js_schema *s;
    int depth; /* frames in use; 0: the value is complete */
    int ws;    /* whitespace bytes in a row (capped) */
    jg_frame f[JS_MAX_NESTING + 1];
} json_guard;
void json_guard_init(json_guard *g, const js_schema *s);
void json_guard_copy(json_guard *dst, const json_guard *src); /* the frames in use only */
/* false: c cannot continue the prefix; the guard is then spent (try bytes on a copy) */
bool json_guard_feed(json_guard *g, unsigned char c);
bool json_guard_feed_bytes(json_guard *g, const char *s, size_t n);
bool json_guard_done(const json_guard *g);    /* the value is complete: nothing may follow */
/* Inside a string value (or a key of an object that declares no names), between characters:
 * how many more characters it may take as plain text (no '"', '\\' or control bytes, whole
 * UTF-8 characters), which then change nothing but its length; -1 elsewhere. */
int64_t json_guard_plain_room(const json_guard *g);
/* The characters of s as plain string text (as above), or -1 if it is not. */
int64_t json_plain_chars(const char *s, size_t n);
bool json_guard_can_end(const json_guard *g); /* the text so far is a whole value (done, or a number
                                               * or literal at the top that could also go on) */

/* http.c */
typedef struct srv_http srv_http;
typedef struct srv_http_params {
    const char *host;
    int port; /* 0: any free port */
    const char *api_key;
    const char *cors;
    srv_limits lim;
} srv_http_params;
fr_status srv_http_start(const srv_http_params *p, srv_http **out, int *bound_port, fr_error *err);
/* The model is ready: generation endpoints start answering (until then they say 503). */
void srv_http_set_ready(srv_http *h, srv_model_ctx *mc, srv_engine *e);
void srv_http_set_draining(srv_http *h);
/* Waits (up to `seconds`) until every request begun has completed: its answer fully sent. */
void srv_http_wait_idle(srv_http *h, double seconds);
void srv_http_stop(srv_http *h);

/* metrics.c */
char *srv_metrics_text(srv_engine *e, const srv_model_ctx *mc);

/* utilities */
double srv_now(void);                         /* monotonic seconds */
char *srv_utf8_valid_copy(const char *s, size_t n, size_t *out_len); /* invalid bytes -> U+FFFD */

#endif

/* metrics.c: GET /metrics in the Prometheus text format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} text;

static void put(text *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int k = vsnprintf(t->buf + t->len, room, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if ((size_t)k < room) {
            t->len += (size_t)k;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)k;
        char *q = realloc(t->buf, cap);
        if (!q) {
            t->oom = true;
            return;
        }
        t->buf = q;
        t->cap = cap;
    }
}

static void metric(text *t, const char *name, const char *type, const char *help, double v) {
    put(t, "# HELP frugal_%s %s\n# TYPE frugal_%s %s\nfrugal_%s %.17g\n", name, help, name, type, name, v);
}

char *srv_metrics_text(srv_engine *e, const srv_model_ctx *mc) {
    srv_stats s;
    srv_engine_stats(e, &s);
    text t = {malloc(4096), 0, 4096, false};
    if (!t.buf) return NULL;
    t.buf[0] = 0;
    put(&t, "# HELP frugal_requests_total HTTP requests answered, by outcome.\n# TYPE frugal_requests_total counter\n");
    put(&t, "frugal_requests_total{outcome=\"ok\"} %lld\n", (long long)s.requests_ok);
    put(&t, "frugal_requests_total{outcome=\"error\"} %lld\n", (long long)s.requests_failed);
    metric(&t, "requests_rejected_total", "counter", "Generation requests refused because the queue was full or no slot freed in time.",
           (double)s.requests_rejected);
    metric(&t, "requests_cancelled_total", "counter", "Generation requests whose client went away.", (double)s.requests_cancelled);
    metric(&t, "prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", (double)s.prompt_tokens);
    metric(&t, "prompt_tokens_cached_total", "counter", "Prompt tokens reused from the prefix cache.", (double)s.cached_tokens);
    metric(&t, "generated_tokens_total", "counter", "Tokens generated.", (double)s.generated_tokens);
    metric(&t, "queue_depth", "gauge", "Requests waiting for a slot.", (double)s.queue_depth);
    metric(&t, "slots_busy", "gauge", "Slots generating or reading a prompt.", (double)s.slots_busy);
    metric(&t, "slots_total", "gauge", "Slots (--parallel).", (double)s.slots_total);
    metric(&t, "kv_cache_used_tokens", "gauge", "KV-cache positions holding tokens (all slots, cached prefixes included).",
           (double)s.kv_used);
    metric(&t, "kv_cache_capacity_tokens", "gauge", "KV-cache positions (slots x context).", (double)s.kv_capacity);
    metric(&t, "kv_cache_usage_ratio", "gauge", "kv_cache_used_tokens / kv_cache_capacity_tokens.",
           s.kv_capacity ? (double)s.kv_used / (double)s.kv_capacity : 0.0);
    metric(&t, "generation_tokens_per_second", "gauge", "Decoded tokens per second over recent steps (all slots).", s.gen_tps);
    metric(&t, "prompt_tokens_per_second", "gauge", "Prompt tokens per second over recent steps.", s.prompt_tps);
    metric(&t, "busy_seconds_total", "counter", "Seconds spent in forward passes.", s.busy_seconds);
    metric(&t, "steps_total", "counter", "Batched forward passes.", (double)s.steps);
    metric(&t, "context_tokens", "gauge", "Context of each slot.", (double)mc->n_ctx);
    if (t.oom) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}

/* oai.c: the OpenAI request and response formats.
 *
 * Requests are validated field by field with OpenAI's ranges; a bad field gives a 400 naming
 * it. Unknown fields are ignored. The llama.cpp-style extensions top_k, min_p and
 * repeat_penalty are accepted, ignore_eos never samples an end-of-generation token, and chat_template_kwargs adds template variables (for example
 * enable_thinking). Defaults are OpenAI's: temperature 1, top_p 1, no penalties. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

static srv_request *bad(srv_error *e, const char *param, const char *fmt, ...) {
    e->status = 400;
    e->type = "invalid_request_error";
    e->param = param;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return NULL;
}

char *srv_utf8_valid_copy(const char *s, size_t n, size_t *out_len) {
    char *o = malloc(n * 3 + 1);
    if (!o) return NULL;
    size_t j = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = k > 0 && i + k <= n;
        for (size_t q = 1; ok && q < k; q++) ok = (u[i + q] & 0xC0) == 0x80;
        if (ok && k == 2) ok = c >= 0xC2;
        if (ok && k == 3) {
            unsigned cp = ((c & 0x0F) << 12) | ((u[i + 1] & 0x3F) << 6) | (u[i + 2] & 0x3F);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok && k == 4) {
            unsigned cp = ((c & 0x07) << 18) | ((u[i + 1] & 0x3F) << 12) | ((u[i + 2] & 0x3F) << 6) | (u[i + 3] & 0x3F);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (ok) {
            memcpy(o + j, s + i, k);
            j += k;
            i += k;
        } else {
            memcpy(o + j, "\xEF\xBF\xBD", 3);
            j += 3;
            i++;
        }
    }
    o[j] = 0;
    if (out_len) *out_len = j;
    return o;
}

/* ---- fields ---- */

/* A number field: absent/null keeps *out; otherwise it must be a number in [lo, hi]. */
static bool num_field(json_t *body, const char *key, double lo, double hi, double *out, srv_error *e) {
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_number(v)) return bad(e, key, "%s: expected a number", key), false;
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) return bad(e, key, "%s: %g is out of range (expected %g to %g)", key, d, lo, hi), false;
    *out = d;
    return true;
}

static bool int_field(json_t *body, const char *key, int64_t lo, int64_t hi, int64_t *out, srv_error *e) {
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_integer(v)) return bad(e, key, "%s: expected an integer", key), false;
    json_int_t d = json_integer_value(v);
    if (d < lo || d > hi)
        return bad(e, key, "%s: %lld is out of range (expected %lld to %lld)", key, (long long)d, (long long)lo,
                   (long long)hi),
               false;
    *out = d;
    return true;
}

static bool bool_field(json_t *body, const char *key, bool *out, srv_error *e) {
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) return bad(e, key, "%s: expected true or false", key), false;
    *out = json_is_true(v);
    return true;
}

static uint64_t random_seed(void) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t counter;
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&s, sizeof s, 1, f) != 1) s = 0;
        fclose(f);
    }
    pthread_mutex_lock(&mu);
    s ^= ++counter * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL);
    pthread_mutex_unlock(&mu);
    return s;
}

/* Fields shared by both endpoints. */
static bool common_fields(const srv_model_ctx *mc, srv_kind kind, json_t *body, srv_gen_params *p, srv_error *e) {
    frugal_sampler_params *sp = &p->sp;
    *sp = frugal_sampler_default_params();
    sp->temperature = 1.0f;
    sp->top_k = 0;
    sp->top_p = 1.0f;
    sp->min_p = 0.0f;
    sp->repeat_penalty = 1.0f;
    sp->frequency_penalty = 0.0f;
    sp->presence_penalty = 0.0f;
    sp->penalty_last_n = 64;
    double d;
    int64_t i;
    d = sp->temperature;
    if (!num_field(body, "temperature", 0, 2, &d, e)) return false;
    sp->temperature = (float)d;
    d = sp->top_p;
    if (!num_field(body, "top_p", 0, 1, &d, e)) return false;
    sp->top_p = (float)d;
    d = 0;
    if (!num_field(body, "presence_penalty", -2, 2, &d, e)) return false;
    sp->presence_penalty = (float)d;
    d = 0;
    if (!num_field(body, "frequency_penalty", -2, 2, &d, e)) return false;
    sp->frequency_penalty = (float)d;
    d = 0;
    if (!num_field(body, "min_p", 0, 1, &d, e)) return false;
    sp->min_p = (float)d;
    d = 1;
    if (!num_field(body, "repeat_penalty", 0.01, 10, &d, e)) return false;
    sp->repeat_penalty = (float)d;
    i = 0;
    if (!int_field(body, "top_k", 0, 1 << 30, &i, e)) return false;
    sp->top_k = (int32_t)i;
    json_t *seed = json_object_get(body, "seed");
    if (seed && !json_is_null(seed)) {
        if (!json_is_integer(seed)) return bad(e, "seed", "seed: expected an integer"), false;
        sp->seed = (uint64_t)json_integer_value(seed);
    } else {
        sp->seed = random_seed();
    }
    /* max_completion_tokens (current) wins over max_tokens (legacy) */
    int64_t mt = -1;
    if (!int_field(body, "max_tokens", 1, INT32_MAX, &mt, e)) return false;
    if (!int_field(body, "max_completion_tokens", 1, INT32_MAX, &mt, e)) return false;
    p->max_tokens = mt;
    int64_t n = 1, max_n = mc->n_slots < SRV_MAX_N ? mc->n_slots : SRV_MAX_N;
    if (!int_field(body, "n", 1, max_n, &n, e)) return false;
    p->n = (int)n;
    if (!bool_field(body, "stream", &p->stream, e)) return false;
    if (!bool_field(body, "ignore_eos", &p->ignore_eos, e)) return false;
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) return bad(e, "stream_options", "stream_options: expected an object"), false;
        if (!bool_field(so, "include_usage", &p->include_usage, e)) return false;
    }
    json_t *stop = json_object_get(body, "stop");
    if (stop && !json_is_null(stop)) {
        json_t *one[1] = {stop};
        size_t cnt = json_is_string(stop) ? 1 : json_is_array(stop) ? json_array_size(stop) : 0;
        if (!json_is_string(stop) && !json_is_array(stop))
            return bad(e, "stop", "stop: expected a string or an array of strings"), false;
        if (cnt > SRV_MAX_STOPS) return bad(e, "stop", "stop: %zu strings (at most %d)", cnt, SRV_MAX_STOPS), false;
        for (size_t k = 0; k < cnt; k++) {
            json_t *s = json_is_string(stop) ? one[0] : json_array_get(stop, k);
            if (!json_is_string(s)) return bad(e, "stop", "stop[%zu]: expected a string", k), false;
            size_t len = json_string_length(s);
            if (len == 0 || len > SRV_MAX_STOP_LEN)
                return bad(e, "stop", "stop[%zu]: %zu bytes (expected 1 to %d)", k, len, SRV_MAX_STOP_LEN), false;
            if (memchr(json_string_value(s), 0, len)) return bad(e, "stop", "stop[%zu]: contains a NUL byte", k), false;
            p->stop[p->n_stop++] = strdup(json_string_value(s));
        }
    }
    /* logprobs: chat has a boolean plus top_logprobs; completions an integer (0-5) */
    json_t *lp = json_object_get(body, "logprobs");
    if (kind == SRV_CHAT) {
        if (!bool_field(body, "logprobs", &p->logprobs, e)) return false;
        int64_t top = 0;
        if (!int_field(body, "top_logprobs", 0, SRV_MAX_TOP_LOGPROBS, &top, e)) return false;
        if (top > 0 && !p->logprobs) return bad(e, "top_logprobs", "top_logprobs: needs logprobs: true"), false;
        p->top_logprobs = (int)top;
    } else if (lp && !json_is_null(lp)) {
        int64_t top = 0;
        if (!int_field(body, "logprobs", 0, 5, &top, e)) return false;
        p->logprobs = true;
        p->top_logprobs = (int)top;
    }
    json_t *rf = json_object_get(body, "response_format");
    if (rf && !json_is_null(rf)) {
        json_t *ty = json_is_object(rf) ? json_object_get(rf, "type") : NULL;
        if (!json_is_string(ty)) return bad(e, "response_format", "response_format: expected an object with a type"), false;
        const char *type = json_string_value(ty);
        char msg[512];
        if (!strcmp(type, "json_object")) {
            /* llama.cpp's extension: a schema beside json_object */
            json_t *sch = json_object_get(rf, "schema");
            p->schema = sch ? js_schema_compile(sch, msg, sizeof msg) : js_schema_json_object();
            if (!p->schema)
                return bad(e, "response_format", "response_format.schema: %s", sch ? msg : "out of memory"), false;
        } else if (!strcmp(type, "json_schema")) {
            json_t *js = json_object_get(rf, "json_schema");
            json_t *sch = json_is_object(js) ? json_object_get(js, "schema") : NULL;
            if (!sch)
                return bad(e, "response_format",
                           "response_format.json_schema: expected an object with a schema "
                           "({\"name\": ..., \"schema\": {...}})"),
                       false;
            p->schema = js_schema_compile(sch, msg, sizeof msg);
            if (!p->schema) return bad(e, "response_format", "response_format.json_schema.schema: %s", msg), false;
        } else if (strcmp(type, "text") != 0) {
            return bad(e, "response_format",
                       "response_format: type '%s' is not supported (expected 'text', 'json_object' or 'json_schema')",
                       type),
                   false;
        }
    }
    return true;
}

/* ---- prompts ---- */

static bool tokenize(const srv_model_ctx *mc, const char *text, size_t len, bool add_bos_once, srv_request *r,
                     srv_error *e) {
    fr_error err;
    int64_t n = frugal_tokenizer_encode(mc->tok, text, len, false, true, NULL, 0, &err);
    if (n < 0) return bad(e, NULL, "tokenizing the prompt failed: %s", err.msg), false;
    frugal_tokenizer_info ti;
    frugal_tokenizer_get_info(mc->tok, &ti);
    r->prompt = malloc(sizeof(int32_t) * (size_t)(n + 1));
    if (!r->prompt) return bad(e, NULL, "out of memory"), false;
    int64_t off = 0;
    if (add_bos_once && ti.add_bos && ti.bos >= 0) off = 1, r->prompt[0] = ti.bos;
    n = frugal_tokenizer_encode(mc->tok, text, len, false, true, r->prompt + off, n, &err);
    if (n < 0) return bad(e, NULL, "tokenizing the prompt failed: %s", err.msg), false;
    /* a template that writes the BOS text itself: do not add a second one */
    if (off && n > 0 && r->prompt[1] == ti.bos) off = 0, memmove(r->prompt, r->prompt + 1, sizeof(int32_t) * (size_t)n);
    r->n_prompt = n + off;
    return true;
}

static bool check_length(const srv_model_ctx *mc, srv_request *r, const char *param, srv_error *e) {
    if (r->n_prompt == 0) return bad(e, param, "%s: the prompt is empty", param), false;
    if (r->n_prompt >= mc->n_ctx)
        return bad(e, param, "%s: the prompt has %lld tokens; the context of a slot is %lld (at most %lld prompt tokens)",
                   param, (long long)r->n_prompt, (long long)mc->n_ctx, (long long)mc->n_ctx - 1),
               false;
    return true;
}

/* messages -> a normalised copy: content parts of type "text" joined into one string. */
static json_t *normalise_messages(json_t *msgs, srv_error *e) {
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return bad(e, "messages", "messages: expected a non-empty array"), NULL;
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m)) {
            json_decref(out);
            return bad(e, "messages", "messages[%zu]: expected an object", i), NULL;
        }
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role) || json_string_length(role) == 0) {
            json_decref(out);
            return bad(e, "messages", "messages[%zu].role: expected a non-empty string", i), NULL;
        }
        json_t *c = json_object_get(m, "content");
        json_t *copy = json_deep_copy(m);
        if (json_is_array(c)) {
            size_t total = 0, k;
            json_t *part;
            json_array_foreach(c, k, part) {
                json_t *ty = json_object_get(part, "type"), *tx = json_object_get(part, "text");
                if (!json_is_string(ty) || strcmp(json_string_value(ty), "text") || !json_is_string(tx)) {
                    json_decref(copy);
                    json_decref(out);
                    return bad(e, "messages", "messages[%zu].content[%zu]: only text parts are supported", i, k), NULL;
                }
                total += json_string_length(tx) + 1;
            }
            char *joined = malloc(total + 1);
            size_t at = 0;
            json_array_foreach(c, k, part) {
                json_t *tx = json_object_get(part, "text");
                if (k) joined[at++] = '\n';
                memcpy(joined + at, json_string_value(tx), json_string_length(tx));
                at += json_string_length(tx);
            }
            json_object_set_new(copy, "content", json_stringn(joined, at));
            free(joined);
        } else if (c && !json_is_string(c) && !json_is_null(c)) {
            json_decref(copy);
            json_decref(out);
            return bad(e, "messages", "messages[%zu].content: expected a string, an array of text parts or null", i), NULL;
        } else if (!c && strcmp(json_string_value(role), "assistant") != 0) {
            json_decref(copy);
            json_decref(out);
            return bad(e, "messages", "messages[%zu].content: missing", i), NULL;
        }
        json_array_append_new(out, copy);
    }
    return out;
}

static bool render_chat(const srv_model_ctx *mc, json_t *body, srv_request *r, srv_error *e) {
    json_t *msgs = normalise_messages(json_object_get(body, "messages"), e);
    if (!msgs) return false;
    json_t *tools = json_object_get(body, "tools");
    if (tools && !json_is_null(tools) && !json_is_array(tools)) {
        json_decref(msgs);
        return bad(e, "tools", "tools: expected an array"), false;
    }
    json_t *kw = json_object_get(body, "chat_template_kwargs");
    if (kw && !json_is_null(kw) && !json_is_object(kw)) {
        json_decref(msgs);
        return bad(e, "chat_template_kwargs", "chat_template_kwargs: expected an object"), false;
    }
    char *msgs_s = json_dumps(msgs, JSON_COMPACT);
    char *tools_s = json_is_array(tools) ? json_dumps(tools, JSON_COMPACT) : NULL;
    char *vars_s = NULL;
    if (json_is_object(kw)) {
        json_t *vars = mc->tmpl_vars ? json_loads(mc->tmpl_vars, 0, NULL) : NULL;
        if (!vars) vars = json_object();
        json_object_update(vars, kw);
        vars_s = json_dumps(vars, JSON_COMPACT);
        json_decref(vars);
    }
    json_decref(msgs);
    char *out = NULL;
    size_t n = 0;
    fr_error err;
    fr_status st = FR_ERR_UNSUPPORTED;
    if (mc->tmpl) {
        frugal_chat_params cp = frugal_chat_default_params();
        cp.messages_json = msgs_s;
        cp.tools_json = tools_s;
        cp.vars_json = vars_s ? vars_s : mc->tmpl_vars;
        cp.add_generation_prompt = true;
        cp.max_output = 64 << 20;
        st = frugal_chat_render(mc->tmpl, strlen(mc->tmpl), &cp, &out, &n, &err);
    }
    if (st == FR_ERR_UNSUPPORTED) {
        st = frugal_chat_builtin(mc->tok, msgs_s, true, &out, NULL, &err);
        n = out ? strlen(out) : 0;
    }
    free(msgs_s);
    free(tools_s);
    free(vars_s);
    if (st != FR_OK) return bad(e, "messages", "chat template: %s", err.msg), false;
    r->opens_reasoning = frugal_prompt_opens_reasoning(out, n);
    bool ok = tokenize(mc, out, n, true, r, e);
    free(out);
    return ok && check_length(mc, r, "messages", e);
}

static bool completion_prompt(const srv_model_ctx *mc, json_t *body, srv_request *r, srv_error *e) {
    json_t *pr = json_object_get(body, "prompt");
    if (json_is_array(pr) && json_array_size(pr) == 1 && json_is_string(json_array_get(pr, 0)))
        pr = json_array_get(pr, 0);
    if (json_is_string(pr)) {
        if (!tokenize(mc, json_string_value(pr), json_string_length(pr), true, r, e)) return false;
    } else if (json_is_array(pr) && json_array_size(pr) > 0) {
        size_t n = json_array_size(pr), i;
        int64_t V = frugal_model_n_vocab(mc->m);
        if (n >= (size_t)mc->n_ctx)
            return bad(e, "prompt", "prompt: %zu tokens; the context of a slot is %lld", n, (long long)mc->n_ctx), false;
        r->prompt = malloc(sizeof(int32_t) * n);
        if (!r->prompt) return bad(e, NULL, "out of memory"), false;
        json_t *v;
        json_array_foreach(pr, i, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= V)
                return bad(e, "prompt", "prompt[%zu]: expected a token id in 0..%lld", i, (long long)V - 1), false;
            r->prompt[i] = (int32_t)json_integer_value(v);
        }
        r->n_prompt = (int64_t)n;
    } else {
        return bad(e, "prompt", "prompt: expected a string, an array of token ids or an array of one string"), false;
    }
    return check_length(mc, r, "prompt", e);
}

srv_request *oai_parse_generation(const srv_model_ctx *mc, srv_kind kind, json_t *body, srv_error *e) {
    if (!json_is_object(body)) return bad(e, NULL, "the request body must be a JSON object");
    srv_request *r = srv_request_new(kind);
    if (!r) return bad(e, NULL, "out of memory");
    bool ok = common_fields(mc, kind, body, &r->p, e) &&
              (kind == SRV_CHAT ? render_chat(mc, body, r, e) : completion_prompt(mc, body, r, e));
    if (!ok) {
        srv_request_release(r);
        return NULL;
    }
    static const char hex[] = "0123456789abcdef";
    uint64_t a = random_seed(), b = random_seed();
    char *p = r->id + snprintf(r->id, sizeof r->id, "%s", kind == SRV_CHAT ? "chatcmpl-" : "cmpl-");
    for (int i = 0; i < 24; i++) {
        uint64_t src = i < 16 ? a >> (4 * i) : b >> (4 * (i - 16));
        *p++ = hex[src & 15];
    }
    *p = 0;
    r->created = (int64_t)time(NULL);
    return r;
}

/* ---- responses ---- */

char *oai_error_json(const srv_error *e) {
    json_t *o = json_pack("{s:{s:s, s:s, s:o, s:n}}", "error", "message", e->msg, "type", e->type ? e->type : "invalid_request_error",
                          "param", e->param ? json_string(e->param) : json_null(), "code");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

json_t *oai_usage(srv_request *r) {
    return json_pack("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens", (json_int_t)r->n_prompt, "completion_tokens",
                     (json_int_t)r->n_generated, "total_tokens", (json_int_t)(r->n_prompt + r->n_generated),
                     "prompt_tokens_details", "cached_tokens", (json_int_t)r->n_cached);
}

json_t *oai_timings(srv_request *r) {
    double t1 = r->t_first_token > 0 ? r->t_first_token : r->t_done;
    double prompt_ms = t1 > r->t_started ? (t1 - r->t_started) * 1000.0 : 0.0;
    double gen_ms = r->t_done > t1 ? (r->t_done - t1) * 1000.0 : 0.0;
    int64_t prompt_n = r->n_prompt - r->n_cached;
    /* the first token comes with the prompt's last forward pass; the rest take gen_ms */
    int64_t gen_after_first = r->n_generated > r->p.n ? r->n_generated - r->p.n : 0;
    return json_pack("{s:I, s:I, s:f, s:f, s:I, s:f, s:f}", "cache_n", (json_int_t)r->n_cached, "prompt_n", (json_int_t)prompt_n,
                     "prompt_ms", prompt_ms, "prompt_per_second", prompt_ms > 0 ? (double)prompt_n * 1000.0 / prompt_ms : 0.0,
                     "predicted_n", (json_int_t)r->n_generated, "predicted_ms", gen_ms,
                     "predicted_per_second", gen_ms > 0 ? (double)gen_after_first * 1000.0 / gen_ms : 0.0);
}

static json_t *envelope(const srv_model_ctx *mc, srv_request *r, bool chunk) {
    const char *object = r->kind == SRV_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                             : "text_completion";
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", r->id, "object", object, "created", (json_int_t)r->created,
                     "model", mc->model_id, "system_fingerprint", "frugal-" FRUGAL_VERSION);
}

/* Chat-format logprob entries -> the legacy completions format, appended to `acc`. */
static void legacy_logprobs(json_t *acc, json_t *entries, size_t *offset) {
    size_t i;
    json_t *en;
    json_array_foreach(entries, i, en) {
        json_array_append(json_object_get(acc, "tokens"), json_object_get(en, "token"));
        json_array_append(json_object_get(acc, "token_logprobs"), json_object_get(en, "logprob"));
        json_t *top = json_object(), *t;
        size_t k;
        json_array_foreach(json_object_get(en, "top_logprobs"), k, t)
            json_object_set(top, json_string_value(json_object_get(t, "token")), json_object_get(t, "logprob"));
        json_array_append_new(json_object_get(acc, "top_logprobs"), top);
        json_array_append_new(json_object_get(acc, "text_offset"), json_integer((json_int_t)*offset));
        *offset += json_string_length(json_object_get(en, "token"));
    }
}

static json_t *new_legacy_logprobs(void) {
    return json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
}

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf;
static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *q = realloc(b->buf, cap);
        if (!q) return;
        b->buf = q;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

char *oai_final_json(const srv_model_ctx *mc, srv_request *r, srv_event *events) {
    int n = r->p.n;
    sbuf content[SRV_MAX_N] = {0}, reasoning[SRV_MAX_N] = {0};
    const char *finish[SRV_MAX_N] = {0};
    json_t *lps[SRV_MAX_N] = {0};
    size_t offsets[SRV_MAX_N] = {0};
    for (srv_event *ev = events; ev; ev = ev->next) {
        int c = ev->choice;
        if (c < 0 || c >= n) continue;
        if (ev->kind == SRV_EV_CONTENT) sb_add(&content[c], ev->text, ev->len);
        if (ev->kind == SRV_EV_REASONING) sb_add(&reasoning[c], ev->text, ev->len);
        if (ev->kind == SRV_EV_FINISH) finish[c] = ev->finish;
        if (ev->logprobs) {
            if (r->kind == SRV_CHAT) {
                if (!lps[c]) lps[c] = json_array();
                json_array_extend(lps[c], ev->logprobs);
            } else {
                if (!lps[c]) lps[c] = new_legacy_logprobs();
                legacy_logprobs(lps[c], ev->logprobs, &offsets[c]);
            }
        }
    }
    json_t *o = envelope(mc, r, false);
    json_t *choices = json_array();
    for (int c = 0; c < n; c++) {
        json_t *ch = json_object();
        json_object_set_new(ch, "index", json_integer(c));
        json_t *text = json_stringn(content[c].buf ? content[c].buf : "", content[c].len);
        if (r->kind == SRV_CHAT) {
            json_t *msg = json_pack("{s:s, s:o}", "role", "assistant", "content", text);
            if (reasoning[c].len) json_object_set_new(msg, "reasoning_content", json_stringn(reasoning[c].buf, reasoning[c].len));
            json_object_set_new(ch, "message", msg);
            json_object_set_new(ch, "logprobs", lps[c] ? json_pack("{s:o}", "content", lps[c]) : json_null());
        } else {
            json_object_set_new(ch, "text", text);
            json_object_set_new(ch, "logprobs", lps[c] ? lps[c] : json_null());
        }
        json_object_set_new(ch, "finish_reason", json_string(finish[c] ? finish[c] : "stop"));
        json_array_append_new(choices, ch);
        free(content[c].buf);
        free(reasoning[c].buf);
    }
    json_object_set_new(o, "choices", choices);
    json_object_set_new(o, "usage", oai_usage(r));
    json_object_set_new(o, "timings", oai_timings(r));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static char *sse(json_t *o, size_t *len) {
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!body) return NULL;
    size_t bl = strlen(body);
    char *s = malloc(bl + 9);
    if (s) {
        memcpy(s, "data: ", 6);
        memcpy(s + 6, body, bl);
        memcpy(s + 6 + bl, "\n\n", 3);
        *len = bl + 8;
    }
    free(body);
    return s;
}

char *oai_stream_chunk(const srv_model_ctx *mc, srv_request *r, const srv_event *ev, size_t *len) {
    json_t *o = envelope(mc, r, true);
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(ev->choice));
    json_t *lp = json_null();
    if (ev->logprobs) {
        if (r->kind == SRV_CHAT) {
            lp = json_pack("{s:O}", "content", ev->logprobs);
        } else {
            size_t off = 0;
            lp = new_legacy_logprobs();
            legacy_logprobs(lp, ev->logprobs, &off);
        }
    }
    if (r->kind == SRV_CHAT) {
        json_t *delta = json_object();
        if (ev->kind == SRV_EV_CONTENT) json_object_set_new(delta, "content", json_stringn(ev->text, ev->len));
        if (ev->kind == SRV_EV_REASONING) json_object_set_new(delta, "reasoning_content", json_stringn(ev->text, ev->len));
        json_object_set_new(ch, "delta", delta);
    } else {
        json_object_set_new(ch, "text", json_stringn(ev->kind == SRV_EV_CONTENT ? ev->text : "", ev->kind == SRV_EV_CONTENT ? ev->len : 0));
    }
    json_object_set_new(ch, "logprobs", lp);
    json_object_set_new(ch, "finish_reason", ev->kind == SRV_EV_FINISH ? json_string(ev->finish) : json_null());
    json_object_set_new(o, "choices", json_pack("[o]", ch));
    return sse(o, len);
}

/* The first chunk of a chat stream: the assistant role, per choice. */
char *oai_stream_role(const srv_model_ctx *mc, srv_request *r, int choice, size_t *len) {
    json_t *o = envelope(mc, r, true);
    json_t *ch = json_pack("{s:i, s:{s:s, s:s}, s:n, s:n}", "index", choice, "delta", "role", "assistant", "content", "",
                           "logprobs", "finish_reason");
    json_object_set_new(o, "choices", json_pack("[o]", ch));
    return sse(o, len);
}

char *oai_stream_error(const srv_event *ev, size_t *len) {
    json_t *o = json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", ev->text, "type", "server_error", "param", "code");
    return sse(o, len);
}

char *oai_stream_usage(const srv_model_ctx *mc, srv_request *r, size_t *len) {
    json_t *o = envelope(mc, r, true);
    json_object_set_new(o, "choices", json_array());
    json_object_set_new(o, "usage", oai_usage(r));
    json_object_set_new(o, "timings", oai_timings(r));
    return sse(o, len);
}

/* serve_main.c: `frugal serve`: flags, start-up and shutdown.
 *
 * Start-up order: the HTTP listener first (so /health answers 503 while the model loads),
 * then the model, the engine, and one line "listening on http://HOST:PORT" on stderr.
 * SIGTERM or SIGINT: stop admitting (503), let in-flight requests finish up to
 * --drain-timeout seconds, end the rest, exit 0. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "serve.h"

#define C "serve"

static const char *k_help =
    "usage: frugal serve -m MODEL [options]\n\n"
    "An OpenAI-compatible HTTP server with continuous batching: concurrent requests are decoded\n"
    "together, one batched forward pass per step, each in its own KV-cache slot.\n"
    "Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, POST /tokenize,\n"
    "POST /detokenize, GET /health, GET /metrics (Prometheus), GET / (a chat page).\n\n"
    "  -m, --model PATH         GGUF model; its id is the file name without .gguf\n"
    "  --host ADDR              address to bind (default 127.0.0.1: this machine only)\n"
    "  --port N                 port (default 8080; 0 = any free port)\n"
    "  --parallel N             slots: requests decoded at once (default 4, 1..64)\n"
    "  --ctx N                  context of each slot (default: the model's training context,\n"
    "                           capped so that every slot's KV cache fits in half the available\n"
    "                           memory; the value chosen is logged)\n"
    "  -t, --threads N          threads (default: all CPUs)\n"
    "  --kv-type T              KV cache type: f16 (default), f32, q8_0\n"
    "  --template FILE          a Jinja chat template to use instead of the model's (its\n"
    "                           bos_token/eos_token are the model's)\n"
    "  --api-key KEY            require Authorization: Bearer KEY (all but / and /health)\n"
    "  --api-key-file F         the same, the key read from the first line of F\n"
    "  --cors ORIGIN            send Access-Control-Allow-Origin: ORIGIN (default: no CORS)\n"
    "limits:\n"
    "  --queue N                requests waiting for a slot (default 64; more get 503 + Retry-After)\n"
    "  --max-body BYTES         request body size (default 8388608; more get 413)\n"
    "  --max-header BYTES       request line + headers (default 16384)\n"
    "  --json-depth N           nesting of a request's JSON (default 64)\n"
    "  --max-conn N             open connections (default 256)\n"
    "  --read-timeout S         seconds a client may idle while sending a request (default 30)\n"
    "  --queue-timeout S        seconds a request may wait for a slot (default 120; then 503)\n"
    "  --request-timeout S      seconds of generation per request (default 600; then it ends\n"
    "                           with finish_reason \"length\")\n"
    "  --drain-timeout S        on SIGTERM, seconds to let running requests finish (default 30)\n"
    "testing:\n"
    "  --step-delay-ms N        sleep N ms after each batched step (default 0), so that tests can\n"
    "                           observe queueing and disconnects on a tiny model\n";

static char *model_id_of(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    size_t len = n - b;
    if (len > 5 && !strncmp(path + n - 5, ".gguf", 5)) len -= 5;
    char *id = malloc(len + 1);
    if (id) {
        memcpy(id, path + b, len);
        id[len] = 0;
    }
    return id;
}

static int64_t mem_available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
    fclose(f);
    return (int64_t)kb * 1024;
}

static char *read_key_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char buf[1024];
    char *k = fgets(buf, sizeof buf, f) ? buf : NULL;
    fclose(f);
    if (!k) return NULL;
    k[strcspn(k, "\r\n")] = 0;
    return k[0] ? strdup(k) : NULL;
}

/* {"bos_token": ..., "eos_token": ...} from the model's vocabulary, for a --template file */
static char *special_token_vars(const frugal_model *m, const frugal_tokenizer *tok) {
    frugal_model_info mi;
    frugal_model_get_info(m, &mi);
    json_t *o = json_object();
    size_t len = 0;
    const char *s;
    if (mi.bos >= 0 && (s = frugal_tokenizer_token_text(tok, mi.bos, &len))) json_object_set_new(o, "bos_token", json_stringn(s, len));
    if (mi.eos >= 0 && (s = frugal_tokenizer_token_text(tok, mi.eos, &len))) json_object_set_new(o, "eos_token", json_stringn(s, len));
    char *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

int cmd_serve(int argc, char **argv) {
    const char *model = NULL, *tmpl_path = NULL, *host = "127.0.0.1", *api_key = NULL, *key_file = NULL, *cors = NULL;
    int64_t port = 8080, parallel = 4, ctx = 0, threads = 0, step_delay = 0;
    int kv = frugal_type_from_name("F16");
    srv_limits lim = {8 << 20, 16384, 64, 64, 256, 30, 120, 600, 30};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int64_t x;
#define VAL()                                          \
    do {                                               \
        if (!(v = cli_value(C, argc, argv, &i))) return EXIT_USAGE; \
    } while (0)
#define INT(lo, hi, dst)                                            \
    do {                                                            \
        VAL();                                                      \
        if (!cli_int(C, a, v, lo, hi, &x)) return EXIT_USAGE;       \
        dst = x;                                                    \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(k_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model = v; }
        else if (!strcmp(a, "--host")) { VAL(); host = v; }
        else if (!strcmp(a, "--port")) INT(0, 65535, port);
        else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) INT(1, 64, parallel);
        else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) INT(16, 1 << 24, ctx);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) INT(1, 1024, threads);
        else if (!strcmp(a, "--kv-type")) {
            VAL();
            if ((kv = cli_kv_type(C, v)) < 0) return EXIT_USAGE;
        } else if (!strcmp(a, "--template") || !strcmp(a, "--chat-template-file")) { VAL(); tmpl_path = v; }
        else if (!strcmp(a, "--api-key")) { VAL(); api_key = v; }
        else if (!strcmp(a, "--api-key-file")) { VAL(); key_file = v; }
        else if (!strcmp(a, "--cors")) { VAL(); cors = v; }
        else if (!strcmp(a, "--queue")) INT(1, 100000, lim.queue);
        else if (!strcmp(a, "--max-body")) INT(1024, (int64_t)1 << 34, lim.max_body);
        else if (!strcmp(a, "--max-header")) INT(1024, 1 << 20, lim.max_header);
        else if (!strcmp(a, "--json-depth")) INT(2, 10000, lim.json_depth);
        else if (!strcmp(a, "--max-conn")) INT(1, 100000, lim.max_conn);
        else if (!strcmp(a, "--read-timeout")) INT(1, 86400, lim.read_timeout);
        else if (!strcmp(a, "--queue-timeout")) INT(1, 86400, lim.queue_timeout);
        else if (!strcmp(a, "--request-timeout")) INT(1, 864000, lim.request_timeout);
        else if (!strcmp(a, "--drain-timeout")) INT(0, 86400, lim.drain_timeout);
        else if (!strcmp(a, "--step-delay-ms")) INT(0, 10000, step_delay);
        else {
            fprintf(stderr, "frugal serve: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
#undef INT
#undef VAL
    }
    if (!model) {
        fprintf(stderr, "frugal serve: -m MODEL is required (see --help)\n");
        return EXIT_USAGE;
    }
    char *key = NULL;
    if (key_file && !(key = read_key_file(key_file))) {
        fprintf(stderr, "frugal serve: --api-key-file %s: cannot read a key from its first line\n", key_file);
        return EXIT_USAGE;
    }
    if (!key && api_key) key = strdup(api_key);

    /* Signals go to sigwait below; a client closing a socket must not kill us. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* one malloc arena per connection thread would let RSS creep up under load */
    mallopt(M_ARENA_MAX, 2);

    int rc = EXIT_ERR;
    fr_error err;
    srv_http *http = NULL;
    srv_engine *eng = NULL;
    frugal_model *m = NULL;
    frugal_chat_template tmpl = {0};
    char *id = model_id_of(model);
    srv_http_params hp = {host, (int)port, key, cors, lim};
    int bound = 0;
    if (srv_http_start(&hp, &http, &bound, &err) != FR_OK) {
        cli_error(C, &err);
        goto done;
    }
    if (frugal_model_load(model, &m, &err) != FR_OK) {
        cli_error(C, &err);
        goto done;
    }
    srv_model_ctx mc = {m, NULL, NULL, NULL, id, 0, (int)parallel};
    if (!(mc.tok = frugal_model_tokenizer(m, &err))) {
        cli_error(C, &err);
        goto done;
    }
    if (tmpl_path) {
        size_t len = 0;
        if (!(tmpl.source = cli_read_file(tmpl_path, &len)) || strlen(tmpl.source) != len) {
            fprintf(stderr, "frugal serve: --template: cannot read %s (or it contains a NUL byte)\n", tmpl_path);
            goto done;
        }
        tmpl.vars_json = special_token_vars(m, mc.tok);
        mc.tmpl = tmpl.source;
        mc.tmpl_vars = tmpl.vars_json;
    } else if (frugal_chat_template_from_model(m, NULL, &tmpl, &err) == FR_OK) {
        mc.tmpl = tmpl.source;
        mc.tmpl_vars = tmpl.vars_json;
    } else {
        const char *fam = "chatml";
        char *probe = NULL;
        fr_error e2;
        if (frugal_chat_builtin(mc.tok, "[]", false, &probe, &fam, &e2) == FR_OK) free(probe);
        fprintf(stderr, "frugal serve: warning: %s; chat uses the built-in %s format\n", err.msg, fam);
    }
    frugal_model_info mi;
    frugal_model_get_info(m, &mi);
    if (ctx == 0) {
        /* every slot's cache in half the available memory (F16 figure; q8_0 needs less) */
        int64_t per_tok = (int64_t)mi.kv_bytes_per_token_f16 * (kv == frugal_type_from_name("F32") ? 2 : 1);
        int64_t budget = mem_available_bytes() / 2;
        int64_t cap = per_tok > 0 && budget > 0 ? budget / (per_tok * parallel) : 4096;
        ctx = mi.n_ctx_train > 0 ? mi.n_ctx_train : 4096;
        if (ctx > cap) ctx = cap >= 256 ? cap / 256 * 256 : cap;
        if (ctx < 16) {
            fprintf(stderr, "frugal serve: not enough memory for %lld slots of even 16 tokens; lower --parallel\n",
                    (long long)parallel);
            goto done;
        }
        fprintf(stderr, "frugal serve: context per slot: %lld tokens (training context %lld, %lld slots, %.1f MiB of KV cache)\n",
                (long long)ctx, (long long)mi.n_ctx_train, (long long)parallel,
                (double)ctx * (double)parallel * (double)per_tok / 1048576.0);
    } else {
        fprintf(stderr, "frugal serve: context per slot: %lld tokens\n", (long long)ctx);
    }
    mc.n_ctx = ctx;
    srv_engine_params ep = {(int)parallel, ctx, (int)threads, kv, lim.queue, lim.request_timeout, (int)step_delay};
    if (srv_engine_new(m, &ep, &eng, &err) != FR_OK) {
        cli_error(C, &err);
        goto done;
    }
    srv_http_set_ready(http, &mc, eng);
    if (strchr(host, ':'))
        fprintf(stderr, "listening on http://[%s]:%d\n", host, bound);
    else
        fprintf(stderr, "listening on http://%s:%d\n", host, bound);
    fflush(stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "frugal serve: %s: finishing running requests (up to %d s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
            lim.drain_timeout);
    srv_http_set_draining(http);
    srv_engine_drain(eng);
    double until = srv_now() + lim.drain_timeout;
    while (!srv_engine_idle(eng) && srv_now() < until) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    srv_engine_stop(eng);    /* what still runs ends with an error event */
    srv_http_wait_idle(http, 5.0); /* let those endings reach the clients */
    srv_http_stop(http);
    http = NULL;
    rc = EXIT_OK;
done:
    srv_http_stop(http);
    srv_engine_free(eng);
    frugal_chat_template_free(&tmpl);
    frugal_model_free(m);
    free(id);
    free(key);
    return rc;
}

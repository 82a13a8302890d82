/* cmd_chat.c: `frugal chat`, an interactive multi-turn chat in the terminal.
 *
 * Each turn renders the whole conversation through the model's chat template, tokenizes it,
 * and reuses the KV cache for the longest prefix it shares with what the cache already holds,
 * so only the new part is processed. Answers stream as they are generated; R1-style
 * reasoning (<think>...</think>) is shown dimmed, or hidden with --hide-thinking. Ctrl-C stops
 * the current answer, not the program; Ctrl-D or /quit leaves. Line editing and history come
 * from libedit (BSD licensed). */
#include <editline/readline.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *k_help =
    "usage: frugal chat -m MODEL [--system TEXT] [options]\n\n"
    "An interactive chat. Type a message and press Enter. Commands:\n"
    "  /reset          start a new conversation (keeps the system prompt)\n"
    "  /system TEXT    set the system prompt (starts a new conversation)\n"
    "  /save FILE      save the conversation as JSON (OpenAI-style messages)\n"
    "  /load FILE      load a conversation saved with /save\n"
    "  /help           this list;  /quit (or Ctrl-D) leaves;  Ctrl-C stops an answer (at the\n"
    "                  prompt it only clears the line)\n\n"
    "options:\n"
    "  -m, --model PATH       GGUF model\n"
    "  --system TEXT          system prompt\n"
    "  --template FILE        a Jinja chat template to use instead of the model's\n"
    "  -n, --n-predict N      at most N tokens per answer (default 2048)\n"
    "  --ctx N                context size (default: min(training context, 4096))\n"
    "  -t, --threads N        threads (default: all CPUs)\n"
    "  --kv-type T            KV cache type: f16 (default), f32, q8_0\n"
    "  --hide-thinking        do not show <think> reasoning (default: shown dimmed)\n"
    "  --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n,\n"
    "  --frequency-penalty, --presence-penalty, -s/--seed: sampling, as in `frugal run`\n";

static volatile sig_atomic_t g_interrupted = 0;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

typedef struct {
    frugal_model *m;
    const frugal_tokenizer *tok;
    frugal_context *ctx;
    frugal_sampler *smp;
    frugal_sampler_params sp;
    char *tmpl;          /* Jinja source, or NULL: built-in ChatML fallback */
    char *tmpl_vars;     /* {"bos_token": ...} */
    json_t *messages;    /* the conversation */
    char *system;        /* system prompt or NULL */
    int32_t *cached;     /* tokens in the KV cache */
    int64_t n_cached, cap_cached;
    float *logits;
    int64_t n_vocab, n_predict;
    bool hide_thinking, tty;
} chat;

static void reset_conversation(chat *c) {
    json_array_clear(c->messages);
    if (c->system) json_array_append_new(c->messages, json_pack("{s:s, s:s}", "role", "system", "content", c->system));
}

/* Render the conversation with add_generation_prompt. malloc'd, or NULL with err. */
static char *render(chat *c, fr_error *err) {
    char *msgs = json_dumps(c->messages, JSON_COMPACT);
    char *out = NULL;
    size_t n = 0;
    if (!msgs) return NULL;
    if (c->tmpl) {
        frugal_chat_params p = frugal_chat_default_params();
        p.messages_json = msgs;
        p.vars_json = c->tmpl_vars;
        p.add_generation_prompt = true;
        if (frugal_chat_render(c->tmpl, strlen(c->tmpl), &p, &out, &n, err) != FR_OK) out = NULL;
    } else if (frugal_chat_builtin(c->tok, msgs, true, &out, NULL, err) != FR_OK) {
        out = NULL;
    }
    free(msgs);
    return out;
}

static void emit(frugal_text_kind kind, const char *text, size_t len, void *user) {
    chat *c = user;
    if (kind == FRUGAL_TEXT_REASONING) {
        if (c->hide_thinking) return;
        if (c->tty) fputs("\033[2m", stdout);
        fwrite(text, 1, len, stdout);
        if (c->tty) fputs("\033[0m", stdout);
    } else {
        fwrite(text, 1, len, stdout);
    }
    fflush(stdout);
}

typedef struct {
    char *buf;
    size_t len, cap;
} strbuf;
static void collect_content(frugal_text_kind kind, const char *text, size_t len, void *user) {
    void **pair = user;
    emit(kind, text, len, pair[0]);
    if (kind != FRUGAL_TEXT_CONTENT) return;
    strbuf *sb = pair[1];
    if (sb->len + len + 1 > sb->cap) {
        sb->cap = (sb->len + len + 1) * 2;
        sb->buf = realloc(sb->buf, sb->cap);
    }
    memcpy(sb->buf + sb->len, text, len);
    sb->len += len;
    sb->buf[sb->len] = 0;
}

static int push_cached(chat *c, int32_t t) {
    if (c->n_cached == c->cap_cached) {
        int64_t nc = c->cap_cached ? c->cap_cached * 2 : 1024;
        int32_t *p = realloc(c->cached, (size_t)nc * sizeof *p);
        if (!p) return -1;
        c->cached = p;
        c->cap_cached = nc;
    }
    c->cached[c->n_cached++] = t;
    return 0;
}

/* One assistant turn for the conversation as it stands. */
static int answer(chat *c) {
    fr_error err;
    char *prompt = render(c, &err);
    if (!prompt) {
        fprintf(stderr, "frugal chat: chat template: %s\n", err.msg);
        return -1;
    }
    frugal_tokenizer_info ti;
    frugal_tokenizer_get_info(c->tok, &ti);
    size_t plen = strlen(prompt);
    int64_t n = frugal_tokenizer_encode(c->tok, prompt, plen, false, true, NULL, 0, &err);
    int32_t *ids = n >= 0 ? malloc(sizeof(int32_t) * (size_t)(n + 1)) : NULL;
    if (ids) {
        int64_t off = 0;
        /* the template writes BOS text when the model wants it; add it only if it did not */
        if (ti.add_bos && ti.bos >= 0) off = 1, ids[0] = ti.bos;
        n = frugal_tokenizer_encode(c->tok, prompt, plen, false, true, ids + off, n, &err);
        if (off && n > 0 && ids[1] == ti.bos) off = 0, memmove(ids, ids + 1, sizeof(int32_t) * (size_t)n);
        n += off;
    }
    bool opens = frugal_prompt_opens_reasoning(prompt, plen);
    free(prompt);
    if (!ids || n < 0) {
        fprintf(stderr, "frugal chat: %s\n", n < 0 ? err.msg : "out of memory");
        free(ids);
        return -1;
    }
    int64_t n_ctx = frugal_context_n_ctx(c->ctx);
    if (n >= n_ctx) {
        fprintf(stderr, "frugal chat: the conversation (%lld tokens) no longer fits the context (%lld); /reset to start over\n",
                (long long)n, (long long)n_ctx);
        free(ids);
        return -1;
    }
    /* reuse the cached prefix; at least the last token is evaluated again for its logits */
    int64_t keep = 0;
    while (keep < c->n_cached && keep < n && c->cached[keep] == ids[keep]) keep++;
    if (keep == n) keep--;
    frugal_context_truncate(c->ctx, keep);
    c->n_cached = keep;
    double t0 = cli_now();
    frugal_context_set_phase(c->ctx, FRUGAL_PHASE_PROMPT);
    /* in chunks, so that Ctrl-C also stops a long prompt */
    for (int64_t b = keep; b < n; b += 256) {
        int64_t nb = n - b < 256 ? n - b : 256;
        if (g_interrupted || frugal_eval(c->ctx, ids + b, nb, c->logits, nb - 1, &err) != FR_OK) {
            fprintf(stderr, "frugal chat: %s\n", g_interrupted ? "stopped" : err.msg);
            frugal_context_truncate(c->ctx, c->n_cached);
            free(ids);
            return -1;
        }
        for (int64_t i = b; i < b + nb; i++) push_cached(c, ids[i]);
    }
    free(ids);
    frugal_context_set_phase(c->ctx, FRUGAL_PHASE_DECODE);
    double t1 = cli_now();

    frugal_detokenizer *dt = NULL;
    if (frugal_detokenizer_new(c->tok, false, true, &dt, &err) != FR_OK) {
        fprintf(stderr, "frugal chat: %s\n", err.msg);
        return -1;
    }
    frugal_reasoning rs;
    frugal_reasoning_init(&rs, opens, true);
    strbuf content = {0};
    void *pair[2] = {c, &content};
    const char *why = NULL;
    int64_t n_gen = 0;
    for (;;) {
        if (g_interrupted) { why = "stopped"; break; }
        if (n_gen >= c->n_predict) { why = "length limit"; break; }
        if (frugal_context_n_past(c->ctx) >= n_ctx) { why = "context full: /reset to start over"; break; }
        int32_t tok = frugal_sampler_sample(c->smp, c->logits, &err);
        if (tok < 0) { why = err.msg; break; }
        frugal_sampler_accept(c->smp, tok);
        if (frugal_model_is_eog(c->m, tok)) break;
        n_gen++;
        const char *text;
        int64_t k = frugal_detokenizer_push(dt, tok, &text, &err);
        if (k > 0) frugal_reasoning_feed(&rs, text, (size_t)k, collect_content, pair);
        if (frugal_eval(c->ctx, &tok, 1, c->logits, 0, &err) != FR_OK) { why = err.msg; break; }
        push_cached(c, tok);
    }
    const char *text;
    int64_t k = frugal_detokenizer_flush(dt, &text);
    if (k > 0) frugal_reasoning_feed(&rs, text, (size_t)k, collect_content, pair);
    frugal_reasoning_flush(&rs, collect_content, pair);
    frugal_detokenizer_free(dt);
    double t2 = cli_now();
    printf("\n");
    /* the message list holds valid UTF-8 (a random or interrupted answer may not be) */
    char *clean = cli_utf8_sanitize(content.buf ? content.buf : "", content.len);
    json_t *msg = clean ? json_pack("{s:s, s:s}", "role", "assistant", "content", clean) : NULL;
    free(clean);
    free(content.buf);
    if (!msg || json_array_append_new(c->messages, msg) != 0) {
        fprintf(stderr, "frugal chat: out of memory\n");
        return -1;
    }
    fprintf(stderr, "%s[%s%s%lld prompt tokens at %.1f t/s, %lld generated at %.1f t/s, context %lld/%lld]%s\n",
            c->tty ? "\033[2m" : "", why ? why : "", why ? "; " : "", (long long)(n - keep),
            (double)(n - keep) / (t1 - t0), (long long)n_gen, n_gen ? (double)n_gen / (t2 - t1) : 0.0,
            (long long)frugal_context_n_past(c->ctx), (long long)n_ctx, c->tty ? "\033[0m" : "");
    return 0;
}

static bool valid_messages(json_t *a) {
    if (!json_is_array(a)) return false;
    size_t i;
    json_t *m;
    json_array_foreach(a, i, m) {
        if (!json_is_string(json_object_get(m, "role")) || !json_is_string(json_object_get(m, "content"))) return false;
    }
    return true;
}

static char *read_line(chat *c, const char *prompt) {
    if (c->tty) return readline(prompt);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = 0;
    return line;
}

static void command(chat *c, const char *line, bool *quit) {
    if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) {
        *quit = true;
    } else if (!strcmp(line, "/help")) {
        const char *from = strstr(k_help, "Commands:"), *to = strstr(k_help, "\n\noptions:");
        fwrite(from, 1, (size_t)(to - from) + 1, stdout);
    } else if (!strcmp(line, "/reset")) {
        reset_conversation(c);
        frugal_sampler_free(c->smp);
        fr_error err;
        if (frugal_sampler_new(&c->sp, c->n_vocab, &c->smp, &err) != FR_OK) *quit = true;
        printf("(new conversation)\n");
    } else if (!strncmp(line, "/system", 7) && (line[7] == ' ' || line[7] == 0)) {
        free(c->system);
        c->system = line[7] && line[8] ? strdup(line + 8) : NULL;
        reset_conversation(c);
        printf("(system prompt %s; new conversation)\n", c->system ? "set" : "cleared");
    } else if (!strncmp(line, "/save ", 6)) {
        if (json_dump_file(c->messages, line + 6, JSON_INDENT(2)) != 0)
            fprintf(stderr, "frugal chat: /save: cannot write %s\n", line + 6);
        else
            printf("(saved %zu messages to %s)\n", json_array_size(c->messages), line + 6);
    } else if (!strncmp(line, "/load ", 6)) {
        json_error_t je;
        json_t *a = json_load_file(line + 6, 0, &je);
        if (!a || !valid_messages(a)) {
            fprintf(stderr, "frugal chat: /load: %s: %s\n", line + 6,
                    a ? "expected a JSON array of {role, content} strings" : je.text);
            json_decref(a);
            return;
        }
        json_decref(c->messages);
        c->messages = a;
        printf("(loaded %zu messages)\n", json_array_size(a));
    } else {
        fprintf(stderr, "frugal chat: unknown command '%s' (/help lists them)\n", line);
    }
}

int cmd_chat(int argc, char **argv) {
    const char *C = "chat", *model = NULL, *system = NULL, *tmpl_path = NULL;
    int64_t n_predict = 2048, ctx = 0, threads = 0;
    int kv = -1;
    bool hide = false;
    frugal_sampler_params sp = frugal_sampler_default_params();
    sp.seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help, stdout);
            return EXIT_OK;
        }
        int r = cli_sampling_flag(C, argc, argv, &i, &sp);
        if (r < 0) return EXIT_USAGE;
        if (r > 0) continue;
#define VAL() if (!(v = cli_value(C, argc, argv, &i))) return EXIT_USAGE
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model = v; }
        else if (!strcmp(a, "--system")) { VAL(); system = v; }
        else if (!strcmp(a, "--template")) { VAL(); tmpl_path = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VAL(); if (!cli_int(C, a, v, 1, 1 << 24, &n_predict)) return EXIT_USAGE; }
        else if (!strcmp(a, "--ctx")) { VAL(); if (!cli_int(C, a, v, 1, 1 << 24, &ctx)) return EXIT_USAGE; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VAL(); if (!cli_int(C, a, v, 1, 1024, &threads)) return EXIT_USAGE; }
        else if (!strcmp(a, "--kv-type")) { VAL(); if ((kv = cli_kv_type(C, v)) < 0) return EXIT_USAGE; }
        else if (!strcmp(a, "--hide-thinking")) hide = true;
        else { fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a); return EXIT_USAGE; }
#undef VAL
    }
    if (!model) {
        fprintf(stderr, "frugal %s: -m MODEL is required (see --help)\n", C);
        return EXIT_USAGE;
    }
    chat c = {0};
    c.sp = sp;
    c.n_predict = n_predict;
    c.hide_thinking = hide;
    c.tty = isatty(0) && isatty(1);
    int rc = EXIT_ERR;
    fr_error err;
    if (frugal_model_load(model, &c.m, &err) != FR_OK) { cli_error(C, &err); return EXIT_ERR; }
    if (!(c.tok = frugal_model_tokenizer(c.m, &err))) { cli_error(C, &err); goto done; }
    frugal_chat_template t = {0};
    if (frugal_chat_template_from_model(c.m, NULL, &t, &err) == FR_OK) {
        c.tmpl = t.source;
        c.tmpl_vars = t.vars_json;
    } else if (!tmpl_path) {
        const char *fam = "chatml";
        char *probe = NULL;
        fr_error e2;
        if (frugal_chat_builtin(c.tok, "[]", false, &probe, &fam, &e2) == FR_OK) free(probe);
        fprintf(stderr, "frugal chat: warning: %s; using the built-in %s format\n", err.msg, fam);
    }
    if (tmpl_path) {
        size_t len = 0;
        free(c.tmpl);
        if (!(c.tmpl = cli_read_file(tmpl_path, &len))) {
            fprintf(stderr, "frugal %s: --template: cannot read %s\n", C, tmpl_path);
            goto done;
        }
    }
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = ctx;
    cp.kv_type = kv;
    cp.n_threads = (int)threads;
    if (frugal_context_new(c.m, &cp, &c.ctx, &err) != FR_OK) { cli_error(C, &err); goto done; }
    c.n_vocab = frugal_model_n_vocab(c.m);
    if (frugal_sampler_new(&c.sp, c.n_vocab, &c.smp, &err) != FR_OK) { cli_error(C, &err); goto done; }
    c.logits = malloc(sizeof(float) * (size_t)c.n_vocab);
    c.messages = json_array();
    c.system = system ? strdup(system) : NULL;
    reset_conversation(&c);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    if (c.tty) {
        frugal_model_info in;
        frugal_model_get_info(c.m, &in);
        printf("frugal chat: %s (%s), context %lld tokens. /help for commands, Ctrl-D to leave.\n", in.name[0] ? in.name : model,
               in.arch, (long long)frugal_context_n_ctx(c.ctx));
    }
    bool quit = false;
    sigaction(SIGINT, &sa, NULL);
    while (!quit) {
        g_interrupted = 0;
        char *line = read_line(&c, "> ");
        if (!line && c.tty && g_interrupted) { /* Ctrl-C at the prompt (say, just after an answer ended): stay */
            printf("\n(Ctrl-D or /quit leaves)\n");
            continue;
        }
        if (!line) break;
        if (line[0] == 0) { free(line); continue; }
        if (c.tty) add_history(line);
        /* (re)install the Ctrl-C handler: libedit swaps signal handlers while it edits a line */
        sigaction(SIGINT, &sa, NULL);
        if (line[0] == '/') {
            command(&c, line, &quit);
        } else {
            char *clean = cli_utf8_sanitize(line, strlen(line));
            json_t *msg = clean ? json_pack("{s:s, s:s}", "role", "user", "content", clean) : NULL;
            free(clean);
            if (msg && json_array_append_new(c.messages, msg) == 0 && answer(&c) != 0)
                json_array_remove(c.messages, json_array_size(c.messages) - 1);
        }
        free(line);
    }
    rc = EXIT_OK;
done:
    free(c.tmpl);
    free(c.tmpl_vars);
    free(c.system);
    free(c.cached);
    free(c.logits);
    json_decref(c.messages);
    frugal_sampler_free(c.smp);
    frugal_context_free(c.ctx);
    frugal_model_free(c.m);
    return rc;
}

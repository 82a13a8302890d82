/* cmd_run.c: `frugal run` streams generated text to stdout, then reports speed on stderr.
 *
 * Generation stops at any end-of-generation token the model declares, at -n tokens, at a
 * full context, or at a user stop string (which may span tokens: text that could still
 * become a stop string is held back until it is decided). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_STOPS 16

static const char *k_help =
    "usage: frugal run -m MODEL (--ids LIST | -p TEXT) [options]\n\n"
    "Generates from a prompt and streams the text to stdout; prompt and generation speed\n"
    "(tokens/s) go to stderr at the end.\n\n"
    "  -m, --model PATH       GGUF model (first part of a split model)\n"
    "  --ids LIST             prompt as token ids, comma-separated (fed as given)\n"
    "  -p, --prompt TEXT      prompt text, tokenized with the model's tokenizer (BOS added when\n"
    "                         the model's tokenizer.ggml.add_bos_token says so)\n"
    "                         with neither, generation starts from the BOS token\n"
    "  -n, --n-predict N      tokens to generate (default 128; -1 = until the context is full)\n"
    "  --ctx N                context size (default: min(training context, 4096))\n"
    "  -t, --threads N        threads (default: all CPUs)\n"
    "  --kv-type T            KV cache type: f16 (default), f32, q8_0\n"
    "  --stop STR             stop when STR appears in the output (repeatable, up to 16)\n"
    "  --ignore-eos           do not stop at end-of-generation tokens\n"
    "  --show-ids             print token ids instead of text\n"
    "  --chat                 wrap the prompt in the model's chat template (as one user\n"
    "                         message, with the generation prompt); the template's BOS text\n"
    "                         is kept and no second BOS is added\n"
    "  --system TEXT          with --chat: a system message before the prompt\n"
    "sampling:\n"
    "  --temp T               temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K              keep the K most likely tokens (default 40; 0 = off)\n"
    "  --top-p P              nucleus sampling (default 0.95; 1 = off)\n"
    "  --min-p P              drop tokens below P x the top probability (default 0.05; 0 = off)\n"
    "  --repeat-penalty R     penalise recent tokens (default 1.0 = off)\n"
    "  --repeat-last-n N      window of the penalties (default 64; -1 = all)\n"
    "  --frequency-penalty F  (default 0)\n"
    "  --presence-penalty F   (default 0)\n"
    "  -s, --seed N           random seed (default 42): the same seed gives the same output\n";

typedef struct {
    char *text; /* all generated text */
    size_t len, cap, emitted;
    const char *stops[MAX_STOPS];
    int n_stops;
} stream;

static int stream_append(stream *s, const char *p, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t nc = (s->len + n + 1) * 2;
        char *t = realloc(s->text, nc);
        if (!t) return -1;
        s->text = t;
        s->cap = nc;
    }
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = 0;
    return 0;
}

/* Emits what is decided; returns 1 if a stop string was found (text before it is emitted). */
static int stream_flush(stream *s, bool final) {
    if (!s->text) return 0; /* nothing generated yet */
    size_t safe = s->len;
    for (int k = 0; k < s->n_stops; k++) {
        size_t sl = strlen(s->stops[k]);
        size_t from = s->emitted;
        char *hit = sl ? memmem(s->text + from, s->len - from, s->stops[k], sl) : NULL;
        if (hit) {
            size_t at = (size_t)(hit - s->text);
            fwrite(s->text + s->emitted, 1, at - s->emitted, stdout);
            s->emitted = at;
            fflush(stdout);
            return 1;
        }
        /* hold back the longest tail that is a prefix of this stop string */
        for (size_t l = sl - 1 < s->len - s->emitted ? sl - 1 : s->len - s->emitted; l > 0 && !final; l--) {
            if (memcmp(s->text + s->len - l, s->stops[k], l) == 0) {
                if (s->len - l < safe) safe = s->len - l;
                break;
            }
        }
    }
    fwrite(s->text + s->emitted, 1, safe - s->emitted, stdout);
    s->emitted = safe;
    fflush(stdout);
    return 0;
}

/* The prompt as one user message (after an optional system message) through the model's
 * chat template, with the generation prompt; ChatML with a warning when the model has no
 * template or uses Jinja outside frugal's subset. NULL (message printed) on a template error. */
static char *render_chat(const char *model, const char *system, const char *prompt) {
    fr_error err;
    frugal_chat_template t = {0};
    json_t *msgs = json_array();
    char *clean_p = cli_utf8_sanitize(prompt, strlen(prompt));
    char *clean_s = system ? cli_utf8_sanitize(system, strlen(system)) : NULL;
    if (clean_s) json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", clean_s));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", clean_p ? clean_p : ""));
    char *mj = json_dumps(msgs, JSON_COMPACT);
    char *out = NULL;
    size_t n = 0;
    fr_status st = frugal_chat_template_from_gguf(model, NULL, &t, &err);
    if (st == FR_OK) {
        frugal_chat_params p = frugal_chat_default_params();
        p.messages_json = mj;
        p.vars_json = t.vars_json;
        st = frugal_chat_render(t.source, strlen(t.source), &p, &out, &n, &err);
        if (st == FR_ERR_FORMAT || st == FR_ERR_RANGE) {
            fprintf(stderr, "frugal run: chat template: %s\n", err.msg);
            out = NULL;
            goto done;
        }
    }
    if (st != FR_OK) { /* no template, or outside the subset: the family's built-in format */
        frugal_tokenizer *tk = NULL;
        const char *fam = "chatml";
        fr_error e2;
        if (frugal_tokenizer_load(model, &tk, &e2) != FR_OK) tk = NULL;
        if (frugal_chat_builtin(tk, mj, true, &out, &fam, &e2) != FR_OK) {
            fprintf(stderr, "frugal run: %s\n", e2.msg);
            out = NULL;
        } else {
            fprintf(stderr, "frugal run: warning: %s; using the built-in %s format\n", err.msg, fam);
        }
        frugal_tokenizer_free(tk);
    }
done:
    frugal_chat_template_free(&t);
    free(mj);
    free(clean_p);
    free(clean_s);
    json_decref(msgs);
    return out;
}

int cmd_run(int argc, char **argv) {
    const char *C = "run", *model = NULL, *prompt = NULL;
    int32_t *ids = NULL;
    int64_t n_ids = 0, n_predict = 128, ctx = 0, threads = 0;
    int kv = -1, rc = EXIT_USAGE;
    bool ignore_eos = false, show_ids = false, chat_mode = false;
    const char *system = NULL;
    frugal_sampler_params sp = frugal_sampler_default_params();
    sp.seed = 42;
    stream st = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help, stdout);
            rc = EXIT_OK;
            goto done;
        }
        int sr = cli_sampling_flag(C, argc, argv, &i, &sp);
        if (sr < 0) goto done;
        if (sr > 0) continue;
#define VAL() if (!(v = cli_value(C, argc, argv, &i))) goto done
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VAL(); prompt = v; }
        else if (!strcmp(a, "--ids")) { VAL(); free(ids); if (!cli_ids(C, a, v, &ids, &n_ids)) goto done; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VAL(); if (!cli_int(C, a, v, -1, 1 << 24, &n_predict)) goto done; }
        else if (!strcmp(a, "--ctx")) { VAL(); if (!cli_int(C, a, v, 1, 1 << 24, &ctx)) goto done; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VAL(); if (!cli_int(C, a, v, 1, 1024, &threads)) goto done; }
        else if (!strcmp(a, "--kv-type")) { VAL(); if ((kv = cli_kv_type(C, v)) < 0) goto done; }
        else if (!strcmp(a, "--stop")) {
            VAL();
            if (st.n_stops == MAX_STOPS || !*v) { fprintf(stderr, "frugal %s: --stop: at most %d non-empty strings\n", C, MAX_STOPS); goto done; }
            st.stops[st.n_stops++] = v;
        }
        else if (!strcmp(a, "--ignore-eos")) ignore_eos = true;
        else if (!strcmp(a, "--show-ids")) show_ids = true;
        else if (!strcmp(a, "--chat")) chat_mode = true;
        else if (!strcmp(a, "--system")) { VAL(); system = v; }
        else { fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a); goto done; }
#undef VAL
    }
    if (!model) {
        fprintf(stderr, "frugal %s: -m MODEL is required (see --help)\n", C);
        goto done;
    }
    if (prompt && ids) {
        fprintf(stderr, "frugal %s: give either -p or --ids, not both\n", C);
        goto done;
    }
    if (prompt) { /* the model's own tokenizer; BOS/EOS as its tokenizer.ggml.add_*_token say */
        fr_error terr;
        frugal_tokenizer *tk = NULL;
        size_t plen = strlen(prompt);
        int64_t n = -1;
        char *rendered = NULL;
        if (chat_mode && !(rendered = render_chat(model, system, prompt))) goto done;
        const char *text = rendered ? rendered : prompt;
        plen = strlen(text);
        bool add_special = !rendered; /* the template writes the special tokens itself */
        if (frugal_tokenizer_load(model, &tk, &terr) == FR_OK) {
            frugal_tokenizer_info ti;
            frugal_tokenizer_get_info(tk, &ti);
            n = frugal_tokenizer_encode(tk, text, plen, add_special, true, NULL, 0, &terr);
            if (n >= 0 && !(ids = malloc((size_t)(n + 1) * sizeof *ids))) {
                terr.code = FR_ERR_NOMEM;
                snprintf(terr.msg, sizeof terr.msg, "out of memory");
                n = -1;
            }
            if (n > 0) n = frugal_tokenizer_encode(tk, text, plen, add_special, true, ids, n, &terr);
            /* --chat: BOS only where the model wants one and the template did not write it */
            if (rendered && n >= 0 && ti.add_bos && ti.bos >= 0 && (n == 0 || ids[0] != ti.bos)) {
                memmove(ids + 1, ids, sizeof *ids * (size_t)n);
                ids[0] = ti.bos;
                n++;
            }
            frugal_tokenizer_free(tk);
        }
        free(rendered);
        if (n < 0) {
            cli_error(C, &terr);
            rc = EXIT_ERR;
            goto done;
        }
        n_ids = n;
        if (n == 0) { /* an empty prompt: start from BOS below */
            free(ids);
            ids = NULL;
        }
    }
    rc = EXIT_ERR;
    fr_error err;
    frugal_model *m = NULL;
    frugal_context *c = NULL;
    frugal_sampler *smp = NULL;
    frugal_detokenizer *dtok = NULL;
    float *logits = NULL;
    if (frugal_model_load(model, &m, &err) != FR_OK) { cli_error(C, &err); goto done; }
    frugal_model_info info;
    frugal_model_get_info(m, &info);
    if (!ids) {
        if (info.bos < 0) {
            fprintf(stderr, "frugal %s: the model declares no BOS token; give a prompt with --ids\n", C);
            goto cleanup;
        }
        ids = malloc(sizeof *ids);
        if (!ids) goto cleanup;
        ids[0] = info.bos;
        n_ids = 1;
    }
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = ctx;
    cp.kv_type = kv;
    cp.n_threads = (int)threads;
    if (frugal_context_new(m, &cp, &c, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
    int64_t V = info.n_vocab, n_ctx = frugal_context_n_ctx(c);
    if (n_ids >= n_ctx) {
        fprintf(stderr, "frugal %s: the prompt has %lld tokens, but the context holds %lld (use --ctx)\n", C,
                (long long)n_ids, (long long)n_ctx);
        goto cleanup;
    }
    if (frugal_sampler_new(&sp, V, &smp, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
    logits = malloc(sizeof(float) * (size_t)V);
    if (!logits) goto cleanup;
    for (int64_t i = 0; i < n_ids; i++) frugal_sampler_accept(smp, ids[i]);
    double t0 = cli_now();
    if (frugal_eval(c, ids, n_ids, logits, n_ids - 1, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
    frugal_context_set_phase(c, FRUGAL_PHASE_DECODE); /* generation: one token at a time */
    double t1 = cli_now();
    const frugal_tokenizer *tkm = frugal_model_tokenizer(m, NULL);
    if (tkm && !show_ids && frugal_detokenizer_new(tkm, false, true, &dtok, &err) != FR_OK) dtok = NULL;
    int64_t n_gen = 0;
    const char *why = "length";
    char piece[1024];
    for (;;) {
        if (n_predict >= 0 && n_gen >= n_predict) break;
        if (frugal_context_n_past(c) >= n_ctx) { why = "context full"; break; }
        int32_t tok = frugal_sampler_sample(smp, logits, &err);
        if (tok < 0) { cli_error(C, &err); goto cleanup; }
        frugal_sampler_accept(smp, tok);
        n_gen++;
        if (!ignore_eos && frugal_model_is_eog(m, tok)) { why = "end of generation"; break; }
        if (show_ids) {
            int k = snprintf(piece, sizeof piece, "%s%d", n_gen > 1 ? " " : "", tok);
            stream_append(&st, piece, (size_t)k);
        } else {
            const char *text = piece;
            int64_t k = -1;
            if (dtok) k = frugal_detokenizer_push(dtok, tok, &text, &err);
            if (k < 0) { /* no tokenizer: the vocabulary's piece, or the id */
                text = piece;
                k = frugal_token_to_piece(m, tok, false, piece, sizeof piece);
                if (k < 0) k = snprintf(piece, sizeof piece, "[%d]", tok);
            }
            if (stream_append(&st, text, (size_t)k) != 0) goto cleanup;
        }
        if (stream_flush(&st, false)) { why = "stop string"; break; }
        if (frugal_context_n_past(c) >= n_ctx) continue;
        if (frugal_eval(c, &tok, 1, logits, 0, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
    }
    if (dtok && strcmp(why, "stop string") != 0) {
        const char *text;
        int64_t k = frugal_detokenizer_flush(dtok, &text);
        if (k > 0) stream_append(&st, text, (size_t)k);
    }
    if (strcmp(why, "stop string") != 0) stream_flush(&st, true);
    double t2 = cli_now();
    printf("\n");
    fprintf(stderr, "\nfrugal run: stopped: %s\n", why);
    fprintf(stderr, "prompt: %lld tokens, %.2f tokens/s | generation: %lld tokens, %.2f tokens/s\n", (long long)n_ids,
            n_ids / (t1 - t0), (long long)n_gen, n_gen > 0 ? n_gen / (t2 - t1) : 0.0);
    rc = EXIT_OK;
cleanup:
    frugal_detokenizer_free(dtok);
    free(logits);
    frugal_sampler_free(smp);
    frugal_context_free(c);
    frugal_model_free(m);
done:
    free(ids);
    free(st.text);
    return rc;
}

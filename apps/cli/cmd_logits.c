/* cmd_logits.c: `frugal logits` writes logits in the golden file format
 * (int32 n_prompt, n_vocab, n_rows; f32 logits[n_rows][n_vocab]; int32 n_gen;
 *  int32 greedy[n_gen]; f32 gen_logits[n_gen][n_vocab]), so any engine can be compared
 * with any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *k_help =
    "usage: frugal logits -m MODEL --ids 1,2,3 [options] -o OUT\n\n"
    "Feeds the ids exactly as given (no BOS is added) and writes the logits of the last\n"
    "R prompt rows, then of each continuation step, in the golden file format.\n\n"
    "  -m, --model PATH    GGUF model (first part of a split model)\n"
    "  --ids LIST          prompt token ids, comma-separated\n"
    "  --rows R            prompt rows to keep, counted from the end (default: all)\n"
    "  --follow LIST       feed these ids one decode step at a time; greedy[] holds them\n"
    "  --gen N             instead, choose the greedy token for exactly N steps (EOS ignored)\n"
    "  --batch B           process the prompt in chunks of B tokens (default 512)\n"
    "  --kv-type T         KV cache type: f16 (default), f32, q8_0\n"
    "  --ctx N             context size (default: prompt + continuation)\n"
    "  -t, --threads N     threads (default: all CPUs)\n"
    "  -o, --output PATH   output file\n";

static int argmax(const float *x, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return (int)b;
}

int cmd_logits(int argc, char **argv) {
    const char *C = "logits", *model = NULL, *out = NULL;
    int32_t *ids = NULL, *follow = NULL;
    int64_t n_ids = 0, n_follow = 0, rows = -1, gen = -1, batch = 512, threads = 0, ctx = 0;
    int kv = -1, rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help, stdout);
            rc = EXIT_OK;
            goto done;
        }
#define VAL() if (!(v = cli_value(C, argc, argv, &i))) goto done
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { VAL(); out = v; }
        else if (!strcmp(a, "--ids")) { VAL(); free(ids); if (!cli_ids(C, a, v, &ids, &n_ids)) goto done; }
        else if (!strcmp(a, "--follow")) { VAL(); free(follow); if (!cli_ids(C, a, v, &follow, &n_follow)) goto done; }
        else if (!strcmp(a, "--rows")) { VAL(); if (!cli_int(C, a, v, 0, 1 << 24, &rows)) goto done; }
        else if (!strcmp(a, "--gen")) { VAL(); if (!cli_int(C, a, v, 0, 1 << 20, &gen)) goto done; }
        else if (!strcmp(a, "--batch")) { VAL(); if (!cli_int(C, a, v, 1, 65536, &batch)) goto done; }
        else if (!strcmp(a, "--ctx")) { VAL(); if (!cli_int(C, a, v, 1, 1 << 24, &ctx)) goto done; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VAL(); if (!cli_int(C, a, v, 1, 1024, &threads)) goto done; }
        else if (!strcmp(a, "--kv-type")) { VAL(); if ((kv = cli_kv_type(C, v)) < 0) goto done; }
        else { fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a); goto done; }
#undef VAL
    }
    if (!model || !ids || !out) {
        fprintf(stderr, "frugal %s: -m MODEL, --ids and -o OUT are required (see --help)\n", C);
        goto done;
    }
    if (follow && gen >= 0) {
        fprintf(stderr, "frugal %s: --follow and --gen are exclusive\n", C);
        goto done;
    }
    if (rows < 0 || rows > n_ids) rows = n_ids;
    int64_t n_gen = follow ? n_follow : (gen > 0 ? gen : 0);
    rc = EXIT_ERR;
    fr_error err;
    frugal_model *m = NULL;
    frugal_context *c = NULL;
    float *logits = NULL;
    int32_t *greedy = NULL;
    FILE *f = NULL;
    if (frugal_model_load(model, &m, &err) != FR_OK) { cli_error(C, &err); goto done; }
    int64_t V = frugal_model_n_vocab(m);
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = ctx ? ctx : n_ids + n_gen;
    cp.n_batch = batch;
    cp.kv_type = kv;
    cp.n_threads = (int)threads;
    if (frugal_context_new(m, &cp, &c, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
    logits = malloc(sizeof(float) * (size_t)V * (size_t)(rows + 1));
    greedy = malloc(sizeof(int32_t) * (size_t)(n_gen + 1));
    if (!logits || !greedy) { fprintf(stderr, "frugal %s: out of memory\n", C); goto cleanup; }
    f = fopen(out, "wb");
    if (!f) { fprintf(stderr, "frugal %s: %s: cannot open for writing\n", C, out); goto cleanup; }
    int32_t hdr[3] = {(int32_t)n_ids, (int32_t)V, (int32_t)rows};
    fwrite(hdr, 4, 3, f);
    /* prompt in chunks of `batch`; keep the last `rows` rows */
    int64_t first = n_ids - rows;
    for (int64_t b = 0; b < n_ids; b += batch) {
        int64_t nb = n_ids - b < batch ? n_ids - b : batch;
        int64_t fr = first - b < 0 ? 0 : first - b;
        float *dst = fr < nb ? logits + (size_t)(b + fr - first) * V : NULL;
        if (frugal_eval(c, ids + b, nb, dst, fr, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
    }
    /* the last prompt row is needed for --gen even when rows == 0 */
    if (rows == 0 && gen > 0) {
        frugal_context_truncate(c, n_ids - 1);
        if (frugal_eval(c, ids + n_ids - 1, 1, logits, 0, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
    }
    fwrite(logits, sizeof(float), (size_t)V * (size_t)rows, f);
    int32_t ng = (int32_t)n_gen;
    fwrite(&ng, 4, 1, f);
    float *last = logits + (size_t)(rows > 0 ? rows - 1 : 0) * V;
    for (int64_t k = 0; k < n_gen; k++) greedy[k] = follow ? follow[k] : -1;
    frugal_context_set_phase(c, FRUGAL_PHASE_DECODE); /* the generated rows: decode steps */
    long gen_pos = ftell(f);
    fwrite(greedy, 4, (size_t)n_gen, f); /* rewritten below for --gen */
    for (int64_t k = 0; k < n_gen; k++) {
        int32_t tok = follow ? follow[k] : argmax(last, V);
        greedy[k] = tok;
        if (frugal_eval(c, &tok, 1, last, 0, &err) != FR_OK) { cli_error(C, &err); goto cleanup; }
        fwrite(last, sizeof(float), (size_t)V, f);
    }
    if (!follow && n_gen > 0) {
        fseek(f, gen_pos, SEEK_SET);
        fwrite(greedy, 4, (size_t)n_gen, f);
    }
    if (fflush(f) != 0 || ferror(f)) { fprintf(stderr, "frugal %s: %s: write failed\n", C, out); goto cleanup; }
    rc = EXIT_OK;
cleanup:
    if (f && fclose(f) != 0 && rc == EXIT_OK) { fprintf(stderr, "frugal %s: %s: write failed\n", C, out); rc = EXIT_ERR; }
    free(logits);
    free(greedy);
    frugal_context_free(c);
    frugal_model_free(m);
done:
    free(ids);
    free(follow);
    return rc;
}

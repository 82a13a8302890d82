/* cmd_bench.c: `frugal bench` measures prompt processing (pp) and generation (tg) speed
 * with llama-bench's method: pp feeds -p tokens in one batch to an empty context; tg
 * generates -n tokens one at a time from an empty context. One warm-up run, then -r
 * timed runs; the mean and standard deviation of tokens/s are reported.
 * --depth N first fills the context with N tokens (once, untimed); each test then starts
 * from those N tokens, so tg measures generation at N tokens of context (llama-bench's -d;
 * llama-batched-bench -npp N -ntg n -npl 1 reports the same generation figure). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *k_help =
    "usage: frugal bench -m MODEL [-p 512] [-n 128] [-r 5] [-t N] [-d N] [--json]\n\n"
    "  -m, --model PATH   GGUF model\n"
    "  -p N               prompt tokens for the pp test (default 512; 0 = skip)\n"
    "  -n N               generated tokens for the tg test (default 128; 0 = skip)\n"
    "  -r N               repetitions (default 5)\n"
    "  -d, --depth N      tokens of context before each test (default 0)\n"
    "  -t, --threads N    threads (default: all CPUs)\n"
    "  --kv-type T        KV cache type: f16 (default), f32, q8_0\n"
    "  --json             print one JSON object on the last line of stdout with keys:\n"
    "                     model, pp_tps, pp_sd, tg_tps, tg_sd, n_prompt, n_gen, depth,\n"
    "                     threads, reps, isa (plus membw_gbps, fp32_gflops, int8_gops when measured)\n"
    "machine ceilings (no model needed):\n"
    "  --membw            read bandwidth: streaming read of a 1 GiB buffer on all threads,\n"
    "                     best of 5 (membw_gbps)\n"
    "  --flops            FP32 FMA peak (fp32_gflops) and int8 dot-product peak (int8_gops)\n";

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

int cmd_bench(int argc, char **argv) {
    const char *C = "bench", *model = NULL;
    int64_t n_prompt = 512, n_gen = 128, reps = 5, threads = 0, depth = 0;
    int kv = -1;
    bool json = false, membw = false, flops = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help, stdout);
            return EXIT_OK;
        }
#define VAL() if (!(v = cli_value(C, argc, argv, &i))) return EXIT_USAGE
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model = v; }
        else if (!strcmp(a, "-p")) { VAL(); if (!cli_int(C, a, v, 0, 65536, &n_prompt)) return EXIT_USAGE; }
        else if (!strcmp(a, "-n")) { VAL(); if (!cli_int(C, a, v, 0, 65536, &n_gen)) return EXIT_USAGE; }
        else if (!strcmp(a, "-r")) { VAL(); if (!cli_int(C, a, v, 1, 1000, &reps)) return EXIT_USAGE; }
        else if (!strcmp(a, "-d") || !strcmp(a, "--depth")) { VAL(); if (!cli_int(C, a, v, 0, 1 << 20, &depth)) return EXIT_USAGE; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VAL(); if (!cli_int(C, a, v, 1, 1024, &threads)) return EXIT_USAGE; }
        else if (!strcmp(a, "--kv-type")) { VAL(); if ((kv = cli_kv_type(C, v)) < 0) return EXIT_USAGE; }
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--membw")) membw = true;
        else if (!strcmp(a, "--flops")) flops = true;
        else { fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a); return EXIT_USAGE; }
#undef VAL
    }
    if ((membw || flops) && !model) {
        int nt = threads ? (int)threads : frugal_cpu_count();
        json_t *o = json_object();
        json_object_set_new(o, "threads", json_integer(nt));
        json_object_set_new(o, "isa", json_string(frugal_isa()));
        if (membw) {
            double bw = frugal_probe_membw_gbps(nt, (size_t)1 << 30);
            if (bw < 0) {
                fprintf(stderr, "frugal %s: --membw: cannot allocate 1 GiB\n", C);
                json_decref(o);
                return EXIT_ERR;
            }
            printf("membw_gbps: %.2f (streaming read of 1 GiB, %d threads, best of 5)\n", bw, nt);
            json_object_set_new(o, "membw_gbps", json_real(bw));
        }
        if (flops) {
            double f = frugal_probe_fp32_gflops(nt), g = frugal_probe_int8_gops(nt);
            printf("fp32_gflops: %.1f (FMA, %d threads)\nint8_gops: %.1f (u8 x s8 -> s32 dot, %d threads)\n", f, nt, g, nt);
            json_object_set_new(o, "fp32_gflops", json_real(f));
            json_object_set_new(o, "int8_gops", json_real(g));
        }
        if (json) {
            char *js = json_dumps(o, JSON_COMPACT);
            if (js) printf("%s\n", js);
            free(js);
        }
        json_decref(o);
        return EXIT_OK;
    }
    if (!model) {
        fprintf(stderr, "frugal %s: -m MODEL is required (see --help)\n", C);
        return EXIT_USAGE;
    }
    fr_error err;
    frugal_model *m;
    if (frugal_model_load(model, &m, &err) != FR_OK) {
        cli_error(C, &err);
        return EXIT_ERR;
    }
    int rc = EXIT_ERR;
    int64_t V = frugal_model_n_vocab(m);
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = depth + (n_prompt > n_gen ? n_prompt : n_gen) + 1;
    cp.n_batch = n_prompt > 0 ? n_prompt : 512;
    cp.kv_type = kv;
    cp.n_threads = (int)threads;
    frugal_context *c = NULL;
    int64_t n_toks = depth + n_prompt + n_gen + 1;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)n_toks);
    float *logits = malloc(sizeof(float) * (size_t)V);
    double *pp = calloc((size_t)reps, sizeof(double)), *tg = calloc((size_t)reps, sizeof(double));
    if (!toks || !logits || !pp || !tg) goto done;
    if (frugal_context_new(m, &cp, &c, &err) != FR_OK) {
        cli_error(C, &err);
        goto done;
    }
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (int64_t i = 0; i < n_toks; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        toks[i] = (int32_t)(s % (uint64_t)V);
    }
    if (depth > 0 && frugal_eval(c, toks, depth, NULL, depth, &err) != FR_OK) { cli_error(C, &err); goto done; }
    const int32_t *tt = toks + depth;
    for (int64_t r = -1; r < reps; r++) { /* r = -1: warm-up */
        if (n_prompt > 0) {
            frugal_context_truncate(c, depth);
            frugal_context_set_phase(c, FRUGAL_PHASE_PROMPT);
            double t0 = cli_now();
            if (frugal_eval(c, tt, n_prompt, logits, n_prompt - 1, &err) != FR_OK) { cli_error(C, &err); goto done; }
            double t = cli_now() - t0;
            if (r >= 0) pp[r] = (double)n_prompt / t;
        }
        if (n_gen > 0) {
            frugal_context_truncate(c, depth);
            frugal_context_set_phase(c, FRUGAL_PHASE_DECODE);
            double t0 = cli_now();
            for (int64_t k = 0; k < n_gen; k++)
                if (frugal_eval(c, &tt[k], 1, logits, 0, &err) != FR_OK) { cli_error(C, &err); goto done; }
            double t = cli_now() - t0;
            if (r >= 0) tg[r] = (double)n_gen / t;
        }
    }
    double pm, psd, tm, tsd;
    stats(pp, (int)reps, &pm, &psd);
    stats(tg, (int)reps, &tm, &tsd);
    int nt = threads ? (int)threads : frugal_cpu_count();
    printf("| model | threads | test | t/s |\n|---|---|---|---|\n");
    char at[48] = "";
    if (depth > 0) snprintf(at, sizeof at, " @ d%lld", (long long)depth);
    if (n_prompt > 0) printf("| %s | %d | pp%lld%s | %.2f ± %.2f |\n", model, nt, (long long)n_prompt, at, pm, psd);
    if (n_gen > 0) printf("| %s | %d | tg%lld%s | %.2f ± %.2f |\n", model, nt, (long long)n_gen, at, tm, tsd);
    if (json) {
        json_t *o = json_pack("{s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:i, s:I, s:s}", "model", model, "pp_tps", pm,
                              "pp_sd", psd, "tg_tps", tm, "tg_sd", tsd, "n_prompt", (json_int_t)n_prompt, "n_gen",
                              (json_int_t)n_gen, "depth", (json_int_t)depth, "threads", nt, "reps", (json_int_t)reps,
                              "isa", frugal_isa());
        char *js = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (js) printf("%s\n", js);
        free(js);
        json_decref(o);
    }
    rc = EXIT_OK;
done:
    free(toks);
    free(logits);
    free(pp);
    free(tg);
    frugal_context_free(c);
    frugal_model_free(m);
    return rc;
}

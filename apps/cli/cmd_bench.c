/* cmd_bench.c: `frugal bench` measures prompt processing (pp) and generation (tg) speed
 * with llama-bench's method: pp feeds -p tokens in one batch to an empty context; tg
 * generates -n tokens one at a time from an empty context. One warm-up run, then -r
 * timed runs; the mean and standard deviation of tokens/s are reported.
 * --depth N first fills the context with N tokens (once, untimed); each test then starts
 * from those N tokens, so tg measures generation at N tokens of context (llama-bench's -d;
 * llama-batched-bench -npp N -ntg n -npl 1 reports the same generation figure).
 * --seqs N is llama-batched-bench -npp 128 -ntg 32 -npl N: N sequences of one context each
 * get a prompt of -p tokens (default 128; all prompts in one frugal_eval_seqs call, split by
 * the batch size), then -n decode steps (default 32) in which every sequence advances one
 * token in ONE frugal_eval_seqs call. Reported: the prompt time and rate (N*pp tokens) and
 * the aggregate generation rate N*ntg / decode time.
 * --tokens picks the token ids: `random` (the default) gives pseudo-random ids, as llama-bench
 * does, and with --seqs every sequence its own, as a server's different requests are; `zero`
 * feeds id 0 at every position (of every sequence), which is what llama-batched-bench feeds
 * (its prompts and decode steps all add token 0), so that the two engines do the same work:
 * for a MoE model, equal tokens route to the same experts. With --seqs the sequences are then
 * the same sequence N times, and their logits must be the same bits, which the bench checks
 * (batch invariance). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *k_help =
    "usage: frugal bench -m MODEL [-p 512] [-n 128] [-r 5] [-t N] [-d N] [-ub 512] [--tokens random|zero]\n"
    "                    [--json]\n"
    "       frugal bench -m MODEL --seqs N [-p 128] [-n 32] [-r 1] [-t N] [--tokens random|zero]\n"
    "                    [--json]\n\n"
    "  -m, --model PATH   GGUF model\n"
    "  -p N               prompt tokens for the pp test (default 512; 0 = skip)\n"
    "  -n N               generated tokens for the tg test (default 128; 0 = skip)\n"
    "  -r N               repetitions (default 5)\n"
    "  -d, --depth N      tokens of context before each test (default 0)\n"
    "  -t, --threads N    threads (default: all CPUs)\n"
    "  -ub, --ubatch N    prompt rows per forward pass (default 512, as llama-bench's\n"
    "                     n_ubatch): a longer prompt (with --seqs, all sequences' prompts)\n"
    "                     runs in passes of N rows\n"
    "  --kv-type T        KV cache type: f16 (default), f32, q8_0\n"
    "  --seqs N           batched decode of N sequences (1..256) in one context, as\n"
    "                     llama-batched-bench -npp 128 -ntg 32 -npl N: each sequence gets a\n"
    "                     prompt of -p tokens (default 128), then -n steps (default 32) advance\n"
    "                     all N sequences one token each in one call; reports the prompt time\n"
    "                     and the aggregate generation rate N*n / decode time (-r default 1)\n"
    "  --tokens MODE      the token ids fed: random (default, as llama-bench feeds; with\n"
    "                     --seqs each sequence its own) or zero (id 0 everywhere, as\n"
    "                     llama-batched-bench feeds: the same work as that peer; with --seqs\n"
    "                     every sequence is then the same, and the bench fails unless their\n"
    "                     logits are the same bits)\n"
    "  --json             print one JSON object on the last line of stdout with keys:\n"
    "                     model, pp_tps, pp_sd, tg_tps, tg_sd, n_prompt, n_gen, depth,\n"
    "                     threads, reps, isa, ubatch, tokens, decode_prefetch (l1 or l2) and\n"
    "                     kquant_streams and streams_prefetch (true or false),\n"
    "                     f16_prefetch (bytes) and f16_streams (1 to 3; all five: see\n"
    "                     the README),\n"
    "                     active_bytes (weight bytes read per generated token), tg_gbps\n"
    "                     (tg_tps x active_bytes); with --membw also membw_gbps\n"
    "                     (the larger of membw_gbps_before and _after the runs) and tg_membw_pct;\n"
    "                     with a model also load_s (the load's wall time), repack_s (of which\n"
    "                     repacking), repacked_matrices, repacked_bytes (also printed as a\n"
    "                     'load:' line);\n"
    "                     without -m: threads, isa, decode_prefetch, kquant_streams,\n"
    "                     streams_prefetch, f16_prefetch, f16_streams, membw_gbps, fp32_gflops,\n"
    "                     int8_gops, bf16_gflops;\n"
    "                     with --seqs: model, seqs, n_prompt, n_gen, threads, reps, isa, pp_s,\n"
    "                     pp_tps (N*pp / pp_s), tg_s, tg_tps (N*n / tg_s), tg_tps_per_seq,\n"
    "                     pp_sd, tg_sd (of the rates), ubatch, tokens (random or zero)\n"
    "machine ceilings (no model needed):\n"
    "  --membw            read bandwidth: streaming read of a 1 GiB buffer on all threads,\n"
    "                     best of 2 x 5 runs (membw_gbps; with AVX2 half of them add a software\n"
    "                     prefetch, and the faster pattern counts). With -m: measured before\n"
    "                     and after the runs, and the generation's read rate is given as a\n"
    "                     share of the larger\n"
    "  --flops            FP32 FMA peak (fp32_gflops) and int8 dot-product peak (int8_gops);\n"
    "                     with AVX512_BF16 also the BF16 dot-product peak (bf16_gflops)\n";

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* The model loaded, and the wall time of the load (repacking included) in *load_s; NULL after
 * reporting an error. */
static frugal_model *load_timed(const char *C, const char *model, double *load_s) {
    fr_error err;
    frugal_model *m;
    const double t0 = cli_now();
    if (frugal_model_load(model, &m, &err) != FR_OK) {
        cli_error(C, &err);
        return NULL;
    }
    *load_s = cli_now() - t0;
    return m;
}

/* The load's line under the table, and its JSON keys (o may be NULL). */
static void report_load(const frugal_model *m, double load_s, json_t *o) {
    frugal_model_info mi;
    frugal_model_get_info(m, &mi);
    printf("load: %.2f s, of which repacking %lld matrices (%.1f MiB) %.2f s\n", load_s, (long long)mi.n_repacked,
           (double)mi.repacked_bytes / (1 << 20), mi.repack_seconds);
    if (!o) return;
    json_object_set_new(o, "load_s", json_real(load_s));
    json_object_set_new(o, "repack_s", json_real(mi.repack_seconds));
    json_object_set_new(o, "repacked_matrices", json_integer((json_int_t)mi.n_repacked));
    json_object_set_new(o, "repacked_bytes", json_integer((json_int_t)mi.repacked_bytes));
}

/* The n token ids a run feeds: id 0 everywhere (--tokens zero), else pseudo-random ids below V
 * from a fixed xorshift64 seed, the same in every run. */
static void bench_tokens(int32_t *toks, int64_t n, int64_t V, bool zero_tokens) {
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        toks[i] = zero_tokens ? 0 : (int32_t)(s % (uint64_t)V);
    }
}

/* With --tokens zero every sequence is the same one: the n rows of logits at `logits` (V each)
 * must be the same bits. Returns false, after saying which row differs, if not. */
static bool rows_identical(const char *C, const float *logits, int64_t n, int64_t V, const char *when) {
    for (int64_t k = 1; k < n; k++)
        if (memcmp(logits, logits + k * V, sizeof(float) * (size_t)V) != 0) {
            fprintf(stderr,
                    "frugal %s: --tokens zero: sequence %lld's logits differ from sequence 0's %s; "
                    "the same tokens must give the same bits whatever the batch\n",
                    C, (long long)k, when);
            return false;
        }
    return true;
}

/* --seqs: N sequences, prompts then batched decode steps (see the top of the file). */
static int bench_seqs(const char *C, const char *model, int64_t n_seqs, int64_t n_prompt, int64_t n_gen, int64_t reps,
                      int64_t threads, int kv, int64_t ubatch, bool zero_tokens, bool json) {
    fr_error err;
    double load_s;
    frugal_model *m = load_timed(C, model, &load_s);
    if (!m) return EXIT_ERR;
    int rc = EXIT_ERR;
    int64_t V = frugal_model_n_vocab(m), N = n_seqs;
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = n_prompt + n_gen + 1;
    cp.n_seq = (int)N;
    cp.n_batch = ubatch;
    cp.kv_type = kv;
    cp.n_threads = (int)threads;
    frugal_context *c = NULL;
    size_t n_rows = (size_t)(N * n_prompt > N ? N * n_prompt : N);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(N * (n_prompt + n_gen))); /* sequence k: [k][pp + ntg] */
    int32_t *rt = malloc(sizeof(int32_t) * n_rows), *rs = malloc(sizeof(int32_t) * n_rows);
    uint8_t *want = malloc(n_rows);
    float *logits = malloc(sizeof(float) * (size_t)V * (size_t)N);
    double *pp_s = calloc((size_t)reps, sizeof(double)), *tg_s = calloc((size_t)reps, sizeof(double));
    double *pp_r = calloc((size_t)reps, sizeof(double)), *tg_r = calloc((size_t)reps, sizeof(double));
    if (!toks || !rt || !rs || !want || !logits || !pp_s || !tg_s || !pp_r || !tg_r) {
        fprintf(stderr, "frugal %s: out of memory\n", C);
        goto done;
    }
    if (frugal_context_new(m, &cp, &c, &err) != FR_OK) {
        cli_error(C, &err);
        goto done;
    }
    int64_t L = n_prompt + n_gen;
    bench_tokens(toks, N * L, V, zero_tokens);
    /* warm-up (untimed): one token pages the mmapped weights in */
    if (frugal_eval_seqs(c, toks, NULL, 1, NULL, NULL, &err) != FR_OK) { cli_error(C, &err); goto done; }
    for (int64_t r = 0; r < reps; r++) {
        for (int64_t k = 0; k < N; k++) frugal_seq_truncate(c, (int32_t)k, 0);
        /* every prompt in one call (split by the batch size); logits of each last row */
        int64_t n = 0;
        for (int64_t k = 0; k < N; k++)
            for (int64_t i = 0; i < n_prompt; i++, n++) {
                rt[n] = toks[k * L + i];
                rs[n] = (int32_t)k;
                want[n] = i == n_prompt - 1;
            }
        frugal_context_set_phase(c, FRUGAL_PHASE_PROMPT);
        double t0 = cli_now();
        if (n > 0 && frugal_eval_seqs(c, rt, rs, n, want, logits, &err) != FR_OK) { cli_error(C, &err); goto done; }
        pp_s[r] = cli_now() - t0;
        if (zero_tokens && n > 0 && !rows_identical(C, logits, N, V, "after the prompts")) goto done;
        pp_r[r] = pp_s[r] > 0 ? (double)n / pp_s[r] : 0;
        /* decode: one call per step, one row per sequence */
        frugal_context_set_phase(c, FRUGAL_PHASE_DECODE);
        for (int64_t k = 0; k < N; k++) rs[k] = (int32_t)k;
        t0 = cli_now();
        for (int64_t g = 0; g < n_gen; g++) {
            for (int64_t k = 0; k < N; k++) rt[k] = toks[k * L + n_prompt + g];
            if (frugal_eval_seqs(c, rt, rs, N, NULL, logits, &err) != FR_OK) { cli_error(C, &err); goto done; }
            /* (a memcmp of N rows a step: microseconds against a decode step's milliseconds) */
            if (zero_tokens && !rows_identical(C, logits, N, V, "at a decode step")) goto done;
        }
        tg_s[r] = cli_now() - t0;
        tg_r[r] = tg_s[r] > 0 ? (double)(N * n_gen) / tg_s[r] : 0;
    }
    double pps, pps_sd, tgs, tgs_sd, ppm, ppsd, tgm, tgsd;
    stats(pp_s, (int)reps, &pps, &pps_sd);
    stats(tg_s, (int)reps, &tgs, &tgs_sd);
    stats(pp_r, (int)reps, &ppm, &ppsd);
    stats(tg_r, (int)reps, &tgm, &tgsd);
    int nt = threads ? (int)threads : frugal_cpu_count();
    printf("| model | threads | seqs | pp | tg | pp s | pp t/s | tg s | tg t/s | tg t/s per seq |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    printf("| %s | %d | %lld | %lld | %lld | %.3f | %.2f ± %.2f | %.3f | %.2f ± %.2f | %.2f |\n", model, nt,
           (long long)N, (long long)n_prompt, (long long)n_gen, pps, ppm, ppsd, tgs, tgm, tgsd, tgm / (double)N);
    if (!json) report_load(m, load_s, NULL);
    if (json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:i, s:I, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "model", model,
                              "seqs", (json_int_t)N, "n_prompt", (json_int_t)n_prompt, "n_gen", (json_int_t)n_gen,
                              "threads", nt, "reps", (json_int_t)reps, "isa", frugal_isa(), "pp_s", pps, "pp_tps", ppm,
                              "pp_sd", ppsd, "tg_s", tgs, "tg_tps", tgm, "tg_sd", tgsd, "tg_tps_per_seq",
                              tgm / (double)N);
        if (o) json_object_set_new(o, "ubatch", json_integer((json_int_t)ubatch));
        if (o) json_object_set_new(o, "tokens", json_string(zero_tokens ? "zero" : "random"));
        report_load(m, load_s, o);
        char *js = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (js) printf("%s\n", js);
        free(js);
        json_decref(o);
    }
    rc = EXIT_OK;
done:
    free(toks);
    free(rt);
    free(rs);
    free(want);
    free(logits);
    free(pp_s);
    free(tg_s);
    free(pp_r);
    free(tg_r);
    frugal_context_free(c);
    frugal_model_free(m);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *C = "bench", *model = NULL;
    int64_t n_prompt = 512, n_gen = 128, reps = 5, threads = 0, depth = 0, n_seqs = 0, ubatch = 512;
    int kv = -1;
    bool json = false, membw = false, flops = false, set_p = false, set_n = false, set_r = false, set_d = false;
    const char *tokens = NULL; /* --tokens: random (default) or zero */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help, stdout);
            return EXIT_OK;
        }
#define VAL() if (!(v = cli_value(C, argc, argv, &i))) return EXIT_USAGE
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model = v; }
        else if (!strcmp(a, "-p")) { VAL(); if (!cli_int(C, a, v, 0, 65536, &n_prompt)) return EXIT_USAGE; set_p = true; }
        else if (!strcmp(a, "-n")) { VAL(); if (!cli_int(C, a, v, 0, 65536, &n_gen)) return EXIT_USAGE; set_n = true; }
        else if (!strcmp(a, "-r")) { VAL(); if (!cli_int(C, a, v, 1, 1000, &reps)) return EXIT_USAGE; set_r = true; }
        else if (!strcmp(a, "-d") || !strcmp(a, "--depth")) { VAL(); if (!cli_int(C, a, v, 0, 1 << 20, &depth)) return EXIT_USAGE; set_d = true; }
        else if (!strcmp(a, "-ub") || !strcmp(a, "--ubatch")) { VAL(); if (!cli_int(C, a, v, 1, 65536, &ubatch)) return EXIT_USAGE; }
        else if (!strcmp(a, "--seqs")) { VAL(); if (!cli_int(C, a, v, 1, 256, &n_seqs)) return EXIT_USAGE; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VAL(); if (!cli_int(C, a, v, 1, 1024, &threads)) return EXIT_USAGE; }
        else if (!strcmp(a, "--tokens")) { VAL(); tokens = v; }
        else if (!strcmp(a, "--kv-type")) { VAL(); if ((kv = cli_kv_type(C, v)) < 0) return EXIT_USAGE; }
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--membw")) membw = true;
        else if (!strcmp(a, "--flops")) flops = true;
        else { fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a); return EXIT_USAGE; }
#undef VAL
    }
    if (flops && model) {
        fprintf(stderr, "frugal %s: --flops is a machine probe: run it without -m\n", C);
        return EXIT_USAGE;
    }
    if ((membw || flops) && !model) {
        int nt = threads ? (int)threads : frugal_cpu_count();
        json_t *o = json_object();
        json_object_set_new(o, "threads", json_integer(nt));
        json_object_set_new(o, "isa", json_string(frugal_isa()));
        json_object_set_new(o, "decode_prefetch", json_string(frugal_decode_prefetch()));
        json_object_set_new(o, "kquant_streams", json_boolean(frugal_decode_kquant_streams()));
        json_object_set_new(o, "streams_prefetch", json_boolean(frugal_decode_streams_prefetch()));
        json_object_set_new(o, "f16_prefetch", json_integer((json_int_t)frugal_decode_f16_prefetch()));
        json_object_set_new(o, "f16_streams", json_integer(frugal_decode_f16_streams()));
        if (membw) {
            double bw = frugal_probe_membw_gbps(nt, (size_t)1 << 30);
            if (bw < 0) {
                fprintf(stderr, "frugal %s: --membw: cannot allocate 1 GiB\n", C);
                json_decref(o);
                return EXIT_ERR;
            }
            printf("membw_gbps: %.2f (streaming read of 1 GiB, %d threads, best of 2 x 5)\n", bw, nt);
            json_object_set_new(o, "membw_gbps", json_real(bw));
        }
        if (flops) {
            double f = frugal_probe_fp32_gflops(nt), g = frugal_probe_int8_gops(nt);
            printf("fp32_gflops: %.1f (FMA, %d threads)\nint8_gops: %.1f (u8 x s8 -> s32 dot, %d threads)\n", f, nt, g, nt);
            json_object_set_new(o, "fp32_gflops", json_real(f));
            json_object_set_new(o, "int8_gops", json_real(g));
            const double b = frugal_probe_bf16_gflops(nt);
            if (b > 0) { /* (the BF16 prompt kernel's instruction, where the CPU has it) */
                printf("bf16_gflops: %.1f (vdpbf16ps, %d threads)\n", b, nt);
                json_object_set_new(o, "bf16_gflops", json_real(b));
            }
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
    if (tokens && strcmp(tokens, "random") && strcmp(tokens, "zero")) {
        fprintf(stderr, "frugal %s: --tokens '%s': expected random or zero\n", C, tokens);
        return EXIT_USAGE;
    }
    const bool zero_tokens = tokens && !strcmp(tokens, "zero");
    if (n_seqs > 0) {
        if (set_d) {
            fprintf(stderr, "frugal %s: --depth cannot be combined with --seqs\n", C);
            return EXIT_USAGE;
        }
        return bench_seqs(C, model, n_seqs, set_p ? n_prompt : 128, set_n ? n_gen : 32, set_r ? reps : 1, threads, kv,
                          ubatch, zero_tokens, json);
    }
    /* with --membw: the bandwidth before and after the runs, for the generation's share of it */
    double bw0 = 0, bw1 = 0;
    if (membw && (bw0 = frugal_probe_membw_gbps(threads ? (int)threads : frugal_cpu_count(), (size_t)1 << 30)) < 0) {
        fprintf(stderr, "frugal %s: --membw: cannot allocate 1 GiB\n", C);
        return EXIT_ERR;
    }
    fr_error err;
    double load_s;
    frugal_model *m = load_timed(C, model, &load_s);
    if (!m) return EXIT_ERR;
    int rc = EXIT_ERR;
    int64_t V = frugal_model_n_vocab(m);
    frugal_model_info mi;
    frugal_model_get_info(m, &mi);
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = depth + (n_prompt > n_gen ? n_prompt : n_gen) + 1;
    cp.n_batch = ubatch;
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
    bench_tokens(toks, n_toks, V, zero_tokens);
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
    /* generation's read rate: the weight bytes of a token (frugal info) times tokens/s */
    double tg_gbps = tm * (double)mi.active_bytes * 1e-9;
    if (membw && (bw1 = frugal_probe_membw_gbps(nt, (size_t)1 << 30)) < 0) bw1 = bw0;
    /* the ceiling is the better of the two (each the best of 2 x 5): a probe slowed by the VM or
     * by the system's own work around a load would raise the generation's share (the mean
     * did: before the runs 26-37 GB/s, after them 70-80, in one minute) */
    double ceil_gbps = bw0 > bw1 ? bw0 : bw1;
    if (membw && n_gen > 0 && ceil_gbps > 0)
        printf("tg%lld%s: %.2f t/s x %.1f MB of weights per token = %.1f GB/s, %.0f%% of membw %.1f GB/s "
               "(before the runs %.1f, after %.1f)\n",
               (long long)n_gen, at, tm, (double)mi.active_bytes * 1e-6, tg_gbps, 100.0 * tg_gbps / ceil_gbps, ceil_gbps,
               bw0, bw1);
    if (!json) report_load(m, load_s, NULL);
    if (json) {
        json_t *o = json_pack("{s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:i, s:I, s:s}", "model", model, "pp_tps", pm,
                              "pp_sd", psd, "tg_tps", tm, "tg_sd", tsd, "n_prompt", (json_int_t)n_prompt, "n_gen",
                              (json_int_t)n_gen, "depth", (json_int_t)depth, "threads", nt, "reps", (json_int_t)reps,
                              "isa", frugal_isa());
        if (o) {
            json_object_set_new(o, "ubatch", json_integer((json_int_t)ubatch));
            json_object_set_new(o, "tokens", json_string(zero_tokens ? "zero" : "random"));
            json_object_set_new(o, "decode_prefetch", json_string(frugal_decode_prefetch()));
            json_object_set_new(o, "kquant_streams", json_boolean(frugal_decode_kquant_streams()));
            json_object_set_new(o, "streams_prefetch", json_boolean(frugal_decode_streams_prefetch()));
            json_object_set_new(o, "f16_prefetch", json_integer((json_int_t)frugal_decode_f16_prefetch()));
            json_object_set_new(o, "f16_streams", json_integer(frugal_decode_f16_streams()));
            json_object_set_new(o, "active_bytes", json_integer((json_int_t)mi.active_bytes));
            if (n_gen > 0) json_object_set_new(o, "tg_gbps", json_real(tg_gbps));
            if (membw) {
                json_object_set_new(o, "membw_gbps", json_real(ceil_gbps));
                json_object_set_new(o, "membw_gbps_before", json_real(bw0));
                json_object_set_new(o, "membw_gbps_after", json_real(bw1));
                if (n_gen > 0 && ceil_gbps > 0) json_object_set_new(o, "tg_membw_pct", json_real(100.0 * tg_gbps / ceil_gbps));
            }
            report_load(m, load_s, o);
        }
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

/* cmd_info.c: `frugal info` describes a model and what it needs to run. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *k_help =
    "usage: frugal info [-m] MODEL [--json] [--check]\n\n"
    "Architecture, parameter counts, tensor types, context length, memory for the weights\n"
    "and for the KV cache per 1,000 tokens (F16 cache), the weights repacked at load for the\n"
    "GEMM kernels (or copied into huge pages), and the license when the file has one.\n\n"
    "  --check   scan every weight for NaN/Inf; exit 1 if any is found\n"
    "  --json    one JSON object on stdout with the keys:\n"
    "            arch, name, license, path, gguf_version, n_splits, file_bytes,\n"
    "            weight_bytes, active_bytes, repacked_matrices, repacked_bytes, n_params, n_params_active,\n"
    "            n_params_layer_matrices (the blocks' weight matrices a token uses: multiply-adds per\n"
    "            prompt token in the matrix products, without embedding, output and norms),\n"
    "            n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff,\n"
    "            kv_bytes_per_token_f16, kv_bytes_per_1k_tokens_f16, types {TYPE: {tensors, bytes}}, bos, eos,\n"
    "            eog [ids], check (only with --check: {bad_tensors, message})\n";

static void human(double b, char *buf, size_t n) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, "%.2f %s", b, u[i]);
}

static void count(double v, char *buf, size_t n) {
    if (v >= 1e9)
        snprintf(buf, n, "%.2fB", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else
        snprintf(buf, n, "%.0f", v);
}

int cmd_info(int argc, char **argv) {
    const char *C = "info", *model = NULL;
    bool json = false, check = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--check")) check = true;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (a[0] != '-' && !model) model = a;
        else {
            fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a);
            return EXIT_USAGE;
        }
    }
    if (!model) {
        fprintf(stderr, "frugal %s: a model path is required (see --help)\n", C);
        return EXIT_USAGE;
    }
    fr_error err;
    frugal_model *m;
    if (frugal_model_open(model, false, &m, &err) != FR_OK) { /* no repacking: info is instant */
        cli_error(C, &err);
        return EXIT_ERR;
    }
    frugal_model_info in;
    frugal_model_get_info(m, &in);
    int64_t bad = 0;
    fr_error cerr = {FR_OK, ""};
    if (check) bad = frugal_model_check_weights(m, &cerr);
    uint64_t kv1k = in.kv_bytes_per_token_f16 * 1000;
    if (json) {
        json_t *o = json_object(), *types = json_object(), *eog = json_array();
        json_object_set_new(o, "arch", json_string(in.arch));
        json_object_set_new(o, "name", json_string(in.name));
        json_object_set_new(o, "license", json_string(in.license));
        json_object_set_new(o, "path", json_string(in.path));
        json_object_set_new(o, "gguf_version", json_integer(in.gguf_version));
        json_object_set_new(o, "n_splits", json_integer(in.n_splits));
        json_object_set_new(o, "file_bytes", json_integer((json_int_t)in.file_bytes));
        json_object_set_new(o, "weight_bytes", json_integer((json_int_t)in.weight_bytes));
        json_object_set_new(o, "active_bytes", json_integer((json_int_t)in.active_bytes));
        json_object_set_new(o, "repacked_matrices", json_integer((json_int_t)in.n_repacked));
        json_object_set_new(o, "repacked_bytes", json_integer((json_int_t)in.repacked_bytes));
        json_object_set_new(o, "n_params", json_integer(in.n_params));
        json_object_set_new(o, "n_params_active", json_integer(in.n_params_active));
        json_object_set_new(o, "n_params_layer_matrices", json_integer(in.n_params_layer_matrices));
        json_object_set_new(o, "n_vocab", json_integer(in.n_vocab));
        json_object_set_new(o, "n_ctx_train", json_integer(in.n_ctx_train));
        json_object_set_new(o, "n_embd", json_integer(in.n_embd));
        json_object_set_new(o, "n_layer", json_integer(in.n_layer));
        json_object_set_new(o, "n_head", json_integer(in.n_head));
        json_object_set_new(o, "n_head_kv", json_integer(in.n_head_kv));
        json_object_set_new(o, "head_dim", json_integer(in.head_dim));
        json_object_set_new(o, "n_ff", json_integer(in.n_ff));
        json_object_set_new(o, "kv_bytes_per_token_f16", json_integer((json_int_t)in.kv_bytes_per_token_f16));
        json_object_set_new(o, "kv_bytes_per_1k_tokens_f16", json_integer((json_int_t)kv1k));
        for (int t = 0; t < FRUGAL_MAX_TYPES; t++) {
            if (!in.type_count[t]) continue;
            json_t *e = json_object();
            json_object_set_new(e, "tensors", json_integer(in.type_count[t]));
            json_object_set_new(e, "bytes", json_integer((json_int_t)in.type_bytes[t]));
            json_object_set_new(types, frugal_type_name(t), e);
        }
        json_object_set_new(o, "types", types);
        json_object_set_new(o, "bos", json_integer(in.bos));
        json_object_set_new(o, "eos", json_integer(in.eos));
        for (int i = 0; i < in.n_eog; i++) json_array_append_new(eog, json_integer(in.eog[i]));
        json_object_set_new(o, "eog", eog);
        if (check) {
            json_t *ch = json_object();
            json_object_set_new(ch, "bad_tensors", json_integer(bad));
            json_object_set_new(ch, "message", json_string(bad ? cerr.msg : ""));
            json_object_set_new(o, "check", ch);
        }
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        char a[64], b[64], c[64];
        printf("model:        %s%s%s\n", in.path, in.name[0] ? "  name: " : "", in.name);
        printf("architecture: %s   (GGUF v%u, %d file%s)\n", in.arch, in.gguf_version, in.n_splits,
               in.n_splits > 1 ? "s" : "");
        count((double)in.n_params, a, sizeof a);
        count((double)in.n_params_active, b, sizeof b);
        printf("parameters:   %s total, %s active per token\n", a, b);
        printf("shape:        %lld layers, %lld wide, %lld heads (%lld KV, head dim %lld), FFN %lld, vocab %lld\n",
               (long long)in.n_layer, (long long)in.n_embd, (long long)in.n_head, (long long)in.n_head_kv,
               (long long)in.head_dim, (long long)in.n_ff, (long long)in.n_vocab);
        printf("context:      %lld tokens (training)\n", (long long)in.n_ctx_train);
        printf("tensor types:");
        for (int t = 0; t < FRUGAL_MAX_TYPES; t++) {
            if (!in.type_count[t]) continue;
            human((double)in.type_bytes[t], a, sizeof a);
            printf(" %s x%lld (%s)", frugal_type_name(t), (long long)in.type_count[t], a);
        }
        printf("\n");
        human((double)in.weight_bytes, a, sizeof a);
        human((double)kv1k, b, sizeof b);
        human((double)in.weight_bytes + (double)kv1k * 4, c, sizeof c);
        printf("memory:       weights %s (mmapped); KV cache %s per 1,000 tokens (F16); %s at 4,096 tokens\n", a, b, c);
        human((double)in.active_bytes, a, sizeof a);
        printf("per token:    %s of weights read per generated token (generation is bounded by the memory "
               "bandwidth / this: frugal bench -m MODEL --membw)\n", a);
        if (in.n_repacked) {
            human((double)in.repacked_bytes, a, sizeof a);
            printf("repacked:     %lld matrices (%s) into 16-row units (types without such kernels: copied into "
                   "huge pages) when run, bench or serve loads the model; their file pages are released, so RSS "
                   "stays about the weights' size\n",
                   (long long)in.n_repacked, a);
        }
        printf("license:      %s\n", in.license[0] ? in.license : "(not stated in the file)");
        if (check) printf("check:        %s\n", bad ? cerr.msg : "no NaN/Inf in any weight");
    }
    frugal_model_free(m);
    if (check && bad) {
        fprintf(stderr, "frugal %s: %lld tensor(s) contain NaN/Inf: %s\n", C, (long long)bad, cerr.msg);
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* cmd_synth.c: `frugal synth` writes a random-weight model of a real shape. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_synth(int argc, char **argv) {
    const char *C = "synth", *shape = NULL, *out = NULL, *type = "F16", *vocab = NULL;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: frugal synth SHAPE -o OUT.gguf [--type T] [--seed N] [--vocab FILE]\n\n"
                   "Writes a model of a real shape with random weights, for benchmarks.\n\n"
                   "  SHAPE          %s\n"
                   "  -o PATH        output GGUF\n"
                   "  --type T       F32, F16 (default), BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL,\n"
                   "                 Q2_K..Q6_K (every matrix), or the mixes Q3_K_M, Q4_K_M, Q5_K_M\n"
                   "  --seed N       weights are a function of the seed and the tensor name (default 1)\n"
                   "  --vocab FILE   copy the tokenizer (tokenizer.* keys) from a GGUF file; the vocab\n"
                   "                 size then follows the file. Default: a placeholder vocab of the\n"
                   "                 shape's size (byte tokens plus unique filler pieces)\n",
                   frugal_synth_shapes());
            return EXIT_OK;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--type")) {
            if (!(type = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--vocab")) {
            if (!(vocab = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--seed")) {
            const char *v = cli_value(C, argc, argv, &i);
            if (!v || !cli_u64(C, a, v, &seed)) return EXIT_USAGE;
        } else if (a[0] != '-' && !shape) {
            shape = a;
        } else {
            fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a);
            return EXIT_USAGE;
        }
    }
    if (!shape || !out) {
        fprintf(stderr, "frugal %s: SHAPE and -o OUT are required (shapes: %s)\n", C, frugal_synth_shapes());
        return EXIT_USAGE;
    }
    fr_error err;
    double t0 = cli_now();
    if (frugal_synth(shape, type, seed, vocab, out, &err) != FR_OK) {
        cli_error(C, &err);
        return err.code == FR_ERR_ARG ? EXIT_USAGE : EXIT_ERR;
    }
    fprintf(stderr, "frugal synth: wrote %s (%s, %s) in %.1f s\n", out, shape, type, cli_now() - t0);
    return EXIT_OK;
}

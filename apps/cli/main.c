/* main.c: the frugal command line: one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} k_cmds[] = {
    {"run", cmd_run, "generate text from a model"},
    {"chat", cmd_chat, "interactive multi-turn chat in the terminal"},
    {"info", cmd_info, "describe a model file (--check scans weights for NaN/Inf)"},
    {"logits", cmd_logits, "write logits for given token ids (golden file format)"},
    {"bench", cmd_bench, "measure prompt processing and generation speed"},
    {"synth", cmd_synth, "write a random-weight model of a real shape"},
    {"tokenize", cmd_tokenize, "text to token ids (Hugging Face-identical ids)"},
    {"detokenize", cmd_detokenize, "token ids to text"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server with continuous batching and a chat page"},
    {"template", cmd_template, "render a chat template: messages (JSON) in, the exact prompt out"},
};

static void usage(FILE *f) {
    fprintf(f, "frugal %s: run open-weight language models on CPUs from GGUF files\n\n"
               "usage: frugal COMMAND [options]    (frugal COMMAND --help for details)\n\ncommands:\n",
            frugal_version());
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++) fprintf(f, "  %-10s %s\n", k_cmds[i].name, k_cmds[i].help);
    fprintf(f, "\noptions:\n  --version  print the version\n  --help     this text\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("frugal %s (%s kernels)\n", frugal_version(), frugal_isa());
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        if (!strcmp(argv[1], k_cmds[i].name)) return k_cmds[i].fn(argc - 1, argv + 1);
    /* a bare model path means `info` */
    size_t n = strlen(argv[1]);
    if (n > 5 && !strcmp(argv[1] + n - 5, ".gguf")) return cmd_info(argc, argv);
    fprintf(stderr, "frugal: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}

/* cmd_tokenize.c: `frugal tokenize` (text -> ids) and `frugal detokenize` (ids -> text). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *k_help_tok =
    "usage: frugal tokenize (-m MODEL | --tokenizer PATH) [options] [TEXT | < stdin]\n\n"
    "Prints the token ids of TEXT (or of standard input, read byte for byte: nothing, not even\n"
    "a trailing newline, is stripped), separated by spaces, then one newline. The ids are those\n"
    "Hugging Face's tokenizer gives with add_special_tokens=False: special-token text in the\n"
    "input becomes the special token, and no BOS or EOS is added.\n\n"
    "  -m, --model PATH     GGUF model or vocabulary-only GGUF file\n"
    "  --tokenizer PATH     Hugging Face tokenizer.json, or the folder holding it and\n"
    "                       tokenizer_config.json\n"
    "  --json               print a JSON array instead\n"
    "  --add-special        add BOS/EOS as the tokenizer's configuration says\n"
    "                       (add_special_tokens=True)\n"
    "  --no-parse-special   treat special-token text as plain text\n"
    "  --bench FILE         tokenize FILE and report throughput (MB/s, tokens) on stderr\n"
    "  --                   the next argument is TEXT, even if it starts with -\n";

static const char *k_help_detok =
    "usage: frugal detokenize (-m MODEL | --tokenizer PATH) [--no-special] [IDS | < stdin]\n\n"
    "Prints the text of token ids given as arguments or on standard input (separated by spaces,\n"
    "commas or newlines; a JSON array works too). The text is written exactly, with no newline\n"
    "added; special tokens are printed as their text.\n\n"
    "  -m, --model PATH     GGUF model or vocabulary-only GGUF file\n"
    "  --tokenizer PATH     Hugging Face tokenizer.json, or the folder holding it\n"
    "  --no-special         leave out special tokens (BOS, EOS, chat markers)\n";

/* Read all of a stream (binary). */
static frugal_tokenizer *open_tok(const char *C, const char *model, const char *tokpath) {
    fr_error err;
    frugal_tokenizer *t = NULL;
    if (frugal_tokenizer_load(model ? model : tokpath, &t, &err) != FR_OK) {
        cli_error(C, &err);
        return NULL;
    }
    return t;
}

static int bench(const char *C, frugal_tokenizer *t, const char *file, bool parse_special) {
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "frugal %s: %s: cannot open\n", C, file);
        return EXIT_ERR;
    }
    size_t n = 0;
    char *text = cli_read_stream(f, &n);
    fclose(f);
    if (!text) {
        fprintf(stderr, "frugal %s: %s: cannot read\n", C, file);
        return EXIT_ERR;
    }
    fr_error err;
    double best = 1e30;
    int64_t count = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = cli_now();
        count = frugal_tokenizer_encode(t, text, n, false, parse_special, NULL, 0, &err);
        double dt = cli_now() - t0;
        if (count < 0) {
            cli_error(C, &err);
            free(text);
            return EXIT_ERR;
        }
        if (dt < best) best = dt;
    }
    free(text);
    if (best <= 0) best = 1e-9;
    fprintf(stderr, "%s: %zu bytes -> %lld tokens in %.3f s: %.2f MB/s, %.0f tokens/s (best of 3, one thread)\n", file, n,
            (long long)count, best, n / best / 1e6, count / best);
    printf("{\"bytes\": %zu, \"tokens\": %lld, \"seconds\": %.6f, \"mb_per_s\": %.3f}\n", n, (long long)count, best,
           n / best / 1e6);
    return EXIT_OK;
}

int cmd_tokenize(int argc, char **argv) {
    const char *C = "tokenize", *model = NULL, *tokpath = NULL, *text = NULL, *bench_file = NULL;
    bool json = false, add_special = false, parse_special = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help_tok, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--tokenizer")) {
            if (!(tokpath = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--bench")) {
            if (!(bench_file = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--add-special")) add_special = true;
        else if (!strcmp(a, "--no-parse-special")) parse_special = false;
        else if (!strcmp(a, "--")) {
            if (i + 1 < argc) text = argv[++i];
            if (i + 1 < argc) {
                fprintf(stderr, "frugal %s: give the text as one argument (quote it) or on standard input\n", C);
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a);
            return EXIT_USAGE;
        } else if (!text) text = a;
        else {
            fprintf(stderr, "frugal %s: give the text as one argument (quote it) or on standard input\n", C);
            return EXIT_USAGE;
        }
    }
    if (!model == !tokpath) {
        fprintf(stderr, "frugal %s: give either -m MODEL or --tokenizer PATH (see --help)\n", C);
        return EXIT_USAGE;
    }
    frugal_tokenizer *t = open_tok(C, model, tokpath);
    if (!t) return EXIT_ERR;
    if (bench_file) {
        int rc = bench(C, t, bench_file, parse_special);
        frugal_tokenizer_free(t);
        return rc;
    }
    size_t n = 0;
    char *buf = NULL;
    if (text) {
        n = strlen(text);
    } else {
        buf = cli_read_stream(stdin, &n);
        if (!buf) {
            fprintf(stderr, "frugal %s: cannot read standard input\n", C);
            frugal_tokenizer_free(t);
            return EXIT_ERR;
        }
        text = buf;
    }
    fr_error err;
    int rc = EXIT_ERR;
    int64_t cnt = frugal_tokenizer_encode(t, text, n, add_special, parse_special, NULL, 0, &err);
    int32_t *ids = cnt > 0 ? malloc((size_t)cnt * sizeof *ids) : NULL;
    if (cnt < 0) cli_error(C, &err);
    else if (cnt > 0 && !ids) fprintf(stderr, "frugal %s: out of memory\n", C);
    else if (cnt > 0 && frugal_tokenizer_encode(t, text, n, add_special, parse_special, ids, cnt, &err) != cnt)
        cli_error(C, &err);
    else {
        if (json) putchar('[');
        for (int64_t i = 0; i < cnt; i++) printf(json ? "%s%d" : "%s%d", i ? (json ? ", " : " ") : "", ids[i]);
        if (json) putchar(']');
        putchar('\n');
        rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
    }
    free(ids);
    free(buf);
    frugal_tokenizer_free(t);
    return rc;
}

/* Parse ids from text: integers separated by spaces, commas, newlines, brackets. */
static bool parse_ids(const char *C, const char *s, size_t n, int32_t **out, int64_t *cnt) {
    size_t cap = 64, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return false;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t' || c == '[' || c == ']') {
            i++;
            continue;
        }
        char num[24];
        size_t l = 0;
        while (i < n && l < sizeof num - 1 && (s[i] == '-' || (s[i] >= '0' && s[i] <= '9'))) num[l++] = s[i++];
        num[l] = 0;
        char *end;
        errno = 0;
        long long x = l ? strtoll(num, &end, 10) : 0;
        if (!l || errno || *end || x < INT32_MIN || x > INT32_MAX || (i < n && s[i] >= '0' && s[i] <= '9')) {
            fprintf(stderr, "frugal %s: '%.20s' is not a token id\n", C, s + (i > l ? i - l : 0));
            free(v);
            return false;
        }
        if (k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return false;
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
    }
    *out = v;
    *cnt = (int64_t)k;
    return true;
}

int cmd_detokenize(int argc, char **argv) {
    const char *C = "detokenize", *model = NULL, *tokpath = NULL;
    bool special = true;
    char *args = NULL;
    size_t args_len = 0;
    int rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help_detok, stdout);
            rc = EXIT_OK;
            goto done;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(C, argc, argv, &i))) goto done;
        } else if (!strcmp(a, "--tokenizer")) {
            if (!(tokpath = cli_value(C, argc, argv, &i))) goto done;
        } else if (!strcmp(a, "--no-special")) special = false;
        else if (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
            fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a);
            goto done;
        } else { /* ids as arguments */
            size_t l = strlen(a);
            char *na = realloc(args, args_len + l + 2);
            if (!na) goto done;
            args = na;
            memcpy(args + args_len, a, l);
            args_len += l;
            args[args_len++] = ' ';
        }
    }
    if (!model == !tokpath) {
        fprintf(stderr, "frugal %s: give either -m MODEL or --tokenizer PATH (see --help)\n", C);
        goto done;
    }
    char *in = args;
    size_t in_len = args_len;
    char *stdin_buf = NULL;
    if (!args) {
        stdin_buf = cli_read_stream(stdin, &in_len);
        if (!stdin_buf) {
            fprintf(stderr, "frugal %s: cannot read standard input\n", C);
            rc = EXIT_ERR;
            goto done;
        }
        in = stdin_buf;
    }
    int32_t *ids = NULL;
    int64_t n = 0;
    bool parsed = parse_ids(C, in, in_len, &ids, &n);
    free(stdin_buf);
    if (!parsed) {
        rc = EXIT_ERR;
        goto done;
    }
    rc = EXIT_ERR;
    frugal_tokenizer *t = open_tok(C, model, tokpath);
    if (t) {
        fr_error err;
        int64_t len = frugal_tokenizer_decode(t, ids, n, special, NULL, 0, &err);
        char *out = len > 0 ? malloc((size_t)len) : NULL;
        if (len < 0) cli_error(C, &err);
        else if (len > 0 && !out) fprintf(stderr, "frugal %s: out of memory\n", C);
        else {
            if (len > 0) frugal_tokenizer_decode(t, ids, n, special, out, (size_t)len, &err);
            if ((len == 0 || fwrite(out, 1, (size_t)len, stdout) == (size_t)len) && fflush(stdout) == 0) rc = EXIT_OK;
        }
        free(out);
        frugal_tokenizer_free(t);
    }
    free(ids);
done:
    free(args);
    return rc;
}

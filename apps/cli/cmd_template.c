/* cmd_template.c: `frugal template` prints the prompt a chat template makes of a conversation,
 * exactly as the model receives it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *k_help =
    "usage: frugal template (-m MODEL | --tokenizer PATH | --template FILE.jinja [--bos TEXT] [--eos TEXT])\n"
    "                       [--no-generation-prompt] [--date YYYY-MM-DD] < input.json\n\n"
    "Renders a chat template the way Hugging Face transformers does (Jinja, byte for byte) and\n"
    "prints the prompt exactly as the model receives it, BOS text included where the template\n"
    "emits it, with no newline added.\n\n"
    "  -m, --model MODEL    the GGUF file's tokenizer.chat_template and BOS/EOS token text\n"
    "  --tokenizer PATH     a Hugging Face tokenizer_config.json, tokenizer.json or their folder\n"
    "  --template FILE      a bare Jinja template file (such as shared/templates/*.jinja)\n"
    "  --bos TEXT, --eos TEXT  the bos_token / eos_token strings (win over the file and the input)\n"
    "  --no-generation-prompt  add_generation_prompt = false (default: true)\n"
    "  --date YYYY-MM-DD    the day strftime_now() formats (default: today)\n\n"
    "Input (standard input): a JSON array of OpenAI-style messages, or an object\n"
    "  {\"messages\": [...], \"tools\": [...], \"add_generation_prompt\": bool, ...}\n"
    "whose further keys (enable_thinking, ...) become template variables. A command-line flag\n"
    "wins over the same key in the JSON. With tools, a template named tool_use is preferred.\n\n"
    "Exit status: 0 rendered, 1 a template error (its message, with the line) or bad input,\n"
    "2 a usage error.\n";

static bool valid_date(const char *s) {
    int y, m, d;
    char x;
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-' && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &x) == 3 && y >= 1 &&
           m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

typedef enum { SRC_NONE, SRC_MODEL, SRC_TOKENIZER, SRC_TEMPLATE } source_kind;

static fr_status load_template(source_kind kind, const char *path, bool tools, frugal_chat_template *t, fr_error *err) {
    if (kind == SRC_TEMPLATE) {
        size_t n = 0;
        char *b = cli_read_file(path, &n);
        if (!b) {
            snprintf(err->msg, sizeof err->msg, "%s: cannot read", path);
            return err->code = FR_ERR_IO;
        }
        if (strlen(b) != n) {
            free(b);
            snprintf(err->msg, sizeof err->msg, "%s: the template contains a NUL byte", path);
            return err->code = FR_ERR_FORMAT;
        }
        t->source = b;
        t->vars_json = NULL;
        return FR_OK;
    }
    /* with tools, prefer a template named tool_use (as transformers does) */
    if (tools) {
        fr_error e2;
        fr_status st = kind == SRC_MODEL ? frugal_chat_template_from_gguf(path, "tool_use", t, &e2)
                                         : frugal_chat_template_from_hf(path, "tool_use", t, &e2);
        if (st == FR_OK) return st;
    }
    return kind == SRC_MODEL ? frugal_chat_template_from_gguf(path, NULL, t, err)
                             : frugal_chat_template_from_hf(path, NULL, t, err);
}

int cmd_template(int argc, char **argv) {
    const char *C = "template", *path = NULL, *bos = NULL, *eos = NULL, *date = NULL;
    source_kind kind = SRC_NONE;
    bool no_gen = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        source_kind k = SRC_NONE;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(k_help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) k = SRC_MODEL;
        else if (!strcmp(a, "--tokenizer")) k = SRC_TOKENIZER;
        else if (!strcmp(a, "--template")) k = SRC_TEMPLATE;
        if (k != SRC_NONE) {
            if (kind != SRC_NONE) {
                fprintf(stderr, "frugal %s: give one of -m, --tokenizer and --template\n", C);
                return EXIT_USAGE;
            }
            kind = k;
            if (!(path = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--bos")) {
            if (!(bos = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--eos")) {
            if (!(eos = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--date")) {
            if (!(date = cli_value(C, argc, argv, &i))) return EXIT_USAGE;
            if (!valid_date(date)) {
                fprintf(stderr, "frugal %s: --date: '%s' (expected YYYY-MM-DD)\n", C, date);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--no-generation-prompt")) no_gen = true;
        else {
            fprintf(stderr, "frugal %s: unknown option '%s' (see --help)\n", C, a);
            return EXIT_USAGE;
        }
    }
    if (kind == SRC_NONE) {
        fprintf(stderr, "frugal %s: one of -m MODEL, --tokenizer PATH or --template FILE is required (see --help)\n", C);
        return EXIT_USAGE;
    }

    size_t in_len = 0;
    char *in = cli_read_stream(stdin, &in_len);
    if (!in) {
        fprintf(stderr, "frugal %s: cannot read standard input\n", C);
        return EXIT_ERR;
    }
    json_error_t je;
    json_t *doc = json_loadb(in, in_len, JSON_ALLOW_NUL, &je);
    free(in);
    if (!doc) {
        fprintf(stderr, "frugal %s: standard input: invalid JSON at line %d column %d: %s\n", C, je.line, je.column,
                je.text);
        return EXIT_ERR;
    }
    json_t *messages = NULL, *tools = NULL, *extra = json_object();
    bool agp = true;
    int rc = EXIT_ERR;
    if (json_is_array(doc)) messages = doc;
    else if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v) {
            if (!strcmp(k, "messages")) messages = v;
            else if (!strcmp(k, "tools")) tools = json_is_null(v) ? NULL : v;
            else if (!strcmp(k, "add_generation_prompt")) {
                if (!json_is_boolean(v)) {
                    fprintf(stderr, "frugal %s: standard input: add_generation_prompt must be true or false\n", C);
                    goto out;
                }
                agp = json_is_true(v);
            } else json_object_set(extra, k, v);
        }
    }
    if (!json_is_array(messages)) {
        fprintf(stderr, "frugal %s: standard input: expected an array of messages or an object with \"messages\": [...]\n", C);
        goto out;
    }
    if (tools && !json_is_array(tools)) {
        fprintf(stderr, "frugal %s: standard input: \"tools\" must be an array\n", C);
        goto out;
    }
    if (no_gen) agp = false;

    frugal_chat_template t = {0};
    fr_error err = {0};
    if (load_template(kind, path, tools != NULL, &t, &err) != FR_OK) {
        cli_error(C, &err);
        goto out;
    }
    /* special tokens of the file < keys of the input < --bos/--eos */
    json_t *vars = t.vars_json ? json_loads(t.vars_json, 0, &je) : json_object();
    if (!vars) vars = json_object();
    json_object_update(vars, extra);
    if (bos) json_object_set_new(vars, "bos_token", json_string(bos));
    if (eos) json_object_set_new(vars, "eos_token", json_string(eos));
    char *mj = json_dumps(messages, JSON_COMPACT | JSON_ENCODE_ANY);
    char *tj = tools ? json_dumps(tools, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *vj = json_dumps(vars, JSON_COMPACT);
    json_decref(vars);
    frugal_chat_params p = frugal_chat_default_params();
    p.messages_json = mj;
    p.tools_json = tj;
    p.vars_json = vj;
    p.add_generation_prompt = agp;
    p.date = date;
    char *outp = NULL;
    size_t out_len = 0;
    if (!mj || !vj || (tools && !tj)) fprintf(stderr, "frugal %s: out of memory\n", C);
    else if (frugal_chat_render(t.source, strlen(t.source), &p, &outp, &out_len, &err) != FR_OK) {
        fprintf(stderr, "frugal %s: %s\n", C, err.msg);
    } else {
        fwrite(outp, 1, out_len, stdout);
        rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
    }
    free(outp);
    free(mj);
    free(tj);
    free(vj);
    frugal_chat_template_free(&t);
out:
    json_decref(extra);
    json_decref(doc);
    return rc;
}

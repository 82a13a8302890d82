/* api_chat_builtin.c: built-in chat formats, the fallback when a model has no chat template
 * or one outside frugal's Jinja subset. The family is read from the tokenizer's special
 * tokens (the markers its format needs), never guessed from other metadata. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "frugal.h"

typedef struct fmt {
    const char *name;
    const char *marker;             /* a token the family's vocabulary has */
    const char *bos;                /* written first ("" if none) */
    const char *pre[3], *post[3];   /* per role: system, user, assistant */
    const char *gen;                /* the generation prompt */
} fmt;

static const fmt k_formats[] = {
    {"llama3", "<|start_header_id|>", "<|begin_of_text|>",
     {"<|start_header_id|>system<|end_header_id|>\n\n", "<|start_header_id|>user<|end_header_id|>\n\n",
      "<|start_header_id|>assistant<|end_header_id|>\n\n"},
     {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
     "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"deepseek3", "<\xef\xbd\x9c" "User\xef\xbd\x9c>", "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
     {"", "<\xef\xbd\x9cUser\xef\xbd\x9c>", "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"},
     {"", "", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"},
     "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"},
    {"gemma", "<start_of_turn>", "<bos>",
     {"<start_of_turn>user\n", "<start_of_turn>user\n", "<start_of_turn>model\n"},
     {"<end_of_turn>\n", "<end_of_turn>\n", "<end_of_turn>\n"},
     "<start_of_turn>model\n"},
    {"mistral", "[INST]", "<s>", {"[INST] ", "[INST] ", ""}, {"\n\n", " [/INST]", "</s>"}, ""},
    {"chatml", NULL, "", {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
     {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"},
     "<|im_start|>assistant\n"},
};

static int role_index(const char *role) {
    if (!role) return 1;
    if (!strcmp(role, "system")) return 0;
    if (!strcmp(role, "assistant")) return 2;
    return 1;
}

static bool append(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *p = realloc(*buf, nc);
        if (!p) return false;
        *buf = p;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return true;
}

fr_status frugal_chat_builtin(const frugal_tokenizer *t, const char *messages_json, bool add_generation_prompt,
                              char **out, const char **family, fr_error *err) {
    *out = NULL;
    const fmt *f = &k_formats[sizeof k_formats / sizeof k_formats[0] - 1];
    for (size_t i = 0; t && i + 1 < sizeof k_formats / sizeof k_formats[0]; i++) {
        if (frugal_tokenizer_token_id(t, k_formats[i].marker, strlen(k_formats[i].marker)) >= 0) {
            f = &k_formats[i];
            break;
        }
    }
    if (family) *family = f->name;
    json_error_t je;
    json_t *msgs = json_loads(messages_json, 0, &je);
    if (!json_is_array(msgs)) {
        json_decref(msgs);
        if (err) {
            err->code = FR_ERR_ARG;
            snprintf(err->msg, sizeof err->msg, "messages: expected a JSON array (%s)", je.text);
        }
        return FR_ERR_ARG;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool ok = append(&buf, &len, &cap, f->bos);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        int r = role_index(json_string_value(json_object_get(m, "role")));
        const char *content = json_string_value(json_object_get(m, "content"));
        ok = ok && append(&buf, &len, &cap, f->pre[r]) && append(&buf, &len, &cap, content ? content : "") &&
             append(&buf, &len, &cap, f->post[r]);
    }
    if (add_generation_prompt) ok = ok && append(&buf, &len, &cap, f->gen);
    json_decref(msgs);
    if (!ok) {
        free(buf);
        if (err) {
            err->code = FR_ERR_NOMEM;
            snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        return FR_ERR_NOMEM;
    }
    *out = buf;
    return FR_OK;
}

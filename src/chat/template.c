/* template.c: messages to prompt. Builds the context Hugging Face transformers gives a chat
 * template (messages, tools when given, add_generation_prompt, the special token strings,
 * extra variables), pins strftime_now's date, and finds templates in GGUF files and in
 * Hugging Face tokenizer folders. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chat/jinja.h"
#include "chat/template.h"
#include "io/gguf.h"

static json_t *parse_json(const char *what, const char *s, fr_error *err, fr_status *st) {
    json_error_t je;
    json_t *j = json_loads(s, JSON_ALLOW_NUL, &je);
    if (!j) *st = fr_fail(err, FR_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", what, je.line, je.column, je.text);
    return j;
}

bool fr_chat_parse_date(const char *s, struct tm *tm) {
    int y, mo, d;
    char extra;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &extra) != 3 || s[4] != '-' || s[7] != '-')
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)) return false;
    struct tm t = {0};
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_isdst = -1;
    time_t tt = timegm(&t); /* fills tm_wday and tm_yday */
    (void)tt;
    t.tm_isdst = -1;
    *tm = t;
    return true;
}

fr_status fr_chat_render(const char *tmpl, size_t tmpl_len, const frugal_chat_params *p, char **out, size_t *out_len,
                         fr_error *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!tmpl || !p || !p->messages_json) return fr_fail(err, FR_ERR_ARG, "chat template: no template or no messages");
    fr_status st = FR_OK;
    struct tm day;
    if (p->date && !fr_chat_parse_date(p->date, &day))
        return fr_fail(err, FR_ERR_ARG, "chat template: date '%s' is not a valid YYYY-MM-DD date", p->date);
    json_t *ctx = json_object(), *msgs = NULL, *tools = NULL, *vars = NULL;
    if (!ctx) return fr_fail(err, FR_ERR_NOMEM, "chat template: out of memory");
    msgs = parse_json("messages", p->messages_json, err, &st);
    if (msgs && !json_is_array(msgs)) st = fr_fail(err, FR_ERR_FORMAT, "messages: expected a JSON array");
    if (st == FR_OK && p->tools_json) {
        tools = parse_json("tools", p->tools_json, err, &st);
        if (tools && !json_is_array(tools) && !json_is_null(tools))
            st = fr_fail(err, FR_ERR_FORMAT, "tools: expected a JSON array");
    }
    if (st == FR_OK && p->vars_json) {
        vars = parse_json("variables", p->vars_json, err, &st);
        if (vars && !json_is_object(vars)) st = fr_fail(err, FR_ERR_FORMAT, "variables: expected a JSON object");
    }
    if (st == FR_OK) {
        /* render(messages=..., tools=..., add_generation_prompt=..., **special_tokens, **kwargs) */
        if (p->bos_token) json_object_set_new(ctx, "bos_token", json_string(p->bos_token));
        if (p->eos_token) json_object_set_new(ctx, "eos_token", json_string(p->eos_token));
        if (vars) json_object_update(ctx, vars);
        json_object_set(ctx, "messages", msgs);
        if (tools) json_object_set(ctx, "tools", tools);
        json_object_set_new(ctx, "add_generation_prompt", json_boolean(p->add_generation_prompt));
        jj_options o = {.max_steps = p->max_steps,
                        .max_output = p->max_output > 0 ? (size_t)p->max_output : 0,
                        .max_depth = p->max_depth,
                        .now = p->date ? &day : NULL};
        st = jj_render(tmpl, tmpl_len, ctx, &o, out, out_len, err);
    }
    json_decref(msgs);
    json_decref(tools);
    json_decref(vars);
    json_decref(ctx);
    return st;
}

/* ---- finding templates ---- */
void fr_chat_template_free(frugal_chat_template *t) {
    if (!t) return;
    free(t->source);
    free(t->vars_json);
    t->source = t->vars_json = NULL;
}

static char *read_file(const char *path, size_t *n, fr_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fr_fail(err, FR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (len < cap) break;
        if (cap > ((size_t)1 << 30)) {
            free(buf);
            fclose(f);
            fr_fail(err, FR_ERR_FORMAT, "%s: file too large", path);
            return NULL;
        }
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf) {
        fr_fail(err, FR_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        fr_fail(err, FR_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[len] = 0;
    if (n) *n = len;
    return buf;
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static const char *token_text(json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v) && json_is_string(json_object_get(v, "content"))) return json_string_value(json_object_get(v, "content"));
    return NULL;
}

static bool is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

fr_status fr_chat_template_from_hf(const char *path, const char *name, frugal_chat_template *out, fr_error *err) {
    memset(out, 0, sizeof *out);
    char dir[4096], cfg[4200];
    size_t pl = strlen(path);
    if (pl >= sizeof dir) return fr_fail(err, FR_ERR_ARG, "%s: path too long", path);
    if (is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (!strcmp(base, "tokenizer.json")) snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
        else snprintf(cfg, sizeof cfg, "%s", path);
    }
    char *text = read_file(cfg, NULL, err);
    if (!text) return err ? err->code : FR_ERR_IO;
    json_error_t je;
    /* INT_AS_REAL: configs hold integers beyond 64 bits (model_max_length) */
    json_t *j = json_loads(text, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
    free(text);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return fr_fail(err, FR_ERR_FORMAT, "%s: invalid JSON at line %d: %s", cfg, je.line, je.text);
    }
    fr_status st = FR_OK;
    const char *want = name ? name : "default";
    json_t *ct = json_object_get(j, "chat_template");
    char *src = NULL;
    if (json_is_string(ct)) {
        if (name && strcmp(name, "default"))
            st = fr_fail(err, FR_ERR_FORMAT, "%s: chat_template: no template named '%s'", cfg, name);
        else src = dup_n(json_string_value(ct), json_string_length(ct));
    } else if (json_is_array(ct)) {
        size_t i;
        json_t *e;
        json_array_foreach(ct, i, e) {
            json_t *n = json_object_get(e, "name"), *t = json_object_get(e, "template");
            if (json_is_string(n) && json_is_string(t) && !strcmp(json_string_value(n), want)) {
                src = dup_n(json_string_value(t), json_string_length(t));
                break;
            }
        }
        if (!src) st = fr_fail(err, FR_ERR_FORMAT, "%s: chat_template: no template named '%s'", cfg, want);
    } else if (ct && !json_is_null(ct)) {
        st = fr_fail(err, FR_ERR_FORMAT, "%s: chat_template: expected a string or a list of templates", cfg);
    } else {
        /* newer checkpoints keep it beside the config */
        char alt[4300];
        fr_error e2;
        size_t n;
        snprintf(alt, sizeof alt, "%s/chat_template.jinja", dir);
        src = read_file(alt, &n, &e2);
        if (!src) {
            snprintf(alt, sizeof alt, "%s/chat_template.json", dir);
            char *t = read_file(alt, NULL, &e2);
            json_t *cj = t ? json_loads(t, JSON_ALLOW_NUL, NULL) : NULL;
            json_t *s = json_object_get(cj, "chat_template");
            if (json_is_string(s)) src = dup_n(json_string_value(s), json_string_length(s));
            json_decref(cj);
            free(t);
        }
        if (!src) st = fr_fail(err, FR_ERR_FORMAT, "%s: no chat_template (nor chat_template.jinja beside it)", cfg);
    }
    if (st == FR_OK && !src) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    json_t *vars = json_object();
    if (st == FR_OK) {
        static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                           "pad_token", "cls_token", "mask_token"};
        for (size_t k = 0; k < FR_ARRAY_LEN(keys); k++) {
            const char *s = token_text(json_object_get(j, keys[k]));
            if (s && *s) json_object_set_new(vars, keys[k], json_string(s));
        }
        json_t *add = json_object_get(j, "additional_special_tokens");
        if (json_is_array(add) && json_array_size(add)) {
            json_t *l = json_array();
            size_t i;
            json_t *e;
            json_array_foreach(add, i, e) {
                const char *s = token_text(e);
                if (s) json_array_append_new(l, json_string(s));
            }
            json_object_set_new(vars, "additional_special_tokens", l);
        }
        out->vars_json = json_dumps(vars, JSON_COMPACT);
        out->source = src;
        src = NULL;
        if (!out->vars_json) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    }
    free(src);
    json_decref(vars);
    json_decref(j);
    if (st != FR_OK) fr_chat_template_free(out);
    return st;
}

static char *gguf_token(const gguf_file *f, int64_t id) {
    const gguf_kv *kv = NULL;
    fr_error e;
    if (id < 0 || gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &kv, &e) != 1 || (uint64_t)id >= kv->arr_n) return NULL;
    return dup_n(kv->arr_strs[id].ptr, (size_t)kv->arr_strs[id].len);
}

fr_status fr_chat_template_from_gguf(const char *path, int64_t bos, int64_t eos, const char *name,
                                     frugal_chat_template *out, fr_error *err) {
    memset(out, 0, sizeof *out);
    gguf_file *f = NULL;
    fr_status st = gguf_open(path, &f, err);
    if (st != FR_OK) return st;
    char key[300];
    if (name && strcmp(name, "default")) snprintf(key, sizeof key, "tokenizer.chat_template.%s", name);
    else snprintf(key, sizeof key, "tokenizer.chat_template");
    gguf_str s;
    int r = gguf_get_str(f, key, &s, err);
    if (r == 0) st = fr_fail(err, FR_ERR_FORMAT, "%s: the file has no %s", path, key);
    else if (r < 0) st = FR_ERR_FORMAT;
    if (st == FR_OK) {
        out->source = dup_n(s.ptr, (size_t)s.len);
        json_t *vars = json_object();
        fr_error ig;
        if (bos == FR_CHAT_TOKEN_FROM_FILE && gguf_get_int(f, "tokenizer.ggml.bos_token_id", &bos, &ig) != 1) bos = -1;
        if (eos == FR_CHAT_TOKEN_FROM_FILE && gguf_get_int(f, "tokenizer.ggml.eos_token_id", &eos, &ig) != 1) eos = -1;
        char *b = gguf_token(f, bos), *e = gguf_token(f, eos);
        if (b) json_object_set_new(vars, "bos_token", json_string(b));
        if (e) json_object_set_new(vars, "eos_token", json_string(e));
        free(b);
        free(e);
        out->vars_json = json_dumps(vars, JSON_COMPACT);
        json_decref(vars);
        if (!out->source || !out->vars_json) {
            fr_chat_template_free(out);
            st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
        }
    }
    gguf_close(f);
    return st;
}

/* test_template.c: the public chat-template API (frugal_chat_render and where templates come
 * from: Hugging Face tokenizer folders, GGUF files) and the R1-style reasoning splitter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "frugal.h"

static char *render(const char *tmpl, const frugal_chat_params *p, fr_status *st, fr_error *err) {
    char *out = NULL;
    size_t n = 0;
    *st = frugal_chat_render(tmpl, strlen(tmpl), p, &out, &n, err);
    if (*st == FR_OK) CHECK(out && strlen(out) == n, "output length");
    return out;
}

static void test_render_api(void) {
    const char *t = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
                    "{% if tools is defined %}T{{ tools|length }}{% endif %}{% if add_generation_prompt %}<a>{% endif %}"
                    "{{ eos_token }}{{ extra|default('') }}";
    frugal_chat_params p = frugal_chat_default_params();
    CHECK(p.add_generation_prompt, "add_generation_prompt defaults to true");
    p.messages_json = "[{\"role\":\"user\",\"content\":\"hi\"}]";
    p.bos_token = "<s>";
    fr_status st;
    fr_error err;
    char *out = render(t, &p, &st, &err);
    CHECK(st == FR_OK && !strcmp(out, "<s><user>hi<a>"), "basic: %s", out ? out : err.msg);
    free(out);
    p.tools_json = "[{\"type\":\"function\"}]";
    p.vars_json = "{\"bos_token\":\"<B>\",\"eos_token\":\"</E>\",\"extra\":7}";
    p.add_generation_prompt = false;
    out = render(t, &p, &st, &err);
    CHECK(st == FR_OK && !strcmp(out, "<B><user>hiT1</E>7"), "tools and variables: %s", out ? out : err.msg);
    free(out);
    p.date = "2025-02-30";
    out = render(t, &p, &st, &err);
    CHECK(st == FR_ERR_ARG && !out, "invalid date: %s", err.msg);
    p.date = "2024-02-29";
    out = render("{{ strftime_now('%A %d %B %Y') }}", &p, &st, &err);
    CHECK(st == FR_OK && !strcmp(out, "Thursday 29 February 2024"), "leap day: %s", out ? out : err.msg);
    free(out);
    p.date = NULL;
    p.messages_json = "{\"role\":\"user\"}";
    out = render(t, &p, &st, &err);
    CHECK(st == FR_ERR_FORMAT && strstr(err.msg, "array"), "messages must be an array: %s", err.msg);
    p.messages_json = "[{\"role\":";
    out = render(t, &p, &st, &err);
    CHECK(st == FR_ERR_FORMAT && strstr(err.msg, "messages"), "invalid messages JSON: %s", err.msg);
    p.messages_json = NULL;
    out = render(t, &p, &st, &err);
    CHECK(st == FR_ERR_ARG, "no messages: %s", err.msg);
    p = frugal_chat_default_params();
    p.messages_json = "[]";
    p.max_steps = 100;
    out = render("{% for i in range(1000) %}{% endfor %}", &p, &st, &err);
    CHECK(st == FR_ERR_RANGE, "max_steps from the params: %s", err.msg);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_hf(void) {
    char dir[] = "/tmp/frugal_tpl_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(false, "mkdtemp");
        return;
    }
    char cfg[256], tok[256], jin[256];
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    snprintf(tok, sizeof tok, "%s/tokenizer.json", dir);
    snprintf(jin, sizeof jin, "%s/chat_template.jinja", dir);
    write_file(tok, "{}");
    write_file(cfg, "{\"bos_token\":{\"__type\":\"AddedToken\",\"content\":\"<b>\"},\"eos_token\":\"<e>\",\"unk_token\":null,"
                    "\"pad_token\":\"\",\"additional_special_tokens\":[\"<x>\",{\"content\":\"<y>\"}],"
                    "\"model_max_length\":1000000000000000019884624838656,"
                    "\"chat_template\":[{\"name\":\"default\",\"template\":\"D\"},{\"name\":\"tool_use\",\"template\":\"T\"}]}");
    frugal_chat_template t;
    fr_error err;
    const char *paths[] = {dir, cfg, tok};
    for (int i = 0; i < 3; i++) {
        fr_status st = frugal_chat_template_from_hf(paths[i], NULL, &t, &err);
        CHECK(st == FR_OK && !strcmp(t.source, "D"), "%s: default template: %s", paths[i], st ? err.msg : t.source);
        if (st == FR_OK)
            CHECK(!strcmp(t.vars_json, "{\"bos_token\":\"<b>\",\"eos_token\":\"<e>\",\"additional_special_tokens\":[\"<x>\",\"<y>\"]}"),
                  "special tokens: %s", t.vars_json);
        frugal_chat_template_free(&t);
    }
    fr_status st = frugal_chat_template_from_hf(dir, "tool_use", &t, &err);
    CHECK(st == FR_OK && !strcmp(t.source, "T"), "named template");
    frugal_chat_template_free(&t);
    st = frugal_chat_template_from_hf(dir, "nope", &t, &err);
    CHECK(st == FR_ERR_FORMAT && strstr(err.msg, "nope"), "unknown name: %s", err.msg);
    /* no chat_template in the config: chat_template.jinja beside it */
    write_file(cfg, "{\"eos_token\":\"<e>\"}");
    st = frugal_chat_template_from_hf(dir, NULL, &t, &err);
    CHECK(st == FR_ERR_FORMAT, "no template anywhere: %s", err.msg);
    write_file(jin, "J{{ eos_token }}");
    st = frugal_chat_template_from_hf(cfg, NULL, &t, &err);
    CHECK(st == FR_OK && !strcmp(t.source, "J{{ eos_token }}"), "chat_template.jinja: %s", st ? err.msg : t.source);
    frugal_chat_template_free(&t);
    write_file(cfg, "{\"chat_template\": 5}");
    st = frugal_chat_template_from_hf(cfg, NULL, &t, &err);
    CHECK(st == FR_ERR_FORMAT, "bad chat_template type: %s", err.msg);
    write_file(cfg, "{not json");
    st = frugal_chat_template_from_hf(cfg, NULL, &t, &err);
    CHECK(st == FR_ERR_FORMAT && strstr(err.msg, "tokenizer_config.json"), "bad JSON names the file: %s", err.msg);
    st = frugal_chat_template_from_hf("/nonexistent/dir/tokenizer_config.json", NULL, &t, &err);
    CHECK(st == FR_ERR_IO && strstr(err.msg, "/nonexistent"), "missing file: %s", err.msg);
    remove(cfg);
    remove(tok);
    remove(jin);
    rmdir(dir);
    /* GGUF without a template */
    st = frugal_chat_template_from_gguf("tests/data/models/llama-tiny-Q4_K_M.gguf", NULL, &t, &err);
    CHECK(st == FR_ERR_FORMAT && strstr(err.msg, "chat_template"), "GGUF without a template: %s", err.msg);
    const char *shared = getenv("FRUGAL_SHARED") ? getenv("FRUGAL_SHARED") : "../shared";
    char phi[512];
    snprintf(phi, sizeof phi, "%s/tokenizer/ggml-vocab-phi-3.gguf", shared);
    struct stat sb;
    if (stat(phi, &sb) == 0) {
        st = frugal_chat_template_from_gguf(phi, NULL, &t, &err);
        CHECK(st == FR_OK && strstr(t.source, "<|assistant|>") && strstr(t.vars_json, "\"bos_token\":\"<s>\""),
              "GGUF template and BOS text: %s", st ? err.msg : t.vars_json);
        frugal_chat_template_free(&t);
    }
}

/* ---- reasoning ---- */
typedef struct collected {
    char text[2][512];
    size_t n[2];
    int calls;
} collected;

static void collect(frugal_text_kind kind, const char *text, size_t len, void *user) {
    collected *c = user;
    if (c->n[kind] + len < sizeof c->text[kind]) {
        memcpy(c->text[kind] + c->n[kind], text, len);
        c->n[kind] += len;
        c->text[kind][c->n[kind]] = 0;
    }
    c->calls++;
}

/* feeds `s` in pieces of `step` bytes (0: all at once) */
static void split(const char *s, bool starts_in, bool trim, size_t step, collected *c) {
    memset(c, 0, sizeof *c);
    frugal_reasoning r;
    frugal_reasoning_init(&r, starts_in, trim);
    size_t n = strlen(s);
    if (!step) step = n ? n : 1;
    for (size_t i = 0; i < n; i += step) frugal_reasoning_feed(&r, s + i, i + step <= n ? step : n - i, collect, c);
    frugal_reasoning_flush(&r, collect, c);
}

static void expect_split(const char *s, bool starts_in, bool trim, const char *reasoning, const char *content) {
    size_t n = strlen(s);
    for (size_t step = 0; step <= n + 1; step++) {
        collected c;
        split(s, starts_in, trim, step, &c);
        bool ok = !strcmp(c.text[FRUGAL_TEXT_REASONING], reasoning) && !strcmp(c.text[FRUGAL_TEXT_CONTENT], content);
        CHECK(ok, "split '%s' (start %d, trim %d, pieces of %zu): reasoning '%s' content '%s', want '%s' / '%s'", s,
              starts_in, trim, step, c.text[1], c.text[0], reasoning, content);
        if (!ok) break;
    }
}

static void test_reasoning(void) {
    /* both tags in the output */
    expect_split("<think>\nLet me see.\n</think>\n\nThe answer is 4.", false, false, "\nLet me see.\n", "\n\nThe answer is 4.");
    expect_split("<think>\nLet me see.\n</think>\n\nThe answer is 4.", false, true, "Let me see.", "The answer is 4.");
    /* the prompt ended with <think>\n: only </think> appears */
    expect_split("Okay, 2+2.\n</think>\n\n4", true, false, "Okay, 2+2.\n", "\n\n4");
    expect_split("Okay, 2+2.\n</think>\n\n4", true, true, "Okay, 2+2.", "4");
    /* no reasoning at all */
    expect_split("Just text, a < b and <b>bold</b> <thin", false, false, "", "Just text, a < b and <b>bold</b> <thin");
    /* near-misses stay text */
    expect_split("<think>a <thin </thinker> b</think>c", false, false, "a <thin </thinker> b", "c");
    expect_split("<<think>x</think>", false, false, "x", "<");
    /* an unclosed reasoning block stays reasoning; a stray </think> in content is dropped */
    expect_split("<think>still thinking", false, false, "still thinking", "");
    expect_split("text</think>more", false, false, "", "textmore");
    /* reasoning that never closes when the prompt opened it */
    expect_split("thinking... <", true, false, "thinking... <", "");
    /* trimming keeps inner whitespace and multi-byte text */
    expect_split("<think>  a  b  </think>  ünï  cödé  ", false, true, "a  b", "ünï  cödé");
    /* long whitespace runs inside a segment survive trimming */
    char longws[300], want[300];
    longws[0] = want[0] = 'a';
    memset(longws + 1, ' ', 200);
    memset(want + 1, ' ', 200);
    strcpy(longws + 201, "x</think>y");
    strcpy(want + 201, "x");
    expect_split(longws, true, true, want, "y");
    /* prompts */
    const char *p1 = "<|User|>hi<|Assistant|><think>\n";
    const char *p2 = "<|im_start|>assistant\n<think>\n\n</think>\n\n";
    const char *p3 = "<|User|>hi<|Assistant|>";
    CHECK(frugal_prompt_opens_reasoning(p1, strlen(p1)), "R1 prompt opens reasoning");
    CHECK(!frugal_prompt_opens_reasoning(p2, strlen(p2)), "Qwen3 enable_thinking=false closes it");
    CHECK(!frugal_prompt_opens_reasoning(p3, strlen(p3)), "no <think> in the prompt");
    CHECK(!frugal_prompt_opens_reasoning("", 0), "empty prompt");
}

int main(void) {
    test_render_api();
    test_hf();
    test_reasoning();
    return CHECK_DONE("test_template");
}

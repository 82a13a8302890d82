/* test_jinja.c: the Jinja engine's sandbox and error paths (shared/CHECKLIST.md item 18):
 * limits on steps, output, depth and memory; no file access; errors that name the line;
 * constructs outside the subset fail as unsupported instead of rendering differently.
 * (Rendering itself is compared with jinja2 in test_template_ref.) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/jinja.h"
#include "base.h"
#include "check.h"

static fr_status render_opts(const char *src, size_t len, const char *vars, const jj_options *o, char **out,
                             size_t *out_len, fr_error *err) {
    json_t *v = json_loads(vars ? vars : "{}", JSON_ALLOW_NUL, NULL);
    fr_status st = jj_render(src, len, v, o, out, out_len, err);
    json_decref(v);
    return st;
}

/* renders and compares with `want` (NULL: expect failure with status `code`) */
static void expect(const char *src, const char *vars, const char *want, fr_status code, const char *msg_part) {
    char *out = NULL;
    size_t n = 0;
    fr_error err = {0};
    fr_status st = render_opts(src, strlen(src), vars, NULL, &out, &n, &err);
    if (want) {
        CHECK(st == FR_OK && n == strlen(want) && !memcmp(out, want, n), "%s: got %s '%s' (%s), want '%s'", src,
              frugal_status_str(st), out ? out : "", err.msg, want);
    } else {
        CHECK(st == code, "%s: status %s (%s), want %s", src, frugal_status_str(st), err.msg, frugal_status_str(code));
        if (msg_part) CHECK(strstr(err.msg, msg_part) != NULL, "%s: message '%s' lacks '%s'", src, err.msg, msg_part);
        CHECK(out == NULL, "%s: no output on error", src);
    }
    free(out);
}

static void test_limits(void) {
    /* an empty sequence times a huge count is empty at once; before the fix it looped over the
     * count (minutes). The alarm, far above the microseconds this takes, turns such a hang
     * into a failure (SIGALRM ends the test) instead of a stuck run. */
    alarm(60);
    expect("{{ ('' * 5551554548) ~ 'x' ~ ('ab' * 0) ~ ('c' * -3) }}", NULL, "x", FR_OK, NULL);
    expect("{{ ([] * 9223372036854775807)|length }},{{ ((1,) * 3)|length }}", NULL, "0,3", FR_OK, NULL);
    alarm(0);
    char *out = NULL;
    size_t n;
    fr_error err;
    jj_options o = {.max_steps = 10000};
    const char *loop = "{% for i in range(100000) %}{{ i }}{% endfor %}";
    CHECK(render_opts(loop, strlen(loop), NULL, &o, &out, &n, &err) == FR_ERR_RANGE && strstr(err.msg, "steps"),
          "step limit: %s", err.msg);
    free(out);
    out = NULL;
    o = (jj_options){.max_output = 1000};
    const char *big = "{% for i in range(1000) %}xxxxxxxxxx{% endfor %}";
    CHECK(render_opts(big, strlen(big), NULL, &o, &out, &n, &err) == FR_ERR_RANGE && strstr(err.msg, "output"),
          "output limit: %s", err.msg);
    CHECK(out == NULL, "no partial output past the limit");
    o = (jj_options){.max_output = 1000};
    const char *big2 = "{% set s = 'x' * 5000 %}{{ s|length }}";
    CHECK(render_opts(big2, strlen(big2), NULL, &o, &out, &n, &err) == FR_OK && !strcmp(out, "5000"),
          "values may be larger than the output limit: %s", err.msg);
    free(out);
    out = NULL;
    o = (jj_options){.max_output = 1000};
    const char *big3 = "{% macro m() %}{{ 'y' * 2000 }}{% endmacro %}{{ m()|length }}";
    CHECK(render_opts(big3, strlen(big3), NULL, &o, &out, &n, &err) == FR_ERR_RANGE, "macro output counts: %s", err.msg);
    /* recursion without end */
    const char *rec = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
    o = (jj_options){0};
    CHECK(render_opts(rec, strlen(rec), NULL, &o, &out, &n, &err) == FR_ERR_RANGE && strstr(err.msg, "line 1"),
          "macro depth: %s", err.msg);
    /* memory: doubling a string */
    const char *dbl = "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}";
    o = (jj_options){.max_memory = 64 << 20};
    CHECK(render_opts(dbl, strlen(dbl), NULL, &o, &out, &n, &err) == FR_ERR_RANGE, "memory limit: %s", err.msg);
    const char *rep = "{{ 'x' * 100000000000 }}";
    CHECK(render_opts(rep, strlen(rep), NULL, &o, &out, &n, &err) == FR_ERR_RANGE, "string repeat: %s", err.msg);
    /* deep nesting in the source */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 16);
    size_t k = 0;
    k += (size_t)sprintf(deep, "{{ ");
    for (size_t i = 0; i < depth; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (size_t i = 0; i < depth; i++) deep[k++] = ')';
    k += (size_t)sprintf(deep + k, " }}");
    fr_status st = render_opts(deep, k, NULL, NULL, &out, &n, &err);
    CHECK(st == FR_ERR_RANGE, "deeply nested expression: %s", err.msg);
    k = 0;
    for (size_t i = 0; i < 5000; i++) k += (size_t)sprintf(deep + k, "{%% if true %%}");
    st = render_opts(deep, k, NULL, NULL, &out, &n, &err);
    CHECK(st == FR_ERR_RANGE, "deeply nested blocks: %s", err.msg);
    k = 0;
    for (size_t i = 0; i < 3000; i++) k += (size_t)sprintf(deep + k, "{%% set x = [x] %%}");
    k += (size_t)sprintf(deep + k, "{{ x|length }}{{ x }}");
    st = render_opts(deep, k, NULL, NULL, &out, &n, &err);
    CHECK(st == FR_ERR_RANGE || st == FR_OK, "deeply nested values print or fail cleanly: %s", err.msg);
    free(out);
    out = NULL;
    free(deep);
    /* deep JSON input */
    char *js = malloc(50000);
    k = (size_t)sprintf(js, "{\"v\": ");
    for (int i = 0; i < 1000; i++) js[k++] = '[';
    for (int i = 0; i < 1000; i++) js[k++] = ']';
    js[k++] = '}';
    js[k] = 0;
    const char *dj = "{{ v|tojson|length }} {{ v|length }}";
    st = render_opts(dj, strlen(dj), js, NULL, &out, &n, &err);
    CHECK(st == FR_ERR_RANGE || st == FR_OK, "deep JSON: %s", err.msg);
    free(out);
    free(js);
}

static void test_errors(void) {
    expect("a\nb\n{{ raise_exception('no system, please') }}", NULL, NULL, FR_ERR_FORMAT, "line 3: no system, please");
    expect("\n\n{% if %}", NULL, NULL, FR_ERR_FORMAT, "line 3");
    expect("x\n{{ 1 +* 2 }}", NULL, NULL, FR_ERR_FORMAT, "line 2");
    expect("{% for x in l %}", "{\"l\": []}", NULL, FR_ERR_FORMAT, "endfor");
    expect("line1\n{{ u.x }}", NULL, NULL, FR_ERR_FORMAT, "line 2: 'u' is undefined");
    expect("{{ 'a' + 1 }}", NULL, NULL, FR_ERR_FORMAT, "can only concatenate");
    expect("{{ 1 // 0 }}", NULL, NULL, FR_ERR_FORMAT, "by zero");
    expect("{# unterminated", NULL, NULL, FR_ERR_FORMAT, "comment");
    expect("{{ 'unterminated }}", NULL, NULL, FR_ERR_FORMAT, NULL);
    expect("{{ [1, 2 }}", NULL, NULL, FR_ERR_FORMAT, NULL);
    expect("{% raw %}never closed", NULL, NULL, FR_ERR_FORMAT, "raw");
    expect("{% break %}", NULL, NULL, FR_ERR_FORMAT, "outside of a loop");
    expect("{{ l.append(1) }}", "{\"l\": []}", NULL, FR_ERR_FORMAT, "unsafe");
    expect("{{ \"\xff\" }}", NULL, NULL, FR_ERR_FORMAT, "UTF-8");
    /* unsupported: fail rather than differ from jinja2 */
    expect("\n{% include 'x.html' %}", NULL, NULL, FR_ERR_UNSUPPORTED, "line 2");
    expect("{% import 'x' as y %}", NULL, NULL, FR_ERR_UNSUPPORTED, "import");
    expect("{% extends 'base' %}", NULL, NULL, FR_ERR_UNSUPPORTED, NULL);
    expect("{% from 'x' import y %}", NULL, NULL, FR_ERR_UNSUPPORTED, NULL);
    expect("{% macro f() %}{{ caller() }}{% endmacro %}{% call f() %}x{% endcall %}", NULL, NULL, FR_ERR_UNSUPPORTED, "call");
    expect("{% macro f() %}{{ varargs }}{% endmacro %}{{ f(1) }}", NULL, NULL, FR_ERR_UNSUPPORTED, "varargs");
    expect("{% macro f() %}{% if x %}{{ kwargs.a }}{% endif %}{% endmacro %}", NULL, NULL, FR_ERR_UNSUPPORTED, "kwargs");
    expect("{% macro f() %}{% endmacro %}{{ f(1) }}", NULL, NULL, FR_ERR_FORMAT, "takes not more than 0");
    expect("{% for x in l recursive %}{% endfor %}", "{\"l\": []}", NULL, FR_ERR_UNSUPPORTED, "recursive");
    expect("{{ '%s' % 1 }}", NULL, NULL, FR_ERR_UNSUPPORTED, NULL);
    expect("{{ '{}'.format(1) }}", NULL, NULL, FR_ERR_UNSUPPORTED, "format");
    expect("{{ x|groupby('a') }}", NULL, NULL, FR_ERR_UNSUPPORTED, "groupby");
    expect("{{ f(*l) }}", NULL, NULL, FR_ERR_UNSUPPORTED, NULL);
    expect("{{ cycler(1, 2) }}", NULL, NULL, FR_ERR_UNSUPPORTED, "cycler");
    expect("{{ range(3) }}", NULL, NULL, FR_ERR_UNSUPPORTED, "range");
    expect("{{ l|map('upper') }}", "{\"l\": []}", NULL, FR_ERR_UNSUPPORTED, "generator");
    expect("{{ 9223372036854775807 + 1 }}", NULL, NULL, FR_ERR_UNSUPPORTED, "overflow");
    expect("{{ 2 ** 64 }}", NULL, NULL, FR_ERR_UNSUPPORTED, "overflow");
    expect("{{ 5.real }}", NULL, NULL, FR_ERR_UNSUPPORTED, NULL);
    /* errors while output goes to a buffer on the stack of a function that the error unwinds
     * (a ~ concatenation, a macro call, a set block, a filter block, nested): the renderer
     * must free those buffers without touching the unwound frames. A fuzzed Llama 3.1 template
     * with a test given an argument inside a ~ freed a stack address before this was fixed. */
    expect("{{ 'a' * 300 ~ (1 is none(2)) }}", NULL, NULL, FR_ERR_FORMAT, "takes at most 0 arguments");
    expect("{{ 'a' * 300 ~ raise_exception('in a concat') }}", NULL, NULL, FR_ERR_FORMAT, "in a concat");
    expect("{% macro f(x) %}{{ 'b' * 999 }}{{ x ~ 'c' * 300 ~ u.v }}{% endmacro %}{{ 'd' ~ f(1) }}", NULL, NULL,
           FR_ERR_FORMAT, "'u' is undefined");
    expect("{% set s %}{{ 'e' * 5000 }}{% filter upper %}{{ 'f' * 700 }}{{ 1 // 0 }}{% endfilter %}{% endset %}", NULL,
           NULL, FR_ERR_FORMAT, "by zero");
    expect("{% macro g() %}{% set t %}{{ 'g' * 300 }}{{ raise_exception('deep') }}{% endset %}{% endmacro %}"
           "{% filter lower %}{{ 'h' * 300 ~ g() }}{% endfilter %}",
           NULL, NULL, FR_ERR_FORMAT, "deep");
}

static void test_rendering(void) {
    /* newlines are normalized and one trailing newline dropped, as jinja2 does */
    expect("a\r\nb{% if true %}\r\nc{% endif %}\r\n", NULL, "a\nbc", FR_OK, NULL);
    expect("a\rb\n\n", NULL, "a\nb\n", FR_OK, NULL);
    expect("{{ 'x\r\ny' }}", NULL, "x\ny", FR_OK, NULL);
    /* transformers' {% generation %} block renders its body */
    expect("{% generation %}g{{ 1 }}{% endgeneration %}", NULL, "g1", FR_OK, NULL);
    /* NUL bytes in values pass through */
    {
        const char *src = "[{{ s }}]";
        char *out = NULL;
        size_t n = 0;
        fr_error err;
        fr_status st = render_opts(src, strlen(src), "{\"s\": \"a\\u0000b\"}", NULL, &out, &n, &err);
        CHECK(st == FR_OK && n == 5 && !memcmp(out, "[a\0b]", 5), "NUL in a value: %s", err.msg);
        free(out);
    }
    /* the date strftime_now formats */
    {
        struct tm day = {.tm_year = 124, .tm_mon = 6, .tm_mday = 26, .tm_wday = 5, .tm_yday = 207};
        jj_options o = {.now = &day};
        const char *src = "{{ strftime_now('%d %b %Y %A') }}";
        char *out = NULL;
        size_t n;
        fr_error err;
        CHECK(render_opts(src, strlen(src), NULL, &o, &out, &n, &err) == FR_OK && !strcmp(out, "26 Jul 2024 Friday"),
              "strftime_now: %s", out ? out : err.msg);
        free(out);
    }
    /* an empty template and an empty output */
    expect("", NULL, "", FR_OK, NULL);
    expect("{% if false %}x{% endif %}", NULL, "", FR_OK, NULL);
    /* limits on the sandbox do not leak between renders */
    expect("{{ ''.__class__ }}|{{ l.__len__ }}|", "{\"l\": [1]}", "||", FR_OK, NULL);
}

/* random templates from fragments: any status is fine, crashes and leaks are not (ASan) */
static void test_fuzz(void) {
    static const char *const frag[] = {
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", "if", "for", "in", "endif", "endfor",
        "else", "elif", "set", "=", "x", "m", "l", "s", "u", "loop", ".", "[", "]", "(", ")", "{", "}", ",", ":",
        "|", "length", "join", "tojson", "trim", "map", "selectattr", "is", "not", "defined", "none", "and", "or",
        "+", "-", "*", "/", "//", "%", "**", "~", "==", "<", "1", "2.5", "'a'", "\"b\"", "'\\u00e9'", "true",
        " ", "\n", "text", "é", "macro", "endmacro", "namespace", "ns", "range", "raw", "endraw", "break",
        "continue", "with", "endwith", "filter", "upper", "endfilter", "items", "keys", "split", "0", "-1", "::",
        "raise_exception", "strftime_now", "'%d'", "lower", "string", "list", "first", "last", "sort", "reverse",
    };
    const char *vars = "{\"x\": 3, \"m\": {\"a\": [1, \"b\"]}, \"l\": [1, 2, 3], \"s\": \"str\"}";
    test_rng r = {12345};
    char src[512];
    jj_options o = {.max_steps = 20000, .max_output = 1 << 16, .max_memory = 16 << 20};
    int ok = 0;
    for (int it = 0; it < 3000; it++) {
        size_t n = 0;
        int k = 1 + (int)(test_rng_next(&r) % 24);
        for (int j = 0; j < k; j++) {
            const char *f = frag[test_rng_next(&r) % FR_ARRAY_LEN(frag)];
            size_t fl = strlen(f);
            if (n + fl + 1 >= sizeof src) break;
            memcpy(src + n, f, fl);
            n += fl;
            if (test_rng_next(&r) % 2) src[n++] = ' ';
        }
        char *out = NULL;
        size_t on = 0;
        fr_error err = {0};
        fr_status st = render_opts(src, n, vars, &o, &out, &on, &err);
        if (st == FR_OK) ok++;
        else CHECK(!out && err.msg[0], "fuzz: failure without a message");
        free(out);
    }
    CHECK(ok > 100, "fuzz: some random templates render (%d)", ok);
    /* mutations of a real-looking chat template */
    static const char base[] =
        "{%- set ns = namespace(sys='', first=true) %}{%- for m in messages %}{%- if m['role'] == 'system' %}"
        "{%- set ns.sys = ns.sys + m.content|trim %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.sys }}\n"
        "{%- for m in messages[ns.first|int:] if m.role != 'system' %}\n  {%- if m.tool_calls is defined %}"
        "{{ m.tool_calls|map(attribute='function')|map(attribute='name')|join(', ') }}{{ m.tool_calls[0].function"
        ".arguments|tojson(indent=2) }}{%- elif loop.last and m.role == 'assistant' %}{{ m.content.split('</think>')"
        "[-1].lstrip() }}{% else %}<|{{ m.role|upper }}|>{{ m['content'] ~ '\\n' }}{% endif %}\n{%- endfor %}"
        "{%- if add_generation_prompt %}<|ASSISTANT|>{% raw %}{{x}}{% endraw %}{%- endif %}";
    const char *cvars =
        "{\"bos_token\": \"<s>\", \"add_generation_prompt\": true, \"messages\": [{\"role\": \"system\", "
        "\"content\": \" S \"}, {\"role\": \"user\", \"content\": \"hi é\"}, {\"role\": \"assistant\", "
        "\"content\": \"<think>r</think> a\", \"tool_calls\": [{\"function\": {\"name\": \"f\", "
        "\"arguments\": {\"k\": [1, 2.5, null]}}}]}]}";
    char *out = NULL;
    size_t on;
    fr_error err;
    fr_status st = render_opts(base, sizeof base - 1, cvars, &o, &out, &on, &err);
    CHECK(st == FR_OK, "fuzz base template renders: %s", err.msg);
    free(out);
    for (int it = 0; it < 3000; it++) {
        size_t n = sizeof base - 1;
        char big[1024];
        memcpy(big, base, n);
        int muts = 1 + (int)(test_rng_next(&r) % 4);
        for (int j = 0; j < muts && n > 2; j++) {
            size_t at = test_rng_next(&r) % n;
            switch (test_rng_next(&r) % 3) {
            case 0: memmove(big + at, big + at + 1, n - at - 1); n--; break; /* delete */
            case 1: big[at] = "{}%#-+|.()[]'\"~ \n"[test_rng_next(&r) % 17]; break; /* replace */
            default: /* duplicate a byte */
                if (n + 1 < sizeof big) {
                    memmove(big + at + 1, big + at, n - at);
                    n++;
                }
            }
        }
        out = NULL;
        st = render_opts(big, n, cvars, &o, &out, &on, &err);
        if (st != FR_OK) CHECK(!out && err.msg[0], "mutation: failure without a message");
        free(out);
    }
}

int main(void) {
    test_fuzz();
    test_limits();
    test_errors();
    test_rendering();
    return CHECK_DONE("test_jinja");
}

/* test_json_schema.c: response_format json_schema (apps/serve/json_schema.c and json_guard.c,
 * compiled in here). For a set of schemas: every allowed text is accepted and ends the guard
 * (or may end it, for a number or literal at the top); every text the schema does not allow
 * is refused at the first byte after which no allowed text can follow; every keyword the
 * guard cannot enforce is refused at compile time with a message naming it and its place. */
#include <jansson.h>
#include <string.h>

#include "check.h"

#include "../../apps/serve/json_guard.c"
#include "../../apps/serve/json_schema.c"

static js_schema *compile_text(const char *text, char *msg, size_t n) {
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j) {
        snprintf(msg, n, "test schema does not parse: %s", jerr.text);
        return NULL;
    }
    js_schema *s = js_schema_compile(j, msg, n);
    json_decref(j); /* the compiled schema keeps nothing of the JSON */
    return s;
}

/* Feeds s; returns the index of the first refused byte, or -1 if all were accepted. */
static long first_refused(const js_schema *s, const char *text, json_guard *g) {
    json_guard_init(g, s);
    for (long i = 0; text[i]; i++)
        if (!json_guard_feed(g, (unsigned char)text[i])) return i;
    return -1;
}

typedef struct {
    const char *text;
    long at; /* -1: accepted as a whole value; -2: accepted, an unfinished prefix; else refused here */
} probe;

static void run(const char *name, const char *schema, const probe *p, size_t n) {
    char msg[512];
    js_schema *s = compile_text(schema, msg, sizeof msg);
    CHECK(s != NULL, "%s: compile: %s", name, msg);
    if (!s) return;
    json_guard g;
    for (size_t i = 0; i < n; i++) {
        long at = first_refused(s, p[i].text, &g);
        long want = p[i].at < 0 ? -1 : p[i].at;
        CHECK(at == want, "%s: %s: refused at byte %ld, expected %ld", name, p[i].text, at, want);
        if (p[i].at == -1) CHECK(json_guard_can_end(&g), "%s: %s: a whole value cannot end", name, p[i].text);
        if (p[i].at == -2) CHECK(!json_guard_can_end(&g), "%s: %s: an unfinished prefix can end", name, p[i].text);
    }
    js_schema_free(s);
}

#define RUN(name, schema, probes) run(name, schema, probes, sizeof probes / sizeof probes[0])

static void test_person(void) {
    static const char *schema =
        "{\"type\":\"object\",\"title\":\"Person\",\"properties\":{"
        "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":5,\"description\":\"given name\"},"
        "\"age\":{\"type\":\"integer\"},\"ok\":{\"type\":\"boolean\"},"
        "\"role\":{\"enum\":[\"admin\",\"user\",null,1,10]},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":1,\"maxItems\":2}},"
        "\"required\":[\"name\",\"age\"],\"additionalProperties\":false}";
    static const probe p[] = {
        {"{\"name\":\"ab\",\"age\":3}", -1},
        {"{\"age\":-12,\"name\":\"abcde\",\"ok\":true,\"role\":\"admin\",\"tags\":[1.5,2e3]}", -1},
        {" { \"name\" : \"\xc3\xa9\xe2\x82\xacx\" , \"age\" : 0 , \"role\" : null } ", 50}, /* nothing after the value */
        {" { \"name\" : \"\xc3\xa9\xe2\x82\xacx\" , \"age\" : 0 , \"role\" : null }", -1},  /* 3 characters */
        {"{\"name\":\"a\",\"age\":1,\"role\":10}", -1},
        {"{\"name\":\"a\",\"age\":1,\"role\":1}", -1},
        {"{\"name\":\"a\",\"age\":1,\"role\":15}", 28}, /* 1 is whole, 15 is no choice: the 5 follows it */
        {"{\"name\":\"a\",\"age\":1,\"role\":\"adm\"}", 31},
        {"{\"name\":\"ab\"}", 12},                      /* age is required */
        {"{\"name\":\"abcdef\"}", 14},                  /* maxLength 5 */
        {"{\"name\":\"\",\"age\":1}", 9},               /* minLength 1 */
        {"{\"nam\":1}", 5},                             /* no such property */
        {"{\"x\":1}", 2},
        {"{\"name\\u0041\":1}", 6},                     /* no escapes in declared names */
        {"{\"age\":1.5}", 8},                           /* an integer */
        {"{\"age\":1e3}", 8},
        {"{\"name\":\"a\",\"name\":\"b\"}", 13},        /* given once */
        {"{\"name\":\"a\",\"age\":1,\"tags\":[]}", 28},  /* minItems 1 */
        {"{\"name\":\"a\",\"age\":1,\"tags\":[1,2,3]}", 31}, /* maxItems 2: the second ',' */
        {"{\"name\":\"a\",\"age\":1,\"tags\":[\"1\"]}", 28},
        {"{\"name\":\"a\",\"age\":1,\"ok\":nul}", 25}, /* a boolean: not null */
        {"{\"name\":\"a\",\"age\":1,\"ok\":1}", 25},
        {"[]", 0},
        {"{\"name\":\"\xff\"}", 9},                       /* not UTF-8 */
        {"{\"name\":\"\xc3\"}", 10},                      /* a character cut short */
        {"{\"name\":\"\xed\xa0\x80\"}", 10},              /* a surrogate */
        {"{\"name\":\"\xe0\x80\xaf\"}", 10},              /* an overlong form */
        {"{\"name\":\"\xf4\x90\x80\x80\"}", 10},          /* past U+10FFFF */
        {"{\"name\":\"a\nb\"}", 10},                      /* a raw control character */
        {"{\"name\":\"ab\",\"age\":3,", -2},
        {"{\"name\":\"ab\",\"age\":3", -2},
        /* every property given: no ',' may follow */
        {"{\"name\":\"a\",\"age\":1,\"ok\":true,\"role\":\"user\",\"tags\":[1],", 54},
    };
    RUN("person", schema, p);
}

static void test_top_level(void) {
    static const probe ints[] = {{"12", -1}, {"-0", -1}, {"-", -2}, {"01", 1}, {"1.0", 1}, {"\"1\"", 0}, {"12 ", 2}};
    RUN("integer", "{\"type\":\"integer\"}", ints);
    static const probe nums[] = {{"1.5e-3", -1}, {"1.", -2}, {"1e", -2}, {"-.5", 1}};
    RUN("number", "{\"type\":[\"number\",\"integer\"]}", nums);
    static const probe lits[] = {{"\"ab\"", -1}, {"\"a\"", -1}, {"3", -1}, {"30", -1}, {"true", -1},
                                 {"3", -1},      {"\"abc\"", 3}, {"4", 0},   {"tru", -2},  {"\"a", -2}};
    RUN("enum", "{\"enum\":[\"a\",\"ab\",3,30,true]}", lits);
    static const probe cnst[] = {{"{\"k\":[1,2]}", -1}, {"{\"k\": [1,2]}", 5}};
    RUN("const", "{\"const\":{\"k\":[1,2]}}", cnst);
    static const probe typed_enum[] = {{"\"x\"", -1}, {"1", 0}};
    RUN("enum filtered by type", "{\"type\":\"string\",\"enum\":[\"x\",1]}", typed_enum);
    static const probe any[] = {{"[{\"a\":null},\"s\",-1,true]", -1}, {"{\"a\":[]}", -1}, {"nul", -2}};
    RUN("any value", "{}", any);
    RUN("true schema", "true", any);
}

static void test_alternatives(void) {
    static const probe opt[] = {{"null", -1}, {"{\"v\":1}", -1}, {"{}", 1}, {"\"x\"", 0}, {"[", 0}};
    RUN("optional object",
        "{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"}},"
        "\"required\":[\"v\"]}]}",
        opt);
    static const probe mixed[] = {{"\"ab\"", -1}, {"\"abc\"", 3}, {"[1]", -1}, {"[\"a\"]", 1}, {"7", -1}, {"7.5", -1}};
    RUN("string, array or number",
        "{\"oneOf\":[{\"type\":\"string\",\"maxLength\":2},{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
        "{\"type\":\"number\"}]}",
        mixed);
    /* a recursive list, with the recursion inside an Optional (anyOf [$ref, null]) */
    static const probe list[] = {{"{\"v\":1,\"next\":{\"v\":2,\"next\":null}}", -1},
                                 {"{\"v\":1,\"next\":{\"next\":null}}", 26}, /* the inner v */
                                 {"{\"v\":1,\"next\":{\"v\":2,\"next\":{\"v\":3}}}", -1}};
    RUN("recursive",
        "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
        "\"next\":{\"anyOf\":[{\"$ref\":\"#/$defs/node\"},{\"type\":\"null\"}]}},\"required\":[\"v\"],"
        "\"additionalProperties\":false}},\"$ref\":\"#/$defs/node\"}",
        list);
    static const probe tree[] = {{"{\"kids\":[{\"kids\":[]},{}]}", -1}, {"{\"kids\":[1]}", 9}};
    RUN("root reference", "{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}",
        tree);
    static const probe all1[] = {{"\"x\"", -1}, {"1", 0}};
    RUN("allOf of one", "{\"allOf\":[{\"type\":\"string\"}],\"description\":\"d\"}", all1);
    static const probe defs[] = {{"[\"a~b\",\"c/d\"]", -1}};
    RUN("definitions and pointer escapes",
        "{\"definitions\":{\"x~y\":{\"const\":\"a~b\"},\"p/q\":{\"const\":\"c/d\"}},\"type\":\"array\","
        "\"items\":{\"anyOf\":[{\"$ref\":\"#/definitions/x~0y\"},{\"$ref\":\"#/definitions/p~1q\"}]}}",
        defs);
}

static void test_objects(void) {
    static const probe extra[] = {{"{\"a\":1,\"b\":-2}", -1}, {"{\"a\":\"x\"}", 5}, {"{\"a\\n\":1}", -1}};
    RUN("additionalProperties schema", "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}", extra);
    /* additional keys by default; a declared key keeps its schema, another may be anything */
    static const probe open[] = {{"{\"id\":1,\"idx\":\"s\"}", -1}, {"{\"id\":\"s\"}", 6}, {"{\"i\":[]}", -1},
                                 {"{\"id\":1,\"id\":\"s\"}", 11}}; /* a declared key once, not again as another */
    RUN("open object", "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}}}", open);
    static const probe closed[] = {{"{}", -1}, {"{\"", 1}};
    RUN("closed empty object", "{\"type\":\"object\",\"additionalProperties\":false}", closed);
    static const probe strings[] = {{"\"\\u00e9\\n\"", -1}, {"\"\\x\"", 2}, {"\"\\u12g4\"", 5}, {"\"abc\"", 3}};
    RUN("escapes count as one character", "{\"type\":\"string\",\"maxLength\":2}", strings);
}

/* nesting stops at JS_MAX_NESTING containers */
static void test_nesting(void) {
    char msg[256];
    js_schema *s = compile_text("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}", msg, sizeof msg);
    CHECK(s != NULL, "nested arrays: %s", msg);
    if (!s) return;
    json_guard g;
    json_guard_init(&g, s);
    int opened = 0;
    json_guard t;
    for (;;) { /* a refused byte spends a guard: each is tried on a copy */
        json_guard_copy(&t, &g);
        if (opened == 100 || !json_guard_feed(&t, '[')) break;
        json_guard_feed(&g, '[');
        opened++;
    }
    CHECK(opened == JS_MAX_NESTING, "%d nested arrays opened (expected %d)", opened, JS_MAX_NESTING);
    for (int i = 0; i < opened; i++) CHECK(json_guard_feed(&g, ']'), "close %d", i);
    CHECK(json_guard_done(&g) && json_guard_can_end(&g), "closed");
    js_schema_free(s); /* (that a copy is independent: test_json_guard) */
}

/* the engine's shortcut inside strings (json_guard_plain_room, json_plain_chars) agrees with
 * feeding the bytes */
static void test_plain_text(void) {
    char msg[256];
    js_schema *s = compile_text("{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"string\",\"maxLength\":6}}}",
                                msg, sizeof msg);
    CHECK(s != NULL, "plain text schema: %s", msg);
    if (!s) return;
    static const char *const states[] = {"{\"k\":\"", "{\"k\":\"ab", "{\"k\":\"abcdef", "{\"k\":\"\xc3", "{\"k", "{\"k\":\"a\\",
                                         "{\"k\":\"a\",\"other\":{\"x"};
    static const int64_t room[] = {6, 4, 0, -1, -1, -1, INT64_MAX}; /* the last: a key of an open object */
    static const char *const texts[] = {"abc", "\xc3\xa9", "\xe2\x82\xac\xe2\x82\xac", "\xc3", "a\"", "a\\", "abcdefg",
                                        "\x01",  " ",        "\xed\xa0\x80",         "x\x80", "ab}", ""};
    static const int64_t chars[] = {3, 1, 2, -1, -1, -1, 7, -1, 1, -1, -1, 3, 0};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++)
        CHECK(json_plain_chars(texts[t], strlen(texts[t])) == chars[t], "plain characters of text %zu: %lld", t,
              (long long)json_plain_chars(texts[t], strlen(texts[t])));
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        json_guard g, c;
        CHECK(first_refused(s, states[i], &g) == -1, "state %zu", i);
        int64_t r = json_guard_plain_room(&g);
        CHECK(r == room[i], "room in state %zu: %lld (expected %lld)", i, (long long)r, (long long)room[i]);
        for (size_t t = 0; r >= 0 && t < sizeof texts / sizeof texts[0]; t++) {
            int64_t p = json_plain_chars(texts[t], strlen(texts[t]));
            if (p < 0) continue;
            json_guard_copy(&c, &g);
            bool fed = json_guard_feed_bytes(&c, texts[t], strlen(texts[t]));
            CHECK(fed == (p <= r), "state %zu text %zu: fed %d, shortcut %d", i, t, (int)fed, (int)(p <= r));
        }
    }
    js_schema_free(s);
}

/* what the compiler refuses, and the message it gives */
static void test_refused(void) {
    static const struct {
        const char *schema, *want;
    } bad[] = {
        {"{\"type\":\"string\",\"pattern\":\"^a\"}", "unsupported keyword 'pattern' at /"},
        {"{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}",
         "unsupported keyword 'format' at /properties/d"},
        {"{\"type\":\"array\",\"items\":{\"type\":\"number\",\"minimum\":0}}", "unsupported keyword 'minimum' at /items"},
        {"{\"type\":\"array\",\"uniqueItems\":true}", "'uniqueItems'"},
        {"{\"not\":{}}", "'not'"},
        {"{\"type\":\"strin\"}", "unknown type 'strin'"},
        {"{\"type\":[]}", "non-empty list"},
        {"{\"type\":\"array\",\"items\":[{}]}", "tuples"},
        {"{\"$ref\":\"http://example.com/s.json\"}", "'$ref' http://example.com/s.json"},
        {"{\"$ref\":\"#/$defs/missing\"}", "'$ref' #/$defs/missing"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{}},\"required\":[\"b\"]}", "required property 'b'"},
        {"{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", "minItems 3 > maxItems 2"},
        {"{\"type\":\"string\",\"maxLength\":-1}", "'maxLength' must be a non-negative integer"},
        {"{\"enum\":[]}", "'enum' is empty"},
        {"{\"type\":\"integer\",\"enum\":[\"a\"]}", "no value of 'enum'"},
        {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"string\",\"maxLength\":3}]}", "the same type"},
        {"{\"anyOf\":[{\"type\":\"string\"},{\"const\":\"x\"}]}", "begin alike"},
        {"{\"$defs\":{\"t\":{\"anyOf\":[{\"$ref\":\"#/$defs/t\"},{\"type\":\"null\"}]}},\"$ref\":\"#/$defs/t\"}",
         "refers back"},
        {"{\"allOf\":[{},{}]}", "exactly one"},
        {"{\"oneOf\":[{\"const\":1},{\"enum\":[2,1]}]}", "'oneOf' alternatives that both allow 1"},
        {"{\"type\":\"object\",\"properties\":{\"a\\\"b\":{}}}", "property names with"},
        {"false", "allows nothing"},
        {"[1]", "must be an object or a boolean"},
        {"{\"$ref\":\"#\",\"type\":\"object\"}", "'type' beside '$ref'"},
        {"{\"enum\":[1],\"const\":1}", "both 'enum' and 'const'"},
        {"{\"enum\":[\"abcdef\"],\"maxLength\":3}", "'maxLength' beside 'enum'"},
        {"{\"anyOf\":[{\"type\":\"object\"},{\"type\":\"null\"}],\"required\":[\"a\"]}", "'required' beside 'anyOf'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char msg[512] = "";
        js_schema *s = compile_text(bad[i].schema, msg, sizeof msg);
        CHECK(!s && strstr(msg, bad[i].want), "%s: expected an error with \"%s\", got %s", bad[i].schema, bad[i].want,
              s ? "a schema" : msg);
        js_schema_free(s);
    }
    /* more than JS_MAX_CHOICES choices */
    char big[4096];
    int n = snprintf(big, sizeof big, "{\"enum\":[0");
    for (int i = 1; i <= JS_MAX_CHOICES; i++) n += snprintf(big + n, sizeof big - (size_t)n, ",%d", i);
    snprintf(big + n, sizeof big - (size_t)n, "]}");
    char msg[512] = "";
    js_schema *s = compile_text(big, msg, sizeof msg);
    CHECK(!s && strstr(msg, "more than 64"), "65 enum values refused: %s", msg);
    js_schema_free(s);
    /* a self-referencing chain of $refs ends */
    s = compile_text("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}", msg, sizeof msg);
    CHECK(!s && strstr(msg, "nested more than"), "a $ref cycle with no schema in it is refused: %s", msg);
    js_schema_free(s);
}

int main(void) {
    test_person();
    test_top_level();
    test_alternatives();
    test_objects();
    test_nesting();
    test_plain_text();
    test_refused();
    return CHECK_DONE("test_json_schema");
}

/* test_json_guard.c: the JSON-object recogniser behind the server's response_format
 * json_object (apps/serve/json_guard.c, compiled in here): every complete object is accepted
 * and ends the guard; every invalid text is refused at the first byte that makes it invalid;
 * the nesting and whitespace caps hold. */
#include "check.h"

#include "../../apps/serve/json_guard.c"

static js_schema *g_object; /* response_format json_object */

/* Feeds s; returns the index of the first refused byte, or -1 if all were accepted. */
static long first_refused(const char *s, json_guard *g) {
    json_guard_init(g, g_object);
    for (long i = 0; s[i]; i++)
        if (!json_guard_feed(g, (unsigned char)s[i])) return i;
    return -1;
}

int main(void) {
    g_object = js_schema_json_object();
    if (!g_object) return 1;
    json_guard g;
    static const char *const complete[] = {
        "{}", "{ }", "{\"a\":1}", "{\"a\": -0.5e+10, \"b\": [1, 2.25, -3E2, 0]}", "{\"k\":\"v\\n\\u00e9\\\"\"}",
        "{\"t\":true,\"f\":false,\"n\":null}", "{\"a\":{\"b\":{\"c\":[[],[{}],\"x\"]}}}", "{\"\xc3\xa9\":\"\xe2\x82\xac\"}",
        "\n{\"a\" : [ 1 , 2 ] }",
    };
    for (size_t i = 0; i < sizeof complete / sizeof complete[0]; i++) {
        long at = first_refused(complete[i], &g);
        CHECK(at == -1, "complete object %zu refused at byte %ld: %s", i, at, complete[i]);
        CHECK(json_guard_done(&g), "complete object %zu does not end the guard: %s", i, complete[i]);
        CHECK(!json_guard_feed(&g, ' ') && !json_guard_feed(&g, '{'), "nothing may follow a complete object");
    }
    static const char *const prefixes[] = {"{", "{\"a", "{\"a\":", "{\"a\":[1,", "{\"a\":-", "{\"a\":1.", "{\"a\":tr",
                                           "{\"a\":\"\\u00", "{\"a\":\"x\\"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        CHECK(first_refused(prefixes[i], &g) == -1, "valid prefix refused: %s", prefixes[i]);
        CHECK(!json_guard_done(&g), "an incomplete prefix is not done: %s", prefixes[i]);
    }
    /* invalid texts and the byte at which each becomes invalid */
    static const struct {
        const char *s;
        long at;
    } bad[] = {
        {"[1]", 0},           /* json_object: the top level is an object */
        {"\"a\"", 0},         {"{a:1}", 1},        {"{\"a\" 1}", 5},      {"{\"a\":1,}", 7},
        {"{\"a\":01}", 6},    {"{\"a\":1.}", 7},   {"{\"a\":-}", 6},      {"{\"a\":1e}", 7},
        {"{\"a\":tru}", 8},   {"{\"a\":[1}", 7},   {"{\"a\":{]}", 6},     {"{\"a\":\"\\x\"}", 7},
        {"{\"a\":\"\\u12g4\"}", 10}, {"{\"a\":\"x\ny\"}", 7}, {"{\"a\":1}}", 7}, {"{\"a\":[,]}", 6},
        {"{\"a\":+1}", 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long at = first_refused(bad[i].s, &g);
        CHECK(at == bad[i].at, "invalid text %zu refused at byte %ld, expected %ld: %s", i, at, bad[i].at, bad[i].s);
    }
    /* nesting: 64 levels are fine, the 65th is refused */
    char deep[200];
    int n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (int i = 0; i < 63; i++) deep[n++] = '[';
    deep[n] = 0;
    CHECK(first_refused(deep, &g) == -1, "64 levels of nesting are allowed");
    CHECK(!json_guard_feed(&g, '['), "the 65th level is refused");
    /* whitespace runs are capped */
    json_guard_init(&g, g_object);
    CHECK(json_guard_feed(&g, '{'), "{");
    int ws = 0;
    while (ws < 100 && json_guard_feed(&g, ' ')) ws++;
    CHECK(ws > 8 && ws < 100, "a run of whitespace is capped (accepted %d)", ws);
    CHECK(json_guard_feed(&g, '}') && json_guard_done(&g), "the object can still close after the cap");
    /* a copy of the state is independent (the engine tries every token on a copy) */
    json_guard_init(&g, g_object);
    json_guard_feed_bytes(&g, "{\"a\":[", 6);
    json_guard c;
    json_guard_copy(&c, &g);
    CHECK(json_guard_feed_bytes(&c, "1]}", 3) && json_guard_done(&c), "the copy completes");
    CHECK(!json_guard_done(&g) && json_guard_feed_bytes(&g, "{}]}", 4) && json_guard_done(&g), "the original is untouched");
    js_schema_free(g_object);
    return CHECK_DONE("test_json_guard");
}

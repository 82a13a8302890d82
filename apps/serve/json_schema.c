/* json_schema.c: JSON Schema -> js_schema (json_guard.c), for response_format json_schema.
 *
 * The subset that a byte-level recogniser can enforce while generating, and nothing else:
 * every keyword that would constrain the output but is not enforced is refused with a message
 * naming it and its place, never silently ignored.
 *   type (a name or a list), enum, const, properties, required, additionalProperties (true,
 *   false or a schema; absent: any other keys), items (one schema), minItems, maxItems,
 *   minLength, maxLength, anyOf / oneOf (alternatives that begin differently: an object, an
 *   array, a string, a number and literals, at most one of each kind), allOf of one schema,
 *   $ref to "#", "#/$defs/NAME" or "#/definitions/NAME" (recursion allowed), and annotations
 *   (title, description, default, examples, $schema, $id, $comment, deprecated, readOnly,
 *   writeOnly), which are ignored.
 * Refused, among others: pattern, format, minimum, maximum, multipleOf, uniqueItems,
 * patternProperties, not, if/then/else, prefixItems, allOf of several schemas. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

enum { MAX_COMPILE_DEPTH = 256 };

typedef struct {
    js_schema *s;
    const json_t *root;
    char *msg;
    size_t msg_len;
    /* schemas being or already compiled (by address) and their nodes: $ref cycles end here */
    struct {
        const json_t *sch;
        int32_t node;
    } *seen;
    size_t n_seen, cap_seen;
    /* anyOf/oneOf nodes whose kinds are still being merged (innermost last) */
    int32_t merging[MAX_COMPILE_DEPTH + 1];
    int n_merging;
} compiler;

static int32_t fail(compiler *c, const char *path, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(c->msg, c->msg_len, "%s at %s", what, *path ? path : "/");
    return -1;
}

static bool oom(compiler *c) {
    snprintf(c->msg, c->msg_len, "out of memory compiling the schema");
    return false;
}

static const char *const k_annotations[] = {"title",  "description", "default",  "examples", "$schema",
                                            "$id",    "$comment",    "deprecated", "readOnly", "writeOnly",
                                            "$defs", "definitions", NULL};
static const char *const k_supported[] = {"type",      "enum",      "const",     "properties", "required",
                                          "additionalProperties", "items", "minItems", "maxItems", "minLength",
                                          "maxLength", "anyOf",     "oneOf",     "allOf",      "$ref",
                                          NULL};

static bool in_list(const char *const *list, const char *k) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], k)) return true;
    return false;
}

static void child_path(char *out, size_t n, const char *path, const char *a, const char *b) {
    snprintf(out, n, "%s/%s%s%s", path, a, b ? "/" : "", b ? b : "");
}

static int32_t compile(compiler *c, const json_t *sch, const char *path, int depth);

/* a non-negative integer keyword, or def if absent */
static bool get_count(compiler *c, const json_t *sch, const char *key, int64_t def, int64_t *out, const char *path) {
    const json_t *v = json_object_get(sch, key);
    *out = def;
    if (!v) return true;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) == (double)(int64_t)json_real_value(v) &&
        json_real_value(v) < 9e18) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    fail(c, path, "'%s' must be a non-negative integer", key);
    return false;
}

/* adds the compact JSON text of v to the node's literals (in a new array: literals may be shared) */
static bool add_literals(compiler *c, js_node *n, const char *const *add, const size_t *add_len, int32_t k,
                         const char *path) {
    if (n->n_lit + k > JS_MAX_CHOICES) {
        fail(c, path, "more than %d literal values (enum, const, true, false, null)", JS_MAX_CHOICES);
        return false;
    }
    const char **lit = js_alloc(c->s, sizeof *lit * (size_t)(n->n_lit + k));
    size_t *len = js_alloc(c->s, sizeof *len * (size_t)(n->n_lit + k));
    if (!lit || !len) return oom(c);
    for (int32_t i = 0; i < n->n_lit; i++) lit[i] = n->lit[i], len[i] = n->lit_len[i];
    for (int32_t i = 0; i < k; i++) lit[n->n_lit + i] = add[i], len[n->n_lit + i] = add_len[i];
    n->lit = lit;
    n->lit_len = len;
    n->n_lit += k;
    return true;
}

/* the JSON types of a value, as `type` names them: JS_* and T_BOOL, T_NULL */
enum { T_BOOL = 32, T_NULL = 64 };
static unsigned kind_of(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return JS_OBJECT;
    case JSON_ARRAY: return JS_ARRAY;
    case JSON_STRING: return JS_STRING;
    case JSON_INTEGER: return JS_NUMBER | JS_INTEGER;
    case JSON_REAL: {
        double d = json_real_value(v);
        return d == (double)(int64_t)d && d > -9e18 && d < 9e18 ? JS_NUMBER | JS_INTEGER : JS_NUMBER;
    }
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOL;
    default: return T_NULL;
    }
}

/* the values of `enum` (or the one of `const`) that `type` (mask) allows too, as the node's
 * literals: their compact JSON texts */
static bool enum_values(compiler *c, js_node *n, const json_t *en, const json_t *cn, unsigned mask,
                        const char *path) {
    size_t k = en ? json_array_size(en) : 1;
    if (k == 0) return fail(c, path, "'enum' is empty: nothing can match"), false;
    if (k > JS_MAX_CHOICES) return fail(c, path, "'enum' has more than %d values", JS_MAX_CHOICES), false;
    const char *texts[JS_MAX_CHOICES];
    size_t lens[JS_MAX_CHOICES];
    int32_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        const json_t *v = en ? json_array_get(en, i) : cn;
        if (!(kind_of(v) & mask)) continue;
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!t) return oom(c);
        size_t len = strlen(t);
        char *copy = js_alloc(c->s, len + 1);
        if (copy) memcpy(copy, t, len + 1);
        free(t);
        if (!copy) return oom(c);
        texts[kept] = copy;
        lens[kept++] = len;
    }
    if (!kept) return fail(c, path, "no value of '%s' has the type that 'type' gives", en ? "enum" : "const"), false;
    return add_literals(c, n, texts, lens, kept, path);
}

/* a literal's first byte that a structural type of the node would also take */
static bool literal_clashes(const js_node *n) {
    for (int32_t i = 0; i < n->n_lit; i++) {
        char b = n->lit[i][0];
        if ((b == '{' && (n->types & JS_OBJECT)) || (b == '[' && (n->types & JS_ARRAY)) ||
            (b == '"' && (n->types & JS_STRING)) ||
            ((b == '-' || (b >= '0' && b <= '9')) && (n->types & (JS_NUMBER | JS_INTEGER))))
            return true;
    }
    return false;
}

static bool plain_name(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\') return false;
    return true;
}

static bool compile_object(compiler *c, int32_t id, const json_t *sch, const char *path, int depth) {
    const json_t *props = json_object_get(sch, "properties"), *req = json_object_get(sch, "required");
    const json_t *add = json_object_get(sch, "additionalProperties");
    char sub[1024];
    if (props && !json_is_object(props)) return fail(c, path, "'properties' must be an object"), false;
    size_t np = props ? json_object_size(props) : 0;
    if (np > JS_MAX_CHOICES) return fail(c, path, "more than %d properties in one object", JS_MAX_CHOICES), false;
    js_prop *pr = np ? js_alloc(c->s, sizeof *pr * np) : NULL;
    if (np && !pr) return oom(c);
    size_t i = 0;
    const char *name;
    json_t *ps;
    json_object_foreach((json_t *)props, name, ps) {
        size_t len = strlen(name);
        child_path(sub, sizeof sub, path, "properties", name);
        if (!plain_name(name, len))
            return fail(c, sub, "property names with '\"', '\\\\' or control characters are not supported"), false;
        int32_t node = compile(c, ps, sub, depth + 1);
        if (node < 0) return false;
        char *copy = js_alloc(c->s, len + 1);
        if (!copy) return oom(c);
        memcpy(copy, name, len + 1);
        pr[i].name = copy;
        pr[i].len = len;
        pr[i].node = node;
        i++;
    }
    uint64_t required = 0;
    if (req) {
        if (!json_is_array(req)) return fail(c, path, "'required' must be an array of names"), false;
        for (size_t k = 0; k < json_array_size(req); k++) {
            const char *r = json_string_value(json_array_get(req, k));
            if (!r) return fail(c, path, "'required' must be an array of names"), false;
            size_t at = 0;
            while (at < np && strcmp(pr[at].name, r)) at++;
            if (at == np) return fail(c, path, "required property '%s' is not in 'properties'", r), false;
            required |= (uint64_t)1 << at;
        }
    }
    int32_t additional = 0;
    if (add && json_is_false(add)) {
        additional = -1;
    } else if (add && !json_is_true(add)) {
        child_path(sub, sizeof sub, path, "additionalProperties", NULL);
        additional = compile(c, add, sub, depth + 1);
        if (additional < 0) return false;
    }
    js_node *n = &c->s->nodes[id]; /* after the recursion: the node array may have moved */
    n->n_props = (int32_t)np;
    n->props = pr;
    n->required = required;
    n->additional = additional;
    return true;
}

/* anyOf / oneOf: each alternative supplies its own kinds of value (two may not share one): an
 * object value follows the constraints of the alternative that allows objects, and so on.
 * An alternative's kinds and literals must be known when it is merged: an alternative that
 * refers back to the anyOf itself is refused; one that refers to an enclosing schema (a
 * recursive Optional) is fine, since that schema's kinds are set before its children. */
static bool merge_alternatives(compiler *c, int32_t id, const json_t *alts, const char *key, const char *path,
                               int depth) {
    char sub[1024];
    if (!json_is_array(alts) || json_array_size(alts) == 0)
        return fail(c, path, "'%s' must be a non-empty array of schemas", key), false;
    for (size_t k = 0; k < json_array_size(alts); k++) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", k);
        child_path(sub, sizeof sub, path, key, idx);
        int32_t a = compile(c, json_array_get(alts, k), sub, depth + 1);
        if (a < 0) return false;
        for (int m = 0; m < c->n_merging; m++)
            if (c->merging[m] == a)
                return fail(c, sub, "an alternative that refers back to the schema it is part of"), false;
        js_node *n = &c->s->nodes[id];
        const js_node *alt = &c->s->nodes[a];
        uint8_t t = alt->types, nt = n->types;
        /* integer beside number is no clash: the number form takes both */
        bool clash = (t & nt & (JS_OBJECT | JS_ARRAY | JS_STRING)) ||
                     ((t & (JS_NUMBER | JS_INTEGER)) && (nt & (JS_NUMBER | JS_INTEGER)) && !((t | nt) & JS_NUMBER));
        if (clash) return fail(c, sub, "alternatives that both allow the same type of value are not supported"), false;
        if (t & JS_OBJECT) n->obj = alt->obj;
        if (t & JS_ARRAY) n->arr = alt->arr;
        if (t & JS_STRING) n->str = alt->str;
        n->types |= t;
        if (alt->n_lit && !add_literals(c, n, alt->lit, alt->lit_len, alt->n_lit, sub)) return false;
        if (literal_clashes(&c->s->nodes[id]))
            return fail(c, sub, "alternatives whose values can begin alike are not supported"), false;
    }
    /* oneOf: a value must match exactly one alternative. The kinds are apart already; no
     * literal may come from two alternatives either. */
    const js_node *n = &c->s->nodes[id];
    for (int32_t i = 0; !strcmp(key, "oneOf") && i < n->n_lit; i++)
        for (int32_t j = i + 1; j < n->n_lit; j++)
            if (n->lit_len[i] == n->lit_len[j] && !memcmp(n->lit[i], n->lit[j], n->lit_len[i]))
                return fail(c, path, "'oneOf' alternatives that both allow %s", n->lit[i]), false;
    return true;
}

/* "#", "#/$defs/NAME", "#/definitions/NAME" (JSON pointer escapes ~0 ~1) */
static const json_t *resolve_ref(compiler *c, const char *ref) {
    if (!strcmp(ref, "#")) return c->root;
    const char *rest = NULL, *container = NULL;
    if (!strncmp(ref, "#/$defs/", 8)) rest = ref + 8, container = "$defs";
    else if (!strncmp(ref, "#/definitions/", 14)) rest = ref + 14, container = "definitions";
    if (!rest) return NULL;
    char name[512];
    size_t n = 0;
    for (const char *p = rest; *p; p++) {
        if (*p == '/' || n + 1 >= sizeof name) return NULL;
        char ch = *p;
        if (ch == '~') {
            if (p[1] == '0') ch = '~';
            else if (p[1] == '1') ch = '/';
            else return NULL;
            p++;
        }
        name[n++] = ch;
    }
    name[n] = 0;
    return json_object_get(json_object_get(c->root, container), name);
}

static bool remember(compiler *c, const json_t *sch, int32_t node) {
    if (c->n_seen == c->cap_seen) {
        size_t cap = c->cap_seen ? 2 * c->cap_seen : 16;
        void *s = realloc(c->seen, sizeof *c->seen * cap);
        if (!s) return oom(c);
        c->seen = s;
        c->cap_seen = cap;
    }
    c->seen[c->n_seen].sch = sch;
    c->seen[c->n_seen].node = node;
    c->n_seen++;
    return true;
}

static bool type_mask(compiler *c, const json_t *type, unsigned *mask, const char *path) {
    static const char *const names[] = {"object", "array", "string", "number", "integer", "boolean", "null"};
    static const unsigned bits[] = {JS_OBJECT, JS_ARRAY, JS_STRING, JS_NUMBER, JS_INTEGER, T_BOOL, T_NULL};
    size_t n = json_is_array(type) ? json_array_size(type) : 1;
    if (!json_is_string(type) && (!json_is_array(type) || n == 0))
        return fail(c, path, "'type' must be a name or a non-empty list of names"), false;
    *mask = 0;
    for (size_t k = 0; k < n; k++) {
        const json_t *t = json_is_array(type) ? json_array_get(type, k) : type;
        if (!json_is_string(t)) return fail(c, path, "'type' must be a name or a non-empty list of names"), false;
        size_t i = 0;
        while (i < 7 && strcmp(names[i], json_string_value(t))) i++;
        if (i == 7) return fail(c, path, "unknown type '%s'", json_string_value(t)), false;
        *mask |= bits[i];
    }
    return true;
}

static int32_t compile(compiler *c, const json_t *sch, const char *path, int depth) {
    if (depth > MAX_COMPILE_DEPTH) return fail(c, path, "schema nested more than %d deep", MAX_COMPILE_DEPTH);
    if (json_is_true(sch)) return 0;
    if (json_is_false(sch)) return fail(c, path, "the schema false allows nothing");
    if (!json_is_object(sch)) return fail(c, path, "a schema must be an object or a boolean");
    for (size_t s = 0; s < c->n_seen; s++)
        if (c->seen[s].sch == sch) return c->seen[s].node;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)sch, key, v) {
        if (!in_list(k_annotations, key) && !in_list(k_supported, key))
            return fail(c, path, "unsupported keyword '%s'", key);
    }
    char sub[1024];
    const json_t *ref = json_object_get(sch, "$ref");
    if (ref) {
        json_object_foreach((json_t *)sch, key, v) {
            if (strcmp(key, "$ref") && !in_list(k_annotations, key))
                return fail(c, path, "'%s' beside '$ref' is not supported", key);
        }
        const json_t *target = json_is_string(ref) ? resolve_ref(c, json_string_value(ref)) : NULL;
        if (!target)
            return fail(c, path, "'$ref' %s: only \"#\", \"#/$defs/NAME\" and \"#/definitions/NAME\" of this schema",
                        json_is_string(ref) ? json_string_value(ref) : "(not a string)");
        child_path(sub, sizeof sub, path, "$ref", NULL);
        return compile(c, target, sub, depth + 1);
    }
    const json_t *all = json_object_get(sch, "allOf");
    if (all) {
        if (!json_is_array(all) || json_array_size(all) != 1)
            return fail(c, path, "'allOf' is supported with exactly one schema");
        if (json_object_size(sch) > 1) {
            json_object_foreach((json_t *)sch, key, v) {
                if (strcmp(key, "allOf") && !in_list(k_annotations, key))
                    return fail(c, path, "'%s' beside 'allOf' is not supported", key);
            }
        }
        child_path(sub, sizeof sub, path, "allOf", "0");
        return compile(c, json_array_get(all, 0), sub, depth + 1);
    }

    const json_t *type = json_object_get(sch, "type"), *en = json_object_get(sch, "enum");
    const json_t *cn = json_object_get(sch, "const");
    const json_t *any = json_object_get(sch, "anyOf"), *one = json_object_get(sch, "oneOf");
    if (any && one) return fail(c, path, "both 'anyOf' and 'oneOf'");
    if ((any || one) && (type || en || cn))
        return fail(c, path, "'type', 'enum' or 'const' beside '%s' is not supported", any ? "anyOf" : "oneOf");
    if (en && cn) return fail(c, path, "both 'enum' and 'const'");
    if (en && !json_is_array(en)) return fail(c, path, "'enum' must be an array");
    /* beside literals or alternatives these would have to hold as well: not enforced, so refused */
    static const char *const shape[] = {"properties", "required", "additionalProperties", "items",
                                        "minItems",   "maxItems", "minLength",            "maxLength"};
    for (size_t k = 0; (en || cn || any || one) && k < sizeof shape / sizeof shape[0]; k++)
        if (json_object_get(sch, shape[k]))
            return fail(c, path, "'%s' beside '%s' is not supported", shape[k],
                        en ? "enum" : cn ? "const" : any ? "anyOf" : "oneOf");
    /* no type: every type (the other keywords apply to the values of their kind) */
    unsigned mask = JS_OBJECT | JS_ARRAY | JS_STRING | JS_NUMBER | T_BOOL | T_NULL;
    if (type && !type_mask(c, type, &mask, path)) return -1;
    if (mask & JS_NUMBER) mask |= JS_INTEGER;
    int64_t min_items, max_items, min_len, max_len;
    if (!get_count(c, sch, "minItems", 0, &min_items, path) ||
        !get_count(c, sch, "maxItems", INT64_MAX, &max_items, path) ||
        !get_count(c, sch, "minLength", 0, &min_len, path) || !get_count(c, sch, "maxLength", INT64_MAX, &max_len, path))
        return -1;
    if (min_items > max_items)
        return fail(c, path, "minItems %lld > maxItems %lld", (long long)min_items, (long long)max_items);
    if (min_len > max_len) return fail(c, path, "minLength %lld > maxLength %lld", (long long)min_len, (long long)max_len);

    /* The node's kinds and literals first, then its children: a child may refer back to it
     * (recursion) and, inside an anyOf, needs its kinds (merge_alternatives). */
    bool literal_only = en || cn, alternatives = any || one;
    uint8_t types = literal_only || alternatives ? 0 : (uint8_t)(mask & (JS_OBJECT | JS_ARRAY | JS_STRING | JS_NUMBER | JS_INTEGER));
    if (types & JS_NUMBER) types &= (uint8_t)~JS_INTEGER;
    bool lit_bools = !literal_only && !alternatives && (mask & T_BOOL), lit_null = !literal_only && !alternatives && (mask & T_NULL);
    int32_t id = js_node_new(c->s, types, lit_bools, lit_null);
    if (id < 0) return oom(c), -1;
    if (!remember(c, sch, id)) return -1;
    if (alternatives) c->merging[c->n_merging++] = id; /* depth-bounded: one per compile level */
    js_node *n = &c->s->nodes[id];
    n->min_items = min_items;
    n->max_items = max_items;
    n->min_len = min_len;
    n->max_len = max_len;
    if (literal_only && !enum_values(c, &c->s->nodes[id], en, cn, mask, path)) return -1;
    const json_t *items = json_object_get(sch, "items");
    if (items) {
        if (json_is_array(items)) return fail(c, path, "'items' as a list (tuples) is not supported");
        child_path(sub, sizeof sub, path, "items", NULL);
        int32_t it = compile(c, items, sub, depth + 1);
        if (it < 0) return -1;
        c->s->nodes[id].items = it;
    }
    if (!compile_object(c, id, sch, path, depth)) return -1;
    if (alternatives) {
        bool ok = merge_alternatives(c, id, any ? any : one, any ? "anyOf" : "oneOf", path, depth);
        c->n_merging--;
        if (!ok) return -1;
    }
    /* every path above leaves some value allowed, and literals apart from the types */
    assert(c->s->nodes[id].types || c->s->nodes[id].n_lit);
    return id;
}

js_schema *js_schema_compile(const json_t *schema, char *msg, size_t msg_len) {
    compiler c = {.root = schema, .msg = msg, .msg_len = msg_len};
    c.s = js_schema_new();
    if (!c.s) {
        snprintf(msg, msg_len, "out of memory compiling the schema");
        return NULL;
    }
    int32_t root = compile(&c, schema, "", 0);
    free(c.seen);
    if (root < 0) {
        js_schema_free(c.s);
        return NULL;
    }
    c.s->root = root;
    return c.s;
}

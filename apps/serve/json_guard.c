/* json_guard.c: structured output. A compiled schema (js_schema: nodes of allowed types,
 * literals, properties, items and lengths; json_schema.c compiles JSON Schema into it) and a
 * byte-level recogniser of the prefixes of the JSON texts (RFC 8259) that it allows.
 *
 * The recogniser's state is a stack of frames, one per open container plus the value being
 * read, so that each step can try every vocabulary token on a copy of it: tokens whose text
 * cannot continue an allowed prefix are masked before sampling. It refuses a byte as soon as
 * no allowed text can continue, so generation never walks into a dead end: a ',' only where
 * another property or item may follow, a '}' only once the required properties are there, a
 * key only if it can still become an allowed one. (The one dead end left: a schema that
 * demands objects or arrays nested deeper than JS_MAX_NESTING; the engine then fails the
 * request.) Runs of whitespace are capped, so a model cannot stall in indentation forever. */
#include <stdlib.h>
#include <string.h>

#include "serve.h"

enum { F_VALUE, F_OBJECT, F_ARRAY, F_STRING, F_NUMBER, F_LITERAL }; /* frame kinds */
enum { O_FIRST, O_KEY, O_COLON, O_AFTER };  /* object: after '{', after ',', after a key, after a value */
enum { A_FIRST, A_NEXT, A_AFTER };          /* array: after '[', after ',', after a value */
enum { S_CHARS, S_ESC, S_HEX };             /* string; sub = 1: an object's key */
enum { N_SIGN, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP }; /* number; sub = 1: integer */
#define MAX_WS 24

/* ---- the schema ---- */

typedef struct arena_block {
    struct arena_block *next;
    max_align_t data[];
} arena_block;

void *js_alloc(js_schema *s, size_t n) {
    if (n > SIZE_MAX - sizeof(arena_block)) return NULL;
    arena_block *b = calloc(1, sizeof *b + (n ? n : 1));
    if (!b) return NULL;
    b->next = s->arena;
    s->arena = b;
    return b->data;
}

/* the literals of booleans and null: [0, 2) true/false, [2, 3) null, shared by every node */
static const char *const k_lits[3] = {"true", "false", "null"};
static const size_t k_lit_len[3] = {4, 5, 4};

int32_t js_node_new(js_schema *s, uint8_t types, bool bools, bool null) {
    if (s->n_nodes == s->cap_nodes) {
        int32_t cap = s->cap_nodes ? 2 * s->cap_nodes : 8;
        js_node *n = realloc(s->nodes, sizeof *n * (size_t)cap);
        if (!n) return -1;
        s->nodes = n;
        s->cap_nodes = cap;
    }
    js_node *n = &s->nodes[s->n_nodes];
    memset(n, 0, sizeof *n);
    n->types = types;
    n->obj = n->arr = n->str = s->n_nodes;
    n->additional = 0; /* node 0: any value */
    n->items = 0;
    n->max_items = INT64_MAX;
    n->max_len = INT64_MAX;
    n->lit = k_lits + (bools ? 0 : 2);
    n->lit_len = k_lit_len + (bools ? 0 : 2);
    n->n_lit = (bools ? 2 : 0) + (null ? 1 : 0);
    return s->n_nodes++;
}

js_schema *js_schema_new(void) {
    js_schema *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (js_node_new(s, JS_OBJECT | JS_ARRAY | JS_STRING | JS_NUMBER, true, true) != 0) {
        js_schema_free(s);
        return NULL;
    }
    return s;
}

void js_schema_free(js_schema *s) {
    if (!s) return;
    for (arena_block *b = s->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(s->nodes);
    free(s);
}

js_schema *js_schema_json_object(void) {
    js_schema *s = js_schema_new();
    if (!s) return NULL;
    s->root = js_node_new(s, JS_OBJECT, false, false);
    if (s->root < 0) {
        js_schema_free(s);
        return NULL;
    }
    return s;
}

/* ---- the recogniser ---- */

void json_guard_init(json_guard *g, const js_schema *s) {
    g->s = s;
    g->ws = 0;
    g->depth = 1;
    memset(&g->f[0], 0, sizeof g->f[0]);
    g->f[0].kind = F_VALUE;
    g->f[0].node = s->root;
}

void json_guard_copy(json_guard *dst, const json_guard *src) {
    dst->s = src->s;
    dst->depth = src->depth;
    dst->ws = src->ws;
    memcpy(dst->f, src->f, sizeof src->f[0] * (size_t)src->depth);
}

static const js_node *node_of(const json_guard *g, const jg_frame *f) { return &g->s->nodes[f->node]; }
static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static uint64_t low_bits(int n) { return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1; }

static jg_frame *push(json_guard *g, int kind, int32_t node) {
    if (g->depth > JS_MAX_NESTING) return NULL;
    jg_frame *f = &g->f[g->depth++];
    memset(f, 0, sizeof *f);
    f->kind = (uint8_t)kind;
    f->node = node;
    return f;
}

/* The top frame's value is complete: back to its container (which set its own next state
 * when it opened the value), or, at the top, done (depth 0). */
static void pop(json_guard *g) { g->depth--; }

/* literal choices of node n whose byte idx is c */
static uint64_t lit_match(const js_node *n, uint64_t cand, size_t idx, unsigned char c) {
    uint64_t next = 0;
    for (int i = 0; i < n->n_lit; i++)
        if ((cand >> i & 1) && n->lit_len[i] > idx && (unsigned char)n->lit[i][idx] == c) next |= (uint64_t)1 << i;
    return next;
}

static bool lit_complete(const js_node *n, uint64_t cand, size_t idx, bool *longer) {
    bool whole = false;
    *longer = false;
    for (int i = 0; i < n->n_lit; i++) {
        if (!(cand >> i & 1)) continue;
        if (n->lit_len[i] == idx) whole = true;
        else *longer = true;
    }
    return whole;
}

/* A literal frame after a matched byte: pops at once when one choice is whole and none is
 * longer (the literal ends itself); otherwise the next byte decides. */
static void lit_advance(json_guard *g, jg_frame *f) {
    bool longer;
    if (lit_complete(node_of(g, f), f->cand, f->idx, &longer) && !longer) pop(g);
}

/* Begins the value of the top (F_VALUE) frame with byte c. */
static bool start_value(json_guard *g, unsigned char c) {
    jg_frame *f = &g->f[g->depth - 1];
    const js_node *n = node_of(g, f);
    if (c == '{' && (n->types & JS_OBJECT)) {
        if (g->depth > JS_MAX_NESTING) return false;
        f->kind = F_OBJECT;
        f->state = O_FIRST;
        f->node = n->obj;
        return true;
    }
    if (c == '[' && (n->types & JS_ARRAY)) {
        if (g->depth > JS_MAX_NESTING) return false;
        f->kind = F_ARRAY;
        f->state = A_FIRST;
        f->node = n->arr;
        return true;
    }
    if (c == '"' && (n->types & JS_STRING)) {
        f->kind = F_STRING;
        f->state = S_CHARS;
        f->node = n->str;
        return true;
    }
    if ((c == '-' || (c >= '0' && c <= '9')) && (n->types & (JS_NUMBER | JS_INTEGER))) {
        f->kind = F_NUMBER;
        f->state = c == '-' ? N_SIGN : c == '0' ? N_ZERO : N_INT;
        f->sub = !(n->types & JS_NUMBER);
        return true;
    }
    uint64_t cand = lit_match(n, low_bits(n->n_lit), 0, c);
    if (!cand) return false;
    f->kind = F_LITERAL;
    f->cand = cand;
    f->idx = 1;
    lit_advance(g, f);
    return true;
}

/* keys of object node n that may still be given (by f->seen) */
static uint64_t open_props(const js_node *n, const jg_frame *f) { return low_bits(n->n_props) & ~f->seen; }

static bool can_close_object(const js_node *n, const jg_frame *f) { return (n->required & ~f->seen) == 0; }

static bool object_byte(json_guard *g, jg_frame *f, unsigned char c) {
    const js_node *n = node_of(g, f);
    switch (f->state) {
    case O_FIRST:
        if (c == '}') {
            if (!can_close_object(n, f)) return false;
            pop(g);
            return true;
        }
        if (c != '"' || (!open_props(n, f) && n->additional < 0)) return false;
        /* fall through */
    case O_KEY: {
        if (c != '"') return false;
        int32_t node = f->node;
        uint64_t all = low_bits(n->n_props);
        jg_frame *k = push(g, F_STRING, node);
        if (!k) return false;
        k->sub = 1;
        k->cand = all; /* every declared name: one given already may not come back as another key */
        return true;
    }
    case O_COLON: {
        if (c != ':') return false;
        f->state = O_AFTER;
        int32_t node = f->prop >= 0 ? n->props[f->prop].node : n->additional;
        return push(g, F_VALUE, node) != NULL;
    }
    case O_AFTER:
        if (c == ',') {
            if (!open_props(n, f) && n->additional < 0) return false;
            f->state = O_KEY;
            return true;
        }
        if (c != '}' || !can_close_object(n, f)) return false;
        pop(g);
        return true;
    }
    return false;
}

static bool array_byte(json_guard *g, jg_frame *f, unsigned char c) {
    const js_node *n = node_of(g, f);
    if (f->state == A_AFTER) {
        if (c == ',' && (int64_t)f->count < n->max_items) {
            f->state = A_NEXT;
            return true;
        }
        if (c == ']' && (int64_t)f->count >= n->min_items) {
            pop(g);
            return true;
        }
        return false;
    }
    if (c == ']' && f->state == A_FIRST && n->min_items == 0) {
        pop(g);
        return true;
    }
    if ((int64_t)f->count >= n->max_items) return false;
    f->state = A_AFTER;
    f->count++;
    if (!push(g, F_VALUE, n->items)) return false;
    return start_value(g, c);
}

/* a key's closing quote: which property it named (a declared one not given yet, or another
 * key where the object allows them; never a declared one again) */
static bool key_done(json_guard *g, jg_frame *k) {
    jg_frame *obj = &g->f[g->depth - 2];
    const js_node *n = node_of(g, obj);
    int32_t prop = -1;
    for (int i = 0; i < n->n_props; i++)
        if ((k->cand >> i & 1) && n->props[i].len == k->idx) prop = i;
    if (prop >= 0 && (obj->seen >> prop & 1)) return false;
    if (prop < 0 && n->additional < 0) return false;
    g->depth--;
    obj->prop = prop;
    if (prop >= 0) obj->seen |= (uint64_t)1 << prop;
    obj->state = O_COLON;
    return true;
}

/* UTF-8 inside strings (RFC 3629: no overlong forms, surrogates or code points past
 * U+10FFFF). f->utf8: the continuation bytes still due (low 2 bits) and the range of the
 * next one (above them: 0 80-BF, 1 A0-BF, 2 80-9F, 3 90-BF, 4 80-8F). Returns -1 if c is
 * refused, 1 if it begins a character, 0 if it continues one. */
static int utf8_byte(jg_frame *f, unsigned char c) {
    static const unsigned char lo[5] = {0x80, 0xa0, 0x80, 0x90, 0x80}, hi[5] = {0xbf, 0xbf, 0x9f, 0xbf, 0x8f};
    int due = f->utf8 & 3, range = f->utf8 >> 2;
    if (due) {
        if (c < lo[range] || c > hi[range]) return -1;
        f->utf8 = (uint8_t)(due - 1);
        return 0;
    }
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) f->utf8 = 1;
    else if (c >= 0xe0 && c <= 0xef) f->utf8 = (uint8_t)(2 | (c == 0xe0 ? 1 : c == 0xed ? 2 : 0) << 2);
    else if (c >= 0xf0 && c <= 0xf4) f->utf8 = (uint8_t)(3 | (c == 0xf0 ? 3 : c == 0xf4 ? 4 : 0) << 2);
    else return -1;
    return 1;
}

/* one character of a string's content (a character's first byte, or an escape) */
static bool string_char(const js_node *n, jg_frame *f) {
    if (f->sub) return true; /* keys have no length limits */
    if ((int64_t)f->count >= n->max_len) return false;
    f->count++;
    return true;
}

static bool string_byte(json_guard *g, jg_frame *f, unsigned char c) {
    const js_node *n = node_of(g, f);
    const bool key = f->sub;
    switch (f->state) {
    case S_CHARS:
        if (f->utf8 && (c == '"' || c == '\\')) return false; /* inside a character */
        if (c == '"') {
            if (key) return key_done(g, f);
            if ((int64_t)f->count < n->min_len) return false;
            pop(g);
            return true;
        }
        if (c == '\\') {
            /* declared names are plain: an escape could spell one and slip past its schema */
            if (key && n->n_props > 0) return false;
            f->state = S_ESC;
            return string_char(n, f);
        }
        if (c < 0x20) return false; /* raw control characters are not allowed in strings */
        int u = utf8_byte(f, c);
        if (u < 0) return false;
        if (key) {
            if (f->cand) {
                uint64_t next = 0;
                for (int i = 0; i < n->n_props; i++)
                    if ((f->cand >> i & 1) && n->props[i].len > f->idx && (unsigned char)n->props[i].name[f->idx] == c)
                        next |= (uint64_t)1 << i;
                f->cand = next;
            }
            /* without other keys, the name must still lead to a declared one not given yet */
            if (n->additional < 0 && !(f->cand & ~g->f[g->depth - 2].seen)) return false;
            if (f->idx < UINT16_MAX) f->idx++;
            else f->cand = 0;
            return true;
        }
        return u == 0 || string_char(n, f);
    case S_ESC:
        if (c == 'u') {
            f->state = S_HEX;
            f->idx = 4;
            return true;
        }
        f->state = S_CHARS;
        return c != 0 && strchr("\"\\/bfnrt", c) != NULL;
    case S_HEX:
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
        if (--f->idx == 0) f->state = S_CHARS;
        return true;
    }
    return false;
}

/* 1: c continues the number; 0: the number is complete and c comes after it; -1: refused */
static int number_byte(jg_frame *f, unsigned char c) {
    const bool digit = c >= '0' && c <= '9', integer = f->sub;
    switch (f->state) {
    case N_SIGN:
        if (!digit) return -1;
        f->state = c == '0' ? N_ZERO : N_INT;
        return 1;
    case N_ZERO:
    case N_INT:
        if (digit) return f->state == N_INT ? 1 : -1;
        if (integer) return 0;
        if (c == '.') return f->state = N_DOT, 1;
        if (c == 'e' || c == 'E') return f->state = N_E, 1;
        return 0;
    case N_DOT:
        if (!digit) return -1;
        f->state = N_FRAC;
        return 1;
    case N_FRAC:
        if (digit) return 1;
        if (c == 'e' || c == 'E') return f->state = N_E, 1;
        return 0;
    case N_E:
        if (c == '+' || c == '-') return f->state = N_ESIGN, 1;
        /* fall through */
    case N_ESIGN:
        if (!digit) return -1;
        f->state = N_EXP;
        return 1;
    case N_EXP:
        return digit ? 1 : 0;
    }
    return -1;
}

bool json_guard_feed(json_guard *g, unsigned char c) {
    if (g->depth == 0) return false; /* the value is complete */
    jg_frame *f = &g->f[g->depth - 1];
    switch (f->kind) {
    case F_STRING:
        return string_byte(g, f, c);
    case F_NUMBER: {
        int r = number_byte(f, c);
        if (r != 0) return r > 0;
        pop(g); /* a complete number followed by c: c belongs to what comes after it */
        return json_guard_feed(g, c);
    }
    case F_LITERAL: {
        const js_node *n = node_of(g, f);
        uint64_t next = lit_match(n, f->cand, f->idx, c);
        if (next) {
            f->cand = next;
            f->idx++;
            lit_advance(g, f);
            return true;
        }
        bool longer;
        if (!lit_complete(n, f->cand, f->idx, &longer)) return false;
        pop(g);
        return json_guard_feed(g, c);
    }
    default:
        break;
    }
    /* between tokens: whitespace, capped */
    if (is_ws(c)) return ++g->ws <= MAX_WS;
    g->ws = 0;
    if (f->kind == F_VALUE) return start_value(g, c);
    if (f->kind == F_OBJECT) return object_byte(g, f, c);
    return array_byte(g, f, c);
}

bool json_guard_feed_bytes(json_guard *g, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!json_guard_feed(g, (unsigned char)s[i])) return false;
    return true;
}

bool json_guard_done(const json_guard *g) { return g->depth == 0; }

int64_t json_guard_plain_room(const json_guard *g) {
    if (g->depth == 0) return -1;
    const jg_frame *f = &g->f[g->depth - 1];
    if (f->kind != F_STRING || f->state != S_CHARS || f->utf8) return -1;
    if (f->sub) /* a key: free text only where no name is declared */
        return node_of(g, f)->n_props == 0 && node_of(g, f)->additional >= 0 ? INT64_MAX : -1;
    return node_of(g, f)->max_len - (int64_t)f->count;
}

int64_t json_plain_chars(const char *s, size_t n) {
    jg_frame f = {.kind = F_STRING};
    int64_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\') return -1;
        int u = utf8_byte(&f, c);
        if (u < 0) return -1;
        chars += u;
    }
    return f.utf8 ? -1 : chars;
}

bool json_guard_can_end(const json_guard *g) {
    if (g->depth == 0) return true;
    if (g->depth != 1) return false;
    const jg_frame *f = &g->f[0];
    if (f->kind == F_NUMBER) return f->state == N_ZERO || f->state == N_INT || f->state == N_FRAC || f->state == N_EXP;
    bool longer;
    return f->kind == F_LITERAL && lit_complete(node_of(g, f), f->cand, f->idx, &longer);
}

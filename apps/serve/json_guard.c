/* json_guard.c: response_format {"type": "json_object"}: the output must be one JSON object.
 *
 * A byte-level recogniser of JSON prefixes (RFC 8259) whose whole state fits in a few words
 * (the container stack is a bit mask: at most 64 levels), so that each step can try every
 * vocabulary token on a copy of it: tokens whose text cannot continue a valid prefix are
 * masked before sampling. Once the object is complete only end-of-generation tokens remain.
 * Runs of whitespace are capped, so a model cannot stall in indentation forever. */
#include <string.h>

#include "serve.h"

enum {
    J_START,      /* before the top-level object: whitespace, '{' */
    J_VALUE,      /* a value is expected */
    J_KEY_OR_END, /* after '{': a key or '}' */
    J_KEY,        /* after ',' in an object: a key */
    J_COLON,      /* after a key */
    J_AFTER,      /* after a value: ',' or the closing bracket */
    J_STRING,     /* inside a string */
    J_ESC,        /* after a backslash */
    J_HEX,        /* inside \uXXXX (sub = digits left) */
    J_NUMBER,     /* inside a number (sub = number state) */
    J_LITERAL,    /* inside true/false/null (sub = literal, idx = next char) */
    J_DONE        /* the top-level object is closed */
};
enum { N_SIGN, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP }; /* number sub-states */
#define MAX_WS 24
#define MAX_DEPTH 64

static const char *const k_literals[3] = {"true", "false", "null"};

void json_guard_init(json_guard *g) { memset(g, 0, sizeof *g); }

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* the end of a value: back to the enclosing container */
static void value_done(json_guard *g) { g->state = g->depth == 0 ? J_DONE : J_AFTER; }

static bool push(json_guard *g, bool object) {
    if (g->depth >= MAX_DEPTH) return false;
    if (object)
        g->stack |= (uint64_t)1 << g->depth;
    else
        g->stack &= ~((uint64_t)1 << g->depth);
    g->depth++;
    return true;
}

static bool top_is_object(const json_guard *g) { return g->depth > 0 && (g->stack >> (g->depth - 1)) & 1; }

static bool start_value(json_guard *g, unsigned char c) {
    if (c == '{') {
        g->state = J_KEY_OR_END;
        return push(g, true);
    }
    if (c == '[') {
        if (!push(g, false)) return false;
        g->state = J_VALUE;
        g->sub = 1; /* an empty array may close at once */
        return true;
    }
    if (c == '"') {
        g->state = J_STRING;
        g->in_key = false;
        return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        g->state = J_NUMBER;
        g->sub = c == '-' ? N_SIGN : c == '0' ? N_ZERO : N_INT;
        return true;
    }
    for (int i = 0; i < 3; i++)
        if (c == (unsigned char)k_literals[i][0]) {
            g->state = J_LITERAL;
            g->sub = i;
            g->idx = 1;
            return true;
        }
    return false;
}

static bool close_container(json_guard *g, unsigned char c) {
    if (g->depth == 0 || (c == '}') != top_is_object(g)) return false;
    g->depth--;
    value_done(g);
    return true;
}

bool json_guard_feed(json_guard *g, unsigned char c) {
    if (g->state != J_STRING && g->state != J_ESC && g->state != J_HEX && g->state != J_NUMBER && is_ws(c)) {
        if (g->state == J_DONE || ++g->ws > MAX_WS) return false;
        return true;
    }
    if (g->state != J_NUMBER) g->ws = 0;
    switch (g->state) {
    case J_START:
        if (c != '{') return false;
        g->state = J_KEY_OR_END;
        return push(g, true);
    case J_VALUE:
        if (c == ']' && g->sub == 1) return close_container(g, c);
        g->sub = 0;
        return start_value(g, c);
    case J_KEY_OR_END:
        if (c == '}') return close_container(g, c);
        /* fall through */
    case J_KEY:
        if (c != '"') return false;
        g->state = J_STRING;
        g->in_key = true;
        return true;
    case J_COLON:
        if (c != ':') return false;
        g->state = J_VALUE;
        g->sub = 0;
        return true;
    case J_AFTER:
        if (c == ',') {
            g->state = top_is_object(g) ? J_KEY : J_VALUE;
            g->sub = 0;
            return true;
        }
        return (c == '}' || c == ']') && close_container(g, c);
    case J_STRING:
        if (c == '"') {
            if (g->in_key)
                g->state = J_COLON;
            else
                value_done(g);
            return true;
        }
        if (c == '\\') {
            g->state = J_ESC;
            return true;
        }
        return c >= 0x20; /* raw control characters are not allowed in strings */
    case J_ESC:
        if (c == 'u') {
            g->state = J_HEX;
            g->sub = 4;
            return true;
        }
        g->state = J_STRING;
        return strchr("\"\\/bfnrt", c) != NULL && c != 0;
    case J_HEX:
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
        if (--g->sub == 0) g->state = J_STRING;
        return true;
    case J_NUMBER: {
        bool digit = c >= '0' && c <= '9';
        switch (g->sub) {
        case N_SIGN:
            if (!digit) return false;
            g->sub = c == '0' ? N_ZERO : N_INT;
            return true;
        case N_ZERO:
        case N_INT:
            if (digit && g->sub == N_INT) return true;
            if (c == '.') return g->sub = N_DOT, true;
            if (c == 'e' || c == 'E') return g->sub = N_E, true;
            break; /* the number ends here */
        case N_DOT:
            if (!digit) return false;
            g->sub = N_FRAC;
            return true;
        case N_FRAC:
            if (digit) return true;
            if (c == 'e' || c == 'E') return g->sub = N_E, true;
            break;
        case N_E:
            if (c == '+' || c == '-') return g->sub = N_ESIGN, true;
            /* fall through */
        case N_ESIGN:
            if (!digit) return false;
            g->sub = N_EXP;
            return true;
        case N_EXP:
            if (digit) return true;
            break;
        }
        /* a complete number followed by c: c belongs to what comes after the value */
        value_done(g);
        return json_guard_feed(g, c);
    }
    case J_LITERAL: {
        const char *lit = k_literals[g->sub];
        if (c != (unsigned char)lit[g->idx]) return false;
        if (lit[++g->idx] == 0) value_done(g);
        return true;
    }
    case J_DONE:
    default:
        return false;
    }
}

bool json_guard_feed_bytes(json_guard *g, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!json_guard_feed(g, (unsigned char)s[i])) return false;
    return true;
}

bool json_guard_done(const json_guard *g) { return g->state == J_DONE; }

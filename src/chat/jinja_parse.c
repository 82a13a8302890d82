/* jinja_parse.c: tokens to syntax tree, following jinja2's parser (operator precedence,
 * tuples, filters and tests, statements). Unknown filters and tests fail here, as they do
 * when jinja2 compiles a template. */
#include <string.h>

#include "chat/jinja_int.h"

typedef struct parser {
    jj_ctx *c;
    const jtok *t;
    size_t n, i;
    int depth;
    int loops; /* enclosing for loops (break/continue are valid) */
} parser;

/* filters jinja2 has and frugal does not: they fail only when evaluated */
static const char *const k_jinja2_only_filters[] = {"filesizeformat", "format", "groupby", "pprint", "random", "slice",
                                                    "striptags", "urlencode", "urlize", "wordwrap", "xmlattr"};

static void unknown_name(parser *P, jnode *x, bool filter) {
    if (filter)
        for (size_t k = 0; k < FR_ARRAY_LEN(k_jinja2_only_filters); k++)
            if (!strcmp(x->name, k_jinja2_only_filters[k])) {
                x->id = -2; /* unsupported, when evaluated */
                return;
            }
    (void)P;
    x->id = -1; /* unknown: a compile error unless in a soft frame (check_unknown) */
}

typedef struct nvec {
    jnode **v;
    size_t n, cap;
} nvec;

static void nv_push(parser *P, nvec *v, jnode *x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        jnode **nx = jj_alloc(P->c, cap * sizeof(jnode *));
        if (v->n) memcpy(nx, v->v, v->n * sizeof(jnode *));
        v->v = nx;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

static const jtok *cur(parser *P) { return &P->t[P->i]; }
static const jtok *peek(parser *P) { return &P->t[P->i + 1 < P->n ? P->i + 1 : P->i]; }
static const jtok *advance(parser *P) {
    const jtok *t = &P->t[P->i];
    if (P->i + 1 < P->n) P->i++;
    return t;
}
static bool is_op(parser *P, uint8_t op) { return cur(P)->kind == JT_OP && cur(P)->op == op; }
static bool is_name(parser *P, const char *s) { return cur(P)->kind == JT_NAME && !strcmp(cur(P)->s, s); }
static bool skip_op(parser *P, uint8_t op) {
    if (!is_op(P, op)) return false;
    advance(P);
    return true;
}
static bool skip_name(parser *P, const char *s) {
    if (!is_name(P, s)) return false;
    advance(P);
    return true;
}

static const char *describe(const jtok *t) {
    switch (t->kind) {
    case JT_EOF: return "end of template";
    case JT_DATA: return "template data";
    case JT_VAR_BEGIN: return "begin of print statement";
    case JT_VAR_END: return "end of print statement";
    case JT_BLOCK_BEGIN: return "begin of statement block";
    case JT_BLOCK_END: return "end of statement block";
    case JT_NAME: return t->s;
    case JT_STRING: return "string";
    case JT_INT: return "integer";
    case JT_FLOAT: return "float";
    default: return "operator";
    }
}

_Noreturn static void unexpected(parser *P) {
    jj_fail(P->c, cur(P)->line, FR_ERR_FORMAT, "unexpected '%s'", describe(cur(P)));
}

static void expect_op(parser *P, uint8_t op, const char *what) {
    if (!skip_op(P, op)) jj_fail(P->c, cur(P)->line, FR_ERR_FORMAT, "expected '%s', got '%s'", what, describe(cur(P)));
}
static const jtok *expect_name(parser *P) {
    if (cur(P)->kind != JT_NAME) jj_fail(P->c, cur(P)->line, FR_ERR_FORMAT, "expected a name, got '%s'", describe(cur(P)));
    return advance(P);
}
static void expect_kind(parser *P, uint8_t kind) {
    if (cur(P)->kind != kind) {
        const jtok t = {.kind = kind};
        jj_fail(P->c, cur(P)->line, FR_ERR_FORMAT, "expected %s, got '%s'", describe(&t), describe(cur(P)));
    }
    advance(P);
}

static jnode *node(parser *P, uint8_t kind, int line) {
    jnode *x = jj_alloc(P->c, sizeof *x);
    x->kind = kind;
    x->line = line;
    return x;
}

static void enter(parser *P) {
    if (++P->depth > P->c->max_depth) jj_fail(P->c, cur(P)->line, FR_ERR_RANGE, "template nested too deeply");
}

static jnode *parse_expression(parser *P, bool with_cond);
static jnode *parse_tuple(parser *P, bool simplified, bool with_cond, const char *extra_end, bool explicit_paren);
static jnode *parse_primary(parser *P);
static jnode *parse_postfix(parser *P, jnode *x);
static jnode *parse_filter_expr(parser *P, jnode *x);
static jnode *parse_unary(parser *P, bool with_filter);

static void parse_call_args(parser *P, jnode *x) {
    int line = cur(P)->line;
    expect_op(P, OP_LPAREN, "(");
    nvec args = {0}, kwv = {0};
    const char **kwn = NULL;
    size_t nkw = 0, capkw = 0;
    bool need_comma = false;
    while (!is_op(P, OP_RPAREN)) {
        if (need_comma) {
            expect_op(P, OP_COMMA, ",");
            if (is_op(P, OP_RPAREN)) break;
        }
        if (is_op(P, OP_MUL) || is_op(P, OP_POW))
            jj_fail(P->c, cur(P)->line, FR_ERR_UNSUPPORTED, "*args and **kwargs in calls");
        if (cur(P)->kind == JT_NAME && peek(P)->kind == JT_OP && peek(P)->op == OP_ASSIGN) {
            const char *k = advance(P)->s;
            advance(P);
            if (nkw == capkw) {
                capkw = capkw ? capkw * 2 : 4;
                const char **nk = jj_alloc(P->c, capkw * sizeof(char *));
                if (nkw) memcpy(nk, kwn, nkw * sizeof(char *));
                kwn = nk;
            }
            kwn[nkw++] = k;
            nv_push(P, &kwv, parse_expression(P, true));
        } else {
            if (nkw) jj_fail(P->c, line, FR_ERR_FORMAT, "invalid syntax for function call expression");
            nv_push(P, &args, parse_expression(P, true));
        }
        need_comma = true;
    }
    expect_op(P, OP_RPAREN, ")");
    x->v = args.v;
    x->nv = args.n;
    x->w = kwv.v;
    x->nw = kwv.n;
    x->names = kwn;
}

/* filter and test names may be dotted ("a.b"): none is builtin, so they are unknown */
static const char *dotted_name(parser *P) {
    const jtok *t = expect_name(P);
    if (!is_op(P, OP_DOT)) return t->s;
    size_t n = strlen(t->s);
    char *name = jj_strndup(P->c, t->s, n);
    while (skip_op(P, OP_DOT)) {
        const jtok *k = expect_name(P);
        size_t m = strlen(k->s);
        char *nn = jj_alloc(P->c, n + m + 2);
        memcpy(nn, name, n);
        nn[n] = '.';
        memcpy(nn + n + 1, k->s, m + 1);
        name = nn;
        n += m + 1;
    }
    return name;
}

static jnode *parse_filter(parser *P, jnode *in, bool start_inline) {
    while (is_op(P, OP_PIPE) || start_inline) {
        if (!start_inline) advance(P);
        start_inline = false;
        int line = cur(P)->line;
        const char *name = dotted_name(P);
        jnode *f = node(P, N_FILTER, line);
        f->a = in;
        f->name = name;
        f->id = jj_filter_id(name);
        if (f->id < 0) unknown_name(P, f, true);
        if (is_op(P, OP_LPAREN)) parse_call_args(P, f);
        in = f;
    }
    return in;
}

static jnode *parse_test(parser *P, jnode *in) {
    int line = advance(P)->line; /* 'is' */
    bool neg = skip_name(P, "not");
    const char *name = dotted_name(P);
    jnode *t = node(P, N_TEST, line);
    t->a = in;
    t->name = name;
    t->id = jj_test_id(name);
    if (t->id < 0) unknown_name(P, t, false);
    const jtok *k = cur(P);
    if (is_op(P, OP_LPAREN)) parse_call_args(P, t);
    else if ((k->kind == JT_NAME || k->kind == JT_STRING || k->kind == JT_INT || k->kind == JT_FLOAT ||
              is_op(P, OP_LBRACKET) || is_op(P, OP_LBRACE)) &&
             !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and")) {
        if (is_name(P, "is")) jj_fail(P->c, k->line, FR_ERR_FORMAT, "You cannot chain multiple tests with is");
        jnode *arg = parse_postfix(P, parse_primary(P));
        t->v = jj_alloc(P->c, sizeof(jnode *));
        t->v[0] = arg;
        t->nv = 1;
    }
    if (!neg) return t;
    jnode *n = node(P, N_UNARY, line);
    n->op = OP_NOT;
    n->a = t;
    return n;
}

static jnode *parse_subscribed(parser *P) {
    int line = cur(P)->line;
    jnode *parts[3] = {NULL, NULL, NULL};
    if (is_op(P, OP_COLON)) advance(P);
    else {
        jnode *x = parse_expression(P, true);
        if (!is_op(P, OP_COLON)) return x;
        advance(P);
        parts[0] = x;
    }
    if (!is_op(P, OP_COLON) && !is_op(P, OP_RBRACKET) && !is_op(P, OP_COMMA)) parts[1] = parse_expression(P, true);
    if (is_op(P, OP_COLON)) {
        advance(P);
        if (!is_op(P, OP_RBRACKET) && !is_op(P, OP_COMMA)) parts[2] = parse_expression(P, true);
    }
    jnode *s = node(P, N_SLICE, line);
    s->a = parts[0];
    s->b = parts[1];
    s->c = parts[2];
    return s;
}

static jnode *parse_postfix(parser *P, jnode *x) {
    for (;;) {
        int line = cur(P)->line;
        if (skip_op(P, OP_DOT)) {
            const jtok *t = advance(P);
            if (t->kind == JT_NAME) {
                jnode *g = node(P, N_GETATTR, line);
                g->a = x;
                g->name = t->s;
                x = g;
            } else if (t->kind == JT_INT) {
                jnode *k = node(P, N_CONST, line);
                k->val = jv_int(t->i);
                jnode *g = node(P, N_GETITEM, line);
                g->a = x;
                g->b = k;
                x = g;
            } else jj_fail(P->c, t->line, FR_ERR_FORMAT, "expected name or number");
        } else if (skip_op(P, OP_LBRACKET)) {
            nvec args = {0};
            while (!is_op(P, OP_RBRACKET)) {
                if (args.n) expect_op(P, OP_COMMA, ",");
                nv_push(P, &args, parse_subscribed(P));
            }
            expect_op(P, OP_RBRACKET, "]");
            jnode *g = node(P, N_GETITEM, line);
            g->a = x;
            if (args.n == 1) g->b = args.v[0];
            else {
                jnode *t = node(P, N_TUPLE, line);
                t->v = args.v;
                t->nv = args.n;
                g->b = t;
            }
            x = g;
        } else if (is_op(P, OP_LPAREN)) {
            jnode *call = node(P, N_CALL, line);
            call->a = x;
            parse_call_args(P, call);
            x = call;
        } else return x;
    }
}

static jnode *parse_filter_expr(parser *P, jnode *x) {
    for (;;) {
        if (is_op(P, OP_PIPE)) x = parse_filter(P, x, false);
        else if (is_name(P, "is")) x = parse_test(P, x);
        else if (is_op(P, OP_LPAREN)) {
            jnode *call = node(P, N_CALL, cur(P)->line);
            call->a = x;
            parse_call_args(P, call);
            x = call;
        } else return x;
    }
}

static jnode *parse_primary(parser *P) {
    const jtok *t = cur(P);
    jnode *x;
    enter(P);
    if (t->kind == JT_NAME) {
        x = node(P, N_CONST, t->line);
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True")) x->val = jv_bool(true);
        else if (!strcmp(t->s, "false") || !strcmp(t->s, "False")) x->val = jv_bool(false);
        else if (!strcmp(t->s, "none") || !strcmp(t->s, "None")) x->val = jv_none();
        else {
            x->kind = N_NAME;
            x->name = t->s;
        }
        advance(P);
    } else if (t->kind == JT_STRING) {
        size_t total = 0, j = P->i;
        while (P->t[j].kind == JT_STRING) total += P->t[j++].n;
        char *s = jj_alloc(P->c, total + 1);
        size_t k = 0;
        while (cur(P)->kind == JT_STRING) {
            memcpy(s + k, cur(P)->s, cur(P)->n);
            k += cur(P)->n;
            advance(P);
        }
        x = node(P, N_CONST, t->line);
        x->val = jv_str(P->c, s, total);
    } else if (t->kind == JT_INT || t->kind == JT_FLOAT) {
        x = node(P, N_CONST, t->line);
        x->val = t->kind == JT_INT ? jv_int(t->i) : jv_float(t->d);
        advance(P);
    } else if (skip_op(P, OP_LPAREN)) {
        x = parse_tuple(P, false, true, NULL, true);
        expect_op(P, OP_RPAREN, ")");
    } else if (skip_op(P, OP_LBRACKET)) {
        nvec items = {0};
        while (!is_op(P, OP_RBRACKET)) {
            if (items.n) expect_op(P, OP_COMMA, ",");
            if (is_op(P, OP_RBRACKET)) break;
            nv_push(P, &items, parse_expression(P, true));
        }
        expect_op(P, OP_RBRACKET, "]");
        x = node(P, N_LIST, t->line);
        x->v = items.v;
        x->nv = items.n;
    } else if (skip_op(P, OP_LBRACE)) {
        nvec keys = {0}, vals = {0};
        while (!is_op(P, OP_RBRACE)) {
            if (keys.n) expect_op(P, OP_COMMA, ",");
            if (is_op(P, OP_RBRACE)) break;
            nv_push(P, &keys, parse_expression(P, true));
            expect_op(P, OP_COLON, ":");
            nv_push(P, &vals, parse_expression(P, true));
        }
        expect_op(P, OP_RBRACE, "}");
        x = node(P, N_DICT, t->line);
        x->v = keys.v;
        x->nv = keys.n;
        x->w = vals.v;
        x->nw = vals.n;
    } else unexpected(P);
    P->depth--;
    return x;
}

static jnode *binary(parser *P, uint8_t op, jnode *a, jnode *b, int line) {
    jnode *x = node(P, N_BINARY, line);
    x->op = op;
    x->a = a;
    x->b = b;
    return x;
}

static jnode *parse_unary(parser *P, bool with_filter) {
    int line = cur(P)->line;
    jnode *x;
    enter(P);
    if (is_op(P, OP_SUB) || is_op(P, OP_ADD)) {
        uint8_t op = advance(P)->op == OP_SUB ? OP_NEG : OP_POS;
        x = node(P, N_UNARY, line);
        x->op = op;
        x->a = parse_unary(P, false);
    } else x = parse_primary(P);
    x = parse_postfix(P, x);
    if (with_filter) x = parse_filter_expr(P, x);
    P->depth--;
    return x;
}

static jnode *parse_pow(parser *P) {
    jnode *x = parse_unary(P, true);
    while (is_op(P, OP_POW)) {
        int line = advance(P)->line;
        x = binary(P, OP_POW, x, parse_unary(P, true), line);
    }
    return x;
}

static jnode *parse_math2(parser *P) {
    jnode *x = parse_pow(P);
    while (is_op(P, OP_MUL) || is_op(P, OP_DIV) || is_op(P, OP_FLOORDIV) || is_op(P, OP_MOD)) {
        const jtok *t = advance(P);
        x = binary(P, t->op, x, parse_pow(P), t->line);
    }
    return x;
}

static jnode *parse_concat(parser *P) {
    int line = cur(P)->line;
    jnode *x = parse_math2(P);
    if (!is_op(P, OP_TILDE)) return x;
    nvec args = {0};
    nv_push(P, &args, x);
    while (skip_op(P, OP_TILDE)) nv_push(P, &args, parse_math2(P));
    jnode *c = node(P, N_CONCAT, line);
    c->v = args.v;
    c->nv = args.n;
    return c;
}

static jnode *parse_math1(parser *P) {
    jnode *x = parse_concat(P);
    while (is_op(P, OP_ADD) || is_op(P, OP_SUB)) {
        const jtok *t = advance(P);
        x = binary(P, t->op, x, parse_concat(P), t->line);
    }
    return x;
}

static jnode *parse_compare(parser *P) {
    int line = cur(P)->line;
    jnode *x = parse_math1(P);
    nvec rhs = {0};
    uint8_t ops[64];
    for (;;) {
        uint8_t op = 0;
        const jtok *t = cur(P);
        if (t->kind == JT_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_LT || t->op == OP_LTEQ ||
                                 t->op == OP_GT || t->op == OP_GTEQ)) {
            op = t->op;
            advance(P);
        } else if (skip_name(P, "in")) op = OP_IN;
        else if (is_name(P, "not") && peek(P)->kind == JT_NAME && !strcmp(peek(P)->s, "in")) {
            advance(P);
            advance(P);
            op = OP_NOTIN;
        } else break;
        if (rhs.n == sizeof ops) jj_fail(P->c, line, FR_ERR_RANGE, "comparison chain too long");
        ops[rhs.n] = op;
        nv_push(P, &rhs, parse_math1(P));
    }
    if (!rhs.n) return x;
    jnode *c = node(P, N_COMPARE, line);
    c->a = x;
    c->v = rhs.v;
    c->nv = rhs.n;
    c->ops = jj_alloc(P->c, rhs.n);
    memcpy(c->ops, ops, rhs.n);
    return c;
}

static jnode *parse_not(parser *P) {
    if (is_name(P, "not")) {
        int line = advance(P)->line;
        enter(P);
        jnode *x = node(P, N_UNARY, line);
        x->op = OP_NOT;
        x->a = parse_not(P);
        P->depth--;
        return x;
    }
    return parse_compare(P);
}

static jnode *parse_and(parser *P) {
    jnode *x = parse_not(P);
    while (is_name(P, "and")) {
        int line = advance(P)->line;
        x = binary(P, OP_AND, x, parse_not(P), line);
    }
    return x;
}

static jnode *parse_or(parser *P) {
    jnode *x = parse_and(P);
    while (is_name(P, "or")) {
        int line = advance(P)->line;
        x = binary(P, OP_OR, x, parse_and(P), line);
    }
    return x;
}

static jnode *parse_condexpr(parser *P) {
    int line = cur(P)->line;
    jnode *x = parse_or(P);
    while (skip_name(P, "if")) {
        enter(P);
        jnode *c = node(P, N_COND, line);
        c->b = x;
        c->a = parse_or(P);
        c->c = skip_name(P, "else") ? parse_condexpr(P) : NULL;
        x = c;
        line = cur(P)->line;
        P->depth--;
    }
    return x;
}

static jnode *parse_expression(parser *P, bool with_cond) {
    enter(P);
    jnode *x = with_cond ? parse_condexpr(P) : parse_or(P);
    P->depth--;
    return x;
}

static bool tuple_end(parser *P, const char *extra) {
    const jtok *t = cur(P);
    if (t->kind == JT_VAR_END || t->kind == JT_BLOCK_END || is_op(P, OP_RPAREN)) return true;
    return extra && t->kind == JT_NAME && !strcmp(t->s, extra);
}

static jnode *parse_tuple(parser *P, bool simplified, bool with_cond, const char *extra_end, bool explicit_paren) {
    int line = cur(P)->line;
    nvec args = {0};
    bool is_tuple = false;
    for (;;) {
        if (args.n) expect_op(P, OP_COMMA, ",");
        if (tuple_end(P, extra_end)) break;
        nv_push(P, &args, simplified ? parse_primary(P) : parse_expression(P, with_cond));
        if (is_op(P, OP_COMMA)) is_tuple = true;
        else break;
    }
    if (!is_tuple) {
        if (args.n) return args.v[0];
        if (!explicit_paren)
            jj_fail(P->c, cur(P)->line, FR_ERR_FORMAT, "Expected an expression, got '%s'", describe(cur(P)));
    }
    jnode *t = node(P, N_TUPLE, line);
    t->v = args.v;
    t->nv = args.n;
    return t;
}

static void check_target(parser *P, jnode *x) {
    if (x->kind == N_NAME) return;
    if (x->kind == N_TUPLE) {
        for (size_t i = 0; i < x->nv; i++) check_target(P, x->v[i]);
        return;
    }
    jj_fail(P->c, x->line, FR_ERR_FORMAT, "can't assign to this expression");
}

static jnode *parse_assign_target(parser *P, bool with_ns, const char *extra_end) {
    if (with_ns && cur(P)->kind == JT_NAME && peek(P)->kind == JT_OP && peek(P)->op == OP_DOT) {
        const jtok *ns = advance(P);
        advance(P);
        const jtok *attr = expect_name(P);
        jnode *r = node(P, N_NSREF, ns->line);
        r->a = node(P, N_NAME, ns->line);
        r->a->name = ns->s;
        r->name = attr->s;
        return r;
    }
    jnode *x = parse_tuple(P, true, true, extra_end, false);
    check_target(P, x);
    return x;
}

/* ---- statements ---- */
/* Does the subtree read one of jinja2's special macro variables (varargs, kwargs, caller)? */
static const char *special_macro_name(const jnode *x) {
    if (!x) return NULL;
    if (x->kind == N_NAME && (!strcmp(x->name, "varargs") || !strcmp(x->name, "kwargs") || !strcmp(x->name, "caller")))
        return x->name;
    if (x->kind == N_MACRO) return NULL; /* a nested macro has its own */
    const char *r;
    if ((r = special_macro_name(x->a)) || (r = special_macro_name(x->b)) || (r = special_macro_name(x->c))) return r;
    for (size_t i = 0; i < x->nv; i++)
        if ((r = special_macro_name(x->v[i]))) return r;
    for (size_t i = 0; i < x->nw; i++)
        if ((r = special_macro_name(x->w[i]))) return r;
    return NULL;
}

static const char *const k_unsupported_tags[] = {"include", "import", "from", "extends", "block", "call", "autoescape",
                                                 "trans", "do"};

/* Parses statements until a block tag whose name is in `ends` (NULL-terminated); consumes
 * that tag's begin and name and returns the index of the matched end, leaving the rest. */
static jnode *parse_statement(parser *P);
static int subparse(parser *P, const char *const *ends, nvec *body) {
    for (;;) {
        const jtok *t = cur(P);
        if (t->kind == JT_EOF) {
            if (!ends) return -1;
            jj_fail(P->c, t->line, FR_ERR_FORMAT, "Unexpected end of template. Jinja was looking for the tag '%s'.", ends[0]);
        }
        if (t->kind == JT_DATA) {
            jnode *d = node(P, N_DATA, t->line);
            d->val = jv_str(P->c, t->s, t->n);
            nv_push(P, body, d);
            advance(P);
        } else if (t->kind == JT_VAR_BEGIN) {
            advance(P);
            jnode *o = node(P, N_OUTPUT, t->line);
            o->a = parse_tuple(P, false, true, NULL, false);
            expect_kind(P, JT_VAR_END);
            nv_push(P, body, o);
        } else if (t->kind == JT_BLOCK_BEGIN) {
            advance(P);
            if (cur(P)->kind != JT_NAME) jj_fail(P->c, cur(P)->line, FR_ERR_FORMAT, "tag name expected");
            if (ends)
                for (int k = 0; ends[k]; k++)
                    if (!strcmp(cur(P)->s, ends[k])) {
                        advance(P);
                        return k;
                    }
            nv_push(P, body, parse_statement(P));
        } else unexpected(P);
    }
}

static void end_tag(parser *P) { expect_kind(P, JT_BLOCK_END); }
/* the end of a tag that opens a body: jinja2 allows a colon before %} */
static void body_tag(parser *P) {
    skip_op(P, OP_COLON);
    expect_kind(P, JT_BLOCK_END);
}

static jnode *parse_statement(parser *P) {
    const jtok *t = cur(P);
    int line = t->line;
    const char *name = t->s;
    enter(P);
    advance(P);
    jnode *x = NULL;
    if (!strcmp(name, "if")) {
        x = node(P, N_IF, line);
        jnode *curif = x;
        for (;;) {
            curif->a = parse_tuple(P, false, false, NULL, false);
            body_tag(P);
            nvec body = {0};
            static const char *const ends[] = {"elif", "else", "endif", NULL};
            int k = subparse(P, ends, &body);
            curif->v = body.v;
            curif->nv = body.n;
            if (k == 0) {
                jnode *e = node(P, N_IF, cur(P)->line);
                curif->w = jj_alloc(P->c, sizeof(jnode *));
                curif->w[0] = e;
                curif->nw = 1;
                curif = e;
                continue;
            }
            if (k == 1) {
                body_tag(P);
                nvec eb = {0};
                static const char *const ends2[] = {"endif", NULL};
                subparse(P, ends2, &eb);
                curif->w = eb.v;
                curif->nw = eb.n;
            }
            end_tag(P);
            break;
        }
    } else if (!strcmp(name, "for")) {
        x = node(P, N_FOR, line);
        x->a = parse_assign_target(P, false, "in");
        if (!skip_name(P, "in")) jj_fail(P->c, cur(P)->line, FR_ERR_FORMAT, "expected 'in'");
        x->b = parse_tuple(P, false, false, "recursive", false);
        if (skip_name(P, "if")) x->c = parse_expression(P, true);
        if (is_name(P, "recursive")) jj_fail(P->c, line, FR_ERR_UNSUPPORTED, "recursive for loops");
        body_tag(P);
        nvec body = {0}, eb = {0};
        static const char *const ends[] = {"endfor", "else", NULL};
        P->loops++;
        int k = subparse(P, ends, &body);
        P->loops--;
        if (k == 1) {
            body_tag(P);
            static const char *const ends2[] = {"endfor", NULL};
            subparse(P, ends2, &eb);
        }
        end_tag(P);
        x->v = body.v;
        x->nv = body.n;
        x->w = eb.v;
        x->nw = eb.n;
    } else if (!strcmp(name, "set")) {
        jnode *target = parse_assign_target(P, true, NULL);
        if (skip_op(P, OP_ASSIGN)) {
            x = node(P, N_SET, line);
            x->a = target;
            x->b = parse_tuple(P, false, true, NULL, false);
            end_tag(P);
        } else {
            x = node(P, N_SETBLOCK, line);
            x->a = target;
            x->c = parse_filter(P, NULL, false);
            body_tag(P);
            nvec body = {0};
            static const char *const ends[] = {"endset", NULL};
            subparse(P, ends, &body);
            end_tag(P);
            x->v = body.v;
            x->nv = body.n;
        }
    } else if (!strcmp(name, "macro")) {
        x = node(P, N_MACRO, line);
        x->name = expect_name(P)->s;
        expect_op(P, OP_LPAREN, "(");
        nvec defs = {0};
        const char **params = NULL;
        size_t np = 0, cap = 0;
        bool any_default = false;
        while (!is_op(P, OP_RPAREN)) {
            if (np) expect_op(P, OP_COMMA, ",");
            const jtok *a = expect_name(P);
            if (np == cap) {
                cap = cap ? cap * 2 : 4;
                const char **nn = jj_alloc(P->c, cap * sizeof(char *));
                if (np) memcpy(nn, params, np * sizeof(char *));
                params = nn;
            }
            params[np++] = a->s;
            if (skip_op(P, OP_ASSIGN)) {
                nv_push(P, &defs, parse_expression(P, true));
                any_default = true;
            } else {
                if (any_default) jj_fail(P->c, a->line, FR_ERR_FORMAT, "non-default argument follows default argument");
                nv_push(P, &defs, NULL);
            }
        }
        advance(P);
        body_tag(P);
        int saved = P->loops;
        P->loops = 0;
        nvec body = {0};
        static const char *const ends[] = {"endmacro", NULL};
        subparse(P, ends, &body);
        P->loops = saved;
        end_tag(P);
        for (size_t i = 0; i < body.n; i++) {
            const char *sp = special_macro_name(body.v[i]);
            if (sp) jj_fail(P->c, line, FR_ERR_UNSUPPORTED, "macros that use '%s'", sp);
        }
        x->names = params;
        x->id = (int)np;
        x->w = defs.v;
        x->nw = defs.n;
        x->v = body.v;
        x->nv = body.n;
    } else if (!strcmp(name, "break") || !strcmp(name, "continue")) {
        if (!P->loops) jj_fail(P->c, line, FR_ERR_FORMAT, "'%s' outside of a loop", name);
        x = node(P, name[0] == 'b' ? N_BREAK : N_CONTINUE, line);
        end_tag(P);
    } else if (!strcmp(name, "print")) { /* comma-separated expressions, each printed */
        x = node(P, N_BODY, line);
        nvec outs = {0};
        while (cur(P)->kind != JT_BLOCK_END) {
            if (outs.n) expect_op(P, OP_COMMA, ",");
            jnode *o = node(P, N_OUTPUT, cur(P)->line);
            o->a = parse_expression(P, true);
            nv_push(P, &outs, o);
        }
        end_tag(P);
        x->v = outs.v;
        x->nv = outs.n;
    } else if (!strcmp(name, "filter")) {
        x = node(P, N_FILTERBLOCK, line);
        x->c = parse_filter(P, NULL, true);
        body_tag(P);
        nvec body = {0};
        static const char *const ends[] = {"endfilter", NULL};
        subparse(P, ends, &body);
        end_tag(P);
        x->v = body.v;
        x->nv = body.n;
    } else if (!strcmp(name, "with")) {
        x = node(P, N_WITH, line);
        nvec targets = {0}, vals = {0};
        while (cur(P)->kind != JT_BLOCK_END) {
            if (targets.n) expect_op(P, OP_COMMA, ",");
            jnode *tg = parse_assign_target(P, false, NULL);
            expect_op(P, OP_ASSIGN, "=");
            nv_push(P, &targets, tg);
            nv_push(P, &vals, parse_expression(P, true));
        }
        body_tag(P);
        nvec body = {0};
        static const char *const ends[] = {"endwith", NULL};
        subparse(P, ends, &body);
        end_tag(P);
        x->v = targets.v;
        x->nv = targets.n;
        x->w = vals.v;
        x->nw = vals.n;
        x->a = node(P, N_BODY, line);
        x->a->v = body.v;
        x->a->nv = body.n;
    } else if (!strcmp(name, "generation")) {
        /* transformers' AssistantTracker: renders its body unchanged */
        body_tag(P);
        x = node(P, N_BODY, line);
        nvec body = {0};
        static const char *const ends[] = {"endgeneration", NULL};
        subparse(P, ends, &body);
        end_tag(P);
        x->v = body.v;
        x->nv = body.n;
    } else {
        for (size_t k = 0; k < FR_ARRAY_LEN(k_unsupported_tags); k++)
            if (!strcmp(name, k_unsupported_tags[k]))
                jj_fail(P->c, line, FR_ERR_UNSUPPORTED, "the '%s' tag is not supported%s", name,
                        k < 4 ? " (templates have no file access)" : "");
        jj_fail(P->c, line, FR_ERR_FORMAT, "Encountered unknown tag '%s'.", name);
    }
    P->depth--;
    return x;
}

/* jinja2 fails at compile time on an unknown filter or test, except in a "soft" frame (an if
 * statement's test and bodies, an inline if): there only when evaluated. Loop, macro, with,
 * set and filter blocks open strict frames again. */
static void check_unknown(jj_ctx *c, const jnode *x, bool soft) {
    if (!x) return;
    if ((x->kind == N_FILTER || x->kind == N_TEST) && x->id == -1 && !soft)
        jj_fail(c, x->line, FR_ERR_FORMAT, "No %s named '%s'.", x->kind == N_FILTER ? "filter" : "test", x->name);
    bool s_a = soft, s_b = soft, s_c = soft, s_v = soft, s_w = soft;
    switch (x->kind) {
    case N_IF: s_a = s_v = s_w = true; break;
    case N_COND: s_a = s_b = s_c = true; break;
    case N_FOR: s_c = s_v = s_w = false; break;
    case N_MACRO:
    case N_SETBLOCK:
    case N_FILTERBLOCK: s_v = false; break;
    case N_WITH: s_a = false; break;
    default: break;
    }
    check_unknown(c, x->a, s_a);
    check_unknown(c, x->b, s_b);
    check_unknown(c, x->c, s_c);
    for (size_t i = 0; i < x->nv; i++) check_unknown(c, x->v[i], s_v);
    for (size_t i = 0; i < x->nw; i++) check_unknown(c, x->w[i], s_w);
}

jnode *jj_parse(jj_ctx *c, const jtok *toks, size_t ntok) {
    parser P = {.c = c, .t = toks, .n = ntok};
    nvec body = {0};
    subparse(&P, NULL, &body);
    jnode *root = node(&P, N_BODY, 1);
    root->v = body.v;
    root->nv = body.n;
    check_unknown(c, root, false);
    return root;
}

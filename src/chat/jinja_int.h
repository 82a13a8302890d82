/* jinja_int.h: internals shared by the Jinja lexer, parser, values and evaluator.
 *
 * Everything a render allocates (tokens, syntax tree, values) lives in one arena that is
 * freed when the render ends; errors unwind with longjmp to the render's entry point.
 * Semantics follow Python's jinja2 as Hugging Face sets it up (see jinja.h). */
#ifndef FRUGAL_CHAT_JINJA_INT_H
#define FRUGAL_CHAT_JINJA_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base.h"
#include "chat/jinja.h"

typedef struct jj_ctx jj_ctx;

/* ---- values ---- */
typedef enum jv_type {
    JV_UNDEF,
    JV_NONE,
    JV_BOOL,
    JV_INT,
    JV_FLOAT,
    JV_STR,
    JV_LIST,  /* list, tuple, generator or dict view (see flags) */
    JV_DICT,
    JV_NS,    /* namespace(): a dict whose attributes can be assigned */
    JV_LOOP,  /* the `loop` object of a for loop */
    JV_FUNC,  /* a builtin function or a bound method */
    JV_MACRO,
} jv_type;

enum {
    JF_TUPLE = 1,
    JF_GEN = 2,         /* a generator (map/select/...): truthy, no len(), printed as an object */
    JF_VIEW_KEYS = 4,   /* dict.keys() */
    JF_VIEW_VALUES = 8, /* dict.values() */
    JF_VIEW_ITEMS = 16, /* dict.items() */
    JF_UNSAFE = 32,     /* an undefined that stands for an unsafe attribute (SecurityError if used) */
    JF_MISSING = 64,    /* an argument that was not passed (jj_bind) */
    JF_RANGE = 128,     /* range(): a list that prints as range(...) (unsupported) */
};
#define JF_VIEW (JF_VIEW_KEYS | JF_VIEW_VALUES | JF_VIEW_ITEMS)

typedef struct jstr {
    size_t n;
    int64_t ncp; /* code points, -1 until counted */
    char s[];    /* NUL-terminated */
} jstr;

typedef struct jv jv;
typedef struct jlist {
    size_t n;
    jv *v;
} jlist;
typedef struct jdict {
    size_t n, cap;
    jv *k, *v;
} jdict;
struct jloop;
struct jfunc;
struct jmacro;

struct jv {
    uint8_t t, f;
    union {
        bool b;
        int64_t i;
        double d;
        jstr *s;
        jlist *l;
        jdict *m;
        struct jloop *loop;
        struct jfunc *fn;
        struct jmacro *mac;
        const char *hint; /* JV_UNDEF: what was undefined, for the message (may be NULL) */
    } u;
};

/* builtin callables: globals and bound methods */
typedef struct jfunc {
    int id; /* JB_* in jinja_builtins.c */
    jv self;
    const char *name;
} jfunc;

/* ---- arena ---- */
void *jj_alloc(jj_ctx *c, size_t n); /* zeroed; fails the render past the memory limit */
void jj_arena_free(jj_ctx *c);
char *jj_strndup(jj_ctx *c, const char *s, size_t n);

/* ---- value constructors and helpers (jinja_value.c) ---- */
jv jv_undef(const char *hint);
jv jv_none(void);
jv jv_bool(bool b);
jv jv_int(int64_t i);
jv jv_float(double d);
jv jv_str(jj_ctx *c, const char *s, size_t n);
jv jv_cstr(jj_ctx *c, const char *s);
jv jv_strobj(jstr *s);
jv jv_list_n(jj_ctx *c, size_t n); /* n items, all undefined */
jv jv_dict(jj_ctx *c);
jv jv_func(jj_ctx *c, int id, jv self, const char *name);

/* growable list builder */
typedef struct jlb {
    jv *v;
    size_t n, cap;
} jlb;
void jlb_push(jj_ctx *c, jlb *b, jv v);
jv jlb_done(jj_ctx *c, jlb *b, uint8_t flags);

/* growable byte buffer (malloc'd; its memory is tracked by the context so errors free it) */
typedef struct jbuf {
    char *p;
    size_t n, cap;
    size_t limit;
    int slot; /* index in the context's open-buffer table */
} jbuf;
void jbuf_open(jj_ctx *c, jbuf *b, size_t limit);
void jbuf_put(jj_ctx *c, jbuf *b, const char *s, size_t n);
void jbuf_putc(jj_ctx *c, jbuf *b, char ch);
void jbuf_puts(jj_ctx *c, jbuf *b, const char *s);
jv jbuf_to_str(jj_ctx *c, jbuf *b); /* copies into the arena and closes the buffer */
void jbuf_close(jj_ctx *c, jbuf *b);

void jd_set(jj_ctx *c, jdict *d, jv k, jv v);
bool jd_get(jj_ctx *c, const jdict *d, jv k, jv *out);
bool jd_get_s(const jdict *d, const char *key, jv *out);
jdict *jd_copy(jj_ctx *c, const jdict *d);

bool jv_truthy(jj_ctx *c, jv v);
bool jv_eq(jj_ctx *c, jv a, jv b);
int jv_cmp(jj_ctx *c, jv a, jv b, int line); /* <0, 0, >0; type error fails */
const char *jv_type_name(jv v);               /* Python's type name: 'str', 'dict', ... */
bool jv_is_str(jv v, const char *s);

/* str() and repr() (Python) appended to a buffer */
void jv_str_to(jj_ctx *c, jbuf *b, jv v, int line);
void jv_repr_to(jj_ctx *c, jbuf *b, jv v, int line);
jv jv_to_str(jj_ctx *c, jv v, int line); /* str(v) as a value */
void py_float_repr(double d, char *buf, size_t cap);

/* JSON (json.dumps with HF's options) */
typedef struct jj_json_opts {
    bool ensure_ascii, sort_keys;
    const char *indent; /* NULL: compact with the default separators */
    const char *item_sep, *key_sep;
} jj_json_opts;
void jv_json_to(jj_ctx *c, jbuf *b, jv v, const jj_json_opts *o, int level, int line);

/* UTF-8 helpers: Python strings are sequences of code points */
int64_t js_ncp(jstr *s);                                   /* code points */
size_t js_cp_off(const jstr *s, int64_t cp);                /* byte offset of code point cp (clamped) */
uint32_t utf8_next(const char *s, size_t n, size_t *i);     /* decode at *i, advance */
size_t utf8_put(char *out, uint32_t cp);                    /* encode, returns bytes (1..4) */
bool py_isspace(uint32_t cp);
jv js_slice(jj_ctx *c, jv v, bool has_start, int64_t start, bool has_stop, int64_t stop, int64_t step, int line);
/* list of items when iterating v (Python iter()): strings give characters, dicts keys.
 * Undefined gives an empty list. Fails with a type error for non-iterables. */
jlist *jv_iter(jj_ctx *c, jv v, int line);

/* ---- lexer (jinja_lex.c) ---- */
typedef enum jt_kind {
    JT_EOF,
    JT_DATA,
    JT_VAR_BEGIN,
    JT_VAR_END,
    JT_BLOCK_BEGIN,
    JT_BLOCK_END,
    JT_NAME,
    JT_STRING,
    JT_INT,
    JT_FLOAT,
    JT_OP, /* op holds the operator */
} jt_kind;

enum { /* operators */
    OP_ADD = 1, OP_SUB, OP_DIV, OP_FLOORDIV, OP_MUL, OP_MOD, OP_POW, OP_TILDE,
    OP_LBRACKET, OP_RBRACKET, OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE,
    OP_EQ, OP_NE, OP_GT, OP_GTEQ, OP_LT, OP_LTEQ, OP_ASSIGN, OP_DOT, OP_COLON,
    OP_PIPE, OP_COMMA, OP_SEMICOLON,
    /* not produced by the lexer: */
    OP_AND, OP_OR, OP_NOT, OP_NEG, OP_POS, OP_IN, OP_NOTIN,
};

typedef struct jtok {
    uint8_t kind;
    uint8_t op;
    int line;
    const char *s; /* DATA, NAME, STRING: text (arena, NUL-terminated) */
    size_t n;
    int64_t i;
    double d;
} jtok;

/* Tokenize; returns the token array (ending with JT_EOF). */
jtok *jj_lex(jj_ctx *c, const char *src, size_t len, size_t *ntok);

/* ---- syntax tree (jinja_parse.c) ---- */
typedef enum jn_kind {
    /* statements */
    N_DATA, N_OUTPUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_BREAK, N_CONTINUE, N_WITH,
    N_FILTERBLOCK, N_BODY,
    /* expressions */
    N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER,
    N_TEST, N_UNARY, N_BINARY, N_CONCAT, N_COMPARE, N_COND, N_NSREF,
} jn_kind;

typedef struct jnode jnode;
struct jnode {
    uint8_t kind;
    uint8_t op;
    int line;
    int id;            /* filter/test id */
    jnode *a, *b, *c;  /* children (meaning depends on kind) */
    jnode **v;         /* items / args / body */
    size_t nv;
    jnode **w;         /* kwarg values / dict values / else body / defaults */
    size_t nw;
    const char **names;/* kwarg names / macro params */
    uint8_t *ops;      /* N_COMPARE operators, one per v[] */
    const char *name;  /* N_NAME, N_GETATTR, N_FILTER, N_TEST, N_MACRO, N_NSREF attr */
    jv val;            /* N_CONST, N_DATA */
};

jnode *jj_parse(jj_ctx *c, const jtok *toks, size_t ntok);

/* ---- filters, tests, builtins (jinja_filters.c, jinja_builtins.c) ---- */
int jj_filter_id(const char *name);   /* -1 if unknown */
int jj_test_id(const char *name);     /* -1 if unknown */
typedef struct jargs {
    jv *pos;
    size_t npos;
    const char **kwn;
    jv *kwv;
    size_t nkw;
} jargs;
jv jj_call_filter(jj_ctx *c, int id, jv in, const jargs *a, int line);
bool jj_call_test(jj_ctx *c, int id, jv in, const jargs *a, int line);
jv jj_call_builtin(jj_ctx *c, const jfunc *fn, const jargs *a, int line);
/* The attribute `name` of a builtin type (str, dict, list methods): true if found. */
bool jj_method(jj_ctx *c, jv obj, const char *name, jv *out, int line);
/* Binds positional and keyword arguments to named parameters; missing ones stay
 * JV_UNDEF with hint NULL (callers check with jj_has). */
void jj_bind(jj_ctx *c, const char *fname, const jargs *a, const char *const *params, size_t np, jv *out, int line);
bool jj_has(jv v);
void jj_globals(jj_ctx *c, jdict *g);

/* ---- evaluation (jinja_eval.c) ---- */
jv jj_getattr(jj_ctx *c, jv obj, const char *name, int line);
jv jj_getitem(jj_ctx *c, jv obj, jv key, int line);
jv jj_call_value(jj_ctx *c, jv fn, const jargs *a, int line);
jv jj_arith(jj_ctx *c, uint8_t op, jv a, jv b, int line); /* + - * / // % ** */
bool jj_compare(jj_ctx *c, uint8_t op, jv a, jv b, int line); /* == != < <= > >= in, not in */
void jj_step(jj_ctx *c, int line);

/* ---- errors: format, then unwind to the render entry ---- */
_Noreturn void jj_fail(jj_ctx *c, int line, fr_status code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
_Noreturn void jj_fail_undef(jj_ctx *c, jv u, int line);

struct jframe;
struct jj_ctx {
    jmp_buf jb;
    fr_error *err;
    /* arena */
    struct jj_chunk *chunks;
    size_t mem_used, mem_limit;
    /* limits */
    int64_t steps, max_steps;
    int depth, max_depth; /* macro calls */
    int cdepth;           /* recursion of the evaluator (stack safety) */
    size_t max_output;
    /* open buffers: slot i is taken while buf_open[i]; buf_mem[i] is that buffer's memory.
     * The memory, not the jbuf, is kept here: a jbuf lives on the stack of the function
     * that opened it, which a template error (longjmp) unwinds before jj_render frees it. */
    char *buf_mem[256];
    bool buf_open[256];
    int nbufs;
    /* render state */
    jbuf *out;
    jv filter_input; /* the body of a {% filter %} or {% set %} block */
    int line;        /* the line being evaluated, for errors raised without one */
    struct jframe *globals;
    struct tm now;
    const char *name; /* "chat template" */
};

#endif

/* jinja_value.c: the arena, values with Python semantics (equality, ordering, truth,
 * str() and repr()), UTF-8 strings indexed by code point, and json.dumps. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_int.h"
#include "chat/jinja_unicode.h"

/* ---- arena ---- */
struct jj_chunk {
    struct jj_chunk *next;
    size_t cap, used, pad_;
};
_Static_assert(sizeof(struct jj_chunk) % 16 == 0, "chunk header keeps 16-byte alignment");

void *jj_alloc(jj_ctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    struct jj_chunk *k = c->chunks;
    if (!k || k->cap - k->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        size_t total;
        if (!ck_add_size(cap, sizeof *k, &total) || !ck_add_size(c->mem_used, total, &c->mem_used) ||
            c->mem_used > c->mem_limit)
            jj_fail(c, 0, FR_ERR_RANGE, "memory limit of %zu bytes exceeded", c->mem_limit);
        k = malloc(total);
        if (!k) jj_fail(c, 0, FR_ERR_NOMEM, "out of memory");
        k->cap = cap;
        k->used = 0;
        k->next = c->chunks;
        c->chunks = k;
    }
    void *p = (char *)(k + 1) + k->used;
    k->used += n;
    memset(p, 0, n);
    return p;
}

void jj_arena_free(jj_ctx *c) {
    struct jj_chunk *k = c->chunks;
    while (k) {
        struct jj_chunk *nx = k->next;
        free(k);
        k = nx;
    }
    c->chunks = NULL;
}

char *jj_strndup(jj_ctx *c, const char *s, size_t n) {
    size_t m;
    if (!ck_add_size(n, 1, &m)) jj_fail(c, 0, FR_ERR_RANGE, "string too long");
    char *p = jj_alloc(c, m);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- constructors ---- */
jv jv_undef(const char *hint) { return (jv){.t = JV_UNDEF, .u.hint = hint}; }
jv jv_none(void) { return (jv){.t = JV_NONE}; }
jv jv_bool(bool b) { return (jv){.t = JV_BOOL, .u.b = b}; }
jv jv_int(int64_t i) { return (jv){.t = JV_INT, .u.i = i}; }
jv jv_float(double d) { return (jv){.t = JV_FLOAT, .u.d = d}; }
jv jv_strobj(jstr *s) { return (jv){.t = JV_STR, .u.s = s}; }

jv jv_str(jj_ctx *c, const char *s, size_t n) {
    size_t sz;
    if (!ck_add_size(sizeof(jstr) + 1, n, &sz)) jj_fail(c, 0, FR_ERR_RANGE, "string too long");
    jstr *js = jj_alloc(c, sz);
    js->n = n;
    js->ncp = -1;
    if (n) memcpy(js->s, s, n);
    js->s[n] = 0;
    return jv_strobj(js);
}
jv jv_cstr(jj_ctx *c, const char *s) { return jv_str(c, s, strlen(s)); }

jv jv_list_n(jj_ctx *c, size_t n) {
    size_t sz;
    jlist *l = jj_alloc(c, sizeof *l);
    if (!ck_mul_size(n, sizeof(jv), &sz)) jj_fail(c, 0, FR_ERR_RANGE, "list too long");
    l->n = n;
    l->v = n ? jj_alloc(c, sz) : NULL;
    return (jv){.t = JV_LIST, .u.l = l};
}

jv jv_dict(jj_ctx *c) { return (jv){.t = JV_DICT, .u.m = jj_alloc(c, sizeof(jdict))}; }

jv jv_func(jj_ctx *c, int id, jv self, const char *name) {
    jfunc *f = jj_alloc(c, sizeof *f);
    f->id = id;
    f->self = self;
    f->name = name;
    return (jv){.t = JV_FUNC, .u.fn = f};
}

void jlb_push(jj_ctx *c, jlb *b, jv v) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8, sz;
        if (!ck_mul_size(cap, sizeof(jv), &sz)) jj_fail(c, 0, FR_ERR_RANGE, "list too long");
        jv *nv = jj_alloc(c, sz);
        if (b->n) memcpy(nv, b->v, b->n * sizeof(jv));
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n++] = v;
}

jv jlb_done(jj_ctx *c, jlb *b, uint8_t flags) {
    jlist *l = jj_alloc(c, sizeof *l);
    l->n = b->n;
    l->v = b->v;
    jv r = {.t = JV_LIST, .f = flags, .u.l = l};
    return r;
}

/* ---- buffers ---- */
void jbuf_open(jj_ctx *c, jbuf *b, size_t limit) {
    memset(b, 0, sizeof *b);
    b->limit = limit;
    b->slot = -1;
    int slot = -1;
    for (int i = 0; i < c->nbufs; i++)
        if (!c->buf_open[i]) {
            slot = i;
            break;
        }
    if (slot < 0) {
        if (c->nbufs == (int)FR_ARRAY_LEN(c->buf_mem)) jj_fail(c, 0, FR_ERR_RANGE, "nesting too deep");
        slot = c->nbufs++;
    }
    c->buf_open[slot] = true;
    c->buf_mem[slot] = NULL;
    b->slot = slot;
}

void jbuf_close(jj_ctx *c, jbuf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
    if (b->slot >= 0 && b->slot < c->nbufs) {
        c->buf_open[b->slot] = false;
        c->buf_mem[b->slot] = NULL;
        while (c->nbufs > 0 && !c->buf_open[c->nbufs - 1]) c->nbufs--;
    }
    b->slot = -1;
}

void jbuf_put(jj_ctx *c, jbuf *b, const char *s, size_t n) {
    size_t need;
    if (!ck_add_size(b->n, n, &need) || need > b->limit)
        jj_fail(c, 0, FR_ERR_RANGE, "output longer than the limit of %zu bytes", b->limit);
    if (need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) jj_fail(c, 0, FR_ERR_NOMEM, "out of memory");
        b->p = p;
        b->cap = cap;
        if (b->slot >= 0 && b->slot < c->nbufs) c->buf_mem[b->slot] = p;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n = need;
    b->p[b->n] = 0;
}
void jbuf_putc(jj_ctx *c, jbuf *b, char ch) { jbuf_put(c, b, &ch, 1); }
void jbuf_puts(jj_ctx *c, jbuf *b, const char *s) { jbuf_put(c, b, s, strlen(s)); }

jv jbuf_to_str(jj_ctx *c, jbuf *b) {
    jv r = jv_str(c, b->p ? b->p : "", b->n);
    jbuf_close(c, b);
    return r;
}

/* ---- UTF-8 ---- */
uint32_t utf8_next(const char *s, size_t n, size_t *i) {
    const unsigned char *u = (const unsigned char *)s;
    size_t k = *i;
    uint32_t c0 = u[k];
    int len = c0 < 0x80 ? 1 : c0 < 0xE0 ? 2 : c0 < 0xF0 ? 3 : 4;
    if (c0 >= 0x80 && c0 < 0xC0) len = 1; /* stray continuation byte: take it alone */
    if (k + (size_t)len > n) len = 1;
    uint32_t cp = len == 1 ? c0 : len == 2 ? c0 & 0x1F : len == 3 ? c0 & 0x0F : c0 & 0x07;
    for (int j = 1; j < len; j++) cp = (cp << 6) | (u[k + (size_t)j] & 0x3F);
    *i = k + (size_t)len;
    return cp;
}

size_t utf8_put(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int64_t js_ncp(jstr *s) {
    if (s->ncp < 0) {
        int64_t n = 0;
        for (size_t i = 0; i < s->n; i++) n += ((unsigned char)s->s[i] & 0xC0) != 0x80;
        s->ncp = n;
    }
    return s->ncp;
}

size_t js_cp_off(const jstr *s, int64_t cp) {
    if (cp <= 0) return 0;
    if (s->ncp == (int64_t)s->n) return (size_t)cp < s->n ? (size_t)cp : s->n;
    size_t i = 0;
    int64_t k = 0;
    while (i < s->n && k < cp) {
        utf8_next(s->s, s->n, &i);
        k++;
    }
    return i;
}

bool py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- dicts ---- */
static bool key_eq(jj_ctx *c, jv a, jv b) {
    if (a.t == JV_STR && b.t == JV_STR) return a.u.s->n == b.u.s->n && !memcmp(a.u.s->s, b.u.s->s, a.u.s->n);
    return jv_eq(c, a, b);
}

void jd_set(jj_ctx *c, jdict *d, jv k, jv v) {
    for (size_t i = 0; i < d->n; i++)
        if (key_eq(c, d->k[i], k)) {
            d->v[i] = v;
            return;
        }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8, sz;
        if (!ck_mul_size(cap, sizeof(jv), &sz)) jj_fail(c, 0, FR_ERR_RANGE, "dict too large");
        jv *nk = jj_alloc(c, sz), *nv = jj_alloc(c, sz);
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(jv));
            memcpy(nv, d->v, d->n * sizeof(jv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
}

bool jd_get(jj_ctx *c, const jdict *d, jv k, jv *out) {
    for (size_t i = 0; i < d->n; i++)
        if (key_eq(c, d->k[i], k)) {
            *out = d->v[i];
            return true;
        }
    return false;
}

bool jd_get_s(const jdict *d, const char *key, jv *out) {
    size_t n = strlen(key);
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].u.s->n == n && !memcmp(d->k[i].u.s->s, key, n)) {
            *out = d->v[i];
            return true;
        }
    return false;
}

jdict *jd_copy(jj_ctx *c, const jdict *d) {
    jdict *r = jj_alloc(c, sizeof *r);
    if (d->n) {
        r->k = jj_alloc(c, d->n * sizeof(jv));
        r->v = jj_alloc(c, d->n * sizeof(jv));
        memcpy(r->k, d->k, d->n * sizeof(jv));
        memcpy(r->v, d->v, d->n * sizeof(jv));
    }
    r->n = r->cap = d->n;
    return r;
}

/* ---- truth, equality, ordering ---- */
bool jv_truthy(jj_ctx *c, jv v) {
    (void)c;
    switch (v.t) {
    case JV_UNDEF:
    case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.d != 0.0;
    case JV_STR: return v.u.s->n > 0;
    case JV_LIST: return (v.f & JF_GEN) ? true : v.u.l->n > 0;
    case JV_DICT: return v.u.m->n > 0;
    default: return true;
    }
}

static bool is_num(jv v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static int64_t num_i(jv v) { return v.t == JV_INT ? v.u.i : (int64_t)v.u.b; }

static int num_cmp(jv a, jv b) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT) {
        int64_t x = num_i(a), y = num_i(b);
        return x < y ? -1 : x > y;
    }
    if (a.t == JV_FLOAT && b.t == JV_FLOAT) return a.u.d < b.u.d ? -1 : a.u.d > b.u.d;
    /* int vs float: exact comparison as Python does */
    double f = a.t == JV_FLOAT ? a.u.d : b.u.d;
    int64_t i = a.t == JV_FLOAT ? num_i(b) : num_i(a);
    int r;
    if (isnan(f)) r = 2; /* unordered */
    else if (f >= 9.2233720368547758e18) r = -1;
    else if (f < -9.2233720368547758e18) r = 1;
    else {
        double fl = floor(f);
        int64_t fi = (int64_t)fl;
        if (i < fi) r = -1;
        else if (i > fi) r = 1;
        else r = fl < f ? -1 : 0;
    }
    if (r == 2) return 2;
    return a.t == JV_FLOAT ? -r : r;
}

bool jv_eq(jj_ctx *c, jv a, jv b) {
    if (is_num(a) && is_num(b)) return num_cmp(a, b) == 0;
    if (a.t != b.t) return false;
    switch (a.t) {
    case JV_UNDEF:
    case JV_NONE: return true;
    case JV_STR: return a.u.s->n == b.u.s->n && !memcmp(a.u.s->s, b.u.s->s, a.u.s->n);
    case JV_LIST:
        if ((a.f | b.f) & (JF_GEN | JF_VIEW | JF_RANGE)) return a.u.l == b.u.l && a.f == b.f;
        if ((a.f & JF_TUPLE) != (b.f & JF_TUPLE) || a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_eq(c, a.u.l->v[i], b.u.l->v[i])) return false;
        return true;
    case JV_DICT:
        if (a.u.m->n != b.u.m->n) return false;
        for (size_t i = 0; i < a.u.m->n; i++) {
            jv o;
            if (!jd_get(c, b.u.m, a.u.m->k[i], &o) || !jv_eq(c, a.u.m->v[i], o)) return false;
        }
        return true;
    case JV_NS: return a.u.m == b.u.m;
    case JV_LOOP: return a.u.loop == b.u.loop;
    case JV_FUNC: return a.u.fn->id == b.u.fn->id && jv_eq(c, a.u.fn->self, b.u.fn->self);
    case JV_MACRO: return a.u.mac == b.u.mac;
    default: return false;
    }
}

const char *jv_type_name(jv v) {
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST:
        if (v.f & JF_GEN) return "generator";
        if (v.f & JF_RANGE) return "range";
        if (v.f & JF_VIEW_KEYS) return "dict_keys";
        if (v.f & JF_VIEW_VALUES) return "dict_values";
        if (v.f & JF_VIEW_ITEMS) return "dict_items";
        return (v.f & JF_TUPLE) ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_LOOP: return "LoopContext";
    case JV_FUNC: return "builtin_function_or_method";
    case JV_MACRO: return "Macro";
    default: return "object";
    }
}

int jv_cmp(jj_ctx *c, jv a, jv b, int line) {
    if (a.t == JV_UNDEF) jj_fail_undef(c, a, line);
    if (b.t == JV_UNDEF) jj_fail_undef(c, b, line);
    if (is_num(a) && is_num(b)) {
        int r = num_cmp(a, b);
        return r == 2 ? 2 : r;
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t n = a.u.s->n < b.u.s->n ? a.u.s->n : b.u.s->n;
        int r = memcmp(a.u.s->s, b.u.s->s, n);
        if (r) return r < 0 ? -1 : 1;
        return a.u.s->n < b.u.s->n ? -1 : a.u.s->n > b.u.s->n;
    }
    if (a.t == JV_LIST && b.t == JV_LIST && !((a.f | b.f) & (JF_GEN | JF_VIEW)) &&
        (a.f & JF_TUPLE) == (b.f & JF_TUPLE)) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_eq(c, a.u.l->v[i], b.u.l->v[i])) continue;
            return jv_cmp(c, a.u.l->v[i], b.u.l->v[i], line);
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    jj_fail(c, line, FR_ERR_FORMAT, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a),
            jv_type_name(b));
}

bool jv_is_str(jv v, const char *s) { return v.t == JV_STR && v.u.s->n == strlen(s) && !memcmp(v.u.s->s, s, v.u.s->n); }

/* ---- float repr (Python's shortest round-trip form) ---- */
void py_float_repr(double d, char *buf, size_t cap) {
    if (isnan(d)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, cap, d < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp: [-]D[.DDD]e[+-]XX */
    char digits[24];
    int nd = 0, neg = 0;
    const char *q = tmp;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    int e = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int decpt = e + 1;
    char *o = buf;
    size_t left = cap;
#define PUT(ch) do { if (left > 1) { *o++ = (ch); left--; } } while (0)
    if (neg) PUT('-');
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            PUT('0');
            PUT('.');
            for (int i = 0; i < -decpt; i++) PUT('0');
            for (int i = 0; i < nd; i++) PUT(digits[i]);
        } else if (decpt >= nd) {
            for (int i = 0; i < nd; i++) PUT(digits[i]);
            for (int i = nd; i < decpt; i++) PUT('0');
            PUT('.');
            PUT('0');
        } else {
            for (int i = 0; i < nd; i++) {
                if (i == decpt) PUT('.');
                PUT(digits[i]);
            }
        }
        *o = 0;
    } else {
        PUT(digits[0]);
        if (nd > 1) {
            PUT('.');
            for (int i = 1; i < nd; i++) PUT(digits[i]);
        }
        *o = 0;
        snprintf(o, left, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
    }
#undef PUT
}

/* ---- str() and repr() ---- */
static void repr_str(jj_ctx *c, jbuf *b, const jstr *s) {
    bool sq = memchr(s->s, '\'', s->n) != NULL, dq = memchr(s->s, '"', s->n) != NULL;
    char q = (sq && !dq) ? '"' : '\'';
    jbuf_putc(c, b, q);
    size_t i = 0;
    while (i < s->n) {
        size_t st = i;
        uint32_t cp = utf8_next(s->s, s->n, &i);
        char e[16];
        if (cp == (uint32_t)q || cp == '\\') {
            e[0] = '\\';
            e[1] = (char)cp;
            jbuf_put(c, b, e, 2);
        } else if (cp == '\n') jbuf_puts(c, b, "\\n");
        else if (cp == '\r') jbuf_puts(c, b, "\\r");
        else if (cp == '\t') jbuf_puts(c, b, "\\t");
        else if (uni_isprintable(cp)) jbuf_put(c, b, s->s + st, i - st);
        else {
            if (cp < 0x100) snprintf(e, sizeof e, "\\x%02x", cp);
            else if (cp < 0x10000) snprintf(e, sizeof e, "\\u%04x", cp);
            else snprintf(e, sizeof e, "\\U%08x", cp);
            jbuf_puts(c, b, e);
        }
    }
    jbuf_putc(c, b, q);
}

static void seq_repr(jj_ctx *c, jbuf *b, const jlist *l, const char *open, const char *close, bool tuple, int line) {
    jbuf_puts(c, b, open);
    for (size_t i = 0; i < l->n; i++) {
        if (i) jbuf_puts(c, b, ", ");
        jv_repr_to(c, b, l->v[i], line);
    }
    if (tuple && l->n == 1) jbuf_putc(c, b, ',');
    jbuf_puts(c, b, close);
}

static void dict_repr(jj_ctx *c, jbuf *b, const jdict *d, int line) {
    jbuf_putc(c, b, '{');
    for (size_t i = 0; i < d->n; i++) {
        if (i) jbuf_puts(c, b, ", ");
        jv_repr_to(c, b, d->k[i], line);
        jbuf_puts(c, b, ": ");
        jv_repr_to(c, b, d->v[i], line);
    }
    jbuf_putc(c, b, '}');
}

void jv_str_to(jj_ctx *c, jbuf *b, jv v, int line) {
    char tmp[40];
    if (c->cdepth > 2000) jj_fail(c, line, FR_ERR_RANGE, "value nested too deeply");
    c->cdepth++;
    switch (v.t) {
    case JV_UNDEF: break;
    case JV_NONE: jbuf_puts(c, b, "None"); break;
    case JV_BOOL: jbuf_puts(c, b, v.u.b ? "True" : "False"); break;
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        jbuf_puts(c, b, tmp);
        break;
    case JV_FLOAT:
        py_float_repr(v.u.d, tmp, sizeof tmp);
        jbuf_puts(c, b, tmp);
        break;
    case JV_STR: jbuf_put(c, b, v.u.s->s, v.u.s->n); break;
    case JV_LIST:
        if (v.f & (JF_GEN | JF_RANGE)) jj_fail(c, line, FR_ERR_UNSUPPORTED, "printing a %s object", (v.f & JF_GEN) ? "generator" : "range");
        if (v.f & JF_VIEW) {
            jbuf_puts(c, b, jv_type_name(v));
            seq_repr(c, b, v.u.l, "([", "])", false, line);
        } else if (v.f & JF_TUPLE) seq_repr(c, b, v.u.l, "(", ")", true, line);
        else seq_repr(c, b, v.u.l, "[", "]", false, line);
        break;
    case JV_DICT: dict_repr(c, b, v.u.m, line); break;
    case JV_NS:
        jbuf_puts(c, b, "<Namespace ");
        dict_repr(c, b, v.u.m, line);
        jbuf_putc(c, b, '>');
        break;
    default: jj_fail(c, line, FR_ERR_UNSUPPORTED, "printing a %s object", jv_type_name(v));
    }
    c->cdepth--;
}

void jv_repr_to(jj_ctx *c, jbuf *b, jv v, int line) {
    if (v.t == JV_STR) repr_str(c, b, v.u.s);
    else if (v.t == JV_UNDEF) jbuf_puts(c, b, "Undefined");
    else jv_str_to(c, b, v, line);
}

jv jv_to_str(jj_ctx *c, jv v, int line) {
    if (v.t == JV_STR) return v;
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    jv_str_to(c, &b, v, line);
    return jbuf_to_str(c, &b);
}

/* ---- JSON ---- */
static void json_str(jj_ctx *c, jbuf *b, const char *s, size_t n, bool ascii) {
    jbuf_putc(c, b, '"');
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[16];
        if (ch == '"') esc = "\\\"";
        else if (ch == '\\') esc = "\\\\";
        else if (ch == '\n') esc = "\\n";
        else if (ch == '\r') esc = "\\r";
        else if (ch == '\t') esc = "\\t";
        else if (ch == '\b') esc = "\\b";
        else if (ch == '\f') esc = "\\f";
        else if (ch < 0x20 || (ascii && ch == 0x7F)) {
            snprintf(tmp, sizeof tmp, "\\u%04x", ch);
            esc = tmp;
        } else if (ascii && ch >= 0x80) {
            jbuf_put(c, b, s + run, i - run);
            uint32_t cp = utf8_next(s, n, &i);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else snprintf(tmp, sizeof tmp, "\\u%04x", cp);
            jbuf_puts(c, b, tmp);
            run = i;
            continue;
        }
        if (esc) {
            jbuf_put(c, b, s + run, i - run);
            jbuf_puts(c, b, esc);
            run = i + 1;
        }
        i++;
    }
    jbuf_put(c, b, s + run, n - run);
    jbuf_putc(c, b, '"');
}

static void json_newline(jj_ctx *c, jbuf *b, const jj_json_opts *o, int level) {
    jbuf_putc(c, b, '\n');
    for (int i = 0; i < level; i++) jbuf_puts(c, b, o->indent);
}

void jv_json_to(jj_ctx *c, jbuf *b, jv v, const jj_json_opts *o, int level, int line) {
    char tmp[40];
    if (level > 500) jj_fail(c, line, FR_ERR_RANGE, "tojson: value nested too deeply");
    switch (v.t) {
    case JV_NONE: jbuf_puts(c, b, "null"); return;
    case JV_BOOL: jbuf_puts(c, b, v.u.b ? "true" : "false"); return;
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        jbuf_puts(c, b, tmp);
        return;
    case JV_FLOAT:
        if (isnan(v.u.d)) jbuf_puts(c, b, "NaN");
        else if (isinf(v.u.d)) jbuf_puts(c, b, v.u.d < 0 ? "-Infinity" : "Infinity");
        else {
            py_float_repr(v.u.d, tmp, sizeof tmp);
            jbuf_puts(c, b, tmp);
        }
        return;
    case JV_STR: json_str(c, b, v.u.s->s, v.u.s->n, o->ensure_ascii); return;
    case JV_LIST:
        if (v.f & (JF_GEN | JF_VIEW | JF_RANGE)) break;
        if (v.u.l->n == 0) {
            jbuf_puts(c, b, "[]");
            return;
        }
        jbuf_putc(c, b, '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) jbuf_puts(c, b, o->item_sep);
            if (o->indent) json_newline(c, b, o, level + 1);
            jv_json_to(c, b, v.u.l->v[i], o, level + 1, line);
        }
        if (o->indent) json_newline(c, b, o, level);
        jbuf_putc(c, b, ']');
        return;
    case JV_DICT: {
        const jdict *d = v.u.m;
        if (d->n == 0) {
            jbuf_puts(c, b, "{}");
            return;
        }
        size_t *ord = jj_alloc(c, d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++) ord[i] = i;
        if (o->sort_keys) /* insertion sort: stable, dicts in templates are small */
            for (size_t i = 1; i < d->n; i++) {
                size_t x = ord[i], j = i;
                while (j > 0 && jv_cmp(c, d->k[ord[j - 1]], d->k[x], line) > 0) {
                    ord[j] = ord[j - 1];
                    j--;
                }
                ord[j] = x;
            }
        jbuf_putc(c, b, '{');
        for (size_t ii = 0; ii < d->n; ii++) {
            size_t i = ord[ii];
            jv k = d->k[i];
            if (ii) jbuf_puts(c, b, o->item_sep);
            if (o->indent) json_newline(c, b, o, level + 1);
            if (k.t == JV_STR) json_str(c, b, k.u.s->s, k.u.s->n, o->ensure_ascii);
            else if (k.t == JV_INT || k.t == JV_FLOAT || k.t == JV_BOOL || k.t == JV_NONE) {
                jbuf_putc(c, b, '"');
                jv_json_to(c, b, k, o, level + 1, line);
                jbuf_putc(c, b, '"');
            } else
                jj_fail(c, line, FR_ERR_FORMAT, "tojson: keys must be str, int, float, bool or None, not %s",
                        jv_type_name(k));
            jbuf_puts(c, b, o->key_sep);
            jv_json_to(c, b, d->v[i], o, level + 1, line);
        }
        if (o->indent) json_newline(c, b, o, level);
        jbuf_putc(c, b, '}');
        return;
    }
    default: break;
    }
    jj_fail(c, line, FR_ERR_FORMAT, "tojson: Object of type %s is not JSON serializable", jv_type_name(v));
}

/* ---- iteration and slicing ---- */
jlist *jv_iter(jj_ctx *c, jv v, int line) {
    switch (v.t) {
    case JV_UNDEF: {
        if (v.f & JF_UNSAFE) jj_fail_undef(c, v, line);
        return jv_list_n(c, 0).u.l;
    }
    case JV_LIST: return v.u.l;
    case JV_DICT: {
        jv r = jv_list_n(c, v.u.m->n);
        memcpy(r.u.l->v, v.u.m->k, v.u.m->n * sizeof(jv));
        return r.u.l;
    }
    case JV_STR: {
        jstr *s = v.u.s;
        jv r = jv_list_n(c, (size_t)js_ncp(s));
        size_t i = 0, k = 0;
        while (i < s->n) {
            size_t st = i;
            utf8_next(s->s, s->n, &i);
            r.u.l->v[k++] = jv_str(c, s->s + st, i - st);
        }
        return r.u.l;
    }
    default: jj_fail(c, line, FR_ERR_FORMAT, "'%s' object is not iterable", jv_type_name(v));
    }
}

jv js_slice(jj_ctx *c, jv v, bool hs, int64_t start, bool he, int64_t stop, int64_t step, int line) {
    if (step == 0) jj_fail(c, line, FR_ERR_FORMAT, "slice step cannot be zero");
    int64_t len = v.t == JV_STR ? js_ncp(v.u.s) : (int64_t)v.u.l->n;
    if (!hs) start = step > 0 ? 0 : len - 1;
    else {
        if (start < 0) start += len;
        if (step > 0) start = start < 0 ? 0 : start > len ? len : start;
        else start = start < -1 ? -1 : start > len - 1 ? len - 1 : start;
    }
    if (!he) stop = step > 0 ? len : -1;
    else {
        if (stop < 0) stop += len;
        if (step > 0) stop = stop < 0 ? 0 : stop > len ? len : stop;
        else stop = stop < -1 ? -1 : stop > len - 1 ? len - 1 : stop;
    }
    int64_t cnt = 0;
    if (step > 0 && stop > start) cnt = (stop - start + step - 1) / step;
    if (step < 0 && start > stop) cnt = (start - stop + (-step) - 1) / (-step);
    if (v.t == JV_STR) {
        jstr *s = v.u.s;
        if (step == 1) {
            size_t a = js_cp_off(s, start), e = js_cp_off(s, start + cnt);
            return jv_str(c, s->s + a, e - a);
        }
        /* code point offsets */
        size_t *off = jj_alloc(c, ((size_t)len + 1) * sizeof(size_t));
        size_t i = 0;
        for (int64_t k = 0; k < len; k++) {
            off[k] = i;
            utf8_next(s->s, s->n, &i);
        }
        off[len] = s->n;
        char *o = jj_alloc(c, s->n + 1);
        size_t on = 0;
        for (int64_t k = 0, p = start; k < cnt; k++, p += step) {
            memcpy(o + on, s->s + off[p], off[p + 1] - off[p]);
            on += off[p + 1] - off[p];
        }
        return jv_str(c, o, on);
    }
    jv r = jv_list_n(c, (size_t)cnt);
    for (int64_t k = 0, p = start; k < cnt; k++, p += step) r.u.l->v[k] = v.u.l->v[p];
    r.f = v.f & JF_TUPLE;
    return r;
}

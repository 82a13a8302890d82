/* jinja_filters.c: jinja2's builtin filters and tests, plus transformers' tojson. Filters
 * that return generators in jinja2 (map, select, reject, selectattr, rejectattr, unique,
 * items, reverse, batch) return lists flagged as generators: always true, no len(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_str.h"
#include "chat/jinja_unicode.h"

enum {
    F_ABS, F_ATTR, F_BATCH, F_CAPITALIZE, F_CENTER, F_LENGTH, F_DEFAULT, F_DICTSORT, F_ESCAPE, F_FIRST, F_FLOAT,
    F_INDENT, F_INT, F_JOIN, F_LAST, F_LIST, F_LOWER, F_ITEMS, F_MAP, F_MIN, F_MAX, F_REJECT, F_REJECTATTR,
    F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT, F_SELECTATTR, F_SORT, F_STRING, F_SUM, F_TITLE, F_TRIM,
    F_TRUNCATE, F_UNIQUE, F_UPPER, F_WORDCOUNT, F_TOJSON,
};

static const struct {
    const char *name;
    int id;
} k_filters[] = {
    {"abs", F_ABS}, {"attr", F_ATTR}, {"batch", F_BATCH}, {"capitalize", F_CAPITALIZE}, {"center", F_CENTER},
    {"count", F_LENGTH}, {"d", F_DEFAULT}, {"default", F_DEFAULT}, {"dictsort", F_DICTSORT}, {"e", F_ESCAPE},
    {"escape", F_ESCAPE}, {"forceescape", F_ESCAPE}, {"first", F_FIRST}, {"float", F_FLOAT}, {"indent", F_INDENT},
    {"int", F_INT}, {"join", F_JOIN}, {"last", F_LAST}, {"length", F_LENGTH}, {"list", F_LIST}, {"lower", F_LOWER},
    {"items", F_ITEMS}, {"map", F_MAP}, {"min", F_MIN}, {"max", F_MAX}, {"reject", F_REJECT},
    {"rejectattr", F_REJECTATTR}, {"replace", F_REPLACE}, {"reverse", F_REVERSE}, {"round", F_ROUND},
    {"safe", F_SAFE}, {"select", F_SELECT}, {"selectattr", F_SELECTATTR}, {"sort", F_SORT}, {"string", F_STRING},
    {"sum", F_SUM}, {"title", F_TITLE}, {"trim", F_TRIM}, {"truncate", F_TRUNCATE}, {"unique", F_UNIQUE},
    {"upper", F_UPPER}, {"wordcount", F_WORDCOUNT}, {"tojson", F_TOJSON},
};

int jj_filter_id(const char *name) {
    for (size_t i = 0; i < FR_ARRAY_LEN(k_filters); i++)
        if (!strcmp(name, k_filters[i].name)) return k_filters[i].id;
    return -1;
}

enum {
    T_ODD, T_EVEN, T_DIVISIBLEBY, T_DEFINED, T_UNDEFINED, T_FILTER, T_TEST, T_NONE, T_BOOLEAN, T_FALSE, T_TRUE,
    T_INTEGER, T_FLOAT, T_LOWER, T_UPPER, T_STRING, T_MAPPING, T_NUMBER, T_SEQUENCE, T_ITERABLE, T_CALLABLE,
    T_SAMEAS, T_ESCAPED, T_IN, T_EQ, T_NE, T_GT, T_GE, T_LT, T_LE,
};

static const struct {
    const char *name;
    int id;
} k_tests[] = {
    {"odd", T_ODD}, {"even", T_EVEN}, {"divisibleby", T_DIVISIBLEBY}, {"defined", T_DEFINED},
    {"undefined", T_UNDEFINED}, {"filter", T_FILTER}, {"test", T_TEST}, {"none", T_NONE}, {"boolean", T_BOOLEAN},
    {"false", T_FALSE}, {"true", T_TRUE}, {"integer", T_INTEGER}, {"float", T_FLOAT}, {"lower", T_LOWER},
    {"upper", T_UPPER}, {"string", T_STRING}, {"mapping", T_MAPPING}, {"number", T_NUMBER},
    {"sequence", T_SEQUENCE}, {"iterable", T_ITERABLE}, {"callable", T_CALLABLE}, {"sameas", T_SAMEAS},
    {"escaped", T_ESCAPED}, {"in", T_IN}, {"==", T_EQ}, {"eq", T_EQ}, {"equalto", T_EQ}, {"!=", T_NE}, {"ne", T_NE},
    {">", T_GT}, {"gt", T_GT}, {"greaterthan", T_GT}, {"ge", T_GE}, {">=", T_GE}, {"<", T_LT}, {"lt", T_LT},
    {"lessthan", T_LT}, {"<=", T_LE}, {"le", T_LE},
};

int jj_test_id(const char *name) {
    for (size_t i = 0; i < FR_ARRAY_LEN(k_tests); i++)
        if (!strcmp(name, k_tests[i].name)) return k_tests[i].id;
    return -1;
}

/* ---- helpers ---- */
static jv gen(jv v) {
    v.f = (uint8_t)((v.f & ~(JF_TUPLE | JF_VIEW | JF_RANGE)) | JF_GEN);
    return v;
}

static jstr *soft_str(jj_ctx *c, jv v, int line) { return jv_to_str(c, v, line).u.s; }

static int64_t as_int(jj_ctx *c, jv v, const char *what, int line) {
    if (v.t == JV_INT) return v.u.i;
    if (v.t == JV_BOOL) return v.u.b;
    if (v.t == JV_UNDEF) jj_fail_undef(c, v, line);
    jj_fail(c, line, FR_ERR_FORMAT, "%s: '%s' object cannot be interpreted as an integer", what, jv_type_name(v));
}

static int64_t length(jj_ctx *c, jv v, int line) {
    switch (v.t) {
    case JV_UNDEF: return 0;
    case JV_STR: return js_ncp(v.u.s);
    case JV_LIST:
        if (v.f & JF_GEN) break;
        return (int64_t)v.u.l->n;
    case JV_DICT: return (int64_t)v.u.m->n;
    default: break;
    }
    jj_fail(c, line, FR_ERR_FORMAT, "object of type '%s' has no len()", jv_type_name(v));
}

/* make_attrgetter: "a.b.0" looked up with getitem semantics */
static jv attr_get(jj_ctx *c, jv item, jv attribute, int line) {
    if (attribute.t == JV_INT || attribute.t == JV_BOOL) return jj_getitem(c, item, attribute, line);
    if (attribute.t != JV_STR) return jj_getitem(c, item, attribute, line);
    const jstr *s = attribute.u.s;
    size_t i = 0;
    for (;;) {
        const char *dot = memchr(s->s + i, '.', s->n - i);
        size_t e = dot ? (size_t)(dot - s->s) : s->n;
        bool digits = e > i;
        for (size_t k = i; k < e; k++) digits &= s->s[k] >= '0' && s->s[k] <= '9';
        jv key;
        if (digits && e - i < 18) {
            int64_t v = 0;
            for (size_t k = i; k < e; k++) v = v * 10 + (s->s[k] - '0');
            key = jv_int(v);
        } else key = jv_str(c, s->s + i, e - i);
        item = jj_getitem(c, item, key, line);
        if (!dot) return item;
        i = e + 1;
    }
}

static jv lower_if_str(jj_ctx *c, jv v) { return v.t == JV_STR ? js_case(c, v.u.s, JS_LOWER) : v; }

/* stable merge sort of items by keys (jv_cmp), optionally descending */
static void sort_by(jj_ctx *c, jv *items, jv *keys, size_t n, bool rev, int line) {
    if (n < 2) return;
    jv *ti = jj_alloc(c, n * sizeof(jv)), *tk = jj_alloc(c, n * sizeof(jv));
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi) {
                int r = rev ? jv_cmp(c, keys[a], keys[b], line) : jv_cmp(c, keys[b], keys[a], line);
                bool take_b = r < 0 && r != 2;
                if (take_b) {
                    ti[k] = items[b];
                    tk[k++] = keys[b++];
                } else {
                    ti[k] = items[a];
                    tk[k++] = keys[a++];
                }
            }
            while (a < mid) {
                ti[k] = items[a];
                tk[k++] = keys[a++];
            }
            while (b < hi) {
                ti[k] = items[b];
                tk[k++] = keys[b++];
            }
        }
        memcpy(items, ti, n * sizeof(jv));
        memcpy(keys, tk, n * sizeof(jv));
    }
}

static jv html_escape(jj_ctx *c, jstr *s) {
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    for (size_t i = 0; i < s->n; i++) {
        switch (s->s[i]) {
        case '&': jbuf_puts(c, &b, "&amp;"); break;
        case '<': jbuf_puts(c, &b, "&lt;"); break;
        case '>': jbuf_puts(c, &b, "&gt;"); break;
        case '"': jbuf_puts(c, &b, "&#34;"); break;
        case '\'': jbuf_puts(c, &b, "&#39;"); break;
        default: jbuf_putc(c, &b, s->s[i]);
        }
    }
    return jbuf_to_str(c, &b);
}

/* Python float(str): optional whitespace, sign, digits with single underscores, inf/nan */
static bool parse_float(const jstr *s, double *out) {
    size_t a = 0, e = s->n;
    while (a < e && ((unsigned char)s->s[a] < 0x80 && py_isspace((unsigned char)s->s[a]))) a++;
    while (e > a && ((unsigned char)s->s[e - 1] < 0x80 && py_isspace((unsigned char)s->s[e - 1]))) e--;
    if (a == e || e - a > 400) return false;
    char buf[512];
    size_t n = 0, i = a;
    if (s->s[i] == '+' || s->s[i] == '-') buf[n++] = s->s[i++];
    const char *w = s->s + i;
    size_t wl = e - i;
    if ((wl == 3 && !strncasecmp(w, "inf", 3)) || (wl == 8 && !strncasecmp(w, "infinity", 8)) ||
        (wl == 3 && !strncasecmp(w, "nan", 3))) {
        memcpy(buf + n, w, wl);
        buf[n + wl] = 0;
        *out = strtod(buf, NULL);
        return true;
    }
    bool digit = false, dot = false, exp = false;
    for (; i < e; i++) {
        char ch = s->s[i];
        if (ch >= '0' && ch <= '9') digit = true;
        else if (ch == '_') {
            if (i == a || i + 1 >= e || !(s->s[i - 1] >= '0' && s->s[i - 1] <= '9') || !(s->s[i + 1] >= '0' && s->s[i + 1] <= '9'))
                return false;
            continue;
        } else if (ch == '.' && !dot && !exp) dot = true;
        else if ((ch == 'e' || ch == 'E') && digit && !exp) {
            exp = true;
            buf[n++] = ch;
            if (i + 1 < e && (s->s[i + 1] == '+' || s->s[i + 1] == '-')) buf[n++] = s->s[++i];
            digit = false;
            continue;
        } else return false;
        buf[n++] = ch;
    }
    if (!digit) return false;
    buf[n] = 0;
    *out = strtod(buf, NULL);
    return true;
}

/* Python int(str, base) */
static bool parse_int(const jstr *s, int64_t base, int64_t *out) {
    size_t a = 0, e = s->n;
    while (a < e && (unsigned char)s->s[a] < 0x80 && py_isspace((unsigned char)s->s[a])) a++;
    while (e > a && (unsigned char)s->s[e - 1] < 0x80 && py_isspace((unsigned char)s->s[e - 1])) e--;
    bool neg = false;
    if (a < e && (s->s[a] == '+' || s->s[a] == '-')) neg = s->s[a++] == '-';
    if (a + 1 < e && s->s[a] == '0') {
        char p = (char)(s->s[a + 1] | 32);
        int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
        if (pb && (base == pb || base == 0)) {
            a += 2;
            base = pb;
            if (a < e && s->s[a] == '_') a++;
        }
    }
    if (base == 0) base = 10;
    if (a == e || base < 2 || base > 36) return false;
    int64_t v = 0;
    for (size_t i = a; i < e; i++) {
        char ch = s->s[i];
        if (ch == '_' && i > a && i + 1 < e && s->s[i + 1] != '_') continue;
        int d = ch >= '0' && ch <= '9' ? ch - '0' : (ch | 32) >= 'a' && (ch | 32) <= 'z' ? (ch | 32) - 'a' + 10 : 99;
        if (d >= base) return false;
        if (!ck_mul_i64(v, base, &v) || !ck_add_i64(v, d, &v)) return false;
    }
    *out = neg ? -v : v;
    return true;
}

static jv tojson_f(jj_ctx *c, jv x, jv ascii, jv indent, jv seps, jv sort, int line) {
    jj_json_opts o = {.ensure_ascii = jj_has(ascii) && jv_truthy(c, ascii), .sort_keys = jj_has(sort) && jv_truthy(c, sort)};
    if (jj_has(indent) && indent.t != JV_NONE) {
        if (indent.t == JV_STR) o.indent = indent.u.s->s;
        else {
            int64_t k = as_int(c, indent, "tojson indent", line);
            if (k > 1000) jj_fail(c, line, FR_ERR_RANGE, "tojson: indent too large");
            char *sp = jj_alloc(c, (size_t)(k > 0 ? k : 0) + 1);
            for (int64_t i = 0; i < k; i++) sp[i] = ' ';
            o.indent = sp;
        }
        o.item_sep = ",";
        o.key_sep = ": ";
    } else {
        o.item_sep = ", ";
        o.key_sep = ": ";
    }
    if (jj_has(seps) && seps.t != JV_NONE) {
        if (seps.t != JV_LIST || seps.u.l->n != 2 || seps.u.l->v[0].t != JV_STR || seps.u.l->v[1].t != JV_STR)
            jj_fail(c, line, FR_ERR_FORMAT, "tojson: separators must be a pair of strings");
        o.item_sep = seps.u.l->v[0].u.s->s;
        o.key_sep = seps.u.l->v[1].u.s->s;
    }
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    jv_json_to(c, &b, x, &o, 0, line);
    return jbuf_to_str(c, &b);
}

/* jinja2's title filter: each item of re.split(r"([-\s({\[<]+)", s) becomes
 * item[0].upper() + item[1:].lower() */
static jv jtitle(jj_ctx *c, jstr *s) {
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    size_t i = 0;
    while (i < s->n) {
        size_t st = i;
        uint32_t cp = utf8_next(s->s, s->n, &i);
        bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_isspace(cp);
        if (sep) {
            jbuf_put(c, &b, s->s + st, i - st);
            continue;
        }
        uint32_t m[3];
        char e[16];
        size_t en = 0;
        for (int k = 0, nm = uni_upper(cp, m); k < nm; k++) en += utf8_put(e + en, m[k]);
        jbuf_put(c, &b, e, en);
        size_t ws = i;
        while (i < s->n) {
            size_t j = i;
            uint32_t d = utf8_next(s->s, s->n, &j);
            if (d == '-' || d == '(' || d == '{' || d == '[' || d == '<' || py_isspace(d)) break;
            i = j;
        }
        jv rest = js_case(c, jv_str(c, s->s + ws, i - ws).u.s, JS_LOWER);
        jbuf_put(c, &b, rest.u.s->s, rest.u.s->n);
    }
    return jbuf_to_str(c, &b);
}

static jv indent(jj_ctx *c, jv sv, jv width, jv first, jv blank, int line) {
    if (sv.t == JV_UNDEF) jj_fail_undef(c, sv, line);
    if (sv.t != JV_STR) jj_fail(c, line, FR_ERR_FORMAT, "indent: unsupported operand type(s) for +=: '%s' and 'str'", jv_type_name(sv));
    jstr *ind;
    if (jj_has(width) && width.t == JV_STR) ind = width.u.s;
    else {
        int64_t w = jj_has(width) ? as_int(c, width, "indent", line) : 4;
        if (w > 10000) jj_fail(c, line, FR_ERR_RANGE, "indent width too large");
        ind = jv_str(c, "", 0).u.s;
        if (w > 0) {
            char *sp = jj_alloc(c, (size_t)w);
            memset(sp, ' ', (size_t)w);
            ind = jv_str(c, sp, (size_t)w).u.s;
        }
    }
    jbuf t;
    jbuf_open(c, &t, c->max_output);
    jbuf_put(c, &t, sv.u.s->s, sv.u.s->n);
    jbuf_putc(c, &t, '\n');
    jv lines = js_splitlines(c, jbuf_to_str(c, &t).u.s, false);
    jlist *l = lines.u.l;
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    if (jj_has(first) && jv_truthy(c, first)) jbuf_put(c, &b, ind->s, ind->n);
    bool bl = jj_has(blank) && jv_truthy(c, blank);
    for (size_t i = 0; i < l->n; i++) {
        const jstr *ln = l->v[i].u.s;
        if (i) {
            jbuf_putc(c, &b, '\n');
            if (bl || ln->n) jbuf_put(c, &b, ind->s, ind->n);
        }
        jbuf_put(c, &b, ln->s, ln->n);
    }
    return jbuf_to_str(c, &b);
}

static jv round_f(jj_ctx *c, jv v, jv prec, jv method, int line) {
    int64_t p = jj_has(prec) ? as_int(c, prec, "round", line) : 0;
    int m = 0;
    if (jj_has(method)) {
        if (jv_is_str(method, "common")) m = 0;
        else if (jv_is_str(method, "ceil")) m = 1;
        else if (jv_is_str(method, "floor")) m = 2;
        else jj_fail(c, line, FR_ERR_FORMAT, "method must be common, ceil or floor");
    }
    if (v.t == JV_UNDEF) jj_fail_undef(c, v, line);
    if (v.t != JV_INT && v.t != JV_BOOL && v.t != JV_FLOAT)
        jj_fail(c, line, FR_ERR_FORMAT, "type %s doesn't define __round__ method", jv_type_name(v));
    if (p > 300 || p < -300) jj_fail(c, line, FR_ERR_UNSUPPORTED, "round: precision out of range");
    double x = v.t == JV_FLOAT ? v.u.d : (double)(v.t == JV_INT ? v.u.i : v.u.b);
    if (m == 0) {
        if (v.t != JV_FLOAT) {
            if (p >= 0) return jv_int(v.t == JV_INT ? v.u.i : v.u.b);
            jj_fail(c, line, FR_ERR_UNSUPPORTED, "round: negative precision on an integer");
        }
        if (!isfinite(x)) return v;
        if (p >= 0) {
            char buf[512];
            snprintf(buf, sizeof buf, "%.*f", (int)p, x);
            return jv_float(strtod(buf, NULL));
        }
        double s = pow(10.0, (double)-p);
        return jv_float(nearbyint(x / s) * s);
    }
    double s = pow(10.0, (double)p);
    double r = m == 1 ? ceil(x * s) : floor(x * s);
    return jv_float(r / s);
}

/* select/reject and friends */
static jv select_reject(jj_ctx *c, jv value, const jargs *a, bool attr, bool want, int line) {
    jlb out = {0};
    if (!jv_truthy(c, value)) return gen(jlb_done(c, &out, 0));
    size_t off = 0;
    jv attribute = jv_none();
    if (attr) {
        if (a->npos < 1) jj_fail(c, line, FR_ERR_FORMAT, "Missing parameter for attribute name");
        attribute = a->pos[0];
        off = 1;
    }
    int tid = -1;
    jargs ta = {0};
    jlist *items = jv_iter(c, value, line);
    if (a->npos > off && items->n) { /* jinja2 looks the test up when it first tests an item */
        jstr *tn = soft_str(c, a->pos[off], line);
        tid = jj_test_id(tn->s);
        if (tid < 0) jj_fail(c, line, FR_ERR_FORMAT, "No test named '%s' found.", tn->s);
        ta.pos = a->pos + off + 1;
        ta.npos = a->npos - off - 1;
        ta.kwn = a->kwn;
        ta.kwv = a->kwv;
        ta.nkw = a->nkw;
    }
    for (size_t i = 0; i < items->n; i++) {
        jj_step(c, line);
        jv x = attr ? attr_get(c, items->v[i], attribute, line) : items->v[i];
        bool ok = tid >= 0 ? jj_call_test(c, tid, x, &ta, line) : jv_truthy(c, x);
        if (ok == want) jlb_push(c, &out, items->v[i]);
    }
    return gen(jlb_done(c, &out, 0));
}

static jv map_f(jj_ctx *c, jv value, const jargs *a, int line) {
    jlb out = {0};
    if (!jv_truthy(c, value)) return gen(jlb_done(c, &out, 0));
    jlist *items = jv_iter(c, value, line);
    if (a->npos == 0) {
        jv attribute = jv_none(), def = jv_none();
        bool has_attr = false, has_def = false;
        for (size_t k = 0; k < a->nkw; k++) {
            if (!strcmp(a->kwn[k], "attribute")) {
                attribute = a->kwv[k];
                has_attr = true;
            } else if (!strcmp(a->kwn[k], "default")) {
                def = a->kwv[k];
                has_def = true;
            } else jj_fail(c, line, FR_ERR_FORMAT, "Unexpected keyword argument '%s'", a->kwn[k]);
        }
        if (!has_attr) jj_fail(c, line, FR_ERR_FORMAT, "map requires a filter argument");
        for (size_t i = 0; i < items->n; i++) {
            jv x = attr_get(c, items->v[i], attribute, line);
            if (has_def && def.t != JV_NONE && x.t == JV_UNDEF) x = def;
            jlb_push(c, &out, x);
        }
        return gen(jlb_done(c, &out, 0));
    }
    jstr *fname = soft_str(c, a->pos[0], line);
    int fid = jj_filter_id(fname->s);
    if (fid < 0) jj_fail(c, line, FR_ERR_UNSUPPORTED, "no filter named '%s'", fname->s);
    jargs fa = {a->pos + 1, a->npos - 1, a->kwn, a->kwv, a->nkw};
    for (size_t i = 0; i < items->n; i++) {
        jj_step(c, line);
        jlb_push(c, &out, jj_call_filter(c, fid, items->v[i], &fa, line));
    }
    return gen(jlb_done(c, &out, 0));
}

static jv min_max(jj_ctx *c, jv value, jv cs, jv attribute, bool max, int line) {
    jlist *items = jv_iter(c, value, line);
    if (!items->n) return jv_undef("No aggregated item, sequence was empty.");
    bool sens = jj_has(cs) && jv_truthy(c, cs);
    jv best = items->v[0], bk = jj_has(attribute) && attribute.t != JV_NONE ? attr_get(c, best, attribute, line) : best;
    if (!sens) bk = lower_if_str(c, bk);
    for (size_t i = 1; i < items->n; i++) {
        jv k = jj_has(attribute) && attribute.t != JV_NONE ? attr_get(c, items->v[i], attribute, line) : items->v[i];
        if (!sens) k = lower_if_str(c, k);
        int r = jv_cmp(c, k, bk, line);
        if (r != 2 && (max ? r > 0 : r < 0)) {
            best = items->v[i];
            bk = k;
        }
    }
    return best;
}

jv jj_call_filter(jj_ctx *c, int id, jv in, const jargs *a, int line) {
    jv p[5];
    if (id == -2) jj_fail(c, line, FR_ERR_UNSUPPORTED, "this jinja2 filter is not supported");
    if (id == -1) jj_fail(c, line, FR_ERR_FORMAT, "No filter named this way.");
#define BIND(...)                                                                    \
    do {                                                                             \
        static const char *const ps_[] = {__VA_ARGS__};                              \
        jj_bind(c, "filter", a, ps_, FR_ARRAY_LEN(ps_), p, line);                    \
    } while (0)
#define BIND0() jj_bind(c, "filter", a, NULL, 0, p, line)
    jj_step(c, line);
    switch (id) {
    case F_ABS:
        BIND0();
        if (in.t == JV_INT) {
            if (in.u.i == INT64_MIN) jj_fail(c, line, FR_ERR_UNSUPPORTED, "integer overflow");
            return jv_int(in.u.i < 0 ? -in.u.i : in.u.i);
        }
        if (in.t == JV_BOOL) return jv_int(in.u.b);
        if (in.t == JV_FLOAT) return jv_float(fabs(in.u.d));
        jj_fail(c, line, FR_ERR_FORMAT, "bad operand type for abs(): '%s'", jv_type_name(in));
    case F_ATTR: {
        BIND("name");
        jstr *n = soft_str(c, p[0], line);
        if (in.t == JV_UNDEF) jj_fail_undef(c, in, line);
        if (in.t == JV_DICT) {
            jv r;
            if (n->s[0] != '_' && jj_method(c, in, n->s, &r, line)) return r;
            return jv_undef("no such attribute");
        }
        return jj_getattr(c, in, n->s, line);
    }
    case F_BATCH: {
        BIND("linecount", "fill_with");
        int64_t k = as_int(c, p[0], "batch", line);
        if (k <= 0) jj_fail(c, line, FR_ERR_FORMAT, "batch: linecount must be positive");
        jlist *items = jv_iter(c, in, line);
        jlb out = {0}, cur = {0};
        for (size_t i = 0; i < items->n; i++) {
            jlb_push(c, &cur, items->v[i]);
            if ((int64_t)cur.n == k) {
                jlb_push(c, &out, jlb_done(c, &cur, 0));
                cur = (jlb){0};
            }
        }
        if (cur.n) {
            if (jj_has(p[1]) && p[1].t != JV_NONE)
                while ((int64_t)cur.n < k) jlb_push(c, &cur, p[1]);
            jlb_push(c, &out, jlb_done(c, &cur, 0));
        }
        return gen(jlb_done(c, &out, 0));
    }
    case F_CAPITALIZE: BIND0(); return js_case(c, soft_str(c, in, line), JS_CAPITALIZE);
    case F_CENTER: {
        BIND("width");
        jstr *s = soft_str(c, in, line);
        int64_t w = jj_has(p[0]) ? as_int(c, p[0], "center", line) : 80, n = js_ncp(s);
        if (w <= n) return jv_strobj(s);
        if (w > 100000000) jj_fail(c, line, FR_ERR_RANGE, "string too long");
        int64_t marg = w - n, left = marg / 2 + (marg & w & 1);
        jbuf b;
        jbuf_open(c, &b, c->max_output);
        for (int64_t i = 0; i < left; i++) jbuf_putc(c, &b, ' ');
        jbuf_put(c, &b, s->s, s->n);
        for (int64_t i = left; i < marg; i++) jbuf_putc(c, &b, ' ');
        return jbuf_to_str(c, &b);
    }
    case F_LENGTH: BIND0(); return jv_int(length(c, in, line));
    case F_DEFAULT: {
        BIND("default_value", "boolean");
        bool boolean = jj_has(p[1]) && jv_truthy(c, p[1]);
        if (in.t == JV_UNDEF || (boolean && !jv_truthy(c, in))) return jj_has(p[0]) ? p[0] : jv_str(c, "", 0);
        return in;
    }
    case F_DICTSORT: {
        BIND("case_sensitive", "by", "reverse");
        if (in.t == JV_UNDEF) jj_fail_undef(c, in, line);
        if (in.t != JV_DICT) jj_fail(c, line, FR_ERR_FORMAT, "dictsort: '%s' object has no attribute 'items'", jv_type_name(in));
        int pos = 0;
        if (jj_has(p[1])) {
            if (jv_is_str(p[1], "value")) pos = 1;
            else if (!jv_is_str(p[1], "key")) jj_fail(c, line, FR_ERR_FORMAT, "You can only sort by either \"key\" or \"value\"");
        }
        bool sens = jj_has(p[0]) && jv_truthy(c, p[0]);
        jv items = jj_dict_items(c, in.u.m);
        size_t n = items.u.l->n;
        jv *keys = jj_alloc(c, (n ? n : 1) * sizeof(jv));
        for (size_t i = 0; i < n; i++) {
            jv k = items.u.l->v[i].u.l->v[pos];
            keys[i] = sens ? k : lower_if_str(c, k);
        }
        sort_by(c, items.u.l->v, keys, n, jj_has(p[2]) && jv_truthy(c, p[2]), line);
        items.f = 0;
        return items;
    }
    case F_ESCAPE: BIND0(); return html_escape(c, soft_str(c, in, line));
    case F_FIRST: {
        BIND0();
        jlist *l = jv_iter(c, in, line);
        return l->n ? l->v[0] : jv_undef("No first item, sequence was empty.");
    }
    case F_FLOAT: {
        BIND("default");
        jv def = jj_has(p[0]) ? p[0] : jv_float(0.0);
        if (in.t == JV_UNDEF) jj_fail_undef(c, in, line);
        if (in.t == JV_FLOAT) return in;
        if (in.t == JV_INT || in.t == JV_BOOL) return jv_float(in.t == JV_INT ? (double)in.u.i : in.u.b);
        double d;
        if (in.t == JV_STR && parse_float(in.u.s, &d)) return jv_float(d);
        return def;
    }
    case F_INDENT: BIND("width", "first", "blank"); return indent(c, in, p[0], p[1], p[2], line);
    case F_INT: {
        BIND("default", "base");
        jv def = jj_has(p[0]) ? p[0] : jv_int(0);
        int64_t base = jj_has(p[1]) ? as_int(c, p[1], "int", line) : 10;
        if (in.t == JV_UNDEF) jj_fail_undef(c, in, line);
        if (in.t == JV_INT) return in;
        if (in.t == JV_BOOL) return jv_int(in.u.b);
        if (in.t == JV_FLOAT) {
            if (!isfinite(in.u.d)) jj_fail(c, line, FR_ERR_FORMAT, "cannot convert float infinity or NaN to integer");
            if (fabs(in.u.d) >= 9.2e18) jj_fail(c, line, FR_ERR_UNSUPPORTED, "integer overflow");
            return jv_int((int64_t)in.u.d);
        }
        if (in.t == JV_STR) {
            int64_t v;
            double d;
            if (parse_int(in.u.s, base, &v)) return jv_int(v);
            if (parse_float(in.u.s, &d)) {
                if (!isfinite(d)) {
                    if (isinf(d)) jj_fail(c, line, FR_ERR_FORMAT, "cannot convert float infinity to integer");
                    return def;
                }
                if (fabs(d) >= 9.2e18) jj_fail(c, line, FR_ERR_UNSUPPORTED, "integer overflow");
                return jv_int((int64_t)d);
            }
        }
        return def;
    }
    case F_JOIN: {
        BIND("d", "attribute");
        jstr *d = jj_has(p[0]) ? soft_str(c, p[0], line) : jv_str(c, "", 0).u.s;
        jlist *items = jv_iter(c, in, line);
        jbuf b;
        jbuf_open(c, &b, c->max_output);
        for (size_t i = 0; i < items->n; i++) {
            if (i) jbuf_put(c, &b, d->s, d->n);
            jv x = jj_has(p[1]) && p[1].t != JV_NONE ? attr_get(c, items->v[i], p[1], line) : items->v[i];
            jv_str_to(c, &b, x, line);
        }
        return jbuf_to_str(c, &b);
    }
    case F_LAST: {
        BIND0();
        if (in.t == JV_LIST && (in.f & JF_GEN)) jj_fail(c, line, FR_ERR_FORMAT, "'generator' object is not reversible");
        jlist *l = jv_iter(c, in, line);
        return l->n ? l->v[l->n - 1] : jv_undef("No last item, sequence was empty.");
    }
    case F_LIST: {
        BIND0();
        jlist *l = jv_iter(c, in, line);
        jv r = jv_list_n(c, l->n);
        if (l->n) memcpy(r.u.l->v, l->v, l->n * sizeof(jv));
        return r;
    }
    case F_LOWER: BIND0(); return js_case(c, soft_str(c, in, line), JS_LOWER);
    case F_UPPER: BIND0(); return js_case(c, soft_str(c, in, line), JS_UPPER);
    case F_ITEMS:
        BIND0();
        if (in.t == JV_UNDEF) return gen(jv_list_n(c, 0));
        if (in.t != JV_DICT) jj_fail(c, line, FR_ERR_FORMAT, "Can only get item pairs from a mapping.");
        return gen(jj_dict_items(c, in.u.m));
    case F_MAP: return map_f(c, in, a, line);
    case F_MIN:
    case F_MAX: BIND("case_sensitive", "attribute"); return min_max(c, in, p[0], p[1], id == F_MAX, line);
    case F_SELECT: return select_reject(c, in, a, false, true, line);
    case F_REJECT: return select_reject(c, in, a, false, false, line);
    case F_SELECTATTR: return select_reject(c, in, a, true, true, line);
    case F_REJECTATTR: return select_reject(c, in, a, true, false, line);
    case F_REPLACE: {
        BIND("old", "new", "count");
        if (!jj_has(p[0]) || !jj_has(p[1])) jj_fail(c, line, FR_ERR_FORMAT, "replace: missing arguments");
        int64_t cnt = jj_has(p[2]) && p[2].t != JV_NONE ? as_int(c, p[2], "replace", line) : -1;
        return js_replace(c, soft_str(c, in, line), soft_str(c, p[0], line), soft_str(c, p[1], line), cnt);
    }
    case F_REVERSE: {
        BIND0();
        if (in.t == JV_STR) return js_slice(c, in, false, 0, false, 0, -1, line);
        bool was_gen = in.t == JV_LIST && (in.f & JF_GEN);
        jlist *l = jv_iter(c, in, line);
        jv r = jv_list_n(c, l->n);
        for (size_t i = 0; i < l->n; i++) r.u.l->v[i] = l->v[l->n - 1 - i];
        return was_gen ? r : gen(r);
    }
    case F_ROUND: BIND("precision", "method"); return round_f(c, in, p[0], p[1], line);
    case F_SAFE: BIND0(); return jv_to_str(c, in, line);
    case F_SORT: {
        BIND("reverse", "case_sensitive", "attribute");
        jlist *l = jv_iter(c, in, line);
        size_t n = l->n;
        jv r = jv_list_n(c, n);
        if (n) memcpy(r.u.l->v, l->v, n * sizeof(jv));
        bool sens = jj_has(p[1]) && jv_truthy(c, p[1]);
        jv *keys = jj_alloc(c, (n ? n : 1) * sizeof(jv));
        jv attrs = jv_none();
        if (jj_has(p[2]) && p[2].t != JV_NONE)
            attrs = p[2].t == JV_STR ? js_split(c, p[2].u.s, jv_str(c, ",", 1), -1, false, line) : p[2];
        for (size_t i = 0; i < n; i++) {
            jv k;
            if (attrs.t == JV_LIST) {
                k = jv_list_n(c, attrs.u.l->n);
                for (size_t j = 0; j < attrs.u.l->n; j++) {
                    jv x = attr_get(c, r.u.l->v[i], attrs.u.l->v[j], line);
                    k.u.l->v[j] = sens ? x : lower_if_str(c, x);
                }
            } else {
                jv x = attrs.t == JV_NONE ? r.u.l->v[i] : attr_get(c, r.u.l->v[i], attrs, line);
                k = jv_list_n(c, 1);
                k.u.l->v[0] = sens ? x : lower_if_str(c, x);
            }
            keys[i] = k;
        }
        sort_by(c, r.u.l->v, keys, n, jj_has(p[0]) && jv_truthy(c, p[0]), line);
        return r;
    }
    case F_STRING: BIND0(); return jv_to_str(c, in, line);
    case F_SUM: {
        BIND("attribute", "start");
        jv acc = jj_has(p[1]) ? p[1] : jv_int(0);
        jlist *l = jv_iter(c, in, line);
        for (size_t i = 0; i < l->n; i++) {
            jv x = jj_has(p[0]) && p[0].t != JV_NONE ? attr_get(c, l->v[i], p[0], line) : l->v[i];
            acc = jj_arith(c, OP_ADD, acc, x, line);
        }
        return acc;
    }
    case F_TITLE: BIND0(); return jtitle(c, soft_str(c, in, line));
    case F_TRIM: BIND("chars"); return js_strip(c, soft_str(c, in, line), jj_has(p[0]) ? p[0] : jv_none(), 3, line);
    case F_TRUNCATE: {
        BIND("length", "killwords", "end", "leeway");
        if (in.t == JV_UNDEF) return in;
        if (in.t != JV_STR) jj_fail(c, line, FR_ERR_FORMAT, "object of type '%s' has no len()", jv_type_name(in));
        int64_t len = jj_has(p[0]) ? as_int(c, p[0], "truncate", line) : 255;
        jstr *end = jj_has(p[2]) ? soft_str(c, p[2], line) : jv_cstr(c, "...").u.s;
        int64_t leeway = jj_has(p[3]) && p[3].t != JV_NONE ? as_int(c, p[3], "truncate", line) : 5;
        int64_t endn = js_ncp(end);
        if (len < endn) jj_fail(c, line, FR_ERR_FORMAT, "expected length >= %lld, got %lld", (long long)endn, (long long)len);
        if (leeway < 0) jj_fail(c, line, FR_ERR_FORMAT, "expected leeway >= 0, got %lld", (long long)leeway);
        if (js_ncp(in.u.s) <= len + leeway) return in;
        jv head = js_slice(c, in, false, 0, true, len - endn, 1, line);
        if (!(jj_has(p[1]) && jv_truthy(c, p[1]))) {
            jv parts = js_split(c, head.u.s, jv_str(c, " ", 1), 1, true, line);
            head = parts.u.l->v[0];
        }
        return jj_arith(c, OP_ADD, head, jv_strobj(end), line);
    }
    case F_UNIQUE: {
        BIND("case_sensitive", "attribute");
        bool sens = jj_has(p[0]) && jv_truthy(c, p[0]);
        jlist *l = jv_iter(c, in, line);
        jlb out = {0}, seen = {0};
        for (size_t i = 0; i < l->n; i++) {
            jv k = jj_has(p[1]) && p[1].t != JV_NONE ? attr_get(c, l->v[i], p[1], line) : l->v[i];
            if (!sens) k = lower_if_str(c, k);
            bool dup = false;
            for (size_t j = 0; j < seen.n && !dup; j++) dup = jv_eq(c, seen.v[j], k);
            if (dup) continue;
            jlb_push(c, &seen, k);
            jlb_push(c, &out, l->v[i]);
        }
        return gen(jlb_done(c, &out, 0));
    }
    case F_WORDCOUNT: {
        BIND0();
        jstr *s = soft_str(c, in, line);
        int64_t n = 0;
        bool inw = false;
        size_t i = 0;
        while (i < s->n) {
            uint32_t cp = utf8_next(s->s, s->n, &i);
            bool w = cp == '_' || uni_isalpha(cp) || uni_isdecimal(cp) || uni_isdigit(cp) || uni_isnumeric(cp);
            if (w && !inw) n++;
            inw = w;
        }
        return jv_int(n);
    }
    case F_TOJSON: BIND("ensure_ascii", "indent", "separators", "sort_keys"); return tojson_f(c, in, p[0], p[1], p[2], p[3], line);
    }
#undef BIND
#undef BIND0
    jj_fail(c, line, FR_ERR_UNSUPPORTED, "filter %d", id);
}

/* ---- tests ---- */
bool jj_call_test(jj_ctx *c, int id, jv v, const jargs *a, int line) {
    jv p[2];
    if (id < 0) jj_fail(c, line, FR_ERR_FORMAT, "No test named this way.");
    static const char *const one[] = {"other"};
    if (id == T_DEFINED || id == T_UNDEFINED || id == T_NONE || id == T_BOOLEAN || id == T_FALSE || id == T_TRUE ||
        id == T_INTEGER || id == T_FLOAT || id == T_NUMBER || id == T_STRING || id == T_MAPPING || id == T_ITERABLE ||
        id == T_SEQUENCE || id == T_CALLABLE || id == T_ESCAPED || id == T_LOWER || id == T_UPPER || id == T_FILTER ||
        id == T_TEST)
        jj_bind(c, "test", a, NULL, 0, p, line);
    switch (id) {
    case T_DEFINED: return v.t != JV_UNDEF;
    case T_UNDEFINED: return v.t == JV_UNDEF;
    case T_NONE: return v.t == JV_NONE;
    case T_BOOLEAN: return v.t == JV_BOOL;
    case T_FALSE: return v.t == JV_BOOL && !v.u.b;
    case T_TRUE: return v.t == JV_BOOL && v.u.b;
    case T_INTEGER: return v.t == JV_INT;
    case T_FLOAT: return v.t == JV_FLOAT;
    case T_NUMBER: return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL;
    case T_STRING: return v.t == JV_STR;
    case T_MAPPING: return v.t == JV_DICT;
    case T_ITERABLE: return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF || v.t == JV_LOOP;
    case T_SEQUENCE:
        return v.t == JV_STR || v.t == JV_DICT || v.t == JV_UNDEF || (v.t == JV_LIST && !(v.f & (JF_GEN | JF_VIEW)));
    case T_CALLABLE: return v.t == JV_FUNC || v.t == JV_MACRO || v.t == JV_UNDEF || v.t == JV_LOOP;
    case T_ESCAPED: return false;
    case T_LOWER:
    case T_UPPER: return js_is_case(soft_str(c, v, line), id == T_UPPER);
    case T_FILTER:
    case T_TEST:
        if (v.t != JV_STR) return false;
        return id == T_FILTER ? jj_filter_id(v.u.s->s) >= 0 : jj_test_id(v.u.s->s) >= 0;
    case T_ODD:
    case T_EVEN:
        jj_bind(c, "test", a, NULL, 0, p, line);
        return jv_eq(c, jj_arith(c, OP_MOD, v, jv_int(2), line), jv_int(id == T_ODD ? 1 : 0));
    default: break;
    }
    jj_bind(c, "test", a, one, 1, p, line);
    if (!jj_has(p[0])) jj_fail(c, line, FR_ERR_FORMAT, "test is missing its argument");
    jv o = p[0];
    switch (id) {
    case T_DIVISIBLEBY: return jv_eq(c, jj_arith(c, OP_MOD, v, o, line), jv_int(0));
    case T_SAMEAS:
        if (v.t != o.t) return false;
        switch (v.t) {
        case JV_NONE: return true;
        case JV_BOOL: return v.u.b == o.u.b;
        case JV_INT: return v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256;
        case JV_STR: /* identity of equal strings depends on CPython's interning: take equality */
            return v.u.s->n == o.u.s->n && !memcmp(v.u.s->s, o.u.s->s, v.u.s->n);
        case JV_LIST: return v.u.l == o.u.l;
        case JV_DICT:
        case JV_NS: return v.u.m == o.u.m;
        default: return false;
        }
    case T_IN: return jj_compare(c, OP_IN, v, o, line);
    case T_EQ: return jj_compare(c, OP_EQ, v, o, line);
    case T_NE: return jj_compare(c, OP_NE, v, o, line);
    case T_GT: return jj_compare(c, OP_GT, v, o, line);
    case T_GE: return jj_compare(c, OP_GTEQ, v, o, line);
    case T_LT: return jj_compare(c, OP_LT, v, o, line);
    case T_LE: return jj_compare(c, OP_LTEQ, v, o, line);
    }
    jj_fail(c, line, FR_ERR_UNSUPPORTED, "test %d", id);
}

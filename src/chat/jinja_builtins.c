/* jinja_builtins.c: the globals (range, dict, namespace, raise_exception, strftime_now) and
 * the methods of str, dict and list that templates call, with Python's semantics. Methods
 * that would mutate a value are unsafe in the immutable sandbox; Python methods outside the
 * subset fail as unsupported rather than behave differently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja_int.h"
#include "chat/jinja_str.h"
#include "chat/jinja_unicode.h"

enum {
    JB_RANGE = 1, JB_DICT, JB_NAMESPACE, JB_RAISE, JB_STRFTIME, JB_UNSUPPORTED_GLOBAL,
    /* str */
    JB_S_STARTSWITH, JB_S_ENDSWITH, JB_S_STRIP, JB_S_LSTRIP, JB_S_RSTRIP, JB_S_SPLIT, JB_S_RSPLIT, JB_S_LOWER,
    JB_S_UPPER, JB_S_TITLE, JB_S_CAPITALIZE, JB_S_REPLACE, JB_S_FIND, JB_S_RFIND, JB_S_INDEX, JB_S_COUNT,
    JB_S_JOIN, JB_S_SPLITLINES, JB_S_ISDIGIT, JB_S_ISALPHA, JB_S_ISSPACE, JB_S_ISALNUM, JB_S_ISLOWER,
    JB_S_ISUPPER, JB_S_ZFILL, JB_S_CENTER, JB_S_LJUST, JB_S_RJUST, JB_S_PARTITION, JB_S_RPARTITION,
    JB_S_REMOVEPREFIX, JB_S_REMOVESUFFIX,
    /* dict */
    JB_D_ITEMS, JB_D_KEYS, JB_D_VALUES, JB_D_GET, JB_D_COPY,
    /* list */
    JB_L_COUNT, JB_L_INDEX, JB_L_COPY,
};

static const struct {
    const char *name;
    int id;
} k_str_methods[] = {
    {"startswith", JB_S_STARTSWITH}, {"endswith", JB_S_ENDSWITH}, {"strip", JB_S_STRIP}, {"lstrip", JB_S_LSTRIP},
    {"rstrip", JB_S_RSTRIP}, {"split", JB_S_SPLIT}, {"rsplit", JB_S_RSPLIT}, {"lower", JB_S_LOWER},
    {"upper", JB_S_UPPER}, {"title", JB_S_TITLE}, {"capitalize", JB_S_CAPITALIZE}, {"replace", JB_S_REPLACE},
    {"find", JB_S_FIND}, {"rfind", JB_S_RFIND}, {"index", JB_S_INDEX}, {"count", JB_S_COUNT}, {"join", JB_S_JOIN},
    {"splitlines", JB_S_SPLITLINES}, {"isdigit", JB_S_ISDIGIT}, {"isalpha", JB_S_ISALPHA},
    {"isspace", JB_S_ISSPACE}, {"isalnum", JB_S_ISALNUM}, {"islower", JB_S_ISLOWER}, {"isupper", JB_S_ISUPPER},
    {"zfill", JB_S_ZFILL}, {"center", JB_S_CENTER}, {"ljust", JB_S_LJUST}, {"rjust", JB_S_RJUST},
    {"partition", JB_S_PARTITION}, {"rpartition", JB_S_RPARTITION}, {"removeprefix", JB_S_REMOVEPREFIX},
    {"removesuffix", JB_S_REMOVESUFFIX},
};
static const char *const k_str_unsupported[] = {"casefold", "encode", "expandtabs", "format", "format_map", "isascii",
                                                "isdecimal", "isidentifier", "isnumeric", "isprintable", "istitle",
                                                "maketrans", "rindex", "swapcase", "translate"};
static const char *const k_dict_unsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};
static const char *const k_list_unsafe[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};

static jv unsafe(jj_ctx *c, const char *attr, const char *type) {
    char tmp[160];
    snprintf(tmp, sizeof tmp, "attribute '%s' of '%s' object", attr, type);
    jv u = jv_undef(jj_strndup(c, tmp, strlen(tmp)));
    u.f = JF_UNSAFE;
    return u;
}

bool jj_method(jj_ctx *c, jv obj, const char *name, jv *out, int line) {
    if (obj.t == JV_STR) {
        for (size_t i = 0; i < FR_ARRAY_LEN(k_str_methods); i++)
            if (!strcmp(name, k_str_methods[i].name)) {
                *out = jv_func(c, k_str_methods[i].id, obj, k_str_methods[i].name);
                return true;
            }
        for (size_t i = 0; i < FR_ARRAY_LEN(k_str_unsupported); i++)
            if (!strcmp(name, k_str_unsupported[i]))
                jj_fail(c, line, FR_ERR_UNSUPPORTED, "the str method '%s'", name);
    } else if (obj.t == JV_DICT) {
        static const struct {
            const char *n;
            int id;
        } m[] = {{"items", JB_D_ITEMS}, {"keys", JB_D_KEYS}, {"values", JB_D_VALUES}, {"get", JB_D_GET}, {"copy", JB_D_COPY}};
        for (size_t i = 0; i < FR_ARRAY_LEN(m); i++)
            if (!strcmp(name, m[i].n)) {
                *out = jv_func(c, m[i].id, obj, m[i].n);
                return true;
            }
        for (size_t i = 0; i < FR_ARRAY_LEN(k_dict_unsafe); i++)
            if (!strcmp(name, k_dict_unsafe[i])) {
                *out = unsafe(c, name, "dict");
                return true;
            }
        if (!strcmp(name, "fromkeys")) jj_fail(c, line, FR_ERR_UNSUPPORTED, "dict.fromkeys");
    } else if (obj.t == JV_LIST && !(obj.f & (JF_GEN | JF_VIEW | JF_RANGE))) {
        bool tuple = obj.f & JF_TUPLE;
        if (!strcmp(name, "count") || !strcmp(name, "index") || (!tuple && !strcmp(name, "copy"))) {
            *out = jv_func(c, name[0] == 'c' ? (name[1] == 'o' && name[2] == 'u' ? JB_L_COUNT : JB_L_COPY) : JB_L_INDEX,
                           obj, name);
            return true;
        }
        if (!tuple)
            for (size_t i = 0; i < FR_ARRAY_LEN(k_list_unsafe); i++)
                if (!strcmp(name, k_list_unsafe[i])) {
                    *out = unsafe(c, name, "list");
                    return true;
                }
    }
    return false;
}

/* ---- argument binding ---- */
bool jj_has(jv v) { return !(v.t == JV_UNDEF && (v.f & JF_MISSING)); }

void jj_bind(jj_ctx *c, const char *fname, const jargs *a, const char *const *params, size_t np, jv *out, int line) {
    for (size_t i = 0; i < np; i++) out[i] = (jv){.t = JV_UNDEF, .f = JF_MISSING};
    if (a->npos > np)
        jj_fail(c, line, FR_ERR_FORMAT, "%s() takes at most %zu argument%s (%zu given)", fname, np, np == 1 ? "" : "s",
                a->npos);
    for (size_t i = 0; i < a->npos; i++) out[i] = a->pos[i];
    for (size_t k = 0; k < a->nkw; k++) {
        size_t i;
        for (i = 0; i < np; i++)
            if (!strcmp(params[i], a->kwn[k])) break;
        if (i == np) jj_fail(c, line, FR_ERR_FORMAT, "%s() got an unexpected keyword argument '%s'", fname, a->kwn[k]);
        if (jj_has(out[i])) jj_fail(c, line, FR_ERR_FORMAT, "%s() got multiple values for argument '%s'", fname, a->kwn[k]);
        out[i] = a->kwv[k];
    }
}

static void need(jj_ctx *c, const char *fname, jv v, const char *param, int line) {
    if (!jj_has(v)) jj_fail(c, line, FR_ERR_FORMAT, "%s() missing required argument: '%s'", fname, param);
}

static int64_t want_int(jj_ctx *c, jv v, const char *what, int line) {
    if (v.t == JV_INT) return v.u.i;
    if (v.t == JV_BOOL) return v.u.b;
    if (v.t == JV_UNDEF) jj_fail_undef(c, v, line);
    jj_fail(c, line, FR_ERR_FORMAT, "%s: '%s' object cannot be interpreted as an integer", what, jv_type_name(v));
}

static jstr *want_str(jj_ctx *c, jv v, const char *what, int line) {
    if (v.t == JV_STR) return v.u.s;
    if (v.t == JV_UNDEF) jj_fail_undef(c, v, line);
    jj_fail(c, line, FR_ERR_FORMAT, "%s: must be str, not %s", what, jv_type_name(v));
}

/* ---- globals ---- */
void jj_globals(jj_ctx *c, jdict *g) {
    static const struct {
        const char *n;
        int id;
    } k[] = {{"range", JB_RANGE}, {"dict", JB_DICT}, {"namespace", JB_NAMESPACE}, {"raise_exception", JB_RAISE},
             {"strftime_now", JB_STRFTIME}, {"lipsum", JB_UNSUPPORTED_GLOBAL}, {"cycler", JB_UNSUPPORTED_GLOBAL},
             {"joiner", JB_UNSUPPORTED_GLOBAL}};
    for (size_t i = 0; i < FR_ARRAY_LEN(k); i++) jd_set(c, g, jv_cstr(c, k[i].n), jv_func(c, k[i].id, jv_none(), k[i].n));
}

static jv do_strftime(jj_ctx *c, jstr *fmt, int line) {
    /* Python formats %f, %z and %Z itself: a naive datetime has no zone, and our times have
     * no microseconds */
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    size_t i = 0;
    while (i < fmt->n) {
        size_t j = i;
        while (j < fmt->n && fmt->s[j] != '%') j++;
        if (j > i) jbuf_put(c, &b, fmt->s + i, j - i);
        if (j >= fmt->n) break;
        if (j + 1 >= fmt->n) {
            jbuf_putc(c, &b, '%');
            break;
        }
        char k = fmt->s[j + 1];
        if (k == 'f') jbuf_puts(c, &b, "000000");
        else if (k == 'z' || k == 'Z') {
        } else {
            char spec[4] = {'%', k, 0, 0}, out[256];
            if (k == 'E' || k == 'O' || k == '-') {
                if (j + 2 >= fmt->n) jj_fail(c, line, FR_ERR_FORMAT, "strftime_now: bad format");
                spec[2] = fmt->s[j + 2];
                j++;
            }
            size_t n = strftime(out, sizeof out, spec, &c->now);
            jbuf_put(c, &b, out, n);
        }
        i = j + 2;
    }
    return jbuf_to_str(c, &b);
}

static jv make_range(jj_ctx *c, const jargs *a, int line) {
    if (a->nkw) jj_fail(c, line, FR_ERR_FORMAT, "range() takes no keyword arguments");
    if (a->npos < 1 || a->npos > 3) jj_fail(c, line, FR_ERR_FORMAT, "range expected 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a->npos == 1) stop = want_int(c, a->pos[0], "range", line);
    else {
        start = want_int(c, a->pos[0], "range", line);
        stop = want_int(c, a->pos[1], "range", line);
        if (a->npos == 3) step = want_int(c, a->pos[2], "range", line);
    }
    if (step == 0) jj_fail(c, line, FR_ERR_FORMAT, "range() arg 3 must not be zero");
    double cnt = 0;
    if (step > 0 && stop > start) cnt = ((double)stop - (double)start + (double)step - 1) / (double)step;
    if (step < 0 && start > stop) cnt = ((double)start - (double)stop - (double)step - 1) / (double)-step;
    if (cnt > 100000)
        jj_fail(c, line, FR_ERR_RANGE, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    jv r = jv_list_n(c, (size_t)cnt);
    for (size_t i = 0; i < r.u.l->n; i++) r.u.l->v[i] = jv_int(start + (int64_t)i * step);
    r.f = JF_RANGE;
    return r;
}

static void dict_update(jj_ctx *c, jdict *d, jv src, int line) {
    if (src.t == JV_DICT || src.t == JV_NS) {
        for (size_t i = 0; i < src.u.m->n; i++) jd_set(c, d, src.u.m->k[i], src.u.m->v[i]);
        return;
    }
    jlist *l = jv_iter(c, src, line);
    for (size_t i = 0; i < l->n; i++) {
        jlist *p = jv_iter(c, l->v[i], line);
        if (p->n != 2) jj_fail(c, line, FR_ERR_FORMAT, "dictionary update sequence element has length %zu; 2 is required", p->n);
        jd_set(c, d, p->v[0], p->v[1]);
    }
}

static jv str_index(jj_ctx *c, jstr *s, jv sub, jv start, jv end, bool rev, int line) {
    jstr *t = want_str(c, sub, "find", line);
    int64_t n = js_ncp(s);
    int64_t a = jj_has(start) && start.t != JV_NONE ? want_int(c, start, "find", line) : 0;
    int64_t e = jj_has(end) && end.t != JV_NONE ? want_int(c, end, "find", line) : n;
    if (a < 0) a = a + n < 0 ? 0 : a + n;
    if (e < 0) e = e + n < 0 ? 0 : e + n;
    if (e > n) e = n;
    if (a > n || a > e) return jv_int(-1);
    size_t bo = js_cp_off(s, a), eo = js_cp_off(s, e);
    const char *hay = s->s + bo;
    size_t hn = eo - bo;
    const char *hit = NULL;
    if (!rev) hit = t->n ? memmem(hay, hn, t->s, t->n) : hay;
    else if (t->n <= hn) {
        for (size_t k = hn - t->n + 1; k-- > 0;)
            if (!memcmp(hay + k, t->s, t->n)) {
                hit = hay + k;
                break;
            }
    }
    if (!hit) return jv_int(-1);
    /* byte offset to code points */
    int64_t cp = a;
    for (const char *p = hay; p < hit; p++) cp += ((unsigned char)*p & 0xC0) != 0x80;
    return jv_int(cp);
}

static bool affix(jj_ctx *c, jstr *s, jv arg, jv start, jv end, bool suffix, int line) {
    jv sub = jv_strobj(s);
    if (jj_has(start) || jj_has(end)) {
        int64_t n = js_ncp(s);
        bool hs = jj_has(start) && start.t != JV_NONE, he = jj_has(end) && end.t != JV_NONE;
        int64_t a = hs ? want_int(c, start, "startswith", line) : 0, e = he ? want_int(c, end, "startswith", line) : n;
        int64_t aa = a < 0 ? (a + n < 0 ? 0 : a + n) : a;
        if (aa > n) return false;
        sub = js_slice(c, sub, hs, a, he, e, 1, line);
    }
    const jstr *h = sub.u.s;
    jlist one = {1, &arg};
    const jlist *opts = &one;
    if (arg.t == JV_LIST && (arg.f & JF_TUPLE)) opts = arg.u.l;
    for (size_t i = 0; i < opts->n; i++) {
        if (opts->v[i].t != JV_STR)
            jj_fail(c, line, FR_ERR_FORMAT, "%s first arg must be str or a tuple of str, not %s",
                    suffix ? "endswith" : "startswith", jv_type_name(opts->v[i]));
        const jstr *p = opts->v[i].u.s;
        if (p->n <= h->n && !memcmp(suffix ? h->s + h->n - p->n : h->s, p->s, p->n)) return true;
    }
    return false;
}

static jv pad(jj_ctx *c, jstr *s, int64_t width, jv fill, int mode, int line) {
    uint32_t fc = ' ';
    if (jj_has(fill)) {
        jstr *f = want_str(c, fill, "center", line);
        if (js_ncp(f) != 1) jj_fail(c, line, FR_ERR_FORMAT, "The fill character must be exactly one character long");
        size_t k = 0;
        fc = utf8_next(f->s, f->n, &k);
    }
    int64_t n = js_ncp(s);
    if (width <= n) return jv_strobj(s);
    int64_t marg = width - n, left = mode == 0 ? marg / 2 + (marg & width & 1) : mode == 1 ? 0 : marg;
    if (width > 100000000) jj_fail(c, line, FR_ERR_RANGE, "string too long");
    char e[4];
    size_t el = utf8_put(e, fc);
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    for (int64_t i = 0; i < left; i++) jbuf_put(c, &b, e, el);
    jbuf_put(c, &b, s->s, s->n);
    for (int64_t i = left; i < marg; i++) jbuf_put(c, &b, e, el);
    return jbuf_to_str(c, &b);
}

static jv partition(jj_ctx *c, jstr *s, jv sepv, bool rev, int line) {
    jstr *sep = want_str(c, sepv, "partition", line);
    if (!sep->n) jj_fail(c, line, FR_ERR_FORMAT, "empty separator");
    const char *hit = NULL;
    if (!rev) hit = memmem(s->s, s->n, sep->s, sep->n);
    else if (sep->n <= s->n)
        for (size_t k = s->n - sep->n + 1; k-- > 0;)
            if (!memcmp(s->s + k, sep->s, sep->n)) {
                hit = s->s + k;
                break;
            }
    jv r = jv_list_n(c, 3);
    r.f = JF_TUPLE;
    jv empty = jv_str(c, "", 0);
    if (!hit) {
        r.u.l->v[0] = rev ? empty : jv_strobj(s);
        r.u.l->v[1] = empty;
        r.u.l->v[2] = rev ? jv_strobj(s) : empty;
        return r;
    }
    size_t off = (size_t)(hit - s->s);
    r.u.l->v[0] = jv_str(c, s->s, off);
    r.u.l->v[1] = jv_strobj(sep);
    r.u.l->v[2] = jv_str(c, hit + sep->n, s->n - off - sep->n);
    return r;
}

static jv str_pred(jj_ctx *c, jstr *s, int id) {
    (void)c;
    if (id == JB_S_ISLOWER || id == JB_S_ISUPPER) return jv_bool(js_is_case(s, id == JB_S_ISUPPER));
    if (!s->n) return jv_bool(false);
    size_t i = 0;
    while (i < s->n) {
        uint32_t cp = utf8_next(s->s, s->n, &i);
        bool ok;
        switch (id) {
        case JB_S_ISDIGIT: ok = uni_isdigit(cp); break;
        case JB_S_ISALPHA: ok = uni_isalpha(cp); break;
        case JB_S_ISSPACE: ok = py_isspace(cp); break;
        default: ok = uni_isalpha(cp) || uni_isdecimal(cp) || uni_isdigit(cp) || uni_isnumeric(cp); break;
        }
        if (!ok) return jv_bool(false);
    }
    return jv_bool(true);
}

static jv str_method(jj_ctx *c, const jfunc *fn, const jargs *a, int line) {
    jstr *s = fn->self.u.s;
    jv p[4];
    switch (fn->id) {
    case JB_S_STARTSWITH:
    case JB_S_ENDSWITH: {
        static const char *const ps[] = {"prefix", "start", "end"};
        jj_bind(c, fn->name, a, ps, 3, p, line);
        need(c, fn->name, p[0], "prefix", line);
        return jv_bool(affix(c, s, p[0], p[1], p[2], fn->id == JB_S_ENDSWITH, line));
    }
    case JB_S_STRIP:
    case JB_S_LSTRIP:
    case JB_S_RSTRIP: {
        static const char *const ps[] = {"chars"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        return js_strip(c, s, jj_has(p[0]) ? p[0] : jv_none(),
                        fn->id == JB_S_STRIP ? 3 : fn->id == JB_S_LSTRIP ? 1 : 2, line);
    }
    case JB_S_SPLIT:
    case JB_S_RSPLIT: {
        static const char *const ps[] = {"sep", "maxsplit"};
        jj_bind(c, fn->name, a, ps, 2, p, line);
        int64_t maxs = jj_has(p[1]) ? want_int(c, p[1], fn->name, line) : -1;
        return js_split(c, s, jj_has(p[0]) ? p[0] : jv_none(), maxs, fn->id == JB_S_RSPLIT, line);
    }
    case JB_S_LOWER:
    case JB_S_UPPER:
    case JB_S_TITLE:
    case JB_S_CAPITALIZE:
        jj_bind(c, fn->name, a, NULL, 0, p, line);
        return js_case(c, s, fn->id == JB_S_LOWER ? JS_LOWER : fn->id == JB_S_UPPER ? JS_UPPER
                                                      : fn->id == JB_S_TITLE ? JS_TITLE : JS_CAPITALIZE);
    case JB_S_REPLACE: {
        static const char *const ps[] = {"old", "new", "count"};
        jj_bind(c, fn->name, a, ps, 3, p, line);
        need(c, fn->name, p[0], "old", line);
        need(c, fn->name, p[1], "new", line);
        return js_replace(c, s, want_str(c, p[0], "replace", line), want_str(c, p[1], "replace", line),
                          jj_has(p[2]) ? want_int(c, p[2], "replace", line) : -1);
    }
    case JB_S_FIND:
    case JB_S_RFIND:
    case JB_S_INDEX: {
        static const char *const ps[] = {"sub", "start", "end"};
        jj_bind(c, fn->name, a, ps, 3, p, line);
        need(c, fn->name, p[0], "sub", line);
        jv r = str_index(c, s, p[0], p[1], p[2], fn->id == JB_S_RFIND, line);
        if (fn->id == JB_S_INDEX && r.u.i < 0) jj_fail(c, line, FR_ERR_FORMAT, "substring not found");
        return r;
    }
    case JB_S_COUNT: {
        static const char *const ps[] = {"sub"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "sub", line);
        jstr *t = want_str(c, p[0], "count", line);
        if (!t->n) return jv_int(js_ncp(s) + 1);
        int64_t k = 0;
        const char *q = s->s, *e = s->s + s->n;
        while ((q = memmem(q, (size_t)(e - q), t->s, t->n)) != NULL) {
            k++;
            q += t->n;
        }
        return jv_int(k);
    }
    case JB_S_JOIN: {
        static const char *const ps[] = {"iterable"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "iterable", line);
        jlist *l = jv_iter(c, p[0], line);
        jbuf b;
        jbuf_open(c, &b, c->max_output);
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i].t != JV_STR)
                jj_fail(c, line, FR_ERR_FORMAT, "sequence item %zu: expected str instance, %s found", i, jv_type_name(l->v[i]));
            if (i) jbuf_put(c, &b, s->s, s->n);
            jbuf_put(c, &b, l->v[i].u.s->s, l->v[i].u.s->n);
        }
        return jbuf_to_str(c, &b);
    }
    case JB_S_SPLITLINES: {
        static const char *const ps[] = {"keepends"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        return js_splitlines(c, s, jj_has(p[0]) && jv_truthy(c, p[0]));
    }
    case JB_S_ISDIGIT:
    case JB_S_ISALPHA:
    case JB_S_ISSPACE:
    case JB_S_ISALNUM:
    case JB_S_ISLOWER:
    case JB_S_ISUPPER:
        jj_bind(c, fn->name, a, NULL, 0, p, line);
        return str_pred(c, s, fn->id);
    case JB_S_ZFILL: {
        static const char *const ps[] = {"width"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "width", line);
        int64_t w = want_int(c, p[0], "zfill", line), n = js_ncp(s);
        if (w <= n) return jv_strobj(s);
        if (w > 100000000) jj_fail(c, line, FR_ERR_RANGE, "string too long");
        jbuf b;
        jbuf_open(c, &b, c->max_output);
        size_t k = 0;
        if (s->n && (s->s[0] == '+' || s->s[0] == '-')) jbuf_putc(c, &b, s->s[k++]);
        for (int64_t i = 0; i < w - n; i++) jbuf_putc(c, &b, '0');
        jbuf_put(c, &b, s->s + k, s->n - k);
        return jbuf_to_str(c, &b);
    }
    case JB_S_CENTER:
    case JB_S_LJUST:
    case JB_S_RJUST: {
        static const char *const ps[] = {"width", "fillchar"};
        jj_bind(c, fn->name, a, ps, 2, p, line);
        need(c, fn->name, p[0], "width", line);
        return pad(c, s, want_int(c, p[0], fn->name, line), p[1],
                   fn->id == JB_S_CENTER ? 0 : fn->id == JB_S_LJUST ? 1 : 2, line);
    }
    case JB_S_PARTITION:
    case JB_S_RPARTITION: {
        static const char *const ps[] = {"sep"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "sep", line);
        return partition(c, s, p[0], fn->id == JB_S_RPARTITION, line);
    }
    case JB_S_REMOVEPREFIX:
    case JB_S_REMOVESUFFIX: {
        static const char *const ps[] = {"affix"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "affix", line);
        jstr *t = want_str(c, p[0], fn->name, line);
        if (t->n > s->n) return jv_strobj(s);
        if (fn->id == JB_S_REMOVEPREFIX)
            return memcmp(s->s, t->s, t->n) ? jv_strobj(s) : jv_str(c, s->s + t->n, s->n - t->n);
        return memcmp(s->s + s->n - t->n, t->s, t->n) ? jv_strobj(s) : jv_str(c, s->s, s->n - t->n);
    }
    }
    jj_fail(c, line, FR_ERR_UNSUPPORTED, "str.%s", fn->name);
}

static jv view(jj_ctx *c, const jdict *d, int kind) {
    jv r = jv_list_n(c, d->n);
    for (size_t i = 0; i < d->n; i++) {
        if (kind == JF_VIEW_KEYS) r.u.l->v[i] = d->k[i];
        else if (kind == JF_VIEW_VALUES) r.u.l->v[i] = d->v[i];
        else {
            jv t = jv_list_n(c, 2);
            t.f = JF_TUPLE;
            t.u.l->v[0] = d->k[i];
            t.u.l->v[1] = d->v[i];
            r.u.l->v[i] = t;
        }
    }
    r.f = (uint8_t)kind;
    return r;
}

jv jj_dict_items(jj_ctx *c, const jdict *d) { return view(c, d, JF_VIEW_ITEMS); }

jv jj_call_builtin(jj_ctx *c, const jfunc *fn, const jargs *a, int line) {
    jv p[4];
    switch (fn->id) {
    case JB_RANGE: return make_range(c, a, line);
    case JB_DICT:
    case JB_NAMESPACE: {
        if (a->npos > 1) jj_fail(c, line, FR_ERR_FORMAT, "%s expected at most 1 argument, got %zu", fn->name, a->npos);
        jv d = jv_dict(c);
        if (a->npos) dict_update(c, d.u.m, a->pos[0], line);
        for (size_t i = 0; i < a->nkw; i++) jd_set(c, d.u.m, jv_cstr(c, a->kwn[i]), a->kwv[i]);
        if (fn->id == JB_NAMESPACE) d.t = JV_NS;
        return d;
    }
    case JB_RAISE: {
        static const char *const ps[] = {"message"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "message", line);
        jv m = jv_to_str(c, p[0], line);
        jj_fail(c, line, FR_ERR_FORMAT, "%s", m.u.s->s);
    }
    case JB_STRFTIME: {
        static const char *const ps[] = {"format"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "format", line);
        return do_strftime(c, want_str(c, p[0], "strftime_now", line), line);
    }
    case JB_UNSUPPORTED_GLOBAL: jj_fail(c, line, FR_ERR_UNSUPPORTED, "the global '%s'", fn->name);
    case JB_D_ITEMS:
    case JB_D_KEYS:
    case JB_D_VALUES:
        jj_bind(c, fn->name, a, NULL, 0, p, line);
        return view(c, fn->self.u.m, fn->id == JB_D_ITEMS ? JF_VIEW_ITEMS : fn->id == JB_D_KEYS ? JF_VIEW_KEYS : JF_VIEW_VALUES);
    case JB_D_GET: {
        static const char *const ps[] = {"key", "default"};
        jj_bind(c, fn->name, a, ps, 2, p, line);
        need(c, fn->name, p[0], "key", line);
        jv r;
        if (jd_get(c, fn->self.u.m, p[0], &r)) return r;
        return jj_has(p[1]) ? p[1] : jv_none();
    }
    case JB_D_COPY:
        jj_bind(c, fn->name, a, NULL, 0, p, line);
        return (jv){.t = JV_DICT, .u.m = jd_copy(c, fn->self.u.m)};
    case JB_L_COUNT:
    case JB_L_INDEX: {
        static const char *const ps[] = {"value"};
        jj_bind(c, fn->name, a, ps, 1, p, line);
        need(c, fn->name, p[0], "value", line);
        const jlist *l = fn->self.u.l;
        int64_t k = 0;
        for (size_t i = 0; i < l->n; i++)
            if (jv_eq(c, l->v[i], p[0])) {
                if (fn->id == JB_L_INDEX) return jv_int((int64_t)i);
                k++;
            }
        if (fn->id == JB_L_INDEX) jj_fail(c, line, FR_ERR_FORMAT, "list.index(x): x not in list");
        return jv_int(k);
    }
    case JB_L_COPY: {
        jj_bind(c, fn->name, a, NULL, 0, p, line);
        jv r = jv_list_n(c, fn->self.u.l->n);
        if (r.u.l->n) memcpy(r.u.l->v, fn->self.u.l->v, r.u.l->n * sizeof(jv));
        return r;
    }
    default: return str_method(c, fn, a, line);
    }
}

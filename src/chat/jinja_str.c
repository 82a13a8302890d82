/* jinja_str.c: Python str operations on UTF-8 strings (strip, split, case mapping,
 * replace, splitlines), code point by code point as Python does them. */
#include <string.h>

#include "chat/jinja_str.h"
#include "chat/jinja_unicode.h"

static bool in_set(const jstr *set, uint32_t cp) {
    size_t i = 0;
    while (i < set->n)
        if (utf8_next(set->s, set->n, &i) == cp) return true;
    return false;
}

jv js_strip(jj_ctx *c, jstr *s, jv chars, int mode, int line) {
    const jstr *set = NULL;
    if (chars.t == JV_STR) set = chars.u.s;
    else if (chars.t == JV_UNDEF) jj_fail_undef(c, chars, line);
    else if (chars.t != JV_NONE) jj_fail(c, line, FR_ERR_FORMAT, "strip arg must be None or str");
    size_t a = 0, e = s->n;
    if (mode & 1)
        while (a < e) {
            size_t j = a;
            uint32_t cp = utf8_next(s->s, s->n, &j);
            if (set ? !in_set(set, cp) : !py_isspace(cp)) break;
            a = j;
        }
    if (mode & 2)
        while (e > a) {
            size_t st = e - 1;
            while (st > a && ((unsigned char)s->s[st] & 0xC0) == 0x80) st--;
            size_t j = st;
            uint32_t cp = utf8_next(s->s, s->n, &j);
            if (set ? !in_set(set, cp) : !py_isspace(cp)) break;
            e = st;
        }
    if (a == 0 && e == s->n) return jv_strobj(s);
    return jv_str(c, s->s + a, e - a);
}

static bool ws_at(const jstr *s, size_t i, size_t *next) {
    size_t j = i;
    uint32_t cp = utf8_next(s->s, s->n, &j);
    *next = j;
    return py_isspace(cp);
}

/* start of the code point that ends at byte e */
static size_t cp_before(const jstr *s, size_t e) {
    size_t st = e - 1;
    while (st > 0 && ((unsigned char)s->s[st] & 0xC0) == 0x80) st--;
    return st;
}

jv js_split(jj_ctx *c, jstr *s, jv sep, int64_t maxsplit, bool rev, int line) {
    jlb out = {0};
    if (maxsplit < 0) maxsplit = INT64_MAX;
    if (sep.t == JV_NONE) {
        if (!rev) {
            size_t i = 0, nx;
            while (maxsplit-- > 0) {
                while (i < s->n && ws_at(s, i, &nx)) i = nx;
                if (i == s->n) break;
                size_t j = i;
                while (i < s->n && !ws_at(s, i, &nx)) i = nx;
                jlb_push(c, &out, jv_str(c, s->s + j, i - j));
            }
            if (i < s->n) {
                while (i < s->n && ws_at(s, i, &nx)) i = nx;
                if (i != s->n) jlb_push(c, &out, jv_str(c, s->s + i, s->n - i));
            }
        } else {
            size_t i = s->n, nx;
            while (maxsplit-- > 0) {
                while (i > 0 && ws_at(s, cp_before(s, i), &nx)) i = cp_before(s, i);
                if (i == 0) break;
                size_t j = i;
                while (i > 0 && !ws_at(s, cp_before(s, i), &nx)) i = cp_before(s, i);
                jlb_push(c, &out, jv_str(c, s->s + i, j - i));
            }
            if (i > 0) {
                while (i > 0 && ws_at(s, cp_before(s, i), &nx)) i = cp_before(s, i);
                if (i != 0) jlb_push(c, &out, jv_str(c, s->s, i));
            }
            for (size_t k = 0; k < out.n / 2; k++) {
                jv t = out.v[k];
                out.v[k] = out.v[out.n - 1 - k];
                out.v[out.n - 1 - k] = t;
            }
        }
        return jlb_done(c, &out, 0);
    }
    if (sep.t == JV_UNDEF) jj_fail_undef(c, sep, line);
    if (sep.t != JV_STR) jj_fail(c, line, FR_ERR_FORMAT, "must be str or None, not %s", jv_type_name(sep));
    const jstr *p = sep.u.s;
    if (!p->n) jj_fail(c, line, FR_ERR_FORMAT, "empty separator");
    if (!rev) {
        size_t i = 0;
        while (maxsplit-- > 0) {
            const char *h = memmem(s->s + i, s->n - i, p->s, p->n);
            if (!h) break;
            size_t j = (size_t)(h - s->s);
            jlb_push(c, &out, jv_str(c, s->s + i, j - i));
            i = j + p->n;
        }
        jlb_push(c, &out, jv_str(c, s->s + i, s->n - i));
    } else {
        size_t e = s->n;
        while (maxsplit-- > 0) {
            size_t k = e, hit = SIZE_MAX;
            while (k >= p->n) {
                if (!memcmp(s->s + k - p->n, p->s, p->n)) {
                    hit = k - p->n;
                    break;
                }
                k--;
            }
            if (hit == SIZE_MAX) break;
            jlb_push(c, &out, jv_str(c, s->s + hit + p->n, e - hit - p->n));
            e = hit;
        }
        jlb_push(c, &out, jv_str(c, s->s, e));
        for (size_t k = 0; k < out.n / 2; k++) {
            jv t = out.v[k];
            out.v[k] = out.v[out.n - 1 - k];
            out.v[out.n - 1 - k] = t;
        }
    }
    return jlb_done(c, &out, 0);
}

static size_t put_map(char *o, int (*fn)(uint32_t, uint32_t[3]), uint32_t cp) {
    uint32_t m[3];
    int k = fn(cp, m);
    size_t n = 0;
    for (int i = 0; i < k; i++) n += utf8_put(o + n, m[i]);
    return n;
}

/* Python's Final_Sigma (without the case-ignorable skipping): a capital sigma after a cased
 * letter and not before one lowers to ς */
static bool final_sigma(const jstr *s, size_t start, size_t after) {
    size_t before = cp_before(s, after);
    if (before <= start) return false;
    size_t j = cp_before(s, before);
    if (!uni_cased(utf8_next(s->s, s->n, &j))) return false;
    if (after >= s->n) return true;
    size_t k = after;
    return !uni_cased(utf8_next(s->s, s->n, &k));
}

static size_t put_lower_at(char *o, const jstr *s, size_t start, size_t after, uint32_t cp) {
    if (cp == 0x3A3 && final_sigma(s, start, after)) return utf8_put(o, 0x3C2);
    return put_map(o, uni_lower, cp);
}

jv js_case(jj_ctx *c, jstr *s, int mode) {
    size_t cap;
    if (!ck_mul_size(s->n, 3, &cap)) jj_fail(c, 0, FR_ERR_RANGE, "string too long");
    char *o = jj_alloc(c, cap + 8);
    size_t on = 0, i = 0;
    bool prev_cased = false, first = true;
    while (i < s->n) {
        uint32_t cp = utf8_next(s->s, s->n, &i);
        switch (mode) {
        case JS_LOWER: on += put_lower_at(o + on, s, 0, i, cp); break;
        case JS_UPPER: on += put_map(o + on, uni_upper, cp); break;
        case JS_CAPITALIZE: on += first ? put_map(o + on, uni_title, cp) : put_lower_at(o + on, s, 0, i, cp); break;
        default: /* title: str.title() */
            on += prev_cased ? put_lower_at(o + on, s, 0, i, cp) : put_map(o + on, uni_title, cp);
            prev_cased = uni_cased(cp);
        }
        first = false;
    }
    return jv_str(c, o, on);
}

bool js_is_case(const jstr *s, bool upper) {
    bool cased = false;
    size_t i = 0;
    while (i < s->n) {
        uint32_t cp = utf8_next(s->s, s->n, &i);
        if ((upper ? uni_islower(cp) : uni_isupper(cp)) || uni_istitle(cp)) return false;
        if (upper ? uni_isupper(cp) : uni_islower(cp)) cased = true;
    }
    return cased;
}

jv js_replace(jj_ctx *c, jstr *s, const jstr *old, const jstr *rep, int64_t count) {
    jbuf b;
    jbuf_open(c, &b, c->max_output);
    if (count < 0) count = INT64_MAX;
    if (!old->n) {
        size_t i = 0;
        while (i < s->n) {
            if (count > 0) {
                jbuf_put(c, &b, rep->s, rep->n);
                count--;
            }
            size_t st = i;
            utf8_next(s->s, s->n, &i);
            jbuf_put(c, &b, s->s + st, i - st);
        }
        if (count > 0) jbuf_put(c, &b, rep->s, rep->n);
        return jbuf_to_str(c, &b);
    }
    size_t i = 0;
    while (count > 0) {
        const char *h = memmem(s->s + i, s->n - i, old->s, old->n);
        if (!h) break;
        size_t j = (size_t)(h - s->s);
        jbuf_put(c, &b, s->s + i, j - i);
        jbuf_put(c, &b, rep->s, rep->n);
        i = j + old->n;
        count--;
    }
    jbuf_put(c, &b, s->s + i, s->n - i);
    return jbuf_to_str(c, &b);
}

static bool line_break(uint32_t cp) {
    return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E || cp == 0x85 ||
           cp == 0x2028 || cp == 0x2029;
}

jv js_splitlines(jj_ctx *c, jstr *s, bool keepends) {
    jlb out = {0};
    size_t i = 0, st = 0;
    while (i < s->n) {
        size_t cs = i;
        uint32_t cp = utf8_next(s->s, s->n, &i);
        if (!line_break(cp)) continue;
        size_t end = i;
        if (cp == '\r' && i < s->n && s->s[i] == '\n') end = ++i;
        jlb_push(c, &out, jv_str(c, s->s + st, (keepends ? end : cs) - st));
        st = i;
    }
    if (st < s->n) jlb_push(c, &out, jv_str(c, s->s + st, s->n - st));
    return jlb_done(c, &out, 0);
}

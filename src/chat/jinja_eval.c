/* jinja_eval.c: executes the syntax tree: scopes (a fresh frame per loop iteration and
 * macro call, as jinja2 compiles them), operators with Python semantics, attribute and item
 * lookup through the immutable sandbox's rules, macros, loops, and the render entry point. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_int.h"

typedef struct jframe {
    struct jframe *parent;
    size_t n, cap;
    const char **names; /* from the syntax tree or the arena: live as long as the render */
    jv *vals;
    bool captured; /* a macro closes over it: loops must not reuse it */
} jframe;

typedef struct jmacro {
    const jnode *def;
    jframe *closure;
} jmacro;

typedef struct jloop {
    jlist *items;
    size_t i;
} jloop;

enum { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE };

static jv eval(jj_ctx *c, jframe *f, const jnode *x);
static int exec_list(jj_ctx *c, jframe *f, jnode *const *v, size_t n);

/* ---- errors ---- */
void jj_fail(jj_ctx *c, int line, fr_status code, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line <= 0) line = c->line;
    if (line > 0) fr_fail(c->err, code, "%s, line %d: %s", c->name, line, msg);
    else fr_fail(c->err, code, "%s: %s", c->name, msg);
    longjmp(c->jb, 1);
}

void jj_fail_undef(jj_ctx *c, jv u, int line) {
    if (u.f & JF_UNSAFE) jj_fail(c, line, FR_ERR_FORMAT, "access to %s is unsafe", u.u.hint ? u.u.hint : "an attribute");
    if (u.u.hint) jj_fail(c, line, FR_ERR_FORMAT, "%s", u.u.hint);
    jj_fail(c, line, FR_ERR_FORMAT, "a value is undefined");
}

void jj_step(jj_ctx *c, int line) {
    c->line = line;
    if (++c->steps > c->max_steps) jj_fail(c, line, FR_ERR_RANGE, "more than %lld evaluation steps", (long long)c->max_steps);
}

static const char *hintf(jj_ctx *c, const char *fmt, const char *a, const char *b) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, fmt, a, b);
    return jj_strndup(c, tmp, strlen(tmp));
}

/* ---- frames ---- */
static jframe *frame_new(jj_ctx *c, jframe *parent) {
    jframe *f = jj_alloc(c, sizeof *f);
    f->parent = parent;
    return f;
}

static void frame_set(jj_ctx *c, jframe *f, const char *name, jv v) {
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], name)) {
            f->vals[i] = v;
            return;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        const char **nn = jj_alloc(c, cap * sizeof(char *));
        jv *nv = jj_alloc(c, cap * sizeof(jv));
        if (f->n) {
            memcpy(nn, f->names, f->n * sizeof(char *));
            memcpy(nv, f->vals, f->n * sizeof(jv));
        }
        f->names = nn;
        f->vals = nv;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n++] = v;
}

static jv lookup(jj_ctx *c, jframe *f, const char *name) {
    for (; f; f = f->parent)
        for (size_t i = f->n; i-- > 0;)
            if (!strcmp(f->names[i], name)) return f->vals[i];
    return jv_undef(hintf(c, "'%s' is undefined%s", name, ""));
}

/* ---- attributes and items (SandboxedEnvironment.getattr / getitem) ---- */
static jv loop_attr(jj_ctx *c, jv obj, const char *name, bool *found) {
    const jloop *L = obj.u.loop;
    int64_t n = (int64_t)L->items->n, i = (int64_t)L->i;
    *found = true;
    if (!strcmp(name, "index")) return jv_int(i + 1);
    if (!strcmp(name, "index0")) return jv_int(i);
    if (!strcmp(name, "revindex")) return jv_int(n - i);
    if (!strcmp(name, "revindex0")) return jv_int(n - i - 1);
    if (!strcmp(name, "first")) return jv_bool(i == 0);
    if (!strcmp(name, "last")) return jv_bool(i == n - 1);
    if (!strcmp(name, "length")) return jv_int(n);
    if (!strcmp(name, "depth")) return jv_int(1);
    if (!strcmp(name, "depth0")) return jv_int(0);
    if (!strcmp(name, "previtem")) return i > 0 ? L->items->v[i - 1] : jv_undef("there is no previous item");
    if (!strcmp(name, "nextitem")) return i + 1 < n ? L->items->v[i + 1] : jv_undef("there is no next item");
    if (!strcmp(name, "cycle")) return jv_func(c, -1, obj, "cycle");
    if (!strcmp(name, "changed")) jj_fail(c, 0, FR_ERR_UNSUPPORTED, "loop.changed");
    *found = false;
    return jv_undef(NULL);
}

jv jj_getattr(jj_ctx *c, jv obj, const char *name, int line) {
    jv r;
    if (obj.t == JV_UNDEF) jj_fail_undef(c, obj, line);
    if (name[0] == '_') return jv_undef(hintf(c, "'%s' has no attribute '%s'", jv_type_name(obj), name));
    switch (obj.t) {
    case JV_DICT:
        if (jj_method(c, obj, name, &r, line)) return r;
        if (jd_get_s(obj.u.m, name, &r)) return r;
        return jv_undef(hintf(c, "'dict object' has no attribute '%s'%s", name, ""));
    case JV_NS:
        if (jd_get_s(obj.u.m, name, &r)) return r;
        break;
    case JV_LOOP: {
        bool found;
        r = loop_attr(c, obj, name, &found);
        if (found) return r;
        break;
    }
    case JV_INT:
    case JV_BOOL:
    case JV_FLOAT: {
        static const char *const num_attrs[] = {"real", "imag", "numerator", "denominator", "conjugate", "bit_length",
                                                "bit_count", "to_bytes", "as_integer_ratio", "is_integer", "hex"};
        for (size_t i = 0; i < FR_ARRAY_LEN(num_attrs); i++)
            if (!strcmp(name, num_attrs[i])) jj_fail(c, line, FR_ERR_UNSUPPORTED, "the number attribute '%s'", name);
        break;
    }
    default:
        if (jj_method(c, obj, name, &r, line)) return r;
    }
    return jv_undef(hintf(c, "'%s object' has no attribute '%s'", jv_type_name(obj), name));
}

jv jj_getitem(jj_ctx *c, jv obj, jv key, int line) {
    jv r;
    if (obj.t == JV_UNDEF) jj_fail_undef(c, obj, line);
    if (key.t == JV_BOOL) key = jv_int(key.u.b);
    switch (obj.t) {
    case JV_DICT:
        if ((key.t == JV_LIST && !(key.f & JF_TUPLE)) || key.t == JV_DICT) break; /* unhashable: TypeError, caught */
        if (jd_get(c, obj.u.m, key, &r)) return r;
        break;
    case JV_LIST:
        if (key.t == JV_INT && !(obj.f & (JF_GEN | JF_VIEW))) {
            int64_t n = (int64_t)obj.u.l->n, i = key.u.i < 0 ? key.u.i + n : key.u.i;
            if (i >= 0 && i < n) return obj.u.l->v[i];
            return jv_undef(hintf(c, "%s object has no element %s", jv_type_name(obj), "(index out of range)"));
        }
        break;
    case JV_STR:
        if (key.t == JV_INT) {
            int64_t n = js_ncp(obj.u.s), i = key.u.i < 0 ? key.u.i + n : key.u.i;
            if (i >= 0 && i < n) {
                size_t a = js_cp_off(obj.u.s, i), b = js_cp_off(obj.u.s, i + 1);
                return jv_str(c, obj.u.s->s + a, b - a);
            }
            return jv_undef("str object has no element (index out of range)");
        }
        break;
    default: break;
    }
    if (key.t == JV_STR) return jj_getattr(c, obj, key.u.s->s, line);
    return jv_undef(hintf(c, "'%s object' has no element%s", jv_type_name(obj), ""));
}

/* ---- operators ---- */
static bool isnum(jv v) { return v.t == JV_INT || v.t == JV_BOOL || v.t == JV_FLOAT; }
static double to_d(jv v) { return v.t == JV_FLOAT ? v.u.d : v.t == JV_INT ? (double)v.u.i : (double)v.u.b; }
static int64_t to_i(jv v) { return v.t == JV_INT ? v.u.i : (int64_t)v.u.b; }

_Noreturn static void type_error(jj_ctx *c, const char *op, jv a, jv b, int line) {
    jj_fail(c, line, FR_ERR_FORMAT, "unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type_name(a),
            jv_type_name(b));
}
_Noreturn static void overflow(jj_ctx *c, int line) {
    jj_fail(c, line, FR_ERR_UNSUPPORTED, "integer overflow (frugal's integers are 64-bit)");
}

static jv repeat(jj_ctx *c, jv seq, int64_t k, int line) {
    if (k < 0) k = 0;
    /* an empty sequence stays empty however large k is: no loop of k empty copies (a fuzzed
     * template spent minutes on '' * 5551554548) */
    if ((seq.t == JV_STR ? seq.u.s->n : seq.u.l->n) == 0) k = 0;
    if (seq.t == JV_STR) {
        size_t n = seq.u.s->n, total;
        if (!ck_mul_size(n, (size_t)k, &total)) jj_fail(c, line, FR_ERR_RANGE, "string too long");
        char *p = jj_alloc(c, total + 1);
        for (int64_t i = 0; i < k; i++) memcpy(p + (size_t)i * n, seq.u.s->s, n);
        return jv_str(c, p, total);
    }
    size_t n = seq.u.l->n, total;
    if (!ck_mul_size(n, (size_t)k, &total)) jj_fail(c, line, FR_ERR_RANGE, "list too long");
    jv r = jv_list_n(c, total);
    for (int64_t i = 0; i < k; i++) memcpy(r.u.l->v + (size_t)i * n, seq.u.l->v, n * sizeof(jv));
    r.f = seq.f & JF_TUPLE;
    return r;
}

static void py_divmod_f(double vx, double wx, double *fdiv, double *fmodv) {
    double mod = fmod(vx, wx), div = (vx - mod) / wx, floordiv;
    if (mod) {
        if ((wx < 0) != (mod < 0)) {
            mod += wx;
            div -= 1.0;
        }
    } else mod = copysign(0.0, wx);
    if (div) {
        floordiv = floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    } else floordiv = copysign(0.0, vx / wx);
    *fdiv = floordiv;
    *fmodv = mod;
}

jv jj_arith(jj_ctx *c, uint8_t op, jv a, jv b, int line) {
    static const char *const names[] = {[OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/",
                                        [OP_FLOORDIV] = "//", [OP_MOD] = "%", [OP_POW] = "** or pow()"};
    if (a.t == JV_UNDEF) jj_fail_undef(c, a, line);
    if (b.t == JV_UNDEF) jj_fail_undef(c, b, line);
    if (isnum(a) && isnum(b)) {
        bool fl = a.t == JV_FLOAT || b.t == JV_FLOAT;
        int64_t x = fl ? 0 : to_i(a), y = fl ? 0 : to_i(b), r;
        double dx = to_d(a), dy = to_d(b);
        switch (op) {
        case OP_ADD:
            if (fl) return jv_float(dx + dy);
            if (!ck_add_i64(x, y, &r)) overflow(c, line);
            return jv_int(r);
        case OP_SUB:
            if (fl) return jv_float(dx - dy);
            if (__builtin_sub_overflow(x, y, &r)) overflow(c, line);
            return jv_int(r);
        case OP_MUL:
            if (fl) return jv_float(dx * dy);
            if (!ck_mul_i64(x, y, &r)) overflow(c, line);
            return jv_int(r);
        case OP_DIV:
            if (dy == 0) jj_fail(c, line, FR_ERR_FORMAT, "division by zero");
            return jv_float(dx / dy);
        case OP_FLOORDIV:
        case OP_MOD:
            if (fl) {
                if (dy == 0) jj_fail(c, line, FR_ERR_FORMAT, "float divmod()");
                double q, m;
                py_divmod_f(dx, dy, &q, &m);
                return jv_float(op == OP_MOD ? m : q);
            }
            if (y == 0) jj_fail(c, line, FR_ERR_FORMAT, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) overflow(c, line);
            {
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    q--;
                    m += y;
                }
                return jv_int(op == OP_MOD ? m : q);
            }
        case OP_POW:
            if (!fl && y >= 0) {
                int64_t base = x, res = 1, e = y;
                while (e > 0) {
                    if (e & 1 && !ck_mul_i64(res, base, &res)) overflow(c, line);
                    e >>= 1;
                    if (e && !ck_mul_i64(base, base, &base)) overflow(c, line);
                }
                return jv_int(res);
            }
            if (dx == 0 && dy < 0) jj_fail(c, line, FR_ERR_FORMAT, "0.0 cannot be raised to a negative power");
            if (dx < 0 && dy != floor(dy)) jj_fail(c, line, FR_ERR_UNSUPPORTED, "complex numbers");
            {
                double p = pow(dx, dy);
                if (isinf(p) && !isinf(dx)) jj_fail(c, line, FR_ERR_FORMAT, "(34, 'Numerical result out of range')");
                return jv_float(p);
            }
        }
    }
    if (op == OP_ADD) {
        if (a.t == JV_STR && b.t == JV_STR) {
            size_t n;
            if (!ck_add_size(a.u.s->n, b.u.s->n, &n)) jj_fail(c, line, FR_ERR_RANGE, "string too long");
            char *p = jj_alloc(c, n + 1);
            memcpy(p, a.u.s->s, a.u.s->n);
            memcpy(p + a.u.s->n, b.u.s->s, b.u.s->n);
            return jv_str(c, p, n);
        }
        if (a.t == JV_LIST && b.t == JV_LIST && !((a.f | b.f) & (JF_GEN | JF_VIEW)) &&
            (a.f & JF_TUPLE) == (b.f & JF_TUPLE)) {
            jv r = jv_list_n(c, a.u.l->n + b.u.l->n);
            if (a.u.l->n) memcpy(r.u.l->v, a.u.l->v, a.u.l->n * sizeof(jv));
            if (b.u.l->n) memcpy(r.u.l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(jv));
            r.f = a.f & JF_TUPLE;
            return r;
        }
        if (a.t == JV_STR || b.t == JV_STR)
            jj_fail(c, line, FR_ERR_FORMAT, "can only concatenate %s (not \"%s\") to %s", jv_type_name(a),
                    jv_type_name(b), jv_type_name(a));
    }
    if (op == OP_MUL) {
        bool seq_a = a.t == JV_STR || (a.t == JV_LIST && !(a.f & (JF_GEN | JF_VIEW)));
        bool seq_b = b.t == JV_STR || (b.t == JV_LIST && !(b.f & (JF_GEN | JF_VIEW)));
        if (seq_a && (b.t == JV_INT || b.t == JV_BOOL)) return repeat(c, a, to_i(b), line);
        if (seq_b && (a.t == JV_INT || a.t == JV_BOOL)) return repeat(c, b, to_i(a), line);
    }
    if (op == OP_MOD && a.t == JV_STR) jj_fail(c, line, FR_ERR_UNSUPPORTED, "printf-style string formatting (%%)");
    type_error(c, names[op], a, b, line);
}

static bool contains(jj_ctx *c, jv hay, jv needle, int line) {
    switch (hay.t) {
    case JV_UNDEF:
        if (hay.f & JF_UNSAFE) jj_fail_undef(c, hay, line);
        return false;
    case JV_STR:
        if (needle.t == JV_UNDEF) jj_fail_undef(c, needle, line);
        if (needle.t != JV_STR)
            jj_fail(c, line, FR_ERR_FORMAT, "'in <string>' requires string as left operand, not %s", jv_type_name(needle));
        if (needle.u.s->n == 0) return true;
        return memmem(hay.u.s->s, hay.u.s->n, needle.u.s->s, needle.u.s->n) != NULL;
    case JV_LIST:
        for (size_t i = 0; i < hay.u.l->n; i++)
            if (jv_eq(c, hay.u.l->v[i], needle)) return true;
        return false;
    case JV_DICT: {
        jv o;
        if (needle.t == JV_LIST && !(needle.f & JF_TUPLE)) jj_fail(c, line, FR_ERR_FORMAT, "unhashable type: 'list'");
        if (needle.t == JV_DICT) jj_fail(c, line, FR_ERR_FORMAT, "unhashable type: 'dict'");
        return jd_get(c, hay.u.m, needle, &o);
    }
    default:
        jj_fail(c, line, FR_ERR_FORMAT, "argument of type '%s' is not iterable", jv_type_name(hay));
    }
}

bool jj_compare(jj_ctx *c, uint8_t op, jv a, jv b, int line) {
    switch (op) {
    case OP_EQ: return jv_eq(c, a, b);
    case OP_NE: return !jv_eq(c, a, b);
    case OP_IN: return contains(c, b, a, line);
    case OP_NOTIN: return !contains(c, b, a, line);
    default: break;
    }
    int r = jv_cmp(c, a, b, line);
    if (r == 2) return false; /* NaN */
    switch (op) {
    case OP_LT: return r < 0;
    case OP_LTEQ: return r <= 0;
    case OP_GT: return r > 0;
    default: return r >= 0;
    }
}

/* ---- calls ---- */
static jv call_macro(jj_ctx *c, const jmacro *m, const jargs *a, int line) {
    const jnode *d = m->def;
    size_t np = (size_t)d->id;
    if (a->npos > np)
        jj_fail(c, line, FR_ERR_FORMAT, "macro '%s' takes not more than %zu argument(s)", d->name, np);
    if (c->depth >= c->max_depth) jj_fail(c, line, FR_ERR_RANGE, "macro calls nested deeper than %d", c->max_depth);
    jframe *f = frame_new(c, m->closure);
    jv *vals = jj_alloc(c, (np ? np : 1) * sizeof(jv));
    bool *set = jj_alloc(c, np ? np : 1);
    for (size_t i = 0; i < a->npos; i++) {
        vals[i] = a->pos[i];
        set[i] = true;
    }
    for (size_t k = 0; k < a->nkw; k++) {
        size_t i;
        for (i = 0; i < np; i++)
            if (!strcmp(d->names[i], a->kwn[k])) break;
        if (i == np) jj_fail(c, line, FR_ERR_FORMAT, "macro '%s' has no argument '%s'", d->name, a->kwn[k]);
        if (set[i]) jj_fail(c, line, FR_ERR_FORMAT, "macro '%s' got multiple values for argument '%s'", d->name, a->kwn[k]);
        vals[i] = a->kwv[k];
        set[i] = true;
    }
    c->depth++;
    for (size_t i = 0; i < np; i++) {
        if (!set[i]) vals[i] = d->w[i] ? eval(c, f, d->w[i]) : jv_undef(hintf(c, "parameter '%s' was not provided%s", d->names[i], ""));
        frame_set(c, f, d->names[i], vals[i]);
    }
    jbuf b, *saved = c->out;
    jbuf_open(c, &b, c->max_output);
    c->out = &b;
    exec_list(c, f, d->v, d->nv);
    c->out = saved;
    c->depth--;
    return jbuf_to_str(c, &b);
}

jv jj_call_value(jj_ctx *c, jv fn, const jargs *a, int line) {
    switch (fn.t) {
    case JV_FUNC:
        if (fn.u.fn->id == -1) { /* loop.cycle */
            if (!a->npos) jj_fail(c, line, FR_ERR_FORMAT, "no items for cycling given");
            return a->pos[fn.u.fn->self.u.loop->i % a->npos];
        }
        return jj_call_builtin(c, fn.u.fn, a, line);
    case JV_MACRO: return call_macro(c, fn.u.mac, a, line);
    case JV_UNDEF: jj_fail_undef(c, fn, line);
    default: jj_fail(c, line, FR_ERR_FORMAT, "'%s' object is not callable", jv_type_name(fn));
    }
}

static void eval_args(jj_ctx *c, jframe *f, const jnode *x, jargs *a) {
    a->npos = x->nv;
    a->pos = x->nv ? jj_alloc(c, x->nv * sizeof(jv)) : NULL;
    for (size_t i = 0; i < x->nv; i++) a->pos[i] = eval(c, f, x->v[i]);
    a->nkw = x->nw;
    a->kwn = x->names;
    a->kwv = x->nw ? jj_alloc(c, x->nw * sizeof(jv)) : NULL;
    for (size_t i = 0; i < x->nw; i++) a->kwv[i] = eval(c, f, x->w[i]);
}

static bool slice_index(jv v, bool *has, int64_t *out) {
    if (v.t == JV_NONE) {
        *has = false;
        return true;
    }
    if (v.t == JV_INT || v.t == JV_BOOL) {
        *has = true;
        *out = v.t == JV_INT ? v.u.i : v.u.b;
        return true;
    }
    return false;
}

/* ---- expressions ---- */
static jv eval(jj_ctx *c, jframe *f, const jnode *x) {
    jj_step(c, x->line);
    if (++c->cdepth > 3000) jj_fail(c, x->line, FR_ERR_RANGE, "evaluation nested too deeply");
    jv r;
    switch (x->kind) {
    case N_CONST: r = x->val; break;
    case N_NAME: r = lookup(c, f, x->name); break;
    case N_LIST:
    case N_TUPLE:
        r = jv_list_n(c, x->nv);
        for (size_t i = 0; i < x->nv; i++) r.u.l->v[i] = eval(c, f, x->v[i]);
        if (x->kind == N_TUPLE) r.f = JF_TUPLE;
        break;
    case N_DICT:
        r = jv_dict(c);
        for (size_t i = 0; i < x->nv; i++) {
            jv k = eval(c, f, x->v[i]);
            if ((k.t == JV_LIST && !(k.f & JF_TUPLE)) || k.t == JV_DICT)
                jj_fail(c, x->line, FR_ERR_FORMAT, "unhashable type: '%s'", jv_type_name(k));
            jd_set(c, r.u.m, k, eval(c, f, x->w[i]));
        }
        break;
    case N_GETATTR: r = jj_getattr(c, eval(c, f, x->a), x->name, x->line); break;
    case N_GETITEM: {
        jv obj = eval(c, f, x->a);
        if (x->b->kind == N_SLICE) {
            const jnode *s = x->b;
            jv st = s->a ? eval(c, f, s->a) : jv_none(), en = s->b ? eval(c, f, s->b) : jv_none(),
               sp = s->c ? eval(c, f, s->c) : jv_none();
            /* jinja2 slices with Python's own subscription: no undefined fallback */
            if (obj.t == JV_UNDEF) jj_fail_undef(c, obj, x->line);
            bool hs, he, hp;
            int64_t a = 0, b = 0, step = 1;
            bool seq = obj.t == JV_STR || (obj.t == JV_LIST && !(obj.f & (JF_GEN | JF_VIEW)));
            /* (jinja2's optimizer folds `{{ none[1:] }}` with literals to undefined: not emulated) */
            if (!seq) jj_fail(c, x->line, FR_ERR_FORMAT, "'%s' object is not subscriptable", jv_type_name(obj));
            if (!slice_index(st, &hs, &a) || !slice_index(en, &he, &b) || !slice_index(sp, &hp, &step))
                jj_fail(c, x->line, FR_ERR_FORMAT, "slice indices must be integers or None");
            if (!hp) step = 1;
            r = js_slice(c, obj, hs, a, he, b, step, x->line);
        } else r = jj_getitem(c, obj, eval(c, f, x->b), x->line);
        break;
    }
    case N_CALL: {
        jv fn = eval(c, f, x->a);
        jargs a;
        eval_args(c, f, x, &a);
        r = jj_call_value(c, fn, &a, x->line);
        break;
    }
    case N_FILTER: {
        if (x->id == -2) jj_fail(c, x->line, FR_ERR_UNSUPPORTED, "the filter '%s' is not supported", x->name);
        if (x->id < 0) jj_fail(c, x->line, FR_ERR_FORMAT, "No filter named '%s' found.", x->name);
        jv in = x->a ? eval(c, f, x->a) : c->filter_input;
        jargs a;
        eval_args(c, f, x, &a);
        r = jj_call_filter(c, x->id, in, &a, x->line);
        break;
    }
    case N_TEST: {
        if (x->id < 0) jj_fail(c, x->line, FR_ERR_FORMAT, "No test named '%s' found.", x->name);
        jv in = eval(c, f, x->a);
        jargs a;
        eval_args(c, f, x, &a);
        r = jv_bool(jj_call_test(c, x->id, in, &a, x->line));
        break;
    }
    case N_UNARY: {
        jv a = eval(c, f, x->a);
        if (x->op == OP_NOT) {
            r = jv_bool(!jv_truthy(c, a));
            break;
        }
        if (a.t == JV_UNDEF) jj_fail_undef(c, a, x->line);
        if (a.t == JV_FLOAT) r = jv_float(x->op == OP_NEG ? -a.u.d : a.u.d);
        else if (a.t == JV_INT || a.t == JV_BOOL) {
            int64_t i = to_i(a);
            if (x->op == OP_NEG && i == INT64_MIN) overflow(c, x->line);
            r = jv_int(x->op == OP_NEG ? -i : i);
        } else
            jj_fail(c, x->line, FR_ERR_FORMAT, "bad operand type for unary %c: '%s'", x->op == OP_NEG ? '-' : '+',
                    jv_type_name(a));
        break;
    }
    case N_BINARY: {
        jv a = eval(c, f, x->a);
        if (x->op == OP_AND) r = jv_truthy(c, a) ? eval(c, f, x->b) : a;
        else if (x->op == OP_OR) r = jv_truthy(c, a) ? a : eval(c, f, x->b);
        else r = jj_arith(c, x->op, a, eval(c, f, x->b), x->line);
        break;
    }
    case N_CONCAT: {
        jbuf b;
        jbuf_open(c, &b, c->max_output);
        for (size_t i = 0; i < x->nv; i++) jv_str_to(c, &b, eval(c, f, x->v[i]), x->line);
        r = jbuf_to_str(c, &b);
        break;
    }
    case N_COMPARE: {
        jv a = eval(c, f, x->a);
        r = jv_bool(true);
        for (size_t i = 0; i < x->nv; i++) {
            jv b = eval(c, f, x->v[i]);
            if (!jj_compare(c, x->ops[i], a, b, x->line)) {
                r = jv_bool(false);
                break;
            }
            a = b;
        }
        break;
    }
    case N_COND:
        if (jv_truthy(c, eval(c, f, x->a))) r = eval(c, f, x->b);
        else r = x->c ? eval(c, f, x->c) : jv_undef("the inline if-expression evaluated to false and no else section was defined");
        break;
    default: jj_fail(c, x->line, FR_ERR_FORMAT, "internal error: statement used as an expression");
    }
    c->cdepth--;
    return r;
}

/* ---- statements ---- */
static void assign(jj_ctx *c, jframe *f, const jnode *t, jv v) {
    if (t->kind == N_NAME) {
        frame_set(c, f, t->name, v);
        return;
    }
    if (t->kind == N_NSREF) {
        jv ns = lookup(c, f, t->a->name);
        if (ns.t != JV_NS) jj_fail(c, t->line, FR_ERR_FORMAT, "can't assign attribute on non-namespace object");
        jd_set(c, ns.u.m, jv_cstr(c, t->name), v);
        return;
    }
    /* tuple unpacking */
    jlist *items = jv_iter(c, v, t->line);
    if (items->n < t->nv) jj_fail(c, t->line, FR_ERR_FORMAT, "not enough values to unpack (expected %zu, got %zu)", t->nv, items->n);
    if (items->n > t->nv) jj_fail(c, t->line, FR_ERR_FORMAT, "too many values to unpack (expected %zu)", t->nv);
    for (size_t i = 0; i < t->nv; i++) assign(c, f, t->v[i], items->v[i]);
}

static jv capture(jj_ctx *c, jframe *f, jnode *const *body, size_t n) {
    jbuf b, *saved = c->out;
    jbuf_open(c, &b, c->max_output);
    c->out = &b;
    exec_list(c, f, body, n);
    c->out = saved;
    return jbuf_to_str(c, &b);
}

static int exec(jj_ctx *c, jframe *f, const jnode *x) {
    jj_step(c, x->line);
    if (++c->cdepth > 3000) jj_fail(c, x->line, FR_ERR_RANGE, "statements nested too deeply");
    int flow = FLOW_NORMAL;
    switch (x->kind) {
    case N_DATA: jbuf_put(c, c->out, x->val.u.s->s, x->val.u.s->n); break;
    case N_OUTPUT: jv_str_to(c, c->out, eval(c, f, x->a), x->line); break;
    case N_BODY: flow = exec_list(c, f, x->v, x->nv); break;
    case N_IF:
        if (jv_truthy(c, eval(c, f, x->a))) flow = exec_list(c, f, x->v, x->nv);
        else flow = exec_list(c, f, x->w, x->nw);
        break;
    case N_FOR: {
        jv seq = eval(c, f, x->b);
        jlist *items = jv_iter(c, seq, x->line);
        if (x->c) { /* for x in y if cond */
            jlb kept = {0};
            for (size_t i = 0; i < items->n; i++) {
                jframe *tf = frame_new(c, f);
                assign(c, tf, x->a, items->v[i]);
                if (jv_truthy(c, eval(c, tf, x->c))) jlb_push(c, &kept, items->v[i]);
            }
            items = jlb_done(c, &kept, 0).u.l;
        }
        jloop *L = jj_alloc(c, sizeof *L);
        L->items = items;
        jv lv = {.t = JV_LOOP, .u.loop = L};
        bool completed = false; /* jinja2 runs `else` unless some iteration ran its body to the end */
        jframe *it = NULL;
        for (size_t i = 0; i < items->n; i++) {
            jj_step(c, x->line);
            L->i = i;
            if (!it || it->captured) it = frame_new(c, f); /* a fresh scope per iteration */
            it->n = 0;
            frame_set(c, it, "loop", lv);
            assign(c, it, x->a, items->v[i]);
            int fl = exec_list(c, it, x->v, x->nv);
            if (fl == FLOW_BREAK) break;
            if (fl == FLOW_NORMAL) completed = true;
        }
        if (!completed) flow = exec_list(c, f, x->w, x->nw);
        break;
    }
    case N_SET: assign(c, f, x->a, eval(c, f, x->b)); break;
    case N_SETBLOCK: {
        jv v = capture(c, frame_new(c, f), x->v, x->nv);
        if (x->c) {
            jv saved = c->filter_input;
            c->filter_input = v;
            v = eval(c, f, x->c);
            c->filter_input = saved;
        }
        assign(c, f, x->a, v);
        break;
    }
    case N_FILTERBLOCK: {
        jv v = capture(c, frame_new(c, f), x->v, x->nv);
        jv saved = c->filter_input;
        c->filter_input = v;
        v = eval(c, f, x->c);
        c->filter_input = saved;
        jv_str_to(c, c->out, v, x->line);
        break;
    }
    case N_MACRO: {
        jmacro *m = jj_alloc(c, sizeof *m);
        m->def = x;
        m->closure = f;
        f->captured = true;
        frame_set(c, f, x->name, (jv){.t = JV_MACRO, .u.mac = m});
        break;
    }
    case N_WITH: {
        jframe *w = frame_new(c, f);
        for (size_t i = 0; i < x->nv; i++) assign(c, w, x->v[i], eval(c, f, x->w[i]));
        flow = exec_list(c, w, x->a->v, x->a->nv);
        break;
    }
    case N_BREAK: flow = FLOW_BREAK; break;
    case N_CONTINUE: flow = FLOW_CONTINUE; break;
    default: jv_str_to(c, c->out, eval(c, f, x), x->line);
    }
    c->cdepth--;
    return flow;
}

static int exec_list(jj_ctx *c, jframe *f, jnode *const *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int fl = exec(c, f, v[i]);
        if (fl != FLOW_NORMAL) return fl;
    }
    return FLOW_NORMAL;
}

/* ---- JSON input ---- */
static jv from_json(jj_ctx *c, const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv d = jv_dict(c);
        const char *k;
        json_t *v;
        /* JSON object keys are unique: append without searching */
        jdict *m = d.u.m;
        size_t n = json_object_size(j);
        m->k = jj_alloc(c, (n ? n : 1) * sizeof(jv));
        m->v = jj_alloc(c, (n ? n : 1) * sizeof(jv));
        m->cap = n ? n : 1;
        json_object_foreach((json_t *)j, k, v) {
            if (m->n == m->cap) break;
            m->k[m->n] = jv_cstr(c, k);
            m->v[m->n++] = from_json(c, v);
        }
        return d;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        jv l = jv_list_n(c, n);
        for (size_t i = 0; i < n; i++) l.u.l->v[i] = from_json(c, json_array_get(j, i));
        return l;
    }
    case JSON_STRING: return jv_str(c, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return jv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_TRUE: return jv_bool(true);
    case JSON_FALSE: return jv_bool(false);
    default: return jv_none();
    }
}

fr_status jj_render(const char *src, size_t len, const json_t *vars, const jj_options *o, char **out, size_t *out_len,
                    fr_error *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    jj_ctx *c = calloc(1, sizeof *c);
    if (!c) return fr_fail(err, FR_ERR_NOMEM, "chat template: out of memory");
    fr_error local;
    c->err = err ? err : &local;
    c->name = o && o->name ? o->name : "chat template";
    c->max_steps = o && o->max_steps > 0 ? o->max_steps : 50000000;
    c->max_output = o && o->max_output > 0 ? o->max_output : (size_t)64 << 20;
    c->max_depth = o && o->max_depth > 0 ? o->max_depth : 200;
    c->mem_limit = o && o->max_memory > 0 ? o->max_memory : (size_t)1 << 30;
    if (o && o->now) c->now = *o->now;
    else {
        time_t t = time(NULL);
        localtime_r(&t, &c->now);
    }
    fr_status st = FR_OK;
    jbuf *main_out = malloc(sizeof *main_out);
    if (!main_out) {
        free(c);
        return fr_fail(err, FR_ERR_NOMEM, "chat template: out of memory");
    }
    if (setjmp(c->jb) == 0) {
        size_t ntok;
        jtok *toks = jj_lex(c, src, len, &ntok);
        jnode *root = jj_parse(c, toks, ntok);
        jframe *g = frame_new(c, NULL);
        jdict gd = {0};
        jj_globals(c, &gd);
        for (size_t i = 0; i < gd.n; i++) frame_set(c, g, gd.k[i].u.s->s, gd.v[i]);
        c->globals = g;
        jframe *top = frame_new(c, g);
        if (vars && json_is_object(vars)) {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)vars, k, v) frame_set(c, top, jj_strndup(c, k, strlen(k)), from_json(c, v));
        }
        jbuf_open(c, main_out, c->max_output);
        c->out = main_out;
        exec_list(c, top, root->v, root->nv);
        *out = main_out->p ? main_out->p : calloc(1, 1);
        if (out_len) *out_len = main_out->n;
        main_out->p = NULL; /* handed to the caller */
        c->buf_mem[main_out->slot] = NULL;
        if (!*out) st = fr_fail(err, FR_ERR_NOMEM, "chat template: out of memory");
    } else {
        st = c->err->code ? c->err->code : FR_ERR_FORMAT;
    }
    for (int i = 0; i < c->nbufs; i++) free(c->buf_mem[i]); /* buffers an error left open */
    free(main_out);
    jj_arena_free(c);
    free(c);
    return st;
}

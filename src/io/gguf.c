/* gguf.c: the GGUF v2/v3 reader (see gguf.h and shared/CHECKLIST.md items 1-11).
 *
 * Layout (little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv
 * key/values (string key, u32 type, value), then n_tensors tensor infos (string name,
 * u32 n_dims, u64 ne[n_dims], u32 type, u64 offset), padding to the alignment, and the data
 * section. Strings are a u64 length and that many bytes. Arrays are a u32 element type, a
 * u64 count and the elements.
 *
 * Every count and length is checked against the bytes remaining before anything is
 * allocated or read, and every size and offset goes through the ck_* helpers. Tables grow
 * as entries are actually parsed, so memory stays proportional to the bytes in the file;
 * key/value and tensor counts are also capped at 2^20 each.
 *
 * Policies: dimensions of 0 are rejected; general.alignment may be any integer type but
 * must be a power of two in 1..2^20; a BOOL value other than 0/1 is rejected; tensor data
 * must be aligned, inside the file and non-overlapping (gaps are allowed). Split models:
 * split.count and split.no (if present) must agree with the file names, and
 * split.tensors.count (if present in part 1) with the tensors found; a file whose
 * split.count is > 1 but whose name is not <prefix>-NNNNN-of-MMMMM.gguf is rejected. */
#include "gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "mmap.h"

#define KV_MIN_BYTES 13     /* key length (8) + one key byte + value type (4) */
#define TENSOR_MIN_BYTES 32 /* name length (8) + n_dims (4) + ne[0] (8) + type (4) + offset (8) */
#define GGUF_MAX_KV_COUNT (1 << 20)
#define GGUF_MAX_TENSOR_COUNT (1 << 20)
#define GGUF_MAX_ALIGNMENT (1u << 20)
#define SHOW_MAX 64 /* bytes of a name shown in an error message */

/* ---- hash index over names: open addressing, linear probing; slot = index + 1 ---- */
typedef struct idx_table {
    int64_t *slot;
    uint64_t mask;
} idx_table;

typedef gguf_str (*name_fn)(const void *ctx, int64_t i);

static uint64_t hash_bytes(const char *p, uint64_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool idx_init(idx_table *h, int64_t n) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2)
        cap <<= 1; /* n <= 2^20: cannot overflow */
    h->slot = calloc(cap, sizeof *h->slot);
    h->mask = cap - 1;
    return h->slot != NULL;
}

static void idx_free(idx_table *h) {
    free(h->slot);
    h->slot = NULL;
    h->mask = 0;
}

static bool str_same(gguf_str a, gguf_str b) { return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0; }

/* Index of `s`, or -1. If absent and insert >= 0, records `insert` under s. */
static int64_t idx_find(const idx_table *h, const void *ctx, name_fn get, gguf_str s, int64_t insert) {
    if (!h->slot) return -1;
    for (uint64_t i = hash_bytes(s.ptr, s.len) & h->mask;; i = (i + 1) & h->mask) {
        int64_t v = h->slot[i];
        if (v == 0) {
            if (insert >= 0) h->slot[i] = insert + 1;
            return -1;
        }
        if (str_same(get(ctx, v - 1), s)) return v - 1;
    }
}

/* ---- key/value lists ---- */
typedef struct kvlist {
    gguf_kv *kv;
    int64_t n, cap;
    idx_table index;
} kvlist;

static gguf_str kv_name(const void *ctx, int64_t i) { return ((const kvlist *)ctx)->kv[i].key; }

static void kvlist_free(kvlist *l) {
    for (int64_t i = 0; i < l->n; i++)
        free((void *)l->kv[i].arr_strs);
    free(l->kv);
    idx_free(&l->index);
    memset(l, 0, sizeof *l);
}

static const gguf_kv *kvlist_find(const kvlist *l, const char *key) {
    if (!key) return NULL;
    gguf_str s = {key, strlen(key)};
    int64_t i = idx_find(&l->index, l, kv_name, s, -1);
    return i < 0 ? NULL : &l->kv[i];
}

/* ---- the file ---- */
typedef struct gguf_part {
    char *path;
    fr_map map;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_start; /* absolute offset of the data section */
} gguf_part;

struct gguf_file {
    char *path;
    int n_parts;
    gguf_part *parts;
    kvlist kvs; /* from part 0 */
    gguf_tensor *t;
    int64_t n_t, cap_t;
    idx_table tindex;
    uint64_t total_size;
};

static gguf_str tensor_name(const void *ctx, int64_t i) {
    const gguf_tensor *t = &((const gguf_file *)ctx)->t[i];
    return (gguf_str){t->name, strlen(t->name)};
}

/* ---- helpers for messages ---- */
static const char *const k_vtype_names[GGUF_VTYPE_COUNT] = {
    "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",   "FLOAT32",
    "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64",
};

static const char *vtype_name(uint32_t t) { return t < GGUF_VTYPE_COUNT ? k_vtype_names[t] : "?"; }

size_t gguf_vtype_size(int t) {
    switch (t) {
    case GGUF_UINT8:
    case GGUF_INT8:
    case GGUF_BOOL: return 1;
    case GGUF_UINT16:
    case GGUF_INT16: return 2;
    case GGUF_UINT32:
    case GGUF_INT32:
    case GGUF_FLOAT32: return 4;
    case GGUF_UINT64:
    case GGUF_INT64:
    case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static bool vtype_is_int(uint32_t t) {
    return t == GGUF_UINT8 || t == GGUF_INT8 || t == GGUF_UINT16 || t == GGUF_INT16 || t == GGUF_UINT32 ||
           t == GGUF_INT32 || t == GGUF_UINT64 || t == GGUF_INT64;
}
static bool vtype_is_signed(uint32_t t) {
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}

/* A printable, bounded rendering of an untrusted name for error messages. */
typedef struct shown {
    char s[SHOW_MAX * 4 + 8];
} shown;
static const char *show(shown *b, const char *p, uint64_t n) {
    bool utf8 = fr_utf8_valid((const uint8_t *)p, n);
    uint64_t m = n;
    if (m > SHOW_MAX) {
        m = SHOW_MAX;
        while (utf8 && m > 0 && ((uint8_t)p[m] & 0xc0) == 0x80)
            m--; /* whole characters only */
    }
    size_t o = 0;
    for (uint64_t i = 0; i < m; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c < 0x20 || c == 0x7f || c == '\\' || c == '\'' || (c >= 0x80 && !utf8)) {
            o += (size_t)snprintf(b->s + o, sizeof b->s - o, "\\x%02x", c);
        } else {
            b->s[o++] = (char)c;
        }
    }
    if (m < n) {
        memcpy(b->s + o, "...", 3);
        o += 3;
    }
    b->s[o] = '\0';
    return b->s;
}

static fr_status ffail(fr_error *err, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static fr_status ffail(fr_error *err, const char *path, const char *fmt, ...) {
    char tmp[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return fr_fail(err, FR_ERR_FORMAT, "%s: %s", path, tmp);
}

/* Prefixes err's message with context; like fr_error_prefix but with room for a long
 * path and a shown name (the result is cut to the size of the message). */
static void eprefix(fr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void eprefix(fr_error *err, const char *fmt, ...) {
    if (!err) return;
    char pre[sizeof err->msg], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t np = strlen(pre), no = strlen(old);
    if (no > sizeof err->msg - 1 - np) no = sizeof err->msg - 1 - np; /* np <= 511 */
    memcpy(err->msg, pre, np);
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = '\0';
}

/* ---- key/value parsing ---- */

/* Reads one non-array value of type t into kv. Errors name only the value. */
static bool read_scalar(fr_cursor *c, uint32_t t, gguf_kv *kv) {
    switch (t) {
    case GGUF_UINT8: {
        uint8_t v;
        if (!fr_cursor_u8(c, "value (UINT8)", &v)) return false;
        kv->v.u = v;
        return true;
    }
    case GGUF_INT8: {
        int8_t v;
        if (!fr_cursor_i8(c, "value (INT8)", &v)) return false;
        kv->v.i = v;
        return true;
    }
    case GGUF_UINT16: {
        uint16_t v;
        if (!fr_cursor_u16(c, "value (UINT16)", &v)) return false;
        kv->v.u = v;
        return true;
    }
    case GGUF_INT16: {
        int16_t v;
        if (!fr_cursor_i16(c, "value (INT16)", &v)) return false;
        kv->v.i = v;
        return true;
    }
    case GGUF_UINT32: {
        uint32_t v;
        if (!fr_cursor_u32(c, "value (UINT32)", &v)) return false;
        kv->v.u = v;
        return true;
    }
    case GGUF_INT32: {
        int32_t v;
        if (!fr_cursor_i32(c, "value (INT32)", &v)) return false;
        kv->v.i = v;
        return true;
    }
    case GGUF_UINT64: return fr_cursor_u64(c, "value (UINT64)", &kv->v.u);
    case GGUF_INT64: return fr_cursor_i64(c, "value (INT64)", &kv->v.i);
    case GGUF_FLOAT32: {
        float v;
        if (!fr_cursor_f32(c, "value (FLOAT32)", &v)) return false;
        kv->v.f = v;
        return true;
    }
    case GGUF_FLOAT64: return fr_cursor_f64(c, "value (FLOAT64)", &kv->v.f);
    case GGUF_BOOL: {
        size_t at = c->pos;
        uint8_t v;
        if (!fr_cursor_u8(c, "value (BOOL)", &v)) return false;
        if (v > 1) {
            fr_fail(c->err, FR_ERR_FORMAT, "value (BOOL): %u at offset %zu (expected 0 or 1)", v, at);
            return false;
        }
        kv->v.b = v != 0;
        return true;
    }
    case GGUF_STRING: return fr_cursor_str(c, "value (STRING)", GGUF_MAX_STRING, &kv->v.s.ptr, &kv->v.s.len);
    default: return false; /* not reached: the caller checked the type */
    }
}

static bool read_array(fr_cursor *c, gguf_kv *kv) {
    uint32_t et;
    uint64_t n;
    size_t at = c->pos;
    if (!fr_cursor_u32(c, "array element type", &et)) return false;
    if (et == GGUF_ARRAY) {
        fr_fail(c->err, FR_ERR_FORMAT, "array element type: ARRAY at offset %zu (nested arrays are not supported)", at);
        return false;
    }
    if (et >= GGUF_VTYPE_COUNT) {
        fr_fail(c->err, FR_ERR_FORMAT, "array element type: %u at offset %zu (expected 0..%d)", et, at,
                GGUF_VTYPE_COUNT - 1);
        return false;
    }
    at = c->pos;
    if (!fr_cursor_u64(c, "array count", &n)) return false;
    kv->arr_type = (gguf_vtype)et;
    kv->arr_n = n;
    uint64_t rem = fr_cursor_remaining(c);
    if (et == GGUF_STRING) {
        /* Each string needs at least its 8-byte length: bound the count before allocating. */
        if (n > rem / 8) {
            fr_fail(c->err, FR_ERR_FORMAT,
                    "array count: %llu strings at offset %zu (expected at most %llu: each string needs at least "
                    "8 bytes and only %llu remain)",
                    (unsigned long long)n, at, (unsigned long long)(rem / 8), (unsigned long long)rem);
            return false;
        }
        if (n == 0) return true;
        gguf_str *s = calloc((size_t)n, sizeof *s); /* n <= size/8: n * 16 fits */
        if (!s) {
            fr_fail(c->err, FR_ERR_NOMEM, "array of %llu strings: out of memory", (unsigned long long)n);
            return false;
        }
        kv->arr_strs = s;
        for (uint64_t i = 0; i < n; i++) {
            if (!fr_cursor_str(c, "string", GGUF_MAX_STRING, &s[i].ptr, &s[i].len)) {
                eprefix(c->err, "array element %llu: ", (unsigned long long)i);
                return false;
            }
        }
        return true;
    }
    uint64_t bytes;
    if (!ck_mul_u64(n, gguf_vtype_size(et), &bytes)) {
        fr_fail(c->err, FR_ERR_FORMAT, "array count: %llu x %zu-byte %s at offset %zu overflows", (unsigned long long)n,
                gguf_vtype_size(et), vtype_name(et), at);
        return false;
    }
    if (bytes > rem) {
        fr_fail(c->err, FR_ERR_FORMAT, "array count: %llu %s at offset %zu need %llu bytes but only %llu remain",
                (unsigned long long)n, vtype_name(et), at, (unsigned long long)bytes, (unsigned long long)rem);
        return false;
    }
    const uint8_t *p;
    if (!fr_cursor_bytes(c, bytes, "array data", &p)) return false;
    kv->arr_data = p;
    return true;
}

static fr_status parse_kvs(fr_cursor *c, const char *path, uint64_t n_kv, kvlist *l, fr_error *err) {
    for (uint64_t i = 0; i < n_kv; i++) {
        if (l->n == l->cap) {
            int64_t cap = l->cap ? l->cap * 2 : 16;
            gguf_kv *nk = realloc(l->kv, (size_t)cap * sizeof *nk);
            if (!nk) return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory (key/values)", path);
            l->kv = nk;
            l->cap = cap;
        }
        gguf_kv *kv = &l->kv[l->n];
        memset(kv, 0, sizeof *kv);
        const char *kp;
        uint64_t klen;
        if (!fr_cursor_str(c, "key", GGUF_MAX_KEY, &kp, &klen)) {
            eprefix(err, "%s: key #%llu: ", path, (unsigned long long)i);
            return err->code;
        }
        kv->key = (gguf_str){kp, klen};
        shown sk;
        if (klen == 0)
            return ffail(err, path, "key #%llu: empty key (expected 1..%d bytes)", (unsigned long long)i, GGUF_MAX_KEY);
        if (memchr(kp, 0, klen))
            return ffail(err, path, "key #%llu: '%s' contains a NUL byte", (unsigned long long)i, show(&sk, kp, klen));
        if (!fr_utf8_valid((const uint8_t *)kp, klen))
            return ffail(err, path, "key #%llu: '%s' is not valid UTF-8", (unsigned long long)i, show(&sk, kp, klen));
        l->n++; /* from here on kvlist_free() owns what the kv allocates */
        show(&sk, kp, klen);
        uint32_t t;
        size_t at = c->pos;
        bool ok = fr_cursor_u32(c, "value type", &t);
        if (ok && t >= GGUF_VTYPE_COUNT) {
            return ffail(err, path, "key '%s': value type: %u at offset %zu (expected 0..%d)", sk.s, t, at,
                         GGUF_VTYPE_COUNT - 1);
        }
        if (ok) {
            kv->type = (gguf_vtype)t;
            ok = t == GGUF_ARRAY ? read_array(c, kv) : read_scalar(c, t, kv);
        }
        if (!ok) {
            eprefix(err, "%s: key '%s': ", path, sk.s);
            return err->code;
        }
    }
    /* Duplicates: hash the keys (a vocab file has few keys but a model may have many). */
    if (!idx_init(&l->index, l->n)) return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory (key index)", path);
    for (int64_t i = 0; i < l->n; i++) {
        int64_t j = idx_find(&l->index, l, kv_name, l->kv[i].key, i);
        if (j >= 0) {
            shown sk;
            return ffail(err, path, "key '%s': duplicate key (#%lld and #%lld)",
                         show(&sk, l->kv[i].key.ptr, l->kv[i].key.len), (long long)j, (long long)i);
        }
    }
    return FR_OK;
}

/* Integer value of a scalar kv, if it is an integer that fits int64. */
static bool kv_as_i64(const gguf_kv *kv, int64_t *out) {
    if (!vtype_is_int(kv->type)) return false;
    if (vtype_is_signed(kv->type)) {
        *out = kv->v.i;
    } else {
        if (kv->v.u > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)kv->v.u;
    }
    return true;
}

/* ---- tensor infos ---- */

static fr_status parse_tensor(fr_cursor *c, const char *path, uint64_t i, uint32_t alignment, gguf_tensor *t,
                              uint64_t *offset, fr_error *err) {
    memset(t, 0, sizeof *t);
    const char *np;
    uint64_t nlen;
    if (!fr_cursor_str(c, "name", GGUF_MAX_NAME, &np, &nlen)) {
        eprefix(err, "%s: tensor #%llu: ", path, (unsigned long long)i);
        return err->code;
    }
    shown sn;
    if (nlen == 0)
        return ffail(err, path, "tensor #%llu: empty name (expected 1..%d bytes)", (unsigned long long)i,
                     GGUF_MAX_NAME);
    if (memchr(np, 0, nlen))
        return ffail(err, path, "tensor #%llu: name '%s' contains a NUL byte", (unsigned long long)i,
                     show(&sn, np, nlen));
    memcpy(t->name, np, nlen);
    t->name[nlen] = '\0';
    show(&sn, np, nlen);

    uint32_t nd;
    if (!fr_cursor_u32(c, "n_dims", &nd)) goto trunc;
    if (nd < 1 || nd > GGUF_MAX_DIMS)
        return ffail(err, path, "tensor '%s': n_dims: %u (expected 1..%d)", sn.s, nd, GGUF_MAX_DIMS);
    t->n_dims = (int)nd;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        char what[16];
        uint64_t v;
        snprintf(what, sizeof what, "ne[%u]", d);
        if (!fr_cursor_u64(c, what, &v)) goto trunc;
        if (v == 0)
            return ffail(err, path, "tensor '%s': ne[%u]: 0 (expected >= 1; empty tensors are not supported)", sn.s, d);
        if (v > (uint64_t)INT64_MAX)
            return ffail(err, path, "tensor '%s': ne[%u]: %llu (expected 1..%lld)", sn.s, d, (unsigned long long)v,
                         (long long)INT64_MAX);
        t->ne[d] = (int64_t)v;
    }
    int64_t rows = 1, n;
    if (!ck_mul_i64(t->ne[1], t->ne[2], &rows) || !ck_mul_i64(rows, t->ne[3], &rows) || !ck_mul_i64(t->ne[0], rows, &n))
        return ffail(err, path, "tensor '%s': element count %lld x %lld x %lld x %lld overflows int64", sn.s,
                     (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    t->n_elements = n;

    uint32_t type;
    if (!fr_cursor_u32(c, "type", &type)) goto trunc;
    const fr_type_traits *tr = type < FR_TYPE_COUNT ? fr_type_traits_isa((int)type, FR_ISA_SCALAR) : NULL;
    if (!tr) return ffail(err, path, "tensor '%s': type: %u (expected a known tensor type)", sn.s, type);
    t->type = (int)type;
    if (t->ne[0] % tr->block_size != 0)
        return ffail(err, path, "tensor '%s': ne[0]: %lld is not a multiple of the %s block size %lld", sn.s,
                     (long long)t->ne[0], tr->name, (long long)tr->block_size);
    size_t row;
    uint64_t nb;
    if (!fr_row_size(t->type, t->ne[0], &row) || !ck_mul_u64(row, (uint64_t)rows, &nb) || nb > SIZE_MAX)
        return ffail(err, path, "tensor '%s': byte size of %lld rows of %lld %s values overflows", sn.s,
                     (long long)rows, (long long)t->ne[0], tr->name);
    t->nbytes = (size_t)nb;

    if (!fr_cursor_u64(c, "offset", offset)) goto trunc;
    if (*offset % alignment != 0)
        return ffail(err, path, "tensor '%s': offset %llu is not a multiple of alignment %u", sn.s,
                     (unsigned long long)*offset, alignment);
    return FR_OK;
trunc:
    eprefix(err, "%s: tensor '%s': ", path, sn.s);
    return err->code;
}

typedef struct span {
    uint64_t start, end;
    int64_t idx;
} span;
static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static bool grow_tensors(gguf_file *f) {
    if (f->n_t < f->cap_t) return true;
    int64_t cap = f->cap_t ? f->cap_t * 2 : 64;
    gguf_tensor *nt = realloc(f->t, (size_t)cap * sizeof *nt);
    if (!nt) return false;
    f->t = nt;
    f->cap_t = cap;
    return true;
}

/* ---- one file (part) ---- */

/* Checks split.count / split.no of a part. count_from_name is 0 for an unsplit name. */
static fr_status check_split_keys(const kvlist *l, const char *path, int part, int count_from_name, fr_error *err) {
    const gguf_kv *kc = kvlist_find(l, "split.count");
    const gguf_kv *kn = kvlist_find(l, "split.no");
    int64_t v;
    if (kc) {
        if (!kv_as_i64(kc, &v) || v < 0)
            return ffail(err, path, "split.count: type %s (expected a non-negative integer)", vtype_name(kc->type));
        if (count_from_name == 0 && v > 1)
            return ffail(err, path,
                         "split.count: %lld (expected 1: this looks like one part of a split model, but the file "
                         "is not named <name>-NNNNN-of-MMMMM.gguf)",
                         (long long)v);
        if (count_from_name > 0 && v != count_from_name)
            return ffail(err, path, "split.count: %lld (expected %d, from the file name)", (long long)v,
                         count_from_name);
    }
    if (kn && count_from_name > 0) {
        if (!kv_as_i64(kn, &v))
            return ffail(err, path, "split.no: type %s (expected an integer)", vtype_name(kn->type));
        if (v != part)
            return ffail(err, path, "split.no: %lld (expected %d for part %d of %d)", (long long)v, part, part + 1,
                         count_from_name);
    }
    return FR_OK;
}

static fr_status parse_part(gguf_file *f, int pi, int count_from_name, fr_error *err) {
    gguf_part *p = &f->parts[pi];
    const char *path = p->path;
    fr_status s = fr_map_open(path, &p->map, err);
    if (s != FR_OK) {
        if (f->n_parts > 1) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n, " (part %d of %d of a split model)", pi + 1, f->n_parts);
        }
        return s;
    }
    fr_cursor c;
    fr_cursor_init(&c, p->map.data, p->map.size, err);

    const uint8_t *magic;
    if (!fr_cursor_bytes(&c, 4, "magic", &magic)) {
        eprefix(err, "%s: ", path);
        return err->code;
    }
    uint32_t version = 0;
    bool have_version = fr_cursor_u32(&c, "version", &version);
    /* A big-endian file stores the version byte-swapped (3 reads as 0x03000000). */
    uint32_t swapped = __builtin_bswap32(version);
    if (have_version && (version & 0xffff) == 0 && swapped > 0 && swapped <= 0xffff &&
        (memcmp(magic, "GGUF", 4) == 0 || memcmp(magic, "FUGG", 4) == 0))
        return ffail(err, path,
                     "version: 0x%08x (byte-swapped (big-endian) GGUF is not supported; expected a "
                     "little-endian file)",
                     version);
    if (memcmp(magic, "GGUF", 4) != 0) {
        if (memcmp(magic, "FUGG", 4) == 0)
            return ffail(err, path, "magic: \"FUGG\" (byte-swapped (big-endian) GGUF is not supported)");
        shown sm;
        return ffail(err, path, "magic: '%s' (expected \"GGUF\")", show(&sm, (const char *)magic, 4));
    }
    if (!have_version) {
        eprefix(err, "%s: ", path);
        return err->code;
    }
    if (version < 2)
        return ffail(err, path, "version: %u (expected 2 or 3; GGUF v1 and earlier are not supported)", version);
    if (version > 3) return ffail(err, path, "version: %u (expected 2 or 3; newer than this reader supports)", version);
    p->version = version;

    uint64_t n_tensors, n_kv;
    if (!fr_cursor_u64(&c, "n_tensors", &n_tensors) || !fr_cursor_u64(&c, "n_kv", &n_kv)) {
        eprefix(err, "%s: ", path);
        return err->code;
    }
    uint64_t rem = fr_cursor_remaining(&c);
    if (n_kv > GGUF_MAX_KV_COUNT || n_kv > rem / KV_MIN_BYTES)
        return ffail(err, path,
                     "n_kv: %llu (expected at most %llu: each key/value needs at least %d bytes and %llu remain)",
                     (unsigned long long)n_kv, (unsigned long long)FR_MIN(rem / KV_MIN_BYTES, GGUF_MAX_KV_COUNT),
                     KV_MIN_BYTES, (unsigned long long)rem);
    uint64_t after_kv = rem - n_kv * KV_MIN_BYTES;
    if (n_tensors > GGUF_MAX_TENSOR_COUNT || n_tensors > after_kv / TENSOR_MIN_BYTES)
        return ffail(err, path,
                     "n_tensors: %llu (expected at most %llu: each tensor info needs at least %d bytes and "
                     "%llu remain after the key/values)",
                     (unsigned long long)n_tensors,
                     (unsigned long long)FR_MIN(after_kv / TENSOR_MIN_BYTES, GGUF_MAX_TENSOR_COUNT), TENSOR_MIN_BYTES,
                     (unsigned long long)after_kv);

    kvlist local = {0};
    kvlist *l = pi == 0 ? &f->kvs : &local;
    s = parse_kvs(&c, path, n_kv, l, err);
    if (s != FR_OK) goto done;
    s = check_split_keys(l, path, pi, count_from_name, err);
    if (s != FR_OK) goto done;

    p->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *ka = kvlist_find(l, "general.alignment");
    if (ka) {
        int64_t a;
        if (!vtype_is_int(ka->type)) {
            s = ffail(err, path, "general.alignment: type %s (expected an unsigned integer)", vtype_name(ka->type));
            goto done;
        }
        if (!kv_as_i64(ka, &a) || a <= 0 || a > GGUF_MAX_ALIGNMENT || (a & (a - 1)) != 0) {
            if (vtype_is_signed(ka->type))
                s = ffail(err, path, "general.alignment: %lld (expected a power of two in 1..%u)", (long long)ka->v.i,
                          GGUF_MAX_ALIGNMENT);
            else
                s = ffail(err, path, "general.alignment: %llu (expected a power of two in 1..%u)",
                          (unsigned long long)ka->v.u, GGUF_MAX_ALIGNMENT);
            goto done;
        }
        p->alignment = (uint32_t)a;
    }

    int64_t first = f->n_t;
    uint64_t *offs = n_tensors ? malloc((size_t)n_tensors * sizeof *offs) : NULL; /* bounded by the file size */
    if (n_tensors && !offs) {
        s = fr_fail(err, FR_ERR_NOMEM, "%s: out of memory (tensor offsets)", path);
        goto done;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (!grow_tensors(f)) {
            s = fr_fail(err, FR_ERR_NOMEM, "%s: out of memory (tensor infos)", path);
            break;
        }
        s = parse_tensor(&c, path, i, p->alignment, &f->t[f->n_t], &offs[i], err);
        if (s != FR_OK) break;
        f->t[f->n_t].split = pi;
        f->n_t++;
    }
    if (s == FR_OK && !ck_align_u64(c.pos, p->alignment, &p->data_start))
        s = ffail(err, path, "data section start overflows");
    span *sp = NULL;
    if (s == FR_OK && n_tensors) {
        sp = malloc((size_t)n_tensors * sizeof *sp);
        if (!sp) s = fr_fail(err, FR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (uint64_t i = 0; s == FR_OK && i < n_tensors; i++) {
        gguf_tensor *t = &f->t[first + (int64_t)i];
        uint64_t start, end;
        shown sn;
        if (!ck_add_u64(p->data_start, offs[i], &start) || !ck_add_u64(start, t->nbytes, &end)) {
            s = ffail(err, path, "tensor '%s': offset %llu + %zu bytes overflows (data section starts at %llu)",
                      show(&sn, t->name, strlen(t->name)), (unsigned long long)offs[i], t->nbytes,
                      (unsigned long long)p->data_start);
        } else if (end > p->map.size) {
            s = ffail(err, path,
                      "tensor '%s': offset %llu + %zu bytes ends at byte %llu, past the end of the file "
                      "(%zu bytes; data section starts at %llu)",
                      show(&sn, t->name, strlen(t->name)), (unsigned long long)offs[i], t->nbytes,
                      (unsigned long long)end, p->map.size, (unsigned long long)p->data_start);
        } else {
            t->data = p->map.data + start;
            sp[i] = (span){start, end, first + (int64_t)i};
        }
    }
    if (s == FR_OK && n_tensors > 1) {
        qsort(sp, (size_t)n_tensors, sizeof *sp, span_cmp);
        for (uint64_t i = 1; i < n_tensors; i++) {
            if (sp[i].start < sp[i - 1].end) {
                const gguf_tensor *a = &f->t[sp[i - 1].idx], *b = &f->t[sp[i].idx];
                shown sa, sb;
                s = ffail(err, path, "tensor '%s': data [%llu, %llu) overlaps tensor '%s' [%llu, %llu)",
                          show(&sb, b->name, strlen(b->name)), (unsigned long long)(sp[i].start - p->data_start),
                          (unsigned long long)(sp[i].end - p->data_start), show(&sa, a->name, strlen(a->name)),
                          (unsigned long long)(sp[i - 1].start - p->data_start),
                          (unsigned long long)(sp[i - 1].end - p->data_start));
                break;
            }
        }
    }
    free(sp);
    free(offs);
done:
    kvlist_free(&local);
    return s;
}

/* "<prefix>-NNNNN-of-MMMMM.gguf": returns MMMMM (>= 1) and sets *prefix_len, or 0. */
static int split_name(const char *path, size_t *prefix_len) {
    static const char tail[] = "-00000-of-00000.gguf";
    size_t n = strlen(path), tl = sizeof tail - 1;
    if (n <= tl) return 0;
    const char *s = path + n - tl;
    for (size_t i = 0; i < tl; i++) {
        if (tail[i] == '0' ? (s[i] < '0' || s[i] > '9') : s[i] != tail[i]) return 0;
    }
    int no = atoi(s + 1), count = atoi(s + 10);
    if (count < 1 || no < 1 || no > count) return 0;
    *prefix_len = n - tl;
    return count;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_parts; i++) {
        fr_map_close(&f->parts[i].map);
        free(f->parts[i].path);
    }
    free(f->parts);
    kvlist_free(&f->kvs);
    free(f->t);
    idx_free(&f->tindex);
    free(f->path);
    free(f);
}

fr_status gguf_open(const char *path, gguf_file **out, fr_error *err) {
    if (out) *out = NULL;
    if (!path || !out) return fr_fail(err, FR_ERR_ARG, "gguf_open: NULL argument");
    fr_error e = {FR_OK, ""};
    gguf_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t prefix_len = 0;
    int count = split_name(path, &prefix_len);
    int n_parts = count > 0 ? count : 1;
    fr_status s = FR_OK;
    f->parts = calloc((size_t)n_parts, sizeof *f->parts);
    if (!f->parts)
        s = fr_fail(&e, FR_ERR_NOMEM, "%s: out of memory", path);
    else
        f->n_parts = n_parts;
    for (int i = 0; s == FR_OK && i < n_parts; i++) {
        if (count > 0) {
            size_t cap = prefix_len + 32;
            f->parts[i].path = malloc(cap);
            if (f->parts[i].path)
                snprintf(f->parts[i].path, cap, "%.*s-%05d-of-%05d.gguf", (int)prefix_len, path, i + 1, count);
        } else {
            f->parts[i].path = strdup(path);
        }
        if (!f->parts[i].path) {
            s = fr_fail(&e, FR_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        s = parse_part(f, i, count, &e);
        if (s == FR_OK && !ck_add_u64(f->total_size, f->parts[i].map.size, &f->total_size))
            s = ffail(&e, path, "total size overflows");
    }
    /* Tensor names are unique across all parts. */
    if (s == FR_OK && !idx_init(&f->tindex, f->n_t)) s = fr_fail(&e, FR_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; s == FR_OK && i < f->n_t; i++) {
        gguf_str nm = tensor_name(f, i);
        int64_t j = idx_find(&f->tindex, f, tensor_name, nm, i);
        if (j >= 0) {
            shown sn;
            const gguf_tensor *a = &f->t[j], *b = &f->t[i];
            if (a->split == b->split)
                s = ffail(&e, f->parts[b->split].path, "tensor '%s': duplicate name (tensors #%lld and #%lld)",
                          show(&sn, nm.ptr, nm.len), (long long)j, (long long)i);
            else
                s = ffail(&e, f->parts[b->split].path, "tensor '%s': duplicate name (also in part %d, %s)",
                          show(&sn, nm.ptr, nm.len), a->split + 1, f->parts[a->split].path);
        }
    }
    if (s == FR_OK && n_parts > 1) {
        const gguf_kv *kt = kvlist_find(&f->kvs, "split.tensors.count");
        int64_t v;
        if (kt && !kv_as_i64(kt, &v))
            s = ffail(&e, f->parts[0].path, "split.tensors.count: type %s (expected an integer)", vtype_name(kt->type));
        else if (kt && v != f->n_t)
            s = ffail(&e, f->parts[0].path, "split.tensors.count: %lld (expected %lld, the tensors in all %d parts)",
                      (long long)v, (long long)f->n_t, n_parts);
    }
    if (s != FR_OK) {
        if (e.code == FR_OK) e.code = s;
        if (err) *err = e;
        gguf_close(f);
        return s;
    }
    *out = f;
    return FR_OK;
}

/* ---- accessors ---- */
const char *gguf_path(const gguf_file *f) { return f ? f->path : ""; }
uint32_t gguf_version(const gguf_file *f) { return f ? f->parts[0].version : 0; }
int gguf_n_splits(const gguf_file *f) { return f ? f->n_parts : 0; }
uint64_t gguf_file_size(const gguf_file *f) { return f ? f->total_size : 0; }
int64_t gguf_n_kv(const gguf_file *f) { return f ? f->kvs.n : 0; }

const gguf_kv *gguf_kv_at(const gguf_file *f, int64_t i) { return f && i >= 0 && i < f->kvs.n ? &f->kvs.kv[i] : NULL; }

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) { return f ? kvlist_find(&f->kvs, key) : NULL; }

int64_t gguf_n_tensors(const gguf_file *f) { return f ? f->n_t : 0; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i) { return f && i >= 0 && i < f->n_t ? &f->t[i] : NULL; }

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    if (!f || !name) return NULL;
    gguf_str s = {name, strlen(name)};
    int64_t i = idx_find(&f->tindex, f, tensor_name, s, -1);
    return i < 0 ? NULL : &f->t[i];
}

bool gguf_str_eq(gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

/* ---- typed getters ---- */
static const gguf_kv *lookup(const gguf_file *f, const char *key, int *r) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    *r = kv ? 1 : 0;
    return kv;
}

static int wrong_type(fr_error *err, const char *key, const gguf_kv *kv, const char *expected) {
    if (kv->type == GGUF_ARRAY)
        fr_fail(err, FR_ERR_FORMAT, "%s: type ARRAY of %s (expected %s)", key, vtype_name(kv->arr_type), expected);
    else
        fr_fail(err, FR_ERR_FORMAT, "%s: type %s (expected %s)", key, vtype_name(kv->type), expected);
    return -1;
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t *out, fr_error *err) {
    int r;
    const gguf_kv *kv = lookup(f, key, &r);
    if (!kv) return 0;
    if (!vtype_is_int(kv->type)) return wrong_type(err, key, kv, "an integer");
    if (!kv_as_i64(kv, out)) {
        fr_fail(err, FR_ERR_FORMAT, "%s: %llu (expected a value that fits int64)", key, (unsigned long long)kv->v.u);
        return -1;
    }
    return 1;
}

int gguf_get_uint(const gguf_file *f, const char *key, uint64_t *out, fr_error *err) {
    int r;
    const gguf_kv *kv = lookup(f, key, &r);
    if (!kv) return 0;
    if (!vtype_is_int(kv->type)) return wrong_type(err, key, kv, "an unsigned integer");
    if (vtype_is_signed(kv->type)) {
        if (kv->v.i < 0) {
            fr_fail(err, FR_ERR_FORMAT, "%s: %lld (expected a non-negative integer)", key, (long long)kv->v.i);
            return -1;
        }
        *out = (uint64_t)kv->v.i;
    } else {
        *out = kv->v.u;
    }
    return 1;
}

int gguf_get_float(const gguf_file *f, const char *key, double *out, fr_error *err) {
    int r;
    const gguf_kv *kv = lookup(f, key, &r);
    if (!kv) return 0;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) {
        *out = kv->v.f;
    } else if (vtype_is_int(kv->type)) {
        *out = vtype_is_signed(kv->type) ? (double)kv->v.i : (double)kv->v.u;
    } else {
        return wrong_type(err, key, kv, "a number");
    }
    return 1;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out, fr_error *err) {
    int r;
    const gguf_kv *kv = lookup(f, key, &r);
    if (!kv) return 0;
    if (kv->type != GGUF_BOOL) return wrong_type(err, key, kv, "BOOL");
    *out = kv->v.b;
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, fr_error *err) {
    int r;
    const gguf_kv *kv = lookup(f, key, &r);
    if (!kv) return 0;
    if (kv->type != GGUF_STRING) return wrong_type(err, key, kv, "STRING");
    *out = kv->v.s;
    return 1;
}

int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, const gguf_kv **out, fr_error *err) {
    int r;
    const gguf_kv *kv = lookup(f, key, &r);
    if (!kv) return 0;
    if (kv->type != GGUF_ARRAY) {
        char exp[32];
        snprintf(exp, sizeof exp, "ARRAY of %s", elem == GGUF_VTYPE_COUNT ? "any type" : vtype_name(elem));
        return wrong_type(err, key, kv, exp);
    }
    if (elem != GGUF_VTYPE_COUNT && kv->arr_type != elem) {
        fr_fail(err, FR_ERR_FORMAT, "%s: type ARRAY of %s (expected ARRAY of %s)", key, vtype_name(kv->arr_type),
                vtype_name(elem));
        return -1;
    }
    *out = kv;
    return 1;
}

/* Raw element i as a sign- or zero-extended integer, or a double; false for strings. */
static bool arr_elem(const gguf_kv *kv, uint64_t i, int64_t *iv, uint64_t *uv, double *dv, int *kind) {
    if (kv->type != GGUF_ARRAY || i >= kv->arr_n || !kv->arr_data) return false;
    size_t sz = gguf_vtype_size(kv->arr_type);
    const uint8_t *p = (const uint8_t *)kv->arr_data + i * sz;
    switch (kv->arr_type) {
    case GGUF_UINT8:
    case GGUF_BOOL:
        *uv = p[0];
        *kind = 1;
        return true;
    case GGUF_UINT16:
        *uv = fr_load_le16(p);
        *kind = 1;
        return true;
    case GGUF_UINT32:
        *uv = fr_load_le32(p);
        *kind = 1;
        return true;
    case GGUF_UINT64:
        *uv = fr_load_le64(p);
        *kind = 1;
        return true;
    case GGUF_INT8:
        *iv = (int8_t)p[0];
        *kind = 0;
        return true;
    case GGUF_INT16:
        *iv = (int16_t)fr_load_le16(p);
        *kind = 0;
        return true;
    case GGUF_INT32:
        *iv = (int32_t)fr_load_le32(p);
        *kind = 0;
        return true;
    case GGUF_INT64: {
        uint64_t u = fr_load_le64(p);
        memcpy(iv, &u, 8);
        *kind = 0;
        return true;
    }
    case GGUF_FLOAT32: {
        uint32_t u = fr_load_le32(p);
        float x;
        memcpy(&x, &u, 4);
        *dv = x;
        *kind = 2;
        return true;
    }
    case GGUF_FLOAT64: {
        uint64_t u = fr_load_le64(p);
        memcpy(dv, &u, 8);
        *kind = 2;
        return true;
    }
    default: return false;
    }
}

double gguf_arr_float(const gguf_kv *kv, uint64_t i) {
    int64_t iv = 0;
    uint64_t uv = 0;
    double dv = 0;
    int kind = 0;
    if (!kv || !arr_elem(kv, i, &iv, &uv, &dv, &kind)) return 0.0;
    return kind == 0 ? (double)iv : kind == 1 ? (double)uv : dv;
}

int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i) {
    int64_t iv = 0;
    uint64_t uv = 0;
    double dv = 0;
    int kind = 0;
    if (!kv || !arr_elem(kv, i, &iv, &uv, &dv, &kind)) return 0;
    if (kind == 0) return iv;
    if (kind == 1) return uv > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)uv;
    if (!(dv == dv)) return 0; /* NaN */
    if (dv >= 9.2233720368547758e18) return INT64_MAX;
    if (dv <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)dv;
}

/* gguf_write.c: the GGUF v3 writer (little-endian, aligned data section).
 *
 * Key/values are serialized to their on-disk bytes when they are set, so writing is a
 * straight copy. Setting a key that exists replaces its value in place (order is kept).
 * The writer refuses what the reader would reject: bad keys and names, unknown types,
 * bad dimensions, sizes that overflow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "gguf.h"
#include "mmap.h"

#define WRITER_MAX_ALIGNMENT (1u << 20)

typedef struct wkv {
    char *key; /* NUL-terminated */
    size_t klen;
    uint32_t type;
    uint8_t *val; /* the value's on-disk bytes */
    size_t vlen;
} wkv;

typedef struct wtensor {
    char name[GGUF_MAX_NAME + 1];
    int type, n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    size_t nbytes;
    const void *data;
    gguf_fill_fn fill;
    void *user;
    uint64_t offset; /* set by write */
} wtensor;

struct gguf_writer {
    wkv *kv;
    int64_t n_kv, cap_kv;
    wtensor *t;
    int64_t n_t, cap_t;
};

/* ---- a growable byte buffer ---- */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n) {
    if (b->oom || n == 0) return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u8(wbuf *b, uint8_t v) { put(b, &v, 1); }
static void put_u16(wbuf *b, uint16_t v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}
static void put_u32(wbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}
static void put_u64(wbuf *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}
static void put_str(wbuf *b, const char *s, uint64_t n) {
    put_u64(b, n);
    put(b, s, (size_t)n);
}

/* ---- writer ---- */
gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

static bool key_ok(const char *key, size_t len) { return len > 0 && len <= GGUF_MAX_KEY && fr_utf8_valid(key, len); }

/* Takes ownership of the value buffer b (freed on failure too). */
static fr_status set_kv(gguf_writer *w, const char *key, size_t klen, uint32_t type, wbuf *b) {
    if (b->oom) {
        free(b->p);
        return FR_ERR_NOMEM;
    }
    if (!w || !key || !key_ok(key, klen) || memchr(key, 0, klen)) {
        free(b->p);
        return FR_ERR_ARG;
    }
    for (int64_t i = 0; i < w->n_kv; i++) {
        wkv *kv = &w->kv[i];
        if (kv->klen == klen && memcmp(kv->key, key, klen) == 0) {
            free(kv->val);
            kv->type = type;
            kv->val = b->p;
            kv->vlen = b->n;
            return FR_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *nk = realloc(w->kv, (size_t)cap * sizeof *nk);
        if (!nk) {
            free(b->p);
            return FR_ERR_NOMEM;
        }
        w->kv = nk;
        w->cap_kv = cap;
    }
    char *k = malloc(klen + 1);
    if (!k) {
        free(b->p);
        return FR_ERR_NOMEM;
    }
    memcpy(k, key, klen);
    k[klen] = '\0';
    w->kv[w->n_kv++] = (wkv){k, klen, type, b->p, b->n};
    return FR_OK;
}

static fr_status set_c(gguf_writer *w, const char *key, uint32_t type, wbuf *b) {
    return set_kv(w, key, key ? strlen(key) : 0, type, b);
}

fr_status gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) {
    wbuf b = {0};
    put_u32(&b, v);
    return set_c(w, key, GGUF_UINT32, &b);
}

fr_status gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) {
    wbuf b = {0};
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(&b, u);
    return set_c(w, key, GGUF_INT32, &b);
}

fr_status gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v) {
    wbuf b = {0};
    put_u64(&b, v);
    return set_c(w, key, GGUF_UINT64, &b);
}

fr_status gguf_writer_set_f32(gguf_writer *w, const char *key, float v) {
    wbuf b = {0};
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(&b, u);
    return set_c(w, key, GGUF_FLOAT32, &b);
}

fr_status gguf_writer_set_bool(gguf_writer *w, const char *key, bool v) {
    wbuf b = {0};
    put_u8(&b, v ? 1 : 0);
    return set_c(w, key, GGUF_BOOL, &b);
}

fr_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    if (!v) return FR_ERR_ARG;
    size_t n = strlen(v);
    if (n > GGUF_MAX_STRING) return FR_ERR_ARG;
    wbuf b = {0};
    put_str(&b, v, n);
    return set_c(w, key, GGUF_STRING, &b);
}

/* data: n little-endian elements of `elem` (the host is little-endian: see the check below). */
static void put_arr_num(wbuf *b, uint32_t elem, const void *data, uint64_t n) {
    put_u32(b, elem);
    put_u64(b, n);
    put(b, data, (size_t)(n * gguf_vtype_size(elem))); /* caller checked the product */
}

fr_status gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n) {
    uint64_t bytes;
    if (gguf_vtype_size(elem) == 0 || (n > 0 && !data) || !ck_mul_u64(n, gguf_vtype_size(elem), &bytes) || bytes > SIZE_MAX / 2)
        return FR_ERR_ARG;
    wbuf b = {0};
    put_arr_num(&b, elem, data, n);
    return set_c(w, key, GGUF_ARRAY, &b);
}

fr_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, const uint64_t *lens,
                                  uint64_t n) {
    if (n > 0 && !strs) return FR_ERR_ARG;
    wbuf b = {0};
    put_u32(&b, GGUF_STRING);
    put_u64(&b, n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = lens ? lens[i] : (strs[i] ? strlen(strs[i]) : 0);
        if ((len > 0 && !strs[i]) || len > GGUF_MAX_STRING) {
            free(b.p);
            return FR_ERR_ARG;
        }
        put_str(&b, strs[i], len);
    }
    return set_c(w, key, GGUF_ARRAY, &b);
}

static bool has_prefix(gguf_str s, const char *pre) {
    size_t n = strlen(pre);
    return s.len >= n && memcmp(s.ptr, pre, n) == 0;
}

fr_status gguf_writer_copy_kv(gguf_writer *w, const gguf_file *src, const char *prefix_only,
                              const char *const *skip_prefixes) {
    if (!w || !src) return FR_ERR_ARG;
    for (int64_t i = 0; i < gguf_n_kv(src); i++) {
        const gguf_kv *kv = gguf_kv_at(src, i);
        if (prefix_only && !has_prefix(kv->key, prefix_only)) continue;
        bool skip = false;
        for (const char *const *sp = skip_prefixes; sp && *sp && !skip; sp++)
            skip = has_prefix(kv->key, *sp);
        if (skip) continue;
        wbuf b = {0};
        switch (kv->type) {
        case GGUF_UINT8:
        case GGUF_INT8: put_u8(&b, (uint8_t)kv->v.u); break;
        case GGUF_UINT16:
        case GGUF_INT16: put_u16(&b, (uint16_t)kv->v.u); break;
        case GGUF_UINT32:
        case GGUF_INT32: put_u32(&b, (uint32_t)kv->v.u); break;
        case GGUF_UINT64:
        case GGUF_INT64: put_u64(&b, kv->v.u); break;
        case GGUF_FLOAT32: {
            float x = (float)kv->v.f;
            uint32_t u;
            memcpy(&u, &x, 4);
            put_u32(&b, u);
            break;
        }
        case GGUF_FLOAT64: {
            uint64_t u;
            memcpy(&u, &kv->v.f, 8);
            put_u64(&b, u);
            break;
        }
        case GGUF_BOOL: put_u8(&b, kv->v.b ? 1 : 0); break;
        case GGUF_STRING: put_str(&b, kv->v.s.ptr, kv->v.s.len); break;
        case GGUF_ARRAY:
            if (kv->arr_type == GGUF_STRING) {
                put_u32(&b, GGUF_STRING);
                put_u64(&b, kv->arr_n);
                for (uint64_t j = 0; j < kv->arr_n; j++)
                    put_str(&b, kv->arr_strs[j].ptr, kv->arr_strs[j].len);
            } else {
                put_arr_num(&b, kv->arr_type, kv->arr_data, kv->arr_n); /* validated by the reader */
            }
            break;
        default: return FR_ERR_ARG;
        }
        fr_status s = set_kv(w, kv->key.ptr, (size_t)kv->key.len, kv->type, &b);
        if (s != FR_OK) return s;
    }
    return FR_OK;
}

fr_status gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                                 const void *data, gguf_fill_fn fill, void *fill_user, fr_error *err) {
    if (!w || !name || !ne) return fr_fail(err, FR_ERR_ARG, "gguf_writer_add_tensor: NULL argument");
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > GGUF_MAX_NAME)
        return fr_fail(err, FR_ERR_ARG, "tensor '%.64s': name length %zu (expected 1..%d)", name, nlen, GGUF_MAX_NAME);
    const fr_type_traits *tr = fr_type_traits_isa(type, FR_ISA_SCALAR);
    if (!tr) return fr_fail(err, FR_ERR_ARG, "tensor '%s': type %d (expected a known tensor type)", name, type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return fr_fail(err, FR_ERR_ARG, "tensor '%s': n_dims %d (expected 1..%d)", name, n_dims, GGUF_MAX_DIMS);
    if (!data && !fill) return fr_fail(err, FR_ERR_ARG, "tensor '%s': neither data nor a fill callback", name);
    wtensor t = {0};
    memcpy(t.name, name, nlen + 1);
    t.type = type;
    t.n_dims = n_dims;
    int64_t rows = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 1)
            return fr_fail(err, FR_ERR_ARG, "tensor '%s': ne[%d] = %lld (expected >= 1)", name, d, (long long)t.ne[d]);
        if (d > 0 && !ck_mul_i64(rows, t.ne[d], &rows))
            return fr_fail(err, FR_ERR_ARG, "tensor '%s': row count overflows int64", name);
    }
    int64_t nel;
    size_t row;
    uint64_t nb;
    if (!ck_mul_i64(t.ne[0], rows, &nel))
        return fr_fail(err, FR_ERR_ARG, "tensor '%s': element count overflows int64", name);
    if (t.ne[0] % tr->block_size != 0)
        return fr_fail(err, FR_ERR_ARG, "tensor '%s': ne[0] = %lld is not a multiple of the %s block size %lld", name,
                       (long long)t.ne[0], tr->name, (long long)tr->block_size);
    if (!fr_row_size(type, t.ne[0], &row) || !ck_mul_u64(row, (uint64_t)rows, &nb) || nb > SIZE_MAX)
        return fr_fail(err, FR_ERR_ARG, "tensor '%s': byte size overflows", name);
    t.nbytes = (size_t)nb;
    t.data = data;
    t.fill = data ? NULL : fill;
    t.user = fill_user;
    for (int64_t i = 0; i < w->n_t; i++) {
        if (strcmp(w->t[i].name, name) == 0) return fr_fail(err, FR_ERR_ARG, "tensor '%s': duplicate name", name);
    }
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = realloc(w->t, (size_t)cap * sizeof *nt);
        if (!nt) return fr_fail(err, FR_ERR_NOMEM, "tensor '%s': out of memory", name);
        w->t = nt;
        w->cap_t = cap;
    }
    w->t[w->n_t++] = t;
    return FR_OK;
}

static bool write_all(FILE *fp, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, fp) == n; }

static bool write_pad(FILE *fp, uint64_t n) {
    static const uint8_t zeros[64];
    while (n > 0) {
        size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
        if (!write_all(fp, zeros, k)) return false;
        n -= k;
    }
    return true;
}

fr_status gguf_writer_write(gguf_writer *w, const char *path, uint32_t alignment, fr_error *err) {
    if (!w || !path) return fr_fail(err, FR_ERR_ARG, "gguf_writer_write: NULL argument");
    {
        const uint16_t probe = 1;
        uint8_t first;
        memcpy(&first, &probe, 1);
        if (first != 1) return fr_fail(err, FR_ERR_UNSUPPORTED, "%s: writing GGUF on a big-endian host", path);
    }
    if (alignment == 0) alignment = GGUF_DEFAULT_ALIGNMENT;
    if ((alignment & (alignment - 1)) != 0 || alignment > WRITER_MAX_ALIGNMENT)
        return fr_fail(err, FR_ERR_ARG, "%s: alignment %u (expected a power of two in 1..%u)", path, alignment,
                       WRITER_MAX_ALIGNMENT);
    /* The file records its alignment unless it is the default. */
    bool have_key = false;
    for (int64_t i = 0; i < w->n_kv; i++)
        have_key |= strcmp(w->kv[i].key, "general.alignment") == 0;
    if (have_key || alignment != GGUF_DEFAULT_ALIGNMENT) {
        fr_status s = gguf_writer_set_u32(w, "general.alignment", alignment);
        if (s != FR_OK) return fr_fail(err, s, "%s: out of memory", path);
    }

    /* Offsets: each tensor starts aligned; sizes are checked before padding is added. */
    uint64_t off = 0;
    size_t max_fill = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        t->offset = off;
        if (!ck_add_u64(off, t->nbytes, &off) || !ck_align_u64(off, alignment, &off))
            return fr_fail(err, FR_ERR_ARG, "%s: tensor '%s': data section size overflows", path, t->name);
        if (t->fill && t->nbytes > max_fill) max_fill = t->nbytes;
    }

    wbuf h = {0};
    put(&h, "GGUF", 4);
    put_u32(&h, 3);
    put_u64(&h, (uint64_t)w->n_t);
    put_u64(&h, (uint64_t)w->n_kv);
    for (int64_t i = 0; i < w->n_kv; i++) {
        put_str(&h, w->kv[i].key, w->kv[i].klen);
        put_u32(&h, w->kv[i].type);
        put(&h, w->kv[i].val, w->kv[i].vlen);
    }
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(&h, t->name, strlen(t->name));
        put_u32(&h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++)
            put_u64(&h, (uint64_t)t->ne[d]);
        put_u32(&h, (uint32_t)t->type);
        put_u64(&h, t->offset);
    }
    uint64_t hdr_end;
    if (h.oom || !ck_align_u64(h.n, alignment, &hdr_end)) {
        free(h.p);
        return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory (header)", path);
    }

    uint8_t *fillbuf = NULL;
    if (max_fill > 0 && !(fillbuf = malloc(max_fill))) {
        free(h.p);
        return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory (%zu bytes for a tensor)", path, max_fill);
    }
    fr_status s = FR_OK;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        s = fr_fail(err, FR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    } else if (!write_all(fp, h.p, h.n) || !write_pad(fp, hdr_end - h.n)) {
        s = fr_fail(err, FR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    for (int64_t i = 0; s == FR_OK && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        const void *src = t->data;
        if (!src) {
            fr_error fe = {FR_OK, ""};
            fr_status fs = t->fill(fillbuf, t->nbytes, t->user, &fe);
            if (fs != FR_OK) {
                s = fr_fail(err, fs, "%s: tensor '%s': %s", path, t->name, fe.msg[0] ? fe.msg : "fill failed");
                break;
            }
            src = fillbuf;
        }
        uint64_t padded = t->nbytes;
        (void)ck_align_u64(t->nbytes, alignment, &padded); /* cannot fail: checked above */
        if (!write_all(fp, src, t->nbytes) || !write_pad(fp, padded - t->nbytes))
            s = fr_fail(err, FR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    if (fp && fclose(fp) != 0 && s == FR_OK) s = fr_fail(err, FR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (fp && s != FR_OK) unlink(path);
    free(fillbuf);
    free(h.p);
    return s;
}

/* tok_util.c: buffers, UTF-8, the byte-level alphabet and the hash maps of the tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "tok.h"

bool fr_buf_reserve(fr_buf *b, size_t extra) {
    size_t need;
    if (!ck_add_size(b->n, extra, &need)) return false;
    if (need <= b->cap) return true;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) {
            nc = need;
            break;
        }
        nc *= 2;
    }
    char *p = realloc(b->p, nc);
    if (!p) return false;
    b->p = p;
    b->cap = nc;
    return true;
}

bool fr_buf_put(fr_buf *b, const void *s, size_t n) {
    if (n == 0) return true;
    if (!fr_buf_reserve(b, n)) return false;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return true;
}

void fr_buf_free(fr_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

bool fr_ids_push(fr_ids *a, int32_t id) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, nc * sizeof *v);
        if (!v) return false;
        a->v = v;
        a->cap = nc;
    }
    a->v[a->n++] = id;
    return true;
}

void fr_ids_free(fr_ids *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

bool fr_pieces_add(fr_pieces *p, const char *s, size_t n) {
    if (n == 0) return true;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 32;
        fr_piece *v = realloc(p->v, nc * sizeof *v);
        if (!v) return false;
        p->v = v;
        p->cap = nc;
    }
    size_t off = p->text.n;
    if (!fr_buf_put(&p->text, s, n)) return false;
    p->v[p->n++] = (fr_piece){off, n};
    return true;
}

void fr_pieces_free(fr_pieces *p) {
    fr_buf_free(&p->text);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* ---- UTF-8 ---- */
int fr_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) len = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

int fr_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

bool fr_is_whitespace(uint32_t cp) {
    if (cp >= 0x09 && cp <= 0x0d) return true;
    switch (cp) {
    case 0x20: case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

/* GPT-2's byte-level alphabet: printable bytes stand for themselves, the other 68 bytes map
 * to U+0100.. in byte order. */
static bool bl_printable(unsigned b) { return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae); }

uint32_t fr_byte_to_cp(uint8_t b) {
    if (bl_printable(b)) return b;
    /* the 68 others, in order: 0x00-0x20, 0x7f-0xa0, 0xad */
    if (b <= 0x20) return 0x100u + b;
    if (b == 0xad) return 0x100u + 67;
    return 0x100u + 33 + (uint32_t)(b - 0x7f);
}

int fr_cp_to_byte(uint32_t cp) {
    if (cp < 0x100) return bl_printable(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68) return -1;
    uint32_t k = cp - 0x100;
    if (k < 33) return (int)k;
    if (k == 67) return 0xad;
    return (int)(0x7f + (k - 33));
}

bool fr_bytelevel_decode(const char *s, size_t n, fr_buf *out) {
    size_t start = out->n;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = fr_utf8_seq((const unsigned char *)s + i, n - i, &cp);
        int b = l > 0 ? fr_cp_to_byte(cp) : -1;
        if (b < 0) {
            out->n = start;
            return false;
        }
        if (!fr_buf_putc(out, (char)b)) {
            out->n = start;
            return false;
        }
        i += (size_t)l;
    }
    return true;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int fr_byte_token_value(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hexv(s[3]), lo = hexv(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* ---- hashing (FNV-1a, 32-bit, mixed) ---- */
uint32_t fr_hash(const void *s, size_t n) {
    const unsigned char *p = s;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

static bool smap_grow(fr_smap *m) {
    size_t nc = m->cap ? m->cap * 2 : 1024;
    fr_smap_slot *s = malloc(nc * sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i < nc; i++) s[i].len = UINT32_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].len == UINT32_MAX) continue;
        size_t j = m->slots[i].hash & (nc - 1);
        while (s[j].len != UINT32_MAX) j = (j + 1) & (nc - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap = nc;
    return true;
}

int fr_smap_put(fr_smap *m, const char *base, uint32_t off, uint32_t len, int32_t val, int32_t *old) {
    if ((m->n + 1) * 4 > m->cap * 3 && !smap_grow(m)) return -1;
    uint32_t h = fr_hash(base + off, len);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].len != UINT32_MAX) {
        fr_smap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(base + s->off, base + off, len) == 0) {
            if (old) *old = s->val;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = (fr_smap_slot){h, off, len, val};
    m->n++;
    return 1;
}

int32_t fr_smap_get(const fr_smap *m, const char *base, const char *key, size_t len) {
    if (!m->cap || len >= UINT32_MAX) return -1;
    uint32_t h = fr_hash(key, len);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].len != UINT32_MAX) {
        const fr_smap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(base + s->off, key, len) == 0) return s->val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void fr_smap_free(fr_smap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
static size_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

static bool pmap_grow(fr_pmap *m) {
    size_t nc = m->cap ? m->cap * 2 : 1024;
    fr_pmap_slot *s = malloc(nc * sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i < nc; i++) s[i].key = UINT64_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == UINT64_MAX) continue;
        size_t j = pair_hash(m->slots[i].key) & (nc - 1);
        while (s[j].key != UINT64_MAX) j = (j + 1) & (nc - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap = nc;
    return true;
}

int fr_pmap_put(fr_pmap *m, int32_t a, int32_t b, int32_t rank, int32_t id) {
    if ((m->n + 1) * 2 > m->cap && !pmap_grow(m)) return -1;
    uint64_t k = pair_key(a, b);
    size_t j = pair_hash(k) & (m->cap - 1);
    while (m->slots[j].key != UINT64_MAX) {
        if (m->slots[j].key == k) return 0;
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = (fr_pmap_slot){k, rank, id};
    m->n++;
    return 1;
}

bool fr_pmap_get(const fr_pmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *id) {
    if (!m->cap) return false;
    uint64_t k = pair_key(a, b);
    size_t j = pair_hash(k) & (m->cap - 1);
    while (m->slots[j].key != UINT64_MAX) {
        if (m->slots[j].key == k) {
            *rank = m->slots[j].rank;
            *id = m->slots[j].id;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

void fr_pmap_free(fr_pmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

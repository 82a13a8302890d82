/* test_gguf: the GGUF reader and writer.
 *
 * (a) writer -> reader round trips (every value type, arrays, tensors of several types,
 *     alignments 32 and 64), typed getters, writer refusals;
 * (b) bad files for shared/CHECKLIST.md items 1-11, crafted byte by byte: each must fail
 *     with a message naming the field and the value; truncation at every offset; a
 *     corruption fuzz (fixed seed) that must never crash;
 * (c) split models; (d) every GGUF under ../shared/models and ../shared/tokenizer.
 * Set GGUF_TEST_VERBOSE=1 to print every rejection message. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dtype.h"
#include "io/gguf.h"

static char g_dir[64];
static bool g_verbose;

static const char *tpath(const char *name) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 256, "%s/%s", g_dir, name);
    return p;
}

/* ---- raw byte builder: writes exactly what it is told, valid or not ---- */
typedef struct rb {
    uint8_t *p;
    size_t n, cap;
} rb;

static void rb_put(rb *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort(); /* test harness only */
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}
/* clang-format off */
static void rb_u8(rb *b, uint8_t v) { rb_put(b, &v, 1); }
static void rb_u16(rb *b, uint16_t v) { for (int i = 0; i < 2; i++) rb_u8(b, (uint8_t)(v >> (8 * i))); }
static void rb_u32(rb *b, uint32_t v) { for (int i = 0; i < 4; i++) rb_u8(b, (uint8_t)(v >> (8 * i))); }
static void rb_u64(rb *b, uint64_t v) { for (int i = 0; i < 8; i++) rb_u8(b, (uint8_t)(v >> (8 * i))); }
static void rb_strn(rb *b, const void *s, uint64_t n) { rb_u64(b, n); rb_put(b, s, (size_t)n); }
static void rb_str(rb *b, const char *s) { rb_strn(b, s, strlen(s)); }
static void rb_pad(rb *b, size_t align) { while (b->n % align) rb_u8(b, 0); }
static void rb_zeros(rb *b, size_t n) { for (size_t i = 0; i < n; i++) rb_u8(b, (uint8_t)(i * 7)); } /* filler */
static void rb_free(rb *b) { free(b->p); memset(b, 0, sizeof *b); }
static void rb_hdr(rb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    rb_put(b, "GGUF", 4); rb_u32(b, version); rb_u64(b, n_tensors); rb_u64(b, n_kv);
}
static void rb_kv_u32(rb *b, const char *k, uint32_t v) { rb_str(b, k); rb_u32(b, GGUF_UINT32); rb_u32(b, v); }
static void rb_kv_str(rb *b, const char *k, const char *v) { rb_str(b, k); rb_u32(b, GGUF_STRING); rb_str(b, v); }
static void rb_ti(rb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off) {
    rb_str(b, name); rb_u32(b, nd);
    for (uint32_t d = 0; d < nd; d++) rb_u64(b, ne[d]);
    rb_u32(b, type); rb_u64(b, off);
}
/* clang-format on */

/* A file with one key and one tensor, then 32-aligned data of data_bytes. */
static void one_tensor(rb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off,
                       size_t data_bytes) {
    rb_hdr(b, 3, 1, 1);
    rb_kv_str(b, "general.architecture", "llama");
    rb_ti(b, name, nd, ne, type, off);
    rb_pad(b, 32);
    rb_zeros(b, data_bytes);
}

static bool save(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return false;
    bool ok = (n == 0 || fwrite(p, 1, n, fp) == n);
    return fclose(fp) == 0 && ok;
}

static uint8_t *load(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
    if (p && fread(p, 1, (size_t)sz, fp) != (size_t)sz) {
        free(p);
        p = NULL;
    }
    fclose(fp);
    *n = (size_t)sz;
    return p;
}

/* Writes b as `name`, opens it, and requires a failure whose message starts with the path
 * and contains every substring in subs (NULL-terminated). Frees b. */
static void expect_bad_(int line, rb *b, const char *name, const char *const *subs) {
    const char *path = tpath(name);
    CHECK(save(path, b->p, b->n), "line %d: cannot write %s", line, path);
    rb_free(b);
    gguf_file *f = (gguf_file *)1;
    fr_error err = {FR_OK, ""};
    fr_status s = gguf_open(path, &f, &err);
    CHECK(s != FR_OK, "line %d: %s opened but must fail", line, name);
    CHECK(f == NULL, "line %d: out must be NULL on failure", line);
    if (s == FR_OK) {
        gguf_close(f);
        return;
    }
    CHECK(err.code == s, "line %d: err.code %d != status %d", line, err.code, s);
    CHECK(strncmp(err.msg, path, strlen(path)) == 0, "line %d: message does not start with the path: %s", line,
          err.msg);
    for (const char *const *q = subs; *q; q++)
        CHECK(strstr(err.msg, *q) != NULL, "line %d: message lacks \"%s\": %s", line, *q, err.msg);
    if (g_verbose) printf("  [%s] %s\n", name, err.msg);
}
#define EXPECT_BAD(b, name, ...) expect_bad_(__LINE__, (b), (name), (const char *const[]){__VA_ARGS__, NULL})

static gguf_file *open_ok(const char *path) {
    gguf_file *f = NULL;
    fr_error err = {FR_OK, ""};
    fr_status s = gguf_open(path, &f, &err);
    CHECK(s == FR_OK && f, "open %s: %s", path, err.msg);
    return s == FR_OK ? f : NULL;
}

/* ---------------------------------------------------------------------------------------
 * (a) round trips */

static void fill_bytes(uint8_t *p, size_t n, uint64_t seed) {
    test_rng r = {seed};
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(test_rng_next(&r) >> 24);
}

typedef struct tdef {
    const char *name;
    int type, n_dims;
    int64_t ne[4];
    size_t nbytes;
    uint8_t *data;
    bool use_fill;
} tdef;

static fr_status fill_cb(void *dst, size_t nbytes, void *user, fr_error *err) {
    const tdef *t = user;
    if (nbytes != t->nbytes) return fr_fail(err, FR_ERR_ARG, "fill size %zu != %zu", nbytes, t->nbytes);
    memcpy(dst, t->data, nbytes);
    return FR_OK;
}

static fr_status fill_fail(void *dst, size_t nbytes, void *user, fr_error *err) {
    return fr_fail(err, FR_ERR_IO, "synthetic failure");
}

static void test_roundtrip(uint32_t alignment) {
    tdef ts[] = {
        {"token_embd.weight", FR_TYPE_F32, 2, {64, 3, 1, 1}, 64 * 3 * 4, NULL, false},
        {"blk.0.attn_q.weight", FR_TYPE_Q8_0, 2, {64, 2, 1, 1}, 2 * 2 * sizeof(block_q8_0), NULL, false},
        {"blk.0.ffn_up.weight", FR_TYPE_Q4_K, 3, {256, 2, 2, 1}, 4 * sizeof(block_q4_K), NULL, true},
        {"output_norm.weight", FR_TYPE_F32, 1, {5, 1, 1, 1}, 20, NULL, false},
        {"blk.0.ffn_gate_exps.weight", FR_TYPE_F16, 4, {8, 2, 3, 2}, 8 * 2 * 3 * 2 * 2, NULL, true},
    };
    const int nt = (int)FR_ARRAY_LEN(ts);
    gguf_writer *w = gguf_writer_new();
    CHECK(w != NULL, "writer");
    if (!w) return;
    CHECK(gguf_writer_set_str(w, "general.architecture", "llama") == FR_OK, "set_str");
    CHECK(gguf_writer_set_u32(w, "llama.block_count", 7) == FR_OK, "set_u32");
    CHECK(gguf_writer_set_i32(w, "test.i32", -123456) == FR_OK, "set_i32");
    CHECK(gguf_writer_set_u64(w, "test.u64", 0xfedcba9876543210ull) == FR_OK, "set_u64");
    CHECK(gguf_writer_set_f32(w, "test.f32", 1.5e-5f) == FR_OK, "set_f32");
    CHECK(gguf_writer_set_bool(w, "test.bool", true) == FR_OK, "set_bool");
    CHECK(gguf_writer_set_str(w, "test.empty_str", "") == FR_OK, "set_str empty");
    CHECK(gguf_writer_set_str(w, "test.utf8.\xc3\xa9\xe2\x82\xac", "\xe4\xb8\xad") == FR_OK, "utf-8 key");
    CHECK(gguf_writer_set_u32(w, "test.replaced", 1) == FR_OK, "set");
    CHECK(gguf_writer_set_str(w, "test.replaced", "now a string") == FR_OK, "replace");
    /* numeric arrays of every element type */
    uint8_t a_u8[] = {0, 1, 255};
    int8_t a_i8[] = {-128, 0, 127};
    uint16_t a_u16[] = {0, 65535, 300};
    int16_t a_i16[] = {-32768, 5, 32767};
    uint32_t a_u32[] = {0, 4000000000u, 7};
    int32_t a_i32[] = {INT32_MIN, -1, INT32_MAX};
    float a_f32[] = {-1.25f, 0.0f, 3.5e8f};
    uint8_t a_bool[] = {1, 0, 1};
    uint64_t a_u64[] = {0, UINT64_MAX, 42};
    int64_t a_i64[] = {INT64_MIN, -2, INT64_MAX};
    double a_f64[] = {-1e300, 0.5, 2.0};
    struct {
        const char *key;
        gguf_vtype t;
        const void *data;
    } arrs[] = {
        {"arr.u8", GGUF_UINT8, a_u8},     {"arr.i8", GGUF_INT8, a_i8},      {"arr.u16", GGUF_UINT16, a_u16},
        {"arr.i16", GGUF_INT16, a_i16},   {"arr.u32", GGUF_UINT32, a_u32},  {"arr.i32", GGUF_INT32, a_i32},
        {"arr.f32", GGUF_FLOAT32, a_f32}, {"arr.bool", GGUF_BOOL, a_bool},  {"arr.u64", GGUF_UINT64, a_u64},
        {"arr.i64", GGUF_INT64, a_i64},   {"arr.f64", GGUF_FLOAT64, a_f64},
    };
    for (size_t i = 0; i < FR_ARRAY_LEN(arrs); i++)
        CHECK(gguf_writer_set_arr(w, arrs[i].key, arrs[i].t, arrs[i].data, 3) == FR_OK, "set_arr %s", arrs[i].key);
    CHECK(gguf_writer_set_arr(w, "arr.empty", GGUF_INT32, NULL, 0) == FR_OK, "empty array");
    const char *strs[] = {"hello", "", "a\0b", "\xe2\x96\x81the"};
    const uint64_t lens[] = {5, 0, 3, 6};
    CHECK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, lens, 4) == FR_OK, "set_arr_str");
    CHECK(gguf_writer_set_arr_str(w, "arr.str_empty", NULL, NULL, 0) == FR_OK, "empty string array");

    /* writer refusals */
    CHECK(gguf_writer_set_u32(w, "", 1) == FR_ERR_ARG, "empty key refused");
    CHECK(gguf_writer_set_u32(w, "bad.\xff", 1) == FR_ERR_ARG, "invalid UTF-8 key refused");
    CHECK(gguf_writer_set_arr(w, "arr.bad", GGUF_STRING, a_u8, 3) == FR_ERR_ARG, "string elem via set_arr");
    CHECK(gguf_writer_set_arr(w, "arr.bad", GGUF_ARRAY, a_u8, 3) == FR_ERR_ARG, "nested array refused");
    CHECK(gguf_writer_set_arr(w, "arr.bad", GGUF_UINT32, a_u32, UINT64_MAX / 2) == FR_ERR_ARG, "overflowing array");

    fr_error err = {FR_OK, ""};
    for (int i = 0; i < nt; i++) {
        ts[i].data = malloc(ts[i].nbytes);
        fill_bytes(ts[i].data, ts[i].nbytes, 100 + (uint64_t)i);
        fr_status s =
            gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne,
                                   ts[i].use_fill ? NULL : ts[i].data, ts[i].use_fill ? fill_cb : NULL, &ts[i], &err);
        CHECK(s == FR_OK, "add_tensor %s: %s", ts[i].name, err.msg);
    }
    int64_t bad_ne[4] = {33, 2, 1, 1};
    CHECK(gguf_writer_add_tensor(w, "x", FR_TYPE_Q8_0, 2, bad_ne, ts[0].data, NULL, NULL, &err) == FR_ERR_ARG &&
              strstr(err.msg, "block size"),
          "ne[0] not a multiple refused: %s", err.msg);
    int64_t zero_ne[4] = {32, 0, 1, 1};
    CHECK(gguf_writer_add_tensor(w, "x", FR_TYPE_F32, 2, zero_ne, ts[0].data, NULL, NULL, &err) == FR_ERR_ARG,
          "zero dim refused");
    CHECK(gguf_writer_add_tensor(w, "x", 4, 1, bad_ne, ts[0].data, NULL, NULL, &err) == FR_ERR_ARG, "type 4 refused");
    CHECK(gguf_writer_add_tensor(w, "x", FR_TYPE_F32, 5, bad_ne, ts[0].data, NULL, NULL, &err) == FR_ERR_ARG, "5 dims");
    CHECK(gguf_writer_add_tensor(w, ts[0].name, FR_TYPE_F32, 1, bad_ne, ts[0].data, NULL, NULL, &err) == FR_ERR_ARG &&
              strstr(err.msg, "duplicate"),
          "duplicate tensor refused: %s", err.msg);
    CHECK(gguf_writer_add_tensor(w, "", FR_TYPE_F32, 1, bad_ne, ts[0].data, NULL, NULL, &err) == FR_ERR_ARG,
          "empty name");
    CHECK(gguf_writer_write(w, tpath("never.gguf"), 3, &err) == FR_ERR_ARG, "alignment 3 refused");
    CHECK(access(tpath("never.gguf"), F_OK) != 0, "no file left behind");

    char name[64];
    snprintf(name, sizeof name, "roundtrip_%u.gguf", alignment);
    const char *path = tpath(name);
    fr_status s = gguf_writer_write(w, path, alignment, &err);
    CHECK(s == FR_OK, "write: %s", err.msg);
    gguf_writer_free(w);

    gguf_file *f = open_ok(path);
    if (f) {
        CHECK(gguf_version(f) == 3, "version %u", gguf_version(f));
        CHECK(gguf_n_splits(f) == 1, "splits");
        CHECK(strcmp(gguf_path(f), path) == 0, "path");
        int64_t iv;
        uint64_t uv;
        double dv;
        bool bv;
        gguf_str sv;
        const gguf_kv *kv;
        CHECK(gguf_get_str(f, "general.architecture", &sv, &err) == 1 && gguf_str_eq(sv, "llama"), "arch");
        CHECK(gguf_get_int(f, "llama.block_count", &iv, &err) == 1 && iv == 7, "u32 as int");
        CHECK(gguf_get_uint(f, "llama.block_count", &uv, &err) == 1 && uv == 7, "u32 as uint");
        CHECK(gguf_get_float(f, "llama.block_count", &dv, &err) == 1 && dv == 7.0, "u32 as float");
        CHECK(gguf_get_int(f, "test.i32", &iv, &err) == 1 && iv == -123456, "i32");
        CHECK(gguf_get_uint(f, "test.i32", &uv, &err) == -1 && strstr(err.msg, "test.i32"), "negative as uint: %s",
              err.msg);
        CHECK(gguf_get_uint(f, "test.u64", &uv, &err) == 1 && uv == 0xfedcba9876543210ull, "u64");
        CHECK(gguf_get_int(f, "test.u64", &iv, &err) == -1 && strstr(err.msg, "int64"), "u64 too big for int: %s",
              err.msg);
        CHECK(gguf_get_float(f, "test.f32", &dv, &err) == 1 && dv == (double)1.5e-5f, "f32");
        CHECK(gguf_get_int(f, "test.f32", &iv, &err) == -1 && strstr(err.msg, "FLOAT32") && strstr(err.msg, "test.f32"),
              "float as int: %s", err.msg);
        CHECK(gguf_get_bool(f, "test.bool", &bv, &err) == 1 && bv, "bool");
        CHECK(gguf_get_bool(f, "test.i32", &bv, &err) == -1 && strstr(err.msg, "INT32"), "int as bool: %s", err.msg);
        CHECK(gguf_get_str(f, "test.empty_str", &sv, &err) == 1 && sv.len == 0, "empty string");
        CHECK(gguf_get_str(f, "test.utf8.\xc3\xa9\xe2\x82\xac", &sv, &err) == 1 && gguf_str_eq(sv, "\xe4\xb8\xad"),
              "utf8");
        CHECK(gguf_get_str(f, "test.replaced", &sv, &err) == 1 && gguf_str_eq(sv, "now a string"), "replaced");
        CHECK(gguf_get_str(f, "absent.key", &sv, &err) == 0, "absent");
        CHECK(gguf_get_str(f, "arr.u8", &sv, &err) == -1 && strstr(err.msg, "ARRAY"), "array as string: %s", err.msg);
        CHECK(gguf_find_kv(f, "absent") == NULL, "find absent");
        CHECK(gguf_kv_at(f, -1) == NULL && gguf_kv_at(f, gguf_n_kv(f)) == NULL, "kv_at bounds");
        /* alignment key present iff not the default */
        kv = gguf_find_kv(f, "general.alignment");
        CHECK(alignment == GGUF_DEFAULT_ALIGNMENT ? kv == NULL
                                                  : (kv && kv->type == GGUF_UINT32 && kv->v.u == alignment),
              "general.alignment");
        for (size_t i = 0; i < FR_ARRAY_LEN(arrs); i++) {
            CHECK(gguf_get_arr(f, arrs[i].key, arrs[i].t, &kv, &err) == 1, "get_arr %s: %s", arrs[i].key, err.msg);
            if (kv) CHECK(kv->arr_n == 3 && kv->arr_type == arrs[i].t, "arr %s shape", arrs[i].key);
        }
        CHECK(gguf_get_arr(f, "arr.u8", GGUF_INT32, &kv, &err) == -1 && strstr(err.msg, "UINT8"), "arr type: %s",
              err.msg);
        CHECK(gguf_get_arr(f, "test.i32", GGUF_VTYPE_COUNT, &kv, &err) == -1, "scalar as array");
        CHECK(gguf_get_arr(f, "arr.u8", GGUF_VTYPE_COUNT, &kv, &err) == 1, "any elem type");
        /* element accessors, in the order of arrs[] */
        static const int64_t want_i[11][3] = {{0, 1, 255},
                                              {-128, 0, 127},
                                              {0, 65535, 300},
                                              {-32768, 5, 32767},
                                              {0, 4000000000, 7},
                                              {INT32_MIN, -1, INT32_MAX},
                                              {-1, 0, 350000000},
                                              {1, 0, 1},
                                              {0, INT64_MAX, 42},
                                              {INT64_MIN, -2, INT64_MAX},
                                              {-9223372036854775807 - 1, 0, 2}};
        for (size_t i = 0; i < FR_ARRAY_LEN(arrs); i++) {
            const gguf_kv *a = gguf_find_kv(f, arrs[i].key);
            size_t esz = arrs[i].t == GGUF_UINT8 || arrs[i].t == GGUF_INT8 || arrs[i].t == GGUF_BOOL        ? 1
                         : arrs[i].t == GGUF_UINT16 || arrs[i].t == GGUF_INT16                              ? 2
                         : arrs[i].t == GGUF_UINT64 || arrs[i].t == GGUF_INT64 || arrs[i].t == GGUF_FLOAT64 ? 8
                                                                                                            : 4;
            CHECK(a && memcmp(a->arr_data, arrs[i].data, 3 * esz) == 0, "%s raw bytes", arrs[i].key);
            for (int j = 0; a && j < 3; j++)
                CHECK(gguf_arr_int(a, (uint64_t)j) == want_i[i][j], "%s[%d] as int: %lld", arrs[i].key, j,
                      (long long)gguf_arr_int(a, (uint64_t)j));
        }
        const gguf_kv *af = gguf_find_kv(f, "arr.f32"), *ad = gguf_find_kv(f, "arr.f64"),
                      *au = gguf_find_kv(f, "arr.u64");
        for (int j = 0; j < 3; j++) {
            CHECK(gguf_arr_float(af, (uint64_t)j) == a_f32[j], "f32[%d]", j);
            CHECK(gguf_arr_float(ad, (uint64_t)j) == a_f64[j], "f64[%d]", j);
            CHECK(gguf_arr_float(au, (uint64_t)j) == (double)a_u64[j], "u64[%d] as float", j);
        }
        CHECK(gguf_get_arr(f, "arr.empty", GGUF_INT32, &kv, &err) == 1 && kv->arr_n == 0, "empty array");
        CHECK(gguf_get_arr(f, "arr.str_empty", GGUF_STRING, &kv, &err) == 1 && kv->arr_n == 0, "empty string array");
        CHECK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &kv, &err) == 1 && kv->arr_n == 4, "tokens");
        for (int i = 0; kv && i < 4; i++)
            CHECK(kv->arr_strs[i].len == lens[i] && memcmp(kv->arr_strs[i].ptr, strs[i], lens[i]) == 0, "token %d", i);

        CHECK(gguf_n_tensors(f) == nt, "n_tensors %lld", (long long)gguf_n_tensors(f));
        for (int i = 0; i < nt && i < gguf_n_tensors(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            CHECK(strcmp(t->name, ts[i].name) == 0, "name %s", t->name);
            CHECK(gguf_find_tensor(f, ts[i].name) == t, "find %s", ts[i].name);
            CHECK(t->type == ts[i].type && t->n_dims == ts[i].n_dims, "type/dims %s", t->name);
            int64_t nel = 1;
            for (int d = 0; d < 4; d++) {
                CHECK(t->ne[d] == ts[i].ne[d], "%s ne[%d] = %lld", t->name, d, (long long)t->ne[d]);
                nel *= ts[i].ne[d];
            }
            CHECK(t->n_elements == nel && t->nbytes == ts[i].nbytes, "%s size %zu", t->name, t->nbytes);
            CHECK(((uintptr_t)t->data % alignment) == 0, "%s data aligned to %u", t->name, alignment);
            CHECK(memcmp(t->data, ts[i].data, ts[i].nbytes) == 0, "%s data bytes", t->name);
            CHECK(t->split == 0, "split");
        }
        CHECK(gguf_find_tensor(f, "missing") == NULL, "find missing");
        CHECK(gguf_tensor_at(f, nt) == NULL, "tensor_at bounds");

        /* copy_kv: prefix filter and skip list, then the copy round-trips every value */
        gguf_writer *w2 = gguf_writer_new();
        const char *skip[] = {"arr.u", "arr.i", NULL};
        CHECK(gguf_writer_copy_kv(w2, f, "arr.", skip) == FR_OK, "copy_kv");
        const char *p2 = tpath("copied.gguf");
        CHECK(gguf_writer_write(w2, p2, 0, &err) == FR_OK, "write copy: %s", err.msg);
        gguf_writer_free(w2);
        gguf_file *g = open_ok(p2);
        if (g) {
            CHECK(gguf_n_kv(g) == 5, "copied keys: %lld", (long long)gguf_n_kv(g)); /* f32 bool f64 empty str_empty */
            CHECK(gguf_find_kv(g, "arr.u8") == NULL && gguf_find_kv(g, "general.architecture") == NULL, "filtered");
            const gguf_kv *a = gguf_find_kv(f, "arr.f64"), *b = gguf_find_kv(g, "arr.f64");
            CHECK(a && b && b->arr_n == 3 && memcmp(a->arr_data, b->arr_data, 24) == 0, "copied f64 array");
            gguf_close(g);
        }
        gguf_close(f);
    }
    for (int i = 0; i < nt; i++)
        free(ts[i].data);

    /* a failing fill callback: error names the tensor, no file left */
    gguf_writer *w3 = gguf_writer_new();
    int64_t ne1[1] = {4};
    gguf_writer_add_tensor(w3, "t", FR_TYPE_F32, 1, ne1, NULL, fill_fail, NULL, &err);
    s = gguf_writer_write(w3, tpath("fillfail.gguf"), 32, &err);
    CHECK(s == FR_ERR_IO && strstr(err.msg, "'t'") && strstr(err.msg, "synthetic"), "fill failure: %s", err.msg);
    CHECK(access(tpath("fillfail.gguf"), F_OK) != 0, "failed write removed");
    gguf_writer_free(w3);
}

/* clang-format off: one file record per line, as laid out on disk */
/* Every scalar type via raw bytes (the writer has setters for only some), then copy_kv. */
static void test_all_scalars(void) {
    rb b = {0};
    rb_hdr(&b, 2, 0, 13); /* version 2 is accepted too */
    rb_str(&b, "s.u8");
    rb_u32(&b, GGUF_UINT8);
    rb_u8(&b, 200);
    rb_str(&b, "s.i8");
    rb_u32(&b, GGUF_INT8);
    rb_u8(&b, 0x80);
    rb_str(&b, "s.u16");
    rb_u32(&b, GGUF_UINT16);
    rb_u16(&b, 65000);
    rb_str(&b, "s.i16");
    rb_u32(&b, GGUF_INT16);
    rb_u16(&b, 0xfffe);
    rb_str(&b, "s.u32");
    rb_u32(&b, GGUF_UINT32);
    rb_u32(&b, 4000000000u);
    rb_str(&b, "s.i32");
    rb_u32(&b, GGUF_INT32);
    rb_u32(&b, 0xffffff85u);
    rb_str(&b, "s.f32");
    rb_u32(&b, GGUF_FLOAT32);
    rb_u32(&b, 0x40490fdbu); /* pi */
    rb_str(&b, "s.bool");
    rb_u32(&b, GGUF_BOOL);
    rb_u8(&b, 0);
    rb_str(&b, "s.str");
    rb_u32(&b, GGUF_STRING);
    rb_str(&b, "text");
    rb_str(&b, "s.arr");
    rb_u32(&b, GGUF_ARRAY);
    rb_u32(&b, GGUF_UINT16);
    rb_u64(&b, 2);
    rb_u16(&b, 1);
    rb_u16(&b, 2);
    rb_str(&b, "s.u64");
    rb_u32(&b, GGUF_UINT64);
    rb_u64(&b, UINT64_MAX);
    rb_str(&b, "s.i64");
    rb_u32(&b, GGUF_INT64);
    rb_u64(&b, (uint64_t)INT64_MIN);
    rb_str(&b, "s.f64");
    rb_u32(&b, GGUF_FLOAT64);
    {
        double d = -0.125;
        uint64_t u;
        memcpy(&u, &d, 8);
        rb_u64(&b, u);
    }
    const char *path = tpath("scalars.gguf");
    save(path, b.p, b.n);
    rb_free(&b);
    for (int pass = 0; pass < 2; pass++) {
        gguf_file *f = open_ok(path);
        if (!f) return;
        fr_error err;
        int64_t iv;
        uint64_t uv;
        double dv;
        bool bv;
        gguf_str sv;
        CHECK(gguf_version(f) == (pass ? 3u : 2u), "version");
        CHECK(gguf_n_kv(f) == 13, "n_kv");
        CHECK(gguf_get_uint(f, "s.u8", &uv, &err) == 1 && uv == 200, "u8");
        CHECK(gguf_get_int(f, "s.i8", &iv, &err) == 1 && iv == -128, "i8");
        CHECK(gguf_get_uint(f, "s.u16", &uv, &err) == 1 && uv == 65000, "u16");
        CHECK(gguf_get_int(f, "s.i16", &iv, &err) == 1 && iv == -2, "i16");
        CHECK(gguf_get_uint(f, "s.u32", &uv, &err) == 1 && uv == 4000000000u, "u32");
        CHECK(gguf_get_int(f, "s.i32", &iv, &err) == 1 && iv == -123, "i32");
        CHECK(gguf_get_float(f, "s.f32", &dv, &err) == 1 && fabs(dv - 3.14159265) < 1e-6, "f32");
        CHECK(gguf_get_bool(f, "s.bool", &bv, &err) == 1 && !bv, "bool");
        CHECK(gguf_get_str(f, "s.str", &sv, &err) == 1 && gguf_str_eq(sv, "text"), "str");
        CHECK(gguf_get_uint(f, "s.u64", &uv, &err) == 1 && uv == UINT64_MAX, "u64");
        CHECK(gguf_get_int(f, "s.i64", &iv, &err) == 1 && iv == INT64_MIN, "i64");
        CHECK(gguf_get_float(f, "s.i64", &dv, &err) == 1 && dv == (double)INT64_MIN, "i64 as float");
        CHECK(gguf_get_float(f, "s.f64", &dv, &err) == 1 && dv == -0.125, "f64");
        CHECK(gguf_get_float(f, "s.str", &dv, &err) == -1 && strstr(err.msg, "s.str") && strstr(err.msg, "STRING"),
              "str as float: %s", err.msg);
        const gguf_kv *a;
        CHECK(gguf_get_arr(f, "s.arr", GGUF_UINT16, &a, &err) == 1 && gguf_arr_int(a, 1) == 2, "u16 array");
        for (int64_t i = 0; i < gguf_n_kv(f); i++)
            CHECK(gguf_kv_at(f, i)->type == (gguf_vtype)i, "order");
        if (pass == 0) { /* copy every key through the writer and check again */
            gguf_writer *w = gguf_writer_new();
            CHECK(gguf_writer_copy_kv(w, f, NULL, NULL) == FR_OK, "copy all");
            path = tpath("scalars_copy.gguf");
            CHECK(gguf_writer_write(w, path, 32, &err) == FR_OK, "write: %s", err.msg);
            gguf_writer_free(w);
        }
        gguf_close(f);
    }
}

/* clang-format on */

/* ---------------------------------------------------------------------------------------
 * (b) bad files */

/* A small valid file: keys of several kinds and tensors; the last tensor's size is a
 * multiple of the alignment so that the file has no trailing padding (every cut is bad). */
#define SMALL_DATA_BYTES (160 + 96 + 256 * 4) /* a (padded), b (padded), c */
static const char *write_small_valid(void) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.context_length", 128);
    gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    const char *toks[] = {"<s>", "</s>", "a", "bc"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 4);
    float sc[4] = {0, 0, -1, -2};
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, sc, 4);
    static float d0[40], d1[256];
    for (int i = 0; i < 40; i++)
        d0[i] = (float)i;
    for (int i = 0; i < 256; i++)
        d1[i] = -(float)i;
    uint8_t q[sizeof(block_q8_0) * 2] = {0};
    int64_t ne0[2] = {8, 5}, ne1[1] = {64}, ne2[2] = {32, 8};
    fr_error err;
    gguf_writer_add_tensor(w, "a.weight", FR_TYPE_F32, 2, ne0, d0, NULL, NULL, &err);
    gguf_writer_add_tensor(w, "b.weight", FR_TYPE_Q8_0, 1, ne1, q, NULL, NULL, &err);
    gguf_writer_add_tensor(w, "c.weight", FR_TYPE_F32, 2, ne2, d1, NULL, NULL, &err);
    const char *path = tpath("small.gguf");
    fr_status s = gguf_writer_write(w, path, 32, &err);
    CHECK(s == FR_OK, "write small: %s", err.msg);
    gguf_writer_free(w);
    return path;
}

static void test_truncation(void) {
    const char *path = write_small_valid();
    size_t n;
    uint8_t *bytes = load(path, &n);
    CHECK(bytes && n > 100, "load small");
    if (!bytes) return;
    gguf_file *f = open_ok(path);
    gguf_close(f);
    const char *cut = tpath("cut.gguf");
    int failed_ok = 0;
    for (size_t len = 0; len < n; len++) {
        save(cut, bytes, len);
        gguf_file *g = (gguf_file *)1;
        fr_error err = {FR_OK, ""};
        fr_status s = gguf_open(cut, &g, &err);
        bool ok = s != FR_OK && g == NULL && err.msg[0] && strncmp(err.msg, cut, strlen(cut)) == 0;
        CHECK(ok, "truncated at %zu of %zu: status %d: %s", len, n, s, err.msg);
        if (s == FR_OK) gguf_close(g);
        failed_ok += ok;
        if (g_verbose && (len == 0 || len == 5 || len == 30 || len == n - 1)) printf("  [cut %zu] %s\n", len, err.msg);
    }
    printf("truncation: %d of %zu cuts rejected\n", failed_ok, n);
    free(bytes);
}

static void test_fuzz(void) {
    const char *path = write_small_valid();
    size_t n;
    uint8_t *orig = load(path, &n);
    if (!orig) return;
    uint8_t *buf = malloc(n);
    test_rng r = {12345};
    const char *fz = tpath("fuzz.gguf");
    int opened = 0;
    size_t header = n - SMALL_DATA_BYTES; /* aim most corruption at the header */
    for (int it = 0; it < 2000; it++) {
        memcpy(buf, orig, n);
        int k = 1 + (int)(test_rng_next(&r) % 6);
        for (int j = 0; j < k; j++) {
            uint64_t x = test_rng_next(&r);
            size_t pos = (x % 8 == 0) ? (size_t)((x >> 8) % n) : (size_t)((x >> 8) % header);
            uint8_t v;
            switch ((x >> 4) % 4) {
            case 0: v = (uint8_t)(x >> 40); break;
            case 1: v = buf[pos] ^ (uint8_t)(1u << ((x >> 40) % 8)); break;
            case 2: v = 0xff; break;
            default: v = 0; break;
            }
            buf[pos] = v;
        }
        size_t len = (test_rng_next(&r) % 16 == 0) ? (size_t)(test_rng_next(&r) % n) : n;
        save(fz, buf, len);
        gguf_file *f = NULL;
        fr_error err = {FR_OK, ""};
        if (gguf_open(fz, &f, &err) == FR_OK) {
            opened++;
            /* touch everything the API hands out */
            volatile uint64_t sum = 0;
            for (int64_t i = 0; i < gguf_n_kv(f); i++) {
                const gguf_kv *kv = gguf_kv_at(f, i);
                sum += kv->key.len + (uint8_t)kv->key.ptr[kv->key.len - 1];
                if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING)
                    for (uint64_t e = 0; e < kv->arr_n; e++)
                        sum += kv->arr_strs[e].len ? (uint8_t)kv->arr_strs[e].ptr[0] : 0;
                else if (kv->type == GGUF_ARRAY)
                    for (uint64_t e = 0; e < kv->arr_n; e++)
                        sum += (uint64_t)gguf_arr_int(kv, e);
            }
            for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
                const gguf_tensor *t = gguf_tensor_at(f, i);
                sum += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
                CHECK(gguf_find_tensor(f, t->name) == t, "fuzz find");
            }
            (void)sum;
            gguf_close(f);
        } else {
            CHECK(f == NULL && err.msg[0], "fuzz: failure without message");
        }
    }
    printf("fuzz: 2000 corrupted files, %d opened, %d rejected\n", opened, 2000 - opened);
    free(buf);
    free(orig);
}

/* clang-format off: one file record per line, as laid out on disk */
static void test_bad_header(void) {
    rb b = {0};
    /* item 1 edge: empty file, and a file shorter than the header */
    EXPECT_BAD(&b, "empty.gguf", "0 bytes");
    rb_put(&b, "GGU", 3);
    EXPECT_BAD(&b, "short_magic.gguf", "magic", "truncated");
    rb_put(&b, "GGUF", 4);
    rb_u32(&b, 3);
    rb_u32(&b, 0);
    EXPECT_BAD(&b, "short_counts.gguf", "n_tensors", "truncated");
    /* item 2 */
    rb_put(&b,
           "\x7f"
           "ELF",
           4);
    rb_u32(&b, 3);
    rb_u64(&b, 0);
    rb_u64(&b, 0);
    EXPECT_BAD(&b, "magic.gguf", "magic", "\\x7fELF", "expected \"GGUF\"");
    rb_hdr(&b, 0, 0, 0);
    EXPECT_BAD(&b, "v0.gguf", "version: 0", "expected 2 or 3");
    rb_hdr(&b, 1, 0, 0);
    EXPECT_BAD(&b, "v1.gguf", "version: 1", "expected 2 or 3");
    rb_hdr(&b, 4, 0, 0);
    EXPECT_BAD(&b, "v4.gguf", "version: 4", "newer");
    rb_hdr(&b, 0x03000000, 0, 0);
    EXPECT_BAD(&b, "swapped.gguf", "byte-swapped (big-endian) GGUF is not supported");
    rb_put(&b, "FUGG", 4);
    rb_u32(&b, 0x03000000);
    rb_u64(&b, 0);
    rb_u64(&b, 0);
    EXPECT_BAD(&b, "swapped2.gguf", "byte-swapped (big-endian)");
    /* item 3: counts that cannot fit in the bytes present (checked before allocating) */
    rb_hdr(&b, 3, 0, UINT64_MAX);
    EXPECT_BAD(&b, "nkv_max.gguf", "n_kv: 18446744073709551615", "expected at most 0");
    rb_hdr(&b, 3, 0, 1000);
    rb_kv_u32(&b, "a.b", 1);
    EXPECT_BAD(&b, "nkv_1000.gguf", "n_kv: 1000");
    rb_hdr(&b, 3, (uint64_t)1 << 60, 1);
    rb_kv_u32(&b, "a.b", 1);
    EXPECT_BAD(&b, "nt_huge.gguf", "n_tensors: 1152921504606846976", "expected at most 0");
    rb_hdr(&b, 3, 3, 1); /* three tensors claimed, room for ~two, only one present */
    rb_kv_u32(&b, "a.b", 1);
    rb_ti(&b, "t", 1, (uint64_t[]){8}, FR_TYPE_F32, 0);
    rb_zeros(&b, 40);
    EXPECT_BAD(&b, "nt_3.gguf", "n_tensors: 3");
    rb_hdr(&b, 3, 0, 2); /* count fits the bytes, but the second key is not there */
    rb_kv_u32(&b, "a.b", 1);
    rb_zeros(&b, 20);
    EXPECT_BAD(&b, "nkv_short.gguf", "key #1");
}

static void test_bad_keys(void) {
    rb b = {0};
    /* item 4 */
    rb_hdr(&b, 3, 0, 1);
    rb_kv_u32(&b, "", 1);
    EXPECT_BAD(&b, "key_empty.gguf", "key #0", "empty key");
    char *big = malloc(70000);
    memset(big, 'k', 70000);
    rb_hdr(&b, 3, 0, 1);
    rb_strn(&b, big, 65536);
    rb_u32(&b, GGUF_UINT32);
    rb_u32(&b, 1);
    EXPECT_BAD(&b, "key_long.gguf", "key #0", "key length: 65536", "at most 65535");
    rb_hdr(&b, 3, 0, 1);
    rb_strn(&b, big, 65535);
    rb_u32(&b, GGUF_UINT32);
    rb_u16(&b, 1);
    EXPECT_BAD(&b, "key_long_ok_but_trunc.gguf", "value (UINT32)",
               "truncated"); /* exactly at the limit: ok, then cut */
    rb_hdr(&b, 3, 0, 1);
    rb_kv_u32(&b, "general.\xff\xfe", 1);
    EXPECT_BAD(&b, "key_utf8.gguf", "key #0", "not valid UTF-8", "general.\\xff\\xfe");
    rb_hdr(&b, 3, 0, 1);
    rb_kv_u32(&b, "overlong.\xc0\xaf", 1);
    EXPECT_BAD(&b, "key_utf8_overlong.gguf", "not valid UTF-8");
    rb_hdr(&b, 3, 0, 1);
    rb_kv_u32(&b, "surrogate.\xed\xa0\x80", 1);
    EXPECT_BAD(&b, "key_utf8_surrogate.gguf", "not valid UTF-8");
    rb_hdr(&b, 3, 0, 1);
    rb_strn(&b, "a\0b", 3);
    rb_u32(&b, GGUF_UINT32);
    rb_u32(&b, 1);
    EXPECT_BAD(&b, "key_nul.gguf", "NUL");
    rb_hdr(&b, 3, 0, 3);
    rb_kv_u32(&b, "x.a", 1);
    rb_kv_u32(&b, "x.b", 2);
    rb_kv_str(&b, "x.a", "again");
    EXPECT_BAD(&b, "key_dup.gguf", "key 'x.a'", "duplicate", "#0 and #2");
    /* a long key shown in a message is cut, never the whole 65535 bytes */
    rb_hdr(&b, 3, 0, 1);
    rb_strn(&b, big, 60000);
    rb_u32(&b, 77);
    rb_u32(&b, 1);
    EXPECT_BAD(&b, "key_long_shown.gguf", "kkkk...", "value type: 77");
    free(big);

    /* item 5: value types, arrays, strings */
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.t");
    rb_u32(&b, 13);
    rb_u32(&b, 0);
    EXPECT_BAD(&b, "vtype13.gguf", "key 'v.t'", "value type: 13", "expected 0..12");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.t");
    rb_u32(&b, 0xffffffffu);
    rb_u32(&b, 0);
    EXPECT_BAD(&b, "vtype_ff.gguf", "value type: 4294967295");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.n");
    rb_u32(&b, GGUF_ARRAY);
    rb_u32(&b, GGUF_ARRAY);
    rb_u64(&b, 1);
    rb_u32(&b, GGUF_UINT8);
    rb_u64(&b, 1);
    rb_u8(&b, 1);
    EXPECT_BAD(&b, "nested.gguf", "key 'v.n'", "nested arrays");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.a");
    rb_u32(&b, GGUF_ARRAY);
    rb_u32(&b, 42);
    rb_u64(&b, 1);
    rb_u64(&b, 0);
    EXPECT_BAD(&b, "arr_elem_type.gguf", "array element type: 42");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.a");
    rb_u32(&b, GGUF_ARRAY);
    rb_u32(&b, GGUF_UINT64);
    rb_u64(&b, (uint64_t)1 << 61);
    rb_u64(&b, 0);
    EXPECT_BAD(&b, "arr_overflow.gguf", "key 'v.a'", "array count: 2305843009213693952", "overflows");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.a");
    rb_u32(&b, GGUF_ARRAY);
    rb_u32(&b, GGUF_UINT32);
    rb_u64(&b, 1000);
    rb_zeros(&b, 100);
    EXPECT_BAD(&b, "arr_beyond.gguf", "array count: 1000 UINT32", "need 4000 bytes but only 100 remain");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.s");
    rb_u32(&b, GGUF_ARRAY);
    rb_u32(&b, GGUF_STRING);
    rb_u64(&b, UINT64_MAX / 4);
    rb_zeros(&b, 64);
    EXPECT_BAD(&b, "strarr_count.gguf", "array count: 4611686018427387903 strings", "only 64 remain");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.s");
    rb_u32(&b, GGUF_ARRAY);
    rb_u32(&b, GGUF_STRING);
    rb_u64(&b, 3);
    rb_str(&b, "ok");
    rb_u64(&b, 1000);
    rb_zeros(&b, 20);
    EXPECT_BAD(&b, "strarr_elem.gguf", "key 'v.s'", "array element 1", "string length: 1000", "exceeds");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.s");
    rb_u32(&b, GGUF_STRING);
    rb_u64(&b, (uint64_t)GGUF_MAX_STRING + 1);
    rb_zeros(&b, 16);
    EXPECT_BAD(&b, "str_overlong.gguf", "key 'v.s'", "value (STRING) length: 1073741825", "at most 1073741824");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.s");
    rb_u32(&b, GGUF_STRING);
    rb_u64(&b, UINT64_MAX);
    EXPECT_BAD(&b, "str_huge.gguf", "length: 18446744073709551615");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.s");
    rb_u32(&b, GGUF_STRING);
    rb_u64(&b, 50);
    rb_zeros(&b, 10);
    EXPECT_BAD(&b, "str_beyond.gguf", "length: 50", "exceeds the 10 bytes remaining");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "v.b");
    rb_u32(&b, GGUF_BOOL);
    rb_u8(&b, 2);
    EXPECT_BAD(&b, "bool2.gguf", "key 'v.b'", "BOOL", "expected 0 or 1");
}

static void test_bad_alignment(void) {
    rb b = {0};
    /* item 6: general.alignment */
    uint32_t bad[] = {0, 3, 48, 1u << 21};
    const char *want[] = {"general.alignment: 0 ", "general.alignment: 3 ", "general.alignment: 48 ",
                          "general.alignment: 2097152 "};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "align_%u.gguf", bad[i]);
        rb_hdr(&b, 3, 0, 1);
        rb_kv_u32(&b, "general.alignment", bad[i]);
        EXPECT_BAD(&b, name, want[i], "power of two");
    }
    rb_hdr(&b, 3, 0, 1);
    rb_kv_str(&b, "general.alignment", "32");
    EXPECT_BAD(&b, "align_str.gguf", "general.alignment: type STRING", "integer");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "general.alignment");
    rb_u32(&b, GGUF_FLOAT32);
    rb_u32(&b, 0x42000000u);
    EXPECT_BAD(&b, "align_f32.gguf", "general.alignment: type FLOAT32");
    rb_hdr(&b, 3, 0, 1);
    rb_str(&b, "general.alignment");
    rb_u32(&b, GGUF_INT32);
    rb_u32(&b, (uint32_t)-32);
    EXPECT_BAD(&b, "align_neg.gguf", "general.alignment: -32");
    /* a good non-default alignment, as another integer type: 64 */
    rb_hdr(&b, 3, 1, 1);
    rb_str(&b, "general.alignment");
    rb_u32(&b, GGUF_UINT64);
    rb_u64(&b, 64);
    rb_ti(&b, "t", 1, (uint64_t[]){16}, FR_TYPE_F32, 0);
    rb_pad(&b, 64);
    rb_zeros(&b, 64);
    save(tpath("align_64.gguf"), b.p, b.n);
    gguf_file *f = open_ok(tpath("align_64.gguf"));
    if (f) CHECK(((uintptr_t)gguf_tensor_at(f, 0)->data % 64) == 0, "aligned data");
    gguf_close(f);
    /* the same tensor at offset 32 is misaligned for 64 */
    rb_free(&b);
    rb_hdr(&b, 3, 1, 1);
    rb_str(&b, "general.alignment");
    rb_u32(&b, GGUF_UINT64);
    rb_u64(&b, 64);
    rb_ti(&b, "t", 1, (uint64_t[]){16}, FR_TYPE_F32, 32);
    rb_pad(&b, 64);
    rb_zeros(&b, 128);
    EXPECT_BAD(&b, "align_64_off32.gguf", "tensor 't': offset 32 is not a multiple of alignment 64");
}

static void test_bad_tensors(void) {
    rb b = {0};
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[257] = '\0';
    uint64_t ne8[1] = {8};
    /* item 7: names */
    one_tensor(&b, "", 1, ne8, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "tname_empty.gguf", "tensor #0", "empty name");
    one_tensor(&b, longname, 1, ne8, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "tname_long.gguf", "tensor #0", "name length: 257", "at most 256");
    longname[256] = '\0';
    one_tensor(&b, longname, 1, ne8, FR_TYPE_F32, 0, 32); /* exactly 256: fine */
    save(tpath("tname_256.gguf"), b.p, b.n);
    rb_free(&b);
    gguf_file *f = open_ok(tpath("tname_256.gguf"));
    if (f) CHECK(gguf_find_tensor(f, longname) != NULL, "256-byte name");
    gguf_close(f);
    rb_hdr(&b, 3, 1, 0);
    rb_strn(&b, "a\0b", 3);
    rb_u32(&b, 1);
    rb_u64(&b, 8);
    rb_u32(&b, 0);
    rb_u64(&b, 0);
    rb_pad(&b, 32);
    rb_zeros(&b, 32);
    EXPECT_BAD(&b, "tname_nul.gguf", "NUL");
    rb_hdr(&b, 3, 2, 0);
    rb_ti(&b, "dup.weight", 1, ne8, FR_TYPE_F32, 0);
    rb_ti(&b, "dup.weight", 1, ne8, FR_TYPE_F32, 32);
    rb_pad(&b, 32);
    rb_zeros(&b, 64);
    EXPECT_BAD(&b, "tname_dup.gguf", "tensor 'dup.weight'", "duplicate name");

    /* item 8: dimensions */
    one_tensor(&b, "t", 5, (uint64_t[]){1, 1, 1, 1, 1}, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "ndims5.gguf", "tensor 't'", "n_dims: 5", "expected 1..4");
    one_tensor(&b, "t", 0, NULL, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "ndims0.gguf", "n_dims: 0");
    one_tensor(&b, "t", 2, (uint64_t[]){8, 0}, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "dim0.gguf", "tensor 't'", "ne[1]: 0", "expected >= 1");
    one_tensor(&b, "t", 2, (uint64_t[]){8, (uint64_t)1 << 63}, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "dim_neg.gguf", "ne[1]: 9223372036854775808");
    one_tensor(&b, "t", 3, (uint64_t[]){(uint64_t)1 << 32, (uint64_t)1 << 32, 2}, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "dim_overflow.gguf", "tensor 't'", "element count", "overflows int64");

    /* item 9: types */
    one_tensor(&b, "t", 1, ne8, 4, 0, 32);
    EXPECT_BAD(&b, "type4.gguf", "tensor 't'", "type: 4", "known tensor type");
    one_tensor(&b, "t", 1, ne8, 0xffffffffu, 0, 32);
    EXPECT_BAD(&b, "type_ff.gguf", "type: 4294967295");
    one_tensor(&b, "t", 1, (uint64_t[]){33}, FR_TYPE_Q8_0, 0, 64);
    EXPECT_BAD(&b, "block.gguf", "tensor 't'", "ne[0]: 33 is not a multiple of the Q8_0 block size 32");
    one_tensor(&b, "t", 2, (uint64_t[]){128, 2}, FR_TYPE_Q4_K, 0, 512);
    EXPECT_BAD(&b, "block_k.gguf", "ne[0]: 128 is not a multiple of the Q4_K block size 256");

    /* item 10: sizes that wrap */
    one_tensor(&b, "t", 1, (uint64_t[]){(uint64_t)1 << 62}, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "bytes_overflow.gguf", "tensor 't'", "byte size", "overflows");
    one_tensor(&b, "t", 2, (uint64_t[]){(uint64_t)1 << 40, (uint64_t)1 << 22}, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "bytes_overflow2.gguf", "byte size", "overflows");
    one_tensor(&b, "t", 1, ne8, FR_TYPE_F32, UINT64_MAX - 31, 32);
    EXPECT_BAD(&b, "offset_overflow.gguf", "tensor 't'", "offset 18446744073709551584", "overflows");
    one_tensor(&b, "t", 1, (uint64_t[]){(uint64_t)1 << 40}, FR_TYPE_F32, 0, 32);
    EXPECT_BAD(&b, "bytes_huge.gguf", "past the end of the file");

    /* item 11: offsets */
    one_tensor(&b, "t", 1, ne8, FR_TYPE_F32, 4, 64);
    EXPECT_BAD(&b, "off_misaligned.gguf", "tensor 't': offset 4 is not a multiple of alignment 32");
    one_tensor(&b, "t", 1, ne8, FR_TYPE_F32, 32, 32);
    EXPECT_BAD(&b, "off_past_end.gguf", "tensor 't': offset 32 + 32 bytes ends at byte", "past the end of the file");
    one_tensor(&b, "t", 1, ne8, FR_TYPE_F32, 0, 31);
    EXPECT_BAD(&b, "off_one_short.gguf", "past the end of the file");
    rb_hdr(&b, 3, 3, 0);
    rb_ti(&b, "a", 1, (uint64_t[]){16}, FR_TYPE_F32, 0); /* [0, 64) */
    rb_ti(&b, "b", 1, (uint64_t[]){8}, FR_TYPE_F32, 96); /* [96, 128) */
    rb_ti(&b, "c", 1, (uint64_t[]){8}, FR_TYPE_F32, 32); /* [32, 64): inside a */
    rb_pad(&b, 32);
    rb_zeros(&b, 128);
    EXPECT_BAD(&b, "overlap.gguf", "tensor 'c': data [32, 64) overlaps tensor 'a' [0, 64)");
    rb_hdr(&b, 3, 2, 0);
    rb_ti(&b, "a", 1, ne8, FR_TYPE_F32, 0);
    rb_ti(&b, "b", 1, ne8, FR_TYPE_F32, 0);
    rb_pad(&b, 32);
    rb_zeros(&b, 32);
    EXPECT_BAD(&b, "overlap_same.gguf", "overlaps");
    /* adjacent (not overlapping) and out of order is fine; a vocab-only file without padding too */
    rb_hdr(&b, 3, 2, 0);
    rb_ti(&b, "a", 1, ne8, FR_TYPE_F32, 32);
    rb_ti(&b, "b", 1, ne8, FR_TYPE_F32, 0);
    rb_pad(&b, 32);
    rb_zeros(&b, 64);
    save(tpath("adjacent.gguf"), b.p, b.n);
    rb_free(&b);
    f = open_ok(tpath("adjacent.gguf"));
    gguf_close(f);
    rb_hdr(&b, 3, 0, 1);
    rb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    save(tpath("vocab_only.gguf"), b.p, b.n);
    rb_free(&b);
    f = open_ok(tpath("vocab_only.gguf"));
    if (f) CHECK(gguf_n_tensors(f) == 0 && gguf_n_kv(f) == 1, "vocab-only");
    gguf_close(f);

    /* not a file */
    fr_error err = {FR_OK, ""};
    f = (gguf_file *)1;
    CHECK(gguf_open(tpath("does_not_exist.gguf"), &f, &err) == FR_ERR_IO && f == NULL && strstr(err.msg, "cannot open"),
          "missing file: %s", err.msg);
    CHECK(gguf_open(g_dir, &f, &err) != FR_OK && strstr(err.msg, "not a regular file"), "directory: %s", err.msg);
    CHECK(gguf_open(NULL, &f, &err) == FR_ERR_ARG, "NULL path");
}

/* clang-format on */

/* ---------------------------------------------------------------------------------------
 * (c) split models */

static void write_part(const char *name, int no, int count, int32_t total, const char *const *tnames, int nt,
                       uint32_t alignment) {
    gguf_writer *w = gguf_writer_new();
    if (no == 0) gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "split.no", (uint32_t)no);
    gguf_writer_set_u32(w, "split.count", (uint32_t)count);
    if (no == 0 && total >= 0) gguf_writer_set_i32(w, "split.tensors.count", total);
    static float data[4][16];
    fr_error err;
    for (int i = 0; i < nt; i++) {
        for (int j = 0; j < 16; j++)
            data[i][j] = (float)(no * 100 + i * 16 + j);
        int64_t ne[1] = {16};
        gguf_writer_add_tensor(w, tnames[i], FR_TYPE_F32, 1, ne, data[i], NULL, NULL, &err);
    }
    CHECK(gguf_writer_write(w, tpath(name), alignment, &err) == FR_OK, "write %s: %s", name, err.msg);
    gguf_writer_free(w);
}

static void test_split(void) {
    const char *p1[] = {"token_embd.weight", "blk.0.attn_q.weight"}, *p2[] = {"output.weight"};
    write_part("split-00001-of-00002.gguf", 0, 2, 3, p1, 2, 32);
    write_part("split-00002-of-00002.gguf", 1, 2, -1, p2, 1, 64);
    for (int which = 1; which <= 2; which++) {
        gguf_file *f = open_ok(tpath(which == 1 ? "split-00001-of-00002.gguf" : "split-00002-of-00002.gguf"));
        if (!f) continue;
        CHECK(gguf_n_splits(f) == 2, "n_splits %d", gguf_n_splits(f));
        CHECK(gguf_n_tensors(f) == 3, "n_tensors %lld", (long long)gguf_n_tensors(f));
        gguf_str s;
        fr_error err;
        CHECK(gguf_get_str(f, "general.architecture", &s, &err) == 1, "keys from part 1");
        int64_t no;
        CHECK(gguf_get_int(f, "split.no", &no, &err) == 1 && no == 0, "split.no of part 1");
        const gguf_tensor *t = gguf_find_tensor(f, "output.weight");
        CHECK(t && t->split == 1 && ((const float *)t->data)[3] == 103.0f, "tensor from part 2");
        t = gguf_find_tensor(f, "blk.0.attn_q.weight");
        CHECK(t && t->split == 0 && ((const float *)t->data)[0] == 16.0f, "tensor from part 1");
        size_t n1, n2;
        free(load(tpath("split-00001-of-00002.gguf"), &n1));
        free(load(tpath("split-00002-of-00002.gguf"), &n2));
        CHECK(gguf_file_size(f) == n1 + n2, "total size");
        gguf_close(f);
    }
    /* a missing part */
    write_part("lonely-00001-of-00002.gguf", 0, 2, 3, p1, 2, 32);
    fr_error err = {FR_OK, ""};
    gguf_file *f = (gguf_file *)1;
    CHECK(gguf_open(tpath("lonely-00001-of-00002.gguf"), &f, &err) == FR_ERR_IO && f == NULL &&
              strstr(err.msg, "lonely-00002-of-00002.gguf") && strstr(err.msg, "part 2 of 2"),
          "missing part: %s", err.msg);
    if (g_verbose) printf("  [missing part] %s\n", err.msg);
    /* the same tensor name in two parts */
    const char *d2[] = {"token_embd.weight"};
    write_part("dup-00001-of-00002.gguf", 0, 2, 3, p1, 2, 32);
    write_part("dup-00002-of-00002.gguf", 1, 2, -1, d2, 1, 32);
    CHECK(gguf_open(tpath("dup-00001-of-00002.gguf"), &f, &err) == FR_ERR_FORMAT &&
              strstr(err.msg, "'token_embd.weight'") && strstr(err.msg, "duplicate") && strstr(err.msg, "part 1"),
          "duplicate across parts: %s", err.msg);
    /* split.count disagreeing with the name; split.no out of place; wrong total */
    write_part("cnt-00001-of-00002.gguf", 0, 3, 3, p1, 2, 32);
    write_part("cnt-00002-of-00002.gguf", 1, 2, -1, p2, 1, 32);
    CHECK(gguf_open(tpath("cnt-00001-of-00002.gguf"), &f, &err) == FR_ERR_FORMAT &&
              strstr(err.msg, "split.count: 3 (expected 2"),
          "split.count: %s", err.msg);
    write_part("no-00001-of-00002.gguf", 0, 2, 3, p1, 2, 32);
    write_part("no-00002-of-00002.gguf", 0, 2, -1, p2, 1, 32);
    CHECK(gguf_open(tpath("no-00001-of-00002.gguf"), &f, &err) == FR_ERR_FORMAT && strstr(err.msg, "split.no: 0") &&
              strstr(err.msg, "no-00002-of-00002.gguf"),
          "split.no: %s", err.msg);
    write_part("tc-00001-of-00002.gguf", 0, 2, 5, p1, 2, 32);
    write_part("tc-00002-of-00002.gguf", 1, 2, -1, p2, 1, 32);
    CHECK(gguf_open(tpath("tc-00001-of-00002.gguf"), &f, &err) == FR_ERR_FORMAT &&
              strstr(err.msg, "split.tensors.count: 5 (expected 3"),
          "split.tensors.count: %s", err.msg);
    /* a part of a split model renamed so that the name does not say so */
    write_part("renamed.gguf", 0, 2, 3, p1, 2, 32);
    CHECK(gguf_open(tpath("renamed.gguf"), &f, &err) == FR_ERR_FORMAT && strstr(err.msg, "split.count: 2"),
          "renamed part: %s", err.msg);
    /* an ordinary single-part name pattern */
    write_part("single-00001-of-00001.gguf", 0, 1, 2, p1, 2, 32);
    f = open_ok(tpath("single-00001-of-00001.gguf"));
    if (f) CHECK(gguf_n_splits(f) == 1 && gguf_n_tensors(f) == 2, "1-part split");
    gguf_close(f);
}

/* ---------------------------------------------------------------------------------------
 * (d) shared fixtures */

static int ends_with(const char *s, const char *t) {
    size_t a = strlen(s), b = strlen(t);
    return a >= b && strcmp(s + a - b, t) == 0;
}

static void test_shared(void) {
    const char *sh = test_shared_dir();
    if (!sh) {
        printf("shared fixtures: ../shared not found, skipped\n");
        return;
    }
    const char *subs[] = {"models", "tokenizer"};
    int n_files = 0;
    for (int k = 0; k < 2; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", sh, subs[k]);
        struct dirent **ents;
        int n = scandir(dir, &ents, NULL, alphasort);
        for (int i = 0; i < n; i++) {
            if (ends_with(ents[i]->d_name, ".gguf")) {
                char path[8192];
                snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
                gguf_file *f = open_ok(path);
                if (f) {
                    printf("  %-34s v%u %4lld tensors %3lld keys %9llu bytes\n", ents[i]->d_name, gguf_version(f),
                           (long long)gguf_n_tensors(f), (long long)gguf_n_kv(f),
                           (unsigned long long)gguf_file_size(f));
                    n_files++;
                    /* every tensor found by name; tokens copied through the writer intact */
                    for (int64_t j = 0; j < gguf_n_tensors(f); j++)
                        CHECK(gguf_find_tensor(f, gguf_tensor_at(f, j)->name) == gguf_tensor_at(f, j), "find");
                    if (k == 1) {
                        gguf_writer *w = gguf_writer_new();
                        fr_error err;
                        CHECK(gguf_writer_copy_kv(w, f, "tokenizer.", NULL) == FR_OK, "copy vocab");
                        CHECK(gguf_writer_write(w, tpath("vocab_copy.gguf"), 32, &err) == FR_OK, "%s", err.msg);
                        gguf_writer_free(w);
                        gguf_file *g = open_ok(tpath("vocab_copy.gguf"));
                        const gguf_kv *a = gguf_find_kv(f, "tokenizer.ggml.tokens");
                        const gguf_kv *b = g ? gguf_find_kv(g, "tokenizer.ggml.tokens") : NULL;
                        CHECK(a && b && a->arr_n == b->arr_n, "vocab copy size");
                        for (uint64_t j = 0; a && b && j < a->arr_n; j++) {
                            if (a->arr_strs[j].len != b->arr_strs[j].len ||
                                memcmp(a->arr_strs[j].ptr, b->arr_strs[j].ptr, a->arr_strs[j].len) != 0) {
                                CHECK(0, "token %llu differs", (unsigned long long)j);
                                break;
                            }
                        }
                        gguf_close(g);
                    }
                    gguf_close(f);
                }
            }
            free(ents[i]);
        }
        if (n >= 0) free(ents);
    }
    printf("shared fixtures: %d files opened\n", n_files);
    CHECK(n_files > 0, "no .gguf files under %s", sh);
}

static void cleanup_dir(void) {
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tpath(e->d_name));
    }
    closedir(d);
    rmdir(g_dir);
}

int main(void) {
    g_verbose = getenv("GGUF_TEST_VERBOSE") != NULL;
    snprintf(g_dir, sizeof g_dir, "/tmp/frugal_gguf_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrip(32);
    test_roundtrip(64);
    test_all_scalars();
    test_bad_header();
    test_bad_keys();
    test_bad_alignment();
    test_bad_tensors();
    test_truncation();
    test_fuzz();
    test_split();
    test_shared();
    cleanup_dir();
    return CHECK_DONE("test_gguf");
}

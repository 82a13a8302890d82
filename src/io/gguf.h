/* gguf.h: read-only, mmapped GGUF v2/v3 reader (and a writer for synth and tests).
 *
 * gguf_open() validates the whole header up front: every count, string length, array
 * length, dimension, offset and size is checked with overflow-safe arithmetic against
 * the bytes that exist (shared/CHECKLIST.md items 1-11). After a successful open, every
 * pointer the API hands out lies inside the mapping, and tensor data ranges
 * [data, data + nbytes) are inside the file, aligned and non-overlapping.
 *
 * Split models (`name-00001-of-00003.gguf`) open as one: give the first (or any) part;
 * key/values come from the first part, tensors from all parts.
 *
 * Strings in the file are not NUL-terminated; gguf_str gives pointer + length. */
#ifndef FRUGAL_IO_GGUF_H
#define FRUGAL_IO_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 256        /* tensor names: bytes, excluding NUL */
#define GGUF_MAX_KEY 65535       /* key length bound */
#define GGUF_MAX_STRING (1u << 30) /* any string value */

typedef enum gguf_vtype { /* on disk: append-only */
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4,
    GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_UINT64 = 10, GGUF_INT64 = 11, GGUF_FLOAT64 = 12, GGUF_VTYPE_COUNT = 13
} gguf_vtype;

typedef struct gguf_str {
    const char *ptr; /* into the mapping (or owned memory for the writer); not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    gguf_str key;
    gguf_vtype type;
    union {
        uint64_t u; /* UINT8..UINT64 (zero-extended) */
        int64_t i;  /* INT8..INT64 (sign-extended) */
        double f;   /* FLOAT32/FLOAT64 */
        bool b;
        gguf_str s;
    } v;
    /* arrays (type == GGUF_ARRAY) */
    gguf_vtype arr_type;    /* element type; never GGUF_ARRAY (nested arrays are rejected) */
    uint64_t arr_n;         /* element count */
    const void *arr_data;   /* raw little-endian elements for numeric types */
    const gguf_str *arr_strs; /* for string arrays: arr_n strings (owned by the gguf_file) */
} gguf_kv;

typedef struct gguf_tensor {
    char name[GGUF_MAX_NAME + 1]; /* NUL-terminated copy */
    int type;                      /* fr_type; validated to be one we know */
    int n_dims;                    /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS];     /* ne[0] is the row length (fastest); unused dims are 1 */
    int64_t n_elements;
    size_t nbytes;
    const void *data; /* inside the mapping of its split */
    int split;        /* which file part */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Open and validate. On failure *out is NULL and err names the file, the field and the value. */
fr_status gguf_open(const char *path, gguf_file **out, fr_error *err);
void gguf_close(gguf_file *f);

const char *gguf_path(const gguf_file *f);
uint32_t gguf_version(const gguf_file *f);
int gguf_n_splits(const gguf_file *f);
uint64_t gguf_file_size(const gguf_file *f); /* total bytes over all splits */

int64_t gguf_n_kv(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, int64_t i);
const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key); /* NULL if absent */

int64_t gguf_n_tensors(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name); /* NULL if absent */

/* Typed getters. Return 1 if found and converted, 0 if absent, -1 if present with the
 * wrong type or out of range for the target (err filled, naming the key and the type).
 * get_int accepts any integer type; get_float any float or integer type; get_bool bool. */
int gguf_get_int(const gguf_file *f, const char *key, int64_t *out, fr_error *err);
int gguf_get_uint(const gguf_file *f, const char *key, uint64_t *out, fr_error *err);
int gguf_get_float(const gguf_file *f, const char *key, double *out, fr_error *err);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out, fr_error *err);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, fr_error *err);
/* Arrays: checks the element type (GGUF_VTYPE_COUNT = any). */
int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, const gguf_kv **out,
                 fr_error *err);
/* Element i of a numeric array as double / int64 (caller checked i < arr_n). */
double gguf_arr_float(const gguf_kv *kv, uint64_t i);
int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i);

/* Bytes of one element of a numeric (or bool) value type; 0 for strings, arrays, unknown. */
size_t gguf_vtype_size(int t);

/* True if s equals the NUL-terminated c string. */
bool gguf_str_eq(gguf_str s, const char *c);

/* ---- writer (synth, quantize, tests) ----
 * Collects key/values and tensors in memory, then writes one file with the given
 * alignment. Tensor data is copied at write time from the caller's pointer, which
 * must stay valid until gguf_writer_write(), or produced by a callback. */
typedef struct gguf_writer gguf_writer;
gguf_writer *gguf_writer_new(void); /* NULL on OOM */
void gguf_writer_free(gguf_writer *w);
fr_status gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
fr_status gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
fr_status gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
fr_status gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
fr_status gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
fr_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Numeric array: elem is the element type, data holds n little-endian elements. */
fr_status gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data,
                              uint64_t n);
fr_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs,
                                  const uint64_t *lens, uint64_t n);
/* Copy every key/value of an open file (e.g. tokenizer.* from a vocab file), except those
 * whose key starts with a prefix in `skip_prefixes` (NULL-terminated list, may be NULL). */
fr_status gguf_writer_copy_kv(gguf_writer *w, const gguf_file *src, const char *prefix_only,
                              const char *const *skip_prefixes);
/* Tensor: dims ne[0..n_dims-1]; data of the exact row-size bytes (NULL: fill callback). */
typedef fr_status (*gguf_fill_fn)(void *dst, size_t nbytes, void *user, fr_error *err);
fr_status gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, int n_dims,
                                 const int64_t *ne, const void *data, gguf_fill_fn fill,
                                 void *fill_user, fr_error *err);
fr_status gguf_writer_write(gguf_writer *w, const char *path, uint32_t alignment, fr_error *err);

#endif

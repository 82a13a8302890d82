/* mmap.h: read-only file mappings and a bounded cursor over bytes.
 *
 * fr_map_open() maps a whole regular file read-only (MAP_PRIVATE, PROT_READ). Empty files
 * and non-regular files are rejected with a clean error. In AddressSanitizer builds the file
 * is read into a heap buffer of exactly its size instead, so that ASan reports any read even
 * one byte past the end (a mapping is padded to a page and would hide it).
 *
 * fr_cursor reads little-endian values from [data, data + size). It never reads past the
 * end: every read checks the bytes remaining first, and on shortage fails with
 * "<what>: truncated at offset X (needs N bytes, R remain)" in the cursor's fr_error
 * (callers prefix the file and the context with fr_error_prefix). */
#ifndef FRUGAL_IO_MMAP_H
#define FRUGAL_IO_MMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

typedef struct fr_map {
    const uint8_t *data; /* NULL when closed */
    size_t size;         /* > 0 while open */
    bool heap;           /* data is a heap copy (sanitizer builds), not a mapping */
} fr_map;

/* Map `path`. On failure m is zeroed and err says "<path>: ..." (FR_ERR_IO for system
 * errors, FR_ERR_FORMAT for an empty or non-regular file). */
fr_status fr_map_open(const char *path, fr_map *m, fr_error *err);
/* Unmap (or free). Safe on a zeroed or already-closed fr_map. */
void fr_map_close(fr_map *m);

typedef struct fr_cursor {
    const uint8_t *data;
    size_t size;
    size_t pos;
    fr_error *err; /* filled on failure; may be NULL */
} fr_cursor;

void fr_cursor_init(fr_cursor *c, const void *data, size_t size, fr_error *err);
static inline size_t fr_cursor_remaining(const fr_cursor *c) { return c->size - c->pos; }

/* All readers return true on success; false (cursor unchanged, err set) on truncation. */
bool fr_cursor_need(fr_cursor *c, uint64_t n, const char *what);
bool fr_cursor_skip(fr_cursor *c, uint64_t n, const char *what);
/* Points *out at the next n bytes (inside the buffer) and advances. */
bool fr_cursor_bytes(fr_cursor *c, uint64_t n, const char *what, const uint8_t **out);
bool fr_cursor_u8(fr_cursor *c, const char *what, uint8_t *out);
bool fr_cursor_u16(fr_cursor *c, const char *what, uint16_t *out);
bool fr_cursor_u32(fr_cursor *c, const char *what, uint32_t *out);
bool fr_cursor_u64(fr_cursor *c, const char *what, uint64_t *out);
bool fr_cursor_i8(fr_cursor *c, const char *what, int8_t *out);
bool fr_cursor_i16(fr_cursor *c, const char *what, int16_t *out);
bool fr_cursor_i32(fr_cursor *c, const char *what, int32_t *out);
bool fr_cursor_i64(fr_cursor *c, const char *what, int64_t *out);
bool fr_cursor_f32(fr_cursor *c, const char *what, float *out);
bool fr_cursor_f64(fr_cursor *c, const char *what, double *out);
/* A string with a u64 length prefix: fails if the length exceeds max_len or the bytes
 * remaining ("<what> length: N at offset X ..."). *ptr points into the buffer (not
 * NUL-terminated). */
bool fr_cursor_str(fr_cursor *c, const char *what, uint64_t max_len, const char **ptr, uint64_t *len);

/* Strict UTF-8 check of n bytes: no overlong forms, no surrogates, nothing above U+10FFFF. */
bool fr_utf8_valid(const void *s, uint64_t n);

/* Little-endian loads from possibly unaligned memory. */
static inline uint16_t fr_load_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t fr_load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t fr_load_le64(const uint8_t *p) {
    return (uint64_t)fr_load_le32(p) | ((uint64_t)fr_load_le32(p + 4) << 32);
}

#endif

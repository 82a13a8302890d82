/* base.h: sized types, checked arithmetic and the error record used by every module.
 *
 * Every count, length, offset and size that comes from untrusted input goes through
 * the ck_* helpers below. They return false on overflow and never wrap. */
#ifndef FRUGAL_CORE_BASE_H
#define FRUGAL_CORE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frugal.h"

/* ---- checked arithmetic: true on success, false on overflow ---- */
static inline bool ck_add_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool ck_mul_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool ck_add_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool ck_mul_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool ck_add_size(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool ck_mul_size(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* Round `v` up to a multiple of `align` (a power of two). False on overflow. */
static inline bool ck_align_u64(uint64_t v, uint64_t align, uint64_t *out) {
    uint64_t t;
    if (align == 0 || (align & (align - 1)) != 0) return false;
    if (!ck_add_u64(v, align - 1, &t)) return false;
    *out = t & ~(align - 1);
    return true;
}

/* ---- error record ----
 * Library functions take an `fr_error *` (may be NULL) and fill it on failure.
 * The message names the file or field, the bad value and what was expected. */
/* fr_error itself is declared in frugal.h (it is part of the public API). */

/* Sets err (if non-NULL) and returns `code`. printf-style. */
fr_status fr_fail(fr_error *err, fr_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix an existing error message with context ("file.gguf: ..."). */
void fr_error_prefix(fr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logging goes through a callback that the application installs; default is stderr. */
typedef enum { FR_LOG_ERROR = 0, FR_LOG_WARN = 1, FR_LOG_INFO = 2, FR_LOG_DEBUG = 3 } fr_log_level;
void fr_log(fr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when environment variable `name` is "0": the FRUGAL_* switches that turn a default off
 * (FRUGAL_REPACK, FRUGAL_HUGEPAGES, FRUGAL_READAHEAD). Read at each call. */
bool fr_env_off(const char *name);

#define FR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FR_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Loop unrolling for kernels: gcc unrolls by n (a shorter constant count fully). clang read a
 * count above a loop's constant trip count as no unrolling at all (the packed GEMM kernels'
 * loops over 2 or 4 tokens stayed loops with their accumulators on the stack: tinyllama Q4_0
 * pp512 a third of gcc's); its plain "unroll" unrolls constant counts fully, others partly. */
#define FR_PRAGMA_(x) _Pragma(#x)
/* (a loop whose count is known only at run time: unrolled by n by both compilers) */
#define FR_PRAGMA_UNROLL_BY(n) FR_PRAGMA_(GCC unroll n)
#if defined(__clang__)
#define FR_PRAGMA_UNROLL(n) _Pragma("unroll")
#else
#define FR_PRAGMA_UNROLL(n) FR_PRAGMA_(GCC unroll n)
#endif

#endif

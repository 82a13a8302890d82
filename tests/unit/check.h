/* check.h: a tiny test harness. Every CHECK that fails prints where and why; the test
 * program exits non-zero if any check failed (CHECK_DONE()). Tests use fixed seeds. */
#ifndef FRUGAL_TESTS_CHECK_H
#define FRUGAL_TESTS_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stdout line-buffered from the start, so that a suite stopped at its time limit
 * (tests/run_suite.sh) leaves in its log every line it had printed: where it stopped. */
__attribute__((constructor)) static void check_stdout_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

static int g_check_failed = 0;
static int g_check_passed = 0;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (cond) {                                                                          \
            g_check_passed++;                                                                \
        } else {                                                                             \
            g_check_failed++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol, ...)                                                           \
    do {                                                                                     \
        double ca_ = (double)(a), cb_ = (double)(b);                                         \
        CHECK(fabs(ca_ - cb_) <= (tol) && !isnan(ca_) && !isnan(cb_), "%s=%.9g %s=%.9g tol=%g: ", \
              #a, ca_, #b, cb_, (double)(tol));                                              \
        if (!(fabs(ca_ - cb_) <= (tol))) { fprintf(stderr, "  "); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
    } while (0)

/* Prints "name: N checks passed, M failed" and returns the exit status. */
#define CHECK_DONE(name)                                                                     \
    (printf("%s: %d checks passed, %d failed\n", (name), g_check_passed, g_check_failed),    \
     g_check_failed ? 1 : 0)

/* Deterministic xorshift RNG for tests. */
typedef struct { uint64_t s; } test_rng;
static inline uint64_t test_rng_next(test_rng *r) {
    uint64_t x = r->s ? r->s : 0x9E3779B97F4A7C15ull;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return r->s = x;
}
/* uniform in [-1, 1) */
static inline float test_rng_float(test_rng *r) {
    return (float)((test_rng_next(r) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

/* Directory of the shared fixtures: $FRUGAL_SHARED or ../shared. NULL if absent. */
static inline const char *test_shared_dir(void) {
    const char *d = getenv("FRUGAL_SHARED");
    if (!d) d = "../shared";
    char p[4096];
    snprintf(p, sizeof p, "%s/models", d);
    FILE *f = fopen(p, "r");
    if (!f) return NULL;
    fclose(f);
    return d;
}

#endif

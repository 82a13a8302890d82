/* cli_util.c: argument parsing helpers. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"

bool cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "frugal %s: %s: '%s' (expected an integer in %lld..%lld)\n", cmd, flag, s, (long long)lo,
                (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_u64(const char *cmd, const char *flag, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "frugal %s: %s: '%s' (expected a non-negative integer)\n", cmd, flag, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "frugal %s: %s: '%s' (expected a number in %g..%g)\n", cmd, flag, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_ids(const char *cmd, const char *flag, const char *s, int32_t **ids, int64_t *n) {
    size_t cap = 16, cnt = 0;
    int32_t *v = malloc(cap * sizeof *v);
    const char *p = s;
    if (!v) return false;
    while (*p) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (errno || end == p || x < INT32_MIN || x > INT32_MAX || (*end && *end != ',')) {
            fprintf(stderr, "frugal %s: %s: '%s' is not a comma-separated list of token ids\n", cmd, flag, s);
            free(v);
            return false;
        }
        if (cnt == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return false;
            }
            v = nv;
        }
        v[cnt++] = (int32_t)x;
        p = *end ? end + 1 : end;
    }
    if (cnt == 0) {
        fprintf(stderr, "frugal %s: %s: empty id list\n", cmd, flag);
        free(v);
        return false;
    }
    *ids = v;
    *n = (int64_t)cnt;
    return true;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "frugal %s: %s needs a value (see --help)\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_kv_type(const char *cmd, const char *s) {
    if (!strcasecmp(s, "f16")) return frugal_type_from_name("F16");
    if (!strcasecmp(s, "f32")) return frugal_type_from_name("F32");
    if (!strcasecmp(s, "q8_0")) return frugal_type_from_name("Q8_0");
    fprintf(stderr, "frugal %s: --kv-type: '%s' (expected f32, f16 or q8_0)\n", cmd, s);
    return -1;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_error(const char *cmd, const fr_error *err) { fprintf(stderr, "frugal %s: %s\n", cmd, err->msg); }

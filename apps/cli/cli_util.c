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

int cli_sampling_flag(const char *cmd, int argc, char **argv, int *i, frugal_sampler_params *sp) {
    const char *a = argv[*i], *v;
    double d;
    int64_t x;
    static const char *const k_flags[] = {"--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
                                          "--repeat-last-n", "--frequency-penalty", "--presence-penalty",
                                          "-s", "--seed"};
    bool known = false;
    for (size_t k = 0; k < sizeof k_flags / sizeof k_flags[0]; k++) known = known || !strcmp(a, k_flags[k]);
    if (!known) return 0;
    if (!(v = cli_value(cmd, argc, argv, i))) return -1;
    if (!strcmp(a, "--temp")) { if (!cli_float(cmd, a, v, 0, 100, &d)) return -1; sp->temperature = (float)d; }
    else if (!strcmp(a, "--top-k")) { if (!cli_int(cmd, a, v, 0, 1 << 24, &x)) return -1; sp->top_k = (int32_t)x; }
    else if (!strcmp(a, "--top-p")) { if (!cli_float(cmd, a, v, 1e-9, 1, &d)) return -1; sp->top_p = (float)d; }
    else if (!strcmp(a, "--min-p")) { if (!cli_float(cmd, a, v, 0, 1, &d)) return -1; sp->min_p = (float)d; }
    else if (!strcmp(a, "--repeat-penalty")) { if (!cli_float(cmd, a, v, 1e-6, 100, &d)) return -1; sp->repeat_penalty = (float)d; }
    else if (!strcmp(a, "--repeat-last-n")) { if (!cli_int(cmd, a, v, -1, 1 << 24, &x)) return -1; sp->penalty_last_n = (int32_t)x; }
    else if (!strcmp(a, "--frequency-penalty")) { if (!cli_float(cmd, a, v, -100, 100, &d)) return -1; sp->frequency_penalty = (float)d; }
    else if (!strcmp(a, "--presence-penalty")) { if (!cli_float(cmd, a, v, -100, 100, &d)) return -1; sp->presence_penalty = (float)d; }
    else if (!cli_u64(cmd, a, v, &sp->seed)) return -1;
    return 1;
}

char *cli_utf8_sanitize(const char *s, size_t n) {
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && p + len <= end && c != 0;
        for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xc0) == 0x80;
        if (ok && len > 1) { /* reject overlongs, surrogates and values past U+10FFFF */
            uint32_t v = c & (0x7f >> len);
            for (int k = 1; k < len; k++) v = (v << 6) | (p[k] & 0x3f);
            ok = !(len == 2 && v < 0x80) && !(len == 3 && v < 0x800) && !(len == 4 && v < 0x10000) &&
                 !(v >= 0xd800 && v <= 0xdfff) && v <= 0x10ffff;
        }
        if (ok) {
            memcpy(o, p, (size_t)len);
            o += len;
            p += len;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
            o += 3;
            p++;
        }
    }
    *o = 0;
    return out;
}

char *cli_read_stream(FILE *f, size_t *n) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (len == cap) {
            char *nb = cap > SIZE_MAX / 4 ? NULL : realloc(buf, cap * 2 + 1);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) break;
            buf[len] = 0;
            *n = len;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

char *cli_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = cli_read_stream(f, n);
    fclose(f);
    return s;
}

/* status.c: error records, the logging callback and the FRUGAL_* environment switches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

fr_status fr_fail(fr_error *err, fr_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void fr_error_prefix(fr_error *err, const char *fmt, ...) {
    if (!err) return;
    char pre[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    size_t lp = strlen(pre), lm = strnlen(err->msg, sizeof err->msg - 1);
    if (lp > sizeof err->msg - 1) lp = sizeof err->msg - 1;
    if (lp + lm > sizeof err->msg - 1) lm = sizeof err->msg - 1 - lp;
    memmove(err->msg + lp, err->msg, lm); /* keep the start of the old message */
    memcpy(err->msg, pre, lp);
    err->msg[lp + lm] = 0;
}

/* The log sink is process-wide configuration set by the application (frugal_set_log). */
static frugal_log_fn g_log_fn = NULL;
static void *g_log_user = NULL;
static int g_log_level = FR_LOG_WARN;

void frugal_set_log(frugal_log_fn fn, void *user, int max_level) {
    g_log_fn = fn;
    g_log_user = user;
    g_log_level = max_level;
}

void fr_log(fr_log_level level, const char *fmt, ...) {
    if ((int)level > g_log_level) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (g_log_fn) {
        g_log_fn((int)level, buf, g_log_user);
    } else {
        static const char *names[] = {"error", "warning", "info", "debug"};
        fprintf(stderr, "frugal: %s: %s\n", names[level], buf);
    }
}

const char *frugal_status_str(fr_status s) {
    switch (s) {
    case FR_OK: return "ok";
    case FR_ERR_IO: return "I/O error";
    case FR_ERR_FORMAT: return "bad file format";
    case FR_ERR_UNSUPPORTED: return "unsupported";
    case FR_ERR_NOMEM: return "out of memory";
    case FR_ERR_ARG: return "invalid argument";
    case FR_ERR_RANGE: return "out of range";
    }
    return "unknown";
}

bool fr_env_off(const char *name) {
    const char *e = getenv(name);
    return e && strcmp(e, "0") == 0;
}

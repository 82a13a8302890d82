/* normalize.c: the normalizer chain (tokenizer.json "normalizer"): NFC/NFD/NFKC/NFKD through
 * utf8proc, Prepend, Replace (literal or regex), Strip, Lowercase.
 *
 * Input may hold invalid UTF-8: Unicode steps work on each valid run and copy invalid bytes
 * through unchanged, so no step ever fails on bad input. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok.h"

/* Apply a Unicode normalization form to each valid UTF-8 run of s. */
static fr_status norm_unicode(const char *s, size_t n, int opts, fr_buf *out, fr_error *err) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        uint32_t cp;
        int l;
        while (j < n && (l = fr_utf8_seq((const unsigned char *)s + j, n - j, &cp)) > 0) j += (size_t)l;
        if (j > i) {
            /* ASCII needs no work */
            bool ascii = true;
            for (size_t k = i; k < j && ascii; k++) ascii = (unsigned char)s[k] < 0x80;
            if (ascii) {
                if (!fr_buf_put(out, s + i, j - i)) return fr_fail(err, FR_ERR_NOMEM, "normalizer: out of memory");
            } else {
                utf8proc_uint8_t *dst = NULL;
                utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(j - i), &dst,
                                                  (utf8proc_option_t)opts);
                if (r < 0) {
                    free(dst);
                    return fr_fail(err, r == UTF8PROC_ERROR_NOMEM ? FR_ERR_NOMEM : FR_ERR_FORMAT, "normalizer: %s",
                                   utf8proc_errmsg(r));
                }
                bool ok = fr_buf_put(out, dst, (size_t)r);
                free(dst);
                if (!ok) return fr_fail(err, FR_ERR_NOMEM, "normalizer: out of memory");
            }
        }
        if (j < n) { /* an invalid byte */
            if (!fr_buf_putc(out, s[j])) return fr_fail(err, FR_ERR_NOMEM, "normalizer: out of memory");
            j++;
        }
        i = j;
    }
    return FR_OK;
}

static fr_status norm_replace(const fr_norm_step *st, const char *s, size_t n, fr_buf *out, fr_error *err) {
    size_t i = 0;
    if (st->re) {
        /* regex replace on valid runs */
        while (i < n) {
            size_t j = i;
            uint32_t cp;
            int l;
            while (j < n && (l = fr_utf8_seq((const unsigned char *)s + j, n - j, &cp)) > 0) j += (size_t)l;
            size_t pos = 0, len = j - i;
            const char *run = s + i;
            while (pos < len) {
                size_t b, e;
                int r = fr_regex_next(st->re, run, len, pos, &b, &e, err);
                if (r < 0) return err->code;
                if (r == 0) break;
                if (!fr_buf_put(out, run + pos, b - pos) || !fr_buf_put(out, st->b, st->blen))
                    return fr_fail(err, FR_ERR_NOMEM, "normalizer: out of memory");
                if (e == b) { /* empty match: keep one unit and move on */
                    size_t u = fr_utf8_unit(run + b, len - b);
                    if (b < len && !fr_buf_put(out, run + b, u)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
                    pos = b + u;
                } else {
                    pos = e;
                }
            }
            if (pos < len && !fr_buf_put(out, run + pos, len - pos)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
            if (j < n) {
                if (!fr_buf_putc(out, s[j])) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
                j++;
            }
            i = j;
        }
        return FR_OK;
    }
    if (st->alen == 0) return fr_buf_put(out, s, n) ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    while (i < n) {
        const char *hit = i + st->alen <= n ? memmem(s + i, n - i, st->a, st->alen) : NULL;
        size_t stop = hit ? (size_t)(hit - s) : n;
        if (!fr_buf_put(out, s + i, stop - i)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
        if (!hit) break;
        if (!fr_buf_put(out, st->b, st->blen)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
        i = stop + st->alen;
    }
    return FR_OK;
}

static size_t ws_prefix(const char *s, size_t n) {
    size_t i = 0;
    uint32_t cp;
    int l;
    while (i < n && (l = fr_utf8_seq((const unsigned char *)s + i, n - i, &cp)) > 0 && fr_is_whitespace(cp))
        i += (size_t)l;
    return i;
}

static size_t ws_suffix_start(const char *s, size_t n) {
    size_t end = n;
    while (end > 0) {
        size_t k = end - 1; /* find the start of the last unit */
        while (k > 0 && end - k < 4 && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
        uint32_t cp;
        int l = fr_utf8_seq((const unsigned char *)s + k, end - k, &cp);
        if (l <= 0 || (size_t)l != end - k || !fr_is_whitespace(cp)) break;
        end = k;
    }
    return end;
}

static fr_status norm_lower(const char *s, size_t n, fr_buf *out, fr_error *err) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = fr_utf8_seq((const unsigned char *)s + i, n - i, &cp);
        if (l <= 0) {
            if (!fr_buf_putc(out, s[i])) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
            i++;
            continue;
        }
        char u[4];
        int k = fr_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), u);
        if (!fr_buf_put(out, u, (size_t)k)) return fr_fail(err, FR_ERR_NOMEM, "out of memory");
        i += (size_t)l;
    }
    return FR_OK;
}

fr_status fr_normalize(const fr_tokenizer *t, const char *s, size_t n, fr_buf *out, fr_error *err) {
    out->n = 0;
    if (t->n_norm == 0) return fr_buf_put(out, s, n) ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    fr_buf a = {0}, b = {0};
    if (!fr_buf_put(&a, s, n)) return fr_fail(err, FR_ERR_NOMEM, "normalizer: out of memory");
    fr_status st = FR_OK;
    for (int k = 0; k < t->n_norm && st == FR_OK; k++) {
        const fr_norm_step *ns = &t->norm[k];
        b.n = 0;
        switch (ns->kind) {
        case FR_NORM_NFC: st = norm_unicode(a.p, a.n, UTF8PROC_STABLE | UTF8PROC_COMPOSE, &b, err); break;
        case FR_NORM_NFD: st = norm_unicode(a.p, a.n, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, &b, err); break;
        case FR_NORM_NFKC:
            st = norm_unicode(a.p, a.n, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, &b, err);
            break;
        case FR_NORM_NFKD:
            st = norm_unicode(a.p, a.n, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, &b, err);
            break;
        case FR_NORM_PREPEND:
            if (a.n > 0 && (!fr_buf_put(&b, ns->a, ns->alen) || !fr_buf_put(&b, a.p, a.n)))
                st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
            break;
        case FR_NORM_REPLACE: st = norm_replace(ns, a.p, a.n, &b, err); break;
        case FR_NORM_STRIP: {
            size_t lo = ns->left ? ws_prefix(a.p, a.n) : 0;
            size_t hi = ns->right ? ws_suffix_start(a.p + lo, a.n - lo) + lo : a.n;
            if (!fr_buf_put(&b, a.p + lo, hi - lo)) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
            break;
        }
        case FR_NORM_LOWERCASE: st = norm_lower(a.p, a.n, &b, err); break;
        }
        fr_buf tmp = a;
        a = b;
        b = tmp;
    }
    if (st == FR_OK && !fr_buf_put(out, a.p, a.n)) st = fr_fail(err, FR_ERR_NOMEM, "out of memory");
    fr_buf_free(&a);
    fr_buf_free(&b);
    return st;
}

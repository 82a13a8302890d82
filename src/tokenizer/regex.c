/* regex.c: pre-tokenizer regexes on Oniguruma, the engine Hugging Face's tokenizers use
 * (Unicode properties, lookahead, (?i:...) groups), with the same options (UTF-8, the
 * Oniguruma syntax). Matching never recurses on the C stack: Oniguruma keeps its backtrack
 * stack on the heap. Work is bounded per search (FR_REGEX_RETRY_LIMIT backtracks and a
 * FR_REGEX_STACK_LIMIT-entry stack); hitting a bound is an error, never a hang or a crash.
 *
 * One pattern gets a native matcher: "\\s+$" (DeepSeek LLM) backtracks quadratically in any
 * backtracking engine on a long run of spaces that does not end the text (100,000 spaces
 * before a CJK character: 5e9 steps). Its leftmost match is found in linear time instead:
 * within a run of whitespace, the longest prefix that ends at the end of the text or right
 * before a '\n' (Oniguruma's '$'); the same result, since \s is Unicode White_Space in both. */
#include <oniguruma.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

#define FR_REGEX_RETRY_LIMIT 50000000ul /* backtracks per search (about a second of work) */
#define FR_REGEX_STACK_LIMIT 20000000u  /* backtrack stack entries per search */

struct fr_regex {
    regex_t *re;
    bool trailing_ws; /* the pattern is \s+$ */
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = 0;
static void onig_init_once(void) {
    OnigEncoding use[] = {ONIG_ENCODING_UTF8};
    g_init_rc = onig_initialize(use, 1);
}

fr_status fr_regex_new(const char *pat, size_t len, fr_regex **out, fr_error *err) {
    *out = NULL;
    pthread_once(&g_once, onig_init_once);
    if (g_init_rc != ONIG_NORMAL) return fr_fail(err, FR_ERR_UNSUPPORTED, "regex: cannot initialize Oniguruma");
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        int l = fr_utf8_seq((const unsigned char *)pat + i, len - i, &cp);
        if (l <= 0) return fr_fail(err, FR_ERR_FORMAT, "regex: pattern is not valid UTF-8 (byte %zu)", i);
        i += (size_t)l;
    }
    fr_regex *r = calloc(1, sizeof *r);
    if (!r) return fr_fail(err, FR_ERR_NOMEM, "regex: out of memory");
    OnigErrorInfo einfo;
    int rc = onig_new(&r->re, (const OnigUChar *)pat, (const OnigUChar *)pat + len, ONIG_OPTION_CAPTURE_GROUP,
                      ONIG_ENCODING_UTF8, ONIG_SYNTAX_ONIGURUMA, &einfo);
    if (rc != ONIG_NORMAL) {
        OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, rc, &einfo);
        free(r);
        int n = len > 120 ? 120 : (int)len;
        return fr_fail(err, FR_ERR_FORMAT, "regex '%.*s%s': %s", n, pat, len > 120 ? "..." : "", (const char *)msg);
    }
    r->trailing_ws = len == 4 && memcmp(pat, "\\s+$", 4) == 0;
    *out = r;
    return FR_OK;
}

static bool ws_at(const char *s, size_t n, size_t i, size_t *len) {
    uint32_t cp;
    int l = fr_utf8_seq((const unsigned char *)s + i, n - i, &cp);
    if (l <= 0 || !fr_is_whitespace(cp)) return false;
    *len = (size_t)l;
    return true;
}

/* \s+$ without backtracking (see the top of the file). */
static int trailing_ws_next(const char *s, size_t n, size_t from, size_t *b, size_t *e) {
    size_t i = from, l;
    while (i < n) {
        if (!ws_at(s, n, i, &l)) {
            i += fr_utf8_unit(s + i, n - i);
            continue;
        }
        size_t p = i, q = 0;
        bool found = false;
        while (i < n && ws_at(s, n, i, &l)) { /* the run [p, i) */
            if (s[i] == '\n' && i > p) q = i, found = true;
            i += l;
        }
        if (i == n) q = n, found = true;
        if (found) {
            *b = p;
            *e = q;
            return 1;
        }
    }
    return 0;
}

void fr_regex_free(fr_regex *re) {
    if (!re) return;
    onig_free(re->re);
    free(re);
}

/* One region and match parameters per thread, reused across searches (a search allocates
 * nothing then, unless its backtrack stack outgrows Oniguruma's initial one). */
typedef struct rx_scratch {
    OnigRegion *region;
    OnigMatchParam *mp;
} rx_scratch;
static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *p) {
    rx_scratch *sc = p;
    if (!sc) return;
    if (sc->region) onig_region_free(sc->region, 1);
    if (sc->mp) onig_free_match_param(sc->mp);
    free(sc);
}
static void key_once(void) { pthread_key_create(&g_key, scratch_free); }

static rx_scratch *scratch(void) {
    pthread_once(&g_key_once, key_once);
    rx_scratch *sc = pthread_getspecific(g_key);
    if (sc) return sc;
    sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    sc->region = onig_region_new();
    sc->mp = onig_new_match_param();
    if (!sc->region || !sc->mp || pthread_setspecific(g_key, sc) != 0) {
        scratch_free(sc);
        return NULL;
    }
    onig_initialize_match_param(sc->mp);
    onig_set_retry_limit_in_search_of_match_param(sc->mp, FR_REGEX_RETRY_LIMIT);
    onig_set_retry_limit_in_match_of_match_param(sc->mp, FR_REGEX_RETRY_LIMIT);
    onig_set_match_stack_limit_size_of_match_param(sc->mp, FR_REGEX_STACK_LIMIT);
    return sc;
}

/* Frees this thread's scratch (the main thread's would otherwise live until exit). */
void fr_regex_thread_cleanup(void) {
    pthread_once(&g_key_once, key_once);
    scratch_free(pthread_getspecific(g_key));
    pthread_setspecific(g_key, NULL);
}

int fr_regex_next(const fr_regex *re, const char *s, size_t n, size_t from, size_t *b, size_t *e, fr_error *err) {
    if (from > n) return 0;
    if (re->trailing_ws) return trailing_ws_next(s, n, from, b, e);
    rx_scratch *sc = scratch();
    if (!sc) {
        fr_fail(err, FR_ERR_NOMEM, "regex: out of memory");
        return -1;
    }
    const OnigUChar *str = (const OnigUChar *)s, *end = str + n;
    int r = onig_search_with_param(re->re, str, end, str + from, end, sc->region, ONIG_OPTION_NONE, sc->mp);
    if (r >= 0) {
        *b = (size_t)sc->region->beg[0];
        *e = (size_t)sc->region->end[0];
        return 1;
    }
    if (r == ONIG_MISMATCH) return 0;
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r);
    fr_fail(err, FR_ERR_RANGE, "pre-tokenizer regex gave up on a %zu-byte piece of text: %s", n, (const char *)msg);
    return -1;
}

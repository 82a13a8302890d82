/* jinja_lex.c: the Jinja lexer, rule for rule as jinja2's (trim_blocks and lstrip_blocks on,
 * newlines normalized to \n, one trailing newline of the source dropped). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_int.h"

typedef struct lexer {
    jj_ctx *c;
    const char *s;
    size_t n;
    jtok *t;
    size_t nt, cap;
    int line;
} lexer;

static jtok *push(lexer *L, uint8_t kind, int line) {
    if (L->nt == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        jtok *nt = jj_alloc(L->c, cap * sizeof(jtok));
        if (L->nt) memcpy(nt, L->t, L->nt * sizeof(jtok));
        L->t = nt;
        L->cap = cap;
    }
    jtok *t = &L->t[L->nt++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->line = line;
    return t;
}

static int count_nl(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

/* length of Unicode whitespace at s[i..] (Python's \s) */
static size_t ws_len_at(const char *s, size_t n, size_t i) {
    size_t j = i;
    uint32_t cp = utf8_next(s, n, &j);
    return py_isspace(cp) ? j - i : 0;
}

static size_t skip_ws(const char *s, size_t n, size_t i) {
    size_t k;
    while (i < n && (k = ws_len_at(s, n, i)) > 0) i += k;
    return i;
}

/* length of text after stripping trailing Unicode whitespace (str.rstrip()) */
static size_t rstrip_len(const char *s, size_t n) {
    size_t end = n;
    while (end > 0) {
        size_t st = end - 1;
        while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
        size_t j = st;
        if (!py_isspace(utf8_next(s, n, &j))) break;
        end = st;
    }
    return end;
}

static void emit_data(lexer *L, const char *s, size_t n, int line) {
    if (!n) return;
    jtok *t = push(L, JT_DATA, line);
    t->s = jj_strndup(L->c, s, n);
    t->n = n;
}

/* Data before a tag: '-' strips all whitespace, lstrip_blocks strips the indentation of a
 * block or comment tag that starts its line. */
static void data_before_tag(lexer *L, const char *text, size_t n, char sign, bool is_var, bool line_starting, int line) {
    if (sign == '-') n = rstrip_len(text, n);
    else if (sign != '+' && !is_var) {
        size_t lpos = n;
        while (lpos > 0 && text[lpos - 1] != '\n') lpos--;
        if ((lpos > 0 || line_starting) && lpos < n && skip_ws(text, n, lpos) == n) n = lpos;
    }
    emit_data(L, text, n, line);
}

static bool starts(const lexer *L, size_t i, const char *lit) {
    size_t k = strlen(lit);
    return i + k <= L->n && !memcmp(L->s + i, lit, k);
}

/* `{% raw %}` at i (with optional sign): returns the end of the opening tag, or 0 */
static size_t raw_open(const lexer *L, size_t i) {
    size_t p = i + 2;
    if (p < L->n && (L->s[p] == '-' || L->s[p] == '+')) p++;
    p = skip_ws(L->s, L->n, p);
    if (!starts(L, p, "raw")) return 0;
    p = skip_ws(L->s, L->n, p + 3);
    if (starts(L, p, "-%}")) return skip_ws(L->s, L->n, p + 3);
    if (starts(L, p, "%}")) return p + 2;
    return 0;
}

/* `{% endraw %}` at i: end of the tag or 0; *sign gets the strip sign */
static size_t raw_close(const lexer *L, size_t i, char *sign) {
    if (!starts(L, i, "{%")) return 0;
    size_t p = i + 2;
    *sign = 0;
    if (p < L->n && (L->s[p] == '-' || L->s[p] == '+')) *sign = L->s[p++];
    p = skip_ws(L->s, L->n, p);
    if (!starts(L, p, "endraw")) return 0;
    p = skip_ws(L->s, L->n, p + 6);
    if (starts(L, p, "+%}")) return p + 3;
    if (starts(L, p, "-%}")) return skip_ws(L->s, L->n, p + 3);
    if (starts(L, p, "%}")) return p + 2 + (p + 2 < L->n && L->s[p + 2] == '\n');
    return 0;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Python's unicode-escape decoding of a string literal body */
static void unescape(lexer *L, jtok *t, const char *s, size_t n, int line) {
    char *o = jj_alloc(L->c, n * 2 + 16);
    size_t on = 0, i = 0;
    while (i < n) {
        if (s[i] != '\\' || i + 1 >= n) {
            o[on++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '\n': break;
        case '\\': o[on++] = '\\'; break;
        case '\'': o[on++] = '\''; break;
        case '"': o[on++] = '"'; break;
        case 'a': o[on++] = 7; break;
        case 'b': o[on++] = 8; break;
        case 'f': o[on++] = 12; break;
        case 'n': o[on++] = '\n'; break;
        case 'r': o[on++] = '\r'; break;
        case 't': o[on++] = '\t'; break;
        case 'v': o[on++] = 11; break;
        case 'x':
        case 'u':
        case 'U': {
            int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < nd; k++) {
                int h = i + (size_t)k < n ? hexval(s[i + (size_t)k]) : -1;
                if (h < 0) jj_fail(L->c, line, FR_ERR_FORMAT, "truncated \\%cXX escape in a string literal", e);
                cp = cp * 16 + (uint32_t)h;
            }
            i += (size_t)nd;
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                jj_fail(L->c, line, FR_ERR_UNSUPPORTED, "escape \\%c%0*X in a string literal", e, nd, cp);
            on += utf8_put(o + on, cp);
            break;
        }
        case 'N': jj_fail(L->c, line, FR_ERR_UNSUPPORTED, "\\N{...} escapes in string literals");
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++) cp = cp * 8 + (uint32_t)(s[i++] - '0');
                on += utf8_put(o + on, cp);
            } else if ((unsigned char)e >= 0x80) {
                /* backslashreplace turned the character into \xNN/\uNNNN/\UNNNNNNNN, whose
                 * backslash the literal's backslash then escaped */
                size_t st = i - 1;
                uint32_t cp = utf8_next(s, n, &st);
                i = st;
                o[on++] = '\\';
                char tmp[16];
                int k = cp < 0x100 ? snprintf(tmp, sizeof tmp, "x%02x", cp)
                        : cp < 0x10000 ? snprintf(tmp, sizeof tmp, "u%04x", cp)
                                       : snprintf(tmp, sizeof tmp, "U%08x", cp);
                memcpy(o + on, tmp, (size_t)k);
                on += (size_t)k;
            } else {
                o[on++] = '\\';
                o[on++] = e;
            }
        }
    }
    o[on] = 0;
    t->s = o;
    t->n = on;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* (\d+_)*\d+ at i: end or 0 */
static size_t digits_us(const lexer *L, size_t i) {
    if (i >= L->n || !is_digit(L->s[i])) return 0;
    size_t p = i;
    for (;;) {
        while (p < L->n && is_digit(L->s[p])) p++;
        if (p + 1 < L->n && L->s[p] == '_' && is_digit(L->s[p + 1])) {
            p++;
            continue;
        }
        return p;
    }
}

static size_t match_float(const lexer *L, size_t i) {
    if (i > 0 && L->s[i - 1] == '.') return 0;
    size_t p = digits_us(L, i);
    if (!p) return 0;
    size_t frac = 0;
    if (p < L->n && L->s[p] == '.') frac = digits_us(L, p + 1);
    size_t q = frac ? frac : p;
    if (q < L->n && (L->s[q] == 'e' || L->s[q] == 'E')) {
        size_t r = q + 1;
        if (r < L->n && (L->s[r] == '+' || L->s[r] == '-')) r++;
        size_t e = digits_us(L, r);
        if (e) return e;
    }
    return frac;
}

static size_t match_int(const lexer *L, size_t i, int64_t *val, int line) {
    const char *s = L->s;
    size_t p = i;
    int base = 10;
    if (s[i] == '0' && i + 1 < L->n && strchr("bBoOxX", s[i + 1]) && s[i + 1]) {
        char b = (char)(s[i + 1] | 32);
        base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
        p = i + 2;
        size_t st = p;
        while (p < L->n) {
            size_t q = p;
            if (s[q] == '_') q++;
            int h = q < L->n ? hexval(s[q]) : -1;
            if (h < 0 || h >= base) break;
            p = q + 1;
        }
        if (p == st) return 0;
    } else if (s[i] == '0') {
        p = i + 1;
        while (p < L->n) {
            size_t q = p + (s[p] == '_');
            if (q < L->n && s[q] == '0') p = q + 1;
            else break;
        }
    } else if (s[i] >= '1' && s[i] <= '9') {
        p = i + 1;
        while (p < L->n) {
            size_t q = p + (s[p] == '_');
            if (q < L->n && is_digit(s[q])) p = q + 1;
            else break;
        }
    } else return 0;
    int64_t v = 0;
    for (size_t k = (base == 10 ? i : i + 2); k < p; k++) {
        if (s[k] == '_') continue;
        if (!ck_mul_i64(v, base, &v) || !ck_add_i64(v, hexval(s[k]), &v))
            jj_fail(L->c, line, FR_ERR_UNSUPPORTED, "integer literal too large");
    }
    *val = v;
    return p;
}

static const struct {
    const char *s;
    uint8_t op;
} k_ops[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {">=", OP_GTEQ}, {"<=", OP_LTEQ},
    {"+", OP_ADD}, {"-", OP_SUB}, {"/", OP_DIV}, {"*", OP_MUL}, {"%", OP_MOD}, {"~", OP_TILDE},
    {"[", OP_LBRACKET}, {"]", OP_RBRACKET}, {"(", OP_LPAREN}, {")", OP_RPAREN}, {"{", OP_LBRACE},
    {"}", OP_RBRACE}, {">", OP_GT}, {"<", OP_LT}, {"=", OP_ASSIGN}, {".", OP_DOT}, {":", OP_COLON},
    {"|", OP_PIPE}, {",", OP_COMMA}, {";", OP_SEMICOLON},
};

/* Tokens of one {{ }} or {% %} tag starting at p (after the opener). Returns the end. */
static size_t lex_tag(lexer *L, size_t p, bool block, bool *line_starting) {
    const char *s = L->s;
    char bal[64];
    int nbal = 0;
    int open_line = L->line;
    for (;;) {
        if (p >= L->n) jj_fail(L->c, open_line, FR_ERR_FORMAT, "unexpected end of template, expected '%s'", block ? "%}" : "}}");
        if (nbal == 0) {
            size_t e = 0;
            if (block) {
                if (starts(L, p, "+%}")) e = p + 3;
                else if (starts(L, p, "-%}")) e = skip_ws(s, L->n, p + 3);
                else if (starts(L, p, "%}")) e = p + 2 + (p + 2 < L->n && s[p + 2] == '\n');
            } else {
                if (starts(L, p, "-}}")) e = skip_ws(s, L->n, p + 3);
                else if (starts(L, p, "}}")) e = p + 2;
            }
            if (e) {
                push(L, block ? JT_BLOCK_END : JT_VAR_END, L->line);
                L->line += count_nl(s + p, e - p);
                *line_starting = s[e - 1] == '\n';
                return e;
            }
        }
        size_t w = skip_ws(s, L->n, p);
        if (w > p) {
            L->line += count_nl(s + p, w - p);
            p = w;
            continue;
        }
        size_t e;
        if ((e = match_float(L, p)) > 0) {
            jtok *t = push(L, JT_FLOAT, L->line);
            char *tmp = jj_alloc(L->c, e - p + 1);
            size_t k = 0;
            for (size_t i = p; i < e; i++)
                if (s[i] != '_') tmp[k++] = s[i];
            t->d = strtod(tmp, NULL);
            p = e;
            continue;
        }
        int64_t iv;
        if ((e = match_int(L, p, &iv, L->line)) > 0) {
            jtok *t = push(L, JT_INT, L->line);
            t->i = iv;
            p = e;
            continue;
        }
        char ch = s[p];
        if (ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
            e = p + 1;
            while (e < L->n && (s[e] == '_' || is_digit(s[e]) || ((s[e] | 32) >= 'a' && (s[e] | 32) <= 'z'))) e++;
            if (e < L->n && (unsigned char)s[e] >= 0x80)
                jj_fail(L->c, L->line, FR_ERR_UNSUPPORTED, "non-ASCII identifier");
            jtok *t = push(L, JT_NAME, L->line);
            t->s = jj_strndup(L->c, s + p, e - p);
            t->n = e - p;
            p = e;
            continue;
        }
        if (ch == '\'' || ch == '"') {
            size_t q = p + 1;
            while (q < L->n && s[q] != ch) q += (s[q] == '\\' && q + 1 < L->n) ? 2 : 1;
            if (q >= L->n) jj_fail(L->c, L->line, FR_ERR_FORMAT, "unexpected char %c (unterminated string)", ch);
            jtok *t = push(L, JT_STRING, L->line);
            unescape(L, t, s + p + 1, q - p - 1, L->line);
            L->line += count_nl(s + p, q - p);
            p = q + 1;
            continue;
        }
        size_t k;
        for (k = 0; k < FR_ARRAY_LEN(k_ops); k++)
            if (starts(L, p, k_ops[k].s)) break;
        if (k == FR_ARRAY_LEN(k_ops)) {
            if ((unsigned char)ch >= 0x80) jj_fail(L->c, L->line, FR_ERR_UNSUPPORTED, "non-ASCII character in a tag");
            jj_fail(L->c, L->line, FR_ERR_FORMAT, "unexpected char '%c'", ch);
        }
        uint8_t op = k_ops[k].op;
        if (op == OP_LPAREN || op == OP_LBRACKET || op == OP_LBRACE) {
            if (nbal == (int)sizeof bal) jj_fail(L->c, L->line, FR_ERR_RANGE, "brackets nested too deeply");
            bal[nbal++] = op == OP_LPAREN ? ')' : op == OP_LBRACKET ? ']' : '}';
        } else if (op == OP_RPAREN || op == OP_RBRACKET || op == OP_RBRACE) {
            if (!nbal) jj_fail(L->c, L->line, FR_ERR_FORMAT, "unexpected '%c'", ch);
            if (bal[--nbal] != ch) jj_fail(L->c, L->line, FR_ERR_FORMAT, "unexpected '%c', expected '%c'", ch, bal[nbal]);
        }
        jtok *t = push(L, JT_OP, L->line);
        t->op = op;
        p += strlen(k_ops[k].s);
    }
}

jtok *jj_lex(jj_ctx *c, const char *src, size_t len, size_t *ntok) {
    /* normalize newlines, drop one trailing newline, check UTF-8 */
    char *s = jj_alloc(c, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else s[n++] = src[i];
    }
    if (n > 0 && s[n - 1] == '\n') n--;
    s[n] = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        size_t k = b < 0x80 ? 1 : (b >= 0xC2 && b < 0xE0) ? 2 : (b >= 0xE0 && b < 0xF0) ? 3 : (b >= 0xF0 && b < 0xF5) ? 4 : 0;
        bool ok = k > 0 && i + k <= n;
        for (size_t j = 1; ok && j < k; j++) ok = ((unsigned char)s[i + j] & 0xC0) == 0x80;
        if (ok && k == 3) {
            uint32_t cp = ((b & 0x0Fu) << 12) | (((unsigned char)s[i + 1] & 0x3Fu) << 6);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok && k == 4) {
            uint32_t cp = ((b & 0x07u) << 18) | (((unsigned char)s[i + 1] & 0x3Fu) << 12);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (!ok) jj_fail(c, 1 + count_nl(s, i), FR_ERR_FORMAT, "the template is not valid UTF-8 (byte offset %zu)", i);
        i += k;
    }
    lexer L = {.c = c, .s = s, .n = n, .line = 1};
    size_t pos = 0;
    bool line_starting = true;
    while (pos < n) {
        /* the next tag opener */
        size_t tp = pos;
        const char *hit = NULL;
        while (tp + 1 < n) {
            hit = memchr(s + tp, '{', n - tp - 1);
            if (!hit) break;
            tp = (size_t)(hit - s);
            char k = s[tp + 1];
            if (k == '{' || k == '%' || k == '#') break;
            tp++;
            hit = NULL;
        }
        if (!hit) {
            emit_data(&L, s + pos, n - pos, L.line);
            break;
        }
        char kind = s[tp + 1];
        char sign = (tp + 2 < n && (s[tp + 2] == '-' || s[tp + 2] == '+')) ? s[tp + 2] : 0;
        size_t raw_end = kind == '%' ? raw_open(&L, tp) : 0;
        int data_line = L.line;
        data_before_tag(&L, s + pos, tp - pos, sign, kind == '{', line_starting, data_line);
        L.line += count_nl(s + pos, tp - pos);
        if (raw_end) {
            L.line += count_nl(s + tp, raw_end - tp);
            bool ls = s[raw_end - 1] == '\n';
            size_t q = raw_end, e = 0;
            char rsign = 0;
            while (q < n) {
                const char *h = memchr(s + q, '{', n - q);
                if (!h) break;
                q = (size_t)(h - s);
                if ((e = raw_close(&L, q, &rsign)) > 0) break;
                q++;
            }
            if (!e) jj_fail(c, L.line, FR_ERR_FORMAT, "Missing end of raw directive");
            data_before_tag(&L, s + raw_end, q - raw_end, rsign, false, ls, L.line);
            L.line += count_nl(s + raw_end, e - raw_end);
            line_starting = s[e - 1] == '\n';
            pos = e;
            continue;
        }
        size_t p = tp + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t e = 0, q = p;
            for (; q < n; q++) {
                if (starts(&L, q, "+#}")) e = q + 3;
                else if (starts(&L, q, "-#}")) e = skip_ws(s, n, q + 3);
                else if (starts(&L, q, "#}")) e = q + 2 + (q + 2 < n && s[q + 2] == '\n');
                if (e) break;
            }
            if (!e) jj_fail(c, L.line, FR_ERR_FORMAT, "Missing end of comment tag");
            L.line += count_nl(s + tp, e - tp);
            line_starting = s[e - 1] == '\n';
            pos = e;
            continue;
        }
        push(&L, kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN, L.line);
        pos = lex_tag(&L, p, kind == '%', &line_starting);
    }
    push(&L, JT_EOF, L.line);
    *ntok = L.nt;
    return L.t;
}

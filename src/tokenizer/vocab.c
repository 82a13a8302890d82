/* vocab.c: token table and detokenization (see vocab.h). */
#include "vocab.h"

#include <string.h>

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

fr_status fr_vocab_load(const gguf_file *f, fr_vocab *v, fr_error *err) {
    memset(v, 0, sizeof *v);
    gguf_str model;
    int r = gguf_get_str(f, "tokenizer.ggml.model", &model, err);
    if (r < 0) return err->code;
    if (r == 0) return FR_OK;
    if (gguf_str_eq(model, "llama")) {
        v->kind = FR_VOCAB_SPM;
    } else if (gguf_str_eq(model, "gpt2")) {
        v->kind = FR_VOCAB_BPE;
    } else if (gguf_str_eq(model, "no_vocab") || gguf_str_eq(model, "none")) {
        return FR_OK;
    } else {
        int n = model.len > 32 ? 32 : (int)model.len;
        return fr_fail(err, FR_ERR_UNSUPPORTED, "tokenizer.ggml.model: '%.*s' (supported: llama, gpt2)", n, model.ptr);
    }
    const gguf_kv *toks;
    r = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &toks, err);
    if (r < 0) return err->code;
    if (r == 0 || toks->arr_n == 0)
        return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.tokens: missing or empty (expected the token list)");
    const gguf_kv *types = NULL;
    r = gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_VTYPE_COUNT, &types, err);
    if (r < 0) return err->code;
    if (r == 1) {
        if (types->arr_type != GGUF_INT32 && types->arr_type != GGUF_UINT32)
            return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.token_type: element type %d (expected int32)",
                           (int)types->arr_type);
        if (types->arr_n != toks->arr_n)
            return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.token_type: %llu entries for %llu tokens",
                           (unsigned long long)types->arr_n, (unsigned long long)toks->arr_n);
    }
    const gguf_kv *scores = NULL;
    r = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VTYPE_COUNT, &scores, err);
    if (r < 0) return err->code;
    if (r == 1 && scores->arr_n != toks->arr_n)
        return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.scores: %llu entries for %llu tokens",
                       (unsigned long long)scores->arr_n, (unsigned long long)toks->arr_n);
    for (uint64_t i = 0; i < toks->arr_n; i++) {
        gguf_str t = toks->arr_strs[i];
        if (t.len > FR_VOCAB_MAX_PIECE)
            return fr_fail(err, FR_ERR_FORMAT, "tokenizer.ggml.tokens[%llu]: %llu bytes (the limit is %d)",
                           (unsigned long long)i, (unsigned long long)t.len, FR_VOCAB_MAX_PIECE);
        if (types && gguf_arr_int(types, i) == FR_TOKEN_BYTE) {
            bool ok = t.len == 6 && memcmp(t.ptr, "<0x", 3) == 0 && t.ptr[5] == '>' && hexval(t.ptr[3]) >= 0 &&
                      hexval(t.ptr[4]) >= 0;
            if (!ok) {
                int n = t.len > 16 ? 16 : (int)t.len;
                for (int k = 0; k < n; k++)
                    if ((unsigned char)t.ptr[k] < 0x20) n = k; /* keep the message printable */
                return fr_fail(err, FR_ERR_FORMAT,
                               "tokenizer.ggml.tokens[%llu]: '%.*s' has type BYTE but is not a byte token <0xHH>",
                               (unsigned long long)i, n, t.ptr);
            }
        }
    }
    v->n_tokens = (int64_t)toks->arr_n;
    v->tokens = toks->arr_strs;
    v->types = types;
    return FR_OK;
}

int fr_vocab_type(const fr_vocab *v, int64_t id) {
    if (!v->types || id < 0 || id >= v->n_tokens) return FR_TOKEN_NORMAL;
    return (int)gguf_arr_int(v->types, (uint64_t)id);
}

/* GPT-2 byte-level mapping, inverted: code point -> byte, or -1. Printable bytes map to
 * themselves; the other 68 bytes map to U+0100 + k in byte order. */
static int byte_of_codepoint(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff)) return (int)cp;
    if (cp < 0x100 || cp >= 0x100 + 68) return -1;
    int k = (int)(cp - 0x100), seen = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        if (!printable) {
            if (seen == k) return b;
            seen++;
        }
    }
    return -1;
}

/* Decode one UTF-8 code point from s[0..n); returns its length (>= 1), or 1 with cp = -1 on bad input. */
static int utf8_next(const unsigned char *s, uint64_t n, int32_t *cp) {
    unsigned c = s[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || (uint64_t)len > n) {
        *cp = -1;
        return 1;
    }
    int32_t v = len == 1 ? (int32_t)c : (int32_t)(c & (0x7f >> len));
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    *cp = v;
    return len;
}

int fr_vocab_piece(const fr_vocab *v, int64_t id, bool special, char *buf, size_t cap) {
    if (cap == 0) return -1;
    buf[0] = 0;
    if (v->kind == FR_VOCAB_NONE || id < 0 || id >= v->n_tokens) return -1;
    gguf_str t = v->tokens[id];
    int type = fr_vocab_type(v, id);
    size_t o = 0;
#define PUT(ch)                                                                              \
    do {                                                                                     \
        if (o + 1 < cap) buf[o++] = (char)(ch);                                              \
    } while (0)
    if (type == FR_TOKEN_CONTROL || type == FR_TOKEN_UNKNOWN || type == FR_TOKEN_UNUSED) {
        if (special)
            for (uint64_t i = 0; i < t.len; i++) PUT(t.ptr[i]);
        buf[o] = 0;
        return (int)o;
    }
    if (v->kind == FR_VOCAB_SPM) {
        if (type == FR_TOKEN_BYTE && t.len == 6 && memcmp(t.ptr, "<0x", 3) == 0 && t.ptr[5] == '>') {
            int hi = hexval(t.ptr[3]), lo = hexval(t.ptr[4]);
            if (hi >= 0 && lo >= 0) PUT(hi * 16 + lo);
        } else {
            for (uint64_t i = 0; i < t.len; i++) {
                if (i + 2 < t.len && (unsigned char)t.ptr[i] == 0xe2 && (unsigned char)t.ptr[i + 1] == 0x96 &&
                    (unsigned char)t.ptr[i + 2] == 0x81) {
                    PUT(' ');
                    i += 2;
                } else {
                    PUT(t.ptr[i]);
                }
            }
        }
    } else if (type == FR_TOKEN_USER_DEFINED) {
        for (uint64_t i = 0; i < t.len; i++) PUT(t.ptr[i]);
    } else {
        const unsigned char *s = (const unsigned char *)t.ptr;
        uint64_t i = 0;
        while (i < t.len) {
            int32_t cp;
            int l = utf8_next(s + i, t.len - i, &cp);
            int b = cp >= 0 ? byte_of_codepoint((uint32_t)cp) : -1;
            if (b >= 0) {
                PUT(b);
            } else { /* not a byte-level piece: keep the raw bytes */
                for (int k = 0; k < l; k++) PUT(s[i + k]);
            }
            i += (uint64_t)l;
        }
    }
#undef PUT
    buf[o] = 0;
    return (int)o;
}

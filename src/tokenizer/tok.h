/* tok.h: the tokenizer (text <-> token ids), shared by the GGUF and tokenizer.json loaders.
 *
 * One pipeline for every family, modelled on Hugging Face's tokenizers:
 *   added/special tokens are split off first (leftmost-longest match, lstrip/rstrip),
 *   then each remaining section is normalized (normalize.c), pre-tokenized into pieces
 *   (pretok.c: regex splits with Oniguruma, byte-level mapping, Metaspace, ...), and each
 *   piece goes through the model: byte-level/char BPE with merge ranks (bpe.c) or
 *   SentencePiece score merges (spm.c). Decoding (decode.c) runs the decoder chain token by
 *   token, which also gives a streaming decoder that holds incomplete UTF-8.
 *
 * GGUF files (tokenizer.ggml.*) are mapped onto the same pipeline (gguf_tok.c): a "llama"
 * (SentencePiece) vocab becomes Replace(' ' -> U+2581) + Prepend(U+2581) and SPM merges; a
 * "gpt2" vocab becomes the family's regex splits (tokenizer.ggml.pre) + byte-level BPE.
 *
 * Text that is not valid UTF-8 is never rejected: each invalid byte travels as a unit of its
 * own (regexes only ever see valid UTF-8 runs), so byte-level and byte-fallback vocabularies
 * encode it exactly and decoding gives the same bytes back. */
#ifndef FRUGAL_TOKENIZER_TOK_H
#define FRUGAL_TOKENIZER_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "vocab.h"

/* Sanity bounds (CHECKLIST item 14, 17). */
#define FR_TOK_MAX_VOCAB (1 << 24)      /* token ids */
#define FR_TOK_MAX_ADDED 65536          /* added tokens */
#define FR_TOK_MAX_STEPS 64             /* normalizer / pre-tokenizer / decoder steps */
#define FR_TOK_JSON_MAX_DEPTH 64        /* nesting of tokenizer.json */
#define FR_TOK_JSON_MAX_BYTES (1u << 30) /* tokenizer.json size */
#define FR_TOK_CACHE_WORD 256           /* BPE results of words up to this many bytes are cached */

/* ---- growable buffers ---- */
typedef struct fr_buf {
    char *p;
    size_t n, cap;
} fr_buf;
bool fr_buf_reserve(fr_buf *b, size_t extra);
bool fr_buf_put(fr_buf *b, const void *s, size_t n);
static inline bool fr_buf_putc(fr_buf *b, char c) { return fr_buf_put(b, &c, 1); }
void fr_buf_free(fr_buf *b);

typedef struct fr_ids {
    int32_t *v;
    size_t n, cap;
} fr_ids;
bool fr_ids_push(fr_ids *a, int32_t id);
void fr_ids_free(fr_ids *a);

/* ---- UTF-8 ---- */
/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 if s[0] starts no valid sequence
 * (bad lead byte, truncated, overlong, surrogate, > U+10FFFF). *cp gets the code point. */
int fr_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);
/* The unit at s: a valid sequence's length, or 1 for an invalid byte. */
static inline size_t fr_utf8_unit(const char *s, size_t n) {
    uint32_t cp;
    int l = fr_utf8_seq((const unsigned char *)s, n, &cp);
    return l > 0 ? (size_t)l : 1;
}
int fr_utf8_encode(uint32_t cp, char out[4]);
/* Unicode White_Space (what Rust's char::is_whitespace tests). */
bool fr_is_whitespace(uint32_t cp);
/* GPT-2 byte-level alphabet: byte -> code point, and back (-1 if not in the alphabet). */
uint32_t fr_byte_to_cp(uint8_t b);
int fr_cp_to_byte(uint32_t cp);
/* Bytes of a byte-level token text: false if a character is outside the alphabet. */
bool fr_bytelevel_decode(const char *s, size_t n, fr_buf *out);
/* "<0xHH>" -> HH, or -1. */
int fr_byte_token_value(const char *s, size_t n);

/* ---- string -> int32 map (open addressing; keys are ranges of an external arena) ---- */
typedef struct fr_smap_slot {
    uint32_t hash, off, len;
    int32_t val;
} fr_smap_slot;
typedef struct fr_smap {
    fr_smap_slot *slots; /* len == UINT32_MAX marks an empty slot */
    size_t cap, n;
} fr_smap;
uint32_t fr_hash(const void *s, size_t n);
/* put: 1 inserted, 0 already present (*old gets its value), -1 out of memory. */
int fr_smap_put(fr_smap *m, const char *base, uint32_t off, uint32_t len, int32_t val, int32_t *old);
int32_t fr_smap_get(const fr_smap *m, const char *base, const char *key, size_t len); /* -1 absent */
void fr_smap_free(fr_smap *m);

/* ---- (id, id) -> (rank, merged id) ---- */
typedef struct fr_pmap_slot {
    uint64_t key; /* UINT64_MAX: empty */
    int32_t rank, id;
} fr_pmap_slot;
typedef struct fr_pmap {
    fr_pmap_slot *slots;
    size_t cap, n;
} fr_pmap;
int fr_pmap_put(fr_pmap *m, int32_t a, int32_t b, int32_t rank, int32_t id); /* 1, 0 (exists), -1 */
bool fr_pmap_get(const fr_pmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *id);
void fr_pmap_free(fr_pmap *m);

/* ---- regex (Oniguruma, Unicode properties, lookahead) ---- */
typedef struct fr_regex fr_regex;
fr_status fr_regex_new(const char *pat, size_t len, fr_regex **out, fr_error *err);
void fr_regex_free(fr_regex *re);
/* Frees the calling thread's reusable search state (optional; threads free theirs on exit). */
void fr_regex_thread_cleanup(void);
/* Next match in s[0..n) starting the search at `from`: 1 found ([*b, *e)), 0 none, -1 error
 * (the work limit was hit; err says so). s must be valid UTF-8. */
int fr_regex_next(const fr_regex *re, const char *s, size_t n, size_t from, size_t *b, size_t *e, fr_error *err);

/* ---- normalizers ---- */
typedef enum {
    FR_NORM_NFC, FR_NORM_NFD, FR_NORM_NFKC, FR_NORM_NFKD, FR_NORM_PREPEND, FR_NORM_REPLACE, FR_NORM_STRIP,
    FR_NORM_LOWERCASE,
} fr_norm_kind;
typedef struct fr_norm_step {
    fr_norm_kind kind;
    char *a, *b;      /* PREPEND: a; REPLACE: literal a (or regex re) -> b */
    size_t alen, blen;
    fr_regex *re;
    bool left, right; /* STRIP */
} fr_norm_step;

/* ---- pre-tokenizers ---- */
typedef enum { FR_SPLIT_REMOVED, FR_SPLIT_ISOLATED, FR_SPLIT_MERGED_PREV, FR_SPLIT_MERGED_NEXT, FR_SPLIT_CONTIGUOUS } fr_split_behavior;
typedef enum {
    FR_PRE_SPLIT, FR_PRE_BYTELEVEL, FR_PRE_DIGITS, FR_PRE_METASPACE, FR_PRE_WHITESPACE, FR_PRE_WHITESPACE_SPLIT,
    FR_PRE_PUNCTUATION,
} fr_pre_kind;
typedef enum { FR_PREPEND_ALWAYS, FR_PREPEND_FIRST, FR_PREPEND_NEVER } fr_prepend_scheme;
typedef struct fr_pre_step {
    fr_pre_kind kind;
    fr_regex *re;       /* SPLIT (regex), BYTELEVEL with use_regex, WHITESPACE */
    char *lit;          /* SPLIT with a literal pattern */
    size_t lit_len;
    fr_split_behavior behavior;
    bool invert;
    bool add_prefix_space; /* BYTELEVEL */
    bool individual;       /* DIGITS */
    char repl[8];          /* METASPACE replacement (UTF-8) */
    size_t repl_len;
    fr_prepend_scheme scheme;
    bool split;
} fr_pre_step;

/* A list of pieces: ranges of one buffer. */
typedef struct fr_piece {
    size_t off, len;
} fr_piece;
typedef struct fr_pieces {
    fr_buf text;
    fr_piece *v;
    size_t n, cap;
} fr_pieces;
bool fr_pieces_add(fr_pieces *p, const char *s, size_t n); /* copies; empty pieces are skipped */
void fr_pieces_free(fr_pieces *p);

/* ---- a binary min-heap of T ordered by BEFORE(a, b), as a type-specific template (no
 * indirect calls on the merge loop). FR_DEFINE_HEAP(name, T, BEFORE) defines name (the
 * heap), name_push (false on OOM) and name_pop (caller checks n > 0). ---- */
#define FR_DEFINE_HEAP(NAME, T, BEFORE)                                                        \
    typedef struct NAME {                                                                      \
        T *v;                                                                                  \
        size_t n, cap;                                                                         \
    } NAME;                                                                                    \
    static bool NAME##_push(NAME *h, T c) {                                                    \
        if (h->n == h->cap) {                                                                  \
            size_t nc = h->cap ? h->cap * 2 : 64;                                              \
            T *v = realloc(h->v, nc * sizeof *v);                                              \
            if (!v) return false;                                                              \
            h->v = v;                                                                          \
            h->cap = nc;                                                                       \
        }                                                                                      \
        size_t i = h->n++;                                                                     \
        while (i > 0) {                                                                        \
            size_t p = (i - 1) / 2;                                                            \
            if (!BEFORE(c, h->v[p])) break;                                                    \
            h->v[i] = h->v[p];                                                                 \
            i = p;                                                                             \
        }                                                                                      \
        h->v[i] = c;                                                                           \
        return true;                                                                           \
    }                                                                                          \
    static T NAME##_pop(NAME *h) {                                                             \
        T top = h->v[0], last = h->v[--h->n];                                                  \
        size_t i = 0;                                                                          \
        for (;;) {                                                                             \
            size_t l = 2 * i + 1, r = l + 1, m = i;                                            \
            T best = last;                                                                     \
            if (l < h->n && BEFORE(h->v[l], best)) m = l, best = h->v[l];                     \
            if (r < h->n && BEFORE(h->v[r], best)) m = r;                                      \
            if (m == i) break;                                                                 \
            h->v[i] = h->v[m];                                                                 \
            i = m;                                                                             \
        }                                                                                      \
        if (h->n > 0) h->v[i] = last;                                                          \
        return top;                                                                            \
    }

/* ---- decoder plan (the decoder chain, which is token-local apart from the start) ---- */
typedef struct fr_decoder {
    bool join_space;        /* no decoder at all: tokens joined with ' ' (Hugging Face's default) */
    bool byte_level;        /* ByteLevel: token chars -> bytes (added tokens stay as written) */
    int n_replace;
    char *rep_from[4], *rep_to[4];
    size_t rep_from_len[4], rep_to_len[4];
    bool byte_fallback;     /* "<0xHH>" tokens -> the byte */
    bool metaspace;         /* Metaspace decoder: replacement -> ' ', first token loses a leading ' ' */
    char ms_repl[8];
    size_t ms_repl_len;
    bool ms_strip_first;
    char strip_char;        /* Strip after Fuse: up to strip_start leading / strip_stop trailing */
    int strip_start, strip_stop;
    char tok_strip_char;    /* Strip before Fuse: per token */
    int tok_strip_start, tok_strip_stop;
} fr_decoder;

/* ---- added tokens (matched before the model) ---- */
typedef struct fr_added {
    int32_t id;
    uint32_t off, len; /* text in tok->text */
    bool special, lstrip, rstrip, normalized, single_word;
} fr_added;

typedef struct fr_trie_node {
    int32_t child, sibling; /* -1: none */
    int32_t added;          /* index into tok->added, -1 */
    uint8_t byte;
} fr_trie_node;
typedef struct fr_trie {
    fr_trie_node *nodes;
    size_t n, cap;
    uint8_t first[32]; /* bitmap of first bytes */
} fr_trie;

typedef enum { FR_TOKM_BPE = 1, FR_TOKM_SPM = 2 } fr_tok_model;

typedef struct fr_tokenizer {
    fr_tok_model model;
    char source[16]; /* "gguf" | "tokenizer.json" */
    char pre_name[64];
    int32_t n_vocab;
    fr_buf text;        /* token texts */
    uint32_t *tok_off, *tok_len;
    uint8_t *tok_type;  /* FR_TOKEN_* (0: no token with this id) */
    float *scores;      /* SPM scores or NULL */
    fr_smap vocab;      /* model vocabulary: text -> id */
    fr_pmap merges;     /* BPE */
    int32_t byte_tok[256];
    bool byte_fallback, ignore_merges, fuse_unk;
    bool ws_split; /* no token has U+2581 after another character: text may be cut before each such U+2581 */
    int32_t unk;
    fr_added *added;
    int n_added;
    bool any_normalized_added;
    fr_trie trie_raw, trie_norm;
    fr_norm_step norm[FR_TOK_MAX_STEPS];
    int n_norm;
    fr_pre_step pre[FR_TOK_MAX_STEPS];
    int n_pre;
    fr_decoder dec;
    int32_t bos, eos;
    bool add_bos, add_eos;
    int32_t prefix[4], suffix[4]; /* added with add_special */
    int n_prefix, n_suffix;
    char *chat_template;
} fr_tokenizer;

/* ---- construction ---- */
fr_tokenizer *fr_tok_alloc(void);
void fr_tok_free(fr_tokenizer *t);
/* Allocate the per-id tables for n tokens (types 0). */
fr_status fr_tok_init_vocab(fr_tokenizer *t, int64_t n, bool with_scores, fr_error *err);
/* Set token `id`'s text; add it to the model vocabulary map if in_vocab. Duplicates in the
 * vocabulary are an error. */
fr_status fr_tok_set_token(fr_tokenizer *t, int32_t id, const char *s, size_t n, int type, bool in_vocab, fr_error *err);
fr_status fr_tok_add_merge(fr_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen, int32_t rank,
                           const char *what, fr_error *err);
fr_status fr_tok_add_added(fr_tokenizer *t, const fr_added *a, fr_error *err);
/* After all tokens: byte tokens, tries, normalized added tokens. */
fr_status fr_tok_finish(fr_tokenizer *t, fr_error *err);
static inline const char *fr_tok_str(const fr_tokenizer *t, int32_t id) { return t->text.p + t->tok_off[id]; }

fr_status fr_tok_from_gguf(const gguf_file *f, fr_tokenizer **out, fr_error *err);
/* path: tokenizer.json, or a folder holding it (and tokenizer_config.json). */
fr_status fr_tok_from_json(const char *path, fr_tokenizer **out, fr_error *err);
/* Regexes (Split, Isolated, applied in order) of a GGUF tokenizer.ggml.pre; false if unknown. */
typedef struct fr_pre_family {
    const char *names;      /* '|'-separated */
    const char *regex[6];
    bool nfc, ignore_merges, add_bos;
} fr_pre_family;
const fr_pre_family *fr_pre_family_find(const char *name, size_t len);
const char *fr_pre_family_list(void);

/* ---- the pipeline ---- */
fr_status fr_normalize(const fr_tokenizer *t, const char *s, size_t n, fr_buf *out, fr_error *err);
/* Pre-tokenize one (normalized) section; at_start: the section begins the input. */
fr_status fr_pretokenize(const fr_tokenizer *t, const char *s, size_t n, bool at_start, fr_pieces *out,
                         fr_error *err);
typedef struct fr_bpe_cache fr_bpe_cache;
fr_bpe_cache *fr_bpe_cache_new(void);
void fr_bpe_cache_free(fr_bpe_cache *c);
fr_status fr_bpe_word(const fr_tokenizer *t, const char *s, size_t n, fr_bpe_cache *cache, fr_ids *out, fr_error *err);
fr_status fr_spm_word(const fr_tokenizer *t, const char *s, size_t n, fr_ids *out, fr_error *err);
fr_status fr_tok_encode(const fr_tokenizer *t, const char *s, size_t n, bool add_special, bool parse_special,
                        fr_ids *out, fr_error *err);

/* Decoding: state for one stream. */
typedef struct fr_detok {
    const fr_tokenizer *t;
    bool special;
    int64_t n_tokens;   /* tokens pushed */
    int strip_left;     /* leading strip_char still to drop */
    bool started;       /* output has begun (stream-start rules are over) */
    fr_buf pending;     /* bytes not yet returned (incomplete UTF-8, held trailing strip chars) */
    fr_buf out;         /* returned text */
} fr_detok;
void fr_detok_init(fr_detok *d, const fr_tokenizer *t, bool special, bool continuation);
/* Appends the bytes of token id; completed text is moved to d->out (caller consumes). */
fr_status fr_detok_push(fr_detok *d, int32_t id, fr_error *err);
void fr_detok_finish(fr_detok *d); /* everything pending goes to d->out */
void fr_detok_free(fr_detok *d);

/* The public handle around a tokenizer (src/runtime/api_tokenizer.c); takes ownership. */
frugal_tokenizer *fr_tokenizer_wrap(fr_tokenizer *t);

/* Nesting depth of JSON text: the deepest run of brackets outside strings (a bound to check
 * before handing untrusted JSON to a recursive parser). hf_json.c */
int fr_json_depth(const char *s, size_t n);

#endif

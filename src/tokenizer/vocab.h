/* vocab.h: the token table from GGUF metadata (tokenizer.ggml.*), its validation, and the
 * bytes of one token for display. Encoding and full decoding are in tok.h. */
#ifndef FRUGAL_TOKENIZER_VOCAB_H
#define FRUGAL_TOKENIZER_VOCAB_H

#include <stdbool.h>
#include <stdint.h>

#include "io/gguf.h"

typedef enum fr_vocab_kind {
    FR_VOCAB_NONE = 0, /* no tokenizer metadata */
    FR_VOCAB_SPM = 1,  /* "llama": SentencePiece, U+2581 for spaces, <0xXX> byte tokens */
    FR_VOCAB_BPE = 2,  /* "gpt2": byte-level BPE (GPT-2 byte-to-unicode mapping) */
} fr_vocab_kind;

/* GGUF token types */
enum { FR_TOKEN_NORMAL = 1, FR_TOKEN_UNKNOWN = 2, FR_TOKEN_CONTROL = 3, FR_TOKEN_USER_DEFINED = 4,
       FR_TOKEN_UNUSED = 5, FR_TOKEN_BYTE = 6 };

/* The longest token text accepted, in bytes. Real vocabularies stay under a few hundred bytes
 * (runs of spaces or '=' in code vocabularies); anything near this bound is a broken or
 * hostile file (CHECKLIST item 14). */
#define FR_VOCAB_MAX_PIECE 65536

typedef struct fr_vocab {
    fr_vocab_kind kind;
    int64_t n_tokens;
    const gguf_str *tokens; /* [n_tokens], views into the file */
    const gguf_kv *types;   /* token_type array or NULL */
} fr_vocab;

/* Reads the token table. A file without tokenizer metadata gives kind NONE and FR_OK.
 * Errors: token_type or scores length differs from the token count, unknown tokenizer model,
 * a token longer than FR_VOCAB_MAX_PIECE, a BYTE-type token that is not <0xHH>. */
fr_status fr_vocab_load(const gguf_file *f, fr_vocab *v, fr_error *err);
int fr_vocab_type(const fr_vocab *v, int64_t id);
/* Bytes of token `id` into buf (NUL-terminated); returns length or -1 (bad id / no vocab). */
int fr_vocab_piece(const fr_vocab *v, int64_t id, bool special, char *buf, size_t cap);

#endif

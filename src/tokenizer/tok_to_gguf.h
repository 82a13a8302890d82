/* tok_to_gguf.h: write a Hugging Face tokenizer.json as GGUF tokenizer.ggml.* keys. */
#ifndef FRUGAL_TOKENIZER_TOK_TO_GGUF_H
#define FRUGAL_TOKENIZER_TOK_TO_GGUF_H

#include "io/gguf.h"

/* Byte-level BPE tokenizers only; the GGUF pre-tokenizer family is the one whose encoding
 * equals the JSON's on a probe text (an error if none does). *n_vocab: the token count. */
fr_status fr_tok_json_to_gguf(const char *json_path, gguf_writer *w, int64_t *n_vocab, fr_error *err);

#endif

/* frugal.h: the public C API of libfrugal.
 *
 * Opaque handles (model, context, sampler), status codes with messages, init/free pairs.
 * Library functions never exit or abort on bad input: they return a status and fill an
 * fr_error whose message names the file or field, the bad value and what was expected. */
#ifndef FRUGAL_H
#define FRUGAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FRUGAL_VERSION "0.1.0"

typedef enum fr_status {
    FR_OK = 0,
    FR_ERR_IO = 1,          /* cannot open/read/map/write a file */
    FR_ERR_FORMAT = 2,      /* malformed input (file, field, value) */
    FR_ERR_UNSUPPORTED = 3, /* valid but not supported (architecture, type) */
    FR_ERR_NOMEM = 4,
    FR_ERR_ARG = 5,   /* bad argument from the caller */
    FR_ERR_RANGE = 6, /* token id out of range, context full */
} fr_status;

typedef struct fr_error {
    fr_status code;
    char msg[512];
} fr_error;

const char *frugal_status_str(fr_status s);
const char *frugal_version(void);

/* Logging: level 0 error, 1 warning, 2 info, 3 debug. Default: warnings and errors to stderr. */
typedef void (*frugal_log_fn)(int level, const char *msg, void *user);
void frugal_set_log(frugal_log_fn fn, void *user, int max_level);

/* Tensor types by name ("F16", "Q4_K", ...): -1 if unknown. */
int frugal_type_from_name(const char *name);
const char *frugal_type_name(int type);
/* Number of online CPUs. */
int frugal_cpu_count(void);
/* Nesting depth of a JSON text (brackets outside strings): check it against a limit before
 * parsing untrusted JSON. */
int frugal_json_depth(const char *text, size_t len);
/* The widest instruction set the kernels dispatch to: "avx512-vnni" (AVX-512 F/BW/VNNI),
 * "avx512" (AVX-512F: the F16 prompt kernel and MLA attention), "avx-vnni" (AVX2 plus the
 * VEX vpdpbusd), "avx2", "neon-dot" (AArch64 with sdot) or "scalar". FRUGAL_ISA lowers it. */
const char *frugal_isa(void);
/* Where the AVX2 kernels prefetch a generation step's weights: "l1" or "l2" (L2 only). The
 * default follows the CPU's vendor (l2 on Intel); FRUGAL_DECODE_PREFETCH=l1|l2 sets it. */
const char *frugal_decode_prefetch(void);
/* Whether a generation step reads the K-quants (Q2_K-Q6_K) as four streams at once (true) or
 * one 16-row unit after another. The default follows the CPU's vendor (streams on Intel);
 * FRUGAL_KQUANT_STREAMS=1|0 sets it. */
bool frugal_decode_kquant_streams(void);
/* Whether a generation step's four-stream kernels prefetch each stream 1 KiB ahead (true) or
 * leave it to the hardware (the AVX-512 K-quants' then 12 KiB ahead, as before; Q5_K's and
 * the AVX2 K-quants' do not follow this); with it, batched steps' 2-4-token products of the
 * AVX-512 VNNI Q4_0-family kernels read four such streams instead of two. The default follows
 * the CPU's vendor (on for Intel); FRUGAL_STREAMS_PREFETCH=1|0 sets it. */
bool frugal_decode_streams_prefetch(void);
/* How a generation step reads F16, BF16 and F32 weight rows: the bytes ahead of each row that
 * the AVX2 kernel prefetches (0: none), and how many rows it reads side by side as streams (1
 * to 3). The defaults follow the CPU's vendor (8192 and 2 on Intel, 2048 and 3 elsewhere);
 * FRUGAL_F16_PREFETCH=N (a multiple of 64, at most 65536) and FRUGAL_F16_STREAMS=1|2|3 set
 * them. */
size_t frugal_decode_f16_prefetch(void);
int frugal_decode_f16_streams(void);

/* ---- model ---- */
typedef struct frugal_model frugal_model; /* model + vocabulary */

fr_status frugal_model_load(const char *path, frugal_model **out, fr_error *err);
/* The same; with repack false the weights are not repacked for the GEMM kernels (a fast
 * open for inspection: frugal_model_get_info then says what a full load would repack). */
fr_status frugal_model_open(const char *path, bool repack, frugal_model **out, fr_error *err);
void frugal_model_free(frugal_model *m);

#define FRUGAL_MAX_TYPES 40
typedef struct frugal_model_info {
    const char *arch; /* "llama" */
    const char *path;
    char name[128];    /* general.name, or "" */
    char license[128]; /* general.license, or "" */
    int64_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int64_t n_params;        /* total parameters */
    int64_t n_params_active; /* parameters used per token (= total for dense models) */
    /* of those, the transformer blocks' weight matrices: a prompt token's multiply-adds in
     * the matrix products, without the token embedding, the output matrix (a prompt needs
     * only its last token's logits) and the norms */
    int64_t n_params_layer_matrices;
    uint64_t file_bytes;     /* all splits */
    uint64_t weight_bytes;   /* tensor data */
    uint64_t active_bytes;   /* weight bytes read per generated token: one row of the token
                              * embedding (all of it when it is also the output matrix), the
                              * routed experts a token uses (MoE), no MTP blocks */
    uint64_t kv_bytes_per_token_f16;
    /* weights repacked at load into the GEMM kernels' interleaved layout (their file pages
     * are released, so they replace rather than add to the mmapped bytes) */
    int64_t n_repacked;
    uint64_t repacked_bytes;
    double repack_seconds;
    bool repack_planned; /* opened without repacking: the figures a full load would give */
    /* mixture of experts (0 for dense models) and multi-head latent attention */
    int64_t n_expert, n_expert_used, n_expert_shared; /* routed, routed per token, shared */
    int64_t n_layer_dense_lead;                       /* leading layers with a dense FFN */
    int64_t kv_lora_rank;                             /* MLA latent per token and layer (0: none) */
    int n_splits;
    uint32_t gguf_version;
    int64_t type_count[FRUGAL_MAX_TYPES];  /* tensors per type */
    uint64_t type_bytes[FRUGAL_MAX_TYPES]; /* bytes per type */
    int32_t bos, eos;                      /* -1 if none */
    bool add_bos;
    int n_eog;
    int32_t eog[16];
} frugal_model_info;

void frugal_model_get_info(const frugal_model *m, frugal_model_info *info);
/* Scan every weight for NaN/Inf. Returns the number of bad tensors; names the first in err. */
int64_t frugal_model_check_weights(const frugal_model *m, fr_error *err);
bool frugal_model_is_eog(const frugal_model *m, int32_t token);
int64_t frugal_model_n_vocab(const frugal_model *m);
/* The text of a token for display: byte-level/SentencePiece pieces decoded to bytes,
 * control tokens as "" unless `special`. Returns the byte length written (< cap, NUL-
 * terminated), or -1 if the id is out of range or the model has no vocabulary. */
int frugal_token_to_piece(const frugal_model *m, int32_t token, bool special, char *buf, size_t cap);

/* ---- tokenizer: text <-> token ids, the ids Hugging Face's tokenizer gives ----
 * A model's tokenizer comes from its GGUF metadata; frugal_tokenizer_load also reads a
 * vocabulary-only GGUF file or a Hugging Face tokenizer.json (or the folder holding it and its
 * tokenizer_config.json). Text may be any bytes: invalid UTF-8 is encoded byte by byte where
 * the vocabulary can (byte-level and byte-fallback vocabularies), and never fails. */
typedef struct frugal_tokenizer frugal_tokenizer;

fr_status frugal_tokenizer_load(const char *path, frugal_tokenizer **out, fr_error *err);
void frugal_tokenizer_free(frugal_tokenizer *t);
/* The model's tokenizer, owned by the model. NULL (err set) if the file has no vocabulary or
 * its tokenizer is not supported (for example an unknown tokenizer.ggml.pre). */
const frugal_tokenizer *frugal_model_tokenizer(const frugal_model *m, fr_error *err);

/* Encode `len` bytes of text. add_special: add BOS/EOS as the tokenizer's configuration says
 * (Hugging Face's add_special_tokens=True). parse_special: special-token text in the input
 * becomes those tokens (otherwise it is plain text; user-defined added tokens always match).
 * Writes at most `cap` ids and returns how many the text has (call again with a larger buffer
 * when the result exceeds cap), or -1 with err set. */
int64_t frugal_tokenizer_encode(const frugal_tokenizer *t, const char *text, size_t len, bool add_special,
                                bool parse_special, int32_t *ids, int64_t cap, fr_error *err);
int64_t frugal_tokenize(const frugal_model *m, const char *text, size_t len, bool add_special, bool parse_special,
                        int32_t *ids, int64_t cap, fr_error *err);
/* Decode ids to text (the exact bytes). special: include special tokens' text. Writes at most
 * cap bytes (NUL-terminated when there is room) and returns the full length, or -1. */
int64_t frugal_tokenizer_decode(const frugal_tokenizer *t, const int32_t *ids, int64_t n, bool special, char *out,
                                size_t cap, fr_error *err);
int64_t frugal_detokenize(const frugal_model *m, const int32_t *ids, int64_t n, bool special, char *out, size_t cap,
                          fr_error *err);

/* Streaming decoding: feed ids one at a time, get the text that is complete so far. An
 * incomplete UTF-8 sequence at the end is held back until it completes (or flush). With
 * continuation = true the text continues earlier text (generation after a prompt): the
 * start-of-text rules (such as SentencePiece dropping the first space) do not apply. */
typedef struct frugal_detokenizer frugal_detokenizer;
fr_status frugal_detokenizer_new(const frugal_tokenizer *t, bool special, bool continuation, frugal_detokenizer **out,
                                 fr_error *err);
/* *text points to the new bytes (valid until the next call); returns their count, or -1. */
int64_t frugal_detokenizer_push(frugal_detokenizer *d, int32_t id, const char **text, fr_error *err);
int64_t frugal_detokenizer_flush(frugal_detokenizer *d, const char **text);
void frugal_detokenizer_free(frugal_detokenizer *d);

typedef struct frugal_tokenizer_info {
    const char *model;         /* "spm" (SentencePiece scores) or "bpe" */
    const char *source;        /* "gguf" or "tokenizer.json" */
    const char *pre;           /* GGUF tokenizer.ggml.pre, "sentencepiece", or "tokenizer.json" */
    int64_t n_vocab;           /* ids are 0..n_vocab-1 */
    int32_t bos, eos;          /* -1 if none */
    bool add_bos, add_eos;     /* what add_special adds */
    const char *chat_template; /* Jinja source, or NULL */
} frugal_tokenizer_info;
void frugal_tokenizer_get_info(const frugal_tokenizer *t, frugal_tokenizer_info *info);
/* The id of the token whose text is exactly s[0..len), or -1. */
int32_t frugal_tokenizer_token_id(const frugal_tokenizer *t, const char *s, size_t len);
/* The stored text of a token (as in the vocabulary: byte-level or U+2581 form), or NULL. */
const char *frugal_tokenizer_token_text(const frugal_tokenizer *t, int32_t id, size_t *len);
/* True for control tokens (BOS, EOS, chat markers) that decoding skips unless asked. */
bool frugal_tokenizer_is_special(const frugal_tokenizer *t, int32_t id);

/* ---- context (run state: KV cache, buffers, threads) ---- */
typedef struct fr_context frugal_context;
typedef struct frugal_context_params {
    int64_t n_ctx;   /* 0 = min(training context, 4096) */
    int64_t n_batch; /* 0 = 512 */
    int kv_type;     /* frugal_type_from_name("F16") (default), "F32" or "Q8_0"; -1 = default */
    int n_threads;   /* 0 = all CPUs */
    int n_seq;       /* independent sequences (KV slots), each with n_ctx positions; 0 = 1 (at most 256) */
} frugal_context_params;

frugal_context_params frugal_context_default_params(void);
fr_status frugal_context_new(const frugal_model *m, const frugal_context_params *p, frugal_context **out,
                             fr_error *err);
void frugal_context_free(frugal_context *c);
/* Feed n tokens; write logits for rows [first_logit_row, n) (n_vocab floats each). */
fr_status frugal_eval(frugal_context *c, const int32_t *tokens, int64_t n, float *logits,
                      int64_t first_logit_row, fr_error *err);
int64_t frugal_context_n_past(const frugal_context *c);
int64_t frugal_context_n_ctx(const frugal_context *c);
void frugal_context_truncate(frugal_context *c, int64_t n_past);
/* frugal_eval, frugal_context_n_past and frugal_context_truncate work on sequence 0. */

/* ---- multiple sequences (continuous batching) ----
 * A context made with n_seq > 1 holds that many independent sequences, each with its own
 * n_ctx positions of KV cache. One call can advance any of them together: the weights are
 * read once for all rows. A token's logits are bit-identical whatever else is in the batch,
 * whichever slot its sequence has, and on any thread count (batch invariance).
 *
 * Multi-sequence forward pass: token i goes to sequence seq[i] (0 <= seq < n_seq) at that
 * sequence's next position (seq == NULL: all to sequence 0); a sequence's tokens appear in
 * order. Logits (n_vocab floats per row) are written, packed in row order, for the rows with want[i] != 0 (want == NULL: every
 * row; logits == NULL: none). Checks ids, seq range and each sequence's remaining context
 * before computing anything (FR_ERR_RANGE). Each row is computed in its sequence's phase
 * (frugal_context_set_phase, frugal_seq_set_phase): one call can carry some sequences'
 * prompt chunks and others' decode tokens. */
fr_status frugal_eval_seqs(frugal_context *c, const int32_t *tokens, const int32_t *seq, int64_t n,
                           const uint8_t *want, float *logits, fr_error *err);
int64_t frugal_seq_n_past(const frugal_context *c, int32_t seq); /* -1 if seq out of range */
/* Forget positions >= n_past (nothing if seq or n_past is out of range, or n_past >= current). */
void frugal_seq_truncate(frugal_context *c, int32_t seq, int64_t n_past);
/* Copy the first n cached positions of sequence src into dst; dst's n_past becomes n (prefix
 * cache). 0 <= n <= frugal_seq_n_past(src), else FR_ERR_RANGE; src == dst truncates. */
fr_status frugal_seq_copy(frugal_context *c, int32_t src, int32_t dst, int64_t n, fr_error *err);
/* true when the prompt and decode phases compute differently (MLA models): then a cached row is
 * only reusable by a later request if it was computed in the same phase. */
bool frugal_context_phase_matters(const frugal_context *c);
int32_t frugal_context_n_seq(const frugal_context *c);
/* Which computation the next frugal_eval calls belong to. A new context is in the prompt
 * phase; switch to decode for token-by-token generation (and back with a new prompt). The
 * phase is never inferred from the number of tokens, so a prompt fed in chunks of any size
 * gives the same logits. Dense models compute the same either way; MLA models (deepseek2)
 * rebuild per-head keys and values in the prompt phase and read only the small latent
 * cache in the decode phase, which is much faster at long context.
 * Each sequence has its own phase: frugal_context_set_phase sets every sequence's,
 * frugal_seq_set_phase one's (FR_ERR_RANGE if seq is out of range). frugal_seq_copy leaves
 * the destination's phase as it was. */
typedef enum frugal_phase { FRUGAL_PHASE_PROMPT = 0, FRUGAL_PHASE_DECODE = 1 } frugal_phase;
void frugal_context_set_phase(frugal_context *c, frugal_phase phase);
fr_status frugal_seq_set_phase(frugal_context *c, int32_t seq, frugal_phase phase, fr_error *err);

/* ---- sampler ---- */
typedef struct fr_sampler frugal_sampler;
typedef struct frugal_sampler_params {
    float temperature;       /* 0 = greedy */
    int32_t top_k;           /* <= 0: off */
    float top_p;             /* 1: off */
    float min_p;             /* 0: off */
    float repeat_penalty;    /* 1: off */
    float frequency_penalty; /* 0: off */
    float presence_penalty;  /* 0: off */
    int32_t penalty_last_n;  /* window for penalties; -1 = all, 0 = off */
    uint64_t seed;
} frugal_sampler_params;

frugal_sampler_params frugal_sampler_default_params(void);
fr_status frugal_sampler_new(const frugal_sampler_params *p, int64_t n_vocab, frugal_sampler **out, fr_error *err);
void frugal_sampler_free(frugal_sampler *s);
/* Returns the chosen token, or -1 with err set. Does not modify logits. */
int32_t frugal_sampler_sample(frugal_sampler *s, const float *logits, fr_error *err);
/* Record a token (prompt or generated) for the penalties. */
void frugal_sampler_accept(frugal_sampler *s, int32_t token);

/* ---- machine ceilings (benchmarks) ---- */
/* Best-of-5 streaming read of `bytes` (>= 1 GiB recommended) on `threads` threads (0 = all), GB/s. */
double frugal_probe_membw_gbps(int threads, size_t bytes);
/* FP32 FMA peak, GFLOP/s, and int8 dot-product peak (u8 x s8 -> s32), GOP/s; 0 threads = all. */
double frugal_probe_fp32_gflops(int threads);
double frugal_probe_int8_gops(int threads);
/* BF16 dot-product peak (AVX512_BF16's vdpbf16ps), GFLOP/s; 0 where the CPU has none. */
double frugal_probe_bf16_gflops(int threads);

/* ---- synth: random-weight models of real shapes ---- */
/* Writes a model of a named shape ("tinyllama-1.1b", ...). type_name: "F16", "Q8_0", "Q4_0",
 * "Q4_K_M", ... vocab_path: GGUF (tokenizer.* keys) or NULL for a placeholder vocab. */
fr_status frugal_synth(const char *shape, const char *type_name, uint64_t seed, const char *vocab_path,
                       const char *out_path, fr_error *err);
/* Comma-separated shape names. */
const char *frugal_synth_shapes(void);

/* ---- chat templates ----
 * A model's chat_template (Jinja) rendered the way Hugging Face transformers renders it
 * (Python jinja2, ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks; the globals
 * raise_exception and strftime_now; tojson with ensure_ascii=False), byte for byte. The
 * renderer is a sandboxed subset: no file or environment access, limits on steps, output,
 * depth and memory (shared/CHECKLIST.md item 18). Errors name the template line:
 *   FR_ERR_UNSUPPORTED  valid Jinja outside frugal's subset: fall back to a built-in format;
 *   FR_ERR_FORMAT       a template error (syntax, type, undefined value) or raise_exception:
 *                       err.msg carries the template's own message, show it to the user;
 *   FR_ERR_RANGE        a limit was hit. */
typedef struct frugal_chat_params {
    const char *messages_json; /* JSON array of OpenAI-style messages (required) */
    const char *tools_json;    /* JSON array of tools, or NULL: `tools` stays undefined */
    const char *vars_json;     /* JSON object of further variables (enable_thinking, bos_token, ...) or NULL;
                                  they override bos_token/eos_token below */
    bool add_generation_prompt;
    const char *bos_token; /* the special token strings; NULL: undefined in the template */
    const char *eos_token;
    const char *date;      /* "YYYY-MM-DD": the day strftime_now formats (at 00:00:00); NULL: now */
    int64_t max_steps;     /* 0: 50,000,000 evaluation steps */
    int64_t max_output;    /* 0: 64 MiB */
    int max_depth;         /* 0: 200 nested macro calls (and template nesting) */
} frugal_chat_params;

frugal_chat_params frugal_chat_default_params(void); /* add_generation_prompt = true */
/* Renders tmpl (tmpl_len bytes) into *out (malloc'd, NUL-terminated, *out_len bytes; free()). */
fr_status frugal_chat_render(const char *tmpl, size_t tmpl_len, const frugal_chat_params *p, char **out,
                             size_t *out_len, fr_error *err);

/* A chat template and the special token strings that go with it. */
typedef struct frugal_chat_template {
    char *source;    /* the Jinja source */
    char *vars_json; /* JSON object: {"bos_token": "...", "eos_token": "...", ...} */
} frugal_chat_template;
/* From the model file: tokenizer.chat_template (name: NULL, or e.g. "tool_use" for
 * tokenizer.chat_template.tool_use) and the text of the BOS/EOS tokens.
 * FR_ERR_FORMAT if the file has no such template. */
fr_status frugal_chat_template_from_model(const frugal_model *m, const char *name, frugal_chat_template *out,
                                          fr_error *err);
/* The same from a GGUF file without loading the model (BOS/EOS from tokenizer.ggml.*_token_id). */
fr_status frugal_chat_template_from_gguf(const char *path, const char *name, frugal_chat_template *out,
                                         fr_error *err);
/* From a Hugging Face tokenizer: path is a tokenizer_config.json, a tokenizer.json (its
 * folder's tokenizer_config.json is read) or the folder. chat_template may be a string or a
 * list of named templates (name: NULL = "default"); chat_template.jinja / chat_template.json
 * in the folder are used when the config has none. Special tokens may be strings or
 * {"content": ...} objects. */
fr_status frugal_chat_template_from_hf(const char *path, const char *name, frugal_chat_template *out, fr_error *err);
void frugal_chat_template_free(frugal_chat_template *t);

/* The fallback when a model has no usable template: the family's built-in format, chosen by
 * the special tokens its tokenizer has (llama3, deepseek3, gemma, mistral; else ChatML).
 * *out is malloc'd; *family (may be NULL) names the format used. */
fr_status frugal_chat_builtin(const frugal_tokenizer *t, const char *messages_json, bool add_generation_prompt,
                              char **out, const char **family, fr_error *err);

/* ---- reasoning (DeepSeek-R1 style <think>...</think>) ----
 * Classifies generated text as reasoning or content while it streams. Tags split across
 * pieces are recognized; the tags themselves are not passed on. Current R1 templates end the
 * prompt with "<think>\n", so the output starts inside the reasoning and only "</think>"
 * appears: start with in_reasoning = frugal_prompt_opens_reasoning(prompt). A "</think>"
 * outside reasoning is dropped. */
typedef enum frugal_text_kind { FRUGAL_TEXT_CONTENT = 0, FRUGAL_TEXT_REASONING = 1 } frugal_text_kind;
typedef void (*frugal_text_fn)(frugal_text_kind kind, const char *text, size_t len, void *user);
typedef struct frugal_reasoning {
    bool in_reasoning;
    bool trim;      /* drop whitespace right after a tag and right before one (and at the end) */
    bool at_start;  /* internal: at the start of a segment */
    size_t n_hold;  /* internal: a possible tag prefix */
    char hold[16];
    size_t n_ws;    /* internal: whitespace held back when trimming */
    char ws[64];
} frugal_reasoning;

void frugal_reasoning_init(frugal_reasoning *r, bool starts_in_reasoning, bool trim);
void frugal_reasoning_feed(frugal_reasoning *r, const char *text, size_t len, frugal_text_fn fn, void *user);
void frugal_reasoning_flush(frugal_reasoning *r, frugal_text_fn fn, void *user); /* at the end of the output */
/* True if the prompt's last "<think>" is not closed: the output will start inside reasoning. */
bool frugal_prompt_opens_reasoning(const char *prompt, size_t len);

#ifdef __cplusplus
}
#endif
#endif

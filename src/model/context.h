/* context.h: the run state (KV cache and activation buffers) and the forward pass. */
#ifndef FRUGAL_MODEL_CONTEXT_H
#define FRUGAL_MODEL_CONTEXT_H

#include "model.h"

#define FR_MAX_SEQ 256 /* sequences per context */

typedef struct fr_context_params {
    int64_t n_ctx;   /* KV cache positions; 0 = min(training context, 4096) */
    int64_t n_batch; /* max tokens per forward pass (larger inputs are split); 0 = 512 */
    int kv_type;     /* FR_TYPE_F16 (default), FR_TYPE_F32 or FR_TYPE_Q8_0 */
    int n_threads;   /* 0 = number of CPUs */
    int n_seq;       /* independent sequences (KV cache slots) of n_ctx positions each; 0 = 1 */
} fr_context_params;

typedef struct fr_context fr_context;

/* The phase of an eval call, set explicitly by the caller, never inferred from the batch
 * size: a prompt chunk of one token must compute exactly what a larger chunk computes, so
 * results do not depend on how a prompt is split (batch invariance).
 * Dense models run one path in both phases. deepseek2 (MLA) uses, in the prompt phase,
 * keys and values decompressed from the latent cache (the peer engine's arithmetic), and in
 * the decode phase the absorbed form that reads only the latent cache (fast at long
 * context). Each sequence has its own phase, and each row of an eval call is computed in
 * its sequence's phase, so one call (one pass over the weights) can carry one sequence's
 * prompt chunk and another's decode token. A new context starts in the prompt phase. */
typedef enum fr_phase { FR_PHASE_PROMPT = 0, FR_PHASE_DECODE = 1 } fr_phase;

fr_context_params fr_context_default_params(void);
fr_status fr_context_new(const fr_model *m, const fr_context_params *p, fr_context **out, fr_error *err);
void fr_context_free(fr_context *c);

/* Feed n tokens at positions n_past .. n_past+n-1. Logits (n_vocab floats per row) are
 * written for rows [first_logit_row, n) into `logits`, row-major; pass first_logit_row = n
 * (or logits = NULL) for none. Token ids are checked against the vocabulary and the
 * context length first (FR_ERR_RANGE). */
fr_status fr_context_eval(fr_context *c, const int32_t *tokens, int64_t n, float *logits,
                          int64_t first_logit_row, fr_error *err);

/* Multiple sequences in one forward pass: token i goes to sequence seq[i] (seq NULL: all to
 * sequence 0) at that sequence's next position; a sequence's tokens appear in order. Logits
 * are written, packed in row order, for the rows with want[i] != 0 (want NULL: every row;
 * logits NULL: none). Ids, sequence numbers and every sequence's remaining context are
 * checked before anything is computed (FR_ERR_RANGE). A token's logits do not depend on
 * the other rows of the call, nor on the sequence slot (batch invariance). */
fr_status fr_context_eval_seqs(fr_context *c, const int32_t *tokens, const int32_t *seq, int64_t n,
                               const uint8_t *want, float *logits, fr_error *err);

/* Sequence 0. */
int64_t fr_context_n_past(const fr_context *c);
int64_t fr_context_n_ctx(const fr_context *c);
/* Forget positions >= n_past (n_past <= current) of sequence 0. */
void fr_context_truncate(fr_context *c, int64_t n_past);
int32_t fr_context_n_seq(const fr_context *c);
/* -1 if seq is out of range. */
int64_t fr_context_seq_n_past(const fr_context *c, int32_t seq);
/* Forget positions >= n_past of a sequence (nothing if seq or n_past is out of range). */
void fr_context_seq_truncate(fr_context *c, int32_t seq, int64_t n_past);
/* Copy the first n cached positions of sequence src to dst; dst then holds n positions.
 * 0 <= n <= n_past(src); src == dst truncates. */
fr_status fr_context_seq_copy(fr_context *c, int32_t src, int32_t dst, int64_t n, fr_error *err);
/* True if the prompt and decode phases compute differently (MLA). */
bool fr_context_phase_matters(const fr_context *c);
int fr_context_threads(const fr_context *c);
/* The phase of every sequence. */
void fr_context_set_phase(fr_context *c, fr_phase phase);
/* The phase of one sequence (FR_ERR_RANGE for a sequence out of range). A sequence copy
 * (fr_context_seq_copy) leaves the destination's phase as it was. */
fr_status fr_context_seq_set_phase(fr_context *c, int32_t seq, fr_phase phase, fr_error *err);
/* The phase of sequence 0. */
fr_phase fr_context_phase(const fr_context *c);
/* KV cache bytes per token (all layers, K and V; MLA: the latent and rope key) for a cache type. */
size_t fr_kv_bytes_per_token(const fr_hparams *hp, int kv_type);

#endif

/* context.h: the run state (KV cache and activation buffers) and the forward pass. */
#ifndef FRUGAL_MODEL_CONTEXT_H
#define FRUGAL_MODEL_CONTEXT_H

#include "model.h"

typedef struct fr_context_params {
    int64_t n_ctx;   /* KV cache positions; 0 = min(training context, 4096) */
    int64_t n_batch; /* max tokens per forward pass (larger inputs are split); 0 = 512 */
    int kv_type;     /* FR_TYPE_F16 (default), FR_TYPE_F32 or FR_TYPE_Q8_0 */
    int n_threads;   /* 0 = number of CPUs */
} fr_context_params;

typedef struct fr_context fr_context;

/* The phase of an eval call, set explicitly by the caller, never inferred from the batch
 * size: a prompt chunk of one token must compute exactly what a larger chunk computes, so
 * results do not depend on how a prompt is split (batch invariance).
 * Dense models run one path in both phases. deepseek2 (MLA) uses, in the prompt phase,
 * keys and values decompressed from the latent cache (the peer engine's arithmetic), and in
 * the decode phase the absorbed form that reads only the latent cache (fast at long
 * context). A new context starts in the prompt phase. */
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

int64_t fr_context_n_past(const fr_context *c);
int64_t fr_context_n_ctx(const fr_context *c);
/* Forget positions >= n_past (n_past <= current). */
void fr_context_truncate(fr_context *c, int64_t n_past);
int fr_context_threads(const fr_context *c);
void fr_context_set_phase(fr_context *c, fr_phase phase);
fr_phase fr_context_phase(const fr_context *c);
/* KV cache bytes per token (all layers, K and V; MLA: the latent and rope key) for a cache type. */
size_t fr_kv_bytes_per_token(const fr_hparams *hp, int kv_type);

#endif

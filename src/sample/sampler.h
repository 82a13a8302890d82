/* sampler.h: logits in, token id out.
 *
 * A sampler owns everything it needs: its parameters, the token history the penalties
 * look at, a scratch buffer sized at creation (sampling never allocates) and an explicit
 * RNG state. There is no global state; one sampler must not be used from two threads at
 * once, but any number of samplers can run in parallel.
 *
 * The chain, in llama.cpp's default order (common_sampler):
 *   1. penalties, on tokens seen in the last penalty_last_n accepted tokens, with c = count:
 *        repeat:    l = l > 0 ? l / repeat_penalty : l * repeat_penalty   (if c > 0)
 *        frequency: l -= c * frequency_penalty
 *        presence:  l -= (c > 0) * presence_penalty
 *   2. top-k: keep the k largest logits
 *   3. top-p: keep the smallest prefix (by probability) whose cumulative probability
 *      is >= top_p (at least one token)
 *   4. min-p: keep tokens with p >= min_p * p_max
 *   5. temperature: p ~ exp(l / temperature) over the kept tokens
 *   6. a draw from that distribution with the sampler's RNG.
 * Steps 3 and 4 use the softmax at temperature 1 of the tokens still in the set, as
 * llama.cpp does. temperature == 0 is greedy: the argmax after the penalties (ties go to
 * the lowest id); top-k/top-p/min-p cannot change it and the RNG is not used.
 *
 * Ordering is total: a larger logit first, equal logits by lower id first. This decides
 * which of equal logits survive a top-k or top-p cut, so results never depend on the
 * selection algorithm.
 *
 * Non-finite logits: NaN and -inf are never chosen; +inf counts as the largest finite
 * float (FLT_MAX), so a +inf logit wins, and several share the probability equally. If no
 * token has a usable logit, sampling fails with FR_ERR_ARG.
 *
 * RNG: xoshiro256** (Blackman & Vigna), its 256-bit state filled from the 64-bit seed by
 * four successive splitmix64 outputs. A draw is a double in [0, 1) from the top 53 bits of
 * one output: (x >> 11) * 2^-53. Only integer arithmetic, so a seed gives the same stream
 * on every platform. Each sampled token (temperature > 0) consumes exactly one output;
 * the token is found by walking the kept set in an internal order (fixed for a given
 * build and input), so the same seed, logits and history give the same tokens.
 *
 * Cost per token: one pass over the logits (penalties, NaN filter, top-k with a k-heap).
 * Without top-k, top-p and min-p/temperature need one exp() per token of the vocabulary
 * (two for top-p); top-p sorts only the candidates near its cut (a bucket pass finds it). */
#ifndef FRUGAL_SAMPLE_SAMPLER_H
#define FRUGAL_SAMPLE_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "base.h"

/* ---- RNG ---- */
typedef struct fr_rng {
    uint64_t s[4];
} fr_rng;

void fr_rng_seed(fr_rng *r, uint64_t seed);
uint64_t fr_rng_next(fr_rng *r); /* xoshiro256** */
double fr_rng_double(fr_rng *r); /* [0, 1), 53 bits */

/* ---- sampler ---- */
/* The longest penalty window accepted (use -1 for the whole history). */
#define FR_SAMPLER_MAX_LAST_N (1 << 24)

typedef struct fr_sampler_params {
    float temperature;       /* 0 = greedy; finite, >= 0 */
    int32_t top_k;           /* <= 0: off */
    float top_p;             /* (0, 1]; 1: off */
    float min_p;             /* [0, 1]; 0: off */
    float repeat_penalty;    /* > 0, finite; 1: off */
    float frequency_penalty; /* finite (may be negative); 0: off */
    float presence_penalty;  /* finite (may be negative); 0: off */
    int32_t penalty_last_n;  /* window of recent tokens for the penalties: -1 = whole
                                history, 0 = off, else 1..FR_SAMPLER_MAX_LAST_N */
    uint64_t seed;
} fr_sampler_params;

typedef struct fr_sampler fr_sampler; /* (frugal.h: frugal_sampler) */

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat 1, frequency 0, presence 0,
 * penalty_last_n 64, seed 0 (llama.cpp's common defaults). */
fr_sampler_params fr_sampler_params_default(void);

/* Checks every parameter (the error names the parameter and its value) and n_vocab > 0,
 * then allocates the history and scratch buffers. */
fr_status fr_sampler_new(const fr_sampler_params *p, int32_t n_vocab, fr_sampler **out, fr_error *err);
void fr_sampler_free(fr_sampler *s);

int32_t fr_sampler_n_vocab(const fr_sampler *s);
const fr_sampler_params *fr_sampler_get_params(const fr_sampler *s);

/* Records a token (prompt or generated) in the history for the penalties. Sampling does
 * not record the chosen token: the caller accepts it. Returns false (and records nothing)
 * if the token is outside [0, n_vocab). */
bool fr_sampler_accept(fr_sampler *s, int32_t token);

/* Forgets the history and restarts the RNG from the seed: the sampler behaves as if
 * newly created. */
void fr_sampler_reset(fr_sampler *s);

/* Restarts the RNG from a new seed (the history is kept); reset uses it afterwards. */
void fr_sampler_set_seed(fr_sampler *s, uint64_t seed);

/* Returns a token id in [0, n_vocab), or -1 with err set (no usable logit, NULL argument).
 * logits[n_vocab] is not modified. */
int32_t fr_sampler_sample(fr_sampler *s, const float *logits, fr_error *err);

/* The distribution sample() would draw from: every token left after the chain, with its
 * final probability, by decreasing probability (equal ones by lower id). Writes the first
 * min(count, max) to ids_out/probs_out (either may be NULL) and returns count, or -1 with
 * err set. Greedy gives one token with probability 1. Does not touch the RNG or the
 * history. Sorts the whole kept set: meant for tests and diagnostics, not per token. */
int32_t fr_sampler_candidates(fr_sampler *s, const float *logits, int32_t *ids_out, double *probs_out, int32_t max,
                              fr_error *err);

#endif

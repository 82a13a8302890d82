/* moe.h: DeepSeekMoE routing (moe.c), exposed for tests. */
#ifndef FRUGAL_MODEL_MOE_H
#define FRUGAL_MODEL_MOE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

typedef struct fr_moe_route_cfg {
    int64_t n_expert, n_used;      /* experts, experts chosen per token */
    int64_t n_groups, n_group_used; /* group-limited routing; 1, 1 = off */
    fr_gating gating;               /* softmax (V2) or sigmoid (V3/R1) scores */
    bool norm;                      /* renormalise the chosen weights to sum 1 */
    float scale;                    /* then multiply by routed_scaling_factor */
} fr_moe_route_cfg;

fr_moe_route_cfg fr_moe_route_cfg_of(const fr_hparams *hp);

/* Route one token from its router logits (n_expert values). bias (n_expert, or NULL) is the
 * e_score_correction_bias: added to the scores to choose experts, never to weight them.
 * Writes the chosen experts in descending order of biased score (ties: lower id first) and
 * their weights. scratch: 4 * n_expert floats. */
void fr_moe_route(const fr_moe_route_cfg *cfg, const float *logits, const float *bias, int32_t *sel,
                  float *weight, float *scratch);

#endif

/* golden_util.h: reading golden logits files and comparing against them
 * (shared/golden/README.md). */
#ifndef FRUGAL_TESTS_GOLDEN_UTIL_H
#define FRUGAL_TESTS_GOLDEN_UTIL_H

#include <stdint.h>

typedef struct golden {
    int32_t n_prompt, n_vocab, n_rows, n_gen;
    float *logits;     /* [n_rows][n_vocab] */
    int32_t *greedy;   /* [n_gen] */
    float *gen_logits; /* [n_gen][n_vocab] */
} golden;

/* 0 on success; prints why on failure. */
int golden_read(const char *path, golden *g);
void golden_free(golden *g);

typedef enum { TOL_F16 = 0, TOL_BF16 = 1, TOL_QUANT = 2 } tol_class;
tol_class golden_tol_class(const char *model_file);

typedef struct {
    double max_abs, mean_abs, mean_kl;
    int top1_checked, top1_mismatch, rows;
    int nonfinite;
} golden_stats;

/* Accumulate one row (expected vs got) into stats. */
void golden_row(golden_stats *s, const float *expect, const float *got, int n_vocab, double top1_gap);
/* Dense verdict (max/mean/top-1); prints a line; returns 1 if it passes. */
int golden_dense_pass(const golden_stats *s, tol_class tc, const char *label);
double golden_gap_for(tol_class tc);
/* MoE verdict (shared/golden/README.md): mean KL(golden || ours) over all rows <= 3e-3 with
 * top-1 identical on >= 90% of the rows whose golden top-2 gap > 0.04 (F32/F16/BF16), or
 * mean KL <= 3e-2 (quantized). Prints a line; returns 1 if it passes. */
int golden_moe_pass(const golden_stats *s, tol_class tc, const char *label);
/* True for the MoE fixtures (ds3-*, ds2lite-*). */
int golden_is_moe(const char *model_file);

#endif

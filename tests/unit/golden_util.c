#include "golden_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rd(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

int golden_read(const char *path, golden *g) {
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    int ok = rd(f, &g->n_prompt, 4) && rd(f, &g->n_vocab, 4) && rd(f, &g->n_rows, 4);
    ok = ok && g->n_vocab > 0 && g->n_vocab < (1 << 22) && g->n_rows >= 0 && g->n_rows <= g->n_prompt &&
         g->n_prompt < (1 << 20);
    if (ok) {
        g->logits = malloc((size_t)g->n_rows * g->n_vocab * 4 + 4);
        ok = g->logits && rd(f, g->logits, (size_t)g->n_rows * g->n_vocab * 4) && rd(f, &g->n_gen, 4) &&
             g->n_gen >= 0 && g->n_gen < 4096;
    }
    if (ok) {
        g->greedy = malloc((size_t)g->n_gen * 4 + 4);
        g->gen_logits = malloc((size_t)g->n_gen * g->n_vocab * 4 + 4);
        ok = g->greedy && g->gen_logits && rd(f, g->greedy, (size_t)g->n_gen * 4) &&
             rd(f, g->gen_logits, (size_t)g->n_gen * g->n_vocab * 4);
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: malformed golden file\n", path);
        golden_free(g);
        return -1;
    }
    return 0;
}

void golden_free(golden *g) {
    free(g->logits);
    free(g->greedy);
    free(g->gen_logits);
    memset(g, 0, sizeof *g);
}

tol_class golden_tol_class(const char *model_file) {
    if (strstr(model_file, "-BF16.")) return TOL_BF16;
    if (strstr(model_file, "-F16.") || strstr(model_file, "-F32.")) return TOL_F16;
    return TOL_QUANT;
}

static const double k_max[] = {0.02, 0.06, 0.25};
static const double k_mean[] = {0.003, 0.01, 0.04};

double golden_gap_for(tol_class tc) { return 2.0 * k_max[tc]; }

static void softmax_d(const float *x, int n, double *p) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) s += (p[i] = exp((double)x[i] - mx));
    for (int i = 0; i < n; i++) p[i] /= s;
}

void golden_row(golden_stats *s, const float *e, const float *g, int n, double gap) {
    int a1 = 0, a2 = -1, b1 = 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(g[i])) s->nonfinite++;
        double d = fabs((double)e[i] - (double)g[i]);
        if (d > s->max_abs || d != d) s->max_abs = d != d ? INFINITY : (d > s->max_abs ? d : s->max_abs);
        sum += d;
        if (e[i] > e[a1]) a1 = i;
        if (g[i] > g[b1]) b1 = i;
    }
    for (int i = 0; i < n; i++)
        if (i != a1 && (a2 < 0 || e[i] > e[a2])) a2 = i;
    s->mean_abs += sum / n;
    if (a2 >= 0 && e[a1] - e[a2] > gap) {
        s->top1_checked++;
        if (a1 != b1) s->top1_mismatch++;
    }
    double *pe = malloc(sizeof(double) * n), *pg = malloc(sizeof(double) * n);
    softmax_d(e, n, pe);
    softmax_d(g, n, pg);
    double kl = 0;
    for (int i = 0; i < n; i++)
        if (pe[i] > 0) kl += pe[i] * (log(pe[i]) - log(pg[i] > 1e-300 ? pg[i] : 1e-300));
    s->mean_kl += kl;
    free(pe);
    free(pg);
    s->rows++;
}

int golden_dense_pass(const golden_stats *s, tol_class tc, const char *label) {
    double mean = s->rows ? s->mean_abs / s->rows : 0;
    int pass = s->nonfinite == 0 && s->max_abs <= k_max[tc] && mean <= k_mean[tc] && s->top1_mismatch == 0 && s->rows > 0;
    printf("  %-44s rows=%3d max=%.4f (<=%.3f) mean=%.5f (<=%.3f) top1 %d/%d %s\n", label, s->rows, s->max_abs,
           k_max[tc], mean, k_mean[tc], s->top1_checked - s->top1_mismatch, s->top1_checked, pass ? "ok" : "FAIL");
    return pass;
}

int golden_is_moe(const char *model_file) {
    return strncmp(model_file, "ds3-", 4) == 0 || strncmp(model_file, "ds2lite-", 8) == 0;
}

int golden_moe_pass(const golden_stats *s, tol_class tc, const char *label) {
    double kl = s->rows ? s->mean_kl / s->rows : INFINITY;
    double kl_max = tc == TOL_QUANT ? 3e-2 : 3e-3;
    int agree = s->top1_checked - s->top1_mismatch;
    int top1_ok = tc == TOL_QUANT || s->top1_checked == 0 || agree >= 0.9 * s->top1_checked;
    int pass = s->nonfinite == 0 && s->rows > 0 && kl <= kl_max && top1_ok;
    printf("  %-44s rows=%3d meanKL=%.2e (<=%.0e) max=%.4f top1 %d/%d%s %s\n", label, s->rows, kl, kl_max, s->max_abs,
           agree, s->top1_checked, tc == TOL_QUANT ? " (not judged)" : " (>=90%)", pass ? "ok" : "FAIL");
    return pass;
}

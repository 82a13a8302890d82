/* test_multiseq: several sequences in one context (frugal_eval_seqs) and batch invariance.
 *
 * For llama and qwen2 fixtures (tests/data) and deepseek2 (a synthesized tiny V3-style file,
 * and ../shared's ds3-tiny-Q8_0 when present):
 * - four sequences with prompts of different lengths and a few decode tokens each are fed
 *   interleaved, in mixed batches (prompt chunks of some sequences next to one-token decode
 *   rows of others, sequences starting late), in permuted slots of a 5-slot context, with 2
 *   threads and the default batch, then with 1 thread and a batch of 5 rows (calls split);
 *   some calls have one phase for all rows (frugal_context_set_phase), the others a phase
 *   per sequence (frugal_seq_set_phase), prompt-phase and decode-phase sequences in one call;
 *   every wanted row's logits must be bit-identical (memcmp) to the same token computed by
 *   its sequence alone in a fresh single-sequence context (same phase per token: MLA models
 *   compute the phases differently, dense ones do not);
 * - frugal_seq_copy: a copied prefix continued (into a free slot, over a used slot, onto
 *   itself) gives the logits computed from scratch; frugal_seq_truncate likewise;
 * - range errors (bad sequence, one sequence's context overflowing, bad ids, bad copies,
 *   a bad sequence's phase, n_seq 0 / too many), checked before anything is computed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "frugal.h"
#include "model/synth.h"

enum { NSEQ = 4, NSLOT = 5, MAXTOK = 40, MAXROWS = 128, MAXSTEPS = 64, NCTX = 64 };

static const int k_prompt[NSEQ] = {13, 7, 21, 4};
static const int k_decode[NSEQ] = {5, 8, 3, 6};
static const int k_start[NSEQ] = {0, 0, 1, 3}; /* the step a sequence joins */

typedef struct {
    int uniform;         /* one phase for all (frugal_context_set_phase), else per sequence */
    int phase[NSEQ];     /* each sequence's phase in this step (frugal_seq_set_phase) */
    int n;
    int seq[MAXROWS], idx[MAXROWS];
    uint8_t want[MAXROWS];
} step;

typedef struct {
    const char *label;
    frugal_model *m;
    int64_t V;
    int32_t toks[NSEQ][MAXTOK];
    int phase[NSEQ][MAXTOK]; /* the phase each token is computed in */
    step steps[MAXSTEPS];
    int n_steps;
    float *ref; /* [NSEQ][MAXTOK][V] */
} fixture;

static int total(int k) { return k_prompt[k] + k_decode[k]; }
static float *ref_row(fixture *f, int k, int i) { return f->ref + ((size_t)k * MAXTOK + (size_t)i) * (size_t)f->V; }

static frugal_context *ctx_new(fixture *f, int n_seq, int threads, int64_t n_batch) {
    frugal_context_params p = frugal_context_default_params();
    p.n_ctx = NCTX;
    p.n_seq = n_seq;
    p.n_threads = threads;
    p.n_batch = n_batch;
    frugal_context *c = NULL;
    fr_error err;
    if (frugal_context_new(f->m, &p, &c, &err) != FR_OK) {
        CHECK(0, "%s: context (n_seq %d): %s", f->label, n_seq, err.msg);
        return NULL;
    }
    return c;
}

/* The interleaved schedule: each step takes a prompt chunk of 1..8 tokens from sequences
 * still in their prompt and one token from those decoding; rows round-robin across them. */
static void make_schedule(fixture *f, uint64_t seed) {
    test_rng rng = {seed};
    int pos[NSEQ] = {0};
    f->n_steps = 0;
    for (int s = 0; s < MAXSTEPS; s++) {
        int active[NSEQ], cnt[NSEQ], na = 0, any_prompt = 0;
        for (int k = 0; k < NSEQ; k++) {
            if (s < k_start[k] || pos[k] >= total(k)) continue;
            if (na > 0 && test_rng_next(&rng) % 5 == 0) continue; /* sometimes sits a step out */
            int left = pos[k] < k_prompt[k] ? k_prompt[k] - pos[k] : 1;
            cnt[na] = pos[k] < k_prompt[k] ? 1 + (int)(test_rng_next(&rng) % 8) : 1;
            if (cnt[na] > left) cnt[na] = left;
            if (pos[k] < k_prompt[k]) any_prompt = 1;
            active[na++] = k;
        }
        if (na == 0) {
            int done = 1;
            for (int k = 0; k < NSEQ; k++) done &= pos[k] >= total(k);
            if (done) break;
            continue;
        }
        step *st = &f->steps[f->n_steps++];
        /* a third of the steps in one phase (mostly the prompt's while there is one), the
         * others per sequence: mostly its own (prompt or decode), sometimes the other */
        st->uniform = test_rng_next(&rng) % 3 == 0;
        int one = !any_prompt || test_rng_next(&rng) % 4 == 0 ? FRUGAL_PHASE_DECODE : FRUGAL_PHASE_PROMPT;
        for (int a = 0; a < na; a++) {
            int k = active[a], own = pos[k] < k_prompt[k] ? FRUGAL_PHASE_PROMPT : FRUGAL_PHASE_DECODE;
            st->phase[k] = st->uniform ? one : test_rng_next(&rng) % 4 == 0 ? 1 - own : own;
        }
        st->n = 0;
        for (int more = 1; more;) {
            more = 0;
            for (int a = 0; a < na; a++) {
                if (cnt[a] == 0) continue;
                int k = active[a], i = pos[k]++;
                cnt[a]--;
                more |= cnt[a] > 0;
                st->seq[st->n] = k;
                st->idx[st->n] = i;
                st->want[st->n] = i >= k_prompt[k] - 1 || test_rng_next(&rng) % 3 == 0;
                f->phase[k][i] = st->phase[k];
                st->n++;
            }
        }
    }
    int done = 1;
    for (int k = 0; k < NSEQ; k++) done &= pos[k] >= total(k);
    CHECK(done, "%s: the schedule covers every token", f->label);
}

/* Feed tokens [from, to) of sequence k into slot `slot`, one call per run of tokens of the
 * same phase, all logits; compare with the reference. Returns the mismatching rows. */
static int feed_compare(fixture *f, frugal_context *c, int slot, int k, int from, int to, const char *what) {
    float *lg = malloc(sizeof(float) * (size_t)f->V * MAXTOK);
    int32_t seq[MAXTOK];
    for (int i = 0; i < MAXTOK; i++) seq[i] = slot;
    int bad = 0;
    for (int i = from; i < to;) {
        int j = i;
        while (j < to && f->phase[k][j] == f->phase[k][i]) j++;
        frugal_context_set_phase(c, f->phase[k][i]);
        fr_error err;
        fr_status st = frugal_eval_seqs(c, &f->toks[k][i], seq, j - i, NULL, lg, &err);
        CHECK(st == FR_OK, "%s: %s: eval: %s", f->label, what, err.msg);
        if (st != FR_OK) break;
        for (int r = i; r < j; r++)
            if (memcmp(lg + (size_t)(r - i) * (size_t)f->V, ref_row(f, k, r), sizeof(float) * (size_t)f->V)) bad++;
        i = j;
    }
    free(lg);
    return bad;
}

/* Each sequence alone in a fresh single-sequence context, 1 thread, through frugal_eval. */
static void make_reference(fixture *f) {
    for (int k = 0; k < NSEQ; k++) {
        frugal_context *c = ctx_new(f, 1, 1, 0);
        if (!c) return;
        for (int i = 0; i < total(k);) {
            int j = i;
            while (j < total(k) && f->phase[k][j] == f->phase[k][i]) j++;
            frugal_context_set_phase(c, f->phase[k][i]);
            fr_error err;
            if (frugal_eval(c, &f->toks[k][i], j - i, ref_row(f, k, i), 0, &err) != FR_OK)
                CHECK(0, "%s: reference eval: %s", f->label, err.msg);
            i = j;
        }
        CHECK(frugal_context_n_past(c) == total(k), "%s: reference n_past", f->label);
        frugal_context_free(c);
    }
}

/* Sequence 0's tokens alone, once all in the prompt phase and once all in the decode phase
 * (one call each): the rows whose logits differ. The bit-for-bit comparisons above can only
 * show a row computed in the wrong phase where the phases give different bits. */
static int phase_rows_differ(fixture *f) {
    int n = total(0), differ = 0;
    float *lg[2] = {malloc(sizeof(float) * (size_t)f->V * (size_t)n), malloc(sizeof(float) * (size_t)f->V * (size_t)n)};
    for (int ph = 0; ph < 2; ph++) {
        frugal_context *c = ctx_new(f, 1, 1, 0);
        if (!c) break;
        fr_error err;
        frugal_context_set_phase(c, ph ? FRUGAL_PHASE_DECODE : FRUGAL_PHASE_PROMPT);
        CHECK(frugal_eval(c, f->toks[0], n, lg[ph], 0, &err) == FR_OK, "%s: phase %d eval: %s", f->label, ph, err.msg);
        frugal_context_free(c);
    }
    for (int i = 0; i < n; i++)
        differ += memcmp(lg[0] + (size_t)i * (size_t)f->V, lg[1] + (size_t)i * (size_t)f->V, sizeof(float) * (size_t)f->V) != 0;
    free(lg[0]);
    free(lg[1]);
    return differ;
}

/* The schedule in a multi-sequence context; returns the context for further tests. */
static frugal_context *run_multi(fixture *f, const int *slot, int threads, int64_t n_batch) {
    frugal_context *c = ctx_new(f, NSLOT, threads, n_batch);
    if (!c) return NULL;
    CHECK(frugal_context_n_seq(c) == NSLOT, "%s: n_seq", f->label);
    float *lg = malloc(sizeof(float) * (size_t)f->V * MAXROWS);
    int bad = 0, rows = 0, compared = 0, mixed = 0, mixed_phase = 0;
    char first[160] = "";
    for (int s = 0; s < f->n_steps; s++) {
        const step *st = &f->steps[s];
        int32_t tok[MAXROWS], seq[MAXROWS];
        int has_prompt = 0, has_decode = 0, in_phase[2] = {0, 0};
        fr_error err;
        fr_status rc = FR_OK;
        if (st->uniform) frugal_context_set_phase(c, st->phase[st->seq[0]]);
        for (int r = 0; r < st->n; r++) {
            int k = st->seq[r], i = st->idx[r];
            tok[r] = f->toks[k][i];
            seq[r] = slot[k];
            if (i < k_prompt[k]) has_prompt = 1;
            else has_decode = 1;
            in_phase[st->phase[k]] = 1;
            if (!st->uniform && rc == FR_OK) rc = frugal_seq_set_phase(c, slot[k], st->phase[k], &err);
        }
        CHECK(rc == FR_OK, "%s: step %d: set phase: %s", f->label, s, err.msg);
        mixed += has_prompt && has_decode;
        mixed_phase += in_phase[0] && in_phase[1];
        rc = frugal_eval_seqs(c, tok, seq, st->n, st->want, lg, &err);
        CHECK(rc == FR_OK, "%s: step %d: %s", f->label, s, err.msg);
        if (rc != FR_OK) break;
        int o = 0;
        for (int r = 0; r < st->n; r++) {
            rows++;
            if (!st->want[r]) continue;
            int k = st->seq[r], i = st->idx[r];
            compared++;
            if (memcmp(lg + (size_t)o * (size_t)f->V, ref_row(f, k, i), sizeof(float) * (size_t)f->V)) {
                if (!bad)
                    snprintf(first, sizeof first, "step %d row %d (sequence %d token %d, slot %d)", s, r, k, i,
                             slot[k]);
                bad++;
            }
            o++;
        }
    }
    CHECK(mixed > 0, "%s: the schedule has mixed prompt/decode batches", f->label);
    CHECK(mixed_phase > 0, "%s: the schedule has calls with sequences in both phases", f->label);
    CHECK(bad == 0, "%s (%d threads, batch %lld): %d of %d rows differ from the sequence alone, first: %s", f->label,
          threads, (long long)n_batch, bad, compared, first);
    for (int k = 0; k < NSEQ; k++)
        CHECK(frugal_seq_n_past(c, slot[k]) == total(k), "%s: slot %d n_past %lld (expected %d)", f->label, slot[k],
              (long long)frugal_seq_n_past(c, slot[k]), total(k));
    free(lg);
    printf("  %s: %d steps (%d mixed prompt/decode, %d with both phases), %d rows, %d logit rows bit-identical (%d "
           "threads, batch %s)\n",
           f->label, f->n_steps, mixed, mixed_phase, rows, compared - bad, threads, n_batch ? "of 5 rows" : "default");
    return c;
}

/* prefix copies and truncation, continued against the reference */
static void test_copy_truncate(fixture *f, frugal_context *c, const int *slot) {
    fr_error err;
    int free_slot = -1;
    for (int s = 0; s < NSLOT; s++) {
        int used = 0;
        for (int k = 0; k < NSEQ; k++) used |= slot[k] == s;
        if (!used) free_slot = s;
    }
    /* into a free slot: 10 positions of sequence 2, then its tokens 10..16 */
    fr_status st = frugal_seq_copy(c, slot[2], free_slot, 10, &err);
    CHECK(st == FR_OK, "%s: seq_copy: %s", f->label, err.msg);
    CHECK(frugal_seq_n_past(c, free_slot) == 10, "%s: copy sets n_past", f->label);
    CHECK(frugal_seq_n_past(c, slot[2]) == total(2), "%s: copy leaves the source", f->label);
    CHECK(feed_compare(f, c, free_slot, 2, 10, 17, "copy into a free slot") == 0,
          "%s: a copied prefix continued differs from the sequence computed from scratch", f->label);
    /* over a used slot: sequence 0's first 5 positions into sequence 1's slot */
    st = frugal_seq_copy(c, slot[0], slot[1], 5, &err);
    CHECK(st == FR_OK, "%s: seq_copy over a used slot: %s", f->label, err.msg);
    CHECK(feed_compare(f, c, slot[1], 0, 5, 12, "copy over a used slot") == 0,
          "%s: a prefix copied over a used slot, continued, differs", f->label);
    /* onto itself: a truncation */
    st = frugal_seq_copy(c, slot[2], slot[2], 12, &err);
    CHECK(st == FR_OK && frugal_seq_n_past(c, slot[2]) == 12, "%s: seq_copy onto itself", f->label);
    CHECK(feed_compare(f, c, slot[2], 2, 12, 15, "copy onto itself") == 0, "%s: self copy continued differs", f->label);
    /* truncate */
    frugal_seq_truncate(c, slot[3], 2);
    CHECK(frugal_seq_n_past(c, slot[3]) == 2, "%s: truncate to 2", f->label);
    frugal_seq_truncate(c, slot[3], 5); /* beyond the end: nothing */
    frugal_seq_truncate(c, slot[3], -1);
    frugal_seq_truncate(c, NSLOT, 0);
    frugal_seq_truncate(c, -1, 0);
    CHECK(frugal_seq_n_past(c, slot[3]) == 2, "%s: truncate out of range changes nothing", f->label);
    CHECK(feed_compare(f, c, slot[3], 3, 2, total(3), "truncate") == 0, "%s: truncated sequence continued differs",
          f->label);
    CHECK(frugal_seq_n_past(c, slot[3]) == total(3), "%s: n_past after truncate and refill", f->label);
}

static void run_fixture(const char *path, const char *label, bool mla) {
    fixture *f = calloc(1, sizeof *f);
    fr_error err;
    f->label = label;
    if (frugal_model_load(path, &f->m, &err) != FR_OK) {
        CHECK(0, "%s: load %s: %s", label, path, err.msg);
        free(f);
        return;
    }
    f->V = frugal_model_n_vocab(f->m);
    test_rng rng = {0xC0FFEEull + (uint64_t)label[0]};
    for (int k = 0; k < NSEQ; k++)
        for (int i = 0; i < MAXTOK; i++) f->toks[k][i] = (int32_t)(test_rng_next(&rng) % (uint64_t)f->V);
    make_schedule(f, 7);
    f->ref = malloc(sizeof(float) * (size_t)f->V * NSEQ * MAXTOK);
    make_reference(f);

    frugal_context *c = ctx_new(f, 1, 1, 0);
    if (c) {
        CHECK(frugal_context_phase_matters(c) == mla, "%s: phase_matters %d", label, (int)mla);
        frugal_context_free(c);
    }
    /* MLA: the two phases give different bits (most rows), so a row computed in the other
     * phase than its sequence's fails the comparisons; dense models: the same bits */
    int differ = phase_rows_differ(f);
    printf("  %s: %d of %d rows differ between the phases\n", label, differ, total(0));
    if (mla) CHECK(differ >= total(0) / 2, "%s: only %d of %d rows differ between the phases", label, differ, total(0));
    else CHECK(differ == 0, "%s: %d rows differ between the phases of a dense model", label, differ);
    static const int slots_a[NSEQ] = {2, 0, 4, 1}, slots_b[NSEQ] = {4, 3, 1, 0};
    c = run_multi(f, slots_a, 2, 0);
    if (c) test_copy_truncate(f, c, slots_a);
    frugal_context_free(c);
    c = run_multi(f, slots_b, 1, 5);
    frugal_context_free(c);
    free(f->ref);
    frugal_model_free(f->m);
    free(f);
}

/* range errors: nothing is computed when a check fails */
static void test_errors(const char *path) {
    frugal_model *m;
    fr_error err;
    if (frugal_model_load(path, &m, &err) != FR_OK) {
        CHECK(0, "load %s: %s", path, err.msg);
        return;
    }
    int64_t V = frugal_model_n_vocab(m);
    frugal_context_params p = frugal_context_default_params();
    p.n_ctx = 16;
    p.n_threads = 1;
    frugal_context *c = NULL;
    /* n_seq: 0 means 1; 1..256 */
    p.n_seq = 0;
    CHECK(frugal_context_new(m, &p, &c, &err) == FR_OK && frugal_context_n_seq(c) == 1, "n_seq 0 means 1");
    frugal_context_free(c);
    c = NULL;
    static const int bad_n[] = {-1, 257, 1 << 20, INT_MAX};
    for (size_t i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
        p.n_seq = bad_n[i];
        fr_status st = frugal_context_new(m, &p, &c, &err);
        CHECK(st == FR_ERR_ARG && !c && strstr(err.msg, "n_seq"), "n_seq %d refused: %d %s", bad_n[i], st,
              st ? err.msg : "");
    }
    p.n_seq = 256;
    CHECK(frugal_context_new(m, &p, &c, &err) == FR_OK && frugal_context_n_seq(c) == 256, "n_seq 256");
    frugal_context_free(c);
    c = NULL;
    p.n_seq = 3;
    if (frugal_context_new(m, &p, &c, &err) != FR_OK) {
        CHECK(0, "context: %s", err.msg);
        frugal_model_free(m);
        return;
    }
    CHECK(frugal_seq_n_past(c, -1) == -1 && frugal_seq_n_past(c, 3) == -1 && frugal_seq_n_past(c, 2) == 0,
          "seq_n_past range");
    static const int32_t bad_seq[] = {-1, 3, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof bad_seq / sizeof bad_seq[0]; i++) {
        char want_msg[32];
        snprintf(want_msg, sizeof want_msg, "sequence %d ", bad_seq[i]);
        fr_status st = frugal_seq_set_phase(c, bad_seq[i], FRUGAL_PHASE_DECODE, &err);
        CHECK(st == FR_ERR_RANGE && strstr(err.msg, want_msg), "phase of sequence %d refused: %d %s", bad_seq[i], st,
              st ? err.msg : "");
    }
    CHECK(frugal_seq_set_phase(c, 2, FRUGAL_PHASE_DECODE, &err) == FR_OK, "phase of sequence 2");
    int32_t toks[16], seq[16];
    for (int i = 0; i < 16; i++) toks[i] = (int32_t)(i * 37 % V), seq[i] = 1;
    float *lg = malloc(sizeof(float) * (size_t)V * 16);
    CHECK(frugal_eval_seqs(c, toks, seq, 14, NULL, NULL, &err) == FR_OK, "14 tokens into sequence 1: %s", err.msg);
    CHECK(frugal_eval_seqs(c, toks, seq, 0, NULL, lg, &err) == FR_OK, "no tokens");
    /* sequence 1 has 2 positions left: 3 more overflow it, even next to a valid row of 0 */
    int32_t s3[4] = {0, 1, 1, 1};
    fr_status st = frugal_eval_seqs(c, toks, s3, 4, NULL, lg, &err);
    CHECK(st == FR_ERR_RANGE && strstr(err.msg, "sequence 1") && strstr(err.msg, "context full"),
          "one sequence's context overflows: %d %s", st, err.msg);
    CHECK(frugal_seq_n_past(c, 0) == 0 && frugal_seq_n_past(c, 1) == 14, "nothing computed on overflow");
    int32_t sb[2] = {0, 3};
    st = frugal_eval_seqs(c, toks, sb, 2, NULL, lg, &err);
    CHECK(st == FR_ERR_RANGE && strstr(err.msg, "sequence 3"), "sequence out of range: %d %s", st, err.msg);
    sb[1] = -1;
    st = frugal_eval_seqs(c, toks, sb, 2, NULL, lg, &err);
    CHECK(st == FR_ERR_RANGE && strstr(err.msg, "sequence -1"), "negative sequence: %d %s", st, err.msg);
    int32_t bt[2] = {1, (int32_t)V};
    sb[1] = 2;
    st = frugal_eval_seqs(c, bt, sb, 2, NULL, lg, &err);
    CHECK(st == FR_ERR_RANGE && strstr(err.msg, "out of range"), "token id out of range: %d %s", st, err.msg);
    st = frugal_eval_seqs(c, toks, sb, -1, NULL, lg, &err);
    CHECK(st == FR_ERR_ARG, "negative count: %d", st);
    CHECK(frugal_seq_n_past(c, 0) == 0 && frugal_seq_n_past(c, 1) == 14 && frugal_seq_n_past(c, 2) == 0,
          "nothing computed on errors");
    /* the last 2 positions fit; want selects rows: packed */
    uint8_t want[3] = {0, 1, 0};
    int32_t s2[3] = {1, 0, 1};
    CHECK(frugal_eval_seqs(c, toks, s2, 3, want, lg, &err) == FR_OK, "fill sequence 1: %s", err.msg);
    CHECK(frugal_seq_n_past(c, 1) == 16 && frugal_seq_n_past(c, 0) == 1, "n_past after fill");
    /* frugal_eval and friends are sequence 0 */
    CHECK(frugal_eval(c, toks, 2, lg, 0, &err) == FR_OK, "frugal_eval on sequence 0: %s", err.msg);
    CHECK(frugal_context_n_past(c) == 3 && frugal_seq_n_past(c, 0) == 3 && frugal_seq_n_past(c, 1) == 16,
          "frugal_eval advances sequence 0 only");
    frugal_context_truncate(c, 1);
    CHECK(frugal_seq_n_past(c, 0) == 1 && frugal_seq_n_past(c, 1) == 16, "frugal_context_truncate: sequence 0");
    /* copies */
    st = frugal_seq_copy(c, 3, 0, 1, &err);
    CHECK(st == FR_ERR_RANGE && strstr(err.msg, "source sequence 3"), "copy from a bad sequence: %s", err.msg);
    st = frugal_seq_copy(c, 1, -2, 1, &err);
    CHECK(st == FR_ERR_RANGE && strstr(err.msg, "destination sequence -2"), "copy to a bad sequence: %s", err.msg);
    st = frugal_seq_copy(c, 0, 2, 2, &err);
    CHECK(st == FR_ERR_RANGE && strstr(err.msg, "holds 1"), "copy more than cached: %s", err.msg);
    st = frugal_seq_copy(c, 0, 2, -1, &err);
    CHECK(st == FR_ERR_RANGE, "copy a negative count");
    CHECK(frugal_seq_n_past(c, 2) == 0, "failed copies change nothing");
    CHECK(frugal_seq_copy(c, 1, 2, 16, &err) == FR_OK && frugal_seq_n_past(c, 2) == 16, "copy a full sequence");
    free(lg);
    frugal_context_free(c);
    frugal_model_free(m);
}

/* V3-style tiny deepseek2 (as in test_deepseek2): q LoRA, YaRN, 8 experts in groups, 1 shared */
static const fr_synth_ds k_tiny_v3 = {
    .name = "tiny-v3", .n_vocab = 300, .n_ctx = 4096, .n_embd = 64, .n_layer = 3, .n_head = 4, .n_ff = 96,
    .q_lora = 48, .kv_lora = 32, .qk_nope = 16, .qk_rope = 16, .v_head = 24, .n_expert = 8, .n_expert_used = 2,
    .n_expert_shared = 1, .n_ff_exp = 32, .n_dense_lead = 1, .n_groups = 4, .n_group_used = 2,
    .gating = FR_GATING_SIGMOID, .exp_bias = true, .weights_norm = true, .weights_scale = 2.5, .rope_base = 10000.0,
    .rms_eps = 1e-6, .yarn_factor = 4.0, .yarn_orig_ctx = 32, .yarn_log_mul = 0.1, .w_scale = 0.25f};

int main(int argc, char **argv) {
    frugal_set_log(NULL, NULL, 0);
    const char *data = argc > 1 ? argv[1] : "tests/data";
    char path[4096], dir[64];
    printf("llama\n");
    snprintf(path, sizeof path, "%s/models/llama-tiny-Q4_K_M.gguf", data);
    run_fixture(path, "llama-tiny-Q4_K_M", false);
    printf("qwen2\n");
    snprintf(path, sizeof path, "%s/models/qwen2-tiny-Q8_0.gguf", data);
    run_fixture(path, "qwen2-tiny-Q8_0", false);
    printf("deepseek2\n");
    snprintf(dir, sizeof dir, "/tmp/frugal_multiseq_XXXXXX");
    if (mkdtemp(dir)) {
        /* Q4_0 too: its batched decode steps take the pair kernels' two streams (gemm.h
         * fr_gemm_pair_units), in the attention's products and the experts' */
        static const char *const types[] = {"Q8_0", "Q4_0"};
        for (int i = 0; i < 2; i++) {
            char name[64];
            snprintf(path, sizeof path, "%s/tiny-v3-%s.gguf", dir, types[i]);
            snprintf(name, sizeof name, "synth tiny-v3 %s", types[i]);
            fr_error err;
            fr_status st = fr_synth_deepseek2(&k_tiny_v3, types[i], 42, NULL, path, &err);
            CHECK(st == FR_OK, "synth deepseek2 %s: %s", types[i], st == FR_OK ? "" : err.msg);
            if (st == FR_OK) run_fixture(path, name, true);
            remove(path);
        }
        rmdir(dir);
    } else {
        CHECK(0, "mkdtemp %s", dir);
    }
    const char *shared = test_shared_dir();
    if (shared) {
        snprintf(path, sizeof path, "%s/models/ds3-tiny-Q8_0.gguf", shared);
        run_fixture(path, "ds3-tiny-Q8_0", true);
        snprintf(path, sizeof path, "%s/models/llama-tiny-Q4_0.gguf", shared);
        run_fixture(path, "llama-tiny-Q4_0", false);
    } else {
        printf("  SKIPPED: ds3-tiny-Q8_0, llama-tiny-Q4_0 (../shared not found)\n");
    }
    printf("errors\n");
    snprintf(path, sizeof path, "%s/models/llama-tiny-Q4_K_M.gguf", data);
    test_errors(path);
    return CHECK_DONE("test_multiseq");
}

/* sampler.c: penalties, top-k, top-p, min-p, temperature and the draw (see sampler.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sampler.h"

/* ---- RNG: splitmix64 seeding, xoshiro256** ---- */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fr_rng_seed(fr_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x); /* never all zero */
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fr_rng_next(fr_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

double fr_rng_double(fr_rng *r) { return (double)(fr_rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- candidates and their total order ---- */
typedef struct cand {
    float l;
    int32_t id;
} cand;

/* a comes before b: larger logit first, equal logits by lower id. Strict and total. */
static inline bool before(cand a, cand b) { return a.l > b.l || (a.l == b.l && a.id < b.id); }

static int cmp_cand(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    return before(*a, *b) ? -1 : before(*b, *a) ? 1 : 0;
}

static void insertion_sort(cand *a, int32_t n) {
    for (int32_t i = 1; i < n; i++) {
        cand x = a[i];
        int32_t j = i;
        while (j > 0 && before(x, a[j - 1])) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

static void sort_cands(cand *a, int32_t n) {
    if (n <= 32)
        insertion_sort(a, n);
    else
        qsort(a, (size_t)n, sizeof *a, cmp_cand);
}

/* ---- top-k: a heap of the k first candidates, the last of them at the root ---- */
static void heap_sift_down(cand *h, int32_t n, int32_t i) {
    const cand x = h[i];
    for (;;) {
        int32_t ch = 2 * i + 1;
        if (ch >= n) break;
        if (ch + 1 < n && before(h[ch], h[ch + 1])) ch++; /* the later child */
        if (!before(x, h[ch])) break;
        h[i] = h[ch];
        i = ch;
    }
    h[i] = x;
}

static void heap_sift_up(cand *h, int32_t i) {
    const cand x = h[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!before(h[parent], x)) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

/* ---- the sampler ---- */
/* Top-p on more than TOP_P_SORT_MAX candidates buckets them by l_max - l (TOP_P_BUCKETS
 * buckets over at most TOP_P_RANGE nats; a last bucket takes the rest), finds the bucket
 * where the cumulative probability crosses top_p, and sorts only that bucket. */
#define TOP_P_SORT_MAX 1024
#define TOP_P_BUCKETS 1024
#define TOP_P_RANGE 64.0
struct fr_sampler {
    fr_sampler_params p;
    int32_t n_vocab;
    bool penalties;  /* the window is on and some penalty is not neutral */
    int32_t *counts; /* [n_vocab] occurrences in the window (NULL without penalties) */
    int32_t *ring;   /* [penalty_last_n] the window, when penalty_last_n > 0 */
    int32_t ring_len, ring_head;
    cand *cands;     /* [n_vocab] scratch: the candidate set */
    cand *cands2;    /* [n_vocab] scratch: the top-p boundary bucket */
    double *w;       /* [n_vocab] scratch: exp(l - l_max) for top-p, then the final weights */
    fr_rng rng;
    int32_t bucket_n[TOP_P_BUCKETS];
    double bucket_mass[TOP_P_BUCKETS];
};

fr_sampler_params fr_sampler_params_default(void) {
    fr_sampler_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .penalty_last_n = 64,
        .seed = 0,
    };
    return p;
}

static fr_status check_params(const fr_sampler_params *p, int32_t n_vocab, fr_error *err) {
    if (!p) return fr_fail(err, FR_ERR_ARG, "sampler: params is NULL");
    if (n_vocab <= 0) return fr_fail(err, FR_ERR_ARG, "sampler: n_vocab = %d: expected > 0", (int)n_vocab);
    if (!isfinite(p->temperature) || p->temperature < 0)
        return fr_fail(err, FR_ERR_ARG, "sampler: temperature = %g: expected a finite value >= 0 (0 = greedy)",
                       (double)p->temperature);
    if (isnan(p->top_p) || !(p->top_p > 0 && p->top_p <= 1))
        return fr_fail(err, FR_ERR_ARG, "sampler: top_p = %g: expected a value in (0, 1] (1 = off)",
                       (double)p->top_p);
    if (isnan(p->min_p) || !(p->min_p >= 0 && p->min_p <= 1))
        return fr_fail(err, FR_ERR_ARG, "sampler: min_p = %g: expected a value in [0, 1] (0 = off)",
                       (double)p->min_p);
    if (!isfinite(p->repeat_penalty) || !(p->repeat_penalty > 0))
        return fr_fail(err, FR_ERR_ARG, "sampler: repeat_penalty = %g: expected a finite value > 0 (1 = off)",
                       (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty))
        return fr_fail(err, FR_ERR_ARG, "sampler: frequency_penalty = %g: expected a finite value (0 = off)",
                       (double)p->frequency_penalty);
    if (!isfinite(p->presence_penalty))
        return fr_fail(err, FR_ERR_ARG, "sampler: presence_penalty = %g: expected a finite value (0 = off)",
                       (double)p->presence_penalty);
    if (p->penalty_last_n < -1 || p->penalty_last_n > FR_SAMPLER_MAX_LAST_N)
        return fr_fail(err, FR_ERR_ARG,
                       "sampler: penalty_last_n = %d: expected -1 (whole history), 0 (off) or 1..%d",
                       (int)p->penalty_last_n, FR_SAMPLER_MAX_LAST_N);
    return FR_OK;
}

static void *alloc_array(size_t n, size_t size) {
    size_t bytes;
    if (!ck_mul_size(n, size, &bytes)) return NULL;
    return calloc(1, bytes ? bytes : 1);
}

fr_status fr_sampler_new(const fr_sampler_params *p, int32_t n_vocab, fr_sampler **out, fr_error *err) {
    if (!out) return fr_fail(err, FR_ERR_ARG, "sampler: out is NULL");
    *out = NULL;
    fr_status st = check_params(p, n_vocab, err);
    if (st != FR_OK) return st;

    fr_sampler *s = calloc(1, sizeof *s);
    if (!s) return fr_fail(err, FR_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->penalties = p->penalty_last_n != 0 &&
                   (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
    bool ok = true;
    s->cands = alloc_array((size_t)n_vocab, sizeof *s->cands);
    s->cands2 = alloc_array((size_t)n_vocab, sizeof *s->cands2);
    s->w = alloc_array((size_t)n_vocab, sizeof *s->w);
    ok = s->cands && s->cands2 && s->w;
    if (ok && s->penalties) {
        s->counts = alloc_array((size_t)n_vocab, sizeof *s->counts);
        ok = s->counts != NULL;
        if (ok && p->penalty_last_n > 0) {
            s->ring = alloc_array((size_t)p->penalty_last_n, sizeof *s->ring);
            ok = s->ring != NULL;
        }
    }
    if (!ok) {
        fr_sampler_free(s);
        return fr_fail(err, FR_ERR_NOMEM, "sampler: out of memory (n_vocab = %d, penalty_last_n = %d)", (int)n_vocab,
                       (int)p->penalty_last_n);
    }
    fr_rng_seed(&s->rng, p->seed);
    *out = s;
    return FR_OK;
}

void fr_sampler_free(fr_sampler *s) {
    if (!s) return;
    free(s->cands);
    free(s->cands2);
    free(s->w);
    free(s->counts);
    free(s->ring);
    free(s);
}

int32_t fr_sampler_n_vocab(const fr_sampler *s) { return s->n_vocab; }
const fr_sampler_params *fr_sampler_get_params(const fr_sampler *s) { return &s->p; }

bool fr_sampler_accept(fr_sampler *s, int32_t token) {
    if (!s || token < 0 || token >= s->n_vocab) return false;
    if (!s->counts) return true; /* no penalties: nothing looks at the history */
    const int32_t last_n = s->p.penalty_last_n;
    if (last_n > 0) {
        if (s->ring_len == last_n) {
            s->counts[s->ring[s->ring_head]]--; /* the oldest leaves the window */
        } else {
            s->ring_len++;
        }
        s->ring[s->ring_head] = token;
        s->ring_head = s->ring_head + 1 == last_n ? 0 : s->ring_head + 1;
        s->counts[token]++;
    } else if (s->counts[token] < INT32_MAX) { /* -1: the whole history */
        s->counts[token]++;
    }
    return true;
}

void fr_sampler_reset(fr_sampler *s) {
    if (!s) return;
    if (s->counts) memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    s->ring_len = 0;
    s->ring_head = 0;
    fr_rng_seed(&s->rng, s->p.seed);
}

void fr_sampler_set_seed(fr_sampler *s, uint64_t seed) {
    if (!s) return;
    s->p.seed = seed;
    fr_rng_seed(&s->rng, seed);
}

/* Bucket of a logit: (l_max - l) * scale, the last bucket for everything beyond. */
static inline int32_t bucket_of(float l, double lmax, double scale) {
    const double d = (lmax - (double)l) * scale;
    return d < TOP_P_BUCKETS - 1 ? (int32_t)d : TOP_P_BUCKETS - 1;
}

/* Top-p over c[0..n) (any order), with e = exp(l - lmax) in s->w[0..n), normalised by z. Keeps the
 * smallest prefix in order whose cumulative probability is >= top_p; returns its length.
 * The kept set is left in c[0..m), sorted only if *sorted is set. */
static int32_t top_p_cut(fr_sampler *s, int32_t n, double lmax, double lmin, double z, bool *sorted) {
    cand *c = s->cands;
    const double top_p = (double)s->p.top_p;
    if (n <= TOP_P_SORT_MAX) {
        sort_cands(c, n);
        *sorted = true;
        double cum = 0;
        for (int32_t i = 0; i < n; i++) {
            cum += exp((double)c[i].l - lmax) / z;
            if (cum >= top_p) return i + 1;
        }
        return n;
    }
    /* bucket b holds l_max - l in [b, b+1) / scale; the last one everything beyond */
    const double range = lmax - lmin < TOP_P_RANGE ? lmax - lmin : TOP_P_RANGE;
    const double scale = range > 0 ? (TOP_P_BUCKETS - 1) / range : 0;
    int32_t *bn = s->bucket_n;
    double *bm = s->bucket_mass;
    memset(bn, 0, sizeof s->bucket_n);
    memset(bm, 0, sizeof s->bucket_mass);
    const double *w = s->w;
    for (int32_t i = 0; i < n; i++) {
        const int32_t b = bucket_of(c[i].l, lmax, scale);
        bn[b]++;
        bm[b] += w[i];
    }
    /* the bucket where the cumulative crosses top_p (the last non-empty one if rounding
     * never lets it) */
    double before_mass = 0;
    int32_t cut_b = TOP_P_BUCKETS - 1;
    while (cut_b > 0 && bn[cut_b] == 0) cut_b--;
    for (int32_t b = 0; b < cut_b; b++) {
        if ((before_mass + bm[b]) / z >= top_p) {
            cut_b = b;
            break;
        }
        before_mass += bm[b];
    }
    /* keep the buckets before it, sort it and cut inside it */
    cand *c2 = s->cands2;
    int32_t m = 0, k = 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t b = bucket_of(c[i].l, lmax, scale);
        if (b < cut_b)
            c[m++] = c[i];
        else if (b == cut_b)
            c2[k++] = c[i];
    }
    sort_cands(c2, k);
    double cum = before_mass / z;
    int32_t keep = k;
    for (int32_t i = 0; i < k; i++) {
        cum += exp((double)c2[i].l - lmax) / z;
        if (cum >= top_p) {
            keep = i + 1;
            break;
        }
    }
    memcpy(c + m, c2, (size_t)keep * sizeof *c);
    *sorted = m == 0;
    return m + keep;
}

/* Runs the chain up to temperature. Returns the number n >= 1 of kept candidates, in
 * s->cands[0..n), or -1 with err set. *lmax is the largest logit (always kept), *sorted
 * tells whether cands[0..n) is in order. Greedy: n = 1, the argmax. */
static int32_t run_chain(fr_sampler *s, const float *logits, float *lmax, bool *sorted, fr_error *err) {
    const fr_sampler_params *p = &s->p;
    const int32_t nv = s->n_vocab;
    const bool greedy = p->temperature == 0.0f;
    const bool pen = s->penalties;
    const int32_t *counts = s->counts;
    const float rp = p->repeat_penalty, fp = p->frequency_penalty, pp = p->presence_penalty;
    /* top-k is done during the first pass with a heap of the k first so far */
    const int32_t k = !greedy && p->top_k > 0 && p->top_k < nv ? p->top_k : 0;
    cand *c = s->cands;
    *sorted = false;

    /* 1. penalties; drop NaN and -inf, clamp +inf; track the argmax (lowest id on ties);
     * 2. top-k */
    int32_t n = 0, n_valid = 0, n_nan = 0;
    float best = -INFINITY;
    int32_t best_id = -1;
    for (int32_t i = 0; i < nv; i++) {
        float l = logits[i];
        if (isnan(l)) {
            n_nan++;
            continue;
        }
        if (l == -INFINITY) continue;
        if (l > FLT_MAX) l = FLT_MAX;
        if (pen && counts[i] > 0) {
            const int32_t cnt = counts[i];
            l = l > 0 ? l / rp : l * rp;
            l -= (float)cnt * fp + pp;
            if (isnan(l) || l == -INFINITY) continue;
            if (l > FLT_MAX) l = FLT_MAX;
        }
        n_valid++;
        if (l > best) {
            best = l;
            best_id = i;
        }
        if (greedy) continue;
        if (!k) {
            c[n++] = (cand){l, i};
        } else if (n < k) {
            c[n] = (cand){l, i};
            heap_sift_up(c, n++);
        } else if (l > c[0].l) { /* ids ascend: an equal logit comes after the root */
            c[0] = (cand){l, i};
            heap_sift_down(c, n, 0);
        }
    }
    if (n_valid == 0)
        return fr_fail(err, FR_ERR_ARG, "sampler: no usable logit: all %d are NaN (%d) or -inf%s", (int)nv,
                       (int)n_nan, pen ? " (after penalties)" : ""),
               -1;
    *lmax = best;
    if (greedy) {
        c[0] = (cand){best, best_id};
        *sorted = true;
        return 1;
    }

    /* 3 and 4. Top-p keeps a prefix (in order) of the set; min-p keeps the prefix with
     * exp(l - lmax) >= min_p, a ratio that renormalisation after top-p does not change.
     * So top-p then min-p = the shorter of the two prefixes: filter by min-p first (O(n),
     * no sort), then run top-p on the survivors with the normaliser z of the whole set. */
    const double dmax = (double)best;
    const bool top_p_on = p->top_p < 1.0f;
    if (top_p_on || p->min_p > 0.0f) {
        const double minp = (double)p->min_p;
        double z = 0, lmin = dmax;
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++) {
            const double e = exp((double)c[i].l - dmax);
            z += e;
            if (e >= minp) {
                if ((double)c[i].l < lmin) lmin = (double)c[i].l;
                s->w[m] = e;
                c[m++] = c[i];
            }
        }
        n = m;
        if (top_p_on && n > 1) n = top_p_cut(s, n, dmax, lmin, z, sorted);
    }
    if (n == 1) *sorted = true;
    return n;
}

/* Final weights exp((l - lmax) / T) into s->w[0..n); returns their sum (>= 1: the max
 * candidate has weight 1). */
static double final_weights(fr_sampler *s, int32_t n, float lmax) {
    const double t = (double)s->p.temperature, dmax = (double)lmax;
    double z = 0;
    for (int32_t i = 0; i < n; i++) {
        const double w = exp(((double)s->cands[i].l - dmax) / t);
        s->w[i] = w;
        z += w;
    }
    return z;
}

int32_t fr_sampler_sample(fr_sampler *s, const float *logits, fr_error *err) {
    if (!s || !logits) return fr_fail(err, FR_ERR_ARG, "sampler: %s is NULL", s ? "logits" : "sampler"), -1;
    float lmax;
    bool sorted;
    const int32_t n = run_chain(s, logits, &lmax, &sorted, err);
    if (n < 0) return -1;
    if (s->p.temperature == 0.0f) return s->cands[0].id;

    const double z = final_weights(s, n, lmax);
    const double target = fr_rng_double(&s->rng) * z;
    double cum = 0;
    for (int32_t i = 0; i < n; i++) {
        cum += s->w[i];
        if (cum > target) return s->cands[i].id;
    }
    /* u * z rounded up to z: the last candidate with a non-zero weight */
    for (int32_t i = n - 1; i > 0; i--)
        if (s->w[i] > 0) return s->cands[i].id;
    return s->cands[0].id;
}

int32_t fr_sampler_candidates(fr_sampler *s, const float *logits, int32_t *ids_out, double *probs_out, int32_t max,
                              fr_error *err) {
    if (!s || !logits) return fr_fail(err, FR_ERR_ARG, "sampler: %s is NULL", s ? "logits" : "sampler"), -1;
    float lmax;
    bool sorted;
    const int32_t n = run_chain(s, logits, &lmax, &sorted, err);
    if (n < 0) return -1;
    if (!sorted) sort_cands(s->cands, n);
    double z = 1;
    if (s->p.temperature == 0.0f)
        s->w[0] = 1;
    else
        z = final_weights(s, n, lmax);
    const int32_t m = max < n ? (max > 0 ? max : 0) : n;
    for (int32_t i = 0; i < m; i++) {
        if (ids_out) ids_out[i] = s->cands[i].id;
        if (probs_out) probs_out[i] = s->w[i] / z;
    }
    return n;
}

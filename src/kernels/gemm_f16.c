/* gemm_f16.c: products with F16, BF16 and F32 matrices, read as they are stored (never
 * packed into units): decode in slabs of rows read as parallel streams, prompts over panels
 * of rows converted once per call (layouts and order in gemm.h). */
#include "gemm.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "kernels.h"
#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- F16, BF16 and F32 ---- */

/* Decode reads a slab's rows as fr_cpu_decode_f16_streams() streams (1..3, the CPU's vendor
 * decides): row i of each part of the slab in one kernel call. tinyllama F16 tg64 with AVX2,
 * 2 threads, 6 alternated rounds on the Intel VM: one stream 18.4-19.0 t/s, two 20.2-22.0 (won
 * 6 of 6); three measured as two. It is the second stream, not the second row per call: two
 * adjacent rows per call, 5 rounds, 17.4-18.8 against one row's 20.2-21.2 and two streams'
 * 24.0-25.0. On the AMD VM three streams won (dtype.c, fr_decode_f16_prefetch_for). (Packed
 * Q8_0 units read this way gain only without software prefetch, and use four streams:
 * fr_gemm_streams_kernel.) */
#define F16_TILE_ROWS 3 /* weight rows per kernel call in prompts (the kernels take 1 to 3) */
_Static_assert(FR_DECODE_F16_STREAMS_MAX <= 3, "the F16 kernels take 1 to 3 rows per call");
static size_t f16_act_stride(int64_t n_in) { return ((size_t)n_in * sizeof(float) + 63) & ~(size_t)63; }

/* dwords of a BF16 pair activation row (gemm.h): np pairs x 2 passes x 16 */
static size_t f16_pair_stride(int64_t n_in) { return (size_t)(((n_in & ~(int64_t)31) / 32 + 1) / 2) * 32; }

size_t fr_gemm_f16_scratch_size(int type, int64_t n_in, int64_t n_tok) {
    size_t row = f16_act_stride(n_in);
    if (type == FR_TYPE_BF16 && fr_cpu_has(FR_ISA_AVX512BF16)) /* (f16_setup's condition for pair rows) */
        row += f16_pair_stride(n_in) * sizeof(uint32_t);
    return row * (size_t)n_tok;
}

/* xs[0 .. n - 1]: rows r .. r + n - 1 of w, as stored */
static void rows_from(const fr_matrix *w, int64_t r, int n, const void **xs) {
    for (int q = 0; q < n; q++) xs[q] = (const char *)w->data + (size_t)(r + q) * w->row_bytes;
}

/* A panel kernel set (f16_panel_chunk) */
typedef struct {
    int lanes, R, T; /* values per pass of a chunk (32 / lanes passes), the tile */
    int64_t span;    /* values per range: a group's activations for a pass of it stay in L1 */
    int es;          /* bytes a value in panels and activation rows: 4 (floats), 2 (F16 as stored) */
    /* a pass, given its part of the panel and of the activation rows (gemm.h) */
    void (*pass)(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yp, int T, float *st, int first);
    /* the P passes' sums (AVX-512), or NULL where the last pass finishes */
    void (*finish)(const float *const *st, int R, int T, const void *const *x, int type, int64_t n32, int64_t n,
                   const void *const *yp, float *out, size_t out_stride);
    /* the last pass with the finish (gemm.h fr_gemm_panel_last_avx2), or NULL */
    void (*last)(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yq, int T, const float *const *st,
                 int first, const void *const *x, int type, int64_t n32, int64_t n, const void *const *yp, float *out,
                 size_t out_stride);
} f16_panel_kernels;

typedef struct {
    const fr_matrix *w; /* (a group's first matrix: type and n_in are the group's) */
    const float *x;
    int64_t x_stride, n_tok;
    /* the products and their outputs: one, or (decode, fr_gemm_f16_group) a group whose rows
     * are numbered one after the other (row0[i] the first of out[i]; row0[n_out] the total) */
    const fr_mm_out *out;
    int n_out;
    int64_t row0[FR_MM_GROUP_MAX + 1];
    float *act;        /* the converted activation rows (scratch) ... */
    size_t act_stride; /* floats */
    const float *ys;   /* ... the rows the kernels read: act, or x itself for F32 rows */
    size_t ys_stride;  /* floats */
    int64_t chunk;
    /* the range kernel (gemm.h fr_gemm_f16_*_part) */
    void (*kern)(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y, int T,
                 float *st, int first, int last, float *out);
    const int64_t *slabs; /* decode: row bounds of each task (fr_decode_split), else NULL */
    int64_t span;         /* values per range: F16_SPLIT, or the whole row */
    /* BF16 prompts on AVX512_BF16: the activations also as pair rows (gemm.h), after act's
     * rows, or NULL (then, and for a chunk whose weights are not all pair-safe, float panels) */
    uint32_t *pairs;
    size_t pair_stride;     /* dwords */
    atomic_bool act_unsafe; /* some activation was not pair-safe (set by f16_quant_task) */
    const f16_panel_kernels *panels; /* prompts over converted panels, or NULL (f16_panel_chunk;
                                      * ys then in the kernels' pass order) */
    size_t panel_bytes;              /* a task's rows as floats, at most (f16_panel_bytes) */
    fr_pool *pool;                   /* (its threads' scratch holds the panels) */
} f16_job;

/* On AVX-512, prompt rows longer than this (values) are taken in ranges of it (f16_task). */
#define F16_SPLIT 2048
#define F16_SPLIT_ROWS 48 /* the most rows in a task's chunk then */
/* Values per range of AVX2 F16 panels (f16_panels_avx2_h16): up to 16 KiB of 4 tokens' F16
 * activations in L1 per pass, and a 5632-wide down projection in one range, not 4096 + 1536
 * values (kbench F16 5632 x 2048, 512 tokens, one thread, Zen 3, alternated against 4096:
 * faster in 9 of 10 rounds, e.g. 31.1 -> 38.8, 41.0 -> 43.3 GMAC/s) */
#define F16_H16_SPAN 8192

/* Values i .. i + m - 1 of v (es bytes each) in pass order into row r of a panel of R rows
 * whose passes start qs values apart (gemm.h). (L and es constants in each call: the copies
 * become vector moves) */
static inline void pass_order_es(const char *v, int64_t i, int64_t m, const int L, int R, int r, size_t qs, char *dst,
                                 const size_t es) {
    for (int64_t k = i; k < i + m; k += L)
        memcpy(dst + ((size_t)((k & 31) / L) * qs + (size_t)((k >> 5) * R + r) * (size_t)L) * es,
               v + (size_t)(k - i) * es, (size_t)L * es);
}

void fr_gemm_pass_order(const float *v, int64_t i, int64_t m, int L, int R, int r, size_t qs, float *dst) {
    if (L == 16) pass_order_es((const char *)v, i, m, 16, R, r, qs, (char *)dst, sizeof(float));
    else if (L == 8) pass_order_es((const char *)v, i, m, 8, R, r, qs, (char *)dst, sizeof(float));
    else pass_order_es((const char *)v, i, m, L, R, r, qs, (char *)dst, sizeof(float));
}

/* fr_gemm_pass_order for F16 values (the F16 form of the panels, gemm.h) */
static void pass_order16(const uint16_t *v, int64_t i, int64_t m, int L, int R, int r, size_t qs, uint16_t *dst) {
    if (L == 8) pass_order_es((const char *)v, i, m, 8, R, r, qs, (char *)dst, sizeof(uint16_t));
    else pass_order_es((const char *)v, i, m, L, R, r, qs, (char *)dst, sizeof(uint16_t));
}

void fr_gemm_panel_pack16(const void *const *x, int R, int64_t n32, int L, size_t qs, uint16_t *panel) {
    for (int r = 0; r < R; r++) pass_order16(x[r], 0, n32, L, R, r, qs, panel);
}

void fr_gemm_panel_pack(const void *const *x, int R, int64_t n32, int type, int L, size_t qs, float *panel) {
    const fr_type_traits *ft = fr_type_traits_get(type);
    const size_t es = type == FR_TYPE_F32 ? 4 : 2;
    _Alignas(64) float v[256];
    for (int r = 0; r < R; r++)
        for (int64_t i = 0; i < n32; i += 256) {
            const int64_t m = FR_MIN(256, n32 - i);
            const char *src = (const char *)x[r] + (size_t)i * es;
            if (type == FR_TYPE_F32) memcpy(v, src, (size_t)m * sizeof(float));
            else ft->to_float(src, v, m); /* exact: F16 and BF16 widen to F32 */
            fr_gemm_pass_order(v, i, m, L, R, r, qs, panel);
        }
}

/* The activations rounded to F16 (BF16) exactly as vec_dot's conversion, kept as floats
 * (F32 rows read x as it is), and for BF16 pair panels as pair rows too: token t's row from
 * src. Returns false if some value was not pair-safe (pair rows only; else true). */
static bool f16_convert_row(const f16_job *j, const float *src, int64_t t) {
    const fr_type_traits *ft = fr_type_traits_get(j->w->type);
    const int64_t n = j->w->n_in, n32 = n & ~(int64_t)31, nc = n32 / 32;
    const bool f32 = j->w->type == FR_TYPE_F32;
    bool safe = true;
    uint16_t tmp[256];
    _Alignas(64) float v[256];
    float *dst = j->act + (size_t)t * j->act_stride;
    for (int64_t i = 0; i < n; i += 256) {
        int64_t m = FR_MIN(256, n - i);
        if (!j->panels && f32) {
            memcpy(dst + i, src + i, (size_t)m * sizeof(float));
            continue;
        }
        if (!j->panels) {
            ft->from_float(src + i, tmp, m);
            ft->to_float(tmp, dst + i, m);
            continue;
        }
        const int64_t mp = FR_MAX(0, FR_MIN(m, n32 - i)); /* (below) */
        if (j->panels->es == 2) { /* F16 panels: the F16 values themselves */
            uint16_t *dst16 = (uint16_t *)dst;
            ft->from_float(src + i, tmp, m);
            pass_order16(tmp, i, mp, j->panels->lanes, 1, 0, (size_t)nc * (size_t)j->panels->lanes, dst16);
            for (int64_t k = i + mp; k < i + m; k++) dst16[k] = tmp[k - i];
            continue;
        }
        if (f32) {
            memcpy(v, src + i, (size_t)m * sizeof(float));
        } else {
            ft->from_float(src + i, tmp, m);
            ft->to_float(tmp, v, m);
        }
        /* pass order up to n32 (i is a multiple of 256: whole passes: mp), the tail in place */
#if FR_X86
        if (j->pairs && mp > 0 &&
            !fr_gemm_bf16_pair_order(tmp, i, mp, n32, 1, 0, j->pairs + (size_t)t * j->pair_stride))
            safe = false;
#endif
        fr_gemm_pass_order(v, i, mp, j->panels->lanes, 1, 0, (size_t)nc * (size_t)j->panels->lanes, dst);
        for (int64_t k = i + mp; k < i + m; k++) dst[k] = v[k - i];
    }
    return safe;
}

static void f16_quant_task(void *ctx, int64_t t, int thread) {
    f16_job *j = ctx;
    if (!f16_convert_row(j, j->x + t * j->x_stride, t))
        atomic_store_explicit(&j->act_unsafe, true, memory_order_relaxed);
}

/* Decode: rows r0 .. r1 - 1 cut into fr_cpu_decode_f16_streams() parts read side by side, one
 * row of each per call (each row's sums are its own: the same bits as one row per call). */
static void f16_decode_slab(const f16_job *j, const fr_mm_out *o, int64_t r0, int64_t r1) {
    const fr_matrix *w = o->w;
    const int64_t n = w->n_in, n32 = n & ~(int64_t)31;
    const int ns = fr_cpu_decode_f16_streams();
    const int64_t part = (r1 - r0 + ns - 1) / ns;
    const float *ys[1] = {j->ys};
    for (int64_t i = 0; i < part; i++) {
        const void *xs[FR_DECODE_F16_STREAMS_MAX];
        int64_t rows[FR_DECODE_F16_STREAMS_MAX];
        int R = 0;
        for (int q = 0; q < ns; q++) {
            const int64_t r = r0 + q * part + i;
            if (r >= r1) break;
            rows[R] = r;
            xs[R++] = (const char *)w->data + (size_t)r * w->row_bytes;
        }
        float out[FR_DECODE_F16_STREAMS_MAX];
        j->kern(0, n32, n, xs, R, ys, 1, NULL, 1, 1, out);
        for (int q = 0; q < R; q++) fr_store_tile(o->y, o->y_stride, o->bias, out + q, rows[q], 1, 0, 1);
    }
}

/* Prompts over converted panels (gemm.h): a task converts its chunk of rows to floats once,
 * into its thread's pool scratch, and every group of T tokens then runs R x T tiles over it,
 * pass by pass. The rows as F16 in the kernel cost a conversion per weight vector on the FMA
 * ports, and tiles that keep every pass's accumulators in registers read more per product.
 * (AVX-512, 3 x 8: tinyllama F16 pp512, 2 threads, 107-110 -> 128-136 t/s; kbench F16, 512
 * tokens, 2 threads: 2048 x 5632 116-124 -> 125-129 GMAC/s, 5632 x 2048 98-105 -> 117-132.) */
#if FR_X86
/* AVX-512: a range of 1024 values puts 8 x 512 floats (16 KiB) of activations in L1 per pass
 * (2048, 32 KiB: slower alone, no faster in the GEMM) */
static const f16_panel_kernels f16_panels_avx512 = {16,   3, 8, 1024, 4, fr_gemm_panel_avx512,
                                                    fr_gemm_panel_finish_avx512, NULL};
/* AVX2: 3 x 4 tiles fill the 16 registers; a range of 4096 values, 16 KiB of activations per
 * pass (kbench F16 5632 x 2048, 512 tokens, one thread: 1024 41-42 GMAC/s, 2048 45-46, 4096
 * 46-47; 2048 x 5632: 43, 48, 48) */
static const f16_panel_kernels f16_panels_avx2 = {8, 3, 4, 4096, 4, fr_gemm_panel_avx2, NULL, fr_gemm_panel_last_avx2};
/* AVX2, F16 rows: F16 panels, twice the rows in the same bytes, and half the bytes of
 * activations streamed per row */
static const f16_panel_kernels f16_panels_avx2_h16 = {8,    3, 4, F16_H16_SPAN, 2, fr_gemm_panel_h16_avx2,
                                                      NULL, fr_gemm_panel_last_h16_avx2};
#endif
/* A task's rows as floats, at most: 768 KiB stays in this machine's 2 MiB L2 beside the
 * activations; 384 KiB measured 15% slower on 5632-wide rows (kbench 5632 x 2048, one thread:
 * 52 against 61 GMAC/s): fewer rows per task, and every task reads all tokens' activations.
 * With a smaller L2 (sysconf), 3/8 of it. */
#define F16P_BYTES (768 << 10)
/* Values per range of BF16 pair panels: 8 tokens' activations, 32 KiB, in L1 per pass (kbench
 * BF16, 512 tokens, 2 threads, 4 rounds: 2048 x 5632 242-249 GMAC/s at 1024, 254-268 at 2048,
 * 265-267 at 4096 (2 rounds); 5632 x 2048 231-236, 243-244, 242-245) */
#define F16_PAIR_SPAN 2048
#define F16P_ROWS 96       /* the most rows in a task */
#define F16P_STATE 384     /* floats of a panel's accumulators per pass: R x T x lanes, at most */
#define F16P_MIN_TOKENS 16 /* fewer tokens take f16_task's tiles on the rows as they are */
typedef struct {
    float panel[F16P_BYTES / sizeof(float)];
    float st[F16P_ROWS / 3][4][F16P_STATE]; /* [panel][pass]: the accumulators (R = 3) */
    float out[8][F16P_ROWS];                /* [token][row - r0] (T <= 8) */
} f16_panel_scratch;
_Static_assert(sizeof(f16_panel_scratch) <= FR_POOL_SCRATCH, "a task's panels fit its thread's pool scratch");

#if FR_X86 /* (the only panel kernels) */
static size_t f16_panel_bytes(void) {
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return l2 > 0 ? FR_MIN(F16P_BYTES, FR_MAX((size_t)64 << 10, (size_t)l2 / 8 * 3)) : F16P_BYTES;
}
#endif

/* Rows r0 .. r1 - 1 x every token: for each group of T tokens, range by range, pass by pass,
 * every panel takes the range (its accumulators wait in st), then the outputs go out a
 * token's rows at a time. */
static void f16_panel_chunk(const f16_job *j, int64_t r0, int64_t r1, int thread) {
    const f16_panel_kernels *k = j->panels;
    const fr_matrix *w = j->w;
    const int64_t n = w->n_in, n32 = n & ~(int64_t)31, nc = n32 / 32, cspan = k->span / 32;
    const int R = k->R, P = 32 / k->lanes;
    f16_panel_scratch *sc = fr_pool_scratch(j->pool, thread);
    const size_t es = (size_t)k->es;
    assert(sc && R == 3 && k->T <= 8 && R * k->T * k->lanes <= F16P_STATE && r1 - r0 <= F16P_ROWS &&
           (size_t)(r1 - r0) * (size_t)n32 * es <= sizeof sc->panel);
    /* pass-major panels: pass q of every row of the chunk (qs values), then pass q + 1; in
     * each pass the R-row panels one after another (qn values a row). A pass over the chunk
     * then streams one run from L2 rather than a run per panel, which the prefetchers start
     * over each time (kbench F16, 512 tokens, one thread, Zen 3, 4 alternated rounds: 2048 x
     * 5632 34.4-39.8 -> 40.2-41.1 GMAC/s, 5632 x 2048 41.7-43.4 -> 41.9-44.1; tinyllama F16
     * pp512, 2 threads, 3 rounds: 64.9, 69.0, 74.7 -> 69.7, 75.7, 76.0 t/s) */
    const size_t qn = (size_t)nc * (size_t)k->lanes, qs = (size_t)(r1 - r0) * qn;
    char *panel = (char *)sc->panel;
    /* BF16 pair panels where every weight of the chunk is pair-safe (a row's np x 32 dwords
     * fit in its n32 floats: nc >= 1), else float panels */
    bool pairs = j->pairs != NULL;
#if FR_X86
    const int64_t np = (nc + 1) / 2, pspan = F16_PAIR_SPAN / 64;
    uint32_t *pp = (uint32_t *)sc->panel;
    for (int64_t r = r0; pairs && r < r1; r += R) {
        const int nr = (int)FR_MIN(R, r1 - r);
        const void *xs[3];
        rows_from(w, r, nr, xs);
        pairs = fr_gemm_bf16_pair_pack(xs, nr, n32, pp + (size_t)(r - r0) * (size_t)np * 32);
    }
#endif
    for (int64_t r = r0; !pairs && r < r1; r += R) {
        const int nr = (int)FR_MIN(R, r1 - r);
        const void *xs[3];
        rows_from(w, r, nr, xs);
        void *dst = panel + (size_t)(r - r0) * qn * es;
        if (es == 2) fr_gemm_panel_pack16(xs, nr, n32, k->lanes, qs, dst);
        else fr_gemm_panel_pack(xs, nr, n32, w->type, k->lanes, qs, dst);
    }
    const fr_mm_out *o = j->out;
    /* the last pass finishes (fr_gemm_panel_last_avx2), else finish after the passes. (The
     * finish's separate pass over the accumulators took 7% of a kbench run (F16 2048 x 5632,
     * 512 tokens, one thread), and fused, the last pass's accumulators stay in registers:
     * 4 alternated rounds on Zen 3, 2048 x 2048 41.0-41.2 -> 42.7-44.3 GMAC/s, 2048 x 5632
     * 40.8-41.3 -> 43.4-44.4, 5632 x 2048 43.5-44.4 -> 44.4-44.9; tinyllama F16 pp512, 2
     * threads, 3 rounds: 75.0, 76.4, 78.2 -> 77.6, 80.2, 80.7 t/s. Neither a finish called
     * right after each triple's last pass, nor a prefetch of the next triple's accumulators
     * in the finish loop, had gained: the cost was the finish's own loads and stores.) */
    const bool fused = k->last && !pairs;
    assert(fused || k->finish); /* (pair panels only on AVX-512, whose set has a finish) */
    for (int64_t t = 0; t < j->n_tok; t += k->T) {
        const int T = (int)FR_MIN(k->T, j->n_tok - t);
        const void *yp[8]; /* (floats, or F16 values for es 2) */
        for (int u = 0; u < T; u++) yp[u] = j->ys + (size_t)(t + u) * j->ys_stride;
#if FR_X86
        if (pairs) {
            const uint32_t *yq[8];
            for (int u = 0; u < T; u++) yq[u] = j->pairs + (size_t)(t + u) * j->pair_stride;
            for (int64_t p0 = 0, p1; p0 < np; p0 = p1) {
                p1 = FR_MIN(p0 + pspan, np);
                for (int h = 0; h < 2; h++)
                    for (int64_t r = r0; r < r1; r += R)
                        fr_gemm_bf16_pairs_avx512(h, p0, p1, np, pp + (size_t)(r - r0) * (size_t)np * 32,
                                                  (int)FR_MIN(R, r1 - r), yq, T, sc->st[(r - r0) / R][h], p0 == 0);
            }
        }
#endif
        for (int64_t c0 = 0, c1; !pairs && c0 < nc; c0 = c1) {
            c1 = FR_MIN(c0 + cspan, nc);
            for (int q = 0; q < P; q++) {
                const void *yq[8]; /* (pass q of each activation row) */
                for (int u = 0; u < T; u++) yq[u] = (const char *)yp[u] + (size_t)q * qn * es;
                for (int64_t r = r0; r < r1; r += R) {
                    const char *pq = panel + ((size_t)q * qs + (size_t)(r - r0) * qn) * es;
                    const int nr = (int)FR_MIN(R, r1 - r);
                    float(*stp)[F16P_STATE] = sc->st[(r - r0) / R];
                    if (fused && q == P - 1 && c1 == nc) {
                        const void *xs[3];
                        rows_from(w, r, nr, xs);
                        const float *st[4] = {stp[0], stp[1], stp[2], stp[3]};
                        k->last(c0, c1, pq, nr, yq, T, st, c0 == 0, xs, w->type, n32, n, yp, &sc->out[0][r - r0],
                                F16P_ROWS);
                    } else {
                        k->pass(c0, c1, pq, nr, yq, T, stp[q], c0 == 0);
                    }
                }
            }
        }
        for (int64_t r = r0; !fused && r < r1; r += R) {
            const int nr = (int)FR_MIN(R, r1 - r);
            const void *xs[3];
            rows_from(w, r, nr, xs);
            const int64_t p = (r - r0) / R;
            const float *st[4] = {sc->st[p][0], sc->st[p][1], sc->st[p][2], sc->st[p][3]};
            k->finish(st, nr, T, xs, w->type, n32, n, yp, &sc->out[0][r - r0], F16P_ROWS);
        }
        /* a token's rows side by side: fr_store_tile's scattered stores (one token row per
         * store) took 4% of an F16 pp512 run */
        for (int u = 0; u < T; u++) {
            float *dst = o->y + (t + u) * o->y_stride + r0;
            if (o->bias)
                for (int64_t i = 0; i < r1 - r0; i++) dst[i] = sc->out[u][i] + o->bias[r0 + i];
            else
                memcpy(dst, sc->out[u], (size_t)(r1 - r0) * sizeof(float));
        }
    }
}

/* Rows r0 .. r1 - 1 of j->out's matrix x every token: over panels (f16_panel_chunk), or
 * tiles on the rows as they are. Rows longer than j->span are cut into ranges: for each group
 * of 4 tokens, range by range, every row triple of the chunk takes the range, its
 * accumulators kept in st between ranges. Four tokens' range of activations (32 KiB) then
 * stays in L1 while the chunk's rows stream from L2; over whole rows (22 KiB per activation
 * row for a 5632-wide down projection) neither operand fit in L1 (kbench F16 5632 x 2048, 512
 * tokens, one thread, AVX-512: 59-66 -> 82-85 GMAC/s; tinyllama F16 pp512 +5-8%. With AVX2,
 * whose kernel needs half the bandwidth per cycle, it measured no gain, so AVX2 takes whole
 * rows). */
static void f16_rows(const f16_job *j, int64_t r0, int64_t r1, int thread) {
    if (j->panels) {
        f16_panel_chunk(j, r0, r1, thread);
        return;
    }
    const fr_matrix *w = j->w;
    const int64_t n = w->n_in, n32 = n & ~(int64_t)31;
    /* used only when rows are cut (<= 48 rows) */
    float st[(F16_SPLIT_ROWS + F16_TILE_ROWS - 1) / F16_TILE_ROWS][FR_GEMM_F16_STATE];
    for (int64_t t = 0; t < j->n_tok; t += 4) {
        const int T = (int)FR_MIN(4, j->n_tok - t);
        const float *ys[4];
        for (int u = 0; u < T; u++) ys[u] = j->ys + (size_t)(t + u) * j->ys_stride;
        for (int64_t i0 = 0, i1 = 0, last = 0; !last; i0 = i1) { /* one pass when n32 <= span (or 0) */
            i1 = FR_MIN(i0 + j->span, n32);
            last = i1 == n32;
            const int first = i0 == 0;
            for (int64_t r = r0; r < r1; r += F16_TILE_ROWS) {
                const int R = (int)FR_MIN(F16_TILE_ROWS, r1 - r);
                const void *xs[F16_TILE_ROWS];
                rows_from(w, r, R, xs);
                float out[12];
                j->kern(i0, i1, n, xs, R, ys, T, first && last ? NULL : st[(r - r0) / F16_TILE_ROWS], first, last, out);
                if (last) fr_store_tile(j->out->y, j->out->y_stride, j->out->bias, out, r, R, t, T);
            }
        }
    }
}

static void f16_task(void *ctx, int64_t task, int thread) {
    const f16_job *j = ctx;
    const fr_matrix *w = j->w;
    if (j->slabs) { /* rows of one or more matrices */
        const int64_t r0 = j->slabs[task], r1 = j->slabs[task + 1];
        for (int i = 0; i < j->n_out; i++) {
            const int64_t a = FR_MAX(r0, j->row0[i]), b = FR_MIN(r1, j->row0[i + 1]);
            if (a < b) f16_decode_slab(j, &j->out[i], a - j->row0[i], b - j->row0[i]);
        }
        return;
    }
    f16_rows(j, task * j->chunk, FR_MIN(task * j->chunk + j->chunk, w->n_out), thread);
}

/* One token's products over the n matrices of out (one type and n_in; x converted in j). */
static void f16_decode(fr_pool *pool, f16_job *j, const fr_mm_out *out, int n) {
    j->out = out;
    j->n_out = n;
    fr_mm_group_starts(out, n, false, j->row0);
    int64_t slabs[FR_DECODE_MAX_TASKS + 1];
    j->slabs = slabs;
    fr_pool_run(pool, fr_decode_split(j->row0[n], false, fr_pool_size(pool), slabs), f16_task, j);
    j->slabs = NULL;
}

/* j for W's type over n_tok rows of x, to be converted (as vec_dot converts them) into scratch
 * (fr_gemm_f16_scratch_size): F32 rows are read from x as they are unless panels or copy
 * (fr_gemm_f16_multi's rows, which are not one stride apart) need them converted. */
static void f16_plan(fr_pool *pool, f16_job *j, const fr_matrix *w, const float *x, int64_t x_stride, int64_t n_tok,
                     void *scratch, bool copy) {
    const bool f32 = w->type == FR_TYPE_F32;
    const size_t act_stride = f16_act_stride(w->n_in) / sizeof(float);
    memset(j, 0, sizeof *j);
    j->w = w;
    j->x = x;
    j->x_stride = x_stride;
    j->n_tok = n_tok;
    j->act = scratch;
    j->act_stride = act_stride;
    j->ys = f32 && !copy ? x : scratch;
    j->ys_stride = f32 && !copy ? (size_t)x_stride : act_stride;
    j->span = w->n_in;
#if FR_X86
    const bool bf = w->type == FR_TYPE_BF16;
    j->kern = f32 ? fr_gemm_f32_avx2_part : bf ? fr_gemm_bf16_avx2_part : fr_gemm_f16_avx2_part;
    const bool avx512 = n_tok > 1 && fr_cpu_has(FR_ISA_AVX512);
    /* prompts on AVX-512F: the same results with twice the lanes (decode streams memory) */
    if (avx512) {
        j->kern = f32 ? fr_gemm_f32_avx512_part : bf ? fr_gemm_bf16_avx512_part : fr_gemm_f16_avx512_part;
        j->span = F16_SPLIT;
    }
    /* longer prompts over panels where a task's scratch holds a whole panel of rows (at its
     * kernels' bytes a value: F16 rows twice as long as float ones) */
    const f16_panel_kernels *pk = avx512 ? &f16_panels_avx512
                                  : w->type == FR_TYPE_F16 ? &f16_panels_avx2_h16
                                                           : &f16_panels_avx2;
    if (pool && n_tok >= F16P_MIN_TOKENS && w->n_in >= 32 &&
        (size_t)(w->n_in & ~(int64_t)31) * (size_t)pk->es * 3 <= (j->panel_bytes = f16_panel_bytes())) {
        j->panels = pk;
        j->pool = pool;
        j->ys = scratch;
        j->ys_stride = act_stride;
        if (bf && avx512 && fr_cpu_has(FR_ISA_AVX512BF16)) {
            j->pairs = (uint32_t *)((char *)scratch + act_stride * sizeof(float) * (size_t)n_tok);
            j->pair_stride = f16_pair_stride(w->n_in);
        }
    }
#endif
    assert(j->kern && "fr_matmul calls fr_gemm_f16 only where fr_cpu_has(FR_ISA_AVX2)");
    atomic_init(&j->act_unsafe, false);
}

/* f16_plan, then x converted */
static void f16_setup(fr_pool *pool, f16_job *j, const fr_matrix *w, const float *x, int64_t x_stride, int64_t n_tok,
                      void *scratch) {
    f16_plan(pool, j, w, x, x_stride, n_tok, scratch, false);
    if (w->type != FR_TYPE_F32 || j->panels) { /* (F32 rows: the kernels read x as it is, but for panels) */
        if (n_tok > 1)
            fr_pool_run(pool, n_tok, f16_quant_task, j);
        else
            f16_quant_task(j, 0, 0);
    }
    if (atomic_load(&j->act_unsafe)) j->pairs = NULL; /* some activation is not pair-safe: floats */
}

void fr_gemm_f16_group(fr_pool *pool, const fr_mm_out *out, int n, const float *x, void *scratch) {
    assert(n >= 1 && n <= FR_MM_GROUP_MAX);
    f16_job j;
    f16_setup(pool, &j, out[0].w, x, 0, 1, scratch);
    f16_decode(pool, &j, out, n);
}

/* Rows per task of j's product on nt threads (j->pairs as planned: a chunk sized for pair
 * panels that falls back to floats overruns panel_bytes, not the scratch) */
static int64_t f16_chunk(const f16_job *j, int nt) {
    const fr_matrix *w = j->w;
    const int64_t n_tok = j->n_tok;
    /* row chunks: a few per thread, and (prompts) small enough to stay in L2 while every
     * token passes over them */
    int64_t c = (w->n_out + nt * 4 - 1) / (nt * 4);
    if (n_tok > 3) c = FR_MIN(c, FR_MAX(4, (int64_t)((192 << 10) / w->row_bytes)));
    /* whole tiles of F16_TILE_ROWS rows: a 17-row chunk of a 5632-wide down projection ran its
     * last 2 rows in the narrower 2 x 4 tile (kbench F16 5632 x 2048, 512 tokens, AVX2, 2 threads,
     * alternated: 93.7-95.6 -> 99.3-100.3 GMAC/s) */
    if (c > F16_TILE_ROWS) c -= c % F16_TILE_ROWS;
    if (j->span < w->n_in) c = FR_MIN(c, F16_SPLIT_ROWS);
    if (j->panels) { /* the rows (floats, or F16 for es 2) fill at most panel_bytes, in whole panels */
        const int64_t n32 = w->n_in & ~(int64_t)31, R = j->panels->R;
        int64_t most = (int64_t)(j->panel_bytes / (size_t)j->panels->es) / n32;
        /* BF16 pairs: 2 bytes a value, twice the rows. kbench BF16 5632 x 2048, 512 tokens, 2 threads,
         * 2 rounds: 242.6 -> 257.0 and 261.2 GMAC/s */
        if (j->pairs) most = FR_MIN(2 * most, (int64_t)(F16P_BYTES / sizeof(float)) / n32);
        c = FR_MIN((w->n_out + nt * 4 - 1) / (nt * 4), FR_MIN(F16P_ROWS, most));
        if (c > R) c -= c % R;
    }
    return FR_MAX(1, c);
}

void fr_gemm_f16(fr_pool *pool, const fr_matrix *w, const float *x, int64_t x_stride, int64_t n_tok, float *y,
                 int64_t y_stride, const float *bias, void *scratch) {
    const fr_mm_out out = {w, y, y_stride, bias};
    f16_job j;
    f16_setup(pool, &j, w, x, x_stride, n_tok, scratch);
    const int nt = fr_pool_size(pool);
    if (n_tok == 1) { /* decode: decreasing slabs of rows, as fr_gemm_packed */
        f16_decode(pool, &j, &out, 1);
        return;
    }
    j.out = &out;
    j.n_out = 1;
    j.chunk = f16_chunk(&j, nt);
    fr_pool_run(pool, (w->n_out + j.chunk - 1) / j.chunk, f16_task, &j);
}

bool fr_gemm_f16_takes(int type) {
    return (type == FR_TYPE_F16 || type == FR_TYPE_BF16 || type == FR_TYPE_F32) && fr_cpu_has(FR_ISA_AVX2);
}

/* ---- fr_matmul_multi's products with these types (gemm.h) ---- */

bool fr_gemm_f16_multi_convert(fr_pool *pool, const fr_matrix *w, int64_t m, void *act, int64_t t, const float *x) {
    f16_job j;
    f16_plan(pool, &j, w, NULL, 0, m, act, true);
    return f16_convert_row(&j, x, t);
}

int64_t fr_gemm_f16_multi_chunk(fr_pool *pool, const fr_matrix *w, int64_t m, void *act) {
    f16_job j;
    f16_plan(pool, &j, w, NULL, 0, m, act, true);
    return f16_chunk(&j, fr_pool_size(pool));
}

void fr_gemm_f16_multi_rows(fr_pool *pool, int thread, const fr_matrix *w, int64_t m, void *act, bool pairs, int64_t r0,
                            int64_t r1, float *y, int64_t y_stride) {
    f16_job j;
    f16_plan(pool, &j, w, NULL, 0, m, act, true);
    if (!pairs) j.pairs = NULL;
    const fr_mm_out out = {w, y, y_stride, NULL};
    j.out = &out;
    j.n_out = 1;
    if (m == 1)
        f16_decode_slab(&j, &out, r0, r1); /* (a decode step's experts: rows read as streams) */
    else
        f16_rows(&j, r0, r1, thread);
}

/* matmul_multi.c: several independent matrix products in two pool runs (one converts the
 * activations, one computes every output row chunk of every product). MoE uses it to run
 * all chosen experts of a batch at once: few threads' hand-offs per layer, and each output
 * element is still fr_matmul's for its token alone (one vec_dot, a bit-identical tile, or for
 * F16, BF16 and F32 weights fr_gemm_f16's kernels: panels for a prompt's expert, streams for a
 * decode step's), so results never depend on the batch or the thread count. */
#include <stdatomic.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"

/* A step of batched decode (a few sequences, a token each) runs as one token's does
 * (slab_dot_task) where every job has at most this many tokens. */
#define FR_MM_SLAB_MAX_T (4 * FR_GEMM_MAX_T)

static size_t act_bytes(const fr_matrix *w) {
    const fr_type_traits *tt = fr_type_traits_get(w->type);
    size_t rb = 0;
    fr_row_size(tt->vec_dot_type, w->n_in, &rb);
    return (rb + 63) & ~(size_t)63;
}

/* Activation bytes per row of a job: packed weights take the split Q8_0 rows of gemm.h. */
static size_t job_act_bytes(const fr_mm_job *jb, bool packed) {
    return packed ? fr_gemm_act_bytes(jb->w[0]->type, jb->w[0]->n_in) : act_bytes(jb->w[0]);
}

/* Whether a job's products run on fr_gemm_f16's kernels: one type for all its weights, one
 * fr_gemm_f16_takes. (Then a token's expert rows take the kernels' FMAs whether it came
 * alone or in a prompt; BF16's vec_dot rounds each product, which differs where a product is
 * subnormal.) */
static bool float_job(const fr_mm_job *jb) {
    for (int k = 1; k < jb->n_w; k++)
        if (jb->w[k]->type != jb->w[0]->type) return false;
    return fr_gemm_f16_takes(jb->w[0]->type);
}

/* A float job's converted rows, all m of them (fr_gemm_f16_multi_convert's act) */
static size_t float_job_bytes(const fr_mm_job *jb) {
    return (fr_gemm_f16_scratch_size(jb->w[0]->type, jb->w[0]->n_in, jb->m) + 63) & ~(size_t)63;
}

size_t fr_matmul_multi_scratch_size(const fr_mm_job *jobs, int n_jobs) {
    size_t s = 0;
    for (int i = 0; i < n_jobs; i++) {
        size_t b = act_bytes(jobs[i].w[0]);
        if (fr_pack_supported(jobs[i].w[0]->type)) b = FR_MAX(b, fr_gemm_act_bytes(jobs[i].w[0]->type, jobs[i].w[0]->n_in));
        b *= (size_t)jobs[i].m;
        if (float_job(&jobs[i])) b = FR_MAX(b, float_job_bytes(&jobs[i]));
        s += b;
    }
    return s;
}

typedef struct {
    fr_mm_job *jobs;
    int n_jobs;
    char *act;
    size_t act_off[FR_MM_MAX_JOBS + 1]; /* scratch offset of each job's converted rows */
    int64_t conv_start[FR_MM_MAX_JOBS + 1]; /* first conversion task of each job */
    int64_t dot_start[FR_MM_MAX_JOBS + 1];  /* first dot task of each job */
    int64_t chunk[FR_MM_MAX_JOBS];
    int64_t n_chunks[FR_MM_MAX_JOBS]; /* row chunks of one weight of the job */
    const fr_packed *pk[FR_MM_MAX_JOBS][2]; /* packed weights (all of a job's, or none) */
    bool f16[FR_MM_MAX_JOBS];               /* float_job (never packed) */
    atomic_bool unsafe[FR_MM_MAX_JOBS];     /* f16: some row is not pair-safe */
    int64_t u0[FR_MM_MAX_JOBS][2]; /* first unit of each packed weight */
    /* packed jobs: the kernel, and for one token the streams kernel or NULL (looked up once) */
    fr_gemm_kernel_fn kern[FR_MM_MAX_JOBS];
    fr_gemm_streams_fn streams[FR_MM_MAX_JOBS];
    fr_gemm_pair_fn pair[FR_MM_MAX_JOBS]; /* two units at once, or NULL */
    fr_gemm_quad_fn quad[FR_MM_MAX_JOBS]; /* decode's four streams, or NULL */
    fr_gemm_amx_fn amx[FR_MM_MAX_JOBS]; /* prompts' groups of 16 tokens, or NULL */
    fr_pool *pool;                      /* (its threads' scratch holds AMX's unpacked units) */
    /* a decode step's packed jobs (slab_dot_task): the units of weight k of job j numbered
     * from unit_start[2 j + k] (none where k >= n_w), and the split of them into slabs */
    int64_t unit_start[2 * FR_MM_MAX_JOBS + 1];
    int64_t slabs[FR_DECODE_MAX_TASKS + 1];
    /* packed jobs that take their rows from one source (x, x_stride, weight type and n_in
     * alike: MoE's gate and up of every expert and the shared experts read the same tokens)
     * share its converted rows (share_rows): n_shared rows at shared_off, converted by tasks
     * [0, n_shared) (else none), each once rather than once per expert that reads it */
    bool shared[FR_MM_MAX_JOBS];
    int64_t n_shared;
    int shared_ref; /* a job of the shared source */
    size_t shared_off;
} multi_ctx;

/* Token t's converted activation row of job j */
static const char *job_act(const multi_ctx *mc, int j, int64_t t, size_t ab) {
    const fr_mm_job *jb = &mc->jobs[j];
    if (mc->shared[j]) return mc->act + mc->shared_off + (size_t)(jb->x_rows ? jb->x_rows[t] : t) * ab;
    return mc->act + mc->act_off[j] + (size_t)t * ab;
}

static int find_job(const int64_t *start, int n, int64_t task) {
    int lo = 0, hi = n - 1;
    while (lo < hi) { /* last job with start <= task */
        int mid = (lo + hi + 1) / 2;
        if (start[mid] <= task) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static void multi_convert_task(void *ctx, int64_t task, int thread) {
    multi_ctx *mc = ctx;
    if (task < mc->n_shared) {
        const fr_mm_job *jb = &mc->jobs[mc->shared_ref];
        fr_gemm_quantize(jb->w[0]->type, jb->x + task * jb->x_stride,
                         mc->act + mc->shared_off + (size_t)task * job_act_bytes(jb, true), jb->w[0]->n_in);
        return;
    }
    int j = find_job(mc->conv_start, mc->n_jobs, task);
    const fr_mm_job *jb = &mc->jobs[j];
    int64_t i = task - mc->conv_start[j];
    int64_t row = jb->x_rows ? jb->x_rows[i] : i;
    if (mc->f16[j]) {
        if (!fr_gemm_f16_multi_convert(mc->pool, jb->w[0], jb->m, mc->act + mc->act_off[j], i,
                                       jb->x + row * jb->x_stride))
            atomic_store_explicit(&mc->unsafe[j], true, memory_order_relaxed);
        return;
    }
    if (mc->pk[j][0]) {
        fr_gemm_quantize(jb->w[0]->type, jb->x + row * jb->x_stride,
                         mc->act + mc->act_off[j] + (size_t)i * job_act_bytes(jb, true), jb->w[0]->n_in);
        return;
    }
    const fr_type_traits *at = fr_type_traits_get(fr_type_traits_get(jb->w[0]->type)->vec_dot_type);
    at->from_float(jb->x + row * jb->x_stride, mc->act + mc->act_off[j] + (size_t)i * act_bytes(jb->w[0]),
                   jb->w[0]->n_in);
}

/* One token's outputs y of rows [.., r1): unit g's results, the rows before r1 */
typedef struct {
    float *y;
    int64_t r1;
} rows_out;

static void store_rows(const void *ctx, int64_t g, const float *out) {
    const rows_out *ro = ctx;
    const int64_t r = g * FR_GEMM_ROWS;
    memcpy(&ro->y[r], out, (size_t)FR_MIN(FR_GEMM_ROWS, ro->r1 - r) * sizeof(float));
}

/* Tokens t .. t + 15 of unit g (out[u * 16 + r]) into y's rows before r1. */
typedef struct {
    float *y;
    int64_t y_stride, r1;
} tokens_out;

static void store_tokens(const void *ctx, int64_t g, int64_t t, const float *out) {
    const tokens_out *to = ctx;
    const int64_t r = g * FR_GEMM_ROWS;
    for (int u = 0; u < FR_GEMM_AMX_T; u++)
        memcpy(&to->y[(t + u) * to->y_stride + r], out + u * FR_GEMM_ROWS,
               (size_t)FR_MIN(FR_GEMM_ROWS, to->r1 - r) * sizeof(float));
}

/* Token u's results of unit g (out) into y's rows before r1. */
static void store_token(const void *ctx, int64_t g, int u, const float *out) {
    const tokens_out *to = ctx;
    const int64_t r = g * FR_GEMM_ROWS;
    memcpy(&to->y[u * to->y_stride + r], out, (size_t)FR_MIN(FR_GEMM_ROWS, to->r1 - r) * sizeof(float));
}

/* Rows [r0, r1) (multiples of FR_GEMM_ROWS apart from the end) of job j's packed weight pk. With
 * a streams kernel (one token: a decode step's experts), the chunk's units as FR_GEMM_STREAMS
 * streams first; with an AMX kernel (16 tokens or more: a prompt's expert), groups of 16 tokens;
 * then, for each group of tokens, pairs of units where the job has a pair kernel
 * (fr_gemm_pair_units), and the rest with the job's kernel. gemm.c part_units does all of it
 * the same way; the same bits. */
static void packed_rows(const fr_mm_job *jb, const fr_packed *pk, int64_t u0, const multi_ctx *mc, int j, float *y,
                        int64_t r0, int64_t r1, bool unit_outer, int thread) {
    size_t ab = job_act_bytes(jb, true);
    const char *units = pk->data + (size_t)u0 * pk->unit_bytes;
    const fr_gemm_kernel_fn kern = mc->kern[j];
    if (mc->streams[j]) {
        rows_out ro = {y, r1};
        r0 += FR_GEMM_ROWS * fr_gemm_streams_units(mc->streams[j], pk->nb, units, pk->unit_bytes, r0 / FR_GEMM_ROWS,
                                                   (r1 - r0 + FR_GEMM_ROWS - 1) / FR_GEMM_ROWS, job_act(mc, j, 0, ab),
                                                   store_rows, &ro);
    }
    int64_t t0 = 0;
    if (mc->amx[j]) {
        tokens_out to = {y, jb->y_stride, r1};
        t0 = fr_gemm_amx_units(mc->amx[j], pk->type, pk->nb, units, pk->unit_bytes, r0 / FR_GEMM_ROWS,
                               (r1 + FR_GEMM_ROWS - 1) / FR_GEMM_ROWS, job_act(mc, j, 0, ab), ab, 0, jb->m,
                               store_tokens, &to, fr_pool_scratch(mc->pool, thread));
    }
    /* tokens in groups of FR_GEMM_MAX_T: with unit_outer (a decode step's slab, too long to stay
     * in cache for a second pass) each unit in turn for every group while it is in L1; else
     * (a prompt's chunk, in L2) each group over the chunk in turn. The same bits either way. */
    const int64_t ts = unit_outer ? jb->m - t0 : FR_GEMM_MAX_T;
    for (int64_t t1 = t0; t1 < jb->m; t1 += ts) {
        const int64_t n_t = FR_MIN(ts, jb->m - t1);
        int64_t r = r0;
        if (mc->pair[j] && n_t >= 2 && n_t <= FR_GEMM_MAX_T) {
            /* two units per call where a pair kernel is faster (as gemm.c part_units): a
             * prompt's chunk pairs adjacent units, a decode step's slab distant ones (two
             * streams; adjacent ones ran slower there: gemm.h) */
            const void *acts[FR_GEMM_MAX_T];
            for (int u = 0; u < n_t; u++) acts[u] = job_act(mc, j, t1 + u, ab);
            const tokens_out to = {y + t1 * jb->y_stride, jb->y_stride, r1};
            r += FR_GEMM_ROWS * fr_gemm_pair_units(mc->pair[j], mc->quad[j], pk->nb, units, pk->unit_bytes,
                                                   r0 / FR_GEMM_ROWS, (r1 - r0 + FR_GEMM_ROWS - 1) / FR_GEMM_ROWS,
                                                   acts, (int)n_t, unit_outer, store_token, &to);
        }
        for (; r < r1; r += FR_GEMM_ROWS) {
            const char *unit = units + (size_t)(r / FR_GEMM_ROWS) * pk->unit_bytes;
            const int nr = (int)FR_MIN(FR_GEMM_ROWS, r1 - r);
            for (int64_t t = t1; t < t1 + n_t; t += FR_GEMM_MAX_T) {
                const int T = (int)FR_MIN(FR_GEMM_MAX_T, t1 + n_t - t);
                const void *acts[FR_GEMM_MAX_T];
                for (int u = 0; u < T; u++)
                    acts[u] = job_act(mc, j, t + u, ab);
                float out[FR_GEMM_MAX_T * FR_GEMM_ROWS];
                kern(pk->nb, unit, acts, T, out);
                for (int u = 0; u < T; u++)
                    memcpy(&y[(t + u) * jb->y_stride + r], out + u * FR_GEMM_ROWS, (size_t)nr * sizeof(float));
            }
        }
    }
}

static void multi_dot_task(void *ctx, int64_t task, int thread) {
    multi_ctx *mc = ctx;
    int j = find_job(mc->dot_start, mc->n_jobs, task);
    const fr_mm_job *jb = &mc->jobs[j];
    int64_t local = task - mc->dot_start[j];
    int k = (int)(local / mc->n_chunks[j]);
    const fr_matrix *w = jb->w[k];
    int64_t r0 = (local % mc->n_chunks[j]) * mc->chunk[j], r1 = FR_MIN(r0 + mc->chunk[j], w->n_out);
    const fr_type_traits *tt = fr_type_traits_get(w->type);
    size_t ab = act_bytes(w);
    const char *act = mc->act + mc->act_off[j];
    float *y = jb->y[k];
    if (mc->pk[j][k]) {
        packed_rows(jb, mc->pk[j][k], mc->u0[j][k], mc, j, y, r0, r1, false, thread);
        return;
    }
    if (mc->f16[j]) {
        fr_gemm_f16_multi_rows(mc->pool, thread, w, jb->m, mc->act + mc->act_off[j],
                               !atomic_load_explicit(&mc->unsafe[j], memory_order_relaxed), r0, r1, y, jb->y_stride);
        return;
    }
    for (int64_t t = 0; t < jb->m; t += 2) {
        int nt = jb->m - t >= 2 ? 2 : 1;
        const void *ys[2] = {act + (size_t)t * ab, act + (size_t)(t + nt - 1) * ab};
        if (!tt->dot_tile) {
            for (int u = 0; u < nt; u++)
                for (int64_t r = r0; r < r1; r++)
                    tt->vec_dot(w->n_in, &y[(t + u) * jb->y_stride + r], (const char *)w->data + (size_t)r * w->row_bytes,
                                ys[u]);
            continue;
        }
        int64_t max_r = nt == 2 ? 2 : 1;
        for (int64_t r = r0; r < r1; r += max_r) {
            int nr = (int)FR_MIN(max_r, r1 - r);
            const void *xs[4];
            for (int q = 0; q < nr; q++) xs[q] = (const char *)w->data + (size_t)(r + q) * w->row_bytes;
            float out[8];
            tt->dot_tile(w->n_in, xs, nr, ys, nt, out);
            for (int q = 0; q < nr; q++)
                for (int u = 0; u < nt; u++) y[(t + u) * jb->y_stride + r + q] = out[q * nt + u];
        }
    }
}

/* Slab s of a decode step whose jobs are all packed and of one token, or of a few (batched
 * decode: at most FR_MM_SLAB_MAX_T each): units [slabs[s],
 * slabs[s + 1]) of the numbering of every job's weights one after the other, so that a
 * thread reads long runs of memory (the decode split of a dense product, fr_decode_split)
 * rather than one chunk of each weight in turn. Each row is packed_rows' result for it,
 * whatever the slab. (Against chunks of n_out / (4 threads) rows per weight, alternated,
 * frugal bench -p 0: deepseek-v3-mini Q4_K_M tg64 85.3 / 91.3, 82.5 / 89.2, 77.9 / 91.8;
 * DeepSeek-V2-Lite Q4_0, whose experts are larger, tg32 faster in 5 of 6 pairs, medians
 * 20.6 -> 22.1.) */
static void slab_dot_task(void *ctx, int64_t s, int thread) {
    multi_ctx *mc = ctx;
    int64_t g = mc->slabs[s], g1 = mc->slabs[s + 1];
    for (int p = find_job(mc->unit_start, 2 * mc->n_jobs, g); g < g1; p++) {
        if (mc->unit_start[p + 1] <= g) continue; /* (a job's missing second weight) */
        const int j = p / 2, k = p % 2;
        const fr_mm_job *jb = &mc->jobs[j];
        const int64_t u0 = g - mc->unit_start[p], u1 = FR_MIN(g1, mc->unit_start[p + 1]) - mc->unit_start[p];
        packed_rows(jb, mc->pk[j][k], mc->u0[j][k], mc, j, jb->y[k], u0 * FR_GEMM_ROWS,
                    FR_MIN(u1 * FR_GEMM_ROWS, jb->w[k]->n_out), true, thread);
        g = mc->unit_start[p + 1];
    }
}

/* Which jobs of a decode step share their converted rows (multi_ctx.shared): those of the
 * first packed job's source, where there are two or more of them and the source's rows they reach
 * are no more than their rows (so the scratch of fr_matmul_multi_scratch_size holds them).
 * Not a prompt's: there each expert's own copy of its tokens' rows stays in L2 while its
 * chunks read them, and one copy of all of them (512 rows of 2 KiB and more) does not
 * (DeepSeek-V2-Lite Q4_0 pp512 171.5 / 166.0, 173.5 / 165.9 t/s without and with). */
static void share_rows(multi_ctx *mc, bool decode) {
    int ref = -1, n = 0;
    int64_t rows = 0, n_src = 0;
    for (int j = 0; j < mc->n_jobs; j++) {
        const fr_mm_job *jb = &mc->jobs[j], *r = ref >= 0 ? &mc->jobs[ref] : jb;
        mc->shared[j] = decode && mc->pk[j][0] && !mc->amx[j] && jb->m > 0 && jb->x == r->x &&
                        jb->x_stride == r->x_stride && jb->w[0]->type == r->w[0]->type &&
                        jb->w[0]->n_in == r->w[0]->n_in;
        if (!mc->shared[j]) continue;
        if (ref < 0) ref = j;
        n++;
        rows += jb->m;
        for (int64_t t = 0; t < jb->m; t++) n_src = FR_MAX(n_src, (jb->x_rows ? jb->x_rows[t] : t) + 1);
    }
    const bool share = n >= 2 && n_src <= rows;
    if (!share)
        for (int j = 0; j < mc->n_jobs; j++) mc->shared[j] = false;
    mc->n_shared = share ? n_src : 0;
    mc->shared_ref = ref;
}

void fr_matmul_multi(fr_pool *pool, fr_mm_job *jobs, int n_jobs, void *scratch) {
    if (n_jobs <= 0) return;
    if (n_jobs > FR_MM_MAX_JOBS) {
        fr_matmul_multi(pool, jobs, FR_MM_MAX_JOBS, scratch);
        fr_matmul_multi(pool, jobs + FR_MM_MAX_JOBS, n_jobs - FR_MM_MAX_JOBS, scratch);
        return;
    }
    multi_ctx mc;
    mc.jobs = jobs;
    mc.n_jobs = n_jobs;
    mc.pool = pool;
    mc.act = scratch;
    int nt = fr_pool_size(pool);
    bool decode = true; /* every job packed and of one token or a few */
    for (int j = 0; j < n_jobs; j++) {
        const fr_matrix *w = jobs[j].w[0];
        mc.pk[j][0] = mc.pk[j][1] = NULL;
        if (fr_pack_supported(w->type)) {
            bool all = true;
            for (int k = 0; k < jobs[j].n_w; k++) {
                mc.pk[j][k] = fr_pack_find(jobs[j].w[k], &mc.u0[j][k]);
                all = all && mc.pk[j][k] && fr_gemm_same_layout(mc.pk[j][k], mc.pk[j][0]);
            }
            if (!all) mc.pk[j][0] = mc.pk[j][1] = NULL;
        }
        mc.f16[j] = !mc.pk[j][0] && float_job(&jobs[j]);
        atomic_init(&mc.unsafe[j], false);
        mc.kern[j] = mc.pk[j][0] ? fr_gemm_kernel_for(mc.pk[j][0]) : NULL;
        mc.streams[j] = mc.pk[j][0] && jobs[j].m == 1 ? fr_gemm_streams_kernel_for(mc.pk[j][0]) : NULL;
        mc.pair[j] = mc.pk[j][0] && jobs[j].m >= 2 ? fr_gemm_pair_kernel_for(mc.pk[j][0]) : NULL;
        mc.quad[j] = mc.pair[j] ? fr_gemm_quad_kernel_for(mc.pk[j][0]) : NULL;
        mc.amx[j] = mc.pk[j][0] && jobs[j].m >= FR_GEMM_AMX_T ? fr_gemm_amx_kernel_for(mc.pk[j][0]) : NULL;
        decode = decode && jobs[j].m >= 1 && jobs[j].m <= FR_MM_SLAB_MAX_T && mc.pk[j][0];
    }
    share_rows(&mc, decode);
    size_t off = 0;
    int64_t conv = mc.n_shared, dots = 0;
    for (int j = 0; j < n_jobs; j++) {
        const fr_matrix *w = jobs[j].w[0];
        mc.act_off[j] = off;
        mc.conv_start[j] = conv;
        mc.dot_start[j] = dots;
        if (!mc.shared[j]) {
            off += mc.f16[j] ? float_job_bytes(&jobs[j])
                             : job_act_bytes(&jobs[j], mc.pk[j][0] != NULL) * (size_t)jobs[j].m;
            conv += jobs[j].m;
        }
        /* chunks: enough tasks to balance, whole packed units (packed_rows); a decode step's
         * in steps of FR_GEMM_STREAMS units where they are read as streams */
        const int64_t step = FR_GEMM_ROWS * (mc.streams[j] ? FR_GEMM_STREAMS : 1);
        int64_t c = w->n_out / ((int64_t)nt * 4);
        c = (c + step - 1) / step * step;
        mc.chunk[j] = c < step ? step : c;
        if (mc.f16[j] && jobs[j].m > 0)
            mc.chunk[j] = fr_gemm_f16_multi_chunk(pool, w, jobs[j].m, mc.act + mc.act_off[j]);
        mc.n_chunks[j] = jobs[j].m > 0 ? (w->n_out + mc.chunk[j] - 1) / mc.chunk[j] : 0;
        dots += mc.n_chunks[j] * jobs[j].n_w;
    }
    mc.shared_off = off;
    mc.conv_start[n_jobs] = conv;
    mc.dot_start[n_jobs] = dots;
    mc.unit_start[0] = 0;
    for (int j = 0; j < n_jobs; j++) {
        for (int k = 0; k < 2; k++)
            mc.unit_start[2 * j + k + 1] =
                mc.unit_start[2 * j + k] +
                (k < jobs[j].n_w ? (jobs[j].w[k]->n_out + FR_GEMM_ROWS - 1) / FR_GEMM_ROWS : 0);
    }
    if (conv <= 8) /* a decode step's few rows: converting is cheaper than a hand-off */
        for (int64_t t = 0; t < conv; t++) multi_convert_task(&mc, t, 0);
    else
        fr_pool_run(pool, conv, multi_convert_task, &mc);
    if (decode) {
        fr_pool_run(pool, fr_decode_split(mc.unit_start[2 * n_jobs], true, nt, mc.slabs), slab_dot_task, &mc);
        return;
    }
    fr_pool_run(pool, dots, multi_dot_task, &mc);
}

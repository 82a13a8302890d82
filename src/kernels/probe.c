/* probe.c: machine ceilings (see probe.h). */
#include "probe.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtype.h"
#include "hugemem.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Portable fallbacks for CPUs without AVX2. */
static double read_scalar(const void *p, size_t bytes) {
    const uint64_t *v = p;
    uint64_t a = 0, b = 0;
    for (size_t i = 0; i + 1 < bytes / 8; i += 2) {
        a ^= v[i];
        b ^= v[i + 1];
    }
    return (double)(a ^ b);
}

typedef struct {
    const char *buf;
    size_t bytes;
    int n;
    int kind;      /* 0 read, 1 fma, 2 int8, 3 bf16 */
    bool prefetch; /* the read probe's pattern (fr_probe_read_avx2) */
    int64_t iters;
    double sink[64];
} probe_job;

#if FR_X86
/* The widest x86 kernels this CPU runs (it has AVX2). */
static double probe_x86(const probe_job *j, const char *p, size_t part) {
    if (j->kind == 0) return fr_probe_read_avx2(p, part, j->prefetch);
    if (j->kind == 1) return fr_cpu_has(FR_ISA_AVX512) ? fr_probe_fma_avx512(j->iters) : fr_probe_fma_avx2(j->iters);
    if (j->kind == 3) return fr_probe_bf16_avx512(j->iters);
    return fr_cpu_has(FR_ISA_AVX512VNNI) ? fr_probe_int8_avx512vnni(j->iters)
           : fr_cpu_has(FR_ISA_AVXVNNI)  ? fr_probe_int8_vnni(j->iters)
                                         : fr_probe_int8_avx2(j->iters);
}
#endif

static double probe_portable(const probe_job *j, const char *p, size_t part) {
    if (j->kind == 0) return read_scalar(p, part);
    double a = 1.0;
    for (int64_t i = 0; i < j->iters * 80; i++) a = a * 0.9999999 + 1e-9;
    return a;
}

static void probe_task(void *ctx, int64_t task, int thread) {
    probe_job *j = ctx;
    size_t part = (j->bytes / (size_t)j->n) & ~(size_t)4095; /* the read probe's share */
    const char *p = j->buf ? j->buf + (size_t)task * part : NULL;
#if FR_X86
    double r = fr_cpu_has(FR_ISA_AVX2) ? probe_x86(j, p, part) : probe_portable(j, p, part);
#else
    double r = probe_portable(j, p, part);
#endif
    j->sink[task & 63] += r;
}

double fr_probe_membw(fr_pool *pool, size_t bytes, int reps) {
    int n = fr_pool_size(pool);
    /* allocated as the packed weights are (hugemem.h), so that both are read with the same
     * page size */
    fr_huge_mem mem;
    char *buf = fr_huge_alloc(bytes, &mem);
    if (!buf) return -1.0;
    memset(buf, 1, bytes); /* fault the pages in */
    probe_job j = {buf, bytes, n, 0, false, 0, {0}};
    double best = 0;
    for (int r = 0; r < 2 * reps; r++) { /* the two patterns alternated */
        j.prefetch = r & 1;
        double t0 = now();
        fr_pool_run(pool, n, probe_task, &j);
        double dt = now() - t0;
        size_t part = (bytes / (size_t)n) & ~(size_t)4095;
        double gbps = (double)part * n / dt / 1e9;
        if (gbps > best) best = gbps;
    }
    fr_huge_free(&mem);
    return best;
}

static double peak(fr_pool *pool, int kind, int reps, double ops_per_iter) {
    int n = fr_pool_size(pool);
    probe_job j = {NULL, 0, n, kind, false, 20000000, {0}};
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        fr_pool_run(pool, n, probe_task, &j);
        double dt = now() - t0;
        double g = ops_per_iter * (double)j.iters * n / dt / 1e9;
        if (g > best) best = g;
    }
    return best;
}

/* per iteration: 10 FMAs x 8 (16 with AVX-512) lanes x 2 flops; 6 maddubs or 8 vpdpbusd x 32
 * (64 with 512 bits) MACs x 2 ops */
double fr_probe_fp32_gflops(fr_pool *pool, int reps) { return peak(pool, 1, reps, fr_cpu_has(FR_ISA_AVX512) ? 320.0 : 160.0); }
double fr_probe_bf16_gflops(fr_pool *pool, int reps) {
    if (!fr_cpu_has(FR_ISA_AVX512BF16)) return 0;
    return peak(pool, 3, reps, 16 * 16 * 2 * 2.0); /* 16 instructions x 16 lanes x 2 products x 2 */
}
double fr_probe_int8_gops(fr_pool *pool, int reps) {
    double ops = fr_cpu_has(FR_ISA_AVX512VNNI) ? 1024.0
                 : fr_cpu_has(FR_ISA_AVXVNNI) ? 512.0
                 : fr_cpu_has(FR_ISA_AVX2)    ? 384.0
                                              : 160.0;
    return peak(pool, 2, reps, ops);
}

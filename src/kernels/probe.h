/* probe.h: machine ceilings for benchmarks: memory read bandwidth and arithmetic peaks. */
#ifndef FRUGAL_KERNELS_PROBE_H
#define FRUGAL_KERNELS_PROBE_H

#include <stdbool.h>

#include "pool.h"

/* Streaming read of a buffer of `bytes` (>= 1 GiB recommended) on every pool thread; best
 * of `reps` runs of each read pattern (with AVX2: with and without software prefetch), in GB/s
 * (1e9 bytes). Returns < 0 if the buffer cannot be allocated. */
double fr_probe_membw(fr_pool *pool, size_t bytes, int reps);
/* FP32 FMA peak over all pool threads, GFLOP/s (an FMA counts as 2), on the widest
 * registers the kernels use (512-bit where fr_cpu_has(FR_ISA_AVX512)). */
double fr_probe_fp32_gflops(fr_pool *pool, int reps);
/* int8 dot-product peak (u8 x s8 multiply-accumulate into int32), GOP/s (a MAC counts as 2),
 * with the instructions the GEMM kernels use on this CPU (512-bit vpdpbusd with AVX512-VNNI,
 * 256-bit with AVX-VNNI, else maddubs + madd). */
double fr_probe_int8_gops(fr_pool *pool, int reps);
/* BF16 dot-product peak (vdpbf16ps: two products per F32 lane), GFLOP/s (a multiply-add counts
 * as 2), where fr_cpu_has(FR_ISA_AVX512BF16); 0 elsewhere. */
double fr_probe_bf16_gflops(fr_pool *pool, int reps);

/* Per-thread kernels (probe_avx2.c when AVX2 is available, else portable C). */
double fr_probe_read_avx2(const void *p, size_t bytes, bool prefetch);
double fr_probe_fma_avx2(int64_t iters);  /* returns a value to keep the work alive */
double fr_probe_int8_avx2(int64_t iters);
double fr_probe_int8_vnni(int64_t iters);
double fr_probe_fma_avx512(int64_t iters); /* probe_avx512.c, where fr_cpu_has(FR_ISA_AVX512) */
double fr_probe_bf16_avx512(int64_t iters); /* probe_avx512bf16.c, where fr_cpu_has(FR_ISA_AVX512BF16) */
double fr_probe_int8_avx512vnni(int64_t iters); /* where fr_cpu_has(FR_ISA_AVX512VNNI) */ /* probe_vnni.c, where fr_cpu_has(FR_ISA_AVXVNNI) */

#endif

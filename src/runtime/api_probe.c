/* api_probe.c: machine ceilings for `frugal bench --membw/--flops` (frugal.h). */
#include "frugal.h"
#include "kernels/probe.h"

static double with_pool(int threads, int what, size_t bytes) {
    fr_pool *p;
    if (threads <= 0) threads = fr_cpu_count();
    if (fr_pool_new(threads, &p, NULL) != FR_OK) return -1.0;
    double r = what == 0   ? fr_probe_membw(p, bytes, 5)
               : what == 1 ? fr_probe_fp32_gflops(p, 3)
               : what == 2 ? fr_probe_int8_gops(p, 3)
                           : fr_probe_bf16_gflops(p, 3);
    fr_pool_free(p);
    return r;
}

double frugal_probe_membw_gbps(int threads, size_t bytes) { return with_pool(threads, 0, bytes); }
double frugal_probe_fp32_gflops(int threads) { return with_pool(threads, 1, 0); }
double frugal_probe_int8_gops(int threads) { return with_pool(threads, 2, 0); }
double frugal_probe_bf16_gflops(int threads) { return with_pool(threads, 3, 0); }

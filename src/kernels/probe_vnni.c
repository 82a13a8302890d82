/* probe_vnni.c: the int8 peak on AVX-VNNI (probe.h): vpdpbusd, 32 u8 x s8 MACs into int32
 * per instruction, eight independent accumulators so that throughput, not latency, bounds
 * the loop. */
#include <immintrin.h>

#include "probe.h"

double fr_probe_int8_vnni(int64_t iters) {
    const __m256i x = _mm256_set1_epi8(3);
    __m256i y0 = _mm256_set1_epi8(-2), y1 = _mm256_set1_epi8(5);
    __m256i a0 = _mm256_set1_epi32(0), a1 = _mm256_set1_epi32(1), a2 = _mm256_set1_epi32(2), a3 = _mm256_set1_epi32(3), a4 = _mm256_set1_epi32(4), a5 = _mm256_set1_epi32(5), a6 = _mm256_set1_epi32(6), a7 = _mm256_set1_epi32(7); /* distinct starts: equal chains would be merged (probe_avx2.c) */
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_dpbusd_avx_epi32(a0, x, y0);
        a1 = _mm256_dpbusd_avx_epi32(a1, x, y1);
        a2 = _mm256_dpbusd_avx_epi32(a2, x, y0);
        a3 = _mm256_dpbusd_avx_epi32(a3, x, y1);
        a4 = _mm256_dpbusd_avx_epi32(a4, x, y0);
        a5 = _mm256_dpbusd_avx_epi32(a5, x, y1);
        a6 = _mm256_dpbusd_avx_epi32(a6, x, y0);
        a7 = _mm256_dpbusd_avx_epi32(a7, x, y1);
        __asm__ volatile("" : "+x"(y0), "+x"(y1)); /* keep the products in the loop */
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                 _mm256_add_epi32(_mm256_add_epi32(a4, a5), _mm256_add_epi32(a6, a7)));
    return (double)_mm256_extract_epi32(s, 0);
}

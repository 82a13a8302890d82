/* probe_avx512vnni.c: the int8 peak on 512-bit vpdpbusd (probe.h), where
 * fr_cpu_has(FR_ISA_AVX512VNNI): the instruction the packed GEMM kernels use there. */
#include <immintrin.h>

#include "probe.h"

/* Eight independent accumulators, as fr_probe_int8_vnni with 256-bit registers. */
double fr_probe_int8_avx512vnni(int64_t iters) {
    const __m512i x = _mm512_set1_epi8(3);
    __m512i y0 = _mm512_set1_epi8(-2), y1 = _mm512_set1_epi8(5);
    /* distinct starts: equal chains would be merged (probe_avx2.c) */
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2), a3 = _mm512_set1_epi32(3),
            a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5), a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm512_dpbusd_epi32(a0, x, y0);
        a1 = _mm512_dpbusd_epi32(a1, x, y1);
        a2 = _mm512_dpbusd_epi32(a2, x, y0);
        a3 = _mm512_dpbusd_epi32(a3, x, y1);
        a4 = _mm512_dpbusd_epi32(a4, x, y0);
        a5 = _mm512_dpbusd_epi32(a5, x, y1);
        a6 = _mm512_dpbusd_epi32(a6, x, y0);
        a7 = _mm512_dpbusd_epi32(a7, x, y1);
        __asm__ volatile("" : "+v"(y0), "+v"(y1)); /* keep the products in the loop */
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                 _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    /* one lane, as the 256-bit probes return: the sums wrap (vpaddd), and the header's
     * _mm512_reduce_add_epi32 adds lanes as C ints, which UBSan rejected as an overflow */
    return (double)_mm_cvtsi128_si32(_mm512_castsi512_si128(s));
}

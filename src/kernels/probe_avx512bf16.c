/* probe_avx512bf16.c: the BF16 dot-product peak (vdpbf16ps, 512-bit; probe.h), where
 * fr_cpu_has(FR_ISA_AVX512BF16): the instruction of the BF16 prompt kernel there. */
#include <immintrin.h>

#include "probe.h"

/* 16 independent vdpbf16ps chains of 16 lanes, two products per lane and instruction (10, as
 * the FMA probe has, left it latency-bound on the AMD Zen 5 of the 35th session: 340 against
 * 422 GFLOP/s on one thread). */
double fr_probe_bf16_avx512(int64_t iters) {
    const __m512bh m = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), c = (__m512bh)_mm512_set1_epi32(0x33d633d6);
    __m512 a[16];
    for (int k = 0; k < 16; k++) a[k] = _mm512_set1_ps(1.0f + 0.1f * (float)k);
    for (int64_t i = 0; i < iters; i++) {
        FR_PRAGMA_UNROLL(16) for (int k = 0; k < 16; k++) a[k] = _mm512_dpbf16_ps(a[k], m, c);
    }
    __m512 s = a[0];
    for (int k = 1; k < 16; k++) s = _mm512_add_ps(s, a[k]);
    return (double)_mm512_reduce_add_ps(s);
}

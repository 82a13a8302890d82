/* probe_avx2.c: the inner loops of the machine probes (compiled with -mavx2 -mfma). */
#include <immintrin.h>
#include <stdbool.h>

#include "probe.h"

/* Four sequential streams at once (the four quarters of the range): more misses in flight
 * than one stream gets from the prefetchers alone. With `prefetch`, each stream also asks for
 * the line 1 KiB ahead (_mm_prefetch): on some CPUs that reads faster than the hardware
 * prefetchers alone, on others slower; the probe times both and keeps the faster. */
double fr_probe_read_avx2(const void *p, size_t bytes, bool prefetch) {
    const __m256i *v = p;
    size_t q = bytes / 32 / 4;
    const __m256i *s0 = v, *s1 = v + q, *s2 = v + 2 * q, *s3 = v + 3 * q;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    enum { AHEAD = 1024 / 32 }; /* in vectors */
    for (size_t i = 0; i + 2 <= q; i += 2) {
        if (prefetch) {
            const size_t a = i + AHEAD < q ? i + AHEAD : i; /* (no pointer past a stream's end) */
            _mm_prefetch((const char *)(s0 + a), _MM_HINT_T0);
            _mm_prefetch((const char *)(s1 + a), _MM_HINT_T0);
            _mm_prefetch((const char *)(s2 + a), _MM_HINT_T0);
            _mm_prefetch((const char *)(s3 + a), _MM_HINT_T0);
        }
        a0 = _mm256_xor_si256(a0, _mm256_xor_si256(_mm256_load_si256(s0 + i), _mm256_load_si256(s0 + i + 1)));
        a1 = _mm256_xor_si256(a1, _mm256_xor_si256(_mm256_load_si256(s1 + i), _mm256_load_si256(s1 + i + 1)));
        a2 = _mm256_xor_si256(a2, _mm256_xor_si256(_mm256_load_si256(s2 + i), _mm256_load_si256(s2 + i + 1)));
        a3 = _mm256_xor_si256(a3, _mm256_xor_si256(_mm256_load_si256(s3 + i), _mm256_load_si256(s3 + i + 1)));
    }
    __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    return (double)_mm256_extract_epi32(a, 0);
}

/* 10 independent FMA chains hide the 4-5 cycle latency on two FMA ports. Each chain starts
 * from its own value: chains that start equal compute the same values, and the compiler keeps
 * one of them (it did: the probe then timed one chain's latency and called it the peak). */
double fr_probe_fma_avx2(int64_t iters) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f), a3 = _mm256_set1_ps(1.3f),
           a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f), a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f),
           a8 = _mm256_set1_ps(1.8f), a9 = _mm256_set1_ps(1.9f);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(_mm256_add_ps(a6, a7), _mm256_add_ps(a8, a9))));
    return (double)_mm256_cvtss_f32(s);
}

/* maddubs (32 u8 x s8 products, pairs summed to s16) + madd (to s32) + add: the int8 dot
 * product our quantized kernels use. 32 MACs per maddubs. */
double fr_probe_int8_avx2(int64_t iters) {
    const __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_set1_epi32(0), a1 = _mm256_set1_epi32(1), a2 = _mm256_set1_epi32(2), a3 = _mm256_set1_epi32(3),
            a4 = _mm256_set1_epi32(4), a5 = _mm256_set1_epi32(5); /* distinct: see fr_probe_fma_avx2 */
    __m256i y0 = y, y1 = _mm256_add_epi8(y, one), y2 = _mm256_sub_epi8(y, one);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y0), one));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y1), one));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y2), one));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_maddubs_epi16(y0, x), one));
        a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(_mm256_maddubs_epi16(y1, x), one));
        a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(_mm256_maddubs_epi16(y2, x), one));
        __asm__ volatile("" : "+x"(y0), "+x"(y1), "+x"(y2)); /* keep the products in the loop */
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(_mm256_add_epi32(a2, a3), _mm256_add_epi32(a4, a5)));
    return (double)_mm256_extract_epi32(s, 0);
}

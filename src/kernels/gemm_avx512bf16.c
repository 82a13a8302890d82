/* gemm_avx512bf16.c: BF16 prompts over pair panels with vdpbf16ps (AVX512_BF16: Intel since
 * Cooper Lake, AMD since Zen 4). Built with -mavx512f -mavx512bw -mavx512bf16; run only where
 * fr_cpu_has(FR_ISA_AVX512BF16). Layout, order and when the results equal the FMA kernels'
 * bit for bit: gemm.h (pair panels). The order is Intel's pseudocode for the instruction; on
 * the AMD Zen 5 of the 35th session, 32 million random lanes matched two FMAs in that order,
 * and test_tiles compares the kernel with the FMA one on every machine it runs on. */
#include <immintrin.h>

#include "gemm.h"

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL FR_PRAGMA_UNROLL(8)

/* Whether some of the 16 BF16 values in v are not pair-safe (gemm.h): nonzero with a biased
 * exponent below FR_BF16_PAIR_MIN_EXP, or one above FR_BF16_PAIR_MAX_EXP (Inf and NaN too). */
FR_INLINE __m256i unsafe16(__m256i v) {
    const __m256i x = _mm256_and_si256(v, _mm256_set1_epi16(0x7fff)); /* (non-negative as int16) */
    const __m256i tiny = _mm256_and_si256(_mm256_cmpgt_epi16(x, _mm256_setzero_si256()),
                                          _mm256_cmpgt_epi16(_mm256_set1_epi16(FR_BF16_PAIR_MIN_EXP << 7), x));
    return _mm256_or_si256(tiny, _mm256_cmpgt_epi16(x, _mm256_set1_epi16((FR_BF16_PAIR_MAX_EXP << 7) | 0x7f)));
}

bool fr_gemm_bf16_pair_order(const uint16_t *v, int64_t i, int64_t m, int64_t n32, int R, int r, uint32_t *dst) {
    const int64_t np = (n32 / 32 + 1) / 2;
    __m256i bad = _mm256_setzero_si256();
    for (int64_t k = i; k < i + m; k += 64) {
        const int64_t p = k / 64;
        const bool second = k + 32 < n32;
        for (int h = 0; h < 2; h++) {
            const __m256i a = _mm256_loadu_si256((const __m256i *)(v + (k - i) + 16 * h));
            const __m256i b =
                second ? _mm256_loadu_si256((const __m256i *)(v + (k - i) + 32 + 16 * h)) : _mm256_setzero_si256();
            bad = _mm256_or_si256(bad, _mm256_or_si256(unsafe16(a), unsafe16(b)));
            const __m512i w =
                _mm512_or_si512(_mm512_slli_epi32(_mm512_cvtepu16_epi32(a), 16), _mm512_cvtepu16_epi32(b));
            _mm512_storeu_si512(dst + (((size_t)h * (size_t)np + (size_t)p) * (size_t)R + (size_t)r) * 16, w);
        }
    }
    return _mm256_testz_si256(bad, bad);
}

bool fr_gemm_bf16_pair_pack(const void *const *x, int R, int64_t n32, uint32_t *panel) {
    bool safe = true;
    for (int r = 0; r < R; r++)
        safe &= fr_gemm_bf16_pair_order(x[r], 0, n32, n32, R, r, panel);
    return safe;
}

/* One pass h: R x T accumulators over pairs [p0, p1), from st (or zero: first) back into st. */
FR_INLINE void pairs_RxT(int h, int64_t p0, int64_t p1, int64_t np, const uint32_t *panel, const int R,
                         const uint32_t *const *yp, const int T, float *st, int first) {
    __m512 a[3][8];
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        a[r][t] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(st + (r * T + t) * 16);
    const size_t at = ((size_t)h * (size_t)np + (size_t)p0) * 16;
    const uint32_t *wp = panel + at * (size_t)R;
    const uint32_t *yb[8];
    FR_UNROLL for (int t = 0; t < T; t++) yb[t] = yp[t] + at;
    for (int64_t p = 0; p < p1 - p0; p++) {
        __m512bh xv[3];
        FR_UNROLL for (int r = 0; r < R; r++) xv[r] = (__m512bh)_mm512_loadu_si512(wp + (p * R + r) * 16);
        FR_UNROLL for (int t = 0; t < T; t++) {
            __m512bh yv = (__m512bh)_mm512_loadu_si512(yb[t] + p * 16);
            __asm__("" : "+v"(yv));
            /* per lane: + odd product (value v), then + even one (v + 32), each rounded once */
            FR_UNROLL for (int r = 0; r < R; r++) a[r][t] = _mm512_dpbf16_ps(a[r][t], xv[r], yv);
        }
    }
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        _mm512_storeu_ps(st + (r * T + t) * 16, a[r][t]);
}

#define PAIRS_CASE(R, T) \
    case R * 16 + T: pairs_RxT(h, p0, p1, np, panel, R, yp, T, st, first); break;
void fr_gemm_bf16_pairs_avx512(int h, int64_t p0, int64_t p1, int64_t np, const uint32_t *panel, int R,
                               const uint32_t *const *yp, int T, float *st, int first) {
    switch (R * 16 + T) {
        PAIRS_CASE(1, 1) PAIRS_CASE(1, 2) PAIRS_CASE(1, 3) PAIRS_CASE(1, 4)
        PAIRS_CASE(1, 5) PAIRS_CASE(1, 6) PAIRS_CASE(1, 7) PAIRS_CASE(1, 8)
        PAIRS_CASE(2, 1) PAIRS_CASE(2, 2) PAIRS_CASE(2, 3) PAIRS_CASE(2, 4)
        PAIRS_CASE(2, 5) PAIRS_CASE(2, 6) PAIRS_CASE(2, 7) PAIRS_CASE(2, 8)
        PAIRS_CASE(3, 1) PAIRS_CASE(3, 2) PAIRS_CASE(3, 3) PAIRS_CASE(3, 4)
        PAIRS_CASE(3, 5) PAIRS_CASE(3, 6) PAIRS_CASE(3, 7) PAIRS_CASE(3, 8)
    default: break;
    }
}
#undef PAIRS_CASE

/* ops_avx2.c: AVX2 versions of element-wise kernels of ops.c. */
#include <immintrin.h>
#include <math.h>

#include "kernels.h"
#include "vmath_avx2.h"

/* gate = silu(gate) * up with silu(g) = g * sigmoid(g), sigmoid from e = exp(-|g|) (never
 * overflows): 1 / (1 + e) for g >= 0, e / (1 + e) below. The tail of n % 8 values takes the
 * scalar formula of ops.c. */
void fr_swiglu_avx2(float *gate, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = fr_exp_neg_avx2(_mm256_or_ps(g, sign)); /* exp(-|g|) */
        const __m256 num = _mm256_blendv_ps(e, one, _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_GE_OQ));
        const __m256 s = _mm256_div_ps(num, _mm256_add_ps(one, e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_mul_ps(g, s), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* fr_rmsnorm's loops (ops.c) over the whole groups of 8 values, with its bits: the sums of
 * squares, element i into s[i % 8] (two vectors of four doubles; a float's square is exact in
 * double, so the product and the add are ops.c's), and out = (x * scale) * w as two float
 * products (no FMA). Each returns the values it did (n rounded down to 8); ops.c does the
 * rest, the sums' combining and the scale. gcc -O2 made ops.c's sum loop two-double SSE steps
 * with the sums stored and reloaded each step: tinyllama Q8_0 pp512 spent 0.70% of its
 * samples in the norm, 0.33% with these (perf). */
int64_t fr_rmsnorm_sums_avx2(const float *x, int64_t n, double s[8]) {
    __m256d lo = _mm256_loadu_pd(s), hi = _mm256_loadu_pd(s + 4);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
    }
    _mm256_storeu_pd(s, lo);
    _mm256_storeu_pd(s + 4, hi);
    return i;
}

int64_t fr_rmsnorm_scale_avx2(float *out, const float *x, const float *w, float scale, int64_t n) {
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        _mm256_storeu_ps(out + i, w ? _mm256_mul_ps(y, _mm256_loadu_ps(w + i)) : y);
    }
    return i;
}

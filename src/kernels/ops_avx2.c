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

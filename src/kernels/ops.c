/* ops.c: element-wise and normalisation kernels (scalar; the compiler vectorises most of
 * them; SwiGLU's exp has AVX2 and NEON versions in ops_avx2.c and ops_neon.c, RMSNorm's
 * two loops AVX2 ones with the same bits). */
#include <math.h>

#include "kernels.h"

#if FR_X86
/* ops_avx2.c: fr_rmsnorm's two loops over whole groups of 8 values; the rest stays here */
int64_t fr_rmsnorm_sums_avx2(const float *x, int64_t n, double s[8]);
int64_t fr_rmsnorm_scale_avx2(float *out, const float *x, const float *w, float scale, int64_t n);
#endif

/* The sum of squares in double (each square of a float is exact there), in eight running sums
 * (element i in sum i % 8, added as ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))):
 * one chain of dependent double adds over the whole row was the cost of the norm (a chain of
 * n adds; the eight chains overlap). */
void fr_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    double s[8] = {0};
    int64_t i = 0;
#if FR_X86
    const bool avx2 = fr_cpu_has(FR_ISA_AVX2);
    if (avx2) i = fr_rmsnorm_sums_avx2(x, n, s);
#endif
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += (double)x[i + k] * x[i + k];
    for (int k = 0; i < n; i++, k++) s[k] += (double)x[i] * x[i];
    const double ss = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    i = 0;
#if FR_X86
    if (avx2) i = fr_rmsnorm_scale_avx2(out, x, w, scale, n);
#endif
    if (w) {
        for (; i < n; i++) out[i] = x[i] * scale * w[i];
    } else {
        for (; i < n; i++) out[i] = x[i] * scale;
    }
}

void fr_rope_apply(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, const float *cos_sin,
                   int neox) {
    int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_head; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
            int64_t a = neox ? i : 2 * i;
            int64_t b = neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

#if FR_X86
void fr_swiglu_avx2(float *gate, const float *up, int64_t n); /* ops_avx2.c */
#endif
#if FR_ARM64
void fr_swiglu_neon(float *gate, const float *up, int64_t n); /* ops_neon.c */
#endif

void fr_swiglu(float *gate, const float *up, int64_t n) {
#if FR_X86
    if (fr_cpu_has(FR_ISA_AVX2)) {
        fr_swiglu_avx2(gate, up, n);
        return;
    }
#endif
#if FR_ARM64
    if (fr_cpu_has(FR_ISA_NEON_DOT)) {
        fr_swiglu_neon(gate, up, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void fr_softmax(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    if (mx == -INFINITY) { /* nothing to attend to: define as all zeros */
        for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

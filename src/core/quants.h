/* quants.h: per-type kernels behind the table in dtype.c.
 *
 * Naming: fr_<op>_<type>_<isa>, op in {to_float, from_float, vec_dot}, isa in {ref, avx2, neon}.
 * vec_dot_<T> takes x in type T and y in T's vec_dot_type:
 *   F32->F32, F16->F16, BF16->BF16, Q4_0/Q5_0/Q8_0/IQ4_NL->Q8_0, Q4_1/Q5_1->Q8_1,
 *   Q2_K..Q6_K->Q8_K.
 * The *_ref versions are the plain scalar reference: portable C, no intrinsics.
 * The *_avx2 versions live in quants_avx2.c / quants_k_avx2.c (compiled with -mavx2 -mfma
 * -mf16c) and must agree with the reference within float rounding of the accumulation.
 * The *_neon versions (quants_neon.c, AArch64 with sdot) give the reference's bits. */
#ifndef FRUGAL_CORE_QUANTS_H
#define FRUGAL_CORE_QUANTS_H

#include "dtype.h"

#define FR_DECL_TYPE(T)                                                                      \
    void fr_to_float_##T##_ref(const void *restrict src, float *restrict dst, int64_t n);   \
    void fr_vec_dot_##T##_ref(int64_t n, float *restrict s, const void *restrict x,          \
                              const void *restrict y);                                       \
    void fr_to_float_##T##_avx2(const void *restrict src, float *restrict dst, int64_t n);  \
    void fr_vec_dot_##T##_avx2(int64_t n, float *restrict s, const void *restrict x,         \
                               const void *restrict y);
#define FR_DECL_FROM(T)                                                                      \
    void fr_from_float_##T##_ref(const float *restrict src, void *restrict dst, int64_t n); \
    void fr_from_float_##T##_avx2(const float *restrict src, void *restrict dst, int64_t n);

FR_DECL_TYPE(f32) FR_DECL_FROM(f32)
FR_DECL_TYPE(f16) FR_DECL_FROM(f16)
FR_DECL_TYPE(bf16) FR_DECL_FROM(bf16)
FR_DECL_TYPE(q4_0) FR_DECL_FROM(q4_0)
FR_DECL_TYPE(q4_1) FR_DECL_FROM(q4_1)
FR_DECL_TYPE(q5_0) FR_DECL_FROM(q5_0)
FR_DECL_TYPE(q5_1) FR_DECL_FROM(q5_1)
FR_DECL_TYPE(q8_0) FR_DECL_FROM(q8_0)
FR_DECL_TYPE(iq4_nl) FR_DECL_FROM(iq4_nl)
FR_DECL_TYPE(q2_K)
FR_DECL_TYPE(q3_K)
FR_DECL_TYPE(q4_K)
FR_DECL_TYPE(q5_K)
FR_DECL_TYPE(q6_K)

/* Activation-only types: quantize (and dequantize, for tests). */
FR_DECL_FROM(q8_1)
FR_DECL_FROM(q8_K)
void fr_to_float_q8_1_ref(const void *restrict src, float *restrict dst, int64_t n);
void fr_to_float_q8_K_ref(const void *restrict src, float *restrict dst, int64_t n);

/* Optional K-quant quantizers (reference only; used by synth/quantize when present). */
void fr_from_float_q2_K_ref(const float *restrict src, void *restrict dst, int64_t n);
void fr_from_float_q3_K_ref(const float *restrict src, void *restrict dst, int64_t n);
void fr_from_float_q4_K_ref(const float *restrict src, void *restrict dst, int64_t n);
void fr_from_float_q5_K_ref(const float *restrict src, void *restrict dst, int64_t n);
void fr_from_float_q6_K_ref(const float *restrict src, void *restrict dst, int64_t n);

/* Dot-product tiles (AVX2) for the types with Q8_0 activations: out[r * nt + t] =
 * dot(x[r], y[t]) for nr in 1..4 weight rows and nt in 1..2 activation rows. Each element
 * is bit-identical to fr_vec_dot_<type>_avx2 (which is the 1 x 1 tile). */
void fr_dot_tile_q8_0_avx2(int64_t n, const void *const *x, int nr, const void *const *y, int nt, float *out);
void fr_dot_tile_q4_0_avx2(int64_t n, const void *const *x, int nr, const void *const *y, int nt, float *out);
void fr_dot_tile_q5_0_avx2(int64_t n, const void *const *x, int nr, const void *const *y, int nt, float *out);
void fr_dot_tile_iq4_nl_avx2(int64_t n, const void *const *x, int nr, const void *const *y, int nt, float *out);

/* One K-quant row times T <= 4 Q8_K activation rows: out[t] = fr_vec_dot_<type>_avx2(x,
 * y[t]) bit for bit (the row is unpacked once for all tokens). */
void fr_dot_1xT_q4_K_avx2(int64_t n, const void *x, const void *const *y, int T, float *out);
void fr_dot_1xT_q6_K_avx2(int64_t n, const void *x, const void *const *y, int T, float *out);

/* AArch64 (quants_neon.c): the kernels the NEON table of dtype.c replaces; the others stay
 * the reference's. */
void fr_vec_dot_f32_neon(int64_t n, float *restrict s, const void *restrict x, const void *restrict y);
void fr_vec_dot_f16_neon(int64_t n, float *restrict s, const void *restrict x, const void *restrict y);
void fr_to_float_f16_neon(const void *restrict src, float *restrict dst, int64_t n);
void fr_from_float_q8_0_neon(const float *restrict src, void *restrict dst, int64_t n);
void fr_vec_dot_q4_0_neon(int64_t n, float *restrict s, const void *restrict x, const void *restrict y);
void fr_vec_dot_q8_0_neon(int64_t n, float *restrict s, const void *restrict x, const void *restrict y);
void fr_vec_dot_q6_K_neon(int64_t n, float *restrict s, const void *restrict x, const void *restrict y);

/* IQ4_NL's non-linear code book (16 values). */
extern const int8_t fr_iq4nl_values[16];

#undef FR_DECL_TYPE
#undef FR_DECL_FROM
#endif

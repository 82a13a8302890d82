/* wrow_simd.h: what the kernels of wrow_avx2.c and wrow_avx512.c share: a Q4_0 or Q8_0
 * block's values and scale, its 8-lane partial dot product, and the read-ahead of the rows.
 * Include only from files compiled with at least -mavx2 -mfma -mf16c. */
#ifndef FR_WROW_SIMD_H
#define FR_WROW_SIMD_H

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "quants.h"
#include "simd_avx2.h"

#define FR_WROW_INLINE static inline __attribute__((always_inline))

/* The types whose blocks are 32 int8 values times one fp16 scale d: Q4_0 (q - 8), Q5_0
 * (q - 16 with the fifth bits of qh), IQ4_NL (fr_iq4nl_values[q]) and Q8_0. */
FR_WROW_INLINE bool fr_wrow_i8_type(int type) {
    return type == FR_TYPE_Q4_0 || type == FR_TYPE_Q5_0 || type == FR_TYPE_IQ4_NL || type == FR_TYPE_Q8_0;
}

/* f(T, ...) with T the int8-block type (fr_wrow_i8_type) as a constant (the kernels specialise on it) */
#define FR_I8_DISPATCH(type, f, ...)                                                                                   \
    do {                                                                                                               \
        switch (type) {                                                                                                \
        case FR_TYPE_Q4_0: f(FR_TYPE_Q4_0, __VA_ARGS__); break;                                                        \
        case FR_TYPE_Q5_0: f(FR_TYPE_Q5_0, __VA_ARGS__); break;                                                        \
        case FR_TYPE_IQ4_NL: f(FR_TYPE_IQ4_NL, __VA_ARGS__); break;                                                    \
        default: f(FR_TYPE_Q8_0, __VA_ARGS__); break;                                                                  \
        }                                                                                                              \
    } while (0)

/* KERNEL(type, T, ...) with both the int8-block type and T = 1..4 inputs (FR_WROW_MAX_T) as
 * constants (the multi-input kernels) */
#define FR_WROW_I8_BY_T(type, T, KERNEL, ...)                                                                          \
    do {                                                                                                               \
        switch (T) {                                                                                                   \
        case 1: FR_I8_DISPATCH(type, KERNEL, 1, __VA_ARGS__); break;                                                   \
        case 2: FR_I8_DISPATCH(type, KERNEL, 2, __VA_ARGS__); break;                                                   \
        case 3: FR_I8_DISPATCH(type, KERNEL, 3, __VA_ARGS__); break;                                                   \
        default: FR_I8_DISPATCH(type, KERNEL, 4, __VA_ARGS__); break;                                                  \
        }                                                                                                              \
    } while (0)

/* the same for the types whose weights are formed per value (fr_wrow_kquant, fr_wrow_min_type) */
#define FR_WROW_FORMED_DISPATCH(type, f, ...)                                                                          \
    do {                                                                                                               \
        switch (type) {                                                                                                \
        case FR_TYPE_Q2_K: f(FR_TYPE_Q2_K, __VA_ARGS__); break;                                                        \
        case FR_TYPE_Q3_K: f(FR_TYPE_Q3_K, __VA_ARGS__); break;                                                        \
        case FR_TYPE_Q4_K: f(FR_TYPE_Q4_K, __VA_ARGS__); break;                                                        \
        case FR_TYPE_Q5_K: f(FR_TYPE_Q5_K, __VA_ARGS__); break;                                                        \
        case FR_TYPE_Q6_K: f(FR_TYPE_Q6_K, __VA_ARGS__); break;                                                        \
        case FR_TYPE_Q4_1: f(FR_TYPE_Q4_1, __VA_ARGS__); break;                                                        \
        default: f(FR_TYPE_Q5_1, __VA_ARGS__); break;                                                                  \
        }                                                                                                              \
    } while (0)

/* NAME: an fr_wrow_dot2_fn running KERNEL(T, r0, r1, x, nb, out) for the type T */
#define FR_WROW_DOT2_FN(NAME, KERNEL, T)                                                                               \
    static void NAME(const char *r0, const char *r1, const float *x, int64_t nb, float *out) {                         \
        KERNEL(T, r0, r1, x, nb, out);                                                                                 \
    }

/* Q5_0 / Q5_1: value i's fifth bit (bit i of the little-endian qh) as 16 in byte i, else 0 */
FR_WROW_INLINE __m256i fr_wrow_fifth_bits(const uint8_t *qh4) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    const __m256i bytes = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)qh), _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit), _mm256_set1_epi8(16));
}

/* the 32 int8 values of one block, in order */
FR_WROW_INLINE __m256i fr_wrow_block_i8(int type, const void *row, int64_t b) {
    if (type == FR_TYPE_Q4_0) {
        const block_q4_0 *x = (const block_q4_0 *)row + b;
        return _mm256_sub_epi8(fr_unpack_nibbles_avx2(x->qs), _mm256_set1_epi8(8));
    }
    if (type == FR_TYPE_Q5_0) {
        const block_q5_0 *x = (const block_q5_0 *)row + b;
        return _mm256_sub_epi8(_mm256_or_si256(fr_unpack_nibbles_avx2(x->qs), fr_wrow_fifth_bits(x->qh)),
                               _mm256_set1_epi8(16));
    }
    if (type == FR_TYPE_IQ4_NL) {
        const block_iq4_nl *x = (const block_iq4_nl *)row + b;
        const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)fr_iq4nl_values));
        return _mm256_shuffle_epi8(table, fr_unpack_nibbles_avx2(x->qs));
    }
    return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)row + b)->qs);
}

FR_WROW_INLINE float fr_wrow_block_scale(int type, const void *row, int64_t b) {
    fr_f16 d = type == FR_TYPE_Q4_0     ? ((const block_q4_0 *)row + b)->d
               : type == FR_TYPE_Q5_0   ? ((const block_q5_0 *)row + b)->d
               : type == FR_TYPE_IQ4_NL ? ((const block_iq4_nl *)row + b)->d
                                        : ((const block_q8_0 *)row + b)->d;
    return _cvtsh_ss(d);
}

/* ---- K-quants (Q2_K .. Q6_K): blocks of 256 values in 8 groups of 32 ----
 *
 * Group j of a block holds values 32j .. 32j + 31: s q_l - m with small integers q_l, where
 * s = d sc and m = dmin mn are to_float's (Q2_K: s and m per 16 values; Q3_K, Q6_K: s per 16
 * values, no m). The kernels take a block's scales once, each group's q as exact floats, and
 * form each weight as fma(s, q, -m) (Q3_K, Q6_K: s q) before its product with x or a; every
 * ISA forms them alike. (s q is exact, so the one rounding is to_float's.) */
FR_WROW_INLINE bool fr_wrow_kquant(int type) {
    return type == FR_TYPE_Q2_K || type == FR_TYPE_Q3_K || type == FR_TYPE_Q4_K || type == FR_TYPE_Q5_K ||
           type == FR_TYPE_Q6_K;
}

/* Q3_K and Q6_K: no minimum */
FR_WROW_INLINE bool fr_wrow_kscale_only(int type) { return type == FR_TYPE_Q3_K || type == FR_TYPE_Q6_K; }

FR_WROW_INLINE size_t fr_wrow_kblock_bytes(int type) {
    return type == FR_TYPE_Q2_K   ? sizeof(block_q2_K)
           : type == FR_TYPE_Q3_K ? sizeof(block_q3_K)
           : type == FR_TYPE_Q4_K ? sizeof(block_q4_K)
           : type == FR_TYPE_Q5_K ? sizeof(block_q5_K)
                                  : sizeof(block_q6_K);
}

typedef struct {
    float s[16]; /* per 16 values (Q4_K, Q5_K: the group's scale twice) */
    float m[16]; /* per 16 values (Q4_K, Q5_K: the group's twice; Q3_K, Q6_K: unused) */
} fr_kscales;

/* 16 signed bytes times d into out[0..15] */
FR_WROW_INLINE void fr_wrow_scales16(__m128i sc, float d, float *out) {
    const __m256 vd = _mm256_set1_ps(d);
    _mm256_storeu_ps(out, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))));
    _mm256_storeu_ps(out + 8, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)))));
}

FR_WROW_INLINE void fr_wrow_kblock_scales(int type, const char *blk, fr_kscales *ks) {
    if (type == FR_TYPE_Q2_K) {
        const block_q2_K *x = (const block_q2_K *)blk;
        const __m128i sc = _mm_loadu_si128((const __m128i *)x->scales), m4 = _mm_set1_epi8(0xF);
        fr_wrow_scales16(_mm_and_si128(sc, m4), _cvtsh_ss(x->d), ks->s);
        fr_wrow_scales16(_mm_and_si128(_mm_srli_epi16(sc, 4), m4), _cvtsh_ss(x->dmin), ks->m);
        return;
    }
    if (type == FR_TYPE_Q3_K) {
        const block_q3_K *x = (const block_q3_K *)blk;
        fr_wrow_scales16(fr_q3_K_scales_avx2(x->scales), _cvtsh_ss(x->d), ks->s);
        return;
    }
    if (type == FR_TYPE_Q6_K) {
        const block_q6_K *x = (const block_q6_K *)blk;
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x->d));
        const __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
        _mm256_storeu_ps(ks->s, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))));
        _mm256_storeu_ps(ks->s + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)))));
        return;
    }
    const block_q4_K *x4 = (const block_q4_K *)blk;
    const block_q5_K *x5 = (const block_q5_K *)blk;
    const bool q4 = type == FR_TYPE_Q4_K;
    const __m128i sm = fr_k4_scales_mins_avx2(q4 ? x4->scales : x5->scales);
    const __m256 s =
        _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(q4 ? x4->d : x5->d)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sm)));
    const __m256 m = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(q4 ? x4->dmin : x5->dmin)),
                                   _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8))));
    /* s[2j] = s[2j + 1] = scale j, the same for m */
    const __m256i lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    _mm256_storeu_ps(ks->s, _mm256_permutevar8x32_ps(s, lo));
    _mm256_storeu_ps(ks->s + 8, _mm256_permutevar8x32_ps(s, hi));
    _mm256_storeu_ps(ks->m, _mm256_permutevar8x32_ps(m, lo));
    _mm256_storeu_ps(ks->m + 8, _mm256_permutevar8x32_ps(m, hi));
}

/* group j's 32 integers q of a block, in order (Q3_K: q - 4 + 4 hbit; Q6_K: q - 32) */
FR_WROW_INLINE __m256i fr_wrow_kgroup_q(int type, const char *blk, int j) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    if (type == FR_TYPE_Q2_K || type == FR_TYPE_Q3_K) { /* 2 bits at 2 (j % 4) of qs[32 (j / 4) + i] */
        const uint8_t *qs = type == FR_TYPE_Q2_K ? ((const block_q2_K *)blk)->qs : ((const block_q3_K *)blk)->qs;
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * (j / 4)));
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * (j % 4)), _mm256_set1_epi8(3));
        if (type == FR_TYPE_Q2_K) return q;
        const __m256i hb = _mm256_loadu_si256((const __m256i *)((const block_q3_K *)blk)->hmask); /* bit j */
        const __m256i h4 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, j), _mm256_set1_epi8(1)), 2);
        return _mm256_sub_epi8(_mm256_or_si256(q, h4), _mm256_set1_epi8(4));
    }
    if (type == FR_TYPE_Q6_K) {
        const block_q6_K *x = (const block_q6_K *)blk;
        const int h = j / 4, sg = j % 4;
        const __m256i l = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32 * (sg & 1)));
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        const __m256i lo = _mm256_and_si256(sg < 2 ? l : _mm256_srli_epi16(l, 4), m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * sg), _mm256_set1_epi8(3));
        return _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), _mm256_set1_epi8(32));
    }
    const uint8_t *qs = type == FR_TYPE_Q4_K ? ((const block_q4_K *)blk)->qs : ((const block_q5_K *)blk)->qs;
    const __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * (j / 2)));
    __m256i q = _mm256_and_si256(j & 1 ? _mm256_srli_epi16(bits, 4) : bits, m4);
    if (type == FR_TYPE_Q5_K) {
        const __m256i hb = _mm256_loadu_si256((const __m256i *)((const block_q5_K *)blk)->qh);
        q = _mm256_or_si256(q, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, j), _mm256_set1_epi8(1)), 4));
    }
    return q;
}

/* ---- Q4_1 and Q5_1: blocks of 32 values d q + m ----
 * Each weight is formed as fma(d, q, m) (to_float's value, rounded once) before its product:
 * with m the block's minimum, d q and m may nearly cancel. */
FR_WROW_INLINE bool fr_wrow_min_type(int type) { return type == FR_TYPE_Q4_1 || type == FR_TYPE_Q5_1; }

/* The kernels of both ISAs take these types a unit of 32 values at a time: group j of a K-quant
 * block (8 units a block, whose scales are taken once per row and block), or one Q4_1 / Q5_1
 * block (1). */
FR_WROW_INLINE int fr_wrow_units_per_block(int type) { return fr_wrow_kquant(type) ? 8 : 1; }

/* block b's 32 integers q (0..31) in order, and its d and m */
FR_WROW_INLINE __m256i fr_wrow_min_q(int type, const char *row, int64_t b, float *d, float *m) {
    if (type == FR_TYPE_Q4_1) {
        const block_q4_1 *x = (const block_q4_1 *)row + b;
        *d = _cvtsh_ss(x->d), *m = _cvtsh_ss(x->m);
        return fr_unpack_nibbles_avx2(x->qs);
    }
    const block_q5_1 *x = (const block_q5_1 *)row + b;
    *d = _cvtsh_ss(x->d), *m = _cvtsh_ss(x->m);
    return _mm256_or_si256(fr_unpack_nibbles_avx2(x->qs), fr_wrow_fifth_bits(x->qh));
}

/* An ISA file's waxpy_rows, y += sum_r a[r] row_r for the types whose weights are formed per
 * value, over its
 *   waxpy_units(type, NU, rows, rb, r0, r1, ks, a, y, b, j0)
 * (always inlined; units [j0, j0 + NU) of block b over rows [r0, r1), y in registers, one FMA
 * per value and row in row order): Q4_1 / Q5_1 NU blocks per pass over all the rows; the
 * K-quants block by block, rows in chunks whose scales are taken once, NU groups per pass
 * (NU divides 8). A value's FMAs come in the rows' order whatever NU, so every ISA, and one
 * row, give the same bits. One fr_next_prefetch_step per pass. */
#define FR_WROW_WAXPY_ROWS_CHUNK 32
#define FR_WROW_WAXPY_ROWS(NU)                                                                                         \
    static inline __attribute__((always_inline)) void waxpy_rows(int type, const char *rows, size_t rb,                \
                                                                 int64_t n_rows, const float *a, float *y, int64_t n,  \
                                                                 fr_next_prefetch *pf) {                               \
        if (fr_wrow_min_type(type)) {                                                                                  \
            int64_t nb = n / 32, b = 0;                                                                                \
            for (; b + (NU) <= nb; b += (NU))                                                                          \
                fr_next_prefetch_step(pf), waxpy_units(type, (NU), rows, rb, 0, n_rows, NULL, a, y, b, 0);             \
            for (; b < nb; b++)                                                                                        \
                fr_next_prefetch_step(pf), waxpy_units(type, 1, rows, rb, 0, n_rows, NULL, a, y, b, 0);                \
            return;                                                                                                    \
        }                                                                                                              \
        fr_kscales ks[FR_WROW_WAXPY_ROWS_CHUNK];                                                                       \
        for (int64_t b = 0; b < n / QK_K; b++)                                                                         \
            for (int64_t r0 = 0; r0 < n_rows; r0 += FR_WROW_WAXPY_ROWS_CHUNK) {                                        \
                const int64_t r1 = r0 + FR_WROW_WAXPY_ROWS_CHUNK < n_rows ? r0 + FR_WROW_WAXPY_ROWS_CHUNK : n_rows;    \
                for (int64_t r = r0; r < r1; r++)                                                                      \
                    fr_wrow_kblock_scales(type, rows + (size_t)r * rb + (size_t)b * fr_wrow_kblock_bytes(type),        \
                                          &ks[r - r0]);                                                                \
                FR_PRAGMA_UNROLL(8) for (int j0 = 0; j0 < 8; j0 += (NU)) {                                             \
                    if (r0 == 0) fr_next_prefetch_step(pf);                                                            \
                    waxpy_units(type, (NU), rows, rb, r0, r1, ks, a, y, b, j0);                                        \
                }                                                                                                      \
            }                                                                                                          \
    }

/* 32 int8 values as four vectors of exact floats (values 8k .. 8k + 7 in f[k]) */
FR_WROW_INLINE void fr_wrow_i8_to_ps(__m256i q, __m256 f[4]) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    f[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    f[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
    f[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    f[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

/* Block b's 32 values as four vectors of exact floats, as fr_wrow_i8_to_ps(fr_wrow_block_i8)
 * gives them (values 8k .. 8k + 7 in f[k]), for Q4_0 and Q8_0 widened straight from the
 * block's bytes: eight bytes per load to int32 lanes, no 32-byte unpack, extract and shifts
 * across lanes (kbench wrow Q4_0 128 512 T, one thread: T = 1 dot 8.3 -> 12.5 GMAC/s, axpy
 * 8.8 -> 14.0; T = 4 dot 16-18 -> 22.2, axpy 14.6 -> 22.0). Every 8-lane block of an int8-block
 * type (fr_wrow_i8_type) in the wrow kernels comes from here; the min types and K-quant groups
 * widen their own values (wrow_avx2.c, unit_weights). */
FR_WROW_INLINE void fr_wrow_block_ps(int type, const void *row, int64_t b, __m256 f[4]) {
    if (type == FR_TYPE_Q4_0) { /* value j: qs[j] & 15, value j + 16: qs[j] >> 4; minus 8 */
        const uint8_t *qs = ((const block_q4_0 *)row + b)->qs;
        const __m256i lo = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)qs));
        const __m256i hi = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8)));
        const __m256i m4 = _mm256_set1_epi32(15), c8 = _mm256_set1_epi32(8);
        f[0] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(lo, m4), c8));
        f[1] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(hi, m4), c8));
        f[2] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(lo, 4), c8));
        f[3] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(hi, 4), c8));
        return;
    }
    if (type == FR_TYPE_Q8_0) {
        const int8_t *qs = ((const block_q8_0 *)row + b)->qs;
        for (int k = 0; k < 4; k++)
            f[k] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8 * k))));
        return;
    }
    fr_wrow_i8_to_ps(fr_wrow_block_i8(type, row, b), f);
}

/* A block's partial dot product with xb[0..31] on 8 lanes: q0 x0, then three FMAs (q_k and
 * x_k are values 8k .. 8k + 7). Every dot kernel sums a block in this order. */
FR_WROW_INLINE __m256 fr_wrow_block_dot8(const __m256 f[4], const float *xb) {
    __m256 s = _mm256_mul_ps(f[0], _mm256_loadu_ps(xb));
    s = _mm256_fmadd_ps(f[1], _mm256_loadu_ps(xb + 8), s);
    s = _mm256_fmadd_ps(f[2], _mm256_loadu_ps(xb + 16), s);
    return _mm256_fmadd_ps(f[3], _mm256_loadu_ps(xb + 24), s);
}

/* W_UK / W_UV rows are weights read once per token, one after the other: ask for the
 * memory a few rows ahead, as the matrix kernels do */
#define FR_WROW_PF_DIST 4096
FR_WROW_INLINE void fr_wrow_prefetch_ahead(const void *row, size_t bytes) {
    for (size_t off = 0; off < bytes; off += 64)
        _mm_prefetch((const char *)row + FR_WROW_PF_DIST + off, _MM_HINT_T0);
}

/* The next call's rows (`next`, the same number of bytes), asked for in equal parts over
 * this call's steps: they arrive from memory while this call computes. */
typedef struct {
    const char *p, *end;
    size_t per_step;
} fr_next_prefetch;

static inline fr_next_prefetch fr_next_prefetch_init(const void *next, size_t bytes, int64_t steps) {
    fr_next_prefetch pf = {next, next ? (const char *)next + bytes : NULL, 0};
    if (next && steps > 0) pf.per_step = (bytes / 64 + (size_t)steps - 1) / (size_t)steps * 64;
    return pf;
}

static inline void fr_next_prefetch_step(fr_next_prefetch *pf) {
    for (size_t k = 0; k < pf->per_step && pf->p < pf->end; k += 64, pf->p += 64)
        _mm_prefetch(pf->p, _MM_HINT_T0);
}

/* The several-input axpy kernels (fr_wrow_axpy_rows_multi, wrow_avx2.c and wrow_avx512.c)
 * take a row's scale products a_t d for all T <= 4 inputs as one 128-bit multiply, stored for
 * their FMAs to broadcast from memory. They go through the rows in runs of this many (y's
 * chains go on from the stored values between runs: the same FMAs in the same order). */
enum { FR_WROW_COEF_ROWS = 256 };

/* The inputs' coefficients of rows [i0, i0 + m) side by side: at[i][t] = as[t][i0 + i] for
 * t < T, 0 in the lanes past T (m <= FR_WROW_COEF_ROWS). */
FR_WROW_INLINE void fr_wrow_coef_lanes(const float *const *as, int T, int64_t i0, int64_t m, float (*at)[4]) {
    for (int64_t i = 0; i < m; i++)
        FR_PRAGMA_UNROLL(4) for (int t = 0; t < 4; t++) at[i][t] = t < T ? as[t][i0 + i] : 0.0f;
}

/* sc[i * NB + j][t] = at[i][t] * (the scale of block b + j of row i) for rows [0, m) at rb
 * apart and j < NB: the products the one-input kernels form as a[i] * d (an int8-block type,
 * fr_wrow_i8_type). A loop of its own, before the FMAs read sc: computed beside them, the
 * compiler forwarded the stores back into register broadcasts (shuffles) again. */
FR_WROW_INLINE void fr_wrow_scale_products(int type, int NB, const char *rows, size_t rb, int64_t m, int64_t b,
                                           const float (*at)[4], float (*sc)[4]) {
    for (int64_t i = 0; i < m; i++)
        FR_PRAGMA_UNROLL(4) for (int j = 0; j < NB; j++) {
            const __m128 d = _mm_set1_ps(fr_wrow_block_scale(type, rows + (size_t)i * rb, b + j));
            _mm_store_ps(sc[i * NB + j], _mm_mul_ps(_mm_load_ps(at[i]), d));
        }
}

float fr_wrow_dot_avx2(int type, const void *row, const float *x, int64_t n); /* wrow_avx2.c */
void fr_wrow_axpy_rows_avx2(int type, const void *rows, size_t row_bytes, int64_t n_rows, const float *a, float *y,
                            int64_t n, const void *next);

/* An ISA's dot products of two rows with x (nb blocks), each row's result that of
 * fr_wrow_dot_avx2. */
typedef void (*fr_wrow_dot2_fn)(const char *r0, const char *r1, const float *x, int64_t nb, float *out);

/* fr_wrow_dot_rows over an ISA's pair kernel (NULL: none for this type): rows in pairs, the
 * odd last one alone, each asking for its rows ahead and for a share of `next`. */
FR_WROW_INLINE void fr_wrow_dot_rows_by_pairs(int type, const char *rows, size_t row_bytes, int64_t n_rows,
                                              const float *x, int64_t n, float *out, const void *next,
                                              fr_wrow_dot2_fn dot2) {
    fr_next_prefetch pf = fr_next_prefetch_init(next, (size_t)n_rows * row_bytes, (n_rows + 1) / 2);
    int64_t i = 0;
    if (dot2)
        for (; i + 2 <= n_rows; i += 2) {
            const char *r0 = rows + (size_t)i * row_bytes;
            fr_wrow_prefetch_ahead(r0, 2 * row_bytes);
            fr_next_prefetch_step(&pf);
            dot2(r0, r0 + row_bytes, x, n / 32, out + i);
        }
    for (; i < n_rows; i++) {
        fr_next_prefetch_step(&pf);
        out[i] = fr_wrow_dot_avx2(type, rows + (size_t)i * row_bytes, x, n);
    }
}

#endif

/* gemm_avx2.c: AVX2 micro-kernels over packed 16-row units, as two halves of 8 rows (layouts
 * in gemm.h).
 *
 * One vector lane per weight row: a 32-bit broadcast of 4 activation bytes times a vector
 * holding the same 4 positions of the 8 rows gives, after maddubs, per-row partial sums,
 * and no horizontal reduction is ever needed. Per block and activation row: Q4_0 adds the
 * eight maddubs results in int16 (exact: see below) and widens once; Q8_0 widens each.
 * Then one int->float conversion, one scale product and one FMA serve 8 outputs.
 *
 * Q4_0 exactness: the unsigned nibble q (0..15) times y (-128..127): a maddubs pair is at
 * most 3840 in magnitude, never saturating. Each int16 lane starts at -8 * (sum of the y it
 * will meet), so after all eight steps it holds sum((q - 8) * y) over its 16 positions,
 * |.| <= 16384: the wrapping int16 adds are exact. */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "simd_avx2.h"
#include "gemm_simd.h"
#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define FR_MIN(a, b) ((a) < (b) ? (a) : (b))

/* A software prefetch of a kernel's weight stream: into L1 (PREFETCHT0), or with l2 into L2
 * only (PREFETCHT1), which pf_l2 picks for decode (T <= 2) where the CPU reads faster so
 * (fr_cpu_decode_prefetch_l2: on Intel). On the Intel VM of the 21st-30th sessions, AVX2
 * decode, kbench 4096 x 131072, one token, builds alternated, T0 -> T1, GMAC/s: Q4_K 1 thread
 * 21.3-22.0 -> 22.3-22.9, 2 threads 43.3-43.7 -> 46.0-46.1; Q3_K 18.9-19.7 -> 21.1, 38.1-38.7
 * -> 42.0-42.7; Q6_K 12.5-12.6 -> 13.3-13.6, 25.6-25.7 -> 26.8-26.9. Prompts lost with it (Q4_K
 * 2048 x 5632, 512 tokens: 87-94 -> 79-88). tinyllama tg128, FRUGAL_ISA=avx2, 2 threads,
 * alternated with the T0 build, t/s: Q4_K_M 33.0-33.8 -> 34.0-35.7, Q3_K_M 31.4-32.3 ->
 * 33.9-34.8, Q2_K 43.6-44.1 -> 49.7-49.8, IQ4_NL 34.3-36.3 -> 36.1-37.5; Q4_K_M pp512
 * unchanged. On the AMD EPYC (Zen 5) of the 31st-32nd sessions T1 read slower instead: tokens
 * alternated between the two in one process, tg128 medians, T1 -> T0: Q6_K 46.4-49.7 ->
 * 52.4-59.9, Q3_K_M 43.5-46.5 -> 47.5-51.7, Q4_K_M 45.5-47.4 -> 46.5-48.2 (3 runs each).
 * AVX-512 VNNI's kernels gained 2-3% in kbench with T0 and keep it everywhere. */
FR_INLINE bool pf_l2(const int T) { return T <= 2 && fr_cpu_decode_prefetch_l2(); }

FR_INLINE void pf_weights(const uint8_t *p, const bool l2) {
    if (l2) _mm_prefetch((const char *)p, _MM_HINT_T1);
    else _mm_prefetch((const char *)p, _MM_HINT_T0);
}

/* A unit run as two half passes (H = 1: three or four tokens, as FR_GEMM_HALVES_BY_T asks)
 * reads its bytes twice, the second time from cache, so a prefetch a fixed distance ahead in
 * the first pass leaves the memory idle through the second. Instead each pass prefetches half
 * of the next unit (bbytes / 2 a block, into L2), so that unit streams in over both passes.
 * (Past a matrix's last unit the hints reach bytes that are not ours: prefetches never fault
 * and load nothing architecturally, as the fixed-distance ones past a unit's end.)
 * Zen 3, kbench 2048 x 65536 (from DRAM), 4 tokens, one thread, 3 rounds alternated with the
 * fixed distance: Q6_K 31-34 -> 50-51 GMAC/s (its speed in cache), Q5_K 50-53 -> 56-58; Q6_K
 * 2048 x 102400, 2 threads, 3 and 4 tokens: 46-65 -> 75-89 in 6 of 8 rounds. Prompts (2048 x
 * 2816, 256 tokens, one thread) within 0-3%. Measured and not taken: into L1 (PREFETCHT0),
 * noisier and no faster; the fixed distance kept beside it, no faster; the whole next unit
 * in the second pass only, slower. With one or two tokens (one pass, H = 2) the next unit
 * spread over the pass was no faster (two tokens slower), so those keep the fixed distance. */
FR_INLINE void pf_next_unit_half(const void *unit, int64_t nb, size_t bbytes, int h0, int64_t b) {
    const size_t half = bbytes / 2;
    const uint8_t *p = (const uint8_t *)unit + (size_t)nb * bbytes + ((size_t)h0 * (size_t)nb + (size_t)b) * half;
    for (size_t l = 0; l < half; l += 64) pf_weights(p + l, true);
}

/* The unit kernels below do halves h0 .. h0 + H - 1 of a unit (FR_GEMM_HALVES_BY_T; H = 2 with
 * h0 = 0: the whole unit, as the Q4_0, Q4_1, Q8_0 and Q4_K entry points always ask); accumulator
 * hh * T + t. */

/* Bit b of each byte of v moved to bit 4, the other bits cleared (16-bit shifts: b < 8 keeps
 * the two bytes apart). */
FR_INLINE __m256i bit_to4(__m256i v, const int b) {
    const __m256i b4 = _mm256_set1_epi8(0x10);
    return _mm256_and_si256(b < 4 ? _mm256_slli_epi16(v, 4 - b) : b > 4 ? _mm256_srli_epi16(v, b - 4) : v, b4);
}

/* Q4_0, or (Q5) Q5_0 with the fifth bits of vector H: values 0..31 whose maddubs pairs (at
 * most 2 * 31 * 127) never saturate, the offset -16 * sum(y), and a final |sum((q - 16) * y)|
 * <= 16 * 16 * 127 per int16 lane: the wrapping adds stay exact.
 * MIN: Q4_1 (Q5_1), the unsigned values without an offset: Q4_1's lanes end at most
 * 16 * 15 * 127 = 30480, exact in int16; Q5_1's could reach 16 * 31 * 127, so they widen after
 * the first two steps (8 * 31 * 127 at most) and again at the end. Then the min term,
 * acc = fma(m, s_y, acc), after the scale's (gemm.h). */
FR_INLINE void x4_0x16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                       float *out, const int Q5, const int MIN) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const bool l2 = Q5 && pf_l2(T); /* (Q4_0 and Q4_1 prefetch in prompts only) */
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const size_t bbytes = Q5 ? (MIN ? FR_Q5_1X16_BLOCK : FR_Q5_0X16_BLOCK) : (MIN ? FR_Q4_1X16_BLOCK : FR_Q4_0X16_BLOCK);
    __m256 acc[2 * FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < H * T; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * bbytes;
        __m256i s[2 * FR_GEMM_MAX_T], w[2 * FR_GEMM_MAX_T];
        FR_UNROLL for (int hh = 0; hh < H; hh++) FR_UNROLL for (int t = 0; t < T; t++)
            s[hh * T + t] = MIN ? _mm256_setzero_si256() : _mm256_set1_epi32(yc[t][b]);
        if (FR_PF_DIST && H == 1) pf_next_unit_half(unit, nb, bbytes, h0, b);
        if (H == 2 && (Q5 ? FR_PF_DIST > 0 : FR_PF_IN_ORDER(T))) {
            FR_UNROLL for (int l = 0; l < 5; l++) pf_weights(blk + FR_PF_DIST + 64 * l, l2);
            if (Q5) pf_weights(blk + FR_PF_DIST + 64 * 5, l2);
        }
        __m256i hv[2];
        FR_UNROLL for (int hh = 0; hh < H; hh++)
            hv[hh] = Q5 ? _mm256_loadu_si256((const __m256i *)(blk + FR_Q5_0X16_QH + 32 * (h0 + hh)))
                        : _mm256_setzero_si256();
        FR_UNROLL for (int m = 0; m < 4; m++) {
            __m256i lo[2], hi[2];
            FR_UNROLL for (int hh = 0; hh < H; hh++) {
                const __m256i p = _mm256_loadu_si256((const __m256i *)(blk + 64 * m + 32 * (h0 + hh)));
                lo[hh] = _mm256_and_si256(p, m4);
                hi[hh] = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);
                if (Q5) {
                    lo[hh] = _mm256_or_si256(lo[hh], bit_to4(hv[hh], 2 * m));
                    hi[hh] = _mm256_or_si256(hi[hh], bit_to4(hv[hh], 2 * m + 1));
                }
            }
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * m;
                const __m256i ylo = bcast32(y), yhi = bcast32(y + 16);
                FR_UNROLL for (int hh = 0; hh < H; hh++) {
                    __m256i *st = &s[hh * T + t];
                    *st = _mm256_add_epi16(*st, _mm256_maddubs_epi16(lo[hh], ylo));
                    *st = _mm256_add_epi16(*st, _mm256_maddubs_epi16(hi[hh], yhi));
                    FR_KEEP(*st);
                }
            }
            if (Q5 && MIN && m == 1)
                FR_UNROLL for (int v = 0; v < H * T; v++) {
                    w[v] = _mm256_madd_epi16(s[v], ones);
                    s[v] = _mm256_setzero_si256();
                }
        }
        FR_UNROLL for (int v = 0; v < H * T; v++) {
            s[v] = _mm256_madd_epi16(s[v], ones);
            if (Q5 && MIN) s[v] = _mm256_add_epi32(s[v], w[v]);
        }
        if (MIN) {
            FR_UNROLL for (int hh = 0; hh < H; hh++) {
                const size_t d_at = Q5 ? FR_Q5_1X16_D : FR_Q4_1X16_D, m_at = Q5 ? FR_Q5_1X16_M : FR_Q4_1X16_M;
                block_end(blk + d_at + 16 * (h0 + hh), b, yd, s + hh * T, T, acc + hh * T);
                const __m256 mx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + m_at + 16 * (h0 + hh))));
                FR_UNROLL for (int t = 0; t < T; t++)
                    acc[hh * T + t] = _mm256_fmadd_ps(mx, _mm256_castsi256_ps(_mm256_set1_epi32(yc[t][b])), acc[hh * T + t]);
            }
        } else {
            FR_UNROLL for (int hh = 0; hh < H; hh++)
                block_end(blk + (Q5 ? FR_Q5_0X16_D : FR_Q4_0X16_D) + 16 * (h0 + hh), b, yd, s + hh * T, T, acc + hh * T);
        }
    }
    store_halves(acc, h0, H, T, out);
}

FR_INLINE void q4_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x4_0x16(nb, unit, 0, 2, acts, T, out, 0, 0);
}

FR_INLINE void q5_0x16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                       float *out) {
    x4_0x16(nb, unit, h0, H, acts, T, out, 1, 0);
}

FR_INLINE void q4_1x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x4_0x16(nb, unit, 0, 2, acts, T, out, 0, 1);
}

FR_INLINE void q5_1x16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                       float *out) {
    x4_0x16(nb, unit, h0, H, acts, T, out, 1, 1);
}

void fr_gemm_q4_0x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q5_0x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(q5_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q4_1x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_1x16, nb, unit, acts, T, out);
}

void fr_gemm_q5_1x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(q5_1x16, nb, unit, acts, T, out);
}

/* IQ4_NL (layout Q4_0x16): the nibbles index fr_iq4nl_values (one pshufb per vector and
 * half), then Q8_0's signed products (sign, maddubs, madd: |pairs| <= 2 * 127 * 127 fit int16),
 * the low nibbles' values then the high ones', into int32 per block. */
FR_INLINE void iq4_nlx16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                         float *out) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T]; /* unused: this kernel keeps the signs */
    split_acts(acts, T, nb, yq, yd, yc);
    const bool l2 = pf_l2(T);
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)fr_iq4nl_values));
    __m256 acc[2 * FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < H * T; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q4_0X16_BLOCK;
        __m256i s[2 * FR_GEMM_MAX_T];
        FR_UNROLL for (int v = 0; v < H * T; v++) s[v] = _mm256_setzero_si256();
        if (FR_PF_DIST && H == 1) pf_next_unit_half(unit, nb, FR_Q4_0X16_BLOCK, h0, b);
        if (FR_PF_DIST && H == 2)
            FR_UNROLL for (int l = 0; l < 5; l++) pf_weights(blk + FR_PF_DIST + 64 * l, l2);
        FR_UNROLL for (int k = 0; k < 8; k++) { /* k < 4: low nibbles of P_k; else high ones of P_(k-4) */
            const int m = k & 3;
            __m256i w[2], aw[2];
            FR_UNROLL for (int hh = 0; hh < H; hh++) {
                const __m256i p = _mm256_loadu_si256((const __m256i *)(blk + 64 * m + 32 * (h0 + hh)));
                w[hh] = _mm256_shuffle_epi8(table, _mm256_and_si256(k < 4 ? p : _mm256_srli_epi16(p, 4), m4));
                aw[hh] = _mm256_sign_epi8(w[hh], w[hh]);
            }
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m256i y = bcast32(yq[t] + b * 32 + (k < 4 ? 0 : 16) + 4 * m);
                FR_UNROLL for (int hh = 0; hh < H; hh++) {
                    const __m256i p = _mm256_maddubs_epi16(aw[hh], _mm256_sign_epi8(y, w[hh]));
                    s[hh * T + t] = _mm256_add_epi32(s[hh * T + t], _mm256_madd_epi16(p, ones));
                    FR_KEEP(s[hh * T + t]);
                }
            }
        }
        FR_UNROLL for (int hh = 0; hh < H; hh++)
            block_end(blk + FR_Q4_0X16_D + 16 * (h0 + hh), b, yd, s + hh * T, T, acc + hh * T);
    }
    store_halves(acc, h0, H, T, out);
}

void fr_gemm_iq4_nlx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(iq4_nlx16, nb, unit, acts, T, out);
}

/* fr_gemm_quantize_row (gemm.c, the reference) in one pass: each block is quantized straight
 * into the row (the bytes of fr_from_float_q8_0 / _q8_1, as fr_quantize_q8_block_avx2 gives
 * them), its scale widened from fp16, and its offset word from the values in registers: the
 * sum the quantizer returns, and for Q4_0 / Q5_0 the sum over positions j % 4 in {0, 1} by one
 * maddubs with 1, 1, 0, 0 bytes (the rest is the other half). */
void fr_gemm_quantize_row_avx2(int type, const float *x, void *dst, int64_t n_in) {
    const int64_t nb = n_in / 32;
    int8_t *q = dst;
    float *d = (float *)(q + nb * 32);
    int32_t *c = (int32_t *)(q + nb * 36);
    const bool q81 = type == FR_TYPE_Q4_1 || type == FR_TYPE_Q5_1;
    const bool whole = type == FR_TYPE_Q8_0 || type == FR_TYPE_IQ4_NL;
    const int k = type == FR_TYPE_Q5_0 ? -16 : -8;
    const __m256i first2 = _mm256_set1_epi32(0x0101), ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        fr_f16 dh;
        float dd;
        int8_t *qs = q + b * 32;
        const int sum = fr_quantize_q8_block_avx2(x + b * 32, &dh, qs, &dd);
        d[b] = _cvtsh_ss(dh);
        if (q81) {
            const float sy = _cvtsh_ss(_cvtss_sh((float)sum * dd, _MM_FROUND_TO_NEAREST_INT));
            memcpy(&c[b], &sy, 4);
        } else if (whole) {
            c[b] = -128 * sum;
        } else {
            const __m256i v = _mm256_loadu_si256((const __m256i *)qs);
            const int s0 = fr_hsum_epi32_avx2(_mm256_madd_epi16(_mm256_maddubs_epi16(first2, v), ones));
            const uint32_t lo = (uint16_t)(int16_t)(k * s0), hi = (uint16_t)(int16_t)(k * (sum - s0));
            c[b] = (int32_t)(lo | hi << 16);
        }
    }
}

/* |w| of a Q8_0 weight vector: sign(w, w), or (SM, sign-magnitude units: FR_UNITS_Q8_SM) the
 * low 7 bits, an op off the multiply ports. sign(y, w) needs no change: the byte is negative,
 * zero or positive as w is. (AVX2 kbench Q8_0 2048 x 5632, 512 tokens, one thread, the and
 * against the sign, 4 rounds alternated: 60.5-62.1 -> 64.4-66.9 GMAC/s.) */
FR_INLINE __m256i q8_abs(__m256i w, const int SM) {
    return SM ? _mm256_and_si256(w, _mm256_set1_epi8(0x7f)) : _mm256_sign_epi8(w, w);
}

/* Both halves of a unit (h0 = 0, H = 2) in one pass */
FR_INLINE void q8_0x16_body(int64_t nb, const void *unit, const void *const *acts, const int T, float *out,
                           const int SM) {
    enum { h0 = 0, H = 2 };
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T]; /* unused: this kernel keeps the signs */
    split_acts(acts, T, nb, yq, yd, yc);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[2 * FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < H * T; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q8_0X16_BLOCK;
        __m256i s[2 * FR_GEMM_MAX_T];
        FR_UNROLL for (int v = 0; v < H * T; v++) s[v] = _mm256_setzero_si256();
        if (FR_PF_IN_ORDER(T) && h0 == 0)
            FR_UNROLL for (int l = 0; l < 9; l++) pf_weights(blk + FR_PF_DIST + 64 * l, false);
        FR_UNROLL for (int k = 0; k < 8; k++) {
            __m256i w[2], aw[2];
            FR_UNROLL for (int hh = 0; hh < H; hh++) {
                w[hh] = _mm256_loadu_si256((const __m256i *)(blk + 64 * k + 32 * (h0 + hh)));
                aw[hh] = q8_abs(w[hh], SM);
            }
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m256i y = bcast32(yq[t] + b * 32 + 4 * k);
                FR_UNROLL for (int hh = 0; hh < H; hh++) {
                    const __m256i p = _mm256_maddubs_epi16(aw[hh], _mm256_sign_epi8(y, w[hh]));
                    s[hh * T + t] = _mm256_add_epi32(s[hh * T + t], _mm256_madd_epi16(p, ones));
                    FR_KEEP(s[hh * T + t]);
                }
            }
        }
        FR_UNROLL for (int hh = 0; hh < H; hh++)
            block_end(blk + FR_Q8_0X16_D + 16 * (h0 + hh), b, yd, s + hh * T, T, acc + hh * T);
    }
    store_halves(acc, h0, H, T, out);
}

FR_INLINE void q8_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    q8_0x16_body(nb, unit, acts, T, out, 0);
}

FR_INLINE void q8_0x16_sm(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    q8_0x16_body(nb, unit, acts, T, out, 1);
}

void fr_gemm_q8_0x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q8_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q8_0x16_avx2_sm(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q8_0x16_sm, nb, unit, acts, T, out);
}

/* FR_GEMM_STREAMS units for one token, each read as its own stream (block b of each unit in
 * turn), as the membw probe reads four. Each row gets the products, sums and FMAs of q8_0x16
 * with T = 1, in the same order. No FR_PF_IN_ORDER prefetch (12 KiB ahead): with several
 * streams it measured slower than without. prefetch_streams' (1 KiB ahead) where
 * fr_cpu_decode_streams_prefetch says. */
FR_INLINE void q8_0x16_streams(int64_t nb, const void *const *units, const void *act, float *out, const int SM,
                                const int PF) {
    enum { U = FR_GEMM_STREAMS };
    const fr_streams_in in = split_streams(units, act, nb);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[2 * U]; /* [2u + h]: unit u, half h */
    FR_UNROLL for (int v = 0; v < 2 * U; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_streams(&in, b, FR_Q8_0X16_BLOCK, PF);
        __m256i s[2 * U];
        FR_UNROLL for (int v = 0; v < 2 * U; v++) s[v] = _mm256_setzero_si256();
        FR_UNROLL for (int k = 0; k < 8; k++) {
            const __m256i y = bcast32(in.yq[0] + b * 32 + 4 * k);
            FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++) {
                const uint8_t *wp = in.u8[u] + b * FR_Q8_0X16_BLOCK + 64 * k + 32 * h;
                const __m256i w = _mm256_loadu_si256((const __m256i *)wp);
                const __m256i p = _mm256_maddubs_epi16(q8_abs(w, SM), _mm256_sign_epi8(y, w));
                s[2 * u + h] = _mm256_add_epi32(s[2 * u + h], _mm256_madd_epi16(p, ones));
                FR_KEEP(s[2 * u + h]);
            }
        }
        FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++)
            block_end(in.u8[u] + b * FR_Q8_0X16_BLOCK + FR_Q8_0X16_D + 16 * h, b, in.yd, s + 2 * u + h, 1,
                      acc + 2 * u + h);
    }
    FR_UNROLL for (int v = 0; v < 2 * U; v++) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

void fr_gemm_q8_0x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, q8_0x16_streams, nb, units, act, out, 0);
}

void fr_gemm_q8_0x16_streams_avx2_sm(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, q8_0x16_streams, nb, units, act, out, 1);
}

/* Q4_0, Q5_0, Q4_1 and Q5_1 for one token, FR_GEMM_STREAMS units read side by side (as the
 * Q8_0 form above): each half of each unit gets the steps of x4_0x16 with T = 1, in order. */
FR_INLINE void x4_0x16_streams(int64_t nb, const void *const *units, const void *act, float *out, const int Q5,
                               const int MIN, const int PF) {
    enum { U = FR_GEMM_STREAMS };
    const fr_streams_in in = split_streams(units, act, nb);
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const size_t bbytes =
        Q5 ? (MIN ? FR_Q5_1X16_BLOCK : FR_Q5_0X16_BLOCK) : (MIN ? FR_Q4_1X16_BLOCK : FR_Q4_0X16_BLOCK);
    __m256 acc[2 * U]; /* [2u + h]: unit u, half h */
    FR_UNROLL for (int v = 0; v < 2 * U; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_streams(&in, b, bbytes, PF);
        __m256i s[2 * U], w[2 * U];
        FR_UNROLL for (int v = 0; v < 2 * U; v++) s[v] = MIN ? _mm256_setzero_si256() : _mm256_set1_epi32(in.yc[0][b]);
        FR_UNROLL for (int m = 0; m < 4; m++) {
            const int8_t *y = in.yq[0] + b * 32 + 4 * m;
            const __m256i ylo = bcast32(y), yhi = bcast32(y + 16);
            FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++) {
                const uint8_t *blk = in.u8[u] + b * bbytes;
                const __m256i p = _mm256_loadu_si256((const __m256i *)(blk + 64 * m + 32 * h));
                __m256i lo = _mm256_and_si256(p, m4), hi = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);
                if (Q5) {
                    const __m256i hv = _mm256_loadu_si256((const __m256i *)(blk + FR_Q5_0X16_QH + 32 * h));
                    lo = _mm256_or_si256(lo, bit_to4(hv, 2 * m));
                    hi = _mm256_or_si256(hi, bit_to4(hv, 2 * m + 1));
                }
                __m256i *st = &s[2 * u + h];
                *st = _mm256_add_epi16(*st, _mm256_maddubs_epi16(lo, ylo));
                *st = _mm256_add_epi16(*st, _mm256_maddubs_epi16(hi, yhi));
                FR_KEEP(*st);
            }
            if (Q5 && MIN && m == 1)
                FR_UNROLL for (int v = 0; v < 2 * U; v++) {
                    w[v] = _mm256_madd_epi16(s[v], ones);
                    s[v] = _mm256_setzero_si256();
                }
        }
        FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++) {
            const int v = 2 * u + h;
            const uint8_t *blk = in.u8[u] + b * bbytes;
            s[v] = _mm256_madd_epi16(s[v], ones);
            if (Q5 && MIN) s[v] = _mm256_add_epi32(s[v], w[v]);
            if (MIN) {
                block_end(blk + (Q5 ? FR_Q5_1X16_D : FR_Q4_1X16_D) + 16 * h, b, in.yd, s + v, 1, acc + v);
                const uint8_t *mp = blk + (Q5 ? FR_Q5_1X16_M : FR_Q4_1X16_M) + 16 * h;
                const __m256 mx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)mp));
                acc[v] = _mm256_fmadd_ps(mx, _mm256_castsi256_ps(_mm256_set1_epi32(in.yc[0][b])), acc[v]);
            } else {
                block_end(blk + (Q5 ? FR_Q5_0X16_D : FR_Q4_0X16_D) + 16 * h, b, in.yd, s + v, 1, acc + v);
            }
        }
    }
    FR_UNROLL for (int v = 0; v < 2 * U; v++) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

void fr_gemm_q4_0x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 0, 0);
}

void fr_gemm_q5_0x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 1, 0);
}

void fr_gemm_q4_1x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 0, 1);
}

void fr_gemm_q5_1x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 1, 1);
}

/* IQ4_NL for one token, FR_GEMM_STREAMS units read side by side: each half of each unit gets
 * iq4_nlx16's steps with T = 1 (the same exact int32 sum per block, then the same block_end).
 * tinyllama IQ4_NL tg, FRUGAL_ISA=avx2, AMD EPYC VM, one unit at a time -> this kernel, token
 * by token alternated, medians of 144 tokens: 2 threads 54.33 -> 56.43, 54.28 -> 56.70, 55.08
 * -> 57.92 t/s; one thread 29.97 -> 30.85. (The AVX-512 VNNI form gains 20% there.) */
FR_INLINE void iq4_nlx16_streams(int64_t nb, const void *const *units, const void *act, float *out, const int PF) {
    enum { U = FR_GEMM_STREAMS };
    const fr_streams_in in = split_streams(units, act, nb);
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)fr_iq4nl_values));
    __m256 acc[2 * U]; /* [2u + h]: unit u, half h */
    FR_UNROLL for (int v = 0; v < 2 * U; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_streams(&in, b, FR_Q4_0X16_BLOCK, PF);
        __m256i s[2 * U];
        FR_UNROLL for (int v = 0; v < 2 * U; v++) s[v] = _mm256_setzero_si256();
        FR_UNROLL for (int m = 0; m < 4; m++) {
            const int8_t *y = in.yq[0] + b * 32 + 4 * m;
            const __m256i ylo = bcast32(y), yhi = bcast32(y + 16);
            FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++) {
                const uint8_t *blk = in.u8[u] + b * FR_Q4_0X16_BLOCK;
                const __m256i p = _mm256_loadu_si256((const __m256i *)(blk + 64 * m + 32 * h));
                const __m256i wl = _mm256_shuffle_epi8(table, _mm256_and_si256(p, m4));
                const __m256i wh = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(p, 4), m4));
                const __m256i pl = _mm256_maddubs_epi16(_mm256_sign_epi8(wl, wl), _mm256_sign_epi8(ylo, wl));
                const __m256i ph = _mm256_maddubs_epi16(_mm256_sign_epi8(wh, wh), _mm256_sign_epi8(yhi, wh));
                __m256i *st = &s[2 * u + h];
                *st = _mm256_add_epi32(*st, _mm256_madd_epi16(pl, ones));
                *st = _mm256_add_epi32(*st, _mm256_madd_epi16(ph, ones));
                FR_KEEP(*st);
            }
        }
        FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++) {
            const int v = 2 * u + h;
            block_end(in.u8[u] + b * FR_Q4_0X16_BLOCK + FR_Q4_0X16_D + 16 * h, b, in.yd, s + v, 1, acc + v);
        }
    }
    FR_UNROLL for (int v = 0; v < 2 * U; v++) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

void fr_gemm_iq4_nlx16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, iq4_nlx16_streams, nb, units, act, out);
}

/* ---- Q4_Kx16 and Q5_Kx16 ----
 * Per sub-block j (32 values) the eight maddubs of unsigned nibbles (0..15) times y sum in
 * int16 (at most 8 * 3840, exact), then madd with (sc, sc) pairs gives sc_j * dot_j per row
 * in int32; the mins use madd of (m_2i, m_2i+1) pairs with the (ysum_2i, ysum_2i+1) pairs.
 * Q5_K: bit j of the H_k vector's bytes, moved to bit 4, makes the values 0..31; maddubs
 * pairs are then at most 2 * 31 * 128, so four steps sum in int16 (31744, exact) before
 * each madd. Float: the reference's five operations per super-block, lane by lane. */
/* Sub-block j's scales of half h as (sc, sc) int16 pairs, one per row. */
FR_INLINE __m256i k4_scale_pairs(const uint8_t *blk, int j, int h) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(blk + FR_Q4_KX16_SC + 16 * j + 8 * h)));
    return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}

FR_INLINE void k4x16_units(int64_t nb, const void *const *units, const int U, const int h0, const int H,
                           const void *const *acts, const int T, float *out, const int Q5) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int8_t *ys[FR_GEMM_MAX_T];
    split_acts_k(acts, T, nb, yq, yd, ys);
    const bool l2 = pf_l2(T);
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    const size_t bbytes = Q5 ? FR_Q5_KX16_BLOCK : FR_Q4_KX16_BLOCK;
    __m256 accs[2 * FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < U * H * T; v++) accs[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) FR_UNROLL for (int u = 0; u < U; u++) {
        __m256 *acc = accs + u * H * T;
        const uint8_t *blk = (const uint8_t *)units[u] + b * bbytes;
        __m256i isum[2 * FR_GEMM_MAX_T];
        FR_UNROLL for (int v = 0; v < H * T; v++) isum[v] = _mm256_setzero_si256();
        if (FR_PF_DIST && H == 1) pf_next_unit_half(units[u], nb, bbytes, h0, b);
        if (FR_PF_DIST && Q5 && H == 2)
            FR_UNROLL for (int l = 0; l < 8; l++)
                pf_weights(blk + FR_Q5_KX16_QH + FR_PF_DIST + 64 * l, l2);
        /* JN sub-blocks per pass: with one activation row (decode) both nibbles of each load,
         * sub-blocks 2l and 2l + 1 as two independent chains; else one (registers) */
        const int JN = H * T <= 2 ? 2 : 1;
        for (int j = 0; j < 8; j += JN) {
            const uint8_t *q = blk + 512 * (j >> 1);
            if (FR_PF_DIST && !(j & 1) && H == 2)
                FR_UNROLL for (int l = 0; l < 8; l++) pf_weights(q + FR_PF_DIST + 64 * l, l2);
            __m256i s[2][2 * FR_GEMM_MAX_T];
            FR_UNROLL for (int jj = 0; jj < JN; jj++) FR_UNROLL for (int v = 0; v < H * T; v++)
                s[jj][v] = _mm256_setzero_si256();
            FR_UNROLL for (int k = 0; k < 8; k++) {
                __m256i nib[2][2];
                FR_UNROLL for (int hh = 0; hh < H; hh++) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(q + 64 * k + 32 * (h0 + hh)));
                    const __m256i hv = Q5 ? _mm256_loadu_si256((const __m256i *)(blk + FR_Q5_KX16_QH + 64 * k +
                                                                                   32 * (h0 + hh)))
                                          : _mm256_setzero_si256();
                    FR_UNROLL for (int jj = 0; jj < JN; jj++) {
                        const int js = j + jj;
                        nib[jj][hh] = _mm256_and_si256((js & 1) ? _mm256_srli_epi16(v, 4) : v, m4);
                        if (Q5) { /* bit js of each byte to bit 4 (16-bit shifts: js < 8 keeps bytes apart) */
                            const __m128i up = _mm_cvtsi32_si128(js < 4 ? 4 - js : 0);
                            const __m128i down = _mm_cvtsi32_si128(js < 4 ? 0 : js - 4);
                            const __m256i h5 = _mm256_and_si256(_mm256_srl_epi16(_mm256_sll_epi16(hv, up), down), b4);
                            nib[jj][hh] = _mm256_or_si256(nib[jj][hh], h5);
                        }
                    }
                }
                FR_UNROLL for (int t = 0; t < T; t++) FR_UNROLL for (int jj = 0; jj < JN; jj++) {
                    const __m256i y = bcast32(yq[t] + b * 256 + 32 * (j + jj) + 4 * k);
                    FR_UNROLL for (int hh = 0; hh < H; hh++) {
                        s[jj][hh * T + t] = _mm256_add_epi16(s[jj][hh * T + t], _mm256_maddubs_epi16(nib[jj][hh], y));
                        FR_KEEP(s[jj][hh * T + t]);
                    }
                }
                if (Q5 && k == 3) /* four steps of 0..31 values: widen before int16 could overflow */
                    FR_UNROLL for (int jj = 0; jj < JN; jj++) FR_UNROLL for (int hh = 0; hh < H; hh++) {
                        const __m256i scv = k4_scale_pairs(blk, j + jj, h0 + hh);
                        FR_UNROLL for (int t = 0; t < T; t++) {
                            const int v = hh * T + t;
                            isum[v] = _mm256_add_epi32(isum[v], _mm256_madd_epi16(s[jj][v], scv));
                            s[jj][v] = _mm256_setzero_si256();
                        }
                    }
            }
            /* (exact int32: the order of the adds does not change the sum) */
            FR_UNROLL for (int jj = 0; jj < JN; jj++) FR_UNROLL for (int hh = 0; hh < H; hh++) {
                const __m256i scv = k4_scale_pairs(blk, j + jj, h0 + hh);
                FR_UNROLL for (int t = 0; t < T; t++) {
                    isum[hh * T + t] = _mm256_add_epi32(isum[hh * T + t], _mm256_madd_epi16(s[jj][hh * T + t], scv));
                    FR_KEEP(isum[hh * T + t]);
                }
            }
        }
        if (FR_PF_DIST && h0 == 0)
            FR_UNROLL for (int l = 0; l < 5; l++) pf_weights(blk + 2048 + FR_PF_DIST + 64 * l, l2);
        FR_UNROLL for (int hh = 0; hh < H; hh++) {
            const int h = h0 + hh;
            __m256i msum[FR_GEMM_MAX_T];
            FR_UNROLL for (int t = 0; t < T; t++) msum[t] = _mm256_setzero_si256();
            FR_UNROLL for (int i = 0; i < 4; i++) {
                const __m256i mv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(blk + FR_Q4_KX16_MN + 32 * i + 16 * h)));
                FR_UNROLL for (int t = 0; t < T; t++)
                    msum[t] = _mm256_add_epi32(msum[t], _mm256_madd_epi16(mv, bcast32(ys[t] + b * 16 + 4 * i)));
            }
            const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + FR_Q4_KX16_D + 16 * h)));
            const __m256 dmx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + FR_Q4_KX16_DMIN + 16 * h)));
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m256 ydv = _mm256_broadcast_ss(yd[t] + b);
                const __m256 a = _mm256_mul_ps(_mm256_mul_ps(ydv, dx), _mm256_cvtepi32_ps(isum[hh * T + t]));
                const __m256 bb = _mm256_mul_ps(_mm256_mul_ps(ydv, dmx), _mm256_cvtepi32_ps(msum[t]));
                acc[hh * T + t] = _mm256_sub_ps(_mm256_add_ps(acc[hh * T + t], a), bb);
            }
        }
    }
    FR_UNROLL for (int u = 0; u < U; u++) store_halves(accs + u * H * T, h0, H, T, out + 16 * T * u);
}

/* Q4_K and Q5_K for one token, FR_GEMM_STREAMS units in turn a super-block at a time (16
 * registers do not hold four units' sums a vector at a time, as gemm_avx512vnni.c's do), each
 * unit's stream prefetched: each unit gets the steps of k4x16_units with U = 1, T = 1, in order.
 * FRUGAL_ISA=avx2, tinyllama Q4_K_M tg, 2 threads, builds alternated, 3 rounds: 28.6, 29.7,
 * 29.5 -> 31.1, 32.3, 31.1 t/s. The same for Q6_K gave nothing (31.4, 31.4, 31.0 -> 31.8,
 * 31.1, 29.6) and is not used (k6x16). */
void fr_gemm_q4_Kx16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    k4x16_units(nb, units, FR_GEMM_STREAMS, 0, 2, &act, 1, out, 0);
}

void fr_gemm_q5_Kx16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    k4x16_units(nb, units, FR_GEMM_STREAMS, 0, 2, &act, 1, out, 1);
}

FR_INLINE void q4_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    k4x16_units(nb, &unit, 1, 0, 2, acts, T, out, 0);
}

FR_INLINE void q5_Kx16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                       float *out) {
    k4x16_units(nb, &unit, 1, h0, H, acts, T, out, 1);
}

void fr_gemm_q4_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_Kx16, nb, unit, acts, T, out);
}

void fr_gemm_q5_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(q5_Kx16, nb, unit, acts, T, out);
}

/* ---- Q6_Kx16 and Q3_Kx16 ----
 * Per step the 6-bit values q + 32 (0..63) from a low-nibble vector and a 2-bit field of a
 * high-bits vector; maddubs by y gives pairs of at most 2 * 63 * 128, so two steps sum in
 * int16 (<= 32256, exact) before madd with the sub-block's (sc, sc) pairs widens them to
 * sc * partial in int32. The activation's offset word times the same pairs adds
 * -32 * sc * sum(y): isum ends at the reference's exact integer, then its float steps.
 * Q3_K: u = (2-bit field | third bit << 2) + 28 is the value + 32 as Q6_K's q + 32 is, at
 * most 35, so the same steps hold (maddubs pairs <= 2 * 35 * 128, two steps 17920).
 * Q2_K: u = q (0..3, scales the low nibbles), whose sub-block's four steps sum in int16
 * before one madd, and no offset; the mins' sum_j m_j * sum16_j comes from the offset words
 * (-32 * m_j * sum16_j, shifted back exactly), then Q4_K's five float steps, which are
 * fr_vec_dot_q2_K_ref's. */
enum { FR_K6, FR_K3, FR_K2, FR_K6V }; /* k6x16's kinds: Q6_K, Q3_K, Q2_K; Q6_K in the three-vector form */

FR_INLINE void k6x16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                     float *out, const int KIND) {
    const int Q3 = KIND == FR_K3, Q2 = KIND == FR_K2, V3 = KIND == FR_K6V; /* else Q6_K */
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts_k6(acts, T, nb, yq, yd, yc);
    const bool l2 = pf_l2(T);
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const __m256i m3 = _mm256_set1_epi8(3), m04 = _mm256_set1_epi8(4), c28 = _mm256_set1_epi8(28);
    const __m256i m63 = _mm256_set1_epi8(0x3f), m0c = _mm256_set1_epi8(0x0c);
    const size_t bbytes = Q2 ? FR_Q2_KX16_BLOCK : Q3 ? FR_Q3_KX16_BLOCK : FR_Q6_KX16_BLOCK;
    const size_t sc_at = Q2 ? FR_Q2_KX16_SC : Q3 ? FR_Q3_KX16_SC : FR_Q6_KX16_SC;
    __m256 acc[2 * FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < H * T; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * bbytes;
        __m256i isum[2 * FR_GEMM_MAX_T];
        FR_UNROLL for (int v = 0; v < H * T; v++) isum[v] = _mm256_setzero_si256();
        if (FR_PF_DIST && H == 1) pf_next_unit_half(unit, nb, bbytes, h0, b);
        /* unrolled: the shifts that pick g's bits become constants. kbench 2048 x 512 (in L2), one
         * token, one thread: Q6_K 23.5 -> 40.6 GMAC/s, Q3_K 24.7 -> 31.4; 2048 x 5632, 256 tokens,
         * 2 threads: Q6_K 116 -> 135; tinyllama Q4_K_M pp512 149.0 -> 157.5 t/s. (Decode streams,
         * a super-block of four units in turn, still read slower for Q6_K and Q3_K: kbench
         * 2048 x 131072, one token, 2 threads, Q6_K 26.0-26.5 -> 23.6-24.7 GMAC/s.) */
        FR_UNROLL for (int g = 0; g < 8; g++) { /* 32 values: sub-blocks 2g and 2g + 1 */
            /* the stream ahead: Q6_K's low and high vectors; Q3_K's 2-bit and third-bit ones;
             * Q2_K's 2-bit ones */
            const bool pf_lo = Q3 || Q2 ? !(g & 3) : !(g & 1), pf_hi = Q2 ? false : Q3 ? g == 0 : !(g & 3);
            const size_t lo_at = 512 * (size_t)(Q3 || Q2 ? g >> 2 : g >> 1);
            const size_t hi_at = Q3 ? FR_Q3_KX16_HM : FR_Q6_KX16_QH + 512 * (size_t)(g >> 2);
            if (FR_PF_DIST && H == 2 && pf_lo)
                FR_UNROLL for (int l = 0; l < 8; l++)
                    pf_weights(blk + lo_at + FR_PF_DIST + 64 * l, l2);
            if (FR_PF_DIST && H == 2 && pf_hi)
                FR_UNROLL for (int l = 0; l < 8; l++)
                    pf_weights(blk + hi_at + FR_PF_DIST + 64 * l, l2);
            /* Q3_K: the 2-bit field i = g & 3 to bits 0-1, bit g of the third bits to bit 2 */
            const __m128i q2s = _mm_cvtsi32_si128(2 * (g & 3));
            const __m128i hup = _mm_cvtsi32_si128(g < 2 ? 2 - g : 0), hdown = _mm_cvtsi32_si128(g > 2 ? g - 2 : 0);
            FR_UNROLL for (int sb = 0; sb < 2; sb++) { /* sub-block 2g + sb: steps 4sb .. 4sb + 3 */
                const int j = 2 * g + sb;
                __m256i scp[2];
                FR_UNROLL for (int hh = 0; hh < H; hh++) {
                    __m128i v = _mm_loadl_epi64((const __m128i *)(blk + sc_at + 16 * j + 8 * (h0 + hh)));
                    if (Q2) v = _mm_and_si128(v, _mm_set1_epi8(0x0f)); /* the scale nibble */
                    scp[hh] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(v, v)); /* (sc_r, sc_r) pairs */
                    FR_UNROLL for (int t = 0; t < T; t++) { /* Q2_K's u = q needs no offset */
                        __m256i *is = &isum[hh * T + t];
                        const __m256i off = _mm256_set1_epi32(yc[t][b * 16 + j]);
                        if (!Q2) *is = _mm256_add_epi32(*is, _mm256_madd_epi16(scp[hh], off));
                    }
                }
                __m256i p2[2 * FR_GEMM_MAX_T]; /* Q2_K: the first half's int16 sums */
                FR_UNROLL for (int k2 = 0; k2 < 4; k2 += 2) {
                    __m256i q[2][2];
                    FR_UNROLL for (int e = 0; e < 2; e++) {
                        const int k = 4 * sb + k2 + e;
                        FR_UNROLL for (int hh = 0; hh < H; hh++) {
                            const int h = h0 + hh, i = g & 3;
                            if (Q2) { /* u = q (0..3): four steps of pairs sum in int16 (<= 3072) */
                                const uint8_t *qp = blk + 64 * (8 * (g >> 2) + k) + 32 * h;
                                const __m256i qv = _mm256_loadu_si256((const __m256i *)qp);
                                q[e][hh] = _mm256_and_si256(_mm256_srl_epi16(qv, q2s), m3);
                                continue;
                            }
                            if (Q3) {
                                const uint8_t *qp = blk + 64 * (8 * (g >> 2) + k) + 32 * h;
                                const uint8_t *hp = blk + FR_Q3_KX16_HM + 64 * k + 32 * h;
                                const __m256i qv = _mm256_loadu_si256((const __m256i *)qp);
                                const __m256i hv = _mm256_loadu_si256((const __m256i *)hp);
                                const __m256i q2 = _mm256_and_si256(_mm256_srl_epi16(qv, q2s), m3);
                                const __m256i h3 = _mm256_srl_epi16(_mm256_sll_epi16(hv, hup), hdown);
                                q[e][hh] = _mm256_add_epi8(_mm256_or_si256(q2, _mm256_and_si256(h3, m04)), c28);
                                continue;
                            }
                            /* FR_UNITS_Q6_3V: sets 4Q + i, i < 3, in bits 0-5 of vector i (one and),
                             * set 4Q + 3 from bits 6-7 of all three (8 ops): 11 ops per four sets
                             * against the 17 below. (kbench 2048 x 5632, one thread, 3 rounds
                             * alternated, GMAC/s: T = 1 27.7-30.0 -> 32.2-34.6, T = 2 38.5-39.0 ->
                             * 45.7-46.1, T = 4 53.0-53.5 -> 57.5, 512 tokens 51.1-55.6 -> 59.4-60.1;
                             * 2048 x 102400 from DRAM, 2 threads, one round: T = 1 32.7 -> 33.9,
                             * T = 2 50.9 -> 63.9. End to end within the VM's noise: 53rd session's
                             * results.) */
                            if (V3) {
                                const uint8_t *at = blk + 64 * k + 32 * h;
                                const int Q = g >> 2;
                                const __m256i A = _mm256_loadu_si256((const __m256i *)(at + 1024 * Q));
                                const __m256i B = _mm256_loadu_si256((const __m256i *)(at + 1024 * Q + 512));
                                const __m256i C = _mm256_loadu_si256((const __m256i *)(at + FR_Q6_KX16_QH + 512 * Q));
                                if (i < 3) {
                                    q[e][hh] = _mm256_and_si256(i == 0 ? A : i == 1 ? B : C, m63);
                                    continue;
                                }
                                /* set 4Q + 3: its bits 0-1, 2-3 and 4-5 in bits 6-7 of A, B and C */
                                const __m256i a = _mm256_and_si256(_mm256_srli_epi16(A, 6), m3);
                                const __m256i bv = _mm256_and_si256(_mm256_srli_epi16(B, 4), m0c);
                                const __m256i c = _mm256_and_si256(_mm256_srli_epi16(C, 2), m30);
                                q[e][hh] = _mm256_or_si256(_mm256_or_si256(a, bv), c);
                                continue;
                            }
                            const __m256i lv = _mm256_loadu_si256((const __m256i *)(blk + 64 * (8 * (g >> 1) + k) + 32 * h));
                            const __m256i hv = _mm256_loadu_si256(
                                (const __m256i *)(blk + FR_Q6_KX16_QH + 64 * (8 * (g >> 2) + k) + 32 * h));
                            const __m256i nib = _mm256_and_si256((g & 1) ? _mm256_srli_epi16(lv, 4) : lv, m4);
                            const __m256i hs = i == 0 ? _mm256_slli_epi16(hv, 4) : i == 1 ? _mm256_slli_epi16(hv, 2)
                                               : i == 2                     ? hv
                                                                            : _mm256_srli_epi16(hv, 2);
                            q[e][hh] = _mm256_or_si256(nib, _mm256_and_si256(hs, m30));
                        }
                    }
                    FR_UNROLL for (int t = 0; t < T; t++) {
                        const int8_t *y = yq[t] + b * 256 + 32 * g + 4 * (4 * sb + k2);
                        const __m256i y0 = bcast32(y), y1 = bcast32(y + 4);
                        FR_UNROLL for (int hh = 0; hh < H; hh++) {
                            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(q[0][hh], y0),
                                                         _mm256_maddubs_epi16(q[1][hh], y1));
                            if (Q2 && k2 == 0) { /* Q2_K: the sub-block's two halves sum first */
                                p2[hh * T + t] = p;
                                continue;
                            }
                            if (Q2) p = _mm256_add_epi16(p2[hh * T + t], p);
                            __m256i *is = &isum[hh * T + t];
                            *is = _mm256_add_epi32(*is, _mm256_madd_epi16(p, scp[hh]));
                            FR_KEEP(*is);
                        }
                    }
                }
            }
        }
        if (FR_PF_DIST && H == 2)
            FR_UNROLL for (int l = 0; l < 5; l++)
                pf_weights(blk + sc_at + FR_PF_DIST + 64 * l, l2);
        if (Q2) { /* msum = sum_j m_j * sum16_j: the offset words give -32 * m_j * sum16_j, exactly */
            FR_UNROLL for (int hh = 0; hh < H; hh++) {
                const int h = h0 + hh;
                __m256i ms[FR_GEMM_MAX_T];
                FR_UNROLL for (int t = 0; t < T; t++) ms[t] = _mm256_setzero_si256();
                for (int j = 0; j < 16; j++) {
                    const __m128i v = _mm_loadl_epi64((const __m128i *)(blk + FR_Q2_KX16_SC + 16 * j + 8 * h));
                    const __m128i mn = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0f));
                    const __m256i mp = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(mn, mn)); /* (m_r, m_r) pairs */
                    FR_UNROLL for (int t = 0; t < T; t++)
                        ms[t] = _mm256_add_epi32(ms[t], _mm256_madd_epi16(mp, _mm256_set1_epi32(yc[t][b * 16 + j])));
                }
                const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + FR_Q2_KX16_D + 16 * h)));
                const __m256 dmx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + FR_Q2_KX16_DMIN + 16 * h)));
                FR_UNROLL for (int t = 0; t < T; t++) {
                    const __m256i msum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_srai_epi32(ms[t], 5));
                    const __m256 ydv = _mm256_broadcast_ss(yd[t] + b);
                    const __m256 a = _mm256_mul_ps(_mm256_mul_ps(ydv, dx), _mm256_cvtepi32_ps(isum[hh * T + t]));
                    const __m256 bb = _mm256_mul_ps(_mm256_mul_ps(ydv, dmx), _mm256_cvtepi32_ps(msum));
                    acc[hh * T + t] = _mm256_sub_ps(_mm256_add_ps(acc[hh * T + t], a), bb);
                }
            }
            continue;
        }
        FR_UNROLL for (int hh = 0; hh < H; hh++) {
            const uint8_t *dp = blk + (Q3 ? FR_Q3_KX16_D : FR_Q6_KX16_D) + 16 * (h0 + hh);
            const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dp));
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m256 d = _mm256_mul_ps(_mm256_broadcast_ss(yd[t] + b), dx);
                acc[hh * T + t] = _mm256_add_ps(acc[hh * T + t], _mm256_mul_ps(d, _mm256_cvtepi32_ps(isum[hh * T + t])));
            }
        }
    }
    store_halves(acc, h0, H, T, out);
}

FR_INLINE void q2_Kx16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                       float *out) {
    k6x16(nb, unit, h0, H, acts, T, out, FR_K2);
}

FR_INLINE void q6_Kx16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                       float *out) {
    k6x16(nb, unit, h0, H, acts, T, out, FR_K6);
}

FR_INLINE void q3_Kx16(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts, const int T,
                       float *out) {
    k6x16(nb, unit, h0, H, acts, T, out, FR_K3);
}

void fr_gemm_q6_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(q6_Kx16, nb, unit, acts, T, out);
}

FR_INLINE void q6_Kx16_3v(int64_t nb, const void *unit, const int h0, const int H, const void *const *acts,
                          const int T, float *out) {
    k6x16(nb, unit, h0, H, acts, T, out, FR_K6V);
}

void fr_gemm_q6_Kx16_avx2_3v(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(q6_Kx16_3v, nb, unit, acts, T, out);
}

void fr_gemm_q3_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(q3_Kx16, nb, unit, acts, T, out);
}

void fr_gemm_q2_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_HALVES_BY_T(q2_Kx16, nb, unit, acts, T, out);
}

/* ---- F16 weights x F32 activations (the F16-rounded values, widened exactly) ----
 * fr_vec_dot_f16's order: four 8-lane accumulators a_j take elements 32i + 8j .. + 7, the
 * products are exact in float (so FMA = mul + add), then hsum((a0 + a1) + (a2 + a3)) and a
 * sequential tail. One weight row and up to 3 activation rows: 12 accumulators. */

/* R weight rows x T activation rows. The four accumulator sets (j) of all R x T outputs
 * would need 48 registers: instead the row is cut in chunks of 256 values (L1-resident)
 * and each chunk makes four passes, one per j, with the R x T accumulators of that j kept
 * in memory between passes. Each accumulator still sees its products in the same order.
 * 256 rather than 512 (kbench F16, 512 tokens, 2 threads, 3 alternated runs): 5632 x 2048
 * 93-99 -> 105-110 GMAC/s, 2048 x 5632 within the noise (108-114 -> 110-113); 128 and 1024
 * were slower. */
#define F16_KC 256
/* KIND: FR_W_F16, FR_W_BF16 or FR_W_F32 (simd_avx2.h). All three follow their vec_dot's order:
 * one FMA per element into the lane's partial sum (exact products for F16 and BF16; F32's
 * vec_dot fuses too). */

/* weights i .. i + 7 of a row as floats: F16 (cvtph), BF16 (the upper half of a float), F32 */
FR_INLINE __m256 wide8(const void *row, int64_t i, const int KIND) {
    if (KIND == FR_W_F32) return _mm256_loadu_ps((const float *)row + i);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + i));
    if (KIND == FR_W_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

FR_INLINE void f16_RxT(int64_t i0, int64_t i1, int64_t n, const void *const *x, const float *const *y, const int R,
                       const int T, float *state, int first, int last, float *out, const int KIND) {
    const size_t es = KIND == FR_W_F32 ? 4 : 2;
    __m256 st[4][3][4]; /* [j][r][t] */
    FR_UNROLL for (int j = 0; j < 4; j++) FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        st[j][r][t] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(state + ((j * 3 + r) * 4 + t) * 8);
    const int64_t n32 = n & ~(int64_t)31;
    if (T == 1 && first && last) { /* decode: all four sets fit (R x 4 <= 12), one streaming pass */
        __m256 a[3][4];
        FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int j = 0; j < 4; j++) a[r][j] = _mm256_setzero_ps();
        /* bytes ahead in each row (fr_cpu_decode_f16_prefetch: 8 KiB on Intel, none on AMD's
         * family 0x19, 2 KiB elsewhere) */
        const size_t pf = fr_cpu_decode_f16_prefetch();
        for (int64_t i = i0; i < i1; i += 32) {
            if (pf) {
                FR_UNROLL for (int r = 0; r < R; r++)
                    _mm_prefetch((const char *)x[r] + (size_t)i * es + pf, _MM_HINT_T0);
                if (KIND == FR_W_F32) /* 128 bytes per row and step */
                    FR_UNROLL for (int r = 0; r < R; r++)
                        _mm_prefetch((const char *)x[r] + (size_t)i * es + pf + 64, _MM_HINT_T0);
            }
            FR_UNROLL for (int j = 0; j < 4; j++) {
                const __m256 yv = _mm256_loadu_ps(y[0] + i + 8 * j);
                FR_UNROLL for (int r = 0; r < R; r++)
                    a[r][j] = _mm256_fmadd_ps(wide8(x[r], i + 8 * j, KIND), yv, a[r][j]);
            }
        }
        FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int j = 0; j < 4; j++) st[j][r][0] = a[r][j];
    } else
    for (int64_t k0 = i0; k0 < i1; k0 += F16_KC) {
        const int64_t k1 = FR_MIN(k0 + F16_KC, i1);
        FR_UNROLL for (int j = 0; j < 4; j++) {
            __m256 a[3][4];
            FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++) a[r][t] = st[j][r][t];
            for (int64_t i = k0 + 8 * j; i < k1; i += 32) {
                __m256 xv[3];
                FR_UNROLL for (int r = 0; r < R; r++) xv[r] = wide8(x[r], i, KIND);
                FR_UNROLL for (int t = 0; t < T; t++) {
                    const __m256 yv = _mm256_loadu_ps(y[t] + i);
                    FR_UNROLL for (int r = 0; r < R; r++) a[r][t] = _mm256_fmadd_ps(xv[r], yv, a[r][t]);
                }
            }
            FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++) st[j][r][t] = a[r][t];
        }
    }
    if (!last) {
        FR_UNROLL for (int j = 0; j < 4; j++) FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
            _mm256_storeu_ps(state + ((j * 3 + r) * 4 + t) * 8, st[j][r][t]);
        return;
    }
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++) {
        float sum = fr_hsum8_avx2(_mm256_add_ps(_mm256_add_ps(st[0][r][t], st[1][r][t]), _mm256_add_ps(st[2][r][t], st[3][r][t])));
        for (int64_t k = n32; k < n; k++) sum += fr_wide1_avx2(x[r], k, KIND) * y[t][k];
        out[r * T + t] = sum;
    }
}

#define F16_CASE(R, T, KIND) \
    case R * 8 + T: f16_RxT(i0, i1, n, x, y, R, T, st, first, last, out, KIND); break;
#define F16_CASES(KIND) \
    switch (R * 8 + T) { \
        F16_CASE(1, 1, KIND) F16_CASE(1, 2, KIND) F16_CASE(1, 3, KIND) F16_CASE(1, 4, KIND) \
        F16_CASE(2, 1, KIND) F16_CASE(2, 2, KIND) F16_CASE(2, 3, KIND) F16_CASE(2, 4, KIND) \
        F16_CASE(3, 1, KIND) F16_CASE(3, 2, KIND) F16_CASE(3, 3, KIND) F16_CASE(3, 4, KIND) \
    default: break; \
    }
void fr_gemm_f16_avx2_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y, int T,
                           float *st, int first, int last, float *out) {
    F16_CASES(FR_W_F16)
}

void fr_gemm_bf16_avx2_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                            int T, float *st, int first, int last, float *out) {
    F16_CASES(FR_W_BF16)
}

void fr_gemm_f32_avx2_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                           int T, float *st, int first, int last, float *out) {
    F16_CASES(FR_W_F32)
}
#undef F16_CASES
#undef F16_CASE

/* ---- prompts over converted panels (fr_gemm_f16's prompt path; layouts in gemm.h) ----
 * The 8-lane form of gemm_avx512.c's panels: four quarter passes (a_j alone per pass), so
 * R x T accumulators and the R weight and one activation vector fit the 16 registers. The
 * F16 form (h16) keeps panel and activations as F16 and widens them as it loads: the same
 * floats, half the bytes to hold in L2 and to stream (vcvtph2ps from memory costs no FMA
 * slot on the AMD Zen 3: a 3 x 4 tile in L1 ran 49 GMAC/s a core either way). */

/* 8 values at v (floats, or F16 if h16) as floats */
FR_INLINE __m256 panel_load8(const void *v, size_t i, const int h16) {
    return h16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)v + i)))
               : _mm256_loadu_ps((const float *)v + i);
}

/* The R x T accumulators a over m chunks of a pass from value at of the activation rows yp
 * (at * R of the panel) on */
FR_INLINE void panel_chunks(__m256 a[3][4], size_t at, int64_t m, const void *panel, const int R,
                            const void *const *yp, const int T, const int h16) {
    for (int64_t c = 0; c < m; c++) {
        __m256 xv[3];
        FR_UNROLL for (int r = 0; r < R; r++) xv[r] = panel_load8(panel, at * (size_t)R + (size_t)(c * R + r) * 8, h16);
        FR_UNROLL for (int t = 0; t < T; t++) {
            __m256 yv = panel_load8(yp[t], at + (size_t)c * 8, h16);
            __asm__("" : "+x"(yv));
            FR_UNROLL for (int r = 0; r < R; r++) a[r][t] = _mm256_fmadd_ps(xv[r], yv, a[r][t]);
        }
    }
}

/* One quarter pass (its part of panel and activations): R x T accumulators (f16_RxT's a_q)
 * over chunks [c0, c1), from st (or zero: first) back into st. */
FR_INLINE void panel_RxT(int64_t c0, int64_t c1, const void *panel, const int R, const void *const *yp, const int T,
                         float *st, int first, const int h16) {
    __m256 a[3][4];
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        a[r][t] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(st + (r * T + t) * 8);
    panel_chunks(a, (size_t)c0 * 8, c1 - c0, panel, R, yp, T, h16);
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        _mm256_storeu_ps(st + (r * T + t) * 8, a[r][t]);
}

/* The tail n32 .. n of each of the R x T sums in out (yp's tail values floats, or F16 if
 * h16), added after the sums as f16_RxT adds it. */
FR_INLINE void panel_tail(int R, int T, const void *const *x, int type, int64_t n32, int64_t n, const void *const *yp,
                          float *out, size_t out_stride, const int h16) {
    const int kind = fr_w_kind(type);
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float sum = out[(size_t)t * out_stride + (size_t)r];
            for (int64_t k = n32; k < n; k++)
                sum += fr_wide1_avx2(x[r], k, kind) *
                       (h16 ? fr_f16_to_f32(((const uint16_t *)yp[t])[k]) : ((const float *)yp[t])[k]);
            out[(size_t)t * out_stride + (size_t)r] = sum;
        }
}

/* The last quarter pass (q = 3) with the finish: its accumulators a_3 stay in registers and
 * join the other passes' from st[0 .. 2] as f16_RxT adds them, (a_0 + a_1) + (a_2 + a_3)
 * (st[3] holds a_3 of the ranges before, unless first); the R x T sums go through hsum8 eight
 * at a time (fr_hsum8x8_avx2: the same bits) to out. */
FR_INLINE void panel_RxT_last(int64_t c0, int64_t c1, const void *panel, const int R, const void *const *yq,
                              const int T, const float *const *st, int first, float *out, size_t out_stride,
                              const int h16) {
    __m256 a[3][4];
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        a[r][t] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(st[3] + (r * T + t) * 8);
    panel_chunks(a, (size_t)c0 * 8, c1 - c0, panel, R, yq, T, h16);
    const int RT = R * T, nv = RT <= 8 ? 8 : 16; /* (padded with the first sum) */
    __m256 v[16];
    float sums[16];
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++) {
        const int o = (r * T + t) * 8;
        const __m256 s01 = _mm256_add_ps(_mm256_loadu_ps(st[0] + o), _mm256_loadu_ps(st[1] + o));
        v[r * T + t] = _mm256_add_ps(s01, _mm256_add_ps(_mm256_loadu_ps(st[2] + o), a[r][t]));
    }
    FR_UNROLL for (int o = RT; o < nv; o++) v[o] = v[0];
    fr_hsum8x8_avx2(v, sums);
    if (RT > 8) fr_hsum8x8_avx2(v + 8, sums + 8);
    FR_UNROLL for (int r = 0; r < R; r++) FR_UNROLL for (int t = 0; t < T; t++)
        out[(size_t)t * out_stride + (size_t)r] = sums[r * T + t];
}

#define PANEL_CASE(R, T) \
    case R * 8 + T: panel_RxT(c0, c1, panel, R, yp, T, st, first, H16); break;
#define PANEL_LAST_CASE(R, T) \
    case R * 8 + T: panel_RxT_last(c0, c1, panel, R, yq, T, st, first, out, out_stride, H16); break;
/* the R x T tiles (R <= 3, T <= 4), one CASE(R, T) each */
#define PANEL_SWITCH(CASE) \
    switch (R * 8 + T) { \
        CASE(1, 1) CASE(1, 2) CASE(1, 3) CASE(1, 4) CASE(2, 1) CASE(2, 2) CASE(2, 3) CASE(2, 4) \
        CASE(3, 1) CASE(3, 2) CASE(3, 3) CASE(3, 4) \
    default: break; \
    }
#define PANEL_LAST_CASES \
    PANEL_SWITCH(PANEL_LAST_CASE) \
    if (n > n32) panel_tail(R, T, x, type, n32, n, yp, out, out_stride, H16);
void fr_gemm_panel_last_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yq, int T,
                             const float *const *st, int first, const void *const *x, int type, int64_t n32,
                             int64_t n, const void *const *yp, float *out, size_t out_stride) {
#define H16 0
    PANEL_LAST_CASES
#undef H16
}

void fr_gemm_panel_last_h16_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yq, int T,
                                 const float *const *st, int first, const void *const *x, int type, int64_t n32,
                                 int64_t n, const void *const *yp, float *out, size_t out_stride) {
#define H16 1
    PANEL_LAST_CASES
#undef H16
}
#undef PANEL_LAST_CASES
#undef PANEL_LAST_CASE
#define PANEL_CASES PANEL_SWITCH(PANEL_CASE)
void fr_gemm_panel_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yp, int T, float *st,
                        int first) {
#define H16 0
    PANEL_CASES
#undef H16
}

void fr_gemm_panel_h16_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yp, int T, float *st,
                            int first) {
#define H16 1
    PANEL_CASES
#undef H16
}
#undef PANEL_CASES
#undef PANEL_CASE
#undef PANEL_SWITCH

void fr_gemm_f32_avx2(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out) {
    fr_gemm_f32_avx2_part(0, n & ~(int64_t)31, n, x, R, y, T, NULL, 1, 1, out);
}

void fr_gemm_f16_avx2(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out) {
    fr_gemm_f16_avx2_part(0, n & ~(int64_t)31, n, x, R, y, T, NULL, 1, 1, out);
}

void fr_gemm_bf16_avx2(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out) {
    fr_gemm_bf16_avx2_part(0, n & ~(int64_t)31, n, x, R, y, T, NULL, 1, 1, out);
}

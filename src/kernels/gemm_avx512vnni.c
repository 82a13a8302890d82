/* gemm_avx512vnni.c: the packed kernels of every type in gemm.h on 512-bit registers with
 * AVX512-VNNI (compiled with -mavx512f -mavx512bw -mavx512vnni; called only where
 * fr_cpu_has(FR_ISA_AVX512VNNI)). Layouts and the result order are those of gemm.h.
 *
 * One 64-byte vector of a unit fills a register: lane r is unit row r, exactly as each lane
 * of the 256-bit kernels is one row of a half, and one activation broadcast serves 16 rows.
 * vpdpbusd adds the four u8 x s8 products of each lane to it in int32 without saturation, so
 * every block sum is the same exact integer as in gemm_avx2.c / gemm_vnni.c, and the float
 * steps after it are the same: results are bit-identical.
 *   Q4_0: nibbles 0..15 times y; lanes start at -8 * (sum of the block's y), the sum of the
 *         two int16 halves of the Q4_0 offset word (gemm.h). Q5_0: values 0..31 and -16.
 *   Q8_0: u = w ^ 0x80 = w + 128 times y; lanes start at the Q8_0 offset word -128 * sum(y). */
#include "gemm_simd.h"
#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* 4 activation bytes in every dword of a 512-bit register. */
FR_INLINE __m512i bcast32x16(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* s + dpbusd(q, the 4 bytes at p broadcast), the broadcast folded into the instruction's
 * memory operand ({1to16}), which gcc does not form from a set1 of a loaded dword (clang
 * does, in every kernel).
 * Where each broadcast serves one dpbusd (k6x16_units: U = 1) it saves the separate
 * broadcast op. kbench, one thread, 2048 x 1024 (in L2), GMAC/s, 3 rounds alternated: Q6_K
 * 4 tokens 129-146 -> 150-163, 1 token 69-70 -> 69-76, Q3_K 4 tokens 140-173 -> 166-181;
 * 2048 x 65536 (from DRAM), 4 tokens, 2 threads: Q6_K 190-212 -> 261-270; Q6_K prompts (2048 x
 * 5632, 512 tokens) 160-165 -> 174. The Q4_0, Q8_0 and Q4_K kernels measured even or slower
 * with it (Q4_K 1 token 160-164 -> 155-158) and keep the broadcasts. */
typedef int32_t fr_i32_alias __attribute__((may_alias));
FR_INLINE __m512i dpbusd_bcast(__m512i s, __m512i q, const int8_t *p) {
    __asm__("vpdpbusd %[m]%{1to16%}, %[q], %[s]" : [s] "+v"(s) : [q] "v"(q), [m] "m"(*(const fr_i32_alias *)p));
    return s;
}

/* Software prefetch of the unit's stream, `dist` bytes ahead of block offset `off` (the
 * K-quants: FR_PF_DIST or FR_PF_DIST_K); prefetch_unit: FR_PF_DIST ahead. */
FR_INLINE void prefetch_unit_at(const uint8_t *u, size_t off, int lines, const size_t dist) {
    FR_UNROLL for (int l = 0; l < lines; l++) _mm_prefetch((const char *)u + off + dist + 64 * l, _MM_HINT_T0);
}

FR_INLINE void prefetch_unit(const uint8_t *u, size_t off, int lines) { prefetch_unit_at(u, off, lines, FR_PF_DIST); }

/* Vector v of a block: 64 bytes, rows 0-7 in the low half, 8-15 in the high half. */
FR_INLINE __m512i load_vec(const uint8_t *blk, int v) { return _mm512_loadu_si512(blk + 64 * v); }

/* The 16 fp16 values at p, as floats. */
FR_INLINE __m512 f16x16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* The end of a block: acc[t] = fma((float)(s[t] + u[t]), dx * dy_t, acc[t]). */
FR_INLINE void block_end16(const uint8_t *d, int64_t b, const float *const *yd, const __m512i *s, const __m512i *u,
                           const int T, __m512 *acc) {
    const __m512 dx = f16x16(d);
    FR_UNROLL for (int t = 0; t < T; t++) {
        const __m512 sc = _mm512_mul_ps(dx, _mm512_set1_ps(yd[t][b]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[t], u[t])), sc, acc[t]);
    }
}

FR_INLINE void store16(const __m512 *acc, const int T, float *out) {
    FR_UNROLL for (int t = 0; t < T; t++) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

/* Bit b of each byte of v moved to bit 4, the other bits cleared (16-bit shifts: b < 8 keeps
 * the two bytes apart). */
FR_INLINE __m512i bit_to4_512(__m512i v, const int b) {
    const __m512i b4 = _mm512_set1_epi8(0x10);
    return _mm512_and_si512(b < 4 ? _mm512_slli_epi16(v, 4 - b) : b > 4 ? _mm512_srli_epi16(v, b - 4) : v, b4);
}

/* Q4_0, or (Q5) Q5_0 with the fifth bits of vector H: the values 0..31, whose offset words
 * hold -16 * sum(y) (gemm.h). MIN: Q4_1 (Q5_1), the same values from zero, then the min term
 * acc = fma(m, s_y, acc) with s_y the offset word's float. NL: IQ4_NL (layout Q4_0x16), the
 * nibbles index fr_iq4nl_values + 128 (one vpshufb per vector), unsigned like Q8_0's w + 128,
 * so the lanes start at the same offset word, -128 * sum(y). */
FR_INLINE void x4_0x16_units(int64_t nb, const void *unit, const size_t ustride, const int U, const void *const *acts,
                             const int T, float *const *out, const int Q5, const int MIN, const int NL) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const __m512i m4 = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi16(1);
    const __m512i table = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)fr_iq4nl_values)),
                                           _mm512_set1_epi8((char)0x80)); /* NL only */
    const size_t bbytes =
        Q5 ? (MIN ? FR_Q5_1X16_BLOCK : FR_Q5_0X16_BLOCK) : (MIN ? FR_Q4_1X16_BLOCK : FR_Q4_0X16_BLOCK);
    __m512 acc[FR_GEMM_STREAMS * FR_GEMM_MAX_T]; /* [k * T + t]: unit k, token t */
    FR_UNROLL for (int v = 0; v < U * T; v++) acc[v] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk[FR_GEMM_STREAMS];
        FR_UNROLL for (int k = 0; k < U; k++) blk[k] = (const uint8_t *)unit + k * ustride + b * bbytes;
        /* the low and high nibbles' products in s and u: two chains of 4 dpbusd per unit and
         * token rather than one of 8 (the same exact integer sums). At 4 tokens the kernel is
         * bound by the vpdpbusd chains, not the memory: tinyllama Q4_0 --seqs 4, alternated with
         * the one-chain kernel, faster in 6 of 6 rounds, median +11.6%; pp512 +1.5-3%. Four
         * units (U = 4, 2-4 tokens) keep one chain each: that is 8 or more chains already, and
         * two would take 16-32 more registers (at 4 tokens even one set of chains and the
         * accumulators take all 32, and the compiler spills). */
        const int two_chains = U < FR_GEMM_STREAMS;
        __m512i s[FR_GEMM_STREAMS * FR_GEMM_MAX_T], u[FR_GEMM_STREAMS * FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) {
            const __m512i s0 = NL    ? _mm512_set1_epi32(yc[t][b])
                               : MIN ? _mm512_setzero_si512()
                                     : _mm512_madd_epi16(_mm512_set1_epi32(yc[t][b]), ones);
            FR_UNROLL for (int k = 0; k < U; k++) {
                s[k * T + t] = s0;
                u[k * T + t] = _mm512_setzero_si512();
            }
        }
        /* four units: decode's four streams, each prefetched FR_PF_DIST_STREAMS ahead */
        FR_UNROLL for (int k = 0; k < U; k++) if (U == FR_GEMM_STREAMS)
            prefetch_unit_at(blk[k], 0, Q5 ? 6 : 5, FR_PF_DIST_STREAMS);
        else if (Q5 || NL ? FR_PF_DIST > 0 : FR_PF_IN_ORDER(T))
            prefetch_unit(blk[k], 0, Q5 ? 6 : 5);
        __m512i hv[FR_GEMM_STREAMS];
        FR_UNROLL for (int k = 0; k < U; k++) hv[k] = Q5 ? load_vec(blk[k], 4) : _mm512_setzero_si512();
        FR_UNROLL for (int m = 0; m < 4; m++) {
            __m512i lo[FR_GEMM_STREAMS], hi[FR_GEMM_STREAMS];
            FR_UNROLL for (int k = 0; k < U; k++) {
                const __m512i p = load_vec(blk[k], m);
                lo[k] = _mm512_and_si512(p, m4);
                hi[k] = _mm512_and_si512(_mm512_srli_epi16(p, 4), m4);
                if (Q5) {
                    lo[k] = _mm512_or_si512(lo[k], bit_to4_512(hv[k], 2 * m));
                    hi[k] = _mm512_or_si512(hi[k], bit_to4_512(hv[k], 2 * m + 1));
                }
                if (NL) {
                    lo[k] = _mm512_shuffle_epi8(table, lo[k]);
                    hi[k] = _mm512_shuffle_epi8(table, hi[k]);
                }
            }
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * m;
                const __m512i y0 = bcast32x16(y), y1 = bcast32x16(y + 16);
                FR_UNROLL for (int k = 0; k < U; k++) {
                    s[k * T + t] = _mm512_dpbusd_epi32(s[k * T + t], lo[k], y0);
                    if (two_chains) {
                        u[k * T + t] = _mm512_dpbusd_epi32(u[k * T + t], hi[k], y1);
                        FR_KEEP(u[k * T + t]);
                    } else {
                        s[k * T + t] = _mm512_dpbusd_epi32(s[k * T + t], hi[k], y1);
                    }
                    FR_KEEP(s[k * T + t]);
                }
            }
        }
        FR_UNROLL for (int k = 0; k < U; k++) {
            if (MIN) {
                block_end16(blk[k] + (Q5 ? FR_Q5_1X16_D : FR_Q4_1X16_D), b, yd, s + k * T, u + k * T, T, acc + k * T);
                const __m512 mx = f16x16(blk[k] + (Q5 ? FR_Q5_1X16_M : FR_Q4_1X16_M));
                FR_UNROLL for (int t = 0; t < T; t++) acc[k * T + t] =
                    _mm512_fmadd_ps(mx, _mm512_castsi512_ps(_mm512_set1_epi32(yc[t][b])), acc[k * T + t]);
            } else {
                block_end16(blk[k] + (Q5 ? FR_Q5_0X16_D : FR_Q4_0X16_D), b, yd, s + k * T, u + k * T, T, acc + k * T);
            }
        }
    }
    FR_UNROLL for (int k = 0; k < U; k++) store16(acc + k * T, T, out[k]);
}

FR_INLINE void x4_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out, const int Q5,
                       const int MIN, const int NL) {
    float *const outs[1] = {out};
    x4_0x16_units(nb, unit, 0, 1, acts, T, outs, Q5, MIN, NL);
}

FR_INLINE void iq4_nlx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x4_0x16(nb, unit, acts, T, out, 0, 0, 1);
}

void fr_gemm_iq4_nlx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(iq4_nlx16, nb, unit, acts, T, out);
}

FR_INLINE void q8_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q8_0X16_BLOCK;
        __m512i s[FR_GEMM_MAX_T], u[FR_GEMM_MAX_T];
        FR_UNROLL for (int t = 0; t < T; t++) {
            s[t] = _mm512_set1_epi32(yc[t][b]);
            u[t] = _mm512_setzero_si512();
        }
        if (FR_PF_IN_ORDER(T)) prefetch_unit(blk, 0, 9);
        FR_UNROLL for (int k = 0; k < 8; k += 2) {
            const __m512i w0 = _mm512_xor_si512(load_vec(blk, k), bias);
            const __m512i w1 = _mm512_xor_si512(load_vec(blk, k + 1), bias);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *y = yq[t] + b * 32 + 4 * k;
                s[t] = _mm512_dpbusd_epi32(s[t], w0, bcast32x16(y));
                u[t] = _mm512_dpbusd_epi32(u[t], w1, bcast32x16(y + 4));
                FR_KEEP(s[t]);
                FR_KEEP(u[t]);
            }
        }
        block_end16(blk + FR_Q8_0X16_D, b, yd, s, u, T, acc);
    }
    store16(acc, T, out);
}

/* FR_GEMM_STREAMS units for one token, each read as its own stream (gemm_avx2.c's
 * fr_gemm_q8_0x16_streams_avx2): each unit gets the steps of q8_0x16 with T = 1, in order. */
FR_INLINE void q8_0x16_streams(int64_t nb, const void *const *units, const void *act, float *out, const int PF) {
    enum { U = FR_GEMM_STREAMS };
    const fr_streams_in in = split_streams(units, act, nb);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512 acc[U];
    FR_UNROLL for (int k = 0; k < U; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_streams(&in, b, FR_Q8_0X16_BLOCK, PF);
        __m512i s[U], u[U];
        FR_UNROLL for (int k = 0; k < U; k++) {
            s[k] = _mm512_set1_epi32(in.yc[0][b]);
            u[k] = _mm512_setzero_si512();
        }
        FR_UNROLL for (int v = 0; v < 8; v += 2) {
            const int8_t *y = in.yq[0] + b * 32 + 4 * v;
            const __m512i y0 = bcast32x16(y), y1 = bcast32x16(y + 4);
            FR_UNROLL for (int k = 0; k < U; k++) {
                const uint8_t *blk = in.u8[k] + b * FR_Q8_0X16_BLOCK;
                s[k] = _mm512_dpbusd_epi32(s[k], _mm512_xor_si512(load_vec(blk, v), bias), y0);
                u[k] = _mm512_dpbusd_epi32(u[k], _mm512_xor_si512(load_vec(blk, v + 1), bias), y1);
                FR_KEEP(s[k]);
                FR_KEEP(u[k]);
            }
        }
        FR_UNROLL for (int k = 0; k < U; k++)
            block_end16(in.u8[k] + b * FR_Q8_0X16_BLOCK + FR_Q8_0X16_D, b, in.yd, s + k, u + k, 1, acc + k);
    }
    FR_UNROLL for (int k = 0; k < U; k++) _mm512_storeu_ps(out + 16 * k, acc[k]);
}

void fr_gemm_q8_0x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, q8_0x16_streams, nb, units, act, out);
}

/* The x4_0x16 family (Q4_0, Q5_0, Q4_1, Q5_1, IQ4_NL) for one token, FR_GEMM_STREAMS units
 * read side by side (as the Q8_0 form above): each unit gets the steps of x4_0x16 with T = 1,
 * in order. */
FR_INLINE void x4_0x16_streams(int64_t nb, const void *const *units, const void *act, float *out, const int Q5,
                               const int MIN, const int NL, const int PF) {
    enum { U = FR_GEMM_STREAMS };
    const fr_streams_in in = split_streams(units, act, nb);
    const __m512i m4 = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi16(1);
    const __m512i table = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)fr_iq4nl_values)),
                                           _mm512_set1_epi8((char)0x80)); /* NL only */
    const size_t bbytes =
        Q5 ? (MIN ? FR_Q5_1X16_BLOCK : FR_Q5_0X16_BLOCK) : (MIN ? FR_Q4_1X16_BLOCK : FR_Q4_0X16_BLOCK);
    __m512 acc[U];
    FR_UNROLL for (int k = 0; k < U; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_streams(&in, b, bbytes, PF);
        const __m512i s0 = NL    ? _mm512_set1_epi32(in.yc[0][b])
                           : MIN ? _mm512_setzero_si512()
                                 : _mm512_madd_epi16(_mm512_set1_epi32(in.yc[0][b]), ones);
        __m512i s[U], u[U], hv[U];
        FR_UNROLL for (int k = 0; k < U; k++) {
            s[k] = s0;
            u[k] = _mm512_setzero_si512();
            hv[k] = Q5 ? load_vec(in.u8[k] + b * bbytes, 4) : _mm512_setzero_si512();
        }
        FR_UNROLL for (int m = 0; m < 4; m++) {
            const int8_t *y = in.yq[0] + b * 32 + 4 * m;
            const __m512i y0 = bcast32x16(y), y1 = bcast32x16(y + 16);
            FR_UNROLL for (int k = 0; k < U; k++) {
                const __m512i p = load_vec(in.u8[k] + b * bbytes, m);
                __m512i lo = _mm512_and_si512(p, m4);
                __m512i hi = _mm512_and_si512(_mm512_srli_epi16(p, 4), m4);
                if (Q5) {
                    lo = _mm512_or_si512(lo, bit_to4_512(hv[k], 2 * m));
                    hi = _mm512_or_si512(hi, bit_to4_512(hv[k], 2 * m + 1));
                }
                if (NL) {
                    lo = _mm512_shuffle_epi8(table, lo);
                    hi = _mm512_shuffle_epi8(table, hi);
                }
                s[k] = _mm512_dpbusd_epi32(s[k], lo, y0);
                u[k] = _mm512_dpbusd_epi32(u[k], hi, y1);
                FR_KEEP(s[k]);
                FR_KEEP(u[k]);
            }
        }
        FR_UNROLL for (int k = 0; k < U; k++) {
            const uint8_t *blk = in.u8[k] + b * bbytes;
            if (MIN) {
                block_end16(blk + (Q5 ? FR_Q5_1X16_D : FR_Q4_1X16_D), b, in.yd, s + k, u + k, 1, acc + k);
                const __m512 mx = f16x16(blk + (Q5 ? FR_Q5_1X16_M : FR_Q4_1X16_M));
                acc[k] = _mm512_fmadd_ps(mx, _mm512_castsi512_ps(_mm512_set1_epi32(in.yc[0][b])), acc[k]);
            } else {
                block_end16(blk + (Q5 ? FR_Q5_0X16_D : FR_Q4_0X16_D), b, in.yd, s + k, u + k, 1, acc + k);
            }
        }
    }
    FR_UNROLL for (int k = 0; k < U; k++) _mm512_storeu_ps(out + 16 * k, acc[k]);
}

void fr_gemm_q4_0x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 0, 0, 0);
}

void fr_gemm_q5_0x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 1, 0, 0);
}

void fr_gemm_q4_1x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 0, 1, 0);
}

void fr_gemm_q5_1x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 1, 1, 0);
}

void fr_gemm_iq4_nlx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, x4_0x16_streams, nb, units, act, out, 0, 0, 1);
}

/* Q4_K and Q5_K (layouts Q4_Kx16, Q5_Kx16, gemm.h): per sub-block j the eight steps of
 * unsigned values (nibbles; Q5_K: with bit j of the H_k vector's bytes moved to bit 4) times y
 * go straight to int32 with vpdpbusd (the AVX2 kernel sums maddubs pairs in int16 first), then
 * one multiply by the sub-block's 6-bit scale: the same exact integer sc_j * dot_j per row. The
 * mins, the float steps and their order are those of gemm_avx2.c's k4x16_units, lane by lane.
 * Q4_K takes the high nibbles in place (v & 0xf0, one op instead of a shift and a mask): the
 * lanes hold 16 * dot_(2l+1) (at most 16 * 32 * 15 * 127, exact in int32), shifted back before
 * the scale. kbench Q4_K 2048 x 512, one token, one thread (in L2), with the streams below:
 * 97-99 -> 119 GMAC/s.
 * U units side by side (U * T <= FR_GEMM_MAX_T): U = 1 for prompts and single units, U =
 * FR_GEMM_STREAMS with T = 1 for decode streams; unit u's results go to out + 16 * (u * T + t).
 * Every unit's stream gets its own software prefetch: decode of tinyllama Q4_K_M, 2 threads,
 * builds alternated, 3 rounds: one stream 32.9, 33.4, 33.2 -> four 37.3, 38.7, 36.6 t/s; four
 * streams prefetched only by the hardware gained nothing (30.5-32.8 -> 30.6-32.3). */
FR_INLINE void k4x16_units(int64_t nb, const void *const *units, const int U, const void *const *acts, const int T,
                           float *out, const int Q5, const int PF) {
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int8_t *ys[FR_GEMM_MAX_T];
    split_acts_k(acts, T, nb, yq, yd, ys);
    const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
    const size_t bbytes = Q5 ? FR_Q5_KX16_BLOCK : FR_Q4_KX16_BLOCK;
    /* prefetch distance: FR_PF_DIST_K for Q4_K's one-unit decode, FR_PF_DIST_STREAMS for Q4_K's
     * decode streams with PF (gemm_simd.h; Q5_K's streams keep FR_PF_DIST: kbench 2048 x
     * 262144, one token, 2 threads, 12 KiB -> 1 KiB 40.9 -> 36.3, 36.7 -> 35.4 GMAC/s) */
    const size_t pf = U == FR_GEMM_STREAMS && PF ? FR_PF_DIST_STREAMS
                      : !Q5 && T == 1 && U == 1  ? FR_PF_DIST_K
                                                 : FR_PF_DIST;
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < U * T; v++) acc[v] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blks[FR_GEMM_STREAMS];
        FR_UNROLL for (int u = 0; u < U; u++) blks[u] = (const uint8_t *)units[u] + b * bbytes;
        __m512i isum[FR_GEMM_MAX_T];
        FR_UNROLL for (int v = 0; v < U * T; v++) isum[v] = _mm512_setzero_si512();
        /* (Q5_K's high-bit plane prefetched in every stream too: kbench Q5_K 2048 x 131072, one
         * token, 2 threads, 37.2-37.7 -> 33.5-35.2 GMAC/s, so only the one-unit form does) */
        if (pf && Q5 && U == 1) prefetch_unit_at(blks[0], FR_Q5_KX16_QH, 8, pf);
        for (int l = 0; l < 4; l++) { /* sub-blocks 2l (low nibbles) and 2l + 1 (high) of one load */
            if (pf) FR_UNROLL for (int u = 0; u < U; u++) prefetch_unit_at(blks[u], (size_t)(512 * l), 8, pf);
            /* Q5_K: bit j of each byte to bit 4 (16-bit shifts: j < 8 keeps bytes apart) */
            const int j0 = 2 * l, j1 = 2 * l + 1;
            const __m128i up0 = _mm_cvtsi32_si128(j0 < 4 ? 4 - j0 : 0), down0 = _mm_cvtsi32_si128(j0 < 4 ? 0 : j0 - 4);
            const __m128i up1 = _mm_cvtsi32_si128(j1 < 4 ? 4 - j1 : 0), down1 = _mm_cvtsi32_si128(j1 < 4 ? 0 : j1 - 4);
            __m512i s0[FR_GEMM_MAX_T], s1[FR_GEMM_MAX_T];
            FR_UNROLL for (int v = 0; v < U * T; v++) s0[v] = s1[v] = _mm512_setzero_si512();
            FR_UNROLL for (int k = 0; k < 8; k++) {
                FR_UNROLL for (int u = 0; u < U; u++) {
                    const __m512i v = load_vec(blks[u], 8 * l + k);
                    /* Q4_K: the high nibbles in place, 16 times their values (s1 is shifted back) */
                    __m512i lo = _mm512_and_si512(v, m4);
                    __m512i hi = Q5 ? _mm512_and_si512(_mm512_srli_epi16(v, 4), m4) : _mm512_andnot_si512(m4, v);
                    if (Q5) {
                        const __m512i hv = load_vec(blks[u] + FR_Q5_KX16_QH, k);
                        lo = _mm512_or_si512(lo,
                                             _mm512_and_si512(_mm512_srl_epi16(_mm512_sll_epi16(hv, up0), down0), b4));
                        hi = _mm512_or_si512(hi,
                                             _mm512_and_si512(_mm512_srl_epi16(_mm512_sll_epi16(hv, up1), down1), b4));
                    }
                    FR_UNROLL for (int t = 0; t < T; t++) {
                        const int i = u * T + t;
                        s0[i] = _mm512_dpbusd_epi32(s0[i], lo, bcast32x16(yq[t] + b * 256 + 32 * j0 + 4 * k));
                        s1[i] = _mm512_dpbusd_epi32(s1[i], hi, bcast32x16(yq[t] + b * 256 + 32 * j1 + 4 * k));
                        FR_KEEP(s0[i]);
                        FR_KEEP(s1[i]);
                    }
                }
            }
            FR_UNROLL for (int u = 0; u < U; u++) {
                const uint8_t *sc = blks[u] + FR_Q4_KX16_SC;
                const __m512i sc0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * j0)));
                const __m512i sc1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * j1)));
                FR_UNROLL for (int t = 0; t < T; t++) { /* exact int32: any order gives the same sum */
                    const int i = u * T + t;
                    const __m512i d1 = Q5 ? s1[i] : _mm512_srai_epi32(s1[i], 4);
                    isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(s0[i], sc0));
                    isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(d1, sc1));
                    FR_KEEP(isum[i]);
                }
            }
        }
        if (pf) FR_UNROLL for (int u = 0; u < U; u++) prefetch_unit_at(blks[u], 2048, 5, pf);
        FR_UNROLL for (int u = 0; u < U; u++) {
            const uint8_t *blk = blks[u];
            __m512i msum[FR_GEMM_MAX_T];
            FR_UNROLL for (int t = 0; t < T; t++) msum[t] = _mm512_setzero_si512();
            FR_UNROLL for (int i = 0; i < 4; i++) {
                const __m512i mv =
                    _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(blk + FR_Q4_KX16_MN + 32 * i)));
                FR_UNROLL for (int t = 0; t < T; t++)
                    msum[t] = _mm512_add_epi32(msum[t], _mm512_madd_epi16(mv, bcast32x16(ys[t] + b * 16 + 4 * i)));
            }
            const __m512 dx = f16x16(blk + FR_Q4_KX16_D), dmx = f16x16(blk + FR_Q4_KX16_DMIN);
            FR_UNROLL for (int t = 0; t < T; t++) {
                const int i = u * T + t;
                const __m512 ydv = _mm512_set1_ps(yd[t][b]);
                const __m512 a = _mm512_mul_ps(_mm512_mul_ps(ydv, dx), _mm512_cvtepi32_ps(isum[i]));
                const __m512 bb = _mm512_mul_ps(_mm512_mul_ps(ydv, dmx), _mm512_cvtepi32_ps(msum[t]));
                acc[i] = _mm512_sub_ps(_mm512_add_ps(acc[i], a), bb);
            }
        }
    }
    store16(acc, U * T, out);
}

/* Q4_K and Q5_K for one token, FR_GEMM_STREAMS units read side by side a vector at a time
 * (as x4_0x16_streams): each unit gets the steps of k4x16_units with U = 1, T = 1, in order. kbench
 * 2048 x 131072 (from DRAM), one token, 2 threads, against the one-unit kernel: Q4_K 38.8 ->
 * 52.5, Q5_K 30.7 -> 36.1 GMAC/s. (Software prefetch in the Q4_0 and Q8_0 streams kernels, tried
 * the same way, gave nothing: tinyllama Q4_0 43.1-43.5 -> 42.6-43.1 t/s, Q8_0 26.1-27.0 ->
 * 25.5-26.0. That was the Intel Xeon of the 21st-30th sessions, the distance not recorded; on
 * the 59th session's, 1 KiB ahead read faster: fr_cpu_decode_streams_prefetch.) */
void fr_gemm_q4_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, k4x16_units, nb, units, FR_GEMM_STREAMS, &act, 1, out, 0);
}

void fr_gemm_q5_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    (void)pf; /* (Q5_K's streams prefetch FR_PF_DIST ahead either way) */
    k4x16_units(nb, units, FR_GEMM_STREAMS, &act, 1, out, 1, 0);
}

/* Q6_K (layout Q6_Kx16, gemm.h): the 6-bit values q + 32 rebuilt per step from a low-nibble
 * vector and the 2-bit field of a high-bits vector (one ternary-logic op merges them),
 * vpdpbusd per 16-value sub-block into int32 lanes that start at -32 * (the sub-block's sum
 * of y), so each ends at the exact sum of (q - 32) * y; one multiply by the sub-block's
 * scale, then the reference's float steps (fr_vec_dot_q6_K_ref), lane by lane.
 * KIND 1, Q3_K: u = q3 + 28 and the same steps (gemm.h). KIND 2, Q2_K: the 2-bit values from
 * zero, times the low 4 bits of the scale bytes; msum = sum_j m_j * ysum_j from madd of the
 * (m_2i, m_2i+1) pairs with the offset words' (-16 ysum_2i, -16 ysum_2i+1), shifted back
 * exactly; then fr_vec_dot_q2_K_ref's float steps. */
FR_INLINE void k6x16_units(int64_t nb, const void *const *units, const int U, const void *const *acts, const int T,
                           float *out, const int KIND, const int PF) {
    const int Q3 = KIND == 1, Q2 = KIND == 2;
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts_k6(acts, T, nb, yq, yd, yc);
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30), ones = _mm512_set1_epi16(1);
    const __m512i m3 = _mm512_set1_epi8(3), m04 = _mm512_set1_epi8(4), c28 = _mm512_set1_epi8(28);
    /* prefetch distance: FR_PF_DIST_K for Q6_K's one-unit decode, FR_PF_DIST_STREAMS for
     * decode streams with PF, FR_PF_DIST_Q6_FEW for Q6_K's one unit of 2-4 tokens with PF
     * (gemm_simd.h) */
    const size_t pf = U == FR_GEMM_STREAMS && PF      ? FR_PF_DIST_STREAMS
                      : KIND == 0 && T == 1 && U == 1 ? FR_PF_DIST_K
                      : KIND == 0 && U == 1 && PF     ? FR_PF_DIST_Q6_FEW
                                                      : FR_PF_DIST;
    const size_t sc_at = Q2 ? FR_Q2_KX16_SC : Q3 ? FR_Q3_KX16_SC : FR_Q6_KX16_SC;
    const size_t bbytes = Q2 ? FR_Q2_KX16_BLOCK : Q3 ? FR_Q3_KX16_BLOCK : FR_Q6_KX16_BLOCK;
    __m512 acc[FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < U * T; v++) acc[v] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blks[FR_GEMM_STREAMS];
        FR_UNROLL for (int u = 0; u < U; u++) blks[u] = (const uint8_t *)units[u] + b * bbytes;
        __m512i isum[FR_GEMM_MAX_T];
        FR_UNROLL for (int v = 0; v < U * T; v++) isum[v] = _mm512_setzero_si512();
        /* unrolled: the shifts that pick g's bits become constants. kbench 2048 x 512 (in L2), one
         * token, one thread: Q6_K 38.8 -> 53.5 GMAC/s, Q3_K 36 -> 50; prompts unchanged */
        FR_UNROLL for (int g = 0; g < 8; g++) { /* 32 values: sub-blocks 2g and 2g + 1 */
            FR_UNROLL for (int u = 0; u < U; u++) {
                if (pf && (Q3 || Q2)) {
                    if (!(g & 3)) prefetch_unit_at(blks[u], (size_t)(512 * (g >> 2)), 8, pf);
                    if (!g && Q3) prefetch_unit_at(blks[u], FR_Q3_KX16_HM, 8, pf);
                } else if (pf) {
                    if (!(g & 1)) prefetch_unit_at(blks[u], (size_t)(512 * (g >> 1)), 8, pf);
                    if (!(g & 3)) prefetch_unit_at(blks[u], (size_t)(FR_Q6_KX16_QH + 512 * (g >> 2)), 8, pf);
                }
            }
            /* Q3_K: the 2-bit field i = g & 3 to bits 0-1, bit g of the third bits to bit 2 */
            const __m128i q2s = _mm_cvtsi32_si128(2 * (g & 3));
            const __m128i hup = _mm_cvtsi32_si128(g < 2 ? 2 - g : 0), hdown = _mm_cvtsi32_si128(g > 2 ? g - 2 : 0);
            __m512i s[2][FR_GEMM_MAX_T];
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m512i s0 =
                    Q2 ? _mm512_setzero_si512() : _mm512_madd_epi16(_mm512_set1_epi32(yc[t][b * 16 + 2 * g]), ones);
                const __m512i s1 =
                    Q2 ? _mm512_setzero_si512() : _mm512_madd_epi16(_mm512_set1_epi32(yc[t][b * 16 + 2 * g + 1]), ones);
                FR_UNROLL for (int u = 0; u < U; u++) {
                    s[0][u * T + t] = s0;
                    s[1][u * T + t] = s1;
                }
            }
            FR_UNROLL for (int k = 0; k < 8; k++) FR_UNROLL for (int u = 0; u < U; u++) {
                const uint8_t *blk = blks[u];
                __m512i q;
                if (Q2) {
                    q = _mm512_and_si512(_mm512_srl_epi16(load_vec(blk, 8 * (g >> 2) + k), q2s), m3);
                } else if (Q3) {
                    const __m512i q2 = _mm512_and_si512(_mm512_srl_epi16(load_vec(blk, 8 * (g >> 2) + k), q2s), m3);
                    const __m512i hv = load_vec(blk + FR_Q3_KX16_HM, k);
                    const __m512i h3 = _mm512_and_si512(_mm512_srl_epi16(_mm512_sll_epi16(hv, hup), hdown), m04);
                    q = _mm512_add_epi8(_mm512_or_si512(q2, h3), c28);
                } else {
                    const __m512i lv = load_vec(blk, 8 * (g >> 1) + k);
                    const __m512i nib = _mm512_and_si512((g & 1) ? _mm512_srli_epi16(lv, 4) : lv, m4);
                    const __m512i hv = load_vec(blk + FR_Q6_KX16_QH, 8 * (g >> 2) + k);
                    const int i = g & 3;
                    const __m512i hs = i == 0 ? _mm512_slli_epi16(hv, 4) : i == 1 ? _mm512_slli_epi16(hv, 2)
                                       : i == 2                     ? hv
                                                                    : _mm512_srli_epi16(hv, 2);
                    q = _mm512_ternarylogic_epi32(m30, hs, nib, 0xEA); /* (m30 & hs) | nib */
                }
                FR_UNROLL for (int t = 0; t < T; t++) {
                    const int i = u * T + t;
                    s[k >> 2][i] = dpbusd_bcast(s[k >> 2][i], q, yq[t] + b * 256 + 32 * g + 4 * k);
                    FR_KEEP(s[k >> 2][i]);
                }
            }
            FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++) {
                const __m128i scb = _mm_loadu_si128((const __m128i *)(blks[u] + sc_at + 16 * (2 * g + h)));
                const __m512i scv = Q2 ? _mm512_and_si512(_mm512_cvtepu8_epi32(scb), _mm512_set1_epi32(15))
                                       : _mm512_cvtepi8_epi32(scb);
                FR_UNROLL for (int t = 0; t < T; t++) {
                    const int i = u * T + t;
                    isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(s[h][i], scv));
                    FR_KEEP(isum[i]);
                }
            }
        }
        FR_UNROLL for (int u = 0; u < U; u++) {
            const uint8_t *blk = blks[u];
            if (pf) prefetch_unit_at(blk, sc_at, 5, pf);
            const __m512 dx = f16x16(blk + (Q2 ? FR_Q2_KX16_D : Q3 ? FR_Q3_KX16_D : FR_Q6_KX16_D));
            FR_UNROLL for (int t = 0; t < T; t++) {
                const __m512 d = _mm512_mul_ps(_mm512_set1_ps(yd[t][b]), dx);
                acc[u * T + t] = _mm512_add_ps(acc[u * T + t], _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[u * T + t])));
            }
            if (Q2) { /* the mins: |m * 16 * ysum| pairs <= 2 * 15 * 16 * 16 * 127 fit int32 */
                __m512i msum[FR_GEMM_MAX_T];
                FR_UNROLL for (int t = 0; t < T; t++) msum[t] = _mm512_setzero_si512();
                FR_UNROLL for (int i = 0; i < 8; i++) {
                    const __m512i lo = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(blk + sc_at + 32 * i)));
                    const __m512i hi =
                        _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(blk + sc_at + 32 * i + 16)));
                    const __m512i mp =
                        _mm512_or_si512(_mm512_srli_epi32(lo, 4), _mm512_slli_epi32(_mm512_srli_epi32(hi, 4), 16));
                    FR_UNROLL for (int t = 0; t < T; t++) {
                        const int32_t *c = yc[t] + b * 16 + 2 * i;
                        const uint32_t y2 = ((uint32_t)c[0] & 0xffffu) | (uint32_t)c[1] << 16;
                        msum[t] = _mm512_add_epi32(msum[t], _mm512_madd_epi16(mp, _mm512_set1_epi32((int32_t)y2)));
                    }
                }
                const __m512 dmx = f16x16(blk + FR_Q2_KX16_DMIN);
                FR_UNROLL for (int t = 0; t < T; t++) {
                    const __m512i m =
                        _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_srai_epi32(msum[t], 4)); /* / -16 */
                    const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(yd[t][b]), dmx);
                    acc[u * T + t] = _mm512_sub_ps(acc[u * T + t], _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(m)));
                }
            }
        }
    }
    store16(acc, U * T, out);
}

/* Q6_K, Q3_K and Q2_K for one token, FR_GEMM_STREAMS units side by side a vector at a time
 * (as k4x16_units), each stream prefetched: each unit gets the steps of k6x16_units with U = 1, T = 1, in
 * order. kbench 2048 x 131072 (from DRAM), one token, 2 threads, against the one-unit kernel:
 * Q6_K 26.0-26.2 -> 30.2-30.4, Q3_K 42.2-43.4 -> 46.3-49.1, Q2_K 78.8 -> 92.7-100.2 GMAC/s.
 * (Before the group loop was unrolled, the Q6_K and Q3_K streams read slower than one unit.)
 * tinyllama Q4_K_M tg, builds alternated, 6 rounds: 35.4 -> 36.8 t/s (medians), 5 of 6
 * pairs ahead; Q3_K_M 32.8-33.6 -> 37.6-37.7. */
void fr_gemm_q6_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, k6x16_units, nb, units, FR_GEMM_STREAMS, &act, 1, out, 0);
}

void fr_gemm_q3_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, k6x16_units, nb, units, FR_GEMM_STREAMS, &act, 1, out, 1);
}

void fr_gemm_q2_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, k6x16_units, nb, units, FR_GEMM_STREAMS, &act, 1, out, 2);
}

FR_INLINE void q6_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    k6x16_units(nb, &unit, 1, acts, T, out, 0, 0);
}

FR_INLINE void q6_Kx16_pf(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    k6x16_units(nb, &unit, 1, acts, T, out, 0, 1);
}

FR_INLINE void q3_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    k6x16_units(nb, &unit, 1, acts, T, out, 1, 0);
}

FR_INLINE void q2_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    k6x16_units(nb, &unit, 1, acts, T, out, 2, 0);
}

FR_INLINE void q4_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x4_0x16(nb, unit, acts, T, out, 0, 0, 0);
}

FR_INLINE void q5_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x4_0x16(nb, unit, acts, T, out, 1, 0, 0);
}

FR_INLINE void q4_1x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x4_0x16(nb, unit, acts, T, out, 0, 1, 0);
}

FR_INLINE void q5_1x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    x4_0x16(nb, unit, acts, T, out, 1, 1, 0);
}

/* U units (unit + k * unit_bytes, k < U) per call for T tokens (T = 1 .. 4; 2 .. 4 for the
 * four-stream kernels), x4_0x16_units with U and T as constants. Each unit's results are
 * x4_0x16's, bit for bit. Two units (the pair kernels): each activation broadcast serves 32
 * rows instead of 16. Four (fr_gemm_quad_fn): decode's four streams. */
#define FR_UNITS_BY_T(U, Q5, MIN, NL)                                                                                  \
    do {                                                                                                               \
        switch (T) {                                                                                                   \
        case 1: x4_0x16_units(nb, unit, unit_bytes, U, acts, 1, out, Q5, MIN, NL); break;                              \
        case 2: x4_0x16_units(nb, unit, unit_bytes, U, acts, 2, out, Q5, MIN, NL); break;                              \
        case 3: x4_0x16_units(nb, unit, unit_bytes, U, acts, 3, out, Q5, MIN, NL); break;                              \
        case 4: x4_0x16_units(nb, unit, unit_bytes, U, acts, 4, out, Q5, MIN, NL); break;                              \
        default: break;                                                                                                \
        }                                                                                                              \
    } while (0)
/* A type's pair and four-stream kernels (gemm.h: fr_gemm_pair_fn, fr_gemm_quad_fn). */
#define FR_UNITS_FNS(NAME, Q5, MIN, NL)                                                                                \
    void fr_gemm_##NAME##x16_pair_avx512vnni(int64_t nb, const void *unit, size_t unit_bytes,                          \
                                             const void *const *acts, int T, float *const *out) {                     \
        FR_UNITS_BY_T(2, Q5, MIN, NL);                                                                                 \
    }                                                                                                                  \
    void fr_gemm_##NAME##x16_quad_avx512vnni(int64_t nb, const void *unit, size_t unit_bytes,                          \
                                             const void *const *acts, int T, float *const *out) {                     \
        FR_UNITS_BY_T(FR_GEMM_STREAMS, Q5, MIN, NL);                                                                   \
    }
FR_UNITS_FNS(q4_0, 0, 0, 0)
FR_UNITS_FNS(q5_0, 1, 0, 0)
FR_UNITS_FNS(q4_1, 0, 1, 0)
FR_UNITS_FNS(q5_1, 1, 1, 0)
FR_UNITS_FNS(iq4_nl, 0, 0, 1)

void fr_gemm_q4_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q5_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q5_0x16, nb, unit, acts, T, out);
}

void fr_gemm_q4_1x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_1x16, nb, unit, acts, T, out);
}

void fr_gemm_q5_1x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q5_1x16, nb, unit, acts, T, out);
}

void fr_gemm_q8_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q8_0x16, nb, unit, acts, T, out);
}

FR_INLINE void q4_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    k4x16_units(nb, &unit, 1, acts, T, out, 0, 0);
}

FR_INLINE void q5_Kx16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    k4x16_units(nb, &unit, 1, acts, T, out, 1, 0);
}

void fr_gemm_q4_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q4_Kx16, nb, unit, acts, T, out);
}

void fr_gemm_q5_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q5_Kx16, nb, unit, acts, T, out);
}

void fr_gemm_q6_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q6_Kx16, nb, unit, acts, T, out);
}

void fr_gemm_q6_Kx16_pf_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q6_Kx16_pf, nb, unit, acts, T, out);
}

void fr_gemm_q2_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q2_Kx16, nb, unit, acts, T, out);
}

void fr_gemm_q3_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q3_Kx16, nb, unit, acts, T, out);
}

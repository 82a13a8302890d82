/* gemm_vnni.c: the Q8_0x16 packed kernel with AVX-VNNI's VPDPBUSD (compiled with -mavxvnni,
 * called only when fr_cpu_has(FR_ISA_AVXVNNI); layouts and the result order in gemm.h).
 * Q4_0 has no VNNI kernel: its AVX2 kernel already adds maddubs results in int16, and both
 * are bound by the int8 multiplier's throughput (measured: 140 vs 128-138 GMAC/s).
 *
 * VPDPBUSD multiplies unsigned by signed bytes and adds each group of four products to an
 * int32 lane without saturation, so one instruction does the work of the AVX2 kernel's
 * sign, sign, maddubs and madd. The weights are signed, so the kernel feeds u = w ^ 0x80 =
 * w + 128 (0..255 for every int8 w, -128 included) and the activation row's offset word for
 * Q8_0, -128 * (sum of the block's 32 values), starts each lane: the lane then ends at
 * sum(u * y) - 128 * sum(y) = sum(w * y), the exact integer block dot (|sum(u * y)| <=
 * 32 * 255 * 128, far from int32 overflow). Then the same conversion, scale product and FMA
 * as the AVX2 kernel.
 *
 * Activation broadcasts: 32 one-dword memory broadcasts per block and row would saturate
 * the vector load ports; instead each 16-byte half of the activation block is loaded once
 * (both 128-bit lanes) and most dwords are picked with an in-lane shuffle. One position in
 * four still uses a memory broadcast, to share the work between load and shuffle ports. */
#include "gemm_simd.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Dword kk (0..3) of each 128-bit lane of v, in every dword of that lane. */
FR_INLINE __m256i dword_of_lane(__m256i v, const int kk) {
    switch (kk) {
    case 0: return _mm256_shuffle_epi32(v, 0x00);
    case 1: return _mm256_shuffle_epi32(v, 0x55);
    case 2: return _mm256_shuffle_epi32(v, 0xaa);
    default: return _mm256_shuffle_epi32(v, 0xff);
    }
}

/* Both halves of a unit (h0 = 0, H = 2) in one pass; accumulator hh * T + t. (One half at a time
 * for 3 and 4 tokens, as FR_GEMM_HALVES_BY_T does, measured slower: kbench FRUGAL_ISA=avxvnni
 * Q8_0 2048 x 5632, 3 rounds alternated, 512 tokens, one thread 136-138 against 157-160 GMAC/s;
 * 4 tokens, 2 threads 265-270 against 315-318.) */
FR_INLINE void q8_0x16(int64_t nb, const void *unit, const void *const *acts, const int T, float *out) {
    enum { h0 = 0, H = 2 };
    const int8_t *yq[FR_GEMM_MAX_T];
    const float *yd[FR_GEMM_MAX_T];
    const int32_t *yc[FR_GEMM_MAX_T];
    split_acts(acts, T, nb, yq, yd, yc);
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    __m256 acc[2 * FR_GEMM_MAX_T];
    FR_UNROLL for (int v = 0; v < H * T; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)unit + b * FR_Q8_0X16_BLOCK;
        __m256i s[2 * FR_GEMM_MAX_T];
        FR_UNROLL for (int hh = 0; hh < H; hh++) FR_UNROLL for (int t = 0; t < T; t++) s[hh * T + t] = _mm256_set1_epi32(yc[t][b]);
        if (FR_PF_IN_ORDER(T) && h0 == 0)
            FR_UNROLL for (int l = 0; l < 9; l++) _mm_prefetch((const char *)blk + FR_PF_DIST + 64 * l, _MM_HINT_T0);
        FR_UNROLL for (int h = 0; h < 2; h++) {
            __m256i yh[FR_GEMM_MAX_T]; /* values 16h..16h+15 in both lanes */
            FR_UNROLL for (int t = 0; t < T; t++) yh[t] =
                _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(yq[t] + b * 32 + 16 * h)));
            FR_UNROLL for (int kk = 0; kk < 4; kk++) {
                const int k = 4 * h + kk;
                __m256i u[2];
                FR_UNROLL for (int hh = 0; hh < H; hh++)
                    u[hh] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 64 * k + 32 * (h0 + hh))), bias);
                FR_UNROLL for (int t = 0; t < T; t++) {
                    const __m256i y = kk == 0 ? bcast32(yq[t] + b * 32 + 4 * k) : dword_of_lane(yh[t], kk);
                    FR_UNROLL for (int hh = 0; hh < H; hh++) {
                        s[hh * T + t] = _mm256_dpbusd_avx_epi32(s[hh * T + t], u[hh], y);
                        FR_KEEP(s[hh * T + t]);
                    }
                }
            }
        }
        FR_UNROLL for (int hh = 0; hh < H; hh++)
            block_end(blk + FR_Q8_0X16_D + 16 * (h0 + hh), b, yd, s + hh * T, T, acc + hh * T);
    }
    store_halves(acc, h0, H, T, out);
}

void fr_gemm_q8_0x16_vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    FR_GEMM_BY_T(q8_0x16, nb, unit, acts, T, out);
}

/* Q8_0 for one token, FR_GEMM_STREAMS units read side by side (as gemm_avx2.c's streams form):
 * each half of each unit gets the steps of q8_0x16 with T = 1, in order (every dword of the
 * activation from a memory broadcast: the same values as the shuffles above). */
FR_INLINE void q8_0x16_streams(int64_t nb, const void *const *units, const void *act, float *out, const int PF) {
    enum { U = FR_GEMM_STREAMS };
    const fr_streams_in in = split_streams(units, act, nb);
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    __m256 acc[2 * U]; /* [2u + h]: unit u, half h */
    FR_UNROLL for (int v = 0; v < 2 * U; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_streams(&in, b, FR_Q8_0X16_BLOCK, PF);
        __m256i s[2 * U];
        FR_UNROLL for (int v = 0; v < 2 * U; v++) s[v] = _mm256_set1_epi32(in.yc[0][b]);
        FR_UNROLL for (int k = 0; k < 8; k++) {
            const __m256i y = bcast32(in.yq[0] + b * 32 + 4 * k);
            FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++) {
                const uint8_t *p = in.u8[u] + b * FR_Q8_0X16_BLOCK + 64 * k + 32 * h;
                const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)p), bias);
                s[2 * u + h] = _mm256_dpbusd_avx_epi32(s[2 * u + h], w, y);
                FR_KEEP(s[2 * u + h]);
            }
        }
        FR_UNROLL for (int u = 0; u < U; u++) FR_UNROLL for (int h = 0; h < 2; h++)
            block_end(in.u8[u] + b * FR_Q8_0X16_BLOCK + FR_Q8_0X16_D + 16 * h, b, in.yd, s + 2 * u + h, 1,
                      acc + 2 * u + h);
    }
    FR_UNROLL for (int v = 0; v < 2 * U; v++) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

void fr_gemm_q8_0x16_streams_vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf) {
    FR_STREAMS_BY_PF(pf, q8_0x16_streams, nb, units, act, out);
}

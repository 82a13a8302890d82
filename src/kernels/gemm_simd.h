/* gemm_simd.h: what the packed-GEMM micro-kernel files (gemm_avx2.c, gemm_vnni.c,
 * gemm_avx512vnni.c) share.
 * Include only from files compiled with at least -mavx2 -mfma -mf16c. */
#ifndef FRUGAL_KERNELS_GEMM_SIMD_H
#define FRUGAL_KERNELS_GEMM_SIMD_H

#include <immintrin.h>
#include <string.h>

#include "gemm.h"

#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL FR_PRAGMA_UNROLL(8)
#ifndef FR_PF_DIST
/* bytes ahead in the weight stream (decode is DRAM-latency-bound without it). 12 KiB: DeepSeek-V2-Lite
 * Q4_0 decode 26.5 -> 29.0 t/s and tinyllama Q4_0 1 thread 40.5 -> 43.5 t/s against 6 KiB (2 threads,
 * same run, 2026-11-28); 32 KiB gave ~1% more on this 48 KiB-L1 CPU, kept within a 32 KiB L1 */
#define FR_PF_DIST 12288
#endif
#ifndef FR_PF_DIST_K
/* The same for the AVX-512 VNNI Q4_K and Q6_K one-unit kernels with one token (decode where
 * the K-quants take no streams kernel, as on AMD: fr_cpu_decode_kquant_streams): 4 KiB. AMD EPYC
 * Zen 5, 2 threads, kbench 2048 x 262144 (from DRAM), one token, 5 rounds alternated against
 * 12 KiB: Q6_K 62-77 -> 78-85 GMAC/s, Q4_K 128-145 -> 146-155 (5 of 5 each); tinyllama Q4_K_M
 * tg128, 6 rounds: median 78.6 -> 87.5 t/s (6 of 6). Everything else keeps 12 KiB, measured
 * slower with 4 KiB: Q5_K 86-90 -> 66-75 GMAC/s, Q3_K -9%, Q2_K -3 to -18% (3 rounds); the
 * AVX2 K-quant kernels far slower (Q6_K 74-76 -> 45-46, Q4_K 141-158 -> 100-117, 4 of 4; 8
 * KiB: Q6_K -5%, Q4_K +5%); Q4_0 and Q8_0 prompts +1-4% but 4-sequence decode up to -9%; and
 * Q4_K and Q6_K with 4 tokens (batched decode): 4 KiB lost 12-14% there (prompts +2-4%). The
 * streams kernels (Intel) keep 12 KiB: not measured there. */
#define FR_PF_DIST_K 4096
#endif
/* Whether Q8_0, Q4_0 and Q4_1, whose kernels read each block in address order, prefetch: for
 * two tokens or more. One token (decode) goes to the streams kernels, whose several streams the
 * hardware prefetcher follows; two tokens (batched decode of two sequences, a MoE expert that
 * two of a step's tokens chose) read one stream and gained from the prefetch on the AMD EPYC
 * (Zen 5) of the 41st session: kbench 4096 x 32768, 2 tokens, 2 threads, builds alternated, ms:
 * Q4_0 1.76 / 0.76, 1.21 / 0.94, AVX2 1.35 / 1.17, 1.29 / 1.14; Q8_0 1.77 / 1.44, 1.77 / 1.52,
 * AVX2 2.34 / 1.73, 2.42 / 2.03; Q4_1 1.43 / 0.92, 1.88 / 1.03, AVX2 1.43 / 1.21, 1.46 / 1.23.
 * (It was T > 2 when one token ran these kernels too.) The one-token form was measured with
 * builds alternated, per-token medians of 100 decode steps (tinyllama, 2 threads): AVX-512 VNNI
 * Q8_0 40.1-42.8 -> 41.0-46.6 t/s; AVX2 Q8_0 (against the L2 hint it had) and Q4_0, and
 * DeepSeek-V2-Lite Q4_0, unchanged. Decode's Q8_0 multi-stream kernels gain only without them
 * (fr_gemm_q8_0x16_streams_avx2). The other kernels keep them: without, Q5_0 ran 7% slower,
 * Q5_1 17% (they read the high-bit plane first), IQ4_NL 2%, Q4_K_M 42%
 * (bench/results/2026-11-30-session18.md). */
#define FR_PF_IN_ORDER(T) (FR_PF_DIST && (T) >= 2)
/* An empty asm that "changes" v: the compiler must materialise v here, so it cannot
 * reassociate a whole block's integer adds into a tree that needs more than 16 registers.
 * ("v": any vector register, the 512-bit ones included.) */
#define FR_KEEP(v) __asm__("" : "+v"(v))

/* 4 activation bytes in every dword. */
FR_INLINE __m256i bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* The parts of T split activation rows (gemm.h): int8 values, float scales, offset words. */
FR_INLINE void split_acts(const void *const *acts, const int T, int64_t nb, const int8_t **yq, const float **yd,
                          const int32_t **yc) {
    FR_UNROLL for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 32);
        yc[t] = (const int32_t *)(yq[t] + nb * 36);
    }
}

/* A streams kernel's inputs (fr_gemm_streams_fn): its FR_GEMM_STREAMS units as bytes and the
 * parts of its one activation row (split_acts with T = 1). */
typedef struct {
    const uint8_t *u8[FR_GEMM_STREAMS];
    const int8_t *yq[1];
    const float *yd[1];
    const int32_t *yc[1];
} fr_streams_in;

FR_INLINE fr_streams_in split_streams(const void *const *units, const void *act, int64_t nb) {
    fr_streams_in in;
    FR_UNROLL for (int k = 0; k < FR_GEMM_STREAMS; k++) in.u8[k] = units[k];
    split_acts(&act, 1, nb, in.yq, in.yd, in.yc);
    return in;
}

/* The decode streams kernels' software prefetch where the CPU takes it
 * (fr_cpu_decode_streams_prefetch; dtype.c has the measurements): this many bytes ahead in
 * each stream, into L1. A constant in each kernel's instantiation: the same distance read
 * from the setting at run time measured slower in the K-quant kernels (kbench 2048 x 262144,
 * one token, 2 threads, 3 rounds: Q6_K 33.8-34.6 -> 39.8-40.3 GMAC/s, Q3_K 59.3-60.9 ->
 * 64.6-70.6; why was not looked into). */
#define FR_PF_DIST_STREAMS 1024

/* Q6_K's one-unit kernel with 2-4 tokens (batched decode, and prompts' tiles) where the CPU
 * takes the streams prefetch (fr_gemm_kernel_for): this many bytes ahead rather than
 * FR_PF_DIST. On the Intel Xeon of the 60th session, kbench Q6_K 2048 x 524288 (from DRAM), 2
 * threads, GMAC/s, 12 KiB / 2 KiB: 2 tokens 65.8-68.2 / 70.8-71.8, 3 tokens 86.4-89.2 /
 * 101.6-102.1, 4 tokens 108.7-111.1 / 121.6-132.2 (512 bytes and 1 KiB near 2 KiB, 4 KiB and
 * more near 12 KiB, none 98); DeepSeek-V2-Lite's Q6_K output with 4 sequences (a temporary
 * clock) 7.9 -> 7.0 ms a step. Q4_K's kernel ran slower so (4 tokens 183 -> 166-173 at 2 KiB)
 * and keeps 12 KiB; on AMD (Zen 5) 4 KiB cost Q6_K 12-14% at 4 tokens (FR_PF_DIST_K). */
#define FR_PF_DIST_Q6_FEW 2048

/* f(args..., PF): PF = 1 where a streams kernel's pf argument asks for the prefetch
 * (fr_gemm_streams_units passes fr_cpu_decode_streams_prefetch()), else 0: two instantiations
 * of an inline streams kernel. */
#define FR_STREAMS_BY_PF(pf, f, ...)                                                                                   \
    do {                                                                                                               \
        if (pf) f(__VA_ARGS__, 1);                                                                                     \
        else f(__VA_ARGS__, 0);                                                                                        \
    } while (0)

/* With PF, every line of block b (bbytes a block) of each stream FR_PF_DIST_STREAMS bytes
 * ahead, into L1; without, nothing. The streams kernels of the types whose blocks are read in
 * address order (Q4_0, Q5_0, Q4_1, Q5_1, IQ4_NL, Q8_0) call it once a block. (A prefetch past
 * a stream's end, into the next unit or unmapped memory, reads nothing and faults nothing.) */
FR_INLINE void prefetch_streams(const fr_streams_in *in, int64_t b, const size_t bbytes, const int PF) {
    if (!PF) return;
    FR_UNROLL for (int k = 0; k < FR_GEMM_STREAMS; k++) {
        const char *p = (const char *)in->u8[k] + (size_t)b * bbytes + FR_PF_DIST_STREAMS;
        FR_UNROLL for (size_t l = 0; l < bbytes; l += 64) _mm_prefetch(p + l, _MM_HINT_T0);
    }
}

/* The parts of T split-Q8_K activation rows (Q4_K, gemm.h): int8 values, float scales, int16
 * sums of 32 values. */
FR_INLINE void split_acts_k(const void *const *acts, const int T, int64_t nb, const int8_t **yq, const float **yd,
                            const int8_t **ys) {
    FR_UNROLL for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 256);
        ys[t] = yq[t] + nb * 260;
    }
}

/* The parts of T split-Q8_K rows for Q6_K (gemm.h): int8 values, float scales, offset words. */
FR_INLINE void split_acts_k6(const void *const *acts, const int T, int64_t nb, const int8_t **yq, const float **yd,
                             const int32_t **yc) {
    FR_UNROLL for (int t = 0; t < T; t++) {
        yq[t] = acts[t];
        yd[t] = (const float *)(yq[t] + nb * 256);
        yc[t] = (const int32_t *)(yq[t] + nb * 260);
    }
}

/* The end of a block for T activation rows: acc[t] = fma((float)isum[t], dx * dy_t, acc[t])
 * with dx the 8 fp16 scales at d8 (one half's, gemm.h "Result order"). */
FR_INLINE void block_end(const uint8_t *d8, int64_t b, const float *const *yd, const __m256i *isum, const int T,
                         __m256 *acc) {
    const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d8));
    FR_UNROLL for (int t = 0; t < T; t++) {
        const __m256 sc = _mm256_mul_ps(dx, _mm256_broadcast_ss(yd[t] + b));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), sc, acc[t]);
    }
}

/* The accumulators of halves h0 .. h0 + H - 1 (index hh * T + t) into out[t * 16 + 8h + r]. */
FR_INLINE void store_halves(const __m256 *acc, const int h0, const int H, const int T, float *out) {
    FR_UNROLL for (int hh = 0; hh < H; hh++)
        FR_UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 16 * t + 8 * (h0 + hh), acc[hh * T + t]);
}

/* A 256-bit kernel over a unit as halves: KERNEL(nb, unit, h0, H, acts, T, out) does halves
 * h0 .. h0 + H - 1. Both halves in one pass for T <= 2, so decode reads each 64-byte vector
 * once, whole; one half at a time for T > 2, where prompts' panels sit in L2 and the
 * registers hold T accumulators per half. The kernels whose per-block work is light (AVX2
 * Q4_0, Q4_1, Q8_0, Q4_K; AVX-VNNI Q8_0) take whole units for every T instead (FR_GEMM_BY_T),
 * each activation vector loaded once for both halves: on Zen 5 with AVX2, kbench 2048 x 5632,
 * 512 tokens, one thread, 1-8% faster, and Q8_0 4-sequence decode up to 15%. Q5_K, Q6_K and
 * Q2_K measured slower so, and Q5_0, Q5_1 and IQ4_NL no faster; they keep halves. */
#define FR_GEMM_HALVES_BY_T(KERNEL, nb, unit, acts, T, out)     \
    do {                                                        \
        switch (T) {                                            \
        case 1: KERNEL(nb, unit, 0, 2, acts, 1, out); break;    \
        case 2: KERNEL(nb, unit, 0, 2, acts, 2, out); break;    \
        case 3:                                                 \
            KERNEL(nb, unit, 0, 1, acts, 3, out);               \
            KERNEL(nb, unit, 1, 1, acts, 3, out);               \
            break;                                              \
        case 4:                                                 \
            KERNEL(nb, unit, 0, 1, acts, 4, out);               \
            KERNEL(nb, unit, 1, 1, acts, 4, out);               \
            break;                                              \
        default: break;                                         \
        }                                                       \
    } while (0)

#endif

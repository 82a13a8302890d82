/* gemm_amx.c: prompt kernels on AMX-INT8 tiles for the 32-value block types (Q4_0, Q5_0,
 * Q4_1, Q5_1, IQ4_NL, Q8_0) and the K-quants Q2_K .. Q6_K, 16 activation rows per call
 * (compiled with the AVX-512 VNNI flags and -mamx-tile -mamx-int8; called only where
 * fr_cpu_has(FR_ISA_AMX)).
 *
 * A packed unit (gemm.h) already holds its block in the layout of an AMX B tile: 8 groups of
 * 4 positions, and in each group's 64 bytes the 4 bytes of row r at 4r. For Q8_0 that is the
 * tile itself; the 4-bit types unpack a block's nibbles into that layout as signed values
 * (q - 8, q - 16, q; IQ4_NL's table values). One tdpbssd then gives, for 16 activation rows x
 * 16 weight rows, the block's exact int32 sums: the same integers the VNNI kernels reach with
 * their offsets. The float steps after it are block_end16's (gemm_avx512vnni.c), in the same
 * order: acc[t] = fma((float)sum, dx * dy_t, acc[t]), then (Q4_1, Q5_1) the min term. So every
 * result is bit-identical to the type's other kernels, and a token's logits do not depend on
 * whether its prompt went through here.
 *
 * The K-quants take one tdpbssd per sub-block (their sections below); one driver (amx_run)
 * runs the steps of every type.
 *
 * Tiles (one configuration, loaded by fr_gemm_amx_begin in the calling thread, whose state it
 * is): two pairs of A (16 x 32 bytes: the activation rows' block), B (8 x 64) and C (16 x 16
 * int32), so that the tile unit works on step s + 1 while the vector unit consumes step s. */
#include <immintrin.h>
#include <string.h>

#include "gemm_simd.h"
#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* the 16 activation rows' accumulators stay in registers only when their loops unroll whole */
#define FR_UNROLL16 _Pragma("GCC unroll 16")

/* tile numbers (macros: the intrinsics paste them into the instructions) */
#define TC0 0
#define TC1 1
#define TA0 2
#define TA1 3
#define TB0 4
#define TB1 5

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;
_Static_assert(sizeof(tile_config) == 64, "the LDTILECFG operand is 64 bytes");

/* A constant in memory: built on the stack, gcc 12 dropped the stores it did not see the
 * instruction read. */
static const tile_config k_tiles = {
    .palette = 1,
    /* C: 16 activation rows x 16 weight rows, int32; A: 16 activation rows x 32 bytes;
     * B: 8 groups x 16 rows x 4 bytes */
    .colsb = {[TC0] = 64, [TC1] = 64, [TA0] = 32, [TA1] = 32, [TB0] = 64, [TB1] = 64},
    .rows = {[TC0] = 16, [TC1] = 16, [TA0] = 16, [TA1] = 16, [TB0] = 8, [TB1] = 8},
};

void fr_gemm_amx_begin(void) { _tile_loadconfig(&k_tiles); }

void fr_gemm_amx_end(void) { _tile_release(); }

enum { K_Q4_0, K_Q5_0, K_Q4_1, K_Q5_1, K_IQ4_NL, K_Q8_0, K_Q4_K, K_Q5_K, K_Q6_K, K_Q3_K, K_Q2_K };

FR_INLINE int is_kquant(const int K) { return K >= K_Q4_K; }
/* the K-quants of 16 sub-blocks of 16 that take a step per sub-block (int8 scales) */
FR_INLINE int is_k16(const int K) { return K == K_Q6_K || K == K_Q3_K; }

FR_INLINE size_t amx_block_bytes(const int K) {
    return K == K_Q5_0 ? FR_Q5_0X16_BLOCK
           : K == K_Q4_1 ? FR_Q4_1X16_BLOCK
           : K == K_Q5_1 ? FR_Q5_1X16_BLOCK
           : K == K_Q8_0 ? FR_Q8_0X16_BLOCK
           : K == K_Q4_K ? FR_Q4_KX16_BLOCK
           : K == K_Q5_K ? FR_Q5_KX16_BLOCK
           : K == K_Q6_K ? FR_Q6_KX16_BLOCK
           : K == K_Q3_K ? FR_Q3_KX16_BLOCK
           : K == K_Q2_K ? FR_Q2_KX16_BLOCK
                         : FR_Q4_0X16_BLOCK; /* Q4_0, IQ4_NL */
}

FR_INLINE size_t d_at(const int K) {
    return K == K_Q5_0 ? FR_Q5_0X16_D
           : K == K_Q4_1 ? FR_Q4_1X16_D
           : K == K_Q5_1 ? FR_Q5_1X16_D
           : K == K_Q8_0 ? FR_Q8_0X16_D
                         : FR_Q4_0X16_D;
}

/* Bit b of each byte of v moved to bit 4, the other bits cleared. */
FR_INLINE __m512i bit_to4(__m512i v, const int b) {
    const __m512i b4 = _mm512_set1_epi8(0x10);
    return _mm512_and_si512(b < 4 ? _mm512_slli_epi16(v, 4 - b) : b > 4 ? _mm512_srli_epi16(v, b - 4) : v, b4);
}

/* The signed values of a 4- or 5-bit block in B-tile layout: vector m's low nibbles are
 * positions 4m .. 4m + 3 (group m), its high nibbles 16 + 4m .. (group 4 + m). */
FR_INLINE void unpack_block(const uint8_t *blk, int8_t *tile, const int K) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i off = _mm512_set1_epi8(K == K_Q4_0 ? 8 : K == K_Q5_0 ? 16 : 0);
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)fr_iq4nl_values));
    const int Q5 = K == K_Q5_0 || K == K_Q5_1;
    const __m512i hv = Q5 ? _mm512_loadu_si512(blk + (K == K_Q5_0 ? FR_Q5_0X16_QH : FR_Q5_1X16_QH))
                          : _mm512_setzero_si512();
    FR_UNROLL for (int m = 0; m < 4; m++) {
        const __m512i p = _mm512_loadu_si512(blk + 64 * m);
        __m512i lo = _mm512_and_si512(p, m4);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(p, 4), m4);
        if (Q5) {
            lo = _mm512_or_si512(lo, bit_to4(hv, 2 * m));
            hi = _mm512_or_si512(hi, bit_to4(hv, 2 * m + 1));
        }
        if (K == K_IQ4_NL) {
            lo = _mm512_shuffle_epi8(table, lo);
            hi = _mm512_shuffle_epi8(table, hi);
        } else {
            lo = _mm512_sub_epi8(lo, off);
            hi = _mm512_sub_epi8(hi, off);
        }
        _mm512_store_si512(tile + 64 * m, lo);
        _mm512_store_si512(tile + 64 * (4 + m), hi);
    }
}

/* Block b's sums (c: 16 activation rows x 16 int32) into the accumulators. */
FR_INLINE void amx_block_end(const int32_t *c, const uint8_t *blk, int64_t b, const uint8_t *act, size_t act_stride,
                         int64_t nb, __m512 *acc, const int K) {
    const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + d_at(K))));
    const int MIN = K == K_Q4_1 || K == K_Q5_1;
    const __m512 mx =
        MIN ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + (K == K_Q4_1 ? FR_Q4_1X16_M : FR_Q5_1X16_M))))
            : _mm512_setzero_ps();
    FR_UNROLL16 for (int t = 0; t < 16; t++) {
        const uint8_t *y = act + (size_t)t * act_stride;
        const float *yd = (const float *)(y + nb * 32);
        const __m512 sc = _mm512_mul_ps(dx, _mm512_set1_ps(yd[b]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * t)), sc, acc[t]);
        if (MIN) {
            const float *ys = (const float *)(y + nb * 36); /* the offset word: s_y as a float */
            acc[t] = _mm512_fmadd_ps(mx, _mm512_set1_ps(ys[b]), acc[t]);
        }
    }
}

/* ---- Q4_K, Q5_K: super-blocks of 8 sub-blocks of 32 ----
 *
 * One tdpbssd per sub-block j (the unsigned values 0..15, or 0..31, from the unpacked unit;
 * A: the activation rows' 32 values of sub-block j), then as k4x16_units (gemm_avx512vnni.c) lane
 * by lane: isum += s_j * sc_j in int32, msum from the mins and the activation's sub-block
 * sums, and per super-block sumf += (yd * d) * isum; sumf -= (yd * dmin) * msum. */

/* Sub-block j of super-block blk as a B tile: group k is the low (j even) or high nibbles of
 * vector V_{j/2, k}; Q5_K adds bit j of H_k as bit 4. */
FR_INLINE void unpack_sub_k(const uint8_t *blk, int j, int8_t *tile, const int Q5) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
    const __m128i up = _mm_cvtsi32_si128(j < 4 ? 4 - j : 0), down = _mm_cvtsi32_si128(j < 4 ? 0 : j - 4);
    FR_UNROLL for (int k = 0; k < 8; k++) {
        __m512i v = _mm512_loadu_si512(blk + 64 * (8 * (j >> 1) + k));
        v = _mm512_and_si512((j & 1) ? _mm512_srli_epi16(v, 4) : v, m4);
        if (Q5) {
            const __m512i hv = _mm512_loadu_si512(blk + FR_Q5_KX16_QH + 64 * k);
            v = _mm512_or_si512(v, _mm512_and_si512(_mm512_srl_epi16(_mm512_sll_epi16(hv, up), down), b4));
        }
        _mm512_store_si512(tile + 64 * k, v);
    }
}

/* isum[t] += s_j[t] * sc_j: the sums s_j of a sub-block in c, its 16 rows' scales at sc
 * (Q4_K, Q5_K: 6-bit, unsigned; Q6_K, Q3_K: int8) */
FR_INLINE void k_consume(const int32_t *c, const uint8_t *sc, __m512i *isum, const int SIGNED) {
    const __m128i b = _mm_loadu_si128((const __m128i *)sc);
    const __m512i scv = SIGNED ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    FR_UNROLL16 for (int t = 0; t < 16; t++)
        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_load_si512(c + 16 * t), scv));
}

/* The end of super-block b: the mins and the float steps into acc (in memory: with the 16
 * isum registers, 16 accumulators would not fit), isum cleared. */
FR_INLINE void k_finish(const uint8_t *blk, int64_t b, const uint8_t *act, size_t act_stride, int64_t nb,
                        __m512i *isum, float *acc) {
    const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + FR_Q4_KX16_D)));
    const __m512 dmx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + FR_Q4_KX16_DMIN)));
    __m512i mv[4];
    FR_UNROLL for (int i = 0; i < 4; i++)
        mv[i] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(blk + FR_Q4_KX16_MN + 32 * i)));
    FR_UNROLL16 for (int t = 0; t < 16; t++) {
        const uint8_t *y = act + (size_t)t * act_stride;
        const float *yd = (const float *)(y + nb * 256);
        const int8_t *ys = (const int8_t *)y + nb * 260 + b * 16;
        __m512i msum = _mm512_setzero_si512();
        FR_UNROLL for (int i = 0; i < 4; i++) {
            int32_t pair;
            memcpy(&pair, ys + 4 * i, 4);
            msum = _mm512_add_epi32(msum, _mm512_madd_epi16(mv[i], _mm512_set1_epi32(pair)));
        }
        const __m512 ydv = _mm512_set1_ps(yd[b]);
        const __m512 a = _mm512_mul_ps(_mm512_mul_ps(ydv, dx), _mm512_cvtepi32_ps(isum[t]));
        const __m512 bb = _mm512_mul_ps(_mm512_mul_ps(ydv, dmx), _mm512_cvtepi32_ps(msum));
        _mm512_store_ps(acc + 16 * t, _mm512_sub_ps(_mm512_add_ps(_mm512_load_ps(acc + 16 * t), a), bb));
        isum[t] = _mm512_setzero_si512();
    }
}

/* ---- Q6_K: super-blocks of 16 sub-blocks of 16 ----
 *
 * A tile takes 32 activation values; sub-block j's B tile holds its values q - 32 in the
 * four groups of its half of those 32 and zeros in the other four, so each tdpbssd gives one
 * sub-block's exact sums. Then as k6x16_units (gemm_avx512vnni.c): isum += s_j * sc_j, and per
 * super-block sumf += (yd * d) * isum. */

/* Chunk g (values 32g .. 32g + 31, sub-blocks 2g and 2g + 1) of super-block blk: the values
 * q - 32 rebuilt as k6x16_units does, into the B tiles of the two sub-blocks. */
FR_INLINE void unpack_chunk_q6(const uint8_t *blk, int g, int8_t *even, int8_t *odd) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30), c32 = _mm512_set1_epi8(32);
    const __m512i zero = _mm512_setzero_si512();
    FR_UNROLL for (int k = 0; k < 8; k++) {
        const __m512i lv = _mm512_loadu_si512(blk + 64 * (8 * (g >> 1) + k));
        const __m512i nib = _mm512_and_si512((g & 1) ? _mm512_srli_epi16(lv, 4) : lv, m4);
        const __m512i hv = _mm512_loadu_si512(blk + FR_Q6_KX16_QH + 64 * (8 * (g >> 2) + k));
        const int i = g & 3;
        const __m512i hs = i == 0   ? _mm512_slli_epi16(hv, 4)
                           : i == 1 ? _mm512_slli_epi16(hv, 2)
                           : i == 2 ? hv
                                    : _mm512_srli_epi16(hv, 2);
        const __m512i q = _mm512_sub_epi8(_mm512_ternarylogic_epi32(m30, hs, nib, 0xEA), c32);
        _mm512_store_si512((k < 4 ? even : odd) + 64 * k, q);
        _mm512_store_si512((k < 4 ? odd : even) + 64 * k, zero);
    }
}

/* Chunk g of a Q3_K super-block (layout Q3_Kx16): the values (q2 | third bit << 2) - 4 = q3,
 * rebuilt as k6x16_units does (there as u = q3 + 32), into the B tiles of sub-blocks 2g, 2g + 1. */
FR_INLINE void unpack_chunk_q3(const uint8_t *blk, int g, int8_t *even, int8_t *odd) {
    const __m512i m3 = _mm512_set1_epi8(3), m04 = _mm512_set1_epi8(4), zero = _mm512_setzero_si512();
    const __m128i q2s = _mm_cvtsi32_si128(2 * (g & 3));
    const __m128i hup = _mm_cvtsi32_si128(g < 2 ? 2 - g : 0), hdown = _mm_cvtsi32_si128(g > 2 ? g - 2 : 0);
    FR_UNROLL for (int k = 0; k < 8; k++) {
        const __m512i qv = _mm512_loadu_si512(blk + 64 * (8 * (g >> 2) + k));
        const __m512i q2 = _mm512_and_si512(_mm512_srl_epi16(qv, q2s), m3);
        const __m512i hv = _mm512_loadu_si512(blk + FR_Q3_KX16_HM + 64 * k);
        const __m512i h3 = _mm512_and_si512(_mm512_srl_epi16(_mm512_sll_epi16(hv, hup), hdown), m04);
        const __m512i q = _mm512_sub_epi8(_mm512_or_si512(q2, h3), m04);
        _mm512_store_si512((k < 4 ? even : odd) + 64 * k, q);
        _mm512_store_si512((k < 4 ? odd : even) + 64 * k, zero);
    }
}

/* ---- Q2_K: super-blocks of 16 sub-blocks of 16, a step per 32 values ----
 *
 * A value q (0..3) times its 4-bit scale is at most 45, an int8: so chunk g's B tile holds the
 * products q * sc of its two sub-blocks, and one tdpbssd gives for the 32 values the sum over
 * both of sc_j * sum(q * y), which k6x16_units (KIND 2) reaches with a multiply per sub-block:
 * the same integer isum (|isum| <= 256 * 45 * 127). Then its float steps (k2_finish). Half the
 * steps of Q6_K's form and no scale multiply per step. kbench Q2_K 2048 x 5632, 512 tokens,
 * against AVX-512 VNNI: one thread 116.6 -> 175.5-180.6 GMAC/s, two 233 -> 354; tinyllama Q2_K
 * pp512, 2 threads, alternated with the old binary: 218.5-225.0 -> 284.5-290.8 t/s (llama.cpp
 * c392e50 native on the same file: 68-70). (The Q6_K/Q3_K form cannot take this: their values
 * times their scales exceed int8.) */

/* Chunk g (values 32g .. 32g + 31, sub-blocks 2g and 2g + 1) of super-block blk as a B tile
 * of the products q * sc: group k < 4 of sub-block 2g, k >= 4 of 2g + 1. */
FR_INLINE void unpack_chunk_q2(const uint8_t *blk, int g, int8_t *tile) {
    const __m512i m3 = _mm512_set1_epi8(3), m15 = _mm512_set1_epi32(15);
    /* byte 0 of each dword to all four: row r's scale at bytes 4r .. 4r + 3 */
    const __m512i spread = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    const __m128i q2s = _mm_cvtsi32_si128(2 * (g & 3));
    __m512i sc[2];
    FR_UNROLL for (int h = 0; h < 2; h++) {
        const __m128i b = _mm_loadu_si128((const __m128i *)(blk + FR_Q2_KX16_SC + 16 * (2 * g + h)));
        sc[h] = _mm512_shuffle_epi8(_mm512_and_si512(_mm512_cvtepu8_epi32(b), m15), spread);
    }
    FR_UNROLL for (int k = 0; k < 8; k++) {
        const __m512i qv = _mm512_loadu_si512(blk + 64 * (8 * (g >> 2) + k));
        const __m512i q = _mm512_and_si512(_mm512_srl_epi16(qv, q2s), m3);
        const __m512i s1 = sc[k >> 2], s2 = _mm512_add_epi8(s1, s1); /* q * sc = (q & 1) sc + (q & 2) sc */
        const __m512i p = _mm512_add_epi8(_mm512_maskz_mov_epi8(_mm512_test_epi8_mask(q, _mm512_set1_epi8(1)), s1),
                                          _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(q, _mm512_set1_epi8(2)), s2));
        _mm512_store_si512(tile + 64 * k, p);
    }
}

/* The end of a Q2_K super-block, k6x16_units' float steps for KIND 2 lane by lane:
 * sumf += (yd * d) * isum; then msum = sum_j m_j * ysum_j (madd of the (m_2i, m_2i+1) pairs
 * with the offset words' (-16 ysum_2i, -16 ysum_2i+1), shifted back exactly) and
 * sumf -= (yd * dmin) * msum. */
FR_INLINE void k2_finish(const uint8_t *blk, int64_t b, const uint8_t *act, size_t act_stride, int64_t nb,
                         __m512i *isum, float *acc) {
    const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + FR_Q2_KX16_D)));
    const __m512 dmx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + FR_Q2_KX16_DMIN)));
    __m512i mp[8];
    FR_UNROLL for (int i = 0; i < 8; i++) {
        const __m512i lo = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(blk + FR_Q2_KX16_SC + 32 * i)));
        const __m512i hi = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(blk + FR_Q2_KX16_SC + 32 * i + 16)));
        mp[i] = _mm512_or_si512(_mm512_srli_epi32(lo, 4), _mm512_slli_epi32(_mm512_srli_epi32(hi, 4), 16));
    }
    FR_UNROLL16 for (int t = 0; t < 16; t++) {
        const uint8_t *y = act + (size_t)t * act_stride;
        const float yd = ((const float *)(y + nb * 256))[b];
        /* the pairs (low half of word 2i, low half of word 2i + 1): the words truncated to 16 bits */
        _Alignas(32) int32_t y2[8];
        const int32_t *yc = (const int32_t *)(y + nb * 260) + b * 16;
        _mm256_store_si256((__m256i *)y2, _mm512_cvtepi32_epi16(_mm512_loadu_si512(yc)));
        __m512i msum = _mm512_setzero_si512();
        FR_UNROLL for (int i = 0; i < 8; i++)
            msum = _mm512_add_epi32(msum, _mm512_madd_epi16(mp[i], _mm512_set1_epi32(y2[i])));
        const __m512 d = _mm512_mul_ps(_mm512_set1_ps(yd), dx);
        __m512 a = _mm512_add_ps(_mm512_load_ps(acc + 16 * t), _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t])));
        const __m512i m = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_srai_epi32(msum, 4)); /* / -16 */
        a = _mm512_sub_ps(a, _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(yd), dmx), _mm512_cvtepi32_ps(m)));
        _mm512_store_ps(acc + 16 * t, a);
        isum[t] = _mm512_setzero_si512();
    }
}

/* The end of a Q6_K or Q3_K super-block (dp: its 16 fp16 scales d): sumf += (yd * d) * isum. */
FR_INLINE void k6_finish(const uint8_t *dp, int64_t b, const uint8_t *act, size_t act_stride, int64_t nb,
                         __m512i *isum, float *acc) {
    const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dp));
    FR_UNROLL16 for (int t = 0; t < 16; t++) {
        const float *yd = (const float *)(act + (size_t)t * act_stride + nb * 256);
        const __m512 d = _mm512_mul_ps(_mm512_set1_ps(yd[b]), dx);
        const __m512 a = _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t]));
        _mm512_store_ps(acc + 16 * t, _mm512_add_ps(_mm512_load_ps(acc + 16 * t), a));
        isum[t] = _mm512_setzero_si512();
    }
}

/* ---- the driver: steps s of one tdpbssd each ----
 *
 * A step is a block (the 32-value types), a sub-block of 32 (Q4_K, Q5_K: 8 per super-block) or
 * of 16 (Q6_K: 16). Software-pipelined: step s's sums are stored while step s - 1's (stored one
 * step before) are consumed, so that the vector loads never wait for a tile store in flight. */

FR_INLINE int64_t steps_per_block(const int K) { return is_k16(K) ? 16 : is_kquant(K) ? 8 : 1; }

/* the activation rows' 32 bytes of step s */
FR_INLINE const uint8_t *a_at(const uint8_t *a, int64_t s, const int K) {
    if (is_k16(K)) return a + (s >> 4) * 256 + 32 * ((s & 15) >> 1);
    if (is_kquant(K)) return a + (s >> 3) * 256 + 32 * (s & 7);
    return a + s * 32;
}

/* step s's B tile: from bt (unpacked before; the K-quants always), the unit's own bytes
 * (Q8_0), or the block's values unpacked into buf now */
FR_INLINE const void *b_at(const void *bt, const uint8_t *u, int64_t s, int8_t *buf, const int K) {
    if (bt || is_kquant(K)) return (const int8_t *)bt + (size_t)s * FR_GEMM_AMX_BLOCK;
    if (K == K_Q8_0) return u + (size_t)s * amx_block_bytes(K);
    unpack_block(u + (size_t)s * amx_block_bytes(K), buf, K);
    return buf;
}

/* Step s's sums c into the running sums: acc (the 32-value types), or isum and, at the end of
 * a super-block, accm (the K-quants) */
FR_INLINE void consume(const int32_t *c, const uint8_t *u, int64_t s, const uint8_t *a, size_t act_stride, int64_t nb,
                       __m512 *acc, __m512i *isum, float *accm, const int K) {
    const int64_t spb = steps_per_block(K), b = s / spb;
    const int j = (int)(s % spb);
    const uint8_t *blk = u + (size_t)b * amx_block_bytes(K);
    if (K == K_Q2_K) { /* the scales are in the products already */
        FR_UNROLL16 for (int t = 0; t < 16; t++) isum[t] = _mm512_add_epi32(isum[t], _mm512_load_si512(c + 16 * t));
        if (j == 7) k2_finish(blk, b, a, act_stride, nb, isum, accm);
    } else if (is_k16(K)) {
        k_consume(c, blk + (K == K_Q3_K ? FR_Q3_KX16_SC : FR_Q6_KX16_SC) + 16 * j, isum, 1);
        if (j == 15) k6_finish(blk + (K == K_Q3_K ? FR_Q3_KX16_D : FR_Q6_KX16_D), b, a, act_stride, nb, isum, accm);
    } else if (is_kquant(K)) {
        k_consume(c, blk + FR_Q4_KX16_SC + 16 * j, isum, 0);
        if (j == 7) k_finish(blk, b, a, act_stride, nb, isum, accm);
    } else {
        amx_block_end(c, blk, b, a, act_stride, nb, acc, K);
    }
}

FR_INLINE void amx_run(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out,
                       const int K) {
    const uint8_t *u = unit, *a = act;
    _Alignas(64) int32_t c0[256], c1[256];
    _Alignas(64) int8_t b0[512], b1[512];
    _Alignas(64) float accm[256]; /* the K-quants' float sums: with the 16 isum registers, 16
                                   * accumulators would not fit */
    __m512 acc[16];
    __m512i isum[16];
    FR_UNROLL16 for (int t = 0; t < 16; t++) {
        acc[t] = _mm512_setzero_ps();
        isum[t] = _mm512_setzero_si512();
    }
    if (is_kquant(K)) memset(accm, 0, sizeof accm);
#define STEP(TA, TB, TC, s, cbuf, buf)                                   \
    do {                                                                 \
        _tile_loadd(TA, a_at(a, s, K), (long)act_stride);                \
        _tile_loadd(TB, b_at(bt, u, s, buf, K), 64);                     \
        _tile_zero(TC);                                                  \
        _tile_dpbssd(TC, TA, TB);                                        \
        _tile_stored(TC, cbuf, 64);                                      \
    } while (0)
#define CONSUME(cbuf, s) consume(cbuf, u, s, a, act_stride, nb, acc, isum, accm, K)
    const int64_t n = nb * steps_per_block(K);
    STEP(TA0, TB0, TC0, 0, c0, b0);
    int64_t s = 1;
    for (; s + 1 < n; s += 2) {
        STEP(TA1, TB1, TC1, s, c1, b1);
        CONSUME(c0, s - 1);
        STEP(TA0, TB0, TC0, s + 1, c0, b0);
        CONSUME(c1, s);
    }
    if (s < n) { /* n even: the last step */
        STEP(TA1, TB1, TC1, s, c1, b1);
        CONSUME(c0, s - 1);
        CONSUME(c1, s);
    } else {
        CONSUME(c0, s - 1);
    }
#undef STEP
#undef CONSUME
    if (is_kquant(K)) memcpy(out, accm, sizeof accm);
    else FR_UNROLL16 for (int t = 0; t < 16; t++) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

/* (bt required for the K-quants: fr_gemm_amx_unpack) */
#define AMX_KERNEL(name, K)                                                                                       \
    void fr_gemm_##name##x16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, \
                                 float *out) {                                                                   \
        amx_run(nb, unit, bt, act, act_stride, out, K);                                                          \
    }
AMX_KERNEL(q4_0, K_Q4_0)
AMX_KERNEL(q5_0, K_Q5_0)
AMX_KERNEL(q4_1, K_Q4_1)
AMX_KERNEL(q5_1, K_Q5_1)
AMX_KERNEL(iq4_nl, K_IQ4_NL)
AMX_KERNEL(q8_0, K_Q8_0)
AMX_KERNEL(q4_K, K_Q4_K)
AMX_KERNEL(q5_K, K_Q5_K)
AMX_KERNEL(q6_K, K_Q6_K)
AMX_KERNEL(q3_K, K_Q3_K)
AMX_KERNEL(q2_K, K_Q2_K)
#undef AMX_KERNEL

/* A unit's B tiles, step s's at dst + s * FR_GEMM_AMX_BLOCK (the steps of amx_run) */
FR_INLINE void unpack_unit(int64_t nb, const uint8_t *unit, int8_t *dst, const int K) {
    const size_t bb = amx_block_bytes(K);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = unit + (size_t)b * bb;
        int8_t *t = dst + (size_t)(b * steps_per_block(K)) * FR_GEMM_AMX_BLOCK;
        if (is_k16(K)) {
            FR_UNROLL for (int g = 0; g < 8; g++) {
                int8_t *even = t + (size_t)(2 * g) * FR_GEMM_AMX_BLOCK, *odd = even + FR_GEMM_AMX_BLOCK;
                if (K == K_Q3_K) unpack_chunk_q3(blk, g, even, odd);
                else unpack_chunk_q6(blk, g, even, odd);
            }
        } else if (K == K_Q2_K) {
            FR_UNROLL for (int g = 0; g < 8; g++) unpack_chunk_q2(blk, g, t + (size_t)g * FR_GEMM_AMX_BLOCK);
        } else if (is_kquant(K)) {
            FR_UNROLL for (int j = 0; j < 8; j++) unpack_sub_k(blk, j, t + (size_t)j * FR_GEMM_AMX_BLOCK, K == K_Q5_K);
        } else {
            unpack_block(blk, t, K);
        }
    }
}

void fr_gemm_amx_unpack(int type, int64_t nb, const void *unit, void *dst) {
    switch (type) { /* one specialised unpack per type */
    case FR_TYPE_Q4_0: unpack_unit(nb, unit, dst, K_Q4_0); break;
    case FR_TYPE_Q5_0: unpack_unit(nb, unit, dst, K_Q5_0); break;
    case FR_TYPE_Q4_1: unpack_unit(nb, unit, dst, K_Q4_1); break;
    case FR_TYPE_Q5_1: unpack_unit(nb, unit, dst, K_Q5_1); break;
    case FR_TYPE_IQ4_NL: unpack_unit(nb, unit, dst, K_IQ4_NL); break;
    case FR_TYPE_Q2_K: unpack_unit(nb, unit, dst, K_Q2_K); break;
    case FR_TYPE_Q3_K: unpack_unit(nb, unit, dst, K_Q3_K); break;
    case FR_TYPE_Q4_K: unpack_unit(nb, unit, dst, K_Q4_K); break;
    case FR_TYPE_Q5_K: unpack_unit(nb, unit, dst, K_Q5_K); break;
    case FR_TYPE_Q6_K: unpack_unit(nb, unit, dst, K_Q6_K); break;
    default: break; /* Q8_0: its unit is its own */
    }
}

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
 * The K-quants put their scales in the B tiles and accumulate a super-block on the tile unit
 * (their section below, amx_run_k); the 32-value types take a step per block (amx_run).
 *
 * Tiles (one configuration, loaded by fr_gemm_amx_begin in the calling thread, whose state it
 * is): two A (16 x 32 bytes: the activation rows' 32 values), two B (8 x 64) and four C (16 x
 * 16 int32), so that the tile unit works on one step or super-block while the vector unit
 * consumes the one before. */
#include <immintrin.h>
#include <string.h>

#include "gemm_simd.h"
#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* the 16 activation rows' accumulators stay in registers only when their loops unroll whole */
#define FR_UNROLL16 FR_PRAGMA_UNROLL(16)

/* tile numbers (macros: the intrinsics paste them into the instructions) */
#define TC0 0
#define TC1 1
#define TA0 2
#define TA1 3
#define TB0 4
#define TB1 5
#define TC2 6
#define TC3 7

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
    .colsb = {[TC0] = 64, [TC1] = 64, [TA0] = 32, [TA1] = 32, [TB0] = 64, [TB1] = 64, [TC2] = 64, [TC3] = 64},
    .rows = {[TC0] = 16, [TC1] = 16, [TA0] = 16, [TA1] = 16, [TB0] = 8, [TB1] = 8, [TC2] = 16, [TC3] = 16},
};

void fr_gemm_amx_begin(void) { _tile_loadconfig(&k_tiles); }

void fr_gemm_amx_end(void) { _tile_release(); }

enum { K_Q4_0, K_Q5_0, K_Q4_1, K_Q5_1, K_IQ4_NL, K_Q8_0, K_Q4_K, K_Q5_K, K_Q6_K, K_Q3_K, K_Q2_K };

FR_INLINE int is_kquant(const int K) { return K >= K_Q4_K; }
/* B tiles per chunk of 32 values in an unpacked unit (unpack_unit): Q3_K .. Q6_K two (h, l),
 * the others one */
FR_INLINE int tiles_per_chunk(const int K) { return is_kquant(K) && K != K_Q2_K ? 2 : 1; }

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

/* ---- the K-quants: super-blocks of 256 values, a chunk of 32 per step ----
 *
 * Each value times its row's sub-block scale, v, is an exact integer, and sum_j sc_j sum(q_j y)
 * = sum v y, the integer isum of the type's reference (fr_vec_dot_*_ref) and VNNI kernels:
 * - Q3_K .. Q6_K: v = q3 * sc (Q3_K, |v| <= 4 * 32), (q - 32) * sc (Q6_K, |v| <= 32 * 128) or
 *   q * sc (Q4_K, Q5_K: 0 <= v <= 31 * 63) is an int16. As v = 64 h + l, with l = v & 63
 *   (0..63) and h = v >> 6 (-64..64) both int8, a chunk of 32 values takes two B tiles (h and
 *   l; unpacked once per unit), and two tdpbssd per chunk accumulate over a super-block's 8
 *   chunks C_h = sum h y and C_l = sum l y: isum = 64 C_h + C_l (|64 C_h| <= 64 * 256 * 64 *
 *   127 < 2^31).
 * - Q2_K: v = q * sc <= 3 * 15 is an int8 itself: one tile per chunk, and C is isum.
 * Then the reference's float steps lane by lane (k_finish, k6_finish, k2_finish). The form
 * before this (a tdpbssd per sub-block, Q6_K's on half-empty tiles, then a vector multiply of
 * the 16 x 16 sums by the scales) ran kbench 2048 x 5632, 512 tokens, one thread at Q4_K 201,
 * Q6_K 141.5, Q3_K 137.6 GMAC/s; this one at Q4_K 302-310, Q6_K 353-362, Q3_K 362-395 (Q2_K:
 * AVX-512 VNNI 116.6 -> 232), the same bits. */

/* The end of a Q4_K or Q5_K super-block: the mins and the float steps into acc (in memory:
 * with the 16 isum registers, 16 accumulators would not fit):
 * sumf += (yd * d) * isum; sumf -= (yd * dmin) * msum, msum from the mins and the
 * activation's sub-block sums, as k4x16_units (gemm_avx512vnni.c). */
FR_INLINE void k_finish(const uint8_t *blk, int64_t b, const uint8_t *act, size_t act_stride, int64_t nb,
                        const __m512i *isum, float *acc) {
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
    }
}

/* The end of a Q6_K or Q3_K super-block (dp: its 16 fp16 scales d): sumf += (yd * d) * isum. */
FR_INLINE void k6_finish(const uint8_t *dp, int64_t b, const uint8_t *act, size_t act_stride, int64_t nb,
                         const __m512i *isum, float *acc) {
    const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dp));
    FR_UNROLL16 for (int t = 0; t < 16; t++) {
        const float *yd = (const float *)(act + (size_t)t * act_stride + nb * 256);
        const __m512 d = _mm512_mul_ps(_mm512_set1_ps(yd[b]), dx);
        const __m512 a = _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t]));
        _mm512_store_ps(acc + 16 * t, _mm512_add_ps(_mm512_load_ps(acc + 16 * t), a));
    }
}

/* The 16 rows' scale bytes at p (row r at p + r) as a B-tile group: row r's at bytes 4r ..
 * 4r + 3 of every 16-byte lane; LOW4: their low 4 bits (Q2_K's scale beside its min). */
FR_INLINE __m512i row_scales(const uint8_t *p, const int LOW4) {
    const __m512i spread = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    if (LOW4) v = _mm512_and_si512(v, _mm512_set1_epi32(15));
    return _mm512_shuffle_epi8(v, spread);
}

/* The end of a Q2_K super-block, k6x16_units' float steps for KIND 2 lane by lane:
 * sumf += (yd * d) * isum; then msum = sum_j m_j * ysum_j (madd of the (m_2i, m_2i+1) pairs
 * with the offset words' (-16 ysum_2i, -16 ysum_2i+1), shifted back exactly) and
 * sumf -= (yd * dmin) * msum. */
FR_INLINE void k2_finish(const uint8_t *blk, int64_t b, const uint8_t *act, size_t act_stride, int64_t nb,
                         const __m512i *isum, float *acc) {
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
    }
}

/* Group k (values 32g + 4k .. + 3 of each row) of chunk g: q (Q4_K; Q5_K with bit g of H_k
 * as bit 4: chunk g is sub-block g, the low or high nibbles of vector V_{g/2, k}), q (Q2_K), q3
 * (Q3_K) or q - 32 (Q6_K), as k4x16_units and k6x16_units rebuild them. */
FR_INLINE __m512i chunk_values(const uint8_t *blk, int g, int k, const int K) {
    if (K == K_Q4_K || K == K_Q5_K) {
        const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
        const __m512i v = _mm512_loadu_si512(blk + 64 * (8 * (g >> 1) + k));
        __m512i q = _mm512_and_si512((g & 1) ? _mm512_srli_epi16(v, 4) : v, m4);
        if (K == K_Q5_K) {
            const __m128i up = _mm_cvtsi32_si128(g < 4 ? 4 - g : 0), down = _mm_cvtsi32_si128(g < 4 ? 0 : g - 4);
            const __m512i hv = _mm512_loadu_si512(blk + FR_Q5_KX16_QH + 64 * k);
            q = _mm512_or_si512(q, _mm512_and_si512(_mm512_srl_epi16(_mm512_sll_epi16(hv, up), down), b4));
        }
        return q;
    }
    if (K == K_Q2_K || K == K_Q3_K) { /* the 2-bit field of vector Q_{g/4, k} (Q3_Kx16's layout) */
        const __m512i qv = _mm512_loadu_si512(blk + 64 * (8 * (g >> 2) + k));
        const __m512i q2 = _mm512_and_si512(_mm512_srl_epi16(qv, _mm_cvtsi32_si128(2 * (g & 3))), _mm512_set1_epi8(3));
        if (K == K_Q2_K) return q2;
        const __m512i m04 = _mm512_set1_epi8(4);
        const __m128i hup = _mm_cvtsi32_si128(g < 2 ? 2 - g : 0), hdown = _mm_cvtsi32_si128(g > 2 ? g - 2 : 0);
        const __m512i hv = _mm512_loadu_si512(blk + FR_Q3_KX16_HM + 64 * k);
        const __m512i h3 = _mm512_and_si512(_mm512_srl_epi16(_mm512_sll_epi16(hv, hup), hdown), m04);
        return _mm512_sub_epi8(_mm512_or_si512(q2, h3), m04);
    }
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30), c32 = _mm512_set1_epi8(32);
    const __m512i lv = _mm512_loadu_si512(blk + 64 * (8 * (g >> 1) + k));
    const __m512i nib = _mm512_and_si512((g & 1) ? _mm512_srli_epi16(lv, 4) : lv, m4);
    const __m512i hv = _mm512_loadu_si512(blk + FR_Q6_KX16_QH + 64 * (8 * (g >> 2) + k));
    const int i = g & 3;
    const __m512i hs = i == 0   ? _mm512_slli_epi16(hv, 4)
                       : i == 1 ? _mm512_slli_epi16(hv, 2)
                       : i == 2 ? hv
                                : _mm512_srli_epi16(hv, 2);
    return _mm512_sub_epi8(_mm512_ternarylogic_epi32(m30, hs, nib, 0xEA), c32);
}

/* Q2_K: chunk g (values 32g .. 32g + 31, sub-blocks 2g and 2g + 1) of super-block blk as a B
 * tile of the products q * sc (layout Q2_Kx16: q as k6x16_units takes it, sc the low 4 bits of
 * the scale bytes): group k < 4 of sub-block 2g, k >= 4 of 2g + 1. */
FR_INLINE void unpack_chunk_q2(const uint8_t *blk, int g, int8_t *tile) {
    const uint8_t *scb = blk + FR_Q2_KX16_SC + 32 * g; /* sub-blocks 2g, 2g + 1 */
    const __m512i sc[2] = {row_scales(scb, 1), row_scales(scb + 16, 1)};
    FR_UNROLL for (int k = 0; k < 8; k++) {
        const __m512i q = chunk_values(blk, g, k, K_Q2_K);
        const __m512i s1 = sc[k >> 2], s2 = _mm512_add_epi8(s1, s1); /* q * sc = (q & 1) sc + (q & 2) sc */
        const __m512i p = _mm512_add_epi8(_mm512_maskz_mov_epi8(_mm512_test_epi8_mask(q, _mm512_set1_epi8(1)), s1),
                                          _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(q, _mm512_set1_epi8(2)), s2));
        _mm512_store_si512(tile + 64 * k, p);
    }
}

/* Q3_K .. Q6_K: chunk g of super-block blk as the tiles th (h) and tl (l) of the products v. */
FR_INLINE void unpack_chunk_split(const uint8_t *blk, int g, int8_t *th, int8_t *tl, const int K) {
    const int K32 = K == K_Q4_K || K == K_Q5_K; /* one sub-block per chunk, 6-bit unsigned scales */
    const size_t sc_at = K32 ? FR_Q4_KX16_SC : K == K_Q3_K ? FR_Q3_KX16_SC : FR_Q6_KX16_SC;
    const __m512i m63 = _mm512_set1_epi16(63), mff = _mm512_set1_epi16(0xff);
    /* the scales of the chunk's first and second half (sign-extended below) */
    const __m512i sc[2] = {row_scales(blk + sc_at + 16 * (K32 ? g : 2 * g), 0),
                           row_scales(blk + sc_at + 16 * (K32 ? g : 2 * g + 1), 0)};
    FR_UNROLL for (int k = 0; k < 8; k++) {
        const __m512i q = chunk_values(blk, g, k, K), sv = sc[k >> 2];
        /* the int16 products of the even bytes and of the odd ones */
        const __m512i pe = _mm512_mullo_epi16(_mm512_srai_epi16(_mm512_slli_epi16(q, 8), 8),
                                              _mm512_srai_epi16(_mm512_slli_epi16(sv, 8), 8));
        const __m512i po = _mm512_mullo_epi16(_mm512_srai_epi16(q, 8), _mm512_srai_epi16(sv, 8));
        const __m512i l = _mm512_or_si512(_mm512_and_si512(pe, m63), _mm512_slli_epi16(_mm512_and_si512(po, m63), 8));
        const __m512i h = _mm512_or_si512(_mm512_and_si512(_mm512_srai_epi16(pe, 6), mff),
                                          _mm512_slli_epi16(_mm512_srai_epi16(po, 6), 8));
        _mm512_store_si512(th + 64 * k, h);
        _mm512_store_si512(tl + 64 * k, l);
    }
}

/* The K-quant kernels (bt: the unit as unpack_unit writes it): super-block b's chunks
 * accumulate on C tiles TC0, TC1 (b even) or TC2, TC3 (b odd), stored at its end and finished
 * while the tile unit works on b + 1. */
FR_INLINE void amx_run_k(int64_t nb, const uint8_t *u, const int8_t *bt, const uint8_t *a, size_t act_stride,
                         float *out, const int K) {
    const size_t bb = amx_block_bytes(K);
    const int Q2 = K == K_Q2_K, TPC = tiles_per_chunk(K);
    _Alignas(64) int32_t ch[2][256], cl[2][256];
    _Alignas(64) float accm[256];
    __m512i isum[16];
    memset(accm, 0, sizeof accm);
#define CHUNK(TH, TL, TA, g)                                                                          \
    do {                                                                                              \
        const int8_t *tg = bt + (size_t)((b * 8 + (g)) * TPC) * FR_GEMM_AMX_BLOCK;                    \
        _tile_loadd(TA, a + b * 256 + 32 * (g), (long)act_stride);                                    \
        _tile_loadd(TB0, tg, 64);                                                                     \
        _tile_dpbssd(TH, TA, TB0);                                                                    \
        if (!Q2) {                                                                                    \
            _tile_loadd(TB1, tg + FR_GEMM_AMX_BLOCK, 64);                                             \
            _tile_dpbssd(TL, TA, TB1);                                                                \
        }                                                                                             \
    } while (0)
#define CHUNKS(TH, TL)                                                                                \
    do {                                                                                              \
        _tile_zero(TH);                                                                               \
        if (!Q2) _tile_zero(TL);                                                                      \
        for (int g = 0; g < 8; g += 2) {                                                              \
            CHUNK(TH, TL, TA0, g);                                                                    \
            CHUNK(TH, TL, TA1, g + 1);                                                                \
        }                                                                                             \
        _tile_stored(TH, ch[b & 1], 64);                                                              \
        if (!Q2) _tile_stored(TL, cl[b & 1], 64);                                                     \
    } while (0)
    for (int64_t b = 0; b <= nb; b++) {
        if (b < nb) {
            if (b & 1)
                CHUNKS(TC2, TC3);
            else
                CHUNKS(TC0, TC1);
        }
        if (b == 0) continue;
        /* super-block b - 1: isum = 64 C_h + C_l (Q2_K: C), then its float steps */
        const int64_t p = b - 1;
        const uint8_t *blk = u + (size_t)p * bb;
        const int32_t *hp = ch[p & 1], *lp = cl[p & 1];
        FR_UNROLL16 for (int t = 0; t < 16; t++) {
            const __m512i h = _mm512_load_si512(hp + 16 * t);
            isum[t] = Q2 ? h : _mm512_add_epi32(_mm512_slli_epi32(h, 6), _mm512_load_si512(lp + 16 * t));
        }
        if (Q2)
            k2_finish(blk, p, a, act_stride, nb, isum, accm);
        else if (K == K_Q4_K || K == K_Q5_K)
            k_finish(blk, p, a, act_stride, nb, isum, accm);
        else
            k6_finish(blk + (K == K_Q3_K ? FR_Q3_KX16_D : FR_Q6_KX16_D), p, a, act_stride, nb, isum, accm);
    }
#undef CHUNKS
#undef CHUNK
    memcpy(out, accm, sizeof accm);
}

/* ---- the 32-value types: a step of one tdpbssd per block ----
 *
 * Software-pipelined: step s's sums are stored while step s - 1's (stored one step before)
 * are consumed, so that the vector loads never wait for a tile store in flight. */

/* block s's B tile: from bt (unpacked before), the unit's own bytes (Q8_0), or the block's
 * values unpacked into buf now */
FR_INLINE const void *b_at(const void *bt, const uint8_t *u, int64_t s, int8_t *buf, const int K) {
    if (bt) return (const int8_t *)bt + (size_t)s * FR_GEMM_AMX_BLOCK;
    if (K == K_Q8_0) return u + (size_t)s * amx_block_bytes(K);
    unpack_block(u + (size_t)s * amx_block_bytes(K), buf, K);
    return buf;
}

FR_INLINE void amx_run(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out,
                       const int K) {
    const uint8_t *u = unit, *a = act;
    _Alignas(64) int32_t c0[256], c1[256];
    _Alignas(64) int8_t b0[512], b1[512];
    __m512 acc[16];
    FR_UNROLL16 for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
#define STEP(TA, TB, TC, s, cbuf, buf)                                   \
    do {                                                                 \
        _tile_loadd(TA, a + (s) * 32, (long)act_stride);                 \
        _tile_loadd(TB, b_at(bt, u, s, buf, K), 64);                     \
        _tile_zero(TC);                                                  \
        _tile_dpbssd(TC, TA, TB);                                        \
        _tile_stored(TC, cbuf, 64);                                      \
    } while (0)
#define CONSUME(cbuf, s) amx_block_end(cbuf, u + (size_t)(s) * amx_block_bytes(K), s, a, act_stride, nb, acc, K)
    STEP(TA0, TB0, TC0, 0, c0, b0);
    int64_t s = 1;
    for (; s + 1 < nb; s += 2) {
        STEP(TA1, TB1, TC1, s, c1, b1);
        CONSUME(c0, s - 1);
        STEP(TA0, TB0, TC0, s + 1, c0, b0);
        CONSUME(c1, s);
    }
    if (s < nb) { /* nb even: the last block */
        STEP(TA1, TB1, TC1, s, c1, b1);
        CONSUME(c0, s - 1);
        CONSUME(c1, s);
    } else {
        CONSUME(c0, s - 1);
    }
#undef STEP
#undef CONSUME
    FR_UNROLL16 for (int t = 0; t < 16; t++) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

/* (bt required for the K-quants: fr_gemm_amx_unpack) */
#define AMX_KERNEL(name, K)                                                                                       \
    void fr_gemm_##name##x16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, \
                                 float *out) {                                                                   \
        if (is_kquant(K))                                                                                        \
            amx_run_k(nb, unit, bt, act, act_stride, out, K);                                                    \
        else                                                                                                     \
            amx_run(nb, unit, bt, act, act_stride, out, K);                                                      \
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

/* A unit's B tiles, FR_GEMM_AMX_BLOCK bytes each: block b's at b (the 32-value types), chunk
 * g of super-block b's at 8b + g (Q2_K) or its h and l at 16b + 2g and 16b + 2g + 1 (Q3_K ..
 * Q6_K) */
FR_INLINE void unpack_unit(int64_t nb, const uint8_t *unit, int8_t *dst, const int K) {
    const size_t bb = amx_block_bytes(K);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = unit + (size_t)b * bb;
        if (is_kquant(K)) {
            int8_t *t = dst + (size_t)(b * 8 * tiles_per_chunk(K)) * FR_GEMM_AMX_BLOCK;
            FR_UNROLL for (int g = 0; g < 8; g++) {
                int8_t *th = t + (size_t)(g * tiles_per_chunk(K)) * FR_GEMM_AMX_BLOCK;
                if (K == K_Q2_K) unpack_chunk_q2(blk, g, th);
                else unpack_chunk_split(blk, g, th, th + FR_GEMM_AMX_BLOCK, K);
            }
        } else {
            unpack_block(blk, dst + (size_t)b * FR_GEMM_AMX_BLOCK, K);
        }
    }
}

/* B tiles per block (super-block) of a type's unpacked unit, or 0: no unpacked form (Q8_0) */
static int64_t tiles_per_block(int type) {
    switch (type) {
    case FR_TYPE_Q4_0: case FR_TYPE_Q5_0: case FR_TYPE_Q4_1: case FR_TYPE_Q5_1: case FR_TYPE_IQ4_NL: return 1;
    case FR_TYPE_Q2_K: return 8 * tiles_per_chunk(K_Q2_K);
    case FR_TYPE_Q3_K: case FR_TYPE_Q4_K: case FR_TYPE_Q5_K: case FR_TYPE_Q6_K: return 8 * tiles_per_chunk(K_Q6_K);
    default: return 0;
    }
}

size_t fr_gemm_amx_unpacked_bytes(int type, int64_t nb) {
    return (size_t)nb * (size_t)tiles_per_block(type) * FR_GEMM_AMX_BLOCK;
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

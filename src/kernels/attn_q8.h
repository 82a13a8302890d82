/* attn_q8.h: the scores of a Q8_0 KV cache with the keys in the lanes (attn_q8_avx2.c,
 * attn_q8_avx512vnni.c): what both files share. Included only by x86 SIMD sources.
 *
 * fr_attn_scores_quant (mla_attn.c) must give each (query, key) the bits of the type's
 * vec_dot: per block b, the exact integer sum_i x_i y_i, then
 *     s = fmaf((float)isum_b, f32(x.d_b) * f32(y.d_b), s)     over b = 0, 1, ... from s = 0,
 * then s * scale. Row-at-a-time kernels need a horizontal sum per (query, key, block). Here a
 * chunk of up to ATTN_Q8_CHUNK keys is transposed once into a buffer, for all the queries: a
 * register's lane j holds key j's dword e of block b (4 consecutive values), so that a query's
 * dword e broadcast to every lane gives, with maddubs/madd or vpdpbusd, the block sums of 8 or
 * 16 keys at once, and the float steps run lane by lane in the scalar order (AVX2 transposes
 * with shuffles, AVX-512 gathers). The integer sums are exact however they are formed, so the
 * results are vec_dot's bit for bit. */
#ifndef FR_ATTN_Q8_H
#define FR_ATTN_Q8_H

#include <stdint.h>

#include "dtype.h"

enum {
    ATTN_Q8_CHUNK = 64, /* keys transposed at a time */
    ATTN_Q8_MAXB = 4,   /* blocks per head (w <= 128); wider heads take the row-at-a-time path */
};

#define FR_Q8_INLINE static inline __attribute__((always_inline))
#define FR_Q8_UNROLL FR_PRAGMA_UNROLL(8)

#endif

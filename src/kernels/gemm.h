/* gemm.h: weights repacked into interleaved 8-row groups, and the register-blocked
 * micro-kernels that multiply them by up to 4 activation rows at a time (gemm.c: packing,
 * the registry of packed matrices, the matmul driver and scalar references;
 * gemm_avx2.c: the AVX2 kernels; gemm_vnni.c: the AVX-VNNI Q8_0 kernel; gemm_avx512*.c: the
 * AVX-512 ones; gemm_neon.c: the AArch64 sdot kernels).
 *
 * Layouts (one group = 8 consecutive weight rows, nb = n_in / 32 blocks per row; rows past
 * n_out in the last group are zero):
 *   Q4_0x8: nb x 128 bytes of quants, then nb x 8 fp16 scales. Block b's quants are four
 *           32-byte vectors P_0..P_3; bytes 4r..4r+3 of P_m are bytes 4m..4m+3 of row r's
 *           block (so P_m & 15 holds values 4m..4m+3 of the 8 rows, P_m >> 4 values
 *           16+4m..16+4m+3). Scales: row r's d at index 8b + r.
 *   Q8_0x8: nb x 256 bytes of quants (eight vectors W_0..W_7; bytes 4r..4r+3 of W_k are
 *           values 4k..4k+3 of row r), then nb x 8 fp16 scales.
 *   Q4_Kx8: (nb super-blocks of 256) nb x 1024 bytes of quants: vectors V_{l,k} (l < 4,
 *           k < 8) whose bytes 4r..4r+3 are qs[32l + 4k ..] of row r (low nibbles: values of
 *           sub-block 2l, high: 2l + 1); then nb x 64 scales sc[j][r]; nb x 64 mins as pairs
 *           (m[2i][r], m[2i+1][r]) at 16i + 2r; nb x (8 fp16 d, 8 fp16 dmin). Order: per
 *           super-block the exact integers isum = sum_j sc_j * dot_j and msum = sum_j m_j *
 *           ysum_j, then sumf += (yd * d) * isum; sumf -= (yd * dmin) * msum: the reference
 *           fr_vec_dot_q4_K_ref exactly (Q4_0/Q8_0 below use the fma order).
 * The group stride is rounded up to 64 bytes.
 *
 * Activations (fr_gemm_quantize_row): the row quantized exactly like fr_from_float_q8_0
 * (the same bytes), stored split: nb x 32 int8 values, nb float scales (the fp16 scale
 * widened), nb int32 "offset" words, which depend on the weight type: Q4_0: low/high int16
 * = -8 * sum of the values at positions j with j % 4 in {0, 1} / {2, 3} (the unsigned
 * nibbles times y plus this offset give sum((q - 8) * y) exactly); Q8_0: -128 * sum of the
 * block's values (the VNNI kernel's unsigned w + 128 times y plus this give sum(w * y)).
 *
 * Result order (batch invariance): out[t * 8 + r] = dot(row r, activation t) computed as
 * acc = 0; for each block b in order: acc = fma((float)isum_b, dx_b * dy_b, acc), where
 * isum_b is the exact integer block dot. That is fr_vec_dot_q4_0/q8_0 (ref and AVX2)
 * bit for bit, whatever the number of activation rows, the group or the thread. */
#ifndef FRUGAL_KERNELS_GEMM_H
#define FRUGAL_KERNELS_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hugemem.h"
#include "kernels.h"

#define FR_GEMM_ROWS 8    /* weight rows per group */
#define FR_GEMM_MAX_T 4   /* activation rows per kernel call */

/* One packed matrix. */
typedef struct fr_packed {
    int type;            /* FR_TYPE_Q4_0 or FR_TYPE_Q8_0 */
    int64_t n_in, n_out; /* of the original matrix */
    int64_t nb;          /* blocks per row */
    size_t row_bytes;    /* original row bytes */
    size_t group_bytes;  /* stride between groups */
    const char *orig;    /* the original rows (usually mmapped file pages) */
    char *data;          /* ceil(n_out / 8) groups */
    size_t data_bytes;
    fr_huge_mem mem;     /* the mapping holding data (hugemem.h) */
    const void *owner;
    double seconds;      /* time spent packing it */
} fr_packed;

/* True if `type` has a packed layout and this CPU runs its kernels. */
bool fr_pack_supported(int type);
/* Bytes of one group (including the 64-byte padding). */
size_t fr_pack_group_bytes(int type, int64_t n_in);
/* Packs nrows <= 8 rows (row r at rows + r * row_bytes) into one group; missing rows
 * are zero. */
void fr_pack_group(int type, int64_t n_in, const void *rows, size_t row_bytes, int nrows, void *group);
/* Row r (< 8) of a group back in the original layout (tests). */
void fr_unpack_group_row(int type, int64_t n_in, const void *group, int r, void *row);

/* Split-Q8_0 activation rows: bytes per row (a multiple of 64) and the quantizer (the
 * offset words for weight type `type`, Q4_0 or Q8_0). */
size_t fr_gemm_act_row_bytes(int64_t n_in);
void fr_gemm_quantize_row(int type, const float *x, void *dst, int64_t n_in);
/* Split-Q8_K rows (Q4_K): nb x 256 int8, nb float scales, nb x 8 int16 sums of 32 values;
 * the same quantization as fr_from_float_q8_K. */
size_t fr_gemm_act_row_bytes_k(int64_t n_in);
void fr_gemm_quantize_row_k(const float *x, void *dst, int64_t n_in);
/* The activation row bytes / quantizer for a packed weight type. */
size_t fr_gemm_act_bytes(int type, int64_t n_in);
void fr_gemm_quantize(int type, const float *x, void *dst, int64_t n_in);
/* Values per block of a packed type (32, or 256 for Q4_K). */
int64_t fr_pack_block_values(int type);

/* The exported kernel for T = 1..4 activation rows: one specialised copy of KERNEL per T. */
#define FR_GEMM_BY_T(KERNEL, nb, group, acts, T, out)         \
    do {                                                      \
        switch (T) {                                          \
        case 1: KERNEL(nb, group, acts, 1, out); break;       \
        case 2: KERNEL(nb, group, acts, 2, out); break;       \
        case 3: KERNEL(nb, group, acts, 3, out); break;       \
        case 4: KERNEL(nb, group, acts, 4, out); break;       \
        default: break;                                       \
        }                                                     \
    } while (0)

/* out[t * 8 + r] = dot(group row r, acts[t]) for t < T (1..4); see the order above. */
typedef void (*fr_gemm_kernel_fn)(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q4_0x8_ref(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x8_ref(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q4_0x8_avx2(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x8_avx2(int64_t nb, const void *group, const void *const *acts, int T, float *out);
/* AVX-VNNI (gemm_vnni.c; only if fr_cpu_has(FR_ISA_AVXVNNI)): same layout, same bits. */
void fr_gemm_q8_0x8_vnni(int64_t nb, const void *group, const void *const *acts, int T, float *out);
/* AArch64 with sdot (gemm_neon.c; only if fr_cpu_has(FR_ISA_NEON_DOT)): same layout, same bits. */
void fr_gemm_q4_0x8_neon(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x8_neon(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q4_Kx8_neon(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q4_Kx8_ref(int64_t nb, const void *group, const void *const *acts, int T, float *out);
void fr_gemm_q4_Kx8_avx2(int64_t nb, const void *group, const void *const *acts, int T, float *out);
/* R <= 3 F16 rows x T <= 4 F32 activation rows (the F16-rounded activations, widened):
 * out[r * T + t] = fr_vec_dot_f16(x[r], y[t] as F16) bit for bit (gemm_avx2.c). */
void fr_gemm_f16_avx2(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out);
/* The same on AVX-512F (gemm_avx512.c), bit for bit; fr_gemm_f16 uses it for prompts. */
void fr_gemm_f16_avx512(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out);
/* fr_gemm_f16_avx512 over values [i0, i1) of rows of n values (i0, i1 multiples of 32), the
 * 2 x 3 x 4 accumulator vectors carried in st (FR_GEMM_F16_STATE floats) from call to call:
 * first starts them at zero, last finishes the rows into out. Consecutive ranges from 0 to
 * n & ~31 give fr_gemm_f16_avx512's result bit for bit (which is one call over [0, n & ~31)). */
#define FR_GEMM_F16_STATE (2 * 3 * 4 * 16)
void fr_gemm_f16_avx512_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                             int T, float *st, int first, int last, float *out);
/* The same for fr_gemm_f16_avx2 (its 4 x 3 x 4 8-lane accumulators fill the same state). */
void fr_gemm_f16_avx2_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y, int T,
                           float *st, int first, int last, float *out);
/* y = W x for an F16 W on AVX2 (fr_matmul's path; same contract). Scratch: */
size_t fr_gemm_f16_scratch_size(int64_t n_in, int64_t n_tok);
void fr_gemm_f16(fr_pool *pool, const fr_matrix *w, const float *x, int64_t x_stride, int64_t n_tok, float *y,
                 int64_t y_stride, const float *bias, void *scratch);

/* Two consecutive groups at once (AVX512-VNNI, gemm_avx512vnni.c): out0 / out1 as the
 * 8-row kernel's out for group0 / group1, the same bits. */
typedef void (*fr_gemm_pair_fn)(int64_t nb, const void *group0, const void *group1, const void *const *acts, int T,
                                float *out0, float *out1);
void fr_gemm_q4_0x16_avx512vnni(int64_t nb, const void *group0, const void *group1, const void *const *acts, int T,
                                float *out0, float *out1);
void fr_gemm_q8_0x16_avx512vnni(int64_t nb, const void *group0, const void *group1, const void *const *acts, int T,
                                float *out0, float *out1);
void fr_gemm_q4_Kx16_avx512vnni(int64_t nb, const void *group0, const void *group1, const void *const *acts, int T,
                                float *out0, float *out1);
/* The pair kernel for a packed type on this CPU, or NULL. */
fr_gemm_pair_fn fr_gemm_pair_kernel(int type);

/* The kernel fr_matmul uses for a packed type (NULL if none): the best this CPU runs. */
fr_gemm_kernel_fn fr_gemm_kernel(int type);
/* The kernel of one instruction set (NULL if there is none or the CPU lacks it); tests. */
fr_gemm_kernel_fn fr_gemm_kernel_isa(int type, fr_isa isa);

/* Registry of packed matrices, keyed by the original data range. fr_pack_add packs m (if
 * its type is supported and packing is not disabled with FRUGAL_REPACK=0), drops the
 * original's file pages from memory (they come back from the file if read again) and
 * returns true if it packed. Thread-safe. */
bool fr_pack_add(const fr_matrix *m, const void *owner);
/* Whether fr_pack_add would pack m, and the packed bytes it would take (without packing). */
bool fr_pack_would_pack(const fr_matrix *m, size_t *bytes);
void fr_pack_release(const void *owner);
/* The packed matrix whose original rows contain m's rows, with m's first row at a group
 * boundary (*group0 = its group), or NULL. */
const fr_packed *fr_pack_find(const fr_matrix *m, int64_t *group0);
/* Logs (FR_LOG_INFO) how many matrices of `owner` were packed, their size and the time. */
void fr_pack_log(const void *owner, double seconds);
/* The matrices packed for `owner`, their packed bytes and the seconds spent packing. */
void fr_pack_owner_stats(const void *owner, int64_t *n_matrices, size_t *bytes, double *seconds);
/* Totals over the registry (for logs and bench). */
void fr_pack_stats(int64_t *n_matrices, size_t *bytes, double *seconds);

/* y = W x over a packed matrix (fr_matmul's fast path; same contract as fr_matmul). */
void fr_gemm_packed(fr_pool *pool, const fr_packed *pk, int64_t group0, const fr_matrix *w, const float *x,
                    int64_t x_stride, int64_t n_tok, float *y, int64_t y_stride, const float *bias, void *scratch);
size_t fr_gemm_scratch_size(int type, int64_t n_in, int64_t n_tok);

#endif

/* gemm.h: weights repacked into interleaved 16-row units, and the register-blocked
 * micro-kernels that multiply them by up to 4 activation rows at a time (gemm.c: packing,
 * the packed copies of matrices, the matmul driver and scalar references;
 * gemm_avx2.c: the AVX2 kernels; gemm_vnni.c: the AVX-VNNI Q8_0 kernel; gemm_avx512*.c: the
 * AVX-512 ones; gemm_neon.c: the AArch64 sdot kernels). F16, BF16 and F32 matrices are never
 * packed: gemm_f16.c drives their kernels (gemm_avx2.c, gemm_avx512.c, gemm_avx512bf16.c).
 *
 * Layouts. A unit holds 16 consecutive weight rows as two halves of 8 (rows 0-7, 8-15);
 * rows past n_out in the last unit are zero. nb = n_in / 32 blocks per row (n_in / 256
 * super-blocks for the K-quants). Each block of the unit is one contiguous run of bytes holding
 * everything the kernels need for it, so decode reads one sequential stream per thread
 * (measured on the dev VM, a Q4_0 decode kernel with 2 threads: 34-36 GB/s when quants
 * and scales lay in separate streams per 8-row group, 42-45 GB/s like this, with the plain
 * streaming read at 44-46). "Vector v" is 64 bytes: bytes 0-31 belong to half 0, 32-63 to
 * half 1, and bytes 4r..4r+3 of a half are 4 bytes of its row r, so one 512-bit load serves
 * 16 rows and one 256-bit load 8.
 *   Q4_0x16 (288-byte blocks): vectors P_0..P_3, then the 16 rows' fp16 scales (row r at
 *           index r). P_m's 4 bytes of a row are bytes 4m..4m+3 of its block's quants (so
 *           P_m & 15 holds values 4m..4m+3, P_m >> 4 values 16+4m..16+4m+3).
 *   IQ4_NLx16: Q4_0x16's layout (the nibbles index fr_iq4nl_values); Q4_0's order (fma).
 *   Q5_0x16 (352-byte blocks): Q4_0x16's vectors P_0..P_3 with the low 4 bits of the
 *           values, then vector H (at 256) with each row's fifth bits spread over its 4 bytes:
 *           bit 2m of byte e is the fifth bit (16) of value 4m + e, bit 2m + 1 that of value
 *           16 + 4m + e (m < 4); at 320 the 16 fp16 scales. Q4_0's order (fma).
 *   Q4_1x16 (320-byte blocks): Q4_0x16's vectors P_0..P_3 (the unsigned nibbles), at 256 the
 *           16 rows' fp16 mins m, at 288 their fp16 scales d. Q5_1x16 (384-byte blocks):
 *           Q5_0x16's P_0..P_3 and H (at 256), at 320 the fp16 mins, at 352 the fp16 scales.
 *           Order: per block the exact integer isum = sum(q * y) of the unsigned values (0..15
 *           or 0..31), then acc = fma((float)isum, dx * dy, acc); acc = fma(m, s_y, acc), with
 *           s_y the activation block's Q8_1 sum term: fr_vec_dot_q4_1/q5_1 (ref and AVX2).
 *   Q8_0x16 (544-byte blocks): vectors W_0..W_7 (values 4k..4k+3 of each row), then the 16
 *           fp16 scales.
 *   Q4_Kx16 (2368-byte super-blocks): vectors V_{l,k} = vector 8l + k (l < 4, k < 8) with
 *           qs[32l + 4k ..] of each row (low nibbles: values of sub-block 2l, high: 2l + 1);
 *           at 2048 the scales sc[j][r] at 16j + r; at 2176 the mins as pairs (m[2i][r],
 *           m[2i+1][r]) at 32i + 2r; at 2304 16 fp16 d, at 2336 16 fp16 dmin. Order: per
 *           super-block the exact integers isum = sum_j sc_j * dot_j and msum = sum_j m_j *
 *           ysum_j, then sumf += (yd * d) * isum; sumf -= (yd * dmin) * msum: the reference
 *           fr_vec_dot_q4_K_ref exactly (Q4_0/Q8_0 below use the fma order).
 *   Q5_Kx16 (2880-byte super-blocks): Q4_Kx16's 2368 bytes (the low 4 bits of each value
 *           where Q4_K has its nibbles, the same scales, mins, d and dmin), then at 2368
 *           vectors H_k (k < 8) with qh[4k ..] of each row: bit j of a row's byte e is the
 *           fifth bit (16) of value 32j + 4k + e. The same order as Q4_Kx16, which is
 *           fr_vec_dot_q5_K_ref's.
 *   Q6_Kx16 (3360-byte super-blocks): the unsigned 6-bit values q + 32 (0..63) in two parts.
 *           Vectors L_{l,k} = vector 8l + k (l < 4, k < 8) hold their low 4 bits for values
 *           64l + 4k .. + 3 (low nibbles) and 64l + 32 + 4k .. + 3 (high nibbles); at 2048
 *           vectors H_{m,k} = 8m + k (m < 2) hold their top 2 bits: bits 2i, 2i + 1 of a
 *           row's byte e belong to value 128m + 32i + 4k + e. At 3072 the int8 scales
 *           sc[j][r] at 16j + r (16 sub-blocks of 16 values), at 3328 16 fp16 d. Order: the
 *           exact integer isum = sum_j sc_j * sum_{p in j} (q_p - 32) y_p, then
 *           sumf += (yd * d) * isum, as fr_vec_dot_q6_K_ref.
 *   Q3_Kx16 (1824-byte super-blocks): vectors Q_{m,k} = 8m + k (m < 2, k < 8) with qs[32m
 *           + 4k ..] of each row (bits 2i, 2i + 1 of a row's byte e: the low 2 bits of value
 *           128m + 32i + 4k + e, Q6_Kx16's H layout), at 1024 vectors H_k (k < 8) with
 *           hmask[4k ..] (bit g of byte e: the third bit of value 32g + 4k + e), at 1536 the
 *           decoded int8 scales sc[j][r] at 16j + r, at 1792 16 fp16 d. The kernels take u =
 *           q + 28 = (value + 4) + 28 (28..35) and Q6_K's activations, whose offset words turn
 *           u into u - 32, the value: then Q6_Kx16's integer and float steps, which are
 *           fr_vec_dot_q3_K_ref's.
 *   Q2_Kx16 (1344-byte super-blocks): Q3_Kx16's 2-bit vectors (qs), at 1024 the scale
 *           bytes as the file has them (sc | m << 4) of sub-block j at 16j + r, at 1280 16
 *           fp16 d, at 1312 16 fp16 dmin. Order: fr_vec_dot_q2_K_ref's (exact isum and msum,
 *           then Q4_K's float steps).
 * (In a half's terms: row r of half h is unit row 8h + r; its bytes of vector v are at
 * 64v + 32h + 4r, and every per-row table above is 8 entries of half 0 then 8 of half 1.)
 * The unit stride is rounded up to 64 bytes.
 *
 * Activations (fr_gemm_quantize_row): the row quantized exactly like fr_from_float_q8_0
 * (the same bytes), stored split: nb x 32 int8 values, nb float scales (the fp16 scale
 * widened), nb int32 "offset" words, which depend on the weight type: Q4_0: low/high int16
 * = -8 * sum of the values at positions j with j % 4 in {0, 1} / {2, 3} (the unsigned
 * nibbles times y plus this offset give sum((q - 8) * y) exactly); Q5_0: the same with -16
 * (|.| <= 16 * 16 * 127 fits int16: activations are never -128); Q8_0 and IQ4_NL: -128 * sum of the
 * block's values (the VNNI kernel's unsigned w + 128 times y plus this give sum(w * y));
 * Q4_1 and Q5_1: the row quantized like fr_from_float_q8_1 (the same values and scale) and
 * the offset word holding the bits of the float s_y, its fp16 s widened.
 *
 * Result order (batch invariance): out[t * 16 + r] = dot(row r, activation t) computed as
 * acc = 0; for each block b in order: acc = fma((float)isum_b, dx_b * dy_b, acc), where
 * isum_b is the exact integer block dot. That is fr_vec_dot_q4_0/q8_0 (ref and AVX2)
 * bit for bit, whatever the number of activation rows, the unit or the thread (Q5_0 too). */
#ifndef FRUGAL_KERNELS_GEMM_H
#define FRUGAL_KERNELS_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hugemem.h"
#include "kernels.h"

#define FR_GEMM_ROWS 16   /* weight rows per unit */
/* Bytes of one block (Q4_K: super-block) of a unit, and the offsets in it (see above). */
#define FR_Q4_0X16_BLOCK 288
#define FR_Q4_0X16_D 256
#define FR_Q5_0X16_BLOCK 352
#define FR_Q5_0X16_QH 256
#define FR_Q5_0X16_D 320
#define FR_Q4_1X16_BLOCK 320
#define FR_Q4_1X16_M 256
#define FR_Q4_1X16_D 288
#define FR_Q5_1X16_BLOCK 384
#define FR_Q5_1X16_QH 256
#define FR_Q5_1X16_M 320
#define FR_Q5_1X16_D 352
#define FR_Q8_0X16_BLOCK 544
#define FR_Q8_0X16_D 512
#define FR_Q4_KX16_BLOCK 2368
#define FR_Q4_KX16_SC 2048
#define FR_Q4_KX16_MN 2176
#define FR_Q4_KX16_D 2304
#define FR_Q4_KX16_DMIN 2336
#define FR_Q5_KX16_BLOCK 2880
#define FR_Q5_KX16_QH 2368
#define FR_Q2_KX16_BLOCK 1344
#define FR_Q2_KX16_SC 1024
#define FR_Q2_KX16_D 1280
#define FR_Q2_KX16_DMIN 1312
#define FR_Q3_KX16_BLOCK 1824
#define FR_Q3_KX16_HM 1024
#define FR_Q3_KX16_SC 1536
#define FR_Q3_KX16_D 1792
#define FR_Q6_KX16_BLOCK 3360
#define FR_Q6_KX16_QH 2048
#define FR_Q6_KX16_SC 3072
#define FR_Q6_KX16_D 3328
#define FR_GEMM_MAX_T 4   /* activation rows per kernel call */
#define FR_GEMM_STREAMS 4 /* units per call of a decode streams kernel (fr_gemm_streams_fn) */
/* Decode splits a product's rows with fr_split_guided into at most this many tasks... */
#define FR_DECODE_MAX_TASKS 64
#ifndef FR_DECODE_MIN_UNITS
#define FR_DECODE_MIN_UNITS 1 /* ...of at least this many units (16 rows) */
#endif
/* ...each a multiple of this many units (of 16 rows; the last task takes the rest), so that
 * a Q8_0 slab is read by the streams kernel to its end, not its last units one at a time.
 * Step 1 left 9-10% of a tinyllama layer's bytes (75% of the k and v products) to the
 * one-unit kernel. tinyllama decode, 2 threads, steps alternated per token in one process,
 * per-token medians of 100 steps, step 1 against 4: Q8_0 AVX-512 VNNI and AVX2 +2.5 to +5%
 * (12 of 12 runs); Q4_0 (one unit per call) +1.5 to +2.5% (8 of 8); steps 8 and 16 measured
 * as 4. Rows (F16, BF16, F32, unpacked) use 4 x 16: F16 against steps of 1 row, +1 to +4%
 * (6 of 6); 256 rows was slower. Two clean builds alternated (which alone decides here: see
 * below), Q8_0 native, 4 rounds: 47.5-47.8 -> 49.25-49.28 t/s. */
#ifndef FR_DECODE_UNIT_STEP
#define FR_DECODE_UNIT_STEP FR_GEMM_STREAMS
#endif
/* The decode split of a product (fr_gemm_packed, fr_gemm_f16, fr_matmul; fr_matmul_prefetch
 * predicts it): n units of a packed matrix, or n rows (units false), into bounds[0 ..
 * FR_DECODE_MAX_TASKS]; returns the number of tasks. Chunks of the remaining / (2 n_threads).
 * (Units in chunks of the remaining / n_threads, fewer slabs and so fewer stream starts, won
 * +1 to +3% for Q8_0 and Q4_0 alternated per token in one process, but measured as before
 * with two builds alternated: not kept. F16 rows lost 1-2% that way.) */
static inline int fr_decode_split(int64_t n, bool units, int n_threads, int64_t *bounds) {
    return units ? fr_split_guided(n, 2 * n_threads, FR_DECODE_MIN_UNITS, FR_DECODE_UNIT_STEP, bounds,
                                   FR_DECODE_MAX_TASKS)
                 : fr_split_guided(n, 2 * n_threads, FR_GEMM_ROWS * FR_DECODE_MIN_UNITS,
                                   FR_GEMM_ROWS * FR_DECODE_UNIT_STEP, bounds, FR_DECODE_MAX_TASKS);
}

/* A group's numbering of its work (fr_matmul_group): the units (16-row blocks; units true) or
 * rows of out[0..n) one after the other; start[i] is out[i]'s first, start[n] the total. The
 * decode split runs over [0, start[n]). */
static inline void fr_mm_group_starts(const fr_mm_out *out, int n, bool units, int64_t *start) {
    start[0] = 0;
    for (int i = 0; i < n; i++)
        start[i + 1] = start[i] + (units ? (out[i].w->n_out + FR_GEMM_ROWS - 1) / FR_GEMM_ROWS : out[i].w->n_out);
}

/* The form of a packed matrix's units. A form other than FR_UNITS_PACKED is an in-place
 * rewrite, at pack time, of the layout above for the one kernel that reads it (the same bits):
 * - FR_UNITS_Q8_SM: Q8_0 whose kernels here are AVX2's and no weight is -128: each value byte
 *   holds |w| in bits 0-6 and the sign in bit 7 (sign-magnitude), which saves those kernels an
 *   op per vector (fr_gemm_q8_0x16_avx2_sm and its streams kernel);
 * - FR_UNITS_Q6_3V: Q6_K whose kernel here is AVX2's: each block's 3072 value bytes in the
 *   three-vector form (fr_q6_K_unit_to_3v), which saves the kernel 6 ops of 17 per four value
 *   vectors (fr_gemm_q6_Kx16_avx2_3v; no streams kernel). */
typedef enum { FR_UNITS_PACKED, FR_UNITS_Q8_SM, FR_UNITS_Q6_3V } fr_units;

/* One packed matrix, or (rows) a plain copy of a matrix no kernel repacks. */
typedef struct fr_packed {
    int type;            /* FR_TYPE_Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL or Q2_K..Q6_K; any type for a copy */
    bool rows;           /* data is a copy of the rows in the file's layout (fr_pack_copy) */
    int64_t n_in, n_out; /* of the original matrix */
    int64_t nb;          /* blocks per row */
    size_t row_bytes;    /* original row bytes */
    size_t unit_bytes;   /* stride between units */
    const char *orig;    /* the original rows (usually mmapped file pages) */
    char *data;          /* ceil(n_out / 16) units */
    size_t data_bytes;
    fr_huge_mem mem;     /* the mapping holding data (hugemem.h) */
    /* How the units' bytes are laid out (fr_units). Only fr_gemm_kernel_for's and
     * fr_gemm_streams_kernel_for's kernels read rewritten units; no pair or AMX kernel does. */
    fr_units units;
} fr_packed;

/* A Q6_K unit's nb blocks into the three-vector form (FR_UNITS_Q6_3V), in place. In each
 * block, the value vectors of sets 4Q .. 4Q + 3 (Q = 0, 1) at one step and half, ql[2Q] (sets
 * 4Q and 4Q + 1 in the low and high nibbles), ql[2Q + 1] (4Q + 2, 4Q + 3) and qh[Q] (the
 * four sets' bits 4-5 in bit pairs 2i) become A, B and C at the same offsets: set 4Q + i's
 * six bits (q + 32) in bits 0-5 of A, B and C for i = 0, 1, 2, and set 4Q + 3's bits 0-1, 2-3
 * and 4-5 in bits 6-7 of A, B and C. */
void fr_q6_K_unit_to_3v(void *unit, int64_t nb);
/* True if `type` has a packed layout and this CPU runs its kernels. */
bool fr_pack_supported(int type);
/* Bytes of one unit (including the 64-byte padding), and of one of its blocks (K-quants:
 * super-blocks). */
size_t fr_pack_unit_bytes(int type, int64_t n_in);
size_t fr_pack_block_bytes(int type);
/* Packs nrows <= 16 rows (row r at rows + r * row_bytes) into one unit; missing rows
 * are zero. fr_pack_unit (pack.c) writes the unit block by block; fr_pack_unit_ref
 * (gemm.c), the reference, row by row: the same bytes. */
void fr_pack_unit(int type, int64_t n_in, const void *rows, size_t row_bytes, int nrows, void *unit);
void fr_pack_unit_ref(int type, int64_t n_in, const void *rows, size_t row_bytes, int nrows, void *unit);
/* Row r (< 16) of a unit back in the original layout (tests). */
void fr_unpack_unit_row(int type, int64_t n_in, const void *unit, int r, void *row);

/* Split-Q8_0 activation rows: bytes per row (a multiple of 64) and the quantizer (the
 * offset words for weight type `type`, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 or IQ4_NL). */
size_t fr_gemm_act_row_bytes(int64_t n_in);
void fr_gemm_quantize_row(int type, const float *x, void *dst, int64_t n_in);
/* The same bytes in one pass (gemm_avx2.c; fr_gemm_quantize calls it where the CPU has AVX2). */
void fr_gemm_quantize_row_avx2(int type, const float *x, void *dst, int64_t n_in);
/* Split-Q8_K rows (Q4_K, Q5_K): nb x 256 int8, nb float scales, nb x 8 int16 sums of 32 values;
 * the same quantization as fr_from_float_q8_K. */
size_t fr_gemm_act_row_bytes_k(int64_t n_in);
void fr_gemm_quantize_row_k(const float *x, void *dst, int64_t n_in);
/* Split-Q8_K rows for Q6_K, Q3_K and Q2_K: nb x 256 int8, nb float scales, nb x 16 int32 words whose two
 * int16 halves both hold -16 * (sum of the 16 values of sub-block j): madd with ones gives
 * the -32 * sum that turns q + 32 into q, madd with (sc, sc) pairs -32 * sc * sum. */
size_t fr_gemm_act_row_bytes_k6(int64_t n_in);
void fr_gemm_quantize_row_k6(const float *x, void *dst, int64_t n_in);
/* The activation row bytes / quantizer for a packed weight type. */
size_t fr_gemm_act_bytes(int type, int64_t n_in);
void fr_gemm_quantize(int type, const float *x, void *dst, int64_t n_in);
/* Values per block of a packed type (32, or 256 for the K-quants). */
int64_t fr_pack_block_values(int type);

/* The exported kernel for T = 1..4 activation rows: one specialised copy of KERNEL per T. */
#define FR_GEMM_BY_T(KERNEL, nb, unit, acts, T, out)          \
    do {                                                      \
        switch (T) {                                          \
        case 1: KERNEL(nb, unit, acts, 1, out); break;        \
        case 2: KERNEL(nb, unit, acts, 2, out); break;        \
        case 3: KERNEL(nb, unit, acts, 3, out); break;        \
        case 4: KERNEL(nb, unit, acts, 4, out); break;        \
        default: break;                                       \
        }                                                     \
    } while (0)

/* out[t * 16 + r] = dot(unit row r, acts[t]) for t < T (1..4); see the order above. */
typedef void (*fr_gemm_kernel_fn)(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_0x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_0x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_1x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_1x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_iq4_nlx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q2_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q3_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q6_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
/* AVX2 (gemm_avx2.c): 8 rows per 256-bit register, a unit as two halves. */
void fr_gemm_q4_0x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_0x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_1x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_1x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_iq4_nlx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
/* The same on sign-magnitude units (FR_UNITS_Q8_SM): the same bits. */
void fr_gemm_q8_0x16_avx2_sm(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q2_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q3_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q6_Kx16_avx2(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
/* The same on three-vector units (FR_UNITS_Q6_3V): the same bits. */
void fr_gemm_q6_Kx16_avx2_3v(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
/* Decode's multi-stream form, for one token and FR_GEMM_STREAMS units read side by side:
 * out[16 * k + r] = dot(units[k] row r, act), the same bits as one fr_gemm_kernel_fn call with
 * T = 1 per unit. pf: prefetch each stream FR_PF_DIST_STREAMS bytes ahead (gemm_simd.h; the
 * process's choice is fr_cpu_decode_streams_prefetch()); the same bits either way. Q5_K's and
 * the AVX2 K-quants' kernels take their own prefetch whatever pf says. */
typedef void (*fr_gemm_streams_fn)(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q8_0x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q8_0x16_streams_avx2_sm(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q4_0x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q5_0x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q4_1x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q5_1x16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_iq4_nlx16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q4_Kx16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q5_Kx16_streams_avx2(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q8_0x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q4_0x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q5_0x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q4_1x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q5_1x16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_iq4_nlx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q4_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q5_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q6_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q3_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
void fr_gemm_q2_Kx16_streams_avx512vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
/* Prompts on AMX-INT8 (gemm_amx.c; only if fr_cpu_has(FR_ISA_AMX)): FR_GEMM_AMX_T activation
 * rows at act + t * act_stride (t < 16; quantized by fr_gemm_quantize) times one unit,
 * out[t * 16 + r] = dot(unit row r, row t): the same bits as the type's fr_gemm_kernel_fn.
 * bt: NULL, or the unit's values as fr_gemm_amx_unpack wrote them (4- and 5-bit types; a
 * unit used for several groups of rows is unpacked once). */
#define FR_GEMM_AMX_T 16
#define FR_GEMM_AMX_BLOCK 512 /* bytes per block of an unpacked unit (64-byte aligned) */
/* The kernels' tile configuration into this thread's tile state (before the kernels), and
 * the state released (after them). fr_gemm_amx_units calls both. */
void fr_gemm_amx_begin(void);
void fr_gemm_amx_end(void);
typedef void (*fr_gemm_amx_fn)(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride,
                               float *out);
void fr_gemm_q4_0x16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_q5_0x16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_q4_1x16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_q5_1x16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_iq4_nlx16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride,
                           float *out);
void fr_gemm_q8_0x16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
/* The K-quants Q2_K .. Q6_K (super-blocks; bt required: fr_gemm_amx_unpack's tiles, the values
 * times their sub-block scales, summed on the tile unit over a super-block). The kernels, begin,
 * end and unpack exist in x86 builds only (FR_X86). */
void fr_gemm_q4_Kx16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_q5_Kx16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_q6_Kx16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_q3_Kx16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
void fr_gemm_q2_Kx16_amx(int64_t nb, const void *unit, const void *bt, const void *act, size_t act_stride, float *out);
/* A unit's values as int8 B tiles (FR_GEMM_AMX_BLOCK bytes each, fr_gemm_amx_unpacked_bytes
 * in all, 64-byte aligned) at dst: a tile per block of Q4_0, Q5_0, Q4_1, Q5_1, IQ4_NL (signed
 * values); per 32 values of Q2_K, the values times their scales (0..45); per 32 values of Q3_K ..
 * Q6_K, two tiles h and l of those products v = 64 h + l (gemm_amx.c). Q8_0's unit is its own:
 * fr_gemm_amx_unpacked_bytes gives 0 and fr_gemm_amx_unpack does nothing. */
size_t fr_gemm_amx_unpacked_bytes(int type, int64_t nb);
void fr_gemm_amx_unpack(int type, int64_t nb, const void *unit, void *dst);
/* The type's AMX kernel, or NULL (no AMX, or a type without one). */
fr_gemm_amx_fn fr_gemm_amx_kernel(int type);
/* fr_gemm_amx_kernel for pk's units: none for rewritten ones (fr_packed.units), which the
 * AMX kernels do not read (only AVX2 machines make them). */
fr_gemm_amx_fn fr_gemm_amx_kernel_for(const fr_packed *pk);
/* AVX-VNNI (gemm_vnni.c; only if fr_cpu_has(FR_ISA_AVXVNNI)): same layout, same bits. */
void fr_gemm_q8_0x16_vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x16_streams_vnni(int64_t nb, const void *const *units, const void *act, float *out, int pf);
/* AVX512-VNNI (gemm_avx512vnni.c): a unit per 512-bit register, same bits. */
void fr_gemm_q4_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_1x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_1x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_iq4_nlx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q2_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q3_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q6_Kx16_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
/* The same bits, prefetching FR_PF_DIST_Q6_FEW ahead with 2-4 tokens: fr_gemm_kernel_for's
 * where the CPU takes the streams prefetch (fr_cpu_decode_streams_prefetch). */
void fr_gemm_q6_Kx16_pf_avx512vnni(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
/* Two units at once, unit and unit + unit_bytes: out[k][t * 16 + r] = dot(row r of unit k,
 * acts[t]), each exactly fr_gemm_kernel_fn's. AVX-512 VNNI's Q4_0 family: a unit's kernel is
 * bound by its activation broadcasts (one per vpdpbusd; with the broadcasts taken out of the
 * loop it ran 23% faster), and a pair shares each between 32 rows. AMD EPYC (Zen 5), kbench
 * Q4_0 2048 x 1024 (in L2), 1 thread, GMAC/s, unit / pair: 2 tokens 183-185 / 208-212, 3 tokens
 * 211-217 / 261-264, 4 tokens 234-238 / 282-285; tinyllama Q4_0 pp512, 2 threads, 358 / 395-399
 * t/s. */
typedef void fr_gemm_units_fn(int64_t nb, const void *unit, size_t unit_bytes, const void *const *acts, int T,
                              float *const *out);
typedef fr_gemm_units_fn *fr_gemm_pair_fn;
/* Four units at once, unit + k * unit_bytes for k < FR_GEMM_STREAMS, for 2 <= T <= 4 tokens:
 * out[k][t * 16 + r], each exactly fr_gemm_kernel_fn's. Batched decode's four streams
 * (fr_gemm_pair_units), each prefetched FR_PF_DIST_STREAMS ahead, as the one-token streams
 * kernels read them where the CPU takes that prefetch (fr_gemm_quad_kernel_for). */
typedef fr_gemm_pair_fn fr_gemm_quad_fn;
/* (both declared through the function type: gemm_avx512vnni.c's FR_UNITS_FNS defines them) */
fr_gemm_units_fn fr_gemm_q4_0x16_pair_avx512vnni, fr_gemm_q4_0x16_quad_avx512vnni;
fr_gemm_units_fn fr_gemm_q5_0x16_pair_avx512vnni, fr_gemm_q5_0x16_quad_avx512vnni;
fr_gemm_units_fn fr_gemm_q4_1x16_pair_avx512vnni, fr_gemm_q4_1x16_quad_avx512vnni;
fr_gemm_units_fn fr_gemm_q5_1x16_pair_avx512vnni, fr_gemm_q5_1x16_quad_avx512vnni;
fr_gemm_units_fn fr_gemm_iq4_nlx16_pair_avx512vnni, fr_gemm_iq4_nlx16_quad_avx512vnni;
/* AArch64 with sdot (gemm_neon.c; only if fr_cpu_has(FR_ISA_NEON_DOT)): same layout, same bits. */
void fr_gemm_q4_0x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q8_0x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_Kx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_iq4_nlx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_0x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q4_1x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_1x16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q5_Kx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q2_Kx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q3_Kx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
void fr_gemm_q6_Kx16_neon(int64_t nb, const void *unit, const void *const *acts, int T, float *out);
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
/* The four functions above for BF16 rows and the BF16-rounded activations: fr_vec_dot_bf16's
 * order, which is fr_vec_dot_f16's, and products as exact (8-bit significands), so the same
 * kernels with the weights widened by a shift. */
void fr_gemm_bf16_avx2(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out);
void fr_gemm_bf16_avx512(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out);
void fr_gemm_bf16_avx512_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                              int T, float *st, int first, int last, float *out);
void fr_gemm_bf16_avx2_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                            int T, float *st, int first, int last, float *out);
/* The R x T and range kernels for F32 rows: fr_vec_dot_f32's order (an FMA per element),
 * bit for bit. */
void fr_gemm_f32_avx2(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out);
void fr_gemm_f32_avx2_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                           int T, float *st, int first, int last, float *out);
void fr_gemm_f32_avx512(int64_t n, const void *const *x, int R, const float *const *y, int T, float *out);
void fr_gemm_f32_avx512_part(int64_t i0, int64_t i1, int64_t n, const void *const *x, int R, const float *const *y,
                             int T, float *st, int first, int last, float *out);
/* Prompts over converted panels (gemm_avx512.c, gemm_avx2.c). A row's values [0, n32) are
 * taken in P passes of L lanes (AVX-512: L = 16, P = 2; AVX2: L = 8, P = 4): pass q holds
 * values 32c + Lq .. + L - 1 of each 32-value chunk c, that is the kernels' accumulator a_j
 * (j = Lq / 8 ..) of f16_RxT. A panel holds R <= 3 rows' values as floats (type: FR_TYPE_F16,
 * _BF16 or _F32 rows, widened exactly), L floats at q * qs + (c * R + r) * L, nc = n32 / 32;
 * qs is nc * R * L for a panel alone, more where the passes of several panels lie between
 * (f16_panel_chunk: pass q of all its panels, then pass q + 1).
 * Activation rows yp are reordered alike over [0, n32): L floats at (q * nc + c) * L, and keep
 * values from n32 on in place. fr_gemm_panel_* runs a pass over chunks [c0, c1) for R x T
 * outputs (T <= 8 on AVX-512, T <= 4 on AVX2), given that pass's part of the panel (from
 * q * qs) and of each activation row (from q * nc * L), the accumulators in st (R * T * L
 * floats; zero if first). AVX-512's finish ends the P passes' st[q] as f16_RxT does, the tail
 * n32 .. n from the rows x, into out[t * out_stride + r]; AVX2's last pass does so itself
 * (fr_gemm_panel_last_avx2). Bit for bit fr_gemm_f16_avx512_part's and
 * fr_gemm_f16_avx2_part's results (the same FMAs in the same order) for every type.
 * fr_gemm_pass_order writes values i .. i + m - 1 of row r (floats v; i and m multiples of L,
 * i + m <= n32) in that order into a panel of R rows, passes qs floats apart (activations:
 * R = 1, r = 0, qs = nc * L);
 * fr_gemm_panel_pack fills a panel with rows x[0 .. R - 1] so. */
void fr_gemm_pass_order(const float *v, int64_t i, int64_t m, int L, int R, int r, size_t qs, float *dst);
void fr_gemm_panel_pack(const void *const *x, int R, int64_t n32, int type, int L, size_t qs, float *panel);
/* The F16 form (AVX2, F16 rows): panel and activations hold the F16 values themselves, in the
 * same order (uint16_t where the float form has floats; activation tails too), which the h16
 * kernels widen as they load: the same products, so the same bits. */
void fr_gemm_panel_pack16(const void *const *x, int R, int64_t n32, int L, size_t qs, uint16_t *panel);
void fr_gemm_panel_avx512(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yp, int T, float *st,
                          int first);
void fr_gemm_panel_finish_avx512(const float *const *st, int R, int T, const void *const *x, int type, int64_t n32,
                                 int64_t n, const void *const *yp, float *out, size_t out_stride);
void fr_gemm_panel_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yp, int T, float *st,
                        int first);
void fr_gemm_panel_h16_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yp, int T, float *st,
                            int first);
/* AVX2's last pass (q = 3) with the finish, over chunks [c0, c1): panel and yq pass 3's part
 * of the panel and of the activation rows, st[0 .. 2] the other passes' accumulators and st[3]
 * this pass's from the ranges before (unless first), x and yp whole rows for the tail; the
 * R x T sums ((a_0 + a_1) + (a_2 + a_3), hsum8's bits) and tails into out[t * out_stride + r]. */
void fr_gemm_panel_last_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yq, int T,
                             const float *const *st, int first, const void *const *x, int type, int64_t n32,
                             int64_t n, const void *const *yp, float *out, size_t out_stride);
void fr_gemm_panel_last_h16_avx2(int64_t c0, int64_t c1, const void *panel, int R, const void *const *yq, int T,
                                 const float *const *st, int first, const void *const *x, int type, int64_t n32,
                                 int64_t n, const void *const *yp, float *out, size_t out_stride);
/* BF16 pair panels (gemm_avx512bf16.c; only where fr_cpu_has(FR_ISA_AVX512BF16)): the 16-lane
 * panels above with vdpbf16ps, which adds two products per lane and instruction. A lane of pass
 * h takes values 32c + 16h + l of chunks c = 0, 1, 2, ... one after the other; vdpbf16ps adds
 * its odd element's product first, then its even one's, each rounded once as an FMA rounds (the
 * product of two BF16 values is exact in F32). So dword l of pass h, pair p holds value 64p +
 * 16h + l in its high half (the odd element) and 64p + 32 + 16h + l in its low half (zero from
 * n32 on), at ((h * np + p) * R + r) * 16 dwords, np = (n32 / 32 + 1) / 2; activations alike
 * with R = 1, r = 0. fr_gemm_bf16_pairs_avx512 runs pass h over pairs [p0, p1) into st as
 * fr_gemm_panel_avx512 does over chunks [2 p0, min(2 p1, nc)), and fr_gemm_panel_finish_avx512
 * ends the two passes (its yp: the float activation rows of the panel path, for the tail).
 * vdpbf16ps also takes subnormal inputs and results as zero, which an FMA does not, so its
 * results equal the FMA kernels' only where every value is pair-safe: zero, or a biased
 * exponent from FR_BF16_PAIR_MIN_EXP to FR_BF16_PAIR_MAX_EXP (2^-56 <= |v| < 2^64). Then
 * every product is zero or a multiple of 2^-126 (two values m 2^(e - 7), e >= -56) below
 * 2^128, and so is every sum of them up to overflow: never subnormal, no product overflowing
 * alone, the same bits. fr_gemm_bf16_pair_order writes values i .. i + m - 1 of a row (v:
 * value i; i a multiple of 64, m too or i + m = n32) so into row r of a panel of R rows and
 * returns whether all were pair-safe; fr_gemm_bf16_pair_pack does whole rows x[0 .. R - 1]. */
#define FR_BF16_PAIR_MIN_EXP 71
#define FR_BF16_PAIR_MAX_EXP 190
bool fr_gemm_bf16_pair_order(const uint16_t *v, int64_t i, int64_t m, int64_t n32, int R, int r, uint32_t *dst);
bool fr_gemm_bf16_pair_pack(const void *const *x, int R, int64_t n32, uint32_t *panel);
void fr_gemm_bf16_pairs_avx512(int h, int64_t p0, int64_t p1, int64_t np, const uint32_t *panel, int R,
                               const uint32_t *const *yp, int T, float *st, int first);
/* y = W x for an F16, BF16 or F32 W on AVX2 (fr_matmul's path; same contract). Scratch (BF16
 * where AVX512_BF16 runs its prompts: also the pair rows, up to 2 more bytes per value and 64
 * per row): */
size_t fr_gemm_f16_scratch_size(int type, int64_t n_in, int64_t n_tok);
void fr_gemm_f16(fr_pool *pool, const fr_matrix *w, const float *x, int64_t x_stride, int64_t n_tok, float *y,
                 int64_t y_stride, const float *bias, void *scratch);
/* One token's products over n <= FR_MM_GROUP_MAX matrices of one of these types and one n_in,
 * in one pool run (fr_matmul_group); x: one row. */
void fr_gemm_f16_group(fr_pool *pool, const fr_mm_out *out, int n, const float *x, void *scratch);
/* Whether fr_matmul and fr_matmul_multi give a matrix of this type to the functions here: F16,
 * BF16 and F32, where the CPU has AVX2. */
bool fr_gemm_f16_takes(int type);
/* fr_matmul_multi's products with these types (MoE experts), in tasks it runs itself, with the
 * same kernels and so the same bits as fr_gemm_f16 (panels from 16 tokens on): the m rows of a
 * job converted into act (its fr_gemm_f16_scratch_size(type, n_in, m) bytes), row t from x,
 * false if some value of the row is not pair-safe (BF16 pair panels then must not run); rows
 * per task on the pool's threads; and rows r0 .. r1 - 1 of w x every row of act (pairs: every
 * row was pair-safe) into y[t * y_stride + r]. Each call derives the same plan from (w, m,
 * act). */
bool fr_gemm_f16_multi_convert(fr_pool *pool, const fr_matrix *w, int64_t m, void *act, int64_t t, const float *x);
int64_t fr_gemm_f16_multi_chunk(fr_pool *pool, const fr_matrix *w, int64_t m, void *act);
void fr_gemm_f16_multi_rows(fr_pool *pool, int thread, const fr_matrix *w, int64_t m, void *act, bool pairs, int64_t r0,
                            int64_t r1, float *y, int64_t y_stride);

/* The kernel fr_matmul uses for a packed type (NULL if none): the best this CPU runs. */
fr_gemm_kernel_fn fr_gemm_kernel(int type);
/* The kernels for pk's units (and those of every matrix fr_gemm_same_layout as pk):
 * fr_gemm_kernel's and fr_gemm_streams_kernel's for pk's type, or those of its rewritten form
 * (pk->units). */
fr_gemm_kernel_fn fr_gemm_kernel_for(const fr_packed *pk);
/* The pair kernel of pk's units where one is faster than two calls of fr_gemm_kernel_for's
 * (tokens >= 2), else NULL. A prompt's panel pairs adjacent units; a batched decode step, which
 * reads its weights from DRAM, ran slower so (the same VM, builds alternated, --seqs 4
 * aggregate t/s, without / with: tinyllama Q4_0 215 / 191, 193 / 186, 218 / 201;
 * DeepSeek-V2-Lite Q4_0 53.5 / 48.2, 51.7 / 47.4, 44.9 / 41.7) and pairs distant ones
 * instead, two streams (fr_gemm_pair_units). */
fr_gemm_pair_fn fr_gemm_pair_kernel_for(const fr_packed *pk);
/* That of one instruction set (tests), or NULL. */
fr_gemm_pair_fn fr_gemm_pair_kernel_isa(int type, fr_isa isa);
/* The four-stream kernel of pk's units for batched decode where the CPU takes the streams
 * prefetch (fr_cpu_decode_streams_prefetch) and pk has a pair kernel, else NULL; and that of
 * one instruction set (tests), whatever the setting. */
fr_gemm_quad_fn fr_gemm_quad_kernel_for(const fr_packed *pk);
fr_gemm_quad_fn fr_gemm_quad_kernel_isa(int type, fr_isa isa);
fr_gemm_streams_fn fr_gemm_streams_kernel_for(const fr_packed *pk);
/* Whether one kernel can take the units of both: the same type, n_in and value layout. */
bool fr_gemm_same_layout(const fr_packed *a, const fr_packed *b);
/* The multi-stream decode kernel of `type` where fr_gemm_kernel(type)'s instruction set has
 * one, else NULL (decode then reads a task's units in order, one kernel call each). */
fr_gemm_streams_fn fr_gemm_streams_kernel(int type);
fr_gemm_streams_fn fr_gemm_streams_kernel_isa(int type, fr_isa isa); /* NULL if none, or not on this CPU */
/* Prompts on the AMX kernel (gemm.c's prompt panels, fr_matmul_multi's expert chunks): units
 * [g0, g1) of a packed matrix times activation rows [t0, t1) (row t at act + t * act_stride),
 * FR_GEMM_AMX_T rows at a time; a unit of a type with an unpacked form is unpacked once for all
 * its groups of rows into buf (the running thread's fr_pool_scratch, FR_POOL_SCRATCH bytes: 1
 * MiB holds the 128 super-blocks of a 32768-value K-quant row) where it fits. Without buf, or
 * for wider rows, the K-quants are left to the caller; the 32-value types unpack in the
 * kernel. Unit g's results for rows t .. t + 15 go to store(ctx, g, t, out), out[u * 16 + r].
 * Returns the first row not done (the caller's, for the other kernel: fewer than
 * FR_GEMM_AMX_T). */
int64_t fr_gemm_amx_units(fr_gemm_amx_fn amx, int type, int64_t nb, const char *units, size_t unit_bytes, int64_t g0,
                          int64_t g1, const char *act, size_t act_stride, int64_t t0, int64_t t1,
                          void (*store)(const void *ctx, int64_t g, int64_t t, const float *out), const void *ctx,
                          void *buf);
/* Decode's stream order (gemm.c's decode slabs, fr_matmul_multi's expert chunks): units [g0,
 * g0 + n) of a packed matrix (unit g at units + g * unit_bytes) for one token, as n /
 * FR_GEMM_STREAMS calls of `streams`, call i reading unit g0 + k * part + i of stream k (part =
 * n / FR_GEMM_STREAMS): each stream a contiguous quarter. Unit g's 16 results go to
 * store(ctx, g, out). Returns the units done, FR_GEMM_STREAMS * part; the rest are the
 * caller's, for the one-unit kernel. */
int64_t fr_gemm_streams_units(fr_gemm_streams_fn streams, int64_t nb, const char *units, size_t unit_bytes, int64_t g0,
                              int64_t n, const void *act, void (*store)(const void *ctx, int64_t g, const float *out),
                              const void *ctx);
/* Units [g0, g0 + n) for a few tokens (acts[0 .. T - 1], 2 <= T <= FR_GEMM_MAX_T) with a pair
 * kernel, n / 2 calls. two_streams (batched decode): call i reads units g0 + i and g0 + n/2 + i,
 * each half of the range a contiguous stream; else (a prompt's panel, in L2) units g0 + 2i and
 * g0 + 2i + 1. With two_streams and a quad kernel (fr_gemm_quad_kernel_for; NULL: none), four
 * streams first: q = n / 4 calls of it, call i reading unit g0 + k * q + i of stream k, then
 * the rest in pairs. Token u's 16 results of unit g go to store(ctx, g, u, out). Returns the
 * units done, all but the last of an odd rest, which is the caller's. (Adjacent pairs ran 4-11%
 * slower than one unit at a time from DRAM; two streams ran faster: gemm.c part_units.) */
int64_t fr_gemm_pair_units(fr_gemm_pair_fn pair, fr_gemm_quad_fn quad, int64_t nb, const char *units,
                           size_t unit_bytes, int64_t g0, int64_t n, const void *const *acts, int T, bool two_streams,
                           void (*store)(const void *ctx, int64_t g, int u, const float *out), const void *ctx);
/* The kernel of one instruction set (NULL if there is none or the CPU lacks it); tests. */
fr_gemm_kernel_fn fr_gemm_kernel_isa(int type, fr_isa isa);

/* The packed copy of m (if its type is supported and packing is not disabled with
 * FRUGAL_REPACK=0), or NULL. It drops the original's file pages from memory (they come back
 * from the file if read again). The caller owns it (fr_pack_free) and attaches it to the
 * matrix (m->packed, m->unit0 = 0). Thread-safe for different matrices. */
fr_packed *fr_pack_new(const fr_matrix *m);
void fr_pack_free(fr_packed *pk);
/* Whether fr_pack_new would pack m, and the packed bytes it would take (without packing). */
bool fr_pack_would_pack(const fr_matrix *m, size_t *bytes);
/* A matrix no kernel repacks (F16, BF16, F32) is still streamed whole by every decode step;
 * from the file's mapping that costs a TLB miss every 4 KiB page. fr_pack_copy copies its
 * rows, in the same layout, into huge pages (hugemem.h) and drops the file's pages, as
 * fr_pack_new does: the caller points m->data at pk->data (never m->packed) and owns pk.
 * NULL when m is packable, FRUGAL_REPACK=0, the system has no transparent huge pages (or
 * they are set to "never"), or out of memory. fr_pack_would_copy says
 * whether it would, and the bytes. */
fr_packed *fr_pack_copy(const fr_matrix *m);
bool fr_pack_would_copy(const fr_matrix *m, size_t *bytes);
/* m's packed copy (*unit0 = the unit of m's first row), or NULL. */
const fr_packed *fr_pack_find(const fr_matrix *m, int64_t *unit0);

/* y = W x over a packed matrix (fr_matmul's fast path; same contract as fr_matmul). */
void fr_gemm_packed(fr_pool *pool, const fr_packed *pk, int64_t unit0, const fr_matrix *w, const float *x,
                    int64_t x_stride, int64_t n_tok, float *y, int64_t y_stride, const float *bias, void *scratch);
size_t fr_gemm_scratch_size(int type, int64_t n_in, int64_t n_tok);
/* A decode step (n_tok <= FR_GEMM_MAX_T) of n <= FR_MM_GROUP_MAX packed matrices of one type
 * and n_in (pk[i], units from unit0[i]) over the same x, in one pool run (fr_matmul_group). */
void fr_gemm_packed_group(fr_pool *pool, const fr_packed *const *pk, const int64_t *unit0, const fr_mm_out *out, int n,
                          const float *x, int64_t x_stride, int64_t n_tok, void *scratch);

#endif

/* gemm.c: the layouts of 16-row units and their reference packer (pack.c has the fast one),
 * making and freeing packed copies, the matmul driver over them, and the scalar references of
 * the packed kernels (layouts, order and exactness in gemm.h). */
#include "gemm.h"

#include <inttypes.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base.h"
#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- layouts ---- */

/* Bytes of one block (K-quants: super-block) of a unit (gemm.h). */
size_t fr_pack_block_bytes(int type) {
    switch (type) {
    case FR_TYPE_Q4_0:
    case FR_TYPE_IQ4_NL: return FR_Q4_0X16_BLOCK;
    case FR_TYPE_Q5_0: return FR_Q5_0X16_BLOCK;
    case FR_TYPE_Q4_1: return FR_Q4_1X16_BLOCK;
    case FR_TYPE_Q5_1: return FR_Q5_1X16_BLOCK;
    case FR_TYPE_Q8_0: return FR_Q8_0X16_BLOCK;
    case FR_TYPE_Q4_K: return FR_Q4_KX16_BLOCK;
    case FR_TYPE_Q5_K: return FR_Q5_KX16_BLOCK;
    case FR_TYPE_Q3_K: return FR_Q3_KX16_BLOCK;
    case FR_TYPE_Q2_K: return FR_Q2_KX16_BLOCK;
    default: return FR_Q6_KX16_BLOCK;
    }
}

int64_t fr_pack_block_values(int type) {
    return type >= FR_TYPE_Q2_K && type <= FR_TYPE_Q6_K ? QK_K : 32;
}

bool fr_pack_supported(int type) {
    return fr_gemm_kernel(type) != NULL;
}

size_t fr_pack_unit_bytes(int type, int64_t n_in) {
    size_t nb = (size_t)(n_in / fr_pack_block_values(type));
    return (nb * fr_pack_block_bytes(type) + 63) & ~(size_t)63;
}

/* Where row r (< 16) keeps the 4 bytes of vector v in a block: 64v + 32h + 4 (r % 8). */
static size_t vec_off(int v, int r) { return (size_t)(64 * v + 32 * (r / 8) + 4 * (r % 8)); }

/* The inverse of fr_q6_K_at (dtype.h): ORs value p's 6 bits into a zeroed block. */
static void q6_put(block_q6_K *x, int p, int q) {
    const int h = p / 128, l = p % 32, g = (p % 128) / 32;
    x->ql[64 * h + 32 * (g & 1) + l] |= (uint8_t)((q & 15) << (4 * (g >> 1)));
    x->qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * g));
}

/* Where the Q6_Kx16 layout keeps value p of row r: the byte of its low 4 bits (shift in
 * *lo_shift) and of its top 2 bits (shift in *hi_shift). */
static void q6x16_at(int p, int r, size_t *lo, int *lo_shift, size_t *hi, int *hi_shift) {
    const int g = p / 32, k = (p % 32) / 4, e = p % 4;
    *lo = vec_off(8 * (g / 2) + k, r) + (size_t)e;
    *lo_shift = 4 * (g & 1);
    *hi = FR_Q6_KX16_QH + vec_off(8 * (g / 4) + k, r) + (size_t)e;
    *hi_shift = 2 * (g & 3);
}

/* Q4_K's 12 scale bytes from 8 scales and mins (6 bits each; the inverse of the above). */
static void pack_scale_min_k4(uint8_t *q, const uint8_t *sc, const uint8_t *m) {
    memset(q, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            q[j] |= sc[j] & 63;
            q[j + 4] |= m[j] & 63;
        } else {
            q[j + 4] |= (uint8_t)((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
            q[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            q[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

/* The inverse of fr_q3_K_scales (dtype.h): 16 scales (-32..31) into Q3_K's 12 bytes. */
static void q3k_scales_encode(const int8_t *sc, uint8_t *s) {
    memset(s, 0, 12);
    for (int j = 0; j < 16; j++) {
        const int v = sc[j] + 32; /* 0..63 */
        s[j < 8 ? j : j - 8] |= (uint8_t)((v & 0xF) << (j < 8 ? 0 : 4));
        s[8 + j % 4] |= (uint8_t)(((v >> 4) & 3) << (2 * (j / 4)));
    }
}

/* Row r's Q4_K-shaped part of a super-block (Q4_K, and Q5_K's low 4 bits) into unit block u:
 * the 128 nibble bytes, the 8 scales and mins unpacked, d and dmin. */
static void pack_k4(uint8_t *u, int r, const uint8_t *qs, const uint8_t *scales, fr_f16 d, fr_f16 dmin) {
    for (int l = 0; l < 4; l++)
        for (int k = 0; k < 8; k++) memcpy(u + vec_off(8 * l + k, r), qs + 32 * l + 4 * k, 4);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        fr_q4_K_scale_min(j, scales, &sc, &m);
        u[FR_Q4_KX16_SC + 16 * j + r] = sc;
        u[FR_Q4_KX16_MN + 32 * (j / 2) + 2 * r + (j & 1)] = m;
    }
    memcpy(u + FR_Q4_KX16_D + 2 * r, &d, 2);
    memcpy(u + FR_Q4_KX16_DMIN + 2 * r, &dmin, 2);
}

/* The inverse of pack_k4. */
static void unpack_k4(const uint8_t *u, int r, uint8_t *qs, uint8_t *scales, fr_f16 *d, fr_f16 *dmin) {
    for (int l = 0; l < 4; l++)
        for (int k = 0; k < 8; k++) memcpy(qs + 32 * l + 4 * k, u + vec_off(8 * l + k, r), 4);
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = u[FR_Q4_KX16_SC + 16 * j + r];
        m[j] = u[FR_Q4_KX16_MN + 32 * (j / 2) + 2 * r + (j & 1)];
    }
    pack_scale_min_k4(scales, sc, m);
    memcpy(d, u + FR_Q4_KX16_D + 2 * r, 2);
    memcpy(dmin, u + FR_Q4_KX16_DMIN + 2 * r, 2);
}

/* Row r's 16 nibble bytes of a 32-value block into vectors P_0..P_3 of unit block u, and back. */
static void put_nibbles(uint8_t *u, int r, const uint8_t *qs) {
    for (int m = 0; m < 4; m++) memcpy(u + vec_off(m, r), qs + 4 * m, 4);
}
static void get_nibbles(const uint8_t *u, int r, uint8_t *qs) {
    for (int m = 0; m < 4; m++) memcpy(qs + 4 * m, u + vec_off(m, r), 4);
}

/* Row r's fifth bits (Q5_0/Q5_1's qh, bit j = value j) into vector H of a unit block (gemm.h:
 * bit 2m of byte e is value 4m + e's, bit 2m + 1 value 16 + 4m + e's), and back. */
static void put_fifth_bits(uint8_t *u, int r, const uint8_t *qh4) {
    const uint32_t qh = (uint32_t)qh4[0] | (uint32_t)qh4[1] << 8 | (uint32_t)qh4[2] << 16 | (uint32_t)qh4[3] << 24;
    for (int e = 0; e < 4; e++) {
        uint8_t h = 0;
        for (int m = 0; m < 4; m++) {
            const uint32_t lo = (qh >> (4 * m + e)) & 1, hi = (qh >> (16 + 4 * m + e)) & 1;
            h |= (uint8_t)(lo << (2 * m) | hi << (2 * m + 1));
        }
        u[FR_Q5_0X16_QH + vec_off(0, r) + e] = h;
    }
}
static void get_fifth_bits(const uint8_t *u, int r, uint8_t *qh4) {
    uint32_t qh = 0;
    for (int e = 0; e < 4; e++)
        for (int m = 0; m < 4; m++) {
            const uint32_t h = u[FR_Q5_0X16_QH + vec_off(0, r) + e];
            qh |= ((h >> (2 * m)) & 1) << (4 * m + e) | ((h >> (2 * m + 1)) & 1) << (16 + 4 * m + e);
        }
    for (int k = 0; k < 4; k++) qh4[k] = (uint8_t)(qh >> (8 * k));
}

/* The 32-value types with 4-bit nibbles (Q4_0, IQ4_NL, Q4_1, Q5_0, Q5_1): where a file block
 * keeps its scale d, min m, fifth bits qh and nibbles qs (-1: none), its size, and where a
 * unit block keeps the 16 d and m. */
typedef struct {
    int d, m, qh, qs, size;
    int ud, um;
} nib_layout;

static bool nib_layout_of(int type, nib_layout *l) {
    switch (type) {
    case FR_TYPE_Q4_0:
    case FR_TYPE_IQ4_NL: /* the same block shape */
        *l = (nib_layout){offsetof(block_q4_0, d), -1, -1, offsetof(block_q4_0, qs), sizeof(block_q4_0),
                          FR_Q4_0X16_D, -1};
        return true;
    case FR_TYPE_Q4_1:
        *l = (nib_layout){offsetof(block_q4_1, d), offsetof(block_q4_1, m), -1, offsetof(block_q4_1, qs),
                          sizeof(block_q4_1), FR_Q4_1X16_D, FR_Q4_1X16_M};
        return true;
    case FR_TYPE_Q5_0:
        *l = (nib_layout){offsetof(block_q5_0, d), -1, offsetof(block_q5_0, qh), offsetof(block_q5_0, qs),
                          sizeof(block_q5_0), FR_Q5_0X16_D, -1};
        return true;
    case FR_TYPE_Q5_1:
        *l = (nib_layout){offsetof(block_q5_1, d), offsetof(block_q5_1, m), offsetof(block_q5_1, qh),
                          offsetof(block_q5_1, qs), sizeof(block_q5_1), FR_Q5_1X16_D, FR_Q5_1X16_M};
        return true;
    default: return false;
    }
}

/* The reference packer (fr_pack_unit in pack.c gives the same bytes): row by row, each row
 * through every block of the unit, into a cleared unit. */
void fr_pack_unit_ref(int type, int64_t n_in, const void *rows, size_t row_bytes, int nrows, void *unit) {
    const int64_t nb = n_in / fr_pack_block_values(type);
    const size_t bb = fr_pack_block_bytes(type);
    nib_layout nl;
    const bool nib = nib_layout_of(type, &nl);
    memset(unit, 0, fr_pack_unit_bytes(type, n_in)); /* missing rows and the padding */
    for (int r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)rows + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *u = (uint8_t *)unit + (size_t)b * bb;
            if (nib) {
                const uint8_t *x = row + (size_t)b * (size_t)nl.size;
                memcpy(u + nl.ud + 2 * r, x + nl.d, 2);
                if (nl.m >= 0) memcpy(u + nl.um + 2 * r, x + nl.m, 2);
                put_nibbles(u, r, x + nl.qs);
                if (nl.qh >= 0) put_fifth_bits(u, r, x + nl.qh);
            } else if (type == FR_TYPE_Q8_0) {
                const block_q8_0 *x = (const block_q8_0 *)row + b;
                memcpy(u + FR_Q8_0X16_D + 2 * r, &x->d, 2);
                for (int k = 0; k < 8; k++) memcpy(u + vec_off(k, r), x->qs + 4 * k, 4);
            } else if (type == FR_TYPE_Q4_K) {
                const block_q4_K *x = (const block_q4_K *)row + b;
                pack_k4(u, r, x->qs, x->scales, x->d, x->dmin);
            } else if (type == FR_TYPE_Q2_K) {
                const block_q2_K *x = (const block_q2_K *)row + b;
                for (int m = 0; m < 2; m++)
                    for (int k = 0; k < 8; k++) memcpy(u + vec_off(8 * m + k, r), x->qs + 32 * m + 4 * k, 4);
                for (int j = 0; j < 16; j++) u[FR_Q2_KX16_SC + 16 * j + r] = x->scales[j];
                memcpy(u + FR_Q2_KX16_D + 2 * r, &x->d, 2);
                memcpy(u + FR_Q2_KX16_DMIN + 2 * r, &x->dmin, 2);
            } else if (type == FR_TYPE_Q3_K) {
                const block_q3_K *x = (const block_q3_K *)row + b;
                for (int m = 0; m < 2; m++)
                    for (int k = 0; k < 8; k++) memcpy(u + vec_off(8 * m + k, r), x->qs + 32 * m + 4 * k, 4);
                for (int k = 0; k < 8; k++) memcpy(u + FR_Q3_KX16_HM + vec_off(k, r), x->hmask + 4 * k, 4);
                int8_t sc[16];
                fr_q3_K_scales(x->scales, sc);
                for (int j = 0; j < 16; j++) u[FR_Q3_KX16_SC + 16 * j + r] = (uint8_t)sc[j];
                memcpy(u + FR_Q3_KX16_D + 2 * r, &x->d, 2);
            } else if (type == FR_TYPE_Q5_K) {
                const block_q5_K *x = (const block_q5_K *)row + b;
                pack_k4(u, r, x->qs, x->scales, x->d, x->dmin);
                for (int k = 0; k < 8; k++) memcpy(u + FR_Q5_KX16_QH + vec_off(k, r), x->qh + 4 * k, 4);
            } else {
                const block_q6_K *x = (const block_q6_K *)row + b;
                uint8_t q[QK_K];
                for (int p = 0; p < QK_K; p++) q[p] = (uint8_t)fr_q6_K_at(x, p);
                for (int k = 0; k < 8; k++) /* whole bytes (q6x16_at): L_{l,k} and H_{m,k} */
                    for (int e = 0; e < 4; e++) {
                        const int p = 4 * k + e;
                        for (int l = 0; l < 4; l++)
                            u[vec_off(8 * l + k, r) + e] =
                                (uint8_t)((q[64 * l + p] & 15) | (q[64 * l + 32 + p] & 15) << 4);
                        for (int m = 0; m < 2; m++) {
                            const uint8_t *v = q + 128 * m + p;
                            u[FR_Q6_KX16_QH + vec_off(8 * m + k, r) + e] =
                                (uint8_t)(v[0] >> 4 | (v[32] >> 4) << 2 | (v[64] >> 4) << 4 | (v[96] >> 4) << 6);
                        }
                    }
                for (int j = 0; j < 16; j++) u[FR_Q6_KX16_SC + 16 * j + r] = (uint8_t)x->scales[j];
                memcpy(u + FR_Q6_KX16_D + 2 * r, &x->d, 2);
            }
        }
    }
}

void fr_unpack_unit_row(int type, int64_t n_in, const void *unit, int r, void *row) {
    const int64_t nb = n_in / fr_pack_block_values(type);
    const size_t bb = fr_pack_block_bytes(type);
    nib_layout nl;
    const bool nib = nib_layout_of(type, &nl);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *u = (const uint8_t *)unit + (size_t)b * bb;
        if (nib) {
            uint8_t *x = (uint8_t *)row + (size_t)b * (size_t)nl.size;
            memcpy(x + nl.d, u + nl.ud + 2 * r, 2);
            if (nl.m >= 0) memcpy(x + nl.m, u + nl.um + 2 * r, 2);
            get_nibbles(u, r, x + nl.qs);
            if (nl.qh >= 0) get_fifth_bits(u, r, x + nl.qh);
        } else if (type == FR_TYPE_Q8_0) {
            block_q8_0 *x = (block_q8_0 *)row + b;
            memcpy(&x->d, u + FR_Q8_0X16_D + 2 * r, 2);
            for (int k = 0; k < 8; k++) memcpy(x->qs + 4 * k, u + vec_off(k, r), 4);
        } else if (type == FR_TYPE_Q4_K) {
            block_q4_K *x = (block_q4_K *)row + b;
            unpack_k4(u, r, x->qs, x->scales, &x->d, &x->dmin);
        } else if (type == FR_TYPE_Q2_K) {
            block_q2_K *x = (block_q2_K *)row + b;
            for (int m = 0; m < 2; m++)
                for (int k = 0; k < 8; k++) memcpy(x->qs + 32 * m + 4 * k, u + vec_off(8 * m + k, r), 4);
            for (int j = 0; j < 16; j++) x->scales[j] = u[FR_Q2_KX16_SC + 16 * j + r];
            memcpy(&x->d, u + FR_Q2_KX16_D + 2 * r, 2);
            memcpy(&x->dmin, u + FR_Q2_KX16_DMIN + 2 * r, 2);
        } else if (type == FR_TYPE_Q3_K) {
            block_q3_K *x = (block_q3_K *)row + b;
            for (int m = 0; m < 2; m++)
                for (int k = 0; k < 8; k++) memcpy(x->qs + 32 * m + 4 * k, u + vec_off(8 * m + k, r), 4);
            for (int k = 0; k < 8; k++) memcpy(x->hmask + 4 * k, u + FR_Q3_KX16_HM + vec_off(k, r), 4);
            int8_t sc[16];
            for (int j = 0; j < 16; j++) sc[j] = (int8_t)u[FR_Q3_KX16_SC + 16 * j + r];
            q3k_scales_encode(sc, x->scales);
            memcpy(&x->d, u + FR_Q3_KX16_D + 2 * r, 2);
        } else if (type == FR_TYPE_Q5_K) {
            block_q5_K *x = (block_q5_K *)row + b;
            unpack_k4(u, r, x->qs, x->scales, &x->d, &x->dmin);
            for (int k = 0; k < 8; k++) memcpy(x->qh + 4 * k, u + FR_Q5_KX16_QH + vec_off(k, r), 4);
        } else {
            block_q6_K *x = (block_q6_K *)row + b;
            memset(x, 0, sizeof *x);
            for (int p = 0; p < QK_K; p++) {
                size_t lo, hi;
                int ls, hs;
                q6x16_at(p, r, &lo, &ls, &hi, &hs);
                q6_put(x, p, ((u[lo] >> ls) & 15) | ((u[hi] >> hs) & 3) << 4);
            }
            for (int j = 0; j < 16; j++) x->scales[j] = (int8_t)u[FR_Q6_KX16_SC + 16 * j + r];
            memcpy(&x->d, u + FR_Q6_KX16_D + 2 * r, 2);
        }
    }
}

/* ---- activations ---- */

static float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return fr_f16_to_f32(h);
}

size_t fr_gemm_act_row_bytes(int64_t n_in) { return ((size_t)(n_in / 32) * 40 + 63) & ~(size_t)63; }

/* The offset word of one block (gemm.h): Q4_0's (Q5_0's) two int16 halves, or Q8_0's (and
 * IQ4_NL's) -128 * sum. */
static int32_t act_offset(int type, const int8_t *qs) {
    int s0 = 0, s1 = 0;
    for (int j = 0; j < 32; j++) {
        if ((j & 3) < 2) s0 += qs[j];
        else s1 += qs[j];
    }
    if (type == FR_TYPE_Q8_0 || type == FR_TYPE_IQ4_NL) return -128 * (s0 + s1);
    const int k = type == FR_TYPE_Q5_0 ? -16 : -8;
    return (int32_t)((uint32_t)(uint16_t)(int16_t)(k * s0) | (uint32_t)(uint16_t)(int16_t)(k * s1) << 16);
}

void fr_gemm_quantize_row(int type, const float *x, void *dst, int64_t n_in) {
    const int64_t nb = n_in / 32;
    int8_t *q = dst;
    float *d = (float *)(q + nb * 32);
    int32_t *c = (int32_t *)(q + nb * 36);
    /* Q4_1, Q5_1: Q8_1 blocks (d, s, qs), the offset word s as a float; else Q8_0 blocks (d, qs) */
    const bool q81 = type == FR_TYPE_Q4_1 || type == FR_TYPE_Q5_1;
    fr_from_float_fn quant = fr_type_traits_get(q81 ? FR_TYPE_Q8_1 : FR_TYPE_Q8_0)->from_float;
    const size_t bs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t qs_at = q81 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    block_q8_1 tmp[8]; /* the larger of the two block types */
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int64_t n = FR_MIN(8, nb - b0);
        quant(x + b0 * 32, tmp, n * 32);
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *blk = (const uint8_t *)tmp + (size_t)i * bs;
            const int64_t b = b0 + i;
            memcpy(q + b * 32, blk + qs_at, 32);
            d[b] = f16_at(blk); /* d comes first in both */
            if (q81) {
                const float sy = f16_at(blk + offsetof(block_q8_1, s));
                memcpy(&c[b], &sy, 4);
            } else {
                c[b] = act_offset(type, (const int8_t *)(blk + qs_at));
            }
        }
    }
}

size_t fr_gemm_act_row_bytes_k(int64_t n_in) { return ((size_t)(n_in / QK_K) * 276 + 63) & ~(size_t)63; }

void fr_gemm_quantize_row_k(const float *x, void *dst, int64_t n_in) {
    const int64_t nb = n_in / QK_K;
    int8_t *q = dst;
    float *d = (float *)(q + nb * 256);
    int16_t *ys = (int16_t *)(q + nb * 260);
    fr_from_float_fn quant = fr_type_traits_get(FR_TYPE_Q8_K)->from_float;
    block_q8_K tmp;
    for (int64_t b = 0; b < nb; b++) {
        quant(x + b * QK_K, &tmp, QK_K);
        memcpy(q + b * 256, tmp.qs, 256);
        d[b] = tmp.d;
        for (int j = 0; j < 8; j++) ys[b * 8 + j] = (int16_t)(tmp.bsums[2 * j] + tmp.bsums[2 * j + 1]);
    }
}

size_t fr_gemm_act_row_bytes_k6(int64_t n_in) { return ((size_t)(n_in / QK_K) * 324 + 63) & ~(size_t)63; }

void fr_gemm_quantize_row_k6(const float *x, void *dst, int64_t n_in) {
    const int64_t nb = n_in / QK_K;
    int8_t *q = dst;
    float *d = (float *)(q + nb * 256);
    int32_t *c = (int32_t *)(q + nb * 260);
    fr_from_float_fn quant = fr_type_traits_get(FR_TYPE_Q8_K)->from_float;
    block_q8_K tmp;
    for (int64_t b = 0; b < nb; b++) {
        quant(x + b * QK_K, &tmp, QK_K);
        memcpy(q + b * 256, tmp.qs, 256);
        d[b] = tmp.d;
        for (int j = 0; j < 16; j++) { /* |sum| <= 16 * 128: -16 * sum fits int16 */
            const uint16_t h = (uint16_t)(int16_t)(-16 * tmp.bsums[j]);
            c[b * 16 + j] = (int32_t)((uint32_t)h | (uint32_t)h << 16);
        }
    }
}

size_t fr_gemm_act_bytes(int type, int64_t n_in) {
    if (type == FR_TYPE_Q4_K || type == FR_TYPE_Q5_K) return fr_gemm_act_row_bytes_k(n_in);
    if (type == FR_TYPE_Q6_K || type == FR_TYPE_Q3_K || type == FR_TYPE_Q2_K) return fr_gemm_act_row_bytes_k6(n_in);
    return fr_gemm_act_row_bytes(n_in);
}

void fr_gemm_quantize(int type, const float *x, void *dst, int64_t n_in) {
    if (type == FR_TYPE_Q4_K || type == FR_TYPE_Q5_K) fr_gemm_quantize_row_k(x, dst, n_in);
    else if (type == FR_TYPE_Q6_K || type == FR_TYPE_Q3_K || type == FR_TYPE_Q2_K)
        fr_gemm_quantize_row_k6(x, dst, n_in);
#if FR_X86
    else if (fr_cpu_has(FR_ISA_AVX2))
        fr_gemm_quantize_row_avx2(type, x, dst, n_in);
#endif
    else fr_gemm_quantize_row(type, x, dst, n_in);
}

/* ---- scalar references (the packed layout read element by element) ---- */

/* Q4_Kx16, or Q5_Kx16 with its fifth bits (qh_at: FR_Q5_KX16_QH, else 0). */
static void k4x16_ref(int64_t nb, size_t block, size_t qh_at, const void *unit, const void *const *acts, int T,
                      float *out) {
    for (int t = 0; t < T; t++) {
        const int8_t *y = acts[t];
        const float *yd = (const float *)(y + nb * 256);
        const int16_t *ys = (const int16_t *)(y + nb * 260);
        for (int r = 0; r < 16; r++) {
            float sumf = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *u = (const uint8_t *)unit + (size_t)b * block;
                int32_t isum = 0, msum = 0;
                for (int j = 0; j < 8; j++) {
                    int32_t sj = 0;
                    for (int k = 0; k < 8; k++)
                        for (int e = 0; e < 4; e++) {
                            const uint8_t v = u[vec_off(8 * (j / 2) + k, r) + e];
                            int q = (j & 1) ? v >> 4 : v & 15;
                            if (qh_at) q |= ((u[qh_at + vec_off(k, r) + e] >> j) & 1) << 4;
                            sj += q * y[b * 256 + 32 * j + 4 * k + e];
                        }
                    isum += u[FR_Q4_KX16_SC + 16 * j + r] * sj;
                    msum += u[FR_Q4_KX16_MN + 32 * (j / 2) + 2 * r + (j & 1)] * ys[b * 8 + j];
                }
                const float d = yd[b] * f16_at(u + FR_Q4_KX16_D + 2 * r);
                const float dmin = yd[b] * f16_at(u + FR_Q4_KX16_DMIN + 2 * r);
                const float a = d * (float)isum;
                const float bb = dmin * (float)msum;
                sumf += a;
                sumf -= bb;
            }
            out[t * 16 + r] = sumf;
        }
    }
}

void fr_gemm_q4_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    k4x16_ref(nb, FR_Q4_KX16_BLOCK, 0, unit, acts, T, out);
}

void fr_gemm_q5_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    k4x16_ref(nb, FR_Q5_KX16_BLOCK, FR_Q5_KX16_QH, unit, acts, T, out);
}

/* Value p (< 256) of unit row r in super-block u of Q2_K, Q3_K or Q6_K (layouts in gemm.h),
 * and the int8 scale of its 16-value sub-block j. */
static int k16_value(int type, const uint8_t *u, int r, int p) {
    const int g = p / 32, k = (p % 32) / 4, e = p % 4;
    if (type == FR_TYPE_Q6_K) {
        size_t lo, hi;
        int ls, hs;
        q6x16_at(p, r, &lo, &ls, &hi, &hs);
        return (((u[lo] >> ls) & 15) | ((u[hi] >> hs) & 3) << 4) - 32;
    }
    const int q2 = (u[vec_off(8 * (g / 4) + k, r) + e] >> (2 * (g % 4))) & 3;
    if (type == FR_TYPE_Q2_K) return q2;
    return (q2 | ((u[FR_Q3_KX16_HM + vec_off(k, r) + e] >> g) & 1) << 2) - 4; /* Q3_K */
}

/* The references of Q2_K, Q3_K and Q6_K (sub-blocks of 16): the exact integers isum =
 * sum_j sc_j * dot_j and (Q2_K) msum = sum_j m_j * ysum_j, then sumf += (yd * d) * isum and
 * (Q2_K) sumf -= (yd * dmin) * msum, as fr_vec_dot_q2_K/q3_K/q6_K_ref. */
static void k16_ref(int type, int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    const size_t bbytes = fr_pack_block_bytes(type);
    const size_t sc_at = type == FR_TYPE_Q2_K ? FR_Q2_KX16_SC : type == FR_TYPE_Q3_K ? FR_Q3_KX16_SC : FR_Q6_KX16_SC;
    const size_t d_at = type == FR_TYPE_Q2_K ? FR_Q2_KX16_D : type == FR_TYPE_Q3_K ? FR_Q3_KX16_D : FR_Q6_KX16_D;
    for (int t = 0; t < T; t++) {
        const int8_t *y = acts[t];
        const float *yd = (const float *)(y + nb * 256);
        for (int r = 0; r < 16; r++) {
            float sumf = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *u = (const uint8_t *)unit + (size_t)b * bbytes;
                int32_t isum = 0, msum = 0;
                for (int j = 0; j < 16; j++) {
                    int32_t sj = 0, ysum = 0;
                    for (int p = 16 * j; p < 16 * j + 16; p++) {
                        sj += k16_value(type, u, r, p) * y[b * 256 + p];
                        ysum += y[b * 256 + p];
                    }
                    const uint8_t sc = u[sc_at + 16 * j + r];
                    if (type == FR_TYPE_Q2_K) { /* scale | min << 4 */
                        isum += (sc & 15) * sj;
                        msum += (sc >> 4) * ysum;
                    } else {
                        isum += (int8_t)sc * sj;
                    }
                }
                const float d = yd[b] * f16_at(u + d_at + 2 * r);
                const float a = d * (float)isum;
                sumf += a;
                if (type == FR_TYPE_Q2_K) {
                    const float dmin = yd[b] * f16_at(u + FR_Q2_KX16_DMIN + 2 * r);
                    const float m = dmin * (float)msum;
                    sumf -= m;
                }
            }
            out[t * 16 + r] = sumf;
        }
    }
}

void fr_gemm_q2_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    k16_ref(FR_TYPE_Q2_K, nb, unit, acts, T, out);
}

void fr_gemm_q3_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    k16_ref(FR_TYPE_Q3_K, nb, unit, acts, T, out);
}

void fr_gemm_q6_Kx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    k16_ref(FR_TYPE_Q6_K, nb, unit, acts, T, out);
}

/* Value p (< 32) of unit row r in block u of a 32-value type (layouts in gemm.h). */
static int x16_value(int type, const uint8_t *u, int r, int p) {
    if (type == FR_TYPE_Q8_0) return (int8_t)u[vec_off(p / 4, r) + p % 4];
    const int m = (p % 16) / 4, v = u[vec_off(m, r) + p % 4], q = p < 16 ? v & 15 : v >> 4;
    if (type == FR_TYPE_IQ4_NL) return fr_iq4nl_values[q];
    if (type == FR_TYPE_Q4_0) return q - 8;
    if (type == FR_TYPE_Q4_1) return q;
    const int h = (u[vec_off(4, r) + p % 4] >> (2 * m + (p >= 16))) & 1; /* vector H (at FR_Q5_0X16_QH) */
    return type == FR_TYPE_Q5_1 ? q | h << 4 : (q | h << 4) - 16; /* Q5_0 */
}

/* The references of the 32-value types: per block the exact integer dot, then
 * acc = fma(isum, dx * dy, acc) and (Q4_1, Q5_1) acc = fma(m, s_y, acc); the fp16 scales are a
 * block's last 32 bytes, the mins the 32 before them. */
static void x16_ref(int type, int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    const size_t bb = fr_pack_block_bytes(type);
    const bool mins = type == FR_TYPE_Q4_1 || type == FR_TYPE_Q5_1;
    for (int t = 0; t < T; t++) {
        const int8_t *y = acts[t];
        const float *yd = (const float *)(y + nb * 32);
        const float *ys = (const float *)(y + nb * 36); /* s_y (Q4_1, Q5_1) */
        for (int r = 0; r < 16; r++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *u = (const uint8_t *)unit + (size_t)b * bb;
                int isum = 0;
                for (int p = 0; p < 32; p++) isum += x16_value(type, u, r, p) * y[b * 32 + p];
                acc = fmaf((float)isum, f16_at(u + bb - 32 + 2 * r) * yd[b], acc);
                if (mins) acc = fmaf(f16_at(u + bb - 64 + 2 * r), ys[b], acc);
            }
            out[t * 16 + r] = acc;
        }
    }
}

void fr_gemm_q4_0x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    x16_ref(FR_TYPE_Q4_0, nb, unit, acts, T, out);
}

void fr_gemm_q5_0x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    x16_ref(FR_TYPE_Q5_0, nb, unit, acts, T, out);
}

void fr_gemm_q4_1x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    x16_ref(FR_TYPE_Q4_1, nb, unit, acts, T, out);
}

void fr_gemm_q5_1x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    x16_ref(FR_TYPE_Q5_1, nb, unit, acts, T, out);
}

void fr_gemm_iq4_nlx16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    x16_ref(FR_TYPE_IQ4_NL, nb, unit, acts, T, out);
}

void fr_gemm_q8_0x16_ref(int64_t nb, const void *unit, const void *const *acts, int T, float *out) {
    x16_ref(FR_TYPE_Q8_0, nb, unit, acts, T, out);
}

fr_gemm_kernel_fn fr_gemm_kernel_isa(int type, fr_isa isa) {
    if (!fr_cpu_has(isa)) return NULL;
#if FR_X86
    if (isa == FR_ISA_AVX512VNNI) {
        if (type == FR_TYPE_Q4_0) return fr_gemm_q4_0x16_avx512vnni;
        if (type == FR_TYPE_Q5_0) return fr_gemm_q5_0x16_avx512vnni;
        if (type == FR_TYPE_Q4_1) return fr_gemm_q4_1x16_avx512vnni;
        if (type == FR_TYPE_Q5_1) return fr_gemm_q5_1x16_avx512vnni;
        if (type == FR_TYPE_IQ4_NL) return fr_gemm_iq4_nlx16_avx512vnni;
        if (type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_avx512vnni;
        if (type == FR_TYPE_Q2_K) return fr_gemm_q2_Kx16_avx512vnni;
        if (type == FR_TYPE_Q3_K) return fr_gemm_q3_Kx16_avx512vnni;
        if (type == FR_TYPE_Q4_K) return fr_gemm_q4_Kx16_avx512vnni;
        if (type == FR_TYPE_Q5_K) return fr_gemm_q5_Kx16_avx512vnni;
        if (type == FR_TYPE_Q6_K) return fr_gemm_q6_Kx16_avx512vnni;
    }
    if (isa == FR_ISA_AVXVNNI && type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_vnni;
    if (isa == FR_ISA_AVX2) {
        if (type == FR_TYPE_Q4_0) return fr_gemm_q4_0x16_avx2;
        if (type == FR_TYPE_Q5_0) return fr_gemm_q5_0x16_avx2;
        if (type == FR_TYPE_Q4_1) return fr_gemm_q4_1x16_avx2;
        if (type == FR_TYPE_Q5_1) return fr_gemm_q5_1x16_avx2;
        if (type == FR_TYPE_IQ4_NL) return fr_gemm_iq4_nlx16_avx2;
        if (type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_avx2;
        if (type == FR_TYPE_Q2_K) return fr_gemm_q2_Kx16_avx2;
        if (type == FR_TYPE_Q3_K) return fr_gemm_q3_Kx16_avx2;
        if (type == FR_TYPE_Q4_K) return fr_gemm_q4_Kx16_avx2;
        if (type == FR_TYPE_Q5_K) return fr_gemm_q5_Kx16_avx2;
        if (type == FR_TYPE_Q6_K) return fr_gemm_q6_Kx16_avx2;
    }
#endif
#if FR_ARM64
    if (isa == FR_ISA_NEON_DOT) {
        if (type == FR_TYPE_Q4_0) return fr_gemm_q4_0x16_neon;
        if (type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_neon;
        if (type == FR_TYPE_Q4_K) return fr_gemm_q4_Kx16_neon;
        if (type == FR_TYPE_IQ4_NL) return fr_gemm_iq4_nlx16_neon;
        if (type == FR_TYPE_Q5_0) return fr_gemm_q5_0x16_neon;
        if (type == FR_TYPE_Q4_1) return fr_gemm_q4_1x16_neon;
        if (type == FR_TYPE_Q5_1) return fr_gemm_q5_1x16_neon;
        if (type == FR_TYPE_Q5_K) return fr_gemm_q5_Kx16_neon;
        if (type == FR_TYPE_Q2_K) return fr_gemm_q2_Kx16_neon;
        if (type == FR_TYPE_Q3_K) return fr_gemm_q3_Kx16_neon;
        if (type == FR_TYPE_Q6_K) return fr_gemm_q6_Kx16_neon;
    }
#endif
    return NULL;
}

fr_gemm_amx_fn fr_gemm_amx_kernel(int type) {
    if (!fr_cpu_has(FR_ISA_AMX)) return NULL;
#if FR_X86
    if (type == FR_TYPE_Q4_0) return fr_gemm_q4_0x16_amx;
    if (type == FR_TYPE_Q5_0) return fr_gemm_q5_0x16_amx;
    if (type == FR_TYPE_Q4_1) return fr_gemm_q4_1x16_amx;
    if (type == FR_TYPE_Q5_1) return fr_gemm_q5_1x16_amx;
    if (type == FR_TYPE_IQ4_NL) return fr_gemm_iq4_nlx16_amx;
    if (type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_amx;
    if (type == FR_TYPE_Q4_K) return fr_gemm_q4_Kx16_amx;
    if (type == FR_TYPE_Q5_K) return fr_gemm_q5_Kx16_amx;
    if (type == FR_TYPE_Q6_K) return fr_gemm_q6_Kx16_amx;
    if (type == FR_TYPE_Q3_K) return fr_gemm_q3_Kx16_amx;
    if (type == FR_TYPE_Q2_K) return fr_gemm_q2_Kx16_amx;
#endif
    (void)type;
    return NULL;
}

/* The instruction set of fr_gemm_kernel(type): the best this CPU runs a kernel of
 * (FR_ISA_SCALAR if none). */
static fr_isa kernel_isa(int type) {
    const fr_isa order[] = {FR_ISA_AVX512VNNI, FR_ISA_AVXVNNI, FR_ISA_AVX2, FR_ISA_NEON_DOT}; /* the best first */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (fr_gemm_kernel_isa(type, order[i])) return order[i];
    return FR_ISA_SCALAR;
}

fr_gemm_kernel_fn fr_gemm_kernel(int type) { return fr_gemm_kernel_isa(type, kernel_isa(type)); }

fr_gemm_streams_fn fr_gemm_streams_kernel_isa(int type, fr_isa isa) {
    if (!fr_cpu_has(isa)) return NULL;
#if FR_X86
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_streams_avx2;
    if (isa == FR_ISA_AVXVNNI && type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_streams_vnni;
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_Q4_0) return fr_gemm_q4_0x16_streams_avx2;
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_Q5_0) return fr_gemm_q5_0x16_streams_avx2;
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_Q4_1) return fr_gemm_q4_1x16_streams_avx2;
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_Q5_1) return fr_gemm_q5_1x16_streams_avx2;
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_IQ4_NL) return fr_gemm_iq4_nlx16_streams_avx2;
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_Q4_K) return fr_gemm_q4_Kx16_streams_avx2;
    if (isa == FR_ISA_AVX2 && type == FR_TYPE_Q5_K) return fr_gemm_q5_Kx16_streams_avx2;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q8_0) return fr_gemm_q8_0x16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q4_0) return fr_gemm_q4_0x16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q5_0) return fr_gemm_q5_0x16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q4_1) return fr_gemm_q4_1x16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q5_1) return fr_gemm_q5_1x16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_IQ4_NL) return fr_gemm_iq4_nlx16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q4_K) return fr_gemm_q4_Kx16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q5_K) return fr_gemm_q5_Kx16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q6_K) return fr_gemm_q6_Kx16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q3_K) return fr_gemm_q3_Kx16_streams_avx512vnni;
    if (isa == FR_ISA_AVX512VNNI && type == FR_TYPE_Q2_K) return fr_gemm_q2_Kx16_streams_avx512vnni;
#endif
    (void)type;
    return NULL;
}

/* only beside the single kernel of its own instruction set: another set's kernel gives the
 * same bits, but the two were not measured together; and for the K-quants only where the CPU
 * reads them faster so (fr_cpu_decode_kquant_streams) */
fr_gemm_streams_fn fr_gemm_streams_kernel(int type) {
    if (fr_pack_block_values(type) == QK_K && !fr_cpu_decode_kquant_streams()) return NULL; /* (the K-quants) */
    return fr_gemm_streams_kernel_isa(type, kernel_isa(type));
}

fr_gemm_kernel_fn fr_gemm_kernel_for(const fr_packed *pk) {
    const fr_gemm_kernel_fn k = fr_gemm_kernel(pk->type);
#if FR_X86
    if (pk->units == FR_UNITS_Q8_SM) return fr_gemm_q8_0x16_avx2_sm;
    if (pk->units == FR_UNITS_Q6_3V) return fr_gemm_q6_Kx16_avx2_3v;
    if (k == fr_gemm_q6_Kx16_avx512vnni && fr_cpu_decode_streams_prefetch()) return fr_gemm_q6_Kx16_pf_avx512vnni;
#endif
    return k;
}

/* The several-unit kernels of a type (x4_0x16_units in gemm_avx512vnni.c): two units (pair)
 * and four (quad) per call. AVX-512 VNNI's Q4_0 family only. */
typedef struct {
    int type;
    fr_gemm_pair_fn pair;
    fr_gemm_quad_fn quad;
} units_kernels;

static const units_kernels *units_kernels_isa(int type, fr_isa isa) {
    if (!fr_cpu_has(isa)) return NULL;
#if FR_X86
    static const units_kernels avx512vnni[] = {
        {FR_TYPE_Q4_0, fr_gemm_q4_0x16_pair_avx512vnni, fr_gemm_q4_0x16_quad_avx512vnni},
        {FR_TYPE_Q5_0, fr_gemm_q5_0x16_pair_avx512vnni, fr_gemm_q5_0x16_quad_avx512vnni},
        {FR_TYPE_Q4_1, fr_gemm_q4_1x16_pair_avx512vnni, fr_gemm_q4_1x16_quad_avx512vnni},
        {FR_TYPE_Q5_1, fr_gemm_q5_1x16_pair_avx512vnni, fr_gemm_q5_1x16_quad_avx512vnni},
        {FR_TYPE_IQ4_NL, fr_gemm_iq4_nlx16_pair_avx512vnni, fr_gemm_iq4_nlx16_quad_avx512vnni},
    };
    if (isa == FR_ISA_AVX512VNNI)
        for (size_t i = 0; i < sizeof avx512vnni / sizeof avx512vnni[0]; i++)
            if (avx512vnni[i].type == type) return &avx512vnni[i];
#endif
    (void)type;
    return NULL;
}

/* only with the single kernel of its own instruction set (as the streams kernels), and only
 * on units in the packed layout */
static const units_kernels *units_kernels_for(const fr_packed *pk) {
    return pk->units != FR_UNITS_PACKED ? NULL : units_kernels_isa(pk->type, kernel_isa(pk->type));
}

fr_gemm_pair_fn fr_gemm_pair_kernel_isa(int type, fr_isa isa) {
    const units_kernels *k = units_kernels_isa(type, isa);
    return k ? k->pair : NULL;
}

fr_gemm_pair_fn fr_gemm_pair_kernel_for(const fr_packed *pk) {
    const units_kernels *k = units_kernels_for(pk);
    return k ? k->pair : NULL;
}

fr_gemm_quad_fn fr_gemm_quad_kernel_isa(int type, fr_isa isa) {
    const units_kernels *k = units_kernels_isa(type, isa);
    return k ? k->quad : NULL;
}

/* Where the pair kernel reads two streams, four with the one-token kernels' prefetch read
 * faster on the Intel Xeon of the 60th session (AVX-512 VNNI, kbench moe TYPE 2048 1408 with 8
 * experts of 2 or of 4 tokens a step, 2 threads, GB/s of weights, two rounds, pair -> quad:
 * Q4_0 2 tokens 27.7-27.8 -> 29.9-30.9, 4 tokens 25.7-27.1 -> 28.6; IQ4_NL 4 tokens 24.0-25.6
 * -> 28.1-29.2; Q5_0, Q4_1 +1-9%; Q5_1 mixed, 28.4-31.1 against 27.9-29.9;
 * bench/results/2026-12-05-session60.md); where that prefetch is off (AMD: unmeasured), none. */
fr_gemm_quad_fn fr_gemm_quad_kernel_for(const fr_packed *pk) {
    const units_kernels *k = fr_cpu_decode_streams_prefetch() ? units_kernels_for(pk) : NULL;
    return k ? k->quad : NULL;
}

fr_gemm_streams_fn fr_gemm_streams_kernel_for(const fr_packed *pk) {
#if FR_X86
    if (pk->units == FR_UNITS_Q8_SM) return fr_gemm_q8_0x16_streams_avx2_sm;
#endif
    return pk->units != FR_UNITS_PACKED ? NULL : fr_gemm_streams_kernel(pk->type);
}

fr_gemm_amx_fn fr_gemm_amx_kernel_for(const fr_packed *pk) {
    return pk->units != FR_UNITS_PACKED ? NULL : fr_gemm_amx_kernel(pk->type);
}

bool fr_gemm_same_layout(const fr_packed *a, const fr_packed *b) {
    return a->type == b->type && a->n_in == b->n_in && a->units == b->units;
}

/* ---- packed copies ---- */

static bool repack_enabled(void) { return !fr_env_off("FRUGAL_REPACK"); }

/* True if [p, p + n) lies inside one file-backed mapping (not the heap copy sanitizer
 * builds make, where MADV_DONTNEED would zero the data). */
static bool in_file_mapping(const void *p, size_t n) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return false;
    char line[512];
    bool ok = false;
    uintptr_t a = (uintptr_t)p, e = a + n;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, inode;
        char perms[8], dev[16];
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms, &off, dev, &inode) != 6) continue;
        if (a >= lo && e <= hi) {
            ok = inode != 0 && perms[3] == 'p';
            break;
        }
    }
    fclose(f);
    return ok;
}

/* Drop the original's whole pages from this process (a private read-only file mapping:
 * they are read back from the file if touched again). */
static void drop_pages(const void *p, size_t n) {
    uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + ps - 1) & ~(ps - 1), e = ((uintptr_t)p + n) & ~(ps - 1);
    if (e <= a || !in_file_mapping(p, n)) return;
    madvise((void *)a, e - a, MADV_DONTNEED);
}

bool fr_pack_would_pack(const fr_matrix *m, size_t *bytes) {
    if (!m->data || !fr_pack_supported(m->type) || m->n_in % fr_pack_block_values(m->type) != 0 || m->n_out <= 0 ||
        !repack_enabled())
        return false;
    if (bytes) *bytes = fr_pack_unit_bytes(m->type, m->n_in) * (size_t)((m->n_out + FR_GEMM_ROWS - 1) / FR_GEMM_ROWS);
    return true;
}

/* A Q8_0 unit's value bytes w as |w| | (w < 0) << 7 (FR_UNITS_Q8_SM), unless some w is -128,
 * which that form cannot hold: then the unit is left as it is and the result is false. The
 * map is its own inverse on the other values (a byte x < 0 becomes 0x80 - x). */
static bool q8_0_unit_sign_magnitude(char *unit, int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = (const uint8_t *)unit + (size_t)b * FR_Q8_0X16_BLOCK;
        unsigned min = 0;
        for (int i = 0; i < FR_Q8_0X16_D; i++) min |= q[i] == 0x80;
        if (min) return false;
    }
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *q = (uint8_t *)unit + (size_t)b * FR_Q8_0X16_BLOCK;
        for (int i = 0; i < FR_Q8_0X16_D; i++) q[i] = q[i] & 0x80 ? (uint8_t)(0x80 - q[i]) : q[i];
    }
    return true;
}

/* Eight bytes at a time (each byte's bits kept apart by the masks). */
void fr_q6_K_unit_to_3v(void *unit, int64_t nb) {
    const uint64_t m2 = 0x0303030303030303u, m4 = 0x0f0f0f0f0f0f0f0fu;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = (uint8_t *)unit + (size_t)b * FR_Q6_KX16_BLOCK;
        for (int Q = 0; Q < 2; Q++)
            for (int o = 0; o < 512; o += 8) { /* step k, half h, byte j: o = 64 k + 32 h + j */
                uint8_t *pa = blk + 1024 * Q + o, *pb = pa + 512, *pc = blk + FR_Q6_KX16_QH + 512 * Q + o;
                uint64_t a, bv, c;
                memcpy(&a, pa, 8);
                memcpy(&bv, pb, 8);
                memcpy(&c, pc, 8);
                const uint64_t s0 = (a & m4) | (c & m2) << 4, s1 = (a >> 4 & m4) | (c >> 2 & m2) << 4;
                const uint64_t s2 = (bv & m4) | (c >> 4 & m2) << 4, s3 = (bv >> 4 & m4) | (c >> 6 & m2) << 4;
                a = s0 | (s3 & m2) << 6;
                bv = s1 | (s3 >> 2 & m2) << 6;
                c = s2 | (s3 >> 4 & m2) << 6;
                memcpy(pa, &a, 8);
                memcpy(pb, &bv, 8);
                memcpy(pc, &c, 8);
            }
    }
}

/* Packed weights get their own huge-page mapping (hugemem.h): decode streams all weights once
 * per token. (Not measured apart: alternated runs on the dev VM gave about +6% tinyllama Q4_0
 * decode for this together with the decreasing decode slabs.) */
fr_packed *fr_pack_new(const fr_matrix *m) {
    if (!fr_pack_would_pack(m, NULL)) return NULL;
    fr_packed *pk = calloc(1, sizeof *pk);
    if (!pk) return NULL;
    int64_t n_units = (m->n_out + FR_GEMM_ROWS - 1) / FR_GEMM_ROWS;
    pk->type = m->type;
    pk->n_in = m->n_in;
    pk->n_out = m->n_out;
    pk->nb = m->n_in / fr_pack_block_values(m->type);
    pk->row_bytes = m->row_bytes;
    pk->unit_bytes = fr_pack_unit_bytes(m->type, m->n_in);
    pk->orig = m->data;
    pk->data_bytes = pk->unit_bytes * (size_t)n_units;
    pk->data = fr_huge_alloc(pk->data_bytes, &pk->mem);
    if (!pk->data) {
        free(pk);
        return NULL;
    }
#if FR_X86
    if (m->type == FR_TYPE_Q8_0 && fr_gemm_kernel(m->type) == fr_gemm_q8_0x16_avx2) pk->units = FR_UNITS_Q8_SM;
    if (m->type == FR_TYPE_Q6_K && fr_gemm_kernel(m->type) == fr_gemm_q6_Kx16_avx2) pk->units = FR_UNITS_Q6_3V;
#endif
    for (int64_t g = 0; g < n_units; g++) {
        char *u = pk->data + (size_t)g * pk->unit_bytes;
        fr_pack_unit(m->type, m->n_in, pk->orig + (size_t)g * FR_GEMM_ROWS * m->row_bytes, m->row_bytes,
                     (int)FR_MIN(FR_GEMM_ROWS, m->n_out - g * FR_GEMM_ROWS), u);
        /* a -128: every unit as packed */
        if (pk->units == FR_UNITS_Q8_SM && !q8_0_unit_sign_magnitude(u, pk->nb)) {
            pk->units = FR_UNITS_PACKED;
            for (int64_t h = 0; h < g; h++) q8_0_unit_sign_magnitude(pk->data + (size_t)h * pk->unit_bytes, pk->nb);
        }
        if (pk->units == FR_UNITS_Q6_3V) fr_q6_K_unit_to_3v(u, pk->nb);
    }
    drop_pages(pk->orig, m->row_bytes * (size_t)m->n_out);
    return pk;
}

bool fr_pack_would_copy(const fr_matrix *m, size_t *bytes) {
    if (!m->data || m->n_out <= 0 || m->row_bytes == 0 || !repack_enabled() || fr_pack_would_pack(m, NULL) ||
        !fr_huge_pages_available()) /* a copy on 4 KiB pages would only cost load time */
        return false;
    if (bytes) *bytes = m->row_bytes * (size_t)m->n_out; /* the tensor's bytes, within the file */
    return true;
}

/* (tinyllama F16 tg128, 2 threads, dev VM, alternated pairs: without / with the copy, the copy
 * won 4 of 5 twice, medians 18.19 -> 20.39 and 19.80 -> 21.51 t/s.) */
fr_packed *fr_pack_copy(const fr_matrix *m) {
    if (!fr_pack_would_copy(m, NULL)) return NULL;
    fr_packed *pk = calloc(1, sizeof *pk);
    if (!pk) return NULL;
    pk->type = m->type;
    pk->rows = true;
    pk->n_in = m->n_in;
    pk->n_out = m->n_out;
    pk->row_bytes = m->row_bytes;
    pk->orig = m->data;
    pk->data_bytes = m->row_bytes * (size_t)m->n_out;
    pk->data = fr_huge_alloc(pk->data_bytes, &pk->mem);
    if (!pk->data) {
        free(pk);
        return NULL;
    }
    memcpy(pk->data, pk->orig, pk->data_bytes);
    drop_pages(pk->orig, pk->data_bytes);
    return pk;
}

void fr_pack_free(fr_packed *pk) {
    if (!pk) return;
    fr_huge_free(&pk->mem);
    free(pk);
}

const fr_packed *fr_pack_find(const fr_matrix *m, int64_t *unit0) {
    const fr_packed *pk = m->packed;
    if (!pk || pk->rows || pk->type != m->type || pk->n_in != m->n_in || m->unit0 < 0 ||
        m->unit0 * FR_GEMM_ROWS + m->n_out > pk->n_out)
        return NULL;
    *unit0 = m->unit0;
    return pk;
}

/* ---- driver ---- */

size_t fr_gemm_scratch_size(int type, int64_t n_in, int64_t n_tok) {
    return fr_gemm_act_bytes(type, n_in) * (size_t)n_tok;
}

/* One matrix of a job: its units and outputs. A decode job may hold several matrices of the
 * same packed type and input (fr_gemm_packed_group): their units are numbered one after the
 * other, and the job's split runs over all of them. */
typedef struct {
    const char *units; /* the view's first unit */
    int64_t n_rows;    /* rows of the view */
    float *y;
    int64_t y_stride;
    const float *bias;
} gemm_part;

typedef struct {
    const fr_packed *pk; /* (the first matrix's: type, n_in, nb and unit_bytes are the group's) */
    gemm_part part[FR_MM_GROUP_MAX];
    int n_parts;
    int64_t start[FR_MM_GROUP_MAX + 1]; /* the parts' units, numbered one after the other (fr_mm_group_starts) */
    const float *x;
    int64_t x_stride;
    int64_t n_tok;
    char *act;
    size_t act_stride;
    int64_t n_units, panel, n_panels, tok_chunk;
    const int64_t *slabs; /* decode: unit bounds of each task (fr_decode_split), else NULL */
    fr_gemm_kernel_fn kern;
    fr_gemm_streams_fn streams; /* decode of one token, or NULL (fr_gemm_streams_kernel) */
    fr_gemm_pair_fn pair;       /* two units at once, or NULL (fr_gemm_pair_kernel_for) */
    fr_gemm_quad_fn quad;       /* decode's four streams, or NULL (fr_gemm_quad_kernel_for) */
    fr_gemm_amx_fn amx;         /* prompts, or NULL (fr_gemm_amx_kernel) */
    fr_pool *pool;              /* (its threads' scratch holds AMX's unpacked units) */
} gemm_job;

static void quant_task(void *ctx, int64_t t, int thread) {
    gemm_job *j = ctx;
    fr_gemm_quantize(j->pk->type, j->x + t * j->x_stride, j->act + (size_t)t * j->act_stride, j->pk->n_in);
}

static const char *unit_at(const gemm_job *j, const gemm_part *p, int64_t g) {
    return p->units + (size_t)g * j->pk->unit_bytes;
}

/* Unit g's 16 results for token t (o) into y, plus the bias; rows past n_rows are padding. */
static void store_unit(const gemm_part *p, int64_t g, int64_t t, const float *o) {
    const int64_t r0 = g * FR_GEMM_ROWS;
    const int nr = (int)FR_MIN(FR_GEMM_ROWS, p->n_rows - r0);
    float *yr = p->y + t * p->y_stride + r0;
    if (p->bias) {
        for (int r = 0; r < nr; r++) yr[r] = o[r] + p->bias[r0 + r];
    } else {
        memcpy(yr, o, (size_t)nr * sizeof(float));
    }
}

int64_t fr_gemm_streams_units(fr_gemm_streams_fn streams, int64_t nb, const char *units, size_t unit_bytes, int64_t g0,
                              int64_t n, const void *act, void (*store)(const void *ctx, int64_t g, const float *out),
                              const void *ctx) {
    const int64_t part = n / FR_GEMM_STREAMS;
    const int pf = fr_cpu_decode_streams_prefetch(); /* (once here, not in every kernel call) */
    for (int64_t i = 0; i < part; i++) {
        float out[FR_GEMM_STREAMS * FR_GEMM_ROWS];
        const void *us[FR_GEMM_STREAMS];
        for (int k = 0; k < FR_GEMM_STREAMS; k++) us[k] = units + (size_t)(g0 + k * part + i) * unit_bytes;
        streams(nb, us, act, out, pf);
        for (int k = 0; k < FR_GEMM_STREAMS; k++) store(ctx, g0 + k * part + i, out + k * FR_GEMM_ROWS);
    }
    return FR_GEMM_STREAMS * part;
}

static void store_token0(const void *ctx, int64_t g, const float *out) { store_unit(ctx, g, 0, out); }

int64_t fr_gemm_pair_units(fr_gemm_pair_fn pair, fr_gemm_quad_fn quad, int64_t nb, const char *units,
                           size_t unit_bytes, int64_t g0, int64_t n, const void *const *acts, int T, bool two_streams,
                           void (*store)(const void *ctx, int64_t g, int u, const float *out), const void *ctx) {
    assert(T >= 2 && T <= FR_GEMM_MAX_T);
    int64_t done = 0;
    if (quad && two_streams && n >= 2 * FR_GEMM_STREAMS) {
        const int64_t q = n / FR_GEMM_STREAMS;
        for (int64_t i = 0; i < q; i++) {
            const int64_t g = g0 + i;
            float out[FR_GEMM_STREAMS][FR_GEMM_MAX_T * FR_GEMM_ROWS];
            float *const outs[FR_GEMM_STREAMS] = {out[0], out[1], out[2], out[3]};
            quad(nb, units + (size_t)g * unit_bytes, (size_t)q * unit_bytes, acts, T, outs);
            for (int k = 0; k < FR_GEMM_STREAMS; k++)
                for (int u = 0; u < T; u++) store(ctx, g + k * q, u, out[k] + u * FR_GEMM_ROWS);
        }
        done = FR_GEMM_STREAMS * q;
        g0 += done;
        n -= done;
    }
    const int64_t half = n / 2;
    const int64_t step = two_streams ? 1 : 2, dist = two_streams ? half : 1; /* first unit, second - first */
    for (int64_t i = 0; i < half; i++) {
        const int64_t g = g0 + i * step;
        float out[2][FR_GEMM_MAX_T * FR_GEMM_ROWS];
        float *const outs[2] = {out[0], out[1]};
        pair(nb, units + (size_t)g * unit_bytes, (size_t)dist * unit_bytes, acts, T, outs);
        for (int u = 0; u < T; u++) {
            store(ctx, g, u, out[0] + u * FR_GEMM_ROWS);
            store(ctx, g + dist, u, out[1] + u * FR_GEMM_ROWS);
        }
    }
    return done + 2 * half;
}

/* (ctx: the part, and the first token of the call) */
typedef struct {
    const gemm_part *p;
    int64_t t;
} part_tokens;

static void store_part_token(const void *ctx, int64_t g, int u, const float *out) {
    const part_tokens *pt = ctx;
    store_unit(pt->p, g, pt->t + u, out);
}

int64_t fr_gemm_amx_units(fr_gemm_amx_fn amx, int type, int64_t nb, const char *units, size_t unit_bytes, int64_t g0,
                          int64_t g1, const char *act, size_t act_stride, int64_t t0, int64_t t1,
                          void (*store)(const void *ctx, int64_t g, int64_t t, const float *out), const void *ctx,
                          void *buf) {
#if FR_X86
    /* unpacked once per unit where the values fit the buffer; the K-quants need that */
    const size_t unpacked = fr_gemm_amx_unpacked_bytes(type, nb); /* (0: Q8_0, read as it is) */
    const bool unpack = unpacked > 0 && buf && unpacked <= FR_POOL_SCRATCH;
    if (t1 - t0 < FR_GEMM_AMX_T || g0 >= g1 || (fr_pack_block_values(type) > 32 && !unpack)) return t0;
    const int64_t t_end = t0 + (t1 - t0) / FR_GEMM_AMX_T * FR_GEMM_AMX_T;
    fr_gemm_amx_begin();
    if (unpack) {
        /* unit by unit, unpacked once for every group of rows (kbench Q4_0 2048 x 5632, 512
         * tokens, 2 threads: 460-486 GMAC/s against 275 with AVX-512 VNNI; unpacking each block
         * in the kernel instead of once gained little over AVX-512 VNNI) */
        int8_t *bt = buf;
        for (int64_t g = g0; g < g1; g++) {
            const char *unit = units + (size_t)g * unit_bytes;
            fr_gemm_amx_unpack(type, nb, unit, bt);
            for (int64_t t = t0; t < t_end; t += FR_GEMM_AMX_T) {
                float out[FR_GEMM_AMX_T * FR_GEMM_ROWS];
                amx(nb, unit, bt, act + (size_t)t * act_stride, act_stride, out);
                store(ctx, g, t, out);
            }
        }
    } else {
        for (int64_t t = t0; t < t_end; t += FR_GEMM_AMX_T)
            for (int64_t g = g0; g < g1; g++) {
                float out[FR_GEMM_AMX_T * FR_GEMM_ROWS];
                amx(nb, units + (size_t)g * unit_bytes, NULL, act + (size_t)t * act_stride, act_stride, out);
                store(ctx, g, t, out);
            }
    }
    fr_gemm_amx_end();
    return t_end;
#else /* (no AMX kernels are built: fr_gemm_amx_kernel gives none) */
    (void)amx, (void)type, (void)nb, (void)units, (void)unit_bytes, (void)g0, (void)g1, (void)act, (void)act_stride,
        (void)t1, (void)store, (void)ctx, (void)buf;
    return t0;
#endif
}

static void store_tokens16(const void *ctx, int64_t g, int64_t t, const float *out) {
    for (int u = 0; u < FR_GEMM_AMX_T; u++) store_unit(ctx, g, t + u, out + u * FR_GEMM_ROWS);
}

/* Units [g0, g1) of part p (its own numbering) for tokens [t0, t1). */
static void part_units(const gemm_job *j, const gemm_part *p, int64_t g0, int64_t g1, int64_t t0, int64_t t1,
                       int thread) {
    const int64_t nb = j->pk->nb;
    if (j->slabs && j->streams && j->n_tok == 1) {
        /* decode of one token: unit i of each part of the slab in one call, FR_GEMM_STREAMS
         * streams (the units left at the end go below). tinyllama Q8_0 with AVX2, 2 threads,
         * builds alternated, per-token medians of 100 steps: one stream 39.1-41.6 t/s, two
         * 41.9-46.1, four 47.3-49.4 (two 44.1-46.1 in the same series); one thread 19.6-19.9,
         * 21.0-24.3, 26.0-28.5. AVX-512 VNNI, one stream against four: 41.2-42.4 -> 45.2-48.0
         * (4 of 5), one thread 22.3-22.4 -> 25.1-25.6. Q4_0, one stream -> four, 4 rounds each:
         * AVX-512 VNNI 67.4-71.2 -> 79.5-81.8 t/s, AVX2 63.7-68.7 -> 72.1-82.3; 3 rounds each,
         * AVX-512 VNNI Q5_0 52.5-54.1 -> 55.2-60.5, IQ4_NL 61.7-62.5 -> 74.4-78.2, Q4_1
         * 66.4-66.8 -> 76.1-76.8; AVX2 Q5_0 46.6-59.5 -> 50.8-65.2, Q4_1 48.6-50.6 -> 56.6-58.2
         * K-quants: each stream prefetched, AVX-512 VNNI a vector of each unit in turn
         * (k4x16_units, k6x16_units), AVX2 a super-block of each (k4x16_units; not Q6_K and
         * Q3_K, which gained nothing); without the prefetch, four streams were not faster.
         * Eight streams (AVX-512 VNNI Q8_0): 49.8-51.1 against four's 50.4-53.3, not kept. */
        g0 += fr_gemm_streams_units(j->streams, nb, p->units, j->pk->unit_bytes, g0, g1 - g0, j->act, store_token0, p);
    }
    if (j->amx) /* prompts: 16 tokens at a time on the tile unit, the rest below */
        t0 = fr_gemm_amx_units(j->amx, j->pk->type, nb, p->units, j->pk->unit_bytes, g0, g1, j->act, j->act_stride, t0,
                               t1, store_tokens16, p, fr_pool_scratch(j->pool, thread));
    for (int64_t t = t0; t < t1; t += FR_GEMM_MAX_T) {
        const int T = (int)FR_MIN(FR_GEMM_MAX_T, t1 - t);
        const void *acts[FR_GEMM_MAX_T];
        for (int u = 0; u < T; u++) acts[u] = j->act + (size_t)(t + u) * j->act_stride;
        int64_t g = g0;
        if (j->pair && T >= 2) {
            /* batched decode (slabs) reads two streams: frugal bench --seqs 4, 2 threads,
             * AVX-512 VNNI, alternated with one unit at a time, 5 rounds: tinyllama Q4_0 294.7
             * -> 333.2 t/s, faster in 5 of 5; DeepSeek-V2-Lite Q4_0 64.5 -> 66.5, 3 of 5. Two
             * units alternated through the one-unit kernel instead: 274 -> 217 */
            const part_tokens pt = {p, t};
            g += fr_gemm_pair_units(j->pair, j->quad, nb, p->units, j->pk->unit_bytes, g0, g1 - g0, acts, T,
                                    j->slabs != NULL, store_part_token, &pt);
        }
        for (; g < g1; g++) {
            float out[FR_GEMM_MAX_T * FR_GEMM_ROWS];
            j->kern(nb, unit_at(j, p, g), acts, T, out);
            for (int u = 0; u < T; u++) store_unit(p, g, t + u, out + u * FR_GEMM_ROWS);
        }
    }
}

static void gemm_task(void *ctx, int64_t task, int thread) {
    const gemm_job *j = ctx;
    if (j->slabs) { /* decode: one slab of units (of one or more parts), every token */
        const int64_t g0 = j->slabs[task], g1 = j->slabs[task + 1];
        for (int i = 0; i < j->n_parts; i++) {
            const int64_t a = FR_MAX(g0, j->start[i]), b = FR_MIN(g1, j->start[i + 1]);
            if (a < b) part_units(j, &j->part[i], a - j->start[i], b - j->start[i], 0, j->n_tok, thread);
        }
        return;
    }
    /* prompt (one part): one panel of units x one chunk of tokens */
    const int64_t g0 = (task % j->n_panels) * j->panel, g1 = FR_MIN(g0 + j->panel, j->n_units);
    const int64_t t0 = (task / j->n_panels) * j->tok_chunk, t1 = FR_MIN(t0 + j->tok_chunk, j->n_tok);
    part_units(j, &j->part[0], g0, g1, t0, t1, thread);
}

/* The job's matrices from pk[i] (units from unit0[i]) as out[i]; pk[i] share type and n_in. */
static void job_init(gemm_job *j, fr_pool *pool, const fr_packed *const *pk, const int64_t *unit0, const fr_mm_out *out,
                     int n, const float *x, int64_t x_stride, int64_t n_tok, void *scratch) {
    memset(j, 0, sizeof *j);
    j->pool = pool;
    j->pk = pk[0];
    j->n_parts = n;
    fr_mm_group_starts(out, n, true, j->start);
    j->n_units = j->start[n];
    for (int i = 0; i < n; i++) {
        gemm_part *p = &j->part[i];
        p->units = pk[i]->data + (size_t)unit0[i] * pk[i]->unit_bytes;
        p->n_rows = out[i].w->n_out;
        p->y = out[i].y;
        p->y_stride = out[i].y_stride;
        p->bias = out[i].bias;
    }
    j->x = x;
    j->x_stride = x_stride;
    j->n_tok = n_tok;
    j->act = scratch;
    j->act_stride = fr_gemm_act_bytes(j->pk->type, j->pk->n_in);
    j->kern = fr_gemm_kernel_for(j->pk);
    j->streams = fr_gemm_streams_kernel_for(j->pk);
    j->pair = fr_gemm_pair_kernel_for(j->pk);
    j->quad = fr_gemm_quad_kernel_for(j->pk);
    j->amx = n_tok >= FR_GEMM_AMX_T ? fr_gemm_amx_kernel_for(j->pk) : NULL; /* (prompts only) */
}

static void run_decode(fr_pool *pool, gemm_job *j) {
    if (j->n_tok > 1)
        fr_pool_run(pool, j->n_tok, quant_task, j);
    else
        quant_task(j, 0, 0);
    /* decode: long contiguous slabs first (prefetch-friendly streaming), then smaller ones so
     * that the threads finish together */
    int64_t slabs[FR_DECODE_MAX_TASKS + 1];
    j->slabs = slabs;
    fr_pool_run(pool, fr_decode_split(j->n_units, true, fr_pool_size(pool), slabs), gemm_task, j);
    j->slabs = NULL;
}

void fr_gemm_packed_group(fr_pool *pool, const fr_packed *const *pk, const int64_t *unit0, const fr_mm_out *out, int n,
                          const float *x, int64_t x_stride, int64_t n_tok, void *scratch) {
    assert(n >= 1 && n <= FR_MM_GROUP_MAX && n_tok <= FR_GEMM_MAX_T);
    gemm_job j;
    job_init(&j, pool, pk, unit0, out, n, x, x_stride, n_tok, scratch);
    run_decode(pool, &j);
}

void fr_gemm_packed(fr_pool *pool, const fr_packed *pk, int64_t unit0, const fr_matrix *w, const float *x,
                    int64_t x_stride, int64_t n_tok, float *y, int64_t y_stride, const float *bias, void *scratch) {
    const fr_mm_out out = {w, y, y_stride, bias};
    gemm_job j;
    job_init(&j, pool, &pk, &unit0, &out, 1, x, x_stride, n_tok, scratch);
    if (n_tok <= FR_GEMM_MAX_T) {
        run_decode(pool, &j);
        return;
    }
    int nt = fr_pool_size(pool);
    fr_pool_run(pool, n_tok, quant_task, &j);
    /* prompt: a panel of units stays in L2 while every token passes over it */
    j.panel = FR_MAX(1, (int64_t)((96 << 10) / pk->unit_bytes));
    j.panel = FR_MIN(j.panel, FR_MAX(1, j.n_units / (nt * 2)));
    j.tok_chunk = n_tok;
    int64_t n_panels = (j.n_units + j.panel - 1) / j.panel;
    if (n_panels < nt * 4) { /* few panels: split the tokens too */
        int64_t parts = (nt * 4 + n_panels - 1) / n_panels;
        const int64_t step = j.amx ? FR_GEMM_AMX_T : FR_GEMM_MAX_T; /* whole kernel calls */
        j.tok_chunk = ((n_tok + parts - 1) / parts + step - 1) / step * step;
    }
    j.n_panels = (j.n_units + j.panel - 1) / j.panel;
    int64_t n_tchunks = (n_tok + j.tok_chunk - 1) / j.tok_chunk;
    fr_pool_run(pool, j.n_panels * n_tchunks, gemm_task, &j);
}

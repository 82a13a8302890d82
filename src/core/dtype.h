/* dtype.h: the one table of tensor types.
 *
 * Block layouts are ggml's (the GGUF on-disk format). For each type the table gives the
 * block size (values per block), the bytes per block, conversion to/from float, the type
 * activations are converted to before a dot product (`vec_dot_type`) and the dot product.
 *
 * Every kernel has a plain scalar reference (`*_ref`) and, where it pays, an AVX2 version
 * (`*_avx2`, compiled with -mavx2 -mfma -mf16c in its own translation unit). Dispatch is
 * decided once: fr_type_traits_get() returns the best implementation the CPU supports,
 * fr_type_traits_isa() returns a chosen one (tests compare the two).
 *
 * Batch invariance: vec_dot computes one output element with a fixed accumulation order
 * that depends only on n, never on what else is computed, so a token's result does not
 * depend on the batch or the thread count. */
#ifndef FRUGAL_CORE_DTYPE_H
#define FRUGAL_CORE_DTYPE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml_type values as stored in GGUF. On disk: append-only, never renumber. */
typedef enum fr_type {
    FR_TYPE_F32 = 0,
    FR_TYPE_F16 = 1,
    FR_TYPE_Q4_0 = 2,
    FR_TYPE_Q4_1 = 3,
    /* 4, 5: removed Q4_2/Q4_3 */
    FR_TYPE_Q5_0 = 6,
    FR_TYPE_Q5_1 = 7,
    FR_TYPE_Q8_0 = 8,
    FR_TYPE_Q8_1 = 9,
    FR_TYPE_Q2_K = 10,
    FR_TYPE_Q3_K = 11,
    FR_TYPE_Q4_K = 12,
    FR_TYPE_Q5_K = 13,
    FR_TYPE_Q6_K = 14,
    FR_TYPE_Q8_K = 15,
    FR_TYPE_IQ4_NL = 20,
    FR_TYPE_BF16 = 30,
    FR_TYPE_COUNT = 40 /* upper bound of the enum space we index */
} fr_type;

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK4_NL 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t fr_f16;  /* IEEE half, raw bits */
typedef uint16_t fr_bf16; /* bfloat16, raw bits */

/* ---- block structs (ggml layouts) ---- */
typedef struct { fr_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
static_assert(sizeof(block_q4_0) == 2 + QK4_0 / 2, "block_q4_0 size");
typedef struct { fr_f16 d; fr_f16 m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
static_assert(sizeof(block_q4_1) == 4 + QK4_1 / 2, "block_q4_1 size");
typedef struct { fr_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
static_assert(sizeof(block_q5_0) == 2 + 4 + QK5_0 / 2, "block_q5_0 size");
typedef struct { fr_f16 d; fr_f16 m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
static_assert(sizeof(block_q5_1) == 4 + 4 + QK5_1 / 2, "block_q5_1 size");
typedef struct { fr_f16 d; int8_t qs[QK8_0]; } block_q8_0;
static_assert(sizeof(block_q8_0) == 2 + QK8_0, "block_q8_0 size");
/* d = scale, s = d * sum(qs) */
typedef struct { fr_f16 d; fr_f16 s; int8_t qs[QK8_1]; } block_q8_1;
static_assert(sizeof(block_q8_1) == 4 + QK8_1, "block_q8_1 size");
typedef struct { fr_f16 d; uint8_t qs[QK4_NL / 2]; } block_iq4_nl;
static_assert(sizeof(block_iq4_nl) == 2 + QK4_NL / 2, "block_iq4_nl size");

typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; fr_f16 d; fr_f16 dmin; } block_q2_K;
static_assert(sizeof(block_q2_K) == 2 * 2 + QK_K / 16 + QK_K / 4, "block_q2_K size");
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; fr_f16 d; } block_q3_K;
static_assert(sizeof(block_q3_K) == 2 + QK_K / 4 + QK_K / 8 + 12, "block_q3_K size");
typedef struct { fr_f16 d; fr_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
static_assert(sizeof(block_q4_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2, "block_q4_K size");
typedef struct { fr_f16 d; fr_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
static_assert(sizeof(block_q5_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2 + QK_K / 8, "block_q5_K size");
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; fr_f16 d; } block_q6_K;
static_assert(sizeof(block_q6_K) == 2 + QK_K / 16 + 3 * QK_K / 4, "block_q6_K size");
/* Q6_K value p (0..255) of a block as unsigned 6 bits (the value is this minus 32): ggml's
 * arrangement, low 4 bits in ql, top 2 bits in qh. */
static inline int fr_q6_K_at(const block_q6_K *x, int p) {
    const int h = p / 128, l = p % 32, g = (p % 128) / 32;
    const int lo = (x->ql[64 * h + 32 * (g & 1) + l] >> (4 * (g >> 1))) & 0xF;
    return lo | ((x->qh[32 * h + l] >> (2 * g)) & 3) << 4;
}
/* Q4_K / Q5_K's 12 scale bytes (ggml's get_scale_min_k4): the scale and min (6 bits each) of
 * sub-block j (0..7). */
static inline void fr_q4_K_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
/* Q3_K's 12 scale bytes as its 16 int8 scales (ggml's layout: 4 low bits from bytes 0-7, 2
 * high bits from bytes 8-11, minus 32). */
static inline void fr_q3_K_scales(const uint8_t *s, int8_t out[16]) {
    for (int j = 0; j < 16; j++) {
        const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
        const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}
/* Activation type for K-quant dot products. bsums[j] = sum of qs[16j..16j+15]. */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;
static_assert(sizeof(block_q8_K) == 4 + QK_K + QK_K / 16 * 2, "block_q8_K size");

/* ---- kernel signatures ----
 * n is the number of values; it is always a multiple of the type's block size (the
 * loader rejects rows that are not). */
typedef void (*fr_to_float_fn)(const void *restrict src, float *restrict dst, int64_t n);
typedef void (*fr_from_float_fn)(const float *restrict src, void *restrict dst, int64_t n);
/* *s = dot(x, y): x has the table's type, y has its vec_dot_type. */
typedef void (*fr_vec_dot_fn)(int64_t n, float *restrict s, const void *restrict x, const void *restrict y);

/* out[r * nt + t] = dot(x[r], y[t]) for nr <= 4 weight rows and nt <= 2 activation rows;
 * each element bit-identical to vec_dot (see quants.h). */
typedef void (*fr_dot_tile_fn)(int64_t n, const void *const *x, int nr, const void *const *y, int nt, float *out);

/* Instruction sets. FR_ISA_AVXVNNI (the VEX vpdpbusd) and FR_ISA_AVX512 / AVX512VNNI
 * (with OS support for the 512-bit state) are reported only together with AVX2; a CPU may
 * have either family without the other. FRUGAL_ISA=scalar|avx2|avxvnni|avx512 in the environment caps what
 * is used (avx512: everything but AMX). */
#if defined(__x86_64__) || defined(__i386__)
#define FR_X86 1 /* the x86 SIMD sources (*_avx2.c, *_vnni.c, *_avx512*.c) are built in */
#else
#define FR_X86 0
#endif
#if defined(__aarch64__)
#define FR_ARM64 1 /* the AArch64 sources (*_neon.c) are built in */
#else
#define FR_ARM64 0
#endif
typedef enum {
    FR_ISA_SCALAR = 0,
    FR_ISA_AVX2 = 1,
    FR_ISA_AVXVNNI = 2,
    FR_ISA_AVX512 = 3,     /* AVX-512F */
    FR_ISA_AVX512VNNI = 4, /* AVX-512F + BW + VNNI */
    FR_ISA_NEON_DOT = 5,   /* AArch64 Advanced SIMD with the dot-product instructions (sdot) */
    FR_ISA_AMX = 6,        /* AMX-TILE + AMX-INT8 (with AVX-512 VNNI) and the OS's leave to use them */
    FR_ISA_AVX512BF16 = 7, /* AVX-512F + BW + AVX512_BF16 (vdpbf16ps) */
} fr_isa;

typedef struct fr_type_traits {
    const char *name;       /* "Q4_K" */
    int64_t block_size;     /* values per block */
    size_t type_size;       /* bytes per block */
    bool is_quantized;
    fr_to_float_fn to_float;     /* NULL if not supported */
    fr_from_float_fn from_float; /* NULL if we cannot quantize to it */
    fr_type vec_dot_type;        /* activations are converted to this type */
    fr_vec_dot_fn vec_dot;       /* NULL for activation-only types (Q8_1, Q8_K) */
    fr_dot_tile_fn dot_tile;     /* multi-row/multi-token dot, or NULL */
} fr_type_traits;

/* Best implementation for this CPU; NULL if `type` is not a type we support. */
const fr_type_traits *fr_type_traits_get(int type);
/* A specific implementation (for tests); NULL if unsupported or the ISA is not built in. */
const fr_type_traits *fr_type_traits_isa(int type, fr_isa isa);
/* True if the running CPU supports `isa`. */
bool fr_cpu_has(fr_isa isa);
/* Where the AVX2 kernels' software prefetches put the weights a decode step (one or two
 * tokens) will read: into L2 only (PREFETCHT1: true) or into L1 (PREFETCHT0: false).
 * The choice changes no result, only speed. Decided once per process by
 * fr_decode_prefetch_l2_for(cpuid vendor, getenv("FRUGAL_DECODE_PREFETCH")). */
bool fr_cpu_decode_prefetch_l2(void);
/* The rule behind it: the setting "l2" or "l1" wins; any other setting (or none) leaves the
 * vendor's default, L2 on "GenuineIntel" and L1 elsewhere. `vendor` and `setting` may be NULL. */
bool fr_decode_prefetch_l2_for(const char *vendor, const char *setting);
/* Whether a decode step reads the K-quants' (Q2_K-Q6_K) units as FR_GEMM_STREAMS streams at
 * once (the streams kernels, gemm.h) or one unit after another. The same bits either way.
 * Decided once per process by fr_decode_kquant_streams_for(cpuid vendor,
 * getenv("FRUGAL_KQUANT_STREAMS")). */
bool fr_cpu_decode_kquant_streams(void);
/* Its rule: the setting "1" or "0" wins; else streams on "GenuineIntel" only. */
bool fr_decode_kquant_streams_for(const char *vendor, const char *setting);
/* How a decode step reads F16, BF16 and F32 weight rows: the bytes ahead of each row that the
 * AVX2 kernel prefetches (0: none), and the number of rows read side by side as streams (1 to
 * FR_DECODE_F16_STREAMS_MAX). The same bits either way, only speed. Decided once per process by
 * the rules below (cpuid vendor and family, getenv("FRUGAL_F16_PREFETCH"),
 * getenv("FRUGAL_F16_STREAMS")). */
size_t fr_cpu_decode_f16_prefetch(void);
int fr_cpu_decode_f16_streams(void);
#define FR_DECODE_F16_PREFETCH_MAX 65536
#define FR_DECODE_F16_STREAMS_MAX 3
/* The distance: a setting of decimal digits naming a multiple of 64 up to
 * FR_DECODE_F16_PREFETCH_MAX wins; else 8192 on "GenuineIntel", 0 (no prefetch) on
 * "AuthenticAMD" of display family 0x19 (cpuid leaf 1: Zen 3 and Zen 4), and 2048 elsewhere. */
size_t fr_decode_f16_prefetch_for(const char *vendor, int family, const char *setting);
/* Whether the decode streams kernels (gemm.h, fr_gemm_streams_fn) prefetch each of their
 * streams FR_PF_DIST_STREAMS bytes ahead (gemm_simd.h); if not, those of Q4_0, Q5_0, Q4_1,
 * Q5_1, IQ4_NL and Q8_0 leave it to the hardware prefetchers and the AVX-512 VNNI K-quants'
 * prefetch FR_PF_DIST ahead. Q5_K's (always FR_PF_DIST) and the AVX2 K-quants' (their own
 * pf_weights) do not follow it. It also decides whether batched decode's 2-4-token products of
 * the AVX-512 VNNI Q4_0 family read four such streams (fr_gemm_quad_kernel_for) rather than
 * the pair kernels' two. The same bits either way, only speed. Decided once per process by
 * fr_decode_streams_prefetch_for(cpuid vendor, getenv("FRUGAL_STREAMS_PREFETCH")). */
bool fr_cpu_decode_streams_prefetch(void);
/* Its rule: the setting "1" or "0" wins; else on for "GenuineIntel" only. */
bool fr_decode_streams_prefetch_for(const char *vendor, const char *setting);
/* The streams: a setting of one digit, 1 to FR_DECODE_F16_STREAMS_MAX, wins; else 2 on
 * "GenuineIntel" and 3 elsewhere. */
int fr_decode_f16_streams_for(const char *vendor, const char *setting);
/* Name or "?"; never NULL. */
const char *fr_type_name(int type);
/* Parse "Q4_K" (case-insensitive) to a type; -1 if unknown. */
int fr_type_from_name(const char *name);
/* Bytes of a row of n values: false if n is not a multiple of the block size or overflows. */
bool fr_row_size(int type, int64_t n, size_t *out);

/* ---- scalar half/bfloat16 conversion (portable; bit-exact with IEEE round-to-nearest-even) ---- */
float fr_f16_to_f32(fr_f16 h);
fr_f16 fr_f32_to_f16(float f);
static inline float fr_bf16_to_f32(fr_bf16 h) {
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)h << 16;
    return v.f;
}
static inline fr_bf16 fr_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v;
    v.f = f;
    if ((v.u & 0x7fffffff) > 0x7f800000) return (fr_bf16)((v.u >> 16) | 64); /* quiet NaN */
    return (fr_bf16)((v.u + (0x7fff + ((v.u >> 16) & 1))) >> 16);
}

#endif

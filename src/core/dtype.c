/* dtype.c: the tensor-type table and runtime ISA dispatch. */
#include "dtype.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base.h"
#include "quants.h"

#define ROW(T, NAME, BS, SZ, Q, VDT, FROM)                                                 \
    [FR_TYPE_##NAME] = {#NAME, BS, SZ, Q, fr_to_float_##T##_ref, FROM, VDT, fr_vec_dot_##T##_ref, NULL}
#define ROW_AVX2(T, NAME, BS, SZ, Q, VDT, FROM)                                            \
    [FR_TYPE_##NAME] = {#NAME, BS, SZ, Q, fr_to_float_##T##_avx2, FROM, VDT, fr_vec_dot_##T##_avx2, NULL}
#define ROW_AVX2_TILE(T, NAME, BS, SZ, Q, VDT, FROM)                                       \
    [FR_TYPE_##NAME] = {#NAME, BS, SZ, Q, fr_to_float_##T##_avx2, FROM, VDT, fr_vec_dot_##T##_avx2, \
                        fr_dot_tile_##T##_avx2}

static const fr_type_traits k_ref[FR_TYPE_COUNT] = {
    ROW(f32, F32, 1, 4, false, FR_TYPE_F32, fr_from_float_f32_ref),
    ROW(f16, F16, 1, 2, false, FR_TYPE_F16, fr_from_float_f16_ref),
    ROW(bf16, BF16, 1, 2, false, FR_TYPE_BF16, fr_from_float_bf16_ref),
    ROW(q4_0, Q4_0, QK4_0, sizeof(block_q4_0), true, FR_TYPE_Q8_0, fr_from_float_q4_0_ref),
    ROW(q4_1, Q4_1, QK4_1, sizeof(block_q4_1), true, FR_TYPE_Q8_1, fr_from_float_q4_1_ref),
    ROW(q5_0, Q5_0, QK5_0, sizeof(block_q5_0), true, FR_TYPE_Q8_0, fr_from_float_q5_0_ref),
    ROW(q5_1, Q5_1, QK5_1, sizeof(block_q5_1), true, FR_TYPE_Q8_1, fr_from_float_q5_1_ref),
    ROW(q8_0, Q8_0, QK8_0, sizeof(block_q8_0), true, FR_TYPE_Q8_0, fr_from_float_q8_0_ref),
    ROW(iq4_nl, IQ4_NL, QK4_NL, sizeof(block_iq4_nl), true, FR_TYPE_Q8_0, fr_from_float_iq4_nl_ref),
    ROW(q2_K, Q2_K, QK_K, sizeof(block_q2_K), true, FR_TYPE_Q8_K, fr_from_float_q2_K_ref),
    ROW(q3_K, Q3_K, QK_K, sizeof(block_q3_K), true, FR_TYPE_Q8_K, fr_from_float_q3_K_ref),
    ROW(q4_K, Q4_K, QK_K, sizeof(block_q4_K), true, FR_TYPE_Q8_K, fr_from_float_q4_K_ref),
    ROW(q5_K, Q5_K, QK_K, sizeof(block_q5_K), true, FR_TYPE_Q8_K, fr_from_float_q5_K_ref),
    ROW(q6_K, Q6_K, QK_K, sizeof(block_q6_K), true, FR_TYPE_Q8_K, fr_from_float_q6_K_ref),
    [FR_TYPE_Q8_1] = {"Q8_1", QK8_1, sizeof(block_q8_1), true, fr_to_float_q8_1_ref,
                      fr_from_float_q8_1_ref, FR_TYPE_Q8_1, NULL, NULL},
    [FR_TYPE_Q8_K] = {"Q8_K", QK_K, sizeof(block_q8_K), true, fr_to_float_q8_K_ref,
                      fr_from_float_q8_K_ref, FR_TYPE_Q8_K, NULL, NULL},
};

#if FR_X86
static const fr_type_traits k_avx2[FR_TYPE_COUNT] = {
    ROW_AVX2(f32, F32, 1, 4, false, FR_TYPE_F32, fr_from_float_f32_avx2),
    ROW_AVX2(f16, F16, 1, 2, false, FR_TYPE_F16, fr_from_float_f16_avx2),
    ROW_AVX2(bf16, BF16, 1, 2, false, FR_TYPE_BF16, fr_from_float_bf16_avx2),
    ROW_AVX2_TILE(q4_0, Q4_0, QK4_0, sizeof(block_q4_0), true, FR_TYPE_Q8_0, fr_from_float_q4_0_avx2),
    ROW_AVX2(q4_1, Q4_1, QK4_1, sizeof(block_q4_1), true, FR_TYPE_Q8_1, fr_from_float_q4_1_avx2),
    ROW_AVX2_TILE(q5_0, Q5_0, QK5_0, sizeof(block_q5_0), true, FR_TYPE_Q8_0, fr_from_float_q5_0_avx2),
    ROW_AVX2(q5_1, Q5_1, QK5_1, sizeof(block_q5_1), true, FR_TYPE_Q8_1, fr_from_float_q5_1_avx2),
    ROW_AVX2_TILE(q8_0, Q8_0, QK8_0, sizeof(block_q8_0), true, FR_TYPE_Q8_0, fr_from_float_q8_0_avx2),
    ROW_AVX2_TILE(iq4_nl, IQ4_NL, QK4_NL, sizeof(block_iq4_nl), true, FR_TYPE_Q8_0, fr_from_float_iq4_nl_avx2),
    ROW_AVX2(q2_K, Q2_K, QK_K, sizeof(block_q2_K), true, FR_TYPE_Q8_K, fr_from_float_q2_K_ref),
    ROW_AVX2(q3_K, Q3_K, QK_K, sizeof(block_q3_K), true, FR_TYPE_Q8_K, fr_from_float_q3_K_ref),
    ROW_AVX2(q4_K, Q4_K, QK_K, sizeof(block_q4_K), true, FR_TYPE_Q8_K, fr_from_float_q4_K_ref),
    ROW_AVX2(q5_K, Q5_K, QK_K, sizeof(block_q5_K), true, FR_TYPE_Q8_K, fr_from_float_q5_K_ref),
    ROW_AVX2(q6_K, Q6_K, QK_K, sizeof(block_q6_K), true, FR_TYPE_Q8_K, fr_from_float_q6_K_ref),
    [FR_TYPE_Q8_1] = {"Q8_1", QK8_1, sizeof(block_q8_1), true, fr_to_float_q8_1_ref,
                      fr_from_float_q8_1_avx2, FR_TYPE_Q8_1, NULL, NULL},
    [FR_TYPE_Q8_K] = {"Q8_K", QK_K, sizeof(block_q8_K), true, fr_to_float_q8_K_ref,
                      fr_from_float_q8_K_avx2, FR_TYPE_Q8_K, NULL, NULL},
};
#endif

#if FR_ARM64
/* AArch64 with sdot: the reference's table with the NEON kernels of quants_neon.c where
 * there is one (each gives the reference's bits). */
#define ROW_NEON(T, NAME, BS, SZ, Q, VDT, TO, FROM, DOT) [FR_TYPE_##NAME] = {#NAME, BS, SZ, Q, TO, FROM, VDT, DOT, NULL}
static const fr_type_traits k_neon[FR_TYPE_COUNT] = {
    ROW_NEON(f32, F32, 1, 4, false, FR_TYPE_F32, fr_to_float_f32_ref, fr_from_float_f32_ref, fr_vec_dot_f32_neon),
    ROW_NEON(f16, F16, 1, 2, false, FR_TYPE_F16, fr_to_float_f16_neon, fr_from_float_f16_ref, fr_vec_dot_f16_neon),
    ROW(bf16, BF16, 1, 2, false, FR_TYPE_BF16, fr_from_float_bf16_ref),
    ROW_NEON(q4_0, Q4_0, QK4_0, sizeof(block_q4_0), true, FR_TYPE_Q8_0, fr_to_float_q4_0_ref,
             fr_from_float_q4_0_ref, fr_vec_dot_q4_0_neon),
    ROW(q4_1, Q4_1, QK4_1, sizeof(block_q4_1), true, FR_TYPE_Q8_1, fr_from_float_q4_1_ref),
    ROW(q5_0, Q5_0, QK5_0, sizeof(block_q5_0), true, FR_TYPE_Q8_0, fr_from_float_q5_0_ref),
    ROW(q5_1, Q5_1, QK5_1, sizeof(block_q5_1), true, FR_TYPE_Q8_1, fr_from_float_q5_1_ref),
    ROW_NEON(q8_0, Q8_0, QK8_0, sizeof(block_q8_0), true, FR_TYPE_Q8_0, fr_to_float_q8_0_ref,
             fr_from_float_q8_0_neon, fr_vec_dot_q8_0_neon),
    ROW(iq4_nl, IQ4_NL, QK4_NL, sizeof(block_iq4_nl), true, FR_TYPE_Q8_0, fr_from_float_iq4_nl_ref),
    ROW(q2_K, Q2_K, QK_K, sizeof(block_q2_K), true, FR_TYPE_Q8_K, fr_from_float_q2_K_ref),
    ROW(q3_K, Q3_K, QK_K, sizeof(block_q3_K), true, FR_TYPE_Q8_K, fr_from_float_q3_K_ref),
    ROW(q4_K, Q4_K, QK_K, sizeof(block_q4_K), true, FR_TYPE_Q8_K, fr_from_float_q4_K_ref),
    ROW(q5_K, Q5_K, QK_K, sizeof(block_q5_K), true, FR_TYPE_Q8_K, fr_from_float_q5_K_ref),
    ROW_NEON(q6_K, Q6_K, QK_K, sizeof(block_q6_K), true, FR_TYPE_Q8_K, fr_to_float_q6_K_ref,
             fr_from_float_q6_K_ref, fr_vec_dot_q6_K_neon),
    [FR_TYPE_Q8_1] = {"Q8_1", QK8_1, sizeof(block_q8_1), true, fr_to_float_q8_1_ref,
                      fr_from_float_q8_1_ref, FR_TYPE_Q8_1, NULL, NULL},
    [FR_TYPE_Q8_K] = {"Q8_K", QK_K, sizeof(block_q8_K), true, fr_to_float_q8_K_ref,
                      fr_from_float_q8_K_ref, FR_TYPE_Q8_K, NULL, NULL},
};

#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#endif

#if FR_X86
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
/* AVX2 + FMA + F16C, and the OS saves the YMM registers (OSXSAVE, XCR0 bits 1-2). */
static bool cpu_has_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!(fma && osxsave && avx && f16c)) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6u) != 6u) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return b & (1u << 5);
}
/* AVX-512F: CPUID.(EAX=7, ECX=0):EBX bit 16, and the OS saves the opmask and ZMM state
 * (XCR0 bits 5-7). */
static bool cpu_has_avx512f(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 16))) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6u) == 0xE6u;
}
/* AVX-512BW (EBX bit 30) and AVX512-VNNI (ECX bit 11) of the same leaf. */
static bool cpu_has_avx512bw_vnni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & (1u << 30)) && (c & (1u << 11));
}
/* AVX512_BF16: CPUID.(EAX=7, ECX=1):EAX bit 5 (Intel since Cooper Lake, AMD since Zen 4). */
static bool cpu_has_avx512bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1 || !(b & (1u << 30))) return false; /* (and BW) */
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return a & (1u << 5);
}
/* AMX-TILE and AMX-INT8 (CPUID.(EAX=7, ECX=0):EDX bits 24 and 25), the OS saving the tile
 * state (XCR0 bits 17-18), and Linux's leave for this process to use it: the tile data is
 * an 8 KiB state that a process must ask for (arch_prctl ARCH_REQ_XCOMP_PERM) before its
 * first tile instruction, or that instruction faults. Asking once grants every thread. */
static bool cpu_has_amx_int8(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (d & (3u << 24)) != (3u << 24)) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return false;
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}
/* AVX-VNNI: CPUID.(EAX=7, ECX=1):EAX bit 4. */
static bool cpu_has_avxvnni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return false;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return a & (1u << 4);
}

/* The 12-character vendor string of cpuid leaf 0 into v[13] ("" if cpuid has none). */
static void cpu_vendor(char v[13]) {
    unsigned a, b, c, d;
    memset(v, 0, 13);
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    memcpy(v, &b, 4);
    memcpy(v + 4, &d, 4);
    memcpy(v + 8, &c, 4);
}

/* cpuid leaf 1's display family: the base family, plus the extended family when the base is
 * 0xF (AMD's Zen 3 and Zen 4 are 0x19, Zen 5 0x1A); 0 if cpuid has no leaf 1. */
static int cpu_family(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int base = (int)((a >> 8) & 0xf);
    return base == 0xf ? base + (int)((a >> 20) & 0xff) : base;
}
#endif

/* Whether cpuid's vendor string names Intel: the decode choices below keep what the Intel VM
 * measured there, and take what the AMD VM measured elsewhere. */
static bool is_intel(const char *vendor) { return vendor && strcmp(vendor, "GenuineIntel") == 0; }

/* The boolean decode choices' shared rule: `setting` equal to `on` or `off` decides; anything
 * else leaves the choice the Intel VM measured as faster, on Intel CPUs only. */
static bool setting_or_intel(const char *vendor, const char *setting, const char *on, const char *off) {
    if (setting && strcmp(setting, on) == 0) return true;
    if (setting && strcmp(setting, off) == 0) return false;
    return is_intel(vendor);
}

/* PREFETCHT1 against PREFETCHT0 ahead of decode's K-quant, Q5_0/Q5_1 and IQ4_NL streams (the
 * AVX2 kernels, gemm_avx2.c). On the Intel Xeon of the 21st-30th sessions T1 read faster
 * (pf_weights in gemm_avx2.c has the figures: Q3_K +10%, Q4_K and Q6_K +4 to +7%). On the AMD
 * EPYC (Zen 5) of the 31st-32nd sessions T0 did, with FRUGAL_ISA=avx2, tokens alternated
 * between the two in one process (bench/results/2026-12-01-session32.md): tinyllama Q6_K
 * tg128 +13 to +21%, Q3_K_M +9 to +11%, Q4_K_M +2 to +5%. AMD documents cores before Zen 4 as
 * treating T1 as T0, so L1 is no loss there either. */
bool fr_decode_prefetch_l2_for(const char *vendor, const char *setting) {
    return setting_or_intel(vendor, setting, "l2", "l1");
}

/* The K-quants' decode streams kernels, four units side by side each with its own software
 * prefetch, against one unit at a time (its one prefetched stream). On the Intel Xeon the
 * streams read faster (gemm_avx512vnni.c, fr_gemm_q6_Kx16_streams_avx512vnni: Q3_K_M +12%,
 * Q4_K_M +4% tg). On the AMD EPYC (Zen 5) one unit at a time did, by far: kbench 2048 x 65536,
 * one token, 2 threads, AVX-512 VNNI, GMAC/s, streams -> one unit: Q4_K 123-126 -> 162-173,
 * Q5_K 67-68 -> 109-116, Q6_K 58-62 -> 87-97, Q3_K 68-70 -> 128-131, Q2_K 121-132 -> 222-241;
 * AVX2 (L1 prefetches) Q4_K 121-129 -> 167-168, Q5_K 63-64 -> 81-82. tinyllama tg, whole
 * processes alternated, t/s: Q3_K_M 52.6-53.5 -> 90.2-92.9, Q6_K 33.4-40.6 -> 39.1-56.0,
 * Q4_K_M 56.2-58.1 -> 60.4-62.0 (bench/results/2026-12-01-session32.md). The other types'
 * streams kernels were as fast or faster than one unit there, and stay. */
bool fr_decode_kquant_streams_for(const char *vendor, const char *setting) {
    return setting_or_intel(vendor, setting, "1", "0");
}

/* How a decode step reads its F16, BF16 and F32 weight rows (gemm_f16.c, f16_decode_slab; the AVX2
 * kernel gemm_avx2.c, f16_RxT): as this many streams (rows of as many parts of a task's slab in
 * one kernel call), each prefetched this many bytes ahead. On the Intel Xeon of the 21st-30th
 * sessions 2 streams read faster than 1 and 3 measured as 2 (gemm_f16.c), and 8 KiB ahead faster
 * than 2 KiB (kbench F16 4096 x 32768, one thread: 14.4-16.2 -> 16.1-18.0 GMAC/s; tinyllama
 * F16 tg32, one thread, 13.8 -> 16.2 t/s). On the AMD EPYC (Zen 5) of the 31st-33rd sessions
 * 3 streams 2 KiB ahead did: tinyllama tg, tokens alternated in one process against 2 streams
 * 8 KiB ahead (bench/results/2026-12-01-session33.md), F16 +10 to +11% (3 of 3 runs), the
 * same with FRUGAL_ISA=avx2 (2 of 2), one thread +12%, BF16 +15%. On the way there: 2
 * streams 3 KiB ahead against 8 KiB, F16 +3 to +6% (5 of 5); 3 streams against 2, both 3 KiB
 * ahead, +3.5 to +5% (3 of 3); with 3 streams 1, 1.5, 2.5 and 3 KiB were slower than 2, and
 * 4 KiB slower than 3. F32 rows (two lines per step) were not measured. On the AMD EPYC
 * (Zen 3, family 0x19) of the 48th-52nd sessions no software prefetch at all read fastest,
 * its hardware prefetchers keeping up with three streams alone: tinyllama F16 tg128, whole
 * processes alternated, 2048 -> 0 bytes t/s: 2 threads 16.9-20.9 -> 17.6-24.1 (6 of 6 rounds;
 * medians 19.7 -> 23.4), one thread 10.9-11.6 -> 12.3-13.4 (4 of 4; medians 11.1 -> 12.7); 1
 * KiB read as 0. Zen 4 shares the family and was not measured; nor were BF16 and F32 here. */
size_t fr_decode_f16_prefetch_for(const char *vendor, int family, const char *setting) {
    if (setting && *setting) {
        char *end;
        errno = 0;
        const unsigned long v = strtoul(setting, &end, 10);
        if (!errno && *end == '\0' && setting[0] >= '0' && setting[0] <= '9' && v <= FR_DECODE_F16_PREFETCH_MAX &&
            v % 64 == 0)
            return (size_t)v;
    }
    if (is_intel(vendor)) return 8192;
    return vendor && strcmp(vendor, "AuthenticAMD") == 0 && family == 0x19 ? 0 : 2048;
}

int fr_decode_f16_streams_for(const char *vendor, const char *setting) {
    if (setting && setting[0] >= '1' && setting[0] <= '0' + FR_DECODE_F16_STREAMS_MAX && setting[1] == '\0')
        return setting[0] - '0';
    return is_intel(vendor) ? 2 : 3;
}

/* The decode streams kernels' software prefetch, FR_PF_DIST_STREAMS (1 KiB) ahead in each
 * stream (gemm_simd.h), against what each had before: none in those of Q4_0, Q5_0, Q4_1,
 * Q5_1, IQ4_NL and Q8_0 (the hardware prefetchers alone), FR_PF_DIST (12 KiB) in the
 * K-quants'. On the Intel Xeon (Emerald Rapids) of the 59th session, kbench TYPE 2048 x N (from
 * DRAM), one token, 2 threads, GMAC/s, rounds alternated: AVX-512 VNNI Q4_0 (N = 524288)
 * 49.8-51.8 -> 58.6-58.9, Q8_0 31.0-31.7 -> 31.4-32.0 (the plain read's rate already); AVX2
 * Q4_0 47.0-49.3 -> 53.5-57.3, Q8_0 27.4-28.2 -> 29.0-31.1; 512 bytes and 2 KiB ahead within a
 * few % of 1 KiB, 256 bytes and 12 KiB slower. bench/results/2026-12-05-session59.md has the
 * K-quants and the models. Not measured on AMD, where the hardware prefetchers alone read F16
 * fastest on Zen 3 (above): off there until measured. */
bool fr_decode_streams_prefetch_for(const char *vendor, const char *setting) {
    return setting_or_intel(vendor, setting, "1", "0");
}

/* cpuid is slow under a hypervisor (it traps): ask once per process. */
static bool g_decode_pf_l2, g_decode_kquant_streams, g_decode_streams_pf;
static size_t g_decode_f16_pf;
static int g_decode_f16_streams;
static bool g_has_avx2, g_has_avxvnni, g_has_avx512, g_has_avx512vnni, g_has_avx512bf16, g_has_amx, g_has_neon_dot;
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;
static void detect_cpu(void) {
    g_has_neon_dot = false;
#if FR_ARM64
    g_has_neon_dot = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
#if FR_X86
    g_has_avx2 = cpu_has_avx2();
    g_has_avxvnni = g_has_avx2 && cpu_has_avxvnni();
    g_has_avx512 = g_has_avx2 && cpu_has_avx512f();
    g_has_avx512vnni = g_has_avx512 && cpu_has_avx512bw_vnni();
    g_has_avx512bf16 = g_has_avx512 && cpu_has_avx512bf16();
#else
    g_has_avx2 = g_has_avxvnni = g_has_avx512 = g_has_avx512vnni = g_has_avx512bf16 = false;
#endif
    char vendor[13] = "";
    int family = 0;
#if FR_X86
    cpu_vendor(vendor);
    family = cpu_family();
#endif
    g_decode_pf_l2 = fr_decode_prefetch_l2_for(vendor, getenv("FRUGAL_DECODE_PREFETCH"));
    g_decode_kquant_streams = fr_decode_kquant_streams_for(vendor, getenv("FRUGAL_KQUANT_STREAMS"));
    g_decode_f16_pf = fr_decode_f16_prefetch_for(vendor, family, getenv("FRUGAL_F16_PREFETCH"));
    g_decode_f16_streams = fr_decode_f16_streams_for(vendor, getenv("FRUGAL_F16_STREAMS"));
    g_decode_streams_pf = fr_decode_streams_prefetch_for(vendor, getenv("FRUGAL_STREAMS_PREFETCH"));
    const char *cap = getenv("FRUGAL_ISA"); /* read once, before any thread asks */
    if (cap && strcmp(cap, "scalar") == 0)
        g_has_avx2 = g_has_avxvnni = g_has_avx512 = g_has_avx512vnni = g_has_neon_dot = false;
    if (cap && strcmp(cap, "avx2") == 0) g_has_avxvnni = g_has_avx512 = g_has_avx512vnni = false;
    if (cap && strcmp(cap, "avxvnni") == 0) g_has_avx512 = g_has_avx512vnni = false; /* AVX2 + AVX-VNNI */
    /* (avx512: AVX-512 F, BW and VNNI, without the BF16 and AMX prompt kernels) */
    if (cap && strcmp(cap, "avx512") == 0) g_has_avx512bf16 = false;
    g_has_avx512bf16 = g_has_avx512bf16 && g_has_avx512;
    g_has_amx = false;
#if FR_X86
    /* (asked last: a capped run does not ask the OS for the tile state) */
    if (g_has_avx512vnni && !(cap && strcmp(cap, "avx512") == 0)) g_has_amx = cpu_has_amx_int8();
#endif
}

bool fr_cpu_has(fr_isa isa) {
    switch (isa) {
    case FR_ISA_SCALAR: return true;
    case FR_ISA_AVX2:
        pthread_once(&g_cpu_once, detect_cpu);
        return g_has_avx2;
    case FR_ISA_AVXVNNI:
        pthread_once(&g_cpu_once, detect_cpu);
        return g_has_avxvnni;
    case FR_ISA_AVX512:
        pthread_once(&g_cpu_once, detect_cpu);
        return g_has_avx512;
    case FR_ISA_AVX512VNNI:
        pthread_once(&g_cpu_once, detect_cpu);
        return g_has_avx512vnni;
    case FR_ISA_NEON_DOT:
        pthread_once(&g_cpu_once, detect_cpu);
        return g_has_neon_dot;
    case FR_ISA_AMX:
        pthread_once(&g_cpu_once, detect_cpu);
        return g_has_amx;
    case FR_ISA_AVX512BF16: pthread_once(&g_cpu_once, detect_cpu); return g_has_avx512bf16;
    }
    return false;
}

bool fr_cpu_decode_prefetch_l2(void) {
    pthread_once(&g_cpu_once, detect_cpu);
    return g_decode_pf_l2;
}

bool fr_cpu_decode_kquant_streams(void) {
    pthread_once(&g_cpu_once, detect_cpu);
    return g_decode_kquant_streams;
}

size_t fr_cpu_decode_f16_prefetch(void) {
    pthread_once(&g_cpu_once, detect_cpu);
    return g_decode_f16_pf;
}

bool fr_cpu_decode_streams_prefetch(void) {
    pthread_once(&g_cpu_once, detect_cpu);
    return g_decode_streams_pf;
}

int fr_cpu_decode_f16_streams(void) {
    pthread_once(&g_cpu_once, detect_cpu);
    return g_decode_f16_streams;
}

/* The table of one instruction set, or NULL if it is not built in or the CPU lacks it.
 * AVX2 and NEON (sdot) have one; the wider x86 sets add matrix kernels only (gemm.c). */
static const fr_type_traits *isa_table(fr_isa isa) {
    if (isa == FR_ISA_SCALAR) return k_ref;
#if FR_X86
    if (isa == FR_ISA_AVX2) return fr_cpu_has(isa) ? k_avx2 : NULL;
#endif
#if FR_ARM64
    if (isa == FR_ISA_NEON_DOT) return fr_cpu_has(isa) ? k_neon : NULL;
#endif
    return NULL;
}

const fr_type_traits *fr_type_traits_isa(int type, fr_isa isa) {
    if (type < 0 || type >= FR_TYPE_COUNT) return NULL;
    const fr_type_traits *table = isa_table(isa);
    return table && table[type].name ? &table[type] : NULL;
}

/* Dispatch is decided once per process; the table pointer is immutable afterwards. */
static const fr_type_traits *g_best = k_ref;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void choose_isa(void) {
    const fr_isa best_first[] = {FR_ISA_AVX2, FR_ISA_NEON_DOT};
    for (size_t i = 0; i < sizeof best_first / sizeof best_first[0]; i++) {
        const fr_type_traits *t = isa_table(best_first[i]);
        if (t) {
            g_best = t;
            return;
        }
    }
}

const fr_type_traits *fr_type_traits_get(int type) {
    if (type < 0 || type >= FR_TYPE_COUNT) return NULL;
    pthread_once(&g_once, choose_isa);
    return g_best[type].name ? &g_best[type] : NULL;
}

const char *fr_type_name(int type) {
    if (type < 0 || type >= FR_TYPE_COUNT || !k_ref[type].name) return "?";
    return k_ref[type].name;
}

int fr_type_from_name(const char *name) {
    for (int t = 0; t < FR_TYPE_COUNT; t++) {
        if (k_ref[t].name && strcasecmp(k_ref[t].name, name) == 0) return t;
    }
    return -1;
}

bool fr_row_size(int type, int64_t n, size_t *out) {
    const fr_type_traits *t = fr_type_traits_isa(type, FR_ISA_SCALAR);
    if (!t || n < 0 || n % t->block_size != 0) return false;
    uint64_t r;
    if (!ck_mul_u64((uint64_t)(n / t->block_size), t->type_size, &r) || r > SIZE_MAX) return false;
    *out = (size_t)r;
    return true;
}

/* ---- half precision, portable ---- */
float fr_f16_to_f32(fr_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000 | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    union { uint32_t u; float f; } v = {bits};
    return v.f;
}

fr_f16 fr_f32_to_f16(float f) {
    union { float f; uint32_t u; } v = {f};
    uint32_t x = v.u;
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) return (fr_f16)(sign | 0x7e00);             /* NaN */
    if (ax >= 0x477ff000) return (fr_f16)(sign | 0x7c00);             /* overflow -> Inf */
    if (ax < 0x38800000) {                                            /* subnormal or zero */
        if (ax < 0x33000000) return (fr_f16)sign;                     /* rounds to 0 */
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14 + (112 - e) ... */
        uint32_t r = m >> (shift - 0);
        /* value = m * 2^(e-150); half subnormal unit = 2^-24 -> q = m >> (126 - e) */
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (fr_f16)(sign | r);
    }
    uint32_t e = (ax >> 23) - 112;
    uint32_t m = ax & 0x7fffff;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into exponent: correct */
    return (fr_f16)(sign | h);
}

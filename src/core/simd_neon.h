/* simd_neon.h: small NEON helpers shared by the *_neon.c files (AArch64 only). */
#ifndef FRUGAL_CORE_SIMD_NEON_H
#define FRUGAL_CORE_SIMD_NEON_H

#include <arm_neon.h>
#include <stdint.h>

/* 4 fp16 values (raw bits) as floats, exactly */
static inline __attribute__((always_inline)) float32x4_t fr_f16x4_neon(const uint16_t *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

#endif

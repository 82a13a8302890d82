/* mla_rows.h: helpers shared by the MLA decode kernels of mla_attn_avx2.c and mla_attn_avx512.c. */
#ifndef FR_MLA_ROWS_H
#define FR_MLA_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* Loads one byte of every cache line of rows [p, p1) (bytes [off, off + n) of each), so that
 * they are in the caches before the FMA loops need them. The rows come from memory once per
 * layer; inside the FMA loops few of their misses overlap, and _mm_prefetch did not help
 * (mlabench), while these independent loads stream at close to the memory's bandwidth. */
static inline void fr_touch_rows(const void *rows, size_t row_bytes, int64_t p, int64_t p1, size_t off, size_t n) {
    unsigned sink = 0;
    for (; p < p1; p++) {
        const char *b = (const char *)rows + (size_t)p * row_bytes + off;
        for (size_t i = 0; i < n; i += 64)
            sink += *(const volatile unsigned char *)(b + i);
        sink += *(const volatile unsigned char *)(b + n - 1);
    }
    (void)sink;
}

#endif

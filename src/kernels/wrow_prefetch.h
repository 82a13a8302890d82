/* wrow_prefetch.h: the read-ahead shared by the multi-row kernels of wrow_avx2.c and
 * wrow_avx512.c. The next call's rows (`next`, the same number of bytes) are asked for in
 * equal parts over this call's steps, so they arrive from memory while this call computes. */
#ifndef FR_WROW_PREFETCH_H
#define FR_WROW_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *p, *end;
    size_t per_step;
} fr_next_prefetch;

static inline fr_next_prefetch fr_next_prefetch_init(const void *next, size_t bytes, int64_t steps) {
    fr_next_prefetch pf = {next, next ? (const char *)next + bytes : NULL, 0};
    if (next && steps > 0) pf.per_step = (bytes / 64 + (size_t)steps - 1) / (size_t)steps * 64;
    return pf;
}

static inline void fr_next_prefetch_step(fr_next_prefetch *pf) {
    for (size_t k = 0; k < pf->per_step && pf->p < pf->end; k += 64, pf->p += 64)
        __builtin_prefetch(pf->p, 0, 3);
}

#endif

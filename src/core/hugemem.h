/* hugemem.h: anonymous memory for large buffers that are streamed again and again (packed
 * weights, KV caches), 2 MiB-aligned, with MADV_HUGEPAGE on every whole huge page in it:
 * kernels often enable transparent huge pages only on request, and with 4 KiB pages a
 * buffer read once per token costs a TLB miss every 4 KiB. The tail beyond the last whole
 * huge page keeps 4 KiB pages (no memory wasted); the unused head and tail of the mapping are
 * never touched. The memory starts zeroed.
 *
 * With FRUGAL_HUGEPAGES=0 in the environment there is no MADV_HUGEPAGE (and
 * fr_huge_pages_available is false): on a VM that backs fresh memory lazily, huge pages cost
 * about 1 s per GiB at load (bench/results/2026-12-01-session29.md) and give a few percent in
 * every step after it, so short runs can do without. */
#ifndef FRUGAL_CORE_HUGEMEM_H
#define FRUGAL_CORE_HUGEMEM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    void *map; /* the whole mapping (NULL: nothing allocated) */
    size_t map_bytes;
} fr_huge_mem;

/* n bytes (n > 0) 2 MiB-aligned, or NULL (and *mem zeroed) when out of memory or n overflows. */
void *fr_huge_alloc(size_t n, fr_huge_mem *mem);
/* Unmaps what fr_huge_alloc mapped; a zeroed *mem is a no-op. */
void fr_huge_free(fr_huge_mem *mem);
/* Whether fr_huge_alloc's memory can get huge pages here: transparent huge pages exist and
 * are not set to "never", and FRUGAL_HUGEPAGES is not 0. */
bool fr_huge_pages_available(void);

#endif

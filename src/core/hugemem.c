/* hugemem.c: see hugemem.h. */
#include "hugemem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "base.h"

#define HUGE_PAGE ((size_t)2 << 20)

void *fr_huge_alloc(size_t n, fr_huge_mem *mem) {
    mem->map = NULL;
    mem->map_bytes = 0;
    size_t len = n + HUGE_PAGE;
    if (n == 0 || len < n) return NULL;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    size_t whole = n & ~(HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
    if (whole && !fr_env_off("FRUGAL_HUGEPAGES")) madvise((void *)a, whole, MADV_HUGEPAGE);
#endif
    mem->map = p;
    mem->map_bytes = len;
    return (void *)a;
}

void fr_huge_free(fr_huge_mem *mem) {
    if (mem->map) munmap(mem->map, mem->map_bytes);
    mem->map = NULL;
    mem->map_bytes = 0;
}

bool fr_huge_pages_available(void) {
#ifdef MADV_HUGEPAGE
    if (fr_env_off("FRUGAL_HUGEPAGES")) return false;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return false;
    char line[128] = {0};
    bool ok = fgets(line, sizeof line, f) && !strstr(line, "[never]");
    fclose(f);
    return ok;
#else
    return false;
#endif
}

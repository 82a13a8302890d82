/* packtime: load a model and print how many matrices were repacked, their size and the
 * time it took (a dev tool, not run by tests).
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc -Isrc/core -pthread bench/packtime.c \
 *      build/libfrugal.a -lm -ljansson -lonig -lutf8proc -ledit -o build/packtime
 *   build/packtime model.gguf */
#include <stdio.h>
#include <time.h>

#include "frugal.h"

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fr_error err;
    frugal_model *m;
    if (frugal_model_load(argv[1], &m, &err) != FR_OK) return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    frugal_model_info info;
    frugal_model_get_info(m, &info);
    printf("%s: load %.3f s, of which repacking %lld matrices (%.1f MiB) %.3f s\n", argv[1],
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9, (long long)info.n_repacked,
           (double)info.repacked_bytes / (1 << 20), info.repack_seconds);
    frugal_model_free(m);
    return 0;
}

/* fuzz_file.h: for the fuzz targets whose input is a file: the input's bytes written to this
 * process's own file `name` in a private directory under /dev/shm, made on first use. */
#ifndef FRUGAL_TESTS_FUZZ_FILE_H
#define FRUGAL_TESTS_FUZZ_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes data to the file and returns its path (the same buffer every call), or NULL. */
static inline const char *fuzz_write_input(const char *name, const uint8_t *data, size_t size) {
    static char path[128];
    char dir[64];
    snprintf(dir, sizeof dir, "/dev/shm/frugal-fuzz-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    bool ok = fwrite(data, 1, size, f) == size;
    ok = fclose(f) == 0 && ok;
    return ok ? path : NULL;
}

#endif

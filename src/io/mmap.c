/* mmap.c: read-only file mappings and the bounded cursor (see mmap.h). */
#include "mmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define FR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FR_ASAN 1
#endif
#endif
#ifndef FR_ASAN
#define FR_ASAN 0
#endif

/* Files up to this size are copied to the heap in ASan builds (exact-size bounds checks). */
#define FR_ASAN_HEAP_LIMIT ((size_t)512 << 20)

static fr_status read_whole(int fd, const char *path, size_t size, fr_map *m, fr_error *err) {
    void *buf = NULL;
    /* Page alignment, like a mapping, so aligned loads behave the same; exact size. */
    if (posix_memalign(&buf, 4096, size) != 0)
        return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(buf);
            return fr_fail(err, FR_ERR_IO, "%s: read failed at offset %zu: %s", path, got,
                           e ? strerror(e) : "unexpected end of file");
        }
        got += (size_t)r;
    }
    m->data = buf;
    m->size = size;
    m->heap = true;
    return FR_OK;
}

fr_status fr_map_open(const char *path, fr_map *m, fr_error *err) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fr_fail(err, FR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    fr_status s = FR_OK;
    if (fstat(fd, &st) != 0) {
        s = fr_fail(err, FR_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        s = fr_fail(err, FR_ERR_FORMAT, "%s: not a regular file", path);
    } else if (st.st_size <= 0) {
        s = fr_fail(err, FR_ERR_FORMAT, "%s: file size: 0 bytes (expected a non-empty file)", path);
    } else if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        s = fr_fail(err, FR_ERR_IO, "%s: file size: %lld bytes does not fit in memory", path, (long long)st.st_size);
    } else {
        size_t size = (size_t)st.st_size;
        if (FR_ASAN && size <= FR_ASAN_HEAP_LIMIT) {
            s = read_whole(fd, path, size, m, err);
        } else {
            void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                s = fr_fail(err, FR_ERR_IO, "%s: mmap of %zu bytes failed: %s", path, size, strerror(errno));
            } else {
                m->data = p;
                m->size = size;
                m->heap = false;
            }
        }
    }
    close(fd);
    return s;
}

void fr_map_close(fr_map *m) {
    if (!m || !m->data) return;
    if (m->heap) {
        free((void *)m->data);
    } else {
        munmap((void *)m->data, m->size);
    }
    memset(m, 0, sizeof *m);
}

/* ---- cursor ---- */

void fr_cursor_init(fr_cursor *c, const void *data, size_t size, fr_error *err) {
    c->data = data;
    c->size = data ? size : 0;
    c->pos = 0;
    c->err = err;
}

bool fr_cursor_need(fr_cursor *c, uint64_t n, const char *what) {
    size_t rem = c->size - c->pos;
    if (n <= (uint64_t)rem) return true;
    fr_fail(c->err, FR_ERR_FORMAT, "%s: truncated at offset %zu (needs %llu bytes, %zu remain)", what, c->pos,
            (unsigned long long)n, rem);
    return false;
}

bool fr_cursor_skip(fr_cursor *c, uint64_t n, const char *what) {
    if (!fr_cursor_need(c, n, what)) return false;
    c->pos += (size_t)n;
    return true;
}

bool fr_cursor_bytes(fr_cursor *c, uint64_t n, const char *what, const uint8_t **out) {
    if (!fr_cursor_need(c, n, what)) return false;
    *out = c->data + c->pos;
    c->pos += (size_t)n;
    return true;
}

bool fr_cursor_u8(fr_cursor *c, const char *what, uint8_t *out) {
    if (!fr_cursor_need(c, 1, what)) return false;
    *out = c->data[c->pos++];
    return true;
}

bool fr_cursor_u16(fr_cursor *c, const char *what, uint16_t *out) {
    if (!fr_cursor_need(c, 2, what)) return false;
    *out = fr_load_le16(c->data + c->pos);
    c->pos += 2;
    return true;
}

bool fr_cursor_u32(fr_cursor *c, const char *what, uint32_t *out) {
    if (!fr_cursor_need(c, 4, what)) return false;
    *out = fr_load_le32(c->data + c->pos);
    c->pos += 4;
    return true;
}

bool fr_cursor_u64(fr_cursor *c, const char *what, uint64_t *out) {
    if (!fr_cursor_need(c, 8, what)) return false;
    *out = fr_load_le64(c->data + c->pos);
    c->pos += 8;
    return true;
}

/* Signed values: two's complement reinterpretation of the unsigned bits (memcpy, no UB). */
bool fr_cursor_i8(fr_cursor *c, const char *what, int8_t *out) {
    uint8_t u;
    if (!fr_cursor_u8(c, what, &u)) return false;
    memcpy(out, &u, 1);
    return true;
}

bool fr_cursor_i16(fr_cursor *c, const char *what, int16_t *out) {
    uint16_t u;
    if (!fr_cursor_u16(c, what, &u)) return false;
    memcpy(out, &u, 2);
    return true;
}

bool fr_cursor_i32(fr_cursor *c, const char *what, int32_t *out) {
    uint32_t u;
    if (!fr_cursor_u32(c, what, &u)) return false;
    memcpy(out, &u, 4);
    return true;
}

bool fr_cursor_i64(fr_cursor *c, const char *what, int64_t *out) {
    uint64_t u;
    if (!fr_cursor_u64(c, what, &u)) return false;
    memcpy(out, &u, 8);
    return true;
}

bool fr_cursor_f32(fr_cursor *c, const char *what, float *out) {
    uint32_t u;
    if (!fr_cursor_u32(c, what, &u)) return false;
    memcpy(out, &u, 4);
    return true;
}

bool fr_cursor_f64(fr_cursor *c, const char *what, double *out) {
    uint64_t u;
    if (!fr_cursor_u64(c, what, &u)) return false;
    memcpy(out, &u, 8);
    return true;
}

bool fr_cursor_str(fr_cursor *c, const char *what, uint64_t max_len, const char **ptr, uint64_t *len) {
    size_t start = c->pos, rem = c->size - c->pos;
    if (rem < 8) {
        fr_fail(c->err, FR_ERR_FORMAT, "%s length: truncated at offset %zu (needs 8 bytes, %zu remain)", what, start,
                rem);
        return false;
    }
    uint64_t n = fr_load_le64(c->data + start);
    rem -= 8;
    if (n > max_len) {
        fr_fail(c->err, FR_ERR_FORMAT, "%s length: %llu at offset %zu (expected at most %llu)", what,
                (unsigned long long)n, start, (unsigned long long)max_len);
        return false;
    }
    if ((uint64_t)rem < n) {
        fr_fail(c->err, FR_ERR_FORMAT, "%s length: %llu at offset %zu exceeds the %zu bytes remaining (truncated)",
                what, (unsigned long long)n, start, rem);
        return false;
    }
    *ptr = (const char *)(c->data + start + 8);
    *len = n;
    c->pos = start + 8 + (size_t)n;
    return true;
}

bool fr_utf8_valid(const void *str, uint64_t n) {
    const uint8_t *s = str;
    uint64_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < (uint64_t)len) return false;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += (uint64_t)len;
    }
    return true;
}

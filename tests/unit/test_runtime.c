/* test_runtime: the runtime's choices around the kernels, none of which may change a result:
 * decode's split of a product into tasks, the CPU rules for decode's prefetches and streams
 * (by vendor, family and environment), the thread pool (its read-ahead hint, its workers'
 * signal mask) and huge-page memory. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "dtype.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* the decode split: contiguous, covering, non-increasing down to the minimum, every task but
 * the last a multiple of the step, within the cap */
static void test_split_guided(void) {
    const int64_t ns[] = {1, 2, 7, 16, 17, 256, 257, 4000, 32000};
    const int threads[] = {1, 2, 3, 8};
    const int64_t mins[] = {1, 2, 16};
    const int64_t steps[] = {1, 4, 64};
    const int caps[] = {1, 5, 64};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof threads / sizeof threads[0]; b++)
            for (size_t c = 0; c < sizeof mins / sizeof mins[0]; c++)
                for (size_t e = 0; e < sizeof steps / sizeof steps[0]; e++)
                    for (size_t d = 0; d < sizeof caps / sizeof caps[0]; d++) {
                        int64_t bounds[65], n = ns[a], mn = mins[c], st = steps[e];
                        int k = fr_split_guided(n, 2 * threads[b], mn, st, bounds, caps[d]), bad = 0;
                        if (k < 1 || k > caps[d] || bounds[0] != 0 || bounds[k] != n) bad = 1;
                        for (int i = 0; !bad && i < k; i++) {
                            int64_t size = bounds[i + 1] - bounds[i];
                            if (size < 1 || (i + 1 < k && (size < mn || size % st != 0))) bad = 1;
                            if (i + 2 < k && bounds[i + 2] - bounds[i + 1] > size) bad = 1; /* the last may be larger (cap) */
                        }
                        CHECK(!bad, "split n=%lld threads=%d min=%lld step=%lld cap=%d: %d tasks", (long long)n,
                              threads[b], (long long)mn, (long long)st, caps[d], k);
                    }
    int64_t bounds[65];
    CHECK(fr_split_guided(0, 4, 1, 1, bounds, 64) == 0, "empty split");
    int k = fr_split_guided(256, 4, 2, 1, bounds, 64);
    CHECK(k > 8 && bounds[1] == 64 && bounds[k] - bounds[k - 1] <= 2, "256 groups, 2 threads: %d tasks, first %lld", k,
          (long long)bounds[1]);
    /* tinyllama's q projection in units, as 2 threads' decode splits it: 32, 24, 20, 16, 12, 8,
     * 4, 4, 4, 4 */
    const int64_t want[] = {0, 32, 56, 76, 92, 104, 112, 116, 120, 124, 128};
    k = fr_decode_split(128, true, 2, bounds);
    CHECK(k == 10 && !memcmp(bounds, want, sizeof want), "128 units, 2 threads: %d tasks", k);
    /* ... and the rows of an F16 matrix: 512, 384, 320, ... in steps of 64 rows */
    k = fr_decode_split(2048, false, 2, bounds);
    CHECK(k > 6 && bounds[1] == 512 && bounds[2] == 896 && bounds[3] == 1216 && bounds[k] == 2048,
          "2048 rows, 2 threads: %d tasks, %lld %lld %lld", k, (long long)bounds[1], (long long)bounds[2],
          (long long)bounds[3]);
}

/* The rules for decode's prefetch level (fr_decode_prefetch_l2_for), the K-quants' streams
 * (fr_decode_kquant_streams_for) and the streams' prefetch (fr_decode_streams_prefetch_for):
 * the setting wins when it is one of its two values, else the
 * Intel choice on Intel only; and the process's choices follow them. */
static void test_decode_prefetch_rule(void) {
    const struct {
        const char *vendor, *setting;
        bool l2;
    } cases[] = {
        {"GenuineIntel", NULL, true}, {"AuthenticAMD", NULL, false}, {"", NULL, false}, {NULL, NULL, false},
        {"GenuineIntel", "l1", false}, {"AuthenticAMD", "l2", true}, {NULL, "l2", true},
        {"GenuineIntel", "L1", true}, /* (exact names only: any other setting keeps the default) */
        {"AuthenticAMD", "", false}, {"AuthenticAMD", "l2 ", false}, {"GenuineIntel", "t0", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(fr_decode_prefetch_l2_for(cases[i].vendor, cases[i].setting) == cases[i].l2,
              "decode prefetch, vendor %s, setting %s: want L%d", cases[i].vendor ? cases[i].vendor : "(none)",
              cases[i].setting ? cases[i].setting : "(unset)", cases[i].l2 ? 2 : 1);
    const char *set = getenv("FRUGAL_DECODE_PREFETCH");
    if (set && (!strcmp(set, "l1") || !strcmp(set, "l2")))
        CHECK(fr_cpu_decode_prefetch_l2() == (set[1] == '2'), "FRUGAL_DECODE_PREFETCH=%s is this process's choice",
              set);
    /* the K-quants' decode streams: the same shape of rule, with "1" and "0" */
    const struct {
        const char *vendor, *setting;
        bool on;
    } ks[] = {
        {"GenuineIntel", NULL, true}, {"AuthenticAMD", NULL, false}, {NULL, NULL, false}, {"GenuineIntel", "0", false},
        {"AuthenticAMD", "1", true},  {"AuthenticAMD", "yes", false}, {"GenuineIntel", "", true},
    };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        CHECK(fr_decode_kquant_streams_for(ks[i].vendor, ks[i].setting) == ks[i].on,
              "K-quant streams, vendor %s, setting %s: want %d", ks[i].vendor ? ks[i].vendor : "(none)",
              ks[i].setting ? ks[i].setting : "(unset)", ks[i].on);
    set = getenv("FRUGAL_KQUANT_STREAMS");
    if (set && (!strcmp(set, "0") || !strcmp(set, "1"))) {
        const bool on = set[0] == '1';
        CHECK(fr_cpu_decode_kquant_streams() == on, "FRUGAL_KQUANT_STREAMS=%s is this process's choice", set);
        const int kq[] = {FR_TYPE_Q2_K, FR_TYPE_Q3_K, FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K};
        /* (AVX-512 VNNI has a streams kernel for each of them; FRUGAL_ISA lowers the set) */
        for (size_t i = 0; i < sizeof kq / sizeof kq[0]; i++)
            if (!on || fr_cpu_has(FR_ISA_AVX512VNNI))
                CHECK((fr_gemm_streams_kernel(kq[i]) != NULL) == on, "%s: %s streams kernel with FRUGAL_KQUANT_STREAMS=%s",
                      fr_type_name(kq[i]), on ? "a" : "no", set);
    }
    /* the decode streams kernels' prefetch: the same shape of rule again */
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        CHECK(fr_decode_streams_prefetch_for(ks[i].vendor, ks[i].setting) == ks[i].on,
              "streams prefetch, vendor %s, setting %s: want %d", ks[i].vendor ? ks[i].vendor : "(none)",
              ks[i].setting ? ks[i].setting : "(unset)", ks[i].on);
    set = getenv("FRUGAL_STREAMS_PREFETCH");
    if (set && (!strcmp(set, "0") || !strcmp(set, "1")))
        CHECK(fr_cpu_decode_streams_prefetch() == (set[0] == '1'), "FRUGAL_STREAMS_PREFETCH=%s is this process's choice",
              set);
}

/* The rules for reading F16/BF16/F32 rows in decode: the prefetch distance
 * (fr_decode_f16_prefetch_for: a setting of decimal digits naming a multiple of 64 up to the
 * maximum wins) and the streams (fr_decode_f16_streams_for: one digit 1-3 wins); anything else
 * keeps the vendor's (for the distance, AMD's family's) default; and the process's choices
 * follow FRUGAL_F16_PREFETCH and FRUGAL_F16_STREAMS. */
static void test_f16_prefetch_rule(void) {
    const struct {
        const char *vendor;
        int family;
        const char *setting;
        size_t bytes;
    } cases[] = {
        {"GenuineIntel", 6, NULL, 8192},
        {"AuthenticAMD", 0x1a, NULL, 2048},
        {"AuthenticAMD", 0x19, NULL, 0},
        {"AuthenticAMD", 0x17, NULL, 2048},
        {"GenuineIntel", 0x19, NULL, 8192},
        {"HygonGenuine", 0x19, NULL, 2048},
        {"", 0, NULL, 2048},
        {NULL, 0, NULL, 2048},
        {NULL, 0x19, NULL, 2048},
        {"GenuineIntel", 6, "0", 0},
        {"AuthenticAMD", 0x19, "2048", 2048},
        {"AuthenticAMD", 0x1a, "8192", 8192},
        {NULL, 0, "64", 64},
        {"AuthenticAMD", 0x1a, "65536", 65536},
        {"AuthenticAMD", 0x1a, "65600", 2048},
        {"AuthenticAMD", 0x19, "65600", 0},
        {"GenuineIntel", 6, "100", 8192},
        {"GenuineIntel", 6, "", 8192},
        {"AuthenticAMD", 0x1a, " 128", 2048},
        {"AuthenticAMD", 0x1a, "-64", 2048},
        {"AuthenticAMD", 0x1a, "+64", 2048},
        {"AuthenticAMD", 0x1a, "128k", 2048},
        {"AuthenticAMD", 0x1a, "99999999999999999999999", 2048},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(fr_decode_f16_prefetch_for(cases[i].vendor, cases[i].family, cases[i].setting) == cases[i].bytes,
              "F16 decode prefetch, vendor %s, family 0x%x, setting %s: want %zu",
              cases[i].vendor ? cases[i].vendor : "(none)", cases[i].family,
              cases[i].setting ? cases[i].setting : "(unset)", cases[i].bytes);
    const char *set = getenv("FRUGAL_F16_PREFETCH");
    if (set && (!strcmp(set, "2048") || !strcmp(set, "8192") || !strcmp(set, "0")))
        CHECK(fr_cpu_decode_f16_prefetch() == (size_t)atoi(set), "FRUGAL_F16_PREFETCH=%s is this process's choice",
              set);
    const struct {
        const char *vendor, *setting;
        int streams;
    } st[] = {
        {"GenuineIntel", NULL, 2}, {"AuthenticAMD", NULL, 3}, {NULL, NULL, 3},           {"GenuineIntel", "1", 1},
        {"AuthenticAMD", "2", 2},  {"GenuineIntel", "3", 3},  {"AuthenticAMD", "4", 3},  {"AuthenticAMD", "0", 3},
        {"GenuineIntel", "", 2},   {"GenuineIntel", "22", 2}, {"AuthenticAMD", "2 ", 3},
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        CHECK(fr_decode_f16_streams_for(st[i].vendor, st[i].setting) == st[i].streams,
              "F16 decode streams, vendor %s, setting %s: want %d", st[i].vendor ? st[i].vendor : "(none)",
              st[i].setting ? st[i].setting : "(unset)", st[i].streams);
    set = getenv("FRUGAL_F16_STREAMS");
    if (set && set[0] >= '1' && set[0] <= '3' && !set[1])
        CHECK(fr_cpu_decode_f16_streams() == set[0] - '0', "FRUGAL_F16_STREAMS=%s is this process's choice", set);
}

/* The pool's read-ahead hint changes no result: jobs run right while waiting workers prefetch
 * regions of odd sizes, replaced and cleared between jobs. */
static void square_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    int64_t *out = ctx;
    out[t] = t * t;
}

static void test_pool_read_ahead(void) {
    char *region = malloc(3 * 4096 + 123);
    memset(region, 1, 3 * 4096 + 123);
    int64_t out[97];
    for (int threads = 1; threads <= 3; threads++) {
        fr_pool *pool;
        fr_error err;
        CHECK(fr_pool_new(threads, &pool, &err) == FR_OK, "pool of %d", threads);
        int bad = 0;
        for (int job = 0; job < 300; job++) {
            size_t len = (size_t)(job * 611) % (3 * 4096 + 123);
            fr_pool_prefetch(pool, job % 7 == 3 ? NULL : region, len);
            memset(out, 0xff, sizeof out);
            int64_t n = 1 + job % 97;
            fr_pool_run(pool, n, square_task, out);
            for (int64_t t = 0; t < 97; t++) bad += out[t] != (t < n ? t * t : -1);
        }
        fr_pool_prefetch(pool, NULL, 0);
        CHECK(bad == 0, "read-ahead, %d threads: %d wrong task results", threads, bad);
        fr_pool_free(pool);
    }
    free(region);
}

/* The hand-off between the caller and the workers. Each job has two tasks: task 0 returns as
 * soon as task 1 has started, and task 1 then spins for a time swept log-uniformly from none
 * to well past the caller's own spin before it sleeps. So a worker (or the caller) finishes at
 * spread moments around the other's switch from spinning to sleeping. A lost wake-up, the
 * caller and a finishing worker each missing the other's write, would leave the caller asleep
 * for ever; an alarm turns such a hang into a failure. */
static void on_handoff_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_runtime: the pool hand-off test made no progress in 300 s (a lost wake-up)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

#ifndef HANDOFF_JOBS
#define HANDOFF_JOBS 2000
#endif

typedef struct {
    atomic_int started; /* task 1 has begun */
    atomic_int done;    /* tasks finished */
    int64_t spin;       /* task 1's iterations */
} handoff_job;

static void handoff_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    handoff_job *j = ctx;
    if (t == 0) {
        while (!atomic_load(&j->started)) {
        }
    } else {
        atomic_store(&j->started, 1);
        for (volatile int64_t k = 0; k < j->spin; k++) {
        }
    }
    atomic_fetch_add(&j->done, 1);
}

static void test_pool_handoff(void) {
    signal(SIGALRM, on_handoff_alarm);
    alarm(300);
    test_rng rng = {2024};
    for (int threads = 2; threads <= 3; threads++) {
        fr_pool *pool;
        fr_error err;
        CHECK(fr_pool_new(threads, &pool, &err) == FR_OK, "pool of %d", threads);
        if (!pool) continue;
        int bad = 0;
        for (int job = 0; job < HANDOFF_JOBS; job++) {
            const int64_t top = (int64_t)1 << (test_rng_next(&rng) % 21);
            handoff_job j = {.spin = top + (int64_t)(test_rng_next(&rng) % (uint64_t)top)};
            atomic_init(&j.started, 0);
            atomic_init(&j.done, 0);
            fr_pool_run(pool, 2, handoff_task, &j);
            bad += atomic_load(&j.done) != 2;
        }
        CHECK(bad == 0, "hand-off, %d threads: %d jobs returned before both tasks had finished", threads, bad);
        fr_pool_free(pool);
    }
    alarm(0);
    signal(SIGALRM, SIG_DFL);
}

/* Whether thread tid of this process blocks SIGINT (its SigBlk line in /proc), or -1. */
static int thread_blocks_sigint(const char *tid) {
    char path[320], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%.255s/status", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int r = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "SigBlk:", 7) == 0) r = (int)((strtoull(line + 7, NULL, 16) >> (SIGINT - 1)) & 1);
    fclose(f);
    return r;
}

static volatile sig_atomic_t g_sigint_on_main = -1;
static pthread_t g_main_thread;
static void on_test_sigint(int sig) {
    (void)sig;
    g_sigint_on_main = pthread_equal(pthread_self(), g_main_thread) ? 1 : 0;
}

/* The pool's workers block every signal, so that a process-directed signal reaches the
 * caller's thread, before kill() returns (frugal chat: a Ctrl-C that a worker took set the
 * flag only after readline had returned, and the chat ended); the caller's mask is as before. */
static void test_pool_signals(void) {
    fr_pool *pool;
    fr_error err;
    CHECK(fr_pool_new(3, &pool, &err) == FR_OK, "pool of 3");
    char self[32];
    snprintf(self, sizeof self, "%d", (int)getpid());
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        printf("  SKIPPED: the workers' signal masks (no /proc/self/task)\n");
    } else {
        int workers = 0, blocking = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            const int b = thread_blocks_sigint(e->d_name);
            if (strcmp(e->d_name, self) == 0) {
                CHECK(b == 0, "the caller's thread blocks SIGINT after fr_pool_new (%d)", b);
            } else {
                workers++;
                blocking += b == 1;
            }
        }
        closedir(d);
        /* (at least the pool's 2 workers: under qemu-user the emulator's own threads are listed too) */
        CHECK(workers >= 2 && blocking == workers, "%d of %d other threads block SIGINT, want all of at least 2",
              blocking, workers);
    }
    g_main_thread = pthread_self();
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_test_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    for (int i = 0; i < 20; i++) {
        g_sigint_on_main = -1;
        kill(getpid(), SIGINT);
        CHECK(g_sigint_on_main == 1, "a SIGINT to the process, round %d: handled %s", i,
              g_sigint_on_main < 0 ? "not yet when kill returned" : "on a worker");
    }
    sigaction(SIGINT, &old, NULL);
    fr_pool_free(pool);
}

/* Whether the mapping holding p carries the huge-page advice (VmFlags "hg" in smaps). */
static bool advised_huge(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return false;
    char line[512];
    bool in = false, hg = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char c;
        if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3) /* a mapping's first line (no field name parses so) */
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            hg = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return hg;
}

/* Whether advised_huge can see an madvise here (not under qemu-user, whose smaps are the
 * emulator's own mappings): one made by hand on a fresh mapping */
static bool advice_visible(void) {
    const size_t hp = (size_t)2 << 20;
    char *m = mmap(NULL, 2 * hp, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return false;
    char *a = (char *)(((uintptr_t)m + hp - 1) & ~(uintptr_t)(hp - 1));
    bool seen = madvise(a, hp, MADV_HUGEPAGE) == 0 && advised_huge(a);
    munmap(m, 2 * hp);
    return seen;
}

/* fr_huge_alloc: zeroed, 2 MiB-aligned memory, advised for huge pages where THP exists, and
 * not with FRUGAL_HUGEPAGES=0, which also stops fr_pack_copy (its copies are for huge pages) */
static void test_huge_pages(void) {
    const size_t n = ((size_t)5 << 20) + 123;
    const bool thp = fr_huge_pages_available() && advice_visible();
    for (int off = 0; off < 2; off++) {
        if (off) setenv("FRUGAL_HUGEPAGES", "0", 1);
        fr_huge_mem mem;
        unsigned char *p = fr_huge_alloc(n, &mem);
        CHECK(p && ((uintptr_t)p & ((2u << 20) - 1)) == 0, "FRUGAL_HUGEPAGES=%s: 2 MiB-aligned memory",
              off ? "0" : "unset");
        if (p) {
            CHECK(p[0] == 0 && p[n / 2] == 0 && p[n - 1] == 0, "huge-page memory starts zeroed");
            if (thp)
                CHECK(advised_huge(p) == !off, "FRUGAL_HUGEPAGES=%s: MADV_HUGEPAGE %s", off ? "0" : "unset",
                      off ? "not given" : "given");
            memset(p, 7, n); /* all of it is ours */
        }
        fr_huge_free(&mem);
        CHECK(mem.map == NULL, "fr_huge_free clears the handle");
        if (off) {
            CHECK(!fr_huge_pages_available(), "FRUGAL_HUGEPAGES=0: no huge pages available");
            uint16_t rows[64] = {0};
            fr_matrix m = {FR_TYPE_F16, 32, 2, 64, rows, NULL, 0};
            CHECK(!fr_pack_would_copy(&m, NULL) && fr_pack_copy(&m) == NULL, "FRUGAL_HUGEPAGES=0: no F16 copy");
            unsetenv("FRUGAL_HUGEPAGES");
        }
    }
    if (!thp) printf("  THP off, or its advice not visible in smaps here: the advice itself is not checked\n");
}

int main(void) {
    test_split_guided();
    test_decode_prefetch_rule();
    test_f16_prefetch_rule();
    /* first among the pool tests: a thread of an earlier pool may still be listed in /proc
     * while it exits (under qemu-user, after pthread_join has returned), with its own mask */
    test_pool_signals();
    test_pool_read_ahead();
    test_pool_handoff();
    test_huge_pages();
    return CHECK_DONE("test_runtime");
}

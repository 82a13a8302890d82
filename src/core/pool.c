/* pool.c: thread pool (see pool.h). */
#include "pool.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define SPIN_ITERS 20000
#define PF_STEP 4096 /* bytes a waiting worker reads ahead between two looks at the job state */

/* The job protocol. A job is published with a new generation number in `state` (high 32
 * bits), open for joining. A worker that wakes up joins it by incrementing the joined count
 * (low 31 bits) with a compare-and-swap that also checks the generation and that the job is
 * still open. When the caller has run out of tasks it closes the job (bit 31) and waits only
 * for the workers that joined. A worker that the OS did not schedule in time (a busy
 * machine) therefore never holds the job up: it finds the job closed or gone and waits for
 * the next one. The fields of a job (fn, ctx, n_tasks, next) stay fixed until every joined
 * worker has finished, so a worker that joined always sees its own job. */
#define JOB_CLOSED ((uint64_t)1 << 31)
#define JOB_JOINED_MASK (JOB_CLOSED - 1)

struct fr_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    /* current job */
    fr_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_int_fast64_t next;      /* next task to hand out */
    atomic_uint_fast64_t state;    /* generation << 32 | closed | joined workers */
    atomic_int finished;           /* joined workers done with the current job */
    atomic_int caller_sleeping;    /* the caller waits on cv_done */
    uint32_t gen;                  /* the caller's generation counter */
    int stop;
    void **scratch; /* n_threads areas of FR_POOL_SCRATCH bytes (fr_pool_scratch), each its own
                     * allocation so that a sanitizer sees an overrun */
    /* the read-ahead region (fr_pool_prefetch), claimed in PF_STEP pieces from pf_next on */
    _Atomic(const char *) pf_base;
    atomic_size_t pf_len;
    atomic_size_t pf_next;
};

typedef struct {
    fr_pool *pool;
    int index;
} worker_arg;

/* Claims the next PF_STEP bytes of the read-ahead region and prefetches them; false when
 * there is nothing left. A claim that races with fr_pool_prefetch may prefetch a piece of the
 * previous region: harmless, as prefetches never fault and change no value. */
static bool read_ahead_step(fr_pool *p) {
    const char *b = atomic_load_explicit(&p->pf_base, memory_order_acquire);
    if (!b) return false;
    size_t n = atomic_load_explicit(&p->pf_len, memory_order_relaxed);
    if (atomic_load_explicit(&p->pf_next, memory_order_relaxed) >= n) return false;
    size_t off = atomic_fetch_add_explicit(&p->pf_next, PF_STEP, memory_order_relaxed);
    if (off >= n) return false;
    size_t end = n - off < PF_STEP ? n - off : PF_STEP;
    for (size_t l = 0; l < end; l += 64) __builtin_prefetch(b + off + l, 0, 2);
    return true;
}

static void run_tasks(fr_pool *p, int thread) {
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t, thread);
    }
}

static inline uint32_t gen_of(uint64_t v) { return (uint32_t)(v >> 32); }

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    fr_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    uint32_t seen = 0;
    for (;;) {
        /* spin, then sleep until a new generation (job) is published; while spinning, take
         * the read-ahead region's next pieces, one page-sized piece per look at the state */
        int spins = 0;
        while (gen_of(atomic_load_explicit(&p->state, memory_order_acquire)) == seen && spins < SPIN_ITERS) {
            spins++;
            if (read_ahead_step(p)) continue;
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
        }
        if (gen_of(atomic_load_explicit(&p->state, memory_order_acquire)) == seen) {
            pthread_mutex_lock(&p->mu);
            while (gen_of(atomic_load_explicit(&p->state, memory_order_acquire)) == seen && !p->stop)
                pthread_cond_wait(&p->cv_work, &p->mu);
            int stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        /* join the current job if it is still open */
        uint64_t v = atomic_load_explicit(&p->state, memory_order_acquire);
        seen = gen_of(v);
        bool joined = false;
        while (!(v & JOB_CLOSED)) {
            if (atomic_compare_exchange_weak_explicit(&p->state, &v, v + 1, memory_order_acq_rel, memory_order_acquire)) {
                joined = true;
                break;
            }
            if (gen_of(v) != seen) break; /* a newer job: go round again */
        }
        if (!joined) {
            if (gen_of(v) != seen) seen = gen_of(v) - 1; /* not yet seen: join it next round */
            continue;
        }
        run_tasks(p, index);
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst); /* see fr_pool_run's fence */
        if (atomic_load_explicit(&p->caller_sleeping, memory_order_seq_cst)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int fr_split_guided(int64_t n, int share, int64_t min_chunk, int64_t step, int64_t *bounds, int max_tasks) {
    if (n <= 0 || max_tasks < 1) return 0;
    if (share < 1) share = 1;
    if (step < 1) step = 1;
    if (min_chunk < step) min_chunk = step;
    min_chunk = (min_chunk + step - 1) / step * step;
    int k = 0;
    int64_t at = 0;
    bounds[0] = 0;
    while (at < n) {
        int64_t rest = n - at, c = (rest + share - 1) / share;
        c = (c + step - 1) / step * step;
        if (c < min_chunk) c = min_chunk;
        if (k == max_tasks - 1 || c > rest) c = rest; /* the last allowed task takes the rest */
        at += c;
        bounds[++k] = at;
    }
    return k;
}

int fr_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

fr_status fr_pool_new(int n_threads, fr_pool **out, fr_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return fr_fail(err, FR_ERR_ARG, "threads: %d (expected 1..1024)", n_threads);
    fr_pool *p = calloc(1, sizeof *p);
    if (!p) return fr_fail(err, FR_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->state, JOB_CLOSED); /* generation 0, closed: nothing to join */
    atomic_init(&p->finished, 0);
    atomic_init(&p->caller_sleeping, 0);
    atomic_init(&p->pf_base, NULL);
    atomic_init(&p->pf_len, 0);
    atomic_init(&p->pf_next, 0);
    p->scratch = calloc((size_t)n_threads, sizeof *p->scratch);
    for (int i = 0; p->scratch && i < n_threads; i++)
        if (!(p->scratch[i] = aligned_alloc(64, FR_POOL_SCRATCH))) break;
    if (!p->scratch || !p->scratch[n_threads - 1]) {
        fr_pool_free(p);
        return fr_fail(err, FR_ERR_NOMEM, "thread pool: out of memory for %d x %zu bytes of scratch", n_threads,
                       FR_POOL_SCRATCH);
    }
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            fr_pool_free(p);
            return fr_fail(err, FR_ERR_NOMEM, "thread pool: out of memory");
        }
        /* The workers start with every signal blocked (they inherit the mask), so that a
         * process-directed signal such as the terminal's SIGINT reaches the caller's thread:
         * a handler that ran on a worker set its flag at some moment after the caller's
         * blocking call (frugal chat's readline) had already returned. */
        sigset_t all, old_mask;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old_mask);
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (wa) {
                wa->pool = p;
                wa->index = i;
            }
            if (!wa || pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
                free(wa);
                pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
                p->n_threads = i; /* only i-1 workers exist */
                fr_pool_free(p);
                return fr_fail(err, FR_ERR_NOMEM, "thread pool: cannot start thread %d", i);
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    }
    *out = p;
    return FR_OK;
}

void fr_pool_free(fr_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads && p->threads; i++) pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    for (int i = 0; i < p->n_threads && p->scratch; i++) free(p->scratch[i]);
    free(p->scratch);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p);
}

int fr_pool_size(const fr_pool *p) { return p ? p->n_threads : 1; }

void *fr_pool_scratch(fr_pool *p, int thread) {
    if (!p) return NULL;
    assert(thread >= 0 && thread < p->n_threads);
    return p->scratch[thread];
}

void fr_pool_prefetch(fr_pool *p, const void *addr, size_t len) {
    if (!p) return;
    atomic_store_explicit(&p->pf_base, NULL, memory_order_relaxed);
    atomic_store_explicit(&p->pf_len, addr ? len : 0, memory_order_relaxed);
    atomic_store_explicit(&p->pf_next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pf_base, (const char *)addr, memory_order_release);
}

void fr_pool_run(fr_pool *p, int64_t n_tasks, fr_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    p->gen++;
    if (p->gen == 0) p->gen = 1; /* workers start having seen 0 */
    pthread_mutex_lock(&p->mu); /* publish under the lock so that no sleeper misses it */
    atomic_store_explicit(&p->state, (uint64_t)p->gen << 32, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    /* close the job; wait only for the workers that joined it */
    uint64_t v = atomic_fetch_or_explicit(&p->state, JOB_CLOSED, memory_order_acq_rel);
    int joined = (int)(v & JOB_JOINED_MASK);
    int spins = 0;
    while (atomic_load_explicit(&p->finished, memory_order_acquire) != joined && spins < SPIN_ITERS) {
        spins++;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
    }
    if (atomic_load_explicit(&p->finished, memory_order_seq_cst) != joined) {
        pthread_mutex_lock(&p->mu);
        atomic_store_explicit(&p->caller_sleeping, 1, memory_order_seq_cst);
        /* The store above and the load of `finished` below must not be reordered, nor the
         * worker's increment and its load of caller_sleeping, or both could miss the other and
         * the caller sleep for ever. Sequentially consistent atomics already order them, and
         * gcc emits STLR then LDAR for them on AArch64, which the hardware keeps in order. But
         * qemu translates STLR as a barrier then the store, and LDAR as the load then a
         * barrier, so on an x86-64 host nothing keeps the load behind the buffered store: a
         * pool stress program hung under qemu-aarch64 7.2 (the AArch64 tests) in 2 of about
         * 100 runs. The explicit fences close that (DMB ISH; natively a locked no-op, where
         * the seq_cst store is already an xchg). */
        atomic_thread_fence(memory_order_seq_cst);
        while (atomic_load_explicit(&p->finished, memory_order_seq_cst) != joined) pthread_cond_wait(&p->cv_done, &p->mu);
        atomic_store_explicit(&p->caller_sleeping, 0, memory_order_seq_cst);
        pthread_mutex_unlock(&p->mu);
    }
}

/* pool.h: a small thread pool for data-parallel loops.
 *
 * fr_pool_run(pool, n_tasks, fn, ctx) calls fn(ctx, task, thread) for task in [0, n_tasks)
 * across the pool's threads (the caller participates as thread 0) and returns when all are
 * done. Tasks are handed out with an atomic counter, so which thread runs a task varies;
 * kernels must make each output element depend only on its task's inputs (batch and
 * thread invariance), never on the thread that ran it.
 *
 * Workers spin briefly after a job, then sleep on a condition variable: decode issues many
 * small jobs per token, and a short spin avoids the wake-up latency. */
#ifndef FRUGAL_CORE_POOL_H
#define FRUGAL_CORE_POOL_H

#include <stdint.h>

#include "base.h"

typedef struct fr_pool fr_pool;
typedef void (*fr_task_fn)(void *ctx, int64_t task, int thread);

/* n_threads >= 1 (1 = no worker threads). */
fr_status fr_pool_new(int n_threads, fr_pool **out, fr_error *err);
void fr_pool_free(fr_pool *p);
int fr_pool_size(const fr_pool *p);
void fr_pool_run(fr_pool *p, int64_t n_tasks, fr_task_fn fn, void *ctx);
/* Scratch memory per thread: FR_POOL_SCRATCH bytes, 64-byte aligned, that a task may use
 * while it runs on thread `thread` (fr_task_fn's argument); nothing in it outlives the task.
 * Kernels whose working set would not fit a stack frame take it here. NULL for a NULL pool.
 * (From malloc: where it maps blocks this large, as glibc does by default, pages no task
 * writes take no memory.) */
#define FR_POOL_SCRATCH ((size_t)1 << 20)
void *fr_pool_scratch(fr_pool *p, int thread);
/* Read-ahead: memory that a coming job will read, fetched into the workers' caches while
 * they would otherwise wait (the caller's serial work between jobs, the end of a job that
 * another thread is finishing), so that the job finds it there instead of in DRAM.
 * fr_pool_prefetch sets the region [addr, addr + len) (addr NULL clears it); waiting workers
 * take it in order, a page at a time, each part once, until it is done or replaced. Only a
 * hint: prefetches never fault and never change a result. */
void fr_pool_prefetch(fr_pool *p, const void *addr, size_t len);
/* Decreasing ("guided") split of n items: tasks handed out in index order start with large
 * contiguous slabs (long streams for the prefetchers) and end with small ones, so threads
 * finish together. Writes bounds[0] = 0 < bounds[1] < ... < bounds[k] = n and returns k (1 <=
 * k <= max_tasks; 0 if n <= 0). Each chunk is about remaining / share (share >= 1: a few
 * times the thread count), at least min_chunk items, and every chunk but the last a multiple
 * of step (>= 1). Depends only on its arguments. */
int fr_split_guided(int64_t n, int share, int64_t min_chunk, int64_t step, int64_t *bounds, int max_tasks);
/* Number of online CPUs (>= 1). */
int fr_cpu_count(void);

#endif

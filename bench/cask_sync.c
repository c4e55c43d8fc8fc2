/*
 * cask_sync.c: benchmarks of the synchronization primitives, printing RESULT lines for
 * bench/run.sh (the peers in bench/peers/core run the same workloads):
 *   lock2, lock100   lock hand-off: K tasks each loop acquire, yield while holding, release,
 *                    1,000,000 pairs in all, so every acquire waits and every release hands
 *                    the lock to the next waiter (the peers do the same), ns per pair
 *   queue1, queue1024  one producer task puts 1,000,000 integers into a queue of maxsize 1 /
 *                    1024, one consumer task gets them, items per second
 *   sem100           spawn 1,000,000 tasks that each acquire a semaphore of 100, yield once and
 *                    release; then join them all; ns per task
 * and two rows cask alone runs, for the cost of the lock itself without contention:
 *   lock2_uncontended, lock100_uncontended  as lockK, but nobody yields inside, so every
 *                    acquire finds the lock free
 * Usage: cask_sync [workload...] (or CASK_BENCH_WORKLOADS="..."); CASK_BENCH_QUICK=1 divides
 * the counts by 10.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ---- lockK ---- */

struct lockbench {
    cask_lock lock;
    long per;     /* pairs per task */
    bool yield;   /* yield while holding it (hand-off rows) */
    long counter; /* the critical section's work, checked at the end */
};

static int lock_worker(void *arg)
{
    struct lockbench *b = arg;
    for (long i = 0; i < b->per; i++) {
        MUST(cask_lock_acquire(&b->lock));
        b->counter++;
        if (b->yield)
            MUST(cask_yield());
        MUST(cask_lock_release(&b->lock));
    }
    return 0;
}

struct lockrun {
    const char *name;
    long n, k;
    bool yield;
};

static int lock_main(void *arg)
{
    struct lockrun *r = arg;
    struct lockbench b = {CASK_LOCK_INIT, r->n / r->k, r->yield, 0};
    cask_task **ts = malloc(sizeof *ts * (size_t)r->k);
    double t0 = now();
    for (long i = 0; i < r->k; i++)
        MUST(cask_spawn(&ts[i], lock_worker, &b));
    for (long i = 0; i < r->k; i++) {
        MUST(cask_join(ts[i]));
        cask_release(ts[i]);
    }
    double dt = now() - t0;
    long pairs = b.per * r->k;
    if (b.counter != pairs) {
        fprintf(stderr, "lost updates\n");
        exit(1);
    }
    printf("RESULT %s cask ns_per_op=%.2f ops=%ld tasks=%ld\n", r->name, dt * 1e9 / (double)pairs,
           pairs, r->k);
    free(ts);
    return 0;
}

/* ---- queueC ---- */

struct queuebench {
    cask_queue *q;
    long n;
    long sum;
};

static int q_producer(void *arg)
{
    struct queuebench *b = arg;
    for (long i = 0; i < b->n; i++)
        MUST(cask_queue_put(b->q, (void *)(intptr_t)i));
    return 0;
}

static int q_consumer(void *arg)
{
    struct queuebench *b = arg;
    for (long i = 0; i < b->n; i++) {
        void *item;
        MUST(cask_queue_get(b->q, &item));
        b->sum += (long)(intptr_t)item;
    }
    return 0;
}

struct queuerun {
    const char *name;
    long n;
    size_t cap;
};

static int queue_main(void *arg)
{
    struct queuerun *r = arg;
    struct queuebench b = {NULL, r->n, 0};
    MUST(cask_queue_new(&b.q, r->cap, CASK_QUEUE_FIFO, NULL));
    cask_task *c, *p;
    double t0 = now();
    MUST(cask_spawn(&c, q_consumer, &b));
    MUST(cask_spawn(&p, q_producer, &b));
    MUST(cask_join(p));
    MUST(cask_join(c));
    double dt = now() - t0;
    cask_release(p);
    cask_release(c);
    cask_queue_free(b.q);
    if (b.sum != r->n * (r->n - 1) / 2) {
        fprintf(stderr, "lost items\n");
        exit(1);
    }
    printf("RESULT %s cask items_per_s=%.0f items=%ld ns_per_item=%.2f\n", r->name,
           (double)r->n / dt, r->n, dt * 1e9 / (double)r->n);
    return 0;
}

/* ---- sem100 ---- */

static cask_sem g_sem;

static int sem_worker(void *arg)
{
    (void)arg;
    MUST(cask_sem_acquire(&g_sem));
    MUST(cask_yield());
    MUST(cask_sem_release(&g_sem));
    return 0;
}

/* One round: spawn n workers, then join them all; returns the seconds it took. */
static double sem_round(long n, cask_task **ts)
{
    double t0 = now();
    for (long i = 0; i < n; i++)
        MUST(cask_spawn(&ts[i], sem_worker, NULL));
    for (long i = 0; i < n; i++) {
        MUST(cask_join(ts[i]));
        cask_release(ts[i]);
    }
    double dt = now() - t0;
    if (cask_sem_value(&g_sem) != 100) {
        fprintf(stderr, "lost units\n");
        exit(1);
    }
    return dt;
}

static int sem_main(void *arg)
{
    long n = *(long *)arg;
    MUST(cask_sem_init(&g_sem, 100));
    cask_task **ts = malloc(sizeof *ts * (size_t)n);
    /* the first round maps and first touches a stack per task (a page fault each); the second
     * reuses them from the loop's stack pool, which leaves the cost of the tasks and the
     * semaphore (reported as warm_ns_per_task) */
    double cold = sem_round(n, ts);
    double warm = sem_round(n, ts);
    printf("RESULT sem100 cask ns_per_task=%.1f tasks=%ld warm_ns_per_task=%.1f\n",
           cold * 1e9 / (double)n, n, warm * 1e9 / (double)n);
    free(ts);
    return 0;
}

/* ---- selection ---- */

static int g_argc;
static char **g_argv;

static bool want(const char *name)
{
    if (g_argc > 1) {
        for (int i = 1; i < g_argc; i++)
            if (!strcmp(g_argv[i], name))
                return true;
        return false;
    }
    const char *sel = getenv("CASK_BENCH_WORKLOADS");
    if (!sel || !*sel)
        return true;
    /* the hand-off rows go with their lockK row */
    size_t n = strcspn(name, "_");
    for (const char *p = sel; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len;
        p += strspn(p, " ");
    }
    return false;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_argc = argc;
    g_argv = argv;
    long n = scale(1000000);
    static struct lockrun locks[] = {{"lock2", 0, 2, true},
                                     {"lock100", 0, 100, true},
                                     {"lock2_uncontended", 0, 2, false},
                                     {"lock100_uncontended", 0, 100, false}};
    for (size_t i = 0; i < sizeof locks / sizeof locks[0]; i++) {
        locks[i].n = n;
        if (want(locks[i].name))
            MUST(cask_run(lock_main, &locks[i]));
    }
    struct queuerun queues[] = {{"queue1", n, 1}, {"queue1024", n, 1024}};
    for (size_t i = 0; i < 2; i++)
        if (want(queues[i].name))
            MUST(cask_run(queue_main, &queues[i]));
    if (want("sem100"))
        MUST(cask_run(sem_main, &n));
    return 0;
}

/* test_procpool.c: process pools (CONFORMANCE P10) with real worker processes: results in
 * argument order and real parallelism, data larger than a pipe buffer, a worker that
 * segfaults, aborts or exits, a job cancelled while waiting and while running, shutdown
 * waiting or cancelling, no worker left behind. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static int count_primes(const void *in, size_t len, void **out, size_t *out_len)
{
    if (len != sizeof(long))
        return -EINVAL;
    long limit = *(const long *)in, count = 0;
    for (long n = 2; n < limit; n++) {
        bool prime = true;
        for (long d = 2; d * d <= n; d++)
            if (n % d == 0) {
                prime = false;
                break;
            }
        count += prime;
    }
    long *r = malloc(sizeof *r);
    *r = count;
    *out = r;
    *out_len = sizeof *r;
    return 0;
}

/* Spins for the CPU time given in milliseconds (CLOCK_PROCESS_CPUTIME_ID: really computing). */
static int burn(const void *in, size_t len, void **out, size_t *out_len)
{
    (void)len;
    (void)out;
    (void)out_len;
    long ms = *(const long *)in;
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i * 2654435761u;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    return x == 1 ? -1 : (int)getpid(); /* x read: the loop is not optimized away */
}

static int crash(const void *in, size_t len, void **out, size_t *out_len)
{
    (void)len;
    (void)out;
    (void)out_len;
    int how = *(const int *)in;
    if (how == 0)
        raise(SIGSEGV); /* as a bad pointer would */
    if (how == 1)
        abort();
    if (how == 2)
        _exit(42);
    return 7;
}

/* Echoes the input back reversed: data of any size both ways. */
static int reverse(const void *in, size_t len, void **out, size_t *out_len)
{
    char *r = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        r[i] = ((const char *)in)[len - 1 - i];
    *out = r;
    *out_len = len;
    return (int)(len % 1000);
}

struct call {
    cask_procpool *pool;
    struct cask_job job;
    long arg;
    int rc;
};

static int call_task(void *arg)
{
    struct call *c = arg;
    c->job.in = &c->arg;
    c->job.in_len = sizeof c->arg;
    c->rc = cask_procpool_run(c->pool, &c->job);
    return 0;
}

/* P10: two prime counts on 2 workers, results in argument order. */
static int p10_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 2), 0);
    CHECK_EQ(cask_procpool_size(pool), 2);
    struct call c[2] = {{pool, {count_primes, 0, 0, 0, 0, {0, 0, 0}}, 50000, -1},
                        {pool, {count_primes, 0, 0, 0, 0, {0, 0, 0}}, 60000, -1}};
    cask_task *t[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ(cask_spawn(&t[i], call_task, &c[i]), 0);
    CHECK_EQ(cask_gather(t, 2, NULL), 0);
    CHECK_EQ(c[0].rc, 0);
    CHECK_EQ(c[1].rc, 0);
    CHECK_EQ(c[0].job.out_len, sizeof(long));
    CHECK_EQ(*(long *)c[0].job.out, 5133);
    CHECK_EQ(*(long *)c[1].job.out, 6057);
    for (int i = 0; i < 2; i++) {
        cask_free(c[i].job.out);
        cask_release(t[i]);
    }
    CHECK_EQ(cask_procpool_close(pool, false), 0);
    CHECK(no_children());
    return 0;
}
TEST(p10_prime_counts_in_order) { CHECK_EQ(cask_run(p10_main, NULL), 0); }

/* Two 300 ms CPU jobs on two workers run on two processes at once. */
static int parallel_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 2), 0);
    struct call c[2];
    memset(c, 0, sizeof c);
    cask_task *t[2];
    for (int i = 0; i < 2; i++) {
        c[i].pool = pool;
        c[i].job.fn = burn;
        c[i].arg = 300;
        CHECK_EQ(cask_spawn(&t[i], call_task, &c[i]), 0);
    }
    CHECK_EQ(cask_gather(t, 2, NULL), 0);
    CHECK(c[0].rc > 0 && c[1].rc > 0);
    CHECK(c[0].rc != c[1].rc); /* two different worker processes */
    CHECK(c[0].rc != getpid());
    for (int i = 0; i < 2; i++)
        cask_release(t[i]);
    CHECK_EQ(cask_procpool_close(pool, false), 0);
    return 0;
}
TEST(pool_jobs_run_in_different_workers) { CHECK_EQ(cask_run(parallel_main, NULL), 0); }

/* 8 MB in and out, far beyond a pipe buffer, every byte checked; queued jobs (more than
 * workers) all complete. */
static int big_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 1), 0);
    size_t n = 8 << 20;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)(i * 31 + i / 977);
    for (int round = 0; round < 3; round++) {
        struct cask_job job = {.fn = reverse, .in = in, .in_len = n};
        CHECK_EQ(cask_procpool_run(pool, &job), (int)(n % 1000));
        CHECK_EQ(job.out_len, n);
        for (size_t i = 0; i < n; i++)
            if (((char *)job.out)[i] != in[n - 1 - i])
                CHECK(false);
        cask_free(job.out);
    }
    struct cask_job empty = {.fn = reverse};
    CHECK_EQ(cask_procpool_run(pool, &empty), 0);
    CHECK(empty.out == NULL || empty.out_len == 0);
    cask_free(empty.out);
    free(in);
    CHECK_EQ(cask_procpool_close(pool, false), 0);
    return 0;
}
TEST(pool_data_larger_than_pipe) { CHECK_EQ(cask_run(big_main, NULL), 0); }

/* A worker that segfaults, aborts or exits fails its job with -ECHILD and how it ended; it is
 * replaced, and the pool goes on working. */
static int crash_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 1), 0);
    int how[] = {0, 1, 2, 3};
    struct cask_job job = {.fn = crash, .in = &how[0], .in_len = sizeof(int)};
    CHECK_EQ(cask_procpool_run(pool, &job), -ECHILD);
    CHECK_EQ(job.crash.signal, SIGSEGV);
    CHECK_EQ(job.crash.code, -1);
    job.in = &how[1];
    CHECK_EQ(cask_procpool_run(pool, &job), -ECHILD);
    CHECK_EQ(job.crash.signal, SIGABRT);
    job.in = &how[2];
    CHECK_EQ(cask_procpool_run(pool, &job), -ECHILD);
    CHECK_EQ(job.crash.signal, 0);
    CHECK_EQ(job.crash.code, 42);
    job.in = &how[3];
    CHECK_EQ(cask_procpool_run(pool, &job), 7);
    CHECK_EQ(job.crash.signal, 0);
    CHECK_EQ(cask_procpool_close(pool, false), 0);
    CHECK(no_children());
    return 0;
}
TEST(pool_worker_crash_is_reported_and_replaced)
{
    CHECK_EQ(cask_run(crash_main, NULL), 0);
}

/* A job cancelled while running: its worker is killed at once (not left burning a core) and
 * replaced; a job cancelled while queued never runs. */
static int cancel_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 1), 0);
    struct call run = {.pool = pool, .job = {.fn = burn}, .arg = 30000};
    struct call queued = {.pool = pool, .job = {.fn = burn}, .arg = 30000};
    cask_task *t1, *t2;
    CHECK_EQ(cask_spawn(&t1, call_task, &run), 0);
    CHECK_EQ(cask_spawn(&t2, call_task, &queued), 0);
    CHECK_EQ(cask_sleep(0.2), 0);
    double t0 = cask_time();
    cask_cancel(t2);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_EQ(queued.rc, -ECANCELED);
    cask_cancel(t1);
    CHECK_EQ(cask_join(t1), 0);
    CHECK_EQ(run.rc, -ECANCELED);
    CHECK(cask_time() - t0 < 1.0);
    cask_release(t1);
    cask_release(t2);
    /* the replacement works */
    struct call again = {.pool = pool, .job = {.fn = count_primes}, .arg = 100};
    CHECK_EQ(call_task(&again), 0);
    CHECK_EQ(again.rc, 0);
    CHECK_EQ(*(long *)again.job.out, 25);
    cask_free(again.job.out);
    CHECK_EQ(cask_procpool_close(pool, false), 0);
    CHECK(no_children());
    return 0;
}
TEST(pool_cancel_running_and_queued) { CHECK_EQ(cask_run(cancel_main, NULL), 0); }

/* Shutdown waits for queued and running jobs; with cancel it fails them with -ESHUTDOWN and
 * kills the busy workers. */
static int shutdown_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 2), 0);
    struct call c[3];
    cask_task *t[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 3; i++) {
        c[i].pool = pool;
        c[i].job.fn = burn;
        c[i].arg = 100;
        CHECK_EQ(cask_spawn(&t[i], call_task, &c[i]), 0);
    }
    CHECK_EQ(cask_sleep(0.05), 0);
    CHECK_EQ(cask_procpool_close(pool, false), 0); /* waits: all three ran */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        CHECK(c[i].rc > 0);
        cask_release(t[i]);
    }
    CHECK(no_children());

    CHECK_EQ(cask_procpool_new(&pool, 2), 0);
    for (int i = 0; i < 3; i++) {
        c[i].arg = 30000;
        c[i].pool = pool;
        CHECK_EQ(cask_spawn(&t[i], call_task, &c[i]), 0);
    }
    CHECK_EQ(cask_sleep(0.1), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_procpool_close(pool, true), 0);
    CHECK(cask_time() - t0 < 1.0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        CHECK_EQ(c[i].rc, -ESHUTDOWN);
        cask_release(t[i]);
    }
    CHECK(no_children());
    return 0;
}
TEST(pool_shutdown_wait_and_cancel) { CHECK_EQ(cask_run(shutdown_main, NULL), 0); }

/* A pool left open when cask_run ends is closed then: no worker is left. */
static int left_open_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 2), 0);
    return 0;
}
TEST(pool_left_open_at_run_end)
{
    CHECK_EQ(cask_run(left_open_main, NULL), 0);
    CHECK(no_children());
}

static int misuse_main(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    struct cask_job job = {0};
    CHECK_EQ(cask_procpool_new(NULL, 1), -EINVAL);
    CHECK_EQ(cask_procpool_new(&pool, 5000), -EINVAL);
    CHECK_EQ(cask_procpool_new(&pool, 1), 0);
    CHECK_EQ(cask_procpool_run(pool, &job), -EINVAL);
    CHECK_EQ(cask_procpool_run(NULL, &job), -EINVAL);
    CHECK_EQ(cask_procpool_close(NULL, false), 0);
    CHECK_EQ(cask_procpool_close(pool, false), 0);
    return 0;
}
TEST(pool_misuse)
{
    cask_procpool *pool;
    CHECK_EQ(cask_procpool_new(&pool, 1), -EPERM);
    CHECK_EQ(cask_run(misuse_main, NULL), 0);
}

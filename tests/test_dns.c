/* test_dns.c: name resolution off the loop (numeric, names, failures, cancellation) and the
 * thread pool under it (cask_to_thread). */
#define _GNU_SOURCE
#include "cask_test.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

static int numeric_main(void *arg)
{
    (void)arg;
    struct cask_addr a[4];
    CHECK_EQ(cask_resolve("127.0.0.1", 80, AF_UNSPEC, 0, a, 4), 1);
    CHECK_EQ(a[0].u.sa.sa_family, AF_INET);
    CHECK_EQ(cask_addr_port(&a[0]), 80);
    CHECK_EQ(cask_resolve("::1", 81, AF_UNSPEC, 0, a, 4), 1);
    CHECK_EQ(a[0].u.sa.sa_family, AF_INET6);
    CHECK_EQ(cask_resolve("::1", 81, AF_INET, 0, a, 4), -EAFNOSUPPORT);
    CHECK_EQ(cask_resolve(NULL, 81, AF_INET, 0, a, 4), -EINVAL);
    CHECK_EQ(cask_resolve("x", 81, AF_INET, 0, a, 0), -EINVAL);
    return 0;
}
TEST(dns_numeric) { CHECK_EQ(cask_run(numeric_main, NULL), 0); }

static int names_main(void *arg)
{
    (void)arg;
    struct cask_addr a[8];
    int n = cask_resolve("localhost", 8080, AF_UNSPEC, SOCK_STREAM, a, 8);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(cask_addr_port(&a[i]), 8080);
        for (int j = 0; j < i; j++)
            CHECK(memcmp(&a[i].u, &a[j].u, a[i].len) != 0); /* no duplicates */
    }
    n = cask_resolve("localhost", 53, AF_INET, SOCK_DGRAM, a, 8);
    CHECK(n >= 1);
    CHECK_EQ(a[0].u.sa.sa_family, AF_INET);
    n = cask_resolve("no-such-host.invalid", 80, AF_UNSPEC, 0, a, 8);
    CHECK(n == -EHOSTUNREACH || n == -EAGAIN);
    return 0;
}
TEST(dns_names) { CHECK_EQ(cask_run(names_main, NULL), 0); }

/* The loop keeps running while lookups happen; a lookup can be cancelled at once. */
static int ticks;
static int ticker(void *arg)
{
    (void)arg;
    for (;;) {
        if (cask_sleep(0.001))
            return 0;
        ticks++;
    }
}
static int cancel_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, ticker, NULL), 0);
    struct cask_addr a[2];
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0), 0); /* expires at once: the lookup is abandoned */
    int rc = cask_resolve("localhost", 1, AF_UNSPEC, 0, a, 2);
    CHECK_EQ(cask_scope_close(&sc, rc), -ETIMEDOUT);
    for (int i = 0; i < 20; i++)
        CHECK(cask_resolve("localhost", 1, AF_UNSPEC, 0, a, 2) >= 1);
    CHECK_EQ(cask_sleep(0.02), 0);
    cask_cancel(t);
    CHECK_EQ(cask_join(t), 0); /* the ticker returns 0 when its sleep is cancelled */
    CHECK(ticks > 5);
    cask_release(t);
    return 0;
}
TEST(dns_cancel) { CHECK_EQ(cask_run(cancel_main, NULL), 0); }

/* ---- the thread pool ---- */

struct job {
    double secs;
    int id;
    pthread_t thread;
    int *cleaned;
};
static int blocking(void *arg)
{
    struct job *j = arg;
    struct timespec ts = {(time_t)j->secs, (long)((j->secs - (double)(time_t)j->secs) * 1e9)};
    nanosleep(&ts, NULL);
    j->thread = pthread_self();
    return j->id;
}
static int to_thread_task(void *arg)
{
    struct job *j = arg;
    return cask_to_thread(blocking, j);
}
static int parallel_main(void *arg)
{
    (void)arg;
    struct job jobs[3] = {{0.2, 10, 0, 0}, {0.2, 11, 0, 0}, {0.2, 12, 0, 0}};
    cask_task *t[3];
    double t0 = cask_time();
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], to_thread_task, &jobs[i]), 0);
    int st[3];
    CHECK_EQ(cask_gather(t, 3, st), 0);
    CHECK_NEAR(cask_time() - t0, 0.2, 0.1); /* in parallel */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(st[i], 10 + i);
        CHECK(!pthread_equal(jobs[i].thread, pthread_self()));
        cask_release(t[i]);
    }
    return 0;
}
TEST(to_thread_parallel) { CHECK_EQ(cask_run(parallel_main, NULL), 0); }

static void cleanup(void *arg)
{
    struct job *j = arg;
    (*j->cleaned)++;
    ct_log("cleanup %d", j->id);
}
static int cancel_job_task(void *arg) { return cask_to_thread_ex(blocking, arg, cleanup); }
static int to_thread_cancel_main(void *arg)
{
    (void)arg;
    static int cleaned;
    static struct job running = {0.2, 1, 0, &cleaned};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, cancel_job_task, &running), 0);
    CHECK_EQ(cask_sleep(0.02), 0);
    double t0 = cask_time();
    cask_cancel(t);
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK(cask_time() - t0 < 0.05); /* returns at once */
    cask_release(t);
    CHECK_EQ(cleaned, 0);
    CHECK_EQ(cask_sleep(0.3), 0); /* the job finished meanwhile: cleaned up on the loop */
    CHECK_EQ(cleaned, 1);
    /* cancelled before the call: cleanup at once, fn never runs */
    static struct job never = {0, 2, 0, &cleaned};
    cask_cancel(cask_current());
    CHECK_EQ(cask_to_thread_ex(blocking, &never, cleanup), -ECANCELED);
    cask_uncancel(cask_current());
    CHECK_EQ(cleaned, 2);
    CHECK_LOG("cleanup 1,cleanup 2");
    return 0;
}
TEST(to_thread_cancel) { CHECK_EQ(cask_run(to_thread_cancel_main, NULL), 0); }

/* Many more jobs than threads; a job still running when the loop closes is joined. */
static int many_main(void *arg)
{
    (void)arg;
    enum { N = 100 };
    static struct job jobs[N];
    cask_task *t[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct job){0.001, i, 0, 0};
        CHECK_EQ(cask_spawn(&t[i], to_thread_task, &jobs[i]), 0);
    }
    int st[N];
    CHECK_EQ(cask_gather(t, N, st), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(st[i], i);
        cask_release(t[i]);
    }
    static int cleaned;
    static struct job left = {0.1, 0, 0, &cleaned};
    cask_task *l;
    CHECK_EQ(cask_spawn(&l, cancel_job_task, &left), 0);
    CHECK_EQ(cask_sleep(0.01), 0);
    cask_release(l); /* cask_run cancels it at the end; the pool joins the thread at close */
    return 0;
}
TEST(to_thread_many_and_close)
{
    CHECK_EQ(cask_run(many_main, NULL), 0);
    CHECK_EQ(cask_to_thread(blocking, NULL), -EPERM);
}

/* Every allocation of a lookup failing in turn: -ENOMEM or a result, never a leak. */
static int resolve_nomem_main(void *arg)
{
    (void)arg;
    struct cask_addr a[4];
    int ok = 0;
    for (long n = 1; n <= 12; n++) {
        ct_fail_alloc_after(n);
        int rc = cask_resolve("localhost", 80, AF_UNSPEC, 0, a, 4);
        ct_fail_alloc_after(0);
        if (rc == -ENOMEM)
            continue;
        CHECK(rc >= 1);
        ok++;
    }
    CHECK(ok > 0);
    return 0;
}
TEST(dns_enomem_walk) { CHECK_EQ(cask_run(resolve_nomem_main, NULL), 0); }

/* The pool's own allocations failing in turn, including the worker's hand-back (retried). */
static int quick(void *arg)
{
    (void)arg;
    return 7;
}
static int pool_nomem_main(void *arg)
{
    (void)arg;
    for (long n = 1; n <= 5; n++) {
        ct_fail_alloc_after(n);
        int rc = cask_to_thread(quick, NULL);
        ct_fail_alloc_after(0);
        CHECK(rc == 7 || rc == -ENOMEM);
    }
    return 0;
}
TEST(to_thread_enomem_walk) { CHECK_EQ(cask_run(pool_nomem_main, NULL), 0); }

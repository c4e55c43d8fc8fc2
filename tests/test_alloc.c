/*
 * test_alloc.c: out of memory. Every allocation the library makes is failed in turn (the n-th
 * one for n = 1, 2, ... until a run makes fewer than n): each call that needs memory must
 * return -ENOMEM, leave its object as it was and the loop usable, and leak nothing.
 * Task stacks are mmap'd, but stack pool and chunk bookkeeping, futures, their callback
 * lists, callback handles, the timer heap and large gathers are allocated.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#define MAX_N 2000 /* far more allocations than any scenario below makes */

/* ---- helpers ---- */

static void count_cb(void *arg) { (*(int *)arg)++; }
static void count_future_cb(cask_future *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
}
/* A task that sleeps (the timer heap may need to grow) and counts itself. */
static int child(void *arg)
{
    int rc = cask_sleep(0.01);
    if (rc < 0)
        return rc;
    (*(int *)arg)++;
    return 0;
}

/* After an -ENOMEM: with allocation working again, every kind of object still works. */
static void check_usable(void)
{
    int ran = 0;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, child, &ran), 0);
    cask_future *f;
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK_EQ(cask_future_set_result(f, &ran), 0);
    void *v = NULL;
    CHECK_EQ(cask_future_await(f, &v), 0);
    CHECK(v == &ran);
    cask_future_free(f);
    int calls = 0;
    cask_handle *h;
    CHECK_EQ(cask_call_soon(&h, count_cb, &calls), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(calls, 1);
    cask_handle_release(h);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_EQ(ran, 1);
}

/* ---- focused cases: cask_future_new and cask_spawn ---- */

static int future_new_main(void *arg)
{
    (void)arg;
    cask_future *f = (cask_future *)&f; /* not NULL: the call must clear it */
    long live = ct_allocs_live();
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_future_new(&f), -ENOMEM);
    CHECK(f == NULL);
    CHECK_EQ(ct_allocs_live(), live);
    ct_fail_alloc_after(0);
    check_usable();
    return 0;
}
TEST(alloc_future_new_enomem) { CHECK_EQ(ct_run_virtual(future_new_main, NULL), 0); }

/* Spawns with a stack size new to this loop: its pool is allocated by the spawn, its first
 * chunk of stacks when the task first runs (a task that cannot get a stack then ends with
 * -ENOMEM without running). */
static int spawn_main(void *arg)
{
    (void)arg;
    struct cask_loop_stats stats;
    CHECK_EQ(cask_loop_stats(&stats), 0);
    struct cask_spawn_opts o = {.stack_size = 2 * stats.stack_size};
    int ran = 0, failures = 0;
    for (long n = 1; n < MAX_N; n++) {
        cask_task *t = (cask_task *)&t;
        long live = ct_allocs_live();
        ct_fail_alloc_after(n);
        int rc = cask_spawn_with(&t, child, &ran, &o);
        long made = ct_allocs_live() - live;
        ct_fail_alloc_after(0);
        if (rc == -ENOMEM) {
            failures++;
            CHECK(t == NULL);
            CHECK(made <= 1); /* at most the pool, kept by the loop for the next spawn */
            CHECK_EQ(ran, 0);
            check_usable();
            continue;
        }
        CHECK_EQ(rc, 0);
        /* the first run needs the pool's first chunk: make that allocation fail */
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_join(t), -ENOMEM);
        ct_fail_alloc_after(0);
        CHECK_EQ(ran, 0);
        cask_release(t);
        check_usable();
        CHECK_EQ(cask_spawn_with(&t, child, &ran, &o), 0);
        CHECK_EQ(cask_join(t), 0);
        cask_release(t);
        CHECK_EQ(ran, 1);
        break;
    }
    CHECK_EQ(failures, 1); /* the pool */
    return 0;
}
TEST(alloc_spawn_enomem) { CHECK_EQ(ct_run_virtual(spawn_main, NULL), 0); }

/* cask_run itself: the loop, the poller, the first stack pool (main is the first spawn). */
static int trivial_main(void *arg)
{
    (*(int *)arg)++;
    return 0;
}
TEST(alloc_run_enomem)
{
    int failures = 0;
    for (long n = 1; n < MAX_N; n++) {
        int ran = 0;
        long total = ct_allocs_total();
        ct_fail_alloc_after(n);
        int rc = ct_run_virtual(trivial_main, &ran);
        ct_fail_alloc_after(0);
        CHECK_EQ(ct_allocs_live(), 0);
        if (rc == -ENOMEM) {
            CHECK_EQ(ran, 0);
            failures++;
            continue;
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(ran, 1);
        if (ct_allocs_total() - total < n)
            break; /* no allocation failed: every one has been tried */
    }
    CHECK(failures >= 3);
}

/* ---- the walk: a scenario using everything that allocates, failed at every step ---- */

#define NKIDS 70 /* more than one 4 MiB stack chunk (64 KiB stacks) and a large gather */

struct scenario {
    int enomem;     /* calls that returned -ENOMEM */
    int count;      /* kids done + callbacks run */
    bool completed; /* every step succeeded */
};

/* A call returned -ENOMEM: count it, stop failing allocations, check the loop still works. */
static void on_enomem(struct scenario *s)
{
    s->enomem++;
    ct_fail_alloc_after(0);
    check_usable();
}

static int scenario_main(void *arg)
{
    struct scenario *s = arg;
    cask_future *f = NULL;
    cask_handle *h = NULL;
    cask_task *kids[NKIDS];
    int nkids = 0;
    int rc = cask_future_new(&f);
    if (rc == 0)
        rc = cask_future_add_done_callback(f, count_future_cb, &s->count);
    if (rc == 0)
        rc = cask_call_later(&h, 0.005, count_cb, &s->count);
    while (rc == 0 && nkids < NKIDS) {
        rc = cask_spawn(&kids[nkids], child, &s->count);
        if (rc == 0)
            nkids++;
    }
    if (rc == 0)
        rc = cask_future_set_result(f, NULL); /* its callback is scheduled (or run now) */
    if (rc == 0)
        rc = cask_gather(kids, (size_t)nkids, NULL); /* over 16 tasks: allocates */
    if (rc == 0) {
        s->completed = true;
        CHECK_EQ(s->count, NKIDS + 2);
    } else {
        CHECK_EQ(rc, -ENOMEM); /* from the call itself, or from a kid's sleep */
        on_enomem(s);
    }
    /* clean up: wait for every kid, reading its status, and give everything back */
    int st[NKIDS];
    rc = cask_gather(kids, (size_t)nkids, st);
    if (rc == -ENOMEM) {
        on_enomem(s);
        rc = cask_gather(kids, (size_t)nkids, st);
    }
    CHECK_EQ(rc, 0);
    for (int i = 0; i < nkids; i++) {
        CHECK(st[i] == 0 || st[i] == -ENOMEM);
        cask_release(kids[i]);
    }
    cask_handle_cancel(h);
    cask_future_free(f);
    return 0;
}

TEST_T(alloc_walk_every_allocation, 60)
{
    long n;
    int reported = 0;
    for (n = 1; n < MAX_N; n++) {
        struct scenario s = {0};
        long total = ct_allocs_total();
        ct_fail_alloc_after(n);
        int rc = ct_run_virtual(scenario_main, &s);
        ct_fail_alloc_after(0);
        CHECK_EQ(ct_allocs_live(), 0); /* nothing leaked, whatever failed */
        bool failed = ct_allocs_total() - total >= n;
        if (rc == -ENOMEM) { /* cask_run could not start */
            CHECK(failed);
            continue;
        }
        CHECK_EQ(rc, 0);
        CHECK(s.enomem <= 1);
        reported += s.enomem;
        if (!failed) { /* the n-th allocation never came: every one has been failed once */
            CHECK(s.completed);
            CHECK_EQ(s.enomem, 0);
            break;
        }
    }
    CHECK(n < MAX_N);
    CHECK(reported >= 5); /* future, callback list, handle slab, stack chunk, gather, ... */
}

/* The fail-every-n-th-allocation mode: with every 2nd (then 3rd) allocation failing, spawns
 * and future creations either work or return -ENOMEM, nothing leaks, and the loop works on. */
static int every_main(void *arg)
{
    long every = *(long *)arg;
    int ran = 0, spawned = 0, nomem = 0;
    ct_fail_alloc_every(every);
    for (int i = 0; i < 400; i++) {
        cask_task *t = NULL;
        struct cask_spawn_opts o = {.stack_size = (size_t)(1 + i % 3) * CASK_STACK_MIN};
        int rc = cask_spawn_with(&t, child, &ran, &o);
        if (rc == -ENOMEM) {
            CHECK(t == NULL);
            nomem++;
        } else {
            CHECK_EQ(rc, 0);
            spawned++;
            rc = cask_join(t);
            CHECK(rc == 0 || rc == -ENOMEM); /* -ENOMEM: no stack could be had at its first run */
            cask_release(t);
        }
        cask_future *f = NULL;
        rc = cask_future_new(&f);
        if (rc == -ENOMEM) {
            CHECK(f == NULL);
            nomem++;
        } else {
            CHECK_EQ(rc, 0);
            CHECK_EQ(cask_future_set_result(f, NULL), 0);
            cask_future_free(f);
        }
    }
    ct_fail_alloc_every(0);
    CHECK(nomem > 0);
    CHECK(spawned > 0);
    check_usable();
    return 0;
}
TEST(alloc_fail_every_nth)
{
    for (long every = 2; every <= 3; every++)
        CHECK_EQ(ct_run_virtual(every_main, &every), 0);
}

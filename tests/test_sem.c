/* test_sem.c: cask_sem (CONFORMANCE SE1-SE3). */
#define _GNU_SOURCE
#include "cask_test.h"

static cask_sem g_sem = CASK_SEM_INIT(1);

struct sworker {
    cask_sem *s;
    const char *name;
    int rounds;
    int acquired;
};

static int sem_worker(void *arg)
{
    struct sworker *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        int rc = cask_sem_acquire(w->s);
        if (rc < 0) {
            ct_log("%s:%s", w->name, cask_errname(rc));
            return rc;
        }
        w->acquired++;
        ct_log("%s", w->name);
        rc = cask_sleep(0.01);
        CHECK_EQ(cask_sem_release(w->s), 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* SE1: three tasks each acquire/sleep/release twice: c1,c2,c3,c1,c2,c3. */
static int se1_main(void *arg)
{
    (void)arg;
    struct sworker w[3] = {{&g_sem, "c1", 2, 0}, {&g_sem, "c2", 2, 0}, {&g_sem, "c3", 2, 0}};
    cask_task *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], sem_worker, &w[i]), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
    CHECK_LOG("c1,c2,c3,c1,c2,c3");
    CHECK_EQ(cask_sem_value(&g_sem), 1);
    return 0;
}
TEST(se1_fifo) { CHECK_EQ(ct_run_virtual(se1_main, NULL), 0); }

/* SE2: semaphore(0), three waiters, the first cancelled, two releases: the second and third
 * proceed. Also: the first handed a unit and cancelled in the same step passes it on. */
static int se2_main(void *arg)
{
    bool handed = *(bool *)arg;
    cask_sem s;
    CHECK_EQ(cask_sem_init(&s, 0), 0);
    struct sworker w[3] = {{&s, "c1", 1, 0}, {&s, "c2", 1, 0}, {&s, "c3", 1, 0}};
    cask_task *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], sem_worker, &w[i]), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_sem_locked(&s));
    if (handed) {
        CHECK_EQ(cask_sem_release(&s), 0); /* to c1... */
        CHECK(cask_cancel(t[0]));          /* ...cancelled before it runs */
    } else {
        CHECK(cask_cancel(t[0]));
        CHECK_EQ(cask_sem_release(&s), 0);
    }
    CHECK_EQ(cask_sem_release(&s), 0);
    CHECK_EQ(cask_join(t[0]), -ECANCELED);
    CHECK_EQ(cask_join(t[1]), 0);
    CHECK_EQ(cask_join(t[2]), 0);
    CHECK_EQ(w[0].acquired, 0);
    CHECK_EQ(w[1].acquired + w[2].acquired, 2);
    CHECK_EQ(cask_sem_value(&s), 2);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    return 0;
}
TEST(se2_cancelled_waiter_skipped)
{
    bool handed = false;
    CHECK_EQ(ct_run_virtual(se2_main, &handed), 0);
    ct_log_reset();
    handed = true;
    CHECK_EQ(ct_run_virtual(se2_main, &handed), 0);
}

/* SE3: negative start is an error; a bounded semaphore released too often is an error; a plain
 * one may exceed its start value. No barging: a unit released with waiters goes to them. */
static int se3_main(void *arg)
{
    (void)arg;
    cask_sem s, b;
    static cask_sem bs = CASK_BOUNDED_SEM_INIT(2);
    CHECK_EQ(cask_sem_init(&s, -1), -EINVAL);
    CHECK_EQ(cask_bounded_sem_init(&b, -1), -EINVAL);
    CHECK_EQ(cask_sem_init(&s, 1), 0);
    CHECK_EQ(cask_sem_release(&s), 0);
    CHECK_EQ(cask_sem_value(&s), 2);
    CHECK_EQ(cask_bounded_sem_init(&b, 1), 0);
    CHECK_EQ(cask_sem_release(&b), -EINVAL);
    CHECK_EQ(cask_sem_acquire(&b), 0);
    CHECK_EQ(cask_sem_try_acquire(&b), -EAGAIN);
    CHECK_EQ(cask_sem_release(&b), 0);
    CHECK_EQ(cask_sem_release(&b), -EINVAL);
    CHECK_EQ(cask_sem_value(&bs), 2);
    CHECK_EQ(cask_sem_release(&bs), -EINVAL);
    /* hand-off: c1 waits on b; main releases and at once tries to take it back */
    struct sworker w = {&b, "c1", 1, 0};
    cask_task *t;
    CHECK_EQ(cask_sem_acquire(&b), 0);
    CHECK_EQ(cask_spawn(&t, sem_worker, &w), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_sem_release(&b), 0);
    CHECK_EQ(cask_sem_try_acquire(&b), -EAGAIN);
    CHECK_EQ(cask_sem_acquire(&b), 0); /* after c1 */
    CHECK_LOG("c1");
    CHECK_EQ(cask_sem_release(&b), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    return 0;
}
TEST(se3_values_and_bounds)
{
    cask_sem s = CASK_SEM_INIT(0);
    CHECK_EQ(cask_sem_acquire(&s), -EPERM);
    CHECK_EQ(ct_run_virtual(se3_main, NULL), 0);
}

/* asyncio 3.13 test_acquire_fifo_order_2: units handed to waiters that have not run yet are
 * theirs: a task that releases and acquires again meanwhile queues behind them. */
static cask_sem g_fifo;

static int fifo_c1(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_acquire(&g_fifo), 0);
    ct_log("1");
    return 0;
}
static int fifo_c2(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_acquire(&g_fifo), 0);
    ct_log("2");
    CHECK_EQ(cask_sem_release(&g_fifo), 0);
    CHECK(cask_sem_locked(&g_fifo)); /* c3 was handed a unit and has not run */
    CHECK_EQ(cask_sem_try_acquire(&g_fifo), -EAGAIN);
    CHECK_EQ(cask_sem_acquire(&g_fifo), 0);
    ct_log("4");
    return 0;
}
static int fifo_c3(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_acquire(&g_fifo), 0);
    ct_log("3");
    return 0;
}
static void join_all(cask_task **t, int n)
{
    for (int i = 0; i < n; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
}
static int fifo2_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_init(&g_fifo, 1), 0);
    cask_task *t[3];
    CHECK_EQ(cask_spawn(&t[0], fifo_c1, NULL), 0);
    CHECK_EQ(cask_spawn(&t[1], fifo_c2, NULL), 0);
    CHECK_EQ(cask_spawn(&t[2], fifo_c3, NULL), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_sem_release(&g_fifo), 0);
    CHECK_EQ(cask_sem_release(&g_fifo), 0);
    join_all(t, 3);
    CHECK_LOG("1,2,3,4");
    CHECK_EQ(cask_sem_value(&g_fifo), 0);
    CHECK(cask_sem_locked(&g_fifo));
    return 0;
}
TEST(sem_fifo_order_2) { CHECK_EQ(ct_run_virtual(fifo2_main, NULL), 0); }

/* asyncio 3.13 test_acquire_fifo_order_4: the waiter that runs first after a hand-over wakes
 * the waiters queued behind it by the FIFO rule while units are free. */
static cask_task *g_t4;

static int fifo4_c4(void *arg)
{
    (void)arg;
    ct_log("4");
    return 0;
}
static int fifo4_c1(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_value(&g_fifo), 0);
    CHECK_EQ(cask_sem_acquire(&g_fifo), 0);
    CHECK_EQ(cask_sem_value(&g_fifo), 0); /* the free units went to c2 and c3 */
    CHECK_EQ(cask_spawn(&g_t4, fifo4_c4, NULL), 0);
    ct_log("1");
    return 0;
}
static int fifo4_c2(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_release(&g_fifo), 0);
    CHECK_EQ(cask_sem_release(&g_fifo), 0);
    CHECK_EQ(cask_sem_release(&g_fifo), 0);
    CHECK_EQ(cask_sem_value(&g_fifo), 2);
    CHECK(cask_sem_locked(&g_fifo)); /* c1 has not run yet */
    CHECK_EQ(cask_sem_acquire(&g_fifo), 0);
    ct_log("2");
    return 0;
}
static int fifo4_c3(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_acquire(&g_fifo), 0);
    CHECK(cask_sem_locked(&g_fifo));
    ct_log("3");
    return 0;
}
static int fifo4_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sem_init(&g_fifo, 0), 0);
    cask_task *t[4];
    CHECK_EQ(cask_spawn(&t[0], fifo4_c1, NULL), 0);
    CHECK_EQ(cask_spawn(&t[1], fifo4_c2, NULL), 0);
    CHECK_EQ(cask_spawn(&t[2], fifo4_c3, NULL), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_sem_value(&g_fifo), 2);
    CHECK(cask_sem_locked(&g_fifo));
    join_all(t, 3);
    t[3] = g_t4;
    join_all(t + 3, 1);
    CHECK_LOG("1,2,3,4");
    return 0;
}
TEST(sem_fifo_order_4) { CHECK_EQ(ct_run_virtual(fifo4_main, NULL), 0); }

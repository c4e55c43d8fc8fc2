/* test_lock.c: cask_lock (CONFORMANCE L1-L3): FIFO hand-off, cancel races, misuse. */
#define _GNU_SOURCE
#include "cask_test.h"

static cask_lock g_lock = CASK_LOCK_INIT; /* a module-level lock, as asyncio.Lock() */

struct child {
    cask_lock *lock;
    const char *name;
    int acquired;
};

/* acquire, log, yield, release */
static int locker(void *arg)
{
    struct child *c = arg;
    int rc = cask_lock_acquire(c->lock);
    if (rc < 0) {
        ct_log("%s:%s", c->name, cask_errname(rc));
        return rc;
    }
    c->acquired++;
    ct_log("%s", c->name);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_lock_release(c->lock), 0);
    return 0;
}

/* L1: FIFO hand-off, and a later acquirer queues behind the waiters (no barging). */
static int l1_main(void *arg)
{
    (void)arg;
    CHECK(!cask_lock_locked(&g_lock));
    CHECK_EQ(cask_lock_acquire(&g_lock), 0);
    struct child c1 = {&g_lock, "c1", 0}, c2 = {&g_lock, "c2", 0};
    cask_task *t1, *t2, *t3;
    CHECK_EQ(cask_spawn(&t1, locker, &c1), 0);
    CHECK_EQ(cask_spawn(&t2, locker, &c2), 0);
    CHECK_EQ(cask_yield(), 0); /* both queue on the lock */
    CHECK_EQ(cask_lock_release(&g_lock), 0); /* handed to c1 */
    CHECK(cask_lock_locked(&g_lock));
    CHECK_EQ(cask_lock_try_acquire(&g_lock), -EAGAIN);
    struct child c3 = {&g_lock, "c3", 0};
    CHECK_EQ(cask_spawn(&t3, locker, &c3), 0);
    /* queues behind c1 (handed) and c2; c3 has not run yet, so it comes after main */
    CHECK_EQ(cask_lock_acquire(&g_lock), 0);
    ct_log("main");
    CHECK_LOG("c1,c2,main");
    CHECK_EQ(cask_lock_release(&g_lock), 0); /* to c3 */
    CHECK(cask_lock_locked(&g_lock));
    CHECK_EQ(cask_join(t1), 0);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_EQ(cask_join(t3), 0);
    CHECK_LOG("c1,c2,main,c3");
    CHECK(!cask_lock_locked(&g_lock));
    cask_release(t1);
    cask_release(t2);
    cask_release(t3);
    return 0;
}
TEST(l1_fifo_handoff_no_barging) { CHECK_EQ(ct_run_virtual(l1_main, NULL), 0); }

/* L2a: a waiter handed the lock and cancelled in the same iteration passes it on. */
static int l2a_main(void *arg)
{
    (void)arg;
    cask_lock lock;
    cask_lock_init(&lock);
    struct child c1 = {&lock, "c1", 0}, c2 = {&lock, "c2", 0};
    cask_task *t1, *t2;
    CHECK_EQ(cask_lock_acquire(&lock), 0);
    CHECK_EQ(cask_spawn(&t1, locker, &c1), 0);
    CHECK_EQ(cask_spawn(&t2, locker, &c2), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_lock_release(&lock), 0); /* c1 is handed the lock... */
    CHECK(cask_cancel(t1));                /* ...and cancelled before it runs */
    CHECK_EQ(cask_join(t1), -ECANCELED);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_EQ(c1.acquired, 0);
    CHECK_EQ(c2.acquired, 1);
    CHECK_LOG("c1:ECANCELED,c2");
    CHECK(!cask_lock_locked(&lock));
    cask_release(t1);
    cask_release(t2);
    return 0;
}
TEST(l2_handed_then_cancelled_passes_on) { CHECK_EQ(ct_run_virtual(l2a_main, NULL), 0); }

/* L2b: cancel and release in one step, in either order: exactly one acquisition. */
static int l2b_main(void *arg)
{
    int order = *(int *)arg;
    cask_lock lock = CASK_LOCK_INIT;
    struct child c1 = {&lock, "c1", 0}, c2 = {&lock, "c2", 0};
    cask_task *t1, *t2;
    CHECK_EQ(cask_lock_acquire(&lock), 0);
    CHECK_EQ(cask_spawn(&t1, locker, &c1), 0);
    CHECK_EQ(cask_spawn(&t2, locker, &c2), 0);
    CHECK_EQ(cask_yield(), 0);
    if (order == 0) {
        CHECK(cask_cancel(t1));
        CHECK_EQ(cask_lock_release(&lock), 0);
    } else {
        CHECK_EQ(cask_lock_release(&lock), 0);
        CHECK(cask_cancel(t1));
    }
    CHECK_EQ(cask_join(t1), -ECANCELED);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_EQ(c1.acquired + c2.acquired, 1);
    CHECK_EQ(c2.acquired, 1);
    CHECK(!cask_lock_locked(&lock));
    cask_release(t1);
    cask_release(t2);
    return 0;
}
TEST(l2_cancel_and_release_one_acquisition)
{
    int order = 0;
    CHECK_EQ(ct_run_virtual(l2b_main, &order), 0);
    order = 1;
    CHECK_EQ(ct_run_virtual(l2b_main, &order), 0);
}

/* L2c: cancelled while waiting (alone): the lock is unchanged; a timeout works the same. */
static int l2c_timeout(void *arg)
{
    cask_lock *lock = arg;
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.5), 0);
    int rc = cask_lock_acquire(lock);
    rc = cask_scope_close(&sc, rc);
    ct_log("timeout:%s", cask_errname(rc));
    return 0;
}
static int l2c_main(void *arg)
{
    (void)arg;
    cask_lock lock = CASK_LOCK_INIT;
    struct child c1 = {&lock, "c1", 0};
    cask_task *t1, *t2;
    double t0 = cask_time();
    CHECK_EQ(cask_lock_acquire(&lock), 0);
    CHECK_EQ(cask_spawn(&t1, locker, &c1), 0);
    CHECK_EQ(cask_spawn(&t2, l2c_timeout, &lock), 0);
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK(cask_cancel(t1));
    CHECK_EQ(cask_join(t1), -ECANCELED);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_NEAR(cask_time() - t0, 0.5, 0.01);
    CHECK_LOG("c1:ECANCELED,timeout:ETIMEDOUT");
    CHECK(cask_lock_locked(&lock));
    CHECK_EQ(cask_lock_release(&lock), 0);
    CHECK(!cask_lock_locked(&lock));
    cask_release(t1);
    cask_release(t2);
    return 0;
}
TEST(l2_cancelled_waiter_holds_nothing) { CHECK_EQ(ct_run_virtual(l2c_main, NULL), 0); }

/* L3: releasing an unlocked lock is an error; so are re-entry and use outside a task. */
static int l3_main(void *arg)
{
    (void)arg;
    cask_lock lock = CASK_LOCK_INIT;
    CHECK_EQ(cask_lock_release(&lock), -EPERM);
    CHECK_EQ(cask_lock_acquire(&lock), 0);
    CHECK_EQ(cask_lock_acquire(&lock), -EDEADLK);
    CHECK_EQ(cask_lock_release(&lock), 0);
    CHECK_EQ(cask_lock_release(&lock), -EPERM);
    CHECK_EQ(cask_lock_try_acquire(&lock), 0);
    CHECK_EQ(cask_lock_try_acquire(&lock), -EAGAIN);
    CHECK_EQ(cask_lock_release(&lock), 0);
    /* a cancelled task still takes a free lock without waiting (no suspension, as asyncio) */
    CHECK(cask_cancel(cask_current()));
    CHECK_EQ(cask_lock_acquire(&lock), 0);
    CHECK_EQ(cask_lock_release(&lock), 0);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    return 0;
}
TEST(l3_release_unlocked_is_error)
{
    cask_lock lock = CASK_LOCK_INIT;
    CHECK_EQ(cask_lock_acquire(&lock), -EPERM); /* not in a task */
    CHECK_EQ(ct_run_virtual(l3_main, NULL), 0);
}

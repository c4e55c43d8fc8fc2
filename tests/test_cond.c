/* test_cond.c: cask_cond (CONFORMANCE CV1-CV4). */
#define _GNU_SOURCE
#include "cask_test.h"

struct cstate {
    cask_cond cond;
    int items;
    int x;
};

struct cwaiter {
    struct cstate *s;
    const char *name;
    int status;
    bool locked_after; /* the lock was held when the wait returned */
};

/* acquire; wait; log; release */
static int plain_waiter(void *arg)
{
    struct cwaiter *w = arg;
    CHECK_EQ(cask_cond_acquire(&w->s->cond), 0);
    w->status = cask_cond_wait(&w->s->cond);
    w->locked_after = cask_cond_locked(&w->s->cond);
    ct_log("%s:%s", w->name, cask_errname(w->status));
    CHECK_EQ(cask_cond_release(&w->s->cond), 0);
    return w->status;
}

static bool have_item(void *arg) { return ((struct cstate *)arg)->items > 0; }

/* acquire; wait_for(items > 0); take one; release */
static int consumer(void *arg)
{
    struct cwaiter *w = arg;
    CHECK_EQ(cask_cond_acquire(&w->s->cond), 0);
    w->status = cask_cond_wait_for(&w->s->cond, have_item, w->s);
    w->locked_after = cask_cond_locked(&w->s->cond);
    if (w->status == 0) {
        w->s->items--;
        ct_log("%s:got", w->name);
    } else {
        ct_log("%s:%s", w->name, cask_errname(w->status));
    }
    CHECK_EQ(cask_cond_release(&w->s->cond), 0);
    return w->status;
}

static void spawn_all(cask_task **t, struct cwaiter *w, int n, cask_fn fn)
{
    for (int i = 0; i < n; i++)
        CHECK_EQ(cask_spawn(&t[i], fn, &w[i]), 0);
}

static void join_all(cask_task **t, int n)
{
    for (int i = 0; i < n; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
}

/* CV1: notify with the lock held wakes nobody until release; notify(2) wakes two;
 * notify(2048) wakes the rest; notify or wait without the lock is an error. */
static int cv1_main(void *arg)
{
    (void)arg;
    static struct cstate s = {.cond = CASK_COND_INIT};
    struct cwaiter w[5] = {{&s, "w0", 0, 0}, {&s, "w1", 0, 0}, {&s, "w2", 0, 0},
                           {&s, "w3", 0, 0}, {&s, "w4", 0, 0}};
    cask_task *t[5];
    CHECK_EQ(cask_cond_notify(&s.cond, 1), -EPERM);
    CHECK_EQ(cask_cond_notify_all(&s.cond), -EPERM);
    CHECK_EQ(cask_cond_wait(&s.cond), -EPERM);
    spawn_all(t, w, 5, plain_waiter);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_cond_acquire(&s.cond), 0);
    CHECK_EQ(cask_cond_notify(&s.cond, 2), 2);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_LOG(""); /* woken, but waiting for the lock main holds */
    CHECK_EQ(cask_cond_release(&s.cond), 0);
    CHECK_EQ(cask_sleep(0.01), 0);
    CHECK_LOG("w0:OK,w1:OK");
    CHECK_EQ(cask_cond_acquire(&s.cond), 0);
    CHECK_EQ(cask_cond_notify(&s.cond, 2048), 3);
    CHECK_EQ(cask_cond_notify(&s.cond, 2048), 0);
    CHECK_EQ(cask_cond_release(&s.cond), 0);
    join_all(t, 5);
    CHECK_LOG("w0:OK,w1:OK,w2:OK,w3:OK,w4:OK");
    for (int i = 0; i < 5; i++)
        CHECK(w[i].locked_after);
    return 0;
}
TEST(cv1_notify_counts_and_lock) { CHECK_EQ(ct_run_virtual(cv1_main, NULL), 0); }

/* CV2: a cancelled wait re-acquires the lock before returning -ECANCELED. */
static int cv2_main(void *arg)
{
    (void)arg;
    struct cstate s;
    cask_lock shared = CASK_LOCK_INIT;
    cask_cond_init(&s.cond, &shared); /* over a given lock */
    struct cwaiter w = {&s, "w", 0, 0};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, plain_waiter, &w), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(!cask_lock_locked(&shared)); /* the wait released it */
    CHECK_EQ(cask_lock_acquire(&shared), 0);
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_LOG(""); /* cancelled, but it cannot return before it has the lock again */
    CHECK(!cask_task_done(t));
    CHECK_EQ(cask_lock_release(&shared), 0);
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK_LOG("w:ECANCELED");
    CHECK(w.locked_after);
    CHECK(!cask_lock_locked(&shared));
    cask_release(t);
    return 0;
}
TEST(cv2_cancelled_wait_retakes_lock) { CHECK_EQ(ct_run_virtual(cv2_main, NULL), 0); }

/* CV3: two consumers, one item, notify(1), the notified consumer is cancelled: the other
 * still takes the item. Both while the lock is free and while main still holds it. */
static int cv3_main(void *arg)
{
    bool hold = *(bool *)arg;
    struct cstate s = {.cond = CASK_COND_INIT};
    struct cwaiter w[2] = {{&s, "c1", 0, 0}, {&s, "c2", 0, 0}};
    cask_task *t[2];
    spawn_all(t, w, 2, consumer);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_cond_acquire(&s.cond), 0);
    s.items = 1;
    CHECK_EQ(cask_cond_notify(&s.cond, 1), 1);
    if (hold) {
        CHECK_EQ(cask_yield(), 0); /* c1 now waits for the lock */
        CHECK(cask_cancel(t[0]));
        CHECK_EQ(cask_yield(), 0);
        CHECK_EQ(cask_cond_release(&s.cond), 0);
    } else {
        CHECK_EQ(cask_cond_release(&s.cond), 0);
        CHECK(cask_cancel(t[0])); /* notified, not yet run */
    }
    CHECK_EQ(cask_join(t[0]), -ECANCELED);
    CHECK_EQ(cask_join(t[1]), 0);
    CHECK_LOG("c1:ECANCELED,c2:got");
    CHECK_EQ(s.items, 0);
    CHECK(w[0].locked_after);
    CHECK(!cask_cond_locked(&s.cond));
    cask_release(t[0]);
    cask_release(t[1]);
    return 0;
}
TEST(cv3_no_lost_wakeup)
{
    bool hold = false;
    CHECK_EQ(ct_run_virtual(cv3_main, &hold), 0);
    ct_log_reset();
    hold = true;
    CHECK_EQ(ct_run_virtual(cv3_main, &hold), 0);
}

/* CV4: wait_for returns only once the predicate holds. */
static bool x_is_3(void *arg) { return ((struct cstate *)arg)->x >= 3; }
static int cv4_waiter(void *arg)
{
    struct cstate *s = arg;
    CHECK_EQ(cask_cond_acquire(&s->cond), 0);
    CHECK_EQ(cask_cond_wait_for(&s->cond, x_is_3, s), 0);
    ct_log("done at x=%d", s->x);
    CHECK_EQ(cask_cond_release(&s->cond), 0);
    return 0;
}
static int cv4_main(void *arg)
{
    (void)arg;
    struct cstate s = {.cond = CASK_COND_INIT};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, cv4_waiter, &s), 0);
    for (int i = 1; i <= 4; i++) {
        CHECK_EQ(cask_sleep(0.1), 0);
        CHECK_EQ(cask_cond_acquire(&s.cond), 0);
        s.x = i;
        ct_log("x=%d", i);
        CHECK(cask_cond_notify_all(&s.cond) >= 0);
        CHECK_EQ(cask_cond_release(&s.cond), 0);
    }
    CHECK_EQ(cask_join(t), 0);
    CHECK_LOG("x=1,x=2,x=3,done at x=3,x=4");
    CHECK_EQ(cask_cond_acquire(&s.cond), 0);
    CHECK_EQ(cask_cond_wait_for(&s.cond, NULL, NULL), -EINVAL);
    CHECK_EQ(cask_cond_wait_for(&s.cond, x_is_3, &s), 0); /* holds already: no wait */
    CHECK_EQ(cask_cond_release(&s.cond), 0);
    cask_release(t);
    return 0;
}
TEST(cv4_wait_for_predicate) { CHECK_EQ(ct_run_virtual(cv4_main, NULL), 0); }

/* A task already cancelled returns from wait at once, still holding the lock. */
static int cv_precancel_main(void *arg)
{
    (void)arg;
    cask_cond c = CASK_COND_INIT;
    CHECK_EQ(cask_cond_acquire(&c), 0);
    CHECK(cask_cancel(cask_current()));
    CHECK_EQ(cask_cond_wait(&c), -ECANCELED);
    CHECK(cask_cond_locked(&c));
    CHECK_EQ(cask_cond_release(&c), 0);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    return 0;
}
TEST(cv_wait_when_cancelled) { CHECK_EQ(ct_run_virtual(cv_precancel_main, NULL), 0); }

/* A timeout around a wait: -ETIMEDOUT after the scope closes, the lock held again. */
static int cv_timeout_main(void *arg)
{
    (void)arg;
    cask_cond c = CASK_COND_INIT;
    double t0 = cask_time();
    CHECK_EQ(cask_cond_acquire(&c), 0);
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.25), 0);
    int rc = cask_cond_wait(&c);
    CHECK_EQ(cask_scope_close(&sc, rc), -ETIMEDOUT);
    CHECK(cask_cond_locked(&c));
    CHECK_NEAR(cask_time() - t0, 0.25, 0.01);
    CHECK_EQ(cask_cond_release(&c), 0);
    return 0;
}
TEST(cv_wait_timeout) { CHECK_EQ(ct_run_virtual(cv_timeout_main, NULL), 0); }

/* Waiting on a condition whose lock another task holds is an error, as is a wait outside a
 * task; the lock is left alone. */
static int cv_holder(void *arg)
{
    cask_cond *c = arg;
    CHECK_EQ(cask_cond_acquire(c), 0);
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_EQ(cask_cond_release(c), 0);
    return 0;
}
static int cv_other_main(void *arg)
{
    (void)arg;
    cask_cond c = CASK_COND_INIT;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, cv_holder, &c), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_cond_locked(&c));
    CHECK_EQ(cask_cond_wait(&c), -EPERM);
    CHECK(cask_cond_locked(&c));
    CHECK_EQ(cask_join(t), 0);
    CHECK(!cask_cond_locked(&c));
    cask_release(t);
    return 0;
}
TEST(cv_wait_lock_of_other_task)
{
    cask_cond c = CASK_COND_INIT;
    CHECK_EQ(cask_cond_wait(&c), -EPERM);
    CHECK_EQ(ct_run_virtual(cv_other_main, NULL), 0);
}

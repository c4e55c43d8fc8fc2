/* test_wait.c: wait, as_completed (CONFORMANCE W1-W6), wait_for (WF1-WF4), shield (SH1-SH2). */
#define _GNU_SOURCE
#include "cask_test.h"

#define FAIL(n) (CASK_EUSER - (n))

struct nap {
    const char *name;
    double sleep;
    int result; /* returned after the sleep */
    double cleanup; /* on cancellation: log, acknowledge, sleep this long, return result */
};

static int nap(void *arg)
{
    struct nap *n = arg;
    int rc = cask_sleep(n->sleep);
    if (rc == -ECANCELED) {
        ct_log("%s:cancelled", n->name);
        if (n->cleanup > 0) {
            cask_uncancel(cask_current());
            CHECK_EQ(cask_sleep(n->cleanup), 0);
            ct_log("%s:cleaned", n->name);
            return n->result;
        }
        return rc;
    }
    ct_log("%s:done", n->name);
    return n->result;
}

static void spawn_naps(cask_task **t, struct nap *n, size_t k)
{
    for (size_t i = 0; i < k; i++)
        CHECK_EQ(cask_spawn(&t[i], nap, &n[i]), 0);
}
static void release_all(cask_task **t, size_t k)
{
    for (size_t i = 0; i < k; i++)
        cask_release(t[i]);
}

/* W1: all-completed returns when the last one ends. */
static int w1_main(void *arg)
{
    (void)arg;
    struct nap n[2] = {{"a", 0.1, 0, 0}, {"b", 0.15, 0, 0}};
    cask_task *t[2];
    spawn_naps(t, n, 2);
    double t0 = cask_time();
    size_t nd = 9;
    CHECK_EQ(cask_wait(t, 2, CASK_ALL_COMPLETED, INFINITY, &nd), 0);
    CHECK_NEAR(cask_time() - t0, 0.15, 1e-6);
    CHECK_EQ(nd, 2);
    CHECK(cask_task_done(t[0]) && cask_task_done(t[1]));
    release_all(t, 2);
    return 0;
}
TEST(w1_all_completed) { CHECK_EQ(ct_run_virtual(w1_main, NULL), 0); }

/* W2: first-completed returns at the first end, one done and one pending. */
static int w2_main(void *arg)
{
    (void)arg;
    struct nap n[2] = {{"a", 0.15, 0, 0}, {"b", 0.1, 0, 0}};
    cask_task *t[2];
    spawn_naps(t, n, 2);
    double t0 = cask_time();
    size_t nd = 0;
    CHECK_EQ(cask_wait(t, 2, CASK_FIRST_COMPLETED, INFINITY, &nd), 0);
    CHECK_NEAR(cask_time() - t0, 0.1, 1e-6);
    CHECK_EQ(nd, 1);
    CHECK(!cask_task_done(t[0]) && cask_task_done(t[1]));
    CHECK_EQ(cask_join(t[0]), 0);
    release_all(t, 2);
    return 0;
}
TEST(w2_first_completed) { CHECK_EQ(ct_run_virtual(w2_main, NULL), 0); }

/* W3: first-exception returns at once if one already failed, else when one fails; a task
 * that ends well or cancelled does not count. */
static int w3_main(void *arg)
{
    (void)arg;
    struct nap n[4] = {{"ok", 0.1, 0, 0}, {"bad", 0.3, FAIL(1), 0}, {"slow", 1, 0, 0},
                       {"victim", 5, 0, 0}};
    cask_task *t[4];
    spawn_naps(t, n, 4);
    double t0 = cask_time();
    CHECK_EQ(cask_sleep(0.05), 0);
    cask_cancel(t[3]);
    size_t nd = 0;
    CHECK_EQ(cask_wait(t, 4, CASK_FIRST_EXCEPTION, INFINITY, &nd), 0);
    CHECK_NEAR(cask_time() - t0, 0.3, 1e-6);
    CHECK_EQ(nd, 3);
    t0 = cask_time();
    CHECK_EQ(cask_wait(t, 4, CASK_FIRST_EXCEPTION, INFINITY, &nd), 0); /* at once */
    CHECK_NEAR(cask_time() - t0, 0, 1e-9);
    int st;
    CHECK_EQ(cask_task_status(t[1], &st), 0);
    CHECK_EQ(st, FAIL(1));
    /* with no failure at all, first-exception waits for all */
    struct nap m[2] = {{"x", 0.1, 0, 0}, {"y", 0.2, 0, 0}};
    cask_task *u[2];
    spawn_naps(u, m, 2);
    t0 = cask_time();
    CHECK_EQ(cask_wait(u, 2, CASK_FIRST_EXCEPTION, INFINITY, &nd), 0);
    CHECK_NEAR(cask_time() - t0, 0.2, 1e-6);
    CHECK_EQ(cask_join(t[2]), 0);
    release_all(t, 4);
    release_all(u, 2);
    return 0;
}
TEST(w3_first_exception) { CHECK_EQ(ct_run_virtual(w3_main, NULL), 0); }

/* W4: a timeout returns what is done, raises nothing, cancels nothing. */
static int w4_main(void *arg)
{
    (void)arg;
    struct nap n[20];
    cask_task *t[20];
    for (int i = 0; i < 20; i++)
        n[i] = (struct nap){"n", 0.1 * (i + 1), 0, 0};
    spawn_naps(t, n, 20); /* more than fit on the stack: the waiters are allocated */
    double t0 = cask_time();
    size_t nd = 0;
    CHECK_EQ(cask_wait(t, 20, CASK_ALL_COMPLETED, 0.55, &nd), 0);
    CHECK_NEAR(cask_time() - t0, 0.55, 1e-6);
    CHECK_EQ(nd, 5);
    CHECK_EQ(cask_wait(t, 20, CASK_ALL_COMPLETED, 0, &nd), 0); /* just look */
    CHECK_EQ(nd, 5);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(cask_join(t[i]), 0); /* none was cancelled */
    release_all(t, 20);
    return 0;
}
TEST(w4_timeout_cancels_nothing) { CHECK_EQ(ct_run_virtual(w4_main, NULL), 0); }

/* W5: cancelling the waiter does not cancel the tasks it waited on. */
static int w5_waiter(void *arg)
{
    cask_task **t = arg;
    return cask_wait(t, 2, CASK_ALL_COMPLETED, INFINITY, NULL);
}
static int w5_main(void *arg)
{
    (void)arg;
    struct nap n[2] = {{"a", 1, 0, 0}, {"b", 2, 0, 0}};
    cask_task *t[2], *w;
    spawn_naps(t, n, 2);
    CHECK_EQ(cask_spawn(&w, w5_waiter, t), 0);
    CHECK_EQ(cask_sleep(0.5), 0);
    cask_cancel(w);
    CHECK_EQ(cask_join(w), -ECANCELED);
    CHECK(!cask_task_done(t[0]));
    CHECK_EQ(cask_gather(t, 2, NULL), 0);
    CHECK_LOG("a:done,b:done");
    release_all(t, 2);
    cask_release(w);
    return 0;
}
TEST(w5_cancel_waiter_not_tasks) { CHECK_EQ(ct_run_virtual(w5_main, NULL), 0); }

static int wait_misuse_main(void *arg)
{
    (void)arg;
    cask_task *t[2] = {cask_current(), NULL};
    size_t nd = 7;
    CHECK_EQ(cask_wait(NULL, 1, CASK_ALL_COMPLETED, 1, &nd), -EINVAL);
    CHECK_EQ(nd, 0);
    CHECK_EQ(cask_wait(t, 1, 5, 1, NULL), -EINVAL);
    CHECK_EQ(cask_wait(t, 1, CASK_ALL_COMPLETED, NAN, NULL), -EINVAL);
    CHECK_EQ(cask_wait(t, 1, CASK_ALL_COMPLETED, 1, NULL), -EDEADLK);
    CHECK_EQ(cask_wait(t + 1, 1, CASK_ALL_COMPLETED, 1, NULL), -EINVAL);
    CHECK_EQ(cask_wait(NULL, 0, CASK_ALL_COMPLETED, 1, &nd), 0);
    CHECK_EQ(cask_wait_for(NULL, 1), -EINVAL);
    CHECK_EQ(cask_wait_for(t[0], 1), -EDEADLK);
    CHECK_EQ(cask_shield_join(NULL), -EINVAL);
    CHECK_EQ(cask_shield_join(t[0]), -EDEADLK);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(NULL, t, 1, 1), -EINVAL);
    CHECK_EQ(cask_as_completed_new(&it, t + 1, 1, 1), -EINVAL);
    CHECK_EQ(cask_as_completed_new(&it, t, 1, NAN), -EINVAL);
    CHECK_EQ(cask_as_completed_next(NULL, NULL), -EINVAL);
    cask_as_completed_free(NULL);
    /* a cancelled caller: -ECANCELED at once, nothing touched */
    struct nap n = {"n", 1, 0, 0};
    cask_task *c;
    CHECK_EQ(cask_spawn(&c, nap, &n), 0);
    cask_cancel(cask_current());
    CHECK_EQ(cask_wait(&c, 1, CASK_ALL_COMPLETED, 1, NULL), -ECANCELED);
    CHECK_EQ(cask_wait_for(c, 1), -ECANCELED);
    CHECK_EQ(cask_shield_join(c), -ECANCELED);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    CHECK_EQ(cask_join(c), 0);
    cask_release(c);
    return 0;
}
TEST(wait_misuse) { CHECK_EQ(ct_run_virtual(wait_misuse_main, NULL), 0); }
TEST(wait_outside_loop)
{
    CHECK_EQ(cask_wait(NULL, 0, CASK_ALL_COMPLETED, 1, NULL), -EPERM);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, NULL, 0, 1), -EPERM);
}

/* W6: as_completed yields in finishing order; its timeout gives -ETIMEDOUT. */
static int w6_main(void *arg)
{
    (void)arg;
    struct nap n[3] = {{"a", 0.03, 1, 0}, {"b", 0.01, 2, 0}, {"c", 0.02, 3, 0}};
    cask_task *t[3], *d;
    spawn_naps(t, n, 3);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, t, 3, INFINITY), 0);
    int order[3], k = 0, rc, st;
    double t0 = cask_time();
    while ((rc = cask_as_completed_next(it, &d)) > 0) {
        CHECK_EQ(cask_task_status(d, &st), 0);
        order[k++] = st;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(cask_as_completed_next(it, &d), 0);
    CHECK_NEAR(cask_time() - t0, 0.03, 1e-6);
    CHECK_EQ(k, 3);
    CHECK_EQ(order[0], 2);
    CHECK_EQ(order[1], 3);
    CHECK_EQ(order[2], 1);
    cask_as_completed_free(it);
    /* done tasks come first, in argument order */
    CHECK_EQ(cask_as_completed_new(&it, t, 3, INFINITY), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_as_completed_next(it, &d), 1);
        CHECK(d == t[i]);
    }
    cask_as_completed_free(it);
    release_all(t, 3);

    /* timeout */
    struct nap m[3] = {{"x", 0.01, 1, 0}, {"y", 0.5, 2, 0}, {"z", 0.6, 3, 0}};
    spawn_naps(t, m, 3);
    t0 = cask_time();
    CHECK_EQ(cask_as_completed_new(&it, t, 3, 0.1), 0);
    CHECK_EQ(cask_as_completed_next(it, &d), 1);
    CHECK(d == t[0]);
    CHECK_EQ(cask_as_completed_next(it, &d), -ETIMEDOUT);
    CHECK(d == NULL);
    CHECK_NEAR(cask_time() - t0, 0.1, 1e-6);
    CHECK_EQ(cask_as_completed_next(it, &d), -ETIMEDOUT);
    cask_as_completed_free(it); /* unhooks from the running tasks */
    CHECK_EQ(cask_join(t[1]), 2);
    CHECK_EQ(cask_join(t[2]), 3);
    release_all(t, 3);
    return 0;
}
TEST(w6_as_completed) { CHECK_EQ(ct_run_virtual(w6_main, NULL), 0); }

/* as_completed given the same task more than once yields it once (asyncio de-duplicates), for
 * tasks still running and tasks already ended. */
static int ac_dup_main(void *arg)
{
    (void)arg;
    struct nap n[2] = {{"a", 0.02, 1, 0}, {"b", 0.01, 2, 0}};
    cask_task *t[2], *d;
    spawn_naps(t, n, 2);
    cask_task *list[6] = {t[0], t[1], t[0], t[0], t[1], t[0]};
    for (int round = 0; round < 2; round++) { /* running, then ended */
        cask_as_completed *it;
        CHECK_EQ(cask_as_completed_new(&it, list, 6, INFINITY), 0);
        CHECK_EQ(cask_as_completed_next(it, &d), 1);
        CHECK(d == t[round == 0 ? 1 : 0]); /* by finishing order, then argument order */
        CHECK_EQ(cask_as_completed_next(it, &d), 1);
        CHECK(d == t[round == 0 ? 0 : 1]);
        CHECK_EQ(cask_as_completed_next(it, &d), 0);
        cask_as_completed_free(it);
    }
    release_all(t, 2);
    return 0;
}
TEST(as_completed_dedups) { CHECK_EQ(ct_run_virtual(ac_dup_main, NULL), 0); }

/* as_completed: a cancelled reader loses no task; a second reader is refused. */
static int ac_reader(void *arg)
{
    cask_as_completed *it = arg;
    cask_task *d;
    return cask_as_completed_next(it, &d);
}
static int ac_cancel_main(void *arg)
{
    (void)arg;
    struct nap n[2] = {{"a", 1, 1, 0}, {"b", 2, 2, 0}};
    cask_task *t[2], *r, *d;
    spawn_naps(t, n, 2);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, t, 2, INFINITY), 0);
    CHECK_EQ(cask_spawn(&r, ac_reader, it), 0);
    CHECK_EQ(cask_sleep(0.5), 0);
    CHECK_EQ(cask_as_completed_next(it, &d), -EBUSY);
    cask_cancel(r);
    CHECK_EQ(cask_join(r), -ECANCELED);
    cask_release(r);
    CHECK_EQ(cask_sleep(1.6), 0); /* both end while nobody reads */
    CHECK_EQ(cask_as_completed_next(it, &d), 1);
    CHECK(d == t[0]);
    CHECK_EQ(cask_as_completed_next(it, &d), 1);
    CHECK(d == t[1]);
    CHECK_EQ(cask_as_completed_next(it, &d), 0);
    cask_as_completed_free(it);
    release_all(t, 2);
    return 0;
}
TEST(as_completed_cancel_safe) { CHECK_EQ(ct_run_virtual(ac_cancel_main, NULL), 0); }

/* -ENOMEM paths: as_completed_new's two allocations, wait's waiters beyond 16 tasks. */
static int enomem_main(void *arg)
{
    (void)arg;
    struct nap n[17];
    cask_task *t[17];
    for (int i = 0; i < 17; i++)
        n[i] = (struct nap){"n", 0.1, 0, 0};
    spawn_naps(t, n, 17);
    cask_as_completed *it = (cask_as_completed *)1;
    for (long k = 1; k <= 2; k++) {
        ct_fail_alloc_after(k);
        CHECK_EQ(cask_as_completed_new(&it, t, 17, 1), -ENOMEM);
        CHECK(it == NULL);
    }
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_wait(t, 17, CASK_ALL_COMPLETED, INFINITY, NULL), -ENOMEM);
    ct_fail_alloc_after(0);
    CHECK_EQ(cask_wait(t, 17, CASK_ALL_COMPLETED, INFINITY, NULL), 0);
    release_all(t, 17);
    return 0;
}
TEST(waitset_enomem) { CHECK_EQ(ct_run_virtual(enomem_main, NULL), 0); }

/* WF1: on timeout the child is cancelled and waited for; -ETIMEDOUT after its cleanup. */
static int wf1_main(void *arg)
{
    (void)arg;
    struct nap n = {"c", 5, -ECANCELED, 0.25};
    n.result = -ECANCELED;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, nap, &n), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_wait_for(t, 1), -ETIMEDOUT);
    CHECK_NEAR(cask_time() - t0, 1.25, 1e-6);
    CHECK_LOG("c:cancelled,c:cleaned");
    CHECK(cask_task_done(t));
    CHECK_EQ(cask_cancelling(cask_current()), 0);
    cask_release(t);
    /* in time: the result */
    struct nap m = {"m", 0.5, 42, 0};
    CHECK_EQ(cask_spawn(&t, nap, &m), 0);
    CHECK_EQ(cask_wait_for(t, 1), 42);
    cask_release(t);
    /* no limit */
    CHECK_EQ(cask_spawn(&t, nap, &m), 0);
    CHECK_EQ(cask_wait_for(t, INFINITY), 42);
    cask_release(t);
    return 0;
}
TEST(wf1_timeout_cancels_and_waits) { CHECK_EQ(ct_run_virtual(wf1_main, NULL), 0); }

/* WF2: timeout <= 0: a done task's result; a running one is cancelled: -ETIMEDOUT. */
static int wf2_main(void *arg)
{
    (void)arg;
    struct nap n = {"a", 0.1, 7, 0}, m = {"b", 1, 7, 0};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, nap, &n), 0);
    CHECK_EQ(cask_sleep(0.2), 0);
    CHECK_EQ(cask_wait_for(t, 0), 7);
    CHECK_EQ(cask_wait_for(t, -1), 7);
    cask_release(t);
    CHECK_EQ(cask_spawn(&t, nap, &m), 0);
    CHECK_EQ(cask_yield(), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_wait_for(t, 0), -ETIMEDOUT);
    CHECK_NEAR(cask_time() - t0, 0, 1e-9);
    CHECK(cask_task_cancelled(t));
    cask_release(t);
    CHECK_LOG("a:done,b:cancelled");
    return 0;
}
TEST(wf2_zero_timeout) { CHECK_EQ(ct_run_virtual(wf2_main, NULL), 0); }

/* WF3: a child that handles the cancellation and returns normally: its result. */
static int wf3_main(void *arg)
{
    (void)arg;
    struct nap n = {"c", 5, 42, 0.1};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, nap, &n), 0);
    CHECK_EQ(cask_wait_for(t, 0.5), 42);
    cask_release(t);
    CHECK_EQ(cask_spawn(&t, nap, &n), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_wait_for(t, 0), 42);
    cask_release(t);
    return 0;
}
TEST(wf3_handled_cancellation_gives_result)
{
    CHECK_EQ(ct_run_virtual(wf3_main, NULL), 0);
}

/* WF4: cancelling the task inside wait_for cancels the child. */
static int wf4_waiter(void *arg)
{
    int rc = cask_wait_for(arg, 10);
    ct_log("wait_for:%s", cask_errname(rc));
    return rc;
}
static int wf4_main(void *arg)
{
    (void)arg;
    struct nap n = {"c", 5, 0, 0};
    cask_task *t, *w;
    CHECK_EQ(cask_spawn(&t, nap, &n), 0);
    CHECK_EQ(cask_spawn(&w, wf4_waiter, t), 0);
    CHECK_EQ(cask_sleep(1), 0);
    cask_cancel(w);
    CHECK_EQ(cask_join(w), -ECANCELED);
    CHECK(cask_task_cancelled(t));
    CHECK_LOG("c:cancelled,wait_for:ECANCELED");
    cask_release(t);
    cask_release(w);
    return 0;
}
TEST(wf4_cancel_waiter_cancels_child) { CHECK_EQ(ct_run_virtual(wf4_main, NULL), 0); }

/* SH1: cancelling the task waiting on a shielded child returns -ECANCELED to it at once; the
 * child finishes and its result is still there. */
static int sh_waiter(void *arg)
{
    int rc = cask_shield_join(arg);
    ct_log("shield:%s", cask_errname(rc));
    return rc;
}
static int sh1_main(void *arg)
{
    (void)arg;
    struct nap n = {"c", 2, 42, 0};
    cask_task *t, *w;
    CHECK_EQ(cask_spawn(&t, nap, &n), 0);
    CHECK_EQ(cask_spawn(&w, sh_waiter, t), 0);
    CHECK_EQ(cask_sleep(1), 0);
    double t0 = cask_time();
    cask_cancel(w);
    CHECK_EQ(cask_join(w), -ECANCELED);
    CHECK_NEAR(cask_time() - t0, 0, 1e-9);
    CHECK(!cask_task_done(t));
    CHECK_EQ(cask_join(t), 42);
    CHECK_LOG("shield:ECANCELED,c:done");
    cask_release(t);
    cask_release(w);
    return 0;
}
TEST(sh1_shield_join) { CHECK_EQ(ct_run_virtual(sh1_main, NULL), 0); }

/* SH2: a shielded child that fails or is cancelled by someone else passes that on. */
static void cancel_cb(void *arg) { cask_cancel(arg); }
static int sh2_main(void *arg)
{
    (void)arg;
    struct nap n = {"a", 1, FAIL(2), 0}, m = {"b", 5, 0, 0};
    cask_task *t, *u;
    CHECK_EQ(cask_spawn(&t, nap, &n), 0);
    CHECK_EQ(cask_shield_join(t), FAIL(2));
    CHECK_EQ(cask_shield_join(t), FAIL(2));
    CHECK_EQ(cask_spawn(&u, nap, &m), 0);
    CHECK_EQ(cask_call_later(NULL, 1, cancel_cb, u), 0);
    CHECK_EQ(cask_shield_join(u), -ECANCELED);
    CHECK(cask_task_cancelled(u));
    CHECK_EQ(cask_cancelling(cask_current()), 0);
    cask_release(t);
    cask_release(u);
    return 0;
}
TEST(sh2_shield_passes_failure) { CHECK_EQ(ct_run_virtual(sh2_main, NULL), 0); }

/* test_scope.c: timeout scopes (CONFORMANCE TO1-TO5), move_on, shield sections, and scopes
 * reaching every kind of blocking call. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <unistd.h>

/* TO1: a 0.5 s scope around a 2 s sleep: -ECANCELED inside, -ETIMEDOUT at close at 0.5; the
 * task is not left cancelled. */
static int to1_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.5), 0);
    CHECK_NEAR(cask_scope_deadline(&sc), t0 + 0.5, 1e-6);
    CHECK(!cask_scope_expired(&sc));
    int rc = cask_sleep(2);
    CHECK_EQ(rc, -ECANCELED);
    CHECK(cask_scope_expired(&sc));
    CHECK_EQ(cask_sleep(0.1), -ECANCELED); /* sticky inside the expired scope */
    CHECK_EQ(cask_scope_close(&sc, rc), -ETIMEDOUT);
    CHECK_NEAR(cask_time() - t0, 0.5, 1e-6);
    CHECK(cask_scope_expired(&sc));
    CHECK_EQ(cask_cancelling(cask_current()), 0);
    CHECK_EQ(cask_sleep(0.1), 0);
    /* a body that finishes in time keeps its status */
    CHECK_EQ(cask_timeout_open_at(&sc, cask_time() + 1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(0.5) == 0 ? 5 : -1), 5);
    CHECK(!cask_scope_expired(&sc));
    return 0;
}
TEST(to1_timeout_scope) { CHECK_EQ(ct_run_virtual(to1_main, NULL), 0); }

/* TO2: nested scopes: only the one whose deadline fired reports -ETIMEDOUT. */
static int to2_main(void *arg)
{
    (void)arg;
    cask_scope outer, inner;
    /* inner fires: inner reports -ETIMEDOUT, outer sees the block's status */
    CHECK_EQ(cask_timeout_open(&outer, 1), 0);
    CHECK_EQ(cask_timeout_open(&inner, 0.5), 0);
    int rc = cask_scope_close(&inner, cask_sleep(2));
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(cask_sleep(0.1), 0); /* the outer scope is fine */
    CHECK_EQ(cask_scope_close(&outer, rc), -ETIMEDOUT); /* passes through, not converted */
    CHECK(!cask_scope_expired(&outer));
    /* inner fires, the body ignores the conversion and returns -ECANCELED itself */
    CHECK_EQ(cask_timeout_open(&outer, 1), 0);
    CHECK_EQ(cask_timeout_open(&inner, 0.5), 0);
    rc = cask_sleep(2);
    CHECK_EQ(cask_scope_close(&inner, rc), -ETIMEDOUT);
    CHECK_EQ(cask_scope_close(&outer, rc), -ECANCELED); /* outer did not fire: unchanged */
    /* outer fires: the inner passes -ECANCELED through, the outer reports -ETIMEDOUT */
    double t0 = cask_time();
    CHECK_EQ(cask_timeout_open(&outer, 0.5), 0);
    CHECK_EQ(cask_timeout_open(&inner, 1), 0);
    rc = cask_scope_close(&inner, cask_sleep(2));
    CHECK_EQ(rc, -ECANCELED);
    CHECK(!cask_scope_expired(&inner));
    CHECK_EQ(cask_scope_close(&outer, rc), -ETIMEDOUT);
    CHECK_NEAR(cask_time() - t0, 0.5, 1e-6);
    return 0;
}
TEST(to2_nested_scopes) { CHECK_EQ(ct_run_virtual(to2_main, NULL), 0); }

/* TO3: a cancellation from outside passes through as -ECANCELED; the scope did not expire. */
static int to3_child(void *arg)
{
    cask_scope *sc = arg;
    CHECK_EQ(cask_timeout_open(sc, 5), 0);
    int rc = cask_scope_close(sc, cask_sleep(10));
    ct_log("close:%s", cask_errname(rc));
    return rc;
}
static int to3_main(void *arg)
{
    (void)arg;
    cask_scope sc;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, to3_child, &sc), 0);
    CHECK_EQ(cask_sleep(1), 0);
    cask_cancel(t);
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK(!cask_scope_expired(&sc));
    cask_release(t);
    /* both at once: the scope expired and the task was cancelled: -ECANCELED wins */
    CHECK_EQ(cask_timeout_open(&sc, 0.5), 0);
    CHECK_EQ(cask_sleep(1), -ECANCELED);
    cask_cancel(cask_current());
    CHECK_EQ(cask_scope_close(&sc, -ECANCELED), -ECANCELED);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    CHECK_LOG("close:ECANCELED");
    return 0;
}
TEST(to3_outside_cancel_passes) { CHECK_EQ(ct_run_virtual(to3_main, NULL), 0); }

/* TO4: a zero or past deadline expires even if the body only yields. */
static int to4_main(void *arg)
{
    (void)arg;
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_yield()), -ETIMEDOUT);
    CHECK_EQ(cask_timeout_open_at(&sc, cask_time() - 1), 0);
    int rc = cask_yield();
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(cask_scope_close(&sc, rc), -ETIMEDOUT);
    CHECK_EQ(cask_timeout_open(&sc, -3), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(0)), -ETIMEDOUT);
    return 0;
}
TEST(to4_zero_deadline) { CHECK_EQ(ct_run_virtual(to4_main, NULL), 0); }

/* CPython test_timeout_in_the_past_sleep_zero: a deadline in the past is reported as given
 * (now - 11, not now), by the relative and absolute forms and by reschedule; it expires. */
static int past_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, -11), 0);
    CHECK_NEAR(cask_scope_deadline(&sc), t0 - 11, 0.01); /* the real clock moves on */
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(0)), -ETIMEDOUT);
    CHECK_EQ(cask_move_on_open_at(&sc, -5), 0); /* before the clock's zero */
    CHECK_NEAR(cask_scope_deadline(&sc), -5, 0.01);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(0)), 0);
    CHECK(cask_scope_expired(&sc));
    CHECK_EQ(cask_timeout_open(&sc, 10), 0);
    CHECK_EQ(cask_scope_reschedule(&sc, t0 - 20), 0);
    CHECK_NEAR(cask_scope_deadline(&sc), t0 - 20, 0.01);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), -ETIMEDOUT);
    CHECK(cask_time() - t0 < 0.5); /* the sleep(1) was cut short at once */
    CHECK_EQ(cask_timeout_open(&sc, -1), 0); /* past, then a future deadline */
    CHECK_EQ(cask_scope_reschedule(&sc, t0 + 0.5), 0);
    CHECK_NEAR(cask_scope_deadline(&sc), t0 + 0.5, 0.01);
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    CHECK_EQ(cask_timeout_open(&sc, -INFINITY), 0);
    CHECK(isinf(cask_scope_deadline(&sc)) && cask_scope_deadline(&sc) < 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(0)), -ETIMEDOUT);
    return 0;
}
TEST(to_past_deadline_reported_as_given)
{
    CHECK_EQ(ct_run_virtual(past_main, NULL), 0);
    CHECK_EQ(cask_run(past_main, NULL), 0);
}

/* TO5: reschedule moves the deadline; none disables it; misuse is -EINVAL. */
static int to5_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.5), 0);
    CHECK_EQ(cask_scope_reschedule(&sc, t0 + 1.5), 0);
    CHECK_NEAR(cask_scope_deadline(&sc), t0 + 1.5, 1e-6);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(5)), -ETIMEDOUT);
    CHECK_NEAR(cask_time() - t0, 1.5, 1e-6);
    CHECK_EQ(cask_timeout_open(&sc, 0.5), 0);
    CHECK_EQ(cask_scope_reschedule(&sc, INFINITY), 0);
    CHECK(isinf(cask_scope_deadline(&sc)));
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), 0);
    CHECK_EQ(cask_timeout_open(&sc, INFINITY), 0); /* none from the start */
    CHECK(isinf(cask_scope_deadline(&sc)));
    CHECK_EQ(cask_scope_reschedule(&sc, cask_time() + 0.1), 0); /* a deadline later on */
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), -ETIMEDOUT);
    CHECK_EQ(cask_scope_close(&sc, 0), -EINVAL);
    CHECK_EQ(cask_scope_reschedule(&sc, 1), -EINVAL);
    CHECK_EQ(cask_scope_cancel(&sc), -EINVAL);
    CHECK_EQ(cask_timeout_open(&sc, NAN), -EINVAL);
    CHECK_EQ(cask_timeout_open(NULL, 1), -EINVAL);
    cask_scope a, b;
    CHECK_EQ(cask_timeout_open(&a, 1), 0);
    CHECK_EQ(cask_timeout_open(&b, 1), 0);
    CHECK_EQ(cask_scope_close(&a, 0), -EINVAL); /* out of order */
    CHECK_EQ(cask_scope_reschedule(&b, NAN), -EINVAL);
    CHECK_EQ(cask_scope_close(&b, 0), 0);
    CHECK_EQ(cask_scope_close(&a, 0), 0);
    return 0;
}
TEST(to5_reschedule_and_misuse) { CHECK_EQ(ct_run_virtual(to5_main, NULL), 0); }
TEST(scope_outside_loop)
{
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 1), -EPERM);
    CHECK_EQ(cask_shield_open(&sc), -EPERM);
}

/* move_on: the expiry becomes 0; an outside cancellation still passes. */
static int move_on_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.3), 0);
    int rc = cask_sleep(1);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(cask_scope_close(&sc, rc), 0);
    CHECK(cask_scope_expired(&sc));
    CHECK_NEAR(cask_time() - t0, 0.3, 1e-6);
    CHECK_EQ(cask_move_on_open_at(&sc, cask_time() + 1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(0.5) == 0 ? 3 : -1), 3);
    /* cancel(): as if the deadline passed now */
    CHECK_EQ(cask_move_on_open(&sc, INFINITY), 0);
    CHECK_EQ(cask_scope_cancel(&sc), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), 0);
    return 0;
}
TEST(move_on_scope) { CHECK_EQ(ct_run_virtual(move_on_main, NULL), 0); }

/* A shield section: cleanup blocks after its task was cancelled; the cancellation is still
 * pending after the section. Scopes and timeouts inside a shield still work. */
static int shield_child(void *arg)
{
    (void)arg;
    int rc = cask_sleep(10);
    ct_log("body:%s", cask_errname(rc));
    cask_scope sh, inner;
    CHECK_EQ(cask_shield_open(&sh), 0);
    CHECK_EQ(cask_sleep(0.5), 0);
    ct_log("cleanup slept");
    CHECK_EQ(cask_timeout_open(&inner, 0.1), 0); /* a timeout inside the shield fires */
    CHECK_EQ(cask_scope_close(&inner, cask_sleep(1)), -ETIMEDOUT);
    CHECK_EQ(cask_scope_close(&sh, 0), 0);
    CHECK_EQ(cask_sleep(1), -ECANCELED); /* still cancelled */
    return rc;
}
static int shield_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, shield_child, NULL), 0);
    CHECK_EQ(cask_sleep(1), 0);
    double t0 = cask_time();
    cask_cancel(t);
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK_NEAR(cask_time() - t0, 0.6, 1e-6);
    CHECK_LOG("body:ECANCELED,cleanup slept");
    cask_release(t);
    /* a shield also hides an enclosing scope's expiry */
    cask_scope outer, sh;
    CHECK_EQ(cask_timeout_open(&outer, 0.1), 0);
    CHECK_EQ(cask_shield_open(&sh), 0);
    CHECK_EQ(cask_sleep(0.5), 0);
    CHECK_EQ(cask_scope_close(&sh, 0), 0);
    CHECK(cask_scope_expired(&outer));
    CHECK_EQ(cask_scope_close(&outer, cask_yield()), -ETIMEDOUT);
    return 0;
}
TEST(shield_section) { CHECK_EQ(ct_run_virtual(shield_main, NULL), 0); }

/* Every blocking call is reached at once by a scope's deadline and by the failure of a group
 * around it (the owner's wait in progress inside the group's block). */
static int sc_nap(void *arg)
{
    (void)arg;
    return cask_sleep(10);
}
static int b_sleep(void) { return cask_sleep(10); }
static int b_future(void)
{
    cask_future *f;
    CHECK_EQ(cask_future_new(&f), 0);
    int rc = cask_future_await(f, NULL);
    CHECK(cask_future_cancelled(f)); /* asyncio: the awaited future is cancelled too */
    cask_future_free(f);
    return rc;
}
static int b_join(void)
{
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, sc_nap, NULL), 0);
    int rc = cask_join(t);
    CHECK(cask_task_cancelled(t));
    cask_release(t);
    return rc;
}
static int b_shield_join(void)
{
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, sc_nap, NULL), 0);
    int rc = cask_shield_join(t);
    CHECK(!cask_task_done(t));
    cask_cancel(t);
    cask_release(t);
    return rc;
}
static int b_gather(void)
{
    cask_task *t[2];
    CHECK_EQ(cask_spawn(&t[0], sc_nap, NULL), 0);
    CHECK_EQ(cask_spawn(&t[1], sc_nap, NULL), 0);
    int rc = cask_gather(t, 2, NULL);
    cask_release(t[0]);
    cask_release(t[1]);
    return rc;
}
static int b_wait(void)
{
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, sc_nap, NULL), 0);
    int rc = cask_wait(&t, 1, CASK_FIRST_COMPLETED, 100, NULL);
    cask_cancel(t);
    cask_release(t);
    return rc;
}
static int b_as_completed(void)
{
    cask_task *t, *d;
    cask_as_completed *it;
    CHECK_EQ(cask_spawn(&t, sc_nap, NULL), 0);
    CHECK_EQ(cask_as_completed_new(&it, &t, 1, 100), 0);
    int rc = cask_as_completed_next(it, &d);
    cask_as_completed_free(it);
    cask_cancel(t);
    cask_release(t);
    return rc;
}
static int b_wait_for(void)
{
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, sc_nap, NULL), 0);
    int rc = cask_wait_for(t, 100);
    cask_release(t);
    return rc;
}
static int b_group(void)
{
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, sc_nap, NULL), 0);
    return cask_group_close(&g, 0);
}
static int b_fd(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    int rc = cask_wait_fd(p[0], CASK_READABLE);
    cask_fd_forget(p[0]);
    close(p[0]);
    close(p[1]);
    return rc;
}
static int (*const blocking[])(void) = {b_sleep, b_future, b_join, b_shield_join, b_gather,
                                        b_wait, b_as_completed, b_wait_for, b_group, b_fd};
static int fails_later(void *arg)
{
    (void)arg;
    int rc = cask_sleep(0.5);
    return rc < 0 ? rc : CASK_EUSER - 1;
}
static int every_call_main(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < sizeof blocking / sizeof blocking[0]; i++) {
        double t0 = cask_time();
        cask_scope sc;
        CHECK_EQ(cask_timeout_open(&sc, 0.5), 0);
        int rc = blocking[i]();
        CHECK_EQ(rc, -ECANCELED);
        CHECK_EQ(cask_scope_close(&sc, rc), -ETIMEDOUT);
        CHECK_NEAR(cask_time() - t0, 0.5, 1e-6);
        CHECK_EQ(cask_sleep(0.01), 0);

        t0 = cask_time();
        cask_group g;
        CHECK_EQ(cask_group_open(&g), 0);
        CHECK_EQ(cask_group_spawn(&g, NULL, fails_later, NULL), 0);
        rc = blocking[i]();
        CHECK_EQ(rc, -ECANCELED);
        CHECK_NEAR(cask_time() - t0, 0.5, 1e-6);
        CHECK_EQ(cask_group_close(&g, rc), CASK_EUSER - 1);
        CHECK_EQ(cask_sleep(0.01), 0);
    }
    return 0;
}
TEST(scope_and_group_reach_every_blocking_call)
{
    CHECK_EQ(ct_run_virtual(every_call_main, NULL), 0);
}

/* cask_scope_cancel from another task (trio's cancel_scope.cancel()) and from a callback. */
static int scope_holder(void *arg)
{
    cask_scope **out = arg;
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, INFINITY), 0);
    *out = &sc;
    int rc = cask_sleep(10);
    *out = NULL;
    ct_log("holder:%s", cask_errname(rc));
    return cask_scope_close(&sc, rc);
}
static void cancel_scope_cb(void *arg)
{
    cask_scope **sc = arg;
    CHECK_EQ(cask_scope_cancel(*sc), 0);
}
static int scope_cancel_main(void *arg)
{
    (void)arg;
    cask_scope *sc = NULL;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, scope_holder, &sc), 0);
    CHECK_EQ(cask_sleep(1), 0);
    CHECK(sc != NULL);
    CHECK_EQ(cask_scope_cancel(sc), 0);
    CHECK_EQ(cask_join(t), 0); /* move_on: the cancelled scope closes to 0 */
    cask_release(t);
    CHECK_EQ(cask_spawn(&t, scope_holder, &sc), 0);
    CHECK_EQ(cask_call_later(NULL, 0.5, cancel_scope_cb, &sc), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_LOG("holder:ECANCELED,holder:ECANCELED");
    return 0;
}
TEST(scope_cancel_from_elsewhere) { CHECK_EQ(ct_run_virtual(scope_cancel_main, NULL), 0); }

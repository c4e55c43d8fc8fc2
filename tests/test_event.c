/* test_event.c: cask_event (CONFORMANCE E1, S6). */
#define _GNU_SOURCE
#include "cask_test.h"

static cask_event g_event = CASK_EVENT_INIT;

struct ewaiter {
    cask_event *e;
    const char *name;
    int woken;
};

static int ewait(void *arg)
{
    struct ewaiter *w = arg;
    int rc = cask_event_wait(w->e);
    ct_log("%s:%s", w->name, cask_errname(rc));
    if (rc == 0)
        w->woken++;
    return rc;
}

/* E1: set; clear; set; set with one waiter wakes it exactly once. */
static int e1_main(void *arg)
{
    (void)arg;
    struct ewaiter w = {&g_event, "w", 0};
    cask_task *t;
    CHECK(!cask_event_is_set(&g_event));
    cask_event_set(&g_event);
    CHECK(cask_event_is_set(&g_event));
    cask_event_clear(&g_event);
    CHECK(!cask_event_is_set(&g_event));
    CHECK_EQ(cask_spawn(&t, ewait, &w), 0);
    CHECK_EQ(cask_yield(), 0);
    cask_event_set(&g_event);
    cask_event_set(&g_event);
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(w.woken, 1);
    CHECK_LOG("w:OK");
    CHECK_EQ(cask_event_wait(&g_event), 0); /* set: returns at once */
    cask_release(t);
    return 0;
}
TEST(e1_set_wakes_once) { CHECK_EQ(ct_run_virtual(e1_main, NULL), 0); }

/* S6: t1, t2 wait; yield; spawn t3 (waits); set; yield: t3 first, then t1, t2 (t3's first run
 * is already queued when the set wakes t1 and t2). A cleared event does not un-wake anybody. */
static int s6_main(void *arg)
{
    (void)arg;
    cask_event e;
    cask_event_init(&e);
    struct ewaiter w1 = {&e, "t1", 0}, w2 = {&e, "t2", 0}, w3 = {&e, "t3", 0};
    cask_task *t1, *t2, *t3;
    CHECK_EQ(cask_spawn(&t1, ewait, &w1), 0);
    CHECK_EQ(cask_spawn(&t2, ewait, &w2), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_spawn(&t3, ewait, &w3), 0);
    cask_event_set(&e);
    cask_event_clear(&e);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_LOG("t1:OK,t2:OK");
    CHECK(!cask_task_done(t3)); /* it ran after the clear: it waits */
    cask_event_set(&e);
    CHECK_EQ(cask_join(t3), 0);
    CHECK_EQ(cask_join(t1), 0);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_LOG("t1:OK,t2:OK,t3:OK");
    cask_release(t1);
    cask_release(t2);
    cask_release(t3);
    return 0;
}
TEST(e_wake_order_and_clear) { CHECK_EQ(ct_run_virtual(s6_main, NULL), 0); }

/* A cancelled wait returns -ECANCELED and leaves the others waiting. */
static int ecancel_main(void *arg)
{
    (void)arg;
    cask_event e = CASK_EVENT_INIT;
    struct ewaiter w1 = {&e, "t1", 0}, w2 = {&e, "t2", 0};
    cask_task *t1, *t2;
    CHECK_EQ(cask_spawn(&t1, ewait, &w1), 0);
    CHECK_EQ(cask_spawn(&t2, ewait, &w2), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_cancel(t1));
    CHECK_EQ(cask_join(t1), -ECANCELED);
    cask_event_set(&e);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_LOG("t1:ECANCELED,t2:OK");
    cask_release(t1);
    cask_release(t2);
    return 0;
}
TEST(e_cancelled_wait)
{
    cask_event e = CASK_EVENT_INIT;
    CHECK_EQ(cask_event_wait(&e), -EPERM);
    CHECK_EQ(ct_run_virtual(ecancel_main, NULL), 0);
}

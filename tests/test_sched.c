/* test_sched.c: the scheduler's order rules (CONFORMANCE S1-S6) and the clock. */
#define _GNU_SOURCE
#include "cask_test.h"

/* S1: call_soon(a, b, c), a schedules a2: one yield runs a, b, c; the next runs a2. */
static void cb_a2(void *arg) { (void)arg; ct_log("a2"); }
static void cb_log(void *arg)
{
    ct_log("%s", (const char *)arg);
    if (!strcmp(arg, "a"))
        CHECK_EQ(cask_call_soon(NULL, cb_a2, NULL), 0);
}
static int s1_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_call_soon(NULL, cb_log, "a"), 0);
    CHECK_EQ(cask_call_soon(NULL, cb_log, "b"), 0);
    CHECK_EQ(cask_call_soon(NULL, cb_log, "c"), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_LOG("a,b,c");
    CHECK_EQ(cask_yield(), 0);
    CHECK_LOG("a,b,c,a2");
    return 0;
}
TEST(s1_ready_fifo_snapshot) { CHECK_EQ(ct_run_virtual(s1_main, NULL), 0); }

/* S2: lazy start. */
static int s2_child(void *arg)
{
    (void)arg;
    ct_log("start");
    CHECK_EQ(cask_yield(), 0);
    ct_log("end");
    return 0;
}
static int s2_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, s2_child, NULL), 0);
    ct_log("created");
    CHECK_EQ(cask_yield(), 0);
    ct_log("y1");
    CHECK_EQ(cask_yield(), 0);
    ct_log("y2");
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_LOG("created,start,y1,end,y2");
    return 0;
}
TEST(s2_lazy_start) { CHECK_EQ(ct_run_virtual(s2_main, NULL), 0); }

/* S3: a yield with nothing else ready still costs exactly one iteration. */
static int s3_main(void *arg)
{
    (void)arg;
    struct cask_loop_stats a, b;
    CHECK_EQ(cask_loop_stats(&a), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_loop_stats(&b), 0);
    CHECK_EQ(b.iterations - a.iterations, 1);
    CHECK_EQ(cask_sleep(0), 0);
    CHECK_EQ(cask_loop_stats(&a), 0);
    CHECK_EQ(a.iterations - b.iterations, 1);
    return 0;
}
TEST(s3_yield_one_iteration) { CHECK_EQ(ct_run_virtual(s3_main, NULL), 0); }

/* S4: timers in deadline order, cancelled ones never fire, ties in the order set. */
static void cb_name(void *arg) { ct_log("%s", (const char *)arg); }
static int s4_main(void *arg)
{
    (void)arg;
    cask_handle *h;
    double t0 = cask_time();
    CHECK_EQ(cask_call_later(NULL, 0.02, cb_name, "t20"), 0);
    CHECK_EQ(cask_call_later(NULL, 0.01, cb_name, "t10"), 0);
    CHECK_EQ(cask_call_later(&h, 0.015, cb_name, "never"), 0);
    CHECK(cask_handle_cancel(h));
    double when = t0 + 0.05;
    static const char *names[] = {"e1", "e2", "e3", "e4", "e5"};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(cask_call_at(NULL, when, cb_name, (void *)names[i]), 0);
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_LOG("t10,t20,e1,e2,e3,e4,e5");
    CHECK_NEAR(cask_time() - t0, 0.1, 1e-6); /* virtual clock: exact */
    CHECK(!cask_handle_cancel(NULL));
    return 0;
}
TEST(s4_timer_order) { CHECK_EQ(ct_run_virtual(s4_main, NULL), 0); }

/* S5: future callbacks are never run inline. */
static void fcb(cask_future *f, void *arg)
{
    (void)f;
    ct_log("%s", (const char *)arg);
}
static int s5_main(void *arg)
{
    (void)arg;
    cask_future *f;
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK_EQ(cask_future_add_done_callback(f, fcb, "cb1"), 0);
    CHECK_EQ(cask_future_add_done_callback(f, fcb, "cb2"), 0);
    CHECK_EQ(cask_future_set_result(f, NULL), 0);
    ct_log("after set");
    CHECK_EQ(cask_future_add_done_callback(f, fcb, "cb3"), 0);
    ct_log("before yield");
    CHECK_EQ(cask_yield(), 0);
    CHECK_LOG("after set,before yield,cb1,cb2,cb3");
    cask_future_free(f);
    return 0;
}
TEST(s5_future_callbacks_scheduled) { CHECK_EQ(ct_run_virtual(s5_main, NULL), 0); }

/* S6: waiters wake in the order they began waiting (here through a future). */
static int s6_waiter(void *arg)
{
    void *v;
    cask_future *f = *(cask_future **)arg;
    int rc = cask_future_await(f, &v);
    ct_log("%s", cask_task_name(cask_current()));
    return rc;
}
static int s6_main(void *arg)
{
    (void)arg;
    cask_future *f;
    cask_task *t[3];
    CHECK_EQ(cask_future_new(&f), 0);
    struct cask_spawn_opts o1 = {.name = "t1"}, o2 = {.name = "t2"}, o3 = {.name = "t3"};
    CHECK_EQ(cask_spawn_with(&t[0], s6_waiter, &f, &o1), 0);
    CHECK_EQ(cask_spawn_with(&t[1], s6_waiter, &f, &o2), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_spawn_with(&t[2], s6_waiter, &f, &o3), 0);
    CHECK_EQ(cask_future_set_result(f, NULL), 0);
    CHECK_EQ(cask_yield(), 0);
    /* t3 had not started when the future was set: it finds it done at its first run */
    CHECK_LOG("t3,t1,t2");
    CHECK_EQ(cask_gather(t, 3, NULL), 0);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    cask_future_free(f);
    return 0;
}
TEST(s6_wake_order) { CHECK_EQ(ct_run_virtual(s6_main, NULL), 0); }

/* Real clock: a sleep takes about as long as asked. */
static int real_sleep_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    CHECK_EQ(cask_sleep(0.05), 0);
    double dt = cask_time() - t0;
    CHECK(dt >= 0.05);
    CHECK(dt < 0.5);
    CHECK_EQ(cask_sleep(NAN), -EINVAL);
    return 0;
}
TEST(sleep_real_clock) { CHECK_EQ(cask_run(real_sleep_main, NULL), 0); }

/* Outside a loop, blocking calls say so. */
TEST(outside_loop_eperm)
{
    CHECK_EQ(cask_sleep(0.1), -EPERM);
    CHECK_EQ(cask_yield(), -EPERM);
    CHECK_EQ(cask_spawn(NULL, s2_child, NULL), -EPERM);
    CHECK_EQ(cask_call_soon(NULL, cb_a2, NULL), -EPERM);
    CHECK(cask_current() == NULL);
    CHECK(cask_time() > 0);
    CHECK_EQ(cask_run(NULL, NULL), -EINVAL);
}

/* call_soon_threadsafe from another thread wakes a blocked loop. */
#include <pthread.h>
#include <unistd.h>
static void ts_cb(void *arg) { *(int *)arg = 1; }
static void *ts_thread(void *arg)
{
    usleep(20000);
    int rc = cask_call_soon_threadsafe(((void **)arg)[0], ts_cb, ((void **)arg)[1]);
    return (void *)(intptr_t)rc;
}
static int ts_main(void *arg)
{
    (void)arg;
    int flag = 0;
    void *args[2] = {cask_loop_current(), &flag};
    pthread_t th;
    pthread_create(&th, NULL, ts_thread, args);
    double t0 = cask_time();
    while (!flag && cask_time() - t0 < 5)
        CHECK_EQ(cask_sleep(0.001), 0);
    void *ret;
    pthread_join(th, &ret);
    CHECK_EQ((intptr_t)ret, 0);
    CHECK_EQ(flag, 1);
    return 0;
}
TEST(call_soon_threadsafe) { CHECK_EQ(cask_run(ts_main, NULL), 0); }

/* Eager start (asyncio 3.12 eager tasks): the task runs inside cask_spawn until it first
 * suspends; a loop-wide option makes every spawn eager. */
static int eager_child(void *arg)
{
    (void)arg;
    ct_log("child start");
    CHECK_EQ(cask_yield(), 0);
    ct_log("child end");
    return 7;
}
static int eager_main(void *arg)
{
    (void)arg;
    cask_task *t;
    struct cask_spawn_opts o = {.eager = true, .name = "eager"};
    ct_log("before");
    CHECK_EQ(cask_spawn_with(&t, eager_child, NULL, &o), 0);
    ct_log("after");
    CHECK(!cask_task_done(t));
    CHECK_EQ(cask_join(t), 7);
    CHECK_LOG("before,child start,after,child end");
    CHECK_STR(cask_task_name(t), "eager");
    cask_release(t);
    return 0;
}
TEST(eager_start) { CHECK_EQ(ct_run_virtual(eager_main, NULL), 0); }

static int eager_done_child(void *arg)
{
    (void)arg;
    return 3;
}
static int eager_all_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, eager_done_child, NULL), 0);
    CHECK(cask_task_done(t)); /* it ran to completion inside the spawn */
    int st = 0;
    CHECK_EQ(cask_task_status(t, &st), 0);
    CHECK_EQ(st, 3);
    cask_release(t);
    CHECK_EQ(cask_spawn(NULL, eager_done_child, NULL), 0); /* detached, freed at once */
    return 0;
}
TEST(eager_loop_option)
{
    struct cask_config cfg = {.virtual_clock = true, .eager_tasks = true};
    CHECK_EQ(cask_run_with(eager_all_main, NULL, &cfg), 0);
}

/* Task listing and names. */
static int list_child(void *arg)
{
    (void)arg;
    return cask_sleep(1);
}
static int list_main(void *arg)
{
    (void)arg;
    cask_task *t[3], *all[8];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], list_child, NULL), 0);
    CHECK_EQ(cask_all_tasks(all, 8), 4);
    CHECK(all[0] == cask_current());
    CHECK_STR(cask_task_name(all[0]), "Task-1");
    CHECK_STR(cask_task_name(t[0]), "Task-2");
    CHECK_EQ(cask_task_set_name(t[1], "worker"), 0);
    CHECK_EQ(cask_task_set_name(NULL, "x"), -EINVAL);
    CHECK_EQ(cask_yield(), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cask_dump_tasks(f);
    fclose(f);
    CHECK(strstr(buf, "worker") != NULL);
    CHECK(strstr(buf, "sleep") != NULL);
    free(buf);
    CHECK_EQ(cask_all_tasks(NULL, 0), 4);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]); /* still running: they go on detached */
    CHECK_EQ(cask_sleep(2), 0);
    CHECK_EQ(cask_all_tasks(NULL, 0), 1);
    return 0;
}
TEST(task_listing) { CHECK_EQ(ct_run_virtual(list_main, NULL), 0); }

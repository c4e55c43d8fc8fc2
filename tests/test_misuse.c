/*
 * test_misuse.c: bad input and misuse of the public API (core, structured concurrency, sync).
 * Every misuse must get its documented negative errno and leave the objects usable.
 *
 * Not tested, undefined behaviour by the documentation: joining, cancelling or releasing a
 * task handle after cask_release() or after cask_run returned; freeing a future, a queue or an
 * as_completed iterator twice; cancelling or releasing a callback handle after it was given
 * back (cancelled or released) once, unless no other handle was made since (see
 * mu_handle_given_back_twice); using an uninitialized (not zeroed) lock, scope or group;
 * calling any function except cask_call_soon_threadsafe on another thread's loop or objects.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static int ret_zero(void *arg)
{
    (void)arg;
    return 0;
}

static int ret_arg(void *arg) { return (int)(intptr_t)arg; }

static void count_cb(void *arg)
{
    if (arg)
        ++*(int *)arg;
}

static int sleeper(void *arg)
{
    double s = arg ? *(double *)arg : 1000.0;
    return cask_sleep(s);
}

/* ---- outside any loop ---- */

TEST(mu_no_loop)
{
    cask_lock l = CASK_LOCK_INIT;
    cask_event e = CASK_EVENT_INIT;
    cask_sem s = CASK_SEM_INIT(0);
    cask_barrier b = CASK_BARRIER_INIT(2);
    cask_cond c = CASK_COND_INIT;
    cask_scope sc;
    cask_group g;
    cask_task *t = (cask_task *)0x1;
    cask_handle *h = (cask_handle *)0x1;
    cask_future *f = (cask_future *)0x1;
    CHECK(cask_loop_current() == NULL);
    CHECK(cask_current() == NULL);
    CHECK_EQ(cask_sleep(0.1), -EPERM);
    CHECK_EQ(cask_sleep_until(0), -EPERM);
    CHECK_EQ(cask_yield(), -EPERM);
    CHECK_EQ(cask_spawn(&t, ret_zero, NULL), -EPERM);
    CHECK(t == NULL);
    CHECK_EQ(cask_call_soon(&h, count_cb, NULL), -EPERM);
    CHECK(h == NULL);
    CHECK_EQ(cask_future_new(&f), -EPERM);
    CHECK(f == NULL);
    CHECK_EQ(cask_timeout_open(&sc, 1), -EPERM);
    CHECK_EQ(cask_shield_open(&sc), -EPERM);
    CHECK_EQ(cask_group_open(&g), -EPERM);
    CHECK_EQ(cask_started(NULL), -EPERM);
    CHECK_EQ(cask_wait_fd(0, CASK_READABLE), -EPERM);
    CHECK_EQ(cask_fd_forget(0), -EPERM);
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), -EPERM);
    CHECK_EQ(cask_lock_acquire(&l), -EPERM);
    CHECK_EQ(cask_lock_release(&l), -EPERM);
    CHECK_EQ(cask_event_wait(&e), -EPERM);
    CHECK_EQ(cask_sem_acquire(&s), -EPERM);
    CHECK_EQ(cask_barrier_wait(&b, NULL), -EPERM);
    CHECK_EQ(cask_barrier_n_waiting(&b), 0);
    CHECK_EQ(cask_cond_wait(&c), -EPERM);
    CHECK_EQ(cask_gather(NULL, 0, NULL), -EPERM);
    CHECK_EQ(cask_wait(NULL, 0, CASK_ALL_COMPLETED, 0, NULL), -EPERM);
    cask_as_completed *it = (cask_as_completed *)0x1;
    CHECK_EQ(cask_as_completed_new(&it, NULL, 0, INFINITY), -EPERM);
    CHECK(it == NULL);
    CHECK(cask_all_tasks(NULL, 0) == 0);
    CHECK(cask_time() > 0);
    /* the objects stay usable: the sync ones work without a loop where nothing waits */
    CHECK_EQ(cask_lock_try_acquire(&l), 0);
    CHECK_EQ(cask_lock_release(&l), 0);
    CHECK_EQ(cask_sem_release(&s), 0);
    CHECK_EQ(cask_sem_acquire(&s), 0);
    cask_event_set(&e);
    CHECK_EQ(cask_event_wait(&e), 0);
}

/* ---- NULL and bad arguments ---- */

TEST(mu_null_args)
{
    CHECK_EQ(cask_run(NULL, NULL), -EINVAL);
    struct cask_config cfg = {.stack_size = CASK_STACK_MIN - 1};
    CHECK_EQ(cask_run_with(ret_zero, NULL, &cfg), -EINVAL);
    CHECK(!cask_cancel(NULL));
    CHECK_EQ(cask_uncancel(NULL), 0);
    CHECK_EQ(cask_cancelling(NULL), 0);
    CHECK(!cask_task_done(NULL));
    CHECK(!cask_task_cancelled(NULL));
    int st = 7;
    CHECK_EQ(cask_task_status(NULL, &st), -EINVAL);
    CHECK_EQ(st, 7);
    CHECK_EQ(cask_task_set_name(NULL, "x"), -EINVAL);
    CHECK_STR(cask_task_name(NULL), "(null)");
    CHECK_EQ(cask_task_id(NULL), 0);
    cask_release(NULL);
    cask_handle_release(NULL);
    CHECK(!cask_handle_cancel(NULL));
    CHECK_EQ(cask_call_soon_threadsafe(NULL, count_cb, NULL), -EINVAL);
    CHECK_EQ(cask_join(NULL), -EINVAL);
    CHECK_EQ(cask_shield_join(NULL), -EINVAL);
    CHECK_EQ(cask_wait_for(NULL, 1), -EINVAL);
    cask_future_free(NULL);
    CHECK_EQ(cask_future_new(NULL), -EINVAL);
    CHECK_EQ(cask_future_set_result(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_future_set_error(NULL, -EIO), -EINVAL);
    CHECK(!cask_future_cancel(NULL));
    CHECK(!cask_future_done(NULL));
    CHECK(!cask_future_cancelled(NULL));
    CHECK_EQ(cask_future_await(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_future_result(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_future_add_done_callback(NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(cask_future_remove_done_callback(NULL, NULL, NULL), 0);
    CHECK_EQ(cask_scope_close(NULL, 0), -EINVAL);
    CHECK_EQ(cask_scope_reschedule(NULL, 1), -EINVAL);
    CHECK(!cask_scope_expired(NULL));
    CHECK_EQ(cask_scope_cancel(NULL), -EINVAL);
    CHECK_EQ(cask_group_open(NULL), -EINVAL);
    CHECK_EQ(cask_group_spawn(NULL, NULL, ret_zero, NULL), -EINVAL);
    CHECK_EQ(cask_group_close(NULL, 0), -EINVAL);
    CHECK_EQ(cask_group_cancel(NULL), -EINVAL);
    CHECK_EQ(cask_group_errors(NULL, NULL, 0), 0);
    CHECK_EQ(cask_group_size(NULL), 0);
    cask_as_completed_free(NULL);
    CHECK_EQ(cask_as_completed_new(NULL, NULL, 0, 1), -EINVAL);
    CHECK_EQ(cask_as_completed_next(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_queue_new(NULL, 0, CASK_QUEUE_FIFO, NULL), -EINVAL);
    cask_queue *q = (cask_queue *)0x1;
    CHECK_EQ(cask_queue_new(&q, 0, (enum cask_queue_kind)7, NULL), -EINVAL);
    CHECK(q == NULL);
    cask_queue_free(NULL);
    CHECK_EQ(cask_queue_put(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_queue_put_nowait(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_queue_get(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_queue_get_nowait(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_queue_task_done(NULL), -EINVAL);
    CHECK_EQ(cask_queue_join(NULL), -EINVAL);
    cask_queue_shutdown(NULL, true);
    CHECK_EQ(cask_queue_qsize(NULL), 0);
    CHECK(cask_queue_empty(NULL));
    CHECK(!cask_queue_full(NULL));
    CHECK_EQ(cask_queue_maxsize(NULL), 0);
    cask_sem s;
    CHECK_EQ(cask_sem_init(&s, -1), -EINVAL);
    CHECK_EQ(cask_bounded_sem_init(&s, -1), -EINVAL);
    cask_barrier b;
    CHECK_EQ(cask_barrier_init(&b, 0), -EINVAL);
    CHECK_EQ(cask_barrier_init(&b, (unsigned)INT32_MAX + 1u), -EINVAL);
    cask_barrier zero = {{NULL, NULL}, 0, 0, 0};
    CHECK_EQ(cask_barrier_wait(&zero, NULL), -EINVAL);
}

TEST(mu_strerror_any_value)
{
    int vals[] = {0, 1, INT32_MAX, -1, -ECANCELED, -4095, -4096, -99999, CASK_EUSER,
                  CASK_EUSER - 1, INT32_MIN};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        CHECK(cask_strerror(vals[i]) != NULL);
        CHECK(cask_errname(vals[i]) != NULL);
    }
    CHECK_STR(cask_errname(-ECANCELED), "ECANCELED");
    CHECK_STR(cask_errname(CASK_EUSER - 3), "EUSER-3");
    CHECK_STR(cask_errname(0), "OK");
}

/* ---- durations: NaN, negative, infinite ---- */

static int durations_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    CHECK_EQ(cask_sleep(NAN), -EINVAL);
    CHECK_EQ(cask_sleep_until(NAN), -EINVAL);
    CHECK_EQ(cask_sleep(-1), 0);
    CHECK_EQ(cask_sleep(-INFINITY), 0);
    CHECK_EQ(cask_sleep(-0.0), 0);
    CHECK_EQ(cask_sleep_until(-INFINITY), 0);
    CHECK_EQ(cask_sleep_until(t0 - 5), 0);
    CHECK_EQ(cask_sleep(DBL_MIN), 0);
    CHECK_NEAR(cask_time(), t0, 1e-6);
    cask_handle *h = (cask_handle *)0x1;
    CHECK_EQ(cask_call_later(&h, NAN, count_cb, NULL), -EINVAL);
    CHECK(h == NULL);
    CHECK_EQ(cask_call_at(&h, NAN, count_cb, NULL), -EINVAL);
    CHECK_EQ(cask_call_later(NULL, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(cask_call_soon(NULL, NULL, NULL), -EINVAL);
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, NAN), -EINVAL);
    CHECK_EQ(cask_timeout_open_at(&sc, NAN), -EINVAL);
    CHECK_EQ(cask_move_on_open(&sc, NAN), -EINVAL);
    CHECK_EQ(cask_move_on_open_at(&sc, NAN), -EINVAL);
    /* a negative timeout is already expired; -INFINITY too */
    CHECK_EQ(cask_timeout_open(&sc, -1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), -ETIMEDOUT);
    CHECK_EQ(cask_timeout_open(&sc, -INFINITY), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), -ETIMEDOUT);
    CHECK_EQ(cask_move_on_open_at(&sc, -INFINITY), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), 0);
    /* INFINITY: no deadline */
    CHECK_EQ(cask_timeout_open(&sc, INFINITY), 0);
    CHECK(isinf(cask_scope_deadline(&sc)));
    CHECK_EQ(cask_scope_reschedule(&sc, NAN), -EINVAL);
    CHECK_EQ(cask_scope_reschedule(&sc, cask_time() + 2), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(5)), -ETIMEDOUT);
    CHECK_EQ(cask_scope_reschedule(&sc, 1), -EINVAL); /* closed */
    CHECK_EQ(cask_scope_cancel(&sc), -EINVAL);
    /* huge values: a sleep of 1e300 s is a sleep forever, cut by a scope */
    CHECK_EQ(cask_timeout_open(&sc, 1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1e300)), -ETIMEDOUT);
    CHECK_EQ(cask_timeout_open(&sc, 1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(INFINITY)), -ETIMEDOUT);
    CHECK_EQ(cask_timeout_open(&sc, 1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep_until(INFINITY)), -ETIMEDOUT);
    CHECK_EQ(cask_timeout_open(&sc, 1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep_until(1e300)), -ETIMEDOUT);
    /* wait, wait_for, as_completed */
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, sleeper, NULL), 0);
    size_t nd = 9;
    CHECK_EQ(cask_wait(&t, 1, CASK_ALL_COMPLETED, NAN, &nd), -EINVAL);
    CHECK_EQ(nd, 0);
    CHECK_EQ(cask_wait(&t, 1, 3, 1, &nd), -EINVAL);
    CHECK_EQ(cask_wait(&t, 1, -1, 1, &nd), -EINVAL);
    CHECK_EQ(cask_wait(&t, 1, CASK_ALL_COMPLETED, -INFINITY, &nd), 0);
    CHECK_EQ(nd, 0);
    CHECK_EQ(cask_wait_for(t, NAN), -EINVAL);
    CHECK(!cask_task_done(t));
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, &t, 1, NAN), -EINVAL);
    CHECK_EQ(cask_as_completed_new(&it, &t, 1, -INFINITY), 0);
    cask_task *got = (cask_task *)0x1;
    CHECK_EQ(cask_as_completed_next(it, &got), -ETIMEDOUT);
    CHECK(got == NULL);
    CHECK_EQ(cask_as_completed_next(it, NULL), -EINVAL);
    cask_as_completed_free(it);
    CHECK_EQ(cask_wait_for(t, -INFINITY), -ETIMEDOUT);
    CHECK(cask_task_cancelled(t));
    cask_release(t);
    CHECK_NEAR(cask_time() - t0, 6, 1e-6);
    return 0;
}

TEST(mu_durations) { CHECK_EQ(ct_run_virtual(durations_main, NULL), 0); }

/* call_later / call_at with an infinite delay never run, also on the virtual clock while the
 * loop has nothing else to wait for (it must block in the poller, not jump to the end of
 * time) */
struct inf {
    cask_loop *loop;
    cask_event ev;
    int ran;
};

static void set_ev(void *arg) { cask_event_set(arg); }

static void *poke(void *arg)
{
    struct inf *x = arg;
    usleep(20000);
    CHECK_EQ(cask_call_soon_threadsafe(x->loop, set_ev, &x->ev), 0);
    return NULL;
}

static int infinite_callbacks_main(void *arg)
{
    struct inf *x = arg;
    x->loop = cask_loop_current();
    cask_event_init(&x->ev);
    cask_handle *h1, *h2, *h3;
    CHECK_EQ(cask_call_later(&h1, INFINITY, count_cb, &x->ran), 0);
    CHECK_EQ(cask_call_at(&h2, INFINITY, count_cb, &x->ran), 0);
    CHECK_EQ(cask_call_later(&h3, 1e300, count_cb, &x->ran), 0);
    double t0 = cask_time();
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, poke, x), 0);
    CHECK_EQ(cask_event_wait(&x->ev), 0);
    pthread_join(th, NULL);
    CHECK_EQ(x->ran, 0);
    CHECK(cask_time() - t0 < 1);
    CHECK(cask_handle_cancel(h1));
    CHECK(cask_handle_cancel(h2));
    cask_handle_release(h3); /* still pending: dropped at loop close */
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 1), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(2)), -ETIMEDOUT);
    CHECK_NEAR(cask_time() - t0, 1, 0.5);
    return 0;
}

TEST(mu_infinite_callbacks)
{
    struct inf x;
    memset(&x, 0, sizeof x);
    CHECK_EQ(ct_run_virtual(infinite_callbacks_main, &x), 0);
    CHECK_EQ(x.ran, 0);
}

/* giving a callback handle back twice in a row is harmless */
static int handle_twice_main(void *arg)
{
    int *ran = arg;
    cask_handle *h;
    CHECK_EQ(cask_call_soon(&h, count_cb, ran), 0);
    CHECK(cask_handle_cancel(h));
    CHECK(!cask_handle_cancel(h));
    cask_handle_release(h);
    CHECK_EQ(cask_call_later(&h, 1, count_cb, ran), 0);
    CHECK_EQ(cask_sleep(2), 0);
    CHECK_EQ(*ran, 1);
    cask_handle_release(h);
    cask_handle_release(h);
    CHECK(!cask_handle_cancel(h));
    /* the free list is intact: two new handles are distinct and both run */
    cask_handle *a, *b;
    CHECK_EQ(cask_call_soon(&a, count_cb, ran), 0);
    CHECK_EQ(cask_call_soon(&b, count_cb, ran), 0);
    CHECK(a != b);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(*ran, 3);
    cask_handle_release(a);
    cask_handle_release(b);
    return 0;
}

TEST(mu_handle_given_back_twice)
{
    int ran = 0;
    CHECK_EQ(ct_run_virtual(handle_twice_main, &ran), 0);
    CHECK_EQ(ran, 3);
}

/* ---- tasks ---- */

static int run_inner(void *arg)
{
    (void)arg;
    return 0;
}

static int r2_main(void *arg)
{
    (void)arg;
    /* R2: cask_run inside a running loop */
    CHECK_EQ(cask_run(run_inner, NULL), -EBUSY);
    CHECK_EQ(cask_run(NULL, NULL), -EBUSY);
    /* the loop is unharmed */
    CHECK_EQ(cask_sleep(0.5), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, ret_arg, (void *)5), 0);
    CHECK_EQ(cask_join(t), 5);
    cask_release(t);
    return 0;
}

static void run_from_cb(void *arg) { *(int *)arg = cask_run(run_inner, NULL); }

static int r2_cb_main(void *arg)
{
    CHECK_EQ(cask_call_soon(NULL, run_from_cb, arg), 0);
    CHECK_EQ(cask_sleep(0.1), 0);
    return 0;
}

TEST(mu_run_inside_run)
{
    CHECK_EQ(ct_run_virtual(r2_main, NULL), 0);
    int rc = 0;
    CHECK_EQ(ct_run_virtual(r2_cb_main, &rc), 0);
    CHECK_EQ(rc, -EBUSY);
    /* after the loop: a new one runs fine on this thread */
    CHECK_EQ(ct_run_virtual(ret_arg, (void *)3), 3);
}

static cask_task *g_leftover;

static int spawn_then_exit(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_spawn(NULL, sleeper, NULL), 0);
    return 0;
}

TEST(mu_spawn_after_run)
{
    CHECK_EQ(ct_run_virtual(spawn_then_exit, NULL), 0);
    g_leftover = (cask_task *)0x1;
    CHECK_EQ(cask_spawn(&g_leftover, ret_zero, NULL), -EPERM);
    CHECK(g_leftover == NULL);
    cask_group g;
    CHECK_EQ(cask_group_open(&g), -EPERM);
    cask_handle *h;
    CHECK_EQ(cask_call_soon(&h, count_cb, NULL), -EPERM);
}

static int spawn_args_main(void *arg)
{
    (void)arg;
    cask_task *t = (cask_task *)0x1;
    CHECK_EQ(cask_spawn(&t, NULL, NULL), -EINVAL);
    CHECK(t == NULL);
    struct cask_spawn_opts o = {.stack_size = CASK_STACK_MIN - 1};
    CHECK_EQ(cask_spawn_with(&t, ret_zero, NULL, &o), -EINVAL);
    /* a stack size too large to map */
    o.stack_size = SIZE_MAX / 2;
    int rc = cask_spawn_with(&t, ret_zero, NULL, &o);
    CHECK(rc == -ENOMEM || rc == -EINVAL);
    o.stack_size = SIZE_MAX;
    rc = cask_spawn_with(&t, ret_zero, NULL, &o);
    CHECK(rc == -ENOMEM || rc == -EINVAL);
    /* a long name is cut, an empty one gives the default */
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    o.stack_size = 0;
    o.name = longname;
    CHECK_EQ(cask_spawn_with(&t, ret_zero, NULL, &o), 0);
    CHECK_EQ(strlen(cask_task_name(t)), 31);
    CHECK_EQ(cask_task_set_name(t, NULL), -EINVAL);
    CHECK_EQ(cask_task_set_name(t, ""), 0);
    CHECK(strncmp(cask_task_name(t), "Task-", 5) == 0);
    int st = 1;
    CHECK_EQ(cask_task_status(t, &st), -EAGAIN);
    CHECK_EQ(st, 1);
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(cask_task_status(t, NULL), 0);
    /* the loop still spawns normally */
    CHECK_EQ(cask_spawn(NULL, ret_zero, NULL), 0);
    cask_release(t);
    /* join self, gather self */
    cask_task *self = cask_current();
    CHECK_EQ(cask_join(self), -EDEADLK);
    CHECK_EQ(cask_shield_join(self), -EDEADLK);
    CHECK_EQ(cask_wait_for(self, 1), -EDEADLK);
    CHECK_EQ(cask_gather(&self, 1, NULL), -EDEADLK);
    CHECK_EQ(cask_wait(&self, 1, CASK_ALL_COMPLETED, 1, NULL), -EDEADLK);
    cask_task *arr[2] = {NULL, NULL};
    CHECK_EQ(cask_gather(arr, 2, NULL), -EINVAL);
    CHECK_EQ(cask_gather(NULL, 2, NULL), -EINVAL);
    CHECK_EQ(cask_wait(arr, 2, CASK_ALL_COMPLETED, 1, NULL), -EINVAL);
    CHECK_EQ(cask_wait(NULL, 2, CASK_ALL_COMPLETED, 1, NULL), -EINVAL);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, arr, 2, 1), -EINVAL);
    CHECK_EQ(cask_as_completed_new(&it, NULL, 2, 1), -EINVAL);
    CHECK_EQ(cask_gather(NULL, 0, NULL), 0);
    CHECK_EQ(cask_wait(NULL, 0, CASK_FIRST_COMPLETED, 1, NULL), 0);
    CHECK_EQ(cask_as_completed_new(&it, NULL, 0, 1), 0);
    cask_task *got;
    CHECK_EQ(cask_as_completed_next(it, &got), 0);
    cask_as_completed_free(it);
    CHECK_EQ(cask_timeout_open(NULL, 1), -EINVAL);
    CHECK_EQ(cask_timeout_open_at(NULL, 1), -EINVAL);
    CHECK_EQ(cask_move_on_open(NULL, 1), -EINVAL);
    CHECK_EQ(cask_shield_open(NULL), -EINVAL);
    /* the current task's own cancellation bookkeeping */
    CHECK_EQ(cask_uncancel(self), 0);
    CHECK_EQ(cask_cancelling(self), 0);
    return 0;
}

TEST(mu_spawn_args) { CHECK_EQ(ct_run_virtual(spawn_args_main, NULL), 0); }

/* a task cancels itself: its next blocking call says so; uncancel restores it */
static int self_cancel_main(void *arg)
{
    (void)arg;
    cask_task *self = cask_current();
    CHECK(cask_cancel(self));
    CHECK(cask_cancel(self));
    CHECK_EQ(cask_cancelling(self), 2);
    CHECK_EQ(cask_sleep(1), -ECANCELED);
    CHECK_EQ(cask_yield(), -ECANCELED);
    CHECK_EQ(cask_uncancel(self), 1);
    CHECK_EQ(cask_sleep(1), -ECANCELED);
    CHECK_EQ(cask_uncancel(self), 0);
    CHECK_EQ(cask_uncancel(self), 0); /* more uncancels than cancels: stays 0 */
    CHECK_EQ(cask_cancelling(self), 0);
    CHECK_EQ(cask_sleep(1), 0);
    return 0;
}

TEST(mu_self_cancel) { CHECK_EQ(ct_run_virtual(self_cancel_main, NULL), 0); }

/* ---- blocking calls from a loop callback ---- */

struct cbctx {
    cask_lock lock;
    cask_event ev;
    cask_sem sem;
    cask_barrier bar;
    cask_cond cond;
    cask_queue *q;
    cask_future *fut;
    cask_task *task;
    cask_group *group;
    cask_scope *scope;
    int done;
};

static void blocking_from_cb(void *arg)
{
    struct cbctx *c = arg;
    CHECK(cask_current() == NULL);
    CHECK_EQ(cask_sleep(1), -EPERM);
    CHECK_EQ(cask_sleep(NAN), -EPERM);
    CHECK_EQ(cask_sleep_until(1), -EPERM);
    CHECK_EQ(cask_yield(), -EPERM);
    CHECK_EQ(cask_join(c->task), -EPERM);
    CHECK_EQ(cask_shield_join(c->task), -EPERM);
    CHECK_EQ(cask_wait_for(c->task, 1), -EPERM);
    CHECK_EQ(cask_gather(&c->task, 1, NULL), -EPERM);
    CHECK_EQ(cask_wait(&c->task, 1, CASK_ALL_COMPLETED, 1, NULL), -EPERM);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, &c->task, 1, INFINITY), 0); /* not blocking */
    cask_task *got;
    CHECK_EQ(cask_as_completed_next(it, &got), -EPERM);
    cask_as_completed_free(it);
    CHECK_EQ(cask_future_await(c->fut, NULL), -EPERM);
    CHECK_EQ(cask_wait_fd(0, CASK_READABLE), -EPERM);
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 1), -EPERM);
    CHECK_EQ(cask_move_on_open_at(&sc, 1), -EPERM);
    CHECK_EQ(cask_shield_open(&sc), -EPERM);
    CHECK_EQ(cask_scope_close(c->scope, 0), -EINVAL);
    cask_group g;
    CHECK_EQ(cask_group_open(&g), -EPERM);
    CHECK_EQ(cask_group_close(c->group, 0), -EPERM);
    CHECK_EQ(cask_group_start(c->group, NULL, ret_zero, NULL, NULL), -EPERM);
    CHECK_EQ(cask_started(NULL), -EPERM);
    CHECK_EQ(cask_lock_acquire(&c->lock), -EPERM); /* held by main */
    CHECK_EQ(cask_event_wait(&c->ev), -EPERM);
    CHECK_EQ(cask_sem_acquire(&c->sem), -EPERM);
    CHECK_EQ(cask_barrier_wait(&c->bar, NULL), -EPERM);
    CHECK_EQ(cask_barrier_n_waiting(&c->bar), 0);
    CHECK_EQ(cask_cond_wait(&c->cond), -EPERM);
    CHECK_EQ(cask_queue_get(c->q, NULL), -EPERM);
    CHECK_EQ(cask_queue_put_nowait(c->q, (void *)1), 0);
    CHECK_EQ(cask_queue_put(c->q, (void *)2), -EPERM); /* full (maxsize 1) */
    CHECK_EQ(cask_queue_join(c->q), -EPERM);
    /* non-blocking ones work from callbacks */
    CHECK_EQ(cask_spawn(NULL, ret_zero, NULL), 0);
    CHECK_EQ(cask_group_spawn(c->group, NULL, ret_zero, NULL), 0);
    CHECK_EQ(cask_scope_reschedule(c->scope, INFINITY), 0);
    c->done = 1;
}

static int cb_main(void *arg)
{
    struct cbctx *c = arg;
    cask_lock_init(&c->lock);
    cask_event_init(&c->ev);
    CHECK_EQ(cask_sem_init(&c->sem, 0), 0);
    CHECK_EQ(cask_barrier_init(&c->bar, 2), 0);
    cask_cond_init(&c->cond, NULL);
    CHECK_EQ(cask_queue_new(&c->q, 1, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_future_new(&c->fut), 0);
    CHECK_EQ(cask_spawn(&c->task, sleeper, NULL), 0);
    CHECK_EQ(cask_lock_acquire(&c->lock), 0);
    CHECK_EQ(cask_cond_acquire(&c->cond), 0);
    cask_scope sc;
    cask_group g;
    CHECK_EQ(cask_timeout_open(&sc, 100), 0);
    CHECK_EQ(cask_group_open(&g), 0);
    c->group = &g;
    c->scope = &sc;
    CHECK_EQ(cask_call_soon(NULL, blocking_from_cb, c), 0);
    CHECK_EQ(cask_sleep(1), 0);
    CHECK_EQ(c->done, 1);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    /* everything still works from the task */
    CHECK_EQ(cask_cond_release(&c->cond), 0);
    CHECK_EQ(cask_lock_release(&c->lock), 0);
    CHECK(cask_cancel(c->task));
    CHECK_EQ(cask_join(c->task), -ECANCELED);
    cask_release(c->task);
    void *item;
    CHECK_EQ(cask_queue_get(c->q, &item), 0);
    CHECK(item == (void *)1);
    CHECK_EQ(cask_queue_task_done(c->q), 0);
    CHECK_EQ(cask_queue_join(c->q), 0);
    cask_queue_free(c->q);
    CHECK(cask_future_cancelled(c->fut) == false);
    CHECK_EQ(cask_future_set_result(c->fut, NULL), 0);
    CHECK_EQ(cask_future_await(c->fut, NULL), 0);
    cask_future_free(c->fut);
    return 0;
}

TEST(mu_blocking_from_callback)
{
    struct cbctx c;
    memset(&c, 0, sizeof c);
    CHECK_EQ(ct_run_virtual(cb_main, &c), 0);
}

/* ---- scopes ---- */

static int scopes_main(void *arg)
{
    (void)arg;
    cask_scope a, b, c;
    CHECK_EQ(cask_timeout_open(&a, 10), 0);
    CHECK_EQ(cask_move_on_open(&b, 5), 0);
    CHECK_EQ(cask_shield_open(&c), 0);
    /* out of order: refused, nothing changes */
    CHECK_EQ(cask_scope_close(&a, 0), -EINVAL);
    CHECK_EQ(cask_scope_close(&b, 0), -EINVAL);
    CHECK_EQ(cask_scope_close(&c, 0), 0);
    CHECK_EQ(cask_scope_close(&c, 0), -EINVAL); /* twice */
    CHECK_EQ(cask_scope_close(&a, 0), -EINVAL);
    CHECK_EQ(cask_scope_close(&b, cask_sleep(7)), 0); /* b moved on at 5 */
    CHECK(!cask_scope_expired(&a));
    CHECK_EQ(cask_scope_close(&a, cask_sleep(7)), -ETIMEDOUT); /* a expires at 10 */
    CHECK_EQ(cask_scope_close(&a, 0), -EINVAL);
    /* a scope of another task cannot be closed by this one */
    return 0;
}

TEST(mu_scope_order) { CHECK_EQ(ct_run_virtual(scopes_main, NULL), 0); }

static int open_scope_child(void *arg)
{
    cask_scope *sc = arg;
    CHECK_EQ(cask_timeout_open(sc, 1), 0);
    CHECK_EQ(cask_sleep(10), -ECANCELED);
    ct_log("child");
    return cask_scope_close(sc, -ECANCELED);
}

static int foreign_scope_main(void *arg)
{
    (void)arg;
    cask_scope sc;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, open_scope_child, &sc), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_scope_close(&sc, 0), -EINVAL); /* not this task's scope */
    CHECK_EQ(cask_join(t), -ETIMEDOUT);
    CHECK_LOG("child");
    cask_release(t);
    return 0;
}

TEST(mu_scope_of_another_task) { CHECK_EQ(ct_run_virtual(foreign_scope_main, NULL), 0); }

/* ---- groups ---- */

static int group_misuse_child(void *arg)
{
    cask_group *g = arg;
    CHECK_EQ(cask_group_close(g, 0), -EPERM); /* not the owner */
    CHECK_EQ(cask_started(NULL), -EINVAL);     /* not being started */
    return 0;
}

static int started_twice(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_started((void *)7), 0);
    CHECK_EQ(cask_started((void *)8), -EINVAL);
    return 0;
}

static int group_main(void *arg)
{
    (void)arg;
    cask_group g, inner;
    memset(&g, 0, sizeof g);
    CHECK_EQ(cask_group_spawn(&g, NULL, ret_zero, NULL), -EINVAL); /* never opened */
    CHECK_EQ(cask_group_close(&g, 0), -EINVAL);
    CHECK_EQ(cask_group_cancel(&g), -EINVAL);
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, NULL, NULL), -EINVAL);
    struct cask_spawn_opts bad = {.stack_size = 1};
    CHECK_EQ(cask_group_spawn_with(&g, NULL, ret_zero, NULL, &bad), -EINVAL);
    CHECK_EQ(cask_group_spawn(&g, NULL, group_misuse_child, &g), 0);
    void *v = NULL;
    CHECK_EQ(cask_group_start(&g, NULL, started_twice, NULL, &v), 0);
    CHECK(v == (void *)7);
    CHECK_EQ(cask_group_start(&g, NULL, ret_zero, NULL, &v), -EINVAL); /* never started */
    CHECK_EQ(cask_group_start(&g, NULL, NULL, NULL, &v), -EINVAL);
    /* out of order with a scope and an inner group */
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 100), 0);
    CHECK_EQ(cask_group_open(&inner), 0);
    CHECK_EQ(cask_group_close(&g, 0), -EINVAL);
    CHECK_EQ(cask_scope_close(&sc, 0), -EINVAL);
    CHECK_EQ(cask_group_spawn(&inner, NULL, ret_zero, NULL), 0);
    CHECK_EQ(cask_group_close(&inner, 0), 0);
    CHECK_EQ(cask_group_close(&inner, 0), -EINVAL); /* twice */
    CHECK_EQ(cask_group_spawn(&inner, NULL, ret_zero, NULL), -ESHUTDOWN);
    CHECK_EQ(cask_group_cancel(&inner), 0); /* finished: no-op */
    CHECK_EQ(cask_group_close(&g, 0), -EINVAL);
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    CHECK_EQ(cask_group_close(&g, 0), -EINVAL);
    CHECK_EQ(cask_group_spawn(&g, NULL, ret_zero, NULL), -ESHUTDOWN);
    CHECK_EQ(cask_group_size(&g), 0);
    CHECK_EQ(cask_group_errors(&g, NULL, 5), 0);
    return 0;
}

TEST(mu_group) { CHECK_EQ(ct_run_virtual(group_main, NULL), 0); }

/* ---- sync primitives ---- */

static int holder(void *arg)
{
    cask_lock *l = arg;
    CHECK_EQ(cask_lock_acquire(l), 0);
    int rc = cask_sleep(1);
    return rc;
}

static int sync_main(void *arg)
{
    (void)arg;
    cask_lock l = CASK_LOCK_INIT;
    /* release when not held, twice */
    CHECK_EQ(cask_lock_release(&l), -EPERM);
    CHECK_EQ(cask_lock_acquire(&l), 0);
    CHECK_EQ(cask_lock_acquire(&l), -EDEADLK);
    CHECK(cask_lock_locked(&l));
    CHECK_EQ(cask_lock_release(&l), 0);
    CHECK_EQ(cask_lock_release(&l), -EPERM);
    CHECK(!cask_lock_locked(&l));
    /* releasing a lock another task holds is allowed (asyncio does not check the owner) */
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, holder, &l), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_lock_locked(&l));
    CHECK_EQ(cask_lock_release(&l), 0);
    CHECK(!cask_lock_locked(&l));
    CHECK_EQ(cask_lock_acquire(&l), 0);
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(cask_lock_release(&l), 0);
    cask_release(t);

    /* condition: wait/notify without the lock */
    cask_cond c = CASK_COND_INIT;
    CHECK_EQ(cask_cond_wait(&c), -EPERM);
    CHECK_EQ(cask_cond_notify(&c, 1), -EPERM);
    CHECK_EQ(cask_cond_notify_all(&c), -EPERM);
    CHECK_EQ(cask_cond_release(&c), -EPERM);
    CHECK_EQ(cask_cond_acquire(&c), 0);
    CHECK_EQ(cask_cond_wait_for(&c, NULL, NULL), -EINVAL);
    CHECK_EQ(cask_cond_notify(&c, 0), 0);
    CHECK_EQ(cask_cond_notify(&c, SIZE_MAX), 0);
    CHECK_EQ(cask_cond_acquire(&c), -EDEADLK);
    CHECK_EQ(cask_cond_release(&c), 0);
    /* condition over a lock held by another task */
    cask_lock shared = CASK_LOCK_INIT;
    cask_cond c2;
    cask_cond_init(&c2, &shared);
    CHECK_EQ(cask_spawn(&t, holder, &shared), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_cond_wait(&c2), -EPERM);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_EQ(cask_lock_release(&shared), 0);

    /* semaphores: huge values, bounded release */
    cask_sem s;
    CHECK_EQ(cask_bounded_sem_init(&s, 1), 0);
    CHECK_EQ(cask_sem_release(&s), -EINVAL);
    CHECK_EQ(cask_sem_value(&s), 1);
    CHECK_EQ(cask_sem_acquire(&s), 0);
    CHECK_EQ(cask_sem_try_acquire(&s), -EAGAIN);
    CHECK_EQ(cask_sem_release(&s), 0);
    CHECK_EQ(cask_sem_init(&s, INT64_MAX), 0);
    CHECK_EQ(cask_sem_release(&s), -EOVERFLOW);
    CHECK_EQ(cask_sem_value(&s), INT64_MAX);
    CHECK_EQ(cask_sem_acquire(&s), 0);
    CHECK_EQ(cask_sem_release(&s), 0);
    CHECK_EQ(cask_sem_init(&s, 0), 0);
    CHECK(cask_sem_locked(&s));

    /* barriers: one party, broken, reset */
    cask_barrier b;
    unsigned idx = 99;
    CHECK_EQ(cask_barrier_init(&b, 1), 0);
    CHECK_EQ(cask_barrier_wait(&b, &idx), 0);
    CHECK_EQ(idx, 0);
    CHECK_EQ(cask_barrier_wait(&b, NULL), 0);
    cask_barrier_abort(&b);
    CHECK_EQ(cask_barrier_wait(&b, &idx), -EPIPE);
    cask_barrier_abort(&b);
    cask_barrier_reset(&b);
    cask_barrier_reset(&b);
    CHECK_EQ(cask_barrier_wait(&b, &idx), 0);
    CHECK_EQ(cask_barrier_init(&b, INT32_MAX), 0);
    CHECK_EQ(cask_barrier_parties(&b), INT32_MAX);

    /* events */
    cask_event e = CASK_EVENT_INIT;
    cask_event_clear(&e);
    cask_event_set(&e);
    cask_event_set(&e);
    CHECK_EQ(cask_event_wait(&e), 0);
    return 0;
}

TEST(mu_sync) { CHECK_EQ(ct_run_virtual(sync_main, NULL), 0); }

static int queue_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, SIZE_MAX, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_maxsize(q), SIZE_MAX);
    CHECK(!cask_queue_full(q));
    for (intptr_t i = 0; i < 5000; i++)
        CHECK_EQ(cask_queue_put_nowait(q, (void *)i), 0);
    CHECK_EQ(cask_queue_qsize(q), 5000);
    CHECK_EQ(cask_queue_task_done(q), 0);
    cask_queue_shutdown(q, false);
    cask_queue_shutdown(q, false);
    CHECK_EQ(cask_queue_put(q, NULL), -ESHUTDOWN);
    CHECK_EQ(cask_queue_put_nowait(q, NULL), -ESHUTDOWN);
    void *it;
    CHECK_EQ(cask_queue_get(q, &it), 0);
    CHECK(it == (void *)0);
    cask_queue_shutdown(q, true);
    CHECK_EQ(cask_queue_get(q, &it), -ESHUTDOWN);
    CHECK_EQ(cask_queue_get_nowait(q, &it), -ESHUTDOWN);
    CHECK_EQ(cask_queue_join(q), 0); /* the drop counted the one item got as done too */
    CHECK_EQ(cask_queue_task_done(q), -EINVAL);
    cask_queue_free(q);

    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_PRIORITY, NULL), 0);
    CHECK_EQ(cask_queue_task_done(q), -EINVAL);
    CHECK_EQ(cask_queue_get_nowait(q, NULL), -EAGAIN);
    CHECK_EQ(cask_queue_put_nowait(q, (void *)INTPTR_MAX), 0);
    CHECK_EQ(cask_queue_put_nowait(q, (void *)INTPTR_MIN), 0);
    CHECK_EQ(cask_queue_get(q, &it), 0);
    CHECK(it == (void *)INTPTR_MIN);
    CHECK_EQ(cask_queue_get(q, NULL), 0);
    CHECK_EQ(cask_queue_task_done(q), 0);
    CHECK_EQ(cask_queue_task_done(q), 0);
    CHECK_EQ(cask_queue_task_done(q), -EINVAL);
    cask_queue_free(q);
    return 0;
}

TEST(mu_queue) { CHECK_EQ(ct_run_virtual(queue_main, NULL), 0); }

/* ---- futures ---- */

static void fut_cb(cask_future *f, void *arg)
{
    (void)f;
    ++*(int *)arg;
}

static void count_cb_f(cask_future *f, void *arg)
{
    (void)f;
    ++*(int *)arg;
}

static int future_main(void *arg)
{
    (void)arg;
    cask_future *f;
    int ran = 0;
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK_EQ(cask_future_result(f, NULL), -EAGAIN);
    CHECK_EQ(cask_future_set_error(f, 0), -EINVAL);
    CHECK_EQ(cask_future_set_error(f, 5), -EINVAL);
    CHECK(!cask_future_done(f));
    CHECK_EQ(cask_future_add_done_callback(f, NULL, NULL), -EINVAL);
    CHECK_EQ(cask_future_add_done_callback(f, fut_cb, &ran), 0);
    CHECK_EQ(cask_future_add_done_callback(f, fut_cb, &ran), 0);
    CHECK_EQ(cask_future_remove_done_callback(f, fut_cb, NULL), 0);
    CHECK_EQ(cask_future_remove_done_callback(f, fut_cb, &ran), 2);
    CHECK_EQ(cask_future_add_done_callback(f, fut_cb, &ran), 0);
    CHECK_EQ(cask_future_set_result(f, (void *)3), 0);
    CHECK_EQ(cask_future_set_result(f, (void *)4), -EINVAL);
    CHECK_EQ(cask_future_set_error(f, -EIO), -EINVAL);
    CHECK(!cask_future_cancel(f));
    void *v = NULL;
    CHECK_EQ(cask_future_await(f, &v), 0);
    CHECK(v == (void *)3);
    CHECK_EQ(ran, 0); /* never inline */
    /* free with a callback still scheduled: the callback still runs */
    cask_future_free(f);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(ran, 1);
    /* a failure read by nobody is reported, not lost; one read is not reported */
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK_EQ(cask_future_set_error(f, CASK_EUSER - 1), 0);
    CHECK_EQ(cask_future_await(f, NULL), CASK_EUSER - 1);
    CHECK_EQ(cask_future_result(f, NULL), CASK_EUSER - 1);
    cask_future_free(f);
    /* a cancelled task awaiting a done future gets the result (no suspension) */
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK_EQ(cask_future_set_result(f, (void *)9), 0);
    CHECK(cask_cancel(cask_current()));
    CHECK_EQ(cask_future_await(f, &v), 0);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    cask_future_free(f);
    return 0;
}

TEST(mu_future) { CHECK_EQ(ct_run_virtual(future_main, NULL), 0); }

/* ---- fds ---- */

static int fd_main(void *arg)
{
    (void)arg;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(cask_wait_fd(p[0], 0), -EINVAL);
    CHECK_EQ(cask_wait_fd(p[0], 4), -EINVAL);
    CHECK_EQ(cask_wait_fd(p[0], -1), -EINVAL);
    CHECK_EQ(cask_wait_fd(-1, CASK_READABLE), -EBADF);
    CHECK_EQ(cask_wait_fd(INT32_MAX, CASK_READABLE), -EBADF);
    CHECK_EQ(cask_wait_fd(1 << 30, CASK_READABLE), -EBADF);
    CHECK_EQ(cask_wait_fd(1 << 20, CASK_READABLE), -EBADF);
    CHECK_EQ(cask_fd_forget(-1), 0);
    CHECK_EQ(cask_fd_forget(INT32_MAX), 0);
    CHECK_EQ(cask_fd_forget(p[0]), 0); /* never waited on */
    /* a closed fd */
    int dead = dup(p[0]);
    CHECK(dead >= 0);
    close(dead);
    CHECK_EQ(cask_wait_fd(dead, CASK_READABLE), -EBADF);
    /* the loop still waits on fds */
    CHECK_EQ(cask_wait_fd(p[1], CASK_WRITABLE), CASK_WRITABLE);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK(cask_wait_fd(p[0], CASK_READABLE) & CASK_READABLE);
    CHECK_EQ(cask_fd_forget(p[0]), 0);
    CHECK_EQ(cask_fd_forget(p[1]), 0);
    close(p[0]);
    close(p[1]);
    return 0;
}

TEST(mu_fd) { CHECK_EQ(ct_run_virtual(fd_main, NULL), 0); }

/* ---- objects of another loop (a second loop in a thread) ---- */

struct other {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cask_task *task;   /* a task parked on the other loop */
    cask_future *fut;  /* a future of the other loop */
    cask_group *group; /* an open group of the other loop */
    cask_loop *loop;
    int ready;
    int stop;
};

static int other_main(void *arg)
{
    struct other *o = arg;
    cask_task *t;
    cask_group g;
    CHECK_EQ(cask_spawn(&t, sleeper, NULL), 0);
    CHECK_EQ(cask_future_new(&o->fut), 0);
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_yield(), 0);
    pthread_mutex_lock(&o->mu);
    o->task = t;
    o->group = &g;
    o->loop = cask_loop_current();
    o->ready = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    for (;;) {
        pthread_mutex_lock(&o->mu);
        int stop = o->stop;
        pthread_mutex_unlock(&o->mu);
        if (stop)
            break;
        CHECK_EQ(cask_sleep(0.001), 0);
    }
    CHECK(!cask_task_done(t));
    CHECK(!cask_future_done(o->fut));
    CHECK_EQ(cask_group_size(&g), 0);
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_join(t), -ECANCELED);
    cask_release(t);
    cask_future_free(o->fut);
    return cask_group_close(&g, 0);
}

static void *other_thread(void *arg) { return (void *)(intptr_t)cask_run(other_main, arg); }

static int foreign_main(void *arg)
{
    struct other *o = arg;
    pthread_mutex_lock(&o->mu);
    while (!o->ready)
        pthread_cond_wait(&o->cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
    cask_task *t = o->task;
    CHECK(o->loop != cask_loop_current());
    CHECK_EQ(cask_join(t), -EPERM);
    CHECK_EQ(cask_shield_join(t), -EPERM);
    CHECK_EQ(cask_wait_for(t, 1), -EPERM);
    CHECK_EQ(cask_gather(&t, 1, NULL), -EPERM);
    CHECK_EQ(cask_wait(&t, 1, CASK_ALL_COMPLETED, 1, NULL), -EPERM);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, &t, 1, 1), -EPERM);
    CHECK(!cask_cancel(t));
    CHECK_EQ(cask_future_await(o->fut, NULL), -EPERM);
    CHECK_EQ(cask_group_spawn(o->group, NULL, ret_zero, NULL), -EPERM);
    CHECK_EQ(cask_group_close(o->group, 0), -EPERM);
    pthread_mutex_lock(&o->mu);
    o->stop = 1;
    pthread_mutex_unlock(&o->mu);
    return 0;
}

TEST(mu_objects_of_another_loop)
{
    struct other o;
    memset(&o, 0, sizeof o);
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.cv, NULL);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, other_thread, &o), 0);
    CHECK_EQ(cask_run(foreign_main, &o), 0);
    void *ret;
    CHECK_EQ(pthread_join(th, &ret), 0);
    CHECK_EQ((intptr_t)ret, 0);
    pthread_mutex_destroy(&o.mu);
    pthread_cond_destroy(&o.cv);
}

/* ---- huge counts ---- */

static int huge_main(void *arg)
{
    (void)arg;
    enum { N = 300 };
    cask_task *ts[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(cask_spawn(&ts[i], ret_arg, (void *)(intptr_t)(i % 3)), 0);
    int *st = malloc(N * sizeof *st);
    CHECK(st != NULL);
    CHECK_EQ(cask_gather(ts, N, st), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(st[i], i % 3);
    size_t nd = 0;
    CHECK_EQ(cask_wait(ts, N, CASK_ALL_COMPLETED, INFINITY, &nd), 0);
    CHECK_EQ(nd, N);
    free(st);
    for (int i = 0; i < N; i++)
        cask_release(ts[i]);
    /* cask_all_tasks with a small buffer */
    cask_task *few[2];
    for (int i = 0; i < 5; i++)
        CHECK_EQ(cask_spawn(NULL, ret_zero, NULL), 0);
    CHECK_EQ(cask_all_tasks(few, 2), 6);
    CHECK_EQ(cask_all_tasks(NULL, 100), 6);
    CHECK(few[0] == cask_current());
    return 0;
}

TEST(mu_huge_counts) { CHECK_EQ(ct_run_virtual(huge_main, NULL), 0); }

/* cask_loop_stats(NULL) */
static int stats_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_loop_stats(NULL), -EINVAL);
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    CHECK_EQ(st.tasks_live, 1);
    return 0;
}

TEST(mu_stats) { CHECK_EQ(ct_run_virtual(stats_main, NULL), 0); }

/* ---- out of memory for a timer: every call that arms one fails cleanly ---- */

static int enomem_timers_main(void *arg)
{
    (void)arg;
    enum { N = 70 };
    cask_scope sc[N], outer;
    CHECK_EQ(cask_timeout_open(&outer, INFINITY), 0);
    cask_task *child;
    CHECK_EQ(cask_spawn(&child, sleeper, NULL), 0);
    int growths = 0;
    for (int i = 0; i < N; i++) {
        ct_fail_alloc_after(1);
        int rc = cask_timeout_open(&sc[i], 100 + i);
        ct_fail_alloc_after(0);
        if (rc == 0)
            continue;
        CHECK_EQ(rc, -ENOMEM);
        growths++;
        CHECK_EQ(cask_scope_close(&sc[i], 0), -EINVAL); /* it was not opened */
        double now = cask_time();
        cask_handle *h = (cask_handle *)0x1;
        size_t nd = 9;
        cask_as_completed *it = (cask_as_completed *)0x1;
        cask_scope x;
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_sleep(1), -ENOMEM);
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_sleep_until(now + 1), -ENOMEM);
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_call_later(&h, 1, count_cb, NULL), -ENOMEM);
        CHECK(h == NULL);
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_scope_reschedule(&outer, now + 1), -ENOMEM);
        CHECK(isinf(cask_scope_deadline(&outer)));
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_wait(&child, 1, CASK_ALL_COMPLETED, 1, &nd), -ENOMEM);
        CHECK_EQ(nd, 0);
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_wait_for(child, 1), -ENOMEM);
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_as_completed_new(&it, &child, 1, 1), -ENOMEM);
        CHECK(it == NULL);
        ct_fail_alloc_after(1);
        CHECK_EQ(cask_move_on_open(&x, 1), -ENOMEM);
        ct_fail_alloc_after(0);
        CHECK(!cask_task_done(child));
        CHECK_EQ(cask_cancelling(child), 0);
        CHECK(cask_time() == now);
        CHECK_EQ(cask_timeout_open(&sc[i], 100 + i), 0); /* with memory it works */
    }
    CHECK(growths >= 2);
    CHECK_EQ(cask_sleep(1), 0);
    for (int i = N - 1; i >= 0; i--)
        CHECK_EQ(cask_scope_close(&sc[i], 0), 0);
    CHECK_EQ(cask_scope_close(&outer, 0), 0);
    CHECK(cask_cancel(child));
    CHECK_EQ(cask_join(child), -ECANCELED);
    cask_release(child);
    return 0;
}

TEST(mu_enomem_timers) { CHECK_EQ(ct_run_virtual(enomem_timers_main, NULL), 0); }

/* ---- opening a scope or a group again before closing it ---- */

static int reopen_main(void *arg)
{
    (void)arg;
    cask_scope a, b;
    CHECK_EQ(cask_timeout_open(&a, 5), 0);
    CHECK_EQ(cask_move_on_open(&b, 100), 0);
    CHECK_EQ(cask_timeout_open(&a, 1), -EINVAL); /* still open (not innermost) */
    CHECK_EQ(cask_shield_open(&b), -EINVAL);     /* still open (innermost) */
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, sleeper, NULL), 0);
    CHECK_EQ(cask_group_open(&g), -EINVAL);
    CHECK_EQ(cask_group_size(&g), 1); /* its child is still counted */
    CHECK_EQ(cask_timeout_open(&a, 1), -EINVAL);
    /* everything still closes in order, a's deadline (5) intact */
    CHECK_EQ(cask_group_close(&g, cask_sleep(10)), -ECANCELED);
    CHECK_EQ(cask_scope_close(&b, -ECANCELED), -ECANCELED);
    CHECK_EQ(cask_scope_close(&a, -ECANCELED), -ETIMEDOUT);
    /* once closed, a struct may be opened again */
    CHECK_EQ(cask_timeout_open(&a, 1), 0);
    CHECK_EQ(cask_scope_close(&a, cask_sleep(2)), -ETIMEDOUT);
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    return 0;
}

TEST(mu_reopen_scope_or_group) { CHECK_EQ(ct_run_virtual(reopen_main, NULL), 0); }

/* ---- documented fatal misuse: the process aborts with a message ---- */

/* a task that returns with a timeout scope still open: its timer would fire into the dead
 * stack; detected when the task returns */
static int forget_close(void *arg)
{
    (void)arg;
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 1), 0);
    return 4; /* forgot the close */
}

static int forgot_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, forget_close, NULL), 0);
    CHECK_EQ(cask_join(t), 4);
    cask_release(t);
    return cask_sleep(2);
}

static int forget_group(void *arg)
{
    (void)arg;
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    return 0; /* forgot cask_group_close */
}

static int ac_reader(void *arg)
{
    cask_task *t;
    return cask_as_completed_next(arg, &t);
}

static int free_while_reading(void *arg)
{
    (void)arg;
    cask_task *kid, *reader;
    CHECK_EQ(cask_spawn(&kid, sleeper, NULL), 0);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, &kid, 1, INFINITY), 0);
    CHECK_EQ(cask_spawn(&reader, ac_reader, it), 0);
    CHECK_EQ(cask_sleep(1), 0);
    cask_as_completed_free(it); /* the reader waits in _next */
    return 0;
}

static void expect_abort(cask_fn fn)
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        ct_run_virtual(fn, NULL);
        _exit(0);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGABRT);
}

TEST(mu_fatal_misuse)
{
    expect_abort(forgot_main);
    expect_abort(forget_group);
    expect_abort(free_while_reading);
}

/* ---- a callback gives back its own handle while it runs ---- */

struct selfh {
    cask_handle *h;
    int ran;
    bool cancel; /* cancel rather than release */
};

static void give_back_self(void *arg)
{
    struct selfh *x = arg;
    x->ran++;
    if (x->cancel)
        CHECK(!cask_handle_cancel(x->h)); /* running: no longer pending */
    else
        cask_handle_release(x->h);
}

static int self_handle_main(void *arg)
{
    (void)arg;
    for (int k = 0; k < 2; k++) {
        struct selfh x = {NULL, 0, k == 1};
        CHECK_EQ(cask_call_soon(&x.h, give_back_self, &x), 0);
        CHECK_EQ(cask_yield(), 0);
        CHECK_EQ(x.ran, 1);
        CHECK_EQ(cask_call_later(&x.h, 1, give_back_self, &x), 0);
        CHECK_EQ(cask_sleep(2), 0);
        CHECK_EQ(x.ran, 2);
    }
    /* the free list is intact: new handles are distinct */
    int ran = 0;
    cask_handle *hs[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(cask_call_soon(&hs[i], count_cb, &ran), 0);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            CHECK(hs[i] != hs[j]);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(ran, 4);
    for (int i = 0; i < 4; i++)
        cask_handle_release(hs[i]);
    return 0;
}

TEST(mu_callback_gives_back_own_handle) { CHECK_EQ(ct_run_virtual(self_handle_main, NULL), 0); }

/* ---- a done callback that frees its future, run inline for want of memory ---- */

static void free_fut_cb(cask_future *f, void *arg)
{
    ++*(int *)arg;
    cask_future_free(f);
}

static int fut_inline_main(void *arg)
{
    (void)arg;
    for (int k = 0; k < 2; k++) {
        int ran = 0;
        cask_future *f;
        CHECK_EQ(cask_future_new(&f), 0);
        CHECK_EQ(cask_future_add_done_callback(f, free_fut_cb, &ran), 0);
        CHECK_EQ(cask_future_add_done_callback(f, count_cb_f, &ran), 0);
        ct_fail_alloc_every(1); /* no handle for the callbacks: they run now */
        if (k == 0)
            CHECK_EQ(cask_future_set_result(f, NULL), 0);
        else
            CHECK(cask_future_cancel(f));
        ct_fail_alloc_every(0);
        CHECK_EQ(ran, 2);
    }
    return 0;
}

TEST(mu_future_callback_frees_inline) { CHECK_EQ(ct_run_virtual(fut_inline_main, NULL), 0); }

/* ---- stack sizes that cannot be mapped ---- */

static int stack_sizes_main(void *arg)
{
    (void)arg;
    struct cask_spawn_opts o = {0};
    cask_task *t;
    /* sizes beyond CASK_STACK_MAX are refused at once, eager or not, and take up nothing */
    for (int i = 0; i < 8; i++) {
        o.stack_size = ((size_t)1 << 58) + (size_t)i * 4096;
        o.eager = i & 1;
        CHECK_EQ(cask_spawn_with(&t, ret_arg, (void *)5, &o), -EINVAL);
        CHECK(t == NULL);
    }
    o.eager = false;
    o.stack_size = SIZE_MAX;
    CHECK_EQ(cask_spawn_with(&t, ret_arg, (void *)5, &o), -EINVAL);
    /* a valid custom size still gets a pool of its own after all those */
    o.stack_size = 2 * CASK_STACK_MIN;
    CHECK_EQ(cask_spawn_with(&t, ret_arg, (void *)4, &o), 0);
    CHECK_EQ(cask_join(t), 4);
    cask_release(t);
    /* the default size still works */
    CHECK_EQ(cask_spawn(&t, ret_arg, (void *)3), 0);
    CHECK_EQ(cask_join(t), 3);
    cask_release(t);
    return 0;
}

TEST(mu_unmappable_stack_sizes) { CHECK_EQ(ct_run_virtual(stack_sizes_main, NULL), 0); }

/* ---- main gives back its own handle: cask_run still owns it ---- */

static int release_self_main(void *arg)
{
    (void)arg;
    cask_release(cask_current());
    CHECK_EQ(cask_sleep(1), 0);
    return 3;
}

TEST(mu_main_releases_itself) { CHECK_EQ(ct_run_virtual(release_self_main, NULL), 3); }

/* ---- as_completed: two readers ---- */

static int busy_main(void *arg)
{
    (void)arg;
    cask_task *kid, *reader, *got;
    static double one = 1.0;
    CHECK_EQ(cask_spawn(&kid, sleeper, &one), 0);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, &kid, 1, INFINITY), 0);
    CHECK_EQ(cask_spawn(&reader, ac_reader, it), 0);
    CHECK_EQ(cask_yield(), 0); /* the reader waits in _next */
    CHECK_EQ(cask_as_completed_next(it, &got), -EBUSY);
    CHECK(got == NULL);
    CHECK_EQ(cask_join(reader), 1); /* the reader got kid */
    CHECK_EQ(cask_as_completed_next(it, &got), 0);
    cask_as_completed_free(it);
    CHECK_EQ(cask_join(kid), 0);
    cask_release(reader);
    cask_release(kid);
    return 0;
}

TEST(mu_as_completed_two_readers) { CHECK_EQ(ct_run_virtual(busy_main, NULL), 0); }

TEST(mu_run_with_huge_stack)
{
    struct cask_config cfg = {.stack_size = SIZE_MAX, .virtual_clock = true};
    CHECK_EQ(cask_run_with(ret_zero, NULL, &cfg), -EINVAL);
    cfg.stack_size = (size_t)1 << 58;
    CHECK_EQ(cask_run_with(ret_zero, NULL, &cfg), -EINVAL);
    CHECK(cask_loop_current() == NULL);
    CHECK_EQ(ct_run_virtual(ret_arg, (void *)2), 2); /* the thread can still run a loop */
}

/* ---- as_completed: after the deadline, every later call says -ETIMEDOUT ---- */

static int ac_deadline_main(void *arg)
{
    (void)arg;
    static double half = 0.5, two = 2.0;
    cask_task *ts[2], *got;
    CHECK_EQ(cask_spawn(&ts[0], sleeper, &half), 0);
    CHECK_EQ(cask_spawn(&ts[1], sleeper, &two), 0);
    cask_as_completed *it;
    CHECK_EQ(cask_as_completed_new(&it, ts, 2, 1.0), 0);
    CHECK_EQ(cask_as_completed_next(it, &got), 1);
    CHECK(got == ts[0]);
    CHECK_EQ(cask_as_completed_next(it, &got), -ETIMEDOUT);
    CHECK_EQ(cask_sleep(2), 0); /* ts[1] ends after the deadline */
    CHECK(cask_task_done(ts[1]));
    CHECK_EQ(cask_as_completed_next(it, &got), -ETIMEDOUT);
    CHECK(got == NULL);
    cask_as_completed_free(it);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(cask_join(ts[i]), 0);
        cask_release(ts[i]);
    }
    return 0;
}

TEST(mu_as_completed_after_deadline) { CHECK_EQ(ct_run_virtual(ac_deadline_main, NULL), 0); }

/* ---- eager starts from a callback and from a cancelled task ---- */

static int eager_child(void *arg)
{
    ct_log("start");
    int rc = cask_sleep(1);
    ct_log("end:%s", cask_errname(rc));
    if (arg)
        cask_cancel(arg); /* cancels its spawner */
    return rc;
}

static void eager_from_cb(void *arg)
{
    cask_task **out = arg;
    struct cask_spawn_opts o = {.eager = true};
    CHECK_EQ(cask_spawn_with(out, eager_child, NULL, &o), 0);
    ct_log("cb");
}

static int eager_main(void *arg)
{
    (void)arg;
    cask_task *t = NULL;
    CHECK_EQ(cask_call_soon(NULL, eager_from_cb, &t), 0);
    CHECK_EQ(cask_sleep(0.5), 0);
    CHECK_LOG("start,cb");
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    /* a cancelled task spawns eagerly: the child runs normally and cancels it again */
    CHECK(cask_cancel(cask_current()));
    struct cask_spawn_opts o = {.eager = true};
    CHECK_EQ(cask_spawn_with(&t, eager_child, cask_current(), &o), 0);
    CHECK_EQ(cask_join(t), -ECANCELED); /* must wait, and this task is cancelled: at once */
    CHECK(!cask_task_done(t));
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    /* t ends at +1 s cancelling main, parked in this join: the join passes the cancellation
     * on to t, which then ends cancelled (asyncio's rule for awaiting a task) */
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    cask_release(t);
    return 0;
}

TEST(mu_eager_misuse) { CHECK_EQ(ct_run_virtual(eager_main, NULL), 0); }

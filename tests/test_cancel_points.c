/*
 * test_cancel_points.c: every blocking call is a cancellation point and is cancel-safe. For
 * each kind of blocking call a task parks in it, then the call is ended three ways:
 *   - cancel:    another task cancels the parked task;
 *   - timeout:   a timeout scope around the call expires while it is parked;
 *   - precancel: the task is already cancelled when it makes the call.
 * The call must return -ECANCELED (the scope's close -ETIMEDOUT), and the object it waited on
 * must be unchanged and usable afterwards. All on the virtual clock.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <fcntl.h>
#include <unistd.h>

enum mode { M_CANCEL, M_TIMEOUT, M_PRECANCEL };

struct cp {
    enum mode mode;
    cask_lock lock;
    cask_event ev;
    cask_cond cond;
    cask_sem sem;
    cask_barrier bar;
    cask_queue *q;
    cask_future *fut;
    cask_task *child[2];
    cask_as_completed *it;
    cask_group group; /* for the blocker's group close */
    int pipe[2];
    int op_rc;   /* what the blocking call returned */
    int reached; /* the blocker got past its setup */
};

struct point {
    const char *name;
    void (*setup)(struct cp *c);      /* in main, before the blocker starts */
    int (*op)(struct cp *c);          /* the blocking call, in the blocker */
    void (*after)(struct cp *c);      /* in the blocker, after the call (may be NULL) */
    void (*verify)(struct cp *c);     /* in main, after the blocker ended */
    int cancel_rc;                    /* what op returns when cancelled (0: -ECANCELED) */
};

/* ---- children used as objects ---- */

static int long_sleep(void *arg)
{
    (void)arg;
    return cask_sleep(1000);
}

static int sleep_then(void *arg)
{
    (void)arg;
    int rc = cask_sleep(20);
    return rc < 0 ? rc : 7;
}

/* ---- sleep ---- */

static int op_sleep(struct cp *c)
{
    (void)c;
    return cask_sleep(100);
}
static void verify_sleep(struct cp *c)
{
    (void)c;
    double t = cask_time();
    CHECK_EQ(cask_sleep(1), 0);
    CHECK_NEAR(cask_time() - t, 1, 1e-6);
}

static int op_sleep_until(struct cp *c)
{
    (void)c;
    return cask_sleep_until(cask_time() + 100);
}

/* ---- join, shield join, wait_for, gather, wait, as_completed ---- */

static void setup_child(struct cp *c) { CHECK_EQ(cask_spawn(&c->child[0], sleep_then, NULL), 0); }
static void setup_children(struct cp *c)
{
    CHECK_EQ(cask_spawn(&c->child[0], sleep_then, NULL), 0);
    CHECK_EQ(cask_spawn(&c->child[1], long_sleep, NULL), 0);
}
static void release_children(struct cp *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->child[i]) {
            if (!cask_task_done(c->child[i])) {
                cask_cancel(c->child[i]);
                CHECK_EQ(cask_join(c->child[i]), -ECANCELED);
            }
            cask_release(c->child[i]);
            c->child[i] = NULL;
        }
    }
}

static int op_join(struct cp *c) { return cask_join(c->child[0]); }
/* join passes the cancellation to the child (asyncio), unless the caller was cancelled before
 * the call: then the child is untouched */
static void verify_join(struct cp *c)
{
    if (c->mode == M_PRECANCEL) {
        CHECK(!cask_task_done(c->child[0]));
        CHECK_EQ(cask_join(c->child[0]), 7);
    } else {
        CHECK(cask_task_cancelled(c->child[0]));
    }
    CHECK_EQ(cask_join(c->child[0]), c->mode == M_PRECANCEL ? 7 : -ECANCELED);
    release_children(c);
}

static int op_shield_join(struct cp *c) { return cask_shield_join(c->child[0]); }
/* the child runs on untouched and can be joined again */
static void verify_untouched_child(struct cp *c)
{
    CHECK(!cask_task_done(c->child[0]));
    CHECK_EQ(cask_cancelling(c->child[0]), 0);
    CHECK_EQ(cask_join(c->child[0]), 7);
    CHECK_EQ(cask_join(c->child[0]), 7);
    release_children(c);
}

static int op_wait_for(struct cp *c) { return cask_wait_for(c->child[0], 500); }

static int op_gather(struct cp *c) { return cask_gather(c->child, 2, NULL); }
static void verify_gather(struct cp *c)
{
    if (c->mode == M_PRECANCEL) {
        CHECK(!cask_task_done(c->child[0]));
        CHECK(!cask_task_done(c->child[1]));
    } else {
        CHECK(cask_task_cancelled(c->child[0]));
        CHECK(cask_task_cancelled(c->child[1]));
    }
    int st[2];
    cask_cancel(c->child[1]);
    CHECK_EQ(cask_gather(c->child, 2, st), 0);
    CHECK_EQ(st[0], c->mode == M_PRECANCEL ? 7 : -ECANCELED);
    CHECK_EQ(st[1], -ECANCELED);
    release_children(c);
}

static int op_wait(struct cp *c)
{
    size_t nd = 99;
    int rc = cask_wait(c->child, 2, CASK_ALL_COMPLETED, INFINITY, &nd);
    CHECK_EQ(nd, 0);
    return rc;
}
/* the tasks run on; a new wait works */
static void verify_wait(struct cp *c)
{
    CHECK(!cask_task_done(c->child[0]));
    CHECK(!cask_task_done(c->child[1]));
    size_t nd = 0;
    CHECK_EQ(cask_wait(c->child, 2, CASK_FIRST_COMPLETED, INFINITY, &nd), 0);
    CHECK_EQ(nd, 1);
    CHECK(cask_task_done(c->child[0]));
    CHECK_EQ(cask_join(c->child[0]), 7);
    release_children(c);
}

static void setup_as_completed(struct cp *c)
{
    setup_children(c);
    CHECK_EQ(cask_as_completed_new(&c->it, c->child, 2, INFINITY), 0);
}
static int op_as_completed(struct cp *c)
{
    cask_task *t = (cask_task *)0x1;
    int rc = cask_as_completed_next(c->it, &t);
    CHECK(t == NULL);
    return rc;
}
/* no task is lost: the next call gives the first one to end */
static void verify_as_completed(struct cp *c)
{
    cask_task *t;
    CHECK_EQ(cask_as_completed_next(c->it, &t), 1);
    CHECK(t == c->child[0]);
    CHECK_EQ(cask_join(t), 7);
    cask_cancel(c->child[1]);
    CHECK_EQ(cask_as_completed_next(c->it, &t), 1);
    CHECK(t == c->child[1]);
    CHECK_EQ(cask_as_completed_next(c->it, &t), 0);
    cask_as_completed_free(c->it);
    release_children(c);
}

/* ---- futures ---- */

static void setup_future(struct cp *c) { CHECK_EQ(cask_future_new(&c->fut), 0); }
static int op_future(struct cp *c)
{
    void *v = (void *)0x1;
    int rc = cask_future_await(c->fut, &v);
    CHECK(v == (rc == 0 ? NULL : (void *)0x1));
    return rc;
}
/* asyncio: cancelling the awaiting task cancels the future, unless the task was cancelled
 * before it awaited (then the future is untouched) */
static void verify_future(struct cp *c)
{
    if (c->mode == M_PRECANCEL) {
        CHECK(!cask_future_done(c->fut));
        CHECK_EQ(cask_future_set_result(c->fut, (void *)5), 0);
        void *v;
        CHECK_EQ(cask_future_await(c->fut, &v), 0);
        CHECK(v == (void *)5);
    } else {
        CHECK(cask_future_cancelled(c->fut));
        CHECK_EQ(cask_future_result(c->fut, NULL), -ECANCELED);
        CHECK_EQ(cask_future_set_result(c->fut, NULL), -EINVAL);
    }
    cask_future_free(c->fut);
}

/* ---- fds ---- */

static void setup_fd(struct cp *c) { CHECK_EQ(pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC), 0); }
static int op_fd(struct cp *c) { return cask_wait_fd(c->pipe[0], CASK_READABLE); }
/* the fd stays registered and waitable (no -EEXIST from a stale waiter) */
static void verify_fd(struct cp *c)
{
    CHECK_EQ(write(c->pipe[1], "x", 1), 1);
    CHECK(cask_wait_fd(c->pipe[0], CASK_READABLE) & CASK_READABLE);
    char b;
    CHECK_EQ(read(c->pipe[0], &b, 1), 1);
    CHECK_EQ(cask_fd_forget(c->pipe[0]), 0);
    close(c->pipe[0]);
    close(c->pipe[1]);
}

/* ---- group close and start ---- */

static int op_group_close(struct cp *c)
{
    CHECK_EQ(cask_group_open(&c->group), 0);
    CHECK_EQ(cask_group_spawn(&c->group, &c->child[0], long_sleep, NULL), 0);
    return cask_group_close(&c->group, 0);
}
/* the children were cancelled and waited for; the group is finished */
static void verify_group(struct cp *c)
{
    CHECK(cask_task_cancelled(c->child[0]));
    CHECK_EQ(cask_group_size(&c->group), 0);
    CHECK_EQ(cask_group_errors(&c->group, NULL, 0), 0);
    CHECK_EQ(cask_group_spawn(&c->group, NULL, long_sleep, NULL), -ESHUTDOWN);
    release_children(c);
}

static int never_starts(void *arg)
{
    (void)arg;
    return cask_sleep(1000);
}
static int op_group_start(struct cp *c)
{
    CHECK_EQ(cask_group_open(&c->group), 0);
    int rc = cask_group_start(&c->group, &c->child[0], never_starts, NULL, NULL);
    /* the group is still open and usable by its owner */
    CHECK_EQ(cask_group_spawn(&c->group, &c->child[1], sleep_then, NULL), 0);
    CHECK_EQ(cask_group_close(&c->group, 0), -ECANCELED); /* the owner is still cancelled */
    return rc;
}
static void verify_group_start(struct cp *c)
{
    if (c->mode == M_PRECANCEL) {
        CHECK(c->child[0] == NULL);
    } else {
        CHECK(cask_task_cancelled(c->child[0]));
    }
    CHECK(cask_task_done(c->child[1]));
    CHECK_EQ(cask_group_size(&c->group), 0);
    release_children(c);
}

/* ---- lock, event, condition, semaphore, barrier ---- */

static void setup_lock(struct cp *c)
{
    cask_lock_init(&c->lock);
    CHECK_EQ(cask_lock_acquire(&c->lock), 0);
}
static int op_lock(struct cp *c)
{
    int rc = cask_lock_acquire(&c->lock);
    if (rc == 0)
        CHECK_EQ(cask_lock_release(&c->lock), 0);
    return rc;
}
/* the cancelled waiter holds nothing: main still holds it, and releasing unlocks it */
static void verify_lock(struct cp *c)
{
    CHECK(cask_lock_locked(&c->lock));
    CHECK_EQ(cask_lock_release(&c->lock), 0);
    CHECK(!cask_lock_locked(&c->lock));
    CHECK_EQ(cask_lock_try_acquire(&c->lock), 0);
    CHECK_EQ(cask_lock_release(&c->lock), 0);
}

static void setup_event(struct cp *c) { cask_event_init(&c->ev); }
static int op_event(struct cp *c) { return cask_event_wait(&c->ev); }
static void verify_event(struct cp *c)
{
    CHECK(!cask_event_is_set(&c->ev));
    cask_event_set(&c->ev);
    CHECK_EQ(cask_event_wait(&c->ev), 0);
}

static void setup_cond(struct cp *c) { cask_cond_init(&c->cond, NULL); }
static int op_cond(struct cp *c)
{
    CHECK_EQ(cask_cond_acquire(&c->cond), 0);
    return cask_cond_wait(&c->cond);
}
static bool never(void *arg)
{
    (void)arg;
    return false;
}
static int op_cond_wait_for(struct cp *c)
{
    CHECK_EQ(cask_cond_acquire(&c->cond), 0);
    return cask_cond_wait_for(&c->cond, never, NULL);
}
/* the lock is held again whenever the wait returns, also on cancellation */
static void after_cond(struct cp *c)
{
    CHECK(cask_cond_locked(&c->cond));
    CHECK_EQ(cask_cond_release(&c->cond), 0);
}
static void verify_cond(struct cp *c)
{
    CHECK(!cask_cond_locked(&c->cond));
    CHECK_EQ(cask_cond_acquire(&c->cond), 0);
    CHECK_EQ(cask_cond_notify_all(&c->cond), 0); /* no stale waiter */
    CHECK_EQ(cask_cond_release(&c->cond), 0);
}

/* a precancelled acquire of the condition's lock would not wait: take it first */
static int op_cond_precancel_safe(struct cp *c) { return op_cond(c); }

static void setup_sem(struct cp *c) { CHECK_EQ(cask_sem_init(&c->sem, 0), 0); }
static int op_sem(struct cp *c) { return cask_sem_acquire(&c->sem); }
/* no unit was taken; a release is not handed to the cancelled waiter */
static void verify_sem(struct cp *c)
{
    CHECK_EQ(cask_sem_value(&c->sem), 0);
    CHECK_EQ(cask_sem_release(&c->sem), 0);
    CHECK_EQ(cask_sem_value(&c->sem), 1);
    CHECK_EQ(cask_sem_acquire(&c->sem), 0);
}

static void setup_barrier(struct cp *c) { CHECK_EQ(cask_barrier_init(&c->bar, 2), 0); }
static int op_barrier(struct cp *c) { return cask_barrier_wait(&c->bar, NULL); }
static int barrier_party(void *arg) { return cask_barrier_wait(arg, NULL); }
/* the barrier counts one task fewer and still works for two new parties */
static void verify_barrier(struct cp *c)
{
    CHECK_EQ(cask_barrier_n_waiting(&c->bar), 0);
    CHECK(!cask_barrier_broken(&c->bar));
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, barrier_party, &c->bar), 0);
    unsigned idx = 9;
    CHECK_EQ(cask_barrier_wait(&c->bar, &idx), 0); /* first to arrive: the party has not run */
    CHECK_EQ(idx, 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
}

/* ---- queues ---- */

static void setup_full_queue(struct cp *c)
{
    CHECK_EQ(cask_queue_new(&c->q, 1, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_put_nowait(c->q, (void *)1), 0);
}
static int op_put(struct cp *c) { return cask_queue_put(c->q, (void *)2); }
/* the item was not added */
static void verify_put(struct cp *c)
{
    CHECK_EQ(cask_queue_qsize(c->q), 1);
    void *it;
    CHECK_EQ(cask_queue_get(c->q, &it), 0);
    CHECK(it == (void *)1);
    CHECK_EQ(cask_queue_get_nowait(c->q, &it), -EAGAIN);
    CHECK_EQ(cask_queue_task_done(c->q), 0);
    CHECK_EQ(cask_queue_task_done(c->q), -EINVAL);
    CHECK_EQ(cask_queue_join(c->q), 0);
    cask_queue_free(c->q);
}

static void setup_empty_queue(struct cp *c)
{
    CHECK_EQ(cask_queue_new(&c->q, 1, CASK_QUEUE_FIFO, NULL), 0);
}
static int op_get(struct cp *c)
{
    void *it = (void *)0x1;
    int rc = cask_queue_get(c->q, &it);
    CHECK(rc != 0 ? it == (void *)0x1 : it != (void *)0x1);
    return rc;
}
/* no item goes to the cancelled getter */
static void verify_get(struct cp *c)
{
    CHECK_EQ(cask_queue_put_nowait(c->q, (void *)3), 0);
    CHECK_EQ(cask_queue_qsize(c->q), 1);
    void *it;
    CHECK_EQ(cask_queue_get(c->q, &it), 0);
    CHECK(it == (void *)3);
    CHECK_EQ(cask_queue_task_done(c->q), 0);
    cask_queue_free(c->q);
}

static int op_join_queue(struct cp *c) { return cask_queue_join(c->q); }
static void verify_join_queue(struct cp *c)
{
    void *it;
    CHECK_EQ(cask_queue_get(c->q, &it), 0);
    CHECK_EQ(cask_queue_task_done(c->q), 0);
    CHECK_EQ(cask_queue_join(c->q), 0);
    cask_queue_free(c->q);
}

static const struct point points[] = {
    {"sleep", NULL, op_sleep, NULL, verify_sleep, 0},
    {"sleep_until", NULL, op_sleep_until, NULL, verify_sleep, 0},
    {"join", setup_child, op_join, NULL, verify_join, 0},
    {"shield_join", setup_child, op_shield_join, NULL, verify_untouched_child, 0},
    {"wait_for", setup_child, op_wait_for, NULL, verify_join, 0},
    {"gather", setup_children, op_gather, NULL, verify_gather, 0},
    {"wait", setup_children, op_wait, NULL, verify_wait, 0},
    {"as_completed", setup_as_completed, op_as_completed, NULL, verify_as_completed, 0},
    {"future", setup_future, op_future, NULL, verify_future, 0},
    {"wait_fd", setup_fd, op_fd, NULL, verify_fd, 0},
    {"group_close", NULL, op_group_close, NULL, verify_group, 0},
    {"group_start", NULL, op_group_start, NULL, verify_group_start, 0},
    {"lock", setup_lock, op_lock, NULL, verify_lock, 0},
    {"event", setup_event, op_event, NULL, verify_event, 0},
    {"cond", setup_cond, op_cond_precancel_safe, after_cond, verify_cond, 0},
    {"cond_wait_for", setup_cond, op_cond_wait_for, after_cond, verify_cond, 0},
    {"sem", setup_sem, op_sem, NULL, verify_sem, 0},
    {"barrier", setup_barrier, op_barrier, NULL, verify_barrier, 0},
    {"queue_put", setup_full_queue, op_put, NULL, verify_put, 0},
    {"queue_get", setup_empty_queue, op_get, NULL, verify_get, 0},
    {"queue_join", setup_full_queue, op_join_queue, NULL, verify_join_queue, 0},
};

struct run {
    const struct point *p;
    struct cp c;
};

static int blocker(void *arg)
{
    struct run *r = arg;
    struct cp *c = &r->c;
    c->reached = 1;
    int rc;
    if (c->mode == M_TIMEOUT) {
        cask_scope sc;
        CHECK_EQ(cask_timeout_open(&sc, 5), 0);
        c->op_rc = r->p->op(c);
        rc = cask_scope_close(&sc, c->op_rc);
    } else {
        if (c->mode == M_PRECANCEL)
            CHECK(cask_cancel(cask_current()));
        c->op_rc = r->p->op(c);
        rc = c->op_rc;
    }
    if (r->p->after)
        r->p->after(c);
    return rc;
}

static int point_main(void *arg)
{
    struct run *r = arg;
    struct cp *c = &r->c;
    if (r->p->setup)
        r->p->setup(c);
    cask_task *b;
    CHECK_EQ(cask_spawn_with(&b, blocker, r, &(struct cask_spawn_opts){.name = r->p->name}), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_sleep(1), 0); /* the blocker parks in its call */
    CHECK_EQ(c->reached, 1);
    if (c->mode == M_CANCEL) {
        CHECK(!cask_task_done(b));
        CHECK(cask_cancel(b));
    }
    int want = c->mode == M_TIMEOUT ? -ETIMEDOUT : -ECANCELED;
    CHECK_EQ(cask_join(b), want);
    CHECK_EQ(c->op_rc, r->p->cancel_rc ? r->p->cancel_rc : -ECANCELED);
    /* the timeout fires at 5 s, cancel right after the 1 s sleep; precancel at once */
    if (c->mode == M_TIMEOUT)
        CHECK_NEAR(cask_time() - t0, 5, 1e-6);
    else
        CHECK_NEAR(cask_time() - t0, 1, 1e-6);
    cask_release(b);
    r->p->verify(c);
    /* the loop is fine: a plain sleep and a spawn work */
    CHECK_EQ(cask_sleep(0.5), 0);
    return 0;
}

static void run_points(enum mode mode)
{
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        struct run r;
        memset(&r, 0, sizeof r);
        r.p = &points[i];
        r.c.mode = mode;
        int rc = ct_run_virtual(point_main, &r);
        if (rc != 0)
            ct_fail(__FILE__, __LINE__, "point %s (mode %d) failed: %d", points[i].name, mode,
                    rc);
        CHECK_EQ(ct_allocs_live(), 0);
    }
}

TEST(cp_cancel_each_point) { run_points(M_CANCEL); }
TEST(cp_timeout_each_point) { run_points(M_TIMEOUT); }
TEST(cp_precancel_each_point) { run_points(M_PRECANCEL); }

/* a task cancelled while it waits for its turn in cask_yield */
static int yielder(void *arg)
{
    (void)arg;
    ct_log("y");
    int rc = cask_yield();
    ct_log("%s", cask_errname(rc));
    return rc == -ECANCELED ? 0 : 1;
}

static int yield_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, yielder, NULL), 0);
    CHECK_EQ(cask_yield(), 0); /* it runs and yields: ready again */
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_join(t), 0);
    CHECK_LOG("y,ECANCELED");
    cask_release(t);
    return 0;
}

TEST(cp_yield) { CHECK_EQ(ct_run_virtual(yield_main, NULL), 0); }

/*
 * Granted, then cancelled before it ran: the object woke the parked task with what it waited
 * for (the lock, a unit, a notification, an item, ...), and the task is cancelled in the same
 * iteration, before it resumes. Nothing may be lost: what cannot be kept by a cancelled call
 * is passed on (lock, unit, notification, item got), what is done is done (a put moved in,
 * an event, a future's result, a barrier round).
 */
struct grant {
    const char *name;
    void (*setup)(struct cp *c);
    int (*op)(struct cp *c);
    void (*after)(struct cp *c);
    void (*grant)(struct cp *c);  /* in main: wakes the blocker with success */
    int op_rc;                    /* what the blocking call then returns */
    void (*verify)(struct cp *c); /* in main, after the blocker ended */
};

static void grant_lock(struct cp *c) { CHECK_EQ(cask_lock_release(&c->lock), 0); }
static void verify_lock_passed(struct cp *c)
{
    CHECK(!cask_lock_locked(&c->lock)); /* passed on to nobody: unlocked */
    CHECK_EQ(cask_lock_acquire(&c->lock), 0);
    CHECK_EQ(cask_lock_release(&c->lock), 0);
}

static void grant_sem(struct cp *c) { CHECK_EQ(cask_sem_release(&c->sem), 0); }
static void verify_sem_passed(struct cp *c)
{
    CHECK_EQ(cask_sem_value(&c->sem), 1);
    CHECK_EQ(cask_sem_acquire(&c->sem), 0);
}

static void grant_cond(struct cp *c)
{
    CHECK_EQ(cask_cond_acquire(&c->cond), 0);
    CHECK_EQ(cask_cond_notify(&c->cond, 1), 1);
    CHECK_EQ(cask_cond_release(&c->cond), 0);
}

static void grant_get(struct cp *c) { CHECK_EQ(cask_queue_put_nowait(c->q, (void *)3), 0); }
static void verify_item_back(struct cp *c)
{
    CHECK_EQ(cask_queue_qsize(c->q), 1); /* given back to the queue */
    void *it;
    CHECK_EQ(cask_queue_get_nowait(c->q, &it), 0);
    CHECK(it == (void *)3);
    CHECK_EQ(cask_queue_task_done(c->q), 0);
    CHECK_EQ(cask_queue_join(c->q), 0);
    cask_queue_free(c->q);
}

static void grant_put(struct cp *c)
{
    void *it;
    CHECK_EQ(cask_queue_get_nowait(c->q, &it), 0);
    CHECK(it == (void *)1);
    CHECK_EQ(cask_queue_task_done(c->q), 0);
}
static void verify_put_undone(struct cp *c)
{
    CHECK_EQ(cask_queue_qsize(c->q), 0); /* the granted slot was given up: nothing put */
    CHECK(!cask_queue_full(c->q));
    void *it;
    CHECK_EQ(cask_queue_get_nowait(c->q, &it), -EAGAIN);
    CHECK_EQ(cask_queue_join(c->q), 0);
    cask_queue_free(c->q);
}

static void grant_event(struct cp *c) { cask_event_set(&c->ev); }
static void verify_event_set(struct cp *c) { CHECK(cask_event_is_set(&c->ev)); }

static void grant_future(struct cp *c) { CHECK_EQ(cask_future_set_result(c->fut, NULL), 0); }
static void verify_future_done(struct cp *c)
{
    CHECK(cask_future_done(c->fut));
    CHECK(!cask_future_cancelled(c->fut));
    cask_future_free(c->fut);
}

static void grant_barrier(struct cp *c)
{
    unsigned idx = 9;
    CHECK_EQ(cask_barrier_wait(&c->bar, &idx), 0); /* the last party: releases the blocker */
    CHECK_EQ(idx, 1);
}
static void verify_barrier_round(struct cp *c) { CHECK_EQ(cask_barrier_n_waiting(&c->bar), 0); }

static void grant_fd(struct cp *c) { CHECK_EQ(write(c->pipe[1], "x", 1), 1); }

static const struct grant grants[] = {
    {"lock", setup_lock, op_lock, NULL, grant_lock, -ECANCELED, verify_lock_passed},
    {"sem", setup_sem, op_sem, NULL, grant_sem, -ECANCELED, verify_sem_passed},
    {"cond", setup_cond, op_cond, after_cond, grant_cond, -ECANCELED, verify_cond},
    {"queue_get", setup_empty_queue, op_get, NULL, grant_get, -ECANCELED, verify_item_back},
    {"queue_put", setup_full_queue, op_put, NULL, grant_put, -ECANCELED, verify_put_undone},
    {"event", setup_event, op_event, NULL, grant_event, 0, verify_event_set},
    {"future", setup_future, op_future, NULL, grant_future, 0, verify_future_done},
    {"barrier", setup_barrier, op_barrier, NULL, grant_barrier, 0, verify_barrier_round},
};

struct grun {
    const struct grant *g;
    struct cp c;
};

static int grant_blocker(void *arg)
{
    struct grun *r = arg;
    r->c.op_rc = r->g->op(&r->c);
    if (r->g->after)
        r->g->after(&r->c);
    return r->c.op_rc;
}

static int grant_main(void *arg)
{
    struct grun *r = arg;
    if (r->g->setup)
        r->g->setup(&r->c);
    cask_task *b;
    CHECK_EQ(cask_spawn(&b, grant_blocker, r), 0);
    CHECK_EQ(cask_sleep(1), 0);
    r->g->grant(&r->c); /* the blocker is now ready with its grant ... */
    CHECK(cask_cancel(b)); /* ... and cancelled before it runs */
    int rc = cask_join(b);
    CHECK_EQ(r->c.op_rc, r->g->op_rc);
    CHECK_EQ(rc, -ECANCELED); /* a cancelled task that returns >= 0 ends cancelled (asyncio) */
    cask_release(b);
    r->g->verify(&r->c);
    return 0;
}

TEST(cp_granted_then_cancelled)
{
    for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++) {
        struct grun r;
        memset(&r, 0, sizeof r);
        r.g = &grants[i];
        int rc = ct_run_virtual(grant_main, &r);
        if (rc != 0)
            ct_fail(__FILE__, __LINE__, "grant %s failed: %d", grants[i].name, rc);
    }
}

/* a task woken by a timer (sleep) or by an fd and cancelled before it ran: the call succeeded */
static int fd_sleeper(void *arg)
{
    struct cp *c = arg;
    int rc = cask_wait_fd(c->pipe[0], CASK_READABLE);
    c->op_rc = rc;
    return rc < 0 ? rc : 0;
}

static int fd_granted_main(void *arg)
{
    struct cp *c = arg;
    setup_fd(c);
    cask_task *b;
    CHECK_EQ(cask_spawn(&b, fd_sleeper, c), 0);
    CHECK_EQ(cask_sleep(1), 0);
    grant_fd(c);
    CHECK_EQ(cask_sleep(0), 0); /* the poll of this boundary wakes the blocker ... */
    CHECK(cask_cancel(b));      /* ... and it is cancelled before it runs */
    CHECK_EQ(cask_join(b), -ECANCELED);
    CHECK_EQ(c->op_rc, CASK_READABLE);
    verify_fd(c);
    cask_release(b);
    return 0;
}

TEST(cp_fd_ready_then_cancelled)
{
    struct cp c;
    memset(&c, 0, sizeof c);
    CHECK_EQ(ct_run_virtual(fd_granted_main, &c), 0);
}

/*
 * waitset.c: waiting on several tasks or on one with a limit: asyncio.wait, as_completed,
 * wait_for and shield. Each watches its tasks with one waiter per task in the task's joiners
 * queue (notify hooks, no wakeup per task) and parks the caller on one more waiter.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <math.h>
#include <stdlib.h>

/* Checks a list of tasks for the calling task; returns 0 or the error to return. */
static int check_tasks(cask_task *const *tasks, size_t n, cask_task *self)
{
    if (n && !tasks)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i])
            return -EINVAL;
        if (tasks[i] == self)
            return -EDEADLK;
        if (tasks[i]->loop != cask__loop)
            return -EPERM;
    }
    return 0;
}

/* A deadline in seconds from now as loop ns; INFINITY gives CASK__NEVER. */
static uint64_t deadline_of(cask_loop *l, double timeout)
{
    return isinf(timeout) && timeout > 0 ? CASK__NEVER : cask__deadline_ns(l, timeout);
}

/* ---- wait ---- */

struct waitset {
    struct cask__waiter main; /* the waiting task; keep first */
    struct cask__timer tm;
    int mode;
    size_t pending;
    bool woken;
};

/* True if a task ending with status satisfies a FIRST_COMPLETED / FIRST_EXCEPTION wait. */
static bool satisfies(int mode, int status)
{
    return mode == CASK_FIRST_COMPLETED || (status < 0 && status != -ECANCELED);
}

static bool wait_satisfied(const struct waitset *ws, int status)
{
    return ws->pending == 0 || (ws->mode != CASK_ALL_COMPLETED && satisfies(ws->mode, status));
}

static void wait_notify(struct cask__waiter *w, int status)
{
    struct waitset *ws = w->data;
    ws->pending--;
    if (!ws->woken && wait_satisfied(ws, status)) {
        ws->woken = true;
        cask__signal(&ws->main, 0);
    }
}

static void wait_fire(struct cask__timer *t)
{
    struct waitset *ws = (struct waitset *)((char *)t - offsetof(struct waitset, tm));
    if (!ws->woken) {
        ws->woken = true;
        cask__signal(&ws->main, 0);
    }
}

int cask_wait(cask_task *const *tasks, size_t n, int mode, double timeout, size_t *ndone)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (ndone)
        *ndone = 0;
    if (mode < CASK_ALL_COMPLETED || mode > CASK_FIRST_EXCEPTION || isnan(timeout))
        return -EINVAL;
    int rc = check_tasks(tasks, n, self);
    if (rc)
        return rc;
    if (!self)
        return -EPERM;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    struct waitset ws;
    cask__waiter_init(&ws.main, "wait", tasks);
    ws.main.task = self;
    ws.tm.index = 0;
    ws.mode = mode;
    ws.pending = 0;
    ws.woken = false;
    bool ready = false;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state != CASK__T_DONE)
            ws.pending++;
        else if (mode != CASK_ALL_COMPLETED && satisfies(mode, tasks[i]->status))
            ready = true; /* already satisfied (W3: an earlier failure returns at once) */
    }
    if (ws.pending == 0)
        ready = true;
    uint64_t when = deadline_of(l, timeout);
    if (!ready && when > cask__loop_now(l)) {
        /* a compact task keeps the record and the waiters off its stack */
        struct cask__waiter local[16];
        struct cask__waiter *each = local;
        struct waitset *wp = &ws;
        void *block = NULL;
        if (n > 16 || self->cx) {
            block = cask__malloc(sizeof ws + n * sizeof *each);
            if (!block)
                return -ENOMEM;
            wp = block;
            *wp = ws;
            each = (struct cask__waiter *)(wp + 1);
        }
        rc = 0;
        if (when != CASK__NEVER)
            rc = cask__timer_arm(l, &wp->tm, when, wait_fire);
        if (rc == 0) {
            for (size_t i = 0; i < n; i++) {
                cask__waiter_init(&each[i], "wait", tasks[i]);
                if (tasks[i]->state == CASK__T_DONE)
                    continue;
                each[i].notify = wait_notify;
                each[i].data = wp;
                each[i].task = self;
                cask__wq_push(&tasks[i]->joiners, &each[i]);
            }
            /* cancelled: return at once (on_cancel NULL); the tasks are not touched (W5) */
            rc = cask__park(&wp->main);
            for (size_t i = 0; i < n; i++)
                cask__wq_remove(&each[i]);
            cask__timer_disarm(l, &wp->tm);
        }
        if (block)
            cask__free(block);
        if (rc)
            return rc;
    }
    if (ndone) {
        for (size_t i = 0; i < n; i++)
            *ndone += tasks[i]->state == CASK__T_DONE;
    }
    return 0;
}

/* ---- as_completed ---- */

struct cask_as_completed {
    cask_loop *loop;
    struct cask__waiter reader; /* the task in _next, if any */
    struct cask__timer tm;
    uint64_t deadline;
    bool expired;
    bool reading;
    size_t n;         /* distinct tasks (a task given twice counts once) */
    size_t given;     /* tasks handed out */
    size_t nfinished; /* tasks in finished[] (ended, in order) */
    cask_task **finished;
    struct cask__waiter each[]; /* one per task, in its joiners queue until it ends */
};

static void ac_wake_reader(cask_as_completed *it, int status)
{
    if (it->reading && it->reader.task->state == CASK__T_PARKED &&
        it->reader.task->waiter == &it->reader)
        cask__signal(&it->reader, status);
}

static void ac_notify(struct cask__waiter *w, int status)
{
    (void)status;
    cask_as_completed *it = w->data;
    if (it->expired)
        return; /* past the deadline: every later _next says -ETIMEDOUT (asyncio) */
    it->finished[it->nfinished++] = (cask_task *)w->obj;
    ac_wake_reader(it, 0);
}

static void ac_fire(struct cask__timer *t)
{
    cask_as_completed *it = (cask_as_completed *)((char *)t - offsetof(cask_as_completed, tm));
    it->expired = true;
    ac_wake_reader(it, -ETIMEDOUT);
}

/* Orders (task, position) pairs by task, then position. */
struct ac_pos {
    cask_task *t;
    size_t i;
};
static int ac_pos_cmp(const void *a, const void *b)
{
    const struct ac_pos *x = a, *y = b;
    if (x->t != y->t)
        return (uintptr_t)x->t < (uintptr_t)y->t ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Marks dup[i] for each task that appeared earlier in tasks (asyncio's as_completed takes a
 * set of tasks). Returns 0 or -ENOMEM. */
static int ac_find_dups(cask_task *const *tasks, size_t n, bool *dup)
{
    if (n < 2)
        return 0;
    struct ac_pos *p = cask__malloc(n * sizeof *p);
    if (!p)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        p[i] = (struct ac_pos){tasks[i], i};
    qsort(p, n, sizeof *p, ac_pos_cmp);
    for (size_t i = 1; i < n; i++)
        if (p[i].t == p[i - 1].t)
            dup[p[i].i] = true;
    cask__free(p);
    return 0;
}

int cask_as_completed_new(cask_as_completed **out, cask_task *const *tasks, size_t n,
                          double timeout)
{
    cask_loop *l = cask__loop;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (isnan(timeout))
        return -EINVAL;
    int rc = check_tasks(tasks, n, NULL);
    if (rc)
        return rc;
    if (!l)
        return -EPERM;
    cask_as_completed *it = cask__calloc(1, sizeof *it + n * sizeof it->each[0]);
    if (!it)
        return -ENOMEM;
    it->finished = cask__malloc((n ? n : 1) * sizeof *it->finished);
    bool *dup = cask__calloc(n ? n : 1, sizeof *dup);
    if (!it->finished || !dup || ac_find_dups(tasks, n, dup) != 0) {
        cask__free(dup);
        cask__free(it->finished);
        cask__free(it);
        return -ENOMEM;
    }
    it->loop = l;
    it->deadline = deadline_of(l, timeout);
    if (it->deadline != CASK__NEVER) {
        if (it->deadline <= cask__loop_now(l)) {
            it->expired = true;
        } else if (cask__timer_arm(l, &it->tm, it->deadline, ac_fire) != 0) {
            cask__free(dup);
            cask__free(it->finished);
            cask__free(it);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (dup[i])
            continue;
        struct cask__waiter *w = &it->each[it->n++];
        cask__waiter_init(w, "as_completed", tasks[i]);
        if (tasks[i]->state == CASK__T_DONE) {
            it->finished[it->nfinished++] = tasks[i];
            continue;
        }
        w->notify = ac_notify;
        w->data = it;
        cask__wq_push(&tasks[i]->joiners, w);
    }
    cask__free(dup);
    *out = it;
    return 0;
}

int cask_as_completed_next(cask_as_completed *it, cask_task **t)
{
    if (t)
        *t = NULL;
    if (!it || !t)
        return -EINVAL;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    if (it->reading)
        return -EBUSY;
    if (it->given == it->n)
        return 0;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    if (it->given == it->nfinished) {
        if (it->expired)
            return -ETIMEDOUT;
        cask__waiter_init(&it->reader, "as_completed", it);
        it->reader.task = self;
        it->reading = true;
        int rc = cask__park(&it->reader);
        it->reading = false;
        if (rc < 0)
            return rc;
    }
    *t = it->finished[it->given++]; /* its status is read (and marked read) by the caller */
    return 1;
}

void cask_as_completed_free(cask_as_completed *it)
{
    if (!it)
        return;
    CASK__CHECK(!it->reading, "freeing an as_completed iterator a task waits in");
    for (size_t i = 0; i < it->n; i++)
        cask__wq_remove(&it->each[i]);
    cask__timer_disarm(it->loop, &it->tm);
    cask__free(it->finished);
    cask__free(it);
}

/* ---- wait_for, shield ---- */

int cask_wait_for(cask_task *t, double timeout)
{
    if (isnan(timeout))
        return -EINVAL;
    cask_task *self = cask__self();
    if (!t || !self || t->loop != self->loop || t->state == CASK__T_DONE || t == self)
        return cask_join(t); /* its result, or the same errors as cask_join */
    if (cask__cancelled(self))
        return cask__cancel_now(self); /* as cask_join: t untouched */
    cask_scope sc;
    int rc;
    if (timeout <= 0) {
        /* no time at all: cancel t and wait for it to finish its cleanup */
        cask_cancel(t);
        rc = cask__scope_open(&sc, CASK__SCOPE_SHIELD, CASK__NEVER);
        if (rc)
            return rc;
        rc = cask_scope_close(&sc, cask_join(t));
        return rc == -ECANCELED ? -ETIMEDOUT : rc;
    }
    /* a join in a timeout scope: on expiry the join cancels t and waits for it (join's own
     * cancellation rule); closing the scope turns that -ECANCELED into -ETIMEDOUT */
    rc = cask__scope_open(&sc, CASK__SCOPE_TIMEOUT, deadline_of(self->loop, timeout));
    if (rc)
        return rc;
    return cask_scope_close(&sc, cask_join(t));
}

int cask_shield_join(cask_task *t) { return cask__join(t, true); }

/*
 * wait.c: the one suspension primitive. A task parks on a waiter that records what it waits
 * for; the object it waits on signals the waiter (waking the task with a status), or the task
 * is cancelled and the waiter's on_cancel hook decides what that means for the object.
 * Timers, fds, futures, tasks, locks and queues all wait through here.
 */
#define _GNU_SOURCE
#include "../internal.h"

bool cask__cancelled_slow(const cask_task *t)
{
    for (const cask_scope *s = t->scope; s; s = s->parent_) {
        if (s->flags_ & CASK__SCOPE_EXPIRED)
            return true;
        if (s->flags_ & CASK__SCOPE_SHIELD)
            return false;
    }
    return t->ncancel > 0;
}

static inline int deliver_cancel(cask_task *t)
{
    if (t->ncancel > 0)
        t->flags |= CASK__TF_DELIVERED;
    return -ECANCELED;
}

int cask__cancel_now(cask_task *t) { return deliver_cancel(t); }

int cask__park(struct cask__waiter *w)
{
    cask_loop *l = cask__loop;
    cask_task *t = l ? l->current : NULL;
    if (CASK__UNLIKELY(!t)) {
        cask__wq_remove(w);
        return -EPERM;
    }
    if (CASK__UNLIKELY(t->cx != NULL)) {
        /* a compact task: its records live in its home; an object on its own stack can be
         * reached by nobody else once another compact task has the run stack */
        CASK__CHECK(!cask__on_own_stack(t, w), "compact task '%s': waiter for %s on the run stack",
                    cask_task_name(t), w->what ? w->what : "?");
        if (cask__on_own_stack(t, w->wq)) {
            cask__wq_remove(w);
            return -EFAULT;
        }
    }
    if (CASK__UNLIKELY(cask__cancelled(t))) {
        cask__wq_remove(w);
        return deliver_cancel(t);
    }
    w->task = t;
    t->waiter = w;
    t->state = CASK__T_PARKED;
    if (CASK__UNLIKELY(l->diag != NULL)) /* diagnostics tell how long it has waited */
        t->park_ns = cask__coarse_ns();
    if (CASK__UNLIKELY(l->trace))
        cask__trace_park(l, t, w);
    struct cask__ctx *next;
    if (t->back) { /* an eager task's first suspension returns to its spawner */
        next = cask__take_back(l, t);
    } else {
        next = cask__next(l);
    }
    /* crossing the iteration boundary may have woken this very task (its timer was due, or
     * what it waits for ended there): then it simply goes on */
    if (next != &t->ctx)
        cask__ctx_switch(&t->ctx, next, 0);
    cask__reap(l);
    return t->wake;
}

void cask__wake(cask_task *t, int status)
{
    CASK__CHECK(t->state == CASK__T_PARKED, "waking task '%s' that is not parked (state %d)",
                cask_task_name(t), t->state);
    t->wake = status;
    t->waiter = NULL;
    t->state = CASK__T_READY;
    cask__ready_push(t->loop, &t->run);
    if (CASK__UNLIKELY(t->loop->trace))
        cask__trace_wake(t->loop, t, status);
}

void cask__signal(struct cask__waiter *w, int status)
{
    cask__wq_remove(w);
    if (w->notify)
        w->notify(w, status);
    else
        cask__wake(w->task, status);
}

void cask__interrupt(cask_task *t)
{
    if (t->state != CASK__T_PARKED || !cask__cancelled(t))
        return;
    struct cask__waiter *w = t->waiter;
    if (w->on_cancel && !w->on_cancel(w))
        return;
    cask__wq_remove(w);
    cask__wake(t, deliver_cancel(t));
}

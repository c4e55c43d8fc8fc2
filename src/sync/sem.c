/*
 * sem.c: asyncio.Semaphore and BoundedSemaphore, with asyncio 3.13's FIFO rule. A release with
 * waiters hands a unit straight to the first waiter (counted in granted_ until it runs). While
 * any task waits or holds a grant it has not run with, the semaphore is locked: a task arriving
 * later queues behind, even if units are free. The first granted waiter to run hands the free
 * units on to the waiters queued behind it; a waiter cancelled after it was granted a unit
 * gives it back (and so passes it on) before returning -ECANCELED.
 */
#define _GNU_SOURCE
#include "sync.h"

CASK__SYNC_WQ_CHECK(cask_sem);

int cask_sem_init(cask_sem *s, int64_t value)
{
    if (value < 0)
        return -EINVAL;
    *s = (cask_sem)CASK_SEM_INIT(value);
    return 0;
}

int cask_bounded_sem_init(cask_sem *s, int64_t value)
{
    if (value < 0)
        return -EINVAL;
    *s = (cask_sem)CASK_BOUNDED_SEM_INIT(value);
    return 0;
}

bool cask_sem_locked(const cask_sem *s)
{
    return s->value_ <= 0 || s->granted_ > 0 || !cask__wq_empty(CASK__SYNC_WQ(s));
}

int64_t cask_sem_value(const cask_sem *s) { return s->value_; }

/* Hands free units to the first waiters, one each. */
static void grant(cask_sem *s)
{
    while (s->value_ > 0) {
        struct cask__waiter *w = cask__wq_pop(CASK__SYNC_WQ(s));
        if (!w)
            return;
        s->value_--;
        s->granted_++;
        cask__signal(w, 0);
    }
}

int cask_sem_try_acquire(cask_sem *s)
{
    if (cask_sem_locked(s))
        return -EAGAIN;
    s->value_--;
    return 0;
}

int cask_sem_release(cask_sem *s)
{
    if (s->bound_ >= 0 && s->value_ >= s->bound_)
        return -EINVAL;
    if (s->value_ == INT64_MAX)
        return -EOVERFLOW;
    s->value_++;
    grant(s);
    return 0;
}

int cask_sem_acquire(cask_sem *s)
{
    if (CASK__LIKELY(!cask_sem_locked(s))) {
        s->value_--;
        return 0;
    }
    cask_task *self = cask__self();
    if (CASK__UNLIKELY(!self))
        return -EPERM;
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, "semaphore", s);
    w->task = self;
    cask__wq_push(CASK__SYNC_WQ(s), w);
    int rc = cask__park(w);
    if (rc != 0)
        return rc; /* cancelled while waiting: it was never granted a unit */
    s->granted_--;
    if (CASK__UNLIKELY(cask__cancelled(self))) {
        s->value_++; /* granted a unit, then cancelled: give it back, to the next waiter */
        grant(s);
        return cask__cancel_now(self);
    }
    grant(s); /* units freed while this task was on its way go to the waiters behind it */
    return 0;
}

/*
 * sem.c: asyncio.Semaphore and BoundedSemaphore. A release with waiters hands its unit
 * straight to the first waiter (the value stays 0), so a later acquirer cannot barge in; a
 * waiter cancelled after it was handed a unit releases it again before returning -ECANCELED.
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

bool cask_sem_locked(const cask_sem *s) { return s->value_ <= 0; }
int64_t cask_sem_value(const cask_sem *s) { return s->value_; }

int cask_sem_try_acquire(cask_sem *s)
{
    /* a free unit implies nobody waits: releases hand units to waiters first */
    if (s->value_ <= 0)
        return -EAGAIN;
    s->value_--;
    return 0;
}

int cask_sem_release(cask_sem *s)
{
    struct cask__waiter *w = cask__wq_pop(CASK__SYNC_WQ(s));
    if (w) {
        cask__signal(w, 0);
        return 0;
    }
    if (s->bound_ >= 0 && s->value_ >= s->bound_)
        return -EINVAL;
    if (s->value_ == INT64_MAX)
        return -EOVERFLOW;
    s->value_++;
    return 0;
}

int cask_sem_acquire(cask_sem *s)
{
    if (CASK__LIKELY(s->value_ > 0)) {
        s->value_--;
        return 0;
    }
    cask_task *self = cask__self();
    if (CASK__UNLIKELY(!self))
        return -EPERM;
    struct cask__waiter w;
    cask__waiter_init(&w, "semaphore", s);
    w.task = self;
    cask__wq_push(CASK__SYNC_WQ(s), &w);
    int rc = cask__park(&w);
    if (rc == 0 && CASK__UNLIKELY(cask__cancelled(self))) {
        cask_sem_release(s); /* handed a unit, then cancelled: pass it on */
        return cask__cancel_now(self);
    }
    return rc;
}

/*
 * lock.c: asyncio.Lock. A release hands the lock straight to the first waiter (the lock stays
 * locked during the hand-over), so nobody can barge in between; a waiter cancelled after it
 * was handed the lock passes it on before returning -ECANCELED.
 */
#define _GNU_SOURCE
#include "sync.h"

CASK__SYNC_WQ_CHECK(cask_lock);

void cask_lock_init(cask_lock *l) { *l = (cask_lock)CASK_LOCK_INIT; }

bool cask_lock_locked(const cask_lock *l) { return l->locked_ != 0; }

int cask_lock_try_acquire(cask_lock *l)
{
    /* unlocked implies nobody waits: a release with waiters hands over instead of unlocking */
    if (l->locked_)
        return -EAGAIN;
    l->locked_ = 1;
    l->owner_ = cask__self();
    return 0;
}

int cask_lock_release(cask_lock *l)
{
    if (CASK__UNLIKELY(!l->locked_))
        return -EPERM;
    struct cask__waiter *w = cask__wq_pop(CASK__SYNC_WQ(l));
    if (w) {
        l->owner_ = w->task;
        cask__signal(w, 0);
    } else {
        l->locked_ = 0;
        l->owner_ = NULL;
    }
    return 0;
}

/* Parks self on l until the lock is handed over; returns the park status. */
static int wait_handoff(cask_lock *l, cask_task *self)
{
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, "lock", l);
    w->task = self;
    cask__wq_push(CASK__SYNC_WQ(l), w);
    return cask__park(w);
}

int cask_lock_acquire(cask_lock *l)
{
    cask_task *self = cask__self();
    if (CASK__UNLIKELY(!self))
        return -EPERM;
    if (CASK__LIKELY(!l->locked_)) {
        l->locked_ = 1;
        l->owner_ = self;
        return 0;
    }
    if (l->owner_ == self)
        return -EDEADLK;
    int rc = wait_handoff(l, self);
    if (rc == 0 && CASK__UNLIKELY(cask__cancelled(self))) {
        /* handed the lock, then cancelled before running: pass it on (CONFORMANCE L2) */
        cask_lock_release(l);
        return cask__cancel_now(self);
    }
    return rc;
}

void cask__lock_acquire_uncancellable(cask_lock *l, cask_task *self)
{
    if (!l->locked_) {
        l->locked_ = 1;
        l->owner_ = self;
        return;
    }
    /* a shield as the innermost scope hides every cancellation until it closes */
    cask_scope shield;
    CASK__CHECK(cask_shield_open(&shield) == 0, "cannot open a shield to re-take a lock");
    int rc = wait_handoff(l, self);
    CASK__CHECK(rc == 0, "uncancellable lock wait ended with %d", rc);
    cask_scope_close(&shield, 0);
}

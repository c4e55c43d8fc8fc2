/*
 * cond.c: asyncio.Condition. A wait releases the lock, parks until notified and re-takes the
 * lock before it returns, also when cancelled (the re-take cannot be interrupted). A waiter
 * that was notified but is cancelled before it returns passes the notification on, so a
 * notify(1) is never lost to a cancellation (CONFORMANCE CV3).
 */
#define _GNU_SOURCE
#include "sync.h"

CASK__SYNC_WQ_CHECK(cask_cond);

static cask_lock *lock_of(const cask_cond *c)
{
    return c->lock_ ? c->lock_ : (cask_lock *)&c->own_;
}

void cask_cond_init(cask_cond *c, cask_lock *lock)
{
    *c = (cask_cond)CASK_COND_INIT;
    c->lock_ = lock;
}

int cask_cond_acquire(cask_cond *c) { return cask_lock_acquire(lock_of(c)); }
int cask_cond_release(cask_cond *c) { return cask_lock_release(lock_of(c)); }
bool cask_cond_locked(const cask_cond *c) { return cask_lock_locked(lock_of(c)); }

static int notify(cask_cond *c, size_t n)
{
    size_t woken = 0;
    struct cask__waiter *w;
    while (woken < n && (w = cask__wq_pop(CASK__SYNC_WQ(c)))) {
        cask__signal(w, 0);
        woken++;
    }
    return woken > INT32_MAX ? INT32_MAX : (int)woken;
}

int cask_cond_notify(cask_cond *c, size_t n)
{
    if (!cask_lock_locked(lock_of(c)))
        return -EPERM;
    return notify(c, n);
}

int cask_cond_notify_all(cask_cond *c) { return cask_cond_notify(c, SIZE_MAX); }

int cask_cond_wait(cask_cond *c)
{
    cask_lock *l = lock_of(c);
    cask_task *self = cask__self();
    if (!self || !l->locked_ || (l->owner_ && l->owner_ != self))
        return -EPERM;
    if (cask__cancelled(self)) /* as asyncio: the wait ends at once, the lock still held */
        return cask__cancel_now(self);
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, "condition", c);
    w->task = self;
    cask__wq_push(CASK__SYNC_WQ(c), w);
    cask_lock_release(l);
    int rc = cask__park(w);
    cask__lock_acquire_uncancellable(l, self);
    if (cask__cancelled(self)) {
        if (rc == 0)
            notify(c, 1); /* notified, then cancelled: the notification goes to another */
        return cask__cancel_now(self);
    }
    return rc;
}

int cask_cond_wait_for(cask_cond *c, bool (*pred)(void *arg), void *arg)
{
    if (!pred)
        return -EINVAL;
    while (!pred(arg)) {
        int rc = cask_cond_wait(c);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * barrier.c: asyncio.Barrier. The last of `parties` arrivals releases the waiters, handing
 * each its index (the order of arrival) as the wake status; the barrier is at once ready for
 * the next round (asyncio's "draining" phase has nothing left to guard here). A cancelled
 * waiter leaves the count at once, so the barrier stays consistent.
 */
#define _GNU_SOURCE
#include "sync.h"

CASK__SYNC_WQ_CHECK(cask_barrier);

int cask_barrier_init(cask_barrier *b, unsigned parties)
{
    if (parties == 0 || parties > INT32_MAX) /* indices travel as wake statuses */
        return -EINVAL;
    *b = (cask_barrier)CASK_BARRIER_INIT(parties);
    return 0;
}

bool cask_barrier_broken(const cask_barrier *b) { return b->broken_ != 0; }
unsigned cask_barrier_n_waiting(const cask_barrier *b) { return b->count_; }
unsigned cask_barrier_parties(const cask_barrier *b) { return b->parties_; }

/* Wakes every waiter with status (an index when >= 0, counting up from it). */
static void wake_all(cask_barrier *b, int status)
{
    struct cask__waiter *w;
    while ((w = cask__wq_pop(CASK__SYNC_WQ(b)))) {
        b->count_--;
        cask__signal(w, status);
        if (status >= 0)
            status++;
    }
}

void cask_barrier_reset(cask_barrier *b)
{
    wake_all(b, -EPIPE);
    b->broken_ = 0;
}

void cask_barrier_abort(cask_barrier *b)
{
    b->broken_ = 1;
    wake_all(b, -EPIPE);
}

static bool leave_on_cancel(struct cask__waiter *w)
{
    /* leave the count now, before any other arrival can count this task as a party */
    ((cask_barrier *)(uintptr_t)w->obj)->count_--;
    return true;
}

int cask_barrier_wait(cask_barrier *b, unsigned *index)
{
    if (b->parties_ == 0)
        return -EINVAL;
    if (b->broken_)
        return -EPIPE;
    if (b->count_ + 1 == b->parties_) {
        wake_all(b, 0);
        if (index)
            *index = b->parties_ - 1;
        return 0;
    }
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, "barrier", b);
    w->task = self;
    w->on_cancel = leave_on_cancel;
    cask__wq_push(CASK__SYNC_WQ(b), w);
    b->count_++;
    int rc = cask__park(w);
    if (rc < 0)
        return rc;
    if (index)
        *index = (unsigned)rc;
    return 0;
}

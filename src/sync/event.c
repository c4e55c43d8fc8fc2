/*
 * event.c: asyncio.Event. Setting wakes every waiter in the order they began waiting; a woken
 * waiter returns 0 even if the event was cleared again before it ran.
 */
#define _GNU_SOURCE
#include "sync.h"

CASK__SYNC_WQ_CHECK(cask_event);

void cask_event_init(cask_event *e) { *e = (cask_event)CASK_EVENT_INIT; }

void cask_event_set(cask_event *e)
{
    if (e->set_)
        return;
    e->set_ = 1;
    struct cask__waiter *w;
    while ((w = cask__wq_pop(CASK__SYNC_WQ(e))))
        cask__signal(w, 0);
}

void cask_event_clear(cask_event *e) { e->set_ = 0; }

bool cask_event_is_set(const cask_event *e) { return e->set_ != 0; }

int cask_event_wait(cask_event *e)
{
    if (e->set_)
        return 0;
    cask_task *self = cask__self();
    if (CASK__UNLIKELY(!self))
        return -EPERM;
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, "event", e);
    w->task = self;
    cask__wq_push(CASK__SYNC_WQ(e), w);
    return cask__park(w);
}

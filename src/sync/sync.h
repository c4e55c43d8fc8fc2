/*
 * sync.h: what the synchronization primitives share: the cast from the public embeddable wait
 * queue (`struct { void *head, *tail; } waiters_`) to the core's struct cask__wq, and the
 * lock's internal entry points used by the condition.
 */
#ifndef CASK_SYNC_H
#define CASK_SYNC_H

#include "../internal.h"

#include <stddef.h>

/* The public structs embed an anonymous struct laid out as struct cask__wq; every access goes
 * through this cast so the queue is only ever used as the core's type. */
#define CASK__SYNC_WQ(obj) ((struct cask__wq *)(void *)&(obj)->waiters_)
#define CASK__SYNC_WQ_CHECK(type)                                                                  \
    _Static_assert(sizeof(((type *)0)->waiters_) == sizeof(struct cask__wq) &&                     \
                       offsetof(struct cask__wq, head) == 0 &&                                     \
                       offsetof(struct cask__wq, tail) == sizeof(void *) &&                        \
                       _Alignof(struct cask__wq) == _Alignof(void *),                              \
                   #type " wait queue does not match struct cask__wq")

/* Takes l for self, waiting without being interruptible by cancellation (a condition's wait
 * must hold the lock again before it returns, also when cancelled). */
void cask__lock_acquire_uncancellable(cask_lock *l, cask_task *self);

#endif

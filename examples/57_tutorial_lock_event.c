/* 57_tutorial_lock_event.c: tutorial step 8: an event starts the tasks together; a lock keeps
 * a read-modify-write that blocks in the middle from interleaving. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static cask_event go = CASK_EVENT_INIT; /* go = asyncio.Event() */
static cask_lock lock = CASK_LOCK_INIT; /* lock = asyncio.Lock() */
static int balance = 100;

static int withdraw(void *arg)
{
    int amount = *(int *)arg;
    int rc = cask_event_wait(&go); /* await go.wait() */
    if (rc < 0)
        return rc;
    rc = cask_lock_acquire(&lock); /* async with lock: */
    if (rc < 0)
        return rc; /* -ECANCELED: the lock is not held, nothing to undo */
    int seen = balance;
    rc = cask_sleep(0.05); /* a round trip to the bank while holding the lock */
    if (rc == 0) {
        balance = seen - amount;
        printf("%s: withdrew %d, balance %d\n", cask_task_name(cask_current()), amount, balance);
    }
    cask_lock_release(&lock);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    int amounts[3] = {10, 20, 30};
    cask_task *t[3] = {NULL, NULL, NULL};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = cask_spawn(&t[i], withdraw, &amounts[i]);
    if (rc == 0)
        rc = cask_sleep(0.1); /* the tasks are all waiting on the event now */
    printf("main: go\n");
    cask_event_set(&go); /* go.set(): wakes every waiter */
    for (int i = 0; i < 3; i++) {
        int status = cask_join(t[i]);
        if (rc == 0)
            rc = status;
        cask_release(t[i]);
    }
    printf("main: balance %d\n", balance);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "lock_event: %s\n", cask_strerror(rc));
    return rc < 0;
}

/*
 * 46_deadlock.c: a deadlock that reports its cycle. Two tasks take two locks in opposite
 * orders; main joins them. asyncio would hang here in silence; with detect_deadlocks, once
 * nothing can ever run again cask prints the wait-for cycle and the task tree (with where each
 * task was spawned and where it is parked), then cancels main, which unwinds the rest.
 */
#include <cask.h>
#include <stdio.h>

static cask_lock a = CASK_LOCK_INIT, b = CASK_LOCK_INIT;

struct order {
    cask_lock *first, *second;
};

int take_both(void *arg);
int take_both(void *arg)
{
    struct order *o = arg;
    int rc = cask_lock_acquire(o->first);
    if (rc)
        return rc;
    rc = cask_sleep(0.01); /* let the other task take its first lock */
    if (rc == 0) {
        rc = cask_lock_acquire(o->second); /* each waits for the other's: a cycle */
        if (rc == 0)
            cask_lock_release(o->second);
    }
    cask_lock_release(o->first);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    struct order ab = {&a, &b}, ba = {&b, &a};
    cask_task *t1, *t2;
    struct cask_spawn_opts o1 = {.name = "writer"}, o2 = {.name = "reader"};
    int rc = cask_spawn_with(&t1, take_both, &ab, &o1);
    if (rc)
        return rc;
    rc = cask_spawn_with(&t2, take_both, &ba, &o2);
    if (rc)
        return rc;
    rc = cask_join(t1); /* -ECANCELED once the deadlock is reported and main cancelled */
    printf("main: join returned %s\n", cask_errname(rc));
    return rc;
}

int main(void)
{
    struct cask_config cfg = {.detect_deadlocks = true, .diag_out = stdout};
    int rc = cask_run_with(main_task, NULL, &cfg);
    printf("cask_run returned %s\n", cask_errname(rc));
    return rc == -ECANCELED ? 0 : 1;
}

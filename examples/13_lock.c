/* 13_lock.c: a lock lets one task at a time into the critical section (5 x 1 s = 5 s). */
#include "cask.h"

#include <stdio.h>

static int shared_resource = 0;
static cask_lock lock = CASK_LOCK_INIT;

static int modify_shared_resource(void *arg)
{
    (void)arg;
    int rc = cask_lock_acquire(&lock);
    if (rc < 0)
        return rc;
    printf("Resource before modification: %d\n", shared_resource);
    shared_resource += 1;
    rc = cask_sleep(1);
    if (rc == 0)
        printf("Resource after modification: %d\n", shared_resource);
    cask_lock_release(&lock);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    cask_task *tasks[5];
    int rc = 0;
    size_t n = 0;
    for (; n < 5 && rc == 0; n++)
        rc = cask_spawn(&tasks[n], modify_shared_resource, NULL);
    if (rc == 0)
        rc = cask_gather(tasks, n, NULL);
    for (size_t i = 0; i < n; i++)
        cask_release(tasks[i]);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0) {
        fprintf(stderr, "13_lock: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

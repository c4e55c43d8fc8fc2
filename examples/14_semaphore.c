/* 14_semaphore.c: a semaphore lets at most two tasks in at once (5 tasks of 1 s: about 3 s). */
#include "cask.h"

#include <stdint.h>
#include <stdio.h>

static cask_sem semaphore;

static int access_resource(void *arg)
{
    int resource_id = (int)(intptr_t)arg;
    int rc = cask_sem_acquire(&semaphore);
    if (rc < 0)
        return rc;
    printf("Accessing resource %d\n", resource_id);
    rc = cask_sleep(1);
    if (rc == 0)
        printf("Releasing resource %d\n", resource_id);
    cask_sem_release(&semaphore);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    cask_task *tasks[5];
    size_t n = 0;
    int rc = cask_sem_init(&semaphore, 2);
    for (; n < 5 && rc == 0; n++)
        rc = cask_spawn(&tasks[n], access_resource, (void *)(intptr_t)n);
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
        fprintf(stderr, "14_semaphore: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

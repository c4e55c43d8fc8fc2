/* 15_event.c: an event is a flag that tasks can wait on until another task sets it. */
#include "cask.h"

#include <stdio.h>

static int waiter(void *arg)
{
    cask_event *event = arg;
    printf("waiting for the event to be set\n");
    int rc = cask_event_wait(event);
    if (rc < 0)
        return rc;
    printf("event has been set, continuing execution\n");
    return 0;
}

static int setter(void *arg)
{
    cask_event *event = arg;
    int rc = cask_sleep(2);
    if (rc < 0)
        return rc;
    cask_event_set(event);
    printf("event has been set!\n");
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    cask_event event = CASK_EVENT_INIT;
    cask_task *tasks[2] = {NULL, NULL};
    int rc = cask_spawn(&tasks[0], waiter, &event);
    if (rc == 0)
        rc = cask_spawn(&tasks[1], setter, &event);
    if (rc == 0) /* on failure, cask_run cancels what was spawned once main returns */
        rc = cask_gather(tasks, 2, NULL);
    cask_release(tasks[0]);
    cask_release(tasks[1]);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0) {
        fprintf(stderr, "15_event: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

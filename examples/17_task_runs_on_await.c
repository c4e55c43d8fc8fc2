/*
 * 17_task_runs_on_await.c: a created task starts only when the creating coroutine yields to
 * the loop.
 *
 *   Python                                 C
 *   task = asyncio.create_task(foo(...))   cask_spawn(&task, foo, "text")
 *   await asyncio.sleep(0.5)               cask_sleep(0.5): main blocks, foo gets its turn
 *   await task                             cask_join(task)
 *
 * cask_spawn only schedules the task: it prints "text" once main_task blocks in cask_sleep
 * and the loop picks the next ready task.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static int foo(void *arg)
{
    printf("%s\n", (const char *)arg);
    return cask_sleep(1);
}

static int main_task(void *arg)
{
    (void)arg;
    printf("tim\n");
    cask_task *task;
    int rc = cask_spawn(&task, foo, "text"); /* scheduled, not started */
    if (rc < 0)
        return rc;
    rc = cask_sleep(0.5); /* the loop runs foo now */
    if (rc == 0) {
        printf("finished\n");
        rc = cask_join(task);
    }
    cask_release(task);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "main failed: %s\n", cask_strerror(rc));
    return rc < 0;
}

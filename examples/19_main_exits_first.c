/*
 * 19_main_exits_first.c: when the entry coroutine returns, tasks still pending are cancelled.
 *
 *   Python                                 C
 *   asyncio.run(main()) returns            cask_run returns after main_task has returned and
 *                                          every task still running has been cancelled
 *   CancelledError inside foo's sleep      cask_sleep returns -ECANCELED
 *
 * foo is still sleeping when main_task returns; cask_run cancels it, its cask_sleep returns
 * -ECANCELED at once, and foo returns that status without printing "never printed".
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static int foo(void *arg)
{
    printf("%s\n", (const char *)arg);
    int rc = cask_sleep(10);
    if (rc < 0)
        return rc; /* -ECANCELED: cask_run is shutting down */
    printf("never printed\n");
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    printf("tim\n");
    cask_task *task;
    int rc = cask_spawn(&task, foo, "text");
    if (rc < 0)
        return rc;
    rc = cask_sleep(0.5);
    if (rc == 0)
        printf("finished\n");
    cask_release(task); /* giving the handle back does not stop the task */
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

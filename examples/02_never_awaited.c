/*
 * 02_never_awaited.c: a forgotten await or a failure nobody looks at is reported, not lost.
 *
 * Python: calling a coroutine function only creates a coroutine object; if it is dropped
 * without being awaited, Python prints "RuntimeWarning: coroutine 'main' was never awaited".
 * C has no coroutine objects (preparing a call's arguments runs nothing, see 04), so the
 * same mistake takes two other shapes, and cask catches both:
 *
 * (a) At compile time: every blocking cask call returns a status the compiler will not let
 *     you drop (warn_unused_result). Writing
 *
 *         cask_sleep(1);
 *
 *     makes gcc 12 say (C locale), even without -Wall; a (void) cast does not silence it:
 *
 *         warning: ignoring return value of 'cask_sleep' declared with attribute
 *         'warn_unused_result' [-Wunused-result]
 *
 * (b) At run time: a task that fails while nobody joins it is reported on stderr (one
 *     line) when it ends if it is detached, else when its handle is released or the loop
 *     closes. This program does that; it exits 0:
 *
 *         cask: task 'Task-2' failed and nobody read its status: -100001 EUSER-1
 *         (application error 1)
 *
 *     A task that ends cancelled is not reported: cancellation is not a failure.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

enum { E_LOST = CASK_EUSER - 1 }; /* an application error code */

#if 0 /* does not compile with -Werror: the dropped status of (a) */
static int careless(void *arg)
{
    cask_sleep(1);
    return 0;
}
#endif

static int fails(void *arg)
{
    (void)arg;
    printf("the task runs and fails\n");
    return E_LOST; /* nobody will read this status... */
}

static int main_task(void *arg)
{
    (void)arg;
    int rc = cask_spawn(NULL, fails, NULL); /* detached: no handle, nobody joins it */
    if (rc < 0)
        return rc;
    printf("spawned a task nobody will join\n");
    rc = cask_yield(); /* let it run: ...so cask reports it on stderr when it ends */
    if (rc < 0)
        return rc;
    printf("main ends normally\n");
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "main failed: %s\n", cask_strerror(rc));
    return rc < 0;
}

/* 55_tutorial_timeouts.c: tutorial step 6: time limits: a timeout scope, move_on, one deadline
 * for several steps, and wait_for on a task. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static int slow(void *arg)
{
    double secs = *(double *)arg;
    int rc = cask_sleep(secs);
    printf("  slow(%.1f) -> %s\n", secs, cask_errname(rc));
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    double one = 1, short_one = 0.1;
    cask_scope sc;
    int rc = cask_timeout_open(&sc, 0.2); /* async with asyncio.timeout(0.2): */
    if (rc == 0)
        rc = cask_scope_close(&sc, slow(&one)); /* the sleep gets -ECANCELED at 0.2 s */
    printf("timeout: %s\n", cask_errname(rc));

    int polls = 0;
    rc = cask_move_on_open(&sc, 0.35); /* poll until the time is up, then go on quietly */
    if (rc == 0) {
        while ((rc = cask_sleep(0.1)) == 0)
            polls++;
        rc = cask_scope_close(&sc, rc);
    }
    printf("move_on: %s after %d polls, expired=%d\n", cask_errname(rc), polls,
           cask_scope_expired(&sc));

    rc = cask_timeout_open_at(&sc, cask_time() + 0.25); /* asyncio.timeout_at(): one deadline */
    if (rc == 0) {
        for (int step = 1; rc == 0 && step <= 3; step++) {
            printf("step %d\n", step);
            rc = cask_sleep(0.1);
        }
        rc = cask_scope_close(&sc, rc);
    }
    printf("three steps in 0.25 s: %s\n", cask_errname(rc));

    cask_task *t;
    rc = cask_spawn(&t, slow, &one);
    if (rc < 0)
        return rc;
    rc = cask_wait_for(t, 0.2); /* asyncio.wait_for(t, 0.2): cancels t, waits for it */
    printf("wait_for slow: %s\n", cask_errname(rc));
    cask_release(t);
    rc = cask_spawn(&t, slow, &short_one);
    if (rc < 0)
        return rc;
    rc = cask_wait_for(t, 0.2);
    printf("wait_for fast: %s\n", cask_errname(rc));
    cask_release(t);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "timeouts: %s\n", cask_strerror(rc));
    return rc < 0;
}

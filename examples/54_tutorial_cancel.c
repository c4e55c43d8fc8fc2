/* 54_tutorial_cancel.c: tutorial step 5: cancelling a task; cancellation is sticky; cleanup
 * that must block goes in a shield; a task may acknowledge a cancellation and go on. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static int ticker(void *arg)
{
    int *ticks = arg;
    for (;;) {
        int rc = cask_sleep(0.1);
        if (rc == 0) {
            ++*ticks;
            continue;
        }
        printf("ticker: sleep -> %s after %d ticks\n", cask_errname(rc), *ticks);
        printf("ticker: next sleep -> %s at once (sticky)\n", cask_errname(cask_sleep(1)));
        cask_scope sh;
        if (cask_shield_open(&sh) == 0) {
            int crc = cask_sleep(0.05); /* cleanup that must block: flush, say goodbye */
            printf("ticker: cleanup in a shield -> %s\n", cask_errname(crc));
            cask_scope_close(&sh, 0);
        }
        return rc; /* -ECANCELED: the task ends cancelled */
    }
}

static int stubborn(void *arg)
{
    int *result = arg;
    int rc = cask_sleep(10);
    if (rc == -ECANCELED) {
        cask_uncancel(cask_current()); /* acknowledged: blocking calls work again */
        rc = cask_sleep(0.05);         /* finish properly */
        *result = 42;
    }
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    int ticks = 0, result = 0;
    cask_task *t;
    int rc = cask_spawn(&t, ticker, &ticks);
    if (rc < 0)
        return rc;
    rc = cask_sleep(0.35);
    printf("main: cancel -> %d\n", cask_cancel(t)); /* t.cancel() */
    int status = cask_join(t);
    printf("main: ticker ended %s, cancelled=%d\n", cask_errname(status), cask_task_cancelled(t));
    cask_release(t);
    if (rc < 0)
        return rc;

    rc = cask_spawn(&t, stubborn, &result);
    if (rc < 0)
        return rc;
    rc = cask_sleep(0.1);
    cask_cancel(t);
    status = cask_join(t);
    printf("main: stubborn ended %s with result %d\n", cask_errname(status), result);
    cask_release(t);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "cancel: %s\n", cask_strerror(rc));
    return rc < 0;
}

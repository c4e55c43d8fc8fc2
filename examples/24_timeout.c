/* 24_timeout.c: a timeout bounds how long a task may wait; the slow one is cancelled
 * (asyncio.wait_for and asyncio.timeout). */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct fetch {
    double delay;
    char result[32];
};

static int fetch_data(void *arg)
{
    struct fetch *f = arg;
    int rc = cask_sleep(f->delay);
    if (rc < 0)
        return rc;
    snprintf(f->result, sizeof f->result, "data after %g s", f->delay);
    return 0;
}

/* await asyncio.wait_for(fetch_data(delay), timeout) */
static int fetch_with_timeout(struct fetch *f, double timeout)
{
    cask_task *t;
    int rc = cask_spawn(&t, fetch_data, f);
    if (rc < 0)
        return rc;
    rc = cask_wait_for(t, timeout);
    cask_release(t);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    struct fetch fast = {0.5, ""}, slow = {2, ""}, slower = {2, ""};
    int rc = fetch_with_timeout(&fast, 1);
    if (rc < 0)
        return rc;
    printf("%s\n", fast.result);

    rc = fetch_with_timeout(&slow, 1);
    if (rc == -ETIMEDOUT)
        printf("timed out after 1 s\n");
    else if (rc < 0)
        return rc;

    cask_scope sc; /* async with asyncio.timeout(0.5): await fetch_data(2) */
    rc = cask_timeout_open(&sc, 0.5);
    if (rc < 0)
        return rc;
    rc = cask_scope_close(&sc, fetch_data(&slower));
    if (rc == -ETIMEDOUT)
        printf("timeout block expired after 0.5 s\n");
    else if (rc < 0)
        return rc;
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cask_run(main_task, NULL) < 0;
}

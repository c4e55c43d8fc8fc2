/* 37_cancel_groups.c: task groups and cancellation: a failure cancels the siblings, the owner's
 * cancellation reaches every child, a group cancelled as a whole, and start() for a server
 * that reports its port (quoted by docs/cancellation.md). Exits 0. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

#define E_BROKEN (CASK_EUSER - 1)

static int sleeper(void *arg)
{
    const char *name = arg;
    int rc = cask_sleep(5);
    printf("  %s: %s\n", name, cask_errname(rc));
    return rc;
}

static int broken(void *arg)
{
    (void)arg;
    int rc = cask_sleep(0.1);
    return rc < 0 ? rc : E_BROKEN;
}

/* [failure] */
static int fail_fast(void)
{
    cask_group g;
    int rc = cask_group_open(&g);
    if (rc < 0)
        return rc;
    rc = cask_group_spawn(&g, NULL, sleeper, "a");
    if (rc == 0)
        rc = cask_group_spawn(&g, NULL, sleeper, "b");
    if (rc == 0)
        rc = cask_group_spawn(&g, NULL, broken, NULL);
    if (rc == 0)
        rc = cask_sleep(10); /* -ECANCELED at 0.1 s, when broken fails */
    return cask_group_close(&g, rc); /* b, then a, cancelled; returns E_BROKEN */
}
/* [/failure] */

/* [owner] */
static int owner(void *arg)
{
    (void)arg;
    cask_group g;
    int rc = cask_group_open(&g);
    if (rc < 0)
        return rc;
    rc = cask_group_spawn(&g, NULL, sleeper, "c");
    if (rc == 0)
        rc = cask_sleep(10); /* the owner is cancelled here */
    return cask_group_close(&g, rc); /* cancels c, waits for it: -ECANCELED */
}
/* [/owner] */

/* [start] */
static int server(void *arg)
{
    (void)arg;
    static int port = 8080;
    int rc = cask_sleep(0.1); /* bind, listen... */
    if (rc < 0)
        return rc;
    cask_started(&port); /* nursery.start(): the starter gets the port now */
    return cask_sleep(100); /* serve until cancelled */
}

static int serve_then_stop(void)
{
    cask_group g;
    int rc = cask_group_open(&g);
    if (rc < 0)
        return rc;
    void *port = NULL;
    rc = cask_group_start(&g, NULL, server, NULL, &port);
    if (rc == 0) {
        printf("  server listening on port %d\n", *(int *)port);
        cask_group_cancel(&g); /* asyncio 3.15 TaskGroup.cancel(): stop everything */
        rc = cask_sleep(1);    /* -ECANCELED at once: the block is cancelled too */
    }
    return cask_group_close(&g, rc); /* 0: a cancelled group is not an error */
}
/* [/start] */

static int main_task(void *arg)
{
    (void)arg;
    printf("a child fails:\n");
    int r1 = fail_fast();
    printf("  group: %s\n", cask_errname(r1));

    printf("the owner is cancelled:\n");
    cask_task *t;
    int r2 = cask_spawn(&t, owner, NULL);
    if (r2 == 0) {
        if (cask_sleep(0.1) == 0)
            cask_cancel(t);
        r2 = cask_join(t);
        cask_release(t);
    }
    printf("  group: %s\n", cask_errname(r2));

    printf("start, then cancel the group:\n");
    int r3 = serve_then_stop();
    printf("  group: %s\n", cask_errname(r3));
    return r1 == E_BROKEN && r2 == -ECANCELED && r3 == 0 ? 0 : -EINVAL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cask_run(main_task, NULL) != 0;
}

/* 35_cancel_sticky.c: sticky cancellation, acknowledging it with cask_uncancel, and a shielded
 * cleanup section (quoted by docs/cancellation.md). Exits 0. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

/* [sticky] */
static int careless(void *arg)
{
    (void)arg;
    int rc = cask_sleep(10); /* cancelled here: -ECANCELED */
    printf("careless: sleep -> %s\n", cask_errname(rc));
    /* it ignores rc and goes on; in Python the next await would block as if nothing
     * happened; in cask the cancellation stays until the task ends or acknowledges it */
    rc = cask_sleep(10);
    printf("careless: next sleep -> %s at once\n", cask_errname(rc));
    return rc;
}
/* [/sticky] */

/* [uncancel] */
static int stubborn(void *arg)
{
    int *result = arg;
    int rc = cask_sleep(10);
    if (rc == -ECANCELED) {
        cask_uncancel(cask_current()); /* acknowledged: blocking calls work again */
        rc = cask_sleep(0.1);          /* finish the work properly */
        *result = 42;
    }
    return rc; /* 0: the task did not end cancelled */
}
/* [/uncancel] */

/* [shield] */
static int worker(void *arg)
{
    (void)arg;
    int rc = cask_sleep(10); /* the work, cancelled */
    cask_scope sh;
    if (cask_shield_open(&sh) == 0) {
        int crc = cask_sleep(0.1); /* cleanup that must still block: flush, say goodbye */
        printf("worker: cleanup in a shield -> %s\n", cask_errname(crc));
        cask_scope_close(&sh, 0);
    }
    printf("worker: after the shield, sleep -> %s\n", cask_errname(cask_sleep(1)));
    return rc; /* -ECANCELED: the cancellation was never acknowledged */
}
/* [/shield] */

static int main_task(void *arg)
{
    (void)arg;
    cask_task *a, *b, *c;
    int result = 0;
    if (cask_spawn(&a, careless, NULL) || cask_spawn(&b, stubborn, &result) ||
        cask_spawn(&c, worker, NULL))
        return -ENOMEM;
    int rc = cask_sleep(0.1);
    cask_cancel(a);
    cask_cancel(b);
    cask_cancel(c);
    int ra = cask_join(a), rb = cask_join(b), rcc = cask_join(c);
    printf("careless ended %s, stubborn ended %s with %d, worker ended %s\n", cask_errname(ra),
           cask_errname(rb), result, cask_errname(rcc));
    cask_release(a);
    cask_release(b);
    cask_release(c);
    return rc == 0 && ra == -ECANCELED && rb == 0 && result == 42 && rcc == -ECANCELED ? 0
                                                                                     : -EINVAL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cask_run(main_task, NULL) != 0;
}

/* 36_cancel_scopes.c: timeouts, move_on, nested scopes, reschedule, wait_for and a shielded
 * join (quoted by docs/cancellation.md). Exits 0. */
#define _GNU_SOURCE
#include <cask.h>
#include <math.h>
#include <stdio.h>

static int slow(void *arg)
{
    double *secs = arg;
    return cask_sleep(*secs) == 0 ? 7 : -ECANCELED;
}

static int check(int got, int want, const char *what)
{
    printf("%-34s -> %s\n", what, cask_errname(got));
    return got == want ? 0 : -EINVAL;
}

static int main_task(void *arg)
{
    (void)arg;
    int bad = 0;
    /* [timeout] */
    cask_scope sc;
    int rc = cask_timeout_open(&sc, 0.2); /* async with asyncio.timeout(0.2): */
    if (rc == 0)
        rc = cask_scope_close(&sc, cask_sleep(1)); /* the sleep gets -ECANCELED at 0.2 s */
    /* rc == -ETIMEDOUT: only the scope whose deadline fired converts */
    /* [/timeout] */
    bad |= check(rc, -ETIMEDOUT, "timeout(0.2) around sleep(1)");

    /* [move_on] */
    rc = cask_move_on_open(&sc, 0.2); /* trio's move_on_after: give up quietly */
    if (rc == 0)
        rc = cask_scope_close(&sc, cask_sleep(1)); /* rc == 0; cask_scope_expired(&sc) */
    /* [/move_on] */
    bad |= check(rc, 0, "move_on(0.2) around sleep(1)");

    /* [nested] */
    cask_scope outer, inner;
    rc = cask_timeout_open(&outer, 0.2);
    if (rc == 0) {
        rc = cask_timeout_open(&inner, 5);
        if (rc == 0) /* the outer deadline fires: the inner passes -ECANCELED through */
            rc = cask_scope_close(&inner, cask_sleep(1));
        rc = cask_scope_close(&outer, rc); /* -ETIMEDOUT: the outer one fired */
    }
    /* [/nested] */
    bad |= check(rc, -ETIMEDOUT, "outer fires through an inner scope");

    /* [reschedule] */
    rc = cask_timeout_open(&sc, INFINITY); /* no deadline yet */
    if (rc == 0) {
        cask_scope_reschedule(&sc, cask_time() + 0.1); /* timeout.reschedule() */
        rc = cask_scope_close(&sc, cask_sleep(1));
    }
    /* [/reschedule] */
    bad |= check(rc, -ETIMEDOUT, "rescheduled deadline");

    /* [wait_for] */
    double secs = 1;
    cask_task *t;
    rc = cask_spawn(&t, slow, &secs);
    if (rc == 0) {
        rc = cask_wait_for(t, 0.2); /* cancels t at 0.2 s, waits for it: -ETIMEDOUT */
        cask_release(t);
    }
    /* [/wait_for] */
    bad |= check(rc, -ETIMEDOUT, "wait_for(slow 1 s, 0.2)");

    /* [shield_join] */
    rc = cask_spawn(&t, slow, &secs);
    if (rc == 0) {
        rc = cask_timeout_open(&sc, 0.2);
        if (rc == 0) /* the wait gives up at 0.2 s; t runs on, not cancelled */
            rc = cask_scope_close(&sc, cask_shield_join(t));
        int later = cask_join(t); /* its result is still there: 7 */
        printf("%-34s -> %d\n", "the shielded task, joined later", later);
        bad |= later != 7;
        cask_release(t);
    }
    /* [/shield_join] */
    bad |= check(rc, -ETIMEDOUT, "shield_join in timeout(0.2)");
    return bad ? -EINVAL : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cask_run(main_task, NULL) != 0;
}

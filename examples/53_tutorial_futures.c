/* 53_tutorial_futures.c: tutorial step 4: a future set by a timer callback, awaited by two
 * tasks, with a done callback. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static void deliver(void *arg) /* a plain callback: runs on the loop, must not block */
{
    static char answer[] = "42";
    int rc = cask_future_set_result(arg, answer); /* future.set_result("42") */
    printf("callback: set the result (%s)\n", cask_errname(rc));
}

static void on_done(cask_future *f, void *arg) /* future.add_done_callback(on_done) */
{
    (void)arg;
    printf("done callback: cancelled=%d\n", cask_future_cancelled(f));
}

static int await_answer(void *arg)
{
    void *value;
    int rc = cask_future_await(arg, &value); /* value = await future */
    if (rc < 0)
        return rc;
    printf("%s: got %s\n", cask_task_name(cask_current()), (char *)value);
    return 0;
}

static int use_future(cask_future *f)
{
    int rc = cask_future_add_done_callback(f, on_done, NULL);
    cask_task *t[2] = {NULL, NULL};
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = cask_spawn(&t[i], await_answer, f);
    if (rc == 0)
        rc = cask_call_later(NULL, 0.2, deliver, f); /* loop.call_later(0.2, deliver, f) */
    if (rc == 0) {
        void *value;
        printf("main: result before it is set: %s\n", cask_errname(cask_future_result(f, &value)));
        rc = cask_gather(t, 2, NULL);
    }
    for (int i = 0; i < 2; i++)
        cask_release(t[i]);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    cask_future *f;
    int rc = cask_future_new(&f); /* future = loop.create_future() */
    if (rc < 0)
        return rc;
    rc = use_future(f);
    cask_future_free(f); /* whoever makes it frees it */
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "futures: %s\n", cask_strerror(rc));
    return rc < 0;
}

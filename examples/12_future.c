/*
 * 12_future.c: a future is a placeholder for a result that some other task sets later.
 *
 *   Python                                 C
 *   future = loop.create_future()          cask_future_new(&future)
 *   future.set_result(value)               cask_future_set_result(future, value)
 *   result = await future                  cask_future_await(future, &result)
 *   asyncio.create_task(coro) (no handle)  cask_spawn(NULL, fn, &arg): a detached task
 *
 * A future's value is a void pointer; here it points to a string. The task that made the
 * future frees it when nobody needs it any more.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct setter {
    cask_future *future; /* in */
    const char *value;   /* in */
};

static int set_future_result(void *arg)
{
    struct setter *s = arg;
    int rc = cask_sleep(2);
    if (rc < 0)
        return rc;
    rc = cask_future_set_result(s->future, (void *)s->value);
    if (rc < 0)
        return rc;
    printf("Set the future's result to: %s\n", s->value);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    cask_future *future;
    int rc = cask_future_new(&future);
    if (rc < 0)
        return rc;
    struct setter s = {future, "Future result is ready!"};
    rc = cask_spawn(NULL, set_future_result, &s); /* detached: nobody joins it */
    void *result = NULL;
    if (rc == 0)
        rc = cask_future_await(future, &result); /* result = await future */
    if (rc == 0)
        printf("Received the future's result: %s\n", (const char *)result);
    cask_future_free(future);
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

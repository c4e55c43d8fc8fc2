/*
 * 03_await.c: await runs a coroutine to completion and hands back its result.
 *
 *   Python                                 C
 *   async def fetch_data(delay)            static int fetch_data(struct fetch *f)
 *   result = await fetch_data(2)           struct fetch f = {.delay = 2}; fetch_data(&f);
 *   return {"data": "Some data"}           f->data = "Some data"; return 0;
 *
 * Awaiting a coroutine is a plain function call: the call blocks this task (not the thread)
 * while cask_sleep lets the loop run other tasks. The result travels back in the argument
 * struct; the return value is the status (0, or a negative code where Python would raise).
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct fetch {
    double delay;     /* in */
    const char *data; /* out: the result {'data': data} */
};

static int fetch_data(struct fetch *f)
{
    printf("Fetching data...\n");
    int rc = cask_sleep(f->delay); /* await asyncio.sleep(delay) */
    if (rc < 0)
        return rc; /* cancelled: pass it on, as CancelledError would propagate */
    printf("Data fetched\n");
    f->data = "Some data";
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    printf("Start of main coroutine\n");
    struct fetch task = {.delay = 2};
    int rc = fetch_data(&task); /* result = await task */
    if (rc < 0)
        return rc;
    printf("Received result: {'data': '%s'}\n", task.data);
    printf("End of main coroutine\n");
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

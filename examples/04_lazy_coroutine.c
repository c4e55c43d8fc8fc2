/*
 * 04_lazy_coroutine.c: a coroutine object does not start until it is awaited.
 *
 *   Python                                 C
 *   task = fetch_data(2)                   struct fetch task = {.delay = 2};
 *   (nothing has run yet)                  (filling in the arguments runs nothing)
 *   result = await task                    fetch_data(&task);
 *
 * In Python, calling a coroutine function only builds a coroutine object; its body runs when
 * it is awaited. The C counterpart of that object is the argument struct: preparing it runs
 * nothing, and the plain call that "awaits" it runs the body to completion.
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
    int rc = cask_sleep(f->delay);
    if (rc < 0)
        return rc;
    printf("Data fetched\n");
    f->data = "Some data";
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    printf("Start of main coroutine\n");
    struct fetch task = {.delay = 2}; /* task = fetch_data(2): prepared, not started */
    printf("End of main coroutine\n");
    int rc = fetch_data(&task); /* result = await task: only now does it run */
    if (rc < 0)
        return rc;
    printf("Received result: {'data': '%s'}\n", task.data);
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

/*
 * 08_gather.c: gather runs coroutines concurrently and returns their results in argument
 * order (about 3 s).
 *
 *   Python                                 C
 *   results = await asyncio.gather(        cask_spawn(&t[i], fetch_data, &req[i]) for each,
 *       fetch_data(1, 2), ...)             cask_gather(t, 3, NULL)
 *   for result in results: ...             for each i: read req[i]
 *
 * asyncio.gather wraps each coroutine in a task; in C we spawn the tasks ourselves and
 * cask_gather waits for all of them (or returns the first failure). The results "in argument
 * order" are simply the argument structs, in the order we made them.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct fetch {
    int id;            /* in */
    double sleep_time; /* in */
    char data[64];     /* out: the result {'id': id, 'data': data} */
};

static int fetch_data(void *arg)
{
    struct fetch *f = arg;
    printf("Coroutine %d starting to fetch data.\n", f->id);
    int rc = cask_sleep(f->sleep_time);
    if (rc < 0)
        return rc;
    snprintf(f->data, sizeof f->data, "Sample data from coroutine %d", f->id);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    struct fetch req[3] = {
        {.id = 1, .sleep_time = 2}, {.id = 2, .sleep_time = 1}, {.id = 3, .sleep_time = 3}};
    cask_task *task[3];
    for (int i = 0; i < 3; i++) {
        int rc = cask_spawn(&task[i], fetch_data, &req[i]);
        if (rc < 0)
            return rc; /* cask_run cancels and cleans up the tasks already spawned */
    }
    int rc = cask_gather(task, 3, NULL); /* results = await asyncio.gather(...) */
    for (int i = 0; i < 3; i++)
        cask_release(task[i]);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 3; i++)
        printf("Received result: {'id': %d, 'data': '%s'}\n", req[i].id, req[i].data);
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

/*
 * 05_sequential.c: awaiting two coroutines one after the other takes the sum of their delays.
 *
 *   Python                                 C
 *   result1 = await task1                  fetch_data(&task1);   (2 s)
 *   result2 = await task2                  fetch_data(&task2);   (2 s more: 4 s in all)
 *
 * Each await is a plain call that returns only when the body has finished, so nothing runs
 * concurrently here: the second fetch starts after the first one ends.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct fetch {
    int id;            /* in */
    double sleep_time; /* in */
    char data[64];     /* out: the result {'id': id, 'data': data} */
};

static int fetch_data(struct fetch *f)
{
    printf("Fetching data for id %d...\n", f->id);
    int rc = cask_sleep(f->sleep_time);
    if (rc < 0)
        return rc;
    printf("Data fetched for id %d\n", f->id);
    snprintf(f->data, sizeof f->data, "Sample data from coroutine %d", f->id);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    struct fetch task1 = {.id = 1, .sleep_time = 2};
    struct fetch task2 = {.id = 2, .sleep_time = 2};
    int rc = fetch_data(&task1); /* result1 = await task1 */
    if (rc < 0)
        return rc;
    printf("Received result: {'id': %d, 'data': '%s'}\n", task1.id, task1.data);
    rc = fetch_data(&task2); /* result2 = await task2 */
    if (rc < 0)
        return rc;
    printf("Received result: {'id': %d, 'data': '%s'}\n", task2.id, task2.data);
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

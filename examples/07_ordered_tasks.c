/*
 * 07_ordered_tasks.c: await gives control over order: the third task starts only after the
 * first two finish (3 + 1 = 4 s).
 *
 *   Python                                 C
 *   task = asyncio.create_task(...)        cask_spawn(&task, fetch_data, &req)
 *   result = await task                    cask_join(task)
 *
 * Tasks 1 and 2 run concurrently; task 3 is spawned only after both have been joined, so it
 * starts at 3 s and ends at 4 s.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct fetch {
    int id;            /* in */
    double sleep_time; /* in */
    char data[64];     /* out: the result {'id': id, 'data': data} */
};
#define RESULT_FMT "{'id': %d, 'data': '%s'}" /* how Python prints the result dict */

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
        {.id = 1, .sleep_time = 2}, {.id = 2, .sleep_time = 3}, {.id = 3, .sleep_time = 1}};
    cask_task *task1, *task2, *task3;
    int rc = cask_spawn(&task1, fetch_data, &req[0]);
    if (rc < 0)
        return rc;
    rc = cask_spawn(&task2, fetch_data, &req[1]);
    if (rc < 0)
        return rc;
    rc = cask_join(task1); /* result1 = await task1 */
    cask_release(task1);
    if (rc < 0)
        return rc;
    rc = cask_join(task2); /* result2 = await task2 */
    cask_release(task2);
    if (rc < 0)
        return rc;
    rc = cask_spawn(&task3, fetch_data, &req[2]); /* only now: task3 = create_task(...) */
    if (rc < 0)
        return rc;
    rc = cask_join(task3); /* result3 = await task3 */
    cask_release(task3);
    if (rc < 0)
        return rc;
    printf(RESULT_FMT " " RESULT_FMT " " RESULT_FMT "\n", req[0].id, req[0].data, req[1].id,
           req[1].data, req[2].id, req[2].data);
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

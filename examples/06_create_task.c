/*
 * 06_create_task.c: tasks run concurrently: delays 2, 3 and 1 s finish in about 3 s, not 6.
 *
 *   Python                                 C
 *   async def fetch_data(id, sleep_time)   static int fetch_data(void *arg)  (a struct fetch *)
 *   t = asyncio.create_task(fetch_data())  cask_spawn(&t, fetch_data, &req)
 *   result = await t                       cask_join(t), then read req.data
 *
 * A task body is a function int f(void *arg) running on its own small stack. cask_spawn
 * schedules it; cask_join waits for it to end and returns its status. The result travels in
 * the argument struct, which must outlive the task (here it lives in main_task's frame).
 * cask_release gives the handle back once we are done with it.
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
    cask_task *task[3];
    for (int i = 0; i < 3; i++) {
        int rc = cask_spawn(&task[i], fetch_data, &req[i]); /* asyncio.create_task(...) */
        if (rc < 0)
            return rc; /* cask_run cancels and cleans up the tasks already spawned */
    }
    for (int i = 0; i < 3; i++) {
        int rc = cask_join(task[i]); /* result = await task */
        cask_release(task[i]);
        if (rc < 0)
            return rc;
    }
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

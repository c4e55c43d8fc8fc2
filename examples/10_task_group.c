/* 10_task_group.c: a task group waits for every task it started; results are read after the
 * block (asyncio.TaskGroup). */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct fetch {
    int id;
    double sleep_time;
    char data[64]; /* the result: {"id": id, "data": ...} */
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
    struct fetch fetches[3] = {{1, 2, ""}, {2, 1, ""}, {3, 3, ""}};
    cask_group tg;
    int rc = cask_group_open(&tg);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = cask_group_spawn(&tg, NULL, fetch_data, &fetches[i]);
    rc = cask_group_close(&tg, rc);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 3; i++)
        printf("Received result: {'id': %d, 'data': '%s'}\n", fetches[i].id, fetches[i].data);
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cask_run(main_task, NULL) < 0;
}

/* 11_task_group_error.c: a task group cancels the remaining tasks as soon as one fails; the
 * group reports every failure (asyncio.TaskGroup and except*). */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

#define WORK_FAILED(id) (CASK_EUSER - (id)) /* "ValueError: work {id} failed" */

struct work {
    int id;
    double sleep_time;
    bool fail;
};

static int work(void *arg)
{
    struct work *w = arg;
    printf("work %d started\n", w->id);
    int rc = cask_sleep(w->sleep_time);
    if (rc == -ECANCELED) {
        printf("work %d cancelled\n", w->id);
        return rc;
    }
    if (w->fail)
        return WORK_FAILED(w->id);
    printf("work %d finished\n", w->id);
    return w->id;
}

static int main_task(void *arg)
{
    (void)arg;
    struct work works[3] = {{1, 2, false}, {2, 1, true}, {3, 3, false}};
    cask_group tg;
    int rc = cask_group_open(&tg);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = cask_group_spawn(&tg, NULL, work, &works[i]);
    rc = cask_group_close(&tg, rc);
    if (rc <= CASK_EUSER) {
        int errs[CASK_GROUP_MAX_ERRORS];
        size_t n = cask_group_errors(&tg, errs, CASK_GROUP_MAX_ERRORS);
        printf("task group raised: [");
        for (size_t i = 0; i < n; i++)
            printf("%s'work %d failed'", i ? ", " : "", CASK_EUSER - errs[i]);
        printf("]\n");
        rc = 0;
    }
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cask_run(main_task, NULL) < 0;
}

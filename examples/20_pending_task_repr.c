/*
 * 20_pending_task_repr.c: a task that has not finished is pending; awaiting it yields its
 * result.
 *
 *   Python                                 C
 *   create_task(fetch_data(), name="fetch") cask_spawn_with(&task, fetch_data, &f, &opts)
 *   task.done(), task.get_name()           cask_task_done(task), cask_task_name(task)
 *   value = await task                     cask_join(task), then read f.data
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

struct fetch {
    int data; /* out: the result {'data': data} */
};

static int fetch_data(void *arg)
{
    struct fetch *f = arg;
    int rc = cask_sleep(1);
    if (rc < 0)
        return rc;
    f->data = 1;
    return 0;
}

static const char *py_bool(bool b) { return b ? "True" : "False"; }

static int main_task(void *arg)
{
    (void)arg;
    struct fetch f = {0};
    struct cask_spawn_opts opts = {.name = "fetch"};
    cask_task *task;
    int rc = cask_spawn_with(&task, fetch_data, &f, &opts);
    if (rc < 0)
        return rc;
    printf("%s %s\n", py_bool(cask_task_done(task)), cask_task_name(task));
    rc = cask_join(task); /* value = await task */
    if (rc == 0)
        printf("%s {'data': %d}\n", py_bool(cask_task_done(task)), f.data);
    cask_release(task);
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

/*
 * 09_gather_error.c: gather does not cancel the other coroutines when one fails: they run on.
 *
 *   Python                                 C
 *   raise ValueError(f"work {id} failed")  snprintf(w->error, ...); return E_VALUE;
 *   try: await asyncio.gather(...)         rc = cask_gather(task, 3, NULL);
 *   except ValueError as e: print(e)       if (rc == E_VALUE) print the failed one's message
 *   gather(..., return_exceptions=True)    cask_gather(task, 2, statuses)
 *
 * C has no exceptions: a failing task returns a negative status. Applications choose their
 * own codes at or below CASK_EUSER; a small table gives each code the exception name Python
 * would print, and the message travels in the argument struct, like a result.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdbool.h>
#include <stdio.h>

enum { E_VALUE = CASK_EUSER - 1 }; /* this program's ValueError */

static const struct {
    int code;
    const char *name;
} app_errors[] = {
    {E_VALUE, "ValueError"},
};

/* Prints a failure the way Python prints an exception inside a list: ValueError('...'). */
static void print_exception(int status, const char *message)
{
    for (size_t i = 0; i < sizeof app_errors / sizeof app_errors[0]; i++) {
        if (app_errors[i].code == status) {
            printf("%s('%s')", app_errors[i].name, message);
            return;
        }
    }
    printf("%s", cask_errname(status)); /* a cask error such as ECANCELED */
}

struct work {
    int id;            /* in */
    double sleep_time; /* in */
    bool fail;         /* in */
    int result;        /* out, on success: the id */
    char error[32];    /* out, on failure: the exception's message */
};

static int work(void *arg)
{
    struct work *w = arg;
    printf("work %d started\n", w->id);
    int rc = cask_sleep(w->sleep_time);
    if (rc < 0)
        return rc;
    if (w->fail) {
        snprintf(w->error, sizeof w->error, "work %d failed", w->id);
        return E_VALUE; /* raise ValueError(...) */
    }
    printf("work %d finished\n", w->id);
    w->result = w->id;
    return 0;
}

static int spawn_all(cask_task **task, struct work *w, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = cask_spawn(&task[i], work, &w[i]);
        if (rc < 0)
            return rc; /* cask_run cancels and cleans up the tasks already spawned */
    }
    return 0;
}

static void release_all(cask_task **task, int n)
{
    for (int i = 0; i < n; i++)
        cask_release(task[i]);
}

static int main_task(void *arg)
{
    (void)arg;
    struct work w[3] = {{.id = 1, .sleep_time = 2},
                        {.id = 2, .sleep_time = 1, .fail = true},
                        {.id = 3, .sleep_time = 3}};
    cask_task *task[3];
    int rc = spawn_all(task, w, 3);
    if (rc < 0)
        return rc;
    rc = cask_gather(task, 3, NULL); /* returns the first failure at once */
    if (rc == E_VALUE) {             /* except ValueError as e: print(e) */
        for (int i = 0; i < 3; i++)
            if (w[i].error[0])
                printf("gather raised: %s\n", w[i].error);
    } else if (rc < 0) {
        return rc;
    }
    rc = cask_sleep(3); /* the survivors keep running and finish */
    release_all(task, 3);
    if (rc < 0)
        return rc;

    struct work w2[2] = {{.id = 4, .sleep_time = 1}, {.id = 5, .sleep_time = 1, .fail = true}};
    int status[2];
    rc = spawn_all(task, w2, 2);
    if (rc < 0)
        return rc;
    rc = cask_gather(task, 2, status); /* return_exceptions=True: one status per task */
    release_all(task, 2);
    if (rc < 0)
        return rc;
    printf("return_exceptions: [");
    for (int i = 0; i < 2; i++) {
        if (i > 0)
            printf(", ");
        if (status[i] >= 0)
            printf("%d", w2[i].result);
        else
            print_exception(status[i], w2[i].error);
    }
    printf("]\n");
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

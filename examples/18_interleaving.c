/*
 * 18_interleaving.c: two tasks interleave: numbers print every 0.25 s while a 2 s fetch is
 * pending.
 *
 *   Python                                 C
 *   task1 = asyncio.create_task(...)       cask_spawn(&task1, fetch_data, &fetch)
 *   value = await task1                    cask_join(task1), then read fetch.data
 *
 * Each cask_sleep hands the thread back to the loop, which runs whichever task is ready:
 * while fetch_data waits 2 s, print_numbers runs eight times.
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
    printf("start fetching\n");
    int rc = cask_sleep(2);
    if (rc < 0)
        return rc;
    printf("done fetching\n");
    f->data = 1;
    return 0;
}

static int print_numbers(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        printf("%d\n", i);
        int rc = cask_sleep(0.25);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    struct fetch fetch = {0};
    cask_task *task1, *task2;
    int rc = cask_spawn(&task1, fetch_data, &fetch);
    if (rc < 0)
        return rc;
    rc = cask_spawn(&task2, print_numbers, NULL);
    if (rc < 0)
        return rc; /* cask_run cancels and cleans up task1 */

    rc = cask_join(task1); /* value = await task1 */
    if (rc == 0) {
        printf("{'data': %d}\n", fetch.data);
        rc = cask_join(task2); /* await task2 */
    }
    cask_release(task1);
    cask_release(task2);
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

/* 52_tutorial_gather.c: tutorial step 3: gather, with and without return_exceptions. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>
#include <string.h>

#define E_NOT_FOUND (CASK_EUSER - 1) /* an application's own failure code */

struct fetch {
    const char *url; /* in */
    double delay;    /* in */
    size_t bytes;    /* out */
};

static int fetch(void *arg)
{
    struct fetch *f = arg;
    int rc = cask_sleep(f->delay); /* pretend to download */
    if (rc < 0)
        return rc;
    if (strstr(f->url, "missing"))
        return E_NOT_FOUND;
    f->bytes = 100 * strlen(f->url);
    printf("fetched %s\n", f->url);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    double start = cask_time();
    struct fetch f[3] = {
        {"a.example/index", 0.3, 0}, {"b.example/missing", 0.1, 0}, {"c.example/about", 0.2, 0}};
    cask_task *t[3];
    for (int i = 0; i < 3; i++) {
        int rc = cask_spawn(&t[i], fetch, &f[i]);
        if (rc < 0)
            return rc; /* cask_run cancels the tasks already spawned */
    }
    int rc = cask_gather(t, 3, NULL); /* await asyncio.gather(*t) */
    printf("gather: %s at %.1f s; the others run on\n", cask_errname(rc), cask_time() - start);
    int status[3];
    rc = cask_gather(t, 3, status); /* await asyncio.gather(*t, return_exceptions=True) */
    for (int i = 0; i < 3; i++) {
        printf("%-18s %-8s %zu bytes\n", f[i].url, cask_errname(status[i]), f[i].bytes);
        cask_release(t[i]);
    }
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "gather: %s\n", cask_strerror(rc));
    return rc < 0;
}

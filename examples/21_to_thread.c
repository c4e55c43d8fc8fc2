/* 21_to_thread.c: blocking calls go to worker threads so the event loop keeps running
 * (3 x 1 s in about 1 s): the twin of seed program 21 (asyncio.to_thread + gather). */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <time.h>

struct blocking {
    int id;
    char result[64];
};

/* Runs on a worker thread: a blocking call, e.g. a library without async support. */
static int blocking_io(void *arg)
{
    struct blocking *b = arg;
    struct timespec one = {1, 0};
    nanosleep(&one, NULL);
    snprintf(b->result, sizeof b->result, "blocking call %d done", b->id);
    return 0;
}

static int to_thread(void *arg) { return cask_to_thread(blocking_io, arg); }

static int ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        printf("loop still responsive %d\n", i);
        int rc = cask_sleep(0.3);
        if (rc)
            return rc;
    }
    return 0;
}

static int amain(void *arg)
{
    (void)arg;
    struct blocking b[3];
    cask_task *t[4];
    int rc = 0, n = 0;
    for (; n < 3 && rc == 0; n++) {
        b[n].id = n;
        rc = cask_spawn(&t[n], to_thread, &b[n]);
    }
    if (rc == 0)
        rc = cask_spawn(&t[n++], ticker, NULL);
    if (rc == 0)
        rc = cask_gather(t, (size_t)n, NULL);
    for (int i = 0; i < n; i++)
        cask_release(t[i]);
    if (rc)
        return rc;
    for (int i = 0; i < 3; i++)
        printf("%s\n", b[i].result);
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(amain, NULL);
    if (rc) {
        fprintf(stderr, "21_to_thread: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

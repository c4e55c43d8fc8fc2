/*
 * 32_pipeline.c: a producer/consumer pipeline of three stages joined by bounded queues:
 *
 *   source --q1(4)--> 3 squarers --q2(4)--> sink
 *
 * The bounded queues give back-pressure (the source can run at most a few items ahead). The
 * pipeline shuts down from the front: when the source is done it shuts q1 down; the squarers
 * drain what is left and end on -ESHUTDOWN; once all have ended, main shuts q2 down and the
 * sink drains it and ends the same way. Nothing is lost: the sink checks the total.
 */
#include "cask.h"

#include <stdint.h>
#include <stdio.h>

#define ITEMS 100
#define SQUARERS 3

struct pipeline {
    cask_queue *q1, *q2;
    long total;
    int received;
};

struct squarer {
    struct pipeline *p;
    int id;
    int done;
};

static int source(void *arg)
{
    struct pipeline *p = arg;
    for (intptr_t i = 1; i <= ITEMS; i++) {
        int rc = cask_queue_put(p->q1, (void *)i);
        if (rc < 0)
            return rc;
    }
    printf("source: %d items sent, shutting q1 down\n", ITEMS);
    cask_queue_shutdown(p->q1, false); /* the squarers still get what is queued */
    return 0;
}

static int squarer(void *arg)
{
    struct squarer *s = arg;
    for (;;) {
        void *item;
        int rc = cask_queue_get(s->p->q1, &item);
        if (rc == -ESHUTDOWN)
            return 0; /* q1 drained and shut down: this stage is over */
        if (rc == 0)
            rc = cask_sleep(0.001 * (double)(s->id + 1)); /* some work */
        if (rc < 0)
            return rc;
        intptr_t v = (intptr_t)item;
        rc = cask_queue_put(s->p->q2, (void *)(v * v));
        if (rc < 0)
            return rc;
        s->done++;
    }
}

static int sink(void *arg)
{
    struct pipeline *p = arg;
    for (;;) {
        void *item;
        int rc = cask_queue_get(p->q2, &item);
        if (rc == -ESHUTDOWN)
            return 0;
        if (rc < 0)
            return rc;
        p->total += (long)(intptr_t)item;
        p->received++;
        if (p->received % 25 == 0)
            printf("sink: %d items, running total %ld\n", p->received, p->total);
    }
}

static int run_pipeline(struct pipeline *p)
{
    struct squarer sq[SQUARERS];
    cask_task *stage[1 + SQUARERS] = {NULL};
    cask_task *last = NULL;
    int rc = cask_spawn(&last, sink, p);
    if (rc == 0)
        rc = cask_spawn(&stage[0], source, p);
    for (int i = 0; i < SQUARERS && rc == 0; i++) {
        sq[i] = (struct squarer){p, i, 0};
        rc = cask_spawn(&stage[1 + i], squarer, &sq[i]);
    }
    if (rc == 0)
        rc = cask_gather(stage, 1 + SQUARERS, NULL);
    if (rc == 0) {
        for (int i = 0; i < SQUARERS; i++)
            printf("squarer %d: %d items\n", i, sq[i].done);
        printf("squarers done, shutting q2 down\n");
        cask_queue_shutdown(p->q2, false);
        rc = cask_join(last);
    }
    for (int i = 0; i < 1 + SQUARERS; i++)
        cask_release(stage[i]);
    cask_release(last);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    struct pipeline p = {0};
    int rc = cask_queue_new(&p.q1, 4, CASK_QUEUE_FIFO, NULL);
    if (rc == 0)
        rc = cask_queue_new(&p.q2, 4, CASK_QUEUE_FIFO, NULL);
    if (rc == 0)
        rc = run_pipeline(&p);
    if (rc == 0) {
        long want = (long)ITEMS * (ITEMS + 1) * (2 * ITEMS + 1) / 6;
        printf("sink: %d items, sum of squares %ld (expected %ld)\n", p.received, p.total, want);
        if (p.received != ITEMS || p.total != want)
            rc = CASK_EUSER;
    }
    cask_queue_free(p.q1);
    cask_queue_free(p.q2);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0) {
        fprintf(stderr, "32_pipeline: %s\n", cask_errname(rc));
        return 1;
    }
    return 0;
}

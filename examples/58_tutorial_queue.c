/* 58_tutorial_queue.c: tutorial step 9: a producer and two consumers share a bounded queue;
 * the producer waits until every item is processed, then shuts the queue down. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static int consumer(void *arg)
{
    cask_queue *q = arg;
    for (;;) {
        void *item;
        int rc = cask_queue_get(q, &item); /* item = await q.get() */
        if (rc == -ESHUTDOWN)
            return 0; /* shut down and drained: no more work */
        if (rc < 0)
            return rc;
        rc = cask_sleep(0.1); /* process the item */
        if (rc < 0)
            return rc;
        printf("%s: processed %s\n", cask_task_name(cask_current()), (const char *)item);
        cask_queue_task_done(q); /* q.task_done() */
    }
}

static int producer(cask_queue *q)
{
    static const char *jobs[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
        int rc = cask_queue_put(q, (void *)jobs[i]); /* await q.put(job): waits while full */
        if (rc < 0)
            return rc;
        printf("producer: queued %s (%zu waiting)\n", jobs[i], cask_queue_qsize(q));
    }
    int rc = cask_queue_join(q); /* await q.join(): every item processed */
    printf("producer: all done\n");
    cask_queue_shutdown(q, false); /* q.shutdown(): consumers drain, then get -ESHUTDOWN */
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    cask_queue *q;
    int rc = cask_queue_new(&q, 2, CASK_QUEUE_FIFO, NULL); /* asyncio.Queue(maxsize=2) */
    if (rc < 0)
        return rc;
    cask_group g;
    rc = cask_group_open(&g);
    if (rc == 0) {
        for (int i = 0; i < 2 && rc == 0; i++)
            rc = cask_group_spawn(&g, NULL, consumer, q);
        if (rc == 0)
            rc = producer(q);
        rc = cask_group_close(&g, rc);
    }
    cask_queue_free(q); /* after every task using it has ended */
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "queue: %s\n", cask_strerror(rc));
    return rc < 0;
}

/* 25_queue.c: a queue hands work from a producer to a fixed pool of consumers. */
#include "cask.h"

#include <stdint.h>
#include <stdio.h>

struct worker {
    char name[16];
    cask_queue *queue;
};

static int producer(cask_queue *queue)
{
    for (intptr_t i = 0; i < 6; i++) {
        int rc = cask_queue_put(queue, (void *)i);
        if (rc < 0)
            return rc;
    }
    printf("producer done\n");
    return 0;
}

static int worker(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        void *item;
        int rc = cask_queue_get(w->queue, &item);
        if (rc == 0)
            rc = cask_sleep(0.2);
        if (rc < 0)
            return rc; /* cancelled: the seed's workers end here */
        printf("%s processed item %d\n", w->name, (int)(intptr_t)item);
        cask_queue_task_done(w->queue);
    }
}

static int main_task(void *arg)
{
    (void)arg;
    cask_queue *queue;
    int rc = cask_queue_new(&queue, 2, CASK_QUEUE_FIFO, NULL);
    if (rc < 0)
        return rc;
    struct worker ws[3];
    cask_task *workers[3] = {NULL};
    for (int i = 0; i < 3 && rc == 0; i++) {
        snprintf(ws[i].name, sizeof ws[i].name, "worker %d", i);
        ws[i].queue = queue;
        rc = cask_spawn(&workers[i], worker, &ws[i]);
    }
    if (rc == 0)
        rc = producer(queue);
    if (rc == 0)
        rc = cask_queue_join(queue);
    for (int i = 0; i < 3; i++)
        cask_cancel(workers[i]);
    int statuses[3];
    int grc = cask_gather(workers, 3, statuses); /* return_exceptions=True */
    if (rc == 0 && grc == 0)
        printf("all items processed\n");
    for (int i = 0; i < 3; i++)
        cask_release(workers[i]);
    cask_queue_free(queue);
    return rc ? rc : grc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0) {
        fprintf(stderr, "25_queue: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

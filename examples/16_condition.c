/* 16_condition.c: a condition lets consumers sleep until a producer notifies them that state
 * changed. */
#include "cask.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct shared {
    cask_cond cond;
    char items[3][16];
    int head, tail; /* items[head..tail) are waiting to be taken */
};

struct consumer {
    struct shared *s;
    int id;
};

static bool have_items(void *arg)
{
    struct shared *s = arg;
    return s->tail > s->head;
}

static int consumer(void *arg)
{
    struct consumer *c = arg;
    struct shared *s = c->s;
    int rc = cask_cond_acquire(&s->cond);
    if (rc < 0)
        return rc;
    rc = cask_cond_wait_for(&s->cond, have_items, s);
    if (rc == 0)
        printf("consumer %d got %s\n", c->id, s->items[s->head++]);
    cask_cond_release(&s->cond);
    return rc;
}

static int producer(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < 3; i++) {
        int rc = cask_sleep(0.5);
        if (rc == 0)
            rc = cask_cond_acquire(&s->cond);
        if (rc < 0)
            return rc;
        snprintf(s->items[s->tail++], sizeof s->items[0], "item %d", i);
        cask_cond_notify(&s->cond, 1);
        cask_cond_release(&s->cond);
    }
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    struct shared s = {.cond = CASK_COND_INIT};
    struct consumer cs[3];
    cask_task *tasks[4] = {NULL};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        cs[i] = (struct consumer){&s, i};
        rc = cask_spawn(&tasks[i], consumer, &cs[i]);
    }
    if (rc == 0)
        rc = cask_spawn(&tasks[3], producer, &s);
    if (rc == 0)
        rc = cask_gather(tasks, 4, NULL);
    for (int i = 0; i < 4; i++)
        cask_release(tasks[i]);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0) {
        fprintf(stderr, "16_condition: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

/*
 * bigstack.c: running diagnostics code that needs a thread-sized stack (symbolization with
 * libdw descends deep) when the caller is a task on a small stack: a helper thread does it
 * while the loop thread waits, so the loop's structures are not touched concurrently.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <pthread.h>
#include <signal.h>

struct hop {
    void (*fn)(void *);
    void *arg;
};

static void *helper(void *p)
{
    struct hop *h = p;
    h->fn(h->arg);
    return NULL;
}

void cask__on_big_stack(void (*fn)(void *), void *arg)
{
    if (!cask__self()) {
        fn(arg);
        return;
    }
    struct hop h = {fn, arg};
    pthread_t th;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the helper never takes a process signal */
    int rc = pthread_create(&th, NULL, helper, &h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_join(th, NULL);
    else
        fn(arg); /* no thread to be had: try on the task's stack */
}

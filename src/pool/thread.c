/*
 * thread.c: asyncio.to_thread. Each loop gets a pool of worker threads (in loop->ext[EXT_SLOT])
 * on its first use; threads start lazily up to min(32, ncpu + 4) and are joined when the loop
 * closes. A job is queued under the pool mutex; a worker runs it and hands it back to the loop
 * with cask_call_soon_threadsafe, where the waiting task is woken or, if it gave up, the job is
 * cleaned up. Only the loop thread allocates and frees jobs.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define EXT_SLOT 0 /* loop->ext[] slot of the thread pool */
#define MAX_THREADS 32

enum { J_QUEUED, J_RUNNING, J_DONE };

struct job {
    struct job *next;                /* pool queue (under the mutex) */
    struct job *all_prev, *all_next; /* every job not yet handed back (loop thread only) */
    cask_fn fn;
    void *arg;
    cask_cb cleanup;
    struct cask__waiter *w; /* the waiting task; NULL once it gave up */
    struct pool *pool;
    int state; /* under the mutex */
    int result;
    bool wait_running; /* a cancelled task waits for a running fn instead of leaving */
};

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail; /* queued jobs */
    bool shutdown;
    int nthreads, idle, max;
    pthread_t threads[MAX_THREADS];
    struct job *all; /* loop thread only */
    cask_loop *loop;
};

static void job_unlink(struct pool *p, struct job *j)
{
    if (j->all_prev)
        j->all_prev->all_next = j->all_next;
    else
        p->all = j->all_next;
    if (j->all_next)
        j->all_next->all_prev = j->all_prev;
}

/* Runs on the loop thread: the job came back from its worker. */
static void job_done(void *arg)
{
    struct job *j = arg;
    job_unlink(j->pool, j);
    j->pool->loop->jobs_out--;
    if (j->w) {
        j->w->value = j->result;
        cask__signal(j->w, 0);
    } else if (j->cleanup) {
        j->cleanup(j->arg);
    }
    cask__free(j);
}

static void *worker(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->shutdown) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (!p->head)
            break; /* shutting down with nothing left to run */
        struct job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        j->state = J_RUNNING;
        pthread_mutex_unlock(&p->mu);
        int r = j->fn(j->arg);
        pthread_mutex_lock(&p->mu);
        j->result = r;
        j->state = J_DONE;
        pthread_mutex_unlock(&p->mu);
        /* ENOMEM here is transient: retry; ESHUTDOWN means the loop is closing and its close
         * hook frees the job after joining us. */
        for (;;) {
            int rc = cask_call_soon_threadsafe(p->loop, job_done, j);
            if (rc != -ENOMEM)
                break;
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_close(cask_loop *l, void *ptr)
{
    struct pool *p = ptr;
    (void)l;
    pthread_mutex_lock(&p->mu);
    p->shutdown = true;
    /* jobs never started are dropped (their tasks are gone: the loop ended every task) */
    p->head = p->tail = NULL;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* every job left was given up by its task; the loop dropped their hand-back callbacks */
    struct job *j = p->all;
    while (j) {
        struct job *next = j->all_next;
        if (j->cleanup)
            j->cleanup(j->arg);
        cask__free(j);
        j = next;
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    cask__free(p);
}

static int pool_get(cask_loop *l, struct pool **out)
{
    if (l->ext[EXT_SLOT]) {
        *out = l->ext[EXT_SLOT];
        return 0;
    }
    struct pool *p = cask__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    p->max = ncpu + 4 < MAX_THREADS ? (int)ncpu + 4 : MAX_THREADS;
    p->loop = l;
    l->ext[EXT_SLOT] = p;
    l->ext_close[EXT_SLOT] = pool_close;
    *out = p;
    return 0;
}

/* Starts one more worker; called with the mutex held. Signals stay with the loop's thread. */
static int start_thread(struct pool *p)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return -rc;
    p->nthreads++;
    return 0;
}

static bool job_on_cancel(struct cask__waiter *w)
{
    struct job *j = w->data;
    struct pool *p = j->pool;
    pthread_mutex_lock(&p->mu);
    if (j->state == J_QUEUED) {
        struct job **pp = &p->head, *prev = NULL;
        while (*pp != j) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = j->next;
        if (p->tail == j)
            p->tail = prev;
        pthread_mutex_unlock(&p->mu);
        job_unlink(p, j);
        p->loop->jobs_out--;
        if (j->cleanup)
            j->cleanup(j->arg);
        cask__free(j);
        return true;
    }
    if (j->wait_running) { /* the task stays parked until fn returns: job_done wakes it */
        pthread_mutex_unlock(&p->mu);
        return false;
    }
    j->w = NULL; /* running or on its way back: job_done cleans up */
    pthread_mutex_unlock(&p->mu);
    return true;
}

static int submit(cask_fn fn, void *arg, cask_cb cleanup, bool wait_running)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    if (cask__on_own_stack(self, arg))
        return -EFAULT; /* a compact task's stack: the worker would use it while it is parked */
    if (cask__cancelled(self)) {
        if (cleanup)
            cleanup(arg);
        return cask__cancel_now(self);
    }
    struct pool *p;
    int rc = pool_get(l, &p);
    if (rc)
        return rc;
    struct job *j = cask__calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, "to_thread", j);
    w->on_cancel = job_on_cancel;
    w->data = j;
    w->task = self;
    j->fn = fn;
    j->arg = arg;
    j->cleanup = cleanup;
    j->w = w;
    j->pool = p;
    j->state = J_QUEUED;
    j->wait_running = wait_running;
    pthread_mutex_lock(&p->mu);
    if (p->idle == 0 && p->nthreads < p->max) {
        rc = start_thread(p);
        if (rc && p->nthreads == 0) {
            pthread_mutex_unlock(&p->mu);
            cask__free(j);
            return -EAGAIN;
        }
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    j->all_next = p->all;
    if (p->all)
        p->all->all_prev = j;
    p->all = j;
    l->jobs_out++; /* a wakeup from a worker may still come (deadlock detection) */
    /* j belongs to the pool from here: job_done or job_on_cancel frees it */
    rc = cask__park(w);
    return rc == 0 ? (int)w->value : rc;
}

int cask_to_thread_ex(cask_fn fn, void *arg, cask_cb cleanup)
{
    return submit(fn, arg, cleanup, false);
}

int cask_to_thread(cask_fn fn, void *arg) { return cask_to_thread_ex(fn, arg, NULL); }

int cask__to_thread_wait(cask_fn fn, void *arg) { return submit(fn, arg, NULL, true); }

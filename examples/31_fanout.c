/*
 * 31_fanout.c: a fan-out. 1,000 simulated fetches (each sleeps 10-500 ms, 3% fail) run as
 * tasks of one group with at most 50 in flight, under a 5 s deadline for the whole job. A
 * failed fetch is recorded, not fatal (the task handles it, as `try/except` inside the
 * coroutine would); at the deadline the group cancels what still runs. Prints a summary.
 *
 * The limit is a tiny local limiter (a counter and a future the spawner waits on while the
 * limit is reached), standing in for a semaphore.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>
#include <stdlib.h>

#define N_FETCH 1000
#define MAX_IN_FLIGHT 50
#define DEADLINE 5.0
#define FETCH_FAILED (CASK_EUSER - 1)

enum { NOT_STARTED = 0, OK, FAILED, CANCELLED };

struct limiter {
    int free_slots;
    cask_future *wake; /* the spawner waits on it while no slot is free */
};

/* Takes a slot, waiting while there is none. Returns 0 or -ECANCELED (or -ENOMEM). */
static int limiter_acquire(struct limiter *l)
{
    while (l->free_slots == 0) {
        int rc = cask_future_new(&l->wake);
        if (rc < 0)
            return rc;
        rc = cask_future_await(l->wake, NULL);
        cask_future_free(l->wake);
        l->wake = NULL;
        if (rc < 0)
            return rc;
    }
    l->free_slots--;
    return 0;
}

static void limiter_release(struct limiter *l)
{
    l->free_slots++;
    if (l->wake && !cask_future_done(l->wake))
        (void)cask_future_set_result(l->wake, NULL);
}

struct job {
    struct limiter limit;
    int in_flight, max_in_flight;
    int outcome[N_FETCH];
    double delay[N_FETCH];
    bool fails[N_FETCH];
};

struct fetch {
    struct job *job;
    int i;
};
static struct fetch fetches[N_FETCH];

static int fetch(void *arg)
{
    struct fetch *f = arg;
    struct job *j = f->job;
    if (++j->in_flight > j->max_in_flight)
        j->max_in_flight = j->in_flight;
    int rc = cask_sleep(j->delay[f->i]); /* the "network" */
    if (rc == 0 && j->fails[f->i])
        rc = FETCH_FAILED;
    j->outcome[f->i] = rc == 0 ? OK : rc == -ECANCELED ? CANCELLED : FAILED;
    j->in_flight--;
    limiter_release(&j->limit);
    /* a failed fetch is handled here; only a cancellation ends the task cancelled */
    return rc == -ECANCELED ? rc : 0;
}

static int fan_out(struct job *j, int *spawned)
{
    cask_group g;
    int rc = cask_group_open(&g);
    if (rc < 0)
        return rc;
    for (int i = 0; i < N_FETCH && rc == 0; i++) {
        rc = limiter_acquire(&j->limit);
        if (rc == 0) {
            fetches[i] = (struct fetch){j, i};
            rc = cask_group_spawn(&g, NULL, fetch, &fetches[i]);
            *spawned += rc == 0;
        }
    }
    return cask_group_close(&g, rc);
}

static int main_task(void *arg)
{
    struct job *j = arg;
    j->limit.free_slots = MAX_IN_FLIGHT;
    double t0 = cask_time();
    int spawned = 0;
    cask_scope deadline;
    int rc = cask_timeout_open(&deadline, DEADLINE);
    if (rc < 0)
        return rc;
    rc = cask_scope_close(&deadline, fan_out(j, &spawned));
    double elapsed = cask_time() - t0;
    int count[4] = {0};
    for (int i = 0; i < N_FETCH; i++)
        count[j->outcome[i]]++;
    /* spawned but cancelled before their first step never ran: they count as cancelled */
    int never_ran = spawned - count[OK] - count[FAILED] - count[CANCELLED];
    printf("%d fetches, at most %d in flight (limit %d), deadline %.0f s: %s after %.2f s\n",
           N_FETCH, j->max_in_flight, MAX_IN_FLIGHT, DEADLINE,
           rc == -ETIMEDOUT ? "timed out" : rc == 0 ? "all done" : cask_strerror(rc), elapsed);
    printf("  succeeded: %d\n  failed:    %d\n  cancelled: %d\n  not started: %d\n", count[OK],
           count[FAILED], count[CANCELLED] + never_ran, N_FETCH - spawned);
    if (j->max_in_flight > MAX_IN_FLIGHT || elapsed > DEADLINE + 0.5 || j->in_flight != 0)
        return -EINVAL;
    return rc == 0 || rc == -ETIMEDOUT ? 0 : rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    static struct job job;
    srand(31);
    for (int i = 0; i < N_FETCH; i++) {
        job.delay[i] = (10 + rand() % 491) / 1000.0;
        job.fails[i] = rand() % 100 < 3;
    }
    int rc = cask_run(main_task, &job);
    if (rc != 0)
        fprintf(stderr, "31_fanout: %s\n", cask_strerror(rc));
    return rc != 0;
}

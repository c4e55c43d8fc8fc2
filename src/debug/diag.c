/*
 * diag.c: the diagnostics cask_run's config turns on, and their triggers: the dump signal
 * (the task tree at the next iteration), the stall watchdog, "nothing can ever run again"
 * (deadlock report, then main is cancelled), and the tasks still alive when main returns.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <inttypes.h>
#include <time.h>

uint64_t cask__coarse_ns(void)
{
    /* the kernel's tick-granular clock: a read of shared memory in the vDSO, no TSC */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_dump_signal(int signo, void *arg)
{
    cask_loop *l = arg;
    FILE *f = l->diag->out;
    fprintf(f, "cask: signal %d: task tree\n", signo);
    cask_dump_tree(f, 0);
    if (cask_find_deadlocks(NULL, 0) > 0)
        cask_find_deadlocks(f, 0);
}

int cask__diag_start(cask_loop *l, const struct cask_config *cfg)
{
    if (!cfg)
        return 0;
    if (cfg->stall_threshold < 0 || cfg->stall_threshold != cfg->stall_threshold)
        return -EINVAL;
    int trc = cask__trace_config(l, cfg);
    if (trc)
        return trc;
    if (!(cfg->dump_signal || cfg->stall_threshold > 0 || cfg->detect_deadlocks ||
          cfg->report_leftovers || cfg->report_stack_use))
        return 0;
    struct cask__diag *d = cask__calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->out = cfg->diag_out ? cfg->diag_out : stderr;
    d->detect_deadlocks = cfg->detect_deadlocks;
    d->dump_sig = cfg->dump_signal;
    d->report_leftovers = cfg->report_leftovers;
    l->diag = d;
    int rc = 0;
    if (cfg->dump_signal) {
        int sig = cfg->dump_signal;
        rc = cask_signal_on(&d->dump_rx, &sig, 1, on_dump_signal, l);
        if (rc)
            goto out_free;
    }
    if (cfg->report_stack_use) {
        rc = cask__stackuse_start(l);
        if (rc)
            goto out_close_rx;
    }
    if (cfg->stall_threshold > 0) {
        rc = cask__stall_start(l, cfg->stall_threshold, d->out);
        if (rc)
            goto out_stackuse;
    }
    return 0;

out_stackuse:
    if (d->stackuse) {
        cask__free(d->stackuse);
        d->stackuse = NULL;
    }
out_close_rx:
    if (d->dump_rx)
        (void)cask_signal_close(d->dump_rx);
out_free:
    l->diag = NULL;
    cask__free(d);
    return rc;
}

void cask__diag_stop(cask_loop *l)
{
    struct cask__diag *d = l->diag;
    if (!d)
        return;
    cask__stall_stop(l);
    cask__stackuse_stop(l);
    if (d->dump_rx)
        (void)cask_signal_close(d->dump_rx);
    l->diag = NULL;
    cask__free(d);
}

void cask__diag_idle(cask_loop *l)
{
    struct cask__diag *d = l->diag;
    if (!d->detect_deadlocks || d->stuck_reports >= 2 || l->ready_head || l->snap_head ||
        l->jobs_out || l->all_head == NULL || cask__signals_may_wake(l, d->dump_rx))
        return;
    /* no task ready, no timer, no fd, no thread job, no signal that could wake one: only
     * another thread calling cask_call_soon_threadsafe could still make progress */
    FILE *f = d->out;
    size_t n = 0;
    for (cask_task *t = l->all_head; t; t = t->all_next)
        n++;
    if (d->stuck_reports++ == 0) {
        fprintf(f, "cask: nothing can run again: %zu task%s wait%s and no timer, fd, thread job "
                   "or signal can wake them\n", n, n == 1 ? "" : "s", n == 1 ? "s" : "");
        if (cask_find_deadlocks(f, 0) == 0)
            fprintf(f, "cask: no wait-for cycle: they wait for something no task will do\n");
        cask_dump_tree(f, 0);
        if (l->main_task && !cask_task_done(l->main_task)) {
            fprintf(f, "cask: cancelling the main task\n");
            cask_cancel(l->main_task);
        }
    } else {
        fprintf(f, "cask: still nothing can run after cancelling the main task; the loop waits "
                   "for another thread\n");
    }
    fflush(f);
}

void cask__diag_leftovers(cask_loop *l)
{
    struct cask__diag *d = l->diag;
    if (!d->report_leftovers || !l->all_head)
        return;
    size_t n = 0;
    for (cask_task *t = l->all_head; t; t = t->all_next)
        n++;
    fprintf(d->out, "cask: %zu task%s still alive when main returned (cancelled now):\n", n,
            n == 1 ? "" : "s");
    cask_dump_tree(d->out, 0);
}

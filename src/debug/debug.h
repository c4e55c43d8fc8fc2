/*
 * debug.h: what the diagnostics files share: the per-loop diagnostics state made by
 * cask_run's config, the words for what a task waits on, task backtraces, JSON strings.
 */
#ifndef CASK_DEBUG_H
#define CASK_DEBUG_H

#include "../internal.h"

#include <stdio.h>

#define CASK__BT_MAX 32

struct cask__stall;
struct cask__diag {
    FILE *out;               /* where reports go */
    cask_signal *dump_rx;    /* the dump signal's receiver, or NULL */
    int dump_sig;            /* cfg.dump_signal (the watchdog answers it when the loop is stuck) */
    bool detect_deadlocks;
    bool report_leftovers;
    int stuck_reports;       /* times "nothing can run again" was reported */
    int busy;                /* a report is being written (the watchdog stays quiet) */
    struct cask__stall *stall; /* the watchdog, or NULL */
    struct cask__stackuse *stackuse; /* cfg.report_stack_use's tallies, or NULL */
};

/* What w (the waiter t is parked on) waits for, in words. */
void cask__describe_wait(cask_loop *l, const cask_task *t, char *buf, size_t n);
/* The task waited on through w whose progress would wake it (lock owner, joined task), or
 * NULL: for the graph and the words. */
cask_task *cask__wait_target(const struct cask__waiter *w);
/* t's frames, innermost first (see cask_task_backtrace). */
int cask__task_frames(const cask_task *t, void **pcs, int max);
/* Writes s as a JSON string (with the quotes). */
void cask__json_str(FILE *f, const char *s);
/* Runs fn(arg) on a stack large enough for symbolization: directly on a thread's own stack,
 * on a short-lived helper thread (the loop thread waiting for it) when called on a task's. */
void cask__on_big_stack(void (*fn)(void *), void *arg);
/* Bytes of s the kernel backs: the pages touched so far (debug/stackuse.c). */
size_t cask__stack_touched(const struct cask__stack *s);
int cask__stackuse_start(cask_loop *l);
void cask__stackuse_stop(cask_loop *l);
/* The task tree of l, written from another thread (the stall watchdog) while l's thread is
 * stuck in one step: only reads; running is the stuck task (NULL: a callback) and pcs its
 * live frames. */
void cask__dump_tree_outside(cask_loop *l, FILE *f, const cask_task *running, void *const *pcs,
                             int n);
/* Stall watchdog (debug/stall.c). */
int cask__stall_start(cask_loop *l, double threshold, FILE *out);
void cask__stall_stop(cask_loop *l);

#endif

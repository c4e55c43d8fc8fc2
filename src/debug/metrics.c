/*
 * metrics.c: the loop's counters (cask_loop_stats) in Prometheus' text exposition format
 * (version 0.0.4): a # HELP and a # TYPE line per metric, then the sample, labelled with the
 * loop's thread id so that several loops of one process stay apart.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <inttypes.h>
#include <sys/syscall.h>
#include <unistd.h>

struct out {
    FILE *f;
    long tid;
    long bytes;
};

static void metric(struct out *o, const char *name, const char *type, const char *help, double v)
{
    int n = fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n%s{loop=\"%ld\"} %.17g\n", name, help, name,
                    type, name, o->tid, v);
    if (n > 0)
        o->bytes += n;
}

int cask_metrics_write(FILE *f)
{
    struct cask_loop_stats s;
    int rc = cask_loop_stats(&s);
    if (rc)
        return rc;
    if (!f)
        return -EINVAL;
    struct out o = {f, (long)syscall(SYS_gettid), 0};
    metric(&o, "cask_loop_iterations_total", "counter", "Loop iterations run.",
           (double)s.iterations);
    metric(&o, "cask_context_switches_total", "counter", "Context switches into tasks.",
           (double)s.switches);
    metric(&o, "cask_callbacks_total", "counter", "Callbacks run by the loop.",
           (double)s.callbacks);
    metric(&o, "cask_ready_queue_length", "gauge", "Tasks and callbacks ready to run now.",
           (double)s.ready);
    metric(&o, "cask_polls_blocked_total", "counter",
           "Times the loop blocked in the poller with nothing ready.", (double)s.polls);
    metric(&o, "cask_poll_blocked_seconds_total", "counter",
           "Time the loop spent blocked in the poller.", s.poll_seconds);
    metric(&o, "cask_tasks_live", "gauge", "Tasks not yet freed.", (double)s.tasks_live);
    metric(&o, "cask_tasks_spawned_total", "counter", "Tasks spawned, the main task included.",
           (double)s.tasks_spawned);
    metric(&o, "cask_stacks_mapped", "gauge", "Task stacks mapped (pooled ones included).",
           (double)s.stacks_mapped);
    metric(&o, "cask_task_structs", "gauge", "Task structs in memory (live and free).",
           (double)s.task_structs);
    metric(&o, "cask_read_bytes_total", "counter",
           "Bytes read by streams, socket calls and file calls.", (double)s.bytes_read);
    metric(&o, "cask_written_bytes_total", "counter",
           "Bytes written by streams, socket calls and file calls.", (double)s.bytes_written);
    if (fflush(f) != 0 || ferror(f))
        return -EIO;
    return (int)o.bytes;
}

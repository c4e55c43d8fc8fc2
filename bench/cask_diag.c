/*
 * cask_diag.c: what the diagnostics cost on the hot path. The switch (event ping-pong between
 * two tasks) and ctxswitch (two tasks yielding) workloads of cask_core.c, run with
 * diagnostics off, with diagnostics on but no watchdog (the park time is recorded), with the
 * stall watchdog on (threshold 0.1 s), then with every diagnostic on (watchdog, deadlock
 * detection, dump signal), and with the trace timeline recording (every switch, park and wake
 * goes into the ring). Prints RESULT lines; the
 * differences are the costs (issue 9: the watchdog at most 2 ns per switch).
 */
#define _GNU_SOURCE
#include "bench.h"
#include <cask.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct pp {
    cask_event ping, pong;
    long n;
    double ns;
};
static int ponger(void *arg)
{
    struct pp *p = arg;
    for (long i = 0; i < p->n; i++) {
        MUST(cask_event_wait(&p->ping));
        cask_event_clear(&p->ping);
        cask_event_set(&p->pong);
    }
    return 0;
}
static int switch_main(void *arg)
{
    struct pp *p = arg;
    cask_task *t;
    MUST(cask_spawn(&t, ponger, p));
    MUST(cask_yield());
    double t0 = now();
    for (long i = 0; i < p->n; i++) {
        cask_event_set(&p->ping);
        MUST(cask_event_wait(&p->pong));
        cask_event_clear(&p->pong);
    }
    p->ns = (now() - t0) * 1e9 / (double)p->n;
    MUST(cask_join(t));
    cask_release(t);
    return 0;
}

static int yielder(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        MUST(cask_yield());
    return 0;
}
struct yy {
    long n;
    double ns;
};
static int ctx_main(void *arg)
{
    struct yy *y = arg;
    cask_task *a, *b;
    MUST(cask_spawn(&a, yielder, &y->n));
    MUST(cask_spawn(&b, yielder, &y->n));
    struct cask_loop_stats s0, s1;
    MUST(cask_loop_stats(&s0));
    double t0 = now();
    MUST(cask_join(a));
    MUST(cask_join(b));
    double dt = now() - t0;
    MUST(cask_loop_stats(&s1));
    cask_release(a);
    cask_release(b);
    y->ns = dt * 1e9 / (double)(s1.switches - s0.switches);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *q = getenv("CASK_BENCH_QUICK");
    long n = q && *q && *q != '0' ? 200000 : 1000000;
    enum { MODES = 5, REPS = 9 };
    struct cask_config modes[MODES] = {
        {0},
        {.report_leftovers = true}, /* diagnostics on (park times), no watchdog */
        {.stall_threshold = 0.1},
        {.stall_threshold = 0.1, .detect_deadlocks = true, .dump_signal = SIGUSR2},
        {.trace_path = "/dev/null"}, /* the trace timeline recording (ring of 65536) */
    };
    const char *names[MODES] = {"off", "park_times", "stall_watchdog", "all", "trace"};
    double sw[MODES][REPS], cx[MODES][REPS];
    for (int r = 0; r < REPS; r++) {
        for (int k = 0; k < MODES; k++) { /* interleaved, the order rotating each round, so
                                           * drift on a shared machine hits every mode alike */
            int m = (r + k) % MODES;
            struct pp p = {CASK_EVENT_INIT, CASK_EVENT_INIT, n, 0};
            MUST(cask_run_with(switch_main, &p, &modes[m]));
            sw[m][r] = p.ns;
            struct yy y = {5 * n, 0};
            MUST(cask_run_with(ctx_main, &y, &modes[m]));
            cx[m][r] = y.ns;
        }
    }
    for (int m = 0; m < MODES; m++) {
        qsort(sw[m], REPS, sizeof(double), cmp);
        qsort(cx[m], REPS, sizeof(double), cmp);
        printf("RESULT switch_diag_%s cask ns_per_roundtrip=%.2f roundtrips=%ld\n", names[m],
               sw[m][REPS / 2], n);
        printf("RESULT ctxswitch_diag_%s cask ns_per_switch=%.2f\n", names[m], cx[m][REPS / 2]);
    }
    /* the costs: each mode's median minus the median with everything off */
    for (int m = 1; m < MODES; m++)
        printf("RESULT cost_%s cask ns_per_roundtrip=%.2f ns_per_switch=%.2f\n", names[m],
               sw[m][REPS / 2] - sw[0][REPS / 2], cx[m][REPS / 2] - cx[0][REPS / 2]);
    return 0;
}

/*
 * cask_core.c: the core benchmarks of cask, printing RESULT lines for bench/run.sh.
 *   spawn        1,000,000 empty tasks in batches of 1,000: spawn a batch, join it, ns per task
 *   switch       1,000,000 ping-pong round trips between two tasks, ns per round trip
 *   ctxswitch    two tasks yielding to each other through the ready queue, ns per switch
 *                (bench/cask_ctx.c measures the bare switch without the scheduler)
 *   sleepers_*   N tasks sleeping 2 s at once: wall time, peak RSS, bytes per task
 *                ("cask_core sleepers N" for any N: bench/scale.sh)
 *   timers       1,000,000 call_later callbacks with random delays in [0, 1) s
 * Usage: cask_core [workload...]; CASK_BENCH_QUICK=1 divides the counts by 10.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ---- spawn ---- */
static int empty(void *arg)
{
    (void)arg;
    return 0;
}
#define SPAWN_BATCH 1000 /* the same batching in every peer (bench/README.md) */
static void spawn_batches(long batches)
{
    static cask_task *t[SPAWN_BATCH];
    for (long b = 0; b < batches; b++) {
        for (int i = 0; i < SPAWN_BATCH; i++)
            MUST(cask_spawn(&t[i], empty, NULL));
        for (int i = 0; i < SPAWN_BATCH; i++) {
            MUST(cask_join(t[i]));
            cask_release(t[i]);
        }
    }
}
static int spawn_main(void *arg)
{
    long n = *(long *)arg;
    spawn_batches(1); /* warm the task slabs and the stack pool, as every peer warms up */
    double t0 = now();
    spawn_batches(n / SPAWN_BATCH);
    double dt = now() - t0;
    n = n / SPAWN_BATCH * SPAWN_BATCH;
    printf("RESULT spawn cask ns_per_task=%.1f tasks=%ld batch=%d\n", dt * 1e9 / (double)n, n,
           SPAWN_BATCH);
    return 0;
}

/* ---- switch: ping-pong between two tasks through a pair of events ---- */
struct pp {
    cask_event ping, pong;
    long n;
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
    struct pp p = {CASK_EVENT_INIT, CASK_EVENT_INIT, *(long *)arg};
    cask_task *t;
    MUST(cask_spawn(&t, ponger, &p));
    MUST(cask_yield());
    double t0 = now();
    for (long i = 0; i < p.n; i++) {
        cask_event_set(&p.ping);
        MUST(cask_event_wait(&p.pong));
        cask_event_clear(&p.pong);
    }
    double dt = now() - t0;
    MUST(cask_join(t));
    cask_release(t);
    printf("RESULT switch cask ns_per_roundtrip=%.1f roundtrips=%ld via=event\n",
           dt * 1e9 / (double)p.n, p.n);
    return 0;
}

/* The same through a fresh future per message, as the asyncio peer does. */
struct fpp {
    cask_future *ping, *pong;
    long n;
};
static int fponger(void *arg)
{
    struct fpp *p = arg;
    for (long i = 0; i < p->n; i++) {
        MUST(cask_future_await(p->ping, NULL));
        cask_future_free(p->ping);
        MUST(cask_future_new(&p->ping));
        MUST(cask_future_set_result(p->pong, NULL));
    }
    return 0;
}
static int fswitch_main(void *arg)
{
    struct fpp p = {.n = *(long *)arg};
    MUST(cask_future_new(&p.ping));
    MUST(cask_future_new(&p.pong));
    cask_task *t;
    MUST(cask_spawn(&t, fponger, &p));
    MUST(cask_yield());
    double t0 = now();
    for (long i = 0; i < p.n; i++) {
        MUST(cask_future_set_result(p.ping, NULL));
        MUST(cask_future_await(p.pong, NULL));
        cask_future_free(p.pong);
        MUST(cask_future_new(&p.pong));
    }
    double dt = now() - t0;
    MUST(cask_join(t));
    cask_release(t);
    cask_future_free(p.ping);
    cask_future_free(p.pong);
    printf("RESULT switch_future cask ns_per_roundtrip=%.1f roundtrips=%ld via=future\n",
           dt * 1e9 / (double)p.n, p.n);
    return 0;
}

/* ---- raw context switch: two tasks yielding to each other ---- */
static int yielder(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        MUST(cask_yield());
    return 0;
}
static int ctx_main(void *arg)
{
    long n = *(long *)arg;
    cask_task *a, *b;
    MUST(cask_spawn(&a, yielder, &n));
    MUST(cask_spawn(&b, yielder, &n));
    struct cask_loop_stats s0, s1;
    MUST(cask_loop_stats(&s0));
    double t0 = now();
    MUST(cask_join(a));
    MUST(cask_join(b));
    double dt = now() - t0;
    MUST(cask_loop_stats(&s1));
    cask_release(a);
    cask_release(b);
    /* a task that yields switches straight to the next ready task: one switch per resume */
    double switches = (double)(s1.switches - s0.switches);
    printf("RESULT ctxswitch cask ns_per_switch=%.2f switches=%.0f\n", dt * 1e9 / switches,
           switches);
    return 0;
}

/* ---- sleepers ---- */
static int sleeper(void *arg)
{
    (void)arg;
    return cask_sleep(2.0);
}
struct sl {
    long n;
    const char *name;
};
static int sleepers_main(void *arg)
{
    struct sl *s = arg;
    long base = rss_kb("VmRSS:");
    long pte_base = rss_kb("VmPTE:");
    cask_task **ts = malloc(sizeof *ts * (size_t)s->n);
    double t0 = now();
    for (long i = 0; i < s->n; i++)
        MUST(cask_spawn(&ts[i], sleeper, NULL));
    double t_spawned = now();
    MUST(cask_yield()); /* every sleeper runs once and parks in its sleep */
    MUST(cask_yield());
    double t_parked = now();
    for (long i = 0; i < s->n; i++) {
        MUST(cask_join(ts[i]));
        cask_release(ts[i]);
    }
    double dt = now() - t0;
    long peak = rss_kb("VmHWM:");
    long pte = rss_kb("VmPTE:"); /* page tables: the kernel's memory, not in RSS */
    struct cask_loop_stats st;
    MUST(cask_loop_stats(&st));
    printf("RESULT %s cask wall_s=%.3f peak_rss_mb=%.1f bytes_per_task=%.0f spawn_s=%.3f "
           "first_run_s=%.3f stack_kib=%zu guard_mode=%d pte_bytes_per_task=%.0f\n",
           s->name, dt, (double)peak / 1024.0, (double)(peak - base) * 1024.0 / (double)s->n,
           t_spawned - t0, t_parked - t_spawned, st.stack_size / 1024, st.guard_mode,
           (double)(pte - pte_base) * 1024.0 / (double)s->n);
    free(ts);
    return 0;
}

/* ---- timers ---- */
static long fired;
static void on_timer(void *arg)
{
    (void)arg;
    fired++;
}
static int timers_main(void *arg)
{
    long n = *(long *)arg;
    double *delays = malloc(sizeof *delays * (size_t)n);
    srand48(42);
    for (long i = 0; i < n; i++)
        delays[i] = drand48();
    double t0 = now();
    for (long i = 0; i < n; i++)
        MUST(cask_call_later(NULL, delays[i], on_timer, NULL));
    double armed = now();
    while (fired < n)
        MUST(cask_sleep(0.01));
    double dt = now() - t0;
    printf("RESULT timers cask wall_ms=%.0f arm_ns=%.1f timers=%ld\n", dt * 1e3,
           (armed - t0) * 1e9 / (double)n, n);
    free(delays);
    return 0;
}

/* Workloads come from the arguments, else from CASK_BENCH_WORKLOADS (bench/run.sh), else all. */
static bool want(int argc, char **argv, const char *name)
{
    if (argc >= 2) {
        for (int i = 1; i < argc; i++)
            if (!strcmp(argv[i], name))
                return true;
        return false;
    }
    const char *env = getenv("CASK_BENCH_WORKLOADS");
    if (!env || !*env)
        return true;
    size_t n = strlen(name);
    for (const char *p = strstr(env, name); p; p = strstr(p + 1, name))
        if ((p == env || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    long n = scale(1000000);
    if (argc == 3 && !strcmp(argv[1], "sleepers")) { /* any N (bench/scale.sh) */
        char name[48];
        snprintf(name, sizeof name, "sleepers_%ld", atol(argv[2]));
        struct sl s = {atol(argv[2]), name};
        /* CASK_BENCH_GUARD_KIB: another guard gap below each stack (to measure what it costs) */
        const char *gap = getenv("CASK_BENCH_GUARD_KIB");
        struct cask_config cfg = {.stack_guard_gap = gap ? (size_t)atol(gap) * 1024 : 0};
        MUST(s.n > 0 ? cask_run_with(sleepers_main, &s, &cfg) : -EINVAL);
        return 0;
    }
    /* compact sleepers: bench/cask_compact.c */
    if (want(argc, argv, "spawn"))
        MUST(cask_run(spawn_main, &n));
    if (want(argc, argv, "switch"))
        MUST(cask_run(switch_main, &n));
    if (want(argc, argv, "switch_future") || want(argc, argv, "switch"))
        MUST(cask_run(fswitch_main, &n));
    if (want(argc, argv, "ctxswitch")) {
        long m = scale(10000000);
        MUST(cask_run(ctx_main, &m));
    }
    if (want(argc, argv, "timers"))
        MUST(cask_run(timers_main, &n));
    if (want(argc, argv, "sleepers_100k")) {
        struct sl s = {100000, "sleepers_100k"};
        MUST(cask_run(sleepers_main, &s));
    }
    if (want(argc, argv, "sleepers_1m") && !getenv("CASK_BENCH_QUICK")) {
        struct sl s = {1000000, "sleepers_1m"};
        MUST(cask_run(sleepers_main, &s));
    }
    return 0;
}

/*
 * cask_compact.c: compact tasks (a shared run stack, live bytes copied out and in), printing
 * RESULT lines for bench/run.sh.
 *
 *   pingpong_256, pingpong_1k, pingpong_4k   two compact tasks taking turns (cask_yield) with
 *                256 B, 1 KiB, 4 KiB of live stack each: ns per switch and bytes copied per
 *                switch; the same with ordinary tasks beside them (no copies)
 *   compact_sleepers_1m   1M compact tasks sleeping 2 s at once, measured as cask_core's
 *                sleepers (wall time, bytes per task from the peak RSS)
 *                ("cask_compact sleepers N" for any N: bench/scale.sh)
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdint.h>

/* ---- ping-pong with live stack ---- */

struct pp {
    long rounds;
    size_t live;
};

#define PP_BODY(SIZE)                                                                          \
    static int turn_##SIZE(void *arg)                                                          \
    {                                                                                          \
        struct pp *p = arg;                                                                    \
        volatile char live[SIZE]; /* live across every switch: copied out and in */            \
        for (size_t i = 0; i < sizeof live; i += 64)                                           \
            live[i] = (char)i;                                                                 \
        for (long r = 0; r < p->rounds; r++)                                                   \
            MUST(cask_yield());                                                                \
        return live[0];                                                                        \
    }
PP_BODY(256)
PP_BODY(1024)
PP_BODY(4096)

static int pp_main(void *arg)
{
    struct pp *p = arg;
    cask_fn fn = p->live == 256 ? turn_256 : p->live == 1024 ? turn_1024 : turn_4096;
    const char *name = p->live == 256 ? "pingpong_256" : p->live == 1024 ? "pingpong_1k" : "pingpong_4k";
    for (int compact = 1; compact >= 0; compact--) {
        struct cask_spawn_opts o = {.compact = compact};
        cask_task *a, *b;
        struct cask_loop_stats s0, s1;
        MUST(cask_loop_stats(&s0));
        double t0 = now();
        MUST(cask_spawn_with(&a, fn, p, &o));
        MUST(cask_spawn_with(&b, fn, p, &o));
        MUST(cask_join(a));
        MUST(cask_join(b));
        double dt = now() - t0;
        MUST(cask_loop_stats(&s1));
        cask_release(a);
        cask_release(b);
        double switches = (double)(s1.switches - s0.switches);
        printf("RESULT %s %s ns_per_switch=%.1f bytes_copied_per_switch=%.0f switches=%.0f "
               "live_bytes=%zu\n",
               name, compact ? "cask_compact" : "cask_ordinary", dt * 1e9 / switches,
               (double)(s1.compact_bytes_copied - s0.compact_bytes_copied) / switches,
               switches, p->live);
    }
    return 0;
}

/* ---- sleepers (as cask_core's, with compact tasks) ---- */

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
    cask_task **ts = malloc(sizeof *ts * (size_t)s->n);
    struct cask_spawn_opts o = {.compact = true};
    double t0 = now();
    for (long i = 0; i < s->n; i++)
        MUST(cask_spawn_with(&ts[i], sleeper, NULL, &o));
    double t_spawned = now();
    MUST(cask_yield()); /* every sleeper runs once and parks in its sleep */
    MUST(cask_yield());
    double t_parked = now();
    struct cask_loop_stats st;
    MUST(cask_loop_stats(&st));
    size_t held = st.compact_bytes_held;
    for (long i = 0; i < s->n; i++) {
        MUST(cask_join(ts[i]));
        cask_release(ts[i]);
    }
    double dt = now() - t0;
    long peak = rss_kb("VmHWM:");
    printf("RESULT %s cask_compact wall_s=%.3f peak_rss_mb=%.1f bytes_per_task=%.0f "
           "spawn_s=%.3f first_run_s=%.3f side_block_bytes_per_task=%.0f\n",
           s->name, dt, (double)peak / 1024.0, (double)(peak - base) * 1024.0 / (double)s->n,
           t_spawned - t0, t_parked - t_spawned, (double)held / (double)s->n);
    free(ts);
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
    if (argc == 3 && !strcmp(argv[1], "sleepers")) { /* any N (bench/scale.sh) */
        char name[48];
        snprintf(name, sizeof name, "sleepers_%ld", atol(argv[2]));
        struct sl s = {atol(argv[2]), name};
        MUST(s.n > 0 ? cask_run(sleepers_main, &s) : -EINVAL);
        return 0;
    }
    long rounds = scale(1000000);
    static const struct {
        const char *name;
        size_t live;
    } pps[] = {{"pingpong_256", 256}, {"pingpong_1k", 1024}, {"pingpong_4k", 4096}};
    for (size_t i = 0; i < sizeof pps / sizeof pps[0]; i++)
        if (want(argc, argv, pps[i].name)) {
            struct pp p = {rounds, pps[i].live};
            MUST(cask_run(pp_main, &p));
        }
    if (want(argc, argv, "compact_sleepers_1m") && !getenv("CASK_BENCH_QUICK")) {
        struct sl s = {1000000, "compact_sleepers_1m"};
        MUST(cask_run(sleepers_main, &s));
    }
    return 0;
}

/* Core peer benchmarks for libuv, the counterpart of aio.py.
 *
 * libuv has callbacks, not tasks, so each workload uses the closest callback shape, written as
 * a libuv programmer would at its best: spawn is an idle handle started per "task" (a callback
 * run on the next loop iteration), from a pool of 1,000 initialized once, in batches of 1,000
 * as every runtime's spawn; the callback stops its handle and counts it joined;
 * switch is two idle handles that start each other, sleepers and timers are one timer
 * handle each. Usage: peer-libuv WORKLOAD [N]; CASK_BENCH_QUICK=1 divides the counts by 10.
 * Prints RESULT <workload> libuv key=value ...; bench/run.sh runs it 3 times.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static long million = 1000000;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long status_kb(const char *field)
{
    char line[256];
    size_t len = strlen(field);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        abort();
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    if (v < 0)
        abort();
    return v;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "peer-libuv: out of memory\n");
        exit(1);
    }
    return p;
}

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "peer-libuv: %s: %s\n", what, uv_strerror(rc));
        exit(1);
    }
}

/* spawn: batches of 1,000 "tasks": each an idle handle (from a pool initialized once, as
 * cask recycles its task structs) started for the next loop iteration; its callback stops it
 * and counts it joined; the loop runs until the batch is done. */
#define SPAWN_BATCH 1000
static uv_idle_t spawn_pool[SPAWN_BATCH];
static long spawn_joined;

static void spawn_run(uv_idle_t *h)
{
    uv_idle_stop(h);
    spawn_joined++;
}

static void spawn_batches(uv_loop_t *loop, long batches)
{
    for (long b = 0; b < batches; b++) {
        for (int i = 0; i < SPAWN_BATCH; i++)
            check(uv_idle_start(&spawn_pool[i], spawn_run), "uv_idle_start");
        check(uv_run(loop, UV_RUN_DEFAULT), "uv_run"); /* returns when every handle stopped */
    }
}

static void bench_spawn(uv_loop_t *loop, long n)
{
    for (int i = 0; i < SPAWN_BATCH; i++)
        check(uv_idle_init(loop, &spawn_pool[i]), "uv_idle_init");
    spawn_batches(loop, 1); /* warm-up */
    spawn_joined = 0;
    long batches = n / SPAWN_BATCH;
    uint64_t t0 = now_ns();
    spawn_batches(loop, batches);
    uint64_t dt = now_ns() - t0;
    n = batches * SPAWN_BATCH;
    if (spawn_joined != n)
        abort();
    printf("RESULT spawn libuv ns_per_task=%.1f batch=%d\n", (double)dt / n, SPAWN_BATCH);
    for (int i = 0; i < SPAWN_BATCH; i++)
        uv_close((uv_handle_t *)&spawn_pool[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* switch: idle handle a starts b and stops itself, b starts a; one a->b->a is a round trip.
 * A handle started during the idle phase runs on the next loop iteration. */
static uv_idle_t idle_a, idle_b;
static long rounds_left;

static void idle_b_cb(uv_idle_t *h);

static void idle_a_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    uv_idle_start(&idle_b, idle_b_cb);
}

static void idle_b_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    if (--rounds_left > 0)
        uv_idle_start(&idle_a, idle_a_cb);
}

static void bench_switch(uv_loop_t *loop, long n)
{
    check(uv_idle_init(loop, &idle_a), "uv_idle_init");
    check(uv_idle_init(loop, &idle_b), "uv_idle_init");
    rounds_left = n;
    uint64_t t0 = now_ns();
    uv_idle_start(&idle_a, idle_a_cb);
    check(uv_run(loop, UV_RUN_DEFAULT), "uv_run");
    uint64_t dt = now_ns() - t0;
    printf("RESULT switch libuv ns_per_roundtrip=%.1f\n", (double)dt / n);
    uv_close((uv_handle_t *)&idle_a, NULL);
    uv_close((uv_handle_t *)&idle_b, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* sleepers: n malloc'ed timer handles of 2000 ms at once; each frees itself when done. */
static void sleeper_closed(uv_handle_t *h)
{
    free(h);
}

static void sleeper_fire(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, sleeper_closed);
}

static void bench_sleepers(uv_loop_t *loop, long n)
{
    char name[64];
    if (n >= 1000000)
        snprintf(name, sizeof name, "sleepers_1m");
    else if (n == 100000)
        snprintf(name, sizeof name, "sleepers_100k");
    else
        snprintf(name, sizeof name, "sleepers_%ld", n);
    long base = status_kb("VmRSS");
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        uv_timer_t *t = xmalloc(sizeof *t);
        check(uv_timer_init(loop, t), "uv_timer_init");
        check(uv_timer_start(t, sleeper_fire, 2000, 0), "uv_timer_start");
    }
    check(uv_run(loop, UV_RUN_DEFAULT), "uv_run");
    uint64_t dt = now_ns() - t0;
    long hwm = status_kb("VmHWM");
    printf("RESULT %s libuv wall_s=%.3f peak_rss_mb=%.1f bytes_per_task=%.1f\n", name, dt / 1e9,
           hwm / 1024.0, (hwm - base) * 1024.0 / n);
}

/* timers: n timer handles with whole-millisecond delays uniform in [0, 1000) ms (libuv's
 * resolution), drawn before timing; only the arming loop is timed for arm_ns. */
static long timers_left;
static uint64_t timers_end;

static void timer_fire(uv_timer_t *t)
{
    (void)t;
    if (--timers_left == 0)
        timers_end = now_ns();
}

static void bench_timers(uv_loop_t *loop, long n)
{
    uv_timer_t *ts = xmalloc(n * sizeof *ts);
    uint64_t *delays = xmalloc(n * sizeof *delays);
    uint64_t seed = 42;
    for (long i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        delays[i] = (seed >> 33) % 1000;
    }
    for (long i = 0; i < n; i++)
        check(uv_timer_init(loop, &ts[i]), "uv_timer_init");
    timers_left = n;
    uv_update_time(loop);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        check(uv_timer_start(&ts[i], timer_fire, delays[i], 0), "uv_timer_start");
    uint64_t t1 = now_ns();
    check(uv_run(loop, UV_RUN_DEFAULT), "uv_run");
    if (timers_left != 0)
        abort();
    printf("RESULT timers libuv wall_ms=%.1f arm_ns=%.1f\n", (timers_end - t0) / 1e6,
           (double)(t1 - t0) / n);
    /* The handles stay initialized (not closed) until exit; the process ends here. */
}

int main(int argc, char **argv)
{
    const char *q = getenv("CASK_BENCH_QUICK");
    if (q && *q && strcmp(q, "0") != 0)
        million = 100000;
    if (argc < 2) {
        fprintf(stderr, "usage: peer-libuv WORKLOAD [N]\n"
                        "workloads: spawn switch sleepers_100k sleepers_1m timers\n");
        return 2;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    uv_loop_t *loop = uv_default_loop();
    const char *w = argv[1];
    if (strcmp(w, "spawn") == 0)
        bench_spawn(loop, n > 0 ? n : million);
    else if (strcmp(w, "switch") == 0)
        bench_switch(loop, n > 0 ? n : million);
    else if (strcmp(w, "sleepers") == 0 || strcmp(w, "sleepers_100k") == 0)
        bench_sleepers(loop, n > 0 ? n : 100000);
    else if (strcmp(w, "sleepers_1m") == 0)
        bench_sleepers(loop, n > 0 ? n : 1000000);
    else if (strcmp(w, "timers") == 0)
        bench_timers(loop, n > 0 ? n : million);
    else {
        fprintf(stderr, "peer-libuv: unknown workload %s\n", w);
        return 2;
    }
    fflush(stdout);
    return 0;
}

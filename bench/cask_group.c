/*
 * cask_group.c: spawn + join of empty tasks through a task group (spawn every task into one
 * group, then close it), through gather (spawn all with handles, gather, release) and plainly
 * (spawn all with handles, join each, release). 1,000,000 tasks (100,000 with
 * CASK_BENCH_QUICK=1). Prints:
 *   RESULT group cask ns_per_task=...
 *   RESULT group_gather cask ns_per_task=...
 *   RESULT spawn_plain_for_group cask ns_per_task=...
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t n_tasks;
static cask_task **handles;
static double ns_group, ns_gather, ns_plain;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int empty(void *arg)
{
    (void)arg;
    return 0;
}

static int run_group(void)
{
    double t0 = now_ns();
    cask_group g;
    int rc = cask_group_open(&g);
    for (size_t i = 0; i < n_tasks && rc == 0; i++)
        rc = cask_group_spawn(&g, NULL, empty, NULL);
    rc = cask_group_close(&g, rc);
    ns_group = (now_ns() - t0) / (double)n_tasks;
    return rc;
}

static int run_gather(void)
{
    double t0 = now_ns();
    int rc = 0;
    for (size_t i = 0; i < n_tasks && rc == 0; i++)
        rc = cask_spawn(&handles[i], empty, NULL);
    if (rc == 0)
        rc = cask_gather(handles, n_tasks, NULL);
    for (size_t i = 0; i < n_tasks; i++)
        cask_release(handles[i]);
    ns_gather = (now_ns() - t0) / (double)n_tasks;
    return rc;
}

static int run_plain(void)
{
    double t0 = now_ns();
    int rc = 0;
    for (size_t i = 0; i < n_tasks && rc == 0; i++)
        rc = cask_spawn(&handles[i], empty, NULL);
    for (size_t i = 0; i < n_tasks; i++) {
        if (rc == 0)
            rc = cask_join(handles[i]);
        cask_release(handles[i]);
    }
    ns_plain = (now_ns() - t0) / (double)n_tasks;
    return rc;
}

static int bench_main(void *arg)
{
    (void)arg;
    /* a warm-up round maps the stacks, so every variant runs from a warm pool */
    int rc = run_plain();
    for (int round = 0; round < 3 && rc == 0; round++) {
        double g = 0, ga = 0, p = 0;
        rc = run_group();
        g = ns_group;
        if (rc == 0)
            rc = run_gather();
        ga = ns_gather;
        if (rc == 0)
            rc = run_plain();
        p = ns_plain;
        /* keep the best of three rounds of each */
        static double bg = 1e18, bga = 1e18, bp = 1e18;
        bg = g < bg ? g : bg;
        bga = ga < bga ? ga : bga;
        bp = p < bp ? p : bp;
        ns_group = bg;
        ns_gather = bga;
        ns_plain = bp;
    }
    return rc;
}

int main(void)
{
    const char *q = getenv("CASK_BENCH_QUICK");
    n_tasks = q && *q && *q != '0' ? 100000 : 1000000;
    handles = malloc(n_tasks * sizeof *handles);
    if (!handles)
        return 1;
    int rc = cask_run(bench_main, NULL);
    free(handles);
    if (rc != 0) {
        fprintf(stderr, "cask_group: %s\n", cask_strerror(rc));
        return 1;
    }
    printf("RESULT group cask ns_per_task=%.1f\n", ns_group);
    printf("RESULT group_gather cask ns_per_task=%.1f\n", ns_gather);
    printf("RESULT spawn_plain_for_group cask ns_per_task=%.1f\n", ns_plain);
    return 0;
}

/*
 * bench.h: what cask's benchmark programs share: the quick-mode scale, a clock, the process's
 * memory figures, and MUST, which stops the program on a failed cask call.
 */
#ifndef CASK_BENCH_H
#define CASK_BENCH_H

#include "cask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* n, or n / 10 when CASK_BENCH_QUICK is set (bench/run.sh --quick). */
static inline long scale(long n)
{
    const char *q = getenv("CASK_BENCH_QUICK");
    return q && *q && *q != '0' ? n / 10 : n;
}

/* Seconds on the monotonic clock. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A field of /proc/self/status in KiB ("VmRSS:", "VmHWM:"), -1 if it cannot be read. */
static inline long rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n))
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

#define MUST(x)                                                                                \
    do {                                                                                       \
        int rc_ = (x);                                                                         \
        if (rc_ < 0) {                                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cask_strerror(rc_));   \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#endif

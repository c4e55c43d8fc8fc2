/*
 * cask_ctx.c: the raw context switch, without the scheduler: two contexts switching to each
 * other directly through the internal cask__ctx_switch. Prints ns per switch.
 */
#define _GNU_SOURCE
#include "../src/internal.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static struct cask__ctx main_ctx, co_ctx;
static long count;

static void co_entry(void *arg)
{
    (void)arg;
    cask__ctx_entered();
    for (;;)
        cask__ctx_switch(&co_ctx, &main_ctx, 0);
}

int main(void)
{
    const char *q = getenv("CASK_BENCH_QUICK");
    count = q && *q && *q != '0' ? 10000000 : 100000000;
    size_t size = 64 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED)
        return 1;
    cask__ctx_thread(&main_ctx);
    cask__ctx_make(&co_ctx, stack, size, co_entry, NULL);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < count; i++)
        cask__ctx_switch(&main_ctx, &co_ctx, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("RESULT ctxswitch_raw cask ns_per_switch=%.2f switches=%ld\n", ns / (2.0 * count),
           2 * count);
    return 0;
}

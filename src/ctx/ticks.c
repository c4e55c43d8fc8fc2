/*
 * ticks.c: a cheap monotonic counter for timestamps taken on hot paths (the trace timeline):
 * the time-stamp counter on x86_64, the virtual counter on aarch64, CLOCK_MONOTONIC in ns
 * elsewhere. Its unit is the machine's; users convert by calibrating against CLOCK_MONOTONIC
 * over the interval they measure (both counters are constant-rate on the machines cask runs
 * on: invariant TSC, the architected aarch64 timer).
 */
#define _GNU_SOURCE
#include "../internal.h"

uint64_t cask__ticks(void)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return cask__clock_ns();
#endif
}

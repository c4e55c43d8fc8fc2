/*
 * test_memory.c: memory after a peak. Stacks and task structs touched at peak concurrency
 * are given back once the loop has idled (idle_stacks_kept, idle_trim_after), resident memory
 * (/proc/self/statm) falls back near where it was, and tasks run as before on the stacks that
 * were given back.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <stdlib.h>
#include <unistd.h>


/* Sanitizers keep shadow memory and fake stacks for every stack a task ran on: the resident
 * size after a peak says nothing about cask there, the pool's own counts still do. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
/* ThreadSanitizer counts each task as a thread: fewer of them there */
#if defined(__SANITIZE_THREAD__)
#define NTASKS 1000
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NTASKS 1000
#endif
#endif
#ifndef NTASKS
#define NTASKS 10000
#endif
#define NSMALL (NTASKS < 10000 ? 100 : 300)

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = -1;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = -1;
        fclose(f);
    }
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Uses about 12 KiB of its stack (three pages), then waits a little. */
static int toucher(void *arg)
{
    volatile char buf[12 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)i;
    int rc = cask_sleep(0.005);
    (void)arg;
    return rc < 0 ? rc : buf[512];
}

static int plain(void *arg)
{
    int *ran = arg;
    volatile char buf[8 * 1024]; /* on a stack that was given back: fresh zero pages */
    buf[0] = 1;
    (*ran)++;
    return buf[0] - 1;
}

struct peak {
    long base, peak, after;
    struct cask_loop_stats at_peak, later;
    int ran_after;
};

static int peak_main(void *arg)
{
    struct peak *p = arg;
    cask_task **ts = malloc(sizeof *ts * NTASKS);
    CHECK(ts != NULL);
    p->base = rss_kib();
    for (int i = 0; i < NTASKS; i++)
        CHECK_EQ(cask_spawn(&ts[i], toucher, NULL), 0);
    for (int i = 0; i < NTASKS; i++) {
        CHECK_EQ(cask_join(ts[i]), 0);
        cask_release(ts[i]);
    }
    free(ts);
    p->peak = rss_kib();
    CHECK_EQ(cask_loop_stats(&p->at_peak), 0);
    /* idle: the trim interval is 20 ms, two of them give everything back */
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(cask_sleep(0.02), 0);
        CHECK_EQ(cask_loop_stats(&p->later), 0);
        if (p->later.stacks_free_resident <= 16 && p->later.task_structs <= 1024)
            break;
    }
    p->after = rss_kib();
    /* tasks run as before on stacks that were given back */
    cask_task *t[100];
    for (int i = 0; i < 100; i++)
        CHECK_EQ(cask_spawn(&t[i], plain, &p->ran_after), 0);
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
    return 0;
}

TEST_T(memory_given_back_after_peak, 60)
{
    struct peak p = {0};
    struct cask_config cfg = {.idle_stacks_kept = 16, .idle_trim_after = 0.02};
    CHECK_EQ(cask_run_with(peak_main, &p, &cfg), 0);
    CHECK_EQ(p.ran_after, 100);
    /* the pool held the peak's stacks, resident, when they had just ended */
    CHECK(p.at_peak.stacks_free >= NTASKS);
    CHECK(p.at_peak.stacks_free_resident >= NTASKS);
    CHECK(p.at_peak.task_structs >= NTASKS);
    /* then gave back all but the 16 warmest stacks and the wholly free task slabs */
    CHECK(p.later.stacks_free >= NTASKS);
    CHECK(p.later.stacks_free_resident <= 16);
    CHECK(p.later.task_structs <= 1024);
    printf("rss KiB: base %ld peak %ld after %ld\n", p.base, p.peak, p.after);
    CHECK(p.base > 0 && p.peak > 0 && p.after > 0);
    if (SANITIZED)
        return;
    /* 10,000 tasks using three pages each (how many of them stay resident depends on the
     * compiler's frame layout: clang's builds show one or two): at least a page each */
    CHECK(p.peak - p.base >= NTASKS * 4);
    /* under an emulator (CI's qemu-user) the resident size also holds the emulator's own
     * translation cache, which grows while the tasks run: the pool's counts above tell */
    const char *runner = getenv("CASK_RUNNER");
    if (runner && *runner)
        return;
    /* resident memory back near the baseline: within a tenth of the peak's growth */
    CHECK(p.after - p.base <= (p.peak - p.base) / 10);
}

/* idle_trim_after < 0: the memory of the peak stays (the old behaviour, for who wants it). */
static int keep_main(void *arg)
{
    struct cask_loop_stats *st = arg;
    cask_task *ts[NSMALL];
    for (int i = 0; i < NSMALL; i++)
        CHECK_EQ(cask_spawn(&ts[i], toucher, NULL), 0);
    for (int i = 0; i < NSMALL; i++) {
        CHECK_EQ(cask_join(ts[i]), 0);
        cask_release(ts[i]);
    }
    CHECK_EQ(cask_sleep(0.1), 0);
    return cask_loop_stats(st);
}
TEST(memory_trim_disabled_keeps_stacks)
{
    struct cask_loop_stats st;
    struct cask_config cfg = {.idle_stacks_kept = 16, .idle_trim_after = -1};
    CHECK_EQ(cask_run_with(keep_main, &st, &cfg), 0);
    CHECK(st.stacks_free >= NSMALL);
    CHECK_EQ(st.stacks_free_resident, st.stacks_free);
}

/* Nothing is given back before a whole trim interval has passed. */
static int busy_main(void *arg)
{
    struct cask_loop_stats *st = arg;
    cask_task *ts[NSMALL];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < NSMALL; i++)
            CHECK_EQ(cask_spawn(&ts[i], toucher, NULL), 0);
        for (int i = 0; i < NSMALL; i++) {
            CHECK_EQ(cask_join(ts[i]), 0);
            cask_release(ts[i]);
        }
    }
    return cask_loop_stats(st);
}
TEST(memory_kept_until_the_interval_passes)
{
    struct cask_loop_stats st;
    /* a trim interval far longer than the test: nothing may be given back in between */
    struct cask_config cfg = {.idle_stacks_kept = 16, .idle_trim_after = 30};
    CHECK_EQ(cask_run_with(busy_main, &st, &cfg), 0);
    CHECK(st.stacks_free >= NSMALL);
    CHECK_EQ(st.stacks_free_resident, st.stacks_free);
}

static int nop_main(void *arg)
{
    (void)arg;
    return 0;
}
TEST(memory_config_guard_gap_checked)
{
    struct cask_config cfg = {.stack_guard_gap = (size_t)1 << 40};
    CHECK_EQ(cask_run_with(nop_main, NULL, &cfg), -EINVAL);
    cfg.stack_guard_gap = 1 << 20;
    CHECK_EQ(cask_run_with(nop_main, NULL, &cfg), 0);
}

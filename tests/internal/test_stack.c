/* test_stack.c: the stack pool and the context switch (white-box): reuse, guards, the
 * floating-point control state kept per context, overflow reporting. */
#define _GNU_SOURCE
#include "../cask_test.h"
#include "internal.h"

#include <fenv.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(stack_pool_reuse)
{
    struct cask__stack_pool *p;
    CHECK_EQ(cask__stack_pool_new(&p, 64 * 1024, 4096), 0);
    struct cask__stack a, b, c;
    CHECK_EQ(cask__stack_get(p, &a), 0);
    CHECK_EQ(cask__stack_get(p, &b), 0);
    CHECK(a.lo != b.lo);
    CHECK_EQ(a.hi - a.lo, 64 * 1024 - 4096);
    memset(a.lo, 0xab, (size_t)(a.hi - a.lo)); /* the whole usable range is writable */
    cask__stack_put(p, &a);
    CHECK_EQ(cask__stack_get(p, &c), 0);
    CHECK(c.lo == a.lo); /* the most recently freed stack comes back first (warm) */
    CHECK_EQ(cask__stack_pool_mapped(p), 2);
    for (int i = 0; i < 200; i++) { /* more than one chunk */
        struct cask__stack s;
        CHECK_EQ(cask__stack_get(p, &s), 0);
        s.hi[-1] = 1;
    }
    CHECK_EQ(cask__stack_pool_mapped(p), 202);
    cask__stack_pool_free(p);
}

TEST(stack_guard_page_faults)
{
    /* writing just below a stack hits its guard page (kernel 6.13+ or mprotect fallback) */
    pid_t pid = fork();
    if (pid == 0) {
        struct cask__stack_pool *p;
        if (cask__stack_pool_new(&p, 64 * 1024, 4096))
            _exit(2);
        struct cask__stack s;
        if (cask__stack_get(p, &s))
            _exit(2);
        if (cask__stack_guard_mode() == 0)
            _exit(3);
        signal(SIGSEGV, SIG_DFL);
        volatile char *below = s.lo - 1;
        *below = 1;
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGSEGV);
}

/* The context switch keeps callee-saved registers, the FP rounding mode and SSE control state
 * per context: each task sets its own rounding and checks it after many switches. */
struct fp_arg {
    int mode;
    double acc;
    int ok;
};
static int fp_task(void *p)
{
    struct fp_arg *a = p;
    fesetround(a->mode);
    volatile double x = 1.0, y = 3.0;
    double first = x / y;
    for (int i = 0; i < 1000; i++) {
        if (cask_yield())
            return -1;
        if (fegetround() != a->mode)
            return -2;
        double again = x / y; /* same rounding, same bits */
        if (again != first)
            return -3;
        a->acc += again;
    }
    a->ok = 1;
    return 0;
}
static int fp_main(void *p)
{
    (void)p;
    struct fp_arg args[3] = {{FE_UPWARD, 0, 0}, {FE_DOWNWARD, 0, 0}, {FE_TONEAREST, 0, 0}};
    cask_task *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], fp_task, &args[i]), 0);
    int st[3];
    CHECK_EQ(cask_gather(t, 3, st), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(st[i], 0);
        CHECK_EQ(args[i].ok, 1);
        cask_release(t[i]);
    }
    CHECK(fegetround() == FE_TONEAREST); /* the main task's mode was untouched */
    /* upward and downward rounding of 1/3 differ in the last bit */
    CHECK(args[0].acc != args[1].acc);
    return 0;
}
TEST(ctx_fp_state_per_task) { CHECK_EQ(ct_run_virtual(fp_main, NULL), 0); }

/* Callee-saved registers survive switches: many live values across yields in deep frames. */
static long deep(int depth, long seed)
{
    long a = seed * 3 + 1, b = seed ^ 0x5555, c = seed + depth, d = seed * 7;
    if (depth == 0) {
        if (cask_yield())
            return -1;
        return a + b + c + d;
    }
    long r = deep(depth - 1, a + b);
    if (cask_yield())
        return -1;
    return r + a - b + c - d;
}
static int reg_task(void *p)
{
    long *out = p;
    *out = deep(20, *out);
    return 0;
}
static int reg_main(void *p)
{
    (void)p;
    long expect[4], got[4];
    for (int i = 0; i < 4; i++) {
        expect[i] = got[i] = i * 1000 + 17;
    }
    /* the same computation without any other task interleaved */
    cask_task *t[4];
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(cask_spawn(&t[i], reg_task, &expect[i]), 0);
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(cask_spawn(&t[i], reg_task, &got[i]), 0);
    CHECK_EQ(cask_gather(t, 4, NULL), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(got[i], expect[i]);
        cask_release(t[i]);
    }
    return 0;
}
TEST(ctx_registers_preserved) { CHECK_EQ(ct_run_virtual(reg_main, NULL), 0); }

/* Overflow: a task that recurses without bound is reported by name, then the process aborts. */
static volatile int depth_limit = 1 << 30; /* never reached: the stack ends first */
static int recurse(int n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    if (n >= depth_limit)
        return 0;
    return recurse(n + 1) + buf[0];
}
static int overflow_task(void *p)
{
    (void)p;
    return recurse(0);
}
static int overflow_main(void *p)
{
    (void)p;
    cask_task *t;
    struct cask_spawn_opts o = {.name = "deep-diver", .stack_size = 32 * 1024};
    CHECK_EQ(cask_spawn_with(&t, overflow_task, NULL, &o), 0);
    return cask_join(t);
}
TEST(stack_overflow_reported)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        cask_run(overflow_main, NULL);
        _exit(0);
    }
    close(fds[1]);
    char buf[512] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGABRT);
    CHECK(strstr(buf, "cask: task 'deep-diver' overflowed its 32768-byte stack") != NULL);
}

/* A frame far wider than a guard page (a 200 KB local array on a 64 KiB stack, built without
 * -fstack-clash-protection) lands in the guard gap below the stack, or elsewhere in the stack
 * arena: it is reported by name, never a plain SIGSEGV nor a write into a neighbour. */
static volatile int big_index;
__attribute__((noinline)) static int big_frame(int n)
{
    volatile char big[200 * 1024];
    big[big_index] = (char)n; /* the lowest byte of the frame, 200 KB below its top */
    big[sizeof big - 1] = (char)n;
    return big[big_index] + big[sizeof big - 1];
}
static int big_task(void *p)
{
    (void)p;
    return big_frame(1);
}
static int neighbour_task(void *p)
{
    (void)p;
    for (;;)
        if (cask_sleep(1) < 0)
            return 0;
}
static int big_main(void *p)
{
    (void)p;
    /* neighbours on both sides in the arena, parked */
    cask_task *n[8];
    for (int i = 0; i < 8; i++)
        if (cask_spawn(&n[i], neighbour_task, NULL))
            return -1;
    if (cask_yield())
        return -1;
    cask_task *t;
    struct cask_spawn_opts o = {.name = "wide-frame", .stack_size = 64 * 1024};
    if (cask_spawn_with(&t, big_task, NULL, &o))
        return -1;
    return cask_join(t);
}
static void expect_report(cask_fn fn, const char *want)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        cask_run(fn, NULL);
        _exit(0);
    }
    close(fds[1]);
    char buf[1024] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (!strstr(buf, want))
        printf("stderr: %s\n", buf);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGABRT);
    CHECK(strstr(buf, want) != NULL);
}
TEST(stack_overflow_wide_frame_reported)
{
    expect_report(big_main, "cask: task 'wide-frame' overflowed its 65536-byte stack");
}

/* The pool's free slots are given back (their pages read as zero again), their guards stay,
 * and only slots nobody took for a whole interval beyond the kept ones go. */
TEST(stack_pool_trim)
{
    struct cask__stack_pool *p;
    CHECK_EQ(cask__stack_pool_new(&p, 64 * 1024, 4096), 0);
    struct cask__stack s[40];
    for (int i = 0; i < 40; i++) {
        CHECK_EQ(cask__stack_get(p, &s[i]), 0);
        memset(s[i].hi - 8192, 0x5a, 8192);
    }
    for (int i = 0; i < 40; i++)
        cask__stack_put(p, &s[i]);
    CHECK(cask__stack_pool_trimmable(p, 8));
    /* first trim: the slots were all taken since the pool began, nothing goes */
    CHECK_EQ(cask__stack_pool_trim(p, 8), 0);
    CHECK_EQ(cask__stack_pool_resident_free(p), 40);
    /* tasks take the ten warmest in between: those stay, the 30 below them go */
    struct cask__stack a[10];
    for (int i = 0; i < 10; i++)
        CHECK_EQ(cask__stack_get(p, &a[i]), 0);
    for (int i = 9; i >= 0; i--)
        cask__stack_put(p, &a[i]);
    CHECK_EQ(cask__stack_pool_trim(p, 8), 30);
    CHECK_EQ(cask__stack_pool_resident_free(p), 10);
    /* a whole interval later, untouched: all but the 8 kept go */
    CHECK_EQ(cask__stack_pool_trim(p, 8), 2);
    CHECK_EQ(cask__stack_pool_resident_free(p), 8);
    CHECK(!cask__stack_pool_trimmable(p, 8));
    CHECK_EQ(cask__stack_pool_trimmed(p), 32);
    /* the coldest slot was given back: zero again; the warmest kept its bytes */
    CHECK_EQ(s[0].hi[-1], 0);
    CHECK_EQ(a[0].hi[-1], 0x5a);
    /* taking slots that were given back works, and they count as resident no more */
    struct cask__stack c[39];
    for (int i = 0; i < 39; i++) {
        CHECK_EQ(cask__stack_get(p, &c[i]), 0);
        c[i].hi[-1] = 1;
    }
    CHECK_EQ(cask__stack_pool_resident_free(p), 0);
    CHECK_EQ(cask__stack_pool_mapped(p), 40);
    cask__stack_pool_free(p);
}

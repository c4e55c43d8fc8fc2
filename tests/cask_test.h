/*
 * cask_test.h: the test harness. Each TEST runs in its own forked process with a time limit,
 * with a counting allocator installed: a test passes only if it also frees everything it
 * allocated. Assertions print the expression and both values with file:line.
 */
#ifndef CASK_TEST_H
#define CASK_TEST_H

#include "cask.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ct_case {
    const char *name;
    void (*fn)(void);
    int timeout_s;
    struct ct_case *next;
};
void ct_register(struct ct_case *c);

#define TEST_T(name, secs)                                                                     \
    static void name(void);                                                                    \
    static struct ct_case name##_case = {#name, name, secs, NULL};                             \
    __attribute__((constructor)) static void name##_reg(void) { ct_register(&name##_case); }   \
    static void name(void)
#define TEST(name) TEST_T(name, 20)

__attribute__((noreturn, format(printf, 3, 4))) void ct_fail(const char *file, int line,
                                                             const char *fmt, ...);

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            ct_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                            \
    } while (0)
#define CHECK_EQ(a, b)                                                                         \
    do {                                                                                       \
        long long ct_a_ = (long long)(a), ct_b_ = (long long)(b);                              \
        if (ct_a_ != ct_b_)                                                                    \
            ct_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s) failed: %lld != %lld", #a, #b,       \
                    ct_a_, ct_b_);                                                             \
    } while (0)
#define CHECK_STR(a, b)                                                                        \
    do {                                                                                       \
        const char *ct_a_ = (a), *ct_b_ = (b);                                                 \
        if (strcmp(ct_a_, ct_b_) != 0)                                                         \
            ct_fail(__FILE__, __LINE__, "CHECK_STR(%s, %s) failed:\n  got:  \"%s\"\n  want: \"%s\"", \
                    #a, #b, ct_a_, ct_b_);                                                     \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                  \
    do {                                                                                       \
        double ct_a_ = (a), ct_b_ = (b);                                                       \
        if (fabs(ct_a_ - ct_b_) > (tol))                                                       \
            ct_fail(__FILE__, __LINE__, "CHECK_NEAR(%s, %s) failed: %g vs %g (tol %g)", #a, #b, \
                    ct_a_, ct_b_, (double)(tol));                                              \
    } while (0)

/* An append-only log for order checks: ct_log("a"); CHECK_LOG("a,b"). */
void ct_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ct_log_get(void);
void ct_log_reset(void);
#define CHECK_LOG(want) CHECK_STR(ct_log_get(), want)

/* The counting allocator: live allocations, and failing allocations on purpose. */
long ct_allocs_live(void);
long ct_allocs_total(void);
/* The n-th allocation from now fails (1: the next one); 0 turns it off. */
void ct_fail_alloc_after(long n);
/* Every n-th allocation fails from now on; 0 turns it off. */
void ct_fail_alloc_every(long n);
/* The test's check that everything was freed is skipped (for tests that leak on purpose). */
void ct_skip_leak_check(void);

/* Runs fn on a virtual-clock loop and returns its status. */
int ct_run_virtual(cask_fn fn, void *arg);

#endif

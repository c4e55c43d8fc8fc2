/* test_barrier.c: cask_barrier (CONFORMANCE B1). */
#define _GNU_SOURCE
#include "cask_test.h"

struct bparty {
    cask_barrier *b;
    int status;
    unsigned index;
    int rounds;
};

static int party(void *arg)
{
    struct bparty *p = arg;
    for (int i = 0; i < p->rounds; i++) {
        p->index = 99;
        p->status = cask_barrier_wait(p->b, &p->index);
        if (p->status < 0)
            return p->status;
    }
    return 0;
}

static void check_distinct(struct bparty *p, int n)
{
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        CHECK_EQ(p[i].status, 0);
        CHECK(p[i].index < (unsigned)n);
        CHECK(!(seen & (1u << p[i].index)));
        seen |= 1u << p[i].index;
    }
}

/* B1: distinct indices 0..N-1, several rounds. */
static int b1_main(void *arg)
{
    (void)arg;
    static cask_barrier b = CASK_BARRIER_INIT(4);
    struct bparty p[4];
    cask_task *t[4];
    CHECK_EQ(cask_barrier_parties(&b), 4);
    for (int i = 0; i < 4; i++) {
        p[i] = (struct bparty){&b, 0, 0, 3};
        CHECK_EQ(cask_spawn(&t[i], party, &p[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
    check_distinct(p, 4);
    CHECK_EQ(cask_barrier_n_waiting(&b), 0);
    CHECK(!cask_barrier_broken(&b));
    return 0;
}
TEST(b1_distinct_indices) { CHECK_EQ(ct_run_virtual(b1_main, NULL), 0); }

/* B1: reset and abort break the waiters; abort leaves it broken until reset. */
static int b1_reset_main(void *arg)
{
    (void)arg;
    cask_barrier b;
    CHECK_EQ(cask_barrier_init(&b, 0), -EINVAL);
    CHECK_EQ(cask_barrier_init(&b, 3), 0);
    struct bparty p[3];
    cask_task *t[3];
    for (int i = 0; i < 2; i++) {
        p[i] = (struct bparty){&b, 0, 0, 1};
        CHECK_EQ(cask_spawn(&t[i], party, &p[i]), 0);
    }
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_barrier_n_waiting(&b), 2);
    cask_barrier_reset(&b);
    CHECK_EQ(cask_barrier_n_waiting(&b), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(cask_join(t[i]), -EPIPE);
        cask_release(t[i]);
    }
    CHECK(!cask_barrier_broken(&b));
    /* abort */
    for (int i = 0; i < 2; i++) {
        p[i] = (struct bparty){&b, 0, 0, 1};
        CHECK_EQ(cask_spawn(&t[i], party, &p[i]), 0);
    }
    CHECK_EQ(cask_yield(), 0);
    cask_barrier_abort(&b);
    CHECK(cask_barrier_broken(&b));
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(cask_join(t[i]), -EPIPE);
        cask_release(t[i]);
    }
    CHECK_EQ(cask_barrier_wait(&b, NULL), -EPIPE);
    cask_barrier_reset(&b);
    CHECK(!cask_barrier_broken(&b));
    /* usable again */
    for (int i = 0; i < 3; i++) {
        p[i] = (struct bparty){&b, 0, 0, 1};
        CHECK_EQ(cask_spawn(&t[i], party, &p[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
    check_distinct(p, 3);
    return 0;
}
TEST(b1_reset_abort) { CHECK_EQ(ct_run_virtual(b1_reset_main, NULL), 0); }

/* B1: a cancelled waiter leaves the barrier consistent: it needs one more party. */
static int b1_cancel_main(void *arg)
{
    (void)arg;
    cask_barrier b = CASK_BARRIER_INIT(3);
    struct bparty p[4];
    cask_task *t[4];
    for (int i = 0; i < 2; i++) {
        p[i] = (struct bparty){&b, 0, 0, 1};
        CHECK_EQ(cask_spawn(&t[i], party, &p[i]), 0);
    }
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_cancel(t[0]));
    CHECK_EQ(cask_barrier_n_waiting(&b), 1);
    for (int i = 2; i < 4; i++) {
        p[i] = (struct bparty){&b, 0, 0, 1};
        CHECK_EQ(cask_spawn(&t[i], party, &p[i]), 0);
    }
    CHECK_EQ(cask_join(t[0]), -ECANCELED);
    for (int i = 1; i < 4; i++)
        CHECK_EQ(cask_join(t[i]), 0);
    for (int i = 0; i < 4; i++)
        cask_release(t[i]);
    check_distinct(p + 1, 3);
    CHECK_EQ(cask_barrier_n_waiting(&b), 0);
    /* a timeout around a wait */
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.1), 0);
    int rc = cask_barrier_wait(&b, NULL);
    CHECK_EQ(cask_scope_close(&sc, rc), -ETIMEDOUT);
    CHECK_EQ(cask_barrier_n_waiting(&b), 0);
    return 0;
}
TEST(b1_cancelled_waiter_consistent)
{
    cask_barrier b = CASK_BARRIER_INIT(2);
    CHECK_EQ(cask_barrier_wait(&b, NULL), -EPERM);
    CHECK_EQ(ct_run_virtual(b1_cancel_main, NULL), 0);
}

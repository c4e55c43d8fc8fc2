/*
 * test_group_fuzz.c: random trees of groups, sleeps, failures, cancellations, group cancels,
 * timeouts and wait_for, built from a seed and run on the virtual clock. Invariants checked:
 * every task ends and is joined (handle checked and released) exactly once, no child ends
 * after its group closed, every close/wait_for status follows from what happened, nothing is
 * left allocated. A failing seed is printed; replay it with CASK_FUZZ_SEED=N (and choose the
 * number of seeds with CASK_FUZZ_SEEDS=N).
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <signal.h>
#include <unistd.h>

/* ThreadSanitizer makes every fiber switch and loop costly: fewer seeds there */
#if defined(__SANITIZE_THREAD__)
#define DEFAULT_SEEDS 300
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DEFAULT_SEEDS 300
#endif
#endif
#ifndef DEFAULT_SEEDS
#define DEFAULT_SEEDS 10000
#endif

static unsigned long cur_seed;
/* what the seeds exercised, printed with CASK_FUZZ_STATS=1 */
static struct {
    long nodes, started, failed, cancelled, refused, closes_failed, closes_cancelled,
        timeouts;
} stats;

#define FZ_CHECK(cond)                                                                         \
    do {                                                                                       \
        if (!(cond))                                                                           \
            ct_fail(__FILE__, __LINE__, "CHECK(%s) failed (replay: CASK_FUZZ_SEED=%lu)",       \
                    #cond, cur_seed);                                                          \
    } while (0)
#define FZ_EQ(a, b)                                                                            \
    do {                                                                                       \
        long long fz_a_ = (long long)(a), fz_b_ = (long long)(b);                              \
        if (fz_a_ != fz_b_)                                                                    \
            ct_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld (CASK_FUZZ_SEED=%lu)", \
                    #a, fz_a_, #b, fz_b_, cur_seed);                                           \
    } while (0)

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

enum { LEAF, GROUP, WAITFOR };
#define MAXN 48
#define MAXK 5

struct node {
    int id, kind;
    double sleep;        /* leaf: how long it works; group: the block's own wait */
    int fail;            /* leaf: fails with this after its sleep; group: the block fails */
    bool handles_cancel; /* leaf: acknowledges a cancellation and returns 0 */
    double timeout;      /* group: a timeout scope around it (0: none); waitfor: the limit */
    bool cancel_group;   /* group: the block cancels its own group */
    double spawn_gap;    /* group: sleep between spawns */
    int nkids;
    struct node *kids[MAXK];
    struct node *parent;
    /* what happened */
    cask_task *task;
    bool spawned, started, ended;
    int status;
    bool group_open;
    cask_scope *scope; /* group: the timeout scope around it, while open */
    int failures[MAXN + 1]; /* group: failures of its children, in the order they ended */
    int nfail;
};

static struct node nodes[MAXN];
static int nnodes;

static struct node *gen(struct node *parent, int depth)
{
    if (nnodes == MAXN)
        return NULL;
    struct node *n = &nodes[nnodes];
    memset(n, 0, sizeof *n);
    n->id = nnodes++;
    n->parent = parent;
    uint32_t r = rnd(10);
    n->kind = depth == 0 ? GROUP : depth >= 4 || r < 5 ? LEAF : r < 8 ? GROUP : WAITFOR;
    n->sleep = 0.01 * rnd(30);
    switch (n->kind) {
    case LEAF:
        n->fail = rnd(8) == 0 ? CASK_EUSER - n->id : 0;
        n->handles_cancel = rnd(6) == 0;
        break;
    case GROUP:
        n->fail = rnd(12) == 0 ? CASK_EUSER - n->id : 0;
        n->timeout = rnd(6) == 0 ? 0.01 * rnd(40) : 0;
        n->cancel_group = rnd(15) == 0;
        n->spawn_gap = rnd(2) == 0 ? 0.01 * rnd(5) : 0;
        n->nkids = depth == 0 ? 3 + (int)rnd(MAXK - 2) : (int)rnd(MAXK + 1);
        for (int i = 0; i < n->nkids; i++) {
            n->kids[i] = gen(n, depth + 1);
            if (!n->kids[i]) {
                n->nkids = i;
                break;
            }
        }
        break;
    default: /* WAITFOR: one leaf child, not in a group, joined with wait_for */
        n->timeout = rnd(4) == 0 ? 0 : 0.01 * rnd(40);
        n->nkids = 1;
        n->kids[0] = gen(n, 5);
        if (!n->kids[0]) {
            n->kind = LEAF;
            n->nkids = 0;
        }
        break;
    }
    return n;
}

static int run_node(void *arg);

static bool group_failed(const struct node *n) { return n->nfail > 0; }

static void node_ended(struct node *n, int status)
{
    n->ended = true;
    n->status = status;
    struct node *p = n->parent;
    if (p && p->kind == GROUP) {
        FZ_CHECK(p->group_open); /* no task outlives its group */
        if (status < 0 && status != -ECANCELED)
            p->failures[p->nfail++] = status;
    }
}

static int leaf(struct node *n)
{
    int rc = cask_sleep(n->sleep);
    if (rc == -ECANCELED && n->handles_cancel) {
        FZ_CHECK(cask_uncancel(cask_current()) >= 0);
        if (cask_cancelling(cask_current()) == 0)
            rc = 0;
    }
    if (rc == 0 && n->fail)
        rc = n->fail;
    return rc;
}

static int group_body(struct node *n)
{
    cask_group g;
    cask_task *self = cask_current();
    FZ_EQ(cask_group_open(&g), 0);
    n->group_open = true;
    bool cancelled_group = false;
    int rc = 0;
    for (int i = 0; i < n->nkids && rc == 0; i++) {
        struct node *k = n->kids[i];
        if (n->spawn_gap > 0)
            rc = cask_sleep(n->spawn_gap);
        if (rc)
            break;
        bool aborted = group_failed(n) || cancelled_group;
        int s = cask_group_spawn(&g, &k->task, run_node, k);
        if (aborted) {
            stats.refused++;
            FZ_EQ(s, -ESHUTDOWN);
            FZ_CHECK(k->task == NULL);
        } else {
            FZ_EQ(s, 0);
            k->spawned = true;
        }
    }
    if (rc == 0)
        rc = cask_sleep(n->sleep);
    if (rc == 0 && n->cancel_group) {
        FZ_EQ(cask_group_cancel(&g), 0);
        cancelled_group = true;
        rc = cask_yield();
        FZ_EQ(rc, -ECANCELED);
    }
    if (rc == 0 && n->fail)
        rc = n->fail;
    int body = rc;
    if (body < 0 && body != -ECANCELED)
        n->failures[n->nfail++] = body; /* close records the block's failure first */
    int crc = cask_group_close(&g, body);
    n->group_open = false;
    /* every child has ended */
    FZ_EQ(cask_group_size(&g), 0);
    for (int i = 0; i < n->nkids; i++) {
        struct node *k = n->kids[i];
        if (!k->spawned)
            continue;
        FZ_CHECK(cask_task_done(k->task));
        FZ_CHECK(k->ended || !k->started);
        if (!k->started)
            FZ_CHECK(cask_task_cancelled(k->task));
    }
    /* the status follows from what happened */
    int errs[CASK_GROUP_MAX_ERRORS];
    size_t ne = cask_group_errors(&g, errs, CASK_GROUP_MAX_ERRORS);
    FZ_EQ(ne, n->nfail);
    for (size_t i = 0; i < ne && i < CASK_GROUP_MAX_ERRORS; i++)
        FZ_EQ(errs[i], n->failures[i]);
    stats.closes_failed += n->nfail > 0;
    stats.closes_cancelled += crc == -ECANCELED;
    if (n->nfail)
        FZ_EQ(crc, n->failures[0]);
    else if (cask_cancelling(self) > 0 || (n->scope && cask_scope_expired(n->scope)))
        FZ_EQ(crc, -ECANCELED);
    else if (cancelled_group)
        FZ_EQ(crc, 0);
    else
        FZ_EQ(crc, body);
    return crc;
}

static int waitfor_body(struct node *n)
{
    struct node *k = n->kids[0];
    int s = cask_spawn(&k->task, run_node, k);
    FZ_EQ(s, 0);
    k->spawned = true;
    int rc = cask_wait_for(k->task, n->timeout);
    if (!cask_task_done(k->task)) {
        /* the caller was cancelled on entry: t untouched; finish it, shielded */
        FZ_EQ(rc, -ECANCELED);
        cask_cancel(k->task);
        cask_scope sh;
        FZ_EQ(cask_shield_open(&sh), 0);
        int jr = cask_join(k->task);
        FZ_EQ(cask_scope_close(&sh, jr), jr);
        return rc;
    }
    FZ_CHECK(k->ended || !k->started);
    int st;
    FZ_EQ(cask_task_status(k->task, &st), 0);
    stats.timeouts += rc == -ETIMEDOUT;
    if (rc == -ETIMEDOUT)
        FZ_EQ(st, -ECANCELED);
    else
        FZ_EQ(rc, st);
    return rc;
}

static int run_node(void *arg)
{
    struct node *n = arg;
    FZ_CHECK(!n->started);
    n->started = true;
    int rc;
    if (n->kind == LEAF) {
        rc = leaf(n);
    } else if (n->kind == WAITFOR) {
        rc = waitfor_body(n);
    } else if (n->timeout > 0) {
        cask_scope sc;
        FZ_EQ(cask_timeout_open(&sc, n->timeout), 0);
        n->scope = &sc;
        rc = group_body(n);
        n->scope = NULL;
        bool fired = cask_scope_expired(&sc);
        int sr = cask_scope_close(&sc, rc);
        if (fired && rc == -ECANCELED && cask_cancelling(cask_current()) == 0)
            FZ_EQ(sr, -ETIMEDOUT);
        else
            FZ_EQ(sr, rc);
        rc = sr;
    } else {
        rc = group_body(n);
    }
    node_ended(n, rc);
    return rc;
}

/* Cancels random node tasks at random times. */
static int chaos(void *arg)
{
    int k = *(int *)arg;
    for (int i = 0; i < k; i++) {
        if (cask_sleep(0.01 * rnd(40)) < 0)
            return 0;
        struct node *n = &nodes[rnd((uint32_t)nnodes)];
        if (n->task)
            cask_cancel(n->task);
    }
    return 0;
}

static int fuzz_main(void *arg)
{
    (void)arg;
    struct node *root = &nodes[0];
    FZ_EQ(cask_spawn(&root->task, run_node, root), 0);
    root->spawned = true;
    int ncancels = (int)rnd(3);
    cask_task *c;
    FZ_EQ(cask_spawn(&c, chaos, &ncancels), 0);
    int rc = cask_join(root->task);
    FZ_CHECK(cask_task_done(root->task));
    FZ_EQ(rc, root->ended ? root->status : -ECANCELED);
    cask_cancel(c);
    FZ_EQ(cask_join(c), cask_task_cancelled(c) ? -ECANCELED : 0);
    cask_release(c);
    /* every task ended; each handle released exactly once */
    for (int i = 0; i < nnodes; i++) {
        struct node *n = &nodes[i];
        if (!n->spawned) {
            FZ_CHECK(!n->started && n->task == NULL);
            continue;
        }
        FZ_CHECK(cask_task_done(n->task));
        FZ_CHECK(n->started == n->ended);
        stats.nodes++;
        stats.started += n->started;
        stats.failed += n->ended && n->status < 0 && n->status != -ECANCELED;
        stats.cancelled += cask_task_cancelled(n->task);
        cask_release(n->task);
        n->task = NULL;
    }
    FZ_EQ(cask_all_tasks(NULL, 0), 1);
    return 0;
}

static void on_signal(int sig)
{
    char buf[96];
    int len = snprintf(buf, sizeof buf, "  signal %d in fuzz seed %lu (CASK_FUZZ_SEED=%lu)\n",
                       sig, cur_seed, cur_seed);
    ssize_t w = write(2, buf, (size_t)len);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_seed(unsigned long seed)
{
    cur_seed = seed;
    rng = seed * 0x9E3779B97F4A7C15ull + 1;
    nnodes = 0;
    gen(NULL, 0);
    long live = ct_allocs_live();
    struct cask_config cfg = {.virtual_clock = true, .eager_tasks = seed % 4 == 0};
    FZ_EQ(cask_run_with(fuzz_main, NULL, &cfg), 0);
    FZ_EQ(ct_allocs_live(), live); /* nothing left allocated */
}

TEST_T(group_fuzz, 60)
{
    signal(SIGABRT, on_signal);
    signal(SIGALRM, on_signal);
    const char *one = getenv("CASK_FUZZ_SEED");
    if (one) {
        run_seed(strtoul(one, NULL, 10));
        return;
    }
    const char *ns = getenv("CASK_FUZZ_SEEDS");
    unsigned long n = ns ? strtoul(ns, NULL, 10) : DEFAULT_SEEDS;
    for (unsigned long s = 1; s <= n; s++)
        run_seed(s);
    if (getenv("CASK_FUZZ_STATS"))
        printf("  %lu seeds: %ld tasks, %ld ran, %ld failed, %ld cancelled, %ld spawns refused, "
               "%ld closes failed, %ld closes cancelled, %ld wait_for timeouts\n",
               n, stats.nodes, stats.started, stats.failed, stats.cancelled, stats.refused,
               stats.closes_failed, stats.closes_cancelled, stats.timeouts);
}

/*
 * test_sync_fuzz.c: randomized tests of the synchronization primitives on the virtual clock.
 * Each seed builds a small scenario (a few tasks doing random operations, some under timeout
 * scopes, while a chaos task cancels them at random moments) and checks it against a simple
 * model as it runs: a lock held by at most one task (a semaphore by at most its value), grants
 * in FIFO order among waiters not cancelled, no lost wakeup (everything finishes: a task left
 * waiting forever fails the run), and for queues that every get returns exactly the item the
 * model says (FIFO front, LIFO back, priority minimum), so nothing is lost or duplicated.
 * A failure prints its seed. CASK_FUZZ_SEED=n runs one seed, CASK_FUZZ_SEEDS=n sets the count.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <stdint.h>

#define MAXT 8

static unsigned g_seed;
static const char *g_what;

#define FZ_CHECK(cond)                                                                         \
    do {                                                                                       \
        if (!(cond))                                                                           \
            ct_fail(__FILE__, __LINE__, "%s seed %u: CHECK(%s) failed", g_what, g_seed,        \
                    #cond);                                                                    \
    } while (0)

/* ---- randomness and the shared harness ---- */

static uint64_t g_rng;
static long g_stat_waited, g_stat_cancelled, g_stat_ok; /* reported with CASK_FUZZ_STATS=1 */
static void stat_rc(int rc)
{
    if (rc == 0)
        g_stat_ok++;
    else if (rc == -ECANCELED || rc == -ETIMEDOUT)
        g_stat_cancelled++;
}
static uint32_t rnd(uint32_t n) /* uniform-ish in [0, n) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)((g_rng >> 16) % n);
}
static bool chance(uint32_t percent) { return rnd(100) < percent; }

struct fz {
    int ntasks;
    cask_task *t[MAXT];
    bool cancel_marked[MAXT]; /* chaos cancelled it and it has not acknowledged yet */
    double deadline[MAXT];    /* the timeout scope around its blocking call, or INFINITY */
    int ops;                  /* operations per task */
    bool workers_done;
    double calm_at; /* no more cancels or timeouts from then on: a lost wakeup then hangs */
    unsigned protect; /* tasks chaos never cancels and that never time out (bit mask) */
    bool through_calm; /* producers go on after the calm point */
};
static struct fz F;

/* Sleeps a random short while (often 0: a yield). Returns the sleep's status. */
static int jitter(void)
{
    static const double d[] = {0, 0, 0, 0.001, 0.002, 0.005};
    return cask_sleep(d[rnd(6)]);
}

/* Acknowledges every pending cancellation of task i. */
static void ack_cancel(int i)
{
    while (cask_uncancel(cask_current()) > 0)
        ;
    F.cancel_marked[i] = false;
}

/* Opens a timeout scope around a blocking call with some probability. */
static bool maybe_timeout(int i, cask_scope *sc)
{
    F.deadline[i] = INFINITY;
    if (!chance(25) || cask_time() >= F.calm_at || (F.protect >> i & 1))
        return false;
    double d = 0.001 * (double)rnd(6);
    FZ_CHECK(cask_timeout_open(sc, d) == 0);
    F.deadline[i] = cask_scope_deadline(sc);
    return true;
}

/* Closes the scope; returns rc converted (-ETIMEDOUT when it expired the call). */
static int end_timeout(int i, bool open, cask_scope *sc, int rc)
{
    if (open)
        rc = cask_scope_close(sc, rc);
    F.deadline[i] = INFINITY;
    stat_rc(rc);
    return rc;
}

/* A waiter j that was skipped must have been cancelled or timed out. */
static bool excused(int j) { return F.cancel_marked[j] || cask_time() >= F.deadline[j]; }

/* The chaos task: cancels random workers at random moments until they are done. */
static int chaos(void *arg)
{
    (void)arg;
    while (!F.workers_done && cask_time() < F.calm_at) {
        if (jitter() < 0)
            return 0;
        if (chance(30)) {
            int i = (int)rnd((uint32_t)F.ntasks);
            if (!(F.protect >> i & 1) && !cask_task_done(F.t[i])) {
                F.cancel_marked[i] = true;
                cask_cancel(F.t[i]);
            }
        }
    }
    return 0;
}

/* Spawns n workers fn(i) and the chaos task, joins the workers with a deadline far away (a
 * lost wakeup leaves a worker waiting forever: the join times out), then stops chaos. */
static void run_workers(int n, cask_fn fn)
{
    F.ntasks = n;
    F.workers_done = false;
    F.calm_at = cask_time() + 0.001 * (double)rnd(60);
    F.through_calm = chance(50);
    for (int i = 0; i < n; i++) {
        F.cancel_marked[i] = false;
        F.deadline[i] = INFINITY;
        FZ_CHECK(cask_spawn(&F.t[i], fn, (void *)(intptr_t)i) == 0);
    }
    cask_task *ct;
    FZ_CHECK(cask_spawn(&ct, chaos, NULL) == 0);
    cask_scope sc;
    FZ_CHECK(cask_timeout_open(&sc, 1000) == 0);
    int rc = 0;
    for (int i = 0; i < n && rc != -ECANCELED; i++) {
        rc = cask_join(F.t[i]);
        FZ_CHECK(rc == 0 || rc == -ECANCELED); /* a cancel can land after its last call */
        rc = cask_task_done(F.t[i]) ? 0 : -ECANCELED;
    }
    rc = cask_scope_close(&sc, rc);
    FZ_CHECK(rc != -ETIMEDOUT); /* some worker never woke up */
    FZ_CHECK(rc == 0);
    F.workers_done = true;
    FZ_CHECK(cask_join(ct) == 0);
    cask_release(ct);
    for (int i = 0; i < n; i++)
        cask_release(F.t[i]);
}

typedef int (*scenario)(void *arg);

static void fuzz(const char *what, scenario fn, unsigned nseeds)
{
    g_what = what;
    const char *one = getenv("CASK_FUZZ_SEED");
    const char *count = getenv("CASK_FUZZ_SEEDS");
    unsigned first = 1, n = nseeds;
    if (one && *one) {
        first = (unsigned)strtoul(one, NULL, 10);
        n = 1;
    } else if (count && *count) {
        n = (unsigned)strtoul(count, NULL, 10);
    }
    for (unsigned s = first; s < first + n; s++) {
        g_seed = s;
        g_rng = 0x9E3779B97F4A7C15ull * (s + 1);
        memset(&F, 0, sizeof F);
        ct_log_reset();
        int rc = ct_run_virtual(fn, NULL);
        FZ_CHECK(rc == 0);
    }
    if (getenv("CASK_FUZZ_STATS"))
        fprintf(stderr, "%s: %u seeds, %ld waited grants, %ld ok, %ld cancelled/timed out\n",
                what, n, g_stat_waited, g_stat_ok, g_stat_cancelled);
}

/* ThreadSanitizer makes every loop costly (its shadow memory is faulted in anew for each
 * loop's stacks, 40-50 ms a loop on a VM whose page faults are slow): fewer seeds there. These
 * scenarios are single-threaded; the native and ASan runs keep all 10,000 seeds. */
#if defined(__SANITIZE_THREAD__)
#define SEEDS 300
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SEEDS 300
#endif
#endif
#ifndef SEEDS
#define SEEDS 10000
#endif

/* ---- lock and semaphore: holders, FIFO grants ---- */

static struct {
    bool is_sem;
    cask_lock lock;
    cask_sem sem;
    int units;   /* 1 for the lock */
    int holders; /* model */
    long next_ticket, last_granted;
    long ticket[MAXT]; /* >= 0 while waiting */
    int acquisitions;
} M;

static int m_acquire(void)
{
    return M.is_sem ? cask_sem_acquire(&M.sem) : cask_lock_acquire(&M.lock);
}
static int m_try(void)
{
    return M.is_sem ? cask_sem_try_acquire(&M.sem) : cask_lock_try_acquire(&M.lock);
}
static int m_release(void)
{
    return M.is_sem ? cask_sem_release(&M.sem) : cask_lock_release(&M.lock);
}
static bool m_busy(void)
{
    return M.is_sem ? cask_sem_locked(&M.sem) : cask_lock_locked(&M.lock);
}

static void granted(int i, long ticket)
{
    FZ_CHECK(M.holders < M.units);
    M.holders++;
    M.acquisitions++;
    if (ticket < 0)
        return;
    /* FIFO: a later arrival never goes first, and every earlier waiter still waiting was
     * cancelled or timed out */
    g_stat_waited++;
    FZ_CHECK(ticket > M.last_granted);
    M.last_granted = ticket;
    for (int j = 0; j < F.ntasks; j++)
        if (j != i && M.ticket[j] >= 0 && M.ticket[j] < ticket)
            FZ_CHECK(excused(j));
}

static int mutex_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int op = 0; op < F.ops; op++) {
        if (jitter() < 0) {
            ack_cancel(i);
            continue;
        }
        if (chance(15)) {
            if (m_try() == 0) {
                granted(i, -1);
            } else {
                continue;
            }
        } else {
            long ticket = m_busy() ? M.next_ticket++ : -1;
            M.ticket[i] = ticket;
            cask_scope sc;
            bool to = maybe_timeout(i, &sc);
            int rc = m_acquire();
            bool ok = rc == 0;
            if (ok)
                granted(i, ticket);
            if (ok && ticket >= 0) { /* a waited grant to a cancelled task is passed on */
                FZ_CHECK(cask_cancelling(cask_current()) == 0);
                FZ_CHECK(!(to && cask_scope_expired(&sc)));
            }
            M.ticket[i] = -1;
            rc = end_timeout(i, to, &sc, rc);
            if (!ok) {
                FZ_CHECK(ticket >= 0); /* only a call that had to wait can fail */
                FZ_CHECK(rc == -ECANCELED || rc == -ETIMEDOUT);
                if (rc == -ECANCELED) {
                    FZ_CHECK(F.cancel_marked[i]);
                    ack_cancel(i);
                }
                continue;
            }
            /* the scope may have expired just as the lock came: we hold it anyway */
        }
        int rc = chance(50) ? jitter() : 0; /* hold it a while */
        if (rc == -ECANCELED)
            ack_cancel(i);
        M.holders--;
        FZ_CHECK(m_release() == 0);
    }
    ack_cancel(i);
    return 0;
}

static int mutex_scenario(void *arg)
{
    (void)arg;
    memset(&M, 0, sizeof M);
    M.is_sem = g_what[0] == 's';
    M.units = M.is_sem ? 1 + (int)rnd(3) : 1;
    M.last_granted = -1;
    for (int i = 0; i < MAXT; i++)
        M.ticket[i] = -1;
    if (M.is_sem)
        FZ_CHECK(cask_sem_init(&M.sem, M.units) == 0);
    else
        cask_lock_init(&M.lock);
    F.ops = 5 + (int)rnd(20);
    run_workers(2 + (int)rnd(MAXT - 1), mutex_worker);
    FZ_CHECK(M.holders == 0);
    if (M.is_sem)
        FZ_CHECK(cask_sem_value(&M.sem) == M.units);
    else
        FZ_CHECK(!cask_lock_locked(&M.lock));
    return 0;
}

TEST_T(fuzz_lock, 60) { fuzz("lock", mutex_scenario, SEEDS); }
TEST_T(fuzz_sem, 60) { fuzz("sem", mutex_scenario, SEEDS); }

/* ---- event: a wait returns 0 only after a set; every waiter wakes at a set ---- */

static struct {
    cask_event ev;
    unsigned gen; /* sets that changed the flag */
} E;

static int event_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int op = 0; op < F.ops; op++) {
        if (chance(30)) {
            if (chance(50)) {
                if (!cask_event_is_set(&E.ev))
                    E.gen++;
                cask_event_set(&E.ev);
            } else {
                cask_event_clear(&E.ev);
            }
            if (jitter() < 0)
                ack_cancel(i);
            continue;
        }
        bool was_set = cask_event_is_set(&E.ev);
        unsigned gen = E.gen;
        cask_scope sc;
        bool to = maybe_timeout(i, &sc);
        int rc = cask_event_wait(&E.ev);
        if (rc == 0)
            FZ_CHECK(was_set || E.gen != gen);
        rc = end_timeout(i, to, &sc, rc);
        if (rc == -ECANCELED) {
            FZ_CHECK(F.cancel_marked[i]);
            ack_cancel(i);
        }
        FZ_CHECK(rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT);
    }
    ack_cancel(i);
    return 0;
}

/* Sets the event now and then, so waiters finish; the last set comes once all ops are done. */
static int event_setter(void *arg)
{
    (void)arg;
    while (!F.workers_done) {
        if (cask_sleep(0.003) < 0)
            return 0;
        if (!cask_event_is_set(&E.ev))
            E.gen++;
        cask_event_set(&E.ev);
    }
    return 0;
}

static int event_scenario(void *arg)
{
    (void)arg;
    memset(&E, 0, sizeof E);
    F.ops = 5 + (int)rnd(20);
    cask_task *st;
    FZ_CHECK(cask_spawn(&st, event_setter, NULL) == 0);
    run_workers(2 + (int)rnd(MAXT - 1), event_worker);
    FZ_CHECK(cask_join(st) == 0);
    cask_release(st);
    return 0;
}

TEST_T(fuzz_event, 60) { fuzz("event", event_scenario, SEEDS); }

/* ---- condition: producers and consumers of a counter; no notification is lost ---- */

static struct {
    cask_cond cond;
    int items, produced, consumed;
    int nproducers, producers_left;
    bool stop;
    bool in_cs; /* someone holds the lock (model) */
} C;

static bool cond_pred(void *arg)
{
    (void)arg;
    FZ_CHECK(cask_cond_locked(&C.cond));
    return C.items > 0 || C.stop;
}

static int cond_enter(void)
{
    int rc = cask_cond_acquire(&C.cond);
    if (rc == 0) {
        FZ_CHECK(!C.in_cs);
        C.in_cs = true;
    }
    return rc;
}
static void cond_leave(void)
{
    C.in_cs = false;
    FZ_CHECK(cask_cond_release(&C.cond) == 0);
}

/* With the lock held: adds an item, notifies one consumer (or all), releases the lock. */
static void cond_produce(void)
{
    C.items++;
    C.produced++;
    if (chance(20))
        FZ_CHECK(cask_cond_notify_all(&C.cond) >= 0);
    else
        FZ_CHECK(cask_cond_notify(&C.cond, 1) >= 0);
    cond_leave();
}

/* Tells every consumer to stop once the items are gone. */
static void cond_stop(void)
{
    FZ_CHECK(cond_enter() == 0);
    C.stop = true;
    FZ_CHECK(cask_cond_notify_all(&C.cond) >= 0);
    cond_leave();
}

static void cond_setup(void)
{
    memset(&C, 0, sizeof C);
    cask_cond_init(&C.cond, NULL);
    F.ops = 3 + (int)rnd(15);
}

static int cond_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    bool producer = i < C.nproducers;
    /* producers stop at the calm point: a wakeup lost just before it is not healed by a
     * later notify, and the drain check below sees it */
    for (int op = 0; producer ? op < F.ops && cask_time() < F.calm_at : !C.stop || C.items > 0;
         op++) {
        if (jitter() < 0) {
            ack_cancel(i);
            continue;
        }
        int rc = cond_enter();
        if (rc < 0) {
            FZ_CHECK(rc == -ECANCELED);
            ack_cancel(i);
            continue;
        }
        if (producer) {
            cond_produce();
            continue;
        }
        C.in_cs = false; /* the wait releases the lock */
        cask_scope sc;
        bool to = maybe_timeout(i, &sc);
        rc = cask_cond_wait_for(&C.cond, cond_pred, NULL);
        FZ_CHECK(cask_cond_locked(&C.cond)); /* held again in every case */
        FZ_CHECK(!C.in_cs);
        C.in_cs = true;
        rc = end_timeout(i, to, &sc, rc);
        if (rc == 0 && C.items > 0) {
            C.items--;
            C.consumed++;
        } else if (rc == -ECANCELED) {
            FZ_CHECK(F.cancel_marked[i]);
            ack_cancel(i);
            if (chance(50)) { /* quits: a notification it dropped would now be lost */
                cond_leave();
                break;
            }
        }
        cond_leave();
    }
    if (producer && --C.producers_left == 0) {
        /* the last producer: let the consumers drain, then stop them */
        cask_scope sh;
        FZ_CHECK(cask_shield_open(&sh) == 0);
        FZ_CHECK(cask_sleep(0.5) == 0);
        /* every item is consumed by now unless a wakeup was lost (consumers never give up) */
        FZ_CHECK(C.items == 0);
        cond_stop();
        cask_scope_close(&sh, 0);
    }
    ack_cancel(i);
    return 0;
}

static int cond_scenario(void *arg)
{
    (void)arg;
    cond_setup();
    int n = 2 + (int)rnd(MAXT - 1);
    C.nproducers = C.producers_left = 1 + (int)rnd((uint32_t)n - 1);
    F.protect = 1u << (n - 1); /* a consumer that stays to the end */
    run_workers(n, cond_worker);
    FZ_CHECK(C.produced == C.consumed + C.items);
    FZ_CHECK(C.items == 0);
    FZ_CHECK(!cask_cond_locked(&C.cond));
    return 0;
}

TEST_T(fuzz_cond, 60) { fuzz("cond", cond_scenario, SEEDS); }

/* Ping: one producer (never cancelled) puts one item at a time, notifies one consumer and
 * waits until it is consumed; consumers are cancelled at random and may then quit, but the
 * last one stays. A notification lost to a cancelled consumer leaves the item untaken: the
 * producer's wait times out. */
static cask_event g_consumed;

static int ping_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (i == 0) {
        for (int op = 0; op < F.ops; op++) {
            if (jitter() < 0)
                FZ_CHECK(!"the producer is never cancelled");
            FZ_CHECK(cond_enter() == 0);
            cond_produce();
            cask_scope sc;
            FZ_CHECK(cask_timeout_open(&sc, 10) == 0);
            int rc = cask_event_wait(&g_consumed);
            FZ_CHECK(cask_scope_close(&sc, rc) == 0); /* else: a lost wakeup */
            cask_event_clear(&g_consumed);
        }
        cond_stop();
        return 0;
    }
    while (!C.stop) {
        if (jitter() < 0) {
            ack_cancel(i);
            continue;
        }
        int rc = cond_enter();
        if (rc < 0) {
            ack_cancel(i);
            continue;
        }
        C.in_cs = false;
        cask_scope sc;
        bool to = maybe_timeout(i, &sc);
        rc = cask_cond_wait_for(&C.cond, cond_pred, NULL);
        FZ_CHECK(cask_cond_locked(&C.cond) && !C.in_cs);
        C.in_cs = true;
        rc = end_timeout(i, to, &sc, rc);
        if (rc == 0 && C.items > 0) {
            C.items--;
            C.consumed++;
            cask_event_set(&g_consumed);
        }
        cond_leave();
        if (rc == -ECANCELED) {
            FZ_CHECK(F.cancel_marked[i]);
            ack_cancel(i);
            if (chance(50))
                break; /* quits: a notification it dropped would now be lost */
        }
    }
    ack_cancel(i);
    return 0;
}

static int ping_scenario(void *arg)
{
    (void)arg;
    cond_setup();
    cask_event_init(&g_consumed);
    int n = 3 + (int)rnd(MAXT - 2);
    F.protect = 1u | 1u << (n - 1);
    run_workers(n, ping_worker);
    FZ_CHECK(C.produced == C.consumed && C.items == 0);
    return 0;
}

TEST_T(fuzz_cond_ping, 60) { fuzz("cond_ping", ping_scenario, SEEDS); }

/* ---- queue: every item put is got once or left; none got that was not put ---- */

/* An item is producer + MAXT * sequence number; in a priority queue its value is its priority
 * too. The model tracks each item's state. Getters handed an item and cancelled give it back
 * to the front, which may reorder items under cancellation; FIFO order per producer is checked
 * in the seeds where consumers are never cancelled. */
#define QITEMS 4096
enum { Q_NONE, Q_PUTTING, Q_PUT, Q_FAILED, Q_GOT };
static struct {
    cask_queue *q;
    enum cask_queue_kind kind;
    unsigned char st[QITEMS];
    int seqno[MAXT];
    int last_got[MAXT]; /* per producer: the last sequence number got (FIFO check) */
    bool check_order;
    int nproducers, producers_left;
    int put, got, failed, dropped;
} Q;

static intptr_t q_new_item(int producer)
{
    int seq = Q.seqno[producer]++;
    intptr_t item = (intptr_t)producer + (intptr_t)MAXT * seq;
    FZ_CHECK(item < QITEMS);
    FZ_CHECK(Q.st[item] == Q_NONE);
    Q.st[item] = Q_PUTTING;
    return item;
}

static void q_put_done(intptr_t item, int rc)
{
    if (rc == 0) {
        Q.put++;
        if (Q.st[item] == Q_PUTTING)
            Q.st[item] = Q_PUT; /* else already got: handed over while the put waited */
    } else {
        FZ_CHECK(Q.st[item] == Q_PUTTING); /* a failed put's item is never got */
        Q.st[item] = Q_FAILED;
        Q.failed++;
    }
}

static void q_got(intptr_t item)
{
    FZ_CHECK(item >= 0 && item < QITEMS);
    FZ_CHECK(Q.st[item] == Q_PUTTING || Q.st[item] == Q_PUT);
    Q.st[item] = Q_GOT;
    Q.got++;
    int producer = (int)(item % MAXT), seq = (int)(item / MAXT);
    if (Q.check_order && Q.kind == CASK_QUEUE_FIFO)
        FZ_CHECK(seq > Q.last_got[producer]);
    Q.last_got[producer] = seq;
}

/* After the scenario: what is left in the queue was put and not got, and nothing else is. */
static void q_drain_check(void)
{
    void *item;
    int rc;
    while ((rc = cask_queue_get_nowait(Q.q, &item)) == 0)
        q_got((intptr_t)item);
    FZ_CHECK(rc == -EAGAIN || rc == -ESHUTDOWN);
    int left = 0;
    for (int i = 0; i < QITEMS; i++) {
        FZ_CHECK(Q.st[i] != Q_PUTTING);
        left += Q.st[i] == Q_PUT;
    }
    FZ_CHECK(left == Q.dropped); /* only an immediate shutdown loses items, on purpose */
    FZ_CHECK(Q.put == Q.got + Q.dropped);
}

static int q_consume(int i, bool nowait)
{
    void *item;
    int rc;
    if (nowait) {
        rc = cask_queue_get_nowait(Q.q, &item);
        FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -ESHUTDOWN);
    } else {
        cask_scope sc;
        bool to = maybe_timeout(i, &sc);
        rc = cask_queue_get(Q.q, &item);
        if (rc == 0)
            q_got((intptr_t)item);
        rc = end_timeout(i, to, &sc, rc);
        FZ_CHECK(rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT || rc == -ESHUTDOWN);
        if (rc == 0)
            FZ_CHECK(cask_queue_task_done(Q.q) == 0);
        return rc;
    }
    if (rc == 0) {
        q_got((intptr_t)item);
        FZ_CHECK(cask_queue_task_done(Q.q) == 0);
    }
    return rc;
}

static int q_produce(int i, bool nowait)
{
    intptr_t item = q_new_item(i);
    int rc;
    if (nowait) {
        rc = cask_queue_put_nowait(Q.q, (void *)item);
        q_put_done(item, rc);
        FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -ESHUTDOWN);
        return rc;
    }
    cask_scope sc;
    bool to = maybe_timeout(i, &sc);
    rc = cask_queue_put(Q.q, (void *)item);
    q_put_done(item, rc);
    rc = end_timeout(i, to, &sc, rc);
    FZ_CHECK(rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT || rc == -ESHUTDOWN);
    return rc;
}

static int queue_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    bool producer = i < Q.nproducers;
    /* producers stop at the calm point in half the seeds (a wakeup lost to a cancellation just
     * before is then not healed by later puts), and go on through it in the others (a wakeup
     * lost without any cancellation then shows) */
    for (int op = 0; !producer || (op < F.ops && (F.through_calm || cask_time() < F.calm_at));
         op++) {
        if (jitter() < 0) {
            ack_cancel(i);
            continue;
        }
        int rc = producer ? q_produce(i, chance(20)) : q_consume(i, chance(20));
        if (rc == -ESHUTDOWN)
            break;
        if (rc == -ECANCELED) {
            FZ_CHECK(F.cancel_marked[i]);
            ack_cancel(i);
            if (!producer && chance(50))
                break; /* quits: an item it dropped would now be lost */
        }
    }
    if (producer && --Q.producers_left == 0) {
        cask_scope sh;
        FZ_CHECK(cask_shield_open(&sh) == 0);
        FZ_CHECK(cask_sleep(0.5) == 0);
        /* the last consumer never gives up: all is consumed unless a wakeup was lost */
        FZ_CHECK(cask_queue_qsize(Q.q) == 0);
        cask_scope sc; /* inside the shield, so a join that never returns fails here */
        FZ_CHECK(cask_timeout_open(&sc, 10) == 0);
        int rc = cask_queue_join(Q.q);
        FZ_CHECK(cask_scope_close(&sc, rc) == 0);
        cask_queue_shutdown(Q.q, chance(50));
        cask_scope_close(&sh, 0);
    }
    ack_cancel(i);
    return 0;
}

static void queue_setup(size_t maxsize)
{
    memset(&Q, 0, sizeof Q);
    for (int i = 0; i < MAXT; i++)
        Q.last_got[i] = -1;
    Q.kind = (enum cask_queue_kind)rnd(3);
    FZ_CHECK(cask_queue_new(&Q.q, maxsize, Q.kind, NULL) == 0);
}

static int queue_scenario(void *arg)
{
    (void)arg;
    queue_setup(rnd(5));
    F.ops = 3 + (int)rnd(30);
    int n = 2 + (int)rnd(MAXT - 1);
    Q.nproducers = Q.producers_left = 1 + (int)rnd((uint32_t)n - 1);
    F.protect = 1u << (n - 1); /* a consumer that stays to the end */
    Q.check_order = chance(50);
    if (Q.check_order)
        for (int i = Q.nproducers; i < n; i++)
            F.protect |= 1u << i; /* no consumer is cancelled: FIFO holds per producer */
    run_workers(n, queue_worker);
    q_drain_check();
    cask_queue_free(Q.q);
    return 0;
}

TEST_T(fuzz_queue, 60) { fuzz("queue", queue_scenario, SEEDS); }

/* A bounded queue stressed with shutdowns (immediate or not) at random moments: puts that
 * succeeded = gets that succeeded + items dropped, none twice. */
static int queue_shutdown_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    bool producer = i % 2 == 0;
    for (int op = 0; op < 400; op++) {
        if (jitter() < 0)
            ack_cancel(i);
        int rc = producer ? q_produce(i, chance(10)) : q_consume(i, chance(10));
        if (rc == -ESHUTDOWN)
            break;
        if (rc == -ECANCELED)
            ack_cancel(i);
    }
    ack_cancel(i);
    return 0;
}

static int queue_shutter(void *arg)
{
    (void)arg;
    if (cask_sleep(0.001 * (double)rnd(30)) < 0)
        return 0;
    bool immediate = chance(50);
    Q.dropped += immediate ? (int)cask_queue_qsize(Q.q) : 0;
    cask_queue_shutdown(Q.q, immediate);
    return 0;
}

static int queue_shutdown_scenario(void *arg)
{
    (void)arg;
    queue_setup(1 + rnd(3));
    cask_task *st;
    FZ_CHECK(cask_spawn(&st, queue_shutter, NULL) == 0);
    run_workers(2 + (int)rnd(MAXT - 1), queue_shutdown_worker);
    FZ_CHECK(cask_join(st) == 0);
    cask_release(st);
    q_drain_check();
    cask_queue_free(Q.q);
    return 0;
}

TEST_T(fuzz_queue_shutdown, 60) { fuzz("queue_shutdown", queue_shutdown_scenario, SEEDS); }

/* ---- barrier: each round releases exactly `parties` tasks with distinct indices ---- */

#define BROUNDS 64
static struct {
    cask_barrier b;
    unsigned parties;
    unsigned round;             /* rounds completed */
    unsigned mask[BROUNDS + 8]; /* indices seen per round */
    unsigned count[BROUNDS + 8];
    bool aborted;
} B;

static int barrier_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int op = 0; op < F.ops && !B.aborted; op++) {
        if (jitter() < 0) {
            ack_cancel(i);
            continue;
        }
        if (chance(3)) {
            cask_barrier_reset(&B.b); /* breaks the round in progress */
            continue;
        }
        unsigned r = B.round, index = 99;
        cask_scope sc;
        bool to = maybe_timeout(i, &sc);
        int rc = cask_barrier_wait(&B.b, &index);
        if (rc == 0) {
            FZ_CHECK(index < B.parties);
            if (index == B.parties - 1)
                B.round++; /* the last arrival: it released the round */
            if (r < BROUNDS) {
                FZ_CHECK(!(B.mask[r] & (1u << index)));
                B.mask[r] |= 1u << index;
                B.count[r]++;
            }
        }
        FZ_CHECK(cask_barrier_n_waiting(&B.b) < B.parties);
        rc = end_timeout(i, to, &sc, rc);
        FZ_CHECK(rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT || rc == -EPIPE);
        if (rc == -ECANCELED) {
            FZ_CHECK(F.cancel_marked[i]);
            ack_cancel(i);
        }
    }
    ack_cancel(i);
    return 0;
}

/* Ends the scenario: once the workers' own rounds are over, abort frees whoever still waits. */
static int barrier_ender(void *arg)
{
    (void)arg;
    if (cask_sleep(0.2) < 0)
        return 0;
    B.aborted = true;
    cask_barrier_abort(&B.b);
    return 0;
}

static int barrier_scenario(void *arg)
{
    (void)arg;
    memset(&B, 0, sizeof B);
    B.parties = 1 + rnd(4);
    FZ_CHECK(cask_barrier_init(&B.b, B.parties) == 0);
    F.ops = 3 + (int)rnd(15);
    cask_task *et;
    FZ_CHECK(cask_spawn(&et, barrier_ender, NULL) == 0);
    run_workers(2 + (int)rnd(MAXT - 1), barrier_worker);
    FZ_CHECK(cask_join(et) == 0);
    cask_release(et);
    for (unsigned r = 0; r < B.round && r < BROUNDS; r++) {
        FZ_CHECK(B.count[r] == B.parties);
        FZ_CHECK(B.mask[r] == (1u << B.parties) - 1);
    }
    return 0;
}

TEST_T(fuzz_barrier, 60) { fuzz("barrier", barrier_scenario, SEEDS); }

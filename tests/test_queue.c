/* test_queue.c: cask_queue (CONFORMANCE Q1-Q6). */
#define _GNU_SOURCE
#include "cask_test.h"

#include <stdint.h>

#define I(x) ((void *)(intptr_t)(x))

struct qtask {
    cask_queue *q;
    const char *name;
    int n;      /* items to put (putters) */
    void *item; /* item got (getters) */
    int status;
};

static int putter(void *arg)
{
    struct qtask *p = arg;
    for (int i = 0; i < p->n; i++) {
        p->status = cask_queue_put(p->q, I(i));
        ct_log("%s:put %d:%s", p->name, i, cask_errname(p->status));
        if (p->status < 0)
            return p->status;
    }
    return 0;
}

static int getter(void *arg)
{
    struct qtask *g = arg;
    g->status = cask_queue_get(g->q, &g->item);
    if (g->status == 0)
        ct_log("%s:got %d", g->name, (int)(intptr_t)g->item);
    else
        ct_log("%s:%s", g->name, cask_errname(g->status));
    return g->status;
}

/* Q1: maxsize 2: the producer puts 0, 1 and blocks; one get lets it put 2. */
static int q1_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 2, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_maxsize(q), 2);
    struct qtask p = {q, "p", 3, NULL, 0};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, putter, &p), 0);
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_LOG("p:put 0:OK,p:put 1:OK");
    CHECK(cask_queue_full(q));
    CHECK_EQ(cask_queue_qsize(q), 2);
    CHECK_EQ(cask_queue_put_nowait(q, I(9)), -EAGAIN);
    void *item;
    CHECK_EQ(cask_queue_get(q, &item), 0);
    CHECK_EQ((intptr_t)item, 0);
    CHECK(cask_queue_full(q)); /* the freed slot is reserved for the waiting putter */
    CHECK_EQ(cask_queue_put_nowait(q, I(9)), -EAGAIN);
    CHECK_EQ(cask_join(t), 0);
    CHECK_LOG("p:put 0:OK,p:put 1:OK,p:put 2:OK");
    for (int i = 1; i <= 2; i++) {
        CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
        CHECK_EQ((intptr_t)item, i);
    }
    CHECK(cask_queue_empty(q));
    CHECK_EQ(cask_queue_get_nowait(q, &item), -EAGAIN);
    cask_release(t);
    cask_queue_free(q);
    return 0;
}
TEST(q1_bounded_put_blocks) { CHECK_EQ(ct_run_virtual(q1_main, NULL), 0); }

/* Q2: a cancelled get never loses an item: two getters, put 'a', cancel the first (woken, not
 * yet run, and plainly waiting): the second gets 'a'. */
static int q2_main(void *arg)
{
    bool woken = *(bool *)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    struct qtask g1 = {q, "g1", 0, NULL, 0}, g2 = {q, "g2", 0, NULL, 0};
    cask_task *t1, *t2;
    CHECK_EQ(cask_spawn(&t1, getter, &g1), 0);
    CHECK_EQ(cask_spawn(&t2, getter, &g2), 0);
    CHECK_EQ(cask_yield(), 0);
    if (woken) {
        CHECK_EQ(cask_queue_put(q, I('a')), 0);
        CHECK(cask_cancel(t1));
    } else {
        CHECK(cask_cancel(t1));
        CHECK_EQ(cask_queue_put(q, I('a')), 0);
    }
    CHECK_EQ(cask_join(t1), -ECANCELED);
    CHECK_EQ(cask_join(t2), 0);
    CHECK_EQ((intptr_t)g2.item, 'a');
    CHECK_LOG("g1:ECANCELED,g2:got 97");
    CHECK(cask_queue_empty(q));
    cask_release(t1);
    cask_release(t2);
    cask_queue_free(q);
    return 0;
}
TEST(q2_cancelled_get_loses_nothing)
{
    bool woken = true;
    CHECK_EQ(ct_run_virtual(q2_main, &woken), 0);
    ct_log_reset();
    woken = false;
    CHECK_EQ(ct_run_virtual(q2_main, &woken), 0);
}

/* Q2: a getter handed an item and cancelled with no other getter waiting puts it back in
 * front: it comes out first, before the items put after it (FIFO, LIFO and priority). */
static int q2_front_main(void *arg)
{
    enum cask_queue_kind kind = *(enum cask_queue_kind *)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 0, kind, NULL), 0);
    struct qtask g1 = {q, "g1", 0, NULL, 0};
    cask_task *t1;
    CHECK_EQ(cask_spawn(&t1, getter, &g1), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_queue_put(q, I(5)), 0); /* handed to g1 */
    CHECK_EQ(cask_queue_qsize(q), 0);
    CHECK_EQ(cask_queue_put(q, I(5)), 0);
    CHECK_EQ(cask_queue_put(q, I(9)), 0);
    CHECK(cask_cancel(t1));
    CHECK_EQ(cask_join(t1), -ECANCELED);
    CHECK_EQ(cask_queue_qsize(q), 3);
    void *item;
    static const int want[3][3] = {{5, 5, 9}, {9, 5, 5}, {5, 5, 9}};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
        CHECK_EQ((intptr_t)item, want[kind][i]);
    }
    cask_release(t1);
    cask_queue_free(q);
    return 0;
}
TEST(q2_cancelled_get_gives_back_in_front)
{
    for (int k = CASK_QUEUE_FIFO; k <= CASK_QUEUE_PRIORITY; k++) {
        enum cask_queue_kind kind = (enum cask_queue_kind)k;
        CHECK_EQ(ct_run_virtual(q2_front_main, &kind), 0);
    }
}

/* Q3: a cancelled put never inserts its item. A waiting putter granted a freed slot and
 * cancelled before it runs returns -ECANCELED too (its put did nothing) and passes the slot on. */
static int q3_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 1, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_put(q, I(100)), 0);
    struct qtask p1 = {q, "p1", 1, NULL, 0}, p2 = {q, "p2", 1, NULL, 0};
    cask_task *t1, *t2;
    CHECK_EQ(cask_spawn(&t1, putter, &p1), 0);
    CHECK_EQ(cask_spawn(&t2, putter, &p2), 0);
    CHECK_EQ(cask_yield(), 0);
    void *item;
    CHECK_EQ(cask_queue_get(q, &item), 0); /* frees the slot: reserved for p1 */
    CHECK_EQ((intptr_t)item, 100);
    CHECK(cask_queue_full(q));
    CHECK(cask_cancel(t1)); /* granted the slot, not run yet: its put is cancelled */
    CHECK(cask_cancel(t2)); /* still waiting: its put is cancelled */
    CHECK_EQ(cask_join(t1), -ECANCELED);
    CHECK_EQ(cask_join(t2), -ECANCELED);
    CHECK_LOG("p1:put 0:ECANCELED,p2:put 0:ECANCELED");
    CHECK_EQ(cask_queue_qsize(q), 0);
    CHECK(!cask_queue_full(q));
    CHECK_EQ(cask_queue_get_nowait(q, &item), -EAGAIN);
    cask_release(t1);
    cask_release(t2);
    cask_queue_free(q);
    return 0;
}
TEST(q3_cancelled_put_inserts_nothing) { CHECK_EQ(ct_run_virtual(q3_main, NULL), 0); }

/* Q4: join returns after every item is task_done; at once on an empty queue; one task_done too
 * many is an error. */
static int q4_joiner(void *arg)
{
    CHECK_EQ(cask_queue_join(arg), 0);
    ct_log("joined");
    return 0;
}
static int q4_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_join(q), 0);
    CHECK_EQ(cask_queue_task_done(q), -EINVAL);
    CHECK_EQ(cask_queue_put(q, I(1)), 0);
    CHECK_EQ(cask_queue_put(q, I(2)), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, q4_joiner, q), 0);
    void *item;
    CHECK_EQ(cask_queue_get(q, &item), 0);
    CHECK_EQ(cask_queue_get(q, &item), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_queue_task_done(q), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_LOG("");
    CHECK_EQ(cask_queue_task_done(q), 0);
    ct_log("done");
    CHECK_EQ(cask_join(t), 0);
    CHECK_LOG("done,joined");
    CHECK_EQ(cask_queue_task_done(q), -EINVAL);
    CHECK_EQ(cask_queue_join(q), 0);
    cask_release(t);
    cask_queue_free(q);
    return 0;
}
TEST(q4_task_done_join) { CHECK_EQ(ct_run_virtual(q4_main, NULL), 0); }

/* Q5: LIFO and priority: put 1, 3, 2 -> 2, 3, 1 and 1, 2, 3; equal priorities FIFO. */
struct prio {
    int prio;
    int id;
};
static int prio_cmp(const void *a, const void *b)
{
    const struct prio *x = a, *y = b;
    return (x->prio > y->prio) - (x->prio < y->prio);
}
static int q5_main(void *arg)
{
    (void)arg;
    cask_queue *lifo, *pq, *pq2;
    CHECK_EQ(cask_queue_new(&lifo, 0, CASK_QUEUE_LIFO, NULL), 0);
    CHECK_EQ(cask_queue_new(&pq, 0, CASK_QUEUE_PRIORITY, NULL), 0);
    CHECK_EQ(cask_queue_new(&pq2, 0, (enum cask_queue_kind)7, prio_cmp), -EINVAL);
    CHECK_EQ(cask_queue_new(&pq2, 0, CASK_QUEUE_PRIORITY, prio_cmp), 0);
    static const int in[] = {1, 3, 2};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_queue_put(lifo, I(in[i])), 0);
        CHECK_EQ(cask_queue_put(pq, I(in[i])), 0);
    }
    static const int want_lifo[] = {2, 3, 1}, want_pq[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        void *a, *b;
        CHECK_EQ(cask_queue_get(lifo, &a), 0);
        CHECK_EQ(cask_queue_get(pq, &b), 0);
        CHECK_EQ((intptr_t)a, want_lifo[i]);
        CHECK_EQ((intptr_t)b, want_pq[i]);
    }
    /* many items with few priorities: ascending priority, FIFO within one (grows the heap) */
    static struct prio items[200];
    for (int i = 0; i < 200; i++) {
        items[i] = (struct prio){(i * 7) % 5, i};
        CHECK_EQ(cask_queue_put_nowait(pq2, &items[i]), 0);
    }
    struct prio *last = NULL;
    for (int i = 0; i < 200; i++) {
        void *v;
        CHECK_EQ(cask_queue_get_nowait(pq2, &v), 0);
        struct prio *p = v;
        if (last) {
            CHECK(p->prio >= last->prio);
            if (p->prio == last->prio)
                CHECK(p->id > last->id);
        }
        last = p;
    }
    /* the ring grows past its first size in order */
    for (int i = 0; i < 100; i++)
        CHECK_EQ(cask_queue_put_nowait(lifo, I(i)), 0);
    for (int i = 99; i >= 0; i--) {
        void *v;
        CHECK_EQ(cask_queue_get_nowait(lifo, &v), 0);
        CHECK_EQ((intptr_t)v, i);
    }
    cask_queue_free(lifo);
    cask_queue_free(pq);
    cask_queue_free(pq2);
    return 0;
}
TEST(q5_lifo_and_priority) { CHECK_EQ(ct_run_virtual(q5_main, NULL), 0); }

/* FIFO order across the ring's wrap-around and growth. */
static int qfifo_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    intptr_t next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round % 13 + 3; i++)
            CHECK_EQ(cask_queue_put_nowait(q, I(next_in++)), 0);
        for (int i = 0; i < round % 7 + 1 && next_out < next_in; i++) {
            void *v;
            CHECK_EQ(cask_queue_get_nowait(q, &v), 0);
            CHECK_EQ((intptr_t)v, next_out++);
        }
    }
    CHECK_EQ(cask_queue_qsize(q), (size_t)(next_in - next_out));
    while (next_out < next_in) {
        void *v;
        CHECK_EQ(cask_queue_get(q, &v), 0);
        CHECK_EQ((intptr_t)v, next_out++);
    }
    cask_queue_free(q);
    return 0;
}
TEST(q_fifo_wraparound) { CHECK_EQ(ct_run_virtual(qfifo_main, NULL), 0); }

/* Q6: shutdown. Blocked and later puts fail; gets drain, then fail; blocked getters fail. */
static int q6_main(void *arg)
{
    (void)arg;
    cask_queue *q, *e;
    CHECK_EQ(cask_queue_new(&q, 2, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_new(&e, 0, CASK_QUEUE_FIFO, NULL), 0);
    struct qtask p = {q, "p", 3, NULL, 0}, g = {e, "g", 0, NULL, 0};
    cask_task *tp, *tg;
    CHECK_EQ(cask_spawn(&tp, putter, &p), 0);
    CHECK_EQ(cask_spawn(&tg, getter, &g), 0);
    CHECK_EQ(cask_yield(), 0);
    cask_queue_shutdown(q, false);
    cask_queue_shutdown(e, false);
    CHECK_EQ(cask_join(tp), -ESHUTDOWN);
    CHECK_EQ(cask_join(tg), -ESHUTDOWN);
    CHECK_LOG("p:put 0:OK,p:put 1:OK,p:put 2:ESHUTDOWN,g:ESHUTDOWN");
    CHECK_EQ(cask_queue_put(q, I(5)), -ESHUTDOWN);
    CHECK_EQ(cask_queue_put_nowait(q, I(5)), -ESHUTDOWN);
    void *item;
    CHECK_EQ(cask_queue_get(q, &item), 0);
    CHECK_EQ((intptr_t)item, 0);
    CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
    CHECK_EQ((intptr_t)item, 1);
    CHECK_EQ(cask_queue_get(q, &item), -ESHUTDOWN);
    CHECK_EQ(cask_queue_get_nowait(q, &item), -ESHUTDOWN);
    CHECK_EQ(cask_queue_task_done(q), 0);
    CHECK_EQ(cask_queue_task_done(q), 0);
    CHECK_EQ(cask_queue_join(q), 0);
    cask_release(tp);
    cask_release(tg);
    cask_queue_free(q);
    cask_queue_free(e);
    return 0;
}
TEST(q6_shutdown) { CHECK_EQ(ct_run_virtual(q6_main, NULL), 0); }

/* Q6: an immediate shutdown drops the items, releases join, fails gets at once, also a getter
 * that was woken with an item and had not run yet. */
static int q6i_joiner(void *arg)
{
    int rc = cask_queue_join(arg);
    ct_log("join:%s", cask_errname(rc));
    return rc;
}
static int q6i_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    struct qtask g = {q, "g", 0, NULL, 0};
    cask_task *tj, *tg;
    CHECK_EQ(cask_spawn(&tg, getter, &g), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_queue_put(q, I(1)), 0); /* g is woken with it */
    CHECK_EQ(cask_queue_put(q, I(2)), 0);
    CHECK_EQ(cask_queue_put(q, I(3)), 0);
    CHECK_EQ(cask_spawn(&tj, q6i_joiner, q), 0);
    CHECK_EQ(cask_yield(), 0); /* g takes 1; the joiner waits */
    CHECK_EQ(cask_queue_put(q, I(4)), 0);
    CHECK_EQ(cask_queue_qsize(q), 3);
    cask_queue_shutdown(q, true);
    CHECK_EQ(cask_queue_qsize(q), 0);
    void *item;
    CHECK_EQ(cask_queue_get_nowait(q, &item), -ESHUTDOWN);
    CHECK_EQ(cask_queue_get(q, &item), -ESHUTDOWN);
    CHECK_EQ(cask_yield(), 0);
    CHECK_LOG("g:got 1"); /* join still waits for g's task_done */
    CHECK_EQ(cask_queue_task_done(q), 0);
    CHECK_EQ(cask_join(tj), 0);
    CHECK_LOG("g:got 1,join:OK");
    CHECK_EQ(cask_queue_task_done(q), -EINVAL);
    CHECK_EQ(cask_join(tg), 0);
    /* a getter handed an item, then an immediate shutdown before it runs: it has the item */
    cask_queue *q2;
    CHECK_EQ(cask_queue_new(&q2, 0, CASK_QUEUE_LIFO, NULL), 0);
    g = (struct qtask){q2, "g2", 0, NULL, 0};
    cask_release(tg);
    CHECK_EQ(cask_spawn(&tg, getter, &g), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_queue_put(q2, I(7)), 0);
    cask_queue_shutdown(q2, true);
    CHECK_EQ(cask_join(tg), 0);
    CHECK_EQ((intptr_t)g.item, 7);
    CHECK_EQ(cask_queue_task_done(q2), 0);
    CHECK_EQ(cask_queue_join(q2), 0);
    /* handed an item, then cancelled, then an immediate shutdown: see
     * q_get_cancel_then_immediate_shutdown */
    cask_release(tj);
    cask_release(tg);
    cask_queue_free(q);
    cask_queue_free(q2);
    return 0;
}
TEST(q6_shutdown_immediate) { CHECK_EQ(ct_run_virtual(q6i_main, NULL), 0); }

/* Outside a task: the no-wait forms work, blocking ones that would wait give -EPERM. */
TEST(q_outside_task_and_enomem)
{
    cask_queue *q;
    CHECK_EQ(cask_queue_new(NULL, 0, CASK_QUEUE_FIFO, NULL), -EINVAL);
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), -ENOMEM);
    ct_fail_alloc_after(2);
    CHECK_EQ(cask_queue_new(&q, 4, CASK_QUEUE_PRIORITY, NULL), -ENOMEM);
    ct_fail_alloc_after(0);
    CHECK_EQ(cask_queue_new(&q, 1, CASK_QUEUE_FIFO, NULL), 0);
    void *item;
    CHECK_EQ(cask_queue_get(q, &item), -EPERM);
    CHECK_EQ(cask_queue_put(q, I(1)), 0);
    CHECK_EQ(cask_queue_put(q, I(2)), -EPERM);
    CHECK_EQ(cask_queue_join(q), -EPERM);
    CHECK_EQ(cask_queue_get(q, &item), 0);
    CHECK_EQ(cask_queue_task_done(q), 0);
    CHECK_EQ(cask_queue_join(q), 0);
    cask_queue_free(q);
    cask_queue_free(NULL);
    /* growth failure: nothing inserted */
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(cask_queue_put_nowait(q, I(i)), 0);
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_queue_put_nowait(q, I(8)), -ENOMEM);
    ct_fail_alloc_after(0);
    CHECK_EQ(cask_queue_qsize(q), 8);
    CHECK_EQ(cask_queue_put_nowait(q, I(8)), 0);
    CHECK_EQ(cask_queue_qsize(q), 9);
    for (int i = 0; i < 9; i++) {
        CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
        CHECK_EQ((intptr_t)item, i);
    }
    cask_queue_free(q);
}

/* Out of memory: the n-th allocation fails, for every n a scenario makes. cask_queue_new and a
 * growing put return -ENOMEM, leave the queue as it was (no item added, order kept) and leak
 * nothing; with memory back the queue works on. */
static bool enomem_scenario(enum cask_queue_kind kind, long n)
{
    cask_queue *q;
    ct_fail_alloc_after(n);
    int rc = cask_queue_new(&q, 0, kind, NULL);
    if (rc == -ENOMEM) {
        ct_fail_alloc_after(0);
        return false;
    }
    CHECK_EQ(rc, 0);
    bool failed = false;
    intptr_t put = 0;
    while (put < 40) {
        rc = cask_queue_put_nowait(q, I(put));
        if (rc == -ENOMEM) {
            failed = true;
            CHECK_EQ(cask_queue_qsize(q), (size_t)put);
            ct_fail_alloc_after(0);
            continue;
        }
        CHECK_EQ(rc, 0);
        put++;
    }
    ct_fail_alloc_after(0);
    for (intptr_t i = 0; i < put; i++) {
        void *v;
        CHECK_EQ(cask_queue_get_nowait(q, &v), 0);
        CHECK_EQ((intptr_t)v, kind == CASK_QUEUE_LIFO ? put - 1 - i : i);
    }
    cask_queue_free(q);
    return failed;
}
TEST(q_enomem_walk)
{
    for (int k = CASK_QUEUE_FIFO; k <= CASK_QUEUE_PRIORITY; k++) {
        long n = 1;
        while (enomem_scenario((enum cask_queue_kind)k, n) || n <= 2)
            n++;
        CHECK(n > 3); /* new, and at least two growths, were failed */
        CHECK_EQ(ct_allocs_live(), 0);
    }
}

/* CPython test_put_cancel_drop: a waiting put, a get_nowait frees its slot, then the putter is
 * cancelled before it runs. If its task ends -ECANCELED the put did nothing, so putting again
 * must not duplicate the item: exactly one 2 comes out. */
static int one_put(void *arg)
{
    struct qtask *p = arg;
    p->status = cask_queue_put(p->q, p->item);
    return p->status;
}
static int put_cancel_drop_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 1, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_put_nowait(q, I(1)), 0);
    struct qtask w = {q, "w", 1, I(2), 0};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, one_put, &w), 0);
    CHECK_EQ(cask_yield(), 0);
    void *item;
    CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
    CHECK_EQ((intptr_t)item, 1);
    CHECK(cask_queue_full(q)); /* the freed slot is reserved for the waiting putter */
    CHECK_EQ(cask_queue_put_nowait(q, I(9)), -EAGAIN);
    CHECK(cask_cancel(t));
    int rc = cask_join(t);
    cask_release(t);
    if (rc == -ECANCELED) { /* try again */
        CHECK_EQ(w.status, -ECANCELED);
        CHECK_EQ(cask_queue_qsize(q), 0);
        CHECK_EQ(cask_spawn(&t, one_put, &w), 0);
        CHECK_EQ(cask_join(t), 0);
        cask_release(t);
    }
    CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
    CHECK_EQ((intptr_t)item, 2);
    CHECK_EQ(cask_queue_qsize(q), 0);
    cask_queue_free(q);
    return 0;
}
TEST(q_put_cancel_drop) { CHECK_EQ(ct_run_virtual(put_cancel_drop_main, NULL), 0); }

/* A putter granted a freed slot and cancelled before it runs passes the slot on to the next
 * putter; a putter granted a slot while a getter came to wait hands its item to that getter. */
static int put_pass_on_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 1, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_put_nowait(q, I(1)), 0);
    struct qtask p1 = {q, "p1", 1, I(2), 0}, p2 = {q, "p2", 1, I(3), 0};
    cask_task *t1, *t2;
    CHECK_EQ(cask_spawn(&t1, one_put, &p1), 0);
    CHECK_EQ(cask_spawn(&t2, one_put, &p2), 0);
    CHECK_EQ(cask_yield(), 0);
    void *item;
    CHECK_EQ(cask_queue_get_nowait(q, &item), 0); /* the slot goes to p1 */
    CHECK(cask_cancel(t1));
    CHECK_EQ(cask_join(t1), -ECANCELED);
    CHECK_EQ(cask_join(t2), 0); /* p1 passed the slot to p2 */
    CHECK_EQ(p1.status, -ECANCELED);
    CHECK_EQ(cask_queue_qsize(q), 1);
    CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
    CHECK_EQ((intptr_t)item, 3);
    cask_release(t1);
    cask_release(t2);
    /* reserved slot, then a getter waits on the (empty) queue: the putter hands to it */
    CHECK_EQ(cask_queue_put_nowait(q, I(1)), 0);
    struct qtask g = {q, "g", 0, NULL, 0};
    cask_task *tg;
    CHECK_EQ(cask_spawn(&t1, one_put, &p1), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
    struct cask_spawn_opts eager = {.eager = true};
    CHECK_EQ(cask_spawn_with(&tg, getter, &g, &eager), 0); /* waits: the queue is empty */
    CHECK_EQ(cask_queue_qsize(q), 0);
    CHECK_EQ(cask_join(t1), 0);
    CHECK_EQ(cask_join(tg), 0);
    CHECK_EQ((intptr_t)g.item, 2);
    CHECK(cask_queue_empty(q));
    CHECK(!cask_queue_full(q));
    cask_release(t1);
    cask_release(tg);
    /* reserved slot, then shutdown before the putter runs: its put did nothing */
    CHECK_EQ(cask_queue_put_nowait(q, I(1)), 0);
    CHECK_EQ(cask_spawn(&t1, one_put, &p1), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
    cask_queue_shutdown(q, false);
    CHECK_EQ(cask_join(t1), -ESHUTDOWN);
    CHECK_EQ(cask_queue_qsize(q), 0);
    cask_release(t1);
    cask_queue_free(q);
    return 0;
}
TEST(q_put_reservation_passed_on) { CHECK_EQ(ct_run_virtual(put_pass_on_main, NULL), 0); }

/* A getter handed an item, cancelled, then an immediate shutdown before it runs: the item is
 * dropped with the queue's other items (counted as done) and the get returns -ECANCELED, so
 * -ECANCELED still means it took nothing. */
static int get_cancel_immediate_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    struct qtask g = {q, "g", 0, NULL, 0};
    cask_task *tg;
    CHECK_EQ(cask_spawn(&tg, getter, &g), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_queue_put(q, I(8)), 0);
    CHECK(cask_cancel(tg));
    cask_queue_shutdown(q, true);
    CHECK_EQ(cask_join(tg), -ECANCELED);
    CHECK_EQ(g.status, -ECANCELED);
    CHECK_EQ(cask_queue_task_done(q), -EINVAL); /* the dropped item counted as done */
    CHECK_EQ(cask_queue_join(q), 0);
    cask_release(tg);
    cask_queue_free(q);
    return 0;
}
TEST(q_get_cancel_then_immediate_shutdown)
{
    CHECK_EQ(ct_run_virtual(get_cancel_immediate_main, NULL), 0);
}

/* Many getters handed items before any runs, then all cancelled: every item goes back into
 * the queue even when the allocator fails (room for them was made when they were handed). */
static int get_give_back_nomem_main(void *arg)
{
    (void)arg;
    cask_queue *q;
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    enum { N = 20 };
    struct qtask g[N];
    cask_task *t[N];
    for (int i = 0; i < N; i++) {
        g[i] = (struct qtask){q, "g", 0, NULL, 0};
        CHECK_EQ(cask_spawn(&t[i], getter, &g[i]), 0);
    }
    CHECK_EQ(cask_yield(), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(cask_queue_put_nowait(q, I(i)), 0);
    for (int i = 0; i < N; i++)
        CHECK(cask_cancel(t[i]));
    ct_fail_alloc_every(1);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(cask_join(t[i]), -ECANCELED);
        cask_release(t[i]);
    }
    ct_fail_alloc_every(0);
    CHECK_EQ(cask_queue_qsize(q), N);
    void *item;
    unsigned seen = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ(cask_queue_get_nowait(q, &item), 0);
        CHECK((intptr_t)item >= 0 && (intptr_t)item < N);
        seen |= 1u << (intptr_t)item;
    }
    CHECK_EQ(seen, (1u << N) - 1);
    cask_queue_free(q);
    return 0;
}
TEST(q_get_give_back_never_fails)
{
    CHECK_EQ(ct_run_virtual(get_give_back_nomem_main, NULL), 0);
}

/* test_timer.c: the timer heap (white-box): order, ties, removal from the middle, growth. */
#define _GNU_SOURCE
#include "../cask_test.h"
#include "internal.h"

static void nop_fire(struct cask__timer *t) { (void)t; }

static void check_heap(struct cask__heap *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        struct cask__timer *t = h->tm[h->v[i].slot];
        CHECK_EQ(t->index, h->v[i].slot + 1);
        CHECK_EQ(h->pos[h->v[i].slot], i);
        CHECK_EQ(h->v[i].when, t->when);
        CHECK_EQ(h->v[i].seq, t->seq);
        if (i > 0) {
            struct cask__heap_entry *p = &h->v[(i - 1) / 4];
            CHECK(p->when < h->v[i].when || (p->when == h->v[i].when && p->seq < h->v[i].seq));
        }
    }
}

TEST(timer_heap_random_order)
{
    enum { N = 20000 };
    struct cask__heap h = {0};
    struct cask__timer *ts = calloc(N, sizeof *ts);
    srand(7);
    for (int i = 0; i < N; i++) {
        ts[i].when = (uint64_t)(rand() % 1000); /* many ties */
        ts[i].seq = (uint64_t)i;
        ts[i].fire = nop_fire;
        CHECK_EQ(cask__heap_push(&h, &ts[i]), 0);
    }
    check_heap(&h);
    /* remove every third timer from wherever it sits */
    for (int i = 0; i < N; i += 3)
        cask__heap_remove(&h, &ts[i]);
    check_heap(&h);
    CHECK_EQ(h.n, N - (N + 2) / 3);
    /* the freed slots are reused: removed timers armed again, then removed again */
    for (int i = 0; i < N; i += 3) {
        ts[i].seq = (uint64_t)(N + i);
        CHECK_EQ(cask__heap_push(&h, &ts[i]), 0);
    }
    CHECK_EQ(h.slots, N);
    check_heap(&h);
    for (int i = 0; i < N; i += 3)
        cask__heap_remove(&h, &ts[i]);
    check_heap(&h);
    uint64_t last_when = 0, last_seq = 0;
    bool first = true;
    struct cask__timer *t;
    uint32_t popped = 0;
    while ((t = cask__heap_pop(&h))) {
        CHECK(t->index == 0);
        if (!first) {
            CHECK(t->when > last_when || (t->when == last_when && t->seq > last_seq));
        }
        first = false;
        last_when = t->when;
        last_seq = t->seq;
        popped++;
    }
    CHECK_EQ(popped, N - (N + 2) / 3);
    /* removing a timer that is not armed is a no-op */
    cask__heap_remove(&h, &ts[0]);
    cask__heap_free(&h);
    free(ts);
}

TEST(timer_heap_enomem)
{
    struct cask__heap h = {0};
    struct cask__timer t = {.when = 1}, *t2;
    ct_fail_alloc_after(1);
    CHECK_EQ(cask__heap_push(&h, &t), -ENOMEM);
    CHECK_EQ(h.n, 0);
    CHECK_EQ(t.index, 0);
    CHECK_EQ(cask__heap_push(&h, &t), 0);
    CHECK(cask__heap_pop(&h) == &t);
    /* growth past the first block keeps every table: 1000 timers armed, one in two removed */
    enum { M = 1000 };
    struct cask__timer *ts = calloc(M, sizeof *ts);
    for (int i = 0; i < M; i++) {
        ts[i].when = (uint64_t)(M - i);
        ts[i].seq = (uint64_t)i;
        CHECK_EQ(cask__heap_push(&h, &ts[i]), 0);
        if (i % 2)
            cask__heap_remove(&h, &ts[i - 1]);
    }
    check_heap(&h);
    ct_fail_alloc_after(1); /* a failed growth leaves the heap as it was */
    for (int i = 0; i < M; i += 2)
        if (cask__heap_push(&h, &ts[i]) != 0)
            break;
    ct_fail_alloc_after(0);
    check_heap(&h);
    for (uint64_t last = 0; (t2 = cask__heap_pop(&h));) {
        CHECK(t2->when >= last);
        last = t2->when;
    }
    free(ts);
    cask__heap_free(&h);
}

/* test_timer.c: the timer heap (white-box): order, ties, removal from the middle, growth. */
#define _GNU_SOURCE
#include "../cask_test.h"
#include "internal.h"

static void nop_fire(struct cask__timer *t) { (void)t; }

static void check_heap(struct cask__heap *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        CHECK_EQ(h->v[i].t->index, i + 1);
        CHECK_EQ(h->v[i].when, h->v[i].t->when);
        if (i > 0) {
            struct cask__heap_entry *p = &h->v[(i - 1) / 4];
            CHECK(p->when < h->v[i].when ||
                  (p->when == h->v[i].when && p->t->seq < h->v[i].t->seq));
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
    struct cask__timer t = {.when = 1};
    ct_fail_alloc_after(1);
    CHECK_EQ(cask__heap_push(&h, &t), -ENOMEM);
    CHECK_EQ(h.n, 0);
    CHECK_EQ(cask__heap_push(&h, &t), 0);
    CHECK(cask__heap_pop(&h) == &t);
    cask__heap_free(&h);
}

/*
 * timer.c: the timer heap. A 4-ary min-heap of (when, timer) entries: four children share a
 * cache line, so a million timers cost ten levels of mostly-cached compares. Entries with the
 * same deadline compare by the sequence number given when they were armed, so timers set for
 * one moment fire in the order they were set.
 */
#define _GNU_SOURCE
#include "../internal.h"

static inline bool before(const struct cask__heap_entry *a, const struct cask__heap_entry *b)
{
    /* equal deadlines: the earlier armed timer (smaller seq) goes first */
    return a->when < b->when || (a->when == b->when && a->t->seq < b->t->seq);
}

static inline void place(struct cask__heap *h, uint32_t i, struct cask__heap_entry e)
{
    h->v[i] = e;
    e.t->index = i + 1;
}

static void sift_up(struct cask__heap *h, uint32_t i, struct cask__heap_entry e)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (!before(&e, &h->v[parent]))
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(struct cask__heap *h, uint32_t i, struct cask__heap_entry e)
{
    for (;;) {
        uint32_t c = 4 * i + 1;
        if (c >= h->n)
            break;
        uint32_t best = c;
        uint32_t end = c + 4 < h->n ? c + 4 : h->n;
        for (uint32_t k = c + 1; k < end; k++)
            if (before(&h->v[k], &h->v[best]))
                best = k;
        if (!before(&h->v[best], &e))
            break;
        place(h, i, h->v[best]);
        i = best;
    }
    place(h, i, e);
}

int cask__heap_push(struct cask__heap *h, struct cask__timer *t)
{
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct cask__heap_entry *v = cask__realloc(h->v, (size_t)cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    struct cask__heap_entry e = {t->when, t};
    sift_up(h, h->n++, e);
    return 0;
}

void cask__heap_remove(struct cask__heap *h, struct cask__timer *t)
{
    if (!t->index)
        return;
    uint32_t i = t->index - 1;
    t->index = 0;
    struct cask__heap_entry last = h->v[--h->n];
    if (i == h->n)
        return;
    if (i > 0 && before(&last, &h->v[(i - 1) / 4]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

struct cask__timer *cask__heap_pop(struct cask__heap *h)
{
    if (!h->n)
        return NULL;
    struct cask__timer *t = h->v[0].t;
    t->index = 0;
    struct cask__heap_entry last = h->v[--h->n];
    if (h->n)
        sift_down(h, 0, last);
    return t;
}

void cask__heap_free(struct cask__heap *h)
{
    cask__free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

/*
 * timer.c: the timer heap. A 4-ary min-heap of (when, seq, slot) entries: the entries carry
 * their own keys, so a sift compares and moves entries and records positions in the slot
 * table, and never touches a timer (a million sleeping tasks' timers lie on a million pages;
 * writing each moved timer's position into it touched about ten of them per wake-up). Entries
 * with the same deadline compare by the sequence number given when they were armed, so timers
 * set for one moment fire in the order they were set.
 */
#define _GNU_SOURCE
#include "../internal.h"

static inline bool before(const struct cask__heap_entry *a, const struct cask__heap_entry *b)
{
    /* equal deadlines: the earlier armed timer (smaller seq) goes first */
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(struct cask__heap *h, uint32_t i, struct cask__heap_entry e)
{
    h->v[i] = e;
    h->pos[e.slot] = i;
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

/*
 * Room for one more entry and one more slot; 0 or -ENOMEM (nothing changed). A timer holds a
 * slot exactly while it has an entry, so the slot tables need the entries' capacity: all three
 * arrays are one block, [entries][timers][positions].
 */
static int reserve(struct cask__heap *h)
{
    if (h->n < h->cap)
        return 0;
    uint32_t old = h->cap, cap = old ? old * 2 : 64;
    size_t ev = sizeof *h->v, et = sizeof *h->tm, ep = sizeof *h->pos;
    char *b = cask__realloc(h->v, (size_t)cap * (ev + et + ep));
    if (!b)
        return -ENOMEM;
    /* the tables move up to their new offsets, the last one first */
    memmove(b + (size_t)cap * (ev + et), b + (size_t)old * (ev + et), (size_t)old * ep);
    memmove(b + (size_t)cap * ev, b + (size_t)old * ev, (size_t)old * et);
    h->v = (struct cask__heap_entry *)(void *)b;
    h->tm = (struct cask__timer **)(void *)(b + (size_t)cap * ev);
    h->pos = (uint32_t *)(void *)(b + (size_t)cap * (ev + et));
    h->cap = cap;
    return 0;
}

static void slot_free(struct cask__heap *h, uint32_t slot)
{
    h->pos[slot] = h->free_slot;
    h->free_slot = slot + 1;
}

int cask__heap_push(struct cask__heap *h, struct cask__timer *t)
{
    int rc = reserve(h);
    if (rc)
        return rc;
    uint32_t slot;
    if (h->free_slot) { /* the last freed slot: its table entries are the warmest */
        slot = h->free_slot - 1;
        h->free_slot = h->pos[slot];
    } else {
        slot = h->slots++;
    }
    h->tm[slot] = t;
    t->index = slot + 1;
    struct cask__heap_entry e = {t->when, t->seq, slot};
    sift_up(h, h->n++, e);
    return 0;
}

void cask__heap_remove(struct cask__heap *h, struct cask__timer *t)
{
    if (!t->index)
        return;
    uint32_t slot = t->index - 1;
    uint32_t i = h->pos[slot];
    t->index = 0;
    slot_free(h, slot);
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
    uint32_t slot = h->v[0].slot;
    struct cask__timer *t = h->tm[slot];
    t->index = 0;
    slot_free(h, slot);
    struct cask__heap_entry last = h->v[--h->n];
    if (h->n)
        sift_down(h, 0, last);
    return t;
}

void cask__heap_free(struct cask__heap *h)
{
    cask__free(h->v);
    *h = (struct cask__heap){0};
}

/*
 * queue.c: asyncio.Queue, LifoQueue and PriorityQueue of `void *` items. FIFO and LIFO keep
 * the items in a ring buffer, the priority queue in a binary heap whose ties break on an
 * insertion counter (equal priorities come out FIFO).
 *
 * Fairness without hand-over of the item itself: a put that finds getters waiting leaves the
 * item in the buffer and wakes the first getter with one item *reserved* for it (reserved_get);
 * a fresh get only takes items nobody was promised. A get that frees a slot likewise wakes the
 * first putter with the slot reserved (reserved_put). A woken task that finds itself cancelled
 * gives its reservation back and wakes the next waiter (kick), so no item and no wakeup is lost
 * and nothing is taken or inserted by a call that returns -ECANCELED.
 */
#define _GNU_SOURCE
#include "sync.h"

struct pq_entry {
    void *item;
    uint64_t seq; /* insertion order: ties come out FIFO */
};

struct cask_queue {
    struct cask__wq getters, putters, joiners;
    size_t maxsize;      /* 0: unbounded */
    size_t count;        /* items held */
    size_t reserved_get; /* of those, promised to woken getters */
    size_t reserved_put; /* free slots promised to woken putters */
    size_t unfinished;   /* puts not yet matched by task_done */
    size_t cap;          /* slots allocated (a power of two for the ring) */
    size_t head;         /* ring: index of the oldest item */
    void **ring;
    struct pq_entry *heap;
    uint64_t seq;
    cask_queue_cmp cmp;
    enum cask_queue_kind kind;
    bool shutdown;
    bool immediate; /* shut down with immediate: gets fail at once, reservations are void */
};

/* ---- storage ---- */

static int int_cmp(const void *a, const void *b)
{
    intptr_t x = (intptr_t)a, y = (intptr_t)b;
    return (x > y) - (x < y);
}

static int grow(cask_queue *q)
{
    size_t ncap = q->cap ? q->cap * 2 : 8;
    if (q->kind == CASK_QUEUE_PRIORITY) {
        struct pq_entry *h = cask__realloc(q->heap, ncap * sizeof *h);
        if (!h)
            return -ENOMEM;
        q->heap = h;
    } else {
        void **r = cask__malloc(ncap * sizeof *r);
        if (!r)
            return -ENOMEM;
        for (size_t i = 0; i < q->count; i++)
            r[i] = q->ring[(q->head + i) & (q->cap - 1)];
        cask__free(q->ring);
        q->ring = r;
        q->head = 0;
    }
    q->cap = ncap;
    return 0;
}

static bool pq_before(const cask_queue *q, const struct pq_entry *a, const struct pq_entry *b)
{
    int c = q->cmp(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void pq_push(cask_queue *q, void *item)
{
    struct pq_entry e = {item, q->seq++};
    size_t i = q->count;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pq_before(q, &e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
}

static void *pq_pop(cask_queue *q)
{
    void *top = q->heap[0].item;
    size_t n = q->count - 1; /* entries left after the pop; the last one sinks from the root */
    struct pq_entry e = q->heap[n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pq_before(q, &q->heap[c + 1], &q->heap[c]))
            c++;
        if (!pq_before(q, &q->heap[c], &e))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n)
        q->heap[i] = e;
    return top;
}

/* Adds item (the caller checked room). Returns 0 or -ENOMEM. */
static int insert(cask_queue *q, void *item)
{
    if (CASK__UNLIKELY(q->count == q->cap) && grow(q) != 0)
        return -ENOMEM;
    if (q->kind == CASK_QUEUE_PRIORITY)
        pq_push(q, item);
    else
        q->ring[(q->head + q->count) & (q->cap - 1)] = item;
    q->count++;
    q->unfinished++;
    return 0;
}

static void *take(cask_queue *q)
{
    void *item;
    if (q->kind == CASK_QUEUE_FIFO) {
        item = q->ring[q->head];
        q->head = (q->head + 1) & (q->cap - 1);
    } else if (q->kind == CASK_QUEUE_LIFO) {
        item = q->ring[(q->head + q->count - 1) & (q->cap - 1)];
    } else {
        item = pq_pop(q);
    }
    q->count--;
    return item;
}

/* ---- fairness ---- */

static inline bool has_room(const cask_queue *q)
{
    return q->maxsize == 0 || q->count + q->reserved_put < q->maxsize;
}

static inline bool has_unpromised(const cask_queue *q) { return q->count > q->reserved_get; }

/* Wakes waiters for whatever is free and not yet promised: items for getters, slots for
 * putters, each with its reservation. Keeps "getters wait only when every item is promised,
 * putters only when every slot is". */
static void kick(cask_queue *q)
{
    struct cask__waiter *w;
    while (has_unpromised(q) && (w = cask__wq_pop(&q->getters))) {
        q->reserved_get++;
        cask__signal(w, 0);
    }
    while (!q->shutdown && has_room(q) && (w = cask__wq_pop(&q->putters))) {
        q->reserved_put++;
        cask__signal(w, 0);
    }
}

static void wake_all(struct cask__wq *wq, int status)
{
    struct cask__waiter *w;
    while ((w = cask__wq_pop(wq)))
        cask__signal(w, status);
}

/* Parks self on wq; returns the wake status. */
static int park_on(struct cask__wq *wq, const char *what, cask_queue *q, cask_task *self)
{
    struct cask__waiter w;
    cask__waiter_init(&w, what, q);
    w.task = self;
    cask__wq_push(wq, &w);
    return cask__park(&w);
}

/* ---- the API ---- */

int cask_queue_new(cask_queue **out, size_t maxsize, enum cask_queue_kind kind,
                   cask_queue_cmp cmp)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (kind != CASK_QUEUE_FIFO && kind != CASK_QUEUE_LIFO && kind != CASK_QUEUE_PRIORITY)
        return -EINVAL;
    cask_queue *q = cask__calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->maxsize = maxsize;
    q->kind = kind;
    q->cmp = cmp ? cmp : int_cmp;
    /* a bounded queue of up to 1024 items gets all its slots now: its puts never allocate */
    while (q->cap < 1024 && (maxsize == 0 ? q->cap < 8 : q->cap < maxsize)) {
        if (grow(q) != 0) {
            cask_queue_free(q);
            return -ENOMEM;
        }
    }
    *out = q;
    return 0;
}

void cask_queue_free(cask_queue *q)
{
    if (!q)
        return;
    CASK__CHECK(cask__wq_empty(&q->getters) && cask__wq_empty(&q->putters) &&
                    cask__wq_empty(&q->joiners),
                "freeing a queue that tasks wait on");
    cask__free(q->ring);
    cask__free(q->heap);
    cask__free(q);
}

int cask_queue_put_nowait(cask_queue *q, void *item)
{
    if (q->shutdown)
        return -ESHUTDOWN;
    if (!has_room(q))
        return -EAGAIN;
    int rc = insert(q, item);
    if (rc == 0)
        kick(q);
    return rc;
}

int cask_queue_put(cask_queue *q, void *item)
{
    if (q->shutdown)
        return -ESHUTDOWN;
    if (CASK__LIKELY(has_room(q))) {
        int rc = insert(q, item);
        if (CASK__LIKELY(rc == 0))
            kick(q);
        return rc;
    }
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    int rc = park_on(&q->putters, "queue put", q, self);
    if (rc != 0)
        return rc; /* cancelled or shut down while waiting: nothing was reserved */
    q->reserved_put--; /* woken with a slot reserved for this put */
    if (q->shutdown)
        rc = -ESHUTDOWN;
    else if (cask__cancelled(self))
        rc = cask__cancel_now(self);
    else
        rc = insert(q, item);
    kick(q); /* the item for a getter, or the slot back for the next putter */
    return rc;
}

int cask_queue_get_nowait(cask_queue *q, void **item)
{
    if (!has_unpromised(q))
        return q->shutdown ? -ESHUTDOWN : -EAGAIN;
    void *it = take(q);
    if (item)
        *item = it;
    kick(q);
    return 0;
}

int cask_queue_get(cask_queue *q, void **item)
{
    if (CASK__LIKELY(has_unpromised(q))) {
        void *it = take(q);
        if (item)
            *item = it;
        kick(q);
        return 0;
    }
    if (q->shutdown)
        return -ESHUTDOWN;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    int rc = park_on(&q->getters, "queue get", q, self);
    if (rc != 0)
        return rc; /* cancelled or shut down while waiting: nothing was reserved */
    if (q->immediate)
        return -ESHUTDOWN; /* the items, and so this reservation, were dropped */
    q->reserved_get--; /* woken with an item reserved for this get */
    if (cask__cancelled(self)) {
        kick(q); /* the item goes to the next getter (CONFORMANCE Q2) */
        return cask__cancel_now(self);
    }
    void *it = take(q);
    if (item)
        *item = it;
    kick(q);
    return 0;
}

int cask_queue_task_done(cask_queue *q)
{
    if (q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        wake_all(&q->joiners, 0);
    return 0;
}

int cask_queue_join(cask_queue *q)
{
    if (q->unfinished == 0)
        return 0;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    return park_on(&q->joiners, "queue join", q, self);
}

void cask_queue_shutdown(cask_queue *q, bool immediate)
{
    q->shutdown = true;
    if (immediate) {
        q->immediate = true;
        size_t dropped = q->count;
        q->count = 0;
        q->head = 0;
        q->reserved_get = 0;
        q->unfinished -= dropped < q->unfinished ? dropped : q->unfinished;
        if (q->unfinished == 0)
            wake_all(&q->joiners, 0);
    }
    /* the getters still waiting were promised nothing and nothing more will come */
    wake_all(&q->getters, -ESHUTDOWN);
    wake_all(&q->putters, -ESHUTDOWN);
}

size_t cask_queue_qsize(const cask_queue *q) { return q->count; }
bool cask_queue_empty(const cask_queue *q) { return q->count == 0; }
bool cask_queue_full(const cask_queue *q) { return !has_room(q); }
size_t cask_queue_maxsize(const cask_queue *q) { return q->maxsize; }

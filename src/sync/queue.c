/*
 * queue.c: asyncio.Queue, LifoQueue and PriorityQueue of `void *` items. FIFO and LIFO keep
 * the items in a ring buffer, the priority queue in a binary heap whose ties break on an
 * insertion counter (equal priorities come out FIFO).
 *
 * Waiting tasks are served in order. A put that finds getters waiting hands its item straight
 * to the first of them (getters wait only while the queue is empty); a get that frees a slot
 * reserves it for the first waiting putter, which puts its item itself when it runs (no later
 * put can take the slot meanwhile). Cancellation keeps -ECANCELED meaning "did nothing": a
 * getter handed an item and cancelled before it resumes gives the item back (to the next
 * getter, else to the front of the queue: room for that was made when it was handed the item,
 * so it cannot fail), and a putter granted a slot and cancelled before it resumes passes the
 * slot on to the next putter (as the lock and the semaphore pass on their grants).
 */
#define _GNU_SOURCE
#include "sync.h"

struct pq_entry {
    void *item;
    int64_t seq; /* insertion order: ties come out FIFO; items given back go first */
};

struct cask_queue {
    struct cask__wq getters, putters, joiners;
    size_t maxsize;    /* 0: unbounded */
    size_t count;      /* items held */
    size_t reserved;   /* freed slots granted to waiting putters that have not run yet */
    size_t handed;     /* items handed to waiting getters that have not run yet */
    size_t unfinished; /* puts not yet matched by task_done */
    size_t cap;        /* slots allocated (a power of two for the ring) */
    size_t head;       /* ring: index of the oldest item */
    void **ring;
    struct pq_entry *heap;
    int64_t seq, back_seq;
    cask_queue_cmp cmp;
    enum cask_queue_kind kind;
    bool shutdown;
    bool immediate; /* shut down with immediate */
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

static void pq_push(cask_queue *q, void *item, int64_t seq)
{
    struct pq_entry e = {item, seq};
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

/* Room to hold every item handed to a getter as well: a cancelled getter gives its item back
 * into the queue, and that must not fail. Returns 0 or -ENOMEM. */
static inline int make_room(cask_queue *q)
{
    if (CASK__UNLIKELY(q->count + q->handed >= q->cap) && grow(q) != 0)
        return -ENOMEM;
    return 0;
}

/* Adds a new item at the back (the caller checked room). Returns 0 or -ENOMEM. */
static int insert(cask_queue *q, void *item)
{
    if (make_room(q) != 0)
        return -ENOMEM;
    if (q->kind == CASK_QUEUE_PRIORITY)
        pq_push(q, item, q->seq++);
    else
        q->ring[(q->head + q->count) & (q->cap - 1)] = item;
    q->count++;
    q->unfinished++;
    return 0;
}

/* Puts back an item a cancelled getter was handed, as the oldest one. There is room: the
 * slots cover count + handed, and the getter giving it back is one of the handed. */
static void insert_front(cask_queue *q, void *item)
{
    CASK__CHECK(q->count < q->cap, "queue: no room to give an item back");
    if (q->kind == CASK_QUEUE_PRIORITY) {
        pq_push(q, item, --q->back_seq);
    } else {
        q->head = (q->head - 1) & (q->cap - 1);
        q->ring[q->head] = item;
    }
    q->count++;
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

/* ---- hand-over ---- */

/* A slot is free for a new put (slots reserved for woken putters are not). */
static inline bool has_room(const cask_queue *q)
{
    return q->maxsize == 0 || q->count + q->reserved < q->maxsize;
}

/* Gives a new item to the first waiting getter (there is one). Returns 0 or -ENOMEM. */
static int hand_to_getter(cask_queue *q, void *item)
{
    if (make_room(q) != 0)
        return -ENOMEM;
    struct cask__waiter *g = cask__wq_pop(&q->getters);
    g->data = item;
    q->handed++;
    q->unfinished++;
    cask__signal(g, 0);
    return 0;
}

/* After a get (or a granted putter that gave its slot back): reserves the free slots for the
 * first waiting putters and wakes them; each puts its own item when it runs. */
static void refill(cask_queue *q)
{
    while (CASK__UNLIKELY(!cask__wq_empty(&q->putters)) && has_room(q)) {
        struct cask__waiter *p = cask__wq_pop(&q->putters);
        q->reserved++;
        cask__signal(p, 0);
    }
}

static void wake_all(struct cask__wq *wq, int status)
{
    struct cask__waiter *w;
    while ((w = cask__wq_pop(wq)))
        cask__signal(w, status);
}

static void unfinished_done(cask_queue *q, size_t n)
{
    q->unfinished -= n < q->unfinished ? n : q->unfinished;
    if (q->unfinished == 0)
        wake_all(&q->joiners, 0);
}

/* A cancelled getter gives back the item it was handed (it is still counted in handed): to the
 * next getter, else to the front of the queue. After an immediate shutdown the item is dropped
 * with the others (counted as done). */
static void give_back(cask_queue *q, void *item)
{
    if (q->immediate) {
        q->handed--;
        unfinished_done(q, 1);
    } else if (!cask__wq_empty(&q->getters)) {
        struct cask__waiter *g = cask__wq_pop(&q->getters); /* takes over the handed count */
        g->data = item;
        cask__signal(g, 0);
    } else {
        insert_front(q, item);
        q->handed--;
    }
}

/* Parks self on wq with w->data = data; returns the wake status and the data it was left. */
static int park_on(struct cask__wq *wq, const char *what, cask_queue *q, cask_task *self,
                   void **data)
{
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, what, q);
    w->task = self;
    w->data = *data;
    cask__wq_push(wq, w);
    int rc = cask__park(w);
    *data = w->data;
    return rc;
}

/* ---- the API ---- */

int cask_queue_new(cask_queue **out, size_t maxsize, enum cask_queue_kind kind, cask_queue_cmp cmp)
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
    /* a bounded queue of up to 1024 items gets all its slots now (and one to give an item
     * back when full): its puts and gets do not allocate (unless several getters were handed
     * items and have not run yet while the queue filled up) */
    while (q->cap < 2048 && (maxsize == 0 ? q->cap < 8 : q->cap <= maxsize)) {
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
                    cask__wq_empty(&q->joiners) && q->reserved == 0 && q->handed == 0,
                "freeing a queue that tasks wait on");
    cask__free(q->ring);
    cask__free(q->heap);
    cask__free(q);
}

/* put without waiting: 1 if it must wait, else the status */
static inline int put_now(cask_queue *q, void *item)
{
    if (CASK__UNLIKELY(q->shutdown))
        return -ESHUTDOWN;
    if (!cask__wq_empty(&q->getters)) /* getters wait only on an empty queue */
        return hand_to_getter(q, item);
    if (CASK__LIKELY(has_room(q)))
        return insert(q, item);
    return 1;
}

int cask_queue_put_nowait(cask_queue *q, void *item)
{
    if (CASK__UNLIKELY(!q))
        return -EINVAL;
    int rc = put_now(q, item);
    return rc == 1 ? -EAGAIN : rc;
}

int cask_queue_put(cask_queue *q, void *item)
{
    if (CASK__UNLIKELY(!q))
        return -EINVAL;
    int rc = put_now(q, item);
    if (CASK__LIKELY(rc != 1))
        return rc;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    rc = park_on(&q->putters, "queue put", q, self, &item);
    if (rc != 0)
        return rc; /* cancelled or shut down while waiting: it was granted no slot */
    /* granted a slot: put the item in it, unless cancelled or shut down since */
    q->reserved--;
    if (CASK__UNLIKELY(cask__cancelled(self))) {
        refill(q); /* pass the slot on */
        return cask__cancel_now(self);
    }
    if (CASK__UNLIKELY(q->shutdown))
        return -ESHUTDOWN;
    rc = cask__wq_empty(&q->getters) ? insert(q, item) : hand_to_getter(q, item);
    refill(q); /* the slot is free again if the item went to a getter or was not added */
    return rc;
}

int cask_queue_get_nowait(cask_queue *q, void **item)
{
    if (CASK__UNLIKELY(!q))
        return -EINVAL;
    if (!q->count)
        return q->shutdown ? -ESHUTDOWN : -EAGAIN;
    void *it = take(q);
    refill(q);
    if (item)
        *item = it;
    return 0;
}

int cask_queue_get(cask_queue *q, void **item)
{
    void *it;
    if (CASK__UNLIKELY(!q))
        return -EINVAL;
    if (CASK__LIKELY(q->count)) {
        it = take(q);
        refill(q);
    } else {
        if (q->shutdown)
            return -ESHUTDOWN;
        cask_task *self = cask__self();
        if (!self)
            return -EPERM;
        it = NULL;
        int rc = park_on(&q->getters, "queue get", q, self, &it);
        if (rc != 0)
            return rc; /* cancelled or shut down while waiting: nothing was handed over */
        if (CASK__UNLIKELY(cask__cancelled(self))) {
            give_back(q, it); /* handed an item, then cancelled (CONFORMANCE Q2) */
            return cask__cancel_now(self);
        }
        q->handed--;
    }
    if (item)
        *item = it;
    return 0;
}

int cask_queue_task_done(cask_queue *q)
{
    if (!q || q->unfinished == 0)
        return -EINVAL;
    unfinished_done(q, 1);
    return 0;
}

int cask_queue_join(cask_queue *q)
{
    if (!q)
        return -EINVAL;
    if (q->unfinished == 0)
        return 0;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    void *unused = NULL;
    return park_on(&q->joiners, "queue join", q, self, &unused);
}

void cask_queue_shutdown(cask_queue *q, bool immediate)
{
    if (!q)
        return;
    q->shutdown = true;
    if (immediate) {
        q->immediate = true;
        size_t dropped = q->count;
        q->count = 0;
        q->head = 0;
        unfinished_done(q, dropped);
    }
    /* getters wait only on an empty queue, and nothing more will come */
    wake_all(&q->getters, -ESHUTDOWN);
    wake_all(&q->putters, -ESHUTDOWN);
}

size_t cask_queue_qsize(const cask_queue *q) { return q ? q->count : 0; }
bool cask_queue_empty(const cask_queue *q) { return !q || q->count == 0; }
bool cask_queue_full(const cask_queue *q) { return q && !has_room(q); }
size_t cask_queue_maxsize(const cask_queue *q) { return q ? q->maxsize : 0; }

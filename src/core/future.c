/*
 * future.c: futures, one-shot cells awaited by any number of tasks. Completing a future wakes
 * its waiters in the order they began waiting and schedules its done callbacks on the loop
 * (never inline). A future is kept alive by its user's reference and by each scheduled
 * callback; the loop keeps a list of live futures to report failures nobody read at close.
 */
#define _GNU_SOURCE
#include "../internal.h"

enum { F_PENDING = 0, F_RESULT, F_ERROR, F_CANCELLED };

struct fcb {
    cask_future_cb cb;
    void *arg;
};

struct cask_future {
    cask_loop *loop;
    uint8_t state;
    bool retrieved;
    bool freed; /* the user called free; memory goes when the last callback ran */
    int err;
    void *value;
    int refs;
    struct cask__wq waiters;
    struct fcb *cbs;
    size_t ncbs, capcbs;
    struct cask_future *prev, *next; /* the loop's list of live futures */
};

int cask_future_new(cask_future **out)
{
    cask_loop *l = cask__loop;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!l)
        return -EPERM;
    cask_future *f = cask__calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->loop = l;
    f->refs = 1;
    f->next = l->futures;
    if (l->futures)
        l->futures->prev = f;
    l->futures = f;
    *out = f;
    return 0;
}

static void report(cask_future *f)
{
    if (f->state == F_ERROR && !f->retrieved) {
        f->retrieved = true;
        char name[32];
        snprintf(name, sizeof name, "%p", (void *)f);
        cask__report_unretrieved("future", name, f->err);
    }
}

static void unref(cask_future *f)
{
    if (--f->refs > 0)
        return;
    cask_loop *l = f->loop;
    if (f->prev)
        f->prev->next = f->next;
    else
        l->futures = f->next;
    if (f->next)
        f->next->prev = f->prev;
    cask__free(f->cbs);
    cask__free(f);
}

static void run_cb(void *fp, void *cbp, void *arg)
{
    cask_future *f = fp;
    cask_future_cb cb;
    memcpy(&cb, &cbp, sizeof cb);
    cb(f, arg);
    unref(f);
}

static void *fn_ptr(cask_future_cb cb)
{
    void *p;
    memcpy(&p, &cb, sizeof p);
    return p;
}

static void schedule_cb(cask_future *f, struct fcb c)
{
    if (cask__call_soon3(f->loop, run_cb, f, fn_ptr(c.cb), c.arg) == 0)
        f->refs++;
    else /* out of memory for the handle: the callback cannot be lost, so run it now */
        c.cb(f, c.arg);
}

static void complete(cask_future *f, uint8_t state, int err, void *value)
{
    f->state = state;
    f->err = err;
    f->value = value;
    struct cask__waiter *w;
    int status = state == F_RESULT ? 0 : state == F_ERROR ? err : -ECANCELED;
    if (f->waiters.head)
        f->retrieved = true; /* the error is handed to the waiters: it has been read */
    while ((w = cask__wq_pop(&f->waiters))) {
        w->data = value; /* hand the value over: the waiter need not touch f again */
        cask__signal(w, status);
    }
    f->refs++; /* a callback run inline (no memory for its handle) may free f */
    for (size_t i = 0; i < f->ncbs; i++)
        schedule_cb(f, f->cbs[i]);
    f->ncbs = 0;
    unref(f);
}

void cask_future_free(cask_future *f)
{
    if (!f || f->freed)
        return;
    f->freed = true;
    if (f->state == F_PENDING)
        complete(f, F_CANCELLED, -ECANCELED, NULL);
    report(f);
    unref(f);
}

int cask_future_set_result(cask_future *f, void *value)
{
    if (!f || f->state != F_PENDING)
        return -EINVAL;
    complete(f, F_RESULT, 0, value);
    return 0;
}

int cask_future_set_error(cask_future *f, int err)
{
    if (!f || f->state != F_PENDING || err >= 0)
        return -EINVAL;
    complete(f, F_ERROR, err, NULL);
    return 0;
}

bool cask_future_cancel(cask_future *f)
{
    if (!f || f->state != F_PENDING)
        return false;
    complete(f, F_CANCELLED, -ECANCELED, NULL);
    return true;
}

bool cask_future_done(const cask_future *f) { return f && f->state != F_PENDING; }
bool cask_future_cancelled(const cask_future *f) { return f && f->state == F_CANCELLED; }

int cask_future_result(cask_future *f, void **value)
{
    if (!f)
        return -EINVAL;
    switch (f->state) {
    case F_PENDING: return -EAGAIN;
    case F_RESULT:
        f->retrieved = true;
        if (value)
            *value = f->value;
        return 0;
    case F_ERROR: f->retrieved = true; return f->err;
    default: return -ECANCELED;
    }
}

static bool await_on_cancel(struct cask__waiter *w)
{
    /* the awaiting task was cancelled: asyncio cancels the future it awaits */
    cask_future *f = (cask_future *)w->obj;
    cask__wq_remove(w);
    cask_future_cancel(f);
    return true;
}

int cask_future_await(cask_future *f, void **value)
{
    if (!f)
        return -EINVAL;
    if (f->loop != cask__loop)
        return -EPERM; /* a future of another thread's loop */
    if (f->state != F_PENDING)
        return cask_future_result(f, value);
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, "future", f);
    w->on_cancel = await_on_cancel;
    w->task = self;
    cask__wq_push(&f->waiters, w);
    int rc = cask__park(w);
    if (rc == 0 && value)
        *value = w->data; /* not f->value: f may have been freed since it woke us */
    return rc;
}

int cask_future_add_done_callback(cask_future *f, cask_future_cb cb, void *arg)
{
    if (!f || !cb)
        return -EINVAL;
    struct fcb c = {cb, arg};
    if (f->state != F_PENDING) {
        if (cask__call_soon3(f->loop, run_cb, f, fn_ptr(cb), arg) != 0)
            return -ENOMEM;
        f->refs++;
        return 0;
    }
    if (f->ncbs == f->capcbs) {
        size_t cap = f->capcbs ? f->capcbs * 2 : 4;
        struct fcb *n = cask__realloc(f->cbs, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        f->cbs = n;
        f->capcbs = cap;
    }
    f->cbs[f->ncbs++] = c;
    return 0;
}

int cask_future_remove_done_callback(cask_future *f, cask_future_cb cb, void *arg)
{
    if (!f)
        return 0;
    size_t k = 0;
    int removed = 0;
    for (size_t i = 0; i < f->ncbs; i++) {
        if (f->cbs[i].cb == cb && f->cbs[i].arg == arg)
            removed++;
        else
            f->cbs[k++] = f->cbs[i];
    }
    f->ncbs = k;
    return removed;
}

void cask__futures_close(cask_loop *l)
{
    cask_future *f = l->futures;
    while (f) {
        cask_future *next = f->next;
        report(f);
        cask__free(f->cbs);
        cask__free(f);
        f = next;
    }
    l->futures = NULL;
}

/*
 * group.c: task groups (asyncio.TaskGroup, trio's nursery). A group is a scope on its owner's
 * stack plus a list of its running children, threaded through the links every task reserves
 * for this (group, group_next/prev, on_done), so spawning into a group allocates nothing.
 * Here: spawn and start, a child's end (failure bookkeeping, aborting), close, cancel.
 */
#define _GNU_SOURCE
#include "../internal.h"

enum {
    G_OPEN = 1,      /* between open and the end of close */
    G_CLOSING = 2,   /* the owner is in close */
    G_ABORTING = 4,  /* failed or cancelled: children cancelled, no new ones */
    G_CANCELLED = 8, /* cask_group_cancel was called */
    G_FINISHED = 16, /* every child ended after close began: no new ones */
    G_BOXED = 32,    /* a compact task's group: the real one is the heap box closer_ */
    G_INBOX = 64,    /* the heap box of a boxed group (struct group_box) */
};

/* The heap box of a compact task's group, with the struct on the stack it stands for. */
struct group_box {
    cask_group g;
    const cask_group *handle;
};

/* A group on a compact task's stack is reached by its children and the loop while the owner
 * is parked: the real group is a heap box the struct on the stack points to until close. */
static cask_group *greal(cask_group *g)
{
    return g && (g->state_ & G_BOXED) ? (cask_group *)g->closer_ : g;
}

/* A pending cask_group_start, on the starter's stack. */
struct cask__group_start {
    struct cask__waiter w; /* the starter parks here; w.obj is the child */
    struct cask__group_start *next;
    cask_group *group;
    void *value;
    int status;
    bool done;
};

/*
 * Parks on w (whose on_cancel keeps the task parked) until signalled, also when the task is
 * already cancelled: then on_cancel runs first and the wait is shielded, since whatever a
 * cancellation had to do, on_cancel did.
 */
static int park_through(struct cask__waiter *w)
{
    cask_task *self = w->task;
    if (!cask__cancelled(self))
        return cask__park(w);
    w->on_cancel(w);
    cask_scope shield; /* (boxed by scope.c when self is a compact task) */
    int rc = cask__scope_open(&shield, CASK__SCOPE_SHIELD, CASK__NEVER);
    CASK__CHECK(rc == 0, "shield scope: %d", rc);
    rc = cask__park(w);
    return cask_scope_close(&shield, rc);
}

static bool parked_on(const struct cask__waiter *w)
{
    return w->task->state == CASK__T_PARKED && w->task->waiter == w;
}

static void start_finish(struct cask__group_start *s, int status)
{
    s->done = true;
    s->status = status;
    if (parked_on(&s->w)) /* not yet parked: an eager child, still inside the spawn */
        cask__signal(&s->w, status);
}

/* ---- the children list ---- */

static void child_unlink(cask_group *g, cask_task *t)
{
    if (t->group_prev)
        t->group_prev->group_next = t->group_next;
    else
        g->head_ = t->group_next;
    if (t->group_next)
        t->group_next->group_prev = t->group_prev;
    else
        g->tail_ = t->group_prev;
    t->group_next = t->group_prev = NULL;
    t->group = NULL;
    g->live_--;
}

/* Cancels the children (newest first, CONFORMANCE TG7) and the block; refuses new children. */
static void group_abort(cask_group *g)
{
    if (g->state_ & G_ABORTING)
        return;
    g->state_ |= G_ABORTING;
    for (cask_task *t = g->tail_, *prev; t; t = prev) {
        prev = t->group_prev;
        cask_cancel(t);
    }
    /* the owner's wait in progress inside the block returns -ECANCELED; in close it is not
     * in the block any more and just waits for the children */
    if (!(g->state_ & G_CLOSING))
        cask__scope_expire(&g->scope_);
}

static void record_failure(cask_group *g, int status)
{
    if (g->nerrors_ < CASK_GROUP_MAX_ERRORS)
        g->errors_[g->nerrors_] = status;
    g->nerrors_++;
    if (!g->first_)
        g->first_ = status;
    group_abort(g);
}

static struct cask__group_start *start_of(cask_group *g, const cask_task *t,
                                          struct cask__group_start ***link)
{
    for (struct cask__group_start **p = &g->starts_; *p; p = &(*p)->next) {
        if ((*p)->w.obj == t) {
            if (link)
                *link = p;
            return *p;
        }
    }
    return NULL;
}

/* A child ended (called in its last frame, before its joiners wake). */
static void child_done(cask_task *t)
{
    cask_group *g = t->group;
    int status = t->status;
    child_unlink(g, t);
    struct cask__group_start **link;
    struct cask__group_start *s = g->starts_ ? start_of(g, t, &link) : NULL;
    if (s) {
        /* it ended before reporting it started: its status goes to the starter */
        *link = s->next;
        t->flags |= CASK__TF_RETRIEVED;
        start_finish(s, status < 0 ? status : -EINVAL);
    } else if (status < 0 && status != -ECANCELED) {
        t->flags |= CASK__TF_RETRIEVED; /* the group reports it */
        record_failure(g, status);
    }
    if (g->live_ == 0 && (g->state_ & G_CLOSING)) {
        g->state_ |= G_FINISHED;
        struct cask__waiter *w = g->closer_;
        if (w) {
            g->closer_ = NULL;
            cask__signal(w, 0);
        }
    }
}

static void child_link(cask_task *t, void *ctx)
{
    cask_group *g = ctx;
    t->group = g;
    t->on_done = child_done;
    t->group_next = NULL;
    t->group_prev = g->tail_;
    if (g->tail_)
        g->tail_->group_next = t;
    else
        g->head_ = t;
    g->tail_ = t;
    g->live_++;
}

/* ---- open, spawn, start ---- */

int cask_group_open(cask_group *g)
{
    if (!g)
        return -EINVAL;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    /* (g may hold anything before its first open: it is not read, only its address is
     * compared with the open groups', and with the boxes' back pointers) */
    for (const cask_scope *o = self->scope; o; o = o->parent_) {
        if (o == &g->scope_)
            return -EINVAL; /* opened again before it was closed: its children live on */
        if (o->flags_ & CASK__SCOPE_GROUP) {
            const cask_group *og =
                (const cask_group *)((const char *)o - offsetof(cask_group, scope_));
            if ((og->state_ & G_INBOX) && ((const struct group_box *)og)->handle == g)
                return -EINVAL;
        }
    }
    if (cask__on_own_stack(self, g)) {
        struct group_box *box = cask__malloc(sizeof *box);
        if (!box)
            return -ENOMEM;
        int rc = cask_group_open(&box->g);
        if (rc) {
            cask__free(box);
            return rc;
        }
        box->g.state_ |= G_INBOX;
        box->handle = g;
        memset(g, 0, sizeof *g);
        g->state_ = G_BOXED;
        g->closer_ = &box->g;
        g->owner_ = self;
        return 0;
    }
    memset(g, 0, sizeof *g);
    int rc = cask__scope_open(&g->scope_, CASK__SCOPE_GROUP, CASK__NEVER);
    if (rc)
        return rc;
    g->owner_ = self;
    g->state_ = G_OPEN;
    return 0;
}

static int spawn_check(cask_group *g)
{
    if (!g || !(g->state_ & (G_OPEN | G_FINISHED)))
        return -EINVAL;
    if (g->state_ & (G_ABORTING | G_FINISHED))
        return -ESHUTDOWN;
    if (cask__loop != g->owner_->loop)
        return -EPERM;
    return 0;
}

static int group_spawn(cask_group *g, cask_task **out, cask_fn fn, void *arg,
                       const struct cask_spawn_opts *opts, void *site)
{
    if (out)
        *out = NULL;
    g = greal(g);
    int rc = spawn_check(g);
    if (rc)
        return rc;
    cask__loop->spawn_site = site; /* diagnostics: where it was spawned */
    return cask__spawn(out, fn, arg, opts, child_link, g);
}

int cask_group_spawn_with(cask_group *g, cask_task **out, cask_fn fn, void *arg,
                          const struct cask_spawn_opts *opts)
{
    return group_spawn(g, out, fn, arg, opts, __builtin_return_address(0));
}

int cask_group_spawn(cask_group *g, cask_task **out, cask_fn fn, void *arg)
{
    return group_spawn(g, out, fn, arg, NULL, __builtin_return_address(0));
}

static bool start_on_cancel(struct cask__waiter *w)
{
    /* the starter was cancelled: so is the child; wait for it to start or end */
    cask_cancel((cask_task *)w->obj);
    return false;
}

static void start_link(cask_task *t, void *ctx)
{
    struct cask__group_start *s = ctx;
    s->w.obj = t; /* before it can run: an eager child may call cask_started at once */
    child_link(t, s->group);
}

int cask_group_start(cask_group *g, cask_task **out, cask_fn fn, void *arg, void **value)
{
    if (out)
        *out = NULL;
    cask_task *self = cask__self();
    g = greal(g);
    int rc = spawn_check(g);
    if (rc)
        return rc;
    if (!self)
        return -EPERM;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    struct cask__group_start *s = CASK__REC(self, struct cask__group_start);
    cask__waiter_init(&s->w, "group start", NULL);
    s->w.on_cancel = start_on_cancel;
    s->w.task = self;
    s->group = g;
    s->value = NULL;
    s->status = 0;
    s->done = false;
    s->next = g->starts_;
    g->starts_ = s;
    cask_task *t;
    cask__loop->spawn_site = __builtin_return_address(0);
    rc = cask__spawn(&t, fn, arg, NULL, start_link, s);
    if (rc) {
        g->starts_ = s->next;
        return rc;
    }
    if (!s->done)
        park_through(&s->w);
    rc = s->status;
    if (rc == 0 && value)
        *value = s->value;
    if (out)
        *out = t;
    else
        cask_release(t); /* the group keeps the child */
    return rc;
}

int cask_started(void *value)
{
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    cask_group *g = self->group;
    struct cask__group_start **link;
    struct cask__group_start *s = g && g->starts_ ? start_of(g, self, &link) : NULL;
    if (!s)
        return -EINVAL;
    *link = s->next;
    s->value = value;
    start_finish(s, 0);
    return 0;
}

/* ---- close, cancel, errors ---- */

static bool close_on_cancel(struct cask__waiter *w)
{
    /* the owner was cancelled while waiting in close: cancel the children, wait on */
    group_abort((cask_group *)w->data);
    return false;
}

static int group_close(cask_group *g, int status);

int cask_group_close(cask_group *g, int status)
{
    if (g && (g->state_ & G_BOXED)) {
        cask_group *box = g->closer_;
        int rc = group_close(box, status);
        if (box->state_ & G_FINISHED) { /* closed: the outcome goes back in place */
            *g = *box;
            g->state_ &= ~(uint32_t)G_INBOX;
            cask__free(box);
        }
        return rc;
    }
    return group_close(g, status);
}

static int group_close(cask_group *g, int status)
{
    cask_task *self = cask__self();
    if (!g || !(g->state_ & G_OPEN) || (g->state_ & G_CLOSING))
        return -EINVAL;
    if (self != g->owner_)
        return -EPERM;
    if (self->scope != &g->scope_)
        return -EINVAL;
    g->state_ |= G_CLOSING;
    /* the block is over: its own expiry (a failure, a group cancel) has done its work */
    g->scope_.flags_ &= ~(uint32_t)CASK__SCOPE_EXPIRED;
    if (status < 0 && status != -ECANCELED)
        record_failure(g, status); /* the block itself failed */
    if (g->live_ > 0) {
        struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
        cask__waiter_init(w, "group", g);
        w->on_cancel = close_on_cancel;
        w->data = g;
        w->task = self;
        g->closer_ = w;
        int rc = park_through(w);
        CASK__CHECK(rc == 0 && g->live_ == 0, "group close woke early (%d)", rc);
    }
    g->state_ |= G_FINISHED;
    g->state_ &= ~(uint32_t)(G_OPEN | G_CLOSING);
    self->scope = g->scope_.parent_;
    g->scope_.flags_ = CASK__SCOPE_CLOSED;
    if (g->first_)
        return g->first_;
    if (cask__cancelled(self))
        return -ECANCELED;
    if (status == -ECANCELED && (g->state_ & G_CANCELLED))
        return 0;
    return status;
}

int cask_group_cancel(cask_group *g)
{
    g = greal(g);
    if (!g || !(g->state_ & (G_OPEN | G_FINISHED)))
        return -EINVAL;
    if (g->state_ & G_FINISHED)
        return 0;
    if (!(g->state_ & G_ABORTING))
        g->state_ |= G_CANCELLED;
    group_abort(g);
    return 0;
}

size_t cask_group_errors(const cask_group *g, int *out, size_t max)
{
    g = greal((cask_group *)g);
    if (!g)
        return 0;
    size_t n = g->nerrors_ < CASK_GROUP_MAX_ERRORS ? g->nerrors_ : CASK_GROUP_MAX_ERRORS;
    for (size_t i = 0; i < n && i < max && out; i++)
        out[i] = g->errors_[i];
    return g->nerrors_;
}

size_t cask_group_size(const cask_group *g)
{
    g = greal((cask_group *)g);
    return g ? g->live_ : 0;
}

/*
 * task.c: tasks. A task's struct lives at the top of its own stack, so a spawn takes a stack
 * from the pool and allocates nothing else. Here: spawn (lazy or eager), the first and last
 * frames of a task, join, cancel/uncancel with sticky cancellation, handles, names, the
 * listing of live tasks, gather, and the report of failures nobody read.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <inttypes.h>
#include <sys/mman.h>

/* ---- stacks per size class ---- */

static int pool_for(cask_loop *l, size_t size, uint8_t *index)
{
    /* pools by size: the loop default first, then up to three other sizes */
    for (uint8_t i = 0; i < 4; i++) {
        if (l->pools[i] && cask__stack_pool_size(l->pools[i]) == ((size + 4095) & ~(size_t)4095)) {
            *index = i;
            return 0;
        }
        if (!l->pools[i]) {
            int rc = cask__stack_pool_new(&l->pools[i], size, l->stack_gap);
            if (rc)
                return rc;
            *index = i;
            return 0;
        }
    }
    return -ENOMEM; /* more than four distinct stack sizes on one loop */
}

/* ---- lists ---- */

static void all_link(cask_loop *l, cask_task *t)
{
    t->all_next = NULL;
    t->all_prev = l->all_tail;
    if (l->all_tail)
        l->all_tail->all_next = t;
    else
        l->all_head = t;
    l->all_tail = t;
}

static void all_unlink(cask_loop *l, cask_task *t)
{
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        l->all_head = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    else
        l->all_tail = t->all_prev;
}

static void zombie_link(cask_loop *l, cask_task *t)
{
    t->all_prev = NULL;
    t->all_next = l->zombie_head;
    if (l->zombie_head)
        l->zombie_head->all_prev = t;
    l->zombie_head = t;
}

static void zombie_unlink(cask_loop *l, cask_task *t)
{
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        l->zombie_head = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
}

/* ---- reporting ---- */

void cask__report_unretrieved(const char *what, const char *name, int status)
{
    fflush(stdout);
    fprintf(stderr, "cask: %s '%s' failed and nobody read its status: %d %s (%s)\n", what, name,
            status, cask_errname(status), cask_strerror(status));
}

static void report_if_unread(cask_task *t)
{
    if (t->state == CASK__T_DONE && t->status < 0 && !(t->flags & CASK__TF_CANCELLED) &&
        !(t->flags & CASK__TF_RETRIEVED)) {
        t->flags |= CASK__TF_RETRIEVED;
        cask__report_unretrieved("task", cask_task_name(t), t->status);
    }
}

/* ---- life of a task ---- */

/*
 * Task structs come from slabs recycled through a free list; a task gets its stack only when
 * it first runs and gives it back as soon as it ends, so tasks spawned and finished in one go
 * share a handful of stacks, and an ended task whose handle is still held costs its struct
 * only. A slab is its own mapping (its header comes from the allocation hook), so a slab whose
 * structs are all free can be given back after a peak (cask__tasks_trim). Once a loop holds
 * BIG_AFTER structs, new slabs are 2 MiB, aligned and advised as transparent huge pages: a
 * million structs are then about 130 page faults instead of 70,000 (on a virtual machine a
 * fault costs tens of microseconds; without huge pages the advice changes nothing).
 */
#define TASK_SLAB 256
#define BIG_SLAB_BYTES ((size_t)2 << 20)
#define BIG_AFTER 8192
struct task_slab {
    struct task_slab *next, *prev;
    cask_task *t;     /* cap structs */
    size_t cap;       /* TASK_SLAB, or a big slab's BIG_SLAB_BYTES / sizeof(cask_task) */
    size_t used;      /* structs handed out at least once (bump: untouched pages stay so) */
    size_t free_seen; /* trim: structs of this slab on the free list */
};
#define SLAB_BYTES ((TASK_SLAB * sizeof(cask_task) + 4095) & ~(size_t)4095)

static size_t slab_bytes(const struct task_slab *s)
{
    return s->cap == TASK_SLAB ? SLAB_BYTES : BIG_SLAB_BYTES;
}

/* A fresh 2 MiB mapping at a 2 MiB boundary (mapped larger, the ends cut off), advised as a
 * transparent huge page (one page fault for it all), or NULL. */
static void *huge_map(void)
{
    size_t len = 2 * BIG_SLAB_BYTES;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)m + BIG_SLAB_BYTES - 1) & ~(uintptr_t)(BIG_SLAB_BYTES - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    if (a + BIG_SLAB_BYTES < m + len)
        munmap(a + BIG_SLAB_BYTES, (size_t)(m + len - (a + BIG_SLAB_BYTES)));
    madvise(a, BIG_SLAB_BYTES, MADV_HUGEPAGE); /* advice: without THP, ordinary pages */
    return a;
}

static cask_task *struct_alloc_slow(cask_loop *l)
{
    struct task_slab *s = l->task_slabs; /* the newest slab hands out its unused structs */
    if (!s || s->used == s->cap) {
        s = cask__malloc(sizeof *s);
        if (!s)
            return NULL;
        bool big = l->task_slots >= BIG_AFTER;
        void *m = big ? huge_map()
                      : mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                             -1, 0);
        if (m == NULL || m == MAP_FAILED) {
            cask__free(s);
            return NULL;
        }
        s->t = m;
        s->cap = big ? BIG_SLAB_BYTES / sizeof(cask_task) : TASK_SLAB;
        s->used = 0;
        s->prev = NULL;
        s->next = l->task_slabs;
        if (s->next)
            s->next->prev = s;
        l->task_slabs = s;
        l->task_slots += s->cap;
    }
    cask_task *t = &s->t[s->used++];
    t->slab = s;
    return t;
}

static inline cask_task *struct_alloc(cask_loop *l)
{
    cask_task *t = l->task_free;
    if (CASK__UNLIKELY(!t))
        return struct_alloc_slow(l);
    l->task_free = (cask_task *)t->run.next;
    return t;
}

static void struct_free(cask_loop *l, cask_task *t)
{
    l->tasks_live--;
    t->state = CASK__T_DONE;
    t->run.next = (struct cask__runnable *)l->task_free;
    l->task_free = t;
}

static void slab_free(struct task_slab *s)
{
    munmap(s->t, slab_bytes(s));
    cask__free(s);
}

bool cask__tasks_trimmable(const cask_loop *l, size_t keep)
{
    size_t nfree = l->task_slots - l->tasks_live;
    return nfree >= keep + TASK_SLAB && nfree != l->task_trim_seen;
}

size_t cask__tasks_trim(cask_loop *l, size_t keep)
{
    if (!cask__tasks_trimmable(l, keep))
        return 0;
    size_t nfree = l->task_slots - l->tasks_live;
    size_t can = nfree - keep, doomed = 0; /* structs that may go */
    struct task_slab *s;
    for (s = l->task_slabs; s; s = s->next)
        s->free_seen = 0;
    for (cask_task *t = l->task_free; t; t = (cask_task *)t->run.next)
        ((struct task_slab *)t->slab)->free_seen++;
    for (s = l->task_slabs; s && doomed < can; s = s->next)
        if (s->free_seen == s->used && s->cap <= can - doomed) { /* all it handed out is free */
            s->free_seen = SIZE_MAX; /* give it back */
            doomed += s->cap;
        }
    if (!doomed) {
        l->task_trim_seen = nfree; /* no slab wholly free: look again when the count moves */
        return 0;
    }
    cask_task **link = &l->task_free; /* the free list without the doomed slabs' structs */
    for (cask_task *t = l->task_free; t; t = (cask_task *)t->run.next)
        if (((struct task_slab *)t->slab)->free_seen != SIZE_MAX) {
            *link = t;
            link = (cask_task **)&t->run.next;
        }
    *link = NULL;
    for (s = l->task_slabs; s;) {
        struct task_slab *next = s->next;
        if (s->free_seen == SIZE_MAX) {
            if (s->prev)
                s->prev->next = s->next;
            else
                l->task_slabs = s->next;
            if (s->next)
                s->next->prev = s->prev;
            l->task_slots -= s->cap;
            slab_free(s);
        }
        s = next;
    }
    l->task_trim_seen = 0;
    return doomed;
}

void cask__reap_dead(cask_loop *l)
{
    cask_task *d = l->dead;
    l->dead = NULL;
    cask__ctx_destroy(&d->ctx);
    if (d->cx) {
        cask__compact_end(l, d);
    } else {
        if (CASK__UNLIKELY(l->diag != NULL)) /* cfg.report_stack_use measures the stack */
            cask__stackuse_end(l, d);
        cask__stack_put(l->pools[d->pool_index], &d->stack);
    }
    d->stack.lo = d->stack.hi = NULL;
    if (!(d->flags & CASK__TF_HANDLE))
        struct_free(l, d);
}

/* Everything that happens when a task ends, except leaving its stack. Returns true if the
 * struct must be freed once nothing runs on its stack any more (no handle holds it). */
static bool finish(cask_loop *l, cask_task *t, int status)
{
    if (status == -ECANCELED)
        t->flags |= CASK__TF_CANCELLED;
    t->status = status;
    t->state = CASK__T_DONE;
    all_unlink(l, t);
    if (t->on_done)
        t->on_done(t);
    struct cask__waiter *w;
    while ((w = cask__wq_pop(&t->joiners)))
        cask__signal(w, status);
    if (t->flags & CASK__TF_HANDLE) {
        zombie_link(l, t);
        return false;
    }
    report_if_unread(t);
    return true;
}

/*
 * The next task of this iteration's snapshot, if it can start on the stack of t, which has
 * just ended: it has never run, wants a stack of the same pool and was not cancelled before
 * its first run. task_main's frame is the first on the stack, so going round task_main's loop
 * with that task is the same as starting it on a fresh stack, minus the stack taken from the
 * pool, the first frame built and the switch. The order is the scheduler's: cask__next would
 * have picked this very task (the snapshot's head) and started it.
 */
static inline cask_task *chain_next(cask_loop *l, cask_task *t)
{
    struct cask__runnable *r = l->snap_head;
    if (!r || r->kind != CASK__RUN_TASK || t->back || t == l->main_task)
        return NULL;
    if (CASK__UNLIKELY(l->diag || l->trace)) /* each task's stack use and runs are recorded */
        return NULL;
    cask_task *n = (cask_task *)r;
    if (n->stack.lo || n->pool_index != t->pool_index || n->ncancel > 0)
        return NULL;
    if ((n->flags | t->flags) & CASK__TF_COMPACT) /* the run stack changes hands elsewhere */
        return NULL;
    l->snap_head = r->next;
    n->stack = t->stack; /* the stack and its context (sanitizer fibers included) move over */
    n->ctx = t->ctx;
    n->ctx.asan_fake = NULL;
    t->stack.lo = t->stack.hi = NULL;
    t->ctx.tsan_fiber = NULL;
    n->state = CASK__T_RUNNING;
    l->current = n;
    __atomic_store_n(&l->switches, l->switches + 1, __ATOMIC_RELAXED); /* the stall watchdog */
    return n;
}

void cask__task_main(void *p)
{
    cask_task *t = p;
    cask_loop *l = t->loop;
    cask__ctx_entered();
    cask__reap(l);
    for (;;) {
        int status = t->fn(t->arg);
        if (status >= 0 && t->ncancel > 0 && !(t->flags & CASK__TF_DELIVERED))
            status = -ECANCELED; /* it cancelled itself and returned (asyncio: ends cancelled) */
        /* the scopes' structs died with the body's frame while their deadlines (a group's
         * children) still point there: nothing can be undone without reading dead memory */
        CASK__CHECK(!t->scope, "task '%s' returned with a scope or task group still open",
                    cask_task_name(t));
        bool unheld = finish(l, t, status);
        if (CASK__UNLIKELY(l->trace)) /* after finish: the wakes it made come from this task */
            cask__trace_task(l, CASK__TR_END, t, status);
        cask_task *n = chain_next(l, t);
        if (!n)
            break;
        if (unheld)
            struct_free(l, t);
        t = n;
    }
    l->dead = t; /* its stack goes back to the pool once we have switched away */
    struct cask__ctx *next;
    if (t->back) {
        next = cask__take_back(l, t);
    } else if (t == l->main_task) {
        l->current = NULL; /* main ended: back to cask_run, which winds the loop down */
        next = &l->sched;
    } else {
        next = cask__next(l);
    }
    cask__ctx_switch(&t->ctx, next, 1);
    CASK__FATAL("task '%s' resumed after it ended", t->name);
}

bool cask__task_start(cask_loop *l, cask_task *t)
{
    int status;
    if (t->ncancel > 0) {
        status = -ECANCELED; /* cancelled before its first run: the body never runs */
    } else if (t->flags & CASK__TF_COMPACT) {
        int rc = cask__compact_start(l, t); /* its first frame is made when it gets the run stack */
        if (rc == 0)
            return true;
        status = rc;
    } else {
        int rc = cask__stack_get(l->pools[t->pool_index], &t->stack);
        if (CASK__LIKELY(rc == 0)) {
            cask__ctx_make(&t->ctx, t->stack.lo, (size_t)(t->stack.hi - t->stack.lo) - CASK__HOME_BYTES,
                           cask__task_main, t);
            return true;
        }
        status = rc; /* no memory for its stack: it ends with -ENOMEM without running */
    }
    if (CASK__UNLIKELY(l->trace))
        cask__trace_task(l, CASK__TR_END, t, status);
    if (finish(l, t, status))
        struct_free(l, t);
    return false;
}

void cask__task_run(cask_loop *l, cask_task *t)
{
    if (!t->stack.lo && !cask__task_start(l, t))
        return;
    if (t->flags & CASK__TF_COMPACT)
        cask__compact_in(l, t);
    t->state = CASK__T_RUNNING;
    l->current = t;
    __atomic_store_n(&l->switches, l->switches + 1, __ATOMIC_RELAXED); /* the stall watchdog reads it */
    if (CASK__UNLIKELY(l->trace))
        cask__trace_task(l, CASK__TR_RUN, t, 0);
    cask__ctx_switch(&l->sched, &t->ctx, 0);
    l->current = NULL; /* whichever task switched back here chose the scheduler */
    cask__reap(l);
    cask__compact_out(l);
}

/* Eager start: the task runs now, inside the spawn call, until it first suspends or ends; it
 * needs its stack now (and a failure is the caller's). */
static __attribute__((noinline)) int spawn_eager(cask_loop *l, cask_task *t, cask_task **out,
                                                 void (*link)(cask_task *t, void *ctx), void *ctx)
{
    int rc;
    if (t->flags & CASK__TF_COMPACT) {
        rc = cask__compact_start(l, t); /* (the spawner is not a compact task: see spawn) */
    } else {
        rc = cask__stack_get(l->pools[t->pool_index], &t->stack);
        if (rc == 0)
            cask__ctx_make(&t->ctx, t->stack.lo,
                           (size_t)(t->stack.hi - t->stack.lo) - CASK__HOME_BYTES,
                           cask__task_main, t);
    }
    if (CASK__UNLIKELY(rc)) {
        t->state = CASK__T_DONE;
        t->run.next = (struct cask__runnable *)l->task_free;
        l->task_free = t;
        return rc;
    }
    all_link(l, t);
    l->tasks_live++;
    if (CASK__UNLIKELY(l->trace))
        cask__trace_task(l, CASK__TR_SPAWN, t, 0);
    if (out)
        *out = t;
    if (link) /* before it can run, even eagerly */
        link(t, ctx);
    cask_task *self = l->current;
    struct cask__ctx *from = self ? &self->ctx : &l->sched;
    t->back = from;
    if (t->flags & CASK__TF_COMPACT)
        cask__compact_in(l, t);
    t->state = CASK__T_RUNNING;
    l->current = t;
    __atomic_store_n(&l->switches, l->switches + 1, __ATOMIC_RELAXED);
    if (CASK__UNLIKELY(l->trace))
        cask__trace_task(l, CASK__TR_RUN, t, 0);
    cask__ctx_switch(from, &t->ctx, 0);
    l->current = self;
    if (CASK__UNLIKELY(l->trace) && self) /* the spawner runs on */
        cask__trace_task(l, CASK__TR_RUN, self, 0);
    cask__reap(l);
    if (!self || !(self->flags & CASK__TF_COMPACT))
        cask__compact_out(l);
    return 0;
}

/*
 * Spawn. Only the fields that must start known are written (a struct from the free list keeps
 * whatever its last task left): the context is built when the task first runs, the name when
 * first asked for. The spawn site (for diagnostics) is the public call's return address,
 * symbolized only when a report needs it.
 */
static inline __attribute__((always_inline)) int
spawn_impl(cask_loop *l, cask_task **out, cask_fn fn, void *arg, const struct cask_spawn_opts *o,
           void (*link)(cask_task *t, void *ctx), void *ctx, void *site)
{
    if (out)
        *out = NULL;
    if (CASK__UNLIKELY(!l))
        return -EPERM;
    if (CASK__UNLIKELY(!fn))
        return -EINVAL;
    size_t size = o && o->stack_size ? o->stack_size : l->stack_size;
    if (CASK__UNLIKELY(size < CASK_STACK_MIN || size > CASK_STACK_MAX))
        return -EINVAL; /* (a size no mapping can have would also take up a pool slot) */
    uint8_t pi = 0;
    if (CASK__UNLIKELY(!l->pools[0]) ||
        (o && o->stack_size &&
         cask__stack_pool_size(l->pools[0]) != ((size + 4095) & ~(size_t)4095))) {
        int rc = pool_for(l, size, &pi);
        if (rc)
            return rc;
    }
    cask_task *t = struct_alloc(l);
    if (CASK__UNLIKELY(!t))
        return -ENOMEM;
    t->run.kind = CASK__RUN_TASK;
    t->state = CASK__T_NEW;
    t->flags = out ? CASK__TF_HANDLE : 0;
    bool eager = (o && o->eager) || l->eager;
    /* compact: asked for, unless it starts eagerly inside a compact task (which is on the run
     * stack it would need): that one is an ordinary task */
    if (((o && o->compact) || l->compact_all) &&
        !(eager && l->current && (l->current->flags & CASK__TF_COMPACT)))
        t->flags |= CASK__TF_COMPACT;
    t->pool_index = pi;
    t->spare = 0;
    t->ncancel = 0;
    t->wake = 0;
    t->status = 0;
    t->back = NULL;
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->waiter = NULL;
    t->scope = NULL;
    t->joiners.head = t->joiners.tail = NULL;
    t->stack.lo = NULL; /* no stack until it first runs */
    t->cx = NULL;
    t->id = l->next_task_id++;
    t->group = NULL;
    t->on_done = NULL;
    t->group_next = t->group_prev = NULL;
    t->spawn_site = site;
    t->parent_id = l->current ? l->current->id : 0;
    t->park_ns = 0;
    t->name[0] = 0;
    if (o && o->name)
        cask_task_set_name(t, o->name);
    if (CASK__UNLIKELY(eager))
        return spawn_eager(l, t, out, link, ctx);
    all_link(l, t);
    l->tasks_live++;
    if (CASK__UNLIKELY(l->trace))
        cask__trace_task(l, CASK__TR_SPAWN, t, 0);
    if (out)
        *out = t;
    if (link) /* before it can run */
        link(t, ctx);
    t->state = CASK__T_READY;
    cask__ready_push(l, &t->run);
    return 0;
}

int cask_spawn(cask_task **out, cask_fn fn, void *arg)
{
    return spawn_impl(cask__loop, out, fn, arg, NULL, NULL, NULL, __builtin_return_address(0));
}

int cask_spawn_with(cask_task **out, cask_fn fn, void *arg, const struct cask_spawn_opts *o)
{
    return spawn_impl(cask__loop, out, fn, arg, o, NULL, NULL, __builtin_return_address(0));
}

int cask__spawn(cask_task **out, cask_fn fn, void *arg, const struct cask_spawn_opts *o,
                void (*link)(cask_task *t, void *ctx), void *ctx)
{
    cask_loop *l = cask__loop;
    void *site = NULL;
    if (l) { /* the caller left the site of the public call in the loop */
        site = l->spawn_site;
        l->spawn_site = NULL;
    }
    return spawn_impl(l, out, fn, arg, o, link, ctx, site);
}

/* ---- join ---- */

static bool join_on_cancel(struct cask__waiter *w)
{
    /* Entered again while cancelling the awaited task: the joins form a cycle (a joins b, b
     * joins a), and passing the cancellation on would never end. This joiner stops waiting. */
    if (w->value)
        return true;
    /* await task, cancelled: cancel the awaited task and keep waiting for its outcome */
    w->value = 1;
    cask_cancel((cask_task *)w->obj);
    w->value = 0;
    return false;
}

int cask_join(cask_task *c)
{
    /* the common case first: a task of this loop that has ended */
    if (CASK__LIKELY(c != NULL) && c->state == CASK__T_DONE && c->loop == cask__loop &&
        c->loop != NULL) {
        c->flags |= CASK__TF_RETRIEVED;
        return c->status;
    }
    return cask__join(c, false);
}

int cask__join(cask_task *c, bool shielded)
{
    if (!c)
        return -EINVAL;
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (l && c->loop != l)
        return -EPERM; /* another thread's task: not even its state may be read here */
    if (c->state == CASK__T_DONE) {
        c->flags |= CASK__TF_RETRIEVED;
        return c->status;
    }
    if (!self || c->loop != l)
        return -EPERM;
    if (c == self)
        return -EDEADLK;
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, shielded ? "shield" : "join", c);
    w->on_cancel = shielded ? NULL : join_on_cancel; /* NULL: a cancelled caller just leaves */
    w->task = self;
    cask__wq_push(&c->joiners, w);
    int rc = cask__park(w);
    if (c->state == CASK__T_DONE)
        c->flags |= CASK__TF_RETRIEVED;
    return rc;
}

/* ---- cancellation ---- */

bool cask_cancel(cask_task *t)
{
    if (!t || t->loop != cask__loop || t->state == CASK__T_DONE)
        return false; /* a task of another thread's loop is refused (use call_soon_threadsafe) */
    t->ncancel++;
    if (t->state == CASK__T_PARKED)
        cask__interrupt(t);
    return true;
}

int cask_uncancel(cask_task *t)
{
    if (!t || t->state == CASK__T_DONE)
        return 0;
    if (t->ncancel > 0)
        t->ncancel--;
    if (t->ncancel == 0)
        t->flags &= (uint8_t)~CASK__TF_DELIVERED;
    return t->ncancel;
}

int cask_cancelling(const cask_task *t) { return t ? t->ncancel : 0; }
bool cask_task_done(const cask_task *t) { return t && t->state == CASK__T_DONE; }
bool cask_task_cancelled(const cask_task *t)
{
    return t && t->state == CASK__T_DONE && (t->flags & CASK__TF_CANCELLED);
}

int cask_task_status(cask_task *t, int *status)
{
    if (!t)
        return -EINVAL;
    if (t->state != CASK__T_DONE)
        return -EAGAIN;
    t->flags |= CASK__TF_RETRIEVED;
    if (status)
        *status = t->status;
    return 0;
}

/* ---- names, handles, listing ---- */

const char *cask_task_name(const cask_task *t)
{
    if (!t)
        return "(null)";
    if (!t->name[0]) /* the default name is made when first asked for: spawn stays cheap */
        snprintf(((cask_task *)t)->name, sizeof t->name, "Task-%" PRIu64, t->id);
    return t->name;
}

int cask_task_set_name(cask_task *t, const char *name)
{
    if (!t || !name)
        return -EINVAL;
    snprintf(t->name, sizeof t->name, "%s", name);
    if (!t->name[0])
        cask_task_name(t);
    if (CASK__UNLIKELY(t->loop && t->loop->trace))
        cask__trace_task(t->loop, CASK__TR_NAME, t, 0);
    return 0;
}

uint64_t cask_task_id(const cask_task *t) { return t ? t->id : 0; }

cask_task *cask_current(void) { return cask__self(); }

void cask_release(cask_task *t)
{
    if (!t || !(t->flags & CASK__TF_HANDLE) || t == t->loop->main_task)
        return; /* the main task's handle belongs to cask_run */
    cask_loop *l = t->loop;
    t->flags &= (uint8_t)~CASK__TF_HANDLE;
    if (t->state == CASK__T_DONE) {
        zombie_unlink(l, t);
        report_if_unread(t);
        struct_free(l, t);
    }
}

size_t cask_all_tasks(cask_task **out, size_t max)
{
    cask_loop *l = cask__loop;
    size_t n = 0;
    if (!l)
        return 0;
    for (cask_task *t = l->all_head; t; t = t->all_next, n++)
        if (out && n < max)
            out[n] = t;
    return n;
}

const char *cask__task_state_name(const cask_task *t)
{
    switch (t->state) {
    case CASK__T_NEW: return "new";
    case CASK__T_READY: return "ready";
    case CASK__T_RUNNING: return "running";
    case CASK__T_PARKED: return "waiting";
    default: return "done";
    }
}

void cask_dump_tasks(FILE *f)
{
    cask_loop *l = cask__loop;
    if (!l || !f)
        return;
    fprintf(f, "%-6s %-24s %-8s %-8s %s\n", "id", "name", "state", "cancels", "waits on");
    for (cask_task *t = l->all_head; t; t = t->all_next) {
        char on[64] = "";
        if (t->state == CASK__T_PARKED && t->waiter) {
            const struct cask__waiter *w = t->waiter;
            if (w->what && !strcmp(w->what, "join") && w->obj)
                snprintf(on, sizeof on, "join '%s'", cask_task_name(w->obj));
            else if (w->obj)
                snprintf(on, sizeof on, "%s %p", w->what ? w->what : "?", w->obj);
            else
                snprintf(on, sizeof on, "%s", w->what ? w->what : "?");
        }
        fprintf(f, "%-6" PRIu64 " %-24s %-8s %-8d %s\n", t->id, cask_task_name(t), cask__task_state_name(t),
                t->ncancel, on);
    }
}

void cask__tasks_close(cask_loop *l)
{
    for (cask_task *t = l->zombie_head; t; t = t->all_next) {
        report_if_unread(t);
        l->tasks_live--;
    }
    l->zombie_head = NULL;
    struct task_slab *s = l->task_slabs;
    while (s) {
        struct task_slab *next = s->next;
        slab_free(s);
        s = next;
    }
    l->task_slots = 0;
    l->task_slabs = NULL;
    l->task_free = NULL;
}

/* ---- gather ---- */

struct gather {
    struct cask__waiter main; /* where the gathering task is parked */
    cask_task *const *tasks;
    int *statuses;
    size_t n;
    size_t pending;
    bool cancelling;
    bool woken;
};

static void gather_notify(struct cask__waiter *w, int status)
{
    struct gather *g = w->data;
    size_t i = (size_t)w->value;
    g->pending--;
    if (g->statuses)
        g->statuses[i] = status;
    if (g->woken)
        return;
    if (g->pending == 0) {
        g->woken = true;
        cask__wake(g->main.task, g->cancelling ? -ECANCELED : 0);
    } else if (!g->statuses && status < 0 && !g->cancelling) {
        g->woken = true; /* fail fast: the others keep running */
        cask__wake(g->main.task, status);
    }
}

static bool gather_on_cancel(struct cask__waiter *w)
{
    /* the gathering task was cancelled: cancel every unfinished task, wait for all */
    struct gather *g = (struct gather *)w;
    g->cancelling = true;
    for (size_t i = 0; i < g->n; i++)
        cask_cancel(g->tasks[i]);
    return false;
}

int cask_gather(cask_task *const *tasks, size_t n, int *statuses)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (n && !tasks)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i])
            return -EINVAL;
        if (tasks[i] == self)
            return -EDEADLK;
        if (tasks[i]->loop != l)
            return -EPERM;
    }
    if (!self)
        return -EPERM;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    /* a compact task keeps everything the children's ends and a canceller touch off its
     * stack: the record, one waiter per task, the task list and the statuses */
    struct gather glocal, *gp = &glocal;
    struct cask__waiter local[16];
    struct cask__waiter *ws = local;
    cask_task *const *tl = tasks;
    int *st = statuses;
    void *block = NULL;
    if (n > 16 || self->cx) {
        size_t bytes = sizeof *gp + n * (sizeof *ws + sizeof *tl + sizeof *st);
        block = cask__malloc(bytes);
        if (!block)
            return -ENOMEM;
        gp = block;
        ws = (struct cask__waiter *)(gp + 1);
        cask_task **tcopy = (cask_task **)(ws + n);
        for (size_t i = 0; i < n; i++)
            tcopy[i] = tasks[i];
        tl = tcopy;
        if (statuses)
            st = (int *)(tcopy + n);
    }
    struct gather *g = gp;
    cask__waiter_init(&g->main, "gather", tasks);
    g->main.on_cancel = gather_on_cancel;
    g->main.task = self;
    g->tasks = tl;
    g->statuses = st;
    g->n = n;
    g->pending = 0;
    g->cancelling = false;
    g->woken = false;
    int first_err = 0;
    for (size_t i = 0; i < n; i++) {
        cask_task *t = tasks[i];
        cask__waiter_init(&ws[i], "gather", t);
        if (t->state == CASK__T_DONE) {
            t->flags |= CASK__TF_RETRIEVED;
            if (st)
                st[i] = t->status;
            if (t->status < 0 && !first_err)
                first_err = t->status;
            continue;
        }
        ws[i].notify = gather_notify;
        ws[i].data = g;
        ws[i].value = (intptr_t)i;
        ws[i].task = self;
        cask__wq_push(&t->joiners, &ws[i]);
        g->pending++;
    }
    int rc;
    if (g->pending == 0 || (!statuses && first_err)) {
        rc = statuses ? 0 : first_err;
    } else {
        rc = cask__park(&g->main);
    }
    for (size_t i = 0; i < n; i++) {
        cask__wq_remove(&ws[i]); /* the ones still waiting when we return early */
        if (tasks[i]->state == CASK__T_DONE)
            tasks[i]->flags |= CASK__TF_RETRIEVED;
    }
    if (st != statuses)
        memcpy(statuses, st, n * sizeof *st);
    if (block)
        cask__free(block);
    if (statuses && rc == 0)
        return 0;
    return rc;
}

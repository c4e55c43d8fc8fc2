/*
 * loop.c: the event loop. One iteration polls for I/O (blocking only when nothing is ready),
 * moves due timers to the ready queue, then runs exactly the tasks and callbacks that were
 * ready when the iteration began (asyncio's snapshot rule). Also: cask_run, the clock and
 * sleeping, call_soon/later/at handles, and the thread-safe wakeup through an eventfd.
 */
#define _GNU_SOURCE
#include "../internal.h"
#include "../poll/poll.h"

#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

__thread cask_loop *cask__loop;

/* ---- clock ---- */

uint64_t cask__clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cask__seconds_to_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s >= 1.8e10)
        return CASK__NEVER;
    return (uint64_t)(s * 1e9 + 0.5);
}

uint64_t cask__deadline_ns(cask_loop *l, double seconds)
{
    uint64_t d = cask__seconds_to_ns(seconds);
    if (d == CASK__NEVER)
        return CASK__NEVER;
    return cask__loop_now(l) + d;
}

uint64_t cask__abs_to_ns(double when)
{
    if (isinf(when) && when > 0)
        return CASK__NEVER;
    return cask__seconds_to_ns(when);
}

double cask_time(void)
{
    cask_loop *l = cask__loop;
    return cask__ns_to_seconds(l ? cask__loop_now(l) : cask__clock_ns());
}

/* ---- ready queue and timers ---- */

int cask__timer_arm(cask_loop *l, struct cask__timer *t, uint64_t when,
                    void (*fire)(struct cask__timer *))
{
    t->when = when;
    t->seq = l->timer_seq++;
    t->fire = fire;
    return cask__heap_push(&l->timers, t);
}

void cask__timer_disarm(cask_loop *l, struct cask__timer *t) { cask__heap_remove(&l->timers, t); }

/* ---- callback handles ---- */

enum { H_TIMER = 1, H_QUEUED, H_DONE, H_CANCELLED };

struct cask_handle {
    struct cask__runnable run; /* keep first */
    uint8_t state;
    uint8_t user_ref;
    uint8_t loop_ref;
    uint8_t heap_alloc; /* allocated by another thread with cask__malloc */
    struct cask__timer timer;
    void (*fn)(void *, void *, void *);
    void *a, *b, *c;
    cask_handle *free_next;
};

#define SLAB 256
struct slab {
    struct slab *next;
    cask_handle h[SLAB];
};

static cask_handle *handle_new(cask_loop *l)
{
    cask_handle *h = l->handle_free;
    if (CASK__UNLIKELY(!h)) {
        struct slab *s = cask__malloc(sizeof *s);
        if (!s)
            return NULL;
        s->next = l->handle_slabs;
        l->handle_slabs = s;
        for (int i = SLAB - 1; i >= 0; i--) {
            s->h[i].free_next = l->handle_free;
            l->handle_free = &s->h[i];
        }
        h = l->handle_free;
    }
    l->handle_free = h->free_next;
    h->run.kind = CASK__RUN_HANDLE;
    h->heap_alloc = 0;
    return h;
}

static void handle_unref(cask_loop *l, cask_handle *h)
{
    if (h->user_ref || h->loop_ref)
        return;
    if (h->heap_alloc) {
        cask__free(h);
        return;
    }
    h->free_next = l->handle_free;
    l->handle_free = h;
}

void cask__handles_close(cask_loop *l)
{
    struct slab *s = l->handle_slabs;
    while (s) {
        struct slab *next = s->next;
        cask__free(s);
        s = next;
    }
    l->handle_slabs = NULL;
    l->handle_free = NULL;
}

static void call_public(void *cb, void *arg, void *unused)
{
    (void)unused;
    cask_cb f;
    memcpy(&f, &cb, sizeof f);
    f(arg);
}

static void *cb_ptr(cask_cb cb)
{
    void *p;
    memcpy(&p, &cb, sizeof p);
    return p;
}

void cask__handle_run(cask_loop *l, cask_handle *h)
{
    if (h->state != H_CANCELLED) {
        h->state = H_DONE;
        __atomic_store_n(&l->callbacks, l->callbacks + 1, __ATOMIC_RELAXED); /* stall watchdog */
        if (CASK__UNLIKELY(l->trace))
            cask__trace_loop(l, CASK__TR_CALLBACK, 0, 0);
        h->fn(h->a, h->b, h->c); /* may give back its own handle: the loop's ref keeps it */
        if (CASK__UNLIKELY(l->trace))
            cask__trace_loop(l, CASK__TR_CALLBACK_END, 0, 0);
    }
    h->loop_ref = 0;
    handle_unref(l, h);
}

int cask__call_soon3(cask_loop *l, void (*fn)(void *, void *, void *), void *a, void *b, void *c)
{
    cask_handle *h = handle_new(l);
    if (!h)
        return -ENOMEM;
    h->fn = fn;
    h->a = a;
    h->b = b;
    h->c = c;
    h->state = H_QUEUED;
    h->user_ref = 0;
    h->loop_ref = 1;
    cask__ready_push(l, &h->run);
    return 0;
}

static void handle_fire(struct cask__timer *t)
{
    cask_handle *h = (cask_handle *)((char *)t - offsetof(cask_handle, timer));
    h->state = H_QUEUED;
    cask__ready_push(cask__loop, &h->run);
}

static int schedule(cask_handle **out, uint64_t when, bool soon, cask_cb cb, void *arg)
{
    cask_loop *l = cask__loop;
    if (out)
        *out = NULL;
    if (!l)
        return -EPERM;
    if (!cb)
        return -EINVAL;
    cask_handle *h = handle_new(l);
    if (!h)
        return -ENOMEM;
    h->fn = call_public;
    h->a = cb_ptr(cb);
    h->b = arg;
    h->c = NULL;
    h->user_ref = out != NULL;
    h->loop_ref = 1;
    if (soon) {
        h->state = H_QUEUED;
        cask__ready_push(l, &h->run);
    } else {
        h->state = H_TIMER;
        h->timer.index = 0;
        /* an infinite delay never comes: not in the heap, or the virtual clock would jump
         * to it (a cancel disarms an unarmed timer harmlessly) */
        if (when != CASK__NEVER && cask__timer_arm(l, &h->timer, when, handle_fire) != 0) {
            h->user_ref = h->loop_ref = 0;
            handle_unref(l, h);
            return -ENOMEM;
        }
    }
    if (out)
        *out = h;
    return 0;
}

int cask_call_soon(cask_handle **out, cask_cb cb, void *arg)
{
    return schedule(out, 0, true, cb, arg);
}

int cask_call_later(cask_handle **out, double delay, cask_cb cb, void *arg)
{
    if (isnan(delay))
        return schedule(out, 0, false, NULL, arg); /* -EPERM or -EINVAL, *out NULL */
    cask_loop *l = cask__loop;
    return schedule(out, l ? cask__deadline_ns(l, delay) : 0, false, cb, arg);
}

int cask_call_at(cask_handle **out, double when, cask_cb cb, void *arg)
{
    if (isnan(when))
        return schedule(out, 0, false, NULL, arg); /* -EPERM or -EINVAL, *out NULL */
    return schedule(out, cask__abs_to_ns(when), false, cb, arg);
}

bool cask_handle_cancel(cask_handle *h)
{
    if (!h || !h->user_ref) /* given back already: a second give-back must not free it again */
        return false;
    cask_loop *l = cask__loop;
    bool pending = false;
    if (h->state == H_TIMER) {
        cask__timer_disarm(l, &h->timer);
        h->state = H_CANCELLED;
        h->loop_ref = 0;
        pending = true;
    } else if (h->state == H_QUEUED) {
        h->state = H_CANCELLED; /* still linked in the ready queue: skipped when reached */
        pending = true;
    }
    h->user_ref = 0;
    handle_unref(l, h);
    return pending;
}

void cask_handle_release(cask_handle *h)
{
    if (!h || !h->user_ref)
        return;
    h->user_ref = 0;
    handle_unref(cask__loop, h);
}

/* ---- thread-safe entry ---- */

int cask_call_soon_threadsafe(cask_loop *l, cask_cb cb, void *arg)
{
    if (!l || !cb)
        return -EINVAL;
    cask_handle *h = cask__malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    memset(h, 0, sizeof *h);
    h->run.kind = CASK__RUN_HANDLE;
    h->heap_alloc = 1;
    h->fn = call_public;
    h->a = cb_ptr(cb);
    h->b = arg;
    h->state = H_QUEUED;
    h->loop_ref = 1;
    pthread_mutex_t *m = l->ts_mutex;
    pthread_mutex_lock(m);
    if (l->closing) {
        pthread_mutex_unlock(m);
        cask__free(h);
        return -ESHUTDOWN;
    }
    h->run.next = NULL;
    if (l->ts_tail)
        l->ts_tail->next = &h->run;
    else
        l->ts_head = &h->run;
    l->ts_tail = &h->run;
    pthread_mutex_unlock(m);
    __atomic_store_n(&l->ts_pending, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    ssize_t w = write(l->wake_fd, &one, sizeof one);
    (void)w;
    return 0;
}

static void drain_wakeups(cask_loop *l)
{
    __atomic_store_n(&l->ts_pending, 0, __ATOMIC_RELAXED);
    uint64_t v;
    ssize_t r = read(l->wake_fd, &v, sizeof v);
    (void)r;
    pthread_mutex_t *m = l->ts_mutex;
    pthread_mutex_lock(m);
    struct cask__runnable *head = l->ts_head;
    l->ts_head = l->ts_tail = NULL;
    pthread_mutex_unlock(m);
    while (head) {
        struct cask__runnable *next = head->next;
        cask__ready_push(l, head);
        head = next;
    }
    if (l->sig) /* process signals counted for this loop */
        cask__signals_drain(l);
}

static void on_ready(cask_loop *l, int fd, int events)
{
    if (fd == l->wake_fd)
        drain_wakeups(l);
    else
        cask__fd_ready(l, fd, events);
}

/* ---- the iteration ---- */

/* The iteration boundary: I/O (waiting up to timeout), due timers, a new snapshot. */
static void boundary(cask_loop *l, uint64_t timeout)
{
    /* with work ready, poll only while tasks wait on fds or another thread (or a signal)
     * has queued something */
    if (timeout != 0) { /* blocking: the stall watchdog must not count this as a stall */
        __atomic_store_n(&l->in_poll, 1, __ATOMIC_RELAXED);
        if (CASK__UNLIKELY(l->trace))
            cask__trace_loop(l, CASK__TR_POLL, 0, 0);
        uint64_t t0 = cask__clock_ns(); /* metrics: time blocked (two vDSO reads per block) */
        cask__poll_wait(l->poll, timeout, on_ready, l);
        l->poll_ns += cask__clock_ns() - t0;
        l->polls++;
        if (CASK__UNLIKELY(l->trace))
            cask__trace_loop(l, CASK__TR_POLL_END, 0, 0);
        __atomic_store_n(&l->in_poll, 0, __ATOMIC_RELAXED);
    } else if (l->nwatch > 0 || __atomic_load_n(&l->ts_pending, __ATOMIC_ACQUIRE)) {
        cask__poll_wait(l->poll, 0, on_ready, l);
    }
    if (l->timers.n) {
        uint64_t now = cask__loop_now(l);
        struct cask__timer *t;
        while ((t = cask__heap_top(&l->timers)) && t->when <= now) {
            cask__heap_pop(&l->timers);
            if (CASK__UNLIKELY(l->trace))
                cask__trace_loop(l, CASK__TR_TIMER, 0, 0);
            t->fire(t);
        }
    }
    /* the snapshot: what becomes ready while running it waits for the next iteration */
    l->snap_head = l->ready_head;
    l->ready_head = l->ready_tail = NULL;
    l->iterations++;
}

struct cask__ctx *cask__next(cask_loop *l)
{
    for (;;) {
        struct cask__runnable *r = l->snap_head;
        if (!r) {
            if (!l->ready_head)
                break; /* nothing ready: the scheduler blocks in the poller */
            boundary(l, 0);
            continue;
        }
        if (r->kind != CASK__RUN_TASK)
            break; /* callbacks run on the scheduler's stack, not on a task's */
        cask_task *t = (cask_task *)r;
        cask_task *cur = l->current;
        if (CASK__UNLIKELY(cur && (cur->flags & CASK__TF_COMPACT)) &&
            (l->compact_debug || ((t->flags & CASK__TF_COMPACT) && t != l->run_owner)))
            break; /* the run stack changes hands from the scheduler's stack, not on itself */
        l->snap_head = r->next;
        if (r->next) /* a mass wake-up walks cold stacks: start fetching the next one now */
            __builtin_prefetch(r->next, 1);
        if (CASK__UNLIKELY(!t->stack.lo) && !cask__task_start(l, t))
            continue; /* it ended without running */
        if (t->flags & CASK__TF_COMPACT)
            cask__compact_in(l, t);
        t->state = CASK__T_RUNNING;
        l->current = t;
        __atomic_store_n(&l->switches, l->switches + 1, __ATOMIC_RELAXED); /* stall watchdog */
        if (CASK__UNLIKELY(l->trace))
            cask__trace_task(l, CASK__TR_RUN, t, 0);
        return &t->ctx;
    }
    l->current = NULL;
    return &l->sched;
}

/* ---- memory after a peak ---- */

static bool trim_wanted(cask_loop *l)
{
    for (size_t i = 0; i < sizeof l->pools / sizeof l->pools[0]; i++)
        if (l->pools[i] && cask__stack_pool_trimmable(l->pools[i], l->idle_kept))
            return true;
    return cask__tasks_trimmable(l, l->idle_kept);
}

/* The loop is about to wait up to timeout ns: trims when the interval is over, and returns
 * how long it may wait so that memory left to give back is given back in time. */
static uint64_t idle_trim(cask_loop *l, uint64_t timeout)
{
    if (l->trim_after == CASK__NEVER || !trim_wanted(l))
        return timeout;
    uint64_t now = cask__clock_ns();
    if (now >= l->trim_at) {
        for (size_t i = 0; i < sizeof l->pools / sizeof l->pools[0]; i++)
            if (l->pools[i])
                cask__stack_pool_trim(l->pools[i], l->idle_kept);
        cask__tasks_trim(l, l->idle_kept);
        l->trim_at = now + l->trim_after;
        if (!trim_wanted(l))
            return timeout;
    }
    uint64_t wait = (l->trim_at - now + 999999) / 1000000 * 1000000;
    return wait < timeout ? wait : timeout;
}

static void run_once(cask_loop *l)
{
    uint64_t timeout = 0;
    if (!l->snap_head && !l->ready_head) {
        struct cask__timer *t = cask__heap_top(&l->timers);
        if (!t) {
            timeout = CASK__NEVER;
            if (CASK__UNLIKELY(l->diag != NULL) && l->nwatch == 0) {
                cask__diag_idle(l); /* maybe nothing can ever run again: a deadlock */
                if (l->ready_head) /* it cancelled main */
                    timeout = 0;
            }
        } else {
            uint64_t now = cask__loop_now(l);
            timeout = t->when > now ? t->when - now : 0;
        }
        /* wait in whole milliseconds, rounded up, as asyncio does: timers set a few
         * microseconds apart for the same moment then fire in one iteration, in order */
        if (timeout != CASK__NEVER && timeout > 0)
            timeout = (timeout + 999999) / 1000000 * 1000000;
        if (l->virtual_clock && timeout != CASK__NEVER) {
            /* virtual time: look for I/O without waiting, then jump to the next timer */
            cask__poll_wait(l->poll, 0, on_ready, l);
            if (!l->ready_head && t->when > l->vnow)
                l->vnow = t->when;
            timeout = 0;
        }
        if (timeout)
            timeout = idle_trim(l, timeout);
    }
    if (!l->snap_head)
        boundary(l, timeout);
    struct cask__runnable *r;
    while ((r = l->snap_head)) {
        l->snap_head = r->next;
        if (r->kind == CASK__RUN_TASK)
            cask__task_run(l, (cask_task *)r);
        else
            cask__handle_run(l, (cask_handle *)r);
    }
}

/* ---- cask_run ---- */

static int loop_open(cask_loop **out, const struct cask_config *cfg)
{
    cask_loop *l = cask__calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    int rc = -ENOMEM;
    l->ts_mutex = cask__malloc(sizeof(pthread_mutex_t));
    if (!l->ts_mutex)
        goto out_free_loop;
    pthread_mutex_init(l->ts_mutex, NULL);
    rc = cask__poll_open(&l->poll, cfg ? cfg->backend : NULL, cfg ? cfg->net : NULL);
    if (rc)
        goto out_free_mutex;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        rc = -errno;
        goto out_close_poll;
    }
    rc = cask__poll_add(l->poll, l->wake_fd);
    if (rc)
        goto out_close_wake;
    l->stack_size = cfg && cfg->stack_size ? cfg->stack_size : CASK_STACK_DEFAULT;
#if CASK__ASAN || CASK__TSAN
    if (!(cfg && cfg->stack_size))
        l->stack_size = 4 * CASK_STACK_DEFAULT;
#endif
    l->stack_gap = cfg && cfg->no_stack_guard ? 0 : cask__stack_gap(cfg ? cfg->stack_guard_gap : 0);
    l->idle_kept = cfg && cfg->idle_stacks_kept ? cfg->idle_stacks_kept : 64;
    l->trim_after = 1000000000u;
    if (cfg && cfg->idle_trim_after != 0)
        l->trim_after = cfg->idle_trim_after > 0 ? cask__seconds_to_ns(cfg->idle_trim_after)
                                                 : CASK__NEVER;
    l->trim_at = cask__clock_ns() + (l->trim_after == CASK__NEVER ? 0 : l->trim_after);
    l->virtual_clock = cfg && cfg->virtual_clock;
    l->eager = cfg && cfg->eager_tasks;
    l->compact_all = cfg && cfg->compact_tasks;
    l->compact_debug = cfg && cfg->compact_debug;
    const char *env = getenv("CASK_COMPACT"); /* the examples run this way in CI too */
    if (env && env[0] && strcmp(env, "0") != 0)
        l->compact_all = true;
    env = getenv("CASK_COMPACT_DEBUG");
    if (env && env[0] && strcmp(env, "0") != 0)
        l->compact_debug = true;
    l->vnow = cask__clock_ns();
    l->next_task_id = 1;
    cask__ctx_thread(&l->sched);
    *out = l;
    return 0;

out_close_wake:
    close(l->wake_fd);
out_close_poll:
    cask__poll_close(l->poll);
out_free_mutex:
    pthread_mutex_destroy(l->ts_mutex);
    cask__free(l->ts_mutex);
out_free_loop:
    cask__free(l);
    return rc;
}

static void loop_close(cask_loop *l)
{
    pthread_mutex_lock(l->ts_mutex);
    l->closing = true;
    struct cask__runnable *r = l->ts_head;
    l->ts_head = l->ts_tail = NULL;
    pthread_mutex_unlock(l->ts_mutex);
    while (r) { /* thread-safe callbacks that arrived too late: dropped, as asyncio does */
        struct cask__runnable *next = r->next;
        cask__free(r);
        r = next;
    }
    /* callbacks still queued are dropped too; the slab ones go with their slabs */
    r = l->ready_head;
    while (r) {
        struct cask__runnable *next = r->next;
        if (r->kind == CASK__RUN_HANDLE && ((cask_handle *)r)->heap_alloc)
            cask__free(r);
        r = next;
    }
    cask__diag_stop(l);
    cask__trace_close(l);
    cask__signals_close(l);
    for (int i = 0; i < 4; i++)
        if (l->ext_close[i])
            l->ext_close[i](l, l->ext[i]);
    cask__tasks_close(l);
    cask__futures_close(l);
    cask__handles_close(l);
    cask__fds_close(l);
    cask__heap_free(&l->timers);
    for (size_t i = 0; i < sizeof l->pools / sizeof l->pools[0]; i++)
        cask__stack_pool_free(l->pools[i]);
    cask__compact_close(l);
    close(l->wake_fd);
    cask__poll_close(l->poll);
    pthread_mutex_destroy(l->ts_mutex);
    cask__free(l->ts_mutex);
    cask__free(l);
}

cask_loop *cask_loop_current(void) { return cask__loop; }

int cask_loop_stats(struct cask_loop_stats *out)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->iterations = l->iterations;
    out->switches = l->switches;
    out->tasks_live = l->tasks_live;
    for (size_t i = 0; i < sizeof l->pools / sizeof l->pools[0]; i++)
        if (l->pools[i])
            out->stacks_mapped += cask__stack_pool_mapped(l->pools[i]);
    out->stack_size = l->stack_size;
    out->guard_mode = l->stack_gap ? cask__stack_guard_mode() : 0;
    for (size_t i = 0; i < sizeof l->pools / sizeof l->pools[0]; i++)
        if (l->pools[i]) {
            out->stacks_free += cask__stack_pool_free_count(l->pools[i]);
            out->stacks_free_resident += cask__stack_pool_resident_free(l->pools[i]);
        }
    out->task_structs = l->task_slots;
    out->backend = cask__poll_name(l->poll);
    out->net = cask__poll_net(l->poll);
    out->tasks_spawned = l->next_task_id - 1;
    for (const struct cask__runnable *r = l->snap_head; r; r = r->next)
        out->ready++;
    for (const struct cask__runnable *r = l->ready_head; r; r = r->next)
        out->ready++;
    out->callbacks = l->callbacks;
    out->polls = l->polls;
    out->poll_seconds = cask__ns_to_seconds(l->poll_ns);
    out->bytes_read = l->bytes_read;
    out->bytes_written = l->bytes_written;
    out->compact_bytes_copied = l->cx_copied;
    out->compact_bytes_held = l->cx_bytes;
    return 0;
}

int cask_run(cask_fn main, void *arg) { return cask_run_with(main, arg, NULL); }

int cask_run_with(cask_fn main, void *arg, const struct cask_config *cfg)
{
    if (cask__loop)
        return -EBUSY;
    if (!main || (cfg && cfg->stack_size && (cfg->stack_size < CASK_STACK_MIN || cfg->stack_size > CASK_STACK_MAX)))
        return -EINVAL;
    if (cfg && cfg->stack_guard_gap > CASK__STACK_GAP_MAX)
        return -EINVAL;
    cask_loop *l = NULL;
    int rc = loop_open(&l, cfg);
    if (rc)
        return rc;
    cask__loop = l;
    cask__stack_install_overflow_handler();
    cask_task *m;
    bool compact_all = l->compact_all; /* main is an ordinary task: its frame is what the
                                        * tasks it spawns usually share */
    l->compact_all = false;
    rc = cask_spawn(&m, main, arg);
    l->compact_all = compact_all;
    if (rc) {
        cask__loop = NULL;
        loop_close(l);
        return rc;
    }
    l->main_task = m;
    uint64_t cancel_sigs = 0; /* bit sig-1: the signals that cancel main */
    if (cfg && cfg->sigint_cancels_main)
        cancel_sigs |= (uint64_t)1 << (SIGINT - 1);
    if (cfg && cfg->sigterm_cancels_main)
        cancel_sigs |= (uint64_t)1 << (SIGTERM - 1);
    rc = cask__signals_cancel_main(l, cancel_sigs);
    if (rc == 0)
        rc = cask__diag_start(l, cfg);
    if (rc) {
        cask_cancel(m); /* never started: ends without running */
        while (l->all_head)
            run_once(l);
        m->flags |= CASK__TF_RETRIEVED;
        loop_close(l);
        cask__loop = NULL;
        return rc;
    }
    while (!cask_task_done(m))
        run_once(l);
    if (CASK__UNLIKELY(l->diag != NULL))
        cask__diag_leftovers(l);
    /* asyncio.run: cancel what is left and let it unwind */
    for (cask_task *t = l->all_head; t; t = t->all_next)
        cask_cancel(t);
    while (l->all_head)
        run_once(l);
    int status = m->status;
    m->flags |= CASK__TF_RETRIEVED;
    loop_close(l);
    cask__loop = NULL;
    return status;
}

/* ---- sleeping ---- */

struct sleeper {
    struct cask__waiter w;
    struct cask__timer tm;
};

static void sleep_fire(struct cask__timer *t)
{
    struct sleeper *s = (struct sleeper *)((char *)t - offsetof(struct sleeper, tm));
    cask__signal(&s->w, 0);
}

static bool sleep_cancel(struct cask__waiter *w)
{
    struct sleeper *s = (struct sleeper *)w;
    cask__timer_disarm(w->task->loop, &s->tm);
    return true;
}

int cask_yield(void)
{
    cask_loop *l = cask__loop;
    cask_task *t = l ? l->current : NULL;
    if (!t)
        return -EPERM;
    if (cask__cancelled(t))
        return cask__cancel_now(t);
    t->state = CASK__T_READY;
    cask__ready_push(l, &t->run);
    if (CASK__UNLIKELY(l->trace))
        cask__trace_task(l, CASK__TR_YIELD, t, 0);
    struct cask__ctx *next;
    if (t->back) {
        next = cask__take_back(l, t);
    } else {
        next = cask__next(l);
    }
    if (next != &t->ctx) /* it may pick itself: then the yield cost one iteration, no switch */
        cask__ctx_switch(&t->ctx, next, 0);
    cask__reap(l);
    if (cask__cancelled(t)) /* cancelled while it was waiting for its turn */
        return cask__cancel_now(t);
    return 0;
}

static int sleep_ns(cask_loop *l, uint64_t when)
{
    struct sleeper *s = CASK__REC(l->current, struct sleeper);
    cask__waiter_init(&s->w, "sleep", NULL);
    s->w.on_cancel = sleep_cancel;
    s->w.data = &s->tm; /* diagnostics: the time left */
    s->tm.index = 0;
    if (cask__cancelled(l->current))
        return cask__cancel_now(l->current);
    if (when != CASK__NEVER && cask__timer_arm(l, &s->tm, when, sleep_fire) != 0)
        return -ENOMEM;
    return cask__park(&s->w);
}

int cask_sleep(double seconds)
{
    cask_loop *l = cask__loop;
    if (!l || !l->current)
        return -EPERM;
    if (isnan(seconds))
        return -EINVAL;
    if (seconds <= 0)
        return cask_yield();
    return sleep_ns(l, cask__deadline_ns(l, seconds));
}

int cask_sleep_until(double when)
{
    cask_loop *l = cask__loop;
    if (!l || !l->current)
        return -EPERM;
    if (isnan(when))
        return -EINVAL;
    uint64_t w = cask__abs_to_ns(when);
    if (w <= cask__loop_now(l))
        return cask_yield();
    return sleep_ns(l, w);
}

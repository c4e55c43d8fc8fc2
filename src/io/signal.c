/*
 * signal.c: process signals delivered to loops (loop.add_signal_handler, Go's signal.Notify).
 * One process-wide handler, installed while anything listens to a signal, counts each arrival
 * in the slot of every loop that asked for it and wakes that loop through its wakeup fd (all
 * async-signal-safe: atomics, write). Each loop drains its counts at the iteration boundary
 * into its receivers: tasks waiting in cask_signal_wait, or callbacks run as loop callbacks.
 * cask_run's "SIGINT/SIGTERM cancel main" rides on the same slots.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#define MAXSIG 64    /* Linux: SIGRTMAX is at most 64 */
#define MAX_LOOPS 256 /* loops using signals at the same time */

/*
 * The part of a loop the handler sees. Fields marked (h) are read or written by the handler,
 * from any thread, with atomics; the rest belong to the loop's thread.
 */
struct slot {
    uint64_t mask;        /* (h) signals this loop listens to; 0: handler ignores the slot */
    uint64_t cancel_mask; /* (h) signals that cancel the main task (cask_run options) */
    uint64_t pending;     /* (h) signals with arrivals not yet drained */
    uint32_t count[MAXSIG + 1]; /* (h) arrivals not yet drained, per signal */
    uint32_t cancel_hits; /* (h) cancel signals seen: the second ends the process */
    int busy;             /* (h) handlers looking at this slot right now */
    int wake_fd;          /* (h) the loop's eventfd */
    int *ts_pending;      /* (h) the loop's "poll at the boundary" flag */
    bool used;            /* claimed by a loop (under gmu) */
    cask_loop *loop;
    int refs[MAXSIG + 1]; /* receivers (and cancel-main) of this loop per signal */
    cask_signal *receivers;
};

struct cask_signal {
    cask_signal *next, *prev; /* the loop's receivers */
    struct slot *slot;
    uint64_t mask;
    uint64_t pending; /* signals with count > 0 */
    uint32_t count[MAXSIG + 1];
    struct cask__wq waiters;
    cask_signal_cb cb;
    void *arg;
    cask_handle *call; /* the scheduled callback run, or NULL */
    bool in_cb;        /* the callback is running: a close there frees after it returns */
    bool closed;
};

static struct slot slots[MAX_LOOPS];
static int nslots; /* high-water mark of slots ever used (handler reads it atomically) */
static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static int grefs[MAXSIG + 1];            /* listeners per signal, process-wide (under gmu) */
static struct sigaction gold[MAXSIG + 1]; /* disposition before cask took the signal */

static inline uint64_t bit(int sig) { return (uint64_t)1 << (sig - 1); }

/* Signals that can be caught and delivered to a loop: not SIGKILL/SIGSTOP (the kernel does
 * not allow it), not glibc's internal ones (32, 33), not synchronous faults (a handler that
 * returns re-runs the faulting instruction). */
static bool sig_valid(int sig)
{
    if (sig < 1 || sig > MAXSIG || sig > SIGRTMAX)
        return false;
    if (sig > 31 && sig < SIGRTMIN)
        return false;
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
        return false;
    default:
        return true;
    }
}

/* ---- the process-wide handler (async-signal-safe) ---- */

static void end_process(int sig)
{
    /* the signal is blocked while its handler runs: raised now, it kills the process with
     * the default action as soon as the handler returns */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    raise(sig);
}

static void on_signal(int sig)
{
    int saved = errno;
    uint64_t b = bit(sig);
    int n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        /* busy first, mask second (both seq_cst): a loop that clears its mask and then sees
         * busy == 0 knows no handler will touch its wakeup fd any more */
        __atomic_fetch_add(&s->busy, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&s->mask, __ATOMIC_SEQ_CST) & b) {
            if ((__atomic_load_n(&s->cancel_mask, __ATOMIC_RELAXED) & b) &&
                __atomic_fetch_add(&s->cancel_hits, 1, __ATOMIC_RELAXED) > 0) {
                __atomic_fetch_sub(&s->busy, 1, __ATOMIC_SEQ_CST);
                end_process(sig);
                break;
            }
            __atomic_fetch_add(&s->count[sig], 1, __ATOMIC_RELAXED);
            __atomic_fetch_or(&s->pending, b, __ATOMIC_RELEASE);
            __atomic_store_n(s->ts_pending, 1, __ATOMIC_RELEASE);
            uint64_t one = 1;
            ssize_t w = write(s->wake_fd, &one, sizeof one);
            (void)w;
        }
        __atomic_fetch_sub(&s->busy, 1, __ATOMIC_SEQ_CST);
    }
    errno = saved;
}

/* ---- process-wide dispositions ---- */

/* Takes sig for cask on its first listener. Returns 0 or a negative errno. */
static int global_ref(int sig)
{
    int rc = 0;
    pthread_mutex_lock(&gmu);
    if (grefs[sig] == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART | SA_ONSTACK;
        sigfillset(&sa.sa_mask); /* one handler at a time per thread */
        if (sigaction(sig, &sa, &gold[sig]) != 0)
            rc = -errno;
    }
    if (rc == 0)
        grefs[sig]++;
    pthread_mutex_unlock(&gmu);
    return rc;
}

/* Gives sig back to its previous disposition with its last listener. */
static void global_unref(int sig)
{
    pthread_mutex_lock(&gmu);
    if (--grefs[sig] == 0)
        sigaction(sig, &gold[sig], NULL);
    pthread_mutex_unlock(&gmu);
}

/* ---- the loop's slot ---- */

static int slot_get(cask_loop *l, struct slot **out)
{
    if (l->sig) {
        *out = l->sig;
        return 0;
    }
    pthread_mutex_lock(&gmu);
    int i = 0;
    while (i < MAX_LOOPS && slots[i].used)
        i++;
    if (i == MAX_LOOPS) {
        pthread_mutex_unlock(&gmu);
        return -EAGAIN;
    }
    struct slot *s = &slots[i];
    /* the handler may still scan this slot (its mask is 0): fill it before it can match */
    memset(s->count, 0, sizeof s->count);
    memset(s->refs, 0, sizeof s->refs);
    __atomic_store_n(&s->pending, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->cancel_mask, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->cancel_hits, 0, __ATOMIC_RELAXED);
    s->wake_fd = l->wake_fd;
    s->ts_pending = &l->ts_pending;
    s->loop = l;
    s->receivers = NULL;
    s->used = true;
    if (i >= nslots)
        __atomic_store_n(&nslots, i + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&gmu);
    l->sig = s;
    *out = s;
    return 0;
}

/* Counts one more listener of this loop for each signal of mask (all or nothing). */
static int slot_listen(struct slot *s, uint64_t mask)
{
    for (int sig = 1; sig <= MAXSIG; sig++) {
        if (!(mask & bit(sig)) || s->refs[sig]++ > 0)
            continue;
        int rc = global_ref(sig);
        if (rc) {
            s->refs[sig]--;
            for (int j = 1; j < sig; j++)
                if ((mask & bit(j)) && --s->refs[j] == 0) {
                    __atomic_fetch_and(&s->mask, ~bit(j), __ATOMIC_SEQ_CST);
                    global_unref(j);
                }
            return rc;
        }
        /* the slot listens before the count can be needed; an arrival between the two is
         * counted for this loop only once the handler is in place */
        __atomic_fetch_or(&s->mask, bit(sig), __ATOMIC_SEQ_CST);
    }
    return 0;
}

static void slot_unlisten(struct slot *s, uint64_t mask)
{
    for (int sig = 1; sig <= MAXSIG; sig++) {
        if (!(mask & bit(sig)) || --s->refs[sig] > 0)
            continue;
        __atomic_fetch_and(&s->mask, ~bit(sig), __ATOMIC_SEQ_CST);
        __atomic_store_n(&s->count[sig], 0, __ATOMIC_RELAXED);
        global_unref(sig);
    }
}

/* Gives the slot back once nothing listens; waits out handlers still looking at it. */
static void slot_put_if_idle(cask_loop *l)
{
    struct slot *s = l->sig;
    if (!s || s->receivers || __atomic_load_n(&s->mask, __ATOMIC_SEQ_CST))
        return;
    while (__atomic_load_n(&s->busy, __ATOMIC_SEQ_CST) > 0)
        sched_yield();
    pthread_mutex_lock(&gmu);
    s->used = false;
    s->loop = NULL;
    pthread_mutex_unlock(&gmu);
    l->sig = NULL;
}

/* ---- receivers ---- */

static void run_callbacks(void *arg);

static void receiver_free(cask_signal *r)
{
    struct slot *s = r->slot;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->receivers = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (r->call)
        cask_handle_cancel(r->call);
    slot_unlisten(s, r->mask);
    cask_loop *l = s->loop;
    cask__free(r);
    slot_put_if_idle(l);
}

/* Hands n arrivals of sig to r: wakes that many waiters, or schedules the callback. */
static void deliver(cask_signal *r, int sig, uint32_t n)
{
    r->count[sig] += n;
    r->pending |= bit(sig);
    if (r->cb)
        return; /* cask__signals_drain schedules the callback run */
    /* each woken waiter takes one arrival itself when it runs (cancel-safe: one cancelled
     * before it runs takes nothing) */
    for (uint32_t i = 0; i < n && !cask__wq_empty(&r->waiters); i++)
        cask__signal(cask__wq_pop(&r->waiters), 0);
}

/* Takes the lowest pending signal of r, or returns 0. */
static int take(cask_signal *r)
{
    if (!r->pending)
        return 0;
    int sig = __builtin_ctzll(r->pending) + 1;
    if (--r->count[sig] == 0)
        r->pending &= ~bit(sig);
    return sig;
}

static void run_callbacks(void *arg)
{
    cask_signal *r = arg;
    cask_handle_release(r->call);
    r->call = NULL;
    r->in_cb = true;
    int sig;
    while (!r->closed && (sig = take(r)) != 0)
        r->cb(sig, r->arg);
    r->in_cb = false;
    if (r->closed)
        receiver_free(r);
}

void cask__signals_drain(cask_loop *l)
{
    struct slot *s = l->sig;
    uint64_t p = __atomic_exchange_n(&s->pending, 0, __ATOMIC_ACQUIRE);
    while (p) {
        int sig = __builtin_ctzll(p) + 1;
        p &= p - 1;
        uint32_t n = __atomic_exchange_n(&s->count[sig], 0, __ATOMIC_RELAXED);
        if (!n)
            continue;
        if ((s->cancel_mask & bit(sig)) && l->main_task && !cask_task_done(l->main_task))
            cask_cancel(l->main_task);
        for (cask_signal *r = s->receivers; r; r = r->next)
            if ((r->mask & bit(sig)) && !r->closed)
                deliver(r, sig, n);
    }
    bool retry = false;
    for (cask_signal *r = s->receivers; r; r = r->next)
        if (r->cb && r->pending && !r->call && !r->closed &&
            cask_call_soon(&r->call, run_callbacks, r) != 0)
            retry = true;
    if (retry) { /* no memory for a callback run now: drain again next iteration */
        __atomic_store_n(&l->ts_pending, 1, __ATOMIC_RELEASE);
        uint64_t one = 1;
        ssize_t w = write(l->wake_fd, &one, sizeof one);
        (void)w;
    }
}

static int receiver_open(cask_signal **out, const int *sigs, size_t n, cask_signal_cb cb,
                         void *arg)
{
    if (out)
        *out = NULL;
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (!out || !sigs || n == 0)
        return -EINVAL;
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sig_valid(sigs[i]))
            return -EINVAL;
        mask |= bit(sigs[i]);
    }
    cask_signal *r = cask__calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    struct slot *s;
    int rc = slot_get(l, &s);
    if (rc)
        goto out_free;
    rc = slot_listen(s, mask);
    if (rc)
        goto out_put_slot;
    r->slot = s;
    r->mask = mask;
    r->cb = cb;
    r->arg = arg;
    r->next = s->receivers;
    if (s->receivers)
        s->receivers->prev = r;
    s->receivers = r;
    *out = r;
    return 0;

out_put_slot:
    slot_put_if_idle(l);
out_free:
    cask__free(r);
    return rc;
}

int cask_signal_open(cask_signal **out, const int *sigs, size_t n)
{
    return receiver_open(out, sigs, n, NULL, NULL);
}

int cask_signal_on(cask_signal **out, const int *sigs, size_t n, cask_signal_cb cb, void *arg)
{
    if (!cb) {
        if (out)
            *out = NULL;
        return -EINVAL;
    }
    return receiver_open(out, sigs, n, cb, arg);
}

static bool owned_here(const cask_signal *r)
{
    return r && !r->closed && cask__loop && r->slot->loop == cask__loop;
}

int cask_signal_wait(cask_signal *r)
{
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    if (!owned_here(r) || r->cb)
        return -EINVAL;
    for (;;) {
        if (cask__cancelled(self))
            return cask__cancel_now(self);
        int sig = take(r);
        if (sig)
            return sig;
        struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
        cask__waiter_init(w, "signal", r);
        w->task = self;
        cask__wq_push(&r->waiters, w);
        int rc = cask__park(w);
        if (rc < 0)
            return rc;
    }
}

int cask_signal_poll(cask_signal *r)
{
    if (!cask__loop)
        return -EPERM;
    if (!owned_here(r) || r->cb)
        return -EINVAL;
    int sig = take(r);
    return sig ? sig : -EAGAIN;
}

int cask_signal_close(cask_signal *r)
{
    if (!r)
        return 0;
    if (!owned_here(r))
        return -EINVAL;
    if (!cask__wq_empty(&r->waiters))
        return -EBUSY;
    r->closed = true;
    if (!r->in_cb)
        receiver_free(r);
    return 0;
}

/* ---- cask_run's options and the loop's end ---- */

int cask__signals_cancel_main(cask_loop *l, uint64_t mask)
{
    if (!mask)
        return 0;
    struct slot *s;
    int rc = slot_get(l, &s);
    if (rc)
        return rc;
    __atomic_fetch_or(&s->cancel_mask, mask, __ATOMIC_SEQ_CST);
    rc = slot_listen(s, mask);
    if (rc) {
        __atomic_store_n(&s->cancel_mask, 0, __ATOMIC_SEQ_CST);
        slot_put_if_idle(l);
    }
    return rc;
}

void cask__signals_close(cask_loop *l)
{
    struct slot *s = l->sig;
    if (!s)
        return;
    uint64_t cm = s->cancel_mask;
    if (cm) {
        slot_unlisten(s, cm);
        __atomic_store_n(&s->cancel_mask, 0, __ATOMIC_SEQ_CST);
    }
    /* receivers the program did not close; their tasks have all ended by now */
    while (s->receivers) {
        cask_signal *r = s->receivers;
        r->in_cb = false;
        receiver_free(r); /* gives the slot back with the last one */
    }
    slot_put_if_idle(l);
}

bool cask__signals_may_wake(cask_loop *l, const cask_signal *except)
{
    struct slot *s = l->sig;
    if (!s)
        return false;
    if (s->cancel_mask && l->main_task && !cask_task_done(l->main_task))
        return true;
    for (cask_signal *r = s->receivers; r; r = r->next)
        if (r != except && !r->closed)
            return true;
    return false;
}

bool cask__signal_arrived(cask_loop *l, int sig)
{
    struct slot *s = l->sig; /* set before the watchdog thread that asks was started */
    if (!s || sig < 1 || sig > MAXSIG)
        return false;
    return __atomic_load_n(&s->count[sig], __ATOMIC_RELAXED) > 0;
}

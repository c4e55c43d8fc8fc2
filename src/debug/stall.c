/*
 * stall.c: the live stall detector. A watchdog thread (all signals blocked) samples the loop's
 * step counters (task switches, callbacks run) and its "blocked in the poller" flag; when
 * neither moved for the threshold, the loop thread is stuck in one task step or callback.
 * The watchdog then sends the probe signal (SIGURG) to that thread; its handler, running on
 * the stuck thread itself, records the running task and walks its live stack from the
 * interrupted registers; the watchdog symbolizes and prints the report while the step is
 * still running. The loop's hot paths pay nothing for it: the counters exist anyway.
 * A dump signal (cfg.dump_signal) that arrives while the loop is stuck cannot be handled at
 * the next iteration; the watchdog then writes the task tree itself, from outside: the other
 * tasks are parked and stay as they are while the loop is stuck, and the stuck one is shown
 * with its live backtrace from a fresh probe.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>

#define PROBE_SIG SIGURG

struct cask__stall {
    cask_loop *loop;
    pthread_t thread, loop_thread;
    uint64_t threshold_ns;
    FILE *out;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    const void *sched_lo, *sched_hi; /* the loop thread's own stack (callbacks run there) */
    /* the probe: requested by the watchdog, filled by the handler on the loop thread */
    int probe; /* 0 idle, 1 asked, 2 filled */
    sem_t filled;
    void *pcs[CASK__BT_MAX];
    int npcs;
    uint64_t task_id;
    const cask_task *task; /* the stuck task, or NULL (a callback) */
    char name[32];
    uint64_t reports; /* stalls reported */
};

static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static int nstalls;
static struct sigaction old_probe;

static void on_probe(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    cask_loop *l = cask__loop;
    struct cask__stall *s = l && l->diag ? l->diag->stall : NULL;
    if (s && __atomic_load_n(&s->probe, __ATOMIC_ACQUIRE) == 1) {
        cask_task *t = l->current;
        const void *lo = t ? (const void *)t->stack.lo : s->sched_lo;
        const void *hi = t ? (const void *)t->stack.hi : s->sched_hi;
        s->npcs = cask__frames_ucontext(uc, lo, hi, s->pcs, CASK__BT_MAX);
        s->task_id = t ? t->id : 0;
        s->task = t;
        if (t)
            memcpy(s->name, t->name[0] ? t->name : "", sizeof s->name);
        __atomic_store_n(&s->probe, 2, __ATOMIC_RELEASE);
        sem_post(&s->filled);
    } else if ((old_probe.sa_flags & SA_SIGINFO) && old_probe.sa_sigaction) {
        old_probe.sa_sigaction(sig, si, uc);
    } else if (old_probe.sa_handler != SIG_DFL && old_probe.sa_handler != SIG_IGN) {
        old_probe.sa_handler(sig);
    }
    errno = saved;
}

static uint64_t steps(cask_loop *l)
{
    return __atomic_load_n(&l->switches, __ATOMIC_RELAXED) +
           __atomic_load_n(&l->callbacks, __ATOMIC_RELAXED);
}

/* Asks the stuck thread for its running task and live frames; false if it did not answer. Its
 * answer (a semaphore post from the loop's thread) also orders everything the loop did before
 * it ahead of what the watchdog reads next. */
static bool probe(struct cask__stall *s)
{
    __atomic_store_n(&s->probe, 1, __ATOMIC_RELEASE);
    bool got = false;
    if (pthread_kill(s->loop_thread, PROBE_SIG) == 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (sem_timedwait(&s->filled, &until) != 0 && errno == EINTR)
            ;
        got = __atomic_load_n(&s->probe, __ATOMIC_ACQUIRE) == 2;
    }
    __atomic_store_n(&s->probe, 0, __ATOMIC_RELEASE);
    return got;
}

static void report(struct cask__stall *s, double ran)
{
    bool got = probe(s);
    FILE *f = s->out;
    double thr = (double)s->threshold_ns / 1e9;
    if (!got) {
        fprintf(f, "cask: stall: the loop has run one step for %.3f s (threshold %.3f s); "
                   "its stack could not be read\n", ran, thr);
    } else if (s->task_id) {
        char name[33];
        memcpy(name, s->name, 32);
        name[32] = 0;
        if (!name[0])
            snprintf(name, sizeof name, "Task-%" PRIu64, s->task_id);
        fprintf(f, "cask: stall: task %" PRIu64 " '%s' has run for %.3f s without giving up the "
                   "loop (threshold %.3f s); it is now at:\n", s->task_id, name, ran, thr);
    } else {
        fprintf(f, "cask: stall: a callback has run for %.3f s (threshold %.3f s); it is now "
                   "at:\n", ran, thr);
    }
    char sym[200];
    for (int i = 0; got && i < s->npcs; i++) {
        cask__symbolize(s->pcs[i], i > 0, sym, sizeof sym);
        fprintf(f, "    %s %s\n", i ? "  " : "at", sym);
    }
    fflush(f);
    s->reports++;
}

/* The dump signal arrived while the loop is stuck: the tree, from this thread. */
static void report_tree(struct cask__stall *s, int sig, double ran)
{
    FILE *f = s->out;
    if (!probe(s)) {
        fprintf(f, "cask: signal %d while the loop is stuck (%.3f s in one step): its stack "
                   "could not be read, no task tree\n", sig, ran);
        fflush(f);
        return;
    }
    fprintf(f, "cask: signal %d while the loop is stuck (%.3f s in one step): task tree, "
               "written by the watchdog\n", sig, ran);
    cask__dump_tree_outside(s->loop, f, s->task, s->pcs, s->npcs);
    /* one more probe hands the loop back: the handler's acquire of the request orders the
     * reads above before anything the loop thread does once it gets going again */
    (void)probe(s);
}

static void *watchdog(void *p)
{
    struct cask__stall *s = p;
    cask_loop *l = s->loop;
    uint64_t period = s->threshold_ns / 4;
    if (period > 50000000u)
        period = 50000000u;
    if (period < 1000000u)
        period = 1000000u;
    uint64_t last = steps(l), since = cask__clock_ns();
    bool reported = false, tree_done = false;
    int dump_sig = l->diag->dump_sig;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + period;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
        if (s->stop)
            break;
        uint64_t now = cask__clock_ns(), cur = steps(l);
        bool idle = __atomic_load_n(&l->in_poll, __ATOMIC_RELAXED) ||
                    __atomic_load_n(&l->diag->busy, __ATOMIC_RELAXED);
        if (cur != last || idle) {
            last = cur;
            since = now;
            reported = false;
            tree_done = false;
            continue;
        }
        if (!reported && now - since >= s->threshold_ns) {
            pthread_mutex_unlock(&s->mu);
            report(s, (double)(now - since) / 1e9);
            pthread_mutex_lock(&s->mu);
            reported = true; /* once per stuck step */
        }
        if (reported && !tree_done && dump_sig && cask__signal_arrived(l, dump_sig)) {
            pthread_mutex_unlock(&s->mu);
            report_tree(s, dump_sig, (double)(cask__clock_ns() - since) / 1e9);
            pthread_mutex_lock(&s->mu);
            tree_done = true; /* the loop answers it too, once it gets going again */
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void stall_free(struct cask__stall *s)
{
    pthread_mutex_lock(&gmu);
    if (--nstalls == 0)
        sigaction(PROBE_SIG, &old_probe, NULL);
    pthread_mutex_unlock(&gmu);
    sem_destroy(&s->filled);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    cask__free(s);
}

int cask__stall_start(cask_loop *l, double threshold, FILE *out)
{
    struct cask__stall *s = cask__calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = l;
    s->loop_thread = pthread_self();
    s->threshold_ns = cask__seconds_to_ns(threshold);
    s->out = out;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&a, &addr, &size) == 0) {
            s->sched_lo = addr;
            s->sched_hi = (char *)addr + size;
        }
        pthread_attr_destroy(&a);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    sem_init(&s->filled, 0, 0);
    pthread_mutex_lock(&gmu);
    if (nstalls++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_probe;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigfillset(&sa.sa_mask);
        sigaction(PROBE_SIG, &sa, &old_probe);
    }
    pthread_mutex_unlock(&gmu);
    l->diag->stall = s;
    /* the watchdog never takes a process signal */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, watchdog, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        l->diag->stall = NULL;
        stall_free(s);
        return -rc;
    }
    return 0;
}

void cask__stall_stop(cask_loop *l)
{
    struct cask__stall *s = l->diag ? l->diag->stall : NULL;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    l->diag->stall = NULL;
    stall_free(s);
}

/*
 * process.c: process pools (ProcessPoolExecutor). Workers are forks of the program, each with
 * a job pipe and a result pipe carrying length-prefixed frames; the parent's ends are cask
 * streams, so a task hands a job to a free worker, writes it and reads the result without
 * blocking the loop. A worker whose job is cancelled, or that dies, is killed, reaped and
 * replaced. Pools not closed by the program are closed at loop close (loop->ext[EXT_PROCPOOL]).
 */
#define _GNU_SOURCE
#include "../io/net_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 1024
#define WORKER_STACK ((size_t)8 << 20)

struct job_hdr {
    uint64_t fn; /* the function's address: valid in the worker, a copy of this program */
    uint64_t len;
};
struct result_hdr {
    int64_t status;
    uint64_t len;
};

struct worker {
    pid_t pid;            /* 0: no process (it could not be replaced) */
    cask_stream *jobs;    /* the parent writes job frames */
    cask_stream *results; /* and reads result frames */
    bool busy;
};

struct cask_procpool {
    cask_procpool *prev, *next; /* the loop's pools */
    cask_loop *loop;
    unsigned n;
    unsigned busy;               /* workers handed to a task */
    bool closing, cancelling;
    struct cask__wq queue;       /* tasks waiting for a worker */
    struct cask__waiter *closer; /* close, waiting for busy == 0 */
    struct worker w[];
};

struct pools {
    cask_procpool *head;
};

/* ---- the worker process ---- */

static bool read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Reads jobs from fd 3, runs them, writes results to fd 4, until the parent closes fd 3. */
__attribute__((noreturn)) static void worker_loop(void)
{
    for (;;) {
        struct job_hdr h;
        if (!read_full(3, &h, sizeof h))
            _exit(0);
        void *in = malloc(h.len ? h.len : 1);
        if (!in || !read_full(3, in, h.len))
            _exit(3);
        cask_work_fn fn = (cask_work_fn)(uintptr_t)h.fn;
        void *out = NULL;
        size_t out_len = 0;
        int st = fn(in, h.len, &out, &out_len);
        free(in);
        fflush(stdout);
        fflush(stderr);
        struct result_hdr r = {st, out ? out_len : 0};
        if (!write_full(4, &r, sizeof r) || (r.len && !write_full(4, out, r.len)))
            _exit(4);
        free(out);
    }
}

static void worker_entry(void *arg)
{
    (void)arg;
    cask__ctx_entered();
    worker_loop();
}

static void close_above(int low)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)low, ~0U, 0) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = low; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        close(fd);
}

/* The forked child: a clean slate for running jobs, then the loop on a stack of its own (the
 * fork happened on a small task stack). */
__attribute__((noreturn)) static void worker_main(int jobfd, int resfd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    signal(SIGINT, SIG_IGN); /* Ctrl-C is the parent's to handle */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int a = fcntl(jobfd, F_DUPFD, 10), b = fcntl(resfd, F_DUPFD, 10);
    if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
        _exit(5);
    close_above(5);
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0 && nul != 0) {
        dup2(nul, 0);
        close(nul);
    }
    cask__loop = NULL; /* the parent's loop does not exist here */
    void *stk = mmap(NULL, WORKER_STACK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (stk == MAP_FAILED)
        worker_loop();
    struct cask__ctx from, to;
    memset(&from, 0, sizeof from);
    cask__ctx_make(&to, stk, WORKER_STACK, worker_entry, NULL);
    cask__ctx_switch(&from, &to, 1);
    _exit(6); /* not reached */
}

/* ---- workers seen from the parent ---- */

static int start_worker(struct worker *w)
{
    int jp[2], rp[2];
    if (pipe2(jp, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(rp, O_CLOEXEC) < 0) {
        int e = errno;
        close(jp[0]);
        close(jp[1]);
        return -e;
    }
    cask_stream *js = NULL, *rs = NULL;
    int rc = cask_stream_open(&js, jp[1], NULL);
    if (rc == 0)
        rc = cask_stream_open(&rs, rp[0], NULL);
    if (rc) {
        if (js)
            cask_stream_free(js);
        else
            close(jp[1]);
        close(rp[0]);
        close(jp[0]);
        close(rp[1]);
        return rc;
    }
    pid_t parent = getpid();
    fflush(stdout); /* what is buffered now would be written twice */
    fflush(stderr);
    /* signals blocked across the fork: no handler of the program runs in the new worker
     * before it has reset them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        worker_main(jp[0], rp[1], parent);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(jp[0]);
    close(rp[1]);
    if (pid < 0) {
        cask_stream_free(js);
        cask_stream_free(rs);
        return -e;
    }
    w->pid = pid;
    w->jobs = js;
    w->results = rs;
    return 0;
}

/* Kills and reaps a worker's process, closes its pipes; how it ended goes to *st. */
static void end_worker(struct worker *w, struct cask_exit *st)
{
    cask_stream_free(w->jobs);
    cask_stream_free(w->results);
    w->jobs = w->results = NULL;
    if (w->pid <= 0)
        return;
    kill(w->pid, SIGKILL); /* a worker that died already keeps its own status */
    int ws = 0;
    pid_t r;
    do {
        r = waitpid(w->pid, &ws, 0);
    } while (r < 0 && errno == EINTR);
    if (st) {
        memset(st, 0, sizeof *st);
        if (r != w->pid) {
            st->code = 255;
        } else if (WIFSIGNALED(ws)) {
            st->code = -1;
            st->signal = WTERMSIG(ws);
            st->core_dumped = WCOREDUMP(ws) != 0;
        } else {
            st->code = WEXITSTATUS(ws);
        }
    }
    w->pid = 0;
}

/* ---- the loop's pools ---- */

static void pools_close(cask_loop *l, void *ptr);

static struct pools *pools_get(cask_loop *l)
{
    if (l->ext[CASK__EXT_PROCPOOL])
        return l->ext[CASK__EXT_PROCPOOL];
    struct pools *ps = cask__calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    l->ext[CASK__EXT_PROCPOOL] = ps;
    l->ext_close[CASK__EXT_PROCPOOL] = pools_close;
    return ps;
}

static void pool_unlink(cask_procpool *p)
{
    struct pools *ps = p->loop->ext[CASK__EXT_PROCPOOL];
    if (p->prev)
        p->prev->next = p->next;
    else
        ps->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
}

static void pool_destroy(cask_procpool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        end_worker(&p->w[i], NULL);
    pool_unlink(p);
    cask__free(p);
}

static void pools_close(cask_loop *l, void *ptr)
{
    struct pools *ps = ptr;
    while (ps->head)
        pool_destroy(ps->head);
    cask__free(ps);
    l->ext[CASK__EXT_PROCPOOL] = NULL;
}

int cask_procpool_new(cask_procpool **out, unsigned workers)
{
    cask_loop *l = cask__loop;
    if (out)
        *out = NULL;
    if (!l)
        return -EPERM;
    if (!out || workers > MAX_WORKERS)
        return -EINVAL;
    if (workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
    }
    struct pools *ps = pools_get(l);
    if (!ps)
        return -ENOMEM;
    cask_procpool *p = cask__calloc(1, sizeof *p + workers * sizeof p->w[0]);
    if (!p)
        return -ENOMEM;
    p->loop = l;
    p->n = workers;
    p->next = ps->head;
    if (ps->head)
        ps->head->prev = p;
    ps->head = p;
    for (unsigned i = 0; i < workers; i++) {
        int rc = start_worker(&p->w[i]);
        if (rc) {
            pool_destroy(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

unsigned cask_procpool_size(const cask_procpool *pool) { return pool ? pool->n : 0; }

/* ---- running a job ---- */

static void wake_closer(cask_procpool *p)
{
    if (p->closer && p->busy == 0 && cask__wq_empty(&p->queue)) {
        struct cask__waiter *c = p->closer;
        p->closer = NULL;
        cask__signal(c, 0);
    }
}

/* Gives the worker to the first waiting task, or back to the pool. */
static void release(cask_procpool *p, struct worker *w)
{
    struct cask__waiter *q = p->cancelling ? NULL : cask__wq_pop(&p->queue);
    if (q) {
        q->data = w;
        cask__signal(q, 0);
        return;
    }
    w->busy = false;
    p->busy--;
    wake_closer(p);
}

/* A free worker (replacing one that could not be restarted before), or NULL. */
static struct worker *idle_worker(cask_procpool *p, int *err)
{
    struct worker *dead = NULL;
    for (unsigned i = 0; i < p->n; i++) {
        if (p->w[i].busy)
            continue;
        if (p->w[i].pid > 0)
            return &p->w[i];
        if (!dead)
            dead = &p->w[i];
    }
    if (dead) {
        *err = start_worker(dead);
        if (*err == 0)
            return dead;
    }
    return NULL;
}

static int acquire(cask_procpool *p, cask_task *self, struct worker **out)
{
    int err = 0;
    struct worker *w = cask__wq_empty(&p->queue) ? idle_worker(p, &err) : NULL;
    if (w) {
        w->busy = true;
        p->busy++;
        *out = w;
        return 0;
    }
    if (p->busy == 0 && err) /* no worker at all and none can be started */
        return err;
    struct cask__waiter *q = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(q, "process pool", p);
    q->task = self;
    cask__wq_push(&p->queue, q);
    int rc = cask__park(q);
    if (rc)
        return rc; /* -ECANCELED (nothing done) or -ESHUTDOWN */
    *out = q->data; /* handed over, still counted busy */
    return 0;
}

/* The job on w went wrong (cancelled mid-way, or the worker died): kill, reap, replace. */
static void replace(cask_procpool *p, struct worker *w, struct cask_exit *st)
{
    end_worker(w, st);
    if (!p->closing)
        (void)start_worker(w); /* on failure the slot is restarted by a later job */
}

static int exchange(cask_procpool *p, struct worker *w, struct cask_job *job)
{
    struct job_hdr h = {(uint64_t)(uintptr_t)job->fn, job->in_len};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)job->in, job->in_len}};
    size_t total = sizeof h + job->in_len;
    ssize_t n = cask_stream_writev(w->jobs, iov, job->in_len ? 2 : 1);
    int rc;
    if (n == (ssize_t)total) {
        struct result_hdr r;
        size_t got = 0;
        n = cask_stream_readexactly(w->results, &r, sizeof r, &got);
        if (n == (ssize_t)sizeof r && r.len) {
            job->out = cask__malloc(r.len);
            if (!job->out) {
                replace(p, w, NULL); /* its result cannot be taken: start afresh */
                return -ENOMEM;
            }
            n = cask_stream_readexactly(w->results, job->out, r.len, &got);
            if (n == (ssize_t)r.len) {
                job->out_len = r.len;
                return (int)r.status;
            }
            cask__free(job->out);
            job->out = NULL;
        } else if (n == (ssize_t)sizeof r) {
            return (int)r.status;
        }
        rc = (int)n;
    } else if (n == -ECANCELED) {
        return -ECANCELED; /* nothing was written: the worker is as good as new */
    } else {
        rc = n < 0 ? (int)n : -EPIPE;
        if (n >= 0 && cask__cancelled(cask__self()))
            rc = -ECANCELED;
    }
    /* the job was cut off: cancelled, the pool closed, or the worker died */
    if (p->cancelling) {
        end_worker(w, NULL);
        return -ESHUTDOWN;
    }
    if (rc == -ECANCELED) {
        replace(p, w, NULL);
        return -ECANCELED;
    }
    replace(p, w, &job->crash);
    return -ECHILD;
}

int cask_procpool_run(cask_procpool *pool, struct cask_job *job)
{
    if (!pool || !job || !job->fn || (!job->in && job->in_len))
        return -EINVAL;
    job->out = NULL;
    job->out_len = 0;
    memset(&job->crash, 0, sizeof job->crash);
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    if (pool->closing)
        return -ESHUTDOWN;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    struct worker *w;
    int rc = acquire(pool, self, &w);
    if (rc)
        return rc;
    rc = exchange(pool, w, job);
    release(pool, w);
    return rc;
}

/* ---- shutting down ---- */

static void cancel_all(cask_procpool *p)
{
    p->cancelling = true;
    struct cask__waiter *q;
    while ((q = cask__wq_pop(&p->queue)))
        cask__signal(q, -ESHUTDOWN);
    for (unsigned i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        if (w->busy && w->pid > 0) {
            kill(w->pid, SIGKILL);
            /* wakes the task blocked on it (-ENOTCONN); it reaps the worker */
            cask_stream_close(w->jobs);
            cask_stream_close(w->results);
        }
    }
}

static bool closer_on_cancel(struct cask__waiter *w)
{
    (void)w;
    return true;
}

int cask_procpool_close(cask_procpool *pool, bool cancel)
{
    if (!pool)
        return 0;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    int rc = 0;
    pool->closing = true;
    if (cancel)
        cancel_all(pool);
    while (pool->busy || !cask__wq_empty(&pool->queue)) {
        struct cask__waiter *c = CASK__REC(self, struct cask__waiter);
        cask__waiter_init(c, "process pool close", pool);
        c->task = self;
        c->on_cancel = closer_on_cancel;
        pool->closer = c;
        cask_scope sh;
        bool shielded = pool->cancelling && cask_shield_open(&sh) == 0;
        int r = cask__park(c);
        if (shielded)
            cask_scope_close(&sh, 0);
        pool->closer = NULL;
        if (r == -ECANCELED && !pool->cancelling) {
            rc = -ECANCELED;
            cancel_all(pool); /* then wait, shielded, for the tasks to leave */
        }
    }
    pool_destroy(pool);
    return rc;
}

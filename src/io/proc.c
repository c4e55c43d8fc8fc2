/*
 * proc.c: child processes. Starting one (vfork, then a child that resets signals, sets up its
 * fds and execs, reporting an exec failure through a close-on-exec pipe), learning that it
 * ended (a pidfd the loop waits on, or a thread blocked in waitid where pidfd_open is
 * missing), waiting, stopping on cancellation, communicate, and the per-loop registry that
 * reaps what handles leave behind (loop->ext[CASK__EXT_PROC]).
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_GRACE 5.0
#define DEFAULT_WAIT_DELAY 2.0
#define DEFAULT_COMM_LIMIT ((size_t)64 << 20)
#define MAX_PASS_FDS 256

struct registry {
    cask_process *head;
};

struct cask_process {
    cask_process *prev, *next; /* the loop's registry */
    cask_loop *loop;
    pid_t pid;
    int efd;       /* readable once the child has ended (pidfd, or the fallback pipe) */
    bool ended;    /* reaped: st holds how it ended */
    bool group;    /* the child leads its own process group */
    bool exit_seen; /* efd turned readable */
    struct cask_exit st;
    cask_stream *in, *out, *err;
    cask_task *watcher;     /* the task parked on efd */
    struct cask__wq waiters; /* other tasks waiting for the end */
    enum cask_proc_cancel on_cancel;
    int kill_signal;
    double grace, wait_delay;
};

/* ---- the registry: every live handle of a loop, reaped at its close ---- */

static void registry_close(cask_loop *l, void *ptr);

static struct registry *registry_get(cask_loop *l)
{
    if (l->ext[CASK__EXT_PROC])
        return l->ext[CASK__EXT_PROC];
    struct registry *r = cask__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    l->ext[CASK__EXT_PROC] = r;
    l->ext_close[CASK__EXT_PROC] = registry_close;
    return r;
}

static void registry_add(struct registry *r, cask_process *p)
{
    p->prev = NULL;
    p->next = r->head;
    if (r->head)
        r->head->prev = p;
    r->head = p;
}

static void registry_del(cask_process *p)
{
    struct registry *r = p->loop->ext[CASK__EXT_PROC];
    if (p->prev)
        p->prev->next = p->next;
    else
        r->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

/* ---- learning that a child ended ---- */

static void fill_status(struct cask_exit *st, int ws)
{
    memset(st, 0, sizeof *st);
    if (WIFSIGNALED(ws)) {
        st->code = -1;
        st->signal = WTERMSIG(ws);
        st->core_dumped = WCOREDUMP(ws) != 0;
    } else {
        st->code = WEXITSTATUS(ws);
    }
}

static void close_efd(cask_process *p)
{
    if (p->efd < 0)
        return;
    if (cask__loop == p->loop)
        cask_fd_forget(p->efd); /* wakes a watcher parked on it with -EBADF */
    close(p->efd);
    p->efd = -1;
}

/* Reaps the child if it has ended (flags WNOHANG) or waits for it (0). True once reaped. */
static bool reap(cask_process *p, int flags)
{
    if (p->ended)
        return true;
    int ws = 0;
    pid_t r;
    do {
        r = waitpid(p->pid, &ws, flags);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    if (r == p->pid) {
        fill_status(&p->st, ws);
    } else { /* ECHILD: someone else reaped it (an application's SIGCHLD handler) */
        memset(&p->st, 0, sizeof p->st);
        p->st.code = 255;
    }
    p->ended = true;
    close_efd(p);
    return true;
}

/* The fallback without pidfd: a thread waits for the child without reaping it (WNOWAIT: the
 * pid stays reserved for our kill() calls) and closes a pipe's write end, which the loop sees
 * as the read end turning readable. With fd < 0 it reaps the child instead (a detached one). */
static void *exit_thread(void *arg)
{
    uint64_t v = (uint64_t)(uintptr_t)arg;
    pid_t pid = (pid_t)(v >> 32);
    int fd = (int)(int32_t)(uint32_t)v;
    siginfo_t si;
    if (fd >= 0) {
        while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
        }
        close(fd);
    } else {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    return NULL;
}

static int start_exit_thread(pid_t pid, int fd)
{
    _Static_assert(sizeof(void *) >= 8 || sizeof(pid_t) + sizeof(int) <= sizeof(void *),
                   "pid and fd must fit in a pointer");
    uint64_t v = ((uint64_t)(uint32_t)pid << 32) | (uint32_t)fd;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* no process signal ever lands on it */
    pthread_t t;
    int rc = pthread_create(&t, &a, exit_thread, (void *)(uintptr_t)v);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    return -rc;
}

static int no_pidfd_forced(void)
{
    static int forced = -1; /* tests set CASK_NO_PIDFD=1 to walk the fallback */
    int f = __atomic_load_n(&forced, __ATOMIC_RELAXED);
    if (f < 0) {
        const char *e = getenv("CASK_NO_PIDFD");
        f = e && *e == '1';
        __atomic_store_n(&forced, f, __ATOMIC_RELAXED);
    }
    return f;
}

/* An fd that turns readable when the child ends. */
static int exit_fd(pid_t pid)
{
#ifdef SYS_pidfd_open
    if (!no_pidfd_forced()) {
        long fd = syscall(SYS_pidfd_open, pid, 0);
        if (fd >= 0) {
            fcntl((int)fd, F_SETFD, FD_CLOEXEC);
            return (int)fd;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
            return -errno;
        /* ENOSYS (old kernel, some emulators), EPERM (seccomp): the thread fallback */
    }
#endif
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    int rc = start_exit_thread(pid, pfd[1]);
    if (rc) {
        close(pfd[0]);
        close(pfd[1]);
        return rc == -EAGAIN ? -EAGAIN : rc;
    }
    return pfd[0];
}

static void wake_waiters(cask_process *p)
{
    struct cask__waiter *w;
    while ((w = cask__wq_pop(&p->waiters)))
        cask__signal(w, 0);
}

/* True once the child has ended. Reaps it only with reap_it: unreaped, its pid (and process
 * group id) stays ours, so signals sent to them cannot reach anyone else. */
static bool has_ended(cask_process *p, bool reap_it)
{
    if (p->ended)
        return true;
    if (reap_it)
        return reap(p, WNOHANG);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
        if (errno != EINTR)
            return reap(p, WNOHANG); /* ECHILD: reaped by someone else */
    }
    return si.si_pid != 0;
}

/* Waits until the child has ended (and reaps it if reap_it). 0, or -ECANCELED, -ENOMEM. */
static int await_exit(cask_process *p, bool reap_it)
{
    cask_task *self = cask__self();
    for (;;) {
        if (has_ended(p, reap_it))
            return 0;
        if (cask__cancelled(self))
            return cask__cancel_now(self);
        int rc;
        if (p->exit_seen) {
            /* efd was readable (its edge is used up) but the child is not reapable yet: the
             * exit is under way; look again soon */
            rc = cask_sleep(0.001);
        } else if (!p->watcher) {
            p->watcher = self;
            rc = cask_wait_fd(p->efd, CASK_READABLE);
            p->watcher = NULL;
            if (rc > 0)
                p->exit_seen = true;
            wake_waiters(p); /* one of them takes over if this one leaves */
        } else {
            struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
            cask__waiter_init(w, "process exit", p);
            w->task = self;
            cask__wq_push(&p->waiters, w);
            rc = cask__park(w);
        }
        if (rc == -ECANCELED || rc == -ENOMEM)
            return rc;
    }
}

/* ---- stopping ---- */

static void send_stop(cask_process *p, int sig)
{
    if (p->ended)
        return;
    if (p->group && kill(-p->pid, sig) == 0)
        return;
    kill(p->pid, sig);
}

/* The child (its group's leader) has ended or been sent SIGKILL, and is not reaped yet: the
 * rest of its process group gets SIGKILL too, so nothing of it outlives the stop. */
static void finish_group(cask_process *p)
{
    if (p->group && !p->ended)
        kill(-p->pid, SIGKILL);
}

/* From a task: stops the child as on_cancel says (kill_signal, up to grace, SIGKILL; or SIGKILL
 * at once) and reaps it. shield_grace: outer cancellation does not cut the grace period short
 * (a cancelled wait); without, it does (background reaping at the end of cask_run). */
static void stop_and_reap(cask_process *p, bool shield_grace)
{
    cask_scope sh, mv;
    if (!has_ended(p, false)) {
        bool term = p->on_cancel == CASK_PROC_TERMINATE;
        send_stop(p, term ? p->kill_signal : SIGKILL);
        if (term) {
            bool shielded = shield_grace && cask_shield_open(&sh) == 0;
            if (cask_move_on_open(&mv, p->grace) == 0) {
                int rc = await_exit(p, false);
                (void)cask_scope_close(&mv, rc);
            }
            if (shielded)
                cask_scope_close(&sh, 0);
            if (!has_ended(p, false))
                send_stop(p, SIGKILL);
        }
    }
    finish_group(p);
    bool shielded = cask_shield_open(&sh) == 0;
    while (!reap(p, WNOHANG))
        if (await_exit(p, true) == -ENOMEM)
            reap(p, 0); /* SIGKILL was sent: a short blocking wait */
    if (shielded)
        cask_scope_close(&sh, 0);
}

/* A cancelled (or failed) wait or communicate: stop the child unless it is to be left. */
static void stop_child(cask_process *p)
{
    if (p->ended || p->on_cancel == CASK_PROC_LEAVE)
        return;
    stop_and_reap(p, true);
}

/* Without a task to wait in: SIGKILL (the group too) and a short blocking wait. */
static void kill_now(cask_process *p)
{
    if (p->ended)
        return;
    if (!has_ended(p, false))
        send_stop(p, SIGKILL);
    finish_group(p);
    reap(p, 0);
}

/* ---- starting ---- */

/* What the child does between vfork and exec; everything prepared by the parent, since the
 * child shares the parent's memory and may not allocate. */
struct plan {
    const char *file;
    char *const *argv;
    char *const *envp;
    const char *path; /* PATH to search when file has no '/' */
    const char *cwd;
    int src[3];       /* fd to become 0, 1, 2; -1: inherited; -2 (stderr): the same as stdout */
    const int *pass;  /* fds to become 3, 4, ... (all >= low) */
    int npass;
    int low;          /* every fd from here up is closed, errfd excepted (it is close-on-exec) */
    int errfd;
    int maxfd;        /* for the close loop where close_range is missing */
    bool setsid, setpgid;
};

static void close_from(const struct plan *c, int from, int to)
{
#ifdef SYS_close_range
    if (from > to)
        return;
    if (syscall(SYS_close_range, (unsigned)from, (unsigned)to, 0) == 0)
        return;
#endif
    for (int fd = from; fd <= to && fd < c->maxfd; fd++)
        close(fd);
}

__attribute__((noreturn)) static void child_fail(const struct plan *c, int err)
{
    ssize_t w;
    do {
        w = write(c->errfd, &err, sizeof err);
    } while (w < 0 && errno == EINTR);
    _exit(127);
}

__attribute__((noreturn)) static void child(const struct plan *c)
{
    /* dispositions back to the defaults (handlers live in the parent's memory; SIGPIPE is
     * ignored there), while every signal is still blocked */
    struct { /* the kernel's struct sigaction (x86_64, aarch64): the raw call also reaches
              * the signals libc keeps for itself (32, 33), which may arrive ignored */
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
#if defined(__x86_64__) || defined(__aarch64__)
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
#else
        signal(sig, SIG_DFL);
#endif
    }
    if (c->setsid && setsid() < 0)
        child_fail(c, errno);
    if (c->setpgid && setpgid(0, 0) < 0)
        child_fail(c, errno);
    if (c->cwd && chdir(c->cwd) < 0)
        child_fail(c, errno);
    for (int i = 0; i < 3; i++) {
        if (c->src[i] >= 0) {
            if (dup2(c->src[i], i) < 0)
                child_fail(c, errno);
        } else if (c->src[i] == -2) {
            if (dup2(1, 2) < 0)
                child_fail(c, errno);
        } else {
            int fl = fcntl(i, F_GETFD);
            if (fl > 0 && (fl & FD_CLOEXEC))
                fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
        }
    }
    for (int i = 0; i < c->npass; i++)
        if (dup2(c->pass[i], 3 + i) < 0)
            child_fail(c, errno);
    close_from(c, c->low, c->errfd - 1);
    close_from(c, c->errfd + 1, INT_MAX);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (strchr(c->file, '/')) {
        execve(c->file, c->argv, c->envp);
        child_fail(c, errno);
    }
    int err = ENOENT;
    bool eacces = false;
    char buf[PATH_MAX];
    size_t flen = strlen(c->file);
    for (const char *d = c->path;; d++) {
        const char *e = strchr(d, ':');
        size_t dlen = e ? (size_t)(e - d) : strlen(d);
        if (dlen + flen + 2 <= sizeof buf) {
            memcpy(buf, d, dlen);
            size_t n = dlen;
            if (n == 0)
                buf[n++] = '.'; /* an empty entry is the current directory */
            buf[n++] = '/';
            memcpy(buf + n, c->file, flen + 1);
            execve(buf, c->argv, c->envp);
            err = errno;
            if (err == EACCES)
                eacces = true;
            else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ELOOP &&
                     err != ENAMETOOLONG)
                break;
        }
        if (!e)
            break;
        d = e;
    }
    child_fail(c, eacces && err != ENOEXEC ? EACCES : err);
}

static pid_t start_child(const struct plan *c)
{
    pid_t pid = vfork();
    if (pid == 0)
        child(c);
    return pid;
}

/* Moves fd to a number >= min (close-on-exec), closing the old one. fd or -errno. */
static int move_up(int fd, int min)
{
    if (fd < 0 || fd >= min)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, min);
    int e = errno;
    close(fd);
    return n < 0 ? -e : n;
}

static bool has_name(const char *entry, const char *name_eq, size_t n)
{
    return strncmp(entry, name_eq, n) == 0;
}

/* The environment: base (or environ) with add's entries replacing those of the same name. */
static int build_env(char *const *base, char *const *add, char ***out)
{
    *out = NULL;
    if (!add)
        return 0;
    if (!base)
        base = environ;
    size_t nb = 0, na = 0;
    while (base && base[nb])
        nb++;
    while (add[na])
        na++;
    char **env = cask__malloc((nb + na + 1) * sizeof *env);
    if (!env)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < nb; i++) {
        const char *eq = strchr(base[i], '=');
        size_t n = eq ? (size_t)(eq - base[i]) + 1 : strlen(base[i]);
        bool replaced = false;
        for (size_t j = 0; j < na && !replaced; j++)
            replaced = has_name(add[j], base[i], n);
        if (!replaced)
            env[k++] = base[i];
    }
    for (size_t j = 0; j < na; j++)
        env[k++] = add[j];
    env[k] = NULL;
    *out = env;
    return 0;
}

static bool stdio_ok(const struct cask_stdio *s, bool is_err)
{
    switch (s->kind) {
    case CASK_STDIO_INHERIT:
    case CASK_STDIO_PIPE:
    case CASK_STDIO_DEVNULL:
        return true;
    case CASK_STDIO_FD:
        return s->fd >= 0;
    case CASK_STDIO_STDOUT:
        return is_err;
    }
    return false;
}

static int open_stream(cask_stream **out, int fd, size_t limit)
{
    struct cask_stream_opts so = {.limit = limit};
    int rc = cask_stream_open(out, fd, &so);
    if (rc)
        close(fd);
    return rc;
}

int cask_process_spawn(cask_process **out, const char *const *argv,
                       const struct cask_process_opts *opts)
{
    static const struct cask_process_opts defaults;
    cask_loop *l = cask__loop;
    if (out)
        *out = NULL;
    if (!l)
        return -EPERM;
    if (!out || !argv || !argv[0] || !argv[0][0])
        return -EINVAL;
    const struct cask_process_opts *o = opts ? opts : &defaults;
    if (!stdio_ok(&o->in, false) || !stdio_ok(&o->out, false) || !stdio_ok(&o->err, true) ||
        (o->new_session && o->new_pgroup) || !(o->kill_grace >= 0) || !(o->wait_delay >= 0) ||
        (unsigned)o->on_cancel > CASK_PROC_LEAVE || o->kill_signal < 0 ||
        o->kill_signal >= _NSIG || o->npass_fds > MAX_PASS_FDS || (o->npass_fds && !o->pass_fds))
        return -EINVAL;
    const struct cask_stdio *io[3] = {&o->in, &o->out, &o->err};
    for (int i = 0; i < 3; i++)
        if (io[i]->kind == CASK_STDIO_FD && fcntl(io[i]->fd, F_GETFD) < 0)
            return -EBADF;
    for (size_t i = 0; i < o->npass_fds; i++)
        if (o->pass_fds[i] < 0 || fcntl(o->pass_fds[i], F_GETFD) < 0)
            return -EBADF;

    struct registry *reg = registry_get(l);
    if (!reg)
        return -ENOMEM;
    cask_process *p = cask__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->loop = l;
    p->efd = -1;
    p->on_cancel = o->on_cancel;
    p->kill_signal = o->kill_signal ? o->kill_signal : SIGTERM;
    p->grace = o->kill_grace > 0 ? o->kill_grace : DEFAULT_GRACE;
    p->wait_delay = o->wait_delay > 0 ? o->wait_delay : DEFAULT_WAIT_DELAY;
    p->group = o->new_session || o->new_pgroup;

    int low = 3 + (int)o->npass_fds;
    int pass[MAX_PASS_FDS];
    int child_end[3] = {-1, -1, -1}, parent_end[3] = {-1, -1, -1};
    int errp[2] = {-1, -1};
    int devnull = -1, npass = 0, rc = 0;
    char **env = NULL;
    struct plan c;
    memset(&c, 0, sizeof c);

    rc = build_env(o->env, o->env_add, &env);
    if (rc)
        goto out_free;
    for (; npass < (int)o->npass_fds; npass++) {
        pass[npass] = fcntl(o->pass_fds[npass], F_DUPFD_CLOEXEC, low);
        if (pass[npass] < 0) {
            rc = -errno;
            goto out_close;
        }
    }
    for (int i = 0; i < 3; i++) {
        switch (io[i]->kind) {
        case CASK_STDIO_PIPE: {
            int pf[2];
            if (pipe2(pf, O_CLOEXEC) < 0) {
                rc = -errno;
                goto out_close;
            }
            /* stdin: the child reads pf[0]; stdout/stderr: the child writes pf[1] */
            child_end[i] = i == 0 ? pf[0] : pf[1];
            parent_end[i] = i == 0 ? pf[1] : pf[0];
            parent_end[i] = move_up(parent_end[i], 3);
            child_end[i] = move_up(child_end[i], low);
            if (parent_end[i] < 0 || child_end[i] < 0) {
                rc = parent_end[i] < 0 ? parent_end[i] : child_end[i];
                parent_end[i] = parent_end[i] < 0 ? -1 : parent_end[i];
                child_end[i] = child_end[i] < 0 ? -1 : child_end[i];
                goto out_close;
            }
            c.src[i] = child_end[i];
            break;
        }
        case CASK_STDIO_DEVNULL:
            if (devnull < 0) {
                devnull = move_up(open("/dev/null", O_RDWR | O_CLOEXEC), low);
                if (devnull < 0) {
                    rc = -errno;
                    devnull = -1;
                    goto out_close;
                }
            }
            c.src[i] = devnull;
            break;
        case CASK_STDIO_FD:
            child_end[i] = fcntl(io[i]->fd, F_DUPFD_CLOEXEC, low);
            if (child_end[i] < 0) {
                rc = -errno;
                goto out_close;
            }
            c.src[i] = child_end[i];
            break;
        case CASK_STDIO_STDOUT:
            c.src[i] = -2;
            break;
        default:
            c.src[i] = -1;
            break;
        }
    }
    if (pipe2(errp, O_CLOEXEC) < 0) {
        rc = -errno;
        errp[0] = errp[1] = -1;
        goto out_close;
    }
    errp[1] = move_up(errp[1], low);
    if (errp[1] < 0) {
        rc = errp[1];
        errp[1] = -1;
        goto out_close;
    }

    c.file = argv[0];
    c.argv = (char *const *)argv;
    c.envp = env ? env : (o->env ? o->env : environ);
    c.path = getenv("PATH");
    if (!c.path || !*c.path)
        c.path = "/usr/local/bin:/usr/bin:/bin";
    c.cwd = o->cwd;
    c.pass = pass;
    c.npass = npass;
    c.low = low;
    c.errfd = errp[1];
    struct rlimit rl;
    c.maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    c.setsid = o->new_session;
    c.setpgid = o->new_pgroup;

    /* every signal blocked across vfork: the child shares our memory until it execs, so no
     * handler of ours may run in it; it resets the dispositions, then unblocks */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = start_child(&c);
    int fork_err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        rc = -fork_err;
        goto out_close;
    }
    close(errp[1]);
    errp[1] = -1;
    int err = 0;
    ssize_t n;
    do {
        n = read(errp[0], &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof err) { /* exec (or the set-up before it) failed */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        rc = -err;
        goto out_close;
    }
    p->pid = pid;
    p->efd = exit_fd(pid);
    if (p->efd < 0) { /* cannot watch it: do not leave it behind */
        rc = p->efd;
        p->efd = -1;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        goto out_close;
    }
    for (int i = 0; i < 3; i++) {
        if (child_end[i] >= 0)
            close(child_end[i]);
        child_end[i] = -1;
    }
    cask_stream **st[3] = {&p->in, &p->out, &p->err};
    size_t limit = o->stream_limit;
    registry_add(reg, p);
    for (int i = 0; i < 3; i++) {
        if (parent_end[i] < 0)
            continue;
        int fd = parent_end[i];
        parent_end[i] = -1;
        rc = open_stream(st[i], fd, limit);
        if (rc) { /* no memory for a stream: stop the child again */
            for (int j = i + 1; j < 3; j++)
                if (parent_end[j] >= 0)
                    close(parent_end[j]);
            kill(pid, SIGKILL);
            reap(p, 0);
            cask_process_free(p);
            p = NULL;
            goto out_close;
        }
    }
    *out = p;
    p = NULL;
    rc = 0;

out_close:
    for (int i = 0; i < 3; i++) {
        if (child_end[i] >= 0)
            close(child_end[i]);
        if (parent_end[i] >= 0)
            close(parent_end[i]);
    }
    for (int i = 0; i < npass; i++)
        close(pass[i]);
    if (devnull >= 0)
        close(devnull);
    if (errp[0] >= 0)
        close(errp[0]);
    if (errp[1] >= 0)
        close(errp[1]);
out_free:
    cask__free(env);
    cask__free(p);
    return rc;
}

int cask_process_shell(cask_process **out, const char *cmd, const struct cask_process_opts *opts)
{
    if (out)
        *out = NULL;
    if (!cmd)
        return -EINVAL;
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return cask_process_spawn(out, argv, opts);
}

/* ---- queries and signals ---- */

pid_t cask_process_pid(const cask_process *p) { return p ? p->pid : -1; }
cask_stream *cask_process_stdin(cask_process *p) { return p ? p->in : NULL; }
cask_stream *cask_process_stdout(cask_process *p) { return p ? p->out : NULL; }
cask_stream *cask_process_stderr(cask_process *p) { return p ? p->err : NULL; }

int cask_process_status(cask_process *p, struct cask_exit *st)
{
    if (!p || !st)
        return -EINVAL;
    if (!reap(p, WNOHANG))
        return -EAGAIN;
    *st = p->st;
    return 0;
}

int cask_process_signal(cask_process *p, int sig)
{
    if (!p || sig < 0 || sig >= _NSIG)
        return -EINVAL;
    if (p->ended)
        return -ESRCH;
    /* not reaped yet: the pid is still ours (at worst a zombie), never someone else's */
    return kill(p->pid, sig) == 0 ? 0 : -errno;
}

int cask_process_terminate(cask_process *p) { return cask_process_signal(p, SIGTERM); }
int cask_process_kill(cask_process *p) { return cask_process_signal(p, SIGKILL); }

int cask_process_wait(cask_process *p, struct cask_exit *st)
{
    if (!p)
        return -EINVAL;
    if (!cask__self())
        return -EPERM;
    int rc = await_exit(p, true);
    if (rc == -ECANCELED)
        stop_child(p);
    if (rc == 0 && st)
        *st = p->st;
    return rc;
}

/* ---- communicate ---- */

struct comm {
    cask_process *p;
    struct cask_communicate *c;
    size_t limit;
    int draining;      /* drains not yet at EOF */
    bool delay_over;   /* the pipes were closed after wait_delay */
    cask_event drained;
};

static int feed(void *arg)
{
    struct comm *m = arg;
    int rc = 0;
    if (m->c->input && m->c->input_len) {
        ssize_t n = cask_stream_write(m->p->in, m->c->input, m->c->input_len);
        if (n < 0 && n != -EPIPE && !(n == -ENOTCONN && m->delay_over))
            rc = (int)n;
        else if (n >= 0 && (size_t)n < m->c->input_len) /* a partial write: ask again why */
            rc = cask_stream_flush(m->p->in);
    }
    cask_stream_close(m->p->in);
    return rc;
}

static int drain(struct comm *m, cask_stream *s, char **buf, size_t *len)
{
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        if (cap - *len < 4096) {
            size_t ncap = cap ? cap * 2 : 16384;
            if (ncap > m->limit + 4096)
                ncap = m->limit + 4096;
            char *nb = cask__realloc(*buf, ncap + 1);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            *buf = nb;
            cap = ncap;
        }
        ssize_t n = cask_stream_read(s, *buf + *len, cap - *len);
        if (n == 0)
            break;
        if (n < 0) {
            if (n == -ENOTCONN && m->delay_over)
                break;
            rc = (int)n;
            break;
        }
        *len += (size_t)n;
        if (*len > m->limit) {
            *len = m->limit;
            rc = -EMSGSIZE;
            break;
        }
    }
    if (*buf)
        (*buf)[*len] = 0;
    if (--m->draining == 0)
        cask_event_set(&m->drained);
    return rc;
}

static int drain_err(void *arg)
{
    struct comm *m = arg;
    return drain(m, m->p->err, &m->c->err, &m->c->err_len);
}

static void close_pipes(cask_process *p)
{
    cask_stream_close(p->in);
    cask_stream_close(p->out);
    cask_stream_close(p->err);
}

/* Waits for the child's end, then gives the drains wait_delay before closing the pipes. */
static int watch_exit(void *arg)
{
    struct comm *m = arg;
    int rc = await_exit(m->p, true);
    if (rc)
        return rc;
    if (m->draining > 0 || (m->p->in && cask_stream_fd(m->p->in) >= 0)) {
        cask_scope mv;
        rc = cask_move_on_open(&mv, m->p->wait_delay);
        if (rc)
            return rc;
        rc = cask_event_wait(&m->drained);
        rc = cask_scope_close(&mv, rc);
        if (rc)
            return rc;
        if (!cask_event_is_set(&m->drained) || cask_stream_fd(m->p->in) >= 0) {
            m->delay_over = true;
            close_pipes(m->p);
        }
    }
    return 0;
}

int cask_process_communicate(cask_process *p, struct cask_communicate *c)
{
    if (!p || !c)
        return -EINVAL;
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    c->out = c->err = NULL;
    c->out_len = c->err_len = 0;
    memset(&c->status, 0, sizeof c->status);
    if (cask__cancelled(self)) {
        int rc = cask__cancel_now(self);
        stop_child(p);
        return rc;
    }
    struct comm m;
    memset(&m, 0, sizeof m);
    m.p = p;
    m.c = c;
    m.limit = c->limit ? c->limit : DEFAULT_COMM_LIMIT;
    cask_event_init(&m.drained);
    bool out_open = cask_stream_fd(p->out) >= 0, err_open = cask_stream_fd(p->err) >= 0;
    m.draining = (int)out_open + (int)err_open;
    if (m.draining == 0)
        cask_event_set(&m.drained);
    cask_group g;
    int rc = cask_group_open(&g);
    if (rc)
        return rc;
    if (cask_stream_fd(p->in) >= 0)
        rc = cask_group_spawn(&g, NULL, feed, &m);
    if (rc == 0 && err_open)
        rc = cask_group_spawn(&g, NULL, drain_err, &m);
    if (rc == 0)
        rc = cask_group_spawn(&g, NULL, watch_exit, &m);
    if (rc == 0 && out_open)
        rc = drain(&m, p->out, &c->out, &c->out_len);
    rc = cask_group_close(&g, rc);
    if (rc == -EMSGSIZE || rc == -ECANCELED) {
        if (rc == -EMSGSIZE)
            close_pipes(p);
        stop_child(p);
        return rc;
    }
    if (rc < 0)
        return rc; /* -ENOMEM, a pipe's error: the child is left as it is */
    c->status = p->st;
    return 0;
}

void cask_communicate_free(struct cask_communicate *c)
{
    if (!c)
        return;
    cask__free(c->out);
    cask__free(c->err);
    c->out = c->err = NULL;
}

void cask_free(void *ptr) { cask__free(ptr); }

/* ---- giving handles back ---- */

static void free_now(cask_process *p)
{
    registry_del(p);
    close_efd(p);
    cask__free(p);
}

/* A child left running detached: a thread reaps it when it ends. */
static void detach(cask_process *p)
{
    if (!reap(p, WNOHANG) && start_exit_thread(p->pid, -1) != 0)
        fprintf(stderr, "cask: could not start a thread to reap child %d\n", (int)p->pid);
}

/* The background end of a freed handle whose child still runs. */
static int reaper(void *arg)
{
    cask_process *p = arg;
    stop_and_reap(p, false);
    free_now(p);
    return 0;
}

void cask_process_free(cask_process *p)
{
    if (!p)
        return;
    cask_stream_free(p->in);
    cask_stream_free(p->out);
    cask_stream_free(p->err);
    p->in = p->out = p->err = NULL;
    if (reap(p, WNOHANG)) {
        free_now(p);
        return;
    }
    if (p->on_cancel == CASK_PROC_LEAVE) {
        detach(p);
        free_now(p);
        return;
    }
    struct cask_spawn_opts so = {.name = "process reaper", .eager = true};
    if (cask__loop == p->loop && cask_spawn_with(NULL, reaper, p, &so) == 0)
        return; /* eager: the stop signal goes out now */
    kill_now(p); /* no task for the grace period */
    free_now(p);
}

/* At loop close: every handle left is given back; running children are stopped and reaped
 * here (the signal, the grace period for all of them at once, then SIGKILL). */
static void registry_close(cask_loop *l, void *ptr)
{
    struct registry *r = ptr;
    uint64_t start = cask__clock_ns();
    for (cask_process *p = r->head; p; p = p->next) {
        cask_stream_free(p->in);
        cask_stream_free(p->out);
        cask_stream_free(p->err);
        p->in = p->out = p->err = NULL;
        if (has_ended(p, false) || p->on_cancel == CASK_PROC_LEAVE)
            continue;
        send_stop(p, p->on_cancel == CASK_PROC_KILL ? SIGKILL : p->kill_signal);
    }
    for (cask_process *p = r->head; p; p = p->next) {
        uint64_t end = start + cask__seconds_to_ns(p->grace);
        while (p->on_cancel == CASK_PROC_TERMINATE && !has_ended(p, false)) {
            uint64_t now = cask__clock_ns();
            if (now >= end || p->efd < 0)
                break;
            struct pollfd pf = {p->efd, POLLIN, 0};
            int ms = (int)((end - now + 999999) / 1000000);
            poll(&pf, 1, ms > 100 ? 100 : ms);
        }
    }
    while (r->head) {
        cask_process *p = r->head;
        if (p->on_cancel == CASK_PROC_LEAVE)
            detach(p);
        else
            kill_now(p);
        registry_del(p);
        if (p->efd >= 0) {
            close(p->efd); /* the loop's fd table is going away with it */
            p->efd = -1;
        }
        cask__free(p);
    }
    cask__free(r);
    l->ext[CASK__EXT_PROC] = NULL;
}

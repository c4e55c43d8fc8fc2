/*
 * net.c: sockets. Addresses, the unbuffered calls (recv, send, accept, connect) that wait for
 * readiness only after the kernel said EAGAIN, TCP connect with Happy Eyeballs, listening
 * sockets, and Unix stream sockets.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define HE_DELAY_NS 250000000u /* RFC 8305 connection attempt delay */
#define HE_MAX 16              /* addresses tried at most */

/* ---- helpers ---- */

void cask__ignore_sigpipe(void)
{
    static volatile int done;
    if (done)
        return;
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO))
        signal(SIGPIPE, SIG_IGN);
    done = 1;
}

int cask__set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

int cask__socket(int family, int type)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

ssize_t cask__read_once(int fd, bool is_sock, void *buf, size_t n)
{
    ssize_t r = is_sock ? recv(fd, buf, n, 0) : read(fd, buf, n);
    if (r >= 0)
        return cask__count_read(r);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

ssize_t cask__write_once(int fd, bool is_sock, const void *buf, size_t n)
{
    ssize_t r = is_sock ? send(fd, buf, n, MSG_NOSIGNAL) : write(fd, buf, n);
    if (r >= 0)
        return cask__count_written(r);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

ssize_t cask__writev_once(int fd, bool is_sock, const struct iovec *iov, int iovcnt)
{
    ssize_t r;
    if (is_sock) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        r = sendmsg(fd, &m, MSG_NOSIGNAL);
    } else {
        r = writev(fd, iov, iovcnt);
    }
    if (r >= 0)
        return cask__count_written(r);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* Common entry check of blocking calls: -EPERM outside tasks, -ECANCELED when cancelled. */
static int enter(void)
{
    cask_task *t = cask__self();
    if (!t)
        return -EPERM;
    if (cask__cancelled(t))
        return cask__cancel_now(t);
    return 0;
}

/* ---- addresses ---- */

int cask_addr_ip(struct cask_addr *a, const char *ip, uint16_t port)
{
    if (!a || !ip)
        return -EINVAL;
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, ip, &a->u.in4.sin_addr) == 1) {
        a->u.in4.sin_family = AF_INET;
        a->u.in4.sin_port = htons(port);
        a->len = sizeof a->u.in4;
        return 0;
    }
    const char *s = ip;
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t l = strlen(ip);
    if (l >= 2 && ip[0] == '[' && ip[l - 1] == ']' && l - 2 < sizeof tmp) {
        memcpy(tmp, ip + 1, l - 2);
        tmp[l - 2] = 0;
        s = tmp;
    }
    if (inet_pton(AF_INET6, s, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons(port);
        a->len = sizeof a->u.in6;
        return 0;
    }
    return -EINVAL;
}

int cask_addr_unix(struct cask_addr *a, const char *path)
{
    if (!a || !path)
        return -EINVAL;
    memset(a, 0, sizeof *a);
    size_t l = strlen(path);
    if (l >= sizeof a->u.un.sun_path)
        return -ENAMETOOLONG;
    a->u.un.sun_family = AF_UNIX;
    memcpy(a->u.un.sun_path, path, l + 1);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + 1);
    return 0;
}

uint16_t cask_addr_port(const struct cask_addr *a)
{
    if (!a)
        return 0;
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in4.sin_port);
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return 0;
}

int cask_addr_format(const struct cask_addr *a, char *buf, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    if (!a)
        return -EINVAL;
    switch (a->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in4.sin_addr, ip, sizeof ip);
        return snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(a->u.in4.sin_port));
    case AF_INET6:
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
        return snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(a->u.in6.sin6_port));
    case AF_UNIX:
        return snprintf(buf, n, "%s",
                        a->len > offsetof(struct sockaddr_un, sun_path) ? a->u.un.sun_path
                                                                        : "(unnamed)");
    default: return -EAFNOSUPPORT;
    }
}

int cask_sockname(int fd, struct cask_addr *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->len = sizeof out->u;
    return getsockname(fd, &out->u.sa, &out->len) == 0 ? 0 : -errno;
}

int cask_peername(int fd, struct cask_addr *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->len = sizeof out->u;
    return getpeername(fd, &out->u.sa, &out->len) == 0 ? 0 : -errno;
}

/* ---- unbuffered calls ---- */

ssize_t cask__sock_io(int fd, bool out, void *buf, size_t n, int flags, struct cask_addr *a)
{
    int rc = enter();
    if (rc)
        return rc;
    if (!a && cask__net_ring()) {
        ssize_t r = out ? cask__ring_send(fd, buf, n, flags) : cask__ring_recv(fd, buf, n, flags);
        if (r != -ENOSYS)
            return r;
    }
    for (;;) {
        ssize_t r;
        if (out)
            r = sendto(fd, buf, n, flags | MSG_DONTWAIT | MSG_NOSIGNAL, a ? &a->u.sa : NULL,
                       a ? a->len : 0);
        else if (a)
            r = recvfrom(fd, buf, n, flags | MSG_DONTWAIT, &a->u.sa, &a->len);
        else
            r = recv(fd, buf, n, flags | MSG_DONTWAIT);
        if (r >= 0)
            return out ? cask__count_written(r) : cask__count_read(r);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((rc = cask__io_wait(fd, out ? CASK_WRITABLE : CASK_READABLE)))
            return rc;
        if (a && !out)
            a->len = sizeof a->u;
    }
}

ssize_t cask_recv(int fd, void *buf, size_t n, int flags)
{
    return cask__sock_io(fd, false, buf, n, flags, NULL);
}

ssize_t cask_send(int fd, const void *buf, size_t n, int flags)
{
    return cask__sock_io(fd, true, (void *)buf, n, flags, NULL);
}

ssize_t cask__write_all(int fd, bool is_sock, const void *buf, size_t n, const bool *closed)
{
    size_t done = 0;
    ssize_t r = 0;
    bool ring = is_sock && cask__net_ring();
    while (done < n) {
        if (ring) { /* the ring waits for room itself */
            if (closed && *closed) { /* closed after a partial send: the fd is gone */
                r = -ENOTCONN;
                break;
            }
            r = cask__ring_send(fd, (const char *)buf + done, n - done, 0);
            if (closed && *closed && r <= 0)
                r = -ENOTCONN;
            if (r != -ENOSYS) {
                if (r > 0)
                    done += (size_t)r;
                else if (r != -EINTR)
                    break;
                continue;
            }
            ring = false;
        }
        r = cask__write_once(fd, is_sock, (const char *)buf + done, n - done);
        if (r >= 0) {
            done += (size_t)r;
            continue;
        }
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN) {
            r = cask__io_wait(fd, CASK_WRITABLE);
            if (closed && *closed)
                r = -ENOTCONN;
            if (r == 0)
                continue;
        }
        break;
    }
    return done || n == 0 ? (ssize_t)done : r;
}

ssize_t cask_send_all(int fd, const void *buf, size_t n)
{
    int rc = enter();
    if (rc)
        return rc;
    return cask__write_all(fd, true, buf, n, NULL);
}

int cask_accept(int lfd, struct cask_addr *peer)
{
    int rc = enter();
    if (rc)
        return rc;
    int rfd = cask__ring_accept(lfd, peer); /* io/net_ring.c: a multishot accept */
    if (rfd != -ENOSYS)
        return rfd;
    for (;;) {
        struct cask_addr tmp;
        struct cask_addr *a = peer ? peer : &tmp;
        a->len = sizeof a->u;
        int fd = accept4(lfd, &a->u.sa, &a->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((rc = cask__io_wait(lfd, CASK_READABLE)))
            return rc;
    }
}

int cask_connect(int fd, const struct cask_addr *to)
{
    int rc = enter();
    if (rc)
        return rc;
    if (!to)
        return -EINVAL;
    if (connect(fd, &to->u.sa, to->len) == 0)
        return 0;
    /* a Unix socket says EAGAIN when the listener's backlog is full: nothing will wake us, so
     * try again after a pause (10 ms, as the server's accept back-off) */
    while (errno == EAGAIN && to->u.sa.sa_family == AF_UNIX) {
        if ((rc = cask_sleep(0.01)))
            return rc;
        if (connect(fd, &to->u.sa, to->len) == 0)
            return 0;
    }
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    for (;;) {
        if ((rc = cask__io_wait(fd, CASK_WRITABLE)))
            return rc;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            return -errno;
        if (err)
            return -err;
        struct cask_addr p;
        if (cask_peername(fd, &p) == 0)
            return 0;
        /* a stale readiness edge: not connected yet and no error, wait again */
    }
}

int cask_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    cask_fd_forget(fd);
    return close(fd) == 0 ? 0 : -errno;
}

int cask_connect_addr(const struct cask_addr *to, int socktype)
{
    if (!to)
        return -EINVAL;
    int fd = cask__socket(to->u.sa.sa_family, socktype ? socktype : SOCK_STREAM);
    if (fd < 0)
        return fd;
    if ((socktype == 0 || socktype == SOCK_STREAM) && to->u.sa.sa_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int rc = cask_connect(fd, to);
    if (rc) {
        cask_close(fd);
        return rc;
    }
    return fd;
}

/* ---- Happy Eyeballs ---- */

void cask__interleave(struct cask_addr *a, size_t n)
{
    /* stable: keep each family's order, alternate starting with the first address's family */
    struct cask_addr tmp[HE_MAX];
    if (n < 3 && !(n == 2 && a[0].u.sa.sa_family == a[1].u.sa.sa_family))
        return;
    if (n > HE_MAX)
        n = HE_MAX;
    int first = a[0].u.sa.sa_family;
    size_t i1 = 0, i2 = 0, k = 0;
    while (k < n) {
        bool want_first = (k % 2) == 0;
        size_t *ip = want_first ? &i1 : &i2;
        while (*ip < n && ((a[*ip].u.sa.sa_family == first) != want_first))
            (*ip)++;
        if (*ip >= n) { /* that family ran out: take the other one's rest */
            ip = want_first ? &i2 : &i1;
            while (*ip < n && ((a[*ip].u.sa.sa_family == first) == want_first))
                (*ip)++;
            if (*ip >= n)
                break;
        }
        tmp[k++] = a[(*ip)++];
    }
    memcpy(a, tmp, k * sizeof *a);
}

struct he {
    struct cask__wq wq; /* the coordinating task waits here */
    int winner;         /* the first connected fd */
    int last_err;
    int running;
};

struct attempt {
    struct he *he;
    const struct cask_addr *addr;
    cask_task *task;
};

static int attempt_main(void *p)
{
    struct attempt *a = p;
    struct he *he = a->he;
    int fd = cask_connect_addr(a->addr, SOCK_STREAM);
    if (fd >= 0) {
        if (he->winner < 0)
            he->winner = fd;
        else
            cask_close(fd);
    } else if (fd != -ECANCELED) {
        he->last_err = fd;
    }
    he->running--;
    struct cask__waiter *w = cask__wq_pop(&he->wq);
    if (w)
        cask__signal(w, 0);
    return 0;
}

struct he_wait {
    struct cask__waiter w;
    struct cask__timer tm;
};

static void he_fire(struct cask__timer *t)
{
    struct he_wait *hw = (struct he_wait *)((char *)t - offsetof(struct he_wait, tm));
    cask__signal(&hw->w, 1);
}

static bool he_on_cancel(struct cask__waiter *w)
{
    struct he_wait *hw = (struct he_wait *)w;
    cask__timer_disarm(w->task->loop, &hw->tm);
    return true;
}

/* Waits until an attempt ends (0), the deadline passes (1), or -ECANCELED. */
static int he_wait(struct he *he, uint64_t when)
{
    cask_loop *l = cask__loop;
    struct he_wait *hw = CASK__REC(l->current, struct he_wait);
    cask__waiter_init(&hw->w, "happy eyeballs", he);
    hw->w.on_cancel = he_on_cancel;
    hw->w.task = l->current;
    hw->tm.index = 0;
    if (when != CASK__NEVER && cask__timer_arm(l, &hw->tm, when, he_fire))
        return -ENOMEM;
    cask__wq_push(&he->wq, &hw->w);
    int rc = cask__park(&hw->w);
    cask__timer_disarm(l, &hw->tm);
    return rc;
}

static int happy_eyeballs(struct cask_addr *addrs, size_t n, struct attempt *at, struct he *hp)
{
    cask_loop *l = cask__loop;
    *hp = (struct he){.winner = -1, .last_err = -ECONNREFUSED};
    size_t next = 0;
    uint64_t deadline = 0;
    int rc = 0;
    for (;;) {
        if (hp->winner >= 0)
            break;
        if (next < n && (hp->running == 0 || cask__loop_now(l) >= deadline)) {
            at[next].he = hp;
            at[next].addr = &addrs[next];
            struct cask_spawn_opts o = {.name = "happy-eyeballs"};
            rc = cask_spawn_with(&at[next].task, attempt_main, &at[next], &o);
            if (rc)
                break;
            hp->running++;
            next++;
            deadline = cask__loop_now(l) + HE_DELAY_NS;
        }
        if (hp->running == 0 && next >= n)
            break;
        rc = he_wait(hp, next < n ? deadline : CASK__NEVER);
        if (rc < 0)
            break;
        rc = 0;
    }
    /* the others lose: cancel them and wait until they have closed their sockets */
    cask_scope sh;
    cask_shield_open(&sh);
    for (size_t i = 0; i < next; i++)
        cask_cancel(at[i].task);
    for (size_t i = 0; i < next; i++) {
        int st = cask_join(at[i].task); /* its status does not matter */
        (void)st;
        cask_release(at[i].task);
    }
    cask_scope_close(&sh, 0);
    if (hp->winner >= 0 && rc == 0)
        return hp->winner;
    if (hp->winner >= 0)
        cask_close(hp->winner);
    return rc ? rc : hp->last_err;
}

/* The attempts are tasks that reach the shared state and their addresses while the caller
 * waits: a compact caller keeps them on the heap, off its stack. */
int cask__happy_eyeballs(struct cask_addr *addrs, size_t n)
{
    cask_task *self = cask__self();
    if (!self || !self->cx) {
        struct attempt at[HE_MAX];
        struct he he;
        return happy_eyeballs(addrs, n, at, &he);
    }
    struct he_block {
        struct he he;
        struct attempt at[HE_MAX];
        struct cask_addr addrs[HE_MAX];
    } *b = cask__malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    if (n > HE_MAX)
        n = HE_MAX;
    memcpy(b->addrs, addrs, n * sizeof *addrs);
    int rc = happy_eyeballs(b->addrs, n, b->at, &b->he);
    cask__free(b);
    return rc;
}

int cask_tcp_connect(const char *host, uint16_t port)
{
    int rc = enter();
    if (rc)
        return rc;
    if (!host)
        return -EINVAL;
    struct cask_addr addrs[HE_MAX];
    int n = cask_resolve(host, port, AF_UNSPEC, SOCK_STREAM, addrs, HE_MAX);
    if (n < 0)
        return n;
    if (n == 1)
        return cask_connect_addr(&addrs[0], SOCK_STREAM);
    cask__interleave(addrs, (size_t)n);
    return cask__happy_eyeballs(addrs, (size_t)n);
}

/* ---- listening ---- */

static int listen_on(const struct cask_addr *a, const struct cask_listen_opts *o)
{
    int fd = cask__socket(a->u.sa.sa_family, SOCK_STREAM);
    if (fd < 0)
        return fd;
    int one = 1, rc;
    if (a->u.sa.sa_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (o && o->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto out_errno;
    if (a->u.sa.sa_family == AF_INET6) {
        int v6only = o && o->v6_only;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd, &a->u.sa, a->len) < 0)
        goto out_errno;
    if (listen(fd, o && o->backlog > 0 ? o->backlog : 511) < 0)
        goto out_errno;
    return fd;
out_errno:
    rc = -errno;
    close(fd);
    return rc;
}

int cask_tcp_listen(const char *host, uint16_t port, const struct cask_listen_opts *opts)
{
    struct cask_addr a;
    if (!host || !*host) {
        cask_addr_ip(&a, "::", port);
        int fd = listen_on(&a, opts);
        if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)
            return fd;
        cask_addr_ip(&a, "0.0.0.0", port);
        return listen_on(&a, opts);
    }
    if (cask_addr_ip(&a, host, port) != 0) {
        int rc = cask_resolve(host, port, AF_UNSPEC, SOCK_STREAM, &a, 1);
        if (rc < 0)
            return rc;
    }
    return listen_on(&a, opts);
}

int cask_unix_listen(const char *path, const struct cask_listen_opts *opts)
{
    struct cask_addr a;
    int rc = cask_addr_unix(&a, path);
    if (rc)
        return rc;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return -EADDRINUSE;
        /* a socket file: stale unless someone still listens on it */
        int probe = cask__socket(AF_UNIX, SOCK_STREAM);
        if (probe < 0)
            return probe;
        int c = connect(probe, &a.u.sa, a.len);
        int e = errno;
        close(probe);
        if (c == 0 || e == EAGAIN)
            return -EADDRINUSE;
        unlink(path);
    }
    return listen_on(&a, opts);
}

int cask_unix_connect(const char *path)
{
    struct cask_addr a;
    int rc = cask_addr_unix(&a, path);
    if (rc)
        return rc;
    rc = enter();
    if (rc)
        return rc;
    return cask_connect_addr(&a, SOCK_STREAM);
}

/*
 * net_ring.c: the network on io_uring. When the loop's backend has a ring and the network path
 * is "ring" (CASK_NET, cask_config.net), accept, recv and send on sockets are submitted to the
 * ring instead of waiting for readiness: the kernel tries each at once and, when it would
 * block, arms its own poll and completes it when it can, so a socket call costs no system call
 * of its own; the loop submits every task's operations in its one io_uring_enter per
 * iteration. Cancelling asks the kernel to stop the operation (IORING_OP_ASYNC_CANCEL) and the
 * task waits for its completion, since the kernel may still be writing into the buffer: an
 * operation that transferred something before it stopped returns what it did (the
 * cancellation is delivered by the next call), one that did nothing returns -ECANCELED.
 * Forgetting an fd (cask_close, cask_stream_close) cancels the operations on it.
 */
#define _GNU_SOURCE
#include "net_internal.h"
#include "../poll/poll.h"

#include <sys/socket.h>
#include <unistd.h>

struct netop {
    struct cask__op op;
    struct netop *prev, *next; /* in this thread's list of operations in flight */
    bool forgotten;            /* cancelled because its fd was forgotten */
};

static __thread struct netop *inflight;

bool cask__net_ring(void)
{
    cask_loop *l = cask__loop;
    /* not for a compact task: the kernel would write its buffers (and the op) on the run stack
     * while it is parked; it waits for readiness and calls the kernel itself */
    return l && l->poll->net_ring && !(l->current && l->current->cx);
}

static const char *const what[] = {
    [CASK__OP_RECV] = "socket recv",
    [CASK__OP_SEND] = "socket send",
    [CASK__OP_ACCEPT] = "accept",
};

/*
 * Runs op on the ring and returns its result: a count or fd (also when the task was cancelled
 * meanwhile: it did that much), -ECANCELED when cancelled before it did anything, -EBADF when
 * its fd was forgotten, the operation's error, or -ENOSYS when it cannot go on the ring (the
 * caller waits for readiness instead).
 */
static int64_t run(struct netop *n)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    struct cask__op *op = &n->op;
    cask__waiter_init(&op->w, what[op->kind], (const void *)(intptr_t)op->fd);
    op->w.on_cancel = cask__op_on_cancel;
    op->w.task = self;
    op->result = -ECANCELED;
    n->forgotten = false;
    int rc = cask__poll_submit(l->poll, op);
    if (rc == -ENOSYS) /* no ring to be had after all (memory, fds): readiness from now on */
        l->poll->net_ring = false;
    if (rc)
        return -ENOSYS;
    n->prev = NULL;
    n->next = inflight;
    if (inflight)
        inflight->prev = n;
    inflight = n;
    l->nwatch++;
    rc = cask__park(&op->w);
    l->nwatch--;
    CASK__CHECK(rc == 0, "socket op woken with %d", rc);
    if (n->prev)
        n->prev->next = n->next;
    else
        inflight = n->next;
    if (n->next)
        n->next->prev = n->prev;
    int64_t r = op->result;
    if (r == -ECANCELED || r == -EINTR) {
        if (cask__cancelled(self))
            return cask__cancel_now(self);
        if (n->forgotten)
            return -EBADF;
    }
    return r;
}

static void netop_init(struct netop *n, int kind, int fd, void *buf, size_t len, int flags)
{
    memset(n, 0, sizeof *n);
    n->op.kind = (uint8_t)kind;
    n->op.fd = fd;
    n->op.buf = buf;
    n->op.len = len;
    n->op.flags = flags;
}

ssize_t cask__ring_recv(int fd, void *buf, size_t len, int flags)
{
    struct netop n;
    netop_init(&n, CASK__OP_RECV, fd, buf, len > INT32_MAX ? INT32_MAX : len,
               flags & ~MSG_DONTWAIT);
    return cask__count_read((ssize_t)run(&n));
}

ssize_t cask__ring_send(int fd, const void *buf, size_t len, int flags)
{
    struct netop n;
    netop_init(&n, CASK__OP_SEND, fd, (void *)buf, len > INT32_MAX ? INT32_MAX : len,
               flags & ~MSG_DONTWAIT);
    return cask__count_written((ssize_t)run(&n));
}

/* One accept on the ring (a kernel without multishot accept). */
static int accept_single(int lfd, struct cask_addr *peer)
{
    struct cask_addr tmp;
    struct cask_addr *a = peer ? peer : &tmp;
    for (;;) {
        a->len = sizeof a->u;
        struct netop n;
        netop_init(&n, CASK__OP_ACCEPT, lfd, &a->u.sa, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
        n.op.iov = (const struct iovec *)(void *)&a->len;
        int64_t r = run(&n);
        if (r == -ECONNABORTED)
            continue; /* as accept4 in net.c: the next one */
        return (int)r;
    }
}

/* ---- accept: one multishot accept per listening socket ---- */

#define ACC_QUEUE 128 /* accepted fds a listener holds for the next calls: then the kernel's backlog */
#define ACC_RETRY 1   /* wake status: look at the queue again (arm again if it ended) */
#define ACC_SINGLE 2  /* wake status: no multishot accept in this kernel */

/* Whether the kernel has multishot accept (a property of the kernel, so process-wide): 0 not
 * known yet, 1 seen working, -1 not there (Linux before 5.19). */
static int maccept_state;

struct lacc {
    struct cask__mrecv m;    /* the multishot accept; m.fd is the listener */
    struct lacc *next;       /* the loop's listeners (loop->ext[CASK__EXT_ACCEPT]) */
    struct cask__wq waiters; /* tasks in cask_accept on it */
    int *q;                  /* accepted fds nobody took yet: q[qhead...], qlen of them */
    unsigned qhead, qlen, qcap;
    bool forgotten;          /* the listener was forgotten: its last report frees this */
};

static void acc_wake_all(struct lacc *a, int status)
{
    struct cask__waiter *w;
    while ((w = cask__wq_pop(&a->waiters)))
        cask__signal(w, status);
}

static int acc_push(struct lacc *a, int fd)
{
    if (a->qlen == a->qcap) {
        unsigned cap = a->qcap ? 2 * a->qcap : 16;
        int *q = cask__malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (unsigned i = 0; i < a->qlen; i++)
            q[i] = a->q[(a->qhead + i) % a->qcap];
        cask__free(a->q);
        a->q = q;
        a->qcap = cap;
        a->qhead = 0;
    }
    a->q[(a->qhead + a->qlen++) % a->qcap] = fd;
    return 0;
}

static int acc_pop(struct lacc *a)
{
    int fd = a->q[a->qhead];
    a->qhead = (a->qhead + 1) % a->qcap;
    a->qlen--;
    return fd;
}

/* Takes a out of the loop's list. */
static void acc_unlink(cask_loop *l, struct lacc *a)
{
    for (struct lacc **pp = (struct lacc **)&l->ext[CASK__EXT_ACCEPT]; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            return;
        }
}

/* Lets go of a (unlinked): closes the connections it holds, wakes its waiters with -EBADF;
 * freed now, or by its last report when the kernel still holds its accept. */
static void acc_drop(cask_loop *l, struct lacc *a)
{
    while (a->qlen)
        close(acc_pop(a));
    cask__free(a->q);
    a->q = NULL;
    a->qcap = 0;
    a->forgotten = true;
    acc_wake_all(a, -EBADF);
    if (a->m.armed)
        cask__poll_cancel_multi(l->poll, &a->m);
    else
        cask__free(a);
}

/* At loop close (every task has ended): the connections nobody took are closed. */
static void acc_close_all(cask_loop *l, void *p)
{
    l->ext[CASK__EXT_ACCEPT] = NULL;
    for (struct lacc *a = p, *next; a; a = next) {
        next = a->next;
        acc_drop(l, a);
    }
}

static bool is_listening(int fd)
{
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

static void acc_on_data(struct cask__mrecv *m, int res, const char *data, bool more)
{
    (void)data;
    struct lacc *a = (struct lacc *)m;
    cask_loop *l = cask__loop;
    if (a->forgotten) {
        if (res >= 0)
            close(res);
        if (!more)
            cask__free(a);
        return;
    }
    if (res >= 0) {
        __atomic_store_n(&maccept_state, 1, __ATOMIC_RELAXED);
        if (acc_push(a, res) < 0) {
            close(res); /* no memory for the queue: the peer sees the connection reset */
        } else {
            struct cask__waiter *w = cask__wq_pop(&a->waiters);
            if (w)
                cask__signal(w, ACC_RETRY);
        }
        if (!more) /* (the others arm it again) */
            acc_wake_all(a, ACC_RETRY);
        else if (a->qlen >= ACC_QUEUE) /* nobody takes them: the rest waits in the backlog */
            cask__poll_cancel_multi(l->poll, m);
        return;
    }
    if (more)
        return;
    if (res == -EINVAL && __atomic_load_n(&maccept_state, __ATOMIC_RELAXED) == 0 &&
        is_listening(m->fd)) {
        __atomic_store_n(&maccept_state, -1, __ATOMIC_RELAXED); /* an older kernel */
        acc_wake_all(a, ACC_SINGLE);
    } else if (res == -ECANCELED || res == -ECONNABORTED || res == -EINTR) {
        acc_wake_all(a, ACC_RETRY);
    } else { /* the error goes to the first waiter (as accept4's would); the others retry */
        struct cask__waiter *w = cask__wq_pop(&a->waiters);
        if (w)
            cask__signal(w, res);
        acc_wake_all(a, ACC_RETRY);
    }
    if (!a->qlen) { /* nothing left in it: the next call starts afresh */
        acc_unlink(l, a);
        cask__free(a->q);
        cask__free(a);
    }
}

static struct lacc *acc_find(cask_loop *l, int fd)
{
    for (struct lacc *a = l->ext[CASK__EXT_ACCEPT]; a; a = a->next)
        if (a->m.fd == fd)
            return a;
    struct lacc *a = cask__calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->m.fd = fd;
    a->m.on_data = acc_on_data;
    a->next = l->ext[CASK__EXT_ACCEPT];
    l->ext[CASK__EXT_ACCEPT] = a;
    l->ext_close[CASK__EXT_ACCEPT] = acc_close_all;
    return a;
}

int cask__ring_accept(int lfd, struct cask_addr *peer)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (!self || !l->poll->net_ring)
        return -ENOSYS;
    /* a compact task takes part too: the kernel writes nothing into its memory (the peer's
     * address is asked for after), but a single accept would */
    bool single_ok = !self->cx;
    for (;;) {
        if (__atomic_load_n(&maccept_state, __ATOMIC_RELAXED) < 0)
            return single_ok ? accept_single(lfd, peer) : -ENOSYS;
        if (cask__cancelled(self))
            return cask__cancel_now(self);
        struct lacc *a = acc_find(l, lfd);
        if (!a)
            return -ENOSYS; /* no memory: readiness (accept4) for this call */
        if (a->qlen) {
            int fd = acc_pop(a);
            if (peer) {
                peer->len = sizeof peer->u;
                if (getpeername(fd, &peer->u.sa, &peer->len) < 0) {
                    close(fd); /* reset before it was taken: the next one, as ECONNABORTED */
                    continue;
                }
            }
            return fd;
        }
        if (!a->m.armed) {
            int rc = cask__poll_accept_multi(l->poll, &a->m);
            if (rc) { /* no room in the ring now, or none at all: this call waits otherwise */
                if (cask__wq_empty(&a->waiters)) {
                    acc_unlink(l, a);
                    cask__free(a->q);
                    cask__free(a);
                }
                return single_ok && rc == -EAGAIN ? accept_single(lfd, peer) : -ENOSYS;
            }
        }
        /* the waiter in the task's home: a compact task's stack is not its own while parked */
        struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
        cask__waiter_init(w, "accept", (const void *)(intptr_t)lfd);
        w->task = self;
        cask__wq_push(&a->waiters, w);
        l->nwatch++;
        int r = cask__park(w);
        l->nwatch--;
        if (r != ACC_RETRY && r != ACC_SINGLE)
            return r; /* -ECANCELED (what comes later stays queued), -EBADF, the error */
    }
}

void cask__ring_forget(int fd)
{
    cask_loop *l = cask__loop;
    if (!l)
        return;
    for (struct lacc *a = l->ext[CASK__EXT_ACCEPT]; a; a = a->next)
        if (a->m.fd == fd) {
            acc_unlink(l, a);
            acc_drop(l, a);
            break;
        }
    for (struct netop *n = inflight; n; n = n->next) {
        if (n->op.fd != fd || n->op.cancelling)
            continue;
        n->forgotten = true;
        n->op.cancelling = 1;
        cask__poll_cancel(l->poll, &n->op);
    }
}

/* ---- streams: a multishot receive with provided buffers ---- */

#define RX_WAKE_NONE INT32_MIN
#define RX_ROOM 16384      /* the size of the ring's provided buffers (poll/uring.c) */
#define RX_AGAIN (-EAGAIN) /* the receive ended (buffers ran out, high-water mark): arm again */

struct cask__rx {
    struct cask__mrecv m;
    struct cask_stream *s;  /* NULL once the stream let go: the last report frees this */
    struct cask__waiter *w; /* the reading task, parked */
    char *dst;              /* its buffer, for the first arrival (direct reads) */
    size_t dstn;
};

static size_t rx_high(const struct cask_stream *s)
{
    return 4 * (s->limit > 65536 ? s->limit : 65536);
}

static void rx_on_data(struct cask__mrecv *m, int res, const char *data, bool more)
{
    struct cask__rx *rx = (struct cask__rx *)m;
    struct cask_stream *s = rx->s;
    if (!s) { /* orphaned by a closed stream: only its end matters */
        if (!more)
            cask__free(rx);
        return;
    }
    int wake = RX_WAKE_NONE;
    if (res > 0) {
        cask__count_read(res);
        size_t k = 0, len = (size_t)res;
        if (rx->dst && s->end == s->start) { /* hand the bytes straight to the reader */
            k = len < rx->dstn ? len : rx->dstn;
            memcpy(rx->dst, data, k);
        }
        if (k < len) {
            if (cask__stream_room(s, len - k) == 0) {
                memcpy(s->buf + s->end, data + k, len - k);
                s->end += len - k;
            } else {
                s->rerr = -ENOMEM; /* the bytes are lost: the stream fails from here */
                cask__poll_cancel_multi(cask__loop->poll, m);
            }
        }
        wake = rx->dst ? (int)k : res;
        if (!more)
            wake = wake ? wake : RX_AGAIN;
        else if (!rx->w && s->end - s->start >= rx_high(s))
            cask__poll_cancel_multi(cask__loop->poll, m); /* nobody reads: stop receiving */
    } else if (res == 0) {
        s->eof = true;
        wake = 0;
    } else if (res == -ENOBUFS || res == -ECANCELED) {
        wake = more ? RX_WAKE_NONE : RX_AGAIN;
    } else if (res == -ENOSYS) {
        s->no_rx = true;
        wake = -ENOSYS;
    } else {
        s->rerr = res;
        wake = res;
    }
    if (wake != RX_WAKE_NONE && rx->w) {
        struct cask__waiter *w = rx->w;
        rx->w = NULL;
        rx->dst = NULL;
        cask__wake(w->task, wake);
    }
}

static bool rx_on_cancel(struct cask__waiter *w)
{
    struct cask__rx *rx = w->data;
    rx->w = NULL;
    rx->dst = NULL;
    return true; /* leave now: the receive goes on into the stream's buffer */
}

ssize_t cask__rx_fill(struct cask_stream *s, void *dst, size_t n)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (s->no_rx)
        return -ENOSYS;
    if (!s->rx) {
        s->rx = cask__calloc(1, sizeof *s->rx);
        if (!s->rx)
            return -ENOMEM;
        s->rx->s = s;
        s->rx->m.on_data = rx_on_data;
        s->rx->m.fd = s->fd;
    }
    struct cask__rx *rx = s->rx;
    for (;;) {
        if (cask__cancelled(self))
            return cask__cancel_now(self);
        /* room for one arrival (a provided buffer's worth), so that one never fails */
        if (!dst && cask__stream_room(s, RX_ROOM))
            return -ENOMEM;
        if (!rx->m.armed) {
            int rc = cask__poll_recv_multi(l->poll, &rx->m);
            if (rc == -ENOSYS)
                s->no_rx = true;
            if (rc)
                return -ENOSYS;
        }
        /* the waiter in the task's home: a compact task's stack is not its own while parked */
        struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
        cask__waiter_init(w, "socket recv", (const void *)(intptr_t)s->fd);
        w->on_cancel = rx_on_cancel;
        w->data = rx;
        w->task = self;
        rx->w = w;
        rx->dst = self->cx ? NULL : dst; /* (callers pass none from compact tasks) */
        rx->dstn = n;
        l->nwatch++;
        int r = cask__park(w);
        l->nwatch--;
        if (s->closed)
            return -ENOTCONN;
        if (r != RX_AGAIN)
            return r;
    }
}

bool cask__rx_armed(const struct cask_stream *s) { return s->rx && s->rx->m.armed; }

void cask__rx_release(struct cask_stream *s)
{
    struct cask__rx *rx = s->rx;
    if (!rx)
        return;
    s->rx = NULL;
    if (rx->w) { /* a reader waits: it returns -ENOTCONN (the stream is closed) */
        struct cask__waiter *w = rx->w;
        rx->w = NULL;
        cask__wake(w->task, -ENOTCONN);
    }
    if (rx->m.armed && cask__loop) {
        rx->s = NULL; /* freed by its last report */
        cask__poll_cancel_multi(cask__loop->poll, &rx->m);
    } else {
        cask__free(rx);
    }
}

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

int cask__ring_accept(int lfd, struct cask_addr *peer)
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

void cask__ring_forget(int fd)
{
    cask_loop *l = cask__loop;
    if (!l)
        return;
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

/*
 * poll.h: the I/O backend behind a handful of functions; one file per backend (epoll.c,
 * uring.c), chosen at loop start by backend.c. Readiness registration is edge-triggered: a
 * backend reports each new readiness of a registered fd once, and the loop remembers it until a
 * task consumes it (core/fdtab.c). A backend with a submission ring (io_uring) also runs file
 * operations (struct cask__op) without threads; the others refuse them with -ENOSYS and the
 * caller runs the operation on the thread pool.
 */
#ifndef CASK_POLL_H
#define CASK_POLL_H

#include "../internal.h"

#include <sys/uio.h>

typedef void (*cask__poll_ready_fn)(cask_loop *l, int fd, int events);

/* Operations a ring backend may run; io/fs.c runs each the same way on a worker thread. */
enum {
    CASK__OP_READ,      /* fd, buf, len, off (-1: at the file position) */
    CASK__OP_WRITE,     /* fd, buf, len, off */
    CASK__OP_READV,     /* fd, iov, len = iovcnt, off */
    CASK__OP_WRITEV,    /* fd, iov, len = iovcnt, off */
    CASK__OP_FSYNC,     /* fd */
    CASK__OP_FDATASYNC, /* fd */
    CASK__OP_FALLOCATE, /* fd, flags = mode, off, len */
    CASK__OP_OPENAT,    /* dirfd = fd, path, flags, mode */
    CASK__OP_CLOSE,     /* fd */
    CASK__OP_STATX,     /* dirfd = fd, path, flags (AT_*), buf = struct statx */
    CASK__OP_RENAMEAT,  /* path -> path2 */
    CASK__OP_UNLINKAT,  /* path, flags (AT_REMOVEDIR) */
    CASK__OP_MKDIRAT,   /* path, mode */
    CASK__OP_SPLICE,    /* fd (in, offset off or -1) -> fd2 (out), len, flags */
    CASK__OP_FTRUNCATE, /* fd, off = new length */
    /* the network on the ring (io/net_ring.c; never on a thread: without the ring a socket
     * call waits for readiness) */
    CASK__OP_RECV,   /* fd, buf, len, flags (MSG_*) */
    CASK__OP_SEND,   /* fd, buf, len, flags (MSG_NOSIGNAL added) */
    CASK__OP_ACCEPT, /* fd, buf = struct sockaddr, iov = socklen_t * (cast), flags (SOCK_*) */
    CASK__OP_COUNT
};

struct cask__op {
    struct cask__waiter w; /* the parked task; woken with status 0 once result is set */
    uint8_t kind;
    uint8_t cancelling; /* the task was cancelled; the backend was asked to stop the op */
    uint8_t on_ring;    /* submitted to a ring (else: on a worker thread) */
    int fd, fd2;
    void *buf;
    const struct iovec *iov;
    uint64_t len;
    int64_t off;
    int flags;
    unsigned mode;
    const char *path, *path2;
    int64_t result; /* >= 0, or a negative errno */
};

/* A multishot receive with provided buffers (IORING_RECV_MULTISHOT): armed once on a socket,
 * it reports every arrival through on_data until it ends. data (res bytes) is the kernel's
 * buffer, valid during the call only. more == false: the last report (EOF: res 0, an error,
 * -ENOBUFS when the buffers ran out, -ECANCELED after cancel_multi); the backend forgets m
 * before that call, so on_data may free it or arm it again. A backend closing with m still
 * armed reports -ECANCELED with more == false. */
struct cask__mrecv {
    void (*on_data)(struct cask__mrecv *m, int res, const char *data, bool more);
    int fd;
    bool armed;      /* the backend holds it */
    bool cancelling; /* cancel_multi was asked */
    bool accept;     /* armed by accept_multi: res is an accepted fd (data NULL) */
    struct cask__mrecv *prev, *next; /* the backend's list of armed ones */
};

struct cask__poll;
struct cask__poll_ops {
    const char *name;
    /* Opens the backend; a negative errno if it cannot run here (the probe). */
    int (*open)(struct cask__poll **out);
    void (*close)(struct cask__poll *p);
    /* Watches fd for readability and writability (edge-triggered). 0, or a negative errno
     * (-EPERM: the fd does not support readiness, e.g. a regular file). */
    int (*add)(struct cask__poll *p, int fd);
    /* Stops watching fd. */
    int (*del)(struct cask__poll *p, int fd);
    /* Waits up to timeout_ns (CASK__NEVER: forever, 0: not at all), calls ready() for each fd
     * that became ready and completes finished ops. Returns the number of events, or a negative
     * errno (never -EINTR). */
    int (*wait)(struct cask__poll *p, uint64_t timeout_ns, cask__poll_ready_fn ready,
                cask_loop *l);
    /* Queues op (submitted at the next wait, batched); its completion sets op->result and
     * signals op->w. -ENOSYS: this backend (or kernel) does not run this kind of op. NULL: no
     * ring at all. */
    int (*submit)(struct cask__poll *p, struct cask__op *op);
    /* Asks the kernel to stop a submitted op; it still completes (with -ECANCELED, -EINTR, or
     * what it transferred before it stopped). */
    void (*cancel)(struct cask__poll *p, struct cask__op *op);
    /* Whether the kernel runs accept, recv and send on this backend's ring (NULL: no). */
    bool (*net_capable)(struct cask__poll *p);
    /* Arms m on m->fd (submitted at the next wait). -ENOSYS: no multishot receive here (NULL:
     * none at all). */
    int (*recv_multi)(struct cask__poll *p, struct cask__mrecv *m);
    /* Asks the kernel to end m; its last report follows. */
    void (*cancel_multi)(struct cask__poll *p, struct cask__mrecv *m);
    /* Arms m as a multishot accept (IORING_ACCEPT_MULTISHOT) on the listening socket m->fd:
     * each connection's fd (non-blocking, close-on-exec, now the owner's) is reported through
     * on_data (res the fd, data NULL). An error ends it (-EMFILE, ...; -EINVAL also where the
     * kernel has no multishot accept), as does cancel_multi (-ECANCELED). A backend closing
     * closes the fds it accepted and did not report yet. -ENOSYS: none here (NULL: none). */
    int (*accept_multi)(struct cask__poll *p, struct cask__mrecv *m);
};

/* Every backend's state starts with this. */
struct cask__poll {
    const struct cask__poll_ops *ops;
    /* sockets' accept, recv and send go through the ring (CASK_NET / cask_config.net = "ring"
     * on a backend with a ring whose kernel has those operations); else readiness */
    bool net_ring;
};

extern const struct cask__poll_ops cask__epoll_ops;
/* The epoll instance of an epoll backend (the ring backend waits on it through the ring). */
int cask__epoll_fd(const struct cask__poll *p);
#define CASK__EPOLL_BATCH 256 /* events one epoll wait reports at most */
/* Storage for an epoll backend embedded in another backend: init/fini instead of open/close. */
struct cask__epoll {
    struct cask__poll base;
    uint64_t state[2 + CASK__EPOLL_BATCH * 2]; /* an epoll_event is 12 or 16 bytes */
};
int cask__epoll_init(struct cask__epoll *storage);
void cask__epoll_fini(struct cask__epoll *storage);
#if CASK_HAVE_URING
extern const struct cask__poll_ops cask__uring_ops;
#endif

/* Opens the backend named by want ("epoll", "io_uring"/"uring", or NULL/"" for the default:
 * $CASK_BACKEND if set, else io_uring when built in and the probe succeeds, else epoll). A
 * backend asked for by name that cannot run gives its error (-ENOSYS when not built in); the
 * default falls back to epoll silently. -EINVAL: an unknown name.
 * net picks the network path ("ring" or "ready"; NULL/"": $CASK_NET, else CASK__NET_DEFAULT);
 * "ring" on a backend without a ring (or a kernel without the operations) is readiness.
 * -EINVAL: an unknown net name. */
int cask__poll_open(struct cask__poll **out, const char *want, const char *net);
#define CASK__NET_DEFAULT "ready"

/* "ring" or "ready": the network path of this backend. */
static inline const char *cask__poll_net(const struct cask__poll *p)
{
    return p->net_ring ? "ring" : "ready";
}

static inline void cask__poll_close(struct cask__poll *p)
{
    if (p)
        p->ops->close(p);
}
static inline int cask__poll_add(struct cask__poll *p, int fd) { return p->ops->add(p, fd); }
static inline int cask__poll_del(struct cask__poll *p, int fd) { return p->ops->del(p, fd); }
static inline int cask__poll_wait(struct cask__poll *p, uint64_t timeout_ns,
                                  cask__poll_ready_fn ready, cask_loop *l)
{
    return p->ops->wait(p, timeout_ns, ready, l);
}
static inline const char *cask__poll_name(const struct cask__poll *p) { return p->ops->name; }
static inline bool cask__poll_has_ring(const struct cask__poll *p) { return p->ops->submit; }
static inline int cask__poll_submit(struct cask__poll *p, struct cask__op *op)
{
    return p->ops->submit ? p->ops->submit(p, op) : -ENOSYS;
}
static inline int cask__poll_recv_multi(struct cask__poll *p, struct cask__mrecv *m)
{
    return p->ops->recv_multi ? p->ops->recv_multi(p, m) : -ENOSYS;
}
static inline int cask__poll_accept_multi(struct cask__poll *p, struct cask__mrecv *m)
{
    return p->ops->accept_multi ? p->ops->accept_multi(p, m) : -ENOSYS;
}
static inline void cask__poll_cancel_multi(struct cask__poll *p, struct cask__mrecv *m)
{
    if (p->ops->cancel_multi)
        p->ops->cancel_multi(p, m);
}
static inline void cask__poll_cancel(struct cask__poll *p, struct cask__op *op)
{
    if (p->ops->cancel)
        p->ops->cancel(p, op);
}
/* The on_cancel hook of a task parked on a submitted op (its waiter is op->w): asks the
 * backend once to stop the op and keeps the task parked until the op completes, since the
 * kernel still owns its buffers. */
bool cask__op_on_cancel(struct cask__waiter *w);

#endif

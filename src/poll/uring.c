/*
 * uring.c: the io_uring backend of poll.h (built when liburing is present). One ring per loop.
 * The ring is made at the loop's first file operation; until then the loop waits in
 * epoll_wait, so programs that never touch a file pay nothing for it.
 * Readiness keeps epoll's exact edge-triggered semantics: the backend owns an epoll instance
 * (epoll.c) and watches its fd through the ring with a multishot poll; when that completes the
 * backend drains epoll without waiting. File operations (struct cask__op) go on the ring and
 * are submitted in one batch at the next wait, so a loop iteration costs one io_uring_enter
 * however many tasks started an operation; completions wake their tasks. A wait with nothing
 * to submit and no timeout enters the kernel only when the ring says it has work pending.
 * Operations the kernel's probe lacks are refused with -ENOSYS (the caller uses a thread).
 */
#define _GNU_SOURCE
#include "poll.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RING_ENTRIES 256
#define BR_ENTRIES 128   /* provided buffers for multishot receives (a power of two) */
#define BR_SIZE 16384    /* bytes each */
#define BR_GROUP 0
#define TAG_MRECV ((uint64_t)2) /* low bit set on a struct cask__mrecv's address */
#define TAG_EPOLL ((uint64_t)1) /* the poll on the epoll fd; ops are pointers, never 1 */
#define TAG_NONE ((uint64_t)0)  /* async cancels and the probe's nop: nothing to do */
#ifndef CASK__IORING_OP_FTRUNCATE
#define CASK__IORING_OP_FTRUNCATE 55 /* Linux 6.9; newer than liburing 2.3's header */
#endif

struct uring_backend {
    struct cask__poll base;
    struct io_uring ring;
    struct cask__epoll epstore; /* the epoll instance that holds readiness registrations */
    struct cask__poll *ep;      /* &epstore.base */
    int epfd;
    bool ep_armed;
    bool ep_single; /* the kernel has no multishot poll: re-arm after each completion */
    bool unsubmitted;
    bool have_ring; /* made at the first file operation (ring_setup) */
    bool supported[CASK__OP_COUNT];
    int8_t multi; /* multishot receives: 0 not tried, 1 buffers registered, 2 seen working,
                     -1 not in this kernel */
    struct io_uring_buf_ring *br; /* the provided buffers' ring, then the buffers (one mmap) */
    char *bufs;
    struct cask__mrecv *armed;   /* multishot receives the kernel holds */
    uint64_t slack_ns; /* the thread's timer slack, added to timed waits */
};

static struct io_uring_sqe *get_sqe(struct uring_backend *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) { /* the submission queue is full: hand it to the kernel and take a slot */
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    if (sqe)
        u->unsubmitted = true;
    return sqe;
}

static void arm_epoll(struct uring_backend *u)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return; /* tried again at the next wait */
    if (u->ep_single)
        io_uring_prep_poll_add(sqe, u->epfd, POLLIN);
    else
        io_uring_prep_poll_multishot(sqe, u->epfd, POLLIN);
    io_uring_sqe_set_data64(sqe, TAG_EPOLL);
    u->ep_armed = true;
}

/* The probe's findings, made by the first loop of the process and kept (a ring's setup is
 * per loop; what the kernel supports is not): 0 not yet, 1 usable, else the negative errno. */
static int probe_state;
static bool probe_supported[CASK__OP_COUNT];
static unsigned probe_flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                              IORING_SETUP_SINGLE_ISSUER;

/* The probe: the kernel must run a request through the ring (seccomp may allow the setup and
 * refuse io_uring_enter) and know the operations the backend relies on. */
static int probe(struct io_uring *ring)
{
    struct io_uring_probe *pr = io_uring_get_probe_ring(ring);
    if (!pr || !io_uring_opcode_supported(pr, IORING_OP_READ) ||
        !io_uring_opcode_supported(pr, IORING_OP_POLL_ADD) ||
        !io_uring_opcode_supported(pr, IORING_OP_ASYNC_CANCEL)) {
        if (pr)
            io_uring_free_probe(pr);
        return -ENOSYS;
    }
    static const int opcode[CASK__OP_COUNT] = {
        [CASK__OP_READ] = IORING_OP_READ,
        [CASK__OP_WRITE] = IORING_OP_WRITE,
        [CASK__OP_READV] = IORING_OP_READV,
        [CASK__OP_WRITEV] = IORING_OP_WRITEV,
        [CASK__OP_FSYNC] = IORING_OP_FSYNC,
        [CASK__OP_FDATASYNC] = IORING_OP_FSYNC,
        [CASK__OP_FALLOCATE] = IORING_OP_FALLOCATE,
        [CASK__OP_OPENAT] = IORING_OP_OPENAT,
        [CASK__OP_CLOSE] = IORING_OP_CLOSE,
        [CASK__OP_STATX] = IORING_OP_STATX,
        [CASK__OP_RENAMEAT] = IORING_OP_RENAMEAT,
        [CASK__OP_UNLINKAT] = IORING_OP_UNLINKAT,
        [CASK__OP_MKDIRAT] = IORING_OP_MKDIRAT,
        [CASK__OP_FTRUNCATE] = CASK__IORING_OP_FTRUNCATE,
        [CASK__OP_RECV] = IORING_OP_RECV,
        [CASK__OP_SEND] = IORING_OP_SEND,
        [CASK__OP_ACCEPT] = IORING_OP_ACCEPT,
    };
    for (int k = 0; k < CASK__OP_COUNT; k++)
        probe_supported[k] = io_uring_opcode_supported(pr, opcode[k]);
    io_uring_free_probe(pr);
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, TAG_NONE);
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait(ring, 1);
    if (rc >= 0)
        rc = io_uring_peek_cqe(ring, &cqe);
    if (rc < 0)
        return rc;
    io_uring_cqe_seen(ring, cqe);
    return 1;
}

static int ring_init(struct io_uring *ring)
{
    struct io_uring_params prm;
    memset(&prm, 0, sizeof prm);
    prm.flags = __atomic_load_n(&probe_flags, __ATOMIC_RELAXED);
    int rc = io_uring_queue_init_params(RING_ENTRIES, ring, &prm);
    if (rc == -EINVAL && prm.flags) { /* a kernel older than 6.0 lacks these flags */
        __atomic_store_n(&probe_flags, 0u, __ATOMIC_RELAXED);
        memset(&prm, 0, sizeof prm);
        rc = io_uring_queue_init_params(RING_ENTRIES, ring, &prm);
    }
    return rc;
}

/* The loop's ring, made at its first file operation: a loop that never touches a file waits
 * in epoll_wait and pays nothing for the ring. */
static int ring_setup(struct uring_backend *u)
{
    int rc = ring_init(&u->ring);
    if (rc < 0)
        return rc;
    u->have_ring = true;
    arm_epoll(u);
    return 0;
}

static int ur_open(struct cask__poll **out)
{
    int state = __atomic_load_n(&probe_state, __ATOMIC_ACQUIRE);
    if (state == 0) { /* the process's first loop probes on a ring of its own */
        struct io_uring tmp;
        int rc = ring_init(&tmp);
        if (rc < 0)
            return rc;
        state = probe(&tmp); /* loops starting at once may both probe: they find the same */
        io_uring_queue_exit(&tmp);
        __atomic_store_n(&probe_state, state, __ATOMIC_RELEASE);
    }
    if (state < 0)
        return state;
    struct uring_backend *u = cask__calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    memcpy(u->supported, probe_supported, sizeof u->supported);
    int rc = cask__epoll_init(&u->epstore);
    if (rc) {
        cask__free(u);
        return rc;
    }
    u->ep = &u->epstore.base;
    u->epfd = cask__epoll_fd(u->ep);
    u->base.ops = &cask__uring_ops;
    int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    u->slack_ns = slack > 0 ? (uint64_t)slack : 50000;
    *out = &u->base;
    return 0;
}

static void mrecv_unlink(struct uring_backend *u, struct cask__mrecv *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        u->armed = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
    m->armed = false;
}

#define BR_RING_BYTES (BR_ENTRIES * sizeof(struct io_uring_buf))
#define BR_MAP_BYTES (BR_RING_BYTES + (size_t)BR_ENTRIES * BR_SIZE)

/* At close: ends the multishot accepts still armed, closing every fd they accepted that was
 * not reported yet (the kernel may accept until it sees the cancel). Waits at most 1 s. */
static void accepts_end(struct uring_backend *u)
{
    unsigned left = 0;
    for (struct cask__mrecv *m = u->armed; m; m = m->next) {
        struct io_uring_sqe *sqe = m->accept ? get_sqe(u) : NULL;
        if (!sqe)
            continue;
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)m | TAG_MRECV, 0);
        io_uring_sqe_set_data64(sqe, TAG_NONE);
        left++;
    }
    struct __kernel_timespec ts = {1, 0};
    struct io_uring_cqe *cqe;
    while (left && io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL) >= 0) {
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&u->ring, head, cqe)
        {
            seen++;
            uint64_t tag = io_uring_cqe_get_data64(cqe);
            struct cask__mrecv *m = (struct cask__mrecv *)(uintptr_t)(tag & ~(uint64_t)3);
            if ((tag & 3) != TAG_MRECV || !m->accept)
                continue; /* (tasks have ended: nothing else waits) */
            if (cqe->res >= 0)
                close(cqe->res);
            if (!(cqe->flags & IORING_CQE_F_MORE)) {
                mrecv_unlink(u, m);
                m->on_data(m, -ECANCELED, NULL, false);
                left--;
            }
        }
        io_uring_cq_advance(&u->ring, seen);
    }
}

static void ur_close(struct cask__poll *p)
{
    struct uring_backend *u = (struct uring_backend *)p;
    if (u->have_ring)
        accepts_end(u);
    while (u->armed) { /* their owners learn that they ended */
        struct cask__mrecv *m = u->armed;
        mrecv_unlink(u, m);
        m->on_data(m, -ECANCELED, NULL, false);
    }
    if (u->have_ring)
        io_uring_queue_exit(&u->ring);
    if (u->br)
        munmap(u->br, BR_MAP_BYTES);
    cask__epoll_fini(&u->epstore);
    cask__free(u);
}

static int ur_add(struct cask__poll *p, int fd)
{
    return cask__poll_add(((struct uring_backend *)p)->ep, fd);
}

static int ur_del(struct cask__poll *p, int fd)
{
    return cask__poll_del(((struct uring_backend *)p)->ep, fd);
}

static int reap(struct uring_backend *u, cask__poll_ready_fn ready, cask_loop *l)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    bool ep_fired = false;
    int n = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe)
    {
        seen++;
        uint64_t tag = io_uring_cqe_get_data64(cqe);
        if (tag == TAG_EPOLL) {
            if (!(cqe->flags & IORING_CQE_F_MORE)) {
                u->ep_armed = false;
                if (cqe->res == -EINVAL && !u->ep_single)
                    u->ep_single = true; /* no multishot poll in this kernel */
            }
            ep_fired = true;
        } else if ((tag & 3) == TAG_MRECV) {
            struct cask__mrecv *m = (struct cask__mrecv *)(uintptr_t)(tag & ~(uint64_t)3);
            bool more = cqe->flags & IORING_CQE_F_MORE;
            int res = cqe->res;
            const char *data = NULL;
            unsigned bid = 0;
            if (cqe->flags & IORING_CQE_F_BUFFER) {
                bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                data = u->bufs + (size_t)bid * BR_SIZE;
                u->multi = 2; /* multishot receives work here */
            }
            if (!more)
                mrecv_unlink(u, m);
            if (res == -EINVAL && !more && !m->accept && u->multi == 1) {
                u->multi = -1; /* a kernel before 6.0: no multishot receive */
                res = -ENOSYS;
            }
            m->on_data(m, res, data, more); /* may free m or arm it again */
            if (data) { /* the data was copied: the buffer goes back to the kernel */
                io_uring_buf_ring_add(u->br, (void *)data, BR_SIZE, (unsigned short)bid,
                                      io_uring_buf_ring_mask(BR_ENTRIES), 0);
                io_uring_buf_ring_advance(u->br, 1);
            }
            n++;
        } else if (tag != TAG_NONE && tag != LIBURING_UDATA_TIMEOUT) {
            struct cask__op *op = (struct cask__op *)(uintptr_t)tag;
            op->result = cqe->res;
            cask__signal(&op->w, 0);
            n++;
        }
    }
    io_uring_cq_advance(&u->ring, seen);
    if (ep_fired) {
        int got;
        do { /* a full batch may leave more behind: edge-triggered fds are reported once */
            got = cask__poll_wait(u->ep, 0, ready, l);
            if (got > 0)
                n += got;
        } while (got == CASK__EPOLL_BATCH);
    }
    if (!u->ep_armed)
        arm_epoll(u);
    return n;
}

static int ur_wait(struct cask__poll *p, uint64_t timeout_ns, cask__poll_ready_fn ready,
                   cask_loop *l)
{
    struct uring_backend *u = (struct uring_backend *)p;
    if (!u->have_ring) /* no file operation yet: plain epoll */
        return cask__poll_wait(u->ep, timeout_ns, ready, l);
    struct io_uring *r = &u->ring;
    int rc = 0;
    if (!u->ep_armed)
        arm_epoll(u);
    if (timeout_ns == 0) {
        /* no syscall unless there is something to submit or the kernel has completions to
         * post for us (IORING_SQ_TASKRUN) or its completion queue overflowed */
        unsigned flags = IO_URING_READ_ONCE(*r->sq.kflags);
        if (u->unsubmitted || (flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
            rc = io_uring_submit_and_get_events(r);
    } else if (timeout_ns == CASK__NEVER) {
        if (!io_uring_cq_ready(r))
            rc = io_uring_submit_and_wait(r, 1);
        else if (u->unsubmitted)
            rc = io_uring_submit(r);
    } else if (!io_uring_cq_ready(r)) {
        /* epoll's waits end up to the thread's timer slack late (50 us by default), the ring's
         * timeout fires on the dot: add the slack, so timers due microseconds apart fire in
         * one iteration on both backends (the loop's whole-millisecond rule relies on it) */
        timeout_ns += u->slack_ns;
        struct __kernel_timespec ts = {(long long)(timeout_ns / 1000000000u),
                                       (long long)(timeout_ns % 1000000000u)};
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(r, &cqe, 1, &ts, NULL);
    } else if (u->unsubmitted) {
        rc = io_uring_submit(r);
    }
    if (rc >= 0 || rc == -ETIME || rc == -EINTR)
        u->unsubmitted = false; /* the kernel took the queue (liburing submits before waiting) */
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
        return rc;
    return reap(u, ready, l);
}

static int ur_submit(struct cask__poll *p, struct cask__op *op)
{
    struct uring_backend *u = (struct uring_backend *)p;
    if (op->kind >= CASK__OP_COUNT || !u->supported[op->kind])
        return -ENOSYS;
    if (!u->have_ring && ring_setup(u) < 0)
        return -ENOSYS; /* no ring to be had (memory, fds): this op runs on a thread */
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -EAGAIN;
    uint64_t off = (uint64_t)op->off; /* -1: the file position */
    switch (op->kind) {
    case CASK__OP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->len, off);
        break;
    case CASK__OP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, off);
        break;
    case CASK__OP_READV:
        io_uring_prep_readv(sqe, op->fd, op->iov, (unsigned)op->len, off);
        break;
    case CASK__OP_WRITEV:
        io_uring_prep_writev(sqe, op->fd, op->iov, (unsigned)op->len, off);
        break;
    case CASK__OP_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, 0);
        break;
    case CASK__OP_FDATASYNC:
        io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
        break;
    case CASK__OP_FALLOCATE:
        io_uring_prep_fallocate(sqe, op->fd, op->flags, off, (off_t)op->len);
        break;
    case CASK__OP_OPENAT:
        io_uring_prep_openat(sqe, op->fd, op->path, op->flags, op->mode);
        break;
    case CASK__OP_CLOSE:
        io_uring_prep_close(sqe, op->fd);
        break;
    case CASK__OP_STATX:
        io_uring_prep_statx(sqe, op->fd, op->path, op->flags, STATX_BASIC_STATS, op->buf);
        break;
    case CASK__OP_RENAMEAT:
        io_uring_prep_renameat(sqe, AT_FDCWD, op->path, AT_FDCWD, op->path2, 0);
        break;
    case CASK__OP_UNLINKAT:
        io_uring_prep_unlinkat(sqe, AT_FDCWD, op->path, op->flags);
        break;
    case CASK__OP_MKDIRAT:
        io_uring_prep_mkdirat(sqe, AT_FDCWD, op->path, op->mode);
        break;
    case CASK__OP_FTRUNCATE:
        io_uring_prep_rw(CASK__IORING_OP_FTRUNCATE, sqe, op->fd, NULL, 0, off);
        break;
    case CASK__OP_RECV:
        io_uring_prep_recv(sqe, op->fd, op->buf, (size_t)op->len, op->flags);
        break;
    case CASK__OP_SEND:
        io_uring_prep_send(sqe, op->fd, op->buf, (size_t)op->len, op->flags | MSG_NOSIGNAL);
        break;
    case CASK__OP_ACCEPT:
        io_uring_prep_accept(sqe, op->fd, op->buf, (socklen_t *)(uintptr_t)op->iov, op->flags);
        break;
    default:
        return -ENOSYS;
    }
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op);
    op->on_ring = 1;
    return 0;
}

static void ur_cancel(struct cask__poll *p, struct cask__op *op)
{
    struct uring_backend *u = (struct uring_backend *)p;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return; /* the op completes on its own; the task waits for it */
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
    io_uring_sqe_set_data64(sqe, TAG_NONE);
}

/* The provided buffers, registered at the first multishot receive (Linux 5.19+). */
static int br_setup(struct uring_backend *u)
{
    void *mem = mmap(NULL, BR_MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED)
        return -ENOMEM;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)mem;
    reg.ring_entries = BR_ENTRIES;
    reg.bgid = BR_GROUP;
    int rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (rc < 0) {
        munmap(mem, BR_MAP_BYTES);
        u->multi = -1; /* an older kernel: single receives only */
        return rc;
    }
    u->br = mem;
    u->bufs = (char *)mem + BR_RING_BYTES;
    io_uring_buf_ring_init(u->br);
    for (unsigned i = 0; i < BR_ENTRIES; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * BR_SIZE, BR_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(BR_ENTRIES), (int)i);
    io_uring_buf_ring_advance(u->br, BR_ENTRIES);
    u->multi = 1;
    return 0;
}

static void mrecv_link(struct uring_backend *u, struct cask__mrecv *m, struct io_uring_sqe *sqe)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)m | TAG_MRECV);
    m->armed = true;
    m->cancelling = false;
    m->prev = NULL;
    m->next = u->armed;
    if (u->armed)
        u->armed->prev = m;
    u->armed = m;
}

static int ur_recv_multi(struct cask__poll *p, struct cask__mrecv *m)
{
    struct uring_backend *u = (struct uring_backend *)p;
    if (u->multi < 0 || !u->supported[CASK__OP_RECV])
        return -ENOSYS;
    if (!u->have_ring && ring_setup(u) < 0)
        return -ENOSYS;
    if (u->multi == 0 && br_setup(u) < 0)
        return -ENOSYS;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_recv_multishot(sqe, m->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BR_GROUP;
    m->accept = false;
    mrecv_link(u, m, sqe);
    return 0;
}

/* A multishot accept (Linux 5.19+; an older kernel completes it with -EINVAL). */
static int ur_accept_multi(struct cask__poll *p, struct cask__mrecv *m)
{
    struct uring_backend *u = (struct uring_backend *)p;
    if (!u->supported[CASK__OP_ACCEPT])
        return -ENOSYS;
    if (!u->have_ring && ring_setup(u) < 0)
        return -ENOSYS;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_multishot_accept(sqe, m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    m->accept = true;
    mrecv_link(u, m, sqe);
    return 0;
}

static void ur_cancel_multi(struct cask__poll *p, struct cask__mrecv *m)
{
    struct uring_backend *u = (struct uring_backend *)p;
    if (!m->armed || m->cancelling)
        return;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return; /* the owner sees more reports and asks again */
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)m | TAG_MRECV, 0);
    io_uring_sqe_set_data64(sqe, TAG_NONE);
    m->cancelling = true;
}

static bool ur_net_capable(struct cask__poll *p)
{
    struct uring_backend *u = (struct uring_backend *)p;
    return u->supported[CASK__OP_RECV] && u->supported[CASK__OP_SEND] &&
           u->supported[CASK__OP_ACCEPT];
}

const struct cask__poll_ops cask__uring_ops = {
    .name = "io_uring",
    .open = ur_open,
    .close = ur_close,
    .add = ur_add,
    .del = ur_del,
    .wait = ur_wait,
    .submit = ur_submit,
    .cancel = ur_cancel,
    .net_capable = ur_net_capable,
    .recv_multi = ur_recv_multi,
    .cancel_multi = ur_cancel_multi,
    .accept_multi = ur_accept_multi,
};

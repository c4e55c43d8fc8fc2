/*
 * fs.c: file operations that never block the loop. Each call becomes a struct cask__op that
 * the backend runs on its ring (poll/uring.c) or, when the backend has no ring or the kernel
 * lacks the operation, a worker thread runs synchronously (cask__to_thread_wait). Reads try the
 * page cache first with preadv2(RWF_NOWAIT), which costs one plain syscall when the data is
 * cached. Files of memory file systems (tmpfs, ramfs) are read, written and synced inline with
 * plain syscalls: a ring or thread trip costs more than the copy, which never waits. The composite helpers (read a whole file, replace a file atomically) are built on the
 * single calls.
 */
#define _GNU_SOURCE
#include "../internal.h"
#include "../poll/poll.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_RW 0x7ffff000u          /* Linux's cap on one read or write */
#define FAST_CHUNK (256 * 1024)  /* bytes per cached read: one memcpy of this holds the loop */
#define FAST_BUDGET FAST_CHUNK    /* cached bytes read per iteration before a task yields */

static const char *const op_name[CASK__OP_COUNT] = {
    [CASK__OP_READ] = "file read",        [CASK__OP_WRITE] = "file write",
    [CASK__OP_READV] = "file readv",      [CASK__OP_WRITEV] = "file writev",
    [CASK__OP_FSYNC] = "file fsync",      [CASK__OP_FDATASYNC] = "file fdatasync",
    [CASK__OP_FALLOCATE] = "fallocate",   [CASK__OP_OPENAT] = "file open",
    [CASK__OP_CLOSE] = "file close",      [CASK__OP_STATX] = "stat",
    [CASK__OP_RENAMEAT] = "rename",       [CASK__OP_UNLINKAT] = "unlink",
    [CASK__OP_MKDIRAT] = "mkdir",         [CASK__OP_FTRUNCATE] = "ftruncate",
};

/* ---- running an op synchronously (worker threads) ---- */

static int64_t neg(int64_t r) { return r < 0 ? -errno : r; }

static int op_thread(void *arg)
{
    struct cask__op *op = arg;
    struct iovec one = {op->buf, (size_t)op->len};
    const struct iovec *iov = op->iov ? op->iov : &one;
    int cnt = op->iov ? (int)op->len : 1;
    int64_t r;
    switch (op->kind) {
    case CASK__OP_READ:
    case CASK__OP_READV:
        r = op->off < 0 ? readv(op->fd, iov, cnt) : preadv(op->fd, iov, cnt, op->off);
        break;
    case CASK__OP_WRITE:
    case CASK__OP_WRITEV:
        r = op->off < 0 ? writev(op->fd, iov, cnt) : pwritev(op->fd, iov, cnt, op->off);
        break;
    case CASK__OP_FSYNC:
        r = fsync(op->fd);
        break;
    case CASK__OP_FDATASYNC:
        r = fdatasync(op->fd);
        break;
    case CASK__OP_FALLOCATE:
        r = fallocate(op->fd, op->flags, op->off, (off_t)op->len);
        break;
    case CASK__OP_OPENAT:
        r = openat(op->fd, op->path, op->flags, (mode_t)op->mode);
        break;
    case CASK__OP_CLOSE:
        r = close(op->fd);
        break;
    case CASK__OP_STATX:
        r = statx(op->fd, op->path, op->flags, STATX_BASIC_STATS, op->buf);
        break;
    case CASK__OP_RENAMEAT:
        r = rename(op->path, op->path2);
        break;
    case CASK__OP_UNLINKAT:
        r = unlinkat(AT_FDCWD, op->path, op->flags);
        break;
    case CASK__OP_MKDIRAT:
        r = mkdir(op->path, (mode_t)op->mode);
        break;
    case CASK__OP_FTRUNCATE:
        r = ftruncate(op->fd, op->off);
        break;
    default:
        r = -1;
        errno = ENOSYS;
    }
    op->result = neg(r);
    return 0;
}

/* ---- running an op from a task ---- */

static int64_t run_op_here(struct cask__op *op);

/* A heap copy of the n bytes at p if they lie on the run stack (else p); NULL: no memory. */
static void *bounce(const void *p, size_t n, bool copy_in)
{
    if (!p || !cask__on_own_stack(cask__self(), p))
        return (void *)p;
    void *b = cask__malloc(n ? n : 1);
    if (b && copy_in)
        memcpy(b, p, n);
    return b;
}

static void unbounce(const void *orig, void *b)
{
    if (b != orig)
        cask__free(b);
}

/*
 * A compact task's op: the kernel or a worker thread reads and writes the op and its buffers
 * while the task is parked, when the run stack may hold another task's frames. The op goes to
 * the heap and so does every buffer, path and iovec that lies on the run stack (copied in
 * before, out after).
 */
static int64_t run_op_compact(const struct cask__op *op)
{
    struct cask__op *h = cask__malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    *h = *op;
    int64_t r = -ENOMEM;
    bool in = op->kind == CASK__OP_WRITE || op->kind == CASK__OP_WRITEV;
    size_t blen = op->kind == CASK__OP_STATX ? sizeof(struct statx)
                  : op->kind == CASK__OP_READ || op->kind == CASK__OP_WRITE ? (size_t)op->len
                                                                               : 0;
    struct iovec *iov = NULL;
    int iovcnt = op->kind == CASK__OP_READV || op->kind == CASK__OP_WRITEV ? (int)op->len : 0;
    h->buf = blen ? bounce(op->buf, blen, in) : op->buf;
    h->path = op->path ? bounce(op->path, strlen(op->path) + 1, true) : NULL;
    h->path2 = op->path2 ? bounce(op->path2, strlen(op->path2) + 1, true) : NULL;
    if ((blen && !h->buf) || (op->path && !h->path) || (op->path2 && !h->path2))
        goto out;
    if (iovcnt) {
        iov = cask__calloc((size_t)iovcnt, sizeof *iov);
        if (!iov)
            goto out;
        for (int i = 0; i < iovcnt; i++) {
            iov[i].iov_len = op->iov[i].iov_len;
            iov[i].iov_base = bounce(op->iov[i].iov_base, op->iov[i].iov_len, in);
            if (!iov[i].iov_base && op->iov[i].iov_base)
                goto out;
        }
        h->iov = iov;
    }
    r = run_op_here(h);
    if (r > 0 && op->kind == CASK__OP_READ && h->buf != op->buf)
        memcpy(op->buf, h->buf, (size_t)r);
    if (r == 0 && op->kind == CASK__OP_STATX && h->buf != op->buf)
        memcpy(op->buf, h->buf, sizeof(struct statx));
    if (r > 0 && op->kind == CASK__OP_READV) {
        size_t left = (size_t)r;
        for (int i = 0; i < iovcnt && left; i++) {
            size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
            if (iov[i].iov_base != op->iov[i].iov_base)
                memcpy(op->iov[i].iov_base, iov[i].iov_base, n);
            left -= n;
        }
    }
out:
    if (blen)
        unbounce(op->buf, h->buf);
    unbounce(op->path, (void *)h->path);
    unbounce(op->path2, (void *)h->path2);
    if (iov) {
        for (int i = 0; i < iovcnt; i++)
            unbounce(op->iov[i].iov_base, iov[i].iov_base);
        cask__free(iov);
    }
    cask__free(h);
    return r;
}

/* Runs op and returns its result, with the cancellation rule of cask.h. */
static int64_t run_op(struct cask__op *op)
{
    cask_loop *l = cask__loop;
    if (l && l->current && l->current->cx)
        return run_op_compact(op);
    return run_op_here(op);
}

static int64_t run_op_here(struct cask__op *op)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    cask__waiter_init(&op->w, op_name[op->kind], NULL);
    op->w.on_cancel = cask__op_on_cancel;
    op->w.task = self;
    op->cancelling = 0;
    op->on_ring = 0;
    op->result = -ECANCELED;
    int rc = cask__poll_submit(l->poll, op);
    if (rc == 0) {
        l->nwatch++; /* the loop polls the ring at each iteration while ops are in flight */
        rc = cask__park(&op->w);
        l->nwatch--;
        CASK__CHECK(rc == 0, "file op woken with %d", rc);
    } else {
        rc = cask__to_thread_wait(op_thread, op);
        if (rc)
            return rc; /* -ECANCELED before it started, or no worker thread */
    }
    int64_t r = op->result;
    if (cask__cancelled(self)) {
        if (r == -ECANCELED || r == -EINTR)
            return cask__cancel_now(self);
        if (op->kind == CASK__OP_OPENAT && r >= 0) {
            close((int)r);
            return cask__cancel_now(self);
        }
    }
    return r;
}

static void op_init(struct cask__op *op, int kind, int fd)
{
    memset(op, 0, sizeof *op);
    op->kind = (uint8_t)kind;
    op->fd = fd;
    op->off = -1;
}

/* The cheap path for cached data: one preadv2 that fails with EAGAIN instead of waiting.
 * Returns the count, or -EAGAIN to take the slow path. Yields first once the task has read
 * FAST_BUDGET bytes in this loop iteration (the loop keeps running). */
static __thread uint64_t fast_iter;
static __thread size_t fast_bytes;
static __thread bool no_nowait; /* preadv2 or RWF_NOWAIT is missing here */

/* True if fd is a file of a memory file system (tmpfs, ramfs), whose reads copy from memory
 * and never wait for a device; some kernels refuse RWF_NOWAIT there (EOPNOTSUPP). */
static bool in_memory(int fd)
{
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
}

/*
 * Whether the RWF_NOWAIT attempt is worth making, per fd. A failed attempt is not free: the
 * kernel starts reading the missing page before it says EAGAIN (6.18: filemap_get_pages
 * submits the read, one device doorbell per read, from the loop's thread), and then the ring
 * read waits for that page. For a file whose reads keep missing (random reads of a file larger
 * than the cache) the attempt costs a syscall and a doorbell per read, where the ring
 * submits a whole iteration's reads in one plugged batch: measured on this machine (4 KiB
 * random reads of a cold 1 GiB file, 64 tasks, io_uring) 78k IOPS with the attempt and 124k
 * without, with the loop's timers late by 1.3 ms (p50) against 0.2 ms. So after MISS_SKIP
 * misses in a row an fd skips the attempt, still probing one read in PROBE_EVERY (a file
 * that became cached goes back to the cheap path). The ring's own attempt at submission still
 * copies cached pages at once. A small direct-mapped table, per thread (one per loop).
 */
#define NW_SLOTS 64
#define MISS_SKIP 2
#define PROBE_EVERY 16
struct nw_slot {
    int fd;
    uint8_t misses;  /* RWF_NOWAIT attempts that failed in a row (saturates) */
    uint8_t skipped; /* attempts skipped, counting to the next probe */
};
static __thread struct nw_slot nw_slot[NW_SLOTS];

static struct nw_slot *nw_of(int fd)
{
    struct nw_slot *s = &nw_slot[(unsigned)fd % NW_SLOTS];
    if (s->fd != fd) { /* another fd had the slot: this one starts afresh */
        s->fd = fd;
        s->misses = s->skipped = 0;
    }
    return s;
}

static void nw_forget(int fd)
{
    if (fd >= 0)
        nw_of(fd)->misses = 0;
}

static bool nw_worth(int fd)
{
    struct nw_slot *s = nw_of(fd);
    return s->misses < MISS_SKIP || ++s->skipped % PROBE_EVERY == 0;
}

static void nw_outcome(int fd, bool hit)
{
    struct nw_slot *s = nw_of(fd);
    if (hit)
        s->misses = 0;
    else if (s->misses < UINT8_MAX)
        s->misses++;
}

/* first: the call's first attempt, which consults and feeds the fd's RWF_NOWAIT record */
static ssize_t try_cached(cask_loop *l, int fd, const struct iovec *iov, int cnt, int64_t off,
                          bool first)
{
    bool mem = cask__fd_memfile(l, fd);
    if (!mem && (no_nowait || (first && !nw_worth(fd))))
        return -EAGAIN;
    if (fast_iter == l->iterations && fast_bytes >= FAST_BUDGET) {
        int rc = cask_yield(); /* let the others run: the loop goes on every FAST_BUDGET */
        if (rc)
            return rc;
    }
    if (fast_iter != l->iterations) {
        fast_iter = l->iterations;
        fast_bytes = 0;
    }
    ssize_t n;
    if (mem) /* tmpfs: a read copies memory and never waits */
        n = off < 0 ? readv(fd, iov, cnt) : preadv(fd, iov, cnt, off);
    else
        n = preadv2(fd, iov, cnt, off, RWF_NOWAIT);
    /* a file of tmpfs cask did not open (some kernels refuse RWF_NOWAIT there): a plain read
     * beats a trip to the ring or a thread */
    if (n < 0 && errno == EOPNOTSUPP && in_memory(fd))
        n = off < 0 ? readv(fd, iov, cnt) : preadv(fd, iov, cnt, off);
    if (n >= 0) {
        fast_bytes += (size_t)n + 4096; /* a syscall costs something even when it reads nothing */
        if (first && !mem)
            nw_outcome(fd, true);
        return n;
    }
    if (errno == ENOSYS)
        no_nowait = true;
    if (first && !mem && (errno == EAGAIN || errno == EOPNOTSUPP))
        nw_outcome(fd, false); /* (a file system, or qemu-user, refusing RWF_NOWAIT: a miss too) */
    return errno == EBADF || errno == EISDIR || errno == EFAULT ? -errno : -EAGAIN;
}

static int check_task(void)
{
    cask_loop *l = cask__loop;
    if (!l || !l->current)
        return -EPERM;
    return 0;
}

/* The checks of a read or write: 0, or the error to return. Caps *n at MAX_RW. */
static int rw_check(int fd, const void *buf, size_t *n)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (fd < 0)
        return -EBADF;
    if (!buf && *n)
        return -EINVAL;
    if (*n > MAX_RW)
        *n = MAX_RW;
    return 0;
}

static ssize_t do_read(int fd, void *buf, size_t n, int64_t off)
{
    int rc = rw_check(fd, buf, &n);
    if (rc)
        return rc;
    cask_loop *l = cask__loop;
    if (cask__cancelled(l->current))
        return cask__cancel_now(l->current);
    /* the page cache first, a chunk at a time so that no step holds the loop long */
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < FAST_CHUNK ? n - done : FAST_CHUNK;
        struct iovec v = {(char *)buf + done, want};
        ssize_t got = try_cached(l, fd, &v, 1, off < 0 ? -1 : off + (int64_t)done, !done);
        if (got == -EAGAIN)
            break; /* not cached: the ring or a thread fetches the rest */
        if (got < 0)
            return done ? (ssize_t)done : got; /* an error, or cancelled while yielding */
        done += (size_t)got;
        if (got == 0)
            return (ssize_t)done; /* end of file (a short chunk tries once more to tell) */
    }
    if (done == n)
        return (ssize_t)done;
    struct cask__op op;
    op_init(&op, CASK__OP_READ, fd);
    op.buf = (char *)buf + done;
    op.len = n - done;
    op.off = off < 0 ? -1 : off + (int64_t)done;
    int64_t r = run_op(&op);
    if (r < 0)
        return done ? (ssize_t)done : (ssize_t)r;
    return (ssize_t)(done + (size_t)r);
}

/* A write to a file of a memory file system, inline, a chunk at a time with the read side's
 * budget (the loop goes on every FAST_BUDGET bytes). Returns the count, or an error if nothing
 * was written. */
static ssize_t write_inline(cask_loop *l, int fd, const char *buf, size_t n, int64_t off)
{
    size_t done = 0;
    while (done < n) {
        if (fast_iter == l->iterations && fast_bytes >= FAST_BUDGET) {
            int rc = cask_yield();
            if (rc)
                return done ? (ssize_t)done : rc;
        }
        if (fast_iter != l->iterations) {
            fast_iter = l->iterations;
            fast_bytes = 0;
        }
        size_t want = n - done < FAST_CHUNK ? n - done : FAST_CHUNK;
        ssize_t w = off < 0 ? write(fd, buf + done, want)
                            : pwrite(fd, buf + done, want, off + (int64_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return done ? (ssize_t)done : -errno;
        fast_bytes += (size_t)w + 4096;
        done += (size_t)w;
        if (w == 0)
            break;
    }
    return (ssize_t)done;
}

static ssize_t do_write(int fd, const void *buf, size_t n, int64_t off)
{
    int rc = rw_check(fd, buf, &n);
    if (rc)
        return rc;
    cask_loop *l = cask__loop;
    if (cask__fd_memfile(l, fd)) {
        if (cask__cancelled(l->current))
            return cask__cancel_now(l->current);
        return write_inline(l, fd, buf, n, off);
    }
    size_t done = 0;
    do {
        struct cask__op op;
        op_init(&op, CASK__OP_WRITE, fd);
        op.buf = (char *)buf + done;
        op.len = n - done;
        op.off = off < 0 ? -1 : off + (int64_t)done;
        int64_t r = run_op(&op);
        if (r < 0)
            return done ? (ssize_t)done : (ssize_t)r;
        if (r == 0)
            break;
        done += (size_t)r;
        /* a short write that did not fail: go on unless cancelled (then report the count) */
    } while (done < n && !cask__cancelled(cask__loop->current));
    return (ssize_t)done;
}

ssize_t cask_file_read(int fd, void *buf, size_t n)
{
    return cask__count_read(do_read(fd, buf, n, -1));
}
ssize_t cask_file_write(int fd, const void *buf, size_t n)
{
    return cask__count_written(do_write(fd, buf, n, -1));
}

ssize_t cask_file_pread(int fd, void *buf, size_t n, int64_t off)
{
    if (off < 0)
        return check_task() ? -EPERM : -EINVAL;
    return cask__count_read(do_read(fd, buf, n, off));
}

ssize_t cask_file_pwrite(int fd, const void *buf, size_t n, int64_t off)
{
    if (off < 0)
        return check_task() ? -EPERM : -EINVAL;
    return cask__count_written(do_write(fd, buf, n, off));
}

static ssize_t do_vec(int kind, int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (!iov || iovcnt < 1 || iovcnt > IOV_MAX || off < -1)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    cask_loop *l = cask__loop;
    if (cask__cancelled(l->current))
        return cask__cancel_now(l->current);
    if (kind == CASK__OP_READV) {
        ssize_t got = try_cached(l, fd, iov, iovcnt, off, true);
        if (got != -EAGAIN)
            return got; /* a short cached read is a short readv, as readv(2) allows */
    } else if (cask__fd_memfile(l, fd)) {
        ssize_t w = off < 0 ? writev(fd, iov, iovcnt) : pwritev(fd, iov, iovcnt, off);
        return w < 0 ? -errno : w;
    }
    struct cask__op op;
    op_init(&op, kind, fd);
    op.iov = iov;
    op.len = (uint64_t)iovcnt;
    op.off = off;
    return (ssize_t)run_op(&op);
}

ssize_t cask_file_readv(int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
    return cask__count_read(do_vec(CASK__OP_READV, fd, iov, iovcnt, off));
}

ssize_t cask_file_writev(int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
    return cask__count_written(do_vec(CASK__OP_WRITEV, fd, iov, iovcnt, off));
}

static int fd_op(int kind, int fd, int64_t off, int64_t len, int mode)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (fd < 0)
        return -EBADF;
    cask_loop *l = cask__loop;
    if ((kind == CASK__OP_FSYNC || kind == CASK__OP_FDATASYNC) && cask__fd_memfile(l, fd)) {
        /* nothing to write back from memory: the call checks the fd and returns */
        if (cask__cancelled(l->current))
            return cask__cancel_now(l->current);
        int r = kind == CASK__OP_FSYNC ? fsync(fd) : fdatasync(fd);
        return r == 0 ? 0 : -errno;
    }
    struct cask__op op;
    op_init(&op, kind, fd);
    op.off = off;
    op.len = (uint64_t)len;
    op.flags = mode;
    return (int)run_op(&op);
}

int cask_file_fsync(int fd) { return fd_op(CASK__OP_FSYNC, fd, 0, 0, 0); }
int cask_file_fdatasync(int fd) { return fd_op(CASK__OP_FDATASYNC, fd, 0, 0, 0); }

int cask_file_fallocate(int fd, int mode, int64_t off, int64_t len)
{
    if (off < 0 || len <= 0)
        return check_task() ? -EPERM : -EINVAL;
    return fd_op(CASK__OP_FALLOCATE, fd, off, len, mode);
}

int cask_file_truncate(int fd, int64_t len)
{
    if (len < 0)
        return check_task() ? -EPERM : -EINVAL;
    return fd_op(CASK__OP_FTRUNCATE, fd, len, 0, 0);
}

int cask_file_open(const char *path, int flags, unsigned mode)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (!path)
        return -EINVAL;
    struct cask__op op;
    op_init(&op, CASK__OP_OPENAT, AT_FDCWD);
    op.path = path;
    op.flags = flags | O_CLOEXEC;
    op.mode = mode;
    int fd = (int)run_op(&op);
    /* a file of tmpfs or ramfs: its reads and writes run inline from now on (cheaper than
     * any ring or thread trip; memory never makes the loop wait for a device) */
    if (fd >= 0 && !(flags & (O_DIRECTORY | O_PATH)) && in_memory(fd))
        (void)cask__fd_set_memfile(cask__loop, fd);
    nw_forget(fd); /* a new file under this number: its reads try the cache first */
    return fd;
}

int cask_file_close(int fd)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    cask__fd_forget(l, fd);
    nw_forget(fd);
    /* close(2) of a local file returns at once (it writes nothing back); not worth a trip */
    return close(fd) == 0 ? 0 : errno == EINTR ? 0 : -errno;
}

static void statx_to_stat(const struct statx *x, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = (blksize_t)x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

static int do_stat(int fd, const char *path, int flags, struct stat *st)
{
    struct statx x;
    struct cask__op op;
    op_init(&op, CASK__OP_STATX, fd);
    op.path = path;
    op.flags = flags;
    op.buf = &x;
    int rc = (int)run_op(&op);
    if (rc == 0)
        statx_to_stat(&x, st);
    return rc;
}

int cask_file_stat(const char *path, struct stat *st)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (!path || !st)
        return -EINVAL;
    return do_stat(AT_FDCWD, path, 0, st);
}

int cask_file_fstat(int fd, struct stat *st)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (!st)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    return do_stat(fd, "", AT_EMPTY_PATH, st);
}

static int path_op(int kind, const char *path, const char *path2, int flags, unsigned mode)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (!path || (kind == CASK__OP_RENAMEAT && !path2))
        return -EINVAL;
    struct cask__op op;
    op_init(&op, kind, AT_FDCWD);
    op.path = path;
    op.path2 = path2;
    op.flags = flags;
    op.mode = mode;
    return (int)run_op(&op);
}

int cask_file_rename(const char *from, const char *to)
{
    return path_op(CASK__OP_RENAMEAT, from, to, 0, 0);
}
int cask_file_unlink(const char *path) { return path_op(CASK__OP_UNLINKAT, path, NULL, 0, 0); }
int cask_dir_make(const char *path, unsigned mode)
{
    return path_op(CASK__OP_MKDIRAT, path, NULL, 0, mode);
}
int cask_dir_remove(const char *path)
{
    return path_op(CASK__OP_UNLINKAT, path, NULL, AT_REMOVEDIR, 0);
}

/* ---- listing a directory (no ring operation exists for it: always a worker thread) ---- */

struct listing {
    const char *path;
    char **names;
    size_t count;
    int err;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cask_dir_list_free(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        cask__free(names[i]);
    cask__free(names);
}

static int list_thread(void *arg)
{
    struct listing *ls = arg;
    DIR *d = opendir(ls->path);
    if (!d) {
        ls->err = -errno;
        return 0;
    }
    size_t cap = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (ls->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **n = cask__realloc(ls->names, ncap * sizeof *n);
            if (!n) {
                ls->err = -ENOMEM;
                break;
            }
            ls->names = n;
            cap = ncap;
        }
        size_t len = strlen(e->d_name) + 1;
        char *s = cask__malloc(len);
        if (!s) {
            ls->err = -ENOMEM;
            break;
        }
        memcpy(s, e->d_name, len);
        ls->names[ls->count++] = s;
        errno = 0;
    }
    if (!ls->err && errno)
        ls->err = -errno;
    closedir(d);
    if (ls->err) {
        cask_dir_list_free(ls->names, ls->count);
        ls->names = NULL;
        ls->count = 0;
    } else if (ls->count) {
        qsort(ls->names, ls->count, sizeof *ls->names, cmp_name);
    }
    return 0;
}

int cask_dir_list(const char *path, char ***names, size_t *count)
{
    if (names)
        *names = NULL;
    if (count)
        *count = 0;
    int rc = check_task();
    if (rc)
        return rc;
    if (!path || !names || !count)
        return -EINVAL;
    /* the worker fills the listing: a compact task's is on the heap with its path */
    cask_task *self = cask__self();
    struct listing lsl = {.path = path}, *ls = &lsl;
    if (self->cx) {
        size_t pl = strlen(path) + 1;
        ls = cask__malloc(sizeof *ls + pl);
        if (!ls)
            return -ENOMEM;
        memset(ls, 0, sizeof *ls);
        ls->path = memcpy(ls + 1, path, pl);
    }
    rc = cask__to_thread_wait(list_thread, ls);
    if (rc == 0 && ls->err)
        rc = ls->err;
    if (rc == 0) {
        *names = ls->names;
        *count = ls->count;
    }
    if (ls != &lsl)
        cask__free(ls);
    return rc;
}

/* ---- whole files ---- */

/* Runs a cleanup step that must happen even when the task is cancelled. */
static void shielded_close(int fd)
{
    cask_file_close(fd);
}

static int shielded_unlink(const char *path)
{
    cask_scope sc;
    int rc = cask__scope_open(&sc, CASK__SCOPE_SHIELD, CASK__NEVER);
    if (rc)
        return unlink(path) == 0 ? 0 : -errno;
    rc = cask_file_unlink(path);
    cask_scope_close(&sc, 0);
    return rc;
}

int cask_file_read_all(const char *path, char **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    int rc = check_task();
    if (rc)
        return rc;
    if (!path || !data || !len)
        return -EINVAL;
    int fd = cask_file_open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    rc = cask_file_fstat(fd, &st);
    if (rc) {
        shielded_close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        shielded_close(fd);
        return -EISDIR;
    }
    /* the size is a hint: files in /proc say 0, and files grow or shrink while read */
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    if ((uint64_t)st.st_size >= SIZE_MAX / 2) {
        shielded_close(fd);
        return -EFBIG;
    }
    char *buf = cask__malloc(cap);
    size_t n = 0;
    rc = buf ? 0 : -ENOMEM;
    while (!rc) {
        if (n + 1 == cap) {
            if (cap >= SIZE_MAX / 4) {
                rc = -EFBIG;
                break;
            }
            char *nb = cask__realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = cask_file_read(fd, buf + n, cap - 1 - n);
        if (got < 0)
            rc = (int)got;
        else if (got == 0)
            break;
        else
            n += (size_t)got;
        if (!rc && cask__cancelled(cask__loop->current))
            rc = cask__cancel_now(cask__loop->current); /* a read done despite a cancel */
    }
    shielded_close(fd);
    if (rc) {
        cask__free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

static int dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(out, cap, ".") < (int)cap ? 0 : -ENAMETOOLONG;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        return -ENAMETOOLONG;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int cask_file_replace(const char *path, const void *data, size_t len, unsigned mode)
{
    int rc = check_task();
    if (rc)
        return rc;
    if (!path || (!data && len))
        return -EINVAL;
    static __thread unsigned long seq;
    char tmp[PATH_MAX], dir[PATH_MAX];
    rc = dir_of(path, dir, sizeof dir);
    if (rc)
        return rc;
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        if (snprintf(tmp, sizeof tmp, "%s.%06lx", path,
                     (unsigned long)((getpid() * 7919ul + ++seq) & 0xffffff)) >= (int)sizeof tmp)
            return -ENAMETOOLONG;
        fd = cask_file_open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
        if (fd < 0 && fd != -EEXIST)
            return fd;
    }
    if (fd < 0)
        return fd;
    size_t done = 0;
    rc = 0;
    while (done < len && !rc) { /* at explicit offsets: the ring checks RLIMIT_FSIZE then */
        ssize_t w = cask_file_pwrite(fd, (const char *)data + done, len - done, (int64_t)done);
        if (w < 0)
            rc = (int)w;
        else
            done += (size_t)w;
        if (!rc && cask__cancelled(cask__loop->current))
            rc = cask__cancel_now(cask__loop->current);
    }
    if (!rc)
        rc = cask_file_fsync(fd);
    shielded_close(fd);
    if (!rc)
        rc = cask_file_rename(tmp, path);
    if (rc) {
        shielded_unlink(tmp);
        return rc;
    }
    /* committed: make the rename itself durable */
    int dfd = cask_file_open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (dfd < 0)
        return dfd;
    rc = cask_file_fsync(dfd);
    shielded_close(dfd);
    return rc;
}

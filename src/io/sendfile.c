/*
 * sendfile.c: sending part of a file to a socket with sendfile(2), without copying through
 * user space and without blocking the loop. The socket side waits for writability like every
 * socket call; the file side is the catch: sendfile reads the page cache and waits for the disk
 * when a page is missing. So each chunk first asks the kernel whether its pages are cached
 * (cachestat, Linux 6.5); a cached chunk is sent from the loop's thread, any other chunk (or
 * every chunk where cachestat is missing) by a worker thread, whose disk wait then blocks only
 * itself. The socket stays non-blocking throughout.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHUNK (1 << 20) /* bytes per sendfile call: bounds how long one call holds the loop */

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* the same number on every architecture (the generic table) */
#endif

struct cachestat_range {
    uint64_t off, len;
};
struct cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

static __thread bool no_cachestat;

/* True if the pages of [off, off + len) are all in the page cache. */
static bool cached(int fd, int64_t off, size_t len)
{
    if (no_cachestat)
        return false;
    struct cachestat_range r = {(uint64_t)off, len};
    struct cachestat cs;
    if (syscall(SYS_cachestat, fd, &r, &cs, 0) != 0) {
        if (errno == ENOSYS)
            no_cachestat = true;
        return false;
    }
    long page = sysconf(_SC_PAGESIZE);
    uint64_t first = (uint64_t)off / (uint64_t)page;
    uint64_t last = ((uint64_t)off + len + (uint64_t)page - 1) / (uint64_t)page;
    return cs.nr_cache >= last - first;
}

struct sf_job {
    int sock, fd;
    off_t off;
    size_t len;
    ssize_t result;
};

static int sf_thread(void *arg)
{
    struct sf_job *j = arg;
    ssize_t r = sendfile(j->sock, j->fd, &j->off, j->len);
    j->result = r < 0 ? -errno : r;
    return 0;
}

ssize_t cask_sendfile(int sock, int fd, int64_t off, size_t count)
{
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    if (off < 0)
        return -EINVAL;
    if (sock < 0 || fd < 0)
        return -EBADF;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    cask__ignore_sigpipe(); /* sendfile has no MSG_NOSIGNAL */
    size_t done = 0;
    ssize_t err = 0;
    while (done < count) {
        size_t len = count - done < CHUNK ? count - done : CHUNK;
        int64_t at = off + (int64_t)done;
        ssize_t r;
        if (cached(fd, at, len)) {
            off_t o = (off_t)at;
            r = sendfile(sock, fd, &o, len);
            if (r < 0)
                r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
        } else {
            /* the worker writes the job: a compact task's is on the heap, off its stack */
            struct sf_job jl, *j = self->cx ? cask__malloc(sizeof *j) : &jl;
            if (!j) {
                r = -ENOMEM;
            } else {
                *j = (struct sf_job){sock, fd, (off_t)at, len, 0};
                int rc = cask__to_thread_wait(sf_thread, j);
                r = rc ? rc : j->result == -EWOULDBLOCK ? -EAGAIN : j->result;
                if (j != &jl)
                    cask__free(j);
            }
        }
        if (r > 0) {
            done += (size_t)r;
            if (cask__cancelled(self))
                break; /* report what went; the next call delivers the cancel */
            continue;
        }
        if (r == 0)
            break; /* the file ended early */
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN) { /* the socket's buffer is full */
            int rc = cask__io_wait(sock, CASK_WRITABLE);
            if (rc == 0)
                continue;
            r = rc;
        }
        err = r;
        break;
    }
    return done ? (ssize_t)done : err;
}

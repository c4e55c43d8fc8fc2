/*
 * net_internal.h: what the network files share: the stream structure (servers embed it in
 * their connection records), the readiness wait used by every socket call, and small socket
 * helpers.
 */
#ifndef CASK_NET_INTERNAL_H
#define CASK_NET_INTERNAL_H

#include "../internal.h"

struct cask_stream {
    int fd;
    bool is_sock;
    bool is_file;  /* a regular file or block device: the file calls (io/fs.c), no readiness */
    bool borrow;   /* the fd is not ours to close */
    bool embedded; /* the memory belongs to a server connection */
    bool eof;      /* the peer ended the stream */
    bool closed;
    bool reading, writing; /* a task is inside a read / write call */
    int rerr;              /* a read error to report once the buffer is empty */
    unsigned users;        /* tasks inside calls: freeing waits for them to leave */
    struct cask__wq idle;  /* who waits for users to reach 0 */
    size_t limit;
    char *buf; /* read buffer: [start, end) holds unread bytes */
    size_t start, end, cap;
    struct cask__rx *rx; /* the multishot receive feeding buf on the ring path (net_ring.c) */
    bool no_rx;          /* no multishot receive for this stream: single receives */
};

/* Room for n more bytes at buf + end (moving or growing the buffer). 0 or -ENOMEM. */
int cask__stream_room(struct cask_stream *s, size_t n);

/* Prepares s over fd, which must be non-blocking already (accepted sockets are). */
void cask__stream_setup(struct cask_stream *s, int fd, bool is_sock,
                        const struct cask_stream_opts *opts);
/* Closes s and, from a task, waits (shielded) until no other task is inside a call on it;
 * then frees its buffer. The struct itself is the caller's to free. */
void cask__stream_release(struct cask_stream *s);

/* The common wait after EAGAIN: 0 when fd may be ready, or -ECANCELED, -EBUSY (another task
 * waits in the same direction), -EBADF (forgotten meanwhile) ... */
static inline int cask__io_wait(int fd, int events)
{
    int rc = cask_wait_fd(fd, events);
    if (rc > 0)
        return 0;
    return rc == -EEXIST ? -EBUSY : rc;
}

/* The ring path (io/net_ring.c): whether this loop's sockets go through io_uring, and the
 * calls that do. Each waits for its completion and returns a count (recv, send) or an fd
 * (accept), also when the task was cancelled meanwhile (it did that much; the cancellation is
 * delivered by the next call); -ECANCELED when cancelled having done nothing, -EBADF when the
 * fd was forgotten (cask_fd_forget), the socket's errors, or -ENOSYS: not on the ring (wait
 * for readiness instead). */
bool cask__net_ring(void);
ssize_t cask__ring_recv(int fd, void *buf, size_t len, int flags);
ssize_t cask__ring_send(int fd, const void *buf, size_t len, int flags);
/* cask__ring_accept keeps one multishot accept armed per listening socket (for every task,
 * compact ones too): connections the kernel accepted while no task waited are queued (at most
 * 128; then it stops and the kernel's backlog holds the rest) for the next call. It returns
 * -ECANCELED having taken nothing (later connections stay queued), the accept error (-EMFILE,
 * ...) to one waiting task, -EBADF when the listener was forgotten, or -ENOSYS: not on the ring
 * (accept4 and readiness). Single accepts where the kernel has no multishot accept. */
int cask__ring_accept(int lfd, struct cask_addr *peer);
/* Cancels the ring operations in flight on fd (they complete with -EBADF); for a listener,
 * also ends its multishot accept and closes the connections it queued. */
void cask__ring_forget(int fd);
/* A stream socket's buffered reads on the ring (fill: readline, readuntil, readexactly, small
 * reads): a multishot receive with provided buffers, armed at the first one, appends every arrival to the stream's buffer, also while no task reads (up to a
 * high-water mark, where it stops until the next read). cask__rx_fill waits for the next
 * arrival: with dst, the first one is copied there (up to n, the rest buffered) and its count
 * returned; without, the count appended. 0 at EOF, -ECANCELED (nothing taken: what comes later
 * is buffered), -ENOTCONN (closed meanwhile), the socket's error, or -ENOSYS: no multishot
 * receive (use cask__ring_recv). cask__rx_release ends it (the stream is closing). */
ssize_t cask__rx_fill(struct cask_stream *s, void *dst, size_t n);
/* Whether s has a multishot receive armed (reads must then go through it). */
bool cask__rx_armed(const struct cask_stream *s);
void cask__rx_release(struct cask_stream *s);

/* Reads/writes once without waiting: the count, or -errno (-EAGAIN when it would block).
 * Sockets use MSG_NOSIGNAL; other fds rely on SIGPIPE being ignored (cask__ignore_sigpipe). */
ssize_t cask__read_once(int fd, bool is_sock, void *buf, size_t n);
ssize_t cask__write_once(int fd, bool is_sock, const void *buf, size_t n);
ssize_t cask__writev_once(int fd, bool is_sock, const struct iovec *iov, int iovcnt);
void cask__ignore_sigpipe(void);
/* One socket transfer, waiting for readiness on EAGAIN: send/sendto (out, to *a if not NULL)
 * or recv/recvfrom (storing the sender in *a if not NULL). The count or an error. */
ssize_t cask__sock_io(int fd, bool out, void *buf, size_t n, int flags, struct cask_addr *a);
/* Writes all n bytes, waiting for writability on EAGAIN. Returns n, or the count taken before
 * an error (if any was), or the error; -ENOTCONN when *closed became true while waiting. */
ssize_t cask__write_all(int fd, bool is_sock, const void *buf, size_t n, const bool *closed);
/* Makes fd non-blocking. 0 or -errno. */
int cask__set_nonblock(int fd);
/* A non-blocking close-on-exec socket. fd or -errno. */
int cask__socket(int family, int type);
/* Orders addresses for Happy Eyeballs (RFC 8305 section 4): families alternate, starting with
 * the family of the first one. */
void cask__interleave(struct cask_addr *a, size_t n);
/* Races connections to addrs in their order, one more every 250 ms or when the previous one
 * failed; the first to connect wins. Returns its fd or the last error (n <= 16 used). */
int cask__happy_eyeballs(struct cask_addr *addrs, size_t n);

#endif

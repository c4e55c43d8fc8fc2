/*
 * stream.c: buffered streams (asyncio's StreamReader and StreamWriter in one object). Reads go
 * through a growable buffer and consume bytes only when a call succeeds, which makes every read
 * cancel-safe; writes go straight to the kernel and suspend while its send buffer is full.
 * Closing wakes tasks blocked on the stream; freeing waits until they have left.
 * Over a regular file or a block device, which are always "ready" and would block the loop,
 * reads and writes go through the file calls (io_uring or worker threads) at the file position.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define DEFAULT_LIMIT (64 * 1024)
#define MIN_BUF 16384     /* first read buffer */
#define MIN_FREE 4096     /* a read is only issued with at least this much room */
#define DIRECT_READ 16384 /* reads this large skip the buffer when it is empty */

/* ---- life ---- */

void cask__stream_setup(struct cask_stream *s, int fd, bool is_sock,
                        const struct cask_stream_opts *opts)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->is_sock = is_sock;
    s->limit = opts && opts->limit ? opts->limit : DEFAULT_LIMIT;
    s->borrow = opts && opts->borrow;
    if (is_sock && opts && opts->sndbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opts->sndbuf, sizeof opts->sndbuf);
}

int cask_stream_open(cask_stream **out, int fd, const struct cask_stream_opts *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -EBADF;
    int rc = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ? 0 : cask__set_nonblock(fd);
    if (rc)
        return rc;
    if (!S_ISSOCK(st.st_mode))
        cask__ignore_sigpipe();
    struct cask_stream *s = cask__malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    cask__stream_setup(s, fd, S_ISSOCK(st.st_mode), opts);
    s->is_file = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
    *out = s;
    return 0;
}

/* A stream over the fd a connect call returned (or its error). */
static int stream_over(cask_stream **out, int fd)
{
    if (fd < 0)
        return fd;
    int rc = cask_stream_open(out, fd, NULL);
    if (rc)
        cask_close(fd);
    return rc;
}

int cask_open_connection(cask_stream **out, const char *host, uint16_t port)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    return stream_over(out, cask_tcp_connect(host, port));
}

int cask_open_unix_connection(cask_stream **out, const char *path)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    return stream_over(out, cask_unix_connect(path));
}

int cask_stream_fd(const cask_stream *s) { return s && !s->closed ? s->fd : -1; }
size_t cask_stream_buffered(const cask_stream *s) { return s ? s->end - s->start : 0; }
bool cask_stream_at_eof(const cask_stream *s) { return s && s->eof && s->end == s->start; }

int cask_stream_close(cask_stream *s)
{
    if (!s || s->closed)
        return 0;
    s->closed = true;
    cask__rx_release(s); /* a multishot receive on the ring: cancelled, its reader woken */
    /* forgetting the fd wakes tasks blocked on it (-EBADF, which they turn into -ENOTCONN) */
    if (cask__loop)
        cask_fd_forget(s->fd);
    if (!s->borrow)
        close(s->fd);
    s->fd = -1;
    return 0;
}

static bool idle_on_cancel(struct cask__waiter *w)
{
    (void)w;
    return false; /* shielded: not reached */
}

void cask__stream_release(struct cask_stream *s)
{
    cask_stream_close(s);
    if (s->users && cask__self()) {
        cask_scope sh;
        cask_shield_open(&sh);
        while (s->users) {
            struct cask__waiter *w = CASK__REC(cask__self(), struct cask__waiter);
            cask__waiter_init(w, "stream users", s);
            w->on_cancel = idle_on_cancel;
            w->task = cask__self();
            cask__wq_push(&s->idle, w);
            (void)cask__park(w);
        }
        cask_scope_close(&sh, 0);
    }
    cask__free(s->buf);
    s->buf = NULL;
}

void cask_stream_free(cask_stream *s)
{
    if (!s)
        return;
    if (s->embedded) { /* a server's connection: the server frees it after the handler */
        cask_stream_close(s);
        return;
    }
    cask__stream_release(s);
    cask__free(s);
}

/* ---- entering and leaving calls ---- */

static int enter(struct cask_stream *s, bool *busy)
{
    cask_task *t = cask__self();
    if (!s)
        return -EINVAL;
    if (!t)
        return -EPERM;
    if (s->closed)
        return -ENOTCONN;
    if (*busy)
        return -EBUSY;
    if (cask__cancelled(t))
        return cask__cancel_now(t);
    *busy = true;
    s->users++;
    return 0;
}

static void leave(struct cask_stream *s, bool *busy)
{
    *busy = false;
    if (--s->users == 0) {
        struct cask__waiter *w;
        while ((w = cask__wq_pop(&s->idle)))
            cask__signal(w, 0);
    }
}

static int wait_io(struct cask_stream *s, int events)
{
    int rc = cask__io_wait(s->fd, events);
    if (s->closed)
        return -ENOTCONN;
    return rc;
}

/* ---- the read buffer ---- */

/* Makes room to read into, keeping capacity for at least want buffered bytes. */
static int reserve(struct cask_stream *s, size_t want)
{
    size_t used = s->end - s->start;
    size_t need = used + MIN_FREE > want ? used + MIN_FREE : want;
    if (s->cap - s->end >= MIN_FREE || (s->cap - s->start >= need && s->cap > s->end))
        return 0;
    if (s->start) {
        memmove(s->buf, s->buf + s->start, used);
        s->start = 0;
        s->end = used;
    }
    if (s->cap >= need && s->cap > s->end)
        return 0;
    size_t cap = s->cap ? s->cap : MIN_BUF;
    while (cap < need)
        cap *= 2;
    char *b = cask__realloc(s->buf, cap);
    if (!b)
        return -ENOMEM;
    s->buf = b;
    s->cap = cap;
    return 0;
}

int cask__stream_room(struct cask_stream *s, size_t n)
{
    if (s->cap - s->end >= n)
        return 0;
    size_t used = s->end - s->start;
    if (s->start) {
        memmove(s->buf, s->buf + s->start, used);
        s->start = 0;
        s->end = used;
        if (s->cap - used >= n)
            return 0;
    }
    size_t cap = s->cap ? s->cap : MIN_BUF;
    while (cap - used < n)
        cap *= 2;
    char *b = cask__realloc(s->buf, cap);
    if (!b)
        return -ENOMEM;
    s->buf = b;
    s->cap = cap;
    return 0;
}

/* One read: through the file calls for files (they wait themselves), else without waiting. */
static ssize_t read_once(struct cask_stream *s, void *buf, size_t n)
{
    if (s->is_file) {
        ssize_t r = cask_file_read(s->fd, buf, n);
        return r == -EAGAIN ? -ENOMEM : r; /* no worker thread: not a readiness matter */
    }
    return cask__read_once(s->fd, s->is_sock, buf, n);
}

/* One read that may wait: a socket on the ring path waits for its recv's completion (-ECANCELED:
 * it took nothing); else as read_once, -EAGAIN meaning: wait for readiness. */
static ssize_t read_some(struct cask_stream *s, void *buf, size_t n)
{
    if (s->is_sock && cask__net_ring()) {
        ssize_t r = cask__ring_recv(s->fd, buf, n, 0);
        if (s->closed)
            return -ENOTCONN;
        if (r != -ENOSYS)
            return r;
    }
    return read_once(s, buf, n);
}

/* Reads more into the buffer, waiting if needed. Returns the count, 0 at EOF, or an error. */
static ssize_t fill(struct cask_stream *s, size_t want)
{
    if (s->eof)
        return 0;
    if (s->rerr)
        return s->rerr;
    /* the multishot receive fills buf (once armed, also for a compact task: nothing else may
     * read the socket then) */
    if (cask__rx_armed(s) || (s->is_sock && !s->no_rx && cask__net_ring())) {
        ssize_t r = cask__rx_fill(s, NULL, 0);
        if (r != -ENOSYS)
            return r; /* appended (> 0), EOF (0, s->eof set), or an error (in s->rerr) */
    }
    int rc = reserve(s, want);
    if (rc)
        return rc;
    for (;;) {
        ssize_t r = read_some(s, s->buf + s->end, s->cap - s->end);
        if (r > 0) {
            s->end += (size_t)r;
            return r;
        }
        if (r == 0) {
            s->eof = true;
            return 0;
        }
        if (r == -EINTR)
            continue;
        if (r == -ECANCELED || r == -ENOTCONN)
            return r; /* a cancelled file or ring read took nothing: the stream stays as it was */
        if (r != -EAGAIN) {
            s->rerr = (int)r;
            return r;
        }
        if ((rc = wait_io(s, CASK_READABLE)))
            return rc;
    }
}

static void take(struct cask_stream *s, void *dst, size_t n)
{
    memcpy(dst, s->buf + s->start, n);
    s->start += n;
    if (s->start == s->end)
        s->start = s->end = 0;
}

/* ---- reading ---- */

ssize_t cask_stream_read(cask_stream *s, void *buf, size_t n)
{
    int rc = enter(s, &s->reading);
    if (rc)
        return rc;
    ssize_t r = 0;
    if (n == 0)
        goto out;
    size_t have = s->end - s->start;
    bool rx = cask__rx_armed(s);
    bool compact = cask__self()->cx; /* the multishot receive cannot copy into its stack */
    if (!have && !s->eof && !s->rerr && n >= DIRECT_READ && !(rx && compact)) {
        /* nothing buffered and a large request: read straight into the caller's buffer */
        /* (on the ring: a single receive into buf, no copy; or, when the stream's multishot
         * receive is armed already, its first arrival, copied) */
        r = -ENOSYS;
        if (rx)
            r = cask__rx_fill(s, buf, n);
        while (r == -ENOSYS) {
            for (;;) {
                r = read_some(s, buf, n);
                if (r == 0)
                    s->eof = true;
                if (r != -EAGAIN && r != -EINTR)
                    break;
                if (r == -EAGAIN && (r = wait_io(s, CASK_READABLE)))
                    break;
            }
        }
        if (r < 0 && r != -ECANCELED && r != -ENOTCONN && r != -EBUSY && r != -ENOMEM)
            s->rerr = (int)r;
        goto out;
    }
    if (!have) {
        r = fill(s, 0);
        if (r <= 0)
            goto out;
        have = s->end - s->start;
    }
    r = (ssize_t)(have < n ? have : n);
    take(s, buf, (size_t)r);
out:
    leave(s, &s->reading);
    return r;
}

ssize_t cask_stream_readexactly(cask_stream *s, void *buf, size_t n, size_t *partial)
{
    if (partial)
        *partial = 0;
    int rc = enter(s, &s->reading);
    if (rc)
        return rc;
    ssize_t r;
    while (s->end - s->start < n) {
        r = fill(s, n);
        if (r == 0) { /* EOF first: hand back what came */
            size_t k = s->end - s->start;
            take(s, buf, k);
            if (partial)
                *partial = k;
            r = -EPROTO;
        }
        if (r <= 0)
            goto out;
    }
    take(s, buf, n);
    r = (ssize_t)n;
out:
    leave(s, &s->reading);
    return r;
}

/*
 * The separator search of asyncio's readuntil. Returns the chunk length through the separator
 * (> 0), or -EMSGSIZE with *sep_at set (the separator's offset, or SIZE_MAX when it was not
 * found and too much is buffered), -EPROTO at EOF, or a read error.
 */
static ssize_t find_sep(struct cask_stream *s, const char *sep, size_t seplen, size_t limit,
                        size_t *sep_at)
{
    size_t offset = 0;
    *sep_at = SIZE_MAX;
    for (;;) {
        size_t len = s->end - s->start;
        if (len >= offset + seplen) {
            const char *base = s->buf + s->start;
            const char *hit = seplen == 1 ? memchr(base + offset, sep[0], len - offset)
                                          : memmem(base + offset, len - offset, sep, seplen);
            if (hit) {
                size_t isep = (size_t)(hit - base);
                if (isep > limit) {
                    *sep_at = isep;
                    return -EMSGSIZE;
                }
                return (ssize_t)(isep + seplen);
            }
            offset = len + 1 - seplen;
            if (offset > limit)
                return -EMSGSIZE;
        }
        ssize_t r = fill(s, limit + seplen);
        if (r == 0)
            return -EPROTO;
        if (r < 0)
            return r;
    }
}

ssize_t cask_stream_readuntil(cask_stream *s, const void *sep, size_t seplen, char *buf, size_t cap,
                              size_t *partial)
{
    if (partial)
        *partial = 0;
    if (!sep || seplen == 0 || cap < seplen)
        return -EINVAL;
    int rc = enter(s, &s->reading);
    if (rc)
        return rc;
    size_t limit = s->limit < cap - seplen ? s->limit : cap - seplen;
    size_t at;
    ssize_t r = find_sep(s, sep, seplen, limit, &at);
    if (r > 0) {
        take(s, buf, (size_t)r);
    } else if (r == -EPROTO) {
        size_t k = s->end - s->start; /* k < limit + seplen <= cap */
        take(s, buf, k);
        if (partial)
            *partial = k;
    }
    leave(s, &s->reading);
    return r;
}

ssize_t cask_stream_readline(cask_stream *s, char *buf, size_t cap)
{
    if (!buf || cap < 2)
        return -EINVAL;
    int rc = enter(s, &s->reading);
    if (rc)
        return rc;
    size_t limit = s->limit < cap - 1 ? s->limit : cap - 1;
    size_t at;
    ssize_t r = find_sep(s, "\n", 1, limit, &at);
    if (r > 0) {
        take(s, buf, (size_t)r);
    } else if (r == -EPROTO) { /* EOF: the last unterminated piece (maybe empty) */
        r = (ssize_t)(s->end - s->start);
        take(s, buf, (size_t)r);
    } else if (r == -EMSGSIZE) { /* drop the over-long line as asyncio does */
        if (at != SIZE_MAX)
            s->start += at + 1;
        else
            s->start = s->end;
        if (s->start == s->end)
            s->start = s->end = 0;
    }
    leave(s, &s->reading);
    return r;
}

/* ---- writing ---- */

ssize_t cask_stream_write(cask_stream *s, const void *buf, size_t n)
{
    int rc = enter(s, &s->writing);
    if (rc)
        return rc;
    ssize_t r = s->is_file ? cask_file_write(s->fd, buf, n)
                           : cask__write_all(s->fd, s->is_sock, buf, n, &s->closed);
    leave(s, &s->writing);
    return r;
}

ssize_t cask_stream_writev(cask_stream *s, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    int rc = enter(s, &s->writing);
    if (rc)
        return rc;
    struct iovec local[64];
    size_t total = 0, done = 0;
    ssize_t r = 0;
    int i = 0;
    for (int k = 0; k < iovcnt; k++)
        total += iov[k].iov_len;
    size_t off = 0; /* bytes of iov[i] already sent */
    while (done < total) {
        int cnt = 0;
        for (int k = i; k < iovcnt && cnt < 64; k++, cnt++) {
            local[cnt] = iov[k];
            if (k == i) {
                local[cnt].iov_base = (char *)iov[k].iov_base + off;
                local[cnt].iov_len -= off;
            }
        }
        r = s->is_file ? cask_file_writev(s->fd, local, cnt, -1)
                       : cask__writev_once(s->fd, s->is_sock, local, cnt);
        if (r >= 0) {
            size_t left = (size_t)r;
            done += left;
            while (left && i < iovcnt) {
                size_t rest = iov[i].iov_len - off;
                if (left >= rest) {
                    left -= rest;
                    i++;
                    off = 0;
                } else {
                    off += left;
                    left = 0;
                }
            }
            while (i < iovcnt && iov[i].iov_len == off) { /* skip empty iovecs */
                i++;
                off = 0;
            }
            continue;
        }
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN && (r = wait_io(s, CASK_WRITABLE)) == 0)
            continue;
        break;
    }
    leave(s, &s->writing);
    return done || total == 0 ? (ssize_t)done : r;
}

int cask_stream_flush(cask_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->closed)
        return -ENOTCONN;
    cask_task *t = cask__self();
    if (t && cask__cancelled(t))
        return cask__cancel_now(t);
    return 0;
}

int cask_stream_shutdown(cask_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->closed)
        return -ENOTCONN;
    if (!s->is_sock)
        return -ENOTSOCK;
    return shutdown(s->fd, SHUT_WR) == 0 ? 0 : -errno;
}

/* test_stream.c: buffered streams (CONFORMANCE ST1-ST4), writev, half-close, close while
 * another task is blocked, streams over pipes. Streams sit on socketpairs or real TCP. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void pair(int sv[2])
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void put(int fd, const char *s)
{
    CHECK_EQ(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* ST1: limit 8, "abc\ndefghijklmnop\nxy": "abc\n", then -EMSGSIZE dropping the long line. */
static int st1_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    struct cask_stream_opts o = {.limit = 8};
    CHECK_EQ(cask_stream_open(&s, sv[0], &o), 0);
    put(sv[1], "abc\ndefghijklmnop\nxy");
    close(sv[1]);
    char line[64];
    ssize_t n = cask_stream_readline(s, line, sizeof line);
    CHECK_EQ(n, 4);
    CHECK(!memcmp(line, "abc\n", 4));
    CHECK_EQ(cask_stream_readline(s, line, sizeof line), -EMSGSIZE);
    n = cask_stream_readline(s, line, sizeof line);
    CHECK_EQ(n, 2);
    CHECK(!memcmp(line, "xy", 2));
    CHECK_EQ(cask_stream_readline(s, line, sizeof line), 0);
    CHECK(cask_stream_at_eof(s));
    cask_stream_free(s);
    return 0;
}
TEST(st1_readline_limit_drops_long_line) { CHECK_EQ(cask_run(st1_main, NULL), 0); }

/* ST1: readuntil over the limit fails and leaves the buffer intact. */
static int st1b_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    struct cask_stream_opts o = {.limit = 8};
    CHECK_EQ(cask_stream_open(&s, sv[0], &o), 0);
    put(sv[1], "defghijklmnop\r\nxy");
    char buf[64];
    size_t partial = 99;
    CHECK_EQ(cask_stream_readuntil(s, "\r\n", 2, buf, sizeof buf, &partial), -EMSGSIZE);
    CHECK_EQ(partial, 0);
    CHECK_EQ(cask_stream_buffered(s), 17);
    CHECK_EQ(cask_stream_readexactly(s, buf, 15, NULL), 15);
    CHECK(!memcmp(buf, "defghijklmnop\r\n", 15));
    /* within the limit, with the separator split across reads */
    put(sv[1], "12345\r");
    put(sv[1], "\nrest");
    CHECK_EQ(cask_stream_readuntil(s, "\r\n", 2, buf, sizeof buf, NULL), 9);
    CHECK(!memcmp(buf, "xy12345\r\n", 9));
    close(sv[1]);
    CHECK_EQ(cask_stream_readuntil(s, "\r\n", 2, buf, sizeof buf, &partial), -EPROTO);
    CHECK_EQ(partial, 4);
    CHECK(!memcmp(buf, "rest", 4));
    /* no separator and more than the limit buffered: fails, buffer intact */
    cask_stream_free(s);
    pair(sv);
    CHECK_EQ(cask_stream_open(&s, sv[0], &o), 0);
    put(sv[1], "0123456789abcdef");
    CHECK_EQ(cask_stream_readuntil(s, "\n", 1, buf, sizeof buf, NULL), -EMSGSIZE);
    CHECK_EQ(cask_stream_buffered(s), 16);
    close(sv[1]);
    cask_stream_free(s);
    return 0;
}
TEST(st1_readuntil_limit_keeps_buffer) { CHECK_EQ(cask_run(st1b_main, NULL), 0); }

/* ST2: readexactly(5) on "abc" then EOF: -EPROTO handing back the 3 bytes; read gives 0. */
static int st2_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    put(sv[1], "abc");
    close(sv[1]);
    char buf[8] = {0};
    size_t partial = 0;
    CHECK_EQ(cask_stream_readexactly(s, buf, 5, &partial), -EPROTO);
    CHECK_EQ(partial, 3);
    CHECK(!memcmp(buf, "abc", 3));
    CHECK_EQ(cask_stream_read(s, buf, sizeof buf), 0);
    CHECK_EQ(cask_stream_read(s, buf, sizeof buf), 0);
    cask_stream_free(s);
    return 0;
}
TEST(st2_readexactly_short) { CHECK_EQ(cask_run(st2_main, NULL), 0); }

/* ST3: writing 1 MB to a peer that never reads suspends the writer; memory stays bounded. */
static char big[1 << 20];
static int st3_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    long live = ct_allocs_live();
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.2), 0);
    ssize_t n = cask_stream_write(s, big, sizeof big);
    CHECK_EQ(cask_scope_close(&sc, n < 0 ? (int)n : 0), 0);
    CHECK(n > 0 && n < (ssize_t)sizeof big); /* a short count: how much the kernel took */
    /* nothing was buffered in user space: at most the loop's fd table and timer heap grew */
    CHECK(ct_allocs_live() - live <= 2);
    /* the peer now reads: exactly n bytes arrive, no more */
    cask_stream_shutdown(s);
    size_t got = 0;
    static char tmp[65536];
    for (;;) {
        ssize_t r = read(sv[1], tmp, sizeof tmp);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0)
            break;
        CHECK(errno == EAGAIN);
        CHECK_EQ(cask_wait_fd(sv[1], CASK_READABLE) > 0, 1);
    }
    CHECK_EQ(got, (size_t)n);
    cask_close(sv[1]);
    cask_stream_free(s);
    return 0;
}
TEST(st3_write_suspends_bounded) { CHECK_EQ(cask_run(st3_main, NULL), 0); }

/* ST4: a read cancelled mid-way loses no byte. */
struct st4 {
    cask_stream *s;
    char line[64];
    ssize_t n;
};
static int st4_reader(void *arg)
{
    struct st4 *r = arg;
    r->n = cask_stream_readline(r->s, r->line, sizeof r->line);
    return r->n < 0 ? (int)r->n : 0;
}
static int st4_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    struct st4 r = {0};
    CHECK_EQ(cask_stream_open(&r.s, sv[0], NULL), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, st4_reader, &r), 0);
    put(sv[1], "hel");
    CHECK_EQ(cask_sleep(0.02), 0);
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_join(t), -ECANCELED);
    cask_release(t);
    CHECK_EQ(cask_stream_buffered(r.s), 3);
    put(sv[1], "lo\nworld");
    /* readexactly cancelled by a deadline, then completed */
    char buf[16];
    CHECK_EQ(cask_stream_readline(r.s, buf, sizeof buf), 6);
    CHECK(!memcmp(buf, "hello\n", 6));
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.05), 0);
    ssize_t n = cask_stream_readexactly(r.s, buf, 10, NULL);
    CHECK_EQ(cask_scope_close(&sc, (int)n), -ETIMEDOUT);
    CHECK_EQ(cask_stream_buffered(r.s), 5);
    put(sv[1], "12345");
    CHECK_EQ(cask_stream_readexactly(r.s, buf, 10, NULL), 10);
    CHECK(!memcmp(buf, "world12345", 10));
    /* a cancelled write: nothing taken (cancelled before) */
    CHECK(cask_cancel(cask_current()));
    CHECK_EQ(cask_stream_write(r.s, "x", 1), -ECANCELED);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    CHECK_EQ(read(sv[1], buf, sizeof buf), -1);
    close(sv[1]);
    cask_stream_free(r.s);
    return 0;
}
TEST(st4_cancelled_read_loses_nothing) { CHECK_EQ(cask_run(st4_main, NULL), 0); }

/* writev gathers, half-close gives the peer EOF while reading goes on. */
static int writev_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *a, *b;
    CHECK_EQ(cask_stream_open(&a, sv[0], NULL), 0);
    CHECK_EQ(cask_stream_open(&b, sv[1], NULL), 0);
    struct iovec iov[3] = {{"GET ", 4}, {"", 0}, {"/x\n", 3}};
    CHECK_EQ(cask_stream_writev(a, iov, 3), 7);
    CHECK_EQ(cask_stream_shutdown(a), 0);
    char buf[32];
    CHECK_EQ(cask_stream_readline(b, buf, sizeof buf), 7);
    CHECK(!memcmp(buf, "GET /x\n", 7));
    CHECK_EQ(cask_stream_read(b, buf, sizeof buf), 0);
    CHECK_EQ(cask_stream_write(b, "bye", 3), 3);
    CHECK_EQ(cask_stream_close(b), 0);
    CHECK_EQ(cask_stream_readexactly(a, buf, 3, NULL), 3);
    CHECK_EQ(cask_stream_read(a, buf, sizeof buf), 0);
    CHECK_EQ(cask_stream_read(b, buf, sizeof buf), -ENOTCONN);
    CHECK_EQ(cask_stream_flush(a), 0);
    cask_stream_free(a);
    cask_stream_free(b);
    return 0;
}
TEST(stream_writev_and_half_close) { CHECK_EQ(cask_run(writev_main, NULL), 0); }

/* Large reads and readexactly bigger than the initial buffer; a stream over a pipe. */
static int pipe_writer(void *arg)
{
    cask_stream *w = arg;
    CHECK_EQ(cask_stream_write(w, big, sizeof big), (ssize_t)sizeof big);
    cask_stream_free(w);
    return 0;
}
static int pipe_main(void *arg)
{
    (void)arg;
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    cask_stream *r, *w;
    CHECK_EQ(cask_stream_open(&r, p[0], NULL), 0);
    CHECK_EQ(cask_stream_open(&w, p[1], NULL), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, pipe_writer, w), 0);
    static char got[1 << 20];
    CHECK_EQ(cask_stream_readexactly(r, got, 300000, NULL), 300000);
    size_t n = 300000;
    while (n < sizeof got) {
        ssize_t k = cask_stream_read(r, got + n, sizeof got - n);
        CHECK(k > 0);
        n += (size_t)k;
    }
    CHECK(!memcmp(got, big, sizeof big));
    CHECK_EQ(cask_stream_read(r, got, 10), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    cask_stream_free(r);
    return 0;
}
TEST(stream_over_pipe_large) { CHECK_EQ(cask_run(pipe_main, NULL), 0); }

/* Writing to a closed pipe gives -EPIPE, not SIGPIPE. */
static int epipe_main(void *arg)
{
    (void)arg;
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    cask_stream *w;
    CHECK_EQ(cask_stream_open(&w, p[1], NULL), 0);
    close(p[0]);
    CHECK_EQ(cask_stream_write(w, "x", 1), -EPIPE);
    cask_stream_free(w);
    int sv[2];
    pair(sv);
    CHECK_EQ(cask_stream_open(&w, sv[0], NULL), 0);
    close(sv[1]);
    CHECK_EQ(cask_stream_write(w, "x", 1), -EPIPE);
    cask_stream_free(w);
    return 0;
}
TEST(stream_epipe_no_signal) { CHECK_EQ(cask_run(epipe_main, NULL), 0); }

/* Closing a stream wakes a task blocked reading it; free waits for it to leave. */
static int blocked_reader(void *arg)
{
    char buf[8];
    ssize_t n = cask_stream_read(arg, buf, sizeof buf);
    ct_log("reader %s", cask_errname((int)n));
    return 0;
}
static int close_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, blocked_reader, s), 0);
    CHECK_EQ(cask_sleep(0.01), 0);
    CHECK_EQ(cask_stream_read(s, NULL, 0), -EBUSY);
    cask_stream_free(s);
    ct_log("freed");
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_LOG("reader ENOTCONN,freed");
    close(sv[1]);
    return 0;
}
TEST(stream_close_wakes_blocked) { CHECK_EQ(cask_run(close_main, NULL), 0); }

/* Allocation failures: open and the first read buffer. */
static int enomem_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), -ENOMEM);
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    put(sv[1], "line\n");
    char buf[16];
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_stream_readline(s, buf, sizeof buf), -ENOMEM);
    CHECK_EQ(cask_stream_readline(s, buf, sizeof buf), 5);
    close(sv[1]);
    cask_stream_free(s);
    return 0;
}
TEST(stream_enomem) { CHECK_EQ(cask_run(enomem_main, NULL), 0); }

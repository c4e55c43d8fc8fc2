/* test_uring_net.c: the network on io_uring (cask_config.net = "ring"): selection and
 * statistics, echo round trips over many connections, cancelled reads that lose no byte,
 * cancelled writes that say what they wrote, cancelled accepts, peer resets, EOF, closing a
 * stream or an fd under a blocked call, large transfers with checksums, and the multishot
 * accept: bursts with peer addresses, cancelled accepts losing no connection, its bounded
 * queue, queued connections closed with the listener and at the loop's end (no fd leaks), and
 * running out of fds (the error reaches the task; a server backs off). Real sockets on
 * 127.0.0.1 (and socketpairs). Where the loop cannot run the ring (the epoll backend, a
 * kernel without io_uring) the same tests run on readiness and must pass the same way. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int run_ring(cask_fn fn, void *arg)
{
    struct cask_config cfg = {.net = "ring"};
    return cask_run_with(fn, arg, &cfg);
}

/* The loop runs the ring path whenever its backend is io_uring. */
static void check_ring_selected(void)
{
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    if (!strcmp(st.backend, "io_uring"))
        CHECK_STR(st.net, "ring");
    else
        CHECK_STR(st.net, "ready");
}

static void pair(int sv[2])
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* ---- selection ---- */

static int stats_main(void *arg)
{
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    CHECK_STR(st.net, (const char *)arg);
    return 0;
}

TEST(net_ring_selection)
{
    struct cask_config cfg = {.backend = "epoll", .net = "ring"};
    CHECK_EQ(cask_run_with(stats_main, "ready", &cfg), 0); /* epoll has no ring */
    cfg.net = "ready";
    CHECK_EQ(cask_run_with(stats_main, "ready", &cfg), 0);
    cfg.net = "rings";
    CHECK_EQ(cask_run_with(stats_main, "ready", &cfg), -EINVAL);
    cfg.backend = "io_uring";
    cfg.net = "ring";
    int rc = cask_run_with(stats_main, "ring", &cfg);
    /* io_uring not built in, not in this kernel or emulator, or not allowed here */
    if (rc != -ENOSYS && rc != -EPERM && rc != -ENOMEM)
        CHECK_EQ(rc, 0);
}

/* ---- echo through a server, many connections ---- */

static int echo_handler(cask_stream *s, void *arg)
{
    (void)arg;
    char buf[8192];
    for (;;) {
        ssize_t n = cask_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return 0;
        if (cask_stream_write(s, buf, (size_t)n) != n)
            return 0;
    }
}

struct echo_client {
    uint16_t port;
    int id;
    int rounds;
};

static int echo_client_main(void *arg)
{
    struct echo_client *c = arg;
    cask_stream *s;
    CHECK_EQ(cask_open_connection(&s, "127.0.0.1", c->port), 0);
    char out[3000], in[3000];
    for (int r = 0; r < c->rounds; r++) {
        size_t len = 1 + (size_t)((c->id * 131 + r * 977) % (int)sizeof out);
        for (size_t i = 0; i < len; i++)
            out[i] = (char)(c->id + r + i);
        CHECK_EQ(cask_stream_write(s, out, len), (ssize_t)len);
        CHECK_EQ(cask_stream_readexactly(s, in, len, NULL), (ssize_t)len);
        CHECK(!memcmp(in, out, len));
    }
    cask_stream_free(s);
    return 0;
}

#define ECHO_CONNS 64
static int echo_main(void *arg)
{
    (void)arg;
    check_ring_selected();
    cask_server *srv;
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, echo_handler, NULL, NULL), 0);
    struct echo_client cl[ECHO_CONNS];
    cask_task *t[ECHO_CONNS];
    for (int i = 0; i < ECHO_CONNS; i++) {
        cl[i] = (struct echo_client){cask_server_port(srv), i, 50};
        CHECK_EQ(cask_spawn(&t[i], echo_client_main, &cl[i]), 0);
    }
    for (int i = 0; i < ECHO_CONNS; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
    CHECK_EQ(cask_server_accepted(srv), ECHO_CONNS);
    CHECK_EQ(cask_server_close(srv, 1.0), 0);
    return 0;
}
TEST(net_ring_echo_many_connections) { CHECK_EQ(run_ring(echo_main, NULL), 0); }

/* ---- cancelled reads lose no byte ---- */

#define SEQ_N 20000
static int seq_writer(void *arg)
{
    int fd = *(int *)arg;
    uint32_t chunk[37];
    uint32_t next = 0;
    while (next < SEQ_N) {
        size_t k = 1 + next % 37;
        if (k > SEQ_N - next)
            k = SEQ_N - next;
        for (size_t i = 0; i < k; i++)
            chunk[i] = next + (uint32_t)i;
        CHECK_EQ(cask_send_all(fd, chunk, k * 4), (ssize_t)(k * 4));
        next += (uint32_t)k;
        if (next % 5 == 0)
            CHECK_EQ(cask_sleep(0), 0);
    }
    shutdown(fd, SHUT_WR);
    return 0;
}

/* A reader whose every read has a deadline short enough to fire while data is arriving: the
 * sequence read back must be complete, in order, without a duplicate. */
static int cancel_read_main(void *arg)
{
    (void)arg;
    check_ring_selected();
    int sv[2];
    pair(sv);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    cask_task *w;
    CHECK_EQ(cask_spawn(&w, seq_writer, &sv[1]), 0);
    uint32_t expect = 0;
    int cancelled = 0;
    while (expect < SEQ_N) {
        uint32_t v[16];
        cask_scope sc;
        CHECK_EQ(cask_move_on_open(&sc, 0.00002), 0);
        ssize_t n = cask_stream_read(s, v, sizeof v);
        cask_scope_close(&sc, 0);
        if (n == -ECANCELED) {
            cancelled++;
            continue;
        }
        CHECK(n > 0);
        /* whole values only come out of the buffer: the rest waits for the next read */
        size_t have = (size_t)n;
        if (have % 4) { /* complete the value */
            size_t rest = 4 - have % 4;
            CHECK_EQ(cask_stream_readexactly(s, (char *)v + have, rest, NULL), (ssize_t)rest);
            have += rest;
        }
        for (size_t i = 0; i < have / 4; i++)
            CHECK_EQ(v[i], expect++);
    }
    char c;
    CHECK_EQ(cask_stream_read(s, &c, 1), 0);
    CHECK_EQ(cask_join(w), 0);
    cask_release(w);
    /* how many depends on timing; the sequence check is what matters */
    fprintf(stderr, "  %d of the reads were cancelled\n", cancelled);
    cask_stream_free(s);
    close(sv[1]);
    return 0;
}
TEST(net_ring_cancelled_reads_lose_nothing) { CHECK_EQ(run_ring(cancel_read_main, NULL), 0); }

/* The same with the unbuffered cask_recv: a cancelled call returns -ECANCELED having taken
 * nothing, or the bytes it took. */
static int cancel_recv_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_task *w;
    CHECK_EQ(cask_spawn(&w, seq_writer, &sv[1]), 0);
    uint32_t expect = 0;
    unsigned char part[4];
    size_t have = 0;
    for (;;) {
        unsigned char buf[61]; /* not a multiple of 4: values straddle calls */
        cask_scope sc;
        CHECK_EQ(cask_move_on_open(&sc, 0.00002), 0);
        ssize_t n = cask_recv(sv[0], buf, sizeof buf, 0);
        cask_scope_close(&sc, 0);
        if (n == -ECANCELED)
            continue;
        CHECK(n >= 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            part[have++] = buf[i];
            if (have == 4) {
                uint32_t v;
                memcpy(&v, part, 4);
                CHECK_EQ(v, expect++);
                have = 0;
            }
        }
    }
    CHECK_EQ(expect, SEQ_N);
    CHECK_EQ(have, 0);
    CHECK_EQ(cask_join(w), 0);
    cask_release(w);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
TEST(net_ring_cancelled_recv_loses_nothing) { CHECK_EQ(run_ring(cancel_recv_main, NULL), 0); }

/* A read blocked with nothing to read, cancelled: -ECANCELED, and bytes that come later are
 * read by the next call. */
static int cancel_idle_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    char buf[64];
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.02), 0);
    CHECK_EQ(cask_stream_read(s, buf, sizeof buf), -ECANCELED);
    CHECK(cask_scope_close(&sc, 0) == 0);
    CHECK_EQ(write(sv[1], "later", 5), 5);
    CHECK_EQ(cask_stream_read(s, buf, sizeof buf), 5);
    CHECK(!memcmp(buf, "later", 5));
    cask_stream_free(s);
    close(sv[1]);
    return 0;
}
TEST(net_ring_cancelled_idle_read) { CHECK_EQ(run_ring(cancel_idle_main, NULL), 0); }

/* ---- a cancelled write says what it wrote ---- */

static int cancel_write_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    int small = 4096;
    CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    size_t n = 4 << 20;
    unsigned char *big = malloc(n);
    CHECK(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 7 + (i >> 13));
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.05), 0);
    ssize_t w = cask_stream_write(s, big, n); /* nobody reads: it stops part way */
    cask_scope_close(&sc, 0);
    CHECK(w > 0 && (size_t)w < n);
    /* the peer gets exactly the w bytes the call reported, in order */
    unsigned char *got = malloc((size_t)w + 1);
    CHECK(got);
    size_t have = 0;
    for (;;) {
        ssize_t r = read(sv[1], got + have, (size_t)w + 1 - have);
        if (r < 0) {
            CHECK_EQ(errno, EAGAIN);
            break;
        }
        have += (size_t)r;
        CHECK(have <= (size_t)w);
    }
    CHECK_EQ(have, w);
    CHECK(!memcmp(got, big, have));
    /* the stream goes on: the rest is written and arrives after it */
    CHECK_EQ(cask_stream_write(s, big + w, 100), 100);
    CHECK_EQ(read(sv[1], got, 100), 100);
    CHECK(!memcmp(got, big + w, 100));
    free(got);
    free(big);
    cask_stream_free(s);
    close(sv[1]);
    return 0;
}
TEST(net_ring_cancelled_write_says_what_it_wrote) { CHECK_EQ(run_ring(cancel_write_main, NULL), 0); }

/* ---- accept ---- */

static int connect_later(void *arg)
{
    uint16_t port = (uint16_t)(uintptr_t)arg;
    CHECK_EQ(cask_sleep(0.01), 0);
    int fd = cask_tcp_connect("127.0.0.1", port);
    CHECK(fd >= 0);
    CHECK_EQ(cask_send_all(fd, "x", 1), 1);
    char c;
    CHECK_EQ(cask_recv(fd, &c, 1, 0), 0); /* the server closes */
    cask_close(fd);
    return 0;
}

static int accept_main(void *arg)
{
    (void)arg;
    check_ring_selected();
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(lfd, &a), 0);
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.02), 0);
    CHECK_EQ(cask_accept(lfd, NULL), -ECANCELED);
    cask_scope_close(&sc, 0);
    /* the listener works on, and a blocked accept completes */
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, connect_later, (void *)(uintptr_t)cask_addr_port(&a)), 0);
    struct cask_addr peer;
    int fd = cask_accept(lfd, &peer);
    CHECK(fd >= 0);
    CHECK_EQ(peer.u.sa.sa_family, AF_INET);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    char c;
    CHECK_EQ(cask_recv(fd, &c, 1, 0), 1);
    CHECK_EQ(c, 'x');
    cask_close(fd);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    /* a closed listener: -EBADF */
    cask_close(lfd);
    CHECK_EQ(cask_accept(lfd, NULL), -EBADF);
    return 0;
}
TEST(net_ring_accept_cancelled) { CHECK_EQ(run_ring(accept_main, NULL), 0); }

static int accept_blocked(void *arg)
{
    int lfd = *(int *)arg;
    return cask_accept(lfd, NULL);
}

static int accept_close_main(void *arg)
{
    (void)arg;
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, accept_blocked, &lfd), 0);
    CHECK_EQ(cask_sleep(0.01), 0);
    CHECK_EQ(cask_close(lfd), 0);
    CHECK_EQ(cask_join(t), -EBADF);
    cask_release(t);
    return 0;
}
TEST(net_ring_close_under_accept) { CHECK_EQ(run_ring(accept_close_main, NULL), 0); }

/* ---- closing under a blocked read ---- */

static int blocked_reader(void *arg)
{
    cask_stream *s = arg;
    char buf[16];
    return (int)cask_stream_read(s, buf, sizeof buf);
}

static int blocked_recv(void *arg)
{
    int fd = *(int *)arg;
    char buf[16];
    return (int)cask_recv(fd, buf, sizeof buf, 0);
}

static int blocked_writer(void *arg)
{
    cask_stream *s = arg;
    size_t n = 1 << 22;
    char *big = calloc(1, n);
    CHECK(big);
    ssize_t w = cask_stream_write(s, big, n);
    free(big);
    return (int)w;
}

static int close_under_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, blocked_reader, s), 0);
    CHECK_EQ(cask_sleep(0.01), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_stream_close(s), 0);
    CHECK_EQ(cask_join(t), -ENOTCONN);
    CHECK(cask_time() - t0 < 1.0);
    cask_release(t);
    cask_stream_free(s);
    close(sv[1]);

    /* a write blocked on a full socket: closing the stream ends it with what it sent */
    pair(sv);
    int small = 4096;
    CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    CHECK_EQ(cask_spawn(&t, blocked_writer, s), 0);
    CHECK_EQ(cask_sleep(0.02), 0);
    CHECK_EQ(cask_stream_close(s), 0);
    int w = cask_join(t);
    CHECK(w == -ENOTCONN || (w > 0 && w < (1 << 22)));
    cask_release(t);
    cask_stream_free(s);
    close(sv[1]);

    pair(sv);
    CHECK_EQ(cask_spawn(&t, blocked_recv, &sv[0]), 0);
    CHECK_EQ(cask_sleep(0.01), 0);
    CHECK_EQ(cask_close(sv[0]), 0);
    CHECK_EQ(cask_join(t), -EBADF);
    cask_release(t);
    close(sv[1]);
    return 0;
}
TEST(net_ring_close_under_read) { CHECK_EQ(run_ring(close_under_main, NULL), 0); }

/* ---- peer reset and EOF ---- */

static int reset_main(void *arg)
{
    (void)arg;
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(lfd, &a), 0);
    cask_stream *c;
    CHECK_EQ(cask_open_connection(&c, "127.0.0.1", cask_addr_port(&a)), 0);
    int sfd = cask_accept(lfd, NULL);
    CHECK(sfd >= 0);
    /* EOF first: a half-close reads as 0 after the data */
    cask_stream *srv;
    CHECK_EQ(cask_stream_open(&srv, sfd, NULL), 0);
    CHECK_EQ(cask_stream_write(c, "bye", 3), 3);
    CHECK_EQ(cask_stream_shutdown(c), 0);
    char buf[16];
    CHECK_EQ(cask_stream_readexactly(srv, buf, 3, NULL), 3);
    CHECK_EQ(cask_stream_read(srv, buf, sizeof buf), 0);
    CHECK(cask_stream_at_eof(srv));
    /* then a reset: the client's blocked read fails with -ECONNRESET, writes fail too */
    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    cask_stream_free(srv);
    CHECK_EQ(cask_stream_read(c, buf, sizeof buf), -ECONNRESET);
    ssize_t w = cask_stream_write(c, "x", 1);
    CHECK(w == -EPIPE || w == -ECONNRESET);
    cask_stream_free(c);
    cask_close(lfd);
    return 0;
}
TEST(net_ring_peer_reset_and_eof) { CHECK_EQ(run_ring(reset_main, NULL), 0); }

/* ---- large transfers with checksums, both directions at once ---- */

#define BIG ((size_t)24 << 20)
struct big_side {
    cask_stream *s;
    uint64_t seed;
    uint64_t sent_sum, got_sum;
    size_t got;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    return x;
}

static int big_sender(void *arg)
{
    struct big_side *b = arg;
    enum { CHUNK = 100000 };
    unsigned char *chunk = malloc(CHUNK); /* the kernel reads it while the task waits */
    CHECK(chunk);
    size_t done = 0;
    uint64_t h = 1469598103934665603ull;
    for (uint64_t k = 0; done < BIG; k++) {
        size_t len = 1 + mix(b->seed + k) % CHUNK;
        if (len > BIG - done)
            len = BIG - done;
        for (size_t i = 0; i < len; i++) {
            chunk[i] = (unsigned char)mix(b->seed ^ (done + i));
            h = (h ^ chunk[i]) * 1099511628211ull;
        }
        CHECK_EQ(cask_stream_write(b->s, chunk, len), (ssize_t)len);
        done += len;
    }
    free(chunk);
    b->sent_sum = h;
    CHECK_EQ(cask_stream_shutdown(b->s), 0);
    return 0;
}

static int big_receiver(void *arg)
{
    struct big_side *b = arg;
    enum { BUF = 70000 };
    unsigned char *buf = malloc(BUF);
    CHECK(buf);
    uint64_t h = 1469598103934665603ull;
    for (;;) {
        size_t want = 1 + mix(b->got) % BUF;
        ssize_t n = cask_stream_read(b->s, buf, want);
        CHECK(n >= 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
        b->got += (size_t)n;
    }
    free(buf);
    b->got_sum = h;
    return 0;
}

static int big_main(void *arg)
{
    (void)arg;
    check_ring_selected();
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(lfd, &a), 0);
    struct big_side x = {.seed = 11}, y = {.seed = 29};
    CHECK_EQ(cask_open_connection(&x.s, "127.0.0.1", cask_addr_port(&a)), 0);
    int sfd = cask_accept(lfd, NULL);
    CHECK(sfd >= 0);
    CHECK_EQ(cask_stream_open(&y.s, sfd, NULL), 0);
    cask_task *t[4];
    CHECK_EQ(cask_spawn(&t[0], big_sender, &x), 0);
    CHECK_EQ(cask_spawn(&t[1], big_sender, &y), 0);
    CHECK_EQ(cask_spawn(&t[2], big_receiver, &x), 0);
    CHECK_EQ(cask_spawn(&t[3], big_receiver, &y), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(cask_join(t[i]), 0);
        cask_release(t[i]);
    }
    CHECK_EQ(x.got, BIG);
    CHECK_EQ(y.got, BIG);
    CHECK(x.got_sum == y.sent_sum);
    CHECK(y.got_sum == x.sent_sum);
    cask_stream_free(x.s);
    cask_stream_free(y.s);
    cask_close(lfd);
    return 0;
}
TEST_T(net_ring_large_transfers_checksummed, 60) { CHECK_EQ(run_ring(big_main, NULL), 0); }

/* ---- the multishot receive keeps a stream's arrivals, bounded ---- */

static int bulk_writer(void *arg)
{
    int fd = *(int *)arg;
    uint32_t v[1024];
    for (uint32_t k = 0; k < 2048; k++) { /* 8 MiB of counting words */
        for (uint32_t i = 0; i < 1024; i++)
            v[i] = k * 1024 + i;
        CHECK_EQ(cask_send_all(fd, v, sizeof v), (ssize_t)sizeof v);
    }
    shutdown(fd, SHUT_WR);
    return 0;
}

static int bounded_main(void *arg)
{
    (void)arg;
    check_ring_selected();
    int sv[2];
    pair(sv);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, sv[0], NULL), 0);
    cask_task *w;
    CHECK_EQ(cask_spawn(&w, bulk_writer, &sv[1]), 0);
    uint32_t v0;
    CHECK_EQ(cask_stream_readexactly(s, &v0, 4, NULL), 4);
    CHECK_EQ(v0, 0);
    CHECK_EQ(cask_sleep(0.05), 0); /* nobody reads: arrivals stop at a bound */
    size_t b = cask_stream_buffered(s);
    CHECK(b <= (size_t)4 << 20);
    uint32_t expect = 1;
    unsigned char part[4], buf[2801];
    size_t have = 0;
    for (;;) {
        ssize_t n = cask_stream_read(s, buf, sizeof buf);
        CHECK(n >= 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            part[have++] = buf[i];
            if (have == 4) {
                uint32_t x;
                memcpy(&x, part, 4);
                CHECK_EQ(x, expect++);
                have = 0;
            }
        }
    }
    CHECK_EQ(have, 0);
    CHECK_EQ(expect, 2048 * 1024);
    CHECK_EQ(cask_join(w), 0);
    cask_release(w);
    cask_stream_free(s);
    close(sv[1]);
    return 0;
}
TEST(net_ring_stream_buffer_bounded) { CHECK_EQ(run_ring(bounded_main, NULL), 0); }

/* ---- multishot accept: one armed per listener, connections queued for the next call ---- */

/* The sockets this process holds (other fds come and go with the loop: its ring, ...). */
static int count_sockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[300], t[64];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(p, t, sizeof t - 1);
        n += k > 7 && !memcmp(t, "socket:", 7);
    }
    closedir(d);
    return n;
}

static bool on_ring(void)
{
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    return !strcmp(st.net, "ring");
}

#define BURST 300 /* more than a listener queues (128): the rest waits in the kernel's backlog */
struct burst {
    int lfd;
    uint16_t port;
    uint16_t client_port[BURST]; /* each client's local port, as the server must see it */
    uint16_t peer_port[BURST];
    int accepted;
};

static int burst_acceptor(void *arg)
{
    struct burst *b = arg;
    while (b->accepted < BURST) {
        struct cask_addr peer;
        int fd = cask_accept(b->lfd, &peer);
        CHECK(fd >= 0);
        CHECK_EQ(peer.u.sa.sa_family, AF_INET);
        CHECK_EQ(peer.len, sizeof(struct sockaddr_in));
        char ip[64];
        CHECK(cask_addr_format(&peer, ip, sizeof ip) > 0);
        CHECK(!strncmp(ip, "127.0.0.1:", 10));
        b->peer_port[b->accepted++] = cask_addr_port(&peer);
        CHECK_EQ(cask_close(fd), 0);
    }
    return 0;
}

static int cmp_u16(const void *x, const void *y)
{
    return (int)*(const uint16_t *)x - (int)*(const uint16_t *)y;
}

/* Many connections at once (made without yielding, so they arrive in one burst): every one is
 * accepted once, with its peer's address. */
static int burst_main(void *arg)
{
    (void)arg;
    check_ring_selected();
    static struct burst b;
    memset(&b, 0, sizeof b);
    b.lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(b.lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(b.lfd, &a), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, burst_acceptor, &b), 0);
    CHECK_EQ(cask_sleep(0.01), 0); /* the acceptor waits: its multishot accept is armed */
    static int c[BURST];
    for (int i = 0; i < BURST; i++) {
        c[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(c[i] >= 0);
        CHECK(connect(c[i], &a.u.sa, a.len) == 0 || errno == EINPROGRESS);
        struct cask_addr me;
        CHECK_EQ(cask_sockname(c[i], &me), 0);
        b.client_port[i] = cask_addr_port(&me);
    }
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 10.0), 0);
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    cask_release(t);
    CHECK_EQ(b.accepted, BURST);
    qsort(b.client_port, BURST, sizeof b.client_port[0], cmp_u16);
    qsort(b.peer_port, BURST, sizeof b.peer_port[0], cmp_u16);
    CHECK(!memcmp(b.client_port, b.peer_port, sizeof b.peer_port));
    for (int i = 0; i < BURST; i++)
        close(c[i]);
    CHECK_EQ(cask_close(b.lfd), 0);
    return 0;
}
TEST_T(net_ring_accept_burst_with_peers, 30) { CHECK_EQ(run_ring(burst_main, NULL), 0); }

/* Connections arriving while nobody accepts are taken by the kernel into the listener's queue
 * (on the ring: fds of this process); closing the listener closes them: no fd leaks, and the
 * clients see their connection end. */
static int queued_main(void *arg)
{
    (void)arg;
    int base = count_sockets();
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(lfd, &a), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, connect_later, (void *)(uintptr_t)cask_addr_port(&a)), 0);
    int fd = cask_accept(lfd, NULL); /* arms the multishot accept */
    CHECK(fd >= 0);
    char ch;
    CHECK_EQ(cask_recv(fd, &ch, 1, 0), 1);
    CHECK_EQ(cask_close(fd), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    int with_listener = count_sockets();
    enum { K = 20 };
    int c[K];
    for (int i = 0; i < K; i++) {
        c[i] = cask_tcp_connect("127.0.0.1", cask_addr_port(&a));
        CHECK(c[i] >= 0);
    }
    CHECK_EQ(cask_sleep(0.02), 0);
    int queued = count_sockets() - with_listener - K;
    if (on_ring()) /* the multishot accept took them all already */
        CHECK_EQ(queued, K);
    else /* readiness: they wait in the kernel's backlog */
        CHECK_EQ(queued, 0);
    CHECK_EQ(cask_close(lfd), 0);
    CHECK_EQ(cask_sleep(0.02), 0);
    CHECK_EQ(count_sockets(), base + K);
    for (int i = 0; i < K; i++) { /* each client's connection was closed by the server side */
        char buf[4];
        ssize_t n = cask_recv(c[i], buf, sizeof buf, 0);
        CHECK(n == 0 || n == -ECONNRESET);
        CHECK_EQ(cask_close(c[i]), 0);
    }
    CHECK_EQ(count_sockets(), base);
    return 0;
}
TEST(net_ring_accept_queue_closed_with_listener) { CHECK_EQ(run_ring(queued_main, NULL), 0); }

/* The same at the loop's end: a listener still open with connections queued; after the loop
 * the process holds only the listener and the clients (closed by the test). */
static int queued_end_main(void *arg)
{
    int *fds = arg;
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(lfd, &a), 0);
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.01), 0);
    CHECK_EQ(cask_accept(lfd, NULL), -ECANCELED); /* armed, and stays armed */
    cask_scope_close(&sc, 0);
    fds[0] = lfd;
    for (int i = 1; i <= 10; i++) {
        fds[i] = cask_tcp_connect("127.0.0.1", cask_addr_port(&a));
        CHECK(fds[i] >= 0);
    }
    CHECK_EQ(cask_sleep(0.02), 0);
    return 0;
}
TEST(net_ring_accept_queue_closed_at_loop_end)
{
    int base = count_sockets();
    int fds[11];
    CHECK_EQ(run_ring(queued_end_main, fds), 0);
    CHECK_EQ(count_sockets(), base + 11);
    for (int i = 0; i < 11; i++)
        close(fds[i]);
    CHECK_EQ(count_sockets(), base);
}

/* An acceptor whose every accept has a deadline short enough to fire while connections are
 * arriving: every connection made is accepted once. */
#define CANCEL_N 200
struct cancel_acc {
    int lfd;
    uint16_t port;
    int made, accepted, cancelled;
    bool done;
};

static ssize_t recv_exactly(int fd, void *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = cask_recv(fd, (char *)buf + have, n - have, 0);
        if (r <= 0)
            return r;
        have += (size_t)r;
    }
    return (ssize_t)have;
}

static int cancel_connector(void *arg)
{
    struct cancel_acc *k = arg;
    for (int i = 0; i < CANCEL_N; i++) {
        int fd = cask_tcp_connect("127.0.0.1", k->port);
        CHECK(fd >= 0);
        k->made++;
        CHECK_EQ(cask_send_all(fd, &i, sizeof i), (ssize_t)sizeof i);
        CHECK_EQ(cask_close(fd), 0);
        if (i % 3 == 0)
            CHECK_EQ(cask_sleep(0.0002), 0);
    }
    return 0;
}

static int cancel_accept_main(void *arg)
{
    (void)arg;
    check_ring_selected();
    static struct cancel_acc k;
    memset(&k, 0, sizeof k);
    k.lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(k.lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(k.lfd, &a), 0);
    k.port = cask_addr_port(&a);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, cancel_connector, &k), 0);
    static bool seen[CANCEL_N];
    memset(seen, 0, sizeof seen);
    double until = cask_time() + 10;
    while (k.accepted < CANCEL_N && cask_time() < until) {
        cask_scope sc;
        CHECK_EQ(cask_move_on_open(&sc, 0.00003), 0);
        int fd = cask_accept(k.lfd, NULL);
        cask_scope_close(&sc, 0);
        if (fd == -ECANCELED) {
            k.cancelled++;
            continue;
        }
        CHECK(fd >= 0);
        k.accepted++;
        int i;
        CHECK_EQ(recv_exactly(fd, &i, sizeof i), (ssize_t)sizeof i);
        CHECK(i >= 0 && i < CANCEL_N && !seen[i]);
        seen[i] = true;
        CHECK_EQ(cask_close(fd), 0);
    }
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_EQ(k.made, CANCEL_N);
    CHECK_EQ(k.accepted, CANCEL_N);
    fprintf(stderr, "  %d of the accepts were cancelled\n", k.cancelled);
    CHECK(k.cancelled > 0);
    CHECK_EQ(cask_close(k.lfd), 0);
    return 0;
}
TEST_T(net_ring_cancelled_accepts_lose_nothing, 30) { CHECK_EQ(run_ring(cancel_accept_main, NULL), 0); }

/* ---- out of fds: the error reaches the accepting task, the connection stays for later ---- */

static int eat_fds(int *dummy, int max)
{
    int nd = 0;
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            CHECK(errno == EMFILE);
            return nd;
        }
        CHECK(nd < max);
        dummy[nd++] = fd;
    }
}

static void low_nofile(void)
{
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = 256;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static int emfile_accept_main(void *arg)
{
    (void)arg;
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(lfd, &a), 0);
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.01), 0);
    CHECK_EQ(cask_accept(lfd, NULL), -ECANCELED); /* the ring is up, the accept armed */
    cask_scope_close(&sc, 0);
    static int dummy[512];
    int nd = eat_fds(dummy, 512);
    close(dummy[--nd]); /* one fd for the client, none for the server's side */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(c >= 0);
    CHECK(connect(c, &a.u.sa, a.len) == 0 || errno == EINPROGRESS);
    CHECK_EQ(cask_move_on_open(&sc, 2.0), 0);
    CHECK_EQ(cask_accept(lfd, NULL), -EMFILE);
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    for (int i = 0; i < nd; i++)
        close(dummy[i]);
    CHECK_EQ(cask_move_on_open(&sc, 2.0), 0);
    struct cask_addr peer, me;
    int fd = cask_accept(lfd, &peer); /* the connection waited in the backlog */
    CHECK(fd >= 0);
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    CHECK_EQ(cask_sockname(c, &me), 0);
    CHECK_EQ(cask_addr_port(&peer), cask_addr_port(&me));
    CHECK_EQ(cask_close(fd), 0);
    CHECK_EQ(cask_close(c), 0);
    CHECK_EQ(cask_close(lfd), 0);
    return 0;
}
TEST(net_ring_accept_emfile)
{
    low_nofile();
    CHECK_EQ(run_ring(emfile_accept_main, NULL), 0);
}

static int line_handler(cask_stream *s, void *arg)
{
    (void)arg;
    int nodelay = 0; /* set on the listener, inherited by each connection */
    socklen_t len = sizeof nodelay;
    CHECK_EQ(getsockopt(cask_stream_fd(s), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    CHECK(nodelay);
    char line[16];
    ssize_t n = cask_stream_readline(s, line, sizeof line);
    if (n > 0)
        CHECK_EQ(cask_stream_write(s, line, (size_t)n), n);
    return 0;
}

/* A server out of fds with its multishot accept armed: it backs off (no spinning), keeps its
 * listener, and serves the waiting connections once fds are free again. */
static int emfile_server_main(void *arg)
{
    (void)arg;
    cask_server *srv;
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, line_handler, NULL, NULL), 0);
    cask_stream *s;
    CHECK_EQ(cask_open_connection(&s, "127.0.0.1", cask_server_port(srv)), 0);
    char line[16];
    CHECK_EQ(cask_stream_write(s, "a\n", 2), 2);
    CHECK_EQ(cask_stream_readline(s, line, sizeof line), 2);
    cask_stream_free(s);
    CHECK_EQ(cask_server_accepted(srv), 1);
    struct cask_addr a;
    CHECK_EQ(cask_addr_ip(&a, "127.0.0.1", cask_server_port(srv)), 0);
    enum { NC = 3 };
    static int dummy[512];
    int nd = eat_fds(dummy, 512);
    int c[NC];
    for (int i = 0; i < NC; i++) {
        close(dummy[--nd]);
        c[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(c[i] >= 0);
        CHECK(connect(c[i], &a.u.sa, a.len) == 0 || errno == EINPROGRESS);
        CHECK_EQ(cask_send(c[i], "hi\n", 3, 0), 3);
    }
    struct cask_loop_stats st0, st1;
    CHECK_EQ(cask_loop_stats(&st0), 0);
    CHECK_EQ(cask_sleep(0.3), 0);
    CHECK_EQ(cask_loop_stats(&st1), 0);
    CHECK_EQ(cask_server_accepted(srv), 1);
    CHECK(st1.iterations - st0.iterations < 60); /* backing off, not spinning */
    for (int i = 0; i < nd; i++)
        close(dummy[i]);
    double t0 = cask_time();
    for (int i = 0; i < NC; i++) {
        char buf[8];
        CHECK_EQ(cask_recv(c[i], buf, sizeof buf, 0), 3);
        CHECK(!memcmp(buf, "hi\n", 3));
    }
    CHECK(cask_time() - t0 < 0.2);
    CHECK_EQ(cask_server_accepted(srv), 1 + NC);
    for (int i = 0; i < NC; i++)
        cask_close(c[i]);
    CHECK_EQ(cask_server_close(srv, 1), 0);
    return 0;
}
TEST(net_ring_server_emfile_backs_off)
{
    low_nofile();
    CHECK_EQ(run_ring(emfile_server_main, NULL), 0);
}

/* Nobody accepts while 200 connect: the listener's queue stops at its bound (128, and the few
 * the kernel accepted before it saw the stop), the rest wait in the backlog; then every one of
 * the 200 is accepted once. */
static int bounded_accept_main(void *arg)
{
    (void)arg;
    int lfd = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(lfd >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(lfd, &a), 0);
    cask_scope sc;
    CHECK_EQ(cask_move_on_open(&sc, 0.01), 0);
    CHECK_EQ(cask_accept(lfd, NULL), -ECANCELED); /* armed */
    cask_scope_close(&sc, 0);
    int base = count_sockets();
    enum { N = 200 };
    static int c[N];
    for (int i = 0; i < N; i++) {
        c[i] = cask_tcp_connect("127.0.0.1", cask_addr_port(&a));
        CHECK(c[i] >= 0);
    }
    CHECK_EQ(cask_sleep(0.05), 0);
    int queued = count_sockets() - base - N;
    fprintf(stderr, "  %d connections queued\n", queued);
    if (on_ring())
        CHECK(queued >= 128 && queued <= 128 + 16);
    else
        CHECK_EQ(queued, 0);
    CHECK_EQ(cask_move_on_open(&sc, 5.0), 0);
    for (int i = 0; i < N; i++) {
        int fd = cask_accept(lfd, NULL);
        CHECK(fd >= 0);
        CHECK_EQ(cask_close(fd), 0);
    }
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    CHECK_EQ(count_sockets(), base + N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(cask_close(c[i]), 0);
    CHECK_EQ(cask_close(lfd), 0);
    return 0;
}
TEST(net_ring_accept_queue_bounded) { CHECK_EQ(run_ring(bounded_accept_main, NULL), 0); }

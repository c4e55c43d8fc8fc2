/* test_net.c: TCP over 127.0.0.1 and ::1, connecting by name, servers (start, port, graceful
 * shutdown, cancellation of slow handlers), Unix stream sockets, UDP, unbuffered calls. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <sys/stat.h>
#include <unistd.h>

static int upper_echo(cask_stream *s, void *arg)
{
    (void)arg;
    char line[256];
    ssize_t n;
    while ((n = cask_stream_readline(s, line, sizeof line)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (line[i] >= 'a' && line[i] <= 'z')
                line[i] = (char)(line[i] - 32);
        if (cask_stream_write(s, line, (size_t)n) != n)
            break;
    }
    return 0;
}

/* One round trip through a stream: sends msg, expects want back. */
static void round_trip(cask_stream *c, const char *msg, const char *want)
{
    CHECK_EQ(cask_stream_write(c, msg, strlen(msg)), (ssize_t)strlen(msg));
    char buf[256];
    ssize_t n = cask_stream_readline(c, buf, sizeof buf - 1);
    CHECK(n > 0);
    buf[n] = 0;
    CHECK_STR(buf, want);
}

struct tcp_case {
    const char *listen_host;
    const char *connect_host;
};

static int tcp_main(void *arg)
{
    struct tcp_case *tc = arg;
    cask_server *srv;
    int rc = cask_start_server(&srv, tc->listen_host, 0, upper_echo, NULL, NULL);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        printf("  (skipped: %s unavailable)\n", tc->listen_host);
        return 0;
    }
    CHECK_EQ(rc, 0);
    uint16_t port = cask_server_port(srv);
    CHECK(port != 0);
    cask_stream *c;
    CHECK_EQ(cask_open_connection(&c, tc->connect_host, port), 0);
    round_trip(c, "hello\n", "HELLO\n");
    round_trip(c, "again\n", "AGAIN\n");
    struct cask_addr a;
    CHECK_EQ(cask_peername(cask_stream_fd(c), &a), 0);
    CHECK_EQ(cask_addr_port(&a), port);
    char text[64];
    CHECK(cask_addr_format(&a, text, sizeof text) > 0);
    CHECK_EQ(cask_server_accepted(srv), 1);
    cask_stream_free(c);
    CHECK_EQ(cask_server_close(srv, 1.0), 0);
    return 0;
}

TEST(tcp_ipv4)
{
    struct tcp_case tc = {"127.0.0.1", "127.0.0.1"};
    CHECK_EQ(cask_run(tcp_main, &tc), 0);
}
TEST(tcp_ipv6)
{
    struct tcp_case tc = {"::1", "::1"};
    CHECK_EQ(cask_run(tcp_main, &tc), 0);
}
TEST(tcp_connect_by_name)
{
    struct tcp_case tc = {"127.0.0.1", "localhost"};
    CHECK_EQ(cask_run(tcp_main, &tc), 0);
}
TEST(tcp_listen_any)
{
    struct tcp_case tc = {NULL, "127.0.0.1"};
    CHECK_EQ(cask_run(tcp_main, &tc), 0);
}

/* Refused and unresolvable connections. */
static int refused_main(void *arg)
{
    (void)arg;
    int l = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(l >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(l, &a), 0);
    cask_close(l); /* nothing listens there now */
    CHECK_EQ(cask_tcp_connect("127.0.0.1", cask_addr_port(&a)), -ECONNREFUSED);
    int rc = cask_tcp_connect("no-such-host.invalid", 80);
    CHECK(rc == -EHOSTUNREACH || rc == -EAGAIN);
    CHECK_EQ(cask_tcp_connect(NULL, 80), -EINVAL);
    return 0;
}
TEST(tcp_refused_and_unresolvable) { CHECK_EQ(cask_run(refused_main, NULL), 0); }

/* A deadline ends a connect that never completes (a full accept queue drops the SYN). */
static int blackhole_main(void *arg)
{
    (void)arg;
    struct cask_listen_opts lo = {.backlog = 1};
    int l = cask_tcp_listen("127.0.0.1", 0, &lo);
    CHECK(l >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_sockname(l, &a), 0);
    int fill[4], nf = 0;
    cask_scope sc;
    for (int i = 0; i < 4; i++) { /* fill the queue; the later connects hang */
        CHECK_EQ(cask_move_on_open(&sc, 0.05), 0);
        int fd = cask_connect_addr(&a, SOCK_STREAM);
        CHECK(cask_scope_close(&sc, fd < 0 ? fd : 0) == 0);
        if (fd >= 0)
            fill[nf++] = fd;
    }
    double t0 = cask_time();
    CHECK_EQ(cask_timeout_open(&sc, 0.2), 0);
    int fd = cask_tcp_connect("127.0.0.1", cask_addr_port(&a));
    CHECK_EQ(cask_scope_close(&sc, fd), -ETIMEDOUT);
    CHECK_NEAR(cask_time() - t0, 0.2, 0.1);
    for (int i = 0; i < nf; i++)
        cask_close(fill[i]);
    cask_close(l);
    return 0;
}
TEST(tcp_connect_deadline) { CHECK_EQ(cask_run(blackhole_main, NULL), 0); }

/* Graceful shutdown: quick handlers finish within the grace; slow ones are cancelled. */
static int sleepy(cask_stream *s, void *arg)
{
    double secs = *(double *)arg;
    char c;
    if (cask_stream_read(s, &c, 1) != 1)
        return 0;
    int rc = cask_sleep(secs);
    ct_log("handler %s", rc ? "cancelled" : "done");
    if (rc == 0)
        CHECK_EQ(cask_stream_write(s, "k", 1), 1);
    return 0;
}
static int shutdown_main(void *arg)
{
    double secs = *(double *)arg;
    cask_server *srv;
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, sleepy, arg, NULL), 0);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = cask_tcp_connect("127.0.0.1", cask_server_port(srv));
        CHECK(fds[i] >= 0);
        CHECK_EQ(cask_send(fds[i], "x", 1, 0), 1);
    }
    while (cask_server_active(srv) < 3)
        CHECK_EQ(cask_sleep(0.01), 0);
    double t0 = cask_time();
    int rc = cask_server_close(srv, 0.3);
    double took = cask_time() - t0;
    if (secs < 0.3) {
        CHECK_EQ(rc, 0);
        CHECK_LOG("handler done,handler done,handler done");
        CHECK(took < 0.25);
        char c;
        for (int i = 0; i < 3; i++)
            CHECK_EQ(cask_recv(fds[i], &c, 1, 0), 1);
    } else {
        CHECK_EQ(rc, 3);
        CHECK_LOG("handler cancelled,handler cancelled,handler cancelled");
        CHECK_NEAR(took, 0.3, 0.1);
    }
    /* the listener is gone */
    CHECK_EQ(cask_tcp_connect("127.0.0.1", 1), -ECONNREFUSED);
    for (int i = 0; i < 3; i++)
        cask_close(fds[i]);
    return 0;
}
TEST(server_graceful_shutdown)
{
    double secs = 0.1;
    CHECK_EQ(cask_run(shutdown_main, &secs), 0);
}
TEST(server_shutdown_cancels_after_grace)
{
    double secs = 10;
    CHECK_EQ(cask_run(shutdown_main, &secs), 0);
}

/* A server closed before its handlers ever ran, and a server_wait woken by close. */
static int waiter(void *arg) { return cask_server_wait(arg); }
static int early_main(void *arg)
{
    (void)arg;
    cask_server *srv;
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, upper_echo, NULL, NULL), 0);
    cask_task *w;
    CHECK_EQ(cask_spawn(&w, waiter, srv), 0);
    int fd = cask_tcp_connect("127.0.0.1", cask_server_port(srv));
    CHECK(fd >= 0);
    CHECK_EQ(cask_sleep(0.02), 0);
    CHECK_EQ(cask_server_close(srv, 0), 1);
    CHECK_EQ(cask_join(w), 0);
    cask_release(w);
    char c;
    CHECK_EQ(cask_recv(fd, &c, 1, 0), 0);
    cask_close(fd);
    return 0;
}
TEST(server_close_and_wait) { CHECK_EQ(cask_run(early_main, NULL), 0); }

/* max_connections pauses accepting. */
static int hold(cask_stream *s, void *arg)
{
    (void)arg;
    char c;
    while (cask_stream_read(s, &c, 1) == 1)
        CHECK_EQ(cask_stream_write(s, &c, 1), 1);
    return 0;
}
static int maxconn_main(void *arg)
{
    (void)arg;
    cask_server *srv;
    struct cask_server_opts o = {.max_connections = 2};
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, hold, NULL, &o), 0);
    int fds[3];
    for (int i = 0; i < 3; i++)
        CHECK((fds[i] = cask_tcp_connect("127.0.0.1", cask_server_port(srv))) >= 0);
    CHECK_EQ(cask_sleep(0.05), 0);
    CHECK_EQ(cask_server_active(srv), 2);
    cask_close(fds[0]);
    CHECK_EQ(cask_sleep(0.05), 0);
    CHECK_EQ(cask_server_accepted(srv), 3);
    char c;
    CHECK_EQ(cask_send(fds[2], "z", 1, 0), 1);
    CHECK_EQ(cask_recv(fds[2], &c, 1, 0), 1);
    CHECK_EQ(cask_server_close(srv, 0), 2);
    cask_close(fds[1]);
    cask_close(fds[2]);
    return 0;
}
TEST(server_max_connections) { CHECK_EQ(cask_run(maxconn_main, NULL), 0); }

/* Unix stream sockets: server, client, socket file removed at close; stale files replaced. */
static int unix_main(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/cask-test-%d.sock", (int)getpid());
    unlink(path);
    cask_server *srv;
    CHECK_EQ(cask_start_unix_server(&srv, path, upper_echo, NULL, NULL), 0);
    CHECK_EQ(cask_server_port(srv), 0);
    /* a second server on the same live path is refused */
    cask_server *other;
    CHECK_EQ(cask_start_unix_server(&other, path, upper_echo, NULL, NULL), -EADDRINUSE);
    cask_stream *c;
    CHECK_EQ(cask_open_unix_connection(&c, path), 0);
    round_trip(c, "unix\n", "UNIX\n");
    cask_stream_free(c);
    CHECK_EQ(cask_server_close(srv, 1), 0);
    struct stat st;
    CHECK_EQ(stat(path, &st), -1);
    CHECK_EQ(cask_unix_connect(path), -ENOENT);
    /* a stale socket file (its listener gone without cleanup) is replaced */
    int l = cask_unix_listen(path, NULL);
    CHECK(l >= 0);
    cask_close(l);
    CHECK_EQ(stat(path, &st), 0);
    l = cask_unix_listen(path, NULL);
    CHECK(l >= 0);
    cask_close(l);
    unlink(path);
    /* never replaces a regular file */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK_EQ(cask_unix_listen(path, NULL), -EADDRINUSE);
    unlink(path);
    return 0;
}
TEST(unix_sockets) { CHECK_EQ(cask_run(unix_main, NULL), 0); }

/* UDP: unconnected sendto/recvfrom, connected send/recv, cancellation of a receive. */
static int udp_main(void *arg)
{
    const char *host = arg;
    int a = cask_udp_bind(host, 0);
    if (a == -EADDRNOTAVAIL || a == -EAFNOSUPPORT) {
        printf("  (skipped: %s unavailable)\n", host);
        return 0;
    }
    CHECK(a >= 0);
    int b = cask_udp_bind(host, 0);
    CHECK(b >= 0);
    struct cask_addr aa, ba, from;
    CHECK_EQ(cask_sockname(a, &aa), 0);
    CHECK_EQ(cask_sockname(b, &ba), 0);
    CHECK_EQ(cask_sendto(a, "ping", 4, &ba), 4);
    char buf[16];
    CHECK_EQ(cask_recvfrom(b, buf, sizeof buf, &from), 4);
    CHECK(!memcmp(buf, "ping", 4));
    CHECK_EQ(cask_addr_port(&from), cask_addr_port(&aa));
    CHECK_EQ(cask_sendto(b, "pong", 4, &from), 4);
    CHECK_EQ(cask_recvfrom(a, buf, sizeof buf, NULL), 4);
    /* connected */
    int c = cask_udp_connect(host, cask_addr_port(&ba));
    CHECK(c >= 0);
    CHECK_EQ(cask_send(c, "hi", 2, 0), 2);
    CHECK_EQ(cask_recvfrom(b, buf, sizeof buf, &from), 2);
    CHECK_EQ(cask_sendto(b, "yo", 2, &from), 2);
    CHECK_EQ(cask_recv(c, buf, sizeof buf, 0), 2);
    CHECK(!memcmp(buf, "yo", 2));
    /* a receive with nothing coming ends at its deadline */
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.05), 0);
    ssize_t r = cask_recvfrom(a, buf, sizeof buf, NULL);
    CHECK_EQ(cask_scope_close(&sc, (int)r), -ETIMEDOUT);
    cask_close(a);
    cask_close(b);
    cask_close(c);
    return 0;
}
TEST(udp_ipv4) { CHECK_EQ(cask_run(udp_main, "127.0.0.1"), 0); }
TEST(udp_ipv6) { CHECK_EQ(cask_run(udp_main, "::1"), 0); }

/* Addresses. */
TEST(addr_helpers)
{
    struct cask_addr a;
    char buf[64];
    CHECK_EQ(cask_addr_ip(&a, "10.1.2.3", 80), 0);
    CHECK_EQ(cask_addr_format(&a, buf, sizeof buf), 11);
    CHECK_STR(buf, "10.1.2.3:80");
    CHECK_EQ(cask_addr_ip(&a, "[::1]", 443), 0);
    cask_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "[::1]:443");
    CHECK_EQ(cask_addr_port(&a), 443);
    CHECK_EQ(cask_addr_ip(&a, "localhost", 1), -EINVAL);
    CHECK_EQ(cask_addr_unix(&a, "/tmp/x.sock"), 0);
    cask_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "/tmp/x.sock");
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK_EQ(cask_addr_unix(&a, longp), -ENAMETOOLONG);
    CHECK_EQ(cask_recv(0, buf, 1, 0), -EPERM); /* outside a task */
}

/* Several tasks: a gather of 20 clients over one server. */
struct cl {
    uint16_t port;
    int id;
};
static int one_client(void *arg)
{
    struct cl *c = arg;
    cask_stream *s;
    CHECK_EQ(cask_open_connection(&s, "127.0.0.1", c->port), 0);
    char msg[32], want[32];
    snprintf(msg, sizeof msg, "client %d\n", c->id);
    snprintf(want, sizeof want, "CLIENT %d\n", c->id);
    for (int i = 0; i < 10; i++)
        round_trip(s, msg, want);
    cask_stream_free(s);
    return 0;
}
static int many_main(void *arg)
{
    (void)arg;
    cask_server *srv;
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, upper_echo, NULL, NULL), 0);
    struct cl cls[20];
    cask_task *t[20];
    for (int i = 0; i < 20; i++) {
        cls[i] = (struct cl){cask_server_port(srv), i};
        CHECK_EQ(cask_spawn(&t[i], one_client, &cls[i]), 0);
    }
    CHECK_EQ(cask_gather(t, 20, NULL), 0);
    for (int i = 0; i < 20; i++)
        cask_release(t[i]);
    CHECK_EQ(cask_server_close(srv, 1), 0);
    return 0;
}
TEST(tcp_many_clients) { CHECK_EQ(cask_run(many_main, NULL), 0); }

/* Every allocation of a whole exchange failing in turn (server start, connect, the stream's
 * buffers on both sides, the connection record): -ENOMEM or a dropped connection, no leak. */
static int nomem_main(void *arg)
{
    (void)arg;
    for (long n = 1; n < 40; n++) {
        cask_server *srv;
        ct_fail_alloc_after(n);
        int rc = cask_start_server(&srv, "127.0.0.1", 0, upper_echo, NULL, NULL);
        if (rc) {
            ct_fail_alloc_after(0);
            CHECK_EQ(rc, -ENOMEM);
            continue;
        }
        cask_stream *c;
        rc = cask_open_connection(&c, "127.0.0.1", cask_server_port(srv));
        if (rc == 0) {
            char buf[8];
            ssize_t w = cask_stream_write(c, "x\n", 2);
            ssize_t r = w == 2 ? cask_stream_readline(c, buf, sizeof buf) : 0;
            CHECK(w == 2 || w == -EPIPE || w == -ECONNRESET);
            CHECK(r == 2 || r == 0 || r == -ECONNRESET || r == -ENOMEM);
            cask_stream_free(c);
        } else {
            CHECK_EQ(rc, -ENOMEM);
        }
        ct_fail_alloc_after(0);
        CHECK(cask_server_close(srv, 1) >= 0);
    }
    return 0;
}
TEST(net_enomem) { CHECK_EQ(cask_run(nomem_main, NULL), 0); }

/* A Unix listener with a full backlog: connect retries until a slot frees up. */
static int accept_later(void *arg)
{
    int l = *(int *)arg;
    CHECK_EQ(cask_sleep(0.05), 0);
    int fd = cask_accept(l, NULL);
    CHECK(fd >= 0);
    cask_close(fd);
    return 0;
}
static int unix_backlog_main(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/cask-test-bl-%d.sock", (int)getpid());
    unlink(path);
    int l = cask_unix_listen(path, &(struct cask_listen_opts){.backlog = 1});
    CHECK(l >= 0);
    struct cask_addr a;
    CHECK_EQ(cask_addr_unix(&a, path), 0);
    int c[16], n = 0;
    while (n < 16) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        if (connect(fd, &a.u.sa, a.len) != 0) {
            CHECK_EQ(errno, EAGAIN);
            close(fd);
            break;
        }
        c[n++] = fd;
    }
    CHECK(n < 16);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, accept_later, &l), 0);
    double t0 = cask_time();
    int fd = cask_unix_connect(path);
    CHECK(fd >= 0);
    CHECK_NEAR(cask_time() - t0, 0.06, 0.05);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    cask_close(fd);
    for (int i = 0; i < n; i++)
        close(c[i]);
    cask_close(l);
    unlink(path);
    return 0;
}
TEST(unix_connect_full_backlog) { CHECK_EQ(cask_run(unix_backlog_main, NULL), 0); }

/* SO_REUSEPORT: two listeners share a port; without it the second bind fails. */
static int reuseport_main(void *arg)
{
    (void)arg;
    struct cask_listen_opts o = {.reuse_port = true};
    int a = cask_tcp_listen("127.0.0.1", 0, &o);
    CHECK(a >= 0);
    struct cask_addr sa;
    CHECK_EQ(cask_sockname(a, &sa), 0);
    int b = cask_tcp_listen("127.0.0.1", cask_addr_port(&sa), &o);
    CHECK(b >= 0);
    CHECK_EQ(cask_tcp_listen("127.0.0.1", cask_addr_port(&sa), NULL), -EADDRINUSE);
    cask_close(a);
    cask_close(b);
    return 0;
}
TEST(tcp_listen_reuse_port) { CHECK_EQ(cask_run(reuseport_main, NULL), 0); }

/* A handler may close (or "free") its own stream as asyncio handlers call writer.close(); the
 * server still owns the memory. */
static int closing_handler(cask_stream *s, void *arg)
{
    (void)arg;
    CHECK_EQ(cask_stream_write(s, "bye\n", 4), 4);
    cask_stream_free(s); /* only closes: the server frees it after we return */
    CHECK_EQ(cask_stream_fd(s), -1);
    CHECK_EQ(cask_stream_write(s, "x", 1), -ENOTCONN);
    return 0;
}
static int handler_close_main(void *arg)
{
    (void)arg;
    cask_server *srv;
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, closing_handler, NULL, NULL), 0);
    cask_stream *c;
    CHECK_EQ(cask_open_connection(&c, "127.0.0.1", cask_server_port(srv)), 0);
    char buf[8];
    CHECK_EQ(cask_stream_readline(c, buf, sizeof buf), 4);
    CHECK_EQ(cask_stream_read(c, buf, sizeof buf), 0);
    cask_stream_free(c);
    while (cask_server_active(srv))
        CHECK_EQ(cask_sleep(0.001), 0);
    CHECK_EQ(cask_server_close(srv, 1), 0);
    return 0;
}
TEST(server_handler_closes_its_stream) { CHECK_EQ(cask_run(handler_close_main, NULL), 0); }

/* Closing with a long grace period, cancelled meanwhile: the handlers are cancelled at once,
 * still waited for, and close reports -ECANCELED. Also a close by an already cancelled task. */
static int forever(cask_stream *s, void *arg)
{
    (void)s;
    int *ended = arg;
    int rc = cask_sleep(100);
    (*ended)++;
    return rc;
}
struct closer {
    cask_server *srv;
    int rc;
};
static int closer_task(void *arg)
{
    struct closer *c = arg;
    c->rc = cask_server_close(c->srv, 100);
    return 0;
}
static int close_cancel_main(void *arg)
{
    (void)arg;
    int ended = 0;
    for (int round = 0; round < 2; round++) {
        struct closer cl = {0};
        CHECK_EQ(cask_start_server(&cl.srv, "127.0.0.1", 0, forever, &ended, NULL), 0);
        int fd = cask_tcp_connect("127.0.0.1", cask_server_port(cl.srv));
        CHECK(fd >= 0);
        while (cask_server_active(cl.srv) < 1)
            CHECK_EQ(cask_sleep(0.005), 0);
        cask_task *t;
        CHECK_EQ(cask_spawn(&t, closer_task, &cl), 0);
        if (round == 0) { /* cancelled while it waits out the grace period */
            CHECK_EQ(cask_sleep(0.05), 0);
            CHECK(cask_cancel(t));
        } else { /* cancelled before it even starts closing: the body never runs */
            CHECK(cask_cancel(t));
            CHECK_EQ(cask_join(t), -ECANCELED);
            cask_release(t);
            CHECK_EQ(cask_server_close(cl.srv, 0), 1);
            CHECK_EQ(ended, 2);
            cask_close(fd);
            break;
        }
        double t0 = cask_time();
        CHECK_EQ(cask_join(t), -ECANCELED);
        CHECK(cask_time() - t0 < 0.1);
        CHECK_EQ(cl.rc, -ECANCELED);
        CHECK_EQ(ended, 1);
        cask_release(t);
        cask_close(fd);
    }
    return 0;
}
TEST(server_close_cancelled) { CHECK_EQ(cask_run(close_cancel_main, NULL), 0); }

static int close_by_cancelled_main(void *arg)
{
    (void)arg;
    int ended = 0;
    cask_server *srv;
    CHECK_EQ(cask_start_server(&srv, "127.0.0.1", 0, forever, &ended, NULL), 0);
    int fd = cask_tcp_connect("127.0.0.1", cask_server_port(srv));
    CHECK(fd >= 0);
    while (cask_server_active(srv) < 1)
        CHECK_EQ(cask_sleep(0.005), 0);
    cask_cancel(cask_current());
    double t0 = cask_time();
    CHECK_EQ(cask_server_close(srv, 100), -ECANCELED);
    CHECK(cask_time() - t0 < 0.1);
    CHECK_EQ(ended, 1);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    cask_close(fd);
    return 0;
}
TEST(server_close_by_cancelled_task) { CHECK_EQ(cask_run(close_by_cancelled_main, NULL), 0); }

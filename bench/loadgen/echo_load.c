/* echo_load: a closed-loop TCP echo load generator, used by bench/net.sh to compare echo servers.
 *
 * One thread, one epoll set, edge-triggered non-blocking sockets. Each connection keeps exactly one
 * message outstanding: it sends `size` bytes, reads back exactly `size` bytes (checking they equal
 * what was sent), records the round-trip latency in a log-linear histogram, and starts over.
 * Connection errors are counted and the connection is re-opened after a short pause.
 * With -k N each connection carries N messages and is then closed and a new one opened (-k 1: a
 * connection per request, the connect-rate workload); the latency of a connection's first
 * message then counts from the start of its connect.
 *
 * Output (stdout, one line):
 *   LOADGEN rps=... p50_us=... p99_us=... requests=... errors=... [server_cpu_s=...]
 * server_cpu_s is printed with -P PID: utime+stime of that process (all its threads) over exactly
 * the measured interval, read from /proc/PID/stat.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Histogram of latencies in nanoseconds: values below 2^SUB_BITS+1 have one bucket each, then every
 * power of two is split into 2^SUB_BITS linear sub-buckets (under 1% relative error). */
#define SUB_BITS 7
#define SUB_COUNT (1u << SUB_BITS)
#define LINEAR_LIMIT (2u * SUB_COUNT)
#define HIST_BUCKETS (LINEAR_LIMIT + (64 - SUB_BITS - 1) * SUB_COUNT)

#define RECONNECT_DELAY_NS 100000000LL /* pause before re-opening a failed connection */
#define MAX_EVENTS 256

enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_ACTIVE };

struct conn {
    int fd;
    enum conn_state state;
    size_t sent;        /* bytes of the current message written so far */
    size_t received;    /* bytes of the current message read back so far */
    int64_t start_ns;   /* when the current message was started */
    int64_t retry_ns;   /* CONN_IDLE: when to reconnect */
    long done;          /* messages completed on this connection */
};

struct options {
    const char *host;
    const char *port;
    int connections;
    size_t size;
    double duration_s;
    double warmup_s;
    long server_pid;
    bool verify;
    long per_conn; /* messages per connection (0: the connection stays open) */
};

static uint64_t histogram[HIST_BUCKETS];
static uint64_t hist_count;
static unsigned char *send_buf;
static unsigned char *recv_buf;
static size_t recv_buf_size;
static uint64_t requests;
static uint64_t errors;
static bool measuring;
static int epfd;
static struct addrinfo *target;
static struct options opt;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t hist_index(uint64_t v)
{
    if (v < LINEAR_LIMIT)
        return (size_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* e >= SUB_BITS + 1 */
    uint64_t sub = (v >> (e - SUB_BITS)) & (SUB_COUNT - 1);
    return LINEAR_LIMIT + (size_t)(e - SUB_BITS - 1) * SUB_COUNT + (size_t)sub;
}

/* The middle of the value range covered by bucket i. */
static double hist_value(size_t i)
{
    if (i < LINEAR_LIMIT)
        return (double)i;
    size_t k = i - LINEAR_LIMIT;
    unsigned e = (unsigned)(k / SUB_COUNT) + SUB_BITS + 1;
    uint64_t sub = k % SUB_COUNT;
    double width = ldexp(1.0, (int)(e - SUB_BITS));
    return ldexp(1.0, (int)e) + (double)sub * width + width / 2.0;
}

static void hist_record(int64_t ns)
{
    histogram[hist_index(ns < 0 ? 0 : (uint64_t)ns)]++;
    hist_count++;
}

static double hist_percentile(double p)
{
    if (hist_count == 0)
        return 0.0;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)hist_count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += histogram[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

/* utime+stime of a process in seconds, or -1 when it cannot be read. */
static double process_cpu_s(long pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1.0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1.0;
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: parse after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1.0;
    unsigned long long utime, stime;
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
               &stime) != 2)
        return -1.0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void conn_fail(struct conn *c, int64_t now)
{
    errors++;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = CONN_IDLE;
    c->retry_ns = now + RECONNECT_DELAY_NS;
}

static void conn_open(struct conn *c, int64_t now)
{
    c->sent = c->received = 0;
    c->done = 0;
    c->start_ns = now;
    c->fd = socket(target->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(c, now);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, target->ai_addr, target->ai_addrlen) < 0 && errno != EINPROGRESS) {
        conn_fail(c, now);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_fail(c, now);
        return;
    }
    c->state = CONN_CONNECTING;
}

/* Writes as much of the current message as the socket takes. Returns false on a socket error. */
static bool conn_write(struct conn *c)
{
    while (c->sent < opt.size) {
        ssize_t n = send(c->fd, send_buf + c->sent, opt.size - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return true; /* EPOLLOUT (edge-triggered) reports when there is room again */
        } else {
            return false;
        }
    }
    return true;
}

/* Reads the echo of the current message; on completion records it and starts the next one.
 * Returns false on a socket error, end of stream or wrong echoed bytes. */
static bool conn_read(struct conn *c)
{
    for (;;) {
        size_t want = opt.size - c->received;
        if (want > recv_buf_size)
            want = recv_buf_size;
        ssize_t n = recv(c->fd, recv_buf, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        /* Bytes arriving before the message is fully sent are fine (the server echoes as they
         * come), but never more than has been sent. */
        if (c->received + (size_t)n > c->sent)
            return false;
        if (opt.verify && memcmp(recv_buf, send_buf + c->received, (size_t)n) != 0)
            return false;
        c->received += (size_t)n;
        if (c->received == opt.size) {
            int64_t t = now_ns();
            if (measuring) {
                hist_record(t - c->start_ns);
                requests++;
            }
            c->sent = c->received = 0;
            c->start_ns = t;
            if (opt.per_conn && ++c->done >= opt.per_conn) { /* a new connection for the next */
                close(c->fd);
                conn_open(c, t);
                return true; /* (a failed open is counted and retried by conn_open) */
            }
            return conn_write(c);
            /* No read until EAGAIN: the echo of the new message makes a new edge. */
        }
        if ((size_t)n < want)
            return true; /* a short read means the socket is drained for now */
    }
}

static void conn_event(struct conn *c, uint32_t events, int64_t now)
{
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0 ||
            (events & (EPOLLERR | EPOLLHUP))) {
            conn_fail(c, now);
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        c->state = CONN_ACTIVE;
        if (!opt.per_conn)
            c->start_ns = now_ns();
        if (!conn_write(c))
            conn_fail(c, now);
        return;
    }
    if (c->state != CONN_ACTIVE)
        return;
    if (events & EPOLLERR) {
        conn_fail(c, now);
        return;
    }
    if ((events & EPOLLOUT) && c->sent < opt.size && !conn_write(c)) {
        conn_fail(c, now);
        return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !conn_read(c))
        conn_fail(c, now);
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-h host] -p port [-c connections] [-s message_size] [-d duration_s]\n"
            "          [-w warmup_s] [-P server_pid] [-n] [-k messages]\n"
            "  -h host         server address (default 127.0.0.1)\n"
            "  -p port         server port (required)\n"
            "  -c connections  concurrent connections, one message outstanding each (default 10)\n"
            "  -s size         message size in bytes (default 1024)\n"
            "  -d seconds      measured duration (default 10)\n"
            "  -w seconds      warmup before measuring, not counted (default 0)\n"
            "  -P pid          also report the CPU time that process used while measuring\n"
            "  -n              do not check that echoed bytes equal the sent bytes\n"
            "  -k messages     close each connection after this many and open a new one\n",
            prog);
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0) || v > 1e6)
        return false;
    *out = v;
    return true;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    opt = (struct options){.host = "127.0.0.1", .connections = 10, .size = 1024,
                           .duration_s = 10.0, .server_pid = -1, .verify = true};
    long v;
    int ch;
    while ((ch = getopt(argc, argv, "h:p:c:s:d:w:P:nk:")) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = optarg; break;
        case 'c':
            if (!parse_long(optarg, 1, 1000000, &v))
                goto bad_usage;
            opt.connections = (int)v;
            break;
        case 's':
            if (!parse_long(optarg, 1, 1L << 30, &v))
                goto bad_usage;
            opt.size = (size_t)v;
            break;
        case 'd':
            if (!parse_seconds(optarg, &opt.duration_s) || opt.duration_s <= 0.0)
                goto bad_usage;
            break;
        case 'w':
            if (!parse_seconds(optarg, &opt.warmup_s))
                goto bad_usage;
            break;
        case 'P':
            if (!parse_long(optarg, 1, 1L << 30, &opt.server_pid))
                goto bad_usage;
            break;
        case 'n': opt.verify = false; break;
        case 'k':
            if (!parse_long(optarg, 0, 1L << 30, &opt.per_conn))
                goto bad_usage;
            break;
        default: goto bad_usage;
        }
    }
    if (opt.port == NULL || optind != argc)
        goto bad_usage;

    signal(SIGPIPE, SIG_IGN);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(opt.host, opt.port, &hints, &target);
    if (gai != 0) {
        fprintf(stderr, "echo_load: %s:%s: %s\n", opt.host, opt.port, gai_strerror(gai));
        return 2;
    }

    send_buf = malloc(opt.size);
    recv_buf_size = opt.size < 262144 ? opt.size : 262144;
    recv_buf = malloc(recv_buf_size);
    struct conn *conns = calloc((size_t)opt.connections, sizeof *conns);
    if (send_buf == NULL || recv_buf == NULL || conns == NULL) {
        fprintf(stderr, "echo_load: out of memory\n");
        return 2;
    }
    /* A pattern that does not repeat at power-of-two offsets, so shifted echoes are caught. */
    for (size_t i = 0; i < opt.size; i++)
        send_buf[i] = (unsigned char)(i % 251);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("echo_load: epoll_create1");
        return 2;
    }

    int64_t t0 = now_ns();
    int64_t measure_start = t0 + (int64_t)(opt.warmup_s * 1e9);
    int64_t measure_end = measure_start + (int64_t)(opt.duration_s * 1e9);
    double cpu_start = -1.0;
    measuring = opt.warmup_s <= 0.0;
    if (measuring && opt.server_pid > 0)
        cpu_start = process_cpu_s(opt.server_pid);
    for (int i = 0; i < opt.connections; i++) {
        conns[i].fd = -1;
        conn_open(&conns[i], t0);
    }

    struct epoll_event events[MAX_EVENTS];
    int64_t now = t0;
    while (now < measure_end) {
        int64_t deadline = measuring ? measure_end : measure_start;
        int64_t wait_ns = deadline - now;
        /* Failed connections are retried on a short tick. */
        if (wait_ns > 10000000)
            wait_ns = 10000000;
        int timeout_ms = (int)((wait_ns + 999999) / 1000000);
        int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
        if (n < 0 && errno != EINTR) {
            perror("echo_load: epoll_wait");
            return 2;
        }
        now = now_ns();
        for (int i = 0; i < n; i++)
            conn_event(events[i].data.ptr, events[i].events, now);
        for (int i = 0; i < opt.connections; i++) {
            if (conns[i].state == CONN_IDLE && now >= conns[i].retry_ns)
                conn_open(&conns[i], now);
        }
        now = now_ns();
        if (!measuring && now >= measure_start) {
            measuring = true;
            measure_start = now;
            measure_end = now + (int64_t)(opt.duration_s * 1e9);
            if (opt.server_pid > 0)
                cpu_start = process_cpu_s(opt.server_pid);
        }
    }
    double cpu_end = opt.server_pid > 0 ? process_cpu_s(opt.server_pid) : -1.0;
    double elapsed = (double)(now - measure_start) / 1e9;

    printf("LOADGEN rps=%.1f p50_us=%.1f p99_us=%.1f requests=%llu errors=%llu",
           elapsed > 0 ? (double)requests / elapsed : 0.0, hist_percentile(50.0) / 1000.0,
           hist_percentile(99.0) / 1000.0, (unsigned long long)requests,
           (unsigned long long)errors);
    if (opt.server_pid > 0) {
        if (cpu_start >= 0.0 && cpu_end >= 0.0)
            printf(" server_cpu_s=%.2f", cpu_end - cpu_start);
        else
            printf(" server_cpu_s=NA");
    }
    printf("\n");
    fflush(stdout);

    for (int i = 0; i < opt.connections; i++) {
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    }
    close(epfd);
    free(conns);
    free(recv_buf);
    free(send_buf);
    freeaddrinfo(target);
    return requests > 0 ? 0 : 1;

bad_usage:
    usage(argv[0]);
    return 2;
}

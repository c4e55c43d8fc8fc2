/*
 * cask_idle_conns.c: an echo server whose handlers are compact tasks, holding many idle
 * connections: the resident memory it takes per connection.
 *
 *   idle_conns   N connections (100,000; 10,000 in quick mode) to the server on 127.0.0.1,
 *                each handler parked in cask_recv; then one byte echoed on every 1000th
 *                connection to show the handlers work. Prints the resident size growth
 *                (VmRSS after all connected - VmRSS before) in MB and per connection, for
 *                compact handlers, then for ordinary handlers (each on its own stack).
 *                The client sockets hold no user memory (an fd each).
 *
 * Both ends need a file descriptor. When the hard fd limit allows 2N + 1000 (root with
 * CAP_SYS_RESOURCE, or ulimit -n), the clients live in the server's process and one process
 * serves all N. Otherwise the server runs as P processes sharing the port (SO_REUSEPORT, the
 * way nginx's workers share one), each a cask loop holding about N / P connections, sized so
 * each stays under the limit; P client processes connect. The resident growth is then the sum
 * over the P server processes, and their whole resident size is printed too (total_rss_mb),
 * so the P - 1 extra bases are visible.
 *
 * usage: cask_idle_conns [N]
 */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int echo(cask_stream *s, void *arg)
{
    (void)arg;
    int fd = cask_stream_fd(s);
    char buf[128]; /* small: it is part of the parked image */
    for (;;) {
        ssize_t n = cask_recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return 0;
        if (cask_send_all(fd, buf, (size_t)n) != n)
            return 0;
    }
}

struct run {
    long n;
    bool compact;
};

static int idle_main(void *arg)
{
    struct run *r = arg;
    cask_server *srv;
    struct cask_server_opts so = {.compact = r->compact};
    so.listen.backlog = 4096;
    MUST(cask_start_server(&srv, "127.0.0.1", 0, echo, NULL, &so));
    uint16_t port = cask_server_port(srv);
    int *fds = malloc(sizeof *fds * (size_t)r->n);
    MUST(fds ? 0 : -ENOMEM);
    MUST(cask_sleep(0.01));
    long base = rss_kb("VmRSS:");
    double t0 = now();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (long i = 0; i < r->n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fprintf(stderr, "socket %ld: %s (raise ulimit -n)\n", i, strerror(errno));
            exit(1);
        }
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
            fprintf(stderr, "connect %ld: %s\n", i, strerror(errno));
            exit(1);
        }
        fds[i] = fd;
        if (i % 256 == 255)
            MUST(cask_sleep(0)); /* the acceptor takes them, the handlers park */
    }
    struct cask_loop_stats st;
    for (int k = 0; k < 2000; k++) { /* until every handler runs and parks */
        MUST(cask_sleep(0.005));
        MUST(cask_loop_stats(&st));
        if (st.tasks_live >= (size_t)r->n + 2)
            break;
    }
    MUST(cask_sleep(0.05));
    double dt = now() - t0;
    long rss = rss_kb("VmRSS:");
    MUST(cask_loop_stats(&st));
    /* they work: one byte through every 1000th connection */
    long echoed = 0;
    for (long i = 0; i < r->n; i += 1000) {
        char c = 'x', d = 0;
        if (write(fds[i], &c, 1) != 1)
            continue;
        for (int k = 0; k < 200; k++) {
            if (read(fds[i], &d, 1) == 1)
                break;
            MUST(cask_sleep(0.001));
        }
        echoed += d == 'x';
    }
    printf("RESULT idle_conns %s conns=%ld rss_mb=%.1f bytes_per_conn=%.0f connect_s=%.2f "
           "tasks_live=%zu echoed=%ld/%ld side_block_bytes_per_conn=%.0f\n",
           r->compact ? "cask_compact" : "cask_ordinary", r->n, (double)rss / 1024.0,
           (double)(rss - base) * 1024.0 / (double)r->n, dt, st.tasks_live, echoed,
           (r->n + 999) / 1000, (double)st.compact_bytes_held / (double)r->n);
    for (long i = 0; i < r->n; i++)
        close(fds[i]);
    free(fds);
    return cask_server_close(srv, 0);
}

/* ---- the split mode: P server processes sharing the port, P client processes ---- */

struct report { /* a server process's figures, one atomic pipe write */
    long conns, growth_kb, rss_kb;
};

struct shard {
    uint16_t port;
    bool compact;
    int ctl;  /* read end: a byte = measure now; end of file = close and exit */
    int res;  /* write end: the struct report */
    int ready; /* write end: one byte once listening */
};

/* Reads one byte from a non-blocking pipe, sleeping on the loop meanwhile: 1, or 0 at EOF. */
static int pipe_byte(int fd)
{
    char c;
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n >= 0)
            return (int)n;
        MUST(cask_sleep(0.005));
    }
}

static int shard_main(void *arg)
{
    struct shard *sh = arg;
    cask_server *srv;
    struct cask_server_opts so = {.compact = sh->compact};
    so.listen.backlog = 4096;
    so.listen.reuse_port = true;
    MUST(cask_start_server(&srv, "127.0.0.1", sh->port, echo, NULL, &so));
    MUST(cask_sleep(0.01));
    long base = rss_kb("VmRSS:");
    if (write(sh->ready, "R", 1) != 1)
        exit(1);
    if (pipe_byte(sh->ctl) == 1) {
        /* every connection made: wait until this shard's count holds still for 200 ms */
        size_t last = (size_t)-1;
        int still = 0;
        while (still < 40) {
            MUST(cask_sleep(0.005));
            size_t a = cask_server_active(srv);
            still = a == last ? still + 1 : 0;
            last = a;
        }
        MUST(cask_sleep(0.05));
        long rss = rss_kb("VmRSS:");
        struct report r = {(long)cask_server_active(srv), rss - base, rss};
        if (write(sh->res, &r, sizeof r) != (ssize_t)sizeof r)
            exit(1);
        pipe_byte(sh->ctl); /* until the end of file: the clients are done */
    }
    return cask_server_close(srv, 0);
}

/* A client process: n connections to port, then on each command byte: 'e' echo one byte on
 * every 1000th connection and report how many came back; end of file: close all and exit. */
static void client_proc(uint16_t port, long n, int ctl, int res, int k)
{
    /* a source address of its own (127.0.0.2 + k), so N is not capped by one address's
     * ephemeral ports (ip_local_port_range: about 28,000) */
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)k);
    int *fds = malloc(sizeof *fds * (size_t)n);
    if (!fds)
        exit(1);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (long i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&src, sizeof src) < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0) {
            fprintf(stderr, "client connect %ld: %s\n", i, strerror(errno));
            exit(1);
        }
    }
    long echoed = 0;
    if (write(res, &echoed, sizeof echoed) != (ssize_t)sizeof echoed) /* connected */
        exit(1);
    char cmd;
    while (read(ctl, &cmd, 1) == 1) {
        echoed = 0;
        for (long i = 0; i < n; i += 1000) {
            char c = 'x', d = 0;
            struct pollfd p = {.fd = fds[i], .events = POLLIN};
            if (write(fds[i], &c, 1) == 1 && poll(&p, 1, 2000) == 1 && read(fds[i], &d, 1) == 1)
                echoed += d == 'x';
        }
        if (write(res, &echoed, sizeof echoed) != (ssize_t)sizeof echoed)
            exit(1);
    }
    for (long i = 0; i < n; i++)
        close(fds[i]);
    exit(0);
}

static void must_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("pipe2");
        exit(1);
    }
}

static int read_full(int fd, void *buf, size_t len)
{
    char *b = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, b + got, len - got);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static void run_split(long n, int procs, bool compact)
{
    /* the port: bound (SO_REUSEPORT, not listening) until every shard listens on it */
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (hold < 0 || setsockopt(hold, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        setsockopt(hold, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(hold, (struct sockaddr *)&a, sizeof a) || getsockname(hold, (struct sockaddr *)&a, &al)) {
        perror("reserving a port");
        exit(1);
    }
    uint16_t port = ntohs(a.sin_port);
    int sctl[2], sres[2], sready[2], cres[2];
    must_pipe(sres);
    must_pipe(sready);
    must_pipe(cres);
    must_pipe(sctl);
    pid_t *srvs = calloc((size_t)procs, sizeof *srvs), *clis = calloc((size_t)procs, sizeof *clis);
    int *cctl = calloc((size_t)procs, sizeof *cctl);
    if (!srvs || !clis || !cctl)
        exit(1);
    for (int i = 0; i < procs; i++) {
        if ((srvs[i] = fork()) == 0) {
            close(hold); /* and the other ends, so that the ends of file arrive */
            close(sctl[1]);
            close(sres[0]);
            close(sready[0]);
            close(cres[0]);
            close(cres[1]);
            int fl = O_NONBLOCK;
            fcntl(sctl[0], F_SETFL, fl);
            struct shard sh = {port, compact, sctl[0], sres[1], sready[1]};
            MUST(cask_run(shard_main, &sh));
            exit(0);
        }
    }
    for (int i = 0; i < procs; i++) {
        char c;
        if (read(sready[0], &c, 1) != 1) {
            fprintf(stderr, "a server process did not start\n");
            exit(1);
        }
    }
    close(hold);
    close(sres[1]); /* so that a process that failed is seen (end of file) */
    close(sready[1]);
    double t0 = now();
    for (int i = 0; i < procs; i++) {
        int p[2];
        must_pipe(p);
        long share = n / procs + (i < n % procs);
        if ((clis[i] = fork()) == 0) {
            close(p[1]);
            for (int j = 0; j < i; j++)
                close(cctl[j]); /* the earlier clients' commands: theirs to see end */
            close(sctl[1]);
            close(cres[0]);
            client_proc(port, share, p[0], cres[1], i);
        }
        close(p[0]);
        cctl[i] = p[1];
    }
    close(cres[1]);
    for (int i = 0; i < procs; i++) {
        long x;
        if (read_full(cres[0], &x, sizeof x)) {
            fprintf(stderr, "a client process failed\n");
            exit(1);
        }
    }
    double dt = now() - t0;
    char go[48];
    memset(go, 'm', sizeof go);
    if (procs < 1 || procs > (int)sizeof go || write(sctl[1], go, (size_t)procs) != procs)
        exit(1);
    long conns = 0, growth = 0, total = 0;
    for (int i = 0; i < procs; i++) {
        struct report r;
        if (read_full(sres[0], &r, sizeof r)) {
            fprintf(stderr, "a server process failed\n");
            exit(1);
        }
        conns += r.conns;
        growth += r.growth_kb;
        total += r.rss_kb;
    }
    long echoed = 0;
    for (int i = 0; i < procs; i++)
        if (write(cctl[i], "e", 1) != 1)
            exit(1);
    for (int i = 0; i < procs; i++) {
        long e;
        if (read_full(cres[0], &e, sizeof e))
            exit(1);
        echoed += e;
    }
    long want_echo = 0;
    for (int i = 0; i < procs; i++)
        want_echo += (n / procs + (i < n % procs) + 999) / 1000;
    printf("RESULT idle_conns %s conns=%ld rss_mb=%.1f bytes_per_conn=%.0f connect_s=%.2f "
           "procs=%d total_rss_mb=%.1f echoed=%ld/%ld\n",
           compact ? "cask_compact" : "cask_ordinary", conns, (double)growth / 1024.0,
           (double)growth * 1024.0 / (double)n, dt, procs, (double)total / 1024.0, echoed,
           want_echo);
    for (int i = 0; i < procs; i++) {
        close(cctl[i]);
        waitpid(clis[i], NULL, 0);
    }
    close(sctl[1]);
    for (int i = 0; i < procs; i++)
        waitpid(srvs[i], NULL, 0);
    close(sctl[0]);
    close(sres[0]);
    close(sready[0]);
    close(cres[0]);
    free(srvs);
    free(clis);
    free(cctl);
    if (conns != n) {
        fprintf(stderr, "cask_idle_conns: %ld of %ld connections held\n", conns, n);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *sel = getenv("CASK_BENCH_WORKLOADS"); /* bench/run.sh: only when selected */
    if (argc < 2 && sel && *sel && !strstr(sel, "idle_conns"))
        return 0;
    long n = argc > 1 ? atol(argv[1]) : scale(100000);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = (rlim_t)(2 * n + 1000);
    int procs = 0; /* 0: one process holds both ends */
    if (rl.rlim_cur < want) {
        struct rlimit up = {want, rl.rlim_max < want ? want : rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
            /* no CAP_SYS_RESOURCE: split the server so each process stays under the limit */
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            long per = ((long)rl.rlim_max - 1000) * 3 / 4; /* room for SO_REUSEPORT's uneven hash */
            if (per < 1)
                return 1;
            procs = (int)((n + per - 1) / per);
            if (procs > 48)
                procs = 48;
            fprintf(stderr, "cask_idle_conns: fd hard limit %lu < %lu: the server runs as %d "
                    "processes sharing the port\n", (unsigned long)rl.rlim_max,
                    (unsigned long)want, procs);
            signal(SIGPIPE, SIG_IGN);
        }
    }
    const char *which = getenv("CASK_IDLE_KIND"); /* "compact", "ordinary", or both */
    for (int compact = 1; compact >= 0; compact--) {
        if (which && strcmp(which, compact ? "compact" : "ordinary") != 0)
            continue;
        if (procs) {
            run_split(n, procs, compact);
            continue;
        }
        struct run r = {n, compact};
        MUST(cask_run(idle_main, &r));
    }
    return 0;
}

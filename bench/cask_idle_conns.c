/*
 * cask_idle_conns.c: an echo server whose handlers are compact tasks, holding many idle
 * connections: the resident memory it takes per connection.
 *
 *   idle_conns   N connections (100,000; 10,000 in quick mode) from this same process to the
 *                server on 127.0.0.1, each handler parked in cask_recv; then one byte echoed on
 *                every 1000th connection to show the handlers work. Prints the resident size
 *                growth (VmRSS after all connected - VmRSS before) in MB and per connection,
 *                for compact handlers, then for ordinary handlers (each on its own stack).
 *                The client sockets hold no user memory (an fd each); both ends need a file
 *                descriptor, so the soft limit is raised to 2N + 1000 (the hard limit must
 *                allow it: ulimit -n, or root).
 *
 * usage: cask_idle_conns [N]
 */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (rl.rlim_max < want)
            rl.rlim_max = want; /* root only */
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            /* no root (or no CAP_SYS_RESOURCE): as many as the hard limit allows */
            getrlimit(RLIMIT_NOFILE, &rl);
            long fit = ((long)rl.rlim_max - 1000) / 2;
            fprintf(stderr, "cask_idle_conns: the fd limit cannot reach %lu (hard limit %lu): "
                    "%ld connections instead of %ld\n", (unsigned long)want,
                    (unsigned long)rl.rlim_max, fit, n);
            if (fit < 1)
                return 1;
            n = fit;
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    const char *which = getenv("CASK_IDLE_KIND"); /* "compact", "ordinary", or both */
    for (int compact = 1; compact >= 0; compact--) {
        if (which && strcmp(which, compact ? "compact" : "ordinary") != 0)
            continue;
        struct run r = {n, compact};
        MUST(cask_run(idle_main, &r));
    }
    return 0;
}

/* 43_port_scan.c: a TCP port scanner over 127.0.0.1. WORKERS tasks take ports from a shared
 * counter and try to connect, each attempt bounded by its own timeout scope. With no
 * arguments it opens three listeners on free ports and scans the 2,000 ports around the first
 * one; or:  43_port_scan FIRST LAST [HOST]. */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>

#define WORKERS 64
#define CONNECT_TIMEOUT 0.5

struct scan {
    const char *host;
    unsigned next, last;
    unsigned nopen;
    uint16_t open[256];
    unsigned refused, timed_out, other;
};

static int scanner(void *arg)
{
    struct scan *s = arg;
    while (s->next <= s->last) {
        uint16_t port = (uint16_t)s->next++;
        cask_scope sc;
        cask_timeout_open(&sc, CONNECT_TIMEOUT);
        int fd = cask_tcp_connect(s->host, port);
        int rc = cask_scope_close(&sc, fd < 0 ? fd : 0);
        if (rc == 0) {
            if (s->nopen < sizeof s->open / sizeof s->open[0])
                s->open[s->nopen++] = port;
            cask_close(fd);
        } else if (rc == -ECONNREFUSED) {
            s->refused++;
        } else if (rc == -ETIMEDOUT) {
            s->timed_out++;
        } else if (rc == -ECANCELED) {
            return rc;
        } else {
            s->other++;
        }
    }
    return 0;
}

static int scan(struct scan *s)
{
    cask_task *t[WORKERS];
    int rc = 0, k = 0;
    double t0 = cask_time();
    for (; k < WORKERS && rc == 0; k++)
        rc = cask_spawn(&t[k], scanner, s);
    if (rc == 0)
        rc = cask_gather(t, (size_t)k, NULL);
    for (int i = 0; i < k; i++)
        cask_release(t[i]);
    /* the workers finish in any order: sort the open ports */
    for (unsigned i = 1; i < s->nopen; i++)
        for (unsigned j = i; j > 0 && s->open[j - 1] > s->open[j]; j--) {
            uint16_t x = s->open[j];
            s->open[j] = s->open[j - 1];
            s->open[j - 1] = x;
        }
    printf("scanned %s in %.2f s with %d workers: %u open, %u refused, %u timed out, %u other\n",
           s->host, cask_time() - t0, WORKERS, s->nopen, s->refused, s->timed_out, s->other);
    return rc;
}

static int demo(void *arg)
{
    (void)arg;
    int l[3];
    uint16_t ports[3];
    for (int i = 0; i < 3; i++) {
        l[i] = cask_tcp_listen("127.0.0.1", 0, NULL);
        if (l[i] < 0)
            return l[i];
        struct cask_addr a;
        cask_sockname(l[i], &a);
        ports[i] = cask_addr_port(&a);
    }
    unsigned first = ports[0] > 1000 ? ports[0] - 1000u : 1u;
    unsigned last = first + 1999u > 65535u ? 65535u : first + 1999u;
    struct scan s = {.host = "127.0.0.1", .next = first, .last = last};
    int rc = scan(&s);
    int found = 0;
    for (int i = 0; i < 3; i++) {
        bool in_range = ports[i] >= first && ports[i] <= last;
        bool seen = false;
        for (unsigned j = 0; j < s.nopen; j++)
            seen = seen || s.open[j] == ports[i];
        printf("listener %d: %s\n", i + 1,
               !in_range ? "outside the range" : seen ? "found open" : "MISSED");
        found += seen || !in_range;
        cask_close(l[i]);
    }
    return rc ? rc : found == 3 ? 0 : -EPROTO;
}

static int cli(void *arg)
{
    char **argv = arg;
    struct scan s = {.host = argv[3] ? argv[3] : "127.0.0.1",
                     .next = (unsigned)atoi(argv[1]),
                     .last = (unsigned)atoi(argv[2])};
    if (s.next < 1 || s.last > 65535 || s.next > s.last)
        return -EINVAL;
    int rc = scan(&s);
    for (unsigned i = 0; i < s.nopen; i++)
        printf("%u open\n", s.open[i]);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 1 && argc != 3 && argc != 4) {
        fprintf(stderr, "usage: 43_port_scan [FIRST LAST [HOST]]\n");
        return 2;
    }
    int rc = argc > 1 ? cask_run(cli, argv) : cask_run(demo, NULL);
    if (rc)
        fprintf(stderr, "43_port_scan: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

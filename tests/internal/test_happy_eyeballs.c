/* test_happy_eyeballs.c: the connection race of cask_tcp_connect (RFC 8305) on addresses we
 * control: a blackholed listener (full accept queue), a refused port, a live one. */
#define _GNU_SOURCE
#include "../cask_test.h"
#include "io/net_internal.h"

#include <unistd.h>

struct he_case {
    bool first_blackhole; /* else refused */
    double want;          /* seconds until connected */
};

static int he_main(void *arg)
{
    struct he_case *hc = arg;
    int live = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(live >= 0);
    struct cask_listen_opts lo = {.backlog = 1};
    int hole = cask_tcp_listen("127.0.0.1", 0, &lo);
    CHECK(hole >= 0);
    struct cask_addr addrs[2], ha;
    CHECK_EQ(cask_sockname(live, &addrs[1]), 0);
    CHECK_EQ(cask_sockname(hole, &ha), 0);
    int fill[4], nf = 0;
    for (int i = 0; i < 4; i++) {
        cask_scope sc;
        CHECK_EQ(cask_move_on_open(&sc, 0.05), 0);
        int fd = cask_connect_addr(&ha, SOCK_STREAM);
        CHECK_EQ(cask_scope_close(&sc, fd < 0 ? fd : 0), 0);
        if (fd >= 0)
            fill[nf++] = fd;
    }
    if (hc->first_blackhole) {
        addrs[0] = ha;
    } else {
        int tmp = cask_tcp_listen("127.0.0.1", 0, NULL);
        CHECK_EQ(cask_sockname(tmp, &addrs[0]), 0);
        cask_close(tmp);
    }
    long live_allocs = ct_allocs_live();
    double t0 = cask_time();
    int fd = cask__happy_eyeballs(addrs, 2);
    double took = cask_time() - t0;
    CHECK(fd >= 0);
    CHECK_NEAR(took, hc->want, 0.08);
    struct cask_addr peer;
    CHECK_EQ(cask_peername(fd, &peer), 0);
    CHECK_EQ(cask_addr_port(&peer), cask_addr_port(&addrs[1]));
    CHECK(ct_allocs_live() - live_allocs <= 2);
    cask_close(fd);
    for (int i = 0; i < nf; i++)
        cask_close(fill[i]);
    cask_close(hole);
    cask_close(live);
    /* every attempt failing: the last error */
    struct cask_addr bad[3];
    for (int i = 0; i < 3; i++) {
        int tmp = cask_tcp_listen("127.0.0.1", 0, NULL);
        CHECK_EQ(cask_sockname(tmp, &bad[i]), 0);
        cask_close(tmp);
    }
    CHECK_EQ(cask__happy_eyeballs(bad, 3), -ECONNREFUSED);
    return 0;
}

TEST(he_stagger_after_blackhole)
{
    struct he_case hc = {true, 0.25};
    CHECK_EQ(cask_run(he_main, &hc), 0);
}
TEST(he_next_at_once_after_refusal)
{
    struct he_case hc = {false, 0.0};
    CHECK_EQ(cask_run(he_main, &hc), 0);
}

TEST(he_interleave)
{
    struct cask_addr a[5];
    cask_addr_ip(&a[0], "::1", 1);
    cask_addr_ip(&a[1], "::2", 1);
    cask_addr_ip(&a[2], "::3", 1);
    cask_addr_ip(&a[3], "1.0.0.1", 1);
    cask_addr_ip(&a[4], "1.0.0.2", 1);
    cask__interleave(a, 5);
    const char *want[5] = {"[::1]:1", "1.0.0.1:1", "[::2]:1", "1.0.0.2:1", "[::3]:1"};
    for (int i = 0; i < 5; i++) {
        char buf[64];
        cask_addr_format(&a[i], buf, sizeof buf);
        CHECK_STR(buf, want[i]);
    }
}

/* Allocation failures while racing: -ENOMEM (or a connection), nothing left behind. */
static int he_nomem_main(void *arg)
{
    (void)arg;
    struct cask_addr addrs[2];
    int l = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK(l >= 0);
    int tmp = cask_tcp_listen("127.0.0.1", 0, NULL);
    CHECK_EQ(cask_sockname(tmp, &addrs[0]), 0);
    cask_close(tmp);
    CHECK_EQ(cask_sockname(l, &addrs[1]), 0);
    for (long n = 1; n <= 6; n++) {
        ct_fail_alloc_after(n);
        int fd = cask__happy_eyeballs(addrs, 2);
        ct_fail_alloc_after(0);
        CHECK(fd >= 0 || fd == -ENOMEM);
        if (fd >= 0)
            cask_close(fd);
    }
    cask_close(l);
    return 0;
}
TEST(he_enomem) { CHECK_EQ(cask_run(he_nomem_main, NULL), 0); }

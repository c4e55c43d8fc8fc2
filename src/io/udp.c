/*
 * udp.c: datagram sockets, bound (any peer, recvfrom/sendto) or connected (one peer).
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <unistd.h>

static int udp_resolve(const char *host, uint16_t port, struct cask_addr *a)
{
    if (cask_addr_ip(a, host, port) == 0)
        return 0;
    int rc = cask_resolve(host, port, AF_UNSPEC, SOCK_DGRAM, a, 1);
    return rc < 0 ? rc : 0;
}

int cask_udp_bind(const char *host, uint16_t port)
{
    struct cask_addr a;
    int rc;
    bool any = !host || !*host;
    if (any)
        cask_addr_ip(&a, "::", port);
    else if ((rc = udp_resolve(host, port, &a)))
        return rc;
    int fd = cask__socket(a.u.sa.sa_family, SOCK_DGRAM);
    if (fd == -EAFNOSUPPORT && any) {
        cask_addr_ip(&a, "0.0.0.0", port);
        fd = cask__socket(AF_INET, SOCK_DGRAM);
    }
    if (fd < 0)
        return fd;
    if (a.u.sa.sa_family == AF_INET6) {
        int zero = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (bind(fd, &a.u.sa, a.len) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int cask_udp_connect(const char *host, uint16_t port)
{
    if (!host)
        return -EINVAL;
    struct cask_addr a;
    int rc = udp_resolve(host, port, &a);
    if (rc)
        return rc;
    int fd = cask__socket(a.u.sa.sa_family, SOCK_DGRAM);
    if (fd < 0)
        return fd;
    if (connect(fd, &a.u.sa, a.len) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

ssize_t cask_recvfrom(int fd, void *buf, size_t n, struct cask_addr *from)
{
    struct cask_addr tmp;
    struct cask_addr *a = from ? from : &tmp;
    a->len = sizeof a->u;
    return cask__sock_io(fd, false, buf, n, 0, a);
}

ssize_t cask_sendto(int fd, const void *buf, size_t n, const struct cask_addr *to)
{
    return cask__sock_io(fd, true, (void *)buf, n, 0, (struct cask_addr *)to);
}

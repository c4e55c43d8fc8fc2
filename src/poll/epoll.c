/*
 * epoll.c: the Linux epoll backend of poll.h. fds are registered once, edge-triggered, for
 * input, output and peer hang-up; waits use epoll_pwait2 for nanosecond timeouts where the
 * kernel has it (5.11+), epoll_wait with milliseconds rounded up otherwise.
 */
#define _GNU_SOURCE
#include "poll.h"

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

#define MAX_EVENTS CASK__EPOLL_BATCH

struct epoll_backend {
    struct cask__poll base;
    int epfd;
    bool no_pwait2;
    struct epoll_event ev[MAX_EVENTS];
};
_Static_assert(sizeof(struct epoll_backend) <= sizeof(struct cask__epoll), "cask__epoll too small");
_Static_assert(_Alignof(struct epoll_backend) <= _Alignof(struct cask__epoll), "cask__epoll align");

int cask__epoll_init(struct cask__epoll *storage)
{
    struct epoll_backend *p = (struct epoll_backend *)storage;
    memset(p, 0, sizeof *p);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        return -errno;
    p->base.ops = &cask__epoll_ops;
#if CASK__TSAN
    /* ThreadSanitizer defers a signal that arrives outside the calls it knows to block, and
     * it does not know the raw epoll_pwait2 syscall: use the intercepted epoll_wait */
    p->no_pwait2 = true;
#endif
    return 0;
}

void cask__epoll_fini(struct cask__epoll *storage)
{
    close(((struct epoll_backend *)storage)->epfd);
}

static int ep_open(struct cask__poll **out)
{
    struct cask__epoll *p = cask__malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    int rc = cask__epoll_init(p);
    if (rc) {
        cask__free(p);
        return rc;
    }
    *out = &p->base;
    return 0;
}

static void ep_close(struct cask__poll *pp)
{
    struct epoll_backend *p = (struct epoll_backend *)pp;
    close(p->epfd);
    cask__free(p);
}

static int ep_add(struct cask__poll *pp, int fd)
{
    struct epoll_backend *p = (struct epoll_backend *)pp;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno == EEXIST && epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    return errno == EPERM ? -EPERM : -errno;
}

static int ep_del(struct cask__poll *pp, int fd)
{
    struct epoll_backend *p = (struct epoll_backend *)pp;
    return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno;
}

static int ep_wait(struct cask__poll *pp, uint64_t timeout_ns, cask__poll_ready_fn ready,
                   cask_loop *l)
{
    struct epoll_backend *p = (struct epoll_backend *)pp;
    int n;
    if (timeout_ns == 0 || timeout_ns == CASK__NEVER || p->no_pwait2) {
        int ms;
        if (timeout_ns == CASK__NEVER)
            ms = -1;
        else if (timeout_ns > (uint64_t)INT32_MAX * 1000000u)
            ms = INT32_MAX;
        else
            ms = (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(p->epfd, p->ev, MAX_EVENTS, ms);
    } else {
        struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
        n = (int)syscall(SYS_epoll_pwait2, p->epfd, p->ev, MAX_EVENTS, &ts, NULL, 0);
        if (n < 0 && errno == ENOSYS) {
            p->no_pwait2 = true;
            return ep_wait(pp, timeout_ns, ready, l);
        }
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = p->ev[i].events;
        int ev = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            ev |= CASK_READABLE;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            ev |= CASK_WRITABLE;
        ready(l, p->ev[i].data.fd, ev);
    }
    return n;
}

const struct cask__poll_ops cask__epoll_ops = {
    .name = "epoll",
    .open = ep_open,
    .close = ep_close,
    .add = ep_add,
    .del = ep_del,
    .wait = ep_wait,
};

int cask__epoll_fd(const struct cask__poll *p) { return ((const struct epoll_backend *)p)->epfd; }

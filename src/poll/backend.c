/*
 * backend.c: picks the loop's I/O backend at loop start. The default is io_uring when the
 * library was built with liburing and the kernel lets this process use it (the probe is the
 * ring's own setup: it fails under kernel.io_uring_disabled, seccomp filters, old kernels and
 * qemu-user), else epoll. $CASK_BACKEND or cask_config.backend names one explicitly.
 * It also sets the network path: sockets through the ring or through readiness ($CASK_NET or
 * cask_config.net; the ring only where the backend has one and the kernel the operations).
 */
#define _GNU_SOURCE
#include "poll.h"

#include <stdlib.h>

static const struct cask__poll_ops *by_name(const char *name, int *err)
{
    if (!strcmp(name, "epoll"))
        return &cask__epoll_ops;
    if (!strcmp(name, "io_uring") || !strcmp(name, "uring")) {
#if CASK_HAVE_URING
        return &cask__uring_ops;
#else
        *err = -ENOSYS;
        return NULL;
#endif
    }
    *err = -EINVAL;
    return NULL;
}

static int open_backend(struct cask__poll **out, const char *want)
{
    if (!want || !*want)
        want = getenv("CASK_BACKEND");
    if (want && *want) {
        int err = 0;
        const struct cask__poll_ops *ops = by_name(want, &err);
        return ops ? ops->open(out) : err;
    }
#if CASK_HAVE_URING && !CASK__TSAN
    /* (ThreadSanitizer defers signals that arrive outside the blocking calls it intercepts,
     * and io_uring_enter is not one of them: its builds default to epoll) */
    if (cask__uring_ops.open(out) == 0)
        return 0;
#endif
    return cask__epoll_ops.open(out);
}

int cask__poll_open(struct cask__poll **out, const char *want, const char *net)
{
    if (!net || !*net)
        net = getenv("CASK_NET");
    if (!net || !*net)
        net = CASK__NET_DEFAULT;
    bool ring = !strcmp(net, "ring");
    if (!ring && strcmp(net, "ready"))
        return -EINVAL;
    int rc = open_backend(out, want);
    if (rc == 0)
        (*out)->net_ring = ring && (*out)->ops->net_capable && (*out)->ops->net_capable(*out);
    return rc;
}

bool cask__op_on_cancel(struct cask__waiter *w)
{
    struct cask__op *op = (struct cask__op *)w;
    if (!op->cancelling) {
        op->cancelling = 1;
        cask__poll_cancel(w->task->loop->poll, op);
    }
    return false;
}

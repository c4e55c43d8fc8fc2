/*
 * fd.c: the public waits on file descriptors (readable, writable) and dropping an fd's
 * registration; the registry itself is the loop's (core/fdtab.c).
 */
#define _GNU_SOURCE
#include "net_internal.h"

int cask_wait_fd(int fd, int events)
{
    cask_loop *l = cask__loop;
    cask_task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (events <= 0 || (events & ~(CASK_READABLE | CASK_WRITABLE)))
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    return cask__fd_wait(l, self, fd, events);
}

int cask_fd_forget(int fd)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    cask__fd_forget(l, fd);
    cask__ring_forget(fd); /* socket calls on the ring (io/net_ring.c) */
    return 0;
}

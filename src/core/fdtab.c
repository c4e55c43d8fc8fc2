/*
 * fdtab.c: the loop's fd registry. fds are registered with the backend once, edge-triggered;
 * the table remembers, per fd, the readiness edges seen and not yet consumed and the tasks
 * parked on it, so a task waits only after an operation returned EAGAIN. The backend reports
 * readiness through cask__fd_ready; io/fd.c exposes the waits to users.
 */
#define _GNU_SOURCE
#include "../internal.h"
#include "../poll/poll.h"

#include <fcntl.h>

static int grow(cask_loop *l, int fd)
{
    if (fd < l->nfds_cap)
        return 0;
    int cap = l->nfds_cap ? l->nfds_cap : 64;
    while (cap <= fd)
        cap *= 2;
    struct cask__fd *n = cask__realloc(l->fds, (size_t)cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    memset(n + l->nfds_cap, 0, (size_t)(cap - l->nfds_cap) * sizeof *n);
    l->fds = n;
    l->nfds_cap = cap;
    return 0;
}

static bool fd_on_cancel(struct cask__waiter *w)
{
    cask_loop *l = w->task->loop;
    struct cask__fd *e = &l->fds[(int)w->value];
    if (e->rd == w)
        e->rd = NULL;
    if (e->wr == w)
        e->wr = NULL;
    l->nwatch--;
    return true;
}

void cask__fd_ready(cask_loop *l, int fd, int events)
{
    if (fd < 0 || fd >= l->nfds_cap)
        return;
    struct cask__fd *e = &l->fds[fd];
    if (CASK__UNLIKELY(l->trace))
        cask__trace_loop(l, CASK__TR_FD, fd, (uint64_t)events);
    e->ready |= (uint8_t)events;
    struct cask__waiter *ws[2] = {e->rd, e->wr};
    for (int i = 0; i < 2; i++) {
        struct cask__waiter *w = ws[i];
        if (!w || (i == 1 && w == ws[0]))
            continue;
        int want = (int)(w->data ? (intptr_t)w->data : 0);
        int got = e->ready & want;
        if (!got)
            continue;
        e->ready &= (uint8_t)~got;
        if (e->rd == w)
            e->rd = NULL;
        if (e->wr == w)
            e->wr = NULL;
        l->nwatch--;
        cask__wake(w->task, got);
    }
}

int cask__fd_wait(cask_loop *l, cask_task *self, int fd, int events)
{
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    if (fd >= l->nfds_cap && fcntl(fd, F_GETFD) < 0)
        return -EBADF; /* before sizing the table for it: fds past the table may be bogus */
    int rc = grow(l, fd);
    if (rc)
        return rc;
    struct cask__fd *e = &l->fds[fd];
    if (!e->registered) {
        rc = cask__poll_add(l->poll, fd);
        if (rc == -EPERM) /* regular files and the like are always ready */
            return events;
        if (rc)
            return rc;
        e->registered = 1;
        e->ready = 0;
        e->memfile = 0; /* a socket or pipe now: the number was reused behind cask's back */
    }
    if (e->ready & events) {
        int got = e->ready & events;
        e->ready &= (uint8_t)~got;
        return got;
    }
    if (((events & CASK_READABLE) && e->rd) || ((events & CASK_WRITABLE) && e->wr))
        return -EEXIST;
    struct cask__waiter *w = CASK__REC(self, struct cask__waiter);
    cask__waiter_init(w, events == CASK_WRITABLE ? "fd write" : "fd read", NULL);
    w->obj = (const void *)(intptr_t)fd;
    w->value = fd;
    w->data = (void *)(intptr_t)events;
    w->on_cancel = fd_on_cancel;
    w->task = self;
    if (events & CASK_READABLE)
        e->rd = w;
    if (events & CASK_WRITABLE)
        e->wr = w;
    l->nwatch++;
    return cask__park(w);
}

int cask__fd_set_memfile(cask_loop *l, int fd)
{
    int rc = grow(l, fd);
    if (rc)
        return rc;
    l->fds[fd].memfile = 1;
    return 0;
}

void cask__fd_forget(cask_loop *l, int fd)
{
    if (fd < 0 || fd >= l->nfds_cap)
        return;
    struct cask__fd *e = &l->fds[fd];
    e->memfile = 0;
    if (!e->registered)
        return;
    cask__poll_del(l->poll, fd);
    struct cask__waiter *ws[2] = {e->rd, e->wr};
    e->rd = e->wr = NULL;
    e->registered = 0;
    e->ready = 0;
    for (int i = 0; i < 2; i++) {
        if (ws[i] && !(i == 1 && ws[1] == ws[0])) {
            l->nwatch--;
            cask__wake(ws[i]->task, -EBADF);
        }
    }
}

void cask__fds_close(cask_loop *l)
{
    cask__free(l->fds);
    l->fds = NULL;
    l->nfds_cap = 0;
}

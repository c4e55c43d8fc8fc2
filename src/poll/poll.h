/*
 * poll.h: the I/O readiness backend behind a handful of functions; one file per backend
 * (epoll.c on Linux). Registration is edge-triggered: a backend reports each new readiness of
 * a registered fd once, and the loop remembers it until a task consumes it.
 */
#ifndef CASK_POLL_H
#define CASK_POLL_H

#include "../internal.h"

struct cask__poll;
typedef void (*cask__poll_ready_fn)(cask_loop *l, int fd, int events);

int cask__poll_open(struct cask__poll **out);
void cask__poll_close(struct cask__poll *p);
/* Watches fd for readability and writability (edge-triggered). 0, or a negative errno. */
int cask__poll_add(struct cask__poll *p, int fd);
/* Stops watching fd. */
int cask__poll_del(struct cask__poll *p, int fd);
/* Waits up to timeout_ns (CASK__NEVER: forever, 0: not at all) and calls ready() for each fd
 * that became ready. Returns the number of events, or a negative errno (never -EINTR). */
int cask__poll_wait(struct cask__poll *p, uint64_t timeout_ns, cask__poll_ready_fn ready,
                    cask_loop *l);

#endif

/*
 * server.c: asyncio.start_server. One accepting task per server; every connection gets one
 * allocation (its record with the stream inside) and a handler task. Connection records are
 * linked in the server so that closing can wait for them, then cancel them. Running out of fds
 * pauses accepting with a short back-off instead of spinning or dropping the listener.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <netinet/tcp.h>
#include <unistd.h>

#define BACKOFF_MIN_NS 10000000u  /* 10 ms */
#define BACKOFF_MAX_NS 100000000u /* 100 ms */

struct conn {
    struct conn *prev, *next;
    cask_server *srv;
    cask_task *task;
    struct cask_stream st;
};

struct cask_server {
    int fd;
    uint16_t port;
    bool closing;
    char *path; /* Unix socket file to remove at close */
    cask_conn_fn fn;
    void *arg;
    struct cask_server_opts opts;
    cask_task *acceptor;
    struct conn *head;
    size_t active;
    uint64_t accepted;
    struct cask__wq changed; /* woken whenever a connection ends */
    struct cask__wq closed;  /* cask_server_wait */
};

static void wake_all(struct cask__wq *q)
{
    struct cask__waiter *w;
    while ((w = cask__wq_pop(q)))
        cask__signal(w, 0);
}

/* Parks on q until signalled; 0 or -ECANCELED. */
static int wait_on(struct cask__wq *q, const char *what, const void *obj)
{
    struct cask__waiter w;
    cask__waiter_init(&w, what, obj);
    w.task = cask__self();
    cask__wq_push(q, &w);
    return cask__park(&w);
}

static void conn_unlink(cask_server *srv, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->active--;
    wake_all(&srv->changed);
}

static int conn_main(void *p)
{
    struct conn *c = p;
    cask_server *srv = c->srv;
    (void)srv->fn(&c->st, srv->arg);
    cask__stream_release(&c->st);
    conn_unlink(srv, c);
    cask_release(c->task); /* runs on detached and is freed when it returns */
    cask__free(c);
    return 0;
}

static int conn_start(cask_server *srv, int fd)
{
    struct conn *c = cask__malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    cask__stream_setup(&c->st, fd, true, &srv->opts.stream);
    c->st.embedded = true;
    if (!srv->path) { /* asyncio and Go do the same: replies are not held back by Nagle */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->srv = srv;
    struct cask_spawn_opts o = {.name = "conn", .stack_size = srv->opts.stack_size};
    int rc = cask_spawn_with(&c->task, conn_main, c, &o);
    if (rc) {
        cask__free(c);
        return rc;
    }
    c->prev = NULL;
    c->next = srv->head;
    if (srv->head)
        srv->head->prev = c;
    srv->head = c;
    srv->active++;
    srv->accepted++;
    return 0;
}

static int accept_main(void *p)
{
    cask_server *srv = p;
    uint64_t backoff = 0;
    for (;;) {
        if (srv->opts.max_connections && srv->active >= srv->opts.max_connections) {
            if (wait_on(&srv->changed, "server slots", srv) < 0)
                return 0;
            continue;
        }
        int fd = cask_accept(srv->fd, NULL);
        int rc = fd;
        if (fd >= 0) {
            rc = conn_start(srv, fd);
            if (rc == 0) {
                backoff = 0;
                continue;
            }
            close(fd);
        }
        if (rc == -ECANCELED)
            return 0;
        /* out of fds or memory (or a transient error): pause, keep the listener, retry */
        backoff = backoff ? backoff * 2 : BACKOFF_MIN_NS;
        if (backoff > BACKOFF_MAX_NS)
            backoff = BACKOFF_MAX_NS;
        if (cask_sleep((double)backoff / 1e9) < 0)
            return 0;
    }
}

static int server_new(cask_server **out, int fd, const char *path, cask_conn_fn fn, void *arg,
                      const struct cask_server_opts *opts)
{
    cask_server *srv = cask__calloc(1, sizeof *srv);
    if (!srv)
        goto out_close;
    srv->fd = fd;
    if (path) {
        size_t l = strlen(path);
        srv->path = cask__malloc(l + 1);
        if (!srv->path)
            goto out_free;
        memcpy(srv->path, path, l + 1);
    } else {
        struct cask_addr a;
        if (cask_sockname(fd, &a) == 0)
            srv->port = cask_addr_port(&a);
    }
    srv->fn = fn;
    srv->arg = arg;
    if (opts)
        srv->opts = *opts;
    struct cask_spawn_opts o = {.name = "server"};
    if (cask_spawn_with(&srv->acceptor, accept_main, srv, &o))
        goto out_free;
    *out = srv;
    return 0;
out_free:
    cask__free(srv->path);
    cask__free(srv);
out_close:
    close(fd);
    if (path)
        unlink(path);
    return -ENOMEM;
}

int cask_start_server(cask_server **out, const char *host, uint16_t port, cask_conn_fn handler,
                      void *arg, const struct cask_server_opts *opts)
{
    if (!out || !handler)
        return -EINVAL;
    *out = NULL;
    if (!cask__self())
        return -EPERM;
    int fd = cask_tcp_listen(host, port, opts ? &opts->listen : NULL);
    if (fd < 0)
        return fd;
    return server_new(out, fd, NULL, handler, arg, opts);
}

int cask_start_unix_server(cask_server **out, const char *path, cask_conn_fn handler, void *arg,
                           const struct cask_server_opts *opts)
{
    if (!out || !handler || !path)
        return -EINVAL;
    *out = NULL;
    if (!cask__self())
        return -EPERM;
    int fd = cask_unix_listen(path, opts ? &opts->listen : NULL);
    if (fd < 0)
        return fd;
    return server_new(out, fd, path, handler, arg, opts);
}

uint16_t cask_server_port(const cask_server *srv) { return srv ? srv->port : 0; }
int cask_server_fd(const cask_server *srv) { return srv && !srv->closing ? srv->fd : -1; }
size_t cask_server_active(const cask_server *srv) { return srv ? srv->active : 0; }
uint64_t cask_server_accepted(const cask_server *srv) { return srv ? srv->accepted : 0; }

int cask_server_wait(cask_server *srv)
{
    if (!srv)
        return -EINVAL;
    if (!cask__self())
        return -EPERM;
    if (srv->closing)
        return 0;
    return wait_on(&srv->closed, "server", srv);
}

int cask_server_close(cask_server *srv, double grace)
{
    if (!srv)
        return 0;
    if (!cask__self())
        return -EPERM;
    cask_scope sh;
    srv->closing = true;
    wake_all(&srv->closed);
    /* stop accepting: the accepting task ends before the listener goes */
    cask_shield_open(&sh);
    cask_cancel(srv->acceptor);
    int st = cask_join(srv->acceptor); /* its status does not matter */
    (void)st;
    cask_scope_close(&sh, 0);
    cask_release(srv->acceptor);
    cask_close(srv->fd);
    if (srv->path)
        unlink(srv->path);
    /* let the handlers finish, up to the grace period */
    int rc = 0;
    cask_scope mo;
    if (cask_move_on_open(&mo, grace > 0 ? grace : 0) == 0) {
        while (srv->active && rc == 0)
            rc = wait_on(&srv->changed, "server drain", srv);
        rc = cask_scope_close(&mo, rc);
    }
    bool cancelled = rc == -ECANCELED;
    /* then cancel the rest and wait for them to unwind */
    int count = 0;
    cask_shield_open(&sh);
    struct conn *c = srv->head, *next;
    for (; c; c = next) {
        next = c->next;
        count++;
        if (!(c->task->flags & CASK__TF_STARTED)) {
            /* the body will never run: the record is ours to free */
            cask_cancel(c->task);
            cask_release(c->task);
            conn_unlink(srv, c);
            cask__stream_release(&c->st);
            cask__free(c);
        } else {
            cask_cancel(c->task);
        }
    }
    while (srv->active)
        (void)wait_on(&srv->changed, "server drain", srv);
    cask_scope_close(&sh, 0);
    cask__free(srv->path);
    cask__free(srv);
    return cancelled ? -ECANCELED : count;
}

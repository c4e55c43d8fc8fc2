/*
 * server.c: asyncio.start_server. One accepting task per server owns a task group; every
 * connection gets one allocation (its record with the stream inside) and a handler task in that
 * group. Closing ends the accept loop (a cancelled scope, not a cancelled task), which then
 * closes the listener, waits for the handlers up to the grace period and cancels the group.
 * Running out of fds pauses accepting with a short back-off instead of spinning or dropping
 * the listener.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <math.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define BACKOFF_MIN_NS 10000000u  /* 10 ms */
#define BACKOFF_MAX_NS 100000000u /* 100 ms */

struct conn {
    struct conn *prev, *next;
    cask_server *srv;
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
    cask_group *group;     /* the handlers' group, on the acceptor's stack */
    cask_scope *accepting; /* the accept loop's scope, cancelled by close */
    double grace;
    int ncancelled; /* handlers still running after the grace period */
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
    struct cask__waiter *w = CASK__REC(cask__self(), struct cask__waiter);
    cask__waiter_init(w, what, obj);
    w->task = cask__self();
    cask__wq_push(q, w);
    return cask__park(w);
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

/* A handler task. Its status is the server's business, never the group's: always 0. */
static int conn_main(void *p)
{
    struct conn *c = p;
    cask_server *srv = c->srv;
    (void)srv->fn(&c->st, srv->arg);
    cask__stream_release(&c->st);
    conn_unlink(srv, c);
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
    c->srv = srv;
    struct cask_spawn_opts o = {
        .name = "conn", .stack_size = srv->opts.stack_size, .compact = srv->opts.compact};
    int rc = cask_group_spawn_with(srv->group, NULL, conn_main, c, &o);
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

static void accept_loop(cask_server *srv)
{
    uint64_t backoff = 0;
    for (;;) {
        if (srv->opts.max_connections && srv->active >= srv->opts.max_connections) {
            if (wait_on(&srv->changed, "server slots", srv) < 0)
                return;
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
            return;
        /* out of fds or memory (or a transient error): pause, keep the listener, retry */
        backoff = backoff ? backoff * 2 : BACKOFF_MIN_NS;
        if (backoff > BACKOFF_MAX_NS)
            backoff = BACKOFF_MAX_NS;
        if (cask_sleep((double)backoff / 1e9) < 0)
            return;
    }
}

static void listener_close(cask_server *srv)
{
    if (srv->fd < 0)
        return;
    cask_close(srv->fd);
    srv->fd = -1;
    if (srv->path)
        unlink(srv->path);
}

/*
 * The accepting task: accepts until close cancels its loop's scope (or the task itself is
 * cancelled), then shuts down: no new connections, the handlers get the grace period, then the
 * group cancels the rest and waits for them.
 */
static int accept_main(void *p)
{
    cask_server *srv = p;
    cask_group g;
    if (cask_group_open(&g) != 0)
        CASK__FATAL("server: cannot open the handlers' group");
    srv->group = &g;
    cask_scope acc;
    if (!srv->closing && cask_move_on_open(&acc, INFINITY) == 0) {
        srv->accepting = cask__scope_real(&acc); /* (a compact acceptor's is a heap box) */
        accept_loop(srv);
        srv->accepting = NULL;
        cask_scope_close(&acc, -ECANCELED);
    }
    listener_close(srv);
    int rc = 0;
    cask_scope mo;
    if (cask_move_on_open(&mo, srv->grace > 0 ? srv->grace : 0) == 0) {
        while (srv->active && rc == 0)
            rc = wait_on(&srv->changed, "server drain", srv);
        cask_scope_close(&mo, rc);
    }
    srv->ncancelled = (int)srv->active;
    cask_group_cancel(&g);
    rc = cask_group_close(&g, 0); /* waits for every handler */
    (void)rc;
    srv->group = NULL;
    /* handlers cancelled before their first run never ran: their records are left */
    while (srv->head) {
        struct conn *c = srv->head;
        conn_unlink(srv, c);
        cask__stream_release(&c->st);
        cask__free(c);
    }
    return 0;
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
    if (!path) { /* asyncio and Go do the same: replies are not held back by Nagle. Set on
                  * the listener, it is inherited by every accepted socket (Linux copies the
                  * listener's TCP options): no system call per connection */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    srv->closing = true;
    srv->grace = grace;
    wake_all(&srv->closed);
    if (srv->accepting)
        cask_scope_cancel(srv->accepting);
    int st;
    if (cask__cancelled(self)) {
        /* cancelled already: no grace; the acceptor cancels the handlers and waits for them */
        cask_scope sh;
        cask_cancel(srv->acceptor);
        cask_shield_open(&sh);
        st = cask_join(srv->acceptor);
        cask_scope_close(&sh, 0);
    } else {
        /* cancelled while waiting: join passes it on to the acceptor, which cuts the grace
         * period short, and still waits for it */
        st = cask_join(srv->acceptor);
    }
    (void)st;
    cask_release(srv->acceptor);
    listener_close(srv); /* when the acceptor was cancelled before it ever ran */
    int count = srv->ncancelled;
    cask__free(srv->path);
    cask__free(srv);
    return cask__cancelled(self) ? -ECANCELED : count;
}

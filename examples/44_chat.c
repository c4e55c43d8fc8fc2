/* 44_chat.c: a chat server: every line a client sends goes to every other client, prefixed
 * with the sender's name (the first line it sends). Each member has an outgoing queue and a
 * writer task of its own: a broadcast only queues the message (it never waits, so one stuck
 * reader never stalls the room, and no message is skipped because another one is being
 * written). A member whose queue overflows (OUTBOX messages waiting) or who cannot take a
 * message within a second is disconnected. With no arguments in-process clients chat (also in
 * bursts, and with one that never reads) and the demo checks that every message arrived; with
 * a port it serves until Ctrl-C:   44_chat 7001   (then, in several terminals: nc 127.0.0.1 7001);
 * kill -USR1 <pid> prints its task tree on stderr (docs/diagnostics.md shows one). */
#define _GNU_SOURCE
#include <cask.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_CLIENTS 64
#define OUTBOX 64 /* messages waiting for one member before it counts as too slow */

/* A message shared by every outbox it sits in; the last writer to finish with it frees it. */
struct msg {
    int refs;
    size_t len;
    char text[];
};

static void msg_unref(struct msg *m)
{
    if (--m->refs == 0)
        free(m);
}

struct member {
    cask_stream *s;
    cask_queue *outbox; /* struct msg * */
    char name[32];
    bool dropped;       /* too slow: its stream was closed */
};

static struct member *room[MAX_CLIENTS];

/* Too slow (or gone): close the stream; its reader and writer see -ENOTCONN and end. */
static void drop(struct member *m)
{
    if (!m->dropped) {
        m->dropped = true;
        cask_stream_close(m->s);
    }
}

/* Queues text for everyone but from; never waits. */
static void broadcast(const struct member *from, const char *text, size_t len)
{
    struct msg *m = malloc(sizeof *m + len);
    if (!m)
        return;
    m->refs = 1; /* ours, until every outbox has it */
    m->len = len;
    memcpy(m->text, text, len);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        struct member *to = room[i];
        if (!to || to == from || to->dropped)
            continue;
        m->refs++;
        if (cask_queue_put_nowait(to->outbox, m) != 0) {
            m->refs--;
            drop(to); /* its outbox is full: it does not keep up */
        }
    }
    msg_unref(m);
}

/* The member's writer: sends its outbox in order until the outbox is shut down. */
static int writer(void *arg)
{
    struct member *me = arg;
    void *item;
    while (cask_queue_get(me->outbox, &item) == 0) {
        struct msg *m = item;
        if (!me->dropped) {
            cask_scope sc;
            ssize_t n = cask_timeout_open(&sc, 1.0);
            if (n == 0)
                n = cask_stream_write(me->s, m->text, m->len);
            if (cask_scope_close(&sc, n < 0 ? (int)n : 0) != 0 || n != (ssize_t)m->len)
                drop(me);
        }
        msg_unref(m);
        (void)cask_queue_task_done(me->outbox);
    }
    return 0;
}

static int chat(cask_stream *s, void *arg)
{
    (void)arg;
    struct member me = {.s = s};
    int slot = -1;
    char line[512], out[600];
    ssize_t n = cask_stream_readline(s, line, sizeof line - 1);
    if (n <= 0)
        return 0;
    line[strcspn(line, "\r\n")] = 0;
    snprintf(me.name, sizeof me.name, "%.31s", line[0] ? line : "anonymous");
    for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
        if (!room[i])
            slot = i;
    if (slot < 0) {
        ssize_t w = cask_stream_write(s, "room full\n", 10);
        return w < 0 ? (int)w : 0;
    }
    int rc = cask_queue_new(&me.outbox, OUTBOX, CASK_QUEUE_FIFO, NULL);
    if (rc)
        return rc;
    cask_group g; /* the writer lives inside this block: closing the group waits for it */
    if ((rc = cask_group_open(&g)) != 0) {
        cask_queue_free(me.outbox);
        return rc;
    }
    rc = cask_group_spawn(&g, NULL, writer, &me);
    if (rc == 0) {
        room[slot] = &me;
        int len = snprintf(out, sizeof out, "* %s joined\n", me.name);
        broadcast(&me, out, (size_t)len);
        while ((n = cask_stream_readline(s, line, sizeof line - 1)) > 0) {
            line[strcspn(line, "\r\n")] = 0;
            len = snprintf(out, sizeof out, "[%s] %s\n", me.name, line);
            broadcast(&me, out, (size_t)len);
            /* one line per turn: readline takes buffered lines without waiting, and the
             * writers must get to run between the lines of a burst */
            if ((n = cask_yield()) != 0)
                break;
        }
        room[slot] = NULL;
        len = snprintf(out, sizeof out, "* %s %s\n", me.name, me.dropped ? "was too slow" : "left");
        broadcast(&me, out, (size_t)len);
        if (n == -ECANCELED)
            rc = (int)n; /* the server is closing: the group cancels the writer */
    }
    cask_queue_shutdown(me.outbox, false); /* the writer sends what is queued, then ends */
    rc = cask_group_close(&g, rc);
    void *item; /* left by a cancelled writer */
    while (cask_queue_get_nowait(me.outbox, &item) == 0)
        msg_unref(item);
    cask_queue_free(me.outbox);
    return rc == -ECANCELED ? 0 : rc;
}

/* ---- the demo: clients take turns, then send bursts; one never reads ---- */

struct client {
    uint16_t port;
    const char *name;
    cask_stream *s;
    char log[128 * 1024];
    size_t loglen;
};

static int listen_all(void *arg)
{
    struct client *c = arg;
    ssize_t n;
    while ((n = cask_stream_read(c->s, c->log + c->loglen, sizeof c->log - 1 - c->loglen)) > 0)
        c->loglen += (size_t)n;
    c->log[c->loglen] = 0;
    return 0;
}

static int say(struct client *c, const char *text)
{
    size_t len = strlen(text);
    return cask_stream_write(c->s, text, len) == (ssize_t)len ? 0 : -EPIPE;
}

/* Lines of c's log that start with prefix. */
static int count_lines(const struct client *c, const char *prefix)
{
    int k = 0;
    size_t plen = strlen(prefix);
    for (const char *p = c->log; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
        k += !strncmp(p, prefix, plen);
    return k;
}

#define BURST 200
#define PAD "................................................................................"

struct burst {
    struct client *c;
    char text[BURST * 128];
};

static int send_burst(void *arg)
{
    struct burst *b = arg;
    return say(b->c, b->text);
}

/* A client that never reads: a small receive buffer, so the server's writes back up soon. */
static int connect_stuck(uint16_t port, int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct cask_addr a;
    int rc = cask_addr_ip(&a, "127.0.0.1", port);
    if (rc == 0)
        rc = cask_connect(fd, &a);
    if (rc == 0 && cask_send_all(fd, "dave\n", 5) != 5)
        rc = -EPIPE;
    if (rc) {
        cask_close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

static int demo(void *arg)
{
    (void)arg;
    cask_server *srv;
    struct cask_server_opts opts = {.stream.sndbuf = 4096};
    int rc = cask_start_server(&srv, "127.0.0.1", 0, chat, NULL, &opts);
    if (rc)
        return rc;
    static struct client cl[3] = {{.name = "alice"}, {.name = "bob"}, {.name = "carol"}};
    cask_task *rd[3];
    char msg[128];
    for (int i = 0; i < 3; i++) {
        if ((rc = cask_open_connection(&cl[i].s, "127.0.0.1", cask_server_port(srv))))
            return rc;
        snprintf(msg, sizeof msg, "%s\n", cl[i].name);
        if ((rc = say(&cl[i], msg)) || (rc = cask_spawn(&rd[i], listen_all, &cl[i])))
            return rc;
        if ((rc = cask_sleep(0.02))) /* let the join reach the room before the next one */
            return rc;
    }
    const char *lines[3] = {"hi all\n", "hello alice\n", "hey, this is carol\n"};
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = say(&cl[i], lines[i]);
        if (rc == 0)
            rc = cask_sleep(0.02);
    }
    /* dave joins and never reads; alice and bob then send BURST lines each at the same time */
    int dave = -1;
    if (rc == 0)
        rc = connect_stuck(cask_server_port(srv), &dave);
    if (rc == 0)
        rc = cask_sleep(0.02);
    static struct burst b[2];
    cask_task *bt[2];
    for (int i = 0; i < 2 && rc == 0; i++) {
        b[i].c = &cl[i];
        size_t off = 0;
        for (int k = 0; k < BURST; k++)
            off += (size_t)snprintf(b[i].text + off, sizeof b[i].text - off, "burst %d %s\n", k,
                                    PAD);
        rc = cask_spawn(&bt[i], send_burst, &b[i]);
    }
    for (int i = 0; i < 2 && rc == 0; i++) {
        int st = cask_join(bt[i]);
        cask_release(bt[i]);
        rc = st;
    }
    if (rc == 0)
        rc = cask_sleep(0.3);
    if (rc == 0)
        rc = say(&cl[1], "bye\n");
    if (rc == 0)
        rc = cask_sleep(0.02);
    cask_stream_shutdown(cl[1].s); /* bob leaves */
    if (rc == 0)
        rc = cask_sleep(0.05);
    for (int i = 0; i < 3; i++)
        cask_stream_shutdown(cl[i].s);
    (void)cask_server_close(srv, 1.0); /* the others' readers see EOF */
    if (dave >= 0)
        cask_close(dave);
    for (int i = 0; i < 3; i++) {
        int st = cask_join(rd[i]);
        cask_release(rd[i]);
        if (st && !rc)
            rc = st;
    }
    /* what each received: the chat itself, then the bursts counted */
    for (int i = 0; i < 3; i++) {
        printf("--- %s received:\n", cl[i].name);
        for (const char *p = cl[i].log; *p;) {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p + 1) : strlen(p);
            if (!strstr(p, "] burst ") || (size_t)(strstr(p, "] burst ") - p) > len)
                printf("%.*s", (int)len, p);
            p += len;
        }
        int from_alice = count_lines(&cl[i], "[alice] burst "),
            from_bob = count_lines(&cl[i], "[bob] burst ");
        printf("    and %d burst lines from alice, %d from bob\n", from_alice, from_bob);
        int want_alice = i == 0 ? 0 : BURST, want_bob = i == 1 ? 0 : BURST;
        if ((from_alice != want_alice || from_bob != want_bob) && !rc) {
            printf("    expected %d and %d: messages were lost\n", want_alice, want_bob);
            rc = -EPROTO;
        }
        if (i != 1 && !strstr(cl[i].log, "* dave was too slow\n") && !rc) {
            printf("    dave was not dropped\n");
            rc = -EPROTO;
        }
        cask_stream_free(cl[i].s);
    }
    return rc;
}

static int serve(void *arg)
{
    cask_server *srv;
    int rc = cask_start_server(&srv, NULL, (uint16_t)atoi(arg), chat, NULL, NULL);
    if (rc)
        return rc;
    printf("chat on port %u: the first line you send is your name; Ctrl-C stops it\n",
           cask_server_port(srv));
    rc = cask_server_wait(srv);
    (void)cask_server_close(srv, 1.0);
    return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct cask_config cfg = {.sigint_cancels_main = true, .dump_signal = SIGUSR1};
    int rc = argc > 1 ? cask_run_with(serve, argv[1], &cfg) : cask_run(demo, NULL);
    if (rc)
        fprintf(stderr, "44_chat: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

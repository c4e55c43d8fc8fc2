/* 44_chat.c: a chat server: every line a client sends goes to every other client, prefixed
 * with the sender's name (the first line it sends). A client that cannot take a message within
 * a second is disconnected, so one stuck reader never stalls the room. With no arguments three
 * in-process clients chat and print what they received; with a port it serves until Ctrl-C:
 *   44_chat 7001   (then, in several terminals: nc 127.0.0.1 7001) */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLIENTS 64

struct member {
    cask_stream *s;
    char name[32];
};

static struct member *room[MAX_CLIENTS];

/* Sends text to everyone but from. The room is read again after every write, since members
 * may leave while a write waits; a member leaving closes its stream, ending such a write. */
static void broadcast(const struct member *from, const char *text, size_t len)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        struct member *m = room[i];
        if (!m || m == from)
            continue;
        cask_scope sc;
        cask_timeout_open(&sc, 1.0);
        ssize_t n = cask_stream_write(m->s, text, len);
        int rc = cask_scope_close(&sc, n < 0 ? (int)n : 0);
        if (rc == -ECANCELED)
            return;
        if (n != (ssize_t)len && n != -EBUSY && room[i] == m)
            cask_stream_close(m->s); /* too slow or gone: its handler sees the close */
    }
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
            room[slot = i] = &me;
    if (slot < 0) {
        ssize_t w = cask_stream_write(s, "room full\n", 10);
        return w < 0 ? (int)w : 0;
    }
    int len = snprintf(out, sizeof out, "* %s joined\n", me.name);
    broadcast(&me, out, (size_t)len);
    while ((n = cask_stream_readline(s, line, sizeof line - 1)) > 0) {
        line[strcspn(line, "\r\n")] = 0;
        len = snprintf(out, sizeof out, "[%s] %s\n", me.name, line);
        broadcast(&me, out, (size_t)len);
    }
    room[slot] = NULL;
    len = snprintf(out, sizeof out, "* %s left\n", me.name);
    broadcast(&me, out, (size_t)len);
    return 0;
}

/* ---- the demo: three clients take turns; each prints everything it received ---- */

struct client {
    uint16_t port;
    const char *name;
    int turn;
    cask_stream *s;
    char log[1024];
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

static int demo(void *arg)
{
    (void)arg;
    cask_server *srv;
    int rc = cask_start_server(&srv, "127.0.0.1", 0, chat, NULL, NULL);
    if (rc)
        return rc;
    struct client cl[3] = {{.name = "alice"}, {.name = "bob"}, {.name = "carol"}};
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
    cask_stream_shutdown(cl[1].s); /* bob leaves */
    if (rc == 0)
        rc = cask_sleep(0.05);
    for (int i = 0; i < 3; i++)
        cask_stream_shutdown(cl[i].s);
    (void)cask_server_close(srv, 1.0); /* the others' readers see EOF */
    for (int i = 0; i < 3; i++) {
        int st = cask_join(rd[i]);
        cask_release(rd[i]);
        if (st && !rc)
            rc = st;
        printf("--- %s received:\n%s", cl[i].name, cl[i].log);
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
    struct cask_config cfg = {.sigint_cancels_main = true};
    int rc = argc > 1 ? cask_run_with(serve, argv[1], &cfg) : cask_run(demo, NULL);
    if (rc)
        fprintf(stderr, "44_chat: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

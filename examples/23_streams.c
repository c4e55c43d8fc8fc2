/* 23_streams.c: a TCP echo server and five clients served concurrently on one loop (the twin of
 * seed program 23: asyncio.start_server, open_connection, readline, gather). */
#define _GNU_SOURCE
#include <cask.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int handle(cask_stream *s, void *arg)
{
    (void)arg;
    char line[256];
    ssize_t n;
    while ((n = cask_stream_readline(s, line, sizeof line)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            line[i] = (char)toupper((unsigned char)line[i]);
        if (cask_stream_write(s, line, (size_t)n) != n)
            break;
    }
    return 0;
}

struct client {
    uint16_t port;
    int id;
    char reply[256];
};

static int client(void *arg)
{
    struct client *c = arg;
    cask_stream *s;
    int rc = cask_open_connection(&s, "127.0.0.1", c->port);
    if (rc)
        return rc;
    char msg[64];
    int len = snprintf(msg, sizeof msg, "hello from client %d\n", c->id);
    ssize_t n = cask_stream_write(s, msg, (size_t)len);
    if (n == len)
        n = cask_stream_readline(s, c->reply, sizeof c->reply - 1);
    cask_stream_free(s);
    if (n < 0)
        return (int)n;
    while (n > 0 && (c->reply[n - 1] == '\n' || c->reply[n - 1] == '\r'))
        n--;
    c->reply[n] = 0;
    return 0;
}

static int amain(void *arg)
{
    (void)arg;
    cask_server *srv;
    int rc = cask_start_server(&srv, "127.0.0.1", 0, handle, NULL, NULL);
    if (rc)
        return rc;
    struct client cl[5];
    cask_task *t[5];
    for (int i = 0; i < 5; i++) {
        cl[i].port = cask_server_port(srv);
        cl[i].id = i;
        if ((rc = cask_spawn(&t[i], client, &cl[i])))
            return rc;
    }
    rc = cask_gather(t, 5, NULL);
    for (int i = 0; i < 5; i++)
        cask_release(t[i]);
    int cancelled = cask_server_close(srv, 1.0);
    if (rc)
        return rc;
    for (int i = 0; i < 5; i++)
        printf("%s\n", cl[i].reply);
    return cancelled < 0 ? cancelled : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(amain, NULL);
    if (rc) {
        fprintf(stderr, "23_streams: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

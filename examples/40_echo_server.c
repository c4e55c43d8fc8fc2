/* 40_echo_server.c: a TCP echo server. With no arguments it starts on a free port, three
 * clients each send three lines and print the echoes, and it shuts down gracefully. With a
 * port argument it serves until Ctrl-C:  40_echo_server 7000  (then: nc 127.0.0.1 7000). */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>

/* The handler runs in its own task per connection; the server closes the stream after it. */
static int echo(cask_stream *s, void *arg)
{
    (void)arg;
    char buf[4096];
    ssize_t n;
    while ((n = cask_stream_read(s, buf, sizeof buf)) > 0)
        if (cask_stream_write(s, buf, (size_t)n) != n)
            break;
    return 0;
}

struct client {
    uint16_t port;
    int id;
};

static int client(void *arg)
{
    struct client *c = arg;
    cask_stream *s;
    int rc = cask_open_connection(&s, "127.0.0.1", c->port);
    if (rc)
        return rc;
    for (int i = 0; i < 3 && rc == 0; i++) {
        char msg[64], reply[64];
        int len = snprintf(msg, sizeof msg, "client %d line %d\n", c->id, i);
        ssize_t n = cask_stream_write(s, msg, (size_t)len);
        if (n == len)
            n = cask_stream_readexactly(s, reply, (size_t)len, NULL);
        if (n != len)
            rc = n < 0 ? (int)n : -EPROTO;
        else
            printf("client %d got: %.*s", c->id, len, reply);
    }
    cask_stream_free(s);
    return rc;
}

static int demo(void *arg)
{
    (void)arg;
    cask_server *srv;
    int rc = cask_start_server(&srv, "127.0.0.1", 0, echo, NULL, NULL);
    if (rc)
        return rc;
    printf("echo server on 127.0.0.1:%u\n", cask_server_port(srv));
    struct client cl[3];
    cask_task *t[3];
    for (int i = 0; i < 3; i++) {
        cl[i] = (struct client){cask_server_port(srv), i};
        if ((rc = cask_spawn(&t[i], client, &cl[i])))
            return rc;
    }
    rc = cask_gather(t, 3, NULL);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    printf("served %llu connections\n", (unsigned long long)cask_server_accepted(srv));
    int cancelled = cask_server_close(srv, 1.0);
    printf("shut down (%d handlers cancelled)\n", cancelled);
    return rc;
}

static int serve(void *arg)
{
    cask_server *srv;
    int rc = cask_start_server(&srv, NULL, (uint16_t)atoi(arg), echo, NULL, NULL);
    if (rc)
        return rc;
    printf("echo server on port %u; Ctrl-C stops it\n", cask_server_port(srv));
    rc = cask_server_wait(srv); /* -ECANCELED on Ctrl-C */
    int cancelled = cask_server_close(srv, 2.0);
    printf("\nshut down (%d handlers cancelled)\n", cancelled);
    return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct cask_config cfg = {.sigint_cancels_main = true};
    int rc = argc > 1 ? cask_run_with(serve, argv[1], &cfg) : cask_run(demo, NULL);
    if (rc)
        fprintf(stderr, "40_echo_server: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

/* 41_http_server.c: an HTTP/1.1 keep-alive hello-world server. It reads the request line and
 * headers with readline (a limit protects it from endless lines), answers with Content-Length
 * and keeps the connection open unless the client asks to close. With no arguments it serves
 * three requests on one kept-alive connection and two pipelined ones from an in-process client;
 * with a port it serves until Ctrl-C:  41_http_server 8080  (then: curl localhost:8080/hi). */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

static int http(cask_stream *s, void *arg)
{
    (void)arg;
    char line[1024], path[256];
    for (;;) {
        ssize_t n = cask_stream_readline(s, line, sizeof line - 1);
        if (n <= 0)
            return 0; /* EOF, reset, or a request line over the limit */
        line[n] = 0;
        char method[16];
        if (sscanf(line, "%15s %255s", method, path) != 2)
            return 0;
        bool close_after = false;
        for (;;) { /* headers up to the empty line */
            n = cask_stream_readline(s, line, sizeof line - 1);
            if (n <= 0)
                return 0;
            line[n] = 0;
            if (!strcmp(line, "\r\n") || !strcmp(line, "\n"))
                break;
            if (!strncasecmp(line, "Connection:", 11) && strstr(line + 11, "close"))
                close_after = true;
        }
        char body[512], head[256];
        int blen = snprintf(body, sizeof body, "Hello, World! You asked for %s\n", path);
        int hlen = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: %d\r\n%s\r\n",
                            blen, close_after ? "Connection: close\r\n" : "");
        struct iovec iov[2] = {{head, (size_t)hlen}, {body, (size_t)blen}};
        if (cask_stream_writev(s, iov, 2) != hlen + blen || close_after)
            return 0;
    }
}

/* Reads one response: prints the status line and the body. */
static int read_response(cask_stream *c)
{
    char line[512];
    ssize_t n = cask_stream_readline(c, line, sizeof line - 1);
    if (n <= 0)
        return n < 0 ? (int)n : -EPROTO;
    line[strcspn(line, "\r\n")] = 0;
    printf("  %s", line);
    long len = 0;
    while ((n = cask_stream_readline(c, line, sizeof line - 1)) > 2) {
        line[n] = 0;
        if (!strncasecmp(line, "Content-Length:", 15))
            len = strtol(line + 15, NULL, 10);
    }
    if (n <= 0 || len <= 0 || len >= (long)sizeof line)
        return -EPROTO;
    n = cask_stream_readexactly(c, line, (size_t)len, NULL);
    if (n < 0)
        return (int)n;
    printf(" | %.*s", (int)len, line);
    return 0;
}

static int demo(void *arg)
{
    (void)arg;
    cask_server *srv;
    int rc = cask_start_server(&srv, "127.0.0.1", 0, http, NULL, NULL);
    if (rc)
        return rc;
    cask_stream *c;
    if ((rc = cask_open_connection(&c, "127.0.0.1", cask_server_port(srv))))
        return rc;
    printf("three requests on one kept-alive connection:\n");
    const char *paths[3] = {"/", "/hello", "/a/b"};
    for (int i = 0; i < 3 && rc == 0; i++) {
        char req[128];
        int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", paths[i]);
        if (cask_stream_write(c, req, (size_t)len) != len)
            rc = -EPIPE;
        else
            rc = read_response(c);
    }
    printf("two pipelined requests, the second asking to close:\n");
    const char two[] = "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (rc == 0 && cask_stream_write(c, two, sizeof two - 1) != (ssize_t)sizeof two - 1)
        rc = -EPIPE;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = read_response(c);
    char b;
    if (rc == 0 && cask_stream_read(c, &b, 1) == 0)
        printf("server closed the connection\n");
    cask_stream_free(c);
    printf("connections served: %llu\n", (unsigned long long)cask_server_accepted(srv));
    int cancelled = cask_server_close(srv, 1.0);
    return rc ? rc : cancelled;
}

static int serve(void *arg)
{
    cask_server *srv;
    int rc = cask_start_server(&srv, NULL, (uint16_t)atoi(arg), http, NULL, NULL);
    if (rc)
        return rc;
    printf("http://localhost:%u/ ; Ctrl-C stops it\n", cask_server_port(srv));
    rc = cask_server_wait(srv);
    (void)cask_server_close(srv, 2.0);
    return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct cask_config cfg = {.sigint_cancels_main = true};
    int rc = argc > 1 ? cask_run_with(serve, argv[1], &cfg) : cask_run(demo, NULL);
    if (rc)
        fprintf(stderr, "41_http_server: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

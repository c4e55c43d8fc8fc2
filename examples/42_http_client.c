/* 42_http_client.c: a concurrent HTTP/1.1 client. It fetches N paths with at most LIMIT
 * requests in flight (LIMIT worker tasks share the list; each keeps its connection alive) and
 * one deadline over the whole batch (a timeout scope). With no arguments it starts a local
 * server whose responses take 20-80 ms and fetches 12 paths with a limit of 4; or:
 *   42_http_client HOST PORT LIMIT PATH...        e.g. 42_http_client 127.0.0.1 8080 2 / /a */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEADLINE 5.0

struct fetch {
    const char *path;
    int status;   /* HTTP status, or a negative error */
    long length;  /* body bytes */
    char body[64]; /* the start of the body */
};

struct batch {
    const char *host;
    uint16_t port;
    struct fetch *f;
    size_t n, next;
    int in_flight, max_in_flight;
};

/* One request on a kept-alive connection. Returns 0 or an error (the connection is unusable). */
static int get(cask_stream *c, const char *host, struct fetch *f)
{
    char buf[512];
    int len = snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", f->path, host);
    if (cask_stream_write(c, buf, (size_t)len) != len)
        return -EPIPE;
    ssize_t n = cask_stream_readline(c, buf, sizeof buf - 1);
    if (n <= 0)
        return n < 0 ? (int)n : -EPROTO;
    buf[n] = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &f->status) != 1)
        return -EPROTO;
    f->length = -1;
    while ((n = cask_stream_readline(c, buf, sizeof buf - 1)) > 2) {
        buf[n] = 0;
        if (!strncasecmp(buf, "Content-Length:", 15))
            f->length = strtol(buf + 15, NULL, 10);
    }
    if (n <= 0 || f->length < 0)
        return n < 0 ? (int)n : -EPROTO;
    for (long left = f->length; left > 0;) { /* keep the start, skip the rest */
        size_t want = left < (long)sizeof buf ? (size_t)left : sizeof buf;
        n = cask_stream_readexactly(c, buf, want, NULL);
        if (n < 0)
            return (int)n;
        if (left == f->length) {
            size_t keep = want < sizeof f->body - 1 ? want : sizeof f->body - 1;
            memcpy(f->body, buf, keep);
            f->body[strcspn(f->body, "\r\n")] = 0;
        }
        left -= (long)want;
    }
    return 0;
}

static int worker(void *arg)
{
    struct batch *b = arg;
    cask_stream *c = NULL;
    while (b->next < b->n) {
        struct fetch *f = &b->f[b->next++];
        if (!c) {
            int rc = cask_open_connection(&c, b->host, b->port);
            if (rc) {
                f->status = rc;
                if (rc == -ECANCELED)
                    break;
                continue;
            }
        }
        if (++b->in_flight > b->max_in_flight)
            b->max_in_flight = b->in_flight;
        int rc = get(c, b->host, f);
        b->in_flight--;
        if (rc) {
            f->status = rc;
            cask_stream_free(c);
            c = NULL;
        }
    }
    cask_stream_free(c);
    return 0;
}

static int run_batch(struct batch *b, int limit)
{
    cask_task *t[64];
    if (limit < 1)
        limit = 1;
    if (limit > 64)
        limit = 64;
    cask_scope sc;
    cask_timeout_open(&sc, DEADLINE);
    int rc = 0, k = 0;
    for (; k < limit && rc == 0; k++)
        rc = cask_spawn(&t[k], worker, b);
    if (rc == 0)
        rc = cask_gather(t, (size_t)k, NULL);
    for (int i = 0; i < k; i++) {
        cask_cancel(t[i]); /* only matters when the deadline passed */
        cask_release(t[i]);
    }
    return cask_scope_close(&sc, rc);
}

static void report(const struct batch *b, int rc)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct fetch *f = &b->f[i];
        if (f->status > 0)
            printf("%-8s %d %ld bytes: %s\n", f->path, f->status, f->length, f->body);
        else
            printf("%-8s failed: %s\n", f->path, f->status ? cask_strerror(f->status) : "not run");
    }
    printf("at most %d requests in flight; %s\n", b->max_in_flight,
           rc == -ETIMEDOUT ? "deadline passed" : rc ? cask_strerror(rc) : "all done");
}

/* ---- the local server of the demo: answers after a delay that depends on the path ---- */

static int slow_http(cask_stream *s, void *arg)
{
    (void)arg;
    char line[512], path[256];
    while (cask_stream_readline(s, line, sizeof line - 1) > 0) {
        if (sscanf(line, "GET %255s", path) != 1)
            return 0;
        ssize_t n;
        while ((n = cask_stream_readline(s, line, sizeof line)) > 2) {
        }
        if (n <= 0)
            return 0;
        if (cask_sleep(0.02 * (double)(1 + strlen(path) % 4)))
            return 0;
        char resp[512];
        int blen = (int)strlen(path) + 6; /* "page " path "\n" */
        int len = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\npage %s\n",
                           blen, path);
        if (cask_stream_write(s, resp, (size_t)len) != len)
            return 0;
    }
    return 0;
}

static int demo(void *arg)
{
    (void)arg;
    cask_server *srv;
    int rc = cask_start_server(&srv, "127.0.0.1", 0, slow_http, NULL, NULL);
    if (rc)
        return rc;
    static const char *paths[12] = {"/",     "/a",    "/bb",   "/ccc",  "/d",    "/ee",
                                    "/fff",  "/gggg", "/h",    "/ii",   "/jjj",  "/kkkk"};
    struct fetch f[12];
    memset(f, 0, sizeof f);
    for (int i = 0; i < 12; i++)
        f[i].path = paths[i];
    struct batch b = {"127.0.0.1", cask_server_port(srv), f, 12, 0, 0, 0};
    double t0 = cask_time();
    rc = run_batch(&b, 4);
    report(&b, rc);
    printf("took %.2f s with 4 at a time (one at a time: about %.2f s)\n", cask_time() - t0,
           12 * 0.05);
    (void)cask_server_close(srv, 1.0);
    return rc;
}

struct args {
    int argc;
    char **argv;
};

static int cli(void *arg)
{
    struct args *a = arg;
    size_t n = (size_t)a->argc - 4;
    struct fetch *f = calloc(n, sizeof *f);
    if (!f)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        f[i].path = a->argv[4 + i];
    struct batch b = {a->argv[1], (uint16_t)atoi(a->argv[2]), f, n, 0, 0, 0};
    int rc = run_batch(&b, atoi(a->argv[3]));
    report(&b, rc);
    free(f);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && argc < 5) {
        fprintf(stderr, "usage: 42_http_client [HOST PORT LIMIT PATH...]\n");
        return 2;
    }
    struct args a = {argc, argv};
    int rc = argc > 1 ? cask_run(cli, &a) : cask_run(demo, NULL);
    if (rc)
        fprintf(stderr, "42_http_client: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

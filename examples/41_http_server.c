/* 41_http_server.c: an HTTP/1.1 keep-alive hello-world server that survives the internet.
 * It reads the request line and headers with readline (a limit protects it from endless
 * lines), answers with Content-Length and keeps the connection open unless the client asks to
 * close (HTTP/1.1) or did not ask to keep it (HTTP/1.0). A client has HEAD_TIMEOUT seconds to
 * send each request's head (an idle kept-alive connection too) and WRITE_TIMEOUT seconds to
 * take each response; a malformed request gets 400, an over-long request line 414, over-long
 * or too many header lines 431, a body it cannot take 413, chunked bodies 501, each followed
 * by a close. With no arguments an in-process client shows every case and checks the answers;
 * with a port it serves until Ctrl-C:  41_http_server 8080  (then: curl localhost:8080/hi). */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#define LINE_MAX_BYTES 1024  /* request line and each header line, without CRLF */
#define MAX_HEADERS 64       /* header lines per request */
#define MAX_BODY (64 * 1024) /* a request body larger than this gets 413 */

static double g_head_timeout = 10.0; /* seconds to send a request's head (and idle keep-alive) */
static double g_write_timeout = 10.0; /* seconds to take a response */

struct request {
    char method[16], path[256];
    int minor;         /* HTTP/1.<minor> */
    bool keep_alive;   /* after the response */
    long content_len;  /* -1: none */
    bool chunked;      /* Transfer-Encoding present */
};

/* Sends a whole response within the write timeout; conn is "close", "keep-alive" (an
 * HTTP/1.0 client must be told) or NULL. Returns 0 or a negative errno. */
static int respond(cask_stream *s, int code, const char *reason, const char *body,
                   const char *conn)
{
    char head[256];
    size_t blen = strlen(body);
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                        "Content-Length: %zu\r\n%s%s%s\r\n",
                        code, reason, blen, conn ? "Connection: " : "", conn ? conn : "",
                        conn ? "\r\n" : "");
    struct iovec iov[2] = {{head, (size_t)hlen}, {(void *)body, blen}};
    cask_scope sc;
    int rc = cask_timeout_open(&sc, g_write_timeout);
    if (rc)
        return rc;
    ssize_t n = cask_stream_writev(s, iov, 2);
    rc = cask_scope_close(&sc, n < 0 ? (int)n : 0);
    return rc ? rc : n == (ssize_t)(hlen + blen) ? 0 : -EPIPE;
}

/* An error reply, after which the connection is closed. Returns 0 (the handler ends). */
static int refuse(cask_stream *s, int code, const char *reason)
{
    char body[64];
    snprintf(body, sizeof body, "%d %s\n", code, reason);
    (void)respond(s, code, reason, body, "close");
    return 0;
}

/* Reads one line into line (NUL-terminated, CRLF stripped). Returns its length, 0 at EOF,
 * -EMSGSIZE (over LINE_MAX_BYTES), or another negative errno. */
static ssize_t read_line(cask_stream *s, char *line)
{
    ssize_t n = cask_stream_readline(s, line, LINE_MAX_BYTES + 2);
    if (n <= 0)
        return n;
    if (line[n - 1] != '\n')
        return 0; /* EOF in the middle of a line */
    n--;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = 0;
    return n == 0 ? -ENODATA : n; /* -ENODATA: the empty line */
}

static bool has_token(const char *value, const char *token)
{
    return strcasestr(value, token) != NULL;
}

/* Reads a request head. Returns 0, an HTTP status to refuse with (> 0), or -1 to close
 * without a word (EOF, reset, or the head timed out before any byte of it arrived). */
static int read_head(cask_stream *s, struct request *rq)
{
    char line[LINE_MAX_BYTES + 3];
    cask_scope sc;
    if (cask_timeout_open(&sc, g_head_timeout))
        return -1;
    ssize_t n = read_line(s, line);
    int status = 0;
    if (n == -EMSGSIZE) {
        status = 414;
    } else if (n <= 0) {
        status = n == -ECANCELED ? -ECANCELED : -1; /* -ECANCELED: the close tells why */
    } else {
        char version[16], extra;
        if (sscanf(line, "%15s %255s %15s %c", rq->method, rq->path, version, &extra) != 3 ||
            strncmp(version, "HTTP/1.", 7) != 0 || version[7] < '0' || version[7] > '9' ||
            version[8])
            status = 400;
        else
            rq->minor = version[7] - '0';
    }
    bool conn_close = false, conn_keep = false;
    rq->content_len = -1;
    rq->chunked = false;
    for (int headers = 0; status == 0; headers++) {
        n = read_line(s, line);
        if (n == -ENODATA)
            break; /* the empty line ends the head */
        if (n == -EMSGSIZE || headers == MAX_HEADERS) {
            status = 431;
        } else if (n <= 0) {
            status = n == -ECANCELED ? 408 : -1; /* timed out in the middle: say so */
        } else {
            char *colon = strchr(line, ':');
            if (!colon || colon == line) {
                status = 400;
            } else if (!strncasecmp(line, "Connection:", 11)) {
                conn_close |= has_token(colon + 1, "close");
                conn_keep |= has_token(colon + 1, "keep-alive");
            } else if (!strncasecmp(line, "Content-Length:", 15)) {
                char *end;
                long v = strtol(colon + 1, &end, 10);
                while (*end == ' ' || *end == '\t')
                    end++;
                if (*end || v < 0 || (rq->content_len >= 0 && rq->content_len != v))
                    status = 400;
                else
                    rq->content_len = v;
            } else if (!strncasecmp(line, "Transfer-Encoding:", 18)) {
                rq->chunked = true;
            }
        }
    }
    if (status == 0 && rq->chunked)
        status = 501;
    else if (status == 0 && rq->content_len > MAX_BODY)
        status = 413;
    rq->keep_alive = rq->minor >= 1 ? !conn_close : conn_keep && !conn_close;
    status = cask_scope_close(&sc, status);
    if (status == -ETIMEDOUT) /* idle, or stuck in the request line: a word if bytes came */
        status = cask_stream_buffered(s) > 0 ? 408 : -1;
    return status < -1 ? -1 : status;
}

static const char *reason_of(int code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    default: return "Error";
    }
}

static int http(cask_stream *s, void *arg)
{
    (void)arg;
    for (;;) {
        struct request rq;
        int st = read_head(s, &rq);
        if (st < 0)
            return 0;
        if (st > 0)
            return refuse(s, st, reason_of(st));
        if (rq.content_len > 0) { /* read and drop the body, within the head's time limit */
            static char sink[MAX_BODY];
            cask_scope sc;
            if (cask_timeout_open(&sc, g_head_timeout))
                return 0;
            ssize_t n = cask_stream_readexactly(s, sink, (size_t)rq.content_len, NULL);
            if (cask_scope_close(&sc, n < 0 ? (int)n : 0) != 0)
                return 0;
        }
        char body[512];
        snprintf(body, sizeof body, "Hello, World! You asked for %s\n", rq.path);
        const char *conn = !rq.keep_alive ? "close" : rq.minor == 0 ? "keep-alive" : NULL;
        if (respond(s, 200, "OK", body, conn) != 0 || !rq.keep_alive)
            return 0;
    }
}

/* ---- the demo: an in-process client ---- */

/* Reads one response: prints the status line and the body; *code gets the status. */
static int read_response(cask_stream *c, int *code)
{
    char line[512];
    ssize_t n = cask_stream_readline(c, line, sizeof line - 1);
    if (n <= 0)
        return n < 0 ? (int)n : -EPROTO;
    line[strcspn(line, "\r\n")] = 0;
    if (sscanf(line, "HTTP/1.1 %d", code) != 1)
        return -EPROTO;
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

/* Expects one response with status want. Returns 0 or -EPROTO. */
static int expect(cask_stream *c, int want)
{
    int code = 0, rc = read_response(c, &code);
    if (rc == 0 && code != want) {
        printf("  expected %d\n", want);
        rc = -EPROTO;
    }
    return rc;
}

/* Expects the server to close the connection (nothing more comes). Returns 0 or -EPROTO. */
static int expect_close(cask_stream *c)
{
    char b;
    ssize_t n = cask_stream_read(c, &b, 1);
    if (n == 0 || n == -ECONNRESET) {
        printf("  server closed the connection\n");
        return 0;
    }
    printf("  the connection stayed open (%zd)\n", n);
    return -EPROTO;
}

static int send_text(cask_stream *c, const char *text, size_t len)
{
    return cask_stream_write(c, text, len) == (ssize_t)len ? 0 : -EPIPE;
}

/* Connects, sends req (may be NULL), expects status want (0: none), then a close if asked. */
static int exchange(uint16_t port, const char *req, int want, bool then_close)
{
    cask_stream *c;
    int rc = cask_open_connection(&c, "127.0.0.1", port);
    if (rc)
        return rc;
    if (req)
        rc = send_text(c, req, strlen(req));
    if (rc == 0 && want)
        rc = expect(c, want);
    if (rc == 0 && then_close)
        rc = expect_close(c);
    cask_stream_free(c);
    return rc;
}

static int demo(void *arg)
{
    (void)arg;
    g_head_timeout = 0.2; /* short, so the slow clients below are dropped quickly */
    cask_server *srv;
    int rc = cask_start_server(&srv, "127.0.0.1", 0, http, NULL, NULL);
    if (rc)
        return rc;
    uint16_t port = cask_server_port(srv);
    cask_stream *c;
    if ((rc = cask_open_connection(&c, "127.0.0.1", port)))
        return rc;
    printf("three requests on one kept-alive connection:\n");
    const char *paths[3] = {"/", "/hello", "/a/b"};
    for (int i = 0; i < 3 && rc == 0; i++) {
        char req[128];
        int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", paths[i]);
        rc = send_text(c, req, (size_t)len);
        if (rc == 0)
            rc = expect(c, 200);
    }
    printf("two pipelined requests, the first with a body, the second asking to close:\n");
    const char two[] = "POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                       "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (rc == 0)
        rc = send_text(c, two, sizeof two - 1);
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = expect(c, 200);
    if (rc == 0)
        rc = expect_close(c);
    cask_stream_free(c);

    printf("HTTP/1.0 without keep-alive: closed after the response\n");
    if (rc == 0)
        rc = exchange(port, "GET /old HTTP/1.0\r\n\r\n", 200, true);
    printf("HTTP/1.0 with keep-alive: kept open for a second request\n");
    if (rc == 0 && (rc = cask_open_connection(&c, "127.0.0.1", port)) == 0) {
        const char ka[] = "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        for (int i = 0; i < 2 && rc == 0; i++) {
            rc = send_text(c, ka, sizeof ka - 1);
            if (rc == 0)
                rc = expect(c, 200);
        }
        cask_stream_free(c);
    }
    printf("a malformed request line:\n");
    if (rc == 0)
        rc = exchange(port, "HELLO\r\n\r\n", 400, true);
    printf("a request line over %d bytes:\n", LINE_MAX_BYTES);
    char big[LINE_MAX_BYTES + 64];
    snprintf(big, sizeof big, "GET /%0*d HTTP/1.1\r\n\r\n", LINE_MAX_BYTES, 0);
    if (rc == 0)
        rc = exchange(port, big, 414, true);
    printf("a header line over %d bytes:\n", LINE_MAX_BYTES);
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Long: %0*d\r\n\r\n", LINE_MAX_BYTES, 0);
    if (rc == 0)
        rc = exchange(port, big, 431, true);
    printf("a chunked body:\n");
    if (rc == 0)
        rc = exchange(port, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, true);
    printf("a slow client that sends half a head (timed out after %.1f s):\n", g_head_timeout);
    if (rc == 0)
        rc = exchange(port, "GET /slow HTTP/1.1\r\nHost:", 408, true);
    printf("an idle client that sends nothing (dropped after %.1f s):\n", g_head_timeout);
    if (rc == 0)
        rc = exchange(port, NULL, 0, true);

    printf("connections served: %llu\n", (unsigned long long)cask_server_accepted(srv));
    int cancelled = cask_server_close(srv, 1.0);
    return rc ? rc : cancelled;
}

static int serve(void *arg)
{
    cask_server *srv;
    struct cask_server_opts opts = {.max_connections = 10000};
    int rc = cask_start_server(&srv, NULL, (uint16_t)atoi(arg), http, NULL, &opts);
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

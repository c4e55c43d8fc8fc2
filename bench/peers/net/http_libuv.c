/* HTTP/1.1 hello-world keep-alive server on libuv.
 *
 * It parses nothing: it counts request terminators (CRLF CRLF), also split across reads and for
 * pipelined requests, and sends one fixed response per terminator. Responses go out with
 * uv_try_write from a static buffer; only what the socket does not take is copied into a write
 * request, and reading stops while too much waits in the write queue (backpressure).
 *
 * usage: http_libuv PORT    (binds 127.0.0.1:PORT, prints one READY line, runs until killed)
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_BUF_SIZE 65536
#define WRITE_QUEUE_LIMIT (256 * 1024)
#define BATCH 64 /* responses per uv_try_write call */

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13"
                               "\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)

struct conn {
    uv_tcp_t tcp;      /* first member: the handle pointer is the connection pointer */
    bool reading;
    unsigned matched;  /* how many bytes of "\r\n\r\n" the previous read ended with */
    char buf[READ_BUF_SIZE];
};

struct write_req {
    uv_write_t req;
    char data[];
};

static uv_loop_t *loop;

static void on_close(uv_handle_t *handle)
{
    free(handle);
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = (struct conn *)handle;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = (struct conn *)req->handle;
    free(req);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!c->reading && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0 &&
        !uv_is_closing((uv_handle_t *)&c->tcp)) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

/* Counts "\r\n\r\n" in data, carrying a partial match over from the previous read in *matched. */
static size_t count_terminators(const char *data, size_t len, unsigned *matched)
{
    static const char term[4] = {'\r', '\n', '\r', '\n'};
    size_t count = 0;
    unsigned m = *matched;
    for (size_t i = 0; i < len; i++) {
        char ch = data[i];
        if (ch == term[m]) {
            if (++m == 4) {
                count++;
                m = 0;
            }
        } else {
            m = ch == '\r' ? 1 : 0;
        }
    }
    *matched = m;
    return count;
}

/* Sends n responses. Returns 0 or a negative UV error. */
static int send_responses(struct conn *c, size_t n)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    uv_buf_t bufs[BATCH];
    while (n > 0) {
        size_t k = n < BATCH ? n : BATCH;
        size_t total = k * RESPONSE_LEN;
        size_t done = 0;
        n -= k;
        /* Bytes must not overtake bytes already queued, so try_write only when the queue is
         * empty. */
        if (uv_stream_get_write_queue_size(s) == 0) {
            for (size_t i = 0; i < k; i++)
                bufs[i] = uv_buf_init((char *)RESPONSE, RESPONSE_LEN);
            int r = uv_try_write(s, bufs, (unsigned)k);
            if (r >= 0)
                done = (size_t)r;
            else if (r != UV_EAGAIN)
                return r;
        }
        if (done == total)
            continue;
        struct write_req *w = malloc(sizeof *w + (total - done));
        if (w == NULL)
            return UV_ENOMEM;
        for (size_t i = done; i < total; i++)
            w->data[i - done] = RESPONSE[i % RESPONSE_LEN];
        uv_buf_t b = uv_buf_init(w->data, (unsigned)(total - done));
        int r = uv_write(&w->req, s, &b, 1, on_write);
        if (r < 0) {
            free(w);
            return r;
        }
    }
    if (c->reading && uv_stream_get_write_queue_size(s) > WRITE_QUEUE_LIMIT) {
        c->reading = false;
        uv_read_stop(s);
    }
    return 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = (struct conn *)stream;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    size_t n = count_terminators(buf->base, (size_t)nread, &c->matched);
    if (n > 0 && send_responses(c, n) < 0)
        conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    c->reading = true;
    c->matched = 0;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    uv_tcp_init(loop, &server);
    int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (r == 0) /* on the listener: Linux copies it to every accepted socket (as cask's server
                 * does), so no setsockopt per connection */
        r = uv_tcp_nodelay(&server, 1);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (r != 0) {
        fprintf(stderr, "http_libuv: %s\n", uv_strerror(r));
        return 1;
    }
    printf("READY %s\n", argv[1]);
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}

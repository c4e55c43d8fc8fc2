/* TCP echo server on libuv, the reference for what a C event loop costs.
 *
 * Each connection owns one 64 KiB read buffer that alloc_cb hands out again and again. Read data
 * is first written with uv_try_write straight from that buffer; only what the socket did not take
 * is copied into a write request. While copied bytes wait in the write queue above a limit,
 * reading stops (backpressure), so a client that does not read cannot grow the server's memory.
 *
 * usage: echo_libuv PORT    (binds 127.0.0.1:PORT, prints one READY line, runs until killed)
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_BUF_SIZE 65536
#define WRITE_QUEUE_LIMIT (256 * 1024)

struct conn {
    uv_tcp_t tcp;           /* first member: the handle pointer is the connection pointer */
    bool reading;
    char buf[READ_BUF_SIZE];
};

struct write_req {
    uv_write_t req;
    size_t len;
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

/* Writes data, copying only what cannot be written at once. Returns 0 or a negative UV error. */
static int conn_write(struct conn *c, const char *data, size_t len)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    size_t done = 0;
    /* Bytes must not overtake bytes already queued, so try_write only when the queue is empty. */
    if (uv_stream_get_write_queue_size(s) == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write(s, &b, 1);
        if (n >= 0)
            done = (size_t)n;
        else if (n != UV_EAGAIN)
            return n;
    }
    if (done == len)
        return 0;
    struct write_req *w = malloc(sizeof *w + (len - done));
    if (w == NULL)
        return UV_ENOMEM;
    w->len = len - done;
    memcpy(w->data, data + done, w->len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int r = uv_write(&w->req, s, &b, 1, on_write);
    if (r < 0) {
        free(w);
        return r;
    }
    if (uv_stream_get_write_queue_size(s) > WRITE_QUEUE_LIMIT) {
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
    if (nread > 0 && conn_write(c, buf->base, (size_t)nread) < 0)
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
        fprintf(stderr, "echo_libuv: %s\n", uv_strerror(r));
        return 1;
    }
    printf("READY %s\n", argv[1]);
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}

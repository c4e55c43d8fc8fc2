/* cask_http_server: HTTP/1.1 hello-world keep-alive server for bench/net.sh.
 *
 * Like the peers it parses nothing: it counts request terminators ("\r\n\r\n", also split
 * across reads, and pipelined requests) and answers each with one fixed response, written with
 * one send() per read from a static buffer of prebuilt responses. No allocation per request;
 * the 64 KiB read buffer lives on the connection task's (pooled) stack. When the loop runs
 * sockets on the io_uring ring (CASK_NET=ring), reads and writes are cask_recv and
 * cask_send_all, each one ring operation batched into the loop's io_uring_enter.
 *
 * usage: cask_http_server PORT    (binds 127.0.0.1:PORT, prints one READY line, runs until killed)
 */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BUF_SIZE 65536
#define BATCH 64

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13"
                               "\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)
static char responses[BATCH * RESPONSE_LEN];

/* Counts "\r\n\r\n" in data, carrying a partial match over from the previous read in *m. */
static size_t count_terminators(const char *data, size_t len, unsigned *m)
{
    static const char term[4] = {'\r', '\n', '\r', '\n'};
    size_t count = 0;
    unsigned k = *m;
    const char *p = data, *end = data + len;
    while (p < end) {
        if (k == 0) { /* fast path: jump to the next CR */
            p = memchr(p, '\r', (size_t)(end - p));
            if (!p)
                break;
        }
        char ch = *p++;
        if (ch == term[k]) {
            if (++k == 4) {
                count++;
                k = 0;
            }
        } else {
            k = ch == '\r' ? 1 : 0;
        }
    }
    *m = k;
    return count;
}

static bool ring; /* the loop's sockets run on the io_uring ring */

/* On the ring: cask_recv and cask_send_all, each one ring operation, no readiness wait. */
static int serve_ring(int fd)
{
    char buf[BUF_SIZE];
    unsigned matched = 0;
    for (;;) {
        ssize_t n = cask_recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return 0;
        size_t count = count_terminators(buf, (size_t)n, &matched);
        while (count > 0) {
            size_t k = count < BATCH ? count : BATCH;
            size_t len = k * RESPONSE_LEN;
            if (cask_send_all(fd, responses, len) != (ssize_t)len)
                return 0;
            count -= k;
        }
    }
}

static int serve(cask_stream *s, void *arg)
{
    (void)arg;
    int fd = cask_stream_fd(s);
    if (ring)
        return serve_ring(fd);
    char buf[BUF_SIZE];
    unsigned matched = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            size_t count = count_terminators(buf, (size_t)n, &matched);
            while (count > 0) {
                size_t k = count < BATCH ? count : BATCH;
                size_t len = k * RESPONSE_LEN;
                ssize_t w = send(fd, responses, len, MSG_NOSIGNAL);
                if (w != (ssize_t)len) {
                    if (w < 0 && errno != EAGAIN)
                        return 0;
                    if (w < 0)
                        w = 0;
                    if (cask_send_all(fd, responses + w, len - (size_t)w) != (ssize_t)len - w)
                        return 0;
                }
                count -= k;
            }
            if (n == (ssize_t)sizeof buf)
                continue;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            return 0;
        }
        if (cask_wait_fd(fd, CASK_READABLE) < 0)
            return 0;
    }
}

static int amain(void *arg)
{
    const char *port = arg;
    struct cask_loop_stats st;
    ring = cask_loop_stats(&st) == 0 && !strcmp(st.net, "ring");
    for (int i = 0; i < BATCH; i++)
        memcpy(responses + i * RESPONSE_LEN, RESPONSE, RESPONSE_LEN);
    cask_server *srv;
    struct cask_server_opts o = {.stack_size = 2 * BUF_SIZE, .listen = {.backlog = 4096}};
    int rc = cask_start_server(&srv, "127.0.0.1", (uint16_t)atoi(port), serve, NULL, &o);
    if (rc) {
        fprintf(stderr, "cask_http_server: %s\n", cask_strerror(rc));
        return rc;
    }
    printf("READY %s\n", port);
    fflush(stdout);
    rc = cask_server_wait(srv);
    (void)cask_server_close(srv, 0);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cask_http_server PORT\n");
        return 2;
    }
    return cask_run(amain, argv[1]) ? 1 : 0;
}

/* cask_echo_server: TCP echo server for bench/net.sh.
 *
 * One task per connection (cask_start_server). Each reads with a 64 KiB buffer that lives on
 * its task's stack (stacks are pooled, so buffers are reused across connections) and writes the
 * bytes back with send(); it waits for writability only when the kernel says EAGAIN and for
 * readability only when a read came back short (edge-triggered readiness: a new arrival always
 * makes a new edge).
 * When the loop runs sockets on the io_uring ring (CASK_NET=ring, see cask_loop_stats), it
 * uses cask_stream_read and cask_stream_write instead: each is one receive or send on the ring
 * (the read straight into the 64 KiB buffer), submitted with every other task's in the loop's
 * one io_uring_enter per iteration, with no readiness wait.
 *
 * usage: cask_echo_server PORT    (binds 127.0.0.1:PORT, prints one READY line, runs until killed)
 */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BUF_SIZE 65536

static bool ring; /* the loop's sockets run on the io_uring ring */

static int echo_ring(cask_stream *s)
{
    char buf[BUF_SIZE];
    for (;;) {
        ssize_t n = cask_stream_read(s, buf, sizeof buf);
        if (n <= 0 || cask_stream_write(s, buf, (size_t)n) != n)
            return 0;
    }
}

static int echo(cask_stream *s, void *arg)
{
    (void)arg;
    int fd = cask_stream_fd(s);
    if (ring)
        return echo_ring(s);
    char buf[BUF_SIZE];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
            if (w != n) {
                if (w < 0 && errno != EAGAIN)
                    return 0;
                if (w < 0)
                    w = 0;
                if (cask_send_all(fd, buf + w, (size_t)(n - w)) != n - w)
                    return 0;
            }
            if (n == (ssize_t)sizeof buf)
                continue; /* there may be more: read again before waiting */
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
    cask_server *srv;
    struct cask_server_opts o = {.stack_size = 2 * BUF_SIZE, .listen = {.backlog = 4096}};
    int rc = cask_start_server(&srv, "127.0.0.1", (uint16_t)atoi(port), echo, NULL, &o);
    if (rc) {
        fprintf(stderr, "cask_echo_server: %s\n", cask_strerror(rc));
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
        fprintf(stderr, "usage: cask_echo_server PORT\n");
        return 2;
    }
    return cask_run(amain, argv[1]) ? 1 : 0;
}

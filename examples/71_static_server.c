/* 71_static_server.c: a static-file HTTP/1.1 server. It serves the files of one directory with
 * Content-Length and keep-alive, 404 for what is not there, 403 for paths that try to leave the
 * directory (".."), GET and HEAD; bodies go out with cask_sendfile (no copy through user space,
 * and a file not in the page cache never blocks the loop). With no arguments it makes a
 * directory with two files, serves a few requests to an in-process client on one kept-alive
 * connection and stops; with a directory and a port it serves until Ctrl-C:
 *     71_static_server /var/www 8080     (then: curl -v localhost:8080/index.html) */
#define _GNU_SOURCE
#include <cask.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;

static const char *mime(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (dot && !strcmp(dot, ".txt"))
        return "text/plain; charset=utf-8";
    if (dot && !strcmp(dot, ".css"))
        return "text/css";
    if (dot && !strcmp(dot, ".js"))
        return "text/javascript";
    return "application/octet-stream";
}

/* True if path (starting with '/') has a ".." segment or a NUL-less escape of another kind. */
static bool escapes(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")); p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == 0))
            return true;
    return path[0] != '/';
}

static int reply(cask_stream *s, int code, const char *what, bool close_after)
{
    char msg[256];
    int blen = (int)strlen(what) + 1;
    int len = snprintf(msg, sizeof msg,
                       "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s"
                       "\r\n%s\n",
                       code, what, blen, close_after ? "Connection: close\r\n" : "", what);
    return cask_stream_write(s, msg, (size_t)len) == len ? 0 : -EPIPE;
}

static int serve_file(cask_stream *s, const char *path, bool head, bool close_after)
{
    char full[4096];
    if (escapes(path))
        return reply(s, 403, "Forbidden", close_after);
    if (!strcmp(path, "/"))
        path = "/index.html";
    if (snprintf(full, sizeof full, "%s%s", root, path) >= (int)sizeof full)
        return reply(s, 404, "Not Found", close_after);
    int fd = cask_file_open(full, O_RDONLY, 0);
    if (fd == -ECANCELED)
        return fd;
    struct stat st;
    if (fd >= 0 && (cask_file_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        cask_file_close(fd);
        fd = -ENOENT;
    }
    if (fd < 0)
        return reply(s, fd == -EACCES ? 403 : 404, fd == -EACCES ? "Forbidden" : "Not Found",
                     close_after);
    char hdr[512];
    int hlen = snprintf(hdr, sizeof hdr,
                        "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n%s\r\n",
                        mime(path), (long long)st.st_size,
                        close_after ? "Connection: close\r\n" : "");
    int rc = cask_stream_write(s, hdr, (size_t)hlen) == hlen ? 0 : -EPIPE;
    if (rc == 0 && !head && st.st_size > 0) {
        ssize_t n = cask_sendfile(cask_stream_fd(s), fd, 0, (size_t)st.st_size);
        rc = n == (ssize_t)st.st_size ? 0 : n < 0 ? (int)n : -EPIPE;
    }
    cask_file_close(fd);
    return rc;
}

static int http(cask_stream *s, void *arg)
{
    (void)arg;
    char line[4096], method[16], path[2048], version[16];
    for (;;) {
        ssize_t n = cask_stream_readline(s, line, sizeof line - 1);
        if (n <= 0)
            return 0; /* the client closed, or a request line over the limit */
        line[n] = 0;
        if (sscanf(line, "%15s %2047s %15s", method, path, version) != 3)
            return reply(s, 400, "Bad Request", true);
        bool close_after = !strcmp(version, "HTTP/1.0");
        for (;;) { /* headers up to the empty line */
            n = cask_stream_readline(s, line, sizeof line - 1);
            if (n <= 0)
                return 0;
            line[n] = 0;
            if (!strcmp(line, "\r\n") || !strcmp(line, "\n"))
                break;
            if (!strncasecmp(line, "Connection:", 11))
                close_after = strcasestr(line + 11, "close") != NULL;
        }
        path[strcspn(path, "?#")] = 0;
        int rc;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            rc = reply(s, 405, "Method Not Allowed", close_after);
        else
            rc = serve_file(s, path, !strcmp(method, "HEAD"), close_after);
        if (rc || close_after)
            return 0;
    }
}

/* ---- the demonstration: a directory, a server, a client ---- */

static int get(cask_stream *c, const char *path, long *body_len)
{
    char req[256], line[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    if (cask_stream_write(c, req, (size_t)len) != len)
        return -EPIPE;
    ssize_t n = cask_stream_readline(c, line, sizeof line - 1);
    if (n <= 0)
        return -EPROTO;
    line[n] = 0;
    int code = atoi(line + 9);
    long clen = -1;
    while ((n = cask_stream_readline(c, line, sizeof line - 1)) > 2) {
        line[n] = 0;
        if (!strncasecmp(line, "Content-Length:", 15))
            clen = strtol(line + 15, NULL, 10);
    }
    if (n <= 0 || clen < 0)
        return -EPROTO;
    *body_len = clen;
    char buf[8192]; /* tasks have small stacks: no 64 KiB arrays here */
    while (clen > 0) { /* read and drop the body */
        n = cask_stream_read(c, buf, clen < (long)sizeof buf ? (size_t)clen : sizeof buf);
        if (n <= 0)
            return -EPROTO;
        clen -= n;
    }
    return code;
}

static int demo(void *arg)
{
    char *dir = arg;
    char path[512];
    snprintf(path, sizeof path, "%s/index.html", dir);
    const char page[] = "<h1>cask</h1>\n";
    int rc = cask_file_replace(path, page, sizeof page - 1, 0644);
    snprintf(path, sizeof path, "%s/big.bin", dir);
    static char big[3 << 20];
    memset(big, 'c', sizeof big);
    if (rc == 0)
        rc = cask_file_replace(path, big, sizeof big, 0644);
    if (rc)
        return rc;
    cask_server *srv;
    if ((rc = cask_start_server(&srv, "127.0.0.1", 0, http, NULL, NULL)))
        return rc;
    cask_stream *c;
    if ((rc = cask_open_connection(&c, "127.0.0.1", cask_server_port(srv)))) {
        (void)cask_server_close(srv, 1.0);
        return rc;
    }
    const char *paths[] = {"/", "/big.bin", "/missing.txt", "/../etc/passwd", "/index.html?x=1"};
    printf("five requests on one kept-alive connection:\n");
    for (size_t i = 0; i < sizeof paths / sizeof paths[0] && rc >= 0; i++) {
        long len = 0;
        rc = get(c, paths[i], &len);
        if (rc >= 0)
            printf("  GET %-18s -> %d, %ld bytes\n", paths[i], rc, len);
    }
    cask_stream_free(c);
    printf("connections served: %llu\n", (unsigned long long)cask_server_accepted(srv));
    int cancelled = cask_server_close(srv, 1.0);
    cask_file_unlink(path);
    snprintf(path, sizeof path, "%s/index.html", dir);
    cask_file_unlink(path);
    cask_dir_remove(dir);
    return rc < 0 ? rc : cancelled;
}

static int serve(void *arg)
{
    cask_server *srv;
    int rc = cask_start_server(&srv, NULL, (uint16_t)atoi(arg), http, NULL, NULL);
    if (rc)
        return rc;
    printf("serving %s on http://localhost:%u/ ; Ctrl-C stops it\n", root,
           cask_server_port(srv));
    rc = cask_server_wait(srv);
    (void)cask_server_close(srv, 2.0);
    return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc;
    if (argc > 2) {
        root = argv[1];
        struct cask_config cfg = {.sigint_cancels_main = true};
        rc = cask_run_with(serve, argv[2], &cfg);
    } else {
        char dir[] = "/tmp/cask_www_XXXXXX";
        if (!mkdtemp(dir))
            return 1;
        root = dir;
        rc = cask_run(demo, dir);
    }
    if (rc)
        fprintf(stderr, "71_static_server: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

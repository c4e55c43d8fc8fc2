/*
 * libuv.c: process benchmarks for libuv (bench/proc.sh).
 * usage: peer-libuv-proc WORKLOAD [N]
 *   spawn_seq [N]  uv_spawn("/bin/true") and its exit callback, N (1000) times in turn
 *   spawn16 [N]    the same with 16 children at once
 *   spawn_1g [N]   spawn_seq (200) with 1 GiB of the heap touched first
 *   pipe [BYTES]   a child writes BYTES (1 GiB) of zeros to stdout; uv_read_start with
 *                  256 KiB buffers
 * Children get /dev/null as stdin, stdout and stderr (UV_IGNORE), except the pipe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static uv_loop_t *loop;
static long left, running, total;
static char *args_true[] = {"/bin/true", NULL};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_one(void);

static void on_close(uv_handle_t *h) { free(h); }

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    if (status != 0 || sig != 0)
        abort();
    uv_close((uv_handle_t *)p, on_close);
    running--;
    if (left > 0)
        start_one();
}

static void start_one(void)
{
    uv_process_t *p = malloc(sizeof *p);
    uv_stdio_container_t io[3];
    for (int i = 0; i < 3; i++)
        io[i].flags = UV_IGNORE;
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = args_true[0];
    o.args = args_true;
    o.exit_cb = on_exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    left--;
    running++;
    int rc = uv_spawn(loop, p, &o);
    if (rc) {
        fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
        exit(1);
    }
}

static char pbuf[256 * 1024];
static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    (void)s;
    *b = uv_buf_init(pbuf, sizeof pbuf);
}
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n > 0)
        total += n;
    else if (n < 0)
        uv_close((uv_handle_t *)s, NULL);
}
static void pipe_exit(uv_process_t *p, int64_t status, int sig)
{
    (void)status;
    (void)sig;
    uv_close((uv_handle_t *)p, NULL);
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "spawn_seq";
    long n = argc > 2 ? atol(argv[2]) : 0;
    loop = uv_default_loop();
    if (!strcmp(w, "spawn_seq") || !strcmp(w, "spawn_1g") || !strcmp(w, "spawn16")) {
        int spawn_1g = !strcmp(w, "spawn_1g"), conc = !strcmp(w, "spawn16") ? 16 : 1;
        n = n ? n : spawn_1g ? 200 : 1000;
        n = n / conc * conc;
        if (spawn_1g) {
            char *heap = malloc((size_t)1 << 30);
            memset(heap, 1, (size_t)1 << 30);
            __asm__ volatile("" ::"r"(heap) : "memory");
        }
        left = n;
        double t0 = now();
        for (int i = 0; i < conc; i++)
            start_one();
        uv_run(loop, UV_RUN_DEFAULT);
        printf("RESULT proc_%s libuv us_per_proc=%.1f\n", w, (now() - t0) * 1e6 / (double)n);
    } else if (!strcmp(w, "pipe")) {
        n = n ? n : 1L << 30;
        char count[32];
        snprintf(count, sizeof count, "%ld", n);
        char *args[] = {"head", "-c", count, "/dev/zero", NULL};
        uv_pipe_t out;
        uv_pipe_init(loop, &out, 0);
        uv_stdio_container_t io[3];
        io[0].flags = UV_IGNORE;
        io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        io[1].data.stream = (uv_stream_t *)&out;
        io[2].flags = UV_INHERIT_FD;
        io[2].data.fd = 2;
        uv_process_options_t o;
        memset(&o, 0, sizeof o);
        o.file = "head";
        o.args = args;
        o.exit_cb = pipe_exit;
        o.stdio = io;
        o.stdio_count = 3;
        uv_process_t p;
        double t0 = now();
        if (uv_spawn(loop, &p, &o))
            return 1;
        uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb);
        uv_run(loop, UV_RUN_DEFAULT);
        if (total != n)
            return 1;
        printf("RESULT proc_pipe libuv mb_per_s=%.1f\n", (double)n / (now() - t0) / 1e6);
    } else {
        fprintf(stderr, "unknown workload %s\n", w);
        return 2;
    }
    return 0;
}

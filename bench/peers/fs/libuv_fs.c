/* The file benchmarks in libuv, at its best: uv_fs_* requests with callbacks, as many in
 * flight as the queue depth, and the thread pool sized to it (UV_THREADPOOL_SIZE=64, set by
 * bench/fs.sh). Same work as bench/cask_fs.c.   usage: libuv_fs WORKLOAD DIR WHERE */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char *dir, *where;
static double seconds = 1.0, deadline, t0;
static uv_file fd;
static int64_t nblocks;
static long ops;
static uv_loop_t *loop;

static double now(void) { return (double)uv_hrtime() / 1e9; }

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* ---- random reads: each slot re-issues its read from the callback ---- */
struct slot {
    uv_fs_t req;
    uint64_t seed;
    char buf[4096];
};

static void rand_issue(struct slot *s);
static void rand_done(uv_fs_t *req)
{
    struct slot *s = req->data;
    if (req->result != 4096) {
        fprintf(stderr, "read: %zd\n", (ssize_t)req->result);
        exit(1);
    }
    uv_fs_req_cleanup(req);
    ops++;
    if (now() < deadline)
        rand_issue(s);
}
static void rand_issue(struct slot *s)
{
    int64_t off = (int64_t)(lcg(&s->seed) % (uint64_t)nblocks) * 4096;
    uv_buf_t b = uv_buf_init(s->buf, sizeof s->buf);
    s->req.data = s;
    uv_fs_read(loop, &s->req, fd, &b, 1, off, rand_done);
}

/* ---- sequential reads ---- */
static char *seqbuf;
static long total;
static uv_fs_t seqreq;
static void seq_done(uv_fs_t *req)
{
    ssize_t r = req->result;
    uv_fs_req_cleanup(req);
    if (r < 0) {
        fprintf(stderr, "read: %zd\n", r);
        exit(1);
    }
    if (r == 0)
        return;
    total += r;
    uv_buf_t b = uv_buf_init(seqbuf, 1 << 20);
    uv_fs_read(loop, &seqreq, fd, &b, 1, -1, seq_done);
}

/* ---- small files: open -> read ... -> close, 64 chains ---- */
struct chain {
    uv_fs_t req;
    uv_file f;
    char buf[8192];
};
static int next_file;
static void small_next(struct chain *c);
static void small_closed(uv_fs_t *req)
{
    struct chain *c = req->data;
    uv_fs_req_cleanup(req);
    ops++;
    small_next(c);
}
static void small_read(uv_fs_t *req)
{
    struct chain *c = req->data;
    ssize_t r = req->result;
    uv_fs_req_cleanup(req);
    c->req.data = c;
    if (r > 0) {
        uv_buf_t b = uv_buf_init(c->buf, sizeof c->buf);
        uv_fs_read(loop, &c->req, c->f, &b, 1, -1, small_read);
    } else {
        uv_fs_close(loop, &c->req, c->f, small_closed);
    }
}
static void small_opened(uv_fs_t *req)
{
    struct chain *c = req->data;
    c->f = (uv_file)req->result;
    uv_fs_req_cleanup(req);
    if (c->f < 0) {
        fprintf(stderr, "open: %d\n", c->f);
        exit(1);
    }
    c->req.data = c;
    uv_buf_t b = uv_buf_init(c->buf, sizeof c->buf);
    uv_fs_read(loop, &c->req, c->f, &b, 1, -1, small_read);
}
static void small_next(struct chain *c)
{
    if (next_file >= 10000)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/small/%d", dir, next_file++);
    c->req.data = c;
    uv_fs_open(loop, &c->req, path, O_RDONLY, 0, small_opened);
}

/* ---- appends with fdatasync ---- */
static uv_fs_t apreq;
static char apbuf[4096];
static void ap_write(void);
static void ap_synced(uv_fs_t *req)
{
    uv_fs_req_cleanup(req);
    ops++;
    if (now() < deadline)
        ap_write();
}
static void ap_written(uv_fs_t *req)
{
    if (req->result != 4096) {
        fprintf(stderr, "write: %zd\n", (ssize_t)req->result);
        exit(1);
    }
    uv_fs_req_cleanup(req);
    uv_fs_fdatasync(loop, &apreq, fd, ap_synced);
}
static void ap_write(void)
{
    uv_buf_t b = uv_buf_init(apbuf, sizeof apbuf);
    uv_fs_write(loop, &apreq, fd, &b, 1, -1, ap_written);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const char *w = argv[1];
    dir = argv[2];
    where = argv[3];
    if (getenv("CASK_FS_SECONDS"))
        seconds = atof(getenv("CASK_FS_SECONDS"));
    loop = uv_default_loop();
    char path[512];
    uv_fs_t sync;
    if (!strncmp(w, "randread", 8)) {
        int qd = atoi(w + 8);
        snprintf(path, sizeof path, "%s/big", dir);
        fd = uv_fs_open(NULL, &sync, path, O_RDONLY, 0, NULL);
        uv_fs_req_cleanup(&sync);
        uv_fs_fstat(NULL, &sync, fd, NULL);
        nblocks = (int64_t)sync.statbuf.st_size / 4096;
        uv_fs_req_cleanup(&sync);
        struct slot *slots = calloc((size_t)qd, sizeof *slots);
        t0 = now();
        deadline = t0 + seconds;
        for (int i = 0; i < qd; i++) {
            slots[i].seed = (uint64_t)i * 7919u + 1;
            rand_issue(&slots[i]);
        }
        uv_run(loop, UV_RUN_DEFAULT);
        printf("RESULT fs_randread_qd%d_%s libuv iops=%.0f\n", qd, where, ops / (now() - t0));
        free(slots);
    } else if (!strcmp(w, "seqread")) {
        snprintf(path, sizeof path, "%s/big", dir);
        fd = uv_fs_open(NULL, &sync, path, O_RDONLY, 0, NULL);
        uv_fs_req_cleanup(&sync);
        seqbuf = malloc(1 << 20);
        t0 = now();
        uv_buf_t b = uv_buf_init(seqbuf, 1 << 20);
        uv_fs_read(loop, &seqreq, fd, &b, 1, -1, seq_done);
        uv_run(loop, UV_RUN_DEFAULT);
        printf("RESULT fs_seqread_%s libuv mb_s=%.0f\n", where, total / (now() - t0) / 1e6);
    } else if (!strcmp(w, "smallfiles")) {
        struct chain *c = calloc(64, sizeof *c);
        t0 = now();
        for (int i = 0; i < 64; i++)
            small_next(&c[i]);
        uv_run(loop, UV_RUN_DEFAULT);
        printf("RESULT fs_smallfiles_%s libuv files_s=%.0f\n", where, ops / (now() - t0));
        free(c);
    } else if (!strcmp(w, "append")) {
        snprintf(path, sizeof path, "%s/append.uv", dir);
        fd = uv_fs_open(NULL, &sync, path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644, NULL);
        uv_fs_req_cleanup(&sync);
        memset(apbuf, 'a', sizeof apbuf);
        t0 = now();
        deadline = t0 + seconds;
        ap_write();
        uv_run(loop, UV_RUN_DEFAULT);
        printf("RESULT fs_append_fsync_%s libuv ops_s=%.0f\n", where, ops / (now() - t0));
        uv_fs_unlink(NULL, &sync, path, NULL);
        uv_fs_req_cleanup(&sync);
    }
    return 0;
}

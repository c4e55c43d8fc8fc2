/* 72_file_copy.c: copying a file with several chunks in flight. Four tasks take 1 MiB chunks
 * in turn, read each with cask_file_pread and write it at the same offset with
 * cask_file_pwrite, so reads and writes overlap (on io_uring they are requests on one ring, with
 * no thread). The copy gets the source's permissions and is fsynced before it is renamed into
 * place, so the destination is never seen half-written. With no arguments it copies a 24 MiB
 * file it makes in /tmp and compares; otherwise:  72_file_copy SRC DST */
#define _GNU_SOURCE
#include <cask.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define WORKERS 4

struct copy {
    int in, out;
    int64_t size, next; /* the next chunk's offset, taken in turn */
};

static int worker(void *arg)
{
    struct copy *c = arg;
    char *buf = malloc(CHUNK); /* task stacks are small: buffers go on the heap */
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    while (rc == 0 && c->next < c->size) {
        int64_t off = c->next;
        c->next += CHUNK;
        size_t want = c->size - off < CHUNK ? (size_t)(c->size - off) : CHUNK;
        ssize_t n = cask_file_pread(c->in, buf, want, off);
        if (n != (ssize_t)want)
            rc = n < 0 ? (int)n : -EIO; /* the source shrank while we copied */
        else if ((n = cask_file_pwrite(c->out, buf, want, off)) != (ssize_t)want)
            rc = n < 0 ? (int)n : -EIO;
    }
    free(buf);
    return rc;
}

static int copy_file(const char *src, const char *dst)
{
    struct copy c = {0};
    struct stat st;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.part", dst) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    c.in = cask_file_open(src, O_RDONLY, 0);
    if (c.in < 0)
        return c.in;
    int rc = cask_file_fstat(c.in, &st);
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = -EINVAL;
    if (rc == 0) {
        c.out = cask_file_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777);
        rc = c.out < 0 ? c.out : 0;
    }
    if (rc) {
        cask_file_close(c.in);
        return rc;
    }
    c.size = st.st_size;
    if (c.size > 0)
        rc = cask_file_fallocate(c.out, 0, 0, c.size); /* one extent, and ENOSPC up front */
    if (rc == -EOPNOTSUPP)
        rc = 0;
    cask_task *t[WORKERS];
    int statuses[WORKERS], n = 0;
    for (; rc == 0 && n < WORKERS; n++)
        rc = cask_spawn(&t[n], worker, &c);
    if (n && cask_gather(t, (size_t)n, statuses) < 0 && rc == 0)
        for (int i = 0; i < n; i++)
            if (statuses[i] < 0 && rc == 0)
                rc = statuses[i];
    for (int i = 0; i < n; i++)
        cask_release(t[i]);
    if (rc == 0)
        rc = cask_file_fsync(c.out);
    cask_file_close(c.in);
    cask_file_close(c.out);
    if (rc == 0)
        rc = cask_file_rename(tmp, dst);
    if (rc)
        cask_file_unlink(tmp);
    return rc;
}

static int demo(void *arg)
{
    (void)arg;
    char src[64], dst[64];
    snprintf(src, sizeof src, "/tmp/cask_copy_%d.src", (int)getpid());
    snprintf(dst, sizeof dst, "/tmp/cask_copy_%d.dst", (int)getpid());
    size_t size = (24 << 20) + 12345; /* not a whole number of chunks */
    char *data = malloc(size);
    if (!data)
        return -ENOMEM;
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 2654435761u >> 24);
    int rc = cask_file_replace(src, data, size, 0640);
    double t0 = cask_time();
    if (rc == 0)
        rc = copy_file(src, dst);
    double secs = cask_time() - t0;
    char *back = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = cask_file_read_all(dst, &back, &len);
    struct stat st;
    if (rc == 0)
        rc = cask_file_stat(dst, &st);
    if (rc == 0) {
        struct cask_loop_stats ls;
        (void)cask_loop_stats(&ls);
        printf("copied %zu bytes in %.1f ms on %s: %s, mode %o\n", len, secs * 1e3, ls.backend,
               len == size && !memcmp(back, data, size) ? "identical" : "DIFFERENT",
               st.st_mode & 0777);
        if (len != size || memcmp(back, data, size))
            rc = -EIO;
    }
    cask_free(back);
    free(data);
    cask_file_unlink(src);
    cask_file_unlink(dst);
    return rc;
}

static int copy_args(void *arg)
{
    char **argv = arg;
    return copy_file(argv[1], argv[2]);
}

int main(int argc, char **argv)
{
    int rc = argc > 2 ? cask_run(copy_args, argv) : cask_run(demo, NULL);
    if (rc)
        fprintf(stderr, "72_file_copy: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

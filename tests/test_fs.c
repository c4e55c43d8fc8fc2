/* test_fs.c: file operations on both backends (epoll + worker threads, io_uring): every call,
 * the errors users meet (ENOENT, EACCES, EISDIR, EBADF, EFBIG, ENOTEMPTY), sparse offsets past
 * 4 GiB, short reads at end of file, many tasks reading one file, cancellation at each call,
 * and the loop staying responsive while a large file is read. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dirpath[64];
static bool keep_scratch; /* run_both leaves the scratch directory as the test made it */
static const char *scratch_root = "/tmp"; /* /dev/shm for the tmpfs tests */

static void mkscratch(void)
{
    snprintf(dirpath, sizeof dirpath, "%s/cask_fs_%d", scratch_root, (int)getpid());
    mkdir(dirpath, 0700);
}

static void rmscratch(void)
{
    if (!dirpath[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dirpath);
    CHECK_EQ(system(cmd), 0);
}

static const char *p(const char *name)
{
    static char buf[4][128];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 128, "%s/%s", dirpath, name);
    return b;
}

/* Runs fn on each backend built in; returns how many ran (io_uring may be missing). */
static int run_both(cask_fn fn, void *arg)
{
    static const char *const backends[] = {"epoll", "io_uring"};
    int ran = 0;
    for (int i = 0; i < 2; i++) {
        if (!keep_scratch) { /* each backend starts from an empty directory */
            rmscratch();
            mkscratch();
        }
        struct cask_config cfg = {.backend = backends[i]};
        int rc = cask_run_with(fn, arg, &cfg);
        if (i == 1 && (rc == -ENOSYS || rc == -EPERM))
            continue; /* built without liburing, no io_uring in this kernel, or disabled */
        if (rc != 0)
            fprintf(stderr, "  backend %s: status %d\n", backends[i], rc);
        CHECK_EQ(rc, 0);
        ran++;
    }
    return ran;
}

static const char *backend(void)
{
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    return st.backend;
}

/* ---- every call ---- */

static int basic_main(void *arg)
{
    (void)arg;
    const char *b = backend();
    CHECK(!strcmp(b, "epoll") || !strcmp(b, "io_uring"));
    int fd = cask_file_open(p("a"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(cask_file_write(fd, "hello, ", 7), 7);
    CHECK_EQ(cask_file_write(fd, "world\n", 6), 6);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 13);
    char buf[64] = {0};
    CHECK_EQ(cask_file_pread(fd, buf, sizeof buf, 0), 13);
    CHECK(!memcmp(buf, "hello, world\n", 13));
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 13); /* pread leaves the position alone */
    CHECK_EQ(cask_file_read(fd, buf, sizeof buf), 0); /* at the end */
    CHECK_EQ(lseek(fd, 7, SEEK_SET), 7);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(cask_file_read(fd, buf, 3), 3);
    CHECK_STR(buf, "wor");
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10);
    CHECK_EQ(cask_file_pwrite(fd, "J", 1, 0), 1);
    char a[4] = {0}, c[8] = {0};
    struct iovec iov[2] = {{a, 3}, {c, 7}};
    CHECK_EQ(cask_file_readv(fd, iov, 2, 0), 10);
    CHECK_STR(a, "Jel");
    CHECK_STR(c, "lo, wor");
    struct iovec wv[2] = {{"AB", 2}, {"CD", 2}};
    CHECK_EQ(cask_file_writev(fd, wv, 2, 20), 4);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10);
    CHECK_EQ(cask_file_writev(fd, wv, 2, -1), 4); /* at the position: moves it */
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 14);
    memset(c, 0, sizeof c);
    CHECK_EQ(cask_file_pread(fd, c, 4, 20), 4);
    CHECK_STR(c, "ABCD");
    struct stat st;
    CHECK_EQ(cask_file_fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, 24);
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ(cask_file_fsync(fd), 0);
    CHECK_EQ(cask_file_fdatasync(fd), 0);
    CHECK_EQ(cask_file_truncate(fd, 5), 0);
    CHECK_EQ(cask_file_fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, 5);
    CHECK_EQ(cask_file_fallocate(fd, 0, 0, 8192), 0);
    CHECK_EQ(cask_file_stat(p("a"), &st), 0);
    CHECK_EQ(st.st_size, 8192);
    CHECK(st.st_blocks >= 16);
    CHECK_EQ(cask_file_close(fd), 0);
    CHECK_EQ(fcntl(fd, F_GETFD), -1);

    CHECK_EQ(cask_file_rename(p("a"), p("b")), 0);
    CHECK_EQ(cask_file_stat(p("a"), &st), -ENOENT);
    CHECK_EQ(cask_dir_make(p("d"), 0755), 0);
    CHECK_EQ(cask_file_stat(p("d"), &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_EQ(cask_file_replace(p("d/z"), "zz", 2, 0600), 0);
    CHECK_EQ(cask_file_replace(p("c"), "new contents", 12, 0640), 0);
    CHECK_EQ(cask_file_replace(p("c"), "newer", 5, 0640), 0);
    char **names;
    size_t n;
    CHECK_EQ(cask_dir_list(dirpath, &names, &n), 0);
    CHECK_EQ(n, 3); /* b, c, d: no temporary file left */
    CHECK_STR(names[0], "b");
    CHECK_STR(names[1], "c");
    CHECK_STR(names[2], "d");
    cask_dir_list_free(names, n);
    char *data;
    size_t len;
    CHECK_EQ(cask_file_read_all(p("c"), &data, &len), 0);
    CHECK_EQ(len, 5);
    CHECK_STR(data, "newer");
    cask_free(data);
    CHECK_EQ(cask_file_stat(p("c"), &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0640);
    CHECK_EQ(cask_file_read_all("/proc/self/status", &data, &len), 0); /* size 0 in stat */
    CHECK(len > 100 && strstr(data, "Pid:"));
    cask_free(data);
    CHECK_EQ(cask_file_unlink(p("d/z")), 0);
    CHECK_EQ(cask_dir_remove(p("d")), 0);
    CHECK_EQ(cask_file_unlink(p("b")), 0);
    CHECK_EQ(cask_file_unlink(p("c")), 0);
    CHECK_EQ(cask_dir_list(dirpath, &names, &n), 0);
    CHECK_EQ(n, 0);
    CHECK(names == NULL);
    return 0;
}

TEST(fs_every_call)
{
    mkscratch();
    CHECK(run_both(basic_main, NULL) >= 1);
    rmscratch();
}

/* ---- errors ---- */

static int errors_main(void *arg)
{
    (void)arg;
    char buf[16];
    struct stat st;
    char **names;
    size_t n;
    char *data;
    CHECK_EQ(cask_file_open(p("missing"), O_RDONLY, 0), -ENOENT);
    CHECK_EQ(cask_file_open(p("no/dir"), O_RDWR | O_CREAT, 0644), -ENOENT);
    CHECK_EQ(cask_file_stat(p("missing"), &st), -ENOENT);
    CHECK_EQ(cask_file_unlink(p("missing")), -ENOENT);
    CHECK_EQ(cask_file_rename(p("missing"), p("x")), -ENOENT);
    CHECK_EQ(cask_dir_list(p("missing"), &names, &n), -ENOENT);
    CHECK(names == NULL && n == 0);
    CHECK_EQ(cask_file_read_all(p("missing"), &data, &n), -ENOENT);
    CHECK(data == NULL);
    /* EISDIR: a directory opened for writing, read, or read whole */
    CHECK_EQ(cask_file_open(dirpath, O_WRONLY, 0), -EISDIR);
    int dfd = cask_file_open(dirpath, O_RDONLY, 0);
    CHECK(dfd >= 0);
    CHECK_EQ(cask_file_read(dfd, buf, sizeof buf), -EISDIR);
    CHECK_EQ(cask_file_pread(dfd, buf, sizeof buf, 0), -EISDIR);
    CHECK_EQ(cask_file_close(dfd), 0);
    CHECK_EQ(cask_file_read_all(dirpath, &data, &n), -EISDIR);
    CHECK_EQ(cask_file_unlink(dirpath), -EISDIR);
    /* EBADF: closed fds, wrong direction */
    int fd = cask_file_open(p("f"), O_RDONLY | O_CREAT, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(cask_file_write(fd, "x", 1), -EBADF); /* opened read-only, then written */
    CHECK_EQ(cask_file_pwrite(fd, "x", 1, 0), -EBADF);
    CHECK_EQ(cask_file_truncate(fd, 0), -EINVAL); /* ftruncate's answer for a read-only fd */
    CHECK_EQ(cask_file_close(fd), 0);
    CHECK_EQ(cask_file_read(fd, buf, 1), -EBADF);
    CHECK_EQ(cask_file_write(fd, "x", 1), -EBADF);
    CHECK_EQ(cask_file_fsync(fd), -EBADF);
    CHECK_EQ(cask_file_fstat(fd, &st), -EBADF);
    CHECK_EQ(cask_file_close(fd), -EBADF);
    CHECK_EQ(cask_file_read(-1, buf, 1), -EBADF);
    fd = cask_file_open(p("w"), O_WRONLY | O_CREAT, 0644);
    CHECK_EQ(cask_file_read(fd, buf, 1), -EBADF);
    CHECK_EQ(cask_file_close(fd), 0);
    /* directories */
    CHECK_EQ(cask_dir_make(p("d"), 0755), 0);
    CHECK_EQ(cask_dir_make(p("d"), 0755), -EEXIST);
    CHECK_EQ(cask_file_replace(p("d/x"), "x", 1, 0644), 0);
    CHECK_EQ(cask_dir_remove(p("d")), -ENOTEMPTY);
    CHECK_EQ(cask_dir_remove(p("f")), -ENOTDIR);
    CHECK_EQ(cask_dir_list(p("f"), &names, &n), -ENOTDIR);
    CHECK_EQ(cask_file_replace(p("nodir/x"), "x", 1, 0644), -ENOENT);
    /* bad arguments */
    CHECK_EQ(cask_file_open(NULL, O_RDONLY, 0), -EINVAL);
    CHECK_EQ(cask_file_read(0, NULL, 1), -EINVAL);
    CHECK_EQ(cask_file_pread(0, buf, 1, -1), -EINVAL);
    CHECK_EQ(cask_file_pwrite(0, buf, 1, -5), -EINVAL);
    CHECK_EQ(cask_file_readv(0, NULL, 1, 0), -EINVAL);
    struct iovec v = {buf, 1};
    CHECK_EQ(cask_file_readv(0, &v, 0, 0), -EINVAL);
    CHECK_EQ(cask_file_writev(0, &v, 1, -2), -EINVAL);
    CHECK_EQ(cask_file_fallocate(0, 0, -1, 10), -EINVAL);
    CHECK_EQ(cask_file_fallocate(0, 0, 0, 0), -EINVAL);
    CHECK_EQ(cask_file_truncate(0, -1), -EINVAL);
    CHECK_EQ(cask_file_stat(NULL, &st), -EINVAL);
    CHECK_EQ(cask_file_stat(dirpath, NULL), -EINVAL);
    CHECK_EQ(cask_file_fstat(0, NULL), -EINVAL);
    CHECK_EQ(cask_file_rename(p("f"), NULL), -EINVAL);
    CHECK_EQ(cask_dir_list(NULL, &names, &n), -EINVAL);
    CHECK_EQ(cask_file_read_all(p("f"), NULL, &n), -EINVAL);
    CHECK_EQ(cask_file_replace(p("f"), NULL, 1, 0644), -EINVAL);
    return 0;
}

TEST(fs_errors)
{
    mkscratch();
    CHECK_EQ(cask_file_open("/tmp", O_RDONLY, 0), -EPERM); /* outside a loop */
    CHECK_EQ(cask_file_close(0), -EPERM);
    char buf[4];
    CHECK_EQ(cask_file_read(0, buf, 1), -EPERM);
    CHECK(run_both(errors_main, NULL) >= 1);
    rmscratch();
}

/* EACCES: tests run as root, who may open anything; a child drops to nobody first. */
static int eacces_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_file_open(p("secret"), O_RDONLY, 0), -EACCES);
    CHECK_EQ(cask_file_open(p("secret"), O_WRONLY, 0), -EACCES);
    CHECK_EQ(cask_file_open(p("closed/x"), O_RDONLY, 0), -EACCES);
    CHECK_EQ(cask_file_replace(p("secret"), "x", 1, 0644), -EACCES); /* cannot write the dir */
    char **names;
    size_t n;
    CHECK_EQ(cask_dir_list(p("closed"), &names, &n), -EACCES);
    return 0;
}

TEST(fs_eacces)
{
    mkscratch();
    int fd = open(p("secret"), O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ(mkdir(p("closed"), 0700), 0);
    CHECK_EQ(chmod(dirpath, 0755), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) || setuid(65534)))
            _exit(3);
        keep_scratch = true;
        _exit(run_both(eacces_main, NULL) >= 1 ? 0 : 4);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    rmscratch();
}

/* EFBIG: RLIMIT_FSIZE, with SIGXFSZ ignored so the write fails instead of killing us. */
static int efbig_main(void *arg)
{
    (void)arg;
    int fd = cask_file_open(p("big"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    static char block[8192];
    memset(block, 'x', sizeof block);
    CHECK_EQ(cask_file_pwrite(fd, block, 4096, 0), 4096);
    ssize_t w = cask_file_pwrite(fd, block, 8192, 4096);
    CHECK_EQ(w, 4096); /* stops at the limit: the count so far */
    CHECK_EQ(cask_file_pwrite(fd, block, 1, 8192), -EFBIG);
    if (!strcmp(backend(), "epoll")) {
        /* at the file position too; Linux's io_uring (6.18) checks the limit of a write at the
         * file position against a stale position, so it is left out there (docs/files.md) */
        CHECK_EQ(lseek(fd, 4096, SEEK_SET), 4096);
        CHECK_EQ(cask_file_write(fd, block, 8192), 4096);
        CHECK_EQ(cask_file_write(fd, block, 1), -EFBIG);
    }
    CHECK_EQ(cask_file_pwrite(fd, block, 1, 1 << 20), -EFBIG);
    CHECK_EQ(cask_file_fallocate(fd, 0, 0, 1 << 20), -EFBIG);
    CHECK_EQ(cask_file_truncate(fd, 1 << 20), -EFBIG);
    CHECK_EQ(cask_file_replace(p("big2"), block, 8192 + 1, 0644), -EFBIG);
    char **names;
    size_t n;
    CHECK_EQ(cask_dir_list(dirpath, &names, &n), 0);
    CHECK_EQ(n, 1); /* the temporary file of the failed replace is gone */
    cask_dir_list_free(names, n);
    CHECK_EQ(cask_file_close(fd), 0);
    return 0;
}

TEST(fs_efbig)
{
    mkscratch();
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {8192, 8192};
    CHECK_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
    CHECK(run_both(efbig_main, NULL) >= 1);
    rmscratch();
}

/* ---- offsets past 4 GiB, short reads ---- */

static int sparse_main(void *arg)
{
    (void)arg;
    int fd = cask_file_open(p("sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    int64_t far = ((int64_t)5 << 30) + 12345; /* 5 GiB: past 32-bit offsets */
    CHECK_EQ(cask_file_pwrite(fd, "far away", 8, far), 8);
    struct stat st;
    CHECK_EQ(cask_file_fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, far + 8);
    CHECK(st.st_blocks < 64); /* sparse: nothing allocated before the data */
    char buf[32] = {0};
    CHECK_EQ(cask_file_pread(fd, buf, 8, far), 8);
    CHECK_STR(buf, "far away");
    CHECK_EQ(cask_file_pread(fd, buf, sizeof buf, far + 4), 4); /* short read at the end */
    CHECK(!memcmp(buf, "away", 4));
    CHECK_EQ(cask_file_pread(fd, buf, sizeof buf, far + 8), 0);
    CHECK_EQ(cask_file_pread(fd, buf, sizeof buf, far * 2), 0);
    CHECK_EQ(cask_file_pread(fd, buf, 4, (int64_t)4 << 30), 4); /* a hole reads as zeros */
    CHECK(!memcmp(buf, "\0\0\0\0", 4));
    CHECK_EQ(lseek(fd, far + 3, SEEK_SET), far + 3);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(cask_file_read(fd, buf, sizeof buf), 5);
    CHECK_STR(buf, " away");
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), far + 8);
    CHECK_EQ(cask_file_truncate(fd, far), 0);
    CHECK_EQ(cask_file_fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, far);
    CHECK_EQ(cask_file_close(fd), 0);
    CHECK_EQ(cask_file_unlink(p("sparse")), 0);
    return 0;
}

TEST(fs_sparse_past_4gib)
{
    mkscratch();
    CHECK(run_both(sparse_main, NULL) >= 1);
    rmscratch();
}

/* ---- many tasks reading one file ---- */

#define NREADERS 64
#define CHUNK 65536

struct shared_file {
    int fd;
    int ok;
};

static int reader_task(void *arg)
{
    struct shared_file *sf = arg;
    static __thread int next;
    int me = next++ % NREADERS;
    char *buf = malloc(CHUNK);
    CHECK(buf);
    for (int round = 0; round < 4; round++) {
        int chunk = (me + round * 7) % NREADERS;
        ssize_t n = cask_file_pread(sf->fd, buf, CHUNK, (int64_t)chunk * CHUNK);
        CHECK_EQ(n, CHUNK);
        for (int i = 0; i < CHUNK; i += 512)
            CHECK_EQ((unsigned char)buf[i], (unsigned char)(chunk * 31 + i / 512));
    }
    free(buf);
    sf->ok++;
    return 0;
}

static int many_main(void *arg)
{
    (void)arg;
    struct shared_file sf = {0};
    sf.fd = cask_file_open(p("shared"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(sf.fd >= 0);
    char *all = malloc((size_t)NREADERS * CHUNK);
    CHECK(all);
    for (int c = 0; c < NREADERS; c++)
        for (int i = 0; i < CHUNK; i++)
            all[(size_t)c * CHUNK + i] = (char)(c * 31 + i / 512);
    CHECK_EQ(cask_file_write(sf.fd, all, (size_t)NREADERS * CHUNK), NREADERS * CHUNK);
    free(all);
    /* drop the cached pages so that the reads really go to the ring or the threads */
    CHECK_EQ(cask_file_fdatasync(sf.fd), 0);
    posix_fadvise(sf.fd, 0, 0, POSIX_FADV_DONTNEED);
    cask_task *t[NREADERS];
    for (int i = 0; i < NREADERS; i++)
        CHECK_EQ(cask_spawn(&t[i], reader_task, &sf), 0);
    CHECK_EQ(cask_gather(t, NREADERS, NULL), 0);
    for (int i = 0; i < NREADERS; i++)
        cask_release(t[i]);
    CHECK_EQ(sf.ok, NREADERS);
    CHECK_EQ(cask_file_close(sf.fd), 0);
    return 0;
}

TEST(fs_many_tasks_one_file)
{
    mkscratch();
    CHECK(run_both(many_main, NULL) >= 1);
    rmscratch();
}

/* Random reads of a file whose pages were dropped: after two misses in a row the fd skips the
 * RWF_NOWAIT attempt (it would start the read itself, one device doorbell per read, from the
 * loop's thread) and goes straight to the ring or a thread; once the file is cached a probe
 * finds it so and the reads are cheap again. Checked by whether each read parked its task. */
#define RR_BLOCKS 1024

static bool rr_block_ok(const unsigned char *b, int blk)
{
    for (int i = 0; i < 4096; i++)
        if (b[i] != (unsigned char)(blk * 7 + i / 64))
            return false;
    return true;
}

/* Reads block blk at the start of an iteration (a fresh cached-read budget): 1 if the read
 * parked the task, 0 if it returned at once. */
static int rr_read(int fd, int blk)
{
    unsigned char b[4096];
    struct cask_loop_stats a, z;
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_loop_stats(&a), 0);
    CHECK_EQ(cask_file_pread(fd, b, sizeof b, (int64_t)blk * 4096), 4096);
    CHECK_EQ(cask_loop_stats(&z), 0);
    CHECK(rr_block_ok(b, blk));
    return a.switches != z.switches;
}

static int rr_main(void *arg)
{
    (void)arg;
    int fd = cask_file_open(p("rr"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    unsigned char *all = malloc((size_t)RR_BLOCKS * 4096);
    CHECK(all);
    for (int blk = 0; blk < RR_BLOCKS; blk++)
        for (int i = 0; i < 4096; i++)
            all[(size_t)blk * 4096 + i] = (unsigned char)(blk * 7 + i / 64);
    CHECK_EQ(cask_file_write(fd, all, (size_t)RR_BLOCKS * 4096), RR_BLOCKS * 4096);
    CHECK_EQ(cask_file_fdatasync(fd), 0);
    /* the cheap path needs RWF_NOWAIT: some systems refuse it (qemu-user, old kernels), and
     * then every read goes out, correctly but with nothing here to check */
    struct iovec v = {all, 4096};
    if (preadv2(fd, &v, 1, 0, RWF_NOWAIT) != 4096) {
        printf("  skipped: preadv2(RWF_NOWAIT) refused here (%s)\n", strerror(errno));
        CHECK_EQ(cask_file_close(fd), 0);
        free(all);
        return 0;
    }
    CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    int parked = 0;
    for (int i = 0; i < 48; i++) /* cold, scattered: each one waits for the device */
        parked += rr_read(fd, 5 + (i * 389) % (RR_BLOCKS - 5));
    CHECK(parked >= 40);
    /* the whole file into the cache (a plain read: this test may hold its loop) */
    CHECK_EQ(pread(fd, all, (size_t)RR_BLOCKS * 4096, 0), RR_BLOCKS * 4096);
    int early = 0, late = 0;
    for (int i = 0; i < 64; i++) {
        int blk = (i * 613 + 11) % RR_BLOCKS;
        if (i < 32)
            early += rr_read(fd, blk);
        else
            late += rr_read(fd, blk);
    }
    CHECK(early >= 1);  /* the fd skipped the cheap attempt: its reads went out and parked */
    CHECK(early <= 16); /* a probe within 16 reads finds the pages cached */
    CHECK_EQ(late, 0);  /* and from then on every read is the cheap one */
    /* misses again, then the file cached behind the fd's back: a file opened under the same
     * number starts on the cheap path */
    CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    for (int i = 0; i < 8; i++)
        (void)rr_read(fd, 7 + (i * 389) % (RR_BLOCKS - 7));
    CHECK_EQ(pread(fd, all, (size_t)RR_BLOCKS * 4096, 0), RR_BLOCKS * 4096);
    CHECK_EQ(cask_file_close(fd), 0);
    int fd2 = cask_file_open(p("rr"), O_RDONLY, 0);
    CHECK_EQ(fd2, fd);
    CHECK_EQ(rr_read(fd2, 3), 0);
    CHECK_EQ(cask_file_close(fd2), 0);
    free(all);
    return 0;
}

TEST(fs_random_reads_cold_then_cached)
{
    mkscratch();
    CHECK(run_both(rr_main, NULL) >= 1);
    rmscratch();
}

/* ---- cancellation ---- */

/* A task cancelled before the call: each call returns -ECANCELED and did nothing. */
static int cancelled_calls(void *arg)
{
    int fd = *(int *)arg;
    CHECK(cask_cancel(cask_current()));
    char buf[8];
    struct stat st;
    char **names;
    size_t n;
    char *data;
    struct iovec v = {buf, 4};
    CHECK_EQ(cask_file_open(p("new"), O_RDWR | O_CREAT, 0644), -ECANCELED);
    CHECK_EQ(cask_file_read(fd, buf, 4), -ECANCELED);
    CHECK_EQ(cask_file_write(fd, "zzzz", 4), -ECANCELED);
    CHECK_EQ(cask_file_pread(fd, buf, 4, 0), -ECANCELED);
    CHECK_EQ(cask_file_pwrite(fd, "zzzz", 4, 0), -ECANCELED);
    CHECK_EQ(cask_file_readv(fd, &v, 1, -1), -ECANCELED);
    CHECK_EQ(cask_file_writev(fd, &v, 1, -1), -ECANCELED);
    CHECK_EQ(cask_file_fsync(fd), -ECANCELED);
    CHECK_EQ(cask_file_fdatasync(fd), -ECANCELED);
    CHECK_EQ(cask_file_fallocate(fd, 0, 0, 1 << 20), -ECANCELED);
    CHECK_EQ(cask_file_truncate(fd, 0), -ECANCELED);
    CHECK_EQ(cask_file_stat(p("keep"), &st), -ECANCELED);
    CHECK_EQ(cask_file_fstat(fd, &st), -ECANCELED);
    CHECK_EQ(cask_file_rename(p("keep"), p("moved")), -ECANCELED);
    CHECK_EQ(cask_file_unlink(p("keep")), -ECANCELED);
    CHECK_EQ(cask_dir_make(p("newdir"), 0755), -ECANCELED);
    CHECK_EQ(cask_dir_remove(p("dir")), -ECANCELED);
    CHECK_EQ(cask_dir_list(dirpath, &names, &n), -ECANCELED);
    CHECK_EQ(cask_file_read_all(p("keep"), &data, &n), -ECANCELED);
    CHECK_EQ(cask_file_replace(p("keep"), "other", 5, 0644), -ECANCELED);
    return 0;
}

static int cancel_before_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_file_replace(p("keep"), "contents", 8, 0644), 0);
    CHECK_EQ(cask_dir_make(p("dir"), 0755), 0);
    int fd = cask_file_open(p("keep"), O_RDWR, 0);
    CHECK(fd >= 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, cancelled_calls, &fd), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    /* nothing happened */
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
    char *data;
    size_t n;
    CHECK_EQ(cask_file_read_all(p("keep"), &data, &n), 0);
    CHECK_STR(data, "contents");
    cask_free(data);
    struct stat st;
    CHECK_EQ(cask_file_stat(p("new"), &st), -ENOENT);
    CHECK_EQ(cask_file_stat(p("newdir"), &st), -ENOENT);
    CHECK_EQ(cask_file_stat(p("dir"), &st), 0);
    char **names;
    CHECK_EQ(cask_dir_list(dirpath, &names, &n), 0);
    CHECK_EQ(n, 2); /* dir, keep */
    cask_dir_list_free(names, n);
    CHECK_EQ(cask_file_close(fd), 0);
    CHECK_EQ(cask_file_unlink(p("keep")), 0);
    CHECK_EQ(cask_dir_remove(p("dir")), 0);
    return 0;
}

TEST(fs_cancel_before_each_call)
{
    mkscratch();
    CHECK(run_both(cancel_before_main, NULL) >= 1);
    rmscratch();
}

/* ---- files of tmpfs: read, written and synced inline ---- */

static int tmpfs_ticks;
static int tmpfs_ticker(void *arg)
{
    (void)arg;
    for (;;) {
        int rc = cask_sleep(0);
        if (rc)
            return rc == -ECANCELED ? 0 : rc;
        tmpfs_ticks++;
    }
}

static int tmpfs_main(void *arg)
{
    (void)arg;
    enum { BIG = 3 * 1024 * 1024 + 123 };
    unsigned char *big = malloc(BIG), *back = malloc(BIG);
    CHECK(big && back);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    int fd = cask_file_open(p("big"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    /* a write of many chunks goes inline, yielding to the loop between chunks */
    cask_task *ticker;
    CHECK_EQ(cask_spawn(&ticker, tmpfs_ticker, NULL), 0);
    CHECK_EQ(cask_sleep(0), 0); /* the ticker starts */
    tmpfs_ticks = 0;
    CHECK_EQ(cask_file_write(fd, big, BIG), BIG);
    CHECK(tmpfs_ticks >= 3); /* the loop went on while 3 MiB were written */
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), BIG);
    CHECK_EQ(cask_file_fdatasync(fd), 0);
    CHECK_EQ(cask_file_fsync(fd), 0);
    tmpfs_ticks = 0;
    CHECK_EQ(cask_file_pread(fd, back, BIG, 0), BIG);
    CHECK(tmpfs_ticks >= 3);
    CHECK(memcmp(big, back, BIG) == 0);
    /* at the position, and vectored */
    CHECK_EQ(lseek(fd, 5, SEEK_SET), 5);
    char buf[8] = {0};
    CHECK_EQ(cask_file_read(fd, buf, 4), 4);
    CHECK(memcmp(buf, big + 5, 4) == 0);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 9);
    struct iovec v[2] = {{(void *)"ab", 2}, {(void *)"cd", 2}};
    CHECK_EQ(cask_file_writev(fd, v, 2, -1), 4);
    CHECK_EQ(cask_file_pread(fd, buf, 4, 9), 4);
    CHECK(memcmp(buf, "abcd", 4) == 0);
    CHECK_EQ(cask_file_pread(fd, buf, 8, BIG - 3), 3); /* short at end of file */
    CHECK_EQ(cask_file_pread(fd, buf, 8, BIG), 0);
    /* errors are the kernel's */
    int ro = cask_file_open(p("big"), O_RDONLY, 0);
    CHECK(ro >= 0);
    CHECK_EQ(cask_file_write(ro, "x", 1), -EBADF);
    CHECK_EQ(cask_file_writev(ro, v, 2, 0), -EBADF);
    CHECK_EQ(cask_file_close(ro), 0);
    /* cancelled before the call: nothing happens */
    CHECK_EQ(cask_file_replace(p("keep"), "contents", 8, 0644), 0);
    CHECK_EQ(cask_dir_make(p("dir"), 0755), 0);
    int kfd = cask_file_open(p("keep"), O_RDWR, 0);
    CHECK(kfd >= 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, cancelled_calls, &kfd), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_EQ(lseek(kfd, 0, SEEK_CUR), 0);
    CHECK_EQ(cask_file_pread(kfd, buf, 8, 0), 8);
    CHECK(memcmp(buf, "contents", 8) == 0);
    CHECK_EQ(cask_file_close(kfd), 0);
    /* O_APPEND */
    int afd = cask_file_open(p("log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    CHECK(afd >= 0);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(cask_file_write(afd, "0123456789", 10), 10);
    struct stat st;
    CHECK_EQ(cask_file_fstat(afd, &st), 0);
    CHECK_EQ(st.st_size, 1000);
    CHECK_EQ(cask_file_close(afd), 0);
    CHECK(cask_cancel(ticker));
    CHECK_EQ(cask_join(ticker), 0);
    cask_release(ticker);
    CHECK_EQ(cask_file_close(fd), 0);
    free(big);
    free(back);
    return 0;
}

TEST(fs_tmpfs_inline)
{
    struct stat st;
    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode) || access("/dev/shm", W_OK) != 0) {
        printf("  skipped: no writable /dev/shm\n");
        return;
    }
    scratch_root = "/dev/shm";
    mkscratch();
    CHECK(run_both(tmpfs_main, NULL) >= 1);
    rmscratch();
    scratch_root = "/tmp";
}

/* A read in flight when the task is cancelled. A blocking pipe keeps the read waiting: on
 * io_uring the ring's async cancel stops it (-ECANCELED, nothing read, the data stays in the
 * pipe); on a worker thread the read cannot be stopped, so the call waits for it and returns
 * what it read, and the next cancellation point delivers the cancel. */
struct inflight {
    int rd;
    char got[8];
    ssize_t result;
    int after;
};

static int inflight_reader(void *arg)
{
    struct inflight *f = arg;
    f->result = cask_file_read(f->rd, f->got, sizeof f->got);
    f->after = cask_sleep(0);
    return 0;
}

static int inflight_main(void *arg)
{
    (void)arg;
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    struct inflight f = {.rd = pfd[0]};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, inflight_reader, &f), 0);
    CHECK_EQ(cask_sleep(0.05), 0);
    CHECK(!cask_task_done(t));
    CHECK(cask_cancel(t));
    bool ring = !strcmp(backend(), "io_uring");
    if (!ring) {
        CHECK_EQ(cask_sleep(0.05), 0);
        if (cask_task_done(t)) {
            /* a slow machine had not started the worker yet: the queued job was dropped */
            CHECK_EQ(f.result, -ECANCELED);
            ring = true; /* the same checks as a stopped read: nothing was taken */
        } else { /* still waiting for its thread's read */
            CHECK_EQ(write(pfd[1], "abc", 3), 3);
        }
    }
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    if (ring) {
        CHECK_EQ(f.result, -ECANCELED);
        CHECK_EQ(write(pfd[1], "abc", 3), 3);
        char buf[8];
        CHECK_EQ(read(pfd[0], buf, sizeof buf), 3); /* the cancelled read took nothing */
    } else {
        CHECK_EQ(f.result, 3);
        CHECK(!memcmp(f.got, "abc", 3));
    }
    CHECK_EQ(f.after, -ECANCELED);
    close(pfd[0]);
    close(pfd[1]);
    return 0;
}

TEST(fs_cancel_in_flight)
{
    mkscratch();
    CHECK(run_both(inflight_main, NULL) >= 1);
    rmscratch();
}

/* A scope deadline stops a read in flight the same way. */
static int deadline_main(void *arg)
{
    (void)arg;
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    if (!strcmp(backend(), "io_uring")) {
        char buf[8];
        cask_scope sc;
        CHECK_EQ(cask_timeout_open(&sc, 0.05), 0);
        ssize_t n = cask_file_read(pfd[0], buf, sizeof buf);
        CHECK_EQ(n, -ECANCELED);
        CHECK_EQ(cask_scope_close(&sc, (int)n), -ETIMEDOUT);
    }
    close(pfd[0]);
    close(pfd[1]);
    return 0;
}

TEST(fs_deadline_in_flight) { CHECK(run_both(deadline_main, NULL) >= 1); }

/* ---- streams over files ---- */

static int stream_main(void *arg)
{
    (void)arg;
    int fd = cask_file_open(p("lines"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    cask_stream *w;
    CHECK_EQ(cask_stream_open(&w, fd, &(struct cask_stream_opts){.borrow = true}), 0);
    CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK)); /* files are left as they are */
    for (int i = 0; i < 1000; i++) {
        char line[32];
        int len = snprintf(line, sizeof line, "line %d\n", i);
        CHECK_EQ(cask_stream_write(w, line, (size_t)len), len);
    }
    struct iovec v[2] = {{"last ", 5}, {"line\n", 5}};
    CHECK_EQ(cask_stream_writev(w, v, 2), 10);
    cask_stream_free(w);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    cask_stream *r;
    CHECK_EQ(cask_stream_open(&r, fd, NULL), 0); /* owns fd now */
    char buf[64];
    for (int i = 0; i < 1000; i++) {
        char want[32];
        int len = snprintf(want, sizeof want, "line %d\n", i);
        CHECK_EQ(cask_stream_readline(r, buf, sizeof buf), len);
        CHECK(!memcmp(buf, want, (size_t)len));
    }
    CHECK_EQ(cask_stream_readline(r, buf, sizeof buf), 10);
    CHECK_EQ(cask_stream_readline(r, buf, sizeof buf), 0);
    CHECK_EQ(cask_stream_read(r, buf, sizeof buf), 0);
    cask_stream_free(r);
    CHECK_EQ(fcntl(fd, F_GETFD), -1);
    return 0;
}

TEST(fs_stream_over_file) { CHECK(run_both(stream_main, NULL) >= 1); }

/* A stream over a pipe still waits for readiness, and a cancelled read keeps what it has. */
static int stream_pipe_reader(void *arg)
{
    cask_stream *s = arg;
    char buf[16];
    return (int)cask_stream_readexactly(s, buf, 8, NULL);
}

static int stream_pipe_main(void *arg)
{
    (void)arg;
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    cask_stream *s;
    CHECK_EQ(cask_stream_open(&s, pfd[0], NULL), 0);
    CHECK(fcntl(pfd[0], F_GETFL) & O_NONBLOCK);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, stream_pipe_reader, s), 0);
    CHECK_EQ(write(pfd[1], "abcd", 4), 4);
    CHECK_EQ(cask_sleep(0.02), 0);
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_join(t), -ECANCELED);
    cask_release(t);
    CHECK_EQ(write(pfd[1], "efgh", 4), 4);
    char buf[16];
    CHECK_EQ(cask_stream_readexactly(s, buf, 8, NULL), 8); /* nothing was lost */
    CHECK(!memcmp(buf, "abcdefgh", 8));
    cask_stream_free(s);
    close(pfd[1]);
    return 0;
}

TEST(fs_stream_over_pipe) { CHECK(run_both(stream_pipe_main, NULL) >= 1); }

/* ---- the loop never stalls ---- */

/* Sanitizers slow every step several times over: the 1 ms bound is checked in normal builds;
 * ThreadSanitizer counts each task as a thread (and stops at 8,128 of them): fewer there. */
#if defined(__SANITIZE_THREAD__)
#define NTIMERS 1000
#define SANITIZED 1
#define TSAN_BUILD 1
#elif defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NTIMERS 1000
#define SANITIZED 1
#define TSAN_BUILD 1
#elif __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef NTIMERS
#define NTIMERS 10000
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
#ifndef TSAN_BUILD
#define TSAN_BUILD 0
#endif
#if SANITIZED
#define BIGFILE (16 << 20)
#else
#define BIGFILE (64 << 20)
#endif

struct stall {
    double worst;  /* latest a timer fired past its deadline (s) */
    const char *path;  /* the big file: on tmpfs (cached by nature) or the disk */
    bool disk;
    int cold_parked;   /* reads of dropped pages that parked (let the loop go on) */
    double iter;       /* longest loop iteration while the timers fired (s) */
    long iters, slow_iters; /* iterations seen by the ticker, and those over 1 ms */
    double starved; /* the share of the time the loop's thread waited for a CPU */
    double late[NTIMERS];
    double base;   /* when the timers start firing, once every task has started */
    int fired;
    size_t bytes;  /* read from the big file */
    int passes;
    int fd;
    int started;
    cask_event go; /* set once every task has started (has its stack): then time counts */
};

static int timer_task(void *arg)
{
    struct stall *s = arg;
    int idx = s->started++;
    if (cask_event_wait(&s->go))
        return -1;
    double due = s->base + 0.3 * (double)idx / NTIMERS; /* spread evenly over 300 ms */
    if (cask_sleep_until(due))
        return -1;
    double late = cask_time() - due;
    if (late > s->worst)
        s->worst = late;
    s->late[s->fired++] = late;
    return 0;
}

static int drop_cache(void *arg)
{
    struct stall *s = arg;
    return posix_fadvise(s->fd, 0, 0, POSIX_FADV_DONTNEED);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds this thread spent ready but waiting for a CPU (the scheduler's run-queue delay):
 * taken out of the measured stalls, since a shared machine preempts us at will. */
static double runq_wait(void)
{
    static __thread int fd = -1;
    if (fd < 0)
        fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    char b[128];
    ssize_t n = fd >= 0 ? pread(fd, b, sizeof b - 1, 0) : -1;
    if (n <= 0)
        return 0;
    b[n] = 0;
    unsigned long long run, wait;
    if (sscanf(b, "%llu %llu", &run, &wait) != 2)
        return 0;
    return (double)wait * 1e-9;
}

/* Yields in a loop: the gap between two of its turns is one loop iteration, during which
 * everything else ready ran (the reader's step, the timers due). */
static int ticker(void *arg)
{
    struct stall *s = arg;
    s->started++;
    CHECK_EQ(cask_event_wait(&s->go), 0);
    CHECK_EQ(cask_sleep_until(s->base), 0);
    double start = wall(), q_start = runq_wait();
    while (s->fired < NTIMERS) {
        double w0 = wall(), q0 = runq_wait();
        CHECK_EQ(cask_yield(), 0);
        double q1 = runq_wait();
        double gap = wall() - w0 - (q1 - q0);
        s->starved = (q1 - q_start) / (wall() - start);
        if (gap > s->iter)
            s->iter = gap;
        s->iters++;
        if (gap > 0.001)
            s->slow_iters++;
    }
    return 0;
}

static int big_reader(void *arg)
{
    struct stall *s = arg;
    char *buf = malloc(1 << 20);
    CHECK(buf);
    memset(buf, 0, 1 << 20); /* its first-touch page faults are not the reads' doing */
    runq_wait();              /* opens its file */
    s->started++;
    CHECK_EQ(cask_event_wait(&s->go), 0);
    CHECK_EQ(cask_sleep_until(s->base), 0);
    while (s->fired < NTIMERS) { /* reads the whole time the timers fire */
        ssize_t n;
        CHECK_EQ(lseek(s->fd, 0, SEEK_SET), 0);
        if (s->disk && s->passes % 2) /* every other pass from the disk: ring or threads */
            CHECK_EQ(cask_to_thread(drop_cache, s), 0); /* fadvise itself takes a while */
        cask_stream *st; /* a stream over the file, as a program reading its input would */
        struct cask_stream_opts so = {.borrow = true};
        CHECK_EQ(cask_stream_open(&st, s->fd, &so), 0);
        for (;;) {
            struct cask_loop_stats a, b;
            CHECK_EQ(cask_loop_stats(&a), 0);
            n = cask_stream_read(st, buf, 1 << 20);
            CHECK_EQ(cask_loop_stats(&b), 0);
            if (a.switches != b.switches && s->passes % 2 && n > 0)
                s->cold_parked++;
            if (n <= 0)
                break;
            s->bytes += (size_t)n;
        }
        CHECK_EQ(n, 0);
        cask_stream_free(st);
        s->passes++;
    }
    free(buf);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int stall_main(void *arg)
{
    static struct stall s;
    memset(&s, 0, sizeof s);
    s.disk = arg != NULL;
    static char shm[64]; /* one per process: suites may run side by side */
    snprintf(shm, sizeof shm, "/dev/shm/cask_fs_big_%d", (int)getpid());
    s.path = s.disk ? p("big") : shm;
    s.fd = cask_file_open(s.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(s.fd >= 0);
    char *blk = malloc(1 << 20);
    memset(blk, 'q', 1 << 20);
    for (int i = 0; i < BIGFILE >> 20; i++)
        CHECK_EQ(cask_file_write(s.fd, blk, 1 << 20), 1 << 20);
    free(blk);
    CHECK_EQ(cask_file_fdatasync(s.fd), 0);
    cask_event_init(&s.go);
    cask_task *r, *tk;
    CHECK_EQ(cask_spawn(&r, big_reader, &s), 0);
    CHECK_EQ(cask_spawn(&tk, ticker, &s), 0);
    cask_task **ts = malloc(NTIMERS * sizeof *ts);
    for (int i = 0; i < NTIMERS; i++)
        CHECK_EQ(cask_spawn(&ts[i], timer_task, &s), 0);
    while (s.started < NTIMERS + 2) /* starting 10,000 tasks takes a while */
        CHECK_EQ(cask_sleep(0.01), 0);
    s.base = cask_time() + 0.2; /* waking 10,000 cold stacks takes a while too */
    cask_event_set(&s.go);
    CHECK_EQ(cask_gather(ts, NTIMERS, NULL), 0);
    for (int i = 0; i < NTIMERS; i++)
        cask_release(ts[i]);
    free(ts);
    CHECK_EQ(cask_join(r), 0);
    cask_release(r);
    CHECK_EQ(cask_join(tk), 0);
    cask_release(tk);
    CHECK_EQ(s.fired, NTIMERS);
    /* Reads of cached data return at once (a 256 KiB copy, then the task yields), reads of
     * other data park while the ring or a thread fetches it: on tmpfs the reads never hold the
     * loop 1 ms. On the disk a read that finds its pages cached may start the kernel's
     * readahead of the next window, which the kernel submits inline (up to read_ahead_kb, 8 MiB
     * on some virtual disks: ~1-5 ms); there the check is that reads of dropped pages parked,
     * and the iterations are reported. Timer lateness is reported, not checked: on a loaded
     * machine it measures the machine (it includes the time the scheduler gave others). */
    qsort(s.late, NTIMERS, sizeof s.late[0], cmp_double);
    fprintf(stderr, "  %s on %s: %d passes over %d MiB; %ld iterations, %ld over 1 ms, longest "
            "%.3f ms; timer lateness p50 %.3f ms, p99 %.3f ms, worst %.3f ms; waited for a CPU "
            "%.0f%% of the time\n", backend(), s.disk ? "disk" : "tmpfs", s.passes,
            BIGFILE >> 20, s.iters, s.slow_iters, s.iter * 1e3, s.late[NTIMERS / 2] * 1e3,
            s.late[NTIMERS * 99 / 100] * 1e3, s.worst * 1e3, s.starved * 100);
    if (s.disk) {
        CHECK(s.cold_parked >= s.passes / 2);
    } else if (s.starved > 0.2) {
        /* the machine gave the loop's thread less than 80% of a CPU: late timers then pile up
         * into long iterations, which says nothing about the reads; timing is not checked */
        fprintf(stderr, "  (the machine is too busy for the timing check)\n");
    } else if (!SANITIZED && !(getenv("CASK_RUNNER") && *getenv("CASK_RUNNER"))) {
        /* (not under sanitizers or an emulator: they slow every step several times over)
         * a loop blocked by the reads would stall on every one of them (256 per pass); a
         * shared virtual machine steals a moment now and then, which is what the rest is */
        CHECK(s.iters > 1000);
        CHECK(s.slow_iters * 200 <= s.iters);
    }
    CHECK(s.passes >= 1);
    CHECK_EQ(s.bytes, (size_t)s.passes * BIGFILE);
    CHECK_EQ(cask_file_close(s.fd), 0);
    CHECK_EQ(cask_file_unlink(s.path), 0);
    return 0;
}

TEST_T(fs_no_stall_with_10000_timers, 120)
{
    mkscratch();
    CHECK(run_both(stall_main, NULL) >= 1); /* tmpfs */
    if (!TSAN_BUILD) /* every switch is slow under ThreadSanitizer: tmpfs is enough there */
        CHECK(run_both(stall_main, dirpath) >= 1); /* the disk */
    rmscratch();
}

/* ---- sendfile ---- */

#define SF_SIZE ((3 << 20) + 17)

struct sink {
    int fd;
    size_t want, got;
    unsigned char *data;
};

static int sink_task(void *arg)
{
    struct sink *k = arg;
    while (k->got < k->want) {
        ssize_t n = read(k->fd, k->data + k->got, k->want - k->got);
        if (n > 0) {
            k->got += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        CHECK(errno == EAGAIN);
        int rc = cask_wait_fd(k->fd, CASK_READABLE);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sendfile_main(void *arg)
{
    (void)arg;
    unsigned char *src = malloc(SF_SIZE);
    CHECK(src);
    for (size_t i = 0; i < SF_SIZE; i++)
        src[i] = (unsigned char)(i * 7 + (i >> 12));
    CHECK_EQ(cask_file_replace(p("sf"), src, SF_SIZE, 0644), 0);
    int fd = cask_file_open(p("sf"), O_RDONLY, 0);
    CHECK(fd >= 0);
    for (int cold = 0; cold < 2; cold++) {
        if (cold) /* not cached: the chunks go through a worker thread */
            CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        int sp[2];
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
        struct sink k = {sp[1], SF_SIZE - 100, 0, malloc(SF_SIZE)};
        cask_task *t;
        CHECK_EQ(cask_spawn(&t, sink_task, &k), 0);
        /* from offset 100, asking for more than is there: stops at the end of the file */
        CHECK_EQ(cask_sendfile(sp[0], fd, 100, SF_SIZE), SF_SIZE - 100);
        CHECK_EQ(cask_join(t), 0);
        cask_release(t);
        CHECK_EQ(k.got, SF_SIZE - 100);
        CHECK(!memcmp(k.data, src + 100, SF_SIZE - 100));
        CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0); /* the file position is not used */
        CHECK_EQ(cask_sendfile(sp[0], fd, SF_SIZE, 10), 0); /* at the end: nothing */
        free(k.data);
        cask_fd_forget(sp[0]);
        cask_fd_forget(sp[1]);
        close(sp[0]);
        close(sp[1]);
    }
    CHECK_EQ(cask_sendfile(0, fd, -1, 10), -EINVAL);
    CHECK_EQ(cask_sendfile(-1, fd, 0, 10), -EBADF);
    CHECK_EQ(cask_sendfile(0, -1, 0, 10), -EBADF);
    /* a peer that went away: -EPIPE, not a SIGPIPE */
    int sp[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    close(sp[1]);
    CHECK_EQ(cask_sendfile(sp[0], fd, 0, 100), -EPIPE);
    close(sp[0]);
    CHECK_EQ(cask_file_close(fd), 0);
    free(src);
    return 0;
}

TEST(fs_sendfile) { CHECK(run_both(sendfile_main, NULL) >= 1); }

/* Cancelled while the socket is full: the bytes already sent are reported, and the next
 * call delivers the cancellation. */
struct sf_cancel {
    int sock, fd;
    ssize_t first;
    ssize_t second;
};

static int sf_sender(void *arg)
{
    struct sf_cancel *c = arg;
    c->first = cask_sendfile(c->sock, c->fd, 0, SF_SIZE);
    c->second = cask_sendfile(c->sock, c->fd, 0, SF_SIZE);
    return 0;
}

static int sf_cancel_main(void *arg)
{
    (void)arg;
    static char block[SF_SIZE];
    CHECK_EQ(cask_file_replace(p("sf"), block, SF_SIZE, 0644), 0);
    struct sf_cancel c = {0};
    c.fd = cask_file_open(p("sf"), O_RDONLY, 0);
    int sp[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    c.sock = sp[0];
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, sf_sender, &c), 0);
    CHECK_EQ(cask_sleep(0.05), 0); /* nobody reads: it fills the socket and waits */
    CHECK(!cask_task_done(t));
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK(c.first > 0 && c.first < SF_SIZE);
    CHECK_EQ(c.second, -ECANCELED);
    cask_fd_forget(sp[0]);
    close(sp[0]);
    close(sp[1]);
    CHECK_EQ(cask_file_close(c.fd), 0);
    return 0;
}

TEST(fs_sendfile_cancel) { CHECK(run_both(sf_cancel_main, NULL) >= 1); }

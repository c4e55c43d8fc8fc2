/*
 * cask_fs.c: the file benchmarks of cask, printing RESULT lines for bench/fs.sh.
 *   cask_fs WORKLOAD DIR WHERE
 * WORKLOAD: randread1 / randread64 (4 KiB reads at random 4 KiB-aligned offsets of DIR/big,
 * 1 or 64 tasks, for CASK_FS_SECONDS), seqread (DIR/big read once in 1 MiB reads), smallfiles
 * (DIR/small/0 .. 9999, 4 KiB each: opened, read to the end and closed by 64 tasks), append
 * (4 KiB appended then fdatasync, for CASK_FS_SECONDS). WHERE labels the result (disk, tmpfs).
 * bench/fs.sh makes the files and drops them from the page cache before each disk run; the
 * peers under bench/peers/fs/ do exactly the same work.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir, *where;
static double seconds = 1.0;
static int fd;
static int64_t nblocks;
static double deadline;
static long ops;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int randreader(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 7919u + 1;
    char buf[4096];
    while (now() < deadline) {
        int64_t off = (int64_t)(lcg(&seed) % (uint64_t)nblocks) * 4096;
        MUST(cask_file_pread(fd, buf, sizeof buf, off) == 4096 ? 0 : -EIO);
        ops++;
    }
    return 0;
}

static void spawn_all(int n, cask_fn fn)
{
    cask_task **t = calloc((size_t)n, sizeof *t);
    if (!t)
        exit(1);
    for (int i = 0; i < n; i++)
        MUST(cask_spawn(&t[i], fn, (void *)(uintptr_t)i));
    MUST(cask_gather(t, (size_t)n, NULL));
    for (int i = 0; i < n; i++)
        cask_release(t[i]);
    free(t);
}

static int next_file;
#define NFILES 10000

static int small_reader(void *arg)
{
    (void)arg;
    char path[512], buf[8192];
    while (next_file < NFILES) {
        snprintf(path, sizeof path, "%s/small/%d", dir, next_file++);
        int f = cask_file_open(path, O_RDONLY, 0);
        MUST(f);
        ssize_t n;
        while ((n = cask_file_read(f, buf, sizeof buf)) > 0)
            ;
        MUST((int)n);
        MUST(cask_file_close(f));
        ops++;
    }
    return 0;
}

static const char *workload;

static int body(void *arg)
{
    (void)arg;
    char path[512];
    struct cask_loop_stats ls;
    MUST(cask_loop_stats(&ls));
    if (!strncmp(workload, "randread", 8)) {
        int qd = atoi(workload + 8);
        snprintf(path, sizeof path, "%s/big", dir);
        fd = cask_file_open(path, O_RDONLY, 0);
        MUST(fd);
        struct stat st;
        MUST(cask_file_fstat(fd, &st));
        nblocks = st.st_size / 4096;
        double t0 = now();
        deadline = t0 + seconds;
        spawn_all(qd, randreader);
        double dt = now() - t0;
        printf("RESULT fs_randread_qd%d_%s cask iops=%.0f backend=%s\n", qd, where, ops / dt,
               ls.backend);
        MUST(cask_file_close(fd));
    } else if (!strcmp(workload, "seqread")) {
        snprintf(path, sizeof path, "%s/big", dir);
        fd = cask_file_open(path, O_RDONLY, 0);
        MUST(fd);
        char *buf = malloc(1 << 20);
        double t0 = now();
        ssize_t n;
        long total = 0;
        while ((n = cask_file_read(fd, buf, 1 << 20)) > 0)
            total += n;
        MUST((int)n);
        double dt = now() - t0;
        printf("RESULT fs_seqread_%s cask mb_s=%.0f backend=%s\n", where, total / dt / 1e6,
               ls.backend);
        free(buf);
        MUST(cask_file_close(fd));
    } else if (!strcmp(workload, "smallfiles")) {
        double t0 = now();
        spawn_all(64, small_reader);
        double dt = now() - t0;
        printf("RESULT fs_smallfiles_%s cask files_s=%.0f backend=%s\n", where, ops / dt,
               ls.backend);
    } else if (!strcmp(workload, "append")) {
        snprintf(path, sizeof path, "%s/append.cask", dir);
        fd = cask_file_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        MUST(fd);
        char buf[4096];
        memset(buf, 'a', sizeof buf);
        double t0 = now();
        deadline = t0 + seconds;
        while (now() < deadline) {
            MUST(cask_file_write(fd, buf, sizeof buf) == 4096 ? 0 : -EIO);
            MUST(cask_file_fdatasync(fd));
            ops++;
        }
        double dt = now() - t0;
        printf("RESULT fs_append_fsync_%s cask ops_s=%.0f backend=%s\n", where, ops / dt,
               ls.backend);
        MUST(cask_file_close(fd));
        unlink(path);
    } else {
        fprintf(stderr, "cask_fs: unknown workload %s\n", workload);
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: cask_fs randread1|randread64|seqread|smallfiles|append DIR "
                        "WHERE\n");
        return 2;
    }
    workload = argv[1];
    dir = argv[2];
    where = argv[3];
    const char *s = getenv("CASK_FS_SECONDS");
    if (s)
        seconds = atof(s);
    int rc = cask_run(body, NULL);
    return rc ? 1 : 0;
}

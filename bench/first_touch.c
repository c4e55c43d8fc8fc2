/*
 * first_touch.c: what the first touch of a fresh page costs on this machine, the way a task
 * stack's top page is first touched (one page at the top of each slot of a large mapping).
 * Not part of `make bench` (it measures the machine, not cask); docs/benchmarks.md quotes it.
 *
 *   cc -O2 -o build/bench/first_touch bench/first_touch.c
 *   build/bench/first_touch N STRIDE
 *
 * Four ways over N slots STRIDE bytes apart (a fresh mapping each): a plain write to each top
 * page (one page fault each); process_madvise(MADV_POPULATE_WRITE) over batches of 32 and of
 * 512 top pages, then the same writes (which should then find the pages present); and the
 * writes again on pages already touched. Prints one RESULT line per way, ns per page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *fresh(long n, long stride)
{
    char *m = mmap(NULL, (size_t)(n * stride), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    madvise(m, (size_t)(n * stride), MADV_NOHUGEPAGE); /* as cask's stacks */
    return m;
}

static double touch(char *m, long n, long stride)
{
    double t0 = now();
    for (long i = 0; i < n; i++)
        ((volatile char *)m)[(i + 1) * stride - 8] = 1;
    return now() - t0;
}

static double populate(char *m, long n, long stride, int batch, int pidfd)
{
    struct iovec iov[512];
    double t0 = now();
    for (long i = 0; i < n; i += batch) {
        int k = 0;
        for (long j = i; j < n && j < i + batch; j++, k++) {
            iov[k].iov_base = m + (j + 1) * stride - 4096;
            iov[k].iov_len = 4096;
        }
        if (syscall(SYS_process_madvise, pidfd, iov, k, MADV_POPULATE_WRITE, 0) < 0) {
            fprintf(stderr, "process_madvise: %s\n", strerror(errno));
            exit(1);
        }
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    long stride = argc > 2 ? atol(argv[2]) : 323584; /* 64 KiB stack + 256 KiB gap - 4 KiB */
    if (n <= 0 || stride < 4096 || stride % 4096) {
        fprintf(stderr, "usage: first_touch N STRIDE (a multiple of 4096)\n");
        return 2;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    char *m = fresh(n, stride);
    double plain = touch(m, n, stride);
    double again = touch(m, n, stride);
    munmap(m, (size_t)(n * stride));
    printf("RESULT first_touch plain ns_per_page=%.0f pages=%ld stride=%ld\n", plain * 1e9 / n,
           n, stride);
    printf("RESULT first_touch present ns_per_page=%.0f\n", again * 1e9 / n);
    int batches[] = {32, 512};
    for (int b = 0; b < 2 && pidfd >= 0; b++) {
        m = fresh(n, stride);
        double pop = populate(m, n, stride, batches[b], pidfd);
        double after = touch(m, n, stride);
        munmap(m, (size_t)(n * stride));
        printf("RESULT first_touch populate%d populate_ns_per_page=%.0f then_touch_ns_per_page=%.0f\n",
               batches[b], pop * 1e9 / n, after * 1e9 / n);
    }
    return 0;
}

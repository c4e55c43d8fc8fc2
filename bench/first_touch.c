/*
 * first_touch.c: what the first touch of a fresh page costs on this machine, the way a task
 * stack's top page is first touched (one page at the top of each slot of a large mapping).
 * Not part of `make bench` (it measures the machine, not cask); docs/benchmarks.md quotes it.
 *
 *   cc -O2 -o build/bench/first_touch bench/first_touch.c
 *   build/bench/first_touch N STRIDE
 *
 * Ways over N slots STRIDE bytes apart (a fresh mapping each): a plain write to each top
 * page (one page fault each); process_madvise(MADV_POPULATE_WRITE) over batches of 32 and of
 * 512 top pages, then the same writes (which should then find the pages present); the writes
 * again on pages already touched; and the writes again after MADV_DONTNEED gave those pages
 * back (memory this process touched and freed: is it cheaper the second time?). Then N
 * contiguous 4 KiB pages in a mapping advised as transparent huge pages: the first write to
 * each, and again after MADV_DONTNEED. Prints one RESULT line per way, ns per 4 KiB page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
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
    madvise(m, (size_t)(n * stride), MADV_DONTNEED);
    double freed = touch(m, n, stride);
    munmap(m, (size_t)(n * stride));
    printf("RESULT first_touch plain ns_per_page=%.0f pages=%ld stride=%ld\n", plain * 1e9 / n,
           n, stride);
    printf("RESULT first_touch present ns_per_page=%.0f\n", again * 1e9 / n);
    printf("RESULT first_touch after_dontneed ns_per_page=%.0f\n", freed * 1e9 / n);
    /* contiguous pages, advised as huge pages (2 MiB aligned) */
    size_t len = ((size_t)n * 4096 + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    char *h = mmap(NULL, len + (2u << 20), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (h != MAP_FAILED) {
        char *a = (char *)(((uintptr_t)h + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
        madvise(a, len, MADV_HUGEPAGE);
        double first = touch(a, n, 4096);
        madvise(a, len, MADV_DONTNEED);
        double re = touch(a, n, 4096);
        munmap(h, len + (2u << 20));
        printf("RESULT first_touch thp ns_per_page=%.0f after_dontneed_ns_per_page=%.0f\n",
               first * 1e9 / n, re * 1e9 / n);
    }
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

/*
 * cask_proc.c: process benchmarks (bench/proc.sh runs them next to the peers).
 *   spawn_seq [N]     spawn and wait /bin/true N times (1,000), one after another: us_per_proc
 *   spawn16 [N]       the same with 16 children at once
 *   spawn_1g [N]      spawn_seq (200) with 1 GiB of the parent's heap touched first
 *   pipe [BYTES]      a child writes BYTES (1 GiB) of zeros to its stdout, read to the end: MB/s
 *   procpool [JOBS]   JOBS (64) prime counts below 200,000 on 1, then 2 worker processes:
 *                     jobs/s with 2 workers and the speed-up over 1
 * stdin, stdout and stderr of the spawned children are /dev/null, as in every peer.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <sys/mman.h>

static long count_arg = 0;
static const char *const TRUE_ARGV[] = {"/bin/true", NULL};

static int spawn_wait(void)
{
    struct cask_process_opts o = {.in = {CASK_STDIO_DEVNULL, 0},
                                  .out = {CASK_STDIO_DEVNULL, 0},
                                  .err = {CASK_STDIO_DEVNULL, 0}};
    cask_process *p;
    MUST(cask_process_spawn(&p, TRUE_ARGV, &o));
    struct cask_exit st;
    MUST(cask_process_wait(p, &st));
    cask_process_free(p);
    return st.code;
}

static int spawn_seq(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        if (spawn_wait() != 0)
            return -EPROTO;
    return 0;
}

static int spawner(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        if (spawn_wait() != 0)
            return -EPROTO;
    return 0;
}

static int spawn16(void *arg)
{
    long n = *(long *)arg, each = n / 16;
    cask_task *t[16];
    for (int i = 0; i < 16; i++)
        MUST(cask_spawn(&t[i], spawner, &each));
    int rc = cask_gather(t, 16, NULL);
    for (int i = 0; i < 16; i++)
        cask_release(t[i]);
    return rc;
}

static int pipe_main(void *arg)
{
    long bytes = *(long *)arg;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%ld", bytes);
    const char *argv[] = {"head", "-c", cmd, "/dev/zero", NULL};
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0}};
    cask_process *p;
    MUST(cask_process_spawn(&p, argv, &o));
    static char buf[256 * 1024];
    long total = 0;
    for (;;) {
        ssize_t n = cask_stream_read(cask_process_stdout(p), buf, sizeof buf);
        MUST((int)n);
        if (n == 0)
            break;
        total += n;
    }
    MUST(cask_process_wait(p, NULL));
    cask_process_free(p);
    return total == bytes ? 0 : -EPROTO;
}

#define PRIME_LIMIT 200000
static int count_primes(const void *in, size_t len, void **out, size_t *out_len)
{
    (void)in;
    (void)len;
    (void)out;
    (void)out_len;
    int count = 0;
    for (long n = 2; n < PRIME_LIMIT; n++) {
        bool prime = true;
        for (long d = 2; d * d <= n; d++)
            if (n % d == 0) {
                prime = false;
                break;
            }
        count += prime;
    }
    return count;
}

struct pool_run {
    cask_procpool *pool;
    int status;
};

static int one_job(void *arg)
{
    struct pool_run *r = arg;
    struct cask_job job = {.fn = count_primes};
    r->status = cask_procpool_run(r->pool, &job);
    return r->status < 0 ? r->status : 0;
}

static double pool_time(unsigned workers, long jobs)
{
    cask_procpool *pool;
    MUST(cask_procpool_new(&pool, workers));
    struct pool_run *r = calloc((size_t)jobs, sizeof *r);
    cask_task **t = calloc((size_t)jobs, sizeof *t);
    double t0 = now();
    for (long i = 0; i < jobs; i++) {
        r[i].pool = pool;
        MUST(cask_spawn(&t[i], one_job, &r[i]));
    }
    MUST(cask_gather(t, (size_t)jobs, NULL));
    double dt = now() - t0;
    for (long i = 0; i < jobs; i++) {
        if (r[i].status != 17984)
            MUST(-EPROTO);
        cask_release(t[i]);
    }
    MUST(cask_procpool_close(pool, false));
    free(r);
    free(t);
    return dt;
}

static int pool_main(void *arg)
{
    long jobs = *(long *)arg;
    double t1 = pool_time(1, jobs), t2 = pool_time(2, jobs);
    printf("RESULT procpool cask jobs_per_s=%.1f speedup=%.2f one_worker_jobs_per_s=%.1f "
           "limit=%d\n",
           jobs / t2, t1 / t2, jobs / t1, PRIME_LIMIT);
    return 0;
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "spawn_seq";
    count_arg = argc > 2 ? atol(argv[2]) : 0;
    long n;
    double t0, dt;
    if (!strcmp(w, "spawn_seq") || !strcmp(w, "spawn_1g")) {
        n = count_arg ? count_arg : (!strcmp(w, "spawn_1g") ? 200 : 1000);
        if (!strcmp(w, "spawn_1g")) {
            size_t sz = (size_t)1 << 30;
            char *heap = malloc(sz);
            memset(heap, 1, sz); /* touched: every page is mapped and would be copied by fork */
            __asm__ volatile("" ::"r"(heap) : "memory");
        }
        t0 = now();
        MUST(cask_run(spawn_seq, &n));
        dt = now() - t0;
        printf("RESULT proc_%s cask us_per_proc=%.1f\n", w, dt * 1e6 / (double)n);
    } else if (!strcmp(w, "spawn16")) {
        n = count_arg ? count_arg : 1000;
        t0 = now();
        MUST(cask_run(spawn16, &n));
        dt = now() - t0;
        printf("RESULT proc_spawn16 cask us_per_proc=%.1f\n", dt * 1e6 / (double)(n / 16 * 16));
    } else if (!strcmp(w, "pipe")) {
        n = count_arg ? count_arg : 1L << 30;
        t0 = now();
        MUST(cask_run(pipe_main, &n));
        dt = now() - t0;
        printf("RESULT proc_pipe cask mb_per_s=%.1f\n", (double)n / dt / 1e6);
    } else if (!strcmp(w, "procpool")) {
        n = count_arg ? count_arg : 64;
        MUST(cask_run(pool_main, &n));
    } else {
        fprintf(stderr, "usage: cask_proc spawn_seq|spawn16|spawn_1g|pipe|procpool [N]\n");
        return 2;
    }
    return 0;
}

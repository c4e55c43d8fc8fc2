/* 22_processes.c: CPU-heavy work goes to a pool of processes and runs in parallel on several
 * cores: the twin of seed program 22 (ProcessPoolExecutor + run_in_executor + gather).
 *
 * C counts these primes about fifty times faster than CPython, which would make the two jobs
 * too short to show anything. So each worker repeats its count until it has spent 0.19 s of
 * its own CPU time (CLOCK_PROCESS_CPUTIME_ID: real computing, not sleeping), about what
 * CPython spends on one count. The two jobs end together at about 0.2 s because they run on
 * two cores at once; one after the other they would need 0.4 s. */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long count_primes(long limit)
{
    long count = 0;
    for (long n = 2; n < limit; n++) {
        bool prime = true; /* all(n % d for d in range(2, isqrt(n) + 1)) */
        for (long d = 2; d * d <= n; d++) {
            if (n % d == 0) {
                prime = false;
                break;
            }
        }
        count += prime;
    }
    return count;
}

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs in a worker process: input a limit, output the count. */
static int count_primes_job(const void *in, size_t len, void **out, size_t *out_len)
{
    if (len != sizeof(long))
        return -EINVAL;
    long limit = *(const long *)in, count;
    double start = cpu_seconds();
    do {
        count = count_primes(limit);
    } while (cpu_seconds() - start < 0.19);
    long *r = malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    *r = count;
    *out = r;
    *out_len = sizeof *r;
    return 0;
}

struct call {
    cask_procpool *pool;
    long limit;
    struct cask_job job;
};

/* loop.run_in_executor(pool, count_primes, limit) */
static int run_in_executor(void *arg)
{
    struct call *c = arg;
    c->job.fn = count_primes_job;
    c->job.in = &c->limit;
    c->job.in_len = sizeof c->limit;
    return cask_procpool_run(c->pool, &c->job);
}

static int amain(void *arg)
{
    (void)arg;
    cask_procpool *pool;
    int rc = cask_procpool_new(&pool, 2); /* with ProcessPoolExecutor(max_workers=2) as pool: */
    if (rc)
        return rc;
    struct call calls[2] = {{pool, 50000, {0}}, {pool, 60000, {0}}};
    cask_task *t[2];
    int n = 0;
    for (; n < 2; n++)
        if ((rc = cask_spawn(&t[n], run_in_executor, &calls[n])) != 0)
            break;
    if (rc == 0)
        rc = cask_gather(t, (size_t)n, NULL); /* results in argument order */
    for (int i = 0; i < n; i++)
        cask_release(t[i]);
    int crc = cask_procpool_close(pool, false);
    if (rc == 0 && crc == 0)
        printf("[%ld, %ld]\n", *(long *)calls[0].job.out, *(long *)calls[1].job.out);
    for (int i = 0; i < 2; i++)
        cask_free(calls[i].job.out);
    return rc ? rc : crc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(amain, NULL);
    if (rc) {
        fprintf(stderr, "22_processes: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

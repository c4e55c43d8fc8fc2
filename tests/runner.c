/*
 * runner.c: runs every registered test in its own process with a time limit and prints one
 * line per test and, last, exactly "N passed, N failed". Arguments select tests by substring.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct ct_case *head, *tail;

void ct_register(struct ct_case *c)
{
    if (tail)
        tail->next = c;
    else
        head = c;
    tail = c;
}

void ct_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(1);
}

static char logbuf[8192];
static size_t loglen;

void ct_log(const char *fmt, ...)
{
    va_list ap;
    if (loglen && loglen < sizeof logbuf - 1)
        logbuf[loglen++] = ',';
    va_start(ap, fmt);
    int n = vsnprintf(logbuf + loglen, sizeof logbuf - loglen, fmt, ap);
    va_end(ap);
    if (n > 0)
        loglen += (size_t)n;
    if (loglen >= sizeof logbuf)
        loglen = sizeof logbuf - 1;
}
const char *ct_log_get(void) { return logbuf; }
void ct_log_reset(void) { loglen = 0; logbuf[0] = 0; }

#include <stdatomic.h>
static atomic_long live, total, fail_after, fail_every;
static bool skip_leaks;

static bool should_fail(void)
{
    long n = atomic_fetch_add(&total, 1) + 1;
    if (atomic_load(&fail_after) > 0 && atomic_fetch_sub(&fail_after, 1) == 1)
        return true;
    long every = atomic_load(&fail_every);
    return every > 0 && n % every == 0;
}

/* a header before each block remembers nothing but keeps alignment; we count blocks only */
static void *c_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        live++;
    return p;
}
static void *c_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        live++;
    return q;
}
static void c_free(void *p)
{
    if (p)
        live--;
    free(p);
}

long ct_allocs_live(void) { return live; }
long ct_allocs_total(void) { return total; }
void ct_fail_alloc_after(long n) { fail_after = n; }
void ct_fail_alloc_every(long n) { fail_every = n; }
void ct_skip_leak_check(void) { skip_leaks = true; }

int ct_run_virtual(cask_fn fn, void *arg)
{
    struct cask_config cfg = {.virtual_clock = true};
    return cask_run_with(fn, arg, &cfg);
}

static int run_one(struct ct_case *c, double *secs)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm((unsigned)c->timeout_s);
        static const struct cask_allocator a = {c_malloc, c_realloc, c_free};
        cask_set_allocator(&a);
        c->fn();
        fflush(stdout);
        if (!skip_leaks && live != 0) {
            fprintf(stderr, "  leak: %ld allocation(s) not freed\n", live);
            _exit(3);
        }
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (time limit)" : "");
        return 128 + WTERMSIG(st);
    }
    return 1;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (struct ct_case *c = head; c; c = c->next) {
        bool pick = argc < 2;
        for (int i = 1; i < argc; i++)
            if (strstr(c->name, argv[i]))
                pick = true;
        if (!pick)
            continue;
        double secs;
        int rc = run_one(c, &secs);
        if (rc == 0) {
            passed++;
            printf("ok   %-40s %.2fs\n", c->name, secs);
        } else {
            failed++;
            printf("FAIL %-40s %.2fs\n", c->name, secs);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

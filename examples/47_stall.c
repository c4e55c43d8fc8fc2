/*
 * 47_stall.c: a stall caught live. One task does CPU work for about 0.3 s without yielding,
 * starving a ticker that should print every 50 ms. With stall_threshold = 0.1, a watchdog
 * thread notices after 0.1 s and prints which task hogs the loop and where it is right now
 * (its live backtrace, taken from the stuck thread), while the step is still running:
 * asyncio's slow_callback_duration tells only afterwards, and without a stack.
 */
#include <cask.h>
#include <stdio.h>

static volatile unsigned long sink;

int count_primes_slowly(double seconds);
int count_primes_slowly(double seconds)
{
    double end = cask_time() + seconds;
    unsigned long n = 2, found = 0;
    while (cask_time() < end) { /* never yields: the loop is stuck here */
        unsigned long d = 2;
        while (d * d <= n && n % d)
            d++;
        found += d * d > n;
        n++;
    }
    sink = found;
    return 0;
}

static int hog(void *arg)
{
    (void)arg;
    int rc = cask_sleep(0.12);
    if (rc)
        return rc;
    return count_primes_slowly(0.3);
}

static int ticker(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    for (int i = 0; i < 8; i++) {
        printf("tick %d at %.2f s\n", i, cask_time() - t0);
        fflush(stdout);
        int rc = cask_sleep(0.05);
        if (rc)
            return rc;
    }
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    cask_task *a, *b;
    struct cask_spawn_opts ho = {.name = "hog"}, to = {.name = "ticker"};
    int rc = cask_spawn_with(&a, hog, NULL, &ho);
    if (rc == 0)
        rc = cask_spawn_with(&b, ticker, NULL, &to);
    if (rc)
        return rc;
    rc = cask_join(a);
    int rc2 = cask_join(b);
    return rc ? rc : rc2;
}

int main(void)
{
    struct cask_config cfg = {.stall_threshold = 0.1, .diag_out = stdout};
    return cask_run_with(main_task, NULL, &cfg) == 0 ? 0 : 1;
}

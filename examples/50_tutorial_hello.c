/* 50_tutorial_hello.c: tutorial step 1: a loop running one task that sleeps. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static int hello(void *arg) /* async def hello(name): */
{
    const char *name = arg;
    double start = cask_time(); /* loop.time() */
    printf("hello, %s\n", name);
    int rc = cask_sleep(0.5); /* await asyncio.sleep(0.5) */
    if (rc < 0)
        return rc; /* -ECANCELED: someone cancelled us (Ctrl-C, for instance) */
    printf("goodbye, %s, %.1f s later\n", name, cask_time() - start);
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct cask_config cfg = {.sigint_cancels_main = true};
    int rc = cask_run_with(hello, "loop", &cfg); /* asyncio.run(hello("loop")) */
    if (rc < 0)
        fprintf(stderr, "hello: %s\n", cask_strerror(rc));
    return rc < 0;
}

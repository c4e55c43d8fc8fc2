/*
 * 01_run.c: asyncio.run starts the event loop with an entry-point coroutine.
 *
 *   Python                                 C
 *   async def main(): ...                  static int main_task(void *arg) { ...; return 0; }
 *   asyncio.run(main())                    cask_run(main_task, NULL)
 *
 * cask_run makes an event loop on this thread, runs main_task as its first task, and returns
 * main_task's status once it has ended: 0 for success, a negative code for failure (the C
 * stand-in for an exception escaping main()).
 */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

static int main_task(void *arg)
{
    (void)arg;
    printf("Start of main coroutine\n");
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "main failed: %s\n", cask_strerror(rc));
    return rc < 0;
}

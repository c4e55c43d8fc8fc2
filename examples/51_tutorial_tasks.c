/* 51_tutorial_tasks.c: tutorial step 2: spawning tasks, joining them, reading results. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>
#include <string.h>

struct greeting {
    const char *name; /* in */
    double delay;     /* in */
    char text[32];    /* out: the result */
};

static int greet(void *arg)
{
    struct greeting *g = arg;
    printf("%s: started\n", g->name);
    int rc = cask_sleep(g->delay);
    if (rc < 0)
        return rc;
    snprintf(g->text, sizeof g->text, "hello, %s", g->name);
    printf("%s: done\n", g->name);
    return (int)strlen(g->text); /* a status >= 0 is success; small results fit in it */
}

static int main_task(void *arg)
{
    (void)arg;
    struct greeting g[2] = {{.name = "alice", .delay = 0.2}, {.name = "bob", .delay = 0.1}};
    cask_task *t[2] = {NULL, NULL};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = cask_spawn(&t[i], greet, &g[i]); /* t[i] = asyncio.create_task(greet(g[i])) */
    printf("main: spawned; the tasks have not run yet\n");
    for (int i = 0; i < 2 && t[i]; i++) {
        int status = cask_join(t[i]); /* await t[i] */
        printf("main: %s ended with %d: \"%s\"\n", cask_task_name(t[i]), status, g[i].text);
        if (rc == 0 && status < 0)
            rc = status;
        cask_release(t[i]); /* give the handle back */
    }
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "tasks: %s\n", cask_strerror(rc));
    return rc < 0;
}

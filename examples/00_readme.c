#include <cask.h>
#include <stdio.h>

struct job { int id; double delay; int result; };

static int fetch(void *arg) {                 /* async def fetch(job) */
    struct job *j = arg;
    printf("job %d: fetching\n", j->id);
    int rc = cask_sleep(j->delay);            /* await asyncio.sleep(delay) */
    if (rc < 0) return rc;                    /* -ECANCELED: CancelledError */
    j->result = j->id * 10;
    return 0;
}

static int amain(void *arg) {
    struct job *jobs = arg;
    cask_task *t[3];
    for (int i = 0; i < 3; i++)               /* asyncio.create_task(fetch(job)) */
        if (cask_spawn(&t[i], fetch, &jobs[i]) < 0) return -1;
    int rc = cask_gather(t, 3, NULL);         /* await asyncio.gather(*t) */
    for (int i = 0; i < 3; i++) printf("job %d -> %d\n", jobs[i].id, jobs[i].result);
    return rc;
}

int main(void) {
    struct job jobs[3] = {{1, 0.2, 0}, {2, 0.1, 0}, {3, 0.3, 0}};
    setvbuf(stdout, NULL, _IOLBF, 0);         /* print each line as it happens */
    return cask_run(amain, jobs) == 0 ? 0 : 1;   /* asyncio.run(amain()) */
}

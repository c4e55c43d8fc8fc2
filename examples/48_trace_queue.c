/*
 * 48_trace_queue.c: the trace timeline of the seed-25 queue program (examples/25_queue.c,
 * included here unchanged: its output is the same). The whole run is recorded with
 * cask_trace_start and written as Chrome/Perfetto trace-event JSON to the file named by the
 * first argument (default: cask-trace-25.json in $TMPDIR or /tmp). Open the file in
 * ui.perfetto.dev or chrome://tracing: one track per task, "run" slices, the waits ("queue
 * get ...", "sleep 0.200 s", "join ..."), and arrows from each task to the task it woke.
 * tools/trace_svg.py draws the same file as an SVG (docs/trace-25.svg).
 */
#define main seed25_main /* the seed program's own main is not used */
int seed25_main(void);
#include "25_queue.c"
#undef main

#include <stdlib.h>

static int traced_main(void *arg)
{
    const char *path = arg;
    int rc = cask_trace_start(0);
    if (rc < 0)
        return rc;
    rc = main_task(NULL); /* the seed program's main task, run inside the recording */
    int src = cask_trace_stop();
    if (src < 0)
        return src;
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    int n = cask_trace_write(f);
    if (fclose(f) != 0 && n >= 0)
        n = -EIO;
    if (n < 0)
        return n;
    fprintf(stderr, "48_trace_queue: %d events written to %s\n", n, path);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[4096];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/cask-trace-25.json", dir && *dir ? dir : "/tmp");
    }
    int rc = cask_run(traced_main, path);
    if (rc < 0) {
        fprintf(stderr, "48_trace_queue: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

/* 60_job_runner.c: a job runner: shell commands from a file, at most K at once, every output
 * line prefixed with its job, a time limit per job, Ctrl-C stops and reaps them all.
 *
 * usage: 60_job_runner [FILE [K [SECONDS]]]   (one command a line; K 3, SECONDS 1.0)
 * Without FILE it writes a demo job file and runs that: one job is too slow and is stopped at
 * its time limit, one fails, one writes to stderr. What it shows:
 *   - cask_process_shell with stdout as a stream and stderr joined to it, in its own process
 *     group, so stopping it also stops what it started;
 *   - a semaphore for "at most K at once" and a task group for "wait for all";
 *   - a timeout scope around a job: the cancelled wait terminates the child and reaps it;
 *   - cask_run's sigint_cancels_main: Ctrl-C cancels main, the group cancels every job, and
 *     every child is stopped and reaped before the program ends.
 */
#define _GNU_SOURCE
#include <cask.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_JOBS 64

struct job {
    int id;
    char cmd[512];
    double limit;
    cask_sem *slots;
};

static double t0;

/* Prints every line of the job's output, prefixed, until EOF. */
static int relay(struct job *j, cask_stream *out)
{
    char line[1024];
    for (;;) {
        ssize_t n = cask_stream_readline(out, line, sizeof line - 1);
        if (n <= 0)
            return (int)n;
        if (line[n - 1] != '\n')
            line[n++] = '\n';
        printf("[%4.1f] job %d | %.*s", cask_time() - t0, j->id, (int)n, line);
    }
}

static int run_job(void *arg)
{
    struct job *j = arg;
    int rc = cask_sem_acquire(j->slots);
    if (rc)
        return 0; /* cancelled while waiting for a slot: it never started */
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0},
                                  .err = {CASK_STDIO_STDOUT, 0},
                                  .in = {CASK_STDIO_DEVNULL, 0},
                                  .new_pgroup = true,
                                  .kill_grace = 0.5};
    cask_process *p;
    rc = cask_process_shell(&p, j->cmd, &o);
    if (rc) {
        printf("[%4.1f] job %d cannot start: %s\n", cask_time() - t0, j->id, cask_strerror(rc));
        cask_sem_release(j->slots);
        return 0;
    }
    printf("[%4.1f] job %d started (pid %d): %s\n", cask_time() - t0, j->id,
           (int)cask_process_pid(p), j->cmd);
    cask_scope sc;
    struct cask_exit st = {0, 0, false};
    rc = cask_timeout_open(&sc, j->limit);
    if (rc == 0) {
        rc = relay(j, cask_process_stdout(p));
        /* also when relay was cut off: a cancelled wait stops the child and reaps it */
        int wrc = cask_process_wait(p, &st);
        if (rc >= 0)
            rc = wrc;
        rc = cask_scope_close(&sc, rc);
    }
    if (rc == -ETIMEDOUT)
        printf("[%4.1f] job %d stopped after its %.1f s limit\n", cask_time() - t0, j->id,
               j->limit);
    else if (rc == -ECANCELED)
        printf("[%4.1f] job %d stopped (interrupted)\n", cask_time() - t0, j->id);
    else if (rc < 0)
        printf("[%4.1f] job %d: %s\n", cask_time() - t0, j->id, cask_strerror(rc));
    else if (st.signal)
        printf("[%4.1f] job %d killed by signal %d\n", cask_time() - t0, j->id, st.signal);
    else
        printf("[%4.1f] job %d exited %d\n", cask_time() - t0, j->id, st.code);
    cask_process_free(p);
    cask_sem_release(j->slots);
    return rc == -ECANCELED ? rc : 0; /* a failing job does not stop the others */
}

static const char *DEMO =
    "echo compiling; sleep 0.3; echo compiled\n"
    "for i in 1 2 3; do echo test $i ok; sleep 0.1; done\n"
    "echo fetching; sleep 5; echo never printed\n"
    "echo warning: disk almost full >&2; exit 3\n"
    "echo packing; sleep 0.2; echo packed\n";

struct args {
    const char *file;
    int k;
    double limit;
};

static int amain(void *arg)
{
    struct args *a = arg;
    FILE *f = fopen(a->file, "r");
    if (!f) {
        perror(a->file);
        return -ENOENT;
    }
    static struct job jobs[MAX_JOBS];
    cask_sem slots;
    cask_sem_init(&slots, a->k);
    int n = 0;
    char line[512];
    while (n < MAX_JOBS && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        jobs[n] = (struct job){n + 1, "", a->limit, &slots};
        snprintf(jobs[n].cmd, sizeof jobs[n].cmd, "%s", line);
        n++;
    }
    fclose(f);
    printf("[%4.1f] %d jobs, at most %d at once, %.1f s each\n", cask_time() - t0, n, a->k,
           a->limit);
    cask_group g;
    int rc = cask_group_open(&g);
    if (rc)
        return rc;
    for (int i = 0; i < n && rc == 0; i++)
        rc = cask_group_spawn(&g, NULL, run_job, &jobs[i]);
    rc = cask_group_close(&g, rc); /* Ctrl-C: -ECANCELED here, after every job was reaped */
    printf("[%4.1f] %s\n", cask_time() - t0, rc == -ECANCELED ? "interrupted: all jobs stopped"
                                                              : "all jobs done");
    return rc == -ECANCELED ? 0 : rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct args a = {argc > 1 ? argv[1] : NULL, argc > 2 ? atoi(argv[2]) : 3,
                     argc > 3 ? atof(argv[3]) : 1.0};
    char demo[] = "/tmp/cask-jobs-XXXXXX";
    if (!a.file) {
        int fd = mkstemp(demo);
        if (fd < 0 || write(fd, DEMO, strlen(DEMO)) != (ssize_t)strlen(DEMO))
            return 1;
        close(fd);
        a.file = demo;
    }
    if (a.k < 1)
        a.k = 1;
    t0 = cask_time();
    struct cask_config cfg = {.sigint_cancels_main = true};
    int rc = cask_run_with(amain, &a, &cfg);
    if (a.file == demo)
        unlink(demo);
    if (rc == -ECANCELED)
        return 130; /* interrupted, as a shell reports Ctrl-C */
    if (rc) {
        fprintf(stderr, "60_job_runner: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

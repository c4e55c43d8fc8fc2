/* 61_supervisor.c: a process supervisor: restarts a child that crashes, with exponential
 * backoff; SIGHUP restarts every child; SIGTERM (or Ctrl-C) stops them gracefully and exits.
 *
 * usage: 61_supervisor [--forever]
 * By default it supervises a demo for about two seconds, sending itself SIGHUP at 0.8 s and
 * SIGTERM at 1.6 s; with --forever it waits for real signals (try kill -HUP / kill -TERM).
 * What it shows:
 *   - one task per child: spawn, wait, restart after 0.1 s, 0.2 s, 0.4 s ... (reset after a run
 *     that lasted a while);
 *   - cask_signal_open + cask_signal_wait: signals arrive as values in a task, not in a handler;
 *   - a restart is a cancel scope around the wait: cancelling it stops the child (SIGTERM, a
 *     grace period, SIGKILL) and reaps it before the wait returns;
 *   - a graceful stop is cancelling the task group of the supervisors: every child is stopped
 *     and reaped before the program ends.
 */
#define _GNU_SOURCE
#include <cask.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct child {
    const char *name;
    const char *cmd;
    cask_scope *run;  /* the scope around the current run's wait, to restart it */
    bool restart;     /* SIGHUP asked for a restart */
    int starts;
};

static double t0;

#define LOG(...)                                                                               \
    do {                                                                                       \
        printf("[%4.1f] ", cask_time() - t0);                                                  \
        printf(__VA_ARGS__);                                                                   \
        putchar('\n');                                                                         \
    } while (0)

static int supervise(void *arg)
{
    struct child *c = arg;
    double backoff = 0.1;
    for (;;) {
        struct cask_process_opts o = {.in = {CASK_STDIO_DEVNULL, 0}, .kill_grace = 0.5};
        cask_process *p;
        int rc = cask_process_shell(&p, c->cmd, &o);
        if (rc) {
            LOG("%s: cannot start: %s", c->name, cask_strerror(rc));
            return rc;
        }
        c->starts++;
        LOG("%s: started, pid %d", c->name, (int)cask_process_pid(p));
        double started = cask_time();
        cask_scope run;
        struct cask_exit st = {0, 0, false};
        rc = cask_move_on_open(&run, INFINITY); /* cancelled by a SIGHUP: a restart */
        if (rc == 0) {
            c->run = &run;
            rc = cask_process_wait(p, &st);
            c->run = NULL;
            rc = cask_scope_close(&run, rc);
        }
        cask_process_free(p);
        if (rc == -ECANCELED) { /* the supervisor itself is stopping: the child was stopped */
            LOG("%s: stopped", c->name);
            return rc;
        }
        if (c->restart) {
            c->restart = false;
            LOG("%s: restarted on SIGHUP", c->name);
            backoff = 0.1;
            continue;
        }
        if (st.signal)
            LOG("%s: killed by signal %d", c->name, st.signal);
        else
            LOG("%s: exited %d", c->name, st.code);
        if (cask_time() - started > 1.0)
            backoff = 0.1; /* it ran for a while: a fresh failure, not a crash loop */
        LOG("%s: restarting in %.1f s", c->name, backoff);
        rc = cask_sleep(backoff);
        if (rc)
            return rc;
        backoff = backoff * 2 > 2.0 ? 2.0 : backoff * 2;
    }
}

/* The demo's own signals, as an operator would send them. */
static int demo_operator(void *arg)
{
    (void)arg;
    if (cask_sleep(0.8) == 0)
        kill(getpid(), SIGHUP);
    if (cask_sleep(0.8) == 0)
        kill(getpid(), SIGTERM);
    return 0;
}

static int amain(void *arg)
{
    bool forever = *(bool *)arg;
    struct child kids[] = {
        {"web", "echo serving; exec sleep 30", NULL, false, 0},
        {"flaky", "sleep 0.15; echo crashing >&2; kill -SEGV $$", NULL, false, 0},
        {"stubborn", "trap 'echo ignoring SIGTERM' TERM; while :; do sleep 0.05; done", NULL,
         false, 0},
    };
    size_t n = sizeof kids / sizeof kids[0];
    int sigs[] = {SIGHUP, SIGTERM, SIGINT};
    cask_signal *sr;
    int rc = cask_signal_open(&sr, sigs, 3);
    if (rc)
        return rc;
    cask_group g;
    rc = cask_group_open(&g);
    if (rc) {
        cask_signal_close(sr);
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cask_group_spawn(&g, NULL, supervise, &kids[i]);
    if (rc == 0 && !forever)
        rc = cask_group_spawn(&g, NULL, demo_operator, NULL);
    while (rc == 0) {
        int sig = cask_signal_wait(sr);
        if (sig < 0) {
            rc = sig;
            break;
        }
        if (sig == SIGHUP) {
            LOG("SIGHUP: restarting every child");
            for (size_t i = 0; i < n; i++) {
                if (kids[i].run) {
                    kids[i].restart = true;
                    cask_scope_cancel(kids[i].run);
                }
            }
            continue;
        }
        LOG("%s: stopping every child", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        cask_group_cancel(&g);
        break;
    }
    rc = cask_group_close(&g, rc);
    cask_signal_close(sr);
    size_t starts = 0;
    for (size_t i = 0; i < n; i++)
        starts += (size_t)kids[i].starts;
    LOG("supervisor done: %zu starts, every child reaped", starts);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    bool forever = argc > 1 && !strcmp(argv[1], "--forever");
    t0 = cask_time();
    int rc = cask_run(amain, &forever);
    if (rc) {
        fprintf(stderr, "61_supervisor: %s\n", cask_strerror(rc));
        return 1;
    }
    return 0;
}

/*
 * 45_signals.c: a service loop driven by signals. SIGHUP reloads (counted: two quick SIGHUPs
 * are two reloads), SIGUSR1 prints a status line from a callback, SIGTERM stops it cleanly.
 * To keep the example self-contained, a helper task plays the operator and sends the signals
 * to its own process; run it and send them yourself with kill(1) to see the same.
 */
#define _GNU_SOURCE
#include <cask.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int reloads;

static void on_status(int signo, void *arg)
{
    (void)arg;
    printf("status: %d reloads so far (signal %d, run by the loop)\n", reloads, signo);
}

static int operator(void *arg)
{
    (void)arg;
    int rc = cask_sleep(0.1);
    if (rc)
        return rc;
    kill(getpid(), SIGHUP);
    kill(getpid(), SIGHUP);
    kill(getpid(), SIGUSR1);
    if ((rc = cask_sleep(0.1)))
        return rc;
    kill(getpid(), SIGTERM);
    return 0;
}

static int service(void *arg)
{
    (void)arg;
    int sigs[] = {SIGHUP, SIGTERM};
    int status_sigs[] = {SIGUSR1};
    cask_signal *r, *status;
    int rc = cask_signal_open(&r, sigs, 2); /* from here on, arrivals are counted */
    if (rc)
        return rc;
    rc = cask_signal_on(&status, status_sigs, 1, on_status, NULL);
    if (rc) {
        (void)cask_signal_close(r);
        return rc;
    }
    cask_task *op;
    rc = cask_spawn(&op, operator, NULL);
    while (rc == 0) {
        rc = cask_signal_wait(r); /* the signal's number, or -ECANCELED */
        if (rc == SIGHUP) {
            reloads++;
            printf("SIGHUP: reloading (%d)\n", reloads);
            rc = 0;
        } else if (rc == SIGTERM) {
            printf("SIGTERM: stopping\n");
            rc = cask_join(op);
            cask_release(op);
            break;
        }
    }
    (void)cask_signal_close(status);
    (void)cask_signal_close(r); /* the signals get their previous handlers back */
    return rc;
}

int main(void)
{
    /* Ctrl-C cancels the service (its wait returns -ECANCELED); a second Ctrl-C ends it */
    struct cask_config cfg = {.sigint_cancels_main = true};
    int rc = cask_run_with(service, NULL, &cfg);
    if (rc < 0) {
        fprintf(stderr, "service: %s\n", cask_strerror(rc));
        return 1;
    }
    printf("stopped after %d reloads\n", reloads);
    return 0;
}

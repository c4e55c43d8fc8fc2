/* 70_stdin_lines.c: stdin and stdout as streams. Lines typed (or piped) on stdin are echoed
 * with their number while a timer ticks beside them, so the loop never waits on one of them.
 * It stops at end of input, or after 1 second with no arguments (so `make run` passes by),
 * or after the number of seconds given:  seq 5 | 70_stdin_lines   or   70_stdin_lines 30 */
#define _GNU_SOURCE
#include <cask.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int ticks;

static int ticker(void *arg)
{
    (void)arg;
    while (cask_sleep(0.25) == 0)
        ticks++;
    return 0;
}

static int run(void *arg)
{
    double seconds = *(double *)arg;
    cask_stream *in, *out;
    struct cask_stream_opts borrow = {.borrow = true}; /* fds 0 and 1 stay open */
    int rc = cask_stream_open(&in, 0, &borrow);
    if (rc)
        return rc;
    if ((rc = cask_stream_open(&out, 1, &borrow))) {
        cask_stream_free(in);
        return rc;
    }
    cask_task *t;
    if ((rc = cask_spawn(&t, ticker, NULL)))
        goto out;
    int lines = 0;
    char line[1024], msg[1100];
    cask_scope sc;
    cask_move_on_open(&sc, seconds); /* a stdin that never ends stops here */
    ssize_t n;
    while ((n = cask_stream_readline(in, line, sizeof line)) > 0) {
        int len = snprintf(msg, sizeof msg, "%d: %.*s", ++lines, (int)n, line);
        if (line[n - 1] != '\n' && len < (int)sizeof msg - 1)
            msg[len++] = '\n';
        if ((rc = (int)cask_stream_write(out, msg, (size_t)len)) < 0)
            break;
        rc = 0;
    }
    rc = cask_scope_close(&sc, n < 0 ? (int)n : rc);
    cask_cancel(t);
    int trc = cask_join(t); /* -ECANCELED: it was cancelled, as asked */
    (void)trc;
    cask_release(t);
    int len = snprintf(msg, sizeof msg, "%d lines while the timer ticked %d times\n", lines, ticks);
    if (rc == 0 && cask_stream_write(out, msg, (size_t)len) != len)
        rc = -EPIPE;
out:
    cask_stream_free(in);
    cask_stream_free(out);
    return rc;
}

int main(int argc, char **argv)
{
    /* streams make pipes and ttys non-blocking; the shell shares them, so put them back */
    int fl0 = fcntl(0, F_GETFL), fl1 = fcntl(1, F_GETFL);
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    int rc = cask_run(run, &seconds);
    if (fl0 >= 0)
        fcntl(0, F_SETFL, fl0);
    if (fl1 >= 0)
        fcntl(1, F_SETFL, fl1);
    if (rc)
        fprintf(stderr, "70_stdin_lines: %s\n", cask_strerror(rc));
    return rc ? 1 : 0;
}

/* test_fd.c: waiting on file descriptors (pipes, real files), cancellation of fd waits, and
 * SIGINT cancelling the main task (CONFORMANCE R3). */
#define _GNU_SOURCE
#include "cask_test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct pipe_arg {
    int rd, wr;
    char got[16];
};

static int reader(void *p)
{
    struct pipe_arg *a = p;
    for (;;) {
        ssize_t n = read(a->rd, a->got, sizeof a->got - 1);
        if (n > 0) {
            a->got[n] = 0;
            return (int)n;
        }
        if (n < 0 && errno != EAGAIN)
            return -errno;
        int rc = cask_wait_fd(a->rd, CASK_READABLE);
        if (rc < 0)
            return rc;
        CHECK(rc & CASK_READABLE);
    }
}

static int writer_later(void *p)
{
    struct pipe_arg *a = p;
    if (cask_sleep(0.02))
        return -1;
    return (int)write(a->wr, "hello", 5);
}

static int pipe_main(void *p)
{
    (void)p;
    int fds[2];
    CHECK_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    struct pipe_arg a = {fds[0], fds[1], {0}};
    cask_task *r, *w;
    CHECK_EQ(cask_spawn(&r, reader, &a), 0);
    CHECK_EQ(cask_spawn(&w, writer_later, &a), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_join(r), 5);
    CHECK(cask_time() - t0 >= 0.019);
    CHECK_STR(a.got, "hello");
    CHECK_EQ(cask_join(w), 5);
    cask_release(r);
    cask_release(w);

    /* a second wait on the same fd and direction is refused while the first is parked */
    CHECK_EQ(cask_spawn(&r, reader, &a), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_wait_fd(fds[0], CASK_READABLE), -EEXIST);
    /* cancelling the parked reader: its wait returns -ECANCELED and the fd stays usable */
    CHECK(cask_cancel(r));
    CHECK_EQ(cask_join(r), -ECANCELED);
    cask_release(r);
    CHECK_EQ(cask_spawn(&r, reader, &a), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(write(fds[1], "again", 5), 5);
    CHECK_EQ(cask_join(r), 5);
    CHECK_STR(a.got, "again");
    cask_release(r);

    /* a pipe with room is writable at once (after the first edge) */
    int ev = cask_wait_fd(fds[1], CASK_WRITABLE);
    CHECK(ev == CASK_WRITABLE || ev == 0 || ev > 0);
    /* bad arguments */
    CHECK_EQ(cask_wait_fd(-1, CASK_READABLE), -EBADF);
    CHECK_EQ(cask_wait_fd(fds[0], 0), -EINVAL);
    CHECK_EQ(cask_wait_fd(fds[0], 8), -EINVAL);
    /* forgetting wakes a waiter with -EBADF */
    CHECK_EQ(cask_spawn(&r, reader, &a), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_fd_forget(fds[0]), 0);
    CHECK_EQ(cask_join(r), -EBADF);
    cask_release(r);
    close(fds[0]);
    cask_fd_forget(fds[1]);
    close(fds[1]);
    return 0;
}
TEST(fd_wait_pipe) { CHECK_EQ(cask_run(pipe_main, NULL), 0); }

static int file_main(void *p)
{
    (void)p;
    char path[] = "/tmp/cask-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    /* regular files are always ready: the wait returns at once */
    CHECK_EQ(cask_wait_fd(fd, CASK_READABLE | CASK_WRITABLE), CASK_READABLE | CASK_WRITABLE);
    close(fd);
    return 0;
}
TEST(fd_wait_regular_file) { CHECK_EQ(cask_run(file_main, NULL), 0); }

/* R3: with sigint_cancels_main, SIGINT cancels the main task. */
static int sigint_main(void *p)
{
    (void)p;
    kill(getpid(), SIGINT);
    int rc = cask_sleep(5);
    return rc;
}
TEST(sigint_cancels_main)
{
    struct cask_config cfg = {.sigint_cancels_main = true};
    double t0 = cask_time();
    CHECK_EQ(cask_run_with(sigint_main, NULL, &cfg), -ECANCELED);
    CHECK(cask_time() - t0 < 2);
}

/* R3: a second SIGINT ends the program. */
static int stubborn_main(void *p)
{
    (void)p;
    kill(getpid(), SIGINT);
    CHECK_EQ(cask_sleep(5), -ECANCELED);
    cask_uncancel(cask_current()); /* ignores the first: keeps running */
    kill(getpid(), SIGINT);
    if (cask_sleep(5) < 0)
        return -ECANCELED;
    return 0;
}
TEST(second_sigint_ends_program)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct cask_config cfg = {.sigint_cancels_main = true};
        if (cask_run_with(stubborn_main, NULL, &cfg) != 0)
            _exit(1);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGINT);
}

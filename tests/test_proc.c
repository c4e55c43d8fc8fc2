/* test_proc.c: child processes (CONFORMANCE P1-P9) with real children: exit codes and signals,
 * pipes as streams, communicate (10 MB each way, the limit, a grandchild holding a pipe),
 * kill on cancel at each blocking call, no zombie and no leaked fd, -ENOENT/-EACCES, the
 * pidfd-less fallback, a loop on another thread. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* No child of this process is left, running or zombie. */
static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* Waits up to secs for every child to be gone (background reaping). */
static bool children_gone_within(double secs)
{
    for (int i = 0; i < (int)(secs * 100); i++) {
        if (no_children())
            return true;
        usleep(10000);
    }
    return no_children();
}

/* A process of group pgid that is alive (not a zombie waiting for its reaper), from /proc. */
static bool group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    CHECK(d != NULL);
    bool alive = false;
    struct dirent *e;
    while (!alive && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid pgrp ..." */
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            state != 'Z' && state != 'X')
            alive = true;
    }
    closedir(d);
    return alive;
}

static int shell(cask_process **p, const char *cmd, const struct cask_process_opts *o)
{
    return cask_process_shell(p, cmd, o);
}

/* P1: cat with stdin and stdout pipes: communicate("hello") gives "hello", status 0. */
static int p1_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"cat", NULL};
    struct cask_process_opts o = {.in = {CASK_STDIO_PIPE, 0}, .out = {CASK_STDIO_PIPE, 0}};
    cask_process *p;
    CHECK_EQ(cask_process_spawn(&p, argv, &o), 0);
    CHECK(cask_process_pid(p) > 0);
    CHECK(cask_process_stdin(p) && cask_process_stdout(p) && !cask_process_stderr(p));
    struct cask_communicate c = {.input = "hello", .input_len = 5};
    CHECK_EQ(cask_process_communicate(p, &c), 0);
    CHECK_EQ(c.out_len, 5);
    CHECK_STR(c.out, "hello");
    CHECK(c.err == NULL);
    CHECK_EQ(c.status.code, 0);
    CHECK_EQ(c.status.signal, 0);
    cask_communicate_free(&c);
    cask_process_free(p);
    return 0;
}
TEST(p1_cat_communicate) { CHECK_EQ(cask_run(p1_main, NULL), 0); CHECK(no_children()); }

/* P2: exit 7 is an exit code; kill() and terminate() are signals, told apart. */
static int p2_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_exit st;
    CHECK_EQ(shell(&p, "exit 7", NULL), 0);
    CHECK_EQ(cask_process_wait(p, &st), 0);
    CHECK_EQ(st.code, 7);
    CHECK_EQ(st.signal, 0);
    CHECK_EQ(cask_process_wait(p, &st), 0); /* again: at once, the same */
    CHECK_EQ(st.code, 7);
    CHECK_EQ(cask_process_signal(p, SIGTERM), -ESRCH); /* reaped: never someone else's pid */
    cask_process_free(p);

    const char *argv[] = {"sleep", "30", NULL};
    CHECK_EQ(cask_process_spawn(&p, argv, NULL), 0);
    CHECK_EQ(cask_process_status(p, &st), -EAGAIN);
    CHECK_EQ(cask_process_kill(p), 0);
    CHECK_EQ(cask_process_wait(p, &st), 0);
    CHECK_EQ(st.code, -1);
    CHECK_EQ(st.signal, SIGKILL);
    CHECK_EQ(cask_process_status(p, &st), 0);
    CHECK_EQ(st.signal, SIGKILL);
    cask_process_free(p);

    CHECK_EQ(cask_process_spawn(&p, argv, NULL), 0);
    CHECK_EQ(cask_process_terminate(p), 0);
    CHECK_EQ(cask_process_wait(p, &st), 0);
    CHECK_EQ(st.code, -1);
    CHECK_EQ(st.signal, SIGTERM);
    cask_process_free(p);
    return 0;
}
TEST(p2_exit_code_and_signals) { CHECK_EQ(cask_run(p2_main, NULL), 0); CHECK(no_children()); }

TEST(p2_fallback_without_pidfd)
{
    setenv("CASK_NO_PIDFD", "1", 1);
    CHECK_EQ(cask_run(p2_main, NULL), 0);
    CHECK(no_children());
}

/* P3: stderr joined to stdout keeps the order; /dev/null as stdin is EOF at once. */
static int p3_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0}, .err = {CASK_STDIO_STDOUT, 0}};
    CHECK_EQ(shell(&p, "echo one; echo two >&2; echo three; echo four >&2", &o), 0);
    CHECK(cask_process_stderr(p) == NULL);
    char line[64];
    const char *want[] = {"one\n", "two\n", "three\n", "four\n"};
    for (int i = 0; i < 4; i++) {
        ssize_t n = cask_stream_readline(cask_process_stdout(p), line, sizeof line);
        CHECK_EQ(n, (ssize_t)strlen(want[i]));
        CHECK(!memcmp(line, want[i], (size_t)n));
    }
    CHECK_EQ(cask_stream_readline(cask_process_stdout(p), line, sizeof line), 0);
    struct cask_exit st;
    CHECK_EQ(cask_process_wait(p, &st), 0);
    CHECK_EQ(st.code, 0);
    cask_process_free(p);

    const char *argv[] = {"cat", NULL};
    struct cask_process_opts o2 = {.in = {CASK_STDIO_DEVNULL, 0}, .out = {CASK_STDIO_PIPE, 0}};
    CHECK_EQ(cask_process_spawn(&p, argv, &o2), 0);
    double t0 = cask_time();
    struct cask_communicate c = {0};
    CHECK_EQ(cask_process_communicate(p, &c), 0);
    CHECK(cask_time() - t0 < 2.0);
    CHECK_EQ(c.out_len, 0);
    CHECK_EQ(c.status.code, 0);
    cask_communicate_free(&c);
    cask_process_free(p);
    return 0;
}
TEST(p3_stderr_joined_and_devnull) { CHECK_EQ(cask_run(p3_main, NULL), 0); }

/* P4: writing to an exited child's stdin is -EPIPE, not SIGPIPE; communicate ignores it. */
static int p4_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_process_opts o = {.in = {CASK_STDIO_PIPE, 0}, .out = {CASK_STDIO_PIPE, 0}};
    const char *argv[] = {"true", NULL};
    CHECK_EQ(cask_process_spawn(&p, argv, &o), 0);
    CHECK_EQ(cask_process_wait(p, NULL), 0);
    CHECK_EQ(cask_stream_write(cask_process_stdin(p), "x", 1), -EPIPE);
    cask_process_free(p);

    /* a child that closes its stdin at once and prints: 1 MB of input is no error */
    CHECK_EQ(shell(&p, "exec 0<&-; echo out", &o), 0);
    size_t n = 1 << 20;
    char *in = calloc(1, n);
    struct cask_communicate c = {.input = in, .input_len = n};
    CHECK_EQ(cask_process_communicate(p, &c), 0);
    CHECK_STR(c.out, "out\n");
    CHECK_EQ(c.status.code, 0);
    cask_communicate_free(&c);
    free(in);
    cask_process_free(p);
    return 0;
}
TEST(p4_epipe_not_sigpipe) { CHECK_EQ(cask_run(p4_main, NULL), 0); }

/* P5: output read after the child exited is all there. */
static int p5_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0}};
    CHECK_EQ(shell(&p, "i=0; while [ $i -lt 1000 ]; do echo line$i; i=$((i+1)); done", &o), 0);
    struct cask_exit st;
    CHECK_EQ(cask_process_wait(p, &st), 0); /* about 8.9 KB: fits in the pipe */
    CHECK_EQ(st.code, 0);
    char line[32], want[32];
    for (int i = 0; i < 1000; i++) {
        ssize_t n = cask_stream_readline(cask_process_stdout(p), line, sizeof line);
        snprintf(want, sizeof want, "line%d\n", i);
        CHECK_EQ(n, (ssize_t)strlen(want));
        CHECK(!memcmp(line, want, (size_t)n));
    }
    CHECK_EQ(cask_stream_readline(cask_process_stdout(p), line, sizeof line), 0);
    cask_process_free(p);
    return 0;
}
TEST(p5_output_after_exit) { CHECK_EQ(cask_run(p5_main, NULL), 0); }

/* P6: a missing program is -ENOENT from the start call, a non-executable file -EACCES; no fd
 * leaks, no child is left. */
static int p6_main(void *arg)
{
    (void)arg;
    int before = count_fds();
    cask_process *p = (cask_process *)1;
    const char *missing[] = {"no-such-program-cask-test", NULL};
    struct cask_process_opts o = {.in = {CASK_STDIO_PIPE, 0}, .out = {CASK_STDIO_PIPE, 0},
                                  .err = {CASK_STDIO_PIPE, 0}};
    CHECK_EQ(cask_process_spawn(&p, missing, &o), -ENOENT);
    CHECK(p == NULL);
    const char *abs_missing[] = {"/nonexistent/prog", NULL};
    CHECK_EQ(cask_process_spawn(&p, abs_missing, &o), -ENOENT);
    char path[] = "/tmp/cask-noexec-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    chmod(path, 0644);
    const char *noexec[] = {path, NULL};
    CHECK_EQ(cask_process_spawn(&p, noexec, &o), -EACCES);
    unlink(path);
    const char *ok[] = {"true", NULL};
    struct cask_process_opts bad_cwd = {.cwd = "/nonexistent-dir"};
    CHECK_EQ(cask_process_spawn(&p, ok, &bad_cwd), -ENOENT);
    CHECK_EQ(count_fds(), before);
    CHECK(no_children());
    return 0;
}
TEST(p6_enoent_eacces_nothing_leaks) { CHECK_EQ(cask_run(p6_main, NULL), 0); }

TEST(p6_fallback_without_pidfd)
{
    setenv("CASK_NO_PIDFD", "1", 1);
    CHECK_EQ(cask_run(p6_main, NULL), 0);
}

/* P7: a task cancelled while waiting for sleep 30: the child is terminated and reaped before
 * -ECANCELED returns. */
struct waiter_arg {
    cask_process *p;
    int rc;
    struct cask_communicate c;
    bool communicate;
};

static int waiter(void *arg)
{
    struct waiter_arg *w = arg;
    if (w->communicate)
        w->rc = cask_process_communicate(w->p, &w->c);
    else
        w->rc = cask_process_wait(w->p, NULL);
    return 0;
}

static void cancel_case(const char *cmd, const struct cask_process_opts *o, bool communicate,
                        const void *input, size_t input_len, int want_sig, double max_s)
{
    cask_process *p;
    CHECK_EQ(shell(&p, cmd, o), 0);
    pid_t pid = cask_process_pid(p);
    struct waiter_arg w = {.p = p, .communicate = communicate};
    w.c.input = input;
    w.c.input_len = input_len;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, waiter, &w), 0);
    CHECK_EQ(cask_sleep(0.1), 0);
    double t0 = cask_time();
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(w.rc, -ECANCELED);
    CHECK(cask_time() - t0 < max_s);
    /* reaped before the call returned: the pid is gone, no zombie */
    CHECK(kill(pid, 0) < 0 && errno == ESRCH);
    struct cask_exit st;
    CHECK_EQ(cask_process_status(p, &st), 0);
    CHECK_EQ(st.signal, want_sig);
    cask_communicate_free(&w.c);
    cask_release(t);
    cask_process_free(p);
}

static int p7_main(void *arg)
{
    (void)arg;
    struct cask_process_opts none = {0};
    cancel_case("exec sleep 30", &none, false, NULL, 0, SIGTERM, 2.0);
    /* a child that ignores SIGTERM is killed after the grace period */
    struct cask_process_opts grace = {.kill_grace = 0.3};
    double t0 = cask_time();
    cancel_case("trap '' TERM; exec sleep 30", &grace, false, NULL, 0, SIGKILL, 3.0);
    CHECK(cask_time() - t0 >= 0.25);
    /* CASK_PROC_KILL: SIGKILL at once */
    struct cask_process_opts k = {.on_cancel = CASK_PROC_KILL};
    cancel_case("exec sleep 30", &k, false, NULL, 0, SIGKILL, 2.0);
    /* communicate, blocked reading stdout */
    struct cask_process_opts pipes = {.in = {CASK_STDIO_PIPE, 0}, .out = {CASK_STDIO_PIPE, 0},
                                      .err = {CASK_STDIO_PIPE, 0}};
    cancel_case("exec sleep 30", &pipes, true, NULL, 0, SIGTERM, 2.0);
    /* communicate, blocked writing stdin to a child that does not read */
    size_t n = 4 << 20;
    char *big = calloc(1, n);
    cancel_case("exec sleep 30", &pipes, true, big, n, SIGTERM, 2.0);
    free(big);
    /* a process group: the shell and its child both get the signal */
    struct cask_process_opts grp = {.new_pgroup = true};
    cancel_case("sleep 30; echo never", &grp, false, NULL, 0, SIGTERM, 2.0);
    CHECK(children_gone_within(2.0));
    /* a process group whose members ignore SIGTERM: once the leader is gone, the rest of the
     * group gets SIGKILL, nothing of it is left */
    struct cask_process_opts grp2 = {.new_pgroup = true, .kill_grace = 0.3};
    cask_process *p;
    CHECK_EQ(shell(&p, "sh -c 'trap \"\" TERM; exec sleep 30' & sleep 30", &grp2), 0);
    pid_t pgid = cask_process_pid(p);
    struct waiter_arg w = {.p = p};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, waiter, &w), 0);
    CHECK_EQ(cask_sleep(0.2), 0);
    cask_cancel(t);
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(w.rc, -ECANCELED);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = !group_alive(pgid);
        if (!gone)
            CHECK_EQ(cask_sleep(0.01), 0);
    }
    CHECK(gone);
    cask_release(t);
    cask_process_free(p);
    return 0;
}
TEST(p7_cancel_kills_and_reaps) { CHECK_EQ(cask_run(p7_main, NULL), 0); }

TEST(p7_fallback_without_pidfd)
{
    setenv("CASK_NO_PIDFD", "1", 1);
    CHECK_EQ(cask_run(p7_main, NULL), 0);
}

/* P7: CASK_PROC_LEAVE (asyncio's way): the cancelled wait returns at once, the child runs on. */
static int leave_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_process_opts o = {.on_cancel = CASK_PROC_LEAVE};
    CHECK_EQ(shell(&p, "exec sleep 30", &o), 0);
    struct waiter_arg w = {.p = p};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, waiter, &w), 0);
    CHECK_EQ(cask_sleep(0.05), 0);
    cask_cancel(t);
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(w.rc, -ECANCELED);
    CHECK_EQ(kill(cask_process_pid(p), 0), 0); /* still running */
    CHECK_EQ(cask_process_kill(p), 0);
    struct cask_exit st;
    CHECK_EQ(cask_process_wait(p, &st), 0);
    CHECK_EQ(st.signal, SIGKILL);
    cask_release(t);
    cask_process_free(p);
    return 0;
}
TEST(p7_leave_running_option) { CHECK_EQ(cask_run(leave_main, NULL), 0); CHECK(no_children()); }

/* P8: freeing the handle of a running child, or ending cask_run with one, leaves no zombie and
 * no running child; a detached (CASK_PROC_LEAVE) one runs on and is reaped when it ends. */
static pid_t p8_pid;
static int p8_free_main(void *arg)
{
    (void)arg;
    cask_process *p;
    CHECK_EQ(shell(&p, "exec sleep 30", NULL), 0);
    p8_pid = cask_process_pid(p);
    cask_process_free(p); /* SIGTERM now, reaped by a background task */
    CHECK_EQ(cask_sleep(0.5), 0);
    CHECK(kill(p8_pid, 0) < 0 && errno == ESRCH);
    CHECK(no_children());
    /* one that ignores SIGTERM: SIGKILL after the grace, still in the background */
    struct cask_process_opts o = {.kill_grace = 0.2};
    CHECK_EQ(shell(&p, "trap '' TERM; exec sleep 30", &o), 0);
    p8_pid = cask_process_pid(p);
    CHECK_EQ(cask_sleep(0.1), 0); /* the shell has set its trap */
    cask_process_free(p);
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_EQ(kill(p8_pid, 0), 0); /* within the grace */
    CHECK_EQ(cask_sleep(0.6), 0);
    CHECK(no_children());
    return 0;
}
TEST(p8_free_running_child) { CHECK_EQ(cask_run(p8_free_main, NULL), 0); CHECK(no_children()); }

static int p8_run_end_main(void *arg)
{
    (void)arg;
    cask_process *p, *q;
    CHECK_EQ(shell(&p, "exec sleep 30", NULL), 0);
    struct cask_process_opts o = {.kill_grace = 0.2};
    CHECK_EQ(shell(&q, "trap '' TERM; exec sleep 30", &o), 0);
    CHECK_EQ(cask_sleep(0.1), 0); /* the shell has set its trap */
    return 0; /* both handles still held: cask_run stops and reaps them */
}
TEST(p8_run_ends_with_children)
{
    CHECK_EQ(cask_run(p8_run_end_main, NULL), 0);
    CHECK(no_children());
}

static int p8_leave_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_process_opts o = {.on_cancel = CASK_PROC_LEAVE};
    CHECK_EQ(shell(&p, "exec sleep 0.3", &o), 0);
    p8_pid = cask_process_pid(p);
    cask_process_free(p);
    CHECK_EQ(kill(p8_pid, 0), 0); /* left running */
    return 0;
}
TEST(p8_detached_child_is_reaped)
{
    CHECK_EQ(cask_run(p8_leave_main, NULL), 0);
    CHECK_EQ(kill(p8_pid, 0), 0);
    CHECK(children_gone_within(3.0)); /* ended and reaped by the little thread */
}

/* P9: a loop on another thread starts, talks to and waits for children the same way. */
static void *p9_thread(void *arg)
{
    (void)arg;
    int *rc = malloc(sizeof *rc);
    *rc = cask_run(p1_main, NULL);
    if (*rc == 0)
        *rc = cask_run(p2_main, NULL);
    return rc;
}
TEST(p9_loop_on_another_thread)
{
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, p9_thread, NULL), 0);
    void *res;
    CHECK_EQ(pthread_join(th, &res), 0);
    CHECK_EQ(*(int *)res, 0);
    free(res);
    CHECK(no_children());
}

/* 10 MB in, 10 MB out on stdout and 10 MB on stderr at once; every byte checked. */
static int big_main(void *arg)
{
    (void)arg;
    size_t n = 10 << 20;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)((i * 7 + i / 4093) % 251);
    cask_process *p;
    struct cask_process_opts o = {.in = {CASK_STDIO_PIPE, 0}, .out = {CASK_STDIO_PIPE, 0},
                                  .err = {CASK_STDIO_PIPE, 0}};
    CHECK_EQ(shell(&p, "tee /dev/stderr", &o), 0);
    struct cask_communicate c = {.input = in, .input_len = n};
    CHECK_EQ(cask_process_communicate(p, &c), 0);
    CHECK_EQ(c.status.code, 0);
    CHECK_EQ(c.out_len, n);
    CHECK_EQ(c.err_len, n);
    CHECK(!memcmp(c.out, in, n));
    CHECK(!memcmp(c.err, in, n));
    cask_communicate_free(&c);
    cask_process_free(p);
    free(in);
    return 0;
}
TEST_T(communicate_10mb_each_way, 60) { CHECK_EQ(cask_run(big_main, NULL), 0); }

/* communicate's limit: -EMSGSIZE, the child stopped and reaped, the first bytes kept. */
static int limit_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0}};
    CHECK_EQ(shell(&p, "exec yes", &o), 0);
    pid_t pid = cask_process_pid(p);
    struct cask_communicate c = {.limit = 100000};
    CHECK_EQ(cask_process_communicate(p, &c), -EMSGSIZE);
    CHECK_EQ(c.out_len, 100000);
    CHECK(!memcmp(c.out, "y\ny\n", 4));
    CHECK(kill(pid, 0) < 0 && errno == ESRCH);
    cask_communicate_free(&c);
    cask_process_free(p);
    return 0;
}
TEST(communicate_limit) { CHECK_EQ(cask_run(limit_main, NULL), 0); CHECK(no_children()); }

/* A grandchild that keeps stdout open does not make communicate hang (wait_delay). */
static int delay_main(void *arg)
{
    (void)arg;
    cask_process *p;
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0}, .wait_delay = 0.3};
    CHECK_EQ(shell(&p, "echo hi; sleep 5 & exit 3", &o), 0);
    double t0 = cask_time();
    struct cask_communicate c = {0};
    CHECK_EQ(cask_process_communicate(p, &c), 0);
    double dt = cask_time() - t0;
    CHECK(dt >= 0.25 && dt < 2.0);
    CHECK_STR(c.out, "hi\n");
    CHECK_EQ(c.status.code, 3);
    cask_communicate_free(&c);
    cask_process_free(p);
    return 0;
}
TEST(communicate_grandchild_holds_pipe) { CHECK_EQ(cask_run(delay_main, NULL), 0); }

/* No fd of the parent reaches the child (also one opened without O_CLOEXEC), except those
 * passed on purpose; the child's signal mask and ignored signals are empty (SIGPIPE too). */
static int fds_main(void *arg)
{
    (void)arg;
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    CHECK(leak >= 0);
    int pass = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    cask_process *p;
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0}, .pass_fds = &pass,
                                  .npass_fds = 1};
    CHECK_EQ(shell(&p, "cd /proc/self/fd && echo *", &o), 0);
    struct cask_communicate c = {0};
    CHECK_EQ(cask_process_communicate(p, &c), 0);
    CHECK_EQ(c.status.code, 0);
    /* the shell's own fds: 0 1 2, the passed fd as 3, and the directory it lists */
    char *nl = strchr(c.out, '\n');
    CHECK(nl != NULL);
    *nl = 0;
    CHECK(!strncmp(c.out, "0 1 2 3", 7));
    CHECK(strlen(c.out) <= 9); /* "0 1 2 3 N": at most the listing's own fd */
    cask_communicate_free(&c);
    cask_process_free(p);

    /* the child's mask and ignored set, read from /proc once it has exec'd */
    const char *argv[] = {"sleep", "30", NULL};
    sigset_t blk, old;
    sigemptyset(&blk);
    sigaddset(&blk, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &blk, &old);
    signal(SIGUSR2, SIG_IGN);
    CHECK_EQ(cask_process_spawn(&p, argv, NULL), 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    signal(SIGUSR2, SIG_DFL);
    char path[64], status[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)cask_process_pid(p));
    for (int i = 0; i < 200; i++) { /* the parent may resume a moment before exec is done */
        int sfd = open(path, O_RDONLY);
        CHECK(sfd >= 0);
        ssize_t n = read(sfd, status, sizeof status - 1);
        close(sfd);
        CHECK(n > 0);
        status[n] = 0;
        if (!strncmp(status, "Name:\tsleep", 11))
            break;
        CHECK_EQ(cask_sleep(0.005), 0);
    }
    CHECK(strstr(status, "SigBlk:\t0000000000000000") != NULL);
    /* signals 1-31 (SIGPIPE among them) back to the defaults; 32 and 33 too natively, but
     * under qemu-user the host's copies of those stay as the emulator found them */
    char *ign = strstr(status, "SigIgn:\t");
    CHECK(ign != NULL);
    unsigned long long mask = strtoull(ign + 8, NULL, 16);
    CHECK_EQ(mask & 0x7fffffffULL, 0);
    cask_process_free(p);
    close(leak);
    close(pass);
    return 0;
}
TEST(no_fd_leaks_and_signals_reset)
{
    signal(SIGPIPE, SIG_IGN);
    CHECK_EQ(cask_run(fds_main, NULL), 0);
}

/* cwd, env, env_add, a new session, a given fd as stdout. */
static int opts_main(void *arg)
{
    (void)arg;
    cask_process *p;
    char *env[] = {"A=1", "B=2", NULL};
    char *add[] = {"B=3", "C=4", NULL};
    struct cask_process_opts o = {.out = {CASK_STDIO_PIPE, 0}, .cwd = "/tmp", .env = env,
                                  .env_add = add};
    CHECK_EQ(shell(&p, "echo \"$(pwd) $A $B $C\"", &o), 0);
    struct cask_communicate c = {0};
    CHECK_EQ(cask_process_communicate(p, &c), 0);
    CHECK_STR(c.out, "/tmp 1 3 4\n");
    cask_communicate_free(&c);
    cask_process_free(p);

    struct cask_process_opts s = {.new_session = true};
    CHECK_EQ(shell(&p, "exec sleep 30", &s), 0);
    for (int i = 0; i < 100 && getsid(cask_process_pid(p)) != cask_process_pid(p); i++)
        CHECK_EQ(cask_sleep(0.01), 0);
    CHECK_EQ(getsid(cask_process_pid(p)), cask_process_pid(p));
    CHECK_EQ(getpgid(cask_process_pid(p)), cask_process_pid(p));
    cask_process_free(p);

    int sv[2];
    CHECK_EQ(pipe2(sv, O_CLOEXEC), 0);
    struct cask_process_opts f = {.out = {CASK_STDIO_FD, sv[1]}};
    CHECK_EQ(shell(&p, "echo to-fd", &f), 0);
    CHECK_EQ(cask_process_wait(p, NULL), 0);
    char buf[16] = {0};
    CHECK_EQ(read(sv[0], buf, sizeof buf), 6);
    CHECK_STR(buf, "to-fd\n");
    close(sv[0]);
    close(sv[1]);
    cask_process_free(p);
    return 0;
}
TEST(spawn_options) { CHECK_EQ(cask_run(opts_main, NULL), 0); CHECK(children_gone_within(2)); }

/* Several tasks wait for one child; all see its end. */
struct multi {
    cask_process *p;
    int code;
};
static int multi_waiter(void *arg)
{
    struct multi *m = arg;
    struct cask_exit st;
    int rc = cask_process_wait(m->p, &st);
    m->code = st.code;
    return rc;
}
static int multi_main(void *arg)
{
    (void)arg;
    cask_process *p;
    CHECK_EQ(shell(&p, "sleep 0.2; exit 5", NULL), 0);
    struct multi m[3];
    cask_task *t[3];
    for (int i = 0; i < 3; i++) {
        m[i].p = p;
        m[i].code = -99;
        CHECK_EQ(cask_spawn(&t[i], multi_waiter, &m[i]), 0);
    }
    CHECK_EQ(cask_sleep(0.05), 0);
    cask_cancel(t[0]); /* the watcher leaves (killing the child): the others still see it */
    int st[3];
    CHECK_EQ(cask_gather(t, 3, st), 0);
    CHECK_EQ(st[0], -ECANCELED);
    CHECK_EQ(st[1], 0);
    CHECK_EQ(st[2], 0);
    CHECK_EQ(m[1].code, -1);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    cask_process_free(p);
    return 0;
}
TEST(several_waiters) { CHECK_EQ(cask_run(multi_main, NULL), 0); }

/* Misuse: documented errors, nothing started. */
static int misuse_main(void *arg)
{
    (void)arg;
    cask_process *p;
    const char *argv[] = {"true", NULL};
    const char *empty[] = {NULL};
    CHECK_EQ(cask_process_spawn(NULL, argv, NULL), -EINVAL);
    CHECK_EQ(cask_process_spawn(&p, NULL, NULL), -EINVAL);
    CHECK_EQ(cask_process_spawn(&p, empty, NULL), -EINVAL);
    struct cask_process_opts o = {.out = {CASK_STDIO_STDOUT, 0}};
    CHECK_EQ(cask_process_spawn(&p, argv, &o), -EINVAL);
    struct cask_process_opts o2 = {.new_session = true, .new_pgroup = true};
    CHECK_EQ(cask_process_spawn(&p, argv, &o2), -EINVAL);
    struct cask_process_opts o3 = {.out = {CASK_STDIO_FD, 999}};
    CHECK_EQ(cask_process_spawn(&p, argv, &o3), -EBADF);
    struct cask_process_opts o4 = {.kill_grace = -1};
    CHECK_EQ(cask_process_spawn(&p, argv, &o4), -EINVAL);
    CHECK_EQ(cask_process_shell(&p, NULL, NULL), -EINVAL);
    CHECK_EQ(cask_process_wait(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_process_communicate(NULL, NULL), -EINVAL);
    CHECK_EQ(cask_process_signal(NULL, 0), -EINVAL);
    CHECK_EQ(cask_process_status(NULL, NULL), -EINVAL);
    cask_process_free(NULL);
    CHECK(no_children());
    return 0;
}
TEST(proc_misuse)
{
    cask_process *p;
    const char *argv[] = {"true", NULL};
    CHECK_EQ(cask_process_spawn(&p, argv, NULL), -EPERM);
    CHECK_EQ(cask_run(misuse_main, NULL), 0);
}

/* Every allocation failing in turn: -ENOMEM, nothing leaks, no child is left. */
static int enomem_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"true", NULL};
    struct cask_process_opts o = {.in = {CASK_STDIO_PIPE, 0}, .out = {CASK_STDIO_PIPE, 0}};
    char *add[] = {"X=1", NULL};
    o.env_add = add;
    int fds = count_fds();
    for (long n = 1; n < 12; n++) {
        cask_process *p;
        ct_fail_alloc_after(n);
        int rc = cask_process_spawn(&p, argv, &o);
        ct_fail_alloc_after(0);
        if (rc == 0) {
            CHECK_EQ(cask_process_wait(p, NULL), 0);
            cask_process_free(p);
        } else {
            CHECK_EQ(rc, -ENOMEM);
        }
        CHECK(no_children());
        CHECK_EQ(count_fds(), fds);
    }
    return 0;
}
TEST(proc_enomem) { CHECK_EQ(cask_run(enomem_main, NULL), 0); }

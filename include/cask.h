/*
 * cask.h: asyncio for C. One event loop per thread runs many tasks; a task is an ordinary C
 * function on its own small stack that may block on any cask call, and the loop switches to
 * another task whenever it does.
 *
 * Conventions used by every function below:
 *   - Success is 0 (or a count); failure is a negative errno value. errno is never used.
 *   - -ECANCELED means the calling task was cancelled (or a scope around the call expired) and
 *     the call did nothing: the object it worked on is unchanged and usable. Cancellation is
 *     sticky: every later blocking call of that task also returns -ECANCELED until the task
 *     ends or acknowledges with cask_uncancel().
 *   - Blocking calls (those that may suspend the task) must be called from inside a task;
 *     called from outside one they return -EPERM.
 *   - Times are double seconds on the monotonic clock, as asyncio's loop.time().
 */
#ifndef CASK_H
#define CASK_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CASK_VERSION_MAJOR 0
#define CASK_VERSION_MINOR 1
#define CASK_VERSION_PATCH 0
#define CASK_VERSION_STRING "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define CASK_MUST_CHECK __attribute__((warn_unused_result))
#else
#define CASK_MUST_CHECK
#endif

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/*
 * The library returns plain negative errno values. The table below names the ones with a
 * meaning specific to cask (the asyncio exception each stands for); cask_strerror() describes
 * any of them. Applications may return their own failure codes from tasks: use values at or
 * below CASK_EUSER (for example CASK_EUSER - 1), which no errno value reaches.
 */
#define CASK_ERRNO_MAP(X)                                                                          \
    X(ECANCELED, "task cancelled (asyncio.CancelledError)")                                        \
    X(ETIMEDOUT, "deadline expired (TimeoutError)")                                                \
    X(EAGAIN, "would block (QueueEmpty / QueueFull / InvalidStateError: not done)")                \
    X(ESHUTDOWN, "queue shut down (QueueShutDown)")                                                \
    X(EINVAL, "invalid argument or object state (InvalidStateError / ValueError)")                 \
    X(EPERM, "not allowed here (called outside a task, or not the owner)")                         \
    X(EDEADLK, "a task may not wait for itself")                                                   \
    X(ENOMEM, "out of memory")                                                                     \
    X(EBUSY, "object in use")                                                                      \
    X(EPIPE, "peer closed the connection / barrier broken (BrokenBarrierError)")                                                         \
    X(EMSGSIZE, "line or message longer than the limit (LimitOverrunError)")                       \
    X(EPROTO, "short read: EOF before the requested bytes (IncompleteReadError)")                  \
    X(ENOTCONN, "not connected / stream closed")                                                   \
    X(ECONNRESET, "connection reset by peer")                                                      \
    X(ECONNREFUSED, "connection refused")                                                          \
    X(EHOSTUNREACH, "no route to host / name did not resolve")

/* Failure codes chosen by applications start here and go down. */
#define CASK_EUSER (-100000)

/* A short English description of any status returned by cask or by a task (0 is "success"). */
const char *cask_strerror(int status);
/* The symbolic name of a status ("ECANCELED", "EUSER-3", "OK"). */
const char *cask_errname(int status);

/* ------------------------------------------------------------------------------------------ */
/* Memory                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/*
 * Every heap allocation the library makes goes through these three functions (task stacks are
 * mapped with mmap and are not included). Set them before the first cask call of the process,
 * or pass NULL to restore malloc/realloc/free. Not thread-safe with running loops.
 */
struct cask_allocator {
    void *(*malloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
};
void cask_set_allocator(const struct cask_allocator *a);

/* ------------------------------------------------------------------------------------------ */
/* Running a loop                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* A task's body: `async def f(arg)`. It returns its status: 0 or a positive value on success,
 * a negative errno (or an application code below CASK_EUSER) on failure. */
typedef int (*cask_fn)(void *arg);
/* A plain callback run by the loop (call_soon / call_later). */
typedef void (*cask_cb)(void *arg);

typedef struct cask_loop cask_loop;
typedef struct cask_task cask_task;

/* Default stack size of a task: 64 KiB of address space, of which only the pages a task
 * touches use memory (256 KiB in sanitizer builds, whose frames are larger). */
#define CASK_STACK_DEFAULT (64 * 1024)
#define CASK_STACK_MIN (16 * 1024)
#define CASK_STACK_MAX ((size_t)1 << 30) /* 1 GiB */

struct cask_config {
    size_t stack_size;        /* default stack size of tasks; 0 means CASK_STACK_DEFAULT */
    bool virtual_clock;       /* time jumps to the next timer instead of sleeping (tests) */
    bool eager_tasks;         /* every spawn starts the task at once (asyncio eager tasks) */
    bool sigint_cancels_main; /* SIGINT cancels the main task; a second SIGINT ends the process */
    bool no_stack_guard;      /* skip guard pages (saves one madvise per new stack) */
    /* signals (see "Signals"): SIGTERM cancels the main task, as sigint_cancels_main does for
     * SIGINT; with both, a second one of either ends the process */
    bool sigterm_cancels_main;
    /* Tasks: memory after a peak and the guard gap. When the loop has nothing to run, free
     * stacks and task structs that nobody used for idle_trim_after seconds are given back to
     * the kernel (MADV_DONTNEED, munmap), except the idle_stacks_kept most recently used: a
     * long-running server does not keep the memory of its highest concurrency ever. A stack
     * given back costs a page fault again when a task next runs on it. */
    size_t idle_stacks_kept; /* 0: 64 */
    double idle_trim_after;  /* seconds; 0: 1.0; negative (or NaN): never give memory back */
    size_t stack_guard_gap;  /* guard bytes below every stack, rounded up to pages; 0: 256 KiB
                                (a frame wider than this may jump over it: build with
                                -fstack-clash-protection, which cask.pc's Cflags carry) */
    /* diagnostics (see "Diagnostics"); all off when zero */
    FILE *diag_out;         /* where the reports below go; NULL: stderr */
    int dump_signal;        /* this signal (e.g. SIGUSR1) dumps the task tree at the next
                             * iteration; 0: none */
    double stall_threshold; /* seconds: a watchdog thread reports a task step or callback
                             * running longer, live, with its backtrace; 0: off (0.1 is good) */
    bool detect_deadlocks;  /* when nothing can ever run again: report the wait-for cycles and
                             * the task tree, then cancel the main task */
    bool report_leftovers;  /* report the tasks still alive when main returns */
    /* files: the I/O backend, "epoll" or "io_uring"; NULL or "" picks the default: the
     * environment variable CASK_BACKEND if set, else io_uring when the library was built with
     * liburing and the kernel allows it (probed at loop start), else epoll. A backend named
     * here or in CASK_BACKEND that cannot run makes cask_run_with fail (see there). */
    const char *backend;
    /* network on io_uring (docs/net.md "The ring path"): "ring" runs sockets' accept, recv and
     * send on the io_uring backend's ring, "ready" waits for readiness and calls the kernel
     * (the default); NULL or "": the environment variable CASK_NET if set, else the default.
     * "ring" on the epoll backend, or on a kernel without those ring operations, is
     * readiness; cask_loop_stats says which runs. Any other name: cask_run_with fails with
     * -EINVAL. */
    const char *net;
    /* diagnostics, the trace timeline (see cask_trace_start): with trace_path set, the loop
     * records from its start into a ring of trace_events events (0: 65536; at most 2^24) and
     * writes the Chrome/Perfetto JSON to trace_path when cask_run ends (a failure to write is
     * reported on stderr). NULL: no recording unless cask_trace_start is called. */
    const char *trace_path;
    size_t trace_events;
    /* diagnostics, stack use: as each task ends, count the pages of its stack it touched
     * (its high-water mark) and give them back; when cask_run ends, write to diag_out a table
     * per task name (per function for unnamed tasks): tasks, median, 99th percentile, max.
     * Costs a mincore and a madvise per task and a page fault per page a task touches. */
    bool report_stack_use;
    /* compact tasks (see "Compact tasks" after cask_spawn_with): every spawn of this loop but
     * the main task makes a compact task (also when the environment variable CASK_COMPACT is
     * set to anything but "" or "0"); compact_debug (or CASK_COMPACT_DEBUG) runs each compact
     * task on a stack of its own, protected while it is parked, so that a pointer into it used
     * by anyone else aborts with a report naming both tasks */
    bool compact_tasks;
    bool compact_debug;
};

/*
 * asyncio.run(main(arg)): makes a loop on this thread, runs main as the first task (id 1,
 * named "Task-1" as asyncio names it), then cancels every task still running and waits for
 * them, reports failures nobody looked at, closes the loop and returns main's status. Task handles become invalid when it returns.
 * Returns main's status, or:
 *   -EBUSY   a loop is already running on this thread (asyncio's "cannot be called from a
 *            running event loop"); nothing was run.
 *   -ENOMEM  the loop or the main task could not be made.
 *   -EINVAL  main is NULL, or cfg->stack_size is below CASK_STACK_MIN or above CASK_STACK_MAX,
 *            or cfg->stack_guard_gap is above 64 MiB, or the backend named (cfg->backend,
 *            else $CASK_BACKEND) is not "epoll", "io_uring" or "uring", or the network path
 *            named (cfg->net, else $CASK_NET) is not "ring" or "ready".
 *   -ENOSYS  the backend named is io_uring and the library was built without liburing, or
 *            the kernel has no io_uring; -EPERM: io_uring is disabled (sysctl, seccomp).
 *   -EAGAIN  cfg asks for SIGINT/SIGTERM to cancel main and 256 loops already use signals.
 * With sigint_cancels_main (sigterm_cancels_main), the first SIGINT (SIGTERM) that reaches the
 * process cancels the main task at the loop's next iteration; a second one ends the process
 * with that signal's default action, even while the loop is stuck. The previous dispositions
 * come back when cask_run returns.
 */
int cask_run(cask_fn main, void *arg);
int cask_run_with(cask_fn main, void *arg, const struct cask_config *cfg);

/* The loop running on this thread, or NULL. */
cask_loop *cask_loop_current(void);

/* Loop statistics, for diagnostics and benchmarks. cask_loop_stats returns 0, or -EPERM (no
 * loop on this thread), -EINVAL (out NULL). */
struct cask_loop_stats {
    uint64_t iterations;  /* loop iterations run */
    uint64_t switches;    /* context switches into tasks */
    size_t tasks_live;    /* tasks not yet freed */
    size_t stacks_mapped; /* stacks ever mapped (pooled ones included) */
    size_t stack_size;    /* default stack size of this loop */
    int guard_mode;       /* 2: MADV_GUARD_INSTALL, 1: mprotect (first 16384 stacks), 0: none */
    size_t stacks_free;   /* pooled stacks no task holds */
    size_t stacks_free_resident; /* of those, the ones whose memory was not given back */
    size_t task_structs;  /* task structs in memory (live and free) */
    const char *backend;  /* the I/O backend this loop runs on: "epoll" or "io_uring" */
    const char *net;      /* sockets' path: "ring" (io_uring) or "ready" (readiness) */
    /* metrics (see cask_metrics_write) */
    uint64_t tasks_spawned; /* tasks ever spawned on this loop, main included */
    size_t ready;           /* tasks and callbacks ready to run now (the ready queue) */
    uint64_t callbacks;     /* callbacks run (call_soon, call_later, internal ones) */
    uint64_t polls;         /* times the loop blocked in the poller (nothing was ready) */
    double poll_seconds;    /* time spent blocked there */
    uint64_t bytes_read;    /* bytes read by streams, socket calls (cask_recv, UDP) and file
                             * calls (cask_file_read, ...) on this loop */
    uint64_t bytes_written; /* bytes written by the same */
    /* compact tasks (see cask_spawn_opts.compact): stack bytes copied to and from their save
     * buffers so far, and the bytes their side blocks (homes and save buffers) hold now */
    uint64_t compact_bytes_copied;
    size_t compact_bytes_held;
};
int cask_loop_stats(struct cask_loop_stats *out);

/* ------------------------------------------------------------------------------------------ */
/* Time, sleeping and callbacks                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* loop.time(): seconds on the monotonic clock (the virtual clock in that mode). Outside a
 * loop, the monotonic clock. */
double cask_time(void);

/*
 * asyncio.sleep(seconds). 0 (or less) yields exactly one loop iteration.
 * Returns 0, or -ECANCELED (cancelled; it returns at once), -EPERM (not in a task),
 * -EINVAL (seconds is NaN), -ENOMEM (the timer heap could not grow).
 */
CASK_MUST_CHECK int cask_sleep(double seconds);
/* Sleeps until cask_time() >= when. Errors as cask_sleep. */
CASK_MUST_CHECK int cask_sleep_until(double when);
/* cask_sleep(0). */
CASK_MUST_CHECK int cask_yield(void);

typedef struct cask_handle cask_handle;

/*
 * loop.call_soon / call_later / call_at: run cb(arg) on the loop, never inline: call_soon on
 * the next iteration after what is already ready, call_later/at once the time has come
 * (callbacks with equal deadlines run in the order they were set); an infinite delay never
 * comes (the callback never runs). If out is not NULL it receives a handle (NULL on error),
 * which the caller must give back with cask_handle_cancel() or cask_handle_release(); with
 * out NULL the callback simply runs.
 * Must be called on the loop's thread. Returns 0, or -ENOMEM, -EPERM (no loop on this
 * thread), -EINVAL (cb NULL or delay NaN).
 */
CASK_MUST_CHECK int cask_call_soon(cask_handle **out, cask_cb cb, void *arg);
CASK_MUST_CHECK int cask_call_later(cask_handle **out, double delay, cask_cb cb, void *arg);
CASK_MUST_CHECK int cask_call_at(cask_handle **out, double when, cask_cb cb, void *arg);
/* Cancels the callback if it has not run yet and gives the handle back. Returns true if it
 * was still pending (it will now never run). NULL is a no-op returning false. */
bool cask_handle_cancel(cask_handle *h);
/* Gives the handle back without cancelling the callback. NULL is a no-op. A handle given back
 * must not be used again (giving it back twice in a row is ignored, but the loop reuses it
 * for a later callback). */
void cask_handle_release(cask_handle *h);

/*
 * loop.call_soon_threadsafe: the one entry point that may be called from any thread (also
 * from a signal handler's thread, but not from inside a signal handler). cb runs on the loop's
 * thread. Returns 0, -ENOMEM, -EINVAL (loop or cb NULL), -ESHUTDOWN (the loop is closing).
 * The loop pointer is valid until the loop's cask_run returns: the caller must not call this
 * later (the memory is gone; -ESHUTDOWN covers only the closing itself).
 */
CASK_MUST_CHECK int cask_call_soon_threadsafe(cask_loop *loop, cask_cb cb, void *arg);

/* ------------------------------------------------------------------------------------------ */
/* Tasks                                                                                        */
/* ------------------------------------------------------------------------------------------ */

struct cask_spawn_opts {
    const char *name;  /* copied (up to 31 bytes); NULL gives "Task-N" */
    size_t stack_size; /* 0: the loop's default */
    bool eager;        /* run at once until its first suspension, as asyncio 3.12 eager tasks */
    bool compact;      /* a compact task: see "Compact tasks" below */
};

/*
 * asyncio.create_task(fn(arg)): makes a task that runs fn(arg) on a later loop iteration (not
 * inside this call), after everything already ready. If out is not NULL it receives a handle
 * that stays valid until cask_release() or until cask_run returns; with out NULL the task is
 * detached (its failure, if any, is reported on stderr when it ends).
 * May be called from a task or from a loop callback.
 * Returns 0, or -ENOMEM, -EPERM (no loop on this thread), -EINVAL (fn NULL, stack_size below
 * CASK_STACK_MIN or above CASK_STACK_MAX).
 */
CASK_MUST_CHECK int cask_spawn(cask_task **out, cask_fn fn, void *arg);
CASK_MUST_CHECK int cask_spawn_with(cask_task **out, cask_fn fn, void *arg,
                                    const struct cask_spawn_opts *opts);

/*
 * Compact tasks (opts.compact, or cask_config.compact_tasks for every spawn of a loop but the
 * main task). A compact task runs on the loop's one shared run stack (the loop's stack size,
 * with a guard gap below it: an overflow is reported naming the task, as for any task). When
 * it parks and another compact task needs the run stack, the bytes of stack it actually uses
 * are copied to a save buffer of its own (grown to fit, shrunk after a peak) and copied back,
 * at the same addresses, before it runs again. A parked compact task costs its task struct,
 * a small side block (a 112-byte home for its blocking call's records and its live stack
 * bytes: about 180 bytes for a sleeper) instead of at least one page of stack; a switch
 * between two compact tasks copies their live stacks (cask_loop_stats counts the bytes).
 *
 * THE RULE: no pointer into a parked compact task's stack may be used by another task, a
 * callback or a thread. Objects other tasks wait on or signal (events, locks, queues,
 * conditions...), data a task hands to tasks it spawns, and buffers that others read or fill
 * while the task is parked must live on the heap, in a static, or in an ordinary task's frame
 * (the main task is always ordinary). Within the task itself (and in the blocking calls it
 * makes) pointers to its own locals are fine. cask keeps its own records of a compact task's
 * blocking calls off the run stack, and:
 *   - cask_scope and cask_group structs may be declared on a compact task's stack as usual:
 *     what the loop and the children touch is kept in a heap box the struct points to until
 *     it is closed. (cask_scope_reschedule and cask_scope_cancel from another task need a
 *     pointer to the scope, which the rule forbids: give such a scope its own heap memory.)
 *   - file calls (cask_file_*, cask_dir_list, cask_sendfile) bounce buffers, paths, iovecs
 *     and their own state that lie on the run stack through heap copies;
 *   - cask_to_thread and cask_to_thread_ex return -EFAULT when arg points into the calling
 *     compact task's stack (a worker thread would use it while the task is parked);
 *   - a blocking call that would park on an object lying on the calling compact task's own
 *     stack (a cask_event, cask_lock... declared there) returns -EFAULT: nobody else could
 *     reach it to wake the task;
 *   - an eager spawn made inside a compact task gives an ordinary task (the run stack is in
 *     use by the spawner).
 * cask_config.compact_debug (or CASK_COMPACT_DEBUG=1) catches the other violations where they
 * happen: each compact task then runs on a stack of its own, protected while it is parked,
 * and a use of a pointer into it aborts with "cask: compact debug: task 'B' used a pointer
 * into the stack of parked compact task 'A'" and B's backtrace (slow: two mprotect calls per
 * switch, one stack per task).
 */

/*
 * await task: waits until the task has ended and returns its status (fn's return value, or
 * -ECANCELED if it ended cancelled). Joining a finished task returns at once, any number of
 * times. If the caller is cancelled while it waits, the cancellation reaches down the chain
 * as in asyncio: the task is cancelled, the caller waits for it to end, and gets its status.
 * Returns the status, or -EDEADLK (a task joining itself), -EPERM (not in a task, or another
 * loop's task), -EINVAL (t NULL), -ECANCELED (the caller was already cancelled; t untouched).
 */
CASK_MUST_CHECK int cask_join(cask_task *t);

/*
 * task.cancel(): asks the task to stop. The blocking call it is in (or its next one) returns
 * -ECANCELED, and so does every later one until the task ends or calls cask_uncancel().
 * A task cancelled before it first runs never runs its body. Returns true if the request was
 * made (the task had not ended), false if the task had already ended (or t is NULL, or t
 * belongs to another thread's loop: cancel it from a cask_call_soon_threadsafe callback).
 */
bool cask_cancel(cask_task *t);
/* task.uncancel(): acknowledges one cancellation request; returns the number still pending.
 * When it reaches 0 the task's blocking calls work again. On an ended task: no change, 0. */
int cask_uncancel(cask_task *t);
/* task.cancelling(): the number of pending cancellation requests. */
int cask_cancelling(const cask_task *t);

/* task.done(): true once the task has ended. */
bool cask_task_done(const cask_task *t);
/* task.cancelled(): true if the task ended cancelled. */
bool cask_task_cancelled(const cask_task *t);
/* task.result() without waiting: stores the status in *status and returns 0, or -EAGAIN if
 * the task has not ended (InvalidStateError), -EINVAL if t is NULL. Marks it retrieved. */
int cask_task_status(cask_task *t, int *status);
/* task.get_name() / set_name(). The name is copied (up to 31 bytes). Returns 0 or -EINVAL. */
const char *cask_task_name(const cask_task *t);
int cask_task_set_name(cask_task *t, const char *name);
/* The task's unique id on its loop (1 is main). */
uint64_t cask_task_id(const cask_task *t);
/* asyncio.current_task(): the running task, or NULL outside tasks (in callbacks too). */
cask_task *cask_current(void);

/*
 * Gives back a handle. If the task is still running it runs on, detached. If it failed and
 * nobody read its status, the failure is reported on stderr now. NULL is a no-op, and so is
 * the main task (cask_run owns its handle). The handle must not be used afterwards, by any
 * task: joining, cancelling or releasing it again is undefined (its memory may be reused).
 */
void cask_release(cask_task *t);

/* asyncio.all_tasks(): stores up to max live (not ended) tasks of this loop in out, oldest
 * first, and returns how many there are in all (which may exceed max). */
size_t cask_all_tasks(cask_task **out, size_t max);
/* `python -m asyncio ps`: one line per live task: id, name, state and what it waits on. */
void cask_dump_tasks(FILE *f);

/*
 * asyncio.gather over tasks already spawned. Waits for the tasks; the tasks' results live in
 * their own arg structs, so the "results in argument order" are those.
 * With statuses NULL: returns 0 when every task succeeded, or the first failure status as soon
 * as one fails (the other tasks keep running, as in asyncio).
 * With statuses not NULL (return_exceptions=True): waits for all, stores each task's status in
 * statuses[i] in argument order, returns 0.
 * If the caller is cancelled while waiting, every unfinished task is cancelled, waited for,
 * and -ECANCELED is returned. A task cancelled by someone else counts as failed with
 * -ECANCELED; the gather itself is not cancelled.
 * Returns also -EINVAL (tasks NULL with n > 0, or a NULL task), -EPERM (not in a task, or a
 * task of another loop), -EDEADLK (the caller is among the tasks), -ENOMEM (more than 16
 * tasks and no memory for their waiters).
 */
CASK_MUST_CHECK int cask_gather(cask_task *const *tasks, size_t n, int *statuses);

/* ------------------------------------------------------------------------------------------ */
/* Futures                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct cask_future cask_future;
typedef void (*cask_future_cb)(cask_future *f, void *arg);

/* loop.create_future(). Returns 0, -ENOMEM, -EPERM (no loop on this thread), -EINVAL (out
 * NULL). */
CASK_MUST_CHECK int cask_future_new(cask_future **out);
/* Frees the future; a failure nobody retrieved is reported on stderr. Tasks still awaiting it
 * are woken with -ECANCELED first. NULL is a no-op. */
void cask_future_free(cask_future *f);
/* set_result(value) / set_exception(err < 0). Wakes every awaiting task (in the order they
 * began waiting) and schedules the done callbacks. Returns 0, or -EINVAL if the future is
 * already done or (set_error) err >= 0. */
int cask_future_set_result(cask_future *f, void *value);
int cask_future_set_error(cask_future *f, int err);
/* cancel(): returns true if it was pending and is now cancelled, false if already done. */
bool cask_future_cancel(cask_future *f);
bool cask_future_done(const cask_future *f);
bool cask_future_cancelled(const cask_future *f);
/*
 * await future: waits until done; stores the value in *value (if value is not NULL) and
 * returns 0, or returns the error it was set with, or -ECANCELED if it was cancelled.
 * If the awaiting task is cancelled the future is cancelled too (asyncio's rule) and
 * -ECANCELED is returned. Also -EPERM (not in a task, or a future of another thread's loop),
 * -EINVAL (f NULL).
 */
CASK_MUST_CHECK int cask_future_await(cask_future *f, void **value);
/* result() without waiting: as cask_future_await, but -EAGAIN if it is not done yet. */
int cask_future_result(cask_future *f, void **value);
/* add_done_callback: cb(f, arg) is scheduled on the loop when f is done (also when it already
 * is), never called inline. Returns 0, -ENOMEM, -EINVAL. */
int cask_future_add_done_callback(cask_future *f, cask_future_cb cb, void *arg);
/* remove_done_callback: removes every registration of (cb, arg); returns how many. */
int cask_future_remove_done_callback(cask_future *f, cask_future_cb cb, void *arg);

/* ------------------------------------------------------------------------------------------ */
/* Scopes: timeouts, move_on, shields                                                           */
/* ------------------------------------------------------------------------------------------ */

/*
 * A scope is a region of a task's code between _open and _close, kept in a struct on that
 * task's stack. Scopes nest and must be closed in reverse order of opening, by the task that
 * opened them.
 *
 * asyncio.timeout(seconds):
 *     cask_scope sc;
 *     cask_timeout_open(&sc, 0.5);
 *     int rc = fetch(&req);            // blocking calls inside return -ECANCELED once expired
 *     rc = cask_scope_close(&sc, rc);  // -ETIMEDOUT if this scope's deadline ended the body
 *
 * A timeout scope whose deadline passes makes every blocking call inside it return -ECANCELED
 * (from then on, as sticky cancellation). Closing it returns the body's status unchanged,
 * except that -ECANCELED becomes -ETIMEDOUT when this scope expired and no cancellation from
 * outside the scope is pending; the task is not left cancelled by the expiry.
 * A move_on scope (trio's move_on_after) is the same but closing turns the expiry's
 * -ECANCELED into 0. A shield scope protects its body from cancellation from outside (the
 * task's own cancellation and enclosing scopes): blocking calls inside work normally; the
 * outer cancellation is still pending after close. Deadlines are seconds from now (_open) or
 * absolute cask_time() values (_open_at); INFINITY means none.
 * A task whose function returns with a scope (or a task group) still open, as an early
 * return that skipped the close, is fatal misuse: the process aborts with a message naming
 * the task, since the scope's struct died with the function's frame.
 */
typedef struct cask_scope {
    /* private: do not touch */
    struct cask_scope *parent_;
    cask_task *task_;
    uint64_t timer_[4];
    uint32_t flags_;
    int32_t cancels_at_open_;
    double when_; /* a deadline before the clock's zero or given relative and negative */
} cask_scope;

/* Opening: returns 0, or -EPERM (not in a task), -EINVAL (s NULL, seconds NaN, or s is one of
 * the task's open scopes: opened again before its close), -ENOMEM (the timer heap could not
 * grow). */
int cask_timeout_open(cask_scope *s, double seconds);
int cask_timeout_open_at(cask_scope *s, double when);
int cask_move_on_open(cask_scope *s, double seconds);
int cask_move_on_open_at(cask_scope *s, double when);
int cask_shield_open(cask_scope *s);
/* Closes the innermost scope; returns status converted as described above, or -EINVAL if s
 * is not the calling task's innermost open scope (closed twice, closed out of order). */
int cask_scope_close(cask_scope *s, int status);
/* timeout.reschedule(when): a new absolute deadline (INFINITY: none). An expired scope stays
 * expired. Safe from any task or callback of the loop, not only the scope's own task (a reader
 * task pushing back its connection's idle timeout, say). Returns 0, or -EINVAL (scope closed,
 * when NaN), -ENOMEM (the timer heap could not grow: the scope then has no deadline). */
int cask_scope_reschedule(cask_scope *s, double when);
/* timeout.when(): the absolute deadline, INFINITY if none. A deadline in the past is reported
 * as given (cask_timeout_open(&sc, -11) gives cask_time() - 11 at the open), not as now. */
double cask_scope_deadline(const cask_scope *s);
/* timeout.expired(): true once the deadline passed (or the scope was cancelled). */
bool cask_scope_expired(const cask_scope *s);
/* Cancels the scope as if its deadline had passed now (trio's cancel_scope.cancel()). Safe
 * from any task or callback of the loop. Returns 0, or -EINVAL if the scope is closed. */
int cask_scope_cancel(cask_scope *s);

/* ------------------------------------------------------------------------------------------ */
/* Waiting on file descriptors                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define CASK_READABLE 1
#define CASK_WRITABLE 2

/*
 * Waits until fd is readable and/or writable (events: CASK_READABLE | CASK_WRITABLE), or the
 * peer hung up or errored (reported as both). Returns the ready events (> 0), or -ECANCELED,
 * -EPERM (not in a task), -EINVAL (bad events), -EBADF (fd not valid), -EEXIST (another task
 * already waits on this fd in the same direction), -ENOMEM.
 * The fd stays registered with the loop until cask_fd_forget(fd): call it before closing an
 * fd you waited on. The loop cannot see a close: a later wait on that number, closed (no
 * -EBADF then) or reused by a new file, finds the old registration and may wait forever.
 */
CASK_MUST_CHECK int cask_wait_fd(int fd, int events);
/* Drops the loop's registration of fd (wakes its waiters with -EBADF). Returns 0 or -EPERM. */
int cask_fd_forget(int fd);

/* ------------------------------------------------------------------------------------------ */
/* Files                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * File operations that never block the loop. On the io_uring backend (see cask_config.backend
 * and cask_loop_stats.backend) each call is a request on the loop's ring, submitted in one batch
 * per loop iteration; elsewhere, and for the few calls the kernel's ring lacks (listing a
 * directory; ftruncate before Linux 6.9), each runs on the loop's worker threads (the pool of
 * cask_to_thread). Reads first try the page cache without blocking (preadv2 RWF_NOWAIT) and go
 * to the ring or a thread only when the data is not cached; a task reading cached data yields
 * to the loop after each 256 KiB, so the loop never stalls on it. Files that cask_file_open
 * finds on a memory file system (tmpfs, ramfs) are read, written and synced with plain
 * syscalls on the loop's thread (cheaper than any ring or thread trip; memory never waits);
 * close those with cask_file_close.
 * fds are plain file descriptors (open them here or anywhere); offsets are bytes, 64-bit.
 * Errors are the kernel's, negated (-ENOENT, -EACCES, -EISDIR, -EBADF, -EFBIG, -ENOSPC, ...),
 * plus -EPERM (not called from a task), -EINVAL (bad arguments, as listed), -ENOMEM and -EAGAIN
 * (no worker thread could be started), and -ECANCELED.
 *
 * Cancellation (every call below is a cancellation point): -ECANCELED means the call had no
 * effect. A call cancelled while its operation is already running (in the kernel or on a
 * thread) asks it to stop (io_uring's async cancel; a queued thread job is dropped) and waits
 * for it, so no buffer is touched after the call returns. If the operation had already taken
 * effect, the call returns its normal result and the cancellation is delivered by the task's
 * next cancellation point: a cancelled read or write returns the bytes it transferred (> 0),
 * and the file position (for the calls at the position) has moved by exactly that count; a
 * -ECANCELED read or write transferred nothing and left the position where it was. An open
 * that completes after the cancel closes its fd and returns -ECANCELED. Directory and
 * rename/unlink calls that completed return 0.
 */
struct stat;
struct iovec;

/* Opens path (open(2) flags and mode; O_CLOEXEC is added). Returns the fd (>= 0), or -EINVAL
 * (path NULL), -ENOENT, -EACCES, -EISDIR, -EEXIST, -ENOTDIR, -EMFILE, ... */
CASK_MUST_CHECK int cask_file_open(const char *path, int flags, unsigned mode);
/* Closes fd (dropping any loop registration of it first). Not a cancellation point: the fd is
 * closed whatever happens. Returns 0, -EBADF, -EIO (a deferred write error), or -EPERM. */
int cask_file_close(int fd);
/* read(2)/write(2) at the file position, which moves by the count. A read returns fewer bytes
 * than asked only at end of file (0 there); a write writes all n unless an error stops it
 * part-way (then the count so far), e.g. -EFBIG, -ENOSPC. n is capped at 0x7ffff000 (Linux's
 * limit per call). -EINVAL: buf NULL with n > 0. -EBADF: fd not open (for reading/writing). */
CASK_MUST_CHECK ssize_t cask_file_read(int fd, void *buf, size_t n);
CASK_MUST_CHECK ssize_t cask_file_write(int fd, const void *buf, size_t n);
/* The same at offset off (>= 0, else -EINVAL); the file position is not used or moved. */
CASK_MUST_CHECK ssize_t cask_file_pread(int fd, void *buf, size_t n, int64_t off);
CASK_MUST_CHECK ssize_t cask_file_pwrite(int fd, const void *buf, size_t n, int64_t off);
/* readv(2)/writev(2) at off, or at the file position when off is -1 (then it moves). Returns
 * the count, which may be short for a read only at end of file. -EINVAL: iovcnt < 1 or
 * > 1024, iov NULL, off < -1. */
CASK_MUST_CHECK ssize_t cask_file_readv(int fd, const struct iovec *iov, int iovcnt, int64_t off);
CASK_MUST_CHECK ssize_t cask_file_writev(int fd, const struct iovec *iov, int iovcnt, int64_t off);
/* fsync(2), fdatasync(2). 0 or -EBADF, -EIO, -EINVAL (fd does not support syncing). */
int cask_file_fsync(int fd);
int cask_file_fdatasync(int fd);
/* fallocate(2) with its mode (0: allocate and extend). 0, or -EINVAL (off < 0, len <= 0),
 * -EOPNOTSUPP, -ENOSPC, -EFBIG, -EBADF. */
int cask_file_fallocate(int fd, int mode, int64_t off, int64_t len);
/* ftruncate(2). 0, or -EINVAL (len < 0, fd not open for writing), -EFBIG, -EBADF. */
int cask_file_truncate(int fd, int64_t len);
/* stat(2) (following symlinks) and fstat(2). 0, or -EINVAL (NULL), -ENOENT, -EACCES,
 * -ENOTDIR, -EBADF. */
int cask_file_stat(const char *path, struct stat *st);
int cask_file_fstat(int fd, struct stat *st);
/* rename(2), unlink(2), mkdir(2), rmdir(2). 0, or -EINVAL (NULL), -ENOENT, -EACCES, -EISDIR,
 * -ENOTDIR, -EEXIST, -ENOTEMPTY, -EXDEV, -EBUSY, ... */
int cask_file_rename(const char *from, const char *to);
int cask_file_unlink(const char *path);
int cask_dir_make(const char *path, unsigned mode);
int cask_dir_remove(const char *path);
/* Lists a directory (without "." and ".."), sorted by name: *names gets an array of *count
 * malloc'd strings, freed with cask_dir_list_free. 0, or -EINVAL (NULL), -ENOENT, -ENOTDIR,
 * -EACCES, -ENOMEM; on error *names is NULL and *count 0. */
int cask_dir_list(const char *path, char ***names, size_t *count);
void cask_dir_list_free(char **names, size_t count);
/* Reads a whole file into *data (malloc'd by the loop's allocator and NUL-terminated, free
 * with cask_free), its length in *len. 0, or the errors of open/read, -EINVAL (NULL), -EFBIG
 * (larger than SIZE_MAX/2), -ENOMEM; on error *data is NULL. -ECANCELED: nothing kept. */
int cask_file_read_all(const char *path, char **data, size_t *len);
/* Replaces path's contents atomically: writes a temporary file next to it (path + ".XXXXXX"),
 * fsyncs it, renames it over path and fsyncs the directory, so a crash leaves the old or the
 * new contents, never a mix. mode: the new file's permissions. 0, or the errors of
 * open/write/fsync/rename, -EINVAL (NULL). On any error, including -ECANCELED before the
 * rename, the temporary file is removed and path is untouched. Cancellation after the rename
 * (during the directory fsync) returns -ECANCELED with the new contents in place, maybe not yet
 * durable. */
int cask_file_replace(const char *path, const void *data, size_t len, unsigned mode);
/* Sends count bytes of file fd, from offset off, to the socket sock with sendfile(2) (no copy
 * through user space; fd's position is not used or moved). Waits while the socket's buffer is
 * full, and never blocks the loop on the disk: a chunk whose pages are not all cached is sent
 * by a worker thread. Returns the count sent: count, fewer if the file ended first, or if an
 * error or a cancellation came after some bytes were sent (the next call reports it). Errors
 * when nothing was sent: -EPERM (not in a task), -EINVAL (off < 0, or fd cannot be sendfile's
 * source), -EBADF, -EPIPE, -ECONNRESET, -EBUSY (another task waits to write on sock), -ENOMEM,
 * -EAGAIN (no worker thread), -ECANCELED. SIGPIPE is ignored from the first call on. */
CASK_MUST_CHECK ssize_t cask_sendfile(int sock, int fd, int64_t off, size_t count);

/* == sections below are filled by the structured-concurrency, sync and io modules == */

/* ------------------------------------------------------------------------------------------ */
/* Structured concurrency: groups, wait, wait_for, as_completed, shield                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * Task groups (asyncio.TaskGroup, trio's nursery). A group is a struct the owner keeps on its
 * stack for the length of a block, like a scope:
 *
 *     cask_group g;
 *     int rc = cask_group_open(&g);                  // async with TaskGroup() as tg:
 *     if (rc == 0) {
 *         rc = cask_group_spawn(&g, NULL, fetch, &a);  //     tg.create_task(fetch(a))
 *         if (rc == 0)
 *             rc = cask_group_spawn(&g, NULL, fetch, &b);
 *         rc = cask_group_close(&g, rc);             // end of the block: joins every child
 *     }
 *
 * Rules (the same as asyncio's):
 *   - Closing joins every child, also those spawned while the owner waits in close and those
 *     spawned by children.
 *   - A child that fails (ends with a negative status other than -ECANCELED) fails the group:
 *     the other children are cancelled, newest first (reverse spawn order), and the owner's
 *     blocking call in progress inside the block returns -ECANCELED (and so do its later ones,
 *     until close), so the block runs to close at once. Close then returns the first failure;
 *     cask_group_errors() lists all of them.
 *   - A child that ends cancelled (-ECANCELED) does not fail the group.
 *   - If the owner is cancelled, close cancels every child, waits for all of them and returns
 *     -ECANCELED, unless a child (or the block) failed: then the failure is returned. The
 *     owner's cancellation stays pending (sticky) after close.
 *   - Groups nest: an inner group's failure, returned by its close, fails the outer block.
 *   - A group adds nothing to a child's cost beyond cask_spawn: no allocation.
 * The owner must close the group before it ends, and before it closes any scope it opened
 * before the group. Children of a group are ordinary tasks: cask_cancel, cask_join and
 * cask_task_status work on their handles; failures the group saw are never reported as
 * "nobody read its status".
 */
#define CASK_GROUP_MAX_ERRORS 8
typedef struct cask_group {
    /* private: do not touch */
    cask_scope scope_; /* the block, on the owner's scope stack */
    cask_task *owner_;
    cask_task *head_, *tail_;          /* children still running, in spawn order */
    size_t live_;                      /* their number */
    void *closer_;                     /* the owner's waiter while it waits in close */
    struct cask__group_start *starts_; /* pending cask_group_start calls */
    uint32_t state_;
    int first_;      /* the first failure, 0 if none */
    size_t nerrors_; /* every failure counted */
    int errors_[CASK_GROUP_MAX_ERRORS];
} cask_group;

/*
 * Opens a group owned by the calling task: `async with TaskGroup() as tg`. The group is a
 * scope on the calling task: close it with cask_group_close() in reverse order of opening
 * with respect to the task's other scopes and groups.
 * Returns 0, or -EINVAL (g NULL, or g is open in the calling task: opened again before its
 * close), -EPERM (not in a task).
 */
CASK_MUST_CHECK int cask_group_open(cask_group *g);

/*
 * tg.create_task(fn(arg)): spawns a child into the group (lazily, as cask_spawn). Any task of
 * the loop may spawn into it (children too) until it has finished closing. If out is not NULL
 * it receives a handle to give back with cask_release(); with out NULL the group keeps the
 * only reference. opts as cask_spawn_with (NULL for the defaults).
 * Returns 0, or -ESHUTDOWN (the group failed, was cancelled or has finished: fn never runs),
 * -EINVAL (g not an open group, fn NULL, bad opts), -EPERM (no loop on this thread), -ENOMEM.
 */
CASK_MUST_CHECK int cask_group_spawn(cask_group *g, cask_task **out, cask_fn fn, void *arg);
CASK_MUST_CHECK int cask_group_spawn_with(cask_group *g, cask_task **out, cask_fn fn, void *arg,
                                          const struct cask_spawn_opts *opts);

/*
 * trio's nursery.start(): spawns fn(arg) into the group and waits until the child calls
 * cask_started(value) (a server reporting it is listening, with its port); then stores the
 * value in *value (if value is not NULL) and returns 0 while the child runs on in the group.
 * A child that fails or ends before calling cask_started gives its status to this call
 * instead of to the group. If the caller is cancelled while waiting, the child is cancelled
 * and waited for. out as in cask_group_spawn.
 * Returns 0, or the child's failure status, -ECANCELED (the caller or the child was
 * cancelled first), -EINVAL (as cask_group_spawn, or the child returned >= 0 without calling
 * cask_started), -ESHUTDOWN, -EPERM (not in a task), -ENOMEM.
 */
CASK_MUST_CHECK int cask_group_start(cask_group *g, cask_task **out, cask_fn fn, void *arg,
                                     void **value);
/*
 * Called by a child being started with cask_group_start: wakes the starter with value.
 * Returns 0, or -EINVAL (the calling task is not being started, or already called it),
 * -EPERM (not in a task).
 */
int cask_started(void *value);

/*
 * The end of the group's block (`async with` exits): waits for every child, then leaves the
 * group's scope. status is the block's own status: a failure (< 0, not -ECANCELED) counts as
 * the group's failure and cancels the children first (the block "raised"). If the owner is
 * cancelled, before or while it waits here, every child is cancelled and still waited for.
 * Returns, in this order of precedence:
 *   - the first failure (of a child, or the block's status), if anything failed;
 *   - -ECANCELED if the owner is cancelled from outside the group (its task was cancelled or
 *     an enclosing scope expired); the owner stays cancelled;
 *   - 0 if the group was cancelled with cask_group_cancel() and status is -ECANCELED;
 *   - status, otherwise (0 or a positive value pass through).
 * Also -EINVAL (g not open, already closing, or not the caller's innermost scope: nothing was
 * done), -EPERM (the caller is not the task that opened the group).
 */
CASK_MUST_CHECK int cask_group_close(cask_group *g, int status);

/*
 * asyncio 3.15's TaskGroup.cancel(): cancels every child (newest first) and the owner's
 * blocking calls inside the block; close then returns 0 (not -ECANCELED) unless something
 * failed. Callable from any task or callback of the loop. After the group finished, a no-op.
 * Returns 0, or -EINVAL (g NULL or never opened).
 */
int cask_group_cancel(cask_group *g);

/*
 * The group's failures in the order they happened: stores up to max of them (and never more
 * than the first CASK_GROUP_MAX_ERRORS) in out, returns how many there were in all. Readable
 * while the group runs and after it closed, as long as the struct lives.
 */
size_t cask_group_errors(const cask_group *g, int *out, size_t max);
/* The number of children still running. */
size_t cask_group_size(const cask_group *g);

/* Modes of cask_wait, as asyncio.wait's return_when. */
enum { CASK_ALL_COMPLETED = 0, CASK_FIRST_COMPLETED = 1, CASK_FIRST_EXCEPTION = 2 };

/*
 * asyncio.wait(tasks, timeout, return_when): waits until all tasks have ended
 * (CASK_ALL_COMPLETED), any one has (CASK_FIRST_COMPLETED), or any one failed with a status
 * other than -ECANCELED (CASK_FIRST_EXCEPTION; also returns once all ended), or until timeout
 * seconds passed (INFINITY: no limit; 0 or less: just look). Stores the number of tasks that
 * have ended in *ndone (if ndone is not NULL); cask_task_done() tells which. Cancels nothing,
 * reads no status (a timeout is not an error: it returns what is done).
 * Returns 0, or -ECANCELED (the caller was cancelled; the tasks run on), -EINVAL (tasks NULL
 * with n > 0, a NULL task, bad mode, timeout NaN), -EDEADLK (the caller is among the tasks),
 * -EPERM (not in a task, or a task of another loop), -ENOMEM (more than 16 tasks and no memory
 * for their waiters, or for the timer).
 */
CASK_MUST_CHECK int cask_wait(cask_task *const *tasks, size_t n, int mode, double timeout,
                              size_t *ndone);

/*
 * asyncio.as_completed(tasks, timeout): an iterator giving the tasks in the order they end.
 *     cask_as_completed *it;
 *     rc = cask_as_completed_new(&it, tasks, n, 5.0);
 *     while ((rc = cask_as_completed_next(it, &t)) > 0)
 *         use(t);                       // ended: cask_task_status(t, &st) does not block
 *     cask_as_completed_free(it);
 * Tasks already ended when it is made come first, in argument order. A task given more than
 * once is given out once (asyncio takes a set). The tasks must stay
 * valid (handles held) until the iterator is freed. timeout is seconds from _new for the
 * whole iteration (INFINITY: none).
 * _new returns 0, or -ENOMEM, -EINVAL (out NULL, tasks NULL with n > 0, a NULL task, timeout
 * NaN), -EPERM (no loop, or a task of another loop).
 * _next stores the next task to end in *t and returns 1, or returns 0 when every task was
 * given out, -ETIMEDOUT (the deadline passed; nothing is cancelled; every later call says so
 * too), -ECANCELED (the caller was cancelled; no task is lost: the next call gives it),
 * -EINVAL (it or t NULL), -EPERM (not in a task), -EBUSY (another task is in _next).
 * _free gives the iterator back (NULL is a no-op); it does not touch the tasks. Freeing it
 * while a task waits in _next is fatal misuse.
 */
typedef struct cask_as_completed cask_as_completed;
CASK_MUST_CHECK int cask_as_completed_new(cask_as_completed **out, cask_task *const *tasks,
                                          size_t n, double timeout);
CASK_MUST_CHECK int cask_as_completed_next(cask_as_completed *it, cask_task **t);
void cask_as_completed_free(cask_as_completed *it);

/*
 * asyncio.wait_for(task, timeout): joins t for at most timeout seconds (INFINITY: no limit).
 * On timeout, t is cancelled and waited for (its cleanup runs before this returns); if it
 * handled the cancellation and returned normally, its status is returned, else -ETIMEDOUT.
 * With timeout <= 0: t's status if it has ended, else the same as a timeout now. If the caller
 * is cancelled, t is cancelled too and waited for (as cask_join).
 * Returns t's status, or -ETIMEDOUT, -ECANCELED, -EINVAL (t NULL, timeout NaN), -EDEADLK
 * (t is the caller), -EPERM (not in a task, or t of another loop), -ENOMEM (the timer).
 */
CASK_MUST_CHECK int cask_wait_for(cask_task *t, double timeout);

/*
 * await asyncio.shield(task): joins t, but if the caller is cancelled while it waits, it
 * returns -ECANCELED at once and t runs on untouched (its status stays readable, by joining it
 * again or cask_task_status). A t that fails or is cancelled by someone else gives that status.
 * For cleanup that must still block after its task was cancelled, use a shield scope
 * (cask_shield_open) instead.
 * Returns t's status, or -ECANCELED, -EINVAL (t NULL), -EDEADLK, -EPERM (as cask_join).
 */
CASK_MUST_CHECK int cask_shield_join(cask_task *t);

/* ------------------------------------------------------------------------------------------ */
/* Synchronization primitives and queues                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * The asyncio primitives, fair and cancel-safe:
 *   - Waiters are served in the order they began waiting (FIFO, no barging): a lock or a
 *     semaphore unit is handed over to the first waiter on release, and a task arriving later
 *     queues behind the waiters even while the hand-over is in flight.
 *   - A call that can complete at once does so without suspending, also in a cancelled task
 *     (as in asyncio, where no await means no CancelledError); a call that must wait returns
 *     -ECANCELED if the task is cancelled (or a scope around it expires), and then the object
 *     is unchanged: a cancelled acquire holds nothing, a cancelled get takes no item, a
 *     cancelled put inserts nothing. A waiter that was granted the lock (unit, notification,
 *     item) and is cancelled before it runs passes the grant on to the next waiter: no wakeup
 *     is lost.
 *   - Waiting allocates nothing: waiter nodes live on the waiting task's stack.
 * The structs below are embeddable (also as static variables, with the _INIT initializers);
 * their fields are private. An object must not be moved or copied (or initialized again) while
 * tasks wait on it, and belongs to the loop of the tasks that use it. The object arguments
 * are the addresses of structs the caller owns and must not be NULL (queues excepted: see
 * below).
 */

/* asyncio.Lock: `static cask_lock lock = CASK_LOCK_INIT;` or cask_lock_init(&lock). */
typedef struct cask_lock {
    /* private: do not touch */
    struct {
        void *head, *tail;
    } waiters_;
    void *owner_;     /* the task holding it (NULL if taken outside a task) */
    uint32_t locked_; /* held (also while being handed to a waiter) */
} cask_lock;
/* clang-format off */
#define CASK_LOCK_INIT {{NULL, NULL}, NULL, 0}
/* clang-format on */

/* Initializes an unlocked lock (the same as CASK_LOCK_INIT). */
void cask_lock_init(cask_lock *l);
/*
 * async with lock / await lock.acquire(): takes the lock, waiting behind earlier waiters if it
 * is held. The lock is not reentrant. Returns 0, or:
 *   -ECANCELED  the task was cancelled while it waited (it does not hold the lock);
 *   -EDEADLK    the calling task already holds the lock (asyncio would hang);
 *   -EPERM      not called from a task.
 */
CASK_MUST_CHECK int cask_lock_acquire(cask_lock *l);
/* Takes the lock if it is free and nobody waits; never waits. Returns 0, or -EAGAIN (held). */
int cask_lock_try_acquire(cask_lock *l);
/* lock.release(): hands the lock to the first waiter, or unlocks it. Any task (or callback)
 * may release. Returns 0, or -EPERM if the lock is not held (asyncio's RuntimeError). */
int cask_lock_release(cask_lock *l);
/* lock.locked(): true while held (or being handed to a waiter). */
bool cask_lock_locked(const cask_lock *l);

/* asyncio.Event: `static cask_event ev = CASK_EVENT_INIT;` or cask_event_init(&ev). */
typedef struct cask_event {
    /* private: do not touch */
    struct {
        void *head, *tail;
    } waiters_;
    uint32_t set_;
} cask_event;
/* clang-format off */
#define CASK_EVENT_INIT {{NULL, NULL}, 0}
/* clang-format on */

/* Initializes a cleared event (the same as CASK_EVENT_INIT). */
void cask_event_init(cask_event *e);
/* event.set(): sets the flag and wakes every waiter, in the order they began waiting. Setting
 * a set event does nothing. May be called from tasks and callbacks. */
void cask_event_set(cask_event *e);
/* event.clear(): clears the flag; waiters that were woken stay woken. */
void cask_event_clear(cask_event *e);
/* event.is_set() */
bool cask_event_is_set(const cask_event *e);
/*
 * await event.wait(): returns at once if the flag is set, else waits until it is set.
 * Returns 0, or -ECANCELED (cancelled while waiting), -EPERM (not in a task, and not set).
 */
CASK_MUST_CHECK int cask_event_wait(cask_event *e);

/*
 * asyncio.Condition over its own lock (`static cask_cond c = CASK_COND_INIT;` or
 * cask_cond_init(&c, NULL)) or over a lock shared with other code (cask_cond_init(&c, &lock)).
 */
typedef struct cask_cond {
    /* private: do not touch */
    struct {
        void *head, *tail;
    } waiters_;
    cask_lock *lock_; /* NULL: own_ */
    cask_lock own_;
} cask_cond;
/* clang-format off */
#define CASK_COND_INIT {{NULL, NULL}, NULL, CASK_LOCK_INIT}
/* clang-format on */

/* Initializes a condition over lock, or over a lock of its own if lock is NULL. */
void cask_cond_init(cask_cond *c, cask_lock *lock);
/* The condition's lock: acquire, release, locked, as cask_lock_*. */
CASK_MUST_CHECK int cask_cond_acquire(cask_cond *c);
int cask_cond_release(cask_cond *c);
bool cask_cond_locked(const cask_cond *c);
/*
 * await cond.wait(): releases the lock, waits until notified, re-takes the lock and returns.
 * The lock is held again whenever it returns, also on cancellation: a cancelled wait first
 * re-takes the lock (waiting for it without being interruptible), then returns -ECANCELED; a
 * waiter that was notified and is cancelled before it returns passes the notification on to
 * the next waiter. Returns 0, or:
 *   -ECANCELED  cancelled (also if already cancelled on entry: then it returns at once);
 *   -EPERM      the lock is not held (or held by another task), or not called from a task.
 */
CASK_MUST_CHECK int cask_cond_wait(cask_cond *c);
/*
 * await cond.wait_for(predicate): while pred(arg) is false, cask_cond_wait. The lock must be
 * held; pred runs with it held. Returns 0 once pred returned true, or the first error of
 * cask_cond_wait (the lock is held in every case), or -EINVAL (pred NULL).
 */
CASK_MUST_CHECK int cask_cond_wait_for(cask_cond *c, bool (*pred)(void *arg), void *arg);
/* cond.notify(n): wakes up to n waiters, the longest waiting first. The lock must be held.
 * Returns the number woken, or -EPERM (lock not held). */
int cask_cond_notify(cask_cond *c, size_t n);
/* cond.notify_all(): wakes every waiter. Returns the number woken, or -EPERM. */
int cask_cond_notify_all(cask_cond *c);

/*
 * asyncio.Semaphore and BoundedSemaphore: `static cask_sem s = CASK_SEM_INIT(3);`,
 * CASK_BOUNDED_SEM_INIT(3), or cask_sem_init / cask_bounded_sem_init.
 */
typedef struct cask_sem {
    /* private: do not touch */
    struct {
        void *head, *tail;
    } waiters_;
    int64_t value_;   /* free units */
    int64_t bound_;   /* < 0: not bounded */
    int64_t granted_; /* units handed to waiters that have not run yet */
} cask_sem;
/* clang-format off */
#define CASK_SEM_INIT(value) {{NULL, NULL}, (value), -1, 0}
#define CASK_BOUNDED_SEM_INIT(value) {{NULL, NULL}, (value), (value), 0}
/* clang-format on */

/* Initializes a semaphore with value units. Returns 0, or -EINVAL (value < 0). */
int cask_sem_init(cask_sem *s, int64_t value);
/* As cask_sem_init, for a BoundedSemaphore: a release above value is an error. */
int cask_bounded_sem_init(cask_sem *s, int64_t value);
/*
 * async with sem / await sem.acquire(): takes one unit, waiting (FIFO) while there is none.
 * Returns 0, or -ECANCELED (cancelled while waiting: no unit taken), -EPERM (not in a task,
 * and no unit is free).
 */
CASK_MUST_CHECK int cask_sem_acquire(cask_sem *s);
/* Takes a unit if one is free and nobody waits (nor was handed a unit and has not run yet).
 * Returns 0, or -EAGAIN. */
int cask_sem_try_acquire(cask_sem *s);
/* sem.release(): hands a unit to the first waiter, or adds one. Returns 0, or -EINVAL for a
 * bounded semaphore already at its initial value (asyncio's ValueError), -EOVERFLOW if the
 * value is INT64_MAX. */
int cask_sem_release(cask_sem *s);
/* sem.locked(): true if an acquire would wait: no unit is free, or tasks wait, or a task was
 * handed a unit and has not run yet (asyncio 3.13: a later acquirer queues behind it, and the
 * first of them to run hands the free units on to the tasks queued behind). */
bool cask_sem_locked(const cask_sem *s);
/* The number of free units (units handed to waiters that have not run yet are not counted). */
int64_t cask_sem_value(const cask_sem *s);

/* asyncio.Barrier: `static cask_barrier b = CASK_BARRIER_INIT(3);` or cask_barrier_init. */
typedef struct cask_barrier {
    /* private: do not touch */
    struct {
        void *head, *tail;
    } waiters_;
    uint32_t parties_;
    uint32_t count_; /* tasks waiting now */
    uint32_t broken_;
} cask_barrier;
/* clang-format off */
#define CASK_BARRIER_INIT(parties) {{NULL, NULL}, (parties), 0, 0}
/* clang-format on */

/* Initializes a barrier for parties tasks. Returns 0, or -EINVAL (parties is 0 or above
 * INT32_MAX). */
int cask_barrier_init(cask_barrier *b, unsigned parties);
/*
 * await barrier.wait(): waits until parties tasks are waiting, then releases them all; the
 * barrier is at once ready for the next round. Each released task gets a distinct index in
 * 0..parties-1 in *index (if not NULL): the order they arrived, the last one parties-1.
 * Returns 0, or:
 *   -EPIPE      the barrier is broken (aborted), or was reset or aborted while this task
 *               waited (asyncio's BrokenBarrierError);
 *   -ECANCELED  cancelled while waiting; the barrier counts one task fewer and stays usable;
 *   -EPERM      not called from a task;
 *   -EINVAL     the barrier was never initialized (0 parties).
 */
CASK_MUST_CHECK int cask_barrier_wait(cask_barrier *b, unsigned *index);
/* barrier.reset(): tasks waiting now get -EPIPE; the barrier is empty and no longer broken. */
void cask_barrier_reset(cask_barrier *b);
/* barrier.abort(): the barrier becomes broken: waiters now and later get -EPIPE until reset. */
void cask_barrier_abort(cask_barrier *b);
/* barrier.broken */
bool cask_barrier_broken(const cask_barrier *b);
/* barrier.n_waiting */
unsigned cask_barrier_n_waiting(const cask_barrier *b);
/* barrier.parties */
unsigned cask_barrier_parties(const cask_barrier *b);

/*
 * asyncio.Queue, LifoQueue and PriorityQueue of `void *` items, on the heap. FIFO and LIFO
 * are a ring buffer; the priority queue is a binary heap ordered by cmp (items that compare
 * equal come out in the order they were put). Waiting putters and getters are served FIFO: a
 * put gives its item straight to the first waiting getter, and a get that frees a slot
 * reserves it for the first waiting putter, which puts its item when it runs (no other put
 * can take the slot meanwhile: full() stays true). Either side cancelled before it resumes
 * does nothing and returns -ECANCELED: a getter handed an item gives it back (to the next
 * getter, else to the front of the queue), a putter granted a slot passes it on to the next
 * putter.
 * A NULL queue is refused by every function: -EINVAL from those returning an int, no-op for
 * shutdown, and 0 / true (empty) / false (full) from the queries.
 */
typedef struct cask_queue cask_queue;
enum cask_queue_kind {
    CASK_QUEUE_FIFO = 0,     /* asyncio.Queue */
    CASK_QUEUE_LIFO = 1,     /* asyncio.LifoQueue */
    CASK_QUEUE_PRIORITY = 2, /* asyncio.PriorityQueue: smallest first */
};
/* Orders the items of a priority queue: < 0 if a comes out before b, 0 if equal. */
typedef int (*cask_queue_cmp)(const void *a, const void *b);

/*
 * Makes a queue holding at most maxsize items (0: unbounded). cmp orders a priority queue;
 * NULL there compares the items as integers ((intptr_t)item, smallest first). cmp is ignored
 * for the other kinds. Returns 0, or -ENOMEM, -EINVAL (out NULL, kind unknown).
 */
CASK_MUST_CHECK int cask_queue_new(cask_queue **out, size_t maxsize, enum cask_queue_kind kind,
                                   cask_queue_cmp cmp);
/* Frees the queue and its slots (not the items). NULL is a no-op. Freeing a queue that tasks
 * wait on is fatal misuse; so is freeing it before a task it woke has returned from its call
 * (join the tasks that use it first). */
void cask_queue_free(cask_queue *q);
/*
 * await queue.put(item): waits (FIFO) while the queue is full (or its free slots are reserved
 * for earlier putters), then adds item (or hands it to a waiting getter). Returns 0, or:
 *   -ESHUTDOWN  the queue is shut down (also if that happens while waiting); item not added;
 *   -ECANCELED  cancelled while waiting; item not added;
 *   -ENOMEM     the queue could not grow; item not added;
 *   -EPERM      not called from a task (and the put would wait).
 */
CASK_MUST_CHECK int cask_queue_put(cask_queue *q, void *item);
/* queue.put_nowait(item). Returns 0, or -EAGAIN (full: QueueFull), -ESHUTDOWN, -ENOMEM. */
int cask_queue_put_nowait(cask_queue *q, void *item);
/*
 * await queue.get(): waits (FIFO) while the queue is empty, then removes an item into *item
 * (if item is not NULL). Returns 0, or:
 *   -ESHUTDOWN  shut down and empty (at once after an immediate shutdown);
 *   -ECANCELED  cancelled while waiting; no item was taken (none is lost: an item handed to
 *               this task goes to the next getter or back to the front of the queue, or,
 *               after an immediate shutdown, is dropped with the others, counted as done);
 *   -EPERM      not called from a task (and the get would wait).
 */
CASK_MUST_CHECK int cask_queue_get(cask_queue *q, void **item);
/* queue.get_nowait(). Returns 0, or -EAGAIN (empty: QueueEmpty), -ESHUTDOWN (shut down and
 * empty). */
int cask_queue_get_nowait(cask_queue *q, void **item);
/* queue.task_done(): one item got earlier is processed. Returns 0, or -EINVAL if called more
 * times than items were put (asyncio's ValueError). */
int cask_queue_task_done(cask_queue *q);
/* await queue.join(): waits until every item put has been marked done (returns at once if so).
 * Returns 0, or -ECANCELED, -EPERM (not in a task, and it would wait). */
CASK_MUST_CHECK int cask_queue_join(cask_queue *q);
/*
 * queue.shutdown(immediate) (asyncio 3.13): puts fail with -ESHUTDOWN from now on, blocked
 * putters too; gets drain what is left, then fail with -ESHUTDOWN (blocked getters at once).
 * With immediate, the items left are dropped (each counting as task_done, which may release
 * join) and gets fail at once. Calling it again is allowed (immediate then drops the rest).
 */
void cask_queue_shutdown(cask_queue *q, bool immediate);
/* qsize(), empty(), full() (for a bounded queue, a put would wait: qsize() plus the slots
 * reserved for woken putters reach maxsize), and maxsize. Items handed straight to a getter
 * are not counted. */
size_t cask_queue_qsize(const cask_queue *q);
bool cask_queue_empty(const cask_queue *q);
bool cask_queue_full(const cask_queue *q);
size_t cask_queue_maxsize(const cask_queue *q);

/* ------------------------------------------------------------------------------------------ */
/* Signals                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * loop.add_signal_handler, Go's signal.Notify. A receiver catches a set of process signals
 * for the loop of the calling thread, from the moment it is opened until it is closed. Every
 * arrival is counted: a task takes them one by one with cask_signal_wait (none is lost between
 * two waits), or a callback runs on the loop once per arrival, never inside the signal handler.
 * Every receiver sees every signal of its set: several receivers on one loop, and receivers on
 * loops in other threads, each get their own count. Arrivals are counted when the process-wide
 * handler runs: a standard signal sent again while the kernel still holds it pending (before
 * any thread ran the handler) is merged by the kernel into one; real-time signals queue.
 * While any receiver (or cask_run option) of the process listens to a signal, cask's handler
 * owns its disposition; when the last one closes, the disposition from before comes back.
 * Threads that cask starts block every signal, so the handler runs on a thread of the
 * program. Signal numbers that cannot be received: SIGKILL, SIGSTOP, the synchronous faults
 * SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, and glibc's internal 32 and 33.
 * A receiver belongs to its loop and thread; it is closed at the latest when the loop ends.
 */
typedef struct cask_signal cask_signal;
typedef void (*cask_signal_cb)(int signo, void *arg);

/*
 * Opens a receiver of the n signals in sigs, for cask_signal_wait / cask_signal_poll.
 * Returns 0 and *out, or -EPERM (no loop on this thread), -EINVAL (out or sigs NULL, n 0, a
 * signal that cannot be received), -ENOMEM, -EAGAIN (256 loops already use signals). On
 * failure *out is NULL (when out is not) and no disposition changed.
 */
CASK_MUST_CHECK int cask_signal_open(cask_signal **out, const int *sigs, size_t n);
/*
 * Opens a receiver that runs cb(signo, arg) on the loop, as a loop callback, once per arrival
 * of one of the n signals in sigs, until it is closed (cb may close it). Errors as
 * cask_signal_open, and -EINVAL when cb is NULL.
 */
CASK_MUST_CHECK int cask_signal_on(cask_signal **out, const int *sigs, size_t n,
                                   cask_signal_cb cb, void *arg);
/*
 * Waits for the next arrival of a signal of the receiver's set and returns its number (one
 * arrival is taken; with several signals pending, the lowest number comes first). Several
 * tasks may wait on one receiver: each arrival goes to one of them.
 * Returns the signal number, or -ECANCELED (nothing taken), -EPERM (not in a task), -EINVAL (r
 * NULL, closed, of another loop, or a callback receiver).
 */
CASK_MUST_CHECK int cask_signal_wait(cask_signal *r);
/* Takes one pending arrival without waiting. Returns the signal number, or -EAGAIN (none
 * pending), -EPERM (no loop on this thread), -EINVAL as cask_signal_wait. */
int cask_signal_poll(cask_signal *r);
/*
 * Closes the receiver: its pending arrivals are dropped and, if it was the last listener of a
 * signal in the process, that signal's previous disposition is restored. NULL is a no-op.
 * Returns 0, or -EBUSY (tasks are waiting on it; nothing changed), -EINVAL (r closed already,
 * or of another loop).
 */
int cask_signal_close(cask_signal *r);

/* ------------------------------------------------------------------------------------------ */
/* Diagnostics                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * What every task of the loop is doing, for people and for tools: `python -m asyncio pstree`
 * with backtraces. Each task comes with its id, name, state, parent (the task that spawned
 * it), where it was spawned (file:line of the spawn call), what it waits on in words ("lock
 * 0x... held by task 3 'writer'", "join task 9 'fetch'", "sleep, 1.25 s left", "fd 12 read",
 * "queue get, 3 waiting"), for how long (when cask_run's config turned a diagnostic on), and
 * its backtrace: a walk of the parked task's own stack by frame pointers (cask is built with
 * them; build your code with -fno-omit-frame-pointer too), symbolized to function and
 * file:line with libdw when the library was built with it, else to exported function names
 * (dladdr: link programs with -rdynamic). See docs/diagnostics.md and cask_config's
 * diagnostics fields (dump signal, stall watchdog, deadlock detection, leftover tasks).
 */
enum {
    CASK_DUMP_JSON = 1,         /* one JSON object instead of the indented text tree */
    CASK_DUMP_NO_BACKTRACE = 2, /* leave out the backtraces (cheaper: no symbolization) */
};
/* Writes the task tree of this thread's loop to f. Returns the number of live tasks, or
 * -EPERM (no loop on this thread), -EINVAL (f NULL, unknown flags). */
int cask_dump_tree(FILE *f, int flags);
/*
 * The wait-for graph of this loop (task -> lock owner, joined or gathered task, group
 * children, future or event waited on) and its cycles: each cycle is a deadlock, written to f
 * (if not NULL) as "task 3 'a' waits for lock 0x... held by task 4 'b'; task 4 'b' joins
 * task 3 'a'". With CASK_DUMP_JSON, one JSON object with every edge and every cycle.
 * Returns the number of cycles found, or -EPERM (no loop), -EINVAL (unknown flags), -ENOMEM.
 */
int cask_find_deadlocks(FILE *f, int flags);
/*
 * Stores up to max return addresses of task t's stack in pcs, innermost first: where a
 * parked (or ready, or running: the caller itself) task is. A task that has not run yet has
 * none. Returns how many were stored, or -EINVAL (t NULL or ended, pcs NULL with max > 0),
 * -EPERM (t belongs to another thread's loop).
 */
int cask_task_backtrace(const cask_task *t, void **pcs, int max);
/* Writes a readable name for the code address pc into buf (at most n bytes, NUL-terminated):
 * "function (file.c:42)" with libdw, "function+0x1c (module)" with dladdr, the address
 * otherwise. Returns the length written. */
size_t cask_symbolize(const void *pc, char *buf, size_t n);
/*
 * The trace timeline: while recording, the loop appends an event to a ring buffer for each
 * task spawned, run, parked (and on what), yielded, woken (and by which task, or the loop)
 * and ended, for each blocking poll, callback, timer fired and fd found ready. The newest
 * max_events are kept (0: 65536, rounded up to a power of two; about 56 bytes each).
 * cask_trace_write exports them as Chrome trace-event JSON, which ui.perfetto.dev and
 * chrome://tracing open: one track per task ("name (task N)") with "run" slices and slices
 * named for what it waited on ("sleep 0.200 s", "queue get 0x..., 2 waiting", "lock 0x...
 * held by task 3 'writer'"), "spawn", "wake" and "end" instants, flows from the spawning or
 * waking task to the task's next run, and a "loop" track (poll, callbacks, timers, fds).
 * Not recording costs the hot paths one predictable branch; recording costs a cycle-counter
 * read and a few stores per event (bench/cask_diag.c measures it). See docs/diagnostics.md.
 */
/* Starts recording on this thread's loop, discarding an earlier recording. Returns 0, or
 * -EPERM (no loop on this thread), -EBUSY (already recording), -EINVAL (max_events above
 * 2^24), -ENOMEM. */
int cask_trace_start(size_t max_events);
/* Stops recording; what was recorded stays for cask_trace_write until the next start or the
 * loop's end. Returns 0, or -EPERM (no loop), -ENOENT (not recording). */
int cask_trace_stop(void);
/* Writes the recording (while recording: up to now) to f as Chrome trace-event JSON. Returns
 * the number of events exported, or -EPERM (no loop), -EINVAL (f NULL), -ENOENT (nothing was
 * recorded on this loop), -ENOMEM, -EIO (writing to f failed). */
int cask_trace_write(FILE *f);
/*
 * The loop's metrics (cask_loop_stats) in Prometheus' text exposition format, for a /metrics
 * endpoint or a file a collector reads: loop iterations, context switches, callbacks, the
 * ready queue's length, polls and the time blocked in them, tasks live and spawned, stacks,
 * bytes read and written; each with # HELP and # TYPE lines and the label loop="<thread id>".
 * Counting costs plain increments on the loop's thread (and two clock reads per blocking
 * poll). Returns the number of bytes written, or -EPERM (no loop on this thread), -EINVAL (f
 * NULL), -EIO (writing to f failed).
 */
int cask_metrics_write(FILE *f);

/* ------------------------------------------------------------------------------------------ */
/* Network I/O                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * Threads: asyncio.to_thread. A per-loop pool of worker threads (at most min(32, ncpu + 4),
 * started lazily, joined when the loop closes) runs blocking functions while the loop goes on.
 */

/*
 * asyncio.to_thread(fn, arg): runs fn(arg) on a worker thread; the calling task waits and stays
 * cancellable. Results travel in the arg struct; the return value is fn's.
 * If the task is cancelled (or a scope around it expires) the call returns -ECANCELED at once:
 * a job not yet started never runs; a running one finishes on its thread and its result is
 * discarded. arg must therefore stay valid until fn returns: with cask_to_thread_ex, ownership
 * of arg passes to the pool on -ECANCELED and cleanup(arg) is called exactly once on the loop's
 * thread (at once if fn never started, else after fn returned), so arg can be heap memory.
 * fn must not call cask functions except cask_call_soon_threadsafe.
 * Returns fn's value, or -ECANCELED, -EPERM (not in a task), -EINVAL (fn NULL), -ENOMEM,
 * -EAGAIN (no worker thread could be started and none runs), or -EFAULT (called from a compact
 * task with arg on its own stack: see "Compact tasks"; nothing was done, cleanup not called).
 */
CASK_MUST_CHECK int cask_to_thread(cask_fn fn, void *arg);
CASK_MUST_CHECK int cask_to_thread_ex(cask_fn fn, void *arg, cask_cb cleanup);

/*
 * Addresses. struct cask_addr holds any socket address (IPv4, IPv6, Unix) with its length.
 */
struct cask_addr {
    socklen_t len;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
};

/* Fills a from a numeric IPv4 or IPv6 address (no name resolution) and a port.
 * Returns 0, or -EINVAL (ip is not a numeric address). */
int cask_addr_ip(struct cask_addr *a, const char *ip, uint16_t port);
/* Fills a with a Unix socket path. Returns 0, or -ENAMETOOLONG. */
int cask_addr_unix(struct cask_addr *a, const char *path);
/* The port of an IPv4/IPv6 address, 0 for other families. */
uint16_t cask_addr_port(const struct cask_addr *a);
/* Formats "1.2.3.4:80", "[::1]:80" or the Unix path into buf (always terminated).
 * Returns the length it needed (as snprintf), or -EAFNOSUPPORT. */
int cask_addr_format(const struct cask_addr *a, char *buf, size_t n);
/* The local (getsockname) or remote (getpeername) address of a socket. 0 or -errno. */
int cask_sockname(int fd, struct cask_addr *out);
int cask_peername(int fd, struct cask_addr *out);

/*
 * loop.getaddrinfo: resolves host (a name or a numeric address) and port into at most max
 * addresses, in the resolver's order. Numeric addresses are converted at once; names are looked
 * up with getaddrinfo on a worker thread, so the loop never blocks.
 * family: AF_UNSPEC, AF_INET or AF_INET6. socktype: SOCK_STREAM or SOCK_DGRAM (0: stream).
 * Returns the number of addresses stored (>= 1), or -EHOSTUNREACH (the name does not resolve),
 * -EAGAIN (temporary resolver failure), -EAFNOSUPPORT, -EINVAL (host NULL, max 0), -ENOMEM,
 * -ECANCELED, -EPERM (not in a task).
 */
CASK_MUST_CHECK int cask_resolve(const char *host, uint16_t port, int family, int socktype,
                                 struct cask_addr *out, size_t max);

/*
 * Unbuffered socket calls. fds given to them must be non-blocking (every fd cask makes is);
 * each waits for readiness only after the operation would block, and is cancel-safe: when it
 * returns -ECANCELED nothing was transferred. Writes never raise SIGPIPE: a closed peer gives
 * -EPIPE. Each also returns -EPERM (not in a task), -ECANCELED, -EBADF and the socket's own
 * errors (-ECONNRESET, ...).
 */
/* recv(2): waits until at least one byte (or EOF: 0) is there; returns the count. */
CASK_MUST_CHECK ssize_t cask_recv(int fd, void *buf, size_t n, int flags);
/* send(2): waits until the kernel takes at least one byte; returns how many it took (<= n). */
CASK_MUST_CHECK ssize_t cask_send(int fd, const void *buf, size_t n, int flags);
/* Sends all n bytes, waiting as needed. Returns n; if it is cancelled or fails after k > 0
 * bytes were taken it returns k (the cause is reported by the next call: cancellation is
 * sticky, a broken connection fails again); with nothing taken it returns the error. */
CASK_MUST_CHECK ssize_t cask_send_all(int fd, const void *buf, size_t n);
/* accept4(2): waits for a connection; returns the new fd (non-blocking, close-on-exec) and
 * stores the peer in *peer if not NULL. Also -EMFILE/-ENFILE (out of fds; the listener is
 * fine, retry later), -EINVAL (not listening), -EBADF (lfd not open, or closed with cask_close
 * while the call waited), -ECANCELED (no connection taken). On the io_uring ring path (CASK_NET=ring) the
 * listener keeps a multishot accept armed and connections may be queued for later calls:
 * close a listener with cask_close, which closes them too (docs/net.md, "The ring path"). */
CASK_MUST_CHECK int cask_accept(int lfd, struct cask_addr *peer);
/* connect(2) on a non-blocking socket, waiting for the outcome. Returns 0, or -ECONNREFUSED,
 * -ETIMEDOUT, -ENETUNREACH, -EHOSTUNREACH, ... On -ECANCELED the connection attempt is
 * abandoned and the socket should be closed. */
CASK_MUST_CHECK int cask_connect(int fd, const struct cask_addr *to);
/* Creates a non-blocking close-on-exec socket and connects it to *to (TCP: TCP_NODELAY on).
 * Returns the fd, or an error as cask_connect (the socket is closed then). */
CASK_MUST_CHECK int cask_connect_addr(const struct cask_addr *to, int socktype);
/* Closes an fd the loop may have waited on (cask_fd_forget + close). Returns 0 or -errno. */
int cask_close(int fd);

/*
 * TCP. cask_tcp_connect resolves host (off the loop) and connects; when the name has several
 * addresses it races them with Happy Eyeballs (RFC 8305: families interleaved, a new attempt
 * every 250 ms or as soon as the previous one failed, the first to connect wins and the others
 * are closed). Time limits come from the scopes around the call (cask_timeout_open).
 * Returns the connected fd (non-blocking, TCP_NODELAY), or -EHOSTUNREACH (the name does not
 * resolve), the last attempt's error (-ECONNREFUSED, -ENETUNREACH, ...), -ECANCELED, -ENOMEM,
 * -EINVAL (host NULL), -EPERM.
 */
CASK_MUST_CHECK int cask_tcp_connect(const char *host, uint16_t port);

struct cask_listen_opts {
    int backlog;     /* 0: 511 */
    bool reuse_port; /* SO_REUSEPORT: several listeners share the port */
    bool v6_only;    /* an IPv6 listener takes no IPv4 connections */
};
/*
 * Makes a listening TCP socket on host:port (SO_REUSEADDR on). host NULL or "" listens on every
 * interface (IPv6 and IPv4 when the system has IPv6). port 0 picks a free port (see
 * cask_sockname). Returns the fd, or -EADDRINUSE, -EACCES, -EHOSTUNREACH (host did not
 * resolve), -ECANCELED (while resolving), -ENOMEM, -EPERM.
 */
CASK_MUST_CHECK int cask_tcp_listen(const char *host, uint16_t port,
                                    const struct cask_listen_opts *opts);

/* Unix stream sockets. cask_unix_listen replaces a stale socket file at path (never any other
 * kind of file: -EADDRINUSE); remove it with unlink or by closing a server. Returns the fd, or
 * -ENAMETOOLONG, -EADDRINUSE, -EACCES, ... cask_unix_connect: the connected fd, or -ENOENT,
 * -ECONNREFUSED, -ECANCELED, ... */
CASK_MUST_CHECK int cask_unix_listen(const char *path, const struct cask_listen_opts *opts);
CASK_MUST_CHECK int cask_unix_connect(const char *path);

/*
 * UDP. cask_udp_bind: a datagram socket bound to host:port (host NULL: every interface, port
 * 0: any), for cask_recvfrom/cask_sendto with any peer. cask_udp_connect: a socket connected
 * to host:port (resolved off the loop): cask_send/cask_recv exchange datagrams with that peer
 * only. Both return the fd or an error as cask_tcp_listen/cask_tcp_connect.
 * cask_recvfrom waits for one datagram, stores it (truncated to n) and its sender; returns
 * its length. cask_sendto sends one datagram to *to (NULL: the connected peer); returns n.
 * A connected socket whose peer port is closed may give -ECONNREFUSED.
 */
CASK_MUST_CHECK int cask_udp_bind(const char *host, uint16_t port);
CASK_MUST_CHECK int cask_udp_connect(const char *host, uint16_t port);
CASK_MUST_CHECK ssize_t cask_recvfrom(int fd, void *buf, size_t n, struct cask_addr *from);
CASK_MUST_CHECK ssize_t cask_sendto(int fd, const void *buf, size_t n, const struct cask_addr *to);

/*
 * Buffered streams (asyncio StreamReader + StreamWriter in one object) over a socket, pipe or
 * any fd that can be made non-blocking.
 *
 * Reading goes through a buffer: data is taken from it only when a call succeeds, so a read
 * that is cancelled (or whose scope expires) loses no byte: what arrived stays buffered for the
 * next call. Writing never buffers in user space: the kernel's send buffer is the buffer, and
 * a write suspends while it is full (the high-water mark is the socket's SO_SNDBUF, settable
 * with opts.sndbuf), so memory stays bounded however slow the peer; drain is folded into write.
 * At most one task reads and one task writes a stream at a time (another one gets -EBUSY).
 * Every call returns -ENOTCONN once the stream is closed.
 */
typedef struct cask_stream cask_stream;

struct cask_stream_opts {
    size_t limit; /* longest line / readuntil chunk without its separator; 0: 64 KiB */
    int sndbuf;   /* SO_SNDBUF for sockets, 0: the system's */
    bool borrow;  /* cask_stream_free leaves the fd open */
};

/* asyncio.open_connection: cask_tcp_connect, then a stream on the fd. Errors as both. */
CASK_MUST_CHECK int cask_open_connection(cask_stream **out, const char *host, uint16_t port);
CASK_MUST_CHECK int cask_open_unix_connection(cask_stream **out, const char *path);
/* Makes a stream over fd, which it owns from now on (unless opts->borrow) and sets
 * non-blocking. Over a regular file or a block device, reads and writes go through the file
 * calls (section "Files": io_uring or worker threads, at the file position) and never block the
 * loop; sockets, pipes, FIFOs, ttys and character devices wait for readiness. stdin and stdout
 * work either way (cask_stream_open(&in, 0, &(struct cask_stream_opts){.borrow = true})).
 * Returns 0, or -ENOMEM, -EINVAL (out NULL), -EBADF. */
CASK_MUST_CHECK int cask_stream_open(cask_stream **out, int fd,
                                     const struct cask_stream_opts *opts);
/* The stream's fd (-1 once closed). */
int cask_stream_fd(const cask_stream *s);

/*
 * reader.read(n): waits until at least one byte is there, returns up to n bytes (buffered ones
 * first), 0 at end of file (and for n == 0). Errors: -ECONNRESET, -ECANCELED, -EBUSY, ...
 */
CASK_MUST_CHECK ssize_t cask_stream_read(cask_stream *s, void *buf, size_t n);
/*
 * reader.readexactly(n): returns n once n bytes are there. If the peer ends the stream first:
 * -EPROTO (IncompleteReadError): the bytes that did arrive are consumed, copied to buf and
 * their count stored in *partial (if not NULL; 0 on every other return). Cancelled: -ECANCELED
 * and every byte stays buffered.
 */
CASK_MUST_CHECK ssize_t cask_stream_readexactly(cask_stream *s, void *buf, size_t n,
                                                size_t *partial);
/*
 * reader.readline(): the next line including its '\n', copied into buf (cap bytes, not
 * terminated); at end of file the last unterminated part, then 0.
 * The line without '\n' may have at most min(limit, cap - 1) bytes; a longer one fails with
 * -EMSGSIZE and is dropped (asyncio's rule: through its '\n' if that arrived, else everything
 * buffered). Errors as cask_stream_read.
 */
CASK_MUST_CHECK ssize_t cask_stream_readline(cask_stream *s, char *buf, size_t cap);
/*
 * reader.readuntil(sep): the data through the separator sep (seplen >= 1 bytes), into buf.
 * If more than min(limit, cap - seplen) bytes come before the separator: -EMSGSIZE and the
 * buffer is left intact (LimitOverrunError). At end of file without the separator: -EPROTO, the
 * remaining bytes are consumed and copied to buf, their count in *partial (if not NULL).
 */
CASK_MUST_CHECK ssize_t cask_stream_readuntil(cask_stream *s, const void *sep, size_t seplen,
                                              char *buf, size_t cap, size_t *partial);
/* Bytes buffered and not yet read. */
size_t cask_stream_buffered(const cask_stream *s);
/* reader.at_eof(): true when the peer ended the stream and the buffer is empty. */
bool cask_stream_at_eof(const cask_stream *s);

/*
 * writer.write(data) + await writer.drain(): sends all n bytes, suspending while the socket's
 * send buffer is full. Returns n. A write that is cancelled, times out or fails after k > 0
 * bytes were taken returns k (< n): the cause is reported by the next call (cancellation is
 * sticky; a broken connection fails again). With nothing taken it returns the error:
 * -ECANCELED, -EPIPE (the peer closed; never SIGPIPE), -ECONNRESET, -EBUSY, -ENOTCONN.
 */
CASK_MUST_CHECK ssize_t cask_stream_write(cask_stream *s, const void *buf, size_t n);
/* writer.writelines: the iovecs in order, with as few system calls as possible. As write. */
struct iovec;
CASK_MUST_CHECK ssize_t cask_stream_writev(cask_stream *s, const struct iovec *iov, int iovcnt);
/* writer.drain(): nothing is ever held back, so it only reports the state: 0, -ENOTCONN, or
 * -ECANCELED (cancelled). */
int cask_stream_flush(cask_stream *s);
/* writer.write_eof(): half-close (shutdown SHUT_WR): the peer reads EOF, reading goes on.
 * Returns 0, -ENOTCONN, -ENOTSOCK (not a socket). */
int cask_stream_shutdown(cask_stream *s);
/* writer.close(): closes the fd (unless borrowed) at once; calls blocked in other tasks
 * return -ENOTCONN. The stream stays allocated until cask_stream_free. Returns 0. */
int cask_stream_close(cask_stream *s);
/* Closes (if needed) and frees the stream. Calls blocked in other tasks return -ENOTCONN
 * first: called from a task, it waits for them to leave (shielded from cancellation). A
 * server's connection stream is only closed (the server frees it). NULL is a no-op. */
void cask_stream_free(cask_stream *s);

/*
 * Servers: asyncio.start_server. A server listens on one socket and runs handler(stream, arg)
 * in its own task for every connection, as a child of a task group owned by the server's
 * accepting task (the handler's status is ignored: a failing handler never cancels the
 * others); the stream belongs to the server (it is closed and freed when the handler returns;
 * the handler may close it earlier, and cask_stream_free on it only closes it).
 * Running out of fds (EMFILE/ENFILE) pauses accepting for 10-100 ms and retries, keeping the
 * listener. Must be used from tasks of one loop.
 */
typedef struct cask_server cask_server;
typedef int (*cask_conn_fn)(cask_stream *s, void *arg);

struct cask_server_opts {
    struct cask_listen_opts listen;
    struct cask_stream_opts stream; /* for every connection's stream */
    size_t stack_size;              /* of handler tasks; 0: the loop's default */
    size_t max_connections;         /* 0: no limit; above it accepting pauses */
    bool compact;                   /* handlers are compact tasks (see cask_spawn_opts) */
};

/*
 * Starts serving on host:port (as cask_tcp_listen) or on a Unix socket path; accepting runs in
 * a task of its own. Every accepted TCP connection gets TCP_NODELAY (as asyncio does: small
 * writes go out at once, not after Nagle's delay). Returns 0 with *out set, or the errors of
 * cask_tcp_listen / cask_unix_listen, -ENOMEM, -EINVAL (out or handler NULL).
 */
CASK_MUST_CHECK int cask_start_server(cask_server **out, const char *host, uint16_t port,
                                      cask_conn_fn handler, void *arg,
                                      const struct cask_server_opts *opts);
CASK_MUST_CHECK int cask_start_unix_server(cask_server **out, const char *path,
                                           cask_conn_fn handler, void *arg,
                                           const struct cask_server_opts *opts);
/* The port the server is bound to (0 for Unix servers); the listening fd. */
uint16_t cask_server_port(const cask_server *srv);
int cask_server_fd(const cask_server *srv);
/* Connections whose handler is running; connections accepted since the start. */
size_t cask_server_active(const cask_server *srv);
uint64_t cask_server_accepted(const cask_server *srv);
/*
 * server.serve_forever(): waits until the server is closed or the caller cancelled.
 * Returns 0 (closed), -ECANCELED, -EPERM.
 */
CASK_MUST_CHECK int cask_server_wait(cask_server *srv);
/*
 * Graceful shutdown and free: stops accepting and closes the listener (removing a Unix socket
 * file), waits up to grace seconds for running handlers to return, then cancels the rest and
 * waits for them to unwind. The server is freed. If the caller is cancelled meanwhile the
 * handlers are cancelled at once (still waited for) and -ECANCELED is returned.
 * Returns the number of handlers that had to be cancelled (>= 0), -ECANCELED, or -EPERM (not
 * in a task; nothing done). NULL is a no-op returning 0.
 */
int cask_server_close(cask_server *srv, double grace);

/* ------------------------------------------------------------------------------------------ */
/* Processes                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/*
 * Child processes: asyncio's create_subprocess_exec / create_subprocess_shell, Go's os/exec.
 *
 *     const char *argv[] = {"grep", "-c", "x", NULL};
 *     struct cask_process_opts o = {.in = {CASK_STDIO_PIPE}, .out = {CASK_STDIO_PIPE}};
 *     cask_process *p;
 *     int rc = cask_process_spawn(&p, argv, &o);
 *     struct cask_communicate c = {.input = "x\ny\nx\n", .input_len = 6};
 *     if (rc == 0) rc = cask_process_communicate(p, &c);   // c.out = "2\n", c.status
 *     cask_communicate_free(&c);
 *     cask_process_free(p);
 *
 * How a child is started: vfork (the parent's memory is never copied, however large), then in
 * the child: signal dispositions reset to the defaults (SIGPIPE too, which cask ignores in the
 * parent) and the signal mask emptied, a new session or process group if asked, the working
 * directory, the standard streams and passed fds set up, every other fd closed, and exec. An
 * exec failure is reported back to the start call through a close-on-exec pipe. The loop learns
 * that a child ended through a pidfd (Linux 5.3); where pidfd_open is missing it uses a small
 * thread per child blocked in waitid. cask installs no SIGCHLD handler; an application whose
 * own SIGCHLD handler reaps every child (waitpid(-1)) takes the exit status away: such a child
 * then reads as exited with code 255 (not told apart from a real 255).
 * A handle belongs to the loop that made it and is used from that loop's tasks.
 */
typedef struct cask_process cask_process;

/* What a child's stdin, stdout or stderr is. */
enum cask_stdio_kind {
    CASK_STDIO_INHERIT = 0, /* the parent's own (the default) */
    CASK_STDIO_PIPE,        /* a pipe to the parent, read or written as a cask_stream */
    CASK_STDIO_DEVNULL,     /* /dev/null (a child reading it gets EOF at once) */
    CASK_STDIO_FD,          /* the given fd (dup'ed; the caller keeps it) */
    CASK_STDIO_STDOUT,      /* stderr only: the same as stdout (asyncio.subprocess.STDOUT) */
};
struct cask_stdio {
    enum cask_stdio_kind kind;
    int fd; /* CASK_STDIO_FD */
};

/* What cancellation (and freeing a handle) does to a running child. With new_session or
 * new_pgroup the signals go to the child's whole process group, and once the child has ended
 * (or got SIGKILL) what is left of the group gets SIGKILL, so nothing of it outlives the stop. */
enum cask_proc_cancel {
    CASK_PROC_TERMINATE = 0, /* kill_signal, up to kill_grace seconds, then SIGKILL (trio) */
    CASK_PROC_KILL,          /* SIGKILL at once (Go's exec.CommandContext) */
    CASK_PROC_LEAVE,         /* leave it running (asyncio): see cask_process_wait */
};

struct cask_process_opts {
    struct cask_stdio in, out, err; /* zeroed: inherited */
    const char *cwd;                /* working directory; NULL: the parent's */
    /* The environment: env replaces the parent's (NULL: the parent's environ, read at the
     * start call); env_add entries ("NAME=value") are added to it, replacing those of the same
     * name. Both NULL-terminated. The program is searched in the parent's PATH (as Go). */
    char *const *env;
    char *const *env_add;
    bool new_session; /* setsid(): a new session and process group (no controlling tty) */
    bool new_pgroup;  /* setpgid(0, 0): a new process group */
    /* Extra fds passed to the child: pass_fds[i] becomes fd 3 + i there (Go's ExtraFiles).
     * Every other fd of the parent is closed in the child. */
    const int *pass_fds;
    size_t npass_fds;
    enum cask_proc_cancel on_cancel;
    int kill_signal;   /* CASK_PROC_TERMINATE's first signal; 0: SIGTERM */
    double kill_grace; /* seconds before SIGKILL; 0: 5 s (trio's default) */
    /* Go's Cmd.WaitDelay: once the child has exited, communicate drains its pipes for at most
     * this long, then closes them, so a grandchild that keeps a pipe open (`sh -c 'sleep 30 &'`)
     * cannot make it hang. 0: 2 s; INFINITY: until EOF. */
    double wait_delay;
    size_t stream_limit; /* limit of the pipe streams (readline); 0: 64 KiB */
};

/*
 * create_subprocess_exec: starts argv[0] (searched in PATH unless it holds a '/') with the
 * arguments argv (NULL-terminated), as opts says (NULL: everything inherited). Must be called
 * on a loop's thread (from a task or a callback); it does not suspend.
 * Returns 0 with *out set, or:
 *   -ENOENT   no such program (or cwd does not exist); -EACCES: not executable (or cwd not
 *             searchable); -ENOEXEC, -E2BIG, ...: whatever else exec reported. No child is
 *             left and no fd leaks.
 *   -EMFILE / -ENFILE  out of fds; -EAGAIN: out of processes (RLIMIT_NPROC); -ENOMEM.
 *   -EINVAL   out or argv NULL, argv empty, a bad stdio kind (CASK_STDIO_STDOUT anywhere but
 *             err, CASK_STDIO_FD with fd < 0), both new_session and new_pgroup, a negative
 *             kill_grace or wait_delay or a bad on_cancel;
 *   -EBADF    a CASK_STDIO_FD fd or a pass_fds entry is not open;
 *   -EPERM    no loop on this thread.
 */
CASK_MUST_CHECK int cask_process_spawn(cask_process **out, const char *const *argv,
                                       const struct cask_process_opts *opts);
/* create_subprocess_shell: /bin/sh -c cmd. Errors as cask_process_spawn (a command the shell
 * cannot find is the shell's exit code 127, not -ENOENT). */
CASK_MUST_CHECK int cask_process_shell(cask_process **out, const char *cmd,
                                       const struct cask_process_opts *opts);

/* The child's pid (its process group id too, with new_session or new_pgroup). */
pid_t cask_process_pid(const cask_process *p);
/* The pipes as streams (owned by the process handle; NULL where the stdio kind is not
 * CASK_STDIO_PIPE). Close stdin with cask_stream_close to send EOF; never free them. */
cask_stream *cask_process_stdin(cask_process *p);
cask_stream *cask_process_stdout(cask_process *p);
cask_stream *cask_process_stderr(cask_process *p);

/* How a child ended: an exit code, or the signal that killed it (told apart). */
struct cask_exit {
    int code;         /* exit code 0..255, or -1 when a signal ended it */
    int signal;       /* the signal that ended it, 0 when it exited */
    bool core_dumped; /* it dumped core */
};

/*
 * process.wait(): waits until the child has ended, reaps it and stores how it ended in *st (if
 * not NULL); at once if it has already ended. Any number of tasks may wait. It does not read
 * the pipes: a child blocked writing to a full pipe nobody reads never ends (use
 * cask_process_communicate). If the calling task is cancelled, the child is stopped first as
 * opts.on_cancel says (signal, grace, SIGKILL, the whole process group when it has one) and
 * reaped, shielded from further cancellation, then -ECANCELED is returned; with
 * CASK_PROC_LEAVE it returns at once and the child runs on (wait again later).
 * Returns 0, or -ECANCELED, -EPERM (not in a task), -EINVAL (p NULL).
 */
CASK_MUST_CHECK int cask_process_wait(cask_process *p, struct cask_exit *st);
/* process.returncode: 0 with *st set if the child has ended (reaping it if needed), -EAGAIN if
 * it is still running, -EINVAL (p or st NULL). Never waits. */
int cask_process_status(cask_process *p, struct cask_exit *st);

/*
 * process.communicate(input): writes input to stdin and closes it, while reading stdout and
 * stderr (those that are pipes) to their end, all at once (no pipe deadlock), then waits for
 * the child. A child that stops reading stdin is no error (-EPIPE is ignored: its output is
 * still collected). Output buffers are allocated (with cask's allocator), NUL-terminated for
 * convenience, and given back with cask_communicate_free (also after a failure).
 */
struct cask_communicate {
    const void *input; /* written to stdin (if a pipe), then stdin is closed; may be NULL */
    size_t input_len;
    size_t limit;       /* most bytes kept from stdout and from stderr each; 0: 64 MiB */
    char *out;          /* out: stdout's bytes (NULL if none were read) */
    size_t out_len;
    char *err;          /* out: stderr's bytes */
    size_t err_len;
    struct cask_exit status; /* out: how the child ended */
};
/*
 * Returns 0 (status filled), or:
 *   -EMSGSIZE   stdout or stderr passed limit: the child was stopped (on_cancel's way, and
 *               reaped; with CASK_PROC_LEAVE it runs on), out/err hold the first bytes;
 *   -ECANCELED  the task was cancelled: the child was stopped and reaped as in
 *               cask_process_wait; out/err hold what was read;
 *   -ENOMEM, the pipes' read errors, -EBUSY (another task is reading or writing one of the
 *   pipes): the child is left running as it is;
 *   -EPERM (not in a task), -EINVAL (p or c NULL).
 * After the child has exited, the pipes are drained for at most opts.wait_delay, then closed.
 */
CASK_MUST_CHECK int cask_process_communicate(cask_process *p, struct cask_communicate *c);
/* Frees c->out and c->err and sets them to NULL. */
void cask_communicate_free(struct cask_communicate *c);

/*
 * send_signal(sig) to the child (sig 0 checks that it can be signalled); terminate() is
 * SIGTERM, kill() SIGKILL. The child alone, not its process group (kill(-pid) for that).
 * Returns 0, or -ESRCH (the child has already been reaped), -EINVAL (p NULL, bad sig), -EPERM.
 */
int cask_process_signal(cask_process *p, int sig);
int cask_process_terminate(cask_process *p);
int cask_process_kill(cask_process *p);

/*
 * Gives back the handle and closes its pipes. A child still running is stopped as
 * opts.on_cancel says and reaped in the background (a task of the loop waits out the grace and
 * sends SIGKILL), or at the latest when cask_run ends, so no zombie is left; with
 * CASK_PROC_LEAVE it runs on, detached, and a small thread reaps it when it ends. Children
 * whose handles are still held when cask_run ends are treated the same way (their handles are
 * freed). Must not be called while a task waits on p. NULL is a no-op.
 */
void cask_process_free(cask_process *p);

/* Frees memory that cask allocated for the caller (a process-pool job's output). */
void cask_free(void *ptr);

/* ------------------------------------------------------------------------------------------ */
/* Process pool                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * concurrent.futures.ProcessPoolExecutor: worker processes for CPU-heavy functions, so that
 * several cores work at once while the loop goes on.
 *
 * A worker is a fork of the program made when the pool is created (or when a worker is
 * replaced): a copy of its memory at that moment, without the loops, tasks and threads. A job
 * names a function of the program and an input byte buffer; the worker runs it and sends back
 * an output byte buffer and the function's status. What a worker may touch: its copy of the
 * program's memory (globals set before the pool was made, read-only data), malloc, files it
 * opens itself, stdout/stderr (fflushed after each job). Not: any cask function, locks that
 * other threads may have held at the fork, fds other than 0-2 (every other fd is closed in
 * the worker), anything shared with the parent by pointer (the copy does not see later
 * changes). Input and output travel through pipes with a length prefix, so they may be of any
 * size (larger than a pipe buffer: the parent writes and reads them without blocking the loop).
 * Workers ignore SIGINT (Ctrl-C is the parent's to handle) and are killed with the parent.
 */
typedef struct cask_procpool cask_procpool;

/*
 * A job's function, run in a worker: reads in_len bytes at in, may set *out to a buffer from
 * malloc (the worker frees it after sending) of *out_len bytes, and returns a status (>= 0,
 * or a failure code, best at or below CASK_EUSER to stay apart from the pool's own errors).
 */
typedef int (*cask_work_fn)(const void *in, size_t in_len, void **out, size_t *out_len);

struct cask_job {
    cask_work_fn fn;
    const void *in;
    size_t in_len;
    void *out;       /* out: the output bytes (NULL if none), freed with cask_free */
    size_t out_len;  /* out */
    struct cask_exit crash; /* out, when -ECHILD: how the worker ended */
};

/*
 * Makes a pool of workers processes (0: the number of CPUs), forked now from the calling
 * thread, which must run a loop. Returns 0, or -EAGAIN (fork failed: out of processes),
 * -EMFILE/-ENFILE, -ENOMEM, -EINVAL (out NULL, workers above 1024), -EPERM (no loop).
 */
CASK_MUST_CHECK int cask_procpool_new(cask_procpool **out, unsigned workers);
/* The number of workers. */
unsigned cask_procpool_size(const cask_procpool *pool);

/*
 * loop.run_in_executor(pool, fn, input): runs job->fn on job->in in a free worker (waiting
 * for one, FIFO, while all are busy) and returns its status, with job->out/out_len set.
 * Returns fn's status, or:
 *   -ECHILD     the worker died while running the job (a crash: SIGSEGV, abort, exit): how it
 *               ended is in job->crash; the worker is replaced;
 *   -ECANCELED  the task was cancelled: a job still waiting for a worker never runs; a
 *               running one is stopped (its worker is killed and replaced), never left running;
 *   -ESHUTDOWN  the pool is closing (cask_procpool_close), or closed with cancel while the
 *               job waited or ran;
 *   -ENOMEM, -EPERM (not in a task), -EINVAL (pool, job or job->fn NULL, or job->in NULL
 *   with in_len > 0).
 */
CASK_MUST_CHECK int cask_procpool_run(cask_procpool *pool, struct cask_job *job);

/*
 * executor.shutdown(wait=True, cancel_futures=cancel) and free: no new jobs from now on; waits
 * for the queued and running jobs (cancel false), or fails them with -ESHUTDOWN and kills the
 * workers running them (cancel true); then ends the workers, reaps them and frees the pool.
 * If the caller is cancelled while waiting, it goes on as with cancel true. Returns 0, or
 * -ECANCELED (the caller was cancelled; the pool is still freed), -EPERM (not in a task:
 * nothing done). NULL is a no-op returning 0. Pools not closed when cask_run ends are closed
 * then, their workers killed.
 */
int cask_procpool_close(cask_procpool *pool, bool cancel);

#ifdef __cplusplus
}
#endif
#endif /* CASK_H */
